//! Dialogue state per chat in Postgres (`dialogue_states`), the one writer of that table:
//! what the shopper dialogue and an admin flow are waiting for. Kept out of Redis so a
//! Redis outage leaves every dialogue step working.
//!
//! The webhook reads both flows in the statement that claims the update
//! (`users::Users::claim_touch_and_read_states`); this module writes them, and reads
//! them where no claim came first (an admin's inline-button tap).

use std::time::Duration;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::PgPool;

/// Which conversation of a chat a state belongs to; the two never overwrite each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Shopper,
    Admin,
}

impl Flow {
    fn as_str(self) -> &'static str {
        match self {
            Flow::Shopper => "shopper",
            Flow::Admin => "admin",
        }
    }

    /// How long an abandoned step is remembered: a shopper may come back to a half-done
    /// registration days later; an unfinished admin flow is stale by the next day.
    pub fn ttl(self) -> Duration {
        match self {
            Flow::Shopper => Duration::from_secs(7 * 24 * 3600),
            Flow::Admin => Duration::from_secs(24 * 3600),
        }
    }
}

/// A stored state that no longer parses (written by an older version) is treated as
/// absent rather than failing the update.
pub fn parse<T: DeserializeOwned>(raw: Option<serde_json::Value>) -> Option<T> {
    raw.and_then(|value| serde_json::from_value(value).ok())
}

#[derive(Clone)]
pub struct DialogueStates {
    pool: PgPool,
    bot_id: i64,
}

impl DialogueStates {
    pub fn new(pool: PgPool, bot_id: i64) -> Self {
        Self { pool, bot_id }
    }

    /// The chat's live state of `flow`, if any.
    pub async fn load<T: DeserializeOwned>(
        &self,
        flow: Flow,
        chat_id: i64,
    ) -> anyhow::Result<Option<T>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT state FROM dialogue_states
                 WHERE bot_id = $1 AND chat_id = $2 AND flow = $3 AND expires_at > now()",
            )
            .await?;
        let row = client
            .query_opt(&statement, &[&self.bot_id, &chat_id, &flow.as_str()])
            .await
            .context("reading the dialogue state")?;
        Ok(parse(row.map(|row| row.get(0))))
    }

    /// Replaces the chat's state of `flow`, remembered for [`Flow::ttl`].
    pub async fn save<T: Serialize>(
        &self,
        flow: Flow,
        chat_id: i64,
        state: &T,
    ) -> anyhow::Result<()> {
        let state = serde_json::to_value(state)?;
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO dialogue_states (bot_id, chat_id, flow, state, expires_at)
                 VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                 ON CONFLICT (bot_id, chat_id, flow) DO UPDATE
                 SET state = EXCLUDED.state, expires_at = EXCLUDED.expires_at",
            )
            .await?;
        client
            .execute(
                &statement,
                &[
                    &self.bot_id,
                    &chat_id,
                    &flow.as_str(),
                    &state,
                    &flow.ttl().as_secs_f64(),
                ],
            )
            .await
            .context("saving the dialogue state")?;
        Ok(())
    }

    /// Forgets the chat's state of `flow`.
    pub async fn clear(&self, flow: Flow, chat_id: i64) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "DELETE FROM dialogue_states WHERE bot_id = $1 AND chat_id = $2 AND flow = $3",
            )
            .await?;
        client
            .execute(&statement, &[&self.bot_id, &chat_id, &flow.as_str()])
            .await
            .context("clearing the dialogue state")?;
        Ok(())
    }

    /// Removes and returns the state in one statement, so of two concurrent
    /// confirmations only one finds it (the row lock settles the race) and commits.
    pub async fn take<T: DeserializeOwned>(
        &self,
        flow: Flow,
        chat_id: i64,
    ) -> anyhow::Result<Option<T>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "DELETE FROM dialogue_states WHERE bot_id = $1 AND chat_id = $2 AND flow = $3
                 RETURNING CASE WHEN expires_at > now() THEN state END",
            )
            .await?;
        let row = client
            .query_opt(&statement, &[&self.bot_id, &chat_id, &flow.as_str()])
            .await
            .context("taking the dialogue state")?;
        Ok(parse(row.and_then(|row| row.get(0))))
    }
}
