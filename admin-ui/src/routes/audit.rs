//! The Audit log page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Audit() -> impl IntoView {
    view! { <Page ru="Журнал" en="Audit log"><p>"…"</p></Page> }
}
