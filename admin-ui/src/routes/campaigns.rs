//! The Campaigns page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Campaigns() -> impl IntoView {
    view! { <Page ru="Кампании" en="Campaigns"><p>"…"</p></Page> }
}
