//! Failed work: receipt checks and messages the system gave up on (dead after their
//! attempts, or refused by Telegram for good), each with its reason; a manager retries
//! one (due again with fresh attempts) or discards it (off the list). Both are audited.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use promo_api_types::panel::FailedWork;

use super::Page;
use crate::api::{self, Answer, Failure};
use crate::components::{focus_soon, ErrorBox, Loading};
use crate::state::{can, t, when};

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "receipt_check" => t("проверка чека", "receipt check"),
        "message" => t("сообщение", "message"),
        _ => t("задача", "job"),
    }
}

fn purpose_label(purpose: &str) -> String {
    let pair = match purpose {
        "receipt_check" => Some(("проверка в ФНС", "check with the tax service")),
        "receipt_result" => Some(("итог проверки чека", "a receipt's verdict")),
        "manual_tickets" => Some(("билеты вручную", "manual tickets")),
        "winner" => Some(("сообщение победителю", "a winner's message")),
        "quota_notice" => Some(("уведомление о лимите", "a limit notice")),
        "moderation" => Some(("итог модерации", "a moderation verdict")),
        _ => None,
    };
    match pair {
        Some((ru, en)) => t(ru, en).to_owned(),
        None => purpose.replace('_', " "),
    }
}

fn status_hint(status: &str) -> &'static str {
    match status {
        "dead" => t("все попытки исчерпаны", "every attempt was used up"),
        _ => t(
            "Telegram отказал окончательно",
            "Telegram refused it for good",
        ),
    }
}

#[component]
pub fn Failed() -> impl IntoView {
    let rows = RwSignal::new(None::<Answer<Vec<FailedWork>>>);
    let load = move || {
        spawn_local(async move {
            rows.set(Some(api::get::<Vec<FailedWork>>("/api/failed-work").await));
        })
    };
    load();
    let error = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<String>);
    let working = RwSignal::new(None::<i64>);
    let confirm = RwSignal::new(None::<FailedWork>);

    let act = move |id: i64, what: &'static str| {
        error.set(None);
        notice.set(None);
        working.set(Some(id));
        spawn_local(async move {
            let answer =
                api::post_empty::<serde_json::Value>(&format!("/api/failed-work/{id}/{what}"))
                    .await;
            working.set(None);
            match answer {
                Ok(_) => {
                    rows.update(|r| {
                        if let Some(Ok(list)) = r {
                            list.retain(|w| w.id != id);
                        }
                    });
                    notice.set(Some(if what == "retry" {
                        format!(
                            "#{id}: {}",
                            t("поставлено в очередь снова.", "queued again.")
                        )
                    } else {
                        format!("#{id}: {}", t("убрано из списка.", "taken off the list."))
                    }));
                }
                Err(failure) => error.set(Some(failure)),
            }
        });
    };

    let actions = move || {
        view! {
            <button type="button" class="btn" id="failed-refresh" on:click=move |_| load()>
                {move || t("Обновить", "Refresh")}
            </button>
        }
    };

    view! {
        <Page ru="Сбои" en="Failed work" id="failed" actions=actions>
            <p class="muted">{move || t(
                "Работа, от которой система отказалась: проверки чеков после всех попыток и сообщения, которые Telegram не принял. Повтор ставит задачу в очередь заново.",
                "Work the system gave up on: receipt checks after every attempt and messages Telegram refused. A retry queues it again.",
            )}</p>
            {move || error.get().map(|e| view! { <div class="form-error" role="alert" id="failed-error">{e.message}</div> })}
            {move || notice.get().map(|n| view! { <div class="notice" id="failed-notice" role="status">{n}</div> })}
            {move || match rows.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <div class="card state-card" id="failed-empty">
                        <div class="state-icon" aria-hidden="true">"✓"</div>
                        <h2>{move || t("Сбоев нет", "Nothing failed")}</h2>
                        <p class="muted">{move || t(
                            "Все проверки чеков и сообщения дошли до конца.",
                            "Every receipt check and message went through.",
                        )}</p>
                    </div>
                }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">
                        <table id="failed-table" class="responsive">
                            <thead>
                                <tr>
                                    <th>{move || t("Что", "What")}</th>
                                    <th>{move || t("Состояние", "State")}</th>
                                    <th>{move || t("Причина", "Reason")}</th>
                                    <th>{move || t("Кто", "Who")}</th>
                                    <th>{move || t("Когда", "When")}</th>
                                    <th><span class="visually-hidden">{move || t("Действия", "Actions")}</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().map(|work| {
                                    let id = work.id;
                                    let created = work.created_at.clone();
                                    let finished = work.finished_at.clone();
                                    let status = work.status.clone();
                                    let hint_status = work.status.clone();
                                    let badge_status = work.status.clone();
                                    let kind = work.kind.clone();
                                    let purpose = work.purpose.clone();
                                    let to_confirm = work.clone();
                                    view! {
                                        <tr data-failed=id.to_string()>
                                            <td data-label=move || t("Что", "What")>
                                                <strong>{move || purpose_label(&purpose)}</strong>
                                                <div class="muted small">"#" {id} " · " {move || kind_label(&kind)}</div>
                                            </td>
                                            <td data-label=move || t("Состояние", "State")>
                                                <span class=if status == "dead" { "badge badge-bad" } else { "badge badge-busy" }
                                                    data-status=status.clone()>
                                                    {move || if badge_status == "dead" { t("остановлено", "given up") } else { t("отказ Telegram", "refused") }}
                                                </span>
                                                <div class="muted small">
                                                    {move || status_hint(&hint_status)} " · "
                                                    {move || t("попыток", "attempts")} " " {work.attempts}
                                                </div>
                                            </td>
                                            <td data-label=move || t("Причина", "Reason") class="failed-reason">
                                                {work.reason.clone().unwrap_or_else(|| "—".to_owned())}
                                            </td>
                                            <td data-label=move || t("Кто", "Who")>
                                                {(work.user_id.is_none() && work.submission_id.is_none()).then_some("—")}
                                                {work.user_id.map(|user| view! {
                                                    <A href=format!("/users/{user}")>{move || t("участник", "user")} " #" {user}</A>
                                                })}
                                                {work.submission_id.map(|s| view! {
                                                    <div class="muted small">{move || t("загрузка", "upload")} " #" {s}</div>
                                                })}
                                            </td>
                                            <td data-label=move || t("Когда", "When") class="muted small">
                                                {move || when(&created)}
                                                {finished.clone().map(|f| view! {
                                                    <div>{move || t("остановлено", "given up")} " " {move || when(&f)}</div>
                                                })}
                                            </td>
                                            <td class="actions">
                                                {move || can("manager").then(|| {
                                                    let to_confirm = to_confirm.clone();
                                                    view! {
                                                        <div class="row">
                                                            <button type="button" class="btn btn-small btn-primary" data-action="retry"
                                                                disabled=move || working.get() == Some(id)
                                                                on:click=move |_| act(id, "retry")>
                                                                {move || t("Повторить", "Retry")}
                                                            </button>
                                                            <button type="button" class="btn btn-small btn-danger" data-action="discard"
                                                                disabled=move || working.get() == Some(id)
                                                                on:click=move |_| {
                                                                    confirm.set(Some(to_confirm.clone()));
                                                                    focus_soon("discard-confirm");
                                                                }>
                                                                {move || t("Убрать", "Discard")}
                                                            </button>
                                                        </div>
                                                    }
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            }}
            {move || confirm.get().map(|work| {
                let id = work.id;
                view! {
                    <div class="dialog-backdrop" on:click=move |_| confirm.set(None)
                        on:keydown=move |e| if e.key() == "Escape" { confirm.set(None) }>
                        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="discard-title"
                            on:click=|e| e.stop_propagation()>
                            <h2 id="discard-title">{move || t("Убрать без повтора?", "Discard without a retry?")} " #" {id}</h2>
                            <p>{move || t(
                                "Задача не будет выполнена: участник не получит это сообщение или итог проверки.",
                                "The work is not done: the shopper does not get this message or verdict.",
                            )}</p>
                            <div class="row">
                                <button type="button" class="btn btn-danger" id="discard-confirm"
                                    on:click=move |_| { confirm.set(None); act(id, "discard"); }>
                                    {move || t("Убрать", "Discard")}
                                </button>
                                <button type="button" class="btn" on:click=move |_| confirm.set(None)>
                                    {move || t("Отмена", "Cancel")}
                                </button>
                            </div>
                        </div>
                    </div>
                }
            })}
        </Page>
    }
}
