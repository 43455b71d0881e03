//! Admin commands in the bot end to end: real Postgres and Redis, the fake Bot API, and the
//! exact rows each flow stores (campaigns, tickets, audit log).

use chrono::{DateTime, Datelike, Utc};
use promo_core::telegram::{IncomingUpdate, UpdateKind};
use promo_testkit::telegram::Updates;
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};

use crate::helpers::{give_tickets, keyboard_texts, text_of, ADMIN, WAIT};

async fn spawn_admin_app() -> TestApp {
    spawn_app_with(TestConfig::default().with("ADMIN_IDS", &ADMIN.to_string()))
        .await
        .expect("app")
}

/// Delivers an update and returns every `sendMessage` it caused, in order.
async fn deliver(app: &TestApp, update: &Value) -> Vec<Value> {
    let before = app.telegram.calls_to("sendMessage").len();
    let answer = app.send_update(update).await.expect("update delivered");
    assert_eq!(answer.status, 200, "webhook answered {answer:?}");
    app.telegram
        .calls_to("sendMessage")
        .into_iter()
        .skip(before)
        .map(|call| call.params)
        .collect()
}

/// Sends a text and returns the bot's single reply.
async fn say(app: &TestApp, user: i64, text: &str) -> Value {
    let replies = deliver(app, &Updates::text(user, text)).await;
    assert_eq!(replies.len(), 1, "one reply to {text:?}: {replies:?}");
    replies[0].clone()
}

fn inline_buttons(reply: &Value) -> Vec<(String, String)> {
    markup_buttons(&reply["reply_markup"])
}

fn markup_buttons(markup: &Value) -> Vec<(String, String)> {
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The inline buttons under a bot message as Telegram shows it now, after any edits.
fn buttons_now(app: &TestApp, chat: i64, message_id: i64) -> Vec<(String, String)> {
    let message = app
        .telegram
        .message(chat, message_id)
        .expect("the bot message still exists");
    markup_buttons(&message["reply_markup"])
}

/// A handled admin choice: answered first, the tapped message's buttons removed (its text
/// kept), then the flow's reply.
fn assert_choice_made(app: &TestApp, pressed: &Pressed, text_before: &str) {
    assert_eq!(
        pressed.methods,
        [
            "answerCallbackQuery",
            "editMessageReplyMarkup",
            "sendMessage"
        ],
        "calls in order"
    );
    assert_eq!(buttons_now(app, ADMIN, pressed.message_id), vec![]);
    let message = app
        .telegram
        .message(ADMIN, pressed.message_id)
        .expect("message");
    assert_eq!(text_of(&message), text_before, "only the buttons go");
}

fn is_main_menu(reply: &Value) -> bool {
    let keys = keyboard_texts(reply);
    keys.contains(&"🧾 Загрузить чек".to_owned()) && keys.contains(&"📊 Статистика".to_owned())
}

fn has_cancel_keyboard(reply: &Value) -> bool {
    keyboard_texts(reply) == vec!["❌ Отмена"]
}

/// What a tap on an inline button produced.
struct Pressed {
    /// The message whose button was tapped.
    message_id: i64,
    /// The text of `answerCallbackQuery`, if any.
    answer: Option<String>,
    sends: Vec<Value>,
    /// Every Bot API method the tap caused, in arrival order.
    methods: Vec<String>,
}

/// Taps the inline button `data` on the newest bot message in `user`'s chat that has it
/// now, through the webhook, as Telegram delivers a tap.
async fn press(app: &TestApp, user: i64, data: &str) -> Pressed {
    let message_id = app
        .telegram
        .sent_messages()
        .iter()
        .rev()
        .filter(|m| m.chat_id == user)
        .map(|m| m.message_id)
        .find(|id| {
            app.telegram.message(user, *id).is_some_and(|m| {
                markup_buttons(&m["reply_markup"])
                    .iter()
                    .any(|(_, d)| d == data)
            })
        })
        .expect("a bot message with this button");
    let calls_before = app.telegram.calls().len();
    let answers_before = app.telegram.calls_to("answerCallbackQuery").len();
    let sends_before = app.telegram.calls_to("sendMessage").len();
    let sends = deliver(app, &Updates::callback(user, data, message_id)).await;
    let calls: Vec<_> = app
        .telegram
        .calls()
        .into_iter()
        .skip(calls_before)
        .collect();
    for call in &calls {
        assert_eq!(
            call.status, 200,
            "{} failed: {:?}",
            call.method, call.response
        );
    }
    let methods: Vec<String> = calls.into_iter().map(|call| call.method).collect();
    assert_eq!(
        methods.first().map(String::as_str),
        Some("answerCallbackQuery"),
        "the callback is answered before anything else: {methods:?}"
    );
    let answers: Vec<_> = app
        .telegram
        .calls_to("answerCallbackQuery")
        .into_iter()
        .skip(answers_before)
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "every callback is answered once: {answers:?}"
    );
    assert_eq!(answers[0].status, 200, "{:?}", answers[0].response);
    if let Some(first_send) = app.telegram.calls_to("sendMessage").get(sends_before) {
        assert!(
            answers[0].at <= first_send.at,
            "the callback is answered first"
        );
    }
    Pressed {
        message_id,
        answer: answers[0].params["text"].as_str().map(str::to_owned),
        sends,
        methods,
    }
}

/// Taps a button of an older bot message again, straight through the webhook (as a tap
/// already under way would arrive). Returns the text the callback was answered with.
async fn late_tap(app: &TestApp, user: i64, data: &str, message_id: i64) -> Option<String> {
    let answer = app
        .post_update(&Updates::callback(user, data, message_id))
        .await
        .expect("posted");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["method"], "answerCallbackQuery",
        "only answered: {:?}",
        answer.body
    );
    answer.body["text"].as_str().map(str::to_owned)
}

const STALE: &str = "Это действие уже неактуально.";

async fn admin_state(app: &TestApp, chat: i64) -> Option<Value> {
    app.app
        .bot
        .states()
        .load(promo_core::bot::states::Flow::Admin, chat)
        .await
        .expect("admin state")
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(sql, &[])
        .await
        .expect("count")
        .get(0)
}

async fn campaigns(app: &TestApp) -> Vec<tokio_postgres::Row> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT id, kind, status, content, audience, scheduled_for, created_via, created_by
             FROM campaigns WHERE bot_id = $1 ORDER BY id",
            &[&app.app.bot_id],
        )
        .await
        .expect("campaigns")
}

async fn audit(app: &TestApp) -> Vec<tokio_postgres::Row> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT admin_user_id, actor, action, target, details
             FROM audit_log WHERE bot_id = $1 AND actor LIKE 'bot:%' ORDER BY id",
            &[&app.app.bot_id],
        )
        .await
        .expect("audit")
}

/// Nothing an admin flow writes exists.
async fn assert_nothing_created(app: &TestApp) {
    assert_eq!(count(app, "SELECT count(*) FROM campaigns").await, 0);
    assert_eq!(count(app, "SELECT count(*) FROM tickets").await, 0);
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM audit_log WHERE actor LIKE 'bot:%'"
        )
        .await,
        0
    );
}

/// Nothing was written by a flow that only reads (seeded tickets aside).
async fn assert_no_campaign_or_audit(app: &TestApp) {
    assert_eq!(count(app, "SELECT count(*) FROM campaigns").await, 0);
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM audit_log WHERE actor LIKE 'bot:%'"
        )
        .await,
        0
    );
}

/// A registered shopper stored directly, as registration would leave them.
async fn shopper(
    app: &TestApp,
    telegram_id: i64,
    name: &str,
    username: Option<&str>,
    phone: &str,
) -> i64 {
    let phone = promo_core::pii::Phone::parse(phone).expect("phone");
    let sealed = app.app.settings.phone_key.seal(&phone);
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, username, first_name, full_name,
                                phone_ciphertext, phone_hash, phone_masked, status, registered_at)
             VALUES ($1, $2, $3, 'Иван', $4, $5, $6, $7, 'registered', now()) RETURNING id",
            &[
                &app.app.bot_id,
                &telegram_id,
                &username,
                &name,
                &sealed.ciphertext,
                &sealed.hash,
                &sealed.masked,
            ],
        )
        .await
        .expect("shopper")
        .get(0)
}

// ---------------------------------------------------------------- guard and menu

#[tokio::test]
async fn an_admin_from_admin_ids_sees_the_admin_rows_of_the_main_menu() {
    let app = spawn_admin_app().await;
    shopper(&app, ADMIN, "Админ Админов", None, "+79990009999").await;
    let reply = say(&app, ADMIN, "привет").await;
    assert_eq!(
        keyboard_texts(&reply),
        vec![
            "🧾 Загрузить чек",
            "👤 Мой профиль",
            "📋 Мои чеки",
            "ℹ️ FAQ",
            "🆘 Поддержка",
            "📊 Статистика",
            "📢 Рассылка",
            "🎁 Розыгрыш",
            "🏆 Победители",
            "📥 Экспорт победителей",
            "➕ Ручное добавление",
        ]
    );
}

#[tokio::test]
async fn a_non_admin_pressing_admin_buttons_gets_the_menu_hint_and_nothing_is_created() {
    let app = spawn_admin_app().await;
    shopper(&app, 3001, "Пётр Иванов", None, "+79990000001").await;
    for button in [
        "📊 Статистика",
        "📢 Рассылка",
        "🎁 Розыгрыш",
        "🏆 Победители",
        "📥 Экспорт победителей",
        "➕ Ручное добавление",
    ] {
        let reply = say(&app, 3001, button).await;
        assert_eq!(
            text_of(&reply),
            "Не понял сообщение. Пожалуйста, воспользуйтесь кнопками меню.",
            "{button}"
        );
        assert!(!keyboard_texts(&reply).contains(&"📊 Статистика".to_owned()));
        assert_eq!(admin_state(&app, 3001).await, None);
    }
    // A forged admin callback from a non-admin gets the ordinary stale notice.
    let answer = app
        .post_update(&Updates::callback(3001, "adm:bc:now", 1))
        .await
        .expect("posted");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["method"], "answerCallbackQuery");
    assert_ne!(answer.body["text"], STALE, "not the admin's notice");
    let update = Updates::callback(3001, "adm:rf:go", 1);
    let parsed = IncomingUpdate::parse(&serde_json::to_vec(&update).expect("json")).expect("parse");
    let UpdateKind::CallbackQuery(query) = parsed.kind else {
        panic!("callback");
    };
    let handled = promo_core::bot::admin::handle_callback(&app.app.bot, &query)
        .await
        .expect("handled");
    assert!(handled.is_none(), "the admin module refuses a non-admin");
    assert!(app.telegram.calls_to("sendDocument").is_empty());
    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn a_panel_user_linked_by_telegram_id_is_an_admin_and_named_in_the_rows() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        "operator",
        "long enough password 123",
        "manager",
        Some(4242),
        false,
    )
    .await
    .expect("panel user");
    let panel_id: i64 = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT id FROM admin_users WHERE login = 'operator'", &[])
        .await
        .expect("row")
        .get(0);

    say(&app, 4242, "🎁 Розыгрыш").await;
    say(&app, 4242, "Сертификат").await;
    say(&app, 4242, "1").await;
    press(&app, 4242, "adm:rf:go").await;

    let rows = campaigns(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, Option<i64>>("created_by"), Some(panel_id));
    let audit = audit(&app).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].get::<_, Option<i64>>("admin_user_id"),
        Some(panel_id)
    );
    assert_eq!(audit[0].get::<_, String>("actor"), "bot:4242");
}

#[tokio::test]
async fn an_english_speaking_admin_gets_the_flows_in_english() {
    let app = spawn_admin_app().await;
    let english = |text: &str| {
        let mut update = Updates::text(ADMIN, text);
        update["message"]["from"]["language_code"] = json!("en-GB");
        update
    };
    let ask = deliver(&app, &english("🎁 Raffle")).await;
    assert_eq!(
        text_of(&ask[0]),
        "🎁 What is the prize? Type its name (2 to 200 characters)."
    );
    assert_eq!(keyboard_texts(&ask[0]), vec!["❌ Cancel"]);
    let cancelled = deliver(&app, &english("❌ Cancel")).await;
    assert_eq!(text_of(&cancelled[0]), "Cancelled.");
    assert!(keyboard_texts(&cancelled[0]).contains(&"📊 Statistics".to_owned()));
    assert_nothing_created(&app).await;
}

// ---------------------------------------------------------------- statistics

/// Stores an upload as the verifier leaves it.
async fn upload(
    app: &TestApp,
    user: i64,
    status: &str,
    outcome: Option<&str>,
    receipt: Option<i64>,
) {
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, status, outcome, receipt_id)
             VALUES ($1, $2, 'qr_text', $3, $4, $5)",
            &[&app.app.bot_id, &user, &status, &outcome, &receipt],
        )
        .await
        .expect("submission");
}

#[tokio::test]
async fn statistics_tell_receipts_and_uploads_apart_and_say_why_uploads_were_refused() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", None, "+79990000001").await;
    let anna = shopper(&app, 3002, "Анна Смирнова", None, "+79990000002").await;
    let db = app.db().await.expect("db");
    db.execute(
        "INSERT INTO users (bot_id, telegram_id, first_name) VALUES ($1, 3003, 'Новичок')",
        &[&app.app.bot_id],
    )
    .await
    .expect("new user");
    for (n, (user, status, submission_status, outcome)) in [
        (ivan, "accepted", "accepted", "accepted"),
        (ivan, "accepted", "accepted", "accepted"),
        (anna, "pending", "pending_moderation", "held_for_review"),
        (anna, "rejected", "rejected", "no_promo_items"),
    ]
    .into_iter()
    .enumerate()
    {
        let receipt: i64 = db
            .query_one(
                "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                                       fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, status)
                 VALUES ($1, $2, '9999078900012345', $3, 1, 1, now(), 10000, 'qr', $4) RETURNING id",
                &[&app.app.bot_id, &user, &(n as i64), &status],
            )
            .await
            .expect("receipt")
            .get(0);
        upload(&app, user, submission_status, Some(outcome), Some(receipt)).await;
    }
    // The uploads that never became a receipt: today's "отклонено: 1" hid all of them.
    for _ in 0..3 {
        upload(&app, anna, "rejected", Some("duplicate"), None).await;
    }
    upload(&app, anna, "rejected", Some("duplicate_in_progress"), None).await;
    upload(&app, anna, "rejected", Some("bad_image"), None).await;
    upload(&app, anna, "rejected", Some("not_fiscal_qr"), None).await;
    upload(&app, anna, "rejected", Some("not_a_sale"), None).await;
    upload(&app, anna, "rejected", Some("out_of_window"), None).await;
    upload(&app, anna, "rejected", Some("fns_invalid"), None).await;
    upload(&app, anna, "rejected", Some("something_new"), None).await;
    upload(&app, anna, "failed", Some("provider_unavailable"), None).await;
    upload(&app, ivan, "queued", None, None).await;
    upload(&app, ivan, "retry_scheduled", Some("quota_paused"), None).await;
    give_tickets(&app, ivan, 5).await;
    give_tickets(&app, anna, 2).await;

    let reply = say(&app, ADMIN, "📊 Статистика").await;
    // Four users: two shoppers, the newcomer and the admin who just wrote to the bot.
    assert_eq!(
        text_of(&reply),
        "📊 Статистика\n\n👥 Пользователей: 4\n✅ Зарегистрированы: 2\n🆕 Новых сегодня: 4\n\
         📝 Регистраций сегодня: 2\n\n\
         🧾 Чеки — уникальные чеки, подтверждённые налоговой\n\
         • приняты, билеты начислены: 2\n\
         • ждут решения модератора: 1\n\
         • отклонены (нет товаров акции или решение модератора): 1\n\n\
         📤 Загрузки — каждое фото, файл или текст QR-кода от участников\n\
         • всего: 17, сегодня: 17\n\
         • стали чеками (они посчитаны выше): 4\n\
         • ждут проверки: 2\n\
         • отказано до появления чека: 10\n\
         \u{20}\u{20}– повтор уже загруженного чека: 4\n\
         \u{20}\u{20}– не читается или не QR-код чека: 2\n\
         \u{20}\u{20}– чек возврата, а не покупки: 1\n\
         \u{20}\u{20}– покупка вне сроков акции: 1\n\
         \u{20}\u{20}– налоговая не подтвердила чек: 1\n\
         \u{20}\u{20}– другое: 1\n\
         • не удалось проверить (сервис проверки недоступен или чека нет в налоговой): 1\n\n\
         🎟 Билетов всего: 7"
    );
    assert!(is_main_menu(&reply));
    assert_no_campaign_or_audit(&app).await;
}

// ---------------------------------------------------------------- broadcast

#[tokio::test]
async fn a_broadcast_sent_now_becomes_one_scheduled_campaign_for_everyone() {
    let app = spawn_admin_app().await;
    shopper(&app, 3001, "Иван Петров", None, "+79990000001").await;
    shopper(&app, 3002, "Анна Смирнова", None, "+79990000002").await;

    let ask = say(&app, ADMIN, "📢 Рассылка").await;
    assert_eq!(
        text_of(&ask),
        "📢 Отправьте текст рассылки одним сообщением (до 4096 символов). Его получат все зарегистрированные участники."
    );
    assert!(has_cancel_keyboard(&ask));
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "broadcast_text"}))
    );

    let text = "🔥 Новая неделя — новые призы!\nЗагружайте чеки.";
    let replies = deliver(&app, &Updates::text(ADMIN, text)).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(
        text_of(&replies[0]),
        "👀 Предпросмотр ниже: так сообщение увидят участники. Получателей сейчас: 2."
    );
    assert_eq!(text_of(&replies[1]), text);
    assert!(replies[1].get("parse_mode").is_none());
    assert_eq!(
        inline_buttons(&replies[1]),
        vec![
            ("🚀 Отправить сейчас".to_owned(), "adm:bc:now".to_owned()),
            ("🕒 Запланировать".to_owned(), "adm:bc:at".to_owned()),
            ("❌ Отмена".to_owned(), "adm:cancel".to_owned()),
        ]
    );
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "broadcast_preview", "text": text}))
    );

    let pressed = press(&app, ADMIN, "adm:bc:now").await;
    assert_eq!(pressed.answer, None);
    assert_eq!(pressed.sends.len(), 1);
    assert_choice_made(&app, &pressed, text);
    let edits = app.telegram.calls_to("editMessageReplyMarkup");
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].params,
        json!({"chat_id": ADMIN, "message_id": pressed.message_id,
               "reply_markup": {"inline_keyboard": []}})
    );
    let rows = campaigns(&app).await;
    assert_eq!(rows.len(), 1);
    let id: i64 = rows[0].get("id");
    assert_eq!(
        text_of(&pressed.sends[0]),
        format!("✅ Рассылка №{id} запущена, получателей: 2. Ход отправки виден в панели.")
    );
    assert!(is_main_menu(&pressed.sends[0]));

    let row = &rows[0];
    assert_eq!(row.get::<_, String>("kind"), "broadcast");
    assert_eq!(row.get::<_, String>("status"), "scheduled");
    assert_eq!(row.get::<_, Value>("content"), json!({"text": text}));
    assert_eq!(row.get::<_, Value>("audience"), json!({"all": true}));
    assert_eq!(row.get::<_, Option<DateTime<Utc>>>("scheduled_for"), None);
    assert_eq!(row.get::<_, String>("created_via"), "bot");
    assert_eq!(row.get::<_, Option<i64>>("created_by"), None);

    let audit = audit(&app).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get::<_, String>("actor"), format!("bot:{ADMIN}"));
    assert_eq!(audit[0].get::<_, String>("action"), "campaign.create");
    assert_eq!(
        audit[0].get::<_, Option<String>>("target"),
        Some(format!("campaign:{id}"))
    );
    assert_eq!(
        audit[0].get::<_, Value>("details"),
        json!({"kind": "broadcast", "content": {"text": text}, "audience": {"all": true},
               "scheduled_for": null})
    );
    assert_eq!(admin_state(&app, ADMIN).await, None);
}

#[tokio::test]
async fn tapping_send_now_twice_creates_one_campaign_and_the_second_tap_is_stale() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Привет всем")).await;
    let first = press(&app, ADMIN, "adm:bc:now").await;
    let again = late_tap(&app, ADMIN, "adm:bc:now", first.message_id).await;
    assert_eq!(again.as_deref(), Some(STALE));
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 1);
    let schedule = late_tap(&app, ADMIN, "adm:bc:at", first.message_id).await;
    assert_eq!(schedule.as_deref(), Some(STALE));
    assert_eq!(admin_state(&app, ADMIN).await, None);
    // A stale tap is only answered: the buttons went with the first tap.
    assert_eq!(app.telegram.calls_to("editMessageReplyMarkup").len(), 1);
    assert_eq!(buttons_now(&app, ADMIN, first.message_id), vec![]);
}

#[tokio::test]
async fn two_concurrent_taps_on_send_now_create_one_campaign() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Привет всем")).await;
    let message_id = app
        .telegram
        .sent_messages()
        .last()
        .map(|m| m.message_id)
        .expect("preview");
    // Straight to the webhook, at the same time.
    let first = Updates::callback(ADMIN, "adm:bc:now", message_id);
    let second = Updates::callback(ADMIN, "adm:bc:now", message_id);
    let (a, b) = tokio::join!(app.post_update(&first), app.post_update(&second));
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM audit_log").await, 1);
    // The winner's last call is its confirmation; the loser only answers the tap.
    let mut methods = [
        (a.body["method"].clone(), a.body["text"].clone()),
        (b.body["method"].clone(), b.body["text"].clone()),
    ];
    methods.sort_by_key(|(method, _)| method.to_string());
    assert_eq!(methods[0], (json!("answerCallbackQuery"), json!(STALE)));
    assert_eq!(methods[1].0, json!("sendMessage"));
    // Only the winner removes the preview's buttons.
    assert_eq!(app.telegram.calls_to("editMessageReplyMarkup").len(), 1);
    assert_eq!(buttons_now(&app, ADMIN, message_id), vec![]);
}

#[tokio::test]
async fn a_scheduled_broadcast_asks_for_a_moscow_time_and_refuses_bad_ones() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Розыгрыш завтра!")).await;

    let pressed = press(&app, ADMIN, "adm:bc:at").await;
    assert_eq!(pressed.sends.len(), 1);
    assert_choice_made(&app, &pressed, "Розыгрыш завтра!");
    let ask = text_of(&pressed.sends[0]).to_owned();
    assert!(
        ask.starts_with("🕒 Когда отправить? Напишите дату и время по Москве в формате ДД.ММ.ГГГГ ЧЧ:ММ, например "),
        "{ask}"
    );
    assert!(has_cancel_keyboard(&pressed.sends[0]));
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "broadcast_time", "text": "Розыгрыш завтра!"}))
    );

    let bad = say(&app, ADMIN, "завтра в обед").await;
    assert!(
        text_of(&bad)
            .starts_with("Не удалось разобрать дату. Нужен формат ДД.ММ.ГГГГ ЧЧ:ММ по Москве"),
        "{bad}"
    );
    let past = say(&app, ADMIN, "01.01.2020 10:00").await;
    assert!(
        text_of(&past).starts_with("Это время уже прошло. Укажите дату и время в будущем"),
        "{past}"
    );
    let far = format!("01.01.{} 10:00", Utc::now().year() + 2);
    let too_far = say(&app, ADMIN, &far).await;
    assert_eq!(
        text_of(&too_far),
        "Рассылку можно запланировать не больше чем на год вперёд. Укажите другую дату."
    );
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 0);

    // Two days ahead at 10:00 Moscow time = 07:00 UTC.
    let day = (Utc::now() + chrono::Duration::days(2))
        .with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).expect("offset"));
    let typed = format!("{} 10:00", day.format("%d.%m.%Y"));
    let expected_at =
        DateTime::parse_from_rfc3339(&format!("{}T07:00:00Z", day.format("%Y-%m-%d")))
            .expect("rfc3339")
            .with_timezone(&Utc);
    let ok = say(&app, ADMIN, &typed).await;
    let rows = campaigns(&app).await;
    assert_eq!(rows.len(), 1);
    let id: i64 = rows[0].get("id");
    assert_eq!(
        text_of(&ok),
        format!("✅ Рассылка №{id} запланирована на {typed} по Москве.")
    );
    assert!(is_main_menu(&ok));
    assert_eq!(rows[0].get::<_, String>("status"), "scheduled");
    assert_eq!(
        rows[0].get::<_, Value>("content"),
        json!({"text": "Розыгрыш завтра!"})
    );
    assert_eq!(
        rows[0].get::<_, Option<DateTime<Utc>>>("scheduled_for"),
        Some(expected_at)
    );
    let audit = audit(&app).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].get::<_, Value>("details")["scheduled_for"],
        json!(expected_at)
    );
    assert_eq!(admin_state(&app, ADMIN).await, None);
}

#[tokio::test]
async fn broadcast_input_errors_are_explained_and_change_nothing() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "📢 Рассылка").await;

    let too_long = say(&app, ADMIN, &"я".repeat(4097)).await;
    assert_eq!(
        text_of(&too_long),
        "Текст рассылки должен содержать от 1 до 4096 символов. Отправьте текст ещё раз."
    );
    assert!(has_cancel_keyboard(&too_long));

    let file_id = app.telegram.add_file(vec![1u8, 2, 3], "pic.jpg");
    let photo = deliver(&app, &Updates::photo(ADMIN, &file_id, 800, 600, 3)).await;
    assert_eq!(photo.len(), 1);
    assert_eq!(
        text_of(&photo[0]),
        "Рассылка из бота пока поддерживает только текст. Отправьте текст сообщения."
    );
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "broadcast_text"}))
    );

    deliver(&app, &Updates::text(ADMIN, "Текст")).await;
    let typed = say(&app, ADMIN, "отправляй").await;
    assert_eq!(
        text_of(&typed),
        "Выберите действие кнопками под предпросмотром: «🚀 Отправить сейчас», «🕒 Запланировать» или «❌ Отмена»."
    );
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "broadcast_preview", "text": "Текст"}))
    );
    assert_nothing_created(&app).await;
}

// ---------------------------------------------------------------- cancel paths

async fn assert_cancelled(app: &TestApp, reply: &Value) {
    assert_eq!(text_of(reply), "Действие отменено.");
    assert!(is_main_menu(reply), "{reply}");
    assert_eq!(admin_state(app, ADMIN).await, None);
}

#[tokio::test]
async fn cancel_stops_the_broadcast_at_every_step() {
    let app = spawn_admin_app().await;

    say(&app, ADMIN, "📢 Рассылка").await;
    let reply = say(&app, ADMIN, "❌ Отмена").await;
    assert_cancelled(&app, &reply).await;

    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Текст")).await;
    let pressed = press(&app, ADMIN, "adm:cancel").await;
    assert_eq!(pressed.answer.as_deref(), Some("Отменено"));
    assert_eq!(pressed.sends.len(), 1);
    assert_cancelled(&app, &pressed.sends[0]).await;
    assert_choice_made(&app, &pressed, "Текст");
    // The old preview's buttons do nothing now.
    let late = late_tap(&app, ADMIN, "adm:bc:now", pressed.message_id).await;
    assert_eq!(late.as_deref(), Some(STALE));

    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Текст")).await;
    let typed = say(&app, ADMIN, "❌ Отмена").await;
    assert_cancelled(&app, &typed).await;

    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Текст")).await;
    press(&app, ADMIN, "adm:bc:at").await;
    let reply = say(&app, ADMIN, "/cancel").await;
    assert_cancelled(&app, &reply).await;

    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn cancel_stops_the_raffle_at_every_step() {
    let app = spawn_admin_app().await;

    say(&app, ADMIN, "🎁 Розыгрыш").await;
    let reply = say(&app, ADMIN, "/cancel").await;
    assert_cancelled(&app, &reply).await;

    say(&app, ADMIN, "🎁 Розыгрыш").await;
    say(&app, ADMIN, "iPhone 16").await;
    let reply = say(&app, ADMIN, "❌ Отмена").await;
    assert_cancelled(&app, &reply).await;

    say(&app, ADMIN, "🎁 Розыгрыш").await;
    say(&app, ADMIN, "iPhone 16").await;
    say(&app, ADMIN, "3").await;
    let pressed = press(&app, ADMIN, "adm:cancel").await;
    assert_eq!(pressed.answer.as_deref(), Some("Отменено"));
    assert_cancelled(&app, &pressed.sends[0]).await;
    assert_eq!(buttons_now(&app, ADMIN, pressed.message_id), vec![]);
    assert_eq!(pressed.methods[1], "editMessageReplyMarkup");
    let late = late_tap(&app, ADMIN, "adm:rf:go", pressed.message_id).await;
    assert_eq!(late.as_deref(), Some(STALE));

    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn cancel_stops_the_manual_grant_at_every_step() {
    let app = spawn_admin_app().await;
    shopper(&app, 3001, "Иван Петров", None, "+79990000001").await;

    say(&app, ADMIN, "➕ Ручное добавление").await;
    let reply = say(&app, ADMIN, "❌ Отмена").await;
    assert_cancelled(&app, &reply).await;

    say(&app, ADMIN, "➕ Ручное добавление").await;
    say(&app, ADMIN, "3001").await;
    let reply = say(&app, ADMIN, "/cancel").await;
    assert_cancelled(&app, &reply).await;

    say(&app, ADMIN, "➕ Ручное добавление").await;
    say(&app, ADMIN, "3001").await;
    say(&app, ADMIN, "5").await;
    let reply = say(&app, ADMIN, "❌ Отмена").await;
    assert_cancelled(&app, &reply).await;

    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn cancel_without_an_admin_flow_is_the_ordinary_cancel() {
    let app = spawn_admin_app().await;
    let reply = say(&app, ADMIN, "/cancel").await;
    assert_ne!(
        text_of(&reply),
        "Действие отменено.",
        "the shopper dialogue answered"
    );
    assert_eq!(admin_state(&app, ADMIN).await, None);
    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn a_menu_button_mid_flow_starts_afresh_and_a_shopper_button_leaves_the_flow() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "📢 Рассылка").await;
    let raffle = say(&app, ADMIN, "🎁 Розыгрыш").await;
    assert_eq!(
        text_of(&raffle),
        "🎁 Какой приз разыгрываем? Напишите его название (от 2 до 200 символов)."
    );
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "raffle_prize"}))
    );

    deliver(&app, &Updates::text(ADMIN, "ℹ️ FAQ")).await;
    assert_eq!(admin_state(&app, ADMIN).await, None);

    say(&app, ADMIN, "➕ Ручное добавление").await;
    deliver(&app, &Updates::text(ADMIN, "/start")).await;
    assert_eq!(
        admin_state(&app, ADMIN).await,
        None,
        "a command leaves the flow"
    );
    assert_nothing_created(&app).await;
}

// ---------------------------------------------------------------- raffle

#[tokio::test]
async fn a_prize_typed_with_markup_is_echoed_exactly_as_typed_in_plain_text() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "🎁 Розыгрыш").await;
    say(&app, ADMIN, "<b>iPhone</b> & AirPods").await;
    let confirm = say(&app, ADMIN, "1").await;
    assert!(
        text_of(&confirm).contains("Приз: <b>iPhone</b> & AirPods\n"),
        "{confirm}"
    );
    // No parse mode: Telegram shows the text literally, so nothing needs escaping.
    assert!(confirm.get("parse_mode").is_none(), "{confirm}");
}

#[tokio::test]
async fn a_confirmed_raffle_becomes_a_scheduled_raffle_campaign() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", None, "+79990000001").await;
    give_tickets(&app, ivan, 3).await;

    let ask = say(&app, ADMIN, "🎁 Розыгрыш").await;
    assert!(has_cancel_keyboard(&ask));
    let count_ask = say(&app, ADMIN, "  iPhone   16 Pro ").await;
    assert_eq!(
        text_of(&count_ask),
        "Сколько победителей? Введите число от 1 до 100."
    );
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "raffle_winner_count", "prize": "iPhone 16 Pro"}))
    );
    let confirm = say(&app, ADMIN, "3").await;
    assert_eq!(
        text_of(&confirm),
        "🎁 Розыгрыш\n\nПриз: iPhone 16 Pro\nПобедителей: 3\nУчастников с билетами: 1\n\n\
         Победители выбираются случайно, шанс зависит от числа билетов. Провести розыгрыш?"
    );
    assert_eq!(
        inline_buttons(&confirm),
        vec![
            ("✅ Провести розыгрыш".to_owned(), "adm:rf:go".to_owned()),
            ("❌ Отмена".to_owned(), "adm:cancel".to_owned()),
        ]
    );
    let typed = say(&app, ADMIN, "да").await;
    assert_eq!(
        text_of(&typed),
        "Подтвердите розыгрыш кнопкой «✅ Провести розыгрыш» или нажмите «❌ Отмена»."
    );
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 0);

    let pressed = press(&app, ADMIN, "adm:rf:go").await;
    assert_choice_made(&app, &pressed, text_of(&confirm));
    let rows = campaigns(&app).await;
    assert_eq!(rows.len(), 1);
    let id: i64 = rows[0].get("id");
    let commitment: String = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT seed_commitment FROM raffles WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .expect("the raffle's model")
        .get(0);
    assert_eq!(commitment.len(), 64);
    assert_eq!(
        text_of(&pressed.sends[0]),
        format!(
            "✅ Розыгрыш №{id} запущен. Победители появятся в разделе «🏆 Победители».\n\n\
             Обязательство (SHA-256 зерна), опубликовано до розыгрыша: {commitment}"
        )
    );
    assert!(is_main_menu(&pressed.sends[0]));
    assert_eq!(rows[0].get::<_, String>("kind"), "raffle");
    assert_eq!(rows[0].get::<_, String>("status"), "scheduled");
    assert_eq!(
        rows[0].get::<_, Value>("content"),
        json!({"prize": "iPhone 16 Pro", "winner_count": 3})
    );
    assert_eq!(
        rows[0].get::<_, Option<DateTime<Utc>>>("scheduled_for"),
        None
    );
    assert_eq!(rows[0].get::<_, String>("created_via"), "bot");
    let audit = audit(&app).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get::<_, String>("action"), "raffle.created");
    assert_eq!(
        audit[0].get::<_, Value>("details")["seed_commitment"],
        commitment
    );

    let again = late_tap(&app, ADMIN, "adm:rf:go", pressed.message_id).await;
    assert_eq!(again.as_deref(), Some(STALE));
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 1);
}

#[tokio::test]
async fn raffle_input_errors_are_explained_and_change_nothing() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "🎁 Розыгрыш").await;
    for bad in ["x", &"я".repeat(201)] {
        let reply = say(&app, ADMIN, bad).await;
        assert_eq!(
            text_of(&reply),
            "Название приза должно содержать от 2 до 200 символов. Напишите его ещё раз."
        );
        assert!(has_cancel_keyboard(&reply));
    }
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "raffle_prize"}))
    );
    say(&app, ADMIN, "Сертификат").await;
    for bad in ["0", "101", "три", "2.5", "-1"] {
        let reply = say(&app, ADMIN, bad).await;
        assert_eq!(
            text_of(&reply),
            "Нужно целое число от 1 до 100. Сколько победителей?",
            "{bad}"
        );
    }
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "raffle_winner_count", "prize": "Сертификат"}))
    );
    assert_nothing_created(&app).await;
}

// ---------------------------------------------------------------- winners and export

/// A completed raffle with winners, as the raffle engine leaves it; returns the draw id.
async fn seed_draw(app: &TestApp, prize: &str, winners: &[(i64, i32, bool)]) -> i64 {
    let db = app.db().await.expect("db");
    let campaign: i64 = db
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content)
             VALUES ($1, 'raffle', 'completed', '{}') RETURNING id",
            &[&app.app.bot_id],
        )
        .await
        .expect("campaign")
        .get(0);
    let draw: i64 = db
        .query_one(
            "INSERT INTO raffle_draws (bot_id, campaign_id, prize, winner_count, seed,
                                       ticket_snapshot, algorithm, drawn_at)
             VALUES ($1, $2, $3, $4, '\\x00', '[]', 'test', '2026-11-20T09:00:00Z') RETURNING id",
            &[&app.app.bot_id, &campaign, &prize, &(winners.len() as i32)],
        )
        .await
        .expect("draw")
        .get(0);
    for (position, (user, tickets, notified)) in winners.iter().enumerate() {
        db.execute(
            "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw, notified_at)
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN '2026-11-20T09:05:00Z'::timestamptz END)",
            &[&draw, &app.app.bot_id, user, &(position as i32 + 1), tickets, notified],
        )
        .await
        .expect("winner");
    }
    draw
}

#[tokio::test]
async fn an_admin_ids_admin_sees_the_winners_full_phones_and_each_view_is_audited() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", Some("ivan_p"), "+79990000001").await;
    let anna = shopper(&app, 3002, "Анна Смирнова", None, "+79990004567").await;
    let draw = seed_draw(&app, "iPhone 16", &[(ivan, 12, true), (anna, 3, false)]).await;

    let reply = say(&app, ADMIN, "🏆 Победители").await;
    // Anna has no username: only the full number lets the organisers reach her.
    assert_eq!(
        text_of(&reply),
        format!(
            "🏆 Последние розыгрыши\n\n🎁 Розыгрыш №{draw}: iPhone 16 (20.11.2026 12:00 МСК)\n\
             1. Иван Петров (@ivan_p), +79990000001, билетов: 12 ✉️\n\
             2. Анна Смирнова, +79990004567, билетов: 3"
        )
    );
    assert!(is_main_menu(&reply));
    say(&app, ADMIN, "🏆 Победители").await;

    let audit = audit(&app).await;
    assert_eq!(audit.len(), 2, "one row per view");
    for row in &audit {
        assert_eq!(row.get::<_, String>("actor"), format!("bot:{ADMIN}"));
        assert_eq!(row.get::<_, String>("action"), "winners.view_phones");
        assert_eq!(
            row.get::<_, Option<String>>("target").as_deref(),
            Some("winners")
        );
        assert_eq!(
            row.get::<_, Value>("details"),
            json!({"draws": [draw], "winner_user_ids": [ivan, anna]})
        );
        assert!(!row.get::<_, Value>("details").to_string().contains("7999"));
    }
}

/// A panel user with `role`, linked to the Telegram account `telegram_id`.
async fn panel_user(app: &TestApp, login: &str, role: &str, telegram_id: i64) {
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        login,
        "long enough password 123",
        role,
        Some(telegram_id),
        false,
    )
    .await
    .expect("panel user");
}

#[tokio::test]
async fn linked_owners_and_managers_see_full_phones_and_viewers_masked_ones() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    let anna = shopper(&app, 3002, "Анна Смирнова", None, "+79990004567").await;
    seed_draw(&app, "iPhone 16", &[(anna, 3, false)]).await;
    for (telegram_id, role, phone, audited) in [
        (4301, "owner", "+79990004567", 1),
        (4302, "manager", "+79990004567", 1),
        (4304, "viewer", "+7 *** ***-45-67", 0),
    ] {
        panel_user(&app, role, role, telegram_id).await;
        let reply = say(&app, telegram_id, "🏆 Победители").await;
        assert!(
            text_of(&reply).ends_with(&format!("1. Анна Смирнова, {phone}, билетов: 3")),
            "{role}: {reply}"
        );
        let views = count(
            &app,
            &format!(
                "SELECT count(*) FROM audit_log
                 WHERE actor = 'bot:{telegram_id}' AND action = 'winners.view_phones'
                   AND admin_user_id = (SELECT id FROM admin_users WHERE login = '{role}')"
            ),
        )
        .await;
        assert_eq!(views, audited, "{role}");
    }
}

#[tokio::test]
async fn the_winners_list_shows_the_latest_draws_with_masked_phones_to_a_viewer() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    panel_user(&app, "operator", "viewer", ADMIN).await;
    let ivan = shopper(&app, 3001, "Иван Петров", Some("ivan_p"), "+79990000001").await;
    let anna = shopper(&app, 3002, "Анна Смирнова", None, "+79990004567").await;
    let draw = seed_draw(&app, "iPhone 16", &[(ivan, 12, true), (anna, 3, false)]).await;

    let reply = say(&app, ADMIN, "🏆 Победители").await;
    assert_eq!(
        text_of(&reply),
        format!(
            "🏆 Последние розыгрыши\n\n🎁 Розыгрыш №{draw}: iPhone 16 (20.11.2026 12:00 МСК)\n\
             1. Иван Петров (@ivan_p), +7 *** ***-00-01, билетов: 12 ✉️\n\
             2. Анна Смирнова, +7 *** ***-45-67, билетов: 3"
        )
    );
    assert!(!text_of(&reply).contains("79990000001"));
    assert!(is_main_menu(&reply));
    assert!(
        audit(&app).await.is_empty(),
        "nothing revealed, nothing audited"
    );
}

#[tokio::test]
async fn the_winners_list_shows_only_the_five_newest_draws() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", None, "+79990000001").await;
    let mut draws = Vec::new();
    for n in 1..=6 {
        draws.push(seed_draw(&app, &format!("Приз {n}"), &[(ivan, n, false)]).await);
    }
    let reply = say(&app, ADMIN, "🏆 Победители").await;
    let text = text_of(&reply);
    assert!(
        !text.contains(&format!("Розыгрыш №{}:", draws[0])),
        "{text}"
    );
    for draw in &draws[1..] {
        assert!(text.contains(&format!("Розыгрыш №{draw}:")), "{text}");
    }
    // Same draw time: the newer id comes first.
    let newest = text.find(&format!("№{}:", draws[5])).unwrap_or(usize::MAX);
    let older = text.find(&format!("№{}:", draws[1])).unwrap_or(0);
    assert!(newest < older, "{text}");
}

#[tokio::test]
async fn without_draws_the_winners_list_and_the_export_say_so() {
    let app = spawn_admin_app().await;
    let list = say(&app, ADMIN, "🏆 Победители").await;
    assert_eq!(text_of(&list), "Розыгрышей с победителями пока не было.");
    let export = say(&app, ADMIN, "📥 Экспорт победителей").await;
    assert_eq!(text_of(&export), "Розыгрышей с победителями пока не было.");
    assert!(app.telegram.calls_to("sendDocument").is_empty());
}

#[tokio::test]
async fn the_winners_export_is_a_csv_document_with_a_bom_for_excel() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", Some("ivan_p"), "+79990000001").await;
    let anna = shopper(&app, 3002, "=Анна", None, "+79990004567").await;
    let draw = seed_draw(
        &app,
        "iPhone 16; Pro",
        &[(ivan, 12, true), (anna, 3, false)],
    )
    .await;

    let replies = deliver(&app, &Updates::text(ADMIN, "📥 Экспорт победителей")).await;
    assert!(
        replies.is_empty(),
        "the document is the answer: {replies:?}"
    );
    let calls = app
        .telegram
        .wait_for_calls("sendDocument", 1, WAIT)
        .await
        .expect("document sent");
    let call = &calls[0];
    assert_eq!(call.status, 200, "{:?}", call.response);
    assert_eq!(call.params["chat_id"], ADMIN);
    assert_eq!(
        call.params["caption"],
        "📥 Победители всех розыгрышей, строк: 2."
    );
    let document = &call.result().expect("result")["document"];
    let name = document["file_name"].as_str().unwrap_or_default();
    assert!(
        name.starts_with("winners_") && name.ends_with(".csv"),
        "{name}"
    );
    let file_id = document["file_id"].as_str().expect("file id");
    let bytes = app.telegram.file_bytes(file_id).expect("uploaded bytes");
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
    let csv = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
    assert_eq!(
        csv,
        format!(
            "Розыгрыш;Приз;Место;Имя;Username;Телефон;Билетов;Уведомлён\r\n\
             {draw};\"iPhone 16; Pro\";1;Иван Петров;ivan_p;+79990000001;12;20.11.2026 12:05\r\n\
             {draw};\"iPhone 16; Pro\";2;'=Анна;;+79990004567;3;\r\n"
        )
    );
    let audit = audit(&app).await;
    assert_eq!(audit.len(), 1, "the export is audited once");
    assert_eq!(audit[0].get::<_, String>("action"), "winners.export_phones");
    assert_eq!(
        audit[0].get::<_, Value>("details"),
        json!({"draws": [draw], "winner_user_ids": [ivan, anna]})
    );
}

#[tokio::test]
async fn a_viewer_exports_masked_phones_without_an_audit_row() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    panel_user(&app, "operator", "viewer", ADMIN).await;
    let anna = shopper(&app, 3002, "Анна Смирнова", None, "+79990004567").await;
    seed_draw(&app, "iPhone 16", &[(anna, 3, false)]).await;
    let replies = deliver(&app, &Updates::text(ADMIN, "📥 Экспорт победителей")).await;
    assert!(replies.is_empty(), "{replies:?}");
    let calls = app
        .telegram
        .wait_for_calls("sendDocument", 1, WAIT)
        .await
        .expect("document sent");
    let file_id = calls[0].result().expect("result")["document"]["file_id"]
        .as_str()
        .expect("file id")
        .to_owned();
    let bytes = app.telegram.file_bytes(&file_id).expect("uploaded bytes");
    let csv = String::from_utf8_lossy(&bytes).into_owned();
    assert!(csv.contains(";+7 *** ***-45-67;"), "{csv}");
    assert!(!csv.contains("79990004567"), "{csv}");
    assert!(audit(&app).await.is_empty());
}

#[tokio::test]
async fn a_failed_upload_tells_the_admin_to_try_again() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", None, "+79990000001").await;
    seed_draw(&app, "iPhone 16", &[(ivan, 1, false)]).await;
    app.telegram.fail_next(
        "sendDocument",
        1,
        promo_testkit::telegram::Failure::ServerError,
    );
    let reply = say(&app, ADMIN, "📥 Экспорт победителей").await;
    assert_eq!(
        text_of(&reply),
        "Не удалось отправить файл. Попробуйте ещё раз чуть позже."
    );
}

// ---------------------------------------------------------------- manual receipt

#[tokio::test]
async fn a_manual_grant_adds_tickets_audits_it_and_notifies_the_shopper() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", Some("ivan_p"), "+79991234567").await;
    give_tickets(&app, ivan, 2).await;

    let ask = say(&app, ADMIN, "➕ Ручное добавление").await;
    assert_eq!(
        text_of(&ask),
        "➕ Кому начислить билеты? Отправьте Telegram ID, @username или телефон участника."
    );
    assert!(has_cancel_keyboard(&ask));
    let found = say(&app, ADMIN, "@IVAN_P").await;
    let label = "Иван Петров (@ivan_p), +7 *** ***-45-67, ID 3001";
    assert_eq!(
        text_of(&found),
        format!(
            "Найден участник:\n{label}\nБилетов сейчас: 2\n\n\
             Сколько билетов начислить? Введите число от 1 до 1000."
        )
    );
    let reason_ask = say(&app, ADMIN, "5").await;
    assert_eq!(
        text_of(&reason_ask),
        "Укажите причину начисления (от 3 до 500 символов), например «чек без QR-кода, проверен вручную»."
    );
    let replies = deliver(&app, &Updates::text(ADMIN, "Чек без QR, проверен вручную")).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    // The shopper's notice is an outbox message sent right after the grant's commit, so
    // it may reach Telegram before the admin's reply.
    let to = |chat: i64| {
        replies
            .iter()
            .find(|reply| reply["chat_id"] == chat)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        text_of(&to(ADMIN)),
        format!("✅ Начислено билетов: 5.\nУчастник: {label}\nТеперь билетов: 7.")
    );
    assert!(is_main_menu(&to(ADMIN)));
    assert_eq!(
        text_of(&to(3001)),
        "🎟 Вам начислено билетов: 5.\nПричина: Чек без QR, проверен вручную\nВсего билетов: 7. Удачи в розыгрыше!"
    );

    let db = app.db().await.expect("db");
    let grant = db
        .query_one(
            "SELECT id, user_id, amount, source, reason, admin_user_id, receipt_id
             FROM tickets WHERE bot_id = $1 AND reason <> 'seed'",
            &[&app.app.bot_id],
        )
        .await
        .expect("one grant");
    assert_eq!(grant.get::<_, i64>("user_id"), ivan);
    assert_eq!(grant.get::<_, i32>("amount"), 5);
    assert_eq!(grant.get::<_, String>("source"), "manual");
    assert_eq!(
        grant.get::<_, Option<String>>("reason").as_deref(),
        Some("Чек без QR, проверен вручную")
    );
    assert_eq!(grant.get::<_, Option<i64>>("admin_user_id"), None);
    assert_eq!(grant.get::<_, Option<i64>>("receipt_id"), None);
    let ticket_id: i64 = grant.get("id");

    let audit = audit(&app).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get::<_, String>("actor"), format!("bot:{ADMIN}"));
    assert_eq!(audit[0].get::<_, String>("action"), "tickets.grant");
    assert_eq!(
        audit[0].get::<_, Option<String>>("target"),
        Some(format!("user:{ivan}"))
    );
    assert_eq!(
        audit[0].get::<_, Value>("details"),
        json!({"ticket_id": ticket_id, "user_id": ivan, "amount": 5,
               "reason": "Чек без QR, проверен вручную"})
    );
    assert_eq!(admin_state(&app, ADMIN).await, None);
}

#[tokio::test]
async fn shoppers_are_found_by_telegram_id_phone_or_a_shared_contact() {
    let app = spawn_admin_app().await;
    shopper(&app, 3001, "Иван Петров", None, "+79991234567").await;
    let expect_found = |reply: &Value| {
        assert!(
            text_of(reply)
                .starts_with("Найден участник:\nИван Петров, +7 *** ***-45-67, ID 3001\n"),
            "{reply}"
        );
    };
    for query in ["3001", "+7 (999) 123-45-67", "89991234567", "79991234567"] {
        say(&app, ADMIN, "➕ Ручное добавление").await;
        expect_found(&say(&app, ADMIN, query).await);
    }
    say(&app, ADMIN, "➕ Ручное добавление").await;
    let replies = deliver(&app, &Updates::contact(ADMIN, "79991234567", Some(3001))).await;
    expect_found(&replies[0]);
    assert_eq!(
        admin_state(&app, ADMIN).await.map(|s| s["state"].clone()),
        Some(json!("manual_amount"))
    );
    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn manual_grant_input_errors_are_explained_and_change_nothing() {
    let app = spawn_admin_app().await;
    shopper(&app, 3001, "Иван Петров", None, "+79991234567").await;
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO users (bot_id, telegram_id, first_name, status)
             VALUES ($1, 3002, 'Олег', 'registering')",
            &[&app.app.bot_id],
        )
        .await
        .expect("unregistered user");

    say(&app, ADMIN, "➕ Ручное добавление").await;
    let invalid = say(&app, ADMIN, "кто-нибудь").await;
    assert_eq!(
        text_of(&invalid),
        "Не понял запрос. Отправьте Telegram ID (число), @username или телефон в формате +79991234567."
    );
    assert!(has_cancel_keyboard(&invalid));
    let missing = say(&app, ADMIN, "@nobody_here").await;
    assert_eq!(
        text_of(&missing),
        "Участник не найден. Проверьте Telegram ID, @username или телефон и отправьте ещё раз."
    );
    let unregistered = say(&app, ADMIN, "3002").await;
    assert_eq!(
        text_of(&unregistered),
        "Участник Олег, ID 3002 ещё не завершил регистрацию: билеты начисляются только зарегистрированным. Укажите другого участника."
    );
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "manual_user"}))
    );

    say(&app, ADMIN, "3001").await;
    for bad in ["0", "1001", "пять", "1.5"] {
        let reply = say(&app, ADMIN, bad).await;
        assert_eq!(
            text_of(&reply),
            "Нужно целое число от 1 до 1000. Сколько билетов начислить?",
            "{bad}"
        );
    }
    say(&app, ADMIN, "1000").await;
    for bad in ["ok", &"я".repeat(501)] {
        let reply = say(&app, ADMIN, bad).await;
        assert_eq!(
            text_of(&reply),
            "Причина должна содержать от 3 до 500 символов. Напишите её ещё раз."
        );
    }
    assert_eq!(
        admin_state(&app, ADMIN).await.map(|s| s["amount"].clone()),
        Some(json!(1000))
    );
    assert_nothing_created(&app).await;
}

#[tokio::test]
async fn a_shopper_who_blocked_the_bot_gets_tickets_but_no_notice() {
    let app = spawn_admin_app().await;
    let ivan = shopper(&app, 3001, "Иван Петров", None, "+79991234567").await;
    app.app
        .users
        .set_reachable(3001, false)
        .await
        .expect("blocked");

    say(&app, ADMIN, "➕ Ручное добавление").await;
    say(&app, ADMIN, "3001").await;
    say(&app, ADMIN, "2").await;
    let replies = deliver(&app, &Updates::text(ADMIN, "Компенсация")).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(
        text_of(&replies[0]),
        "✅ Начислено билетов: 2.\nУчастник: Иван Петров, +7 *** ***-45-67, ID 3001\nТеперь билетов: 2.\n\n\
         Участник заблокировал бота, уведомление ему не отправлено."
    );
    assert_eq!(app.app.users.ticket_count(ivan).await.expect("count"), 2);
}

// ---------------------------------------------------------------- failures

/// Makes every insert into `table` fail in this test's own database, until undone.
async fn break_inserts(app: &TestApp, table: &str, broken: bool) {
    let db = app.db().await.expect("db");
    let sql = if broken {
        format!(
            "CREATE OR REPLACE FUNCTION test_refuse() RETURNS trigger AS $$
             BEGIN RAISE EXCEPTION 'database blip'; END; $$ LANGUAGE plpgsql;
             CREATE TRIGGER test_refuse BEFORE INSERT ON {table}
                 FOR EACH ROW EXECUTE FUNCTION test_refuse();"
        )
    } else {
        format!("DROP TRIGGER test_refuse ON {table};")
    };
    db.batch_execute(&sql).await.expect("trigger");
}

#[tokio::test]
async fn a_failed_campaign_insert_keeps_the_preview_usable_and_creates_nothing() {
    let app = spawn_admin_app().await;
    say(&app, ADMIN, "📢 Рассылка").await;
    deliver(&app, &Updates::text(ADMIN, "Привет всем")).await;
    let message_id = app
        .telegram
        .sent_messages()
        .last()
        .map(|m| m.message_id)
        .expect("preview");

    break_inserts(&app, "campaigns", true).await;
    let failed = app
        .send_update(&Updates::callback(ADMIN, "adm:bc:now", message_id))
        .await
        .expect("delivered");
    assert_eq!(failed.status, 500, "Telegram will retry the tap");
    assert_nothing_created(&app).await;
    assert_eq!(
        admin_state(&app, ADMIN).await,
        Some(json!({"state": "broadcast_preview", "text": "Привет всем"}))
    );
    // Nothing was sent for the failed tap, so the retry still finds the buttons.
    assert_eq!(buttons_now(&app, ADMIN, message_id).len(), 3);
    assert!(app.telegram.calls_to("editMessageReplyMarkup").is_empty());

    break_inserts(&app, "campaigns", false).await;
    let pressed = press(&app, ADMIN, "adm:bc:now").await;
    assert_eq!(pressed.message_id, message_id);
    assert_choice_made(&app, &pressed, "Привет всем");
    assert!(text_of(&pressed.sends[0]).starts_with("✅ Рассылка №"));
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM audit_log").await, 1);
}

#[tokio::test]
async fn a_failed_ticket_grant_keeps_the_reason_step_and_writes_nothing() {
    let app = spawn_admin_app().await;
    shopper(&app, 3001, "Иван Петров", None, "+79991234567").await;
    say(&app, ADMIN, "➕ Ручное добавление").await;
    say(&app, ADMIN, "3001").await;
    say(&app, ADMIN, "3").await;

    break_inserts(&app, "tickets", true).await;
    let failed = app
        .send_update(&Updates::text(ADMIN, "Компенсация"))
        .await
        .expect("delivered");
    assert_eq!(failed.status, 500);
    assert_nothing_created(&app).await;
    assert_eq!(
        admin_state(&app, ADMIN).await.map(|s| s["state"].clone()),
        Some(json!("manual_reason"))
    );

    break_inserts(&app, "tickets", false).await;
    let replies = deliver(&app, &Updates::text(ADMIN, "Компенсация")).await;
    assert_eq!(replies.len(), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM tickets").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM audit_log").await, 1);
}
