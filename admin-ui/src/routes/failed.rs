//! The Failed work page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Failed() -> impl IntoView {
    view! { <Page ru="Сбои" en="Failed work"><p>"…"</p></Page> }
}
