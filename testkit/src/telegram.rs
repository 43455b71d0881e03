//! Fake Telegram Bot API: a real HTTP server on 127.0.0.1 for tests, benchmarks and sandbox mode.
//!
//! The project's real Telegram client talks to it over HTTP (`{base_url}/bot{token}/{method}`),
//! gets Telegram's envelopes and error texts back, and the test inspects and scripts it
//! through the [`FakeTelegram`] handle:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use promo_testkit::telegram::{FakeTelegram, Failure, Updates};
//! use std::time::Duration;
//!
//! let telegram = FakeTelegram::start().await?;
//! // ... point the bot at telegram.base_url() and let it call setWebhook ...
//! telegram.fail_next("sendMessage", 1, Failure::TooManyRequests { retry_after: 1 });
//! telegram.deliver_update(Updates::text(424242, "/start")).await?;
//! let replies = telegram.wait_for_calls("sendMessage", 2, Duration::from_secs(5)).await?;
//! assert_eq!(replies[1].status, 200);
//! # Ok(()) }
//! ```
//!
//! Scope: the methods a webhook promo bot uses (see `methods.rs`). Deliberate differences
//! from Telegram: plain-HTTP webhooks on any port are accepted, URLs given as `photo` or
//! `document` are not fetched, every size of an uploaded photo serves the uploaded bytes,
//! and there is no automatic flood control (script it with [`FakeTelegram::fail_next`]).

mod markup;
mod methods;
mod server;
mod state;
mod updates;

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use axum::{extract::DefaultBodyLimit, serve::ListenerExt, Router};
use bytes::Bytes;
use serde_json::Value;
use tokio::{sync::watch, task::JoinHandle};

use state::{now_unix, FileKind, Shared};

pub use updates::Updates;

/// `username` returned by `getMe` until [`FakeTelegram::set_bot_username`] changes it.
pub const DEFAULT_BOT_USERNAME: &str = "promo_test_bot";
/// Bot id used when the token does not start with `<digits>:` like real tokens do.
pub const DEFAULT_BOT_ID: i64 = 7_000_000_001;
/// The `method` recorded for `GET /file/bot<token>/<file_path>` downloads.
pub const DOWNLOAD: &str = "/file";

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Call {
    /// Canonical method name (`sendMessage` even if the client sent `sendmessage`), the raw
    /// name for unknown methods, or [`DOWNLOAD`].
    pub method: String,
    pub token: String,
    /// Parameters from query, JSON, form or multipart, with well-known fields typed
    /// (`chat_id` a number, `reply_markup` an object); uploads appear as
    /// `{"file": {"name": .., "len": ..}}`. `null` when the body could not be parsed.
    pub params: Value,
    /// When the request arrived.
    pub at: Instant,
    /// HTTP status, equal to `error_code` for failures.
    pub status: u16,
    /// The JSON envelope sent back (`null` for downloads and HTML 502s).
    pub response: Value,
}

impl Call {
    /// The `result` of a successful call.
    pub fn result(&self) -> Option<&Value> {
        self.response.get("result")
    }
}

/// A message the bot successfully sent with `sendMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub chat_id: i64,
    pub message_id: i64,
    /// The text as sent, markup included (`<b>…</b>` for HTML).
    pub text: String,
    pub parse_mode: Option<String>,
    pub reply_markup: Option<Value>,
}

/// One message of a chat as the user's app shows it (see [`FakeTelegram::chat_history`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEntry {
    pub message_id: i64,
    pub from_bot: bool,
    /// The `Message` as the Bot API would return it now: `text` or `caption` (plain, after
    /// `parse_mode`), `photo`/`document`/`contact`, an inline keyboard in `reply_markup`.
    pub message: Value,
    /// The reply keyboard, `remove_keyboard` or `force_reply` the bot sent with this
    /// message; Telegram keeps showing a reply keyboard until a later message replaces it.
    pub client_markup: Option<Value>,
}

/// A scripted Bot API failure, answered with Telegram's exact status, code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    TooManyRequests { retry_after: u32 },
    /// 403 `Forbidden: bot was blocked by the user`.
    Blocked,
    /// 403 `Forbidden: user is deactivated`.
    Deactivated,
    /// 403 `Forbidden: bot can't initiate conversation with a user`.
    CantInitiateConversation,
    /// 400 `Bad Request: chat not found`.
    ChatNotFound,
    /// 400 `Bad Request: <detail>` (the prefix is added unless already present).
    BadRequest(String),
    /// 500 `Internal Server Error` envelope.
    ServerError,
    /// 502 from Telegram's nginx: an HTML page, not JSON.
    BadGateway,
}

/// What the bot's webhook endpoint answered to a delivered update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    pub status: u16,
    pub body: String,
}

impl WebhookReply {
    /// Telegram treats any non-2xx answer as a failed delivery and retries the update.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A Bot API call answered in the response body (`{"method": "sendMessage", ...}`).
    pub fn method_call(&self) -> Option<Value> {
        let body: Value = serde_json::from_str(&self.body).ok()?;
        body.get("method")?.is_string().then_some(body)
    }
}

/// The webhook as the bot configured it with `setWebhook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub secret_token: Option<String>,
    pub max_connections: u32,
    pub allowed_updates: Option<Vec<String>>,
}

/// Handle to a running fake. Clones share the server; it stops when the last clone is
/// dropped or on [`FakeTelegram::shutdown`].
#[derive(Clone)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    lifetime: Arc<Lifetime>,
}

/// Owned by handles only (never by the server task), so its drop means "no handle left".
struct Lifetime {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

/// Update types Telegram only sends when listed in `allowed_updates`.
const OPT_IN_UPDATES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

impl FakeTelegram {
    /// Binds 127.0.0.1 on a random port and serves until the last handle goes away.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the fake Telegram server")?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the webhook delivery client")?;
        let shared = Arc::new(Shared::new(addr, http));
        let app = Router::new()
            .fallback(server::handle)
            .layer(DefaultBodyLimit::max(server::MAX_BODY))
            .with_state(Arc::clone(&shared));
        // Small JSON answers must not wait for Nagle when benchmarks keep connections busy.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::trace!(%error, "fake Telegram could not set TCP_NODELAY");
            }
        });
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let signal = async move {
                // An error means every handle is gone, which is a stop request too.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::warn!(%error, "fake Telegram server failed");
            }
        });
        Ok(Self {
            shared,
            lifetime: Arc::new(Lifetime {
                stop,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// Stops accepting requests and waits (up to 5 s) for in-flight ones to finish.
    pub async fn shutdown(&self) {
        self.lifetime.stop.send_replace(true);
        let task = self
            .lifetime
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    /// `http://127.0.0.1:PORT`; the client appends `/bot{token}/{method}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// From now on, other tokens get 401 `Unauthorized` (by default any token is accepted).
    pub fn require_token(&self, token: impl Into<String>) {
        self.shared.state().required_token = Some(token.into());
    }

    /// The `username` of the bot user in `getMe` and in the bot's messages.
    pub fn set_bot_username(&self, username: impl Into<String>) {
        self.shared.state().bot_username = Some(username.into());
    }

    /// Every call answered so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.log().calls.clone()
    }

    /// Calls to one method (matched case-insensitively, like Telegram does).
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        let method = method_key(method);
        self.shared
            .log()
            .calls
            .iter()
            .filter(|call| call.method == method)
            .cloned()
            .collect()
    }

    /// Successful `sendMessage` calls, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.shared
            .log()
            .calls
            .iter()
            .filter(|call| call.method == "sendMessage" && call.status == 200)
            .filter_map(|call| {
                let result = call.result()?;
                let text = match call.params.get("text")? {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                Some(SentMessage {
                    chat_id: result.pointer("/chat/id")?.as_i64()?,
                    message_id: result.get("message_id")?.as_i64()?,
                    text,
                    parse_mode: call
                        .params
                        .get("parse_mode")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    reply_markup: call
                        .params
                        .get("reply_markup")
                        .filter(|markup| !markup.is_null())
                        .cloned(),
                })
            })
            .collect()
    }

    pub fn clear_calls(&self) {
        self.shared.log().clear();
    }

    /// Waits until at least `n` calls to `method` were recorded and returns all of them.
    /// Wakes on each recorded call instead of polling.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Call>> {
        let method = method_key(method);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.call_added().notified();
            tokio::pin!(notified);
            // Register before checking, so a call recorded in between still wakes us.
            notified.as_mut().enable();
            if self.shared.log().count(&method) >= n {
                return Ok(self.calls_to(&method));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let log = self.shared.log();
                bail!(
                    "timed out after {timeout:?} waiting for {n} `{method}` call(s); got {}; all calls: [{}]",
                    log.count(&method),
                    log.summary()
                );
            }
        }
    }

    /// The next `times` calls to `method` fail with `failure`; queued after earlier scripts.
    pub fn fail_next(&self, method: &str, times: u32, failure: Failure) {
        if times == 0 {
            return;
        }
        self.shared
            .state()
            .failures
            .entry(method_key(method))
            .or_default()
            .push_back((times, failure));
    }

    /// Every message, edit, deletion and chat action for this chat gets 403 blocked.
    pub fn block_chat(&self, chat_id: i64) {
        self.fail_chat(chat_id, Failure::Blocked);
    }

    /// Clears whatever per-chat failure was set for this chat.
    pub fn unblock_chat(&self, chat_id: i64) {
        self.shared.state().chat_failures.remove(&chat_id);
    }

    /// Every call naming this chat gets 400 `chat not found`.
    pub fn chat_not_found(&self, chat_id: i64) {
        self.fail_chat(chat_id, Failure::ChatNotFound);
    }

    /// Any other persistent per-chat failure, e.g. [`Failure::Deactivated`].
    pub fn fail_chat(&self, chat_id: i64, failure: Failure) {
        self.shared.state().chat_failures.insert(chat_id, failure);
    }

    /// The `status` `getChatMember` reports for this user in this chat (default `"left"`).
    pub fn set_chat_member(&self, chat_id: i64, user_id: i64, status: &str) {
        self.shared
            .state()
            .members
            .insert((chat_id, user_id), status.to_owned());
    }

    /// Every answer is delayed by `latency`; requests wait concurrently, never in turn.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    /// Registers a file as if a user had sent it; returns its `file_id` for `getFile`,
    /// downloads and [`Updates::photo`] / [`Updates::document`]. Images are served from
    /// `photos/`, anything else from `documents/`.
    pub fn add_file(&self, bytes: impl Into<Bytes>, name_hint: &str) -> String {
        self.shared
            .state()
            .files
            .store_document(bytes.into(), name_hint, None, FileKind::Any)
            .file_id
            .clone()
    }

    /// The bytes behind a `file_id`, e.g. to check what the bot uploaded.
    pub fn file_bytes(&self, file_id: &str) -> Option<Bytes> {
        let state = self.shared.state();
        state
            .files
            .by_id
            .get(file_id)
            .map(|file| file.bytes.clone())
    }

    /// A message as Telegram holds it now (after edits), or `None` if unknown or deleted.
    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<Value> {
        let state = self.shared.state();
        let chat = state.chats.get(&chat_id)?;
        chat.messages
            .get(&message_id)
            .map(|message| message.json.clone())
    }

    /// The chat as its user sees it now: the user's delivered messages and the bot's
    /// messages in order, each with its current content (edits applied, deleted ones gone).
    pub fn chat_history(&self, chat_id: i64) -> Vec<ChatEntry> {
        let state = self.shared.state();
        let Some(chat) = state.chats.get(&chat_id) else {
            return Vec::new();
        };
        let mut entries: Vec<ChatEntry> = chat
            .messages
            .iter()
            .map(|(id, stored)| ChatEntry {
                message_id: *id,
                from_bot: stored.from_bot,
                message: stored.json.clone(),
                client_markup: stored.client_markup.clone(),
            })
            .collect();
        entries.sort_by_key(|entry| entry.message_id);
        entries
    }

    /// The webhook set by the bot, if any.
    pub fn webhook(&self) -> Option<WebhookConfig> {
        let state = self.shared.state();
        let hook = state.webhook.as_ref()?;
        Some(WebhookConfig {
            url: hook.url.clone(),
            secret_token: hook.secret_token.clone(),
            max_connections: hook.max_connections,
            allowed_updates: state.allowed_updates.clone(),
        })
    }

    /// POSTs `update` to the webhook set with `setWebhook`, with its secret header, and
    /// returns the bot's answer. Fails if Telegram would not deliver it (no webhook, or the
    /// type is excluded by `allowed_updates`). A non-2xx answer is returned, and shows up in
    /// `getWebhookInfo.last_error_message` like on Telegram.
    pub async fn deliver_update(&self, update: Value) -> Result<WebhookReply> {
        let (url, secret) = {
            let state = self.shared.state();
            let Some(hook) = state.webhook.as_ref() else {
                bail!("no webhook is set: the bot never called setWebhook (deliver_update_to bypasses it)");
            };
            let kind = update
                .as_object()
                .and_then(|fields| fields.keys().find(|key| *key != "update_id"))
                .map_or("", String::as_str);
            let allowed = match state.allowed_updates.as_deref() {
                Some(list) if !list.is_empty() => list.iter().any(|allowed| allowed == kind),
                _ => !OPT_IN_UPDATES.contains(&kind),
            };
            if !allowed {
                bail!(
                    "Telegram would not deliver a `{kind}` update: allowed_updates is {:?}",
                    state.allowed_updates
                );
            }
            (hook.url.clone(), hook.secret_token.clone())
        };
        let reply = self
            .deliver_update_to(&url, secret.as_deref(), update)
            .await;
        let error = match &reply {
            Ok(reply) if reply.is_success() => None,
            Ok(reply) => Some(format!(
                "Wrong response from the webhook: {} {}",
                reply.status,
                http::StatusCode::from_u16(reply.status)
                    .ok()
                    .and_then(|status| status.canonical_reason())
                    .unwrap_or("")
            )),
            Err(_) => Some("Connection refused".to_owned()),
        };
        if let Some(message) = error {
            self.shared.state().webhook_error = Some((now_unix(), message.trim().to_owned()));
        }
        reply
    }

    /// POSTs `update` to `url` directly, as Telegram would, sending
    /// `X-Telegram-Bot-Api-Secret-Token` when `secret` is given.
    ///
    /// The fake first applies what Telegram guarantees: it learns users' messages (so the bot
    /// can delete them), replaces a callback's placeholder message with the stored one and
    /// rejects taps on buttons that message does not have, and a `my_chat_member` update to
    /// `kicked` blocks the chat (back to `member` unblocks it).
    pub async fn deliver_update_to(
        &self,
        url: &str,
        secret: Option<&str>,
        mut update: Value,
    ) -> Result<WebhookReply> {
        self.observe(&mut update)?;
        let mut request = self.shared.http.post(url).json(&update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("delivering update to {url}"))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .context("reading the webhook's answer")?;
        Ok(WebhookReply { status, body })
    }

    /// Does what Telegram does with a webhook answer that is a method call: executes it
    /// (as the bot with `token`), so the call shows up in the log like any other.
    pub async fn execute_webhook_reply(&self, token: &str, reply: &WebhookReply) -> Result<()> {
        let Some(mut call) = reply.method_call() else {
            return Ok(());
        };
        let method = call
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Value::Object(fields) = &mut call {
            fields.remove("method");
        }
        self.shared
            .http
            .post(format!("{}/bot{token}/{method}", self.base_url()))
            .json(&call)
            .send()
            .await
            .with_context(|| format!("executing the webhook reply {method}"))?;
        Ok(())
    }

    fn observe(&self, update: &mut Value) -> Result<()> {
        let mut state = self.shared.state();
        let update_id = update.get("update_id").and_then(Value::as_i64);
        // Telegram re-sends failed updates unchanged, so checks only apply the first time.
        let first_delivery = update_id.is_none_or(|id| !state.delivered.contains(&id));

        if let Some(query) = update.get_mut("callback_query") {
            let chat_id = query.pointer("/message/chat/id").and_then(Value::as_i64);
            let message_id = query.pointer("/message/message_id").and_then(Value::as_i64);
            let stored = chat_id
                .zip(message_id)
                .and_then(|(chat, id)| state.chats.get(&chat)?.messages.get(&id))
                .filter(|message| message.from_bot);
            if let Some(stored) = stored {
                let data = query.get("data").and_then(Value::as_str).unwrap_or("");
                let on_keyboard = stored
                    .json
                    .get("reply_markup")
                    .is_some_and(|markup| markup::callback_data(markup).any(|d| d == data));
                if first_delivery && !on_keyboard {
                    bail!(
                        "message {} in chat {} has no button with callback_data {data:?} now: Telegram could not send this callback",
                        message_id.unwrap_or_default(),
                        chat_id.unwrap_or_default()
                    );
                }
                query["message"] = stored.json.clone();
            }
        }
        for key in ["message", "edited_message"] {
            if let Some(message) = update.get_mut(key) {
                let earlier = update_id.and_then(|id| state.user_message_ids.get(&id).copied());
                state.observe_user_message(message, earlier);
                let assigned = message.get("message_id").and_then(Value::as_i64);
                if let (Some(update), Some(assigned)) = (update_id, assigned) {
                    state.user_message_ids.insert(update, assigned);
                }
            }
        }
        if let Some(change) = update.get("my_chat_member") {
            let chat_id = change.pointer("/chat/id").and_then(Value::as_i64);
            let status = change
                .pointer("/new_chat_member/status")
                .and_then(Value::as_str);
            match (chat_id, status) {
                (Some(chat), Some("kicked")) => {
                    state.chat_failures.insert(chat, Failure::Blocked);
                }
                (Some(chat), Some("member"))
                    if state.chat_failures.get(&chat) == Some(&Failure::Blocked) =>
                {
                    state.chat_failures.remove(&chat);
                }
                _ => {}
            }
        }
        if let Some(id) = update_id {
            state.delivered.insert(id);
        }
        Ok(())
    }
}

fn method_key(method: &str) -> String {
    methods::canonical(method).map_or_else(|| method.to_owned(), str::to_owned)
}
