//! admin-api Lambda: the admin API router under lambda_http.

use promo_core::app::{connect_admin_api, AdminApi};
use promo_core::config::AdminApiSettings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    promo_core::telemetry::init();
    let router = match start().await {
        Ok(api) => promo_core::server::admin_router(api),
        // Exiting here would leave every request waiting (under `cargo lambda watch` it
        // hangs; the error is only in watch's log): answer each one with the problem instead.
        Err(problem) => promo_core::server::startup_failure_router("admin-api", &problem),
    };
    lambda_http::run(router).await
}

/// Only this function's variables are read (see the README's configuration table).
async fn start() -> anyhow::Result<AdminApi> {
    connect_admin_api(AdminApiSettings::from_env()?).await
}
