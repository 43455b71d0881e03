//! One raffle: what was decided, the seed commitment published before the draw, and after
//! it the revealed seed, the snapshot hash and the server's redo of the draw (verified or
//! its problems); the picks grouped by prize with reserves marked and each claim's state,
//! and the claim actions the API allows the operator's role. While the raffle waits or
//! runs, its campaign's live progress; the page reloads itself when the draw lands.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use promo_api_types::panel::{
    CampaignDetail, CampaignSummary, ClaimDocuments, DisqualifyRequest, RaffleDetail as Detail,
    RaffleDrawView, RafflePrizeView, RaffleRow, RaffleSpecView, RaffleWinner, Reroll,
};

use super::raffles::{kind_label, RaffleBadge};
use super::Page;
use crate::api::{self, Answer, Failure};
use crate::components::{
    live_campaign, loaded, Badge, Empty, ErrorBox, FieldError, FormError, ProgressBar,
};
use crate::state::{can, num, rub, t, when};

/// A campaign status after which nothing changes (core's list; `completed` included).
fn settled(status: &str) -> bool {
    matches!(status, "completed" | "cancelled" | "failed")
}

/// Claim statuses whose holder can still be disqualified (core's `Ending::Disqualified`).
fn holds_prize(claim: &str) -> bool {
    matches!(claim, "notified" | "confirmed" | "documents_received")
}

/// What a confirmation dialog is about to do.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Cancel,
    HandOver { winner_id: i64, who: String },
}

#[component]
pub fn RaffleDetail() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|v| v.parse::<i64>().ok()));
    let detail = LocalResource::new(move || {
        let id = id.get();
        async move {
            match id {
                Some(id) => api::get::<Detail>(&format!("/api/raffles/{id}")).await,
                None => Err(Failure {
                    status: 404,
                    code: "not_found".to_owned(),
                    message: t("Нет такого розыгрыша", "No such raffle").to_owned(),
                    field: None,
                }),
            }
        }
    });
    // Dialogs and notices live here, above the body that redraws on every reload.
    let ctx = Ctx {
        detail,
        notice: RwSignal::new(None),
        action_error: RwSignal::new(None),
        disqualify: RwSignal::new(None),
        confirm: RwSignal::new(None),
        documents: RwSignal::new(None),
    };
    // `Page` runs its actions once: the reactive part is inside, following the reloads.
    let actions = move || view! { {move || raffle_actions(detail, ctx)} };
    view! {
        <Page ru="Розыгрыш" en="Raffle" id="raffle-detail" actions=actions>
            {move || ctx.notice.get().map(|n| view! { <div class="notice" role="status" id="raffle-notice">{n}</div> })}
            <FormError error=ctx.action_error/>
            {loaded(detail, move |d: Detail| view! { <Body detail=d ctx/> })}
            <DisqualifyDialog ctx/>
            <ConfirmDialog ctx/>
            <DocumentsDialog ctx/>
        </Page>
    }
}

/// The page's buttons for the raffle as loaded: its public record, the winners' export
/// once drawn, and cancelling while it waits (manager).
fn raffle_actions(detail: LocalResource<Answer<Detail>>, ctx: Ctx) -> Option<impl IntoView> {
    let row = detail.get().and_then(Result::ok).map(|d| d.raffle)?;
    let cancellable = can("manager")
        && row.draw_id.is_none()
        && matches!(row.status.as_str(), "scheduled" | "paused");
    let record = row.public_url.clone().unwrap_or(row.record_url.clone());
    Some(view! {
        <a class="btn" href=record target="_blank" rel="noopener" id="raffle-public-link">
            {move || t("Публичная запись", "Public record")}
        </a>
        {row.draw_id.is_some().then(|| {
            let href = format!("/winners?raffle={}", row.id);
            view! { <A href=href attr:class="btn">{move || t("Выгрузка победителей", "Export winners")}</A> }
        })}
        {cancellable.then(|| view! {
            <button class="btn btn-danger" id="raffle-cancel"
                on:click=move |_| ctx.confirm.set(Some(Pending::Cancel))>
                {move || t("Отменить розыгрыш", "Cancel the raffle")}
            </button>
        })}
    })
}

#[derive(Clone, Copy)]
struct Ctx {
    detail: LocalResource<Answer<Detail>>,
    notice: RwSignal<Option<String>>,
    action_error: RwSignal<Option<Failure>>,
    /// The winner being disqualified.
    disqualify: RwSignal<Option<RaffleWinner>>,
    confirm: RwSignal<Option<Pending>>,
    documents: RwSignal<Option<Answer<ClaimDocuments>>>,
}

impl Ctx {
    fn raffle_id(&self) -> Option<i64> {
        self.detail
            .get_untracked()
            .and_then(Result::ok)
            .map(|d| d.raffle.id)
    }
}

#[component]
fn Body(detail: Detail, ctx: Ctx) -> impl IntoView {
    let Detail {
        raffle,
        spec,
        draw,
        picks,
    } = detail;
    let waiting = !settled(&raffle.status);
    view! {
        <div class="stack" data-raffle=raffle.id.to_string() data-status=raffle.status.clone()>
            <Summary raffle=raffle.clone() spec=spec.clone()/>
            <Progress raffle_id=raffle.id waiting ctx/>
            <div class="grid-2">
                <Commitment raffle=raffle.clone()/>
                {match draw {
                    Some(draw) => view! { <DrawCheck draw raffle=raffle.clone() multiple=spec.as_ref().is_some_and(|s| s.multiple_wins)/> }.into_any(),
                    None => view! {
                        <div class="card" id="draw-pending">
                            <h2>{move || t("Проверка розыгрыша", "The draw's check")}</h2>
                            <p class="muted">{move || t(
                                "После розыгрыша здесь появятся раскрытое зерно, хэш снимка участников и результат повторного проведения на сервере.",
                                "After the draw: the revealed seed, the snapshot's hash and the server's redo of the draw.",
                            )}</p>
                        </div>
                    }.into_any(),
                }}
            </div>
            {spec.clone().map(|s| view! { <PrizeTable spec=s/> })}
            {raffle.draw_id.is_some().then(|| view! { <Winners raffle=raffle.clone() spec=spec.clone() picks=picks.clone() ctx/> })}
            {spec.map(|s| view! { <Messages spec=s/> })}
        </div>
    }
}

#[component]
fn Summary(raffle: RaffleRow, spec: Option<RaffleSpecView>) -> impl IntoView {
    let kind = raffle.kind.clone();
    let created = raffle.created_at.clone();
    let schedule = {
        let (scheduled, drawn) = (raffle.scheduled_for.clone(), raffle.drawn_at.clone());
        move || match (&drawn, &scheduled) {
            (Some(at), _) => format!("{} {}", t("проведён", "drawn"), when(at)),
            (None, Some(at)) => when(at),
            (None, None) => t("сразу после создания", "right after it was created").to_owned(),
        }
    };
    let window = spec.as_ref().map(|s| {
        let from = s.window_from.clone();
        let to = s.window_to.clone();
        let zone = s.time_zone.clone();
        move || {
            let bound = |b: &Option<String>| b.as_deref().map(|b| b.replace('T', " "));
            match (bound(&from), bound(&to)) {
                (None, None) => t("все чеки акции", "every receipt of the promotion").to_owned(),
                (from, to) => format!(
                    "{} {} {} {} ({zone})",
                    t("с", "from"),
                    from.unwrap_or_else(|| "…".to_owned()),
                    t("до", "until"),
                    to.unwrap_or_else(|| "…".to_owned()),
                ),
            }
        }
    });
    let rules = spec.as_ref().map(|s| {
        let (multiple, burn, reserves, losers) = (
            s.multiple_wins,
            s.burn_tickets,
            s.reserves_per_prize,
            s.notify_losers,
        );
        move || {
            let mut parts = vec![format!(
                "{} {}",
                t("резервных на приз:", "reserves per prize:"),
                reserves
            )];
            parts.push(
                if multiple {
                    t("можно выиграть несколько призов", "several wins allowed")
                } else {
                    t("один приз на участника", "one prize per shopper")
                }
                .to_owned(),
            );
            if burn {
                parts.push(t("сжигает билеты", "burns its tickets").to_owned());
            }
            if losers {
                parts.push(t("сообщает остальным", "tells the others").to_owned());
            }
            parts.join(" · ")
        }
    });
    view! {
        <div class="card" id="raffle-summary">
            <div class="card-head">
                <h2 id="raffle-title">{raffle.title.clone()}</h2>
                <RaffleBadge status=raffle.status.clone()/>
            </div>
            <dl class="facts">
                <dt>{move || t("Вид", "Kind")}</dt>
                <dd>{move || kind_label(kind.as_deref())} " · #" {raffle.id}</dd>
                <dt>{move || t("Создан", "Created")}</dt>
                <dd>{move || when(&created)}</dd>
                <dt>{move || t("Розыгрыш", "Draw")}</dt>
                <dd id="raffle-schedule">{schedule}</dd>
                {window.map(|w| view! {
                    <dt>{move || t("Чеки", "Receipts")}</dt>
                    <dd>{w}</dd>
                })}
                <dt>{move || t("Призы / выборки", "Prizes / picks")}</dt>
                <dd>{num(raffle.prizes)} " / " {num(raffle.picks)}</dd>
                {rules.map(|r| view! {
                    <dt>{move || t("Правила", "Rules")}</dt>
                    <dd>{r}</dd>
                })}
            </dl>
        </div>
    }
}

/// The raffle campaign's progress: live while it waits or runs (a settled campaign
/// reloads the page, which shows the draw), the winners' notifications once drawn.
#[component]
fn Progress(raffle_id: i64, waiting: bool, ctx: Ctx) -> impl IntoView {
    let campaign = LocalResource::new(move || async move {
        api::get::<CampaignDetail>(&format!("/api/campaigns/{raffle_id}")).await
    });
    move || match campaign.get() {
        Some(Ok(c)) if waiting => view! { <LiveProgress campaign=c.campaign ctx/> }.into_any(),
        Some(Ok(c)) if c.campaign.status == "failed" => {
            let reason = c.error.clone().unwrap_or_default();
            view! {
                <div class="card" id="raffle-progress" data-status="failed">
                    <h2>{move || t("Розыгрыш не состоялся", "The draw did not take place")}</h2>
                    <div class="state error" role="alert">{reason}</div>
                </div>
            }
            .into_any()
        }
        Some(Ok(c)) if c.campaign.total > 0 => {
            let s = c.campaign;
            let done = s.sent + s.failed + s.blocked + s.unknown;
            view! {
                <div class="card" id="raffle-progress" data-status=s.status.clone()>
                    <h2>{move || t("Уведомления победителям", "Winners' notifications")}</h2>
                    <ProgressBar done=done total=s.total/>
                    <div class="muted small">
                        {move || t("доставлено", "delivered")} " " {num(s.sent)} " "
                        {move || t("из", "of")} " " {num(s.total)}
                        {(s.blocked > 0).then(|| view! {
                            " · " {move || t("заблокировали бота", "blocked the bot")} " " {num(s.blocked)}
                        })}
                        {(s.failed > 0).then(|| view! { " · " {move || t("ошибок", "failed")} " " {num(s.failed)} })}
                    </div>
                </div>
            }
            .into_any()
        }
        _ => ().into_any(),
    }
}

#[component]
fn LiveProgress(campaign: CampaignSummary, ctx: Ctx) -> impl IntoView {
    let live = live_campaign(campaign);
    // Once the campaign settles the draw is in: reload, which also ends this stream.
    Effect::new(move |_| {
        if settled(&live.get().status) {
            ctx.detail.refetch();
        }
    });
    let done = Signal::derive(move || {
        let c = live.get();
        c.sent + c.failed + c.blocked + c.unknown
    });
    let total = Signal::derive(move || live.get().total);
    view! {
        <div class="card" id="raffle-progress" data-status=move || live.get().status>
            <h2>{move || t("Ход розыгрыша", "Progress")}</h2>
            {move || {
                let c = live.get();
                match (c.status.as_str(), c.scheduled_for.clone()) {
                    ("scheduled", Some(at)) => view! {
                        <p class="muted">{move || t("Розыгрыш пройдёт", "The draw takes place")} " " {move || when(&at)}</p>
                    }.into_any(),
                    ("scheduled", None) => view! {
                        <p class="muted"><span class="spinner" aria-hidden="true"></span>
                            {move || t("Розыгрыш в очереди, сейчас начнётся…", "The draw is queued and starts in a moment…")}</p>
                    }.into_any(),
                    _ => view! {
                        <p class="muted"><span class="spinner" aria-hidden="true"></span>
                            {move || t("Идёт розыгрыш…", "Drawing…")}</p>
                    }.into_any(),
                }
            }}
            <ProgressBar done total/>
        </div>
    }
}

#[component]
fn Commitment(raffle: RaffleRow) -> impl IntoView {
    let record = raffle.record_url.clone();
    view! {
        <div class="card" id="raffle-commitment-card">
            <h2>{move || t("Обязательство", "Commitment")}</h2>
            <p class="muted small">{move || t(
                "SHA-256 секретного зерна, опубликованный при создании — до розыгрыша. После розыгрыша зерно раскрывается, и любой может проверить, что оно то самое.",
                "SHA-256 of the secret seed, published at creation, before the draw. The draw reveals the seed, and anyone can check it is the one committed to.",
            )}</p>
            {match raffle.seed_commitment.clone() {
                Some(c) => view! { <code class="mono hash-block" id="raffle-commitment">{c}</code> }.into_any(),
                None => view! { <p class="muted" id="raffle-commitment">{move || t("Нет: розыгрыш проведён до обязательств (v1).", "None: drawn before commitments (v1).")}</p> }.into_any(),
            }}
            <p class="small"><a href=record target="_blank" rel="noopener">{move || t("Публичная запись розыгрыша", "The raffle's public record")}</a></p>
        </div>
    }
}

#[component]
fn DrawCheck(draw: RaffleDrawView, raffle: RaffleRow, multiple: bool) -> impl IntoView {
    let drawn = draw.drawn_at.clone();
    let snapshot_url = format!("{}/snapshot.txt", draw.public_url);
    let command = format!(
        "python3 infra/verify_draw.py --seed {} --picks {}{} --commitment {} --snapshot-hash {} < snapshot.txt",
        draw.seed,
        raffle.picks,
        if multiple { " --multiple-wins" } else { "" },
        draw.seed_commitment.clone().unwrap_or_else(|| "-".to_owned()),
        draw.snapshot_hash.clone().unwrap_or_else(|| "-".to_owned()),
    );
    let verdict = if draw.verified {
        view! {
            <div class="verdict good" id="draw-verified" data-verified="true" role="status">
                <strong>"✓ " {move || t("Проверено", "Verified")}</strong>
                <span>{move || t(
                    "Сервер заново провёл розыгрыш по раскрытому зерну и снимку: зерно совпадает с обязательством, победители — с записанными.",
                    "The server redid the draw from the revealed seed and the snapshot: the seed matches the commitment, the winners match the record.",
                )}</span>
            </div>
        }
        .into_any()
    } else {
        let problems = draw.problems.clone();
        view! {
            <div class="verdict bad" id="draw-verified" data-verified="false" role="alert">
                <strong>"✗ " {move || t("Не сходится", "Does not verify")}</strong>
                <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
            </div>
        }
        .into_any()
    };
    view! {
        <div class="card" id="draw-check">
            <h2>{move || t("Проверка розыгрыша", "The draw's check")}</h2>
            {verdict}
            <dl class="facts">
                <dt>{move || t("Проведён", "Drawn")}</dt>
                <dd>{move || when(&drawn)}</dd>
                <dt>{move || t("Участники", "Participants")}</dt>
                <dd id="draw-participants">{num(draw.participants)} " · " {num(draw.tickets)} " " {move || t("билетов", "tickets")}</dd>
                <dt>{move || t("Зерно", "Seed")}</dt>
                <dd><code class="mono" id="draw-seed">{draw.seed.clone()}</code></dd>
                <dt>{move || t("Хэш снимка", "Snapshot hash")}</dt>
                <dd><code class="mono" id="draw-snapshot-hash">{draw.snapshot_hash.clone().unwrap_or_else(|| "—".to_owned())}</code></dd>
                <dt>{move || t("Алгоритм", "Algorithm")}</dt>
                <dd class="small">{draw.algorithm.clone()}</dd>
            </dl>
            <div class="row small">
                <a href=draw.public_url.clone() target="_blank" rel="noopener" id="draw-public-link">{move || t("Публичная запись", "Public record")}</a>
                <a href=snapshot_url target="_blank" rel="noopener">{move || t("Снимок участников (snapshot.txt)", "Participants' snapshot (snapshot.txt)")}</a>
            </div>
            <details class="small">
                <summary>{move || t("Проверить самостоятельно", "Check it yourself")}</summary>
                <p class="muted">{move || t("Скачайте снимок и выполните (docs/DRAW.md):", "Download the snapshot and run (docs/DRAW.md):")}</p>
                <code class="mono hash-block">{command}</code>
            </details>
        </div>
    }
}

#[component]
fn PrizeTable(spec: RaffleSpecView) -> impl IntoView {
    view! {
        <div class="card" id="raffle-prizes">
            <h2>{move || t("Призы", "Prizes")}</h2>
            <div class="table-wrap">
                <table class="cards-on-phone">
                    <thead><tr>
                        <th class="num">"#"</th>
                        <th>{move || t("Приз", "Prize")}</th>
                        <th class="num">{move || t("Кол-во", "Qty")}</th>
                        <th class="num">{move || t("Стоимость", "Value")}</th>
                        <th>{move || t("Фото", "Photo")}</th>
                    </tr></thead>
                    <tbody>
                        {spec.prizes.into_iter().map(|p| view! {
                            <tr data-prize=p.id.to_string()>
                                <td class="num id-cell">"#" {p.position}</td>
                                <td>
                                    {p.name.clone()}
                                    {p.needs_documents.then(|| view! {
                                        " " <span class="badge badge-busy">{move || t("нужны документы", "documents needed")}</span>
                                    })}
                                </td>
                                <td class="num" data-label=move || t("Количество", "Quantity")>{num(p.quantity)}</td>
                                <td class="num nowrap" data-label=move || t("Стоимость", "Value")>{rub(p.value_rub.saturating_mul(100))}</td>
                                <td data-label=move || t("Фото", "Photo")><PhotoCell photo=p.photo.clone()/></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}

#[component]
fn PhotoCell(photo: Option<String>) -> impl IntoView {
    match photo {
        None => view! { <span class="muted">"—"</span> }.into_any(),
        Some(p) => match p.strip_prefix("upload:") {
            Some(id) => {
                let src = format!("/api/uploads/{id}");
                view! { <img class="thumb" src=src alt=""/> }.into_any()
            }
            None if p.starts_with("https://") || p.starts_with("http://") => {
                view! { <a href=p.clone() target="_blank" rel="noopener" class="small">{move || t("ссылка", "link")}</a> }
                    .into_any()
            }
            None => view! { <span class="muted small" title=p>"file_id"</span> }.into_any(),
        },
    }
}

/// The picks grouped by prize (the model's order), winners first, then reserves.
#[component]
fn Winners(
    raffle: RaffleRow,
    spec: Option<RaffleSpecView>,
    picks: Vec<RaffleWinner>,
    ctx: Ctx,
) -> impl IntoView {
    if picks.is_empty() {
        return view! {
            <div class="card" id="raffle-winners">
                <h2>{move || t("Победители", "Winners")}</h2>
                <Empty text=Signal::derive(|| t("Никто не держал билетов к розыгрышу — победителей нет.", "Nobody held tickets at the draw: there are no winners.").to_owned())/>
            </div>
        }
        .into_any();
    }
    let prizes: Vec<RafflePrizeView> = spec.map(|s| s.prizes).unwrap_or_default();
    let mut groups: Vec<(String, Option<RafflePrizeView>, Vec<RaffleWinner>)> = prizes
        .iter()
        .map(|p| (p.name.clone(), Some(p.clone()), Vec::new()))
        .collect();
    for pick in picks {
        let at = groups
            .iter()
            .position(|(name, prize, _)| match (prize, pick.prize_id) {
                (Some(prize), Some(id)) => prize.id == id,
                (None, _) => *name == pick.prize,
                _ => false,
            });
        match at {
            Some(at) => groups[at].2.push(pick),
            None => groups.push((pick.prize.clone(), None, vec![pick])),
        }
    }
    for (_, _, winners) in &mut groups {
        winners.sort_by_key(|w| (w.reserve, w.position));
    }
    let raffle_id = raffle.id;
    view! {
        <div class="card" id="raffle-winners">
            <h2>{move || t("Победители", "Winners")}</h2>
            <p class="muted small">{move || t("Резервные получают приз по очереди, если победитель выбывает.", "Reserves take the prize in turn when a winner drops out.")}</p>
            {groups.into_iter().map(|(name, prize, winners)| {
                let needs_documents = prize.as_ref().is_some_and(|p| p.needs_documents);
                let quantity = prize.as_ref().map(|p| p.quantity);
                let prize_key = prize.as_ref().map(|p| p.id.to_string()).unwrap_or_default();
                view! {
                    <section class="prize-group" data-prize=prize_key>
                        <h3>{name} {quantity.map(|q| format!(" × {q}"))}</h3>
                        <div class="table-wrap">
                            <table class="winners cards-on-phone">
                                <thead><tr>
                                    <th class="num">"#"</th>
                                    <th>{move || t("Участник", "Shopper")}</th>
                                    <th class="num">{move || t("Билеты", "Tickets")}</th>
                                    <th>{move || t("Статус", "Status")}</th>
                                    <th>{move || t("Действия", "Actions")}</th>
                                </tr></thead>
                                <tbody>
                                    {winners.into_iter().map(|w| view! { <WinnerLine raffle_id winner=w needs_documents ctx/> }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    </section>
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn WinnerLine(
    raffle_id: i64,
    winner: RaffleWinner,
    needs_documents: bool,
    ctx: Ctx,
) -> impl IntoView {
    let w = winner;
    let claim = w.claim_status.clone();
    let user_href = format!("/users/{}", w.user_id);
    let deadline = w.claim_deadline.clone();
    let notified = w.notified_at.clone();
    let can_disqualify = can("manager") && holds_prize(&claim);
    let can_hand_over =
        can("manager") && matches!(claim.as_str(), "confirmed" | "documents_received");
    let can_documents = can("owner")
        && (needs_documents || claim == "documents_received")
        && matches!(claim.as_str(), "documents_received" | "handed_over");
    let for_dialog = w.clone();
    let who = w.name.clone();
    let winner_id = w.id;
    view! {
        <tr data-winner=w.id.to_string() data-position=w.position.to_string()
            data-slot=if w.reserve { "reserve" } else { "winner" } data-claim=claim.clone()
            data-user=w.user_id.to_string()>
            <td class="num id-cell">"#" {w.position}</td>
            <td class="who-cell">
                <A href=user_href>{w.name.clone()}</A>
                {w.reserve.then(|| view! { " " <span class="badge badge-plain slot-reserve">{move || t("резерв", "reserve")}</span> })}
                <div class="muted small">
                    {w.username.clone().map(|u| format!("@{u} "))}
                    {w.phone_masked.clone()}
                </div>
            </td>
            <td class="num" data-label=move || t("Билеты", "Tickets")>{num(w.tickets_at_draw)}</td>
            <td data-label=move || t("Статус", "Status")>
                <Badge status=claim.clone()/>
                {deadline.filter(|_| holds_prize(&claim)).map(|d| view! {
                    <div class="muted small">{move || t("до", "until")} " " {move || when(&d)}</div>
                })}
                {notified.map(|n| view! {
                    <div class="muted small">{move || t("уведомлён", "notified")} " " {move || when(&n)}</div>
                })}
                {w.replaced_by.map(|p| view! {
                    <div class="small replaced" data-replaced-by=p.to_string()>{move || t("приз перешёл к", "prize passed to")} " #" {p}</div>
                })}
                {w.ended_reason.clone().map(|r| view! { <div class="muted small">{r}</div> })}
            </td>
            <td class="actions-cell">
                <div class="row">
                    {can_disqualify.then(|| view! {
                        <button class="btn btn-small btn-danger act-disqualify" on:click=move |_| {
                            ctx.action_error.set(None);
                            ctx.disqualify.set(Some(for_dialog.clone()));
                        }>{move || t("Дисквалифицировать", "Disqualify")}</button>
                    })}
                    {can_hand_over.then(|| {
                        let who = who.clone();
                        view! {
                            <button class="btn btn-small act-handed-over" on:click=move |_| {
                                ctx.action_error.set(None);
                                ctx.confirm.set(Some(Pending::HandOver { winner_id, who: who.clone() }));
                            }>{move || t("Приз вручён", "Handed over")}</button>
                        }
                    })}
                    {can_documents.then(|| view! {
                        <button class="btn btn-small act-documents" on:click=move |_| {
                            ctx.documents.set(Some(Err(Failure { status: 0, code: "loading".into(), message: String::new(), field: None })));
                            spawn_local(async move {
                                let answer = api::get::<ClaimDocuments>(&format!(
                                    "/api/raffles/{raffle_id}/winners/{winner_id}/documents"
                                )).await;
                                ctx.documents.set(Some(answer));
                            });
                        }>{move || t("Документы", "Documents")}</button>
                    })}
                </div>
            </td>
        </tr>
    }
}

#[component]
fn Messages(spec: RaffleSpecView) -> impl IntoView {
    let win = spec.win_message.text.clone();
    let lose = spec.lose_message.clone().map(|m| m.text);
    let notify = spec.notify_losers;
    view! {
        <div class="card" id="raffle-messages">
            <h2>{move || t("Сообщения", "Messages")}</h2>
            <div class="grid-2">
                <div>
                    <h3>{move || t("Победителю", "To a winner")}</h3>
                    <div class="tg"><div class="tg-msg">{win}</div></div>
                </div>
                <div>
                    <h3>{move || t("Остальным", "To the others")}</h3>
                    {match (notify, lose) {
                        (true, Some(text)) => view! { <div class="tg"><div class="tg-msg">{text}</div></div> }.into_any(),
                        _ => view! { <p class="muted">{move || t("Не сообщаются.", "Not told.")}</p> }.into_any(),
                    }}
                </div>
            </div>
        </div>
    }
}

// ------------------------------------------------------------------ dialogs

/// Moves the keyboard into a dialog when it opens (`autofocus` does not apply to an
/// element inserted after a click has focused the button).
fn focus_on_open(open: impl Fn() -> bool + 'static, id: &'static str) {
    Effect::new(move |_| {
        if open() {
            request_animation_frame(move || {
                if let Some(element) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id(id))
                    .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
                {
                    let _ = element.focus();
                }
            });
        }
    });
}

/// Closes a dialog on Escape.
fn on_escape(close: impl Fn() + 'static) -> impl Fn(leptos::ev::KeyboardEvent) {
    move |event| {
        if event.key() == "Escape" {
            close();
        }
    }
}

#[component]
fn DisqualifyDialog(ctx: Ctx) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    focus_on_open(
        move || ctx.disqualify.with(Option::is_some),
        "disqualify-reason",
    );
    let close = move || {
        ctx.disqualify.set(None);
        reason.set(String::new());
        error.set(None);
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(winner), Some(raffle_id)) = (ctx.disqualify.get_untracked(), ctx.raffle_id())
        else {
            return;
        };
        let text = reason.get_untracked().trim().to_owned();
        let length = text.chars().count();
        if !(3..=500).contains(&length) {
            error.set(Some(Failure::invalid(
                "reason",
                t(
                    "Причина: от 3 до 500 символов",
                    "A reason has 3 to 500 characters",
                ),
            )));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = api::post::<_, Reroll>(
                &format!("/api/raffles/{raffle_id}/winners/{}/disqualify", winner.id),
                &DisqualifyRequest { reason: text },
            )
            .await;
            busy.set(false);
            match answer {
                Ok(reroll) => {
                    let message = match reroll.promoted {
                        Some(next) => format!(
                            "{} #{} {} #{} ({})",
                            t("Участник", "Pick"),
                            reroll.ended.position,
                            t(
                                "дисквалифицирован; приз перешёл к резервному",
                                "disqualified; the prize passed to reserve"
                            ),
                            next.position,
                            t("ему отправлено сообщение", "they have been told"),
                        ),
                        None => format!(
                            "{} #{} {}",
                            t("Участник", "Pick"),
                            reroll.ended.position,
                            t(
                                "дисквалифицирован; резервных не осталось — приз не вручён.",
                                "disqualified; no reserve is left, the prize stays unclaimed."
                            ),
                        ),
                    };
                    ctx.notice.set(Some(message));
                    ctx.disqualify.set(None);
                    reason.set(String::new());
                    ctx.detail.refetch();
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    move || {
        ctx.disqualify.get().map(|w| {
            view! {
                <div class="dialog-backdrop" on:keydown=on_escape(close)>
                    <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="disqualify-title"
                        id="disqualify-dialog" on:submit=submit novalidate>
                        <h2 id="disqualify-title">{move || t("Дисквалификация", "Disqualification")}</h2>
                        <p>
                            {format!("#{} {} — {}", w.position, w.name, w.prize)}
                        </p>
                        <p class="muted small">{move || t(
                            "Приз перейдёт к следующему резервному этого приза, и бот сообщит ему. Причина попадёт в журнал и в публичную запись (без личных данных).",
                            "The prize passes to the prize's next reserve, whom the bot tells. The reason goes to the audit log and the public record (no personal data).",
                        )}</p>
                        <label class="field">
                            <span>{move || t("Причина", "Reason")}</span>
                            <textarea id="disqualify-reason" rows="3" maxlength="500" bind:value=reason
                                aria-invalid=move || error.get().is_some_and(|e| e.is_field("reason")).to_string()></textarea>
                            <FieldError error field="reason"/>
                        </label>
                        {move || error.get().filter(|e| !e.is_field("reason")).map(|e| view! { <div class="form-error" role="alert">{e.message}</div> })}
                        <div class="row">
                            <button type="submit" class="btn btn-danger" id="disqualify-submit" disabled=move || busy.get()>
                                {move || t("Дисквалифицировать и передать приз", "Disqualify and pass the prize on")}
                            </button>
                            <button type="button" class="btn btn-ghost" on:click=move |_| close()>{move || t("Отмена", "Cancel")}</button>
                        </div>
                    </form>
                </div>
            }
        })
    }
}

#[component]
fn ConfirmDialog(ctx: Ctx) -> impl IntoView {
    let busy = RwSignal::new(false);
    focus_on_open(move || ctx.confirm.with(Option::is_some), "confirm-yes");
    let close = move || ctx.confirm.set(None);
    let run = move |_| {
        let (Some(pending), Some(raffle_id)) = (ctx.confirm.get_untracked(), ctx.raffle_id())
        else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let answer: Answer<()> = match &pending {
                Pending::Cancel => {
                    api::post_empty::<Detail>(&format!("/api/raffles/{raffle_id}/cancel"))
                        .await
                        .map(|_| ())
                }
                Pending::HandOver { winner_id, .. } => api::post_empty::<serde_json::Value>(
                    &format!("/api/raffles/{raffle_id}/winners/{winner_id}/handed-over"),
                )
                .await
                .map(|_| ()),
            };
            busy.set(false);
            ctx.confirm.set(None);
            match answer {
                Ok(()) => {
                    ctx.notice.set(Some(
                        match pending {
                            Pending::Cancel => t("Розыгрыш отменён.", "The raffle is cancelled."),
                            Pending::HandOver { .. } => t(
                                "Отмечено: приз вручён.",
                                "Recorded: the prize is handed over.",
                            ),
                        }
                        .to_owned(),
                    ));
                    ctx.action_error.set(None);
                    ctx.detail.refetch();
                }
                Err(failure) => ctx.action_error.set(Some(failure)),
            }
        });
    };
    move || {
        ctx.confirm.get().map(|pending| {
            let (title, body) = match &pending {
                Pending::Cancel => (
                    t("Отменить розыгрыш?", "Cancel the raffle?"),
                    t("Он не будет проведён; опубликованное обязательство останется в записи.", "It will not be drawn; the published commitment stays on record.").to_owned(),
                ),
                Pending::HandOver { who, .. } => (
                    t("Приз вручён?", "Prize handed over?"),
                    format!("{} {who}.", t("Отметить, что приз передан победителю", "Record that the prize reached")),
                ),
            };
            view! {
                <div class="dialog-backdrop" on:keydown=on_escape(close)>
                    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="confirm-title" id="confirm-dialog">
                        <h2 id="confirm-title">{title}</h2>
                        <p>{body}</p>
                        <div class="row">
                            <button class=if pending == Pending::Cancel { "btn btn-danger" } else { "btn btn-primary" } id="confirm-yes" disabled=move || busy.get() on:click=run>
                                {move || t("Да", "Yes")}
                            </button>
                            <button class="btn btn-ghost" id="confirm-no" on:click=move |_| close()>{move || t("Нет", "No")}</button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}

#[component]
fn DocumentsDialog(ctx: Ctx) -> impl IntoView {
    let close = move || ctx.documents.set(None);
    focus_on_open(
        move || ctx.documents.with(Option::is_some),
        "documents-close",
    );
    move || {
        ctx.documents.get().map(|answer| {
            let body = match answer {
                Err(f) if f.code == "loading" => view! { <crate::components::Loading/> }.into_any(),
                Err(error) => view! { <ErrorBox error/> }.into_any(),
                Ok(d) => {
                    let submitted = d.submitted_at.clone();
                    view! {
                        <dl class="facts" id="documents">
                            <dt>{move || t("ФИО", "Full name")}</dt><dd>{d.full_name.clone()}</dd>
                            <dt>{move || t("Паспорт", "Passport")}</dt><dd>{d.passport.clone()}</dd>
                            <dt>{move || t("ИНН", "Tax id (INN)")}</dt><dd>{d.inn.clone()}</dd>
                            <dt>{move || t("Адрес", "Address")}</dt><dd>{d.address.clone()}</dd>
                            <dt>{move || t("Сданы", "Handed in")}</dt><dd>{move || when(&submitted)}</dd>
                        </dl>
                    }
                    .into_any()
                }
            };
            view! {
                <div class="dialog-backdrop" on:keydown=on_escape(close)>
                    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="documents-title" id="documents-dialog">
                        <h2 id="documents-title">{move || t("Документы победителя", "The winner's documents")}</h2>
                        <p class="muted small">{move || t("Каждый просмотр записывается в журнал.", "Every view is written to the audit log.")}</p>
                        {body}
                        <div class="row">
                            <button class="btn" id="documents-close" on:click=move |_| close()>{move || t("Закрыть", "Close")}</button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}
