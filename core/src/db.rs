//! Postgres: the connection pool, the embedded migrations and the bot registry row.

use std::str::FromStr;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub use deadpool_postgres::{Object as Connection, Pool as PgPool};

/// Migrations in the order they are applied; names say what they do.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_create_product_schema",
        include_str!("../../migrations/0001_create_product_schema.sql"),
    ),
    (
        "0002_claim_receipts_before_paid_checks",
        include_str!("../../migrations/0002_claim_receipts_before_paid_checks.sql"),
    ),
    (
        "0003_transactional_outbox",
        include_str!("../../migrations/0003_transactional_outbox.sql"),
    ),
    (
        "0004_lease_campaign_runners",
        include_str!("../../migrations/0004_lease_campaign_runners.sql"),
    ),
    (
        "0005_keep_dialogue_state_in_postgres",
        include_str!("../../migrations/0005_keep_dialogue_state_in_postgres.sql"),
    ),
    (
        "0006_panel_sessions_roles_and_lockout",
        include_str!("../../migrations/0006_panel_sessions_roles_and_lockout.sql"),
    ),
    (
        "0007_discard_given_up_work",
        include_str!("../../migrations/0007_discard_given_up_work.sql"),
    ),
    (
        "0008_image_uploads",
        include_str!("../../migrations/0008_image_uploads.sql"),
    ),
    (
        "0009_test_chat",
        include_str!("../../migrations/0009_test_chat.sql"),
    ),
    (
        "0010_dashboard_rollup_and_admin_indexes",
        include_str!("../../migrations/0010_dashboard_rollup_and_admin_indexes.sql"),
    ),
    (
        "0011_verifiable_draws",
        include_str!("../../migrations/0011_verifiable_draws.sql"),
    ),
    (
        "0012_raffle_prizes_and_claims",
        include_str!("../../migrations/0012_raffle_prizes_and_claims.sql"),
    ),
];

/// A fixed advisory-lock key so that two processes starting together (the local binary
/// and a deploy step, or two Lambdas) never apply the same migration twice.
const MIGRATION_LOCK: i64 = 0x7072_6f6d_6f00_0001;

/// How long a caller waits for a pooled connection, and for a new one to be opened.
/// Telegram redelivers an update the webhook fails, so with Postgres down a fast 5xx is
/// the right answer; a longer wait would only hold Telegram's connection (and a Lambda)
/// until it gives up. A healthy pool hands out a connection in microseconds and a
/// healthy server accepts one in milliseconds, so this fires only when something is wrong.
pub const POOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

pub fn connect(database_url: &str, max_size: usize) -> anyhow::Result<Pool> {
    let mut config = tokio_postgres::Config::from_str(database_url)
        .context("DATABASE_URL is not a valid Postgres URL")?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(POOL_TIMEOUT);
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // Fast: a statement on a broken connection fails and deadpool drops it.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Time-outs turn "database down" into a clear error instead of a request that hangs.
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .context("building the Postgres pool")
}

/// Applies every migration not applied yet, each in its own transaction.
pub async fn migrate(pool: &Pool) -> anyhow::Result<Vec<&'static str>> {
    let mut client = pool.get().await.context("connecting to Postgres")?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version TEXT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .context("creating schema_migrations")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = apply_pending(&mut client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn apply_pending(client: &mut Connection) -> anyhow::Result<Vec<&'static str>> {
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tx.commit().await?;
        applied.push(*version);
    }
    Ok(applied)
}

/// Returns the id of the bot row for `slug`, creating it on first start.
pub async fn ensure_bot(pool: &Pool, slug: &str, title: &str) -> anyhow::Result<i64> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let row = client
        .query_one(
            "INSERT INTO bots (slug, title) VALUES ($1, $2)
             ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug
             RETURNING id",
            &[&slug, &title],
        )
        .await
        .context("registering the bot row")?;
    Ok(row.get(0))
}

/// `SELECT 1` with a short timeout, for `/health`.
pub async fn ping(pool: &Pool) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}

/// Telegram keeps an undelivered update for at most 24 hours, so a repeat can only come
/// within that window; an hour's margin covers clock skew and a slow sweep.
pub const UPDATE_REDELIVERY_WINDOW: std::time::Duration = std::time::Duration::from_secs(25 * 3600);

/// Forgets processed update ids older than the redelivery window (every bot's), in
/// bounded batches so one sweep never holds a long lock. Returns how many were dropped.
pub async fn purge_processed_updates(
    client: &impl deadpool_postgres::GenericClient,
    older_than: std::time::Duration,
) -> anyhow::Result<u64> {
    let mut purged = 0;
    loop {
        let batch = client
            .execute(
                "DELETE FROM processed_updates WHERE ctid IN (
                     SELECT ctid FROM processed_updates
                     WHERE processed_at < now() - make_interval(secs => $1)
                     LIMIT 10000)",
                &[&older_than.as_secs_f64()],
            )
            .await
            .context("purging old processed updates")?;
        purged += batch;
        if batch < 10_000 {
            return Ok(purged);
        }
    }
}

/// Forgets dialogue states past their expiry (every bot's; `bot::states` writes them),
/// in bounded batches like [`purge_processed_updates`]. Returns how many were dropped.
pub async fn purge_expired_dialogue_states(
    client: &impl deadpool_postgres::GenericClient,
) -> anyhow::Result<u64> {
    let mut purged = 0;
    loop {
        let batch = client
            .execute(
                "DELETE FROM dialogue_states WHERE ctid IN (
                     SELECT ctid FROM dialogue_states WHERE expires_at < now() LIMIT 10000)",
                &[],
            )
            .await
            .context("purging expired dialogue states")?;
        purged += batch;
        if batch < 10_000 {
            return Ok(purged);
        }
    }
}
