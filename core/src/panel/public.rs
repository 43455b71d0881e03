//! The public record of a draw, for shoppers, journalists and regulators: no session.
//! `GET /api/public/draws/{id}` gives the algorithm, the revealed seed, its commitment,
//! the snapshot's hash and counts, the winners (first name and initial only) and whether
//! the server's own redo matches; `GET /api/public/draws/{id}/snapshot.txt` is the
//! canonical snapshot (`user_id:tickets` lines) that `infra/verify_draw.py` reads, so the
//! check does not have to trust the server.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use promo_api_types::panel::{PublicDraw, PublicWinner};

use super::{db, internal, timestamp};
use crate::api_error::ApiError;
use crate::app::AdminApi;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
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
    let check = crate::raffle::verify_draw(&api.pool, api.bot_id, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found(format!("no draw {id}")))?;
    let client = api.pool.get().await.map_err(db)?;
    let names = client
        .query(
            "SELECT w.position::BIGINT, w.user_id, w.tickets_at_draw::BIGINT,
                    COALESCE(u.full_name, u.first_name)
             FROM raffle_winners w JOIN users u ON u.id = w.user_id
             WHERE w.draw_id = $1 ORDER BY w.position",
            &[&id],
        )
        .await
        .map_err(db)?;
    Ok(Json(PublicDraw {
        draw_id: id,
        prize: check.prize.clone(),
        drawn_at: timestamp(check.drawn_at),
        algorithm: check.algorithm.clone(),
        seed: check.seed_hex(),
        seed_commitment: check.seed_commitment.clone(),
        snapshot_hash: check.snapshot_hash.clone(),
        participants: i64::try_from(check.participants()).unwrap_or(i64::MAX),
        tickets: check.tickets(),
        picks: i64::try_from(check.picks).unwrap_or(i64::MAX),
        winners: names
            .iter()
            .map(|w| PublicWinner {
                position: w.get(0),
                user_id: w.get(1),
                tickets: w.get(2),
                name: public_name(w.get(3)),
            })
            .collect(),
        verified: check.verified(),
        problems: check.problems.clone(),
    })
    .into_response())
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
    // Draws since the model store the canonical text; older ones a JSON list.
    let text: Vec<u8> = match row.get::<_, Option<Vec<u8>>>(0) {
        Some(text) => text,
        None => row
            .get::<_, Option<serde_json::Value>>(1)
            .as_ref()
            .and_then(crate::raffle::snapshot_from_json)
            .unwrap_or_default()
            .iter()
            .map(|(user, tickets)| format!("{user}:{tickets}\n"))
            .collect::<String>()
            .into_bytes(),
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
}
