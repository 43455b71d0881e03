//! Users: one search box (@username, phone, Telegram or internal id, name), a status
//! filter, newest first, page by page; each row opens the shopper's page. The search
//! lives in the address (`?q=&status=&test=1`), so a search can be linked and Back works.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use promo_api_types::panel::{ShopperPage, ShopperRow};

use super::Page;
use crate::api::{self, Failure};
use crate::components::{paged, Badge, Empty, ErrorBox, FieldError, Loading, MoreButton};
use crate::state::{day, num, t, when};

/// The statuses `GET /api/users?status=` takes, with their labels.
const STATUSES: &[(&str, &str, &str)] = &[
    ("", "Все", "All"),
    ("registered", "Зарегистрированы", "Registered"),
    ("new", "Новые", "New"),
    ("registering", "Регистрируются", "Registering"),
    ("banned", "Заблокированы", "Blocked"),
];

#[component]
pub fn Users() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let current = move |key: &str| query.read().get(key).unwrap_or_default();

    let q_input = RwSignal::new(String::new());
    let status_input = RwSignal::new(String::new());
    let test_input = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    // The form follows the address (a link, Back).
    Effect::new(move |_| {
        q_input.set(current("q"));
        status_input.set(current("status"));
        test_input.set(current("test") == "1");
    });

    let list = paged(
        move || {
            format!(
                "/api/users{}",
                api::query(&[
                    ("q", current("q")),
                    ("status", current("status")),
                    (
                        "include_test",
                        if current("test") == "1" {
                            "true".into()
                        } else {
                            String::new()
                        }
                    ),
                ])
            )
        },
        |page: ShopperPage| (page.users, page.next_before_id),
    );

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let q = q_input.get_untracked().trim().to_owned();
        if q.chars().count() > 100 {
            error.set(Some(Failure::invalid(
                "q",
                t("Не больше 100 символов.", "At most 100 characters."),
            )));
            return;
        }
        error.set(None);
        let target = format!(
            "/users{}",
            api::query(&[
                ("q", q),
                ("status", status_input.get_untracked()),
                (
                    "test",
                    if test_input.get_untracked() {
                        "1".into()
                    } else {
                        String::new()
                    }
                ),
            ])
        );
        navigate(&target, Default::default());
    };

    let searching = move || !current("q").is_empty() || !current("status").is_empty();

    view! {
        <Page ru="Участники" en="Users" id="users">
            <form class="card toolbar" id="users-search" on:submit=submit role="search" novalidate>
                <label class="field grow">
                    <span>{move || t("Поиск", "Search")}</span>
                    <input id="users-q" type="search" bind:value=q_input autocomplete="off"
                        placeholder=move || t("@ник, телефон, номер или имя", "@username, phone, id or name")
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("q")).to_string()/>
                    <FieldError error field="q"/>
                </label>
                <label class="field">
                    <span>{move || t("Статус", "Status")}</span>
                    <select id="users-status" prop:value=move || status_input.get()
                        on:change=move |e| status_input.set(event_target_value(&e))>
                        {STATUSES.iter().map(|(value, ru, en)| {
                            let (ru, en) = (*ru, *en);
                            view! {
                                <option value=*value selected=move || status_input.get() == *value>
                                    {move || t(ru, en)}
                                </option>
                            }
                        }).collect_view()}
                    </select>
                </label>
                <label class="check users-test">
                    <input type="checkbox" id="users-test" prop:checked=move || test_input.get()
                        on:change=move |e| test_input.set(event_target_checked(&e))/>
                    <span>{move || t("тестовые", "test ones")}</span>
                </label>
                <button class="btn btn-primary" id="users-submit" type="submit">
                    {move || t("Найти", "Search")}
                </button>
            </form>
            {move || match list.rows.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => {
                    let text = Signal::derive(move || if searching() {
                        t("Никого не нашли. Проверьте запрос или снимите фильтр.",
                          "Nobody found. Check the search or clear the filter.").to_owned()
                    } else {
                        t("Участников пока нет.", "No users yet.").to_owned()
                    });
                    view! { <div class="card" id="users-empty"><Empty text/></div> }.into_any()
                }
                Some(Ok(rows)) => view! { <UserTable rows/> }.into_any(),
            }}
            <MoreButton list id="users-more"/>
        </Page>
    }
}

#[component]
fn UserTable(rows: Vec<ShopperRow>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="users-table" id="users-table">
                <thead>
                    <tr>
                        <th>{move || t("Участник", "User")}</th>
                        <th class="opt">{move || t("Телефон", "Phone")}</th>
                        <th>{move || t("Статус", "Status")}</th>
                        <th class="num">{move || t("Билеты", "Tickets")}</th>
                        <th class="num opt">{move || t("Чеки", "Receipts")}</th>
                        <th class="opt">{move || t("Регистрация", "Registered")}</th>
                        <th class="opt">{move || t("Был(а)", "Last seen")}</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|user| view! { <UserRow user/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn UserRow(user: ShopperRow) -> impl IntoView {
    let href = format!("/users/{}", user.id);
    let registered = user.registered_at.clone();
    let seen = user.last_seen_at.clone();
    let handle = user
        .username
        .as_ref()
        .map(|u| format!("@{u} · "))
        .unwrap_or_default();
    view! {
        <tr data-user-id=user.id.to_string() data-status=user.status.clone()>
            <td>
                <A href=href attr:class="user-link">{user.name.clone()}</A>
                <div class="muted small">{handle} "#" {user.id} " · tg " {user.telegram_id}</div>
            </td>
            <td class="opt mono nowrap">{user.phone_masked.clone().unwrap_or_else(|| "—".into())}</td>
            <td>
                <Badge status=user.status.clone()/>
                {(!user.reachable).then(|| view! {
                    <span class="badge badge-bad unreachable" title=move || t("Заблокировал бота", "Blocked the bot")>
                        {move || t("недоступен", "unreachable")}
                    </span>
                })}
            </td>
            <td class="num">{num(user.tickets)}</td>
            <td class="num opt">{num(user.receipts_accepted)}</td>
            <td class="opt nowrap">{move || registered.as_deref().map(day).unwrap_or_else(|| "—".into())}</td>
            <td class="opt nowrap">{move || when(&seen)}</td>
        </tr>
    }
}
