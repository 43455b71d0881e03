//! State the whole panel shares: who is signed in, the interface language and the
//! promotion's time zone. Signals live for the whole page, so they are created once,
//! outside any component, and handed out by value (they are `Copy`).

use leptos::prelude::*;
use promo_api_types::panel::SessionInfo;
use wasm_bindgen::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn locale(self) -> &'static str {
        match self {
            Lang::Ru => "ru-RU",
            Lang::En => "en-GB",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// `None` until the first `GET /api/auth/session` answered, then whether it did with
    /// a session.
    pub session: RwSignal<Option<Option<SessionInfo>>>,
    pub lang: RwSignal<Lang>,
    /// The promotion's IANA zone (settings `time_zone`); every time is shown in it.
    pub time_zone: RwSignal<String>,
}

thread_local! {
    static STATE: AppState = AppState {
        session: RwSignal::new(None),
        lang: RwSignal::new(stored_lang()),
        time_zone: RwSignal::new("Europe/Moscow".to_owned()),
    };
}

pub fn state() -> AppState {
    STATE.with(|state| *state)
}

const LANG_KEY: &str = "promo.lang";

fn stored_lang() -> Lang {
    let stored = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(LANG_KEY).ok().flatten());
    match stored.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Ru,
    }
}

pub fn set_lang(lang: Lang) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        // A private window may refuse storage; the choice then lasts for this page only.
        let _ = storage.set_item(LANG_KEY, lang.code());
    }
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
    state().lang.set(lang);
}

/// The Russian or English text, whichever the operator chose. Read inside a reactive
/// closure (`move || t(..)`) so a language switch redraws it.
pub fn t(ru: &'static str, en: &'static str) -> &'static str {
    match state().lang.get() {
        Lang::Ru => ru,
        Lang::En => en,
    }
}

/// The signed-in operator's role: `owner`, `manager` or `viewer` (empty when signed out).
pub fn role() -> String {
    state()
        .session
        .get()
        .flatten()
        .map(|s| s.admin.role)
        .unwrap_or_default()
}

/// Whether the operator's role is at least `needed` (owner > manager > viewer).
pub fn can(needed: &str) -> bool {
    fn rank(role: &str) -> u8 {
        match role {
            "owner" => 3,
            "manager" => 2,
            "viewer" => 1,
            _ => 0,
        }
    }
    rank(&role()) >= rank(needed)
}

#[wasm_bindgen(inline_js = r#"
export function format_time(iso, zone, locale, with_time) {
  const at = new Date(iso);
  if (isNaN(at.getTime())) { return iso; }
  const options = { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' };
  if (with_time) { options.hour = '2-digit'; options.minute = '2-digit'; }
  try { return at.toLocaleString(locale, options); }
  catch (e) { delete options.timeZone; return at.toLocaleString(locale, options) + ' UTC'; }
}
export function local_input_to_iso(value, zone) {
  // `YYYY-MM-DDTHH:MM` typed in the promotion's zone -> an instant. The offset is
  // found by formatting a first guess in that zone and correcting by the difference.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) { return ''; }
  const wanted = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(new Date(guess));
    const get = (t) => +parts.find((p) => p.type === t).value;
    const shown = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
    guess += wanted - shown;
  }
  return new Date(guess).toISOString().replace('.000Z', 'Z');
}
"#)]
extern "C" {
    fn format_time(iso: &str, zone: &str, locale: &str, with_time: bool) -> String;
    fn local_input_to_iso(value: &str, zone: &str) -> String;
}

/// An API time (RFC 3339) as a date and time in the promotion's zone.
pub fn when(iso: &str) -> String {
    let s = state();
    format_time(iso, &s.time_zone.get(), s.lang.get().locale(), true)
}

/// An API time as a date in the promotion's zone.
pub fn day(iso: &str) -> String {
    let s = state();
    format_time(iso, &s.time_zone.get(), s.lang.get().locale(), false)
}

/// The value of a `datetime-local` input, read in the promotion's zone, as RFC 3339 UTC;
/// `None` when it is empty or malformed.
pub fn local_to_utc(value: &str) -> Option<String> {
    let iso = local_input_to_iso(value, &state().time_zone.get_untracked());
    (!iso.is_empty()).then_some(iso)
}

/// Roubles from kopecks, `1 234,50 ₽`.
pub fn rub(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "-" } else { "" };
    let k = kopecks.unsigned_abs();
    format!(
        "{sign}{} ₽",
        group_digits(k / 100) + &format!(",{:02}", k % 100)
    )
}

/// `12345` → `12 345`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

pub fn num(n: i64) -> String {
    if n < 0 {
        format!("-{}", group_digits(n.unsigned_abs()))
    } else {
        group_digits(n as u64)
    }
}
