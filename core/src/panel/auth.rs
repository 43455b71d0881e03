//! Signing in and out: `POST /api/auth/login`, `POST /api/auth/logout`,
//! `GET /api/auth/session`, `POST /api/auth/password`.
//!
//! A wrong login and a wrong password get the same answer, in about the same time (an
//! unknown login is checked against a dummy hash). Five failures for one login within
//! [`LOCKOUT`] lock that login (known or not, so the lockout tells nothing either), and
//! [`MAX_FAILURES_PER_IP`] failures from one address lock that address.

use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_api_types::panel::{ChangePasswordRequest, LoginRequest, SessionInfo};
use serde_json::json;

use super::session::{self, cleared_cookie, session_cookie, set_cookie_header, Session};
use super::{client_ip, db, internal, Body};
use crate::admin::{check_new_password, verify_password_blocking, MAX_PASSWORD_CHARS};
use crate::api_error::ApiError;
use crate::app::AdminApi;

/// How long failures count, and how long a lockout lasts after the last one that
/// counted.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
pub const MAX_FAILURES_PER_LOGIN: i64 = 5;
/// Higher than the per-login limit: several people behind one office address mistype too.
pub const MAX_FAILURES_PER_IP: i64 = 20;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/session", get(current))
        .route("/api/auth/password", post(change_password))
}

/// Where a request came from, for the login limits and the session row.
struct Client {
    ip: Option<String>,
    user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| crate::pgtext::strip_nul(ua).chars().take(256).collect());
        Ok(Client {
            ip: client_ip(parts),
            user_agent,
        })
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong login or password",
    )
}

fn locked(wait: Duration) -> ApiError {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "locked",
        format!("too many failed sign-ins; try again in {minutes} min"),
    )
}

/// Sign in: opens a session and sets its cookie.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    // The one route without a session: it is where a session comes from.
    security(()),
    request_body = promo_api_types::panel::LoginRequest,
    responses(
        (status = 200, description = "signed in: the session, its CSRF token; `Set-Cookie` carries the session cookie", body = promo_api_types::panel::SessionInfo),
        (status = 400, description = "login or password missing or too long (field named)", body = promo_api_types::ApiError),
        (status = 401, description = "wrong login or password (the same answer for both)", body = promo_api_types::ApiError),
        (status = 429, description = "too many failed sign-ins for this login or address", body = promo_api_types::ApiError),
    )
)]
async fn login(
    State(api): State<AdminApi>,
    client: Client,
    Body(request): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let login = crate::pgtext::strip_nul(request.login.trim()).into_owned();
    if login.is_empty() || login.chars().count() > 64 {
        return Err(ApiError::bad_request("login must be 1 to 64 characters").field("login"));
    }
    if request.password.is_empty() || request.password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid_credentials());
    }
    if let Some(wait) = lockout(&api, &login, client.ip.as_deref())
        .await
        .map_err(internal)?
    {
        return Err(locked(wait));
    }
    let pool_client = api.pool.get().await.map_err(db)?;
    let user = pool_client
        .query_opt(
            "SELECT id, password_hash FROM admin_users
             WHERE bot_id = $1 AND login = $2 AND disabled_at IS NULL",
            &[&api.bot_id, &login],
        )
        .await
        .map_err(db)?;
    drop(pool_client);
    let (user_id, hash) = match &user {
        Some(row) => (Some(row.get::<_, i64>(0)), Some(row.get::<_, String>(1))),
        None => (None, None),
    };
    let verified = verify_password_blocking(request.password, hash).await;
    let Some(user_id) = user_id.filter(|_| verified) else {
        record_failure(&api, &login, client.ip.as_deref())
            .await
            .map_err(internal)?;
        tracing::info!("panel sign-in refused");
        return Err(invalid_credentials());
    };

    let token = start_session(&api, user_id, &login, &client, "admin.login")
        .await
        .map_err(internal)?;
    session_answer(&api, &token, StatusCode::OK).await
}

/// Opens a session in one transaction with the sign-in's side effects: the login's
/// failures are forgotten, `last_login_at` is set and the audit row written.
async fn start_session(
    api: &AdminApi,
    user_id: i64,
    login: &str,
    client: &Client,
    action: &str,
) -> anyhow::Result<String> {
    let mut connection = api.pool.get().await?;
    let tx = connection.transaction().await?;
    let token = session::create(
        &tx,
        api,
        user_id,
        client.ip.as_deref(),
        client.user_agent.as_deref(),
    )
    .await?;
    tx.execute(
        "DELETE FROM admin_login_failures WHERE bot_id = $1 AND lower(login) = lower($2)",
        &[&api.bot_id, &login],
    )
    .await?;
    tx.execute(
        "UPDATE admin_users SET last_login_at = now() WHERE id = $1",
        &[&user_id],
    )
    .await?;
    let actor = crate::audit::Actor::Panel {
        admin_user_id: user_id,
        login: login.to_owned(),
    };
    crate::audit::record(
        &tx,
        api.bot_id,
        &actor,
        action,
        &format!("admin_user:{user_id}"),
        &json!({ "ip": client.ip }),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

async fn session_answer(
    api: &AdminApi,
    token: &str,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let info: SessionInfo = session::info(api, token)
        .await
        .map_err(internal)?
        .ok_or_else(|| internal(anyhow::anyhow!("a session just created is missing")))?;
    Ok((
        status,
        set_cookie_header(session_cookie(api, token)),
        Json(info),
    )
        .into_response())
}

/// How long the login or the address is still locked, if it is.
async fn lockout(
    api: &AdminApi,
    login: &str,
    ip: Option<&str>,
) -> anyhow::Result<Option<Duration>> {
    let client = api.pool.get().await?;
    let row = client
        .query_one(
            "WITH recent AS (
                 SELECT lower(login) = lower($2) AS same_login, ip = $3 AS same_ip, failed_at
                 FROM admin_login_failures
                 WHERE bot_id = $1 AND failed_at > now() - make_interval(secs => $4)
                   AND (lower(login) = lower($2) OR ip = $3)
             )
             SELECT
                 (SELECT count(*) FROM recent WHERE same_login),
                 (SELECT EXTRACT(EPOCH FROM (max(failed_at) + make_interval(secs => $4) - now()))::FLOAT8
                  FROM recent WHERE same_login),
                 (SELECT count(*) FROM recent WHERE same_ip),
                 (SELECT EXTRACT(EPOCH FROM (max(failed_at) + make_interval(secs => $4) - now()))::FLOAT8
                  FROM recent WHERE same_ip)",
            &[&api.bot_id, &login, &ip, &LOCKOUT.as_secs_f64()],
        )
        .await?;
    let wait = |seconds: Option<f64>| Duration::from_secs_f64(seconds.unwrap_or(0.0).max(0.0));
    if row.get::<_, i64>(0) >= MAX_FAILURES_PER_LOGIN {
        return Ok(Some(wait(row.get(1))));
    }
    if ip.is_some() && row.get::<_, i64>(2) >= MAX_FAILURES_PER_IP {
        return Ok(Some(wait(row.get(3))));
    }
    Ok(None)
}

async fn record_failure(api: &AdminApi, login: &str, ip: Option<&str>) -> anyhow::Result<()> {
    let client = api.pool.get().await?;
    client
        .execute(
            "INSERT INTO admin_login_failures (bot_id, login, ip) VALUES ($1, $2, $3)",
            &[&api.bot_id, &login, &ip],
        )
        .await?;
    Ok(())
}

/// Sign out: ends this session and clears its cookie.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    extensions(("x-role" = json!("any"))),
    responses(
        (status = 204, description = "signed out"),
    )
)]
async fn logout(State(api): State<AdminApi>, session: Session) -> Result<Response, ApiError> {
    session::revoke(&api, session.id).await.map_err(internal)?;
    Ok((StatusCode::NO_CONTENT, set_cookie_header(cleared_cookie())).into_response())
}

/// The signed-in user, the session's CSRF token and when the session ends.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    tag = "auth",
    extensions(("x-role" = json!("any"))),
    responses(
        (status = 200, description = "the session", body = promo_api_types::panel::SessionInfo),
    )
)]
async fn current(State(api): State<AdminApi>, session: Session) -> Result<Response, ApiError> {
    let info = session::info(&api, session.token())
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::unauthorized("the session ended"))?;
    Ok(Json(info).into_response())
}

/// Change your own password.
///
/// Changes the signed-in user's password: every session of theirs ends, this request
/// gets a new one.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    extensions(("x-role" = json!("any"))),
    request_body = promo_api_types::panel::ChangePasswordRequest,
    responses(
        (status = 200, description = "changed: a new session replaces every old one", body = promo_api_types::panel::SessionInfo),
        (status = 400, description = "the new password is too short or too long (field `new_password`)", body = promo_api_types::ApiError),
        (status = 401, description = "the current password is wrong, or no session", body = promo_api_types::ApiError),
    )
)]
async fn change_password(
    State(api): State<AdminApi>,
    session: Session,
    client: Client,
    Body(request): Body<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    check_new_password(&request.new_password)
        .map_err(|e| ApiError::bad_request(e.to_string()).field("new_password"))?;
    let connection = api.pool.get().await.map_err(db)?;
    let hash: String = connection
        .query_one(
            "SELECT password_hash FROM admin_users WHERE id = $1",
            &[&session.admin_user_id],
        )
        .await
        .map_err(db)?
        .get(0);
    drop(connection);
    if request.current_password.chars().count() > MAX_PASSWORD_CHARS
        || !verify_password_blocking(request.current_password, Some(hash)).await
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the current password is wrong",
        )
        .field("current_password"));
    }
    let new_hash = crate::admin::hash_password_blocking(request.new_password)
        .await
        .map_err(internal)?;
    let token = set_password(&api, &session, &new_hash, &client)
        .await
        .map_err(internal)?;
    session_answer(&api, &token, StatusCode::OK).await
}

async fn set_password(
    api: &AdminApi,
    session: &Session,
    new_hash: &str,
    client: &Client,
) -> anyhow::Result<String> {
    let mut connection = api.pool.get().await?;
    let tx = connection.transaction().await?;
    tx.execute(
        "UPDATE admin_users SET password_hash = $2, password_changed_at = now() WHERE id = $1",
        &[&session.admin_user_id, &new_hash],
    )
    .await?;
    let revoked = session::revoke_all(&tx, api.bot_id, session.admin_user_id).await?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "admin_user.password_change",
        &format!("admin_user:{}", session.admin_user_id),
        &json!({ "sessions_revoked": revoked }),
    )
    .await?;
    let token = session::create(
        &tx,
        api,
        session.admin_user_id,
        client.ip.as_deref(),
        client.user_agent.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}
