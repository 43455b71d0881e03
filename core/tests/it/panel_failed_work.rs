//! Failed work in the admin API: given-up outbox rows are listed with their reason; a
//! retried message really goes out (the fake Bot API gets it), a discarded one leaves the
//! list; both are audited, and only managers and owners may act.

use std::time::Duration;

use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{api, operator};

/// A message Telegram refused for good and a dead receipt check; returns their ids.
async fn given_up(app: &TestApp) -> (i64, i64) {
    let client = app.db().await.expect("db");
    let message: i64 = client
        .query_one(
            "INSERT INTO outbox (bot_id, kind, purpose, chat_id, payload, status, attempts, last_error, finished_at)
             VALUES ($1, 'message', 'receipt_result', 8001,
                     '{\"method\": \"sendMessage\", \"params\": {\"chat_id\": 8001, \"text\": \"Ваш чек принят\"}}',
                     'failed', 5, 'Internal Server Error', now()) RETURNING id",
            &[&app.app.bot_id],
        )
        .await
        .expect("failed message")
        .get(0);
    let dead: i64 = client
        .query_one(
            "INSERT INTO outbox (bot_id, kind, purpose, chat_id, payload, status, attempts, last_error, finished_at)
             VALUES ($1, 'message', 'winner', 8002,
                     '{\"method\": \"sendMessage\", \"params\": {\"chat_id\": 8002, \"text\": \"Вы выиграли\"}}',
                     'dead', 8, 'handed out 20 times without finishing', now() - interval '1 minute') RETURNING id",
            &[&app.app.bot_id],
        )
        .await
        .expect("dead row")
        .get(0);
    (message, dead)
}

#[tokio::test]
async fn given_up_work_is_listed_with_its_reason_and_a_retried_message_really_goes_out() {
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    let (message, dead) = given_up(&app).await;
    let viewer = operator(&app, "vic", "viewer").await;
    let manager = operator(&app, "mona", "manager").await;
    let (status, list) = api(&app, &viewer, Method::GET, "/api/failed-work", None).await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![message, dead]);
    assert_eq!(list[0]["reason"], "Internal Server Error");
    assert_eq!(list[1]["status"], "dead");
    let (status, _) = api(
        &app,
        &viewer,
        Method::POST,
        &format!("/api/failed-work/{message}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 403, "a viewer only reads");

    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/failed-work/{message}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(15))
        .await
        .expect("the retried message is sent");
    assert_eq!(calls[0].params["chat_id"], 8001);
    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/failed-work/{dead}/discard"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, list) = api(&app, &viewer, Method::GET, "/api/failed-work", None).await;
    assert_eq!(list, json!([]), "nothing left to look at");
    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/failed-work/{dead}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 404, "a discarded row is no longer failed work");

    let actions: Vec<String> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT action FROM audit_log WHERE actor = 'panel:mona' ORDER BY id",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| row.get(0))
        .filter(|action: &String| action.starts_with("failed_work"))
        .collect();
    assert_eq!(actions, ["failed_work.retry", "failed_work.discard"]);
}
