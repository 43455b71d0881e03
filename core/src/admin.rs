//! Panel users: creation with argon2 password hashes and role checks.

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::db::PgPool;

pub const ROLES: &[&str] = &["owner", "admin", "operator", "viewer"];
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum AdminUserError {
    #[error("the login must be 1 to 64 characters of letters, digits, ., _, @ and -")]
    InvalidLogin,
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    WeakPassword,
    #[error("unknown role `{0}`; use one of owner, admin, operator, viewer")]
    UnknownRole(String),
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
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
    let login_ok = (1..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if !login_ok {
        return Err(AdminUserError::InvalidLogin.into());
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminUserError::WeakPassword.into());
    }
    if !ROLES.contains(&role) {
        return Err(AdminUserError::UnknownRole(role.to_owned()).into());
    }
    let hash = hash_password(password)?;
    let client = pool.get().await.context("connecting to Postgres")?;
    let sql = if overwrite {
        "INSERT INTO admin_users (bot_id, login, password_hash, role, telegram_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (bot_id, login) DO UPDATE SET password_hash = EXCLUDED.password_hash,
             role = EXCLUDED.role, telegram_id = EXCLUDED.telegram_id, disabled_at = NULL"
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
        assert!(hash.starts_with("$argon2"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
