//! Campaigns: broadcasts, raffles and single messages, from the row an operator inserts
//! to the job on the campaigns queue.

pub mod audience;
pub mod bridge;
pub mod claims;
pub mod content;
pub mod control;
pub mod create;
mod deliveries;
pub mod draw;
mod lifecycle;
pub mod raffle;
pub mod raffle_spec;
pub mod runner;

use std::sync::Arc;

use crate::config::CampaignSettings;
use crate::db::PgPool;
use crate::queue::JobQueue;
use raffle::Raffles;

use crate::store::Redis;
use crate::telegram::TelegramClient;

/// What the campaign runner and the campaign controls need.
#[derive(Clone)]
pub struct Campaigns {
    pub pool: PgPool,
    pub bot_id: i64,
    pub redis: Redis,
    pub telegram: TelegramClient,
    pub queue: Arc<dyn JobQueue>,
    /// A broadcast's uploaded photo is read from here for its first send.
    pub images: crate::uploads::Images,
    pub settings: Arc<CampaignSettings>,
    /// Raffles are campaigns too; the runner hands them over.
    pub raffles: Raffles,
}

/// The send-rate bucket is shared with raffles and other senders; it lives at the top.
pub use crate::sendrate as rate;
