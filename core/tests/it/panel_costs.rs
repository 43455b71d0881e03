//! The costs page through HTTP, on seeded rows: paid ProverkaCheka calls, calls saved by
//! local rejections, and paid-broadcast Stars, per day and per campaign.

use promo_testkit::spawn_app;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{api, operator};

/// Midday of yesterday in UTC, so the test means the same at any hour.
const YESTERDAY: &str =
    "((date_trunc('day', now() AT TIME ZONE 'UTC') - interval '12 hours') AT TIME ZONE 'UTC')";

#[tokio::test]
async fn costs_count_paid_calls_saved_calls_and_paid_broadcast_stars_per_day_and_campaign() {
    let app = spawn_app().await.expect("app");
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    let user: i64 = client
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name) VALUES ($1, 77, 'Анна') RETURNING id",
            &[&bot],
        )
        .await
        .expect("user")
        .get(0);
    client
        .batch_execute(&format!(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, status, outcome, provider_calls, created_at) VALUES
                 -- today: one accepted (1 call), one given up after 2 calls
                 ({bot}, {user}, 'qr_text', 'accepted', 'accepted', 1, now()),
                 ({bot}, {user}, 'qr_text', 'rejected', 'fns_failed', 2, now()),
                 -- today: refused locally, no call (3 saved) ...
                 ({bot}, {user}, 'qr_text', 'rejected', 'duplicate', 0, now()),
                 ({bot}, {user}, 'qr_text', 'rejected', 'duplicate', 0, now()),
                 ({bot}, {user}, 'qr_text', 'rejected', 'not_a_sale', 0, now()),
                 -- ... and a photo without a QR code, which never could have been checked
                 ({bot}, {user}, 'photo', 'rejected', 'bad_image', 0, now()),
                 -- yesterday: one accepted (1 call)
                 ({bot}, {user}, 'qr_text', 'accepted', 'accepted', 1, {YESTERDAY}),
                 -- before the period
                 ({bot}, {user}, 'qr_text', 'accepted', 'accepted', 5, now() - interval '10 days'),
                 ({bot}, {user}, 'qr_text', 'rejected', 'duplicate', 0, now() - interval '10 days');
             INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, created_at) VALUES
                 ({bot}, {user}, '9999078900001234', 1, 1, 1, '2026-01-01 10:00', 100, 'qr', now()),
                 ({bot}, {user}, '9999078900001234', 2, 2, 1, '2026-01-01 10:00', 100, 'qr', {YESTERDAY}),
                 ({bot}, {user}, '9999078900001234', 3, 3, 1, '2026-01-01 10:00', 100, 'qr', now() - interval '10 days');
             INSERT INTO campaigns (id, bot_id, kind, status, paid_broadcast) VALUES
                 (900101, {bot}, 'broadcast', 'completed', TRUE),
                 (900102, {bot}, 'broadcast', 'completed', FALSE);"
        ))
        .await
        .expect("seed");
    // Deliveries need distinct users per campaign.
    for (n, (campaign, status, sent_at)) in [
        (900101, "sent", "now()"),
        (900101, "sent", "now()"),
        (900101, "sent", "now()"),
        (900101, "failed", "NULL"),
        (900101, "sent", YESTERDAY),
        (900101, "sent", "now() - interval '10 days'"),
        (900102, "sent", "now()"),
        (900102, "sent", "now()"),
    ]
    .into_iter()
    .enumerate()
    {
        let n = n as i64;
        client
            .batch_execute(&format!(
                "WITH u AS (INSERT INTO users (bot_id, telegram_id, first_name)
                            VALUES ({bot}, {}, 'r') RETURNING id)
                 INSERT INTO campaign_deliveries (campaign_id, bot_id, user_id, chat_id, status, sent_at)
                 SELECT {campaign}, {bot}, id, {}, '{status}', {sent_at} FROM u",
                1000 + n,
                1000 + n
            ))
            .await
            .expect("delivery");
    }

    let viewer = operator(&app, "vic", "viewer").await;
    let (status, body) = api(&app, &viewer, Method::GET, "/api/costs?days=2&tz=UTC", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["days"].clone(), body["tz"].clone()),
        (json!(2), json!("UTC"))
    );
    assert_eq!(
        body["totals"],
        json!({
            "provider_calls": 4,
            "receipts_accepted": 2,
            "calls_per_accepted_receipt": 2.0,
            "calls_saved": 3,
            "paid_broadcast_messages": 4,
            "stars": 0.4
        })
    );
    assert_eq!(
        body["saved_by_outcome"],
        json!([{"outcome": "duplicate", "submissions": 2}, {"outcome": "not_a_sale", "submissions": 1}])
    );
    let daily = body["daily"].as_array().expect("daily");
    assert_eq!(daily.len(), 2);
    assert_eq!(daily[0]["provider_calls"], 1);
    assert_eq!(daily[0]["paid_broadcast_messages"], 1);
    assert_eq!(daily[1]["provider_calls"], 3);
    assert_eq!(daily[1]["calls_per_accepted_receipt"], 3.0);
    assert_eq!(daily[1]["calls_saved"], 3);
    assert_eq!(daily[1]["stars"], 0.3);
    assert_eq!(
        body["campaigns"],
        json!([{"campaign_id": 900101, "kind": "broadcast", "status": "completed",
                "paid_broadcast_messages": 4, "stars": 0.4}])
    );
}

#[tokio::test]
async fn costs_of_an_empty_period_are_zeros_and_bad_parameters_name_their_field() {
    let app = spawn_app().await.expect("app");
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, body) = api(&app, &viewer, Method::GET, "/api/costs", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["days"], 30);
    assert_eq!(body["tz"], "Europe/Moscow");
    assert_eq!(body["daily"].as_array().map(Vec::len), Some(30));
    assert_eq!(body["totals"]["provider_calls"], 0);
    assert!(body["totals"]["calls_per_accepted_receipt"].is_null());
    for (query, field) in [
        ("days=0", "days"),
        ("days=367", "days"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=", "tz"),
    ] {
        let (status, body) = api(
            &app,
            &viewer,
            Method::GET,
            &format!("/api/costs?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["field"].clone()),
            (400, json!(field)),
            "{query}: {body}"
        );
    }
    let (status, _) = api(&app, &viewer, Method::GET, "/api/costs?days=many", None).await;
    assert_eq!(status, 400);
}
