//! Campaigns: the history, newest first and page by page, filtered by kind and status
//! (both in the address, `?kind=&status=`), each with its progress; one campaign opens
//! at `?id=N` with its live counters, content as Telegram shows it, audience, error and
//! the pause / resume / cancel its status allows.
//!
//! Live progress is a Server-Sent Events stream per campaign, and a browser gives one
//! site six connections over HTTP/1.1: so the list follows at most [`LIVE_IN_LIST`]
//! campaigns that are sending or about to, and the others show their last counters.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use promo_api_types::panel::{CampaignDetail, CampaignPage, CampaignSummary};
use serde_json::Value;

use super::dashboard::kind_label;
use super::Page;
use crate::api::{self, Failure};
use crate::components::{
    campaign_finished, live_campaign, paged, Badge, Empty, ErrorBox, Loading, MoreButton,
    ProgressBar,
};
use crate::state::{can, num, t, when};
use crate::telegram_preview::{PreviewButton, TelegramPreview};

/// Live streams the list keeps open at most.
const LIVE_IN_LIST: usize = 4;

const KINDS: &[(&str, &str, &str)] = &[
    ("", "Все виды", "All kinds"),
    ("broadcast", "Рассылки", "Broadcasts"),
    ("single_message", "Сообщения", "Messages"),
    ("raffle", "Розыгрыши", "Raffles"),
];

const STATUSES: &[(&str, &str, &str)] = &[
    ("", "Все статусы", "All statuses"),
    ("scheduled", "Запланированы", "Scheduled"),
    ("running", "Идут", "Running"),
    ("paused", "На паузе", "Paused"),
    ("completed", "Завершены", "Completed"),
    ("cancelled", "Отменены", "Cancelled"),
    ("failed", "С ошибкой", "Failed"),
    ("draft", "Черновики", "Drafts"),
];

/// The campaign's summary, live from its event stream when `live` (see
/// [`live_campaign`]), else as it was read.
fn follow(initial: CampaignSummary, live: bool) -> RwSignal<CampaignSummary> {
    if live {
        live_campaign(initial)
    } else {
        RwSignal::new(initial)
    }
}

/// Whether the list should follow this campaign live: it is sending, or due to start.
fn worth_following(c: &CampaignSummary) -> bool {
    match c.status.as_str() {
        "running" => true,
        "scheduled" => match &c.scheduled_for {
            None => true,
            Some(at) => js_sys::Date::parse(at) <= js_sys::Date::now() + 5.0 * 60_000.0,
        },
        _ => false,
    }
}

#[component]
pub fn Campaigns() -> impl IntoView {
    let query = use_query_map();
    let selected = Memo::new(move |_| {
        query
            .read()
            .get("id")
            .and_then(|id| id.trim().parse::<i64>().ok())
    });
    let actions = move || {
        can("manager").then(|| {
            view! {
                <A href="/broadcast" attr:class="btn btn-primary" attr:id="new-broadcast">
                    {move || t("Новая рассылка", "New broadcast")}
                </A>
            }
        })
    };
    view! {
        <Page ru="Кампании" en="Campaigns" id="campaigns" actions=actions>
            {move || match selected.get() {
                Some(id) => view! { <CampaignView id/> }.into_any(),
                None => view! { <CampaignList/> }.into_any(),
            }}
        </Page>
    }
}

#[component]
fn CampaignList() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let current = move |key: &str| query.read().get(key).unwrap_or_default();
    let list = paged(
        move || {
            format!(
                "/api/campaigns{}",
                api::query(&[
                    ("kind", current("kind")),
                    ("status", current("status")),
                    ("limit", "20".into()),
                ])
            )
        },
        |page: CampaignPage| (page.campaigns, page.next_before_id),
    );
    let go = move |kind: String, status: String| {
        navigate(
            &format!(
                "/campaigns{}",
                api::query(&[("kind", kind), ("status", status)])
            ),
            Default::default(),
        );
    };
    let go_kind = go.clone();
    let filtered = move || !current("kind").is_empty() || !current("status").is_empty();
    view! {
        <div class="toolbar" role="search">
            <label class="field">
                <span>{move || t("Вид", "Kind")}</span>
                <select id="filter-kind" prop:value=move || current("kind")
                    on:change=move |ev| go_kind(event_target_value(&ev), current("status"))>
                    {KINDS.iter().map(|(value, ru, en)| view! {
                        <option value=*value>{move || t(ru, en)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="field">
                <span>{move || t("Статус", "Status")}</span>
                <select id="filter-status" prop:value=move || current("status")
                    on:change=move |ev| go(current("kind"), event_target_value(&ev))>
                    {STATUSES.iter().map(|(value, ru, en)| view! {
                        <option value=*value>{move || t(ru, en)}</option>
                    }).collect_view()}
                </select>
            </label>
        </div>
        {move || match list.rows.get() {
            None => view! { <Loading/> }.into_any(),
            Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
            Some(Ok(rows)) if rows.is_empty() => view! {
                <div class="card">
                    <Empty text=Signal::derive(move || if filtered() {
                        t("Таких кампаний нет.", "No campaigns match.").to_owned()
                    } else {
                        t("Кампаний пока не было. Первая рассылка — в разделе «Рассылка».",
                          "No campaigns yet. Send the first one from Broadcast.").to_owned()
                    })/>
                </div>
            }.into_any(),
            Some(Ok(rows)) => {
                let mut streams = 0;
                let rows: Vec<(CampaignSummary, bool)> = rows
                    .into_iter()
                    .map(|c| {
                        let live = streams < LIVE_IN_LIST && worth_following(&c);
                        if live {
                            streams += 1;
                        }
                        (c, live)
                    })
                    .collect();
                view! {
                    <div class="card campaign-table-card">
                        <div class="campaign-table" role="table" id="campaign-list"
                            aria-label=move || t("Кампании", "Campaigns")>
                            <div class="campaign-tr campaign-th" role="row">
                                <span role="columnheader">"#"</span>
                                <span role="columnheader">{move || t("Кампания", "Campaign")}</span>
                                <span role="columnheader">{move || t("Статус", "Status")}</span>
                                <span role="columnheader">{move || t("Ход отправки", "Progress")}</span>
                                <span role="columnheader"><span class="visually-hidden">{move || t("Действия", "Actions")}</span></span>
                            </div>
                            <For each=move || rows.clone()
                                key=|(c, live)| (c.id, c.status.clone(), *live)
                                children=move |(c, live)| view! { <CampaignRow summary=c live/> }/>
                        </div>
                    </div>
                }.into_any()
            }
        }}
        <MoreButton list id="campaigns-more"/>
    }
}

#[component]
fn CampaignRow(summary: CampaignSummary, live: bool) -> impl IntoView {
    // A control answers with the campaign as it now is; following starts again from
    // there (a resumed campaign needs a new stream: the old one ended with it).
    let seed = RwSignal::new(summary);
    let steered = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    move || {
        let initial = seed.get();
        // A campaign the operator just resumed is followed whatever the list chose.
        let live = if steered.get_untracked() {
            worth_following(&initial)
        } else {
            live
        };
        let id = initial.id;
        let kind = initial.kind.clone();
        let created = initial.created_at.clone();
        let scheduled = initial.scheduled_for.clone();
        let c = follow(initial, live);
        view! {
            <div class="campaign-tr" role="row" data-campaign=id.to_string()
                data-status=move || c.get().status>
                <span role="cell" class="campaign-id">
                    <A href=format!("/campaigns?id={id}") attr:class="campaign-link">"#" {id}</A>
                </span>
                <span role="cell" class="stack tight">
                    <A href=format!("/campaigns?id={id}")>{move || kind_label(&kind)}</A>
                    <span class="muted small">{
                        let created = created.clone();
                        move || when(&created)
                    }</span>
                    {scheduled.clone().map(|at| view! {
                        <span class="muted small">{move || t("на ", "for ")}{move || when(&at)}</span>
                    })}
                </span>
                <span role="cell">{move || view! { <Badge status=c.get().status/> }}</span>
                <span role="cell" class="campaign-progress-cell"><Counters c/></span>
                <span role="cell" class="campaign-actions">
                    <Controls c on_done=Callback::new(move |d: CampaignDetail| {
                        steered.set(true);
                        seed.set(d.campaign);
                    }) error small=true/>
                </span>
                {move || error.get().map(|e| view! {
                    <span class="form-error campaign-row-error" role="alert">{e.message}</span>
                })}
            </div>
        }
    }
}

/// The progress bar and counters of a campaign.
#[component]
fn Counters(c: RwSignal<CampaignSummary>) -> impl IntoView {
    let done = Signal::derive(move || {
        let c = c.get();
        c.sent + c.failed + c.blocked + c.unknown
    });
    let total = Signal::derive(move || c.get().total);
    view! {
        <div class="campaign-progress" data-campaign=move || c.get().id.to_string()
            data-sent=move || c.get().sent.to_string() data-total=move || c.get().total.to_string()>
            <ProgressBar done total/>
            <div class="muted small counters">
                {move || {
                    let c = c.get();
                    // Recipients are chosen when sending starts, not before.
                    if c.total == 0 && matches!(c.status.as_str(), "scheduled" | "draft") {
                        return t(
                            "получатели будут выбраны при запуске",
                            "recipients are chosen when it starts",
                        )
                        .to_owned();
                    }
                    let mut parts = vec![
                        format!("{} {} {} {}", t("отправлено", "sent"), num(c.sent), t("из", "of"), num(c.total)),
                    ];
                    if c.failed > 0 {
                        parts.push(format!("{} {}", t("ошибок", "failed"), num(c.failed)));
                    }
                    if c.blocked > 0 {
                        parts.push(format!("{} {}", t("заблокировали бота", "blocked the bot"), num(c.blocked)));
                    }
                    if c.unknown > 0 {
                        parts.push(format!("{} {}", t("неизвестно", "unknown"), num(c.unknown)));
                    }
                    parts.join(" · ")
                }}
            </div>
        </div>
    }
}

/// Pause, resume and cancel, as the campaign's status allows (manager and owner).
#[component]
fn Controls(
    c: RwSignal<CampaignSummary>,
    on_done: Callback<CampaignDetail>,
    error: RwSignal<Option<Failure>>,
    #[prop(optional)] small: bool,
) -> impl IntoView {
    let busy = RwSignal::new(None::<&'static str>);
    let act = move |what: &'static str| {
        let id = c.get_untracked().id;
        busy.set(Some(what));
        error.set(None);
        spawn_local(async move {
            match api::post_empty::<CampaignDetail>(&format!("/api/campaigns/{id}/{what}")).await {
                Ok(detail) => {
                    busy.set(None);
                    on_done.run(detail);
                }
                Err(failure) => {
                    busy.set(None);
                    error.set(Some(failure));
                }
            }
        });
    };
    let class = if small { "btn btn-small" } else { "btn" };
    move || {
        if !can("manager") {
            return ().into_any();
        }
        let status = c.get().status;
        let can_pause = matches!(status.as_str(), "scheduled" | "running");
        let can_resume = matches!(status.as_str(), "paused" | "cancelled");
        let can_cancel = matches!(status.as_str(), "scheduled" | "running" | "paused");
        view! {
            <div class="row controls">
                {can_pause.then(|| view! {
                    <button type="button" class=format!("{class} campaign-pause") disabled=move || busy.get().is_some()
                        on:click=move |_| act("pause")>
                        {move || if busy.get() == Some("pause") { t("Пауза…", "Pausing…") } else { t("Пауза", "Pause") }}
                    </button>
                })}
                {can_resume.then(|| view! {
                    <button type="button" class=format!("{class} btn-primary campaign-resume") disabled=move || busy.get().is_some()
                        on:click=move |_| act("resume")>
                        {move || if busy.get() == Some("resume") { t("Продолжаем…", "Resuming…") } else { t("Продолжить", "Resume") }}
                    </button>
                })}
                {can_cancel.then(|| view! {
                    <button type="button" class=format!("{class} btn-danger campaign-cancel") disabled=move || busy.get().is_some()
                        on:click=move |_| act("cancel")>
                        {move || if busy.get() == Some("cancel") { t("Отменяем…", "Cancelling…") } else { t("Отменить", "Cancel") }}
                    </button>
                })}
            </div>
        }
        .into_any()
    }
}

#[component]
fn CampaignView(id: i64) -> impl IntoView {
    let detail = LocalResource::new(move || async move {
        api::get::<CampaignDetail>(&format!("/api/campaigns/{id}")).await
    });
    view! {
        <div class="row">
            <A href="/campaigns" attr:class="btn btn-ghost" attr:id="back-to-campaigns">
                "← " {move || t("Все кампании", "All campaigns")}
            </A>
        </div>
        {move || match detail.get() {
            None => view! { <Loading/> }.into_any(),
            Some(Err(error)) if error.status == 404 => view! {
                <div class="card"><Empty text=Signal::derive(move || format!(
                    "{} #{id}.", t("Нет кампании", "There is no campaign")
                ))/></div>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
            Some(Ok(d)) => view! {
                <DetailCard detail=d on_finish=Callback::new(move |_| detail.refetch())/>
            }.into_any(),
        }}
    }
}

#[component]
fn DetailCard(detail: CampaignDetail, on_finish: Callback<()>) -> impl IntoView {
    let seed = RwSignal::new(detail.campaign.clone());
    let error = RwSignal::new(None::<Failure>);
    let id = detail.campaign.id;
    let kind = detail.campaign.kind.clone();
    let info = StoredValue::new(detail);
    let live = move || {
        let initial = seed.get();
        let was_over = campaign_finished(&initial.status);
        let c = follow(initial, true);
        // The end of sending brings the final error and times: read them once.
        Effect::new(move |_| {
            if !was_over && campaign_finished(&c.get().status) {
                on_finish.run(());
            }
        });
        view! {
            <div class="row-between">
                <div class="row" id="detail-status" data-status=move || c.get().status>
                    {move || view! { <Badge status=c.get().status/> }}
                </div>
                <Controls c on_done=Callback::new(move |d: CampaignDetail| {
                    info.update_value(|i| *i = d.clone());
                    seed.set(d.campaign);
                }) error/>
            </div>
            <Counters c/>
            <dl class="facts small">
                <dt>{move || t("Всего получателей", "Recipients")}</dt><dd>{move || num(c.get().total)}</dd>
                <dt>{move || t("Отправлено", "Sent")}</dt><dd id="detail-sent">{move || num(c.get().sent)}</dd>
                <dt>{move || t("Ошибок", "Failed")}</dt><dd>{move || num(c.get().failed)}</dd>
                <dt>{move || t("Заблокировали бота", "Blocked the bot")}</dt><dd>{move || num(c.get().blocked)}</dd>
                <dt>{move || t("Неизвестно, дошло ли", "Delivery unknown")}</dt><dd>{move || num(c.get().unknown)}</dd>
                {move || c.get().finished_at.map(|at| view! {
                    <dt>{move || t("Завершена", "Finished")}</dt><dd>{move || when(&at)}</dd>
                })}
            </dl>
        }
    };
    let facts = move || {
        let d = info.get_value();
        let created = d.campaign.created_at.clone();
        let scheduled = d.campaign.scheduled_for.clone();
        let started = d.started_at.clone();
        let via = match d.created_via.as_str() {
            "panel" => t("панель", "panel"),
            "bot" => t("команда в боте", "bot command"),
            "system" => t("система", "system"),
            _ => "—",
        };
        let paid = d.paid_broadcast;
        view! {
            <dl class="facts">
                <dt>{move || t("Создана", "Created")}</dt><dd>{move || when(&created)}</dd>
                {scheduled.map(|at| view! { <dt>{move || t("Запланирована на", "Scheduled for")}</dt><dd id="detail-scheduled">{move || when(&at)}</dd> })}
                {started.map(|at| view! { <dt>{move || t("Начата", "Started")}</dt><dd>{move || when(&at)}</dd> })}
                <dt>{move || t("Откуда", "Created via")}</dt><dd>{via}</dd>
                <dt>{move || t("Платная рассылка", "Paid broadcast")}</dt>
                <dd>{move || if paid { t("да — 0,1 ⭐ за сообщение", "yes: 0.1 Star a message") } else { t("нет", "no") }}</dd>
            </dl>
        }
    };
    let content = info.get_value().content;
    let audience = info.get_value().audience;
    let failure = info.get_value().error;
    let sent_at = info
        .get_value()
        .started_at
        .or(info.get_value().campaign.scheduled_for)
        .unwrap_or(info.get_value().campaign.created_at);
    view! {
        <div class="grid-2 campaign-detail" id="campaign-detail" data-campaign=id.to_string()>
            <div class="stack">
                <div class="card stack">
                    <div class="card-head">
                        <h2>"#" {id} " · " {move || kind_label(&kind)}</h2>
                    </div>
                    {live}
                    {move || error.get().map(|e| view! { <div class="form-error" id="control-error" role="alert">{e.message}</div> })}
                    {failure.map(|message| view! {
                        <div class="state error" id="campaign-error" role="alert">
                            <strong>{move || t("Ошибка кампании: ", "The campaign failed: ")}</strong>{message}
                        </div>
                    })}
                </div>
                <div class="card">
                    <h2>{move || t("Сведения", "Details")}</h2>
                    {facts}
                </div>
                <div class="card">
                    <h2>{move || t("Аудитория", "Audience")}</h2>
                    <AudienceFacts audience/>
                </div>
            </div>
            <div class="card">
                <h2>{move || t("Сообщение", "Message")}</h2>
                <ContentPreview content at=sent_at/>
            </div>
        </div>
    }
}

/// A campaign's stored content as the message Telegram shows; a raffle's messages are
/// per winner, so its content is listed as it is.
#[component]
fn ContentPreview(content: Value, #[prop(into)] at: Option<String>) -> impl IntoView {
    let text = content
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(text) = text else {
        let raw = serde_json::to_string_pretty(&content).unwrap_or_default();
        return view! { <pre class="mono raw-json">{raw}</pre> }.into_any();
    };
    let mode = content
        .get("parse_mode")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let photo = content
        .get("photo")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let photo_src = photo.as_deref().and_then(|photo| {
        if let Some(upload) = photo.strip_prefix("upload:") {
            Some(format!("/api/uploads/{upload}"))
        } else if photo.starts_with("https://") || photo.starts_with("http://") {
            Some(photo.to_owned())
        } else {
            None
        }
    });
    let button = content.get("button").map(|b| PreviewButton {
        text: b
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        url: b
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    });
    let url = button.as_ref().map(|b| b.url.clone());
    let buttons = button.map(|b| vec![vec![b]]).unwrap_or_default();
    let mode_label = mode.clone().unwrap_or_else(|| "—".to_owned());
    view! {
        <TelegramPreview id="campaign-preview" text=Signal::stored(text) parse_mode=Signal::stored(mode)
            photo=Signal::stored(photo_src) buttons=Signal::stored(buttons) at=Signal::stored(at)/>
        <dl class="facts small content-facts">
            <dt>{move || t("Разметка", "Formatting")}</dt><dd>{mode_label}</dd>
            {photo.map(|p| view! { <dt>{move || t("Фото", "Photo")}</dt><dd class="mono">{p}</dd> })}
            {url.map(|u| view! { <dt>{move || t("Кнопка ведёт на", "Button opens")}</dt><dd class="mono">{u}</dd> })}
        </dl>
    }
    .into_any()
}

/// An audience in words: the segment, the language, the listed users.
#[component]
fn AudienceFacts(audience: Value) -> impl IntoView {
    let segment = audience
        .get("segment")
        .and_then(Value::as_str)
        .unwrap_or("all")
        .to_owned();
    let language = audience
        .get("language")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ids: Option<Vec<i64>> = audience
        .get("user_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect());
    let known = audience.as_object().is_none_or(|map| {
        map.keys()
            .all(|k| matches!(k.as_str(), "segment" | "language" | "user_ids" | "all"))
    });
    if !known {
        let raw = serde_json::to_string_pretty(&audience).unwrap_or_default();
        return view! { <pre class="mono raw-json">{raw}</pre> }.into_any();
    }
    let segment_attr = segment.clone();
    view! {
        <dl class="facts" id="campaign-audience">
            <dt>{move || t("Кому", "Who")}</dt>
            <dd data-segment=segment_attr>{move || match segment.as_str() {
                "with_receipts" => t("участники с принятым чеком", "shoppers with an accepted receipt"),
                "without_receipts" => t("участники без принятых чеков", "shoppers without an accepted receipt"),
                _ => t("все зарегистрированные", "everyone registered"),
            }}</dd>
            <dt>{move || t("Язык", "Language")}</dt>
            <dd>{move || match language.as_deref() {
                Some("ru") => t("русский", "Russian"),
                Some("en") => t("английский", "English"),
                _ => t("любой", "any"),
            }}</dd>
            {ids.map(|ids| {
                let shown: Vec<String> = ids.iter().take(20).map(|id| id.to_string()).collect();
                let more = ids.len().saturating_sub(20);
                view! {
                    <dt>{move || t("Только участники", "Only users")}</dt>
                    <dd>
                        {shown.into_iter().map(|id| view! {
                            <A href=format!("/users/{id}") attr:class="id-chip">{id.clone()}</A>
                        }).collect_view()}
                        {(more > 0).then(|| format!(" +{more}"))}
                    </dd>
                }
            })}
        </dl>
        <p class="muted small">{move || t(
            "Заблокированные, остановившие бота и тестовые участники не получают рассылок.",
            "The banned, those who stopped the bot and test shoppers never get broadcasts.",
        )}</p>
    }
    .into_any()
}
