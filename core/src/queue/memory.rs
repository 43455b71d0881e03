//! In-process job queue for `promo serve` and tests, with SQS delivery semantics.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    JobQueue, QueueError, QueueName, ReceivedMessage, MAX_DELAY, MAX_RECEIVE_BATCH,
    MAX_RECEIVE_WAIT,
};

/// Settings of an [`InMemoryQueue`]; the defaults match SQS and the SAM template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InMemoryQueueConfig {
    /// How long a received, unacked message stays hidden before it is delivered again.
    /// Choose it longer than the slowest job (a campaign slice), or a running job is
    /// delivered a second time, as it would be on SQS.
    pub visibility_timeout: Duration,
    /// After this many deliveries a message is dead-lettered on its next receive (SQS
    /// `maxReceiveCount`); `None` redelivers forever.
    pub max_receive_count: Option<u32>,
}

impl Default for InMemoryQueueConfig {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: Some(5),
        }
    }
}

/// Both queues in process memory. Messages are lost when the process exits, which is
/// acceptable for development: durable state lives in Postgres, and the listen-bridge sweep
/// re-enqueues campaigns that stalled.
#[derive(Debug, Default)]
pub struct InMemoryQueue {
    config: InMemoryQueueConfig,
    receipts: Lane,
    campaigns: Lane,
}

#[derive(Debug, Default)]
struct Lane {
    state: Mutex<LaneState>,
    /// Woken on every send, so a waiting `receive` returns at once instead of polling.
    changed: Notify,
}

#[derive(Debug, Default)]
struct LaneState {
    next_seq: u64,
    messages: HashMap<u64, Stored>,
    /// Every message keyed by the instant it becomes visible (sequence number breaks ties,
    /// which keeps sends FIFO); in-flight messages sit here with their visibility deadline,
    /// so redelivery needs no timer of its own.
    schedule: BTreeSet<(Instant, u64)>,
    dead_letters: Vec<ReceivedMessage>,
}

#[derive(Debug)]
struct Stored {
    message_id: String,
    body: String,
    receive_count: u32,
    visible_at: Instant,
}

impl InMemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_config(config: InMemoryQueueConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Messages not yet acked (visible, delayed or in flight); dead letters are not counted.
    pub fn pending_count(&self, queue: QueueName) -> usize {
        self.lane(queue).lock().messages.len()
    }

    /// Messages that exceeded `max_receive_count`, the local stand-in for the DLQ.
    pub fn dead_letters(&self, queue: QueueName) -> Vec<ReceivedMessage> {
        self.lane(queue).lock().dead_letters.clone()
    }

    fn lane(&self, queue: QueueName) -> &Lane {
        match queue {
            QueueName::Receipts => &self.receipts,
            QueueName::Campaigns => &self.campaigns,
        }
    }
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        // Critical sections never panic half-way, so the state behind a poisoned lock is
        // still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LaneState {
    /// Takes up to `max` messages visible at `now` and hides them until `now + visibility`.
    /// Also returns when the next message becomes visible, for the caller's wait.
    fn take_visible(
        &mut self,
        queue: QueueName,
        now: Instant,
        max: usize,
        config: &InMemoryQueueConfig,
    ) -> (Vec<ReceivedMessage>, Option<Instant>) {
        let mut taken = Vec::new();
        while taken.len() < max {
            let Some(&(visible_at, seq)) = self.schedule.first() else {
                break;
            };
            if visible_at > now {
                break;
            }
            self.schedule.pop_first();
            let Some(message) = self.messages.get_mut(&seq) else {
                continue;
            };
            if config
                .max_receive_count
                .is_some_and(|limit| message.receive_count >= limit)
            {
                if let Some(dead) = self.messages.remove(&seq) {
                    tracing::warn!(
                        %queue,
                        message_id = %dead.message_id,
                        receive_count = dead.receive_count,
                        "message exceeded its receive count, moved to the dead letters"
                    );
                    self.dead_letters.push(ReceivedMessage {
                        message_id: dead.message_id,
                        receipt_handle: String::new(),
                        body: dead.body,
                        receive_count: dead.receive_count,
                    });
                }
                continue;
            }
            message.receive_count += 1;
            message.visible_at = now + config.visibility_timeout;
            taken.push((
                seq,
                ReceivedMessage {
                    message_id: message.message_id.clone(),
                    receipt_handle: format!("{seq}.{}", message.receive_count),
                    body: message.body.clone(),
                    receive_count: message.receive_count,
                },
            ));
        }
        // Rescheduled only now: with a zero visibility timeout the same message would
        // otherwise be taken twice by this loop.
        let received = taken
            .into_iter()
            .map(|(seq, received)| {
                if let Some(message) = self.messages.get(&seq) {
                    self.schedule.insert((message.visible_at, seq));
                }
                received
            })
            .collect();
        let next_visible = self.schedule.first().map(|&(at, _)| at);
        (received, next_visible)
    }
}

/// Receipt handles are `seq.receive_count`; the count makes a handle from an earlier delivery
/// stale once the message has been delivered again.
fn parse_receipt_handle(handle: &str) -> Option<(u64, u32)> {
    let (seq, count) = handle.split_once('.')?;
    Some((seq.parse().ok()?, count.parse().ok()?))
}

#[async_trait::async_trait]
impl JobQueue for InMemoryQueue {
    async fn send(
        &self,
        queue: QueueName,
        body: String,
        delay: Duration,
    ) -> Result<(), QueueError> {
        if delay > MAX_DELAY {
            return Err(QueueError::DelayTooLong(delay));
        }
        let lane = self.lane(queue);
        {
            let mut state = lane.lock();
            let seq = state.next_seq;
            state.next_seq += 1;
            let visible_at = Instant::now() + delay;
            let message_id = uuid::Uuid::new_v4().to_string();
            tracing::debug!(%queue, %message_id, ?delay, "message sent");
            state.messages.insert(
                seq,
                Stored {
                    message_id,
                    body,
                    receive_count: 0,
                    visible_at,
                },
            );
            state.schedule.insert((visible_at, seq));
        }
        // All waiters, not one: a delayed message changes every waiter's wake-up time.
        lane.changed.notify_waiters();
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max = max.clamp(1, MAX_RECEIVE_BATCH);
        let deadline = Instant::now() + wait.min(MAX_RECEIVE_WAIT);
        let lane = self.lane(queue);
        loop {
            // Registered before looking at the queue, so a send between the look and the
            // wait still wakes us.
            let changed = lane.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let now = Instant::now();
            // Taking and returning happen in one poll, so dropping this future (a consumer
            // shutting down) never loses a message.
            let (received, next_visible) = lane.lock().take_visible(queue, now, max, &self.config);
            if !received.is_empty() || now >= deadline {
                return Ok(received);
            }
            let wake_at = next_visible.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    async fn ack(&self, queue: QueueName, receipt_handle: &str) -> Result<(), QueueError> {
        let (seq, count) = parse_receipt_handle(receipt_handle)
            .ok_or_else(|| QueueError::InvalidReceiptHandle(receipt_handle.to_owned()))?;
        let mut state = self.lane(queue).lock();
        let current = state
            .messages
            .get(&seq)
            .map(|m| (m.receive_count, m.visible_at));
        match current {
            Some((receive_count, visible_at)) if receive_count == count => {
                state.messages.remove(&seq);
                state.schedule.remove(&(visible_at, seq));
            }
            // Already deleted, or delivered again since: SQS accepts such acks too.
            _ => tracing::debug!(%queue, receipt_handle, "ack of a stale receipt handle ignored"),
        }
        Ok(())
    }
}
