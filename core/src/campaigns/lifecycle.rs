//! A campaign's lifecycle in the database: starting it, recovering what a crashed runner
//! left in `sending`, materialising the recipients once, failing it with a reason, and
//! marking it completed when no delivery is outstanding.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use super::runner::{
    SliceOutcome, FINAL_WRITES, RECHECK_MIN, SETTLE_POLL, SETTLE_WAIT, STALE_MARGIN,
    STALE_SENDING_AFTER,
};
use super::Campaigns;

pub(super) use super::audience::Audience;

pub(super) struct Started {
    pub(super) kind: String,
    pub(super) content: Value,
    pub(super) audience: Value,
    pub(super) paid_broadcast: bool,
    pub(super) materialized: bool,
}

/// Marks a due campaign `running`; `None` when it is not runnable now.
pub(super) async fn start(app: &Campaigns, campaign_id: i64) -> anyhow::Result<Option<Started>> {
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE campaigns
             SET status = 'running', started_at = COALESCE(started_at, now()),
                 heartbeat_at = now(), updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND kind IN ('broadcast', 'single_message')
               AND (status = 'running'
                    OR (status = 'scheduled' AND (scheduled_for IS NULL OR scheduled_for <= now())))
             RETURNING kind, content, audience, paid_broadcast, materialized_at IS NOT NULL",
            &[&campaign_id, &app.bot_id],
        )
        .await
        .context("starting the campaign")?;
    Ok(row.map(|row| Started {
        kind: row.get(0),
        content: row.get(1),
        audience: row.get(2),
        paid_broadcast: row.get(3),
        materialized: row.get(4),
    }))
}

pub(super) async fn status_of(app: &Campaigns, campaign_id: i64) -> anyhow::Result<Option<String>> {
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT status FROM campaigns WHERE id = $1 AND bot_id = $2",
            &[&campaign_id, &app.bot_id],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

pub(super) async fn fail(
    app: &Campaigns,
    campaign_id: i64,
    reason: &str,
) -> anyhow::Result<SliceOutcome> {
    tracing::warn!(campaign_id, reason, "campaign failed");
    let client = app.pool.get().await?;
    client
        .execute(
            "UPDATE campaigns SET status = 'failed', error = $2, finished_at = now(),
                    updated_at = now()
             WHERE id = $1 AND status = 'running'",
            &[&campaign_id, &reason],
        )
        .await?;
    Ok(SliceOutcome::Idle {
        status: Some("failed".into()),
    })
}

/// The Redis set (under the bot's prefix) of this campaign's deliveries that were let
/// through the rate limiter, written atomically with each grant.
pub fn launch_record(campaign_id: i64) -> String {
    format!("campaign:{campaign_id}:launched")
}

/// Settles rows a dead runner left in `sending`. A row the rate limiter let through may
/// have reached the user, and a second copy is worse than a missing one: it becomes
/// `unknown` and is never resent. A row that never got a send slot cannot have been
/// sent: it goes back to `pending`. Without the launch record (nothing was granted yet, or
/// Redis lost it) every stale row counts as possibly sent.
pub(super) async fn recover_stale(app: &Campaigns, campaign_id: i64) -> anyhow::Result<()> {
    let client = app.pool.get().await?;
    let stale: Vec<i64> = client
        .query(
            "SELECT id FROM campaign_deliveries
             WHERE campaign_id = $1 AND status = 'sending'
               AND (claimed_at IS NULL OR claimed_at < now() - make_interval(secs => $2))",
            &[&campaign_id, &STALE_SENDING_AFTER.as_secs_f64()],
        )
        .await
        .context("finding deliveries left in flight")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let (maybe_sent, never_sent) = split_launched(app, campaign_id, &stale).await?;
    let row = client
        .query_one(
            "WITH maybe AS (
                 UPDATE campaign_deliveries
                 SET status = 'unknown', error = 'the runner stopped while sending'
                 WHERE id = ANY($2) AND status = 'sending'
                 RETURNING 1
             ), back AS (
                 UPDATE campaign_deliveries SET status = 'pending', claimed_at = NULL
                 WHERE id = ANY($3) AND status = 'sending'
                 RETURNING 1
             ), counted AS (
                 UPDATE campaigns SET unknown = unknown + (SELECT count(*) FROM maybe)::int
                 WHERE id = $1 AND EXISTS (SELECT 1 FROM maybe)
             )
             SELECT (SELECT count(*) FROM maybe), (SELECT count(*) FROM back)",
            &[&campaign_id, &maybe_sent, &never_sent],
        )
        .await
        .context("recovering deliveries left in flight")?;
    let (unknown, resumed): (i64, i64) = (row.get(0), row.get(1));
    tracing::warn!(
        campaign_id,
        unknown,
        resumed,
        "deliveries left by a stopped runner recovered"
    );
    Ok(())
}

/// Splits stale rows into (possibly sent, never sent) by the launch record.
pub(super) async fn split_launched(
    app: &Campaigns,
    campaign_id: i64,
    ids: &[i64],
) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    let key = app.redis.key(&launch_record(campaign_id));
    let mut conn = app.redis.connection();
    let recorded: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .context("reading the launch record")?;
    if !recorded {
        return Ok((ids.to_vec(), Vec::new()));
    }
    let launched: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg(&key)
        .arg(ids)
        .query_async(&mut conn)
        .await
        .context("reading the launch record")?;
    let mut maybe = Vec::new();
    let mut never = Vec::new();
    // A missing answer counts as launched: the safe side is never resending.
    let flags = launched.into_iter().chain(std::iter::repeat(true));
    for (id, launched) in ids.iter().copied().zip(flags) {
        if launched {
            maybe.push(id);
        } else {
            never.push(id);
        }
    }
    Ok((maybe, never))
}

/// Inserts one delivery per eligible recipient, once: the campaign row lock and
/// `materialized_at` make a second runner (or a redelivered job) skip it.
pub(super) async fn materialize(
    app: &Campaigns,
    campaign_id: i64,
    kind: &str,
    audience: &Audience,
) -> anyhow::Result<i32> {
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "SELECT materialized_at IS NOT NULL, total FROM campaigns WHERE id = $1 FOR UPDATE",
            &[&campaign_id],
        )
        .await?;
    if row.get::<_, bool>(0) {
        return Ok(row.get(1));
    }
    let (ids, registered_only, language, segment) = audience.params(kind);
    tx.execute(
        &format!(
            "INSERT INTO campaign_deliveries (campaign_id, bot_id, user_id, chat_id)
             SELECT $1, u.bot_id, u.id, u.telegram_id FROM users u
             WHERE {}
             ORDER BY u.id
             ON CONFLICT (campaign_id, user_id) DO NOTHING",
            super::audience::recipients_condition(2)
        ),
        &[
            &campaign_id,
            &app.bot_id,
            &ids,
            &registered_only,
            &language,
            &segment,
        ],
    )
    .await
    .context("materialising recipients")?;
    let row = tx
        .query_one(
            "UPDATE campaigns
             SET materialized_at = now(), updated_at = now(),
                 total = (SELECT count(*) FROM campaign_deliveries WHERE campaign_id = $1)::int
             WHERE id = $1 RETURNING total",
            &[&campaign_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row.get(0))
}

/// Marks the campaign `completed` when nothing is pending or in flight, with counters
/// recomputed from the rows; otherwise says when to look again.
///
/// Rows still in `sending` belong to other runners (this slice has settled or handed
/// back all of its own). A live runner's rows settle within moments, and normally that
/// runner completes the campaign itself; but it may die or fail right after writing its
/// last results, before its own check. So this waits for them in place for up to
/// [`SETTLE_WAIT`] (within the slice's deadline), then asks for a continuation after
/// about as long as they have already been in flight: a second or two for a live
/// runner's tail, growing geometrically for a dead runner's rows, and never later than
/// the moment those turn stale ([`STALE_SENDING_AFTER`]), when [`recover_stale`] settles
/// them. Crash safety is unchanged: only rows older than that are ever taken over.
pub(super) async fn complete_if_done(
    app: &Campaigns,
    campaign_id: i64,
    deadline: Instant,
) -> anyhow::Result<SliceOutcome> {
    let waiting_since = Instant::now();
    let mut poll = SETTLE_POLL;
    loop {
        let outstanding = outstanding(app, campaign_id).await?;
        if outstanding.pending > 0 {
            return Ok(SliceOutcome::Continue {
                after: Duration::ZERO,
            });
        }
        if outstanding.sending == 0 {
            break;
        }
        let now = Instant::now();
        let waited = now - waiting_since;
        if waited + poll <= SETTLE_WAIT && now + poll + FINAL_WRITES <= deadline {
            tokio::time::sleep(poll).await;
            poll *= 2;
            continue;
        }
        return Ok(SliceOutcome::Continue {
            after: recheck_after(outstanding.oldest_in_flight),
        });
    }
    let client = app.pool.get().await?;
    let completed = client
        .execute(
            "UPDATE campaigns c
             SET status = 'completed', finished_at = now(), updated_at = now(),
                 total = agg.total, sent = agg.sent, failed = agg.failed,
                 blocked = agg.blocked, unknown = agg.unknown
             FROM (SELECT count(*)::int AS total,
                          (count(*) FILTER (WHERE status = 'sent'))::int AS sent,
                          (count(*) FILTER (WHERE status = 'failed'))::int AS failed,
                          (count(*) FILTER (WHERE status = 'blocked'))::int AS blocked,
                          (count(*) FILTER (WHERE status = 'unknown'))::int AS unknown
                   FROM campaign_deliveries WHERE campaign_id = $1) agg
             WHERE c.id = $1 AND c.status = 'running'",
            &[&campaign_id],
        )
        .await?;
    if completed == 1 {
        tracing::info!(campaign_id, "campaign completed");
        Ok(SliceOutcome::Completed)
    } else {
        Ok(SliceOutcome::Idle {
            status: status_of(app, campaign_id).await?,
        })
    }
}

/// Deliveries of a campaign not settled yet.
pub(super) struct Outstanding {
    pub(super) pending: i64,
    pub(super) sending: i64,
    /// How long the oldest row in `sending` has been claimed.
    pub(super) oldest_in_flight: Duration,
}

/// Settles stale rows first (see [`recover_stale`]), then counts what is left.
pub(super) async fn outstanding(app: &Campaigns, campaign_id: i64) -> anyhow::Result<Outstanding> {
    recover_stale(app, campaign_id).await?;
    let client = app.pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'pending'),
                    count(*) FILTER (WHERE status = 'sending'),
                    COALESCE(EXTRACT(EPOCH FROM now() - min(claimed_at)
                             FILTER (WHERE status = 'sending'))::float8, 0)
             FROM campaign_deliveries WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .context("counting outstanding deliveries")?;
    let oldest_secs: f64 = row.get(2);
    Ok(Outstanding {
        pending: row.get(0),
        sending: row.get(1),
        // A clock step can make the age negative (or a bogus value NaN): read it as fresh.
        oldest_in_flight: Duration::try_from_secs_f64(oldest_secs).unwrap_or(Duration::ZERO),
    })
}

/// When to look again at sends that have been in flight elsewhere for `oldest`: after
/// about that long again (so a dead runner's rows cost a handful of checks, not one per
/// second), at least [`RECHECK_MIN`], and no later than just after they turn stale.
pub(super) fn recheck_after(oldest: Duration) -> Duration {
    let until_stale = STALE_SENDING_AFTER.saturating_sub(oldest) + STALE_MARGIN;
    oldest.max(RECHECK_MIN).min(until_stale.max(RECHECK_MIN))
}
