//! Optional "join our channel first" step at the end of registration (`REQUIRED_CHANNEL`),
//! checked with `getChatMember`, with a "check again" button.

use crate::t;
use crate::texts::TextKey;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, SendMessage};
use crate::users::UserStatus;

use super::dialogue::DialogueState;
use super::Conversation;

/// callback_data of the "check again" button.
pub(crate) const CHECK: &str = "sub:check";

#[derive(Deserialize)]
struct ChatMember {
    status: String,
    #[serde(default)]
    is_member: bool,
}

/// Whether the shopper is in the required channel. `Ok(true)` when no channel is required.
async fn is_member(conversation: &Conversation<'_>) -> anyhow::Result<bool> {
    let promo = conversation.app.promo.current().await;
    let Some(channel) = &promo.required_channel else {
        return Ok(true);
    };
    // A numeric id must go out as a number; `@username` as a string.
    let chat_id = channel
        .parse::<i64>()
        .map_or_else(|_| Value::from(channel.as_str()), Value::from);
    let member: ChatMember = conversation
        .app
        .telegram
        .call(
            "getChatMember",
            &json!({"chat_id": chat_id, "user_id": conversation.user.telegram_id}),
        )
        .await?;
    Ok(match member.status.as_str() {
        "creator" | "administrator" | "member" => true,
        "restricted" => member.is_member,
        _ => false,
    })
}

/// Right after the phone: registered at once when already subscribed, otherwise asked
/// to join.
pub(crate) async fn after_phone(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    match is_member(conversation).await {
        Ok(true) => {
            complete_registration(conversation).await?;
            let text = conversation.text(t!("registered")).await;
            Ok(vec![conversation.with_main_menu(text).await])
        }
        Ok(false) => {
            conversation
                .set_state(&DialogueState::AwaitingSubscription)
                .await?;
            prompt(conversation, t!("subscribe_required")).await
        }
        Err(error) => {
            tracing::warn!(error = %error, "getChatMember failed");
            conversation
                .set_state(&DialogueState::AwaitingSubscription)
                .await?;
            prompt(conversation, t!("subscribe_check_failed")).await
        }
    }
}

/// The request to join, with the channel link (when known) and "check again".
pub(crate) async fn prompt(
    conversation: &Conversation<'_>,
    key: TextKey,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let text = conversation.text(key).await;
    let keyboard = keyboard(conversation).await;
    Ok(vec![OutgoingMessage::Send(
        SendMessage::new(conversation.chat_id, text).markup(keyboard),
    )])
}

async fn keyboard(conversation: &Conversation<'_>) -> InlineKeyboardMarkup {
    let promo = conversation.app.promo.current().await;
    let link = promo.required_channel_url.clone().or_else(|| {
        promo
            .required_channel
            .as_deref()
            .and_then(|c| c.strip_prefix('@'))
            .map(|name| format!("https://t.me/{name}"))
    });
    let mut rows = Vec::new();
    if let Some(link) = link {
        rows.push(vec![InlineKeyboardButton::url(
            conversation.text(t!("btn_subscribe")).await,
            link,
        )]);
    }
    rows.push(vec![InlineKeyboardButton::callback(
        conversation.text(t!("btn_check_subscription")).await,
        CHECK,
    )]);
    InlineKeyboardMarkup::from(rows)
}

/// "🔄 Check again": completes the registration once the shopper has joined.
pub(crate) async fn check(
    conversation: &Conversation<'_>,
    message_id: i64,
    answer: impl Fn(Option<String>) -> OutgoingMessage,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    if conversation.user.status != UserStatus::Registering
        || conversation.user.phone_masked.is_none()
    {
        return Ok(vec![answer(Some(
            conversation.text(t!("callback_stale")).await,
        ))]);
    }
    match is_member(conversation).await {
        Ok(true) => {
            complete_registration(conversation).await?;
            let done = conversation.text(t!("subscribe_confirmed")).await;
            let registered = conversation.text(t!("registered")).await;
            Ok(vec![
                answer(None),
                super::callbacks::edit(conversation.chat_id, message_id, done, None),
                conversation.with_main_menu(registered).await,
            ])
        }
        Ok(false) => Ok(vec![answer(Some(
            conversation.text(t!("subscribe_not_yet")).await,
        ))]),
        Err(error) => {
            tracing::warn!(error = %error, "getChatMember failed");
            Ok(vec![answer(Some(
                conversation.text(t!("subscribe_check_failed")).await,
            ))])
        }
    }
}

/// The subscription is confirmed: the registration (phone already stored) completes.
async fn complete_registration(conversation: &Conversation<'_>) -> anyhow::Result<()> {
    conversation
        .app
        .users
        .mark_registered(conversation.user.id)
        .await?;
    conversation.set_state(&DialogueState::Idle).await
}
