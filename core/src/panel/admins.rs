//! Panel users (owner only) and the audit log: `GET/POST /api/admins`,
//! `PATCH /api/admins/{id}`, `POST /api/admins/{id}/password`, `GET /api/audit`.
//!
//! A deployment never loses its last owner: demoting or disabling the only enabled owner
//! is refused. Disabling a user or resetting their password ends their sessions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use promo_api_types::panel::{
    AdminUser, AdminUserChange, AuditEntry, AuditPage, NewAdminUser, PasswordReset,
};
use serde::Deserialize;
use serde_json::json;

use super::session::{self, Role, Session};
use super::{db, internal, next_before, page_limit, timestamp, Body, Params};
use crate::admin::{check_new_password, hash_password_blocking, login_is_valid, ROLES};
use crate::api_error::ApiError;
use crate::app::AdminApi;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/admins", get(list).post(create))
        .route("/api/admins/{id}", patch(change))
        .route("/api/admins/{id}/password", post(reset_password))
        .route("/api/audit", get(audit_log))
}

const USER_COLUMNS: &str =
    "id, login, role, telegram_id, disabled_at IS NOT NULL, created_at, last_login_at";

/// A row of [`USER_COLUMNS`] (in that order) as the API shows it.
pub(crate) fn admin_user_of(row: &tokio_postgres::Row) -> AdminUser {
    AdminUser {
        id: row.get(0),
        login: row.get(1),
        role: row.get(2),
        telegram_id: row.get(3),
        disabled: row.get(4),
        created_at: timestamp(row.get(5)),
        last_login_at: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(6)
            .map(timestamp),
    }
}

fn role_field(role: &str) -> Result<&str, ApiError> {
    if ROLES.contains(&role) {
        Ok(role)
    } else {
        Err(ApiError::bad_request("role must be owner, manager or viewer").field("role"))
    }
}

fn telegram_field(telegram_id: Option<i64>) -> Result<Option<i64>, ApiError> {
    match telegram_id {
        Some(id) if id <= 0 => {
            Err(ApiError::bad_request("telegram_id must be a positive number").field("telegram_id"))
        }
        other => Ok(other),
    }
}

/// Every panel user (owner only).
#[utoipa::path(
    get,
    path = "/api/admins",
    tag = "admins",
    extensions(("x-role" = json!("owner"))),
    responses(
        (status = 200, description = "the panel users, oldest first", body = Vec<promo_api_types::panel::AdminUser>),
    )
)]
async fn list(State(api): State<AdminApi>, session: Session) -> Result<Response, ApiError> {
    session.require(Role::Owner)?;
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            &format!("SELECT {USER_COLUMNS} FROM admin_users WHERE bot_id = $1 ORDER BY id"),
            &[&api.bot_id],
        )
        .await
        .map_err(db)?;
    Ok(Json(rows.iter().map(admin_user_of).collect::<Vec<_>>()).into_response())
}

/// Create a panel user (owner only; audited).
#[utoipa::path(
    post,
    path = "/api/admins",
    tag = "admins",
    extensions(("x-role" = json!("owner"))),
    request_body = promo_api_types::panel::NewAdminUser,
    responses(
        (status = 201, description = "created", body = promo_api_types::panel::AdminUser),
        (status = 400, description = "a field is invalid (named in `field`)", body = promo_api_types::ApiError),
        (status = 409, description = "the login is taken", body = promo_api_types::ApiError),
    )
)]
async fn create(
    State(api): State<AdminApi>,
    session: Session,
    Body(new): Body<NewAdminUser>,
) -> Result<Response, ApiError> {
    session.require(Role::Owner)?;
    let login = new.login.trim();
    if !login_is_valid(login) {
        return Err(ApiError::bad_request(
            "login must be 1 to 64 letters, digits, '.', '_', '@' or '-'",
        )
        .field("login"));
    }
    let role = role_field(&new.role)?;
    let telegram_id = telegram_field(new.telegram_id)?;
    check_new_password(&new.password)
        .map_err(|e| ApiError::bad_request(e.to_string()).field("password"))?;
    let hash = hash_password_blocking(new.password)
        .await
        .map_err(internal)?;

    let mut connection = api.pool.get().await.map_err(db)?;
    let tx = connection.transaction().await.map_err(db)?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO admin_users (bot_id, login, password_hash, role, telegram_id)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bot_id, login) DO NOTHING
                 RETURNING {USER_COLUMNS}"
            ),
            &[&api.bot_id, &login, &hash, &role, &telegram_id],
        )
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Err(ApiError::conflict(format!("the login {login} is taken")).field("login"));
    };
    let user = admin_user_of(&row);
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "admin_user.create",
        &format!("admin_user:{}", user.id),
        &json!({ "after": { "login": user.login, "role": user.role, "telegram_id": user.telegram_id } }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Change a panel user's role, disabled flag or Telegram link (owner only; audited).
///
/// Disabling a user ends their sessions; the last enabled owner cannot be demoted or disabled.
#[utoipa::path(
    patch,
    path = "/api/admins/{id}",
    tag = "admins",
    extensions(("x-role" = json!("owner"))),
    params(("id" = i64, Path, description = "the panel user's id")),
    request_body = promo_api_types::panel::AdminUserChange,
    responses(
        (status = 200, description = "the user after the change", body = promo_api_types::panel::AdminUser),
        (status = 400, description = "a field is invalid (named in `field`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such panel user", body = promo_api_types::ApiError),
        (status = 409, description = "the change would leave no enabled owner", body = promo_api_types::ApiError),
    )
)]
async fn change(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(change): Body<AdminUserChange>,
) -> Result<Response, ApiError> {
    session.require(Role::Owner)?;
    if let Some(role) = &change.role {
        role_field(role)?;
    }
    if let Some(telegram_id) = change.telegram_id {
        telegram_field(telegram_id)?;
    }
    let mut connection = api.pool.get().await.map_err(db)?;
    let tx = connection.transaction().await.map_err(db)?;
    // Owners are locked first, in one order, so two concurrent demotions cannot each
    // see the other owner still enabled and together leave none.
    tx.execute(
        "SELECT 1 FROM admin_users WHERE bot_id = $1 AND role = 'owner' ORDER BY id FOR UPDATE",
        &[&api.bot_id],
    )
    .await
    .map_err(db)?;
    let Some(before) = tx
        .query_opt(
            &format!(
                "SELECT {USER_COLUMNS} FROM admin_users WHERE id = $1 AND bot_id = $2 FOR UPDATE"
            ),
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .map(|row| admin_user_of(&row))
    else {
        return Err(ApiError::not_found(format!("no panel user {id}")));
    };
    let role = change.role.clone().unwrap_or_else(|| before.role.clone());
    let disabled = change.disabled.unwrap_or(before.disabled);
    let telegram_id = change.telegram_id.unwrap_or(before.telegram_id);
    let stops_being_owner =
        before.role == "owner" && !before.disabled && (role != "owner" || disabled);
    if stops_being_owner {
        let owners: i64 = tx
            .query_one(
                "SELECT count(*) FROM admin_users
                 WHERE bot_id = $1 AND role = 'owner' AND disabled_at IS NULL",
                &[&api.bot_id],
            )
            .await
            .map_err(db)?
            .get(0);
        if owners <= 1 {
            return Err(ApiError::conflict(
                "this is the only enabled owner; make someone else owner first",
            )
            .field(if disabled { "disabled" } else { "role" }));
        }
    }
    let row = tx
        .query_one(
            &format!(
                "UPDATE admin_users SET role = $2, telegram_id = $3,
                     disabled_at = CASE WHEN $4 THEN COALESCE(disabled_at, now()) END
                 WHERE id = $1 RETURNING {USER_COLUMNS}"
            ),
            &[&id, &role, &telegram_id, &disabled],
        )
        .await
        .map_err(db)?;
    let after = admin_user_of(&row);
    let revoked = if after.disabled || after.role != before.role {
        session::revoke_all(&tx, api.bot_id, id)
            .await
            .map_err(internal)?
    } else {
        0
    };
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "admin_user.update",
        &format!("admin_user:{id}"),
        &json!({
            "before": { "role": before.role, "disabled": before.disabled, "telegram_id": before.telegram_id },
            "after": { "role": after.role, "disabled": after.disabled, "telegram_id": after.telegram_id },
            "sessions_revoked": revoked,
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok(Json(after).into_response())
}

/// Set another panel user's password (owner only; audited); their sessions end.
#[utoipa::path(
    post,
    path = "/api/admins/{id}/password",
    tag = "admins",
    extensions(("x-role" = json!("owner"))),
    params(("id" = i64, Path, description = "the panel user's id")),
    request_body = promo_api_types::panel::PasswordReset,
    responses(
        (status = 204, description = "the password is set"),
        (status = 400, description = "the password is too short or too long (field `new_password`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such panel user", body = promo_api_types::ApiError),
    )
)]
async fn reset_password(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(reset): Body<PasswordReset>,
) -> Result<Response, ApiError> {
    session.require(Role::Owner)?;
    check_new_password(&reset.new_password)
        .map_err(|e| ApiError::bad_request(e.to_string()).field("new_password"))?;
    let hash = hash_password_blocking(reset.new_password)
        .await
        .map_err(internal)?;
    let mut connection = api.pool.get().await.map_err(db)?;
    let tx = connection.transaction().await.map_err(db)?;
    let updated = tx
        .execute(
            "UPDATE admin_users SET password_hash = $3, password_changed_at = now()
             WHERE id = $1 AND bot_id = $2",
            &[&id, &api.bot_id, &hash],
        )
        .await
        .map_err(db)?;
    if updated == 0 {
        return Err(ApiError::not_found(format!("no panel user {id}")));
    }
    let revoked = session::revoke_all(&tx, api.bot_id, id)
        .await
        .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "admin_user.password_reset",
        &format!("admin_user:{id}"),
        &json!({ "sessions_revoked": revoked }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Filters of `GET /api/audit`; every one optional.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Rows by this panel user.
    admin_user_id: Option<i64>,
    /// The action, e.g. `receipt.approve`.
    action: Option<String>,
    /// The target, e.g. `user:42`.
    target: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Until this instant, exclusive.
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Continue a list: the `next_before_id` of the page before.
    before_id: Option<i64>,
    /// Page size, 1 to 500 (50).
    limit: Option<i64>,
}

/// The audit log, newest first, filtered (owner, manager).
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "admins",
    extensions(("x-role" = json!("manager"))),
    params(AuditQuery),
    responses(
        (status = 200, description = "a page of audit rows", body = promo_api_types::panel::AuditPage),
        (status = 400, description = "a filter or `limit` is out of range (field named)", body = promo_api_types::ApiError),
    )
)]
async fn audit_log(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<AuditQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let limit = page_limit(query.limit, 50, 500)?;
    let action = query.action.as_deref().map(crate::pgtext::strip_nul);
    let target = query.target.as_deref().map(crate::pgtext::strip_nul);
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            "SELECT id, created_at, actor, admin_user_id, action, target, details
             FROM audit_log
             WHERE bot_id = $1
               AND ($2::BIGINT IS NULL OR admin_user_id = $2)
               AND ($3::TEXT IS NULL OR action = $3)
               AND ($4::TEXT IS NULL OR target = $4)
               AND ($5::TIMESTAMPTZ IS NULL OR created_at >= $5)
               AND ($6::TIMESTAMPTZ IS NULL OR created_at < $6)
               AND ($7::BIGINT IS NULL OR id < $7)
             ORDER BY id DESC LIMIT $8",
            &[
                &api.bot_id,
                &query.admin_user_id,
                &action.as_deref(),
                &target.as_deref(),
                &query.from,
                &query.to,
                &query.before_id,
                &limit,
            ],
        )
        .await
        .map_err(db)?;
    let entries: Vec<AuditEntry> = rows
        .iter()
        .map(|row| AuditEntry {
            id: row.get(0),
            at: timestamp(row.get(1)),
            actor: row.get(2),
            admin_user_id: row.get(3),
            action: row.get(4),
            target: row.get(5),
            details: row.get(6),
        })
        .collect();
    let next_before_id = next_before(entries.iter().map(|e| e.id), limit);
    Ok(Json(AuditPage {
        entries,
        next_before_id,
    })
    .into_response())
}
