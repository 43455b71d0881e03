//! The transactional outbox (table `outbox`, this module its one owner): every job and
//! every message outside a campaign is a row written in the transaction of the state
//! change that causes it, so a crash can no longer leave a submission without its check
//! or a verdict without its reply.
//!
//! A row is `pending` until due; the [`Relay`] (in the listen-bridge, in process under
//! `promo serve`) or a producer's fast path claims it (`relayed`, with a pickup lease) and
//! puts a message carrying only the row id on a queue. The consumer claims it again
//! (`running` / `sending`, with a work lease) before doing anything, so two consumers never
//! work on one row at once; a lease that runs out hands the row out again. Failures are
//! scheduled in the row (`due_at`), not by the queue's redelivery, and a row given up ends
//! `dead` (jobs) or `failed` (messages) with its reason, listed by [`given_up`].

pub mod relay;
pub mod sender;

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{json, Value};

use crate::db::PgPool;
use crate::jobs::{OutboxJob, ReceiptJob};
use crate::queue::{JobQueue, QueueName};
use crate::telegram::OutgoingMessage;

pub use relay::Relay;
pub use sender::{Delivery, Sender};

/// The channel the insert trigger notifies (`migrations/0003_transactional_outbox.sql`).
pub const CHANNEL: &str = "outbox_due";
/// How long a handed-out row may wait in its queue for a consumer before it is handed out
/// again; a queue message lost with a restarted process costs at most this.
pub const PICKUP_LEASE: Duration = Duration::from_secs(30);
/// A running receipt check; longer than the verifier's own 180 s processing lease, so the
/// sweep never hands out a check the verifier would still refuse to take over.
pub const CHECK_LEASE: Duration = Duration::from_secs(240);
/// Attempts of a receipt check before it is dead-lettered. The verifier schedules the
/// business retries itself (new rows); these are infrastructure failures.
pub const MAX_CHECK_ATTEMPTS: i32 = 8;
/// Hand-outs without a finish before a row is dead-lettered (its queue messages keep
/// dying: a consumer that crashes on it, a DLQ).
pub const MAX_RELAYS: i32 = 20;

/// What a row is for; the column `purpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ReceiptCheck,
    ReceiptResult,
    ManualTickets,
    Winner,
    QuotaNotice,
    Moderation,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::ReceiptCheck => "receipt_check",
            Purpose::ReceiptResult => "receipt_result",
            Purpose::ManualTickets => "manual_tickets",
            Purpose::Winner => "winner",
            Purpose::QuotaNotice => "quota_notice",
            Purpose::Moderation => "moderation",
        }
    }
}

/// A message to write: who it is for and the Bot API call.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub purpose: Purpose,
    /// The shopper it concerns, when the recipient is one.
    pub user_id: Option<i64>,
    pub chat_id: i64,
    pub message: &'a OutgoingMessage,
    /// Makes the insert idempotent for a producer that may run twice.
    pub dedup_key: Option<String>,
}

/// Writes a message row in the caller's transaction; `None` when a row with the same
/// dedup key exists already.
pub async fn insert_message(
    client: &impl GenericClient,
    bot_id: i64,
    new: &NewMessage<'_>,
) -> anyhow::Result<Option<i64>> {
    let payload = json!({ "method": new.message.method(), "params": new.message.params() });
    let row = client
        .query_opt(
            "INSERT INTO outbox (bot_id, kind, purpose, user_id, chat_id, payload, dedup_key)
             VALUES ($1, 'message', $2, $3, $4, $5, $6)
             ON CONFLICT (bot_id, dedup_key) DO NOTHING
             RETURNING id",
            &[
                &bot_id,
                &new.purpose.as_str(),
                &new.user_id,
                &new.chat_id,
                &payload,
                &new.dedup_key,
            ],
        )
        .await
        .context("writing the message to the outbox")?;
    Ok(row.map(|row| row.get(0)))
}

/// Writes a receipt check due after `delay` in the caller's transaction; `None` when the
/// dedup key exists already. `due_at` is `now() + delay` on the transaction's clock, the
/// same instant a `next_attempt_at` written in that transaction gets.
pub async fn insert_check(
    client: &impl GenericClient,
    bot_id: i64,
    user_id: i64,
    submission_id: i64,
    job: &ReceiptJob,
    delay: Duration,
    dedup_key: &str,
) -> anyhow::Result<Option<i64>> {
    let row = client
        .query_opt(
            "INSERT INTO outbox (bot_id, kind, purpose, user_id, submission_id, payload,
                                 due_at, dedup_key)
             VALUES ($1, 'receipt_check', 'receipt_check', $2, $3, $4,
                     now() + make_interval(secs => $5), $6)
             ON CONFLICT (bot_id, dedup_key) DO NOTHING
             RETURNING id",
            &[
                &bot_id,
                &user_id,
                &submission_id,
                &serde_json::to_value(job)?,
                &delay.as_secs_f64(),
                &dedup_key,
            ],
        )
        .await
        .context("writing the receipt check to the outbox")?;
    Ok(row.map(|row| row.get(0)))
}

/// The fast path of a producer, right after its commit: claims the rows that are due and
/// puts them on their queues. The relay is the safety net: whatever this does not hand
/// out (an error, a row not due yet) the relay does.
pub async fn hand_out(pool: &PgPool, queue: &dyn JobQueue, ids: &[i64]) -> anyhow::Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let client = pool.get().await?;
    let rows = client
        .query(
            "UPDATE outbox
             SET status = 'relayed', relay_count = relay_count + 1,
                 lease_until = now() + make_interval(secs => $2), updated_at = now()
             WHERE id = ANY($1) AND status = 'pending' AND due_at <= now()
             RETURNING id, kind",
            &[&ids, &PICKUP_LEASE.as_secs_f64()],
        )
        .await
        .context("claiming outbox rows for the queue")?;
    enqueue(&client, queue, &rows).await
}

/// Puts claimed (`relayed`) rows on their queues; a row that could not be enqueued is
/// handed back at once, so the next pass retries it instead of waiting for its lease.
pub(crate) async fn enqueue(
    client: &crate::db::Connection,
    queue: &dyn JobQueue,
    rows: &[tokio_postgres::Row],
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for row in rows {
        let id: i64 = row.get(0);
        let kind: &str = row.get(1);
        let (name, job) = match kind {
            "receipt_check" => (QueueName::Receipts, OutboxJob::Check { outbox_id: id }),
            _ => (QueueName::Campaigns, OutboxJob::Message { outbox_id: id }),
        };
        let body = serde_json::to_string(&job)?;
        if let Err(error) = queue.send(name, body, Duration::ZERO).await {
            client
                .execute(
                    "UPDATE outbox SET status = 'pending', lease_until = NULL, updated_at = now()
                     WHERE id = $1 AND status = 'relayed'",
                    &[&id],
                )
                .await?;
            return Err(anyhow::Error::new(error).context("enqueueing an outbox row"));
        }
        sent += 1;
    }
    Ok(sent)
}

/// The row a producer wrote under `dedup_key`.
pub async fn find_by_key(
    pool: &PgPool,
    bot_id: i64,
    dedup_key: &str,
) -> anyhow::Result<Option<i64>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id FROM outbox WHERE bot_id = $1 AND dedup_key = $2",
            &[&bot_id, &dedup_key],
        )
        .await
        .context("looking up an outbox row")?;
    Ok(row.map(|row| row.get(0)))
}

/// A receipt check a consumer took.
#[derive(Debug)]
pub struct ClaimedCheck {
    pub id: i64,
    /// `None` when the payload is not a job this build knows (dead-lettered by the caller).
    pub job: Option<ReceiptJob>,
    pub attempts: i32,
}

/// Takes a check for this delivery: `None` when it is finished, not due, or another
/// consumer holds it (a duplicate queue message).
pub async fn claim_check(
    pool: &PgPool,
    bot_id: i64,
    id: i64,
) -> anyhow::Result<Option<ClaimedCheck>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE outbox
             SET status = 'running', attempts = attempts + 1, updated_at = now(),
                 lease_until = now() + make_interval(secs => $3)
             WHERE id = $1 AND bot_id = $2 AND kind = 'receipt_check'
               AND (status = 'relayed' OR (status = 'pending' AND due_at <= now()))
             RETURNING payload, attempts",
            &[&id, &bot_id, &CHECK_LEASE.as_secs_f64()],
        )
        .await
        .context("claiming the receipt check")?;
    Ok(row.map(|row| ClaimedCheck {
        id,
        job: serde_json::from_value(row.get::<_, Value>(0)).ok(),
        attempts: row.get(1),
    }))
}

/// The check ran to its end (whatever the receipt's fate).
pub async fn complete_check(pool: &PgPool, id: i64) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE outbox SET status = 'done', lease_until = NULL, finished_at = now(),
                               updated_at = now()
             WHERE id = $1 AND status = 'running'",
            &[&id],
        )
        .await
        .context("completing the receipt check")?;
    Ok(())
}

/// The check failed for a reason that may pass: due again after a back-off, or dead after
/// [`MAX_CHECK_ATTEMPTS`].
pub async fn retry_check(pool: &PgPool, check: &ClaimedCheck, error: &str) -> anyhow::Result<()> {
    if check.attempts >= MAX_CHECK_ATTEMPTS {
        let reason = format!("gave up after {} attempts: {error}", check.attempts);
        return give_up(pool, check.id, &reason).await;
    }
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE outbox SET status = 'pending', lease_until = NULL, last_error = $2,
                               due_at = now() + make_interval(secs => $3), updated_at = now()
             WHERE id = $1 AND status = 'running'",
            &[
                &check.id,
                &error,
                &check_backoff(check.attempts).as_secs_f64(),
            ],
        )
        .await
        .context("scheduling the receipt check again")?;
    Ok(())
}

/// 5 s, 10 s, 20 s, ... up to 10 min: a database or Telegram file outage passes.
pub fn check_backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(7);
    Duration::from_secs(5 * 2u64.pow(exponent)).min(Duration::from_secs(600))
}

/// Dead-letters a row with its reason.
pub async fn give_up(pool: &PgPool, id: i64, reason: &str) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE outbox SET status = 'dead', lease_until = NULL, last_error = $2,
                               finished_at = now(), updated_at = now()
             WHERE id = $1 AND status NOT IN ('done', 'sent', 'failed', 'blocked', 'dead')",
            &[&id, &reason],
        )
        .await
        .context("dead-lettering the outbox row")?;
    tracing::error!(outbox_id = id, reason, "outbox row given up");
    Ok(())
}

/// A row given up: a dead job or message, or a message Telegram refused for good.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenUp {
    pub id: i64,
    pub kind: String,
    pub purpose: String,
    /// `dead` or `failed`.
    pub status: String,
    pub user_id: Option<i64>,
    pub submission_id: Option<i64>,
    pub attempts: i32,
    pub relay_count: i32,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The bot's dead letters and failed messages, newest first, for the admin API.
pub async fn given_up(pool: &PgPool, bot_id: i64, limit: i64) -> anyhow::Result<Vec<GivenUp>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, kind, purpose, status, user_id, submission_id, attempts, relay_count,
                    last_error, created_at, finished_at
             FROM outbox
             WHERE bot_id = $1 AND status IN ('dead', 'failed')
             ORDER BY finished_at DESC NULLS LAST, id DESC
             LIMIT $2",
            &[&bot_id, &limit],
        )
        .await
        .context("listing the dead letters")?;
    Ok(rows
        .iter()
        .map(|row| GivenUp {
            id: row.get(0),
            kind: row.get(1),
            purpose: row.get(2),
            status: row.get(3),
            user_id: row.get(4),
            submission_id: row.get(5),
            attempts: row.get(6),
            relay_count: row.get(7),
            reason: row.get(8),
            created_at: row.get(9),
            finished_at: row.get(10),
        })
        .collect())
}

/// What an operator did with a given-up row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redrive {
    /// Due again now, with fresh attempt counters.
    Retry,
    /// Out of the failed-work list for good.
    Discard,
}

/// Applies an operator's `redrive` to a given-up row in the caller's transaction;
/// returns its kind and purpose, or `None` when no given-up row has that id.
pub async fn redrive(
    client: &impl GenericClient,
    bot_id: i64,
    id: i64,
    redrive: Redrive,
) -> anyhow::Result<Option<(String, String)>> {
    let sql = match redrive {
        Redrive::Retry => {
            "UPDATE outbox SET status = 'pending', due_at = now(), attempts = 0, relay_count = 0,
                               lease_until = NULL, finished_at = NULL, updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND status IN ('dead', 'failed')
             RETURNING kind, purpose"
        }
        Redrive::Discard => {
            "UPDATE outbox SET status = 'discarded', updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND status IN ('dead', 'failed')
             RETURNING kind, purpose"
        }
    };
    let row = client
        .query_opt(sql, &[&id, &bot_id])
        .await
        .context("redriving the outbox row")?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_back_off_doubles_from_five_seconds_and_stops_at_ten_minutes() {
        assert_eq!(check_backoff(1), Duration::from_secs(5));
        assert_eq!(check_backoff(2), Duration::from_secs(10));
        assert_eq!(check_backoff(8), Duration::from_secs(600));
        assert_eq!(check_backoff(0), Duration::from_secs(5));
    }
}
