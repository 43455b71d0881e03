//! listen-bridge: a long-running process (small VM, systemd) relaying due campaigns from
//! Postgres NOTIFY to the campaigns queue.

use promo_core::config::ListenBridgeSettings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    promo_core::telemetry::init();
    // Only DATABASE_URL and the queue variables are read: the bridge relays every bot's
    // campaigns and never talks to Telegram. Under systemd a failed start is restarted
    // and logged, so exiting with the problem is the visible failure here.
    let settings = ListenBridgeSettings::from_env()?;
    let bridge = promo_core::app::connect_listen_bridge(settings).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    bridge.run(stopped).await;
    Ok(())
}
