//! The Users pages in a browser: the search, the user's page and what a manager does
//! there — block, message (with a photo), manual tickets — checked against the rows and
//! the fake Bot API, and the API's field errors shown next to their fields.

use std::time::Duration;

use promo_testkit::{TestApp, TestConfig};

use crate::harness::Panel;
use crate::seed::give_tickets;

/// A registered shopper with a sealed phone; returns its id.
async fn registered_shopper(
    app: &TestApp,
    telegram_id: i64,
    name: &str,
    username: Option<&str>,
    phone: &str,
) -> i64 {
    let sealed = app
        .app
        .settings
        .phone_key
        .seal(&promo_core::pii::Phone::parse(phone).expect("phone"));
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, username, status,
                                registered_at, phone_ciphertext, phone_hash, phone_masked, language)
             VALUES ($1, $2, $3, $3, $4, 'registered', now(), $5, $6, $7, 'ru') RETURNING id",
            &[
                &app.app.bot_id,
                &telegram_id,
                &name,
                &username,
                &sealed.ciphertext,
                &sealed.hash,
                &sealed.masked,
            ],
        )
        .await
        .expect("shopper")
        .get(0)
}

/// A few shoppers to look at; returns the ids of Anna and Vera.
async fn seed(app: &TestApp) -> (i64, i64) {
    registered_shopper(app, 5001, "Борис Петров", Some("boris"), "+79990001122").await;
    let vera = registered_shopper(app, 5003, "Вера Орлова", None, "+79161234567").await;
    let anna = registered_shopper(
        app,
        5002,
        "Анна Смирнова",
        Some("anna_s"),
        "+7 (999) 000-45-67",
    )
    .await;
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO users (bot_id, telegram_id, first_name, status) VALUES ($1, 5004, 'Гость', 'new')",
            &[&app.app.bot_id],
        )
        .await
        .expect("a new shopper");
    give_tickets(app, anna, 2).await;
    // Two receipts of hers, one accepted (with its ledger row), one held for review.
    let client = app.db().await.expect("db");
    for (fd, status, tickets, total) in [
        (21_i64, "accepted", 1_i32, 31_900_i64),
        (22, "pending", 2, 64_050),
    ] {
        let receipt: i64 = client
            .query_one(
                "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                     fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status,
                     seller_inn, seller_name)
                 VALUES ($1, $2, '9999078900001234', $3, $3, 1, '2024-09-17 18:01:00', $4, $5, $6, $7,
                         '7701234567', 'ООО Ромашка')
                 RETURNING id",
                &[
                    &app.app.bot_id,
                    &anna,
                    &fd,
                    &total,
                    &format!("qr-{fd}"),
                    &tickets,
                    &status,
                ],
            )
            .await
            .expect("receipt")
            .get(0);
        if status == "accepted" {
            client
                .execute(
                    "INSERT INTO tickets (bot_id, user_id, amount, source, receipt_id)
                     VALUES ($1, $2, $3, 'receipt', $4)",
                    &[&app.app.bot_id, &anna, &tickets, &receipt],
                )
                .await
                .expect("ledger");
        }
    }
    (anna, vera)
}

async fn status_of(app: &TestApp, user_id: i64) -> String {
    app.db()
        .await
        .expect("db")
        .query_one("SELECT status FROM users WHERE id = $1", &[&user_id])
        .await
        .expect("user")
        .get(0)
}

/// A small real PNG on disk, for the file picker.
fn picture_file() -> std::path::PathBuf {
    let pixels = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 180])
    });
    let path = std::env::temp_dir().join(format!("promo-photo-{}.png", uuid::Uuid::new_v4()));
    image::DynamicImage::ImageRgb8(pixels)
        .save_with_format(&path, image::ImageFormat::Png)
        .expect("picture");
    path
}

#[tokio::test]
async fn a_manager_finds_a_user_by_search_sees_their_full_phone_and_blocks_them_with_a_reason() {
    let panel = Panel::start(TestConfig::default()).await;
    let (anna, vera) = seed(&panel.app).await;
    panel.signed_in_as("manager").await;

    panel.goto("/users").await;
    panel.wait_for("#users-table tbody tr").await;
    panel.screenshot("users").await;
    // A phone in another spelling finds her, and only her.
    panel.fill("#users-q", "8 999 000 45 67").await;
    panel.click("#users-submit").await;
    panel
        .wait_for_none("#users-table tbody tr:nth-child(2)")
        .await;
    panel
        .wait_for(&format!("#users-table tr[data-user-id='{anna}']"))
        .await;
    let row = panel.text("#users-table tbody tr").await;
    assert!(row.contains("+7 *** ***-45-67"), "the masked phone: {row}");
    assert!(!row.contains("000-45-67"), "only the masked phone: {row}");
    // A name's start finds Vera alone; an unknown username nobody.
    panel.fill("#users-q", "вер").await;
    panel.click("#users-submit").await;
    panel
        .wait_for(&format!("#users-table tr[data-user-id='{vera}']"))
        .await;
    panel
        .wait_for_none("#users-table tbody tr:nth-child(2)")
        .await;
    panel.fill("#users-q", "@nobody").await;
    panel.click("#users-submit").await;
    panel.wait_for("#users-empty").await;

    panel.fill("#users-q", "@anna").await;
    panel.click("#users-submit").await;
    panel.click(".user-link").await;
    panel
        .wait_for(&format!("#user-profile[data-user-id='{anna}']"))
        .await;
    panel.click("#reveal-phone").await;
    let phone = panel.text("#full-phone").await;
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits, "79990004567", "{phone}");
    let views: i64 = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'user.view_phone' AND target = $1",
            &[&format!("user:{anna}")],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(views, 1, "the view is audited");

    panel.click("#action-block").await;
    // No reason: said next to the field, nothing sent.
    panel.click("#block-submit").await;
    panel.wait_for("#block-reason ~ .field-error").await;
    assert_eq!(status_of(&panel.app, anna).await, "registered");
    panel.fill("#block-reason", "Чеки с чужих покупок").await;
    panel.click("#block-submit").await;
    panel.wait_for_text("#user-notice", "заблокирован").await;
    panel.wait_for("#user-profile[data-status='banned']").await;
    assert_eq!(status_of(&panel.app, anna).await, "banned");
    let reason: serde_json::Value = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT details FROM audit_log WHERE action = 'user.block' AND target = $1",
            &[&format!("user:{anna}")],
        )
        .await
        .expect("audited")
        .get(0);
    assert_eq!(reason["reason"], "Чеки с чужих покупок");
    // A blocked shopper is messaged nothing: the form says so and cannot send.
    panel.click("#action-message").await;
    panel.wait_for("#message-submit[disabled]").await;
    panel.click("#action-block").await;
    panel.screenshot("user-detail-blocked").await;
    panel.click("#unblock-submit").await;
    panel
        .wait_for("#user-profile[data-status='registered']")
        .await;
    assert_eq!(status_of(&panel.app, anna).await, "registered");
    // The list shows what the API says now.
    panel.goto("/users?status=banned").await;
    panel.wait_for("#users-empty").await;
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_message_sent_from_the_user_page_arrives_at_the_fake_bot_api_with_and_without_a_photo() {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    let (anna, _) = seed(&panel.app).await;
    panel.signed_in_as("manager").await;
    panel.goto(&format!("/users/{anna}")).await;
    panel.wait_for("#message-form").await;

    // Nothing to send: said before any request.
    panel.click("#message-submit").await;
    panel.wait_for("#message-text ~ .field-error").await;
    panel
        .fill("#message-text", "Анна, ваш приз ждёт вас!")
        .await;
    panel.click("#message-submit").await;
    panel.wait_for_text("#user-notice", "#").await;
    let calls = panel
        .app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(20))
        .await
        .expect("the message arrives");
    assert_eq!(calls[0].params["chat_id"], 5002);
    assert_eq!(calls[0].params["text"], "Анна, ваш приз ждёт вас!");

    // With a photo: picked, uploaded, shown, then sent as its caption.
    let file = picture_file();
    let picker = panel.wait_for("#message-photo").await;
    picker
        .send_keys(&file.display().to_string())
        .await
        .expect("pick the file");
    panel
        .wait_for("#message-photo-chosen img.photo-thumb")
        .await;
    panel.fill("#message-text", "Фото приза").await;
    panel.screenshot("user-detail-message").await;
    panel.click("#message-submit").await;
    panel.wait_for_none("#message-photo-chosen").await;
    let photos = panel
        .app
        .telegram
        .wait_for_calls("sendPhoto", 1, Duration::from_secs(20))
        .await
        .expect("the photo arrives");
    assert_eq!(photos[0].params["chat_id"], 5002);
    assert_eq!(photos[0].params["caption"], "Фото приза");
    let bytes = std::fs::read(&file).expect("picture");
    assert_eq!(
        photos[0].params["photo"]["file"]["len"],
        serde_json::json!(bytes.len()),
        "the picked file itself went out"
    );
    let _ = std::fs::remove_file(&file);
    // Both are in the shopper's campaigns once the page is read again.
    panel.goto(&format!("/users/{anna}")).await;
    panel.wait_for("#user-campaigns li:nth-child(2)").await;
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn granting_tickets_with_a_reason_changes_the_total_and_tells_the_shopper() {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    let (anna, _) = seed(&panel.app).await;
    panel.signed_in_as("manager").await;
    panel.goto(&format!("/users/{anna}")).await;
    assert_eq!(panel.text("#user-tickets").await, "3");
    panel.click("#action-tickets").await;
    // Zero is refused before sending, next to the amount.
    panel.fill("#grant-amount", "0").await;
    panel.fill("#grant-reason", "Конкурс в канале").await;
    panel.click("#grant-submit").await;
    panel
        .wait_for("#grant-amount[aria-invalid='true'] ~ .field-error")
        .await;
    panel.fill("#grant-amount", "5").await;
    panel.click("#grant-submit").await;
    panel.wait_for_text("#user-notice", "8").await;
    panel.wait_for_text("#user-tickets", "8").await;
    panel
        .wait_for_text("#ticket-entries tbody tr:first-child", "Конкурс в канале")
        .await;
    panel.screenshot("user-detail").await;
    let told = panel
        .app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(20))
        .await
        .expect("the shopper is told");
    assert!(
        told[0].params["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Конкурс в канале"),
        "{:?}",
        told[0].params
    );
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_field_error_from_the_api_is_shown_next_to_its_field() {
    let panel = Panel::start(TestConfig::default()).await;
    let (anna, _) = seed(&panel.app).await;
    panel.signed_in_as("manager").await;
    panel.goto(&format!("/users/{anna}")).await;
    panel.click("#action-receipt").await;
    // Every field filled, so the form sends; the fiscal drive number is the API's to
    // refuse (16 digits), and it names the field.
    panel.fill("#receipt-fn", "12345").await;
    panel.fill("#receipt-fd", "11").await;
    panel.fill("#receipt-fp", "1234567890").await;
    panel.set_value("#receipt-date", "2024-09-17T18:01").await;
    panel.fill("#receipt-sum", "500.00").await;
    panel
        .fill("#receipt-reason", "Чек порван, продиктован в поддержку")
        .await;
    panel.click("#receipt-submit").await;
    let error = panel.text("#receipt-fn ~ .field-error").await;
    assert!(error.contains("16 digits"), "the API's own words: {error}");
    panel.wait_for("#receipt-fn[aria-invalid='true']").await;
    panel.wait_for_none("#receipt-form .form-error").await;
    panel.screenshot("user-detail-receipt-error").await;
    let submissions: i64 = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one("SELECT count(*) FROM receipt_submissions", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(submissions, 0);
    // The refused request is the only console complaint (Chromium logs every 4xx).
    panel
        .assert_no_console_errors_except(&[
            "/receipts - Failed to load resource: the server responded with a status of 400",
        ])
        .await;
}

#[tokio::test]
async fn a_viewer_reads_a_user_and_a_held_receipt_but_is_offered_no_action() {
    let panel = Panel::start(TestConfig::default()).await;
    let (anna, _) = seed(&panel.app).await;
    panel.signed_in_as("viewer").await;
    panel.goto(&format!("/users/{anna}")).await;
    panel.wait_for("#user-profile #masked-phone").await;
    panel.wait_for("#user-receipts tr[data-receipt-id]").await;
    panel.wait_for_none("#user-actions").await;
    panel.wait_for_none("#reveal-phone").await;
    panel.goto("/receipts?tab=moderation").await;
    panel.wait_for("#receipt-detail .receipt-body").await;
    panel.wait_for_none("#decision").await;
    panel.screenshot("receipts-moderation-viewer").await;
    panel.assert_no_console_errors().await;
}
