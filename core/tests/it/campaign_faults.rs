//! A broadcast through Postgres and Redis faults, on private servers of its own
//! (`promo_testkit::servers`; the shared ones are never touched): killed Postgres and
//! killed Redis each come back, the broadcast completes, every recipient gets exactly one
//! copy at the fake Bot API, and sending resumes within moments of the server's return.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use promo_testkit::servers::{PostgresServer, RedisServer};
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::json;

const TEXT: &str = "Итоги недели: кто выиграл сертификаты";
const RECIPIENTS: i64 = 1_000;

fn config() -> TestConfig {
    TestConfig::default()
        .with_workers()
        .with("BROADCAST_RATE", "200")
        .with("PAID_BROADCAST", "true")
}

/// A statement that may hit a connection the fault broke: tried again for a while.
async fn query_one_retrying(
    app: &TestApp,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> tokio_postgres::Row {
    let started = Instant::now();
    loop {
        let attempt = async {
            let client = app.app.pool.get().await?;
            anyhow::Ok(client.query_one(sql, params).await?)
        };
        match attempt.await {
            Ok(row) => return row,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                tracing::debug!(error = %e, "retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e:#}"),
        }
    }
}

/// Registered recipients and a due broadcast to them; returns the campaign id.
async fn start_broadcast(app: &TestApp) -> i64 {
    let client = app.db().await.expect("client");
    client
        .execute(
            "INSERT INTO users (bot_id, telegram_id, status, reachable, registered_at)
             SELECT $1, g, 'registered', TRUE, now() FROM generate_series(1::bigint, $2::bigint) g",
            &[&app.app.bot_id, &RECIPIENTS],
        )
        .await
        .expect("users");
    client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience)
             VALUES ($1, 'broadcast', 'scheduled', $2, '{\"all\": true}') RETURNING id",
            &[&app.app.bot_id, &json!({ "text": TEXT })],
        )
        .await
        .expect("campaign")
        .get(0)
}

async fn wait_until_completed(app: &TestApp, campaign_id: i64, timeout: Duration) {
    let started = Instant::now();
    loop {
        let status: String = query_one_retrying(
            app,
            "SELECT status FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await
        .get(0);
        if status == "completed" {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "still {status} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Successful copies per chat, and their arrival times.
fn copies(app: &TestApp) -> (HashMap<i64, usize>, Vec<Instant>) {
    let mut per_chat = HashMap::new();
    let mut times = Vec::new();
    for call in app.telegram.calls_to("sendMessage") {
        if call.status == 200 {
            if let Some(chat) = call.params["chat_id"].as_i64() {
                *per_chat.entry(chat).or_insert(0) += 1;
                times.push(call.at);
            }
        }
    }
    (per_chat, times)
}

/// Every recipient exactly once; returns the first arrival after `back`.
async fn assert_each_once_and_resumed(app: &TestApp, campaign_id: i64, back: Instant) -> Duration {
    // A late duplicate would land within moments.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (per_chat, times) = copies(app);
    let doubled = per_chat.values().filter(|n| **n > 1).count();
    assert_eq!(doubled, 0, "recipients that got two copies");
    assert_eq!(
        per_chat.len() as i64,
        RECIPIENTS,
        "recipients the fake never delivered to: {}",
        RECIPIENTS - per_chat.len() as i64
    );
    let row = query_one_retrying(
        app,
        "SELECT sent, unknown FROM campaigns WHERE id = $1",
        &[&campaign_id],
    )
    .await;
    let (sent, unknown): (i32, i32) = (row.get(0), row.get(1));
    assert_eq!((i64::from(sent), unknown), (RECIPIENTS, 0), "counters");
    times
        .iter()
        .filter(|at| **at > back)
        .min()
        .map(|first| first.duration_since(back))
        .expect("sends after the server came back")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broadcast_through_a_postgres_restart_completes_exactly_once_and_resumes_within_seconds()
{
    let mut postgres = PostgresServer::start().await.expect("private postgres");
    let url = postgres.migrated_database().await.expect("database");
    let app = spawn_app_with(config().with("DATABASE_URL", &url))
        .await
        .expect("app");
    let campaign_id = start_broadcast(&app).await;
    app.telegram
        .wait_for_calls("sendMessage", 200, Duration::from_secs(20))
        .await
        .expect("the broadcast is under way");

    postgres.kill().await.expect("kill postgres");
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent_while_down = copies(&app)
        .1
        .iter()
        .filter(|at| **at > killed + Duration::from_millis(500))
        .count();
    postgres.start_again().await.expect("postgres back");
    let back = Instant::now();

    wait_until_completed(&app, campaign_id, Duration::from_secs(60)).await;
    let resumed = assert_each_once_and_resumed(&app, campaign_id, back).await;
    println!(
        "postgres restart: {sent_while_down} sent while it was down, sending again {resumed:?} after it was back"
    );
    assert!(
        resumed < Duration::from_secs(6),
        "sending resumed only {resumed:?} after Postgres was back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broadcast_through_a_redis_outage_completes_exactly_once_and_resumes_within_seconds() {
    let mut redis = RedisServer::start().await.expect("private redis");
    let app = spawn_app_with(config().with("REDIS_URL", &redis.url()))
        .await
        .expect("app");
    let campaign_id = start_broadcast(&app).await;
    app.telegram
        .wait_for_calls("sendMessage", 200, Duration::from_secs(20))
        .await
        .expect("the broadcast is under way");

    redis.kill().await.expect("kill redis");
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sent_while_down = copies(&app)
        .1
        .iter()
        .filter(|at| **at > killed + Duration::from_millis(500))
        .count();
    assert_eq!(sent_while_down, 0, "sent without the rate limiter");
    redis.start_again().await.expect("redis back");
    let back = Instant::now();

    wait_until_completed(&app, campaign_id, Duration::from_secs(60)).await;
    let resumed = assert_each_once_and_resumed(&app, campaign_id, back).await;
    println!("redis outage of 5 s: sending again {resumed:?} after it was back");
    // The reconnect backoff is capped at 0.5 s: about a second on an idle machine.
    assert!(
        resumed < Duration::from_secs(4),
        "sending resumed only {resumed:?} after Redis was back"
    );
}
