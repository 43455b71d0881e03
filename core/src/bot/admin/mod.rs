//! Admin commands in the bot (statistics, broadcast, raffle, winners, export, manual
//! receipt), for admins only. Admin dialogue state lives under its own Redis key so it
//! never collides with the shopper dialogue.

use crate::telegram::OutgoingMessage;

use super::{Conversation, Input};

/// Admin texts (key, Russian, English).
pub const TEXTS: &[(&str, &str, &str)] = &[];

/// Handles `input` when it belongs to an admin flow; `None` lets the shopper dialogue
/// handle it. Callers guarantee the sender is an admin.
pub(crate) async fn try_handle(
    _conversation: &Conversation<'_>,
    _input: &Input<'_>,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    Ok(None)
}
