//! Serde DTOs shared by the admin API and the admin UI. Kept free of server-only
//! dependencies so it compiles to wasm32 for the Leptos panel.

use serde::{Deserialize, Serialize};

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// `ok`; `degraded` when Redis is down (HTTP 200: the bot still answers, uploads
    /// and broadcasts wait for Redis); `down` when Postgres is down (HTTP 503).
    pub status: String,
    /// `ok` or `error: …`.
    pub database: String,
    pub redis: String,
    /// True when the fakes stand in for Telegram and ProverkaCheka.
    pub sandbox: bool,
}

/// The error body of every JSON endpoint: a stable machine-readable `error` code
/// (`bad_request`, `unauthorized`, `not_found`, ...), a `message` for people, and the
/// request `field` at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub mod panel;
pub mod template;
