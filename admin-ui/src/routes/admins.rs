//! The Admins page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Admins() -> impl IntoView {
    view! { <Page ru="Администраторы" en="Admins"><p>"…"</p></Page> }
}
