//! Sandbox mode: the testkit fakes stand in for Telegram and ProverkaCheka, so the bot
//! runs offline. People talk to it in the panel's test chat (`/sandbox` leads there:
//! the panel has the one chat renderer); scripts and tests drive it through the JSON
//! routes under `/sandbox/api/`.
//!
//! Those routes are a thin layer over the fake Telegram: what the caller does becomes a
//! real update delivered through the fake (text, contact, photo, inline-button tap), and
//! `messages` answers the chat as the fake holds it now, the bot's edits and deleted
//! messages applied as a Telegram app would show them.

use std::collections::HashMap;

use anyhow::Context;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_core::api_error::ApiError;
use promo_core::app::{App, SANDBOX_BOT_TOKEN};
use promo_testkit::proverkacheka::FakeProverkaCheka;
use promo_testkit::receipts::ReceiptBuilder;
use promo_testkit::telegram::{ChatEntry, FakeTelegram, Updates};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

const SANDBOX_PROVERKA_TOKEN: &str = "00000.SandboxSandboxSan";

/// Where `/sandbox` leads: the panel's test chat.
pub const TEST_CHAT_PATH: &str = "/test-chat";

/// The largest picture `/sandbox/api/photo` takes: the bot's own limit for receipt files
/// (`MAX_FILE_BYTES` in core's upload handling), so anything the bot would take arrives.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone)]
pub struct Fakes {
    pub telegram: FakeTelegram,
    pub proverkacheka: FakeProverkaCheka,
}

impl Fakes {
    pub async fn start() -> anyhow::Result<Fakes> {
        Ok(Fakes {
            telegram: FakeTelegram::start().await?,
            proverkacheka: FakeProverkaCheka::start(SANDBOX_PROVERKA_TOKEN)
                .await
                .context("starting the fake ProverkaCheka")?,
        })
    }

    /// Settings that point the real clients at the fakes.
    pub fn setting_overrides(&self) -> HashMap<&'static str, String> {
        HashMap::from([
            ("TELEGRAM_API_URL", self.telegram.base_url()),
            ("PROVERKA_CHEKA_URL", self.proverkacheka.base_url()),
            ("PROVERKA_CHEKA_TOKEN", SANDBOX_PROVERKA_TOKEN.to_owned()),
        ])
    }

    /// Makes the fake ProverkaCheka answer every well-formed receipt QR with a receipt
    /// holding one promo product for the QR's total, so uploads succeed in the sandbox.
    pub fn invent_receipts(&self, target_keywords: &[String]) {
        let product = target_keywords
            .first()
            .map(|k| format!("{} 150г", capitalise(k)))
            .unwrap_or_else(|| "Чипсы картофельные 150г".to_owned());
        self.proverkacheka.answer_unregistered_with(move |qr| {
            let receipt = ReceiptBuilder::new()
                .fiscal(
                    qr.fiscal_drive_number(),
                    qr.fiscal_document_number(),
                    qr.fiscal_sign(),
                )
                .date_time(qr.date_time())
                .operation(qr.operation())
                .item(&product, qr.sum().get(), 1);
            Some(receipt.fns_json())
        });
    }

    /// Registers our webhook with the fake exactly as `promo set-webhook` does with Telegram.
    pub async fn point_webhook_at(&self, app: &App, base: &str) -> anyhow::Result<()> {
        app.telegram
            .set_webhook(&promo_core::telegram::SetWebhook {
                url: format!("{base}{}", promo_core::bot::webhook::WEBHOOK_PATH),
                secret_token: app
                    .settings
                    .telegram
                    .webhook_secret
                    .expose_secret()
                    .to_owned(),
                allowed_updates: promo_core::telegram::types::ALLOWED_UPDATES.to_vec(),
                max_connections: 40,
                drop_pending_updates: false,
            })
            .await?;
        Ok(())
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn router(app: App, fakes: Fakes) -> Router {
    let panel = promo_core::server::panel_bundle(&app.settings).is_some();
    Router::new()
        .route("/sandbox", get(move || page(panel)))
        .route("/sandbox/api/send", post(send))
        .route("/sandbox/api/press", post(press))
        .route(
            "/sandbox/api/photo",
            // axum's default limit (2 MB) would refuse ordinary phone photos; a little
            // more than the bot's limit lets the handler answer oversized files itself.
            post(send_photo).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 1)),
        )
        .route("/sandbox/api/messages", get(messages))
        .with_state(fakes)
}

/// The chat page is the panel's test chat now; without a built panel, how to get one.
async fn page(panel: bool) -> Response {
    if panel {
        return Redirect::to(TEST_CHAT_PATH).into_response();
    }
    Html(format!(
        "<!doctype html><html lang=\"ru\"><meta charset=\"utf-8\"><title>Sandbox</title>\
         <p>The sandbox chat is the panel's test chat: <a href=\"{TEST_CHAT_PATH}\">{TEST_CHAT_PATH}</a>. \
         The panel is not built here: run <code>infra/scripts/build-ui.sh</code> and start with \
         <code>PANEL_DIR=admin-ui/dist</code> (<code>infra/scripts/run.sh</code> does both).</p>\
         <p>Тестовый чат с ботом теперь в панели: {TEST_CHAT_PATH}.</p></html>"
    ))
    .into_response()
}

/// Every failure is JSON `{"error": "..."}` with a readable message.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::BAD_GATEWAY => "bad_gateway",
        _ => "error",
    };
    ApiError::new(status, code, message).into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

#[derive(Deserialize)]
struct SendRequest {
    user_id: i64,
    #[serde(default)]
    text: Option<String>,
    /// Share this phone as the user's own contact.
    #[serde(default)]
    contact: Option<String>,
}

/// Turns the caller's input into a Telegram update and delivers it through the fake, which
/// also executes a reply the webhook returned in its response body.
async fn send(
    State(fakes): State<Fakes>,
    request: Result<Json<SendRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return bad_request(format!("bad request: {}", rejection.body_text())),
    };
    if request.user_id <= 0 {
        return bad_request("user_id must be a positive number");
    }
    let update = match (&request.text, &request.contact) {
        (_, Some(phone)) => Updates::contact(request.user_id, phone, Some(request.user_id)),
        (Some(text), None) if !text.trim().is_empty() => Updates::text(request.user_id, text),
        _ => return bad_request("send a non-empty text or a contact"),
    };
    deliver(&fakes, update).await
}

#[derive(Deserialize)]
struct PressRequest {
    user_id: i64,
    /// The bot's message carrying the inline keyboard.
    message_id: i64,
    /// The button's `callback_data`.
    data: String,
}

/// A tap on an inline button: a `callback_query` update through the fake, which refuses
/// buttons the message no longer has (as Telegram would). The bot's callback answer, if it
/// has a text, comes back as `notice` (Telegram shows it as a toast).
async fn press(
    State(fakes): State<Fakes>,
    request: Result<Json<PressRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return bad_request(format!("bad request: {}", rejection.body_text())),
    };
    if request.user_id <= 0 || request.data.is_empty() {
        return bad_request("press a button of a positive user_id's chat");
    }
    let update = Updates::callback(request.user_id, &request.data, request.message_id);
    let query_id = update
        .pointer("/callback_query/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let delivered = deliver(&fakes, update).await;
    if !delivered.status().is_success() {
        return delivered;
    }
    let notice = fakes
        .telegram
        .calls_to("answerCallbackQuery")
        .into_iter()
        .filter(|call| call.params["callback_query_id"].as_str() == Some(query_id.as_str()))
        .find_map(|call| call.params["text"].as_str().map(str::to_owned));
    Json(json!({ "ok": true, "notice": notice })).into_response()
}

#[derive(Deserialize)]
struct PhotoQuery {
    user_id: i64,
}

/// An uploaded picture becomes a Telegram photo the bot can `getFile`.
async fn send_photo(
    State(fakes): State<Fakes>,
    query: Result<Query<PhotoQuery>, QueryRejection>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    let user_id = match query {
        Ok(Query(query)) if query.user_id > 0 => query.user_id,
        _ => return bad_request("user_id must be a positive number"),
    };
    let body = match body {
        Ok(body) if body.len() <= MAX_UPLOAD_BYTES => body,
        Ok(_) => return too_large(),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large()
        }
        Err(rejection) => return bad_request(format!("upload failed: {}", rejection.body_text())),
    };
    if body.is_empty() {
        return bad_request("the file is empty");
    }
    // Only the header is read: decoding a 10 MB picture here would only slow the answer.
    let format = image::ImageReader::new(std::io::Cursor::new(&body))
        .with_guessed_format()
        .ok()
        .and_then(|reader| Some((reader.format()?, reader.into_dimensions().ok()?)));
    let (name, (width, height)) = match format {
        Some((image::ImageFormat::Jpeg, dims)) => ("photo.jpg", dims),
        Some((image::ImageFormat::Png, dims)) => ("photo.png", dims),
        _ => return bad_request("the file is not a JPEG or PNG picture"),
    };
    let size = body.len() as u64;
    let file_id = fakes.telegram.add_file(body, name);
    let update = Updates::photo(user_id, &file_id, width, height, size);
    deliver(&fakes, update).await
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the picture is larger than {} MB, the most the bot accepts",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ),
    )
}

async fn deliver(fakes: &Fakes, update: Value) -> Response {
    let reply = match fakes.telegram.deliver_update(update).await {
        Ok(reply) => reply,
        // The fake refuses what Telegram could not send, e.g. a tap on a button that is gone.
        Err(e) => return error(StatusCode::CONFLICT, format!("{e:#}")),
    };
    if !reply.is_success() {
        let body: String = reply.body.chars().take(300).collect();
        return error(
            StatusCode::BAD_GATEWAY,
            format!(
                "the bot's webhook answered {} (Telegram would retry): {body}",
                reply.status
            ),
        );
    }
    if let Err(e) = fakes
        .telegram
        .execute_webhook_reply(SANDBOX_BOT_TOKEN, &reply)
        .await
    {
        return error(StatusCode::BAD_GATEWAY, format!("{e:#}"));
    }
    Json(json!({ "ok": true, "webhook_status": reply.status })).into_response()
}

#[derive(Deserialize)]
struct MessagesQuery {
    chat_id: i64,
}

/// The chat as the user's app shows it: every message in order with its current text and
/// inline keyboard, plus the reply keyboard under the input field.
async fn messages(
    State(fakes): State<Fakes>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return bad_request("chat_id must be a number");
    };
    let history = fakes.telegram.chat_history(query.chat_id);
    let messages: Vec<Value> = history.iter().map(view).collect();
    Json(json!({
        "messages": messages,
        "reply_keyboard": reply_keyboard(&history),
    }))
    .into_response()
}

fn view(entry: &ChatEntry) -> Value {
    let message = &entry.message;
    let text = message
        .get("text")
        .or_else(|| message.get("caption"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let attachment = if message.get("photo").is_some() {
        Some("photo".to_owned())
    } else if let Some(document) = message.get("document") {
        let name = document["file_name"].as_str().unwrap_or("document");
        Some(format!("document: {name}"))
    } else {
        message
            .pointer("/contact/phone_number")
            .and_then(Value::as_str)
            .map(|phone| format!("contact: {phone}"))
    };
    let inline_keyboard = message
        .pointer("/reply_markup/inline_keyboard")
        .filter(|rows| rows.as_array().is_some_and(|rows| !rows.is_empty()))
        .cloned();
    json!({
        "message_id": entry.message_id,
        "from": if entry.from_bot { "bot" } else { "user" },
        "text": text,
        "attachment": attachment,
        "inline_keyboard": inline_keyboard,
        "edited": message.get("edit_date").is_some(),
    })
}

/// The reply keyboard Telegram shows now: the latest one the bot sent, until a later bot
/// message removes it (`remove_keyboard`) or replaces it. A one-time keyboard hides once
/// the user has sent something after it.
fn reply_keyboard(history: &[ChatEntry]) -> Value {
    let mut current: Option<&Value> = None;
    let mut used = false;
    for entry in history {
        if !entry.from_bot {
            used = true;
            continue;
        }
        let Some(markup) = &entry.client_markup else {
            continue;
        };
        if markup.get("keyboard").is_some() {
            current = Some(markup);
            used = false;
        } else if markup.get("remove_keyboard").is_some() {
            current = None;
        }
    }
    match current {
        Some(markup) if used && markup["one_time_keyboard"] == json!(true) => Value::Null,
        Some(markup) => markup.clone(),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, from_bot: bool, client_markup: Option<Value>) -> ChatEntry {
        ChatEntry {
            message_id: id,
            from_bot,
            message: json!({ "message_id": id, "text": "x" }),
            client_markup,
        }
    }

    fn menu() -> Value {
        json!({ "keyboard": [[{ "text": "🧾 Загрузить чек" }]], "resize_keyboard": true })
    }

    #[test]
    fn a_reply_keyboard_stays_through_messages_without_one_until_it_is_removed() {
        let mut history = vec![
            entry(1, true, Some(menu())),
            entry(2, false, None),
            entry(3, true, None),
        ];
        assert_eq!(reply_keyboard(&history), menu());
        history.push(entry(4, true, Some(json!({ "remove_keyboard": true }))));
        assert_eq!(reply_keyboard(&history), Value::Null);
        history.push(entry(5, true, Some(json!({ "force_reply": true }))));
        assert_eq!(reply_keyboard(&history), Value::Null);
    }

    #[test]
    fn a_one_time_keyboard_hides_after_the_user_answers() {
        let once = json!({ "keyboard": [[{ "text": "Да" }]], "one_time_keyboard": true });
        let mut history = vec![entry(1, true, Some(once.clone()))];
        assert_eq!(reply_keyboard(&history), once);
        history.push(entry(2, false, None));
        assert_eq!(reply_keyboard(&history), Value::Null);
    }
}
