//! The Settings page (not built yet).

use leptos::prelude::*;

use super::Page;

#[component]
pub fn Settings() -> impl IntoView {
    view! { <Page ru="Настройки" en="Settings"><p>"…"</p></Page> }
}
