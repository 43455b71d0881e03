//! The FNS receipt (`data.json` of a ProverkaCheka answer), read tolerantly because
//! providers flip scalars between numbers and strings, pad identifiers with spaces and
//! rename fields across format versions (domain spec 1.7 and 3).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::qr::{FiscalKey, FiscalQr, OperationType};
use super::Kopecks;

/// A receipt as the tax service registered it. Typed fields cover what a promo needs;
/// everything else stays available through [`FnsReceipt::raw_json`], which is also what
/// `Serialize` writes, so storing and reloading a receipt loses nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct FnsReceipt {
    /// Document type, `3` = cash receipt (`code`, older `receiptCode`).
    pub document_code: Option<i64>,
    /// `fiscalDocumentFormatVer`: 2 = FFD 1.05, 3 = 1.1, 4 = 1.2; absent on old receipts.
    pub format_version: Option<i64>,
    /// Seller's legal name as printed (doubled and trailing spaces kept).
    pub user: Option<String>,
    /// Seller INN, trimmed.
    pub user_inn: Option<String>,
    pub retail_place: Option<String>,
    /// `retailPlaceAddress`, or the misspelled `retailPlaceAddres` of old receipts.
    pub retail_place_address: Option<String>,
    pub region: Option<String>,
    /// Register registration number, trimmed.
    pub kkt_reg_id: Option<String>,
    /// The register's local wall clock (spec 3.3): never convert it as if it were UTC.
    pub date_time: NaiveDateTime,
    /// Raw `operationType`; see [`FnsReceipt::operation`].
    pub operation_type: i64,
    /// `appliedTaxationType` (older `taxationType`), a bit mask.
    pub taxation_type: Option<i64>,
    pub total_sum: Kopecks,
    pub cash_total_sum: Option<Kopecks>,
    pub ecash_total_sum: Option<Kopecks>,
    /// Receipt-level VAT amounts; `nds18` is still the name of the 20 % amount.
    pub nds18: Option<Kopecks>,
    pub nds10: Option<Kopecks>,
    pub nds0: Option<Kopecks>,
    pub nds_no: Option<Kopecks>,
    /// Digit strings as sent (trimmed); compare them with [`FnsReceipt::validate_against`].
    pub fiscal_drive_number: String,
    pub fiscal_document_number: String,
    pub fiscal_sign: String,
    pub shift_number: Option<i64>,
    pub request_number: Option<i64>,
    pub operator: Option<String>,
    pub items: Vec<FnsItem>,
    /// An object in some receipts, an array of `{key, value}` in others: kept raw.
    pub properties: Option<Value>,
    /// ProverkaCheka/OFD extras (`id`, `ofdId`, `receiveDate`…); `receiveDate` is not UTC.
    pub metadata: Option<Value>,
    raw: Value,
}

/// One receipt line. The same product may appear on several lines.
#[derive(Debug, Clone, PartialEq)]
pub struct FnsItem {
    /// As printed: truncated, abbreviated, with article numbers and runs of spaces.
    pub name: String,
    /// Unit price, when the provider sent it.
    pub price: Option<Kopecks>,
    /// Pieces or weight/volume (see `items_quantity_measure`); 1 when absent.
    pub quantity: f64,
    /// Line total after discounts.
    pub sum: Option<Kopecks>,
    /// VAT rate code (FFD tag 1199) of newer receipts.
    pub nds: Option<i64>,
    /// Per-line VAT amounts of legacy (FFD 1.0/1.05) receipts.
    pub nds18: Option<Kopecks>,
    pub nds10: Option<Kopecks>,
    pub payment_type: Option<i64>,
    pub product_type: Option<i64>,
    /// FFD 1.2 unit (tag 2108): 0 pieces, 11 kg, 41 l…; absent on older receipts.
    pub items_quantity_measure: Option<i64>,
    /// Marking/barcode info (e.g. `ean13.gtin`), raw.
    pub product_code_new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FnsReceiptError {
    #[error("the receipt is not a JSON object")]
    NotAnObject,
    #[error("the receipt has no `{0}`")]
    MissingField(String),
    #[error("the receipt field `{field}` has an unusable value {value}")]
    InvalidField { field: String, value: String },
}

/// Why a code-1 receipt does not belong to the scanned QR (domain spec 1.5, points 2–3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptMismatch {
    #[error("fiscal drive number {receipt} differs from the QR's {qr}")]
    FiscalDriveNumber { qr: String, receipt: String },
    #[error("fiscal document number {receipt} differs from the QR's {qr}")]
    FiscalDocumentNumber { qr: String, receipt: String },
    #[error("fiscal sign {receipt} differs from the QR's {qr}")]
    FiscalSign { qr: String, receipt: String },
    #[error("total {receipt} differs from the QR's {qr}")]
    TotalSum { qr: Kopecks, receipt: Kopecks },
    #[error("operation type {0} is not a sale")]
    NotASale(i64),
}

impl FnsReceipt {
    /// Reads `data.json`. Required: `items` (array), `dateTime`, `totalSum`,
    /// `operationType` and the three fiscal identifiers; a malformed optional field is
    /// treated as absent rather than failing the receipt.
    pub fn from_json(raw: Value) -> Result<FnsReceipt, FnsReceiptError> {
        let object = raw.as_object().ok_or(FnsReceiptError::NotAnObject)?;
        let fields = Fields {
            object,
            prefix: String::new(),
        };

        let items = match object.get("items") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| FnsItem::from_json(index, item))
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(fields.invalid("items", other)),
            None => return Err(FnsReceiptError::MissingField("items".into())),
        };

        let receipt = FnsReceipt {
            document_code: fields.opt_int(&["code", "receiptCode"]),
            format_version: fields.opt_int(&["fiscalDocumentFormatVer"]),
            user: fields.opt_text(&["user"]),
            user_inn: fields.opt_trimmed(&["userInn"]),
            retail_place: fields.opt_text(&["retailPlace"]),
            retail_place_address: fields.opt_text(&["retailPlaceAddress", "retailPlaceAddres"]),
            region: fields.opt_trimmed(&["region"]),
            kkt_reg_id: fields.opt_trimmed(&["kktRegId"]),
            date_time: fields.date_time("dateTime")?,
            operation_type: fields.int("operationType")?,
            taxation_type: fields.opt_int(&["appliedTaxationType", "taxationType"]),
            total_sum: Kopecks::new(fields.int("totalSum")?),
            cash_total_sum: fields.opt_kopecks("cashTotalSum"),
            ecash_total_sum: fields.opt_kopecks("ecashTotalSum"),
            nds18: fields.opt_kopecks("nds18"),
            nds10: fields.opt_kopecks("nds10"),
            nds0: fields.opt_kopecks("nds0"),
            nds_no: fields.opt_kopecks("ndsNo"),
            fiscal_drive_number: fields.digits("fiscalDriveNumber")?,
            fiscal_document_number: fields.digits("fiscalDocumentNumber")?,
            fiscal_sign: fields.digits("fiscalSign")?,
            shift_number: fields.opt_int(&["shiftNumber"]),
            request_number: fields.opt_int(&["requestNumber"]),
            operator: fields.opt_text(&["operator"]),
            items,
            properties: fields.opt_raw("properties"),
            metadata: fields.opt_raw("metadata"),
            raw: Value::Null,
        };
        Ok(FnsReceipt { raw, ..receipt })
    }

    /// The JSON exactly as received.
    pub fn raw_json(&self) -> &Value {
        &self.raw
    }

    pub fn into_raw_json(self) -> Value {
        self.raw
    }

    pub fn operation(&self) -> Option<OperationType> {
        OperationType::from_code(self.operation_type)
    }

    /// The dedup key, when the identifiers fit the QR ranges.
    pub fn fiscal_key(&self) -> Option<FiscalKey> {
        Some(FiscalKey {
            fiscal_drive_number: self.fiscal_drive_number.parse().ok()?,
            fiscal_document_number: self.fiscal_document_number.parse().ok()?,
            fiscal_sign: self.fiscal_sign.parse().ok()?,
        })
    }

    /// Checks that this receipt is the one the QR describes and is a sale: `fn`, `i`,
    /// `fp` as digit strings without leading zeros, `totalSum == s × 100`,
    /// `operationType == 1`. The promotion period is checked on the QR.
    pub fn validate_against(&self, qr: &FiscalQr) -> Result<(), ReceiptMismatch> {
        let same = |qr_value: &str, receipt_value: &str| {
            without_leading_zeros(qr_value) == without_leading_zeros(receipt_value)
        };
        if !same(qr.fiscal_drive_number(), &self.fiscal_drive_number) {
            return Err(ReceiptMismatch::FiscalDriveNumber {
                qr: qr.fiscal_drive_number().to_owned(),
                receipt: self.fiscal_drive_number.clone(),
            });
        }
        let qr_fd = qr.fiscal_document_number().to_string();
        if !same(&qr_fd, &self.fiscal_document_number) {
            return Err(ReceiptMismatch::FiscalDocumentNumber {
                qr: qr_fd,
                receipt: self.fiscal_document_number.clone(),
            });
        }
        let qr_fp = qr.fiscal_sign().to_string();
        if !same(&qr_fp, &self.fiscal_sign) {
            return Err(ReceiptMismatch::FiscalSign {
                qr: qr_fp,
                receipt: self.fiscal_sign.clone(),
            });
        }
        if self.total_sum != qr.sum() {
            return Err(ReceiptMismatch::TotalSum {
                qr: qr.sum(),
                receipt: self.total_sum,
            });
        }
        if self.operation_type != 1 {
            return Err(ReceiptMismatch::NotASale(self.operation_type));
        }
        Ok(())
    }
}

impl Serialize for FnsReceipt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FnsReceipt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FnsReceipt::from_json(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl FnsItem {
    /// The line total, or `price × quantity` rounded when the provider left `sum` out.
    pub fn line_sum(&self) -> Option<Kopecks> {
        self.sum.or_else(|| {
            let total = (self.price?.get() as f64 * self.quantity).round();
            total.is_finite().then_some(Kopecks::new(total as i64))
        })
    }

    fn from_json(index: usize, raw: &Value) -> Result<FnsItem, FnsReceiptError> {
        let object = raw
            .as_object()
            .ok_or_else(|| FnsReceiptError::InvalidField {
                field: format!("items[{index}]"),
                value: short_json(raw),
            })?;
        let fields = Fields {
            object,
            prefix: format!("items[{index}]."),
        };
        Ok(FnsItem {
            name: fields.opt_text(&["name"]).unwrap_or_default(),
            price: fields.opt_kopecks("price"),
            quantity: fields.opt_float("quantity").unwrap_or(1.0),
            sum: fields.opt_kopecks("sum"),
            nds: fields.opt_int(&["nds"]),
            nds18: fields.opt_kopecks("nds18"),
            nds10: fields.opt_kopecks("nds10"),
            payment_type: fields.opt_int(&["paymentType"]),
            product_type: fields.opt_int(&["productType"]),
            items_quantity_measure: fields.opt_int(&["itemsQuantityMeasure"]),
            product_code_new: fields.opt_raw("productCodeNew"),
        })
    }
}

struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// Path of the object inside the receipt, for error messages.
    prefix: String,
}

impl Fields<'_> {
    /// The first present, non-null value among the names (a field and its aliases).
    fn get(&self, names: &[&str]) -> Option<&Value> {
        names
            .iter()
            .filter_map(|name| self.object.get(*name))
            .find(|value| !value.is_null())
    }

    fn invalid(&self, name: &str, value: &Value) -> FnsReceiptError {
        FnsReceiptError::InvalidField {
            field: format!("{}{name}", self.prefix),
            value: short_json(value),
        }
    }

    fn missing(&self, name: &str) -> FnsReceiptError {
        FnsReceiptError::MissingField(format!("{}{name}", self.prefix))
    }

    fn int(&self, name: &str) -> Result<i64, FnsReceiptError> {
        let value = self.get(&[name]).ok_or_else(|| self.missing(name))?;
        loose_int(value).ok_or_else(|| self.invalid(name, value))
    }

    fn opt_int(&self, names: &[&str]) -> Option<i64> {
        self.get(names).and_then(loose_int)
    }

    fn opt_kopecks(&self, name: &str) -> Option<Kopecks> {
        self.opt_int(&[name]).map(Kopecks::new)
    }

    fn opt_float(&self, name: &str) -> Option<f64> {
        match self.get(&[name])? {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            _ => None,
        }
    }

    fn opt_text(&self, names: &[&str]) -> Option<String> {
        match self.get(names)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    fn opt_trimmed(&self, names: &[&str]) -> Option<String> {
        self.opt_text(names).map(|text| text.trim().to_owned())
    }

    fn opt_raw(&self, name: &str) -> Option<Value> {
        self.get(&[name]).cloned()
    }

    fn digits(&self, name: &str) -> Result<String, FnsReceiptError> {
        let value = self.get(&[name]).ok_or_else(|| self.missing(name))?;
        let digits = match value {
            Value::String(text) => Some(text.trim().to_owned()),
            Value::Number(number) => number
                .as_u64()
                .or_else(|| loose_int(value).and_then(|v| u64::try_from(v).ok()))
                .map(|v| v.to_string()),
            _ => None,
        };
        digits
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| self.invalid(name, value))
    }

    fn date_time(&self, name: &str) -> Result<NaiveDateTime, FnsReceiptError> {
        let value = self.get(&[name]).ok_or_else(|| self.missing(name))?;
        loose_date_time(value).ok_or_else(|| self.invalid(name, value))
    }
}

/// An integer given as a JSON integer, an integral float, or a (trimmed) numeric string.
fn loose_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            // Floats beyond 2^53 are not exact integers any more.
            number
                .as_f64()
                .filter(|v| v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0)
                .map(|v| v as i64)
        }),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>().ok().or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0)
                    .map(|v| v as i64)
            })
        }
        _ => None,
    }
}

/// Unix seconds (the FFD stores the local wall clock as if it were UTC, so the UTC
/// rendering *is* the local time), `YYYY-MM-DDTHH:MM[:SS]` or `YYYY-MM-DD`.
fn loose_date_time(value: &Value) -> Option<NaiveDateTime> {
    if let Some(seconds) = loose_int(value) {
        return DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc());
    }
    let text = value.as_str()?.trim();
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|date| date.and_time(chrono::NaiveTime::MIN))
        })
}

fn without_leading_zeros(digits: &str) -> &str {
    let stripped = digits.trim_start_matches('0');
    if stripped.is_empty() && !digits.is_empty() {
        "0"
    } else {
        stripped
    }
}

fn short_json(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
