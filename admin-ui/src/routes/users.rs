//! The Users page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Users() -> impl IntoView {
    view! { <Page ru="Участники" en="Users"><p>"…"</p></Page> }
}
