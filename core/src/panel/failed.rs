//! Failed work: `GET /api/failed-work` lists the outbox rows given up (dead letters and
//! messages Telegram refused for good) with their reason; `POST .../{id}/retry` makes one
//! due again with fresh attempts, `POST .../{id}/discard` takes it off the list. Both are
//! audited with the row they touched.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_api_types::panel::FailedWork;
use serde::Deserialize;
use serde_json::json;

use super::session::{Role, Session};
use super::{db, internal, page_limit, timestamp, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::outbox::Redrive;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/failed-work", get(list))
        .route(
            "/api/failed-work/{id}/retry",
            post(|api, session, id| apply(api, session, id, Redrive::Retry)),
        )
        .route(
            "/api/failed-work/{id}/discard",
            post(|api, session, id| apply(api, session, id, Redrive::Discard)),
        )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// How many, 1 to 500 (100).
    limit: Option<i64>,
}

/// Work given up: dead jobs and messages Telegram refused for good, with their reason.
#[utoipa::path(
    get,
    path = "/api/failed-work",
    tag = "failed-work",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "the rows given up, newest first", body = Vec<promo_api_types::panel::FailedWork>),
        (status = 400, description = "`limit` is out of range (field `limit`)", body = promo_api_types::ApiError),
    )
)]
async fn list(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let limit = page_limit(query.limit, 100, 500)?;
    let rows = crate::outbox::given_up(&api.pool, api.bot_id, limit)
        .await
        .map_err(internal)?;
    let rows: Vec<FailedWork> = rows
        .into_iter()
        .map(|row| FailedWork {
            id: row.id,
            kind: row.kind,
            purpose: row.purpose,
            status: row.status,
            user_id: row.user_id,
            submission_id: row.submission_id,
            attempts: row.attempts,
            reason: row.reason,
            created_at: timestamp(row.created_at),
            finished_at: row.finished_at.map(timestamp),
        })
        .collect();
    Ok(Json(rows).into_response())
}

async fn apply(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    what: Redrive,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let Some((kind, purpose)) = crate::outbox::redrive(&tx, api.bot_id, id, what)
        .await
        .map_err(internal)?
    else {
        return Err(ApiError::not_found(format!("no failed work {id}")));
    };
    let action = match what {
        Redrive::Retry => "failed_work.retry",
        Redrive::Discard => "failed_work.discard",
    };
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        action,
        &format!("outbox:{id}"),
        &json!({ "kind": kind, "purpose": purpose }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok(Json(json!({ "id": id, "done": action })).into_response())
}
