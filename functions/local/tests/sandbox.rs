//! `promo serve` in sandbox mode, as a newcomer runs it: a real process with no bot
//! token, driven through its /sandbox API from registration to tickets for a QR photo.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use promo_testkit::db::create_database;
use promo_testkit::receipts::{qr_png, ReceiptBuilder};
use serde_json::{json, Value};

struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(database_url: &str) -> Served {
    let slug = format!("sandbox{}", std::process::id());
    let mut child = Command::new(env!("CARGO_BIN_EXE_promo"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BOT_SLUG", slug)
        .env("DATABASE_URL", database_url)
        .env("TARGET_KEYWORDS", "чипсы")
        .env("WEBHOOK_SECRET", "sandbox-test-secret")
        .env(
            "ADMIN_SECRET_KEY",
            "sandbox-test-admin-secret-key-0123456789",
        )
        .env(
            "PHONE_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("promo serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut base = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(url) = line.trim().strip_prefix("health:") {
            base = url.trim().trim_end_matches("/health").to_owned();
        }
        if line.contains("Press Ctrl+C") {
            break;
        }
    }
    assert!(base.starts_with("http://127.0.0.1:"), "no address printed");
    Served { child, base }
}

async fn bot_messages(http: &reqwest::Client, base: &str, chat: i64) -> Vec<Value> {
    http.get(format!("{base}/sandbox/api/messages?chat_id={chat}"))
        .send()
        .await
        .expect("messages")
        .json()
        .await
        .expect("json")
}

async fn wait_for_message(http: &reqwest::Client, base: &str, chat: i64, n: usize) -> Value {
    let started = Instant::now();
    loop {
        let messages = bot_messages(http, base, chat).await;
        if messages.len() >= n {
            return messages[n - 1].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} bot messages: {messages:?}",
            messages.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_registers_and_earns_tickets_for_a_receipt_photo_offline() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url);
    let http = reqwest::Client::new();
    let base = &served.base;

    let health: Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["sandbox"], true);
    assert_eq!(health["status"], "ok");

    let page = http
        .get(format!("{base}/sandbox"))
        .send()
        .await
        .expect("page");
    assert!(page.text().await.unwrap_or_default().contains("Песочница"));

    let chat = 777_001;
    let steps = [
        json!({"user_id": chat, "text": "/start"}),
        json!({"user_id": chat, "text": "Ирина"}),
        json!({"user_id": chat, "contact": "+79031234567"}),
        json!({"user_id": chat, "text": "🧾 Загрузить чек"}),
    ];
    for (i, step) in steps.iter().enumerate() {
        let sent = http
            .post(format!("{base}/sandbox/api/send"))
            .json(step)
            .send()
            .await
            .expect("send");
        assert!(sent.status().is_success(), "step {i}");
        wait_for_message(&http, base, chat, i + 1).await;
    }
    let registered = &bot_messages(&http, base, chat).await[2];
    assert!(registered["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Регистрация завершена"));

    let receipt = ReceiptBuilder::new().item("Чипсы Lay's 150г", 15_990, 2);
    let photo = http
        .post(format!("{base}/sandbox/api/photo?user_id={chat}"))
        .body(qr_png(&receipt.qr_text()))
        .send()
        .await
        .expect("photo");
    assert!(photo.status().is_success());
    let checking = wait_for_message(&http, base, chat, 5).await;
    assert!(checking["text"]
        .as_str()
        .unwrap_or_default()
        .starts_with('⏳'));
    let verdict = wait_for_message(&http, base, chat, 6).await;
    let text = verdict["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Чек принят! Начислено билетов: 1. Всего у вас билетов: 1."),
        "{text}"
    );

    let pool = promo_core::db::connect(&database_url, 1).expect("pool");
    let tickets: i64 = pool
        .get()
        .await
        .expect("client")
        .query_one(
            "SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets t
             JOIN users u ON u.id = t.user_id WHERE u.telegram_id = $1",
            &[&chat],
        )
        .await
        .expect("tickets")
        .get(0);
    assert_eq!(
        tickets, 1,
        "one promo line with the sandbox's invented receipt"
    );
}
