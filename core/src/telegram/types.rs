//! Update and method types. Incoming updates are parsed in two steps: our envelope reads
//! `update_id` and the kind's key, then known kinds go to telegram-bot-raw. Kinds it
//! does not know (e.g. `my_chat_member`) use our own types, and anything else becomes
//! [`UpdateKind::Unknown`] so the webhook can acknowledge it instead of failing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use telegram_bot_raw::{
    CallbackQuery, ChatMemberStatus, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
    Message, MessageChat, MessageKind, MessageOrChannelPost, ReplyKeyboardMarkup,
    ReplyKeyboardRemove, ReplyMarkup, User,
};

/// One webhook POST body.
#[derive(Debug, Clone)]
pub struct IncomingUpdate {
    pub update_id: i64,
    pub kind: UpdateKind,
}

#[derive(Debug, Clone)]
pub enum UpdateKind {
    Message(Box<Message>),
    CallbackQuery(Box<CallbackQuery>),
    MyChatMember(Box<ChatMemberUpdated>),
    /// A kind we do not handle (or could not parse); `kind` is the update's key.
    Unknown {
        kind: String,
        reason: Option<String>,
    },
}

/// `my_chat_member`: the bot's own membership changed in a chat; in a private chat,
/// `kicked` means the user blocked the bot and `member` that they came back.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatMemberUpdated {
    pub chat: ChatRef,
    pub from: UserRef,
    pub date: i64,
    pub old_chat_member: ChatMemberRef,
    pub new_chat_member: ChatMemberRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatRef {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserRef {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatMemberRef {
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateParseError {
    #[error("the body is not a JSON object with an integer update_id")]
    NotAnUpdate,
}

const KNOWN_KEYS: &[&str] = &["message", "callback_query", "my_chat_member"];

impl IncomingUpdate {
    /// Parses a webhook body. Only a body without a usable `update_id` is an error;
    /// every well-formed update parses, unknown kinds included.
    pub fn parse(body: &[u8]) -> Result<Self, UpdateParseError> {
        let Value::Object(mut map) =
            serde_json::from_slice::<Value>(body).map_err(|_| UpdateParseError::NotAnUpdate)?
        else {
            return Err(UpdateParseError::NotAnUpdate);
        };
        // Telegram passes on whatever users type, NUL included; Postgres stores no NUL.
        map.values_mut().for_each(crate::pgtext::strip_nul_in_json);
        map.values_mut().for_each(clip_profile_fields);
        let update_id = map
            .get("update_id")
            .and_then(Value::as_i64)
            .ok_or(UpdateParseError::NotAnUpdate)?;
        let key = KNOWN_KEYS
            .iter()
            .find(|k| map.contains_key(**k))
            .copied()
            .or_else(|| map.keys().find(|k| *k != "update_id").map(|k| k.as_str()))
            .unwrap_or("")
            .to_owned();
        let payload = map.remove(&key).unwrap_or(Value::Null);
        let kind = match key.as_str() {
            "message" => {
                serde_json::from_value::<Message>(payload).map(|m| UpdateKind::Message(Box::new(m)))
            }
            "callback_query" => serde_json::from_value::<CallbackQuery>(payload)
                .map(|c| UpdateKind::CallbackQuery(Box::new(c))),
            "my_chat_member" => serde_json::from_value::<ChatMemberUpdated>(payload)
                .map(|c| UpdateKind::MyChatMember(Box::new(c))),
            _ => Ok(UpdateKind::Unknown {
                kind: key.clone(),
                reason: None,
            }),
        }
        .unwrap_or_else(|e| UpdateKind::Unknown {
            kind: key,
            reason: Some(e.to_string()),
        });
        Ok(IncomingUpdate { update_id, kind })
    }
}

/// Longest profile field kept. Telegram allows 64 characters for names and 32 for a
/// username; anything longer is not from Telegram, and an indexed column (the username)
/// cannot hold a few kilobytes.
const MAX_PROFILE_FIELD_CHARS: usize = 256;

/// Clips names and usernames wherever they occur (sender, chat, contact, ...).
fn clip_profile_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match (key.as_str(), &mut *field) {
                    (
                        "username" | "first_name" | "last_name" | "language_code",
                        Value::String(text),
                    ) if text.chars().count() > MAX_PROFILE_FIELD_CHARS => {
                        *text = text.chars().take(MAX_PROFILE_FIELD_CHARS).collect();
                    }
                    _ => clip_profile_fields(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clip_profile_fields),
        _ => {}
    }
}

/// A message the bot sends. Serialises to `sendMessage` parameters; with
/// [`OutgoingMessage::as_webhook_reply`] it becomes a webhook response body.
#[derive(Debug, Clone, Serialize)]
pub struct SendMessage {
    pub chat_id: i64,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<ReplyMarkup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_preview_options: Option<Value>,
    /// Bot API 7.11; absent from telegram-bot-raw.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_paid_broadcast: bool,
}

impl SendMessage {
    pub fn new(chat_id: i64, text: impl Into<String>) -> Self {
        Self {
            chat_id,
            text: text.into(),
            parse_mode: None,
            reply_markup: None,
            link_preview_options: None,
            allow_paid_broadcast: false,
        }
    }

    pub fn html(mut self) -> Self {
        self.parse_mode = Some("HTML");
        self
    }

    pub fn markup(mut self, markup: impl Into<ReplyMarkup>) -> Self {
        self.reply_markup = Some(markup.into());
        self
    }
}

/// Any Bot API call the platform makes: the one shape of an outgoing call. Handlers
/// return these as their effects and the caller decides whether they go over HTTP or
/// into the webhook response; the campaign runner builds them per recipient.
#[derive(Debug, Clone)]
pub enum OutgoingMessage {
    Send(SendMessage),
    AnswerCallback {
        callback_query_id: String,
        text: Option<String>,
    },
    /// Any other method (`editMessageText`, `sendPhoto`, ...) with its parameters.
    Call {
        method: &'static str,
        params: Value,
    },
}

impl OutgoingMessage {
    pub fn method(&self) -> &'static str {
        match self {
            OutgoingMessage::Send(_) => "sendMessage",
            OutgoingMessage::AnswerCallback { .. } => "answerCallbackQuery",
            OutgoingMessage::Call { method, .. } => method,
        }
    }

    pub fn params(&self) -> Value {
        match self {
            OutgoingMessage::Send(m) => serde_json::to_value(m).unwrap_or(Value::Null),
            OutgoingMessage::AnswerCallback {
                callback_query_id,
                text,
            } => {
                let mut v = serde_json::json!({ "callback_query_id": callback_query_id });
                if let Some(text) = text {
                    v["text"] = Value::String(text.clone());
                }
                v
            }
            OutgoingMessage::Call { params, .. } => params.clone(),
        }
    }

    /// `{"method": "...", ...params}`: Telegram executes this when it is the body of the
    /// webhook response, saving one round trip.
    pub fn as_webhook_reply(&self) -> Value {
        let mut params = self.params();
        if let Value::Object(map) = &mut params {
            map.insert("method".into(), Value::String(self.method().into()));
        }
        params
    }
}

/// `setWebhook` parameters; `secret_token` is absent from telegram-bot-raw.
#[derive(Debug, Clone, Serialize)]
pub struct SetWebhook {
    pub url: String,
    pub secret_token: String,
    pub allowed_updates: Vec<&'static str>,
    pub max_connections: u32,
    pub drop_pending_updates: bool,
}

/// The update kinds the bot asks Telegram for.
pub const ALLOWED_UPDATES: &[&str] = &["message", "callback_query", "my_chat_member"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_message_update_parses_through_telegram_bot_raw() {
        let body = br#"{"update_id": 5, "message": {"message_id": 1, "date": 1726581660,
            "from": {"id": 42, "is_bot": false, "first_name": "Ivan", "language_code": "ru"},
            "chat": {"id": 42, "type": "private", "first_name": "Ivan"}, "text": "/start"}}"#;
        let update = IncomingUpdate::parse(body).expect("parses");
        assert_eq!(update.update_id, 5);
        match update.kind {
            UpdateKind::Message(m) => {
                assert!(matches!(&m.kind, MessageKind::Text { data, .. } if data == "/start"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_webhook_reply_carries_the_method_and_the_parameters() {
        let call = OutgoingMessage::Call {
            method: "editMessageText",
            params: serde_json::json!({"chat_id": 1, "message_id": 2, "text": "x"}),
        };
        let body = call.as_webhook_reply();
        assert_eq!(body["method"], "editMessageText");
        assert_eq!(body["message_id"], 2);
    }

    #[test]
    fn my_chat_member_is_covered_by_our_own_type() {
        let body = br#"{"update_id": 6, "my_chat_member": {"chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ivan"}, "date": 1,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": true, "first_name": "b"}},
            "new_chat_member": {"status": "kicked", "until_date": 0, "user": {"id": 1, "is_bot": true, "first_name": "b"}}}}"#;
        let update = IncomingUpdate::parse(body).expect("parses");
        match update.kind {
            UpdateKind::MyChatMember(m) => assert_eq!(m.new_chat_member.status, "kicked"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_and_malformed_kinds_become_unknown_not_errors() {
        let future = br#"{"update_id": 7, "business_connection": {"id": "x"}}"#;
        assert!(matches!(
            IncomingUpdate::parse(future).map(|u| u.kind),
            Ok(UpdateKind::Unknown { kind, reason: None }) if kind == "business_connection"
        ));
        let broken = br#"{"update_id": 8, "message": {"text": "no ids"}}"#;
        assert!(matches!(
            IncomingUpdate::parse(broken).map(|u| u.kind),
            Ok(UpdateKind::Unknown {
                reason: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn bodies_without_an_update_id_are_rejected() {
        for body in [
            &b"[]"[..],
            b"not json",
            br#"{"message": {}}"#,
            br#"{"update_id": "1"}"#,
        ] {
            assert!(IncomingUpdate::parse(body).is_err());
        }
    }

    #[test]
    fn a_webhook_reply_carries_the_method_name() {
        let reply = OutgoingMessage::Send(SendMessage::new(42, "hi")).as_webhook_reply();
        assert_eq!(reply["method"], "sendMessage");
        assert_eq!(reply["chat_id"], 42);
        assert!(reply.get("allow_paid_broadcast").is_none());
    }
}
