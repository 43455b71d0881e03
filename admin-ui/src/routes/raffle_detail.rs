//! The Raffle page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn RaffleDetail() -> impl IntoView {
    view! { <Page ru="Розыгрыш" en="Raffle"><p>"…"</p></Page> }
}
