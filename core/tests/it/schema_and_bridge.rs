//! Schema facts the rest of the product relies on: idempotent migrations, the unique
//! fiscal triple, the campaign NOTIFY trigger and the bridge's claim.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use promo_core::campaigns::bridge::{Bridge, CHANNEL};
use promo_core::queue::{InMemoryQueue, JobQueue, QueueName};
use promo_testkit::db::migrated_database;
use tokio_postgres::{AsyncMessage, NoTls};

async fn pool() -> (String, promo_core::db::PgPool, i64) {
    let url = migrated_database().await.expect("database");
    let pool = promo_core::db::connect(&url, 4).expect("pool");
    let bot_id = promo_core::db::ensure_bot(&pool, "main", "Test")
        .await
        .expect("bot");
    (url, pool, bot_id)
}

#[tokio::test]
async fn migrations_apply_once_and_a_second_run_changes_nothing() {
    let (_, pool, _) = pool().await;
    let again = promo_core::db::migrate(&pool).await.expect("second run");
    assert!(again.is_empty());
}

#[tokio::test]
async fn one_fiscal_triple_is_stored_once_per_bot_even_for_different_users() {
    let (_, pool, bot_id) = pool().await;
    let client = pool.get().await.expect("client");
    for telegram_id in [1_i64, 2] {
        client
            .execute(
                "INSERT INTO users (bot_id, telegram_id) VALUES ($1, $2)",
                &[&bot_id, &telegram_id],
            )
            .await
            .expect("user");
    }
    let insert = "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                      fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr)
                  SELECT $1, id, '7281440500751551', 30526, 1168453787, 1,
                         '2024-09-17 18:01', 128521, 'qr' FROM users WHERE bot_id = $1 AND telegram_id = $2";
    client
        .execute(insert, &[&bot_id, &1_i64])
        .await
        .expect("first receipt");
    let duplicate = client.execute(insert, &[&bot_id, &2_i64]).await;
    let code = duplicate
        .err()
        .and_then(|e| e.code().cloned())
        .map(|c| c.code().to_owned());
    assert_eq!(code.as_deref(), Some("23505"), "unique violation expected");
}

#[tokio::test]
async fn a_due_campaign_notifies_the_channel_and_a_draft_does_not() {
    let (url, pool, bot_id) = pool().await;
    let (listener, mut connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("listen connection");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = stream.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    listener
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .expect("listen");

    let client = pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'broadcast', 'draft')",
            &[&bot_id],
        )
        .await
        .expect("draft");
    let id: i64 = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'broadcast', 'scheduled') RETURNING id",
            &[&bot_id],
        )
        .await
        .expect("scheduled")
        .get(0);
    let payload = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("notified in time")
        .expect("payload");
    let payload: serde_json::Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(payload["campaign_id"], id);
    assert_eq!(payload["bot_id"], bot_id);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err(),
        "the draft must not notify"
    );
}

#[tokio::test]
async fn two_bridges_relay_a_due_campaign_exactly_once() {
    let (url, pool, bot_id) = pool().await;
    let queue = Arc::new(InMemoryQueue::new());
    let bridge = |q: Arc<InMemoryQueue>| Bridge {
        database_url: url.clone(),
        pool: pool.clone(),
        queue: q,
    };
    let (a, b) = (bridge(queue.clone()), bridge(queue.clone()));
    let client = pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'broadcast', 'scheduled')",
            &[&bot_id],
        )
        .await
        .expect("campaign");
    client
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status, scheduled_for)
             VALUES ($1, 'broadcast', 'scheduled', now() + interval '1 hour')",
            &[&bot_id],
        )
        .await
        .expect("future campaign");
    let (ra, rb) = tokio::join!(a.relay_due(), b.relay_due());
    assert_eq!(ra.expect("a") + rb.expect("b"), 1);
    let messages = queue
        .receive(QueueName::Campaigns, 10, Duration::from_millis(50))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1);
    assert!(messages[0].body.contains("\"kind\":\"run\""));
}

#[tokio::test]
async fn the_listening_bridge_relays_a_new_campaign_within_milliseconds() {
    let (url, pool, bot_id) = pool().await;
    let queue = Arc::new(InMemoryQueue::new());
    let bridge = Bridge {
        database_url: url,
        pool: pool.clone(),
        queue: queue.clone(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move { bridge.run(stopped).await });
    // Let the bridge connect and LISTEN before the insert.
    tokio::time::sleep(Duration::from_millis(300)).await;
    pool.get()
        .await
        .expect("client")
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'single_message', 'scheduled')",
            &[&bot_id],
        )
        .await
        .expect("campaign");
    let messages = queue
        .receive(QueueName::Campaigns, 10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1);
    let _ = stop.send(true);
    let _ = running.await;
}

fn spawn_bridge(
    url: &str,
    pool: &promo_core::db::PgPool,
    queue: Arc<InMemoryQueue>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let bridge = Bridge {
        database_url: url.to_owned(),
        pool: pool.clone(),
        queue,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    (stop, tokio::spawn(async move { bridge.run(stopped).await }))
}

#[tokio::test]
async fn a_scheduled_campaign_is_relayed_when_it_falls_due_not_before() {
    let (url, pool, bot_id) = pool().await;
    let queue = Arc::new(InMemoryQueue::new());
    let (stop, running) = spawn_bridge(&url, &pool, queue.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let due_at: chrono::DateTime<chrono::Utc> = pool
        .get()
        .await
        .expect("client")
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, scheduled_for)
             VALUES ($1, 'broadcast', 'scheduled', now() + interval '1500 milliseconds')
             RETURNING scheduled_for",
            &[&bot_id],
        )
        .await
        .expect("campaign")
        .get(0);
    let early = queue
        .receive(QueueName::Campaigns, 10, Duration::from_millis(1000))
        .await
        .expect("receive");
    assert!(early.is_empty(), "relayed before it was due");
    let on_time = queue
        .receive(QueueName::Campaigns, 10, Duration::from_secs(3))
        .await
        .expect("receive");
    let late_ms = (chrono::Utc::now() - due_at).num_milliseconds();
    assert_eq!(on_time.len(), 1);
    assert!(late_ms < 500, "relayed {late_ms} ms after its time");
    let _ = stop.send(true);
    let _ = running.await;
}

#[tokio::test]
async fn the_bridge_reconnects_after_its_connection_is_killed_and_relays_what_it_missed() {
    let (url, pool, bot_id) = pool().await;
    let queue = Arc::new(InMemoryQueue::new());
    let (stop, running) = spawn_bridge(&url, &pool, queue.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = pool.get().await.expect("client");
    let killed: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN campaigns_due%'",
            &[],
        )
        .await
        .expect("terminate")
        .get(0);
    assert_eq!(killed, 1, "the bridge's LISTEN session");
    // Inserted while the bridge is disconnected: its NOTIFY is lost.
    client
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'broadcast', 'scheduled')",
            &[&bot_id],
        )
        .await
        .expect("campaign");
    let relayed = queue
        .receive(QueueName::Campaigns, 10, Duration::from_secs(5))
        .await
        .expect("receive");
    assert_eq!(relayed.len(), 1);
    // And it is listening again: a new campaign is relayed at once.
    client
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'broadcast', 'scheduled')",
            &[&bot_id],
        )
        .await
        .expect("campaign");
    let again = queue
        .receive(QueueName::Campaigns, 10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert_eq!(again.len(), 1);
    let _ = stop.send(true);
    let _ = running.await;
}

#[tokio::test]
async fn a_campaign_whose_runner_went_silent_is_re_enqueued_by_the_sweep() {
    let (url, pool, bot_id) = pool().await;
    let queue = Arc::new(InMemoryQueue::new());
    let bridge = Bridge {
        database_url: url,
        pool: pool.clone(),
        queue: queue.clone(),
    };
    let client = pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO campaigns (bot_id, kind, status, relayed_at, started_at, heartbeat_at)
             VALUES ($1, 'broadcast', 'running', now() - interval '10 minutes',
                     now() - interval '10 minutes', now() - interval '5 minutes'),
                    ($1, 'broadcast', 'running', now() - interval '10 minutes',
                     now() - interval '10 minutes', now())",
            &[&bot_id],
        )
        .await
        .expect("campaigns");
    assert_eq!(bridge.relay_stalled().await.expect("sweep"), 1);
    assert_eq!(bridge.relay_stalled().await.expect("sweep again"), 0);
    let messages = queue
        .receive(QueueName::Campaigns, 10, Duration::from_millis(50))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn processed_update_ids_older_than_telegrams_redelivery_window_are_forgotten() {
    let (url, pool, bot_id) = pool().await;
    let client = pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO processed_updates (bot_id, update_id, processed_at)
             SELECT $1, n, now() - make_interval(hours => CASE WHEN n <= 3 THEN 26 ELSE 1 END)
             FROM generate_series(1, 5) AS n",
            &[&bot_id],
        )
        .await
        .expect("rows");

    let purged =
        promo_core::db::purge_processed_updates(&client, promo_core::db::UPDATE_REDELIVERY_WINDOW)
            .await
            .expect("purge");

    assert_eq!(purged, 3);
    let left: Vec<i64> = client
        .query(
            "SELECT update_id FROM processed_updates ORDER BY update_id",
            &[],
        )
        .await
        .expect("left")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        left,
        vec![4, 5],
        "ids Telegram may still redeliver are kept"
    );

    // The running bridge's first sweep does the same.
    client
        .execute(
            "INSERT INTO processed_updates (bot_id, update_id, processed_at)
             VALUES ($1, 99, now() - INTERVAL '30 hours')",
            &[&bot_id],
        )
        .await
        .expect("old row");
    let (stop, running) = spawn_bridge(&url, &pool, Arc::new(InMemoryQueue::new()));
    let mut gone = false;
    for _ in 0..100 {
        let count: i64 = client
            .query_one(
                "SELECT count(*) FROM processed_updates WHERE update_id = 99",
                &[],
            )
            .await
            .expect("count")
            .get(0);
        if count == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = running.await;
    assert!(gone, "the bridge's sweep purged the old id");
}
