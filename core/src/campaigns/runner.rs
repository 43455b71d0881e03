//! campaign-runner's engine: works off one campaign's deliveries in resumable slices under
//! the global send rate.
//!
//! A slice recovers rows a crashed runner left in `sending` (those the rate limiter had let
//! through become `unknown` and are never resent, since the message may have gone out; the
//! others go back to `pending`), materialises the recipients once, then
//! claims small batches with `FOR UPDATE SKIP LOCKED` and keeps up to
//! [`max_in_flight`] sends going at once, so the achieved rate does not depend on the Bot
//! API's round trip. Each delivery goes `pending → sending → sent | failed | blocked`;
//! a 429 puts it back to `pending` and pauses every runner. The slice stops launching
//! sends before its deadline, settles what is in flight and returns
//! [`SliceOutcome::Continue`] so the job handler enqueues the next slice. Several runners
//! may work one campaign at once: claims never overlap and every settlement is guarded by
//! `status = 'sending'`. A runner that runs out of rows while another's sends are still
//! in flight waits briefly for them and then re-checks with a growing delay, so a finished
//! campaign is marked `completed` within moments even when the runner that sent last never
//! gets to mark it (see [`complete_if_done`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use super::Campaigns;
use crate::db::PgPool;
use crate::jobs::CampaignJob;
use crate::queue::{JobError, JobMessage, QueueName, MAX_DELAY};
use crate::sendrate::{Permit, RateLimiter, WaitReason};
use crate::telegram::{
    InlineKeyboardButton, OutgoingMessage, ReplyMarkup, SendMessage, TelegramError,
};

/// A row left in `sending` longer than this belongs to a runner that died.
pub const STALE_SENDING_AFTER: Duration = Duration::from_secs(60);
/// How often the campaign's status is re-read (cancel/pause must act within a second).
const STATUS_EVERY: Duration = Duration::from_millis(300);
/// How long settled results may wait before they are written. After a crash, a sent
/// message whose result was not written yet is reported `unknown`: keep this short.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_BATCH: usize = 64;
/// A wait longer than this (a 429 pause) hands the claimed rows back, so other runners and
/// crash recovery never see them sitting in `sending` unsent.
const RELEASE_WHEN_WAITING: Duration = Duration::from_secs(1);
/// Sends of one delivery before a 5xx / network failure becomes final.
const MAX_ATTEMPTS: i32 = 5;
/// Longest time kept at the end of a slice to settle the sends still in flight.
const MAX_DRAIN: Duration = Duration::from_secs(2);
/// Slack between the end of the drain and the deadline, for the final writes.
const FINAL_WRITES: Duration = Duration::from_millis(50);
/// Slice length when no runtime deadline is known (`promo serve`, tests). Kept under the
/// in-process queue's 30 s visibility timeout: a longer slice would see its own message
/// redelivered, and two slices each enqueueing a continuation double the runners.
pub const LOCAL_SLICE: Duration = Duration::from_secs(20);
/// How long a slice that finds only other runners' sends in flight waits for them in
/// place. A live runner settles a send within the Bot API's answer plus [`FLUSH_EVERY`],
/// so this usually sees the last results land and completes the campaign at once,
/// without a continuation (and without SQS rounding its delay up to whole seconds).
const SETTLE_WAIT: Duration = Duration::from_secs(2);
/// First pause between those in-place checks; doubles after each, so the wait costs a
/// handful of cheap queries, not a busy loop.
const SETTLE_POLL: Duration = Duration::from_millis(100);
/// Shortest continuation delay while other runners' sends are still outstanding.
const RECHECK_MIN: Duration = Duration::from_secs(1);
/// Added to the time until rows turn stale, so the re-check does not arrive a hair early
/// (the database's clock decides staleness) and have to ask again.
const STALE_MARGIN: Duration = Duration::from_millis(250);
const TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;

/// How a slice ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SliceOutcome {
    /// Every delivery is settled and the campaign is `completed`.
    Completed,
    /// Work is left: enqueue [`CampaignJob::Run`] again after `after` (zero when the
    /// slice ran out of time; a second or more when only other runners' sends are
    /// outstanding, growing with how long they have been in flight).
    Continue { after: Duration },
    /// Nothing to do: the campaign is not running and not due (paused, cancelled,
    /// finished, failed, scheduled later, missing, or a raffle that could not be drawn). `status` is its status,
    /// `None` when it does not exist for this bot.
    Idle { status: Option<String> },
}

/// Message content of a broadcast or single message, as stored in `campaigns.content`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CampaignContent {
    /// The message, or the caption when there is a photo.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub parse_mode: Option<String>,
    #[serde(default)]
    pub button: Option<UrlButton>,
    /// A photo as an http(s) URL (Telegram fetches it) or a Telegram `file_id`.
    #[serde(default)]
    pub photo: Option<String>,
    /// The `file_id` Telegram gave the URL photo on its first send; the runner stores it
    /// so every other recipient gets the same file without another download.
    #[serde(default)]
    pub photo_file_id: Option<String>,
}

/// An inline button opening a URL under the message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UrlButton {
    pub text: String,
    pub url: String,
}

impl CampaignContent {
    /// Parses and validates `campaigns.content`; the error is shown to the operator.
    pub fn parse(content: &Value) -> Result<Self, String> {
        let content: CampaignContent = serde_json::from_value(content.clone())
            .map_err(|e| format!("content is not valid: {e}"))?;
        let length = content.text.chars().count();
        match &content.photo {
            Some(photo) if photo.trim().is_empty() => {
                return Err("photo must be a URL or a file_id".into())
            }
            Some(_) if length > CAPTION_LIMIT => {
                return Err(format!(
                    "a caption has at most {CAPTION_LIMIT} characters, this one {length}"
                ));
            }
            Some(_) => {}
            None if content.text.trim().is_empty() || length > TEXT_LIMIT => {
                return Err(format!(
                    "text must have 1..{TEXT_LIMIT} characters, has {length}"
                ));
            }
            None => {}
        }
        if let Some(mode) = &content.parse_mode {
            if parse_mode(mode).is_none() {
                return Err(format!("unknown parse_mode {mode:?}"));
            }
        }
        if let Some(button) = &content.button {
            let scheme_ok = ["https://", "http://", "tg://"]
                .iter()
                .any(|scheme| button.url.starts_with(scheme));
            if button.text.trim().is_empty() || !scheme_ok {
                return Err("the button needs a text and an http(s) or tg:// url".into());
            }
        }
        Ok(content)
    }

    /// The `sendMessage` call for one chat.
    pub fn message(&self, chat_id: i64, paid_broadcast: bool) -> SendMessage {
        let mut message = SendMessage::new(chat_id, self.text.clone());
        message.parse_mode = self.parse_mode.as_deref().and_then(parse_mode);
        if let Some(button) = &self.button {
            message.reply_markup = Some(ReplyMarkup::from(vec![vec![InlineKeyboardButton::url(
                &button.text,
                &button.url,
            )]]));
        }
        message.allow_paid_broadcast = paid_broadcast;
        message
    }

    /// The Bot API method and parameters for one chat: `sendMessage`, or `sendPhoto`
    /// with the text as caption.
    pub fn request(&self, chat_id: i64, paid_broadcast: bool) -> OutgoingMessage {
        let message = self.message(chat_id, paid_broadcast);
        let Some(photo) = &self.photo else {
            return OutgoingMessage::Send(message);
        };
        let mut params = serde_json::to_value(&message).unwrap_or(Value::Null);
        let Value::Object(map) = &mut params else {
            return OutgoingMessage::Send(message);
        };
        let text = map.remove("text");
        if !self.text.is_empty() {
            map.insert("caption".into(), text.unwrap_or(Value::Null));
        }
        map.remove("link_preview_options");
        let photo = self.photo_file_id.as_ref().unwrap_or(photo);
        map.insert("photo".into(), Value::String(photo.clone()));
        OutgoingMessage::Call {
            method: "sendPhoto",
            params,
        }
    }

    /// Whether the next send uploads the photo (a URL Telegram has not fetched for us
    /// yet): that send goes alone, and its `file_id` serves everyone after it.
    pub fn needs_upload(&self) -> bool {
        self.photo_file_id.is_none()
            && self
                .photo
                .as_ref()
                .is_some_and(|photo| photo.starts_with("https://") || photo.starts_with("http://"))
    }
}

/// The `file_id` of the largest size of the photo in a sent message.
fn largest_photo_file_id(message: &Value) -> Option<String> {
    message
        .get("photo")?
        .as_array()?
        .iter()
        .max_by_key(|size| {
            let side = |key: &str| size.get(key).and_then(Value::as_i64).unwrap_or(0);
            side("width") * side("height")
        })?
        .get("file_id")?
        .as_str()
        .map(str::to_owned)
}

fn parse_mode(mode: &str) -> Option<&'static str> {
    match mode {
        "HTML" => Some("HTML"),
        "MarkdownV2" => Some("MarkdownV2"),
        "Markdown" => Some("Markdown"),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
struct Audience {
    #[serde(default)]
    user_ids: Option<Vec<i64>>,
}

/// Sends kept in flight at once: enough for ~250 ms of Bot API latency at the configured
/// rate, so the round trip never throttles the rate.
pub fn max_in_flight(rate_per_second: u32) -> usize {
    (rate_per_second as usize / 4).clamp(8, 256)
}

/// Rows claimed per batch: about 50 ms of sending, so little sits claimed but unsent
/// (after a crash such rows wait a minute before another runner takes them); claiming
/// ahead in the background keeps the many small queries off the send loop.
fn claim_batch(rate_per_second: u32) -> i64 {
    i64::from(rate_per_second / 20).clamp(1, 50)
}

#[derive(Debug, Clone)]
struct Delivery {
    id: i64,
    user_id: i64,
    chat_id: i64,
    attempts: i32,
}

/// What a send did to its delivery row.
#[derive(Debug)]
struct Settlement {
    id: i64,
    status: &'static str,
    error: Option<String>,
    message_id: Option<i64>,
    /// Whether this send counts as an attempt (a 429 does not).
    attempted: bool,
    /// For `pending`: wait the attempt-based backoff before the row is claimed again.
    backoff: bool,
    /// The user cannot be reached any more (403, chat not found).
    unreachable: bool,
}

/// Runs one slice of `campaign_id` until it is done, stopped, or `deadline` is near.
pub async fn run_campaign(
    app: &Campaigns,
    campaign_id: i64,
    deadline: Instant,
) -> anyhow::Result<SliceOutcome> {
    let Some(campaign) = start(app, campaign_id).await? else {
        // Raffles are never `start`ed: they are drawn once, in their own module.
        if let Some(raffle) = crate::raffle::run_raffle(&app.raffles, campaign_id).await? {
            return Ok(raffle_slice_outcome(&raffle));
        }
        let status = status_of(app, campaign_id).await?;
        return Ok(SliceOutcome::Idle { status });
    };
    recover_stale(app, campaign_id).await?;
    let content = match CampaignContent::parse(&campaign.content) {
        Ok(content) => content,
        Err(reason) => return fail(app, campaign_id, &reason).await,
    };
    if !campaign.materialized {
        let audience: Audience = match serde_json::from_value(campaign.audience.clone()) {
            Ok(audience) => audience,
            Err(e) => return fail(app, campaign_id, &format!("audience is not valid: {e}")).await,
        };
        if campaign.kind == "single_message" && audience.user_ids.is_none() {
            return fail(app, campaign_id, "a single message needs audience.user_ids").await;
        }
        let total = materialize(app, campaign_id, &campaign.kind, &audience).await?;
        tracing::info!(campaign_id, total, "campaign recipients materialised");
    }
    let mut slice = Slice::new(app, campaign_id, content, campaign.paid_broadcast, deadline);
    let outcome = slice.run().await;
    slice.finish().await?;
    match outcome? {
        Ending::Halted(status) => Ok(SliceOutcome::Idle {
            status: Some(status),
        }),
        Ending::Deadline => Ok(SliceOutcome::Continue {
            after: Duration::ZERO,
        }),
        Ending::NothingToClaim => complete_if_done(app, campaign_id, deadline).await,
    }
}

/// What the runner reports for a raffle it handed to [`crate::raffle::run_raffle`].
fn raffle_slice_outcome(raffle: &crate::raffle::RaffleOutcome) -> SliceOutcome {
    if raffle.status == "completed" {
        SliceOutcome::Completed
    } else {
        SliceOutcome::Idle {
            status: Some(raffle.status.clone()),
        }
    }
}

/// The job handler's body: one slice, then a continuation if work is left.
pub async fn handle_run_job(
    app: &Campaigns,
    message: JobMessage,
    deadline: Instant,
) -> Result<(), JobError> {
    let CampaignJob::Run { campaign_id } = message.parse_json()?;
    let outcome = run_campaign(app, campaign_id, deadline).await?;
    tracing::info!(campaign_id, ?outcome, "campaign slice finished");
    if let SliceOutcome::Continue { after } = outcome {
        let body = serde_json::to_string(&CampaignJob::Run { campaign_id })
            .map_err(anyhow::Error::from)?;
        app.queue
            .send(QueueName::Campaigns, body, after.min(MAX_DELAY))
            .await
            .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// A slice deadline from a Lambda context's `deadline` (milliseconds since the Unix
/// epoch), less a margin for acknowledging the message and enqueueing the continuation.
pub fn deadline_from_epoch_millis(deadline_ms: u64) -> Instant {
    const MARGIN: Duration = Duration::from_secs(3);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(MARGIN)
}

struct Started {
    kind: String,
    content: Value,
    audience: Value,
    paid_broadcast: bool,
    materialized: bool,
}

/// Marks a due campaign `running`; `None` when it is not runnable now.
async fn start(app: &Campaigns, campaign_id: i64) -> anyhow::Result<Option<Started>> {
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE campaigns
             SET status = 'running', started_at = COALESCE(started_at, now()),
                 heartbeat_at = now(), updated_at = now()
             WHERE id = $1 AND bot_id = $2 AND kind IN ('broadcast', 'single_message')
               AND (status = 'running'
                    OR (status = 'scheduled' AND (scheduled_for IS NULL OR scheduled_for <= now())))
             RETURNING kind, content, audience, paid_broadcast, materialized_at IS NOT NULL",
            &[&campaign_id, &app.bot_id],
        )
        .await
        .context("starting the campaign")?;
    Ok(row.map(|row| Started {
        kind: row.get(0),
        content: row.get(1),
        audience: row.get(2),
        paid_broadcast: row.get(3),
        materialized: row.get(4),
    }))
}

async fn status_of(app: &Campaigns, campaign_id: i64) -> anyhow::Result<Option<String>> {
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT status FROM campaigns WHERE id = $1 AND bot_id = $2",
            &[&campaign_id, &app.bot_id],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

async fn fail(app: &Campaigns, campaign_id: i64, reason: &str) -> anyhow::Result<SliceOutcome> {
    tracing::warn!(campaign_id, reason, "campaign failed");
    let client = app.pool.get().await?;
    client
        .execute(
            "UPDATE campaigns SET status = 'failed', error = $2, finished_at = now(),
                    updated_at = now()
             WHERE id = $1 AND status = 'running'",
            &[&campaign_id, &reason],
        )
        .await?;
    Ok(SliceOutcome::Idle {
        status: Some("failed".into()),
    })
}

/// The Redis set (under the bot's prefix) of this campaign's deliveries that were let
/// through the rate limiter, written atomically with each grant.
pub fn launch_record(campaign_id: i64) -> String {
    format!("campaign:{campaign_id}:launched")
}

/// Settles rows a dead runner left in `sending`. A row the rate limiter let through may
/// have reached the user, and a second copy is worse than a missing one: it becomes
/// `unknown` and is never resent. A row that never got a send slot cannot have been
/// sent: it goes back to `pending`. Without the launch record (nothing was granted yet, or
/// Redis lost it) every stale row counts as possibly sent.
async fn recover_stale(app: &Campaigns, campaign_id: i64) -> anyhow::Result<()> {
    let client = app.pool.get().await?;
    let stale: Vec<i64> = client
        .query(
            "SELECT id FROM campaign_deliveries
             WHERE campaign_id = $1 AND status = 'sending'
               AND (claimed_at IS NULL OR claimed_at < now() - make_interval(secs => $2))",
            &[&campaign_id, &STALE_SENDING_AFTER.as_secs_f64()],
        )
        .await
        .context("finding deliveries left in flight")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let (maybe_sent, never_sent) = split_launched(app, campaign_id, &stale).await?;
    let row = client
        .query_one(
            "WITH maybe AS (
                 UPDATE campaign_deliveries
                 SET status = 'unknown', error = 'the runner stopped while sending'
                 WHERE id = ANY($2) AND status = 'sending'
                 RETURNING 1
             ), back AS (
                 UPDATE campaign_deliveries SET status = 'pending', claimed_at = NULL
                 WHERE id = ANY($3) AND status = 'sending'
                 RETURNING 1
             ), counted AS (
                 UPDATE campaigns SET unknown = unknown + (SELECT count(*) FROM maybe)::int
                 WHERE id = $1 AND EXISTS (SELECT 1 FROM maybe)
             )
             SELECT (SELECT count(*) FROM maybe), (SELECT count(*) FROM back)",
            &[&campaign_id, &maybe_sent, &never_sent],
        )
        .await
        .context("recovering deliveries left in flight")?;
    let (unknown, resumed): (i64, i64) = (row.get(0), row.get(1));
    tracing::warn!(
        campaign_id,
        unknown,
        resumed,
        "deliveries left by a stopped runner recovered"
    );
    Ok(())
}

/// Splits stale rows into (possibly sent, never sent) by the launch record.
async fn split_launched(
    app: &Campaigns,
    campaign_id: i64,
    ids: &[i64],
) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    let key = app.redis.key(&launch_record(campaign_id));
    let mut conn = app.redis.connection();
    let recorded: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .context("reading the launch record")?;
    if !recorded {
        return Ok((ids.to_vec(), Vec::new()));
    }
    let launched: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg(&key)
        .arg(ids)
        .query_async(&mut conn)
        .await
        .context("reading the launch record")?;
    let mut maybe = Vec::new();
    let mut never = Vec::new();
    // A missing answer counts as launched: the safe side is never resending.
    let flags = launched.into_iter().chain(std::iter::repeat(true));
    for (id, launched) in ids.iter().copied().zip(flags) {
        if launched {
            maybe.push(id);
        } else {
            never.push(id);
        }
    }
    Ok((maybe, never))
}

/// Inserts one delivery per eligible recipient, once: the campaign row lock and
/// `materialized_at` make a second runner (or a redelivered job) skip it.
async fn materialize(
    app: &Campaigns,
    campaign_id: i64,
    kind: &str,
    audience: &Audience,
) -> anyhow::Result<i32> {
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "SELECT materialized_at IS NOT NULL, total FROM campaigns WHERE id = $1 FOR UPDATE",
            &[&campaign_id],
        )
        .await?;
    if row.get::<_, bool>(0) {
        return Ok(row.get(1));
    }
    let registered_only = kind == "broadcast";
    tx.execute(
        "INSERT INTO campaign_deliveries (campaign_id, bot_id, user_id, chat_id)
         SELECT $1, u.bot_id, u.id, u.telegram_id FROM users u
         WHERE u.bot_id = $2 AND u.reachable
           AND ($3::bigint[] IS NULL OR u.id = ANY($3))
           AND (NOT $4 OR u.status = 'registered')
         ORDER BY u.id
         ON CONFLICT (campaign_id, user_id) DO NOTHING",
        &[
            &campaign_id,
            &app.bot_id,
            &audience.user_ids,
            &registered_only,
        ],
    )
    .await
    .context("materialising recipients")?;
    let row = tx
        .query_one(
            "UPDATE campaigns
             SET materialized_at = now(), updated_at = now(),
                 total = (SELECT count(*) FROM campaign_deliveries WHERE campaign_id = $1)::int
             WHERE id = $1 RETURNING total",
            &[&campaign_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row.get(0))
}

/// Marks the campaign `completed` when nothing is pending or in flight, with counters
/// recomputed from the rows; otherwise says when to look again.
///
/// Rows still in `sending` belong to other runners (this slice has settled or handed
/// back all of its own). A live runner's rows settle within moments, and normally that
/// runner completes the campaign itself; but it may die or fail right after writing its
/// last results, before its own check. So this waits for them in place for up to
/// [`SETTLE_WAIT`] (within the slice's deadline), then asks for a continuation after
/// about as long as they have already been in flight: a second or two for a live
/// runner's tail, growing geometrically for a dead runner's rows, and never later than
/// the moment those turn stale ([`STALE_SENDING_AFTER`]), when [`recover_stale`] settles
/// them. Crash safety is unchanged: only rows older than that are ever taken over.
async fn complete_if_done(
    app: &Campaigns,
    campaign_id: i64,
    deadline: Instant,
) -> anyhow::Result<SliceOutcome> {
    let waiting_since = Instant::now();
    let mut poll = SETTLE_POLL;
    loop {
        let outstanding = outstanding(app, campaign_id).await?;
        if outstanding.pending > 0 {
            return Ok(SliceOutcome::Continue {
                after: Duration::ZERO,
            });
        }
        if outstanding.sending == 0 {
            break;
        }
        let now = Instant::now();
        let waited = now - waiting_since;
        if waited + poll <= SETTLE_WAIT && now + poll + FINAL_WRITES <= deadline {
            tokio::time::sleep(poll).await;
            poll *= 2;
            continue;
        }
        return Ok(SliceOutcome::Continue {
            after: recheck_after(outstanding.oldest_in_flight),
        });
    }
    let client = app.pool.get().await?;
    let completed = client
        .execute(
            "UPDATE campaigns c
             SET status = 'completed', finished_at = now(), updated_at = now(),
                 total = agg.total, sent = agg.sent, failed = agg.failed,
                 blocked = agg.blocked, unknown = agg.unknown
             FROM (SELECT count(*)::int AS total,
                          (count(*) FILTER (WHERE status = 'sent'))::int AS sent,
                          (count(*) FILTER (WHERE status = 'failed'))::int AS failed,
                          (count(*) FILTER (WHERE status = 'blocked'))::int AS blocked,
                          (count(*) FILTER (WHERE status = 'unknown'))::int AS unknown
                   FROM campaign_deliveries WHERE campaign_id = $1) agg
             WHERE c.id = $1 AND c.status = 'running'",
            &[&campaign_id],
        )
        .await?;
    if completed == 1 {
        tracing::info!(campaign_id, "campaign completed");
        Ok(SliceOutcome::Completed)
    } else {
        Ok(SliceOutcome::Idle {
            status: status_of(app, campaign_id).await?,
        })
    }
}

/// Deliveries of a campaign not settled yet.
struct Outstanding {
    pending: i64,
    sending: i64,
    /// How long the oldest row in `sending` has been claimed.
    oldest_in_flight: Duration,
}

/// Settles stale rows first (see [`recover_stale`]), then counts what is left.
async fn outstanding(app: &Campaigns, campaign_id: i64) -> anyhow::Result<Outstanding> {
    recover_stale(app, campaign_id).await?;
    let client = app.pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'pending'),
                    count(*) FILTER (WHERE status = 'sending'),
                    COALESCE(EXTRACT(EPOCH FROM now() - min(claimed_at)
                             FILTER (WHERE status = 'sending'))::float8, 0)
             FROM campaign_deliveries WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .context("counting outstanding deliveries")?;
    let oldest_secs: f64 = row.get(2);
    Ok(Outstanding {
        pending: row.get(0),
        sending: row.get(1),
        // A clock step can make the age negative (or a bogus value NaN): read it as fresh.
        oldest_in_flight: Duration::try_from_secs_f64(oldest_secs).unwrap_or(Duration::ZERO),
    })
}

/// When to look again at sends that have been in flight elsewhere for `oldest`: after
/// about that long again (so a dead runner's rows cost a handful of checks, not one per
/// second), at least [`RECHECK_MIN`], and no later than just after they turn stale.
fn recheck_after(oldest: Duration) -> Duration {
    let until_stale = STALE_SENDING_AFTER.saturating_sub(oldest) + STALE_MARGIN;
    oldest.max(RECHECK_MIN).min(until_stale.max(RECHECK_MIN))
}

/// Why the send loop stopped.
enum Ending {
    /// The campaign left `running` (paused, cancelled, ...).
    Halted(String),
    /// The slice's time is up.
    Deadline,
    /// No row is left to claim (some may still be in flight elsewhere or in backoff).
    NothingToClaim,
}

/// A send's delivery and Telegram's answer (the sent `Message` on success).
type SendResult = (Delivery, Result<Value, TelegramError>);

struct Slice<'a> {
    app: &'a Campaigns,
    campaign_id: i64,
    content: CampaignContent,
    paid_broadcast: bool,
    limiter: RateLimiter,
    deadline: Instant,
    /// No new send starts after this; the rest of the slice settles those in flight.
    stop_launching_at: Instant,
    max_in_flight: usize,
    claim_batch: i64,
    /// Claimed (`sending` in the database) but not sent yet.
    claimed: VecDeque<Delivery>,
    /// Claimed, but their chat got a message less than a second ago.
    deferred: Vec<(Instant, Delivery)>,
    in_flight: JoinSet<SendResult>,
    settled: Vec<Settlement>,
    last_flush: Instant,
    /// The next batch being claimed beside the send loop.
    claiming: Option<JoinHandle<anyhow::Result<Vec<Delivery>>>>,
    /// The last claim found nothing: stop prefetching until the loop runs dry.
    nothing_left: bool,
    /// The write of the previous batch of results, running beside the send loop.
    flushing: Option<JoinHandle<anyhow::Result<()>>>,
    /// The campaign's status as the heartbeat task last read it.
    status: watch::Receiver<String>,
    heartbeat: AbortHandle,
    /// End of a global pause this runner was told about.
    paused_until: Option<Instant>,
    /// The send in flight uploads the photo; the others wait for its `file_id`.
    uploading: bool,
    /// See [`launch_record`].
    launch_record: String,
}

impl<'a> Slice<'a> {
    fn new(
        app: &'a Campaigns,
        campaign_id: i64,
        content: CampaignContent,
        paid_broadcast: bool,
        deadline: Instant,
    ) -> Self {
        let rate = app.settings.broadcast_rate_per_second;
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        let drain = (left / 5).min(MAX_DRAIN);
        let (status, heartbeat) = spawn_heartbeat(app.pool.clone(), campaign_id);
        Slice {
            app,
            campaign_id,
            content,
            paid_broadcast: paid_broadcast || app.settings.paid_broadcast,
            limiter: RateLimiter::new(&app.redis, rate),
            deadline,
            stop_launching_at: deadline.checked_sub(drain).unwrap_or(now),
            max_in_flight: max_in_flight(rate),
            claim_batch: claim_batch(rate),
            claimed: VecDeque::new(),
            deferred: Vec::new(),
            in_flight: JoinSet::new(),
            settled: Vec::new(),
            last_flush: now,
            flushing: None,
            claiming: None,
            nothing_left: false,
            status,
            heartbeat,
            paused_until: None,
            uploading: false,
            launch_record: launch_record(campaign_id),
        }
    }

    /// The send loop. Errors leave claimed rows for [`Slice::finish`] to hand back.
    async fn run(&mut self) -> anyhow::Result<Ending> {
        // Set after waiting for a rate slot: the slot is due now, so the housekeeping below
        // waits until after the send. Done first, it would make the send late, and
        // lateness beyond the limiter's tolerance pushes the whole schedule back.
        let mut slot_due = false;
        loop {
            while let Some(joined) = self.in_flight.try_join_next() {
                self.on_sent(joined).await?;
            }
            let housekeeping = !std::mem::take(&mut slot_due);
            if housekeeping
                && (self.settled.len() >= FLUSH_BATCH || self.last_flush.elapsed() >= FLUSH_EVERY)
            {
                self.start_flush()?;
            }
            if *self.status.borrow() != "running" {
                return Ok(Ending::Halted(self.status.borrow().clone()));
            }
            let now = Instant::now();
            if now >= self.stop_launching_at {
                return Ok(Ending::Deadline);
            }
            if let Some(until) = self.paused_until.filter(|until| *until > now) {
                // Claimed rows must not sit in `sending` through a long pause: past a
                // minute, recovery would hand them to another runner while we hold them.
                if until - now >= RELEASE_WHEN_WAITING {
                    self.release().await?;
                }
                self.idle(until - now, false).await?;
                continue;
            }
            self.take_ready_deferred(now);
            self.prefetch()?;
            if self.claimed.is_empty() && self.claim_now().await? == 0 {
                if self.in_flight.is_empty() && self.deferred.is_empty() {
                    if self.flushing.is_some() || !self.settled.is_empty() {
                        // A 429 result not yet written is a row that will be pending again.
                        self.flush_all().await?;
                        continue;
                    }
                    if self.has_pending().await? {
                        // Rows in retry backoff: they become claimable shortly.
                        self.idle(STATUS_EVERY, false).await?;
                        continue;
                    }
                    return Ok(Ending::NothingToClaim);
                }
                let wait = self
                    .deferred
                    .iter()
                    .map(|(at, _)| at.saturating_duration_since(now))
                    .min()
                    .unwrap_or(STATUS_EVERY);
                self.idle(wait, true).await?;
                continue;
            }
            if self.uploading || self.in_flight.len() >= self.max_in_flight {
                self.idle(STATUS_EVERY, true).await?;
                continue;
            }
            let Some(delivery) = self.claimed.pop_front() else {
                continue;
            };
            let record = (self.launch_record.as_str(), delivery.id);
            match self
                .limiter
                .try_acquire_recorded(delivery.chat_id, Some(record))
                .await?
            {
                Permit::Granted => self.launch(delivery),
                Permit::Wait {
                    wait,
                    reason: WaitReason::ChatBusy,
                } => self.deferred.push((Instant::now() + wait, delivery)),
                Permit::Wait {
                    wait,
                    reason: WaitReason::Rate,
                } => {
                    self.claimed.push_front(delivery);
                    self.idle(wait, false).await?;
                    slot_due = true;
                }
                Permit::Wait {
                    wait,
                    reason: WaitReason::Paused,
                } => {
                    // The next turn of the loop waits (and hands rows back if it is long).
                    self.claimed.push_front(delivery);
                    self.paused_until = Some(Instant::now() + wait);
                }
            }
        }
    }

    /// Settles what is in flight (until shortly before the deadline), writes every result
    /// and hands back the rows that were claimed but not sent.
    async fn finish(&mut self) -> anyhow::Result<()> {
        let drain_until = self
            .deadline
            .checked_sub(FINAL_WRITES)
            .unwrap_or(self.deadline);
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(drain_until.into(), self.in_flight.join_next()).await {
                Ok(Some(joined)) => self.on_sent(joined).await?,
                Ok(None) => break,
                Err(_) => {
                    // Still unanswered at the deadline: these rows stay `sending` and
                    // become `unknown` once stale, exactly like a crash in flight.
                    tracing::warn!(
                        campaign_id = self.campaign_id,
                        abandoned = self.in_flight.len(),
                        "sends still in flight at the slice deadline"
                    );
                    self.in_flight.abort_all();
                    break;
                }
            }
        }
        self.heartbeat.abort();
        // Hand the unsent rows back even when writing results failed: left in `sending`
        // they would turn `unknown` and never be sent.
        let written = self.flush_all().await;
        let released = self.release().await;
        written.and(released)
    }

    /// Sleeps up to `wait` (at most [`STATUS_EVERY`], never past the launch cutoff, and
    /// not beyond a change of the campaign's status), settling sends that finish
    /// meanwhile; with `wake_on_done` the first finished send ends the wait (a free slot
    /// or a written result may be what the loop waits for).
    async fn idle(&mut self, wait: Duration, wake_on_done: bool) -> anyhow::Result<()> {
        let until = (Instant::now() + wait.min(STATUS_EVERY)).min(self.stop_launching_at);
        let sleep = tokio::time::sleep_until(until.into());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                Ok(()) = self.status.changed() => return Ok(()),
                Some(joined) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    self.on_sent(joined).await?;
                    if wake_on_done {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn launch(&mut self, delivery: Delivery) {
        self.uploading = self.content.needs_upload();
        let request = self.content.request(delivery.chat_id, self.paid_broadcast);
        let (method, params) = (request.method(), request.params());
        let telegram = self.app.telegram.clone();
        self.in_flight.spawn(async move {
            let result = telegram.call::<Value, Value>(method, &params).await;
            (delivery, result)
        });
    }

    /// Keeps the photo's `file_id` after its first successful upload, in memory and in
    /// the campaign row, so later sends and slices reuse it.
    async fn remember_photo(&mut self, message: &Value) -> anyhow::Result<()> {
        let Some(file_id) = largest_photo_file_id(message) else {
            return Ok(());
        };
        let client = self.app.pool.get().await?;
        client
            .execute(
                "UPDATE campaigns SET content = jsonb_set(content, '{photo_file_id}', to_jsonb($2::text))
                 WHERE id = $1",
                &[&self.campaign_id, &file_id],
            )
            .await
            .context("storing the photo's file_id")?;
        self.content.photo_file_id = Some(file_id);
        Ok(())
    }

    fn take_ready_deferred(&mut self, now: Instant) {
        let mut index = 0;
        while index < self.deferred.len() {
            if self.deferred[index].0 <= now {
                let (_, delivery) = self.deferred.swap_remove(index);
                self.claimed.push_front(delivery);
            } else {
                index += 1;
            }
        }
    }

    async fn on_sent(
        &mut self,
        joined: Result<SendResult, tokio::task::JoinError>,
    ) -> anyhow::Result<()> {
        let (delivery, result) = match joined {
            Ok(done) => done,
            Err(e) => {
                // The row stays `sending` and becomes `unknown` once stale.
                tracing::error!(campaign_id = self.campaign_id, error = %e, "send task failed");
                return Ok(());
            }
        };
        if std::mem::take(&mut self.uploading) {
            if let Ok(message) = &result {
                self.remember_photo(message).await?;
            }
        }
        let (settlement, pause) = settle(&delivery, result);
        if let Some(pause) = pause {
            let in_force = self.limiter.pause_for(pause).await?;
            self.paused_until = Some(Instant::now() + in_force);
            tracing::warn!(
                campaign_id = self.campaign_id,
                pause_ms = in_force.as_millis() as u64,
                "Telegram asked to slow down; every runner pauses"
            );
        }
        self.settled.push(settlement);
        Ok(())
    }

    /// Starts claiming the next batch beside the send loop once the current one runs
    /// low, so the query never stalls a due send.
    fn prefetch(&mut self) -> anyhow::Result<()> {
        if let Some(mut running) = self.claiming.take() {
            match (&mut running).now_or_never() {
                Some(done) => self.take_claimed(done.context("the claimer panicked")??),
                None => {
                    self.claiming = Some(running);
                    return Ok(());
                }
            }
        }
        if !self.nothing_left && self.claimed.len() * 2 <= self.claim_batch as usize {
            self.start_claim();
        }
        Ok(())
    }

    fn start_claim(&mut self) {
        let pool = self.app.pool.clone();
        self.claiming = Some(tokio::spawn(claim(
            pool,
            self.campaign_id,
            self.claim_batch,
        )));
    }

    /// Claims a batch now (or waits for the one being claimed); returns its size.
    async fn claim_now(&mut self) -> anyhow::Result<usize> {
        if self.claiming.is_none() {
            self.start_claim();
        }
        let Some(running) = self.claiming.take() else {
            return Ok(0);
        };
        let batch = running.await.context("the claimer panicked")??;
        let count = batch.len();
        self.take_claimed(batch);
        Ok(count)
    }

    fn take_claimed(&mut self, batch: Vec<Delivery>) {
        self.nothing_left = batch.is_empty();
        self.claimed.extend(batch);
    }

    async fn has_pending(&self) -> anyhow::Result<bool> {
        let client = self.app.pool.get().await?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM campaign_deliveries
                                WHERE campaign_id = $1 AND status = 'pending')",
                &[&self.campaign_id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Hands claimed-but-unsent rows back to `pending`.
    async fn release(&mut self) -> anyhow::Result<()> {
        if let Some(running) = self.claiming.take() {
            // Its rows are `sending` now: collect them so they are handed back too.
            if let Ok(Ok(batch)) = running.await {
                self.claimed.extend(batch);
            }
        }
        let ids: Vec<i64> = self
            .claimed
            .drain(..)
            .chain(self.deferred.drain(..).map(|(_, d)| d))
            .map(|d| d.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.app.pool.get().await?;
        client
            .execute(
                "UPDATE campaign_deliveries SET status = 'pending', claimed_at = NULL
                 WHERE id = ANY($1) AND status = 'sending'",
                &[&ids],
            )
            .await
            .context("handing back unsent deliveries")?;
        Ok(())
    }

    /// Starts writing the settled results beside the send loop, unless the previous
    /// write is still running (then they go with the next one).
    fn start_flush(&mut self) -> anyhow::Result<()> {
        if let Some(mut running) = self.flushing.take() {
            match (&mut running).now_or_never() {
                Some(done) => done.context("the result writer panicked")??,
                None => {
                    self.flushing = Some(running);
                    return Ok(());
                }
            }
        }
        self.last_flush = Instant::now();
        if self.settled.is_empty() {
            return Ok(());
        }
        let settled = std::mem::take(&mut self.settled);
        let pool = self.app.pool.clone();
        self.flushing = Some(tokio::spawn(write_settlements(
            pool,
            self.campaign_id,
            settled,
        )));
        Ok(())
    }

    /// Waits for the running write, then writes whatever is left.
    async fn flush_all(&mut self) -> anyhow::Result<()> {
        if let Some(running) = self.flushing.take() {
            running.await.context("the result writer panicked")??;
        }
        self.last_flush = Instant::now();
        if self.settled.is_empty() {
            return Ok(());
        }
        let settled = std::mem::take(&mut self.settled);
        write_settlements(self.app.pool.clone(), self.campaign_id, settled).await
    }
}

impl Drop for Slice<'_> {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// Moves up to `limit` pending deliveries, oldest first, to `sending`. Rows in retry
/// backoff (5xx, network) wait 0.5 s, 1 s, 2 s, 4 s after their attempts.
async fn claim(pool: PgPool, campaign_id: i64, limit: i64) -> anyhow::Result<Vec<Delivery>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "UPDATE campaign_deliveries d SET status = 'sending', claimed_at = now()
             WHERE d.id IN (
                 SELECT id FROM campaign_deliveries
                 WHERE campaign_id = $1 AND status = 'pending'
                   AND (claimed_at IS NULL
                        OR claimed_at < now() - interval '250 milliseconds' * power(2, attempts))
                 ORDER BY id LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             RETURNING d.id, d.user_id, d.chat_id, d.attempts",
            &[&campaign_id, &limit],
        )
        .await
        .context("claiming deliveries")?;
    let mut batch: Vec<Delivery> = rows
        .iter()
        .map(|row| Delivery {
            id: row.get(0),
            user_id: row.get(1),
            chat_id: row.get(2),
            attempts: row.get(3),
        })
        .collect();
    batch.sort_by_key(|d| d.id);
    Ok(batch)
}

/// Re-reads the campaign's status (and proves the runner alive to the bridge's stall
/// sweep) every [`STATUS_EVERY`], off the send loop so a slow query never delays a send.
fn spawn_heartbeat(pool: PgPool, campaign_id: i64) -> (watch::Receiver<String>, AbortHandle) {
    let (tx, rx) = watch::channel("running".to_owned());
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(STATUS_EVERY).await;
            match heartbeat(&pool, campaign_id).await {
                Ok(status) => {
                    // Only a change wakes the send loop.
                    tx.send_if_modified(|current| {
                        let changed = *current != status;
                        if changed {
                            *current = status;
                        }
                        changed
                    });
                    if tx.is_closed() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(campaign_id, error = %format!("{e:#}"), "campaign heartbeat failed")
                }
            }
        }
    });
    (rx, task.abort_handle())
}

async fn heartbeat(pool: &PgPool, campaign_id: i64) -> anyhow::Result<String> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE campaigns SET heartbeat_at = now() WHERE id = $1 RETURNING status",
            &[&campaign_id],
        )
        .await?;
    Ok(row.map_or_else(|| "deleted".to_owned(), |row| row.get(0)))
}

/// Writes settled results and the campaign's counters in one statement; a row that is
/// no longer `sending` (recovered meanwhile) is left alone and not counted.
async fn write_settlements(
    pool: PgPool,
    campaign_id: i64,
    settled: Vec<Settlement>,
) -> anyhow::Result<()> {
    let ids: Vec<i64> = settled.iter().map(|s| s.id).collect();
    let statuses: Vec<&str> = settled.iter().map(|s| s.status).collect();
    let errors: Vec<Option<&str>> = settled.iter().map(|s| s.error.as_deref()).collect();
    let message_ids: Vec<Option<i64>> = settled.iter().map(|s| s.message_id).collect();
    let attempted: Vec<i32> = settled.iter().map(|s| i32::from(s.attempted)).collect();
    let backoff: Vec<bool> = settled.iter().map(|s| s.backoff).collect();
    let unreachable: Vec<bool> = settled.iter().map(|s| s.unreachable).collect();
    let client = pool.get().await?;
    client
        .execute(
            "WITH s AS (
                 SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],
                                      $6::int[], $7::bool[], $8::bool[])
                     AS s(id, status, error, message_id, attempted, backoff, unreachable)
             ), u AS (
                 UPDATE campaign_deliveries d
                 SET status = s.status, error = s.error,
                     telegram_message_id = COALESCE(s.message_id, d.telegram_message_id),
                     attempts = d.attempts + s.attempted,
                     sent_at = CASE WHEN s.status = 'sent' THEN now() ELSE d.sent_at END,
                     claimed_at = CASE WHEN s.status <> 'pending' THEN d.claimed_at
                                       WHEN s.backoff THEN now() END
                 FROM s
                 WHERE d.id = s.id AND d.campaign_id = $1 AND d.status = 'sending'
                 RETURNING d.status, d.user_id, s.unreachable
             ), gone AS (
                 UPDATE users SET reachable = FALSE, unreachable_at = now()
                 WHERE id IN (SELECT user_id FROM u WHERE unreachable) AND reachable
             )
             UPDATE campaigns SET
                 sent = sent + (SELECT count(*) FROM u WHERE status = 'sent')::int,
                 failed = failed + (SELECT count(*) FROM u WHERE status = 'failed')::int,
                 blocked = blocked + (SELECT count(*) FROM u WHERE status = 'blocked')::int,
                 unknown = unknown + (SELECT count(*) FROM u WHERE status = 'unknown')::int,
                 updated_at = now()
             WHERE id = $1",
            &[
                &campaign_id,
                &ids,
                &statuses,
                &errors,
                &message_ids,
                &attempted,
                &backoff,
                &unreachable,
            ],
        )
        .await
        .context("recording delivery results")?;
    Ok(())
}

/// Decides a delivery's fate from Telegram's answer; the second value is a global pause
/// Telegram asked for.
fn settle(
    delivery: &Delivery,
    result: Result<Value, TelegramError>,
) -> (Settlement, Option<Duration>) {
    let mut settlement = Settlement {
        id: delivery.id,
        status: "sent",
        error: None,
        message_id: None,
        attempted: true,
        backoff: false,
        unreachable: false,
    };
    let error = match result {
        Ok(message) => {
            settlement.message_id = message.get("message_id").and_then(Value::as_i64);
            return (settlement, None);
        }
        Err(error) => error,
    };
    let description = error.to_string();
    if matches!(error, TelegramError::Api { code: 429, .. }) {
        // Not the recipient's fault and nothing was delivered: back in line, no attempt.
        settlement.status = "pending";
        settlement.attempted = false;
        let pause = error.retry_after().unwrap_or(Duration::from_secs(1));
        return (settlement, Some(pause));
    }
    settlement.error = Some(description);
    if error.is_forbidden() {
        settlement.status = "blocked";
        settlement.unreachable = true;
    } else if error.is_chat_not_found() {
        settlement.status = "failed";
        settlement.unreachable = true;
    } else if matches!(error, TelegramError::Decode(_)) {
        // Telegram said ok but the answer made no sense: it was probably delivered.
        settlement.status = "unknown";
    } else if error.is_transient() && delivery.attempts + 1 < MAX_ATTEMPTS {
        settlement.status = "pending";
        settlement.backoff = true;
    } else {
        settlement.status = "failed";
    }
    tracing::debug!(
        delivery_id = delivery.id,
        user_id = delivery.user_id,
        status = settlement.status,
        "delivery settled with an error"
    );
    (settlement, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i32) -> Delivery {
        Delivery {
            id: 1,
            user_id: 2,
            chat_id: 3,
            attempts,
        }
    }

    fn api(code: u16, description: &str, retry_after: Option<u64>) -> TelegramError {
        TelegramError::Api {
            code,
            description: description.into(),
            retry_after,
        }
    }

    #[test]
    fn a_429_goes_back_in_line_without_an_attempt_and_pauses_everyone() {
        let (s, pause) = settle(&delivery(0), Err(api(429, "Too Many Requests", Some(5))));
        assert_eq!((s.status, s.attempted), ("pending", false));
        assert_eq!(pause, Some(Duration::from_secs(5)));
    }

    #[test]
    fn a_403_blocks_and_a_missing_chat_fails_both_unreachable() {
        let (s, _) = settle(
            &delivery(0),
            Err(api(403, "Forbidden: bot was blocked by the user", None)),
        );
        assert_eq!((s.status, s.unreachable), ("blocked", true));
        let (s, _) = settle(
            &delivery(0),
            Err(api(400, "Bad Request: chat not found", None)),
        );
        assert_eq!((s.status, s.unreachable), ("failed", true));
    }

    #[test]
    fn server_errors_are_retried_with_backoff_until_the_last_attempt() {
        let (s, _) = settle(&delivery(0), Err(api(500, "Internal Server Error", None)));
        assert_eq!((s.status, s.backoff), ("pending", true));
        let (s, _) = settle(&delivery(MAX_ATTEMPTS - 1), Err(api(500, "Internal", None)));
        assert_eq!(s.status, "failed");
    }

    #[test]
    fn content_is_validated_and_rendered_with_button_and_paid_flag() {
        let content = CampaignContent::parse(&serde_json::json!({
            "text": "<b>Hi</b>", "parse_mode": "HTML",
            "button": {"text": "Open", "url": "https://example.com"}
        }))
        .expect("valid content");
        let message = content.message(42, true);
        assert_eq!(message.parse_mode, Some("HTML"));
        assert!(message.allow_paid_broadcast && message.reply_markup.is_some());
        assert!(CampaignContent::parse(&serde_json::json!({"text": " "})).is_err());
        assert!(
            CampaignContent::parse(&serde_json::json!({"text": "x", "parse_mode": "html"}))
                .is_err()
        );
        assert!(CampaignContent::parse(&serde_json::json!({"photo": " "})).is_err());
        let no_scheme =
            serde_json::json!({"text": "x", "button": {"text": "b", "url": "javascript:1"}});
        assert!(CampaignContent::parse(&no_scheme).is_err());
    }

    #[test]
    fn a_photo_goes_as_send_photo_with_the_text_as_caption_and_its_file_id_once_known() {
        let mut content = CampaignContent::parse(&serde_json::json!({
            "text": "Призы", "photo": "https://example.com/prize.jpg",
            "button": {"text": "Open", "url": "https://example.com"}
        }))
        .expect("valid content");
        assert!(content.needs_upload());
        let request = content.request(7, false);
        let (method, params) = (request.method(), request.params());
        assert_eq!(method, "sendPhoto");
        assert_eq!(params["photo"], "https://example.com/prize.jpg");
        assert_eq!(params["caption"], "Призы");
        assert!(params.get("text").is_none() && params.get("reply_markup").is_some());
        let sent = serde_json::json!({"message_id": 1, "photo": [
            {"file_id": "small", "width": 90, "height": 67},
            {"file_id": "large", "width": 800, "height": 600}
        ]});
        content.photo_file_id = largest_photo_file_id(&sent);
        assert!(!content.needs_upload());
        assert_eq!(content.request(7, false).params()["photo"], "large");
        let long_caption = "x".repeat(CAPTION_LIMIT + 1);
        let too_long = serde_json::json!({"text": long_caption, "photo": "AgACAgIAAx"});
        assert!(CampaignContent::parse(&too_long).is_err());
    }

    #[test]
    fn a_lambda_deadline_keeps_a_margin_and_a_past_one_means_now() {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let left = deadline_from_epoch_millis(now_ms + 10_000) - Instant::now();
        assert!(left > Duration::from_millis(6_500) && left <= Duration::from_secs(7));
        assert!(deadline_from_epoch_millis(now_ms - 1_000) <= Instant::now());
    }

    #[test]
    fn others_sends_are_rechecked_soon_then_less_often_and_never_after_they_turn_stale() {
        assert_eq!(recheck_after(Duration::ZERO), RECHECK_MIN);
        assert_eq!(
            recheck_after(Duration::from_millis(2_500)),
            Duration::from_millis(2_500)
        );
        assert_eq!(
            recheck_after(Duration::from_secs(20)),
            Duration::from_secs(20)
        );
        assert_eq!(
            recheck_after(Duration::from_secs(45)),
            Duration::from_secs(15) + STALE_MARGIN
        );
        assert_eq!(
            recheck_after(Duration::from_secs(59)),
            RECHECK_MIN + STALE_MARGIN
        );
        assert_eq!(recheck_after(Duration::from_secs(600)), RECHECK_MIN);
    }

    #[test]
    fn in_flight_and_batches_scale_with_the_rate() {
        assert_eq!(max_in_flight(30), 8);
        assert_eq!(max_in_flight(1000), 250);
        assert_eq!(claim_batch(30), 1);
        assert_eq!(claim_batch(1000), 50);
    }
}
