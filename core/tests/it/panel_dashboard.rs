//! `GET /api/dashboard` through HTTP: figures with their growth, the daily series in the
//! promotion's time zone, recent campaigns, and clear errors for bad parameters.

use promo_testkit::{spawn_app, TestApp};
use reqwest::header::COOKIE;
use serde_json::{json, Value};

async fn signed_in(app: &TestApp, role: &str) -> String {
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        role,
        "a long enough password",
        role,
        None,
        false,
    )
    .await
    .expect("panel user");
    let response = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"login": role, "password": "a long enough password"}))
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
    cookie
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Two old shoppers and one from today; receipts in each status; tickets; a campaign.
async fn seed(app: &TestApp) {
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    client
        .batch_execute(&format!(
            "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at, created_at) VALUES
                 ({bot}, 1, 'Old', 'registered', now() - interval '10 days', now() - interval '10 days'),
                 ({bot}, 2, 'Week', 'registered', now() - interval '3 days', now() - interval '3 days'),
                 ({bot}, 3, 'Today', 'new', NULL, now() - interval '1 hour');
             INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                     fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status, created_at)
             SELECT {bot}, u.id, '9999078900001234', n, n, 1, now(), 10000, 'qr', 2, s, c
             FROM (VALUES (1, 'accepted', now() - interval '10 days'),
                          (2, 'accepted', now() - interval '2 hours'),
                          (3, 'pending', now() - interval '2 days'),
                          (4, 'rejected', now() - interval '1 hour')) AS v(n, s, c),
                  users u WHERE u.bot_id = {bot} AND u.telegram_id = 1;
             INSERT INTO tickets (bot_id, user_id, amount, source, created_at)
             SELECT {bot}, id, 5, 'manual', now() - interval '10 days' FROM users WHERE bot_id = {bot} AND telegram_id = 1;
             INSERT INTO tickets (bot_id, user_id, amount, source, created_at)
             SELECT {bot}, id, 3, 'manual', now() - interval '30 minutes' FROM users WHERE bot_id = {bot} AND telegram_id = 2;
             INSERT INTO campaigns (bot_id, kind, status, total, sent, unknown)
             VALUES ({bot}, 'broadcast', 'completed', 3, 2, 1);"
        ))
        .await
        .expect("seed");
}

#[tokio::test]
async fn the_dashboard_shows_each_figure_with_its_growth_a_daily_series_and_recent_campaigns() {
    let app = spawn_app().await.expect("app");
    seed(&app).await;
    let cookie = signed_in(&app, "viewer").await;
    let (status, body) = get(&app, &cookie, "/api/dashboard?days=14").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["users"],
        json!({"total": 3, "last_24h": 1, "last_7d": 2})
    );
    assert_eq!(
        body["registered"],
        json!({"total": 2, "last_24h": 0, "last_7d": 1})
    );
    assert_eq!(
        body["receipts_accepted"],
        json!({"total": 2, "last_24h": 1, "last_7d": 1})
    );
    assert_eq!(
        body["receipts_pending"],
        json!({"total": 1, "last_24h": 0, "last_7d": 1})
    );
    assert_eq!(
        body["receipts_rejected"],
        json!({"total": 1, "last_24h": 1, "last_7d": 1})
    );
    assert_eq!(
        body["tickets"],
        json!({"total": 8, "last_24h": 3, "last_7d": 3})
    );
    assert_eq!(body["participants"], 2);
    assert_eq!(body["campaigns"]["total"], 1);
    let daily = body["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 14);
    let sum = |field: &str| daily.iter().filter_map(|d| d[field].as_i64()).sum::<i64>();
    // The 10-day-old rows are inside a 14-day window.
    assert_eq!((sum("users"), sum("receipts"), sum("tickets")), (3, 2, 8));
    assert!(daily
        .windows(2)
        .all(|w| w[0]["day"].as_str() < w[1]["day"].as_str()));
    let campaign = &body["recent_campaigns"][0];
    assert_eq!(
        (campaign["sent"].clone(), campaign["unknown"].clone()),
        (json!(2), json!(1))
    );

    let (_, short) = get(&app, &cookie, "/api/dashboard?days=7&tz=UTC").await;
    let daily = short["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 7);
    assert_eq!(
        daily
            .iter()
            .filter_map(|d| d["users"].as_i64())
            .sum::<i64>(),
        2
    );
}

#[tokio::test]
async fn bad_dashboard_parameters_name_the_field_and_no_session_is_refused() {
    let app = spawn_app().await.expect("app");
    let cookie = signed_in(&app, "viewer").await;
    for (query, field) in [
        ("days=0", "days"),
        ("days=100000", "days"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=", "tz"),
    ] {
        let (status, body) = get(&app, &cookie, &format!("/api/dashboard?{query}")).await;
        assert_eq!(
            (status, body["field"].clone()),
            (400, json!(field)),
            "{query}: {body}"
        );
    }
    let (status, _) = get(&app, &cookie, "/api/dashboard?days=abc").await;
    assert_eq!(status, 400);
    let (status, body) = get(&app, "", "/api/dashboard").await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("unauthorized"))
    );
}
