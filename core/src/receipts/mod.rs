//! Receipts: from a shopper's upload to tickets. The fiscal QR and the FNS receipt
//! model live in [`crate::fiscal`]; this module decodes photos, verifies receipts with
//! ProverkaCheka and counts tickets.
//!
//! A receipt is accepted in three steps: [`decode::decode_qr_text`] reads the QR from the
//! shopper's photo, [`crate::fiscal::FiscalQr::parse`] validates it locally (before any
//! paid API call) and yields the dedup key, and [`crate::fiscal::FnsReceipt::validate_against`]
//! checks the receipt fetched from ProverkaCheka against that QR.

pub mod decode;
pub mod fraud;
pub mod tickets;
pub mod verify;

pub use crate::fiscal::{fns, qr};
pub use crate::fiscal::{
    FiscalKey, FiscalQr, FiscalQrError, FnsItem, FnsReceipt, FnsReceiptError, Kopecks, NotEligible,
    OperationType, ReceiptMismatch, TimePrecision,
};
pub use decode::{decode_qr_text, DecodeError};
