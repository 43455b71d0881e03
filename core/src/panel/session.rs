//! Panel sessions: a random 256-bit token in a `__Host-` cookie, only its SHA-256 in
//! `admin_sessions`; idle and absolute expiry checked by the database's clock on every
//! request; the CSRF token derived from the session token with the server's key, so it
//! is stored nowhere and dies with the session.
//!
//! [`Session`] is the extractor every protected route takes: it loads the session, and
//! for a method that changes state it also requires the `X-CSRF-Token` header.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{db, timestamp};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::audit::Actor;

/// The cookie's name. `__Host-` makes the browser refuse it unless it is Secure, has
/// `Path=/` and no Domain, so no other origin or sub-domain can plant or read it.
pub const COOKIE_NAME: &str = "__Host-promo_session";
/// The header that carries the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The three panel roles, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Manager,
    Owner,
}

impl Role {
    pub fn parse(role: &str) -> Option<Role> {
        match role {
            "owner" => Some(Role::Owner),
            "manager" => Some(Role::Manager),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Viewer => "viewer",
        }
    }
}

/// A signed-in panel user, as a protected route sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub admin_user_id: i64,
    pub login: String,
    pub role: Role,
    /// The raw token from the cookie: the CSRF token is derived from it.
    token: String,
}

impl Session {
    /// The audit log's actor for this user.
    pub fn actor(&self) -> Actor {
        Actor::Panel {
            admin_user_id: self.admin_user_id,
            login: self.login.clone(),
        }
    }

    /// Refuses with 403 unless the user has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {} role", role.as_str()),
            ))
        }
    }

    pub fn csrf_token(&self, api: &AdminApi) -> String {
        csrf_token(api, &self.token)
    }
}

/// A new random token (256 bits, URL-safe base64) and its stored hash.
pub(crate) fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub(crate) fn csrf_token(api: &AdminApi, session_token: &str) -> String {
    // A key of any length is accepted by HMAC; the fallback cannot be reached.
    let Ok(mut mac) =
        Hmac::<Sha256>::new_from_slice(api.admin.secret_key.expose_secret().as_bytes())
    else {
        return String::new();
    };
    mac.update(b"panel-csrf:");
    mac.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The `Set-Cookie` value that stores `token` for the session's absolute lifetime.
pub(crate) fn session_cookie(api: &AdminApi, token: &str) -> HeaderValue {
    let max_age = api.admin.session_max.as_secs();
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(crate) fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-promo_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
    )
}

pub(crate) fn set_cookie_header(value: HeaderValue) -> [(axum::http::HeaderName, HeaderValue); 1] {
    [(SET_COOKIE, value)]
}

fn token_from_cookies(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        // A real token is 43 characters; anything far from it is not worth a query.
        .filter(|token| (16..=128).contains(&token.len()))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized("sign in first (the session is missing, expired or revoked)")
}

impl FromRequestParts<AdminApi> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &AdminApi) -> Result<Self, ApiError> {
        let token = token_from_cookies(parts).ok_or_else(unauthorized)?;
        let session = load(api, &token).await?.ok_or_else(unauthorized)?;
        if changes_state(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            let expected = csrf_token(api, &token);
            if sent.is_empty() || !bool::from(sent.ct_eq(expected.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "a state-changing request needs the X-CSRF-Token header of this session",
                ));
            }
        }
        Ok(session)
    }
}

/// The live session of `token`, touched (its idle clock restarts, to the minute), or `None`.
async fn load(api: &AdminApi, token: &str) -> Result<Option<Session>, ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    let row = client
        .query_opt(
            // The idle clock is restarted at most once a minute: a write on every
            // request would make each panel poll (the SSE progress, a list) a heap update.
            "WITH live AS (
                 SELECT s.id AS session_id, u.id AS user_id, u.login, u.role,
                        s.last_seen_at < now() - interval '1 minute' AS stale
                 FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_user_id
                 WHERE s.token_hash = $1 AND s.bot_id = $2 AND s.revoked_at IS NULL
                   AND s.last_seen_at > now() - make_interval(secs => $3)
                   AND s.created_at > now() - make_interval(secs => $4)
                   AND u.disabled_at IS NULL
             ), touched AS (
                 UPDATE admin_sessions SET last_seen_at = now()
                 WHERE id IN (SELECT session_id FROM live WHERE stale)
             )
             SELECT session_id, user_id, login, role FROM live",
            &[
                &token_hash(token),
                &api.bot_id,
                &api.admin.session_idle.as_secs_f64(),
                &api.admin.session_max.as_secs_f64(),
            ],
        )
        .await
        .map_err(db)?;
    Ok(row.and_then(|row| {
        Some(Session {
            id: row.get(0),
            admin_user_id: row.get(1),
            login: row.get(2),
            role: Role::parse(row.get(3))?,
            token: token.to_owned(),
        })
    }))
}

/// Starts a session for `admin_user_id` in the caller's transaction; returns the token
/// for the cookie.
pub(crate) async fn create(
    client: &impl deadpool_postgres::GenericClient,
    api: &AdminApi,
    admin_user_id: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> anyhow::Result<String> {
    let (token, hash) = new_token();
    client
        .execute(
            "INSERT INTO admin_sessions (bot_id, admin_user_id, token_hash, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5)",
            &[&api.bot_id, &admin_user_id, &hash, &ip, &user_agent],
        )
        .await?;
    Ok(token)
}

/// Revokes every live session of a user (password change or reset, disabling).
pub(crate) async fn revoke_all(
    client: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    admin_user_id: i64,
) -> anyhow::Result<u64> {
    Ok(client
        .execute(
            "UPDATE admin_sessions SET revoked_at = now()
             WHERE bot_id = $1 AND admin_user_id = $2 AND revoked_at IS NULL",
            &[&bot_id, &admin_user_id],
        )
        .await?)
}

pub(crate) async fn revoke(api: &AdminApi, session_id: i64) -> anyhow::Result<()> {
    let client = api.pool.get().await?;
    client
        .execute(
            "UPDATE admin_sessions SET revoked_at = now()
             WHERE id = $1 AND bot_id = $2 AND revoked_at IS NULL",
            &[&session_id, &api.bot_id],
        )
        .await?;
    Ok(())
}

/// The session's description for the panel: who, the CSRF token and both expiries.
pub(crate) async fn info(
    api: &AdminApi,
    token: &str,
) -> anyhow::Result<Option<promo_api_types::panel::SessionInfo>> {
    let client = api.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT u.id, u.login, u.role, u.telegram_id, u.disabled_at IS NOT NULL,
                    u.created_at, u.last_login_at,
                    s.last_seen_at + make_interval(secs => $3),
                    s.created_at + make_interval(secs => $4)
             FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_user_id
             WHERE s.token_hash = $1 AND s.bot_id = $2",
            &[
                &token_hash(token),
                &api.bot_id,
                &api.admin.session_idle.as_secs_f64(),
                &api.admin.session_max.as_secs_f64(),
            ],
        )
        .await?;
    Ok(row.map(|row| promo_api_types::panel::SessionInfo {
        admin: super::admins::admin_user_of(&row),
        csrf_token: csrf_token(api, token),
        idle_expires_at: timestamp(row.get(7)),
        expires_at: timestamp(row.get(8)),
    }))
}

impl Session {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_and_only_their_hash_is_kept() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_a, token_hash(&a));
        assert_eq!(hash_a.len(), 32);
    }

    #[test]
    fn roles_are_ordered_owner_over_manager_over_viewer() {
        assert!(Role::Owner > Role::Manager && Role::Manager > Role::Viewer);
        for role in [Role::Owner, Role::Manager, Role::Viewer] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn only_reading_methods_skip_the_csrf_check() {
        assert!(!changes_state(&Method::GET));
        assert!(!changes_state(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(changes_state(&method));
        }
    }
}
