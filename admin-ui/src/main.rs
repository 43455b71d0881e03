//! Entry point of the wasm bundle: only mounts the panel; everything else lives in the library.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(promo_admin_ui::App);
}
