//! Receipt upload: promo window and per-user limits, then a photo, an image file or the
//! QR text becomes a `receipt_submissions` row and a verification job.

use crate::t;
use crate::texts::TextKey;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;

use crate::receipts::intake::NewSubmission;
use crate::receipts::{FiscalQr, FiscalQrError};
use crate::telegram::OutgoingMessage;

use super::dialogue::DialogueState;
use super::{today, Conversation, PromoPhase};

/// Telegram's own upload limit for photos; larger files are refused before any work.
pub const MAX_FILE_BYTES: i64 = 10 * 1024 * 1024;

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png"];

/// What the shopper sent as a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload<'a> {
    source: &'static str,
    file_id: Option<&'a str>,
    file_size: Option<i64>,
    mime_type: Option<&'a str>,
    qr_raw: Option<&'a str>,
}

impl<'a> Upload<'a> {
    pub(crate) fn photo(file_id: &'a str, file_size: Option<i64>) -> Self {
        Upload {
            source: "photo",
            file_id: Some(file_id),
            file_size,
            mime_type: None,
            qr_raw: None,
        }
    }

    pub(crate) fn document(
        file_id: &'a str,
        mime_type: Option<&'a str>,
        file_size: Option<i64>,
    ) -> Self {
        Upload {
            source: "document",
            file_id: Some(file_id),
            file_size,
            mime_type,
            qr_raw: None,
        }
    }

    fn qr_text(text: &'a str) -> Self {
        Upload::typed("qr_text", text)
    }

    /// A QR text the shopper typed or pasted (`qr_text`) or built from printed fields
    /// (`manual`).
    fn typed(source: &'static str, text: &'a str) -> Self {
        Upload {
            source,
            file_id: None,
            file_size: None,
            mime_type: None,
            qr_raw: Some(text),
        }
    }
}

/// "🧾 Upload receipt": refuse early when the promo is closed or the limits are used up,
/// so the shopper does not take a photo for nothing.
pub(crate) async fn start(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    if let Some(refusal) = refusal_before_upload(conversation).await? {
        return Ok(refusal);
    }
    conversation
        .set_state(&DialogueState::AwaitingReceipt)
        .await?;
    let text = conversation.text(t!("upload_ask")).await;
    Ok(vec![
        super::manual::upload_keyboard(conversation, text).await,
    ])
}

/// The answer when no receipt can be taken now (the promotion is closed, the limits are
/// used up or cannot be read), before the shopper does any work; `None`: go ahead.
pub(crate) async fn refusal_before_upload(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    if let Some(refusal) = window_refusal(conversation).await {
        return menu_reply(conversation, refusal).await.map(Some);
    }
    let counts = match peek_limits(conversation).await {
        Ok(counts) => counts,
        Err(error) => {
            return limits_unavailable(conversation, &DialogueState::Idle, &error)
                .await
                .map(Some)
        }
    };
    if let Some(refusal) = limit_refusal(conversation, counts).await {
        return menu_reply(conversation, refusal).await.map(Some);
    }
    Ok(None)
}

/// The QR text a manual entry stands for, submitted like a typed one.
pub(crate) async fn submit_manual(
    conversation: &Conversation<'_>,
    state: &DialogueState,
    qr: &str,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    submit(conversation, state, Upload::typed("manual", qr)).await
}

pub(crate) async fn receive_file(
    conversation: &Conversation<'_>,
    state: &DialogueState,
    upload: Upload<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    if upload.source == "document" && upload.mime_type == Some("application/pdf") {
        // Rasterising a PDF needs a renderer we do not ship; say what works instead.
        return stay(conversation, state, t!("upload_pdf"), &[]).await;
    }
    if upload.source == "document" && !upload.mime_type.is_some_and(|m| IMAGE_TYPES.contains(&m)) {
        return stay(conversation, state, t!("upload_wrong_type"), &[]).await;
    }
    if upload.file_size.is_some_and(|size| size > MAX_FILE_BYTES) {
        return stay(conversation, state, t!("upload_too_big"), &[]).await;
    }
    submit(conversation, state, upload).await
}

/// A text from a registered shopper that is no menu button: a fiscal QR string is
/// queued like a photo, from the menu as much as after "🧾 Upload receipt". A broken QR
/// string gets the field at fault; any other text is a receipt only when one was asked
/// for ("not a receipt QR"), else it is simply not understood.
pub(crate) async fn receive_text(
    conversation: &Conversation<'_>,
    state: &DialogueState,
    text: &str,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    if text.trim() == conversation.text(t!("btn_manual_entry")).await {
        return super::manual::start(conversation).await;
    }
    let error = match FiscalQr::parse(text) {
        Ok(_) => return submit(conversation, state, Upload::qr_text(text.trim())).await,
        Err(error) => error,
    };
    let (key, field) = match (&error, missing_qr_key(text)) {
        // The parser only says "no fiscal QR" when fn, i or fp is absent; a text that
        // is clearly an attempt deserves the name of the missing one.
        (FiscalQrError::Empty | FiscalQrError::NotAFiscalQr, Some(missing)) => {
            (t!("upload_qr_bad_field"), missing)
        }
        _ => qr_error_text(&error),
    };
    let attempt = looks_like_qr(text);
    if *state != DialogueState::AwaitingReceipt && !attempt {
        let reply = conversation.text(t!("hint_menu")).await;
        return Ok(vec![conversation.with_main_menu(reply).await]);
    }
    stay(conversation, state, key, &[("field", field)]).await
}

/// Keys of a fiscal QR string, lower case, in the order the explanation names them.
const QR_KEYS: [&str; 6] = ["t", "s", "fn", "i", "fp", "n"];

/// The `key=value` keys of a text read as a query string (the part after `?`, if any).
fn qr_keys(text: &str) -> Vec<String> {
    let text = text.trim();
    let query = text.rsplit_once('?').map_or(text, |(_, query)| query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, _)| key.trim().to_lowercase())
        .filter(|key| QR_KEYS.contains(&key.as_str()))
        .collect()
}

/// A text that tries to be a receipt QR string: it carries `fn=` or `fp=` (found in no
/// ordinary sentence) or at least two of the QR's keys.
fn looks_like_qr(text: &str) -> bool {
    let keys = qr_keys(text);
    keys.iter().any(|key| key == "fn" || key == "fp") || keys.len() >= 2
}

/// The first QR key an attempt lacks, if the text is an attempt at all.
fn missing_qr_key(text: &str) -> Option<&'static str> {
    if !looks_like_qr(text) {
        return None;
    }
    let keys = qr_keys(text);
    QR_KEYS
        .into_iter()
        .find(|key| !keys.iter().any(|k| k == key))
}

/// Which text explains a bad QR string, and the field at fault.
fn qr_error_text(error: &FiscalQrError) -> (TextKey, &'static str) {
    match error {
        FiscalQrError::Empty | FiscalQrError::NotAFiscalQr => (t!("upload_qr_not_receipt"), ""),
        FiscalQrError::MissingField(field) | FiscalQrError::DuplicateField(field) => {
            (t!("upload_qr_bad_field"), field)
        }
        FiscalQrError::InvalidDateTime(_) => (t!("upload_qr_bad_field"), "t"),
        FiscalQrError::InvalidSum(_) | FiscalQrError::NonPositiveSum(_) => {
            (t!("upload_qr_bad_field"), "s")
        }
        FiscalQrError::InvalidFiscalDriveNumber(_) => (t!("upload_qr_bad_field"), "fn"),
        FiscalQrError::InvalidFiscalDocumentNumber(_) => (t!("upload_qr_bad_field"), "i"),
        FiscalQrError::InvalidFiscalSign(_) => (t!("upload_qr_bad_field"), "fp"),
        FiscalQrError::InvalidOperationType(_) => (t!("upload_qr_bad_field"), "n"),
    }
}

/// Window and limits are checked again here: the state may be days old, and a photo
/// sent straight from the menu skips [`start`].
async fn submit(
    conversation: &Conversation<'_>,
    state: &DialogueState,
    upload: Upload<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    if let Some(refusal) = window_refusal(conversation).await {
        conversation.leave(state).await?;
        return menu_reply(conversation, refusal).await;
    }
    let counts = match take_limit(conversation).await {
        Ok(counts) => counts,
        Err(error) => return limits_unavailable(conversation, state, &error).await,
    };
    if let Some(refusal) = limit_refusal(conversation, counts).await {
        conversation.leave(state).await?;
        return menu_reply(conversation, refusal).await;
    }
    let app = conversation.app;
    crate::receipts::intake::submit(
        &app.pool,
        app.queue.as_ref(),
        app.bot_id,
        conversation.user.id,
        &NewSubmission {
            source: upload.source,
            telegram_file_id: upload.file_id,
            file_size: upload.file_size,
            qr_raw: upload.qr_raw,
        },
    )
    .await?;
    conversation.leave(state).await?;
    let text = match quota_pause_remaining(app).await {
        Some(remaining) => paused_text(conversation, remaining).await,
        None => conversation.text(t!("upload_checking")).await,
    };
    Ok(vec![conversation.with_main_menu(text).await])
}

/// How long the ProverkaCheka quota breaker (opened by the verifier on code 3) stays
/// open; `None` when checks run. A Redis error reads as "running": the upload is queued
/// already, and failing the update now would make Telegram deliver it a second time.
pub(crate) async fn quota_pause_remaining(app: &crate::bot::Bot) -> Option<Duration> {
    match crate::receipts::quota::remaining_pause(&app.redis).await {
        Ok(pause) => pause.filter(|left| !left.is_zero()),
        Err(error) => {
            tracing::warn!(error = %error, "could not read the ProverkaCheka quota breaker");
            None
        }
    }
}

/// The Moscow wall-clock time `after` from now, `ЧЧ:ММ`.
pub(crate) fn moscow_clock_after(after: Duration) -> String {
    let at = chrono::Utc::now()
        + chrono::Duration::from_std(after).unwrap_or_else(|_| chrono::Duration::zero());
    (at + chrono::Duration::hours(3))
        .format("%H:%M")
        .to_string()
}

/// The acknowledgement while checks are paused: the receipt is kept and checked later,
/// and roughly when.
async fn paused_text(conversation: &Conversation<'_>, remaining: Duration) -> String {
    let minutes = remaining.as_secs().div_ceil(60).max(1);
    conversation
        .render(
            t!("upload_checking_paused"),
            &[
                ("time", &moscow_clock_after(remaining)),
                ("minutes", &minutes.to_string()),
            ],
        )
        .await
}

/// The limits cannot be read or counted (Redis is down): refuse rather than let
/// uploads through uncounted, record nothing, and say plainly that this passes. The
/// shopper stays where they were, so a photo sent in a minute is taken as usual.
async fn limits_unavailable(
    conversation: &Conversation<'_>,
    state: &DialogueState,
    error: &anyhow::Error,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    tracing::warn!(user_id = conversation.user.id, error = %error, "upload refused: limits unavailable");
    stay(conversation, state, t!("upload_unavailable"), &[]).await
}

/// A validation error: the shopper stays where they were (still uploading, or the menu).
async fn stay(
    conversation: &Conversation<'_>,
    state: &DialogueState,
    key: TextKey,
    args: &[(&str, &str)],
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let text = conversation.render(key, args).await;
    if *state == DialogueState::AwaitingReceipt {
        Ok(vec![
            super::manual::upload_keyboard(conversation, text).await,
        ])
    } else {
        Ok(vec![conversation.with_main_menu(text).await])
    }
}

async fn menu_reply(
    conversation: &Conversation<'_>,
    text: String,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    Ok(vec![conversation.with_main_menu(text).await])
}

pub(crate) fn format_date(date: chrono::NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

async fn window_refusal(conversation: &Conversation<'_>) -> Option<String> {
    match conversation.phase().await {
        PromoPhase::NotStarted(start) => Some(
            conversation
                .render(t!("upload_not_started"), &[("start", &format_date(start))])
                .await,
        ),
        PromoPhase::Ended(end) => Some(
            conversation
                .render(t!("upload_ended"), &[("end", &format_date(end))])
                .await,
        ),
        PromoPhase::Running { .. } => None,
    }
}

/// Uploads counted in the current hour and the current (Moscow) day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    hour: u32,
    day: u32,
    /// The upload was refused by the limits and not counted.
    over: bool,
}

fn limit_keys(conversation: &Conversation<'_>) -> (String, String) {
    upload_limit_keys(&conversation.app.redis, conversation.user.id)
}

/// The Redis counters of `user`'s uploads this hour and this (Moscow) day.
pub(crate) fn upload_limit_keys(redis: &crate::store::Redis, user: i64) -> (String, String) {
    let hour = chrono::Utc::now().timestamp().div_euclid(3600);
    (
        redis.key(&format!("rl:h:{user}:{hour}")),
        redis.key(&format!("rl:d:{user}:{}", today().format("%Y%m%d"))),
    )
}

async fn peek_limits(conversation: &Conversation<'_>) -> anyhow::Result<Counts> {
    let (hour_key, day_key) = limit_keys(conversation);
    let mut conn = conversation.app.redis.connection();
    let (hour, day): (Option<u32>, Option<u32>) = redis::cmd("MGET")
        .arg(&hour_key)
        .arg(&day_key)
        .query_async(&mut conn)
        .await
        .context("reading the upload counters")?;
    let promo = conversation.app.promo.current().await;
    let (hour, day) = (hour.unwrap_or(0), day.unwrap_or(0));
    Ok(Counts {
        hour,
        day,
        over: hour >= promo.receipt_limit_per_hour || day >= promo.receipt_limit_per_day,
    })
}

/// Checks and counts in one atomic step, so concurrent uploads cannot both slip under
/// the limit; a refused upload is not counted.
static TAKE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local hour = tonumber(redis.call('GET', KEYS[1]) or '0')
        local day = tonumber(redis.call('GET', KEYS[2]) or '0')
        if hour >= tonumber(ARGV[1]) or day >= tonumber(ARGV[2]) then
            return {hour, day, 1}
        end
        hour = redis.call('INCR', KEYS[1])
        redis.call('EXPIRE', KEYS[1], 3600)
        day = redis.call('INCR', KEYS[2])
        redis.call('EXPIRE', KEYS[2], 90000)
        return {hour, day, 0}
        ",
    )
});

async fn take_limit(conversation: &Conversation<'_>) -> anyhow::Result<Counts> {
    let (hour_key, day_key) = limit_keys(conversation);
    let promo = conversation.app.promo.current().await;
    let mut conn = conversation.app.redis.connection();
    let (hour, day, over): (u32, u32, u32) = TAKE
        .key(hour_key)
        .key(day_key)
        .arg(promo.receipt_limit_per_hour)
        .arg(promo.receipt_limit_per_day)
        .invoke_async(&mut conn)
        .await
        .context("counting the upload")?;
    Ok(Counts {
        hour,
        day,
        over: over == 1,
    })
}

async fn limit_refusal(conversation: &Conversation<'_>, counts: Counts) -> Option<String> {
    if !counts.over {
        return None;
    }
    let promo = conversation.app.promo.current().await;
    let (key, limit) = if counts.hour >= promo.receipt_limit_per_hour {
        (t!("upload_limit_hour"), promo.receipt_limit_per_hour)
    } else {
        (t!("upload_limit_day"), promo.receipt_limit_per_day)
    };
    Some(
        conversation
            .render(key, &[("limit", &limit.to_string())])
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_qr_error_names_the_field_at_fault_or_says_it_is_no_receipt() {
        let cases = [
            ("https://example.com", (t!("upload_qr_not_receipt"), "")),
            ("fn=1&i=2&fp=3&s=1&n=1", (t!("upload_qr_bad_field"), "t")),
            (
                "t=20240115T1230&s=0&fn=9999078900012345&i=1&fp=2&n=1",
                (t!("upload_qr_bad_field"), "s"),
            ),
            (
                "t=20240115T1230&s=10&fn=123&i=1&fp=2&n=1",
                (t!("upload_qr_bad_field"), "fn"),
            ),
        ];
        for (text, expected) in cases {
            let error = FiscalQr::parse(text).err();
            assert_eq!(error.as_ref().map(qr_error_text), Some(expected), "{text}");
        }
    }

    #[test]
    fn a_text_with_qr_keys_is_an_attempt_and_names_the_first_missing_key() {
        assert!(!looks_like_qr("привет"));
        assert!(!looks_like_qr("a=1&b=2"));
        assert!(!looks_like_qr("t=1"), "one common key is not enough");
        assert!(looks_like_qr("fn=9999078900012345"));
        assert!(looks_like_qr("https://check.ru/?FP=1&x=2"));
        assert!(looks_like_qr("t=20260115T1230&s=10"));
        assert_eq!(
            missing_qr_key("t=20260115T1230&s=10&fn=9999078900012345&n=1"),
            Some("i")
        );
        assert_eq!(missing_qr_key("fn=9999078900012345"), Some("t"));
        assert_eq!(missing_qr_key("привет"), None);
    }
}
