//! The panel's test chat as a Bot API transport: what the bot would send to a test
//! shopper is written to `test_chat_events` (migration 0009) and answered as Telegram
//! would, and the pictures the operator sent are served from `test_chat_files`, so
//! nothing addressed to a test chat ever reaches Telegram.
//!
//! Test shoppers have synthetic Telegram ids in `[2^52, 2^53)`: Telegram documents user
//! ids as having at most 52 significant bits, and every group, supergroup and channel id
//! is negative, so no real chat can fall in the range; and a JavaScript number still holds
//! every id of it exactly. Message ids and update ids come from one sequence
//! (`test_chat_seq`; update ids negated, which Telegram never uses), so they never repeat.

use serde_json::{json, Value};

use super::client::TelegramError;
use crate::db::PgPool;

/// The first synthetic Telegram id: a test shopper's id is this plus the panel user's id.
pub const TEST_USER_ID_BASE: i64 = 1 << 52;
/// One past the last synthetic id.
pub const TEST_USER_ID_END: i64 = 1 << 53;
/// How a test-chat picture's file id starts; `:` is outside the alphabet of Telegram's
/// own file ids, so none of them can be mistaken for one.
pub const FILE_ID_PREFIX: &str = "test-chat:";
/// The `file_path` `getFile` answers for a test-chat picture.
const FILE_PATH_PREFIX: &str = "test-chat/";

/// Whether `chat_id` is a test shopper's private chat.
pub fn is_test_chat(chat_id: i64) -> bool {
    (TEST_USER_ID_BASE..TEST_USER_ID_END).contains(&chat_id)
}

/// Whether `file_id` names a picture sent in a test chat.
pub fn is_test_file(file_id: &str) -> bool {
    file_id.starts_with(FILE_ID_PREFIX)
}

/// The transcript of one test chat (or, without a chat, only its files).
#[derive(Clone)]
pub struct Transcript {
    pool: PgPool,
    bot_id: i64,
    chat_id: Option<i64>,
}

/// One row of `test_chat_events` as written.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    pub seq: i64,
    pub message_id: Option<i64>,
}

fn store_error(error: impl std::fmt::Display) -> TelegramError {
    // Transient, like Telegram's own failures: the caller's retry (the outbox's) applies.
    TelegramError::Transport(format!(
        "the test chat's transcript is unavailable: {error}"
    ))
}

fn bad_request(description: &str) -> TelegramError {
    TelegramError::Api {
        code: 400,
        description: format!("Bad Request: {description}"),
        retry_after: None,
    }
}

impl Transcript {
    /// The transcript of the test chat `chat_id`: calls towards any other chat are refused
    /// as Telegram refuses an unknown chat.
    pub fn for_chat(pool: PgPool, bot_id: i64, chat_id: i64) -> Self {
        Self {
            pool,
            bot_id,
            chat_id: Some(chat_id),
        }
    }

    /// Only the test chats' files (`getFile`, downloads): what the verifier needs.
    pub fn files(pool: PgPool, bot_id: i64) -> Self {
        Self {
            pool,
            bot_id,
            chat_id: None,
        }
    }

    /// Writes one event; `message_id` `None` numbers a new message with the event's `seq`.
    pub async fn record(
        &self,
        kind: &str,
        method: &str,
        message_id: Option<i64>,
        new_message: bool,
        payload: &Value,
    ) -> Result<Recorded, TelegramError> {
        let chat_id = self.chat_id.ok_or_else(|| bad_request("chat not found"))?;
        let client = self.pool.get().await.map_err(store_error)?;
        let row = client
            .query_one(
                "WITH s AS (SELECT nextval('test_chat_seq') AS seq)
                 INSERT INTO test_chat_events (seq, bot_id, chat_id, kind, method, message_id, payload)
                 SELECT s.seq, $1, $2, $3, $4, CASE WHEN $6 THEN s.seq ELSE $5 END, $7 FROM s
                 RETURNING seq, message_id",
                &[
                    &self.bot_id,
                    &chat_id,
                    &kind,
                    &method,
                    &message_id,
                    &new_message,
                    payload,
                ],
            )
            .await
            .map_err(store_error)?;
        Ok(Recorded {
            seq: row.get(0),
            message_id: row.get(1),
        })
    }

    /// A Bot API call, answered as Telegram answers it.
    pub(super) async fn call(&self, method: &str, params: &Value) -> Result<Value, TelegramError> {
        match method {
            "getFile" => return self.file_info(params).await,
            "getMe" => {
                return Ok(json!({"id": 0, "is_bot": true, "first_name": "test chat"}));
            }
            // The test shopper counts as subscribed to the required channel: the check
            // is Telegram's, and a test chat asks Telegram nothing.
            "getChatMember" => {
                let user_id = params.get("user_id").cloned().unwrap_or(Value::Null);
                return Ok(json!({
                    "status": "member",
                    "user": {"id": user_id, "is_bot": false, "first_name": "Test"},
                }));
            }
            _ => {}
        }
        let own = self.chat_id.ok_or_else(|| bad_request("chat not found"))?;
        if method == "answerCallbackQuery" {
            let payload = json!({
                "text": params.get("text"),
                "show_alert": params.get("show_alert").and_then(Value::as_bool).unwrap_or(false),
            });
            self.record("callback_answer", method, None, false, &payload)
                .await?;
            return Ok(Value::Bool(true));
        }
        let chat_id = params.get("chat_id").and_then(chat_id_of);
        if chat_id != Some(own) {
            return Err(bad_request("chat not found"));
        }
        let mut payload = params.clone();
        if let Some(map) = payload.as_object_mut() {
            map.remove("chat_id");
        }
        let message_id = params.get("message_id").and_then(Value::as_i64);
        let kind = if method.starts_with("editMessage") {
            "edited"
        } else if method == "deleteMessage" {
            "deleted"
        } else if method.starts_with("send") && method != "sendChatAction" {
            "sent"
        } else {
            "call"
        };
        if matches!(kind, "edited" | "deleted") {
            self.require_message(own, message_id).await?;
        }
        let recorded = self
            .record(kind, method, message_id, kind == "sent", &payload)
            .await?;
        Ok(match kind {
            "sent" | "edited" => {
                let mut message = payload;
                if let Some(map) = message.as_object_mut() {
                    map.insert("message_id".into(), json!(recorded.message_id));
                    map.insert("chat".into(), json!({"id": own, "type": "private"}));
                    map.insert("date".into(), json!(chrono::Utc::now().timestamp()));
                    map.remove("reply_markup");
                }
                message
            }
            _ => Value::Bool(true),
        })
    }

    /// `sendDocument` with an uploaded file: the file's name, type and size are kept.
    pub(super) async fn document(
        &self,
        chat_id: i64,
        file_name: &str,
        mime: &str,
        size: usize,
        caption: &str,
    ) -> Result<Value, TelegramError> {
        if self.chat_id != Some(chat_id) {
            return Err(bad_request("chat not found"));
        }
        let payload = json!({
            "caption": caption,
            "document": {"file_name": file_name, "mime_type": mime, "file_size": size},
        });
        let recorded = self
            .record("sent", "sendDocument", None, true, &payload)
            .await?;
        Ok(json!({
            "message_id": recorded.message_id,
            "chat": {"id": chat_id, "type": "private"},
            "date": chrono::Utc::now().timestamp(),
        }))
    }

    async fn require_message(
        &self,
        chat_id: i64,
        message_id: Option<i64>,
    ) -> Result<(), TelegramError> {
        let Some(message_id) = message_id else {
            return Err(bad_request("message identifier is not specified"));
        };
        let client = self.pool.get().await.map_err(store_error)?;
        let found = client
            .query_opt(
                "SELECT 1 FROM test_chat_events
                 WHERE bot_id = $1 AND chat_id = $2 AND message_id = $3 AND kind = 'sent'",
                &[&self.bot_id, &chat_id, &message_id],
            )
            .await
            .map_err(store_error)?;
        match found {
            Some(_) => Ok(()),
            None => Err(bad_request("message to edit not found")),
        }
    }

    /// Keeps a picture the operator sent; returns its file id.
    pub async fn store_file(&self, bytes: &[u8]) -> Result<String, TelegramError> {
        let chat_id = self.chat_id.ok_or_else(|| bad_request("chat not found"))?;
        let client = self.pool.get().await.map_err(store_error)?;
        let row = client
            .query_one(
                "INSERT INTO test_chat_files (bot_id, file_id, chat_id, bytes)
                 VALUES ($1, $2 || nextval('test_chat_seq')::TEXT, $3, $4) RETURNING file_id",
                &[&self.bot_id, &FILE_ID_PREFIX, &chat_id, &bytes],
            )
            .await
            .map_err(store_error)?;
        Ok(row.get(0))
    }

    async fn file_info(&self, params: &Value) -> Result<Value, TelegramError> {
        let file_id = params
            .get("file_id")
            .and_then(Value::as_str)
            .filter(|id| is_test_file(id))
            .ok_or_else(|| bad_request("invalid file_id"))?;
        let client = self.pool.get().await.map_err(store_error)?;
        let row = client
            .query_opt(
                "SELECT octet_length(bytes)::BIGINT FROM test_chat_files
                 WHERE bot_id = $1 AND file_id = $2",
                &[&self.bot_id, &file_id],
            )
            .await
            .map_err(store_error)?
            .ok_or_else(|| bad_request("invalid file_id"))?;
        let size: i64 = row.get(0);
        Ok(json!({
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": size,
            "file_path": format!("{FILE_PATH_PREFIX}{file_id}"),
        }))
    }

    pub(super) async fn download(
        &self,
        file_path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, TelegramError> {
        let not_found = || TelegramError::Api {
            code: 404,
            description: "file download failed".into(),
            retry_after: None,
        };
        let file_id = file_path
            .strip_prefix(FILE_PATH_PREFIX)
            .ok_or_else(not_found)?;
        let client = self.pool.get().await.map_err(store_error)?;
        let row = client
            .query_opt(
                "SELECT bytes FROM test_chat_files WHERE bot_id = $1 AND file_id = $2",
                &[&self.bot_id, &file_id],
            )
            .await
            .map_err(store_error)?
            .ok_or_else(not_found)?;
        let bytes: Vec<u8> = row.get(0);
        if bytes.len() as u64 > max_bytes {
            return Err(TelegramError::Decode(format!(
                "file is larger than {max_bytes} bytes"
            )));
        }
        Ok(bytes)
    }
}

/// `chat_id` as a number (Telegram also takes it as a string).
fn chat_id_of(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_ids_are_above_every_real_user_id_and_never_a_group() {
        assert!(!is_test_chat((1 << 52) - 1), "the largest real user id");
        assert!(is_test_chat(TEST_USER_ID_BASE + 1));
        assert!(!is_test_chat(-1_001_234_567_890), "a supergroup");
        assert!(
            !is_test_chat(TEST_USER_ID_END),
            "past 2^53 a JSON number loses digits"
        );
        assert!(is_test_file("test-chat:17"));
        assert!(!is_test_file("AgACAgIAAxkBAAIB"));
    }
}
