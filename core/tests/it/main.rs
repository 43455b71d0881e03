//! The integration tests of `promo-core`, one binary: each module was its own test
//! binary before, and each of those linked the whole crate and its dependencies again.
//! Helpers used by more than one module live in `helpers`; everything else stays in its
//! module. Run one module with `cargo test -p promo-core --test it -- raffle::`.
//!
//! Two files stay binaries of their own, beside this one:
//! - `tests/no_secrets_in_logs.rs` installs the process-wide tracing subscriber and
//!   asserts on everything it captures; in this binary it would capture (and be judged
//!   on) the logs of every test running beside it, and a second `init` would panic.
//! - `tests/receipts_decode.rs`, the QR-decoding suite (for now: it is being reworked).

mod helpers;

mod admin_bench;
mod bot_admin;
mod campaign_engine_e2e;
mod campaign_faults;
mod campaign_runner;
mod draw_reference;
mod lambda_http_adapter;
mod outages;
mod outbox;
mod panel_auth;
mod panel_bundle;
mod panel_campaigns;
mod panel_costs;
mod panel_dashboard;
mod panel_failed_work;
mod panel_fuzz;
mod panel_openapi;
mod panel_raffles;
mod panel_receipts;
mod panel_settings;
mod panel_test_chat;
mod panel_texts;
mod panel_uploads;
mod panel_users;
mod panel_winners;
mod queue_backends;
mod queue_consumer;
mod queue_lambda_batch;
mod raffle;
mod raffle_claims;
mod raffle_model;
mod receipt_verifier;
mod receipts_fns;
mod receipts_qr;
mod schema_and_bridge;
mod webhook_bad_input;
mod webhook_registration;
mod webhook_shopper;
