//! Helpers that more than one test module used, each once. Helpers only one module uses
//! stay in that module.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use promo_testkit::TestApp;
use serde_json::Value;

/// How long a test waits for the bot's replies to reach the fake Bot API.
pub const WAIT: Duration = Duration::from_secs(5);

/// The Telegram id of the admin (`ADMIN_IDS`) in the admin and raffle tests.
pub const ADMIN: i64 = 9001;

// ---------------------------------------------------------------- bot replies

/// The `text` of a `sendMessage` (or an edit) the bot made.
pub fn text_of(reply: &Value) -> &str {
    reply["text"].as_str().unwrap_or_default()
}

/// The texts of the reply-keyboard buttons of a reply, row by row flattened.
pub fn keyboard_texts(reply: &Value) -> Vec<String> {
    reply["reply_markup"]["keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect()
}

// ---------------------------------------------------------------- rows

/// Grants `amount` tickets to `user_id` by hand (source `manual`).
pub async fn give_tickets(app: &TestApp, user_id: i64, amount: i32) {
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO tickets (bot_id, user_id, amount, source, reason)
             VALUES ($1, $2, $3, 'manual', 'seed')",
            &[&app.app.bot_id, &user_id, &amount],
        )
        .await
        .expect("tickets");
}

/// `(status, total, sent, failed, blocked, unknown)` of the campaign row.
pub async fn counters(app: &TestApp, campaign_id: i64) -> (String, i32, i32, i32, i32, i32) {
    let client = app.db().await.expect("client");
    let row = client
        .query_one(
            "SELECT status, total, sent, failed, blocked, unknown FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await
        .expect("campaign row");
    (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    )
}

// ---------------------------------------------------------------- values

/// A local date and time; panics on an impossible one.
pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|date| date.and_hms_opt(h, min, s))
        .expect("valid test date")
}

// ---------------------------------------------------------------- services

/// The moto server the SQS tests use (`PROMO_TEST_SQS_ENDPOINT`).
pub fn sqs_endpoint() -> String {
    std::env::var("PROMO_TEST_SQS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9324".to_owned())
}

// ---------------------------------------------------------------- the panel's API

/// A signed-in panel user: the session cookie and the CSRF token its requests carry.
pub struct Operator {
    pub cookie: String,
    pub csrf: String,
}

/// Creates a panel user `login` with `role` and signs them in through the API.
pub async fn operator(app: &TestApp, login: &str, role: &str) -> Operator {
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        login,
        "a long enough password",
        role,
        None,
        false,
    )
    .await
    .expect("panel user");
    let response = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"login": login, "password": "a long enough password"}))
        .send()
        .await
        .expect("login");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("__Host-promo_session="), "{cookie}");
    let body: Value = response.json().await.expect("session");
    Operator {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap_or_default().to_owned(),
    }
}

/// One request to the panel's API as `who`: the status and the JSON body (`null` when
/// there is none).
pub async fn api(
    app: &TestApp,
    who: &Operator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, app.url(path))
        .header(reqwest::header::COOKIE, &who.cookie)
        .header("X-CSRF-Token", &who.csrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A registered shopper with a sealed phone (`phone` in any spelling); returns its id.
pub async fn registered_shopper(
    app: &TestApp,
    telegram_id: i64,
    name: &str,
    username: Option<&str>,
    phone: &str,
) -> i64 {
    let sealed = app
        .app
        .settings
        .phone_key
        .seal(&promo_core::pii::Phone::parse(phone).expect("phone"));
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, username, status,
                                registered_at, phone_ciphertext, phone_hash, phone_masked)
             VALUES ($1, $2, $3, $3, $4, 'registered', now(), $5, $6, $7) RETURNING id",
            &[
                &app.app.bot_id,
                &telegram_id,
                &name,
                &username,
                &sealed.ciphertext,
                &sealed.hash,
                &sealed.masked,
            ],
        )
        .await
        .expect("shopper")
        .get(0)
}
