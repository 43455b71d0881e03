//! Job messages carried by the two queues, and the consumers' entry points. The same
//! handler runs under the Lambda SQS adapter and under `promo serve`'s in-process loop.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::queue::{JobError, JobMessage};

/// A message on the receipts queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptJob {
    /// Verify the upload recorded as this `receipt_submissions` row.
    Verify { submission_id: i64 },
    /// Check the submission again once its `next_attempt_at` is due (tax service did not
    /// have the receipt yet, or the provider failed). `attempt` is the submission's
    /// `attempts` when scheduled: a copy that finds another value is stale and dropped.
    Recheck {
        submission_id: i64,
        attempt: i32,
        #[serde(default)]
        fns_pending: u32,
        #[serde(default)]
        provider_failures: u32,
    },
}

/// A message on the campaigns queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CampaignJob {
    /// Work on this campaign (materialise recipients, send a slice, continue).
    Run { campaign_id: i64 },
}

/// Entry point of `receipt-verifier`: one verification step of one upload (see
/// [`crate::receipts::verify`]).
pub async fn handle_receipt_job(app: &App, message: JobMessage) -> Result<(), JobError> {
    use crate::receipts::verify::{verify_receipt, RetryState};
    match message.parse_json()? {
        ReceiptJob::Verify { submission_id } => verify_receipt(app, submission_id, None).await,
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
            verify_receipt(app, submission_id, Some(state)).await
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
    crate::campaigns::runner::handle_run_job(app, message, deadline).await
}
