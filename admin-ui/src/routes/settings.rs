//! The promotion's settings, grouped as an operator thinks of them (the promotion,
//! receipts, support, the subscription channel, fraud thresholds, prize claims). Each
//! input is typed by its field, says when it differs from the environment's default and
//! can go back to it; saving sends only what changed (`PATCH /api/settings`), checked
//! first here and then by the API, whose refusal is shown under the field it names.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use promo_api_types::panel::PromoSettingsView;
use serde_json::{Map, Value};

use super::Page;
use crate::api::{self, Failure};
use crate::components::{ErrorBox, FieldError, FormError, Loading};
use crate::state::{can, t};

/// What a field takes, which decides its input and its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A required line of at most n characters.
    Line(usize),
    /// A required text of several lines.
    Long(usize),
    /// A line that may be empty (stored as null).
    Optional(usize),
    Date,
    Zone,
    /// A list of words, one per line (or separated by commas).
    Words,
    Number(i64, i64),
    Flag,
    /// `@username` or a numeric chat id, or empty.
    Channel,
    /// An `https://` link, or empty.
    Link,
}

struct Field {
    name: &'static str,
    kind: Kind,
    ru: &'static str,
    en: &'static str,
    hint_ru: &'static str,
    hint_en: &'static str,
}

struct Group {
    id: &'static str,
    ru: &'static str,
    en: &'static str,
    fields: &'static [Field],
}

const fn field(
    name: &'static str,
    kind: Kind,
    (ru, en): (&'static str, &'static str),
    (hint_ru, hint_en): (&'static str, &'static str),
) -> Field {
    Field {
        name,
        kind,
        ru,
        en,
        hint_ru,
        hint_en,
    }
}

const GROUPS: &[Group] = &[
    Group {
        id: "promotion",
        ru: "Акция",
        en: "Promotion",
        fields: &[
            field("name", Kind::Line(100), ("Название", "Name"), ("Бот называет акцию так в приветствии.", "The bot greets shoppers with this name.")),
            field("prizes", Kind::Long(1000), ("Призы", "Prizes"), ("Как призы описаны участникам.", "How the prizes are described to shoppers.")),
            field("start_date", Kind::Date, ("Начало", "Starts"), ("Первый день приёма чеков; пусто — без ограничения.", "The first day receipts count; empty: no limit.")),
            field("end_date", Kind::Date, ("Окончание", "Ends"), ("Последний день приёма чеков; пусто — без ограничения.", "The last day receipts count; empty: no limit.")),
            field("time_zone", Kind::Zone, ("Часовой пояс", "Time zone"), ("IANA, например Europe/Moscow: в нём считаются даты акции и показываются все времена панели.", "IANA, e.g. Europe/Moscow: the promotion's dates and every time in the panel are in it.")),
        ],
    },
    Group {
        id: "receipts",
        ru: "Чеки",
        en: "Receipts",
        fields: &[
            field("target_keywords", Kind::Words, ("Товары-участники", "Promo products"), ("Слова в названии товара, за который дают билеты; по одному в строке.", "Words in a product's name that earn tickets; one per line.")),
            field("exclude_keywords", Kind::Words, ("Исключения", "Exclusions"), ("Товар с этими словами не участвует, даже если подходит; по одному в строке.", "A product with these words never counts; one per line.")),
            field("receipt_limit_per_hour", Kind::Number(1, 100_000), ("Чеков в час", "Receipts per hour"), ("Сколько чеков один участник может загрузить за час.", "How many receipts one shopper may upload in an hour.")),
            field("receipt_limit_per_day", Kind::Number(1, 100_000), ("Чеков в день", "Receipts per day"), ("Сколько чеков один участник может загрузить за сутки.", "How many receipts one shopper may upload in a day.")),
            field("paid_image_fallback", Kind::Flag, ("Платное распознавание фото", "Paid photo recognition"), ("Нечитаемый QR отправлять в ProverkaCheka (платный вызов); иначе бот просит фото чётче или данные чека.", "Send an unreadable QR to ProverkaCheka (a paid call); otherwise the bot asks for a sharper photo or the printed fields.")),
        ],
    },
    Group {
        id: "support",
        ru: "Поддержка",
        en: "Support",
        fields: &[
            field("support_email", Kind::Optional(200), ("Почта поддержки", "Support e-mail"), ("Бот называет её участникам; пусто — не называет.", "The bot gives it to shoppers; empty: none.")),
            field("support_telegram", Kind::Optional(100), ("Telegram поддержки", "Support Telegram"), ("Например @promo_support; пусто — не называет.", "E.g. @promo_support; empty: none.")),
        ],
    },
    Group {
        id: "subscription",
        ru: "Подписка на канал",
        en: "Channel subscription",
        fields: &[
            field("required_channel", Kind::Channel, ("Канал", "Channel"), ("@username или id вида -1001234567890: без подписки на него чеки не принимаются; пусто — подписка не нужна.", "@username or an id like -1001234567890: receipts need a subscription to it; empty: none needed.")),
            field("required_channel_url", Kind::Link, ("Ссылка на канал", "Channel link"), ("https://t.me/… для кнопки «Подписаться» (нужна для закрытого канала).", "https://t.me/… for the Subscribe button (needed for a private channel).")),
        ],
    },
    Group {
        id: "fraud",
        ru: "Антифрод",
        en: "Fraud thresholds",
        fields: &[
            field("fraud_seller_daily_limit", Kind::Number(1, 100_000), ("Чеков одного продавца в день", "Receipts per seller a day"), ("Больше — чеки этого продавца идут на модерацию.", "Above it, the seller's receipts go to moderation.")),
            field("fraud_burst_uploads", Kind::Number(1, 10_000), ("Загрузок подряд", "Uploads in a burst"), ("Столько загрузок за окно ниже — подозрительная серия.", "This many uploads within the window below is a suspicious burst.")),
            field("fraud_burst_window_minutes", Kind::Number(1, 10_080), ("Окно серии, минут", "Burst window, minutes"), ("За сколько минут считаются загрузки подряд.", "The minutes the burst is counted over.")),
        ],
    },
    Group {
        id: "claims",
        ru: "Получение призов",
        en: "Prize claims",
        fields: &[
            field("claim_deadline_hours", Kind::Number(1, 720), ("Срок подтверждения, часов", "Claim deadline, hours"), ("Сколько часов у победителя, чтобы подтвердить приз; потом приз переходит резерву.", "Hours a winner has to confirm; after that the prize goes to a reserve.")),
            field("claim_documents_retention_days", Kind::Number(30, 3650), ("Хранение документов, дней", "Documents kept, days"), ("Через сколько дней документы победителей удаляются.", "Days after which winners' documents are deleted.")),
        ],
    },
];

const ZONES: &[&str] = &[
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Europe/Minsk",
    "Asia/Almaty",
    "UTC",
];

fn every_field() -> impl Iterator<Item = &'static Field> {
    GROUPS.iter().flat_map(|g| g.fields.iter())
}

/// A value as its input holds it.
fn as_input(kind: Kind, value: Option<&Value>) -> String {
    match (kind, value) {
        (_, None | Some(Value::Null)) => String::new(),
        (Kind::Words, Some(Value::Array(words))) => words
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// A value in a sentence ("by default: …").
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => t("пусто", "empty").to_owned(),
        Some(Value::Array(items)) if items.is_empty() => t("пусто", "empty").to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Bool(true)) => t("включено", "on").to_owned(),
        Some(Value::Bool(false)) => t("выключено", "off").to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn too_long(max: usize) -> String {
    format!(
        "{} {max}",
        t("Не длиннее, символов:", "At most characters:")
    )
}

/// What the API's own checks are: a zone name of letters, digits and `/_-+`.
fn plausible_zone(zone: &str) -> bool {
    (1..=64).contains(&zone.len())
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        && !zone.starts_with('/')
        && !zone.contains("..")
}

fn plausible_channel(channel: &str) -> bool {
    match channel.strip_prefix('@') {
        Some(name) => {
            (5..=32).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => {
            let digits = channel.strip_prefix('-').unwrap_or(channel);
            !digits.is_empty() && digits.len() <= 20 && digits.chars().all(|c| c.is_ascii_digit())
        }
    }
}

/// The input as the API takes it, or why it cannot be sent.
fn to_value(kind: Kind, input: &str) -> Result<Value, String> {
    let text = input.trim();
    let optional = |max: usize| -> Result<Value, String> {
        match text.chars().count() {
            0 => Ok(Value::Null),
            n if n > max => Err(too_long(max)),
            _ => Ok(Value::from(text)),
        }
    };
    match kind {
        Kind::Line(max) | Kind::Long(max) => match text.chars().count() {
            0 => Err(t("Не может быть пустым.", "Must not be empty.").to_owned()),
            n if n > max => Err(too_long(max)),
            _ => Ok(Value::from(text)),
        },
        Kind::Optional(max) => optional(max),
        Kind::Date => {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            let shape = text.len() == 10
                && text.char_indices().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if shape {
                Ok(Value::from(text))
            } else {
                Err(t("Дата в виде ГГГГ-ММ-ДД.", "A date like YYYY-MM-DD.").to_owned())
            }
        }
        Kind::Zone => {
            if plausible_zone(text) {
                Ok(Value::from(text))
            } else {
                Err(t(
                    "Название пояса вида Europe/Moscow.",
                    "A zone name like Europe/Moscow.",
                )
                .to_owned())
            }
        }
        Kind::Words => {
            let mut words: Vec<String> = Vec::new();
            for word in input.split(['\n', ',']) {
                let word = word.trim().to_lowercase();
                if word.chars().count() > 100 {
                    return Err(t(
                        "Каждое слово — не длиннее 100 символов.",
                        "Each word must be at most 100 characters.",
                    )
                    .to_owned());
                }
                if !word.is_empty() && !words.contains(&word) {
                    words.push(word);
                }
            }
            if words.len() > 500 {
                return Err(t("Не больше 500 слов.", "At most 500 words.").to_owned());
            }
            Ok(Value::from(words))
        }
        Kind::Number(min, max) => match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Value::from(n)),
            _ => Err(format!(
                "{} {min} {} {max}.",
                t("Целое число от", "A whole number from"),
                t("до", "to")
            )),
        },
        Kind::Flag => Ok(Value::from(text == "true")),
        Kind::Channel => {
            if text.is_empty() || plausible_channel(text) {
                optional(64)
            } else {
                Err(t(
                    "@username (5–32 символа) или id вида -1001234567890.",
                    "@username (5 to 32 characters) or an id like -1001234567890.",
                )
                .to_owned())
            }
        }
        Kind::Link => {
            if text.is_empty() || text.starts_with("https://") {
                optional(200)
            } else {
                Err(t(
                    "Ссылка должна начинаться с https://",
                    "The link must start with https://",
                )
                .to_owned())
            }
        }
    }
}

/// Puts the cursor in the field and scrolls the whole field (its error included) to the
/// middle of the window, clear of the sticky save bar.
fn focus_field(name: &str) {
    let name = name.to_owned();
    leptos::task::spawn_local(async move {
        // After the error under the field is drawn.
        crate::chat::pause(0).await;
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Some(input) = document
            .get_element_by_id(&format!("setting-{name}"))
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = input.focus();
        }
        let Ok(Some(field)) = document.query_selector(&format!("[data-field=\"{name}\"]")) else {
            return;
        };
        // `scrollIntoView({block: "center"})`, through JS: web-sys would need a feature.
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"block".into(), &"center".into());
        if let Ok(scroll) = js_sys::Reflect::get(&field, &"scrollIntoView".into()) {
            if let Ok(scroll) = wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(scroll) {
                let _ = scroll.call1(&field, &options);
            }
        }
    });
}

/// The API's refusals in the operator's language where they are known; the API speaks
/// English.
fn explain(failure: Failure) -> Failure {
    let zone = failure.is_field("time_zone") && failure.message.starts_with("unknown time zone");
    if zone {
        let name = failure
            .message
            .trim_start_matches("unknown time zone")
            .trim()
            .trim_matches('"')
            .to_owned();
        return Failure {
            message: format!(
                "{} «{name}» {}",
                t("Часовой пояс", "The time zone"),
                t(
                    "неизвестен: нужно название из базы IANA, например Europe/Moscow.",
                    "is unknown: use an IANA name such as Europe/Moscow.",
                )
            ),
            ..failure
        };
    }
    failure
}

#[derive(Clone, Copy)]
struct Form {
    view: RwSignal<Option<PromoSettingsView>>,
    drafts: RwSignal<HashMap<&'static str, String>>,
    error: RwSignal<Option<Failure>>,
    busy: RwSignal<bool>,
    saved: RwSignal<Option<String>>,
}

impl Form {
    fn saved_input(&self, field: &Field) -> String {
        self.view.with(|v| {
            as_input(
                field.kind,
                v.as_ref().and_then(|v| v.values.get(field.name)),
            )
        })
    }

    fn dirty(&self, field: &Field) -> bool {
        let draft = self.drafts.with(|d| d.get(field.name).cloned());
        draft.is_some_and(|draft| draft != self.saved_input(field))
    }

    fn adopt(&self, view: PromoSettingsView) {
        let drafts = every_field()
            .map(|f| (f.name, as_input(f.kind, view.values.get(f.name))))
            .collect();
        self.drafts.set(drafts);
        self.view.set(Some(view));
    }

    fn save(self) {
        let mut change = Map::new();
        for field in every_field().filter(|f| self.dirty(f)) {
            let input = self
                .drafts
                .with_untracked(|d| d.get(field.name).cloned())
                .unwrap_or_default();
            match to_value(field.kind, &input) {
                Ok(value) => {
                    change.insert(field.name.to_owned(), value);
                }
                Err(problem) => {
                    self.error.set(Some(Failure::invalid(field.name, problem)));
                    focus_field(field.name);
                    return;
                }
            }
        }
        if change.is_empty() {
            return;
        }
        let date = |name: &str| -> Option<String> {
            change
                .get(name)
                .cloned()
                .or_else(|| {
                    self.view
                        .with_untracked(|v| v.as_ref().and_then(|v| v.values.get(name).cloned()))
                })
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        if let (Some(start), Some(end)) = (date("start_date"), date("end_date")) {
            if start > end {
                let field = if change.contains_key("end_date") {
                    "end_date"
                } else {
                    "start_date"
                };
                self.error.set(Some(Failure::invalid(
                    field,
                    t(
                        "Начало не может быть позже окончания.",
                        "The start must not be after the end.",
                    ),
                )));
                focus_field(field);
                return;
            }
        }
        let zone_changed = change.contains_key("time_zone");
        let count = change.len();
        self.error.set(None);
        self.saved.set(None);
        self.busy.set(true);
        spawn_local(async move {
            match api::patch::<_, PromoSettingsView>("/api/settings", &change).await {
                Ok(view) => {
                    self.adopt(view);
                    if zone_changed {
                        crate::load_time_zone().await;
                    }
                    self.saved.set(Some(format!(
                        "{} {count}",
                        t("Сохранено, полей:", "Saved, fields:")
                    )));
                }
                Err(failure) => {
                    if let Some(field) = failure.field.clone() {
                        focus_field(&field);
                    }
                    self.error.set(Some(explain(failure)));
                }
            }
            self.busy.set(false);
        });
    }

    fn reset(self, name: &'static str) {
        self.error.set(None);
        self.saved.set(None);
        self.busy.set(true);
        spawn_local(async move {
            match api::delete::<PromoSettingsView>(&format!("/api/settings/{name}")).await {
                Ok(view) => {
                    // The other fields keep what the operator typed and has not saved.
                    let kept = self.drafts.get_untracked();
                    let dirty: Vec<&'static str> = every_field()
                        .filter(|f| f.name != name && self.dirty(f))
                        .map(|f| f.name)
                        .collect();
                    self.adopt(view);
                    self.drafts.update(|drafts| {
                        for field in dirty {
                            if let Some(value) = kept.get(field) {
                                drafts.insert(field, value.clone());
                            }
                        }
                    });
                    if name == "time_zone" {
                        crate::load_time_zone().await;
                    }
                    self.saved.set(Some(
                        t("Возвращено значение по умолчанию.", "Back to the default.").to_owned(),
                    ));
                }
                Err(failure) => self.error.set(Some(failure)),
            }
            self.busy.set(false);
        });
    }
}

#[component]
pub fn Settings() -> impl IntoView {
    let form = Form {
        view: RwSignal::new(None),
        drafts: RwSignal::new(HashMap::new()),
        error: RwSignal::new(None),
        busy: RwSignal::new(false),
        saved: RwSignal::new(None),
    };
    let load_error = RwSignal::new(None::<Failure>);
    spawn_local(async move {
        match api::get::<PromoSettingsView>("/api/settings").await {
            Ok(view) => form.adopt(view),
            Err(failure) => load_error.set(Some(failure)),
        }
    });
    let editable = move || can("manager");
    let unsaved = move || every_field().filter(|f| form.dirty(f)).count();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        form.save();
    };
    // A field error the form does not show next to a field goes under the form.
    let general = Signal::derive(move || {
        form.error.get().filter(|e| {
            !e.field
                .as_deref()
                .is_some_and(|f| every_field().any(|field| field.name == f))
        })
    });

    view! {
        <Page ru="Настройки" en="Settings" id="settings">
            {move || match (form.view.with(Option::is_some), load_error.get()) {
                (_, Some(error)) => view! { <ErrorBox error/> }.into_any(),
                (false, None) => view! { <Loading/> }.into_any(),
                (true, None) => view! {
                    <nav class="section-links" aria-label=move || t("Разделы", "Sections")>
                        {GROUPS.iter().map(|g| {
                            let (ru, en) = (g.ru, g.en);
                            view! { <a href=format!("#group-{}", g.id)>{move || t(ru, en)}</a> }
                        }).collect_view()}
                    </nav>
                    {(!editable()).then(|| view! {
                        <div class="notice-plain">{move || t("Изменять настройки могут менеджеры и владельцы.", "Managers and owners can change the settings.")}</div>
                    })}
                    <form class="stack" id="settings-form" on:submit=submit novalidate>
                        {GROUPS.iter().map(|group| view! { <GroupCard group form/> }).collect_view()}
                        <div id="settings-save-bar"
                            class=move || { if unsaved() > 0 { "save-bar card dirty" } else { "save-bar card" } }>
                            <span class="grow" id="settings-unsaved">
                                {move || match unsaved() {
                                    0 => form.saved.get().unwrap_or_else(|| t("Изменений нет", "No changes").to_owned()),
                                    n => format!("{} {n}", t("Не сохранено полей:", "Unsaved fields:")),
                                }}
                            </span>
                            <FormError error=general/>
                            <button type="button" class="btn" id="settings-discard"
                                disabled=move || unsaved() == 0 || form.busy.get()
                                on:click=move |_| {
                                    form.error.set(None);
                                    if let Some(view) = form.view.get_untracked() {
                                        form.adopt(view);
                                    }
                                }>{move || t("Отменить", "Discard")}</button>
                            <button type="submit" class="btn btn-primary" id="settings-save"
                                disabled=move || !editable() || unsaved() == 0 || form.busy.get()>
                                {move || if form.busy.get() { t("Сохраняем…", "Saving…") } else { t("Сохранить", "Save") }}
                            </button>
                        </div>
                    </form>
                }.into_any(),
            }}
        </Page>
    }
}

#[component]
fn GroupCard(group: &'static Group, form: Form) -> impl IntoView {
    let (ru, en) = (group.ru, group.en);
    view! {
        <section class="card settings-group" id=format!("group-{}", group.id)>
            <h2>{move || t(ru, en)}</h2>
            <div class="form-grid">
                {group.fields.iter().map(|field| view! { <SettingField field form/> }).collect_view()}
            </div>
        </section>
    }
}

#[component]
fn SettingField(field: &'static Field, form: Form) -> impl IntoView {
    let name = field.name;
    let id = format!("setting-{name}");
    let value = move || {
        form.drafts
            .with(|d| d.get(name).cloned().unwrap_or_default())
    };
    let set = move |text: String| {
        form.drafts.update(|d| {
            d.insert(name, text);
        });
        if form.error.get_untracked().is_some_and(|e| e.is_field(name)) {
            form.error.set(None);
        }
    };
    let invalid = move || {
        form.error
            .get()
            .is_some_and(|e| e.is_field(name))
            .to_string()
    };
    let locked = move || !can("manager") || form.busy.get();
    let overridden = move || {
        form.view.with(|v| {
            v.as_ref()
                .is_some_and(|v| v.changed.iter().any(|c| c == name))
        })
    };
    let default = move || {
        form.view
            .with(|v| v.as_ref().and_then(|v| v.defaults.get(name).cloned()))
    };
    let differs = move || {
        form.view.with(|v| {
            v.as_ref()
                .is_some_and(|v| v.values.get(name) != v.defaults.get(name))
        })
    };
    let hint_id = format!("{id}-hint");
    let input = match field.kind {
        Kind::Long(max) => view! {
            <textarea id=id.clone() maxlength=max.to_string() rows="3" aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))></textarea>
        }
        .into_any(),
        Kind::Words => view! {
            <textarea id=id.clone() rows="5" aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))></textarea>
        }
        .into_any(),
        Kind::Flag => view! {
            <label class="check">
                <input type="checkbox" id=id.clone() aria-describedby=hint_id.clone()
                    prop:checked=move || value() == "true" disabled=locked
                    on:change=move |e| set(event_target_checked(&e).to_string())/>
                <span>{move || if value() == "true" { t("Включено", "On") } else { t("Выключено", "Off") }}</span>
            </label>
        }
        .into_any(),
        Kind::Number(min, max) => view! {
            <input type="number" id=id.clone() min=min.to_string() max=max.to_string() step="1" inputmode="numeric"
                aria-describedby=hint_id.clone() prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))/>
        }
        .into_any(),
        Kind::Date => view! {
            <input type="date" id=id.clone() aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))/>
        }
        .into_any(),
        Kind::Zone => view! {
            <input id=id.clone() list="time-zones" autocomplete="off" spellcheck="false" aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))/>
            <datalist id="time-zones">
                {ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
            </datalist>
        }
        .into_any(),
        Kind::Line(max) | Kind::Optional(max) => view! {
            <input id=id.clone() maxlength=max.to_string() aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))/>
        }
        .into_any(),
        Kind::Channel => view! {
            <input id=id.clone() maxlength="64" spellcheck="false" placeholder="@channel" aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))/>
        }
        .into_any(),
        Kind::Link => view! {
            <input type="url" id=id.clone() maxlength="200" spellcheck="false" placeholder="https://t.me/…" aria-describedby=hint_id.clone()
                prop:value=value aria-invalid=invalid disabled=locked
                on:input=move |e| set(event_target_value(&e))
                on:change=move |e| set(event_target_value(&e))/>
        }
        .into_any(),
    };
    let wide = matches!(field.kind, Kind::Long(_) | Kind::Words | Kind::Flag);
    let (ru, en, hint_ru, hint_en) = (field.ru, field.en, field.hint_ru, field.hint_en);
    view! {
        <div class="field setting" class:full=wide data-field=name
            data-changed=move || overridden().to_string()>
            <div class="setting-head">
                <label for=id.clone()>{move || t(ru, en)}</label>
                {move || overridden().then(|| view! { <span class="badge badge-busy">{t("изменено", "changed")}</span> })}
                {move || form.dirty(field).then(|| view! { <span class="badge badge-plain">{t("не сохранено", "unsaved")}</span> })}
            </div>
            {input}
            <FieldError error=form.error field=name/>
            <span class="hint" id=hint_id>{move || t(hint_ru, hint_en)}</span>
            {move || differs().then(|| view! {
                <span class="hint setting-default">
                    {t("По умолчанию: ", "Default: ")}
                    <span class="mono-soft">{shown(default().as_ref())}</span>
                </span>
            })}
            {move || (overridden() && can("manager")).then(|| view! {
                <button type="button" class="btn btn-ghost btn-small setting-reset" id=format!("reset-{name}")
                    disabled=move || form.busy.get()
                    on:click=move |_| form.reset(name)>
                    {move || t("Вернуть по умолчанию", "Reset to default")}
                </button>
            })}
        </div>
    }
}
