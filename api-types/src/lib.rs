//! Serde DTOs shared by the admin API and the admin UI. Kept free of server-only
//! dependencies so it compiles to wasm32 for the Leptos panel.

use serde::{Deserialize, Serialize};

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// `ok` or `degraded`.
    pub status: String,
    /// `ok` or `error: …`.
    pub database: String,
    pub redis: String,
    /// True when the fakes stand in for Telegram and ProverkaCheka.
    pub sandbox: bool,
}

/// The error body of every JSON endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
