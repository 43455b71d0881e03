//! Panel users (owner only): the list with each user's role, Telegram link and state;
//! a form to add one; a role change, disabling (which ends their sessions) and a
//! password reset per row. The API keeps the last enabled owner; its refusal is shown.

use leptos::prelude::*;
use leptos::task::spawn_local;
use promo_api_types::panel::{AdminUser, AdminUserChange, NewAdminUser, PasswordReset};

use super::Page;
use crate::api::{self, Answer, Failure};
use crate::components::{focus_soon, Empty, ErrorBox, FieldError, FormError, Loading};
use crate::state::{state, t, when};

const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 256;
const ROLES: &[&str] = &["owner", "manager", "viewer"];

fn role_label(role: &str) -> &'static str {
    match role {
        "owner" => t("владелец", "owner"),
        "manager" => t("менеджер", "manager"),
        "viewer" => t("наблюдатель", "viewer"),
        _ => t("неизвестно", "unknown"),
    }
}

fn role_hint(role: &str) -> &'static str {
    match role {
        "owner" => t(
            "всё, включая администраторов",
            "everything, admins included",
        ),
        "manager" => t(
            "модерация, рассылки, розыгрыши, настройки",
            "moderation, broadcasts, raffles, settings",
        ),
        _ => t("только просмотр", "read only"),
    }
}

fn login_ok(login: &str) -> bool {
    (1..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

fn password_problem(password: &str, field: &str) -> Option<Failure> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        Some(Failure::invalid(
            field,
            t(
                "Пароль — не короче 12 символов.",
                "The password needs at least 12 characters.",
            ),
        ))
    } else if n > MAX_PASSWORD {
        Some(Failure::invalid(
            field,
            t(
                "Пароль — не длиннее 256 символов.",
                "The password must be at most 256 characters.",
            ),
        ))
    } else {
        None
    }
}

/// A Telegram id as typed: empty is none.
fn telegram_id(text: &str) -> Result<Option<i64>, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(Failure::invalid(
            "telegram_id",
            t(
                "Telegram id — положительное число (его покажет @userinfobot).",
                "A Telegram id is a positive number (@userinfobot shows it).",
            ),
        )),
    }
}

/// The API's refusals in the operator's language where they are known (it speaks English).
fn explain(failure: Failure) -> Failure {
    if failure.status == 409 && failure.is_field("login") {
        return Failure {
            message: t("Этот логин уже занят.", "This login is taken.").to_owned(),
            ..failure
        };
    }
    failure
}

fn is_owner() -> bool {
    state()
        .session
        .get()
        .flatten()
        .is_some_and(|s| s.admin.role == "owner")
}

#[component]
pub fn Admins() -> impl IntoView {
    view! {
        <Page ru="Администраторы" en="Admins" id="admins">
            {move || if is_owner() {
                view! { <AdminsBody/> }.into_any()
            } else {
                view! {
                    <div class="notice-plain" id="admins-denied">
                        {move || t("Управлять администраторами может только владелец.", "Only an owner manages the admins.")}
                    </div>
                }.into_any()
            }}
        </Page>
    }
}

#[component]
fn AdminsBody() -> impl IntoView {
    let users = RwSignal::new(None::<Answer<Vec<AdminUser>>>);
    let load = move || {
        spawn_local(async move {
            users.set(Some(api::get::<Vec<AdminUser>>("/api/admins").await));
        })
    };
    load();
    let row_error = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<String>);
    let password_for = RwSignal::new(None::<AdminUser>);
    let me = move || state().session.get().flatten().map(|s| s.admin.id);

    let replace = move |user: AdminUser| {
        users.update(|list| {
            if let Some(Ok(list)) = list {
                match list.iter_mut().find(|u| u.id == user.id) {
                    Some(known) => *known = user,
                    None => list.push(user),
                }
            }
        })
    };
    let change = move |id: i64, change: AdminUserChange, done: String| {
        row_error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::patch::<_, AdminUser>(&format!("/api/admins/{id}"), &change).await {
                Ok(user) => {
                    replace(user);
                    notice.set(Some(done));
                }
                Err(failure) => {
                    row_error.set(Some(failure));
                    // The row shows what the server has, not what the select was set to.
                    load();
                }
            }
        });
    };

    view! {
        <div class="stack">
            <div class="card">
                <div class="card-head">
                    <h2>{move || t("Пользователи панели", "Panel users")}</h2>
                </div>
                {move || row_error.get().map(|e| view! { <div class="form-error" role="alert" id="admins-error">{e.message}</div> })}
                {move || notice.get().map(|n| view! { <div class="notice" id="admins-notice">{n}</div> })}
                {move || match users.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! {
                        <Empty text=Signal::derive(|| t("Пользователей нет.", "No users.").to_owned())/>
                    }.into_any(),
                    Some(Ok(list)) => view! {
                        <div class="table-wrap">
                            <table id="admins-table" class="responsive">
                                <thead>
                                    <tr>
                                        <th>{move || t("Логин", "Login")}</th>
                                        <th>{move || t("Роль", "Role")}</th>
                                        <th>"Telegram"</th>
                                        <th>{move || t("Состояние", "State")}</th>
                                        <th>{move || t("Последний вход", "Last sign-in")}</th>
                                        <th><span class="visually-hidden">{move || t("Действия", "Actions")}</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|user| {
                                        let id = user.id;
                                        let mine = me() == Some(id);
                                        let disabled = user.disabled;
                                        let role = user.role.clone();
                                        let login = user.login.clone();
                                        let created = user.created_at.clone();
                                        let last = user.last_login_at.clone();
                                        let for_dialog = user.clone();
                                        view! {
                                            <tr data-admin=login.clone() class:row-muted=disabled>
                                                <td data-label=move || t("Логин", "Login")>
                                                    <strong>{login.clone()}</strong>
                                                    {mine.then(|| view! { " " <span class="badge badge-plain">{move || t("это вы", "you")}</span> })}
                                                    <div class="muted small">{move || t("создан", "created")} " " {move || when(&created)}</div>
                                                </td>
                                                <td data-label=move || t("Роль", "Role")>
                                                    <label class="visually-hidden" for=format!("role-{id}")>{move || t("Роль", "Role")}</label>
                                                    <select id=format!("role-{id}") class="role-select"
                                                        on:change=move |e| {
                                                            let to = event_target_value(&e);
                                                            let done = format!("{}: {}", t("Роль изменена", "Role changed"), role_label(&to));
                                                            change(id, AdminUserChange { role: Some(to), ..Default::default() }, done);
                                                        }>
                                                        {ROLES.iter().map(|r| view! {
                                                            <option value=*r selected=role == *r>{move || role_label(r)}</option>
                                                        }).collect_view()}
                                                    </select>
                                                </td>
                                                <td data-label="Telegram" class="mono">
                                                    {user.telegram_id.map(|id| id.to_string()).unwrap_or_else(|| "—".to_owned())}
                                                </td>
                                                <td data-label=move || t("Состояние", "State")>
                                                    {if disabled {
                                                        view! { <span class="badge badge-bad">{move || t("отключён", "disabled")}</span> }.into_any()
                                                    } else {
                                                        view! { <span class="badge badge-good">{move || t("активен", "active")}</span> }.into_any()
                                                    }}
                                                </td>
                                                <td data-label=move || t("Последний вход", "Last sign-in") class="muted">
                                                    {move || last.as_deref().map(when).unwrap_or_else(|| t("не входил", "never").to_owned())}
                                                </td>
                                                <td class="actions">
                                                    <div class="row">
                                                        <button type="button" class="btn btn-small" data-action="password"
                                                            on:click=move |_| {
                                                                password_for.set(Some(for_dialog.clone()));
                                                                focus_soon("reset-password");
                                                            }>
                                                            {move || t("Сменить пароль", "Set password")}
                                                        </button>
                                                        {if disabled {
                                                            view! {
                                                                <button type="button" class="btn btn-small" data-action="enable"
                                                                    on:click=move |_| change(id, AdminUserChange { disabled: Some(false), ..Default::default() },
                                                                        t("Пользователь снова может входить.", "The user can sign in again.").to_owned())>
                                                                    {move || t("Включить", "Enable")}
                                                                </button>
                                                            }.into_any()
                                                        } else {
                                                            view! {
                                                                <button type="button" class="btn btn-small btn-danger" data-action="disable"
                                                                    on:click=move |_| change(id, AdminUserChange { disabled: Some(true), ..Default::default() },
                                                                        t("Отключён; его сессии завершены.", "Disabled; their sessions have ended.").to_owned())>
                                                                    {move || t("Отключить", "Disable")}
                                                                </button>
                                                            }.into_any()
                                                        }}
                                                    </div>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <p class="hint muted small">{move || t(
                            "Смена роли и отключение завершают сессии пользователя; последнего владельца отключить нельзя.",
                            "A role change or disabling ends the user's sessions; the last owner cannot be disabled.",
                        )}</p>
                    }.into_any(),
                }}
            </div>
            <NewAdminForm on_created=Callback::new(move |user: AdminUser| {
                notice.set(Some(format!("{} {}", t("Добавлен:", "Added:"), user.login)));
                replace(user);
            })/>
        </div>
        {move || password_for.get().map(|user| view! {
            <PasswordDialog user on_close=Callback::new(move |done: Option<String>| {
                password_for.set(None);
                if let Some(done) = done {
                    notice.set(Some(done));
                }
            })/>
        })}
    }
}

#[component]
fn NewAdminForm(on_created: Callback<AdminUser>) -> impl IntoView {
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("manager".to_owned());
    let telegram = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let name = login.get_untracked().trim().to_owned();
        if !login_ok(&name) {
            error.set(Some(Failure::invalid(
                "login",
                t(
                    "Логин: 1–64 буквы, цифры, «.», «_», «@» или «-».",
                    "A login is 1 to 64 letters, digits, '.', '_', '@' or '-'.",
                ),
            )));
            return;
        }
        let secret = password.get_untracked();
        if let Some(problem) = password_problem(&secret, "password") {
            error.set(Some(problem));
            return;
        }
        let telegram_id = match telegram_id(&telegram.get_untracked()) {
            Ok(id) => id,
            Err(problem) => {
                error.set(Some(problem));
                return;
            }
        };
        let request = NewAdminUser {
            login: name,
            password: secret,
            role: role.get_untracked(),
            telegram_id,
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::post::<_, AdminUser>("/api/admins", &request).await {
                Ok(user) => {
                    login.set(String::new());
                    password.set(String::new());
                    telegram.set(String::new());
                    on_created.run(user);
                }
                Err(failure) => error.set(Some(explain(failure))),
            }
            busy.set(false);
        });
    };
    let invalid = move |field: &'static str| {
        move || error.get().is_some_and(|e| e.is_field(field)).to_string()
    };

    view! {
        <form class="card stack" id="new-admin" on:submit=submit novalidate>
            <h2>{move || t("Новый пользователь", "New user")}</h2>
            <div class="form-grid">
                <label class="field">
                    <span>{move || t("Логин", "Login")}</span>
                    <input id="new-admin-login" autocomplete="off" spellcheck="false" maxlength="64"
                        bind:value=login aria-invalid=invalid("login")/>
                    <FieldError error field="login"/>
                </label>
                <label class="field">
                    <span>{move || t("Пароль", "Password")}</span>
                    <input id="new-admin-password" type="password" autocomplete="new-password"
                        bind:value=password aria-invalid=invalid("password")/>
                    <span class="hint">{move || t("Не короче 12 символов; передайте его лично.", "At least 12 characters; hand it over in person.")}</span>
                    <FieldError error field="password"/>
                </label>
                <label class="field">
                    <span>{move || t("Роль", "Role")}</span>
                    <select id="new-admin-role" bind:value=role aria-invalid=invalid("role")>
                        {ROLES.iter().map(|r| view! {
                            <option value=*r>{move || format!("{} — {}", role_label(r), role_hint(r))}</option>
                        }).collect_view()}
                    </select>
                    <FieldError error field="role"/>
                </label>
                <label class="field">
                    <span>{move || t("Telegram id (необязательно)", "Telegram id (optional)")}</span>
                    <input id="new-admin-telegram" inputmode="numeric" autocomplete="off"
                        bind:value=telegram aria-invalid=invalid("telegram_id")/>
                    <span class="hint">{move || t("Для команд администратора в боте.", "For the admin commands in the bot.")}</span>
                    <FieldError error field="telegram_id"/>
                </label>
            </div>
            <FormError error shown_at=&["login", "password", "role", "telegram_id"]/>
            <div class="row">
                <button type="submit" class="btn btn-primary" id="new-admin-submit" disabled=move || busy.get()>
                    {move || if busy.get() { t("Добавляем…", "Adding…") } else { t("Добавить", "Add") }}
                </button>
            </div>
        </form>
    }
}

#[component]
fn PasswordDialog(user: AdminUser, on_close: Callback<Option<String>>) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let id = user.id;
    let login = user.login.clone();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let secret = password.get_untracked();
        if let Some(problem) = password_problem(&secret, "new_password") {
            error.set(Some(problem));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = api::post::<_, ()>(
                &format!("/api/admins/{id}/password"),
                &PasswordReset {
                    new_password: secret,
                },
            )
            .await;
            busy.set(false);
            match answer {
                Ok(()) => on_close.run(Some(
                    t(
                        "Пароль задан; сессии пользователя завершены.",
                        "Password set; the user's sessions have ended.",
                    )
                    .to_owned(),
                )),
                Err(failure) => error.set(Some(failure)),
            }
        });
    };
    view! {
        <div class="dialog-backdrop" on:click=move |_| on_close.run(None)
            on:keydown=move |e| if e.key() == "Escape" { on_close.run(None) }>
            <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="password-title"
                id="password-dialog" on:click=|e| e.stop_propagation() on:submit=submit novalidate>
                <h2 id="password-title">{move || t("Новый пароль для", "New password for")} " " {login.clone()}</h2>
                <label class="field">
                    <span>{move || t("Пароль", "Password")}</span>
                    <input id="reset-password" type="password" autocomplete="new-password"
                        bind:value=password
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("new_password")).to_string()/>
                    <span class="hint">{move || t("Не короче 12 символов. Пользователю придётся войти заново.", "At least 12 characters. The user signs in again.")}</span>
                    <FieldError error field="new_password"/>
                </label>
                <FormError error shown_at=&["new_password"]/>
                <div class="row">
                    <button type="submit" class="btn btn-primary" id="reset-password-submit" disabled=move || busy.get()>
                        {move || t("Задать пароль", "Set password")}
                    </button>
                    <button type="button" class="btn" on:click=move |_| on_close.run(None)>{move || t("Отмена", "Cancel")}</button>
                </div>
            </form>
        </div>
    }
}
