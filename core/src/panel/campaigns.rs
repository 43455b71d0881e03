//! Campaigns from the panel: `GET/POST /api/campaigns`, `POST /api/campaigns/recipients`
//! (the count before sending), `GET /api/campaigns/{id}`, `POST .../{id}/cancel`,
//! `/pause`, `/resume`, and `GET .../{id}/events`, the live counters as Server-Sent
//! Events.
//!
//! Creating one inserts the `scheduled` row and its audit row in one transaction; the
//! insert's NOTIFY wakes the listen-bridge, which hands it to the runner within
//! milliseconds. The content is checked by the same parser the runner uses, so what is
//! accepted here is what the runner can send.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_api_types::panel::{
    CampaignDetail, CampaignPage, NewCampaignRequest, RecipientCount, RecipientsRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::dashboard::{campaign_summary_of, CAMPAIGN_COLUMNS};
use super::session::{Role, Session};
use super::{db, internal, next_before, one_of, page_limit, timestamp, Body, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::campaigns::audience::{count_recipients, Audience};
use crate::campaigns::content::CampaignContent;
use crate::campaigns::control::{self, Control, ControlError};
use crate::campaigns::create::{insert_scheduled, NewCampaign};

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/campaigns", get(list).post(create))
        .route("/api/campaigns/recipients", post(recipients))
        .route("/api/campaigns/{id}", get(detail))
        .route(
            "/api/campaigns/{id}/cancel",
            post(|api, session, id| steer(api, session, id, Control::Cancel)),
        )
        .route(
            "/api/campaigns/{id}/pause",
            post(|api, session, id| steer(api, session, id, Control::Pause)),
        )
        .route(
            "/api/campaigns/{id}/resume",
            post(|api, session, id| steer(api, session, id, Control::Resume)),
        )
        .route("/api/campaigns/{id}/events", get(events))
}

const KINDS: &[&str] = &["broadcast", "single_message", "raffle"];
const MAX_PAGE: i64 = 100;
/// How often the live counters are read for the event stream.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(500);
const FINISHED: &[&str] = &["completed", "cancelled", "failed"];

fn audience_of(kind: &str, audience: &Value) -> Result<Audience, ApiError> {
    let audience: Audience = if audience.is_null() {
        Audience::default()
    } else {
        serde_json::from_value(audience.clone()).map_err(|e| {
            ApiError::bad_request(format!("audience is not valid: {e}")).field("audience")
        })?
    };
    audience
        .validate(kind)
        .map_err(|e| ApiError::bad_request(e).field("audience"))?;
    Ok(audience)
}

fn sendable_kind(kind: &str) -> Result<&'static str, ApiError> {
    match kind {
        "broadcast" => Ok("broadcast"),
        "single_message" => Ok("single_message"),
        _ => Err(ApiError::bad_request("kind must be broadcast or single_message").field("kind")),
    }
}

/// Create a broadcast or a single message, now or scheduled (manager; audited).
#[utoipa::path(
    post,
    path = "/api/campaigns",
    tag = "campaigns",
    extensions(("x-role" = json!("manager"))),
    request_body = promo_api_types::panel::NewCampaignRequest,
    responses(
        (status = 201, description = "created, `scheduled`", body = promo_api_types::panel::CampaignDetail),
        (status = 400, description = "the content, audience or schedule is invalid, or `photo` names no upload of this bot (field named)", body = promo_api_types::ApiError),
    )
)]
async fn create(
    State(api): State<AdminApi>,
    session: Session,
    Body(request): Body<NewCampaignRequest>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let kind = sendable_kind(&request.kind)?;
    let mut content = json!({ "text": crate::pgtext::strip_nul(&request.text) });
    if let Some(mode) = &request.parse_mode {
        content["parse_mode"] = json!(mode);
    }
    if let Some(photo) = &request.photo {
        super::uploads::check_photo(&api, photo.trim()).await?;
        content["photo"] = json!(crate::pgtext::strip_nul(photo.trim()));
    }
    if let Some(button) = &request.button {
        content["button"] = json!({
            "text": crate::pgtext::strip_nul(&button.text),
            "url": button.url.trim(),
        });
    }
    CampaignContent::parse(&content).map_err(|e| ApiError::bad_request(e).field("text"))?;
    let audience = audience_of(kind, &request.audience)?;
    let tz = super::zone(&api, request.tz.clone()).await?;
    let tz = tz.as_str();

    let mut client = api.pool.get().await.map_err(db)?;
    let scheduled_for = match &request.scheduled_for {
        None => None,
        Some(local) => Some(scheduled_time(&client, local, tz).await?),
    };
    let tx = client.transaction().await.map_err(db)?;
    let audience_json =
        serde_json::to_value(&audience).map_err(|e| internal(anyhow::Error::from(e)))?;
    let id = insert_scheduled(
        &tx,
        api.bot_id,
        &session.actor(),
        &NewCampaign {
            kind,
            content: content.clone(),
            audience: audience_json.clone(),
            scheduled_for,
            paid_broadcast: request.paid_broadcast,
        },
    )
    .await
    .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "campaign.create",
        &format!("campaign:{id}"),
        &json!({
            "kind": kind,
            "audience": audience_json,
            "scheduled_for": scheduled_for.map(timestamp),
            "paid_broadcast": request.paid_broadcast,
            "text_chars": request.text.chars().count(),
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    let detail = load_detail(&api, id).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// `YYYY-MM-DDTHH:MM[:SS]` in `tz`, as an instant; refused when it is in the past
/// (more than a minute: the operator's clock may be a little behind).
pub(super) async fn scheduled_time(
    client: &deadpool_postgres::Object,
    local: &str,
    tz: &str,
) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let parsed = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            ApiError::bad_request("scheduled_for must be YYYY-MM-DDTHH:MM local time")
                .field("scheduled_for")
        })?;
    let row = client
        .query_one(
            "SELECT ($1::TIMESTAMP AT TIME ZONE $2), ($1::TIMESTAMP AT TIME ZONE $2) < now() - interval '1 minute'",
            &[&parsed, &tz],
        )
        .await
        .map_err(|e| {
            if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE) {
                ApiError::bad_request(format!("unknown time zone {tz:?}")).field("tz")
            } else {
                internal(e.into())
            }
        })?;
    if row.get::<_, bool>(1) {
        return Err(ApiError::bad_request("scheduled_for is in the past").field("scheduled_for"));
    }
    Ok(row.get(0))
}

/// How many shoppers a campaign with this audience would reach now.
#[utoipa::path(
    post,
    path = "/api/campaigns/recipients",
    tag = "campaigns",
    extensions(("x-role" = json!("viewer"))),
    request_body = promo_api_types::panel::RecipientsRequest,
    responses(
        (status = 200, description = "the count", body = promo_api_types::panel::RecipientCount),
        (status = 400, description = "the kind or audience is invalid (field named)", body = promo_api_types::ApiError),
    )
)]
async fn recipients(
    State(api): State<AdminApi>,
    session: Session,
    Body(request): Body<RecipientsRequest>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let kind = sendable_kind(&request.kind)?;
    let audience = audience_of(kind, &request.audience)?;
    let client = api.pool.get().await.map_err(db)?;
    let recipients = count_recipients(&client, api.bot_id, kind, &audience)
        .await
        .map_err(internal)?;
    Ok(Json(RecipientCount { recipients }).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// A campaign status: `draft`, `scheduled`, `running`, `paused`, `completed`, `cancelled`, `failed`.
    status: Option<String>,
    /// `broadcast`, `single_message` or `raffle`.
    kind: Option<String>,
    /// Continue a list: the `next_before_id` of the page before.
    before_id: Option<i64>,
    /// Page size, 1 to 100 (50).
    limit: Option<i64>,
}

/// Campaigns with their live counters, newest first.
#[utoipa::path(
    get,
    path = "/api/campaigns",
    tag = "campaigns",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of campaigns", body = promo_api_types::panel::CampaignPage),
        (status = 400, description = "a filter or `limit` is out of range (field named)", body = promo_api_types::ApiError),
    )
)]
async fn list(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    one_of("kind", query.kind.as_deref(), KINDS)?;
    let statuses = [
        "draft",
        "scheduled",
        "running",
        "paused",
        "cancelled",
        "completed",
        "failed",
    ];
    one_of("status", query.status.as_deref(), &statuses)?;
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            &format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns
                 WHERE bot_id = $1 AND ($2::TEXT IS NULL OR status = $2)
                   AND ($3::TEXT IS NULL OR kind = $3) AND ($4::BIGINT IS NULL OR id < $4)
                 ORDER BY id DESC LIMIT $5"
            ),
            &[
                &api.bot_id,
                &query.status,
                &query.kind,
                &query.before_id,
                &limit,
            ],
        )
        .await
        .map_err(db)?;
    let campaigns: Vec<_> = rows.iter().map(campaign_summary_of).collect();
    let next_before_id = next_before(campaigns.iter().map(|c| c.id), limit);
    Ok(Json(CampaignPage {
        campaigns,
        next_before_id,
    })
    .into_response())
}

async fn load_detail(api: &AdminApi, id: i64) -> Result<CampaignDetail, ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {CAMPAIGN_COLUMNS}, content, audience, paid_broadcast, started_at, error,
                        created_via
                 FROM campaigns WHERE id = $1 AND bot_id = $2"
            ),
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))?;
    Ok(CampaignDetail {
        campaign: campaign_summary_of(&row),
        content: row.get(11),
        audience: row.get(12),
        paid_broadcast: row.get(13),
        started_at: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(14)
            .map(timestamp),
        error: row.get(15),
        created_via: row.get(16),
    })
}

/// One campaign: its counters, content and audience.
#[utoipa::path(
    get,
    path = "/api/campaigns/{id}",
    tag = "campaigns",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the campaign's id")),
    responses(
        (status = 200, description = "the campaign", body = promo_api_types::panel::CampaignDetail),
        (status = 404, description = "no such campaign", body = promo_api_types::ApiError),
    )
)]
async fn detail(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    Ok(Json(load_detail(&api, id).await?).into_response())
}

async fn steer(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    what: Control,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    match control::apply(&api.pool, api.bot_id, &session.actor(), id, what).await {
        Ok(_) => Ok(Json(load_detail(&api, id).await?).into_response()),
        Err(ControlError::NotFound(_)) => Err(ApiError::not_found(format!("no campaign {id}"))),
        Err(error @ ControlError::InvalidTransition { .. }) => {
            Err(ApiError::conflict(error.to_string()))
        }
        Err(ControlError::Storage(error)) => Err(internal(error)),
    }
}

/// Live progress of a campaign as Server-Sent Events.
///
/// The counters as `progress` events every [`PROGRESS_EVERY`] while they change, and a
/// last one when the campaign has finished; then the stream ends.
#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/events",
    tag = "campaigns",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the campaign's id")),
    responses(
        (status = 200, description = "`progress` events, each a campaign summary as JSON, until the campaign has finished", body = promo_api_types::panel::CampaignSummary, content_type = "text/event-stream"),
        (status = 404, description = "no such campaign", body = promo_api_types::ApiError),
    )
)]
async fn events(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    // A missing campaign is a 404 now, not an empty stream.
    load_detail(&api, id).await?;
    let stream = futures::stream::unfold(
        (api, None::<Value>, false),
        move |(api, last, done)| async move {
            if done {
                return None;
            }
            loop {
                let summary = match load_detail(&api, id).await {
                    Ok(detail) => detail.campaign,
                    Err(_) => return None,
                };
                let value = serde_json::to_value(&summary).unwrap_or(Value::Null);
                let finished = FINISHED.contains(&summary.status.as_str());
                if last.as_ref() != Some(&value) || finished {
                    let event = Event::default()
                        .event("progress")
                        .json_data(&value)
                        .unwrap_or_else(|_| Event::default().event("progress"));
                    return Some((Ok::<_, Infallible>(event), (api, Some(value), finished)));
                }
                tokio::time::sleep(PROGRESS_EVERY).await;
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
