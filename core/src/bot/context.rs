//! The bot's dependencies: what the dialogue and the admin commands get from the
//! composition root, and the update claim that makes each update count once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::config::TelegramSettings;
use crate::db::PgPool;
use crate::pii::PhoneKey;
use crate::queue::JobQueue;
use crate::store::Redis;
use crate::telegram::TelegramClient;
use crate::texts::Texts;
use crate::users::Users;

/// What the dialogue and the admin commands need: the bot's own settings and ports,
/// not the whole process.
#[derive(Clone)]
pub struct Bot {
    pub pool: PgPool,
    pub bot_id: i64,
    pub redis: Redis,
    pub telegram: TelegramClient,
    pub texts: Texts,
    pub users: Users,
    pub queue: Arc<dyn JobQueue>,
    /// Sends the outbox messages the dialogue writes (the manual-ticket notice).
    pub sender: crate::outbox::Sender,
    pub settings: Arc<BotSettings>,
    /// The promotion's settings as operators set them (env defaults + the panel's changes).
    pub promo: crate::promo::LivePromo,
    pub stuck_claims: StuckClaims,
}

/// Update ids whose processing failed and whose claim could not be released either
/// (Postgres went away mid-update). Telegram's redelivery of one of them must be
/// processed, not dropped as a repeat, so its claim is released first. Per process: a
/// redelivery that reaches another instance still finds the claim (see BENCHMARKS.md,
/// "Known gap").
#[derive(Clone, Default)]
pub struct StuckClaims(Arc<Mutex<HashSet<i64>>>);

/// Enough for every update of a long outage; beyond it the oldest kind of loss returns.
const STUCK_CLAIMS_MAX: usize = 10_000;

impl StuckClaims {
    fn insert(&self, update_id: i64) {
        if let Ok(mut ids) = self.0.lock() {
            if ids.len() < STUCK_CLAIMS_MAX {
                ids.insert(update_id);
            }
        }
    }

    fn contains(&self, update_id: i64) -> bool {
        self.0.lock().is_ok_and(|ids| ids.contains(&update_id))
    }

    fn remove(&self, update_id: i64) {
        if let Ok(mut ids) = self.0.lock() {
            ids.remove(&update_id);
        }
    }
}

/// The settings the dialogue reads.
#[derive(Debug, Clone)]
pub struct BotSettings {
    pub telegram: TelegramSettings,
    pub phone_key: PhoneKey,
    /// Seals raffle seeds (bot admins create raffles) and winners' documents.
    pub prize_key: crate::pii::PrizeKey,
}

impl Bot {
    /// Admins are listed in ADMIN_IDS or are panel users linked to their Telegram id.
    pub fn is_admin(&self, user: &crate::users::User) -> bool {
        user.linked_admin || self.settings.telegram.admin_ids.contains(&user.telegram_id)
    }

    /// The dialogue states of this bot's chats.
    pub fn states(&self) -> super::states::DialogueStates {
        super::states::DialogueStates::new(self.pool.clone(), self.bot_id)
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

    /// Forgets a claim whose processing failed, so Telegram's retry is processed. When
    /// that fails too, the id is remembered and released on its redelivery.
    pub async fn release_update(&self, update_id: i64) -> anyhow::Result<()> {
        let released = self.delete_claim(update_id).await;
        if released.is_err() {
            self.stuck_claims.insert(update_id);
        }
        released
    }

    /// Before processing a delivery: if an earlier attempt of this update failed and left
    /// its claim behind, release it now, so this delivery is processed.
    pub async fn release_if_stuck(&self, update_id: i64) -> anyhow::Result<()> {
        if self.stuck_claims.contains(update_id) {
            self.delete_claim(update_id).await?;
            self.stuck_claims.remove(update_id);
            tracing::info!(update_id, "released the claim a failed attempt left behind");
        }
        Ok(())
    }

    async fn delete_claim(&self, update_id: i64) -> anyhow::Result<()> {
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
