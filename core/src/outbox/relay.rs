//! The outbox relay: hands due rows of every bot to the queues. It LISTENs on
//! [`super::CHANNEL`] (a row became pending), sleeps until the next row falls due, and
//! sweeps: rows whose lease ran out are handed out again (or dead-lettered after
//! [`super::MAX_RELAYS`]), and receipt submissions left unfinished with no live outbox row
//! (old data, a crash before this table existed) get a new check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;

use crate::db::PgPool;
use crate::queue::JobQueue;

use super::{MAX_CHECK_ATTEMPTS, MAX_RELAYS, PICKUP_LEASE};

const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Rows claimed per pass; a longer backlog takes several passes in a row.
const BATCH: i64 = 200;
/// A submission in `queued` this long without a live check has lost it.
const QUEUED_BOUND: Duration = Duration::from_secs(120);
/// A `processing` submission untouched this long: its worker died (verifier lease 180 s).
const PROCESSING_BOUND: Duration = Duration::from_secs(240);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The relay over one database and the queues.
pub struct Relay {
    pub database_url: String,
    pub pool: PgPool,
    pub queue: Arc<dyn JobQueue>,
}

impl Relay {
    /// Claims every due pending row (single-winner: `FOR UPDATE SKIP LOCKED` and the status
    /// change in one UPDATE) and enqueues it. Returns how many were handed out.
    pub async fn relay_due(&self) -> anyhow::Result<usize> {
        let client = self.pool.get().await?;
        let mut total = 0;
        loop {
            let rows = client
                .query(
                    "UPDATE outbox
                     SET status = 'relayed', relay_count = relay_count + 1,
                         lease_until = now() + make_interval(secs => $1), updated_at = now()
                     WHERE id IN (
                         SELECT id FROM outbox
                         WHERE status = 'pending' AND due_at <= now()
                         ORDER BY due_at
                         LIMIT $2
                         FOR UPDATE SKIP LOCKED
                     )
                     RETURNING id, kind",
                    &[&PICKUP_LEASE.as_secs_f64(), &BATCH],
                )
                .await
                .context("claiming due outbox rows")?;
            let claimed = rows.len();
            total += super::enqueue(&client, self.queue.as_ref(), &rows).await?;
            if claimed < BATCH as usize {
                break;
            }
        }
        if total > 0 {
            tracing::debug!(rows = total, "outbox rows relayed");
        }
        Ok(total)
    }

    /// Rows handed out or claimed whose lease ran out go back to `pending`, due now; a row
    /// handed out [`MAX_RELAYS`] times, or a check that used its attempts, is dead. A
    /// message whose lease ran out while `sending` may have reached Telegram: it is sent
    /// again (at least once), the safe side for a notification.
    pub async fn reclaim_expired(&self) -> anyhow::Result<usize> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "UPDATE outbox
                 SET status = CASE WHEN relay_count >= $1
                                        OR (kind = 'receipt_check' AND attempts >= $2)
                                   THEN 'dead' ELSE 'pending' END,
                     last_error = CASE WHEN relay_count >= $1
                                            OR (kind = 'receipt_check' AND attempts >= $2)
                                       THEN concat_ws('; ', last_error,
                                                'lease ran out while ' || status || ' after '
                                                || relay_count || ' hand-outs')
                                       ELSE last_error END,
                     finished_at = CASE WHEN relay_count >= $1
                                             OR (kind = 'receipt_check' AND attempts >= $2)
                                        THEN now() END,
                     due_at = now(), lease_until = NULL, updated_at = now()
                 WHERE status IN ('relayed', 'running', 'sending') AND lease_until < now()
                 RETURNING id, status",
                &[&MAX_RELAYS, &MAX_CHECK_ATTEMPTS],
            )
            .await
            .context("reclaiming expired outbox leases")?;
        for row in &rows {
            let id: i64 = row.get(0);
            let status: &str = row.get(1);
            if status == "dead" {
                tracing::error!(
                    outbox_id = id,
                    "outbox row dead-lettered: its hand-outs never finished"
                );
            } else {
                tracing::warn!(
                    outbox_id = id,
                    "outbox lease ran out; handing the row out again"
                );
            }
        }
        Ok(rows.len())
    }

    /// Gives every unfinished submission without a live check a new one: `queued` or
    /// `processing` past its bound, `retry_scheduled` past its due time. A submission
    /// whose check was dead-lettered since it last changed is left to the operators.
    pub async fn sweep_submissions(&self) -> anyhow::Result<usize> {
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                "INSERT INTO outbox (bot_id, kind, purpose, user_id, submission_id, payload)
                 SELECT s.bot_id, 'receipt_check', 'receipt_check', s.user_id, s.id,
                        CASE WHEN s.status = 'retry_scheduled'
                             THEN jsonb_build_object('kind', 'recheck', 'submission_id', s.id,
                                                     'attempt', s.attempts)
                             ELSE jsonb_build_object('kind', 'verify', 'submission_id', s.id)
                        END
                 FROM receipt_submissions s
                 WHERE ((s.status = 'queued' AND s.updated_at < now() - make_interval(secs => $1))
                        OR (s.status = 'processing'
                            AND s.updated_at < now() - make_interval(secs => $2))
                        OR (s.status = 'retry_scheduled'
                            AND s.next_attempt_at < now() - make_interval(secs => $1)))
                   AND NOT EXISTS (
                       SELECT 1 FROM outbox o
                       WHERE o.submission_id = s.id
                         AND (o.status IN ('pending', 'relayed', 'running')
                              OR (o.status = 'dead' AND o.updated_at >= s.updated_at)))",
                &[&QUEUED_BOUND.as_secs_f64(), &PROCESSING_BOUND.as_secs_f64()],
            )
            .await
            .context("sweeping unfinished receipt submissions")?;
        if inserted > 0 {
            tracing::warn!(
                submissions = inserted,
                "unfinished receipt submissions without a check got a new one"
            );
        }
        Ok(inserted as usize)
    }

    /// One sweep: leases, orphaned submissions, then whatever is due.
    pub async fn sweep(&self) -> anyhow::Result<()> {
        self.reclaim_expired().await?;
        self.sweep_submissions().await?;
        self.relay_due().await?;
        Ok(())
    }

    /// How long until the next pending row falls due (`None`: nothing pending).
    pub async fn next_due_in(&self) -> anyhow::Result<Option<Duration>> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT EXTRACT(EPOCH FROM (min(due_at) - now()))::FLOAT8
                 FROM outbox WHERE status = 'pending'",
                &[],
            )
            .await?;
        let seconds: Option<f64> = row.get(0);
        Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }

    /// LISTENs until `shutdown`; reconnects with back-off when the connection drops.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        while !*shutdown.borrow() {
            match self.listen(&mut shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), ?backoff, "outbox relay connection lost");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn listen(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Duration,
    ) -> anyhow::Result<()> {
        let mut listener =
            crate::pglisten::Listener::connect(&self.database_url, super::CHANNEL).await?;
        tracing::info!("outbox relay connected");
        *backoff = FIRST_BACKOFF;
        // At start-up and after a reconnect: what fell due or was announced meanwhile.
        self.sweep().await?;
        let mut last_sweep = Instant::now();
        loop {
            let until_sweep = SWEEP_EVERY.saturating_sub(last_sweep.elapsed());
            let until_due = self.next_due_in().await?.unwrap_or(until_sweep);
            tokio::select! {
                received = listener.next() => {
                    received?;
                    self.relay_due().await?;
                }
                _ = tokio::time::sleep(until_due.min(until_sweep)) => {
                    if last_sweep.elapsed() >= SWEEP_EVERY {
                        self.sweep().await?;
                        last_sweep = Instant::now();
                    } else {
                        self.relay_due().await?;
                    }
                }
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}
