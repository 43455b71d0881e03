//! The panel's test chat through HTTP: the operator's messages go through the bot's own
//! logic, the replies come back with their keyboards and edits, a receipt goes through
//! the verifier, and nothing of it reaches the fake Bot API; the test shopper counts in
//! no figure, audience or draw.

use std::time::{Duration, Instant};

use base64::Engine;
use promo_core::jobs::CampaignJob;
use promo_core::queue::JobMessage;
use promo_testkit::receipts::{qr_photo_jpeg, PhotoOptions, ReceiptBuilder};
use promo_testkit::{spawn_app, spawn_app_with, TestApp, TestConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, give_tickets, operator, registered_shopper, Operator};

const WELCOME: &str = "👋 Добро пожаловать в акцию «Хрустящее лето»!";
const REGISTERED: &str = "✅ Регистрация завершена!";

async fn say(app: &TestApp, who: &Operator, body: Value) -> Value {
    let (status, chat) = api(
        app,
        who,
        Method::POST,
        "/api/test-chat/messages",
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{chat}");
    chat
}

/// The bot's messages of a chat answer, as `(message_id, text)`.
fn bot_texts(chat: &Value) -> Vec<(i64, String)> {
    chat["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["from"] == "bot")
        .map(|m| {
            (
                m["message_id"].as_i64().unwrap_or_default(),
                m["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn reply_buttons(chat: &Value) -> Vec<String> {
    chat["reply_keyboard"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect()
}

/// /start, a name and the shopper's own contact: the test shopper is registered.
async fn register(app: &TestApp, who: &Operator) -> Value {
    say(app, who, json!({"text": "/start"})).await;
    say(app, who, json!({"text": "Иван Петров"})).await;
    say(app, who, json!({"contact": {"phone": "+7 916 123-45-67"}})).await
}

/// Every call the fake Bot API received: the test chat must never add one.
fn telegram_calls(app: &TestApp) -> Vec<String> {
    app.telegram
        .calls()
        .iter()
        .map(|call| format!("{} {}", call.method, call.params))
        .collect()
}

async fn panel_user_id(app: &TestApp, login: &str) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT id FROM admin_users WHERE bot_id = $1 AND login = $2",
            &[&app.app.bot_id, &login],
        )
        .await
        .expect("panel user")
        .get(0)
}

#[tokio::test]
async fn start_gets_the_welcome_with_its_reply_keyboard_from_a_flagged_test_shopper() {
    let app = spawn_app().await.expect("app");
    let who = operator(&app, "mona", "manager").await;
    let (status, empty) = api(&app, &who, Method::GET, "/api/test-chat", None).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["shopper"], Value::Null);
    assert_eq!(empty["messages"], json!([]));

    let chat = say(&app, &who, json!({"text": "/start"})).await;

    let messages = chat["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{chat}");
    assert_eq!(messages[0]["from"], "shopper");
    assert_eq!(messages[0]["text"], "/start");
    let replies = bot_texts(&chat);
    assert!(replies[0].1.starts_with(WELCOME), "{replies:?}");
    assert!(replies[0].0 > messages[0]["message_id"].as_i64().unwrap_or_default());
    assert_eq!(reply_buttons(&chat), vec!["❌ Отмена".to_owned()], "{chat}");
    assert_eq!(chat["reply_keyboard"]["resize"], true);

    let telegram_id = 1_i64 << 52 | panel_user_id(&app, "mona").await;
    assert_eq!(chat["shopper"]["telegram_id"], telegram_id);
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT is_test, status FROM users WHERE bot_id = $1 AND telegram_id = $2",
            &[&app.app.bot_id, &telegram_id],
        )
        .await
        .expect("test shopper");
    assert_eq!(
        (row.get::<_, bool>(0), row.get::<_, String>(1)),
        (true, "registering".to_owned())
    );

    // Polling after the last seq finds nothing new; the whole chat is the same two.
    let last = chat["last_seq"].as_i64().unwrap_or_default();
    let (_, later) = api(
        &app,
        &who,
        Method::GET,
        &format!("/api/test-chat?after={last}"),
        None,
    )
    .await;
    assert_eq!(later["messages"], json!([]), "{later}");
    let (_, all) = api(&app, &who, Method::GET, "/api/test-chat", None).await;
    assert_eq!(all["messages"], chat["messages"]);
    assert_eq!(telegram_calls(&app), Vec::<String>::new());
}

#[tokio::test]
async fn registration_by_contact_ends_with_the_main_menu_and_a_reset_starts_over_audited() {
    let app = spawn_app().await.expect("app");
    let who = operator(&app, "mona", "manager").await;
    let chat = register(&app, &who).await;
    let replies = bot_texts(&chat);
    assert!(
        replies
            .last()
            .is_some_and(|(_, t)| t.starts_with(REGISTERED)),
        "{replies:?}"
    );
    assert_eq!(chat["messages"][0]["contact_phone"], "+7 916 123-45-67");
    let buttons = reply_buttons(&chat);
    assert!(
        buttons.contains(&"🧾 Загрузить чек".to_owned()),
        "{buttons:?}"
    );
    assert_eq!(chat["shopper"]["status"], "registered");

    let (status, reset) = api(&app, &who, Method::POST, "/api/test-chat/reset", None).await;
    assert_eq!(status, 200, "{reset}");
    assert!(reset["events"].as_i64().unwrap_or_default() >= 6, "{reset}");
    let (_, after) = api(&app, &who, Method::GET, "/api/test-chat", None).await;
    assert_eq!(after["messages"], json!([]));
    assert_eq!(after["reply_keyboard"], Value::Null);
    assert_eq!(after["shopper"]["status"], "new");
    let audit = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT actor, target FROM audit_log WHERE bot_id = $1 AND action = 'test_chat.reset'",
            &[&app.app.bot_id],
        )
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get::<_, String>(0), "panel:mona");
    // The messages themselves are not business mutations: only the reset is audited.
    let others: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE bot_id = $1 AND action LIKE 'test_chat%'",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(others, 1);

    let again = say(&app, &who, json!({"text": "/start"})).await;
    assert!(bot_texts(&again)[0].1.starts_with(WELCOME), "{again}");
    assert_eq!(telegram_calls(&app), Vec::<String>::new());
}

#[tokio::test]
async fn an_inline_button_tap_edits_the_message_and_the_transcript_shows_the_edit() {
    let app = spawn_app().await.expect("app");
    let who = operator(&app, "mona", "manager").await;
    let menu = say(&app, &who, json!({"text": "/language"})).await;
    let (message_id, text) = bot_texts(&menu)[0].clone();
    assert!(text.contains("Выберите язык"), "{text}");
    let buttons = &menu["messages"][1]["inline_keyboard"];
    assert_eq!(buttons[0][1]["callback_data"], "lang:en", "{menu}");

    // A tap on data no button carries, or on a message that is not there, is refused.
    let (status, forged) = api(
        &app,
        &who,
        Method::POST,
        "/api/test-chat/messages",
        Some(json!({"callback_data": "lang:de", "message_id": message_id})),
    )
    .await;
    assert_eq!(
        (status, forged["field"].clone()),
        (400, json!("callback_data")),
        "{forged}"
    );
    let (status, missing) = api(
        &app,
        &who,
        Method::POST,
        "/api/test-chat/messages",
        Some(json!({"callback_data": "lang:en", "message_id": message_id + 1000})),
    )
    .await;
    assert_eq!(
        (status, missing["field"].clone()),
        (400, json!("message_id")),
        "{missing}"
    );

    let tapped = say(
        &app,
        &who,
        json!({"callback_data": "lang:en", "message_id": message_id}),
    )
    .await;
    let edited = tapped["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["message_id"] == message_id)
        .expect("the edited message is in the answer");
    assert_eq!(edited["text"], "Language: English ✅");
    assert_eq!(edited["edited"], true);
    assert_eq!(edited["inline_keyboard"], json!([]));
    assert_eq!(
        tapped["notices"].as_array().map(Vec::len),
        Some(1),
        "{tapped}"
    );

    // The whole transcript holds the message once, as it is now.
    let (_, all) = api(&app, &who, Method::GET, "/api/test-chat", None).await;
    let same: Vec<&Value> = all["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["message_id"] == message_id)
        .collect();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0]["text"], "Language: English ✅");
    let edits: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM test_chat_events WHERE kind = 'edited' AND message_id = $1",
            &[&message_id],
        )
        .await
        .expect("edits")
        .get(0);
    assert_eq!(edits, 1);
    assert_eq!(telegram_calls(&app), Vec::<String>::new());
}

#[tokio::test]
async fn a_receipt_photo_is_verified_and_its_verdict_reaches_the_transcript_but_not_telegram() {
    let app = spawn_app_with(
        TestConfig::default()
            .with_workers()
            .with("PROMO_START_DATE", "2024-09-01")
            .with("TARGET_KEYWORDS", "чипсы"),
    )
    .await
    .expect("app");
    let who = operator(&app, "mona", "manager").await;
    register(&app, &who).await;
    let receipt = ReceiptBuilder::new().item("Чипсы LAY'S сметана/зелень 140г", 12_999, 3);
    app.proverkacheka.register_receipt(&receipt);
    let jpeg = qr_photo_jpeg(&receipt.qr_text(), &PhotoOptions::default());
    let photo = base64::engine::general_purpose::STANDARD.encode(&jpeg);

    let sent = say(&app, &who, json!({"photo": {"base64": photo}})).await;
    assert_eq!(sent["messages"][0]["photo"], "sent", "{sent}");
    let mut after = sent["last_seq"].as_i64().unwrap_or_default();
    let started = Instant::now();
    let verdict = loop {
        let (_, news) = api(
            &app,
            &who,
            Method::GET,
            &format!("/api/test-chat?after={after}"),
            None,
        )
        .await;
        after = news["last_seq"].as_i64().unwrap_or(after);
        if let Some((_, text)) = bot_texts(&news)
            .into_iter()
            .find(|(_, t)| t.contains("Чек принят"))
        {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no verdict: {news}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(verdict.contains("Начислено билетов: 3"), "{verdict}");
    // The paid check was real; Telegram heard nothing (no getFile, no download, no send).
    assert_eq!(app.proverkacheka.requests().len(), 1);
    assert_eq!(telegram_calls(&app), Vec::<String>::new());
    let outbox: Vec<String> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT status FROM outbox WHERE bot_id = $1 AND kind = 'message'",
            &[&app.app.bot_id],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(outbox, vec!["sent".to_owned()]);
}

#[tokio::test]
async fn the_test_shopper_counts_in_no_dashboard_figure_broadcast_audience_user_list_or_draw() {
    let app = spawn_app().await.expect("app");
    let who = operator(&app, "mona", "manager").await;
    let real = registered_shopper(&app, 7001, "Пётр", None, "+79160000001").await;
    give_tickets(&app, real, 2).await;
    let chat = register(&app, &who).await;
    let test_user = chat["shopper"]["user_id"].as_i64().expect("test shopper");
    give_tickets(&app, test_user, 50).await;

    let (status, dashboard) = api(&app, &who, Method::GET, "/api/dashboard?days=7", None).await;
    assert_eq!(status, 200, "{dashboard}");
    assert_eq!(dashboard["users"]["total"], 1, "{dashboard}");
    assert_eq!(dashboard["registered"]["total"], 1);
    assert_eq!(dashboard["tickets"]["total"], 2);
    assert_eq!(dashboard["participants"], 1);

    let (_, count) = api(
        &app,
        &who,
        Method::POST,
        "/api/campaigns/recipients",
        Some(json!({"kind": "broadcast", "audience": {"segment": "all"}})),
    )
    .await;
    assert_eq!(count["recipients"], 1, "{count}");

    let (_, listed) = api(&app, &who, Method::GET, "/api/users", None).await;
    assert_eq!(
        listed["users"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let (_, with_test) = api(
        &app,
        &who,
        Method::GET,
        "/api/users?include_test=true",
        None,
    )
    .await;
    assert_eq!(with_test["users"].as_array().map(Vec::len), Some(2));

    let raffle: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, created_via)
             VALUES ($1, 'raffle', 'scheduled', $2, 'bot') RETURNING id",
            &[
                &app.app.bot_id,
                &json!({"prize": "iPhone", "winner_count": 5}),
            ],
        )
        .await
        .expect("raffle")
        .get(0);
    let message = JobMessage {
        message_id: "m1".into(),
        body: serde_json::to_string(&CampaignJob::Run {
            campaign_id: raffle,
        })
        .expect("json"),
        receive_count: 1,
    };
    promo_core::worker::handle_campaign_job(&app.app, message)
        .await
        .expect("the draw");
    let winners: Vec<i64> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT w.user_id FROM raffle_winners w JOIN raffle_draws d ON d.id = w.draw_id
             WHERE d.campaign_id = $1",
            &[&raffle],
        )
        .await
        .expect("winners")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        winners,
        vec![real],
        "the test shopper's 50 tickets never enter the draw"
    );
}

#[tokio::test]
async fn a_viewer_and_a_request_without_csrf_are_refused_and_bad_input_names_the_field() {
    let app = spawn_app().await.expect("app");
    let viewer = operator(&app, "vera", "viewer").await;
    for (method, path) in [
        (Method::GET, "/api/test-chat"),
        (Method::POST, "/api/test-chat/messages"),
        (Method::POST, "/api/test-chat/reset"),
    ] {
        let (status, body) =
            api(&app, &viewer, method, path, Some(json!({"text": "/start"}))).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let who = operator(&app, "mona", "manager").await;
    let no_csrf = Operator {
        cookie: who.cookie.clone(),
        csrf: String::new(),
    };
    let (status, _) = api(
        &app,
        &no_csrf,
        Method::POST,
        "/api/test-chat/messages",
        Some(json!({"text": "/start"})),
    )
    .await;
    assert_eq!(status, 403);

    let gif = base64::engine::general_purpose::STANDARD.encode(b"GIF89a....");
    for (body, field) in [
        (json!({}), "text"),
        (json!({"text": ""}), "text"),
        (json!({"text": "x".repeat(4097)}), "text"),
        (json!({"text": "hi", "photo": {"base64": gif}}), "photo"),
        (json!({"contact": {"phone": ""}}), "contact.phone"),
        (json!({"callback_data": "lang:en"}), "message_id"),
        (json!({"message_id": 5}), "callback_data"),
        (json!({"photo": {"base64": "not base64!"}}), "photo.base64"),
        (json!({"photo": {"base64": gif}}), "photo.base64"),
    ] {
        let (status, answer) = api(
            &app,
            &who,
            Method::POST,
            "/api/test-chat/messages",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status, answer["field"].clone()),
            (400, json!(field)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = api(
        &app,
        &who,
        Method::POST,
        "/api/test-chat/messages",
        Some(json!({"text": 5})),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    // Nothing refused created a test shopper or wrote a transcript.
    let (_, chat) = api(&app, &who, Method::GET, "/api/test-chat", None).await;
    assert_eq!(chat["shopper"], Value::Null);
    assert_eq!(telegram_calls(&app), Vec::<String>::new());
}

/// One request to a router as the Lambda adapter hands it over: status, headers, JSON.
async fn oneshot(
    router: &axum::Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, axum::http::HeaderMap, Value) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string())),
        None => request.body(axum::body::Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_admin_api_function_runs_the_test_chat_without_a_bot_token() {
    let app = spawn_app().await.expect("app");
    let settings = &app.app.settings;
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let env = [
        ("BOT_SLUG", settings.store.bot_slug.clone()),
        ("DATABASE_URL", app.database_url.clone()),
        ("REDIS_URL", promo_testkit::app::redis_url()),
        (
            "ADMIN_SECRET_KEY",
            "test-admin-secret-key-0123456789abcdef".to_owned(),
        ),
        ("PHONE_ENCRYPTION_KEY", key.clone()),
        ("PRIZE_DATA_KEY", key),
        ("PROMO_NAME", "Хрустящее лето".to_owned()),
    ];
    let lambda = promo_core::config::AdminApiSettings::from_lookup(|name| {
        env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    })
    .expect("admin-api settings");
    let api = promo_core::app::connect_admin_api(lambda)
        .await
        .expect("admin-api");
    let router = promo_core::server::admin_router(api);
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        "lambda",
        "a long enough password",
        "manager",
        None,
        false,
    )
    .await
    .expect("panel user");
    let (status, headers, session) = oneshot(
        &router,
        "POST",
        "/api/auth/login",
        &[],
        Some(json!({"login": "lambda", "password": "a long enough password"})),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let csrf = session["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let (status, _, chat) = oneshot(
        &router,
        "POST",
        "/api/test-chat/messages",
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        Some(json!({"text": "/start"})),
    )
    .await;
    assert_eq!(status, 200, "{chat}");
    assert!(bot_texts(&chat)[0].1.starts_with(WELCOME), "{chat}");
    assert_eq!(reply_buttons(&chat), vec!["❌ Отмена".to_owned()]);
    assert_eq!(telegram_calls(&app), Vec::<String>::new());
}
