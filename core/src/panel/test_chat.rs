//! The test chat (manager): `GET /api/test-chat` (the transcript as Telegram would show
//! it, `?after=<seq>` to poll), `POST /api/test-chat/messages` (a text, a contact, an
//! inline-button tap or a picture, run through the bot's own logic by
//! [`crate::bot::test_chat`]) and `POST /api/test-chat/reset` (start over; audited).
//!
//! Each panel user has their own test shopper, so operators testing at once never share
//! a dialogue. A viewer has none: every route needs a manager, since writing in the chat
//! creates rows (a shopper, receipts, tickets). The messages are not audited: they change
//! nothing a shopper or a figure sees (test shoppers count nowhere), and the transcript
//! itself is their record; the reset, which deletes, is.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use promo_api_types::panel::{
    TestChat, TestChatInlineButton, TestChatInput, TestChatKeyboardButton, TestChatMessage,
    TestChatNotice, TestChatReplyKeyboard, TestChatReset, TestShopper,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{Role, Session};
use super::{db, internal, timestamp, Body, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::bot::test_chat::{self as chat, TestInput};
use crate::bot::Bot;

/// A picture of up to 10 MB (Telegram's own limit for the bot's downloads), base64.
const MAX_PICTURE_BYTES: usize = 10 * 1024 * 1024;
/// The messages route takes a base64 picture: 4/3 of the picture and some JSON.
const MAX_MESSAGE_BODY: usize = MAX_PICTURE_BYTES / 3 * 4 + 64 * 1024;
/// Telegram's limit on a message's text.
const MAX_TEXT_CHARS: usize = 4096;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/test-chat", get(show))
        .route(
            "/api/test-chat/messages",
            post(send).layer(axum::extract::DefaultBodyLimit::max(MAX_MESSAGE_BODY)),
        )
        .route("/api/test-chat/reset", post(reset))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ShowQuery {
    /// Only what was sent or changed after this `seq` (the `last_seq` of the last answer).
    after: Option<i64>,
}

fn bot_of(api: &AdminApi) -> Result<&Bot, ApiError> {
    api.test_chat.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "the test chat runs where the bot's dialogue runs; this deployment has none",
        )
    })
}

/// The signed-in operator's test chat: messages with their current text, inline and reply keyboards.
#[utoipa::path(
    get,
    path = "/api/test-chat",
    tag = "test chat",
    extensions(("x-role" = json!("manager"))),
    params(ShowQuery),
    responses(
        (status = 200, description = "the chat (empty before the first message)", body = promo_api_types::panel::TestChat),
        (status = 400, description = "`after` is not a number", body = promo_api_types::ApiError),
    )
)]
async fn show(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<ShowQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let bot = bot_of(&api)?;
    let shopper = chat::find_shopper(bot, session.admin_user_id)
        .await
        .map_err(internal)?;
    Ok(Json(load(bot, shopper, query.after).await?).into_response())
}

/// What the operator sent, checked.
enum Checked {
    Input(TestInput),
    Tap { data: String, message_id: i64 },
}

fn check(input: TestChatInput) -> Result<Checked, ApiError> {
    let given: Vec<&str> = [
        input.text.as_ref().map(|_| "text"),
        input.contact.as_ref().map(|_| "contact"),
        input.callback_data.as_ref().map(|_| "callback_data"),
        input.photo.as_ref().map(|_| "photo"),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.as_slice() {
        [] if input.message_id.is_some() => {
            return Err(
                ApiError::bad_request("a tap needs the button's callback_data")
                    .field("callback_data"),
            )
        }
        [] => {
            return Err(ApiError::bad_request(
                "send one of text, contact, callback_data (with message_id) or photo",
            )
            .field("text"))
        }
        [_] => {}
        [_, second, ..] => {
            return Err(ApiError::bad_request(format!(
                "send one thing at a time: {second} was given with {}",
                given[0]
            ))
            .field(*second))
        }
    }
    if let Some(text) = input.text {
        let text = crate::pgtext::strip_nul(&text).into_owned();
        let length = text.chars().count();
        if text.trim().is_empty() || length > MAX_TEXT_CHARS {
            return Err(ApiError::bad_request(format!(
                "text must be 1 to {MAX_TEXT_CHARS} characters"
            ))
            .field("text"));
        }
        return Ok(Checked::Input(TestInput::Text(text)));
    }
    if let Some(contact) = input.contact {
        let phone = contact.phone.trim();
        if phone.is_empty() || phone.chars().count() > 32 || phone.contains('\0') {
            return Err(
                ApiError::bad_request("contact.phone must be 1 to 32 characters")
                    .field("contact.phone"),
            );
        }
        return Ok(Checked::Input(TestInput::Contact {
            phone: phone.to_owned(),
        }));
    }
    if let Some(data) = input.callback_data {
        // Telegram's limit on callback data, in bytes.
        if data.is_empty() || data.len() > 64 || data.contains('\0') {
            return Err(
                ApiError::bad_request("callback_data must be 1 to 64 bytes").field("callback_data")
            );
        }
        let Some(message_id) = input.message_id else {
            return Err(ApiError::bad_request(
                "a tap needs the message_id of the message with the button",
            )
            .field("message_id"));
        };
        return Ok(Checked::Tap { data, message_id });
    }
    let photo = input.photo.map(|photo| photo.base64).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(photo.trim())
        .map_err(|_| ApiError::bad_request("photo.base64 is not base64").field("photo.base64"))?;
    if bytes.is_empty() || bytes.len() > MAX_PICTURE_BYTES {
        return Err(ApiError::bad_request(format!(
            "the picture must be 1 byte to {MAX_PICTURE_BYTES} bytes"
        ))
        .field("photo.base64"));
    }
    let jpeg = bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
    let png = bytes.starts_with(&[0x89, b'P', b'N', b'G']);
    if !(jpeg || png) {
        return Err(
            ApiError::bad_request("the picture must be a JPEG or a PNG").field("photo.base64")
        );
    }
    Ok(Checked::Input(TestInput::Photo { bytes }))
}

/// Act in the test chat as the test shopper; answers what this step produced.
///
/// The bot's replies, edits and callback answers come back at once; what the bot sends
/// later (a receipt's verdict) appears in `GET /api/test-chat?after=`.
#[utoipa::path(
    post,
    path = "/api/test-chat/messages",
    tag = "test chat",
    extensions(("x-role" = json!("manager"))),
    request_body = promo_api_types::panel::TestChatInput,
    responses(
        (status = 200, description = "the chat after this step: the operator's message and the bot's answers", body = promo_api_types::panel::TestChat),
        (status = 400, description = "nothing or more than one thing sent, a text too long, a tap on no such button, a picture that is not a JPEG or PNG (field named)", body = promo_api_types::ApiError),
    )
)]
async fn send(
    State(api): State<AdminApi>,
    session: Session,
    Body(input): Body<TestChatInput>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let bot = bot_of(&api)?;
    let checked = check(input)?;
    let shopper = chat::ensure_shopper(bot, session.admin_user_id)
        .await
        .map_err(internal)?;
    let input = match checked {
        Checked::Input(input) => input,
        Checked::Tap { data, message_id } => tap(bot, &shopper, data, message_id).await?,
    };
    let seq = chat::send(bot, &shopper, input).await.map_err(internal)?;
    let shopper = chat::find_shopper(bot, session.admin_user_id)
        .await
        .map_err(internal)?;
    Ok(Json(load(bot, shopper, Some(seq - 1)).await?).into_response())
}

/// A tap as Telegram delivers it: only on a button the bot's message shows now, with
/// that message embedded.
async fn tap(
    bot: &Bot,
    shopper: &chat::TestShopper,
    data: String,
    message_id: i64,
) -> Result<TestInput, ApiError> {
    let now = load(bot, Some(shopper.clone()), None).await?;
    let message = now
        .messages
        .into_iter()
        .find(|m| m.message_id == message_id && m.from == "bot" && !m.deleted)
        .ok_or_else(|| {
            ApiError::bad_request(format!("the chat has no message {message_id} of the bot"))
                .field("message_id")
        })?;
    let on_keyboard = message
        .inline_keyboard
        .iter()
        .flatten()
        .any(|button| button.callback_data.as_deref() == Some(data.as_str()));
    if !on_keyboard {
        return Err(ApiError::bad_request(format!(
            "message {message_id} has no button with that callback_data"
        ))
        .field("callback_data"));
    }
    let keyboard: Vec<Vec<Value>> = message
        .inline_keyboard
        .iter()
        .map(|row| {
            row.iter()
                .map(|b| match (&b.callback_data, &b.url) {
                    (Some(data), _) => json!({"text": b.text, "callback_data": data}),
                    (None, Some(url)) => json!({"text": b.text, "url": url}),
                    (None, None) => json!({"text": b.text, "callback_data": ""}),
                })
                .collect()
        })
        .collect();
    Ok(TestInput::Callback {
        data,
        message: json!({
            "message_id": message_id,
            "text": message.text.unwrap_or_default(),
            "reply_markup": {"inline_keyboard": keyboard},
        }),
    })
}

/// Start the test chat over: transcript, dialogue state, registration, receipts and tickets (audited).
///
/// The receipt submissions stay, with their paid ProverkaCheka calls: those were real and
/// the costs keep counting them.
#[utoipa::path(
    post,
    path = "/api/test-chat/reset",
    tag = "test chat",
    extensions(("x-role" = json!("manager"))),
    responses(
        (status = 200, description = "what was removed (all zero when there was no test chat yet)", body = promo_api_types::panel::TestChatReset),
    )
)]
async fn reset(State(api): State<AdminApi>, session: Session) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let bot = bot_of(&api)?;
    let Some(shopper) = chat::find_shopper(bot, session.admin_user_id)
        .await
        .map_err(internal)?
    else {
        return Ok(Json(TestChatReset {
            events: 0,
            receipts: 0,
            tickets: 0,
        })
        .into_response());
    };
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let removed = chat::reset(&tx, api.bot_id, &shopper)
        .await
        .map_err(internal)?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let answer = TestChatReset {
        events: count(removed.events),
        receipts: count(removed.receipts),
        tickets: count(removed.tickets),
    };
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "test_chat.reset",
        &format!("user:{}", shopper.user_id),
        &json!({
            "before": { "status": shopper.status },
            "after": { "status": "new" },
            "removed": { "events": answer.events, "receipts": answer.receipts, "tickets": answer.tickets },
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    chat::forget_upload_limits(bot, &shopper).await;
    Ok(Json(answer).into_response())
}

/// The chat folded from its events: each message as it is now, the reply keyboard the
/// last send left, and (after `after`) only what changed since.
async fn load(
    bot: &Bot,
    shopper: Option<chat::TestShopper>,
    after: Option<i64>,
) -> Result<TestChat, ApiError> {
    let Some(shopper) = shopper else {
        return Ok(TestChat {
            shopper: None,
            messages: Vec::new(),
            notices: Vec::new(),
            reply_keyboard: None,
            last_seq: 0,
        });
    };
    let client = bot.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            "SELECT seq, kind, method, message_id, payload, created_at FROM test_chat_events
             WHERE bot_id = $1 AND chat_id = $2 ORDER BY seq",
            &[&bot.bot_id, &shopper.telegram_id],
        )
        .await
        .map_err(db)?;
    let mut chat = Fold::default();
    for row in &rows {
        chat.apply(Event {
            seq: row.get(0),
            kind: row.get(1),
            method: row.get(2),
            message_id: row.get(3),
            payload: row.get(4),
            at: timestamp(row.get(5)),
        });
    }
    let after = after.unwrap_or(i64::MIN);
    let mut messages: Vec<TestChatMessage> = chat
        .messages
        .into_iter()
        .filter(|m| m.seq > after)
        .collect();
    messages.sort_by_key(|m| m.message_id);
    Ok(TestChat {
        shopper: Some(TestShopper {
            user_id: shopper.user_id,
            telegram_id: shopper.telegram_id,
            status: shopper.status,
        }),
        messages,
        notices: chat.notices.into_iter().filter(|n| n.seq > after).collect(),
        reply_keyboard: chat.reply_keyboard,
        last_seq: chat.last_seq,
    })
}

struct Event<'a> {
    seq: i64,
    kind: &'a str,
    method: &'a str,
    message_id: Option<i64>,
    payload: Value,
    at: String,
}

#[derive(Default)]
struct Fold {
    messages: Vec<TestChatMessage>,
    notices: Vec<TestChatNotice>,
    reply_keyboard: Option<TestChatReplyKeyboard>,
    last_seq: i64,
}

fn text_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn inline_keyboard(markup: Option<&Value>) -> Vec<Vec<TestChatInlineButton>> {
    let rows = markup
        .and_then(|m| m.get("inline_keyboard"))
        .and_then(Value::as_array);
    rows.into_iter()
        .flatten()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .map(|button| TestChatInlineButton {
                    text: text_field(button, "text").unwrap_or_default(),
                    callback_data: text_field(button, "callback_data"),
                    url: text_field(button, "url"),
                })
                .collect()
        })
        .collect()
}

fn reply_keyboard(markup: &Value) -> Option<TestChatReplyKeyboard> {
    let rows = markup.get("keyboard")?.as_array()?;
    let flag = |key: &str| markup.get(key).and_then(Value::as_bool).unwrap_or(false);
    Some(TestChatReplyKeyboard {
        rows: rows
            .iter()
            .map(|row| {
                row.as_array()
                    .into_iter()
                    .flatten()
                    .map(|button| match button {
                        Value::String(text) => TestChatKeyboardButton {
                            text: text.clone(),
                            request_contact: false,
                        },
                        button => TestChatKeyboardButton {
                            text: text_field(button, "text").unwrap_or_default(),
                            request_contact: button
                                .get("request_contact")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        },
                    })
                    .collect()
            })
            .collect(),
        resize: flag("resize_keyboard"),
        one_time: flag("one_time_keyboard"),
    })
}

/// A document's name: the upload's, or the file id or URL it was sent by.
fn document_name(document: &Value) -> Option<String> {
    match document {
        Value::String(reference) => Some(reference.clone()),
        Value::Object(_) => text_field(document, "file_name"),
        _ => None,
    }
}

impl Fold {
    fn apply(&mut self, event: Event<'_>) {
        self.last_seq = self.last_seq.max(event.seq);
        let payload = &event.payload;
        match (event.kind, event.message_id) {
            ("incoming", Some(message_id)) => self.messages.push(TestChatMessage {
                message_id,
                from: "shopper".into(),
                seq: event.seq,
                text: text_field(payload, "text"),
                parse_mode: None,
                photo: payload.get("photo").map(|_| "sent".to_owned()),
                document: None,
                contact_phone: payload
                    .get("contact")
                    .and_then(|c| text_field(c, "phone_number")),
                inline_keyboard: Vec::new(),
                edited: false,
                deleted: false,
                sent_at: event.at,
            }),
            ("sent", Some(message_id)) => {
                let markup = payload.get("reply_markup");
                if let Some(markup) = markup {
                    if markup.get("remove_keyboard").and_then(Value::as_bool) == Some(true) {
                        self.reply_keyboard = None;
                    } else if let Some(keyboard) = reply_keyboard(markup) {
                        self.reply_keyboard = Some(keyboard);
                    }
                }
                self.messages.push(TestChatMessage {
                    message_id,
                    from: "bot".into(),
                    seq: event.seq,
                    text: text_field(payload, "text").or_else(|| text_field(payload, "caption")),
                    parse_mode: text_field(payload, "parse_mode"),
                    photo: payload
                        .get("photo")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    document: payload.get("document").and_then(document_name),
                    contact_phone: None,
                    inline_keyboard: inline_keyboard(markup),
                    edited: false,
                    deleted: false,
                    sent_at: event.at,
                })
            }
            ("edited", Some(message_id)) => {
                let Some(message) = self
                    .messages
                    .iter_mut()
                    .find(|m| m.message_id == message_id && m.from == "bot")
                else {
                    return;
                };
                match event.method {
                    "editMessageText" => {
                        message.text = text_field(payload, "text");
                        message.parse_mode = text_field(payload, "parse_mode");
                    }
                    "editMessageCaption" => {
                        message.text = text_field(payload, "caption");
                        message.parse_mode = text_field(payload, "parse_mode");
                    }
                    _ => {}
                }
                // Telegram drops an inline keyboard that an edit does not repeat.
                message.inline_keyboard = inline_keyboard(payload.get("reply_markup"));
                message.edited = true;
                message.seq = event.seq;
            }
            ("deleted", Some(message_id)) => {
                if let Some(message) = self
                    .messages
                    .iter_mut()
                    .find(|m| m.message_id == message_id)
                {
                    message.deleted = true;
                    message.inline_keyboard.clear();
                    message.seq = event.seq;
                }
            }
            ("callback_answer", _) => self.notices.push(TestChatNotice {
                seq: event.seq,
                text: text_field(payload, "text").filter(|t| !t.is_empty()),
                show_alert: payload
                    .get("show_alert")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                at: event.at,
            }),
            _ => {}
        }
    }
}
