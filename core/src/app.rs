//! The composition root: connects the ports (Postgres, Redis, Telegram, ProverkaCheka,
//! queues) once per process (Lambda cold start or `promo serve`) and hands each
//! use-case its narrow dependencies ([`Bot`], [`Receipts`], [`Campaigns`]). Only
//! adapters (HTTP routes, queue workers, binaries) see what is built here; no use-case
//! does.
//!
//! Each function builds only what it runs, from its own settings: `connect_*` below
//! (the bridge never sees a bot token, the runner never a phone key). [`App::build`]
//! builds everything, for `promo serve` and the tests.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::bot::{Bot, BotSettings};
use crate::campaigns::bridge::Bridge;
use crate::campaigns::Campaigns;
#[cfg(feature = "http")]
use crate::config::TelegramWebhookSettings;
use crate::config::{
    AdminApiSettings, BotApiSettings, CampaignRunnerSettings, CampaignSettings,
    ListenBridgeSettings, ProverkaChekaSettings, QueueSettings, ReceiptVerifierSettings, Settings,
    StoreSettings,
};
use crate::db::{self, PgPool};
use crate::outbox::Sender;
use crate::pii::{PhoneKey, PrizeKey};
use crate::proverkacheka::ProverkaChekaClient;
use crate::queue::{InMemoryQueue, JobQueue, SqsQueue};
use crate::raffle::Raffles;
use crate::receipts::{ReceiptSettings, Receipts};
use crate::store::Redis;
use crate::telegram::TelegramClient;
use crate::texts::Texts;
use crate::uploads::Images;
use crate::users::Users;

pub use crate::config::SANDBOX_BOT_TOKEN;

/// Connections per process; the pool opens them only when needed.
const POOL_SIZE: usize = 16;

/// Everything, for `promo serve`, its chores and the tests.
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
    /// Sends outbox messages (the campaigns queue's `outbox_message` jobs).
    pub sender: Sender,
    /// The use-cases' narrow dependencies, built once from the ports above.
    pub bot: Bot,
    pub receipts: Receipts,
    pub campaigns: Campaigns,
    /// Where uploaded images keep their bytes (Postgres unless `UPLOADS_BUCKET` is set).
    pub images: Images,
}

impl App {
    /// Connects to Postgres and Redis and registers the bot row. Migrations are applied
    /// by `promo migrate` / `promo serve` and the deploy step, not by every Lambda.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let stores = Stores::connect(&settings.store, &settings.promo.name).await?;
        let telegram = telegram_client(&settings.bot_api)?;
        let queue = connect_queue(&settings.queues).await;
        let images = Images::connect(&settings.uploads, stores.pool.clone()).await;
        let sender = stores
            .sender(&telegram, settings.campaigns.broadcast_rate_per_second)
            .with_images(images.clone());
        // One copy for the bot, the verifier and the panel of this process, so a change
        // made in the panel is seen by all three at once.
        let promo = stores.live_promo(settings.promo.clone());
        let receipts = stores.receipts(
            &telegram,
            &queue,
            &sender,
            &promo,
            proverkacheka_client(&settings.proverkacheka)?,
            ReceiptSettings {
                admin_ids: settings.telegram.admin_ids.clone(),
            },
        );
        let campaigns = stores.campaigns(
            &telegram,
            &queue,
            &images,
            settings.campaigns.clone(),
            settings.prize_key.clone(),
        );
        let bot = stores.bot(
            &telegram,
            &queue,
            &sender,
            &promo,
            BotSettings {
                telegram: settings.telegram.clone(),
                phone_key: settings.phone_key.clone(),
                prize_key: settings.prize_key.clone(),
            },
        );
        Ok(App {
            bot,
            queue,
            sender,
            texts: stores.texts,
            users: stores.users,
            settings: Arc::new(settings),
            bot_id: stores.bot_id,
            pool: stores.pool,
            redis: stores.redis,
            telegram,
            receipts,
            campaigns,
            images,
        })
    }

    /// What `/health` reads.
    #[cfg(feature = "http")]
    pub fn health(&self) -> crate::health::Health {
        crate::health::Health {
            pool: self.pool.clone(),
            redis: self.redis.clone(),
            sandbox: self.settings.is_sandbox(),
        }
    }

    /// The admin API's context over the same pool and Redis (`promo serve`, tests).
    pub fn admin_api(&self) -> AdminApi {
        AdminApi {
            pool: self.pool.clone(),
            bot_id: self.bot_id,
            redis: self.redis.clone(),
            phone_key: self.settings.phone_key.clone(),
            prize_key: self.settings.prize_key.clone(),
            #[cfg(all(feature = "http", feature = "panel-users"))]
            public_records: Default::default(),
            admin: self.settings.admin.clone(),
            texts: self.texts.clone(),
            promo: self.bot.promo.clone(),
            images: self.images.clone(),
            test_chat: Some(self.bot.clone()),
        }
    }

    /// The bridge of `promo serve`, over the same pool and queues.
    pub fn bridge(&self) -> Bridge {
        Bridge {
            database_url: self.settings.store.database_url.expose_secret().to_owned(),
            pool: self.pool.clone(),
            queue: self.queue.clone(),
        }
    }
}

/// What `telegram-webhook` serves: the dialogue behind the webhook route, and `/health`.
#[cfg(feature = "http")]
#[derive(Clone)]
pub struct TelegramWebhook {
    pub bot: Bot,
    pub health: crate::health::Health,
}

#[cfg(feature = "http")]
pub async fn connect_telegram_webhook(
    settings: TelegramWebhookSettings,
) -> anyhow::Result<TelegramWebhook> {
    let stores = Stores::connect(&settings.store, &settings.promo.name).await?;
    let telegram = telegram_client(&settings.bot_api)?;
    let queue = connect_queue(&settings.queues).await;
    let health = stores.health();
    let sender = stores.sender(&telegram, settings.campaigns.broadcast_rate_per_second);
    let promo = stores.live_promo(settings.promo);
    let bot = stores.bot(
        &telegram,
        &queue,
        &sender,
        &promo,
        BotSettings {
            telegram: settings.telegram,
            phone_key: settings.phone_key,
            prize_key: settings.prize_key,
        },
    );
    Ok(TelegramWebhook { bot, health })
}

/// What `receipt-verifier` runs its jobs with.
pub async fn connect_receipt_verifier(
    settings: ReceiptVerifierSettings,
) -> anyhow::Result<Receipts> {
    let stores = Stores::connect(&settings.store, &settings.promo.name).await?;
    let telegram = telegram_client(&settings.bot_api)?;
    let queue = connect_queue(&settings.queues).await;
    let proverkacheka = proverkacheka_client(&settings.proverkacheka)?;
    let sender = stores.sender(&telegram, settings.campaigns.broadcast_rate_per_second);
    let promo = stores.live_promo(settings.promo);
    Ok(stores.receipts(
        &telegram,
        &queue,
        &sender,
        &promo,
        proverkacheka,
        ReceiptSettings {
            admin_ids: settings.admin_ids,
        },
    ))
}

/// What `campaign-runner` runs its jobs with.
pub async fn connect_campaign_runner(
    settings: CampaignRunnerSettings,
) -> anyhow::Result<Campaigns> {
    // The runner knows no promotion name; the bot row's title is written only by the
    // first process that registers the slug, and nothing reads it back.
    let title = settings.store.bot_slug.clone();
    let stores = Stores::connect(&settings.store, &title).await?;
    let telegram = telegram_client(&settings.bot_api)?;
    let queue = connect_queue(&settings.queues).await;
    let images = Images::connect(&settings.uploads, stores.pool.clone()).await;
    Ok(stores.campaigns(
        &telegram,
        &queue,
        &images,
        settings.campaigns,
        settings.prize_key,
    ))
}

/// Public draw records redone recently, by (bot, draw), with when. The admin API's
/// public route holds the lock while it redoes one, so a process redoes at most one
/// draw at a time however many anonymous readers ask at once.
#[cfg(all(feature = "http", feature = "panel-users"))]
#[derive(Clone, Default)]
pub struct PublicRecords(
    pub Arc<tokio::sync::Mutex<std::collections::HashMap<(i64, i64), CachedRecord>>>,
);

/// A public record and when it was redone.
#[cfg(all(feature = "http", feature = "panel-users"))]
pub type CachedRecord = (std::time::Instant, promo_api_types::panel::PublicDraw);

/// What `admin-api` serves with. It answers `/health` only so far; the session key and
/// the phone key are here for the endpoints to come, so the deploy already hands them
/// to this function and to no other.
#[derive(Clone)]
pub struct AdminApi {
    pub pool: PgPool,
    pub bot_id: i64,
    pub redis: Redis,
    pub phone_key: PhoneKey,
    /// Seals new raffles' seeds; opens winners' documents for owners.
    pub prize_key: PrizeKey,
    /// Public draw records redone recently (anyone may ask for them, no session).
    #[cfg(all(feature = "http", feature = "panel-users"))]
    pub public_records: PublicRecords,
    /// The session key and lifetimes.
    pub admin: crate::config::AdminSettings,
    /// Shopper texts, for the messages operators' decisions send.
    pub texts: Texts,
    /// The promotion's settings, which the panel reads and changes.
    pub promo: crate::promo::LivePromo,
    /// Where uploaded images keep their bytes.
    pub images: Images,
    /// The dialogue the test chat drives (its Telegram replaced per chat by the chat's
    /// transcript); `None` would answer the test chat's routes with a 503.
    pub test_chat: Option<Bot>,
}

impl AdminApi {
    #[cfg(feature = "http")]
    pub fn health(&self) -> crate::health::Health {
        crate::health::Health {
            pool: self.pool.clone(),
            redis: self.redis.clone(),
            sandbox: false,
        }
    }
}

pub async fn connect_admin_api(settings: AdminApiSettings) -> anyhow::Result<AdminApi> {
    let title = settings.store.bot_slug.clone();
    let stores = Stores::connect(&settings.store, &title).await?;
    let promo = stores.live_promo(settings.promo);
    let images = Images::connect(&settings.uploads, stores.pool.clone()).await;
    // The test chat's dialogue. No bot token here: its Telegram is always a test chat's
    // transcript (replaced per chat), which answers only test chats, so nothing it does
    // can reach a real one. No admin ids: a test shopper is never an admin.
    let transcript = TelegramClient::test_chat(crate::telegram::transcript::Transcript::files(
        stores.pool.clone(),
        stores.bot_id,
    ));
    let queue = connect_queue(&settings.queues).await;
    // Only the dialogue's own notices use it, and a test shopper's take no send slot.
    let sender = stores.sender(&transcript, 30);
    let test_chat = stores.bot(
        &transcript,
        &queue,
        &sender,
        &promo,
        BotSettings {
            telegram: crate::config::TelegramSettings {
                webhook_secret: secrecy::SecretString::from(String::new()),
                admin_ids: Vec::new(),
                reply_in_webhook_response: false,
            },
            phone_key: settings.phone_key.clone(),
            prize_key: settings.prize_key.clone(),
        },
    );
    Ok(AdminApi {
        pool: stores.pool,
        bot_id: stores.bot_id,
        redis: stores.redis,
        phone_key: settings.phone_key,
        prize_key: settings.prize_key,
        #[cfg(all(feature = "http", feature = "panel-users"))]
        public_records: Default::default(),
        admin: settings.admin,
        promo,
        texts: stores.texts,
        images,
        test_chat: Some(test_chat),
    })
}

/// What `listen-bridge` runs: every bot's due campaigns, so no bot row and no Redis.
pub async fn connect_listen_bridge(settings: ListenBridgeSettings) -> anyhow::Result<Bridge> {
    let database_url = settings.database_url.expose_secret().to_owned();
    let pool = db::connect(&database_url, POOL_SIZE)?;
    Ok(Bridge {
        database_url,
        pool,
        queue: connect_queue(&settings.queues).await,
    })
}

/// Postgres with the bot's row, and Redis under the bot's key prefix: what every
/// function but the bridge starts from.
struct Stores {
    pool: PgPool,
    bot_id: i64,
    redis: Redis,
    texts: Texts,
    users: Users,
}

impl Stores {
    async fn connect(store: &StoreSettings, title: &str) -> anyhow::Result<Stores> {
        let pool = db::connect(store.database_url.expose_secret(), POOL_SIZE)?;
        let bot_id = db::ensure_bot(&pool, &store.bot_slug, title)
            .await
            .context("the database is not ready: run `promo migrate`")?;
        let redis = Redis::connect(
            store.redis_url.expose_secret(),
            &format!("promo:{}", store.bot_slug),
        )
        .await?;
        Ok(Stores {
            texts: Texts::new(pool.clone(), bot_id),
            users: Users::new(pool.clone(), bot_id),
            pool,
            bot_id,
            redis,
        })
    }

    #[cfg(feature = "http")]
    fn health(&self) -> crate::health::Health {
        crate::health::Health {
            pool: self.pool.clone(),
            redis: self.redis.clone(),
            sandbox: false,
        }
    }

    /// Outbox messages at `rate` (the broadcasts' rate, or the safe unknown one).
    fn sender(&self, telegram: &TelegramClient, rate: u32) -> Sender {
        Sender::new(
            self.pool.clone(),
            self.bot_id,
            &self.redis,
            telegram.clone(),
            rate,
        )
    }

    fn live_promo(&self, defaults: crate::config::PromoSettings) -> crate::promo::LivePromo {
        crate::promo::LivePromo::new(defaults, self.pool.clone(), self.bot_id)
    }

    fn bot(
        &self,
        telegram: &TelegramClient,
        queue: &Arc<dyn JobQueue>,
        sender: &Sender,
        promo: &crate::promo::LivePromo,
        settings: BotSettings,
    ) -> Bot {
        Bot {
            pool: self.pool.clone(),
            bot_id: self.bot_id,
            // A dialogue step must not wait for a Redis that hangs.
            redis: self
                .redis
                .with_command_timeout(crate::store::WEBHOOK_COMMAND_TIMEOUT),
            telegram: telegram.clone(),
            texts: self.texts.clone(),
            users: self.users.clone(),
            queue: queue.clone(),
            sender: sender.clone(),
            settings: Arc::new(settings),
            promo: promo.clone(),
            stuck_claims: Default::default(),
        }
    }

    fn receipts(
        &self,
        telegram: &TelegramClient,
        queue: &Arc<dyn JobQueue>,
        sender: &Sender,
        promo: &crate::promo::LivePromo,
        proverkacheka: Option<ProverkaChekaClient>,
        settings: ReceiptSettings,
    ) -> Receipts {
        Receipts {
            pool: self.pool.clone(),
            bot_id: self.bot_id,
            redis: self.redis.clone(),
            telegram: telegram.clone(),
            texts: self.texts.clone(),
            users: self.users.clone(),
            proverkacheka,
            queue: queue.clone(),
            sender: sender.clone(),
            settings: Arc::new(settings),
            promo: promo.clone(),
        }
    }

    fn campaigns(
        &self,
        telegram: &TelegramClient,
        queue: &Arc<dyn JobQueue>,
        images: &Images,
        settings: CampaignSettings,
        prize_key: PrizeKey,
    ) -> Campaigns {
        let sending = Arc::new(settings);
        let sender = self
            .sender(telegram, sending.broadcast_rate_per_second)
            .with_images(images.clone());
        Campaigns {
            pool: self.pool.clone(),
            bot_id: self.bot_id,
            redis: self.redis.clone(),
            telegram: telegram.clone(),
            queue: queue.clone(),
            images: images.clone(),
            settings: sending.clone(),
            raffles: Raffles {
                pool: self.pool.clone(),
                bot_id: self.bot_id,
                redis: self.redis.clone(),
                telegram: telegram.clone(),
                texts: self.texts.clone(),
                users: self.users.clone(),
                settings: sending,
                sender,
                prize_key,
            },
        }
    }
}

fn telegram_client(settings: &BotApiSettings) -> anyhow::Result<TelegramClient> {
    TelegramClient::new(&settings.api_url, &settings.bot_token)
}

fn proverkacheka_client(
    settings: &ProverkaChekaSettings,
) -> anyhow::Result<Option<ProverkaChekaClient>> {
    let Some(token) = &settings.token else {
        return Ok(None);
    };
    let client = ProverkaChekaClient::new(&settings.api_url, token.clone(), settings.timeout)?;
    Ok(Some(client))
}

async fn connect_queue(queues: &QueueSettings) -> Arc<dyn JobQueue> {
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
