//! Shopper-facing texts: the one place that formats what the bot says. Built-in
//! Russian and English defaults can be overridden per bot from the `texts` table, which
//! this module alone writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use crate::db::PgPool;

pub mod catalog;
pub mod check;

/// A key of the text catalogue. Literal keys are written `t!("welcome_new")`, which
/// refuses to compile when the catalogue has no such key; a key from outside (an
/// operator's edit) goes through [`TextKey::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextKey(&'static str);

impl TextKey {
    /// For [`crate::t!`]: evaluated in a `const`, so an unknown key is a compile error.
    #[doc(hidden)]
    pub const fn checked(name: &'static str) -> TextKey {
        assert!(catalog::has(name), "no such text key in texts::catalog");
        TextKey(name)
    }

    pub fn lookup(name: &str) -> Option<TextKey> {
        catalog::TABLES
            .iter()
            .flat_map(|table| table.iter())
            .find(|(key, _, _)| *key == name)
            .map(|(key, _, _)| TextKey(key))
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// Every key of the catalogue.
    pub fn all() -> impl Iterator<Item = TextKey> {
        catalog::TABLES
            .iter()
            .flat_map(|table| table.iter())
            .map(|(key, _, _)| TextKey(key))
    }
}

/// A catalogue key checked at compile time: `t!("btn_cancel")`.
#[macro_export]
macro_rules! t {
    ($name:literal) => {{
        const KEY: $crate::texts::TextKey = $crate::texts::TextKey::checked($name);
        KEY
    }};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Telegram's `language_code` (`en-US`, `ru`, `uk`...): English speakers get English,
    /// everyone else the promo's default language, Russian.
    pub fn from_telegram(language_code: Option<&str>) -> Lang {
        match language_code {
            Some(code) if code.starts_with("en") => Lang::En,
            _ => Lang::Ru,
        }
    }
}

/// Built-in texts merged with the bot's overrides; overrides are re-read at most every
/// `REFRESH` so an operator's edit shows up quickly without a query per update.
#[derive(Clone)]
pub struct Texts {
    pool: PgPool,
    bot_id: i64,
    cache: Arc<RwLock<Cache>>,
}

struct Cache {
    overrides: HashMap<(String, Lang), String>,
    loaded_at: Option<Instant>,
}

const REFRESH: Duration = Duration::from_secs(30);

impl Texts {
    pub fn new(pool: PgPool, bot_id: i64) -> Self {
        Self {
            pool,
            bot_id,
            cache: Arc::new(RwLock::new(Cache {
                overrides: HashMap::new(),
                loaded_at: None,
            })),
        }
    }

    /// Looks up `key` in `lang` and fills `{placeholders}` from `args`.
    pub async fn render(&self, key: TextKey, lang: Lang, args: &[(&str, &str)]) -> String {
        self.refresh_if_stale().await;
        let template = {
            let cache = self.cache.read().await;
            cache.overrides.get(&(key.0.to_owned(), lang)).cloned()
        }
        .unwrap_or_else(|| default_text(key, lang).to_owned());
        fill(&template, args)
    }

    /// [`Texts::render`] for a message sent with `parse_mode: HTML`: the template is the
    /// operator's markup, the placeholder values are escaped. The bot's own replies are
    /// plain text (no parse mode), so they show every value literally and use `render`.
    pub async fn render_html(&self, key: TextKey, lang: Lang, args: &[(&str, &str)]) -> String {
        let escaped: Vec<(&str, String)> = args
            .iter()
            .map(|(name, value)| (*name, escape_html(value)))
            .collect();
        let args: Vec<(&str, &str)> = escaped.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.render(key, lang, &args).await
    }

    pub async fn get(&self, key: TextKey, lang: Lang) -> String {
        self.render(key, lang, &[]).await
    }

    /// Drops cached overrides so the next lookup reads the table (after an edit).
    pub async fn invalidate(&self) {
        self.cache.write().await.loaded_at = None;
    }

    async fn refresh_if_stale(&self) {
        let fresh = self
            .cache
            .read()
            .await
            .loaded_at
            .is_some_and(|at| at.elapsed() < REFRESH);
        if fresh {
            return;
        }
        let mut cache = self.cache.write().await;
        if cache.loaded_at.is_some_and(|at| at.elapsed() < REFRESH) {
            return;
        }
        match self.load().await {
            Ok(overrides) => cache.overrides = overrides,
            // Built-in texts keep the bot talking while the database hiccups.
            Err(e) => tracing::warn!(error = %e, "could not load text overrides"),
        }
        cache.loaded_at = Some(Instant::now());
    }

    async fn load(&self) -> anyhow::Result<HashMap<(String, Lang), String>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT key, language, body FROM texts WHERE bot_id = $1",
                &[&self.bot_id],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let lang = Lang::from_code(row.get::<_, &str>(1))?;
                Some(((row.get::<_, String>(0), lang), row.get::<_, String>(2)))
            })
            .collect())
    }
}

/// The bot's override of `key` in `lang`, if any.
pub async fn override_of(
    client: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    key: TextKey,
    lang: Lang,
) -> anyhow::Result<Option<String>> {
    let row = client
        .query_opt(
            "SELECT body FROM texts WHERE bot_id = $1 AND key = $2 AND language = $3",
            &[&bot_id, &key.0, &lang.code()],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Stores an operator's text (checked with [`check::check_override`] first) in the
/// caller's transaction; every process picks it up within [`REFRESH`].
pub async fn save_override(
    client: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    key: TextKey,
    lang: Lang,
    body: &str,
    admin_user_id: Option<i64>,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO texts (bot_id, key, language, body, updated_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (bot_id, key, language)
             DO UPDATE SET body = EXCLUDED.body, updated_by = EXCLUDED.updated_by, updated_at = now()",
            &[&bot_id, &key.0, &lang.code(), &body, &admin_user_id],
        )
        .await?;
    Ok(())
}

/// Back to the built-in text; `false` when there was no override.
pub async fn reset_override(
    client: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    key: TextKey,
    lang: Lang,
) -> anyhow::Result<bool> {
    Ok(client
        .execute(
            "DELETE FROM texts WHERE bot_id = $1 AND key = $2 AND language = $3",
            &[&bot_id, &key.0, &lang.code()],
        )
        .await?
        == 1)
}

/// Fills `template` as the bot would, for a preview.
pub fn render_template(template: &str, args: &[(&str, &str)]) -> String {
    fill(template, args)
}

// The panel previews texts with the same filling (it compiles to wasm, so the code
// lives in api-types).
use promo_api_types::template::fill;
pub use promo_api_types::template::{english_plural, plural};

pub fn default_text(key: TextKey, lang: Lang) -> &'static str {
    catalog::TABLES
        .iter()
        .flat_map(|table| table.iter())
        .find(|(k, _, _)| *k == key.0)
        .map(|(_, ru, en)| match lang {
            Lang::Ru => *ru,
            Lang::En => *en,
        })
        // Unreachable: a TextKey exists only for a catalogue entry.
        .unwrap_or("…")
}

/// Escapes text for a message sent with `parse_mode: HTML`, so what a person typed is
/// shown as typed instead of being read as markup (or refused by Telegram as bad HTML).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_text_exists_in_both_languages_under_a_unique_key() {
        let all: Vec<_> = catalog::TABLES.iter().flat_map(|t| t.iter()).collect();
        for (key, ru, en) in &all {
            assert!(!ru.trim().is_empty() && !en.trim().is_empty(), "{key}");
        }
        let mut keys: Vec<_> = all.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all.len(), "duplicate text keys");
    }

    /// `{name}` and `{name|forms}` of a template, by name.
    fn placeholders(template: &str) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let inner = &after[..close];
            let name = inner.split('|').next().unwrap_or_default();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                names.insert(name.to_owned());
            }
            rest = &after[close + 1..];
        }
        names
    }

    #[test]
    fn no_key_is_defined_twice_so_no_text_shadows_another() {
        let mut seen = std::collections::HashSet::new();
        for (key, _, _) in catalog::TABLES.iter().flat_map(|t| t.iter()) {
            assert!(seen.insert(*key), "{key} is defined twice");
        }
    }

    #[test]
    fn every_key_has_the_same_placeholders_in_russian_and_english() {
        for (key, ru, en) in catalog::TABLES.iter().flat_map(|t| t.iter()) {
            assert_eq!(placeholders(ru), placeholders(en), "{key}");
        }
        assert!(TextKey::all().all(|key| TextKey::lookup(key.name()) == Some(key)));
        assert_eq!(TextKey::lookup("no_such_key"), None);
        assert!(catalog::has("welcome_new") && !catalog::has("welcome_ne"));
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_left_alone() {
        assert_eq!(fill("Hi {name}, {x}", &[("name", "Ann")]), "Hi Ann, {x}");
    }

    #[test]
    fn a_value_that_looks_like_a_placeholder_is_not_expanded_again() {
        assert_eq!(
            fill(
                "{prize} in {promo}",
                &[("prize", "{promo}"), ("promo", "Лето")]
            ),
            "{promo} in Лето"
        );
        assert_eq!(fill("{{x} {", &[("x", "1")]), "{1 {");
    }

    #[test]
    fn russian_plural_forms_follow_the_last_two_digits() {
        let cases = [
            (0, "чеков"),
            (1, "чек"),
            (2, "чека"),
            (5, "чеков"),
            (11, "чеков"),
            (12, "чеков"),
            (14, "чеков"),
            (21, "чек"),
            (22, "чека"),
            (25, "чеков"),
            (101, "чек"),
            (111, "чеков"),
        ];
        for (n, form) in cases {
            assert_eq!(plural(Some(n), "чек", "чека", "чеков"), form, "{n}");
            assert_eq!(
                fill("{n|чек|чека|чеков}", &[("n", &n.to_string())]),
                format!("{n} {form}")
            );
        }
        assert_eq!(plural(Some(-2), "день", "дня", "дней"), "дня");
        assert_eq!(plural(None, "день", "дня", "дней"), "дней");
    }

    #[test]
    fn english_plural_forms_are_singular_only_for_one() {
        for (n, form) in [
            (0, "receipts"),
            (1, "receipt"),
            (2, "receipts"),
            (5, "receipts"),
            (11, "receipts"),
            (12, "receipts"),
            (14, "receipts"),
            (21, "receipts"),
            (22, "receipts"),
            (25, "receipts"),
            (101, "receipts"),
            (111, "receipts"),
        ] {
            assert_eq!(
                fill("{n|receipt|receipts}", &[("n", &n.to_string())]),
                format!("{n} {form}")
            );
        }
    }

    #[test]
    fn a_plural_placeholder_with_a_wrong_number_of_forms_or_no_value_is_left_alone() {
        assert_eq!(fill("{n|a|b|c|d}", &[("n", "1")]), "{n|a|b|c|d}");
        assert_eq!(
            fill("{m|чек|чека|чеков}", &[("n", "1")]),
            "{m|чек|чека|чеков}"
        );
        assert_eq!(fill("{n|чек|чека|чеков}", &[("n", "1.5")]), "1.5 чеков");
    }

    #[test]
    fn every_number_before_a_noun_in_the_default_texts_goes_through_the_plural_helper() {
        // "{limit} чеков" read "3 чеков": a bare number placeholder followed by a word
        // is how a missed plural looks.
        let nouns = [
            "чек",
            "билет",
            "дн",
            "день",
            "минут",
            "receipt",
            "ticket",
            "day",
            "minute",
        ];
        for (key, ru, en) in catalog::TABLES.iter().flat_map(|t| t.iter()) {
            for text in [ru, en] {
                for (at, _) in text.match_indices("} ") {
                    let before = &text[..at];
                    let placeholder = before.rsplit('{').next().unwrap_or("");
                    let next = text[at + 2..].to_lowercase();
                    let bare = !placeholder.contains('|');
                    let noun = nouns.iter().any(|n| next.starts_with(n));
                    assert!(!(bare && noun), "{key}: «{text}»");
                }
            }
        }
    }

    #[test]
    fn the_moderation_notice_does_not_open_like_the_upload_acknowledgement() {
        // Both arrive in the same chat a moment apart; a shopper reads the first words.
        let opening = |text: &str| -> String {
            let words: Vec<&str> = text.split_whitespace().skip(1).take(2).collect();
            words.join(" ")
        };
        for lang in [Lang::Ru, Lang::En] {
            let ack = default_text(t!("upload_checking"), lang);
            let review = default_text(t!("receipt_under_review"), lang);
            assert_ne!(opening(ack), opening(review), "{ack} / {review}");
            assert!(review.to_lowercase().contains("модератор") || review.contains("moderator"));
        }
    }

    #[test]
    fn html_values_are_escaped_and_plain_text_is_kept() {
        assert_eq!(
            escape_html("<b>Bob</b> & \"Co\""),
            "&lt;b&gt;Bob&lt;/b&gt; &amp; &quot;Co&quot;"
        );
        assert_eq!(escape_html("Анна-Мария"), "Анна-Мария");
    }

    #[test]
    fn english_telegram_clients_get_english_and_everyone_else_russian() {
        assert_eq!(Lang::from_telegram(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_telegram(Some("uk")), Lang::Ru);
        assert_eq!(Lang::from_telegram(None), Lang::Ru);
    }
}
