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
