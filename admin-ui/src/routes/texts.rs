//! The bot's texts: every key with its placeholders, the Russian and English versions,
//! which are the operator's own, an editor that previews the text as a Telegram bubble
//! (`POST …/preview` fills in sample values and runs the save's checks), save and
//! reset to the default. A search by key or wording narrows the list.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use promo_api_types::panel::{TextEdit, TextEntry, TextPreview, TextVersion};

use super::Page;
use crate::api::{self, Answer, Failure};
use crate::chat::{pause, TgBubble};
use crate::components::{Empty, ErrorBox, FieldError, Loading};
use crate::state::{can, t};

/// Telegram's limit on one message.
const MAX_CHARS: usize = 4096;

fn version(entry: &TextEntry, lang: &str) -> TextVersion {
    if lang == "en" {
        entry.en.clone()
    } else {
        entry.ru.clone()
    }
}

fn current(entry: &TextEntry, lang: &str) -> String {
    let v = version(entry, lang);
    v.custom.unwrap_or(v.default)
}

fn is_custom(entry: &TextEntry) -> bool {
    entry.ru.custom.is_some() || entry.en.custom.is_some()
}

/// The placeholder names a template uses, as the bot reads them (`{name}` and
/// `{n|form|form}`; in `{{x}` the first brace is text).
fn used_placeholders(template: &str) -> Vec<String> {
    let chars: Vec<char> = template.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '{' {
            i += 1;
            continue;
        }
        let Some(length) = chars[i + 1..].iter().position(|c| *c == '}') else {
            break;
        };
        let inner: String = chars[i + 1..i + 1 + length].iter().collect();
        if inner.contains('{') {
            i += 1;
            continue;
        }
        let name = inner.split('|').next().unwrap_or_default().to_owned();
        if !found.contains(&name) {
            found.push(name);
        }
        i += length + 2;
    }
    found
}

/// What the form can tell before sending: empty, too long, or a placeholder the text's
/// code does not fill.
fn check(body: &str, allowed: &[String]) -> Result<(), String> {
    if body.trim().is_empty() {
        return Err(t("Текст не может быть пустым.", "The text must not be empty.").to_owned());
    }
    if body.chars().count() > MAX_CHARS {
        return Err(t(
            "Текст длиннее 4096 символов — Telegram его не отправит.",
            "The text is longer than 4096 characters: Telegram would not send it.",
        )
        .to_owned());
    }
    if let Some(unknown) = used_placeholders(body)
        .into_iter()
        .find(|name| !allowed.contains(name))
    {
        let known = if allowed.is_empty() {
            t("в этом тексте подстановок нет", "this text has none").to_owned()
        } else {
            allowed
                .iter()
                .map(|n| format!("{{{n}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "{} {{{unknown}}}: {known}.",
            t("Неизвестная подстановка", "Unknown placeholder")
        ));
    }
    Ok(())
}

/// On a narrow screen the editor sits above the list: bring it into view once drawn.
fn reveal_editor() {
    let narrow = web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|w| w.as_f64())
        .is_some_and(|w| w <= 900.0);
    if narrow {
        spawn_local(async {
            pause(0).await;
            if let Some(editor) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("text-editor"))
            {
                editor.scroll_into_view_with_bool(true);
            }
        });
    }
}

#[component]
pub fn Texts() -> impl IntoView {
    let entries = RwSignal::new(None::<Answer<Vec<TextEntry>>>);
    spawn_local(async move {
        entries.set(Some(api::get::<Vec<TextEntry>>("/api/texts").await));
    });
    let search = RwSignal::new(String::new());
    let only_custom = RwSignal::new(false);
    let selected = RwSignal::new(None::<String>);

    let shown = move || -> Vec<TextEntry> {
        let needle = search.get().trim().to_lowercase();
        let custom = only_custom.get();
        entries.with(|e| match e {
            Some(Ok(list)) => list
                .iter()
                .filter(|entry| !custom || is_custom(entry))
                .filter(|entry| {
                    needle.is_empty()
                        || entry.key.to_lowercase().contains(&needle)
                        || current(entry, "ru").to_lowercase().contains(&needle)
                        || current(entry, "en").to_lowercase().contains(&needle)
                })
                .cloned()
                .collect(),
            _ => Vec::new(),
        })
    };
    let total =
        move || entries.with(|e| e.as_ref().and_then(|e| e.as_ref().ok()).map_or(0, Vec::len));

    // Only the loading state redraws the page: an edit of one text must not redraw
    // (and so reset) the editor.
    let phase = Memo::new(move |_| {
        entries.with(|e| match e {
            None => None,
            Some(Ok(_)) => Some(Ok(())),
            Some(Err(failure)) => Some(Err(failure.clone())),
        })
    });
    view! {
        <Page ru="Тексты бота" en="Bot texts" id="texts">
            {move || match phase.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                Some(Ok(())) => view! {
                    <div class="toolbar">
                        <label class="field grow">
                            <span>{move || t("Поиск по ключу или тексту", "Search by key or wording")}</span>
                            <input id="texts-search" type="search" autocomplete="off"
                                placeholder=move || t("например, welcome или «чек»", "e.g. welcome or “receipt”")
                                bind:value=search/>
                        </label>
                        <label class="check toolbar-check">
                            <input type="checkbox" id="texts-custom-only" bind:checked=only_custom/>
                            <span>{move || t("Только изменённые", "Changed only")}</span>
                        </label>
                    </div>
                    <div class="texts-layout" class:has-selection=move || selected.with(Option::is_some)>
                        <div class="texts-list card">
                            <div class="muted small texts-count" id="texts-count">
                                {move || format!("{} {} {}", shown().len(), t("из", "of"), total())}
                            </div>
                            {move || {
                                let list = shown();
                                if list.is_empty() {
                                    return view! { <Empty text=Signal::derive(|| t("Ничего не найдено.", "Nothing found.").to_owned())/> }.into_any();
                                }
                                view! {
                                    <ul class="text-items" role="list">
                                        {list.into_iter().map(|entry| {
                                            let key = entry.key.clone();
                                            let pick = key.clone();
                                            let is_selected = key.clone();
                                            let data_key = key.clone();
                                            let snippet: String = current(&entry, "ru").chars().take(90).collect();
                                            let ru_custom = entry.ru.custom.is_some();
                                            let en_custom = entry.en.custom.is_some();
                                            view! {
                                                <li>
                                                    <button type="button" class="text-item" data-key=data_key
                                                        aria-pressed=move || (selected.get().as_deref() == Some(is_selected.as_str())).to_string()
                                                        on:click=move |_| {
                                                            selected.set(Some(pick.clone()));
                                                            reveal_editor();
                                                        }>
                                                        <span class="row-between">
                                                            <span class="mono">{key}</span>
                                                            <span class="row">
                                                                {ru_custom.then(|| view! { <span class="badge badge-busy">"RU"</span> })}
                                                                {en_custom.then(|| view! { <span class="badge badge-busy">"EN"</span> })}
                                                            </span>
                                                        </span>
                                                        <span class="muted small text-snippet">{snippet}</span>
                                                    </button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </div>
                        <div class="texts-editor">
                            {move || match selected.get() {
                                None => view! {
                                    <div class="card">
                                        <Empty text=Signal::derive(|| t(
                                            "Выберите текст слева: его можно изменить, посмотреть, как его увидит участник, и вернуть исходный.",
                                            "Pick a text: edit it, see it as a shopper will, or put the original back.",
                                        ).to_owned())/>
                                    </div>
                                }.into_any(),
                                Some(key) => view! { <TextEditor key entries selected/> }.into_any(),
                            }}
                        </div>
                    </div>
                }.into_any(),
            }}
        </Page>
    }
}

#[component]
fn TextEditor(
    key: String,
    entries: RwSignal<Option<Answer<Vec<TextEntry>>>>,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let entry_key = key.clone();
    let entry = move || -> Option<TextEntry> {
        entries.with(|e| match e {
            Some(Ok(list)) => list.iter().find(|x| x.key == entry_key).cloned(),
            _ => None,
        })
    };
    let Some(initial) = entry() else {
        return view! { <div class="card"><Empty text=Signal::derive(|| t("Нет такого текста.", "No such text.").to_owned())/></div> }.into_any();
    };
    let placeholders = StoredValue::new(initial.placeholders.clone());
    let lang = RwSignal::new("ru");
    let draft = RwSignal::new(current(&initial, "ru"));
    let error = RwSignal::new(None::<Failure>);
    let preview = RwSignal::new(None::<String>);
    let previewing = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let saved = RwSignal::new(None::<&'static str>);
    let generation = StoredValue::new(0u64);
    let area = NodeRef::<html::Textarea>::new();
    let path = {
        let key = key.clone();
        move || format!("/api/texts/{key}/{}", lang.get_untracked())
    };
    let path = StoredValue::new(path);

    let entry_now = StoredValue::new(entry);
    let version_now = move || {
        entry_now
            .with_value(|e| e())
            .map(|e| version(&e, lang.get()))
    };
    let custom = move || version_now().is_some_and(|v| v.custom.is_some());
    let dirty = move || {
        let now = entry_now
            .with_value(|e| e())
            .map(|e| current(&e, lang.get()));
        now.is_some_and(|now| now != draft.get())
    };

    // The preview follows the text, a moment after typing stops.
    let run_preview = move || {
        let body = draft.get_untracked();
        generation.update_value(|g| *g += 1);
        let ticket = generation.get_value();
        spawn_local(async move {
            pause(450).await;
            if generation.try_get_value() != Some(ticket) {
                return;
            }
            previewing.set(true);
            let url = format!("{}/preview", path.with_value(|p| p()));
            let answer = api::post::<_, TextPreview>(&url, &TextEdit { body }).await;
            if generation.try_get_value() != Some(ticket) {
                return;
            }
            previewing.set(false);
            match answer {
                Ok(rendered) => {
                    preview.set(Some(rendered.text));
                    if error.get_untracked().is_some_and(|e| e.is_field("body")) {
                        error.set(None);
                    }
                }
                Err(failure) => {
                    preview.set(None);
                    error.set(Some(failure));
                }
            }
        });
    };
    run_preview();

    let switch = move |to: &'static str| {
        if lang.get_untracked() == to {
            return;
        }
        lang.set(to);
        if let Some(e) = entry_now.with_value(|e| e()) {
            draft.set(current(&e, to));
        }
        error.set(None);
        saved.set(None);
        run_preview();
    };

    let insert = move |name: String| {
        let token = format!("{{{name}}}");
        let text = draft.get_untracked();
        let Some(element) = area.get_untracked() else {
            draft.set(text + &token);
            return;
        };
        // The caret is counted in UTF-16 units, as the browser counts.
        let units: Vec<u16> = text.encode_utf16().collect();
        let start = element
            .selection_start()
            .ok()
            .flatten()
            .map_or(units.len(), |s| (s as usize).min(units.len()));
        let end = element
            .selection_end()
            .ok()
            .flatten()
            .map_or(start, |s| (s as usize).clamp(start, units.len()));
        let before = String::from_utf16_lossy(&units[..start]);
        let after = String::from_utf16_lossy(&units[end..]);
        draft.set(format!("{before}{token}{after}"));
        let caret = (start + token.encode_utf16().count()) as u32;
        let _ = element.focus();
        let _ = element.set_selection_range(caret, caret);
        run_preview();
    };

    let save = move |_| {
        let body = draft.get_untracked();
        if let Err(problem) = placeholders.with_value(|allowed| check(&body, allowed)) {
            error.set(Some(Failure::invalid("body", problem)));
            return;
        }
        error.set(None);
        saved.set(None);
        busy.set(true);
        let language = lang.get_untracked();
        let key = entry_now
            .with_value(|e| e())
            .map(|e| e.key)
            .unwrap_or_default();
        spawn_local(async move {
            let url = path.with_value(|p| p());
            match api::put::<_, serde_json::Value>(&url, &TextEdit { body: body.clone() }).await {
                Ok(answer) => {
                    let stored = answer["body"].as_str().map(str::to_owned).unwrap_or(body);
                    entries.update(|e| {
                        if let Some(Ok(list)) = e {
                            if let Some(entry) = list.iter_mut().find(|x| x.key == key) {
                                let v = if language == "en" {
                                    &mut entry.en
                                } else {
                                    &mut entry.ru
                                };
                                v.custom = Some(stored.clone());
                            }
                        }
                    });
                    draft.set(stored);
                    saved.set(Some(t(
                        "Сохранено: бот уже отвечает новым текстом.",
                        "Saved: the bot answers with the new text now.",
                    )));
                }
                Err(failure) => error.set(Some(failure)),
            }
            busy.set(false);
        });
    };

    let reset = move |_| {
        error.set(None);
        saved.set(None);
        busy.set(true);
        let language = lang.get_untracked();
        let key = entry_now
            .with_value(|e| e())
            .map(|e| e.key)
            .unwrap_or_default();
        spawn_local(async move {
            let url = path.with_value(|p| p());
            match api::delete::<()>(&url).await {
                Ok(()) => {
                    let mut default = String::new();
                    entries.update(|e| {
                        if let Some(Ok(list)) = e {
                            if let Some(entry) = list.iter_mut().find(|x| x.key == key) {
                                let v = if language == "en" {
                                    &mut entry.en
                                } else {
                                    &mut entry.ru
                                };
                                v.custom = None;
                                default = v.default.clone();
                            }
                        }
                    });
                    draft.set(default);
                    saved.set(Some(t(
                        "Возвращён текст по умолчанию.",
                        "Back to the default text.",
                    )));
                    run_preview();
                }
                Err(failure) => error.set(Some(failure)),
            }
            busy.set(false);
        });
    };

    let editable = move || can("manager");
    let title = key.clone();
    view! {
        <div class="card stack text-editor" id="text-editor" data-key=key>
            <div class="row-between">
                <h2 class="mono text-key">{title}</h2>
                <button type="button" class="btn btn-ghost btn-small" id="text-close"
                    on:click=move |_| selected.set(None)>{move || t("Закрыть", "Close")}</button>
            </div>
            <div class="tabs" role="tablist">
                {[("ru", "Русский"), ("en", "English")].into_iter().map(|(code, label)| view! {
                    <button type="button" class="tab" role="tab" id=format!("text-lang-{code}")
                        aria-selected=move || (lang.get() == code).to_string()
                        on:click=move |_| switch(code)>
                        {label}
                        {move || entry_now.with_value(|e| e()).is_some_and(|e| version(&e, code).custom.is_some())
                            .then(|| view! { " " <span class="badge badge-busy">{t("свой", "custom")}</span> })}
                    </button>
                }).collect_view()}
            </div>
            <div class="row">
                <span class="muted small">{move || t("Подстановки:", "Placeholders:")}</span>
                {move || {
                    let names = placeholders.get_value();
                    if names.is_empty() {
                        view! { <span class="muted small">{t("нет", "none")}</span> }.into_any()
                    } else {
                        names.into_iter().map(|name| {
                            let label = format!("{{{name}}}");
                            view! {
                                <button type="button" class="btn btn-small chip" disabled=move || !editable()
                                    title=move || t("Вставить в текст", "Insert into the text")
                                    on:click=move |_| insert(name.clone())>{label}</button>
                            }
                        }).collect_view().into_any()
                    }
                }}
            </div>
            <label class="field">
                <span class="row-between">
                    <span>{move || if custom() { t("Свой текст", "Custom text") } else { t("Текст по умолчанию", "Default text") }}</span>
                    <span class="muted small">{move || format!("{} / {MAX_CHARS}", draft.with(|d| d.chars().count()))}</span>
                </span>
                <textarea id="text-body" node_ref=area rows="6" disabled=move || !editable()
                    aria-invalid=move || error.get().is_some_and(|e| e.is_field("body")).to_string()
                    prop:value=move || draft.get()
                    on:input=move |e| {
                        draft.set(event_target_value(&e));
                        saved.set(None);
                        run_preview();
                    }></textarea>
                <FieldError error field="body"/>
            </label>
            <div class="stack-tight">
                <div class="row-between">
                    <h3>{move || t("Так увидит участник", "As a shopper sees it")}</h3>
                    <A href="/test-chat" attr:class="small">{move || t("Проверить в тестовом чате →", "Try it in the test chat →")}</A>
                </div>
                <div class="tg text-preview" id="text-preview" aria-busy=move || previewing.get().to_string()>
                    {move || match preview.get() {
                        Some(text) => view! { <TgBubble text=text/> }.into_any(),
                        None if previewing.get() => view! { <Loading/> }.into_any(),
                        None => view! {
                            <div class="muted small">{t("Предпросмотр появится, когда текст пройдёт проверку.", "The preview appears once the text passes the checks.")}</div>
                        }.into_any(),
                    }}
                </div>
                <p class="hint muted small">{move || t(
                    "Вместо подстановок показаны примеры значений.",
                    "Placeholders are filled with sample values.",
                )}</p>
            </div>
            {move || editable().then(|| view! {
                <div class="row">
                    <button type="button" class="btn btn-primary" id="text-save"
                        disabled=move || busy.get() || !dirty() on:click=save>
                        {move || if busy.get() { t("Сохраняем…", "Saving…") } else { t("Сохранить", "Save") }}
                    </button>
                    <button type="button" class="btn" id="text-undo" disabled=move || busy.get() || !dirty()
                        on:click=move |_| {
                            if let Some(e) = entry_now.with_value(|e| e()) {
                                draft.set(current(&e, lang.get_untracked()));
                            }
                            error.set(None);
                            run_preview();
                        }>{move || t("Отменить правки", "Undo edits")}</button>
                    {move || custom().then(|| view! {
                        <button type="button" class="btn btn-danger" id="text-reset" disabled=move || busy.get()
                            on:click=reset>{move || t("Вернуть по умолчанию", "Reset to default")}</button>
                    })}
                </div>
            })}
            {move || error.get().filter(|e| !e.is_field("body")).map(|e| view! { <div class="form-error" role="alert">{e.message}</div> })}
            {move || saved.get().map(|note| view! { <div class="notice" id="text-saved">{note}</div> })}
            {move || custom().then(|| {
                let default = version_now().map(|v| v.default).unwrap_or_default();
                view! {
                    <details class="text-default">
                        <summary>{move || t("Текст по умолчанию", "The default text")}</summary>
                        <div class="pre-wrap muted">{default}</div>
                    </details>
                }
            })}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_read_as_the_bot_reads_them() {
        assert_eq!(
            used_placeholders("Привет, {name}! {n|чек|чека|чеков} {{x}"),
            vec!["name".to_owned(), "n".to_owned(), "x".to_owned()]
        );
        assert!(used_placeholders("без подстановок").is_empty());
    }
}
