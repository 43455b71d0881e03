//! Redis: short-lived state that must survive Lambda cold starts (dialogue state per
//! chat) and counters shared by every instance.

use anyhow::Context;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long an abandoned dialogue is remembered.
pub const DIALOGUE_TTL_SECS: u64 = 7 * 24 * 3600;

#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// Every key starts with this, so several bots (and test runs) share one server.
    prefix: String,
}

impl Redis {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)))
            // The backoff is uncapped by default: after a 5 s outage the next attempt came
            // ~3 s late. Capped, commands work again within half a second of Redis.
            .set_max_delay(std::time::Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .context("connecting to Redis")?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    pub fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = conn.get(self.key(key)).await?;
        // A value written by an older version that no longer parses is treated as absent
        // rather than failing the update.
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub async fn set_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl_secs: u64,
    ) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let raw = serde_json::to_string(value)?;
        let _: () = conn.set_ex(self.key(key), raw, ttl_secs).await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.key(key)).await?;
        Ok(())
    }
}
