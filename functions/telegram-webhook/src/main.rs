//! telegram-webhook Lambda: the webhook router under lambda_http.

use promo_core::app::{connect_telegram_webhook, TelegramWebhook};
use promo_core::config::TelegramWebhookSettings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    promo_core::telemetry::init();
    let router = match start().await {
        Ok(webhook) => promo_core::server::webhook_routes(webhook.bot, webhook.health),
        // Exiting here would leave every request waiting (under `cargo lambda watch` it
        // hangs; the error is only in watch's log): answer each one with the problem instead.
        Err(problem) => promo_core::server::startup_failure_router("telegram-webhook", &problem),
    };
    lambda_http::run(router).await
}

/// Only this function's variables are read (see the README's configuration table).
async fn start() -> anyhow::Result<TelegramWebhook> {
    connect_telegram_webhook(TelegramWebhookSettings::from_env()?).await
}
