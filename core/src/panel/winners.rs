//! Raffle winners: `GET /api/raffles` (the draws so far), `GET /api/raffles/{draw_id}/winners`
//! (masked phones) and the exports `GET /api/raffles/{draw_id}/winners.csv` and `.xlsx`.
//!
//! Whoever hands over prizes calls the winners, so an export carries full phones for an
//! owner or a manager; a viewer's export has the masked ones. Every export writes its
//! `winners.export` audit row in the transaction that reads the winners, so no list of
//! numbers leaves without a trace. Draws themselves are made by the raffle use-case
//! (`campaigns::raffle`); this module only reads them.

use std::borrow::Cow;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use promo_api_types::panel::{RafflePage, RaffleRow, RaffleWinner, RaffleWinners};
use serde::Deserialize;
use serde_json::json;

use super::session::{Role, Session};
use super::{db, internal, next_before, page_limit, timestamp, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/raffles", get(list))
        .route("/api/raffles/{draw_id}/winners", get(winners))
        .route("/api/raffles/{draw_id}/winners.csv", get(export_csv))
        .route("/api/raffles/{draw_id}/winners.xlsx", get(export_xlsx))
}

const MAX_PAGE: i64 = 100;

const RAFFLE_COLUMNS: &str = "d.id, d.campaign_id, d.prize, d.winner_count::BIGINT,
    (SELECT count(*) FROM raffle_winners w WHERE w.draw_id = d.id), d.drawn_at,
    d.algorithm, d.seed_commitment, d.snapshot_hash, d.participants::BIGINT";

fn raffle_row_of(row: &tokio_postgres::Row) -> RaffleRow {
    RaffleRow {
        draw_id: row.get(0),
        campaign_id: row.get(1),
        prize: row.get(2),
        winner_count: row.get(3),
        winners: row.get(4),
        drawn_at: timestamp(row.get(5)),
        algorithm: row.get(6),
        seed_commitment: row.get(7),
        snapshot_hash: row.get(8),
        participants: row.get(9),
        public_url: format!("/api/public/draws/{}", row.get::<_, i64>(0)),
    }
}

/// The winners of one draw by position. Column 6 is the sealed phone, 7 the masked one.
const WINNERS: &str = "SELECT w.position::BIGINT, u.id, COALESCE(u.full_name, u.first_name),
        u.username, w.tickets_at_draw::BIGINT, w.notified_at, u.phone_ciphertext, u.phone_masked
     FROM raffle_winners w JOIN users u ON u.id = w.user_id
     WHERE w.draw_id = $1 AND w.bot_id = $2
     ORDER BY w.position";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ListQuery {
    before_id: Option<i64>,
    limit: Option<i64>,
}

/// The draws so far, newest first.
#[utoipa::path(
    get,
    path = "/api/raffles",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of draws", body = promo_api_types::panel::RafflePage),
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
                "SELECT {RAFFLE_COLUMNS} FROM raffle_draws d
                 WHERE d.bot_id = $1 AND ($2::BIGINT IS NULL OR d.id < $2)
                 ORDER BY d.id DESC LIMIT $3"
            ),
            &[&api.bot_id, &query.before_id, &limit],
        )
        .await
        .map_err(db)?;
    let raffles: Vec<RaffleRow> = rows.iter().map(raffle_row_of).collect();
    let next_before_id = next_before(raffles.iter().map(|r| r.draw_id), limit);
    Ok(Json(RafflePage {
        raffles,
        next_before_id,
    })
    .into_response())
}

async fn load_raffle(
    client: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    draw_id: i64,
) -> Result<RaffleRow, ApiError> {
    client
        .query_opt(
            &format!(
                "SELECT {RAFFLE_COLUMNS} FROM raffle_draws d WHERE d.id = $1 AND d.bot_id = $2"
            ),
            &[&draw_id, &bot_id],
        )
        .await
        .map_err(db)?
        .map(|row| raffle_row_of(&row))
        .ok_or_else(|| ApiError::not_found(format!("no raffle draw {draw_id}")))
}

fn winner_of(row: &tokio_postgres::Row) -> RaffleWinner {
    RaffleWinner {
        position: row.get(0),
        user_id: row.get(1),
        name: row.get(2),
        username: row.get(3),
        tickets_at_draw: row.get(4),
        notified_at: row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(5)
            .map(timestamp),
        phone_masked: row.get(7),
    }
}

/// A draw's winners by position (masked phones).
#[utoipa::path(
    get,
    path = "/api/raffles/{draw_id}/winners",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("draw_id" = i64, Path, description = "the draw's id")),
    responses(
        (status = 200, description = "the draw and its winners", body = promo_api_types::panel::RaffleWinners),
        (status = 404, description = "no such draw", body = promo_api_types::ApiError),
    )
)]
async fn winners(
    State(api): State<AdminApi>,
    session: Session,
    Path(draw_id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let client = api.pool.get().await.map_err(db)?;
    let raffle = load_raffle(&client, api.bot_id, draw_id).await?;
    let rows = client
        .query(WINNERS, &[&draw_id, &api.bot_id])
        .await
        .map_err(db)?;
    Ok(Json(RaffleWinners {
        raffle,
        winners: rows.iter().map(winner_of).collect(),
    })
    .into_response())
}

/// One exported line; `phone` is full or masked depending on who asked.
struct ExportRow {
    winner: RaffleWinner,
    phone: Option<String>,
}

const HEADER: [&str; 7] = [
    "position",
    "user_id",
    "name",
    "username",
    "phone",
    "tickets_at_draw",
    "notified_at",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Reads the winners and writes the audit row in one transaction: the export and its
/// trace are committed together or not at all.
async fn export_rows(
    api: &AdminApi,
    session: &Session,
    draw_id: i64,
    format: Format,
) -> Result<(RaffleRow, Vec<ExportRow>), ApiError> {
    session.require(Role::Viewer)?;
    let full_phones = session.role >= Role::Manager;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let raffle = load_raffle(&tx, api.bot_id, draw_id).await?;
    let rows = tx
        .query(WINNERS, &[&draw_id, &api.bot_id])
        .await
        .map_err(db)?;
    let mut exported = Vec::with_capacity(rows.len());
    for row in &rows {
        let winner = winner_of(row);
        let sealed: Option<Vec<u8>> = if full_phones { row.get(6) } else { None };
        // A number that does not open (e.g. after a key change) is exported masked rather
        // than failing the whole list the operator needs to hand over prizes.
        let phone = match sealed.map(|bytes| api.phone_key.decrypt(&bytes)) {
            Some(Ok(phone)) => Some(phone.international()),
            Some(Err(error)) => {
                tracing::warn!(user_id = winner.user_id, error = %error, "a winner's phone does not decrypt");
                winner.phone_masked.clone()
            }
            None => winner.phone_masked.clone(),
        };
        exported.push(ExportRow { winner, phone });
    }
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "winners.export",
        &format!("draw:{draw_id}"),
        &json!({
            "draw_id": draw_id,
            "format": format.as_str(),
            "full_phones": full_phones,
            "rows": exported.len(),
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    Ok((raffle, exported))
}

/// A spreadsheet evaluates a cell that starts with `=`, `+`, `-` or `@` (and some also
/// after a leading tab or carriage return) as a formula, so a shopper named
/// `=HYPERLINK(...)` could run one on the operator's machine. Such a cell gets a leading
/// apostrophe, which spreadsheets read as "this is text" (OWASP's CSV injection advice).
/// A full phone (`+7...`) is guarded too: one rule for every text cell.
pub fn guard_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn text_cells(row: &ExportRow) -> [String; 4] {
    [
        guard_cell(&row.winner.name).into_owned(),
        guard_cell(row.winner.username.as_deref().unwrap_or("")).into_owned(),
        guard_cell(row.phone.as_deref().unwrap_or("")).into_owned(),
        row.winner.notified_at.clone().unwrap_or_default(),
    ]
}

fn csv_bytes(rows: &[ExportRow]) -> anyhow::Result<Vec<u8>> {
    // The BOM makes Excel read the file as UTF-8 (Cyrillic names) instead of the
    // system's code page.
    let mut out = Vec::with_capacity(64 + rows.len() * 80);
    out.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    for row in rows {
        let [name, username, phone, notified_at] = text_cells(row);
        writer.write_record([
            row.winner.position.to_string(),
            row.winner.user_id.to_string(),
            name,
            username,
            phone,
            row.winner.tickets_at_draw.to_string(),
            notified_at,
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("finishing the CSV: {e}"))
}

fn xlsx_bytes(raffle: &RaffleRow, rows: &[ExportRow]) -> anyhow::Result<Vec<u8>> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let mut workbook = Workbook::new();
    let bold = CellFormat::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name(format!("Draw {}", raffle.draw_id))?;
    for (col, title) in (0u16..).zip(HEADER) {
        sheet.write_string_with_format(0, col, title, &bold)?;
    }
    for (line, row) in (1u32..).zip(rows) {
        let [name, username, phone, notified_at] = text_cells(row);
        // Numbers stay numbers (sortable); text goes in as strings, never as formulas.
        sheet.write_number(line, 0, row.winner.position as f64)?;
        sheet.write_number(line, 1, row.winner.user_id as f64)?;
        sheet.write_string(line, 2, name)?;
        sheet.write_string(line, 3, username)?;
        sheet.write_string(line, 4, phone)?;
        sheet.write_number(line, 5, row.winner.tickets_at_draw as f64)?;
        sheet.write_string(line, 6, notified_at)?;
    }
    sheet.set_column_width(2, 30)?;
    sheet.set_column_width(4, 18)?;
    Ok(workbook.save_to_buffer()?)
}

fn attachment(content_type: &'static str, filename: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            // Phones inside: no cache on the way may keep a copy.
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The winners as CSV (full phones for owner and manager; audited).
#[utoipa::path(
    get,
    path = "/api/raffles/{draw_id}/winners.csv",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("draw_id" = i64, Path, description = "the draw's id")),
    responses(
        (status = 200, description = "a CSV attachment", content_type = "text/csv", body = String),
        (status = 404, description = "no such draw", body = promo_api_types::ApiError),
    )
)]
async fn export_csv(
    State(api): State<AdminApi>,
    session: Session,
    Path(draw_id): Path<i64>,
) -> Result<Response, ApiError> {
    let (_, rows) = export_rows(&api, &session, draw_id, Format::Csv).await?;
    let bytes = csv_bytes(&rows).map_err(internal)?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        format!("winners-draw-{draw_id}.csv"),
        bytes,
    ))
}

/// The winners as an Excel workbook (full phones for owner and manager; audited).
#[utoipa::path(
    get,
    path = "/api/raffles/{draw_id}/winners.xlsx",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("draw_id" = i64, Path, description = "the draw's id")),
    responses(
        (status = 200, description = "an XLSX attachment", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 404, description = "no such draw", body = promo_api_types::ApiError),
    )
)]
async fn export_xlsx(
    State(api): State<AdminApi>,
    session: Session,
    Path(draw_id): Path<i64>,
) -> Result<Response, ApiError> {
    let (raffle, rows) = export_rows(&api, &session, draw_id, Format::Xlsx).await?;
    // Zipping the workbook is CPU work: off the async runtime, like password hashing.
    let bytes = tokio::task::spawn_blocking(move || xlsx_bytes(&raffle, &rows))
        .await
        .map_err(|e| internal(e.into()))?
        .map_err(internal)?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("winners-draw-{draw_id}.xlsx"),
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_get_a_leading_apostrophe() {
        for risky in ["=1+1", "+7999", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard_cell(risky), format!("'{risky}"));
        }
        for plain in ["Анна", "ivan_p", "", "1=1", "'quoted"] {
            assert_eq!(guard_cell(plain), plain);
        }
    }
}
