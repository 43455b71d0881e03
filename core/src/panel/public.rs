//! The public records of raffles and their draws, for shoppers, journalists and
//! regulators: no session. `GET /api/public/raffles/{id}` gives a raffle's title, kind,
//! prizes, schedule and seed commitment from its creation on (so the commitment is public
//! before the draw), and its draw once drawn; `GET /api/public/draws/{id}` gives a draw:
//! the algorithm, the revealed seed, its commitment, the snapshot's hash and counts, each
//! pick (first name and initial only) with the prize it won or reserves, the prizes passed
//! on to reserves and why, and whether the server's own redo matches;
//! `GET /api/public/draws/{id}/snapshot.txt` is the canonical snapshot (`user_id:tickets`
//! lines) that `infra/verify_draw.py` reads, so the check does not have to trust the
//! server.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use promo_api_types::panel::{PublicDraw, PublicPrize, PublicRaffle, PublicReroll, PublicWinner};

use super::raffles::load_row;
use super::{db, internal, timestamp};
use crate::api_error::ApiError;
use crate::app::AdminApi;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/public/raffles/{id}", get(raffle))
        .route("/api/public/draws/{id}", get(record))
        .route("/api/public/draws/{id}/snapshot.txt", get(snapshot))
}

/// `Анна С.`: enough for a winner to recognise themselves, not enough to find them.
fn public_name(full: &str) -> String {
    let mut words = full.split_whitespace();
    let first: String = words.next().unwrap_or("").chars().take(40).collect();
    match words.next().and_then(|last| last.chars().next()) {
        Some(initial) => format!("{first} {initial}."),
        None => first,
    }
}

/// Why a prize went to a reserve, in the record's words: the claim status the pick ended
/// with. The operator's own wording (`ended_reason`) may name the person, so it stays
/// in the panel.
fn reroll_reason(claim_status: &str) -> &'static str {
    match claim_status {
        "expired" => "expired",
        "declined" => "declined",
        "disqualified" => "disqualified",
        _ => "other",
    }
}

async fn prizes(
    client: &impl GenericClient,
    campaign_id: i64,
) -> Result<Vec<PublicPrize>, ApiError> {
    Ok(client
        .query(
            "SELECT position::BIGINT, name, quantity::BIGINT, value_rub FROM raffle_prizes
             WHERE campaign_id = $1 ORDER BY position",
            &[&campaign_id],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|row| PublicPrize {
            position: row.get(0),
            name: row.get(1),
            quantity: row.get(2),
            value_rub: row.get(3),
        })
        .collect())
}

/// How long a public record, redone once, is served as it is: anyone may ask for it
/// without a session, and redoing a draw of a million participants costs a quarter of a
/// second of CPU.
const RECORD_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Draw `id`'s public record, redone by the server (at most every
/// [`RECORD_FRESH_FOR`]); `None`: no such draw.
async fn public_draw(api: &AdminApi, id: i64) -> Result<Option<PublicDraw>, ApiError> {
    let mut cache = api.public_records.0.lock().await;
    cache.retain(|_, (at, _)| at.elapsed() < RECORD_FRESH_FOR);
    if let Some((_, record)) = cache.get(&(api.bot_id, id)) {
        return Ok(Some(record.clone()));
    }
    let record = redo_public_draw(api, id).await?;
    if let Some(record) = &record {
        cache.insert(
            (api.bot_id, id),
            (std::time::Instant::now(), record.clone()),
        );
    }
    Ok(record)
}

/// Draw `id`'s public record, redone now.
async fn redo_public_draw(api: &AdminApi, id: i64) -> Result<Option<PublicDraw>, ApiError> {
    let Some(check) = crate::raffle::verify_draw(&api.pool, api.bot_id, id)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let client = api.pool.get().await.map_err(db)?;
    let raffle = client
        .query_one(
            "SELECT d.campaign_id, COALESCE(r.title, d.prize), r.kind
             FROM raffle_draws d LEFT JOIN raffles r ON r.campaign_id = d.campaign_id
             WHERE d.id = $1",
            &[&id],
        )
        .await
        .map_err(db)?;
    let campaign_id: i64 = raffle.get(0);
    let picks = client
        .query(
            "SELECT w.position::BIGINT, w.user_id, w.tickets_at_draw::BIGINT,
                    COALESCE(u.full_name, u.first_name), COALESCE(p.name, d.prize), w.is_reserve,
                    rb.position::BIGINT, w.claim_status
             FROM raffle_winners w
             JOIN raffle_draws d ON d.id = w.draw_id
             JOIN users u ON u.id = w.user_id
             LEFT JOIN raffle_prizes p ON p.id = w.prize_id
             LEFT JOIN raffle_winners rb ON rb.id = w.replaced_by
             WHERE w.draw_id = $1
             ORDER BY w.position",
            &[&id],
        )
        .await
        .map_err(db)?;
    let winners = picks
        .iter()
        .map(|w| PublicWinner {
            position: w.get(0),
            user_id: w.get(1),
            tickets: w.get(2),
            name: public_name(w.get(3)),
            prize: w.get(4),
            reserve: w.get(5),
        })
        .collect();
    let rerolls = picks
        .iter()
        .filter_map(|w| {
            Some(PublicReroll {
                position: w.get(0),
                replaced_by: w.get::<_, Option<i64>>(6)?,
                prize: w.get(4),
                reason: reroll_reason(w.get(7)).to_owned(),
            })
        })
        .collect();
    Ok(Some(PublicDraw {
        draw_id: id,
        campaign_id,
        title: raffle.get(1),
        kind: raffle.get(2),
        prizes: prizes(&client, campaign_id).await?,
        prize: check.prize.clone(),
        drawn_at: timestamp(check.drawn_at),
        algorithm: check.algorithm.clone(),
        seed: check.seed_hex(),
        seed_commitment: check.seed_commitment.clone(),
        snapshot_hash: check.snapshot_hash.clone(),
        participants: i64::try_from(check.participants()).unwrap_or(i64::MAX),
        tickets: check.tickets(),
        picks: i64::try_from(check.picks).unwrap_or(i64::MAX),
        winners,
        rerolls,
        verified: check.verified(),
        problems: check.problems.clone(),
    }))
}

/// A raffle's public record: its commitment and schedule from creation on, its draw
/// once drawn.
#[utoipa::path(
    get,
    path = "/api/public/raffles/{id}",
    tag = "public",
    security(()),
    params(("id" = i64, Path, description = "the raffle's campaign id")),
    responses(
        (status = 200, description = "the raffle; `draw` once drawn", body = PublicRaffle),
        (status = 404, description = "no such raffle", body = promo_api_types::ApiError),
    )
)]
async fn raffle(State(api): State<AdminApi>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    let row = load_row(&client, api.bot_id, id).await?;
    let draw = match row.draw_id {
        Some(draw_id) => public_draw(&api, draw_id).await?,
        None => None,
    };
    Ok(Json(PublicRaffle {
        id,
        title: row.title,
        kind: row.kind,
        status: row.status,
        scheduled_for: row.scheduled_for,
        prizes: prizes(&client, id).await?,
        picks: row.picks,
        seed_commitment: row.seed_commitment,
        draw,
    })
    .into_response())
}

/// A draw's public record, redone by the server as it is read.
#[utoipa::path(
    get,
    path = "/api/public/draws/{id}",
    tag = "public",
    security(()),
    params(("id" = i64, Path, description = "the draw's id")),
    responses(
        (status = 200, description = "the record and the server's verification", body = PublicDraw),
        (status = 404, description = "no such draw", body = promo_api_types::ApiError),
    )
)]
async fn record(State(api): State<AdminApi>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let draw = public_draw(&api, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no draw {id}")))?;
    Ok(Json(draw).into_response())
}

/// The canonical snapshot text, as hashed: one `user_id:tickets` line per participant.
#[utoipa::path(
    get,
    path = "/api/public/draws/{id}/snapshot.txt",
    tag = "public",
    security(()),
    params(("id" = i64, Path, description = "the draw's id")),
    responses(
        (status = 200, description = "`text/plain`: the snapshot, `user_id:tickets` per line, ascending user id", body = String, content_type = "text/plain"),
        (status = 404, description = "no such draw", body = promo_api_types::ApiError),
    )
)]
async fn snapshot(State(api): State<AdminApi>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    let row = client
        .query_opt(
            "SELECT snapshot, ticket_snapshot FROM raffle_draws WHERE id = $1 AND bot_id = $2",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no draw {id}")))?;
    // Draws with prizes store the canonical text itself; older ones the JSON list.
    let text: Vec<u8> = match row.get::<_, Option<Vec<u8>>>(0) {
        Some(text) => text,
        None => {
            let stored: Option<serde_json::Value> = row.get(1);
            stored
                .as_ref()
                .and_then(crate::raffle::snapshot_from_json)
                .unwrap_or_default()
                .iter()
                .map(|(user, tickets)| format!("{user}:{tickets}\n"))
                .collect::<String>()
                .into_bytes()
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_public_name_is_the_first_name_and_an_initial() {
        assert_eq!(super::public_name("Анна Смирнова"), "Анна С.");
        assert_eq!(super::public_name("  Пётр "), "Пётр");
        assert_eq!(super::public_name(""), "");
    }

    #[test]
    fn a_reroll_is_explained_by_the_claim_it_ended_with_and_nothing_else() {
        for reason in ["expired", "declined", "disqualified"] {
            assert_eq!(super::reroll_reason(reason), reason);
        }
        assert_eq!(super::reroll_reason("handed_over"), "other");
    }
}
