//! receipt-verifier Lambda: SQS events from the receipts queue, one job per message, partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use promo_core::app::connect_receipt_verifier;
use promo_core::config::ReceiptVerifierSettings;
use promo_core::receipts::Receipts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    promo_core::telemetry::init();
    let receipts = match start().await {
        Ok(receipts) => receipts,
        Err(problem) => return fail_every_invocation(&problem).await,
    };
    let receipts = &receipts;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            promo_core::queue::handle_sqs_batch(event.payload, |message| {
                promo_core::worker::handle_verify_job(receipts, message)
            })
            .await,
        )
    }))
    .await
}

/// Only this function's variables are read (see the README's configuration table).
async fn start() -> anyhow::Result<Receipts> {
    connect_receipt_verifier(ReceiptVerifierSettings::from_env()?).await
}

/// Exiting at start-up would leave `cargo lambda invoke` waiting, with the error only in
/// watch's log: every invocation fails with the problem instead, and the messages go back
/// to the queue as they would after a crash.
async fn fail_every_invocation(problem: &anyhow::Error) -> Result<(), lambda_runtime::Error> {
    let message = format!("receipt-verifier could not start: {problem:#}");
    tracing::error!(error = %message, "start-up failed; failing every invocation");
    lambda_runtime::run(service_fn(move |_: LambdaEvent<SqsEvent>| {
        let message = message.clone();
        async move { Err::<SqsBatchResponse, lambda_runtime::Error>(message.into()) }
    }))
    .await
}
