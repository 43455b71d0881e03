//! Creating campaigns: the one place that inserts `campaigns` rows, for the bot's admin
//! commands today and the admin API next. The insert fires the `campaigns_due` trigger,
//! which the listen-bridge relays to the runner.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

use crate::audit::{Actor, LINKED_ADMIN_SQL};

/// A campaign to create, in the shape the runner reads.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub kind: &'static str,
    pub content: Value,
    pub audience: Value,
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// Inserts the campaign as `scheduled`; returns its id. The caller audits it in the
/// same transaction.
pub async fn insert_scheduled(
    client: &impl GenericClient,
    bot_id: i64,
    by: &Actor,
    campaign: &NewCampaign,
) -> anyhow::Result<i64> {
    let row = match by {
        Actor::Bot { telegram_id } => {
            client
                .query_one(
                    &format!(
                        "INSERT INTO campaigns (bot_id, kind, status, content, audience,
                                                scheduled_for, created_via, created_by)
                         VALUES ($1, $3, 'scheduled', $4, $5, $6, 'bot', {LINKED_ADMIN_SQL})
                         RETURNING id"
                    ),
                    &[
                        &bot_id,
                        telegram_id,
                        &campaign.kind,
                        &campaign.content,
                        &campaign.audience,
                        &campaign.scheduled_for,
                    ],
                )
                .await
        }
        Actor::Panel { admin_user_id, .. } => {
            client
                .query_one(
                    "INSERT INTO campaigns (bot_id, kind, status, content, audience,
                                            scheduled_for, created_via, created_by)
                     VALUES ($1, $2, 'scheduled', $3, $4, $5, 'panel', $6)
                     RETURNING id",
                    &[
                        &bot_id,
                        &campaign.kind,
                        &campaign.content,
                        &campaign.audience,
                        &campaign.scheduled_for,
                        admin_user_id,
                    ],
                )
                .await
        }
        Actor::System => {
            client
                .query_one(
                    "INSERT INTO campaigns (bot_id, kind, status, content, audience,
                                            scheduled_for, created_via)
                     VALUES ($1, $2, 'scheduled', $3, $4, $5, 'system')
                     RETURNING id",
                    &[
                        &bot_id,
                        &campaign.kind,
                        &campaign.content,
                        &campaign.audience,
                        &campaign.scheduled_for,
                    ],
                )
                .await
        }
    }
    .context("creating the campaign")?;
    Ok(row.get(0))
}
