//! Raffle winners: `GET /api/raffles/{id}/winners` (every pick of the raffle's draw with
//! its prize and claim, masked phones) and the exports `GET /api/raffles/{id}/winners.csv`
//! and `.xlsx`, keyed by the raffle's campaign id.
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
use promo_api_types::panel::{RaffleRow, RaffleWinner, RaffleWinners};
use serde_json::json;

use super::raffles::{load_picks, load_row};
use super::session::{Role, Session};
use super::{db, internal};
use crate::api_error::ApiError;
use crate::app::AdminApi;

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/raffles/{id}/winners", get(winners))
        .route("/api/raffles/{id}/winners.csv", get(export_csv))
        .route("/api/raffles/{id}/winners.xlsx", get(export_xlsx))
}

/// A raffle's picks by position (masked phones); none before the draw.
#[utoipa::path(
    get,
    path = "/api/raffles/{id}/winners",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the raffle's campaign id")),
    responses(
        (status = 200, description = "the raffle and its picks", body = promo_api_types::panel::RaffleWinners),
        (status = 404, description = "no such raffle", body = promo_api_types::ApiError),
    )
)]
async fn winners(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let client = api.pool.get().await.map_err(db)?;
    let raffle = load_row(&client, api.bot_id, id).await?;
    let winners = match raffle.draw_id {
        Some(draw_id) => load_picks(&client, api.bot_id, draw_id)
            .await?
            .into_iter()
            .map(|pick| pick.winner)
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(RaffleWinners { raffle, winners }).into_response())
}

/// One exported line; `phone` is full or masked depending on who asked.
struct ExportRow {
    winner: RaffleWinner,
    phone: Option<String>,
}

/// The first seven columns are those of exports before raffles had prizes, so a sheet
/// built on them keeps working; the prize and claim columns follow.
const HEADER: [&str; 11] = [
    "position",
    "user_id",
    "name",
    "username",
    "phone",
    "tickets_at_draw",
    "notified_at",
    "prize",
    "slot",
    "claim_status",
    "claim_deadline",
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
    id: i64,
    format: Format,
) -> Result<(RaffleRow, Vec<ExportRow>), ApiError> {
    session.require(Role::Viewer)?;
    let full_phones = session.role >= Role::Manager;
    let mut client = api.pool.get().await.map_err(db)?;
    let tx = client.transaction().await.map_err(db)?;
    let raffle = load_row(&tx, api.bot_id, id).await?;
    let Some(draw_id) = raffle.draw_id else {
        return Err(ApiError::conflict(format!(
            "raffle {id} has not been drawn yet: there are no winners to export"
        )));
    };
    let picks = load_picks(&tx, api.bot_id, draw_id).await?;
    let mut exported = Vec::with_capacity(picks.len());
    for pick in picks {
        let winner = pick.winner;
        let sealed = if full_phones { pick.sealed_phone } else { None };
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
        &format!("campaign:{id}"),
        &json!({
            "campaign_id": id,
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

/// The text cells in [`HEADER`] order: name, username, phone, notified_at, prize, slot,
/// claim_status, claim_deadline.
fn text_cells(row: &ExportRow) -> [String; 8] {
    let winner = &row.winner;
    [
        guard_cell(&winner.name).into_owned(),
        guard_cell(winner.username.as_deref().unwrap_or("")).into_owned(),
        guard_cell(row.phone.as_deref().unwrap_or("")).into_owned(),
        winner.notified_at.clone().unwrap_or_default(),
        guard_cell(&winner.prize).into_owned(),
        slot(winner).to_owned(),
        winner.claim_status.clone(),
        winner.claim_deadline.clone().unwrap_or_default(),
    ]
}

fn slot(winner: &RaffleWinner) -> &'static str {
    if winner.reserve {
        "reserve"
    } else {
        "winner"
    }
}

fn csv_bytes(rows: &[ExportRow]) -> anyhow::Result<Vec<u8>> {
    // The BOM makes Excel read the file as UTF-8 (Cyrillic names) instead of the
    // system's code page.
    let mut out = Vec::with_capacity(64 + rows.len() * 80);
    out.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    for row in rows {
        let [name, username, phone, notified_at, prize, slot, claim, deadline] = text_cells(row);
        writer.write_record([
            row.winner.position.to_string(),
            row.winner.user_id.to_string(),
            name,
            username,
            phone,
            row.winner.tickets_at_draw.to_string(),
            notified_at,
            prize,
            slot,
            claim,
            deadline,
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
    sheet.set_name(format!("Raffle {}", raffle.id))?;
    for (col, title) in (0u16..).zip(HEADER) {
        sheet.write_string_with_format(0, col, title, &bold)?;
    }
    for (line, row) in (1u32..).zip(rows) {
        let [name, username, phone, notified_at, prize, slot, claim, deadline] = text_cells(row);
        // Numbers stay numbers (sortable); text goes in as strings, never as formulas.
        sheet.write_number(line, 0, row.winner.position as f64)?;
        sheet.write_number(line, 1, row.winner.user_id as f64)?;
        sheet.write_string(line, 2, name)?;
        sheet.write_string(line, 3, username)?;
        sheet.write_string(line, 4, phone)?;
        sheet.write_number(line, 5, row.winner.tickets_at_draw as f64)?;
        sheet.write_string(line, 6, notified_at)?;
        sheet.write_string(line, 7, prize)?;
        sheet.write_string(line, 8, slot)?;
        sheet.write_string(line, 9, claim)?;
        sheet.write_string(line, 10, deadline)?;
    }
    sheet.set_column_width(2, 30)?;
    sheet.set_column_width(4, 18)?;
    sheet.set_column_width(7, 24)?;
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
    path = "/api/raffles/{id}/winners.csv",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the raffle's campaign id")),
    responses(
        (status = 200, description = "a CSV attachment: the picks by position with their prize, slot (winner or reserve) and claim", content_type = "text/csv", body = String),
        (status = 404, description = "no such raffle", body = promo_api_types::ApiError),
        (status = 409, description = "the raffle has not been drawn yet", body = promo_api_types::ApiError),
    )
)]
async fn export_csv(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (_, rows) = export_rows(&api, &session, id, Format::Csv).await?;
    let bytes = csv_bytes(&rows).map_err(internal)?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        format!("winners-raffle-{id}.csv"),
        bytes,
    ))
}

/// The winners as an Excel workbook (full phones for owner and manager; audited).
#[utoipa::path(
    get,
    path = "/api/raffles/{id}/winners.xlsx",
    tag = "raffles",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the raffle's campaign id")),
    responses(
        (status = 200, description = "an XLSX attachment, the CSV's columns on sheet `Raffle <id>`", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 404, description = "no such raffle", body = promo_api_types::ApiError),
        (status = 409, description = "the raffle has not been drawn yet", body = promo_api_types::ApiError),
    )
)]
async fn export_xlsx(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (raffle, rows) = export_rows(&api, &session, id, Format::Xlsx).await?;
    // Zipping the workbook is CPU work: off the async runtime, like password hashing.
    let bytes = tokio::task::spawn_blocking(move || xlsx_bytes(&raffle, &rows))
        .await
        .map_err(|e| internal(e.into()))?
        .map_err(internal)?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("winners-raffle-{id}.xlsx"),
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
