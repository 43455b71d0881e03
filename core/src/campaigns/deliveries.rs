//! The delivery rows of a campaign: claiming a batch (`FOR UPDATE SKIP LOCKED`), the
//! runner's heartbeat, and settling each send's result in batched writes. Every write is
//! guarded by `status = 'sending'`, so several runners on one campaign never clash.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::runner::{MAX_ATTEMPTS, STATUS_EVERY};
use crate::db::PgPool;
use crate::telegram::TelegramError;

#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub(super) id: i64,
    pub(super) user_id: i64,
    pub(super) chat_id: i64,
    pub(super) attempts: i32,
}

/// What a send did to its delivery row.
#[derive(Debug)]
pub(super) struct Settlement {
    pub(super) id: i64,
    pub(super) status: &'static str,
    pub(super) error: Option<String>,
    pub(super) message_id: Option<i64>,
    /// Whether this send counts as an attempt (a 429 does not).
    pub(super) attempted: bool,
    /// For `pending`: wait the attempt-based backoff before the row is claimed again.
    pub(super) backoff: bool,
    /// The user cannot be reached any more (403, chat not found).
    pub(super) unreachable: bool,
}

/// Moves up to `limit` pending deliveries, oldest first, to `sending`. Rows in retry
/// backoff (5xx, network) wait 0.5 s, 1 s, 2 s, 4 s after their attempts.
pub(super) async fn claim(
    pool: PgPool,
    campaign_id: i64,
    limit: i64,
) -> anyhow::Result<Vec<Delivery>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "UPDATE campaign_deliveries d SET status = 'sending', claimed_at = now()
             WHERE d.id IN (
                 SELECT id FROM campaign_deliveries
                 WHERE campaign_id = $1 AND status = 'pending'
                   AND (claimed_at IS NULL
                        OR claimed_at < now() - interval '250 milliseconds' * power(2, attempts))
                 ORDER BY id LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             RETURNING d.id, d.user_id, d.chat_id, d.attempts",
            &[&campaign_id, &limit],
        )
        .await
        .context("claiming deliveries")?;
    let mut batch: Vec<Delivery> = rows
        .iter()
        .map(|row| Delivery {
            id: row.get(0),
            user_id: row.get(1),
            chat_id: row.get(2),
            attempts: row.get(3),
        })
        .collect();
    batch.sort_by_key(|d| d.id);
    Ok(batch)
}

/// Re-reads the campaign's status (and proves the runner alive to the bridge's stall
/// sweep) every [`STATUS_EVERY`], off the send loop so a slow query never delays a send.
pub(super) fn spawn_heartbeat(
    pool: PgPool,
    campaign_id: i64,
) -> (watch::Receiver<String>, AbortHandle) {
    let (tx, rx) = watch::channel("running".to_owned());
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(STATUS_EVERY).await;
            match heartbeat(&pool, campaign_id).await {
                Ok(status) => {
                    // Only a change wakes the send loop.
                    tx.send_if_modified(|current| {
                        let changed = *current != status;
                        if changed {
                            *current = status;
                        }
                        changed
                    });
                    if tx.is_closed() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(campaign_id, error = %format!("{e:#}"), "campaign heartbeat failed")
                }
            }
        }
    });
    (rx, task.abort_handle())
}

pub(super) async fn heartbeat(pool: &PgPool, campaign_id: i64) -> anyhow::Result<String> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE campaigns SET heartbeat_at = now() WHERE id = $1 RETURNING status",
            &[&campaign_id],
        )
        .await?;
    Ok(row.map_or_else(|| "deleted".to_owned(), |row| row.get(0)))
}

/// Writes settled results and the campaign's counters in one statement; a row that is
/// no longer `sending` (recovered meanwhile) is left alone and not counted.
pub(super) async fn write_settlements(
    pool: PgPool,
    campaign_id: i64,
    settled: Vec<Settlement>,
) -> anyhow::Result<()> {
    let ids: Vec<i64> = settled.iter().map(|s| s.id).collect();
    let statuses: Vec<&str> = settled.iter().map(|s| s.status).collect();
    let errors: Vec<Option<&str>> = settled.iter().map(|s| s.error.as_deref()).collect();
    let message_ids: Vec<Option<i64>> = settled.iter().map(|s| s.message_id).collect();
    let attempted: Vec<i32> = settled.iter().map(|s| i32::from(s.attempted)).collect();
    let backoff: Vec<bool> = settled.iter().map(|s| s.backoff).collect();
    let unreachable: Vec<bool> = settled.iter().map(|s| s.unreachable).collect();
    let client = pool.get().await?;
    client
        .execute(
            "WITH s AS (
                 SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],
                                      $6::int[], $7::bool[], $8::bool[])
                     AS s(id, status, error, message_id, attempted, backoff, unreachable)
             ), u AS (
                 UPDATE campaign_deliveries d
                 SET status = s.status, error = s.error,
                     telegram_message_id = COALESCE(s.message_id, d.telegram_message_id),
                     attempts = d.attempts + s.attempted,
                     sent_at = CASE WHEN s.status = 'sent' THEN now() ELSE d.sent_at END,
                     claimed_at = CASE WHEN s.status <> 'pending' THEN d.claimed_at
                                       WHEN s.backoff THEN now() END
                 FROM s
                 WHERE d.id = s.id AND d.campaign_id = $1 AND d.status = 'sending'
                 RETURNING d.status, d.user_id, s.unreachable
             ), gone AS (
                 UPDATE users SET reachable = FALSE, unreachable_at = now()
                 WHERE id IN (SELECT user_id FROM u WHERE unreachable) AND reachable
             )
             UPDATE campaigns SET
                 sent = sent + (SELECT count(*) FROM u WHERE status = 'sent')::int,
                 failed = failed + (SELECT count(*) FROM u WHERE status = 'failed')::int,
                 blocked = blocked + (SELECT count(*) FROM u WHERE status = 'blocked')::int,
                 unknown = unknown + (SELECT count(*) FROM u WHERE status = 'unknown')::int,
                 updated_at = now()
             WHERE id = $1",
            &[
                &campaign_id,
                &ids,
                &statuses,
                &errors,
                &message_ids,
                &attempted,
                &backoff,
                &unreachable,
            ],
        )
        .await
        .context("recording delivery results")?;
    Ok(())
}

/// Decides a delivery's fate from Telegram's answer; the second value is a global pause
/// Telegram asked for.
pub(super) fn settle(
    delivery: &Delivery,
    result: Result<Value, TelegramError>,
) -> (Settlement, Option<Duration>) {
    let mut settlement = Settlement {
        id: delivery.id,
        status: "sent",
        error: None,
        message_id: None,
        attempted: true,
        backoff: false,
        unreachable: false,
    };
    let error = match result {
        Ok(message) => {
            settlement.message_id = message.get("message_id").and_then(Value::as_i64);
            return (settlement, None);
        }
        Err(error) => error,
    };
    let description = error.to_string();
    if matches!(error, TelegramError::Api { code: 429, .. }) {
        // Not the recipient's fault and nothing was delivered: back in line, no attempt.
        settlement.status = "pending";
        settlement.attempted = false;
        let pause = error.retry_after().unwrap_or(Duration::from_secs(1));
        return (settlement, Some(pause));
    }
    settlement.error = Some(description);
    if error.is_forbidden() {
        settlement.status = "blocked";
        settlement.unreachable = true;
    } else if error.is_chat_not_found() {
        settlement.status = "failed";
        settlement.unreachable = true;
    } else if matches!(error, TelegramError::Decode(_)) {
        // Telegram said ok but the answer made no sense: it was probably delivered.
        settlement.status = "unknown";
    } else if error.is_transient() && delivery.attempts + 1 < MAX_ATTEMPTS {
        settlement.status = "pending";
        settlement.backoff = true;
    } else {
        settlement.status = "failed";
    }
    tracing::debug!(
        delivery_id = delivery.id,
        user_id = delivery.user_id,
        status = settlement.status,
        "delivery settled with an error"
    );
    (settlement, None)
}
