//! Shoppers: the user row, registration and reachability.

use anyhow::Context;
use tokio_postgres::Row;

use crate::db::PgPool;
use crate::pii::SealedPhone;
use crate::texts::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    New,
    Registering,
    Registered,
    Banned,
}

impl UserStatus {
    fn from_db(s: &str) -> Self {
        match s {
            "registering" => UserStatus::Registering,
            "registered" => UserStatus::Registered,
            "banned" => UserStatus::Banned,
            _ => UserStatus::New,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub telegram_id: i64,
    pub username: Option<String>,
    pub first_name: String,
    pub full_name: Option<String>,
    pub phone_masked: Option<String>,
    pub lang: Lang,
    pub status: UserStatus,
    pub reachable: bool,
    /// A panel user is linked to this Telegram account (admin menu in the bot).
    pub linked_admin: bool,
}

impl User {
    fn from_row(row: &Row) -> Self {
        User {
            id: row.get("id"),
            telegram_id: row.get("telegram_id"),
            username: row.get("username"),
            first_name: row.get("first_name"),
            full_name: row.get("full_name"),
            phone_masked: row.get("phone_masked"),
            lang: Lang::from_code(row.get("language")).unwrap_or(Lang::Ru),
            status: UserStatus::from_db(row.get("status")),
            reachable: row.get("reachable"),
            linked_admin: row.get("linked_admin"),
        }
    }

    pub fn display_name(&self) -> &str {
        self.full_name.as_deref().unwrap_or(&self.first_name)
    }
}

const COLUMNS: &str = "id, telegram_id, username, first_name, full_name, phone_masked, language, status, reachable,
     EXISTS (SELECT 1 FROM admin_users a
             WHERE a.bot_id = users.bot_id AND a.telegram_id = users.telegram_id
               AND a.disabled_at IS NULL) AS linked_admin";

/// What Telegram tells us about the sender of an update.
#[derive(Debug, Clone)]
pub struct TelegramProfile<'a> {
    pub telegram_id: i64,
    pub username: Option<&'a str>,
    pub first_name: &'a str,
    pub last_name: Option<&'a str>,
    pub language_code: Option<&'a str>,
}

#[derive(Clone)]
pub struct Users {
    pool: PgPool,
    bot_id: i64,
}

impl Users {
    pub fn new(pool: PgPool, bot_id: i64) -> Self {
        Self { pool, bot_id }
    }

    /// Creates the user on first contact and refreshes profile fields on every update,
    /// in one statement. Contact also proves the user can be reached again.
    pub async fn touch(&self, profile: &TelegramProfile<'_>) -> anyhow::Result<User> {
        let client = self.pool.get().await?;
        let language = Lang::from_telegram(profile.language_code).code();
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO users (bot_id, telegram_id, username, first_name, last_name, language_code, language)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (bot_id, telegram_id) DO UPDATE SET
                         username = EXCLUDED.username,
                         first_name = EXCLUDED.first_name,
                         last_name = EXCLUDED.last_name,
                         language_code = EXCLUDED.language_code,
                         last_seen_at = now()
                     RETURNING {COLUMNS}"
                ),
                &[
                    &self.bot_id,
                    &profile.telegram_id,
                    &profile.username,
                    &profile.first_name,
                    &profile.last_name,
                    &profile.language_code,
                    &language,
                ],
            )
            .await
            .context("upserting the user")?;
        Ok(User::from_row(&row))
    }

    pub async fn find_by_telegram_id(&self, telegram_id: i64) -> anyhow::Result<Option<User>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE bot_id = $1 AND telegram_id = $2"),
                &[&self.bot_id, &telegram_id],
            )
            .await?;
        Ok(row.as_ref().map(User::from_row))
    }

    pub async fn start_registration(&self, user_id: i64) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET status = 'registering'
                 WHERE id = $1 AND bot_id = $2 AND status = 'new'",
                &[&user_id, &self.bot_id],
            )
            .await?;
        Ok(())
    }

    pub async fn set_full_name(&self, user_id: i64, full_name: &str) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET full_name = $3 WHERE id = $1 AND bot_id = $2",
                &[&user_id, &self.bot_id, &full_name],
            )
            .await?;
        Ok(())
    }

    pub async fn complete_registration(
        &self,
        user_id: i64,
        phone: &SealedPhone,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET phone_ciphertext = $3, phone_hash = $4, phone_masked = $5,
                        status = 'registered', registered_at = COALESCE(registered_at, now())
                 WHERE id = $1 AND bot_id = $2",
                &[
                    &user_id,
                    &self.bot_id,
                    &phone.ciphertext,
                    &phone.hash,
                    &phone.masked,
                ],
            )
            .await?;
        Ok(())
    }

    /// A cancelled registration returns the user to `new` so /start begins again.
    pub async fn reset_registration(&self, user_id: i64) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET status = 'new', full_name = NULL
                 WHERE id = $1 AND bot_id = $2 AND status = 'registering'",
                &[&user_id, &self.bot_id],
            )
            .await?;
        Ok(())
    }

    /// `my_chat_member` kicked / member, or a 403 on send.
    pub async fn set_reachable(&self, telegram_id: i64, reachable: bool) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET reachable = $3,
                        unreachable_at = CASE WHEN $3 THEN NULL ELSE now() END
                 WHERE bot_id = $1 AND telegram_id = $2 AND reachable <> $3",
                &[&self.bot_id, &telegram_id, &reachable],
            )
            .await?;
        Ok(())
    }

    pub async fn ticket_count(&self, user_id: i64) -> anyhow::Result<i64> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets WHERE bot_id = $1 AND user_id = $2",
                &[&self.bot_id, &user_id],
            )
            .await?;
        Ok(row.get(0))
    }
}
