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
}

/// A message on the campaigns queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CampaignJob {
    /// Work on this campaign (materialise recipients, send a slice, continue).
    Run { campaign_id: i64 },
}

/// Entry point of `receipt-verifier`. Verification itself (QR, ProverkaCheka, tickets)
/// is the receipt-verifier issue; until it lands the job is recorded as not processed so
/// nothing is lost silently and the operator sees it.
pub async fn handle_receipt_job(app: &App, message: JobMessage) -> Result<(), JobError> {
    let ReceiptJob::Verify { submission_id } = message.parse_json()?;
    let client = app.pool.get().await.map_err(anyhow::Error::from)?;
    let updated = client
        .execute(
            "UPDATE receipt_submissions
             SET status = 'failed', outcome = 'verifier_unavailable', updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND status IN ('queued', 'processing')",
            &[&submission_id, &app.bot_id],
        )
        .await
        .map_err(anyhow::Error::from)?;
    tracing::warn!(submission_id, updated, "receipt verification is not available in this build");
    Ok(())
}

/// Entry point of `campaign-runner`; the engine arrives with the campaign-engine issue.
pub async fn handle_campaign_job(app: &App, message: JobMessage) -> Result<(), JobError> {
    let CampaignJob::Run { campaign_id } = message.parse_json()?;
    let client = app.pool.get().await.map_err(anyhow::Error::from)?;
    client
        .execute(
            "UPDATE campaigns SET status = 'failed', error = 'campaign engine not available in this build',
                    updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND status = 'scheduled'",
            &[&campaign_id, &app.bot_id],
        )
        .await
        .map_err(anyhow::Error::from)?;
    tracing::warn!(campaign_id, "campaign execution is not available in this build");
    Ok(())
}
