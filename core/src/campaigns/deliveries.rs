//! The delivery rows of a campaign: claiming a batch (`FOR UPDATE SKIP LOCKED`) for one
//! runner, the runner's heartbeat and lease, the attempt record in Redis, and settling
//! each send's result in batched writes. Every write is guarded by `status = 'sending'`
//! and the claiming runner, so several runners on one campaign never clash.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use uuid::Uuid;

use super::runner::{LEASE, LEASE_MARGIN, MAX_ATTEMPTS, STATUS_EVERY};
use crate::db::PgPool;
use crate::store::Redis;
use crate::telegram::{GatedCallError, TelegramError};

/// The status the heartbeat reports when this runner's lease was lost (it lapsed and
/// another process may be recovering its rows): the slice stops at once.
pub(super) const LEASE_LOST: &str = "lease lost";

#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub(super) id: i64,
    pub(super) user_id: i64,
    pub(super) chat_id: i64,
    pub(super) attempts: i32,
    /// Placeholder values of this recipient's text (a raffle's message to those who did
    /// not win); `None` sends the content as it is.
    pub(super) vars: Option<serde_json::Value>,
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

/// Moves up to `limit` pending deliveries, oldest first, to `sending` for `runner`, while
/// its lease holds (a runner whose lease lapsed claims nothing: recovery may be taking
/// its rows). Rows in retry backoff (5xx, network) wait 0.5 s, 1 s, 2 s, 4 s after their
/// attempts.
pub(super) async fn claim(
    pool: PgPool,
    campaign_id: i64,
    runner: Uuid,
    limit: i64,
) -> anyhow::Result<Vec<Delivery>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "UPDATE campaign_deliveries d SET status = 'sending', claimed_at = now(), runner_id = $3
             WHERE d.id IN (
                 SELECT id FROM campaign_deliveries
                 WHERE campaign_id = $1 AND status = 'pending'
                   AND (claimed_at IS NULL
                        OR claimed_at < now() - interval '250 milliseconds' * power(2, attempts))
                 ORDER BY id LIMIT $2
                 FOR UPDATE SKIP LOCKED)
               AND EXISTS (SELECT 1 FROM campaign_runners
                           WHERE runner_id = $3 AND lease_until > now())
             RETURNING d.id, d.user_id, d.chat_id, d.attempts, d.vars",
            &[&campaign_id, &limit, &runner],
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
            vars: row.get(4),
        })
        .collect();
    batch.sort_by_key(|d| d.id);
    Ok(batch)
}

/// The runner's lease as the send loop sees it: no send is launched after
/// `valid_until`, a conservative local reading of the lease the database holds.
#[derive(Clone)]
pub(super) struct LeaseView(Arc<Mutex<Instant>>);

impl LeaseView {
    fn renewed(&self, asked_at: Instant) {
        if let Ok(mut until) = self.0.lock() {
            // Measured from before the renewal was asked, so the local view always ends
            // before the database's `now() + LEASE` does.
            *until = (*until).max(asked_at + LEASE.saturating_sub(LEASE_MARGIN));
        }
    }

    /// Whether a send may be launched now.
    pub(super) fn holds(&self) -> bool {
        self.0
            .lock()
            .map(|until| Instant::now() < *until)
            .unwrap_or(false)
    }
}

/// Registers `runner` as working `campaign_id` with a fresh lease.
pub(super) async fn register_runner(
    pool: &PgPool,
    campaign_id: i64,
    bot_id: i64,
    runner: Uuid,
) -> anyhow::Result<LeaseView> {
    let asked_at = Instant::now();
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO campaign_runners (runner_id, campaign_id, bot_id, lease_until)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
            &[&runner, &campaign_id, &bot_id, &LEASE.as_secs_f64()],
        )
        .await
        .context("registering the runner")?;
    let view = LeaseView(Arc::new(Mutex::new(asked_at)));
    view.renewed(asked_at);
    Ok(view)
}

/// Ends `runner`'s lease: rows it still holds (sends abandoned at the deadline) are
/// recoverable at once.
pub(super) async fn unregister_runner(pool: &PgPool, runner: Uuid) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "DELETE FROM campaign_runners WHERE runner_id = $1",
            &[&runner],
        )
        .await
        .context("ending the runner's lease")?;
    Ok(())
}

/// Re-reads the campaign's status and renews the runner's lease (which also proves the
/// campaign in hand to the bridge's sweep) every [`STATUS_EVERY`], off the send loop so a
/// slow query never delays a send.
pub(super) fn spawn_heartbeat(
    pool: PgPool,
    campaign_id: i64,
    runner: Uuid,
    lease: LeaseView,
) -> (watch::Receiver<String>, AbortHandle) {
    let (tx, rx) = watch::channel("running".to_owned());
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(STATUS_EVERY).await;
            let asked_at = Instant::now();
            match heartbeat(&pool, campaign_id, runner).await {
                Ok((status, held)) => {
                    let status = if held {
                        lease.renewed(asked_at);
                        status
                    } else {
                        LEASE_LOST.to_owned()
                    };
                    // Only a change wakes the send loop.
                    tx.send_if_modified(|current| {
                        let changed = *current != status;
                        if changed {
                            *current = status;
                        }
                        changed
                    });
                    if tx.is_closed() || !held {
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

/// Renews the runner's lease (only while it still holds: a lapsed lease may be under
/// recovery) and with it the campaign's; returns the campaign's status and whether the
/// lease is still held.
pub(super) async fn heartbeat(
    pool: &PgPool,
    campaign_id: i64,
    runner: Uuid,
) -> anyhow::Result<(String, bool)> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "WITH r AS (
                 UPDATE campaign_runners SET lease_until = now() + make_interval(secs => $3)
                 WHERE runner_id = $2 AND lease_until > now()
                 RETURNING 1
             )
             UPDATE campaigns SET heartbeat_at = now(),
                 lease_until = CASE WHEN EXISTS (SELECT 1 FROM r)
                                    THEN GREATEST(lease_until, now() + make_interval(secs => $3))
                                    ELSE lease_until END
             WHERE id = $1
             RETURNING status, EXISTS (SELECT 1 FROM r)",
            &[&campaign_id, &runner, &LEASE.as_secs_f64()],
        )
        .await?;
    Ok(row.map_or_else(
        || ("deleted".to_owned(), false),
        |row| (row.get(0), row.get(1)),
    ))
}

/// The Redis hash (under the bot's prefix) in which one runner records, per delivery id,
/// how far its send got: `launching` (written before the request's last byte, the
/// send's gate), `written` (after hyper has taken the last byte, fire and forget), then
/// Telegram's answer (`sent:<message_id>`, `unknown`, `retry`, `final`), before the
/// batched Postgres write. Recovery of a dead runner's rows reads it: `sent` rows are
/// settled as sent; `written` or `unknown` (the whole request left, no answer) become
/// `unknown`, never resent; `launching` only, or no entry, means the last byte never
/// went out (at most it was about to): sent again.
pub fn attempt_record(campaign_id: i64, runner: Uuid) -> String {
    format!("campaign:{campaign_id}:runner:{}", runner.simple())
}

/// How long an attempt record is kept: recovery reads it within seconds of a crash; the
/// margin covers a campaign left alone for a long time (paused while a runner died).
const RECORD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The placeholder field that shows the record exists (Redis has not lost it).
const RECORD_OPENED: &str = "_";

/// KEYS: record. ARGV: delivery id. Returns 1 when `launching` was written, 0 when
/// recovery has taken the delivery away from this runner (`void`), -1 when the record is
/// gone (Redis lost it): then no send may complete, as recovery could not tell it left.
const LAUNCHING: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], ARGV[1]) == 'void' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'launching')
return 1
"#;

/// KEYS: record. ARGV: delivery id. Writes `written` only over `launching`: it is fired
/// without waiting and may arrive after Telegram's answer (or a fence's `void`), which it
/// must never overwrite. Returns 1 when written.
const WRITTEN: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'launching' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'written')
return 1
"#;

/// KEYS: record. ARGV: delivery ids. Returns each id's entry ('' when absent), or nil
/// when the record itself is gone. An id with no entry or only `launching` is fenced
/// with `void`: a runner still alive can no longer launch it nor mark it `written`, so
/// the decision to send it again stands.
const FENCE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local out = {}
for i, id in ipairs(ARGV) do
  local v = redis.call('HGET', KEYS[1], id)
  if not v or v == 'launching' then
    redis.call('HSET', KEYS[1], id, 'void')
  end
  out[i] = v or ''
end
return out
"#;

/// One runner's attempt record (see [`attempt_record`]); cheap to clone.
#[derive(Clone)]
pub(super) struct AttemptRecord {
    redis: Redis,
    key: String,
    launching: Arc<redis::Script>,
    written: Arc<redis::Script>,
    /// Set when Redis turned out to have lost the record: the slice must end.
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl AttemptRecord {
    /// Creates the record before anything is claimed, so its absence later means Redis
    /// lost it, not that nothing was launched.
    pub(super) async fn open(
        redis: &Redis,
        campaign_id: i64,
        runner: Uuid,
    ) -> anyhow::Result<Self> {
        let key = redis.key(&attempt_record(campaign_id, runner));
        let mut conn = redis.connection();
        let _: () = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(&key)
            .arg(RECORD_OPENED)
            .arg("open")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(RECORD_TTL.as_millis() as u64)
            .ignore()
            .query_async(&mut conn)
            .await
            .context("opening the attempt record")?;
        Ok(Self {
            redis: redis.clone(),
            key,
            launching: Arc::new(redis::Script::new(LAUNCHING)),
            written: Arc::new(redis::Script::new(WRITTEN)),
            lost: Arc::default(),
        })
    }

    /// Records that delivery `id`'s last byte is about to be written; `Ok(false)` when it
    /// must not be.
    pub(super) async fn launching(&self, id: i64) -> anyhow::Result<bool> {
        let mut conn = self.redis.connection();
        let written: i64 = self
            .launching
            .key(&self.key)
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .context("recording the launch")?;
        match written {
            1 => Ok(true),
            0 => Ok(false),
            _ => {
                self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
                anyhow::bail!("the attempt record is gone (Redis lost it)")
            }
        }
    }

    /// Records that delivery `id`'s last byte was handed to the connection, unless the
    /// entry has moved past `launching` already (see [`WRITTEN`]); `Ok(true)` when it was
    /// written.
    pub(super) async fn written(&self, id: i64) -> anyhow::Result<bool> {
        let mut conn = self.redis.connection();
        let written: i64 = self
            .written
            .key(&self.key)
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .context("recording the written request")?;
        Ok(written == 1)
    }

    pub(super) fn is_lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records Telegram's answer for delivery `id` (see [`AttemptRecord::entry_for`]).
    pub(super) async fn answered(&self, id: i64, entry: &str) -> anyhow::Result<()> {
        let mut conn = self.redis.connection();
        let _: () = redis::cmd("HSET")
            .arg(&self.key)
            .arg(id)
            .arg(entry)
            .query_async(&mut conn)
            .await
            .context("recording the send's result")?;
        Ok(())
    }

    /// The record entry for a send's outcome.
    pub(super) fn entry_for(result: &Result<Value, GatedCallError>) -> String {
        match result {
            Ok(message) => match message.get("message_id").and_then(Value::as_i64) {
                Some(id) => format!("sent:{id}"),
                None => "sent:".to_owned(),
            },
            Err(GatedCallError::Telegram(TelegramError::Api { code, .. }))
                if *code == 429 || *code >= 500 =>
            {
                "retry".to_owned()
            }
            Err(GatedCallError::Telegram(TelegramError::Api { .. })) => "final".to_owned(),
            Err(GatedCallError::Unsent { .. }) => "retry".to_owned(),
            // It may have been delivered.
            Err(GatedCallError::Telegram(_)) => "unknown".to_owned(),
        }
    }
}

/// What a dead runner's record says about one of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Recorded {
    /// Telegram accepted it (the message id when it was read back).
    Sent(Option<i64>),
    /// The whole request left without an answer: it may have been delivered, so it is
    /// never resent.
    MaybeSent,
    /// Its last byte never went out (or Telegram refused it): send it again.
    NotSent,
}

impl Recorded {
    fn parse(entry: &str) -> Self {
        if let Some(id) = entry.strip_prefix("sent:") {
            return Recorded::Sent(id.parse().ok());
        }
        match entry {
            // `launched` is the entry of runners from before `written` existed, written
            // before the last byte but not fenced against: the safe side.
            "written" | "unknown" | "launched" => Recorded::MaybeSent,
            // `launching`, `void`, `retry`, `final` or nothing.
            _ => Recorded::NotSent,
        }
    }
}

/// Reads a dead runner's entries for `ids` and fences them (a runner still alive can no
/// longer launch, or mark written, an id with no entry or only `launching`). Without the record (Redis lost it) every row
/// counts as possibly sent: the safe side is never resending.
pub(super) async fn read_and_fence(
    redis: &Redis,
    campaign_id: i64,
    runner: Uuid,
    ids: &[i64],
) -> anyhow::Result<Vec<Recorded>> {
    let key = redis.key(&attempt_record(campaign_id, runner));
    let mut conn = redis.connection();
    let entries: Option<Vec<String>> = redis::Script::new(FENCE)
        .key(&key)
        .arg(ids)
        .invoke_async(&mut conn)
        .await
        .context("reading the attempt record")?;
    Ok(match entries {
        None => vec![Recorded::MaybeSent; ids.len()],
        Some(entries) => {
            // A missing answer counts as written: the safe side is never resending.
            let parsed = entries.iter().map(|e| Recorded::parse(e));
            parsed
                .chain(std::iter::repeat(Recorded::MaybeSent))
                .take(ids.len())
                .collect()
        }
    })
}

/// Writes settled results and the campaign's counters in one statement; a row that is
/// no longer `sending` for `runner` (recovered meanwhile) is left alone and not counted.
pub(super) async fn write_settlements(
    pool: PgPool,
    campaign_id: i64,
    runner: Uuid,
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
                                       WHEN s.backoff THEN now() END,
                     runner_id = CASE WHEN s.status = 'pending' THEN NULL ELSE d.runner_id END
                 FROM s
                 WHERE d.id = s.id AND d.campaign_id = $1 AND d.status = 'sending'
                   AND d.runner_id = $9
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
                &runner,
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
    result: Result<Value, GatedCallError>,
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
        Err(GatedCallError::Unsent { reason, attempted }) => {
            // Certainly not delivered. Stopped by the gate (Redis failed, or recovery
            // took the row): back in line after a short backoff, no attempt. Stopped on
            // the way to Telegram: an attempt like any network failure.
            settlement.status = "pending";
            settlement.backoff = true;
            settlement.attempted = attempted;
            if attempted && delivery.attempts + 1 >= MAX_ATTEMPTS {
                settlement.status = "failed";
            }
            settlement.error = Some(reason);
            return (settlement, None);
        }
        Err(GatedCallError::Telegram(error)) => error,
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
    } else if matches!(
        error,
        TelegramError::Decode(_) | TelegramError::Transport(_)
    ) {
        // Telegram said ok but the answer made no sense, or the connection failed after
        // the whole request had left: it may have been delivered, so it is never resent.
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn record() -> (AttemptRecord, Redis, i64, Uuid) {
        let prefix = format!("test:{}", Uuid::new_v4().simple());
        let redis = Redis::connect(&promo_testkit::app::redis_url(), &prefix)
            .await
            .expect("redis");
        let runner = Uuid::new_v4();
        let record = AttemptRecord::open(&redis, 1, runner)
            .await
            .expect("record");
        (record, redis, 1, runner)
    }

    async fn entry(record: &AttemptRecord, id: i64) -> Option<String> {
        let mut conn = record.redis.connection();
        redis::cmd("HGET")
            .arg(&record.key)
            .arg(id)
            .query_async(&mut conn)
            .await
            .expect("HGET")
    }

    #[tokio::test]
    async fn written_replaces_only_launching_so_a_late_one_never_hides_the_answer_or_the_fence() {
        let (record, redis, campaign_id, runner) = record().await;
        assert!(
            !record.written(1).await.expect("written"),
            "nothing launched"
        );
        assert_eq!(entry(&record, 1).await, None);

        assert!(record.launching(1).await.expect("launching"));
        assert!(record.written(1).await.expect("written"));
        assert_eq!(entry(&record, 1).await.as_deref(), Some("written"));

        // Telegram answered before the fire-and-forget `written` arrived.
        assert!(record.launching(2).await.expect("launching"));
        record.answered(2, "sent:55").await.expect("answered");
        assert!(!record.written(2).await.expect("written"));
        assert_eq!(entry(&record, 2).await.as_deref(), Some("sent:55"));

        // Recovery fenced a row whose last byte was only about to leave.
        assert!(record.launching(3).await.expect("launching"));
        let fenced = read_and_fence(&redis, campaign_id, runner, &[1, 2, 3, 4])
            .await
            .expect("fence");
        assert_eq!(
            fenced,
            [
                Recorded::MaybeSent,
                Recorded::Sent(Some(55)),
                Recorded::NotSent,
                Recorded::NotSent
            ]
        );
        assert!(!record.written(3).await.expect("written"), "fenced");
        assert!(!record.launching(4).await.expect("launching"), "fenced");
        assert_eq!(entry(&record, 3).await.as_deref(), Some("void"));
        // A second recovery (the first's Postgres write failed) decides the same.
        let again = read_and_fence(&redis, campaign_id, runner, &[1, 2, 3, 4])
            .await
            .expect("fence");
        assert_eq!(again, fenced);
    }
}
