//! Settings: read once from environment variables, validated at start-up.
//!
//! Each binary reads only what it uses: one settings type per function
//! ([`TelegramWebhookSettings`], [`ReceiptVerifierSettings`], [`CampaignRunnerSettings`],
//! [`AdminApiSettings`], [`ListenBridgeSettings`], and [`Settings`] for `promo`, which
//! runs everything), each composed of the pieces in [`pieces`] it needs. A function
//! therefore requires only its own secrets, and a missing or bad value stops start-up
//! with a message naming the variable instead of surfacing later as a confusing
//! runtime error. Nothing else in the crate reads the environment.
//!
//! Secrets are [`secrecy::SecretString`]: `Debug` prints `[REDACTED]`, and reading one
//! takes an explicit `expose_secret()`.

mod functions;
pub mod pieces;

use chrono::NaiveDate;

pub use functions::{
    AdminApiSettings, CampaignRunnerSettings, ListenBridgeSettings, ReceiptVerifierSettings,
    Settings, TelegramWebhookSettings,
};
pub use pieces::{
    plausible_channel, plausible_time_zone, AdminSettings, BotApiSettings, CampaignSettings,
    ClaimSettings, FraudThresholds, PanelSettings, PromoSettings, ProverkaChekaSettings,
    QueueSettings, StoreSettings, TelegramSettings, UploadSettings, DEFAULT_TIME_ZONE,
    SANDBOX_BOT_TOKEN,
};

/// A start-up configuration error; always names the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Every variable the platform reads, with its default (`None` = required or optional
/// without default). Which function reads which is each settings type's
/// `READS` (e.g. [`TelegramWebhookSettings::READS`]); README's configuration table shows both.
pub const VARIABLES: &[(&str, Option<&str>, &str)] = &[
    (
        "BOT_SLUG",
        Some("main"),
        "which promo bot of this deployment the process serves",
    ),
    (
        "BOT_TOKEN",
        None,
        "Telegram bot token; unset = sandbox mode with the fakes",
    ),
    (
        "TELEGRAM_API_URL",
        Some("https://api.telegram.org"),
        "Bot API base URL",
    ),
    (
        "WEBHOOK_SECRET",
        None,
        "secret_token for setWebhook, 1-256 of A-Z a-z 0-9 _ - (required)",
    ),
    (
        "WEBHOOK_BASE_URL",
        None,
        "public HTTPS base URL used by `promo set-webhook`",
    ),
    (
        "WEBHOOK_REPLY_IN_RESPONSE",
        Some("true"),
        "answer one-reply updates in the webhook response",
    ),
    (
        "REQUIRED_CHANNEL",
        None,
        "@username or id of a channel shoppers must join to finish registration",
    ),
    (
        "REQUIRED_CHANNEL_URL",
        None,
        "join link for REQUIRED_CHANNEL (default https://t.me/<username>)",
    ),
    (
        "ADMIN_IDS",
        Some(""),
        "comma-separated Telegram ids with admin commands in the bot",
    ),
    (
        "DATABASE_URL",
        Some("postgres://postgres@127.0.0.1:5432/promo"),
        "Postgres connection URL",
    ),
    (
        "REDIS_URL",
        Some("redis://127.0.0.1:6379"),
        "Redis connection URL",
    ),
    (
        "BIND_ADDR",
        Some("127.0.0.1:8080"),
        "listen address of `promo serve`",
    ),
    (
        "PANEL_DIR",
        None,
        "folder of the built panel (admin-ui/dist) that `promo serve` serves at /; unset = no panel",
    ),
    (
        "PHONE_ENCRYPTION_KEY",
        None,
        "base64 of 32 random bytes; encrypts phone numbers (required)",
    ),
    (
        "PRIZE_DATA_KEY",
        None,
        "base64 of 32 random bytes; seals raffle seeds until their draw and winners' documents (required)",
    ),
    (
        "PROMO_NAME",
        Some("Промо-акция"),
        "promotion name shown to shoppers",
    ),
    (
        "PROMO_PRIZES",
        Some("Главный приз — смартфон"),
        "prizes text shown to shoppers",
    ),
    (
        "PROMO_START_DATE",
        None,
        "first day of the promotion, YYYY-MM-DD (unset: already running)",
    ),
    (
        "PROMO_END_DATE",
        None,
        "last day of the promotion, YYYY-MM-DD (unset: open-ended)",
    ),
    (
        "TARGET_KEYWORDS",
        Some(""),
        "comma-separated promo product keywords",
    ),
    (
        "EXCLUDE_KEYWORDS",
        Some(""),
        "comma-separated keywords that disqualify an item",
    ),
    ("SUPPORT_EMAIL", None, "support e-mail shown in the bot"),
    (
        "SUPPORT_TELEGRAM",
        None,
        "support Telegram username shown in the bot",
    ),
    (
        "RECEIPT_LIMIT_PER_HOUR",
        Some("50"),
        "receipt uploads per user per hour",
    ),
    (
        "RECEIPT_LIMIT_PER_DAY",
        Some("200"),
        "receipt uploads per user per day",
    ),
    (
        "PAID_IMAGE_FALLBACK",
        Some("false"),
        "send unreadable pictures to ProverkaCheka (a paid call) instead of asking the shopper",
    ),
    (
        "PROMO_TIME_ZONE",
        Some("Europe/Moscow"),
        "IANA time zone of the promotion: schedules and the panel's days",
    ),
    (
        "ADMIN_PANEL_USER",
        Some("admin"),
        "login of the bootstrap panel administrator",
    ),
    (
        "ADMIN_PANEL_PASSWORD",
        None,
        "password of the bootstrap administrator, at least 12 chars",
    ),
    (
        "ADMIN_SECRET_KEY",
        None,
        "derives panel CSRF tokens, at least 32 chars (required)",
    ),
    (
        "ADMIN_SESSION_IDLE_MINUTES",
        Some("30"),
        "a panel session ends after this many idle minutes",
    ),
    (
        "ADMIN_SESSION_MAX_HOURS",
        Some("12"),
        "a panel session ends this many hours after login",
    ),
    (
        "PROVERKA_CHEKA_TOKEN",
        None,
        "ProverkaCheka API token; unset in sandbox mode",
    ),
    (
        "PROVERKA_CHEKA_URL",
        Some("https://proverkacheka.com"),
        "ProverkaCheka base URL",
    ),
    (
        "PROVERKA_CHEKA_TIMEOUT_SECS",
        Some("20"),
        "ProverkaCheka request timeout",
    ),
    (
        "RECEIPTS_QUEUE_URL",
        None,
        "SQS receipts queue URL; unset = in-process queue",
    ),
    (
        "CAMPAIGNS_QUEUE_URL",
        None,
        "SQS campaigns queue URL; unset = in-process queue",
    ),
    (
        "SQS_ENDPOINT_URL",
        None,
        "custom SQS endpoint (moto server locally)",
    ),
    ("AWS_REGION", Some("eu-central-1"), "AWS region"),
    (
        "UPLOADS_BUCKET",
        None,
        "S3 bucket for uploaded images; unset = their bytes in Postgres",
    ),
    (
        "UPLOADS_S3_ENDPOINT_URL",
        None,
        "custom S3 endpoint for UPLOADS_BUCKET (an S3-compatible store, moto locally)",
    ),
    (
        "BROADCAST_RATE",
        Some("30"),
        "global Telegram send rate, messages per second",
    ),
    (
        "PAID_BROADCAST",
        Some("false"),
        "send with allow_paid_broadcast (rate up to 1000/s)",
    ),
];

/// The environment as the loaders see it: a lookup function (the process environment,
/// or a map in tests, since the process environment is shared by every test of a
/// binary), with values trimmed, empty meaning unset, and defaults from [`VARIABLES`].
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str, why: &str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| {
            ConfigError::new(
                name,
                if why.is_empty() {
                    "is required".to_owned()
                } else {
                    format!("is required ({why})")
                },
            )
        })
    }

    fn default_of(name: &str) -> &'static str {
        VARIABLES
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, d, _)| *d)
            .unwrap_or("")
    }

    fn string(&self, name: &str) -> String {
        self.optional(name)
            .unwrap_or_else(|| Self::default_of(name).to_owned())
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.string(name)
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn positive(&self, name: &'static str) -> Result<u32, ConfigError> {
        match self.string(name).parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::new(name, "must be a positive whole number")),
        }
    }

    fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.string(name).to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(name, "must be true or false")),
        }
    }

    fn date(&self, name: &'static str) -> Result<Option<NaiveDate>, ConfigError> {
        self.optional(name)
            .map(|v| {
                NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                    .map_err(|_| ConfigError::new(name, format!("`{v}` is not a YYYY-MM-DD date")))
            })
            .transpose()
    }

    fn url(&self, name: &'static str) -> Result<String, ConfigError> {
        let value = self.string(name);
        if value.starts_with("http://") || value.starts_with("https://") {
            Ok(value.trim_end_matches('/').to_owned())
        } else {
            Err(ConfigError::new(name, "must be an http:// or https:// URL"))
        }
    }
}

/// Runs a loader against `lookup`; the public `from_lookup` of every settings type.
fn load<T>(
    lookup: impl Fn(&str) -> Option<String>,
    read: impl FnOnce(&Env<'_>) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    read(&Env { lookup: &lookup })
}
