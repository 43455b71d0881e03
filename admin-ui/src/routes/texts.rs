//! The Bot texts page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Texts() -> impl IntoView {
    view! { <Page ru="Тексты бота" en="Bot texts"><p>"…"</p></Page> }
}
