//! Composing a broadcast: the text in a parse mode, a photo (uploaded here or one of the
//! bot's uploads), one URL button, the audience with its live recipient count, now or
//! later in the promotion's zone, and paid mode. The preview beside the form is drawn
//! as Telegram shows the message. Everything Telegram or the API would refuse is said
//! next to its field before anything is sent, and a confirmation names how many people
//! the message goes to; then the new campaign opens with its live progress.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use promo_api_types::panel::{
    CampaignButton, CampaignDetail, NewCampaignRequest, RecipientCount, RecipientsRequest,
    UploadInfo, UploadPage,
};
use serde_json::{json, Map, Value};
use wasm_bindgen::JsCast;

use super::Page;
use crate::api::{self, Answer, Failure};
use crate::components::{ErrorBox, FieldError, Loading};
use crate::state::{can, local_to_utc, num, state, t, when};
use crate::telegram_preview::{parse_message, plain_text, PreviewButton, TelegramPreview};

/// Telegram's limits: a message's text, and a photo's caption.
pub const TEXT_LIMIT: usize = 4096;
pub const CAPTION_LIMIT: usize = 1024;
/// What Telegram takes from the bot's balance for each message of a paid broadcast.
const STARS_PER_MESSAGE: f64 = 0.1;
/// How long the audience must stay unchanged before its recipients are counted.
const COUNT_AFTER: Duration = Duration::from_millis(350);

/// The fields an error can be shown next to; anything else goes under the form.
const FIELDS: &[&str] = &[
    "text",
    "parse_mode",
    "photo",
    "button.text",
    "button.url",
    "audience",
    "audience.user_ids",
    "scheduled_for",
];

/// The form's state; every part is a signal, so the whole is `Copy`.
#[derive(Clone, Copy)]
struct Draft {
    text: RwSignal<String>,
    /// `""` (plain), `HTML` or `MarkdownV2`.
    parse_mode: RwSignal<String>,
    photo: RwSignal<Option<UploadInfo>>,
    button_text: RwSignal<String>,
    button_url: RwSignal<String>,
    /// `all`, `with_receipts` or `without_receipts`.
    segment: RwSignal<String>,
    /// `""` (any), `ru` or `en`.
    language: RwSignal<String>,
    /// Panel user ids, separated by commas or spaces; empty = no such filter.
    user_ids: RwSignal<String>,
    later: RwSignal<bool>,
    /// A `datetime-local` value in the promotion's zone.
    scheduled_for: RwSignal<String>,
    paid: RwSignal<bool>,
}

impl Draft {
    fn new() -> Self {
        Draft {
            text: RwSignal::new(String::new()),
            parse_mode: RwSignal::new("HTML".to_owned()),
            photo: RwSignal::new(None),
            button_text: RwSignal::new(String::new()),
            button_url: RwSignal::new(String::new()),
            segment: RwSignal::new("all".to_owned()),
            language: RwSignal::new(String::new()),
            user_ids: RwSignal::new(String::new()),
            later: RwSignal::new(false),
            scheduled_for: RwSignal::new(String::new()),
            paid: RwSignal::new(false),
        }
    }

    fn mode(&self) -> Option<String> {
        let mode = self.parse_mode.get();
        (!mode.is_empty()).then_some(mode)
    }

    fn limit(&self) -> usize {
        if self.photo.get().is_some() {
            CAPTION_LIMIT
        } else {
            TEXT_LIMIT
        }
    }

    /// The audience as the API takes it, or what is wrong with the id list.
    fn audience(&self) -> Result<Value, Failure> {
        let mut audience = Map::new();
        let segment = self.segment.get();
        if segment != "all" {
            audience.insert("segment".into(), json!(segment));
        }
        let language = self.language.get();
        if !language.is_empty() {
            audience.insert("language".into(), json!(language));
        }
        if let Some(ids) = parse_ids(&self.user_ids.get())? {
            audience.insert("user_ids".into(), json!(ids));
        }
        Ok(Value::Object(audience))
    }

    /// The request, or the first thing Telegram or the API would refuse.
    fn request(&self) -> Result<NewCampaignRequest, Failure> {
        let text = self.text.get();
        let mode = self.mode();
        let photo = self.photo.get();
        let nodes = parse_message(&text, mode.as_deref()).map_err(|problem| {
            Failure::invalid(
                "text",
                format!(
                    "{} {problem}",
                    t(
                        "Telegram не примет разметку:",
                        "Telegram would refuse the markup:"
                    )
                ),
            )
        })?;
        let length = text.chars().count();
        if photo.is_none() && plain_text(&nodes).trim().is_empty() {
            return Err(Failure::invalid(
                "text",
                t(
                    "Напишите текст сообщения (или добавьте фото).",
                    "Write the message (or add a photo).",
                ),
            ));
        }
        let limit = self.limit();
        if length > limit {
            let what = if photo.is_some() {
                t(
                    "Подпись к фото в Telegram — не больше",
                    "A photo caption in Telegram has at most",
                )
            } else {
                t(
                    "Сообщение в Telegram — не больше",
                    "A Telegram message has at most",
                )
            };
            return Err(Failure::invalid(
                "text",
                format!(
                    "{what} {} {}, {} {}.",
                    num(limit as i64),
                    t("символов", "characters"),
                    t("здесь", "this one has"),
                    num(length as i64)
                ),
            ));
        }
        let button = button_of(&self.button_text.get(), &self.button_url.get())?;
        let audience = self.audience()?;
        let scheduled_for = if self.later.get() {
            let local = self.scheduled_for.get();
            let Some(utc) = local_to_utc(&local) else {
                return Err(Failure::invalid(
                    "scheduled_for",
                    t(
                        "Выберите дату и время отправки.",
                        "Choose the date and time.",
                    ),
                ));
            };
            let at = js_sys::Date::parse(&utc);
            if at.is_nan() || at < js_sys::Date::now() - 60_000.0 {
                return Err(Failure::invalid(
                    "scheduled_for",
                    t("Это время уже прошло.", "This time has passed."),
                ));
            }
            Some(local)
        } else {
            None
        };
        Ok(NewCampaignRequest {
            kind: "broadcast".to_owned(),
            text,
            parse_mode: mode,
            photo: photo.map(|p| p.photo),
            button,
            scheduled_for,
            tz: Some(state().time_zone.get_untracked()),
            paid_broadcast: self.paid.get(),
            audience,
        })
    }
}

/// `12, 40 7` → ids; an empty list is no filter.
fn parse_ids(list: &str) -> Result<Option<Vec<i64>>, Failure> {
    let mut ids = Vec::new();
    for part in list.split(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
        if part.is_empty() {
            continue;
        }
        match part.parse::<i64>() {
            Ok(id) if id > 0 => ids.push(id),
            _ => {
                return Err(Failure::invalid(
                    "audience.user_ids",
                    format!(
                        "«{part}» {}",
                        t(
                            "— не номер участника (числа через запятую)",
                            "is not a user id (numbers, separated by commas)"
                        )
                    ),
                ))
            }
        }
    }
    if ids.len() > 10_000 {
        return Err(Failure::invalid(
            "audience.user_ids",
            t(
                "Не больше 10 000 участников в списке.",
                "At most 10,000 users in the list.",
            ),
        ));
    }
    Ok((!ids.is_empty()).then_some(ids))
}

/// Whether `url` is one a Telegram URL button opens: http(s) with a host, or `tg://`.
pub fn button_url_ok(url: &str) -> bool {
    let Ok(parsed) = web_sys::Url::new(url) else {
        return false;
    };
    match parsed.protocol().as_str() {
        "http:" | "https:" => !parsed.hostname().is_empty() && !url.contains(char::is_whitespace),
        "tg:" => true,
        _ => false,
    }
}

fn button_of(text: &str, url: &str) -> Result<Option<CampaignButton>, Failure> {
    let (text, url) = (text.trim(), url.trim());
    if text.is_empty() && url.is_empty() {
        return Ok(None);
    }
    if text.is_empty() {
        return Err(Failure::invalid(
            "button.text",
            t("Напишите текст кнопки.", "Write the button's text."),
        ));
    }
    if url.is_empty() {
        return Err(Failure::invalid(
            "button.url",
            t(
                "Укажите адрес, который откроет кнопка.",
                "Give the address the button opens.",
            ),
        ));
    }
    if !button_url_ok(url) {
        return Err(Failure::invalid(
            "button.url",
            t(
                "Адрес должен начинаться с https:// (или http://, tg://) и вести на сайт.",
                "The address must start with https:// (or http://, tg://) and name a site.",
            ),
        ));
    }
    Ok(Some(CampaignButton {
        text: text.to_owned(),
        url: url.to_owned(),
    }))
}

/// The API names `text` for everything its content check refuses; the message says
/// which part it was, so it is shown next to that part.
fn placed(failure: Failure) -> Failure {
    if !failure.is_field("text") {
        return failure;
    }
    let message = failure.message.to_lowercase();
    let field = if message.contains("button") {
        "button.url"
    } else if message.contains("photo") {
        "photo"
    } else if message.contains("parse_mode") {
        "parse_mode"
    } else {
        "text"
    };
    Failure {
        field: Some(field.to_owned()),
        ..failure
    }
}

/// `812 Б`, `34 КБ`, `2,4 МБ`.
fn size_of(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{} {}", bytes, t("Б", "B"))
    } else if bytes < 1024 * 1024 {
        format!("{} {}", num(bytes / 1024), t("КБ", "KB"))
    } else {
        let mb = format!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
        let mb = if state().lang.get() == crate::state::Lang::Ru {
            mb.replace('.', ",")
        } else {
            mb
        };
        format!("{mb} {}", t("МБ", "MB"))
    }
}

fn stars(recipients: i64) -> String {
    let stars = recipients as f64 * STARS_PER_MESSAGE;
    let text = format!("{stars:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text).to_owned();
    if state().lang.get() == crate::state::Lang::Ru {
        text.replace('.', ",")
    } else {
        text
    }
}

#[component]
pub fn Broadcast() -> impl IntoView {
    view! {
        <Page ru="Рассылка" en="Broadcast" id="broadcast">
            {move || if can("manager") {
                view! { <Composer/> }.into_any()
            } else {
                view! {
                    <div class="card">
                        <p>{move || t(
                            "Рассылки отправляют менеджеры и владелец. Историю можно посмотреть в разделе «Кампании».",
                            "Broadcasts are sent by managers and the owner. Their history is under Campaigns.",
                        )}</p>
                    </div>
                }.into_any()
            }}
        </Page>
    }
}

#[component]
fn Composer() -> impl IntoView {
    let draft = Draft::new();
    let error = RwSignal::new(None::<Failure>);
    let recipients = RwSignal::new(None::<Answer<i64>>);
    let counting = RwSignal::new(false);
    let confirming = RwSignal::new(None::<NewCampaignRequest>);
    let sending = RwSignal::new(false);
    let navigate = use_navigate();

    // The count follows the audience, once it has stayed put for a moment; an answer
    // for an audience no longer shown is dropped.
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let audience = draft.audience();
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let audience = match audience {
            Ok(audience) => audience,
            Err(problem) => {
                recipients.set(Some(Err(problem)));
                counting.set(false);
                return;
            }
        };
        counting.set(true);
        let ticket = asked.get_value() + 1;
        asked.set_value(ticket);
        let handle = set_timeout_with_handle(
            move || {
                spawn_local(async move {
                    let request = RecipientsRequest {
                        kind: "broadcast".to_owned(),
                        audience,
                    };
                    let answer =
                        api::post::<_, RecipientCount>("/api/campaigns/recipients", &request)
                            .await
                            .map(|count| count.recipients);
                    if asked.try_get_value() == Some(ticket) {
                        recipients.set(Some(answer));
                        counting.set(false);
                    }
                });
            },
            COUNT_AFTER,
        )
        .ok();
        pending.set_value(handle);
    });
    on_cleanup(move || {
        if let Some(handle) = pending.try_get_value().flatten() {
            handle.clear();
        }
    });
    let recipient_count = move || recipients.get().and_then(|answer| answer.ok());

    // A field changed since the last check: its old error no longer applies.
    let touch = move |field: &'static str| {
        if error.get_untracked().is_some_and(|e| e.is_field(field)) {
            error.set(None);
        }
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let request = match draft.request() {
            Ok(request) => request,
            Err(problem) => {
                let field = problem.field.clone();
                error.set(Some(problem));
                focus_field(field.as_deref());
                return;
            }
        };
        if recipient_count() == Some(0) {
            error.set(Some(Failure::invalid(
                "audience",
                t(
                    "В этой аудитории сейчас никого нет: сообщение никто не получит.",
                    "Nobody is in this audience now: no one would get the message.",
                ),
            )));
            return;
        }
        error.set(None);
        confirming.set(Some(request));
    };

    let send = move || {
        let Some(request) = confirming.get_untracked() else {
            return;
        };
        sending.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::post::<_, CampaignDetail>("/api/campaigns", &request).await {
                Ok(detail) => {
                    confirming.set(None);
                    navigate(
                        &format!("/campaigns?id={}", detail.campaign.id),
                        Default::default(),
                    );
                }
                Err(failure) => {
                    confirming.set(None);
                    let failure = placed(failure);
                    let field = failure.field.clone();
                    error.set(Some(failure));
                    focus_field(field.as_deref());
                }
            }
            sending.set(false);
        });
    };

    let preview_text = Signal::derive(move || draft.text.get());
    let preview_mode = Signal::derive(move || draft.mode());
    let preview_photo = Signal::derive(move || draft.photo.get().map(|p| p.url));
    let preview_buttons = Signal::derive(move || {
        let (text, url) = (draft.button_text.get(), draft.button_url.get());
        if text.trim().is_empty() {
            Vec::new()
        } else {
            vec![vec![PreviewButton {
                text: text.trim().to_owned(),
                url: url.trim().to_owned(),
            }]]
        }
    });

    view! {
        // One grid: on a wide screen the preview stays beside the form; on a phone it
        // comes right after the content it shows, before the audience.
        <form class="broadcast-layout" id="broadcast-form" on:submit=submit novalidate>
            <MessageCard draft error touch/>
            <PhotoCard draft error/>
            <ButtonCard draft error touch/>
            <aside class="broadcast-preview">
                <div class="card">
                    <h2>{move || t("Так увидят участники", "What shoppers will see")}</h2>
                    <TelegramPreview id="broadcast-preview" text=preview_text parse_mode=preview_mode
                        photo=preview_photo buttons=preview_buttons
                        placeholder=Signal::derive(move || t(
                            "Начните писать — сообщение появится здесь.",
                            "Start writing and the message appears here.",
                        ).to_owned())/>
                </div>
            </aside>
            <AudienceCard draft error recipients counting/>
            <ScheduleCard draft error touch recipients=Signal::derive(recipient_count)/>
            {move || error.get()
                .filter(|e| !e.field.as_deref().is_some_and(|f| FIELDS.contains(&f)))
                .map(|e| view! { <div class="form-error" id="broadcast-error" role="alert">{e.message}</div> })}
            <div class="row broadcast-submit">
                <button class="btn btn-primary" id="broadcast-send" type="submit"
                    disabled=move || sending.get()>
                    {move || if draft.later.get() {
                        t("Запланировать рассылку…", "Schedule the broadcast…")
                    } else {
                        t("Отправить рассылку…", "Send the broadcast…")
                    }}
                </button>
                <span class="muted small">{move || t(
                    "Перед отправкой покажем, сколько человек её получат.",
                    "You will see how many people get it before it goes.",
                )}</span>
            </div>
        </form>
        {move || confirming.get().map(|request| view! {
            <Confirm request recipients=Signal::derive(recipient_count) sending
                on_cancel=Callback::new(move |_| confirming.set(None))
                on_send=Callback::new({ let send = send.clone(); move |_| send() })/>
        })}
    }
}

/// Moves the keyboard focus to the input of `field`, so the operator lands on the error.
fn focus_field(field: Option<&str>) {
    let id = match field {
        Some("text") | Some("parse_mode") => "text",
        Some("photo") => "photo-file",
        Some("button.text") => "button-text",
        Some("button.url") => "button-url",
        Some("audience.user_ids") => "user-ids",
        Some("scheduled_for") => "scheduled-for",
        _ => return,
    };
    if let Some(element) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

#[component]
fn MessageCard(
    draft: Draft,
    error: RwSignal<Option<Failure>>,
    touch: impl Fn(&'static str) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let area = NodeRef::<leptos::html::Textarea>::new();
    // Wraps the selection (or the cursor) in the marks of the current parse mode.
    let wrap = move |open: &'static str, close: &'static str| {
        let Some(element) = area.get_untracked() else {
            return;
        };
        let value = element.value();
        let chars: Vec<char> = value.chars().collect();
        // selectionStart/End count UTF-16 units; the text is split by chars here.
        let to_char = |units: u32| {
            let mut seen = 0u32;
            chars
                .iter()
                .position(|c| {
                    let before = seen;
                    seen += c.len_utf16() as u32;
                    before >= units
                })
                .unwrap_or(chars.len())
        };
        let start = to_char(element.selection_start().ok().flatten().unwrap_or(0));
        let end = to_char(element.selection_end().ok().flatten().unwrap_or(0)).max(start);
        let before: String = chars[..start].iter().collect();
        let inside: String = chars[start..end].iter().collect();
        let after: String = chars[end..].iter().collect();
        let next = format!("{before}{open}{inside}{close}{after}");
        draft.text.set(next.clone());
        element.set_value(&next);
        let _ = element.focus();
        let caret = (before.encode_utf16().count()
            + open.encode_utf16().count()
            + inside.encode_utf16().count()) as u32;
        let _ = element.set_selection_range(caret, caret);
        touch("text");
    };
    let marks = move |what: &str| -> (&'static str, &'static str) {
        match (draft.parse_mode.get_untracked().as_str(), what) {
            ("HTML", "b") => ("<b>", "</b>"),
            ("HTML", "i") => ("<i>", "</i>"),
            ("HTML", "u") => ("<u>", "</u>"),
            ("HTML", "a") => ("<a href=\"https://\">", "</a>"),
            ("MarkdownV2", "b") => ("*", "*"),
            ("MarkdownV2", "i") => ("_", "_"),
            ("MarkdownV2", "u") => ("__", "__"),
            ("MarkdownV2", "a") => ("[", "](https://)"),
            _ => ("", ""),
        }
    };
    let counter = move || {
        let length = draft.text.get().chars().count();
        let limit = draft.limit();
        (length, limit)
    };
    view! {
        <div class="card stack">
            <h2>{move || t("Сообщение", "Message")}</h2>
            <div class="row-between">
                <label class="field inline-field">
                    <span>{move || t("Разметка", "Formatting")}</span>
                    <select id="parse-mode" prop:value=move || draft.parse_mode.get()
                        on:change=move |ev| { draft.parse_mode.set(event_target_value(&ev)); touch("text"); }>
                        <option value="HTML">"HTML"</option>
                        <option value="MarkdownV2">"MarkdownV2"</option>
                        <option value="">{move || t("Без разметки", "Plain text")}</option>
                    </select>
                </label>
                {move || (!draft.parse_mode.get().is_empty()).then(|| view! {
                    <div class="row format-buttons" role="group" aria-label=move || t("Оформление", "Formatting")>
                        <button type="button" class="btn btn-small" id="format-bold" title=move || t("Жирный", "Bold")
                            on:click=move |_| { let (o, c) = marks("b"); wrap(o, c) }><b>"B"</b></button>
                        <button type="button" class="btn btn-small" id="format-italic" title=move || t("Курсив", "Italic")
                            on:click=move |_| { let (o, c) = marks("i"); wrap(o, c) }><i>"I"</i></button>
                        <button type="button" class="btn btn-small" id="format-underline" title=move || t("Подчёркнутый", "Underline")
                            on:click=move |_| { let (o, c) = marks("u"); wrap(o, c) }><u>"U"</u></button>
                        <button type="button" class="btn btn-small" id="format-link" title=move || t("Ссылка", "Link")
                            on:click=move |_| { let (o, c) = marks("a"); wrap(o, c) }>{move || t("ссылка", "link")}</button>
                    </div>
                })}
            </div>
            <label class="field">
                <span>{move || if draft.photo.get().is_some() { t("Подпись к фото", "Caption") } else { t("Текст", "Text") }}</span>
                <textarea id="text" rows="7" node_ref=area prop:value=move || draft.text.get()
                    aria-invalid=move || error.get().is_some_and(|e| e.is_field("text") || e.is_field("parse_mode")).to_string()
                    aria-describedby="text-hint"
                    on:input=move |ev| { draft.text.set(event_target_value(&ev)); touch("text"); }></textarea>
                <div class="row-between">
                    <span class="hint" id="text-hint">{move || match draft.parse_mode.get().as_str() {
                        "HTML" => t(
                            "<b>жирный</b>, <i>курсив</i>, <u>подчёркнутый</u>, <a href=\"https://…\">ссылка</a>; знаки < > & — как &lt; &gt; &amp;",
                            "<b>bold</b>, <i>italic</i>, <u>underline</u>, <a href=\"https://…\">link</a>; write < > & as &lt; &gt; &amp;",
                        ),
                        "MarkdownV2" => t(
                            "*жирный*, _курсив_, __подчёркнутый__, [ссылка](https://…); знаки _ * [ ] ( ) ~ ` > # + - = | { } . ! — с \\ перед ними",
                            "*bold*, _italic_, __underline__, [link](https://…); put \\ before _ * [ ] ( ) ~ ` > # + - = | { } . !",
                        ),
                        _ => t("Текст уйдёт как есть.", "The text goes as it is."),
                    }}</span>
                    <span class="hint counter" id="text-counter"
                        class:over=move || { let (l, m) = counter(); l > m }>
                        {move || { let (l, m) = counter(); format!("{} / {}", num(l as i64), num(m as i64)) }}
                    </span>
                </div>
                <FieldError error field="text"/>
                <FieldError error field="parse_mode"/>
            </label>
        </div>
    }
}

#[component]
fn PhotoCard(draft: Draft, error: RwSignal<Option<Failure>>) -> impl IntoView {
    let uploading = RwSignal::new(false);
    let gallery = RwSignal::new(None::<Option<Answer<Vec<UploadInfo>>>>);
    let open_gallery = move || {
        gallery.set(Some(None));
        spawn_local(async move {
            let answer = api::get::<UploadPage>("/api/uploads?limit=24")
                .await
                .map(|page| page.uploads);
            if gallery.try_get_untracked().flatten().is_some() {
                gallery.set(Some(Some(answer)));
            }
        });
    };
    let on_file = move |event: leptos::ev::Event| {
        let Some(input) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        // 10 MiB is the API's limit; saying so here spares sending the file.
        if file.size() > 10.0 * 1024.0 * 1024.0 {
            error.set(Some(Failure::invalid(
                "photo",
                t(
                    "Картинка больше 10 МБ — уменьшите её.",
                    "The image is over 10 MB: make it smaller.",
                ),
            )));
            input.set_value("");
            return;
        }
        if error.get_untracked().is_some_and(|e| e.is_field("photo")) {
            error.set(None);
        }
        uploading.set(true);
        spawn_local(async move {
            match api::upload_file::<UploadInfo>("/api/uploads", &file).await {
                Ok(upload) => {
                    draft.photo.set(Some(upload));
                    gallery.set(None);
                }
                Err(failure) => {
                    let message = match failure.status {
                        413 => t(
                            "Картинка больше 10 МБ — уменьшите её.",
                            "The image is over 10 MB: make it smaller.",
                        )
                        .to_owned(),
                        415 => format!(
                            "{} ({})",
                            t(
                                "Подойдёт только JPEG, PNG или WebP",
                                "Only a JPEG, PNG or WebP image will do"
                            ),
                            failure.message
                        ),
                        _ => failure.message.clone(),
                    };
                    error.set(Some(Failure {
                        field: Some("photo".to_owned()),
                        message,
                        ..failure
                    }));
                }
            }
            input.set_value("");
            uploading.set(false);
        });
    };
    view! {
        <div class="card stack">
            <h2>{move || t("Фото", "Photo")}</h2>
            {move || draft.photo.get().map(|photo| {
                let size = format!("{}×{} · {}", photo.width, photo.height, size_of(photo.bytes));
                view! {
                    <div class="row chosen-photo" id="chosen-photo" data-photo=photo.photo.clone()>
                        <img src=photo.url.clone() alt="" class="thumb"/>
                        <div class="stack tight">
                            <span class="mono">{photo.photo.clone()}</span>
                            <span class="muted small">{size}</span>
                        </div>
                        <button type="button" class="btn btn-small btn-danger" id="photo-remove"
                            on:click=move |_| draft.photo.set(None)>{move || t("Убрать фото", "Remove")}</button>
                    </div>
                }
            })}
            <div class="row">
                <label class="btn file-button" class:busy=move || uploading.get()>
                    <input type="file" id="photo-file" class="visually-hidden"
                        accept="image/jpeg,image/png,image/webp"
                        disabled=move || uploading.get()
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("photo")).to_string()
                        on:change=on_file/>
                    {move || if uploading.get() { t("Загружаем…", "Uploading…") } else { t("Загрузить картинку", "Upload an image") }}
                </label>
                <button type="button" class="btn" id="photo-gallery"
                    aria-expanded=move || gallery.get().is_some().to_string()
                    on:click=move |_| if gallery.get_untracked().is_some() { gallery.set(None) } else { open_gallery() }>
                    {move || t("Выбрать из загруженных", "Choose an uploaded one")}
                </button>
                <span class="hint">{move || t("JPEG, PNG или WebP до 10 МБ", "JPEG, PNG or WebP up to 10 MB")}</span>
            </div>
            <FieldError error field="photo"/>
            {move || gallery.get().map(|state| match state {
                None => view! { <Loading/> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                Some(Ok(uploads)) if uploads.is_empty() => view! {
                    <div class="state empty">{move || t("Загруженных картинок пока нет.", "No images uploaded yet.")}</div>
                }.into_any(),
                Some(Ok(uploads)) => view! {
                    <div class="upload-grid" id="upload-gallery">
                        {uploads.into_iter().map(|upload| {
                            let label = format!("{} {}", t("Картинка", "Image"), upload.id);
                            let src = upload.url.clone();
                            let id = format!("upload-{}", upload.id);
                            view! {
                                <button type="button" class="upload-choice" id=id aria-label=label
                                    on:click=move |_| { draft.photo.set(Some(upload.clone())); gallery.set(None); }>
                                    <img src=src alt=""/>
                                </button>
                            }
                        }).collect_view()}
                    </div>
                }.into_any(),
            })}
        </div>
    }
}

#[component]
fn ButtonCard(
    draft: Draft,
    error: RwSignal<Option<Failure>>,
    touch: impl Fn(&'static str) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="card stack">
            <h2>{move || t("Кнопка со ссылкой", "Link button")}</h2>
            <div class="form-grid">
                <label class="field">
                    <span>{move || t("Текст кнопки", "Button text")}</span>
                    <input id="button-text" maxlength="64" prop:value=move || draft.button_text.get()
                        placeholder=move || t("Подробнее", "Learn more")
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("button.text")).to_string()
                        on:input=move |ev| { draft.button_text.set(event_target_value(&ev)); touch("button.text"); }/>
                    <FieldError error field="button.text"/>
                </label>
                <label class="field">
                    <span>{move || t("Адрес", "Address")}</span>
                    <input id="button-url" type="url" inputmode="url" prop:value=move || draft.button_url.get()
                        placeholder="https://"
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("button.url")).to_string()
                        on:input=move |ev| { draft.button_url.set(event_target_value(&ev)); touch("button.url"); }/>
                    <FieldError error field="button.url"/>
                </label>
            </div>
            <span class="hint">{move || t(
                "Необязательно. Кнопка появится под сообщением и откроет адрес.",
                "Optional. The button sits under the message and opens the address.",
            )}</span>
        </div>
    }
}

#[component]
fn AudienceCard(
    draft: Draft,
    error: RwSignal<Option<Failure>>,
    recipients: RwSignal<Option<Answer<i64>>>,
    counting: RwSignal<bool>,
) -> impl IntoView {
    let segments: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ); 3] = [
        (
            "all",
            "Все зарегистрированные",
            "Everyone registered",
            "кроме заблокированных и тех, кто остановил бота",
            "except the banned and those who stopped the bot",
        ),
        (
            "with_receipts",
            "С принятым чеком",
            "With an accepted receipt",
            "хотя бы один чек принят",
            "at least one receipt accepted",
        ),
        (
            "without_receipts",
            "Без принятых чеков",
            "Without accepted receipts",
            "зарегистрировались, но чек ещё не приняли — для напоминания",
            "registered, no receipt accepted yet: for a reminder",
        ),
    ];
    let clear_audience_error = move || {
        if error
            .get_untracked()
            .is_some_and(|e| e.is_field("audience") || e.is_field("audience.user_ids"))
        {
            error.set(None);
        }
    };
    view! {
        <div class="card stack">
            <div class="row-between">
                <h2>{move || t("Аудитория", "Audience")}</h2>
                <div class="recipient-count" id="recipient-count" aria-live="polite"
                    data-count=move || recipients.get().and_then(|a| a.ok()).map(|n| n.to_string()).unwrap_or_default()
                    data-busy=move || counting.get().to_string()>
                    {move || match recipients.get() {
                        _ if counting.get() => view! { <span class="spinner" aria-hidden="true"></span> {t("Считаем…", "Counting…")} }.into_any(),
                        Some(Ok(count)) => view! {
                            <span class="muted">{t("Получат:", "Recipients:")}</span> " "
                            <strong id="recipient-number">{num(count)}</strong>
                        }.into_any(),
                        Some(Err(failure)) if failure.field.as_deref() == Some("audience.user_ids") => ().into_any(),
                        Some(Err(failure)) => view! { <span class="field-error">{failure.message}</span> }.into_any(),
                        None => ().into_any(),
                    }}
                </div>
            </div>
            <fieldset class="choices">
                <legend class="visually-hidden">{move || t("Кому", "Who")}</legend>
                {segments.into_iter().map(|(value, ru, en, hint_ru, hint_en)| view! {
                    <label class="choice">
                        <input type="radio" name="segment" id=format!("segment-{value}") value=value
                            prop:checked=move || draft.segment.get() == value
                            on:change=move |_| { draft.segment.set(value.to_owned()); clear_audience_error(); }/>
                        <span>
                            <span class="choice-title">{move || t(ru, en)}</span>
                            <span class="hint">{move || t(hint_ru, hint_en)}</span>
                        </span>
                    </label>
                }).collect_view()}
            </fieldset>
            <div class="form-grid">
                <label class="field">
                    <span>{move || t("Язык бота у участника", "The shopper's bot language")}</span>
                    <select id="language" prop:value=move || draft.language.get()
                        on:change=move |ev| { draft.language.set(event_target_value(&ev)); clear_audience_error(); }>
                        <option value="">{move || t("Любой", "Any")}</option>
                        <option value="ru">{move || t("Русский", "Russian")}</option>
                        <option value="en">{move || t("Английский", "English")}</option>
                    </select>
                </label>
                <label class="field">
                    <span>{move || t("Только эти участники (номера)", "Only these users (ids)")}</span>
                    <input id="user-ids" prop:value=move || draft.user_ids.get() placeholder="12, 40, 57"
                        inputmode="numeric"
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("audience.user_ids"))
                            .to_string()
                        on:input=move |ev| { draft.user_ids.set(event_target_value(&ev)); clear_audience_error(); }/>
                    {move || recipients.get()
                        .and_then(|a| a.err())
                        .filter(|e| e.is_field("audience.user_ids"))
                        .filter(|_| !error.get().is_some_and(|e| e.is_field("audience.user_ids")))
                        .map(|e| view! { <div class="field-error" role="alert">{e.message}</div> })}
                    <FieldError error field="audience.user_ids"/>
                    <span class="hint">{move || t(
                        "Необязательно: номера из раздела «Участники»; остальные условия тоже применяются.",
                        "Optional: ids from Users; the other conditions still apply.",
                    )}</span>
                </label>
            </div>
            <FieldError error field="audience"/>
        </div>
    }
}

#[component]
fn ScheduleCard(
    draft: Draft,
    error: RwSignal<Option<Failure>>,
    touch: impl Fn(&'static str) + Copy + Send + Sync + 'static,
    #[prop(into)] recipients: Signal<Option<i64>>,
) -> impl IntoView {
    let zone = move || state().time_zone.get();
    view! {
        <div class="card stack">
            <h2>{move || t("Когда и как", "When and how")}</h2>
            <fieldset class="choices row">
                <legend class="visually-hidden">{move || t("Когда", "When")}</legend>
                <label class="choice">
                    <input type="radio" name="when" id="when-now" prop:checked=move || !draft.later.get()
                        on:change=move |_| { draft.later.set(false); touch("scheduled_for"); }/>
                    <span class="choice-title">{move || t("Сразу", "Right away")}</span>
                </label>
                <label class="choice">
                    <input type="radio" name="when" id="when-later" prop:checked=move || draft.later.get()
                        on:change=move |_| draft.later.set(true)/>
                    <span class="choice-title">{move || t("Запланировать", "Schedule")}</span>
                </label>
            </fieldset>
            {move || draft.later.get().then(|| view! {
                <label class="field schedule-field">
                    <span>{move || format!("{} ({})", t("Дата и время", "Date and time"), zone())}</span>
                    <input type="datetime-local" id="scheduled-for" prop:value=move || draft.scheduled_for.get()
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("scheduled_for")).to_string()
                        on:input=move |ev| { draft.scheduled_for.set(event_target_value(&ev)); touch("scheduled_for"); }/>
                    <span class="hint">{move || t("Время по поясу акции, не по часам этого компьютера.", "In the promotion's time zone, not this computer's.")}</span>
                    <FieldError error field="scheduled_for"/>
                </label>
            })}
            <label class="check">
                <input type="checkbox" id="paid" prop:checked=move || draft.paid.get()
                    on:change=move |ev| draft.paid.set(event_target_checked(&ev))/>
                <span>{move || t("Платная рассылка (быстрее лимита Telegram)", "Paid broadcast (past Telegram's speed limit)")}</span>
            </label>
            {move || draft.paid.get().then(|| view! {
                <div class="warning" id="paid-warning" role="note">
                    <strong>{move || t("Это стоит звёзд Telegram. ", "This costs Telegram Stars. ")}</strong>
                    {move || t(
                        "Обычно бот отправляет не больше 30 сообщений в секунду. С платной рассылкой Telegram разрешает до 1000 в секунду, но списывает с баланса бота 0,1 звезды за каждое сообщение",
                        "A bot normally sends at most 30 messages a second. A paid broadcast may send up to 1000 a second, and Telegram takes 0.1 Star from the bot's balance for each message",
                    )}
                    {move || recipients.get().map(|n| format!(
                        " — {} {} {} {} ⭐",
                        t("для", "for"), num(n), t("получателей до", "recipients up to"), stars(n),
                    ))}
                    ". "
                    {move || t(
                        "Без звёзд на балансе сообщения не уйдут. Скорость отправки задаёт сервер (BROADCAST_RATE).",
                        "Without Stars on the balance the messages fail. The server's BROADCAST_RATE sets the speed.",
                    )}
                </div>
            })}
        </div>
    }
}

/// The last look before sending: how many, when, and what it costs.
#[component]
fn Confirm(
    request: NewCampaignRequest,
    #[prop(into)] recipients: Signal<Option<i64>>,
    sending: RwSignal<bool>,
    on_cancel: Callback<()>,
    on_send: Callback<()>,
) -> impl IntoView {
    let at = request.scheduled_for.clone().and_then(|l| local_to_utc(&l));
    let later = at.is_some();
    let paid = request.paid_broadcast;
    let confirm_ref = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = confirm_ref.get() {
            let _ = button.focus();
        }
    });
    view! {
        <div class="dialog-backdrop" on:keydown=move |ev: leptos::ev::KeyboardEvent| {
            if ev.key() == "Escape" && !sending.get_untracked() { on_cancel.run(()) }
        }>
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="confirm-title" id="confirm-dialog">
                <h2 id="confirm-title">{move || if later { t("Запланировать рассылку?", "Schedule the broadcast?") } else { t("Отправить рассылку?", "Send the broadcast?") }}</h2>
                <p>
                    {move || t("Получателей сейчас: ", "Recipients now: ")}
                    <strong id="confirm-recipients">{move || recipients.get().map(num).unwrap_or_else(|| "…".to_owned())}</strong>
                    {move || at.clone().map(|at| format!(" · {} {}", t("отправка", "sending at"), when(&at)))}
                </p>
                {paid.then(|| view! {
                    <p class="warning">{move || format!(
                        "{} {} ⭐",
                        t("Платная рассылка: до", "Paid broadcast: up to"),
                        recipients.get().map(stars).unwrap_or_else(|| "…".to_owned())
                    )}</p>
                })}
                <p class="muted small">{move || t(
                    "Ход рассылки откроется сразу после создания; её можно приостановить или отменить.",
                    "Its progress opens right after; it can be paused or cancelled.",
                )}</p>
                <div class="row dialog-actions">
                    <button type="button" class="btn btn-primary" id="confirm-send" node_ref=confirm_ref
                        disabled=move || sending.get() on:click=move |_| on_send.run(())>
                        {move || if sending.get() { t("Создаём…", "Creating…") } else if later { t("Запланировать", "Schedule") } else { t("Отправить", "Send") }}
                    </button>
                    <button type="button" class="btn" id="confirm-cancel" disabled=move || sending.get()
                        on:click=move |_| on_cancel.run(())>{move || t("Вернуться", "Back")}</button>
                </div>
            </div>
        </div>
    }
}
