//! `spawn_app`: the whole local stack on port 0 with its own database, Redis key space,
//! fake Bot API, fake ProverkaCheka and in-process queues: what tests and benches drive.

use std::collections::HashMap;
use std::net::SocketAddr;

use base64::Engine;
use promo_core::app::App;
use promo_core::config::Settings;
use promo_core::server::{local_router, HttpServer};
use serde_json::Value;

use crate::proverkacheka::FakeProverkaCheka;
use crate::telegram::FakeTelegram;

pub const TEST_WEBHOOK_SECRET: &str = "test-webhook-secret";
pub const TEST_BOT_TOKEN: &str = "123456:test-token";
pub const TEST_PROVERKA_TOKEN: &str = "12345.AbCdEfGhIjKlMnOpQ";

pub struct TestApp {
    pub address: SocketAddr,
    pub app: App,
    pub telegram: FakeTelegram,
    pub proverkacheka: FakeProverkaCheka,
    pub database_url: String,
    http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    stop_workers: tokio::sync::watch::Sender<bool>,
}

/// Settings a test may change before the stack starts (variable name → value).
#[derive(Default, Clone)]
pub struct TestConfig {
    pub env: HashMap<String, String>,
    /// Also run the bridge and the queue consumers, as `promo serve` does. Off by
    /// default so tests can drain queues deterministically with `consume_once`.
    pub workers: bool,
}

impl TestConfig {
    pub fn with_workers(mut self) -> Self {
        self.workers = true;
        self
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }
}

pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(TestConfig::default()).await
}

pub async fn spawn_app_with(config: TestConfig) -> anyhow::Result<TestApp> {
    let telegram = FakeTelegram::start().await?;
    let proverkacheka = FakeProverkaCheka::start(TEST_PROVERKA_TOKEN).await?;
    // A test on its own Postgres server (`servers::PostgresServer`) brings its database.
    let database_url = match config.env.get("DATABASE_URL") {
        Some(url) => url.clone(),
        None => crate::db::migrated_database().await?,
    };

    // A unique slug gives each test its own bot row and Redis key prefix.
    let slug = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut env: HashMap<String, String> = HashMap::from([
        ("BOT_SLUG".into(), slug),
        ("BOT_TOKEN".into(), TEST_BOT_TOKEN.into()),
        ("TELEGRAM_API_URL".into(), telegram.base_url()),
        ("WEBHOOK_SECRET".into(), TEST_WEBHOOK_SECRET.into()),
        ("DATABASE_URL".into(), database_url.clone()),
        ("REDIS_URL".into(), redis_url()),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        (
            "PHONE_ENCRYPTION_KEY".into(),
            base64::engine::general_purpose::STANDARD.encode([42u8; 32]),
        ),
        (
            "PRIZE_DATA_KEY".into(),
            base64::engine::general_purpose::STANDARD.encode([43u8; 32]),
        ),
        (
            "ADMIN_SECRET_KEY".into(),
            "test-admin-secret-key-0123456789abcdef".into(),
        ),
        ("PROVERKA_CHEKA_TOKEN".into(), TEST_PROVERKA_TOKEN.into()),
        ("PROVERKA_CHEKA_URL".into(), proverkacheka.base_url()),
        ("PROMO_NAME".into(), "Хрустящее лето".into()),
        ("PROMO_PRIZES".into(), "iPhone 16 и сертификаты".into()),
    ]);
    let workers = config.workers;
    env.extend(config.env);
    let settings = Settings::from_lookup(|name| env.get(name).cloned())?;

    let app = App::build(settings).await?;
    let server = HttpServer::bind(app.settings.bind_addr, local_router(app.clone())).await?;
    let address = server.local_addr()?;
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    if workers {
        promo_core::server::spawn_workers(&app, workers_stopped);
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        if let Err(e) = server
            .run_until(async {
                let _ = rx.await;
            })
            .await
        {
            tracing::error!(error = ?e, "test server stopped");
        }
    });
    Ok(TestApp {
        address,
        app,
        telegram,
        proverkacheka,
        database_url,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        stop_workers,
    })
}

pub fn redis_url() -> String {
    std::env::var("PROMO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The answer of the webhook route.
#[derive(Debug)]
pub struct WebhookAnswer {
    pub status: u16,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Posts an update the way Telegram does, with the right secret header.
    pub async fn post_update(&self, update: &Value) -> anyhow::Result<WebhookAnswer> {
        self.post_update_with_secret(update, Some(TEST_WEBHOOK_SECRET))
            .await
    }

    pub async fn post_update_with_secret(
        &self,
        update: &Value,
        secret: Option<&str>,
    ) -> anyhow::Result<WebhookAnswer> {
        let mut request = self
            .http
            .post(self.url(promo_core::bot::webhook::WEBHOOK_PATH))
            .json(update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(WebhookAnswer { status, body })
    }

    /// Delivers an update as Telegram would: posts it to the webhook and, when the answer
    /// body is a method call, executes that call against the fake Bot API (Telegram does
    /// exactly this with webhook replies), so tests see every reply in the fake's log.
    pub async fn send_update(&self, update: &Value) -> anyhow::Result<WebhookAnswer> {
        let url = self.url(promo_core::bot::webhook::WEBHOOK_PATH);
        let reply = self
            .telegram
            .deliver_update_to(&url, Some(TEST_WEBHOOK_SECRET), update.clone())
            .await?;
        self.telegram
            .execute_webhook_reply(TEST_BOT_TOKEN, &reply)
            .await?;
        Ok(WebhookAnswer {
            status: reply.status,
            body: serde_json::from_str(&reply.body).unwrap_or(Value::Null),
        })
    }

    /// Opens a connection to this test's database.
    pub async fn db(&self) -> anyhow::Result<promo_core::db::Connection> {
        Ok(self.app.pool.get().await?)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.stop_workers.send(true);
    }
}
