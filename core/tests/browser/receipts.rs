//! The Receipts page in a browser: filters, a receipt opened with its lines and fraud
//! signals, the moderation queue (reject with a reason the shopper is told at the fake
//! Bot API, approve granting the tickets) and the suspicious-seller queue.

use std::time::Duration;

use promo_testkit::{TestApp, TestConfig};
use serde_json::{json, Value};

use crate::harness::Panel;

const INN: &str = "7701234567";

struct Seeded {
    anna: i64,
    boris: i64,
    /// Anna's receipt held for review (3 tickets), and Boris's of the same shop (2).
    held: i64,
    held_too: i64,
}

async fn shopper(app: &TestApp, telegram_id: i64, name: &str) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, status, registered_at, language)
             VALUES ($1, $2, $3, $3, 'registered', now(), 'ru') RETURNING id",
            &[&app.app.bot_id, &telegram_id, &name],
        )
        .await
        .expect("user")
        .get(0)
}

#[allow(clippy::too_many_arguments)]
async fn receipt(
    app: &TestApp,
    user: i64,
    fd: i64,
    status: &str,
    tickets: i32,
    total_kopecks: i64,
    seller: (&str, &str),
    items: Value,
    signals: Value,
) -> i64 {
    let client = app.db().await.expect("db");
    let submission: Option<i64> = if status == "pending" {
        Some(
            client
                .query_one(
                    "INSERT INTO receipt_submissions (bot_id, user_id, source, status, outcome)
                     VALUES ($1, $2, 'qr_text', 'pending_moderation', 'held_for_review') RETURNING id",
                    &[&app.app.bot_id, &user],
                )
                .await
                .expect("submission")
                .get(0),
        )
    } else {
        None
    };
    client
        .query_one(
            "INSERT INTO receipts (bot_id, user_id, submission_id, fiscal_drive_number,
                 fiscal_document_number, fiscal_sign, operation_type, receipt_at, total_kopecks,
                 raw_qr, tickets, status, seller_inn, seller_name, seller_address, items, fraud_signals)
             VALUES ($1, $2, $3, '9999078900001234', $4, $4, 1, '2024-09-17 18:01:00', $5,
                     $12, $6, $7, $8, $9, 'Москва, ул. Тверская, 7', $10, $11)
             RETURNING id",
            &[
                &app.app.bot_id,
                &user,
                &submission,
                &fd,
                &total_kopecks,
                &tickets,
                &status,
                &seller.0,
                &seller.1,
                &items,
                &signals,
                &format!(
                    "t=20240917T1801&s={}.{:02}&fn=9999078900001234&i={fd}&fp={fd}&n=1",
                    total_kopecks / 100,
                    total_kopecks % 100
                ),
            ],
        )
        .await
        .expect("receipt")
        .get(0)
}

async fn seed(app: &TestApp) -> Seeded {
    let anna = shopper(app, 6001, "Анна Смирнова").await;
    let boris = shopper(app, 6002, "Борис Петров").await;
    let shop = (INN, "ООО Ромашка");
    let lines = json!([
        {"name": "Чипсы Lay's 140г", "price": 12999, "quantity": 2, "sum": 25998, "promo": true},
        {"name": "Хлеб Бородинский", "price": 5900, "quantity": 1, "sum": 5900, "promo": false},
        {"name": "Сок яблочный 1л", "price": 18102, "quantity": 1, "sum": 18102, "promo": false}
    ]);
    let over_limit = json!([
        {"kind": "seller_daily_limit", "seller_inn": INN, "day": "2024-09-17", "accepted": 50, "limit": 50},
        {"kind": "upload_burst", "uploads": 6, "window_minutes": 10}
    ]);
    receipt(
        app,
        anna,
        1,
        "accepted",
        2,
        31_900,
        ("7812345678", "ИП Кузнецов"),
        lines.clone(),
        json!([]),
    )
    .await;
    receipt(
        app,
        boris,
        2,
        "rejected",
        0,
        4_500,
        ("7812345678", "ИП Кузнецов"),
        json!([]),
        json!([]),
    )
    .await;
    receipt(
        app,
        boris,
        3,
        "accepted",
        1,
        12_999,
        shop,
        lines.clone(),
        json!([]),
    )
    .await;
    let held = receipt(
        app,
        anna,
        11,
        "pending",
        3,
        50_000,
        shop,
        lines.clone(),
        over_limit.clone(),
    )
    .await;
    let held_too = receipt(
        app, boris, 12, "pending", 2, 25_998, shop, lines, over_limit,
    )
    .await;
    Seeded {
        anna,
        boris,
        held,
        held_too,
    }
}

async fn receipt_status(app: &TestApp, id: i64) -> (String, Option<String>) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT status, moderation_reason FROM receipts WHERE id = $1",
            &[&id],
        )
        .await
        .expect("receipt");
    (row.get(0), row.get(1))
}

async fn tickets_of(app: &TestApp, user: i64) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT COALESCE(sum(amount), 0)::BIGINT FROM tickets WHERE user_id = $1",
            &[&user],
        )
        .await
        .expect("tickets")
        .get(0)
}

#[tokio::test]
async fn a_pending_receipt_is_rejected_with_a_reason_and_the_shopper_is_told_at_the_fake_bot_api() {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    let seeded = seed(&panel.app).await;
    panel.signed_in_as("manager").await;
    panel.goto("/").await;
    panel.goto("/receipts?tab=moderation").await;
    // Both held receipts wait, newest first; the first is open with lines and signals.
    panel.wait_for("#queue li:nth-child(2)").await;
    panel
        .wait_for(&format!(
            "#receipt-detail[data-receipt-id='{}']",
            seeded.held_too
        ))
        .await;
    panel
        .click(&format!(".queue-item[data-receipt-id='{}']", seeded.held))
        .await;
    panel
        .wait_for(&format!(
            "#receipt-detail[data-receipt-id='{}'] #receipt-items",
            seeded.held
        ))
        .await;
    panel
        .wait_for("#receipt-signals [data-signal='seller_daily_limit']")
        .await;
    panel
        .wait_for("#receipt-signals [data-signal='upload_burst']")
        .await;
    panel
        .wait_for_text("#receipt-items tr[data-promo='true']", "Чипсы")
        .await;
    panel.screenshot("receipts-moderation").await;

    // A rejection without a reason is stopped at the field; nothing is decided.
    panel.click("#reject").await;
    panel.wait_for("#moderation-reason ~ .field-error").await;
    assert_eq!(receipt_status(&panel.app, seeded.held).await.0, "pending");
    panel
        .fill("#moderation-reason", "Чек не из магазина-участника")
        .await;
    panel.click("#reject").await;
    panel.wait_for_text("#receipts-notice", "отклонён").await;
    assert_eq!(
        receipt_status(&panel.app, seeded.held).await,
        (
            "rejected".to_owned(),
            Some("Чек не из магазина-участника".to_owned())
        )
    );
    let calls = panel
        .app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(20))
        .await
        .expect("the shopper is told");
    assert_eq!(calls[0].params["chat_id"], 6001);
    let text = calls[0].params["text"].as_str().unwrap_or_default();
    assert!(
        text.ends_with("Причина: Чек не из магазина-участника"),
        "{text}"
    );
    assert_eq!(
        tickets_of(&panel.app, seeded.anna).await,
        0,
        "nothing granted"
    );
    // The queue moved on to the one left.
    panel.wait_for_none("#queue li:nth-child(2)").await;
    panel
        .wait_for(&format!(
            "#receipt-detail[data-receipt-id='{}'] #decision",
            seeded.held_too
        ))
        .await;
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn receipts_are_filtered_and_opened_the_sellers_queue_leads_to_their_receipts_and_one_is_approved(
) {
    let panel = Panel::start(TestConfig::default()).await;
    let seeded = seed(&panel.app).await;
    panel.signed_in_as("manager").await;
    panel.goto("/receipts").await;
    panel
        .wait_for("#receipts-table tbody tr:nth-child(5)")
        .await;
    panel.screenshot("receipts").await;

    panel.choose("#filter-status", "accepted").await;
    panel.click("#filter-submit").await;
    panel
        .wait_for_none("#receipts-table tr[data-status='pending']")
        .await;
    panel
        .wait_for("#receipts-table tbody tr:nth-child(2)")
        .await;
    panel
        .wait_for_none("#receipts-table tbody tr:nth-child(3)")
        .await;
    // An INN of the wrong length is refused next to its field, before any request.
    panel.fill("#filter-inn", "12345").await;
    panel.click("#filter-submit").await;
    panel.wait_for("#filter-inn ~ .field-error").await;
    panel.fill("#filter-inn", INN).await;
    panel.click("#filter-submit").await;
    panel
        .wait_for_none("#receipts-table tbody tr:nth-child(2)")
        .await;
    // Opened: an accepted receipt is shown, not decided.
    panel.click("#receipts-table .receipt-open").await;
    panel.wait_for("#receipt-detail #receipt-items").await;
    panel.wait_for_none("#decision").await;
    panel.click("#receipt-close").await;
    panel.wait_for_none("#receipt-detail").await;

    panel.click("#tab-sellers").await;
    let row = panel
        .text(&format!("#sellers-table tr[data-seller-inn='{INN}']"))
        .await;
    assert!(row.contains("ООО Ромашка") && row.contains('2'), "{row}");
    panel.screenshot("receipts-sellers").await;
    panel
        .click(&format!("#sellers-table tr[data-seller-inn='{INN}'] a.btn"))
        .await;
    panel.wait_for("#moderation-seller").await;
    panel.wait_for("#queue li:nth-child(2)").await;
    panel
        .click(&format!(
            ".queue-item[data-receipt-id='{}']",
            seeded.held_too
        ))
        .await;
    panel
        .wait_for(&format!(
            "#receipt-detail[data-receipt-id='{}'] #decision",
            seeded.held_too
        ))
        .await;
    panel.click("#approve").await;
    panel.wait_for_text("#receipts-notice", "принят").await;
    assert_eq!(
        receipt_status(&panel.app, seeded.held_too).await.0,
        "accepted"
    );
    assert_eq!(tickets_of(&panel.app, seeded.boris).await, 2, "its tickets");
    panel.wait_for_none("#queue li:nth-child(2)").await;
    panel.assert_no_console_errors().await;
}
