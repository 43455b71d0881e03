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
    /// Ticket balance when the row was read. Read with the user so that `/start`, the
    /// most frequent update, needs no second query.
    pub tickets: i64,
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
            tickets: row.get("tickets"),
        }
    }

    pub fn display_name(&self) -> &str {
        self.full_name.as_deref().unwrap_or(&self.first_name)
    }
}

const COLUMNS: &str =
    "id, telegram_id, username, first_name, full_name, phone_masked, language, status, reachable,
     EXISTS (SELECT 1 FROM admin_users a
             WHERE a.bot_id = users.bot_id AND a.telegram_id = users.telegram_id
               AND a.disabled_at IS NULL) AS linked_admin,
     (SELECT COALESCE(SUM(t.amount), 0)::BIGINT FROM tickets t
      WHERE t.bot_id = users.bot_id AND t.user_id = users.id) AS tickets";

/// Counters shown in the shopper's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserStats {
    /// Every upload, whatever its outcome.
    pub uploads: i64,
    pub accepted_receipts: i64,
    pub tickets: i64,
    pub wins: i64,
}

/// The live dialogue states of a chat as stored (JSON), `None` when absent or expired;
/// `bot::states` writes them and parses them into its own types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SavedStates {
    pub shopper: Option<serde_json::Value>,
    pub admin: Option<serde_json::Value>,
}

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

    /// Creates the user on first contact and refreshes profile fields, together with the
    /// update's dedup claim in one round trip: the claim row in `processed_updates` and
    /// the user upsert commit together, and `None` means the
    /// update was already processed (a Telegram retry or a concurrent duplicate; the
    /// primary key settles the race, the loser waits for the winner's commit).
    ///
    /// The row is rewritten only when the profile changed or `last_seen_at` is a minute
    /// old: an update per message would make every menu tap a heap write and a dead
    /// tuple. An unchanged row is read from the statement's snapshot instead.
    pub async fn claim_and_touch(
        &self,
        update_id: i64,
        profile: &TelegramProfile<'_>,
    ) -> anyhow::Result<Option<User>> {
        Ok(self
            .claim_touch_and_read_states(update_id, profile)
            .await?
            .map(|(user, _)| user))
    }

    /// [`Users::claim_and_touch`], reading in the same statement the dialogue states of
    /// the sender's private chat (its id is the user's), so a dialogue step costs no
    /// round trip of its own to learn what the bot was waiting for.
    pub async fn claim_touch_and_read_states(
        &self,
        update_id: i64,
        profile: &TelegramProfile<'_>,
    ) -> anyhow::Result<Option<(User, SavedStates)>> {
        let client = self.pool.get().await?;
        let language = Lang::from_telegram(profile.language_code).code();
        let statement = client
            .prepare_cached(&format!(
                "WITH claim AS (
                     INSERT INTO processed_updates (bot_id, update_id) VALUES ($1, $8)
                     ON CONFLICT DO NOTHING RETURNING 1
                 ), touched AS (
                     INSERT INTO users (bot_id, telegram_id, username, first_name, last_name, language_code, language)
                     SELECT $1::BIGINT, $2::BIGINT, $3::TEXT, $4::TEXT, $5::TEXT, $6::TEXT, $7::TEXT
                     WHERE EXISTS (SELECT 1 FROM claim)
                     ON CONFLICT (bot_id, telegram_id) DO UPDATE SET
                         username = EXCLUDED.username,
                         first_name = EXCLUDED.first_name,
                         last_name = EXCLUDED.last_name,
                         language_code = EXCLUDED.language_code,
                         last_seen_at = now()
                     WHERE users.username IS DISTINCT FROM EXCLUDED.username
                        OR users.first_name IS DISTINCT FROM EXCLUDED.first_name
                        OR users.last_name IS DISTINCT FROM EXCLUDED.last_name
                        OR users.language_code IS DISTINCT FROM EXCLUDED.language_code
                        OR users.last_seen_at < now() - INTERVAL '1 minute'
                     RETURNING *
                 ), current AS (
                     SELECT * FROM touched
                     UNION ALL
                     SELECT * FROM users
                     WHERE bot_id = $1 AND telegram_id = $2
                       AND EXISTS (SELECT 1 FROM claim) AND NOT EXISTS (SELECT 1 FROM touched)
                 )
                 SELECT claim.claimed, {COLUMNS},
                     (SELECT d.state FROM dialogue_states d
                      WHERE d.bot_id = $1 AND d.chat_id = $2 AND d.flow = 'shopper'
                        AND d.expires_at > now()) AS shopper_state,
                     (SELECT d.state FROM dialogue_states d
                      WHERE d.bot_id = $1 AND d.chat_id = $2 AND d.flow = 'admin'
                        AND d.expires_at > now()) AS admin_state
                 FROM (SELECT EXISTS (SELECT 1 FROM claim) AS claimed) AS claim
                 LEFT JOIN current AS users ON TRUE"
            ))
            .await?;
        let row = client
            .query_one(
                &statement,
                &[
                    &self.bot_id,
                    &profile.telegram_id,
                    &profile.username,
                    &profile.first_name,
                    &profile.last_name,
                    &profile.language_code,
                    &language,
                    &update_id,
                ],
            )
            .await
            .context("claiming the update and upserting the user")?;
        if !row.get::<_, bool>("claimed") {
            return Ok(None);
        }
        if row.get::<_, Option<i64>>("id").is_none() {
            // The row was inserted by a concurrent update of the same brand-new user after
            // this statement's snapshot: fail, so the claim is released and Telegram
            // redelivers the update, which then sees the row.
            anyhow::bail!("the user row is not visible yet");
        }
        let states = SavedStates {
            shopper: row.get("shopper_state"),
            admin: row.get("admin_state"),
        };
        Ok(Some((User::from_row(&row), states)))
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

    /// Stores the sealed phone; with `register` the registration completes in the same
    /// statement, without it the user stays `registering` (registration still waits for
    /// the channel subscription).
    pub async fn save_phone(
        &self,
        user_id: i64,
        phone: &SealedPhone,
        register: bool,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET phone_ciphertext = $3, phone_hash = $4, phone_masked = $5,
                        status = CASE WHEN $6 THEN 'registered' ELSE status END,
                        registered_at = CASE WHEN $6 THEN COALESCE(registered_at, now())
                                             ELSE registered_at END
                 WHERE id = $1 AND bot_id = $2",
                &[
                    &user_id,
                    &self.bot_id,
                    &phone.ciphertext,
                    &phone.hash,
                    &phone.masked,
                    &register,
                ],
            )
            .await?;
        Ok(())
    }

    /// Completes a registration whose phone is already stored ([`Users::save_phone`]).
    pub async fn mark_registered(&self, user_id: i64) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET status = 'registered', registered_at = COALESCE(registered_at, now())
                 WHERE id = $1 AND bot_id = $2 AND status = 'registering' AND phone_hash IS NOT NULL",
                &[&user_id, &self.bot_id],
            )
            .await?;
        Ok(())
    }

    /// `/language`: the shopper's choice wins over Telegram's `language_code` from now on.
    pub async fn set_language(&self, user_id: i64, lang: Lang) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET language = $3 WHERE id = $1 AND bot_id = $2",
                &[&user_id, &self.bot_id, &lang.code()],
            )
            .await?;
        Ok(())
    }

    /// What the profile shows, in one round trip.
    pub async fn stats(&self, user_id: i64) -> anyhow::Result<UserStats> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT
                     (SELECT count(*) FROM receipt_submissions WHERE bot_id = $1 AND user_id = $2),
                     (SELECT count(*) FROM receipts WHERE bot_id = $1 AND user_id = $2 AND status = 'accepted'),
                     (SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets WHERE bot_id = $1 AND user_id = $2),
                     (SELECT count(*) FROM raffle_winners WHERE bot_id = $1 AND user_id = $2)",
            )
            .await?;
        let row = client
            .query_one(&statement, &[&self.bot_id, &user_id])
            .await?;
        Ok(UserStats {
            uploads: row.get(0),
            accepted_receipts: row.get(1),
            tickets: row.get(2),
            wins: row.get(3),
        })
    }

    /// A cancelled registration returns the user to `new` so /start begins again; a phone
    /// stored while waiting for the channel subscription is forgotten too.
    pub async fn reset_registration(&self, user_id: i64) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET status = 'new', full_name = NULL, phone_ciphertext = NULL,
                        phone_hash = NULL, phone_masked = NULL
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
        // Prepared once per connection: a plain query string costs an extra round trip
        // (parse) and a fresh plan on every call, and this runs on every /start.
        let statement = client
            .prepare_cached(
                "SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets WHERE bot_id = $1 AND user_id = $2",
            )
            .await?;
        let row = client
            .query_one(&statement, &[&self.bot_id, &user_id])
            .await?;
        Ok(row.get(0))
    }
}
