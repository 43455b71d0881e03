//! Prize claims in the panel: disqualify a winner (the next reserve wins), record a prize
//! as handed over, and read a winner's tax-agent documents (owner only, every view
//! audited). `{id}` is the raffle's campaign id; a winner of another raffle or bot is a
//! 404, as if it did not exist.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_api_types::panel::{ClaimDocuments, ClaimWinner, DisqualifyRequest, Reroll};
use serde_json::json;

use super::session::{Role, Session};
use super::{db, internal, timestamp, Body};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::bot::claim::Documents;
use crate::campaigns::claims::{self, Ending, Rerolled};

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route(
            "/api/raffles/{id}/winners/{winner_id}/disqualify",
            post(disqualify),
        )
        .route(
            "/api/raffles/{id}/winners/{winner_id}/handed-over",
            post(handed_over),
        )
        .route(
            "/api/raffles/{id}/winners/{winner_id}/documents",
            get(documents),
        )
}

const WINNER: &str = "SELECT w.id, w.draw_id, w.position::BIGINT, w.user_id, w.prize_id,
        COALESCE(p.name, d.prize), w.is_reserve, w.claim_status, w.claim_deadline,
        w.handed_over_at, w.ended_reason, w.replaced_by
     FROM raffle_winners w
     JOIN raffle_draws d ON d.id = w.draw_id
     LEFT JOIN raffle_prizes p ON p.id = w.prize_id
     WHERE w.id = $1 AND w.bot_id = $2 AND d.bot_id = $2 AND d.campaign_id = $3";

fn winner_of(row: &tokio_postgres::Row) -> ClaimWinner {
    let at = |index: usize| {
        row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(index)
            .map(timestamp)
    };
    ClaimWinner {
        winner_id: row.get(0),
        draw_id: row.get(1),
        position: row.get(2),
        user_id: row.get(3),
        prize_id: row.get(4),
        prize: row.get(5),
        is_reserve: row.get(6),
        claim_status: row.get(7),
        claim_deadline: at(8),
        handed_over_at: at(9),
        ended_reason: row.get(10),
        replaced_by: row.get(11),
    }
}

/// Winner `winner_id` of raffle `campaign_id` of this bot, or a 404.
async fn load_winner(
    client: &impl deadpool_postgres::GenericClient,
    api: &AdminApi,
    campaign_id: i64,
    winner_id: i64,
) -> Result<ClaimWinner, ApiError> {
    client
        .query_opt(WINNER, &[&winner_id, &api.bot_id, &campaign_id])
        .await
        .map_err(db)?
        .map(|row| winner_of(&row))
        .ok_or_else(|| {
            ApiError::not_found(format!("raffle {campaign_id} has no winner {winner_id}"))
        })
}

fn reason_field(reason: &str) -> Result<String, ApiError> {
    let reason = crate::pgtext::strip_nul(reason.trim()).into_owned();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(ApiError::bad_request("reason must be 3 to 500 characters").field("reason"));
    }
    Ok(reason)
}

/// Disqualify a winner with a reason: the next reserve of the prize wins and is notified
/// (manager; audited as `raffle.rerolled`, or `raffle.prize_unclaimed` without a reserve).
#[utoipa::path(
    post,
    path = "/api/raffles/{id}/winners/{winner_id}/disqualify",
    tag = "raffles",
    extensions(("x-role" = json!("manager"))),
    params(
        ("id" = i64, Path, description = "the raffle's campaign id"),
        ("winner_id" = i64, Path, description = "the winner row's id"),
    ),
    request_body = promo_api_types::panel::DisqualifyRequest,
    responses(
        (status = 200, description = "the ended winner and the reserve that holds the prize now", body = promo_api_types::panel::Reroll),
        (status = 400, description = "the reason is not 3 to 500 characters (field `reason`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such winner of this raffle", body = promo_api_types::ApiError),
        (status = 409, description = "the winner no longer holds the prize", body = promo_api_types::ApiError),
    )
)]
async fn disqualify(
    State(api): State<AdminApi>,
    session: Session,
    Path((campaign_id, winner_id)): Path<(i64, i64)>,
    Body(request): Body<DisqualifyRequest>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let reason = reason_field(&request.reason)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    load_winner(&tx, &api, campaign_id, winner_id).await?;
    let rerolled = claims::reroll_winner(
        &tx,
        api.bot_id,
        winner_id,
        Ending::Disqualified,
        &reason,
        &session.actor(),
        &api.texts,
    )
    .await
    .map_err(internal)?;
    let promoted = match rerolled {
        Rerolled::Untouched => {
            return Err(ApiError::conflict(
                "this winner no longer holds the prize (ended or handed over)",
            ))
        }
        Rerolled::Unclaimed => None,
        Rerolled::Promoted(reserve) => Some(load_winner(&tx, &api, campaign_id, reserve).await?),
    };
    let ended = load_winner(&tx, &api, campaign_id, winner_id).await?;
    tx.commit().await.map_err(db)?;
    Ok(Json(Reroll { ended, promoted }).into_response())
}

/// Record a prize as handed over; only a confirmed claim, or one whose documents are in
/// (manager; audited).
#[utoipa::path(
    post,
    path = "/api/raffles/{id}/winners/{winner_id}/handed-over",
    tag = "raffles",
    extensions(("x-role" = json!("manager"))),
    params(
        ("id" = i64, Path, description = "the raffle's campaign id"),
        ("winner_id" = i64, Path, description = "the winner row's id"),
    ),
    responses(
        (status = 200, description = "the winner after the change", body = promo_api_types::panel::ClaimWinner),
        (status = 404, description = "no such winner of this raffle", body = promo_api_types::ApiError),
        (status = 409, description = "the claim is not confirmed (or its documents are missing)", body = promo_api_types::ApiError),
    )
)]
async fn handed_over(
    State(api): State<AdminApi>,
    session: Session,
    Path((campaign_id, winner_id)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let before = load_winner(&tx, &api, campaign_id, winner_id).await?;
    let changed = tx
        .execute(
            "UPDATE raffle_winners SET claim_status = 'handed_over', handed_over_at = now()
             WHERE id = $1 AND bot_id = $2
               AND claim_status IN ('confirmed', 'documents_received')",
            &[&winner_id, &api.bot_id],
        )
        .await
        .map_err(db)?;
    if changed == 0 {
        return Err(ApiError::conflict(format!(
            "a prize is handed over once its claim is confirmed (or its documents are in); \
             this one is {}",
            before.claim_status
        )));
    }
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "claim.handed_over",
        &format!("winner:{winner_id}"),
        &json!({
            "draw_id": before.draw_id,
            "winner_id": winner_id,
            "prize_id": before.prize_id,
            "from_status": before.claim_status,
        }),
    )
    .await
    .map_err(internal)?;
    let after = load_winner(&tx, &api, campaign_id, winner_id).await?;
    tx.commit().await.map_err(db)?;
    Ok(Json(after).into_response())
}

/// A winner's tax-agent documents (owner only; every view is audited as
/// `claim.documents_viewed`).
#[utoipa::path(
    get,
    path = "/api/raffles/{id}/winners/{winner_id}/documents",
    tag = "raffles",
    extensions(("x-role" = json!("owner"))),
    params(
        ("id" = i64, Path, description = "the raffle's campaign id"),
        ("winner_id" = i64, Path, description = "the winner row's id"),
    ),
    responses(
        (status = 200, description = "the documents", body = promo_api_types::panel::ClaimDocuments),
        (status = 403, description = "only an owner sees documents", body = promo_api_types::ApiError),
        (status = 404, description = "no such winner, or no documents (never handed in, or deleted after the retention period)", body = promo_api_types::ApiError),
    )
)]
async fn documents(
    State(api): State<AdminApi>,
    session: Session,
    Path((campaign_id, winner_id)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    session.require(Role::Owner)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let winner = load_winner(&tx, &api, campaign_id, winner_id).await?;
    let row = tx
        .query_one(
            "SELECT documents, documents_at FROM raffle_winners WHERE id = $1",
            &[&winner_id],
        )
        .await
        .map_err(db)?;
    let (Some(sealed), Some(submitted_at)) = (
        row.get::<_, Option<Vec<u8>>>(0),
        row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(1),
    ) else {
        return Err(ApiError::not_found(
            "this winner has no documents (never handed in, or deleted after the retention period)",
        ));
    };
    let documents: Documents = api
        .prize_key
        .open_documents(winner_id, &sealed)
        .map_err(anyhow::Error::new)
        .and_then(|plain| serde_json::from_slice(&plain).map_err(anyhow::Error::new))
        .map_err(|error| internal(error.context("a winner's documents do not open")))?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "claim.documents_viewed",
        &format!("winner:{winner_id}"),
        &json!({ "draw_id": winner.draw_id, "winner_id": winner_id }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    let body = ClaimDocuments {
        winner_id,
        full_name: documents.full_name.unwrap_or_default(),
        passport: documents.passport.unwrap_or_default(),
        inn: documents.inn.unwrap_or_default(),
        address: documents.address.unwrap_or_default(),
        submitted_at: timestamp(submitted_at),
    };
    // Passport data inside: no cache on the way may keep a copy.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
