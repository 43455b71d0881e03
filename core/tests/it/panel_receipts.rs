//! Receipt review through HTTP: filters, the detail with lines and signals, and the
//! moderation decision in one transaction — receipt, tickets, submission, the shopper's
//! message (delivered through the outbox to the fake Bot API) and the audit row.

use std::time::Duration;

use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, operator};

/// A shopper with one receipt held for review (3 tickets) and one accepted; returns
/// (held receipt id, its submission id, accepted receipt id).
async fn seed(app: &TestApp) -> (i64, i64, i64) {
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    let user: i64 = client
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, status, registered_at, language)
             VALUES ($1, 6001, 'Anna', 'Анна Смирнова', 'registered', now(), 'ru') RETURNING id",
            &[&bot],
        )
        .await
        .expect("user")
        .get(0);
    let submission: i64 = client
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, status, outcome)
             VALUES ($1, $2, 'qr_text', 'pending_moderation', 'held_for_review') RETURNING id",
            &[&bot, &user],
        )
        .await
        .expect("submission")
        .get(0);
    let held: i64 = client
        .query_one(
            "INSERT INTO receipts (bot_id, user_id, submission_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status,
                 seller_inn, seller_name, items, fraud_signals)
             VALUES ($1, $2, $3, '9999078900001234', 11, 11, 1, '2024-09-17 18:01:00', 50000, 'qr-held', 3,
                     'pending', '7701234567', 'ООО Ромашка', '[{\"name\": \"Чипсы\", \"promo\": true}]',
                     '[{\"kind\": \"seller_daily_limit\", \"seller_inn\": \"7701234567\", \"day\": \"2024-09-17\", \"accepted\": 50, \"limit\": 50}]')
             RETURNING id",
            &[&bot, &user, &submission],
        )
        .await
        .expect("held receipt")
        .get(0);
    let accepted: i64 = client
        .query_one(
            "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status, seller_inn)
             VALUES ($1, $2, '9999078900001234', 12, 12, 1, '2024-09-18 10:00:00', 7000, 'qr-ok', 0, 'accepted', '7701234567')
             RETURNING id",
            &[&bot, &user],
        )
        .await
        .expect("accepted receipt")
        .get(0);
    (held, submission, accepted)
}

fn ids(body: &Value) -> Vec<i64> {
    body["receipts"]
        .as_array()
        .map(|all| all.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn receipts_are_listed_by_status_seller_promo_and_flag_and_shown_with_lines_and_signals() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    let (held, _, accepted) = seed(&app).await;
    let who = operator(&app, "vic", "viewer").await;
    for (query, expected) in [
        ("", vec![accepted, held]),
        ("status=pending", vec![held]),
        ("seller_inn=7701234567", vec![accepted, held]),
        ("has_promo=false", vec![accepted]),
        ("flagged=true", vec![held]),
    ] {
        let (status, body) = api(
            &app,
            &who,
            Method::GET,
            &format!("/api/receipts?{query}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), expected, "{query}");
    }
    let (_, body) = api(
        &app,
        &who,
        Method::GET,
        "/api/receipts?status=pending",
        None,
    )
    .await;
    assert_eq!(
        body["receipts"][0]["signals"],
        json!(["seller_daily_limit"])
    );
    let (status, body) = api(
        &app,
        &who,
        Method::GET,
        &format!("/api/receipts/{held}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"][0]["name"], "Чипсы");
    assert_eq!(body["fraud_signals"][0]["limit"], 50);
    let (_, sellers) = api(&app, &who, Method::GET, "/api/receipts/sellers", None).await;
    assert_eq!(sellers[0]["seller_inn"], "7701234567");
    assert_eq!(
        (
            sellers[0]["pending"].clone(),
            sellers[0]["accepted"].clone()
        ),
        (json!(1), json!(1))
    );
    for (query, field) in [
        ("status=maybe", "status"),
        ("seller_inn=12", "seller_inn"),
        ("limit=0", "limit"),
    ] {
        let (status, body) = api(
            &app,
            &who,
            Method::GET,
            &format!("/api/receipts?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["field"].clone()),
            (400, json!(field)),
            "{query}"
        );
    }
    let (status, _) = api(
        &app,
        &who,
        Method::POST,
        &format!("/api/receipts/{held}/approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "a viewer cannot decide");
}

#[tokio::test]
async fn approving_a_held_receipt_grants_its_tickets_once_tells_the_shopper_and_is_audited() {
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    let (held, submission, accepted) = seed(&app).await;
    let who = operator(&app, "mona", "manager").await;
    let (status, body) = api(
        &app,
        &who,
        Method::POST,
        &format!("/api/receipts/{held}/approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("accepted")),
        "{body}"
    );
    let (status, _) = api(
        &app,
        &who,
        Method::POST,
        &format!("/api/receipts/{held}/approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 409, "decided once");
    let (status, _) = api(
        &app,
        &who,
        Method::POST,
        &format!("/api/receipts/{accepted}/reject"),
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(status, 409, "only held receipts are decided");

    let client = app.db().await.expect("db");
    let row = client
        .query_one(
            "SELECT (SELECT COALESCE(sum(amount), 0) FROM tickets WHERE receipt_id = $1)::BIGINT,
                    (SELECT status FROM receipt_submissions WHERE id = $2),
                    (SELECT count(*) FROM audit_log WHERE action = 'receipt.approve' AND target = $3 AND actor = 'panel:mona')",
            &[&held, &submission, &format!("receipt:{held}")],
        )
        .await
        .expect("state");
    assert_eq!(row.get::<_, i64>(0), 3);
    assert_eq!(row.get::<_, String>(1), "accepted");
    assert_eq!(row.get::<_, i64>(2), 1);
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(15))
        .await
        .expect("the shopper is told");
    let text = calls[0].params["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("Модератор проверил ваш чек и принял его"),
        "{text}"
    );
    assert!(text.contains("Начислено билетов: 3"), "{text}");
    assert_eq!(calls[0].params["chat_id"], 6001);
}

#[tokio::test]
async fn a_rejection_needs_a_reason_tells_it_to_the_shopper_and_grants_nothing() {
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    let (held, _, _) = seed(&app).await;
    let who = operator(&app, "mona", "manager").await;
    let path = format!("/api/receipts/{held}/reject");
    let (status, body) = api(
        &app,
        &who,
        Method::POST,
        &path,
        Some(json!({"reason": "  "})),
    )
    .await;
    assert_eq!((status, body["field"].clone()), (400, json!("reason")));
    let (status, _) = api(
        &app,
        &who,
        Method::POST,
        &path,
        Some(json!({"reason": "Чек не из магазина-участника"})),
    )
    .await;
    assert_eq!(status, 200);
    let tickets: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM tickets WHERE receipt_id = $1",
            &[&held],
        )
        .await
        .expect("tickets")
        .get(0);
    assert_eq!(tickets, 0);
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(15))
        .await
        .expect("the shopper is told");
    let text = calls[0].params["text"].as_str().unwrap_or_default();
    assert!(
        text.ends_with("Причина: Чек не из магазина-участника"),
        "{text}"
    );
}

/// The upload's (status, outcome), polled until `done` holds or 20 s pass.
async fn settle_upload(
    app: &TestApp,
    submission: i64,
    done: impl Fn(&str) -> bool,
) -> (String, Option<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = app
            .db()
            .await
            .expect("db")
            .query_one(
                "SELECT status, outcome FROM receipt_submissions WHERE id = $1",
                &[&submission],
            )
            .await
            .expect("submission");
        let status: String = row.get(0);
        if done(&status) || std::time::Instant::now() > deadline {
            return (status, row.get(1));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_upload_the_tax_service_refused_is_checked_again_on_request_and_the_shopper_told_once() {
    let config = TestConfig::default()
        .with("TARGET_KEYWORDS", "чипсы")
        .with_workers();
    let app = spawn_app_with(config).await.expect("app");
    let shopper =
        crate::helpers::registered_shopper(&app, 6101, "Анна", None, "+79990001122").await;
    let receipt =
        promo_testkit::receipts::ReceiptBuilder::new().item("Чипсы Lay's 140г", 12_999, 2);
    // Not registered at the fake yet: the tax service does not know it (code 0).
    for text in ["🧾 Загрузить чек".to_owned(), receipt.qr_text()] {
        let reply = app
            .post_update(&promo_testkit::telegram::Updates::text(6101, &text))
            .await
            .expect("update");
        assert!(
            !reply.body.to_string().contains("завершилась"),
            "{}",
            reply.body
        );
    }
    let submission: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT id FROM receipt_submissions WHERE user_id = $1",
            &[&shopper],
        )
        .await
        .expect("upload")
        .get(0);
    let ended = |s: &str| !matches!(s, "queued" | "processing");
    assert_eq!(
        settle_upload(&app, submission, ended).await,
        ("rejected".to_owned(), Some("fns_invalid".to_owned()))
    );
    assert_eq!(app.proverkacheka.calls(), 1);

    let viewer = operator(&app, "vic", "viewer").await;
    let path = format!("/api/submissions/{submission}/recheck");
    let (status, _) = api(&app, &viewer, Method::POST, &path, None).await;
    assert_eq!(status, 403, "a viewer cannot spend a paid check");
    let manager = operator(&app, "mona", "manager").await;
    app.proverkacheka.register_receipt(&receipt);
    let (status, answer) = api(&app, &manager, Method::POST, &path, None).await;
    assert_eq!(
        (status, answer["status"].clone()),
        (202, json!("queued")),
        "{answer}"
    );
    assert_eq!(
        settle_upload(&app, submission, ended).await,
        ("accepted".to_owned(), Some("accepted".to_owned()))
    );
    assert_eq!(
        app.proverkacheka.calls(),
        2,
        "one paid call for the new check"
    );
    let costs: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT provider_calls::BIGINT FROM receipt_submissions WHERE id = $1",
            &[&submission],
        )
        .await
        .expect("calls")
        .get(0);
    assert_eq!(costs, 2, "both calls count in the costs");
    // The shopper hears the verdict at the far end, once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let accepted = loop {
        let accepted: Vec<String> = app
            .telegram
            .sent_messages()
            .into_iter()
            .filter(|m| m.chat_id == 6101 && m.text.starts_with("✅ Чек принят"))
            .map(|m| m.text)
            .collect();
        if !accepted.is_empty() || std::time::Instant::now() > deadline {
            break accepted;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(accepted.len(), 1, "{accepted:?}");

    // Accepted now: a second request would only cost money.
    let (status, answer) = api(&app, &manager, Method::POST, &path, None).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(app.proverkacheka.calls(), 2);
    for (path, expected) in [
        ("/api/submissions/999999/recheck", 404),
        ("/api/submissions/abc/recheck", 400),
    ] {
        let (status, answer) = api(&app, &manager, Method::POST, path, None).await;
        assert_eq!(status, expected, "{path}: {answer}");
    }
    let audit: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'submission.recheck' AND target = $1",
            &[&format!("submission:{submission}")],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn an_operator_enters_a_receipt_by_its_printed_fields_and_it_is_checked_like_an_upload() {
    let config = TestConfig::default()
        .with("TARGET_KEYWORDS", "чипсы")
        .with_workers();
    let app = spawn_app_with(config).await.expect("app");
    let shopper =
        crate::helpers::registered_shopper(&app, 6201, "Анна", None, "+79990003344").await;
    let receipt = promo_testkit::receipts::ReceiptBuilder::new()
        .date_time(chrono::Utc::now().naive_utc() - chrono::Duration::hours(2))
        .item("Чипсы Lay's 140г", 12_999, 2);
    app.proverkacheka.register_receipt(&receipt);
    let qr = receipt.fiscal_qr();
    let key = receipt.key();
    let fields = json!({
        "fn": format!("{:016}", key.fiscal_drive_number),
        "fd": key.fiscal_document_number.to_string(),
        "fp": key.fiscal_sign.to_string(),
        "date": qr.date_time().format("%Y-%m-%dT%H:%M").to_string(),
        "sum": format!("{}", qr.sum()),
        "reason": "QR порван, данные продиктованы в поддержку",
    });
    let path = format!("/api/users/{shopper}/receipts");
    let manager = operator(&app, "mona", "manager").await;
    for (change, field) in [
        (json!({"fn": "123"}), "fn"),
        (json!({"date": "17.09.2024 18:01"}), "date"),
        (json!({"sum": "-5"}), "sum"),
        (json!({"fp": null}), "fp"),
        (json!({"reason": " "}), "reason"),
        (json!({"qr": "https://example.org/?a=1"}), "qr"),
    ] {
        let mut body = fields.clone();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, answer) = api(&app, &manager, Method::POST, &path, Some(body)).await;
        assert_eq!(
            (status, answer["field"].clone()),
            (400, json!(field)),
            "{change}: {answer}"
        );
    }
    let count = |sql: &'static str| {
        let app = &app;
        async move {
            app.db()
                .await
                .expect("db")
                .query_one(sql, &[])
                .await
                .expect("count")
                .get::<_, i64>(0)
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM receipt_submissions").await,
        0,
        "bad input stores nothing"
    );

    let (status, queued) = api(&app, &manager, Method::POST, &path, Some(fields.clone())).await;
    assert_eq!(status, 202, "{queued}");
    let submission = queued["submission_id"].as_i64().expect("id");
    let ended = |s: &str| !matches!(s, "queued" | "processing");
    assert_eq!(
        settle_upload(&app, submission, ended).await,
        ("accepted".to_owned(), Some("accepted".to_owned()))
    );
    assert_eq!(app.proverkacheka.calls(), 1);
    // The same receipt again, as its QR text: a duplicate, refused before any paid call.
    let (status, again) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"qr": receipt.qr_text(), "reason": "повтор"})),
    )
    .await;
    assert_eq!(status, 202, "{again}");
    let second = again["submission_id"].as_i64().expect("id");
    assert_eq!(
        settle_upload(&app, second, ended).await,
        ("rejected".to_owned(), Some("duplicate".to_owned()))
    );
    assert_eq!(app.proverkacheka.calls(), 1, "a duplicate costs nothing");
    assert_eq!(
        count("SELECT count(*) FROM audit_log WHERE action = 'receipt.manual'").await,
        2
    );

    let viewer = operator(&app, "vic", "viewer").await;
    let (status, _) = api(&app, &viewer, Method::POST, &path, Some(fields.clone())).await;
    assert_eq!(status, 403);
    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        "/api/users/987654/receipts",
        Some(fields),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_time_range_lists_exactly_its_receipts_newest_first_whether_old_or_recent() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    let user: i64 = client
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name) VALUES ($1, 6101, 'Anna') RETURNING id",
            &[&bot],
        )
        .await
        .expect("user")
        .get(0);
    // Ten receipts a day for twenty days; ids grow with time except on day 3, where they
    // run backwards (a row's id and its upload time need not agree).
    client
        .execute(
            "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, status, created_at)
             SELECT $1, $2, '9999078900001234', n, n, 1, now(), 100, 'qr', 'accepted',
                    now() - make_interval(hours => 24 * (n / 10) + CASE WHEN n / 10 = 3 THEN n % 10 ELSE 9 - n % 10 END,
                                          mins => 30)
             FROM generate_series(0, 199) AS n",
            &[&bot, &user],
        )
        .await
        .expect("receipts");
    let who = operator(&app, "vic", "viewer").await;
    // Ranges with fewer receipts than newer ones (read through the time index) and with
    // more (the primary key), each with and without the day whose ids run backwards.
    for (from_days, to_days) in [(4, 3), (13, 10), (5, 1), (15, 0), (30, 17)] {
        let expected: Vec<i64> = client
            .query(
                "SELECT id FROM receipts WHERE bot_id = $1
                   AND created_at >= now() - make_interval(days => $2)
                   AND created_at < now() - make_interval(days => $3)
                 ORDER BY id DESC",
                &[&bot, &from_days, &to_days],
            )
            .await
            .expect("expected")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(!expected.is_empty());
        let at = |days: i32| {
            (chrono::Utc::now() - chrono::Duration::days(days.into())).format("%Y-%m-%dT%H:%M:%SZ")
        };
        let range = format!("from={}&to={}", at(from_days), at(to_days));
        let mut listed = Vec::new();
        let mut before = String::new();
        loop {
            let path = format!("/api/receipts?{range}&limit=7{before}");
            let (status, body) = api(&app, &who, Method::GET, &path, None).await;
            assert_eq!(status, 200, "{body}");
            listed.extend(ids(&body));
            match body["next_before_id"].as_i64() {
                Some(next) => before = format!("&before_id={next}"),
                None => break,
            }
        }
        assert_eq!(listed, expected, "{from_days}..{to_days} days ago");
    }
}
