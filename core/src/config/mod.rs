//! Settings: read once from environment variables, validated at start-up.
//!
//! Every binary builds one [`Settings`] and nothing else reads the environment, so a bad
//! value stops start-up with a message that names the variable instead of surfacing
//! later as a confusing runtime error.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use chrono::NaiveDate;

use crate::pii::PhoneKey;

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

/// A secret string whose `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// `None` means sandbox mode: the testkit fake stands in for Telegram.
    pub bot_token: Option<Secret>,
    pub api_url: String,
    pub webhook_secret: Secret,
    /// Public base URL Telegram should call (used by `promo set-webhook`).
    pub webhook_base_url: Option<String>,
    /// Telegram ids that always get the admin menu.
    pub admin_ids: Vec<i64>,
    /// Answer single-reply updates in the webhook HTTP response body.
    pub reply_in_webhook_response: bool,
    /// Channel (`@username` or numeric id) shoppers must join before registration completes.
    pub required_channel: Option<String>,
    /// Join link shown with the subscription request (needed for private channels).
    pub required_channel_url: Option<String>,
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
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub panel_user: String,
    pub panel_password: Option<Secret>,
    pub secret_key: Secret,
}

#[derive(Debug, Clone)]
pub struct ProverkaChekaSettings {
    pub token: Option<Secret>,
    pub api_url: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Both URLs set: SQS; otherwise the in-process queue.
    pub receipts_queue_url: Option<String>,
    pub campaigns_queue_url: Option<String>,
    /// Custom SQS endpoint (the moto server locally).
    pub sqs_endpoint_url: Option<String>,
    pub aws_region: String,
}

impl QueueSettings {
    pub fn uses_sqs(&self) -> bool {
        self.receipts_queue_url.is_some() && self.campaigns_queue_url.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct CampaignSettings {
    pub broadcast_rate_per_second: u32,
    pub paid_broadcast: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bot_slug: String,
    pub database_url: Secret,
    pub redis_url: Secret,
    pub bind_addr: SocketAddr,
    pub phone_key: PhoneKey,
    pub telegram: TelegramSettings,
    pub promo: PromoSettings,
    pub admin: AdminSettings,
    pub proverkacheka: ProverkaChekaSettings,
    pub queues: QueueSettings,
    pub campaigns: CampaignSettings,
}

/// Every variable the platform reads, with its default (`None` = required or optional
/// without default). README's configuration table is generated from the same facts.
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
        "PHONE_ENCRYPTION_KEY",
        None,
        "base64 of 32 random bytes; encrypts phone numbers (required)",
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
        "signs panel sessions, at least 32 chars (required)",
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

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can build settings without touching the
    /// process environment (which is shared by all tests in a binary).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { lookup: &lookup };

        let bot_token = env.optional("BOT_TOKEN").map(Secret::new);
        if let Some(token) = &bot_token {
            validate_bot_token(token.expose())?;
        }
        let webhook_secret = env
            .optional("WEBHOOK_SECRET")
            .ok_or_else(|| ConfigError::new("WEBHOOK_SECRET", "is required"))?;
        validate_webhook_secret(&webhook_secret)?;

        let admin_ids = env
            .string("ADMIN_IDS")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    ConfigError::new("ADMIN_IDS", format!("`{s}` is not a Telegram user id"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

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

        let panel_password = env.optional("ADMIN_PANEL_PASSWORD");
        if let Some(password) = &panel_password {
            if password.chars().count() < 12 {
                return Err(ConfigError::new(
                    "ADMIN_PANEL_PASSWORD",
                    "must be at least 12 characters long",
                ));
            }
        }
        let secret_key = env
            .optional("ADMIN_SECRET_KEY")
            .ok_or_else(|| ConfigError::new("ADMIN_SECRET_KEY", "is required"))?;
        if secret_key.chars().count() < 32 {
            return Err(ConfigError::new(
                "ADMIN_SECRET_KEY",
                "must be at least 32 characters long",
            ));
        }

        let phone_key = parse_phone_key(env.optional("PHONE_ENCRYPTION_KEY"))?;

        let bind_addr = env
            .string("BIND_ADDR")
            .parse()
            .map_err(|_| ConfigError::new("BIND_ADDR", "must be an address like 127.0.0.1:8080"))?;

        let receipt_limit_per_hour = env.positive("RECEIPT_LIMIT_PER_HOUR")?;
        let receipt_limit_per_day = env.positive("RECEIPT_LIMIT_PER_DAY")?;
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

        let database_url = env.string("DATABASE_URL");
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        let redis_url = env.string("REDIS_URL");
        if !redis_url.starts_with("redis://") && !redis_url.starts_with("rediss://") {
            return Err(ConfigError::new(
                "REDIS_URL",
                "must start with redis:// or rediss://",
            ));
        }

        let bot_slug = env.string("BOT_SLUG");
        if bot_slug.is_empty()
            || bot_slug.len() > 64
            || !bot_slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::new(
                "BOT_SLUG",
                "must be 1-64 characters of a-z, 0-9, - and _",
            ));
        }

        Ok(Settings {
            bot_slug,
            database_url: Secret::new(database_url),
            redis_url: Secret::new(redis_url),
            bind_addr,
            phone_key,
            telegram: TelegramSettings {
                bot_token,
                api_url: env.url("TELEGRAM_API_URL")?,
                webhook_secret: Secret::new(webhook_secret),
                webhook_base_url: env.optional("WEBHOOK_BASE_URL"),
                admin_ids,
                reply_in_webhook_response: env.boolean("WEBHOOK_REPLY_IN_RESPONSE")?,
                required_channel: required_channel(env.optional("REQUIRED_CHANNEL"))?,
                required_channel_url: env.optional("REQUIRED_CHANNEL_URL"),
            },
            promo: PromoSettings {
                name: env.string("PROMO_NAME"),
                prizes: env.string("PROMO_PRIZES"),
                start_date,
                end_date,
                target_keywords: env.list("TARGET_KEYWORDS"),
                exclude_keywords: env.list("EXCLUDE_KEYWORDS"),
                support_email: env.optional("SUPPORT_EMAIL"),
                support_telegram: env.optional("SUPPORT_TELEGRAM"),
                receipt_limit_per_hour,
                receipt_limit_per_day,
            },
            admin: AdminSettings {
                panel_user: env.string("ADMIN_PANEL_USER"),
                panel_password: panel_password.map(Secret::new),
                secret_key: Secret::new(secret_key),
            },
            proverkacheka: ProverkaChekaSettings {
                token: env.optional("PROVERKA_CHEKA_TOKEN").map(Secret::new),
                api_url: env.url("PROVERKA_CHEKA_URL")?,
                timeout: Duration::from_secs(u64::from(
                    env.positive("PROVERKA_CHEKA_TIMEOUT_SECS")?,
                )),
            },
            queues: QueueSettings {
                receipts_queue_url: env.optional("RECEIPTS_QUEUE_URL"),
                campaigns_queue_url: env.optional("CAMPAIGNS_QUEUE_URL"),
                sqs_endpoint_url: env.optional("SQS_ENDPOINT_URL"),
                aws_region: env.string("AWS_REGION"),
            },
            campaigns: CampaignSettings {
                broadcast_rate_per_second: broadcast_rate,
                paid_broadcast,
            },
        })
    }

    /// Sandbox mode: no bot token, so the fakes stand in for Telegram and ProverkaCheka.
    pub fn is_sandbox(&self) -> bool {
        self.telegram.bot_token.is_none()
    }
}

struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
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

/// `getChatMember` takes a channel as `@username` or as its numeric id (`-100…`).
fn required_channel(value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value {
        Some(channel) if channel.starts_with('@') || channel.parse::<i64>().is_ok() => {
            Ok(Some(channel))
        }
        Some(_) => Err(ConfigError::new(
            "REQUIRED_CHANNEL",
            "must be a channel @username or a numeric chat id like -1001234567890",
        )),
        None => Ok(None),
    }
}

fn validate_webhook_secret(secret: &str) -> Result<(), ConfigError> {
    let valid = (1..=256).contains(&secret.len())
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            "WEBHOOK_SECRET",
            "must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
        ))
    }
}

fn parse_phone_key(value: Option<String>) -> Result<PhoneKey, ConfigError> {
    const NAME: &str = "PHONE_ENCRYPTION_KEY";
    let value = value.ok_or_else(|| {
        ConfigError::new(
            NAME,
            "is required (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)",
        )
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| ConfigError::new(NAME, "is not valid base64"))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ConfigError::new(NAME, "must decode to exactly 32 bytes"))?;
    Ok(PhoneKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            ("WEBHOOK_SECRET", "s3cret_token-1".to_owned()),
            ("ADMIN_SECRET_KEY", "k".repeat(32)),
            (
                "PHONE_ENCRYPTION_KEY",
                base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            ),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    fn error_variable(vars: &HashMap<&'static str, String>) -> &'static str {
        match load(vars) {
            Ok(_) => "no error",
            Err(e) => e.variable,
        }
    }

    #[test]
    fn minimal_environment_gives_sandbox_settings_with_documented_defaults() {
        let settings = load(&base()).expect("valid settings");
        assert!(settings.is_sandbox());
        assert_eq!(settings.bot_slug, "main");
        assert_eq!(settings.telegram.api_url, "https://api.telegram.org");
        assert_eq!(settings.promo.receipt_limit_per_hour, 50);
        assert_eq!(settings.promo.receipt_limit_per_day, 200);
        assert_eq!(settings.campaigns.broadcast_rate_per_second, 30);
        assert!(!settings.queues.uses_sqs());
        assert!(settings.telegram.reply_in_webhook_response);
    }

    #[test]
    fn a_short_admin_panel_password_stops_start_up_naming_the_variable() {
        let mut vars = base();
        vars.insert("ADMIN_PANEL_PASSWORD", "short".into());
        assert_eq!(error_variable(&vars), "ADMIN_PANEL_PASSWORD");
    }

    #[test]
    fn a_short_admin_secret_key_stops_start_up_naming_the_variable() {
        let mut vars = base();
        vars.insert("ADMIN_SECRET_KEY", "x".repeat(31));
        assert_eq!(error_variable(&vars), "ADMIN_SECRET_KEY");
    }

    #[test]
    fn a_missing_phone_key_stops_start_up() {
        let mut vars = base();
        vars.remove("PHONE_ENCRYPTION_KEY");
        assert_eq!(error_variable(&vars), "PHONE_ENCRYPTION_KEY");
        vars.insert("PHONE_ENCRYPTION_KEY", "c2hvcnQ=".into());
        assert_eq!(error_variable(&vars), "PHONE_ENCRYPTION_KEY");
    }

    #[test]
    fn malformed_values_are_rejected_with_the_variable_name() {
        let cases: &[(&'static str, &str)] = &[
            ("BOT_TOKEN", "\"123:abc\""),
            ("WEBHOOK_SECRET", "has spaces"),
            ("ADMIN_IDS", "12,abc"),
            ("PROMO_START_DATE", "01.02.2026"),
            ("RECEIPT_LIMIT_PER_HOUR", "0"),
            ("BROADCAST_RATE", "100"),
            ("PAID_BROADCAST", "maybe"),
            ("DATABASE_URL", "mysql://x"),
            ("TELEGRAM_API_URL", "api.telegram.org"),
            ("BIND_ADDR", "localhost"),
            ("BOT_SLUG", "две"),
            ("REQUIRED_CHANNEL", "t.me/promo"),
        ];
        for (name, value) in cases {
            let mut vars = base();
            vars.insert(name, (*value).to_owned());
            assert_eq!(error_variable(&vars), *name, "value {value:?}");
        }
    }

    #[test]
    fn an_end_date_before_the_start_date_is_rejected() {
        let mut vars = base();
        vars.insert("PROMO_START_DATE", "2026-05-01".into());
        vars.insert("PROMO_END_DATE", "2026-04-30".into());
        assert_eq!(error_variable(&vars), "PROMO_END_DATE");
    }

    #[test]
    fn paid_broadcast_allows_rates_up_to_a_thousand() {
        let mut vars = base();
        vars.insert("PAID_BROADCAST", "true".into());
        vars.insert("BROADCAST_RATE", "1000".into());
        assert_eq!(
            load(&vars)
                .map(|s| s.campaigns.broadcast_rate_per_second)
                .ok(),
            Some(1000)
        );
    }

    #[test]
    fn debug_output_never_contains_secrets() {
        let mut vars = base();
        vars.insert("BOT_TOKEN", "123456:AAHsecretTOKENvalue".into());
        let settings = load(&vars).expect("valid");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("AAHsecretTOKENvalue"));
        assert!(!debug.contains("s3cret_token-1"));
        assert!(!debug.contains(&"k".repeat(32)));
    }
}
