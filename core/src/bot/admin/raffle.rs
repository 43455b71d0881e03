//! 🎁 Raffle from the bot: prize → winner count → confirm. It becomes a `raffle` campaign;
//! the raffle engine draws it like one started from the panel.

use crate::t;

use super::state::{self, AdminState};
use super::store;
use super::{actions, done, prompt, restore_on_error, save, Conversation, Input};
use crate::telegram::{OutgoingMessage, SendMessage};

pub(super) async fn receive_prize(
    conversation: &Conversation<'_>,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let Input::Text(raw) = input else {
        return prompt(conversation, t!("admin_text_expected"), &[]).await;
    };
    let Some(prize) = state::prize(raw) else {
        return prompt(conversation, t!("admin_raffle_prize_invalid"), &[]).await;
    };
    save(conversation, &AdminState::RaffleWinnerCount { prize }).await?;
    prompt(conversation, t!("admin_raffle_ask_count"), &[]).await
}

pub(super) async fn receive_count(
    conversation: &Conversation<'_>,
    prize: String,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let Some(winner_count) = (match input {
        Input::Text(raw) => state::winner_count(raw),
        _ => None,
    }) else {
        return prompt(conversation, t!("admin_raffle_count_invalid"), &[]).await;
    };
    let participants = store::raffle_participants(conversation.app).await?;
    let text = conversation
        .app
        .texts
        .render(
            t!("admin_raffle_confirm"),
            conversation.lang,
            &[
                ("prize", &prize),
                ("winner_count", &winner_count.to_string()),
                ("participants", &participants.to_string()),
            ],
        )
        .await;
    save(
        conversation,
        &AdminState::RaffleConfirm {
            prize,
            winner_count,
        },
    )
    .await?;
    let buttons = actions(vec![
        (
            conversation.text(t!("admin_btn_raffle_go")).await,
            super::CB_RAFFLE_GO,
        ),
        (
            conversation.text(t!("admin_btn_cancel")).await,
            super::CB_CANCEL,
        ),
    ]);
    Ok(vec![OutgoingMessage::Send(
        SendMessage::new(conversation.chat_id, text).markup(buttons),
    )])
}

pub(super) async fn create(
    conversation: &Conversation<'_>,
    prize: String,
    winner_count: i32,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let created = store::create_raffle(
        conversation.app,
        conversation.user.telegram_id,
        &prize,
        winner_count,
    )
    .await;
    let state = AdminState::RaffleConfirm {
        prize,
        winner_count,
    };
    let created = restore_on_error(conversation, state, created).await?;
    tracing::info!(
        campaign_id = created.campaign_id,
        admin = conversation.user.telegram_id,
        winner_count,
        "raffle created from the bot"
    );
    done(
        conversation,
        t!("admin_raffle_started"),
        &[
            ("id", &created.campaign_id.to_string()),
            ("commitment", &created.seed_commitment),
        ],
    )
    .await
}
