//! Browser tests of the operators' panel: the built bundle (`infra/scripts/build-ui.sh`)
//! served by the whole stack, driven in headless Chromium over WebDriver. Screenshots
//! of each page, desktop and phone width, go to `target/screenshots/`.
//! Run only these with `cargo test -p promo-core --test browser`.

mod campaigns;
mod dashboard;
mod harness;
mod raffles;
mod receipts;
mod seed;
mod settings;
mod test_chat;
mod users;

use harness::Panel;
use promo_testkit::TestConfig;

#[tokio::test]
async fn the_panel_bundle_is_served_and_the_login_page_renders() {
    let panel = Panel::start(TestConfig::default()).await;
    panel.goto("/").await;
    panel.wait_for("#login").await;
    panel.screenshot("login").await;
}
