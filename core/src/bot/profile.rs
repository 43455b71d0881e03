//! What a shopper can look up about themselves: profile, `/status`, and "my receipts"
//! with inline pagination.

use crate::t;
use crate::texts::TextKey;
use chrono::{DateTime, Utc};

use crate::receipts::{FiscalQr, Kopecks};
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, SendMessage};

use super::{upload, Conversation};

/// Receipts per page of "my receipts".
pub const PAGE_SIZE: i64 = 10;

pub(crate) async fn show(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    let user = conversation.user;
    let stats = conversation.app.users.stats(user.id).await?;
    let phone = match &user.phone_masked {
        Some(masked) => masked.clone(),
        None => conversation.text(t!("phone_unknown")).await,
    };
    let days_left = conversation.promo_period_text().await;
    let text = conversation
        .render(
            t!("profile"),
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
    // The latest upload is the shopper's n-th: n = how many they have made.
    let latest_query = client
        .prepare_cached(
            "SELECT s.status, s.created_at, s.outcome, s.next_attempt_at,
                    (SELECT count(*) FROM receipt_submissions c
                      WHERE c.bot_id = s.bot_id AND c.user_id = s.user_id AND c.id <= s.id)
             FROM receipt_submissions s
             WHERE s.bot_id = $1 AND s.user_id = $2
             ORDER BY s.id DESC LIMIT 1",
        )
        .await?;
    let latest = client
        .query_opt(&latest_query, &[&app.bot_id, &conversation.user.id])
        .await?;
    drop(client);
    let last = match latest {
        Some(row) => {
            let upload = UploadState {
                status: row.get(0),
                outcome: row.get(2),
                next_attempt_at: row.get(3),
            };
            let pause = quota_pause(conversation, &[&upload]).await;
            let status = status_with_reason(conversation, &upload, &pause).await;
            conversation
                .render(
                    t!("status_last"),
                    &[
                        ("n", &row.get::<_, i64>(4).to_string()),
                        ("date", &moscow_time(row.get(1))),
                        ("status", &status),
                    ],
                )
                .await
        }
        None => conversation.text(t!("status_no_receipts")).await,
    };
    let tickets = conversation.user.tickets;
    let days_left = conversation.promo_period_text().await;
    let text = conversation
        .render(
            t!("status"),
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
        None => (conversation.text(t!("receipts_empty")).await, None),
    };
    let mut message = SendMessage::new(conversation.chat_id, text);
    if let Some(keyboard) = keyboard {
        message = message.markup(keyboard);
    }
    Ok(vec![OutgoingMessage::Send(message)])
}

/// Page `page` (1-based) of the shopper's uploads, newest first; `None` when there is no
/// such page (no uploads at all, or a page number past the end). Each upload carries the
/// shopper's own number (their first upload is 1), the same one `/status` uses.
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
    // Numbered by id, which only grows: a number never changes once shown. The product
    // shown is the first line the verifier marked `"promo": true`, else the first line.
    let page_query = client
        .prepare_cached(
            "SELECT s.n, s.status, s.created_at, s.qr_raw, r.total_kopecks, r.tickets,
                    COALESCE(
                        (SELECT i->>'name' FROM jsonb_array_elements(
                             CASE WHEN jsonb_typeof(r.items) = 'array' THEN r.items ELSE '[]' END) i
                         WHERE i->'promo' = 'true'::JSONB
                         LIMIT 1),
                        r.items->0->>'name'),
                    s.outcome, s.next_attempt_at
             FROM (SELECT *, row_number() OVER (ORDER BY id) AS n
                   FROM receipt_submissions WHERE bot_id = $1 AND user_id = $2) s
             LEFT JOIN receipts r ON r.id = s.receipt_id
             ORDER BY s.n DESC
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
            t!("receipts_header"),
            &[
                ("page", &page.to_string()),
                ("pages", &pages.to_string()),
                ("total", &total.to_string()),
            ],
        )
        .await;
    let uploads: Vec<UploadState> = rows
        .iter()
        .map(|row| UploadState {
            status: row.get(1),
            outcome: row.get(7),
            next_attempt_at: row.get(8),
        })
        .collect();
    let pause = quota_pause(conversation, &uploads.iter().collect::<Vec<_>>()).await;
    for (row, upload) in rows.iter().zip(&uploads) {
        let status = status_with_reason(conversation, upload, &pause).await;
        let line = conversation
            .render(
                t!("receipt_line"),
                &[
                    ("n", &row.get::<_, i64>(0).to_string()),
                    ("date", &moscow_time(row.get(2))),
                    ("status", &status),
                ],
            )
            .await;
        // Only what is known: an upload refused before the tax service answered has no
        // sum, tickets or products, and a row of dashes would tell the shopper nothing.
        let mut details = Vec::new();
        // Before verification the sum is known only from a typed QR text.
        let sum = row.get::<_, Option<i64>>(4).map(Kopecks::new).or_else(|| {
            row.get::<_, Option<&str>>(3)
                .and_then(|raw| FiscalQr::parse(raw).ok())
                .map(|qr| qr.sum())
        });
        if let Some(sum) = sum {
            details.push(
                conversation
                    .render(t!("receipt_line_sum"), &[("sum", &sum.to_string())])
                    .await,
            );
        }
        if let Some(tickets) = row.get::<_, Option<i32>>(5) {
            details.push(
                conversation
                    .render(
                        t!("receipt_line_tickets"),
                        &[("tickets", &tickets.to_string())],
                    )
                    .await,
            );
        }
        if let Some(product) = row.get::<_, Option<String>>(6) {
            details.push(product);
        }
        text.push_str("\n\n");
        text.push_str(&line);
        if !details.is_empty() {
            text.push('\n');
            text.push_str(&details.join(" · "));
        }
    }

    let mut buttons = Vec::new();
    if page > 1 {
        buttons.push(InlineKeyboardButton::callback(
            conversation.text(t!("btn_prev")).await,
            format!("rc:p:{}", page - 1),
        ));
    }
    if page < pages {
        buttons.push(InlineKeyboardButton::callback(
            conversation.text(t!("btn_next")).await,
            format!("rc:p:{}", page + 1),
        ));
    }
    let keyboard = (!buttons.is_empty()).then(|| InlineKeyboardMarkup::from(vec![buttons]));
    Ok(Some((text, keyboard)))
}

/// What the shopper's texts need of one `receipt_submissions` row.
struct UploadState {
    status: String,
    outcome: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
}

impl UploadState {
    /// Put off by the verifier because the quota breaker was open.
    fn quota_paused(&self) -> bool {
        self.status == "retry_scheduled" && self.outcome.as_deref() == Some("quota_paused")
    }

    /// Not checked yet: while the breaker is open its check waits as well.
    fn queued(&self) -> bool {
        self.status == "queued"
    }
}

/// The quota pause as far as the uploads on screen are concerned.
#[derive(Debug, Default)]
struct QuotaPause {
    /// The breaker is open now.
    open: bool,
    /// When checks resume (Moscow `ЧЧ:ММ`): the later of the breaker's expiry and the
    /// re-checks the verifier scheduled for the paused uploads.
    until: Option<String>,
}

/// Reads the breaker once per message, and only when an upload on screen may wait for it.
async fn quota_pause(conversation: &Conversation<'_>, uploads: &[&UploadState]) -> QuotaPause {
    if !uploads.iter().any(|u| u.quota_paused() || u.queued()) {
        return QuotaPause::default();
    }
    let now = Utc::now();
    let breaker = upload::quota_pause_remaining(conversation.app).await;
    let scheduled = uploads
        .iter()
        .filter(|u| u.quota_paused())
        .filter_map(|u| u.next_attempt_at)
        .filter(|at| *at > now)
        .max()
        .and_then(|at| (at - now).to_std().ok());
    QuotaPause {
        open: breaker.is_some(),
        until: breaker.max(scheduled).map(upload::moscow_clock_after),
    }
}

/// The status label, with the reason in plain words when the outcome has one.
async fn status_with_reason(
    conversation: &Conversation<'_>,
    upload: &UploadState,
    pause: &QuotaPause,
) -> String {
    let status = status_text(conversation, &upload.status).await;
    let waits = upload.quota_paused() || (upload.queued() && pause.open);
    let reason = match (waits, pause.until.as_deref()) {
        (true, Some(time)) => Some(
            conversation
                .render(t!("reason_quota_paused_until"), &[("time", time)])
                .await,
        ),
        _ => match upload.outcome.as_deref().and_then(reason_key) {
            Some(key) => Some(conversation.text(key).await),
            None => None,
        },
    };
    match reason {
        Some(reason) => {
            conversation
                .render(
                    t!("status_with_reason"),
                    &[("status", &status), ("reason", &reason)],
                )
                .await
        }
        None => status,
    }
}

/// The shopper text for a verifier outcome (`receipt_submissions.outcome`, the list is
/// in receipts/verify.rs). `None` where the status label says it all (accepted, held for
/// review) or for an outcome this list does not know yet.
fn reason_key(outcome: &str) -> Option<TextKey> {
    Some(match outcome {
        "duplicate" => t!("reason_duplicate"),
        "not_a_sale" => t!("reason_not_a_sale"),
        "out_of_window" => t!("reason_out_of_window"),
        "no_promo_items" => t!("reason_no_promo_items"),
        "not_fiscal_qr" => t!("reason_not_fiscal_qr"),
        "invalid_qr" => t!("reason_invalid_qr"),
        "bad_image" => t!("reason_bad_image"),
        "too_big" => t!("reason_too_big"),
        "file_unavailable" => t!("reason_file_unavailable"),
        "fns_invalid" => t!("reason_fns_invalid"),
        "fns_failed" => t!("reason_fns_failed"),
        "mismatch" | "invalid_receipt" => t!("reason_mismatch"),
        "fns_pending" => t!("reason_fns_pending"),
        "quota_paused" => t!("reason_quota_paused"),
        "provider_too_soon" | "provider_error" => t!("reason_provider_retry"),
        "fns_not_received" => t!("reason_fns_not_received"),
        "provider_unavailable" | "verifier_unavailable" | "gave_up" | "no_input" => {
            t!("reason_check_unavailable")
        }
        "duplicate_in_progress" => t!("reason_being_checked"),
        _ => return None,
    })
}

async fn status_text(conversation: &Conversation<'_>, status: &str) -> String {
    // One label per `receipt_submissions.status` (the column's CHECK lists them all), so
    // a shopper whose receipt waits for a re-check is not told it is simply queued.
    let key = match status {
        "queued" => t!("status_queued"),
        "processing" => t!("status_processing"),
        "retry_scheduled" => t!("status_retry_scheduled"),
        "accepted" => t!("status_accepted"),
        "pending_moderation" => t!("status_pending_moderation"),
        "rejected" => t!("status_rejected"),
        "failed" => t!("status_failed"),
        // Only reachable if a status is added to the schema before it gets a label here;
        // "being checked" is the safe thing to tell the shopper meanwhile.
        other => {
            tracing::warn!(status = other, "receipt status without a label");
            t!("status_queued")
        }
    };
    conversation.text(key).await
}

fn moscow_time(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::hours(3))
        .format("%d.%m.%Y %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_or_failure_outcome_of_the_verifier_has_a_shopper_reason() {
        // The list in receipts/verify.rs's header, except the two whose status label
        // already says everything.
        let outcomes = [
            "duplicate",
            "not_a_sale",
            "out_of_window",
            "no_promo_items",
            "not_fiscal_qr",
            "invalid_qr",
            "bad_image",
            "too_big",
            "file_unavailable",
            "fns_invalid",
            "fns_failed",
            "mismatch",
            "invalid_receipt",
            "duplicate_in_progress",
            "fns_pending",
            "quota_paused",
            "provider_too_soon",
            "provider_error",
            "fns_not_received",
            "provider_unavailable",
            "verifier_unavailable",
            "gave_up",
            "no_input",
        ];
        for outcome in outcomes {
            assert!(
                reason_key(outcome).is_some(),
                "{outcome} has no reason text"
            );
        }
        assert_eq!(reason_key("accepted"), None);
        assert_eq!(reason_key("held_for_review"), None);
    }
}
