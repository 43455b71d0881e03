//! A campaign's lifecycle in the database: starting it, recovering what a dead runner
//! left in `sending`, materialising the recipients once, failing it with a reason, and
//! marking it completed when no delivery is outstanding.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use uuid::Uuid;

use super::deliveries::{read_and_fence, Recorded};
use super::runner::{
    SliceOutcome, FINAL_WRITES, LEASE, RECHECK_MIN, SETTLE_POLL, SETTLE_WAIT, STALE_MARGIN,
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
                 heartbeat_at = now(), updated_at = now(),
                 lease_until = GREATEST(lease_until, now() + make_interval(secs => $3))
             WHERE id = $1 AND bot_id = $2 AND kind IN ('broadcast', 'single_message')
               AND (status = 'running'
                    OR (status = 'scheduled' AND (scheduled_for IS NULL OR scheduled_for <= now())))
             RETURNING kind, content, audience, paid_broadcast, materialized_at IS NOT NULL",
            &[&campaign_id, &app.bot_id, &LEASE.as_secs_f64()],
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

/// Keeps a running campaign in hand over a continuation's delay (`after`) plus a lease
/// for the pickup, so the bridge does not take it for abandoned meanwhile.
pub(super) async fn hand_off(
    app: &Campaigns,
    campaign_id: i64,
    after: Duration,
) -> anyhow::Result<()> {
    let client = app.pool.get().await?;
    client
        .execute(
            "UPDATE campaigns
             SET lease_until = GREATEST(lease_until, now() + make_interval(secs => $2))
             WHERE id = $1 AND status = 'running'",
            &[&campaign_id, &(after + LEASE).as_secs_f64()],
        )
        .await
        .context("extending the campaign's lease")?;
    Ok(())
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

/// Settles rows a dead runner left in `sending`: rows whose runner's lease has lapsed,
/// and rows with no runner (claimed before runners held leases) once they are older than
/// [`STALE_SENDING_AFTER`]. The dead runner's attempt record says what each row did:
/// Telegram accepted it → `sent` (counted); its last byte was written without an answer
/// → `unknown` (it may have been delivered, and a second copy is worse than a missing
/// one, so it is never resent); only `launching` or no entry → the request never fully
/// left (the fence makes that final) → `pending` (sent again). A row with no runner, or
/// whose record Redis lost, counts as possibly sent.
pub(super) async fn recover_stale(app: &Campaigns, campaign_id: i64) -> anyhow::Result<()> {
    let client = app.pool.get().await?;
    let orphaned: Vec<(i64, Option<Uuid>)> = client
        .query(
            "SELECT d.id, d.runner_id FROM campaign_deliveries d
             WHERE d.campaign_id = $1 AND d.status = 'sending'
               AND CASE WHEN d.runner_id IS NULL
                        THEN d.claimed_at IS NULL OR d.claimed_at < now() - make_interval(secs => $2)
                        ELSE NOT EXISTS (SELECT 1 FROM campaign_runners r
                                         WHERE r.runner_id = d.runner_id AND r.lease_until > now())
                   END",
            &[&campaign_id, &STALE_SENDING_AFTER.as_secs_f64()],
        )
        .await
        .context("finding deliveries left in flight")?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    if orphaned.is_empty() {
        return Ok(());
    }
    let mut by_runner: BTreeMap<Option<Uuid>, Vec<i64>> = BTreeMap::new();
    for (id, runner) in orphaned {
        by_runner.entry(runner).or_default().push(id);
    }
    let (mut ids, mut runners, mut statuses, mut message_ids) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::<Option<i64>>::new(),
    );
    for (runner, rows) in by_runner {
        let recorded = match runner {
            Some(runner) => read_and_fence(&app.redis, campaign_id, runner, &rows).await?,
            None => vec![Recorded::MaybeSent; rows.len()],
        };
        for (id, recorded) in rows.into_iter().zip(recorded) {
            let (status, message_id) = match recorded {
                Recorded::Sent(message_id) => ("sent", message_id),
                Recorded::MaybeSent => ("unknown", None),
                Recorded::NotSent => ("pending", None),
            };
            ids.push(id);
            runners.push(runner);
            statuses.push(status);
            message_ids.push(message_id);
        }
    }
    let row = client
        .query_one(
            "WITH s AS (
                 SELECT * FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::bigint[])
                     AS s(id, runner_id, status, message_id)
             ), u AS (
                 UPDATE campaign_deliveries d
                 SET status = s.status,
                     error = CASE WHEN s.status = 'unknown'
                                  THEN 'the runner stopped while sending' ELSE d.error END,
                     telegram_message_id = COALESCE(s.message_id, d.telegram_message_id),
                     attempts = d.attempts + CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END,
                     sent_at = CASE WHEN s.status = 'sent' THEN now() ELSE d.sent_at END,
                     claimed_at = CASE WHEN s.status = 'pending' THEN NULL ELSE d.claimed_at END,
                     runner_id = CASE WHEN s.status = 'pending' THEN NULL ELSE d.runner_id END
                 FROM s
                 WHERE d.id = s.id AND d.campaign_id = $1 AND d.status = 'sending'
                   AND d.runner_id IS NOT DISTINCT FROM s.runner_id
                 RETURNING d.status
             ), counted AS (
                 UPDATE campaigns SET
                     sent = sent + (SELECT count(*) FROM u WHERE status = 'sent')::int,
                     unknown = unknown + (SELECT count(*) FROM u WHERE status = 'unknown')::int
                 WHERE id = $1 AND EXISTS (SELECT 1 FROM u WHERE status <> 'pending')
             ), gone AS (
                 DELETE FROM campaign_runners WHERE campaign_id = $1 AND lease_until <= now()
             )
             SELECT (SELECT count(*) FROM u WHERE status = 'sent'),
                    (SELECT count(*) FROM u WHERE status = 'unknown'),
                    (SELECT count(*) FROM u WHERE status = 'pending')",
            &[&campaign_id, &ids, &runners, &statuses, &message_ids],
        )
        .await
        .context("recovering deliveries left in flight")?;
    let (sent, unknown, resumed): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    tracing::warn!(
        campaign_id,
        sent,
        unknown,
        resumed,
        "deliveries left by a stopped runner recovered"
    );
    Ok(())
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
/// about as long as they have already been in flight, at least a second and at most a
/// lease ([`LEASE`]): a dead runner's lease lapses by then and [`recover_stale`] settles
/// its rows. Only rows of a runner whose lease has lapsed are ever taken over.
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
/// about that long again, at least [`RECHECK_MIN`], and never later than just after a
/// runner's lease would lapse ([`LEASE`]): by then the runner has either renewed it (and
/// is alive) or its rows are orphaned and the next look recovers them.
pub(super) fn recheck_after(oldest: Duration) -> Duration {
    oldest.clamp(RECHECK_MIN, LEASE + STALE_MARGIN)
}
