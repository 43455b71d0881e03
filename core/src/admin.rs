//! Panel users: creation with argon2id password hashes and role checks.
//!
//! Hashing is deliberately slow (19 MiB, two passes: OWASP's argon2id baseline), so it
//! runs on the blocking pool ([`hash_password_blocking`], [`verify_password_blocking`]):
//! on the async runtime one login would stall every request of its worker thread.

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::db::PgPool;

pub const ROLES: &[&str] = &["owner", "manager", "viewer"];
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: argon2 takes any length, but hashing megabytes on every
/// login attempt is a cheap denial of service.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// argon2id memory in KiB, passes and lanes: OWASP's first recommended configuration.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The parameters are constants inside argon2's bounds, so this cannot fail; the
    // fallback keeps the function total without an unwrap.
    let params =
        Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
pub enum AdminUserError {
    #[error("the login must be 1 to 64 characters of letters, digits, ., _, @ and -")]
    InvalidLogin,
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    WeakPassword,
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters long")]
    LongPassword,
    #[error("unknown role `{0}`; use one of owner, manager, viewer")]
    UnknownRole(String),
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Checks `password` against a stored PHC string; the parameters come from the string,
/// so hashes made with older settings still verify.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_password_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .context("the password hashing task failed")?
}

/// [`verify_password`] on the blocking pool. Without a stored hash (an unknown login) a
/// dummy hash is checked instead, so the answer takes as long either way and its timing
/// does not tell which logins exist.
pub async fn verify_password_blocking(password: String, stored_hash: Option<String>) -> bool {
    let verified = tokio::task::spawn_blocking(move || match stored_hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    })
    .await;
    verified.unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password anybody has").unwrap_or_default())
}

/// Checks a new password's length; the message names the rule broken.
pub fn check_new_password(password: &str) -> Result<(), AdminUserError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AdminUserError::WeakPassword);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AdminUserError::LongPassword);
    }
    Ok(())
}

/// Whether a login is 1–64 letters, digits, `.`, `_`, `@` or `-`.
pub fn login_is_valid(login: &str) -> bool {
    (1..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

/// Creates a panel user. With `overwrite` an existing login gets the new password, role
/// and Telegram link; without it an existing login is left alone. Returns whether a row
/// was written.
pub async fn create_admin_user(
    pool: &PgPool,
    bot_id: i64,
    login: &str,
    password: &str,
    role: &str,
    telegram_id: Option<i64>,
    overwrite: bool,
) -> anyhow::Result<bool> {
    if !login_is_valid(login) {
        return Err(AdminUserError::InvalidLogin.into());
    }
    check_new_password(password)?;
    if !ROLES.contains(&role) {
        return Err(AdminUserError::UnknownRole(role.to_owned()).into());
    }
    let hash = hash_password_blocking(password.to_owned()).await?;
    let client = pool.get().await.context("connecting to Postgres")?;
    let sql = if overwrite {
        "INSERT INTO admin_users (bot_id, login, password_hash, role, telegram_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (bot_id, login) DO UPDATE SET password_hash = EXCLUDED.password_hash,
             role = EXCLUDED.role, telegram_id = EXCLUDED.telegram_id, disabled_at = NULL,
             password_changed_at = now()"
    } else {
        "INSERT INTO admin_users (bot_id, login, password_hash, role, telegram_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bot_id, login) DO NOTHING"
    };
    let written = client
        .execute(sql, &[&bot_id, &login, &hash, &role, &telegram_id])
        .await
        .context("saving the panel user")?;
    if written == 1 {
        client
            .execute(
                "INSERT INTO audit_log (bot_id, actor, action, target, details)
                 VALUES ($1, 'system', 'admin_user.upsert', $2, jsonb_build_object('role', $3::TEXT))",
                &[&bot_id, &login, &role],
            )
            .await?;
    }
    Ok(written == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
