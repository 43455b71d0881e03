//! What the fake remembers between requests: chats and messages, files, webhook, scripted failures, the call log.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use super::markup::Markup;
use super::{Call, Failure, DEFAULT_BOT_USERNAME};

/// Everything behind a `FakeTelegram` handle and its server task.
pub(super) struct Shared {
    pub(super) addr: SocketAddr,
    state: Mutex<State>,
    log: Mutex<CallLog>,
    call_added: Notify,
    latency_nanos: AtomicU64,
    pub(super) http: reqwest::Client,
}

/// Poisoning only means a test panicked mid-update; the data is still usable and a fake
/// must not turn one failed test into a cascade.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(addr: SocketAddr, http: reqwest::Client) -> Self {
        Self {
            addr,
            state: Mutex::new(State::default()),
            log: Mutex::new(CallLog::default()),
            call_added: Notify::new(),
            latency_nanos: AtomicU64::new(0),
            http,
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn log(&self) -> MutexGuard<'_, CallLog> {
        lock(&self.log)
    }

    pub(super) fn call_added(&self) -> &Notify {
        &self.call_added
    }

    pub(super) fn record(&self, call: Call) {
        tracing::debug!(method = %call.method, status = call.status, "fake telegram call");
        self.log().push(call);
        self.call_added.notify_waiters();
    }

    pub(super) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    pub(super) fn set_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_nanos.store(nanos, Ordering::Relaxed);
    }

    pub(super) fn token_allowed(&self, token: &str) -> bool {
        self.state()
            .required_token
            .as_deref()
            .is_none_or(|required| required == token)
    }

    pub(super) fn file_by_path(&self, path: &str) -> Option<(Bytes, &'static str)> {
        let state = self.state();
        let file = state.files.by_path.get(path)?;
        Some((file.bytes.clone(), content_type(&file.path)))
    }
}

/// Recorded calls plus a count per method, so waiting for the n-th call stays O(1) per wake-up.
#[derive(Default)]
pub(super) struct CallLog {
    pub(super) calls: Vec<Call>,
    counts: HashMap<String, usize>,
}

impl CallLog {
    fn push(&mut self, call: Call) {
        *self.counts.entry(call.method.clone()).or_default() += 1;
        self.calls.push(call);
    }

    pub(super) fn count(&self, method: &str) -> usize {
        self.counts.get(method).copied().unwrap_or(0)
    }

    pub(super) fn summary(&self) -> String {
        let mut counts: Vec<_> = self.counts.iter().collect();
        counts.sort();
        counts
            .iter()
            .map(|(method, n)| format!("{method}×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(super) fn clear(&mut self) {
        self.calls.clear();
        self.counts.clear();
    }
}

pub(super) struct Webhook {
    pub(super) url: String,
    pub(super) secret_token: Option<String>,
    pub(super) max_connections: u32,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) required_token: Option<String>,
    pub(super) bot_username: Option<String>,
    pub(super) failures: HashMap<String, VecDeque<(u32, Failure)>>,
    pub(super) chat_failures: HashMap<i64, Failure>,
    pub(super) members: HashMap<(i64, i64), String>,
    pub(super) webhook: Option<Webhook>,
    /// Survives `deleteWebhook`: Telegram keeps the previous list when the parameter is omitted.
    pub(super) allowed_updates: Option<Vec<String>>,
    pub(super) webhook_error: Option<(i64, String)>,
    pub(super) delivered: HashSet<i64>,
    /// `update_id` → the message id the fake gave the user's message on first delivery.
    pub(super) user_message_ids: HashMap<i64, i64>,
    pub(super) chats: HashMap<i64, Chat>,
    pub(super) files: Files,
    pub(super) commands: Option<Value>,
}

#[derive(Default)]
pub(super) struct Chat {
    /// The `chat` object seen in delivered updates, echoed in the bot's messages.
    pub(super) info: Option<Value>,
    pub(super) last_message_id: i64,
    pub(super) messages: HashMap<i64, StoredMessage>,
}

pub(super) struct StoredMessage {
    pub(super) from_bot: bool,
    /// The text as the bot sent it (before parse_mode), to tell edits that change only markup.
    pub(super) source: Option<String>,
    /// The message exactly as the Bot API would return it now.
    pub(super) json: Value,
    /// A reply keyboard, its removal or force-reply sent with the message: never part of
    /// `json` (the Bot API does not return them), yet what the user's app shows.
    pub(super) client_markup: Option<Value>,
}

pub(super) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

impl State {
    /// Pops the next scripted failure for `method`, if any is left.
    pub(super) fn take_failure(&mut self, method: &str) -> Option<Failure> {
        let queue = self.failures.get_mut(method)?;
        let (remaining, failure) = queue.front_mut()?;
        let taken = failure.clone();
        *remaining -= 1;
        if *remaining == 0 {
            queue.pop_front();
        }
        if queue.is_empty() {
            self.failures.remove(method);
        }
        Some(taken)
    }

    pub(super) fn bot_user(&self, token: &str) -> Value {
        json!({
            "id": bot_id(token),
            "is_bot": true,
            "first_name": "Promo Test Bot",
            "username": self.bot_username.as_deref().unwrap_or(DEFAULT_BOT_USERNAME),
        })
    }

    pub(super) fn chat_json(&self, chat_id: i64) -> Value {
        if let Some(info) = self.chats.get(&chat_id).and_then(|chat| chat.info.clone()) {
            return info;
        }
        let kind = match chat_id {
            id if id > 0 => "private",
            id if id <= -1_000_000_000_000 => "supergroup",
            _ => "group",
        };
        json!({ "id": chat_id, "type": kind })
    }

    /// Stores a message sent by the bot and returns it as the Bot API `Message`.
    pub(super) fn push_bot_message(
        &mut self,
        chat_id: i64,
        bot: Value,
        mut fields: Map<String, Value>,
        markup: Option<&Markup>,
        source: Option<String>,
    ) -> Value {
        let chat_json = self.chat_json(chat_id);
        let chat = self.chats.entry(chat_id).or_default();
        chat.last_message_id += 1;
        let message_id = chat.last_message_id;
        fields.insert("message_id".into(), Value::from(message_id));
        fields.insert("from".into(), bot);
        fields.insert("chat".into(), chat_json);
        fields.insert("date".into(), Value::from(now_unix()));
        if let Some(inline) = markup.and_then(Markup::inline) {
            fields.insert("reply_markup".into(), inline.clone());
        }
        let json = Value::Object(fields);
        chat.messages.insert(
            message_id,
            StoredMessage {
                from_bot: true,
                source,
                json: json.clone(),
                client_markup: markup.and_then(Markup::client).cloned(),
            },
        );
        json
    }

    /// Remembers a user's message from a delivered update so the bot can delete or quote it.
    ///
    /// In a private chat both sides share one sequence of message ids, so a user's message
    /// arriving after the bot's messages is numbered after them, as Telegram does: update
    /// builders cannot know the chat's sequence, so an id already taken (or lower than the
    /// last one) is replaced by the next free one. `renumbered` is that replacement from the
    /// first delivery, applied again to a redelivered update so it stays unchanged.
    pub(super) fn observe_user_message(&mut self, message: &mut Value, renumbered: Option<i64>) {
        let (Some(chat_id), Some(mut message_id)) = (
            message.pointer("/chat/id").and_then(Value::as_i64),
            message.get("message_id").and_then(Value::as_i64),
        ) else {
            return;
        };
        let chat = self.chats.entry(chat_id).or_default();
        if let Some(id) = renumbered {
            message_id = id;
        } else if message_id <= chat.last_message_id {
            message_id = chat.last_message_id + 1;
        }
        message["message_id"] = Value::from(message_id);
        chat.info = message.get("chat").cloned();
        chat.last_message_id = chat.last_message_id.max(message_id);
        chat.messages
            .entry(message_id)
            .or_insert_with(|| StoredMessage {
                from_bot: false,
                source: None,
                json: message.clone(),
                client_markup: None,
            });
    }
}

/// Bot ids are the number before the colon of the token, as in real tokens.
pub(super) fn bot_id(token: &str) -> i64 {
    token
        .split_once(':')
        .and_then(|(id, _)| id.parse().ok())
        .filter(|id: &i64| *id > 0)
        .unwrap_or(super::DEFAULT_BOT_ID)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    Photo,
    Document,
    /// Registered by a test with `add_file`: usable as either, like a user's upload would be.
    Any,
}

pub(super) struct StoredFile {
    pub(super) file_id: String,
    pub(super) unique_id: String,
    pub(super) path: String,
    pub(super) bytes: Bytes,
    pub(super) kind: FileKind,
    /// The whole `PhotoSize` array this file belongs to, shared by all its sizes.
    pub(super) photo: Option<Arc<Value>>,
    pub(super) document: Option<Value>,
}

#[derive(Default)]
pub(super) struct Files {
    pub(super) by_id: HashMap<String, Arc<StoredFile>>,
    by_path: HashMap<String, Arc<StoredFile>>,
    seq: u64,
}

/// Picture dimensions read from an upload's header.
pub(super) struct Dimensions {
    pub(super) width: u32,
    pub(super) height: u32,
}

pub(super) fn image_dimensions(bytes: &[u8]) -> Option<Dimensions> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    reader.format()?;
    let (width, height) = reader.into_dimensions().ok()?;
    Some(Dimensions { width, height })
}

impl Files {
    fn next_ids(&mut self, prefix: &str) -> (String, String, u64) {
        self.seq += 1;
        let random = uuid::Uuid::new_v4().simple().to_string();
        let file_id = format!("{prefix}{:06X}{random}", self.seq);
        let unique_id = format!("AQAD{:06X}{}", self.seq, &random[..10]);
        (file_id, unique_id, self.seq)
    }

    fn insert(&mut self, file: StoredFile) -> Arc<StoredFile> {
        let file = Arc::new(file);
        self.by_path.insert(file.path.clone(), Arc::clone(&file));
        self.by_id.insert(file.file_id.clone(), Arc::clone(&file));
        file
    }

    /// Stores an uploaded photo the way Telegram does: several sizes, each with its own
    /// `file_id`. The sizes all serve the uploaded bytes; only their dimensions differ.
    pub(super) fn store_photo(&mut self, bytes: Bytes, dims: &Dimensions) -> Arc<Value> {
        let longest = dims.width.max(dims.height).max(1);
        let mut sides: Vec<u32> = [90, 320, 800]
            .into_iter()
            .filter(|side| *side < longest)
            .collect();
        sides.push(longest.min(2560));
        let entries: Vec<_> = sides
            .iter()
            .map(|side| {
                let scale = f64::from(*side) / f64::from(longest);
                let width = scaled(dims.width, scale);
                let height = scaled(dims.height, scale);
                let (file_id, unique_id, seq) = self.next_ids("AgACAgIAAxkBAAI");
                (file_id, unique_id, seq, width, height)
            })
            .collect();
        let sizes = Arc::new(Value::Array(
            entries
                .iter()
                .map(|(file_id, unique_id, _, width, height)| {
                    json!({
                        "file_id": file_id,
                        "file_unique_id": unique_id,
                        "width": width,
                        "height": height,
                        "file_size": bytes.len(),
                    })
                })
                .collect(),
        ));
        for (file_id, unique_id, seq, _, _) in entries {
            self.insert(StoredFile {
                file_id,
                unique_id,
                path: format!("photos/file_{seq}.jpg"),
                bytes: bytes.clone(),
                kind: FileKind::Photo,
                photo: Some(Arc::clone(&sizes)),
                document: None,
            });
        }
        sizes
    }

    pub(super) fn store_document(
        &mut self,
        bytes: Bytes,
        file_name: &str,
        mime_type: Option<&str>,
        kind: FileKind,
    ) -> Arc<StoredFile> {
        let (file_id, unique_id, seq) = self.next_ids("BQACAgIAAxkBAAI");
        let extension = file_name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .filter(|ext| {
                !ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric())
            });
        let mime_type = mime_type
            .map(str::to_owned)
            .unwrap_or_else(|| mime_for(extension.as_deref().unwrap_or("")).to_owned());
        let dims = match kind {
            FileKind::Any => image_dimensions(&bytes),
            _ => None,
        };
        let path = match (&dims, &extension) {
            (Some(_), _) => format!(
                "photos/file_{seq}.{}",
                extension.as_deref().unwrap_or("jpg")
            ),
            (None, Some(ext)) => format!("documents/file_{seq}.{ext}"),
            (None, None) => format!("documents/file_{seq}"),
        };
        let photo = dims.map(|dims| {
            Arc::new(json!([{
                "file_id": file_id,
                "file_unique_id": unique_id,
                "width": dims.width,
                "height": dims.height,
                "file_size": bytes.len(),
            }]))
        });
        let document = json!({
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": bytes.len(),
        });
        let file = StoredFile {
            file_id,
            unique_id,
            path,
            bytes,
            kind,
            photo,
            document: Some(document),
        };
        self.insert(file)
    }
}

fn scaled(side: u32, scale: f64) -> u32 {
    // Dimensions fit in u32 and scale ≤ 1, so the product does too.
    ((f64::from(side) * scale).round() as u32).max(1)
}

fn mime_for(extension: &str) -> &'static str {
    match extension {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn content_type(path: &str) -> &'static str {
    mime_for(path.rsplit_once('.').map_or("", |(_, ext)| ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_message(chat_id: i64, message_id: i64) -> Value {
        json!({
            "message_id": message_id,
            "chat": { "id": chat_id, "type": "private" },
            "text": "привет",
        })
    }

    #[test]
    fn a_users_message_after_the_bots_is_numbered_after_them_like_in_a_private_chat() {
        let mut state = State::default();
        let mut first = user_message(42, 1_000_001);
        state.observe_user_message(&mut first, None);
        assert_eq!(first["message_id"], 1_000_001, "a free id is kept");
        let bot = state.bot_user("1:x");
        let reply = state.push_bot_message(42, bot, Map::new(), None, None);
        assert_eq!(reply["message_id"], 1_000_002);

        // The update builder's next id collides with the bot's reply.
        let mut second = user_message(42, 1_000_002);
        state.observe_user_message(&mut second, None);
        assert_eq!(second["message_id"], 1_000_003);
        assert!(
            state.chats[&42].messages[&1_000_002].from_bot,
            "the reply is intact"
        );

        // A redelivery of the same update keeps the number it got the first time.
        let mut again = user_message(42, 1_000_002);
        state.observe_user_message(&mut again, Some(1_000_003));
        assert_eq!(again["message_id"], 1_000_003);
        assert_eq!(state.chats[&42].messages.len(), 3);
    }
}
