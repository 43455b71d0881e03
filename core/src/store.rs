//! Redis: counters and caches shared by every instance (upload limits, the send rate,
//! the quota pause), behind a circuit breaker so a dead Redis costs microseconds, not
//! seconds, per call. Nothing a dialogue needs to answer lives here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{AsyncCommands, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long one command may take by default (background work: the send rate, the
/// verifier). The webhook uses a shorter one ([`WEBHOOK_COMMAND_TIMEOUT`]).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// On the webhook a reply must not wait for a Redis that hangs: a local command takes
/// well under a millisecond, so this only fires when something is wrong.
pub const WEBHOOK_COMMAND_TIMEOUT: Duration = Duration::from_millis(100);

/// After a failure every command fails at once for this long; then one command probes.
pub const BREAKER_OPEN_FOR: Duration = Duration::from_secs(1);

/// Connecting is one attempt bounded by this; the breaker decides when to try again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// Every key starts with this, so several bots (and test runs) share one server.
    prefix: String,
    /// Shared by every clone: once one caller saw Redis fail, all fail fast.
    breaker: Arc<Breaker>,
    command_timeout: Duration,
}

impl Redis {
    /// Builds the client without waiting for Redis: a process started during a Redis
    /// outage still serves what needs no Redis, and connects when Redis is back.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        // No retries inside the manager: its back-off (up to seconds) would make every
        // command wait for it; the breaker below paces the attempts instead.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(DEFAULT_COMMAND_TIMEOUT))
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .context("setting up the Redis connection")?;
        let redis = Self {
            conn,
            prefix: prefix.to_owned(),
            breaker: Arc::new(Breaker::new()),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        };
        // Connect now, so the first update does not pay for it; a failure is not fatal,
        // and a Redis that hangs delays the start by half a second at most.
        let starting = redis.with_command_timeout(Duration::from_millis(500));
        if let Err(e) = starting.ping().await {
            tracing::warn!(error = %e, "Redis does not answer at start; running without it until it does");
        }
        Ok(redis)
    }

    /// The same connection and breaker, with another per-command time limit.
    pub fn with_command_timeout(&self, timeout: Duration) -> Self {
        Self {
            command_timeout: timeout,
            ..self.clone()
        }
    }

    pub fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    /// A connection for `redis::cmd(..).query_async`, scripts and pipelines: every
    /// command goes through the time limit and the breaker.
    pub fn connection(&self) -> RedisConnection {
        RedisConnection {
            conn: self.conn.clone(),
            breaker: self.breaker.clone(),
            timeout: self.command_timeout,
        }
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.connection();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        let mut conn = self.connection();
        let raw: Option<String> = conn.get(self.key(key)).await?;
        // A value written by an older version that no longer parses is treated as absent
        // rather than failing the caller.
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub async fn set_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl_secs: u64,
    ) -> anyhow::Result<()> {
        let mut conn = self.connection();
        let raw = serde_json::to_string(value)?;
        let _: () = conn.set_ex(self.key(key), raw, ttl_secs).await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.connection();
        let _: () = conn.del(self.key(key)).await?;
        Ok(())
    }
}

/// A Redis connection with a time limit per command and the shared circuit breaker.
#[derive(Clone)]
pub struct RedisConnection {
    conn: ConnectionManager,
    breaker: Arc<Breaker>,
    timeout: Duration,
}

// A refused connection is tried once more at once: the manager answers the first call
// after an outage with its last failed connection attempt and only then reconnects, and
// a refused request never reached Redis, so repeating it is safe and saves the shopper
// one breaker period.
impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let admission = self.breaker.admit()?;
            let mut result = limited(self.timeout, self.conn.req_packed_command(cmd)).await;
            if matches!(&result, Err(e) if e.is_connection_refusal()) {
                result = limited(self.timeout, self.conn.req_packed_command(cmd)).await;
            }
            self.breaker.record(admission, &result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let admission = self.breaker.admit()?;
            let mut result = limited(
                self.timeout,
                self.conn.req_packed_commands(pipeline, offset, count),
            )
            .await;
            if matches!(&result, Err(e) if e.is_connection_refusal()) {
                result = limited(
                    self.timeout,
                    self.conn.req_packed_commands(pipeline, offset, count),
                )
                .await;
            }
            self.breaker.record(admission, &result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

async fn limited<T>(limit: Duration, request: RedisFuture<'_, T>) -> RedisResult<T> {
    match tokio::time::timeout(limit, request).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("Redis did not answer within {} ms", limit.as_millis()),
        ))),
    }
}

/// Whether an error says Redis itself is unreachable (as opposed to an error reply such
/// as NOSCRIPT or WRONGTYPE, which proves Redis is up).
fn is_outage(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
}

/// Closed: commands pass. Open (after an outage error): they fail at once until
/// `open_until`; the first command after that is the probe, and the breaker stays open
/// for everyone else while it runs. A probe that answers closes the breaker, one that
/// fails opens it for another period, one that is dropped lets the next period probe.
struct Breaker {
    epoch: Instant,
    /// Milliseconds since `epoch` until which commands fail at once; 0 = closed.
    open_until: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Closed,
    Probe,
}

impl Breaker {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            open_until: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        // +1 keeps a real deadline from ever being the "closed" value 0.
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn admit(&self) -> RedisResult<Admission> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(Admission::Closed);
        }
        let now = self.now_ms();
        if now < until {
            return Err(open_error());
        }
        let next = now + millis(BREAKER_OPEN_FOR);
        match self
            .open_until
            .compare_exchange(until, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(Admission::Probe),
            Err(_) => Err(open_error()),
        }
    }

    fn record<T>(&self, admission: Admission, result: &RedisResult<T>) {
        match result {
            Err(e) if is_outage(e) => {
                let next = self.now_ms() + millis(BREAKER_OPEN_FOR);
                let before = self.open_until.swap(next, Ordering::AcqRel);
                if before == 0 {
                    tracing::warn!(error = %e, "Redis is unavailable: failing fast, probing once a second");
                }
            }
            // An answer, even an error reply, proves Redis is up.
            _ => {
                let open = self.open_until.load(Ordering::Acquire) != 0;
                if open && self.open_until.swap(0, Ordering::AcqRel) != 0 {
                    tracing::info!(probe = admission == Admission::Probe, "Redis answers again");
                }
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2)
}

fn open_error() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "Redis is unavailable (a recent command failed; tried again once a second)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> RedisResult<()> {
        Err(RedisError::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))
    }

    #[test]
    fn after_an_outage_error_commands_fail_at_once_until_one_probe_is_let_through() {
        let breaker = Breaker::new();
        assert_eq!(breaker.admit().ok(), Some(Admission::Closed));
        breaker.record(Admission::Closed, &refused());
        assert!(breaker.admit().is_err(), "open right after the failure");
        // Pretend the period is over.
        breaker.open_until.store(1, Ordering::Release);
        assert_eq!(breaker.admit().ok(), Some(Admission::Probe));
        assert!(breaker.admit().is_err(), "only one probe at a time");
        breaker.record(Admission::Probe, &Ok::<(), RedisError>(()));
        assert_eq!(breaker.admit().ok(), Some(Admission::Closed));
    }

    #[test]
    fn an_error_reply_proves_redis_is_up_and_does_not_open_the_breaker() {
        let breaker = Breaker::new();
        let reply: RedisResult<()> = Err(RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "WRONGTYPE",
        )));
        breaker.record(Admission::Closed, &reply);
        assert_eq!(breaker.admit().ok(), Some(Admission::Closed));
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_for_another_period() {
        let breaker = Breaker::new();
        breaker.record(Admission::Closed, &refused());
        breaker.open_until.store(1, Ordering::Release);
        assert_eq!(breaker.admit().ok(), Some(Admission::Probe));
        breaker.record(Admission::Probe, &refused());
        assert!(breaker.admit().is_err());
    }
}
