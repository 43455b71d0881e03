//! `GET /api/dashboard?days=30&tz=Europe/Moscow`: every headline figure with its 24 h and
//! 7 d growth, a daily series and the latest campaigns, in one round trip (three
//! statements pipelined on one connection). The panel's test shoppers (`users.is_test`)
//! and what they did count nowhere here.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use promo_api_types::panel::{CampaignSummary, DailyFigures, Dashboard, Figure};
use serde::Deserialize;

use super::session::{Role, Session};
use super::{db, timestamp, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;

const MAX_DAYS: i32 = 366;
const RECENT_CAMPAIGNS: i64 = 5;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new().route("/api/dashboard", get(dashboard))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DashboardQuery {
    /// How many days the daily series covers, 1 to 366 (30).
    days: Option<i32>,
    /// The time zone the days are counted in (the promotion's, Europe/Moscow).
    tz: Option<String>,
}

/// The shoppers', uploads', receipts' and tickets' figures come from the rollup
/// (`dashboard_counts`, migration 0010: per 15-minute bucket, kept exact by triggers,
/// test shoppers left out), the 24 h and 7 d growth from `dashboard_since` (the rollup's
/// whole buckets plus the rows of the bucket at the window's edge). Winners and campaigns
/// are few rows and are counted as they are.
const FIGURES: &str = "
WITH k AS (
    SELECT COALESCE(sum(users), 0)::BIGINT AS users,
           COALESCE(sum(registered), 0)::BIGINT AS registered,
           COALESCE(sum(uploads), 0)::BIGINT AS uploads,
           COALESCE(sum(accepted), 0)::BIGINT AS accepted,
           COALESCE(sum(pending), 0)::BIGINT AS pending,
           COALESCE(sum(rejected), 0)::BIGINT AS rejected,
           COALESCE(sum(tickets), 0)::BIGINT AS tickets,
           COALESCE(sum(participants), 0)::BIGINT AS participants
    FROM dashboard_counts WHERE bot_id = $1
), d AS (
    SELECT * FROM dashboard_since($1, now() - interval '1 day')
), wk AS (
    SELECT * FROM dashboard_since($1, now() - interval '7 days')
), w AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE d.drawn_at > now() - interval '1 day') AS day,
           count(*) FILTER (WHERE d.drawn_at > now() - interval '7 days') AS week
    FROM raffle_winners rw JOIN raffle_draws d ON d.id = rw.draw_id
    WHERE rw.bot_id = $1 AND rw.user_id NOT IN (SELECT id FROM users WHERE bot_id = $1 AND is_test)
), c AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE created_at > now() - interval '1 day') AS day,
           count(*) FILTER (WHERE created_at > now() - interval '7 days') AS week
    FROM campaigns WHERE bot_id = $1
)
SELECT k.users, d.users, wk.users, k.registered, d.registered, wk.registered,
       k.uploads, d.uploads, wk.uploads,
       k.accepted, d.accepted, wk.accepted, k.pending, d.pending, wk.pending,
       k.rejected, d.rejected, wk.rejected,
       k.tickets, d.tickets, wk.tickets, k.participants, w.total, w.day, w.week,
       c.total, c.day, c.week
FROM k, d, wk, w, c";

/// The daily series from the rollup's buckets: every zone's offset is a multiple of
/// 15 minutes, so each bucket lies inside one local day. The days without anything
/// still appear, with zeros.
const DAILY: &str = "
WITH bounds AS (
    SELECT ((now() AT TIME ZONE $2)::date - ($3::INT - 1)) AS first_day
), days AS (
    SELECT (first_day + n) AS day FROM bounds, generate_series(0, $3::INT - 1) AS n
), since AS (
    SELECT (first_day::TIMESTAMP AT TIME ZONE $2) AS at FROM bounds
), k AS (
    SELECT (bucket AT TIME ZONE $2)::date AS day, sum(users)::BIGINT AS u,
           sum(accepted)::BIGINT AS r, sum(tickets)::BIGINT AS t
    FROM dashboard_counts WHERE bot_id = $1 AND bucket >= (SELECT at FROM since) GROUP BY 1
)
SELECT to_char(days.day, 'YYYY-MM-DD'), COALESCE(k.u, 0), COALESCE(k.r, 0), COALESCE(k.t, 0)
FROM days
LEFT JOIN k ON k.day = days.day
ORDER BY days.day";

pub(crate) const CAMPAIGN_COLUMNS: &str = "id, kind, status, total::BIGINT, sent::BIGINT, failed::BIGINT, blocked::BIGINT, unknown::BIGINT, created_at, scheduled_for, finished_at";

pub(crate) fn campaign_summary_of(row: &tokio_postgres::Row) -> CampaignSummary {
    CampaignSummary {
        id: row.get(0),
        kind: row.get(1),
        status: row.get(2),
        total: row.get(3),
        sent: row.get(4),
        failed: row.get(5),
        blocked: row.get(6),
        unknown: row.get(7),
        created_at: timestamp(row.get(8)),
        scheduled_for: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(9)
            .map(timestamp),
        finished_at: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(10)
            .map(timestamp),
    }
}

fn figure(row: &tokio_postgres::Row, first: usize) -> Figure {
    Figure {
        total: row.get(first),
        last_24h: row.get(first + 1),
        last_7d: row.get(first + 2),
    }
}

/// The promotion at a glance: totals with 24 h and 7 d growth, a daily series, the latest campaigns.
#[utoipa::path(
    get,
    path = "/api/dashboard",
    tag = "dashboard",
    extensions(("x-role" = json!("viewer"))),
    params(DashboardQuery),
    responses(
        (status = 200, description = "the dashboard", body = promo_api_types::panel::Dashboard),
        (status = 400, description = "`days` is out of range or `tz` is unknown (field named)", body = promo_api_types::ApiError),
    )
)]
async fn dashboard(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<DashboardQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let (days, tz) = super::period(&api, query.days, query.tz, MAX_DAYS).await?;
    let client = api.pool.get().await.map_err(db)?;
    let recent = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE bot_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    let figures_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&api.bot_id];
    let daily_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&api.bot_id, &tz, &days];
    let recent_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&api.bot_id, &RECENT_CAMPAIGNS];
    let (figures, daily, campaigns) = tokio::join!(
        client.query_one(FIGURES, &figures_params),
        client.query(DAILY, &daily_params),
        client.query(recent.as_str(), &recent_params),
    );
    let daily = daily.map_err(super::unknown_zone(&tz))?;
    let row = figures.map_err(db)?;
    let campaigns = campaigns.map_err(db)?;
    Ok(Json(Dashboard {
        users: figure(&row, 0),
        registered: figure(&row, 3),
        uploads: figure(&row, 6),
        receipts_accepted: figure(&row, 9),
        receipts_pending: figure(&row, 12),
        receipts_rejected: figure(&row, 15),
        tickets: figure(&row, 18),
        participants: row.get(21),
        winners: figure(&row, 22),
        campaigns: figure(&row, 25),
        daily: daily
            .iter()
            .map(|row| DailyFigures {
                day: row.get(0),
                users: row.get(1),
                receipts: row.get(2),
                tickets: row.get(3),
            })
            .collect(),
        recent_campaigns: campaigns.iter().map(campaign_summary_of).collect(),
    })
    .into_response())
}
