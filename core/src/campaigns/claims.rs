//! After the draw: each winner's claim of the prize (confirm, consent, documents), the
//! re-roll to the next reserve when a winner expires, declines or is disqualified, and the
//! sweeps that expire missed deadlines and delete documents after their retention.
//!
//! A winner row holds its prize while its `claim_status` is `notified`, `confirmed` or
//! `documents_received`; every change of holder happens in [`reroll_winner`], under a lock on
//! the draw, so two re-rolls of one draw never promote the same reserve and a second
//! re-roll of an ended winner does nothing.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{json, Value};

use super::raffle_spec::RaffleMessage;
use crate::audit::{self, Actor};
use crate::config::ClaimSettings;
use crate::db::PgPool;
use crate::outbox::{NewMessage, Purpose};
use crate::t;
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, ReplyMarkup};
use crate::texts::{Lang, Texts};

/// `callback_data` prefixes of the claim's buttons; the winner row's id follows.
pub const CONFIRM: &str = "claim:ok:";
pub const DECLINE: &str = "claim:no:";
pub const CONSENT: &str = "claim:consent:";
pub const DECLINE_CONFIRMED: &str = "claim:decline:";

/// Telegram's limit for a caption under a photo.
const CAPTION_LIMIT: usize = 1024;
/// Winners expired per sweep; the rest wait for the next one.
const EXPIRE_BATCH: i64 = 500;

/// Why a winner stops holding the prize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// No confirmation by the deadline.
    Expired,
    /// The winner said no.
    Declined,
    /// An operator took the prize away, with a reason.
    Disqualified,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Expired => "expired",
            Ending::Declined => "declined",
            Ending::Disqualified => "disqualified",
        }
    }

    /// Whether a winner in claim status `status` may end this way.
    pub fn may_end(self, status: &str) -> bool {
        self.ends().contains(&status)
    }

    /// The claim statuses this ending may end: the deadline runs until the claim is
    /// complete (confirmed with consent and, above 4,000 ₽, the documents in; past it the
    /// bot takes no more steps), a winner declines before the documents are in, an
    /// operator may disqualify until the prize is handed over.
    fn ends(self) -> &'static [&'static str] {
        match self {
            Ending::Expired => &["notified"],
            Ending::Declined => &["notified", "confirmed"],
            Ending::Disqualified => &["notified", "confirmed", "documents_received"],
        }
    }
}

/// What [`reroll_winner`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerolled {
    /// The winner was not holding the prize in a status this ending ends (or is no
    /// winner of this bot): nothing changed.
    Untouched,
    /// Ended; this reserve now holds the prize.
    Promoted(i64),
    /// Ended; no reserve was left, the prize stays unclaimed.
    Unclaimed,
}

/// Hours a winner has to claim (`claim_deadline_hours`, default 72); the runner sets each
/// winner's `claim_deadline` from it.
pub async fn deadline_hours(client: &impl GenericClient, bot_id: i64) -> anyhow::Result<i64> {
    setting(
        client,
        bot_id,
        "claim_deadline_hours",
        ClaimSettings::default().deadline_hours,
    )
    .await
}

/// Days documents are kept (`claim_documents_retention_days`, default 1095).
pub async fn retention_days(client: &impl GenericClient, bot_id: i64) -> anyhow::Result<i64> {
    setting(
        client,
        bot_id,
        "claim_documents_retention_days",
        ClaimSettings::default().documents_retention_days,
    )
    .await
}

/// A claim setting as the panel stored it; a value out of range (written by hand) counts
/// as unset, as everywhere else in the promotion's settings.
async fn setting(
    client: &impl GenericClient,
    bot_id: i64,
    field: &str,
    default: i64,
) -> anyhow::Result<i64> {
    let row = client
        .query_opt(
            "SELECT value FROM settings WHERE bot_id = $1 AND key = $2",
            &[&bot_id, &format!("{}{field}", crate::promo::KEY_PREFIX)],
        )
        .await
        .with_context(|| format!("reading the setting {field}"))?;
    Ok(row
        .and_then(|row| crate::promo::claim_field(field, &row.get::<_, Value>(0)).ok())
        .unwrap_or(default))
}

/// The outbox dedup key of a winner's claim message: one message per pick, ever.
pub fn message_key(winner_id: i64) -> String {
    format!("winner:{winner_id}")
}

/// Writes winner `winner_id`'s prize message to the outbox (dedup key `winner:{id}`, so a
/// second call writes nothing) in the caller's transaction: the raffle's win message for
/// this winner, under the prize's (or the message's) photo, with the claim's buttons and
/// its deadline in the raffle's time zone. A draw without a raffle model (made before
/// raffles had one) gets the plain `raffle_won` text. Only a row that holds the prize
/// and awaits its claim (`notified`) gets a message.
pub async fn write_claim_message(
    client: &impl GenericClient,
    bot_id: i64,
    texts: &Texts,
    winner_id: i64,
) -> anyhow::Result<()> {
    let Some(row) = client
        .query_opt(
            "SELECT w.user_id, u.telegram_id, u.language, u.first_name,
                    w.tickets_at_draw::BIGINT, d.prize, p.name, p.photo, r.win_message,
                    r.time_zone,
                    to_char(w.claim_deadline AT TIME ZONE COALESCE(r.time_zone, 'Europe/Moscow'),
                            'DD.MM.YYYY HH24:MI')
             FROM raffle_winners w
             JOIN users u ON u.id = w.user_id
             JOIN raffle_draws d ON d.id = w.draw_id
             LEFT JOIN raffles r ON r.campaign_id = d.campaign_id AND r.bot_id = w.bot_id
             LEFT JOIN raffle_prizes p ON p.id = w.prize_id
             WHERE w.id = $1 AND w.bot_id = $2 AND w.claim_status = 'notified'",
            &[&winner_id, &bot_id],
        )
        .await
        .context("reading the winner for its message")?
    else {
        return Ok(());
    };
    let user_id: i64 = row.get(0);
    let chat_id: i64 = row.get(1);
    let lang = Lang::from_code(row.get(2)).unwrap_or(Lang::Ru);
    let first_name: String = row.get(3);
    let tickets: i64 = row.get(4);
    let prize: String = row
        .get::<_, Option<String>>(6)
        .unwrap_or_else(|| row.get(5));
    let win_message: Option<Value> = row.get(8);
    let message = match win_message.map(serde_json::from_value::<RaffleMessage>) {
        None => {
            let text = texts
                .render(t!("raffle_won"), lang, &[("prize", &prize)])
                .await;
            OutgoingMessage::Send(crate::telegram::SendMessage::new(chat_id, text))
        }
        Some(Err(error)) => {
            return Err(anyhow::Error::new(error).context("the raffle's win message is malformed"))
        }
        Some(Ok(win)) => {
            let mut text = win.render(&first_name, &prize, tickets);
            let zone: Option<String> = row.get(9);
            if let Some(deadline) = row.get::<_, Option<String>>(10) {
                let line = texts
                    .render(
                        t!("claim_deadline_line"),
                        lang,
                        &[
                            ("deadline", &deadline),
                            ("zone", zone.as_deref().unwrap_or("Europe/Moscow")),
                        ],
                    )
                    .await;
                text = format!("{text}\n\n{line}");
            }
            let keyboard = InlineKeyboardMarkup::from(vec![
                vec![InlineKeyboardButton::callback(
                    texts.get(t!("btn_claim_confirm"), lang).await,
                    format!("{CONFIRM}{winner_id}"),
                )],
                vec![InlineKeyboardButton::callback(
                    texts.get(t!("btn_claim_decline"), lang).await,
                    format!("{DECLINE}{winner_id}"),
                )],
            ]);
            let photo = row.get::<_, Option<String>>(7).or(win.photo);
            prize_message(chat_id, text, photo, keyboard)
        }
    };
    let new = NewMessage {
        purpose: Purpose::Winner,
        user_id: Some(user_id),
        chat_id,
        message: &message,
        dedup_key: Some(message_key(winner_id)),
    };
    crate::outbox::insert_message(client, bot_id, &new).await?;
    Ok(())
}

/// `sendPhoto` with the text as caption when there is a photo and the text fits under
/// it, else `sendMessage`; both with the claim's keyboard.
fn prize_message(
    chat_id: i64,
    text: String,
    photo: Option<String>,
    keyboard: InlineKeyboardMarkup,
) -> OutgoingMessage {
    match photo {
        Some(photo) if text.chars().count() <= CAPTION_LIMIT => OutgoingMessage::Call {
            method: "sendPhoto",
            params: json!({
                "chat_id": chat_id,
                "photo": photo,
                "caption": text,
                "reply_markup": serde_json::to_value(ReplyMarkup::from(keyboard))
                    .unwrap_or_default(),
            }),
        },
        _ => {
            OutgoingMessage::Send(crate::telegram::SendMessage::new(chat_id, text).markup(keyboard))
        }
    }
}

/// Ends winner `winner_id` (`ending`, with `reason` for the record) and hands its prize to
/// the next reserve of the same prize, in the caller's transaction (the bot's decline, the
/// panel's disqualification): the reserve is
/// `notified` with a fresh deadline and its message in the outbox, the ended row points
/// at it (`replaced_by`), and the audit log has `raffle.rerolled`, or
/// `raffle.prize_unclaimed` when no reserve is left.
/// A winner that is no longer holding the prize (ended already, handed over) is left as
/// it is ([`Rerolled::Untouched`]); [`Rerolled::Unclaimed`] says no reserve was left.
pub async fn reroll_winner(
    tx: &deadpool_postgres::Transaction<'_>,
    bot_id: i64,
    winner_id: i64,
    ending: Ending,
    reason: &str,
    actor: &Actor,
    texts: &Texts,
) -> anyhow::Result<Rerolled> {
    end_and_promote(tx, bot_id, winner_id, ending, reason, actor, texts, None).await
}

/// [`reroll_winner`]; with `due_by`, only a winner whose deadline is not after it (the deadline
/// sweep re-checks under the lock what it selected without one).
#[allow(clippy::too_many_arguments)]
async fn end_and_promote(
    tx: &deadpool_postgres::Transaction<'_>,
    bot_id: i64,
    winner_id: i64,
    ending: Ending,
    reason: &str,
    actor: &Actor,
    texts: &Texts,
    due_by: Option<DateTime<Utc>>,
) -> anyhow::Result<Rerolled> {
    let Some(draw) = tx
        .query_opt(
            "SELECT draw_id FROM raffle_winners WHERE id = $1 AND bot_id = $2",
            &[&winner_id, &bot_id],
        )
        .await
        .context("finding the winner's draw")?
    else {
        return Ok(Rerolled::Untouched);
    };
    let draw_id: i64 = draw.get(0);
    // One re-roll of a draw at a time: the next reserve is then simply the lowest
    // position still waiting, and two re-rolls never promote the same one.
    tx.execute(
        "SELECT 1 FROM raffle_draws WHERE id = $1 FOR UPDATE",
        &[&draw_id],
    )
    .await
    .context("locking the draw")?;
    let statuses: Vec<String> = ending.ends().iter().map(|s| (*s).to_owned()).collect();
    let Some(ended) = tx
        .query_opt(
            "UPDATE raffle_winners
             SET claim_status = $3, ended_at = now(), ended_reason = $4
             WHERE id = $1 AND bot_id = $2 AND claim_status = ANY($5)
               AND ($6::TIMESTAMPTZ IS NULL OR claim_deadline <= $6)
             RETURNING prize_id, user_id, position",
            &[
                &winner_id,
                &bot_id,
                &ending.as_str(),
                &reason,
                &statuses,
                &due_by,
            ],
        )
        .await
        .context("ending the winner")?
    else {
        return Ok(Rerolled::Untouched);
    };
    let prize_id: Option<i64> = ended.get(0);
    let ended_user: i64 = ended.get(1);
    // A "you won" still waiting in the outbox (a 429 pause, an early disqualification)
    // must not reach someone who no longer holds the prize.
    tx.execute(
        "UPDATE outbox
         SET status = 'discarded', updated_at = now(),
             last_error = 'the prize passed on before this message was sent'
         WHERE bot_id = $1 AND dedup_key = $2 AND status IN ('pending', 'relayed')",
        &[&bot_id, &message_key(winner_id)],
    )
    .await
    .context("withdrawing the unsent claim message")?;
    // With multiple wins one user may also hold a reserve of the same prize: the prize
    // never goes back to the user who just lost it, nor to anyone who declined or was
    // disqualified in this draw.
    let reserve = tx
        .query_opt(
            "SELECT id FROM raffle_winners r
             WHERE r.draw_id = $1 AND r.prize_id IS NOT DISTINCT FROM $2
               AND r.claim_status = 'reserve' AND r.user_id <> $3
               AND NOT EXISTS (SELECT 1 FROM raffle_winners x
                               WHERE x.draw_id = r.draw_id AND x.user_id = r.user_id
                                 AND x.claim_status IN ('declined', 'disqualified'))
             ORDER BY r.position LIMIT 1",
            &[&draw_id, &prize_id, &ended_user],
        )
        .await
        .context("finding the next reserve")?
        .map(|row| row.get::<_, i64>(0));
    let Some(reserve) = reserve else {
        audit::record(
            tx,
            bot_id,
            actor,
            "raffle.prize_unclaimed",
            &format!("draw:{draw_id}"),
            &json!({
                "draw_id": draw_id,
                "prize_id": prize_id,
                "from_winner": winner_id,
                "reason": ending.as_str(),
                "note": reason,
            }),
        )
        .await?;
        tracing::info!(draw_id, winner_id, "prize unclaimed: no reserve left");
        return Ok(Rerolled::Unclaimed);
    };
    let hours = deadline_hours(tx, bot_id).await?;
    tx.execute(
        "UPDATE raffle_winners
         SET claim_status = 'notified', activated_at = now(),
             claim_deadline = now() + make_interval(hours => $2::INT)
         WHERE id = $1",
        &[&reserve, &i32::try_from(hours).unwrap_or(72)],
    )
    .await
    .context("promoting the reserve")?;
    tx.execute(
        "UPDATE raffle_winners SET replaced_by = $2 WHERE id = $1",
        &[&winner_id, &reserve],
    )
    .await?;
    write_claim_message(tx, bot_id, texts, reserve).await?;
    audit::record(
        tx,
        bot_id,
        actor,
        "raffle.rerolled",
        &format!("draw:{draw_id}"),
        &json!({
            "draw_id": draw_id,
            "prize_id": prize_id,
            "from_winner": winner_id,
            "to_winner": reserve,
            "reason": ending.as_str(),
            "note": reason,
        }),
    )
    .await?;
    tracing::info!(
        draw_id,
        winner_id,
        reserve,
        reason = ending.as_str(),
        "prize re-rolled"
    );
    Ok(Rerolled::Promoted(reserve))
}

/// Every bot's winners still `notified` whose deadline is not after `now`: each one ends
/// `expired` and its reserve is called ([`reroll_winner`], one transaction each). Returns how
/// many winners ended. Cheap when nothing is due (a partial index on the deadline).
pub async fn expire_due(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let due: Vec<(i64, i64)> = {
        let client = pool.get().await?;
        client
            .query(
                "SELECT id, bot_id FROM raffle_winners
                 WHERE claim_status = 'notified' AND claim_deadline <= $1
                 ORDER BY claim_deadline LIMIT $2",
                &[&now, &EXPIRE_BATCH],
            )
            .await
            .context("finding winners past their deadline")?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    };
    let mut texts: HashMap<i64, Texts> = HashMap::new();
    let mut ended = 0;
    let mut failed = 0;
    for (winner_id, bot_id) in due {
        let texts = texts
            .entry(bot_id)
            .or_insert_with(|| Texts::new(pool.clone(), bot_id));
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let rerolled = match end_and_promote(
            &tx,
            bot_id,
            winner_id,
            Ending::Expired,
            "no confirmation by the deadline",
            &Actor::System,
            texts,
            Some(now),
        )
        .await
        {
            Ok(rerolled) => rerolled,
            Err(error) => {
                // One winner that cannot be re-rolled (a broken message, say) must not
                // hold up every other bot's expiries: it is rolled back, logged and
                // tried again on the next sweep.
                tracing::warn!(winner_id, bot_id, error = %format!("{error:#}"), "expiry failed");
                drop(tx);
                failed += 1;
                continue;
            }
        };
        tx.commit().await.context("committing the expiry")?;
        if rerolled != Rerolled::Untouched {
            ended += 1;
        }
    }
    if failed > 0 && ended == 0 {
        anyhow::bail!("{failed} expired claims could not be re-rolled");
    }
    Ok(ended)
}

/// Deletes every bot's documents older than its retention (`documents` NULL,
/// `documents_purged_at` set), one audit row `claim.documents_purged` each. Returns how
/// many were deleted.
pub async fn purge_documents(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let bots: Vec<i64> = {
        let client = pool.get().await?;
        client
            .query(
                // No bot keeps documents for less than the shortest retention.
                "SELECT DISTINCT bot_id FROM raffle_winners
                 WHERE documents IS NOT NULL AND documents_at < $1::TIMESTAMPTZ - make_interval(days => $2::INT)",
                &[&now, &i32::try_from(*ClaimSettings::RETENTION_DAYS.start()).unwrap_or(30)],
            )
            .await
            .context("finding bots that keep documents")?
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let mut purged = 0;
    for bot_id in bots {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let days = retention_days(&tx, bot_id).await?;
        let rows = tx
            .query(
                "UPDATE raffle_winners SET documents = NULL, documents_purged_at = $2
                 WHERE bot_id = $1 AND documents IS NOT NULL
                   AND documents_at < $2::TIMESTAMPTZ - make_interval(days => $3::INT)
                 RETURNING id, draw_id, documents_at",
                &[&bot_id, &now, &i32::try_from(days).unwrap_or(1095)],
            )
            .await
            .context("purging documents")?;
        for row in &rows {
            let winner_id: i64 = row.get(0);
            let documents_at: DateTime<Utc> = row.get(2);
            audit::record(
                &tx,
                bot_id,
                &Actor::System,
                "claim.documents_purged",
                &format!("winner:{winner_id}"),
                &json!({
                    "winner_id": winner_id,
                    "draw_id": row.get::<_, i64>(1),
                    "documents_at": documents_at,
                    "retention_days": days,
                }),
            )
            .await?;
        }
        tx.commit().await.context("committing the purge")?;
        purged += rows.len();
    }
    Ok(purged)
}

/// The claims part of the bridge's periodic sweep: failures are logged, not returned, so
/// a claims problem never stops the campaign relay.
pub async fn sweep(pool: &PgPool) {
    let now = Utc::now();
    match expire_due(pool, now).await {
        Ok(0) => {}
        Ok(expired) => tracing::info!(expired, "winners past their claim deadline re-rolled"),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "expiring claim deadlines failed")
        }
    }
    match purge_documents(pool, now).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "winners' documents deleted after retention"),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "purging claim documents failed")
        }
    }
}
