//! The operators' panel: `App` owns the router; every page sits in `routes/`, every
//! request goes through `api`, and everything behind the login is drawn inside `Shell`.

pub mod api;
pub mod chat;
pub mod components;
pub mod routes;
pub mod state;
pub mod telegram_preview;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Outlet, ParentRoute, Redirect, Route, Router, Routes, A};
use leptos_router::hooks::use_location;
use leptos_router::path;
use promo_api_types::panel::{PromoSettingsView, SessionInfo};

use crate::components::Loading;
use crate::state::{can, set_lang, state, t, Lang};

#[component]
pub fn App() -> impl IntoView {
    set_lang(state().lang.get_untracked());
    spawn_local(async {
        let session = api::get::<SessionInfo>("/api/auth/session").await.ok();
        let signed_in = session.is_some();
        api::adopt_session(session);
        if signed_in {
            load_time_zone().await;
        }
    });
    view! {
        <Router>
            <Routes fallback=|| view! { <routes::NotFound/> }>
                <Route path=path!("/login") view=routes::login::Login/>
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=routes::dashboard::Dashboard/>
                    <Route path=path!("users") view=routes::users::Users/>
                    <Route path=path!("users/:id") view=routes::user_detail::UserDetail/>
                    <Route path=path!("receipts") view=routes::receipts::Receipts/>
                    <Route path=path!("broadcast") view=routes::broadcast::Broadcast/>
                    <Route path=path!("campaigns") view=routes::campaigns::Campaigns/>
                    <Route path=path!("raffles") view=routes::raffles::Raffles/>
                    <Route path=path!("raffles/new") view=routes::raffle_new::RaffleNew/>
                    <Route path=path!("raffles/:id") view=routes::raffle_detail::RaffleDetail/>
                    <Route path=path!("winners") view=routes::winners::Winners/>
                    <Route path=path!("settings") view=routes::settings::Settings/>
                    <Route path=path!("texts") view=routes::texts::Texts/>
                    <Route path=path!("test-chat") view=routes::test_chat::TestChat/>
                    <Route path=path!("admins") view=routes::admins::Admins/>
                    <Route path=path!("audit") view=routes::audit::Audit/>
                    <Route path=path!("failed") view=routes::failed::Failed/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Reads the promotion's time zone, in which every time is shown.
pub async fn load_time_zone() {
    if let Ok(settings) = api::get::<PromoSettingsView>("/api/settings").await {
        if let Some(zone) = settings.values.get("time_zone").and_then(|v| v.as_str()) {
            state().time_zone.set(zone.to_owned());
        }
    }
}

struct NavItem {
    href: &'static str,
    ru: &'static str,
    en: &'static str,
    icon: &'static str,
    role: &'static str,
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/",
        ru: "Обзор",
        en: "Dashboard",
        icon: "◧",
        role: "viewer",
    },
    NavItem {
        href: "/users",
        ru: "Участники",
        en: "Users",
        icon: "☺",
        role: "viewer",
    },
    NavItem {
        href: "/receipts",
        ru: "Чеки",
        en: "Receipts",
        icon: "▤",
        role: "viewer",
    },
    NavItem {
        href: "/broadcast",
        ru: "Рассылка",
        en: "Broadcast",
        icon: "✉",
        role: "manager",
    },
    NavItem {
        href: "/campaigns",
        ru: "Кампании",
        en: "Campaigns",
        icon: "↗",
        role: "viewer",
    },
    NavItem {
        href: "/raffles",
        ru: "Розыгрыши",
        en: "Raffles",
        icon: "★",
        role: "viewer",
    },
    NavItem {
        href: "/winners",
        ru: "Победители",
        en: "Winners",
        icon: "♛",
        role: "viewer",
    },
    NavItem {
        href: "/test-chat",
        ru: "Тестовый чат",
        en: "Test chat",
        icon: "✎",
        role: "manager",
    },
    NavItem {
        href: "/texts",
        ru: "Тексты бота",
        en: "Bot texts",
        icon: "¶",
        role: "viewer",
    },
    NavItem {
        href: "/settings",
        ru: "Настройки",
        en: "Settings",
        icon: "⚙",
        role: "viewer",
    },
    NavItem {
        href: "/failed",
        ru: "Сбои",
        en: "Failed work",
        icon: "⚠",
        role: "manager",
    },
    NavItem {
        href: "/audit",
        ru: "Журнал",
        en: "Audit log",
        icon: "☰",
        role: "manager",
    },
    NavItem {
        href: "/admins",
        ru: "Администраторы",
        en: "Admins",
        icon: "⚷",
        role: "owner",
    },
];

/// Everything behind the login: the navigation, the header and the page. Signed-out
/// visitors are sent to `/login`, which brings them back here afterwards.
#[component]
fn Shell() -> impl IntoView {
    let s = state();
    let location = use_location();
    let menu_open = RwSignal::new(false);
    // Any navigation closes the phone menu.
    Effect::new(move |_| {
        location.pathname.track();
        menu_open.set(false);
    });
    move || match s.session.get() {
        None => view! { <div class="boot"><Loading/></div> }.into_any(),
        Some(None) => {
            let next = location.pathname.get_untracked();
            let target = if next == "/" || next.is_empty() {
                "/login".to_owned()
            } else {
                format!(
                    "/login?next={}",
                    String::from(js_sys::encode_uri_component(&next))
                )
            };
            view! { <Redirect path=target/> }.into_any()
        }
        Some(Some(session)) => {
            let login = session.admin.login.clone();
            let role = session.admin.role.clone();
            view! {
                <div class="app" class:menu-open=move || menu_open.get()>
                    <a class="skip" href="#main">{move || t("К содержимому", "Skip to content")}</a>
                    <aside class="sidebar">
                        <div class="brand">
                            <span class="brand-mark" aria-hidden="true">"◆"</span>
                            <span>{move || t("Промо-панель", "Promo panel")}</span>
                        </div>
                        <nav aria-label="main" id="nav">
                            {NAV.iter().filter(|item| can(item.role)).map(|item| {
                                let (ru, en) = (item.ru, item.en);
                                view! {
                                    <A href=item.href exact=true attr:class="nav-link">
                                        <span class="nav-icon" aria-hidden="true">{item.icon}</span>
                                        <span>{move || t(ru, en)}</span>
                                    </A>
                                }
                            }).collect_view()}
                        </nav>
                    </aside>
                    <div class="main-column">
                        <header class="topbar">
                            <button class="icon-button menu-toggle" id="menu-toggle"
                                aria-label=move || t("Меню", "Menu")
                                aria-expanded=move || menu_open.get().to_string()
                                on:click=move |_| menu_open.update(|open| *open = !*open)>
                                "☰"
                            </button>
                            <div class="topbar-spacer"></div>
                            <LangSwitch/>
                            <span class="who" id="who">
                                <span class="who-login">{login}</span>
                                <span class="badge badge-plain">{role}</span>
                            </span>
                            <button class="btn btn-ghost" id="logout" on:click=move |_| {
                                spawn_local(async {
                                    let _ = api::post_empty::<()>("/api/auth/logout").await;
                                    api::adopt_session(None);
                                });
                            }>{move || t("Выйти", "Sign out")}</button>
                        </header>
                        <main id="main" tabindex="-1">
                            <Outlet/>
                        </main>
                    </div>
                </div>
            }
            .into_any()
        }
    }
}

#[component]
pub fn LangSwitch() -> impl IntoView {
    let s = state();
    view! {
        <div class="lang-switch" role="group" aria-label="language">
            <button class="lang" id="lang-ru" aria-pressed=move || (s.lang.get() == Lang::Ru).to_string()
                on:click=move |_| set_lang(Lang::Ru)>"RU"</button>
            <button class="lang" id="lang-en" aria-pressed=move || (s.lang.get() == Lang::En).to_string()
                on:click=move |_| set_lang(Lang::En)>"EN"</button>
        </div>
    }
}
