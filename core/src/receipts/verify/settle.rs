//! Writing a verdict down: the submission settled or scheduled again, or, for a verified
//! receipt, the receipt, its tickets and the submission in one transaction whose unique
//! fiscal triple settles concurrent uploads; the shopper's reply and the re-check are
//! outbox rows in that same transaction. And handing a claim back after a fault.

use anyhow::Context;

use super::{
    annotated_items, duplicate_reply, log_outcome, schedule_recheck, Reply, RetryState, Verdict,
    Work,
};
use crate::fiscal::{FiscalQr, FnsReceipt};
use crate::receipts::fraud;
use crate::receipts::tickets::{count_tickets, KeywordMatcher};
use crate::t;

impl Work<'_> {
    /// Writes the verdict, and in the same transaction the shopper's reply and any
    /// re-check as outbox rows; returns the reply rows to send now (none when a concurrent
    /// delivery took the submission over).
    pub(super) async fn settle(&mut self, verdict: Verdict) -> anyhow::Result<Vec<i64>> {
        match verdict {
            Verdict::Settled {
                status,
                outcome,
                detail,
                reply,
            } => {
                let written = self
                    .finish(status, outcome, detail.as_deref(), Some(&reply))
                    .await?;
                log_outcome(self.submission.id, status, outcome);
                Ok(written.unwrap_or_default())
            }
            Verdict::Later {
                outcome,
                detail,
                delay,
                state,
                reply,
            } => {
                let state = RetryState {
                    attempt: self.claimed_attempts,
                    ..state
                };
                let mut client = self.app.pool.get().await?;
                let tx = client.transaction().await?;
                let updated = tx
                    .execute(
                        "UPDATE receipt_submissions
                         SET status = 'retry_scheduled', outcome = $4, outcome_detail = $5,
                             next_attempt_at = now() + make_interval(secs => $6),
                             provider_calls = provider_calls + $7,
                             qr_raw = COALESCE(qr_raw, $8), updated_at = now()
                         WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                        &[
                            &self.submission.id,
                            &self.app.bot_id,
                            &self.claimed_attempts,
                            &outcome,
                            &detail,
                            &delay.as_secs_f64(),
                            &self.provider_calls,
                            &self.decoded_qr,
                        ],
                    )
                    .await
                    .context("scheduling the receipt re-check")?;
                if updated == 0 {
                    // Taken over by another delivery after our lease ran out: it schedules.
                    tx.rollback().await?;
                    return Ok(Vec::new());
                }
                // The re-check is an outbox row due at the very `now() + delay` written to
                // `next_attempt_at` above (one transaction, one clock): hours ahead if need
                // be, and it survives any restart.
                schedule_recheck(&tx, self.app, self.submission, state, delay).await?;
                let mut messages = Vec::new();
                if let Some(reply) = &reply {
                    messages.extend(self.write_reply(&tx, reply).await?);
                }
                tx.commit().await.context("committing the re-check")?;
                self.provider_calls = 0;
                tracing::info!(
                    submission_id = self.submission.id,
                    outcome,
                    delay_secs = delay.as_secs(),
                    "receipt check scheduled again"
                );
                Ok(messages)
            }
            Verdict::Verified { qr, receipt } => self.store(&qr, &receipt).await,
        }
    }

    /// Settles the submission without a receipt, with its reply in the same transaction;
    /// `None` when it was taken over.
    async fn finish(
        &mut self,
        status: &str,
        outcome: &str,
        detail: Option<&str>,
        reply: Option<&Reply>,
    ) -> anyhow::Result<Option<Vec<i64>>> {
        let mut client = self.app.pool.get().await?;
        let tx = client.transaction().await?;
        let updated = tx
            .execute(
                "UPDATE receipt_submissions
                 SET status = $4, outcome = $5, outcome_detail = $6, receipt_id = NULL,
                     next_attempt_at = NULL, provider_calls = provider_calls + $7,
                     qr_raw = COALESCE(qr_raw, $8), updated_at = now()
                 WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                &[
                    &self.submission.id,
                    &self.app.bot_id,
                    &self.claimed_attempts,
                    &status,
                    &outcome,
                    &detail,
                    &self.provider_calls,
                    &self.decoded_qr,
                ],
            )
            .await
            .context("recording the receipt outcome")?;
        if updated == 0 {
            tx.rollback().await?;
            self.provider_calls = 0;
            return Ok(None);
        }
        let mut messages = Vec::new();
        if let Some(reply) = reply {
            messages.extend(self.write_reply(&tx, reply).await?);
        }
        tx.commit()
            .await
            .context("committing the receipt outcome")?;
        self.provider_calls = 0;
        Ok(Some(messages))
    }

    /// Stores the receipt, its tickets and the submission's outcome in one transaction.
    /// The unique fiscal triple settles concurrent uploads of one receipt: the loser's
    /// insert does nothing and its shopper is told "already uploaded".
    async fn store(&mut self, qr: &FiscalQr, receipt: &FnsReceipt) -> anyhow::Result<Vec<i64>> {
        let app = self.app;
        let matcher =
            KeywordMatcher::new(&self.promo.target_keywords, &self.promo.exclude_keywords);
        let count = count_tickets(receipt, &matcher);
        let items = annotated_items(receipt, &count.promo_lines);
        let tickets = i32::try_from(count.tickets).unwrap_or(i32::MAX);

        let mut client = app.pool.get().await?;
        let tx = client.transaction().await?;
        let signals = if tickets > 0 {
            let thresholds = self.promo.fraud;
            fraud::assess(
                &tx,
                app.bot_id,
                self.submission.user_id,
                receipt.user_inn.as_deref(),
                receipt.date_time.date(),
                &thresholds,
            )
            .await?
        } else {
            Vec::new()
        };
        let held = signals.iter().any(fraud::FraudSignal::holds_for_review);
        let (receipt_status, submission_status, outcome) = match (tickets, held) {
            (0, _) => ("rejected", "rejected", "no_promo_items"),
            (_, true) => ("pending", "pending_moderation", "held_for_review"),
            (_, false) => ("accepted", "accepted", "accepted"),
        };
        let key = qr.dedup_key();
        let inserted = tx
            .query_opt(
                "INSERT INTO receipts (bot_id, user_id, submission_id, fiscal_drive_number,
                     fiscal_document_number, fiscal_sign, operation_type, receipt_at,
                     total_kopecks, seller_inn, seller_name, seller_address, items, raw_qr,
                     tickets, status, moderation_reason, fraud_signals)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (bot_id, fiscal_drive_number, fiscal_document_number, fiscal_sign)
                 DO NOTHING
                 RETURNING id",
                &[
                    &app.bot_id,
                    &self.submission.user_id,
                    &self.submission.id,
                    &qr.fiscal_drive_number(),
                    &i64::from(key.fiscal_document_number),
                    &i64::from(key.fiscal_sign),
                    &i16::from(qr.operation().code()),
                    &receipt.date_time,
                    &receipt.total_sum.get(),
                    &receipt.user_inn,
                    &receipt.user.as_deref().map(str::trim),
                    &receipt.retail_place_address,
                    &items,
                    &qr.canonical(),
                    &tickets,
                    &receipt_status,
                    &(tickets == 0).then_some("no_promo_items"),
                    &serde_json::to_value(&signals)?,
                ],
            )
            .await
            .context("storing the receipt")?;
        let Some(row) = inserted else {
            tx.rollback().await?;
            let written = self
                .finish(
                    "rejected",
                    "duplicate",
                    Some("lost the race to a concurrent upload"),
                    Some(&duplicate_reply()),
                )
                .await?;
            log_outcome(self.submission.id, "rejected", "duplicate");
            return Ok(written.unwrap_or_default());
        };
        let receipt_id: i64 = row.get(0);

        if receipt_status == "accepted" {
            crate::ledger::grant_for_receipt(
                &tx,
                app.bot_id,
                self.submission.user_id,
                receipt_id,
                tickets,
            )
            .await?;
        }
        let updated = tx
            .execute(
                "UPDATE receipt_submissions
                 SET status = $4, outcome = $5, outcome_detail = NULL, receipt_id = $6,
                     next_attempt_at = NULL, provider_calls = provider_calls + $7,
                     qr_raw = COALESCE(qr_raw, $8), updated_at = now()
                 WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                &[
                    &self.submission.id,
                    &app.bot_id,
                    &self.claimed_attempts,
                    &submission_status,
                    &outcome,
                    &receipt_id,
                    &self.provider_calls,
                    &self.decoded_qr,
                ],
            )
            .await?;
        if updated == 0 {
            // Taken over by another delivery after our lease ran out: it settles.
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let totals = tx
            .query_one(
                "SELECT
                     (SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets
                      WHERE bot_id = $1 AND user_id = $2),
                     (SELECT count(*) FROM receipts
                      WHERE bot_id = $1 AND user_id = $2 AND status = 'accepted')",
                &[&app.bot_id, &self.submission.user_id],
            )
            .await?;
        let total: i64 = totals.get(0);
        let accepted_receipts: i64 = totals.get(1);
        let reply = match receipt_status {
            "accepted" => Reply {
                key: if accepted_receipts == 1 {
                    t!("receipt_accepted_first")
                } else {
                    t!("receipt_accepted")
                },
                args: vec![
                    ("tickets", tickets.to_string()),
                    ("total", total.to_string()),
                ],
                offer_manual_entry: false,
            },
            "pending" => Reply::plain(t!("receipt_under_review")),
            _ => Reply::plain(t!("receipt_no_promo_items")),
        };
        let messages = self.write_reply(&tx, &reply).await?;
        tx.commit().await.context("committing the receipt")?;
        self.provider_calls = 0;
        log_outcome(self.submission.id, submission_status, outcome);
        if !signals.is_empty() {
            tracing::info!(receipt_id, signals = %serde_json::to_value(&signals)?, "receipt fraud signals");
        }
        Ok(messages.into_iter().collect())
    }

    /// Hands a claimed submission back after an infrastructure error, so the queue's
    /// redelivery can claim it at once instead of waiting for the lease.
    pub(super) async fn release(&self) {
        let previous = if self.submission.status == "processing" {
            "queued"
        } else {
            self.submission.status.as_str()
        };
        let result = async {
            let client = self.app.pool.get().await?;
            client
                .execute(
                    "UPDATE receipt_submissions
                     SET status = $4, attempts = attempts - 1, updated_at = now()
                     WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                    &[
                        &self.submission.id,
                        &self.app.bot_id,
                        &self.claimed_attempts,
                        &previous,
                    ],
                )
                .await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(submission_id = self.submission.id, %error, "could not release the receipt submission; its lease will expire");
        }
    }
}
