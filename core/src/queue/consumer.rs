//! Local consumer: what the SQS event source mapping does for Lambda, done in process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tracing::Instrument;

use super::{
    error_chain, run_job, JobError, JobMessage, JobQueue, Outcome, QueueName, ReceivedMessage,
    MAX_RECEIVE_BATCH, MAX_RECEIVE_WAIT,
};

/// Pause after a failed receive, doubled up to [`MAX_BACKOFF`] while the failures last.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Consumes `name` until `shutdown` turns true (or its sender is dropped), running up to
/// `concurrency` handlers at a time. A message is acked when its handler succeeds or
/// discards it, and left for redelivery after the visibility timeout when it fails or
/// panics. Receive errors are logged and retried with backoff, so the loop never ends on
/// its own. On shutdown it stops receiving and waits for the running handlers to finish.
pub async fn run_consumer<F, Fut>(
    queue: Arc<dyn JobQueue>,
    name: QueueName,
    concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
    handler: F,
) where
    F: Fn(JobMessage) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    // u32 because that is what waiting for all slots at shutdown (`acquire_many`) takes.
    let concurrency = u32::try_from(concurrency.max(1)).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(concurrency as usize));
    let handler = Arc::new(handler);
    let span = tracing::info_span!("consumer", queue = %name);
    let mut backoff = FIRST_BACKOFF;
    tracing::info!(parent: &span, concurrency, "consumer started");

    'consume: while !*shutdown.borrow() {
        let first = tokio::select! {
            biased;
            changed = shutdown.changed() => match changed {
                Ok(()) => continue 'consume,
                Err(_) => break 'consume,
            },
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed; treat it as a shutdown anyway.
                Err(_) => break,
            },
        };
        // Ask for as many messages as there are free slots, so none waits for a handler.
        let mut claimed = vec![first];
        while claimed.len() < MAX_RECEIVE_BATCH.min(concurrency as usize) {
            match slots.clone().try_acquire_owned() {
                Ok(slot) => claimed.push(slot),
                Err(_) => break,
            }
        }

        let received = tokio::select! {
            biased;
            // Dropping a pending receive loses nothing: the in-memory receive is cancel-safe,
            // and messages SQS handed out meanwhile come back after the visibility timeout.
            changed = shutdown.changed() => match changed {
                Ok(()) => continue 'consume,
                Err(_) => break 'consume,
            },
            received = queue.receive(name, claimed.len(), MAX_RECEIVE_WAIT).instrument(span.clone()) => received,
        };
        let messages = match received {
            Ok(messages) => {
                backoff = FIRST_BACKOFF;
                messages
            }
            Err(error) => {
                tracing::warn!(parent: &span, error = %error_chain(&error), ?backoff, "receive failed");
                tokio::select! {
                    changed = shutdown.changed() => if changed.is_err() {
                        break 'consume;
                    },
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };

        for (message, slot) in messages.into_iter().zip(claimed) {
            let queue = queue.clone();
            let handler = handler.clone();
            tokio::spawn(
                async move {
                    settle(queue.as_ref(), name, message, handler.as_ref()).await;
                    drop(slot);
                }
                .instrument(span.clone()),
            );
        }
        // Slots left over from a short batch are released here, when `claimed` drops.
    }

    // All slots free means all handlers finished.
    let _all = slots.acquire_many(concurrency).await;
    tracing::info!(parent: &span, "consumer stopped");
}

/// One receive and its handlers, deterministically: tests and tools drain a queue by calling
/// this until it returns 0. Returns how many messages were received.
pub async fn consume_once<F, Fut>(
    queue: &dyn JobQueue,
    name: QueueName,
    max: usize,
    wait: Duration,
    handler: &F,
) -> Result<usize, super::QueueError>
where
    F: Fn(JobMessage) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let messages = queue.receive(name, max, wait).await?;
    let count = messages.len();
    futures::future::join_all(
        messages
            .into_iter()
            .map(|message| settle(queue, name, message, handler)),
    )
    .await;
    Ok(count)
}

/// Runs the handler for one received message and acks it unless it should be redelivered.
async fn settle<F, Fut>(
    queue: &dyn JobQueue,
    name: QueueName,
    message: ReceivedMessage,
    handler: &F,
) where
    F: Fn(JobMessage) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let receipt_handle = message.receipt_handle;
    let job = JobMessage {
        message_id: message.message_id,
        body: message.body,
        receive_count: message.receive_count,
    };
    let message_id = job.message_id.clone();
    if run_job(handler, job).await == Outcome::Delete {
        if let Err(error) = queue.ack(name, &receipt_handle).await {
            // The job is done but its message comes back; handlers are idempotent.
            tracing::warn!(%message_id, error = %error_chain(&error), "ack failed, message will be redelivered");
        }
    }
}
