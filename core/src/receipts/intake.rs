//! Receipt intake: the one place that creates `receipt_submissions` rows. An upload (a
//! photo, an image file, a typed QR string) becomes a queued submission and its
//! verification job (an outbox row, written in the same transaction); the webhook answers
//! at once and the verifier does the slow part.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::GenericClient;

use crate::db::PgPool;
use crate::jobs::ReceiptJob;
use crate::outbox;
use crate::queue::JobQueue;

/// What the shopper sent, as the submission stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission<'a> {
    /// `photo`, `document`, `qr_text` or `manual` (the column's CHECK lists them).
    pub source: &'static str,
    pub telegram_file_id: Option<&'a str>,
    pub file_size: Option<i64>,
    pub qr_raw: Option<&'a str>,
}

/// Records the submission and its verification job in one transaction (the job is an
/// outbox row), then hands the job to the queue at once. If that hand-out fails the
/// upload is still safe: the relay hands the row out, so the update succeeds and the
/// shopper is answered. Returns the submission id.
pub async fn submit(
    pool: &PgPool,
    queue: &dyn JobQueue,
    bot_id: i64,
    user_id: i64,
    upload: &NewSubmission<'_>,
) -> anyhow::Result<i64> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let (submission_id, check) = record(&tx, bot_id, user_id, upload).await?;
    tx.commit()
        .await
        .context("committing the receipt submission")?;
    drop(client);
    if let Some(check) = check {
        if let Err(error) = outbox::hand_out(pool, queue, &[check]).await {
            tracing::warn!(submission_id, error = %format!("{error:#}"), "receipt job not enqueued at once; the outbox relay will");
        }
    }
    tracing::info!(
        submission_id,
        user_id,
        source = upload.source,
        "receipt queued"
    );
    Ok(submission_id)
}

/// Writes the submission and its check (an outbox row due now) in the caller's
/// transaction; the relay hands the check out after the commit. Returns the submission's
/// id and the check's outbox id.
pub async fn record(
    tx: &impl GenericClient,
    bot_id: i64,
    user_id: i64,
    upload: &NewSubmission<'_>,
) -> anyhow::Result<(i64, Option<i64>)> {
    let file_size = upload.file_size.and_then(|size| i32::try_from(size).ok());
    let row = tx
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, telegram_file_id, file_size, qr_raw)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
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
    let check = outbox::insert_check(
        tx,
        bot_id,
        user_id,
        submission_id,
        &ReceiptJob::Verify { submission_id },
        Duration::ZERO,
        &format!("receipt:{submission_id}:0"),
    )
    .await?;
    Ok((submission_id, check))
}
