//! receipt-verifier Lambda: SQS events from the receipts queue, one job per message, partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use promo_core::app::App;
use promo_core::config::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    promo_core::telemetry::init();
    let app = App::build(Settings::from_env()?).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            promo_core::queue::handle_sqs_batch(event.payload, |message| {
                promo_core::jobs::handle_receipt_job(app, message)
            })
            .await,
        )
    }))
    .await
}
