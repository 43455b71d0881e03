//! Sandbox mode: the testkit fakes stand in for Telegram and ProverkaCheka, and a small
//! chat page at `/sandbox` lets a newcomer talk to the bot offline.

use std::collections::HashMap;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_core::app::{App, SANDBOX_BOT_TOKEN};
use promo_testkit::proverkacheka::FakeProverkaCheka;
use promo_testkit::receipts::ReceiptBuilder;
use promo_testkit::telegram::{FakeTelegram, Updates};
use serde::Deserialize;
use serde_json::{json, Value};

const SANDBOX_PROVERKA_TOKEN: &str = "00000.SandboxSandboxSan";

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
                secret_token: app.settings.telegram.webhook_secret.expose().to_owned(),
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

pub fn router(_app: App, fakes: Fakes) -> Router {
    Router::new()
        .route("/sandbox", get(page))
        .route("/sandbox/api/send", post(send))
        .route("/sandbox/api/photo", post(send_photo))
        .route("/sandbox/api/messages", get(messages))
        .with_state(fakes)
}

async fn page() -> Html<&'static str> {
    Html(include_str!("sandbox.html"))
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

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// Turns the page's input into a Telegram update and delivers it through the fake, which
/// also executes a reply the webhook returned in its response body.
async fn send(State(fakes): State<Fakes>, Json(request): Json<SendRequest>) -> Response {
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
struct PhotoQuery {
    user_id: i64,
}

/// The page uploads a picture; it becomes a Telegram photo the bot can `getFile`.
async fn send_photo(
    State(fakes): State<Fakes>,
    Query(query): Query<PhotoQuery>,
    body: axum::body::Bytes,
) -> Response {
    if query.user_id <= 0 || body.is_empty() {
        return bad_request("send a picture for a positive user_id");
    }
    let Ok(picture) = image::load_from_memory(&body) else {
        return bad_request("the file is not a JPEG or PNG picture");
    };
    let size = body.len() as u64;
    let file_id = fakes.telegram.add_file(body, "photo.jpg");
    let update = Updates::photo(
        query.user_id,
        &file_id,
        picture.width(),
        picture.height(),
        size,
    );
    deliver(&fakes, update).await
}

async fn deliver(fakes: &Fakes, update: Value) -> Response {
    let reply = match fakes.telegram.deliver_update(update).await {
        Ok(reply) => reply,
        Err(e) => return bad_request(&format!("{e:#}")),
    };
    if let Err(e) = fakes
        .telegram
        .execute_webhook_reply(SANDBOX_BOT_TOKEN, &reply)
        .await
    {
        return bad_request(&format!("{e:#}"));
    }
    Json(json!({ "webhook_status": reply.status })).into_response()
}

#[derive(Deserialize)]
struct MessagesQuery {
    chat_id: i64,
}

/// The bot's messages to one chat, oldest first.
async fn messages(
    State(fakes): State<Fakes>,
    Query(query): Query<MessagesQuery>,
) -> Json<Vec<Value>> {
    let messages = fakes
        .telegram
        .sent_messages()
        .into_iter()
        .filter(|m| m.chat_id == query.chat_id)
        .map(|m| {
            json!({
                "message_id": m.message_id,
                "text": m.text,
                "reply_markup": m.reply_markup,
            })
        })
        .collect();
    Json(messages)
}
