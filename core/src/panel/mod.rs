//! The admin API behind the panel (`/api/*`): sign-in and sessions ([`auth`],
//! [`session`]), panel users and the audit log ([`admins`]), the dashboard ([`dashboard`]), the shopper CRM ([`users`]), receipt review and moderation ([`receipts`]), campaigns with live progress
//! ([`campaigns`]), failed work ([`failed`]), the bot's texts
//! ([`texts`]), the promotion's settings ([`settings`]), raffles ([`raffles`]), their winners and
//! exports ([`winners`]), prize claims ([`claims`]), their public records ([`public`]), costs ([`costs`]), images for broadcasts ([`uploads`]), the test
//! chat ([`test_chat`]),
//! and the API's own OpenAPI document and docs page ([`openapi`]).
//!
//! Every route answers JSON; every error is an [`ApiError`] (`{error, message, field?}`),
//! so nothing a caller sends yields a 5xx. Every route but login needs a session, every
//! state-changing route its CSRF token, and every mutation writes its audit row in the
//! transaction of the change.

pub mod admins;
pub mod auth;
pub mod campaigns;
pub mod claims;
pub mod costs;
pub mod dashboard;
pub mod failed;
pub mod openapi;
pub mod public;
pub mod raffles;
pub mod receipts;
pub mod session;
pub mod settings;
pub mod test_chat;
pub mod texts;
pub mod uploads;
pub mod users;
pub mod winners;

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::request::Parts;
use axum::Router;
use serde::de::DeserializeOwned;

use crate::api_error::ApiError;
use crate::app::AdminApi;

/// Largest JSON body any panel route takes (images come through [`uploads`], which reads
/// its raw body with its own limit).
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Every `/api` route of the panel.
pub fn router(api: AdminApi) -> Router {
    Router::new()
        .merge(auth::routes())
        .merge(admins::routes())
        .merge(dashboard::routes())
        .merge(users::routes())
        .merge(receipts::routes())
        .merge(campaigns::routes())
        .merge(failed::routes())
        .merge(texts::routes())
        .merge(settings::routes())
        .merge(raffles::routes())
        .merge(winners::routes())
        .merge(claims::routes())
        .merge(public::routes())
        .merge(costs::routes())
        .merge(uploads::routes())
        .merge(test_chat::routes())
        .merge(openapi::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
        .with_state(api)
}

/// A JSON body whose rejection is one of our errors: axum's own answers are plain text
/// and, for a body that is not JSON, say nothing about which field was wrong.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("send the body as JSON (Content-Type: application/json)")
        }
        JsonRejection::JsonDataError(e) => {
            // serde names the field and what was expected; it never quotes a value back.
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                e.body_text(),
            )
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("the body is not valid JSON"),
        JsonRejection::BytesRejection(_) => {
            ApiError::payload_too_large(format!("the body is larger than {MAX_JSON_BYTES} bytes"))
        }
        _ => ApiError::bad_request("the body could not be read"),
    }
}

/// The client's address for the per-address login limit: CloudFront's viewer address
/// when the request came through it (CloudFront sets the header itself, so a client
/// cannot forge it), else the peer of the local server; `None` under Lambda without
/// CloudFront, where only the per-login lockout applies.
pub(crate) fn client_ip(parts: &Parts) -> Option<String> {
    if let Some(viewer) = parts
        .headers
        .get("cloudfront-viewer-address")
        .and_then(|v| v.to_str().ok())
    {
        // `address:port`; the address may be IPv6 with colons of its own.
        let address = viewer.rsplit_once(':').map_or(viewer, |(ip, _)| ip);
        if !address.is_empty() && address.len() <= 64 {
            return Some(address.to_owned());
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
}

/// RFC 3339 in UTC with seconds, what every panel DTO carries.
pub(crate) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Query parameters whose rejection is one of our errors (a 400 naming what was wrong).
pub struct Params<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// A list's page size: `default` when absent, refused outside `1..=max`.
pub(crate) fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!("limit must be 1 to {max}")).field("limit"))
    }
}

/// Where the next page starts: the last id of a full page, `None` after the last page.
pub(crate) fn next_before(
    ids: impl DoubleEndedIterator<Item = i64> + ExactSizeIterator,
    limit: i64,
) -> Option<i64> {
    let full = ids.len() as i64 == limit;
    ids.last().filter(|_| full)
}

/// Refuses a filter value outside `allowed`, naming the field and the choices.
pub(crate) fn one_of(
    field: &'static str,
    value: Option<&str>,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match value {
        Some(value) if !allowed.contains(&value) => Err(ApiError::bad_request(format!(
            "{field} must be one of {}",
            allowed.join(", ")
        ))
        .field(field)),
        _ => Ok(()),
    }
}

/// A reporting period: `days` (default 30, at most `max`) and a time-zone name for
/// Postgres to judge (default the promotion's setting); a name Postgres does not know is
/// refused when the query runs ([`unknown_zone`]).
pub(crate) async fn period(
    api: &AdminApi,
    days: Option<i32>,
    tz: Option<String>,
    max: i32,
) -> Result<(i32, String), ApiError> {
    let days = days.unwrap_or(30);
    if !(1..=max).contains(&days) {
        return Err(ApiError::bad_request(format!("days must be 1 to {max}")).field("days"));
    }
    Ok((days, zone(api, tz).await?))
}

/// The time zone a request names in `tz`, else the promotion's; a name of the wrong shape
/// is refused here, one Postgres does not know when the query runs ([`unknown_zone`]).
pub(crate) async fn zone(api: &AdminApi, tz: Option<String>) -> Result<String, ApiError> {
    let tz = match tz {
        Some(tz) => tz,
        None => api.promo.current().await.time_zone.clone(),
    };
    if !crate::config::plausible_time_zone(&tz) {
        return Err(
            ApiError::bad_request("tz must be a time zone name like Europe/Moscow").field("tz"),
        );
    }
    Ok(tz)
}

/// A query error: an unknown time zone is the caller's (400 naming `tz`), anything else ours.
pub(crate) fn unknown_zone(tz: &str) -> impl Fn(tokio_postgres::Error) -> ApiError + '_ {
    move |e| {
        if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE) {
            ApiError::bad_request(format!("unknown time zone {tz:?}")).field("tz")
        } else {
            db(e)
        }
    }
}

/// [`internal`] for a database or pool error.
pub(crate) fn db(error: impl Into<anyhow::Error>) -> ApiError {
    internal(error.into())
}

/// Logs an internal failure and answers a 503 that names nothing internal: the caller
/// did nothing wrong and may try again.
pub(crate) fn internal(error: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{error:#}"), "admin API request failed");
    ApiError::unavailable("the service is temporarily unavailable; try again")
}
