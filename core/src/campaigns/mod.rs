//! Campaigns: broadcasts, raffles and single messages, from the row an operator inserts
//! to the job on the campaigns queue.

pub mod bridge;
pub mod control;
pub mod rate;
pub mod runner;
