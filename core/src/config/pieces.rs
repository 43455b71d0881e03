//! The pieces the functions' settings are made of, each with its own loader and the
//! validation of the variables it reads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use chrono::NaiveDate;
use secrecy::SecretString;

use super::{load, ConfigError, Env};
use crate::pii::{PhoneKey, PrizeKey};

/// The token the sandbox's fake Bot API is addressed with.
pub const SANDBOX_BOT_TOKEN: &str = "100000:sandbox-token";

/// Which bot this process serves and where its state lives: `BOT_SLUG`, `DATABASE_URL`,
/// `REDIS_URL`. Both URLs are secrets, since they may carry passwords.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub bot_slug: String,
    pub database_url: SecretString,
    pub redis_url: SecretString,
}

impl StoreSettings {
    pub const READS: &'static [&'static str] = &["BOT_SLUG", "DATABASE_URL", "REDIS_URL"];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            bot_slug: bot_slug(env)?,
            database_url: database_url(env)?,
            redis_url: redis_url(env)?,
        })
    }
}

/// The Bot API as the functions call it: `BOT_TOKEN` (required) and `TELEGRAM_API_URL`.
#[derive(Debug, Clone)]
pub struct BotApiSettings {
    pub bot_token: SecretString,
    pub api_url: String,
}

impl BotApiSettings {
    pub const READS: &'static [&'static str] = &["BOT_TOKEN", "TELEGRAM_API_URL"];

    /// A deployed function talks to the real Telegram, so the token is required; only
    /// `promo serve` falls back to the sandbox ([`BotApiSettings::read_or_sandbox`]).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let token = env.required(
            "BOT_TOKEN",
            "only `promo serve` runs without it, in sandbox mode",
        )?;
        validate_bot_token(&token)?;
        Ok(Self {
            bot_token: SecretString::from(token),
            api_url: env.url("TELEGRAM_API_URL")?,
        })
    }

    /// `promo`'s reading: without `BOT_TOKEN` the sandbox token, and `true` for sandbox.
    pub(super) fn read_or_sandbox(env: &Env<'_>) -> Result<(Self, bool), ConfigError> {
        if env.optional("BOT_TOKEN").is_some() {
            return Ok((Self::read(env)?, false));
        }
        let sandbox = Self {
            bot_token: SecretString::from(SANDBOX_BOT_TOKEN),
            api_url: env.url("TELEGRAM_API_URL")?,
        };
        Ok((sandbox, true))
    }
}

/// What the webhook and the dialogue read: the webhook's secret header, the admins and
/// the registration's channel requirement.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub webhook_secret: SecretString,
    /// Telegram ids that always get the admin menu.
    pub admin_ids: Vec<i64>,
    /// Answer single-reply updates in the webhook HTTP response body.
    pub reply_in_webhook_response: bool,
}

impl TelegramSettings {
    pub const READS: &'static [&'static str] =
        &["WEBHOOK_SECRET", "ADMIN_IDS", "WEBHOOK_REPLY_IN_RESPONSE"];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            webhook_secret: webhook_secret(env)?,
            admin_ids: admin_ids(env)?,
            reply_in_webhook_response: env.boolean("WEBHOOK_REPLY_IN_RESPONSE")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PromoSettings {
    pub name: String,
    pub prizes: String,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub target_keywords: Vec<String>,
    pub exclude_keywords: Vec<String>,
    pub support_email: Option<String>,
    pub support_telegram: Option<String>,
    pub receipt_limit_per_hour: u32,
    pub receipt_limit_per_day: u32,
    /// IANA name of the promotion's time zone: schedules, days of the dashboard and
    /// the costs, dates shown to operators.
    pub time_zone: String,
    /// Channel (`@username` or numeric id) shoppers must join before registration completes.
    pub required_channel: Option<String>,
    /// Join link shown with the subscription request (needed for private channels).
    pub required_channel_url: Option<String>,
    /// When a receipt is held for review, and what the panel flags.
    pub fraud: FraudThresholds,
    /// How long a raffle winner has to claim, and how long their documents are kept.
    pub claims: ClaimSettings,
    /// Send a picture we could not read to ProverkaCheka as `qrfile` (a paid call that
    /// usually finds no code either). Off: the shopper is asked for a sharper photo, the
    /// QR text or the printed fields instead.
    pub paid_image_fallback: bool,
}

impl PromoSettings {
    pub const READS: &'static [&'static str] = &[
        "PROMO_NAME",
        "PROMO_PRIZES",
        "PROMO_START_DATE",
        "PROMO_END_DATE",
        "TARGET_KEYWORDS",
        "EXCLUDE_KEYWORDS",
        "SUPPORT_EMAIL",
        "SUPPORT_TELEGRAM",
        "RECEIPT_LIMIT_PER_HOUR",
        "RECEIPT_LIMIT_PER_DAY",
        "PROMO_TIME_ZONE",
        "REQUIRED_CHANNEL",
        "REQUIRED_CHANNEL_URL",
        "PAID_IMAGE_FALLBACK",
    ];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let start_date = env.date("PROMO_START_DATE")?;
        let end_date = env.date("PROMO_END_DATE")?;
        if let (Some(start), Some(end)) = (start_date, end_date) {
            if end < start {
                return Err(ConfigError::new(
                    "PROMO_END_DATE",
                    format!("{end} is before PROMO_START_DATE {start}"),
                ));
            }
        }
        Ok(Self {
            name: env.string("PROMO_NAME"),
            prizes: env.string("PROMO_PRIZES"),
            start_date,
            end_date,
            target_keywords: env.list("TARGET_KEYWORDS"),
            exclude_keywords: env.list("EXCLUDE_KEYWORDS"),
            support_email: env.optional("SUPPORT_EMAIL"),
            support_telegram: env.optional("SUPPORT_TELEGRAM"),
            receipt_limit_per_hour: env.positive("RECEIPT_LIMIT_PER_HOUR")?,
            receipt_limit_per_day: env.positive("RECEIPT_LIMIT_PER_DAY")?,
            time_zone: time_zone(env.optional("PROMO_TIME_ZONE"))?,
            required_channel: required_channel(env.optional("REQUIRED_CHANNEL"))?,
            required_channel_url: env.optional("REQUIRED_CHANNEL_URL"),
            fraud: Default::default(),
            claims: Default::default(),
            paid_image_fallback: env.boolean("PAID_IMAGE_FALLBACK")?,
        })
    }
}

/// The panel's sessions: the key that derives their CSRF tokens (`ADMIN_SECRET_KEY`)
/// and how long they last.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub secret_key: SecretString,
    /// A session unused this long is over.
    pub session_idle: std::time::Duration,
    /// A session this old is over, however busy.
    pub session_max: std::time::Duration,
}

impl AdminSettings {
    pub const READS: &'static [&'static str] = &[
        "ADMIN_SECRET_KEY",
        "ADMIN_SESSION_IDLE_MINUTES",
        "ADMIN_SESSION_MAX_HOURS",
    ];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let secret_key = env.required("ADMIN_SECRET_KEY", "")?;
        if secret_key.chars().count() < 32 {
            return Err(ConfigError::new(
                "ADMIN_SECRET_KEY",
                "must be at least 32 characters long",
            ));
        }
        let idle_minutes = env.positive("ADMIN_SESSION_IDLE_MINUTES")?;
        let max_hours = env.positive("ADMIN_SESSION_MAX_HOURS")?;
        Ok(Self {
            secret_key: SecretString::from(secret_key),
            session_idle: std::time::Duration::from_secs(u64::from(idle_minutes) * 60),
            session_max: std::time::Duration::from_secs(u64::from(max_hours) * 3600),
        })
    }
}

/// The panel user `promo serve` creates on first start (`ADMIN_PANEL_USER`,
/// `ADMIN_PANEL_PASSWORD`); no deployed function reads them.
#[derive(Debug, Clone)]
pub struct PanelSettings {
    pub user: String,
    pub password: Option<SecretString>,
}

impl PanelSettings {
    pub const READS: &'static [&'static str] = &["ADMIN_PANEL_USER", "ADMIN_PANEL_PASSWORD"];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let password = env.optional("ADMIN_PANEL_PASSWORD");
        if password.as_ref().is_some_and(|p| p.chars().count() < 12) {
            return Err(ConfigError::new(
                "ADMIN_PANEL_PASSWORD",
                "must be at least 12 characters long",
            ));
        }
        Ok(Self {
            user: env.string("ADMIN_PANEL_USER"),
            password: password.map(SecretString::from),
        })
    }
}

#[derive(Debug, Clone)]
pub struct ProverkaChekaSettings {
    /// `None`: receipts cannot be verified (allowed for `promo` only; the verifier
    /// function requires it).
    pub token: Option<SecretString>,
    pub api_url: String,
    pub timeout: Duration,
}

impl ProverkaChekaSettings {
    pub const READS: &'static [&'static str] = &[
        "PROVERKA_CHEKA_TOKEN",
        "PROVERKA_CHEKA_URL",
        "PROVERKA_CHEKA_TIMEOUT_SECS",
    ];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            token: env.optional("PROVERKA_CHEKA_TOKEN").map(SecretString::from),
            api_url: env.url("PROVERKA_CHEKA_URL")?,
            timeout: Duration::from_secs(u64::from(env.positive("PROVERKA_CHEKA_TIMEOUT_SECS")?)),
        })
    }

    /// The verifier function exists to check receipts: without a token it refuses to start.
    pub(super) fn read_with_token(env: &Env<'_>) -> Result<Self, ConfigError> {
        env.required(
            "PROVERKA_CHEKA_TOKEN",
            "the verifier checks every receipt with ProverkaCheka",
        )?;
        Self::read(env)
    }
}

#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Both URLs set: SQS; neither: the in-process queue.
    pub receipts_queue_url: Option<String>,
    pub campaigns_queue_url: Option<String>,
    /// Custom SQS endpoint (the moto server locally).
    pub sqs_endpoint_url: Option<String>,
    pub aws_region: String,
}

impl QueueSettings {
    pub const READS: &'static [&'static str] = &[
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
    ];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let receipts_queue_url = env.optional("RECEIPTS_QUEUE_URL");
        let campaigns_queue_url = env.optional("CAMPAIGNS_QUEUE_URL");
        // One URL alone used to mean the in-process queue without a word: jobs a
        // deployed function meant for SQS would stay in its process and be lost.
        match (&receipts_queue_url, &campaigns_queue_url) {
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "CAMPAIGNS_QUEUE_URL",
                    "is required when RECEIPTS_QUEUE_URL is set (both or neither)",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "RECEIPTS_QUEUE_URL",
                    "is required when CAMPAIGNS_QUEUE_URL is set (both or neither)",
                ))
            }
            _ => {}
        }
        Ok(Self {
            receipts_queue_url,
            campaigns_queue_url,
            sqs_endpoint_url: env.optional("SQS_ENDPOINT_URL"),
            aws_region: env.string("AWS_REGION"),
        })
    }

    pub fn uses_sqs(&self) -> bool {
        self.receipts_queue_url.is_some() && self.campaigns_queue_url.is_some()
    }
}

/// Where uploaded images keep their bytes: `UPLOADS_BUCKET` set means that S3 bucket
/// (at `UPLOADS_S3_ENDPOINT_URL` for an S3-compatible store or the moto server, in
/// `AWS_REGION`), unset means Postgres. The metadata is always in Postgres.
#[derive(Debug, Clone, Default)]
pub struct UploadSettings {
    pub bucket: Option<String>,
    pub s3_endpoint_url: Option<String>,
    pub aws_region: String,
}

impl UploadSettings {
    pub const READS: &'static [&'static str] =
        &["UPLOADS_BUCKET", "UPLOADS_S3_ENDPOINT_URL", "AWS_REGION"];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let bucket = env.optional("UPLOADS_BUCKET");
        // S3's own rule for bucket names, so a typo stops start-up, not the first upload.
        if let Some(bucket) = &bucket {
            let valid = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && !bucket.starts_with(['-', '.'])
                && !bucket.ends_with(['-', '.']);
            if !valid {
                return Err(ConfigError::new(
                    "UPLOADS_BUCKET",
                    "must be an S3 bucket name: 3-63 of a-z 0-9 . -",
                ));
            }
        }
        let s3_endpoint_url = match env.optional("UPLOADS_S3_ENDPOINT_URL") {
            None => None,
            Some(_) => Some(env.url("UPLOADS_S3_ENDPOINT_URL")?),
        };
        Ok(Self {
            bucket,
            s3_endpoint_url,
            aws_region: env.string("AWS_REGION"),
        })
    }
}

#[derive(Debug, Clone)]
pub struct CampaignSettings {
    pub broadcast_rate_per_second: u32,
    pub paid_broadcast: bool,
}

impl CampaignSettings {
    pub const READS: &'static [&'static str] = &["BROADCAST_RATE", "PAID_BROADCAST"];

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load(lookup, Self::read)
    }

    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let broadcast_rate = env.positive("BROADCAST_RATE")?;
        let paid_broadcast = env.boolean("PAID_BROADCAST")?;
        let max_rate = if paid_broadcast { 1000 } else { 30 };
        if broadcast_rate > max_rate {
            return Err(ConfigError::new(
                "BROADCAST_RATE",
                format!(
                    "{broadcast_rate}/s is above Telegram's limit of {max_rate}/s{}",
                    if paid_broadcast {
                        ""
                    } else {
                        " (set PAID_BROADCAST=true for up to 1000/s)"
                    }
                ),
            ));
        }
        Ok(Self {
            broadcast_rate_per_second: broadcast_rate,
            paid_broadcast,
        })
    }
}

/// `PHONE_ENCRYPTION_KEY`, required wherever phone numbers are sealed or opened.
pub fn phone_key(lookup: impl Fn(&str) -> Option<String>) -> Result<PhoneKey, ConfigError> {
    load(lookup, read_phone_key)
}

pub(super) fn read_phone_key(env: &Env<'_>) -> Result<PhoneKey, ConfigError> {
    let key = read_key(
        env,
        "PHONE_ENCRYPTION_KEY",
        "base64 of 32 random bytes, e.g. `openssl rand -base64 32`",
    )?;
    Ok(PhoneKey::new(key))
}

/// A required base64 variable of exactly 32 bytes.
fn read_key(
    env: &Env<'_>,
    name: &'static str,
    hint: &'static str,
) -> Result<[u8; 32], ConfigError> {
    let value = env.required(name, hint)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| ConfigError::new(name, "is not valid base64"))?;
    bytes
        .try_into()
        .map_err(|_| ConfigError::new(name, "must decode to exactly 32 bytes"))
}

/// `PRIZE_DATA_KEY`, required wherever raffle seeds or winners' documents are sealed or
/// opened: the webhook and the panel create raffles and take documents, the runner draws.
pub(super) fn read_prize_key(env: &Env<'_>) -> Result<PrizeKey, ConfigError> {
    let key = read_key(
        env,
        "PRIZE_DATA_KEY",
        "base64 of 32 random bytes, e.g. `openssl rand -base64 32` (not the phone key)",
    )?;
    Ok(PrizeKey::new(key))
}

/// `ADMIN_IDS`: the bot's admins, also told when the ProverkaCheka quota runs out.
pub(super) fn admin_ids(env: &Env<'_>) -> Result<Vec<i64>, ConfigError> {
    env.string("ADMIN_IDS")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                ConfigError::new("ADMIN_IDS", format!("`{s}` is not a Telegram user id"))
            })
        })
        .collect()
}

/// `BIND_ADDR`, the listen address of `promo serve`.
pub(super) fn bind_addr(env: &Env<'_>) -> Result<SocketAddr, ConfigError> {
    env.string("BIND_ADDR")
        .parse()
        .map_err(|_| ConfigError::new("BIND_ADDR", "must be an address like 127.0.0.1:8080"))
}

/// `PANEL_DIR`, the built panel. Not checked here: a folder without a bundle is served
/// as the route listing with a line saying how to build it (`server::panel_bundle`).
pub(super) fn panel_dir(env: &Env<'_>) -> Option<PathBuf> {
    env.optional("PANEL_DIR").map(PathBuf::from)
}

pub(super) fn database_url(env: &Env<'_>) -> Result<SecretString, ConfigError> {
    let url = env.string("DATABASE_URL");
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with postgres:// or postgresql://",
        ));
    }
    Ok(SecretString::from(url))
}

fn redis_url(env: &Env<'_>) -> Result<SecretString, ConfigError> {
    let url = env.string("REDIS_URL");
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return Err(ConfigError::new(
            "REDIS_URL",
            "must start with redis:// or rediss://",
        ));
    }
    Ok(SecretString::from(url))
}

fn bot_slug(env: &Env<'_>) -> Result<String, ConfigError> {
    let slug = env.string("BOT_SLUG");
    let valid = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(slug)
    } else {
        Err(ConfigError::new(
            "BOT_SLUG",
            "must be 1-64 characters of a-z, 0-9, - and _",
        ))
    }
}

fn validate_bot_token(token: &str) -> Result<(), ConfigError> {
    // Tokens look like `123456:ABC-DEF...`; checking the shape catches pasted quotes or
    // a username by mistake without ever echoing the value.
    let valid = token.split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            "BOT_TOKEN",
            "does not look like a bot token (<digits>:<letters, digits, _ and ->)",
        ))
    }
}

/// When a receipt is held for review and what the panel flags; operators tune them in
/// the panel's settings (there is no environment variable: the defaults suit most).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudThresholds {
    /// Accepted receipts one seller INN may have per sale day before new ones are held.
    pub seller_daily_limit: i64,
    /// More uploads than this by one shopper inside the window is a burst.
    pub burst_uploads: i64,
    pub burst_window_minutes: i64,
}

impl Default for FraudThresholds {
    fn default() -> Self {
        FraudThresholds {
            seller_daily_limit: 5,
            burst_uploads: 5,
            burst_window_minutes: 10,
        }
    }
}

/// A raffle winner's claim; operators tune it in the panel's settings (no environment
/// variable, like [`FraudThresholds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSettings {
    /// Hours a winner has to confirm (and hand in documents) before the reserve wins.
    pub deadline_hours: i64,
    /// Days a winner's tax-agent documents are kept before they are deleted.
    pub documents_retention_days: i64,
}

impl ClaimSettings {
    pub const DEADLINE_HOURS: std::ops::RangeInclusive<i64> = 1..=720;
    pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 30..=3650;
}

impl Default for ClaimSettings {
    fn default() -> Self {
        // Three years: how long Russian tax law has the organiser keep a tax agent's
        // records of a prize.
        ClaimSettings {
            deadline_hours: 72,
            documents_retention_days: 1095,
        }
    }
}

/// The promotion's time zone; Postgres checks the name where it is used (the panel
/// refuses an unknown one when it is set there).
fn time_zone(value: Option<String>) -> Result<String, ConfigError> {
    let zone = value.unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
    if plausible_time_zone(&zone) {
        Ok(zone)
    } else {
        Err(ConfigError::new(
            "PROMO_TIME_ZONE",
            "must be a time zone name like Europe/Moscow",
        ))
    }
}

/// A name of the IANA time zone database's shape (`Europe/Moscow`, `UTC`, `Asia/Yekaterinburg`):
/// enough to keep garbage out of queries; whether the zone exists is Postgres's answer.
pub fn plausible_time_zone(zone: &str) -> bool {
    (1..=64).contains(&zone.len())
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        && !zone.starts_with('/')
        && !zone.contains("..")
}

/// What `getChatMember` takes as a channel: `@username` (5 to 32 letters, digits or `_`)
/// or a numeric chat id such as `-1001234567890`.
pub fn plausible_channel(channel: &str) -> bool {
    match channel.strip_prefix('@') {
        Some(name) => {
            (5..=32).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => channel.parse::<i64>().is_ok_and(|id| id != 0),
    }
}

/// The time zone of a promotion that names none: most Russian retail runs on it.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Moscow";

/// `getChatMember` takes a channel as `@username` or as its numeric id (`-100…`).
pub(super) fn required_channel(value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value {
        Some(channel) if plausible_channel(&channel) => Ok(Some(channel)),
        Some(_) => Err(ConfigError::new(
            "REQUIRED_CHANNEL",
            "must be a channel @username or a numeric chat id like -1001234567890",
        )),
        None => Ok(None),
    }
}

fn webhook_secret(env: &Env<'_>) -> Result<SecretString, ConfigError> {
    let secret = env.required("WEBHOOK_SECRET", "")?;
    let valid = (1..=256).contains(&secret.len())
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(SecretString::from(secret))
    } else {
        Err(ConfigError::new(
            "WEBHOOK_SECRET",
            "must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
        ))
    }
}

/// `true` when `secret` holds exactly `value`; for tests that a loader kept a secret.
#[cfg(test)]
pub(super) fn holds(secret: &SecretString, value: &str) -> bool {
    secrecy::ExposeSecret::expose_secret(secret) == value
}
