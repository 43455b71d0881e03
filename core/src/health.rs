//! `GET /health`: whether Postgres and Redis answer, for load balancers and humans.
//!
//! Postgres down is an outage (503: nothing works without it). Redis down is degraded
//! (200): the dialogue keeps answering, uploads are refused for a while, broadcasts wait.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use promo_api_types::HealthReport;

use crate::db::PgPool;
use crate::store::Redis;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Redis answers a PING in well under a millisecond; a load balancer should not wait
/// seconds to learn that it does not.
const REDIS_CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// What `/health` reads: the two stores, and whether this is the sandbox.
#[derive(Clone)]
pub struct Health {
    pub pool: PgPool,
    pub redis: Redis,
    pub sandbox: bool,
}

pub fn router(health: Health) -> Router {
    Router::new()
        .route("/health", get(report))
        .with_state(health)
}

/// The overall verdict from the two checks, and the HTTP status that carries it.
pub fn verdict(database_ok: bool, redis_ok: bool) -> (StatusCode, &'static str) {
    match (database_ok, redis_ok) {
        (true, true) => (StatusCode::OK, "ok"),
        (true, false) => (StatusCode::OK, "degraded"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "down"),
    }
}

async fn report(State(app): State<Health>) -> (StatusCode, Json<HealthReport>) {
    let redis = app.redis.with_command_timeout(REDIS_CHECK_TIMEOUT);
    let (database, redis) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, crate::db::ping(&app.pool)),
        tokio::time::timeout(CHECK_TIMEOUT, redis.ping()),
    );
    let describe = |r: Result<anyhow::Result<()>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => ("ok".to_owned(), true),
        Ok(Err(e)) => (format!("error: {e}"), false),
        Err(_) => ("error: timed out".to_owned(), false),
    };
    let (database, db_ok) = describe(database);
    let (redis, redis_ok) = describe(redis);
    let (status, verdict) = verdict(db_ok, redis_ok);
    (
        status,
        Json(HealthReport {
            status: verdict.to_owned(),
            database,
            redis,
            sandbox: app.sandbox,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_down_is_degraded_and_still_200_while_postgres_down_is_503() {
        assert_eq!(verdict(true, true), (StatusCode::OK, "ok"));
        assert_eq!(verdict(true, false), (StatusCode::OK, "degraded"));
        assert_eq!(
            verdict(false, true),
            (StatusCode::SERVICE_UNAVAILABLE, "down")
        );
        assert_eq!(
            verdict(false, false),
            (StatusCode::SERVICE_UNAVAILABLE, "down")
        );
    }
}
