//! listen-bridge: relays due campaigns from Postgres NOTIFY to the campaigns queue.
//!
//! A notification is only a hint: the relay claims the row (`relayed_at`) in one UPDATE,
//! so two bridges never relay one campaign twice, and a periodic sweep catches whatever a
//! lost notification (disconnect, restart) would have announced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::db::PgPool;
use crate::jobs::CampaignJob;
use crate::queue::{JobQueue, QueueName};

pub const CHANNEL: &str = "campaigns_due";
const SWEEP_EVERY: Duration = Duration::from_secs(30);
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
                 RETURNING id, created_at",
                &[],
            )
            .await
            .context("claiming due campaigns")?;
        for row in &rows {
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
                        "UPDATE campaigns SET relayed_at = NULL WHERE id = $1",
                        &[&campaign_id],
                    )
                    .await?;
                return Err(e).context("enqueueing a due campaign");
            }
            let created: chrono::DateTime<chrono::Utc> = row.get(1);
            let latency_ms = (chrono::Utc::now() - created).num_milliseconds();
            tracing::info!(campaign_id, latency_ms, "campaign relayed");
        }
        Ok(rows.len())
    }

    /// LISTENs until `shutdown`, relaying on every notification and every sweep tick;
    /// reconnects with backoff when the connection drops.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        while !*shutdown.borrow() {
            match self.listen(&mut shutdown).await {
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

    async fn listen(&self, shutdown: &mut watch::Receiver<bool>) -> anyhow::Result<()> {
        let (client, mut connection) = tokio_postgres::connect(&self.database_url, NoTls)
            .await
            .context("connecting the LISTEN session")?;
        let (tx, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        tracing::info!("listen-bridge connected");
        // Sweep right away: notifications sent while we were away are gone.
        self.relay_due().await?;
        let mut last_sweep = Instant::now();
        loop {
            let until_sweep = SWEEP_EVERY.saturating_sub(last_sweep.elapsed());
            tokio::select! {
                received = notifications.recv() => {
                    if received.is_none() {
                        let reason = match driver.await {
                            Ok(Err(e)) => e.to_string(),
                            _ => "connection closed".into(),
                        };
                        anyhow::bail!("LISTEN connection ended: {reason}");
                    }
                    self.relay_due().await?;
                }
                _ = tokio::time::sleep(until_sweep) => {
                    self.relay_due().await?;
                    last_sweep = Instant::now();
                }
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}
