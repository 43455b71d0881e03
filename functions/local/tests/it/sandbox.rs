//! `promo serve` in sandbox mode, as a newcomer runs it: a real process with no bot
//! token, driven through the /sandbox API, from registration to tickets, inline buttons,
//! reply keyboards, uploads, the index page and a restart; `/sandbox` itself leads to
//! the panel's test chat.

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

impl Served {
    /// Stops the process as a supervisor would (SIGTERM) and waits for it to exit.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("promo serve did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(database_url: &str, env: &[(&str, &str)]) -> Served {
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
        .env(
            "PRIZE_DATA_KEY",
            base64::engine::general_purpose::STANDARD.encode([13u8; 32]),
        )
        .envs(env.iter().copied())
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

/// The chat as `/sandbox/api/messages` shows it: `{"messages": [...], "reply_keyboard": ...}`.
async fn chat_view(http: &reqwest::Client, base: &str, chat: i64) -> Value {
    http.get(format!("{base}/sandbox/api/messages?chat_id={chat}"))
        .send()
        .await
        .expect("messages")
        .json()
        .await
        .expect("json")
}

async fn bot_messages(http: &reqwest::Client, base: &str, chat: i64) -> Vec<Value> {
    chat_view(http, base, chat).await["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["from"] == "bot")
        .collect()
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

fn text(message: &Value) -> &str {
    message["text"].as_str().unwrap_or_default()
}

/// Sends what the page sends and returns the answer's status and JSON body.
async fn post(http: &reqwest::Client, base: &str, path: &str, body: Value) -> (u16, Value) {
    let response = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends a text (or a contact) and waits until the bot has answered with `n` messages.
async fn say(http: &reqwest::Client, base: &str, chat: i64, step: Value, n: usize) -> Value {
    let mut body = step;
    body["user_id"] = json!(chat);
    let (status, answer) = post(http, base, "/sandbox/api/send", body).await;
    assert_eq!(status, 200, "{answer}");
    wait_for_message(http, base, chat, n).await
}

/// Registers `chat` as the page user would; returns the number of bot messages so far.
async fn register(http: &reqwest::Client, base: &str, chat: i64) -> usize {
    say(http, base, chat, json!({"text": "/start"}), 1).await;
    say(http, base, chat, json!({"text": "Ирина"}), 2).await;
    let done = say(http, base, chat, json!({"contact": "+79031234567"}), 3).await;
    assert!(text(&done).contains("Регистрация завершена"), "{done}");
    3
}

/// The text of the reply-keyboard button whose text contains `needle`.
fn keyboard_button(view: &Value, needle: &str) -> String {
    view["reply_keyboard"]["keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["text"].as_str())
        .find(|text| text.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} button on the keyboard: {view}"))
        .to_owned()
}

fn callbacks(message: &Value) -> Vec<String> {
    message["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["callback_data"].as_str().map(str::to_owned))
        .collect()
}

async fn press(http: &reqwest::Client, base: &str, chat: i64, message: &Value, data: &str) {
    let body = json!({"user_id": chat, "message_id": message["message_id"], "data": data});
    let (status, answer) = post(http, base, "/sandbox/api/press", body).await;
    assert_eq!(status, 200, "pressing {data}: {answer}");
}

/// The bot's message `message_id` as the page shows it now.
async fn message_now(http: &reqwest::Client, base: &str, chat: i64, message_id: &Value) -> Value {
    bot_messages(http, base, chat)
        .await
        .into_iter()
        .find(|m| &m["message_id"] == message_id)
        .unwrap_or_else(|| panic!("message {message_id} is gone"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_registers_and_earns_tickets_for_a_receipt_photo_offline() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url, &[]);
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

    // The chat page is the panel's test chat; without a built panel, /sandbox says so.
    let page = http
        .get(format!("{base}/sandbox"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap_or_default().contains("/test-chat"));

    let chat = 777_001;
    register(&http, base, chat).await;
    let upload = keyboard_button(&chat_view(&http, base, chat).await, "Загрузить чек");
    say(&http, base, chat, json!({"text": upload}), 4).await;

    let receipt = ReceiptBuilder::new().item("Чипсы Lay's 150г", 15_990, 2);
    let photo = http
        .post(format!("{base}/sandbox/api/photo?user_id={chat}"))
        .body(qr_png(&receipt.qr_text()))
        .send()
        .await
        .expect("photo");
    assert!(photo.status().is_success());
    let checking = wait_for_message(&http, base, chat, 5).await;
    assert!(text(&checking).starts_with('⏳'), "{checking}");
    let verdict = wait_for_message(&http, base, chat, 6).await;
    assert!(
        text(&verdict).contains("Чек принят! Начислено билетов: 1. Всего у вас билетов: 1."),
        "{verdict}"
    );

    // The page shows the user's side of the chat too, in order, as Telegram would.
    let view = chat_view(&http, base, chat).await;
    let messages = view["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages[0]["from"], "user");
    assert_eq!(messages[0]["text"], "/start");
    assert_eq!(messages[1]["from"], "bot");
    assert!(messages
        .iter()
        .any(|m| m["from"] == "user" && m["attachment"] == "photo"));
    let ids: Vec<i64> = messages
        .iter()
        .filter_map(|m| m["message_id"].as_i64())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_page_leads_to_the_panels_test_chat() {
    let database_url = create_database().await.expect("database");
    let panel = std::env::temp_dir().join(format!("promo-panel-{}", std::process::id()));
    std::fs::create_dir_all(&panel).expect("panel dir");
    std::fs::write(
        panel.join("index.html"),
        "<!doctype html><title>panel</title>",
    )
    .expect("index");
    let served = serve(
        &database_url,
        &[("PANEL_DIR", &panel.display().to_string())],
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{}/sandbox", served.base))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers().get("location").and_then(|l| l.to_str().ok()),
        Some("/test-chat")
    );
    // The chat's JSON routes stay where scripts use them.
    let messages = http
        .get(format!("{}/sandbox/api/messages?chat_id=1", served.base))
        .send()
        .await
        .expect("messages");
    assert_eq!(messages.status(), 200);
    served.stop();
    let _ = std::fs::remove_dir_all(&panel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faq_topics_open_from_their_buttons_and_edit_the_message_in_place() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url, &[]);
    let http = reqwest::Client::new();
    let base = &served.base;
    let chat = 777_002;
    let n = register(&http, base, chat).await;

    let faq = keyboard_button(&chat_view(&http, base, chat).await, "FAQ");
    let topics = say(&http, base, chat, json!({"text": faq}), n + 1).await;
    let topic_buttons = callbacks(&topics);
    assert!(topic_buttons.len() >= 2, "topics are buttons: {topics}");

    press(&http, base, chat, &topics, &topic_buttons[0]).await;
    let answer = message_now(&http, base, chat, &topics["message_id"]).await;
    assert_ne!(
        text(&answer),
        text(&topics),
        "the topic's answer replaced the list"
    );
    assert_eq!(answer["edited"], true);
    let back = callbacks(&answer);
    assert_eq!(back.len(), 1, "a back button under the answer: {answer}");

    press(&http, base, chat, &answer, &back[0]).await;
    let again = message_now(&http, base, chat, &topics["message_id"]).await;
    assert_eq!(text(&again), text(&topics));
    assert_eq!(callbacks(&again), topic_buttons);
    assert_eq!(
        bot_messages(&http, base, chat).await.len(),
        n + 1,
        "taps edit the message instead of sending new ones"
    );

    // A button the message no longer has cannot be pressed, and the page is told why.
    let body = json!({"user_id": chat, "message_id": topics["message_id"], "data": back[0]});
    let (status, refused) = post(&http, base, "/sandbox/api/press", body).await;
    assert_eq!(status, 409);
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no button"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_works_from_its_buttons_and_replaces_the_menu() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url, &[]);
    let http = reqwest::Client::new();
    let base = &served.base;
    let chat = 777_003;
    let n = register(&http, base, chat).await;
    let russian_menu = chat_view(&http, base, chat).await["reply_keyboard"].clone();

    let choice = say(&http, base, chat, json!({"text": "/language"}), n + 1).await;
    assert!(
        callbacks(&choice).contains(&"lang:en".to_owned()),
        "{choice}"
    );
    press(&http, base, chat, &choice, "lang:en").await;

    let chosen = message_now(&http, base, chat, &choice["message_id"]).await;
    assert_ne!(text(&chosen), text(&choice));
    assert!(
        chosen["inline_keyboard"].is_null(),
        "the choice is made: {chosen}"
    );
    wait_for_message(&http, base, chat, n + 2).await;
    let english_menu = chat_view(&http, base, chat).await["reply_keyboard"].clone();
    assert!(english_menu["keyboard"].is_array(), "{english_menu}");
    assert_ne!(english_menu, russian_menu, "the menu is now in English");

    let pool = promo_core::db::connect(&database_url, 1).expect("pool");
    let language: String = pool
        .get()
        .await
        .expect("client")
        .query_one(
            "SELECT language FROM users WHERE telegram_id = $1",
            &[&chat],
        )
        .await
        .expect("user")
        .get(0);
    assert_eq!(language, "en");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_previews_a_broadcast_and_sends_it_with_the_preview_buttons() {
    let database_url = create_database().await.expect("database");
    let chat = 777_004;
    let admin_ids = chat.to_string();
    let served = serve(&database_url, &[("ADMIN_IDS", &admin_ids)]);
    let http = reqwest::Client::new();
    let base = &served.base;
    let n = register(&http, base, chat).await;

    let broadcast = keyboard_button(&chat_view(&http, base, chat).await, "Рассылка");
    say(&http, base, chat, json!({"text": broadcast}), n + 1).await;
    let announcement = "Завтра в 12:00 — прямой эфир розыгрыша!";
    say(&http, base, chat, json!({"text": announcement}), n + 3).await;
    let preview = bot_messages(&http, base, chat)
        .await
        .into_iter()
        .find(|m| text(m) == announcement && !m["inline_keyboard"].is_null())
        .expect("the preview: the message as shoppers will see it, with the admin's choices");
    let send_now = callbacks(&preview)
        .into_iter()
        .find(|data| data.ends_with(":now"))
        .unwrap_or_else(|| panic!("a send-now button: {preview}"));

    press(&http, base, chat, &preview, &send_now).await;
    let pressed = message_now(&http, base, chat, &preview["message_id"]).await;
    assert!(
        pressed["inline_keyboard"].is_null(),
        "the choice removes the buttons: {pressed}"
    );
    // The admin is a registered shopper too, so the broadcast itself arrives in this chat.
    let started = Instant::now();
    loop {
        let delivered = bot_messages(&http, base, chat)
            .await
            .into_iter()
            .filter(|m| text(m) == announcement)
            .count();
        if delivered == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the broadcast did not arrive: {:?}",
            bot_messages(&http, base, chat).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_keyboard_stays_until_a_message_replaces_or_removes_it() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url, &[]);
    let http = reqwest::Client::new();
    let base = &served.base;
    let chat = 777_005;

    say(&http, base, chat, json!({"text": "/start"}), 1).await;
    let asking_name = chat_view(&http, base, chat).await["reply_keyboard"].clone();
    say(&http, base, chat, json!({"text": "Ирина"}), 2).await;
    let asking_phone = chat_view(&http, base, chat).await;
    let share = asking_phone["reply_keyboard"]["keyboard"][0][0].clone();
    assert_eq!(share["request_contact"], true, "{asking_phone}");
    assert_ne!(asking_phone["reply_keyboard"], asking_name);
    say(&http, base, chat, json!({"contact": "+79031234567"}), 3).await;
    let menu = chat_view(&http, base, chat).await["reply_keyboard"].clone();
    assert!(menu["keyboard"].is_array(), "{menu}");

    // FAQ answers with a message of its own (inline buttons, no reply keyboard): the menu
    // stays under the input, as in Telegram.
    let faq = keyboard_button(&chat_view(&http, base, chat).await, "FAQ");
    let topics = say(&http, base, chat, json!({"text": faq}), 4).await;
    assert!(!topics["inline_keyboard"].is_null());
    assert_eq!(chat_view(&http, base, chat).await["reply_keyboard"], menu);
    say(&http, base, chat, json!({"text": "/help"}), 5).await;
    assert_eq!(chat_view(&http, base, chat).await["reply_keyboard"], menu);
}

/// A PNG of random noise: incompressible, so its size is about width × height × 3 bytes.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    let picture = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png");
    bytes.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_up_to_the_bots_limit_are_accepted_and_every_refusal_is_a_readable_error() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url, &[]);
    let http = reqwest::Client::new();
    let base = &served.base;
    let chat = 777_006;
    let n = register(&http, base, chat).await;
    let upload = |body: Vec<u8>| {
        http.post(format!("{base}/sandbox/api/photo?user_id={chat}"))
            .body(body)
            .send()
    };

    // A 3 MB photo (more than axum's default body limit of 2 MB) reaches the bot.
    let photo = noise_png(1000, 1000);
    assert!(photo.len() > 3_000_000, "{} bytes", photo.len());
    let accepted = upload(photo).await.expect("upload");
    assert_eq!(accepted.status(), 200);
    let answer = wait_for_message(&http, base, chat, n + 1).await;
    assert!(!text(&answer).is_empty());

    // Over the bot's 10 MB: a JSON error the page can show.
    let too_big = upload(vec![0u8; 10 * 1024 * 1024 + 1])
        .await
        .expect("upload");
    assert_eq!(too_big.status(), 413);
    let error: Value = too_big.json().await.expect("a JSON error");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("10 MB"),
        "{error}"
    );

    let not_a_picture = upload(b"%PDF-1.7 not a photo".to_vec())
        .await
        .expect("upload");
    assert_eq!(not_a_picture.status(), 400);
    let error: Value = not_a_picture.json().await.expect("a JSON error");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("JPEG"));

    let garbled = http
        .post(format!("{base}/sandbox/api/send"))
        .header("content-type", "application/json")
        .body("{\"user_id\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(garbled.status(), 400);
    let error: Value = garbled.json().await.expect("a JSON error");
    assert!(error["message"].is_string(), "{error}");
    assert_eq!(
        bot_messages(&http, base, chat).await.len(),
        n + 1,
        "refusals reach nobody"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_on_the_same_database_still_answers() {
    let database_url = create_database().await.expect("database");
    let http = reqwest::Client::new();
    let chat = 777_007;
    for round in 1..=2 {
        let served = serve(&database_url, &[]);
        let answer = say(&http, &served.base, chat, json!({"text": "/start"}), 1).await;
        assert!(!text(&answer).is_empty(), "round {round}");
        served.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_lists_what_this_process_serves() {
    let database_url = create_database().await.expect("database");
    let served = serve(&database_url, &[]);
    let http = reqwest::Client::new();
    let base = &served.base;

    let index = http.get(format!("{base}/")).send().await.expect("index");
    assert_eq!(index.status(), 200);
    let page = index.text().await.unwrap_or_default();
    for link in [
        r#"<a href="/sandbox">"#,
        r#"<a href="/health">"#,
        "/telegram/webhook",
    ] {
        assert!(page.contains(link), "{link} missing from {page}");
    }
    let missing = http
        .get(format!("{base}/admin"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("a JSON 404");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("GET /"));
}
