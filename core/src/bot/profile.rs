//! What a shopper can look up about themselves: profile, `/status`, and "my receipts"
//! with inline pagination.

use chrono::{DateTime, Utc};

use crate::receipts::{FiscalQr, Kopecks};
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, SendMessage};

use super::Conversation;

/// Receipts per page of "my receipts".
pub const PAGE_SIZE: i64 = 10;

pub(crate) async fn show(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    let user = conversation.user;
    let stats = conversation.app.users.stats(user.id).await?;
    let phone = match &user.phone_masked {
        Some(masked) => masked.clone(),
        None => conversation.text("phone_unknown").await,
    };
    let days_left = conversation.days_left_text().await;
    let text = conversation
        .render(
            "profile",
            &[
                ("name", user.display_name()),
                ("phone", &phone),
                ("uploads", &stats.uploads.to_string()),
                ("accepted", &stats.accepted_receipts.to_string()),
                ("tickets", &stats.tickets.to_string()),
                ("wins", &stats.wins.to_string()),
                ("days_left", &days_left),
            ],
        )
        .await;
    Ok(vec![conversation.with_main_menu(text).await])
}

/// `/status`: where the latest upload stands, and the ticket count.
pub(crate) async fn status(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let app = conversation.app;
    let client = app.pool.get().await?;
    let latest_query = client
        .prepare_cached(
            "SELECT s.id, s.status, s.created_at FROM receipt_submissions s
             WHERE s.bot_id = $1 AND s.user_id = $2
             ORDER BY s.created_at DESC, s.id DESC LIMIT 1",
        )
        .await?;
    let latest = client
        .query_opt(&latest_query, &[&app.bot_id, &conversation.user.id])
        .await?;
    drop(client);
    let last = match latest {
        Some(row) => {
            let status = status_text(conversation, row.get(1)).await;
            conversation
                .render(
                    "status_last",
                    &[
                        ("id", &row.get::<_, i64>(0).to_string()),
                        ("date", &moscow_time(row.get(2))),
                        ("status", &status),
                    ],
                )
                .await
        }
        None => conversation.text("status_no_receipts").await,
    };
    let tickets = conversation.user.tickets;
    let days_left = conversation.days_left_text().await;
    let text = conversation
        .render(
            "status",
            &[
                ("last", &last),
                ("tickets", &tickets.to_string()),
                ("days_left", &days_left),
            ],
        )
        .await;
    Ok(vec![conversation.with_main_menu(text).await])
}

/// "📋 My receipts": the first page as a new message.
pub(crate) async fn receipts(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let (text, keyboard) = match receipts_page(conversation, 1).await? {
        Some(page) => page,
        None => (conversation.text("receipts_empty").await, None),
    };
    let mut message = SendMessage::new(conversation.chat_id, text);
    if let Some(keyboard) = keyboard {
        message = message.markup(keyboard);
    }
    Ok(vec![OutgoingMessage::Send(message)])
}

/// Page `page` (1-based) of the shopper's uploads, newest first; `None` when there is no
/// such page (no uploads at all, or a page number past the end).
pub(crate) async fn receipts_page(
    conversation: &Conversation<'_>,
    page: i64,
) -> anyhow::Result<Option<(String, Option<InlineKeyboardMarkup>)>> {
    let app = conversation.app;
    let client = app.pool.get().await?;
    let count = client
        .prepare_cached(
            "SELECT count(*) FROM receipt_submissions WHERE bot_id = $1 AND user_id = $2",
        )
        .await?;
    let total: i64 = client
        .query_one(&count, &[&app.bot_id, &conversation.user.id])
        .await?
        .get(0);
    let pages = (total + PAGE_SIZE - 1) / PAGE_SIZE;
    if page < 1 || page > pages {
        return Ok(None);
    }
    // The product shown is the first line the verifier marked `"promo": true`, else the
    // first line of the receipt.
    let page_query = client
        .prepare_cached(
            "SELECT s.id, s.status, s.created_at, s.qr_raw, r.total_kopecks, r.tickets,
                    COALESCE(
                        (SELECT i->>'name' FROM jsonb_array_elements(
                             CASE WHEN jsonb_typeof(r.items) = 'array' THEN r.items ELSE '[]' END) i
                         WHERE i->'promo' = 'true'::JSONB
                         LIMIT 1),
                        r.items->0->>'name')
             FROM receipt_submissions s LEFT JOIN receipts r ON r.id = s.receipt_id
             WHERE s.bot_id = $1 AND s.user_id = $2
             ORDER BY s.created_at DESC, s.id DESC
             LIMIT $3 OFFSET $4",
        )
        .await?;
    let rows = client
        .query(
            &page_query,
            &[
                &app.bot_id,
                &conversation.user.id,
                &PAGE_SIZE,
                &((page - 1) * PAGE_SIZE),
            ],
        )
        .await?;
    drop(client);

    let mut text = conversation
        .render(
            "receipts_header",
            &[
                ("page", &page.to_string()),
                ("pages", &pages.to_string()),
                ("total", &total.to_string()),
            ],
        )
        .await;
    let dash = "—";
    for (index, row) in rows.iter().enumerate() {
        let number = (page - 1) * PAGE_SIZE + index as i64 + 1;
        let status = status_text(conversation, row.get(1)).await;
        // Before verification the sum is known only from a typed QR text.
        let sum = row
            .get::<_, Option<i64>>(4)
            .map(Kopecks::new)
            .or_else(|| {
                row.get::<_, Option<&str>>(3)
                    .and_then(|raw| FiscalQr::parse(raw).ok())
                    .map(|qr| qr.sum())
            })
            .map_or_else(|| dash.to_owned(), |sum| sum.to_string());
        let tickets = row
            .get::<_, Option<i32>>(5)
            .map_or_else(|| dash.to_owned(), |t| t.to_string());
        let product = row.get::<_, Option<String>>(6);
        let line = conversation
            .render(
                "receipt_line",
                &[
                    ("n", &number.to_string()),
                    ("date", &moscow_time(row.get(2))),
                    ("status", &status),
                    ("sum", &sum),
                    ("tickets", &tickets),
                    ("product", product.as_deref().unwrap_or(dash)),
                ],
            )
            .await;
        text.push_str("\n\n");
        text.push_str(&line);
    }

    let mut buttons = Vec::new();
    if page > 1 {
        buttons.push(InlineKeyboardButton::callback(
            conversation.text("btn_prev").await,
            format!("rc:p:{}", page - 1),
        ));
    }
    if page < pages {
        buttons.push(InlineKeyboardButton::callback(
            conversation.text("btn_next").await,
            format!("rc:p:{}", page + 1),
        ));
    }
    let keyboard = (!buttons.is_empty()).then(|| InlineKeyboardMarkup::from(vec![buttons]));
    Ok(Some((text, keyboard)))
}

async fn status_text(conversation: &Conversation<'_>, status: &str) -> String {
    // One label per `receipt_submissions.status` (the column's CHECK lists them all), so
    // a shopper whose receipt waits for a re-check is not told it is simply queued.
    let key = match status {
        "queued" => "status_queued",
        "processing" => "status_processing",
        "retry_scheduled" => "status_retry_scheduled",
        "accepted" => "status_accepted",
        "pending_moderation" => "status_pending_moderation",
        "rejected" => "status_rejected",
        "failed" => "status_failed",
        // Only reachable if a status is added to the schema before it gets a label here;
        // "being checked" is the safe thing to tell the shopper meanwhile.
        other => {
            tracing::warn!(status = other, "receipt status without a label");
            "status_queued"
        }
    };
    conversation.text(key).await
}

fn moscow_time(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::hours(3))
        .format("%d.%m.%Y %H:%M")
        .to_string()
}
