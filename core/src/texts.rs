//! Shopper-facing texts: the one place that formats what the bot says. Built-in
//! Russian and English defaults can be overridden per bot from the `texts` table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use crate::db::PgPool;

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

/// (key, Russian, English). Placeholders are `{name}`; unknown ones are left as is.
pub const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "welcome_new",
        "👋 Добро пожаловать в акцию «{promo}»!\n\n🎁 Призы: {prizes}\n\nПокупайте товары-участники, загружайте чеки и получайте билеты для розыгрыша.\n\nДля начала представьтесь: как вас зовут?",
        "👋 Welcome to the «{promo}» promotion!\n\n🎁 Prizes: {prizes}\n\nBuy the promo products, upload receipts and get raffle tickets.\n\nFirst, what is your name?",
    ),
    (
        "ask_phone",
        "Приятно познакомиться, {name}! 📱 Отправьте номер телефона кнопкой «Поделиться контактом» или напишите его в формате +79991234567.",
        "Nice to meet you, {name}! 📱 Send your phone number with the «Share contact» button or type it like +79991234567.",
    ),
    (
        "name_invalid",
        "Имя должно быть от 2 до 100 символов. Попробуйте ещё раз.",
        "The name must be 2 to 100 characters long. Please try again.",
    ),
    (
        "phone_invalid",
        "Не похоже на номер телефона. Напишите его в формате +79991234567 (от 10 до 15 цифр) или нажмите «Поделиться контактом».",
        "That does not look like a phone number. Type it like +79991234567 (10 to 15 digits) or press «Share contact».",
    ),
    (
        "contact_not_own",
        "Пожалуйста, отправьте свой собственный контакт кнопкой «Поделиться контактом».",
        "Please share your own contact with the «Share contact» button.",
    ),
    (
        "registered",
        "✅ Регистрация завершена! Теперь загружайте чеки с товарами-участниками акции и получайте билеты.",
        "✅ You are registered! Now upload receipts with promo products and collect tickets.",
    ),
    (
        "welcome_back",
        "С возвращением, {name}! 🎟 Ваших билетов: {tickets}. {days_left}",
        "Welcome back, {name}! 🎟 Your tickets: {tickets}. {days_left}",
    ),
    ("days_left", "До конца акции дней: {days}.", "Days left in the promotion: {days}."),
    ("promo_open_ended", "Акция продолжается.", "The promotion is running."),
    (
        "cancelled_registration",
        "Регистрация отменена. Чтобы начать заново, отправьте /start.",
        "Registration cancelled. Send /start to begin again.",
    ),
    ("cancelled", "Действие отменено.", "Cancelled."),
    (
        "hint_awaiting_name",
        "Напишите, пожалуйста, ваше имя текстом (или нажмите «❌ Отмена»).",
        "Please type your name (or press «❌ Cancel»).",
    ),
    (
        "hint_start",
        "Чтобы принять участие в акции, отправьте /start.",
        "To join the promotion, send /start.",
    ),
    (
        "hint_menu",
        "Не понял сообщение. Пожалуйста, воспользуйтесь кнопками меню.",
        "I did not understand that. Please use the menu buttons.",
    ),
    ("btn_cancel", "❌ Отмена", "❌ Cancel"),
    ("btn_share_contact", "📱 Поделиться контактом", "📱 Share contact"),
    ("btn_upload", "🧾 Загрузить чек", "🧾 Upload receipt"),
    ("btn_profile", "👤 Мой профиль", "👤 My profile"),
    ("btn_receipts", "📋 Мои чеки", "📋 My receipts"),
    ("btn_faq", "ℹ️ FAQ", "ℹ️ FAQ"),
    ("btn_support", "🆘 Поддержка", "🆘 Support"),
    ("btn_stats", "📊 Статистика", "📊 Statistics"),
    ("btn_broadcast", "📢 Рассылка", "📢 Broadcast"),
    ("btn_raffle", "🎁 Розыгрыш", "🎁 Raffle"),
    ("btn_winners", "🏆 Победители", "🏆 Winners"),
    ("btn_export_winners", "📥 Экспорт победителей", "📥 Export winners"),
    ("btn_manual_receipt", "➕ Ручное добавление", "➕ Manual receipt"),
];

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
    pub async fn render(&self, key: &str, lang: Lang, args: &[(&str, &str)]) -> String {
        self.refresh_if_stale().await;
        let template = {
            let cache = self.cache.read().await;
            cache.overrides.get(&(key.to_owned(), lang)).cloned()
        }
        .unwrap_or_else(|| default_text(key, lang).to_owned());
        fill(&template, args)
    }

    pub async fn get(&self, key: &str, lang: Lang) -> String {
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

/// Every capability keeps its own texts next to its code; lookups search them all.
pub const TABLES: &[&[(&str, &str, &str)]] = &[
    DEFAULTS,
    crate::bot::admin::TEXTS,
    crate::receipts::texts::TEXTS,
];

pub fn default_text(key: &str, lang: Lang) -> &'static str {
    TABLES
        .iter()
        .flat_map(|table| table.iter())
        .find(|(k, _, _)| *k == key)
        .map(|(_, ru, en)| match lang {
            Lang::Ru => *ru,
            Lang::En => *en,
        })
        .unwrap_or("…")
}

fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_text_exists_in_both_languages_under_a_unique_key() {
        let all: Vec<_> = TABLES.iter().flat_map(|t| t.iter()).collect();
        for (key, ru, en) in &all {
            assert!(!ru.trim().is_empty() && !en.trim().is_empty(), "{key}");
        }
        let mut keys: Vec<_> = all.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all.len(), "duplicate text keys");
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_left_alone() {
        assert_eq!(fill("Hi {name}, {x}", &[("name", "Ann")]), "Hi Ann, {x}");
    }

    #[test]
    fn english_telegram_clients_get_english_and_everyone_else_russian() {
        assert_eq!(Lang::from_telegram(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_telegram(Some("uk")), Lang::Ru);
        assert_eq!(Lang::from_telegram(None), Lang::Ru);
    }
}
