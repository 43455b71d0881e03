//! Receipts: the list with every filter `GET /api/receipts` takes, the moderation queue
//! (receipts held for review, one at a time with its lines and fraud signals, approved
//! or rejected with a reason the shopper is told), and the sellers whose receipts wait.
//! Everything chosen lives in the address (`?tab=&status=&open=…`), so the dashboard and
//! a user's page link straight to a filter or a receipt.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use promo_api_types::panel::{ReceiptPage, ReceiptRow, SuspiciousSeller};

use super::receipt_view::{printed_time, ReceiptCard, SignalBadges};
use super::Page;
use crate::api::{self, Failure};
use crate::components::{
    loaded, paged, Badge, Empty, ErrorBox, FieldError, Loading, MoreButton, Paged,
};
use crate::state::{local_to_utc, num, rub, t, when};

/// The address keys this page reads; anything else is dropped when it changes one.
const KEYS: &[&str] = &[
    "tab",
    "status",
    "user_id",
    "seller_inn",
    "has_promo",
    "flagged",
    "from",
    "to",
    "open",
];

type Query = Memo<leptos_router::params::ParamsMap>;

fn read(query: Query, key: &str) -> String {
    query.read().get(key).unwrap_or_default()
}

/// `/receipts?…` with `changes` applied to the current address.
fn href_with(query: Query, changes: &[(&str, &str)]) -> String {
    let pairs: Vec<(&str, String)> = KEYS
        .iter()
        .map(|key| {
            let value = changes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| read(query, key));
            (*key, value)
        })
        .collect();
    format!("/receipts{}", api::query(&pairs))
}

#[component]
pub fn Receipts() -> impl IntoView {
    let query = use_query_map();
    let notice = RwSignal::new(None::<String>);
    let tab = move || match read(query, "tab").as_str() {
        "moderation" => "moderation",
        "sellers" => "sellers",
        _ => "list",
    };
    let tabs: [(&str, &str, &str); 3] = [
        ("list", "Все чеки", "All receipts"),
        ("moderation", "Модерация", "Moderation"),
        ("sellers", "Продавцы", "Sellers"),
    ];
    view! {
        <Page ru="Чеки" en="Receipts" id="receipts">
            <nav class="tabs receipts-tabs" role="tablist" aria-label=move || t("Разделы", "Sections")>
                {tabs.into_iter().map(|(key, ru, en)| {
                    let href = format!("/receipts?tab={key}");
                    view! {
                        <A href=href attr:class="tab" attr:role="tab" attr:id=format!("tab-{key}")
                            attr:aria-selected=move || (tab() == key).to_string()>
                            {move || t(ru, en)}
                        </A>
                    }
                }).collect_view()}
            </nav>
            {move || notice.get().map(|text| view! {
                <div class="notice row-between" id="receipts-notice" role="status">
                    <span>{text}</span>
                    <button class="btn btn-ghost btn-small" type="button"
                        aria-label=move || t("Скрыть", "Dismiss")
                        on:click=move |_| notice.set(None)>"✕"</button>
                </div>
            })}
            {move || match tab() {
                "moderation" => view! { <Moderation query notice/> }.into_any(),
                "sellers" => view! { <Sellers/> }.into_any(),
                _ => view! { <ReceiptList query notice/> }.into_any(),
            }}
        </Page>
    }
}

/// `2024-09-17` → the day after, for an inclusive "to" date.
fn next_day(date: &str) -> Option<String> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    let (y, m, d) = if d < days {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    };
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// The API path of the list the address asks for.
fn list_path(query: Query, only_pending: bool) -> String {
    let from = read(query, "from");
    let to = read(query, "to");
    let status = if only_pending {
        "pending".to_owned()
    } else {
        read(query, "status")
    };
    let bool_of = |key: &str| match read(query, key).as_str() {
        "true" => "true".to_owned(),
        "false" => "false".to_owned(),
        _ => String::new(),
    };
    format!(
        "/api/receipts{}",
        api::query(&[
            ("status", status),
            ("user_id", read(query, "user_id")),
            ("seller_inn", read(query, "seller_inn")),
            ("has_promo", bool_of("has_promo")),
            ("flagged", bool_of("flagged")),
            (
                "from",
                local_to_utc(&format!("{from}T00:00")).unwrap_or_default()
            ),
            (
                "to",
                next_day(&to)
                    .and_then(|d| local_to_utc(&format!("{d}T00:00")))
                    .unwrap_or_default()
            ),
        ])
    )
}

fn receipt_list(query: Query, only_pending: bool) -> Paged<ReceiptRow> {
    paged(
        move || list_path(query, only_pending),
        |page: ReceiptPage| (page.receipts, page.next_before_id),
    )
}

fn open_id(query: Query) -> Option<i64> {
    read(query, "open").parse().ok()
}

// ---------------------------------------------------------------- the list

#[component]
fn ReceiptList(query: Query, notice: RwSignal<Option<String>>) -> impl IntoView {
    let navigate = use_navigate();
    let status = RwSignal::new(String::new());
    let user_id = RwSignal::new(String::new());
    let seller_inn = RwSignal::new(String::new());
    let has_promo = RwSignal::new(String::new());
    let flagged = RwSignal::new(false);
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        status.set(read(query, "status"));
        user_id.set(read(query, "user_id"));
        seller_inn.set(read(query, "seller_inn"));
        has_promo.set(read(query, "has_promo"));
        flagged.set(read(query, "flagged") == "true");
        from.set(read(query, "from"));
        to.set(read(query, "to"));
    });
    let list = receipt_list(query, false);
    // The API's complaint about a filter belongs next to that filter.
    Effect::new(move |_| {
        if let Some(Err(failure)) = list.rows.get() {
            if failure.field.is_some() {
                error.set(Some(failure));
            }
        }
    });

    let go = navigate.clone();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let user = user_id.get_untracked().trim().to_owned();
        if !user.is_empty() && user.parse::<i64>().map_or(true, |n| n <= 0) {
            error.set(Some(Failure::invalid(
                "user_id",
                t(
                    "Номер участника — целое число.",
                    "A user id is a whole number.",
                ),
            )));
            return;
        }
        let inn = seller_inn.get_untracked().trim().to_owned();
        if !inn.is_empty()
            && (!(inn.len() == 10 || inn.len() == 12) || !inn.chars().all(|c| c.is_ascii_digit()))
        {
            error.set(Some(Failure::invalid(
                "seller_inn",
                t("ИНН — 10 или 12 цифр.", "An INN has 10 or 12 digits."),
            )));
            return;
        }
        let (from_value, to_value) = (from.get_untracked(), to.get_untracked());
        if !from_value.is_empty() && !to_value.is_empty() && from_value > to_value {
            error.set(Some(Failure::invalid(
                "to",
                t(
                    "Конец периода раньше начала.",
                    "The end is before the start.",
                ),
            )));
            return;
        }
        error.set(None);
        let flag = if flagged.get_untracked() { "true" } else { "" };
        let target = href_with(
            query,
            &[
                ("tab", ""),
                ("status", &status.get_untracked()),
                ("user_id", &user),
                ("seller_inn", &inn),
                ("has_promo", &has_promo.get_untracked()),
                ("flagged", flag),
                ("from", &from_value),
                ("to", &to_value),
                ("open", ""),
            ],
        );
        go(&target, Default::default());
    };
    let invalid = move |field: &'static str| {
        move || error.get().is_some_and(|e| e.is_field(field)).to_string()
    };
    let close = navigate.clone();
    let decided = Callback::new(move |(_, message): (i64, String)| {
        notice.set(Some(message));
        list.reload();
    });

    view! {
        <form class="card toolbar receipt-filters" id="receipt-filters" on:submit=submit novalidate>
            <label class="field">
                <span>{move || t("Статус", "Status")}</span>
                <select id="filter-status" prop:value=move || status.get()
                    on:change=move |e| status.set(event_target_value(&e))>
                    <option value="">{move || t("Все", "All")}</option>
                    <option value="pending">{move || t("На модерации", "Awaiting review")}</option>
                    <option value="accepted">{move || t("Приняты", "Accepted")}</option>
                    <option value="rejected">{move || t("Отклонены", "Rejected")}</option>
                </select>
            </label>
            <label class="field">
                <span>{move || t("Участник №", "User id")}</span>
                <input id="filter-user" inputmode="numeric" bind:value=user_id aria-invalid=invalid("user_id")/>
                <FieldError error field="user_id"/>
            </label>
            <label class="field">
                <span>{move || t("ИНН продавца", "Seller INN")}</span>
                <input id="filter-inn" inputmode="numeric" bind:value=seller_inn aria-invalid=invalid("seller_inn")/>
                <FieldError error field="seller_inn"/>
            </label>
            <label class="field">
                <span>{move || t("Акционные товары", "Promo products")}</span>
                <select id="filter-promo" prop:value=move || has_promo.get()
                    on:change=move |e| has_promo.set(event_target_value(&e))>
                    <option value="">{move || t("Неважно", "Any")}</option>
                    <option value="true">{move || t("Есть", "Some")}</option>
                    <option value="false">{move || t("Нет", "None")}</option>
                </select>
            </label>
            <label class="field">
                <span>{move || t("Загружены с", "Uploaded from")}</span>
                <input id="filter-from" type="date" bind:value=from aria-invalid=invalid("from")/>
                <FieldError error field="from"/>
            </label>
            <label class="field">
                <span>{move || t("по", "to")}</span>
                <input id="filter-to" type="date" bind:value=to aria-invalid=invalid("to")/>
                <FieldError error field="to"/>
            </label>
            <div class="row filter-actions">
                <label class="check">
                    <input type="checkbox" id="filter-flagged" bind:checked=flagged/>
                    <span>{move || t("с сигналами", "flagged")}</span>
                </label>
                <span class="grow"></span>
                <button class="btn btn-primary" id="filter-submit" type="submit">{move || t("Показать", "Apply")}</button>
                <A href="/receipts" attr:class="btn btn-ghost" attr:id="filter-reset">{move || t("Сбросить", "Reset")}</A>
            </div>
        </form>
        {move || open_id(query).map(|id| {
            let close = close.clone();
            view! {
                <ReceiptCard id decided on_close=Callback::new(move |_| {
                    close(&href_with(query, &[("open", "")]), Default::default());
                })/>
            }
        })}
        {move || match list.rows.get() {
            None => view! { <Loading/> }.into_any(),
            Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
            Some(Ok(rows)) if rows.is_empty() => view! {
                <div class="card" id="receipts-empty">
                    <Empty text=Signal::derive(|| t("Чеков с такими условиями нет.", "No receipts match.").to_owned())/>
                </div>
            }.into_any(),
            Some(Ok(rows)) => view! { <ReceiptTable rows query/> }.into_any(),
        }}
        <MoreButton list id="receipts-more"/>
    }
}

#[component]
fn ReceiptTable(rows: Vec<ReceiptRow>, query: Query) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="receipts-table" id="receipts-table">
                <thead><tr>
                    <th>"#"</th>
                    <th>{move || t("Участник", "User")}</th>
                    <th>{move || t("Статус", "Status")}</th>
                    <th class="num">{move || t("Сумма", "Total")}</th>
                    <th class="num">{move || t("Билеты", "Tickets")}</th>
                    <th class="opt">{move || t("Продавец", "Seller")}</th>
                    <th class="opt">{move || t("Покупка", "Sale")}</th>
                    <th class="opt">{move || t("Загружен", "Uploaded")}</th>
                    <th>{move || t("Сигналы", "Signals")}</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let created = r.created_at.clone();
                        let open = href_with(query, &[("open", &r.id.to_string())]);
                        let selected = r.id;
                        view! {
                            <tr data-receipt-id=r.id.to_string() data-status=r.status.clone()
                                class:selected=move || open_id(query) == Some(selected)>
                                <td class="c-id"><A href=open attr:class="receipt-open">"#" {r.id}</A></td>
                                <td class="c-user"><A href=format!("/users/{}", r.user_id)>{r.user_name.clone()}</A></td>
                                <td class="c-status"><Badge status=r.status.clone()/></td>
                                <td class="c-sum num nowrap">{rub(r.total_kopecks)}</td>
                                <td class="c-tickets num">{num(r.tickets)}</td>
                                <td class="opt seller-cell">
                                    {r.seller_name.clone().unwrap_or_else(|| "—".into())}
                                    {r.seller_inn.clone().map(|inn| view! { <div class="muted small inn">{inn}</div> })}
                                </td>
                                <td class="opt nowrap">{printed_time(&r.receipt_at)}</td>
                                <td class="opt nowrap">{move || when(&created)}</td>
                                <td class="c-signals"><SignalBadges signals=r.signals.clone()/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

// ---------------------------------------------------------------- moderation

#[component]
fn Moderation(query: Query, notice: RwSignal<Option<String>>) -> impl IntoView {
    let navigate = use_navigate();
    let list = receipt_list(query, true);
    // The receipt on show: the one asked for, else the first in the queue.
    let selected = Memo::new(move |_| {
        open_id(query).or_else(|| {
            list.rows.with(|rows| {
                rows.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .and_then(|r| r.first().map(|r| r.id))
            })
        })
    });
    let go = navigate.clone();
    let decided = Callback::new(move |(id, message): (i64, String)| {
        notice.set(Some(message));
        // On to the next one in the queue (the one after, else the one before).
        let next = list.rows.with_untracked(|rows| {
            let rows = rows.as_ref()?.as_ref().ok()?;
            let at = rows.iter().position(|r| r.id == id)?;
            rows.get(at + 1)
                .or_else(|| at.checked_sub(1).and_then(|i| rows.get(i)))
                .map(|r| r.id)
        });
        let next = next.map(|n| n.to_string()).unwrap_or_default();
        go(
            &href_with(query, &[("tab", "moderation"), ("open", &next)]),
            Default::default(),
        );
        list.reload();
    });
    let seller = move || read(query, "seller_inn");
    view! {
        {move || (!seller().is_empty()).then(|| view! {
            <div class="row" id="moderation-seller">
                <span class="muted">{move || t("Только продавец", "Seller only")}</span>
                <span class="badge badge-plain mono">{seller()}</span>
                <A href="/receipts?tab=moderation" attr:class="btn btn-ghost btn-small">{move || t("Все продавцы", "All sellers")}</A>
            </div>
        })}
        <div class="moderation" id="moderation">
            <div class="card moderation-queue">
                <div class="card-head">
                    <h2>{move || t("Очередь", "Queue")}</h2>
                    <span class="muted small" id="queue-count">
                        {move || list.rows.with(|rows| match rows {
                            Some(Ok(rows)) => format!("{}{}", num(rows.len() as i64), if list.next.get().is_some() { "+" } else { "" }),
                            _ => String::new(),
                        })}
                    </span>
                </div>
                {move || match list.rows.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                    Some(Ok(rows)) if rows.is_empty() => view! {
                        <div id="queue-empty">
                            <Empty text=Signal::derive(|| t("Очередь пуста: все чеки проверены.", "The queue is empty: every receipt is reviewed.").to_owned())/>
                        </div>
                    }.into_any(),
                    Some(Ok(rows)) => view! {
                        <ul class="queue" id="queue">
                            {rows.into_iter().map(|r| {
                                let id = r.id;
                                let href = href_with(query, &[("tab", "moderation"), ("open", &id.to_string())]);
                                view! {
                                    <li>
                                        <A href=href attr:class="queue-item" attr:data-receipt-id=id.to_string()
                                            attr:aria-current=move || (selected.get() == Some(id)).then_some("true")>
                                            <span class="row-between">
                                                <strong>"#" {id} " · " {rub(r.total_kopecks)}</strong>
                                                <span class="muted small">{printed_time(&r.receipt_at)}</span>
                                            </span>
                                            <span class="small">{r.user_name.clone()} " · " {r.seller_name.clone().unwrap_or_else(|| "—".into())}</span>
                                            <SignalBadges signals=r.signals.clone()/>
                                        </A>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
                <MoreButton list id="queue-more"/>
            </div>
            <div class="moderation-detail">
                {move || match selected.get() {
                    Some(id) => view! { <ReceiptCard id decided/> }.into_any(),
                    None => view! {
                        <div class="card"><Empty text=Signal::derive(|| t("Выберите чек слева.", "Pick a receipt from the queue.").to_owned())/></div>
                    }.into_any(),
                }}
            </div>
        </div>
    }
}

// ---------------------------------------------------------------- sellers

#[component]
fn Sellers() -> impl IntoView {
    let sellers =
        LocalResource::new(|| api::get::<Vec<SuspiciousSeller>>("/api/receipts/sellers?limit=100"));
    view! {
        <div class="card" id="sellers">
            <div class="card-head">
                <h2>{move || t("Продавцы с чеками на модерации", "Sellers with receipts awaiting review")}</h2>
            </div>
            <p class="muted small">{move || t(
                "Больше всего ожидающих — сверху. Много чеков одного магазина за день часто значит, что чеки собирают с чужих покупок.",
                "The most waiting first. Many receipts of one shop in a day often mean receipts collected from others' purchases.")}</p>
            {loaded(sellers, |all: Vec<SuspiciousSeller>| {
                if all.is_empty() {
                    return view! {
                        <div id="sellers-empty">
                            <Empty text=Signal::derive(|| t("Подозрительных продавцов нет.", "No suspicious sellers.").to_owned())/>
                        </div>
                    }.into_any();
                }
                view! {
                    <div class="table-wrap">
                        <table id="sellers-table">
                            <thead><tr>
                                <th>{move || t("Продавец", "Seller")}</th>
                                <th class="num">{move || t("Ждут", "Waiting")}</th>
                                <th class="num opt">{move || t("Принято", "Accepted")}</th>
                                <th class="num opt">{move || t("Участников", "Users")}</th>
                                <th class="opt">{move || t("Последний чек", "Last receipt")}</th>
                                <th></th>
                            </tr></thead>
                            <tbody>
                                {all.into_iter().map(|s| view! {
                                    <tr data-seller-inn=s.seller_inn.clone()>
                                        <td class="seller-cell">
                                            {s.seller_name.clone().unwrap_or_else(|| "—".into())}
                                            <div class="muted small inn">{s.seller_inn.clone()}</div>
                                        </td>
                                        <td class="num"><strong>{num(s.pending)}</strong></td>
                                        <td class="num opt">{num(s.accepted)}</td>
                                        <td class="num opt">{num(s.shoppers)}</td>
                                        <td class="opt nowrap">{printed_time(&s.last_receipt_at)}</td>
                                        <td class="actions-cell">
                                            <A href=format!("/receipts?tab=moderation&seller_inn={}", s.seller_inn)
                                                attr:class="btn btn-small">{move || t("Проверить", "Review")}</A>
                                            <A href=format!("/receipts?seller_inn={}", s.seller_inn)
                                                attr:class="btn btn-small btn-ghost">{move || t("Все чеки", "All")}</A>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            })}
        </div>
    }
}
