//! The application's shared dependencies, built once per process (Lambda cold start or
//! `promo serve`) and cloned cheaply into every handler.

use std::sync::Arc;

use anyhow::Context;

use crate::config::{Secret, Settings};
use crate::db::{self, PgPool};
use crate::proverkacheka::ProverkaChekaClient;
use crate::queue::{InMemoryQueue, JobQueue, SqsQueue};
use crate::store::Redis;
use crate::telegram::TelegramClient;
use crate::texts::Texts;
use crate::users::Users;

/// The token the sandbox's fake Bot API is addressed with.
pub const SANDBOX_BOT_TOKEN: &str = "100000:sandbox-token";

#[derive(Clone)]
pub struct App {
    pub settings: Arc<Settings>,
    pub bot_id: i64,
    pub pool: PgPool,
    pub redis: Redis,
    pub telegram: TelegramClient,
    pub texts: Texts,
    pub users: Users,
    /// `None` when no PROVERKA_CHEKA_TOKEN is configured: receipts cannot be verified.
    pub proverkacheka: Option<ProverkaChekaClient>,
    /// SQS when both queue URLs are configured, otherwise in-process queues.
    pub queue: Arc<dyn JobQueue>,
}

impl App {
    /// Connects to Postgres and Redis and registers the bot row. Migrations are applied
    /// by `promo migrate` / `promo serve` and the deploy step, not by every Lambda.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let pool = db::connect(settings.database_url.expose(), 16)?;
        let bot_id = db::ensure_bot(&pool, &settings.bot_slug, &settings.promo.name)
            .await
            .context("the database is not ready: run `promo migrate`")?;
        let redis = Redis::connect(
            settings.redis_url.expose(),
            &format!("promo:{}", settings.bot_slug),
        )
        .await?;
        let token = settings
            .telegram
            .bot_token
            .clone()
            .unwrap_or_else(|| Secret::new(SANDBOX_BOT_TOKEN));
        let telegram = TelegramClient::new(&settings.telegram.api_url, &token)?;
        let queue = build_queue(&settings).await;
        let proverkacheka = match &settings.proverkacheka.token {
            Some(token) => Some(ProverkaChekaClient::new(
                &settings.proverkacheka.api_url,
                token.expose().to_owned(),
                settings.proverkacheka.timeout,
            )?),
            None => None,
        };
        Ok(App {
            proverkacheka,
            queue,
            texts: Texts::new(pool.clone(), bot_id),
            users: Users::new(pool.clone(), bot_id),
            settings: Arc::new(settings),
            bot_id,
            pool,
            redis,
            telegram,
        })
    }

    /// Admins are listed in ADMIN_IDS or are panel users linked to their Telegram id.
    pub fn is_admin(&self, user: &crate::users::User) -> bool {
        user.linked_admin || self.settings.telegram.admin_ids.contains(&user.telegram_id)
    }

    /// Records `update_id` as processed; `false` when it already was (a Telegram retry
    /// or a concurrent duplicate: the primary key settles the race).
    pub async fn claim_update(&self, update_id: i64) -> anyhow::Result<bool> {
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                "INSERT INTO processed_updates (bot_id, update_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&self.bot_id, &update_id],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Forgets a claim whose processing failed, so Telegram's retry is processed.
    pub async fn release_update(&self, update_id: i64) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "DELETE FROM processed_updates WHERE bot_id = $1 AND update_id = $2",
                &[&self.bot_id, &update_id],
            )
            .await?;
        Ok(())
    }
}

async fn build_queue(settings: &Settings) -> Arc<dyn JobQueue> {
    let queues = &settings.queues;
    match (&queues.receipts_queue_url, &queues.campaigns_queue_url) {
        (Some(receipts), Some(campaigns)) => Arc::new(
            SqsQueue::connect(
                receipts.clone(),
                campaigns.clone(),
                queues.sqs_endpoint_url.as_deref(),
                &queues.aws_region,
            )
            .await,
        ),
        _ => Arc::new(InMemoryQueue::new()),
    }
}
