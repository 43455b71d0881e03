//! ProverkaCheka client: fetches the FNS receipt behind a fiscal QR (domain spec 1).
//!
//! Every call may cost quota, so callers validate the QR and check duplicates first.
//! Business answers arrive as HTTP 200 with a `code`; anything else is a provider fault,
//! which is always transient for the caller (retry with back-off, never award tickets).

use std::fmt;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::fiscal::{FiscalQr, FnsReceipt, FnsReceiptError};

/// What the service said about a receipt (`code` 0..5).
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    /// Code 1 with a usable `data.json`; still to be checked with
    /// [`FnsReceipt::validate_against`].
    Receipt(Box<FnsReceipt>),
    /// Code 0: the requisites do not match a real receipt.
    Invalid,
    /// Code 2: the tax service has not received the receipt yet; retry over hours/days.
    NotYetReceived,
    /// Code 3: the token's quota is exhausted; stop calling for everyone.
    QuotaExceeded,
    /// Code 4: this receipt was queried too recently; retry it later (≥ 60 s).
    TooSoon,
    /// Code 5: other failure without data; retry a few times, then manual review.
    Failed,
}

/// A provider fault: no business answer was obtained. All variants are transient.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("ProverkaCheka did not answer within the timeout")]
    Timeout,
    #[error("ProverkaCheka could not be reached")]
    Transport(#[source] reqwest::Error),
    #[error("ProverkaCheka answered HTTP {status}")]
    HttpStatus {
        status: u16,
        /// From a `Retry-After: <seconds>` header, when present.
        retry_after: Option<Duration>,
    },
    #[error("ProverkaCheka answered with an empty body")]
    EmptyBody,
    #[error("ProverkaCheka answered with a body that is not JSON: {excerpt:?}")]
    NotJson { excerpt: String },
    #[error("ProverkaCheka answered without a numeric `code`")]
    MissingCode,
    #[error("ProverkaCheka answered with the unknown code {0}")]
    UnknownCode(i64),
    #[error("ProverkaCheka answered code 1 without a receipt")]
    MissingReceipt,
    #[error("ProverkaCheka answered code 1 with an unusable receipt")]
    InvalidReceipt(#[source] FnsReceiptError),
    #[error("the upload's content type {0:?} is not a valid MIME type")]
    InvalidMime(String),
}

impl ProviderError {
    /// Always true: the spec treats every provider fault as "retry later". Kept as a
    /// method so callers state the intent instead of assuming it.
    pub fn is_transient(&self) -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("invalid ProverkaCheka base URL {0:?}")]
    InvalidBaseUrl(String),
    #[error("the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

/// The one ProverkaCheka client; build it once and clone it (it shares its pool).
#[derive(Clone)]
pub struct ProverkaChekaClient {
    http: reqwest::Client,
    endpoint: Url,
    /// A paid credential: never logged, exposed only into the request form.
    token: SecretString,
}

/// The token is a paid credential: it must never reach logs.
impl fmt::Debug for ProverkaChekaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProverkaChekaClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &"[redacted]")
            .finish()
    }
}

impl ProverkaChekaClient {
    /// `base_url` is e.g. `https://proverkacheka.com` (or a fake's URL in tests);
    /// `timeout` covers the whole request, body included (the spec suggests ~20 s).
    pub fn new(
        base_url: &str,
        token: impl Into<SecretString>,
        timeout: Duration,
    ) -> Result<ProverkaChekaClient, ClientBuildError> {
        let endpoint = Url::parse(&format!(
            "{}/api/v1/check/get",
            base_url.trim_end_matches('/')
        ))
        .map_err(|_| ClientBuildError::InvalidBaseUrl(base_url.to_owned()))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(ClientBuildError::Http)?;
        Ok(ProverkaChekaClient {
            http,
            endpoint,
            token: token.into(),
        })
    }

    /// Form A: the QR text. Pass `FiscalQr::canonical()` so the service sees exactly
    /// what was validated locally.
    pub async fn check_raw(&self, qrraw: &str) -> Result<CheckOutcome, ProviderError> {
        let form = self.form().text("qrraw", qrraw.to_owned());
        self.send(form, "qrraw").await
    }

    /// Form B: the photo itself; the service decodes the QR.
    pub async fn check_file(
        &self,
        bytes: Vec<u8>,
        filename: &str,
        mime: &str,
    ) -> Result<CheckOutcome, ProviderError> {
        let part = Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(mime)
            .map_err(|_| ProviderError::InvalidMime(mime.to_owned()))?;
        let form = self.form().part("qrfile", part);
        self.send(form, "qrfile").await
    }

    /// Form D: the requisites as separate fields; `t` keeps the QR's precision and `s`
    /// is sent in roubles, as the service echoes it.
    pub async fn check_manual(&self, qr: &FiscalQr) -> Result<CheckOutcome, ProviderError> {
        let form = self
            .form()
            .text("fn", qr.fiscal_drive_number().to_owned())
            .text("fd", qr.fiscal_document_number().to_string())
            .text("fp", qr.fiscal_sign().to_string())
            .text("t", qr.time_param())
            .text("n", qr.operation().code().to_string())
            .text("s", qr.sum().to_string())
            .text("qr", "0");
        self.send(form, "manual").await
    }

    fn form(&self) -> Form {
        Form::new().text("token", self.token.expose_secret().to_owned())
    }

    // Provider faults are expected and retried: a warning, not an error.
    #[tracing::instrument(
        name = "proverkacheka_check",
        skip(self, form),
        err(level = "warn", Display)
    )]
    async fn send(&self, form: Form, kind: &'static str) -> Result<CheckOutcome, ProviderError> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .multipart(form)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status != StatusCode::OK {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(ProviderError::HttpStatus {
                status: status.as_u16(),
                retry_after,
            });
        }
        let body = response.bytes().await.map_err(transport_error)?;
        let outcome = interpret_body(&body)?;
        tracing::debug!(outcome = outcome_name(&outcome), "ProverkaCheka answered");
        Ok(outcome)
    }
}

fn transport_error(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Transport(error)
    }
}

/// Reads an HTTP-200 body. `data` is looked at as untyped JSON first because its shape
/// on errors is undocumented (`[]`, a string…).
pub fn interpret_body(body: &[u8]) -> Result<CheckOutcome, ProviderError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ProviderError::EmptyBody);
    }
    let mut envelope: Value = serde_json::from_slice(body).map_err(|_| ProviderError::NotJson {
        excerpt: String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
    })?;
    // The receipt lands in jsonb and text columns, which refuse NUL.
    crate::pgtext::strip_nul_in_json(&mut envelope);
    let code = match envelope.get("code") {
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    }
    .ok_or(ProviderError::MissingCode)?;
    match code {
        0 => Ok(CheckOutcome::Invalid),
        1 => {
            let receipt = envelope
                .get("data")
                .and_then(|data| data.get("json"))
                .filter(|json| json.get("items").is_some_and(Value::is_array))
                .ok_or(ProviderError::MissingReceipt)?;
            let receipt =
                FnsReceipt::from_json(receipt.clone()).map_err(ProviderError::InvalidReceipt)?;
            Ok(CheckOutcome::Receipt(Box::new(receipt)))
        }
        2 => Ok(CheckOutcome::NotYetReceived),
        3 => Ok(CheckOutcome::QuotaExceeded),
        4 => Ok(CheckOutcome::TooSoon),
        5 => Ok(CheckOutcome::Failed),
        other => Err(ProviderError::UnknownCode(other)),
    }
}

fn outcome_name(outcome: &CheckOutcome) -> &'static str {
    match outcome {
        CheckOutcome::Receipt(_) => "receipt",
        CheckOutcome::Invalid => "invalid",
        CheckOutcome::NotYetReceived => "not_yet_received",
        CheckOutcome::QuotaExceeded => "quota_exceeded",
        CheckOutcome::TooSoon => "too_soon",
        CheckOutcome::Failed => "failed",
    }
}
