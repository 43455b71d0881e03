//! The shopper's menu through the webhook route: upload, profile, my receipts, FAQ,
//! support, commands, language and the channel subscription, against the fake Bot API.

use std::time::Duration;

use promo_core::bot::states::Flow;
use promo_core::queue::QueueName;
use promo_testkit::telegram::{Call, Updates};
use promo_testkit::{spawn_app, spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};

use crate::helpers::text_of;

const QR: &str = "t=20260115T1230&s=1285.21&fn=9999078900012345&i=12345&fp=1234567890&n=1";
const MENU: [&[&str]; 3] = [
    &["🧾 Загрузить чек"],
    &["👤 Мой профиль", "📋 Мои чеки"],
    &["ℹ️ FAQ", "🆘 Поддержка"],
];

/// Delivers an update like Telegram and returns every Bot API call it caused, in order
/// (the reply carried in the webhook response comes last).
async fn deliver(app: &TestApp, update: &Value) -> Vec<Call> {
    let before = app.telegram.calls().len();
    let answer = app.send_update(update).await.expect("update delivered");
    assert_eq!(answer.status, 200, "webhook answered {answer:?}");
    app.telegram.calls()[before..].to_vec()
}

/// The one message the bot sent in answer to `update`.
async fn reply_to(app: &TestApp, update: &Value) -> Value {
    let calls = deliver(app, update).await;
    let sent: Vec<_> = calls.iter().filter(|c| c.method == "sendMessage").collect();
    assert_eq!(sent.len(), 1, "one reply expected: {calls:?}");
    assert_eq!(
        sent[0].status, 200,
        "Telegram accepted it: {:?}",
        sent[0].response
    );
    sent[0].params.clone()
}

async fn say(app: &TestApp, user: i64, text: &str) -> Value {
    reply_to(app, &Updates::text(user, text)).await
}

fn keyboard(reply: &Value) -> Vec<Vec<String>> {
    let markup = &reply["reply_markup"];
    let rows = markup
        .get("keyboard")
        .or_else(|| markup.get("inline_keyboard"));
    rows.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["text"].as_str().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn callback_data(reply: &Value) -> Vec<String> {
    reply["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_owned))
        .collect()
}

fn assert_main_menu(reply: &Value) {
    let expected: Vec<Vec<String>> = MENU
        .iter()
        .map(|row| row.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    assert_eq!(keyboard(reply), expected, "main menu in {reply}");
}

/// While a receipt is awaited: enter it by hand, or cancel.
fn assert_upload_keyboard(reply: &Value) {
    assert_eq!(
        keyboard(reply),
        vec![
            vec!["✍️ Ввести данные вручную".to_owned()],
            vec!["❌ Отмена".to_owned()]
        ],
        "{reply}"
    );
}

fn assert_cancel_keyboard(reply: &Value) {
    assert_eq!(
        keyboard(reply),
        vec![vec!["❌ Отмена".to_owned()]],
        "{reply}"
    );
}

async fn register(app: &TestApp, user: i64) {
    say(app, user, "/start").await;
    say(app, user, "Иван Петров").await;
    let done = say(app, user, "+79991234567").await;
    assert!(text_of(&done).contains("Регистрация завершена"), "{done}");
}

/// A shopper who registered while the promotion ran (stored directly: after its end the
/// bot no longer registers anyone).
async fn registered_before(app: &TestApp, telegram_id: i64) -> i64 {
    let phone = promo_core::pii::Phone::parse("+79991234567").expect("phone");
    let sealed = app.app.settings.phone_key.seal(&phone);
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, phone_ciphertext,
                                phone_hash, phone_masked, status, registered_at)
             VALUES ($1, $2, 'Иван', 'Иван Петров', $3, $4, $5, 'registered', now()) RETURNING id",
            &[
                &app.app.bot_id,
                &telegram_id,
                &sealed.ciphertext,
                &sealed.hash,
                &sealed.masked,
            ],
        )
        .await
        .expect("shopper")
        .get(0)
}

async fn state(app: &TestApp, chat: i64) -> Option<Value> {
    app.app
        .bot
        .states()
        .load(Flow::Shopper, chat)
        .await
        .expect("dialogue state")
}

async fn user_id(app: &TestApp, telegram_id: i64) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT id FROM users WHERE bot_id = $1 AND telegram_id = $2",
            &[&app.app.bot_id, &telegram_id],
        )
        .await
        .expect("user")
        .get(0)
}

/// (source, telegram_file_id, file_size, qr_raw, status) of every submission, oldest first.
type Submission = (String, Option<String>, Option<i32>, Option<String>, String);

async fn submissions(app: &TestApp) -> Vec<Submission> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT source, telegram_file_id, file_size, qr_raw, status
             FROM receipt_submissions WHERE bot_id = $1 ORDER BY id",
            &[&app.app.bot_id],
        )
        .await
        .expect("query")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

async fn submission_ids(app: &TestApp) -> Vec<i64> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT id FROM receipt_submissions WHERE bot_id = $1 ORDER BY id",
            &[&app.app.bot_id],
        )
        .await
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every job waiting on the receipts queue, as JSON.
async fn receipt_jobs(app: &TestApp) -> Vec<Value> {
    let mut jobs = Vec::new();
    loop {
        let batch = app
            .app
            .queue
            .receive(QueueName::Receipts, 10, Duration::from_millis(10))
            .await
            .expect("receive");
        if batch.is_empty() {
            return jobs;
        }
        for message in batch {
            jobs.push(serde_json::from_str(&message.body).expect("job JSON"));
        }
    }
}

fn checking(reply: &Value) {
    assert_eq!(
        text_of(reply),
        "⏳ Чек получен и отправлен на проверку. Результат придёт сюда через несколько минут."
    );
    assert_main_menu(reply);
}

// ---------------------------------------------------------------- upload

#[tokio::test]
async fn the_upload_button_asks_for_the_qr_photo_and_waits_for_it() {
    let app = spawn_app().await.expect("app");
    register(&app, 5001).await;
    let ask = say(&app, 5001, "🧾 Загрузить чек").await;
    assert!(
        text_of(&ask).starts_with("📸 Сфотографируйте QR-код"),
        "{ask}"
    );
    assert_upload_keyboard(&ask);
    assert_eq!(
        state(&app, 5001).await,
        Some(json!({"state": "awaiting_receipt"}))
    );
}

#[tokio::test]
async fn a_photo_becomes_a_queued_submission_of_its_largest_size_and_a_verify_job() {
    let app = spawn_app().await.expect("app");
    register(&app, 5101).await;
    say(&app, 5101, "🧾 Загрузить чек").await;
    let mut update = Updates::photo(5101, "AgACphoto-large", 1280, 960, 98_000);
    // A mid size listed last: the largest by area must win, not the last one.
    if let Some(sizes) = update["message"]["photo"].as_array_mut() {
        sizes.push(
            json!({"file_id": "AgACphoto-mid", "file_unique_id": "AQADmid",
                          "width": 800, "height": 600, "file_size": 50_000}),
        );
    }
    let reply = reply_to(&app, &update).await;
    checking(&reply);

    assert_eq!(
        submissions(&app).await,
        vec![(
            "photo".to_owned(),
            Some("AgACphoto-large".to_owned()),
            Some(98_000),
            None,
            "queued".to_owned()
        )]
    );
    let ids = submission_ids(&app).await;
    // The job is an outbox row written with the submission; the queue carries its id.
    let check = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT id, payload, status FROM outbox WHERE submission_id = $1",
            &[&ids[0]],
        )
        .await
        .expect("the submission's outbox row");
    let (outbox_id, payload, status): (i64, Value, String) =
        (check.get(0), check.get(1), check.get(2));
    assert_eq!(payload, json!({"kind": "verify", "submission_id": ids[0]}));
    assert_eq!(
        status, "relayed",
        "handed to the queue right after the commit"
    );
    assert_eq!(
        receipt_jobs(&app).await,
        vec![json!({"kind": "outbox_check", "outbox_id": outbox_id})]
    );
    assert_eq!(state(&app, 5101).await, None);
}

#[tokio::test]
async fn a_photo_sent_straight_from_the_menu_is_accepted_too() {
    let app = spawn_app().await.expect("app");
    register(&app, 5151).await;
    let reply = reply_to(
        &app,
        &Updates::photo(5151, "AgACdirect", 1000, 1000, 70_000),
    )
    .await;
    checking(&reply);
    assert_eq!(submissions(&app).await.len(), 1);
    assert_eq!(receipt_jobs(&app).await.len(), 1);
}

#[tokio::test]
async fn an_image_document_is_queued_and_other_file_types_are_refused() {
    let app = spawn_app().await.expect("app");
    register(&app, 5201).await;
    say(&app, 5201, "🧾 Загрузить чек").await;

    let pdf = reply_to(
        &app,
        &Updates::document(5201, "BQACpdf", "application/pdf", 1000),
    )
    .await;
    assert_eq!(
        text_of(&pdf),
        "PDF-чеки пока не принимаются. Сделайте скриншот QR-кода из PDF и отправьте картинкой, пришлите ссылку на электронный чек или нажмите «✍️ Ввести данные вручную»."
    );
    assert_upload_keyboard(&pdf);
    let zip = reply_to(
        &app,
        &Updates::document(5201, "BQACzip", "application/zip", 1000),
    )
    .await;
    assert_eq!(
        text_of(&zip),
        "Этот файл не подходит: нужна фотография чека в формате JPEG или PNG."
    );
    assert!(submissions(&app).await.is_empty());
    assert_eq!(
        state(&app, 5201).await,
        Some(json!({"state": "awaiting_receipt"}))
    );

    let png = reply_to(
        &app,
        &Updates::document(5201, "BQACpng", "image/png", 2_000_000),
    )
    .await;
    checking(&png);
    assert_eq!(
        submissions(&app).await,
        vec![(
            "document".to_owned(),
            Some("BQACpng".to_owned()),
            Some(2_000_000),
            None,
            "queued".to_owned()
        )]
    );
    assert_eq!(receipt_jobs(&app).await.len(), 1);
}

#[tokio::test]
async fn files_over_ten_megabytes_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await.expect("app");
    register(&app, 5301).await;
    say(&app, 5301, "🧾 Загрузить чек").await;
    let too_big = 10 * 1024 * 1024 + 1;
    for update in [
        Updates::photo(5301, "AgACbig", 4000, 3000, too_big),
        Updates::document(5301, "BQACbig", "image/jpeg", too_big),
    ] {
        let reply = reply_to(&app, &update).await;
        assert_eq!(
            text_of(&reply),
            "Файл слишком большой: не больше 10 МБ. Отправьте снимок поменьше."
        );
        assert_upload_keyboard(&reply);
    }
    // Exactly 10 MB is still fine.
    let ok = reply_to(
        &app,
        &Updates::photo(5301, "AgACten", 4000, 3000, 10 * 1024 * 1024),
    )
    .await;
    checking(&ok);
    assert_eq!(submissions(&app).await.len(), 1);
}

#[tokio::test]
async fn a_typed_qr_text_is_queued_and_bad_qr_text_gets_a_friendly_message() {
    let app = spawn_app().await.expect("app");
    register(&app, 5401).await;
    say(&app, 5401, "🧾 Загрузить чек").await;

    let not_receipt = say(&app, 5401, "привет").await;
    assert!(
        text_of(&not_receipt).starts_with("Это не похоже на QR-код кассового чека."),
        "{not_receipt}"
    );
    assert_upload_keyboard(&not_receipt);
    let bad_sum = say(
        &app,
        5401,
        "t=20260115T1230&s=abc&fn=9999078900012345&i=12345&fp=1234567890&n=1",
    )
    .await;
    assert_eq!(
        text_of(&bad_sum),
        "В тексте QR-кода неверное или отсутствующее поле «s». Скопируйте строку целиком или отправьте фото QR-кода."
    );
    assert!(submissions(&app).await.is_empty());

    let queued = say(&app, 5401, &format!("  {QR}\n")).await;
    checking(&queued);
    assert_eq!(
        submissions(&app).await,
        vec![(
            "qr_text".to_owned(),
            None,
            None,
            Some(QR.to_owned()),
            "queued".to_owned()
        )]
    );
    assert_eq!(receipt_jobs(&app).await.len(), 1);
}

#[tokio::test]
async fn uploads_before_the_promo_starts_are_refused_with_the_start_date() {
    let config = TestConfig::default().with("PROMO_START_DATE", "2099-03-01");
    let app = spawn_app_with(config).await.expect("app");
    register(&app, 5501).await;
    let reply = say(&app, 5501, "🧾 Загрузить чек").await;
    assert_eq!(
        text_of(&reply),
        "⏳ Акция ещё не началась. Чеки принимаются с 01.03.2099."
    );
    assert_main_menu(&reply);
    assert_eq!(state(&app, 5501).await, None);
    let photo = reply_to(&app, &Updates::photo(5501, "AgACearly", 800, 600, 1000)).await;
    assert_eq!(text_of(&photo), text_of(&reply));
    assert!(submissions(&app).await.is_empty());
    assert!(receipt_jobs(&app).await.is_empty());
}

#[tokio::test]
async fn uploads_after_the_promo_ends_are_refused_with_the_end_date() {
    let config = TestConfig::default().with("PROMO_END_DATE", "2020-08-31");
    let app = spawn_app_with(config).await.expect("app");
    registered_before(&app, 5601).await;
    let expected =
        "🏁 Акция завершилась 31.08.2020, чеки больше не принимаются. Спасибо за участие!";
    let reply = say(&app, 5601, "🧾 Загрузить чек").await;
    assert_eq!(text_of(&reply), expected);
    assert_main_menu(&reply);
    let document = reply_to(
        &app,
        &Updates::document(5601, "BQAClate", "image/jpeg", 1000),
    )
    .await;
    assert_eq!(text_of(&document), expected);
    assert!(submissions(&app).await.is_empty());
}

#[tokio::test]
async fn the_hourly_limit_refuses_further_receipts_and_the_upload_button() {
    let config = TestConfig::default()
        .with("RECEIPT_LIMIT_PER_HOUR", "2")
        .with("RECEIPT_LIMIT_PER_DAY", "10");
    let app = spawn_app_with(config).await.expect("app");
    register(&app, 5701).await;
    for n in 0..2 {
        let reply = reply_to(
            &app,
            &Updates::photo(5701, &format!("AgAC{n}"), 800, 600, 1000),
        )
        .await;
        checking(&reply);
    }
    let expected = "⚠️ Вы уже загрузили 2 чека за этот час — это максимум. Попробуйте через час.";
    let third = reply_to(&app, &Updates::photo(5701, "AgAC3", 800, 600, 1000)).await;
    assert_eq!(text_of(&third), expected);
    assert_main_menu(&third);
    let button = say(&app, 5701, "🧾 Загрузить чек").await;
    assert_eq!(text_of(&button), expected);
    assert_eq!(state(&app, 5701).await, None);
    assert_eq!(submissions(&app).await.len(), 2);
    assert_eq!(receipt_jobs(&app).await.len(), 2);
}

#[tokio::test]
async fn the_daily_limit_refuses_further_receipts() {
    let config = TestConfig::default()
        .with("RECEIPT_LIMIT_PER_HOUR", "10")
        .with("RECEIPT_LIMIT_PER_DAY", "1");
    let app = spawn_app_with(config).await.expect("app");
    register(&app, 5801).await;
    say(&app, 5801, "🧾 Загрузить чек").await;
    checking(&say(&app, 5801, QR).await);
    say(&app, 5801, "🧾 Загрузить чек").await;
    let refused = reply_to(&app, &Updates::photo(5801, "AgACday", 800, 600, 1000)).await;
    assert_eq!(
        text_of(&refused),
        "⚠️ Вы уже загрузили 1 чек за сегодня — это максимум. Попробуйте завтра."
    );
    assert_eq!(
        state(&app, 5801).await,
        None,
        "the refused upload ends the upload step"
    );
    assert_eq!(submissions(&app).await.len(), 1);
}

#[tokio::test]
async fn cancel_while_waiting_for_a_receipt_returns_to_the_menu_and_stores_nothing() {
    let app = spawn_app().await.expect("app");
    register(&app, 5901).await;
    for cancel in ["❌ Отмена", "/cancel"] {
        say(&app, 5901, "🧾 Загрузить чек").await;
        let reply = say(&app, 5901, cancel).await;
        assert_eq!(text_of(&reply), "Действие отменено.");
        assert_main_menu(&reply);
        assert_eq!(state(&app, 5901).await, None);
    }
    assert!(submissions(&app).await.is_empty());
}

#[tokio::test]
async fn unexpected_input_mid_upload_or_in_the_menu_gets_a_hint() {
    let app = spawn_app().await.expect("app");
    register(&app, 6001).await;
    say(&app, 6001, "🧾 Загрузить чек").await;
    let contact = reply_to(&app, &Updates::contact(6001, "79990000000", Some(6001))).await;
    assert_eq!(
        text_of(&contact),
        "Жду фото QR-кода с чека: фото, файл JPEG/PNG, текст QR-кода или ссылку на электронный чек. QR-код не читается — нажмите «✍️ Ввести данные вручную» (или «❌ Отмена»)."
    );
    assert_upload_keyboard(&contact);
    assert_eq!(
        state(&app, 6001).await,
        Some(json!({"state": "awaiting_receipt"}))
    );

    // A menu button mid-upload leaves the upload.
    let faq = say(&app, 6001, "ℹ️ FAQ").await;
    assert_eq!(text_of(&faq), "ℹ️ Частые вопросы. Выберите тему:");
    assert_eq!(state(&app, 6001).await, None);

    let idle = say(&app, 6001, "что-нибудь").await;
    assert_eq!(
        text_of(&idle),
        "Не понял сообщение. Пожалуйста, воспользуйтесь кнопками меню."
    );
    assert_main_menu(&idle);
    let unknown_command = say(&app, 6001, "/foo").await;
    assert_eq!(text_of(&unknown_command), text_of(&idle));
}

#[tokio::test]
async fn an_unregistered_user_pressing_menu_buttons_or_sending_photos_is_told_to_start() {
    let app = spawn_app().await.expect("app");
    for update in [
        Updates::text(6101, "🧾 Загрузить чек"),
        Updates::photo(6101, "AgACanon", 800, 600, 1000),
        Updates::text(6101, "/status"),
    ] {
        let reply = reply_to(&app, &update).await;
        assert_eq!(
            text_of(&reply),
            "Чтобы принять участие в акции, отправьте /start."
        );
    }
    assert!(submissions(&app).await.is_empty());
}

#[tokio::test]
async fn a_banned_shopper_is_told_so_and_nothing_happens() {
    let app = spawn_app().await.expect("app");
    register(&app, 6201).await;
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE users SET status = 'banned' WHERE telegram_id = 6201",
            &[],
        )
        .await
        .expect("ban");
    for update in [
        Updates::text(6201, "/start"),
        Updates::photo(6201, "AgACbanned", 800, 600, 1000),
    ] {
        let reply = reply_to(&app, &update).await;
        assert!(
            text_of(&reply).starts_with("Ваш аккаунт отключён"),
            "{reply}"
        );
    }
    assert!(submissions(&app).await.is_empty());
}

// ---------------------------------------------------------------- profile, status, receipts

/// Inserts `n` submissions for the user; every third one is an accepted receipt.
async fn seed_receipts(app: &TestApp, telegram_id: i64, n: i64) {
    let user = user_id(app, telegram_id).await;
    let db = app.db().await.expect("db");
    for i in 0..n {
        let submission: i64 = db
            .query_one(
                "INSERT INTO receipt_submissions (bot_id, user_id, source, telegram_file_id, status, created_at)
                 VALUES ($1, $2, 'photo', 'f', 'queued', now() - make_interval(mins => $3::INT))
                 RETURNING id",
                &[&app.app.bot_id, &user, &((n - i) as i32)],
            )
            .await
            .expect("submission")
            .get(0);
        if i % 3 == 0 {
            let receipt: i64 = db
                .query_one(
                    "INSERT INTO receipts (bot_id, user_id, submission_id, fiscal_drive_number,
                         fiscal_document_number, fiscal_sign, operation_type, receipt_at,
                         total_kopecks, items, raw_qr, tickets)
                     VALUES ($1, $2, $3, '9999078900012345', $4, 1, 1, '2026-01-15 12:30', 12345,
                             '[{\"name\": \"Хлеб\", \"promo\": false}, {\"name\": \"Чипсы Хрустящие 150г\", \"promo\": true}]', 'qr', 2)
                     RETURNING id",
                    &[&app.app.bot_id, &user, &submission, &i],
                )
                .await
                .expect("receipt")
                .get(0);
            db.execute(
                "UPDATE receipt_submissions SET status = 'accepted', receipt_id = $2 WHERE id = $1",
                &[&submission, &receipt],
            )
            .await
            .expect("accept");
            db.execute(
                "INSERT INTO tickets (bot_id, user_id, receipt_id, amount, source) VALUES ($1, $2, $3, 2, 'receipt')",
                &[&app.app.bot_id, &user, &receipt],
            )
            .await
            .expect("tickets");
        }
    }
}

#[tokio::test]
async fn the_profile_shows_name_masked_phone_receipts_tickets_wins_and_days_left() {
    let config = TestConfig::default().with("PROMO_END_DATE", "2099-12-31");
    let app = spawn_app_with(config).await.expect("app");
    register(&app, 6301).await;
    seed_receipts(&app, 6301, 4).await;
    let user = user_id(&app, 6301).await;
    let db = app.db().await.expect("db");
    let campaign: i64 = db
        .query_one(
            "INSERT INTO campaigns (bot_id, kind) VALUES ($1, 'raffle') RETURNING id",
            &[&app.app.bot_id],
        )
        .await
        .expect("campaign")
        .get(0);
    let draw: i64 = db
        .query_one(
            "INSERT INTO raffle_draws (bot_id, campaign_id, prize, winner_count, seed, ticket_snapshot, algorithm)
             VALUES ($1, $2, 'iPhone', 1, '\\x00', '[]', 'test') RETURNING id",
            &[&app.app.bot_id, &campaign],
        )
        .await
        .expect("draw")
        .get(0);
    db.execute(
        "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw) VALUES ($1, $2, $3, 1, 4)",
        &[&draw, &app.app.bot_id, &user],
    )
    .await
    .expect("winner");

    let profile = say(&app, 6301, "👤 Мой профиль").await;
    let text = text_of(&profile);
    assert!(
        text.starts_with(
            "👤 Ваш профиль\n\nИмя: Иван Петров\nТелефон: +7 *** ***-45-67\nЧеков загружено: 4 (принято: 2)\n🎟 Билетов: 4\n🏆 Выигрышей: 1\nДо конца акции: "
        ),
        "{text}"
    );
    assert!(!text.contains("79991234567"));
    assert_main_menu(&profile);
}

#[tokio::test]
async fn status_tells_the_latest_receipt_and_the_tickets() {
    let app = spawn_app().await.expect("app");
    register(&app, 6401).await;
    let empty = say(&app, 6401, "/status").await;
    assert_eq!(
        text_of(&empty),
        "📊 Ваш статус\n\nПоследний чек: чеков пока нет\n🎟 Билетов: 0\nАкция продолжается."
    );
    reply_to(&app, &Updates::photo(6401, "AgACstatus", 800, 600, 1000)).await;
    let status = say(&app, 6401, "/status").await;
    let text = text_of(&status);
    // The shopper's own number: their first upload is №1, whatever its id.
    assert!(text.contains("Последний чек: №1 от "), "{text}");
    assert!(text.contains("— ⏳ на проверке"), "{text}");
}

#[tokio::test]
async fn help_lists_the_commands() {
    let app = spawn_app().await.expect("app");
    let reply = say(&app, 6451, "/help").await;
    for command in ["/start", "/status", "/language", "/cancel", "/help"] {
        assert!(text_of(&reply).contains(command), "{command} in {reply}");
    }
}

#[tokio::test]
async fn my_receipts_without_uploads_says_so() {
    let app = spawn_app().await.expect("app");
    register(&app, 6501).await;
    let reply = say(&app, 6501, "📋 Мои чеки").await;
    assert_eq!(
        text_of(&reply),
        "У вас пока нет загруженных чеков. Нажмите «🧾 Загрузить чек», чтобы получить билеты."
    );
}

#[tokio::test]
async fn my_receipts_are_paged_ten_at_a_time_with_inline_buttons_edited_in_place() {
    let app = spawn_app().await.expect("app");
    register(&app, 6601).await;
    seed_receipts(&app, 6601, 23).await;

    let calls = deliver(&app, &Updates::text(6601, "📋 Мои чеки")).await;
    let first = &calls[0].params;
    let text = text_of(first);
    assert!(
        text.starts_with("📋 Ваши чеки (23), страница 1 из 3:\n\n23. "),
        "{text}"
    );
    assert_eq!(text.matches("\n\n").count(), 10, "{text}");
    // Newest first: the 23rd upload (i = 22, no receipt yet) heads the list, and what is
    // not known yet (sum, tickets, product) is left out rather than shown as dashes.
    let newest = text.split("\n\n").nth(1).unwrap_or_default();
    assert!(
        newest.starts_with("23. ") && newest.ends_with(" — ⏳ на проверке"),
        "{text}"
    );
    assert!(!text.contains("Сумма: —"), "{text}");
    assert!(!text.contains("Билетов: —"), "{text}");
    assert!(
        text.contains(" — ✅ принят\nСумма: 123.45 ₽ · Билетов: 2 · Чипсы Хрустящие 150г"),
        "{text}"
    );
    assert_eq!(callback_data(first), vec!["rc:p:2"]);
    assert_eq!(keyboard(first), vec![vec!["Далее ▶️".to_owned()]]);
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");

    let calls = deliver(&app, &Updates::callback(6601, "rc:p:2", message_id)).await;
    let methods: Vec<_> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["answerCallbackQuery", "editMessageText"]);
    assert!(calls[0].params.get("text").is_none());
    let second = &calls[1].params;
    assert_eq!(second["message_id"], message_id);
    assert!(text_of(second).starts_with("📋 Ваши чеки (23), страница 2 из 3:\n\n13. "));
    assert_eq!(callback_data(second), vec!["rc:p:1", "rc:p:3"]);

    let calls = deliver(&app, &Updates::callback(6601, "rc:p:3", message_id)).await;
    let third = &calls[1].params;
    assert_eq!(text_of(third).matches("\n\n").count(), 3);
    assert!(text_of(third)
        .ends_with(" — ✅ принят\nСумма: 123.45 ₽ · Билетов: 2 · Чипсы Хрустящие 150г"));
    assert!(text_of(third).contains("\n\n1. "));
    assert_eq!(callback_data(third), vec!["rc:p:2"]);
    let stored = app.telegram.message(6601, message_id).expect("message");
    assert_eq!(stored["text"].as_str(), Some(text_of(third)));
}

/// Every `receipt_submissions.status` with the label "📋 My receipts" shows for it, in
/// Russian and in English.
const STATUS_LABELS: [(&str, &str, &str); 7] = [
    ("queued", "⏳ на проверке", "⏳ being checked"),
    (
        "processing",
        "🔄 проверяем прямо сейчас",
        "🔄 being checked right now",
    ),
    (
        "retry_scheduled",
        "🕒 проверим ещё раз автоматически чуть позже",
        "🕒 will be re-checked automatically a bit later",
    ),
    ("accepted", "✅ принят", "✅ accepted"),
    ("pending_moderation", "🕵️ на модерации", "🕵️ under review"),
    ("rejected", "❌ отклонён", "❌ rejected"),
    (
        "failed",
        "⚠️ не удалось проверить",
        "⚠️ could not be checked",
    ),
];

#[tokio::test]
async fn my_receipts_label_every_submission_status_in_both_languages() {
    let app = spawn_app().await.expect("app");
    register(&app, 6651).await;
    let user = user_id(&app, 6651).await;
    let db = app.db().await.expect("db");
    // Oldest first, so the list (newest first) shows them in reverse order.
    for (age, (status, _, _)) in STATUS_LABELS.iter().rev().enumerate() {
        db.execute(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, telegram_file_id, status, created_at)
             VALUES ($1, $2, 'photo', 'f', $3, now() - make_interval(mins => $4::INT))",
            &[&app.app.bot_id, &user, status, &(age as i32 + 1)],
        )
        .await
        .expect("submission");
    }

    let reply = say(&app, 6651, "📋 Мои чеки").await;
    let text = text_of(&reply);
    for (n, (status, ru, _)) in STATUS_LABELS.iter().rev().enumerate() {
        let line = format!("{}. ", n + 1);
        let at = text
            .find(&line)
            .unwrap_or_else(|| panic!("{line} in {text}"));
        let block = text[at..].split("\n\n").next().unwrap_or_default();
        assert!(
            block.ends_with(&format!(" — {ru}")),
            "{status} is labelled «{ru}»: {text}"
        );
    }

    db.execute("UPDATE users SET language = 'en' WHERE id = $1", &[&user])
        .await
        .expect("english");
    let reply = say(&app, 6651, "📋 My receipts").await;
    let text = text_of(&reply);
    for (status, _, en) in STATUS_LABELS {
        assert!(
            text.split("\n\n")
                .any(|block| block.ends_with(&format!(": {en}"))),
            "{status} is labelled «{en}»: {text}"
        );
    }
}

#[tokio::test]
async fn a_page_past_the_end_or_forged_callback_data_is_answered_and_changes_nothing() {
    let app = spawn_app().await.expect("app");
    register(&app, 6701).await;
    seed_receipts(&app, 6701, 3).await;
    let calls = deliver(&app, &Updates::text(6701, "📋 Мои чеки")).await;
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");
    let before = app.telegram.message(6701, message_id);

    let cases = [
        ("rc:p:2", "Такой страницы нет."),
        (
            "rc:p:0",
            "Эта кнопка устарела. Откройте раздел заново из меню.",
        ),
        (
            "rc:p:abc",
            "Эта кнопка устарела. Откройте раздел заново из меню.",
        ),
        (
            "faq:nope",
            "Эта кнопка устарела. Откройте раздел заново из меню.",
        ),
        (
            "lang:de",
            "Эта кнопка устарела. Откройте раздел заново из меню.",
        ),
        (
            "sub:check",
            "Эта кнопка устарела. Откройте раздел заново из меню.",
        ),
        (
            "adm:rf:go",
            "Эта кнопка устарела. Откройте раздел заново из меню.",
        ),
        ("💣", "Эта кнопка устарела. Откройте раздел заново из меню."),
    ];
    for (data, notice) in cases {
        // Posted directly: Telegram itself would never send data the message lacks.
        let answer = app
            .post_update(&Updates::callback(6701, data, message_id))
            .await
            .expect("posted");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["method"], "answerCallbackQuery", "{data}");
        assert_eq!(answer.body["text"], notice, "{data}");
    }
    assert!(app.telegram.calls_to("editMessageText").is_empty());
    assert_eq!(app.telegram.message(6701, message_id), before);
    assert_eq!(submissions(&app).await.len(), 3);
}

#[tokio::test]
async fn another_users_tap_on_a_receipts_page_never_shows_the_owners_receipts() {
    let app = spawn_app().await.expect("app");
    register(&app, 6751).await;
    register(&app, 6752).await;
    seed_receipts(&app, 6751, 12).await;
    let calls = deliver(&app, &Updates::text(6751, "📋 Мои чеки")).await;
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");
    let mut forged = Updates::callback(6752, "rc:p:2", message_id);
    forged["callback_query"]["message"]["chat"]["id"] = json!(6751);
    let answer = app.post_update(&forged).await.expect("posted");
    assert_eq!(answer.body["method"], "answerCallbackQuery");
    assert!(app.telegram.calls_to("editMessageText").is_empty());
}

// ---------------------------------------------------------------- FAQ, support

#[tokio::test]
async fn faq_topics_open_in_place_and_the_back_button_returns_to_the_list() {
    let app = spawn_app().await.expect("app");
    register(&app, 6801).await;
    let calls = deliver(&app, &Updates::text(6801, "ℹ️ FAQ")).await;
    let menu = &calls[0].params;
    assert_eq!(
        keyboard(menu),
        vec![
            vec!["Как участвовать".to_owned(), "Лимиты".to_owned()],
            vec![
                "Как узнать о выигрыше".to_owned(),
                "Почему чек отклонён".to_owned()
            ],
            vec!["Сроки акции".to_owned(), "Призы".to_owned()],
        ]
    );
    assert_eq!(
        callback_data(menu),
        ["faq:how", "faq:lim", "faq:win", "faq:rej", "faq:dat", "faq:prz"]
    );
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");

    let calls = deliver(&app, &Updates::callback(6801, "faq:lim", message_id)).await;
    let methods: Vec<_> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["answerCallbackQuery", "editMessageText"]);
    assert_eq!(
        text_of(&calls[1].params),
        "📏 Лимиты\n\nНе больше 50 чеков в час и 200 чеков в день на одного участника. Каждый чек засчитывается только один раз."
    );
    assert_eq!(callback_data(&calls[1].params), ["faq:m"]);

    let calls = deliver(&app, &Updates::callback(6801, "faq:m", message_id)).await;
    assert_eq!(
        text_of(&calls[1].params),
        "ℹ️ Частые вопросы. Выберите тему:"
    );
    assert_eq!(callback_data(&calls[1].params).len(), 6);

    for (code, start) in [
        ("how", "🛒 Как участвовать"),
        ("win", "🏆 Как узнать о выигрыше"),
        ("rej", "❌ Почему чек отклонён"),
        (
            "dat",
            "📅 Сроки акции\n\nНачало: акция уже идёт\nОкончание: без даты окончания",
        ),
        ("prz", "🎁 Призы\n\niPhone 16 и сертификаты"),
    ] {
        let calls = deliver(
            &app,
            &Updates::callback(6801, &format!("faq:{code}"), message_id),
        )
        .await;
        assert!(
            text_of(&calls[1].params).starts_with(start),
            "{code}: {:?}",
            calls[1].params
        );
        deliver(&app, &Updates::callback(6801, "faq:m", message_id)).await;
    }
}

#[tokio::test]
async fn a_callback_is_answered_first_and_the_edit_rides_in_the_webhook_response() {
    let app = spawn_app().await.expect("app");
    register(&app, 6851).await;
    let calls = deliver(&app, &Updates::text(6851, "ℹ️ FAQ")).await;
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");
    let before = app.telegram.calls().len();
    let answer = app
        .post_update(&Updates::callback(6851, "faq:prz", message_id))
        .await
        .expect("posted");
    assert_eq!(answer.body["method"], "editMessageText");
    assert_eq!(answer.body["chat_id"], 6851);
    let made = app.telegram.calls()[before..].to_vec();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].method, "answerCallbackQuery");
}

#[tokio::test]
async fn support_shows_the_email_and_a_telegram_button() {
    let config = TestConfig::default()
        .with("SUPPORT_EMAIL", "help@promo.example")
        .with("SUPPORT_TELEGRAM", "@promo_help");
    let app = spawn_app_with(config).await.expect("app");
    register(&app, 6901).await;
    let reply = say(&app, 6901, "🆘 Поддержка").await;
    assert_eq!(
        text_of(&reply),
        "🆘 Поддержка\n\nЕсли что-то пошло не так, напишите нам — ответим как можно скорее.\n\n✉️ E-mail: help@promo.example\n💬 Telegram: @promo_help"
    );
    assert_eq!(
        reply["reply_markup"]["inline_keyboard"],
        json!([[{"text": "💬 Написать в поддержку", "url": "https://t.me/promo_help"}]])
    );
}

#[tokio::test]
async fn support_without_contacts_says_they_come_soon() {
    let app = spawn_app().await.expect("app");
    register(&app, 6951).await;
    let reply = say(&app, 6951, "🆘 Поддержка").await;
    assert!(text_of(&reply).ends_with("Контакты поддержки скоро появятся."));
    assert!(reply.get("reply_markup").is_none());
}

// ---------------------------------------------------------------- language

#[tokio::test]
async fn english_clients_get_english_and_language_switches_the_menu() {
    let app = spawn_app().await.expect("app");
    let mut start = Updates::text(7001, "/start");
    start["message"]["from"]["language_code"] = json!("en-GB");
    let welcome = reply_to(&app, &start).await;
    assert!(text_of(&welcome).starts_with("👋 Welcome to the «Хрустящее лето» promotion!"));
    say(&app, 7001, "John").await;
    let done = say(&app, 7001, "+79991234567").await;
    assert_eq!(
        keyboard(&done)[0],
        vec!["🧾 Upload receipt".to_owned()],
        "English menu"
    );

    let choose = deliver(&app, &Updates::text(7001, "/language")).await;
    assert_eq!(
        keyboard(&choose[0].params),
        vec![vec!["🇷🇺 Русский".to_owned(), "🇬🇧 English".to_owned()]]
    );
    let message_id = choose[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");
    let calls = deliver(&app, &Updates::callback(7001, "lang:ru", message_id)).await;
    let methods: Vec<_> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        ["answerCallbackQuery", "editMessageText", "sendMessage"]
    );
    assert_eq!(text_of(&calls[1].params), "Язык: русский ✅");
    assert_eq!(text_of(&calls[2].params), "Меню обновлено 👇");
    assert_main_menu(&calls[2].params);
    let language: String = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT language FROM users WHERE telegram_id = 7001", &[])
        .await
        .expect("row")
        .get(0);
    assert_eq!(language, "ru");

    // The old English keyboard still works until the shopper uses the new one.
    let faq = say(&app, 7001, "ℹ️ FAQ").await;
    assert_eq!(text_of(&faq), "ℹ️ Частые вопросы. Выберите тему:");
    let old = say(&app, 7001, "👤 My profile").await;
    assert!(text_of(&old).starts_with("👤 Ваш профиль"));
}

// ---------------------------------------------------------------- channel subscription

const CHANNEL: i64 = -1_001_234_567_890;

fn with_channel() -> TestConfig {
    TestConfig::default()
        .with("REQUIRED_CHANNEL", &CHANNEL.to_string())
        .with("REQUIRED_CHANNEL_URL", "https://t.me/+invite")
}

async fn user_status(app: &TestApp, telegram_id: i64) -> String {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT status FROM users WHERE telegram_id = $1",
            &[&telegram_id],
        )
        .await
        .expect("row")
        .get(0)
}

#[tokio::test]
async fn a_required_channel_holds_registration_until_the_shopper_joins() {
    let app = spawn_app_with(with_channel()).await.expect("app");
    say(&app, 7101, "/start").await;
    say(&app, 7101, "Иван").await;
    let ask = say(&app, 7101, "+79991234567").await;
    assert_eq!(
        text_of(&ask),
        "📢 Последний шаг: подпишитесь на наш канал и нажмите «Проверить подписку»."
    );
    assert_eq!(
        ask["reply_markup"]["inline_keyboard"],
        json!([[{"text": "📢 Перейти в канал", "url": "https://t.me/+invite"}],
               [{"text": "🔄 Проверить подписку", "callback_data": "sub:check"}]])
    );
    assert_eq!(user_status(&app, 7101).await, "registering");
    let checks = app.telegram.calls_to("getChatMember");
    assert_eq!(checks[0].params["chat_id"], CHANNEL);
    assert_eq!(checks[0].params["user_id"], 7101);

    // Anything else meanwhile gets the reminder.
    let hint = say(&app, 7101, "🧾 Загрузить чек").await;
    assert!(text_of(&hint).starts_with("Чтобы завершить регистрацию"));

    let sent = app.telegram.sent_messages();
    let message_id = sent
        .iter()
        .find(|m| m.text.starts_with("📢 Последний шаг"))
        .map(|m| m.message_id)
        .expect("prompt");
    let calls = deliver(&app, &Updates::callback(7101, "sub:check", message_id)).await;
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.method == "answerCallbackQuery")
            .count(),
        1
    );
    let answer = calls
        .iter()
        .find(|c| c.method == "answerCallbackQuery")
        .expect("answer");
    assert_eq!(
        answer.params["text"],
        "Подписка пока не найдена. Подпишитесь на канал и нажмите кнопку ещё раз."
    );
    assert_eq!(user_status(&app, 7101).await, "registering");

    app.telegram.set_chat_member(CHANNEL, 7101, "member");
    let calls = deliver(&app, &Updates::callback(7101, "sub:check", message_id)).await;
    let methods: Vec<_> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "getChatMember",
            "answerCallbackQuery",
            "editMessageText",
            "sendMessage"
        ]
    );
    assert_eq!(text_of(&calls[2].params), "✅ Подписка подтверждена.");
    assert!(text_of(&calls[3].params).contains("Регистрация завершена"));
    assert_main_menu(&calls[3].params);
    assert_eq!(user_status(&app, 7101).await, "registered");
    assert_eq!(state(&app, 7101).await, None);
}

#[tokio::test]
async fn a_shopper_already_in_the_channel_registers_at_once() {
    let app = spawn_app_with(with_channel()).await.expect("app");
    app.telegram.set_chat_member(CHANNEL, 7201, "administrator");
    say(&app, 7201, "/start").await;
    say(&app, 7201, "Иван").await;
    let done = say(&app, 7201, "+79991234567").await;
    assert!(text_of(&done).contains("Регистрация завершена"));
    assert_eq!(user_status(&app, 7201).await, "registered");
}

#[tokio::test]
async fn cancel_while_waiting_for_the_subscription_forgets_the_phone() {
    let app = spawn_app_with(with_channel()).await.expect("app");
    say(&app, 7301, "/start").await;
    say(&app, 7301, "Иван").await;
    say(&app, 7301, "+79991234567").await;
    let cancelled = say(&app, 7301, "❌ Отмена").await;
    assert!(text_of(&cancelled).starts_with("Регистрация отменена"));
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT status, full_name, phone_hash FROM users WHERE telegram_id = 7301",
            &[],
        )
        .await
        .expect("row");
    assert_eq!(row.get::<_, String>(0), "new");
    assert!(row.get::<_, Option<String>>(1).is_none());
    assert!(row.get::<_, Option<Vec<u8>>>(2).is_none());
}

// ---------------------------------------------------------------- user row upkeep

async fn user_version(app: &TestApp, telegram_id: i64) -> (String, Option<String>, String) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT xmin::TEXT, username, first_name FROM users WHERE telegram_id = $1",
            &[&telegram_id],
        )
        .await
        .expect("row");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_menu_tap_does_not_rewrite_the_user_row_but_a_changed_profile_is_stored() {
    let app = spawn_app().await.expect("app");
    register(&app, 7401).await;
    let (version, username, first_name) = user_version(&app, 7401).await;
    assert_eq!((username, first_name.as_str()), (None, "Иван"));

    say(&app, 7401, "ℹ️ FAQ").await;
    assert_eq!(
        user_version(&app, 7401).await.0,
        version,
        "unchanged row kept"
    );

    let mut renamed = Updates::text(7401, "ℹ️ FAQ");
    renamed["message"]["from"]["username"] = json!("ivan_p");
    renamed["message"]["from"]["first_name"] = json!("Ваня");
    let reply = reply_to(&app, &renamed).await;
    assert_eq!(text_of(&reply), "ℹ️ Частые вопросы. Выберите тему:");
    let (new_version, username, first_name) = user_version(&app, 7401).await;
    assert_ne!(new_version, version);
    assert_eq!(
        (username.as_deref(), first_name.as_str()),
        (Some("ivan_p"), "Ваня")
    );
}

#[tokio::test]
async fn a_repeated_callback_is_answered_once() {
    let app = spawn_app().await.expect("app");
    register(&app, 7501).await;
    let calls = deliver(&app, &Updates::text(7501, "ℹ️ FAQ")).await;
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");
    let tap = Updates::callback(7501, "faq:how", message_id);
    let first = app.post_update(&tap).await.expect("first");
    let second = app.post_update(&tap).await.expect("second");
    assert_eq!(first.body["method"], "editMessageText");
    assert_eq!((second.status, second.body.clone()), (200, Value::Null));
    assert_eq!(app.telegram.calls_to("answerCallbackQuery").len(), 1);
}

#[tokio::test]
async fn a_photo_or_document_mid_registration_gets_the_steps_hint_and_stores_nothing() {
    let app = spawn_app().await.expect("app");
    say(&app, 7601, "/start").await;
    let name_hint = reply_to(&app, &Updates::photo(7601, "AgACreg", 800, 600, 1000)).await;
    assert_eq!(
        text_of(&name_hint),
        "Напишите, пожалуйста, ваше имя текстом (или нажмите «❌ Отмена»)."
    );
    assert_cancel_keyboard(&name_hint);
    say(&app, 7601, "Иван").await;
    let phone_hint = reply_to(&app, &Updates::document(7601, "BQACreg", "image/png", 1000)).await;
    assert!(text_of(&phone_hint).starts_with("Не похоже на номер телефона."));
    assert_eq!(
        phone_hint["reply_markup"]["keyboard"][0][0]["request_contact"],
        true
    );
    assert!(submissions(&app).await.is_empty());
}

#[tokio::test]
async fn cancel_with_nothing_to_cancel_shows_the_menu_or_the_start_hint() {
    let app = spawn_app().await.expect("app");
    let stranger = say(&app, 7701, "/cancel").await;
    assert_eq!(
        text_of(&stranger),
        "Чтобы принять участие в акции, отправьте /start."
    );
    register(&app, 7702).await;
    let registered = say(&app, 7702, "❌ Отмена").await;
    assert_eq!(text_of(&registered), "Действие отменено.");
    assert_main_menu(&registered);
}

// ---------------------------------------------------------------- dead ends (issue 8)

#[tokio::test]
async fn a_qr_string_typed_or_pasted_from_the_main_menu_is_queued_like_a_photo() {
    let app = spawn_app().await.expect("app");
    register(&app, 8001).await;
    let queued = say(&app, 8001, &format!("{QR}\n")).await;
    checking(&queued);
    assert_eq!(
        submissions(&app).await,
        vec![(
            "qr_text".to_owned(),
            None,
            None,
            Some(QR.to_owned()),
            "queued".to_owned()
        )]
    );
    assert_eq!(receipt_jobs(&app).await.len(), 1);
    assert_eq!(state(&app, 8001).await, None);
}

#[tokio::test]
async fn a_broken_qr_string_from_the_menu_names_the_bad_field_and_other_text_is_not_understood() {
    let app = spawn_app().await.expect("app");
    register(&app, 8051).await;
    let bad_sum = say(
        &app,
        8051,
        "t=20260115T1230&s=abc&fn=9999078900012345&i=12345&fp=1234567890&n=1",
    )
    .await;
    assert_eq!(
        text_of(&bad_sum),
        "В тексте QR-кода неверное или отсутствующее поле «s». Скопируйте строку целиком или отправьте фото QR-кода."
    );
    assert_main_menu(&bad_sum);
    // Without fn, i or fp the parser only knows "no fiscal QR"; the missing key is named.
    let no_document_number = say(
        &app,
        8051,
        "t=20260115T1230&s=12.50&fn=9999078900012345&fp=1234567890&n=1",
    )
    .await;
    assert!(
        text_of(&no_document_number).contains("поле «i»"),
        "{no_document_number}"
    );
    let chat = say(&app, 8051, "когда розыгрыш?").await;
    assert_eq!(
        text_of(&chat),
        "Не понял сообщение. Пожалуйста, воспользуйтесь кнопками меню."
    );
    assert!(submissions(&app).await.is_empty());
    assert_eq!(state(&app, 8051).await, None);
}

#[tokio::test]
async fn every_refused_name_is_told_its_real_reason_and_the_dialogue_waits() {
    let app = spawn_app().await.expect("app");
    say(&app, 8101, "/start").await;
    let cases = [
        (
            "12345",
            "В имени не должно быть цифр. Напишите имя буквами, например «Иван Петров».",
        ),
        (
            "<b>Bob</b>",
            "Похоже на разметку: теги вроде <b>…</b> в имени не нужны. Напишите имя обычным текстом, например «Bob».",
        ),
        (
            "🙂🙂🙂",
            "В имени не должно быть символов «🙂». Можно использовать буквы, пробел, дефис, апостроф и точку.",
        ),
        (
            "- . -",
            "В имени должны быть буквы. Напишите, как вас зовут, например «Иван».",
        ),
        (
            "Я",
            "Имя слишком короткое: нужно от 2 до 100 символов. Напишите имя полностью, например «Иван».",
        ),
        (
            &"Я".repeat(101),
            "Имя слишком длинное: нужно от 2 до 100 символов. Напишите только имя и фамилию.",
        ),
    ];
    for (name, reason) in cases {
        let reply = say(&app, 8101, name).await;
        assert_eq!(text_of(&reply), reason, "{name}");
        assert_cancel_keyboard(&reply);
        assert_eq!(
            state(&app, 8101).await,
            Some(json!({"state": "awaiting_name"}))
        );
    }
    // Replies are plain text: what the bot echoes is shown exactly as typed.
    let asked = say(&app, 8101, "Bob").await;
    assert!(
        text_of(&asked).starts_with("Приятно познакомиться, Bob!"),
        "{asked}"
    );
    assert!(asked.get("parse_mode").is_none(), "{asked}");
}

#[tokio::test]
async fn an_english_shopper_gets_the_name_reasons_in_english() {
    let app = spawn_app().await.expect("app");
    let english = |text: &str| {
        let mut update = Updates::text(8151, text);
        update["message"]["from"]["language_code"] = json!("en-US");
        update
    };
    reply_to(&app, &english("/start")).await;
    let reply = reply_to(&app, &english("R2-D2")).await;
    assert_eq!(
        text_of(&reply),
        "A name has no digits. Please write it in letters, e.g. «John Smith»."
    );
}

#[tokio::test]
async fn after_the_end_a_newcomer_hears_the_promotion_is_over_and_is_not_invited_to_register() {
    let config = TestConfig::default().with("PROMO_END_DATE", "2020-08-31");
    let app = spawn_app_with(config).await.expect("app");
    let over = say(&app, 8201, "/start").await;
    assert_eq!(
        text_of(&over),
        "🏁 Акция «Хрустящее лето» завершилась 31.08.2020: регистрация и приём чеков закрыты.\n\n\
         🎁 Призы: iPhone 16 и сертификаты\n\n\
         Победителей определяет розыгрыш среди участников с билетами. Бот сам напишет каждому победителю в этот чат. Спасибо за интерес к акции!"
    );
    assert_eq!(over["reply_markup"]["remove_keyboard"], true);
    assert_eq!(state(&app, 8201).await, None, "no name is asked for");
    assert_eq!(user_status(&app, 8201).await, "new");
    // A name typed anyway is not taken as the start of a registration.
    let name = say(&app, 8201, "Иван").await;
    assert_eq!(text_of(&name), text_of(&over));
    assert_eq!(user_status(&app, 8201).await, "new");
}

#[tokio::test]
async fn after_the_end_a_returning_shopper_sees_that_it_is_over_instead_of_zero_days_left() {
    let config = TestConfig::default().with("PROMO_END_DATE", "2020-08-31");
    let app = spawn_app_with(config).await.expect("app");
    registered_before(&app, 8251).await;
    let over = "🏁 Акция завершилась 31.08.2020, чеки больше не принимаются. Победителей определит розыгрыш, бот сам напишет каждому победителю в этот чат.";
    let back = say(&app, 8251, "/start").await;
    assert_eq!(
        text_of(&back),
        format!("С возвращением, Иван Петров! 🎟 Ваших билетов: 0. {over}")
    );
    assert_main_menu(&back);
    for asked in ["/status", "👤 Мой профиль"] {
        let reply = say(&app, 8251, asked).await;
        assert!(text_of(&reply).ends_with(over), "{asked}: {reply}");
        assert!(!text_of(&reply).contains("дней"), "{asked}: {reply}");
    }
}

#[tokio::test]
async fn before_the_start_newcomers_and_shoppers_are_told_when_it_starts() {
    let config = TestConfig::default().with("PROMO_START_DATE", "2099-03-01");
    let app = spawn_app_with(config).await.expect("app");
    let welcome = say(&app, 8301, "/start").await;
    assert!(
        text_of(&welcome).contains(
            "\n\n⏳ Акция начнётся 01.03.2099: зарегистрируйтесь сейчас, а чеки можно будет загружать с этого дня.\n\nДля начала представьтесь: как вас зовут?"
        ),
        "{welcome}"
    );
    say(&app, 8301, "Иван Петров").await;
    say(&app, 8301, "+79991234567").await;
    let back = say(&app, 8301, "/start").await;
    assert!(
        text_of(&back).ends_with("⏳ Акция начнётся 01.03.2099: чеки принимаются с этого дня."),
        "{back}"
    );
}

/// The Moscow date `days` from today, as `PROMO_END_DATE` takes it.
fn moscow_date_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(3) + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

#[tokio::test]
async fn the_days_left_agree_with_their_number_and_the_last_day_is_named() {
    for (days_after_today, line) in [
        (0, "Сегодня последний день акции!"),
        (1, "До конца акции: 2 дня."),
        (4, "До конца акции: 5 дней."),
        (20, "До конца акции: 21 день."),
    ] {
        let config =
            TestConfig::default().with("PROMO_END_DATE", &moscow_date_in(days_after_today));
        let app = spawn_app_with(config).await.expect("app");
        register(&app, 8351).await;
        let back = say(&app, 8351, "/start").await;
        assert!(text_of(&back).ends_with(line), "{line}: {back}");
    }
}

#[tokio::test]
async fn limits_in_the_faq_agree_with_their_numbers_in_both_languages() {
    let config = TestConfig::default()
        .with("RECEIPT_LIMIT_PER_HOUR", "1")
        .with("RECEIPT_LIMIT_PER_DAY", "21");
    let app = spawn_app_with(config).await.expect("app");
    register(&app, 8401).await;
    let calls = deliver(&app, &Updates::text(8401, "ℹ️ FAQ")).await;
    let message_id = calls[0]
        .result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("id");
    let calls = deliver(&app, &Updates::callback(8401, "faq:lim", message_id)).await;
    assert!(
        text_of(&calls[1].params).contains("Не больше 1 чека в час и 21 чека в день"),
        "{:?}",
        calls[1].params
    );
    let user = user_id(&app, 8401).await;
    app.db()
        .await
        .expect("db")
        .execute("UPDATE users SET language = 'en' WHERE id = $1", &[&user])
        .await
        .expect("english");
    deliver(&app, &Updates::callback(8401, "faq:m", message_id)).await;
    let calls = deliver(&app, &Updates::callback(8401, "faq:lim", message_id)).await;
    assert!(
        text_of(&calls[1].params).contains("At most 1 receipt an hour and 21 receipts a day"),
        "{:?}",
        calls[1].params
    );
}

/// Stores an upload of `telegram_id` as the verifier leaves it; returns its id.
async fn settled_upload(app: &TestApp, telegram_id: i64, status: &str, outcome: &str) -> i64 {
    let user = user_id(app, telegram_id).await;
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, telegram_file_id, status, outcome)
             VALUES ($1, $2, 'photo', 'f', $3, $4) RETURNING id",
            &[&app.app.bot_id, &user, &status, &outcome],
        )
        .await
        .expect("submission")
        .get(0)
}

#[tokio::test]
async fn my_receipts_and_status_use_the_shoppers_own_numbers_and_say_why_an_upload_was_refused() {
    let app = spawn_app().await.expect("app");
    // Someone else's uploads come first, so global ids and the shopper's numbers differ.
    register(&app, 8451).await;
    for n in 0..5 {
        settled_upload(&app, 8451, "accepted", &format!("seed{n}")).await;
    }
    register(&app, 8452).await;
    settled_upload(&app, 8452, "rejected", "duplicate").await;
    settled_upload(&app, 8452, "failed", "provider_unavailable").await;
    let latest = settled_upload(&app, 8452, "rejected", "out_of_window").await;
    assert!(latest > 3, "ids are global");

    let list = say(&app, 8452, "📋 Мои чеки").await;
    let blocks: Vec<&str> = text_of(&list).split("\n\n").skip(1).collect();
    assert_eq!(blocks.len(), 3, "{list}");
    assert!(
        blocks[0].starts_with("3. ")
            && blocks[0].ends_with(" — ❌ отклонён: покупка сделана вне сроков акции"),
        "{list}"
    );
    assert!(
        blocks[1].starts_with("2. ")
            && blocks[1].ends_with(
                " — ⚠️ не удалось проверить: сервис проверки был недоступен — загрузите чек ещё раз"
            ),
        "{list}"
    );
    assert!(
        blocks[2].starts_with("1. ")
            && blocks[2].ends_with(" — ❌ отклонён: этот чек уже загружен ранее"),
        "{list}"
    );
    assert!(!text_of(&list).contains("Сумма"), "nothing unknown: {list}");

    let status = say(&app, 8452, "/status").await;
    let text = text_of(&status);
    assert!(text.contains("Последний чек: №3 от "), "{text}");
    assert!(
        text.contains(" — ❌ отклонён: покупка сделана вне сроков акции\n"),
        "{text}"
    );
    assert!(!text.contains(&format!("№{latest}")), "{text}");
}

#[tokio::test]
async fn a_refused_receipt_that_was_read_shows_what_is_known_of_it() {
    let app = spawn_app().await.expect("app");
    register(&app, 8501).await;
    say(&app, 8501, QR).await;
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE receipt_submissions SET status = 'rejected', outcome = 'not_a_sale'",
            &[],
        )
        .await
        .expect("refuse");
    let list = say(&app, 8501, "📋 Мои чеки").await;
    assert!(
        text_of(&list)
            .ends_with(" — ❌ отклонён: это чек возврата, а не покупки\nСумма: 1285.21 ₽"),
        "{list}"
    );
}

async fn open_quota_breaker(app: &TestApp, millis: u64) {
    let mut conn = app.app.redis.connection();
    let () = redis::cmd("SET")
        .arg(promo_core::receipts::verify::quota_breaker_key(
            &app.app.redis,
        ))
        .arg(1)
        .arg("PX")
        .arg(millis)
        .query_async(&mut conn)
        .await
        .expect("breaker set");
}

#[tokio::test]
async fn while_checks_are_paused_by_the_quota_the_acknowledgement_and_status_tell_the_truth() {
    let app = spawn_app().await.expect("app");
    register(&app, 8551).await;
    open_quota_breaker(&app, 60 * 60 * 1000).await;

    let ack = reply_to(&app, &Updates::photo(8551, "AgACpaused", 800, 600, 1000)).await;
    let text = text_of(&ack);
    assert!(
        text.starts_with("⏸ Чек получен и сохранён, но проверка чеков сейчас приостановлена"),
        "{text}"
    );
    assert!(text.contains("(через 60 минут)"), "{text}");
    assert!(text.contains("Мы проверим ваш чек автоматически"), "{text}");
    assert!(!text.contains("несколько минут"), "{text}");
    assert_main_menu(&ack);
    assert_eq!(submissions(&app).await.len(), 1, "the receipt is kept");
    assert_eq!(receipt_jobs(&app).await.len(), 1);
    let queued = say(&app, 8551, "/status").await;
    assert!(
        text_of(&queued).contains(" — ⏳ на проверке: проверка чеков приостановлена примерно до "),
        "not checked yet, and it will not be before the pause ends: {queued}"
    );

    // As the verifier leaves it when it meets the open breaker.
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE receipt_submissions SET status = 'retry_scheduled', outcome = 'quota_paused',
                    next_attempt_at = now() + interval '59 minutes'",
            &[],
        )
        .await
        .expect("paused");
    let status = say(&app, 8551, "/status").await;
    let text = text_of(&status);
    assert!(
        text.contains(
            " — 🕒 проверим ещё раз автоматически чуть позже: проверка чеков приостановлена примерно до "
        ),
        "{text}"
    );
    assert!(
        text.contains(" по Москве; чек сохранён и будет проверен автоматически"),
        "{text}"
    );
}

#[tokio::test]
async fn a_short_quota_pause_is_counted_in_minutes_that_agree_with_their_number() {
    let app = spawn_app().await.expect("app");
    register(&app, 8601).await;
    open_quota_breaker(&app, 90 * 1000).await;
    let ack = reply_to(&app, &Updates::photo(8601, "AgACshort", 800, 600, 1000)).await;
    assert!(text_of(&ack).contains("(через 2 минуты)"), "{ack}");
}

// ---------------------------------------------------------------- no readable QR

#[tokio::test]
async fn a_shopper_types_the_printed_fields_one_by_one_and_the_receipt_is_queued_like_its_qr() {
    let app = spawn_app().await.expect("app");
    register(&app, 6701).await;
    assert_upload_keyboard(&say(&app, 6701, "🧾 Загрузить чек").await);
    let ask = say(&app, 6701, "✍️ Ввести данные вручную").await;
    assert!(text_of(&ask).contains("1/5. Номер ФН"), "{ask}");
    assert_cancel_keyboard(&ask);
    // A wrong answer is named and the same question asked again.
    let again = say(&app, 6701, "12345").await;
    assert!(
        text_of(&again).starts_with("Номер ФН — это ровно 16 цифр.")
            && text_of(&again).contains("1/5."),
        "{again}"
    );
    for (answer, next) in [
        ("9999 0789 0001 2345", "2/5."),
        ("12345", "3/5."),
        ("1234567890", "4/5."),
        ("вчера вечером", "4/5."),
        ("15.01.2026 12:30", "5/5."),
        ("0", "5/5."),
    ] {
        let reply = say(&app, 6701, answer).await;
        assert!(text_of(&reply).contains(next), "{answer}: {reply}");
    }
    checking(&say(&app, 6701, "1 285,21").await);
    assert_eq!(
        submissions(&app).await,
        vec![(
            "manual".to_owned(),
            None,
            None,
            Some(QR.to_owned()),
            "queued".to_owned()
        )]
    );
    assert_eq!(receipt_jobs(&app).await.len(), 1);
    assert_eq!(state(&app, 6701).await, None, "the dialogue is over");
}

#[tokio::test]
async fn an_e_receipt_link_carrying_the_qr_fields_is_queued_as_the_receipt() {
    let app = spawn_app().await.expect("app");
    register(&app, 6703).await;
    let link = format!("https://check.ofd.ru/rec?{QR}");
    checking(&say(&app, 6703, &link).await);
    let queued = submissions(&app).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, "qr_text");
    assert_eq!(queued[0].3.as_deref(), Some(link.as_str()));
}
