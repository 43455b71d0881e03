//! Job-queue port: the `receipts` and `campaigns` queues, with SQS and in-process backends.
//!
//! Producers call [`JobQueue::send`]. Consumers never call `receive` themselves: the Lambda
//! functions hand their SQS event to [`handle_sqs_batch`], and `promo serve` runs
//! [`run_consumer`]; both call the same per-message handler `Fn(JobMessage) -> Future<Output
//! = Result<(), JobError>>`, so the business code cannot tell where it runs.
//!
//! Delivery is at least once on both backends: a message that is not acked comes back after
//! the visibility timeout with `receive_count` incremented, and handlers must be idempotent.

mod consumer;
mod lambda;
mod memory;
mod sqs;

use std::fmt;
use std::time::Duration;

pub use consumer::{consume_once, run_consumer};
pub use lambda::handle_sqs_batch;
pub use memory::{InMemoryQueue, InMemoryQueueConfig};
pub use sqs::{sqs_client, SqsQueue};

/// Longest delay a message can be sent with (the SQS `DelaySeconds` limit).
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Most messages one `receive` returns (the SQS `MaxNumberOfMessages` limit).
pub const MAX_RECEIVE_BATCH: usize = 10;
/// Longest long-poll wait of one `receive` (the SQS `WaitTimeSeconds` limit).
pub const MAX_RECEIVE_WAIT: Duration = Duration::from_secs(20);

/// The two queues of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Receipt verification jobs: telegram-webhook → receipt-verifier.
    Receipts,
    /// Campaign run jobs: listen-bridge and admin-api → campaign-runner.
    Campaigns,
}

impl QueueName {
    pub const ALL: [QueueName; 2] = [QueueName::Receipts, QueueName::Campaigns];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Receipts => "receipts",
            QueueName::Campaigns => "campaigns",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message taken from a queue; it stays invisible to other consumers until acked or until
/// its visibility timeout runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Opaque token for [`JobQueue::ack`]; it changes on every delivery.
    pub receipt_handle: String,
    /// JSON text as sent.
    pub body: String,
    /// 1 on the first delivery, 2 on the first redelivery, ...
    pub receive_count: u32,
}

/// The queue port. Two implementations exist: [`SqsQueue`] and [`InMemoryQueue`].
#[async_trait::async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Enqueues `body` (JSON text); it becomes visible to consumers after `delay`.
    ///
    /// `delay` is at most [`MAX_DELAY`] (15 min, the SQS limit) and a longer one is rejected
    /// with [`QueueError::DelayTooLong`]: a job due later (a scheduled campaign) belongs in
    /// the database, where the listen-bridge picks it up when it is due. On SQS a delay is
    /// rounded up to whole seconds, so a message is never visible before its delay.
    async fn send(&self, queue: QueueName, body: String, delay: Duration)
        -> Result<(), QueueError>;

    /// Takes up to `max` visible messages (clamped to 1..=[`MAX_RECEIVE_BATCH`]), waiting up
    /// to `wait` (clamped to [`MAX_RECEIVE_WAIT`]; on SQS rounded up to whole seconds) for
    /// the first one when the queue is empty. Returns an empty vector when none arrived.
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes a processed message. Acking a message that is already gone succeeds, as on
    /// SQS, so a late ack after a redelivery is harmless.
    async fn ack(&self, queue: QueueName, receipt_handle: &str) -> Result<(), QueueError>;
}

/// Errors of the queue backends.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("delay of {0:?} is longer than the 15 minute maximum of the queue")]
    DelayTooLong(Duration),
    #[error("receipt handle {0:?} was not issued by this queue")]
    InvalidReceiptHandle(String),
    #[error("queue configuration: {0}")]
    Config(String),
    /// `detail` carries the whole SDK error chain, because the SDK's own `Display` says
    /// little more than "service error".
    #[error("SQS {operation} failed: {detail}")]
    Sqs {
        operation: &'static str,
        detail: String,
    },
}

/// One message as the business handler sees it, whichever backend delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMessage {
    pub message_id: String,
    /// JSON text as sent. It may hold personal data: never log it.
    pub body: String,
    /// 1 on the first delivery; lets a handler give up or escalate on late attempts.
    pub receive_count: u32,
}

impl JobMessage {
    /// Parses the body; a body that does not parse can never succeed, so it is a
    /// [`JobError::Discard`].
    pub fn parse_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_str(&self.body).map_err(|e| {
            // Only the kind and position: serde's message quotes offending values, which
            // may be a phone number, and this error gets logged.
            JobError::Discard(anyhow::anyhow!(
                "job body is not the expected JSON ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// How a job failed, which decides what happens to its message.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Could not finish now (network, database, "not yet in the tax service"): the message
    /// comes back after the queue's visibility timeout, and after the queue's
    /// `maxReceiveCount` deliveries it moves to the dead-letter queue. `?` on an
    /// `anyhow::Error` lands here, the safe default.
    #[error("job failed and will be retried")]
    Retry(#[source] anyhow::Error),
    /// Can never succeed (malformed body, unknown job kind): the message is deleted and the
    /// error logged, so the dead-letter queue holds only messages worth redriving.
    #[error("job discarded as unprocessable")]
    Discard(#[source] anyhow::Error),
}

impl From<anyhow::Error> for JobError {
    fn from(error: anyhow::Error) -> Self {
        JobError::Retry(error)
    }
}

/// What the adapters do with a message after its handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delete it: done, or discarded.
    Delete,
    /// Leave it for redelivery.
    Redeliver,
}

/// Runs the handler for one message inside a span carrying the message id, turning errors
/// and panics into an [`Outcome`] so that one bad message never takes its batch down.
pub(crate) async fn run_job<F, Fut>(handler: &F, message: JobMessage) -> Outcome
where
    F: Fn(JobMessage) -> Fut,
    Fut: std::future::Future<Output = Result<(), JobError>>,
{
    use futures::FutureExt;
    use tracing::Instrument;

    let span = tracing::info_span!(
        "job",
        message_id = %message.message_id,
        receive_count = message.receive_count
    );
    async move {
        let started = std::time::Instant::now();
        // The handler is not required to be UnwindSafe; after a panic we only drop its future
        // and report the message as failed, we never touch its state again.
        let result = std::panic::AssertUnwindSafe(handler(message))
            .catch_unwind()
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(Ok(())) => {
                tracing::debug!(elapsed_ms, "job done");
                Outcome::Delete
            }
            Ok(Err(JobError::Retry(error))) => {
                tracing::warn!(elapsed_ms, error = %error_chain(error.as_ref()), "job failed, will be retried");
                Outcome::Redeliver
            }
            Ok(Err(JobError::Discard(error))) => {
                tracing::error!(elapsed_ms, error = %error_chain(error.as_ref()), "job discarded");
                Outcome::Delete
            }
            Err(_panic) => {
                tracing::error!(elapsed_ms, "job handler panicked, will be retried");
                Outcome::Redeliver
            }
        }
    }
    .instrument(span)
    .await
}

/// Formats an error with its causes, `outer: inner: root`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
