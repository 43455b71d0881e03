//! Admin commands in the bot (statistics, broadcast, raffle, winners, export, manual
//! receipt), for admins only. Admin dialogue state is its own flow in
//! `dialogue_states` (Postgres), so it never collides with the shopper dialogue and
//! survives a Redis outage.
//!
//! Flows are a [`AdminState`] per chat plus one handler per state. Steps that create
//! something (a campaign, a ticket grant) first *take* the state atomically, so a double
//! tap or a repeated message commits once.

mod broadcast;
mod manual;
mod raffle;
mod reports;
pub mod state;
mod store;

pub use state::AdminState;

use crate::bot::Bot;
use crate::t;
use crate::telegram::types::MessageOrChannelPost;
use crate::telegram::{CallbackQuery, InlineKeyboardButton, OutgoingMessage, SendMessage};
use crate::texts::TextKey;

use super::callbacks::remove_inline_keyboard;
use super::states::Flow;
use super::{Conversation, Input};

/// Every callback of an admin button starts with this, so the dialogue can route it here.
pub const CALLBACK_PREFIX: &str = "adm:";
const CB_CANCEL: &str = "adm:cancel";
const CB_BROADCAST_NOW: &str = "adm:bc:now";
const CB_BROADCAST_AT: &str = "adm:bc:at";
const CB_RAFFLE_GO: &str = "adm:rf:go";

#[derive(Debug, Clone, Copy)]
enum Button {
    Stats,
    Broadcast,
    Raffle,
    Winners,
    Export,
    Manual,
}

const BUTTONS: &[(TextKey, Button)] = &[
    (t!("btn_stats"), Button::Stats),
    (t!("btn_broadcast"), Button::Broadcast),
    (t!("btn_raffle"), Button::Raffle),
    (t!("btn_winners"), Button::Winners),
    (t!("btn_export_winners"), Button::Export),
    (t!("btn_manual_receipt"), Button::Manual),
];

/// Shopper menu buttons: pressing one mid-flow leaves the admin flow.
const SHOPPER_BUTTONS: &[TextKey] = &[
    t!("btn_upload"),
    t!("btn_profile"),
    t!("btn_receipts"),
    t!("btn_faq"),
    t!("btn_support"),
];

/// Handles `input` when it belongs to an admin flow; `None` lets the shopper dialogue
/// handle it. `state` is the chat's admin state as the update's claim read it. Callers
/// guarantee the sender is an admin.
pub(crate) async fn try_handle(
    conversation: &Conversation<'_>,
    state: Option<AdminState>,
    input: &Input<'_>,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    if is_cancel(conversation, input).await {
        // Without an admin flow, cancel belongs to the shopper dialogue.
        return match state {
            Some(_) => cancel(conversation).await.map(Some),
            None => Ok(None),
        };
    }
    if let Input::Text(text) = input {
        if let Some(button) = admin_button(conversation, text).await {
            // A menu button always starts afresh, dropping any unfinished flow.
            clear(conversation).await?;
            return start(conversation, button).await.map(Some);
        }
    }
    let Some(state) = state else {
        return Ok(None);
    };
    if leaves_flow(conversation, input).await {
        clear(conversation).await?;
        return Ok(None);
    }
    step(conversation, state, input).await.map(Some)
}

/// Handles a tap on an admin inline button (`adm:` callback data) on the bot's message
/// `message_id`; `None` for any other callback.
///
/// A handled choice yields, in this order: the callback answer (Telegram wants it first,
/// else the client shows a spinner), the removal of the tapped message's inline keyboard
/// (the choice is made; buttons left behind would only earn "no longer relevant"), then
/// the flow's own replies. A stale tap is only answered: its message either lost its
/// buttons already or belongs to a flow that has moved on.
pub(crate) async fn try_handle_callback(
    conversation: &Conversation<'_>,
    data: &str,
    callback_query_id: &str,
    message_id: i64,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    if !data.starts_with(CALLBACK_PREFIX) {
        return Ok(None);
    }
    let answer = |text: Option<String>| OutgoingMessage::AnswerCallback {
        callback_query_id: callback_query_id.to_owned(),
        text,
    };
    // `Some((notice, replies))` when the tap was acted on. Nothing is sent before this
    // is known: on an error the update fails, Telegram retries it, and the buttons must
    // still be there for the retry or the admin's next tap.
    let handled: Option<(Option<String>, Vec<OutgoingMessage>)> = match data {
        CB_CANCEL => match take(conversation).await? {
            Some(_) => {
                let short = conversation.text(t!("admin_cancelled_short")).await;
                Some((Some(short), cancel(conversation).await?))
            }
            None => None,
        },
        CB_BROADCAST_NOW => match take(conversation).await? {
            Some(AdminState::BroadcastPreview { text }) => {
                Some((None, broadcast::send_now(conversation, text).await?))
            }
            other => {
                restore(conversation, other).await?;
                None
            }
        },
        // Loads rather than takes: nothing is created yet, and `ask_time` overwrites the
        // state with the time step.
        CB_BROADCAST_AT => match load(conversation).await? {
            Some(AdminState::BroadcastPreview { text }) => {
                Some((None, broadcast::ask_time(conversation, text).await?))
            }
            _ => None,
        },
        CB_RAFFLE_GO => match take(conversation).await? {
            Some(AdminState::RaffleConfirm {
                prize,
                winner_count,
            }) => Some((
                None,
                raffle::create(conversation, prize, winner_count).await?,
            )),
            other => {
                restore(conversation, other).await?;
                None
            }
        },
        _ => None,
    };
    let Some((notice, replies)) = handled else {
        // An old preview's button, a second tap, or a flow already cancelled.
        let stale = conversation.text(t!("admin_stale_action")).await;
        return Ok(Some(vec![answer(Some(stale))]));
    };
    let mut calls = Vec::with_capacity(replies.len() + 2);
    calls.push(answer(notice));
    calls.push(remove_inline_keyboard(conversation.chat_id, message_id));
    calls.extend(replies);
    Ok(Some(calls))
}

/// The webhook's entry point for a callback query: `None` unless the data is an admin
/// callback from an admin, so anyone else's tap falls back to the ordinary answer.
/// Otherwise the Bot API calls to make, the callback answer first.
pub async fn handle_callback(
    app: &Bot,
    query: &CallbackQuery,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    let Some(data) = query
        .data
        .as_deref()
        .filter(|data| data.starts_with(CALLBACK_PREFIX))
    else {
        return Ok(None);
    };
    let telegram_id: i64 = query.from.id.into();
    let Some(user) = app.users.find_by_telegram_id(telegram_id).await? else {
        return Ok(None);
    };
    if !app.is_admin(&user) {
        return Ok(None);
    }
    // Admin flows run only in the admin's private chat (chat id = user id); a button
    // seen anywhere else is not acted on. The tapped message is the one whose keyboard
    // goes away.
    let message_id: i64 = match &query.message {
        Some(MessageOrChannelPost::Message(message))
            if i64::from(message.chat.id()) == telegram_id =>
        {
            message.id.into()
        }
        _ => return Ok(None),
    };
    let conversation = Conversation {
        app,
        chat_id: telegram_id,
        user: &user,
        lang: user.lang,
    };
    let query_id = super::callback_query_id(query);
    try_handle_callback(&conversation, data, &query_id, message_id).await
}

async fn start(
    conversation: &Conversation<'_>,
    button: Button,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    match button {
        Button::Stats => reports::stats(conversation).await,
        Button::Winners => reports::winners(conversation).await,
        Button::Export => reports::export(conversation).await,
        Button::Broadcast => {
            save(conversation, &AdminState::BroadcastText).await?;
            prompt(conversation, t!("admin_broadcast_ask_text"), &[]).await
        }
        Button::Raffle => {
            save(conversation, &AdminState::RafflePrize).await?;
            prompt(conversation, t!("admin_raffle_ask_prize"), &[]).await
        }
        Button::Manual => {
            save(conversation, &AdminState::ManualUser).await?;
            prompt(conversation, t!("admin_manual_ask_user"), &[]).await
        }
    }
}

async fn step(
    conversation: &Conversation<'_>,
    state: AdminState,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    match state {
        AdminState::BroadcastText => broadcast::receive_text(conversation, input).await,
        AdminState::BroadcastPreview { .. } => {
            conversation
                .reply(t!("admin_broadcast_use_buttons"), &[])
                .await
        }
        state @ AdminState::BroadcastTime { .. } => {
            broadcast::receive_time(conversation, &state, input).await
        }
        AdminState::RafflePrize => raffle::receive_prize(conversation, input).await,
        AdminState::RaffleWinnerCount { prize } => {
            raffle::receive_count(conversation, prize, input).await
        }
        AdminState::RaffleConfirm { .. } => {
            conversation
                .reply(t!("admin_raffle_use_buttons"), &[])
                .await
        }
        AdminState::ManualUser => manual::receive_query(conversation, input).await,
        AdminState::ManualAmount { shopper } => {
            manual::receive_amount(conversation, shopper, input).await
        }
        state @ AdminState::ManualReason { .. } => {
            manual::receive_reason(conversation, &state, input).await
        }
    }
}

async fn is_cancel(conversation: &Conversation<'_>, input: &Input<'_>) -> bool {
    match input {
        Input::Command(command) => *command == "/cancel",
        Input::Text(text) => text.trim() == conversation.text(t!("btn_cancel")).await,
        _ => false,
    }
}

async fn admin_button(conversation: &Conversation<'_>, text: &str) -> Option<Button> {
    let text = text.trim();
    for (key, button) in BUTTONS {
        if conversation.text(*key).await == text {
            return Some(*button);
        }
    }
    None
}

/// Commands and shopper menu buttons are not answers to an admin question.
async fn leaves_flow(conversation: &Conversation<'_>, input: &Input<'_>) -> bool {
    match input {
        Input::Command(_) => true,
        Input::Text(text) => {
            let text = text.trim();
            for key in SHOPPER_BUTTONS {
                if conversation.text(*key).await == text {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

async fn cancel(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    clear(conversation).await?;
    done(conversation, t!("cancelled"), &[]).await
}

/// A question: the text with the "❌ Отмена" keyboard.
async fn prompt(
    conversation: &Conversation<'_>,
    key: TextKey,
    args: &[(&str, &str)],
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let text = conversation
        .app
        .texts
        .render(key, conversation.lang, args)
        .await;
    Ok(vec![conversation.with_cancel_keyboard(text).await])
}

/// The end of a flow: the text with the main menu back.
async fn done(
    conversation: &Conversation<'_>,
    key: TextKey,
    args: &[(&str, &str)],
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let text = conversation
        .app
        .texts
        .render(key, conversation.lang, args)
        .await;
    Ok(vec![conversation.with_main_menu(text).await])
}

/// An inline keyboard with one row of admin actions.
fn actions(buttons: Vec<(String, &str)>) -> Vec<Vec<InlineKeyboardButton>> {
    vec![buttons
        .into_iter()
        .map(|(text, data)| InlineKeyboardButton::callback(text, data))
        .collect()]
}

fn plain(conversation: &Conversation<'_>, text: String) -> OutgoingMessage {
    OutgoingMessage::Send(SendMessage::new(conversation.chat_id, text))
}

async fn load(conversation: &Conversation<'_>) -> anyhow::Result<Option<AdminState>> {
    conversation
        .app
        .states()
        .load(Flow::Admin, conversation.chat_id)
        .await
}

async fn save(conversation: &Conversation<'_>, state: &AdminState) -> anyhow::Result<()> {
    conversation
        .app
        .states()
        .save(Flow::Admin, conversation.chat_id, state)
        .await
}

async fn clear(conversation: &Conversation<'_>) -> anyhow::Result<()> {
    conversation
        .app
        .states()
        .clear(Flow::Admin, conversation.chat_id)
        .await
}

/// Removes and returns the state in one statement, so of two concurrent confirmations
/// only one finds the state and commits.
async fn take(conversation: &Conversation<'_>) -> anyhow::Result<Option<AdminState>> {
    conversation
        .app
        .states()
        .take(Flow::Admin, conversation.chat_id)
        .await
}

/// Puts back a state that [`take`] removed but the action did not belong to.
async fn restore(conversation: &Conversation<'_>, state: Option<AdminState>) -> anyhow::Result<()> {
    match state {
        Some(state) => save(conversation, &state).await,
        None => Ok(()),
    }
}

/// After a taken state's write failed, puts the state back so the retried update (the
/// webhook lets Telegram retry a failure) or the admin's next tap can still commit.
async fn restore_on_error<T>(
    conversation: &Conversation<'_>,
    state: AdminState,
    result: anyhow::Result<T>,
) -> anyhow::Result<T> {
    if result.is_err() {
        if let Err(e) = save(conversation, &state).await {
            tracing::warn!(error = %e, "could not restore the admin state");
        }
    }
    result
}

/// Takes the state if it still is `expected`; otherwise leaves it as it was.
async fn claim(conversation: &Conversation<'_>, expected: &AdminState) -> anyhow::Result<bool> {
    let taken = take(conversation).await?;
    if taken.as_ref() == Some(expected) {
        return Ok(true);
    }
    restore(conversation, taken).await?;
    Ok(false)
}
