//! Receipts: from a shopper's upload to tickets. The fiscal QR and the FNS receipt
//! model live in [`crate::fiscal`]; this module decodes photos, verifies receipts with
//! ProverkaCheka and counts tickets.
//!
//! A receipt is accepted in three steps: [`decode::decode_qr_text`] reads the QR from the
//! shopper's photo, [`crate::fiscal::FiscalQr::parse`] validates it locally (before any
//! paid API call) and yields the dedup key, and [`crate::fiscal::FnsReceipt::validate_against`]
//! checks the receipt fetched from ProverkaCheka against that QR.

// The decoder pulls in the image codecs and QR readers, and the verifier is its only
// caller: both are built only with the `qr-decode` feature (receipt-verifier, promo).
#[cfg(feature = "qr-decode")]
pub mod decode;
pub mod fraud;
pub mod intake;
pub mod quota;
pub mod tickets;
#[cfg(feature = "qr-decode")]
pub mod verify;

pub use crate::fiscal::{fns, qr};
pub use crate::fiscal::{
    FiscalKey, FiscalQr, FiscalQrError, FnsItem, FnsReceipt, FnsReceiptError, Kopecks, NotEligible,
    OperationType, ReceiptMismatch, TimePrecision,
};
#[cfg(feature = "qr-decode")]
pub use decode::{decode_qr_text, DecodeError};

/// `callback_data` of the button under an unreadable-picture verdict that starts typing
/// the receipt's printed fields (the bot's `manual` dialogue answers it).
pub const MANUAL_ENTRY_CALLBACK: &str = "manual:start";

use std::sync::Arc;

use crate::db::PgPool;
use crate::proverkacheka::ProverkaChekaClient;
use crate::queue::JobQueue;
use crate::store::Redis;
use crate::telegram::TelegramClient;
use crate::texts::Texts;
use crate::users::Users;

/// What the receipt use-cases (verification, re-checks) need, and nothing more.
#[derive(Clone)]
pub struct Receipts {
    pub pool: PgPool,
    pub bot_id: i64,
    pub redis: Redis,
    pub telegram: TelegramClient,
    pub texts: Texts,
    pub users: Users,
    /// `None` when no PROVERKA_CHEKA_TOKEN is configured: receipts cannot be verified.
    pub proverkacheka: Option<ProverkaChekaClient>,
    pub queue: Arc<dyn JobQueue>,
    /// Sends the replies and notices the verifier writes to the outbox.
    pub sender: crate::outbox::Sender,
    pub settings: Arc<ReceiptSettings>,
    /// The promotion's settings as operators set them (env defaults + the panel's changes).
    pub promo: crate::promo::LivePromo,
}

/// The settings receipt checks read besides the promotion (`Receipts::promo`): who to tell
/// when the provider's quota runs out.
#[derive(Debug, Clone)]
pub struct ReceiptSettings {
    pub admin_ids: Vec<i64>,
}
