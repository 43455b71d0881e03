//! The bot's texts: `GET /api/texts` (every key in both languages, its placeholders,
//! the default and the operator's version), `PUT /api/texts/{key}/{lang}` (checked:
//! unknown placeholders, wrong plural forms and tags are refused with their position),
//! `DELETE` (back to the default), `POST .../preview` (sample values filled in). Edits
//! are audited and reach every process within the texts' refresh interval, no deploy.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use promo_api_types::panel::{TextEdit, TextEntry, TextPreview, TextVersion};
use serde_json::json;

use super::session::{Role, Session};
use super::{db, internal, Body};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::texts::check::{check_override, placeholders, sample_value};
use crate::texts::{default_text, Lang, TextKey};

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/texts", get(list))
        .route("/api/texts/{key}/{lang}", put(save).delete(reset))
        .route("/api/texts/{key}/{lang}/preview", post(preview))
}

fn key_and_lang(key: &str, lang: &str) -> Result<(TextKey, Lang), ApiError> {
    let key =
        TextKey::lookup(key).ok_or_else(|| ApiError::not_found(format!("no text {key:?}")))?;
    let lang = Lang::from_code(lang)
        .ok_or_else(|| ApiError::bad_request("lang must be ru or en").field("lang"))?;
    Ok((key, lang))
}

fn placeholder_names(key: TextKey) -> Vec<String> {
    let mut names: Vec<String> = placeholders(default_text(key, Lang::Ru))
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.dedup();
    names
}

/// Every bot text in both languages: its placeholders, the default and the operator's version.
#[utoipa::path(
    get,
    path = "/api/texts",
    tag = "texts",
    extensions(("x-role" = json!("viewer"))),
    responses(
        (status = 200, description = "every text", body = Vec<promo_api_types::panel::TextEntry>),
    )
)]
async fn list(State(api): State<AdminApi>, session: Session) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            "SELECT key, language, body FROM texts WHERE bot_id = $1",
            &[&api.bot_id],
        )
        .await
        .map_err(db)?;
    let custom = |key: TextKey, lang: Lang| {
        rows.iter()
            .find(|row| row.get::<_, &str>(0) == key.name() && row.get::<_, &str>(1) == lang.code())
            .map(|row| row.get::<_, String>(2))
    };
    let entries: Vec<TextEntry> = TextKey::all()
        .map(|key| TextEntry {
            key: key.name().to_owned(),
            placeholders: placeholder_names(key),
            ru: TextVersion {
                default: default_text(key, Lang::Ru).to_owned(),
                custom: custom(key, Lang::Ru),
            },
            en: TextVersion {
                default: default_text(key, Lang::En).to_owned(),
                custom: custom(key, Lang::En),
            },
        })
        .collect();
    Ok(Json(entries).into_response())
}

fn checked_body(key: TextKey, lang: Lang, body: &str) -> Result<String, ApiError> {
    let body = crate::pgtext::strip_nul(body).into_owned();
    check_override(key, lang, &body).map_err(|problem| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            problem.to_string(),
        )
        .field("body")
    })?;
    Ok(body)
}

/// A short form of a text for the audit log.
fn summary(text: Option<&str>) -> Option<String> {
    text.map(|t| t.chars().take(200).collect())
}

/// Replace a bot text, checked: unknown placeholders, wrong plural forms and broken tags are refused with their position (manager; audited).
#[utoipa::path(
    put,
    path = "/api/texts/{key}/{lang}",
    tag = "texts",
    extensions(("x-role" = json!("manager"))),
    params(("key" = String, Path, description = "the text's key, e.g. `welcome`"), ("lang" = String, Path, description = "`ru` or `en`")),
    request_body = promo_api_types::panel::TextEdit,
    responses(
        (status = 200, description = "saved: `{key, lang, body}`", body = serde_json::Value, example = json!({"key": "welcome", "lang": "ru", "body": "Привет!"})),
        (status = 400, description = "the text is refused (field `body`, the message gives the position)", body = promo_api_types::ApiError),
        (status = 404, description = "no such key or language", body = promo_api_types::ApiError),
    )
)]
async fn save(
    State(api): State<AdminApi>,
    session: Session,
    Path((key, lang)): Path<(String, String)>,
    Body(edit): Body<TextEdit>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let (key, lang) = key_and_lang(&key, &lang)?;
    let body = checked_body(key, lang, &edit.body)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let before = crate::texts::override_of(&tx, api.bot_id, key, lang)
        .await
        .map_err(internal)?;
    let (panel, _) = session.actor().ids();
    crate::texts::save_override(&tx, api.bot_id, key, lang, &body, panel)
        .await
        .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "text.update",
        &format!("text:{}:{}", key.name(), lang.code()),
        &json!({ "before": summary(before.as_deref()), "after": summary(Some(&body)) }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    api.texts.invalidate().await;
    Ok(Json(json!({ "key": key.name(), "lang": lang.code(), "body": body })).into_response())
}

/// Put a bot text back to its default (manager; audited).
#[utoipa::path(
    delete,
    path = "/api/texts/{key}/{lang}",
    tag = "texts",
    extensions(("x-role" = json!("manager"))),
    params(("key" = String, Path, description = "the text's key, e.g. `welcome`"), ("lang" = String, Path, description = "`ru` or `en`")),
    responses(
        (status = 204, description = "back to the default"),
        (status = 404, description = "no such key or language", body = promo_api_types::ApiError),
    )
)]
async fn reset(
    State(api): State<AdminApi>,
    session: Session,
    Path((key, lang)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let (key, lang) = key_and_lang(&key, &lang)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let before = crate::texts::override_of(&tx, api.bot_id, key, lang)
        .await
        .map_err(internal)?;
    if crate::texts::reset_override(&tx, api.bot_id, key, lang)
        .await
        .map_err(internal)?
    {
        crate::audit::record(
            &tx,
            api.bot_id,
            &session.actor(),
            "text.reset",
            &format!("text:{}:{}", key.name(), lang.code()),
            &json!({ "before": summary(before.as_deref()), "after": null }),
        )
        .await
        .map_err(internal)?;
    }
    tx.commit().await.map_err(db)?;
    api.texts.invalidate().await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Render a text with sample values, checked as a save would be, without saving it.
#[utoipa::path(
    post,
    path = "/api/texts/{key}/{lang}/preview",
    tag = "texts",
    extensions(("x-role" = json!("viewer"))),
    params(("key" = String, Path, description = "the text's key, e.g. `welcome`"), ("lang" = String, Path, description = "`ru` or `en`")),
    request_body = promo_api_types::panel::TextEdit,
    responses(
        (status = 200, description = "the rendered text", body = promo_api_types::panel::TextPreview),
        (status = 400, description = "the text is refused (field `body`, the message gives the position)", body = promo_api_types::ApiError),
        (status = 404, description = "no such key or language", body = promo_api_types::ApiError),
    )
)]
async fn preview(
    session: Session,
    Path((key, lang)): Path<(String, String)>,
    Body(edit): Body<TextEdit>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let (key, lang) = key_and_lang(&key, &lang)?;
    let body = checked_body(key, lang, &edit.body)?;
    let names = placeholder_names(key);
    let args: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), sample_value(n)))
        .collect();
    Ok(Json(TextPreview {
        text: crate::texts::render_template(&body, &args),
    })
    .into_response())
}
