//! The webhook route end to end: real Postgres and Redis, the fake Bot API over HTTP.

use std::time::Duration;

use promo_testkit::telegram::Updates;
use promo_testkit::{spawn_app, spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};

use crate::helpers::{keyboard_texts, WAIT};

async fn user_row(app: &TestApp, telegram_id: i64) -> Option<tokio_postgres::Row> {
    app.db()
        .await
        .expect("db")
        .query_opt(
            "SELECT status, full_name, phone_ciphertext, phone_hash, phone_masked, reachable
             FROM users WHERE bot_id = $1 AND telegram_id = $2",
            &[&app.app.bot_id, &telegram_id],
        )
        .await
        .expect("query")
}

/// Sends a text and returns the bot's reply as seen by the fake Bot API.
async fn say(app: &TestApp, user: i64, text: &str) -> Value {
    let before = app.telegram.calls_to("sendMessage").len();
    let answer = app
        .send_update(&Updates::text(user, text))
        .await
        .expect("update delivered");
    assert_eq!(answer.status, 200, "webhook answered {answer:?}");
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", before + 1, WAIT)
        .await
        .expect("the bot replied");
    calls[before].params.clone()
}

#[tokio::test]
async fn start_from_an_unknown_user_sends_the_welcome_asking_for_the_name() {
    let app = spawn_app().await.expect("app");
    let reply = say(&app, 1001, "/start").await;

    assert_eq!(reply["chat_id"], 1001);
    let text = reply["text"].as_str().unwrap_or_default();
    assert!(text.contains("Хрустящее лето"), "promo name in {text}");
    assert!(text.contains("iPhone 16 и сертификаты"), "prizes in {text}");
    assert!(text.contains("как вас зовут?"), "asks for the name: {text}");
    assert_eq!(keyboard_texts(&reply), vec!["❌ Отмена"]);

    let row = user_row(&app, 1001).await.expect("user row stored");
    assert_eq!(row.get::<_, String>("status"), "registering");
    let state: Option<Value> = app
        .app
        .bot
        .states()
        .load(promo_core::bot::states::Flow::Shopper, 1001)
        .await
        .expect("dialogue state");
    assert_eq!(state, Some(json!({"state": "awaiting_name"})));
}

#[tokio::test]
async fn a_single_reply_is_returned_in_the_webhook_response_when_enabled() {
    let app = spawn_app().await.expect("app");
    let answer = app
        .post_update(&Updates::text(1002, "/start"))
        .await
        .expect("posted");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["method"], "sendMessage");
    assert_eq!(answer.body["chat_id"], 1002);
    assert!(app.telegram.calls_to("sendMessage").is_empty());
}

#[tokio::test]
async fn with_webhook_replies_disabled_the_bot_calls_the_bot_api_itself() {
    let config = TestConfig::default().with("WEBHOOK_REPLY_IN_RESPONSE", "false");
    let app = spawn_app_with(config).await.expect("app");
    let answer = app
        .post_update(&Updates::text(1003, "/start"))
        .await
        .expect("posted");
    assert_eq!(answer.status, 200);
    assert!(answer.body.get("method").is_none());
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, WAIT)
        .await
        .expect("sent over HTTP");
    assert_eq!(calls[0].params["chat_id"], 1003);
}

#[tokio::test]
async fn a_shopper_registers_with_name_and_own_shared_contact() {
    let app = spawn_app().await.expect("app");
    say(&app, 2001, "/start").await;

    let ask_phone = say(&app, 2001, "  Иван   Петров ").await;
    assert!(ask_phone["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Иван Петров"));
    assert_eq!(
        ask_phone["reply_markup"]["keyboard"][0][0]["request_contact"],
        true
    );

    let before = app.telegram.calls_to("sendMessage").len();
    app.send_update(&Updates::contact(2001, "79991234567", Some(2001)))
        .await
        .expect("contact delivered");
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", before + 1, WAIT)
        .await
        .expect("reply");
    let done = &calls[before].params;
    assert!(done["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Регистрация завершена"));
    let menu = keyboard_texts(done);
    assert!(menu.contains(&"🧾 Загрузить чек".to_owned()), "{menu:?}");
    assert!(
        !menu.contains(&"📊 Статистика".to_owned()),
        "no admin menu: {menu:?}"
    );

    let row = user_row(&app, 2001).await.expect("row");
    assert_eq!(row.get::<_, String>("status"), "registered");
    assert_eq!(
        row.get::<_, Option<String>>("full_name").as_deref(),
        Some("Иван Петров")
    );
    assert_eq!(
        row.get::<_, Option<String>>("phone_masked").as_deref(),
        Some("+7 *** ***-45-67")
    );
    let ciphertext: Vec<u8> = row.get("phone_ciphertext");
    assert!(!ciphertext.windows(11).any(|w| w == b"79991234567"));
    let phone = promo_core::pii::Phone::parse("+79991234567").expect("phone");
    assert_eq!(
        app.app.settings.phone_key.decrypt(&ciphertext).ok(),
        Some(phone.clone())
    );
    assert_eq!(
        row.get::<_, Vec<u8>>("phone_hash"),
        app.app.settings.phone_key.hash(&phone)
    );
}

#[tokio::test]
async fn a_typed_phone_is_accepted_and_an_invalid_one_explained() {
    let app = spawn_app().await.expect("app");
    say(&app, 2101, "/start").await;
    say(&app, 2101, "Анна").await;

    let invalid = say(&app, 2101, "call me maybe").await;
    assert!(invalid["text"]
        .as_str()
        .unwrap_or_default()
        .contains("+79991234567"));
    assert_eq!(
        user_row(&app, 2101)
            .await
            .expect("row")
            .get::<_, String>("status"),
        "registering"
    );

    let done = say(&app, 2101, "+7 (912) 345-67-89").await;
    assert!(done["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Регистрация завершена"));
    assert_eq!(
        user_row(&app, 2101)
            .await
            .expect("row")
            .get::<_, Option<String>>("phone_masked")
            .as_deref(),
        Some("+7 *** ***-67-89")
    );
}

#[tokio::test]
async fn someone_elses_contact_is_refused_and_changes_nothing() {
    let app = spawn_app().await.expect("app");
    say(&app, 2201, "/start").await;
    say(&app, 2201, "Олег").await;
    let before = app.telegram.calls_to("sendMessage").len();
    app.send_update(&Updates::contact(2201, "79990000000", Some(9999)))
        .await
        .expect("delivered");
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", before + 1, WAIT)
        .await
        .expect("reply");
    assert!(calls[before].params["text"]
        .as_str()
        .unwrap_or_default()
        .contains("свой собственный контакт"));
    let row = user_row(&app, 2201).await.expect("row");
    assert_eq!(row.get::<_, String>("status"), "registering");
    assert!(row.get::<_, Option<Vec<u8>>>("phone_ciphertext").is_none());
}

#[tokio::test]
async fn an_invalid_name_gets_a_hint_and_the_dialogue_waits() {
    let app = spawn_app().await.expect("app");
    say(&app, 2301, "/start").await;
    let reply = say(&app, 2301, "Я").await;
    assert!(reply["text"]
        .as_str()
        .unwrap_or_default()
        .contains("от 2 до 100"));
    let row = user_row(&app, 2301).await.expect("row");
    assert!(row.get::<_, Option<String>>("full_name").is_none());
}

#[tokio::test]
async fn cancel_during_registration_resets_the_user_at_each_step() {
    let app = spawn_app().await.expect("app");
    say(&app, 2401, "/start").await;
    let cancelled = say(&app, 2401, "❌ Отмена").await;
    assert!(cancelled["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Регистрация отменена"));
    assert_eq!(cancelled["reply_markup"]["remove_keyboard"], true);
    assert_eq!(
        user_row(&app, 2401)
            .await
            .expect("row")
            .get::<_, String>("status"),
        "new"
    );

    say(&app, 2401, "/start").await;
    say(&app, 2401, "Пётр").await;
    say(&app, 2401, "/cancel").await;
    let row = user_row(&app, 2401).await.expect("row");
    assert_eq!(row.get::<_, String>("status"), "new");
    assert!(row.get::<_, Option<String>>("full_name").is_none());
    let state: Option<Value> = app
        .app
        .bot
        .states()
        .load(promo_core::bot::states::Flow::Shopper, 2401)
        .await
        .expect("dialogue state");
    assert_eq!(state, None);
}

#[tokio::test]
async fn a_registered_user_is_welcomed_back_with_tickets_and_admins_see_their_menu() {
    let config = TestConfig::default()
        .with("ADMIN_IDS", "2501")
        .with("PROMO_END_DATE", "2099-12-31");
    let app = spawn_app_with(config).await.expect("app");
    say(&app, 2501, "/start").await;
    say(&app, 2501, "Мария").await;
    say(&app, 2501, "+79161234567").await;

    let back = say(&app, 2501, "/start").await;
    let text = back["text"].as_str().unwrap_or_default();
    assert!(text.contains("С возвращением, Мария"), "{text}");
    assert!(text.contains("билетов: 0"), "{text}");
    assert!(text.contains("До конца акции: "), "{text}");
    let menu = keyboard_texts(&back);
    assert!(menu.contains(&"📊 Статистика".to_owned()), "{menu:?}");
    assert!(
        menu.contains(&"➕ Ручное добавление".to_owned()),
        "{menu:?}"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await.expect("app");
    let update = Updates::text(3001, "/start");
    for secret in [None, Some("wrong-secret")] {
        let answer = app
            .post_update_with_secret(&update, secret)
            .await
            .expect("posted");
        assert_eq!(answer.status, 401);
    }
    assert!(user_row(&app, 3001).await.is_none());
    let processed: i64 = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT count(*) FROM processed_updates", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(processed, 0);
    assert!(app.telegram.calls().is_empty());
}

#[tokio::test]
async fn the_same_update_delivered_twice_is_processed_once() {
    let config = TestConfig::default().with("WEBHOOK_REPLY_IN_RESPONSE", "false");
    let app = spawn_app_with(config).await.expect("app");
    let update = Updates::text(3101, "/start");
    let first = app.post_update(&update).await.expect("first");
    let second = app.post_update(&update).await.expect("second");
    assert_eq!((first.status, second.status), (200, 200));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.telegram.calls_to("sendMessage").len(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_update_are_processed_once() {
    let config = TestConfig::default().with("WEBHOOK_REPLY_IN_RESPONSE", "false");
    let app = spawn_app_with(config).await.expect("app");
    let update = Updates::text(3201, "/start");
    let answers = futures::future::join_all((0..8).map(|_| app.post_update(&update))).await;
    for answer in answers {
        assert_eq!(answer.expect("posted").status, 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.telegram.calls_to("sendMessage").len(), 1);
}

#[tokio::test]
async fn unknown_update_kinds_are_acknowledged_and_ignored() {
    let app = spawn_app().await.expect("app");
    let update =
        json!({"update_id": 77, "message_reaction": {"chat": {"id": 1, "type": "private"}}});
    let answer = app.post_update(&update).await.expect("posted");
    assert_eq!(answer.status, 200);
    let broken_message = json!({"update_id": 78, "message": {"text": "no ids"}});
    assert_eq!(
        app.post_update(&broken_message)
            .await
            .expect("posted")
            .status,
        200
    );
    assert!(app.telegram.calls().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_an_update_gets_a_clear_400() {
    let app = spawn_app().await.expect("app");
    let answer = app
        .post_update(&json!({"hello": "world"}))
        .await
        .expect("posted");
    assert_eq!(answer.status, 400);
    assert!(answer.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("update_id"));
}

#[tokio::test]
async fn blocking_and_unblocking_the_bot_toggles_reachability() {
    let app = spawn_app().await.expect("app");
    say(&app, 3301, "/start").await;
    app.send_update(&Updates::my_chat_member(3301, "member", "kicked"))
        .await
        .expect("delivered");
    assert!(!user_row(&app, 3301)
        .await
        .expect("row")
        .get::<_, bool>("reachable"));
    app.send_update(&Updates::my_chat_member(3301, "kicked", "member"))
        .await
        .expect("delivered");
    assert!(user_row(&app, 3301)
        .await
        .expect("row")
        .get::<_, bool>("reachable"));
}

#[tokio::test]
async fn health_reports_database_and_redis() {
    let app = spawn_app().await.expect("app");
    let body: Value = reqwest::get(app.url("/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["redis"], "ok");
}
