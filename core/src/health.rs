//! `GET /health`: reports whether Postgres and Redis answer, for load balancers and humans.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use promo_api_types::HealthReport;

use crate::db::PgPool;
use crate::store::Redis;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

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

async fn report(State(app): State<Health>) -> (StatusCode, Json<HealthReport>) {
    let (database, redis) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, crate::db::ping(&app.pool)),
        tokio::time::timeout(CHECK_TIMEOUT, app.redis.ping()),
    );
    let describe = |r: Result<anyhow::Result<()>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => ("ok".to_owned(), true),
        Ok(Err(e)) => (format!("error: {e}"), false),
        Err(_) => ("error: timed out".to_owned(), false),
    };
    let (database, db_ok) = describe(database);
    let (redis, redis_ok) = describe(redis);
    let healthy = db_ok && redis_ok;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(HealthReport {
            status: if healthy { "ok" } else { "degraded" }.to_owned(),
            database,
            redis,
            sandbox: app.sandbox,
        }),
    )
}
