//! A new raffle: title and kind, the receipt window (dates in the promotion's zone),
//! prizes (name, quantity, value, photo), reserves and rules, the win and lose messages
//! with their placeholders and a live preview, and when to draw. Everything is checked
//! here first; what the API still refuses is shown next to the field it names.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use promo_api_types::panel::{
    NewRaffleRequest, RaffleDetail, RaffleMessageBody, RafflePrize, UploadInfo,
};
use wasm_bindgen::JsCast;

use super::Page;
use crate::api::{self, Failure};
use crate::components::{FieldError, FormError};
use crate::state::{can, local_to_utc, num, state, t};

/// What the API sends a winner when the operator writes nothing (core's
/// `DEFAULT_WIN_MESSAGE`), offered as the starting text.
const DEFAULT_WIN: &str = "{name}, поздравляем! Вы выиграли в розыгрыше: {prize}. \
    Скоро мы свяжемся с вами и расскажем, как получить приз.";
const DEFAULT_LOSE: &str = "{name}, в этот раз удача была не на вашей стороне. \
    У вас {tickets|билет|билета|билетов} — ждём вас в следующем розыгрыше!";
/// The placeholders a raffle message takes, with what each becomes.
const PLACEHOLDERS: &[(&str, &str, &str)] = &[
    ("name", "имя участника", "the shopper's name"),
    ("prize", "приз", "the prize"),
    ("tickets", "число билетов", "their tickets"),
];
/// Above this value (roubles) the winner hands in documents before the prize.
const DOCUMENTS_ABOVE_RUB: i64 = 4_000;
const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;

/// An uploaded picture: what the request takes (`upload:<id>`) and where to show it.
#[derive(Debug, Clone, PartialEq)]
struct Photo {
    photo: String,
    url: String,
}

#[derive(Clone, Copy)]
struct PrizeRow {
    key: u32,
    name: RwSignal<String>,
    quantity: RwSignal<String>,
    value: RwSignal<String>,
    photo: RwSignal<Option<Photo>>,
}

impl PrizeRow {
    fn new(key: u32) -> Self {
        PrizeRow {
            key,
            name: RwSignal::new(String::new()),
            quantity: RwSignal::new("1".to_owned()),
            value: RwSignal::new(String::new()),
            photo: RwSignal::new(None),
        }
    }
}

#[component]
pub fn RaffleNew() -> impl IntoView {
    view! {
        <Page ru="Новый розыгрыш" en="New raffle" id="raffle-new-page">
            {move || if can("manager") {
                view! { <RaffleForm/> }.into_any()
            } else {
                view! {
                    <div class="card">
                        <p>{move || t(
                            "Создавать розыгрыши могут менеджер и владелец.",
                            "Only a manager or the owner creates raffles.",
                        )}</p>
                        <A href="/raffles">{move || t("К розыгрышам", "To the raffles")}</A>
                    </div>
                }.into_any()
            }}
        </Page>
    }
}

#[component]
fn RaffleForm() -> impl IntoView {
    let navigate = use_navigate();
    let title = RwSignal::new(String::new());
    let kind = RwSignal::new("final".to_owned());
    let window_from = RwSignal::new(String::new());
    let window_to = RwSignal::new(String::new());
    let next_key = RwSignal::new(1u32);
    let prizes = RwSignal::new(vec![PrizeRow::new(0)]);
    let reserves = RwSignal::new("1".to_owned());
    let multiple_wins = RwSignal::new(false);
    let burn = RwSignal::new(false);
    let win_text = RwSignal::new(DEFAULT_WIN.to_owned());
    let win_photo = RwSignal::new(None::<Photo>);
    let notify_losers = RwSignal::new(false);
    let lose_text = RwSignal::new(String::new());
    let lose_photo = RwSignal::new(None::<Photo>);
    let later = RwSignal::new(false);
    let scheduled_at = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);

    // A final draw never burns tickets: the box goes off with the choice.
    Effect::new(move |_| {
        if kind.get() == "final" {
            burn.set(false);
        }
    });
    // Asking to tell the losers offers a starting text.
    Effect::new(move |_| {
        if notify_losers.get() && lose_text.get_untracked().trim().is_empty() {
            lose_text.set(DEFAULT_LOSE.to_owned());
        }
    });

    let add_prize = move |_| {
        let key = next_key.get_untracked();
        next_key.set(key + 1);
        prizes.update(|rows| rows.push(PrizeRow::new(key)));
        // The new row's name is where the operator types next.
        let index = prizes.with_untracked(|rows| rows.len() - 1);
        request_animation_frame(move || focus(&format!("prize-name-{index}")));
    };

    let picks = move || {
        let winners: i64 = prizes.with(|rows| {
            rows.iter()
                .map(|r| {
                    r.quantity
                        .with(|q| q.trim().parse::<i64>().unwrap_or(0))
                        .max(0)
                })
                .sum()
        });
        let reserves = reserves
            .with(|r| r.trim().parse::<i64>().unwrap_or(0))
            .max(0);
        (winners, reserves * prizes.with(|rows| rows.len() as i64))
    };
    let sample_prize = Signal::derive(move || {
        prizes
            .with(|rows| rows.first().map(|r| r.name.get()))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "iPhone 16".to_owned())
    });

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let request = match build_request(&Form {
            title,
            kind,
            window_from,
            window_to,
            prizes,
            reserves,
            multiple_wins,
            burn,
            win_text,
            win_photo,
            notify_losers,
            lose_text,
            lose_photo,
            later,
            scheduled_at,
        }) {
            Ok(request) => request,
            Err(failure) => {
                show_failure(error, failure);
                return;
            }
        };
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::post::<_, RaffleDetail>("/api/raffles", &request).await {
                Ok(created) => navigate(
                    &format!("/raffles/{}", created.raffle.id),
                    Default::default(),
                ),
                Err(failure) => show_failure(error, failure),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="stack" id="raffle-form" on:submit=submit novalidate>
            <div class="card">
                <h2>{move || t("Основное", "Basics")}</h2>
                <div class="form-grid">
                    <label class="field full">
                        <span>{move || t("Название", "Title")}</span>
                        <input id="raffle-title" maxlength="200" bind:value=title
                            placeholder=move || t("Например: Финальный розыгрыш лета", "E.g. The summer final")
                            aria-invalid=move || invalid(error, "title")/>
                        <FieldError error field="title"/>
                    </label>
                    <label class="field">
                        <span>{move || t("Вид", "Kind")}</span>
                        <select id="raffle-kind" bind:value=kind aria-invalid=move || invalid(error, "kind")>
                            <option value="final">{move || t("Финальный", "Final")}</option>
                            <option value="intermediate">{move || t("Промежуточный", "Intermediate")}</option>
                        </select>
                        <span class="hint">{move || if kind.get() == "final" {
                            t("Главный розыгрыш акции.", "The promotion's main draw.")
                        } else {
                            t("Например, еженедельный; может сжигать использованные билеты.",
                              "E.g. a weekly one; it may burn the tickets it used.")
                        }}</span>
                        <FieldError error field="kind"/>
                    </label>
                    <div class="field">
                        <span>{move || t("Чеки, купленные", "Receipts bought")}</span>
                        <div class="date-range">
                            <label class="field">
                                <span class="hint">{move || t("с", "from")}</span>
                                <input id="raffle-window-from" type="date" bind:value=window_from
                                    aria-invalid=move || invalid(error, "window_from")/>
                            </label>
                            <label class="field">
                                <span class="hint">{move || t("по (включительно)", "to (inclusive)")}</span>
                                <input id="raffle-window-to" type="date" bind:value=window_to
                                    aria-invalid=move || invalid(error, "window_to")/>
                            </label>
                        </div>
                        <span class="hint">{move || format!(
                            "{} {}. {}",
                            t("Даты по времени акции:", "Dates in the promotion's zone:"),
                            state().time_zone.get(),
                            t("Пусто — без ограничения с этой стороны.", "Empty: open on that side."),
                        )}</span>
                        <FieldError error field="window_from"/>
                        <FieldError error field="window_to"/>
                    </div>
                </div>
            </div>

            <div class="card" id="prizes">
                <div class="card-head">
                    <h2>{move || t("Призы", "Prizes")}</h2>
                    <span class="muted small" id="raffle-picks">{move || {
                        let (winners, reserves) = picks();
                        format!("{} {} + {} {}", num(winners), t("победит.", "winners"),
                            num(reserves), t("резерв.", "reserves"))
                    }}</span>
                </div>
                <p class="muted small">{move || t(
                    "Порядок важен: выборки сначала заполняют победителей первого приза, потом второго и так далее.",
                    "Order matters: picks fill the first prize's winners first, then the second's, and so on.",
                )}</p>
                <div class="prize-rows">
                    <For each=move || prizes.get() key=|row| row.key let:row>
                        <PrizeLine row prizes error/>
                    </For>
                </div>
                {move || prizes.with(|rows| rows.is_empty()).then(|| view! {
                    <p class="muted">{move || t("Призов нет — добавьте хотя бы один.", "No prizes: add at least one.")}</p>
                })}
                <FieldError error field="prizes"/>
                <button type="button" class="btn" id="prize-add" on:click=add_prize>
                    {move || t("+ Добавить приз", "+ Add a prize")}
                </button>
            </div>

            <div class="card">
                <h2>{move || t("Правила", "Rules")}</h2>
                <div class="form-grid">
                    <label class="field">
                        <span>{move || t("Резервных на каждый приз", "Reserves per prize")}</span>
                        <input id="raffle-reserves" type="number" min="0" max="100" inputmode="numeric"
                            bind:value=reserves aria-invalid=move || invalid(error, "reserves_per_prize")/>
                        <span class="hint">{move || t(
                            "Если победитель не подтвердит приз вовремя, откажется или будет дисквалифицирован, приз переходит к следующему резервному.",
                            "When a winner does not claim in time, declines or is disqualified, the next reserve takes the prize.",
                        )}</span>
                        <FieldError error field="reserves_per_prize"/>
                    </label>
                    <div class="stack">
                        <label class="check">
                            <input id="raffle-multiple" type="checkbox" bind:checked=multiple_wins/>
                            <span>{move || t("Один участник может выиграть несколько призов", "One shopper may win several prizes")}</span>
                        </label>
                        <label class="check">
                            <input id="raffle-burn" type="checkbox" bind:checked=burn
                                disabled=move || kind.get() == "final"/>
                            <span>{move || t("Сжечь использованные билеты (только промежуточный)", "Burn the tickets it used (intermediate only)")}</span>
                        </label>
                        <FieldError error field="burn_tickets"/>
                        <FieldError error field="multiple_wins"/>
                    </div>
                </div>
            </div>

            <div class="card">
                <h2>{move || t("Сообщения", "Messages")}</h2>
                <div class="grid-2">
                    <MessageEditor id="win" text=win_text photo=win_photo error sample_prize
                        label=Signal::derive(|| t("Победителю", "To a winner"))/>
                    <div class="stack">
                        <label class="check">
                            <input id="raffle-notify-losers" type="checkbox" bind:checked=notify_losers/>
                            <span>{move || t("Сообщить остальным участникам", "Tell the other participants")}</span>
                        </label>
                        <FieldError error field="notify_losers"/>
                        {move || notify_losers.get().then(|| view! {
                            <MessageEditor id="lose" text=lose_text photo=lose_photo error sample_prize
                                label=Signal::derive(|| t("Не выигравшим", "To those who did not win"))/>
                        })}
                        <FieldError error field="lose_message"/>
                    </div>
                </div>
            </div>

            <div class="card">
                <h2>{move || t("Когда провести", "When to draw")}</h2>
                <div class="stack">
                    <label class="check">
                        <input type="radio" name="raffle-when" id="raffle-when-now"
                            prop:checked=move || !later.get() on:change=move |_| later.set(false)/>
                        <span>{move || t("Сразу после создания", "Right after it is created")}</span>
                    </label>
                    <label class="check">
                        <input type="radio" name="raffle-when" id="raffle-when-later"
                            prop:checked=move || later.get() on:change=move |_| later.set(true)/>
                        <span>{move || t("В назначенное время", "At a set time")}</span>
                    </label>
                    {move || later.get().then(|| view! {
                        <label class="field narrow-field">
                            <span>{move || format!("{} ({})", t("Дата и время", "Date and time"), state().time_zone.get())}</span>
                            <input id="raffle-scheduled-for" type="datetime-local" bind:value=scheduled_at
                                aria-invalid=move || invalid(error, "scheduled_for")/>
                        </label>
                    })}
                    <FieldError error field="scheduled_for"/>
                    <p class="muted small">{move || t(
                        "Хэш зерна (обязательство) публикуется сразу при создании, до розыгрыша: по нему любой сможет проверить результат.",
                        "The seed's hash (the commitment) is published at creation, before the draw: anyone can hold the result to it.",
                    )}</p>
                </div>
            </div>

            <FormError error/>
            <div class="row form-actions">
                <button type="submit" class="btn btn-primary" id="raffle-submit" disabled=move || busy.get()>
                    {move || if busy.get() { t("Создаём…", "Creating…") } else if later.get() {
                        t("Запланировать розыгрыш", "Schedule the raffle")
                    } else {
                        t("Создать и провести", "Create and draw")
                    }}
                </button>
                <A href="/raffles" attr:class="btn btn-ghost">{move || t("Отмена", "Cancel")}</A>
            </div>
        </form>
    }
}

/// One prize's inputs; its index (for ids and the API's `prizes[i]` errors) follows its
/// place in the list as rows above it are removed.
#[component]
fn PrizeLine(
    row: PrizeRow,
    prizes: RwSignal<Vec<PrizeRow>>,
    error: RwSignal<Option<Failure>>,
) -> impl IntoView {
    let key = row.key;
    let index =
        Memo::new(move |_| prizes.with(|rows| rows.iter().position(|r| r.key == key).unwrap_or(0)));
    let id = move |what: &str| format!("prize-{what}-{}", index.get());
    let field = move |what: &str| format!("prizes[{}].{what}", index.get());
    let bad = move |what: &'static str| {
        move || {
            let field = field(what);
            error
                .with(|e| {
                    e.as_ref()
                        .is_some_and(|e| e.field.as_deref() == Some(&field))
                })
                .to_string()
        }
    };
    let message = move |what: &'static str| {
        move || {
            let field = field(what);
            error
                .get()
                .filter(|e| e.field.as_deref() == Some(&field))
                .map(|e| view! { <div class="field-error" role="alert">{e.message}</div> })
        }
    };
    let value = move || row.value.with(|v| parse_int(v));
    view! {
        <fieldset class="prize-row" data-prize=move || index.get().to_string()>
            <legend class="prize-number">{move || format!("{} {}", t("Приз", "Prize"), index.get() + 1)}</legend>
            <label class="field prize-name">
                <span>{move || t("Название", "Name")}</span>
                <input id=move || id("name") maxlength="200" bind:value=row.name
                    aria-invalid=bad("name")/>
                {message("name")}
            </label>
            <label class="field">
                <span>{move || t("Количество", "Quantity")}</span>
                <input id=move || id("quantity") type="number" min="1" max="10000" inputmode="numeric"
                    bind:value=row.quantity aria-invalid=bad("quantity")/>
                {message("quantity")}
            </label>
            <label class="field">
                <span>{move || t("Стоимость, ₽", "Value, ₽")}</span>
                <input id=move || id("value") type="number" min="0" inputmode="numeric"
                    bind:value=row.value aria-invalid=bad("value_rub")/>
                {move || value().filter(|v| *v > DOCUMENTS_ABOVE_RUB).map(|_| view! {
                    <span class="hint">{move || t("Дороже 4 000 ₽: победитель сдаст документы", "Over 4,000 ₽: the winner hands in documents")}</span>
                })}
                {message("value_rub")}
            </label>
            <div class="field prize-photo">
                <span>{move || t("Фото", "Photo")}</span>
                <PhotoPicker photo=row.photo id=Signal::derive(move || format!("prize-photo-{}", index.get()))/>
                {message("photo")}
            </div>
            <div class="prize-remove">
                <button type="button" class="btn btn-ghost btn-small btn-danger"
                    id=move || id("remove")
                    aria-label=move || format!("{} {}", t("Удалить приз", "Remove prize"), index.get() + 1)
                    on:click=move |_| prizes.update(|rows| rows.retain(|r| r.key != key))>
                    {move || t("Удалить", "Remove")}
                </button>
            </div>
        </fieldset>
    }
}

/// An optional picture: a file input that uploads at once (`POST /api/uploads`), then
/// the thumbnail and a button to drop it.
#[component]
fn PhotoPicker(photo: RwSignal<Option<Photo>>, #[prop(into)] id: Signal<String>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let on_change = move |event: leptos::ev::Event| {
        let Some(input) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        // The same file picked again after removing it still fires `change`.
        input.set_value("");
        busy.set(true);
        problem.set(None);
        spawn_local(async move {
            match api::upload_file::<UploadInfo>("/api/uploads", &file).await {
                Ok(info) => photo.set(Some(Photo {
                    photo: info.photo,
                    url: info.url,
                })),
                Err(failure) => problem.set(Some(failure.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="photo-picker">
            {move || match photo.get() {
                Some(p) => view! {
                    <div class="row">
                        <img class="thumb" src=p.url.clone() alt="" data-photo=p.photo.clone()/>
                        <button type="button" class="btn btn-small btn-ghost"
                            on:click=move |_| photo.set(None)>{move || t("Убрать", "Remove")}</button>
                    </div>
                }.into_any(),
                None => view! {
                    <input type="file" accept="image/jpeg,image/png,image/webp" id=move || id.get()
                        class="file-input" disabled=move || busy.get() on:change=on_change/>
                }.into_any(),
            }}
            {move || busy.get().then(|| view! { <span class="muted small">{move || t("Загружаем…", "Uploading…")}</span> })}
            {move || problem.get().map(|p| view! { <div class="field-error" role="alert">{p}</div> })}
        </div>
    }
}

/// A message's text with its placeholders (a click puts one where the cursor is), an
/// optional photo, and how a recipient would see it.
#[component]
fn MessageEditor(
    id: &'static str,
    label: Signal<&'static str>,
    text: RwSignal<String>,
    photo: RwSignal<Option<Photo>>,
    error: RwSignal<Option<Failure>>,
    sample_prize: Signal<String>,
) -> impl IntoView {
    let area = NodeRef::<leptos::html::Textarea>::new();
    let text_field = if id == "win" {
        "win_message.text"
    } else {
        "lose_message.text"
    };
    let photo_field = if id == "win" {
        "win_message.photo"
    } else {
        "lose_message.photo"
    };
    let insert = move |name: &'static str| {
        let token = format!("{{{name}}}");
        let Some(element) = area.get_untracked() else {
            text.update(|t| t.push_str(&token));
            return;
        };
        let current = text.get_untracked();
        let chars: Vec<char> = current.chars().collect();
        // The selection is counted in UTF-16 units; texts here are Cyrillic or Latin, one
        // unit per character.
        let start = element
            .selection_start()
            .ok()
            .flatten()
            .unwrap_or(chars.len() as u32) as usize;
        let end = element
            .selection_end()
            .ok()
            .flatten()
            .unwrap_or(start as u32) as usize;
        let (start, end) = (
            start.min(chars.len()),
            end.min(chars.len()).max(start.min(chars.len())),
        );
        let before: String = chars[..start].iter().collect();
        let after: String = chars[end..].iter().collect();
        text.set(format!("{before}{token}{after}"));
        let caret = (start + token.chars().count()) as u32;
        request_animation_frame(move || {
            let _ = element.focus();
            let _ = element.set_selection_range(caret, caret);
        });
    };
    let preview = move || {
        let body = text.get();
        let problem = template_problem(&body, photo.with(|p| p.is_some()));
        (fill(&body, "Анна", &sample_prize.get(), 3), problem)
    };
    view! {
        <div class="stack message-editor" id=format!("{id}-message")>
            <label class="field">
                <span>{move || label.get()}</span>
                <textarea id=format!("{id}-text") node_ref=area bind:value=text rows="4"
                    aria-invalid=move || invalid(error, text_field)></textarea>
            </label>
            <div class="row placeholders" role="group" aria-label=move || t("Подстановки", "Placeholders")>
                <span class="muted small">{move || t("Подстановки:", "Placeholders:")}</span>
                {PLACEHOLDERS.iter().map(|(name, ru, en)| {
                    let (name, ru, en) = (*name, *ru, *en);
                    view! {
                        <button type="button" class="btn btn-small chip" title=move || t(ru, en)
                            data-placeholder=name on:click=move |_| insert(name)>
                            {format!("{{{name}}}")}
                        </button>
                    }
                }).collect_view()}
            </div>
            <p class="hint muted small">{move || t(
                "{name} — имя, {prize} — приз, {tickets} — билеты; с формами слова: {tickets|билет|билета|билетов}.",
                "{name} the name, {prize} the prize, {tickets} the tickets; with noun forms: {tickets|билет|билета|билетов}.",
            )}</p>
            <FieldError error field=text_field/>
            <div class="field">
                <span>{move || t("Фото к сообщению", "Photo with the message")}</span>
                <PhotoPicker photo id=Signal::derive(move || format!("{id}-photo"))/>
                <FieldError error field=photo_field/>
            </div>
            <div class="field">
                <span>{move || t("Предпросмотр", "Preview")}</span>
                <div class="tg" id=format!("{id}-preview")>
                    <div class="tg-msg">
                        {move || photo.get().map(|p| view! { <img src=p.url alt=""/> })}
                        {move || preview().0}
                    </div>
                </div>
                {move || preview().1.map(|p| view! { <div class="field-error preview-problem">{p}</div> })}
                <span class="hint">{move || format!(
                    "{} «{}», {} 3. {}",
                    t("Пример в панели: имя «Анна», приз", "A sample made here: name “Анна”, prize"),
                    sample_prize.get(),
                    t("билетов", "tickets"),
                    t("Бот подставит данные каждого участника.", "The bot fills in each shopper's own."),
                )}</span>
            </div>
        </div>
    }
}

/// The form's signals, read once at submission.
struct Form {
    title: RwSignal<String>,
    kind: RwSignal<String>,
    window_from: RwSignal<String>,
    window_to: RwSignal<String>,
    prizes: RwSignal<Vec<PrizeRow>>,
    reserves: RwSignal<String>,
    multiple_wins: RwSignal<bool>,
    burn: RwSignal<bool>,
    win_text: RwSignal<String>,
    win_photo: RwSignal<Option<Photo>>,
    notify_losers: RwSignal<bool>,
    lose_text: RwSignal<String>,
    lose_photo: RwSignal<Option<Photo>>,
    later: RwSignal<bool>,
    scheduled_at: RwSignal<String>,
}

/// The request, or the first field that cannot be sent as it is, in the form's order.
fn build_request(form: &Form) -> Result<NewRaffleRequest, Failure> {
    let title = form.title.get_untracked().trim().to_owned();
    if title.is_empty() {
        return Err(Failure::invalid(
            "title",
            t("Введите название розыгрыша", "Enter the raffle's title"),
        ));
    }
    if title.chars().count() > 200 {
        return Err(Failure::invalid(
            "title",
            t("Не больше 200 символов", "At most 200 characters"),
        ));
    }
    let kind = form.kind.get_untracked();
    let window_from = optional(form.window_from.get_untracked());
    let window_to = optional(form.window_to.get_untracked());
    if let (Some(from), Some(to)) = (&window_from, &window_to) {
        // Both are YYYY-MM-DD: the text order is the date order; "to" is inclusive.
        if to < from {
            return Err(Failure::invalid(
                "window_to",
                t(
                    "Конец окна раньше начала",
                    "The window ends before it starts",
                ),
            ));
        }
    }
    let rows = form.prizes.get_untracked();
    if rows.is_empty() {
        return Err(Failure::invalid(
            "prizes",
            t("Добавьте хотя бы один приз", "Add at least one prize"),
        ));
    }
    let mut prizes = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let name = row.name.get_untracked().trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Failure::invalid(
                &format!("prizes[{index}].name"),
                t(
                    "Название приза: от 1 до 200 символов",
                    "A prize name has 1 to 200 characters",
                ),
            ));
        }
        let quantity = parse_int(&row.quantity.get_untracked())
            .filter(|q| (1..=10_000).contains(q))
            .ok_or_else(|| {
                Failure::invalid(
                    &format!("prizes[{index}].quantity"),
                    t("Количество: от 1 до 10 000", "A quantity is 1 to 10,000"),
                )
            })?;
        let value = row.value.get_untracked();
        let value_rub = if value.trim().is_empty() {
            Some(0)
        } else {
            parse_int(&value)
        }
        .filter(|v| (0..=1_000_000_000).contains(v))
        .ok_or_else(|| {
            Failure::invalid(
                &format!("prizes[{index}].value_rub"),
                t(
                    "Стоимость: целое число рублей, от 0",
                    "A value is whole roubles, 0 or more",
                ),
            )
        })?;
        prizes.push(RafflePrize {
            name,
            quantity,
            value_rub,
            photo: row.photo.get_untracked().map(|p| p.photo),
        });
    }
    let reserves_per_prize = parse_int(&form.reserves.get_untracked())
        .filter(|r| (0..=100).contains(r))
        .ok_or_else(|| {
            Failure::invalid(
                "reserves_per_prize",
                t("От 0 до 100 резервных", "0 to 100 reserves"),
            )
        })?;
    let win_photo = form.win_photo.get_untracked();
    let win_text = form.win_text.get_untracked();
    if let Some(problem) = template_problem(&win_text, win_photo.is_some()) {
        return Err(Failure::invalid("win_message.text", problem));
    }
    let notify_losers = form.notify_losers.get_untracked();
    let lose_message = if notify_losers {
        let lose_photo = form.lose_photo.get_untracked();
        let text = form.lose_text.get_untracked();
        if let Some(problem) = template_problem(&text, lose_photo.is_some()) {
            return Err(Failure::invalid("lose_message.text", problem));
        }
        Some(RaffleMessageBody {
            text,
            photo: lose_photo.map(|p| p.photo),
        })
    } else {
        None
    };
    let scheduled_for = if form.later.get_untracked() {
        let typed = form.scheduled_at.get_untracked();
        let at = local_to_utc(&typed).ok_or_else(|| {
            Failure::invalid(
                "scheduled_for",
                t("Укажите дату и время", "Enter the date and time"),
            )
        })?;
        let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&at)).get_time();
        if when < js_sys::Date::now() {
            return Err(Failure::invalid(
                "scheduled_for",
                t("Это время уже прошло", "That time has passed"),
            ));
        }
        Some(at)
    } else {
        None
    };
    Ok(NewRaffleRequest {
        title,
        burn_tickets: kind == "intermediate" && form.burn.get_untracked(),
        kind,
        window_from,
        window_to,
        prizes,
        multiple_wins: form.multiple_wins.get_untracked(),
        reserves_per_prize,
        win_message: Some(RaffleMessageBody {
            text: win_text,
            photo: win_photo.map(|p| p.photo),
        }),
        lose_message,
        notify_losers,
        scheduled_for,
    })
}

/// Shows a failure and brings its field into view.
fn show_failure(error: RwSignal<Option<Failure>>, failure: Failure) {
    let target = failure.field.as_deref().map(element_of);
    error.set(Some(failure));
    if let Some(target) = target {
        request_animation_frame(move || focus(&target));
    }
}

/// The id of the input an API field name belongs to (`prizes[1].quantity` →
/// `prize-quantity-1`).
fn element_of(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("prizes[") {
        if let Some((index, what)) = rest.split_once("].") {
            let what = match what {
                "value_rub" => "value",
                other => other,
            };
            return format!("prize-{what}-{index}");
        }
    }
    match field {
        "title" => "raffle-title",
        "kind" => "raffle-kind",
        "window_from" => "raffle-window-from",
        "window_to" => "raffle-window-to",
        "prizes" => "prize-add",
        "reserves_per_prize" => "raffle-reserves",
        "multiple_wins" => "raffle-multiple",
        "burn_tickets" => "raffle-burn",
        "win_message" | "win_message.text" => "win-text",
        "win_message.photo" => "win-photo",
        "lose_message" | "lose_message.text" => "lose-text",
        "lose_message.photo" => "lose-photo",
        "notify_losers" => "raffle-notify-losers",
        "scheduled_for" => "raffle-scheduled-for",
        _ => "raffle-submit",
    }
    .to_owned()
}

fn focus(id: &str) {
    if let Some(element) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

fn invalid(error: RwSignal<Option<Failure>>, field: &str) -> String {
    error
        .with(|e| e.as_ref().is_some_and(|e| e.is_field(field)))
        .to_string()
}

fn optional(value: String) -> Option<String> {
    let value = value.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

/// A whole number as typed, spaces (thousands) allowed.
fn parse_int(text: &str) -> Option<i64> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    digits.parse().ok()
}

// ------------------------------------------------------------------ templates
// The API checks and fills raffle messages with core's template rules and has no preview
// for them, so the panel mirrors those rules to check early and to show the preview.

/// What is wrong with a message text, if anything (the API's rules: 1 to 4,096
/// characters, 1,024 under a photo, only the raffle's placeholders, Russian noun forms).
fn template_problem(text: &str, with_photo: bool) -> Option<String> {
    let length = text.chars().count();
    if text.trim().is_empty() {
        return Some(t("Введите текст сообщения", "Enter the message's text").to_owned());
    }
    if length > MAX_TEXT {
        return Some(format!(
            "{} {}",
            t("Не больше символов:", "At most characters:"),
            MAX_TEXT
        ));
    }
    if with_photo && length > MAX_CAPTION {
        return Some(format!(
            "{} {}",
            t(
                "Подпись к фото — не больше символов:",
                "A caption under a photo has at most characters:"
            ),
            MAX_CAPTION
        ));
    }
    let chars: Vec<char> = text.chars().collect();
    if chars
        .windows(2)
        .any(|p| p[0] == '<' && (p[1].is_ascii_alphabetic() || p[1] == '/' || p[1] == '!'))
    {
        return Some(
            t(
                "Только обычный текст: теги дойдут до участника как есть",
                "Plain text only: tags would reach the shopper as typed",
            )
            .to_owned(),
        );
    }
    let mut index = 0;
    while index < chars.len() {
        if chars[index] != '{' {
            index += 1;
            continue;
        }
        let Some(length) = chars[index + 1..].iter().position(|c| *c == '}') else {
            return Some(t("Скобка { не закрыта }", "A { is never closed with }").to_owned());
        };
        let inner: String = chars[index + 1..index + 1 + length].iter().collect();
        if inner.contains('{') {
            index += 1;
            continue;
        }
        let mut parts = inner.split('|');
        let name = parts.next().unwrap_or_default();
        let forms = parts.count();
        if !PLACEHOLDERS.iter().any(|(known, _, _)| *known == name) {
            return Some(format!(
                "{} {{{name}}}: {} {{name}}, {{prize}}, {{tickets}}",
                t("Неизвестная подстановка", "Unknown placeholder"),
                t("можно", "allowed are"),
            ));
        }
        if forms != 0 && forms != 3 {
            return Some(format!(
                "{{{name}|…}}: {}",
                t(
                    "нужны три формы слова, например {tickets|билет|билета|билетов}",
                    "needs three Russian noun forms, e.g. {tickets|билет|билета|билетов}"
                )
            ));
        }
        index += length + 2;
    }
    None
}

/// The text as one recipient would get it: the bot's own filling.
fn fill(template: &str, name: &str, prize: &str, tickets: i64) -> String {
    let tickets_text = tickets.to_string();
    promo_api_types::template::fill(
        template,
        &[
            ("name", name),
            ("prize", prize),
            ("tickets", tickets_text.as_str()),
        ],
    )
}
