//! Receipt intake: the one place that creates `receipt_submissions` rows. An upload (a
//! photo, an image file, a typed QR string) becomes a queued submission and its
//! verification job; the webhook answers at once and the verifier does the slow part.

use std::time::Duration;

use anyhow::Context;

use crate::db::PgPool;
use crate::jobs::ReceiptJob;
use crate::queue::{JobQueue, QueueName};

/// What the shopper sent, as the submission stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission<'a> {
    /// `photo`, `document`, `qr_text` or `manual` (the column's CHECK lists them).
    pub source: &'static str,
    pub telegram_file_id: Option<&'a str>,
    pub file_size: Option<i64>,
    pub qr_raw: Option<&'a str>,
}

/// Records the submission and enqueues its verification; returns the submission id.
pub async fn submit(
    pool: &PgPool,
    queue: &dyn JobQueue,
    bot_id: i64,
    user_id: i64,
    upload: &NewSubmission<'_>,
) -> anyhow::Result<i64> {
    let file_size = upload.file_size.and_then(|size| i32::try_from(size).ok());
    let client = pool.get().await?;
    let insert = client
        .prepare_cached(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, telegram_file_id, file_size, qr_raw)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .await?;
    let row = client
        .query_one(
            &insert,
            &[
                &bot_id,
                &user_id,
                &upload.source,
                &upload.telegram_file_id,
                &file_size,
                &upload.qr_raw,
            ],
        )
        .await
        .context("recording the receipt submission")?;
    let submission_id: i64 = row.get(0);
    let job = serde_json::to_string(&ReceiptJob::Verify { submission_id })?;
    if let Err(error) = queue.send(QueueName::Receipts, job, Duration::ZERO).await {
        // Without its job the row would sit in 'queued' forever; drop it and fail, so
        // Telegram redelivers the update and the shopper's upload is not lost.
        client
            .execute(
                "DELETE FROM receipt_submissions WHERE id = $1",
                &[&submission_id],
            )
            .await?;
        return Err(anyhow::Error::new(error).context("enqueueing the receipt job"));
    }
    tracing::info!(
        submission_id,
        user_id,
        source = upload.source,
        "receipt queued"
    );
    Ok(submission_id)
}
