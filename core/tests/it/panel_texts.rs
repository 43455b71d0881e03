//! The bot's texts through the admin API: listed with their placeholders, edited with
//! checks that name the position, previewed, used by the bot at once, reset, audited.

use promo_testkit::spawn_app;
use promo_testkit::telegram::Updates;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, operator, text_of};

#[tokio::test]
async fn an_edited_welcome_is_what_the_next_shopper_sees_and_a_reset_brings_the_default_back() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let (status, list) = api(&app, &manager, Method::GET, "/api/texts", None).await;
    assert_eq!(status, 200);
    let welcome = list
        .as_array()
        .and_then(|all| all.iter().find(|t| t["key"] == "welcome_new"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        welcome["placeholders"],
        json!(["promo", "prizes", "starts"])
    );
    assert!(welcome["ru"]["default"]
        .as_str()
        .unwrap_or("")
        .starts_with("👋 Добро пожаловать"));
    assert_eq!(welcome["ru"]["custom"], Value::Null);

    let body = "Привет! Это «{promo}». Как вас зовут?";
    let (status, saved) = api(
        &app,
        &manager,
        Method::PUT,
        "/api/texts/welcome_new/ru",
        Some(json!({"body": body})),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let reply = app
        .post_update(&Updates::text(9101, "/start"))
        .await
        .expect("start");
    assert_eq!(
        text_of(&reply.body),
        "Привет! Это «Хрустящее лето». Как вас зовут?"
    );

    let (status, _) = api(
        &app,
        &manager,
        Method::DELETE,
        "/api/texts/welcome_new/ru",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let reply = app
        .post_update(&Updates::text(9102, "/start"))
        .await
        .expect("start");
    assert!(
        text_of(&reply.body).starts_with("👋 Добро пожаловать"),
        "{}",
        reply.body
    );

    let actions: Vec<String> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT action FROM audit_log WHERE target = 'text:welcome_new:ru' ORDER BY id",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(actions, ["text.update", "text.reset"]);
}

#[tokio::test]
async fn a_bad_edit_is_refused_with_its_position_and_changes_nothing() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    for (body, expected) in [
        ("Всего {totla} билетов", "at character 7"),
        ("Билетов: {tickets|билет|билетов}", "needs 3 noun forms"),
        ("<b>Ура!</b> {tickets}", "at character 1"),
        ("Открыто {tickets", "never closed"),
        ("", "1 to 4096"),
    ] {
        let (status, answer) = api(
            &app,
            &manager,
            Method::PUT,
            "/api/texts/receipt_accepted/ru",
            Some(json!({"body": body})),
        )
        .await;
        assert_eq!(
            (status, answer["field"].clone()),
            (422, json!("body")),
            "{body}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (status, _) = api(
        &app,
        &manager,
        Method::PUT,
        "/api/texts/no_such_text/ru",
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, answer) = api(
        &app,
        &manager,
        Method::PUT,
        "/api/texts/receipt_accepted/de",
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!((status, answer["field"].clone()), (400, json!("lang")));
    let stored: i64 = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT count(*) FROM texts", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 0);
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, _) = api(
        &app,
        &viewer,
        Method::PUT,
        "/api/texts/receipt_accepted/ru",
        Some(json!({"body": "ok {tickets}"})),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_preview_fills_sample_values_without_saving() {
    let app = spawn_app().await.expect("app");
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, preview) = api(
        &app,
        &viewer,
        Method::POST,
        "/api/texts/receipt_accepted/ru/preview",
        Some(json!({"body": "+{tickets|билет|билета|билетов}, всего {total}"})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["text"], "+3 билета, всего 3");
}
