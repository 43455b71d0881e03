//! The raffle pages in the browser: a raffle made in the form is drawn by the workers
//! and its page shows the winners by prize, the reserves and the server's verification;
//! a winner disqualified from the page hands the prize to the reserve; the winners
//! export downloads as CSV and XLSX matching the draw; the form stops a raffle without
//! prizes before sending anything. Screenshots: raffles, raffle-new, raffle-detail,
//! winners.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use calamine::{Data, Reader, Xlsx};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Locator;
use promo_testkit::{TestApp, TestConfig};
use serde_json::{json, Value};

use crate::harness::Panel;
use crate::seed::give_tickets;

// ------------------------------------------------------------------ seeding

/// A registered shopper with a sealed phone; returns `users.id`.
async fn shopper(app: &TestApp, telegram_id: i64, name: &str, phone: &str) -> i64 {
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
                                registered_at, phone_ciphertext, phone_hash, phone_masked)
             VALUES ($1, $2, $3, $3, NULL, 'registered', now(), $4, $5, $6) RETURNING id",
            &[
                &app.app.bot_id,
                &telegram_id,
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

/// Six shoppers holding 1 to 6 tickets: more than the five picks of the raffles here.
async fn six_shoppers(app: &TestApp) {
    let names = ["Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор"];
    for (n, name) in names.iter().enumerate() {
        let id = shopper(
            app,
            70_000 + n as i64,
            name,
            &format!("+7 900 000-00-{:02}", 10 + n),
        )
        .await;
        give_tickets(app, id, n as i32 + 1).await;
    }
}

/// Signs a manager in through the API and creates a raffle drawn at once (2 × iPhone,
/// 1 × mug, one reserve each); returns its id.
async fn raffle_through_the_api(app: &TestApp) -> i64 {
    let login = format!("api-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        &login,
        crate::harness::PASSWORD,
        "manager",
        None,
        false,
    )
    .await
    .expect("panel user");
    let http = reqwest::Client::new();
    let response = http
        .post(app.url("/api/auth/login"))
        .json(&json!({"login": login, "password": crate::harness::PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let session: Value = response.json().await.expect("session");
    let created = http
        .post(app.url("/api/raffles"))
        .header(reqwest::header::COOKIE, &cookie)
        .header(
            "X-CSRF-Token",
            session["csrf_token"].as_str().unwrap_or_default(),
        )
        .json(&json!({
            "title": "Финал лета",
            "kind": "final",
            "prizes": [
                {"name": "iPhone 16", "quantity": 2, "value_rub": 90000},
                {"name": "Кружка", "quantity": 1, "value_rub": 500}
            ],
            "reserves_per_prize": 1,
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status().as_u16(), 201);
    let body: Value = created.json().await.expect("json");
    body["raffle"]["id"].as_i64().expect("raffle id")
}

/// One pick as stored: `(position, user_id, prize, reserve, claim_status)`.
type Pick = (i64, i64, String, bool, String);

async fn picks(app: &TestApp, raffle_id: i64) -> Vec<Pick> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT w.position::BIGINT, w.user_id, p.name, w.is_reserve, w.claim_status
             FROM raffle_winners w
             JOIN raffle_draws d ON d.id = w.draw_id
             JOIN raffle_prizes p ON p.id = w.prize_id
             WHERE d.campaign_id = $1 ORDER BY w.position",
            &[&raffle_id],
        )
        .await
        .expect("picks")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect()
}

/// Waits for the workers to draw raffle `raffle_id`; its picks.
async fn drawn(app: &TestApp, raffle_id: i64) -> Vec<Pick> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = app
            .db()
            .await
            .expect("db")
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE NOT w.is_reserve AND w.notified_at IS NULL)
                 FROM raffle_winners w JOIN raffle_draws d ON d.id = w.draw_id
                 WHERE d.campaign_id = $1",
                &[&raffle_id],
            )
            .await
            .expect("count");
        let (all, waiting): (i64, i64) = (row.get(0), row.get(1));
        // Drawn is enough: a winner's `notified_at` can lag behind its message (when the
        // outbox relay sent it first, the raffle job records it at its retry).
        if all > 0 {
            return picks(app, raffle_id).await;
        }
        if Instant::now() > deadline {
            let state = app
                .db()
                .await
                .expect("db")
                .query_one(
                    "SELECT status, relayed_at IS NOT NULL, error, sent, total,
                            (SELECT count(*) FROM raffle_draws d WHERE d.campaign_id = c.id)
                     FROM campaigns c WHERE id = $1",
                    &[&raffle_id],
                )
                .await
                .expect("campaign");
            panic!(
                "raffle {raffle_id} was not drawn within 30 s: status {:?}, \
                 relayed {:?}, error {:?}, sent {:?} of {:?}, draws {:?}; picks {all}, \
                 winners not notified {waiting}",
                state.get::<_, String>(0),
                state.get::<_, bool>(1),
                state.get::<_, Option<String>>(2),
                state.get::<_, i32>(3),
                state.get::<_, i32>(4),
                state.get::<_, i64>(5),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A small PNG, the kind of picture an operator uploads.
fn png(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 13) as u8, 120])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

async fn raffle_count(app: &TestApp) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM campaigns WHERE bot_id = $1 AND kind = 'raffle'",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0)
}

// ------------------------------------------------------------------ the page

/// `(data-position, data-user, data-slot, data-claim)` of every winner row matching `css`.
async fn rows(panel: &Panel, css: &str) -> Vec<(i64, i64, String, String)> {
    let mut found = Vec::new();
    for row in panel
        .browser
        .find_all(Locator::Css(css))
        .await
        .expect("rows")
    {
        let attr = |name: &'static str| {
            let row = row.clone();
            async move { row.attr(name).await.ok().flatten().unwrap_or_default() }
        };
        found.push((
            attr("data-position").await.parse().unwrap_or(-1),
            attr("data-user").await.parse().unwrap_or(-1),
            attr("data-slot").await,
            attr("data-claim").await,
        ));
    }
    found.sort();
    found
}

fn expected_rows(picks: &[Pick]) -> Vec<(i64, i64, String, String)> {
    let mut rows: Vec<_> = picks
        .iter()
        .map(|(position, user, _, reserve, claim)| {
            (
                *position,
                *user,
                if *reserve { "reserve" } else { "winner" }.to_owned(),
                claim.clone(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The raffle id at the end of the address (`/raffles/12`).
async fn raffle_in_address(panel: &Panel) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = panel.browser.current_url().await.expect("url");
        if let Some(id) = url
            .path()
            .strip_prefix("/raffles/")
            .and_then(|id| id.parse().ok())
        {
            return id;
        }
        if Instant::now() > deadline {
            panel
                .fail(&format!("the form did not lead to a raffle's page ({url})"))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fails when the page is wider than a phone: at 390 px nothing may stick out sideways
/// (wide tables scroll inside their own frame). Names the widest offenders.
async fn fits_a_phone(panel: &Panel) {
    panel
        .browser
        .set_window_size(390, 844)
        .await
        .expect("phone width");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let found = panel
        .browser
        .execute(
            "const width = document.documentElement.clientWidth;
             if (document.documentElement.scrollWidth <= width) { return []; }
             return [...document.querySelectorAll('main *')]
               .filter((e) => e.getBoundingClientRect().right > width + 1
                           && !e.closest('.table-wrap'))
               .slice(0, 8)
               .map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' +
                           Math.round(e.getBoundingClientRect().right));",
            vec![],
        )
        .await
        .expect("measure");
    panel
        .browser
        .set_window_size(crate::harness::DESKTOP.0, crate::harness::DESKTOP.1)
        .await
        .expect("desktop width");
    if found.as_array().is_some_and(|a| !a.is_empty()) {
        panel
            .fail(&format!("the page is wider than 390 px: {found}"))
            .await;
    }
}

/// Scrolls the page back to its top, for a screenshot of the page's head.
async fn scroll_to_top(panel: &Panel) {
    let _ = panel
        .browser
        .execute(
            "window.scrollTo(0, 0); document.activeElement && document.activeElement.blur();",
            vec![],
        )
        .await;
}

// ------------------------------------------------------------------ downloads

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.cmd, "params": self.params}).to_string()),
        )
    }
}

/// Lets this browser save downloads into a fresh directory, which it returns.
async fn downloads_into_temp(panel: &Panel) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promo-downloads-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("download dir");
    panel
        .browser
        .issue_cmd(Cdp {
            cmd: "Browser.setDownloadBehavior",
            params: json!({"behavior": "allow", "downloadPath": dir.display().to_string()}),
        })
        .await
        .expect("chromedriver lets downloads go to a directory");
    dir
}

/// The bytes of `dir/name` once Chrome has finished writing it.
async fn downloaded(panel: &Panel, dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let partial = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
            })
            .unwrap_or(false);
        if !partial {
            if let Ok(bytes) = std::fs::read(&path) {
                if !bytes.is_empty() {
                    return bytes;
                }
            }
        }
        if Instant::now() > deadline {
            let listed: Vec<String> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            panel
                .fail(&format!(
                    "{name} was not downloaded into {} (there: {listed:?})",
                    dir.display()
                ))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(position, user_id, prize, slot, claim_status)` of an export's line.
type Exported = (i64, i64, String, String, String);

fn expected_export(picks: &[Pick]) -> Vec<Exported> {
    picks
        .iter()
        .map(|(position, user, prize, reserve, claim)| {
            (
                *position,
                *user,
                prize.clone(),
                if *reserve { "reserve" } else { "winner" }.to_owned(),
                claim.clone(),
            )
        })
        .collect()
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn a_raffle_made_in_the_form_with_two_prizes_and_a_reserve_is_drawn_and_its_page_shows_winners_reserves_and_verified(
) {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    six_shoppers(&panel.app).await;
    panel.signed_in_as("manager").await;
    panel.goto("/raffles/new").await;
    panel.wait_for("#raffle-form").await;

    panel.fill("#raffle-title", "Летний финал").await;
    panel.fill("#prize-name-0", "iPhone 16").await;
    panel.fill("#prize-quantity-0", "2").await;
    panel.fill("#prize-value-0", "90000").await;
    // The prize's photo is uploaded as soon as it is picked.
    let photo = std::env::temp_dir().join(format!("prize-{}.png", uuid::Uuid::new_v4()));
    std::fs::write(&photo, png(64, 64)).expect("photo file");
    panel
        .wait_for("#prize-photo-0")
        .await
        .send_keys(&photo.display().to_string())
        .await
        .expect("pick the photo");
    panel
        .wait_for("fieldset[data-prize='0'] img.thumb[data-photo^='upload:']")
        .await;
    let _ = std::fs::remove_file(&photo);
    panel.click("#prize-add").await;
    panel.fill("#prize-name-1", "Кружка").await;
    panel.fill("#prize-value-1", "500").await;
    panel.fill("#raffle-reserves", "1").await;
    // The preview fills the placeholders with a sample shopper and the first prize.
    panel
        .wait_for_text("#win-preview", "Анна, поздравляем!")
        .await;
    panel.wait_for_text("#win-preview", "iPhone 16").await;
    panel.wait_for_text("#raffle-picks", "3").await;
    fits_a_phone(&panel).await;
    let _ = panel
        .browser
        .execute(
            "document.getElementById('win-message').scrollIntoView();",
            vec![],
        )
        .await;
    panel.screenshot("raffle-new-messages").await;
    scroll_to_top(&panel).await;
    panel.screenshot("raffle-new").await;
    panel.click("#raffle-submit").await;

    let id = raffle_in_address(&panel).await;
    // Drawn by the workers; the page follows the campaign and reloads when it lands.
    panel.wait_for("#draw-verified[data-verified='true']").await;
    panel.wait_for_text("#draw-verified", "Проверено").await;
    let picks = drawn(&panel.app, id).await;
    assert_eq!(
        picks.len(),
        5,
        "3 winners and one reserve per prize: {picks:?}"
    );
    panel.goto(&format!("/raffles/{id}")).await;
    panel.wait_for("#draw-verified[data-verified='true']").await;
    assert_eq!(
        rows(&panel, "#raffle-winners tr[data-winner]").await,
        expected_rows(&picks)
    );
    assert_eq!(
        rows(&panel, "#raffle-winners tr[data-slot='reserve']")
            .await
            .len(),
        2
    );
    // Grouped by prize, each group holding its own picks.
    for (prize, count) in [("iPhone 16", 3), ("Кружка", 2)] {
        let group = panel
            .wait_for_text("#raffle-winners section.prize-group h3", prize)
            .await;
        let section = group
            .find(Locator::XPath(".."))
            .await
            .expect("the group of the heading");
        let in_group = section
            .find_all(Locator::Css("tr[data-winner]"))
            .await
            .expect("rows");
        assert_eq!(in_group.len(), count, "{prize}");
    }
    let commitment: String = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT seed_commitment FROM raffles WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .expect("raffle")
        .get(0);
    assert_eq!(panel.text("#raffle-commitment").await, commitment);
    panel
        .wait_for("#raffle-prizes img.thumb[src^='/api/uploads/']")
        .await;
    fits_a_phone(&panel).await;
    panel.screenshot("raffle-detail").await;
    // Every word follows the language switch.
    panel.click("#lang-en").await;
    panel.wait_for_text("#draw-verified", "Verified").await;
    panel.wait_for_text("#raffle-winners h2", "Winners").await;
    panel.click("#lang-ru").await;
    panel.wait_for_text("#draw-verified", "Проверено").await;

    panel.goto("/raffles").await;
    let row = panel
        .wait_for(&format!("#raffle-list tr[data-raffle='{id}']"))
        .await;
    assert_eq!(
        row.attr("data-status").await.ok().flatten().as_deref(),
        Some("completed")
    );
    panel
        .wait_for_text(&format!("tr[data-raffle='{id}']"), "Летний финал")
        .await;
    fits_a_phone(&panel).await;
    panel.screenshot("raffles").await;
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn disqualifying_a_winner_on_the_raffle_page_passes_the_prize_to_the_reserve_and_shows_the_replacement(
) {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    six_shoppers(&panel.app).await;
    let id = raffle_through_the_api(&panel.app).await;
    let drawn_picks = drawn(&panel.app, id).await;
    let (first, _, prize, _, _) = drawn_picks
        .iter()
        .find(|(_, _, prize, reserve, _)| !reserve && prize == "iPhone 16")
        .cloned()
        .expect("an iPhone winner");
    let (reserve, reserve_user, _, _, _) = drawn_picks
        .iter()
        .find(|(_, _, p, reserve, _)| *reserve && *p == prize)
        .cloned()
        .expect("the iPhone's reserve");

    panel.signed_in_as("manager").await;
    panel.goto(&format!("/raffles/{id}")).await;
    panel
        .click(&format!("tr[data-position='{first}'] .act-disqualify"))
        .await;
    panel.wait_for("#disqualify-dialog").await;
    // The keyboard is in the dialog, on the reason.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let focused = panel
            .browser
            .execute(
                "return document.activeElement && document.activeElement.id;",
                vec![],
            )
            .await
            .expect("focus");
        if focused == json!("disqualify-reason") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the focus is on {focused}, not the reason"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Too short a reason is refused in the dialog itself.
    panel.fill("#disqualify-reason", "x").await;
    panel.click("#disqualify-submit").await;
    panel
        .wait_for_text("#disqualify-dialog .field-error", "3")
        .await;
    panel
        .fill(
            "#disqualify-reason",
            "Повторная регистрация с другого номера",
        )
        .await;
    panel.click("#disqualify-submit").await;
    panel
        .wait_for_text("#raffle-notice", &format!("#{reserve}"))
        .await;
    panel
        .wait_for(&format!(
            "tr[data-position='{first}'][data-claim='disqualified'] .replaced[data-replaced-by='{reserve}']"
        ))
        .await;
    panel
        .wait_for(&format!(
            "tr[data-position='{reserve}'][data-slot='reserve'][data-claim='notified']"
        ))
        .await;
    // The winners' part of the page, after the re-roll.
    let _ = panel
        .browser
        .execute(
            "document.getElementById('raffle-winners').scrollIntoView();",
            vec![],
        )
        .await;
    panel.screenshot("raffle-detail-winners").await;
    let after = picks_by_position(&picks(&panel.app, id).await);
    assert_eq!(after[&first], "disqualified");
    assert_eq!(after[&reserve], "notified");
    // The reserve is told by the bot.
    let telegram_id: i64 = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT telegram_id FROM users WHERE id = $1",
            &[&reserve_user],
        )
        .await
        .expect("user")
        .get(0);
    // A winner who confirmed their claim (in the bot) is marked handed over from the page.
    let (confirmed, _, _, _, _) = drawn_picks
        .iter()
        .find(|(p, _, _, reserve, _)| !reserve && *p != first)
        .cloned()
        .expect("another winner");
    panel
        .app
        .db()
        .await
        .expect("db")
        .execute(
            "UPDATE raffle_winners SET claim_status = 'confirmed'
             WHERE position = $1 AND draw_id = (SELECT id FROM raffle_draws WHERE campaign_id = $2)",
            &[&(confirmed as i32), &id],
        )
        .await
        .expect("confirm");
    panel.goto(&format!("/raffles/{id}")).await;
    panel
        .click(&format!("tr[data-position='{confirmed}'] .act-handed-over"))
        .await;
    panel.click("#confirm-yes").await;
    panel
        .wait_for(&format!(
            "tr[data-position='{confirmed}'][data-claim='handed_over']"
        ))
        .await;
    panel.wait_for_text("#raffle-notice", "вручён").await;

    let deadline = Instant::now() + Duration::from_secs(15);
    while !panel
        .app
        .telegram
        .sent_messages()
        .iter()
        .any(|m| m.chat_id == telegram_id)
    {
        assert!(Instant::now() < deadline, "the reserve was never told");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panel.assert_no_console_errors().await;
}

fn picks_by_position(picks: &[Pick]) -> std::collections::HashMap<i64, String> {
    picks
        .iter()
        .map(|(position, _, _, _, claim)| (*position, claim.clone()))
        .collect()
}

#[tokio::test]
async fn the_winners_page_downloads_csv_and_xlsx_exports_whose_rows_match_the_draw() {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    six_shoppers(&panel.app).await;
    let id = raffle_through_the_api(&panel.app).await;
    let picks = drawn(&panel.app, id).await;
    let expected = expected_export(&picks);

    panel.signed_in_as("manager").await;
    let dir = downloads_into_temp(&panel).await;
    panel.goto("/winners").await;
    // The newest drawn raffle is chosen by itself.
    panel
        .wait_for(&format!("#winners-card[data-raffle='{id}']"))
        .await;
    assert_eq!(
        rows(&panel, "#winners-table tr[data-position]").await,
        expected_rows(&picks)
    );
    fits_a_phone(&panel).await;
    panel.screenshot("winners").await;

    panel.click("#export-csv").await;
    let csv_bytes = downloaded(&panel, &dir, &format!("winners-raffle-{id}.csv")).await;
    let text = String::from_utf8(csv_bytes).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (position, user, prize, slot, claim, phone) = (
        col("position"),
        col("user_id"),
        col("prize"),
        col("slot"),
        col("claim_status"),
        col("phone"),
    );
    let mut from_csv = Vec::new();
    for record in reader.records() {
        let record = record.expect("record");
        let cell = |i: usize| record.get(i).unwrap_or_default().to_owned();
        // A manager's export has the full number, defused for spreadsheets.
        assert!(cell(phone).starts_with("'+7900"), "{record:?}");
        from_csv.push((
            cell(position).parse().unwrap_or(-1),
            cell(user).parse().unwrap_or(-1),
            cell(prize),
            cell(slot),
            cell(claim),
        ));
    }
    assert_eq!(from_csv, expected);

    panel.click("#export-xlsx").await;
    let xlsx_bytes = downloaded(&panel, &dir, &format!("winners-raffle-{id}.xlsx")).await;
    let mut workbook = Xlsx::new(Cursor::new(xlsx_bytes)).expect("an XLSX workbook");
    let sheet = workbook
        .worksheet_range(&format!("Raffle {id}"))
        .expect("the raffle's sheet");
    let text_of = |cell: Option<&Data>| match cell {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Float(f)) => format!("{f}"),
        Some(Data::Int(i)) => i.to_string(),
        _ => String::new(),
    };
    let number_of = |cell: Option<&Data>| match cell {
        Some(Data::Float(f)) => *f as i64,
        Some(Data::Int(i)) => *i,
        _ => -1,
    };
    let sheet_header: Vec<String> = sheet
        .rows()
        .next()
        .expect("a header row")
        .iter()
        .map(|c| text_of(Some(c)))
        .collect();
    assert_eq!(sheet_header, header);
    let from_xlsx: Vec<Exported> = sheet
        .rows()
        .skip(1)
        .map(|row| {
            (
                number_of(row.get(position)),
                number_of(row.get(user)),
                text_of(row.get(prize)),
                text_of(row.get(slot)),
                text_of(row.get(claim)),
            )
        })
        .collect();
    assert_eq!(from_xlsx, expected);
    let _ = std::fs::remove_dir_all(&dir);
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_raffle_without_prizes_or_with_a_nameless_prize_is_stopped_in_the_form_before_anything_is_sent(
) {
    let panel = Panel::start(TestConfig::default()).await;
    panel.signed_in_as("manager").await;
    panel.goto("/raffles/new").await;
    panel.fill("#raffle-title", "Без призов").await;
    panel.click("#prize-remove-0").await;
    panel.wait_for_none("fieldset.prize-row").await;
    panel.click("#raffle-submit").await;
    panel
        .wait_for_text("#prizes .field-error", "Добавьте хотя бы один приз")
        .await;

    // A prize row without its name: the error stands next to that name.
    panel.click("#prize-add").await;
    panel.click("#raffle-submit").await;
    panel
        .wait_for_text("fieldset[data-prize='0'] .field-error", "Название приза")
        .await;
    let invalid = panel
        .wait_for("#prize-name-0")
        .await
        .attr("aria-invalid")
        .await
        .ok()
        .flatten();
    assert_eq!(invalid.as_deref(), Some("true"));
    assert_eq!(raffle_count(&panel.app).await, 0, "nothing reached the API");

    // What only the API refuses (a control character in the title) is shown by its field.
    panel.fill("#prize-name-0", "Кружка").await;
    panel
        .browser
        .execute(
            "const input = document.getElementById('raffle-title');
             input.value = 'Без\\u0007призов';
             input.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await
        .expect("type the title");
    panel.click("#raffle-submit").await;
    panel
        .wait_for_text(
            "label:has(#raffle-title) .field-error",
            "control characters",
        )
        .await;
    assert_eq!(raffle_count(&panel.app).await, 0);
    let errors: Vec<_> = panel
        .console_errors()
        .await
        .into_iter()
        .filter(|e| !(e.source == "network" && e.message.contains("/api/raffles ")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

#[tokio::test]
async fn a_raffle_scheduled_in_the_form_waits_with_its_commitment_and_is_cancelled_from_its_page() {
    let panel = Panel::start(TestConfig::default().with_workers()).await;
    panel.signed_in_as("manager").await;
    panel.goto("/raffles/new").await;
    panel.fill("#raffle-title", "Промежуточный июня").await;
    panel
        .wait_for("#raffle-kind")
        .await
        .select_by_value("intermediate")
        .await
        .expect("kind");
    panel.click("#raffle-burn").await;
    panel.fill("#prize-name-0", "Сертификат").await;
    panel.fill("#prize-value-0", "3000").await;
    panel.click("#raffle-notify-losers").await;
    // Ticking "tell the others" offers a lose text, previewed with its noun forms.
    panel.wait_for_text("#lose-preview", "3 билета").await;
    panel.click("#raffle-when-later").await;
    // A typed time is read in the promotion's zone (Moscow): 12:00 there is 09:00 UTC.
    panel.wait_for("#raffle-scheduled-for").await;
    panel
        .browser
        .execute(
            "const input = document.getElementById('raffle-scheduled-for');
             input.value = '2031-06-01T12:00';
             input.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await
        .expect("type the time");
    panel.click("#raffle-submit").await;
    let id = raffle_in_address(&panel).await;
    panel
        .wait_for("#raffle-detail [data-status='scheduled']")
        .await;
    let row = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT c.scheduled_for, r.seed_commitment, r.burn_tickets, r.notify_losers, r.kind
             FROM campaigns c JOIN raffles r ON r.campaign_id = c.id WHERE c.id = $1",
            &[&id],
        )
        .await
        .expect("raffle");
    let at: chrono::DateTime<chrono::Utc> = row.get(0);
    assert_eq!(at.to_rfc3339(), "2031-06-01T09:00:00+00:00");
    assert_eq!(
        panel.text("#raffle-commitment").await,
        row.get::<_, String>(1)
    );
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));
    assert_eq!(row.get::<_, String>(4), "intermediate");
    panel.wait_for("#draw-pending").await;
    panel.wait_for_text("#raffle-progress", "01.06.2031").await;

    panel.click("#raffle-cancel").await;
    panel.click("#confirm-yes").await;
    panel
        .wait_for("#raffle-detail [data-status='cancelled']")
        .await;
    panel.wait_for_none("#raffle-cancel").await;
    let status: String = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one("SELECT status FROM campaigns WHERE id = $1", &[&id])
        .await
        .expect("status")
        .get(0);
    assert_eq!(status, "cancelled");
    panel.assert_no_console_errors().await;
}
