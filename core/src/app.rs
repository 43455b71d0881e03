//! The composition root: connects the ports (Postgres, Redis, Telegram, ProverkaCheka,
//! queues) once per process (Lambda cold start or `promo serve`) and hands each
//! use-case its narrow dependencies ([`Bot`], [`Receipts`], [`Campaigns`]). Only
//! adapters (HTTP routes, queue workers, binaries) see [`App`]; no use-case does.

use std::sync::Arc;

use anyhow::Context;

use crate::bot::{Bot, BotSettings};
use crate::campaigns::Campaigns;
use crate::config::{Secret, Settings};
use crate::db::{self, PgPool};
use crate::proverkacheka::ProverkaChekaClient;
use crate::queue::{InMemoryQueue, JobQueue, SqsQueue};
use crate::raffle::Raffles;
use crate::receipts::{ReceiptSettings, Receipts};
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
    /// SQS when both queue URLs are configured, otherwise in-process queues.
    pub queue: Arc<dyn JobQueue>,
    /// The use-cases' narrow dependencies, built once from the ports above.
    pub bot: Bot,
    pub receipts: Receipts,
    pub campaigns: Campaigns,
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
        let texts = Texts::new(pool.clone(), bot_id);
        let users = Users::new(pool.clone(), bot_id);
        let receipts = Receipts {
            pool: pool.clone(),
            bot_id,
            redis: redis.clone(),
            telegram: telegram.clone(),
            texts: texts.clone(),
            users: users.clone(),
            proverkacheka,
            queue: queue.clone(),
            settings: Arc::new(ReceiptSettings {
                promo: settings.promo.clone(),
                admin_ids: settings.telegram.admin_ids.clone(),
            }),
        };
        let sending = Arc::new(settings.campaigns.clone());
        let campaigns = Campaigns {
            pool: pool.clone(),
            bot_id,
            redis: redis.clone(),
            telegram: telegram.clone(),
            queue: queue.clone(),
            settings: sending.clone(),
            raffles: Raffles {
                pool: pool.clone(),
                bot_id,
                redis: redis.clone(),
                telegram: telegram.clone(),
                texts: texts.clone(),
                users: users.clone(),
                settings: sending,
            },
        };
        let bot = Bot {
            pool: pool.clone(),
            bot_id,
            redis: redis.clone(),
            telegram: telegram.clone(),
            texts: texts.clone(),
            users: users.clone(),
            queue: queue.clone(),
            settings: Arc::new(BotSettings {
                telegram: settings.telegram.clone(),
                promo: settings.promo.clone(),
                phone_key: settings.phone_key.clone(),
            }),
        };
        Ok(App {
            bot,
            queue,
            texts,
            users,
            settings: Arc::new(settings),
            bot_id,
            pool,
            redis,
            telegram,
            receipts,
            campaigns,
        })
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
