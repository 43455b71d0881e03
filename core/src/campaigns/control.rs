//! Operator controls of a campaign (cancel, pause, resume), as the admin API calls them.
//!
//! Each control is one transaction that locks the campaign row, checks the transition
//! and writes the new status and its audit row, so two operators clicking at once cannot interleave and an
//! invalid click changes nothing. A running slice notices the new status through its
//! heartbeat (every 300 ms) and stops launching sends; what is in flight settles
//! normally. Resume hands the campaign back to the listen-bridge (status `scheduled`,
//! `relayed_at` cleared, which also fires the NOTIFY trigger) instead of enqueueing a job
//! itself: the bridge's claim keeps it relayed once, and the runner picks up the pending
//! deliveries only, so settled ones are never sent again.

use std::fmt;

use anyhow::Context;

use super::Campaigns;
use crate::audit::Actor;
use crate::db::PgPool;

/// What an operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Cancel,
    Pause,
    Resume,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Cancel => "cancel",
            Control::Pause => "pause",
            Control::Resume => "resume",
        }
    }

    /// The statuses this control applies to, and the status it sets.
    fn transition(self) -> (&'static [&'static str], &'static str) {
        match self {
            // A paused campaign may be given up for good without resuming it first.
            Control::Cancel => (&["scheduled", "running", "paused"], "cancelled"),
            Control::Pause => (&["scheduled", "running"], "paused"),
            // Issue 5: "a paused/cancelled campaign can be resumed".
            Control::Resume => (&["paused", "cancelled"], "scheduled"),
        }
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status change that took place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub campaign_id: i64,
    pub from: String,
    pub to: &'static str,
}

/// Why a control was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("campaign {0} does not exist")]
    NotFound(i64),
    #[error("cannot {control} campaign {campaign_id}: it is {status} (allowed when {allowed})")]
    InvalidTransition {
        campaign_id: i64,
        control: Control,
        status: String,
        allowed: String,
    },
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

/// Stops a scheduled, running or paused campaign. Deliveries not sent yet stay
/// `pending`, so a later [`resume`] can still finish it.
pub async fn cancel(app: &Campaigns, campaign_id: i64) -> Result<Transition, ControlError> {
    apply(
        &app.pool,
        app.bot_id,
        &Actor::System,
        campaign_id,
        Control::Cancel,
    )
    .await
}

/// Holds a scheduled or running campaign until [`resume`].
pub async fn pause(app: &Campaigns, campaign_id: i64) -> Result<Transition, ControlError> {
    apply(
        &app.pool,
        app.bot_id,
        &Actor::System,
        campaign_id,
        Control::Pause,
    )
    .await
}

/// Puts a paused or cancelled campaign back in line. It starts right away, or at its
/// `scheduled_for` when that is still ahead (a campaign paused before its time keeps
/// its time).
pub async fn resume(app: &Campaigns, campaign_id: i64) -> Result<Transition, ControlError> {
    apply(
        &app.pool,
        app.bot_id,
        &Actor::System,
        campaign_id,
        Control::Resume,
    )
    .await
}

/// Applies `control` on behalf of `by`, with its audit row (`campaign.<control>`, the
/// status before and after) in the same transaction.
pub async fn apply(
    pool: &PgPool,
    bot_id: i64,
    by: &Actor,
    campaign_id: i64,
    control: Control,
) -> Result<Transition, ControlError> {
    let (allowed, to) = control.transition();
    let mut client = pool.get().await.context("connecting to Postgres")?;
    let tx = client
        .transaction()
        .await
        .context("starting a transaction")?;
    let row = tx
        .query_opt(
            "SELECT status FROM campaigns WHERE id = $1 AND bot_id = $2 FOR UPDATE",
            &[&campaign_id, &bot_id],
        )
        .await
        .context("reading the campaign")?;
    let Some(row) = row else {
        return Err(ControlError::NotFound(campaign_id));
    };
    let from: String = row.get(0);
    if !allowed.contains(&from.as_str()) {
        return Err(ControlError::InvalidTransition {
            campaign_id,
            control,
            status: from,
            allowed: allowed.join(", "),
        });
    }
    let sql = match control {
        Control::Cancel => {
            "UPDATE campaigns SET status = 'cancelled', finished_at = now(), updated_at = now()
             WHERE id = $1"
        }
        Control::Pause => {
            "UPDATE campaigns SET status = 'paused', updated_at = now() WHERE id = $1"
        }
        // relayed_at cleared: the bridge claims only unrelayed rows, and the status
        // change fires the NOTIFY that wakes it at once.
        Control::Resume => {
            "UPDATE campaigns SET status = 'scheduled', relayed_at = NULL, finished_at = NULL,
                                  updated_at = now()
             WHERE id = $1"
        }
    };
    tx.execute(sql, &[&campaign_id])
        .await
        .with_context(|| format!("writing the {control} of the campaign"))?;
    crate::audit::record(
        &tx,
        bot_id,
        by,
        &format!("campaign.{control}"),
        &format!("campaign:{campaign_id}"),
        &serde_json::json!({ "before": { "status": from }, "after": { "status": to } }),
    )
    .await?;
    tx.commit().await.context("committing the control")?;
    tracing::info!(campaign_id, %control, from = %from, to, "campaign control applied");
    Ok(Transition {
        campaign_id,
        from,
        to,
    })
}
