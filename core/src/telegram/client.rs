//! The Bot API HTTP client. Errors keep Telegram's `error_code` and `retry_after` so
//! callers branch on them (429 wait, 403 blocked, 400 chat not found) rather than on
//! description text.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::transcript::Transcript;
use super::types::{OutgoingMessage, SendMessage, SetWebhook};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram answered {code}: {description}")]
    Api {
        code: u16,
        description: String,
        retry_after: Option<u64>,
    },
    #[error("Telegram could not be reached: {0}")]
    Transport(String),
    #[error("Telegram's answer was not understood: {0}")]
    Decode(String),
}

impl TelegramError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TelegramError::Api {
                retry_after: Some(s),
                ..
            } => Some(Duration::from_secs(*s)),
            _ => None,
        }
    }

    /// 403: blocked, deactivated, or never started the bot. The recipient is unreachable.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, TelegramError::Api { code: 403, .. })
    }

    pub fn is_chat_not_found(&self) -> bool {
        matches!(self, TelegramError::Api { code: 400, description, .. }
            if description.contains("chat not found"))
    }

    /// Worth retrying the same call: flood control, Telegram's own failures, the network.
    pub fn is_transient(&self) -> bool {
        match self {
            TelegramError::Api { code, .. } => *code == 429 || *code >= 500,
            TelegramError::Transport(_) => true,
            TelegramError::Decode(_) => false,
        }
    }
}

/// Why a [`TelegramClient::call_gated`] got no answer from Telegram, or the answer.
#[derive(Debug, thiserror::Error)]
pub enum GatedCallError {
    /// The request never became complete: its last byte was never handed to the
    /// connection (the gate refused or failed, or the connection failed before). A Bot
    /// API server acts only on a whole request, so nothing was delivered. `attempted`:
    /// the way to Telegram failed (connect, write), which counts as an attempt; false
    /// when the gate stopped it.
    #[error("the request was not completed: {reason}")]
    Unsent { reason: String, attempted: bool },
    /// The whole request left: Telegram's answer, or a failure after the last byte (the
    /// message may have been delivered).
    #[error(transparent)]
    Telegram(#[from] TelegramError),
}

/// Why a gate stopped a send, `None` when it let it go.
fn gate_refusal(verdict: anyhow::Result<bool>) -> Option<String> {
    match verdict {
        Ok(true) => None,
        Ok(false) => Some("the send was withdrawn".to_owned()),
        Err(e) => Some(format!("{e:#}")),
    }
}

/// Runs its hook when dropped after the last chunk was handed out: hyper drops a request
/// body as soon as it has buffered the final chunk, before flushing it in the same poll.
/// Dropped any other way (the gate refused, the request was abandoned), it does nothing.
struct WhenTaken<W: FnOnce()> {
    completed: Arc<AtomicBool>,
    hook: Option<W>,
}

impl<W: FnOnce()> Drop for WhenTaken<W> {
    fn drop(&mut self) {
        if self.completed.load(Ordering::SeqCst) {
            if let Some(hook) = self.hook.take() {
                hook();
            }
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    result: Option<Value>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

/// The file of a [`TelegramClient::call_gated_with_file`]: the form field it goes in
/// (`photo`), its name and type, and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct FilePart<'a> {
    pub field: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// `params` as text fields (strings as they are, other values as JSON, as the Bot API
/// reads form fields) and `file` as the file part of one `multipart/form-data` body.
fn multipart_body(params: &Value, file: &FilePart<'_>) -> Result<(String, Vec<u8>), String> {
    let Value::Object(fields) = params else {
        return Err("parameters are not a JSON object".to_owned());
    };
    // 128 random bits: a boundary that occurs in an image by chance is out of reach.
    let boundary = format!("promo-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(file.bytes.len() + 1024);
    for (name, value) in fields {
        let text = match value {
            Value::Null => continue,
            _ if name == file.field => continue,
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{text}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            file.field, file.file_name, file.content_type
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok((format!("multipart/form-data; boundary={boundary}"), body))
}

/// `getFile`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct FileInfo {
    pub file_id: String,
    pub file_size: Option<u64>,
    pub file_path: Option<String>,
}

/// The subset of `Message` the platform reads back from sends.
#[derive(Debug, Clone, Deserialize)]
pub struct SentMessage {
    pub message_id: i64,
}

/// The Bot API client. Its transport is Telegram over HTTP, or a test chat's transcript
/// ([`TelegramClient::test_chat`]): callers are the same either way, so the bot logic
/// that serves a test chat is the logic that serves shoppers.
#[derive(Clone)]
pub struct TelegramClient {
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Http(Http),
    /// Nothing leaves the process: every call is written to the test chat's transcript.
    TestChat(Transcript),
}

#[derive(Clone)]
struct Http {
    http: reqwest::Client,
    /// `{api_url}/bot{token}/`: the token is inside, so this is never logged.
    method_base: String,
    file_base: String,
}

impl fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TelegramClient { .. }")
    }
}

impl TelegramClient {
    pub fn new(api_url: &str, token: &SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()?;
        let api_url = api_url.trim_end_matches('/');
        Ok(Self {
            transport: Transport::Http(Http {
                http,
                method_base: format!("{api_url}/bot{}/", token.expose_secret()),
                file_base: format!("{api_url}/file/bot{}/", token.expose_secret()),
            }),
        })
    }

    /// A client whose every call lands in `transcript` instead of reaching Telegram.
    pub fn test_chat(transcript: Transcript) -> Self {
        Self {
            transport: Transport::TestChat(transcript),
        }
    }

    /// Whether calls go to a test chat's transcript rather than to Telegram.
    pub fn is_test_chat(&self) -> bool {
        matches!(self.transport, Transport::TestChat(_))
    }

    fn http(&self) -> Result<&Http, &Transcript> {
        match &self.transport {
            Transport::Http(http) => Ok(http),
            Transport::TestChat(transcript) => Err(transcript),
        }
    }

    pub async fn call<P: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, TelegramError> {
        let http = match self.http() {
            Ok(http) => http,
            Err(transcript) => {
                let params = serde_json::to_value(params)
                    .map_err(|e| TelegramError::Decode(format!("parameters are not JSON: {e}")))?;
                let answer = transcript.call(method, &params).await?;
                return serde_json::from_value(answer)
                    .map_err(|e| TelegramError::Decode(e.to_string()));
            }
        };
        let response = http
            .http
            .post(format!("{}{method}", http.method_base))
            .json(params)
            .send()
            .await
            // without_url: reqwest errors print the URL, which holds the token.
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        Self::decode(response).await
    }

    /// [`TelegramClient::call`] whose request body leaves in two parts: everything but the
    /// last byte, then, once `gate` has resolved `Ok(true)`, the last byte. The body has an
    /// explicit `Content-Length`, so a server never acts on the request before the last
    /// byte arrives; a gate that fails or refuses aborts the body (the server sees a
    /// truncated request and drops it). `written` runs once hyper has taken the last byte
    /// (it drops the body right after buffering its final chunk, in the same poll that
    /// then flushes it to the socket), never when the request stayed incomplete. The
    /// campaign runner records "launching" in the gate and "written" in `written`, so a
    /// crash before "written" leaves a request that at most was about to complete.
    pub async fn call_gated<P, R, G, W>(
        &self,
        method: &str,
        params: &P,
        gate: G,
        written: W,
    ) -> Result<R, GatedCallError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
        G: Future<Output = anyhow::Result<bool>> + Send + 'static,
        W: FnOnce() + Send + 'static,
    {
        if self.http().is_err() {
            // No bytes to hold back: the gate decides, and the call is the record.
            let refused = gate_refusal(gate.await);
            if let Some(reason) = refused {
                return Err(GatedCallError::Unsent {
                    reason,
                    attempted: false,
                });
            }
            written();
            return Ok(self.call(method, params).await?);
        }
        let body = serde_json::to_vec(params).map_err(|e| GatedCallError::Unsent {
            reason: format!("parameters are not JSON: {e}"),
            attempted: true,
        })?;
        self.send_gated(method, "application/json".to_owned(), body, gate, written)
            .await
    }

    /// [`TelegramClient::call_gated`] with a file: `params` (a JSON object) as the text
    /// fields of a `multipart/form-data` body and `file` as its file part, held back by
    /// its last byte like any gated call. The campaign runner sends an uploaded photo's
    /// bytes this way on its first send.
    pub async fn call_gated_with_file<R, G, W>(
        &self,
        method: &str,
        params: &Value,
        file: FilePart<'_>,
        gate: G,
        written: W,
    ) -> Result<R, GatedCallError>
    where
        R: DeserializeOwned,
        G: Future<Output = anyhow::Result<bool>> + Send + 'static,
        W: FnOnce() + Send + 'static,
    {
        let (content_type, body) =
            multipart_body(params, &file).map_err(|reason| GatedCallError::Unsent {
                reason,
                attempted: true,
            })?;
        self.send_gated(method, content_type, body, gate, written)
            .await
    }

    async fn send_gated<R, G, W>(
        &self,
        method: &str,
        content_type: String,
        mut body: Vec<u8>,
        gate: G,
        written: W,
    ) -> Result<R, GatedCallError>
    where
        R: DeserializeOwned,
        G: Future<Output = anyhow::Result<bool>> + Send + 'static,
        W: FnOnce() + Send + 'static,
    {
        let Ok(http) = self.http() else {
            // Only a file send gets here without HTTP, and a test chat takes no files.
            return Err(GatedCallError::Unsent {
                reason: "a test chat's transcript takes no file uploads".to_owned(),
                attempted: false,
            });
        };
        let length = body.len();
        let Some(split) = length.checked_sub(1) else {
            return Err(GatedCallError::Unsent {
                reason: "an empty request body".to_owned(),
                attempted: true,
            });
        };
        let last = body.split_off(split);
        let refused: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let completed = Arc::new(AtomicBool::new(false));
        let tail = {
            let (refused, completed) = (refused.clone(), completed.clone());
            async move {
                let verdict = gate_refusal(gate.await);
                if let Some(reason) = verdict {
                    if let Ok(mut slot) = refused.lock() {
                        *slot = Some(reason.clone());
                    }
                    return Err(std::io::Error::other(reason));
                }
                completed.store(true, Ordering::SeqCst);
                Ok::<_, std::io::Error>(last)
            }
        };
        let taken = WhenTaken {
            completed: completed.clone(),
            hook: Some(written),
        };
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(body)])
            .chain(futures::stream::once(tail))
            .map(move |chunk| {
                // Owned by the body, so `taken` drops when hyper drops the body.
                let _owner = &taken;
                chunk
            });
        let sent = http
            .http
            .post(format!("{}{method}", http.method_base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
        let refusal = refused.lock().ok().and_then(|mut slot| slot.take());
        if let Some(reason) = refusal {
            return Err(GatedCallError::Unsent {
                reason,
                attempted: false,
            });
        }
        let response = match sent {
            Ok(response) => response,
            Err(e) if !completed.load(Ordering::SeqCst) => {
                return Err(GatedCallError::Unsent {
                    reason: e.without_url().to_string(),
                    attempted: true,
                })
            }
            Err(e) => return Err(TelegramError::Transport(e.without_url().to_string()).into()),
        };
        Ok(Self::decode(response).await?)
    }

    async fn decode<R: DeserializeOwned>(response: reqwest::Response) -> Result<R, TelegramError> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|_| {
            if status.is_success() {
                TelegramError::Decode(format!("HTTP {status} with a non-JSON body"))
            } else {
                TelegramError::Api {
                    code: status.as_u16(),
                    description: format!("HTTP {status}"),
                    retry_after: None,
                }
            }
        })?;
        if envelope.ok {
            serde_json::from_value(envelope.result.unwrap_or(Value::Bool(true)))
                .map_err(|e| TelegramError::Decode(e.to_string()))
        } else {
            Err(TelegramError::Api {
                code: envelope.error_code.unwrap_or(status.as_u16()),
                description: envelope.description.unwrap_or_default(),
                retry_after: envelope.parameters.and_then(|p| p.retry_after),
            })
        }
    }

    pub async fn send_message(&self, message: &SendMessage) -> Result<SentMessage, TelegramError> {
        self.call("sendMessage", message).await
    }

    /// Executes a reply produced by a handler.
    pub async fn execute(&self, message: &OutgoingMessage) -> Result<(), TelegramError> {
        let _: Value = self.call(message.method(), &message.params()).await?;
        Ok(())
    }

    /// `sendDocument` with the file uploaded as multipart (exports, reports).
    pub async fn send_document(
        &self,
        chat_id: i64,
        file_name: &str,
        mime: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) -> Result<SentMessage, TelegramError> {
        let http = match self.http() {
            Ok(http) => http,
            Err(transcript) => {
                let answer = transcript
                    .document(chat_id, file_name, mime, bytes.len(), caption)
                    .await?;
                return serde_json::from_value(answer)
                    .map_err(|e| TelegramError::Decode(e.to_string()));
            }
        };
        let document = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(mime)
            .map_err(|e| TelegramError::Decode(format!("invalid MIME type: {e}")))?;
        let form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.to_string())
            .text("caption", caption.to_owned())
            .part("document", document);
        let response = http
            .http
            .post(format!("{}sendDocument", http.method_base))
            .multipart(form)
            .send()
            .await
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        Self::decode(response).await
    }

    pub async fn set_webhook(&self, params: &SetWebhook) -> Result<bool, TelegramError> {
        self.call("setWebhook", params).await
    }

    pub async fn get_me(&self) -> Result<Value, TelegramError> {
        self.call("getMe", &serde_json::json!({})).await
    }

    pub async fn get_file(&self, file_id: &str) -> Result<FileInfo, TelegramError> {
        self.call("getFile", &serde_json::json!({ "file_id": file_id }))
            .await
    }

    /// Downloads a file by the `file_path` that `getFile` returned.
    pub async fn download(
        &self,
        file_path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, TelegramError> {
        let http = match self.http() {
            Ok(http) => http,
            Err(transcript) => return transcript.download(file_path, max_bytes).await,
        };
        let response = http
            .http
            .get(format!("{}{file_path}", http.file_base))
            .send()
            .await
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(TelegramError::Api {
                code: response.status().as_u16(),
                description: "file download failed".into(),
                retry_after: None,
            });
        }
        if response.content_length().is_some_and(|len| len > max_bytes) {
            return Err(TelegramError::Decode(format!(
                "file is larger than {max_bytes} bytes"
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TelegramError::Transport(e.without_url().to_string()))?;
        if bytes.len() as u64 > max_bytes {
            return Err(TelegramError::Decode(format!(
                "file is larger than {max_bytes} bytes"
            )));
        }
        Ok(bytes.to_vec())
    }
}
