//! Job messages carried by the two queues: plain data, so every producer and consumer
//! can depend on it without depending on each other. The consumers' entry points are in
//! the `worker` module.

use serde::{Deserialize, Serialize};

/// A message on the receipts queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptJob {
    /// Verify the upload recorded as this `receipt_submissions` row.
    Verify { submission_id: i64 },
    /// Check the submission again once its `next_attempt_at` is due (tax service did not
    /// have the receipt yet, or the provider failed). `attempt` is the submission's
    /// `attempts` when scheduled: a copy that finds another value is stale and dropped.
    Recheck {
        submission_id: i64,
        attempt: i32,
        #[serde(default)]
        fns_pending: u32,
        #[serde(default)]
        provider_failures: u32,
    },
}

/// A message on the campaigns queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CampaignJob {
    /// Work on this campaign (materialise recipients, send a slice, continue).
    Run { campaign_id: i64 },
}

/// A queue message handed out by the outbox: only the row id travels, the row holds the
/// job or the message (the outbox module). Its kinds differ from the other jobs', so a
/// consumer tells them apart by parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxJob {
    /// On the receipts queue: run the receipt check in this outbox row.
    #[serde(rename = "outbox_check")]
    Check { outbox_id: i64 },
    /// On the campaigns queue: send the message in this outbox row.
    #[serde(rename = "outbox_message")]
    Message { outbox_id: i64 },
}

impl OutboxJob {
    /// The outbox job in a queue body, `None` for any other job.
    pub fn from_body(body: &str) -> Option<OutboxJob> {
        serde_json::from_str(body).ok()
    }
}
