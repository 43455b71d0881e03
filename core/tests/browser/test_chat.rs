//! The Texts page and the test chat in a browser: a bot text edited (checked, previewed
//! as a bubble, saved) and then said by the bot in the test chat; an inline button
//! pressed and the bot's edit shown in place; registration through the reply keyboard's
//! contact button; a receipt photo whose verdict arrives later, found by polling.

use fantoccini::Locator;
use promo_testkit::receipts::{qr_photo_jpeg, PhotoOptions, ReceiptBuilder};
use promo_testkit::TestConfig;

use crate::harness::Panel;

/// Fails on console errors other than the failed requests of `expected` (paths the
/// test made the API refuse on purpose: the browser logs each refusal as an error).
async fn assert_no_other_console_errors(panel: &Panel, expected: &[&str]) {
    let errors: Vec<_> = panel
        .console_errors()
        .await
        .into_iter()
        .filter(|e| {
            !(e.source == "network" && expected.iter().any(|path| e.message.contains(path)))
        })
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// The texts of the bot's bubbles, in order.
async fn bot_texts(panel: &Panel) -> Vec<String> {
    let mut texts = Vec::new();
    for bubble in panel
        .browser
        .find_all(Locator::Css(".tg-line[data-from=\"bot\"] .tg-msg"))
        .await
        .unwrap_or_default()
    {
        texts.push(bubble.text().await.unwrap_or_default());
    }
    texts
}

async fn say(panel: &Panel, text: &str) {
    panel.fill("#chat-input", text).await;
    panel.click("#chat-send").await;
}

#[tokio::test]
async fn an_edited_welcome_text_is_what_the_bot_says_in_the_test_chat() {
    let panel = Panel::start(TestConfig::default()).await;
    panel.signed_in_as("manager").await;
    panel.click("#nav a[href=\"/texts\"]").await;
    panel.fill("#texts-search", "welcome_new").await;
    panel.click("[data-key=\"welcome_new\"]").await;
    panel.wait_for("#text-body").await;
    panel
        .wait_for_text("#text-preview .tg-msg", "Хрустящее лето")
        .await;

    // A placeholder the text's code does not fill is refused before sending.
    panel
        .fill("#text-body", "Привет, {nobody}! Как вас зовут?")
        .await;
    panel.click("#text-save").await;
    panel
        .wait_for_text("#text-editor .field-error", "{nobody}")
        .await;

    panel
        .fill(
            "#text-body",
            "Привет из панели! Акция «{promo}» ждёт вас. Как вас зовут?",
        )
        .await;
    // The preview fills in sample values, drawn as a Telegram bubble.
    panel
        .wait_for_text(
            "#text-preview .tg-msg",
            "Привет из панели! Акция «Хрустящее лето» ждёт вас.",
        )
        .await;
    panel.click("#text-save").await;
    panel.wait_for("#text-saved").await;
    panel.wait_for("[data-key=\"welcome_new\"] .badge").await;
    panel.screenshot("texts").await;

    panel.click("#nav a[href=\"/test-chat\"]").await;
    panel.click("#chat-start").await;
    let welcome = panel
        .wait_for_text(".tg-line[data-from=\"bot\"]", "Привет из панели!")
        .await;
    let text = welcome.text().await.unwrap_or_default();
    assert!(text.contains("Акция «Хрустящее лето» ждёт вас."), "{text}");
    panel
        .wait_for_text(".tg-line[data-from=\"shopper\"]", "/start")
        .await;
    panel
        .wait_for_text("#reply-keyboard .tg-key", "Отмена")
        .await;
    assert_no_other_console_errors(&panel, &["/preview"]).await;
}

#[tokio::test]
async fn an_inline_button_pressed_in_the_test_chat_gets_the_bots_answer_in_place() {
    let panel = Panel::start(TestConfig::default()).await;
    panel.signed_in_as("manager").await;
    panel.goto("/test-chat").await;
    panel.wait_for("#chat-empty").await;
    say(&panel, "/language").await;
    panel
        .wait_for_text(".tg-line[data-from=\"bot\"]", "Выберите язык")
        .await;
    panel.screenshot("test-chat-buttons").await;
    panel.click(".tg-button[data-callback=\"lang:en\"]").await;
    panel
        .wait_for_text(
            ".tg-line[data-from=\"bot\"] .tg-msg",
            "Language: English ✅",
        )
        .await;
    // The bot edited its message: one bubble, marked edited, its buttons gone.
    let texts = bot_texts(&panel).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("изменено"), "{texts:?}");
    assert_eq!(
        panel
            .browser
            .find_all(Locator::Css(".tg-button[data-callback]"))
            .await
            .map(|b| b.len())
            .unwrap_or(0),
        0
    );
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn the_contact_button_registers_the_test_shopper_and_a_receipt_photo_gets_its_verdict() {
    let panel = Panel::start(
        TestConfig::default()
            .with_workers()
            .with("PROMO_START_DATE", "2024-09-01")
            .with("TARGET_KEYWORDS", "чипсы"),
    )
    .await;
    panel.signed_in_as("manager").await;
    panel.goto("/test-chat").await;
    panel.click("#chat-start").await;
    panel
        .wait_for_text(".tg-line[data-from=\"bot\"]", "как вас зовут")
        .await;
    say(&panel, "Иван Петров").await;
    panel
        .click("#reply-keyboard .tg-key[data-contact=\"true\"]")
        .await;
    panel
        .wait_for_text(".tg-line[data-from=\"bot\"]", "Регистрация завершена")
        .await;
    panel
        .wait_for_text(".tg-line[data-from=\"shopper\"]", "+79001234567")
        .await;
    panel
        .wait_for_text("#reply-keyboard .tg-key", "Загрузить чек")
        .await;

    let receipt = ReceiptBuilder::new().item("Чипсы LAY'S сметана/зелень 140г", 12_999, 3);
    panel.app.proverkacheka.register_receipt(&receipt);
    let jpeg = qr_photo_jpeg(&receipt.qr_text(), &PhotoOptions::default());
    let file = std::env::temp_dir().join(format!("receipt-{}.jpg", uuid::Uuid::new_v4()));
    std::fs::write(&file, jpeg).expect("photo file");
    panel
        .wait_for("#chat-photo")
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("choose the photo");
    // The verdict comes from the verifier later; the page polls until it is there.
    panel
        .wait_for_text(".tg-line[data-from=\"bot\"]", "Чек принят")
        .await;
    panel.wait_for(".tg-line[data-from=\"shopper\"] img").await;
    let _ = std::fs::remove_file(&file);
    panel.screenshot("test-chat").await;
    assert!(
        panel.app.telegram.calls().is_empty(),
        "nothing reaches Telegram"
    );
    panel.assert_no_console_errors().await;
}
