//! Lambda SQS batch adapter: one handler call per record, partial batch failure reporting.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use super::{run_job, JobError, JobMessage, Outcome};

/// Runs `handler` once per record of an SQS-triggered invocation, concurrently (a batch is at
/// most 10 records), and reports the records to retry in `batch_item_failures`. The event
/// source mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]`; without it Lambda
/// ignores the list and deletes the whole batch. Handler errors and panics fail only their
/// own record; a [`JobError::Discard`] counts as done, so the record is deleted.
///
/// ```no_run
/// use aws_lambda_events::event::sqs::SqsEvent;
/// use lambda_runtime::{service_fn, LambdaEvent};
/// use promo_core::queue::{handle_sqs_batch, JobError, JobMessage};
///
/// async fn verify_receipt(job: JobMessage) -> Result<(), JobError> {
///     let _photo: serde_json::Value = job.parse_json()?;
///     Ok(())
/// }
///
/// # async fn main_() -> Result<(), lambda_runtime::Error> {
/// lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
///     Ok::<_, lambda_runtime::Error>(handle_sqs_batch(event.payload, verify_receipt).await)
/// }))
/// .await
/// # }
/// ```
pub async fn handle_sqs_batch<F, Fut>(event: SqsEvent, handler: F) -> SqsBatchResponse
where
    F: Fn(JobMessage) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let handler = &handler;
    let runs = event.records.into_iter().map(|record| async move {
        let message = job_message(record);
        let message_id = message.message_id.clone();
        (message_id, run_job(handler, message).await)
    });
    let mut response = SqsBatchResponse::default();
    for (message_id, outcome) in futures::future::join_all(runs).await {
        if outcome == Outcome::Redeliver {
            // A record without an id cannot be named, and Lambda treats an empty identifier
            // as a failure of the whole batch: that retries it rather than losing it.
            response.add_failure(message_id);
        }
    }
    if !response.batch_item_failures.is_empty() {
        tracing::info!(
            failed = response.batch_item_failures.len(),
            "batch finished with records to retry"
        );
    }
    response
}

fn job_message(record: SqsMessage) -> JobMessage {
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1);
    JobMessage {
        message_id: record.message_id.unwrap_or_default(),
        body: record.body.unwrap_or_default(),
        receive_count,
    }
}
