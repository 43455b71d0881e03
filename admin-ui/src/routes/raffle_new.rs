//! The New raffle page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn RaffleNew() -> impl IntoView {
    view! { <Page ru="Новый розыгрыш" en="New raffle"><p>"…"</p></Page> }
}
