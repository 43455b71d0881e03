//! campaign-runner's engine: works off one campaign's deliveries in resumable slices under
//! the global send rate.
//!
//! Each slice is a runner with an id and a short lease ([`LEASE`], renewed by its
//! heartbeat). A slice recovers rows a dead runner (lease lapsed) left in `sending` from
//! that runner's attempt record (see [`attempt_record`]: delivered → `sent`, written
//! without an answer → `unknown`, never resent since the message may have gone out,
//! only `launching` or no entry → back to `pending`), materialises the recipients once,
//! then claims small batches with `FOR UPDATE SKIP LOCKED` and keeps up to
//! [`max_in_flight`] sends going at once, so the achieved rate does not depend on the Bot
//! API's round trip. A send's request leaves with all bytes but the last; "launching" is
//! recorded, the last byte follows, and "written" is recorded once hyper has taken it
//! (`TelegramClient::call_gated`), without holding the byte back. Each
//! delivery goes `pending → sending → sent | failed | blocked | unknown`; a 429 puts it
//! back to `pending` and pauses every runner. The slice stops launching
//! sends before its deadline, settles what is in flight and returns
//! [`SliceOutcome::Continue`] so the job handler enqueues the next slice. Several runners
//! may work one campaign at once: claims never overlap and every settlement is guarded by
//! `status = 'sending'`. A runner that runs out of rows while another's sends are still
//! in flight waits briefly for them and then re-checks with a growing delay, so a finished
//! campaign is marked `completed` within moments even when the runner that sent last never
//! gets to mark it (see [`complete_if_done`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::FutureExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

pub use super::content::{CampaignContent, UrlButton};
pub use super::deliveries::attempt_record;
use super::deliveries::{
    claim, register_runner, settle, spawn_heartbeat, unregister_runner, write_settlements,
    AttemptRecord, Delivery, LeaseView, Settlement,
};
use super::lifecycle::{
    complete_if_done, fail, hand_off, materialize, recover_stale, start, status_of, Audience,
};
use super::Campaigns;
use crate::jobs::CampaignJob;
use crate::queue::{JobError, JobMessage, QueueName, MAX_DELAY};
use crate::sendrate::{Permit, RateLimiter, WaitReason};
use crate::telegram::{FilePart, GatedCallError};
use crate::uploads::UploadFile;

/// A row left in `sending` with no runner (claimed before runners held leases) longer
/// than this belongs to a runner that died.
pub const STALE_SENDING_AFTER: Duration = Duration::from_secs(60);
/// A runner's lease: renewed every [`STATUS_EVERY`] by its heartbeat; once it lapses the
/// runner counts as dead, its rows are recovered and the bridge re-enqueues the campaign.
pub const LEASE: Duration = Duration::from_secs(2);
/// A runner stops launching sends this long before its lease would lapse unrenewed, so
/// it never sends what a recovery may be handing to another runner.
pub(super) const LEASE_MARGIN: Duration = Duration::from_millis(800);
/// How soon a slice that failed (Postgres or Redis unreachable) is tried again.
pub const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);
/// How often the campaign's status is re-read (cancel/pause must act within a second).
pub(super) const STATUS_EVERY: Duration = Duration::from_millis(300);
/// How long settled results may wait before they are written. After a crash, a sent
/// message whose result was not written yet is reported `unknown`: keep this short.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_BATCH: usize = 64;
/// A wait longer than this (a 429 pause) hands the claimed rows back, so other runners and
/// crash recovery never see them sitting in `sending` unsent.
const RELEASE_WHEN_WAITING: Duration = Duration::from_secs(1);
/// Sends of one delivery before a 5xx / network failure becomes final.
pub(super) const MAX_ATTEMPTS: i32 = 5;
/// Longest time kept at the end of a slice to settle the sends still in flight.
const MAX_DRAIN: Duration = Duration::from_secs(2);
/// Slack between the end of the drain and the deadline, for the final writes.
pub(super) const FINAL_WRITES: Duration = Duration::from_millis(50);
/// Slice length when no runtime deadline is known (`promo serve`, tests). Kept under the
/// in-process queue's 30 s visibility timeout: a longer slice would see its own message
/// redelivered, and two slices each enqueueing a continuation double the runners.
pub const LOCAL_SLICE: Duration = Duration::from_secs(20);
/// How long a slice that finds only other runners' sends in flight waits for them in
/// place. A live runner settles a send within the Bot API's answer plus [`FLUSH_EVERY`],
/// so this usually sees the last results land and completes the campaign at once,
/// without a continuation (and without SQS rounding its delay up to whole seconds).
pub(super) const SETTLE_WAIT: Duration = Duration::from_secs(2);
/// First pause between those in-place checks; doubles after each, so the wait costs a
/// handful of cheap queries, not a busy loop.
pub(super) const SETTLE_POLL: Duration = Duration::from_millis(100);
/// Shortest continuation delay while other runners' sends are still outstanding.
pub(super) const RECHECK_MIN: Duration = Duration::from_secs(1);
/// Added to the time until rows turn stale, so the re-check does not arrive a hair early
/// (the database's clock decides staleness) and have to ask again.
pub(super) const STALE_MARGIN: Duration = Duration::from_millis(250);

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

/// Sends kept in flight at once: enough for ~250 ms of Bot API latency at the configured
/// rate, so the round trip never throttles the rate.
pub fn max_in_flight(rate_per_second: u32) -> usize {
    (rate_per_second as usize / 4).clamp(8, 256)
}

/// Rows claimed per batch: about 50 ms of sending, so little sits claimed but unsent;
/// claiming
/// ahead in the background keeps the many small queries off the send loop.
fn claim_batch(rate_per_second: u32) -> i64 {
    i64::from(rate_per_second / 20).clamp(1, 50)
}

/// Runs one slice of `campaign_id` until it is done, stopped, or `deadline` is near.
pub async fn run_campaign(
    app: &Campaigns,
    campaign_id: i64,
    deadline: Instant,
) -> anyhow::Result<SliceOutcome> {
    let Some(campaign) = start(app, campaign_id).await? else {
        // Raffles are never `start`ed: they are drawn once, in their own module.
        let raffle = super::raffle::run_raffle(&app.raffles, campaign_id)
            .await
            .context(RaffleRunFailed)?;
        if let Some(raffle) = raffle {
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
    // An uploaded photo's bytes, for the one send that transfers them; after it, its
    // `file_id` serves everyone and the bytes are not read again.
    let photo = match content
        .upload_id()
        .filter(|_| content.photo_file_id.is_none())
    {
        None => None,
        Some(id) => match crate::uploads::fetch(&app.pool, &app.images, app.bot_id, id).await? {
            Some(file) => Some(Arc::new(file)),
            None => {
                let reason = format!("the photo upload:{id} no longer exists");
                return fail(app, campaign_id, &reason).await;
            }
        },
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
    let mut slice =
        Slice::open(app, campaign_id, content, campaign.paid_broadcast, deadline).await?;
    slice.photo = photo;
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

/// Marks an error of a raffle's run: its job fails and the queue retries it (its winner
/// notices are sent once each, tracked in its own tables), unlike a broadcast slice.
#[derive(Debug, thiserror::Error)]
#[error("the raffle's run failed")]
struct RaffleRunFailed;

/// What the runner reports for a raffle it handed to [`super::raffle::run_raffle`].
fn raffle_slice_outcome(raffle: &super::raffle::RaffleOutcome) -> SliceOutcome {
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
    let outcome = match run_campaign(app, campaign_id, deadline).await {
        Ok(outcome) => outcome,
        Err(e) if e.downcast_ref::<RaffleRunFailed>().is_some() => return Err(e.into()),
        Err(e) => {
            // Postgres or Redis failed. Waiting for the queue's redelivery (30 s in
            // process, the visibility timeout under SQS) would stall the campaign; a
            // continuation a second later resumes it as soon as the server is back.
            tracing::warn!(
                campaign_id,
                error = %format!("{e:#}"),
                "campaign slice failed; trying again shortly"
            );
            SliceOutcome::Continue {
                after: RETRY_AFTER_ERROR,
            }
        }
    };
    tracing::info!(campaign_id, ?outcome, "campaign slice finished");
    if let SliceOutcome::Continue { after } = outcome {
        // The campaign stays in hand over the delay, so the bridge does not re-enqueue
        // it as well. Best effort: with Postgres down the lease lapses, and the bridge's
        // copy only adds a runner.
        if let Err(e) = hand_off(app, campaign_id, after).await {
            tracing::debug!(campaign_id, error = %format!("{e:#}"), "lease not extended");
        }
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
type SendResult = (Delivery, Result<Value, GatedCallError>);

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
    /// The bytes of an uploaded photo not sent yet (`upload:<id>` without a `file_id`).
    photo: Option<Arc<UploadFile>>,
    /// This slice's runner id: its claims, lease and attempt record.
    runner: uuid::Uuid,
    record: AttemptRecord,
    lease: LeaseView,
}

impl<'a> Slice<'a> {
    /// Opens the runner's attempt record, then registers it with a lease.
    async fn open(
        app: &'a Campaigns,
        campaign_id: i64,
        content: CampaignContent,
        paid_broadcast: bool,
        deadline: Instant,
    ) -> anyhow::Result<Self> {
        let runner = uuid::Uuid::new_v4();
        let record = AttemptRecord::open(&app.redis, campaign_id, runner).await?;
        let lease = register_runner(&app.pool, campaign_id, app.bot_id, runner).await?;
        let rate = app.settings.broadcast_rate_per_second;
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        let drain = (left / 5).min(MAX_DRAIN);
        let (status, heartbeat) =
            spawn_heartbeat(app.pool.clone(), campaign_id, runner, lease.clone());
        Ok(Slice {
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
            photo: None,
            runner,
            record,
            lease,
        })
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
            if self.record.is_lost() {
                anyhow::bail!("the attempt record is gone (Redis lost it)");
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
            if !self.lease.holds() {
                // The heartbeat has not renewed the lease lately (Postgres slow or
                // down): launch nothing a recovery might hand to another runner.
                self.idle(STATUS_EVERY, true).await?;
                continue;
            }
            let Some(delivery) = self.claimed.pop_front() else {
                continue;
            };
            let permit = match self.limiter.try_acquire(delivery.chat_id).await {
                Ok(permit) => permit,
                Err(e) => {
                    // Still claimed: `finish` hands it back instead of leaving it `sending`.
                    self.claimed.push_front(delivery);
                    return Err(e);
                }
            };
            match permit {
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
                    // Still unanswered at the deadline: these rows stay `sending` and are
                    // settled from the attempt record once the lease ends, exactly like
                    // a crash in flight.
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
        // Only once every own row is settled or handed back: what is left (abandoned in
        // flight) is recoverable at once.
        let ended = match (&written, &released) {
            (Ok(()), Ok(())) => unregister_runner(&self.app.pool, self.runner).await,
            _ => Ok(()),
        };
        written.and(released).and(ended)
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

    /// Sends in a task of its own: "launching" is recorded just before the request's last
    /// byte (the gate: a fenced row is not launched), "written" right after hyper has
    /// taken it (fired without waiting, so the byte is not held back), and Telegram's
    /// answer as soon as it arrives, ahead of the batched Postgres write, so a crash in
    /// between still knows what was delivered and what never fully left.
    fn launch(&mut self, delivery: Delivery) {
        self.uploading = self.content.needs_upload();
        let file = self.photo.clone().filter(|_| self.uploading);
        let request = match &delivery.vars {
            Some(vars) => self
                .content
                .personalized(vars)
                .request(delivery.chat_id, self.paid_broadcast),
            None => self.content.request(delivery.chat_id, self.paid_broadcast),
        };
        let (method, params) = (request.method(), request.params());
        let telegram = self.app.telegram.clone();
        let record = self.record.clone();
        let lease = self.lease.clone();
        self.in_flight.spawn(async move {
            let gate = {
                let (record, id) = (record.clone(), delivery.id);
                // A lease that lapsed while Redis answered may already be under recovery,
                // which would send this row again: the last byte is held back then.
                async move { Ok(record.launching(id).await? && lease.holds()) }
            };
            let written = {
                let (record, id) = (record.clone(), delivery.id);
                move || {
                    // Spawned from hyper's connection task, whose poll flushes the last
                    // byte before the new task gets to run on this worker.
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        runtime.spawn(async move {
                            if let Err(e) = record.written(id).await {
                                // Recovery would then send it again: a duplicate, never
                                // a loss.
                                tracing::warn!(delivery_id = id, error = %format!("{e:#}"), "written request not recorded in Redis");
                            }
                        });
                    }
                }
            };
            let result = match &file {
                Some(file) => {
                    let file_name = file.file_name();
                    let part = FilePart {
                        field: "photo",
                        file_name: &file_name,
                        content_type: &file.content_type,
                        bytes: &file.bytes,
                    };
                    telegram
                        .call_gated_with_file::<Value, _, _>(method, &params, part, gate, written)
                        .await
                }
                None => {
                    telegram
                        .call_gated::<Value, Value, _, _>(method, &params, gate, written)
                        .await
                }
            };
            let withheld = matches!(
                result,
                Err(GatedCallError::Unsent {
                    attempted: false,
                    ..
                })
            );
            if !withheld {
                let entry = AttemptRecord::entry_for(&result);
                if let Err(e) = record.answered(delivery.id, &entry).await {
                    // The Postgres write still records it; only a crash before that
                    // would leave the row `unknown` rather than `sent`.
                    tracing::warn!(delivery_id = delivery.id, error = %format!("{e:#}"), "send result not recorded in Redis");
                }
            }
            (delivery, result)
        });
    }

    /// Keeps the photo's `file_id` after its first successful upload, in memory and in
    /// the campaign row, so later sends and slices reuse it.
    async fn remember_photo(&mut self, message: &Value) -> anyhow::Result<()> {
        let Some(file_id) = super::content::largest_photo_file_id(message) else {
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
                // The row stays `sending`; recovery settles it from the attempt record.
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
            self.runner,
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
                "UPDATE campaign_deliveries SET status = 'pending', claimed_at = NULL, runner_id = NULL
                 WHERE id = ANY($1) AND status = 'sending' AND runner_id = $2",
                &[&ids, &self.runner],
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
            self.runner,
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
        write_settlements(
            self.app.pool.clone(),
            self.campaign_id,
            self.runner,
            settled,
        )
        .await
    }
}

impl Drop for Slice<'_> {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::lifecycle::recheck_after;

    fn delivery(attempts: i32) -> Delivery {
        Delivery {
            id: 1,
            user_id: 2,
            chat_id: 3,
            attempts,
            vars: None,
        }
    }

    fn api(code: u16, description: &str, retry_after: Option<u64>) -> GatedCallError {
        GatedCallError::Telegram(crate::telegram::TelegramError::Api {
            code,
            description: description.into(),
            retry_after,
        })
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
    fn others_sends_are_rechecked_soon_and_never_later_than_a_lease() {
        assert_eq!(recheck_after(Duration::ZERO), RECHECK_MIN);
        assert_eq!(
            recheck_after(Duration::from_millis(1_500)),
            Duration::from_millis(1_500)
        );
        assert_eq!(recheck_after(Duration::from_secs(20)), LEASE + STALE_MARGIN);
        assert_eq!(
            recheck_after(Duration::from_secs(600)),
            LEASE + STALE_MARGIN
        );
    }

    #[test]
    fn a_send_that_never_completed_goes_back_in_line_and_one_that_may_have_left_is_unknown() {
        let withheld = GatedCallError::Unsent {
            reason: "Redis is down".into(),
            attempted: false,
        };
        let (s, pause) = settle(&delivery(0), Err(withheld));
        assert_eq!((s.status, s.attempted, s.backoff), ("pending", false, true));
        assert_eq!(pause, None);
        let unreachable = GatedCallError::Unsent {
            reason: "connection refused".into(),
            attempted: true,
        };
        let (s, _) = settle(&delivery(0), Err(unreachable));
        assert_eq!((s.status, s.attempted), ("pending", true));
        let cut_after_the_request = GatedCallError::Telegram(
            crate::telegram::TelegramError::Transport("connection reset".into()),
        );
        let (s, _) = settle(&delivery(0), Err(cut_after_the_request));
        assert_eq!(s.status, "unknown");
    }

    #[test]
    fn in_flight_and_batches_scale_with_the_rate() {
        assert_eq!(max_in_flight(30), 8);
        assert_eq!(max_in_flight(1000), 250);
        assert_eq!(claim_batch(30), 1);
        assert_eq!(claim_batch(1000), 50);
    }
}
