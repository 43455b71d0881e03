//! Raffles from the panel: `POST /api/raffles` (create, with its seed's commitment
//! published at once), `GET /api/raffles` (every raffle, keyed by its campaign id),
//! `GET /api/raffles/{id}` (the model, the draw and its verification, the picks and their
//! claims) and `POST /api/raffles/{id}/cancel` (a scheduled raffle, never a drawn one).
//!
//! The model is checked and stored by `campaigns::raffle_spec`, the one place the bot
//! uses too; this module turns the request's local dates into it and reads raffles back.
//! Raffles created before the model (a raffle campaign without a `raffles` row) are
//! listed with their draw's prize as the title.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use deadpool_postgres::GenericClient;
use promo_api_types::panel::{
    NewRaffleRequest, RaffleDetail, RaffleDrawView, RaffleMessageBody, RafflePage, RafflePrizeView,
    RaffleRow, RaffleSpecView, RaffleWinner,
};
use serde::Deserialize;
use serde_json::Value;

use super::session::{Role, Session};
use super::{db, internal, next_before, page_limit, timestamp, Body, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::campaigns::control::{self, Control, ControlError};
use crate::campaigns::raffle_spec::{
    self, PrizeSpec, RaffleKind, RaffleMessage, RaffleSpec, StoredRaffle,
};

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/raffles", get(list).post(create))
        .route("/api/raffles/{id}", get(detail))
        .route("/api/raffles/{id}/cancel", post(cancel))
}

const MAX_PAGE: i64 = 100;

/// The win message of a raffle whose operator wrote none.
pub const DEFAULT_WIN_MESSAGE: &str = "{name}, поздравляем! Вы выиграли в розыгрыше: {prize}. \
    Скоро мы свяжемся с вами и расскажем, как получить приз.";

/// How a window's bounds and the list show local times.
const LOCAL_MINUTES: &str = "%Y-%m-%dT%H:%M";

/// One raffle row: the campaign, its model when it has one, its draw when drawn. The
/// legacy prize count and picks come from the campaign's content in Rust, where a
/// malformed value cannot fail the query.
const ROW_SELECT: &str = "SELECT c.id, COALESCE(r.title, d.prize, c.content->>'prize', ''),
        r.kind, c.status, c.scheduled_for, c.created_at,
        (r.campaign_id IS NOT NULL),
        (SELECT count(*) FROM raffle_prizes p WHERE p.campaign_id = c.id),
        (SELECT COALESCE(sum(p.quantity), 0)::BIGINT FROM raffle_prizes p WHERE p.campaign_id = c.id),
        r.reserves_per_prize, d.winner_count, c.content->'winner_count',
        COALESCE(r.seed_commitment, d.seed_commitment),
        d.id, d.drawn_at, d.participants::BIGINT, d.tickets
     FROM campaigns c
     LEFT JOIN raffles r ON r.campaign_id = c.id
     LEFT JOIN raffle_draws d ON d.campaign_id = c.id
     WHERE c.bot_id = $1 AND c.kind = 'raffle'";

fn row_of(row: &tokio_postgres::Row) -> RaffleRow {
    let id: i64 = row.get(0);
    let modelled: bool = row.get(6);
    let (prizes, picks) = if modelled {
        let prizes: i64 = row.get(7);
        let quantities: i64 = row.get(8);
        let reserves = i64::from(row.get::<_, Option<i32>>(9).unwrap_or(0));
        (prizes, quantities + prizes * reserves)
    } else {
        let drawn = row.get::<_, Option<i32>>(10).map(i64::from);
        let asked = row.get::<_, Option<Value>>(11).and_then(|v| v.as_i64());
        (1, drawn.or(asked).unwrap_or(0))
    };
    let draw_id: Option<i64> = row.get(13);
    RaffleRow {
        id,
        title: row.get(1),
        kind: row.get(2),
        status: row.get(3),
        scheduled_for: row.get::<_, Option<DateTime<Utc>>>(4).map(timestamp),
        created_at: timestamp(row.get(5)),
        prizes,
        picks,
        seed_commitment: row.get(12),
        draw_id,
        drawn_at: row.get::<_, Option<DateTime<Utc>>>(14).map(timestamp),
        participants: row.get(15),
        tickets: row.get(16),
        public_url: draw_id.map(draw_url),
        record_url: format!("/api/public/raffles/{id}"),
    }
}

fn draw_url(draw_id: i64) -> String {
    format!("/api/public/draws/{draw_id}")
}

/// Raffle `id` of this bot as the list shows it; 404 for anything that is no raffle.
pub(super) async fn load_row(
    client: &impl GenericClient,
    bot_id: i64,
    id: i64,
) -> Result<RaffleRow, ApiError> {
    client
        .query_opt(&format!("{ROW_SELECT} AND c.id = $2"), &[&bot_id, &id])
        .await
        .map_err(db)?
        .map(|row| row_of(&row))
        .ok_or_else(|| ApiError::not_found(format!("no raffle {id}")))
}

/// A pick as read for the panel, with the sealed phone the exports open.
pub(super) struct Pick {
    pub winner: RaffleWinner,
    pub sealed_phone: Option<Vec<u8>>,
}

/// Every pick of draw `draw_id` by position, with its prize (the draw's own for a draw
/// made before raffles had prizes) and the position of the pick that replaced it.
pub(super) async fn load_picks(
    client: &impl GenericClient,
    bot_id: i64,
    draw_id: i64,
) -> Result<Vec<Pick>, ApiError> {
    let rows = client
        .query(
            "SELECT w.id, w.position::BIGINT, w.prize_id, COALESCE(p.name, d.prize),
                    w.is_reserve, w.user_id, COALESCE(u.full_name, u.first_name), u.username,
                    u.phone_masked, w.tickets_at_draw::BIGINT, w.claim_status,
                    w.claim_deadline, w.notified_at, rb.position::BIGINT, w.ended_reason,
                    u.phone_ciphertext
             FROM raffle_winners w
             JOIN raffle_draws d ON d.id = w.draw_id
             JOIN users u ON u.id = w.user_id
             LEFT JOIN raffle_prizes p ON p.id = w.prize_id
             LEFT JOIN raffle_winners rb ON rb.id = w.replaced_by
             WHERE w.draw_id = $1 AND w.bot_id = $2
             ORDER BY w.position",
            &[&draw_id, &bot_id],
        )
        .await
        .map_err(db)?;
    let at =
        |row: &tokio_postgres::Row, i: usize| row.get::<_, Option<DateTime<Utc>>>(i).map(timestamp);
    Ok(rows
        .iter()
        .map(|row| Pick {
            winner: RaffleWinner {
                id: row.get(0),
                position: row.get(1),
                prize_id: row.get(2),
                prize: row.get(3),
                reserve: row.get(4),
                user_id: row.get(5),
                name: row.get(6),
                username: row.get(7),
                phone_masked: row.get(8),
                tickets_at_draw: row.get(9),
                claim_status: row.get(10),
                claim_deadline: at(row, 11),
                notified_at: at(row, 12),
                replaced_by: row.get(13),
                ended_reason: row.get(14),
            },
            sealed_phone: row.get(15),
        })
        .collect())
}

// ---------------------------------------------------------------- create

/// A refusal naming the request field at fault.
fn refuse(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).field(field)
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]`, local. A date alone is the start of that day,
/// or with `through_day` the start of the next one: the window's end is exclusive, so
/// "to 31 May" means through the last minute of 31 May.
fn local_bound(text: &str, through_day: bool) -> Option<NaiveDateTime> {
    let text = text.trim();
    let at = match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => {
            let day = if through_day { date.succ_opt()? } else { date };
            day.and_hms_opt(0, 0, 0)?
        }
        Err(_) => NaiveDateTime::parse_from_str(text, LOCAL_MINUTES)
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
            .ok()?,
    };
    // Four-digit years only: chrono reads years Postgres cannot store.
    (1000..=9999)
        .contains(&chrono::Datelike::year(&at))
        .then_some(at)
}

fn window_bound(
    field: &'static str,
    text: &Option<String>,
    through_day: bool,
) -> Result<Option<NaiveDateTime>, ApiError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => local_bound(text, through_day).map(Some).ok_or_else(|| {
            refuse(
                field,
                format!("{field} must be YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time)"),
            )
        }),
    }
}

/// A photo field: blank is none (what an emptied form field sends).
fn photo_of(photo: &Option<String>) -> Option<String> {
    photo
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

fn message_of(body: &RaffleMessageBody) -> RaffleMessage {
    RaffleMessage {
        text: crate::pgtext::strip_nul(&body.text).into_owned(),
        photo: photo_of(&body.photo),
    }
}

/// When to draw: RFC 3339, or local minutes in the promotion's time zone (judged by
/// Postgres, like a campaign's schedule).
async fn schedule_of(
    client: &deadpool_postgres::Object,
    text: &Option<String>,
    time_zone: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .any(|format| NaiveDateTime::parse_from_str(text, format).is_ok());
    if !local {
        return Err(refuse(
            "scheduled_for",
            "scheduled_for must be YYYY-MM-DDTHH:MM in the promotion's time zone, or RFC 3339 \
             (2026-06-01T12:00:00+03:00)",
        ));
    }
    // The campaigns' own conversion: the same zone rules and the same "not in the past".
    super::campaigns::scheduled_time(client, text, time_zone)
        .await
        .map(Some)
}

/// The request as a model, or the first field that cannot be one. What the model itself
/// rules on (lengths, ranges, placeholders, the past) is left to [`RaffleSpec::validate`].
async fn spec_of(
    client: &deadpool_postgres::Object,
    request: &NewRaffleRequest,
    time_zone: String,
) -> Result<RaffleSpec, ApiError> {
    let kind = RaffleKind::parse(request.kind.trim())
        .ok_or_else(|| refuse("kind", "kind must be intermediate or final"))?;
    let window_from = window_bound("window_from", &request.window_from, false)?;
    let window_to = window_bound("window_to", &request.window_to, true)?;
    let mut prizes = Vec::with_capacity(request.prizes.len());
    for (index, prize) in request.prizes.iter().enumerate() {
        let quantity = i32::try_from(prize.quantity).map_err(|_| {
            refuse(
                format!("prizes[{index}].quantity"),
                "a quantity is 1 to 10,000",
            )
        })?;
        prizes.push(PrizeSpec {
            name: prize.name.clone(),
            quantity,
            value_rub: prize.value_rub,
            photo: photo_of(&prize.photo),
        });
    }
    let reserves_per_prize = i32::try_from(request.reserves_per_prize)
        .map_err(|_| refuse("reserves_per_prize", "0 to 100 reserves per prize"))?;
    let win_message = match &request.win_message {
        Some(body) => message_of(body),
        None => RaffleMessage {
            text: DEFAULT_WIN_MESSAGE.to_owned(),
            photo: None,
        },
    };
    let scheduled_for = schedule_of(client, &request.scheduled_for, &time_zone).await?;
    Ok(RaffleSpec {
        title: request.title.clone(),
        kind,
        window_from,
        window_to,
        time_zone,
        prizes,
        multiple_wins: request.multiple_wins,
        burn_tickets: request.burn_tickets,
        reserves_per_prize,
        win_message,
        lose_message: request.lose_message.as_ref().map(message_of),
        notify_losers: request.notify_losers,
        scheduled_for,
    })
}

/// Each `upload:<id>` photo of the spec must be an upload of this bot.
async fn check_uploads(api: &AdminApi, spec: &RaffleSpec) -> Result<(), ApiError> {
    let mut photos: Vec<(String, &str)> = spec
        .prizes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((format!("prizes[{i}].photo"), p.photo.as_deref()?)))
        .collect();
    let messages = [
        ("win_message.photo", Some(&spec.win_message)),
        ("lose_message.photo", spec.lose_message.as_ref()),
    ];
    for (field, message) in messages {
        if let Some(photo) = message.and_then(|m| m.photo.as_deref()) {
            photos.push((field.to_owned(), photo));
        }
    }
    for (field, photo) in photos {
        super::uploads::check_photo(api, photo)
            .await
            .map_err(|e| match e.field {
                Some(_) => ApiError {
                    field: Some(field),
                    ..e
                },
                None => e,
            })?;
    }
    Ok(())
}

/// Create a raffle, drawn now or at its time (manager; audited). The answer carries the
/// seed's commitment: published before the draw, it is what the draw is checked against.
#[utoipa::path(
    post,
    path = "/api/raffles",
    tag = "raffles",
    extensions(("x-role" = json!("manager"))),
    request_body = promo_api_types::panel::NewRaffleRequest,
    responses(
        (status = 201, description = "created, `scheduled`, with its commitment", body = promo_api_types::panel::RaffleDetail),
        (status = 400, description = "a field is invalid (named in `field`, e.g. `prizes[1].quantity`)", body = promo_api_types::ApiError),
    )
)]
async fn create(
    State(api): State<AdminApi>,
    session: Session,
    Body(request): Body<NewRaffleRequest>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let time_zone = super::zone(&api, None).await?;
    let mut client = api.pool.get().await.map_err(db)?;
    let spec = spec_of(&client, &request, time_zone).await?;
    spec.validate(Utc::now())
        .map_err(|problem| refuse(problem.field, problem.message))?;
    check_uploads(&api, &spec).await?;
    let tx = client.transaction().await.map_err(db)?;
    let created = raffle_spec::create(&tx, api.bot_id, &session.actor(), &spec, &api.prize_key)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    let detail = load_detail(&api, created.campaign_id).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

// ---------------------------------------------------------------- read

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Continue a list: the `next_before_id` of the page before.
    before_id: Option<i64>,
    /// Page size, 1 to 100 (50).
    limit: Option<i64>,
}

/// Every raffle, newest first, with its commitment and, once drawn, its draw.
#[utoipa::path(
    get,
    path = "/api/raffles",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of raffles", body = promo_api_types::panel::RafflePage),
        (status = 400, description = "`limit` is out of range", body = promo_api_types::ApiError),
    )
)]
async fn list(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            &format!(
                "{ROW_SELECT} AND ($2::BIGINT IS NULL OR c.id < $2) ORDER BY c.id DESC LIMIT $3"
            ),
            &[&api.bot_id, &query.before_id, &limit],
        )
        .await
        .map_err(db)?;
    let raffles: Vec<RaffleRow> = rows.iter().map(row_of).collect();
    let next_before_id = next_before(raffles.iter().map(|r| r.id), limit);
    Ok(Json(RafflePage {
        raffles,
        next_before_id,
    })
    .into_response())
}

fn spec_view(stored: &StoredRaffle) -> RaffleSpecView {
    let spec = &stored.spec;
    let local = |at: Option<NaiveDateTime>| at.map(|at| at.format(LOCAL_MINUTES).to_string());
    let body = |m: &RaffleMessage| RaffleMessageBody {
        text: m.text.clone(),
        photo: m.photo.clone(),
    };
    RaffleSpecView {
        window_from: local(spec.window_from),
        window_to: local(spec.window_to),
        time_zone: spec.time_zone.clone(),
        prizes: (1..)
            .zip(&stored.prizes)
            .map(|(position, prize)| RafflePrizeView {
                id: prize.id,
                position,
                name: prize.spec.name.clone(),
                quantity: i64::from(prize.spec.quantity),
                value_rub: prize.spec.value_rub,
                photo: prize.spec.photo.clone(),
                needs_documents: prize.spec.needs_documents(),
            })
            .collect(),
        multiple_wins: spec.multiple_wins,
        burn_tickets: spec.burn_tickets,
        reserves_per_prize: i64::from(spec.reserves_per_prize),
        win_message: body(&spec.win_message),
        lose_message: spec.lose_message.as_ref().map(body),
        notify_losers: spec.notify_losers,
    }
}

/// The draw as recorded, and the server's redo of it now.
async fn draw_view(
    api: &AdminApi,
    client: &impl GenericClient,
    draw_id: i64,
) -> Result<RaffleDrawView, ApiError> {
    let row = client
        .query_one(
            "SELECT drawn_at, algorithm, seed, seed_commitment, snapshot_hash,
                    participants::BIGINT, tickets
             FROM raffle_draws WHERE id = $1 AND bot_id = $2",
            &[&draw_id, &api.bot_id],
        )
        .await
        .map_err(db)?;
    let check = crate::campaigns::raffle::verify_draw(&api.pool, api.bot_id, draw_id)
        .await
        .map_err(internal)?;
    let (verified, problems) = match &check {
        Some(check) => (check.verified(), check.problems.clone()),
        None => (false, vec!["the draw could not be read back".to_owned()]),
    };
    // Draws made before v2 recorded no counts: the stored snapshot has them.
    let participants = row.get::<_, Option<i64>>(5).or_else(|| {
        check
            .as_ref()
            .map(|c| i64::try_from(c.participants()).unwrap_or(i64::MAX))
    });
    let tickets = row
        .get::<_, Option<i64>>(6)
        .or_else(|| check.as_ref().map(|c| c.tickets()));
    Ok(RaffleDrawView {
        draw_id,
        drawn_at: timestamp(row.get(0)),
        algorithm: row.get(1),
        seed: crate::campaigns::draw::hex(&row.get::<_, Vec<u8>>(2)),
        seed_commitment: row.get(3),
        snapshot_hash: row.get(4),
        participants: participants.unwrap_or(0),
        tickets: tickets.unwrap_or(0),
        verified,
        problems,
        public_url: draw_url(draw_id),
    })
}

/// Raffle `id` in full; 404 for anything that is no raffle of this bot.
pub(super) async fn load_detail(api: &AdminApi, id: i64) -> Result<RaffleDetail, ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    let raffle = load_row(&client, api.bot_id, id).await?;
    let spec = raffle_spec::load(&client, api.bot_id, id)
        .await
        .map_err(internal)?
        .map(|stored| spec_view(&stored));
    let (draw, picks) = match raffle.draw_id {
        Some(draw_id) => (
            Some(draw_view(api, &client, draw_id).await?),
            load_picks(&client, api.bot_id, draw_id)
                .await?
                .into_iter()
                .map(|pick| pick.winner)
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    Ok(RaffleDetail {
        raffle,
        spec,
        draw,
        picks,
    })
}

/// One raffle: its prizes, window, messages and schedule, its commitment, and after the
/// draw the revealed seed, the server's verification and every pick with its claim.
#[utoipa::path(
    get,
    path = "/api/raffles/{id}",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the raffle's campaign id")),
    responses(
        (status = 200, description = "the raffle", body = promo_api_types::panel::RaffleDetail),
        (status = 404, description = "no such raffle", body = promo_api_types::ApiError),
    )
)]
async fn detail(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    Ok(Json(load_detail(&api, id).await?).into_response())
}

/// Cancel a raffle that has not been drawn (manager; audited). A drawn raffle's result
/// stands: its winners have been told.
#[utoipa::path(
    post,
    path = "/api/raffles/{id}/cancel",
    tag = "raffles",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the raffle's campaign id")),
    responses(
        (status = 200, description = "the raffle, `cancelled`", body = promo_api_types::panel::RaffleDetail),
        (status = 404, description = "no such raffle", body = promo_api_types::ApiError),
        (status = 409, description = "the raffle has been drawn, or is already cancelled or finished", body = promo_api_types::ApiError),
    )
)]
async fn cancel(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let raffle = {
        let client = api.pool.get().await.map_err(db)?;
        load_row(&client, api.bot_id, id).await?
    };
    if raffle.draw_id.is_some() {
        return Err(ApiError::conflict(format!(
            "raffle {id} has been drawn: its result stands and it cannot be cancelled"
        )));
    }
    // A draw that lands after the check above is not undone: the runner completes the
    // campaign in the draw's transaction under the same row lock, so the control then
    // finds it `completed` and refuses.
    match control::apply(&api.pool, api.bot_id, &session.actor(), id, Control::Cancel).await {
        Ok(_) => Ok(Json(load_detail(&api, id).await?).into_response()),
        Err(ControlError::NotFound(_)) => Err(ApiError::not_found(format!("no raffle {id}"))),
        Err(ControlError::InvalidTransition { status, .. }) => Err(ApiError::conflict(format!(
            "raffle {id} is {status}: only a raffle waiting for its draw can be cancelled"
        ))),
        Err(ControlError::Storage(error)) => Err(internal(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_alone_ends_a_window_at_the_end_of_that_day() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).and_then(|d| d.and_hms_opt(0, 0, 0));
        assert_eq!(local_bound("2026-05-31", false), day(31));
        assert_eq!(
            local_bound("2026-05-31", true),
            NaiveDate::from_ymd_opt(2026, 6, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
        );
        assert_eq!(
            local_bound("2026-05-03T18:30", true),
            NaiveDate::from_ymd_opt(2026, 5, 3).and_then(|d| d.and_hms_opt(18, 30, 0))
        );
        for wrong in [
            "",
            "31.05.2026",
            "2026-02-30",
            "2026-05-03 18:30",
            "+12026-05-03",
            "0999-05-03",
        ] {
            assert_eq!(local_bound(wrong, true), None, "{wrong}");
        }
    }

    #[test]
    fn the_default_win_message_is_a_valid_template() {
        let message = RaffleMessage {
            text: DEFAULT_WIN_MESSAGE.to_owned(),
            photo: None,
        };
        let text = message.render("Анна", "iPhone", 3);
        assert!(text.starts_with("Анна, поздравляем!"), "{text}");
        assert!(text.contains("iPhone"), "{text}");
        crate::texts::check::check_template(
            DEFAULT_WIN_MESSAGE,
            raffle_spec::PLACEHOLDERS,
            crate::texts::Lang::Ru,
        )
        .expect("a valid template");
    }
}
