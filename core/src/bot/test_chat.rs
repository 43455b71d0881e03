//! The panel's test chat: a panel user talks to the bot as a test shopper of their own.
//! What they do becomes a synthetic Telegram update run through [`super::process_update`]
//! exactly as the webhook runs a real one, by a [`Bot`] whose Telegram is the chat's
//! transcript ([`Transcript`]); so every reply, edit and callback answer is written down
//! and none reaches Telegram. Later messages (the verifier's verdict, sent through the
//! outbox) reach the same transcript through the outbox sender, which diverts every
//! message for a test shopper.
//!
//! A test shopper is a `users` row with `is_test` (migration 0009), created lazily, one
//! per panel user and bot, with the synthetic Telegram id
//! [`TEST_USER_ID_BASE`] + the panel user's id (see [`crate::telegram::transcript`]).

use anyhow::Context;
use serde_json::{json, Value};

use super::Bot;
use crate::telegram::transcript::{Transcript, TEST_USER_ID_BASE};
use crate::telegram::{IncomingUpdate, TelegramClient};

/// The first name every test shopper has, as Telegram would report it.
pub const TEST_FIRST_NAME: &str = "Тест";

/// A panel user's test shopper.
#[derive(Debug, Clone)]
pub struct TestShopper {
    pub user_id: i64,
    pub telegram_id: i64,
    pub status: String,
}

/// What the operator did in the test chat.
#[derive(Debug, Clone)]
pub enum TestInput {
    Text(String),
    /// Shared their own contact with the request-contact button.
    Contact {
        phone: String,
    },
    /// Tapped an inline button of the bot's message; `message` is that message as the
    /// chat shows it now (`message_id`, `text`, `reply_markup`), as Telegram embeds it.
    Callback {
        data: String,
        message: Value,
    },
    /// Sent a picture (a JPEG or PNG).
    Photo {
        bytes: Vec<u8>,
    },
}

/// The synthetic Telegram id of `admin_user_id`'s test shopper.
pub fn test_telegram_id(admin_user_id: i64) -> i64 {
    TEST_USER_ID_BASE + admin_user_id
}

fn shopper_of(row: &tokio_postgres::Row) -> TestShopper {
    TestShopper {
        user_id: row.get(0),
        telegram_id: row.get(1),
        status: row.get(2),
    }
}

/// The test shopper of `admin_user_id`, if they ever used the test chat.
pub async fn find_shopper(bot: &Bot, admin_user_id: i64) -> anyhow::Result<Option<TestShopper>> {
    let client = bot.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id, telegram_id, status FROM users
             WHERE bot_id = $1 AND telegram_id = $2 AND is_test",
            &[&bot.bot_id, &test_telegram_id(admin_user_id)],
        )
        .await?;
    Ok(row.as_ref().map(shopper_of))
}

/// The test shopper of `admin_user_id`, created (flagged `is_test`) on first use.
pub async fn ensure_shopper(bot: &Bot, admin_user_id: i64) -> anyhow::Result<TestShopper> {
    let client = bot.pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, is_test)
             VALUES ($1, $2, $3, true)
             ON CONFLICT (bot_id, telegram_id) DO UPDATE SET is_test = true
             RETURNING id, telegram_id, status",
            &[
                &bot.bot_id,
                &test_telegram_id(admin_user_id),
                &TEST_FIRST_NAME,
            ],
        )
        .await
        .context("creating the test shopper")?;
    Ok(shopper_of(&row))
}

/// The bot as the test chat of `shopper` sees it: the same logic, its Telegram the
/// chat's transcript.
pub fn bot_for(bot: &Bot, shopper: &TestShopper) -> Bot {
    let transcript = Transcript::for_chat(bot.pool.clone(), bot.bot_id, shopper.telegram_id);
    Bot {
        telegram: TelegramClient::test_chat(transcript),
        ..bot.clone()
    }
}

/// Runs what the operator did through the dialogue and writes down the bot's answers.
/// Returns the `seq` of the operator's own event: the transcript from there on is what
/// this step produced.
pub async fn send(bot: &Bot, shopper: &TestShopper, input: TestInput) -> anyhow::Result<i64> {
    let transcript = Transcript::for_chat(bot.pool.clone(), bot.bot_id, shopper.telegram_id);
    let chat_id = shopper.telegram_id;
    let from = json!({
        "id": chat_id,
        "is_bot": false,
        "first_name": TEST_FIRST_NAME,
        "language_code": "ru",
    });
    let chat = json!({"id": chat_id, "type": "private", "first_name": TEST_FIRST_NAME});
    let date = chrono::Utc::now().timestamp();
    let (method, mut payload) = match &input {
        TestInput::Text(text) => ("message", json!({ "text": text })),
        TestInput::Contact { phone } => (
            "message",
            json!({"contact": {"phone_number": phone, "first_name": TEST_FIRST_NAME, "user_id": chat_id}}),
        ),
        TestInput::Callback { data, message } => (
            "callback_query",
            json!({"data": data, "message_id": message.get("message_id")}),
        ),
        TestInput::Photo { bytes } => {
            let file_id = transcript.store_file(bytes).await?;
            (
                "message",
                json!({"photo": [{
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "width": 1,
                    "height": 1,
                    "file_size": bytes.len(),
                }]}),
            )
        }
    };
    let is_message = method == "message";
    let recorded = transcript
        .record("incoming", method, None, is_message, &payload)
        .await?;
    // Telegram's update ids are positive; a negative one never meets a real update's claim.
    let update_id = -recorded.seq;
    let update = match input {
        TestInput::Callback { data, message } => {
            let mut message = message;
            if let Some(map) = message.as_object_mut() {
                map.insert("chat".into(), chat.clone());
                map.insert("date".into(), json!(date));
                map.insert(
                    "from".into(),
                    json!({"id": 0, "is_bot": true, "first_name": "bot"}),
                );
            }
            json!({
                "update_id": update_id,
                "callback_query": {
                    "id": format!("tc{}", recorded.seq),
                    "from": from,
                    "chat_instance": format!("tc{chat_id}"),
                    "data": data,
                    "message": message,
                },
            })
        }
        _ => {
            if let Some(map) = payload.as_object_mut() {
                map.insert("message_id".into(), json!(recorded.message_id));
                map.insert("from".into(), from);
                map.insert("chat".into(), chat);
                map.insert("date".into(), json!(date));
            }
            json!({"update_id": update_id, "message": payload})
        }
    };
    let update = IncomingUpdate::parse(update.to_string().as_bytes())
        .map_err(|e| anyhow::anyhow!("the synthetic update did not parse: {e}"))?;
    let test_bot = bot_for(bot, shopper);
    let calls = match super::process_update(&test_bot, &update).await {
        Ok(calls) => calls.unwrap_or_default(),
        Err(error) => {
            if let Err(e) = bot.release_update(update_id).await {
                tracing::warn!(error = %e, "could not release the test chat's update claim");
            }
            return Err(error.context("the test chat's update failed"));
        }
    };
    // As the webhook does, in order; a refused call is logged, the rest still made.
    for call in &calls {
        let result: Result<Value, _> = test_bot.telegram.call(call.method(), &call.params()).await;
        if let Err(e) = result {
            tracing::warn!(method = call.method(), error = %e, "a test chat reply was refused");
        }
    }
    Ok(recorded.seq)
}

/// What a reset removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reset {
    pub events: u64,
    pub receipts: u64,
    pub tickets: u64,
}

/// Starts `shopper` over in the caller's transaction: the transcript and pictures, the
/// dialogue state, receipts (freeing their fiscal triples for another try) and tickets,
/// messages still waiting in the outbox, and the registration. The submissions stay:
/// their paid ProverkaCheka calls were real and the costs keep counting them. This is
/// the one place that deletes tickets and receipts, and only a test shopper's.
pub async fn reset(
    tx: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    shopper: &TestShopper,
) -> anyhow::Result<Reset> {
    let (user, chat) = (shopper.user_id, shopper.telegram_id);
    let events = tx
        .execute(
            "DELETE FROM test_chat_events WHERE bot_id = $1 AND chat_id = $2",
            &[&bot_id, &chat],
        )
        .await?;
    tx.execute(
        "DELETE FROM test_chat_files WHERE bot_id = $1 AND chat_id = $2",
        &[&bot_id, &chat],
    )
    .await?;
    tx.execute(
        "DELETE FROM dialogue_states WHERE bot_id = $1 AND chat_id = $2",
        &[&bot_id, &chat],
    )
    .await?;
    let tickets = tx
        .execute(
            "DELETE FROM tickets WHERE bot_id = $1 AND user_id = $2",
            &[&bot_id, &user],
        )
        .await?;
    tx.execute(
        "DELETE FROM receipt_check_claims WHERE bot_id = $1 AND submission_id IN
             (SELECT id FROM receipt_submissions WHERE bot_id = $1 AND user_id = $2)",
        &[&bot_id, &user],
    )
    .await?;
    let receipts = tx
        .execute(
            "DELETE FROM receipts WHERE bot_id = $1 AND user_id = $2",
            &[&bot_id, &user],
        )
        .await?;
    tx.execute(
        "DELETE FROM outbox WHERE bot_id = $1 AND user_id = $2 AND kind = 'message'
           AND status IN ('pending', 'relayed')",
        &[&bot_id, &user],
    )
    .await?;
    tx.execute(
        "UPDATE users SET status = 'new', full_name = NULL, phone_ciphertext = NULL,
                          phone_hash = NULL, phone_masked = NULL, registered_at = NULL,
                          reachable = true, unreachable_at = NULL
         WHERE id = $1 AND bot_id = $2 AND is_test",
        &[&user, &bot_id],
    )
    .await?;
    Ok(Reset {
        events,
        receipts,
        tickets,
    })
}

/// Forgets `shopper`'s upload counters, so a reset shopper may upload again at once.
/// Best effort: the counters expire by themselves within a day.
pub async fn forget_upload_limits(bot: &Bot, shopper: &TestShopper) {
    let (hour, day) = super::upload::upload_limit_keys(&bot.redis, shopper.user_id);
    let mut conn = bot.redis.connection();
    let deleted: Result<(), _> = redis::cmd("DEL")
        .arg(&hour)
        .arg(&day)
        .query_async(&mut conn)
        .await;
    if let Err(e) = deleted {
        tracing::warn!(error = %e, "could not forget the test shopper's upload counters");
    }
}
