//! `GET /api/dashboard` through HTTP: figures with their growth, the daily series in the
//! promotion's time zone, recent campaigns, and clear errors for bad parameters.

use promo_testkit::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{api, operator, Operator};

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
    let who = operator(&app, "viewer", "viewer").await;
    let (status, body) = api(&app, &who, Method::GET, "/api/dashboard?days=14", None).await;
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

    let (_, short) = api(
        &app,
        &who,
        Method::GET,
        "/api/dashboard?days=7&tz=UTC",
        None,
    )
    .await;
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
    let who = operator(&app, "viewer", "viewer").await;
    for (query, field) in [
        ("days=0", "days"),
        ("days=100000", "days"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=", "tz"),
    ] {
        let (status, body) = api(
            &app,
            &who,
            Method::GET,
            &format!("/api/dashboard?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["field"].clone()),
            (400, json!(field)),
            "{query}: {body}"
        );
    }
    let (status, _) = api(&app, &who, Method::GET, "/api/dashboard?days=abc", None).await;
    assert_eq!(status, 400);
    let nobody = Operator {
        cookie: String::new(),
        csrf: String::new(),
    };
    let (status, body) = api(&app, &nobody, Method::GET, "/api/dashboard", None).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("unauthorized"))
    );
}
