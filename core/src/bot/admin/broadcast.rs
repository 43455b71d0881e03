//! 📢 Broadcast from the bot: text → preview → send now or at a Moscow time. The result is
//! an ordinary `campaigns` row, run by the same campaign runner as the panel's.

use crate::t;
use chrono::{Duration, Utc};
use serde_json::json;

use super::state::{self, AdminState, ScheduleError};
use super::store::{self, NewCampaign};
use super::{actions, claim, done, plain, prompt, restore_on_error, save, Conversation, Input};
use crate::telegram::{OutgoingMessage, SendMessage};

pub(super) async fn receive_text(
    conversation: &Conversation<'_>,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let Input::Text(raw) = input else {
        return prompt(conversation, t!("admin_broadcast_text_only"), &[]).await;
    };
    let Some(text) = state::broadcast_text(raw) else {
        return prompt(conversation, t!("admin_broadcast_text_invalid"), &[]).await;
    };
    save(
        conversation,
        &AdminState::BroadcastPreview { text: text.clone() },
    )
    .await?;
    let recipients = store::broadcast_recipients(conversation.app).await?;
    let header = conversation
        .app
        .texts
        .render(
            t!("admin_broadcast_preview"),
            conversation.lang,
            &[("recipients", &recipients.to_string())],
        )
        .await;
    // The preview is the message exactly as shoppers will get it (plain text), with the
    // admin's choices underneath.
    let buttons = actions(vec![
        (
            conversation.text(t!("admin_btn_send_now")).await,
            super::CB_BROADCAST_NOW,
        ),
        (
            conversation.text(t!("admin_btn_schedule")).await,
            super::CB_BROADCAST_AT,
        ),
        (
            conversation.text(t!("admin_btn_cancel")).await,
            super::CB_CANCEL,
        ),
    ]);
    Ok(vec![
        plain(conversation, header),
        OutgoingMessage::Send(SendMessage::new(conversation.chat_id, text).markup(buttons)),
    ])
}

pub(super) async fn send_now(
    conversation: &Conversation<'_>,
    text: String,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    // Everything fallible happens before the insert or is the insert: a failure leaves
    // no campaign behind and the preview usable again.
    let state = AdminState::BroadcastPreview { text: text.clone() };
    let recipients = restore_on_error(
        conversation,
        state.clone(),
        store::broadcast_recipients(conversation.app).await,
    )
    .await?;
    let created = create(conversation, text, None).await;
    let id = restore_on_error(conversation, state, created).await?;
    done(
        conversation,
        t!("admin_broadcast_started"),
        &[
            ("id", &id.to_string()),
            ("recipients", &recipients.to_string()),
        ],
    )
    .await
}

pub(super) async fn ask_time(
    conversation: &Conversation<'_>,
    text: String,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    save(conversation, &AdminState::BroadcastTime { text }).await?;
    prompt(
        conversation,
        t!("admin_broadcast_ask_time"),
        &[("example", &example_time())],
    )
    .await
}

/// `state` is the `BroadcastTime` this input answers.
pub(super) async fn receive_time(
    conversation: &Conversation<'_>,
    state: &AdminState,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let example = example_time();
    let Input::Text(raw) = input else {
        return prompt(
            conversation,
            t!("admin_time_invalid"),
            &[("example", &example)],
        )
        .await;
    };
    let at = match state::schedule_time(raw, Utc::now()) {
        Ok(at) => at,
        Err(ScheduleError::Format) => {
            return prompt(
                conversation,
                t!("admin_time_invalid"),
                &[("example", &example)],
            )
            .await
        }
        Err(ScheduleError::Past) => {
            return prompt(
                conversation,
                t!("admin_time_past"),
                &[("example", &example)],
            )
            .await
        }
        Err(ScheduleError::TooFar) => {
            return prompt(conversation, t!("admin_time_too_far"), &[]).await
        }
    };
    let AdminState::BroadcastTime { text } = state else {
        return conversation.reply(t!("admin_stale_action"), &[]).await;
    };
    if !claim(conversation, state).await? {
        return conversation.reply(t!("admin_stale_action"), &[]).await;
    }
    let created = create(conversation, text.clone(), Some(at)).await;
    let id = restore_on_error(conversation, state.clone(), created).await?;
    done(
        conversation,
        t!("admin_broadcast_scheduled"),
        &[("id", &id.to_string()), ("at", &state::format_moscow(at))],
    )
    .await
}

async fn create(
    conversation: &Conversation<'_>,
    text: String,
    scheduled_for: Option<chrono::DateTime<Utc>>,
) -> anyhow::Result<i64> {
    let campaign = NewCampaign {
        kind: "broadcast",
        content: json!({ "text": text }),
        scheduled_for,
    };
    let id =
        store::create_campaign(conversation.app, conversation.user.telegram_id, &campaign).await?;
    tracing::info!(
        campaign_id = id,
        admin = conversation.user.telegram_id,
        scheduled = scheduled_for.is_some(),
        "broadcast created from the bot"
    );
    Ok(id)
}

/// Tomorrow at noon, Moscow time: an example that is always valid.
fn example_time() -> String {
    let tomorrow = (Utc::now() + Duration::days(1)).with_timezone(&state::moscow());
    format!("{} 12:00", tomorrow.format("%d.%m.%Y"))
}
