//! telegram-webhook Lambda: the webhook router under lambda_http.

use promo_core::app::App;
use promo_core::config::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    promo_core::telemetry::init();
    let settings = Settings::from_env()?;
    let app = App::build(settings).await?;
    lambda_http::run(promo_core::server::webhook_router(app)).await
}
