//! Core library of the receipt-promo platform: domain rules, storage, clients and the
//! local composition that every function binary and the `promo` binary share.

// Panel users hash passwords with argon2: only `promo` (and the panel API, later) builds it.
#[cfg(feature = "panel-users")]
pub mod admin;
#[cfg(feature = "http")]
pub mod api_error;
pub mod app;
pub mod audit;
pub mod bot;
pub mod campaigns;
pub mod config;
pub mod db;
pub mod fiscal;
pub mod grants;
#[cfg(all(feature = "http", feature = "panel-users"))]
pub mod panel;
// HTTP (axum): only the functions that serve it build these.
#[cfg(feature = "http")]
pub mod health;
pub mod jobs;
pub mod ledger;
pub mod outbox;
pub mod pglisten;
pub mod pgtext;
pub mod pii;
pub mod promo;
pub mod proverkacheka;
pub mod queue;
pub mod receipts;
pub mod sendrate;
#[cfg(feature = "http")]
pub mod server;
pub mod store;
pub mod telegram;
pub mod telemetry;
pub mod texts;
pub mod uploads;
pub mod users;
pub mod worker;

/// Raffles are campaigns (`kind = 'raffle'`) and live with them; the short path stays.
pub use campaigns::raffle;
