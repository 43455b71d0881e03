//! The bot's dependencies: what the dialogue and the admin commands get from the
//! composition root, and the update claim that makes each update count once.

use std::sync::Arc;

use crate::config::{PromoSettings, TelegramSettings};
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
    pub settings: Arc<BotSettings>,
}

/// The settings the dialogue reads.
#[derive(Debug, Clone)]
pub struct BotSettings {
    pub telegram: TelegramSettings,
    pub promo: PromoSettings,
    pub phone_key: PhoneKey,
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
