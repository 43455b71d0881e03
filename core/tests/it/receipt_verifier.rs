//! The receipt-verifier job against real Postgres and Redis, the fake Bot API and the
//! fake ProverkaCheka: every step, every provider code and every shopper-visible text.

use std::time::Duration;

use chrono::NaiveDate;
use promo_core::jobs::ReceiptJob;
use promo_core::queue::{consume_once, JobError, JobMessage, QueueName};
use promo_core::receipts::verify::{quota_breaker_key, MAX_IMAGE_BYTES};
use promo_core::receipts::OperationType;
use promo_core::worker::handle_receipt_job;
use promo_testkit::proverkacheka::{FakeAnswer, RequestForm};
use promo_testkit::receipts::{qr_jpeg, qr_photo_jpeg, qr_png, PhotoOptions, ReceiptBuilder};
use promo_testkit::telegram::{Failure, Updates, DOWNLOAD};
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};

const FIRST_ACCEPTED_3: &str = "✅ Чек принят! Начислено билетов: 3. Всего у вас билетов: 3.\n\n🎉 Поздравляем, вы участвуете в розыгрыше призов! Загружайте новые чеки, чтобы увеличить шансы.";
const DUPLICATE: &str =
    "♻️ Этот чек уже был загружен ранее. Каждый чек участвует в акции только один раз.";
const UNREADABLE: &str = "😕 Не удалось прочитать чек. Советы:\n• сфотографируйте QR-код крупно, чтобы он занимал большую часть кадра;\n• снимайте при хорошем освещении, без бликов и размытия;\n• отправьте снимок файлом (без сжатия) или текст QR-кода вида t=…&s=…&fn=…&i=…&fp=…&n=…";
const BEING_CHECKED: &str = "⏳ Этот чек уже проверяется: его только что загрузили. Результат придёт тому, кто загрузил чек первым, — повторно загружать его не нужно.";
const FNS_PENDING: &str = "⏳ Этого чека пока нет в базе налоговой: кассы иногда передают чеки с задержкой. Мы автоматически проверим его ещё раз и сообщим результат — отправлять чек повторно не нужно.";
const CHECK_UNAVAILABLE: &str = "⚠️ Сервис проверки чеков сейчас недоступен, и проверить ваш чек не удалось. Это не ваша ошибка: загрузите чек ещё раз позже.";

fn promo_config() -> TestConfig {
    TestConfig::default()
        .with("PROMO_START_DATE", "2024-09-01")
        .with("PROMO_END_DATE", "2024-09-30")
        .with("TARGET_KEYWORDS", "чипсы,сухарики")
        .with("EXCLUDE_KEYWORDS", "пакет")
        .with("PROVERKA_CHEKA_TIMEOUT_SECS", "1")
}

async fn spawn() -> TestApp {
    spawn_app_with(promo_config()).await.expect("app")
}

/// Three packs of promo chips and a loaf of bread, on 2024-09-17.
fn chips_receipt() -> ReceiptBuilder {
    ReceiptBuilder::new()
        .item("Чипсы LAY'S сметана/зелень 140г", 12_999, 3)
        .item("Хлеб Бородинский", 5_990, 1)
}

/// A registered shopper inserted directly; returns the `users.id`.
async fn shopper(app: &TestApp, telegram_id: i64) -> i64 {
    shopper_with(app, telegram_id, "ru", None).await
}

async fn shopper_with(
    app: &TestApp,
    telegram_id: i64,
    language: &str,
    phone_hash: Option<&[u8]>,
) -> i64 {
    let ciphertext: Option<&[u8]> = phone_hash.map(|_| b"sealed".as_slice());
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, status, language,
                                phone_hash, phone_ciphertext, registered_at)
             VALUES ($1, $2, 'Иван', 'Иван Петров', 'registered', $3, $4, $5, now())
             RETURNING id",
            &[
                &app.app.bot_id,
                &telegram_id,
                &language,
                &phone_hash,
                &ciphertext,
            ],
        )
        .await
        .expect("user")
        .get(0)
}

/// A queued submission as the webhook records it.
async fn submission(
    app: &TestApp,
    user_id: i64,
    source: &str,
    file_id: Option<&str>,
    qr_raw: Option<&str>,
) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, telegram_file_id, qr_raw)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&app.app.bot_id, &user_id, &source, &file_id, &qr_raw],
        )
        .await
        .expect("submission")
        .get(0)
}

async fn photo_submission(app: &TestApp, user_id: i64, jpeg: Vec<u8>) -> i64 {
    let file_id = app.telegram.add_file(jpeg, "photo.jpg");
    submission(app, user_id, "photo", Some(&file_id), None).await
}

async fn text_submission(app: &TestApp, user_id: i64, qr: &str) -> i64 {
    submission(app, user_id, "qr_text", None, Some(qr)).await
}

fn message(job: &ReceiptJob) -> JobMessage {
    JobMessage {
        message_id: "test".into(),
        body: serde_json::to_string(job).expect("job JSON"),
        receive_count: 1,
    }
}

async fn run(app: &TestApp, job: ReceiptJob) -> Result<(), JobError> {
    handle_receipt_job(&app.app, message(&job)).await
}

async fn verify(app: &TestApp, submission_id: i64) {
    run(app, ReceiptJob::Verify { submission_id })
        .await
        .expect("the job succeeds");
}

/// The re-check the verifier scheduled (its message sits in the queue, delayed).
async fn recheck_job(
    app: &TestApp,
    submission_id: i64,
    fns_pending: u32,
    failures: u32,
) -> ReceiptJob {
    let attempt: i32 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT attempts FROM receipt_submissions WHERE id = $1",
            &[&submission_id],
        )
        .await
        .expect("row")
        .get(0);
    ReceiptJob::Recheck {
        submission_id,
        attempt,
        fns_pending,
        provider_failures: failures,
    }
}

/// Makes the scheduled re-check due now, as if the delay had passed.
async fn make_due(app: &TestApp, submission_id: i64) {
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE receipt_submissions SET next_attempt_at = now() WHERE id = $1",
            &[&submission_id],
        )
        .await
        .expect("update");
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    status: String,
    outcome: Option<String>,
    attempts: i32,
    provider_calls: i32,
    receipt_id: Option<i64>,
    qr_raw: Option<String>,
    /// Seconds from now to `next_attempt_at`.
    due_in: Option<f64>,
}

async fn row(app: &TestApp, submission_id: i64) -> Row {
    let r = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT status, outcome, attempts, provider_calls, receipt_id, qr_raw,
                    EXTRACT(EPOCH FROM next_attempt_at - now())::float8
             FROM receipt_submissions WHERE id = $1",
            &[&submission_id],
        )
        .await
        .expect("row");
    Row {
        status: r.get(0),
        outcome: r.get(1),
        attempts: r.get(2),
        provider_calls: r.get(3),
        receipt_id: r.get(4),
        qr_raw: r.get(5),
        due_in: r.get(6),
    }
}

fn settled(status: &str, outcome: &str) -> (String, Option<String>) {
    (status.to_owned(), Some(outcome.to_owned()))
}

async fn status_of(app: &TestApp, submission_id: i64) -> (String, Option<String>) {
    let r = row(app, submission_id).await;
    (r.status, r.outcome)
}

/// Texts the bot sent to this chat, in order.
fn texts_to(app: &TestApp, chat_id: i64) -> Vec<String> {
    app.telegram
        .sent_messages()
        .into_iter()
        .filter(|m| m.chat_id == chat_id)
        .map(|m| m.text)
        .collect()
}

async fn tickets_of(app: &TestApp, user_id: i64) -> i64 {
    app.app.users.ticket_count(user_id).await.expect("tickets")
}

async fn receipts_count(app: &TestApp) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM receipts WHERE bot_id = $1",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0)
}

/// Messages waiting on the receipts queue right now (delayed ones are invisible).
async fn visible_jobs(app: &TestApp) -> usize {
    app.app
        .queue
        .receive(QueueName::Receipts, 10, Duration::from_millis(10))
        .await
        .expect("receive")
        .len()
}

fn one_code_1_envelope(receipt: &ReceiptBuilder) -> Value {
    json!({"code": 1, "first": 1, "data": {"json": receipt.fns_json(), "html": ""}, "request": {}})
}

// ---------------------------------------------------------------- accepted receipts

#[tokio::test]
async fn a_photo_of_a_promo_receipt_earns_tickets_and_the_first_one_enters_the_draw() {
    let app = spawn().await;
    let user = shopper(&app, 7001).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = photo_submission(
        &app,
        user,
        qr_photo_jpeg(&receipt.qr_text(), &PhotoOptions::default()),
    )
    .await;

    verify(&app, id).await;

    assert_eq!(texts_to(&app, 7001), vec![FIRST_ACCEPTED_3.to_owned()]);
    let r = row(&app, id).await;
    assert_eq!(
        (r.status.as_str(), r.outcome.as_deref()),
        ("accepted", Some("accepted"))
    );
    assert_eq!((r.attempts, r.provider_calls), (1, 1));
    assert_eq!(r.qr_raw.as_deref(), Some(receipt.qr_text().as_str()));
    let requests = app.proverkacheka.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].form(),
        RequestForm::QrRaw,
        "decoded locally: qrraw"
    );
    assert_eq!(requests[0].field("qrraw"), Some(receipt.qr_text().as_str()));
    assert_eq!(tickets_of(&app, user).await, 3);

    let stored = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT fiscal_drive_number, fiscal_document_number, fiscal_sign, operation_type,
                    receipt_at::text, total_kopecks, seller_inn, seller_name, items, raw_qr,
                    tickets, status, fraud_signals, submission_id
             FROM receipts WHERE id = $1",
            &[&r.receipt_id.expect("receipt id")],
        )
        .await
        .expect("receipt");
    let key = receipt.key();
    assert_eq!(stored.get::<_, String>(0), "7281440500751551");
    assert_eq!(
        stored.get::<_, i64>(1),
        i64::from(key.fiscal_document_number)
    );
    assert_eq!(stored.get::<_, i64>(2), i64::from(key.fiscal_sign));
    assert_eq!(stored.get::<_, i16>(3), 1);
    assert_eq!(stored.get::<_, String>(4), "2024-09-17 18:01:00");
    assert_eq!(stored.get::<_, i64>(5), 3 * 12_999 + 5_990);
    assert_eq!(
        stored.get::<_, Option<String>>(6).as_deref(),
        Some("7825706086")
    );
    assert_eq!(
        stored.get::<_, Option<String>>(7).as_deref(),
        Some("ООО \"Агроторг\"")
    );
    let items: Value = stored.get(8);
    assert_eq!(items[0]["promo"], json!(true));
    assert_eq!(items[1]["promo"], json!(false));
    assert_eq!(stored.get::<_, String>(9), receipt.qr_text());
    assert_eq!(stored.get::<_, i32>(10), 3);
    assert_eq!(stored.get::<_, String>(11), "accepted");
    assert_eq!(stored.get::<_, Value>(12), json!([]));
    assert_eq!(stored.get::<_, Option<i64>>(13), Some(id));
}

#[tokio::test]
async fn a_second_accepted_receipt_reports_the_new_total_without_the_draw_text() {
    let app = spawn().await;
    let user = shopper(&app, 7011).await;
    let first = chips_receipt();
    let second = ReceiptBuilder::new().item("Сухарики Кириешки", 4_500, 2);
    app.proverkacheka.register_receipt(&first);
    app.proverkacheka.register_receipt(&second);
    let a = text_submission(&app, user, &first.qr_text()).await;
    let b = text_submission(&app, user, &second.qr_text()).await;

    verify(&app, a).await;
    verify(&app, b).await;

    assert_eq!(
        texts_to(&app, 7011)[1],
        "✅ Чек принят! Начислено билетов: 2. Всего у вас билетов: 5."
    );
    assert_eq!(tickets_of(&app, user).await, 5);
}

#[tokio::test]
async fn an_image_document_is_downloaded_and_verified_like_a_photo() {
    let app = spawn().await;
    let user = shopper(&app, 7021).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let file_id = app
        .telegram
        .add_file(qr_png(&receipt.qr_text()), "receipt.png");
    let id = submission(&app, user, "document", Some(&file_id), None).await;

    verify(&app, id).await;

    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(app.telegram.calls_to("getFile").len(), 1);
}

#[tokio::test]
async fn a_typed_qr_text_is_checked_without_asking_telegram_for_a_file() {
    let app = spawn().await;
    let user = shopper(&app, 7031).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;

    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert!(app.telegram.calls_to("getFile").is_empty());
    assert_eq!(texts_to(&app, 7031), vec![FIRST_ACCEPTED_3.to_owned()]);
}

#[tokio::test]
async fn an_english_shopper_is_answered_in_english() {
    let app = spawn().await;
    let user = shopper_with(&app, 7041, "en", None).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;

    assert_eq!(
        texts_to(&app, 7041),
        vec!["✅ Receipt accepted! Tickets added: 3. Your tickets in total: 3.\n\n🎉 Congratulations, you are in the prize draw! Upload more receipts to raise your chances.".to_owned()]
    );
}

// ---------------------------------------------------------------- ticket rules

#[tokio::test]
async fn promo_lines_are_matched_by_keyword_and_counted_by_the_ticket_rules() {
    let app = spawn().await;
    let user = shopper(&app, 7051).await;
    let receipt = ReceiptBuilder::new()
        .item("ЧИПСЫ  Lay's краб 90г", 9_999, 2)
        .item("чипсы lay's краб 90г", 9_999, 1)
        .weighted_item("Чипсы картофельные весовые", 59_900, 0.35)
        .item("Пакет для чипсов", 900, 4)
        .item("Сухарики Кириешки ржаные", 4_500, 1)
        .item("Молоко 3,2%", 8_999, 2);
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;

    // 2 + 1 pieces, 1 for the weighed line, 1 for the croutons; the bag is excluded.
    assert_eq!(tickets_of(&app, user).await, 5);
}

#[tokio::test]
async fn a_receipt_without_promo_products_earns_nothing_and_says_so() {
    let app = spawn().await;
    let user = shopper(&app, 7061).await;
    let receipt = ReceiptBuilder::new().item("Хлеб", 5_990, 1);
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;

    assert_eq!(
        status_of(&app, id).await,
        settled("rejected", "no_promo_items")
    );
    assert_eq!(
        texts_to(&app, 7061),
        vec!["🔍 В этом чеке нет товаров-участников акции, билеты не начислены.".to_owned()]
    );
    assert_eq!(tickets_of(&app, user).await, 0);
    // Stored anyway, so a second upload of it costs no API call.
    let other = text_submission(&app, user, &receipt.qr_text()).await;
    verify(&app, other).await;
    assert_eq!(
        status_of(&app, other).await,
        settled("rejected", "duplicate")
    );
    assert_eq!(app.proverkacheka.calls(), 1);
}

// ---------------------------------------------------------------- local rejections

#[tokio::test]
async fn a_receipt_already_accepted_is_refused_without_calling_the_fake() {
    let app = spawn().await;
    let first = shopper(&app, 7101).await;
    let second = shopper(&app, 7102).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let a = text_submission(&app, first, &receipt.qr_text()).await;
    verify(&app, a).await;
    let calls = app.proverkacheka.calls();

    let jpeg = qr_jpeg(&receipt.qr_text());
    let b = photo_submission(&app, second, jpeg).await;
    verify(&app, b).await;

    assert_eq!(app.proverkacheka.calls(), calls, "the fake was not called");
    assert_eq!(status_of(&app, b).await, settled("rejected", "duplicate"));
    assert_eq!(texts_to(&app, 7102), vec![DUPLICATE.to_owned()]);
    assert_eq!(tickets_of(&app, second).await, 0);
}

#[tokio::test]
async fn a_refund_receipt_is_refused_without_calling_the_fake() {
    let app = spawn().await;
    let user = shopper(&app, 7111).await;
    let refund = chips_receipt().operation(OperationType::SaleRefund);
    app.proverkacheka.register_receipt(&refund);
    let id = photo_submission(&app, user, qr_jpeg(&refund.qr_text())).await;

    verify(&app, id).await;

    assert_eq!(app.proverkacheka.calls(), 0, "the fake was not called");
    assert_eq!(status_of(&app, id).await, settled("rejected", "not_a_sale"));
    assert_eq!(
        texts_to(&app, 7111),
        vec!["❌ Это чек возврата или другой операции, а не покупки. В акции участвуют только чеки покупки.".to_owned()]
    );
}

#[tokio::test]
async fn a_receipt_outside_the_promo_window_is_refused_without_calling_the_fake() {
    let app = spawn().await;
    let user = shopper(&app, 7121).await;
    let at = |d: u32, h: u32, m: u32| {
        NaiveDate::from_ymd_opt(2024, 10, d)
            .and_then(|date| date.and_hms_opt(h, m, 0))
            .expect("date")
    };
    let late = chips_receipt().date_time(at(1, 0, 5));
    let id = text_submission(&app, user, &late.qr_text()).await;

    verify(&app, id).await;

    assert_eq!(app.proverkacheka.calls(), 0, "the fake was not called");
    assert_eq!(
        status_of(&app, id).await,
        settled("rejected", "out_of_window")
    );
    assert_eq!(
        texts_to(&app, 7121),
        vec!["📅 Чек от 01.10.2024 не участвует: принимаются чеки покупок, сделанных в период акции (01.09.2024 — 30.09.2024).".to_owned()]
    );

    // The last minute of the last day still counts.
    let last_minute = chips_receipt().date_time(
        NaiveDate::from_ymd_opt(2024, 9, 30)
            .and_then(|d| d.and_hms_opt(23, 59, 0))
            .expect("date"),
    );
    app.proverkacheka.register_receipt(&last_minute);
    let ok = text_submission(&app, user, &last_minute.qr_text()).await;
    verify(&app, ok).await;
    assert_eq!(status_of(&app, ok).await, settled("accepted", "accepted"));
}

#[tokio::test]
async fn a_qr_code_that_is_not_a_receipt_is_refused_without_calling_the_fake() {
    let app = spawn().await;
    let user = shopper(&app, 7131).await;
    let id = photo_submission(&app, user, qr_jpeg("https://example.com/promo")).await;

    verify(&app, id).await;

    assert_eq!(app.proverkacheka.calls(), 0);
    assert_eq!(
        status_of(&app, id).await,
        settled("rejected", "not_fiscal_qr")
    );
    assert_eq!(
        texts_to(&app, 7131),
        vec!["🤔 На фото QR-код, но это не QR-код кассового чека. Сфотографируйте QR-код внизу чека.".to_owned()]
    );
}

#[tokio::test]
async fn a_file_that_is_not_an_image_is_refused_without_calling_the_fake() {
    let app = spawn().await;
    let user = shopper(&app, 7136).await;
    let id = photo_submission(&app, user, b"GIF89a not really a picture".to_vec()).await;

    verify(&app, id).await;

    assert_eq!(app.proverkacheka.calls(), 0);
    assert_eq!(status_of(&app, id).await, settled("rejected", "bad_image"));
}

#[tokio::test]
async fn an_oversized_file_is_refused_before_it_is_downloaded() {
    let app = spawn().await;
    let user = shopper(&app, 7141).await;
    let huge = vec![0xFFu8; MAX_IMAGE_BYTES as usize + 1];
    let id = photo_submission(&app, user, huge).await;

    verify(&app, id).await;

    assert_eq!(app.proverkacheka.calls(), 0);
    assert_eq!(status_of(&app, id).await, settled("rejected", "too_big"));
    assert_eq!(
        texts_to(&app, 7141),
        vec!["📦 Файл слишком большой: не больше 10 МБ. Отправьте снимок поменьше.".to_owned()]
    );
    assert_eq!(app.telegram.calls_to("getFile").len(), 1);
    assert!(app.telegram.calls_to(DOWNLOAD).is_empty(), "not downloaded");
}

#[tokio::test]
async fn a_file_telegram_no_longer_has_asks_the_shopper_to_send_it_again() {
    let app = spawn().await;
    let user = shopper(&app, 7146).await;
    let id = submission(&app, user, "photo", Some("AgACunknownfile"), None).await;

    verify(&app, id).await;

    assert_eq!(
        status_of(&app, id).await,
        settled("rejected", "file_unavailable")
    );
    assert_eq!(
        texts_to(&app, 7146),
        vec![
            "😕 Не удалось получить ваш снимок из Telegram. Отправьте его ещё раз, пожалуйста."
                .to_owned()
        ]
    );
}

// ---------------------------------------------------------------- provider codes

#[tokio::test]
async fn with_the_paid_fallback_on_a_picture_we_cannot_read_goes_to_the_service_as_qrfile() {
    let app = spawn_app_with(promo_config().with("PAID_IMAGE_FALLBACK", "true"))
        .await
        .expect("app");
    let user = shopper(&app, 7201).await;
    let receipt = chips_receipt();
    // A blank picture: no QR for us; the service "reads" it (canned code 1).
    app.proverkacheka
        .force_next(FakeAnswer::Json(one_code_1_envelope(&receipt)));
    let id = photo_submission(&app, user, blank_jpeg()).await;

    verify(&app, id).await;

    let requests = app.proverkacheka.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].form(), RequestForm::QrFile);
    let file = requests[0].file.as_ref().expect("file");
    assert_eq!(file.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(tickets_of(&app, user).await, 3);
    // What the service read is kept, with seconds as the FNS time carries them.
    assert!(row(&app, id)
        .await
        .qr_raw
        .is_some_and(|qr| qr.contains("&i=")));

    // A refund read by the service is refused after the call, and stores nothing.
    let refund = chips_receipt().operation(OperationType::SaleRefund);
    app.proverkacheka
        .force_next(FakeAnswer::Json(one_code_1_envelope(&refund)));
    let r = photo_submission(&app, user, grey_jpeg(180)).await;
    verify(&app, r).await;
    assert_eq!(status_of(&app, r).await, settled("rejected", "not_a_sale"));
    assert_eq!(receipts_count(&app).await, 1);
}

#[tokio::test]
async fn with_the_paid_fallback_on_the_same_unreadable_picture_is_not_paid_for_twice() {
    let app = spawn_app_with(promo_config().with("PAID_IMAGE_FALLBACK", "true"))
        .await
        .expect("app");
    let user = shopper(&app, 7202).await;
    let other = shopper(&app, 7203).await;
    let receipt = chips_receipt();
    app.proverkacheka
        .force_next(FakeAnswer::Json(one_code_1_envelope(&receipt)));
    let id = photo_submission(&app, user, blank_jpeg()).await;
    verify(&app, id).await;
    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));

    // The very same file, forwarded to the bot by someone else.
    let again = photo_submission(&app, other, blank_jpeg()).await;
    verify(&app, again).await;

    assert_eq!(app.proverkacheka.calls(), 1);
    assert_eq!(
        status_of(&app, again).await,
        settled("rejected", "duplicate")
    );
    assert_eq!(texts_to(&app, 7203), vec![DUPLICATE.to_owned()]);
}

#[tokio::test]
async fn a_picture_we_cannot_read_costs_no_call_and_offers_a_sharper_photo_the_text_or_manual_entry(
) {
    let app = spawn().await;
    let user = shopper(&app, 7204).await;
    let id = photo_submission(&app, user, blank_jpeg()).await;
    verify(&app, id).await;
    assert_eq!(
        app.proverkacheka.calls(),
        0,
        "nothing paid for a picture without a code"
    );
    assert_eq!(status_of(&app, id).await, settled("rejected", "unreadable"));
    let sent: Vec<_> = app
        .telegram
        .sent_messages()
        .into_iter()
        .filter(|m| m.chat_id == 7204)
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .text
            .starts_with("😕 Не удалось найти QR-код на фото."),
        "{}",
        sent[0].text
    );
    assert_eq!(
        sent[0].reply_markup,
        Some(
            json!({"inline_keyboard": [[{"text": "✍️ Ввести данные вручную", "callback_data": "manual:start"}]]})
        )
    );
}

/// An evenly grey JPEG: a picture without any QR code.
fn blank_jpeg() -> Vec<u8> {
    grey_jpeg(200)
}

fn grey_jpeg(level: u8) -> Vec<u8> {
    let image = image::GrayImage::from_pixel(640, 480, image::Luma([level]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 80)
        .encode_image(&image)
        .expect("encode");
    bytes
}

#[tokio::test]
async fn codes_zero_and_five_tell_the_shopper_how_to_take_a_readable_photo() {
    let app = spawn().await;
    let user = shopper(&app, 7211).await;
    for (code, outcome) in [(0, "fns_invalid"), (5, "fns_failed")] {
        let receipt = chips_receipt();
        app.proverkacheka.force_next(FakeAnswer::Code(code));
        let id = text_submission(&app, user, &receipt.qr_text()).await;
        verify(&app, id).await;
        assert_eq!(
            status_of(&app, id).await,
            settled("rejected", outcome),
            "code {code}"
        );
    }
    assert_eq!(
        texts_to(&app, 7211),
        vec![UNREADABLE.to_owned(), UNREADABLE.to_owned()]
    );
    assert_eq!(receipts_count(&app).await, 0);
}

#[tokio::test]
async fn a_receipt_whose_tax_data_does_not_match_its_qr_is_rejected() {
    let app = spawn().await;
    let user = shopper(&app, 7221).await;
    let receipt = chips_receipt();
    let mut other = receipt.fns_json();
    other["totalSum"] = json!(1);
    app.proverkacheka.force_next(FakeAnswer::Json(
        json!({"code": 1, "data": {"json": other}}),
    ));
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;

    assert_eq!(status_of(&app, id).await, settled("rejected", "mismatch"));
    assert_eq!(
        texts_to(&app, 7221),
        vec!["❌ Данные чека в налоговой не совпадают с QR-кодом. Проверьте, что это ваш чек и QR-код не повреждён.".to_owned()]
    );
}

#[tokio::test]
async fn code_two_tells_the_shopper_once_and_checks_again_later_until_accepted() {
    let app = spawn().await;
    let user = shopper(&app, 7231).await;
    let receipt = chips_receipt();
    app.proverkacheka.force_next(FakeAnswer::Code(2));
    let id = photo_submission(&app, user, qr_jpeg(&receipt.qr_text())).await;

    verify(&app, id).await;

    let r = row(&app, id).await;
    assert_eq!(
        (r.status.as_str(), r.outcome.as_deref()),
        ("retry_scheduled", Some("fns_pending"))
    );
    let due = r.due_in.expect("next_attempt_at");
    assert!((890.0..=901.0).contains(&due), "15 minutes, got {due}");
    assert_eq!(texts_to(&app, 7231), vec![FNS_PENDING.to_owned()]);
    assert_eq!(visible_jobs(&app).await, 0, "the re-check is delayed");

    // Delivered early (a hop of a long wait): it sends itself on, the fake is not called.
    let early = recheck_job(&app, id, 1, 0).await;
    run(&app, early.clone()).await.expect("early hop");
    assert_eq!(app.proverkacheka.calls(), 1);
    assert_eq!(row(&app, id).await.status, "retry_scheduled");

    // Due: still not there; a second wait of an hour, without a second message.
    make_due(&app, id).await;
    app.proverkacheka.force_next(FakeAnswer::Code(2));
    run(&app, early.clone()).await.expect("second check");
    let r = row(&app, id).await;
    assert_eq!(r.status, "retry_scheduled");
    let due = r.due_in.expect("next_attempt_at");
    assert!((3590.0..=3601.0).contains(&due), "an hour, got {due}");
    assert_eq!(texts_to(&app, 7231).len(), 1, "told only once");

    // A stale copy of the first re-check does nothing.
    make_due(&app, id).await;
    run(&app, early).await.expect("stale copy");
    assert_eq!(app.proverkacheka.calls(), 2);

    // The tax service has it now; the photo is not downloaded again.
    app.proverkacheka.register_receipt(&receipt);
    let downloads_before = app.telegram.calls_to("getFile").len();
    run(&app, recheck_job(&app, id, 2, 0).await)
        .await
        .expect("third check");
    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(app.telegram.calls_to("getFile").len(), downloads_before);
    let r = row(&app, id).await;
    assert_eq!((r.attempts, r.provider_calls), (3, 3));
    assert_eq!(
        texts_to(&app, 7231),
        vec![FNS_PENDING.to_owned(), FIRST_ACCEPTED_3.to_owned()]
    );
}

#[tokio::test]
async fn code_two_after_the_last_wait_gives_up_and_tells_the_shopper() {
    let app = spawn().await;
    let user = shopper(&app, 7241).await;
    let receipt = chips_receipt();
    let id = text_submission(&app, user, &receipt.qr_text()).await;
    let mut job = ReceiptJob::Verify { submission_id: id };
    for checked in 0..4u32 {
        app.proverkacheka.force_next(FakeAnswer::Code(2));
        run(&app, job).await.expect("check");
        make_due(&app, id).await;
        job = recheck_job(&app, id, checked + 1, 0).await;
    }
    assert_eq!(
        app.proverkacheka.calls(),
        4,
        "15 min, 1 h, 3 h after the first"
    );
    assert_eq!(
        status_of(&app, id).await,
        settled("failed", "fns_not_received")
    );
    assert_eq!(
        texts_to(&app, 7241),
        vec![
            FNS_PENDING.to_owned(),
            "😔 Чек так и не появился в базе налоговой за несколько часов, поэтому мы не можем его принять. Если чек настоящий, загрузите его позже ещё раз или напишите в поддержку.".to_owned()
        ]
    );
}

#[tokio::test]
async fn code_three_pauses_every_check_of_the_bot_without_bothering_shoppers() {
    let app = spawn().await;
    let first = shopper(&app, 7251).await;
    let second = shopper(&app, 7252).await;
    let a = text_submission(&app, first, &chips_receipt().qr_text()).await;
    let b = text_submission(&app, second, &chips_receipt().qr_text()).await;
    app.proverkacheka.force_next(FakeAnswer::Code(3));

    verify(&app, a).await;
    verify(&app, b).await;

    assert_eq!(
        app.proverkacheka.calls(),
        1,
        "the breaker kept the second call"
    );
    for id in [a, b] {
        let r = row(&app, id).await;
        assert_eq!(
            (r.status.as_str(), r.outcome.as_deref()),
            ("retry_scheduled", Some("quota_paused"))
        );
        assert!(r.due_in.is_some_and(|s| s > 3000.0), "{r:?}");
    }
    assert!(texts_to(&app, 7251).is_empty() && texts_to(&app, 7252).is_empty());

    // Once the breaker is gone the re-check calls again.
    let mut conn = app.app.redis.connection();
    let _: i64 = redis::cmd("DEL")
        .arg(quota_breaker_key(&app.app.redis))
        .query_async(&mut conn)
        .await
        .expect("del");
    // Another receipt: the paused one is still claimed by its own scheduled re-check.
    let receipt = chips_receipt().fiscal("7281440500751551", 5101, 3_344_556_677);
    app.proverkacheka.register_receipt(&receipt);
    let c = text_submission(&app, first, &receipt.qr_text()).await;
    verify(&app, c).await;
    assert_eq!(status_of(&app, c).await, settled("accepted", "accepted"));
}

#[tokio::test]
async fn code_three_tells_every_admin_once_per_pause_when_checks_resume() {
    let app = spawn_app_with(promo_config().with("ADMIN_IDS", "7901,7902"))
        .await
        .expect("app");
    let shopper_id = shopper(&app, 7261).await;
    let receipt = |fd| chips_receipt().fiscal("7281440500751551", fd, 1_000_000 + fd);
    let notices = |app: &TestApp| {
        [7901, 7902]
            .map(|admin| texts_to(app, admin))
            .into_iter()
            .flatten()
            .filter(|text| text.contains("ProverkaCheka") && text.contains("код 3"))
            .count()
    };

    app.proverkacheka.force_next(FakeAnswer::Code(3));
    let a = text_submission(&app, shopper_id, &receipt(6001).qr_text()).await;
    verify(&app, a).await;
    let b = text_submission(&app, shopper_id, &receipt(6002).qr_text()).await;
    verify(&app, b).await;
    assert_eq!(notices(&app), 2, "each admin once, not once per receipt");
    let notice = texts_to(&app, 7901).pop().unwrap_or_default();
    assert!(notice.contains("приостановлена до"), "{notice}");
    assert!(texts_to(&app, 7261).is_empty(), "shoppers are not bothered");

    // The pause ends and the quota runs out again: a new pause, a new notice.
    let mut conn = app.app.redis.connection();
    let _: i64 = redis::cmd("DEL")
        .arg(quota_breaker_key(&app.app.redis))
        .query_async(&mut conn)
        .await
        .expect("del");
    app.proverkacheka.force_next(FakeAnswer::Code(3));
    let c = text_submission(&app, shopper_id, &receipt(6003).qr_text()).await;
    verify(&app, c).await;
    assert_eq!(notices(&app), 4);
}

#[tokio::test]
async fn code_four_and_provider_faults_are_retried_with_backoff_without_bothering_the_shopper() {
    let app = spawn().await;
    let user = shopper(&app, 7261).await;
    let receipt = chips_receipt();
    let id = text_submission(&app, user, &receipt.qr_text()).await;
    let faults = [
        (FakeAnswer::Code(4), "provider_too_soon", 60.0),
        (FakeAnswer::HttpStatus(500), "provider_error", 300.0),
        (FakeAnswer::NotJson, "provider_error", 900.0),
        (FakeAnswer::EmptyBody, "provider_error", 3600.0),
        (
            FakeAnswer::Slow(Duration::from_secs(3)),
            "provider_error",
            10800.0,
        ),
    ];
    let mut job = ReceiptJob::Verify { submission_id: id };
    for (n, (answer, outcome, delay)) in faults.into_iter().enumerate() {
        app.proverkacheka.force_next(answer);
        run(&app, job).await.expect("check");
        let r = row(&app, id).await;
        assert_eq!(
            (r.status.as_str(), r.outcome.as_deref()),
            ("retry_scheduled", Some(outcome))
        );
        let due = r.due_in.expect("due");
        assert!(
            (delay - 10.0..=delay + 1.0).contains(&due),
            "fault {n}: {due}"
        );
        make_due(&app, id).await;
        job = recheck_job(&app, id, 0, n as u32 + 1).await;
    }
    assert!(texts_to(&app, 7261).is_empty());

    // After the whole schedule: a clear message, nothing stored.
    app.proverkacheka.force_next(FakeAnswer::HttpStatus(502));
    run(&app, job).await.expect("last check");
    assert_eq!(
        status_of(&app, id).await,
        settled("failed", "provider_unavailable")
    );
    assert_eq!(texts_to(&app, 7261), vec![CHECK_UNAVAILABLE.to_owned()]);
    assert_eq!(receipts_count(&app).await, 0);
}

#[tokio::test]
async fn a_provider_fault_then_success_accepts_the_receipt() {
    let app = spawn().await;
    let user = shopper(&app, 7271).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    app.proverkacheka.force_next(FakeAnswer::HttpStatus(503));
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;
    make_due(&app, id).await;
    run(&app, recheck_job(&app, id, 0, 1).await)
        .await
        .expect("re-check");

    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(texts_to(&app, 7271), vec![FIRST_ACCEPTED_3.to_owned()]);
}

// ---------------------------------------------------------------- idempotency, races

#[tokio::test]
async fn a_job_for_a_settled_submission_does_nothing() {
    let app = spawn().await;
    let user = shopper(&app, 7301).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;
    verify(&app, id).await;

    verify(&app, id).await;
    run(&app, recheck_job(&app, id, 1, 0).await)
        .await
        .expect("late re-check");

    assert_eq!(app.proverkacheka.calls(), 1);
    assert_eq!(texts_to(&app, 7301).len(), 1);
    assert_eq!(tickets_of(&app, user).await, 3);
}

#[tokio::test]
async fn a_job_for_another_bots_or_a_missing_submission_is_discarded() {
    let app = spawn().await;
    let result = run(
        &app,
        ReceiptJob::Verify {
            submission_id: i64::MAX,
        },
    )
    .await;
    assert!(matches!(result, Err(JobError::Discard(_))), "{result:?}");
    let garbage = JobMessage {
        message_id: "x".into(),
        body: "{\"kind\":\"verify\"}".into(),
        receive_count: 1,
    };
    let result = handle_receipt_job(&app.app, garbage).await;
    assert!(matches!(result, Err(JobError::Discard(_))), "{result:?}");
}

#[tokio::test]
async fn the_same_receipt_from_many_shoppers_at_once_is_accepted_exactly_once() {
    let app = spawn().await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let mut ids = Vec::new();
    for n in 0..8 {
        let user = shopper(&app, 7400 + n).await;
        ids.push(text_submission(&app, user, &receipt.qr_text()).await);
    }

    let results = futures::future::join_all(
        ids.iter()
            .map(|&id| run(&app, ReceiptJob::Verify { submission_id: id })),
    )
    .await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut outcomes = Vec::new();
    for &id in &ids {
        outcomes.push(status_of(&app, id).await);
    }
    let accepted = outcomes
        .iter()
        .filter(|o| **o == settled("accepted", "accepted"))
        .count();
    let turned_away = outcomes
        .iter()
        .filter(|o| {
            **o == settled("rejected", "duplicate")
                || **o == settled("rejected", "duplicate_in_progress")
        })
        .count();
    assert_eq!((accepted, turned_away), (1, 7), "{outcomes:?}");
    assert_eq!(
        app.proverkacheka.calls(),
        1,
        "one paid call for one receipt"
    );
    assert_eq!(receipts_count(&app).await, 1);
    let texts: Vec<String> = (0..8).flat_map(|n| texts_to(&app, 7400 + n)).collect();
    assert_eq!(texts.iter().filter(|t| *t == FIRST_ACCEPTED_3).count(), 1);
    assert_eq!(
        texts
            .iter()
            .filter(|t| *t == DUPLICATE || *t == BEING_CHECKED)
            .count(),
        7
    );
    let grants: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM tickets WHERE bot_id = $1",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(grants, 1);
}

/// The verifier of another process (its own pool, Redis connection and clients) on the
/// same database, as a second Lambda instance would be.
async fn second_process(app: &TestApp) -> promo_core::app::App {
    promo_core::app::App::build((*app.app.settings).clone())
        .await
        .expect("a second app on the same database")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_shoppers_sending_one_new_receipt_at_once_cost_one_paid_call_across_two_processes() {
    let app = spawn().await;
    let other = second_process(&app).await;
    let receipt = chips_receipt().fiscal("7281440500751551", 8801, 2_718_281_828);
    app.proverkacheka.register_receipt(&receipt);
    // The one paid call is slow, so every other upload arrives while it is in flight.
    app.proverkacheka
        .force_next(FakeAnswer::Slow(Duration::from_millis(400)));
    let mut ids = Vec::new();
    for n in 0..20 {
        let user = shopper(&app, 7500 + n).await;
        ids.push(text_submission(&app, user, &receipt.qr_text()).await);
    }

    let jobs = ids.iter().enumerate().map(|(n, &id)| {
        let process = if n % 2 == 0 {
            app.app.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            handle_receipt_job(&process, message(&ReceiptJob::Verify { submission_id: id })).await
        })
    });
    let results = futures::future::join_all(jobs).await;

    assert!(
        results.iter().all(|r| matches!(r, Ok(Ok(())))),
        "{results:?}"
    );
    assert_eq!(app.proverkacheka.calls(), 1, "exactly one paid call");
    let mut accepted = 0;
    let mut being_checked = 0;
    let mut paid = 0;
    for &id in &ids {
        let r = row(&app, id).await;
        paid += r.provider_calls;
        match (r.status.as_str(), r.outcome.as_deref()) {
            ("accepted", Some("accepted")) => accepted += 1,
            ("rejected", Some("duplicate_in_progress" | "duplicate")) => being_checked += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((accepted, being_checked, paid), (1, 19, 1));
    assert_eq!(receipts_count(&app).await, 1);
    let texts: Vec<String> = (0..20).flat_map(|n| texts_to(&app, 7500 + n)).collect();
    assert_eq!(texts.len(), 20, "every shopper is answered once: {texts:?}");
    assert_eq!(texts.iter().filter(|t| t.starts_with("✅")).count(), 1);
    assert!(
        texts.iter().filter(|t| *t == BEING_CHECKED).count() >= 1,
        "the uploads during the call are told it is being checked"
    );
}

#[tokio::test]
async fn a_receipt_whose_first_check_failed_for_good_can_be_checked_again_by_a_new_upload() {
    let app = spawn().await;
    let first = shopper(&app, 7521).await;
    let second = shopper(&app, 7522).await;
    let receipt = chips_receipt().fiscal("7281440500751551", 8802, 3_141_592_653);
    app.proverkacheka.force_next(FakeAnswer::Code(5));
    let a = text_submission(&app, first, &receipt.qr_text()).await;
    verify(&app, a).await;
    assert_eq!(status_of(&app, a).await, settled("rejected", "fns_failed"));

    app.proverkacheka.register_receipt(&receipt);
    let b = text_submission(&app, second, &receipt.qr_text()).await;
    verify(&app, b).await;
    assert_eq!(status_of(&app, b).await, settled("accepted", "accepted"));
    assert_eq!(app.proverkacheka.calls(), 2);
}

#[tokio::test]
async fn a_receipt_waiting_for_the_tax_service_is_not_paid_for_again_by_a_second_upload() {
    let app = spawn().await;
    let first = shopper(&app, 7531).await;
    let second = shopper(&app, 7532).await;
    let receipt = chips_receipt().fiscal("7281440500751551", 8803, 1_414_213_562);
    app.proverkacheka.force_next(FakeAnswer::Code(2));
    let a = text_submission(&app, first, &receipt.qr_text()).await;
    verify(&app, a).await;
    assert_eq!(row(&app, a).await.status, "retry_scheduled");

    let b = text_submission(&app, second, &receipt.qr_text()).await;
    verify(&app, b).await;
    assert_eq!(
        status_of(&app, b).await,
        settled("rejected", "duplicate_in_progress")
    );
    assert_eq!(texts_to(&app, 7532), vec![BEING_CHECKED.to_owned()]);
    assert_eq!(app.proverkacheka.calls(), 1);

    // The first upload's own re-check still owns its claim and pays once more.
    app.proverkacheka.register_receipt(&receipt);
    make_due(&app, a).await;
    run(&app, recheck_job(&app, a, 1, 0).await)
        .await
        .expect("re-check");
    assert_eq!(status_of(&app, a).await, settled("accepted", "accepted"));
    assert_eq!(app.proverkacheka.calls(), 2);
}

// ---------------------------------------------------------------- fraud signals

#[tokio::test]
async fn a_seller_over_its_daily_limit_sends_new_receipts_to_moderation_without_tickets() {
    let app = spawn().await;
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO settings (bot_id, key, value) VALUES ($1, 'promo.fraud_seller_daily_limit', '2')",
            &[&app.app.bot_id],
        )
        .await
        .expect("setting");
    let user = shopper(&app, 7501).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let receipt = chips_receipt();
        app.proverkacheka.register_receipt(&receipt);
        let id = text_submission(&app, user, &receipt.qr_text()).await;
        verify(&app, id).await;
        ids.push(id);
    }

    assert_eq!(
        status_of(&app, ids[1]).await,
        settled("accepted", "accepted")
    );
    assert_eq!(
        status_of(&app, ids[2]).await,
        settled("pending_moderation", "held_for_review")
    );
    assert_eq!(
        tickets_of(&app, user).await,
        6,
        "the held receipt earns nothing yet"
    );
    assert_eq!(
        texts_to(&app, 7501)[2],
        "🕵️ Нужна ручная проверка. Налоговая подтвердила ваш чек, но прежде чем начислить билеты, его посмотрит модератор. Мы напишем сюда, как только он примет решение."
    );
    let held = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT status, tickets, fraud_signals FROM receipts WHERE submission_id = $1",
            &[&ids[2]],
        )
        .await
        .expect("receipt");
    assert_eq!(held.get::<_, String>(0), "pending");
    assert_eq!(held.get::<_, i32>(1), 3, "what approval would grant");
    let signals: Value = held.get(2);
    assert_eq!(
        signals,
        json!([{"kind": "seller_daily_limit", "seller_inn": "7825706086",
                "day": "2024-09-17", "accepted": 2, "limit": 2}])
    );
}

#[tokio::test]
async fn a_phone_on_several_accounts_and_a_burst_of_uploads_are_recorded_but_not_held() {
    let app = spawn().await;
    let phone = b"same-phone-hash".as_slice();
    let user = shopper_with(&app, 7511, "ru", Some(phone)).await;
    shopper_with(&app, 7512, "ru", Some(phone)).await;
    for _ in 0..6 {
        text_submission(&app, user, &chips_receipt().qr_text()).await;
    }
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;

    verify(&app, id).await;

    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    let signals: Value = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT fraud_signals FROM receipts WHERE submission_id = $1",
            &[&id],
        )
        .await
        .expect("receipt")
        .get(0);
    assert_eq!(
        signals,
        json!([
            {"kind": "upload_burst", "uploads": 7, "window_minutes": 10},
            {"kind": "shared_phone", "accounts": 2}
        ])
    );
}

// ---------------------------------------------------------------- through the webhook

#[tokio::test]
async fn an_upload_through_the_webhook_is_verified_by_the_queue_consumer() {
    let app = spawn_app_with(TestConfig::default().with("TARGET_KEYWORDS", "чипсы"))
        .await
        .expect("app");
    for text in ["/start", "Иван Петров", "+79991234567"] {
        app.send_update(&Updates::text(7601, text))
            .await
            .expect("update");
    }
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let jpeg = qr_photo_jpeg(&receipt.qr_text(), &PhotoOptions::default());
    let size = jpeg.len() as u64;
    let file_id = app.telegram.add_file(jpeg, "photo.jpg");
    app.send_update(&Updates::photo(7601, &file_id, 1280, 960, size))
        .await
        .expect("photo");
    let handler = |message: JobMessage| handle_receipt_job(&app.app, message);

    let handled = consume_once(
        app.app.queue.as_ref(),
        QueueName::Receipts,
        10,
        Duration::from_millis(100),
        &handler,
    )
    .await
    .expect("consume");

    assert_eq!(handled, 1);
    let texts = texts_to(&app, 7601);
    assert_eq!(
        texts.last().map(String::as_str),
        Some(FIRST_ACCEPTED_3),
        "{texts:?}"
    );
}

#[tokio::test]
async fn an_upload_that_loses_the_insert_race_to_a_concurrent_one_is_told_already_uploaded() {
    let app = spawn().await;
    let winner = shopper(&app, 7451).await;
    let loser = shopper(&app, 7452).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, loser, &receipt.qr_text()).await;
    // The winner's receipt is inserted but not committed: the loser's local duplicate
    // check cannot see it, so only the unique triple can settle the race.
    let mut db = app.db().await.expect("db");
    let tx = db.transaction().await.expect("tx");
    let key = receipt.key();
    tx.execute(
        "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
             fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets)
         VALUES ($1, $2, '7281440500751551', $3, $4, 1, '2024-09-17 18:01', 1, 'x', 3)",
        &[
            &app.app.bot_id,
            &winner,
            &i64::from(key.fiscal_document_number),
            &i64::from(key.fiscal_sign),
        ],
    )
    .await
    .expect("winner's insert");

    let verifier = {
        let app = app.app.clone();
        tokio::spawn(async move {
            let job = message(&ReceiptJob::Verify { submission_id: id });
            handle_receipt_job(&app, job).await
        })
    };
    // Let the loser reach its insert, which now waits on the winner's row lock.
    for _ in 0..200 {
        if app.proverkacheka.calls() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!verifier.is_finished(), "the loser waits for the winner");
    tx.commit().await.expect("commit");
    verifier.await.expect("task").expect("job");

    assert_eq!(app.proverkacheka.calls(), 1);
    assert_eq!(status_of(&app, id).await, settled("rejected", "duplicate"));
    assert_eq!(texts_to(&app, 7452), vec![DUPLICATE.to_owned()]);
    assert_eq!(tickets_of(&app, loser).await, 0);
    assert_eq!(receipts_count(&app).await, 1);
}

// ---------------------------------------------------------------- failures of our side

#[tokio::test]
async fn a_telegram_outage_retries_the_job_and_the_redelivery_verifies_the_receipt() {
    let app = spawn().await;
    let user = shopper(&app, 7701).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = photo_submission(&app, user, qr_jpeg(&receipt.qr_text())).await;
    app.telegram.fail_next("getFile", 1, Failure::ServerError);

    let first = run(&app, ReceiptJob::Verify { submission_id: id }).await;

    assert!(matches!(first, Err(JobError::Retry(_))), "{first:?}");
    let r = row(&app, id).await;
    assert_eq!(
        (r.status.as_str(), r.attempts),
        ("queued", 0),
        "handed back"
    );
    assert!(texts_to(&app, 7701).is_empty());
    assert_eq!(app.proverkacheka.calls(), 0);

    verify(&app, id).await;
    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(texts_to(&app, 7701), vec![FIRST_ACCEPTED_3.to_owned()]);
}

#[tokio::test]
async fn a_submission_another_delivery_is_working_on_is_left_to_it_until_its_lease_expires() {
    let app = spawn().await;
    let user = shopper(&app, 7711).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;
    let set_processing = |age_secs: f64| {
        let app = &app;
        async move {
            app.db()
                .await
                .expect("db")
                .execute(
                    "UPDATE receipt_submissions SET status = 'processing', attempts = 1,
                         updated_at = now() - make_interval(secs => $2)
                     WHERE id = $1",
                    &[&id, &age_secs],
                )
                .await
                .expect("update");
        }
    };

    set_processing(5.0).await;
    let busy = run(&app, ReceiptJob::Verify { submission_id: id }).await;
    assert!(matches!(busy, Err(JobError::Retry(_))), "{busy:?}");
    assert_eq!(app.proverkacheka.calls(), 0);

    // The other worker crashed long ago: this delivery takes over.
    set_processing(600.0).await;
    verify(&app, id).await;
    let r = row(&app, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("accepted", 2));
}

#[tokio::test]
async fn a_shopper_who_blocked_the_bot_still_gets_the_receipt_and_is_marked_unreachable() {
    let app = spawn().await;
    let user = shopper(&app, 7721).await;
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let id = text_submission(&app, user, &receipt.qr_text()).await;
    app.telegram.block_chat(7721);

    verify(&app, id).await;

    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(tickets_of(&app, user).await, 3);
    let reachable: bool = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT reachable FROM users WHERE id = $1", &[&user])
        .await
        .expect("user")
        .get(0);
    assert!(!reachable);
}

#[tokio::test]
async fn without_a_proverkacheka_token_local_checks_still_run_and_the_rest_fails_clearly() {
    let app = spawn().await;
    let mut bare = app.app.clone();
    bare.receipts.proverkacheka = None;
    let user = shopper(&app, 7731).await;
    let refund = chips_receipt().operation(OperationType::SaleRefund);
    let refused = text_submission(&app, user, &refund.qr_text()).await;
    let normal = text_submission(&app, user, &chips_receipt().qr_text()).await;

    for id in [refused, normal] {
        let job = message(&ReceiptJob::Verify { submission_id: id });
        handle_receipt_job(&bare, job).await.expect("job");
    }

    assert_eq!(
        status_of(&app, refused).await,
        settled("rejected", "not_a_sale")
    );
    assert_eq!(
        status_of(&app, normal).await,
        settled("failed", "verifier_unavailable")
    );
    assert_eq!(texts_to(&app, 7731)[1], CHECK_UNAVAILABLE);
}

#[tokio::test]
async fn with_running_workers_an_uploaded_photo_is_answered_without_any_help() {
    let config = TestConfig::default()
        .with("TARGET_KEYWORDS", "чипсы")
        .with_workers();
    let app = spawn_app_with(config).await.expect("app");
    for text in ["/start", "Иван Петров", "+79991234567"] {
        app.send_update(&Updates::text(7801, text))
            .await
            .expect("update");
    }
    let receipt = chips_receipt();
    app.proverkacheka.register_receipt(&receipt);
    let jpeg = qr_photo_jpeg(&receipt.qr_text(), &PhotoOptions::default());
    let size = jpeg.len() as u64;
    let file_id = app.telegram.add_file(jpeg, "photo.jpg");
    let before = app.telegram.calls_to("sendMessage").len();

    app.send_update(&Updates::photo(7801, &file_id, 1280, 960, size))
        .await
        .expect("photo");

    // The "checking" reply, then the verdict from the consumer.
    app.telegram
        .wait_for_calls("sendMessage", before + 2, Duration::from_secs(20))
        .await
        .expect("the verdict arrives");
    let texts = texts_to(&app, 7801);
    assert_eq!(
        texts.last().map(String::as_str),
        Some(FIRST_ACCEPTED_3),
        "{texts:?}"
    );
}

#[tokio::test]
async fn code_zero_for_a_qr_with_seconds_is_asked_once_more_without_them() {
    let app = spawn().await;
    let user = shopper(&app, 72411).await;
    let receipt = chips_receipt().qr_with_seconds();
    app.proverkacheka.register_receipt(&receipt);
    // The register printed seconds the tax service does not have.
    let printed = receipt.qr_text().replace("T180100", "T180137");
    assert_ne!(printed, receipt.qr_text());
    let id = text_submission(&app, user, &printed).await;

    verify(&app, id).await;

    let asked: Vec<String> = app
        .proverkacheka
        .requests()
        .iter()
        .filter_map(|r| r.field("qrraw").map(str::to_owned))
        .collect();
    assert_eq!(asked.len(), 2);
    assert!(asked[0].contains("t=20240917T180137&"), "{asked:?}");
    assert!(asked[1].contains("t=20240917T1801&"), "{asked:?}");
    assert_eq!(status_of(&app, id).await, settled("accepted", "accepted"));
    assert_eq!(row(&app, id).await.provider_calls, 2);

    // Without seconds there is nothing to try: code 0 is final after one call.
    let calls = app.proverkacheka.calls();
    let unknown = text_submission(&app, user, &chips_receipt().qr_text()).await;
    verify(&app, unknown).await;
    assert_eq!(app.proverkacheka.calls(), calls + 1);
    assert_eq!(
        status_of(&app, unknown).await,
        settled("rejected", "fns_invalid")
    );
}
