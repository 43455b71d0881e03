//! The transactional outbox against real Postgres and Redis and the fake Bot API: replies
//! refused by Telegram arrive later, a message that keeps failing ends `failed` with its
//! reason, nothing is handed out or sent twice at once, lost queue messages and orphaned
//! submissions come back, and outbox messages take the send rate ahead of broadcasts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promo_core::jobs::{OutboxJob, ReceiptJob};
use promo_core::outbox::{self, Delivery, NewMessage, Purpose, Relay};
use promo_core::queue::{InMemoryQueue, JobQueue, QueueName};
use promo_core::receipts::intake::{self, NewSubmission};
use promo_core::sendrate::{Permit, RateLimiter, WaitReason};
use promo_core::telegram::{OutgoingMessage, SendMessage};
use promo_core::worker::handle_receipt_job;
use promo_testkit::telegram::Failure;
use promo_testkit::{spawn_app, spawn_app_with, TestApp, TestConfig};

/// Generous: a loaded two-core machine, and the relay's 5 s sweep as the slowest path.
const ARRIVES_WITHIN: Duration = Duration::from_secs(30);

async fn shopper(app: &TestApp, telegram_id: i64) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, status, registered_at)
             VALUES ($1, $2, 'Иван', 'Иван Петров', 'registered', now()) RETURNING id",
            &[&app.app.bot_id, &telegram_id],
        )
        .await
        .expect("user")
        .get(0)
}

/// A typed text that is no fiscal QR: the verifier rejects it locally and replies.
async fn unreadable_upload(app: &TestApp, user_id: i64) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, qr_raw)
             VALUES ($1, $2, 'qr_text', 'hello') RETURNING id",
            &[&app.app.bot_id, &user_id],
        )
        .await
        .expect("submission")
        .get(0)
}

fn bare(job: &ReceiptJob) -> promo_core::queue::JobMessage {
    promo_core::queue::JobMessage {
        message_id: "test".into(),
        body: serde_json::to_string(job).expect("job JSON"),
        receive_count: 1,
    }
}

fn relay(app: &TestApp, queue: Arc<dyn JobQueue>) -> Relay {
    Relay {
        database_url: app.database_url.clone(),
        pool: app.app.pool.clone(),
        queue,
    }
}

/// `(status, attempts, last_error)` of the outbox row.
async fn row(app: &TestApp, id: i64) -> (String, i32, Option<String>) {
    let r = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT status, attempts, last_error FROM outbox WHERE id = $1",
            &[&id],
        )
        .await
        .expect("outbox row");
    (r.get(0), r.get(1), r.get(2))
}

async fn reply_rows(app: &TestApp, chat_id: i64) -> Vec<i64> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT id FROM outbox WHERE kind = 'message' AND chat_id = $1 ORDER BY id",
            &[&chat_id],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn wait_for_texts(app: &TestApp, chat_id: i64, n: usize) -> Duration {
    let started = Instant::now();
    loop {
        let got = app
            .telegram
            .sent_messages()
            .iter()
            .filter(|m| m.chat_id == chat_id)
            .count();
        if got >= n {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < ARRIVES_WITHIN,
            "chat {chat_id}: {got} of {n} messages after {ARRIVES_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn insert_message(app: &TestApp, chat_id: i64, text: &str) -> i64 {
    let message = OutgoingMessage::Send(SendMessage::new(chat_id, text));
    let client = app.db().await.expect("db");
    outbox::insert_message(
        &client,
        app.app.bot_id,
        &NewMessage {
            purpose: Purpose::Moderation,
            user_id: None,
            chat_id,
            message: &message,
            dedup_key: None,
        },
    )
    .await
    .expect("insert")
    .expect("a new row")
}

#[tokio::test]
async fn a_verifier_reply_refused_with_429_or_500_is_retried_and_arrives_once() {
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    for (chat, failure) in [
        (7_101, Failure::TooManyRequests { retry_after: 1 }),
        (7_102, Failure::ServerError),
    ] {
        let user = shopper(&app, chat).await;
        let submission = unreadable_upload(&app, user).await;
        app.telegram.fail_next("sendMessage", 1, failure);
        handle_receipt_job(
            &app.app,
            bare(&ReceiptJob::Verify {
                submission_id: submission,
            }),
        )
        .await
        .expect("the job succeeds although the reply was refused");

        let rows = reply_rows(&app, chat).await;
        assert_eq!(rows.len(), 1, "one reply row");
        let took = wait_for_texts(&app, chat, 1).await;
        // Let a wrongly repeated send show up before counting.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let copies = app
            .telegram
            .sent_messages()
            .iter()
            .filter(|m| m.chat_id == chat)
            .count();
        assert_eq!(copies, 1, "chat {chat}: arrived once (after {took:?})");
        assert_eq!(row(&app, rows[0]).await.0, "sent");
    }
}

#[tokio::test]
async fn a_reply_that_keeps_failing_ends_failed_with_its_reason_and_is_listed_for_operators() {
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    let chat = 7_201;
    let user = shopper(&app, chat).await;
    let submission = unreadable_upload(&app, user).await;
    app.telegram
        .fail_next("sendMessage", 100, Failure::ServerError);
    handle_receipt_job(
        &app.app,
        bare(&ReceiptJob::Verify {
            submission_id: submission,
        }),
    )
    .await
    .expect("job");
    let id = reply_rows(&app, chat).await[0];

    // Back-off 1 + 2 + 4 + 8 s between the five attempts, plus relay hops.
    let started = Instant::now();
    let (status, attempts, error) = loop {
        let current = row(&app, id).await;
        if current.0 == "failed" || started.elapsed() > Duration::from_secs(60) {
            break current;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, "failed", "after {:?}", started.elapsed());
    assert_eq!(attempts, outbox::sender::MAX_SEND_ATTEMPTS);
    let error = error.unwrap_or_default();
    assert!(error.contains("gave up after 5 attempts"), "{error}");
    assert!(error.contains("500"), "{error}");
    assert_eq!(
        app.telegram.calls_to("sendMessage").len(),
        5,
        "every attempt reached Telegram once"
    );

    let listed = outbox::given_up(&app.app.pool, app.app.bot_id, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].id,
            listed[0].purpose.as_str(),
            listed[0].status.as_str()
        ),
        (id, "receipt_result", "failed")
    );
    assert_eq!(listed[0].user_id, Some(user));
}

#[tokio::test]
async fn a_403_ends_the_message_blocked_and_marks_the_user_unreachable() {
    let app = spawn_app().await.expect("app");
    let user = shopper(&app, 7_301).await;
    app.telegram.block_chat(7_301);
    let id = insert_message(&app, 7_301, "Ваш чек одобрен").await;
    let delivery = app
        .app
        .sender
        .deliver(id, Duration::from_secs(5))
        .await
        .expect("deliver");
    assert_eq!(delivery, Delivery::Blocked);
    assert_eq!(row(&app, id).await.0, "blocked");
    let reachable: bool = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT reachable FROM users WHERE id = $1", &[&user])
        .await
        .expect("user")
        .get(0);
    assert!(!reachable);
}

#[tokio::test]
async fn concurrent_consumers_of_one_message_send_it_once() {
    let app = spawn_app().await.expect("app");
    app.telegram.set_latency(Duration::from_millis(100));
    let id = insert_message(&app, 7_401, "Поздравляем!").await;
    let sender = app.app.sender.clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let sender = sender.clone();
            tokio::spawn(async move { sender.deliver(id, Duration::from_secs(5)).await })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        let delivery = task.await.expect("task").expect("deliver");
        assert!(
            matches!(delivery, Delivery::Sent | Delivery::NotOurs),
            "{delivery:?}"
        );
        sent += usize::from(delivery == Delivery::Sent);
    }
    assert!(sent >= 1);
    assert_eq!(app.telegram.calls_to("sendMessage").len(), 1);
}

#[tokio::test]
async fn two_relays_hand_each_due_row_out_exactly_once() {
    let app = spawn_app().await.expect("app");
    let mut ids = HashSet::new();
    for n in 0..50 {
        ids.insert(insert_message(&app, 7_500 + n, "ok").await);
    }
    let queue: Arc<dyn JobQueue> = Arc::new(InMemoryQueue::new());
    let (a, b) = (relay(&app, queue.clone()), relay(&app, queue.clone()));
    let (ra, rb) = tokio::join!(a.relay_due(), b.relay_due());
    assert_eq!(ra.expect("a") + rb.expect("b"), 50);
    let mut seen = Vec::new();
    loop {
        let batch = queue
            .receive(QueueName::Campaigns, 10, Duration::from_millis(10))
            .await
            .expect("receive");
        if batch.is_empty() {
            break;
        }
        for message in batch {
            match OutboxJob::from_body(&message.body) {
                Some(OutboxJob::Message { outbox_id }) => seen.push(outbox_id),
                other => panic!("unexpected job {other:?}"),
            }
        }
    }
    assert_eq!(seen.len(), 50, "no row twice");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), ids);
}

#[tokio::test]
async fn an_upload_whose_queue_message_was_lost_is_handed_out_again_and_verified() {
    let app = spawn_app().await.expect("app");
    let chat = 7_601;
    let user = shopper(&app, chat).await;
    // The job goes to a queue that then "restarts": its message is gone.
    let lost: Arc<dyn JobQueue> = Arc::new(InMemoryQueue::new());
    let submission = intake::submit(
        &app.app.pool,
        lost.as_ref(),
        app.app.bot_id,
        user,
        &NewSubmission {
            source: "qr_text",
            telegram_file_id: None,
            file_size: None,
            qr_raw: Some("hello"),
        },
    )
    .await
    .expect("submit");
    drop(lost);
    let client = app.db().await.expect("db");
    let (check, status): (i64, String) = {
        let r = client
            .query_one(
                "SELECT id, status FROM outbox WHERE submission_id = $1",
                &[&submission],
            )
            .await
            .expect("the check was written with the submission");
        (r.get(0), r.get(1))
    };
    assert_eq!(status, "relayed");
    let relay = relay(&app, app.app.queue.clone());
    assert_eq!(
        relay.reclaim_expired().await.expect("reclaim"),
        0,
        "lease still running"
    );
    client
        .execute(
            "UPDATE outbox SET lease_until = now() - interval '1 second' WHERE id = $1",
            &[&check],
        )
        .await
        .expect("expire the lease");
    assert_eq!(relay.reclaim_expired().await.expect("reclaim"), 1);
    assert_eq!(relay.relay_due().await.expect("relay"), 1);
    let handled = promo_core::queue::consume_once(
        app.app.queue.as_ref(),
        QueueName::Receipts,
        10,
        Duration::from_millis(50),
        &|message| handle_receipt_job(&app.app, message),
    )
    .await
    .expect("consume");
    assert_eq!(handled, 1);
    assert_eq!(row(&app, check).await.0, "done");
    let settled: String = client
        .query_one(
            "SELECT status FROM receipt_submissions WHERE id = $1",
            &[&submission],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(settled, "rejected");
    wait_for_texts(&app, chat, 1).await;
}

#[tokio::test]
async fn a_row_whose_hand_outs_never_finish_is_dead_lettered_with_its_reason() {
    let app = spawn_app().await.expect("app");
    let id = insert_message(&app, 7_701, "ok").await;
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE outbox SET status = 'relayed', relay_count = $2,
                               lease_until = now() - interval '1 second'
             WHERE id = $1",
            &[&id, &outbox::MAX_RELAYS],
        )
        .await
        .expect("update");
    let relay = relay(&app, app.app.queue.clone());
    relay.reclaim_expired().await.expect("reclaim");
    let (status, _, error) = row(&app, id).await;
    assert_eq!(status, "dead");
    assert!(error
        .unwrap_or_default()
        .contains("lease ran out while relayed after 20 hand-outs"));
    let listed = outbox::given_up(&app.app.pool, app.app.bot_id, 10)
        .await
        .expect("list");
    assert_eq!(listed.iter().map(|g| g.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(
        relay.relay_due().await.expect("relay"),
        0,
        "never handed out again"
    );
}

#[tokio::test]
async fn a_submission_left_queued_without_a_check_gets_exactly_one_from_the_sweep() {
    let app = spawn_app().await.expect("app");
    let user = shopper(&app, 7_801).await;
    let submission = unreadable_upload(&app, user).await;
    let fresh = unreadable_upload(&app, user).await;
    let client = app.db().await.expect("db");
    client
        .execute(
            "UPDATE receipt_submissions SET updated_at = now() - interval '10 minutes'
             WHERE id = $1",
            &[&submission],
        )
        .await
        .expect("age it");
    let relay = relay(&app, app.app.queue.clone());
    assert_eq!(relay.sweep_submissions().await.expect("sweep"), 1);
    assert_eq!(relay.sweep_submissions().await.expect("sweep again"), 0);
    let checks: Vec<i64> = client
        .query(
            "SELECT submission_id FROM outbox WHERE kind = 'receipt_check'",
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        checks,
        vec![submission],
        "the fresh upload {fresh} is left alone"
    );
}

#[tokio::test]
async fn a_recheck_waits_in_the_outbox_due_with_the_submissions_next_attempt() {
    let app = spawn_app().await.expect("app");
    let user = shopper(&app, 7_851).await;
    let submission = unreadable_upload(&app, user).await;
    let client = app.db().await.expect("db");
    // A re-check delivered early (a hop of the old 15-minute chain) moves into the outbox.
    client
        .execute(
            "UPDATE receipt_submissions
             SET status = 'retry_scheduled', attempts = 1,
                 next_attempt_at = now() + interval '3 hours'
             WHERE id = $1",
            &[&submission],
        )
        .await
        .expect("schedule");
    let early = ReceiptJob::Recheck {
        submission_id: submission,
        attempt: 1,
        fns_pending: 1,
        provider_failures: 0,
    };
    handle_receipt_job(&app.app, bare(&early))
        .await
        .expect("job");
    handle_receipt_job(&app.app, bare(&early))
        .await
        .expect("a duplicate copy");
    let rows = client
        .query(
            "SELECT payload, EXTRACT(EPOCH FROM due_at - s.next_attempt_at)::float8
             FROM outbox o JOIN receipt_submissions s ON s.id = o.submission_id
             WHERE o.submission_id = $1",
            &[&submission],
        )
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "one row however many copies arrive");
    let payload: serde_json::Value = rows[0].get(0);
    assert_eq!(payload["kind"], "recheck");
    assert_eq!(payload["fns_pending"], 1);
    let skew: f64 = rows[0].get(1);
    assert!(
        skew.abs() < 2.0,
        "due with next_attempt_at, off by {skew} s"
    );
    assert_eq!(app.proverkacheka.calls(), 0);
}

#[tokio::test]
async fn a_priority_send_takes_the_next_slot_before_a_waiting_broadcast() {
    let app = spawn_app().await.expect("app");
    // 2/s: slots half a second apart, so the order is clear even on a loaded machine.
    let limiter = RateLimiter::new(&app.app.redis, 2);
    assert_eq!(
        limiter.try_acquire(1).await.expect("first"),
        Permit::Granted
    );
    let Permit::Wait { wait, reason } = limiter.try_acquire_priority(2).await.expect("priority")
    else {
        panic!("the slot after a grant is not free yet");
    };
    assert_eq!(reason, WaitReason::Rate);
    tokio::time::sleep(wait).await;
    // The slot is free now, but a priority request is waiting for it.
    assert!(matches!(
        limiter.try_acquire(3).await.expect("broadcast"),
        Permit::Wait { .. }
    ));
    assert_eq!(
        limiter.try_acquire_priority(2).await.expect("priority"),
        Permit::Granted
    );
    // And the broadcast waits for the slot after that one: the rate still holds.
    let Permit::Wait { wait, .. } = limiter.try_acquire(3).await.expect("broadcast") else {
        panic!("the rate allows no second send in this slot");
    };
    assert!(wait > Duration::from_millis(300), "{wait:?}");
}

/// Figures for BENCHMARKS.md ("Reliability" / "Outbox"), not a check:
/// `cargo test -p promo-core --test it -- outbox::commit_to_send_latency --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement; run by hand"]
async fn commit_to_send_latency_by_fast_path_and_by_relay() {
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    tokio::time::sleep(Duration::from_millis(500)).await; // the relay's LISTEN is up
    let mut figures = Vec::new();
    for fast in [true, false] {
        let mut took = Vec::new();
        for n in 0..100 {
            let chat = if fast { 9_000 + n } else { 9_500 + n };
            let started = Instant::now();
            let id = insert_message(&app, chat, "ok").await;
            if fast {
                app.app.sender.send_now(id, Duration::from_secs(2)).await;
            }
            wait_for_texts(&app, chat, 1).await;
            took.push(started.elapsed());
        }
        took.sort();
        figures.push((
            if fast { "fast path" } else { "relay" },
            took[took.len() / 2],
            took[took.len() * 99 / 100],
        ));
    }
    for (path, median, p99) in figures {
        eprintln!("outbox commit → sent at the fake, {path}: median {median:?}, p99 {p99:?}");
    }
}
