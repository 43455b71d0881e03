//! One settings type per binary, composed of the pieces it uses: a function reads and
//! requires its own variables only ([`READS`](TelegramWebhookSettings::READS) lists them;
//! a test proves the loader looks at no other).

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;

use super::pieces::{self, *};
use super::{load, ConfigError, Env};
use crate::pii::{PhoneKey, PrizeKey};

/// `from_env` and `from_lookup` for a settings type with a `read(&Env)`.
macro_rules! loaders {
    ($type:ty) => {
        impl $type {
            /// Reads the process environment.
            pub fn from_env() -> Result<Self, ConfigError> {
                Self::from_lookup(|name| std::env::var(name).ok())
            }

            /// Reads through `lookup`, so tests can build settings without touching the
            /// process environment (which is shared by all tests in a binary).
            pub fn from_lookup(
                lookup: impl Fn(&str) -> Option<String>,
            ) -> Result<Self, ConfigError> {
                load(lookup, Self::read)
            }
        }
    };
}

/// `telegram-webhook`: the dialogue answers updates, seals phones and enqueues receipts.
#[derive(Debug, Clone)]
pub struct TelegramWebhookSettings {
    pub store: StoreSettings,
    pub bot_api: BotApiSettings,
    pub telegram: TelegramSettings,
    pub promo: PromoSettings,
    pub phone_key: PhoneKey,
    /// Bot admins create raffles (sealing their seeds); winners send documents.
    pub prize_key: PrizeKey,
    pub queues: QueueSettings,
    /// The broadcasts' rate: notices take slots of the same length from the shared
    /// schedule, so a notice never costs a fast broadcast more than one slot.
    pub campaigns: CampaignSettings,
}

loaders!(TelegramWebhookSettings);

impl TelegramWebhookSettings {
    pub const READS: &'static [&'static str] = &[
        "BOT_SLUG",
        "DATABASE_URL",
        "REDIS_URL",
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
        "WEBHOOK_SECRET",
        "ADMIN_IDS",
        "WEBHOOK_REPLY_IN_RESPONSE",
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
        "PHONE_ENCRYPTION_KEY",
        "PRIZE_DATA_KEY",
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
        "BROADCAST_RATE",
        "PAID_BROADCAST",
    ];

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::read(env)?,
            bot_api: BotApiSettings::read(env)?,
            telegram: TelegramSettings::read(env)?,
            promo: PromoSettings::read(env)?,
            phone_key: pieces::read_phone_key(env)?,
            prize_key: pieces::read_prize_key(env)?,
            queues: QueueSettings::read(env)?,
            campaigns: CampaignSettings::read(env)?,
        })
    }
}

/// `receipt-verifier`: downloads photos, asks ProverkaCheka, tells shoppers and, when the
/// quota runs out, the admins.
#[derive(Debug, Clone)]
pub struct ReceiptVerifierSettings {
    pub store: StoreSettings,
    pub bot_api: BotApiSettings,
    pub promo: PromoSettings,
    /// Told once per quota pause.
    pub admin_ids: Vec<i64>,
    /// Its token is always set here.
    pub proverkacheka: ProverkaChekaSettings,
    pub queues: QueueSettings,
    /// The broadcasts' rate, for the replies' send slots (see the webhook's).
    pub campaigns: CampaignSettings,
}

loaders!(ReceiptVerifierSettings);

impl ReceiptVerifierSettings {
    pub const READS: &'static [&'static str] = &[
        "BOT_SLUG",
        "DATABASE_URL",
        "REDIS_URL",
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
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
        "ADMIN_IDS",
        "PROVERKA_CHEKA_TOKEN",
        "PROVERKA_CHEKA_URL",
        "PROVERKA_CHEKA_TIMEOUT_SECS",
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
        "BROADCAST_RATE",
        "PAID_BROADCAST",
    ];

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::read(env)?,
            bot_api: BotApiSettings::read(env)?,
            promo: PromoSettings::read(env)?,
            admin_ids: pieces::admin_ids(env)?,
            proverkacheka: ProverkaChekaSettings::read_with_token(env)?,
            queues: QueueSettings::read(env)?,
            campaigns: CampaignSettings::read(env)?,
        })
    }
}

/// `campaign-runner`: sends broadcasts and single messages, draws raffles, at the
/// configured rate.
#[derive(Debug, Clone)]
pub struct CampaignRunnerSettings {
    pub store: StoreSettings,
    pub bot_api: BotApiSettings,
    pub campaigns: CampaignSettings,
    pub queues: QueueSettings,
    /// Where a broadcast's uploaded photo is read from for its first send.
    pub uploads: UploadSettings,
    /// Opens a raffle's sealed seed at its draw.
    pub prize_key: PrizeKey,
}

loaders!(CampaignRunnerSettings);

impl CampaignRunnerSettings {
    pub const READS: &'static [&'static str] = &[
        "BOT_SLUG",
        "DATABASE_URL",
        "REDIS_URL",
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
        "BROADCAST_RATE",
        "PAID_BROADCAST",
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
        "UPLOADS_BUCKET",
        "UPLOADS_S3_ENDPOINT_URL",
        "PRIZE_DATA_KEY",
    ];

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::read(env)?,
            bot_api: BotApiSettings::read(env)?,
            campaigns: CampaignSettings::read(env)?,
            queues: QueueSettings::read(env)?,
            uploads: UploadSettings::read(env)?,
            prize_key: pieces::read_prize_key(env)?,
        })
    }
}

/// `admin-api`: the panel's API: sessions, phones for those allowed to see them, and the
/// promotion's environment values as the defaults of its settings.
#[derive(Debug, Clone)]
pub struct AdminApiSettings {
    pub store: StoreSettings,
    pub admin: AdminSettings,
    pub phone_key: PhoneKey,
    /// Raffles created in the panel seal their seeds; owners open winners' documents.
    pub prize_key: PrizeKey,
    /// The environment's promotion settings: the defaults the panel shows and resets to.
    pub promo: PromoSettings,
    /// Where uploaded images keep their bytes.
    pub uploads: UploadSettings,
    /// The test chat hands a test shopper's receipts to the verifier, as the webhook does.
    pub queues: QueueSettings,
}

loaders!(AdminApiSettings);

impl AdminApiSettings {
    pub const READS: &'static [&'static str] = &[
        "BOT_SLUG",
        "DATABASE_URL",
        "REDIS_URL",
        "ADMIN_SECRET_KEY",
        "ADMIN_SESSION_IDLE_MINUTES",
        "ADMIN_SESSION_MAX_HOURS",
        "PHONE_ENCRYPTION_KEY",
        "PRIZE_DATA_KEY",
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
        "UPLOADS_BUCKET",
        "UPLOADS_S3_ENDPOINT_URL",
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
    ];

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::read(env)?,
            admin: AdminSettings::read(env)?,
            phone_key: pieces::read_phone_key(env)?,
            prize_key: pieces::read_prize_key(env)?,
            promo: PromoSettings::read(env)?,
            uploads: UploadSettings::read(env)?,
            queues: QueueSettings::read(env)?,
        })
    }
}

/// `listen-bridge`: relays every bot's due campaigns from Postgres to the campaigns
/// queue, so it needs neither a bot slug nor Redis nor Telegram.
#[derive(Debug, Clone)]
pub struct ListenBridgeSettings {
    pub database_url: SecretString,
    pub queues: QueueSettings,
}

loaders!(ListenBridgeSettings);

impl ListenBridgeSettings {
    pub const READS: &'static [&'static str] = &[
        "DATABASE_URL",
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
    ];

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: pieces::database_url(env)?,
            queues: QueueSettings::read(env)?,
        })
    }
}

/// `promo`: everything in one process (serve, lambda-demo, the chores), so it reads
/// every variable. The only settings that allow sandbox mode (no `BOT_TOKEN`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreSettings,
    pub bind_addr: SocketAddr,
    /// The built panel `promo serve` serves at `/`. In AWS the bundle is served from S3,
    /// so no deployed function reads it.
    pub panel_dir: Option<PathBuf>,
    /// In sandbox mode the token is [`SANDBOX_BOT_TOKEN`] and the URL the fake's.
    pub bot_api: BotApiSettings,
    /// No `BOT_TOKEN`: the fakes stand in for Telegram and ProverkaCheka.
    pub sandbox: bool,
    /// Public base URL Telegram should call (used by `promo set-webhook`).
    pub webhook_base_url: Option<String>,
    pub telegram: TelegramSettings,
    pub promo: PromoSettings,
    pub phone_key: PhoneKey,
    pub prize_key: PrizeKey,
    pub admin: AdminSettings,
    pub panel: PanelSettings,
    pub proverkacheka: ProverkaChekaSettings,
    pub queues: QueueSettings,
    pub campaigns: CampaignSettings,
    pub uploads: UploadSettings,
}

loaders!(Settings);

impl Settings {
    /// Every variable of [`super::VARIABLES`].
    pub const READS: &'static [&'static str] = &[
        "BOT_SLUG",
        "DATABASE_URL",
        "REDIS_URL",
        "BIND_ADDR",
        "PANEL_DIR",
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
        "WEBHOOK_BASE_URL",
        "WEBHOOK_SECRET",
        "ADMIN_IDS",
        "WEBHOOK_REPLY_IN_RESPONSE",
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
        "PHONE_ENCRYPTION_KEY",
        "PRIZE_DATA_KEY",
        "ADMIN_SECRET_KEY",
        "ADMIN_SESSION_IDLE_MINUTES",
        "ADMIN_SESSION_MAX_HOURS",
        "ADMIN_PANEL_USER",
        "ADMIN_PANEL_PASSWORD",
        "PROVERKA_CHEKA_TOKEN",
        "PROVERKA_CHEKA_URL",
        "PROVERKA_CHEKA_TIMEOUT_SECS",
        "RECEIPTS_QUEUE_URL",
        "CAMPAIGNS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "AWS_REGION",
        "BROADCAST_RATE",
        "PAID_BROADCAST",
        "UPLOADS_BUCKET",
        "UPLOADS_S3_ENDPOINT_URL",
    ];

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let (bot_api, sandbox) = BotApiSettings::read_or_sandbox(env)?;
        Ok(Self {
            store: StoreSettings::read(env)?,
            bind_addr: pieces::bind_addr(env)?,
            panel_dir: pieces::panel_dir(env),
            bot_api,
            sandbox,
            webhook_base_url: env.optional("WEBHOOK_BASE_URL"),
            telegram: TelegramSettings::read(env)?,
            promo: PromoSettings::read(env)?,
            phone_key: pieces::read_phone_key(env)?,
            prize_key: pieces::read_prize_key(env)?,
            admin: AdminSettings::read(env)?,
            panel: PanelSettings::read(env)?,
            proverkacheka: ProverkaChekaSettings::read(env)?,
            queues: QueueSettings::read(env)?,
            campaigns: CampaignSettings::read(env)?,
            uploads: UploadSettings::read(env)?,
        })
    }

    /// Sandbox mode: no bot token, so the fakes stand in for Telegram and ProverkaCheka.
    pub fn is_sandbox(&self) -> bool {
        self.sandbox
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VARIABLES;
    use base64::Engine;
    use std::cell::RefCell;
    use std::collections::{BTreeSet, HashMap};

    type Vars = HashMap<&'static str, String>;
    type Loader = fn(&dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError>;

    /// A binary, what it reads and requires (the README's table says the same), and its
    /// loader reduced to the `Debug` text of what it loaded.
    struct Function {
        name: &'static str,
        reads: &'static [&'static str],
        requires: &'static [&'static str],
        load: Loader,
    }

    fn functions() -> [Function; 6] {
        [
            Function {
                name: "telegram-webhook",
                reads: TelegramWebhookSettings::READS,
                requires: &[
                    "BOT_TOKEN",
                    "WEBHOOK_SECRET",
                    "PHONE_ENCRYPTION_KEY",
                    "PRIZE_DATA_KEY",
                ],
                load: |l| TelegramWebhookSettings::from_lookup(l).map(|s| format!("{s:?}")),
            },
            Function {
                name: "receipt-verifier",
                reads: ReceiptVerifierSettings::READS,
                requires: &["BOT_TOKEN", "PROVERKA_CHEKA_TOKEN"],
                load: |l| ReceiptVerifierSettings::from_lookup(l).map(|s| format!("{s:?}")),
            },
            Function {
                name: "campaign-runner",
                reads: CampaignRunnerSettings::READS,
                requires: &["BOT_TOKEN", "PRIZE_DATA_KEY"],
                load: |l| CampaignRunnerSettings::from_lookup(l).map(|s| format!("{s:?}")),
            },
            Function {
                name: "admin-api",
                reads: AdminApiSettings::READS,
                requires: &["ADMIN_SECRET_KEY", "PHONE_ENCRYPTION_KEY", "PRIZE_DATA_KEY"],
                load: |l| AdminApiSettings::from_lookup(l).map(|s| format!("{s:?}")),
            },
            Function {
                name: "listen-bridge",
                reads: ListenBridgeSettings::READS,
                requires: &[],
                load: |l| ListenBridgeSettings::from_lookup(l).map(|s| format!("{s:?}")),
            },
            Function {
                name: "promo",
                reads: Settings::READS,
                requires: &[
                    "WEBHOOK_SECRET",
                    "PHONE_ENCRYPTION_KEY",
                    "ADMIN_SECRET_KEY",
                    "PRIZE_DATA_KEY",
                ],
                load: |l| Settings::from_lookup(l).map(|s| format!("{s:?}")),
            },
        ]
    }

    const BOT_TOKEN: &str = "123456:AAHsecretTOKENvalue";
    const WEBHOOK_SECRET: &str = "s3cret_token-1";
    const PROVERKA_TOKEN: &str = "12345.ProverkaSecretToken";
    const DATABASE_PASSWORD: &str = "db-password-42";

    /// A valid value for every variable there is.
    fn everything() -> Vars {
        let admin_key = "k".repeat(32);
        HashMap::from([
            ("BOT_SLUG", "main".to_owned()),
            ("BOT_TOKEN", BOT_TOKEN.to_owned()),
            ("TELEGRAM_API_URL", "http://127.0.0.1:9/".to_owned()),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("WEBHOOK_BASE_URL", "https://promo.example.org".to_owned()),
            ("WEBHOOK_REPLY_IN_RESPONSE", "false".to_owned()),
            ("REQUIRED_CHANNEL", "@promo".to_owned()),
            ("REQUIRED_CHANNEL_URL", "https://t.me/promo".to_owned()),
            ("ADMIN_IDS", "1, 2".to_owned()),
            (
                "DATABASE_URL",
                format!("postgres://promo:{DATABASE_PASSWORD}@db:5432/promo"),
            ),
            ("REDIS_URL", "rediss://cache:6380".to_owned()),
            ("BIND_ADDR", "127.0.0.1:8081".to_owned()),
            ("PANEL_DIR", "admin-ui/dist".to_owned()),
            (
                "PHONE_ENCRYPTION_KEY",
                base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            ),
            (
                "PRIZE_DATA_KEY",
                base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
            ),
            ("PROMO_NAME", "Лето".to_owned()),
            ("PROMO_PRIZES", "Приз".to_owned()),
            ("PROMO_START_DATE", "2026-06-01".to_owned()),
            ("PROMO_END_DATE", "2026-08-31".to_owned()),
            ("TARGET_KEYWORDS", "чипсы".to_owned()),
            ("EXCLUDE_KEYWORDS", "пакет".to_owned()),
            ("SUPPORT_EMAIL", "help@example.org".to_owned()),
            ("SUPPORT_TELEGRAM", "@help".to_owned()),
            ("RECEIPT_LIMIT_PER_HOUR", "5".to_owned()),
            ("RECEIPT_LIMIT_PER_DAY", "20".to_owned()),
            ("PROMO_TIME_ZONE", "Europe/Samara".to_owned()),
            ("PAID_IMAGE_FALLBACK", "true".to_owned()),
            ("ADMIN_PANEL_USER", "ops".to_owned()),
            ("ADMIN_PANEL_PASSWORD", "a long panel password".to_owned()),
            ("ADMIN_SECRET_KEY", admin_key),
            ("PROVERKA_CHEKA_TOKEN", PROVERKA_TOKEN.to_owned()),
            ("PROVERKA_CHEKA_URL", "https://proverkacheka.com".to_owned()),
            ("PROVERKA_CHEKA_TIMEOUT_SECS", "5".to_owned()),
            ("RECEIPTS_QUEUE_URL", "http://sqs/receipts".to_owned()),
            ("CAMPAIGNS_QUEUE_URL", "http://sqs/campaigns".to_owned()),
            ("SQS_ENDPOINT_URL", "http://127.0.0.1:9324".to_owned()),
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("BROADCAST_RATE", "20".to_owned()),
            ("PAID_BROADCAST", "false".to_owned()),
            ("UPLOADS_BUCKET", "promo-uploads".to_owned()),
            (
                "UPLOADS_S3_ENDPOINT_URL",
                "http://127.0.0.1:9324".to_owned(),
            ),
        ])
    }

    /// A value each variable's loader refuses, where there is one.
    fn invalid(name: &str) -> Option<&'static str> {
        Some(match name {
            "BOT_SLUG" => "две",
            "BOT_TOKEN" => "\"123:abc\"",
            "TELEGRAM_API_URL" => "api.telegram.org",
            "WEBHOOK_SECRET" => "has spaces",
            "WEBHOOK_REPLY_IN_RESPONSE" => "sometimes",
            "REQUIRED_CHANNEL" => "t.me/promo",
            "ADMIN_IDS" => "12,abc",
            "DATABASE_URL" => "mysql://x",
            "REDIS_URL" => "memcached://x",
            "BIND_ADDR" => "localhost",
            "PHONE_ENCRYPTION_KEY" => "c2hvcnQ=",
            "PRIZE_DATA_KEY" => "not base64!",
            "PROMO_START_DATE" => "01.02.2026",
            "PROMO_END_DATE" => "2026-13-01",
            "RECEIPT_LIMIT_PER_HOUR" => "0",
            "RECEIPT_LIMIT_PER_DAY" => "many",
            "PROMO_TIME_ZONE" => "Moscow time",
            "PAID_IMAGE_FALLBACK" => "sometimes",
            "ADMIN_PANEL_PASSWORD" => "short",
            "ADMIN_SECRET_KEY" => "short",
            "PROVERKA_CHEKA_URL" => "proverkacheka.com",
            "PROVERKA_CHEKA_TIMEOUT_SECS" => "0",
            "BROADCAST_RATE" => "100",
            "PAID_BROADCAST" => "maybe",
            "UPLOADS_BUCKET" => "Not_A_Bucket",
            "UPLOADS_S3_ENDPOINT_URL" => "s3.local",
            _ => return None,
        })
    }

    fn run(function: &Function, vars: &Vars) -> Result<String, ConfigError> {
        (function.load)(&|name: &str| vars.get(name).cloned())
    }

    fn only(vars: &Vars, names: &[&str]) -> Vars {
        vars.iter()
            .filter(|(name, _)| names.contains(name))
            .map(|(name, value)| (*name, value.clone()))
            .collect()
    }

    #[test]
    fn each_function_looks_up_exactly_the_variables_it_declares() {
        for function in functions() {
            let vars = everything();
            let asked = RefCell::new(BTreeSet::new());
            let lookup = |name: &str| {
                asked.borrow_mut().insert(name.to_owned());
                vars.get(name).cloned()
            };
            assert!((function.load)(&lookup).is_ok(), "{}", function.name);
            let declared: BTreeSet<String> =
                function.reads.iter().map(|n| (*n).to_owned()).collect();
            assert_eq!(asked.into_inner(), declared, "{}", function.name);
        }
    }

    #[test]
    fn each_function_starts_with_only_its_required_variables_set() {
        for function in functions() {
            let vars = only(&everything(), function.requires);
            if let Err(e) = run(&function, &vars) {
                panic!("{} refused to start: {e}", function.name);
            }
        }
    }

    #[test]
    fn each_function_refuses_to_start_without_each_required_variable_and_names_it() {
        for function in functions() {
            for name in function.requires {
                let mut vars = only(&everything(), function.reads);
                vars.remove(name);
                let error = run(&function, &vars).err();
                assert_eq!(
                    error.as_ref().map(|e| e.variable),
                    Some(*name),
                    "{} without {name}",
                    function.name
                );
                let message = error.map(|e| e.to_string()).unwrap_or_default();
                assert!(message.contains("is required"), "{message}");
            }
        }
    }

    #[test]
    fn each_function_refuses_an_invalid_value_of_a_variable_it_reads_naming_it() {
        for function in functions() {
            for name in function.reads {
                let Some(bad) = invalid(name) else { continue };
                let mut vars = everything();
                vars.insert(name, bad.to_owned());
                assert_eq!(
                    run(&function, &vars).err().map(|e| e.variable),
                    Some(*name),
                    "{} with {name}={bad:?}",
                    function.name
                );
            }
        }
    }

    #[test]
    fn each_function_starts_whatever_the_variables_it_does_not_read_hold() {
        for function in functions() {
            let mut vars = only(&everything(), function.requires);
            for (name, _, _) in VARIABLES {
                if !function.reads.contains(name) {
                    vars.insert(name, invalid(name).unwrap_or("garbage").to_owned());
                }
            }
            if let Err(e) = run(&function, &vars) {
                panic!("{} refused to start: {e}", function.name);
            }
        }
    }

    #[test]
    fn promo_reads_every_variable_and_every_variable_is_documented() {
        let documented: BTreeSet<&str> = VARIABLES.iter().map(|(name, _, _)| *name).collect();
        let promo: BTreeSet<&str> = Settings::READS.iter().copied().collect();
        assert_eq!(promo, documented);
        assert!(everything().keys().all(|name| documented.contains(name)));
    }

    #[test]
    fn no_function_prints_a_secret_in_its_debug_output() {
        let vars = everything();
        let phone_key = &vars["PHONE_ENCRYPTION_KEY"];
        let admin_key = &vars["ADMIN_SECRET_KEY"];
        let prize_key = &vars["PRIZE_DATA_KEY"];
        for function in functions() {
            let debug = run(&function, &vars).unwrap_or_else(|e| panic!("{e}"));
            for secret in [
                BOT_TOKEN,
                WEBHOOK_SECRET,
                PROVERKA_TOKEN,
                DATABASE_PASSWORD,
                phone_key,
                admin_key,
                prize_key,
                "a long panel password",
            ] {
                assert!(!debug.contains(secret), "{} shows {secret}", function.name);
            }
        }
    }

    #[test]
    fn without_bot_token_only_promo_runs_and_it_runs_in_sandbox_mode() {
        let mut vars = everything();
        vars.remove("BOT_TOKEN");
        for function in functions() {
            let started = run(&function, &vars);
            if function.reads.contains(&"BOT_TOKEN") && function.name != "promo" {
                let error = started.err();
                assert_eq!(error.as_ref().map(|e| e.variable), Some("BOT_TOKEN"));
                let message = error.map(|e| e.to_string()).unwrap_or_default();
                assert!(message.contains("sandbox"), "{message}");
            } else {
                assert!(started.is_ok(), "{}", function.name);
            }
        }
        let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("promo");
        assert!(settings.is_sandbox());
        assert!(pieces::holds(
            &settings.bot_api.bot_token,
            SANDBOX_BOT_TOKEN
        ));
        assert_eq!(settings.bot_api.api_url, "http://127.0.0.1:9");
    }

    #[test]
    fn loaded_values_reach_the_functions_settings() {
        let vars = everything();
        let verifier =
            ReceiptVerifierSettings::from_lookup(|name| vars.get(name).cloned()).expect("valid");
        assert_eq!(verifier.admin_ids, [1, 2]);
        assert!(verifier
            .proverkacheka
            .token
            .as_ref()
            .is_some_and(|token| pieces::holds(token, PROVERKA_TOKEN)));
        assert_eq!(verifier.proverkacheka.timeout.as_secs(), 5);
        assert!(pieces::holds(&verifier.bot_api.bot_token, BOT_TOKEN));
        let runner =
            CampaignRunnerSettings::from_lookup(|name| vars.get(name).cloned()).expect("valid");
        assert_eq!(runner.campaigns.broadcast_rate_per_second, 20);
        assert!(runner.queues.uses_sqs());
        let webhook =
            TelegramWebhookSettings::from_lookup(|name| vars.get(name).cloned()).expect("valid");
        assert!(pieces::holds(
            &webhook.telegram.webhook_secret,
            WEBHOOK_SECRET
        ));
        assert!(!webhook.telegram.reply_in_webhook_response);
        let bridge =
            ListenBridgeSettings::from_lookup(|name| vars.get(name).cloned()).expect("valid");
        assert!(pieces::holds(&bridge.database_url, &vars["DATABASE_URL"]));
    }

    #[test]
    fn one_queue_url_without_the_other_is_refused_naming_the_missing_one() {
        for (set, missing) in [
            ("RECEIPTS_QUEUE_URL", "CAMPAIGNS_QUEUE_URL"),
            ("CAMPAIGNS_QUEUE_URL", "RECEIPTS_QUEUE_URL"),
        ] {
            let vars = only(&everything(), &[set]);
            assert_eq!(
                QueueSettings::from_lookup(|name| vars.get(name).cloned())
                    .err()
                    .map(|e| e.variable),
                Some(missing)
            );
        }
        let neither = QueueSettings::from_lookup(|_| None).expect("in-process queues");
        assert!(!neither.uses_sqs());
    }

    // What `promo` (and so `spawn_app`) did before the split, unchanged.

    fn base() -> Vars {
        only(
            &everything(),
            &[
                "WEBHOOK_SECRET",
                "ADMIN_SECRET_KEY",
                "PHONE_ENCRYPTION_KEY",
                "PRIZE_DATA_KEY",
            ],
        )
    }

    fn error_variable(vars: &Vars) -> &'static str {
        match Settings::from_lookup(|name| vars.get(name).cloned()) {
            Ok(_) => "no error",
            Err(e) => e.variable,
        }
    }

    #[test]
    fn minimal_environment_gives_sandbox_settings_with_documented_defaults() {
        let vars = base();
        let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid");
        assert!(settings.is_sandbox());
        assert_eq!(settings.store.bot_slug, "main");
        assert_eq!(settings.bot_api.api_url, "https://api.telegram.org");
        assert_eq!(settings.promo.receipt_limit_per_hour, 50);
        assert_eq!(settings.promo.receipt_limit_per_day, 200);
        assert_eq!(settings.campaigns.broadcast_rate_per_second, 30);
        assert!(!settings.queues.uses_sqs());
        assert!(settings.telegram.reply_in_webhook_response);
        assert_eq!(settings.panel.user, "admin");
        assert!(settings.proverkacheka.token.is_none());
        // Uploaded images keep their bytes in Postgres unless a bucket is named.
        assert!(settings.uploads.bucket.is_none());
        // No panel unless its folder is named (run.sh names admin-ui/dist).
        assert!(settings.panel_dir.is_none());
    }

    #[test]
    fn an_end_date_before_the_start_date_is_rejected() {
        let mut vars = base();
        vars.insert("PROMO_START_DATE", "2026-05-01".into());
        vars.insert("PROMO_END_DATE", "2026-04-30".into());
        assert_eq!(error_variable(&vars), "PROMO_END_DATE");
    }

    #[test]
    fn a_short_admin_secret_key_or_panel_password_stops_start_up_naming_the_variable() {
        let mut vars = base();
        vars.insert("ADMIN_SECRET_KEY", "x".repeat(31));
        assert_eq!(error_variable(&vars), "ADMIN_SECRET_KEY");
        let mut vars = base();
        vars.insert("ADMIN_PANEL_PASSWORD", "short".into());
        assert_eq!(error_variable(&vars), "ADMIN_PANEL_PASSWORD");
    }

    #[test]
    fn paid_broadcast_allows_rates_up_to_a_thousand() {
        let mut vars = base();
        vars.insert("PAID_BROADCAST", "true".into());
        vars.insert("BROADCAST_RATE", "1000".into());
        let settings = Settings::from_lookup(|name| vars.get(name).cloned());
        assert_eq!(
            settings.map(|s| s.campaigns.broadcast_rate_per_second).ok(),
            Some(1000)
        );
    }
}
