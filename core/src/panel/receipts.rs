//! Receipt review: `GET /api/receipts` (filters), `GET /api/receipts/{id}` (lines and
//! fraud signals), moderation (`POST /api/receipts/{id}/approve` and `/reject`), and the
//! suspicious-seller queue (`GET /api/receipts/sellers`), and a new check of an upload
//! whose check failed (`POST /api/submissions/{id}/recheck`).
//!
//! A decision is one transaction: the receipt's status, its tickets through the ledger
//! (approve), its submission's outcome, the shopper's message in the outbox (sent by the
//! relay, retried until Telegram takes it) and the audit row. Only a receipt held for
//! review (`pending`) can be decided, once: a second decision is a 409.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_api_types::panel::{
    ModerationDecision, ReceiptDetail, ReceiptPage, ReceiptRow, SuspiciousSeller,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{Role, Session};
use super::{db, internal, next_before, one_of, page_limit, timestamp, Body, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::outbox::{NewMessage, Purpose};
use crate::t;
use crate::telegram::{OutgoingMessage, SendMessage};
use crate::texts::Lang;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/receipts", get(list))
        .route("/api/receipts/sellers", get(sellers))
        .route("/api/receipts/{id}", get(detail))
        .route("/api/receipts/{id}/approve", post(approve))
        .route("/api/receipts/{id}/reject", post(reject))
        .route("/api/submissions/{id}/recheck", post(recheck))
}

/// Uploads an operator may send to ProverkaCheka again: the check ended without a
/// verdict on the receipt itself (the provider or the tax service failed, the file could
/// not be fetched, we gave up waiting) or the tax service said no and may know better
/// now. A local verdict (duplicate, outside the period, no promo items) would come out
/// the same and is refused.
const RECHECKABLE_REJECTIONS: &[&str] = &["fns_invalid", "fns_failed", "file_unavailable"];

const STATUSES: &[&str] = &["accepted", "pending", "rejected"];
const MAX_PAGE: i64 = 200;

const ROW_COLUMNS: &str = "r.id, r.user_id, COALESCE(u.full_name, u.first_name), r.status,
    r.tickets::BIGINT, r.total_kopecks, r.seller_inn, r.seller_name, r.receipt_at, r.created_at,
    r.fraud_signals";

fn signal_names(signals: &Value) -> Vec<String> {
    signals
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s.get("kind").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn local_time(at: chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn receipt_row_of(row: &tokio_postgres::Row) -> ReceiptRow {
    ReceiptRow {
        id: row.get(0),
        user_id: row.get(1),
        user_name: row.get(2),
        status: row.get(3),
        tickets: row.get(4),
        total_kopecks: row.get(5),
        seller_inn: row.get(6),
        seller_name: row.get(7),
        receipt_at: local_time(row.get(8)),
        created_at: timestamp(row.get(9)),
        signals: signal_names(&row.get::<_, Value>(10)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `accepted`, `pending` or `rejected`.
    status: Option<String>,
    /// Upload time, inclusive lower and exclusive upper bound.
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// The shopper's internal id.
    user_id: Option<i64>,
    /// The seller's INN (10 or 12 digits).
    seller_inn: Option<String>,
    /// Only receipts with (true) or without (false) promo products.
    has_promo: Option<bool>,
    /// Only receipts that raised a fraud signal.
    flagged: Option<bool>,
    /// Continue a list: the `next_before_id` of the page before.
    before_id: Option<i64>,
    /// Page size, 1 to 200 (50).
    limit: Option<i64>,
}

/// Receipts for review, newest first, with filters.
#[utoipa::path(
    get,
    path = "/api/receipts",
    tag = "receipts",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of receipts", body = promo_api_types::panel::ReceiptPage),
        (status = 400, description = "a filter or `limit` is out of range (field named)", body = promo_api_types::ApiError),
    )
)]
async fn list(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    one_of("status", query.status.as_deref(), STATUSES)?;
    if let Some(inn) = &query.seller_inn {
        if !(inn.len() == 10 || inn.len() == 12) || !inn.chars().all(|c| c.is_ascii_digit()) {
            return Err(
                ApiError::bad_request("seller_inn must be 10 or 12 digits").field("seller_inn")
            );
        }
    }
    let client = api.pool.get().await.map_err(db)?;
    let order = if query.from.is_some() || query.to.is_some() {
        time_range_order(&client, api.bot_id, query.from, query.to).await?
    } else {
        NEWEST_FIRST
    };
    let rows = client
        .query(
            &format!(
                // The page's ids first, then their rows: sorting a range's ids costs
                // little (receipts_created_idx carries them), sorting its whole rows
                // would read every one from the table.
                "SELECT {ROW_COLUMNS} FROM receipts r JOIN users u ON u.id = r.user_id
                 WHERE r.id IN (
                     SELECT r.id FROM receipts r
                     WHERE r.bot_id = $1
                       AND ($2::TEXT IS NULL OR r.status = $2)
                       AND ($3::TIMESTAMPTZ IS NULL OR r.created_at >= $3)
                       AND ($4::TIMESTAMPTZ IS NULL OR r.created_at < $4)
                       AND ($5::BIGINT IS NULL OR r.user_id = $5)
                       AND ($6::TEXT IS NULL OR r.seller_inn = $6)
                       AND ($7::BOOL IS NULL OR (r.tickets > 0) = $7)
                       AND ($8::BOOL IS NULL OR (jsonb_array_length(r.fraud_signals) > 0) = $8)
                       AND ($9::BIGINT IS NULL OR r.id < $9)
                     ORDER BY {order} LIMIT $10)
                 ORDER BY r.id DESC"
            ),
            &[
                &api.bot_id,
                &query.status,
                &query.from,
                &query.to,
                &query.user_id,
                &query.seller_inn,
                &query.has_promo,
                &query.flagged,
                &query.before_id,
                &limit,
            ],
        )
        .await
        .map_err(db)?;
    let receipts: Vec<ReceiptRow> = rows.iter().map(receipt_row_of).collect();
    let next_before_id = next_before(receipts.iter().map(|r| r.id), limit);
    Ok(Json(ReceiptPage {
        receipts,
        next_before_id,
    })
    .into_response())
}

/// Newest first, walking the primary key down until a page matches.
const NEWEST_FIRST: &str = "r.id DESC";
/// The same order, which the primary key cannot hand over (`+ 0`), so Postgres reads the
/// receipts of the time range through `receipts_created_idx` and sorts them.
const NEWEST_FIRST_OF_RANGE: &str = "r.id + 0 DESC";

/// How to read a time-filtered list. Postgres cannot know that ids grow with upload
/// time, so for a range a month back it walks the primary key from the newest receipt
/// through millions of rows newer than the range, expecting matches all along (10 s at
/// five million receipts). Whichever is fewer wins: the receipts in the range, or those
/// newer than it, as the dashboard's rollup counts them (migration 0010).
async fn time_range_order(
    client: &tokio_postgres::Client,
    bot_id: i64,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<&'static str, ApiError> {
    let row = client
        .query_one(
            "WITH b AS (
                 SELECT dashboard_bucket(COALESCE($2::TIMESTAMPTZ, '-infinity')) AS lo,
                        COALESCE($3::TIMESTAMPTZ, 'infinity') AS hi
             )
             SELECT COALESCE(sum(c.accepted + c.pending + c.rejected)
                                 FILTER (WHERE c.bucket < b.hi), 0)::BIGINT,
                    COALESCE(sum(c.accepted + c.pending + c.rejected)
                                 FILTER (WHERE c.bucket >= b.hi), 0)::BIGINT
             FROM dashboard_counts c, b
             WHERE c.bot_id = $1 AND c.bucket >= b.lo",
            &[&bot_id, &from, &to],
        )
        .await
        .map_err(db)?;
    let (in_range, newer): (i64, i64) = (row.get(0), row.get(1));
    Ok(if in_range < newer {
        NEWEST_FIRST_OF_RANGE
    } else {
        NEWEST_FIRST
    })
}

/// One receipt with its lines and its fraud signals.
#[utoipa::path(
    get,
    path = "/api/receipts/{id}",
    tag = "receipts",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the receipt's id")),
    responses(
        (status = 200, description = "the receipt", body = promo_api_types::panel::ReceiptDetail),
        (status = 404, description = "no such receipt", body = promo_api_types::ApiError),
    )
)]
async fn detail(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let client = api.pool.get().await.map_err(db)?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {ROW_COLUMNS}, r.fiscal_drive_number, r.fiscal_document_number,
                        r.fiscal_sign, r.seller_address, r.items, r.raw_qr,
                        r.moderation_reason, r.moderated_at
                 FROM receipts r JOIN users u ON u.id = r.user_id
                 WHERE r.id = $1 AND r.bot_id = $2"
            ),
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no receipt {id}")))?;
    Ok(Json(ReceiptDetail {
        receipt: receipt_row_of(&row),
        fraud_signals: row.get(10),
        fiscal_drive_number: row.get(11),
        fiscal_document_number: row.get(12),
        fiscal_sign: row.get(13),
        seller_address: row.get(14),
        items: row.get(15),
        raw_qr: row.get(16),
        moderation_reason: row.get(17),
        moderated_at: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(18)
            .map(timestamp),
    })
    .into_response())
}

/// Approve a receipt held for review: tickets granted, the shopper told (manager; audited).
#[utoipa::path(
    post,
    path = "/api/receipts/{id}/approve",
    tag = "receipts",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the receipt's id")),
    request_body = promo_api_types::panel::ModerationDecision,
    responses(
        (status = 200, description = "decided: `{id, status}`", body = serde_json::Value, example = json!({"id": 1, "status": "accepted"})),
        (status = 400, description = "the reason is too long (field `reason`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such receipt", body = promo_api_types::ApiError),
        (status = 409, description = "the receipt is not waiting for review (already decided)", body = promo_api_types::ApiError),
    )
)]
async fn approve(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(decision): Body<ModerationDecision>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let reason = optional_reason(decision.reason.as_deref())?;
    decide(&api, &session, id, Decision::Approve, reason.as_deref()).await
}

/// Reject a receipt held for review with a reason the shopper is told (manager; audited).
#[utoipa::path(
    post,
    path = "/api/receipts/{id}/reject",
    tag = "receipts",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the receipt's id")),
    request_body = promo_api_types::panel::ModerationDecision,
    responses(
        (status = 200, description = "decided: `{id, status}`", body = serde_json::Value, example = json!({"id": 1, "status": "rejected"})),
        (status = 400, description = "the reason is missing or too long (field `reason`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such receipt", body = promo_api_types::ApiError),
        (status = 409, description = "the receipt is not waiting for review (already decided)", body = promo_api_types::ApiError),
    )
)]
async fn reject(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(decision): Body<ModerationDecision>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let reason = optional_reason(decision.reason.as_deref())?.ok_or_else(|| {
        ApiError::bad_request("a rejection needs a reason (the shopper is told it)").field("reason")
    })?;
    decide(&api, &session, id, Decision::Reject, Some(&reason)).await
}

fn optional_reason(reason: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(reason) = reason.map(|r| crate::pgtext::strip_nul(r.trim()).into_owned()) else {
        return Ok(None);
    };
    if reason.is_empty() {
        return Ok(None);
    }
    if reason.chars().count() > 500 {
        return Err(ApiError::bad_request("reason must be at most 500 characters").field("reason"));
    }
    Ok(Some(reason))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Approve,
    Reject,
}

async fn decide(
    api: &AdminApi,
    session: &Session,
    id: i64,
    decision: Decision,
    reason: Option<&str>,
) -> Result<Response, ApiError> {
    let failed = |e: tokio_postgres::Error| internal(e.into());
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(failed)?;
    let row = tx
        .query_opt(
            "SELECT r.status, r.user_id, r.tickets, r.submission_id, u.telegram_id, u.language
             FROM receipts r JOIN users u ON u.id = r.user_id
             WHERE r.id = $1 AND r.bot_id = $2
             FOR UPDATE OF r",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::not_found(format!("no receipt {id}")))?;
    let status: String = row.get(0);
    if status != "pending" {
        return Err(ApiError::conflict(format!(
            "the receipt is {status}: only a receipt waiting for review can be decided"
        )));
    }
    let user_id: i64 = row.get(1);
    let tickets: i32 = row.get(2);
    let submission_id: Option<i64> = row.get(3);
    let chat_id: i64 = row.get(4);
    let lang = Lang::from_code(row.get(5)).unwrap_or(Lang::Ru);
    let (receipt_status, outcome) = match decision {
        Decision::Approve => ("accepted", "accepted"),
        Decision::Reject => ("rejected", "moderation_rejected"),
    };
    let (panel, _) = session.actor().ids();
    tx.execute(
        "UPDATE receipts SET status = $2, moderation_reason = COALESCE($3, moderation_reason),
                             moderated_by = $4, moderated_at = now()
         WHERE id = $1",
        &[&id, &receipt_status, &reason, &panel],
    )
    .await
    .map_err(failed)?;
    if let Some(submission_id) = submission_id {
        tx.execute(
            "UPDATE receipt_submissions SET status = $2, outcome = $3, outcome_detail = $4,
                                            updated_at = now()
             WHERE id = $1 AND status = 'pending_moderation'",
            &[&submission_id, &receipt_status, &outcome, &reason],
        )
        .await
        .map_err(failed)?;
    }
    let text = match decision {
        Decision::Approve => {
            crate::ledger::grant_for_receipt(&tx, api.bot_id, user_id, id, tickets)
                .await
                .map_err(internal)?;
            let total = crate::ledger::total(&tx, api.bot_id, user_id)
                .await
                .map_err(internal)?;
            api.texts
                .render(
                    t!("receipt_moderation_approved"),
                    lang,
                    &[
                        ("tickets", &tickets.to_string()),
                        ("total", &total.to_string()),
                    ],
                )
                .await
        }
        Decision::Reject => {
            api.texts
                .render(
                    t!("receipt_moderation_rejected"),
                    lang,
                    &[("reason", reason.unwrap_or_default())],
                )
                .await
        }
    };
    let message = OutgoingMessage::Send(SendMessage::new(chat_id, text));
    crate::outbox::insert_message(
        &tx,
        api.bot_id,
        &NewMessage {
            purpose: Purpose::Moderation,
            user_id: Some(user_id),
            chat_id,
            message: &message,
            dedup_key: Some(format!("moderation:{id}")),
        },
    )
    .await
    .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        match decision {
            Decision::Approve => "receipt.approve",
            Decision::Reject => "receipt.reject",
        },
        &format!("receipt:{id}"),
        &json!({
            "before": { "status": status },
            "after": { "status": receipt_status },
            "reason": reason,
            "tickets": if decision == Decision::Approve { tickets } else { 0 },
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(failed)?;
    Ok((
        StatusCode::OK,
        Json(json!({ "id": id, "status": receipt_status })),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SellersQuery {
    /// How many sellers, 1 to 200 (50).
    limit: Option<i64>,
}

/// The suspicious-seller queue.
///
/// Sellers with receipts waiting for review, the most waiting first.
#[utoipa::path(
    get,
    path = "/api/receipts/sellers",
    tag = "receipts",
    extensions(("x-role" = json!("viewer"))),
    params(SellersQuery),
    responses(
        (status = 200, description = "sellers with receipts waiting, the most waiting first", body = Vec<promo_api_types::panel::SuspiciousSeller>),
        (status = 400, description = "`limit` is out of range (field `limit`)", body = promo_api_types::ApiError),
    )
)]
async fn sellers(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<SellersQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            "SELECT seller_inn, max(seller_name),
                    count(*) FILTER (WHERE status = 'pending'),
                    count(*) FILTER (WHERE status = 'accepted'),
                    count(DISTINCT user_id), max(receipt_at)
             FROM receipts
             WHERE bot_id = $1 AND seller_inn IS NOT NULL
             GROUP BY seller_inn
             HAVING count(*) FILTER (WHERE status = 'pending') > 0
             ORDER BY 3 DESC, 1 LIMIT $2",
            &[&api.bot_id, &limit],
        )
        .await
        .map_err(db)?;
    let sellers: Vec<SuspiciousSeller> = rows
        .iter()
        .map(|row| SuspiciousSeller {
            seller_inn: row.get(0),
            seller_name: row.get(1),
            pending: row.get(2),
            accepted: row.get(3),
            shoppers: row.get(4),
            last_receipt_at: local_time(row.get(5)),
        })
        .collect();
    Ok(Json(sellers).into_response())
}

/// Check an upload with ProverkaCheka again (manager; audited; at most one paid call).
///
/// The upload goes back to `queued` with a new check in the outbox, in the transaction
/// of the audit row; the verifier runs it like a first check (duplicate and period
/// checks before the paid call) and tells the shopper the verdict. Its paid calls count
/// in `/api/costs` on the upload's day.
#[utoipa::path(
    post,
    path = "/api/submissions/{id}/recheck",
    tag = "receipts",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the upload's id (`receipt_submissions.id`, `uploads[].id` of a user)")),
    responses(
        (status = 202, description = "queued: `{id, status}`", body = serde_json::Value, example = json!({"id": 7, "status": "queued"})),
        (status = 404, description = "no such upload", body = promo_api_types::ApiError),
        (status = 409, description = "the upload is being checked, was accepted, or was refused for a reason a new check cannot change", body = promo_api_types::ApiError),
    )
)]
async fn recheck(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let row = tx
        .query_opt(
            "SELECT status, outcome, user_id, attempts FROM receipt_submissions
             WHERE id = $1 AND bot_id = $2 FOR UPDATE",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no upload {id}")))?;
    let status: String = row.get(0);
    let outcome: Option<String> = row.get(1);
    let user_id: i64 = row.get(2);
    let attempts: i32 = row.get(3);
    let allowed = match status.as_str() {
        "failed" | "retry_scheduled" => true,
        "rejected" => outcome
            .as_deref()
            .is_some_and(|o| RECHECKABLE_REJECTIONS.contains(&o)),
        _ => false,
    };
    if !allowed {
        let why = match status.as_str() {
            "queued" | "processing" => "it is being checked now".to_owned(),
            "accepted" | "pending_moderation" => format!("it was {status}"),
            _ => format!(
                "it was {status} ({}), which a new check would not change",
                outcome.as_deref().unwrap_or("no reason")
            ),
        };
        return Err(ApiError::conflict(format!(
            "upload {id} cannot be checked again: {why}"
        )));
    }
    // `Verify` claims a `queued` row; a re-check still scheduled for the old attempt
    // finds the row moved on and drops out, so one chain remains.
    tx.execute(
        "UPDATE receipt_submissions
         SET status = 'queued', outcome = NULL, outcome_detail = NULL, next_attempt_at = NULL,
             updated_at = now()
         WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(db)?;
    crate::outbox::insert_check(
        &tx,
        api.bot_id,
        user_id,
        id,
        &crate::jobs::ReceiptJob::Verify { submission_id: id },
        std::time::Duration::ZERO,
        &format!("receipt:{id}:operator:{attempts}"),
    )
    .await
    .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "submission.recheck",
        &format!("submission:{id}"),
        &json!({
            "before": { "status": status, "outcome": outcome },
            "after": { "status": "queued" },
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "status": "queued" })),
    )
        .into_response())
}
