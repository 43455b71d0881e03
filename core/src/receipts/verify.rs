//! `verify_receipt`: one verification job, from the shopper's upload to tickets and a reply.
//!
//! The order of the steps is about money: everything that can reject a receipt locally
//! (unreadable picture, duplicate, refund, outside the promotion) runs before the paid
//! ProverkaCheka call.
//!
//! Delayed re-checks: the queue delays a message by at most 15 minutes, but "not in the
//! tax service yet" is re-checked after 15 min, 1 h and 3 h. The due time is kept in
//! `receipt_submissions.next_attempt_at`; a [`ReceiptJob::Recheck`] that arrives early
//! sends itself again with the remaining delay (capped at 15 min), so a 3 h wait is a
//! chain of 12 cheap hops. The job carries the counters of the chain and the
//! submission's `attempts` at scheduling time: a duplicate or stale message finds a
//! different `attempts` and drops out, so at-least-once delivery cannot fork the chain.
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
use crate::jobs::ReceiptJob;
use crate::proverkacheka::{CheckOutcome, ProviderError};
use crate::queue::{JobError, QueueName, MAX_DELAY};
use crate::telegram::{SendMessage, TelegramError};
use crate::texts::Lang;

use super::decode::{decode_qr_text, DecodeError};
use super::fns::FnsReceipt;
use super::fraud::{self, FraudThresholds};
use super::qr::{FiscalQr, FiscalQrError, NotEligible, TimePrecision};
use super::tickets::{count_tickets, KeywordMatcher};

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
        Ok(Some(reply)) => {
            submission.tell(app, &reply).await;
            Ok(())
        }
        Ok(None) => Ok(()),
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

    /// Sends the outcome. A failed send does not fail the job: the outcome is stored
    /// and visible in "my receipts"; a shopper who blocked the bot is marked.
    async fn tell(&self, app: &Receipts, reply: &Reply) {
        let args: Vec<(&str, &str)> = reply
            .args
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let text = app.texts.render(reply.key, self.lang, &args).await;
        match app
            .telegram
            .send_message(&SendMessage::new(self.telegram_id, text))
            .await
        {
            Ok(_) => {}
            Err(error) if error.is_forbidden() => {
                if let Err(e) = app.users.set_reachable(self.telegram_id, false).await {
                    tracing::warn!(error = %e, "could not mark the shopper unreachable");
                }
            }
            Err(error) => {
                tracing::warn!(submission_id = self.id, %error, "could not tell the shopper the receipt outcome");
            }
        }
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
                resend(app, submission.id, state, wait).await?;
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

async fn resend(
    app: &Receipts,
    submission_id: i64,
    state: RetryState,
    delay: Duration,
) -> anyhow::Result<()> {
    let job = ReceiptJob::Recheck {
        submission_id,
        attempt: state.attempt,
        fns_pending: state.fns_pending,
        provider_failures: state.provider_failures,
    };
    app.queue
        .send(
            QueueName::Receipts,
            serde_json::to_string(&job)?,
            delay.min(MAX_DELAY),
        )
        .await
        .context("re-enqueueing the receipt check")?;
    Ok(())
}

/// A shopper text and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    key: TextKey,
    args: Vec<(&'static str, String)>,
}

impl Reply {
    fn plain(key: TextKey) -> Self {
        Reply {
            key,
            args: Vec::new(),
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
    submission: &'a Submission,
    claimed_attempts: i32,
    state: RetryState,
    provider_calls: i32,
    /// The QR text read from the picture, kept in `qr_raw` so a re-check skips the
    /// download and the panel shows what was read.
    decoded_qr: Option<String>,
}

impl Work<'_> {
    async fn examine(&mut self) -> anyhow::Result<Verdict> {
        let input = match self.input().await? {
            Ok(input) => input,
            Err(verdict) => return Ok(verdict),
        };
        if let Input::Qr(qr) = &input {
            if let Some(verdict) = self.local_rejection(qr).await? {
                return Ok(verdict);
            }
        }
        if self.submission.too_old {
            return Ok(Verdict::failed(
                "gave_up",
                Some("still unsettled after the maximum pending age".to_owned()),
                Reply::plain(t!("receipt_check_unavailable")),
            ));
        }
        let Some(client) = self.app.proverkacheka.clone() else {
            return Ok(Verdict::failed(
                "verifier_unavailable",
                Some("PROVERKA_CHEKA_TOKEN is not configured".to_owned()),
                Reply::plain(t!("receipt_check_unavailable")),
            ));
        };
        if let Some(pause) = self.quota_pause().await? {
            return Ok(Verdict::Later {
                outcome: "quota_paused",
                detail: None,
                delay: pause,
                state: self.state,
                reply: None,
            });
        }

        match self.claim_paid_check(&input).await? {
            PaidCheckClaim::Ours => {}
            PaidCheckClaim::Stored => return Ok(duplicate()),
            PaidCheckClaim::Busy => return Ok(being_checked()),
        }

        self.provider_calls += 1;
        let mut answer = match &input {
            Input::Qr(qr) => client.check_raw(&qr.canonical()).await,
            Input::Picture(picture) => {
                client
                    .check_file(picture.bytes.clone(), picture.filename, picture.mime)
                    .await
            }
        };
        let mut local_qr = match input {
            Input::Qr(qr) => Some(qr),
            Input::Picture(_) => None,
        };
        // Some registers print seconds the tax service did not keep (domain spec 1.2):
        // one more call without them before calling the receipt invalid.
        if let (Ok(CheckOutcome::Invalid), Some(qr)) = (&answer, &local_qr) {
            if qr.time_precision() == TimePrecision::Seconds {
                let minutes = qr.with_time_precision(TimePrecision::Minutes);
                self.provider_calls += 1;
                answer = client.check_raw(&minutes.canonical()).await;
                if matches!(answer, Ok(CheckOutcome::Receipt(_))) {
                    local_qr = Some(minutes);
                }
            }
        }
        self.interpret(answer, local_qr).await
    }

    /// The fiscal QR (typed, stored, or read from the picture), or the picture when it
    /// could not be read; `Err(verdict)` when the upload is refused before any call.
    async fn input(&mut self) -> anyhow::Result<Result<Input, Verdict>> {
        if let Some(text) = self.submission.qr_raw.as_deref() {
            return Ok(match FiscalQr::parse(text) {
                Ok(qr) => Ok(Input::Qr(qr)),
                Err(error) => Err(Verdict::rejected(
                    "invalid_qr",
                    error.to_string(),
                    Reply::plain(t!("receipt_not_fiscal_qr")),
                )),
            });
        }
        let Some(file_id) = self.submission.telegram_file_id.as_deref() else {
            return Ok(Err(Verdict::failed(
                "no_input",
                Some(format!(
                    "a {} submission without a file or QR text",
                    self.submission.source
                )),
                Reply::plain(t!("receipt_file_unavailable")),
            )));
        };
        let bytes = match fetch_image(self.app, file_id).await? {
            Ok(bytes) => bytes,
            Err(verdict) => return Ok(Err(verdict)),
        };
        let (decoded, bytes) = tokio::task::spawn_blocking(move || {
            let decoded = decode_qr_text(&bytes);
            (decoded, bytes)
        })
        .await
        .context("the QR decoder task failed")?;
        Ok(match decoded {
            Ok(text) => match FiscalQr::parse(&text) {
                Ok(qr) => {
                    self.decoded_qr = Some(qr.canonical());
                    Ok(Input::Qr(qr))
                }
                Err(FiscalQrError::Empty | FiscalQrError::NotAFiscalQr) => Err(Verdict::rejected(
                    "not_fiscal_qr",
                    None,
                    Reply::plain(t!("receipt_not_fiscal_qr")),
                )),
                // A fiscal code read with a damaged field: let the service read it.
                Err(_) => picture(bytes).map(Input::Picture),
            },
            Err(DecodeError::NoQrCode) => picture(bytes).map(Input::Picture),
            Err(error) => Err(Verdict::rejected(
                "bad_image",
                error.to_string(),
                Reply::plain(t!("receipt_bad_image")),
            )),
        })
    }

    /// Duplicate, not a sale, outside the promotion: decided from the QR alone.
    async fn local_rejection(&self, qr: &FiscalQr) -> anyhow::Result<Option<Verdict>> {
        if already_stored(self.app, qr).await? {
            return Ok(Some(duplicate()));
        }
        Ok(eligibility(self.app, qr).err())
    }

    /// Claims the one paid call for this receipt (its fiscal triple, or the picture's
    /// hash when only the service can read it). The primary key of
    /// `receipt_check_claims` settles concurrent uploads in any process; a claim whose
    /// owner settled without a receipt (rejected, failed) is taken over.
    async fn claim_paid_check(&self, input: &Input) -> anyhow::Result<PaidCheckClaim> {
        let claim_key = match input {
            Input::Qr(qr) => {
                let key = qr.dedup_key();
                format!(
                    "qr:{}:{}:{}",
                    qr.fiscal_drive_number(),
                    key.fiscal_document_number,
                    key.fiscal_sign
                )
            }
            Input::Picture(picture) => format!("img:{:x}", Sha256::digest(&picture.bytes)),
        };
        let client = self.app.pool.get().await?;
        let ours = client
            .query_opt(
                "INSERT INTO receipt_check_claims (bot_id, claim_key, submission_id)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (bot_id, claim_key) DO UPDATE
                     SET submission_id = EXCLUDED.submission_id, claimed_at = now()
                     WHERE receipt_check_claims.submission_id = EXCLUDED.submission_id
                        OR NOT EXISTS (
                            SELECT 1 FROM receipt_submissions s
                            WHERE s.id = receipt_check_claims.submission_id
                              AND (s.status IN ('queued', 'processing', 'retry_scheduled')
                                   OR s.receipt_id IS NOT NULL))
                 RETURNING 1",
                &[&self.app.bot_id, &claim_key, &self.submission.id],
            )
            .await
            .context("claiming the paid receipt check")?;
        if ours.is_some() {
            return Ok(PaidCheckClaim::Ours);
        }
        let owner = client
            .query_opt(
                "SELECT s.receipt_id IS NOT NULL
                 FROM receipt_check_claims c
                 JOIN receipt_submissions s ON s.id = c.submission_id
                 WHERE c.bot_id = $1 AND c.claim_key = $2",
                &[&self.app.bot_id, &claim_key],
            )
            .await
            .context("reading the owner of the receipt check")?;
        tracing::info!(
            submission_id = self.submission.id,
            "the receipt is checked by another upload; no second paid call"
        );
        Ok(match owner {
            Some(row) if row.get::<_, bool>(0) => PaidCheckClaim::Stored,
            _ => PaidCheckClaim::Busy,
        })
    }

    async fn quota_pause(&self) -> anyhow::Result<Option<Duration>> {
        let mut conn = self.app.redis.connection();
        let millis: i64 = redis::cmd("PTTL")
            .arg(quota_breaker_key(&self.app.redis))
            .query_async(&mut conn)
            .await
            .context("reading the ProverkaCheka circuit breaker")?;
        Ok(match millis {
            // -2: no breaker; -1: a breaker without expiry (set by hand) pauses a full period.
            -2 => None,
            -1 => Some(QUOTA_PAUSE),
            ms => Some(Duration::from_millis(ms.max(0) as u64)),
        })
    }

    async fn interpret(
        &mut self,
        answer: Result<CheckOutcome, ProviderError>,
        local_qr: Option<FiscalQr>,
    ) -> anyhow::Result<Verdict> {
        let outcome = match answer {
            Ok(outcome) => outcome,
            Err(error) => return Ok(self.provider_fault("provider_error", error.to_string())),
        };
        match outcome {
            CheckOutcome::Receipt(receipt) => self.check_receipt(receipt, local_qr).await,
            CheckOutcome::Invalid => Ok(Verdict::rejected(
                "fns_invalid",
                Some("ProverkaCheka code 0".to_owned()),
                Reply::plain(t!("receipt_unreadable")),
            )),
            CheckOutcome::Failed => Ok(Verdict::rejected(
                "fns_failed",
                Some("ProverkaCheka code 5".to_owned()),
                Reply::plain(t!("receipt_unreadable")),
            )),
            CheckOutcome::NotYetReceived => {
                let done = self.state.fns_pending as usize;
                let Some(delay) = FNS_PENDING_DELAYS.get(done).copied() else {
                    return Ok(Verdict::failed(
                        "fns_not_received",
                        Some(format!("ProverkaCheka code 2, {} times", done + 1)),
                        Reply::plain(t!("receipt_fns_gave_up")),
                    ));
                };
                Ok(Verdict::Later {
                    outcome: "fns_pending",
                    detail: Some("ProverkaCheka code 2".to_owned()),
                    delay,
                    state: RetryState {
                        fns_pending: self.state.fns_pending + 1,
                        ..self.state
                    },
                    reply: (done == 0).then(|| Reply::plain(t!("receipt_fns_pending"))),
                })
            }
            CheckOutcome::QuotaExceeded => {
                self.open_quota_breaker().await?;
                Ok(Verdict::Later {
                    outcome: "quota_paused",
                    detail: Some("ProverkaCheka code 3".to_owned()),
                    delay: QUOTA_PAUSE,
                    state: self.state,
                    reply: None,
                })
            }
            CheckOutcome::TooSoon => {
                Ok(self.provider_fault("provider_too_soon", "ProverkaCheka code 4".to_owned()))
            }
        }
    }

    fn provider_fault(&self, outcome: &'static str, detail: String) -> Verdict {
        let done = self.state.provider_failures as usize;
        match PROVIDER_RETRY_DELAYS.get(done) {
            Some(delay) => Verdict::Later {
                outcome,
                detail: Some(detail),
                delay: *delay,
                state: RetryState {
                    provider_failures: self.state.provider_failures + 1,
                    ..self.state
                },
                reply: None,
            },
            None => Verdict::failed(
                "provider_unavailable",
                Some(detail),
                Reply::plain(t!("receipt_check_unavailable")),
            ),
        }
    }

    async fn open_quota_breaker(&self) -> anyhow::Result<()> {
        // Operators must hear about this: every upload waits until the quota returns.
        tracing::error!(
            pause_secs = QUOTA_PAUSE.as_secs(),
            "ProverkaCheka quota exhausted (code 3): pausing all receipt checks"
        );
        let mut conn = self.app.redis.connection();
        // NX: only the call that opens the pause tells the admins, however many checks
        // were in flight when the quota ran out.
        let opened: Option<String> = redis::cmd("SET")
            .arg(quota_breaker_key(&self.app.redis))
            .arg(1)
            .arg("EX")
            .arg(QUOTA_PAUSE.as_secs())
            .arg("NX")
            .query_async(&mut conn)
            .await
            .context("opening the ProverkaCheka circuit breaker")?;
        if opened.is_some() {
            tell_admins_of_quota_pause(self.app).await;
        }
        Ok(())
    }

    /// Domain spec 1.5: the receipt must be the scanned one, a sale, inside the period.
    async fn check_receipt(
        &mut self,
        receipt: Box<FnsReceipt>,
        local_qr: Option<FiscalQr>,
    ) -> anyhow::Result<Verdict> {
        let qr = match local_qr {
            Some(qr) => qr,
            // Read by the service from the picture: the local checks run only now.
            None => {
                let Some(qr) = qr_of(&receipt) else {
                    return Ok(Verdict::rejected(
                        "invalid_receipt",
                        Some("the receipt's requisites do not form a valid QR".to_owned()),
                        Reply::plain(t!("receipt_mismatch")),
                    ));
                };
                self.decoded_qr = Some(qr.canonical());
                if let Some(verdict) = self.local_rejection(&qr).await? {
                    return Ok(verdict);
                }
                qr
            }
        };
        if let Err(mismatch) = receipt.validate_against(&qr) {
            return Ok(Verdict::rejected(
                "mismatch",
                mismatch.to_string(),
                Reply::plain(t!("receipt_mismatch")),
            ));
        }
        if !promo_period(self.app).contains_time(receipt.date_time) {
            return Ok(out_of_window(self.app, receipt.date_time));
        }
        Ok(Verdict::Verified { qr, receipt })
    }

    /// Writes the verdict; returns what to tell the shopper (`None`: nothing, e.g. a
    /// concurrent delivery took the submission over).
    async fn settle(&mut self, verdict: Verdict) -> anyhow::Result<Option<Reply>> {
        match verdict {
            Verdict::Settled {
                status,
                outcome,
                detail,
                reply,
            } => {
                let updated = self
                    .finish(status, outcome, detail.as_deref(), None)
                    .await?;
                log_outcome(self.submission.id, status, outcome);
                Ok(updated.then_some(reply))
            }
            Verdict::Later {
                outcome,
                detail,
                delay,
                state,
                reply,
            } => {
                let state = RetryState {
                    attempt: self.claimed_attempts,
                    ..state
                };
                // Enqueue first: a job without its row update is caught by the attempt
                // check, a row without its job would wait forever.
                resend(self.app, self.submission.id, state, delay).await?;
                let client = self.app.pool.get().await?;
                let updated = client
                    .execute(
                        "UPDATE receipt_submissions
                         SET status = 'retry_scheduled', outcome = $4, outcome_detail = $5,
                             next_attempt_at = now() + make_interval(secs => $6),
                             provider_calls = provider_calls + $7,
                             qr_raw = COALESCE(qr_raw, $8), updated_at = now()
                         WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                        &[
                            &self.submission.id,
                            &self.app.bot_id,
                            &self.claimed_attempts,
                            &outcome,
                            &detail,
                            &delay.as_secs_f64(),
                            &self.provider_calls,
                            &self.decoded_qr,
                        ],
                    )
                    .await
                    .context("scheduling the receipt re-check")?;
                self.provider_calls = 0;
                tracing::info!(
                    submission_id = self.submission.id,
                    outcome,
                    delay_secs = delay.as_secs(),
                    "receipt check scheduled again"
                );
                Ok(reply.filter(|_| updated == 1))
            }
            Verdict::Verified { qr, receipt } => self.store(&qr, &receipt).await,
        }
    }

    /// Settles the submission without a receipt; `false` when it was taken over.
    async fn finish(
        &mut self,
        status: &str,
        outcome: &str,
        detail: Option<&str>,
        receipt_id: Option<i64>,
    ) -> anyhow::Result<bool> {
        let client = self.app.pool.get().await?;
        let updated = client
            .execute(
                "UPDATE receipt_submissions
                 SET status = $4, outcome = $5, outcome_detail = $6, receipt_id = $7,
                     next_attempt_at = NULL, provider_calls = provider_calls + $8,
                     qr_raw = COALESCE(qr_raw, $9), updated_at = now()
                 WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                &[
                    &self.submission.id,
                    &self.app.bot_id,
                    &self.claimed_attempts,
                    &status,
                    &outcome,
                    &detail,
                    &receipt_id,
                    &self.provider_calls,
                    &self.decoded_qr,
                ],
            )
            .await
            .context("recording the receipt outcome")?;
        self.provider_calls = 0;
        Ok(updated == 1)
    }

    /// Stores the receipt, its tickets and the submission's outcome in one transaction.
    /// The unique fiscal triple settles concurrent uploads of one receipt: the loser's
    /// insert does nothing and its shopper is told "already uploaded".
    async fn store(
        &mut self,
        qr: &FiscalQr,
        receipt: &FnsReceipt,
    ) -> anyhow::Result<Option<Reply>> {
        let app = self.app;
        let matcher = KeywordMatcher::new(
            &app.settings.promo.target_keywords,
            &app.settings.promo.exclude_keywords,
        );
        let count = count_tickets(receipt, &matcher);
        let items = annotated_items(receipt, &count.promo_lines);
        let tickets = i32::try_from(count.tickets).unwrap_or(i32::MAX);

        let mut client = app.pool.get().await?;
        let tx = client.transaction().await?;
        let signals = if tickets > 0 {
            let thresholds = FraudThresholds::load(&tx, app.bot_id).await?;
            fraud::assess(
                &tx,
                app.bot_id,
                self.submission.user_id,
                receipt.user_inn.as_deref(),
                receipt.date_time.date(),
                &thresholds,
            )
            .await?
        } else {
            Vec::new()
        };
        let held = signals.iter().any(fraud::FraudSignal::holds_for_review);
        let (receipt_status, submission_status, outcome) = match (tickets, held) {
            (0, _) => ("rejected", "rejected", "no_promo_items"),
            (_, true) => ("pending", "pending_moderation", "held_for_review"),
            (_, false) => ("accepted", "accepted", "accepted"),
        };
        let key = qr.dedup_key();
        let inserted = tx
            .query_opt(
                "INSERT INTO receipts (bot_id, user_id, submission_id, fiscal_drive_number,
                     fiscal_document_number, fiscal_sign, operation_type, receipt_at,
                     total_kopecks, seller_inn, seller_name, seller_address, items, raw_qr,
                     tickets, status, moderation_reason, fraud_signals)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (bot_id, fiscal_drive_number, fiscal_document_number, fiscal_sign)
                 DO NOTHING
                 RETURNING id",
                &[
                    &app.bot_id,
                    &self.submission.user_id,
                    &self.submission.id,
                    &qr.fiscal_drive_number(),
                    &i64::from(key.fiscal_document_number),
                    &i64::from(key.fiscal_sign),
                    &i16::from(qr.operation().code()),
                    &receipt.date_time,
                    &receipt.total_sum.get(),
                    &receipt.user_inn,
                    &receipt.user.as_deref().map(str::trim),
                    &receipt.retail_place_address,
                    &items,
                    &qr.canonical(),
                    &tickets,
                    &receipt_status,
                    &(tickets == 0).then_some("no_promo_items"),
                    &serde_json::to_value(&signals)?,
                ],
            )
            .await
            .context("storing the receipt")?;
        let Some(row) = inserted else {
            tx.rollback().await?;
            let updated = self
                .finish(
                    "rejected",
                    "duplicate",
                    Some("lost the race to a concurrent upload"),
                    None,
                )
                .await?;
            log_outcome(self.submission.id, "rejected", "duplicate");
            return Ok(updated.then(duplicate_reply));
        };
        let receipt_id: i64 = row.get(0);

        if receipt_status == "accepted" {
            crate::ledger::grant_for_receipt(
                &tx,
                app.bot_id,
                self.submission.user_id,
                receipt_id,
                tickets,
            )
            .await?;
        }
        let updated = tx
            .execute(
                "UPDATE receipt_submissions
                 SET status = $4, outcome = $5, outcome_detail = NULL, receipt_id = $6,
                     next_attempt_at = NULL, provider_calls = provider_calls + $7,
                     qr_raw = COALESCE(qr_raw, $8), updated_at = now()
                 WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                &[
                    &self.submission.id,
                    &app.bot_id,
                    &self.claimed_attempts,
                    &submission_status,
                    &outcome,
                    &receipt_id,
                    &self.provider_calls,
                    &self.decoded_qr,
                ],
            )
            .await?;
        if updated == 0 {
            // Taken over by another delivery after our lease ran out: it settles.
            tx.rollback().await?;
            return Ok(None);
        }
        let totals = tx
            .query_one(
                "SELECT
                     (SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets
                      WHERE bot_id = $1 AND user_id = $2),
                     (SELECT count(*) FROM receipts
                      WHERE bot_id = $1 AND user_id = $2 AND status = 'accepted')",
                &[&app.bot_id, &self.submission.user_id],
            )
            .await?;
        tx.commit().await.context("committing the receipt")?;
        self.provider_calls = 0;
        log_outcome(self.submission.id, submission_status, outcome);
        if !signals.is_empty() {
            tracing::info!(receipt_id, signals = %serde_json::to_value(&signals)?, "receipt fraud signals");
        }

        let total: i64 = totals.get(0);
        let accepted_receipts: i64 = totals.get(1);
        Ok(Some(match receipt_status {
            "accepted" => Reply {
                key: if accepted_receipts == 1 {
                    t!("receipt_accepted_first")
                } else {
                    t!("receipt_accepted")
                },
                args: vec![
                    ("tickets", tickets.to_string()),
                    ("total", total.to_string()),
                ],
            },
            "pending" => Reply::plain(t!("receipt_under_review")),
            _ => Reply::plain(t!("receipt_no_promo_items")),
        }))
    }

    /// Hands a claimed submission back after an infrastructure error, so the queue's
    /// redelivery can claim it at once instead of waiting for the lease.
    async fn release(&self) {
        let previous = if self.submission.status == "processing" {
            "queued"
        } else {
            self.submission.status.as_str()
        };
        let result = async {
            let client = self.app.pool.get().await?;
            client
                .execute(
                    "UPDATE receipt_submissions
                     SET status = $4, attempts = attempts - 1, updated_at = now()
                     WHERE id = $1 AND bot_id = $2 AND status = 'processing' AND attempts = $3",
                    &[
                        &self.submission.id,
                        &self.app.bot_id,
                        &self.claimed_attempts,
                        &previous,
                    ],
                )
                .await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(submission_id = self.submission.id, %error, "could not release the receipt submission; its lease will expire");
        }
    }
}

/// Every admin of the bot in Telegram (ADMIN_IDS and panel users linked to a Telegram
/// account) hears once per pause that receipt checks stopped and when they resume.
async fn tell_admins_of_quota_pause(app: &Receipts) {
    let admins = match quota_notice_recipients(app).await {
        Ok(admins) => admins,
        Err(error) => {
            tracing::warn!(%error, "could not list the admins to tell about the quota pause");
            return;
        }
    };
    let resume = (Utc::now() + QUOTA_PAUSE + chrono::Duration::hours(3))
        .format("%d.%m.%Y %H:%M")
        .to_string();
    for (chat_id, lang) in admins {
        let text = app
            .texts
            .render(t!("admin_quota_exhausted"), lang, &[("resume", &resume)])
            .await;
        if let Err(error) = app
            .telegram
            .send_message(&SendMessage::new(chat_id, text))
            .await
        {
            tracing::warn!(%error, "could not tell an admin about the quota pause");
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
    let info = match app.telegram.get_file(file_id).await {
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
    match app.telegram.download(&path, MAX_IMAGE_BYTES).await {
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

fn promo_period(app: &Receipts) -> PromoPeriod {
    PromoPeriod {
        start: app.settings.promo.start_date,
        end: app.settings.promo.end_date,
    }
}

fn eligibility(app: &Receipts, qr: &FiscalQr) -> Result<(), Verdict> {
    match qr.ensure_eligible(promo_period(app).bounds()) {
        Ok(()) => Ok(()),
        Err(NotEligible::NotASale(operation)) => Err(Verdict::rejected(
            "not_a_sale",
            operation.to_string(),
            Reply::plain(t!("receipt_not_a_sale")),
        )),
        Err(NotEligible::OutsidePromoPeriod(time)) => Err(out_of_window(app, time)),
    }
}

fn out_of_window(app: &Receipts, time: NaiveDateTime) -> Verdict {
    let format = |date: Option<NaiveDate>| {
        date.map_or_else(|| "…".to_owned(), |d| d.format("%d.%m.%Y").to_string())
    };
    let period = promo_period(app);
    // Dates only, so the same phrase works in every language.
    let span = format!("{} — {}", format(period.start), format(period.end));
    Verdict::rejected(
        "out_of_window",
        time.to_string(),
        Reply {
            key: t!("receipt_out_of_window"),
            args: vec![("date", format(Some(time.date()))), ("period", span)],
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
