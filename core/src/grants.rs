//! Manual ticket grants by an admin (from the bot or the panel): the ledger row, its audit
//! row and the shopper's notice in the outbox, all in one transaction, so granted tickets
//! and the word about them are never separated by a crash or a refused send.

use serde_json::json;

use crate::audit::{self, Actor};
use crate::db::PgPool;
use crate::ledger;
use crate::outbox::{NewMessage, Purpose};
use crate::t;
use crate::telegram::{OutgoingMessage, SendMessage};
use crate::texts::{Lang, Texts};

/// What a grant did: the shopper's new total and the notice's outbox row (`None` when the
/// shopper was not to be told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub ticket_id: i64,
    pub total: i64,
    pub notice: Option<i64>,
}

/// Adds `amount` tickets (negative: a correction) to `user_id` with `reason`; tells the
/// shopper at `notify` (chat, language) when given.
#[allow(clippy::too_many_arguments)]
pub async fn grant(
    pool: &PgPool,
    texts: &Texts,
    bot_id: i64,
    by: &Actor,
    user_id: i64,
    amount: i32,
    reason: &str,
    notify: Option<(i64, Lang)>,
) -> anyhow::Result<Granted> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let ticket_id = ledger::grant_manual(&tx, bot_id, by, user_id, amount, reason).await?;
    audit::record(
        &tx,
        bot_id,
        by,
        "tickets.grant",
        &format!("user:{user_id}"),
        &json!({
            "ticket_id": ticket_id,
            "user_id": user_id,
            "amount": amount,
            "reason": reason,
        }),
    )
    .await?;
    let total = ledger::total(&tx, bot_id, user_id).await?;
    let notice = match notify {
        Some((chat_id, lang)) => {
            let (amount, total) = (amount.to_string(), total.to_string());
            let text = texts
                .render(
                    t!("admin_manual_shopper_notice"),
                    lang,
                    &[("amount", &amount), ("reason", reason), ("total", &total)],
                )
                .await;
            let message = OutgoingMessage::Send(SendMessage::new(chat_id, text));
            let new = NewMessage {
                purpose: Purpose::ManualTickets,
                user_id: Some(user_id),
                chat_id,
                message: &message,
                dedup_key: Some(format!("manual_tickets:{ticket_id}")),
            };
            crate::outbox::insert_message(&tx, bot_id, &new).await?
        }
        None => None,
    };
    tx.commit().await?;
    Ok(Granted {
        ticket_id,
        total,
        notice,
    })
}
