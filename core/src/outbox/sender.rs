//! Sends outbox messages: claim the row with a lease (so two consumers never send it
//! twice at once), take a slot of the shared send rate ahead of broadcasts, call the Bot
//! API, write down what happened. 429 is obeyed for every sender (the shared pause) and
//! the row is due again after `retry_after`; 5xx and network faults are retried with
//! back-off, then the row ends `failed` with its reason; 403 ends it `blocked` and marks
//! the user unreachable. Nothing ends without a status an operator can read. A message
//! for a test shopper (`users.is_test`) is written to the panel's test chat instead.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::db::PgPool;
use crate::sendrate::{Permit, RateLimiter};
use crate::store::Redis;
use crate::telegram::transcript::Transcript;
use crate::telegram::{TelegramClient, TelegramError};
use crate::users::Users;

/// Sends before a message failing with 5xx or a network fault ends `failed`.
pub const MAX_SEND_ATTEMPTS: i32 = 5;
/// A claimed message not finished within this is handed out again by the sweep.
pub const SEND_LEASE: Duration = Duration::from_secs(60);
/// How long a queue consumer waits for a send slot in place before it puts the row back
/// with the wait as its due time (a long 429 pause must not hold a consumer).
pub const CONSUMER_WAIT: Duration = Duration::from_secs(20);

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Telegram accepted it (now or earlier).
    Sent,
    /// 403: the user blocked the bot; marked unreachable, never retried.
    Blocked,
    /// Refused for good, or given up after its attempts; the reason is in the row.
    Failed,
    /// Not now: due again later (429, a fault, no slot within the wait); the relay hands
    /// it out then.
    Later,
    /// Another consumer holds it, or it is not a message of this bot.
    NotOurs,
}

/// Sends outbox messages for one bot; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    bot_id: i64,
    telegram: TelegramClient,
    limiter: RateLimiter,
    users: Users,
    /// Where a `sendPhoto` of `upload:<id>` (a raffle prize's picture) finds its bytes.
    images: crate::uploads::Images,
}

impl Sender {
    /// `rate_per_second` must be the broadcasts' configured rate (`BROADCAST_RATE`): every
    /// sender of a bot spaces its slots alike on the shared schedule.
    pub fn new(
        pool: PgPool,
        bot_id: i64,
        redis: &Redis,
        telegram: TelegramClient,
        rate_per_second: u32,
    ) -> Self {
        Sender {
            users: Users::new(pool.clone(), bot_id),
            limiter: RateLimiter::new(redis, rate_per_second),
            images: crate::uploads::Images::in_postgres(pool.clone()),
            pool,
            bot_id,
            telegram,
        }
    }

    /// Uploads kept where `images` keeps them (S3 with `UPLOADS_BUCKET`); without this,
    /// only uploads kept in Postgres can be sent.
    pub fn with_images(mut self, images: crate::uploads::Images) -> Self {
        self.images = images;
        self
    }

    /// The producer's fast path right after its commit: one attempt with at most `wait`
    /// for a send slot. Errors are logged, never returned: the row is in the outbox and
    /// the relay sends it if this could not.
    pub async fn send_now(&self, outbox_id: i64, wait: Duration) -> Delivery {
        match self.deliver(outbox_id, wait).await {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(outbox_id, error = %format!("{error:#}"), "fast send failed; the relay will send the message");
                Delivery::Later
            }
        }
    }

    /// Sends the message in row `outbox_id` once (one Bot API call at most). `wait` bounds
    /// the wait for a send slot; a longer one puts the row back, due when the slot is.
    pub async fn deliver(&self, outbox_id: i64, wait: Duration) -> anyhow::Result<Delivery> {
        let client = self.pool.get().await?;
        let claimed = client
            .query_opt(
                "UPDATE outbox
                 SET status = 'sending', attempts = attempts + 1, updated_at = now(),
                     lease_until = now() + make_interval(secs => $3)
                 WHERE id = $1 AND bot_id = $2 AND kind = 'message'
                   AND status IN ('pending', 'relayed')
                 RETURNING payload, chat_id, attempts,
                           EXISTS (SELECT 1 FROM users u WHERE u.bot_id = outbox.bot_id
                                   AND u.telegram_id = outbox.chat_id AND u.is_test)",
                &[&outbox_id, &self.bot_id, &SEND_LEASE.as_secs_f64()],
            )
            .await
            .context("claiming the outbox message")?;
        let Some(row) = claimed else {
            return self.settled(outbox_id).await;
        };
        drop(client);
        let payload: Value = row.get(0);
        let chat_id: i64 = row.get::<_, Option<i64>>(1).unwrap_or_default();
        let attempts: i32 = row.get(2);
        // A test shopper's message goes to the panel's test chat, never to Telegram, and
        // takes no slot of the send rate.
        let test_chat = row.get::<_, bool>(3);
        let (Some(method), Some(params)) = (
            payload.get("method").and_then(Value::as_str),
            payload.get("params"),
        ) else {
            self.finish(outbox_id, "failed", Some("payload is not a Bot API call"))
                .await?;
            return Ok(Delivery::Failed);
        };

        let slot = if test_chat {
            Ok(None)
        } else {
            self.slot(chat_id, wait).await
        };
        match slot {
            Ok(None) => {}
            Ok(Some(until)) => {
                self.put_back(outbox_id, until, None, true).await?;
                return Ok(Delivery::Later);
            }
            Err(error) => {
                // Redis is down: the rate cannot be kept, so nothing is sent; try again soon.
                let reason = format!("{error:#}");
                self.put_back(outbox_id, Duration::from_secs(2), Some(&reason), true)
                    .await?;
                return Ok(Delivery::Later);
            }
        }

        let telegram = if test_chat {
            TelegramClient::test_chat(Transcript::for_chat(
                self.pool.clone(),
                self.bot_id,
                chat_id,
            ))
        } else {
            self.telegram.clone()
        };
        let upload = params
            .get("photo")
            .and_then(Value::as_str)
            .and_then(crate::uploads::photo_upload_id)
            .filter(|_| method == "sendPhoto");
        let result: Result<Value, TelegramError> = match upload {
            None => telegram.call(method, params).await,
            Some(id) => {
                match crate::uploads::fetch(&self.pool, &self.images, self.bot_id, id).await {
                    Ok(Some(file)) => send_upload(&telegram, method, params, &file).await,
                    Ok(None) => {
                        let reason = format!("the photo upload:{id} no longer exists");
                        self.finish(outbox_id, "failed", Some(&reason)).await?;
                        return Ok(Delivery::Failed);
                    }
                    Err(error) => {
                        let reason = format!("{error:#}");
                        self.put_back(outbox_id, Duration::from_secs(5), Some(&reason), true)
                            .await?;
                        return Ok(Delivery::Later);
                    }
                }
            }
        };
        match result {
            Ok(_) => {
                self.finish(outbox_id, "sent", None).await?;
                Ok(Delivery::Sent)
            }
            Err(error) if error.is_forbidden() => {
                self.finish(outbox_id, "blocked", Some(&error.to_string()))
                    .await?;
                if let Err(e) = self.users.set_reachable(chat_id, false).await {
                    tracing::warn!(error = %e, "could not mark the recipient unreachable");
                }
                Ok(Delivery::Blocked)
            }
            Err(error) if error.retry_after().is_some() => {
                let retry_after = error.retry_after().unwrap_or(Duration::from_secs(1));
                // Every sender of the bot holds back, broadcasts included.
                let pause = self
                    .limiter
                    .pause_for(retry_after)
                    .await
                    .unwrap_or(retry_after);
                self.put_back(outbox_id, pause, Some(&error.to_string()), true)
                    .await?;
                tracing::warn!(
                    outbox_id,
                    ?pause,
                    "message refused with 429; due again after retry_after"
                );
                Ok(Delivery::Later)
            }
            Err(error) if error.is_transient() && attempts < MAX_SEND_ATTEMPTS => {
                let backoff = send_backoff(attempts);
                self.put_back(outbox_id, backoff, Some(&error.to_string()), false)
                    .await?;
                tracing::warn!(outbox_id, attempts, ?backoff, %error, "message send failed; retrying");
                Ok(Delivery::Later)
            }
            Err(error) => {
                let reason = if error.is_transient() {
                    format!("gave up after {attempts} attempts: {error}")
                } else {
                    error.to_string()
                };
                self.finish(outbox_id, "failed", Some(&reason)).await?;
                tracing::error!(outbox_id, reason, "message failed for good");
                Ok(Delivery::Failed)
            }
        }
    }

    /// The consumer of the campaigns queue's outbox messages.
    pub async fn handle_job(&self, outbox_id: i64) -> anyhow::Result<Delivery> {
        self.deliver(outbox_id, CONSUMER_WAIT).await
    }

    /// `None`: a slot is ours. `Some(wait)`: none within `max_wait`; free after `wait`.
    async fn slot(&self, chat_id: i64, max_wait: Duration) -> anyhow::Result<Option<Duration>> {
        let started = Instant::now();
        loop {
            match self.limiter.try_acquire_priority(chat_id).await? {
                Permit::Granted => return Ok(None),
                Permit::Wait { wait, .. } => {
                    if started.elapsed() + wait > max_wait {
                        return Ok(Some(wait));
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Back to `pending`, due after `after`. `uncount`: this attempt did not reach Telegram
    /// or Telegram only asked us to wait, so it does not count towards the limit.
    async fn put_back(
        &self,
        outbox_id: i64,
        after: Duration,
        error: Option<&str>,
        uncount: bool,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE outbox
                 SET status = 'pending', lease_until = NULL, updated_at = now(),
                     attempts = attempts - CASE WHEN $4 THEN 1 ELSE 0 END,
                     last_error = COALESCE($3, last_error),
                     due_at = now() + make_interval(secs => $2)
                 WHERE id = $1 AND status = 'sending'",
                &[&outbox_id, &after.as_secs_f64(), &error, &uncount],
            )
            .await
            .context("scheduling the message again")?;
        Ok(())
    }

    async fn finish(
        &self,
        outbox_id: i64,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE outbox
                 SET status = $2, last_error = COALESCE($3, last_error), lease_until = NULL,
                     finished_at = now(), updated_at = now()
                 WHERE id = $1 AND status = 'sending'",
                &[&outbox_id, &status, &error],
            )
            .await
            .context("recording the message outcome")?;
        Ok(())
    }

    /// What a row that could not be claimed already is.
    async fn settled(&self, outbox_id: i64) -> anyhow::Result<Delivery> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT status FROM outbox WHERE id = $1 AND bot_id = $2 AND kind = 'message'",
                &[&outbox_id, &self.bot_id],
            )
            .await?;
        Ok(match row.as_ref().map(|row| row.get::<_, &str>(0)) {
            Some("sent") => Delivery::Sent,
            Some("blocked") => Delivery::Blocked,
            Some("failed" | "dead") => Delivery::Failed,
            _ => Delivery::NotOurs,
        })
    }
}

/// `method` with the upload's bytes as the `photo` part of a multipart body. A test chat
/// takes no files: it gets the call with the photo named, which its transcript records.
async fn send_upload(
    telegram: &TelegramClient,
    method: &str,
    params: &Value,
    file: &crate::uploads::UploadFile,
) -> Result<Value, TelegramError> {
    if telegram.is_test_chat() {
        return telegram.call(method, params).await;
    }
    let name = file.file_name();
    let part = crate::telegram::FilePart {
        field: "photo",
        file_name: &name,
        content_type: &file.content_type,
        bytes: &file.bytes,
    };
    match telegram
        .call_gated_with_file(method, params, part, async { Ok(true) }, || {})
        .await
    {
        Ok(answer) => Ok(answer),
        Err(crate::telegram::GatedCallError::Telegram(error)) => Err(error),
        // Nothing reached Telegram: a transport fault, retried like one.
        Err(crate::telegram::GatedCallError::Unsent { reason, .. }) => {
            Err(TelegramError::Transport(reason))
        }
    }
}

/// 1 s, 2 s, 4 s, 8 s: Telegram's 5xx are short-lived.
pub fn send_backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(6);
    Duration::from_secs(2u64.pow(exponent))
}
