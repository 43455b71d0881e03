//! A fake ProverkaCheka: a real HTTP server on 127.0.0.1 that answers
//! `POST /api/v1/check/get` the way domain spec 1 describes the real service.
//!
//! Choices where the real service is undocumented:
//! - a missing or wrong `token` gets **HTTP 401** with a plain-text body (the real client
//!   treats it as "provider unavailable", and a misconfigured token stays visible in
//!   logs instead of looking like a per-receipt code 5);
//! - a `qrfile` picture without a readable QR, a QR that is not a fiscal string, or no
//!   form at all answers code 0 («чек некорректен»);
//! - the manual form without `t` or `s` answers an empty body, as one client reports;
//! - the time matches to the minute unless both the registered and the asked QR carry
//!   seconds;
//! - `first` is 1 on the first successful fetch of a receipt, 0 afterwards.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use promo_core::receipts::decode::decode_qr_text;
use promo_core::receipts::{FiscalKey, FiscalQr, TimePrecision};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::receipts::ReceiptBuilder;

const BODY_LIMIT: usize = 20 * 1024 * 1024;

/// A canned answer that replaces the normal one for one call.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeAnswer {
    /// `{"code": n, "data": []}`: 0, 2, 3, 4, 5, or a code the client does not know.
    Code(i64),
    /// Code 1 with `data: []`, which one client has seen.
    SuccessWithoutReceipt,
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 200 with an HTML error page.
    NotJson,
    /// That HTTP status with a short HTML body.
    HttpStatus(u16),
    /// HTTP 200 with this JSON verbatim (e.g. an envelope without `code`).
    Json(Value),
    /// Waits, then answers as usual: drives client time-outs.
    Slow(Duration),
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `multipart/form-data` or `application/x-www-form-urlencoded` (or whatever came).
    pub content_type: String,
    /// Text fields, `token` included.
    pub fields: BTreeMap<String, String>,
    pub file: Option<RecordedFile>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedFile {
    pub field: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Which of the request forms of domain spec 1.2 a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestForm {
    QrRaw,
    QrFile,
    Manual,
    None,
}

impl RecordedRequest {
    pub fn is_multipart(&self) -> bool {
        self.content_type.starts_with("multipart/form-data")
    }

    pub fn form(&self) -> RequestForm {
        if self.file.as_ref().is_some_and(|f| f.field == "qrfile") {
            RequestForm::QrFile
        } else if self.fields.contains_key("qrraw") {
            RequestForm::QrRaw
        } else if self.fields.contains_key("fn") {
            RequestForm::Manual
        } else {
            RequestForm::None
        }
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

type UnregisteredHandler = Arc<dyn Fn(&FiscalQr) -> Option<Value> + Send + Sync>;

struct Registered {
    qr: FiscalQr,
    json: Value,
    fetched: bool,
}

#[derive(Default)]
struct Ledger {
    receipts: HashMap<FiscalKey, Registered>,
    forced: VecDeque<FakeAnswer>,
    forced_for: HashMap<FiscalKey, VecDeque<FakeAnswer>>,
    requests: Vec<RecordedRequest>,
    unregistered: Option<UnregisteredHandler>,
}

struct Shared {
    token: String,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panicking test thread must not turn every later call into a second panic.
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Running {
    base_url: String,
    shared: Arc<Shared>,
    // Dropping the last handle stops the server.
    _shutdown: oneshot::Sender<()>,
}

/// The running fake; clones share it, and it stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeProverkaCheka {
    running: Arc<Running>,
}

impl std::fmt::Debug for FakeProverkaCheka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProverkaCheka")
            .field("base_url", &self.running.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeProverkaCheka {
    /// Serves on 127.0.0.1 with a free port, accepting only `token`.
    pub async fn start(token: &str) -> std::io::Result<FakeProverkaCheka> {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            ledger: Mutex::new(Ledger::default()),
        });
        let router = Router::new()
            .route("/api/v1/check/get", post(check))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "fake ProverkaCheka stopped");
            }
        });
        Ok(FakeProverkaCheka {
            running: Arc::new(Running {
                base_url,
                shared,
                _shutdown: shutdown,
            }),
        })
    }

    /// `http://127.0.0.1:PORT`, to use as the client's base URL.
    pub fn base_url(&self) -> String {
        self.running.base_url.clone()
    }

    pub fn token(&self) -> &str {
        &self.running.shared.token
    }

    /// Makes the receipt known to the "tax service": requests whose requisites match
    /// `qr_text` get code 1 with `fns_json`. Panics on an invalid QR (a broken fixture).
    pub fn register(&self, qr_text: &str, fns_json: Value) -> FiscalKey {
        let qr =
            FiscalQr::parse(qr_text).unwrap_or_else(|e| panic!("cannot register {qr_text:?}: {e}"));
        let key = qr.dedup_key();
        self.running.shared.ledger().receipts.insert(
            key,
            Registered {
                qr,
                json: fns_json,
                fetched: false,
            },
        );
        key
    }

    /// Registers a built receipt with its own QR string.
    pub fn register_receipt(&self, receipt: &ReceiptBuilder) -> FiscalKey {
        self.register(&receipt.qr_text(), receipt.fns_json())
    }

    /// Answers requests for unregistered receipts with the JSON the handler returns
    /// (sandbox mode: any well-formed QR becomes a receipt); `None` keeps code 0.
    pub fn answer_unregistered_with(
        &self,
        handler: impl Fn(&FiscalQr) -> Option<Value> + Send + Sync + 'static,
    ) {
        self.running.shared.ledger().unregistered = Some(Arc::new(handler));
    }

    /// Queues an answer for the next call, whatever receipt it asks for. Answers queued
    /// for a specific receipt take precedence.
    pub fn force_next(&self, answer: FakeAnswer) {
        self.running.shared.ledger().forced.push_back(answer);
    }

    /// Queues an answer for the next call about this receipt.
    pub fn force_next_for(&self, key: FiscalKey, answer: FakeAnswer) {
        self.running
            .shared
            .ledger()
            .forced_for
            .entry(key)
            .or_default()
            .push_back(answer);
    }

    /// Every request that reached the endpoint, paid or not (bad token included).
    pub fn calls(&self) -> usize {
        self.running.shared.ledger().requests.len()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.running.shared.ledger().requests.clone()
    }
}

async fn check(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let recorded = match read_request(request).await {
        Ok(recorded) => recorded,
        Err((recorded, response)) => {
            // A malformed body still reached the service: it counts as a call.
            shared.ledger().requests.push(recorded);
            return response;
        }
    };
    shared.ledger().requests.push(recorded.clone());

    if recorded.field("token") != Some(shared.token.as_str()) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }

    let asked = understand(&recorded).await;
    let key = asked.qr.as_ref().map(FiscalQr::dedup_key);
    let forced = {
        let mut ledger = shared.ledger();
        key.and_then(|key| ledger.forced_for.get_mut(&key)?.pop_front())
            .or_else(|| ledger.forced.pop_front())
    };
    match forced {
        Some(FakeAnswer::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(answer) => return canned(answer, &asked.echo),
        None => {}
    }
    if asked.incomplete_manual {
        return ok_body("application/json", String::new());
    }
    let Some(qr) = asked.qr else {
        return code_only(0, &asked.echo);
    };

    let made_up_by = {
        let ledger = shared.ledger();
        (!ledger.receipts.contains_key(&qr.dedup_key()))
            .then(|| ledger.unregistered.clone())
            .flatten()
    };
    // Called without the lock, so the handler may use the fake itself.
    if let Some(json) = made_up_by.and_then(|handler| handler(&qr)) {
        shared.ledger().receipts.insert(
            qr.dedup_key(),
            Registered {
                qr: qr.clone(),
                json,
                fetched: false,
            },
        );
    }
    let found = {
        let mut ledger = shared.ledger();
        ledger
            .receipts
            .get_mut(&qr.dedup_key())
            .filter(|registered| same_requisites(&registered.qr, &qr))
            .map(|registered| {
                let first = !registered.fetched;
                registered.fetched = true;
                (registered.json.clone(), registered.qr.clone(), first)
            })
    };
    let Some((receipt, registered_qr, first)) = found else {
        return code_only(0, &asked.echo);
    };
    json_response(json!({
        "code": 1,
        "first": i32::from(first),
        "data": { "json": receipt, "html": html(&receipt, &registered_qr) },
        "request": asked.echo,
    }))
}

/// What the fake understood of a request.
struct Asked {
    qr: Option<FiscalQr>,
    echo: Value,
    incomplete_manual: bool,
}

async fn understand(request: &RecordedRequest) -> Asked {
    let mut echo = Echo::default();
    let mut incomplete_manual = false;
    let qr = match request.form() {
        RequestForm::QrFile => {
            let file = request.file.clone();
            if let Some(name) = file.as_ref().and_then(|f| f.filename.clone()) {
                echo.qrfile = name;
            }
            let decoded = tokio::task::spawn_blocking(move || {
                file.and_then(|file| decode_qr_text(&file.bytes).ok())
            })
            .await
            .ok()
            .flatten();
            decoded.and_then(|text| {
                echo.qrraw = text.to_lowercase();
                FiscalQr::parse(&text).ok()
            })
        }
        RequestForm::QrRaw => {
            let text = request.field("qrraw").unwrap_or_default();
            echo.qrraw = text.to_lowercase();
            FiscalQr::parse(text).ok()
        }
        RequestForm::Manual => {
            let field = |name: &str| request.field(name).unwrap_or_default().trim().to_owned();
            echo.manual = Manual {
                fn_: field("fn"),
                fd: field("fd"),
                fp: field("fp"),
                check_time: field("t").to_lowercase(),
                type_: field("n"),
                sum: field("s"),
            };
            incomplete_manual = request.field("t").is_none() || request.field("s").is_none();
            let m = &echo.manual;
            FiscalQr::parse(&format!(
                "t={}&s={}&fn={}&i={}&fp={}&n={}",
                m.check_time, m.sum, m.fn_, m.fd, m.fp, m.type_
            ))
            .ok()
        }
        RequestForm::None => None,
    };
    if let (Some(qr), RequestForm::QrRaw | RequestForm::QrFile) = (&qr, request.form()) {
        echo.manual = Manual {
            fn_: qr.fiscal_drive_number().to_owned(),
            fd: qr.fiscal_document_number().to_string(),
            fp: qr.fiscal_sign().to_string(),
            check_time: qr.time_param().to_lowercase(),
            type_: qr.operation().code().to_string(),
            sum: qr.sum().to_string(),
        };
    }
    Asked {
        qr,
        echo: echo.into_json(),
        incomplete_manual,
    }
}

#[derive(Default)]
struct Echo {
    qrfile: String,
    qrraw: String,
    manual: Manual,
}

#[derive(Default)]
struct Manual {
    fn_: String,
    fd: String,
    fp: String,
    check_time: String,
    type_: String,
    sum: String,
}

impl Echo {
    fn into_json(self) -> Value {
        let m = self.manual;
        json!({
            "qrurl": "",
            "qrfile": self.qrfile,
            "qrraw": self.qrraw,
            "manual": {
                "fn": m.fn_, "fd": m.fd, "fp": m.fp,
                "check_time": m.check_time, "type": m.type_, "sum": m.sum,
            },
        })
    }
}

/// The tax service compares every requisite, not only the dedup key.
fn same_requisites(registered: &FiscalQr, asked: &FiscalQr) -> bool {
    let both_with_seconds = registered.time_precision() == TimePrecision::Seconds
        && asked.time_precision() == TimePrecision::Seconds;
    let time_matches = if both_with_seconds {
        registered.date_time() == asked.date_time()
    } else {
        registered
            .with_time_precision(TimePrecision::Minutes)
            .date_time()
            == asked
                .with_time_precision(TimePrecision::Minutes)
                .date_time()
    };
    registered.dedup_key() == asked.dedup_key()
        && registered.sum() == asked.sum()
        && registered.operation() == asked.operation()
        && time_matches
}

/// The rendered table of a success; like the real one it ends with an image that
/// re-encodes the canonical QR without seconds.
fn html(receipt: &Value, qr: &FiscalQr) -> String {
    let canonical = qr.with_time_precision(TimePrecision::Minutes).canonical();
    let query = serde_urlencoded::to_string([("text", canonical.as_str())]).unwrap_or_default();
    let seller = receipt
        .get("user")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    format!(
        "<table class=\"b-check_table table\"><tbody><tr><td>{seller}</td></tr>\
         <tr><td>ИТОГО: {}</td></tr></tbody></table><img src=\"/qrcode/generate?{query}\">",
        qr.sum()
    )
}

fn canned(answer: FakeAnswer, echo: &Value) -> Response {
    match answer {
        FakeAnswer::Code(code) => code_only(code, echo),
        FakeAnswer::SuccessWithoutReceipt => code_only(1, echo),
        FakeAnswer::EmptyBody => ok_body("application/json", String::new()),
        FakeAnswer::NotJson => ok_body(
            "text/html; charset=utf-8",
            "<html><body><h1>Service temporarily unavailable</h1></body></html>".into(),
        ),
        FakeAnswer::HttpStatus(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = format!("<html><body><h1>{status}</h1></body></html>");
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response()
        }
        FakeAnswer::Json(value) => json_response(value),
        // Delays are applied before answering; this arm only keeps the match total.
        FakeAnswer::Slow(_) => code_only(5, echo),
    }
}

fn code_only(code: i64, echo: &Value) -> Response {
    json_response(json!({ "code": code, "data": [], "request": echo }))
}

fn json_response(value: Value) -> Response {
    ok_body("application/json", value.to_string())
}

fn ok_body(content_type: &'static str, body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn read_request(request: Request) -> Result<RecordedRequest, (RecordedRequest, Response)> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut recorded = RecordedRequest {
        content_type: content_type.clone(),
        fields: BTreeMap::new(),
        file: None,
    };
    let unreadable = RecordedRequest {
        content_type: content_type.clone(),
        fields: BTreeMap::new(),
        file: None,
    };
    let bad_request = |error: String| {
        (
            unreadable.clone(),
            (StatusCode::BAD_REQUEST, error).into_response(),
        )
    };

    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| bad_request(e.body_text()))?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| bad_request(e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let part_type = field.content_type().map(str::to_owned);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| bad_request(e.body_text()))?;
            if filename.is_some() || name == "qrfile" {
                recorded.file = Some(RecordedFile {
                    field: name,
                    filename,
                    content_type: part_type,
                    bytes: bytes.to_vec(),
                });
            } else {
                recorded
                    .fields
                    .insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    } else {
        let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
            .await
            .map_err(|e| bad_request(e.to_string()))?;
        // Anything that is not a form (a JSON body…) carries no fields, hence no token.
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|e| bad_request(e.to_string()))?;
            recorded.fields.extend(pairs);
        }
    }
    Ok(recorded)
}
