//! A raffle's model (prizes, receipt window, messages, reserves, schedule), checked in one
//! place for the panel and the bot, and stored with its seed sealed and the seed's
//! commitment published from the moment it exists (docs/DRAW.md, "Commit, then reveal").

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use deadpool_postgres::GenericClient;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::content::UPLOAD_PHOTO_PREFIX;
use super::create::{insert_scheduled, NewCampaign};
use crate::audit::{self, Actor};
use crate::pii::PrizeKey;
use crate::texts::check::check_template;
use crate::texts::Lang;

/// A prize worth more than this (in rubles) makes the organiser the winner's tax agent:
/// the winner's documents are collected before it is handed over.
pub const DOCUMENTS_ABOVE_RUB: i64 = 4_000;
/// What a win or lose message may say about its recipient.
pub const PLACEHOLDERS: &[&str] = &["name", "prize", "tickets"];
const MAX_PRIZES: usize = 100;
const MAX_PICKS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RaffleKind {
    Intermediate,
    Final,
}

impl RaffleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RaffleKind::Intermediate => "intermediate",
            RaffleKind::Final => "final",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "intermediate" => Some(RaffleKind::Intermediate),
            "final" => Some(RaffleKind::Final),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrizeSpec {
    pub name: String,
    pub quantity: i32,
    pub value_rub: i64,
    /// `upload:<id>`, a URL or a Telegram `file_id`.
    #[serde(default)]
    pub photo: Option<String>,
}

impl PrizeSpec {
    /// Whether the winner must hand in documents before it is handed over.
    pub fn needs_documents(&self) -> bool {
        self.value_rub > DOCUMENTS_ABOVE_RUB
    }
}

/// A win or lose message: text (a caption when there is a photo) with [`PLACEHOLDERS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleMessage {
    pub text: String,
    #[serde(default)]
    pub photo: Option<String>,
}

impl RaffleMessage {
    /// The text for one recipient.
    pub fn render(&self, name: &str, prize: &str, tickets: i64) -> String {
        crate::texts::render_template(
            &self.text,
            &[
                ("name", name),
                ("prize", prize),
                ("tickets", &tickets.to_string()),
            ],
        )
    }
}

/// Everything an operator decides about a raffle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaffleSpec {
    pub title: String,
    pub kind: RaffleKind,
    /// Receipts bought (printed time, local) in `[window_from, window_to)`; `None` is open.
    pub window_from: Option<NaiveDateTime>,
    pub window_to: Option<NaiveDateTime>,
    /// The promo's time zone, for manual grants and the schedule.
    pub time_zone: String,
    pub prizes: Vec<PrizeSpec>,
    pub multiple_wins: bool,
    pub burn_tickets: bool,
    pub reserves_per_prize: i32,
    pub win_message: RaffleMessage,
    pub lose_message: Option<RaffleMessage>,
    pub notify_losers: bool,
    /// `None`: draw now.
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// Why a spec was refused: the field (`prizes[1].quantity`) and what is wrong, for the
/// operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> SpecProblem {
    SpecProblem {
        field: field.into(),
        message: message.into(),
    }
}

/// One pick's place in the draw: which prize (index into the spec's prizes) it wins or
/// reserves. Picks fill the winners of every prize in order, then the reserves of every
/// prize in order (docs/DRAW.md, "Slots").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub prize: usize,
    pub reserve: bool,
}

/// The slots of a draw of `quantities` with `reserves` per prize, in pick order.
pub fn slots(quantities: &[i32], reserves: i32) -> Vec<Slot> {
    let mut slots = Vec::new();
    for (prize, quantity) in quantities.iter().enumerate() {
        for _ in 0..(*quantity).max(0) {
            slots.push(Slot {
                prize,
                reserve: false,
            });
        }
    }
    for prize in 0..quantities.len() {
        for _ in 0..reserves.max(0) {
            slots.push(Slot {
                prize,
                reserve: true,
            });
        }
    }
    slots
}

impl RaffleSpec {
    /// How many picks the draw makes: every prize's winners and reserves.
    pub fn picks(&self) -> usize {
        slots(
            &self.prizes.iter().map(|p| p.quantity).collect::<Vec<_>>(),
            self.reserves_per_prize,
        )
        .len()
    }

    /// How many picks win a prize (the rest are reserves).
    pub fn winners(&self) -> usize {
        self.prizes.iter().map(|p| p.quantity.max(0) as usize).sum()
    }

    /// Checks everything the runner and the shopper's messages rely on; `now` decides
    /// whether a schedule is in the past.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), SpecProblem> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 || has_control(title) {
            return Err(problem(
                "title",
                "a title has 1 to 200 characters and no control characters",
            ));
        }
        if let (Some(from), Some(to)) = (self.window_from, self.window_to) {
            if from >= to {
                return Err(problem("window_to", "the window must end after it starts"));
            }
        }
        if !crate::config::plausible_time_zone(&self.time_zone) {
            return Err(problem(
                "time_zone",
                "not an IANA time zone such as Europe/Moscow",
            ));
        }
        if self.prizes.is_empty() || self.prizes.len() > MAX_PRIZES {
            return Err(problem(
                "prizes",
                format!("a raffle has 1 to {MAX_PRIZES} prizes"),
            ));
        }
        for (index, prize) in self.prizes.iter().enumerate() {
            let name = prize.name.trim();
            if name.is_empty() || name.chars().count() > 200 || has_control(name) {
                return Err(problem(
                    format!("prizes[{index}].name"),
                    "a prize name has 1 to 200 characters and no control characters",
                ));
            }
            if !(1..=10_000).contains(&prize.quantity) {
                return Err(problem(
                    format!("prizes[{index}].quantity"),
                    "a quantity is 1 to 10,000",
                ));
            }
            if !(0..=1_000_000_000).contains(&prize.value_rub) {
                return Err(problem(
                    format!("prizes[{index}].value_rub"),
                    "a value is 0 to 1,000,000,000 rubles",
                ));
            }
            check_photo(&prize.photo, &format!("prizes[{index}].photo"))?;
        }
        if !(0..=100).contains(&self.reserves_per_prize) {
            return Err(problem("reserves_per_prize", "0 to 100 reserves per prize"));
        }
        if self.picks() > MAX_PICKS {
            return Err(problem(
                "prizes",
                format!("at most {MAX_PICKS} winners and reserves in one draw"),
            ));
        }
        check_message(&self.win_message, "win_message")?;
        match &self.lose_message {
            Some(message) => check_message(message, "lose_message")?,
            None if self.notify_losers => {
                return Err(problem(
                    "lose_message",
                    "notifying losers needs a lose message",
                ))
            }
            None => {}
        }
        if self.burn_tickets && self.kind == RaffleKind::Final {
            return Err(problem(
                "burn_tickets",
                "only an intermediate draw burns the tickets it used",
            ));
        }
        if let Some(at) = self.scheduled_for {
            if at < now - chrono::Duration::minutes(1) {
                return Err(problem("scheduled_for", "the time is in the past"));
            }
        }
        Ok(())
    }
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

fn check_photo(photo: &Option<String>, field: &str) -> Result<(), SpecProblem> {
    let Some(photo) = photo else {
        return Ok(());
    };
    let valid = match photo.strip_prefix(UPLOAD_PHOTO_PREFIX) {
        Some(id) => id.parse::<i64>().is_ok_and(|id| id > 0),
        None => !photo.trim().is_empty() && photo.len() <= 2048 && !has_control(photo),
    };
    if valid {
        Ok(())
    } else {
        Err(problem(field, "a photo is upload:<id>, a URL or a file_id"))
    }
}

fn check_message(message: &RaffleMessage, field: &str) -> Result<(), SpecProblem> {
    check_photo(&message.photo, &format!("{field}.photo"))?;
    // Russian plural forms: the texts a shopper gets are Russian first.
    check_template(&message.text, PLACEHOLDERS, Lang::Ru)
        .map_err(|p| problem(format!("{field}.text"), p.to_string()))?;
    if message.photo.is_some() && message.text.chars().count() > 1024 {
        return Err(problem(
            format!("{field}.text"),
            "a caption under a photo has at most 1,024 characters",
        ));
    }
    Ok(())
}

/// A raffle as created: its campaign and the commitment anyone may hold it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedRaffle {
    pub campaign_id: i64,
    pub seed_commitment: String,
}

/// Creates the raffle campaign of a validated `spec` in the caller's transaction: the
/// `scheduled` campaign (its insert wakes the bridge), the raffle with a fresh sealed seed
/// and its commitment, the prizes, and the audit row.
pub async fn create(
    client: &impl GenericClient,
    bot_id: i64,
    by: &Actor,
    spec: &RaffleSpec,
    key: &PrizeKey,
) -> anyhow::Result<CreatedRaffle> {
    let campaign = NewCampaign {
        kind: "raffle",
        // What the campaign list shows; the runner reads the `raffles` row.
        content: json!({ "prize": spec.title.trim(), "winner_count": spec.winners() }),
        audience: json!({}),
        scheduled_for: spec.scheduled_for,
        paid_broadcast: false,
    };
    let campaign_id = insert_scheduled(client, bot_id, by, &campaign).await?;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let seed_commitment = super::draw::commitment(&seed);
    let sealed = key.seal_seed(campaign_id, &seed);
    client
        .execute(
            "INSERT INTO raffles (campaign_id, bot_id, title, kind, window_from, window_to,
                                  time_zone, multiple_wins, burn_tickets, reserves_per_prize,
                                  win_message, lose_message, notify_losers, seed_sealed,
                                  seed_commitment)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            &[
                &campaign_id,
                &bot_id,
                &spec.title.trim(),
                &spec.kind.as_str(),
                &spec.window_from,
                &spec.window_to,
                &spec.time_zone,
                &spec.multiple_wins,
                &spec.burn_tickets,
                &spec.reserves_per_prize,
                &serde_json::to_value(&spec.win_message)?,
                &spec
                    .lose_message
                    .as_ref()
                    .map(serde_json::to_value)
                    .transpose()?,
                &spec.notify_losers,
                &sealed,
                &seed_commitment,
            ],
        )
        .await
        .context("recording the raffle")?;
    for (index, prize) in spec.prizes.iter().enumerate() {
        let position = i32::try_from(index + 1)?;
        client
            .execute(
                "INSERT INTO raffle_prizes (campaign_id, bot_id, position, name, quantity,
                                            value_rub, photo)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &campaign_id,
                    &bot_id,
                    &position,
                    &prize.name.trim(),
                    &prize.quantity,
                    &prize.value_rub,
                    &prize.photo,
                ],
            )
            .await
            .context("recording a prize")?;
    }
    audit::record(
        client,
        bot_id,
        by,
        "raffle.created",
        &format!("campaign:{campaign_id}"),
        &json!({
            "title": spec.title.trim(),
            "kind": spec.kind.as_str(),
            "prizes": spec.prizes.len(),
            "picks": spec.picks(),
            "seed_commitment": seed_commitment,
            "scheduled_for": spec.scheduled_for,
        }),
    )
    .await?;
    Ok(CreatedRaffle {
        campaign_id,
        seed_commitment,
    })
}

/// A stored prize with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrize {
    pub id: i64,
    pub spec: PrizeSpec,
}

/// A raffle as stored, for the runner and the panel.
#[derive(Debug, Clone)]
pub struct StoredRaffle {
    pub campaign_id: i64,
    pub spec: RaffleSpec,
    pub prizes: Vec<StoredPrize>,
    pub seed_sealed: Vec<u8>,
    pub seed_commitment: String,
}

impl StoredRaffle {
    pub fn slots(&self) -> Vec<Slot> {
        slots(
            &self
                .prizes
                .iter()
                .map(|p| p.spec.quantity)
                .collect::<Vec<_>>(),
            self.spec.reserves_per_prize,
        )
    }
}

/// Raffle `campaign_id` of this bot, with its prizes in order; `None` for a campaign that
/// is no raffle (or one created before raffles had a model).
pub async fn load(
    client: &impl GenericClient,
    bot_id: i64,
    campaign_id: i64,
) -> anyhow::Result<Option<StoredRaffle>> {
    let Some(row) = client
        .query_opt(
            "SELECT r.title, r.kind, r.window_from, r.window_to, r.time_zone, r.multiple_wins,
                    r.burn_tickets, r.reserves_per_prize, r.win_message, r.lose_message,
                    r.notify_losers, r.seed_sealed, r.seed_commitment, c.scheduled_for
             FROM raffles r JOIN campaigns c ON c.id = r.campaign_id
             WHERE r.campaign_id = $1 AND r.bot_id = $2",
            &[&campaign_id, &bot_id],
        )
        .await
        .context("loading the raffle")?
    else {
        return Ok(None);
    };
    let prizes: Vec<StoredPrize> = client
        .query(
            "SELECT id, name, quantity, value_rub, photo FROM raffle_prizes
             WHERE campaign_id = $1 ORDER BY position",
            &[&campaign_id],
        )
        .await?
        .iter()
        .map(|row| StoredPrize {
            id: row.get(0),
            spec: PrizeSpec {
                name: row.get(1),
                quantity: row.get(2),
                value_rub: row.get(3),
                photo: row.get(4),
            },
        })
        .collect();
    let message = |value: Option<Value>| -> anyhow::Result<Option<RaffleMessage>> {
        value
            .map(serde_json::from_value)
            .transpose()
            .context("a stored raffle message")
    };
    let kind: String = row.get(1);
    let spec = RaffleSpec {
        title: row.get(0),
        kind: RaffleKind::parse(&kind).context("a stored raffle kind")?,
        window_from: row.get(2),
        window_to: row.get(3),
        time_zone: row.get(4),
        prizes: prizes.iter().map(|p| p.spec.clone()).collect(),
        multiple_wins: row.get(5),
        burn_tickets: row.get(6),
        reserves_per_prize: row.get(7),
        win_message: message(Some(row.get(8)))?.context("a raffle without a win message")?,
        lose_message: message(row.get(9))?,
        notify_losers: row.get(10),
        scheduled_for: row.get(13),
    };
    Ok(Some(StoredRaffle {
        campaign_id,
        spec,
        prizes,
        seed_sealed: row.get(11),
        seed_commitment: row.get(12),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RaffleSpec {
        RaffleSpec {
            title: "Финал".into(),
            kind: RaffleKind::Final,
            window_from: None,
            window_to: None,
            time_zone: "Europe/Moscow".into(),
            prizes: vec![
                PrizeSpec {
                    name: "iPhone".into(),
                    quantity: 2,
                    value_rub: 90_000,
                    photo: None,
                },
                PrizeSpec {
                    name: "Кружка".into(),
                    quantity: 3,
                    value_rub: 500,
                    photo: Some("upload:4".into()),
                },
            ],
            multiple_wins: false,
            burn_tickets: false,
            reserves_per_prize: 1,
            win_message: RaffleMessage {
                text: "{name}, вы выиграли {prize}! Билетов: {tickets}".into(),
                photo: None,
            },
            lose_message: None,
            notify_losers: false,
            scheduled_for: None,
        }
    }

    #[test]
    fn picks_fill_every_prize_then_every_prizes_reserves() {
        let slots = slots(&[2, 1], 2);
        let shape: Vec<(usize, bool)> = slots.iter().map(|s| (s.prize, s.reserve)).collect();
        assert_eq!(
            shape,
            vec![
                (0, false),
                (0, false),
                (1, false),
                (0, true),
                (0, true),
                (1, true),
                (1, true)
            ]
        );
        assert_eq!(spec().picks(), 2 + 3 + 2);
    }

    type Breaker = Box<dyn Fn(&mut RaffleSpec)>;

    #[test]
    fn a_valid_spec_passes_and_each_broken_field_is_named() {
        let now = Utc::now();
        assert_eq!(spec().validate(now), Ok(()));
        let cases: Vec<(&str, Breaker)> = vec![
            ("title", Box::new(|s| s.title = " ".into())),
            ("title", Box::new(|s| s.title = "a\0b".into())),
            ("prizes", Box::new(|s| s.prizes.clear())),
            ("prizes[1].quantity", Box::new(|s| s.prizes[1].quantity = 0)),
            (
                "prizes[0].value_rub",
                Box::new(|s| s.prizes[0].value_rub = -1),
            ),
            (
                "prizes[1].photo",
                Box::new(|s| s.prizes[1].photo = Some("upload:x".into())),
            ),
            (
                "reserves_per_prize",
                Box::new(|s| s.reserves_per_prize = -1),
            ),
            (
                "win_message.text",
                Box::new(|s| s.win_message.text = "{phone}".into()),
            ),
            (
                "win_message.text",
                Box::new(|s| s.win_message.text = "<b>x</b>".into()),
            ),
            ("lose_message", Box::new(|s| s.notify_losers = true)),
            ("burn_tickets", Box::new(|s| s.burn_tickets = true)),
            (
                "time_zone",
                Box::new(|s| s.time_zone = "Moscow time".into()),
            ),
            (
                "window_to",
                Box::new(|s| {
                    let at = chrono::NaiveDate::from_ymd_opt(2026, 6, 1)
                        .and_then(|d| d.and_hms_opt(0, 0, 0));
                    s.window_from = at;
                    s.window_to = at;
                }),
            ),
            (
                "scheduled_for",
                Box::new(move |s| s.scheduled_for = Some(now - chrono::Duration::hours(1))),
            ),
        ];
        for (field, break_it) in cases {
            let mut broken = spec();
            break_it(&mut broken);
            assert_eq!(
                broken.validate(now).map_err(|p| p.field),
                Err(field.to_owned()),
                "{broken:?}"
            );
        }
    }

    #[test]
    fn a_message_fills_its_placeholders_once_and_only_prizes_above_4000_need_documents() {
        let text = spec().win_message.render("{prize}", "iPhone", 12);
        assert_eq!(text, "{prize}, вы выиграли iPhone! Билетов: 12");
        assert!(spec().prizes[0].needs_documents());
        assert!(!spec().prizes[1].needs_documents());
        let exactly = PrizeSpec {
            value_rub: DOCUMENTS_ABOVE_RUB,
            ..spec().prizes[0].clone()
        };
        assert!(!exactly.needs_documents());
    }
}
