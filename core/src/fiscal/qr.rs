//! The fiscal QR string printed on Russian receipts (`t=…&s=…&fn=…&i=…&fp=…&n=…`),
//! validated once at the edge so that nothing downstream pays for a malformed receipt.

use std::fmt;
use std::ops::RangeBounds;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Kopecks;

/// Признак расчёта (FFD tag 1054), the QR `n` and the FNS `operationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationType {
    /// 1, приход: the only kind that earns tickets.
    Sale,
    /// 2, возврат прихода.
    SaleRefund,
    /// 3, расход.
    Purchase,
    /// 4, возврат расхода.
    PurchaseRefund,
}

impl OperationType {
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Sale),
            2 => Some(Self::SaleRefund),
            3 => Some(Self::Purchase),
            4 => Some(Self::PurchaseRefund),
            _ => None,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Sale => 1,
            Self::SaleRefund => 2,
            Self::Purchase => 3,
            Self::PurchaseRefund => 4,
        }
    }
}

impl fmt::Display for OperationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Sale => "sale",
            Self::SaleRefund => "sale refund",
            Self::Purchase => "purchase",
            Self::PurchaseRefund => "purchase refund",
        };
        write!(f, "{name} (n={})", self.code())
    }
}

/// Whether `t` carried seconds. Kept because the service matches the time as printed:
/// a verifier may retry once with the other precision (domain spec 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimePrecision {
    Minutes,
    Seconds,
}

/// The identity of a fiscal document: a receipt is accepted at most once per key.
///
/// Numbers rather than digit strings, so leading zeros and number/string flips in
/// provider answers cannot produce two keys for one receipt. The fiscal drive number
/// has 16 digits and always fits an `i64` (Postgres `BIGINT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FiscalKey {
    pub fiscal_drive_number: u64,
    pub fiscal_document_number: u32,
    pub fiscal_sign: u32,
}

impl fmt::Display for FiscalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fn={:016} fd={} fp={}",
            self.fiscal_drive_number, self.fiscal_document_number, self.fiscal_sign
        )
    }
}

/// Why a text is not an acceptable fiscal QR string. The bot maps each variant to a
/// Russian message; values are quoted (shortened) to make logs useful.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalQrError {
    #[error("the QR text is empty")]
    Empty,
    /// `fn`, `i` or `fp` is missing: most likely the QR of a website or a payment, not
    /// of a receipt.
    #[error("not a fiscal receipt QR code: fn, i or fp is missing")]
    NotAFiscalQr,
    #[error("the receipt QR code has no `{0}` field")]
    MissingField(&'static str),
    #[error("the receipt QR code has the field `{0}` more than once")]
    DuplicateField(&'static str),
    #[error("`t` is not a valid date-time YYYYMMDDTHHMM[SS]: {0:?}")]
    InvalidDateTime(String),
    #[error("`s` is not a sum in roubles: {0:?}")]
    InvalidSum(String),
    #[error("`s` must be greater than zero: {0:?}")]
    NonPositiveSum(String),
    #[error("`fn` must be exactly 16 digits: {0:?}")]
    InvalidFiscalDriveNumber(String),
    #[error("`i` must be 1 to 10 digits, at most 4294967295: {0:?}")]
    InvalidFiscalDocumentNumber(String),
    #[error("`fp` must be 1 to 10 digits, at most 4294967295: {0:?}")]
    InvalidFiscalSign(String),
    #[error("`n` must be an operation type 1 to 4: {0:?}")]
    InvalidOperationType(String),
}

/// A valid receipt QR that still cannot earn tickets (domain spec 2.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotEligible {
    #[error("the receipt is a {0}, only sales take part")]
    NotASale(OperationType),
    #[error("the receipt date {0} is outside the promotion period")]
    OutsidePromoPeriod(NaiveDateTime),
}

/// A parsed and range-checked fiscal QR string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FiscalQr {
    date_time: NaiveDateTime,
    precision: TimePrecision,
    sum: Kopecks,
    fiscal_drive_number: String,
    fiscal_drive_value: u64,
    fiscal_document_number: u32,
    fiscal_sign: u32,
    operation: OperationType,
}

impl FiscalQr {
    /// A sale's QR from the fields printed under its code: ФН, ФД, ФП, the date and time
    /// (to the minute) and the total in roubles as `s` carries it (`1285.21`). Checked
    /// exactly as a scanned code is, so the errors name the QR field at fault.
    pub fn from_printed(
        fiscal_drive_number: &str,
        fiscal_document_number: &str,
        fiscal_sign: &str,
        date_time: NaiveDateTime,
        sum: &str,
    ) -> Result<FiscalQr, FiscalQrError> {
        FiscalQr::parse(&format!(
            "t={}&s={sum}&fn={fiscal_drive_number}&i={fiscal_document_number}&fp={fiscal_sign}&n=1",
            date_time.format("%Y%m%dT%H%M")
        ))
    }

    /// Parses the text of a receipt QR code.
    ///
    /// Fields are found by key in any order; unknown keys, empty pairs and whitespace
    /// around keys and values are ignored, keys are case-insensitive. A URL-style code
    /// (`https://…?t=…&s=…`) is read from its query part.
    pub fn parse(text: &str) -> Result<FiscalQr, FiscalQrError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(FiscalQrError::Empty);
        }
        let query = text.rsplit_once('?').map_or(text, |(_, query)| query);

        let mut fields = RawFields::default();
        for pair in query.split('&') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            fields.put(key.trim(), value.trim())?;
        }

        let (Some(fn_text), Some(i_text), Some(fp_text)) = (fields.fn_, fields.i, fields.fp) else {
            return Err(FiscalQrError::NotAFiscalQr);
        };
        let t_text = fields.t.ok_or(FiscalQrError::MissingField("t"))?;
        let s_text = fields.s.ok_or(FiscalQrError::MissingField("s"))?;
        let n_text = fields.n.ok_or(FiscalQrError::MissingField("n"))?;

        if fn_text.len() != 16 || !is_digits(fn_text) {
            return Err(FiscalQrError::InvalidFiscalDriveNumber(excerpt(fn_text)));
        }
        let fiscal_drive_value = fn_text
            .parse::<u64>()
            .map_err(|_| FiscalQrError::InvalidFiscalDriveNumber(excerpt(fn_text)))?;
        let fiscal_document_number = parse_u32_field(i_text)
            .ok_or_else(|| FiscalQrError::InvalidFiscalDocumentNumber(excerpt(i_text)))?;
        let fiscal_sign = parse_u32_field(fp_text)
            .ok_or_else(|| FiscalQrError::InvalidFiscalSign(excerpt(fp_text)))?;
        let (date_time, precision) = parse_date_time(t_text)
            .ok_or_else(|| FiscalQrError::InvalidDateTime(excerpt(t_text)))?;
        let sum = parse_sum(s_text)?;
        let operation = match n_text.as_bytes() {
            [digit @ b'1'..=b'4'] => OperationType::from_code(i64::from(digit - b'0')),
            _ => None,
        }
        .ok_or_else(|| FiscalQrError::InvalidOperationType(excerpt(n_text)))?;

        Ok(FiscalQr {
            date_time,
            precision,
            sum,
            fiscal_drive_number: fn_text.to_owned(),
            fiscal_drive_value,
            fiscal_document_number,
            fiscal_sign,
            operation,
        })
    }

    /// The register's local wall-clock time (no time zone is encoded in the QR).
    pub fn date_time(&self) -> NaiveDateTime {
        self.date_time
    }

    pub fn time_precision(&self) -> TimePrecision {
        self.precision
    }

    pub fn sum(&self) -> Kopecks {
        self.sum
    }

    /// ФН, exactly 16 digits as printed.
    pub fn fiscal_drive_number(&self) -> &str {
        &self.fiscal_drive_number
    }

    /// ФД, the QR `i` (the API calls it `fd`).
    pub fn fiscal_document_number(&self) -> u32 {
        self.fiscal_document_number
    }

    /// ФП/ФПД, the QR `fp`.
    pub fn fiscal_sign(&self) -> u32 {
        self.fiscal_sign
    }

    pub fn operation(&self) -> OperationType {
        self.operation
    }

    pub fn dedup_key(&self) -> FiscalKey {
        FiscalKey {
            fiscal_drive_number: self.fiscal_drive_value,
            fiscal_document_number: self.fiscal_document_number,
            fiscal_sign: self.fiscal_sign,
        }
    }

    /// `t` as printed: `YYYYMMDDTHHMM`, plus `SS` when the code carried seconds.
    pub fn time_param(&self) -> String {
        match self.precision {
            TimePrecision::Minutes => self.date_time.format("%Y%m%dT%H%M").to_string(),
            TimePrecision::Seconds => self.date_time.format("%Y%m%dT%H%M%S").to_string(),
        }
    }

    /// The canonical string, `t=…&s=…&fn=…&i=…&fp=…&n=…`, with `t` in the precision
    /// the code was printed with and `s` always with two decimals.
    pub fn canonical(&self) -> String {
        format!(
            "t={}&s={}&fn={}&i={}&fp={}&n={}",
            self.time_param(),
            self.sum,
            self.fiscal_drive_number,
            self.fiscal_document_number,
            self.fiscal_sign,
            self.operation.code()
        )
    }

    /// The same receipt with `t` in the other precision, for the one retry the spec
    /// allows; dropping seconds truncates them.
    pub fn with_time_precision(&self, precision: TimePrecision) -> FiscalQr {
        let date_time = match precision {
            TimePrecision::Seconds => self.date_time,
            TimePrecision::Minutes => self.date_time.with_second(0).unwrap_or(self.date_time),
        };
        FiscalQr {
            date_time,
            precision,
            ..self.clone()
        }
    }

    /// The local checks of domain spec 2.3 that depend on the promotion: a sale, inside
    /// the period (compared as naive local date-times, see spec 3.3).
    pub fn ensure_eligible(
        &self,
        period: impl RangeBounds<NaiveDateTime>,
    ) -> Result<(), NotEligible> {
        if self.operation != OperationType::Sale {
            return Err(NotEligible::NotASale(self.operation));
        }
        if !period.contains(&self.date_time) {
            return Err(NotEligible::OutsidePromoPeriod(self.date_time));
        }
        Ok(())
    }
}

impl fmt::Display for FiscalQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for FiscalQr {
    type Err = FiscalQrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FiscalQr::parse(text)
    }
}

/// Serialised as the canonical string so that jobs carrying a QR are re-validated when
/// they are read back.
impl Serialize for FiscalQr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> Deserialize<'de> for FiscalQr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        FiscalQr::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Default)]
struct RawFields<'a> {
    t: Option<&'a str>,
    s: Option<&'a str>,
    fn_: Option<&'a str>,
    i: Option<&'a str>,
    fp: Option<&'a str>,
    n: Option<&'a str>,
}

impl<'a> RawFields<'a> {
    fn put(&mut self, key: &str, value: &'a str) -> Result<(), FiscalQrError> {
        let (name, slot) = match key.to_ascii_lowercase().as_str() {
            "t" => ("t", &mut self.t),
            "s" => ("s", &mut self.s),
            "fn" => ("fn", &mut self.fn_),
            "i" => ("i", &mut self.i),
            "fp" => ("fp", &mut self.fp),
            "n" => ("n", &mut self.n),
            _ => return Ok(()),
        };
        // Two different values for one key would make the dedup key ambiguous.
        if slot.replace(value).is_some() {
            return Err(FiscalQrError::DuplicateField(name));
        }
        Ok(())
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_u32_field(text: &str) -> Option<u32> {
    if text.len() > 10 || !is_digits(text) {
        return None;
    }
    text.parse::<u64>().ok().and_then(|v| u32::try_from(v).ok())
}

fn parse_date_time(text: &str) -> Option<(NaiveDateTime, TimePrecision)> {
    let bytes = text.as_bytes();
    let precision = match bytes.len() {
        13 => TimePrecision::Minutes,
        15 => TimePrecision::Seconds,
        _ => return None,
    };
    if !matches!(bytes[8], b'T' | b't') {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        let part = text.get(from..to)?;
        if is_digits(part) {
            part.parse().ok()
        } else {
            None
        }
    };
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(4, 6)?, number(6, 8)?)?;
    let seconds = match precision {
        TimePrecision::Minutes => 0,
        TimePrecision::Seconds => number(13, 15)?,
    };
    let date_time = date.and_hms_opt(number(9, 11)?, number(11, 13)?, seconds)?;
    Some((date_time, precision))
}

/// Roubles with `.` and up to two decimals; an integer sum (`500`) is accepted.
fn parse_sum(text: &str) -> Result<Kopecks, FiscalQrError> {
    let invalid = || FiscalQrError::InvalidSum(excerpt(text));
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (roubles, kopecks) = match unsigned.split_once('.') {
        Some((roubles, kopecks)) => (roubles, kopecks),
        None => (unsigned, "00"),
    };
    // 12 digits of roubles keep the product far below i64::MAX.
    if roubles.len() > 12 || !is_digits(roubles) || kopecks.len() > 2 || !is_digits(kopecks) {
        return Err(invalid());
    }
    let roubles: i64 = roubles.parse().map_err(|_| invalid())?;
    let mut fraction: i64 = kopecks.parse().map_err(|_| invalid())?;
    if kopecks.len() == 1 {
        fraction *= 10;
    }
    let total = roubles * 100 + fraction;
    if negative || total == 0 {
        return Err(FiscalQrError::NonPositiveSum(excerpt(text)));
    }
    Ok(Kopecks::new(total))
}

/// Quotes at most 40 characters of user input in an error.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
