//! One module per page. `Page` gives each the same heading and action row.

pub mod admins;
pub mod audit;
pub mod broadcast;
pub mod campaigns;
pub mod dashboard;
pub mod failed;
pub mod login;
pub mod raffle_detail;
pub mod raffle_new;
pub mod raffles;
pub mod receipt_view;
pub mod receipts;
pub mod settings;
pub mod test_chat;
pub mod texts;
pub mod user_detail;
pub mod users;
pub mod winners;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::state::t;

/// A page's frame: its title (Russian, English), optional actions on the right, body.
#[component]
pub fn Page(
    ru: &'static str,
    en: &'static str,
    #[prop(optional, into)] id: String,
    #[prop(optional, into)] actions: Option<ViewFn>,
    children: Children,
) -> impl IntoView {
    let title = move || t(ru, en);
    Effect::new(move |_| {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&format!(
                "{} · {}",
                title(),
                t("Промо-панель", "Promo panel")
            ));
        }
    });
    view! {
        <section class="page" id=id>
            <div class="page-head">
                <h1>{title}</h1>
                <div class="page-actions">{actions.map(|a| a.run())}</div>
            </div>
            {children()}
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="centered">
            <div class="card narrow">
                <h1>"404"</h1>
                <p>{move || t("Такой страницы нет.", "There is no such page.")}</p>
                <A href="/">{move || t("На главную", "To the dashboard")}</A>
            </div>
        </div>
    }
}
