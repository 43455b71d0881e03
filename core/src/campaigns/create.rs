//! Creating campaigns: the one place that inserts `campaigns` rows, for the bot's admin
//! commands and the admin API. The insert fires the `campaigns_due` trigger,
//! which the listen-bridge relays to the runner.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

use crate::audit::{admin_user_sql, Actor};

/// A campaign to create, in the shape the runner reads.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub kind: &'static str,
    pub content: Value,
    pub audience: Value,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Send with `allow_paid_broadcast` (up to 1000 msg/s, paid in Stars).
    pub paid_broadcast: bool,
}

/// Inserts the campaign as `scheduled`; returns its id. The caller audits it in the
/// same transaction.
pub async fn insert_scheduled(
    client: &impl GenericClient,
    bot_id: i64,
    by: &Actor,
    campaign: &NewCampaign,
) -> anyhow::Result<i64> {
    let (panel, telegram) = by.ids();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO campaigns (bot_id, kind, status, content, audience, scheduled_for,
                                        created_via, paid_broadcast, created_by)
                 VALUES ($1, $4, 'scheduled', $5, $6, $7, $8, $9, {})
                 RETURNING id",
                admin_user_sql(2, 3)
            ),
            &[
                &bot_id,
                &panel,
                &telegram,
                &campaign.kind,
                &campaign.content,
                &campaign.audience,
                &campaign.scheduled_for,
                &by.via(),
                &campaign.paid_broadcast,
            ],
        )
        .await
        .context("creating the campaign")?;
    Ok(row.get(0))
}
