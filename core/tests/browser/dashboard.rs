//! Sign-in, the shell and the dashboard in the browser: the seeded figures on the cards,
//! the chart, the way back after a login, plain errors and the lockout, the language.

use std::time::Duration;

use promo_testkit::{TestApp, TestConfig};

use crate::harness::{Panel, PASSWORD};

/// Two old shoppers and one from today; receipts in each status; tickets; a campaign
/// (the same rows as the API test of the dashboard, core/tests/it/panel_dashboard.rs).
async fn seed(app: &TestApp) {
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    client
        .batch_execute(&format!(
            "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at, created_at) VALUES
                 ({bot}, 1, 'Old', 'registered', now() - interval '10 days', now() - interval '10 days'),
                 ({bot}, 2, 'Week', 'registered', now() - interval '3 days', now() - interval '3 days'),
                 ({bot}, 3, 'Today', 'new', NULL, now() - interval '1 hour');
             INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                     fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status, created_at)
             SELECT {bot}, u.id, '9999078900001234', n, n, 1, now(), 10000, 'qr', 2, s, c
             FROM (VALUES (1, 'accepted', now() - interval '10 days'),
                          (2, 'accepted', now() - interval '2 hours'),
                          (3, 'pending', now() - interval '2 days'),
                          (4, 'rejected', now() - interval '1 hour')) AS v(n, s, c),
                  users u WHERE u.bot_id = {bot} AND u.telegram_id = 1;
             INSERT INTO tickets (bot_id, user_id, amount, source, created_at)
             SELECT {bot}, id, 5, 'manual', now() - interval '10 days' FROM users WHERE bot_id = {bot} AND telegram_id = 1;
             INSERT INTO tickets (bot_id, user_id, amount, source, created_at)
             SELECT {bot}, id, 3, 'manual', now() - interval '30 minutes' FROM users WHERE bot_id = {bot} AND telegram_id = 2;
             INSERT INTO campaigns (bot_id, kind, status, total, sent, unknown)
             VALUES ({bot}, 'broadcast', 'completed', 3, 2, 1);"
        ))
        .await
        .expect("seed");
}

/// The big number of a stat card, digits only.
async fn figure(panel: &Panel, card: &str) -> String {
    let text = panel.text(&format!("#{card} .stat-value")).await;
    text.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test]
async fn the_dashboard_shows_the_seeded_figures_their_growth_the_chart_and_recent_campaigns() {
    let panel = Panel::start(TestConfig::default()).await;
    seed(&panel.app).await;
    panel.signed_in_as("viewer").await;
    panel.wait_for("#dashboard .stats").await;

    assert_eq!(figure(&panel, "stat-users").await, "3");
    assert_eq!(figure(&panel, "stat-registered").await, "2");
    assert_eq!(figure(&panel, "stat-receipts").await, "2");
    assert_eq!(figure(&panel, "stat-pending").await, "1");
    assert_eq!(figure(&panel, "stat-rejected").await, "1");
    assert_eq!(figure(&panel, "stat-tickets").await, "8");
    assert_eq!(figure(&panel, "stat-participants").await, "2");
    let users = panel.text("#stat-users .stat-deltas").await;
    assert!(users.contains("+1") && users.contains("+2"), "{users}");
    let tickets = panel.text("#stat-tickets .stat-deltas").await;
    assert!(tickets.contains("+3"), "{tickets}");

    // One line per series, one point per day of the 14, and the legend's sums.
    let lines = panel
        .browser
        .find_all(fantoccini::Locator::Css("#daily-chart polyline"))
        .await
        .expect("lines");
    assert_eq!(lines.len(), 3);
    let dots = panel
        .browser
        .find_all(fantoccini::Locator::Css("#daily-chart circle.users"))
        .await
        .expect("dots");
    assert_eq!(dots.len(), 14);
    let legend = panel.text("#daily-chart .legend").await;
    let legend = legend.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        legend.contains("Участники 3") && legend.contains("Билеты 8"),
        "{legend}"
    );

    let recent = panel.text("#recent-campaigns").await;
    assert!(
        recent.contains("рассылка") && recent.contains("завершена"),
        "{recent}"
    );
    // 2 sent + 1 unknown of 3: the bar is full.
    panel
        .wait_for("#recent-campaigns .progress[aria-valuenow='100']")
        .await;
    // Viewers see no button that starts anything.
    assert!(panel
        .browser
        .find(fantoccini::Locator::Css("a[href='/broadcast']"))
        .await
        .is_err());

    panel.screenshot("dashboard").await;
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_the_login_and_brought_back_to_the_page_asked_for() {
    let panel = Panel::start(TestConfig::default()).await;
    promo_core::admin::create_admin_user(
        &panel.app.app.pool,
        panel.app.app.bot_id,
        "anna",
        PASSWORD,
        "manager",
        None,
        false,
    )
    .await
    .expect("panel user");
    panel.goto("/users").await;
    panel.wait_for("#login").await;
    let url = panel.browser.current_url().await.expect("url");
    assert_eq!(url.path(), "/login");
    assert_eq!(url.query(), Some("next=%2Fusers"));
    panel.login("anna", PASSWORD).await;
    panel.wait_for("#who").await;
    let url = panel.browser.current_url().await.expect("url");
    assert_eq!(url.path(), "/users");
    assert!(panel.text("#who").await.contains("anna"));

    // A link elsewhere is not a way back.
    panel.click("#logout").await;
    panel.wait_for("#login").await;
    panel.goto("/login?next=//evil.example/").await;
    panel.login("anna", PASSWORD).await;
    panel.wait_for("#dashboard").await;
    let url = panel.browser.current_url().await.expect("url");
    assert_eq!((url.host_str(), url.path()), (Some("127.0.0.1"), "/"));
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn a_wrong_password_is_said_plainly_and_after_five_the_login_is_locked() {
    let panel = Panel::start(TestConfig::default()).await;
    promo_core::admin::create_admin_user(
        &panel.app.app.pool,
        panel.app.app.bot_id,
        "boris",
        PASSWORD,
        "owner",
        None,
        false,
    )
    .await
    .expect("panel user");
    panel.goto("/login").await;
    // Empty fields are refused before anything is sent.
    panel.click("#login-submit").await;
    panel.wait_for_text("#login-error", "Введите логин").await;

    for _ in 0..5 {
        panel.fill("#login", "boris").await;
        panel.fill("#password", "not the password").await;
        panel.click("#login-submit").await;
        panel
            .wait_for("#login-error[data-code='invalid_credentials']")
            .await;
        panel
            .wait_for_text("#login-error", "Неверный логин или пароль")
            .await;
    }
    // The right password no longer helps: the lockout is told, with its duration.
    panel.fill("#login", "boris").await;
    panel.fill("#password", PASSWORD).await;
    panel.click("#login-submit").await;
    let locked = panel.wait_for("#login-error[data-code='locked']").await;
    let text = locked.text().await.expect("text");
    assert!(
        text.contains("временно заблокирован") && text.contains("min"),
        "{text}"
    );
    assert!(panel
        .browser
        .find(fantoccini::Locator::Css("#who"))
        .await
        .is_err());
    panel.screenshot("login-locked").await;
}

#[tokio::test]
async fn the_language_switch_turns_the_panel_english_and_the_choice_survives_a_reload() {
    let panel = Panel::start(TestConfig::default()).await;
    panel.signed_in_as("owner").await;
    panel.wait_for_text("#main h1", "Обзор").await;
    panel.click("#lang-en").await;
    panel.wait_for_text("#main h1", "Dashboard").await;
    panel.wait_for_text("#nav", "Users").await;
    panel.goto("/").await;
    panel.wait_for_text("#main h1", "Dashboard").await;
    let lang = panel
        .browser
        .execute("return document.documentElement.lang", vec![])
        .await
        .expect("js");
    assert_eq!(lang, "en");
    panel.click("#lang-ru").await;
    panel.wait_for_text("#main h1", "Обзор").await;
    panel.assert_no_console_errors().await;
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
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
            Some(serde_json::json!({"cmd": self.0, "params": {}}).to_string()),
        )
    }
}

/// `cargo test -p promo-core --test browser -- --ignored --nocapture paint`: a cold
/// load of the dashboard (the browser's cache emptied, signed in by cookie) until its
/// figures are on screen, five times; prints each and the median (BENCHMARKS.md,
/// "Panel"). A benchmark, not a check: it asserts nothing about the time.
#[tokio::test]
#[ignore = "a benchmark: run it on purpose"]
async fn paint_benchmark_cold_dashboard_load() {
    let panel = Panel::start(TestConfig::default()).await;
    seed(&panel.app).await;
    panel.signed_in_as("viewer").await;
    panel.wait_for("#dashboard .stats").await;
    let mut times = Vec::new();
    for _ in 0..5 {
        panel.goto("/health").await;
        panel
            .browser
            .issue_cmd(Cdp("Network.clearBrowserCache"))
            .await
            .expect("cache cleared");
        panel.goto("/").await;
        panel.wait_for("#dashboard .stats").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let measured = panel
            .browser
            .execute(
                "const m = performance.getEntriesByName('dashboard-painted')[0];
                 const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                 const nav = performance.getEntriesByType('navigation')[0];
                 return [m ? m.startTime : -1, fcp ? fcp.startTime : -1,
                         nav ? nav.domContentLoadedEventEnd : -1, nav ? nav.transferSize : -1];",
                vec![],
            )
            .await
            .expect("timings");
        println!("cold dashboard load: figures on screen, first paint, DOMContentLoaded (ms), index bytes = {measured}");
        times.push(measured[0].as_f64().unwrap_or(-1.0));
    }
    times.sort_by(f64::total_cmp);
    println!(
        "median time to the dashboard's figures: {:.0} ms over {} cold loads",
        times[times.len() / 2],
        times.len()
    );
}
