//! The Settings, Admins, Audit log and Failed work pages in a browser: a setting saved
//! and still there after a reload, the API's refusal of a time zone shown under that
//! field, a setting put back to its default; an owner adding a manager who then does not
//! see the Admins page; the audit log read and paged; failed work retried and discarded
//! down to the empty list.

use fantoccini::Locator;
use promo_testkit::{TestApp, TestConfig};

use crate::harness::{Panel, PASSWORD};

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

/// The `value` of the input matching `css`.
async fn value(panel: &Panel, css: &str) -> String {
    let element = panel.wait_for(css).await;
    element
        .prop("value")
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn count(panel: &Panel, css: &str) -> usize {
    panel
        .browser
        .find_all(Locator::Css(css))
        .await
        .map(|found| found.len())
        .unwrap_or(0)
}

/// The stored override of a setting, if any.
async fn stored(app: &TestApp, field: &str) -> Option<serde_json::Value> {
    app.db()
        .await
        .expect("db")
        .query_opt(
            "SELECT value FROM settings WHERE bot_id = $1 AND key = $2",
            &[&app.app.bot_id, &format!("promo.{field}")],
        )
        .await
        .expect("settings")
        .map(|row| row.get(0))
}

#[tokio::test]
async fn a_changed_support_contact_and_time_zone_stay_after_a_reload_and_an_unknown_zone_is_named_under_its_field(
) {
    let panel = Panel::start(TestConfig::default()).await;
    panel.signed_in_as("manager").await;
    panel.goto("/settings").await;
    panel.wait_for("#setting-support_telegram").await;
    assert_eq!(value(&panel, "#setting-time_zone").await, "Europe/Moscow");

    // A zone Postgres does not know passes the form's check and is refused by the API,
    // which names the field: the message sits under the time zone, and nothing is saved.
    panel.fill("#setting-support_telegram", "@help_desk").await;
    panel.fill("#setting-time_zone", "Mars/Olympus_Mons").await;
    panel.click("#settings-save").await;
    let error = panel
        .wait_for_text(
            "[data-field=\"time_zone\"] .field-error",
            "Mars/Olympus_Mons",
        )
        .await;
    assert!(error.is_displayed().await.unwrap_or(false));
    assert_eq!(
        count(&panel, "[data-field=\"support_telegram\"] .field-error").await,
        0
    );
    assert_eq!(stored(&panel.app, "support_telegram").await, None);
    panel.screenshot("settings-field-error").await;

    // The form's own check: a channel that is no @username never reaches the API.
    panel.fill("#setting-required_channel", "my channel").await;
    panel.click("#settings-save").await;
    panel
        .wait_for("[data-field=\"required_channel\"] .field-error")
        .await;
    panel.fill("#setting-required_channel", "").await;

    panel.fill("#setting-time_zone", "Asia/Vladivostok").await;
    panel.click("#settings-save").await;
    panel.wait_for_text("#settings-unsaved", "Сохранено").await;
    assert_eq!(
        stored(&panel.app, "time_zone").await,
        Some(serde_json::json!("Asia/Vladivostok"))
    );
    assert_eq!(
        stored(&panel.app, "support_telegram").await,
        Some(serde_json::json!("@help_desk"))
    );
    assert_eq!(
        stored(&panel.app, "required_channel").await,
        None,
        "only the changed fields are sent"
    );

    panel.goto("/settings").await;
    panel.wait_for("#setting-support_telegram").await;
    assert_eq!(
        value(&panel, "#setting-support_telegram").await,
        "@help_desk"
    );
    assert_eq!(
        value(&panel, "#setting-time_zone").await,
        "Asia/Vladivostok"
    );
    panel
        .wait_for("[data-field=\"time_zone\"][data-changed=\"true\"]")
        .await;
    panel
        .wait_for_text(
            "[data-field=\"time_zone\"] .setting-default",
            "Europe/Moscow",
        )
        .await;
    panel.screenshot("settings").await;

    // Back to the default: the override row goes and the input shows the default.
    panel.click("#reset-support_telegram").await;
    panel
        .wait_for("[data-field=\"support_telegram\"][data-changed=\"false\"]")
        .await;
    assert_eq!(value(&panel, "#setting-support_telegram").await, "");
    assert_eq!(stored(&panel.app, "support_telegram").await, None);
    assert_no_other_console_errors(&panel, &["/api/settings"]).await;
}

#[tokio::test]
async fn an_owner_adds_a_manager_who_then_does_not_see_the_admins_page() {
    let panel = Panel::start(TestConfig::default()).await;
    let owner = panel.signed_in_as("owner").await;
    panel.click("#nav a[href=\"/admins\"]").await;
    panel
        .wait_for_text(&format!("tr[data-admin=\"{owner}\"]"), owner.as_str())
        .await;

    // The form checks before sending, and the API's refusal lands under its field.
    panel.fill("#new-admin-login", "kate").await;
    panel.fill("#new-admin-password", "short").await;
    panel.click("#new-admin-submit").await;
    panel.wait_for_text("#new-admin .field-error", "12").await;
    panel.fill("#new-admin-password", PASSWORD).await;
    panel.fill("#new-admin-telegram", "424242").await;
    panel
        .wait_for("#new-admin-role")
        .await
        .select_by_value("manager")
        .await
        .expect("role");
    panel.click("#new-admin-submit").await;
    let row = panel
        .wait_for_text("tr[data-admin=\"kate\"]", "424242")
        .await;
    assert!(row.text().await.unwrap_or_default().contains("424242"));
    let role: String = panel
        .app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT role FROM admin_users WHERE bot_id = $1 AND login = 'kate'",
            &[&panel.app.app.bot_id],
        )
        .await
        .expect("kate")
        .get(0);
    assert_eq!(role, "manager");
    panel.fill("#new-admin-login", "kate").await;
    panel.fill("#new-admin-password", PASSWORD).await;
    panel.click("#new-admin-submit").await;
    panel
        .wait_for_text("#new-admin .field-error", "занят")
        .await;
    panel.screenshot("admins").await;
    assert_no_other_console_errors(&panel, &["/api/admins"]).await;

    panel.click("#logout").await;
    panel.wait_for("#login").await;
    panel.login("kate", PASSWORD).await;
    panel.wait_for("#nav a[href=\"/settings\"]").await;
    assert_eq!(count(&panel, "#nav a[href=\"/admins\"]").await, 0);
    panel.goto("/admins").await;
    panel.wait_for("#admins-denied").await;
    assert_eq!(count(&panel, "#admins-table").await, 0);
}

#[tokio::test]
async fn the_audit_log_reads_what_was_done_and_pages_on() {
    let panel = Panel::start(TestConfig::default()).await;
    let login = panel.signed_in_as("manager").await;
    let db = panel.app.db().await.expect("db");
    db.execute(
        "INSERT INTO audit_log (bot_id, actor, action, target, details, created_at)
         SELECT $1, 'system', 'claim.documents_purged', 'raffle:' || n, jsonb_build_object('winners', n),
                now() - make_interval(mins => 100 - n)
         FROM generate_series(1, 55) AS n",
        &[&panel.app.app.bot_id],
    )
    .await
    .expect("audit rows");
    db.execute(
        "INSERT INTO audit_log (bot_id, actor, action, target, details)
         VALUES ($1, $2, 'settings.update', 'settings:promo',
                 '{\"before\": {\"name\": \"Лето\"}, \"after\": {\"name\": \"Зима\"}}')",
        &[&panel.app.app.bot_id, &format!("panel:{login}")],
    )
    .await
    .expect("a settings change");

    panel.click("#nav a[href=\"/audit\"]").await;
    let newest = panel
        .wait_for_text(".audit-entry[data-action=\"settings.update\"]", "Зима")
        .await;
    let text = newest.text().await.unwrap_or_default();
    assert!(text.contains("Настройки изменены"), "{text}");
    assert!(text.contains("Лето"), "{text}");
    assert!(text.contains(&login), "{text}");
    assert_eq!(
        count(&panel, ".audit-entry").await,
        50,
        "a page is 50 entries"
    );
    panel.screenshot("audit").await;

    // Signing in wrote entries of its own: the next page ends the log.
    let all: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE bot_id = $1",
            &[&panel.app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0);
    panel.click("#audit-more").await;
    panel.wait_for_none("#audit-more").await;
    assert_eq!(count(&panel, ".audit-entry").await as i64, all);

    panel
        .wait_for("#audit-action")
        .await
        .select_by_value("settings.update")
        .await
        .expect("filter");
    panel
        .wait_for_none(".audit-entry[data-action=\"claim.documents_purged\"]")
        .await;
    panel
        .wait_for(".audit-entry[data-action=\"settings.update\"]")
        .await;
    assert_eq!(count(&panel, ".audit-entry").await, 1);
    panel.assert_no_console_errors().await;
}

#[tokio::test]
async fn failed_work_is_retried_and_discarded_until_the_list_is_empty() {
    let panel = Panel::start(TestConfig::default()).await;
    let db = panel.app.db().await.expect("db");
    let mut ids = Vec::new();
    for (purpose, status, reason) in [
        ("receipt_result", "failed", "Bad Request: chat not found"),
        ("winner", "dead", "handed out 20 times without finishing"),
    ] {
        let id: i64 = db
            .query_one(
                "INSERT INTO outbox (bot_id, kind, purpose, chat_id, payload, status, attempts, last_error, finished_at)
                 VALUES ($1, 'message', $2, 8001,
                         '{\"method\": \"sendMessage\", \"params\": {\"chat_id\": 8001, \"text\": \"x\"}}',
                         $3, 5, $4, now()) RETURNING id",
                &[&panel.app.app.bot_id, &purpose, &status, &reason],
            )
            .await
            .expect("given-up row")
            .get(0);
        ids.push(id);
    }
    panel.signed_in_as("manager").await;
    panel.click("#nav a[href=\"/failed\"]").await;
    panel
        .wait_for_text(&format!("tr[data-failed=\"{}\"]", ids[0]), "chat not found")
        .await;
    panel
        .wait_for_text(
            &format!("tr[data-failed=\"{}\"]", ids[1]),
            "сообщение победителю",
        )
        .await;
    panel.screenshot("failed-work").await;

    panel
        .click(&format!(
            "tr[data-failed=\"{}\"] [data-action=\"retry\"]",
            ids[0]
        ))
        .await;
    panel
        .wait_for_none(&format!("tr[data-failed=\"{}\"]", ids[0]))
        .await;
    panel
        .click(&format!(
            "tr[data-failed=\"{}\"] [data-action=\"discard\"]",
            ids[1]
        ))
        .await;
    panel.click("#discard-confirm").await;
    panel.wait_for("#failed-empty").await;
    let statuses: Vec<String> = db
        .query(
            "SELECT status FROM outbox WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_ne!(statuses[0], "failed", "retried: due again");
    assert_ne!(statuses[1], "dead", "discarded: off the list");
    panel.screenshot("failed-work-empty").await;
    panel.assert_no_console_errors().await;
}
