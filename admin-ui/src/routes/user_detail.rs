//! One shopper: who they are, their receipts, ticket ledger, wins and the campaigns they
//! received; and, for managers, what an operator may do about them — a message (with a
//! photo), manual tickets, a receipt entered by hand, block and unblock, the full phone
//! (audited). Every action ends with the page read again and one plain sentence.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use promo_api_types::panel::{
    BlockRequest, DirectMessage, FullPhone, ManualReceipt, ManualReceiptQueued, ShopperDetail,
    ShopperRow, TicketGrant, TicketTotal, UploadInfo,
};
use wasm_bindgen::JsCast;

use super::dashboard::kind_label;
use super::Page;
use crate::api::{self, Failure};
use crate::components::{loaded, Badge, Empty, FieldError, FormError};
use crate::state::{can, num, rub, t, when};

/// Telegram's limits: a caption under a photo, a text alone.
const CAPTION_LIMIT: usize = 1024;
const TEXT_LIMIT: usize = 4096;
/// What `POST /api/uploads` accepts.
const PHOTO_BYTES: f64 = 10.0 * 1024.0 * 1024.0;
const REASON_LIMIT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Message,
    Tickets,
    Receipt,
    Block,
}

#[component]
pub fn UserDetail() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let version = RwSignal::new(0u32);
    let notice = RwSignal::new(None::<String>);
    let action = RwSignal::new(Action::Message);
    let detail = LocalResource::new(move || {
        version.track();
        let id = id();
        async move {
            match id {
                Some(id) => api::get::<ShopperDetail>(&format!("/api/users/{id}")).await,
                None => Err(Failure {
                    status: 404,
                    code: "not_found".into(),
                    message: t("Нет такого участника.", "There is no such user.").into(),
                    field: None,
                }),
            }
        }
    });
    // A confirmation belongs to the shopper it was about.
    Effect::new(move |_| {
        id();
        notice.set(None);
    });
    let done = Callback::new(move |message: String| {
        notice.set(Some(message));
        version.update(|v| *v += 1);
    });
    let actions = move || {
        view! {
            <A href="/users" attr:class="btn btn-ghost">{move || t("← Все участники", "← All users")}</A>
        }
    };
    view! {
        <Page ru="Участник" en="User" id="user-detail" actions=actions>
            {move || notice.get().map(|text| view! {
                <div class="notice row-between" id="user-notice" role="status">
                    <span>{text}</span>
                    <button class="btn btn-ghost btn-small" type="button"
                        aria-label=move || t("Скрыть", "Dismiss")
                        on:click=move |_| notice.set(None)>"✕"</button>
                </div>
            })}
            {loaded(detail, move |d: ShopperDetail| {
                let user = d.user.clone();
                view! {
                    <div class="user-top">
                        <Profile user=user.clone()/>
                        {can("manager").then(|| view! { <Actions user=user.clone() action done/> })}
                    </div>
                    <History detail=d/>
                }
            })}
        </Page>
    }
}

// ---------------------------------------------------------------- who they are

#[component]
fn Profile(user: ShopperRow) -> impl IntoView {
    let id = user.id;
    let full_phone = RwSignal::new(None::<Option<String>>);
    let phone_error = RwSignal::new(None::<Failure>);
    let phone_busy = RwSignal::new(false);
    let reveal = move |_| {
        phone_busy.set(true);
        phone_error.set(None);
        spawn_local(async move {
            let answer = api::get::<FullPhone>(&format!("/api/users/{id}/phone")).await;
            match answer {
                Ok(phone) => full_phone.set(Some(phone.phone)),
                Err(error) => phone_error.set(Some(error)),
            }
            phone_busy.set(false);
        });
    };
    let registered = user.registered_at.clone();
    let created = user.created_at.clone();
    let seen = user.last_seen_at.clone();
    let masked = user.phone_masked.clone();
    let has_phone = masked.is_some();
    view! {
        <div class="card" id="user-profile" data-user-id=id.to_string() data-status=user.status.clone()>
            <div class="card-head">
                <h2 id="user-name">{user.name.clone()}</h2>
                <div class="row">
                    <Badge status=user.status.clone()/>
                    {(!user.reachable).then(|| view! {
                        <span class="badge badge-bad">{move || t("заблокировал бота", "blocked the bot")}</span>
                    })}
                </div>
            </div>
            <dl class="facts">
                <dt>{move || t("Номер в системе", "Internal id")}</dt>
                <dd class="mono">"#" {id}</dd>
                <dt>"Telegram"</dt>
                <dd>
                    <span class="mono">{user.telegram_id}</span>
                    {user.username.clone().map(|u| view! { " · " <span>"@" {u}</span> })}
                </dd>
                <dt>{move || t("Телефон", "Phone")}</dt>
                <dd>
                    <div class="row">
                        {move || match full_phone.get() {
                            Some(Some(phone)) => view! {
                                <span class="mono" id="full-phone">{phone}</span>
                                <span class="muted small">{move || t("просмотр записан в журнал", "this view is in the audit log")}</span>
                            }.into_any(),
                            Some(None) => view! {
                                <span class="muted" id="full-phone">{move || t("номер не указан", "no number given")}</span>
                            }.into_any(),
                            None => view! {
                                <span class="mono" id="masked-phone">{masked.clone().unwrap_or_else(|| "—".into())}</span>
                                {(has_phone && can("manager")).then(|| view! {
                                    <button class="btn btn-small" id="reveal-phone" type="button"
                                        disabled=move || phone_busy.get() on:click=reveal>
                                        {move || t("Показать полностью", "Show in full")}
                                    </button>
                                })}
                            }.into_any(),
                        }}
                    </div>
                    <FormError error=phone_error/>
                </dd>
                <dt>{move || t("Билеты", "Tickets")}</dt>
                <dd><strong id="user-tickets">{num(user.tickets)}</strong></dd>
                <dt>{move || t("Принятые чеки", "Accepted receipts")}</dt>
                <dd id="user-receipts-accepted">{num(user.receipts_accepted)}</dd>
                <dt>{move || t("Язык", "Language")}</dt>
                <dd>{language_name(&user.language)}</dd>
                <dt>{move || t("Впервые написал(а)", "First seen")}</dt>
                <dd>{move || when(&created)}</dd>
                <dt>{move || t("Регистрация", "Registered")}</dt>
                <dd>{move || registered.as_deref().map(when).unwrap_or_else(|| "—".into())}</dd>
                <dt>{move || t("Последняя активность", "Last seen")}</dt>
                <dd>{move || when(&seen)}</dd>
            </dl>
        </div>
    }
}

// ---------------------------------------------------------------- what may be done

#[component]
fn Actions(user: ShopperRow, action: RwSignal<Action>, done: Callback<String>) -> impl IntoView {
    let tabs: [(Action, &str, &str, &str); 4] = [
        (Action::Message, "action-message", "Сообщение", "Message"),
        (Action::Tickets, "action-tickets", "Билеты", "Tickets"),
        (
            Action::Receipt,
            "action-receipt",
            "Чек вручную",
            "Manual receipt",
        ),
        (Action::Block, "action-block", "Блокировка", "Block"),
    ];
    let banned = user.status == "banned";
    let id = user.id;
    let status = user.status.clone();
    view! {
        <div class="card" id="user-actions">
            <div class="tabs" role="tablist">
                {tabs.into_iter().map(|(which, dom_id, ru, en)| view! {
                    <button class="tab" type="button" role="tab" id=dom_id
                        aria-selected=move || (action.get() == which).to_string()
                        on:click=move |_| action.set(which)>
                        {move || t(ru, en)}
                    </button>
                }).collect_view()}
            </div>
            <div class="action-body" role="tabpanel">
                {move || match action.get() {
                    Action::Message => view! { <MessageForm id banned done/> }.into_any(),
                    Action::Tickets => view! { <TicketsForm id done/> }.into_any(),
                    Action::Receipt => view! { <ReceiptForm id status=status.clone() done/> }.into_any(),
                    Action::Block => view! { <BlockForm id banned done/> }.into_any(),
                }}
            </div>
        </div>
    }
}

fn reason_check(reason: &str) -> Result<String, Failure> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Failure::invalid(
            "reason",
            t("Укажите причину.", "Give a reason."),
        ));
    }
    if reason.chars().count() > REASON_LIMIT {
        return Err(Failure::invalid(
            "reason",
            t(
                "Причина — не больше 500 символов.",
                "A reason has at most 500 characters.",
            ),
        ));
    }
    Ok(reason.to_owned())
}

fn invalid_attr(error: RwSignal<Option<Failure>>, field: &'static str) -> impl Fn() -> String {
    move || error.get().is_some_and(|e| e.is_field(field)).to_string()
}

/// The file chosen in a file input, if any.
fn picked_file(event: &leptos::ev::Event) -> Option<web_sys::File> {
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        .and_then(|input| input.files())
        .and_then(|files| files.get(0))
}

#[component]
fn MessageForm(id: i64, banned: bool, done: Callback<String>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let photo = RwSignal::new(None::<UploadInfo>);
    let uploading = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let limit = move || {
        if photo.get().is_some() {
            CAPTION_LIMIT
        } else {
            TEXT_LIMIT
        }
    };
    let on_file = move |event: leptos::ev::Event| {
        let Some(file) = picked_file(&event) else {
            return;
        };
        if !matches!(
            file.type_().as_str(),
            "image/jpeg" | "image/png" | "image/webp"
        ) {
            error.set(Some(Failure::invalid(
                "photo",
                t(
                    "Нужна картинка JPEG, PNG или WebP.",
                    "Pick a JPEG, PNG or WebP image.",
                ),
            )));
            return;
        }
        if file.size() > PHOTO_BYTES {
            error.set(Some(Failure::invalid(
                "photo",
                t("Картинка больше 10 МБ.", "The image is over 10 MB."),
            )));
            return;
        }
        error.set(None);
        uploading.set(true);
        spawn_local(async move {
            match api::upload_file::<UploadInfo>("/api/uploads", &file).await {
                Ok(info) => photo.set(Some(info)),
                Err(mut failure) => {
                    // The upload's own complaints are about the picked file.
                    failure.field = Some("photo".into());
                    error.set(Some(failure));
                }
            }
            uploading.set(false);
        });
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = DirectMessage {
            text: text.get_untracked().trim().to_owned(),
            photo: photo.get_untracked().map(|p| p.photo),
        };
        let length = body.text.chars().count();
        if body.photo.is_none() && body.text.is_empty() {
            error.set(Some(Failure::invalid(
                "text",
                t(
                    "Напишите текст или выберите фото.",
                    "Write a text or pick a photo.",
                ),
            )));
            return;
        }
        if length > limit() {
            error.set(Some(Failure::invalid(
                "text",
                t(
                    "Текст длиннее, чем позволяет Telegram.",
                    "The text is longer than Telegram allows.",
                ),
            )));
            return;
        }
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let answer =
                api::post::<_, serde_json::Value>(&format!("/api/users/{id}/message"), &body).await;
            busy.set(false);
            match answer {
                Ok(queued) => {
                    let campaign = queued["campaign_id"].as_i64().unwrap_or_default();
                    done.run(format!(
                        "{} #{campaign}.",
                        t(
                            "Сообщение поставлено в очередь отправки: кампания",
                            "The message is queued: campaign"
                        )
                    ));
                    text.set(String::new());
                    photo.set(None);
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    view! {
        <form class="stack" id="message-form" on:submit=submit novalidate>
            {banned.then(|| view! {
                <div class="state error">{move || t(
                    "Участник заблокирован: сообщения ему не отправляются, пока его не разблокируют.",
                    "The user is blocked: nothing is sent to them until they are unblocked.")}</div>
            })}
            <label class="field">
                <span>{move || t("Текст", "Text")}</span>
                <textarea id="message-text" bind:value=text
                    aria-invalid=invalid_attr(error, "text")></textarea>
                <span class="hint">
                    {move || format!("{} / {}", text.get().chars().count(), limit())}
                    {move || photo.get().is_some().then(|| t(" (подпись к фото)", " (a photo caption)"))}
                </span>
                <FieldError error field="text"/>
            </label>
            <div class="field">
                <span id="message-photo-label">{move || t("Фото (необязательно)", "Photo (optional)")}</span>
                {move || match photo.get() {
                    Some(info) => view! {
                        <div class="row photo-chosen" id="message-photo-chosen" data-photo=info.photo.clone()>
                            <img class="photo-thumb" src=info.url.clone() alt=move || t("выбранное фото", "the chosen photo")/>
                            <span class="muted small">{format!("{}×{}", info.width, info.height)}</span>
                            <button class="btn btn-small" type="button" id="message-photo-remove"
                                on:click=move |_| photo.set(None)>{move || t("Убрать", "Remove")}</button>
                        </div>
                    }.into_any(),
                    None => view! {
                        <input id="message-photo" type="file" accept="image/jpeg,image/png,image/webp"
                            aria-labelledby="message-photo-label"
                            disabled=move || uploading.get()
                            aria-invalid=invalid_attr(error, "photo")
                            on:change=on_file/>
                    }.into_any(),
                }}
                {move || uploading.get().then(|| view! {
                    <span class="hint" role="status"><span class="spinner" aria-hidden="true"></span>
                        {move || t("Загружаем фото…", "Uploading the photo…")}</span>
                })}
                <FieldError error field="photo"/>
            </div>
            <FormError error shown_at=&["text", "photo"]/>
            <div class="row">
                <button class="btn btn-primary" id="message-submit" type="submit"
                    disabled=move || busy.get() || uploading.get() || banned>
                    {move || if busy.get() { t("Отправляем…", "Sending…") } else { t("Отправить", "Send") }}
                </button>
            </div>
        </form>
    }
}

#[component]
fn TicketsForm(id: i64, done: Callback<String>) -> impl IntoView {
    let amount = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let notify = RwSignal::new(true);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let value = amount.get_untracked().trim().replace(['+', ' '], "");
        let amount_value = match value.parse::<i32>() {
            Ok(n) if n != 0 && n.abs() <= 10_000 => n,
            _ => {
                error.set(Some(Failure::invalid(
                    "amount",
                    t(
                        "Целое число от −10 000 до 10 000, не ноль.",
                        "A whole number from −10,000 to 10,000, not zero.",
                    ),
                )));
                return;
            }
        };
        let reason_value = match reason_check(&reason.get_untracked()) {
            Ok(r) => r,
            Err(failure) => {
                error.set(Some(failure));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        let body = TicketGrant {
            amount: amount_value,
            reason: reason_value,
            notify: notify.get_untracked(),
        };
        spawn_local(async move {
            let answer =
                api::post::<_, TicketTotal>(&format!("/api/users/{id}/tickets"), &body).await;
            busy.set(false);
            match answer {
                Ok(total) => {
                    let what = if body.amount > 0 {
                        t("Начислено билетов", "Tickets granted")
                    } else {
                        t("Списано билетов", "Tickets taken back")
                    };
                    done.run(format!(
                        "{what}: {}. {} {}.",
                        body.amount.unsigned_abs(),
                        t("Теперь у участника", "The user now has"),
                        num(total.total)
                    ));
                    amount.set(String::new());
                    reason.set(String::new());
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    view! {
        <form class="stack" id="tickets-form" on:submit=submit novalidate>
            <div class="form-grid">
                <label class="field">
                    <span>{move || t("Сколько билетов", "How many tickets")}</span>
                    <input id="grant-amount" inputmode="numeric" bind:value=amount
                        placeholder="+5 / −2" aria-invalid=invalid_attr(error, "amount")/>
                    <span class="hint">{move || t("Отрицательное число — списание.", "A negative number takes tickets back.")}</span>
                    <FieldError error field="amount"/>
                </label>
                <label class="field">
                    <span>{move || t("Причина", "Reason")}</span>
                    <input id="grant-reason" bind:value=reason maxlength="500"
                        placeholder=move || t("Конкурс в канале", "Channel contest")
                        aria-invalid=invalid_attr(error, "reason")/>
                    <FieldError error field="reason"/>
                </label>
                <label class="check full">
                    <input type="checkbox" id="grant-notify" bind:checked=notify/>
                    <span>{move || t("Сообщить участнику в Telegram", "Tell the user in Telegram")}</span>
                </label>
            </div>
            <FormError error shown_at=&["amount", "reason"]/>
            <div class="row">
                <button class="btn btn-primary" id="grant-submit" type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { t("Начисляем…", "Granting…") } else { t("Начислить", "Grant") }}
                </button>
            </div>
        </form>
    }
}

/// The fields of a manual receipt, as the API names them.
const RECEIPT_FIELDS: &[&str] = &["qr", "fn", "fd", "fp", "date", "sum", "reason"];

#[component]
fn ReceiptForm(id: i64, status: String, done: Callback<String>) -> impl IntoView {
    let qr = RwSignal::new(String::new());
    let drive = RwSignal::new(String::new());
    let fd = RwSignal::new(String::new());
    let fp = RwSignal::new(String::new());
    let date = RwSignal::new(String::new());
    let sum = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let registered = status == "registered";
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let clean = |s: RwSignal<String>| {
            let v = s.get_untracked().trim().to_owned();
            (!v.is_empty()).then_some(v)
        };
        let body = ManualReceipt {
            qr: clean(qr),
            fiscal_drive_number: clean(drive),
            fd: clean(fd),
            fp: clean(fp),
            date: clean(date),
            sum: clean(sum),
            reason: reason.get_untracked(),
        };
        // Either the QR text, or all five printed fields; their formats are the API's
        // to judge, and it names the field it refuses.
        if body.qr.is_none() {
            let missing = [
                ("fn", &body.fiscal_drive_number),
                ("fd", &body.fd),
                ("fp", &body.fp),
                ("date", &body.date),
                ("sum", &body.sum),
            ]
            .into_iter()
            .find(|(_, value)| value.is_none());
            if let Some((field, _)) = missing {
                error.set(Some(Failure::invalid(
                    field,
                    t(
                        "Заполните это поле или вставьте текст QR-кода.",
                        "Fill this in, or paste the QR text.",
                    ),
                )));
                return;
            }
        }
        let body = match reason_check(&body.reason) {
            Ok(reason) => ManualReceipt { reason, ..body },
            Err(failure) => {
                error.set(Some(failure));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let answer =
                api::post::<_, ManualReceiptQueued>(&format!("/api/users/{id}/receipts"), &body)
                    .await;
            busy.set(false);
            match answer {
                Ok(queued) => {
                    done.run(format!(
                        "{} #{}. {}",
                        t(
                            "Чек отправлен на проверку: загрузка",
                            "The receipt is queued for its check: upload"
                        ),
                        queued.submission_id,
                        t(
                            "Участнику сообщат результат.",
                            "The user will be told the verdict."
                        )
                    ));
                    for field in [qr, drive, fd, fp, date, sum, reason] {
                        field.set(String::new());
                    }
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    let input = move |dom_id: &'static str,
                      field: &'static str,
                      ru: &'static str,
                      en: &'static str,
                      value: RwSignal<String>,
                      placeholder: &'static str| {
        view! {
            <label class="field">
                <span>{move || t(ru, en)}</span>
                <input id=dom_id bind:value=value placeholder=placeholder autocomplete="off"
                    aria-invalid=invalid_attr(error, field)/>
                <FieldError error field/>
            </label>
        }
    };
    view! {
        <form class="stack" id="receipt-form" on:submit=submit novalidate>
            {(!registered).then(|| view! {
                <div class="state error">{move || t(
                    "Чеки принимаются только у зарегистрированных участников.",
                    "Only a registered user's receipts take part.")}</div>
            })}
            <p class="muted small">{move || t(
                "Вставьте текст QR-кода или перепишите пять полей под ним. Чек проверят как обычную загрузку.",
                "Paste the QR text, or copy the five fields printed under it. It is checked like any upload.")}</p>
            <label class="field">
                <span>{move || t("Текст QR-кода", "QR text")}</span>
                <input id="receipt-qr" bind:value=qr autocomplete="off"
                    placeholder="t=20240917T1801&s=500.00&fn=…&i=…&fp=…&n=1"
                    aria-invalid=invalid_attr(error, "qr")/>
                <FieldError error field="qr"/>
            </label>
            <div class="form-grid">
                {input("receipt-fn", "fn", "ФН", "FN (fiscal drive)", drive, "9999078900001234")}
                {input("receipt-fd", "fd", "ФД", "FD (document)", fd, "11")}
                {input("receipt-fp", "fp", "ФП (ФПД)", "FP (fiscal sign)", fp, "1234567890")}
                <label class="field">
                    <span>{move || t("Дата и время на чеке", "Date and time as printed")}</span>
                    <input id="receipt-date" type="datetime-local" bind:value=date
                        aria-invalid=invalid_attr(error, "date")/>
                    <FieldError error field="date"/>
                </label>
                {input("receipt-sum", "sum", "Сумма, ₽", "Total, ₽", sum, "500.00")}
                <label class="field">
                    <span>{move || t("Причина", "Reason")}</span>
                    <input id="receipt-reason" bind:value=reason maxlength="500"
                        aria-invalid=invalid_attr(error, "reason")/>
                    <FieldError error field="reason"/>
                </label>
            </div>
            <FormError error shown_at=RECEIPT_FIELDS/>
            <div class="row">
                <button class="btn btn-primary" id="receipt-submit" type="submit"
                    disabled=move || busy.get() || !registered>
                    {move || if busy.get() { t("Отправляем…", "Sending…") } else { t("Проверить чек", "Check the receipt") }}
                </button>
            </div>
        </form>
    }
}

#[component]
fn BlockForm(id: i64, banned: bool, done: Callback<String>) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let block = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let reason_value = match reason_check(&reason.get_untracked()) {
            Ok(r) => r,
            Err(failure) => {
                error.set(Some(failure));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let answer = api::post::<_, ShopperRow>(
                &format!("/api/users/{id}/block"),
                &BlockRequest {
                    reason: reason_value,
                },
            )
            .await;
            busy.set(false);
            match answer {
                Ok(_) => done.run(
                    t(
                        "Участник заблокирован: он не получает рассылок и не участвует в розыгрышах.",
                        "The user is blocked: no broadcasts, no draws.",
                    )
                    .to_owned(),
                ),
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    let unblock = move |_| {
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let answer = api::post_empty::<ShopperRow>(&format!("/api/users/{id}/unblock")).await;
            busy.set(false);
            match answer {
                Ok(_) => {
                    done.run(t("Участник разблокирован.", "The user is unblocked.").to_owned())
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    if banned {
        return view! {
            <div class="stack" id="unblock-form">
                <p>{move || t(
                    "Участник заблокирован. После разблокировки он снова получает рассылки и участвует в розыгрышах.",
                    "The user is blocked. Unblocked, they receive broadcasts and take part in draws again.")}</p>
                <FormError error shown_at=&["reason"]/>
                <div class="row">
                    <button class="btn btn-primary" id="unblock-submit" type="button"
                        disabled=move || busy.get() on:click=unblock>
                        {move || t("Разблокировать", "Unblock")}
                    </button>
                </div>
            </div>
        }
        .into_any();
    }
    view! {
        <form class="stack" id="block-form" on:submit=block novalidate>
            <p class="muted small">{move || t(
                "Заблокированный участник не получает рассылок, не участвует в розыгрышах, а бот отвечает ему, что он заблокирован. Причина попадёт в журнал.",
                "A blocked user gets no broadcasts, takes part in no draw, and the bot tells them they are blocked. The reason goes to the audit log.")}</p>
            <label class="field">
                <span>{move || t("Причина", "Reason")}</span>
                <textarea id="block-reason" bind:value=reason maxlength="500"
                    aria-invalid=invalid_attr(error, "reason")></textarea>
                <FieldError error field="reason"/>
            </label>
            <FormError error shown_at=&["reason"]/>
            <div class="row">
                <button class="btn btn-danger" id="block-submit" type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { t("Блокируем…", "Blocking…") } else { t("Заблокировать", "Block") }}
                </button>
            </div>
        </form>
    }
    .into_any()
}

// ---------------------------------------------------------------- what they did

#[component]
fn History(detail: ShopperDetail) -> impl IntoView {
    let user_id = detail.user.id;
    let receipts = detail.receipts;
    let entries = detail.ticket_entries;
    let wins = detail.wins;
    let campaigns = detail.campaigns;
    let empty = |ru: &'static str, en: &'static str| {
        view! { <Empty text=Signal::derive(move || t(ru, en).to_owned())/> }.into_any()
    };
    view! {
        <div class="card" id="user-receipts">
            <div class="card-head">
                <h2>{move || t("Чеки", "Receipts")}</h2>
                <A href=format!("/receipts?user_id={user_id}")>{move || t("Все чеки участника", "All their receipts")}</A>
            </div>
            {if receipts.is_empty() {
                empty("Чеков нет.", "No receipts.")
            } else {
                view! {
                    <div class="table-wrap">
                        <table>
                            <thead><tr>
                                <th>"#"</th>
                                <th>{move || t("Статус", "Status")}</th>
                                <th class="num">{move || t("Сумма", "Total")}</th>
                                <th class="num">{move || t("Билеты", "Tickets")}</th>
                                <th class="opt">{move || t("Продавец", "Seller")}</th>
                                <th class="opt">{move || t("Загружен", "Uploaded")}</th>
                            </tr></thead>
                            <tbody>
                                {receipts.into_iter().map(|r| {
                                    let created = r.created_at.clone();
                                    view! {
                                        <tr data-receipt-id=r.id.to_string()>
                                            <td><A href=format!("/receipts?open={}", r.id)>{r.id}</A></td>
                                            <td><Badge status=r.status.clone()/></td>
                                            <td class="num nowrap">{rub(r.total_kopecks)}</td>
                                            <td class="num">{num(r.tickets)}</td>
                                            <td class="opt">{r.seller_name.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td class="opt nowrap">{move || when(&created)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </div>
        <div class="card" id="user-ledger">
            <h2>{move || t("Билеты: движение", "Ticket ledger")}</h2>
            {if entries.is_empty() {
                empty("Билетов ещё не было.", "No tickets yet.")
            } else {
                view! {
                    <div class="table-wrap">
                        <table id="ticket-entries">
                            <thead><tr>
                                <th>{move || t("Когда", "When")}</th>
                                <th class="num">{move || t("Билеты", "Tickets")}</th>
                                <th>{move || t("Откуда", "Source")}</th>
                                <th>{move || t("Причина", "Reason")}</th>
                            </tr></thead>
                            <tbody>
                                {entries.into_iter().map(|e| {
                                    let created = e.created_at.clone();
                                    let source = e.source.clone();
                                    let receipt = e.receipt_id;
                                    view! {
                                        <tr data-entry-id=e.id.to_string()>
                                            <td class="nowrap">{move || when(&created)}</td>
                                            <td class="num" class:minus=e.amount < 0>
                                                {if e.amount > 0 { format!("+{}", num(e.amount)) } else { num(e.amount) }}
                                            </td>
                                            <td>
                                                {move || source_label(&source)}
                                                {receipt.map(|r| view! { " " <A href=format!("/receipts?open={r}")>"#" {r}</A> })}
                                            </td>
                                            <td class="ledger-reason">{e.reason.clone().unwrap_or_default()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </div>
        <div class="grid-2">
            <div class="card" id="user-wins">
                <h2>{move || t("Выигрыши", "Wins")}</h2>
                {if wins.is_empty() {
                    empty("Выигрышей нет.", "No wins.")
                } else {
                    view! {
                        <ul class="plain-list">
                            {wins.into_iter().map(|w| {
                                let drawn = w.drawn_at.clone();
                                view! {
                                    <li>
                                        <strong>{w.prize.clone()}</strong>
                                        <div class="muted small">
                                            {move || t("место", "place")} " " {w.position} " · "
                                            <A href=format!("/raffles/{}", w.campaign_id)>{move || t("розыгрыш", "raffle")} " #" {w.campaign_id}</A>
                                            " · " {move || when(&drawn)}
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </div>
            <div class="card" id="user-campaigns">
                <h2>{move || t("Полученные рассылки", "Campaigns received")}</h2>
                {if campaigns.is_empty() {
                    empty("Рассылок не получал(а).", "No campaigns received.")
                } else {
                    view! {
                        <ul class="plain-list">
                            {campaigns.into_iter().map(|c| {
                                let kind = c.kind.clone();
                                let sent = c.sent_at.clone();
                                view! {
                                    <li class="row-between" data-campaign-id=c.campaign_id.to_string()>
                                        <span>{move || kind_label(&kind)} " #" {c.campaign_id}</span>
                                        <span class="row">
                                            <span class="muted small">{move || sent.as_deref().map(when).unwrap_or_default()}</span>
                                            <Badge status=c.status.clone()/>
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </div>
        </div>
    }
}

fn language_name(code: &str) -> String {
    match code {
        "ru" => "русский".to_owned(),
        "en" => "English".to_owned(),
        other => other.to_owned(),
    }
}

fn source_label(source: &str) -> String {
    match source {
        "receipt" => t("за чек", "for a receipt").to_owned(),
        "manual" => t("вручную", "by hand").to_owned(),
        "moderation" => t("после модерации", "after review").to_owned(),
        other => other.to_owned(),
    }
}
