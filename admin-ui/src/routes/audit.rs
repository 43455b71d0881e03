//! The audit log: who did what and when, newest first, filtered by action or target,
//! paged with `next_before_id`. Details are drawn as "field: before → after" lines
//! rather than raw JSON, with the JSON a click away.

use leptos::prelude::*;
use promo_api_types::panel::{AuditEntry, AuditPage};
use serde_json::Value;

use super::Page;
use crate::api;
use crate::components::{paged, Empty, ErrorBox, Loading, MoreButton};
use crate::state::{can, t, when};

/// The actions an operator is likely to look for, with their names in the panel.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("settings.update", "Настройки изменены", "Settings changed"),
    ("settings.reset", "Настройка сброшена", "Setting reset"),
    ("text.update", "Текст бота изменён", "Bot text changed"),
    ("text.reset", "Текст бота сброшен", "Bot text reset"),
    ("admin_user.create", "Администратор добавлен", "Admin added"),
    (
        "admin_user.update",
        "Администратор изменён",
        "Admin changed",
    ),
    (
        "admin_user.password_reset",
        "Пароль администратора задан",
        "Admin password set",
    ),
    (
        "admin_user.password_change",
        "Свой пароль изменён",
        "Own password changed",
    ),
    ("receipt.approve", "Чек одобрен", "Receipt approved"),
    ("receipt.reject", "Чек отклонён", "Receipt rejected"),
    (
        "receipt.manual",
        "Чек введён вручную",
        "Receipt entered by hand",
    ),
    (
        "submission.recheck",
        "Чек перепроверен",
        "Receipt rechecked",
    ),
    ("user.block", "Участник заблокирован", "User blocked"),
    ("user.unblock", "Участник разблокирован", "User unblocked"),
    ("user.message", "Сообщение участнику", "Message to a user"),
    ("user.view_phone", "Просмотр телефона", "Phone viewed"),
    ("tickets.grant", "Билеты вручную", "Tickets by hand"),
    ("campaign.create", "Кампания создана", "Campaign created"),
    ("campaign.cancel", "Кампания отменена", "Campaign cancelled"),
    ("campaign.pause", "Кампания на паузе", "Campaign paused"),
    ("campaign.resume", "Кампания продолжена", "Campaign resumed"),
    ("raffle.created", "Розыгрыш создан", "Raffle created"),
    (
        "raffle.rerolled",
        "Приз передан резерву",
        "Prize passed to a reserve",
    ),
    (
        "raffle.prize_unclaimed",
        "Приз не востребован",
        "Prize unclaimed",
    ),
    ("claim.handed_over", "Приз вручён", "Prize handed over"),
    (
        "claim.documents_viewed",
        "Документы победителя открыты",
        "Winner's documents viewed",
    ),
    (
        "claim.documents_purged",
        "Документы удалены по сроку",
        "Documents purged",
    ),
    ("winners.export", "Победители выгружены", "Winners exported"),
    (
        "winners.export_phones",
        "Выгрузка с телефонами",
        "Winners exported with phones",
    ),
    (
        "winners.view_phones",
        "Телефоны победителей открыты",
        "Winners' phones viewed",
    ),
    ("upload.create", "Картинка загружена", "Picture uploaded"),
    ("failed_work.retry", "Сбой: повтор", "Failed work retried"),
    (
        "failed_work.discard",
        "Сбой: убран",
        "Failed work discarded",
    ),
    (
        "test_chat.reset",
        "Тестовый чат начат заново",
        "Test chat reset",
    ),
];

fn action_label(action: &str) -> String {
    ACTIONS
        .iter()
        .find(|(code, _, _)| *code == action)
        .map(|(_, ru, en)| t(ru, en).to_owned())
        .unwrap_or_else(|| action.replace(['.', '_'], " "))
}

/// `panel:anna` → `anna`, `bot:123` → `bot 123`, `system` → the system.
fn actor_label(actor: &str) -> String {
    if let Some(login) = actor.strip_prefix("panel:") {
        login.to_owned()
    } else if let Some(id) = actor.strip_prefix("bot:") {
        format!("{} {id}", t("бот, Telegram", "bot, Telegram"))
    } else if actor == "system" {
        t("система", "system").to_owned()
    } else {
        actor.to_owned()
    }
}

/// A value in one short line.
fn brief(value: &Value) -> String {
    let text = match value {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => t("да", "yes").to_owned(),
        Value::Bool(false) => t("нет", "no").to_owned(),
        Value::Array(items) => items.iter().map(brief).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    };
    if text.chars().count() > 160 {
        let cut: String = text.chars().take(160).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The details as lines `(field, before, after)`: a `before`/`after` pair compared
/// field by field, anything else listed as it is.
fn detail_lines(details: &Value) -> Vec<(String, Option<String>, String)> {
    let Value::Object(map) = details else {
        return if details.is_null() {
            Vec::new()
        } else {
            vec![(String::new(), None, brief(details))]
        };
    };
    let mut lines = Vec::new();
    let before = map.get("before");
    let after = map.get("after");
    if before.is_some() || after.is_some() {
        match (before, after) {
            (Some(Value::Object(b)), Some(Value::Object(a))) => {
                let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
                keys.dedup();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let (old, new) = (b.get(key), a.get(key));
                    if old != new {
                        lines.push((
                            key.clone(),
                            Some(old.map(brief).unwrap_or_else(|| "—".into())),
                            new.map(brief).unwrap_or_else(|| "—".into()),
                        ));
                    }
                }
            }
            (Some(Value::Object(b)), None | Some(Value::Null)) => {
                for (key, old) in b {
                    lines.push((key.clone(), Some(brief(old)), "—".into()));
                }
            }
            (None | Some(Value::Null), Some(Value::Object(a))) => {
                for (key, new) in a {
                    lines.push((key.clone(), None, brief(new)));
                }
            }
            (b, a) => lines.push((
                String::new(),
                b.map(brief),
                a.map(brief).unwrap_or_else(|| "—".into()),
            )),
        }
    }
    for (key, value) in map {
        if key != "before" && key != "after" {
            lines.push((key.clone(), None, brief(value)));
        }
    }
    lines
}

#[component]
pub fn Audit() -> impl IntoView {
    view! {
        <Page ru="Журнал действий" en="Audit log" id="audit">
            {move || if can("manager") {
                view! { <AuditLog/> }.into_any()
            } else {
                view! {
                    <div class="notice-plain" id="audit-denied">
                        {move || t("Журнал доступен менеджерам и владельцам.", "The audit log is for managers and owners.")}
                    </div>
                }.into_any()
            }}
        </Page>
    }
}

#[component]
fn AuditLog() -> impl IntoView {
    let action = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    // Typed filters apply when the operator stops typing or presses Enter.
    let applied = RwSignal::new((String::new(), String::new()));
    let list = paged(
        move || {
            let (action, target) = applied.get();
            format!(
                "/api/audit{}",
                api::query(&[
                    ("limit", "50".into()),
                    ("action", action),
                    ("target", target)
                ])
            )
        },
        |page: AuditPage| (page.entries, page.next_before_id),
    );
    let apply = move || {
        applied.set((
            action.get_untracked().trim().to_owned(),
            target.get_untracked().trim().to_owned(),
        ))
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        apply();
    };
    view! {
            <form class="toolbar card" on:submit=submit>
                <label class="field">
                    <span>{move || t("Действие", "Action")}</span>
                    <select id="audit-action" on:change=move |e| { action.set(event_target_value(&e)); apply(); }>
                        <option value="">{move || t("Все", "All")}</option>
                        {ACTIONS.iter().map(|(code, ru, en)| view! {
                            <option value=*code>{move || t(ru, en)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field grow">
                    <span>{move || t("Объект", "Target")}</span>
                    <input id="audit-target" type="search" autocomplete="off" spellcheck="false"
                        placeholder=move || t("например, user:42 или settings:promo", "e.g. user:42 or settings:promo")
                        bind:value=target on:change=move |_| apply()/>
                </label>
                <button type="submit" class="btn" id="audit-apply">{move || t("Показать", "Show")}</button>
                <button type="button" class="btn btn-ghost" id="audit-refresh" on:click=move |_| list.reload()>
                    {move || t("Обновить", "Refresh")}
                </button>
            </form>
            {move || match list.rows.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                Some(Ok(entries)) if entries.is_empty() => view! {
                    <div class="card" id="audit-empty">
                        <Empty text=Signal::derive(|| t("Записей нет.", "No entries.").to_owned())/>
                    </div>
                }.into_any(),
                Some(Ok(entries)) => view! {
                    <ol class="audit-list card" id="audit-list">
                        {entries.into_iter().map(|entry| view! { <AuditRow entry/> }).collect_view()}
                    </ol>
                    <MoreButton list id="audit-more"/>
                }.into_any(),
            }}
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let lines = detail_lines(&entry.details);
    let raw = serde_json::to_string_pretty(&entry.details).unwrap_or_default();
    // The JSON is offered when the lines leave something out: nesting or a cut value.
    let nested = |v: &Value| matches!(v, Value::Object(_) | Value::Array(_));
    let full = match &entry.details {
        Value::Object(map) => {
            map.iter().any(|(key, value)| match value {
                Value::Object(inner) if key == "before" || key == "after" => {
                    inner.values().any(nested)
                }
                other => nested(other),
            }) || raw.chars().count() > 400
        }
        _ => false,
    };
    let at = entry.at.clone();
    let action = entry.action.clone();
    let code = entry.action.clone();
    let target = entry.target.clone();
    let actor = entry.actor.clone();
    view! {
        <li class="audit-entry" data-action=entry.action.clone() data-id=entry.id.to_string()>
            <div class="audit-meta">
                <time class="muted small" datetime=entry.at.clone()>{move || when(&at)}</time>
                <span class="audit-actor" title=entry.actor.clone()>{move || actor_label(&actor)}</span>
            </div>
            <div class="audit-body">
                <div class="row">
                    <strong>{move || action_label(&action)}</strong>
                    <span class="mono muted">{code}</span>
                    {target.map(|target| view! { <span class="badge badge-plain mono-soft">{target}</span> })}
                </div>
                {(!lines.is_empty()).then(|| view! {
                    <ul class="audit-details">
                        {lines.into_iter().map(|(field, before, after)| view! {
                            <li>
                                {(!field.is_empty()).then(|| view! { <span class="audit-field">{field.replace('_', " ")} ": "</span> })}
                                {before.map(|b| view! { <span class="audit-before">{b}</span> " → " })}
                                <span class="audit-after">{after}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                })}
                {full.then(|| view! {
                    <details class="audit-raw">
                        <summary class="small muted">"JSON"</summary>
                        <pre class="mono">{raw}</pre>
                    </details>
                })}
            </div>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_before_and_after_become_lines_of_what_changed() {
        let lines = detail_lines(&json!({
            "before": {"name": "Лето", "time_zone": "Europe/Moscow"},
            "after": {"name": "Зима", "time_zone": "Europe/Moscow"},
            "sessions_revoked": 2,
        }));
        assert_eq!(
            lines,
            vec![
                ("name".into(), Some("Лето".into()), "Зима".into()),
                ("sessions_revoked".into(), None, "2".into()),
            ]
        );
    }
}
