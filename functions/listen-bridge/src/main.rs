//! listen-bridge: a long-running process (small VM, systemd) relaying due campaigns from
//! Postgres NOTIFY to the campaigns queue.

use promo_core::campaigns::bridge::Bridge;
use promo_core::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    promo_core::telemetry::init();
    let settings = Settings::from_env()?;
    let app = promo_core::app::App::build(settings).await?;
    let bridge = Bridge {
        database_url: app.settings.database_url.expose().to_owned(),
        pool: app.pool.clone(),
        queue: app.queue.clone(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    bridge.run(stopped).await;
    Ok(())
}
