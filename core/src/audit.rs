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

impl Actor {
    /// `(panel user id, Telegram id)`, the two parameters of [`admin_user_sql`].
    pub fn ids(&self) -> (Option<i64>, Option<i64>) {
        match self {
            Actor::Bot { telegram_id } => (None, Some(*telegram_id)),
            Actor::Panel { admin_user_id, .. } => (Some(*admin_user_id), None),
            Actor::System => (None, None),
        }
    }

    /// `campaigns.created_via`: `bot`, `panel` or `system`.
    pub fn via(&self) -> &'static str {
        match self {
            Actor::Bot { .. } => "bot",
            Actor::Panel { .. } => "panel",
            Actor::System => "system",
        }
    }
}

/// SQL for an admin-user column, given the statement's parameters for [`Actor::ids`]:
/// the panel user itself, or the panel user linked to a bot admin's Telegram id (NULL
/// for the system or an unlinked admin). `$1` is the bot id.
pub fn admin_user_sql(panel: usize, telegram: usize) -> String {
    format!(
        "COALESCE(${panel}::BIGINT, (SELECT id FROM admin_users
             WHERE bot_id = $1 AND telegram_id = ${telegram}::BIGINT AND disabled_at IS NULL
             ORDER BY id LIMIT 1))"
    )
}

/// Writes one audit row in the caller's transaction.
pub async fn record(
    client: &impl GenericClient,
    bot_id: i64,
    actor: &Actor,
    action: &str,
    target: &str,
    details: &Value,
) -> anyhow::Result<()> {
    let (panel, telegram) = actor.ids();
    client
        .execute(
            &format!(
                "INSERT INTO audit_log (bot_id, admin_user_id, actor, action, target, details)
                 VALUES ($1, {}, $4, $5, $6, $7)",
                admin_user_sql(2, 3)
            ),
            &[
                &bot_id,
                &panel,
                &telegram,
                &actor.label(),
                &action,
                &target,
                details,
            ],
        )
        .await
        .with_context(|| format!("auditing {action}"))?;
    Ok(())
}
