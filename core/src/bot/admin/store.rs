//! SQL behind the admin commands: figures, campaigns created from the bot, shopper search,
//! manual ticket grants and raffle winners. Every write is paired with its audit row.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::state::{moscow, UserQuery};
use crate::audit::{self, Actor};
use crate::bot::Bot;
use crate::t;
use crate::texts::Lang;

/// Figures for the 📊 statistics message. Receipts and uploads are different things: a
/// receipt is a fiscal document the tax service confirmed (one per document, whoever
/// sent it); an upload is any photo, file or QR text, and most refusals (duplicates,
/// unreadable pictures, refunds...) happen before a receipt exists.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub users_total: i64,
    pub users_registered: i64,
    pub users_today: i64,
    pub registered_today: i64,
    pub receipts_accepted: i64,
    pub receipts_pending: i64,
    pub receipts_rejected: i64,
    pub tickets_total: i64,
    pub uploads_total: i64,
    pub uploads_today: i64,
    /// Queued, being checked, or waiting for a re-check.
    pub uploads_waiting: i64,
    /// Led to a stored receipt (counted under receipts, whatever its status).
    pub uploads_with_receipt: i64,
    /// Refused before a receipt existed; the `refused_*` figures break it down.
    pub uploads_refused: i64,
    pub refused_duplicate: i64,
    pub refused_unreadable: i64,
    pub refused_not_a_sale: i64,
    pub refused_out_of_window: i64,
    pub refused_tax_service: i64,
    pub refused_other: i64,
    /// Given up: the checking service stayed unavailable, or the receipt never reached
    /// the tax service.
    pub uploads_failed: i64,
}

/// Midnight of today's Moscow date, the start of "today" for operators.
fn start_of_moscow_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&moscow());
    local
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(moscow()).single())
        .map_or(now, |midnight| midnight.with_timezone(&Utc))
}

pub async fn stats(app: &Bot) -> anyhow::Result<Stats> {
    let client = app.pool.get().await?;
    let today = start_of_moscow_day(Utc::now());
    // The panel's test shoppers count nowhere. Outcome groups follow the list in receipts/verify.rs; an outcome added there later
    // shows up under "other" until it gets a group here.
    let row = client
        .query_one(
            "WITH uploads AS (
                 SELECT status, outcome, created_at,
                        receipt_id IS NOT NULL OR status IN ('accepted', 'pending_moderation')
                            AS with_receipt
                 FROM receipt_submissions WHERE bot_id = $1 AND user_id NOT IN (SELECT id FROM users WHERE bot_id = $1 AND is_test)
             ), refused AS (
                 SELECT outcome FROM uploads WHERE status = 'rejected' AND NOT with_receipt
             )
             SELECT
                 (SELECT count(*) FROM users WHERE bot_id = $1 AND NOT is_test),
                 (SELECT count(*) FROM users WHERE bot_id = $1 AND NOT is_test AND status = 'registered'),
                 (SELECT count(*) FROM users WHERE bot_id = $1 AND NOT is_test AND created_at >= $2),
                 (SELECT count(*) FROM users WHERE bot_id = $1 AND NOT is_test AND status = 'registered'
                                                 AND registered_at >= $2),
                 (SELECT count(*) FROM receipts WHERE bot_id = $1 AND status = 'accepted' AND user_id NOT IN (SELECT id FROM users WHERE bot_id = $1 AND is_test)),
                 (SELECT count(*) FROM receipts WHERE bot_id = $1 AND status = 'pending' AND user_id NOT IN (SELECT id FROM users WHERE bot_id = $1 AND is_test)),
                 (SELECT count(*) FROM receipts WHERE bot_id = $1 AND status = 'rejected' AND user_id NOT IN (SELECT id FROM users WHERE bot_id = $1 AND is_test)),
                 (SELECT COALESCE(SUM(amount), 0)::BIGINT FROM tickets WHERE bot_id = $1 AND user_id NOT IN (SELECT id FROM users WHERE bot_id = $1 AND is_test)),
                 (SELECT count(*) FROM uploads),
                 (SELECT count(*) FROM uploads WHERE created_at >= $2),
                 (SELECT count(*) FROM uploads
                   WHERE status IN ('queued', 'processing', 'retry_scheduled') AND NOT with_receipt),
                 (SELECT count(*) FROM uploads WHERE with_receipt),
                 (SELECT count(*) FROM refused),
                 (SELECT count(*) FROM refused
                   WHERE outcome IN ('duplicate', 'duplicate_in_progress')),
                 (SELECT count(*) FROM refused
                   WHERE outcome IN ('not_fiscal_qr', 'invalid_qr', 'bad_image', 'too_big',
                                     'file_unavailable')),
                 (SELECT count(*) FROM refused WHERE outcome = 'not_a_sale'),
                 (SELECT count(*) FROM refused WHERE outcome = 'out_of_window'),
                 (SELECT count(*) FROM refused
                   WHERE outcome IN ('fns_invalid', 'fns_failed', 'mismatch', 'invalid_receipt')),
                 (SELECT count(*) FROM uploads WHERE status = 'failed' AND NOT with_receipt)",
            &[&app.bot_id, &today],
        )
        .await
        .context("reading statistics")?;
    let uploads_refused: i64 = row.get(12);
    let grouped: i64 = (13..=17).map(|i| row.get::<_, i64>(i)).sum();
    Ok(Stats {
        users_total: row.get(0),
        users_registered: row.get(1),
        users_today: row.get(2),
        registered_today: row.get(3),
        receipts_accepted: row.get(4),
        receipts_pending: row.get(5),
        receipts_rejected: row.get(6),
        tickets_total: row.get(7),
        uploads_total: row.get(8),
        uploads_today: row.get(9),
        uploads_waiting: row.get(10),
        uploads_with_receipt: row.get(11),
        uploads_refused,
        refused_duplicate: row.get(13),
        refused_unreadable: row.get(14),
        refused_not_a_sale: row.get(15),
        refused_out_of_window: row.get(16),
        refused_tax_service: row.get(17),
        refused_other: uploads_refused - grouped,
        uploads_failed: row.get(18),
    })
}

/// The recipients the campaign runner will materialise for `{"all": true}`.
pub async fn broadcast_recipients(app: &Bot) -> anyhow::Result<i64> {
    let client = app.pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*) FROM users
             WHERE bot_id = $1 AND reachable AND status = 'registered' AND NOT is_test",
            &[&app.bot_id],
        )
        .await?;
    Ok(row.get(0))
}

/// Shoppers holding at least one ticket: the raffle's pool.
pub async fn raffle_participants(app: &Bot) -> anyhow::Result<i64> {
    let client = app.pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*) FROM (SELECT user_id FROM tickets WHERE bot_id = $1
                                   GROUP BY user_id HAVING SUM(amount) > 0) AS holders",
            &[&app.bot_id],
        )
        .await?;
    Ok(row.get(0))
}

/// A campaign to create from the bot: everyone registered is the audience.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub kind: &'static str,
    pub content: Value,
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// A raffle from the bot's quick flow: one prize for `winner_count` winners, one reserve
/// per prize, drawn now, with the default win message. Its seed is sealed and its
/// commitment returned, to be shown to the admin at once.
pub async fn create_raffle(
    app: &Bot,
    admin_telegram_id: i64,
    prize: &str,
    winner_count: i32,
) -> anyhow::Result<crate::campaigns::raffle_spec::CreatedRaffle> {
    use crate::campaigns::raffle_spec::{self, PrizeSpec, RaffleKind, RaffleMessage, RaffleSpec};
    let promo = app.promo.current().await;
    let win_text = app.texts.get(t!("raffle_won"), Lang::Ru).await;
    let spec = RaffleSpec {
        title: prize.to_owned(),
        kind: RaffleKind::Final,
        window_from: None,
        window_to: None,
        time_zone: promo.time_zone.clone(),
        prizes: vec![PrizeSpec {
            name: prize.to_owned(),
            quantity: winner_count,
            value_rub: 0,
            photo: None,
        }],
        multiple_wins: false,
        burn_tickets: false,
        reserves_per_prize: 1,
        win_message: RaffleMessage {
            text: win_text,
            photo: None,
        },
        lose_message: None,
        notify_losers: false,
        scheduled_for: None,
    };
    spec.validate(chrono::Utc::now())
        .map_err(|problem| anyhow::anyhow!("the bot's raffle is not valid: {problem}"))?;
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    let by = Actor::Bot {
        telegram_id: admin_telegram_id,
    };
    let created = raffle_spec::create(&tx, app.bot_id, &by, &spec, &app.settings.prize_key).await?;
    tx.commit().await?;
    Ok(created)
}

/// Inserts the campaign as `scheduled` (the trigger announces it to the listen-bridge)
/// together with its audit row; returns the campaign id.
pub async fn create_campaign(
    app: &Bot,
    admin_telegram_id: i64,
    campaign: &NewCampaign,
) -> anyhow::Result<i64> {
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    let by = Actor::Bot {
        telegram_id: admin_telegram_id,
    };
    let audience = json!({ "all": true });
    let id = crate::campaigns::create::insert_scheduled(
        &tx,
        app.bot_id,
        &by,
        &crate::campaigns::create::NewCampaign {
            kind: campaign.kind,
            content: campaign.content.clone(),
            audience: audience.clone(),
            scheduled_for: campaign.scheduled_for,
            paid_broadcast: false,
        },
    )
    .await?;
    let details = json!({
        "kind": campaign.kind,
        "content": campaign.content,
        "audience": audience,
        "scheduled_for": campaign.scheduled_for,
    });
    audit::record(
        &tx,
        app.bot_id,
        &by,
        "campaign.create",
        &format!("campaign:{id}"),
        &details,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A shopper as the manual-grant flow shows them.
#[derive(Debug, Clone)]
pub struct FoundShopper {
    pub user_id: i64,
    pub telegram_id: i64,
    pub name: String,
    pub username: Option<String>,
    pub phone_masked: Option<String>,
    pub registered: bool,
    pub reachable: bool,
    pub lang: String,
    pub tickets: i64,
}

impl FoundShopper {
    pub fn label(&self) -> String {
        let mut label = self.name.clone();
        if let Some(username) = &self.username {
            label.push_str(&format!(" (@{username})"));
        }
        if let Some(phone) = &self.phone_masked {
            label.push_str(&format!(", {phone}"));
        }
        label.push_str(&format!(", ID {}", self.telegram_id));
        label
    }
}

pub async fn find_shopper(app: &Bot, query: &UserQuery) -> anyhow::Result<Option<FoundShopper>> {
    let hash = |phone: &crate::pii::Phone| app.settings.phone_key.hash(phone);
    let (telegram_id, phone_hash, username): (Option<i64>, Option<Vec<u8>>, Option<&str>) =
        match query {
            UserQuery::Username(name) => (None, None, Some(name.as_str())),
            UserQuery::Phone(phone) => (None, Some(hash(phone)), None),
            UserQuery::IdOrPhone { id, phone } => (*id, phone.as_ref().map(hash), None),
        };
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT u.id, u.telegram_id, COALESCE(u.full_name, u.first_name), u.username,
                    u.phone_masked, u.status = 'registered', u.reachable, u.language,
                    (SELECT COALESCE(SUM(t.amount), 0)::BIGINT FROM tickets t
                      WHERE t.bot_id = u.bot_id AND t.user_id = u.id)
             FROM users u
             WHERE u.bot_id = $1
               AND (u.telegram_id = $2 OR u.phone_hash = $3 OR u.search_username = lower($4))
             ORDER BY (u.telegram_id = $2) IS TRUE DESC, u.id
             LIMIT 1",
            &[&app.bot_id, &telegram_id, &phone_hash, &username],
        )
        .await
        .context("searching the shopper")?;
    Ok(row.map(|row| FoundShopper {
        user_id: row.get(0),
        telegram_id: row.get(1),
        name: row.get(2),
        username: row.get(3),
        phone_masked: row.get(4),
        registered: row.get(5),
        reachable: row.get(6),
        lang: row.get(7),
        tickets: row.get(8),
    }))
}

/// Adds a manual grant from a bot admin (see [`crate::grants::grant`]); returns the new
/// total and the notice's outbox row.
pub async fn grant_tickets(
    app: &Bot,
    admin_telegram_id: i64,
    user_id: i64,
    amount: i32,
    reason: &str,
    notify: Option<(i64, Lang)>,
) -> anyhow::Result<(i64, Option<i64>)> {
    let by = Actor::Bot {
        telegram_id: admin_telegram_id,
    };
    let granted = crate::grants::grant(
        &app.pool, &app.texts, app.bot_id, &by, user_id, amount, reason, notify,
    )
    .await?;
    Ok((granted.total, granted.notice))
}

/// One winner of one draw, for the list and the CSV export.
#[derive(Debug, Clone)]
pub struct WinnerRow {
    pub draw_id: i64,
    pub prize: String,
    pub drawn_at: DateTime<Utc>,
    pub position: i32,
    pub name: String,
    pub username: Option<String>,
    /// The full number (`+79991234567`) for a viewer who may contact winners, else the
    /// masked one.
    pub phone: Option<String>,
    pub tickets: i32,
    pub notified_at: Option<DateTime<Utc>>,
}

/// Why the winners are read: the audit row says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinnersUse {
    List,
    Export,
}

impl WinnersUse {
    fn audit_action(self) -> &'static str {
        match self {
            WinnersUse::List => "winners.view_phones",
            WinnersUse::Export => "winners.export_phones",
        }
    }
}

/// Panel roles that run the promotion and hand over prizes; a `viewer` reads figures
/// and does not need a winner's number.
const PHONE_ROLES: &str = "('owner', 'manager')";

/// Winners of the latest `draws` draws (all draws when `None`), newest draw first.
///
/// The message promises winners a call, so whoever hands over prizes must see the full
/// number: an `ADMIN_IDS` admin (configured by whoever deploys the bot, so an owner) or
/// a Telegram account linked to an enabled owner/manager panel user. Everyone else sees
/// the masked number. Every read that reveals numbers writes its audit row in the same
/// transaction, so no number is shown without a trace. Numbers never reach the logs.
pub async fn winners(
    app: &Bot,
    viewer_telegram_id: i64,
    draws: Option<i64>,
    purpose: WinnersUse,
) -> anyhow::Result<Vec<WinnerRow>> {
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    let full_phones = app
        .settings
        .telegram
        .admin_ids
        .contains(&viewer_telegram_id)
        || tx
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM admin_users
                      WHERE bot_id = $1 AND telegram_id = $2 AND disabled_at IS NULL
                        AND role IN {PHONE_ROLES})"
                ),
                &[&app.bot_id, &viewer_telegram_id],
            )
            .await
            .context("reading the viewer's role")?
            .get::<_, bool>(0);
    let rows = tx
        .query(
            "WITH latest AS (
                 SELECT id FROM raffle_draws WHERE bot_id = $1
                 ORDER BY drawn_at DESC, id DESC LIMIT $2)
             SELECT d.id, d.prize, d.drawn_at, w.position, COALESCE(u.full_name, u.first_name),
                    u.username, u.phone_masked, w.tickets_at_draw, w.notified_at,
                    u.phone_ciphertext, u.id
             FROM latest
             JOIN raffle_draws d ON d.id = latest.id
             JOIN raffle_winners w ON w.draw_id = d.id
             JOIN users u ON u.id = w.user_id
             ORDER BY d.drawn_at DESC, d.id DESC, w.position",
            &[&app.bot_id, &draws],
        )
        .await
        .context("reading winners")?;
    let winners: Vec<WinnerRow> = rows
        .iter()
        .map(|row| {
            let masked: Option<String> = row.get(6);
            let phone = if full_phones {
                full_phone(app, row.get(9), row.get(10)).or(masked)
            } else {
                masked
            };
            WinnerRow {
                draw_id: row.get(0),
                prize: row.get(1),
                drawn_at: row.get(2),
                position: row.get(3),
                name: row.get(4),
                username: row.get(5),
                phone,
                tickets: row.get(7),
                notified_at: row.get(8),
            }
        })
        .collect();
    if full_phones && !winners.is_empty() {
        let user_ids: Vec<i64> = rows.iter().map(|row| row.get(10)).collect();
        let mut draw_ids: Vec<i64> = winners.iter().map(|w| w.draw_id).collect();
        draw_ids.dedup();
        let details = json!({ "draws": draw_ids, "winner_user_ids": user_ids });
        let by = Actor::Bot {
            telegram_id: viewer_telegram_id,
        };
        audit::record(
            &tx,
            app.bot_id,
            &by,
            purpose.audit_action(),
            "winners",
            &details,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(winners)
}

/// `+79991234567` from the stored ciphertext; `None` (the caller shows the masked form)
/// when there is none or it does not decrypt, e.g. after a key change.
fn full_phone(app: &Bot, ciphertext: Option<Vec<u8>>, user_id: i64) -> Option<String> {
    let ciphertext = ciphertext?;
    match app.settings.phone_key.decrypt(&ciphertext) {
        Ok(phone) => Some(format!("+{}", phone.digits())),
        Err(error) => {
            tracing::warn!(user_id, error = %error, "a winner's phone does not decrypt");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_day_starts_at_moscow_midnight() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        // 22:30 UTC is already 01:30 the next day in Moscow.
        assert_eq!(
            start_of_moscow_day(at("2026-11-24T22:30:00Z")),
            at("2026-11-24T21:00:00Z")
        );
        assert_eq!(
            start_of_moscow_day(at("2026-11-24T20:59:00Z")),
            at("2026-11-23T21:00:00Z")
        );
    }
}
