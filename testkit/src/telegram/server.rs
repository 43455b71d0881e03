//! HTTP side of the fake Bot API: routing, request decoding (query, JSON, form, multipart) and envelopes.

use std::{borrow::Cow, collections::HashMap, fmt::Display, sync::Arc, time::Instant};

use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Map, Value};

use super::{methods, state::Shared, Call, Failure, DOWNLOAD};

/// Telegram accepts uploads up to 50 MB; leave room for the multipart framing.
pub(super) const MAX_BODY: usize = 60 * 1024 * 1024;

/// A Bot API error: becomes `{"ok":false,"error_code":..,"description":..}` with the same HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) code: u16,
    pub(super) description: String,
    pub(super) retry_after: Option<u32>,
}

impl ApiError {
    pub(super) fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    pub(super) fn bad_request(detail: impl Display) -> Self {
        Self::new(400, format!("Bad Request: {detail}"))
    }

    pub(super) fn forbidden(detail: impl Display) -> Self {
        Self::new(403, format!("Forbidden: {detail}"))
    }

    pub(super) fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    fn envelope(&self) -> Value {
        let mut envelope = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            envelope["parameters"] = json!({ "retry_after": retry_after });
        }
        envelope
    }
}

impl From<&Failure> for ApiError {
    fn from(failure: &Failure) -> Self {
        match failure {
            Failure::TooManyRequests { retry_after } => Self {
                code: 429,
                description: format!("Too Many Requests: retry after {retry_after}"),
                retry_after: Some(*retry_after),
            },
            Failure::Blocked => Self::forbidden("bot was blocked by the user"),
            Failure::Deactivated => Self::forbidden("user is deactivated"),
            Failure::CantInitiateConversation => {
                Self::forbidden("bot can't initiate conversation with a user")
            }
            Failure::ChatNotFound => Self::bad_request("chat not found"),
            Failure::BadRequest(detail) => match detail.strip_prefix("Bad Request: ") {
                Some(detail) => Self::bad_request(detail),
                None => Self::bad_request(detail),
            },
            Failure::ServerError => Self::new(500, "Internal Server Error"),
            Failure::BadGateway => Self::new(502, "Bad Gateway"),
        }
    }
}

/// A successful result plus the optional top-level `description` some methods add.
pub(super) struct Success {
    pub(super) result: Value,
    pub(super) description: Option<&'static str>,
}

impl From<Value> for Success {
    fn from(result: Value) -> Self {
        Self {
            result,
            description: None,
        }
    }
}

/// A multipart part that carried a file name, i.e. an uploaded `InputFile`.
pub(super) struct Upload {
    pub(super) file_name: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) bytes: Bytes,
}

/// How a method received a file parameter.
pub(super) enum InputFile<'a> {
    Upload(&'a Upload),
    Reference(Cow<'a, str>),
}

/// Request parameters, normalised so JSON, form and multipart callers look the same.
#[derive(Default)]
pub(super) struct Params {
    values: Map<String, Value>,
    uploads: HashMap<String, Upload>,
}

impl Params {
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|value| !value.is_null())
    }

    /// Like the Bot API, any scalar is accepted where a string is expected.
    pub(super) fn text(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.get(key)? {
            Value::String(text) => Some(Cow::Borrowed(text)),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    pub(super) fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// A file parameter: an upload in this request (directly or via `attach://name`) or a string.
    pub(super) fn input_file(&self, key: &str) -> Option<InputFile<'_>> {
        if let Some(upload) = self.uploads.get(key) {
            return Some(InputFile::Upload(upload));
        }
        let reference = self.text(key)?;
        if let Some(upload) = reference
            .strip_prefix("attach://")
            .and_then(|name| self.uploads.get(name))
        {
            return Some(InputFile::Upload(upload));
        }
        Some(InputFile::Reference(reference))
    }

    fn insert_text(&mut self, key: String, text: &str) {
        let value = coerce(&key, text);
        self.values.insert(key, value);
    }

    fn insert_json(&mut self, key: String, value: Value) {
        let value = match value {
            Value::String(text) if JSON_KEYS.contains(&key.as_str()) => {
                match serde_json::from_str::<Value>(&text) {
                    Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
                    _ => Value::String(text),
                }
            }
            other => other,
        };
        self.values.insert(key, value);
    }

    pub(super) fn into_value(self) -> Value {
        Value::Object(self.values)
    }
}

const INT_KEYS: &[&str] = &[
    "chat_id",
    "message_id",
    "user_id",
    "from_chat_id",
    "message_thread_id",
    "reply_to_message_id",
    "max_connections",
    "cache_time",
    "offset",
    "limit",
    "timeout",
];
const BOOL_KEYS: &[&str] = &[
    "disable_notification",
    "protect_content",
    "allow_paid_broadcast",
    "allow_sending_without_reply",
    "disable_web_page_preview",
    "drop_pending_updates",
    "show_alert",
    "has_spoiler",
    "disable_content_type_detection",
];
const JSON_KEYS: &[&str] = &[
    "reply_markup",
    "allowed_updates",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_parameters",
    "commands",
    "scope",
    "media",
];

/// Form and multipart values are all strings; give the well-known ones their JSON type so
/// recorded calls can be inspected the same way whatever encoding the client chose.
fn coerce(key: &str, text: &str) -> Value {
    if INT_KEYS.contains(&key) {
        if let Ok(number) = text.trim().parse::<i64>() {
            return Value::from(number);
        }
    } else if BOOL_KEYS.contains(&key) {
        match text {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    } else if JSON_KEYS.contains(&key) {
        if let Ok(parsed @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str(text) {
            return parsed;
        }
    }
    Value::String(text.to_owned())
}

async fn read_params(req: Request) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("can't parse query string: {e}")))?;
        for (key, value) in pairs {
            params.insert_text(key, &value);
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();

    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
            ApiError::bad_request(format!("can't parse multipart body: {}", e.body_text()))
        })?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("can't parse multipart body: {e}")))?
        {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let file_name = field.file_name().map(str::to_owned);
            let part_type = field.content_type().map(str::to_owned);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::bad_request(format!("can't read multipart part: {e}")))?;
            // Like the real server, only parts with a file name are files; others are arguments.
            if file_name.is_some() {
                params.values.insert(
                    name.clone(),
                    json!({ "file": { "name": file_name, "len": bytes.len() } }),
                );
                params.uploads.insert(
                    name,
                    Upload {
                        file_name,
                        content_type: part_type,
                        bytes,
                    },
                );
            } else {
                params.insert_text(name, &String::from_utf8_lossy(&bytes));
            }
        }
        return Ok(params);
    }

    let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApiError::new(413, "Request Entity Too Large"))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if content_type.starts_with("application/json")
        || (!content_type.starts_with("application/x-www-form-urlencoded") && looks_like_json)
    {
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("can't parse JSON encoded request parameters: {e}"))
        })?;
        let Value::Object(fields) = value else {
            return Err(ApiError::bad_request(
                "can't parse JSON encoded request parameters: object expected",
            ));
        };
        for (key, value) in fields {
            params.insert_json(key, value);
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::bad_request(format!("can't parse form body: {e}")))?;
        for (key, value) in pairs {
            params.insert_text(key, &value);
        }
    }
    Ok(params)
}

enum Route {
    Method { token: String, method: String },
    File { token: String, path: String },
    Unknown,
}

fn route(path: &str) -> Route {
    let path = path.strip_prefix('/').unwrap_or(path);
    let token_of = |segment: &str| {
        segment
            .strip_prefix("bot")
            .filter(|token| !token.is_empty())
            .map(|token| percent_decode(token).into_owned())
    };
    if let Some(rest) = path.strip_prefix("file/") {
        return match rest.split_once('/') {
            Some((bot, file_path)) if !file_path.is_empty() => match token_of(bot) {
                Some(token) => Route::File {
                    token,
                    path: percent_decode(file_path).into_owned(),
                },
                None => Route::Unknown,
            },
            _ => Route::Unknown,
        };
    }
    match path.split_once('/') {
        Some((bot, method)) if !method.is_empty() && !method.contains('/') => match token_of(bot) {
            Some(token) => Route::Method {
                token,
                method: method.to_owned(),
            },
            None => Route::Unknown,
        },
        _ => Route::Unknown,
    }
}

fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Entry point for every request; the Bot API's routes don't fit axum's path syntax
/// (`/bot<token>/<method>` has a prefix inside a segment), so routing is done here.
pub(super) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let at = Instant::now();
    let response = match route(req.uri().path()) {
        Route::Method { token, method } => api_call(&shared, token, method, req, at).await,
        Route::File { token, path } => download(&shared, token, path, at),
        Route::Unknown => json_response(404, &ApiError::not_found().envelope()),
    };
    // Sleeping after the work is recorded and outside every lock keeps concurrent callers parallel.
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    response
}

async fn api_call(
    shared: &Shared,
    token: String,
    name: String,
    req: Request,
    at: Instant,
) -> Response {
    let canonical = methods::canonical(&name);
    let label = canonical.map_or(name, str::to_owned);
    if !shared.token_allowed(&token) {
        let error = ApiError::new(401, "Unauthorized");
        return finish(shared, label, token, Value::Null, at, Err(error));
    }
    let Some(method) = canonical else {
        return finish(
            shared,
            label,
            token,
            Value::Null,
            at,
            Err(ApiError::not_found()),
        );
    };
    let params = match read_params(req).await {
        Ok(params) => params,
        Err(error) => return finish(shared, label, token, Value::Null, at, Err(error)),
    };
    let outcome = methods::call(shared, method, &token, &params);
    finish(shared, label, token, params.into_value(), at, outcome)
}

fn finish(
    shared: &Shared,
    method: String,
    token: String,
    params: Value,
    at: Instant,
    outcome: Result<Success, ApiError>,
) -> Response {
    let (status, envelope, response) = match outcome {
        Ok(success) => {
            let mut envelope = json!({ "ok": true, "result": success.result });
            if let Some(description) = success.description {
                envelope["description"] = Value::from(description);
            }
            let response = json_response(200, &envelope);
            (200, envelope, response)
        }
        // Telegram's 502s come from its nginx front end, as HTML rather than an envelope.
        Err(error) if error.code == 502 => (502, Value::Null, bad_gateway()),
        Err(error) => {
            let envelope = error.envelope();
            let response = json_response(error.code, &envelope);
            (error.code, envelope, response)
        }
    };
    shared.record(Call {
        method,
        token,
        params,
        at,
        status,
        response: envelope,
    });
    response
}

fn download(shared: &Shared, token: String, path: String, at: Instant) -> Response {
    let params = json!({ "file_path": path });
    let record = |status: u16, envelope: Value| {
        shared.record(Call {
            method: DOWNLOAD.to_owned(),
            token: token.clone(),
            params: params.clone(),
            at,
            status,
            response: envelope,
        });
    };
    if !shared.token_allowed(&token) {
        let envelope = ApiError::new(401, "Unauthorized").envelope();
        record(401, envelope.clone());
        return json_response(401, &envelope);
    }
    match shared.file_by_path(&path) {
        Some((bytes, content_type)) => {
            record(200, Value::Null);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                bytes,
            )
                .into_response()
        }
        None => {
            let envelope = ApiError::not_found().envelope();
            record(404, envelope.clone());
            json_response(404, &envelope)
        }
    }
}

fn json_response(code: u16, envelope: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(envelope).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_gateway() -> Response {
    let body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/html")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_api_paths_are_split_into_token_and_method() {
        assert!(matches!(
            route("/bot123:ABC/sendMessage"),
            Route::Method { token, method } if token == "123:ABC" && method == "sendMessage"
        ));
        assert!(matches!(
            route("/file/bot123%3AABC/photos/file_1.jpg"),
            Route::File { token, path } if token == "123:ABC" && path == "photos/file_1.jpg"
        ));
        assert!(matches!(route("/bot/sendMessage"), Route::Unknown));
        assert!(matches!(route("/123/sendMessage"), Route::Unknown));
        assert!(matches!(route("/bot1:A/send/x"), Route::Unknown));
    }

    #[test]
    fn form_values_get_their_json_types_back() {
        assert_eq!(coerce("chat_id", "-100123"), json!(-100123));
        assert_eq!(coerce("chat_id", "@channel"), json!("@channel"));
        assert_eq!(coerce("text", "123"), json!("123"));
        assert_eq!(coerce("allow_paid_broadcast", "true"), json!(true));
        assert_eq!(
            coerce("reply_markup", r#"{"remove_keyboard":true}"#),
            json!({"remove_keyboard": true})
        );
    }
}
