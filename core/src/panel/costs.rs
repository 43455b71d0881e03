//! `GET /api/costs?days=30&tz=Europe/Moscow`: what the promotion pays for, per local day
//! and per campaign: ProverkaCheka checks (each call is paid) and the Stars of paid
//! broadcasts.
//!
//! - Calls are `receipt_submissions.provider_calls`, counted on the day of the upload.
//!   "Saved" calls are uploads settled locally with no call at all: a duplicate (also one
//!   still being checked), not a sale, outside the promotion's dates, a QR code that is
//!   not a fiscal one or does not parse. Each would have been one paid check.
//! - Stars are approximated: Telegram charges 0.1 Star for each message a bot sends with
//!   `allow_paid_broadcast` above the free 30 messages per second. A paid-broadcast
//!   campaign is sent at up to 1,000 per second, so nearly all of its messages are
//!   above the free rate; we count every `sent` delivery of a campaign with
//!   `paid_broadcast = true` at 0.1 Star, on the day it was sent. That is an upper bound
//!   (off by at most 30 messages for each second the campaign ran slower than the free
//!   rate); the exact figure is in the bot's Stars transactions at Telegram.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use promo_api_types::panel::{CampaignCosts, CostFigures, Costs, DailyCosts, SavedCalls};
use serde::Deserialize;

use super::session::{Role, Session};
use super::{db, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;

const MAX_DAYS: i32 = 366;

/// Outcomes the verifier reaches without calling ProverkaCheka (`receipts::verify`).
pub const LOCAL_REJECTIONS: &[&str] = &[
    "duplicate",
    "duplicate_in_progress",
    "not_a_sale",
    "out_of_window",
    "not_fiscal_qr",
    "invalid_qr",
    "unreadable",
];

/// Telegram's price of one message above the free rate, in tenths of a Star.
const STAR_TENTHS_PER_PAID_MESSAGE: i64 = 1;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new().route("/api/costs", get(costs))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct CostsQuery {
    days: Option<i32>,
    tz: Option<String>,
}

/// Every day of the period with its calls, accepted receipts, saved calls and paid
/// messages; each table is read once for the period and grouped by local day.
const DAILY: &str = "
WITH bounds AS (
    SELECT ((now() AT TIME ZONE $2)::date - ($3::INT - 1)) AS first_day
), days AS (
    SELECT (first_day + n) AS day FROM bounds, generate_series(0, $3::INT - 1) AS n
), since AS (
    SELECT (first_day::TIMESTAMP AT TIME ZONE $2) AS at FROM bounds
), s AS (
    SELECT (created_at AT TIME ZONE $2)::date AS day,
           sum(provider_calls)::BIGINT AS calls,
           count(*) FILTER (WHERE provider_calls = 0 AND outcome = ANY($4)) AS saved
    FROM receipt_submissions
    WHERE bot_id = $1 AND created_at >= (SELECT at FROM since) GROUP BY 1
), r AS (
    SELECT (created_at AT TIME ZONE $2)::date AS day, count(*) AS n
    FROM receipts WHERE bot_id = $1 AND status = 'accepted'
      AND created_at >= (SELECT at FROM since) GROUP BY 1
), m AS (
    SELECT (d.sent_at AT TIME ZONE $2)::date AS day, count(*) AS n
    FROM campaigns c JOIN campaign_deliveries d ON d.campaign_id = c.id
    WHERE c.bot_id = $1 AND c.paid_broadcast AND d.status = 'sent'
      AND d.sent_at >= (SELECT at FROM since) GROUP BY 1
)
SELECT to_char(days.day, 'YYYY-MM-DD'), COALESCE(s.calls, 0), COALESCE(r.n, 0),
       COALESCE(s.saved, 0), COALESCE(m.n, 0)
FROM days
LEFT JOIN s ON s.day = days.day
LEFT JOIN r ON r.day = days.day
LEFT JOIN m ON m.day = days.day
ORDER BY days.day";

const SAVED_BY_OUTCOME: &str = "
SELECT outcome, count(*)
FROM receipt_submissions
WHERE bot_id = $1 AND provider_calls = 0 AND outcome = ANY($4)
  AND created_at >= (((now() AT TIME ZONE $2)::date - ($3::INT - 1))::TIMESTAMP AT TIME ZONE $2)
GROUP BY outcome ORDER BY count(*) DESC, outcome";

const PER_CAMPAIGN: &str = "
SELECT c.id, c.kind, c.status, count(*)
FROM campaigns c JOIN campaign_deliveries d ON d.campaign_id = c.id
WHERE c.bot_id = $1 AND c.paid_broadcast AND d.status = 'sent'
  AND d.sent_at >= (((now() AT TIME ZONE $2)::date - ($3::INT - 1))::TIMESTAMP AT TIME ZONE $2)
GROUP BY c.id ORDER BY c.id DESC";

fn stars(messages: i64) -> f64 {
    (messages * STAR_TENTHS_PER_PAID_MESSAGE) as f64 / 10.0
}

fn figures(calls: i64, accepted: i64, saved: i64, messages: i64) -> CostFigures {
    CostFigures {
        provider_calls: calls,
        receipts_accepted: accepted,
        calls_per_accepted_receipt: (accepted > 0).then(|| calls as f64 / accepted as f64),
        calls_saved: saved,
        paid_broadcast_messages: messages,
        stars: stars(messages),
    }
}

/// What the promotion cost per day and per campaign: paid checks, checks saved, Stars.
#[utoipa::path(
    get,
    path = "/api/costs",
    tag = "costs",
    extensions(("x-role" = json!("viewer"))),
    params(CostsQuery),
    responses(
        (status = 200, description = "totals, per day and per campaign", body = promo_api_types::panel::Costs),
        (status = 400, description = "`days` or `tz` is not valid (field named)", body = promo_api_types::ApiError),
    )
)]
async fn costs(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<CostsQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let (days, tz) = super::period(&api, query.days, query.tz, MAX_DAYS).await?;
    let outcomes: Vec<String> = LOCAL_REJECTIONS.iter().map(|&o| o.to_owned()).collect();
    let client = api.pool.get().await.map_err(db)?;
    let daily_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&api.bot_id, &tz, &days, &outcomes];
    let campaign_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&api.bot_id, &tz, &days];
    let (daily, saved, campaigns) = tokio::join!(
        client.query(DAILY, &daily_params),
        client.query(SAVED_BY_OUTCOME, &daily_params),
        client.query(PER_CAMPAIGN, &campaign_params),
    );
    let bad_zone = super::unknown_zone(&tz);
    let daily = daily.map_err(&bad_zone)?;
    let saved = saved.map_err(&bad_zone)?;
    let campaigns = campaigns.map_err(&bad_zone)?;
    let daily: Vec<DailyCosts> = daily
        .iter()
        .map(|row| DailyCosts {
            day: row.get(0),
            figures: figures(row.get(1), row.get(2), row.get(3), row.get(4)),
        })
        .collect();
    let sum = |pick: fn(&CostFigures) -> i64| daily.iter().map(|d| pick(&d.figures)).sum::<i64>();
    let totals = figures(
        sum(|f| f.provider_calls),
        sum(|f| f.receipts_accepted),
        sum(|f| f.calls_saved),
        sum(|f| f.paid_broadcast_messages),
    );
    Ok(Json(Costs {
        days: i64::from(days),
        tz: tz.clone(),
        totals,
        saved_by_outcome: saved
            .iter()
            .map(|row| SavedCalls {
                outcome: row.get(0),
                submissions: row.get(1),
            })
            .collect(),
        daily,
        campaigns: campaigns
            .iter()
            .map(|row| {
                let messages: i64 = row.get(3);
                CampaignCosts {
                    campaign_id: row.get(0),
                    kind: row.get(1),
                    status: row.get(2),
                    paid_broadcast_messages: messages,
                    stars: stars(messages),
                }
            })
            .collect(),
    })
    .into_response())
}
