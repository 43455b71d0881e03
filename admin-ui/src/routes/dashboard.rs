//! The promotion at a glance: headline figures with their 24 h and 7 d growth, the last
//! 14 days as an SVG chart, the latest campaigns with live progress, quick actions.

use leptos::prelude::*;
use leptos_router::components::A;
use promo_api_types::panel::{DailyFigures, Dashboard as Figures};

use super::Page;
use crate::api;
use crate::components::{loaded, Badge, CampaignProgress, Empty, StatCard};
use crate::state::{can, num, state, t, when};

#[component]
pub fn Dashboard() -> impl IntoView {
    let figures = LocalResource::new(move || {
        let zone = state().time_zone.get();
        async move {
            api::get::<Figures>(&format!(
                "/api/dashboard{}",
                api::query(&[("days", "14".into()), ("tz", zone)])
            ))
            .await
        }
    });
    let actions = move || {
        view! {
            {can("manager").then(|| view! {
                <A href="/broadcast" attr:class="btn btn-primary">{move || t("Новая рассылка", "New broadcast")}</A>
                <A href="/raffles/new" attr:class="btn">{move || t("Новый розыгрыш", "New raffle")}</A>
            })}
            <A href="/receipts?status=pending" attr:class="btn">{move || t("Модерация", "Moderation")}</A>
        }
    };
    view! {
        <Page ru="Обзор" en="Dashboard" id="dashboard" actions=actions>
            {loaded(figures, |d: Figures| {
                // The moment the figures are on screen: what the paint benchmark reads
                // (BENCHMARKS.md, "Panel"), once per page load.
                Effect::new(|_| mark_once("dashboard-painted"));
                view! {
                <div class="stats">
                    <StatCard id="stat-users" label=Signal::derive(|| t("Участники", "Users")) total=d.users.total day=d.users.last_24h week=d.users.last_7d/>
                    <StatCard id="stat-registered" label=Signal::derive(|| t("Зарегистрированы", "Registered")) total=d.registered.total day=d.registered.last_24h week=d.registered.last_7d/>
                    <StatCard id="stat-receipts" label=Signal::derive(|| t("Чеки приняты", "Receipts accepted")) total=d.receipts_accepted.total day=d.receipts_accepted.last_24h week=d.receipts_accepted.last_7d/>
                    <StatCard id="stat-pending" label=Signal::derive(|| t("На модерации", "Awaiting review")) total=d.receipts_pending.total day=d.receipts_pending.last_24h week=d.receipts_pending.last_7d/>
                    <StatCard id="stat-tickets" label=Signal::derive(|| t("Билеты", "Tickets")) total=d.tickets.total day=d.tickets.last_24h week=d.tickets.last_7d/>
                    <StatCard id="stat-participants" label=Signal::derive(|| t("С билетами", "Holding tickets")) total=d.participants/>
                    <StatCard id="stat-winners" label=Signal::derive(|| t("Победители", "Winners")) total=d.winners.total day=d.winners.last_24h week=d.winners.last_7d/>
                    <StatCard id="stat-rejected" label=Signal::derive(|| t("Отклонены", "Rejected")) total=d.receipts_rejected.total day=d.receipts_rejected.last_24h week=d.receipts_rejected.last_7d/>
                </div>
                <div class="card">
                    <h2>{move || t("14 дней", "Last 14 days")}</h2>
                    <Chart days=d.daily.clone()/>
                </div>
                <div class="card">
                    <div class="card-head">
                        <h2>{move || t("Последние кампании", "Recent campaigns")}</h2>
                        <A href="/campaigns">{move || t("Все кампании", "All campaigns")}</A>
                    </div>
                    {if d.recent_campaigns.is_empty() {
                        view! { <Empty text=Signal::derive(|| t("Кампаний пока не было.", "No campaigns yet.").to_owned())/> }.into_any()
                    } else {
                        view! {
                            <ul class="campaign-list" id="recent-campaigns">
                                {d.recent_campaigns.iter().cloned().map(|c| {
                                    let kind = c.kind.clone();
                                    let created = c.created_at.clone();
                                    let status = c.status.clone();
                                    view! {
                                        <li>
                                            <div class="row-between">
                                                <span><strong>"#" {c.id}</strong> " " {kind_label(&kind)}</span>
                                                <span class="muted small">{move || when(&created)}</span>
                                                <Badge status=status/>
                                            </div>
                                            <CampaignProgress campaign=c/>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </div>
            }})}
        </Page>
    }
}

fn mark_once(name: &str) {
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return;
    };
    if performance.get_entries_by_name(name).length() == 0 {
        let _ = performance.mark(name);
    }
}

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "broadcast" => t("рассылка", "broadcast"),
        "single_message" => t("сообщение", "message"),
        "raffle" => t("розыгрыш", "raffle"),
        _ => t("кампания", "campaign"),
    }
}

/// A line of the chart: its CSS class, its names, and how a day gives its value.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&DailyFigures) -> i64,
);

/// Three daily series on one SVG: lines scaled to the largest value of the period, a
/// labelled axis and a legend; each point carries a `<title>` tooltip.
#[component]
fn Chart(days: Vec<DailyFigures>) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    const PAD_L: f64 = 44.0;
    const PAD_B: f64 = 28.0;
    const PAD_T: f64 = 12.0;
    if days.is_empty() {
        return view! { <Empty text=Signal::derive(|| t("Нет данных.", "No data.").to_owned())/> }
            .into_any();
    }
    // Four gridlines at whole, even steps, so each is labelled with an exact count.
    let peak = days
        .iter()
        .flat_map(|d| [d.users, d.receipts, d.tickets])
        .max()
        .unwrap_or(0)
        .max(1);
    let tick = (peak + 3) / 4;
    let max = (tick * 4) as f64;
    let step = if days.len() > 1 {
        (W - PAD_L - 8.0) / (days.len() - 1) as f64
    } else {
        0.0
    };
    let x = move |i: usize| PAD_L + step * i as f64;
    let y = move |v: i64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - v as f64 / max);
    let series: [Series; 3] = [
        ("users", "Участники", "Users", |d| d.users),
        ("receipts", "Чеки", "Receipts", |d| d.receipts),
        ("tickets", "Билеты", "Tickets", |d| d.tickets),
    ];
    let grid: Vec<_> = (0..=4)
        .map(|i| {
            let value = tick * i;
            let gy = y(value);
            view! {
                <line class="grid" x1=PAD_L x2=W - 4.0 y1=gy y2=gy/>
                <text class="axis" x=PAD_L - 6.0 y=gy + 4.0 text-anchor="end">{num(value)}</text>
            }
        })
        .collect();
    let labels: Vec<_> = days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0 || days.len() <= 7)
        .map(|(i, d)| {
            let label = d.day.get(5..).unwrap_or(&d.day).replace('-', ".");
            let label = label.split('.').rev().collect::<Vec<_>>().join(".");
            view! { <text class="axis" x=x(i) y=H - 8.0 text-anchor="middle">{label}</text> }
        })
        .collect();
    let lines: Vec<_> = series
        .iter()
        .map(|(class, ru, en, pick)| {
            let points: String = days
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(pick(d))))
                .collect::<Vec<_>>()
                .join(" ");
            let (ru, en) = (*ru, *en);
            let dots: Vec<_> = days
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let title = format!("{} — {}: {}", d.day, t(ru, en), num(pick(d)));
                    view! { <circle class=format!("dot {class}") cx=x(i) cy=y(pick(d)) r="3"><title>{title}</title></circle> }
                })
                .collect();
            view! {
                <polyline class=format!("series {class}") points=points fill="none"/>
                {dots}
            }
        })
        .collect();
    let legend: Vec<_> = series
        .iter()
        .map(|(class, ru, en, pick)| {
            let (ru, en) = (*ru, *en);
            let total: i64 = days.iter().map(pick).sum();
            view! { <span class=format!("legend-item {class}")><i></i>{move || t(ru, en)} " " <b>{num(total)}</b></span> }
        })
        .collect();
    view! {
        <div class="chart" id="daily-chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img"
                aria-label=move || t("Участники, чеки и билеты по дням", "Users, receipts and tickets per day")>
                {grid}
                {labels}
                {lines}
            </svg>
            <div class="legend">{legend}</div>
        </div>
    }
    .into_any()
}
