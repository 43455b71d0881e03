//! Core library of the receipt-promo platform: domain rules, storage, clients and the
//! local composition that every function binary and the `promo` binary share.

pub mod admin;
pub mod app;
pub mod bot;
pub mod campaigns;
pub mod config;
pub mod db;
pub mod fiscal;
pub mod health;
pub mod jobs;
pub mod pgtext;
pub mod pii;
pub mod proverkacheka;
pub mod queue;
pub mod raffle;
pub mod receipts;
pub mod sendrate;
pub mod server;
pub mod store;
pub mod telegram;
pub mod telemetry;
pub mod texts;
pub mod users;
pub mod worker;
