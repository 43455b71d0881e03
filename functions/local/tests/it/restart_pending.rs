//! `promo serve` killed with SIGKILL while re-checks and notifications wait in the outbox:
//! after a restart every one of them happens on time, at the fake Bot API and at the fake
//! ProverkaCheka, which run in this test process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use promo_testkit::db::create_database;
use promo_testkit::proverkacheka::FakeProverkaCheka;
use promo_testkit::receipts::ReceiptBuilder;
use promo_testkit::telegram::{Failure, FakeTelegram};
use serde_json::json;

const TOKEN: &str = "123456:restart-test-token";
const PROVERKA_TOKEN: &str = "restart-test-proverka-token";

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Served {
    /// SIGKILL: no shutdown path runs, whatever was in the in-process queue is gone.
    fn kill_9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(
    database_url: &str,
    slug: &str,
    telegram: &FakeTelegram,
    pc: &FakeProverkaCheka,
) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promo"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BOT_SLUG", slug)
        .env("BOT_TOKEN", TOKEN)
        .env("TELEGRAM_API_URL", telegram.base_url())
        .env("PROVERKA_CHEKA_TOKEN", PROVERKA_TOKEN)
        .env("PROVERKA_CHEKA_URL", pc.base_url())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", promo_testkit::app::redis_url())
        .env("PROMO_START_DATE", "2024-09-01")
        .env("PROMO_END_DATE", "2024-09-30")
        .env("TARGET_KEYWORDS", "чипсы")
        .env("WEBHOOK_SECRET", "restart-test-secret")
        .env(
            "ADMIN_SECRET_KEY",
            "restart-test-admin-secret-key-0123456789",
        )
        .env(
            "PHONE_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .env(
            "PRIZE_DATA_KEY",
            base64::engine::general_purpose::STANDARD.encode([17u8; 32]),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("promo serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut ready = false;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        if line.contains("Press Ctrl+C") {
            ready = true;
            break;
        }
    }
    assert!(ready, "promo serve did not start");
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Served(child)
}

async fn wait_until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_rechecks_and_notifications_survive_a_kill_9_and_happen_on_time() {
    let telegram = FakeTelegram::start().await.expect("fake Bot API");
    let pc = FakeProverkaCheka::start(PROVERKA_TOKEN)
        .await
        .expect("fake ProverkaCheka");
    let database_url = create_database().await.expect("database");
    let slug = format!("restart{}", std::process::id());
    let first = tokio::task::block_in_place(|| serve(&database_url, &slug, &telegram, &pc));

    let pool = promo_core::db::connect(&database_url, 2).expect("pool");
    let db = pool.get().await.expect("db");
    let bot_id: i64 = db
        .query_one("SELECT id FROM bots WHERE slug = $1", &[&slug])
        .await
        .expect("bot row")
        .get(0);
    let shopper_chat = 8_001_i64;
    let user_id: i64 = db
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, status, registered_at)
             VALUES ($1, $2, 'Иван', 'Иван Петров', 'registered', now()) RETURNING id",
            &[&bot_id, &shopper_chat],
        )
        .await
        .expect("user")
        .get(0);
    let receipt = ReceiptBuilder::new().item("Чипсы LAY'S 140г", 12_999, 2);
    pc.register_receipt(&receipt);

    // A receipt the tax service did not have yet: its re-check is due in a few seconds
    // (hours in production; set in the database here).
    const RECHECK_IN: f64 = 8.0;
    let submission: i64 = db
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, qr_raw, status, outcome,
                                              attempts, next_attempt_at)
             VALUES ($1, $2, 'qr_text', $3, 'retry_scheduled', 'fns_pending', 1,
                     now() + make_interval(secs => $4))
             RETURNING id",
            &[&bot_id, &user_id, &receipt.qr_text(), &RECHECK_IN],
        )
        .await
        .expect("submission")
        .get(0);
    let recheck = json!({"kind": "recheck", "submission_id": submission, "attempt": 1,
                         "fns_pending": 1, "provider_failures": 0});
    db.execute(
        "INSERT INTO outbox (bot_id, kind, purpose, user_id, submission_id, payload, due_at,
                             dedup_key)
         SELECT $1, 'receipt_check', 'receipt_check', $2, $3, $4, next_attempt_at, $5
         FROM receipt_submissions WHERE id = $3",
        &[
            &bot_id,
            &user_id,
            &submission,
            &recheck,
            &format!("receipt:{submission}:1"),
        ],
    )
    .await
    .expect("re-check row");
    let recheck_due = Instant::now() + Duration::from_secs_f64(RECHECK_IN);

    // Notifications Telegram refuses at first: each gets 500 once before the kill.
    let winners = [8_101_i64, 8_102, 8_103];
    telegram.fail_next("sendMessage", 3, Failure::ServerError);
    for chat in winners {
        let payload = json!({"method": "sendMessage",
                             "params": {"chat_id": chat, "text": "🎉 Вы выиграли!"}});
        db.execute(
            "INSERT INTO outbox (bot_id, kind, purpose, chat_id, payload)
             VALUES ($1, 'message', 'winner', $2, $3)",
            &[&bot_id, &chat, &payload],
        )
        .await
        .expect("message row");
    }
    wait_until("the first refused sends", Duration::from_secs(20), || {
        telegram.calls_to("sendMessage").len() >= 3
    })
    .await;
    assert!(
        telegram.sent_messages().is_empty(),
        "all three were refused"
    );
    tokio::task::block_in_place(|| first.kill_9());
    let killed = Instant::now();
    assert_eq!(pc.calls(), 0, "the re-check was not due before the kill");

    let _second = tokio::task::block_in_place(|| serve(&database_url, &slug, &telegram, &pc));
    let restarted = killed.elapsed();
    let resent = wait_until(
        "every notification after the restart",
        Duration::from_secs(30),
        || {
            let sent = telegram.sent_messages();
            winners
                .iter()
                .all(|chat| sent.iter().any(|m| m.chat_id == *chat))
        },
    )
    .await;
    let checked = wait_until(
        "the re-check at the fake ProverkaCheka",
        Duration::from_secs(60),
        || pc.calls() >= 1,
    )
    .await;
    let late = Instant::now().saturating_duration_since(recheck_due);
    let early = recheck_due.saturating_duration_since(Instant::now());
    assert!(
        early < Duration::from_millis(500),
        "checked {early:?} before it was due"
    );
    wait_until("the shopper's result", Duration::from_secs(30), || {
        telegram
            .sent_messages()
            .iter()
            .any(|m| m.chat_id == shopper_chat && m.text.contains("Чек принят"))
    })
    .await;
    // Let a duplicate show up before counting copies.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = telegram.sent_messages();
    for chat in winners.iter().chain([&shopper_chat]) {
        assert_eq!(
            sent.iter().filter(|m| m.chat_id == *chat).count(),
            1,
            "chat {chat}"
        );
    }
    assert_eq!(pc.calls(), 1, "one paid call");
    let status: String = db
        .query_one(
            "SELECT status FROM receipt_submissions WHERE id = $1",
            &[&submission],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(status, "accepted");
    eprintln!(
        "restart_pending: restart took {restarted:?}; notifications sent {resent:?} after it; \
         re-check {late:?} after its due time (waited {checked:?} for it)"
    );
}
