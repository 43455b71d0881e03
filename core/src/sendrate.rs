//! The global Telegram send rate, shared through Redis by every runner of one bot.
//!
//! One Lua script decides each send atomically, on Redis's clock, so any number of runners
//! (Lambdas, the local binary) together stay under the limit:
//!
//! 1. a global pause (set from a 429's `retry_after`) holds everyone back, and for a
//!    minute after it every interval is a quarter longer (Telegram's limits are adaptive:
//!    the rate that drew a 429 is likely to draw another);
//! 2. a chat that got a message less than a second ago waits (Telegram's ~1 msg/s per chat);
//! 3. a GCRA scheduler (a token bucket of capacity one with continuous refill) spaces sends
//!    by a fixed interval.
//!
//! The interval is `(1 s + TOLERANCE + JITTER) / rate`, not `1 s / rate`: the tolerance lets
//! a runner that woke up a little late take its slot without pushing the whole schedule
//! back (which would cost a few per cent of the rate), and the jitter margin absorbs the
//! variation of the path from the grant to Telegram's front door. Together they keep every
//! 1-second window at or under the limit while the achieved rate stays within 1.5 % of it.

use std::time::Duration;

use anyhow::Context;

use crate::store::Redis;

/// How early a runner may take its slot; covers timer and scheduling lateness.
const TOLERANCE: Duration = Duration::from_millis(3);
/// Margin for the variation of the time from a grant to the request reaching Telegram
/// (task scheduling, connection pool, network). With the tolerance it costs 1.3 % of the
/// configured rate; 5 ms proved too little on a loaded two-core machine.
const JITTER: Duration = Duration::from_millis(10);
/// Telegram's per-chat guidance: about one message per second.
pub const PER_CHAT_INTERVAL: Duration = Duration::from_secs(1);
/// How long sends stay slowed down after a 429.
pub const SLOWDOWN_AFTER_429: Duration = Duration::from_secs(60);

/// KEYS: schedule, pause, chat, slowdown, priority flag. ARGV: interval µs, tolerance µs,
/// chat interval ms, '1' for a priority request.
/// Returns `{reason, wait_us}`: reason 0 granted, 1 paused, 2 chat busy, 3 rate.
///
/// Priority (outbox messages: receipt results, notices): a priority request that has to
/// wait for the schedule or a pause raises a short-lived flag; while it stands, ordinary
/// requests (broadcasts) wait, so the next slot goes to the priority request. Both take
/// their slot from the one schedule, so the global rate holds whoever wins.
const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local priority = ARGV[4] == '1'
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  if priority then redis.call('SET', KEYS[5], '1', 'PX', paused + 200) end
  return {1, paused * 1000}
end
local chat = redis.call('PTTL', KEYS[3])
if chat > 0 then return {2, chat * 1000} end
if not priority then
  local waiting = redis.call('PTTL', KEYS[5])
  if waiting > 0 then return {3, math.min(waiting, 20) * 1000} end
end
local interval = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[4]) == 1 then interval = math.floor(interval * 5 / 4) end
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
if tat - now > tolerance then
  if priority then
    redis.call('SET', KEYS[5], '1', 'PX', math.floor((tat - now - tolerance) / 1000) + 200)
  end
  return {3, tat - now - tolerance}
end
-- %.0f: tostring() would print 16-digit numbers in exponent form and lose microseconds.
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval),
           'PX', math.floor(interval / 1000) + 60000)
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
if priority then redis.call('DEL', KEYS[5]) end
return {0, 0}
"#;

/// KEYS: pause, slowdown. ARGV: pause ms, slowdown ms. Only ever lengthens a pause: a
/// shorter `retry_after` from a concurrent runner must not cut short the one Telegram
/// asked for earlier.
const PAUSE: &str = r#"
local current = redis.call('PTTL', KEYS[1])
if current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[1]) + tonumber(ARGV[2]))
return redis.call('PTTL', KEYS[1])
"#;

/// Why a send has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Telegram answered 429 to someone: everybody waits for `retry_after`.
    Paused,
    /// This chat got a message less than [`PER_CHAT_INTERVAL`] ago.
    ChatBusy,
    /// The global rate: the next slot is not free yet.
    Rate,
}

/// The answer to one request for a send slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Send now; the slot and the chat's second are taken.
    Granted,
    /// Nothing was taken; ask again after `wait`.
    Wait { wait: Duration, reason: WaitReason },
}

/// A handle on the shared limiter; cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    redis: Redis,
    interval_us: u64,
    acquire: std::sync::Arc<redis::Script>,
    pause: std::sync::Arc<redis::Script>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval_us", &self.interval_us)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter for `rate_per_second` sends (at least 1) over all runners of the bot
    /// whose key prefix `redis` carries.
    pub fn new(redis: &Redis, rate_per_second: u32) -> Self {
        let rate = u64::from(rate_per_second.max(1));
        let window_us = (Duration::from_secs(1) + TOLERANCE + JITTER).as_micros() as u64;
        Self {
            redis: redis.clone(),
            interval_us: window_us.div_ceil(rate),
            acquire: std::sync::Arc::new(redis::Script::new(ACQUIRE)),
            pause: std::sync::Arc::new(redis::Script::new(PAUSE)),
        }
    }

    /// The spacing enforced between two sends.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.interval_us)
    }

    /// Takes a send slot for `chat_id` if one is free, else says how long to wait. A
    /// campaign's record of what may have gone out is written later, as the request
    /// leaves (see `campaigns::deliveries::AttemptRecord`), not with the grant.
    pub async fn try_acquire(&self, chat_id: i64) -> anyhow::Result<Permit> {
        self.try_acquire_with(chat_id, false).await
    }

    /// [`RateLimiter::try_acquire`] ahead of every ordinary request: while this request
    /// waits for the schedule (or a 429 pause), broadcasts hold back, so it gets the next
    /// slot. For single messages a person waits for (outbox messages), never broadcasts.
    pub async fn try_acquire_priority(&self, chat_id: i64) -> anyhow::Result<Permit> {
        self.try_acquire_with(chat_id, true).await
    }

    async fn try_acquire_with(&self, chat_id: i64, priority: bool) -> anyhow::Result<Permit> {
        let mut conn = self.redis.connection();
        let (reason, wait_us): (i64, i64) = self
            .acquire
            .key(self.redis.key("rate:schedule"))
            .key(self.redis.key("rate:pause"))
            .key(self.redis.key(&format!("rate:chat:{chat_id}")))
            .key(self.redis.key("rate:slowdown"))
            .key(self.redis.key("rate:priority"))
            .arg(self.interval_us)
            .arg(TOLERANCE.as_micros() as u64)
            .arg(PER_CHAT_INTERVAL.as_millis() as u64)
            .arg(if priority { "1" } else { "" })
            .invoke_async(&mut conn)
            .await
            .context("asking Redis for a send slot")?;
        let wait = Duration::from_micros(wait_us.max(0) as u64);
        Ok(match reason {
            0 => Permit::Granted,
            1 => Permit::Wait {
                wait,
                reason: WaitReason::Paused,
            },
            2 => Permit::Wait {
                wait,
                reason: WaitReason::ChatBusy,
            },
            _ => Permit::Wait {
                wait,
                reason: WaitReason::Rate,
            },
        })
    }

    /// Waits until a slot for `chat_id` is granted. For single sends outside the runner;
    /// the runner itself uses [`RateLimiter::try_acquire`] so it can do other work while
    /// it waits.
    pub async fn acquire(&self, chat_id: i64) -> anyhow::Result<()> {
        loop {
            match self.try_acquire(chat_id).await? {
                Permit::Granted => return Ok(()),
                Permit::Wait { wait, .. } => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Holds every runner back for `duration` (Telegram's `retry_after`), then slows them
    /// down for [`SLOWDOWN_AFTER_429`]; never shortens a pause already in force. Returns
    /// the pause now in force.
    pub async fn pause_for(&self, duration: Duration) -> anyhow::Result<Duration> {
        let mut conn = self.redis.connection();
        let millis = duration.as_millis().max(1) as u64;
        let left: i64 = self
            .pause
            .key(self.redis.key("rate:pause"))
            .key(self.redis.key("rate:slowdown"))
            .arg(millis)
            .arg(SLOWDOWN_AFTER_429.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .context("setting the global send pause")?;
        Ok(Duration::from_millis(left.max(0) as u64))
    }

    /// How long the global pause still holds, if one does.
    pub async fn paused_for(&self) -> anyhow::Result<Option<Duration>> {
        let mut conn = self.redis.connection();
        let left: i64 = redis::cmd("PTTL")
            .arg(self.redis.key("rate:pause"))
            .query_async(&mut conn)
            .await
            .context("reading the global send pause")?;
        Ok((left > 0).then(|| Duration::from_millis(left as u64)))
    }
}
