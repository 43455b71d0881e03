//! The ProverkaCheka quota breaker (code 3), shared by the verifier that trips it and the
//! dialogue that tells shoppers their uploads wait; outside `verify` so a function built
//! without the QR decoder still reads it.

use std::time::Duration;

/// How long the whole bot stops calling ProverkaCheka after code 3 (quota exhausted).
pub const QUOTA_PAUSE: Duration = Duration::from_secs(60 * 60);

/// Redis key of the code-3 circuit breaker. Scoped by the bot's prefix, as every key.
pub fn quota_breaker_key(redis: &crate::store::Redis) -> String {
    redis.key("proverkacheka:quota_paused")
}

/// How long the breaker stays open; `None` when checks run. A breaker set by hand
/// without expiry (`-1`) counts as a full pause: the verifier then waits one per attempt.
pub async fn remaining_pause(redis: &crate::store::Redis) -> anyhow::Result<Option<Duration>> {
    use anyhow::Context;
    let mut conn = redis.connection();
    let millis: i64 = redis::cmd("PTTL")
        .arg(quota_breaker_key(redis))
        .query_async(&mut conn)
        .await
        .context("reading the ProverkaCheka circuit breaker")?;
    Ok(match millis {
        -2 => None,
        -1 => Some(QUOTA_PAUSE),
        ms => Some(Duration::from_millis(ms.max(0).unsigned_abs())),
    })
}
