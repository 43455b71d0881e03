//! The audit log: the one place that writes `audit_log`. Every admin mutation (and every
//! view of full phone numbers) calls [`record`] inside the transaction of the change, so
//! the row exists exactly when the change does (invariant 10).

use anyhow::Context;
use deadpool_postgres::GenericClient;
use serde_json::Value;

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An admin in the Telegram bot, by Telegram id; linked to the panel user with that
    /// Telegram id, if there is one.
    Bot { telegram_id: i64 },
    /// A panel user.
    Panel { admin_user_id: i64, login: String },
    /// The platform itself (sweepers, schedules).
    System,
}

impl Actor {
    /// The `actor` column: `bot:<telegram id>`, `panel:<login>` or `system`.
    pub fn label(&self) -> String {
        match self {
            Actor::Bot { telegram_id } => format!("bot:{telegram_id}"),
            Actor::Panel { login, .. } => format!("panel:{login}"),
            Actor::System => "system".to_owned(),
        }
    }
}

/// The panel user an admin in the bot is linked to (by Telegram id), as SQL on `$1`
/// (bot id) and `$2` (Telegram id): admin-user columns of other tables use it too.
pub const LINKED_ADMIN_SQL: &str = "(SELECT id FROM admin_users
      WHERE bot_id = $1 AND telegram_id = $2 AND disabled_at IS NULL ORDER BY id LIMIT 1)";

/// Writes one audit row in the caller's transaction.
pub async fn record(
    client: &impl GenericClient,
    bot_id: i64,
    actor: &Actor,
    action: &str,
    target: &str,
    details: &Value,
) -> anyhow::Result<()> {
    let label = actor.label();
    match actor {
        Actor::Bot { telegram_id } => {
            client
                .execute(
                    &format!(
                    "INSERT INTO audit_log (bot_id, admin_user_id, actor, action, target, details)
                         VALUES ($1, {LINKED_ADMIN_SQL}, $3, $4, $5, $6)"
                ),
                    &[&bot_id, telegram_id, &label, &action, &target, details],
                )
                .await
        }
        Actor::Panel { admin_user_id, .. } => {
            client
                .execute(
                    "INSERT INTO audit_log (bot_id, admin_user_id, actor, action, target, details)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&bot_id, admin_user_id, &label, &action, &target, details],
                )
                .await
        }
        Actor::System => {
            client
                .execute(
                    "INSERT INTO audit_log (bot_id, actor, action, target, details)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&bot_id, &label, &action, &target, details],
                )
                .await
        }
    }
    .with_context(|| format!("auditing {action}"))?;
    Ok(())
}
