//! The shopper CRM: `GET /api/users` (search and paging), `GET /api/users/{id}` (what
//! the shopper did), `GET /api/users/{id}/phone` (the full number: owner and manager,
//! audited), `POST /api/users/{id}/block` and `/unblock` (audited), manual tickets and
//! receipts, and a direct message.
//!
//! One search box takes whatever an operator has: `@username` (prefix), a phone number
//! in any common spelling (exact, through the HMAC index: the number itself is never
//! compared in the clear), bare digits (a Telegram id, an internal id or a phone), or the
//! start of a name (the typed or first name, or the Telegram last name: lower-cased
//! copies kept by Postgres, `search_*`, each with its pattern-ops index, migration 0010);
//! the test chat's shoppers only when asked for. A blocked shopper is `banned`: broadcasts
//! and draws take registered shoppers only, and the bot answers a banned one with its
//! `banned` text.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promo_api_types::panel::{
    BlockRequest, DirectMessage, FullPhone, ManualReceipt, ManualReceiptQueued, ShopperCampaign,
    ShopperDetail, ShopperPage, ShopperReceipt, ShopperRow, ShopperWin, TicketEntry, TicketGrant,
    TicketTotal,
};
use serde::Deserialize;
use serde_json::json;

use super::session::{Role, Session};
use super::{db, internal, next_before, one_of, page_limit, timestamp, Body, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::pii::Phone;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/users", get(list))
        .route("/api/users/{id}", get(detail))
        .route("/api/users/{id}/phone", get(full_phone))
        .route("/api/users/{id}/block", post(block))
        .route("/api/users/{id}/unblock", post(unblock))
        .route("/api/users/{id}/tickets", post(grant_tickets))
        .route("/api/users/{id}/message", post(send_message))
        .route("/api/users/{id}/receipts", post(manual_receipt))
}

const STATUSES: &[&str] = &["new", "registering", "registered", "banned"];
const MAX_PAGE: i64 = 100;
/// How many of each kind of history row the detail shows (newest first).
const HISTORY: i64 = 50;

const ROW_COLUMNS: &str = "u.id, u.telegram_id, u.username, COALESCE(u.full_name, u.first_name),
    u.phone_masked, u.status, u.reachable, u.language,
    COALESCE((SELECT sum(t.amount) FROM tickets t WHERE t.bot_id = u.bot_id AND t.user_id = u.id), 0)::BIGINT,
    (SELECT count(*) FROM receipts r WHERE r.bot_id = u.bot_id AND r.user_id = u.id AND r.status = 'accepted'),
    u.created_at, u.registered_at, u.last_seen_at";

fn shopper_row_of(row: &tokio_postgres::Row) -> ShopperRow {
    ShopperRow {
        id: row.get(0),
        telegram_id: row.get(1),
        username: row.get(2),
        name: row.get(3),
        phone_masked: row.get(4),
        status: row.get(5),
        reachable: row.get(6),
        language: row.get(7),
        tickets: row.get(8),
        receipts_accepted: row.get(9),
        created_at: timestamp(row.get(10)),
        registered_at: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(11)
            .map(timestamp),
        last_seen_at: timestamp(row.get(12)),
    }
}

/// What the search box was understood as.
#[derive(Debug, Default, PartialEq, Eq)]
struct Search {
    /// A Telegram id or an internal id.
    number: Option<i64>,
    phone_hash: Option<Vec<u8>>,
    /// `LIKE` patterns, lower-cased, wildcards of the input escaped.
    username_prefix: Option<String>,
    name_prefix: Option<String>,
}

fn like_prefix(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn understand(query: &str, hash: impl Fn(&Phone) -> Vec<u8>) -> Search {
    let query = query.trim();
    if query.is_empty() {
        return Search::default();
    }
    if let Some(name) = query.strip_prefix('@') {
        return Search {
            username_prefix: Some(like_prefix(name)),
            ..Search::default()
        };
    }
    let phone = Phone::parse(query).ok();
    let number = query
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| query.parse::<i64>().ok())
        .flatten();
    if number.is_some() || phone.is_some() {
        return Search {
            number,
            phone_hash: phone.as_ref().map(hash),
            ..Search::default()
        };
    }
    Search {
        name_prefix: Some(like_prefix(query)),
        // A username typed without its @ is found too.
        username_prefix: Some(like_prefix(query)),
        ..Search::default()
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The search box: `@username`, a phone, a Telegram or internal id, or a name's start.
    q: Option<String>,
    /// `new`, `registering`, `registered` or `banned`.
    status: Option<String>,
    /// Continue a list: the `next_before_id` of the page before.
    before_id: Option<i64>,
    /// Page size, 1 to 100 (50).
    limit: Option<i64>,
    /// Also list the test shoppers of the panel's test chat (false).
    include_test: Option<bool>,
}

/// Search shoppers by @username, phone, Telegram id, internal id or name prefix; newest first.
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of shoppers", body = promo_api_types::panel::ShopperPage),
        (status = 400, description = "`status` or `limit` is out of range (field named)", body = promo_api_types::ApiError),
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
    let text = crate::pgtext::strip_nul(query.q.as_deref().unwrap_or(""));
    if text.chars().count() > 100 {
        return Err(ApiError::bad_request("q must be at most 100 characters").field("q"));
    }
    let search = understand(&text, |phone| api.phone_key.hash(phone));
    let client = api.pool.get().await.map_err(db)?;
    let rows = client
        .query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM users u
                 WHERE u.bot_id = $1
                   AND ($2::BIGINT IS NULL OR u.id < $2)
                   AND ($3::TEXT IS NULL OR u.status = $3)
                   AND ($9 OR NOT u.is_test)
                   AND (($4::BIGINT IS NULL AND $5::BYTEA IS NULL AND $6::TEXT IS NULL AND $7::TEXT IS NULL)
                        OR u.id = $4 OR u.telegram_id = $4 OR u.phone_hash = $5
                        OR u.search_username LIKE $6
                        OR u.search_name LIKE $7
                        OR u.search_last_name LIKE $7)
                 ORDER BY u.id DESC LIMIT $8"
            ),
            &[
                &api.bot_id,
                &query.before_id,
                &query.status,
                &search.number,
                &search.phone_hash,
                &search.username_prefix,
                &search.name_prefix,
                &limit,
                &query.include_test.unwrap_or(false),
            ],
        )
        .await
        .map_err(db)?;
    let users: Vec<ShopperRow> = rows.iter().map(shopper_row_of).collect();
    let next_before_id = next_before(users.iter().map(|u| u.id), limit);
    Ok(Json(ShopperPage {
        users,
        next_before_id,
    })
    .into_response())
}

async fn load_row(api: &AdminApi, id: i64) -> Result<ShopperRow, ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    client
        .query_opt(
            &format!("SELECT {ROW_COLUMNS} FROM users u WHERE u.id = $1 AND u.bot_id = $2"),
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .map(|row| shopper_row_of(&row))
        .ok_or_else(|| ApiError::not_found(format!("no shopper {id}")))
}

/// One shopper with their receipts, tickets, wins and the campaigns they received.
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    responses(
        (status = 200, description = "the shopper", body = promo_api_types::panel::ShopperDetail),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
    )
)]
async fn detail(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let user = load_row(&api, id).await?;
    let client = api.pool.get().await.map_err(db)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&id, &api.bot_id, &HISTORY];
    let (receipts, tickets, wins, campaigns) = tokio::join!(
        client.query(
            "SELECT id, status, tickets::BIGINT, total_kopecks, seller_name, receipt_at, created_at
             FROM receipts WHERE user_id = $1 AND bot_id = $2
             ORDER BY created_at DESC, id DESC LIMIT $3",
            &params,
        ),
        client.query(
            "SELECT id, amount::BIGINT, source, reason, receipt_id, created_at
             FROM tickets WHERE user_id = $1 AND bot_id = $2
             ORDER BY created_at DESC, id DESC LIMIT $3",
            &params,
        ),
        client.query(
            "SELECT d.id, d.campaign_id, d.prize, w.position::BIGINT, d.drawn_at
             FROM raffle_winners w JOIN raffle_draws d ON d.id = w.draw_id
             WHERE w.user_id = $1 AND w.bot_id = $2
             ORDER BY d.drawn_at DESC LIMIT $3",
            &params,
        ),
        client.query(
            "SELECT c.id, c.kind, d.status, d.sent_at
             FROM campaign_deliveries d JOIN campaigns c ON c.id = d.campaign_id
             WHERE d.user_id = $1 AND d.bot_id = $2
             ORDER BY d.id DESC LIMIT $3",
            &params,
        ),
    );
    let failed = |e: tokio_postgres::Error| internal(e.into());
    let optional_time = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(timestamp);
    Ok(Json(ShopperDetail {
        user,
        receipts: receipts
            .map_err(failed)?
            .iter()
            .map(|row| ShopperReceipt {
                id: row.get(0),
                status: row.get(1),
                tickets: row.get(2),
                total_kopecks: row.get(3),
                seller_name: row.get(4),
                receipt_at: row
                    .get::<_, chrono::NaiveDateTime>(5)
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
                created_at: timestamp(row.get(6)),
            })
            .collect(),
        ticket_entries: tickets
            .map_err(failed)?
            .iter()
            .map(|row| TicketEntry {
                id: row.get(0),
                amount: row.get(1),
                source: row.get(2),
                reason: row.get(3),
                receipt_id: row.get(4),
                created_at: timestamp(row.get(5)),
            })
            .collect(),
        wins: wins
            .map_err(failed)?
            .iter()
            .map(|row| ShopperWin {
                draw_id: row.get(0),
                campaign_id: row.get(1),
                prize: row.get(2),
                position: row.get(3),
                drawn_at: timestamp(row.get(4)),
            })
            .collect(),
        campaigns: campaigns
            .map_err(failed)?
            .iter()
            .map(|row| ShopperCampaign {
                campaign_id: row.get(0),
                kind: row.get(1),
                status: row.get(2),
                sent_at: optional_time(row.get(3)),
            })
            .collect(),
    })
    .into_response())
}

/// A shopper's full phone number (owner, manager; audited).
///
/// The full number, for whoever hands over prizes; the read and its audit row share one
/// transaction, so no number is shown without a trace.
#[utoipa::path(
    get,
    path = "/api/users/{id}/phone",
    tag = "users",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    responses(
        (status = 200, description = "the number, `null` when the shopper gave none", body = promo_api_types::panel::FullPhone),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
    )
)]
async fn full_phone(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let row = tx
        .query_opt(
            "SELECT phone_ciphertext FROM users WHERE id = $1 AND bot_id = $2",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no shopper {id}")))?;
    let sealed: Option<Vec<u8>> = row.get(0);
    let phone = match sealed {
        Some(bytes) => Some(
            api.phone_key
                .decrypt(&bytes)
                .map_err(|e| internal(anyhow::anyhow!("opening a stored phone: {e}")))?
                .international(),
        ),
        None => None,
    };
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "user.view_phone",
        &format!("user:{id}"),
        &json!({}),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok(Json(FullPhone { phone }).into_response())
}

fn reason_field(reason: &str) -> Result<String, ApiError> {
    let reason = crate::pgtext::strip_nul(reason.trim()).into_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::bad_request("reason must be 1 to 500 characters").field("reason"));
    }
    Ok(reason)
}

/// Block a shopper: they receive nothing and never win (manager; audited).
#[utoipa::path(
    post,
    path = "/api/users/{id}/block",
    tag = "users",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    request_body = promo_api_types::panel::BlockRequest,
    responses(
        (status = 200, description = "the shopper after the change", body = promo_api_types::panel::ShopperRow),
        (status = 400, description = "the reason is empty or too long (field `reason`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
    )
)]
async fn block(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(request): Body<BlockRequest>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let reason = reason_field(&request.reason)?;
    set_banned(&api, &session, id, true, Some(&reason)).await?;
    Ok(Json(load_row(&api, id).await?).into_response())
}

/// Unblock a shopper (manager; audited).
#[utoipa::path(
    post,
    path = "/api/users/{id}/unblock",
    tag = "users",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    responses(
        (status = 200, description = "the shopper after the change", body = promo_api_types::panel::ShopperRow),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
    )
)]
async fn unblock(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    set_banned(&api, &session, id, false, None).await?;
    Ok(Json(load_row(&api, id).await?).into_response())
}

/// Bans or restores a shopper (to `registered` if they had registered, else `new`), with
/// its audit row; doing what is already done changes nothing and writes nothing.
async fn set_banned(
    api: &AdminApi,
    session: &Session,
    id: i64,
    banned: bool,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let before: String = tx
        .query_opt(
            "SELECT status FROM users WHERE id = $1 AND bot_id = $2 FOR UPDATE",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no shopper {id}")))?
        .get(0);
    if (before == "banned") == banned {
        return Ok(());
    }
    let after: String = tx
        .query_one(
            "UPDATE users SET status = CASE WHEN $2 THEN 'banned'
                                            WHEN registered_at IS NOT NULL THEN 'registered'
                                            ELSE 'new' END
             WHERE id = $1 RETURNING status",
            &[&id, &banned],
        )
        .await
        .map_err(db)?
        .get(0);
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        if banned { "user.block" } else { "user.unblock" },
        &format!("user:{id}"),
        &json!({ "before": { "status": before }, "after": { "status": after }, "reason": reason }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// The shopper's chat and language, or a 404.
async fn chat_of(api: &AdminApi, id: i64) -> Result<(i64, crate::texts::Lang, String), ApiError> {
    let client = api.pool.get().await.map_err(db)?;
    let row = client
        .query_opt(
            "SELECT telegram_id, language, status FROM users WHERE id = $1 AND bot_id = $2",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no shopper {id}")))?;
    let lang = crate::texts::Lang::from_code(row.get(1)).unwrap_or(crate::texts::Lang::Ru);
    Ok((row.get(0), lang, row.get(2)))
}

/// A manual grant (or correction) with its reason; the shopper is told through the
/// outbox unless `notify` is false. Ledger row, audit row and notice share one
/// transaction ([`crate::grants::grant`]).
#[utoipa::path(
    post,
    path = "/api/users/{id}/tickets",
    tag = "users",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    request_body = promo_api_types::panel::TicketGrant,
    responses(
        (status = 200, description = "the shopper's tickets now", body = promo_api_types::panel::TicketTotal),
        (status = 400, description = "`amount` or `reason` is not valid (field named)", body = promo_api_types::ApiError),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
    )
)]
async fn grant_tickets(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(request): Body<TicketGrant>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    if request.amount == 0 || request.amount.abs() > 10_000 {
        return Err(
            ApiError::bad_request("amount must be -10000 to 10000 and not 0").field("amount"),
        );
    }
    let reason = reason_field(&request.reason)?;
    let (chat_id, lang, _) = chat_of(&api, id).await?;
    let granted = crate::grants::grant(
        &api.pool,
        &api.texts,
        api.bot_id,
        &session.actor(),
        id,
        request.amount,
        &reason,
        request.notify.then_some((chat_id, lang)),
    )
    .await
    .map_err(internal)?;
    Ok(Json(TicketTotal {
        total: granted.total,
    })
    .into_response())
}

/// A message to one shopper: a single-message campaign, so it goes out under the send
/// rate with the runner's retries and shows up in the shopper's campaigns.
#[utoipa::path(
    post,
    path = "/api/users/{id}/message",
    tag = "users",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    request_body = promo_api_types::panel::DirectMessage,
    responses(
        (status = 201, description = "queued as a single-message campaign: `{campaign_id}`", body = serde_json::Value, example = json!({"campaign_id": 1})),
        (status = 400, description = "the text or photo is not valid (field `text`), or `photo` names no upload of this bot (field `photo`)", body = promo_api_types::ApiError),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
        (status = 409, description = "the shopper is blocked", body = promo_api_types::ApiError),
    )
)]
async fn send_message(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(request): Body<DirectMessage>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let (_, _, status) = chat_of(&api, id).await?;
    if status == "banned" {
        return Err(ApiError::conflict(
            "the shopper is blocked: unblock them first",
        ));
    }
    let mut content = json!({ "text": crate::pgtext::strip_nul(&request.text) });
    if let Some(photo) = &request.photo {
        super::uploads::check_photo(&api, photo.trim()).await?;
        content["photo"] = json!(crate::pgtext::strip_nul(photo.trim()));
    }
    crate::campaigns::content::CampaignContent::parse(&content)
        .map_err(|e| ApiError::bad_request(e).field("text"))?;
    let audience = json!({ "user_ids": [id] });
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let campaign_id = crate::campaigns::create::insert_scheduled(
        &tx,
        api.bot_id,
        &session.actor(),
        &crate::campaigns::create::NewCampaign {
            kind: "single_message",
            content,
            audience,
            scheduled_for: None,
            paid_broadcast: false,
        },
    )
    .await
    .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "user.message",
        &format!("user:{id}"),
        &json!({ "campaign_id": campaign_id, "text_chars": request.text.chars().count() }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "campaign_id": campaign_id })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(phone: &Phone) -> Vec<u8> {
        phone.digits().as_bytes().to_vec()
    }

    #[test]
    fn the_search_box_tells_usernames_numbers_phones_and_names_apart() {
        assert_eq!(understand("  ", hash), Search::default());
        assert_eq!(
            understand("@Ivan_P", hash).username_prefix.as_deref(),
            Some("ivan\\_p%")
        );
        let digits = understand("123456789", hash);
        assert_eq!(digits.number, Some(123_456_789));
        let phone = understand("+7 (999) 000-45-67", hash);
        assert_eq!((phone.number, phone.phone_hash.is_some()), (None, true));
        let both = understand("89990004567", hash);
        assert!(both.number.is_some() && both.phone_hash.is_some());
        let name = understand("Анна 50%", hash);
        assert_eq!(name.name_prefix.as_deref(), Some("анна 50\\%%"));
        assert!(name.number.is_none() && name.phone_hash.is_none());
    }
}

/// The QR text of a manual receipt: the one given, or one built from the printed fields,
/// validated like a shopper's (domain spec 2); errors name the field to correct.
fn manual_qr(request: &ManualReceipt) -> Result<crate::fiscal::FiscalQr, ApiError> {
    use crate::fiscal::{FiscalQr, FiscalQrError};
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(|v| crate::pgtext::strip_nul(v.trim()).into_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(qr) = clean(&request.qr) {
        if qr.len() > 1_000 {
            return Err(ApiError::bad_request("qr is too long").field("qr"));
        }
        return FiscalQr::parse(&qr)
            .map_err(|error| ApiError::bad_request(error.to_string()).field("qr"));
    }
    let field = |value: Option<String>, name: &str| {
        value.ok_or_else(|| {
            ApiError::bad_request(format!(
                "give the QR text or all of fn, fd, fp, date and sum; {name} is missing"
            ))
            .field(name)
        })
    };
    let drive = field(clean(&request.fiscal_drive_number), "fn")?;
    let fd = field(clean(&request.fd), "fd")?;
    let fp = field(clean(&request.fp), "fp")?;
    let date = field(clean(&request.date), "date")?;
    let sum = field(clean(&request.sum), "sum")?.replace(',', ".");
    let at = chrono::NaiveDateTime::parse_from_str(&date, "%Y-%m-%dT%H:%M").map_err(|_| {
        ApiError::bad_request("date must be YYYY-MM-DDTHH:MM as printed").field("date")
    })?;
    FiscalQr::from_printed(&drive, &fd, &fp, at, &sum).map_err(|error| {
        let field = match error {
            FiscalQrError::InvalidSum(_) | FiscalQrError::NonPositiveSum(_) => "sum",
            FiscalQrError::InvalidFiscalDriveNumber(_) => "fn",
            FiscalQrError::InvalidFiscalDocumentNumber(_) => "fd",
            FiscalQrError::InvalidFiscalSign(_) => "fp",
            FiscalQrError::InvalidDateTime(_) => "date",
            _ => "qr",
        };
        ApiError::bad_request(error.to_string()).field(field)
    })
}

/// Enter a receipt for a shopper (manager; audited). It becomes an upload checked like
/// any other (duplicates and the period first, then one paid call); the shopper is told.
#[utoipa::path(
    post,
    path = "/api/users/{id}/receipts",
    tag = "users",
    extensions(("x-role" = json!("manager"))),
    params(("id" = i64, Path, description = "the shopper's internal id")),
    request_body = promo_api_types::panel::ManualReceipt,
    responses(
        (status = 202, description = "queued for the check", body = promo_api_types::panel::ManualReceiptQueued),
        (status = 400, description = "the QR text, a field or the reason is not valid (field named)", body = promo_api_types::ApiError),
        (status = 404, description = "no such shopper", body = promo_api_types::ApiError),
        (status = 409, description = "the shopper is blocked or not registered", body = promo_api_types::ApiError),
    )
)]
async fn manual_receipt(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
    Body(request): Body<ManualReceipt>,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    let qr = manual_qr(&request)?;
    let reason = reason_field(&request.reason)?;
    let canonical = qr.canonical();
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let status: String = tx
        .query_opt(
            "SELECT status FROM users WHERE id = $1 AND bot_id = $2 FOR UPDATE",
            &[&id, &api.bot_id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no shopper {id}")))?
        .get(0);
    if status != "registered" {
        return Err(ApiError::conflict(format!(
            "the shopper is {status}: only a registered shopper's receipts take part"
        )));
    }
    let (submission_id, _) = crate::receipts::intake::record(
        &tx,
        api.bot_id,
        id,
        &crate::receipts::intake::NewSubmission {
            source: "manual",
            telegram_file_id: None,
            file_size: None,
            qr_raw: Some(&canonical),
        },
    )
    .await
    .map_err(internal)?;
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "receipt.manual",
        &format!("user:{id}"),
        &json!({ "submission_id": submission_id, "qr": canonical, "reason": reason }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(ManualReceiptQueued {
            submission_id,
            qr: canonical,
            status: "queued".into(),
        }),
    )
        .into_response())
}
