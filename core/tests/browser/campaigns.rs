//! Broadcast and Campaigns in a browser: a broadcast composed in the form (text, photo,
//! button) goes out with the workers running and its progress bar reaches 100 % while
//! the messages arrive at the fake Bot API; the recipient count follows the audience; a
//! running campaign is paused and resumed from the pages; what Telegram or the API
//! would refuse is said next to its field and nothing is created.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use promo_testkit::{TestApp, TestConfig};

use crate::harness::Panel;

/// Registered ru shoppers with Telegram ids `first..first + count`; returns their ids.
async fn registered(app: &TestApp, first: i64, count: i64, language: &str) -> Vec<i64> {
    app.db()
        .await
        .expect("db")
        .query(
            "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at, language)
             SELECT $1, t, 'Участник ' || t, 'registered', now(), $4
             FROM generate_series($2::BIGINT, $2::BIGINT + $3::BIGINT - 1) AS t
             RETURNING id",
            &[&app.app.bot_id, &first, &count, &language],
        )
        .await
        .expect("shoppers")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A shopper who must never get a broadcast: banned, or never registered.
async fn unreachable_shopper(app: &TestApp, telegram_id: i64, status: &str) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at, language)
             VALUES ($1, $2, 'Нет', $3, CASE WHEN $3 = 'new' THEN NULL ELSE now() END, 'ru')
             RETURNING id",
            &[&app.app.bot_id, &telegram_id, &status],
        )
        .await
        .expect("shopper")
        .get(0)
}

async fn accept_a_receipt(app: &TestApp, user_id: i64) {
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets)
             VALUES ($1, $2, '9999078900001234', $2, 1, 1, now(), 100, 'qr', 1)",
            &[&app.app.bot_id, &user_id],
        )
        .await
        .expect("receipt");
}

async fn campaigns_created(app: &TestApp) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one("SELECT count(*) FROM campaigns", &[])
        .await
        .expect("count")
        .get(0)
}

/// A small real PNG on disk, for the file picker.
fn picture_file() -> std::path::PathBuf {
    let pixels = image::RgbImage::from_fn(160, 100, |x, y| {
        image::Rgb([(x + 60) as u8, (y * 2 + 40) as u8, 200])
    });
    let path = std::env::temp_dir().join(format!("promo-prize-{}.png", uuid::Uuid::new_v4()));
    image::DynamicImage::ImageRgb8(pixels)
        .save_with_format(&path, image::ImageFormat::Png)
        .expect("picture");
    path
}

/// Waits up to `limit` for an element `css` (longer than the harness's wait, for a
/// campaign that takes its time on purpose).
async fn wait_long(panel: &Panel, css: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if panel.browser.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panel
        .fail(&format!("waited {limit:?} for an element `{css}`"))
        .await;
}

/// The chats the fake Bot API got a `method` call for.
fn chats_sent(app: &TestApp, method: &str) -> Vec<i64> {
    app.telegram
        .calls_to(method)
        .iter()
        .filter(|call| call.status == 200)
        .filter_map(|call| call.params["chat_id"].as_i64())
        .collect()
}

/// The campaign id of the page shown (`/campaigns?id=N`).
async fn campaign_in_address(panel: &Panel) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = panel
            .browser
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        if let Some(id) = url
            .split_once("/campaigns?id=")
            .and_then(|(_, id)| id.parse::<i64>().ok())
        {
            return id;
        }
        if Instant::now() > deadline {
            panel
                .fail("the new campaign did not open at /campaigns?id=N")
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_broadcast_composed_in_the_form_reaches_every_recipient_and_its_progress_bar_reaches_100_percent(
) {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    let app = &panel.app;
    registered(app, 8_100_001, 5, "ru").await;
    unreachable_shopper(app, 8_100_900, "banned").await;
    unreachable_shopper(app, 8_100_901, "new").await;
    panel.signed_in_as("manager").await;
    panel.goto("/broadcast").await;
    panel
        .wait_for("#recipient-count[data-count='5'][data-busy='false']")
        .await;

    panel
        .fill(
            "#text",
            "<b>Новые призы</b> этой недели — <i>успейте</i> до воскресенья!\n\
             Подробности на <a href=\"https://example.org/prizes\">сайте акции</a>.",
        )
        .await;
    let file = picture_file();
    panel
        .wait_for("#photo-file")
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("pick the file");
    panel.wait_for("#chosen-photo img.thumb").await;
    // Taken away, then picked again from the bot's uploads.
    panel.click("#photo-remove").await;
    panel.wait_for_none("#chosen-photo").await;
    panel.click("#photo-gallery").await;
    panel.click("#upload-gallery .upload-choice").await;
    panel
        .wait_for("#chosen-photo[data-photo^='upload:'] img.thumb")
        .await;
    panel.fill("#button-text", "Участвовать").await;
    panel.fill("#button-url", "https://example.org/go").await;

    // The preview draws it as Telegram would: photo on top, formatting, the button under.
    panel
        .wait_for_text("#broadcast-preview .tg-msg strong", "Новые призы")
        .await;
    panel
        .wait_for_text("#broadcast-preview .tg-msg em", "успейте")
        .await;
    panel
        .wait_for_text("#broadcast-preview .tg-link", "сайте акции")
        .await;
    panel
        .wait_for("#broadcast-preview .tg-msg.tg-has-photo img.tg-photo")
        .await;
    panel
        .wait_for_text(
            "#broadcast-preview .tg-buttons .tg-url-button",
            "Участвовать",
        )
        .await;
    assert!(
        panel
            .text("#text-counter")
            .await
            .replace(['\u{202f}', ' '], "")
            .ends_with("/1024"),
        "with a photo the text is a caption, limited to 1024"
    );
    let _ = panel
        .browser
        .execute(
            "window.scrollTo(0, 0); document.activeElement.blur();",
            vec![],
        )
        .await;
    panel.screenshot("broadcast").await;

    panel.click("#broadcast-send").await;
    panel.wait_for("#confirm-dialog").await;
    assert_eq!(panel.text("#confirm-recipients").await, "5");
    panel.click("#confirm-send").await;
    let id = campaign_in_address(&panel).await;
    panel
        .wait_for(&format!("#campaign-detail[data-campaign='{id}']"))
        .await;
    wait_long(
        &panel,
        "#campaign-detail .progress[aria-valuenow='100']",
        Duration::from_secs(30),
    )
    .await;
    wait_long(
        &panel,
        "#detail-status[data-status='completed']",
        Duration::from_secs(10),
    )
    .await;
    // (Attributes, not text: the page redraws once the campaign is over.)
    panel
        .wait_for("#campaign-detail .campaign-progress[data-sent='5'][data-total='5']")
        .await;

    // At the far end: one photo message for each of the five, none for anyone else.
    let calls: Vec<_> = app
        .telegram
        .calls_to("sendPhoto")
        .into_iter()
        .filter(|call| call.status == 200)
        .collect();
    let chats: HashSet<i64> = calls
        .iter()
        .filter_map(|call| call.params["chat_id"].as_i64())
        .collect();
    assert_eq!(calls.len(), 5, "one message each, nobody twice");
    assert_eq!(chats, (8_100_001..=8_100_005).collect::<HashSet<_>>());
    assert!(app.telegram.calls_to("sendMessage").is_empty());
    let first = &calls[0].params;
    assert_eq!(first["parse_mode"], "HTML");
    assert!(first["caption"]
        .as_str()
        .is_some_and(|c| c.starts_with("<b>Новые призы</b> этой недели")));
    assert_eq!(
        first["reply_markup"]["inline_keyboard"][0][0]["url"],
        "https://example.org/go"
    );
    // The content and audience are shown with the campaign.
    panel
        .wait_for_text("#campaign-preview .tg-msg strong", "Новые призы")
        .await;
    panel
        .wait_for("#campaign-audience dd[data-segment='all']")
        .await;
    panel.screenshot("campaign-detail").await;
    panel.assert_no_console_errors().await;
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn the_recipient_count_shown_is_exactly_who_the_chosen_audience_reaches() {
    let panel = Panel::start(TestConfig::default()).await;
    let app = &panel.app;
    let ru = registered(app, 8_200_001, 3, "ru").await;
    let en = registered(app, 8_200_101, 2, "en").await;
    let banned = unreachable_shopper(app, 8_200_900, "banned").await;
    unreachable_shopper(app, 8_200_901, "new").await;
    accept_a_receipt(app, ru[0]).await;
    accept_a_receipt(app, en[0]).await;
    panel.signed_in_as("manager").await;
    panel.goto("/broadcast").await;

    let count = |n: i64| format!("#recipient-count[data-count='{n}'][data-busy='false']");
    panel.wait_for(&count(5)).await;
    panel.click("#segment-with_receipts").await;
    panel.wait_for(&count(2)).await;
    panel.click("#segment-without_receipts").await;
    panel.wait_for(&count(3)).await;
    panel
        .wait_for("#language")
        .await
        .select_by_value("en")
        .await
        .expect("choose English");
    panel.wait_for(&count(1)).await;
    panel.click("#segment-all").await;
    panel.wait_for(&count(2)).await;
    panel
        .wait_for("#language")
        .await
        .select_by_value("")
        .await
        .expect("any language");
    // A list of users: the banned one in it is still nobody.
    panel
        .fill("#user-ids", &format!("{}, {} {}", ru[1], en[1], banned))
        .await;
    panel.wait_for(&count(2)).await;
    assert_eq!(panel.text("#recipient-number").await, "2");
    // Not a number: said next to the list, and nothing counted.
    panel.fill("#user-ids", "12, двенадцать").await;
    panel
        .wait_for_text("label:has(#user-ids) .field-error", "двенадцать")
        .await;
    // (A blank typed, since clearing a field fires no input event.)
    panel.fill("#user-ids", " ").await;
    panel.wait_for(&count(5)).await;
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_running_campaign_is_paused_and_resumed_from_the_pages_and_every_message_goes_once() {
    // Four a second for 48 shoppers: twelve seconds of sending, time to press pause.
    let panel = Panel::start(
        TestConfig::default()
            .with_workers()
            .with("BROADCAST_RATE", "4"),
    )
    .await;
    let app = &panel.app;
    registered(app, 8_300_001, 48, "ru").await;
    panel.signed_in_as("manager").await;
    panel.goto("/broadcast").await;
    panel
        .wait_for("#recipient-count[data-count='48'][data-busy='false']")
        .await;
    panel.fill("#text", "Напоминание: розыгрыш в пятницу").await;
    panel.click("#broadcast-send").await;
    panel.click("#confirm-send").await;
    let id = campaign_in_address(&panel).await;

    // Pause once it is sending, from the campaign's page.
    panel
        .wait_for("#detail-status[data-status='running']")
        .await;
    app.telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(10))
        .await
        .expect("sending has started");
    panel.click("#campaign-detail .campaign-pause").await;
    panel.wait_for("#detail-status[data-status='paused']").await;
    panel.wait_for("#campaign-detail .campaign-resume").await;
    // What was in flight settles; after that nothing more goes out.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let at_pause = chats_sent(app, "sendMessage").len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        chats_sent(app, "sendMessage").len(),
        at_pause,
        "a paused campaign sends nothing"
    );
    assert!(
        at_pause > 0 && at_pause < 48,
        "paused midway, after {at_pause}"
    );

    // Resume from the list, and watch it finish there.
    panel.goto("/campaigns").await;
    let row = format!("#campaign-list .campaign-tr[data-campaign='{id}']");
    panel
        .wait_for(&format!("{row}[data-status='paused']"))
        .await;
    panel.click(&format!("{row} .campaign-resume")).await;
    wait_long(
        &panel,
        &format!("{row} .progress[aria-valuenow='100']"),
        Duration::from_secs(30),
    )
    .await;
    wait_long(
        &panel,
        &format!("{row}[data-status='completed']"),
        Duration::from_secs(10),
    )
    .await;
    let chats = chats_sent(app, "sendMessage");
    let distinct: HashSet<i64> = chats.iter().copied().collect();
    assert_eq!(
        chats.len(),
        48,
        "every message once, none again after resume"
    );
    assert_eq!(distinct, (8_300_001..=8_300_048).collect::<HashSet<_>>());
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_bad_button_url_an_empty_text_and_a_file_that_is_no_image_are_refused_next_to_their_fields(
) {
    let panel = Panel::start(TestConfig::default()).await;
    registered(&panel.app, 8_400_001, 2, "ru").await;
    panel.signed_in_as("manager").await;
    panel.goto("/broadcast").await;
    panel
        .wait_for("#recipient-count[data-count='2'][data-busy='false']")
        .await;

    // Nothing written: the text is asked for.
    panel.click("#broadcast-send").await;
    panel.wait_for("#text[aria-invalid='true']").await;
    panel.wait_for("label:has(#text) .field-error").await;

    // A button address Telegram would not open.
    panel.fill("#text", "Скоро розыгрыш").await;
    panel.fill("#button-text", "Открыть").await;
    panel.fill("#button-url", "javascript:alert(1)").await;
    panel.click("#broadcast-send").await;
    panel.wait_for("#button-url[aria-invalid='true']").await;
    panel
        .wait_for_text("label:has(#button-url) .field-error", "https://")
        .await;
    assert!(
        panel
            .browser
            .find(Locator::Css("#confirm-dialog"))
            .await
            .is_err(),
        "nothing is offered for sending"
    );
    panel.fill("#button-url", "example.org/no-scheme").await;
    panel.click("#broadcast-send").await;
    panel
        .wait_for_text("label:has(#button-url) .field-error", "https://")
        .await;

    // MarkdownV2 with a '.' unescaped: Telegram would refuse every message.
    panel.fill("#button-url", "https://example.org").await;
    panel
        .wait_for("#parse-mode")
        .await
        .select_by_value("MarkdownV2")
        .await
        .expect("MarkdownV2");
    panel.fill("#text", "*Скоро* розыгрыш.").await;
    panel.wait_for("#broadcast-preview .tg-problem").await;
    panel.click("#broadcast-send").await;
    panel
        .wait_for_text("label:has(#text) .field-error", "\\.")
        .await;

    // The API's own refusal of the upload, next to the photo picker.
    let fake =
        std::env::temp_dir().join(format!("promo-not-an-image-{}.png", uuid::Uuid::new_v4()));
    std::fs::write(&fake, b"<html>not a picture</html>").expect("file");
    panel
        .wait_for("#photo-file")
        .await
        .send_keys(&fake.display().to_string())
        .await
        .expect("pick the file");
    panel.wait_for("#photo-file[aria-invalid='true']").await;
    panel.wait_for(".card:has(#photo-file) .field-error").await;
    let _ = std::fs::remove_file(&fake);

    assert_eq!(
        campaigns_created(&panel.app).await,
        0,
        "nothing was created"
    );
    // The one console error allowed: the refused upload's 415 logged by the browser.
    let errors: Vec<_> = panel
        .console_errors()
        .await
        .into_iter()
        .filter(|e| !e.message.contains("/api/uploads"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// A finished or waiting campaign as the runner would have left it; returns its id.
async fn past_campaign(
    app: &TestApp,
    status: &str,
    text: &str,
    audience: serde_json::Value,
    error: Option<&str>,
) -> i64 {
    let content = serde_json::json!({"text": text, "parse_mode": "HTML"});
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience, scheduled_for,
                 started_at, finished_at, total, sent, failed, blocked, error)
             VALUES ($1, 'broadcast', $2, $3, $4,
                 CASE WHEN $2 = 'scheduled' THEN '2099-06-01T09:00:00Z'::TIMESTAMPTZ END,
                 CASE WHEN $2 = 'scheduled' THEN NULL ELSE now() - interval '1 hour' END,
                 CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() - interval '50 minutes' END,
                 120, CASE WHEN $2 = 'completed' THEN 117 WHEN $2 = 'scheduled' THEN 0 ELSE 39 END,
                 CASE WHEN $2 = 'scheduled' THEN 0 ELSE 1 END,
                 CASE WHEN $2 = 'scheduled' THEN 0 ELSE 2 END, $5)
             RETURNING id",
            &[&app.app.bot_id, &status, &content, &audience, &error],
        )
        .await
        .expect("campaign")
        .get(0)
}

async fn status_of(app: &TestApp, campaign_id: i64) -> String {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT status FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await
        .expect("campaign")
        .get(0)
}

async fn rows_shown(panel: &Panel) -> usize {
    panel
        .browser
        .find_all(Locator::Css("#campaign-list .campaign-tr[data-campaign]"))
        .await
        .map(|rows| rows.len())
        .unwrap_or(0)
}

async fn wait_rows(panel: &Panel, wanted: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows_shown(panel).await != wanted {
        if Instant::now() > deadline {
            let shown = rows_shown(panel).await;
            panel
                .fail(&format!("{shown} campaigns listed, {wanted} expected"))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_campaign_history_pages_filters_and_opens_a_campaign_with_its_error_content_and_audience(
) {
    let panel = Panel::start(TestConfig::default()).await;
    let app = &panel.app;
    for n in 1..=22 {
        past_campaign(
            app,
            "completed",
            &format!("<b>Неделя {n}</b>: новые призы"),
            serde_json::json!({}),
            None,
        )
        .await;
    }
    let cancelled =
        past_campaign(app, "cancelled", "Отменённая", serde_json::json!({}), None).await;
    let failed = past_campaign(
        app,
        "failed",
        "Не ушла",
        serde_json::json!({"segment": "without_receipts"}),
        Some("Telegram refused the markup: can't parse entities"),
    )
    .await;
    let waiting = past_campaign(
        app,
        "scheduled",
        "<b>Финал</b> в пятницу!",
        serde_json::json!({"segment": "with_receipts", "language": "en"}),
        None,
    )
    .await;
    panel.signed_in_as("manager").await;
    panel.goto("/campaigns").await;

    // Newest first, twenty at a time; each row with the controls its status allows.
    wait_rows(&panel, 20).await;
    let first = panel
        .wait_for("#campaign-list .campaign-tr[data-campaign]")
        .await
        .attr("data-campaign")
        .await
        .expect("attribute");
    assert_eq!(first, Some(waiting.to_string()));
    panel
        .wait_for(&format!(
            "#campaign-list .campaign-tr[data-campaign='{cancelled}'] .campaign-resume"
        ))
        .await;
    panel
        .wait_for(&format!(
            "#campaign-list .campaign-tr[data-campaign='{waiting}'] .campaign-pause"
        ))
        .await;
    panel.screenshot("campaigns").await;
    panel.click("#campaigns-more").await;
    wait_rows(&panel, 25).await;

    // A status filter, kept in the address.
    panel
        .wait_for("#filter-status")
        .await
        .select_by_value("failed")
        .await
        .expect("filter");
    wait_rows(&panel, 1).await;
    assert!(panel
        .browser
        .current_url()
        .await
        .expect("url")
        .as_str()
        .ends_with("/campaigns?status=failed"));
    panel
        .click(&format!(
            "#campaign-list .campaign-tr[data-campaign='{failed}'] a.campaign-link"
        ))
        .await;
    panel
        .wait_for_text("#campaign-error", "can't parse entities")
        .await;
    panel
        .wait_for("#campaign-audience dd[data-segment='without_receipts']")
        .await;
    panel
        .wait_for("#campaign-detail .progress[aria-valuenow='35']")
        .await;

    // The scheduled one: its content, audience and time; cancelled from its page.
    panel.goto(&format!("/campaigns?id={waiting}")).await;
    panel
        .wait_for_text("#campaign-preview .tg-msg strong", "Финал")
        .await;
    panel
        .wait_for_text("#campaign-audience", "английский")
        .await;
    panel
        .wait_for_text("#detail-scheduled", "01.06.2099, 12:00")
        .await;
    assert!(panel
        .browser
        .find(Locator::Css("#campaign-detail .campaign-resume"))
        .await
        .is_err());
    panel.click("#campaign-detail .campaign-cancel").await;
    panel
        .wait_for("#detail-status[data-status='cancelled']")
        .await;
    panel.wait_for("#campaign-detail .campaign-resume").await;
    assert_eq!(status_of(app, waiting).await, "cancelled");
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_paid_broadcast_scheduled_in_the_promotions_zone_says_what_it_costs_and_waits_for_its_time(
) {
    // Yekaterinburg is UTC+5, whatever the browser's own clock says.
    let panel =
        Panel::start(TestConfig::default().with("PROMO_TIME_ZONE", "Asia/Yekaterinburg")).await;
    let app = &panel.app;
    registered(app, 8_500_001, 5, "ru").await;
    panel.signed_in_as("manager").await;
    panel.goto("/broadcast").await;
    panel
        .wait_for("#recipient-count[data-count='5'][data-busy='false']")
        .await;
    panel.fill("#text", "<b>Финал</b> уже в пятницу").await;
    panel.click("#when-later").await;
    // A time that has passed is refused next to the field.
    panel.set_value("#scheduled-for", "2001-01-01T10:00").await;
    panel.click("#broadcast-send").await;
    panel
        .wait_for("label:has(#scheduled-for) .field-error")
        .await;
    panel.set_value("#scheduled-for", "2099-06-01T12:00").await;
    panel.click("#paid").await;
    panel.wait_for_text("#paid-warning", "0,5 ⭐").await;
    panel.click("#broadcast-send").await;
    panel
        .wait_for_text("#confirm-dialog", "01.06.2099, 12:00")
        .await;
    panel.wait_for_text("#confirm-dialog", "0,5 ⭐").await;
    panel.click("#confirm-send").await;
    let id = campaign_in_address(&panel).await;
    panel
        .wait_for_text("#detail-scheduled", "01.06.2099, 12:00")
        .await;
    panel
        .wait_for("#detail-status[data-status='scheduled']")
        .await;
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT scheduled_for = '2099-06-01T07:00:00Z'::TIMESTAMPTZ, paid_broadcast,
                    content->>'parse_mode'
             FROM campaigns WHERE id = $1",
            &[&id],
        )
        .await
        .expect("campaign");
    assert!(row.get::<_, bool>(0), "12:00 in Yekaterinburg is 07:00 UTC");
    assert!(row.get::<_, bool>(1), "paid");
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("HTML"));
    panel.assert_no_console_errors().await;
}
