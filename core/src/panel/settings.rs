//! The promotion's settings from the panel: `GET /api/settings` (now, defaults, what
//! changed), `PATCH /api/settings` (any subset of fields, each checked, all or nothing),
//! `DELETE /api/settings/{field}` (back to the environment's value). Changes are
//! audited with before and after and reach the bot and the verifier without a deploy
//! (see [`crate::promo`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use promo_api_types::panel::PromoSettingsView;
use serde_json::{json, Value};

use super::session::{Role, Session};
use super::{db, internal, unknown_zone, Body};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::promo::{set_field, to_json, FIELDS, KEY_PREFIX};

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/settings", get(show).patch(change))
        .route("/api/settings/{field}", delete(reset))
}

async fn view(api: &AdminApi) -> Result<PromoSettingsView, ApiError> {
    api.promo.invalidate().await;
    let overrides = api.promo.overrides().await.map_err(internal)?;
    let current = api.promo.current().await;
    let mut changed: Vec<String> = overrides.into_keys().collect();
    changed.sort();
    Ok(PromoSettingsView {
        values: to_json(&current),
        defaults: to_json(api.promo.defaults()),
        changed,
    })
}

/// The promotion's settings now, their defaults and what an operator changed.
#[utoipa::path(
    get,
    path = "/api/settings",
    tag = "settings",
    extensions(("x-role" = json!("viewer"))),
    responses(
        (status = 200, description = "the settings", body = PromoSettingsView),
    )
)]
async fn show(State(api): State<AdminApi>, session: Session) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    Ok(Json(view(&api).await?).into_response())
}

/// Changes any subset of the settings; one bad field changes nothing (manager; audited).
#[utoipa::path(
    patch,
    path = "/api/settings",
    tag = "settings",
    extensions(("x-role" = json!("manager"))),
    request_body(content = std::collections::HashMap<String, serde_json::Value>, description = "field → new value, e.g. `{\"name\": \"Зимняя сказка\"}`"),
    responses(
        (status = 200, description = "the settings after the change", body = PromoSettingsView),
        (status = 400, description = "a field is unknown or its value is not valid (field named)", body = promo_api_types::ApiError),
    )
)]
async fn change(
    State(api): State<AdminApi>,
    session: Session,
    Body(change): Body<serde_json::Map<String, Value>>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    if change.is_empty() {
        return Err(ApiError::bad_request("send at least one setting to change"));
    }
    // Every field is checked on a copy first: one bad field changes nothing.
    api.promo.invalidate().await;
    let before = api.promo.current().await;
    let mut after = (*before).clone();
    for (field, value) in &change {
        set_field(&mut after, field, value).map_err(|problem| {
            ApiError::bad_request(format!("{field} {problem}")).field(field.clone())
        })?;
    }
    if let (Some(start), Some(end)) = (after.start_date, after.end_date) {
        if start > end {
            return Err(
                ApiError::bad_request("start_date must not be after end_date").field(
                    if change.contains_key("end_date") {
                        "end_date"
                    } else {
                        "start_date"
                    },
                ),
            );
        }
    }
    let (before_json, after_json) = (to_json(&before), to_json(&after));
    let (panel, _) = session.actor().ids();
    let mut client = api.pool.get().await.map_err(db)?;
    if change.contains_key("time_zone") {
        // Postgres's zone database is the one every query of the panel uses.
        client
            .query_one("SELECT now() AT TIME ZONE $1", &[&after.time_zone])
            .await
            .map_err(|e| match unknown_zone(&after.time_zone)(e) {
                refused if refused.status == StatusCode::BAD_REQUEST => refused.field("time_zone"),
                other => other,
            })?;
    }
    let tx = client.transaction().await.map_err(db)?;
    for field in change.keys() {
        // Stored normalised (trimmed, lower-cased keywords), as the bot will read it.
        let value = after_json.get(field).cloned().unwrap_or(Value::Null);
        tx.execute(
            "INSERT INTO settings (bot_id, key, value, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (bot_id, key)
             DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()",
            &[&api.bot_id, &format!("{KEY_PREFIX}{field}"), &value, &panel],
        )
        .await
        .map_err(db)?;
    }
    let fields: Vec<&String> = change.keys().collect();
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "settings.update",
        "settings:promo",
        &json!({
            "before": fields.iter().map(|f| (f.to_string(), before_json.get(*f).cloned().unwrap_or(Value::Null))).collect::<serde_json::Map<_, _>>(),
            "after": fields.iter().map(|f| (f.to_string(), after_json.get(*f).cloned().unwrap_or(Value::Null))).collect::<serde_json::Map<_, _>>(),
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok(Json(view(&api).await?).into_response())
}

/// Puts one setting back to the environment's value (manager; audited).
#[utoipa::path(
    delete,
    path = "/api/settings/{field}",
    tag = "settings",
    extensions(("x-role" = json!("manager"))),
    params(("field" = String, Path, description = "the setting's name, e.g. `name`")),
    responses(
        (status = 200, description = "the settings after the reset", body = PromoSettingsView),
        (status = 404, description = "no such setting", body = promo_api_types::ApiError),
    )
)]
async fn reset(
    State(api): State<AdminApi>,
    session: Session,
    Path(field): Path<String>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    if !FIELDS.contains(&field.as_str()) {
        return Err(ApiError::not_found(format!("no setting {field:?}")));
    }
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let removed = tx
        .query_opt(
            "DELETE FROM settings WHERE bot_id = $1 AND key = $2 RETURNING value",
            &[&api.bot_id, &format!("{KEY_PREFIX}{field}")],
        )
        .await
        .map_err(db)?;
    if let Some(row) = removed {
        crate::audit::record(
            &tx,
            api.bot_id,
            &session.actor(),
            "settings.reset",
            "settings:promo",
            &json!({ "field": field, "before": row.get::<_, Value>(0) }),
        )
        .await
        .map_err(internal)?;
    }
    tx.commit().await.map_err(db)?;
    Ok((StatusCode::OK, Json(view(&api).await?)).into_response())
}
