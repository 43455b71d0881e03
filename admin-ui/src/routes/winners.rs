//! The Winners page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Winners() -> impl IntoView {
    view! { <Page ru="Победители" en="Winners"><p>"…"</p></Page> }
}
