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

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

use super::raffle_spec::Slot;
use crate::config::CampaignSettings;
use crate::db::PgPool;
use crate::outbox::Delivery;
use crate::store::Redis;
use crate::telegram::TelegramClient;
use crate::texts::Texts;
use crate::users::Users;

/// Name and version of [`draw_winners`], the algorithm of draws made before v2
/// ([`super::draw`]); kept so those draws stay verifiable.
pub const ALGORITHM_V1: &str = "weighted-sequential-without-replacement/chacha20-u64-rejection/v1";

/// Attempts per winner for transient send failures (429, 5xx, network) within one run.
const SEND_ATTEMPTS: u32 = 3;
/// Longest `retry_after` honoured in place; a longer one leaves the winner for the retry.
const MAX_IN_PLACE_WAIT: Duration = Duration::from_secs(10);
/// How long to wait before looking again at a winner's message another sender holds.
const OTHER_SENDER_WAIT: Duration = Duration::from_millis(500);

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
    let Some(mut outcome) = draw_raffle(app, campaign_id).await? else {
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

/// The transactional part of [`run_raffle`], without notifying anyone (the bench times
/// it): lock, look for a draw, snapshot, draw, record, complete.
pub async fn draw_raffle(app: &Raffles, campaign_id: i64) -> anyhow::Result<Option<RaffleOutcome>> {
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

    let plan = match plan_of(app, &tx, campaign_id, &content).await? {
        Ok(plan) => plan,
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

    if plan.burn {
        // The burn below must mark exactly the grants the snapshot counted: no grant may
        // be written in between (a few seconds of waiting for new tickets, only while an
        // intermediate draw that burns runs).
        tx.batch_execute("LOCK TABLE tickets IN SHARE MODE")
            .await
            .context("holding ticket grants for the burn")?;
    }
    let snapshot = snapshot_tickets(&tx, app.bot_id, &plan.eligibility).await?;
    let (algorithm, picks) = if plan.multiple_wins {
        let picks = super::draw::draw_tickets(&snapshot, &plan.seed, plan.slots.len());
        (super::draw::ALGORITHM_TICKETS, picks)
    } else {
        let picks = super::draw::draw(&snapshot, &plan.seed, plan.slots.len());
        (super::draw::ALGORITHM, picks)
    };
    let participants = i32::try_from(snapshot.participants()).unwrap_or(i32::MAX);
    let ticket_total = i64::try_from(snapshot.tickets()).unwrap_or(i64::MAX);
    let winner_count = i32::try_from(plan.slots.len())?;

    let draw_id: i64 = tx
        .query_one(
            "INSERT INTO raffle_draws
                 (bot_id, campaign_id, prize, winner_count, seed, snapshot, algorithm,
                  snapshot_hash, seed_commitment, participants, tickets, multiple_wins, burned)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            &[
                &app.bot_id,
                &campaign_id,
                &plan.title,
                &winner_count,
                &plan.seed.as_slice(),
                &snapshot.canonical(),
                &algorithm,
                &snapshot.hash(),
                &plan.commitment,
                &participants,
                &ticket_total,
                &plan.multiple_wins,
                &plan.burn,
            ],
        )
        .await
        .context("recording the draw")?
        .get(0);
    record_picks(&tx, app.bot_id, draw_id, &plan, &picks).await?;
    if let Some(losers) =
        write_losers_campaign(&tx, app.bot_id, draw_id, &plan, &snapshot, &picks).await?
    {
        tracing::info!(
            campaign_id,
            draw_id,
            losers_campaign = losers,
            "losers will be told"
        );
    }
    if plan.burn {
        let burned = tx
            .execute(
                &format!(
                    "UPDATE tickets SET burned_by_draw = {draw_id}
                     WHERE id IN (SELECT t.id {})",
                    eligible_from_where(app.bot_id, &plan.eligibility)
                ),
                &[],
            )
            .await
            .context("burning the draw's tickets")?;
        tracing::info!(campaign_id, draw_id, burned, "tickets burned");
    }
    let error = (snapshot.participants() == 0)
        .then_some("no participants: nobody held tickets at the draw");
    let total = i32::try_from(picks.len().min(plan.winners()))?;
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
        picks = picks.len(),
        "raffle drawn"
    );
    Ok(Some(RaffleOutcome {
        status: "completed".into(),
        draw_id: Some(draw_id),
        newly_drawn: true,
        winners: total as usize,
        notified: 0,
    }))
}

/// Which tickets a draw counts (besides the fixed rules: registered, not a test shopper,
/// accepted receipts or manual grants, not burned by an earlier draw).
#[derive(Debug, Clone, Default)]
struct Eligibility {
    window_from: Option<chrono::NaiveDateTime>,
    window_to: Option<chrono::NaiveDateTime>,
    time_zone: String,
}

/// Everything the draw of one raffle needs.
struct Plan {
    title: String,
    seed: [u8; 32],
    commitment: String,
    slots: Vec<Slot>,
    /// `raffle_prizes.id` by prize index; `None` for a raffle made before the model.
    prize_ids: Vec<Option<i64>>,
    multiple_wins: bool,
    burn: bool,
    eligibility: Eligibility,
    /// Told to every participant who won nothing, when the raffle says so.
    losers_message: Option<super::raffle_spec::RaffleMessage>,
}

impl Plan {
    /// Picks that win (not reserves).
    fn winners(&self) -> usize {
        self.slots.iter().filter(|slot| !slot.reserve).count()
    }
}

/// The raffle's plan: from its model, opening its sealed seed (which must match the
/// commitment published at creation), or for a raffle created before the model, from its
/// content with a seed drawn now. `Ok(Err)` is a reason to fail the raffle.
async fn plan_of(
    app: &Raffles,
    tx: &impl deadpool_postgres::GenericClient,
    campaign_id: i64,
    content: &Value,
) -> anyhow::Result<Result<Plan, String>> {
    let Some(raffle) = super::raffle_spec::load(tx, app.bot_id, campaign_id).await? else {
        let (prize, winner_count) = match parse_content(content) {
            Ok(parsed) => parsed,
            Err(reason) => return Ok(Err(reason)),
        };
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        return Ok(Ok(Plan {
            title: prize,
            commitment: super::draw::commitment(&seed),
            seed,
            slots: super::raffle_spec::slots(&[winner_count], 0),
            prize_ids: vec![None],
            multiple_wins: false,
            burn: false,
            eligibility: Eligibility::default(),
            losers_message: None,
        }));
    };
    // A seed that does not open is this process's key, not the raffle: the job fails and
    // is retried (then dead-lettered for an operator), and the raffle stays drawable once
    // the runner has the right PRIZE_DATA_KEY.
    let seed = app
        .prize_key
        .open_seed(campaign_id, &raffle.seed_sealed)
        .map_err(|_| {
            anyhow::anyhow!(
                "raffle {campaign_id}: its sealed seed does not open with this PRIZE_DATA_KEY"
            )
        })?;
    if super::draw::commitment(&seed) != raffle.seed_commitment {
        return Ok(Err(
            "the raffle's seed does not match its published commitment".to_owned(),
        ));
    }
    Ok(Ok(Plan {
        title: raffle.spec.title.clone(),
        seed,
        commitment: raffle.seed_commitment.clone(),
        slots: raffle.slots(),
        prize_ids: raffle.prizes.iter().map(|p| Some(p.id)).collect(),
        multiple_wins: raffle.spec.multiple_wins,
        burn: raffle.spec.burn_tickets,
        eligibility: Eligibility {
            window_from: raffle.spec.window_from,
            window_to: raffle.spec.window_to,
            time_zone: raffle.spec.time_zone.clone(),
        },
        losers_message: raffle
            .spec
            .lose_message
            .clone()
            .filter(|_| raffle.spec.notify_losers),
    }))
}

/// `FROM … WHERE …` of the eligible ticket grants (alias `t`). COPY takes no parameters,
/// so the values are written in: integers, timestamps chrono formats, and a time zone
/// with its quotes doubled.
///
/// Shaped for a million participants: the grants are read from a covering index in user
/// order (`tickets_draw_idx`), and the few receipts that are not accepted and the few
/// shoppers who may not take part are anti-joins on small partial indexes, so the draw
/// never hashes every receipt and every shopper (migration 0012, BENCHMARKS.md).
fn eligible_from_where(bot_id: i64, eligibility: &Eligibility) -> String {
    let windowed = eligibility.window_from.is_some() || eligibility.window_to.is_some();
    let mut sql = String::from("FROM tickets t");
    if windowed {
        sql.push_str(" LEFT JOIN receipts r ON r.id = t.receipt_id");
    }
    sql.push_str(&format!(
        " WHERE t.bot_id = {bot_id} AND t.burned_by_draw IS NULL
           AND NOT EXISTS (SELECT 1 FROM receipts x
                           WHERE x.id = t.receipt_id AND x.status <> 'accepted')
           AND NOT EXISTS (SELECT 1 FROM users u
                           WHERE u.id = t.user_id AND (u.status <> 'registered' OR u.is_test))"
    ));
    if windowed {
        let zone = eligibility.time_zone.replace('\'', "''");
        // A receipt counts by its printed purchase time, a manual grant by when it was
        // made, in the promo's time zone.
        let at = format!("COALESCE(r.receipt_at, t.created_at AT TIME ZONE '{zone}')");
        if let Some(from) = eligibility.window_from {
            sql.push_str(&format!(
                " AND {at} >= TIMESTAMP '{}'",
                from.format("%Y-%m-%d %H:%M:%S")
            ));
        }
        if let Some(to) = eligibility.window_to {
            sql.push_str(&format!(
                " AND {at} < TIMESTAMP '{}'",
                to.format("%Y-%m-%d %H:%M:%S")
            ));
        }
    }
    sql
}

/// The eligible tickets per user, streamed out of Postgres in user order (COPY, so a
/// million participants never sit in memory as rows), into the draw's snapshot.
async fn snapshot_tickets(
    tx: &deadpool_postgres::Transaction<'_>,
    bot_id: i64,
    eligibility: &Eligibility,
) -> anyhow::Result<super::draw::Snapshot> {
    use futures::StreamExt;
    let query = format!(
        "COPY (SELECT t.user_id, SUM(t.amount)::BIGINT {}
               GROUP BY t.user_id HAVING SUM(t.amount) > 0
               ORDER BY t.user_id) TO STDOUT",
        eligible_from_where(bot_id, eligibility)
    );
    let stream = tx
        .copy_out(query.as_str())
        .await
        .context("snapshotting tickets")?;
    futures::pin_mut!(stream);
    let mut snapshot = super::draw::Snapshot::new();
    let mut carry: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        carry.extend_from_slice(&chunk.context("reading the ticket snapshot")?);
        let complete = carry.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in carry[..complete]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let (user_id, tickets) = copy_row(line).context("a snapshot row")?;
            // Sorted by id and positive by the query: a refusal here is a broken query.
            snapshot
                .push(user_id, tickets)
                .context("building the ticket snapshot")?;
        }
        carry.drain(..complete);
    }
    anyhow::ensure!(carry.is_empty(), "the ticket snapshot ended mid-row");
    Ok(snapshot)
}

/// `user_id<TAB>tickets` of COPY's text format.
fn copy_row(line: &[u8]) -> Option<(i64, i64)> {
    let line = std::str::from_utf8(line).ok()?;
    let (user, tickets) = line.split_once('\t')?;
    Some((user.parse().ok()?, tickets.parse().ok()?))
}

/// One `raffle_winners` row per pick, with its prize and whether it wins or reserves;
/// winners start their claim now, with the deadline of the bot's setting.
async fn record_picks(
    tx: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    draw_id: i64,
    plan: &Plan,
    picks: &[(i64, i64)],
) -> anyhow::Result<()> {
    let mut positions = Vec::with_capacity(picks.len());
    let mut users = Vec::with_capacity(picks.len());
    let mut tickets = Vec::with_capacity(picks.len());
    let mut prizes: Vec<Option<i64>> = Vec::with_capacity(picks.len());
    let mut reserves = Vec::with_capacity(picks.len());
    for (index, ((user_id, held), slot)) in picks.iter().zip(&plan.slots).enumerate() {
        positions.push(i32::try_from(index + 1)?);
        users.push(*user_id);
        tickets.push(i32::try_from(*held).unwrap_or(i32::MAX));
        prizes.push(plan.prize_ids.get(slot.prize).copied().flatten());
        reserves.push(slot.reserve);
    }
    let hours = super::claims::deadline_hours(tx, bot_id).await?;
    tx.execute(
        "INSERT INTO raffle_winners
             (draw_id, bot_id, user_id, position, tickets_at_draw, prize_id, is_reserve,
              claim_status, activated_at, claim_deadline)
         SELECT $1, $2, p.user_id, p.position, p.tickets, p.prize_id, p.reserve,
                CASE WHEN p.reserve THEN 'reserve' ELSE 'notified' END,
                CASE WHEN p.reserve THEN NULL ELSE now() END,
                CASE WHEN p.reserve OR p.prize_id IS NULL THEN NULL
                     ELSE now() + make_interval(hours => ($8::BIGINT)::INT) END
         FROM unnest($3::int[], $4::bigint[], $5::int[], $6::bigint[], $7::bool[])
              AS p(position, user_id, tickets, prize_id, reserve)",
        &[
            &draw_id, &bot_id, &positions, &users, &tickets, &prizes, &reserves, &hours,
        ],
    )
    .await
    .context("recording the picks")?;
    Ok(())
}

/// The message to everyone in the snapshot who won no prize (reserves included: they
/// have not won yet), as a broadcast of its own materialised here, in the draw's
/// transaction: each participant is told exactly once, by the campaign engine and its
/// delivery ledger, at the broadcast rate. Each delivery carries the recipient's
/// `{name}`, `{tickets}` and `{prize}` (the raffle's title). `None` when nobody is to be
/// told.
async fn write_losers_campaign(
    tx: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    draw_id: i64,
    plan: &Plan,
    snapshot: &super::draw::Snapshot,
    picks: &[(i64, i64)],
) -> anyhow::Result<Option<i64>> {
    let Some(message) = &plan.losers_message else {
        return Ok(None);
    };
    let winners: std::collections::HashSet<i64> = picks
        .iter()
        .zip(&plan.slots)
        .filter(|(_, slot)| !slot.reserve)
        .map(|((user_id, _), _)| *user_id)
        .collect();
    let (users, tickets): (Vec<i64>, Vec<i64>) = snapshot
        .entries()
        .filter(|(user_id, _)| !winners.contains(user_id))
        .unzip();
    let campaign = super::create::NewCampaign {
        kind: "broadcast",
        content: serde_json::json!({ "text": message.text, "photo": message.photo }),
        audience: serde_json::json!({ "raffle_losers": draw_id }),
        scheduled_for: None,
        paid_broadcast: false,
    };
    let losers =
        super::create::insert_scheduled(tx, bot_id, &crate::audit::Actor::System, &campaign)
            .await?;
    tx.execute(
        "INSERT INTO campaign_deliveries (campaign_id, bot_id, user_id, chat_id, vars)
         SELECT $1, $2, u.id, u.telegram_id,
                jsonb_build_object('name', COALESCE(u.first_name, ''), 'tickets', s.tickets,
                                   'prize', $5::TEXT)
         FROM unnest($3::BIGINT[], $4::BIGINT[]) AS s(user_id, tickets)
         JOIN users u ON u.id = s.user_id
         WHERE u.bot_id = $2 AND u.reachable
         ORDER BY u.id",
        &[&losers, &bot_id, &users, &tickets, &plan.title],
    )
    .await
    .context("materialising the losers' messages")?;
    tx.execute(
        "UPDATE campaigns
         SET materialized_at = now(),
             total = (SELECT count(*) FROM campaign_deliveries WHERE campaign_id = $1)::INT
         WHERE id = $1",
        &[&losers],
    )
    .await?;
    tx.execute(
        "UPDATE raffle_draws SET losers_campaign_id = $2 WHERE id = $1",
        &[&draw_id, &losers],
    )
    .await?;
    Ok(Some(losers))
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
            "SELECT d.algorithm, d.seed, d.seed_commitment, d.snapshot_hash, d.ticket_snapshot,
                    d.winner_count, d.prize, d.drawn_at, d.snapshot, r.seed_commitment
             FROM raffle_draws d LEFT JOIN raffles r ON r.campaign_id = d.campaign_id
             WHERE d.id = $1 AND d.bot_id = $2",
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
    let stored_json: Option<Value> = row.get(4);
    let winner_count: i32 = row.get(5);
    let prize: String = row.get(6);
    let drawn_at: chrono::DateTime<chrono::Utc> = row.get(7);
    let stored_text: Option<Vec<u8>> = row.get(8);
    let published: Option<String> = row.get(9);
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
    drop(client);
    let mut problems = Vec::new();
    let seed: [u8; 32] = seed_bytes.as_slice().try_into().unwrap_or_else(|_| {
        problems.push(format!("the seed is {} bytes, not 32", seed_bytes.len()));
        [0u8; 32]
    });
    let picks = usize::try_from(winner_count).unwrap_or(0);
    let (snapshot, entries) = match (&stored_text, &stored_json) {
        (Some(text), _) => match super::draw::Snapshot::parse(text) {
            Ok(snapshot) => {
                // The hash is of the entries; bytes that parse to them but differ ("+5",
                // "007", "\r\n") would verify here and not for someone hashing the file.
                if snapshot.canonical() != *text {
                    problems.push("the stored snapshot is not in canonical form".to_owned());
                }
                let entries = snapshot.entries().collect();
                (Some(snapshot), entries)
            }
            Err(error) => {
                problems.push(format!("the stored snapshot is malformed: {error}"));
                (None, Vec::new())
            }
        },
        (None, Some(json)) => {
            let entries = snapshot_from_json(json).unwrap_or_else(|| {
                problems.push("the stored snapshot is not a list of {user_id, tickets}".to_owned());
                Vec::new()
            });
            let mut snapshot = super::draw::Snapshot::new();
            let mut valid = true;
            for (user_id, tickets) in &entries {
                if let Err(error) = snapshot.push(*user_id, *tickets) {
                    valid = false;
                    if algorithm != ALGORITHM_V1 {
                        problems.push(format!("the stored snapshot is malformed: {error}"));
                    }
                    break;
                }
            }
            (valid.then_some(snapshot), entries)
        }
        (None, None) => {
            problems.push("the draw has no stored snapshot".to_owned());
            (None, Vec::new())
        }
    };
    let (recomputed, recomputed_snapshot_hash) = if algorithm == ALGORITHM_V1 {
        (draw_winners(&entries, picks, seed), None)
    } else if let Some(snapshot) = &snapshot {
        if seed_commitment.as_deref() != Some(super::draw::commitment(&seed).as_str()) {
            problems.push("the seed does not match its commitment".to_owned());
        }
        if published.is_some() && published != seed_commitment {
            problems.push(
                "the draw's commitment is not the one published when the raffle was created"
                    .to_owned(),
            );
        }
        let hash = snapshot.hash();
        if snapshot_hash.as_deref() != Some(hash.as_str()) {
            problems.push("the stored snapshot does not match its recorded hash".to_owned());
        }
        match super::draw::draw_with(&algorithm, snapshot, &seed, picks) {
            Some(redone) => (redone, Some(hash)),
            None => {
                problems.push(format!("unknown algorithm {algorithm:?}"));
                (Vec::new(), Some(hash))
            }
        }
    } else {
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

/// Reads a `ticket_snapshot` of a draw made before the canonical text was stored.
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
                   AND w.claim_status = 'notified'
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
        let Some(outbox_id) = crate::outbox::find_by_key(
            &app.pool,
            app.bot_id,
            &super::claims::message_key(winner_id),
        )
        .await?
        else {
            continue;
        };
        let mut delivery = Delivery::Later;
        for _ in 0..SEND_ATTEMPTS {
            delivery = app.sender.deliver(outbox_id, MAX_IN_PLACE_WAIT).await?;
            match delivery {
                Delivery::Later => {}
                // The outbox relay holds this very message right now: its send takes
                // moments, so look again shortly instead of leaving the winner unmarked
                // (and the operator's counter short) until the job's next run.
                Delivery::NotOurs => tokio::time::sleep(OTHER_SENDER_WAIT).await,
                _ => break,
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
            "SELECT w.id FROM raffle_winners w JOIN users u ON u.id = w.user_id
             WHERE w.draw_id = $1 AND w.notified_at IS NULL AND u.reachable
               AND w.claim_status = 'notified'
             ORDER BY w.position",
            &[&draw_id],
        )
        .await?;
    for row in &rows {
        super::claims::write_claim_message(client, app.bot_id, &app.texts, row.get(0)).await?;
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
    use serde_json::json;

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
