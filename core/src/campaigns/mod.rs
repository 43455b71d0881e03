//! Campaigns: broadcasts, raffles and single messages, from the row an operator inserts
//! to the job on the campaigns queue.

pub mod bridge;
pub mod control;
pub mod runner;

/// The send-rate bucket is shared with raffles and other senders; it lives at the top.
pub use crate::sendrate as rate;
