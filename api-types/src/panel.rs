//! The admin API's auth and admin-management bodies (`/api/auth/*`, `/api/admins`,
//! `/api/audit`). Timestamps are RFC 3339 strings, so the panel needs no date library.

use serde::{Deserialize, Serialize};

/// `POST /api/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
}

/// A panel user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    pub id: i64,
    pub login: String,
    /// `owner`, `manager` or `viewer`.
    pub role: String,
    pub telegram_id: Option<i64>,
    pub disabled: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

/// The answer of login, `GET /api/auth/session` and a password change: who is signed
/// in, the token every state-changing request must carry in `X-CSRF-Token`, and when the
/// session ends (idle and absolute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub admin: AdminUser,
    pub csrf_token: String,
    pub idle_expires_at: String,
    pub expires_at: String,
}

/// `POST /api/auth/password`: the signed-in user's own password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/admins` (owner only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAdminUser {
    pub login: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub telegram_id: Option<i64>,
}

/// `PATCH /api/admins/{id}` (owner only): only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// `Some(None)` unlinks the Telegram account; absent leaves it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub telegram_id: Option<Option<i64>>,
}

/// `POST /api/admins/{id}/password` (owner only): sets another user's password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub new_password: String,
}

/// One row of `GET /api/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    /// `panel:<login>`, `bot:<telegram id>` or `system`.
    pub actor: String,
    pub admin_user_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

/// A page of audit rows, newest first; `next_before_id` continues it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before_id: Option<i64>,
}

/// Tells "absent" (leave as is) from `null` (clear) for an optional field.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// A count now and how much of it is new in the last 24 hours and 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figure {
    pub total: i64,
    pub last_24h: i64,
    pub last_7d: i64,
}

/// `GET /api/dashboard`: the promotion at a glance, in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// Every shopper who ever wrote to the bot.
    pub users: Figure,
    /// Shoppers who finished registration.
    pub registered: Figure,
    /// Every upload (photo, file, QR text), whatever became of it.
    pub uploads: Figure,
    pub receipts_accepted: Figure,
    pub receipts_pending: Figure,
    pub receipts_rejected: Figure,
    /// Tickets granted (the ledger's sum; manual corrections included).
    pub tickets: Figure,
    /// Shoppers holding at least one ticket now.
    pub participants: i64,
    pub winners: Figure,
    pub campaigns: Figure,
    /// One row per day, oldest first, `days` long, in the time zone asked for.
    pub daily: Vec<DailyFigures>,
    /// The latest campaigns, newest first.
    pub recent_campaigns: Vec<CampaignSummary>,
}

/// What one day brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyFigures {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub users: i64,
    pub receipts: i64,
    pub tickets: i64,
}

/// A campaign in a list, with its live counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignSummary {
    pub id: i64,
    /// `broadcast`, `single_message` or `raffle`.
    pub kind: String,
    pub status: String,
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    pub blocked: i64,
    /// Possibly delivered: the runner stopped while the message was in flight.
    pub unknown: i64,
    pub created_at: String,
    pub scheduled_for: Option<String>,
    pub finished_at: Option<String>,
}

/// A shopper in the CRM list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopperRow {
    pub id: i64,
    pub telegram_id: i64,
    pub username: Option<String>,
    /// The name typed at registration, else Telegram's first name.
    pub name: String,
    /// `+7 *** ***-45-67`; the full number only through its own audited endpoint.
    pub phone_masked: Option<String>,
    /// `new`, `registering`, `registered` or `banned`.
    pub status: String,
    /// False once the shopper blocked the bot.
    pub reachable: bool,
    pub language: String,
    pub tickets: i64,
    pub receipts_accepted: i64,
    pub created_at: String,
    pub registered_at: Option<String>,
    pub last_seen_at: String,
}

/// `GET /api/users`: a page, newest first; `next_before_id` continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopperPage {
    pub users: Vec<ShopperRow>,
    pub next_before_id: Option<i64>,
}

/// `GET /api/users/{id}`: the shopper and what they did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopperDetail {
    pub user: ShopperRow,
    pub receipts: Vec<ShopperReceipt>,
    pub ticket_entries: Vec<TicketEntry>,
    pub wins: Vec<ShopperWin>,
    pub campaigns: Vec<ShopperCampaign>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopperReceipt {
    pub id: i64,
    pub status: String,
    pub tickets: i64,
    pub total_kopecks: i64,
    pub seller_name: Option<String>,
    pub receipt_at: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketEntry {
    pub id: i64,
    pub amount: i64,
    /// `receipt`, `manual` or `moderation`.
    pub source: String,
    pub reason: Option<String>,
    pub receipt_id: Option<i64>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopperWin {
    pub draw_id: i64,
    pub campaign_id: i64,
    pub prize: String,
    pub position: i64,
    pub drawn_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopperCampaign {
    pub campaign_id: i64,
    pub kind: String,
    /// The delivery's status: `pending`, `sending`, `sent`, `failed`, `blocked`, `unknown`.
    pub status: String,
    pub sent_at: Option<String>,
}

/// `POST /api/users/{id}/block`: why (kept in the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockRequest {
    pub reason: String,
}

/// `GET /api/users/{id}/phone` (owner, manager; audited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FullPhone {
    pub phone: Option<String>,
}

/// A receipt in the review list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptRow {
    pub id: i64,
    pub user_id: i64,
    pub user_name: String,
    /// `accepted`, `pending` (waiting for a moderator) or `rejected`.
    pub status: String,
    pub tickets: i64,
    pub total_kopecks: i64,
    pub seller_inn: Option<String>,
    pub seller_name: Option<String>,
    /// Local time of the sale as printed, `YYYY-MM-DDTHH:MM:SS`.
    pub receipt_at: String,
    pub created_at: String,
    /// Names of the fraud signals raised (`seller_daily_limit`, ...).
    pub signals: Vec<String>,
}

/// `GET /api/receipts`: a page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptPage {
    pub receipts: Vec<ReceiptRow>,
    pub next_before_id: Option<i64>,
}

/// `GET /api/receipts/{id}`: the receipt with its lines and what was found about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptDetail {
    pub receipt: ReceiptRow,
    pub fiscal_drive_number: String,
    pub fiscal_document_number: i64,
    pub fiscal_sign: i64,
    pub seller_address: Option<String>,
    /// The lines as the tax service returned them, each with `promo: true/false`.
    pub items: serde_json::Value,
    pub fraud_signals: serde_json::Value,
    pub raw_qr: String,
    pub moderation_reason: Option<String>,
    pub moderated_at: Option<String>,
}

/// `POST /api/receipts/{id}/approve` and `/reject`: the reason (required to reject; the
/// shopper is told it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerationDecision {
    #[serde(default)]
    pub reason: Option<String>,
}

/// A seller whose receipts wait for review, for the suspicious-seller queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuspiciousSeller {
    pub seller_inn: String,
    pub seller_name: Option<String>,
    pub pending: i64,
    pub accepted: i64,
    pub shoppers: i64,
    pub last_receipt_at: String,
}

/// `POST /api/campaigns`: a broadcast or a single message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewCampaignRequest {
    /// `broadcast` or `single_message`.
    pub kind: String,
    /// The message, or the caption with a photo.
    #[serde(default)]
    pub text: String,
    /// `HTML` or `MarkdownV2`; plain text when absent.
    #[serde(default)]
    pub parse_mode: Option<String>,
    /// A photo: an http(s) URL, a Telegram `file_id`, or one of the bot's uploads as
    /// `upload:<id>` (the `photo` of its `UploadInfo`).
    #[serde(default)]
    pub photo: Option<String>,
    #[serde(default)]
    pub button: Option<CampaignButton>,
    /// Local time `YYYY-MM-DDTHH:MM` in `tz`; absent = now.
    #[serde(default)]
    pub scheduled_for: Option<String>,
    /// Defaults to the promotion's time zone (the `time_zone` setting).
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub paid_broadcast: bool,
    /// `{"segment": "all" | "with_receipts" | "without_receipts", "language": "ru",
    /// "user_ids": [..]}`; a single message needs `user_ids`.
    #[serde(default)]
    pub audience: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignButton {
    pub text: String,
    pub url: String,
}

/// `POST /api/campaigns/recipients`: how many a campaign would reach now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientsRequest {
    pub kind: String,
    #[serde(default)]
    pub audience: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientCount {
    pub recipients: i64,
}

/// `GET /api/campaigns/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignDetail {
    pub campaign: CampaignSummary,
    pub content: serde_json::Value,
    pub audience: serde_json::Value,
    pub paid_broadcast: bool,
    pub started_at: Option<String>,
    pub error: Option<String>,
    /// `bot`, `panel` or `system`.
    pub created_via: String,
}

/// `GET /api/campaigns`: a page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignPage {
    pub campaigns: Vec<CampaignSummary>,
    pub next_before_id: Option<i64>,
}

/// One row of `GET /api/failed-work`: a job or message given up, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailedWork {
    pub id: i64,
    /// `receipt_check` or `message`.
    pub kind: String,
    /// `receipt_check`, `receipt_result`, `manual_tickets`, `winner`, `quota_notice`,
    /// `moderation`.
    pub purpose: String,
    /// `dead` (given up after its attempts) or `failed` (Telegram refused it for good).
    pub status: String,
    pub user_id: Option<i64>,
    pub submission_id: Option<i64>,
    pub attempts: i32,
    pub reason: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// One bot text in `GET /api/texts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextEntry {
    pub key: String,
    /// The placeholders the text may use, e.g. `tickets` for `{tickets}`.
    pub placeholders: Vec<String>,
    pub ru: TextVersion,
    pub en: TextVersion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextVersion {
    pub default: String,
    /// The operator's text, when one replaces the default.
    pub custom: Option<String>,
}

/// `PUT /api/texts/{key}/{lang}` and `POST .../preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextEdit {
    pub body: String,
}

/// `POST /api/texts/{key}/{lang}/preview`: the text with sample values filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextPreview {
    pub text: String,
}

/// `POST /api/users/{id}/tickets`: a manual grant (negative: a correction).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketGrant {
    pub amount: i32,
    pub reason: String,
    /// Tell the shopper in Telegram (default true).
    #[serde(default = "default_true")]
    pub notify: bool,
}

fn default_true() -> bool {
    true
}

/// `POST /api/users/{id}/receipts`: a receipt the shopper could not upload (a torn QR, a
/// paper receipt read out to support), entered by an operator: either the QR text, or
/// the fields printed under it. It is checked like an upload (duplicate and period
/// checks, then one paid ProverkaCheka call) and the shopper is told the verdict.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ManualReceipt {
    /// The QR text `t=…&s=…&fn=…&i=…&fp=…&n=…`; or give the five fields below.
    #[serde(default)]
    pub qr: Option<String>,
    /// ФН: the fiscal drive number, 16 digits.
    #[serde(default, rename = "fn")]
    pub fiscal_drive_number: Option<String>,
    /// ФД: the fiscal document number.
    #[serde(default)]
    pub fd: Option<String>,
    /// ФП (ФПД): the fiscal sign.
    #[serde(default)]
    pub fp: Option<String>,
    /// Date and time of the sale as printed, `YYYY-MM-DDTHH:MM`.
    #[serde(default)]
    pub date: Option<String>,
    /// The total in roubles, `1234.56`.
    #[serde(default)]
    pub sum: Option<String>,
    /// Why an operator entered it (audited).
    pub reason: String,
}

/// The upload a manual receipt became (`POST /api/users/{id}/receipts`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualReceiptQueued {
    pub submission_id: i64,
    /// The QR text as checked (the canonical form of what was entered).
    pub qr: String,
    pub status: String,
}

/// The answer of a grant: the shopper's tickets now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTotal {
    pub total: i64,
}

/// `POST /api/users/{id}/message`: a message to one shopper (a single-message campaign).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMessage {
    #[serde(default)]
    pub text: String,
    /// As a campaign's: a URL, a `file_id` or `upload:<id>`.
    #[serde(default)]
    pub photo: Option<String>,
}

/// `GET /api/settings`: the promotion's settings now, the environment's defaults, and
/// which fields an operator changed. Fields: name, prizes, start_date, end_date
/// (`YYYY-MM-DD` or null), target_keywords, exclude_keywords (lists of words),
/// support_email, support_telegram (or null), receipt_limit_per_hour,
/// receipt_limit_per_day. `PATCH` takes any subset of `values`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromoSettingsView {
    pub values: serde_json::Map<String, serde_json::Value>,
    pub defaults: serde_json::Map<String, serde_json::Value>,
    pub changed: Vec<String>,
}

/// `POST /api/raffles`: a raffle to create. Every field but `title`, `kind` and `prizes`
/// has a default; a missing field is refused by name like a wrong one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRaffleRequest {
    #[serde(default)]
    pub title: String,
    /// `intermediate` or `final`.
    #[serde(default)]
    pub kind: String,
    /// The receipts counted, by their printed purchase time (local): from `window_from`
    /// (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`) up to `window_to`, where a date alone means
    /// through the end of that day. Absent: open on that side.
    #[serde(default)]
    pub window_from: Option<String>,
    #[serde(default)]
    pub window_to: Option<String>,
    /// In draw order: picks fill the first prize's winners first.
    #[serde(default)]
    pub prizes: Vec<RafflePrize>,
    /// Whether one shopper may win several prizes (false).
    #[serde(default)]
    pub multiple_wins: bool,
    /// Whether an intermediate draw uses up the tickets it counted (false).
    #[serde(default)]
    pub burn_tickets: bool,
    /// Reserve winners drawn for each prize, 0 to 100 (1).
    #[serde(default = "one")]
    pub reserves_per_prize: i64,
    /// What a winner is sent; placeholders `{name}`, `{prize}`, `{tickets}`. Absent: a
    /// Russian congratulation naming the prize.
    #[serde(default)]
    pub win_message: Option<RaffleMessageBody>,
    /// What the others are sent when `notify_losers` is true.
    #[serde(default)]
    pub lose_message: Option<RaffleMessageBody>,
    #[serde(default)]
    pub notify_losers: bool,
    /// When to draw: `YYYY-MM-DDTHH:MM` in the promotion's time zone, or RFC 3339.
    /// Absent: at once.
    #[serde(default)]
    pub scheduled_for: Option<String>,
}

fn one() -> i64 {
    1
}

/// A prize as an operator enters it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RafflePrize {
    #[serde(default)]
    pub name: String,
    /// How many of it are drawn, 1 to 10,000.
    #[serde(default)]
    pub quantity: i64,
    /// Its value in rubles; above 4,000 the winner hands in documents first.
    #[serde(default)]
    pub value_rub: i64,
    /// `upload:<id>`, a URL or a Telegram `file_id`.
    #[serde(default)]
    pub photo: Option<String>,
}

/// A win or lose message: the text (a caption under the photo when there is one).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleMessageBody {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub photo: Option<String>,
}

/// A raffle in the list (`GET /api/raffles`), keyed by its campaign id. The draw's
/// fields are `null` until it is drawn.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleRow {
    /// The raffle's campaign id.
    pub id: i64,
    pub title: String,
    /// `intermediate` or `final`; `null` for a raffle made before raffles had prizes.
    pub kind: Option<String>,
    /// The campaign's: `scheduled`, `completed`, `cancelled`, `failed`, ...
    pub status: String,
    /// When it is drawn; `null`: as soon as it was created.
    pub scheduled_for: Option<String>,
    pub created_at: String,
    /// How many prizes, and how many picks the draw makes (winners and reserves).
    pub prizes: i64,
    pub picks: i64,
    /// `SHA-256(seed)`, public from creation on; `null` for draws made before v2.
    pub seed_commitment: Option<String>,
    pub draw_id: Option<i64>,
    pub drawn_at: Option<String>,
    pub participants: Option<i64>,
    pub tickets: Option<i64>,
    /// The draw's public record: `/api/public/draws/<draw_id>`.
    pub public_url: Option<String>,
    /// The raffle's public record, before and after the draw: `/api/public/raffles/<id>`.
    pub record_url: String,
}

/// `GET /api/raffles`, newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RafflePage {
    pub raffles: Vec<RaffleRow>,
    pub next_before_id: Option<i64>,
}

/// `GET /api/raffles/{id}`: the raffle as decided, its draw and its picks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleDetail {
    pub raffle: RaffleRow,
    /// `null` for a raffle made before raffles had prizes (its prize is the title).
    pub spec: Option<RaffleSpecView>,
    /// `null` until the draw.
    pub draw: Option<RaffleDrawView>,
    /// Every pick by position (empty before the draw).
    pub picks: Vec<RaffleWinner>,
}

/// What an operator decided about a raffle.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleSpecView {
    /// `YYYY-MM-DDTHH:MM` local, the window's start (inclusive) and end (exclusive).
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    pub time_zone: String,
    pub prizes: Vec<RafflePrizeView>,
    pub multiple_wins: bool,
    pub burn_tickets: bool,
    pub reserves_per_prize: i64,
    pub win_message: RaffleMessageBody,
    pub lose_message: Option<RaffleMessageBody>,
    pub notify_losers: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RafflePrizeView {
    pub id: i64,
    /// 1-based draw order.
    pub position: i64,
    pub name: String,
    pub quantity: i64,
    pub value_rub: i64,
    pub photo: Option<String>,
    /// Whether its winner hands in documents before it is handed over (value > 4,000 ₽).
    pub needs_documents: bool,
}

/// A raffle's draw: the revealed seed and what anyone needs to redo it, and whether the
/// server's redo just now matched.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleDrawView {
    pub draw_id: i64,
    pub drawn_at: String,
    pub algorithm: String,
    /// 64 hex digits, revealed by the draw.
    pub seed: String,
    pub seed_commitment: Option<String>,
    pub snapshot_hash: Option<String>,
    pub participants: i64,
    pub tickets: i64,
    pub verified: bool,
    pub problems: Vec<String>,
    pub public_url: String,
}

/// One pick of a draw: the prize it won or reserves and its claim. The phone is always
/// the masked one here (the full number comes from the export or
/// `GET /api/users/{id}/phone`, both audited).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleWinner {
    /// The pick's own id.
    pub id: i64,
    pub position: i64,
    pub prize_id: Option<i64>,
    /// The prize's name (the draw's prize for a raffle made before raffles had prizes).
    pub prize: String,
    /// Drawn as a reserve of the prize (it stays one when it is called up).
    pub reserve: bool,
    pub user_id: i64,
    pub name: String,
    pub username: Option<String>,
    pub phone_masked: Option<String>,
    pub tickets_at_draw: i64,
    /// `reserve`, `notified`, `confirmed`, `documents_received`, `handed_over`,
    /// `expired`, `declined`, `disqualified` or `unused`.
    pub claim_status: String,
    pub claim_deadline: Option<String>,
    pub notified_at: Option<String>,
    /// The position of the pick that took this one's prize over.
    pub replaced_by: Option<i64>,
    /// Why this pick's claim ended, as recorded.
    pub ended_reason: Option<String>,
}

/// `GET /api/raffles/{id}/winners`, by position.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleWinners {
    pub raffle: RaffleRow,
    pub winners: Vec<RaffleWinner>,
}

/// `GET /api/costs`: what the promotion paid for in the last `days` local days.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    pub days: i64,
    pub tz: String,
    pub totals: CostFigures,
    /// Submissions settled without a paid check, by their outcome.
    pub saved_by_outcome: Vec<SavedCalls>,
    /// One entry per local day, oldest first, days without anything included.
    pub daily: Vec<DailyCosts>,
    /// Paid-broadcast campaigns that sent messages in the period.
    pub campaigns: Vec<CampaignCosts>,
}

/// The period's figures (also the shape of one day).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostFigures {
    /// ProverkaCheka calls made (each is paid).
    pub provider_calls: i64,
    pub receipts_accepted: i64,
    /// `provider_calls / receipts_accepted`; `None` without an accepted receipt.
    pub calls_per_accepted_receipt: Option<f64>,
    /// Calls not made: submissions refused locally (duplicates, not a sale, out of the
    /// promotion's dates, not a fiscal QR...) before any paid check.
    pub calls_saved: i64,
    /// Messages sent by paid-broadcast campaigns.
    pub paid_broadcast_messages: i64,
    /// Stars those messages cost: 0.1 each (an upper bound, see the API's docs).
    pub stars: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCalls {
    pub outcome: String,
    pub submissions: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyCosts {
    /// `YYYY-MM-DD` in the requested time zone.
    pub day: String,
    #[serde(flatten)]
    pub figures: CostFigures,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignCosts {
    pub campaign_id: i64,
    pub kind: String,
    pub status: String,
    pub paid_broadcast_messages: i64,
    pub stars: f64,
}

/// An uploaded image (`POST /api/uploads`, `GET /api/uploads`). The type and size are
/// what the content showed, whatever the request said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadInfo {
    pub id: i64,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    pub bytes: i64,
    pub width: i32,
    pub height: i32,
    /// SHA-256 of the bytes, lowercase hex: the same bytes are the same upload.
    pub sha256: String,
    /// Where the image is served (with the session): `/api/uploads/<id>`.
    pub url: String,
    /// What a campaign's or a direct message's `photo` takes to send it: `upload:<id>`.
    pub photo: String,
    /// Who uploaded it: `panel:<login>`.
    pub created_by: String,
    pub created_at: String,
}

/// `GET /api/uploads`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadPage {
    pub uploads: Vec<UploadInfo>,
    pub next_before_id: Option<i64>,
}

/// `POST /api/test-chat/messages`: what the operator does in the test chat, exactly one
/// of a text, a shared contact, a tap on an inline button (its `callback_data` and the
/// bot message's `message_id`) or a picture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatInput {
    /// A text message (a command like `/start`, a reply-keyboard button's text, a QR string).
    #[serde(default)]
    pub text: Option<String>,
    /// The test shopper shares their own contact (the request-contact button).
    #[serde(default)]
    pub contact: Option<TestChatContact>,
    /// The `callback_data` of an inline button of message `message_id`.
    #[serde(default)]
    pub callback_data: Option<String>,
    #[serde(default)]
    pub message_id: Option<i64>,
    /// A picture (a receipt photo), as Telegram delivers a photo.
    #[serde(default)]
    pub photo: Option<TestChatPhoto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatContact {
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatPhoto {
    /// The JPEG or PNG file, base64 (standard alphabet), at most 10 MB decoded.
    pub base64: String,
}

/// `GET /api/test-chat`: the signed-in operator's test chat as Telegram would show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChat {
    /// The test shopper; `null` before the operator first wrote.
    pub shopper: Option<TestShopper>,
    /// Messages in order of `message_id`, each as it is now (edits applied). With
    /// `after`, only those sent or changed after that `seq`.
    pub messages: Vec<TestChatMessage>,
    /// Callback answers (the toast or alert a tap shows), with `after` only the newer ones.
    pub notices: Vec<TestChatNotice>,
    /// The reply keyboard the chat shows now; `null` when none (never sent or removed).
    pub reply_keyboard: Option<TestChatReplyKeyboard>,
    /// The last event's `seq`: pass it as `after` to poll for what came next.
    pub last_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestShopper {
    /// The `users.id` (flagged `is_test`).
    pub user_id: i64,
    /// Synthetic: 2^52 + the panel user's id, a range no real Telegram chat has.
    pub telegram_id: i64,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatMessage {
    pub message_id: i64,
    /// `bot` or `shopper` (what the operator sent).
    pub from: String,
    /// The last event that created or changed this message.
    pub seq: i64,
    pub text: Option<String>,
    /// `HTML` when the text carries Telegram's HTML tags.
    pub parse_mode: Option<String>,
    /// A photo the bot sent (its file id or URL), or `sent` for the operator's picture.
    pub photo: Option<String>,
    /// A document the bot sent: its file name.
    pub document: Option<String>,
    /// The phone of a contact the operator shared.
    pub contact_phone: Option<String>,
    /// The inline keyboard under the message, row by row (empty: none).
    pub inline_keyboard: Vec<Vec<TestChatInlineButton>>,
    pub edited: bool,
    pub deleted: bool,
    pub sent_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatInlineButton {
    pub text: String,
    pub callback_data: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatReplyKeyboard {
    pub rows: Vec<Vec<TestChatKeyboardButton>>,
    pub resize: bool,
    pub one_time: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatKeyboardButton {
    pub text: String,
    /// Tapping it shares the contact (send `contact` rather than `text`).
    pub request_contact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatNotice {
    pub seq: i64,
    pub text: Option<String>,
    pub show_alert: bool,
    pub at: String,
}

/// `POST /api/test-chat/reset`: what was wiped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestChatReset {
    pub events: i64,
    pub receipts: i64,
    pub tickets: i64,
}

/// `GET /api/public/raffles/{id}`: a raffle's public record. Before the draw it holds
/// the commitment the draw will be checked against; after it, the draw itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicRaffle {
    /// The raffle's campaign id.
    pub id: i64,
    pub title: String,
    /// `intermediate` or `final`; `null` for a raffle made before raffles had prizes.
    pub kind: Option<String>,
    pub status: String,
    pub scheduled_for: Option<String>,
    pub prizes: Vec<PublicPrize>,
    pub picks: i64,
    /// `SHA-256(seed)`, published before the draw.
    pub seed_commitment: Option<String>,
    /// `null` until the draw.
    pub draw: Option<PublicDraw>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicPrize {
    pub position: i64,
    pub name: String,
    pub quantity: i64,
    pub value_rub: i64,
}

/// `GET /api/public/draws/{id}`: a draw's public record, enough for anyone to redo it
/// (`docs/DRAW.md`, `infra/verify_draw.py` with the snapshot from `…/snapshot.txt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicDraw {
    pub draw_id: i64,
    /// The raffle's campaign id (`/api/public/raffles/<id>`).
    pub campaign_id: i64,
    pub title: String,
    pub kind: Option<String>,
    /// The prizes in draw order (empty for a draw made before raffles had prizes: its
    /// one prize is `prize`).
    pub prizes: Vec<PublicPrize>,
    pub prize: String,
    pub drawn_at: String,
    pub algorithm: String,
    /// The revealed seed, 64 hex digits.
    pub seed: String,
    /// `SHA-256(seed)`; `null` for a draw made before commitments were recorded.
    pub seed_commitment: Option<String>,
    /// SHA-256 of the canonical snapshot text; `null` for such an older draw.
    pub snapshot_hash: Option<String>,
    pub participants: i64,
    pub tickets: i64,
    /// How many picks the draw made (`--picks` of the verifier).
    pub picks: i64,
    /// In pick order; a shopper is named by first name and initial only.
    pub winners: Vec<PublicWinner>,
    /// Prizes passed on to a reserve after the draw, in the order they happened.
    pub rerolls: Vec<PublicReroll>,
    /// What redoing the draw on the server found just now.
    pub verified: bool,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicWinner {
    pub position: i64,
    /// The participant's id in the snapshot.
    pub user_id: i64,
    pub tickets: i64,
    /// `Анна С.`
    pub name: String,
    /// The prize this pick won or reserves.
    pub prize: String,
    pub reserve: bool,
}

/// A prize that went from one pick to a reserve, and why (never anyone's data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicReroll {
    /// The pick that lost the prize, and the one that took it over.
    pub position: i64,
    pub replaced_by: i64,
    pub prize: String,
    /// `expired` (not confirmed in time), `declined` or `disqualified`.
    pub reason: String,
}

/// `POST /api/raffles/{id}/winners/{winner_id}/disqualify`: why (kept in the audit log
/// and on the winner row), 3 to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisqualifyRequest {
    pub reason: String,
}

/// One pick of a draw and its claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimWinner {
    pub winner_id: i64,
    pub draw_id: i64,
    pub position: i64,
    pub user_id: i64,
    pub prize_id: Option<i64>,
    pub prize: String,
    /// Drawn as a reserve (it may hold the prize since).
    pub is_reserve: bool,
    /// `reserve`, `notified`, `confirmed`, `documents_received`, `handed_over`, `expired`,
    /// `declined`, `disqualified` or `unused`.
    pub claim_status: String,
    pub claim_deadline: Option<String>,
    pub handed_over_at: Option<String>,
    pub ended_reason: Option<String>,
    /// The reserve that took this pick's prize over.
    pub replaced_by: Option<i64>,
}

/// The answer of a disqualification: the winner as it ended and the reserve that holds
/// the prize now (`null` when no reserve was left: the prize stays unclaimed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reroll {
    pub ended: ClaimWinner,
    pub promoted: Option<ClaimWinner>,
}

/// `GET /api/raffles/{id}/winners/{winner_id}/documents` (owner; every view audited):
/// what the winner handed in for the tax agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimDocuments {
    pub winner_id: i64,
    pub full_name: String,
    /// `4510 123456`: series and number.
    pub passport: String,
    pub inn: String,
    pub address: String,
    pub submitted_at: String,
}
