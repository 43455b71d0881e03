//! Every raffle, newest first: its status, when it is drawn, prizes and picks, the seed
//! commitment published at creation, and once drawn its public record; paged by id.
//! Also the raffle pieces the other raffle pages share (status badge, kind, short hashes).

use leptos::prelude::*;
use leptos_router::components::A;
use promo_api_types::panel::{RafflePage, RaffleRow};

use super::Page;
use crate::api;
use crate::components::{loaded, Empty};
use crate::state::{can, num, t, when};

const PAGE_SIZE: i64 = 20;

#[component]
pub fn Raffles() -> impl IntoView {
    // The cursor of the page shown and those of the pages before it, for "back".
    let before = RwSignal::new(None::<i64>);
    let earlier = RwSignal::new(Vec::<Option<i64>>::new());
    let page = LocalResource::new(move || {
        let before = before.get();
        async move {
            api::get::<RafflePage>(&format!(
                "/api/raffles{}",
                api::query(&[
                    ("limit", PAGE_SIZE.to_string()),
                    (
                        "before_id",
                        before.map(|b| b.to_string()).unwrap_or_default()
                    ),
                ])
            ))
            .await
        }
    });
    let actions = move || {
        can("manager").then(|| {
            view! {
                <A href="/raffles/new" attr:class="btn btn-primary" attr:id="raffle-new">
                    {move || t("Новый розыгрыш", "New raffle")}
                </A>
            }
        })
    };
    view! {
        <Page ru="Розыгрыши" en="Raffles" id="raffles" actions=actions>
            {loaded(page, move |p: RafflePage| {
                let next = p.next_before_id;
                // One page only: no paging buttons.
                let paged = next.is_some() || earlier.with_untracked(|e| !e.is_empty());
                if p.raffles.is_empty() && before.get_untracked().is_none() {
                    return view! {
                        <div class="card">
                            <Empty text=Signal::derive(|| t(
                                "Розыгрышей ещё не было. Создайте первый — его обязательство (хэш зерна) будет опубликовано сразу.",
                                "No raffles yet. Create the first: its commitment (the seed's hash) is published at once.",
                            ).to_owned())/>
                        </div>
                    }.into_any();
                }
                view! {
                    <div class="table-wrap">
                        <table id="raffle-list" class="cards-on-phone">
                            <thead>
                                <tr>
                                    <th>"#"</th>
                                    <th>{move || t("Розыгрыш", "Raffle")}</th>
                                    <th>{move || t("Статус", "Status")}</th>
                                    <th>{move || t("Когда", "When")}</th>
                                    <th class="num">{move || t("Призы / выборки", "Prizes / picks")}</th>
                                    <th>{move || t("Обязательство", "Commitment")}</th>
                                    <th>{move || t("Итоги", "Result")}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {p.raffles.into_iter().map(|r| view! { <RaffleLine raffle=r/> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {paged.then(|| view! {
                        <div class="row-between">
                            <button class="btn" id="raffles-prev"
                                disabled=move || earlier.with(|e| e.is_empty())
                                on:click=move |_| {
                                    let mut stack = earlier.get_untracked();
                                    if let Some(previous) = stack.pop() {
                                        earlier.set(stack);
                                        before.set(previous);
                                    }
                                }>
                                {move || t("← Новее", "← Newer")}
                            </button>
                            <button class="btn" id="raffles-next" disabled=next.is_none()
                                on:click=move |_| {
                                    if let Some(next) = next {
                                        earlier.update(|e| e.push(before.get_untracked()));
                                        before.set(Some(next));
                                    }
                                }>
                                {move || t("Старше →", "Older →")}
                            </button>
                        </div>
                    })}
                }.into_any()
            })}
        </Page>
    }
}

#[component]
fn RaffleLine(raffle: RaffleRow) -> impl IntoView {
    let r = raffle;
    let href = format!("/raffles/{}", r.id);
    let kind = r.kind.clone();
    let schedule = {
        let (drawn_at, scheduled_for, status) = (
            r.drawn_at.clone(),
            r.scheduled_for.clone(),
            r.status.clone(),
        );
        move || match (&drawn_at, &scheduled_for) {
            (Some(at), _) => format!("{} {}", t("проведён", "drawn"), when(at)),
            (None, Some(at)) => when(at),
            (None, None) if status == "cancelled" => "—".to_owned(),
            (None, None) => t("сразу", "at once").to_owned(),
        }
    };
    let commitment = r.seed_commitment.clone();
    let result = match (&r.public_url, r.participants, r.tickets) {
        (Some(url), participants, tickets) => {
            let url = url.clone();
            let detail = href.clone();
            view! {
                <div class="stack-tight">
                    <A href=detail attr:class="small">{move || t("победители", "winners")}</A>
                    <a class="small" href=url target="_blank" rel="noopener">{move || t("публичная запись", "public record")}</a>
                    <span class="muted small">
                        {num(participants.unwrap_or(0))} " " {move || t("участн.", "players")}
                        " · " {num(tickets.unwrap_or(0))} " " {move || t("бил.", "tickets")}
                    </span>
                </div>
            }
            .into_any()
        }
        _ => {
            let url = r.record_url.clone();
            view! {
                <a class="small" href=url target="_blank" rel="noopener">{move || t("обязательство", "commitment")}</a>
            }
            .into_any()
        }
    };
    view! {
        <tr data-raffle=r.id.to_string() data-status=r.status.clone()>
            <td class="num id-cell">"#" {r.id}</td>
            <td>
                <A href=href attr:class="raffle-title">{r.title.clone()}</A>
                <div class="muted small">{move || kind_label(kind.as_deref())}</div>
            </td>
            <td data-label=move || t("Статус", "Status")><RaffleBadge status=r.status.clone()/></td>
            <td class="nowrap" data-label=move || t("Когда", "When")>{schedule}</td>
            <td class="num" data-label=move || t("Призы / выборки", "Prizes / picks")>{num(r.prizes)} " / " {num(r.picks)}</td>
            <td data-label=move || t("Обязательство", "Commitment")><ShortHash value=commitment/></td>
            <td data-label=move || t("Итоги", "Result")>{result}</td>
        </tr>
    }
}

/// A raffle's campaign status in words a raffle takes ("проведён", not "завершена").
#[component]
pub fn RaffleBadge(#[prop(into)] status: String) -> impl IntoView {
    let tone = match status.as_str() {
        "completed" => "good",
        "cancelled" | "failed" => "bad",
        "scheduled" | "running" | "paused" => "busy",
        _ => "plain",
    };
    let label = {
        let status = status.clone();
        move || match status.as_str() {
            "scheduled" => t("ждёт розыгрыша", "scheduled").to_owned(),
            "running" => t("проводится", "drawing").to_owned(),
            "completed" => t("проведён", "drawn").to_owned(),
            "cancelled" => t("отменён", "cancelled").to_owned(),
            "failed" => t("сбой", "failed").to_owned(),
            "paused" => t("на паузе", "paused").to_owned(),
            "draft" => t("черновик", "draft").to_owned(),
            other => other.replace('_', " "),
        }
    };
    view! { <span class=format!("badge badge-{tone}") data-status=status>{label}</span> }
}

/// `intermediate` / `final` in the operator's language; older raffles have no kind.
pub fn kind_label(kind: Option<&str>) -> &'static str {
    match kind {
        Some("intermediate") => t("промежуточный", "intermediate"),
        Some("final") => t("финальный", "final"),
        _ => t("розыгрыш (до призов)", "raffle (before prizes)"),
    }
}

/// A 64-digit hash shortened to its first and last digits, whole in the tooltip and for
/// copying (selecting the text copies all of it).
#[component]
pub fn ShortHash(value: Option<String>) -> impl IntoView {
    match value {
        None => view! { <span class="muted">"—"</span> }.into_any(),
        Some(hash) => {
            let chars: Vec<char> = hash.chars().collect();
            let short = if chars.len() > 16 {
                let head: String = chars[..8].iter().collect();
                let tail: String = chars[chars.len() - 6..].iter().collect();
                format!("{head}…{tail}")
            } else {
                hash.clone()
            };
            view! { <code class="mono hash" title=hash.clone() data-hash=hash>{short}</code> }
                .into_any()
        }
    }
}
