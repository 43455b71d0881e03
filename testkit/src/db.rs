//! Per-test databases: each test gets a fresh, migrated Postgres database of its own, so
//! tests run in parallel without seeing each other's rows.

use anyhow::Context;
use tokio_postgres::NoTls;

/// Server URL without a database name; `PROMO_TEST_DATABASE_URL` overrides it.
pub fn server_url() -> String {
    std::env::var("PROMO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Prefix of every database a test creates; the test script drops leftovers by it.
pub const TEST_DB_PREFIX: &str = "promo_test_";

/// Creates an empty database and returns its URL; migrations are the caller's choice.
pub async fn create_database() -> anyhow::Result<String> {
    create_database_on(&server_url()).await
}

/// [`create_database`] on another server (e.g. a private one started by the fault tests).
pub async fn create_database_on(server_url: &str) -> anyhow::Result<String> {
    let server_url = server_url.trim_end_matches('/');
    let name = format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let admin_url = format!("{server_url}/postgres");
    let (client, connection) = tokio_postgres::connect(&admin_url, NoTls)
        .await
        .with_context(|| format!("connecting to {admin_url}: is Postgres running?"))?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .context("creating the test database")?;
    drop(client);
    let _ = driver.await;
    Ok(format!("{server_url}/{name}"))
}

/// A fresh database with the product schema applied.
pub async fn migrated_database() -> anyhow::Result<String> {
    migrated_database_on(&server_url()).await
}

/// [`migrated_database`] on another server.
pub async fn migrated_database_on(server_url: &str) -> anyhow::Result<String> {
    let url = create_database_on(server_url).await?;
    let pool = promo_core::db::connect(&url, 2)?;
    promo_core::db::migrate(&pool).await?;
    Ok(url)
}
