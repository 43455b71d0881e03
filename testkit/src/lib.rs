//! Test doubles and harness for the receipt-promo platform: a fake Telegram Bot API, a
//! fake ProverkaCheka, receipt/QR builders, per-test databases and `spawn_app`.

pub mod admin_bench;
pub mod app;
pub mod corpus;
pub mod crash_loop;
pub mod db;
pub mod proverkacheka;
pub mod receipts;
pub mod servers;
pub mod telegram;

pub use app::{spawn_app, spawn_app_with, TestApp, TestConfig};
