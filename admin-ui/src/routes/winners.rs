//! Winners of one raffle (picked in a list, kept in `?raffle=` so the page can be linked):
//! every pick with its prize, slot and claim, and the CSV and XLSX exports, which are
//! plain same-origin links (the session cookie goes along; each export is audited).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use promo_api_types::panel::{RafflePage, RaffleWinners};

use super::raffles::RaffleBadge;
use super::Page;
use crate::api;
use crate::components::{loaded, Badge, Empty};
use crate::state::{can, num, t, when};

#[component]
pub fn Winners() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let asked = Memo::new(move |_| {
        query
            .read()
            .get("raffle")
            .and_then(|v| v.parse::<i64>().ok())
    });
    let raffles = LocalResource::new(move || async move {
        api::get::<RafflePage>(&format!(
            "/api/raffles{}",
            api::query(&[("limit", "100".into())])
        ))
        .await
    });
    // The raffle shown: the one asked for, else the newest drawn one.
    let chosen = Memo::new(move |_| {
        asked.get().or_else(|| {
            raffles.get().and_then(Result::ok).and_then(|page| {
                page.raffles
                    .iter()
                    .find(|r| r.draw_id.is_some())
                    .map(|r| r.id)
            })
        })
    });
    let winners = LocalResource::new(move || {
        let id = chosen.get();
        async move {
            match id {
                Some(id) => api::get::<RaffleWinners>(&format!("/api/raffles/{id}/winners"))
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    });
    let pick = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        if value.is_empty() {
            return;
        }
        navigate(
            &format!("/winners?raffle={value}"),
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        );
    };
    view! {
        <Page ru="Победители" en="Winners" id="winners">
            {loaded(raffles, move |page: RafflePage| {
                if page.raffles.is_empty() {
                    return view! {
                        <div class="card"><Empty text=Signal::derive(|| t("Розыгрышей ещё не было.", "No raffles yet.").to_owned())/></div>
                    }.into_any();
                }
                let pick = pick.clone();
                view! {
                    <div class="card toolbar">
                        <label class="field grow">
                            <span>{move || t("Розыгрыш", "Raffle")}</span>
                            <select id="winners-raffle" on:change=pick prop:value=move || chosen.get().map(|c| c.to_string()).unwrap_or_default()>
                                {chosen.get_untracked().is_none().then(|| view! {
                                    <option value="">{move || t("— выберите —", "— choose —")}</option>
                                })}
                                {page.raffles.iter().map(|r| {
                                    let label = format!("#{} {}", r.id, r.title);
                                    let drawn = r.draw_id.is_some();
                                    let id = r.id;
                                    view! {
                                        <option value=id.to_string() selected=move || chosen.get() == Some(id)>
                                            {label.clone()} {move || (!drawn).then(|| t(" — не проведён", " — not drawn"))}
                                        </option>
                                    }
                                }).collect_view()}
                            </select>
                        </label>
                    </div>
                }.into_any()
            })}
            {loaded(winners, move |answer: Option<RaffleWinners>| match answer {
                None => view! {
                    <div class="card"><Empty text=Signal::derive(|| t("Выберите розыгрыш.", "Choose a raffle.").to_owned())/></div>
                }.into_any(),
                Some(w) => view! { <WinnerList winners=w/> }.into_any(),
            })}
        </Page>
    }
}

#[component]
fn WinnerList(winners: RaffleWinners) -> impl IntoView {
    let RaffleWinners { raffle, winners } = winners;
    let id = raffle.id;
    let detail = format!("/raffles/{id}");
    let exports = raffle.draw_id.is_some().then(|| {
        view! {
            <div class="row">
                <a class="btn btn-primary" id="export-csv" href=format!("/api/raffles/{id}/winners.csv") download="">
                    {move || t("Скачать CSV", "Download CSV")}
                </a>
                <a class="btn" id="export-xlsx" href=format!("/api/raffles/{id}/winners.xlsx") download="">
                    {move || t("Скачать XLSX", "Download XLSX")}
                </a>
            </div>
        }
    });
    let count = winners.iter().filter(|w| !w.reserve).count();
    let reserves = winners.len() - count;
    view! {
        <div class="card" id="winners-card" data-raffle=id.to_string()>
            <div class="card-head">
                <div>
                    <h2><A href=detail>{raffle.title.clone()}</A></h2>
                    <div class="row small">
                        <RaffleBadge status=raffle.status.clone()/>
                        {raffle.drawn_at.clone().map(|at| view! { <span class="muted">{move || t("проведён", "drawn")} " " {move || when(&at)}</span> })}
                        <span class="muted">{num(count as i64)} " " {move || t("победит.", "winners")} " · " {num(reserves as i64)} " " {move || t("резерв.", "reserves")}</span>
                    </div>
                </div>
                {exports}
            </div>
            {raffle.draw_id.is_some().then(|| view! {
                <p class="muted small">{move || if can("manager") {
                    t("В выгрузке полные телефоны (для вручения призов); каждая выгрузка записывается в журнал.",
                      "The export has full phone numbers (to hand over prizes); every export is written to the audit log.")
                } else {
                    t("В выгрузке замаскированные телефоны; полные видят менеджер и владелец. Каждая выгрузка записывается в журнал.",
                      "The export has masked phones; a manager or the owner gets full ones. Every export is written to the audit log.")
                }}</p>
            })}
            {if raffle.draw_id.is_none() {
                view! { <Empty text=Signal::derive(|| t("Розыгрыш ещё не проведён: победителей пока нет.", "Not drawn yet: no winners so far.").to_owned())/> }.into_any()
            } else if winners.is_empty() {
                view! { <Empty text=Signal::derive(|| t("Никто не держал билетов — победителей нет.", "Nobody held tickets: no winners.").to_owned())/> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table id="winners-table" class="cards-on-phone">
                            <thead><tr>
                                <th class="num">"#"</th>
                                <th>{move || t("Приз", "Prize")}</th>
                                <th>{move || t("Участник", "Shopper")}</th>
                                <th>{move || t("Телефон", "Phone")}</th>
                                <th class="num">{move || t("Билеты", "Tickets")}</th>
                                <th>{move || t("Статус", "Status")}</th>
                                <th>{move || t("Срок", "Deadline")}</th>
                            </tr></thead>
                            <tbody>
                                {winners.into_iter().map(|w| {
                                    let deadline = w.claim_deadline.clone();
                                    let user = format!("/users/{}", w.user_id);
                                    view! {
                                        <tr data-position=w.position.to_string() data-user=w.user_id.to_string()
                                            data-slot=if w.reserve { "reserve" } else { "winner" } data-claim=w.claim_status.clone()>
                                            <td class="num id-cell">"#" {w.position}</td>
                                            <td data-label=move || t("Приз", "Prize")>
                                                {w.prize.clone()}
                                                {w.reserve.then(|| view! { " " <span class="badge badge-plain">{move || t("резерв", "reserve")}</span> })}
                                            </td>
                                            <td data-label=move || t("Участник", "Shopper")>
                                                <A href=user>{w.name.clone()}</A>
                                                {w.username.clone().map(|u| view! { <div class="muted small">"@" {u}</div> })}
                                            </td>
                                            <td class="nowrap" data-label=move || t("Телефон", "Phone")>{w.phone_masked.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                            <td class="num" data-label=move || t("Билеты", "Tickets")>{num(w.tickets_at_draw)}</td>
                                            <td data-label=move || t("Статус", "Status")><Badge status=w.claim_status.clone()/></td>
                                            <td class="nowrap small" data-label=move || t("Срок", "Deadline")>{move || deadline.as_deref().map(when).unwrap_or_else(|| "—".to_owned())}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </div>
    }
}
