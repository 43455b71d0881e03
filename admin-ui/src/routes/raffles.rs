//! The Raffles page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Raffles() -> impl IntoView {
    view! { <Page ru="Розыгрыши" en="Raffles"><p>"…"</p></Page> }
}
