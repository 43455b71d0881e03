//! The promotion's settings as the bot and the verifier use them: the environment's
//! values (`PROMO_*`, keywords, support contacts, upload limits) are the first-start
//! defaults, and an operator's change in the panel (the `settings` table, keys
//! `promo.<field>`) overrides them without a deploy. Every process re-reads the overrides
//! at most every [`REFRESH`]; the process that wrote a change drops its copy at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::Value;
use tokio::sync::RwLock;

use crate::config::{ClaimSettings, PromoSettings};
use crate::db::PgPool;

/// How stale another process's copy may be after an operator's change.
pub const REFRESH: Duration = Duration::from_secs(30);
/// The `settings.key` prefix of the promotion's fields.
pub const KEY_PREFIX: &str = "promo.";
/// Every field an operator may set, as named in the API and (with the prefix) stored.
pub const FIELDS: &[&str] = &[
    "name",
    "prizes",
    "start_date",
    "end_date",
    "target_keywords",
    "exclude_keywords",
    "support_email",
    "support_telegram",
    "receipt_limit_per_hour",
    "receipt_limit_per_day",
    "time_zone",
    "required_channel",
    "required_channel_url",
    "fraud_seller_daily_limit",
    "fraud_burst_uploads",
    "fraud_burst_window_minutes",
    "paid_image_fallback",
    "claim_deadline_hours",
    "claim_documents_retention_days",
];

/// The last settings read and when.
type Cached = Option<(Instant, Arc<PromoSettings>)>;

/// The live settings of one bot; cheap to clone (the copies share one cache).
#[derive(Clone)]
pub struct LivePromo {
    defaults: Arc<PromoSettings>,
    pool: PgPool,
    bot_id: i64,
    cache: Arc<RwLock<Cached>>,
}

impl LivePromo {
    pub fn new(defaults: PromoSettings, pool: PgPool, bot_id: i64) -> Self {
        LivePromo {
            defaults: Arc::new(defaults),
            pool,
            bot_id,
            cache: Arc::new(RwLock::new(None)),
        }
    }

    /// The environment's values.
    pub fn defaults(&self) -> &PromoSettings {
        &self.defaults
    }

    /// The settings now: the defaults with the operator's overrides on top. While the
    /// database cannot be read the last copy (or the defaults) keeps the bot talking.
    pub async fn current(&self) -> Arc<PromoSettings> {
        if let Some((at, settings)) = self.cache.read().await.as_ref() {
            if at.elapsed() < REFRESH {
                return settings.clone();
            }
        }
        let mut cache = self.cache.write().await;
        if let Some((at, settings)) = cache.as_ref() {
            if at.elapsed() < REFRESH {
                return settings.clone();
            }
        }
        let settings = match self.overrides().await {
            Ok(overrides) => Arc::new(apply(&self.defaults, &overrides)),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "could not read the promotion's settings; keeping the last ones");
                cache
                    .as_ref()
                    .map(|(_, settings)| settings.clone())
                    .unwrap_or_else(|| self.defaults.clone())
            }
        };
        *cache = Some((Instant::now(), settings.clone()));
        settings
    }

    /// Forgets the copy, so the next read sees a change this process just wrote.
    pub async fn invalidate(&self) {
        *self.cache.write().await = None;
    }

    /// The operator's values by field name.
    pub async fn overrides(&self) -> anyhow::Result<HashMap<String, Value>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT key, value FROM settings WHERE bot_id = $1 AND key LIKE 'promo.%'",
                &[&self.bot_id],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let key: String = row.get(0);
                let field = key.strip_prefix(KEY_PREFIX)?.to_owned();
                Some((field, row.get::<_, Value>(1)))
            })
            .collect())
    }
}

/// `defaults` with each valid override applied; a value that does not parse (written by
/// hand, or by an older version) is ignored, so a bad row never stops the bot.
pub fn apply(defaults: &PromoSettings, overrides: &HashMap<String, Value>) -> PromoSettings {
    let mut settings = defaults.clone();
    for (field, value) in overrides {
        if let Err(problem) = set_field(&mut settings, field, value) {
            tracing::warn!(field, problem, "ignoring a stored promotion setting");
        }
    }
    settings
}

/// Sets one field from its JSON value; the error says what the field takes.
pub fn set_field(settings: &mut PromoSettings, field: &str, value: &Value) -> Result<(), String> {
    let text = |max: usize, optional: bool| -> Result<Option<String>, String> {
        match value {
            Value::Null if optional => Ok(None),
            Value::String(s) => {
                let s = crate::pgtext::strip_nul(s.trim()).into_owned();
                match s.chars().count() {
                    0 if optional => Ok(None),
                    0 => Err("must not be empty".into()),
                    n if n > max => Err(format!("must be at most {max} characters")),
                    _ => Ok(Some(s)),
                }
            }
            _ => Err("must be a string".into()),
        }
    };
    let date = || -> Result<Option<NaiveDate>, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| "must be a YYYY-MM-DD date or null".into()),
            _ => Err("must be a YYYY-MM-DD date or null".into()),
        }
    };
    let keywords = || -> Result<Vec<String>, String> {
        let Value::Array(items) = value else {
            return Err("must be a list of words".into());
        };
        let mut words = Vec::new();
        for item in items {
            let word = item.as_str().ok_or("must be a list of words")?;
            let word = crate::pgtext::strip_nul(word.trim()).to_lowercase();
            if word.chars().count() > 100 {
                return Err("each word must be at most 100 characters".into());
            }
            if !word.is_empty() && !words.contains(&word) {
                words.push(word);
            }
        }
        if words.len() > 500 {
            return Err("at most 500 words".into());
        }
        Ok(words)
    };
    let limit = || -> Result<u32, String> {
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| "must be a whole number from 1 to 100000".into())
    };
    let threshold = |max: i64| -> Result<i64, String> {
        value
            .as_i64()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
    };
    match field {
        "name" => settings.name = text(100, false)?.unwrap_or_default(),
        "prizes" => settings.prizes = text(1000, false)?.unwrap_or_default(),
        "start_date" => settings.start_date = date()?,
        "end_date" => settings.end_date = date()?,
        "target_keywords" => settings.target_keywords = keywords()?,
        "exclude_keywords" => settings.exclude_keywords = keywords()?,
        "support_email" => settings.support_email = text(200, true)?,
        "support_telegram" => settings.support_telegram = text(100, true)?,
        "receipt_limit_per_hour" => settings.receipt_limit_per_hour = limit()?,
        "receipt_limit_per_day" => settings.receipt_limit_per_day = limit()?,
        "time_zone" => {
            let zone = text(64, false)?.unwrap_or_default();
            if !crate::config::plausible_time_zone(&zone) {
                return Err("must be a time zone name like Europe/Moscow".into());
            }
            settings.time_zone = zone;
        }
        "required_channel" => {
            let channel = text(64, true)?;
            if channel
                .as_deref()
                .is_some_and(|c| !crate::config::plausible_channel(c))
            {
                return Err(
                    "must be a channel @username or a numeric chat id like -1001234567890, or null"
                        .into(),
                );
            }
            settings.required_channel = channel;
        }
        "required_channel_url" => {
            let url = text(200, true)?;
            if url.as_deref().is_some_and(|u| !u.starts_with("https://")) {
                return Err("must be an https:// link (e.g. https://t.me/+invite) or null".into());
            }
            settings.required_channel_url = url;
        }
        "fraud_seller_daily_limit" => settings.fraud.seller_daily_limit = threshold(100_000)?,
        "fraud_burst_uploads" => settings.fraud.burst_uploads = threshold(10_000)?,
        "fraud_burst_window_minutes" => settings.fraud.burst_window_minutes = threshold(10_080)?,
        "paid_image_fallback" => {
            settings.paid_image_fallback = value.as_bool().ok_or("must be true or false")?
        }
        "claim_deadline_hours" => {
            settings.claims.deadline_hours = claim_field(field, value)?;
        }
        "claim_documents_retention_days" => {
            settings.claims.documents_retention_days = claim_field(field, value)?;
        }
        _ => {
            return Err(format!(
                "unknown setting; the settings are {}",
                FIELDS.join(", ")
            ))
        }
    }
    Ok(())
}

/// The settings as the panel's JSON object, field by field.
pub fn to_json(settings: &PromoSettings) -> serde_json::Map<String, Value> {
    let date = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    let mut map = serde_json::Map::new();
    map.insert("name".into(), Value::from(settings.name.clone()));
    map.insert("prizes".into(), Value::from(settings.prizes.clone()));
    map.insert(
        "start_date".into(),
        serde_json::json!(date(settings.start_date)),
    );
    map.insert(
        "end_date".into(),
        serde_json::json!(date(settings.end_date)),
    );
    map.insert(
        "target_keywords".into(),
        serde_json::json!(settings.target_keywords),
    );
    map.insert(
        "exclude_keywords".into(),
        serde_json::json!(settings.exclude_keywords),
    );
    map.insert(
        "support_email".into(),
        serde_json::json!(settings.support_email),
    );
    map.insert(
        "support_telegram".into(),
        serde_json::json!(settings.support_telegram),
    );
    map.insert(
        "receipt_limit_per_hour".into(),
        Value::from(settings.receipt_limit_per_hour),
    );
    map.insert(
        "receipt_limit_per_day".into(),
        Value::from(settings.receipt_limit_per_day),
    );
    map.insert("time_zone".into(), Value::from(settings.time_zone.clone()));
    map.insert(
        "required_channel".into(),
        serde_json::json!(settings.required_channel),
    );
    map.insert(
        "required_channel_url".into(),
        serde_json::json!(settings.required_channel_url),
    );
    map.insert(
        "fraud_seller_daily_limit".into(),
        Value::from(settings.fraud.seller_daily_limit),
    );
    map.insert(
        "fraud_burst_uploads".into(),
        Value::from(settings.fraud.burst_uploads),
    );
    map.insert(
        "fraud_burst_window_minutes".into(),
        Value::from(settings.fraud.burst_window_minutes),
    );
    map.insert(
        "paid_image_fallback".into(),
        Value::from(settings.paid_image_fallback),
    );
    map.insert(
        "claim_deadline_hours".into(),
        Value::from(settings.claims.deadline_hours),
    );
    map.insert(
        "claim_documents_retention_days".into(),
        Value::from(settings.claims.documents_retention_days),
    );
    map
}

/// A claim setting's value in its range ([`ClaimSettings`]); also how the claims sweep
/// reads a bot's stored value without the rest of the settings.
pub fn claim_field(field: &str, value: &Value) -> Result<i64, String> {
    let range = match field {
        "claim_deadline_hours" => ClaimSettings::DEADLINE_HOURS,
        "claim_documents_retention_days" => ClaimSettings::RETENTION_DAYS,
        _ => return Err("not a claim setting".into()),
    };
    value.as_i64().filter(|n| range.contains(n)).ok_or_else(|| {
        format!(
            "must be a whole number from {} to {}",
            range.start(),
            range.end()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> PromoSettings {
        PromoSettings {
            name: "Лето".into(),
            prizes: "Призы".into(),
            start_date: None,
            end_date: None,
            target_keywords: vec![],
            exclude_keywords: vec![],
            support_email: None,
            support_telegram: None,
            receipt_limit_per_hour: 50,
            receipt_limit_per_day: 200,
            time_zone: "Europe/Moscow".into(),
            required_channel: None,
            required_channel_url: None,
            fraud: Default::default(),
            claims: Default::default(),
            paid_image_fallback: false,
        }
    }

    #[test]
    fn overrides_replace_their_fields_and_bad_rows_are_ignored() {
        let overrides: HashMap<String, Value> = [
            ("name".to_owned(), Value::from("Зима")),
            ("end_date".to_owned(), Value::from("2026-12-31")),
            (
                "target_keywords".to_owned(),
                serde_json::json!(["Чипсы", "чипсы", " "]),
            ),
            ("receipt_limit_per_day".to_owned(), Value::from("many")),
        ]
        .into_iter()
        .collect();
        let settings = apply(&defaults(), &overrides);
        assert_eq!(settings.name, "Зима");
        assert_eq!(settings.end_date, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(settings.target_keywords, vec!["чипсы".to_owned()]);
        assert_eq!(
            settings.receipt_limit_per_day, 200,
            "a bad value keeps the default"
        );
    }

    #[test]
    fn each_field_says_what_it_takes() {
        let mut settings = defaults();
        assert!(set_field(&mut settings, "name", &Value::from("")).is_err());
        assert!(set_field(&mut settings, "start_date", &Value::from("01.09.2026")).is_err());
        assert!(set_field(&mut settings, "receipt_limit_per_hour", &Value::from(0)).is_err());
        assert!(set_field(&mut settings, "colour", &Value::from("red")).is_err());
        assert!(set_field(&mut settings, "support_email", &Value::Null).is_ok());
    }

    #[test]
    fn the_time_zone_channel_and_fraud_thresholds_refuse_what_would_break_the_bot() {
        let mut settings = defaults();
        for zone in ["", "../etc/passwd", "Europe/Moscow; DROP", "/UTC"] {
            assert!(
                set_field(&mut settings, "time_zone", &Value::from(zone)).is_err(),
                "{zone:?}"
            );
        }
        set_field(
            &mut settings,
            "time_zone",
            &Value::from("Asia/Yekaterinburg"),
        )
        .unwrap();
        assert_eq!(settings.time_zone, "Asia/Yekaterinburg");
        for channel in ["promo", "@abc", "@has space", "0"] {
            assert!(
                set_field(&mut settings, "required_channel", &Value::from(channel)).is_err(),
                "{channel:?}"
            );
        }
        set_field(
            &mut settings,
            "required_channel",
            &Value::from("@promo_news"),
        )
        .unwrap();
        set_field(&mut settings, "required_channel", &Value::Null).unwrap();
        assert_eq!(settings.required_channel, None);
        assert!(set_field(
            &mut settings,
            "required_channel_url",
            &Value::from("javascript:alert(1)")
        )
        .is_err());
        assert!(set_field(&mut settings, "fraud_burst_uploads", &Value::from(0)).is_err());
        assert!(set_field(&mut settings, "claim_deadline_hours", &Value::from(0)).is_err());
        assert!(set_field(&mut settings, "claim_deadline_hours", &Value::from(721)).is_err());
        assert!(set_field(
            &mut settings,
            "claim_documents_retention_days",
            &Value::from(29)
        )
        .is_err());
        set_field(&mut settings, "claim_deadline_hours", &Value::from(24)).unwrap();
        assert_eq!(settings.claims.deadline_hours, 24);
        assert!(set_field(&mut settings, "fraud_seller_daily_limit", &Value::from(2.5)).is_err());
        set_field(&mut settings, "fraud_seller_daily_limit", &Value::from(2)).unwrap();
        assert_eq!(settings.fraud.seller_daily_limit, 2);
        let json = to_json(&settings);
        assert_eq!(json.len(), FIELDS.len(), "every field is shown");
        let mut again = defaults();
        for (field, value) in &json {
            set_field(&mut again, field, value).unwrap();
        }
        assert_eq!(
            to_json(&again),
            json,
            "what the panel shows, it can send back"
        );
    }
}
