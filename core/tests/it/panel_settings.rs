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
