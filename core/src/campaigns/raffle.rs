//! Raffle draws: a one-time, ticket-weighted, reproducible draw of a raffle campaign's
//! winners, and their notification (invariant 4).
//!
//! The draw runs in one transaction that locks the campaign row and first looks for an
//! existing draw, so concurrent or repeated jobs never draw twice. The seed comes from
//! the OS CSPRNG and is stored with the ticket snapshot, its SHA-256, the seed's
//! commitment and the algorithm's name ([`super::draw`], v2), so anyone can redo the draw
//! ([`verify_draw`], `promo verify-draw`, `infra/verify_draw.py`). Each winner's message is written
//! to the outbox in the draw's transaction (invariant 9: no draw without its messages);
//! they are sent after the commit, each under a row lock, and `notified_at` is set only
//! after a successful send: a re-run notifies only those not yet notified.

use crate::t;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

use crate::config::CampaignSettings;
use crate::db::PgPool;
use crate::outbox::{Delivery, NewMessage, Purpose};
use crate::store::Redis;
use crate::telegram::TelegramClient;
use crate::telegram::{OutgoingMessage, SendMessage};
use crate::texts::Lang;
use crate::texts::Texts;
use crate::users::Users;

/// Name and version of [`draw_winners`], the algorithm of draws made before v2
/// ([`super::draw`]); kept so those draws stay verifiable.
pub const ALGORITHM_V1: &str = "weighted-sequential-without-replacement/chacha20-u64-rejection/v1";

/// Attempts per winner for transient send failures (429, 5xx, network) within one run.
const SEND_ATTEMPTS: u32 = 3;
/// Longest `retry_after` honoured in place; a longer one leaves the winner for the retry.
const MAX_IN_PLACE_WAIT: Duration = Duration::from_secs(10);

/// What drawing and notifying winners needs.
#[derive(Clone)]
pub struct Raffles {
    pub pool: PgPool,
    pub bot_id: i64,
    pub redis: Redis,
    pub telegram: TelegramClient,
    pub texts: Texts,
    pub users: Users,
    /// Winner messages share the bot's send rate with broadcasts.
    pub settings: Arc<CampaignSettings>,
    /// Winner messages are outbox rows, sent through it.
    pub sender: crate::outbox::Sender,
    /// Opens the raffle's sealed seed at its draw.
    pub prize_key: crate::pii::PrizeKey,
}

/// Draws up to `winner_count` distinct winners from `snapshot` (`(user_id, tickets)`),
/// each pick weighted by tickets among those not yet picked. Deterministic for a given
/// snapshot (order matters) and seed. Entries with no tickets never win; if fewer users
/// hold tickets than `winner_count`, all of them win. Returns winners in draw order.
pub fn draw_winners(
    snapshot: &[(i64, i64)],
    winner_count: usize,
    seed: [u8; 32],
) -> Vec<(i64, i64)> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut pool: Vec<(i64, i64)> = snapshot.iter().copied().filter(|(_, t)| *t > 0).collect();
    let mut winners = Vec::with_capacity(winner_count.min(pool.len()));
    while winners.len() < winner_count && !pool.is_empty() {
        // Sums of i64 ticket counts of positive entries fit u64 for any real promo; the
        // saturating add only keeps an absurd snapshot from panicking.
        let total = pool
            .iter()
            .fold(0u64, |sum, (_, t)| sum.saturating_add(*t as u64));
        let mut ticket = uniform_below(&mut rng, total);
        let mut index = pool.len() - 1;
        for (i, (_, tickets)) in pool.iter().enumerate() {
            let tickets = *tickets as u64;
            if ticket < tickets {
                index = i;
                break;
            }
            ticket -= tickets;
        }
        // `remove`, not `swap_remove`: keeping the order keeps the algorithm simple to
        // restate for anyone verifying a draw.
        winners.push(pool.remove(index));
    }
    winners
}

/// A uniform integer in `0..n` (`n > 0`) by rejection sampling on raw `next_u64`, so the
/// result depends only on the ChaCha20 stream, not on `rand`'s sampling internals.
fn uniform_below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    let n = n.max(1);
    // The largest multiple of n that fits: values at or above it would bias the modulo.
    let limit = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < limit {
            return x % n;
        }
    }
}

/// What [`run_raffle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaffleOutcome {
    /// The campaign's status afterwards (`completed`, or `failed` for invalid content).
    pub status: String,
    /// The draw, `None` when the content was invalid.
    pub draw_id: Option<i64>,
    /// Whether this run made the draw (false: it existed already).
    pub newly_drawn: bool,
    pub winners: usize,
    /// Winners notified by this run.
    pub notified: usize,
}

/// Draws raffle campaign `campaign_id` once and notifies its winners. `None` when it is
/// not a raffle of this bot, or is neither drawn already nor due (draft, paused,
/// cancelled, scheduled later). A drawn raffle is never drawn again; running it again
/// only notifies winners still waiting for their message. Fails (so the queue retries)
/// when a winner could not be notified for a transient reason.
pub async fn run_raffle(app: &Raffles, campaign_id: i64) -> anyhow::Result<Option<RaffleOutcome>> {
    let Some(mut outcome) = draw(app, campaign_id).await? else {
        return Ok(None);
    };
    if let Some(draw_id) = outcome.draw_id {
        let (notified, pending) = notify_winners(app, draw_id).await?;
        outcome.notified = notified;
        record_counters(app, campaign_id, draw_id).await?;
        if pending > 0 {
            anyhow::bail!("raffle {campaign_id}: {pending} winners not notified yet, retrying");
        }
    }
    Ok(Some(outcome))
}

/// The transactional part: lock, look for a draw, snapshot, draw, record, complete.
async fn draw(app: &Raffles, campaign_id: i64) -> anyhow::Result<Option<RaffleOutcome>> {
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    // The row lock serialises concurrent jobs for this campaign: the second one waits
    // and then sees the first one's draw.
    let Some(campaign) = tx
        .query_opt(
            "SELECT status, content, (scheduled_for IS NULL OR scheduled_for <= now())
             FROM campaigns WHERE id = $1 AND bot_id = $2 AND kind = 'raffle' FOR UPDATE",
            &[&campaign_id, &app.bot_id],
        )
        .await
        .context("locking the raffle")?
    else {
        return Ok(None);
    };
    let status: String = campaign.get(0);
    let content: Value = campaign.get(1);
    let due: bool = campaign.get(2);

    if let Some(row) = tx
        .query_opt(
            "SELECT d.id, (SELECT count(*) FROM raffle_winners w WHERE w.draw_id = d.id)
             FROM raffle_draws d WHERE d.campaign_id = $1",
            &[&campaign_id],
        )
        .await?
    {
        tx.commit().await?;
        let winners: i64 = row.get(1);
        return Ok(Some(RaffleOutcome {
            status,
            draw_id: Some(row.get(0)),
            newly_drawn: false,
            winners: usize::try_from(winners).unwrap_or(0),
            notified: 0,
        }));
    }
    if !(status == "running" || (status == "scheduled" && due)) {
        return Ok(None);
    }

    let (prize, winner_count) = match parse_content(&content) {
        Ok(parsed) => parsed,
        Err(reason) => {
            tracing::warn!(campaign_id, reason, "raffle failed");
            tx.execute(
                "UPDATE campaigns SET status = 'failed', error = $2, finished_at = now(),
                        updated_at = now()
                 WHERE id = $1",
                &[&campaign_id, &reason],
            )
            .await?;
            tx.commit().await?;
            return Ok(Some(RaffleOutcome {
                status: "failed".into(),
                draw_id: None,
                newly_drawn: false,
                winners: 0,
                notified: 0,
            }));
        }
    };

    // Ordered by user id: the snapshot's order is part of what makes the draw
    // reproducible. Banned users are excluded by `status = 'registered'`, the panel's
    // test shoppers by `is_test`.
    let rows = tx
        .query(
            "SELECT u.id, SUM(t.amount)::BIGINT
             FROM users u JOIN tickets t ON t.user_id = u.id AND t.bot_id = u.bot_id
             WHERE u.bot_id = $1 AND u.status = 'registered' AND NOT u.is_test
             GROUP BY u.id HAVING SUM(t.amount) > 0
             ORDER BY u.id",
            &[&app.bot_id],
        )
        .await
        .context("snapshotting tickets")?;
    let mut snapshot = super::draw::Snapshot::new();
    for row in &rows {
        // Sorted by id and positive by the query: a refusal here is a broken query.
        snapshot
            .push(row.get(0), row.get(1))
            .context("building the ticket snapshot")?;
    }

    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let winners = super::draw::draw(&snapshot, &seed, winner_count as usize);
    let participants = i32::try_from(snapshot.participants()).unwrap_or(i32::MAX);
    let ticket_total = i64::try_from(snapshot.tickets()).unwrap_or(i64::MAX);

    let draw_id: i64 = tx
        .query_one(
            "INSERT INTO raffle_draws
                 (bot_id, campaign_id, prize, winner_count, seed, ticket_snapshot, algorithm,
                  snapshot_hash, seed_commitment, participants, tickets)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                &app.bot_id,
                &campaign_id,
                &prize,
                &winner_count,
                &seed.as_slice(),
                &snapshot_json(&snapshot.entries().collect::<Vec<_>>()),
                &super::draw::ALGORITHM,
                &snapshot.hash(),
                &super::draw::commitment(&seed),
                &participants,
                &ticket_total,
            ],
        )
        .await
        .context("recording the draw")?
        .get(0);
    for (position, (user_id, tickets)) in winners.iter().enumerate() {
        let position = i32::try_from(position + 1)?;
        let tickets = i32::try_from(*tickets).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw)
             VALUES ($1, $2, $3, $4, $5)",
            &[&draw_id, &app.bot_id, user_id, &position, &tickets],
        )
        .await
        .context("recording a winner")?;
    }
    let error = (snapshot.participants() == 0)
        .then_some("no participants: nobody held tickets at the draw");
    let total = i32::try_from(winners.len())?;
    tx.execute(
        "UPDATE campaigns
         SET status = 'completed', total = $2, error = $3,
             started_at = COALESCE(started_at, now()), finished_at = now(), updated_at = now()
         WHERE id = $1",
        &[&campaign_id, &total, &error],
    )
    .await?;
    write_winner_messages(&tx, app, draw_id).await?;
    tx.commit().await.context("committing the draw")?;
    tracing::info!(
        campaign_id,
        draw_id,
        participants = snapshot.participants(),
        winners = winners.len(),
        "raffle drawn"
    );
    Ok(Some(RaffleOutcome {
        status: "completed".into(),
        draw_id: Some(draw_id),
        newly_drawn: true,
        winners: winners.len(),
        notified: 0,
    }))
}

/// `{"prize": "...", "winner_count": N}`; the error is shown to the operator.
fn parse_content(content: &Value) -> Result<(String, i32), String> {
    let prize = content
        .get("prize")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or("a raffle needs a prize")?;
    let winner_count = content
        .get("winner_count")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or("a raffle needs a positive winner_count")?;
    Ok((prize.to_owned(), winner_count))
}

/// What redoing a recorded draw found ([`verify_draw`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawCheck {
    pub draw_id: i64,
    pub prize: String,
    pub drawn_at: chrono::DateTime<chrono::Utc>,
    /// How many winners the draw asked for.
    pub picks: usize,
    pub algorithm: String,
    pub seed: [u8; 32],
    /// As recorded (`None` for v1 draws, which had none).
    pub seed_commitment: Option<String>,
    pub snapshot_hash: Option<String>,
    /// The stored snapshot's hash now.
    pub recomputed_snapshot_hash: Option<String>,
    /// The stored snapshot, `(user_id, tickets)` in its order.
    pub entries: Vec<(i64, i64)>,
    /// Winners as recorded and as redone, `(user_id, tickets)` in draw order.
    pub recorded: Vec<(i64, i64)>,
    pub recomputed: Vec<(i64, i64)>,
    /// Why the check could not be done or failed, in words.
    pub problems: Vec<String>,
}

impl DrawCheck {
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn seed_hex(&self) -> String {
        super::draw::hex(&self.seed)
    }

    pub fn participants(&self) -> usize {
        self.entries.len()
    }

    /// Tickets in the stored snapshot.
    pub fn tickets(&self) -> i64 {
        self.entries.iter().map(|(_, t)| *t).sum()
    }
}

/// Redoes draw `draw_id` of this bot from what was recorded: the seed against its
/// commitment, the snapshot against its hash, the winners against the algorithm. `None`:
/// no such draw.
pub async fn verify_draw(
    pool: &PgPool,
    bot_id: i64,
    draw_id: i64,
) -> anyhow::Result<Option<DrawCheck>> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT algorithm, seed, seed_commitment, snapshot_hash, ticket_snapshot, winner_count,
                    prize, drawn_at
             FROM raffle_draws WHERE id = $1 AND bot_id = $2",
            &[&draw_id, &bot_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let algorithm: String = row.get(0);
    let seed_bytes: Vec<u8> = row.get(1);
    let seed_commitment: Option<String> = row.get(2);
    let snapshot_hash: Option<String> = row.get(3);
    let stored: Value = row.get(4);
    let winner_count: i32 = row.get(5);
    let prize: String = row.get(6);
    let drawn_at: chrono::DateTime<chrono::Utc> = row.get(7);
    let recorded: Vec<(i64, i64)> = client
        .query(
            "SELECT user_id, tickets_at_draw::BIGINT FROM raffle_winners
             WHERE draw_id = $1 ORDER BY position",
            &[&draw_id],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let mut problems = Vec::new();
    let seed: [u8; 32] = seed_bytes.as_slice().try_into().unwrap_or_else(|_| {
        problems.push(format!("the seed is {} bytes, not 32", seed_bytes.len()));
        [0u8; 32]
    });
    let entries = snapshot_from_json(&stored).unwrap_or_else(|| {
        problems.push("the stored snapshot is not a list of {user_id, tickets}".to_owned());
        Vec::new()
    });
    let picks = usize::try_from(winner_count).unwrap_or(0);
    let (recomputed, recomputed_snapshot_hash) = if algorithm == super::draw::ALGORITHM {
        let mut snapshot = super::draw::Snapshot::new();
        for (user_id, tickets) in &entries {
            if let Err(error) = snapshot.push(*user_id, *tickets) {
                problems.push(format!("the stored snapshot is malformed: {error}"));
                break;
            }
        }
        if seed_commitment.as_deref() != Some(super::draw::commitment(&seed).as_str()) {
            problems.push("the seed does not match its commitment".to_owned());
        }
        let hash = snapshot.hash();
        if snapshot_hash.as_deref() != Some(hash.as_str()) {
            problems.push("the stored snapshot does not match its recorded hash".to_owned());
        }
        (super::draw::draw(&snapshot, &seed, picks), Some(hash))
    } else if algorithm == ALGORITHM_V1 {
        (draw_winners(&entries, picks, seed), None)
    } else {
        problems.push(format!("unknown algorithm {algorithm:?}"));
        (Vec::new(), None)
    };
    if recomputed != recorded {
        problems.push("the recorded winners are not the ones the draw gives".to_owned());
    }
    Ok(Some(DrawCheck {
        draw_id,
        prize,
        drawn_at,
        picks,
        algorithm,
        seed,
        seed_commitment,
        snapshot_hash,
        recomputed_snapshot_hash,
        entries,
        recorded,
        recomputed,
        problems,
    }))
}

/// The snapshot as stored in `raffle_draws.ticket_snapshot`.
pub fn snapshot_json(snapshot: &[(i64, i64)]) -> Value {
    Value::Array(
        snapshot
            .iter()
            .map(|(user_id, tickets)| json!({ "user_id": user_id, "tickets": tickets }))
            .collect(),
    )
}

/// Reads a stored `ticket_snapshot` back, for verifying a draw.
pub fn snapshot_from_json(value: &Value) -> Option<Vec<(i64, i64)>> {
    value
        .as_array()?
        .iter()
        .map(|entry| {
            Some((
                entry.get("user_id")?.as_i64()?,
                entry.get("tickets")?.as_i64()?,
            ))
        })
        .collect()
}

/// Sends each not-yet-notified, reachable winner the prize message. Returns (notified by
/// this run, still pending after a transient failure).
///
/// Each message is first written to the outbox (once per winner: its dedup key), so a
/// refused send is retried by the outbox even if this job is never run again, and a
/// message that fails for good is recorded with its reason. The winner row is locked while
/// its message is sent: a concurrent run skips it instead of waiting or sending twice.
async fn notify_winners(app: &Raffles, draw_id: i64) -> anyhow::Result<(usize, usize)> {
    {
        let client = app.pool.get().await?;
        write_winner_messages(&client, app, draw_id).await?;
    }
    let mut notified = 0;
    let mut pending = 0;
    let mut last_position = 0i32;
    loop {
        let mut client = app.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT w.id, w.position, u.telegram_id, u.reachable
                 FROM raffle_winners w
                 JOIN users u ON u.id = w.user_id
                 WHERE w.draw_id = $1 AND w.notified_at IS NULL AND w.position > $2
                 ORDER BY w.position LIMIT 1
                 FOR UPDATE OF w SKIP LOCKED",
                &[&draw_id, &last_position],
            )
            .await?
        else {
            break;
        };
        let winner_id: i64 = row.get(0);
        last_position = row.get(1);
        let reachable: bool = row.get(3);
        if !reachable {
            // Blocked the bot: a send would only earn another 403.
            continue;
        }
        let Some(outbox_id) =
            crate::outbox::find_by_key(&app.pool, app.bot_id, &winner_key(winner_id)).await?
        else {
            continue;
        };
        let mut delivery = Delivery::Later;
        for _ in 0..SEND_ATTEMPTS {
            delivery = app.sender.deliver(outbox_id, MAX_IN_PLACE_WAIT).await?;
            if delivery != Delivery::Later {
                break;
            }
        }
        match delivery {
            Delivery::Sent => {
                tx.execute(
                    "UPDATE raffle_winners SET notified_at = now() WHERE id = $1",
                    &[&winner_id],
                )
                .await?;
                tx.commit().await?;
                notified += 1;
            }
            // Recorded in the outbox with the reason (the sender marked a blocked user).
            Delivery::Blocked | Delivery::Failed => tx.commit().await?,
            Delivery::Later | Delivery::NotOurs => pending += 1,
        }
    }
    Ok((notified, pending))
}

fn winner_key(winner_id: i64) -> String {
    format!("winner:{winner_id}")
}

/// One outbox message per reachable winner of the draw, written once (the dedup key), in
/// the caller's transaction: the draw's own, so the winners and their messages exist
/// together; the notify step calls it again, which writes only what is missing.
async fn write_winner_messages(
    client: &impl deadpool_postgres::GenericClient,
    app: &Raffles,
    draw_id: i64,
) -> anyhow::Result<()> {
    let rows = client
        .query(
            "SELECT w.id, u.id, u.telegram_id, u.language, d.prize
             FROM raffle_winners w
             JOIN users u ON u.id = w.user_id
             JOIN raffle_draws d ON d.id = w.draw_id
             WHERE w.draw_id = $1 AND w.notified_at IS NULL AND u.reachable
             ORDER BY w.position",
            &[&draw_id],
        )
        .await?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        let lang = Lang::from_code(row.get(3)).unwrap_or(Lang::Ru);
        let prize: &str = row.get(4);
        let text = app
            .texts
            .render(t!("raffle_won"), lang, &[("prize", prize)])
            .await;
        let chat_id: i64 = row.get(2);
        messages.push((
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            chat_id,
            OutgoingMessage::Send(SendMessage::new(chat_id, text)),
        ));
    }
    for (winner_id, user_id, chat_id, message) in &messages {
        let new = NewMessage {
            purpose: Purpose::Winner,
            user_id: Some(*user_id),
            chat_id: *chat_id,
            message,
            dedup_key: Some(winner_key(*winner_id)),
        };
        crate::outbox::insert_message(client, app.bot_id, &new).await?;
    }
    Ok(())
}

/// Counters for the operator: `sent` winners notified, `blocked` winners unreachable.
async fn record_counters(app: &Raffles, campaign_id: i64, draw_id: i64) -> anyhow::Result<()> {
    let client = app.pool.get().await?;
    client
        .execute(
            "UPDATE campaigns c
             SET sent = s.sent, blocked = s.blocked, updated_at = now()
             FROM (SELECT count(*) FILTER (WHERE w.notified_at IS NOT NULL)::INT AS sent,
                          count(*) FILTER (WHERE w.notified_at IS NULL AND NOT u.reachable)::INT
                              AS blocked
                   FROM raffle_winners w JOIN users u ON u.id = w.user_id
                   WHERE w.draw_id = $2) s
             WHERE c.id = $1",
            &[&campaign_id, &draw_id],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(n: u64) -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed
    }

    #[test]
    fn the_same_seed_and_snapshot_give_the_same_winners() {
        let snapshot: Vec<(i64, i64)> = (1..=50).map(|id| (id, id % 7 + 1)).collect();
        for n in 0..100 {
            assert_eq!(
                draw_winners(&snapshot, 5, seed(n)),
                draw_winners(&snapshot, 5, seed(n))
            );
        }
    }

    #[test]
    fn a_user_wins_at_most_once() {
        let snapshot = vec![(1, 1000), (2, 1), (3, 1), (4, 1)];
        for n in 0..500 {
            let winners = draw_winners(&snapshot, 3, seed(n));
            let mut ids: Vec<i64> = winners.iter().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 3);
        }
    }

    #[test]
    fn fewer_participants_than_prizes_means_everyone_with_tickets_wins() {
        let snapshot = vec![(1, 2), (2, 0), (3, 5)];
        let mut winners = draw_winners(&snapshot, 10, seed(7));
        winners.sort_unstable();
        assert_eq!(winners, vec![(1, 2), (3, 5)]);
        assert!(draw_winners(&[], 3, seed(7)).is_empty());
    }

    #[test]
    fn a_user_with_nine_tickets_wins_about_nine_times_as_often_as_one_with_one() {
        let snapshot = vec![(1, 9), (2, 1)];
        let mut wins = [0u32; 2];
        for n in 0..10_000 {
            let winners = draw_winners(&snapshot, 1, seed(n));
            match winners.first() {
                Some((1, _)) => wins[0] += 1,
                Some((2, _)) => wins[1] += 1,
                other => panic!("unexpected winner {other:?}"),
            }
        }
        // Expected 9,000 : 1,000; the standard deviation is 30, so 7..11 is > 6 sigma.
        let ratio = f64::from(wins[0]) / f64::from(wins[1]);
        assert!((7.0..11.0).contains(&ratio), "ratio {ratio}, wins {wins:?}");
    }

    #[test]
    fn uniform_below_stays_in_range() {
        let mut rng = ChaCha20Rng::from_seed(seed(1));
        for n in [1u64, 2, 3, 10, u64::MAX] {
            for _ in 0..100 {
                assert!(uniform_below(&mut rng, n) < n);
            }
        }
    }

    #[test]
    fn raffle_content_is_validated() {
        assert_eq!(
            parse_content(&json!({"prize": " iPhone ", "winner_count": 3})),
            Ok(("iPhone".to_owned(), 3))
        );
        assert!(parse_content(&json!({"prize": "", "winner_count": 3})).is_err());
        assert!(parse_content(&json!({"prize": "x", "winner_count": 0})).is_err());
        assert!(parse_content(&json!({"prize": "x"})).is_err());
    }
}
