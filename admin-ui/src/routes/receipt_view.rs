//! One receipt as a moderator needs it: who, where, when, the fiscal fields, every line
//! with the promo ones marked, the fraud signals spelled out, and — for a receipt held
//! for review and a manager — approve or reject with a reason the shopper is told.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use promo_api_types::panel::{ModerationDecision, ReceiptDetail};
use serde_json::Value;

use crate::api::{self, Failure};
use crate::components::{loaded, Badge, Empty, FieldError, FormError};
use crate::state::{can, num, rub, t, when};

/// `2024-09-17T18:01:00` (the sale's local time as printed) → `17.09.2024 18:01`.
pub fn printed_time(at: &str) -> String {
    let (date, time) = at.split_once('T').unwrap_or((at, ""));
    let mut parts = date.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => format!("{d}.{m}.{y} {}", time.get(..5).unwrap_or(time))
            .trim_end()
            .to_owned(),
        _ => at.to_owned(),
    }
}

/// A fraud signal's name in the operator's language.
pub fn signal_label(kind: &str) -> String {
    match kind {
        "seller_daily_limit" => t("лимит продавца", "seller limit").to_owned(),
        "upload_burst" => t("много загрузок", "upload burst").to_owned(),
        "shared_phone" => t("общий телефон", "shared phone").to_owned(),
        other => other.replace('_', " "),
    }
}

/// The signals of a list row, as small badges.
#[component]
pub fn SignalBadges(signals: Vec<String>) -> impl IntoView {
    view! {
        <span class="signals">
            {signals.into_iter().map(|kind| {
                let label = kind.clone();
                view! { <span class="badge badge-busy signal" data-signal=kind>{move || signal_label(&label)}</span> }
            }).collect_view()}
        </span>
    }
}

/// A signal with its figures, as a sentence.
fn signal_sentence(signal: &Value) -> String {
    let kind = signal["kind"].as_str().unwrap_or_default();
    let n = |key: &str| signal[key].as_i64().map(num).unwrap_or_else(|| "?".into());
    match kind {
        "seller_daily_limit" => format!(
            "{} {} {}: {} {} {} {}.",
            t("У продавца", "The seller"),
            signal["seller_inn"].as_str().unwrap_or_default(),
            signal["day"].as_str().map(printed_time).unwrap_or_default(),
            t("уже", "already had"),
            n("accepted"),
            t(
                "принятых чеков при дневном лимите",
                "accepted receipts, the daily limit being"
            ),
            n("limit"),
        ),
        "upload_burst" => format!(
            "{} {} {} {} {}.",
            t("Участник загрузил", "The user uploaded"),
            n("uploads"),
            t("чеков за", "receipts within"),
            n("window_minutes"),
            t("мин", "min"),
        ),
        "shared_phone" => format!(
            "{} {} {}.",
            t("Телефон участника указан в", "The user's phone is on"),
            n("accounts"),
            t("аккаунтах", "accounts"),
        ),
        _ => signal.to_string(),
    }
}

#[component]
pub fn ReceiptCard(
    id: i64,
    /// Called with the receipt and a sentence once a decision was taken.
    decided: Callback<(i64, String)>,
    #[prop(optional)] on_close: Option<Callback<()>>,
) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let detail = LocalResource::new(move || {
        version.track();
        async move { api::get::<ReceiptDetail>(&format!("/api/receipts/{id}")).await }
    });
    let reread = Callback::new(move |_: ()| version.update(|v| *v += 1));
    view! {
        <div class="card receipt-card" id="receipt-detail" data-receipt-id=id.to_string()>
            <div class="card-head">
                <h2>{move || t("Чек", "Receipt")} " #" {id}</h2>
                {on_close.map(|close| view! {
                    <button class="btn btn-ghost btn-small" type="button" id="receipt-close"
                        aria-label=move || t("Закрыть", "Close") on:click=move |_| close.run(())>"✕"</button>
                })}
            </div>
            {loaded(detail, move |d: ReceiptDetail| view! { <ReceiptBody d decided reread/> })}
        </div>
    }
}

#[component]
fn ReceiptBody(
    d: ReceiptDetail,
    decided: Callback<(i64, String)>,
    reread: Callback<()>,
) -> impl IntoView {
    let r = d.receipt.clone();
    let created = r.created_at.clone();
    let moderated = d.moderated_at.clone();
    let items: Vec<Value> = d.items.as_array().cloned().unwrap_or_default();
    let signals: Vec<Value> = d.fraud_signals.as_array().cloned().unwrap_or_default();
    let pending = r.status == "pending";
    view! {
        <div class="receipt-body" data-status=r.status.clone()>
            <div class="row receipt-summary">
                <Badge status=r.status.clone()/>
                <strong class="receipt-total">{rub(r.total_kopecks)}</strong>
                <span class="muted">{move || t("билетов", "tickets")} ": " {num(r.tickets)}</span>
            </div>
            {(!signals.is_empty()).then(|| view! {
                <div class="signals-box" id="receipt-signals" role="note">
                    <h3>{move || t("Сигналы", "Fraud signals")}</h3>
                    <ul>
                        {signals.iter().map(|s| {
                            let kind = s["kind"].as_str().unwrap_or_default().to_owned();
                            let signal = s.clone();
                            let label = kind.clone();
                            view! {
                                <li data-signal=kind>
                                    <span class="badge badge-busy">{move || signal_label(&label)}</span>
                                    " " {move || signal_sentence(&signal)}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            })}
            <dl class="facts">
                <dt>{move || t("Участник", "User")}</dt>
                <dd><A href=format!("/users/{}", r.user_id)>{r.user_name.clone()}</A> <span class="muted small">" #" {r.user_id}</span></dd>
                <dt>{move || t("Продавец", "Seller")}</dt>
                <dd>
                    {r.seller_name.clone().unwrap_or_else(|| "—".into())}
                    {r.seller_inn.clone().map(|inn| view! {
                        " · " <A href=format!("/receipts?seller_inn={inn}")><span class="mono">{inn.clone()}</span></A>
                    })}
                    {d.seller_address.clone().map(|a| view! { <div class="muted small">{a}</div> })}
                </dd>
                <dt>{move || t("Покупка", "Sale")}</dt>
                <dd>{printed_time(&r.receipt_at)}</dd>
                <dt>{move || t("Загружен", "Uploaded")}</dt>
                <dd>{move || when(&created)}</dd>
                <dt>{move || t("ФН · ФД · ФП", "FN · FD · FP")}</dt>
                <dd class="mono">{format!("{} · {} · {}", d.fiscal_drive_number, d.fiscal_document_number, d.fiscal_sign)}</dd>
                <dt>"QR"</dt>
                <dd class="mono">{d.raw_qr.clone()}</dd>
                {d.moderation_reason.clone().map(|reason| view! {
                    <dt>{move || t("Решение", "Decision")}</dt>
                    <dd id="moderation-reason-shown">
                        {reason}
                        {moderated.clone().map(|at| view! { <div class="muted small">{move || when(&at)}</div> })}
                    </dd>
                })}
            </dl>
            <h3>{move || t("Товары", "Items")}</h3>
            {if items.is_empty() {
                view! { <Empty text=Signal::derive(|| t("Строк нет.", "No lines.").to_owned())/> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="items-table" id="receipt-items">
                            <thead><tr>
                                <th>{move || t("Товар", "Item")}</th>
                                <th class="num">{move || t("Цена", "Price")}</th>
                                <th class="num">{move || t("Кол-во", "Qty")}</th>
                                <th class="num">{move || t("Сумма", "Sum")}</th>
                            </tr></thead>
                            <tbody>
                                {items.into_iter().map(|item| {
                                    let promo = item["promo"].as_bool().unwrap_or(false);
                                    let money = |key: &str| item[key].as_i64().map(rub).unwrap_or_default();
                                    let quantity = item["quantity"].as_f64().map(|q| {
                                        if q.fract() == 0.0 { format!("{q:.0}") } else { format!("{q}") }
                                    }).unwrap_or_default();
                                    view! {
                                        <tr class:promo=promo data-promo=promo.to_string()>
                                            <td>
                                                {item["name"].as_str().unwrap_or("—").to_owned()}
                                                {promo.then(|| view! { " " <span class="badge badge-good">{move || t("акция", "promo")}</span> })}
                                            </td>
                                            <td class="num nowrap">{money("price")}</td>
                                            <td class="num">{quantity}</td>
                                            <td class="num nowrap">{money("sum")}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {(pending && can("manager")).then(|| view! { <Decision id=r.id decided reread/> })}
        </div>
    }
}

#[component]
fn Decision(id: i64, decided: Callback<(i64, String)>, reread: Callback<()>) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let decide = move |approve: bool| {
        let text = reason.get_untracked().trim().to_owned();
        if !approve && text.is_empty() {
            error.set(Some(Failure::invalid(
                "reason",
                t(
                    "Для отказа нужна причина: её получит участник.",
                    "A rejection needs a reason: the user is told it.",
                ),
            )));
            return;
        }
        if text.chars().count() > 500 {
            error.set(Some(Failure::invalid(
                "reason",
                t("Не больше 500 символов.", "At most 500 characters."),
            )));
            return;
        }
        error.set(None);
        busy.set(true);
        let body = ModerationDecision {
            reason: (!text.is_empty()).then_some(text),
        };
        let verb = if approve { "approve" } else { "reject" };
        spawn_local(async move {
            let answer = api::post::<_, Value>(&format!("/api/receipts/{id}/{verb}"), &body).await;
            busy.set(false);
            match answer {
                Ok(_) => decided.run((
                    id,
                    if approve {
                        format!(
                            "{} #{id} {}",
                            t("Чек", "Receipt"),
                            t(
                                "принят: билеты начислены, участнику сообщили.",
                                "accepted: tickets granted, the user told."
                            )
                        )
                    } else {
                        format!(
                            "{} #{id} {}",
                            t("Чек", "Receipt"),
                            t(
                                "отклонён: участнику отправлена причина.",
                                "rejected: the user was sent the reason."
                            )
                        )
                    },
                )),
                Err(failure) => {
                    // Decided meanwhile by someone else: show what it is now.
                    if failure.status == 409 {
                        reread.run(());
                    }
                    error.set(Some(failure));
                }
            }
        });
    };
    view! {
        <form class="stack decision" id="decision" on:submit=move |e| { e.prevent_default(); decide(true) } novalidate>
            <label class="field">
                <span>{move || t("Решение: причина", "Decision: the reason")}</span>
                <textarea id="moderation-reason" bind:value=reason maxlength="500" rows="2"
                    placeholder=move || t("Для отказа обязательна: участник получит этот текст.", "Required to reject: the user receives this text.")
                    aria-invalid=move || error.get().is_some_and(|e| e.is_field("reason")).to_string()></textarea>
                <FieldError error field="reason"/>
            </label>
            <FormError error shown_at=&["reason"]/>
            <div class="row">
                <button class="btn btn-primary" id="approve" type="submit" disabled=move || busy.get()>
                    {move || t("Принять", "Approve")}
                </button>
                <button class="btn btn-danger" id="reject" type="button" disabled=move || busy.get()
                    on:click=move |_| decide(false)>
                    {move || t("Отклонить", "Reject")}
                </button>
            </div>
        </form>
    }
}
