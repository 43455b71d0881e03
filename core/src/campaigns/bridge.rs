//! listen-bridge: relays due campaigns from Postgres NOTIFY to the campaigns queue.
//!
//! A notification is only a hint: the relay claims the row (`relayed_at`) in one UPDATE,
//! so two bridges never relay one campaign twice, and a periodic sweep catches whatever a
//! lost notification (disconnect, restart) would have announced. Twice a second (and at
//! start-up) the bridge also re-enqueues running campaigns whose lease has lapsed: their
//! runner died and its job is gone (a killed `promo serve` loses its in-process queue).
//! The outbox relay ([`crate::outbox::relay`]) runs beside it in the same process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;

use crate::db::PgPool;
use crate::jobs::CampaignJob;
use crate::queue::{JobQueue, QueueName};

pub const CHANNEL: &str = "campaigns_due";
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// A relayed campaign not picked up for this long has lost its job.
const STALLED_AFTER: Duration = Duration::from_secs(120);
/// How often running campaigns are checked for a lapsed lease: one cheap indexed query.
const RESUME_EVERY: Duration = Duration::from_millis(500);
/// How long a re-enqueued campaign is left to its new job before it counts as lost again.
const PICKUP: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Bridge {
    pub database_url: String,
    pub pool: PgPool,
    pub queue: Arc<dyn JobQueue>,
}

impl Bridge {
    /// Claims every due, unrelayed campaign and enqueues it. Returns how many were relayed.
    pub async fn relay_due(&self) -> anyhow::Result<usize> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "UPDATE campaigns SET relayed_at = now(), relay_count = relay_count + 1
                 WHERE id IN (
                     SELECT id FROM campaigns
                     WHERE status = 'scheduled' AND relayed_at IS NULL
                       AND (scheduled_for IS NULL OR scheduled_for <= now())
                     ORDER BY scheduled_for NULLS FIRST, id
                     FOR UPDATE SKIP LOCKED
                 )
                 RETURNING id, COALESCE(scheduled_for, created_at)",
                &[],
            )
            .await
            .context("claiming due campaigns")?;
        self.enqueue(&client, &rows, "campaign relayed").await?;
        Ok(rows.len())
    }

    /// Re-enqueues campaigns whose job got lost: relayed but never picked up, or running
    /// with a lapsed lease (no live runner and no continuation on its way: the runner died
    /// and the queue message is gone). The claim gives the campaign a lease of [`PICKUP`]
    /// in the same UPDATE, so two bridges (or two sweeps) enqueue it once.
    pub async fn relay_stalled(&self) -> anyhow::Result<usize> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "UPDATE campaigns SET relayed_at = now(), relay_count = relay_count + 1,
                     lease_until = CASE WHEN status = 'running'
                                        THEN now() + make_interval(secs => $3)
                                        ELSE lease_until END
                 WHERE id IN (
                     SELECT id FROM campaigns
                     WHERE (status = 'scheduled' AND relayed_at < now() - make_interval(secs => $1))
                        OR (status = 'running'
                            AND COALESCE(lease_until,
                                         COALESCE(heartbeat_at, started_at, relayed_at)
                                             + make_interval(secs => $2)) < now())
                     FOR UPDATE SKIP LOCKED
                 )
                 RETURNING id, COALESCE(scheduled_for, created_at)",
                &[
                    &STALLED_AFTER.as_secs_f64(),
                    &super::runner::LEASE.as_secs_f64(),
                    &PICKUP.as_secs_f64(),
                ],
            )
            .await
            .context("finding stalled campaigns")?;
        self.enqueue(&client, &rows, "stalled campaign re-enqueued")
            .await?;
        Ok(rows.len())
    }

    async fn enqueue(
        &self,
        client: &crate::db::Connection,
        rows: &[tokio_postgres::Row],
        what: &'static str,
    ) -> anyhow::Result<()> {
        for row in rows {
            let campaign_id: i64 = row.get(0);
            let body = serde_json::to_string(&CampaignJob::Run { campaign_id })?;
            if let Err(e) = self
                .queue
                .send(QueueName::Campaigns, body, Duration::ZERO)
                .await
            {
                // Un-claim so the next sweep tries again.
                client
                    .execute(
                        "UPDATE campaigns SET relayed_at = NULL WHERE id = $1 AND status = 'scheduled'",
                        &[&campaign_id],
                    )
                    .await?;
                return Err(e).context("enqueueing a campaign");
            }
            let due: chrono::DateTime<chrono::Utc> = row.get(1);
            let latency_ms = (chrono::Utc::now() - due).num_milliseconds().max(0);
            tracing::info!(campaign_id, latency_ms, "{what}");
        }
        Ok(())
    }

    /// How long until the next scheduled campaign is due (`None`: nothing scheduled).
    pub async fn next_due_in(&self) -> anyhow::Result<Option<Duration>> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT EXTRACT(EPOCH FROM (min(scheduled_for) - now()))::FLOAT8
                 FROM campaigns
                 WHERE status = 'scheduled' AND relayed_at IS NULL AND scheduled_for > now()",
                &[],
            )
            .await?;
        let seconds: Option<f64> = row.get(0);
        Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }

    async fn sweep(&self) -> anyhow::Result<()> {
        self.relay_due().await?;
        self.relay_stalled().await?;
        // The bridge is the one long-running process of a deployment, so it also keeps
        // the webhook's dedup table and the dialogue states bounded.
        let client = self.pool.get().await?;
        let purged =
            crate::db::purge_processed_updates(&client, crate::db::UPDATE_REDELIVERY_WINDOW)
                .await?;
        if purged > 0 {
            tracing::debug!(purged, "old processed update ids forgotten");
        }
        let expired = crate::db::purge_expired_dialogue_states(&client).await?;
        if expired > 0 {
            tracing::debug!(expired, "expired dialogue states forgotten");
        }
        drop(client);
        // Winners past their claim deadline make way for their reserves; documents past
        // their retention are deleted.
        super::claims::sweep(&self.pool).await;
        Ok(())
    }

    /// Runs the campaign relay ([`Bridge::run_campaigns`]) and the outbox relay
    /// ([`crate::outbox::Relay`], its own LISTEN session) side by side until `shutdown`.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        let outbox = crate::outbox::Relay {
            database_url: self.database_url.clone(),
            pool: self.pool.clone(),
            queue: self.queue.clone(),
        };
        tokio::join!(self.run_campaigns(shutdown.clone()), outbox.run(shutdown));
    }

    /// LISTENs until `shutdown`, relaying on every notification, when the next scheduled
    /// campaign falls due, and on every sweep; reconnects with backoff when the
    /// connection drops.
    pub async fn run_campaigns(&self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        while !*shutdown.borrow() {
            match self.listen(&mut shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), ?backoff, "bridge connection lost");
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
        let mut listener = crate::pglisten::Listener::connect(&self.database_url, CHANNEL).await?;
        tracing::info!("listen-bridge connected");
        *backoff = FIRST_BACKOFF;
        // Sweep right away: notifications sent while we were away are gone.
        self.sweep().await?;
        let mut last_sweep = Instant::now();
        let mut last_resume = Instant::now();
        loop {
            if last_resume.elapsed() >= RESUME_EVERY {
                self.relay_stalled().await?;
                last_resume = Instant::now();
            }
            let until_resume = RESUME_EVERY.saturating_sub(last_resume.elapsed());
            let until_sweep = SWEEP_EVERY
                .saturating_sub(last_sweep.elapsed())
                .min(until_resume);
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
