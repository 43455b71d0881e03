//! Sign-in. A wrong password, a lockout after too many attempts and an unreachable
//! server each get their own plain sentence; success returns to the page asked for.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use promo_api_types::panel::{LoginRequest, SessionInfo};

use crate::api::{self, Failure};
use crate::state::{state, t};
use crate::LangSwitch;

#[component]
pub fn Login() -> impl IntoView {
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let query = use_query_map();
    let navigate = use_navigate();

    // Only a path inside the panel may be the way back: `?next=https://elsewhere` is not.
    let next = move || {
        query
            .get_untracked()
            .get("next")
            .filter(|n| n.starts_with('/') && !n.starts_with("//"))
            .unwrap_or_else(|| "/".to_owned())
    };

    // Already signed in (a bookmark of /login): straight on.
    let go = navigate.clone();
    Effect::new(move |_| {
        if let Some(Some(_)) = state().session.get() {
            go(
                &next(),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let request = LoginRequest {
            login: login.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        if request.login.is_empty() {
            error.set(Some(Failure::invalid(
                "login",
                t("Введите логин", "Enter your login"),
            )));
            return;
        }
        if request.password.is_empty() {
            error.set(Some(Failure::invalid(
                "password",
                t("Введите пароль", "Enter your password"),
            )));
            return;
        }
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::post::<_, SessionInfo>("/api/auth/login", &request).await {
                Ok(session) => {
                    api::adopt_session(Some(session));
                    crate::load_time_zone().await;
                }
                Err(failure) => {
                    password.set(String::new());
                    error.set(Some(failure));
                }
            }
            busy.set(false);
        });
    };

    let explain = move |failure: Failure| -> String {
        match failure.code.as_str() {
            "invalid_credentials" => {
                t("Неверный логин или пароль.", "Wrong login or password.").to_owned()
            }
            "locked" => format!(
                "{} ({})",
                t(
                    "Слишком много неудачных попыток: вход временно заблокирован.",
                    "Too many failed attempts: signing in is locked for a while."
                ),
                failure.message
            ),
            "network" => t(
                "Сервер недоступен. Проверьте соединение.",
                "The server cannot be reached.",
            )
            .to_owned(),
            _ => failure.message,
        }
    };

    view! {
        <div class="login-screen">
            <form class="card login-card" on:submit=submit novalidate>
                <div class="login-head">
                    <div class="brand">
                        <span class="brand-mark" aria-hidden="true">"◆"</span>
                        <span>{move || t("Промо-панель", "Promo panel")}</span>
                    </div>
                    <LangSwitch/>
                </div>
                <h1>{move || t("Вход", "Sign in")}</h1>
                <label class="field">
                    <span>{move || t("Логин", "Login")}</span>
                    <input id="login" name="login" autocomplete="username" bind:value=login
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("login")).to_string()/>
                </label>
                <label class="field">
                    <span>{move || t("Пароль", "Password")}</span>
                    <input id="password" name="password" type="password" autocomplete="current-password"
                        bind:value=password
                        aria-invalid=move || error.get().is_some_and(|e| e.is_field("password")).to_string()/>
                </label>
                {move || error.get().map(|failure| {
                    let code = failure.code.clone();
                    view! { <div class="form-error" id="login-error" data-code=code role="alert">{explain(failure)}</div> }
                })}
                <button id="login-submit" class="btn btn-primary wide" type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { t("Входим…", "Signing in…") } else { t("Войти", "Sign in") }}
                </button>
            </form>
        </div>
    }
}
