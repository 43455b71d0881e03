//! The promotion's settings through the admin API: shown with their defaults, changed
//! field by field (all or nothing when one is wrong), used by the bot at once, reset to
//! the environment's value, audited.

use promo_testkit::spawn_app;
use promo_testkit::telegram::Updates;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{api, operator, text_of};

#[tokio::test]
async fn a_new_promotion_name_is_what_the_next_shopper_is_welcomed_with_and_a_reset_restores_it() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let (status, view) = api(&app, &manager, Method::GET, "/api/settings", None).await;
    assert_eq!(status, 200);
    assert_eq!(view["values"]["name"], "Хрустящее лето");
    assert_eq!(view["defaults"]["name"], "Хрустящее лето");
    assert_eq!(view["changed"], json!([]));

    let (status, view) = api(
        &app,
        &manager,
        Method::PATCH,
        "/api/settings",
        Some(json!({"name": "Зимняя сказка", "target_keywords": ["Чипсы", "сухарики"], "receipt_limit_per_day": 3})),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["values"]["target_keywords"],
        json!(["чипсы", "сухарики"])
    );
    assert_eq!(
        view["changed"],
        json!(["name", "receipt_limit_per_day", "target_keywords"])
    );
    let reply = app
        .post_update(&Updates::text(9201, "/start"))
        .await
        .expect("start");
    assert!(
        text_of(&reply.body).contains("«Зимняя сказка»"),
        "{}",
        reply.body
    );

    let (status, view) = api(&app, &manager, Method::DELETE, "/api/settings/name", None).await;
    assert_eq!(
        (status, view["values"]["name"].clone()),
        (200, json!("Хрустящее лето"))
    );
    let reply = app
        .post_update(&Updates::text(9202, "/start"))
        .await
        .expect("start");
    assert!(
        text_of(&reply.body).contains("«Хрустящее лето»"),
        "{}",
        reply.body
    );

    let audit: Vec<(String, serde_json::Value)> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT action, details FROM audit_log WHERE target = 'settings:promo' ORDER BY id",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].0, "settings.update");
    assert_eq!(audit[0].1["before"]["name"], "Хрустящее лето");
    assert_eq!(audit[0].1["after"]["name"], "Зимняя сказка");
    assert_eq!(audit[1].0, "settings.reset");
}

#[tokio::test]
async fn one_bad_field_changes_nothing_and_is_named() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    for (body, field) in [
        (
            json!({"name": "Новое", "start_date": "01.09.2026"}),
            "start_date",
        ),
        (
            json!({"receipt_limit_per_hour": 0}),
            "receipt_limit_per_hour",
        ),
        (json!({"colour": "red"}), "colour"),
        (
            json!({"start_date": "2026-12-31", "end_date": "2026-01-01"}),
            "end_date",
        ),
        (json!({"target_keywords": "чипсы"}), "target_keywords"),
    ] {
        let (status, answer) = api(
            &app,
            &manager,
            Method::PATCH,
            "/api/settings",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status, answer["field"].clone()),
            (400, json!(field)),
            "{body}: {answer}"
        );
    }
    let (_, view) = api(&app, &manager, Method::GET, "/api/settings", None).await;
    assert_eq!(view["changed"], json!([]), "nothing was stored");
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, _) = api(
        &app,
        &viewer,
        Method::PATCH,
        "/api/settings",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = api(&app, &manager, Method::DELETE, "/api/settings/colour", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_time_zone_subscription_channel_and_fraud_limits_are_set_in_the_panel_and_used_at_once()
{
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let (status, answer) = api(
        &app,
        &manager,
        Method::PATCH,
        "/api/settings",
        Some(json!({"time_zone": "Mars/Olympus_Mons", "name": "Марс"})),
    )
    .await;
    assert_eq!(
        (status, answer["field"].clone()),
        (400, json!("time_zone")),
        "{answer}"
    );
    let (_, view) = api(&app, &manager, Method::GET, "/api/settings", None).await;
    assert_eq!(
        view["changed"],
        json!([]),
        "an unknown zone changes nothing"
    );
    assert_eq!(view["values"]["time_zone"], "Europe/Moscow");

    let (status, view) = api(
        &app,
        &manager,
        Method::PATCH,
        "/api/settings",
        Some(json!({
            "time_zone": "Asia/Vladivostok",
            "required_channel": "-1009876543210",
            "required_channel_url": "https://t.me/promo_news",
            "fraud_seller_daily_limit": 1,
        })),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["values"]["fraud_seller_daily_limit"], 1);
    assert_eq!(view["defaults"]["fraud_seller_daily_limit"], 5);

    // A schedule without a zone is read in the promotion's (UTC+10).
    let (status, campaign) = api(
        &app,
        &manager,
        Method::POST,
        "/api/campaigns",
        Some(json!({"kind": "broadcast", "text": "Скоро розыгрыш", "scheduled_for": "2030-01-01T12:00"})),
    )
    .await;
    assert_eq!(status, 201, "{campaign}");
    assert_eq!(
        campaign["campaign"]["scheduled_for"],
        "2030-01-01T02:00:00Z"
    );

    // The next shopper to register is asked to join the new channel.
    for text in ["/start", "Иван"] {
        app.post_update(&Updates::text(9301, text))
            .await
            .expect("update");
    }
    let ask = app
        .post_update(&Updates::text(9301, "+79991234567"))
        .await
        .expect("phone");
    assert!(
        text_of(&ask.body).starts_with("📢 Последний шаг"),
        "{}",
        ask.body
    );
    assert_eq!(
        ask.body["reply_markup"]["inline_keyboard"][0][0]["url"],
        "https://t.me/promo_news"
    );
    let checks = app.telegram.calls_to("getChatMember");
    assert_eq!(
        checks.last().expect("a check").params["chat_id"],
        -1_009_876_543_210_i64
    );

    // Back to no channel: the next shopper registers straight away.
    let (status, _) = api(
        &app,
        &manager,
        Method::DELETE,
        "/api/settings/required_channel",
        None,
    )
    .await;
    assert_eq!(status, 200);
    for text in ["/start", "Пётр"] {
        app.post_update(&Updates::text(9302, text))
            .await
            .expect("update");
    }
    let done = app
        .post_update(&Updates::text(9302, "+79991234568"))
        .await
        .expect("phone");
    assert!(
        text_of(&done.body).contains("Регистрация завершена"),
        "{}",
        done.body
    );
}
