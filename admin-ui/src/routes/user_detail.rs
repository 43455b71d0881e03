//! The User page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn UserDetail() -> impl IntoView {
    view! { <Page ru="Участник" en="User"><p>"…"</p></Page> }
}
