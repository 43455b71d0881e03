//! A Postgres LISTEN session of its own (not from the pool: a pooled connection may be
//! handed to someone else, and notifications arrive only on the session that listens).
//! The campaign bridge and the outbox relay each hold one.

use anyhow::Context;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls, Notification};

pub struct Listener {
    // Kept so the session stays open; dropping it closes the connection.
    _client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<Notification>,
    driver: Option<JoinHandle<Result<(), tokio_postgres::Error>>>,
}

impl Listener {
    /// Connects and LISTENs on `channel` (a fixed identifier of ours, never input).
    pub async fn connect(database_url: &str, channel: &str) -> anyhow::Result<Self> {
        let (client, mut connection) = tokio_postgres::connect(database_url, NoTls)
            .await
            .with_context(|| format!("connecting the LISTEN {channel} session"))?;
        let (tx, notifications) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        client.batch_execute(&format!("LISTEN {channel}")).await?;
        Ok(Listener {
            _client: client,
            notifications,
            driver: Some(driver),
        })
    }

    /// Waits for the next notification, then drains those already queued: a burst of
    /// inserts is one wake-up, since one claim pass handles them all. `Err` (with why)
    /// once the connection has ended. Cancel-safe while waiting, so it can sit in a
    /// `select!` beside timers.
    pub async fn next(&mut self) -> anyhow::Result<()> {
        if self.notifications.recv().await.is_some() {
            while self.notifications.try_recv().is_ok() {}
            return Ok(());
        }
        let reason = match self.driver.take() {
            Some(driver) => match driver.await {
                Ok(Err(e)) => e.to_string(),
                _ => "connection closed".to_owned(),
            },
            None => "connection closed".to_owned(),
        };
        anyhow::bail!("LISTEN connection ended: {reason}")
    }
}
