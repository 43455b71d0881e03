//! The queue consumers' entry points: one job message in, the use-case it names run.
//! The same handler runs under the Lambda SQS adapter (`receipt-verifier`,
//! `campaign-runner`) and under `promo serve`'s in-process loop.

use crate::app::App;
use crate::campaigns::Campaigns;
use crate::jobs::OutboxJob;
#[cfg(feature = "qr-decode")]
use crate::jobs::ReceiptJob;
use crate::queue::{JobError, JobMessage};
#[cfg(feature = "qr-decode")]
use crate::receipts::Receipts;

/// [`handle_verify_job`] with the whole [`App`] (`promo serve`, tests).
#[cfg(feature = "qr-decode")]
pub async fn handle_receipt_job(app: &App, message: JobMessage) -> Result<(), JobError> {
    handle_verify_job(&app.receipts, message).await
}

/// Entry point of `receipt-verifier`: one verification step of one upload (see
/// [`crate::receipts::verify`]).
#[cfg(feature = "qr-decode")]
pub async fn handle_verify_job(receipts: &Receipts, message: JobMessage) -> Result<(), JobError> {
    use crate::receipts::verify::{run_outbox_check, verify_receipt, RetryState};
    if let Some(OutboxJob::Check { outbox_id }) = OutboxJob::from_body(&message.body) {
        return run_outbox_check(receipts, outbox_id).await;
    }
    // A bare job: sent before the outbox existed, or by a test.
    match message.parse_json()? {
        ReceiptJob::Verify { submission_id } => verify_receipt(receipts, submission_id, None).await,
        ReceiptJob::Recheck {
            submission_id,
            attempt,
            fns_pending,
            provider_failures,
        } => {
            let state = RetryState {
                attempt,
                fns_pending,
                provider_failures,
            };
            verify_receipt(receipts, submission_id, Some(state)).await
        }
    }
}

/// Entry point of `campaign-runner`: one slice of the campaign, then a continuation job
/// when work is left. Without a runtime deadline (this signature carries none) a slice
/// lasts [`crate::campaigns::runner::LOCAL_SLICE`], inside every queue's visibility timeout; a
/// Lambda that knows its context deadline calls
/// [`crate::campaigns::runner::handle_run_job`] with
/// [`crate::campaigns::runner::deadline_from_epoch_millis`].
pub async fn handle_campaign_job(app: &App, message: JobMessage) -> Result<(), JobError> {
    let deadline = std::time::Instant::now() + crate::campaigns::runner::LOCAL_SLICE;
    handle_campaigns_queue(&app.campaigns, message, deadline).await
}

/// Everything the campaigns queue carries: campaign slices, and the outbox messages
/// (sent through the raffles' sender, at the broadcasts' rate and ahead of them).
pub async fn handle_campaigns_queue(
    campaigns: &Campaigns,
    message: JobMessage,
    deadline: std::time::Instant,
) -> Result<(), JobError> {
    if let Some(OutboxJob::Message { outbox_id }) = OutboxJob::from_body(&message.body) {
        let delivery = campaigns.raffles.sender.handle_job(outbox_id).await?;
        tracing::debug!(outbox_id, ?delivery, "outbox message handled");
        return Ok(());
    }
    crate::campaigns::runner::handle_run_job(campaigns, message, deadline).await
}
