//! admin-api Lambda: the admin API router under lambda_http.

use promo_core::app::App;
use promo_core::config::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    promo_core::telemetry::init();
    let router = match start().await {
        Ok(app) => promo_core::server::admin_router(app),
        // Exiting here would leave every request waiting (under `cargo lambda watch` it
        // hangs; the error is only in watch's log): answer each one with the problem instead.
        Err(problem) => promo_core::server::startup_failure_router("admin-api", &problem),
    };
    lambda_http::run(router).await
}

async fn start() -> anyhow::Result<App> {
    App::build(Settings::from_env()?).await
}
