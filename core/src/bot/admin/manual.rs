//! ➕ Manual receipt: find a shopper by Telegram id, @username or phone, then grant N
//! tickets with a reason (e.g. a receipt without a readable QR code checked by hand). The
//! shopper's notice is an outbox message written with the grant.

use super::state::{self, AdminState, Shopper, UserQuery};
use super::store;
use super::{claim, prompt, restore_on_error, save, Conversation, Input};
use crate::pii::Phone;
use crate::t;
use crate::telegram::OutgoingMessage;
use crate::texts::Lang;

/// The webhook answers within milliseconds: the notice gets a send slot now or is left to
/// the relay.
const NOTICE_SEND_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

pub(super) async fn receive_query(
    conversation: &Conversation<'_>,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let query = match input {
        Input::Text(raw) => UserQuery::parse(raw),
        // A forwarded contact card names the shopper by phone.
        Input::Contact { phone, .. } => Phone::parse(phone).ok().map(UserQuery::Phone),
        _ => None,
    };
    let Some(query) = query else {
        return prompt(conversation, t!("admin_manual_query_invalid"), &[]).await;
    };
    let Some(found) = store::find_shopper(conversation.app, &query).await? else {
        return prompt(conversation, t!("admin_manual_not_found"), &[]).await;
    };
    let label = found.label();
    if !found.registered {
        return prompt(
            conversation,
            t!("admin_manual_not_registered"),
            &[("shopper", &label)],
        )
        .await;
    }
    let shopper = Shopper {
        user_id: found.user_id,
        telegram_id: found.telegram_id,
        label: label.clone(),
        lang: found.lang,
        reachable: found.reachable,
    };
    save(conversation, &AdminState::ManualAmount { shopper }).await?;
    prompt(
        conversation,
        t!("admin_manual_found"),
        &[("shopper", &label), ("tickets", &found.tickets.to_string())],
    )
    .await
}

pub(super) async fn receive_amount(
    conversation: &Conversation<'_>,
    shopper: Shopper,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let Some(amount) = (match input {
        Input::Text(raw) => state::ticket_amount(raw),
        _ => None,
    }) else {
        return prompt(conversation, t!("admin_manual_amount_invalid"), &[]).await;
    };
    save(conversation, &AdminState::ManualReason { shopper, amount }).await?;
    prompt(conversation, t!("admin_manual_ask_reason"), &[]).await
}

/// `state` is the `ManualReason` this input answers.
pub(super) async fn receive_reason(
    conversation: &Conversation<'_>,
    state: &AdminState,
    input: &Input<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let Some(reason) = (match input {
        Input::Text(raw) => state::reason(raw),
        _ => None,
    }) else {
        return prompt(conversation, t!("admin_manual_reason_invalid"), &[]).await;
    };
    let AdminState::ManualReason { shopper, amount } = state else {
        return conversation.reply(t!("admin_stale_action"), &[]).await;
    };
    if !claim(conversation, state).await? {
        return conversation.reply(t!("admin_stale_action"), &[]).await;
    }
    let app = conversation.app;
    let notify = shopper.reachable.then(|| {
        (
            shopper.telegram_id,
            Lang::from_code(&shopper.lang).unwrap_or(Lang::Ru),
        )
    });
    let granted = store::grant_tickets(
        app,
        conversation.user.telegram_id,
        shopper.user_id,
        *amount,
        &reason,
        notify,
    )
    .await;
    let (total, notice) = restore_on_error(conversation, state.clone(), granted).await?;
    if let Some(notice) = notice {
        // Written with the grant; sent now, or by the outbox relay if this cannot.
        app.sender.send_now(notice, NOTICE_SEND_WAIT).await;
    }
    tracing::info!(
        admin = conversation.user.telegram_id,
        user_id = shopper.user_id,
        amount,
        "tickets granted by hand"
    );
    let (amount, total) = (amount.to_string(), total.to_string());
    let mut text = app
        .texts
        .render(
            t!("admin_manual_done"),
            conversation.lang,
            &[
                ("amount", &amount),
                ("shopper", &shopper.label),
                ("total", &total),
            ],
        )
        .await;
    if !shopper.reachable {
        text.push_str("\n\n");
        text.push_str(&conversation.text(t!("admin_manual_unreachable")).await);
    }
    Ok(vec![conversation.with_main_menu(text).await])
}
