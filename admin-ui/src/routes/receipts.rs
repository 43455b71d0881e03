//! The Receipts page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Receipts() -> impl IntoView {
    view! { <Page ru="Чеки" en="Receipts"><p>"…"</p></Page> }
}
