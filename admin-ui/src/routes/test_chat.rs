//! The Test chat page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn TestChat() -> impl IntoView {
    view! { <Page ru="Тестовый чат" en="Test chat"><p>"…"</p></Page> }
}
