//! The Bot API methods the fake implements: each validates like Telegram, then updates the fake's state.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{
    markup::{self, Markup, ParseMode},
    server::{ApiError, InputFile, Params, Success, Upload},
    state::{
        image_dimensions, now_unix, Dimensions, FileKind, Shared, State, StoredMessage, Webhook,
    },
    Failure,
};

/// Method names as Telegram documents them; requests match them case-insensitively.
const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "deleteMessage",
    "sendChatAction",
    "getChatMember",
    "getFile",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
];

pub(super) fn canonical(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|method| method.eq_ignore_ascii_case(name))
        .copied()
}

const TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;
const CALLBACK_ANSWER_LIMIT: usize = 200;
const PHOTO_UPLOAD_LIMIT: usize = 10 * 1024 * 1024;
const DOWNLOAD_LIMIT: usize = 20 * 1024 * 1024;
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

pub(super) fn call(
    shared: &Shared,
    method: &'static str,
    token: &str,
    p: &Params,
) -> Result<Success, ApiError> {
    if let Some(failure) = shared.state().take_failure(method) {
        return Err(ApiError::from(&failure));
    }
    match method {
        "getMe" => Ok(get_me(&shared.state(), token).into()),
        "getUpdates" => get_updates(&shared.state()).map(Success::from),
        "setWebhook" => set_webhook(&mut shared.state(), p),
        "deleteWebhook" => Ok(delete_webhook(&mut shared.state())),
        "getWebhookInfo" => Ok(webhook_info(&shared.state()).into()),
        "sendMessage" => send_message(shared, token, p).map(Success::from),
        "sendPhoto" => send_photo(shared, token, p).map(Success::from),
        "sendDocument" => send_document(shared, token, p).map(Success::from),
        "editMessageText" => edit_message_text(shared, p).map(Success::from),
        "editMessageReplyMarkup" => edit_reply_markup(shared, p).map(Success::from),
        "answerCallbackQuery" => answer_callback_query(p).map(Success::from),
        "deleteMessage" => delete_message(shared, p).map(Success::from),
        "sendChatAction" => send_chat_action(shared, p).map(Success::from),
        "getChatMember" => get_chat_member(shared, p).map(Success::from),
        "getFile" => get_file(shared, p).map(Success::from),
        "setMyCommands" => set_my_commands(shared, p).map(Success::from),
        "getMyCommands" => Ok(shared
            .state()
            .commands
            .clone()
            .unwrap_or_else(|| json!([]))
            .into()),
        "deleteMyCommands" => {
            shared.state().commands = None;
            Ok(Value::Bool(true).into())
        }
        _ => Err(ApiError::not_found()),
    }
}

fn get_me(state: &State, token: &str) -> Value {
    let mut me = state.bot_user(token);
    for flag in [
        "can_read_all_group_messages",
        "supports_inline_queries",
        "can_connect_to_business",
        "has_main_web_app",
    ] {
        me[flag] = Value::Bool(false);
    }
    me["can_join_groups"] = Value::Bool(true);
    me
}

fn get_updates(state: &State) -> Result<Value, ApiError> {
    if state.webhook.is_some() {
        return Err(ApiError::new(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        ));
    }
    // Updates are only ever pushed through the webhook in this fake, so the queue is empty.
    Ok(json!([]))
}

fn set_webhook(state: &mut State, p: &Params) -> Result<Success, ApiError> {
    let url = p.text("url").unwrap_or_default().trim().to_owned();
    let secret_token = p
        .text("secret_token")
        .filter(|secret| !secret.is_empty())
        .map(|secret| secret.into_owned());
    if let Some(secret) = &secret_token {
        let allowed = secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !allowed || secret.len() > 256 {
            return Err(ApiError::bad_request(
                "secret token contains unallowed characters",
            ));
        }
    }
    if let Some(raw) = p.get("allowed_updates") {
        state.allowed_updates = Some(string_list(raw).ok_or_else(|| {
            ApiError::bad_request("can't parse allowed updates: array of strings expected")
        })?);
    }
    if url.is_empty() {
        return Ok(delete_webhook(state));
    }
    // Real Telegram demands HTTPS on ports 443/80/88/8443; local receivers are plain HTTP on
    // random ports, so only the scheme is checked.
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::bad_request(
            "bad webhook: HTTPS url must be provided for webhook",
        ));
    }
    let max_connections = p
        .int("max_connections")
        .unwrap_or(40)
        .clamp(1, 100)
        .try_into()
        .unwrap_or(40);
    let unchanged = state.webhook.as_ref().is_some_and(|current| {
        current.url == url
            && current.secret_token == secret_token
            && current.max_connections == max_connections
    });
    if !unchanged {
        state.webhook_error = None;
    }
    state.webhook = Some(Webhook {
        url,
        secret_token,
        max_connections,
    });
    Ok(Success {
        result: Value::Bool(true),
        description: Some(if unchanged {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }),
    })
}

fn string_list(raw: &Value) -> Option<Vec<String>> {
    let parsed;
    let list = match raw {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        other => other,
    };
    list.as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

fn delete_webhook(state: &mut State) -> Success {
    let existed = state.webhook.take().is_some();
    Success {
        result: Value::Bool(true),
        description: Some(if existed {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }),
    }
}

fn webhook_info(state: &State) -> Value {
    let mut info = json!({
        "url": state.webhook.as_ref().map_or("", |hook| hook.url.as_str()),
        "has_custom_certificate": false,
        "pending_update_count": 0,
    });
    if let Some(hook) = &state.webhook {
        info["max_connections"] = Value::from(hook.max_connections);
        if let Some(allowed) = state
            .allowed_updates
            .as_ref()
            .filter(|list| !list.is_empty())
        {
            info["allowed_updates"] = json!(allowed);
        }
        if let Some((date, message)) = &state.webhook_error {
            info["last_error_date"] = Value::from(*date);
            info["last_error_message"] = Value::from(message.as_str());
        }
    }
    info
}

fn chat_id(p: &Params) -> Result<i64, ApiError> {
    let empty = match p.get("chat_id") {
        None => true,
        Some(Value::String(text)) => text.trim().is_empty(),
        Some(_) => false,
    };
    if empty {
        return Err(ApiError::bad_request("chat_id is empty"));
    }
    // `@username` chats are channels; a promo bot talking to private chats never has one.
    p.int("chat_id")
        .ok_or_else(|| ApiError::bad_request("chat not found"))
}

fn message_id(p: &Params) -> Result<i64, ApiError> {
    p.int("message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
}

/// Per-chat failures set by the test. Blocks only affect what reaches the user: a blocked
/// user's membership can still be queried, so `delivery` is false for such reads.
fn check_chat(state: &State, chat_id: i64, delivery: bool) -> Result<(), ApiError> {
    match state.chat_failures.get(&chat_id) {
        None => Ok(()),
        Some(Failure::Blocked | Failure::Deactivated | Failure::CantInitiateConversation)
            if !delivery =>
        {
            Ok(())
        }
        Some(failure) => Err(ApiError::from(failure)),
    }
}

fn parse_mode(p: &Params) -> Result<Option<ParseMode>, ApiError> {
    ParseMode::parse(p.text("parse_mode").as_deref())
}

/// Validated message text: (as sent, as rendered).
fn message_text(p: &Params) -> Result<(String, String), ApiError> {
    let raw = p.text("text").unwrap_or_default().into_owned();
    let rendered = markup::render(&raw, parse_mode(p)?)?;
    if rendered.is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if rendered.chars().count() > TEXT_LIMIT {
        return Err(ApiError::bad_request("message is too long"));
    }
    Ok((raw, rendered))
}

fn caption(p: &Params) -> Result<Option<String>, ApiError> {
    let Some(raw) = p.text("caption") else {
        return Ok(None);
    };
    let rendered = markup::render(&raw, parse_mode(p)?)?;
    if rendered.chars().count() > CAPTION_LIMIT {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    Ok(Some(rendered).filter(|caption| !caption.is_empty()))
}

fn send_message(shared: &Shared, token: &str, p: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(p)?;
    let (raw, text) = message_text(p)?;
    let markup = markup::reply_markup(p.get("reply_markup"), false)?;
    let mut state = shared.state();
    check_chat(&state, chat_id, true)?;
    let bot = state.bot_user(token);
    let mut fields = Map::new();
    fields.insert("text".into(), Value::String(text));
    Ok(state.push_bot_message(chat_id, bot, fields, markup.as_ref(), Some(raw)))
}

/// A photo upload checked like Telegram checks it, before any lock is taken.
struct CheckedPhoto<'a> {
    upload: &'a Upload,
    dims: Dimensions,
}

fn check_photo_upload(upload: &Upload) -> Result<CheckedPhoto<'_>, ApiError> {
    if upload.bytes.is_empty() {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    if upload.bytes.len() > PHOTO_UPLOAD_LIMIT {
        return Err(ApiError::bad_request("file is too big"));
    }
    let dims = image_dimensions(&upload.bytes)
        .ok_or_else(|| ApiError::bad_request("IMAGE_PROCESS_FAILED"))?;
    let (long, short) = (
        dims.width.max(dims.height),
        dims.width.min(dims.height).max(1),
    );
    if u64::from(dims.width) + u64::from(dims.height) > 10_000 || long / short > 20 {
        return Err(ApiError::bad_request("PHOTO_INVALID_DIMENSIONS"));
    }
    Ok(CheckedPhoto { upload, dims })
}

fn is_url(reference: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        reference
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    })
}

/// Real file ids are long URL-safe base64 strings; anything else cannot be one.
fn looks_like_file_id(reference: &str) -> bool {
    reference.len() >= 20
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn wrong_file() -> ApiError {
    ApiError::bad_request("wrong file identifier/HTTP URL specified")
}

fn send_photo(shared: &Shared, token: &str, p: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(p)?;
    let caption = caption(p)?;
    let markup = markup::reply_markup(p.get("reply_markup"), false)?;
    let input = p
        .input_file("photo")
        .ok_or_else(|| ApiError::bad_request("there is no photo in the request"))?;
    let upload = match &input {
        InputFile::Upload(upload) => Some(check_photo_upload(upload)?),
        InputFile::Reference(_) => None,
    };
    let mut state = shared.state();
    check_chat(&state, chat_id, true)?;
    let photo: Value = match (upload, &input) {
        (Some(checked), _) => (*state
            .files
            .store_photo(checked.upload.bytes.clone(), &checked.dims))
        .clone(),
        (None, InputFile::Reference(reference)) => photo_by_reference(&mut state, reference)?,
        (None, InputFile::Upload(_)) => return Err(wrong_file()),
    };
    let bot = state.bot_user(token);
    let mut fields = Map::new();
    fields.insert("photo".into(), photo);
    if let Some(caption) = caption {
        fields.insert("caption".into(), Value::String(caption));
    }
    Ok(state.push_bot_message(chat_id, bot, fields, markup.as_ref(), None))
}

fn photo_by_reference(state: &mut State, reference: &str) -> Result<Value, ApiError> {
    if let Some(file) = state.files.by_id.get(reference) {
        return match (&file.photo, file.kind) {
            (Some(sizes), FileKind::Photo | FileKind::Any) => Ok((**sizes).clone()),
            _ => Err(ApiError::bad_request("type of file mismatch")),
        };
    }
    if is_url(reference) {
        // The fake never fetches URLs; it pretends Telegram downloaded an 800×600 picture.
        let dims = Dimensions {
            width: 800,
            height: 600,
        };
        return Ok((*state.files.store_photo(bytes::Bytes::new(), &dims)).clone());
    }
    if looks_like_file_id(reference) {
        return Ok(json!([{
            "file_id": reference,
            "file_unique_id": unique_id_for(reference),
            "width": 1280,
            "height": 960,
        }]));
    }
    Err(wrong_file())
}

fn unique_id_for(file_id: &str) -> String {
    let tail: String = file_id.chars().rev().take(12).collect();
    format!("AQAD{tail}")
}

fn send_document(shared: &Shared, token: &str, p: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(p)?;
    let caption = caption(p)?;
    let markup = markup::reply_markup(p.get("reply_markup"), false)?;
    let input = p
        .input_file("document")
        .ok_or_else(|| ApiError::bad_request("there is no document in the request"))?;
    if let InputFile::Upload(upload) = &input {
        if upload.bytes.is_empty() {
            return Err(ApiError::bad_request("file must be non-empty"));
        }
    }
    let mut state = shared.state();
    check_chat(&state, chat_id, true)?;
    let document = match &input {
        InputFile::Upload(upload) => {
            let name = upload.file_name.as_deref().unwrap_or("document");
            let file = state.files.store_document(
                upload.bytes.clone(),
                name,
                upload.content_type.as_deref(),
                FileKind::Document,
            );
            file.document.clone().unwrap_or(Value::Null)
        }
        InputFile::Reference(reference) => document_by_reference(&mut state, reference)?,
    };
    let bot = state.bot_user(token);
    let mut fields = Map::new();
    fields.insert("document".into(), document);
    if let Some(caption) = caption {
        fields.insert("caption".into(), Value::String(caption));
    }
    Ok(state.push_bot_message(chat_id, bot, fields, markup.as_ref(), None))
}

fn document_by_reference(state: &mut State, reference: &str) -> Result<Value, ApiError> {
    if let Some(file) = state.files.by_id.get(reference) {
        return match (&file.document, file.kind) {
            (Some(document), FileKind::Document | FileKind::Any) => Ok(document.clone()),
            _ => Err(ApiError::bad_request("type of file mismatch")),
        };
    }
    if is_url(reference) {
        let name = reference
            .rsplit('/')
            .next()
            .filter(|name| !name.is_empty())
            .unwrap_or("document");
        let file = state
            .files
            .store_document(bytes::Bytes::new(), name, None, FileKind::Document);
        return Ok(file.document.clone().unwrap_or(Value::Null));
    }
    if looks_like_file_id(reference) {
        return Ok(json!({
            "file_id": reference,
            "file_unique_id": unique_id_for(reference),
            "file_name": "document",
            "mime_type": "application/octet-stream",
        }));
    }
    Err(wrong_file())
}

fn editable(
    state: &mut State,
    chat_id: i64,
    message_id: i64,
) -> Result<&mut StoredMessage, ApiError> {
    let message = state
        .chats
        .get_mut(&chat_id)
        .and_then(|chat| chat.messages.get_mut(&message_id))
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if !message.from_bot {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    Ok(message)
}

fn set_markup(json: &mut Value, markup: Option<&Value>) {
    if let Some(fields) = json.as_object_mut() {
        match markup {
            Some(markup) => fields.insert("reply_markup".into(), markup.clone()),
            None => fields.remove("reply_markup"),
        };
        fields.insert("edit_date".into(), Value::from(now_unix()));
    }
}

fn edit_message_text(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let (raw, text) = message_text(p)?;
    let markup = markup::reply_markup(p.get("reply_markup"), true)?;
    if p.get("inline_message_id").is_some() && p.get("chat_id").is_none() {
        // Inline messages are not tracked; Telegram answers `true` for them.
        return Ok(Value::Bool(true));
    }
    let chat_id = chat_id(p)?;
    let message_id = message_id(p)?;
    let mut state = shared.state();
    check_chat(&state, chat_id, true)?;
    let message = editable(&mut state, chat_id, message_id)?;
    let Some(current) = message.json.get("text") else {
        return Err(ApiError::bad_request(
            "there is no text in the message to edit",
        ));
    };
    // Omitting reply_markup removes the keyboard, exactly as on Telegram.
    let new_markup = markup.as_ref().and_then(Markup::inline);
    let unchanged = current.as_str() == Some(text.as_str())
        && message.source.as_deref() == Some(raw.as_str())
        && message.json.get("reply_markup") == new_markup;
    if unchanged {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    message.json["text"] = Value::String(text);
    message.source = Some(raw);
    set_markup(&mut message.json, new_markup);
    Ok(message.json.clone())
}

fn edit_reply_markup(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let markup = markup::reply_markup(p.get("reply_markup"), true)?;
    if p.get("inline_message_id").is_some() && p.get("chat_id").is_none() {
        return Ok(Value::Bool(true));
    }
    let chat_id = chat_id(p)?;
    let message_id = message_id(p)?;
    let mut state = shared.state();
    check_chat(&state, chat_id, true)?;
    let message = editable(&mut state, chat_id, message_id)?;
    let new_markup = markup.as_ref().and_then(Markup::inline);
    if message.json.get("reply_markup") == new_markup {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_markup(&mut message.json, new_markup);
    Ok(message.json.clone())
}

fn answer_callback_query(p: &Params) -> Result<Value, ApiError> {
    let id = p.text("callback_query_id").unwrap_or_default();
    if id.trim().is_empty() {
        return Err(ApiError::bad_request(
            "query is too old and response timeout expired or query ID is invalid",
        ));
    }
    let text_len = p.text("text").map_or(0, |text| text.chars().count());
    if text_len > CALLBACK_ANSWER_LIMIT {
        return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
    }
    Ok(Value::Bool(true))
}

fn delete_message(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(p)?;
    let message_id = message_id(p)?;
    let mut state = shared.state();
    check_chat(&state, chat_id, true)?;
    state
        .chats
        .get_mut(&chat_id)
        .and_then(|chat| chat.messages.remove(&message_id))
        .map(|_| Value::Bool(true))
        .ok_or_else(|| ApiError::bad_request("message to delete not found"))
}

fn send_chat_action(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(p)?;
    let action = p.text("action").unwrap_or_default();
    if !CHAT_ACTIONS.contains(&action.as_ref()) {
        return Err(ApiError::bad_request("wrong parameter action in request"));
    }
    check_chat(&shared.state(), chat_id, true)?;
    Ok(Value::Bool(true))
}

fn get_chat_member(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(p)?;
    let user_id = p
        .int("user_id")
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request("invalid user_id specified"))?;
    let state = shared.state();
    check_chat(&state, chat_id, false)?;
    let status = state
        .members
        .get(&(chat_id, user_id))
        .map_or("left", String::as_str);
    let first_name = state
        .chats
        .get(&user_id)
        .and_then(|chat| chat.info.as_ref())
        .and_then(|info| info.get("first_name").cloned())
        .unwrap_or_else(|| Value::from(super::updates::FIRST_NAME));
    let mut member = json!({
        "status": status,
        "user": { "id": user_id, "is_bot": false, "first_name": first_name },
    });
    if status == "kicked" {
        member["until_date"] = Value::from(0);
    }
    Ok(member)
}

fn get_file(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let file_id = p.text("file_id").unwrap_or_default();
    let state = shared.state();
    let file = state
        .files
        .by_id
        .get(file_id.as_ref())
        .map(Arc::clone)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    if file.bytes.len() > DOWNLOAD_LIMIT {
        return Err(ApiError::bad_request("file is too big"));
    }
    Ok(json!({
        "file_id": file.file_id,
        "file_unique_id": file.unique_id,
        "file_size": file.bytes.len(),
        "file_path": file.path,
    }))
}

fn set_my_commands(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let commands = match p.get("commands") {
        Some(Value::Array(commands)) => commands.clone(),
        _ => return Err(ApiError::bad_request("can't parse commands JSON object")),
    };
    shared.state().commands = Some(Value::Array(commands));
    Ok(Value::Bool(true))
}
