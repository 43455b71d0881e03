//! `verify_receipt`: one verification job, from the shopper's upload to tickets and a reply.
//!
//! The order of the steps is about money: everything that can reject a receipt locally
//! (unreadable picture, duplicate, refund, outside the promotion) runs before the paid
//! ProverkaCheka call.
//!
//! Delayed re-checks: "not in the tax service yet" is re-checked after 15 min, 1 h and
//! 3 h. The re-check is an outbox row ([`crate::outbox`]) written with the submission's
//! `next_attempt_at` in one transaction and due at that same instant, so a wait of hours
//! is one row, and a restart loses nothing. The job carries the counters of the chain
//! and the submission's `attempts` at scheduling time: a duplicate or stale copy finds a
//! different `attempts` and drops out, so at-least-once delivery cannot fork the chain.
//! The shopper's reply is an outbox message written with the verdict, sent right after
//! the commit (the relay sends it if that fails).
//!
//! `receipt_submissions.outcome` values, for the panel:
//! - `accepted`; `held_for_review` (status `pending_moderation`, fraud signal);
//! - `rejected`: `duplicate`, `not_a_sale`, `out_of_window`, `no_promo_items`,
//!   `not_fiscal_qr`, `invalid_qr`, `bad_image`, `too_big`, `file_unavailable`,
//!   `fns_invalid` (code 0), `fns_failed` (code 5), `mismatch`, `invalid_receipt`,
//!   `duplicate_in_progress` (another upload of it holds the paid check);
//! - `retry_scheduled`: `fns_pending` (code 2), `quota_paused` (code 3 breaker),
//!   `provider_too_soon` (code 4), `provider_error` (timeout, HTTP, garbage);
//! - `failed`: `fns_not_received`, `provider_unavailable`, `verifier_unavailable`,
//!   `gave_up` (older than [`MAX_PENDING_AGE`]), `no_input`.

use crate::t;
use crate::texts::TextKey;
use std::ops::Bound;
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Receipts;
use crate::config::PromoSettings;
use crate::jobs::ReceiptJob;
use crate::outbox::{NewMessage, Purpose};
use crate::proverkacheka::{CheckOutcome, ProviderError};
use crate::queue::JobError;
use crate::telegram::{OutgoingMessage, SendMessage, TelegramClient, TelegramError};
use crate::texts::Lang;

use super::decode::{decode_qr_text, DecodeError};
use super::fns::FnsReceipt;
use super::qr::{FiscalQr, FiscalQrError, NotEligible, TimePrecision};

mod examine;
mod settle;

/// Telegram photos are far smaller; a bigger file is refused before it is downloaded.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// Waits before re-asking about a receipt the tax service has not received (code 2);
/// after the last one the shopper is told we gave up.
pub const FNS_PENDING_DELAYS: [Duration; 3] = [
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(3 * 60 * 60),
];
/// Back-off after a provider fault (timeout, HTTP error, garbage, code 4 or an unknown
/// code); code 4 asks for at least a minute, which the first step already is.
pub const PROVIDER_RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(3 * 60 * 60),
];
/// A submission still unsettled after this long (quota pauses have no count limit) is
/// given up, so no shopper waits forever.
pub const MAX_PENDING_AGE: Duration = Duration::from_secs(3 * 24 * 60 * 60);
/// A `processing` row not touched for this long belongs to a crashed worker and may be
/// taken over; a job takes well under a minute (download ≤ 30 s, provider ≤ 20 s).
const PROCESSING_LEASE_SECS: f64 = 180.0;

/// Where a chain of re-checks stands; travels in [`ReceiptJob::Recheck`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryState {
    /// `receipt_submissions.attempts` when the re-check was scheduled.
    pub attempt: i32,
    /// Code-2 answers so far.
    pub fns_pending: u32,
    /// Provider faults so far.
    pub provider_failures: u32,
}

pub use super::quota::{quota_breaker_key, QUOTA_PAUSE};

/// Runs one verification job. `retry` is `None` for the first check of an upload.
///
/// Idempotent: a job for a settled submission, or a stale copy of a re-check, does
/// nothing. Infrastructure failures (database, Redis, Telegram's file API) return
/// [`JobError::Retry`] so the queue delivers the job again.
pub async fn verify_receipt(
    app: &Receipts,
    submission_id: i64,
    retry: Option<RetryState>,
) -> Result<(), JobError> {
    let Some(submission) = Submission::load(app, submission_id).await? else {
        return Err(JobError::Discard(anyhow::anyhow!(
            "receipt submission {submission_id} does not exist for this bot"
        )));
    };
    let Some(claimed) = claim(app, &submission, retry).await? else {
        return Ok(());
    };
    let state = retry.unwrap_or_default();
    let mut work = Work {
        app,
        promo: app.promo.current().await,
        submission: &submission,
        claimed_attempts: claimed,
        state,
        provider_calls: 0,
        decoded_qr: None,
    };
    let verdict = match work.examine().await {
        Ok(verdict) => verdict,
        Err(error) => {
            work.release().await;
            return Err(JobError::Retry(error));
        }
    };
    match work.settle(verdict).await {
        Ok(messages) => {
            for id in messages {
                app.sender.send_now(id, FAST_SEND_WAIT).await;
            }
            Ok(())
        }
        Err(error) => {
            work.release().await;
            Err(JobError::Retry(error))
        }
    }
}

/// The submission row and who to answer.
#[derive(Debug)]
struct Submission {
    id: i64,
    user_id: i64,
    source: String,
    telegram_file_id: Option<String>,
    qr_raw: Option<String>,
    status: String,
    attempts: i32,
    next_attempt_at: Option<chrono::DateTime<Utc>>,
    lease_expired: bool,
    too_old: bool,
    telegram_id: i64,
    lang: Lang,
}

impl Submission {
    async fn load(app: &Receipts, id: i64) -> anyhow::Result<Option<Submission>> {
        let client = app.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT s.id, s.user_id, s.source, s.telegram_file_id, s.qr_raw, s.status,
                        s.attempts, s.next_attempt_at,
                        s.updated_at < now() - make_interval(secs => $3) AS lease_expired,
                        s.created_at < now() - make_interval(secs => $4) AS too_old,
                        u.telegram_id, u.language
                 FROM receipt_submissions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = $1 AND s.bot_id = $2",
                &[
                    &id,
                    &app.bot_id,
                    &PROCESSING_LEASE_SECS,
                    &(MAX_PENDING_AGE.as_secs() as f64),
                ],
            )
            .await
            .context("loading the receipt submission")?;
        Ok(row.map(|row| Submission {
            id: row.get(0),
            user_id: row.get(1),
            source: row.get(2),
            telegram_file_id: row.get(3),
            qr_raw: row.get(4),
            status: row.get(5),
            attempts: row.get(6),
            next_attempt_at: row.get(7),
            lease_expired: row.get(8),
            too_old: row.get(9),
            telegram_id: row.get(10),
            lang: Lang::from_code(row.get(11)).unwrap_or(Lang::Ru),
        }))
    }
}

/// Takes the submission for this delivery: `Some(attempts after the claim)`, or `None`
/// when there is nothing to do (settled, owned by a re-check chain, a stale copy, or
/// re-sent because its time has not come).
async fn claim(
    app: &Receipts,
    submission: &Submission,
    retry: Option<RetryState>,
) -> Result<Option<i32>, JobError> {
    let status = submission.status.as_str();
    let claimable = match (status, retry) {
        ("queued", None) => true,
        // Handed back by `release` after a failure: the re-check that failed comes back.
        ("queued", Some(state)) => state.attempt == submission.attempts,
        ("retry_scheduled", Some(state)) if state.attempt == submission.attempts => {
            let wait = submission
                .next_attempt_at
                .and_then(|due| (due - Utc::now()).to_std().ok())
                .unwrap_or_default();
            if wait > Duration::from_secs(1) {
                // Early (a copy from before the outbox, or a clock step): make sure the
                // re-check waits in the outbox for its time, then drop this copy.
                let client = app.pool.get().await.map_err(anyhow::Error::from)?;
                schedule_recheck(&client, app, submission, state, wait).await?;
                return Ok(None);
            }
            true
        }
        ("processing", _) if submission.lease_expired => true,
        ("processing", _) => {
            // Another delivery is working on it right now (or crashed moments ago):
            // come back after the visibility timeout rather than lose the job.
            return Err(JobError::Retry(anyhow::anyhow!(
                "submission {} is being processed by another delivery",
                submission.id
            )));
        }
        _ => false,
    };
    if !claimable {
        tracing::debug!(
            submission_id = submission.id,
            status,
            "nothing to do for this receipt job"
        );
        return Ok(None);
    }
    let client = app.pool.get().await.map_err(anyhow::Error::from)?;
    let row = client
        .query_opt(
            "UPDATE receipt_submissions
             SET status = 'processing', attempts = attempts + 1, updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND status = $3 AND attempts = $4
             RETURNING attempts",
            &[&submission.id, &app.bot_id, &status, &submission.attempts],
        )
        .await
        .context("claiming the receipt submission")?;
    // No row: a concurrent delivery claimed it first; its message owns the work.
    Ok(row.map(|row| row.get(0)))
}

/// Writes the re-check of `submission` as an outbox row due after `delay`, once per
/// attempt (a second write of the same attempt is a no-op).
async fn schedule_recheck(
    client: &impl deadpool_postgres::GenericClient,
    app: &Receipts,
    submission: &Submission,
    state: RetryState,
    delay: Duration,
) -> anyhow::Result<()> {
    let job = ReceiptJob::Recheck {
        submission_id: submission.id,
        attempt: state.attempt,
        fns_pending: state.fns_pending,
        provider_failures: state.provider_failures,
    };
    crate::outbox::insert_check(
        client,
        app.bot_id,
        submission.user_id,
        submission.id,
        &job,
        delay,
        &format!("receipt:{}:{}", submission.id, state.attempt),
    )
    .await?;
    Ok(())
}

/// Runs the receipt check held by outbox row `outbox_id` (the receipts queue's
/// [`crate::jobs::OutboxJob::Check`]) and writes down how it ended: done, due again after
/// a back-off (infrastructure faults), or dead with its reason. Only a failure to write
/// that down fails the message (the row's lease then brings it back).
pub async fn run_outbox_check(app: &Receipts, outbox_id: i64) -> Result<(), JobError> {
    use crate::outbox;
    let Some(check) = outbox::claim_check(&app.pool, app.bot_id, outbox_id).await? else {
        tracing::debug!(
            outbox_id,
            "receipt check finished, not due or taken: nothing to do"
        );
        return Ok(());
    };
    let result = match check.job.clone() {
        Some(ReceiptJob::Verify { submission_id }) => {
            verify_receipt(app, submission_id, None).await
        }
        Some(ReceiptJob::Recheck {
            submission_id,
            attempt,
            fns_pending,
            provider_failures,
        }) => {
            let state = RetryState {
                attempt,
                fns_pending,
                provider_failures,
            };
            verify_receipt(app, submission_id, Some(state)).await
        }
        None => Err(JobError::Discard(anyhow::anyhow!(
            "outbox row {outbox_id} holds no receipt job this build knows"
        ))),
    };
    match result {
        Ok(()) => outbox::complete_check(&app.pool, outbox_id).await?,
        Err(JobError::Discard(error)) => {
            outbox::give_up(&app.pool, outbox_id, &format!("{error:#}")).await?;
        }
        Err(JobError::Retry(error)) => {
            outbox::retry_check(&app.pool, &check, &format!("{error:#}")).await?;
        }
    }
    Ok(())
}

/// A shopper text and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    key: TextKey,
    args: Vec<(&'static str, String)>,
    /// Under the text, the button that starts typing the receipt's fields by hand.
    offer_manual_entry: bool,
}

impl Reply {
    fn plain(key: TextKey) -> Self {
        Reply {
            key,
            args: Vec::new(),
            offer_manual_entry: false,
        }
    }
}

/// How a check ended, before it is written down.
#[derive(Debug)]
enum Verdict {
    /// Final, no receipt stored: `rejected` (the receipt's problem) or `failed` (ours or
    /// the provider's).
    Settled {
        status: &'static str,
        outcome: &'static str,
        detail: Option<String>,
        reply: Reply,
    },
    /// Check again after `delay`; `reply` is told now (only the first code 2 tells).
    Later {
        outcome: &'static str,
        detail: Option<String>,
        delay: Duration,
        state: RetryState,
        reply: Option<Reply>,
    },
    /// A verified receipt, to be stored with its tickets.
    Verified {
        qr: FiscalQr,
        receipt: Box<FnsReceipt>,
    },
}

impl Verdict {
    fn rejected(outcome: &'static str, detail: impl Into<Option<String>>, reply: Reply) -> Self {
        Verdict::Settled {
            status: "rejected",
            outcome,
            detail: detail.into(),
            reply,
        }
    }

    fn failed(outcome: &'static str, detail: impl Into<Option<String>>, reply: Reply) -> Self {
        Verdict::Settled {
            status: "failed",
            outcome,
            detail: detail.into(),
            reply,
        }
    }
}

/// How long the verifier waits for a send slot for its reply before leaving the message
/// to the relay: a broadcast at full rate still yields a slot within milliseconds.
const FAST_SEND_WAIT: Duration = Duration::from_secs(2);

impl Work<'_> {
    /// Writes `reply` to the shopper as an outbox message in the caller's transaction, once
    /// per claimed attempt; returns its row when it was written now.
    async fn write_reply(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        reply: &Reply,
    ) -> anyhow::Result<Option<i64>> {
        let args: Vec<(&str, &str)> = reply
            .args
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let text = self
            .app
            .texts
            .render(reply.key, self.submission.lang, &args)
            .await;
        let chat_id = self.submission.telegram_id;
        let mut send = SendMessage::new(chat_id, text);
        if reply.offer_manual_entry {
            let label = self
                .app
                .texts
                .get(t!("btn_manual_entry"), self.submission.lang)
                .await;
            send = send.markup(crate::telegram::InlineKeyboardMarkup::from(vec![vec![
                crate::telegram::InlineKeyboardButton::callback(
                    label,
                    crate::receipts::MANUAL_ENTRY_CALLBACK,
                ),
            ]]));
        }
        let message = OutgoingMessage::Send(send);
        crate::outbox::insert_message(
            client,
            self.app.bot_id,
            &NewMessage {
                purpose: Purpose::ReceiptResult,
                user_id: Some(self.submission.user_id),
                chat_id,
                message: &message,
                dedup_key: Some(format!(
                    "receipt_result:{}:{}",
                    self.submission.id, self.claimed_attempts
                )),
            },
        )
        .await
    }
}

/// The picture to send as `qrfile` when the QR could not be read locally.
struct Picture {
    bytes: Vec<u8>,
    mime: &'static str,
    filename: &'static str,
}

enum Input {
    Qr(FiscalQr),
    Picture(Picture),
}

struct Work<'a> {
    app: &'a Receipts,
    /// The promotion's settings for this job, read once at its start.
    promo: std::sync::Arc<PromoSettings>,
    submission: &'a Submission,
    claimed_attempts: i32,
    state: RetryState,
    provider_calls: i32,
    /// The QR text read from the picture, kept in `qr_raw` so a re-check skips the
    /// download and the panel shows what was read.
    decoded_qr: Option<String>,
}

/// Every admin of the bot in Telegram (ADMIN_IDS and panel users linked to a Telegram
/// account) hears once per pause that receipt checks stopped and when they resume. The
/// notices are outbox messages written together, then sent at once.
async fn tell_admins_of_quota_pause(app: &Receipts) {
    let written = async {
        let admins = quota_notice_recipients(app).await?;
        let resume = (Utc::now() + QUOTA_PAUSE + chrono::Duration::hours(3))
            .format("%d.%m.%Y %H:%M")
            .to_string();
        let mut notices = Vec::new();
        for (chat_id, lang) in admins {
            let text = app
                .texts
                .render(t!("admin_quota_exhausted"), lang, &[("resume", &resume)])
                .await;
            notices.push((
                chat_id,
                OutgoingMessage::Send(SendMessage::new(chat_id, text)),
            ));
        }
        let mut client = app.pool.get().await?;
        let tx = client.transaction().await?;
        let mut ids = Vec::new();
        for (chat_id, message) in &notices {
            let new = NewMessage {
                purpose: Purpose::QuotaNotice,
                user_id: None,
                chat_id: *chat_id,
                message,
                dedup_key: None,
            };
            ids.extend(crate::outbox::insert_message(&tx, app.bot_id, &new).await?);
        }
        tx.commit().await?;
        anyhow::Ok(ids)
    }
    .await;
    match written {
        Ok(ids) => {
            for id in ids {
                app.sender.send_now(id, FAST_SEND_WAIT).await;
            }
        }
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "could not write the quota pause notices to the admins");
        }
    }
}

async fn quota_notice_recipients(app: &Receipts) -> anyhow::Result<Vec<(i64, Lang)>> {
    let client = app.pool.get().await?;
    let rows = client
        .query(
            "SELECT ids.telegram_id, u.language
             FROM (SELECT unnest($2::BIGINT[]) AS telegram_id
                   UNION
                   SELECT telegram_id FROM admin_users
                   WHERE bot_id = $1 AND telegram_id IS NOT NULL AND disabled_at IS NULL) ids
             LEFT JOIN users u ON u.bot_id = $1 AND u.telegram_id = ids.telegram_id
             ORDER BY ids.telegram_id",
            &[&app.bot_id, &app.settings.admin_ids],
        )
        .await
        .context("listing the bot's admins")?;
    Ok(rows
        .iter()
        .map(|row| {
            let lang = row
                .get::<_, Option<&str>>(1)
                .and_then(Lang::from_code)
                .unwrap_or(Lang::Ru);
            (row.get(0), lang)
        })
        .collect())
}

fn log_outcome(submission_id: i64, status: &str, outcome: &str) {
    tracing::info!(submission_id, status, outcome, "receipt verified");
}

fn duplicate_reply() -> Reply {
    Reply::plain(t!("receipt_duplicate"))
}

fn duplicate() -> Verdict {
    Verdict::rejected("duplicate", None, duplicate_reply())
}

/// Another upload of the same receipt holds the paid check right now; its shopper gets
/// the result, this one is told not to upload it again.
fn being_checked() -> Verdict {
    Verdict::rejected(
        "duplicate_in_progress",
        Some("another upload of this receipt is being checked".to_owned()),
        Reply::plain(t!("receipt_being_checked")),
    )
}

/// Whose paid call it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaidCheckClaim {
    Ours,
    /// The claim's owner stored the receipt (a picture read by the service earlier).
    Stored,
    /// The claim's owner is still checking it.
    Busy,
}

/// `getFile` + download, refusing files over [`MAX_IMAGE_BYTES`] before and while
/// downloading. Telegram's transient errors are the caller's `Err` (the job is retried);
/// a file Telegram no longer has is the shopper's to resend.
async fn fetch_image(app: &Receipts, file_id: &str) -> anyhow::Result<Result<Vec<u8>, Verdict>> {
    let too_big = || {
        Verdict::rejected(
            "too_big",
            Some(format!("larger than {MAX_IMAGE_BYTES} bytes")),
            Reply::plain(t!("receipt_too_big")),
        )
    };
    let unavailable = |error: &TelegramError| {
        Verdict::rejected(
            "file_unavailable",
            error.to_string(),
            Reply::plain(t!("receipt_file_unavailable")),
        )
    };
    // A picture sent in the panel's test chat is read from where the panel stored it.
    let telegram = if crate::telegram::transcript::is_test_file(file_id) {
        TelegramClient::test_chat(crate::telegram::transcript::Transcript::files(
            app.pool.clone(),
            app.bot_id,
        ))
    } else {
        app.telegram.clone()
    };
    let info = match telegram.get_file(file_id).await {
        Ok(info) => info,
        Err(error) if error.is_transient() => {
            return Err(anyhow::Error::new(error).context("getFile"));
        }
        Err(error) => return Ok(Err(unavailable(&error))),
    };
    if info.file_size.is_some_and(|size| size > MAX_IMAGE_BYTES) {
        return Ok(Err(too_big()));
    }
    let Some(path) = info.file_path else {
        return Ok(Err(Verdict::rejected(
            "file_unavailable",
            Some("getFile returned no file_path".to_owned()),
            Reply::plain(t!("receipt_file_unavailable")),
        )));
    };
    match telegram.download(&path, MAX_IMAGE_BYTES).await {
        Ok(bytes) => Ok(Ok(bytes)),
        // The client reports an over-limit body as a decode error, before reading it all.
        Err(TelegramError::Decode(_)) => Ok(Err(too_big())),
        Err(error) if error.is_transient() => {
            Err(anyhow::Error::new(error).context("downloading the receipt picture"))
        }
        Err(error) => Ok(Err(unavailable(&error))),
    }
}

/// The picture for `qrfile`, typed by its magic bytes (Telegram photos are JPEG,
/// documents were checked to be JPEG or PNG by the webhook).
fn picture(bytes: Vec<u8>) -> Result<Picture, Verdict> {
    let (mime, filename) = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        ("image/png", "check.png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("image/jpeg", "check.jpg")
    } else {
        return Err(Verdict::rejected(
            "bad_image",
            Some("neither JPEG nor PNG".to_owned()),
            Reply::plain(t!("receipt_bad_image")),
        ));
    };
    Ok(Picture {
        bytes,
        mime,
        filename,
    })
}

/// The QR a receipt read by the service would carry, so the same local checks and the
/// same stored `raw_qr` apply whether we or the service read the picture.
fn qr_of(receipt: &FnsReceipt) -> Option<FiscalQr> {
    FiscalQr::parse(&format!(
        "t={}&s={}&fn={}&i={}&fp={}&n={}",
        receipt.date_time.format("%Y%m%dT%H%M%S"),
        receipt.total_sum,
        receipt.fiscal_drive_number,
        receipt.fiscal_document_number,
        receipt.fiscal_sign,
        receipt.operation_type
    ))
    .ok()
}

/// Whether this fiscal document is already stored for the bot, in any status: a
/// rejected or held receipt is not re-checked at our expense either.
async fn already_stored(app: &Receipts, qr: &FiscalQr) -> anyhow::Result<bool> {
    let key = qr.dedup_key();
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT 1 FROM receipts
             WHERE bot_id = $1 AND fiscal_drive_number = $2
               AND fiscal_document_number = $3 AND fiscal_sign = $4",
            &[
                &app.bot_id,
                &qr.fiscal_drive_number(),
                &i64::from(key.fiscal_document_number),
                &i64::from(key.fiscal_sign),
            ],
        )
        .await
        .context("looking for an earlier upload of the receipt")?;
    Ok(row.is_some())
}

/// The promotion period as naive local date-times: from the start date's midnight to
/// the end of the end date, open where a date is not configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromoPeriod {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl PromoPeriod {
    pub fn bounds(&self) -> (Bound<NaiveDateTime>, Bound<NaiveDateTime>) {
        let start = self.start.map_or(Bound::Unbounded, |d| {
            Bound::Included(d.and_time(NaiveTime::MIN))
        });
        let end = match self.end {
            None => Bound::Unbounded,
            Some(d) => match d.succ_opt() {
                Some(next) => Bound::Excluded(next.and_time(NaiveTime::MIN)),
                None => Bound::Unbounded,
            },
        };
        (start, end)
    }

    pub fn contains_time(&self, time: NaiveDateTime) -> bool {
        std::ops::RangeBounds::contains(&self.bounds(), &time)
    }
}

fn promo_period(promo: &PromoSettings) -> PromoPeriod {
    PromoPeriod {
        start: promo.start_date,
        end: promo.end_date,
    }
}

fn eligibility(promo: &PromoSettings, qr: &FiscalQr) -> Result<(), Verdict> {
    match qr.ensure_eligible(promo_period(promo).bounds()) {
        Ok(()) => Ok(()),
        Err(NotEligible::NotASale(operation)) => Err(Verdict::rejected(
            "not_a_sale",
            operation.to_string(),
            Reply::plain(t!("receipt_not_a_sale")),
        )),
        Err(NotEligible::OutsidePromoPeriod(time)) => Err(out_of_window(promo, time)),
    }
}

fn out_of_window(promo: &PromoSettings, time: NaiveDateTime) -> Verdict {
    let format = |date: Option<NaiveDate>| {
        date.map_or_else(|| "…".to_owned(), |d| d.format("%d.%m.%Y").to_string())
    };
    let period = promo_period(promo);
    // Dates only, so the same phrase works in every language.
    let span = format!("{} — {}", format(period.start), format(period.end));
    Verdict::rejected(
        "out_of_window",
        time.to_string(),
        Reply {
            key: t!("receipt_out_of_window"),
            args: vec![("date", format(Some(time.date()))), ("period", span)],
            offer_manual_entry: false,
        },
    )
}

/// The receipt's lines as received, each marked with whether it is a promo product.
fn annotated_items(receipt: &FnsReceipt, promo_lines: &[usize]) -> Value {
    let items = receipt
        .raw_json()
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        items
            .into_iter()
            .enumerate()
            .map(|(index, mut item)| {
                if let Some(object) = item.as_object_mut() {
                    object.insert("promo".into(), Value::Bool(promo_lines.contains(&index)));
                }
                item
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn the_promo_period_includes_both_end_dates_whole() {
        let period = PromoPeriod {
            start: Some(date(2024, 9, 1)),
            end: Some(date(2024, 9, 30)),
        };
        let at = |d: NaiveDate, h, m, s| d.and_hms_opt(h, m, s).unwrap_or_default();
        assert!(period.contains_time(at(date(2024, 9, 1), 0, 0, 0)));
        assert!(period.contains_time(at(date(2024, 9, 30), 23, 59, 59)));
        assert!(!period.contains_time(at(date(2024, 8, 31), 23, 59, 59)));
        assert!(!period.contains_time(at(date(2024, 10, 1), 0, 0, 0)));
        let open = PromoPeriod {
            start: None,
            end: None,
        };
        assert!(open.contains_time(at(date(2001, 1, 1), 12, 0, 0)));
    }

    #[test]
    fn verify_jobs_of_the_webhook_and_recheck_jobs_without_counters_still_parse() {
        let parse = |body: &str| serde_json::from_str::<ReceiptJob>(body).ok();
        assert_eq!(
            parse(r#"{"kind":"verify","submission_id":7}"#),
            Some(ReceiptJob::Verify { submission_id: 7 })
        );
        assert_eq!(
            parse(r#"{"kind":"recheck","submission_id":7,"attempt":2}"#),
            Some(ReceiptJob::Recheck {
                submission_id: 7,
                attempt: 2,
                fns_pending: 0,
                provider_failures: 0,
            })
        );
    }

    #[test]
    fn pictures_are_typed_by_their_magic_bytes() {
        let png = picture(vec![0x89, b'P', b'N', b'G', 0x0D]).map(|p| (p.mime, p.filename));
        assert!(matches!(png, Ok(("image/png", "check.png"))));
        let jpeg = picture(vec![0xFF, 0xD8, 0xFF, 0xE0]).map(|p| p.mime);
        assert!(matches!(jpeg, Ok("image/jpeg")));
        assert!(picture(b"GIF89a".to_vec()).is_err());
    }

    #[test]
    fn a_receipt_read_by_the_service_yields_its_qr() {
        let receipt = FnsReceipt::from_json(serde_json::json!({
            "dateTime": "2024-09-17T18:01:00", "operationType": 1, "totalSum": 128521,
            "fiscalDriveNumber": "7281440500751551", "fiscalDocumentNumber": 30526,
            "fiscalSign": 1168453787, "items": [],
        }));
        let qr = receipt
            .ok()
            .as_ref()
            .and_then(qr_of)
            .map(|qr| qr.canonical());
        assert_eq!(
            qr.as_deref(),
            Some("t=20240917T180100&s=1285.21&fn=7281440500751551&i=30526&fp=1168453787&n=1")
        );
    }
}
