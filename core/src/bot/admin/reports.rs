//! 📊 statistics, 🏆 the latest winners and 📥 the winners CSV, sent as a document.

use crate::t;
use anyhow::Context;

use super::state::format_moscow;
use super::store::{self, WinnerRow, WinnersUse};
use super::{done, Conversation};
use crate::bot::Bot;
use crate::telegram::OutgoingMessage;

/// Draws shown in the 🏆 list; older ones are in the export.
const WINNERS_DRAWS: i64 = 5;
/// Room left under Telegram's 4096-character limit for the "see the export" line.
const MESSAGE_BUDGET: usize = 3900;

pub(super) async fn stats(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    let s = store::stats(conversation.app).await?;
    let figures = [
        ("users_total", s.users_total),
        ("users_registered", s.users_registered),
        ("users_today", s.users_today),
        ("registered_today", s.registered_today),
        ("receipts_accepted", s.receipts_accepted),
        ("receipts_pending", s.receipts_pending),
        ("receipts_rejected", s.receipts_rejected),
        ("tickets_total", s.tickets_total),
        ("uploads_total", s.uploads_total),
        ("uploads_today", s.uploads_today),
        ("uploads_waiting", s.uploads_waiting),
        ("uploads_with_receipt", s.uploads_with_receipt),
        ("uploads_refused", s.uploads_refused),
        ("refused_duplicate", s.refused_duplicate),
        ("refused_unreadable", s.refused_unreadable),
        ("refused_not_a_sale", s.refused_not_a_sale),
        ("refused_out_of_window", s.refused_out_of_window),
        ("refused_tax_service", s.refused_tax_service),
        ("refused_other", s.refused_other),
        ("uploads_failed", s.uploads_failed),
        // The name of the figure before uploads and receipts were told apart, kept so an
        // operator's edited text that still uses it goes on working.
        ("submissions_today", s.uploads_today),
    ]
    .map(|(name, value)| (name, value.to_string()));
    let args: Vec<(&str, &str)> = figures.iter().map(|(n, v)| (*n, v.as_str())).collect();
    done(conversation, t!("admin_stats"), &args).await
}

pub(super) async fn winners(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let rows = store::winners(
        conversation.app,
        conversation.user.telegram_id,
        Some(WINNERS_DRAWS),
        WinnersUse::List,
    )
    .await?;
    if rows.is_empty() {
        return done(conversation, t!("admin_winners_empty"), &[]).await;
    }
    let texts = &conversation.app.texts;
    let lang = conversation.lang;
    let mut text = conversation.text(t!("admin_winners_title")).await;
    let mut current_draw = None;
    for row in &rows {
        let mut block = String::new();
        if current_draw != Some(row.draw_id) {
            current_draw = Some(row.draw_id);
            let header = texts
                .render(
                    t!("admin_winners_draw"),
                    lang,
                    &[
                        ("draw", &row.draw_id.to_string()),
                        ("prize", &row.prize),
                        ("date", &format_moscow(row.drawn_at)),
                    ],
                )
                .await;
            block.push_str(&format!("\n\n{header}"));
        }
        let username = row
            .username
            .as_ref()
            .map(|u| format!(" (@{u})"))
            .unwrap_or_default();
        let phone = match &row.phone {
            Some(phone) => phone.clone(),
            None => conversation.text(t!("admin_winners_no_phone")).await,
        };
        let notified = match row.notified_at {
            Some(_) => conversation.text(t!("admin_winners_notified")).await,
            None => String::new(),
        };
        let line = texts
            .render(
                t!("admin_winners_line"),
                lang,
                &[
                    ("position", &row.position.to_string()),
                    ("name", &row.name),
                    ("username", &username),
                    ("phone", &phone),
                    ("tickets", &row.tickets.to_string()),
                    ("notified", &notified),
                ],
            )
            .await;
        block.push_str(&format!("\n{line}"));
        if text.chars().count() + block.chars().count() > MESSAGE_BUDGET {
            text.push_str("\n\n");
            text.push_str(&conversation.text(t!("admin_winners_truncated")).await);
            break;
        }
        text.push_str(&block);
    }
    Ok(vec![conversation.with_main_menu(text).await])
}

pub(super) async fn export(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let app = conversation.app;
    let rows = store::winners(app, conversation.user.telegram_id, None, WinnersUse::Export).await?;
    if rows.is_empty() {
        return done(conversation, t!("admin_winners_empty"), &[]).await;
    }
    let header = conversation.text(t!("admin_export_header")).await;
    let csv = winners_csv(&header, &rows);
    let caption = app
        .texts
        .render(
            t!("admin_export_caption"),
            conversation.lang,
            &[("rows", &rows.len().to_string())],
        )
        .await;
    let file_name = format!(
        "winners_{}.csv",
        chrono::Utc::now()
            .with_timezone(&super::state::moscow())
            .format("%Y-%m-%d_%H-%M")
    );
    match send_document(app, conversation.chat_id, &file_name, csv, &caption).await {
        // The document itself is the answer.
        Ok(()) => Ok(Vec::new()),
        Err(e) => {
            tracing::warn!(error = %e, "sending the winners export failed");
            done(conversation, t!("admin_export_failed"), &[]).await
        }
    }
}

/// The winners as CSV for Excel: UTF-8 with a BOM (else Excel reads Cyrillic as
/// Windows-1251), `;` between fields (the list separator of Russian-locale Excel, which
/// puts a comma-separated file into one column) and CRLF line ends.
pub fn winners_csv(header: &str, rows: &[WinnerRow]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    out.push_str(header);
    out.push_str("\r\n");
    for row in rows {
        let fields = [
            row.draw_id.to_string(),
            cell(&row.prize),
            row.position.to_string(),
            cell(&row.name),
            cell(row.username.as_deref().unwrap_or("")),
            // Our own format (full or masked); it starts with `+` but carries no user
            // input, so it needs no formula guard.
            quote(row.phone.as_deref().unwrap_or("")),
            row.tickets.to_string(),
            row.notified_at.map(format_moscow).unwrap_or_default(),
        ];
        out.push_str(&fields.join(";"));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Text typed by people (names, prizes): a leading `= + - @` would make a spreadsheet run
/// it as a formula, so such cells get an apostrophe in front.
fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        quote(&format!("'{value}"))
    } else {
        quote(value)
    }
}

fn quote(value: &str) -> String {
    if value.contains([';', '"', '\n', '\r', ',']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

async fn send_document(
    app: &Bot,
    chat_id: i64,
    file_name: &str,
    bytes: Vec<u8>,
    caption: &str,
) -> anyhow::Result<()> {
    app.telegram
        .send_document(chat_id, file_name, "text/csv", bytes, caption)
        .await
        .context("Telegram refused the document")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn row(name: &str, prize: &str) -> WinnerRow {
        WinnerRow {
            draw_id: 7,
            prize: prize.into(),
            drawn_at: DateTime::<Utc>::default(),
            position: 1,
            name: name.into(),
            username: Some("ivan".into()),
            phone: Some("+7 *** ***-45-67".into()),
            tickets: 12,
            notified_at: DateTime::parse_from_rfc3339("2026-11-24T07:00:00Z")
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    #[test]
    fn the_csv_starts_with_a_bom_and_has_one_line_per_winner() {
        let csv = winners_csv("a;b", &[row("Иван Петров", "iPhone 16")]);
        let text = String::from_utf8(csv).unwrap_or_default();
        assert_eq!(
            text,
            "\u{feff}a;b\r\n7;iPhone 16;1;Иван Петров;ivan;+7 *** ***-45-67;12;24.11.2026 10:00\r\n"
        );
    }

    #[test]
    fn separators_quotes_and_formulas_in_names_are_neutralised() {
        let csv = winners_csv("h", &[row("=HYPERLINK(\"x\")", "Приз; \"главный\"")]);
        let text = String::from_utf8(csv).unwrap_or_default();
        assert!(text.contains(";\"Приз; \"\"главный\"\"\";"), "{text}");
        assert!(text.contains(";\"'=HYPERLINK(\"\"x\"\")\";"), "{text}");
    }
}
