//! The webhook route: authenticate Telegram, drop repeats, run the dialogue, answer fast.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::bot::Bot;
use crate::telegram::{IncomingUpdate, UpdateKind};

pub const WEBHOOK_PATH: &str = "/telegram/webhook";
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub fn router(app: Bot) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(receive_update))
        .with_state(app)
}

fn secret_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(SECRET_HEADER)
        .map(|got| bool::from(got.as_bytes().ct_eq(expected.as_bytes())))
        .unwrap_or(false)
}

async fn receive_update(State(app): State<Bot>, headers: HeaderMap, body: Bytes) -> Response {
    if !secret_matches(
        &headers,
        app.settings.telegram.webhook_secret.expose_secret(),
    ) {
        tracing::warn!("webhook call with a missing or wrong secret token");
        return ApiError::unauthorized("missing or wrong secret token").into_response();
    }
    let update = match IncomingUpdate::parse(&body) {
        Ok(update) => update,
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    if let UpdateKind::Unknown { kind, reason } = &update.kind {
        tracing::debug!(
            update_id = update.update_id,
            kind,
            ?reason,
            "ignoring update kind"
        );
        return StatusCode::OK.into_response();
    }
    let processed = match app.release_if_stuck(update.update_id).await {
        Ok(()) => crate::bot::process_update(&app, &update).await,
        Err(e) => Err(e.context("releasing the claim of an earlier failed attempt")),
    };
    match processed {
        Ok(None) => {
            tracing::debug!(update_id = update.update_id, "repeated update dropped");
            StatusCode::OK.into_response()
        }
        Ok(Some(mut calls)) => {
            // The last call rides in the response body, after the earlier ones were made
            // over HTTP: order is kept (a callback is answered before its message is
            // edited) and the most common case, one reply, costs no extra round trip.
            let in_response = if app.settings.telegram.reply_in_webhook_response {
                calls.pop()
            } else {
                None
            };
            for call in &calls {
                let result: Result<serde_json::Value, _> =
                    app.telegram.call(call.method(), &call.params()).await;
                if let Err(e) = result {
                    tracing::warn!(update_id = update.update_id, method = call.method(), error = %e, "reply failed");
                }
            }
            match in_response {
                Some(call) => Json(call.as_webhook_reply()).into_response(),
                None => StatusCode::OK.into_response(),
            }
        }
        Err(e) => {
            tracing::error!(update_id = update.update_id, error = ?e, "update failed");
            // Let Telegram retry a failure we could not finish (e.g. a database blip).
            if let Err(e) = app.release_update(update.update_id).await {
                tracing::error!(error = ?e, "could not release the update claim");
            }
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "temporarily unavailable",
            )
            .into_response()
        }
    }
}
