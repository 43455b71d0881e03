//! The Broadcast page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Broadcast() -> impl IntoView {
    view! { <Page ru="Рассылка" en="Broadcast"><p>"…"</p></Page> }
}
