//! The ticket ledger: the one place that writes `tickets`. Tickets are rows (a grant for
//! an accepted receipt, a manual grant with its reason), never a counter, so every
//! ticket can be traced to its cause and a raffle snapshot is a plain sum.

use anyhow::Context;
use deadpool_postgres::GenericClient;

use crate::audit::{admin_user_sql, Actor};

/// Grants a receipt's tickets, in the transaction that accepts the receipt.
pub async fn grant_for_receipt(
    client: &impl GenericClient,
    bot_id: i64,
    user_id: i64,
    receipt_id: i64,
    amount: i32,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO tickets (bot_id, user_id, receipt_id, amount, source)
             VALUES ($1, $2, $3, $4, 'receipt')",
            &[&bot_id, &user_id, &receipt_id, &amount],
        )
        .await
        .context("granting the receipt's tickets")?;
    Ok(())
}

/// A manual grant by an admin, with its reason; returns the ticket row's id. The caller
/// audits it in the same transaction.
pub async fn grant_manual(
    client: &impl GenericClient,
    bot_id: i64,
    by: &Actor,
    user_id: i64,
    amount: i32,
    reason: &str,
) -> anyhow::Result<i64> {
    let (panel, telegram) = by.ids();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO tickets (bot_id, user_id, amount, source, reason, admin_user_id)
                 VALUES ($1, $4, $5, 'manual', $6, {})
                 RETURNING id",
                admin_user_sql(2, 3)
            ),
            &[&bot_id, &panel, &telegram, &user_id, &amount, &reason],
        )
        .await
        .context("granting tickets")?;
    Ok(row.get(0))
}

/// A shopper's tickets in total.
pub async fn total(client: &impl GenericClient, bot_id: i64, user_id: i64) -> anyhow::Result<i64> {
    let row = client
        .query_one(
            "SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets WHERE bot_id = $1 AND user_id = $2",
            &[&bot_id, &user_id],
        )
        .await
        .context("summing the shopper's tickets")?;
    Ok(row.get(0))
}
