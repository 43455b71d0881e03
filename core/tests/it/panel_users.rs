//! The shopper CRM through HTTP: search by every handle an operator has, the detail
//! page, the audited full phone, and blocking (a blocked shopper gets no broadcast).

use promo_testkit::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, operator, registered_shopper as shopper};

fn ids(body: &Value) -> Vec<i64> {
    body["users"]
        .as_array()
        .map(|users| users.iter().filter_map(|u| u["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn one_search_box_finds_a_shopper_by_username_phone_telegram_id_internal_id_or_name() {
    let app = spawn_app().await.expect("app");
    let ivan = shopper(&app, 5001, "Иван Петров", Some("ivan_p"), "+79990000001").await;
    let anna = shopper(&app, 5002, "Анна Смирнова", Some("anna"), "+79990004567").await;
    let who = operator(&app, "vic", "viewer").await;
    for (query, expected) in [
        ("@ivan", vec![ivan]),
        ("@IVAN_P", vec![ivan]),
        ("+7 (999) 000-45-67", vec![anna]),
        ("89990004567", vec![anna]),
        ("5001", vec![ivan]),
        (&ivan.to_string() as &str, vec![ivan]),
        ("анна", vec![anna]),
        ("Иван П", vec![ivan]),
        ("", vec![anna, ivan]),
        ("nobody", vec![]),
        ("100%", vec![]),
    ] {
        let path = format!("/api/users?q={}", urlencode(query));
        let (status, body) = api(&app, &who, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), expected, "{query}");
    }
    let (_, body) = api(&app, &who, Method::GET, "/api/users?q=@anna", None).await;
    assert_eq!(body["users"][0]["phone_masked"], "+7 *** ***-45-67");
    assert!(
        !body.to_string().contains("79990004567"),
        "no full phone in the list"
    );

    // Paging: one at a time, newest first.
    let (_, first) = api(&app, &who, Method::GET, "/api/users?limit=1", None).await;
    assert_eq!(ids(&first), vec![anna]);
    let next = first["next_before_id"].as_i64().expect("more");
    let (_, second) = api(
        &app,
        &who,
        Method::GET,
        &format!("/api/users?limit=1&before_id={next}"),
        None,
    )
    .await;
    assert_eq!(ids(&second), vec![ivan]);

    for (query, field) in [("limit=0", "limit"), ("status=vip", "status")] {
        let (status, body) = api(
            &app,
            &who,
            Method::GET,
            &format!("/api/users?{query}"),
            None,
        )
        .await;
        assert_eq!((status, body["field"].clone()), (400, json!(field)));
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_full_phone_is_for_owners_and_managers_only_and_every_view_is_audited() {
    let app = spawn_app().await.expect("app");
    let anna = shopper(&app, 5002, "Анна Смирнова", None, "+79990004567").await;
    let viewer = operator(&app, "vic", "viewer").await;
    let manager = operator(&app, "mona", "manager").await;
    let (status, _) = api(
        &app,
        &viewer,
        Method::GET,
        &format!("/api/users/{anna}/phone"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = api(
        &app,
        &manager,
        Method::GET,
        &format!("/api/users/{anna}/phone"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["phone"].clone()),
        (200, json!("+79990004567"))
    );
    let audited: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'user.view_phone' AND actor = 'panel:mona' AND target = $1",
            &[&format!("user:{anna}")],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(audited, 1);
    let (status, _) = api(&app, &manager, Method::GET, "/api/users/999999/phone", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_detail_shows_receipts_tickets_wins_and_campaigns_received() {
    let app = spawn_app().await.expect("app");
    let anna = shopper(&app, 5002, "Анна Смирнова", None, "+79990004567").await;
    let bot = app.app.bot_id;
    app.db()
        .await
        .expect("db")
        .batch_execute(&format!(
            "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, seller_name)
             VALUES ({bot}, {anna}, '9999078900001234', 1, 1, 1, '2024-09-17 18:01:00', 128521, 'qr', 2, 'Пятёрочка');
             INSERT INTO tickets (bot_id, user_id, amount, source, reason)
             VALUES ({bot}, {anna}, 2, 'manual', 'goodwill');
             INSERT INTO campaigns (id, bot_id, kind, status) VALUES (900001, {bot}, 'raffle', 'completed');
             INSERT INTO raffle_draws (id, bot_id, campaign_id, prize, winner_count, seed, ticket_snapshot, algorithm)
             VALUES (700001, {bot}, 900001, 'iPhone 16', 1, '\\x00', '[]', 'test');
             INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw)
             VALUES (700001, {bot}, {anna}, 1, 2);
             INSERT INTO campaign_deliveries (campaign_id, bot_id, user_id, chat_id, status)
             VALUES (900001, {bot}, {anna}, 5002, 'sent');"
        ))
        .await
        .expect("history");
    let who = operator(&app, "vic", "viewer").await;
    let (status, body) = api(&app, &who, Method::GET, &format!("/api/users/{anna}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["tickets"], 2);
    assert_eq!(body["receipts"][0]["seller_name"], "Пятёрочка");
    assert_eq!(body["receipts"][0]["receipt_at"], "2024-09-17T18:01:00");
    assert_eq!(body["ticket_entries"][0]["reason"], "goodwill");
    assert_eq!(body["wins"][0]["prize"], "iPhone 16");
    assert_eq!(body["campaigns"][0]["status"], "sent");
    let (status, _) = api(&app, &who, Method::GET, "/api/users/424242", None).await;
    assert_eq!(status, 404);
    let (status, _) = api(&app, &who, Method::GET, "/api/users/not-a-number", None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_blocked_shopper_is_audited_left_out_of_broadcasts_and_restored_by_unblocking() {
    let app = spawn_app().await.expect("app");
    let anna = shopper(&app, 5002, "Анна Смирнова", None, "+79990004567").await;
    let viewer = operator(&app, "vic", "viewer").await;
    let manager = operator(&app, "mona", "manager").await;
    let path = format!("/api/users/{anna}/block");
    let (status, _) = api(
        &app,
        &viewer,
        Method::POST,
        &path,
        Some(json!({"reason": "fraud"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!((status, body["field"].clone()), (400, json!("reason")));
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"reason": "fake receipts"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("banned")),
        "{body}"
    );
    // Blocking twice changes nothing more.
    api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"reason": "again"})),
    )
    .await;
    let client = app.db().await.expect("db");
    let audit = client
        .query(
            "SELECT action, details FROM audit_log WHERE target = $1 ORDER BY id",
            &[&format!("user:{anna}")],
        )
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get::<_, Value>(1)["reason"], "fake receipts");
    let eligible: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE bot_id = $1 AND status = 'registered'",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        eligible, 0,
        "broadcasts and draws take registered shoppers only"
    );

    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/users/{anna}/unblock"),
        None,
    )
    .await;
    assert_eq!((status, body["status"].clone()), (200, json!("registered")));
}

#[tokio::test]
async fn a_manual_grant_adds_tickets_with_its_reason_tells_the_shopper_and_is_audited() {
    let app = promo_testkit::spawn_app_with(promo_testkit::TestConfig::default().with_workers())
        .await
        .expect("app");
    let anna = shopper(&app, 5002, "Анна Смирнова", None, "+79990004567").await;
    let manager = operator(&app, "mona", "manager").await;
    let path = format!("/api/users/{anna}/tickets");
    for (body, field) in [
        (json!({"amount": 0, "reason": "x"}), "amount"),
        (json!({"amount": 5, "reason": " "}), "reason"),
    ] {
        let (status, answer) = api(&app, &manager, Method::POST, &path, Some(body)).await;
        assert_eq!((status, answer["field"].clone()), (400, json!(field)));
    }
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"amount": 5, "reason": "Конкурс в канале"})),
    )
    .await;
    assert_eq!((status, body["total"].clone()), (200, json!(5)), "{body}");
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"amount": -2, "reason": "Ошибка начисления", "notify": false})),
    )
    .await;
    assert_eq!((status, body["total"].clone()), (200, json!(3)));
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, std::time::Duration::from_secs(15))
        .await
        .expect("the shopper is told");
    assert!(calls[0].params["text"]
        .as_str()
        .unwrap_or("")
        .contains("Конкурс в канале"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        app.telegram.calls_to("sendMessage").len(),
        1,
        "the correction was silent"
    );
    let grants: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'tickets.grant' AND actor = 'panel:mona'",
            &[],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(grants, 2);
}

#[tokio::test]
async fn a_message_to_one_shopper_goes_out_as_a_single_message_campaign() {
    let app = promo_testkit::spawn_app_with(promo_testkit::TestConfig::default().with_workers())
        .await
        .expect("app");
    let anna = shopper(&app, 5002, "Анна Смирнова", None, "+79990004567").await;
    let manager = operator(&app, "mona", "manager").await;
    let path = format!("/api/users/{anna}/message");
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"text": ""})),
    )
    .await;
    assert_eq!((status, body["field"].clone()), (400, json!("text")));
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"text": "Анна, ваш приз ждёт вас!"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, std::time::Duration::from_secs(15))
        .await
        .expect("sent");
    assert_eq!(calls[0].params["chat_id"], 5002);
    assert_eq!(calls[0].params["text"], "Анна, ваш приз ждёт вас!");
    // A blocked shopper gets nothing.
    api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/users/{anna}/block"),
        Some(json!({"reason": "fraud"})),
    )
    .await;
    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"text": "ещё"})),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_name_prefix_finds_the_telegram_last_name_in_any_case_and_follows_a_rename() {
    let app = spawn_app().await.expect("app");
    let olga = shopper(&app, 5101, "Ольга", None, "+79990001111").await;
    let other = shopper(&app, 5102, "Пётр Кузьмин", None, "+79990002222").await;
    let client = app.db().await.expect("db");
    client
        .execute(
            "UPDATE users SET last_name = 'Кузнецова' WHERE id = $1",
            &[&olga],
        )
        .await
        .expect("last name");
    let who = operator(&app, "vic", "viewer").await;
    let search = |q: &str| format!("/api/users?q={}", urlencode(q));
    let (_, body) = api(&app, &who, Method::GET, &search("КУЗН"), None).await;
    assert_eq!(ids(&body), vec![olga], "the last name, upper case");
    let (_, body) = api(&app, &who, Method::GET, &search("пёт"), None).await;
    assert_eq!(ids(&body), vec![other], "the typed name");
    // The lower-cased copies follow the row: a renamed shopper is found by the new name.
    client
        .execute(
            "UPDATE users SET full_name = 'Ольга Ёлкина' WHERE id = $1",
            &[&olga],
        )
        .await
        .expect("rename");
    let (_, body) = api(&app, &who, Method::GET, &search("ольга ё"), None).await;
    assert_eq!(ids(&body), vec![olga]);
    let (_, body) = api(&app, &who, Method::GET, &search("ку"), None).await;
    assert_eq!(
        ids(&body),
        vec![olga],
        "a prefix of the whole typed name only"
    );
}
