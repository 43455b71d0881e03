//! HTTP composition: every HTTP function's router on one axum app. Lambda binaries hand
//! their part to `lambda_http::run`; `promo serve` and tests serve the whole thing.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::app::App;

/// Routes of the `telegram-webhook` function.
pub fn webhook_router(app: App) -> Router {
    crate::bot::webhook::router(app.clone()).merge(crate::health::router(app))
}

/// Routes of the `admin-api` function. The panel's endpoints arrive with the admin API
/// issue; until then it answers health checks so the deployment can be verified.
pub fn admin_router(app: App) -> Router {
    crate::health::router(app)
}

/// Everything the local binary serves on one port.
pub fn local_router(app: App) -> Router {
    webhook_router(app).layer(TraceLayer::new_for_http())
}

/// A bound HTTP server; binding first lets callers learn the port (tests bind port 0).
pub struct HttpServer {
    listener: TcpListener,
    router: Router,
}

impl HttpServer {
    pub async fn bind(addr: SocketAddr, router: Router) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

/// What Lambda's SQS event sources and the bridge VM do in AWS, done in this process: the
/// bridge and one consumer per queue, running the very handlers the Lambdas run, fed by
/// the configured queues (in-process or SQS). They stop when `stopped` turns true.
pub fn spawn_workers(
    app: &App,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    use crate::queue::{run_consumer, QueueName};
    let bridge = crate::campaigns::bridge::Bridge {
        database_url: app.settings.database_url.expose().to_owned(),
        pool: app.pool.clone(),
        queue: app.queue.clone(),
    };
    let bridge_stop = stopped.clone();
    let receipts_app = app.clone();
    let campaigns_app = app.clone();
    vec![
        tokio::spawn(async move { bridge.run(bridge_stop).await }),
        tokio::spawn(run_consumer(
            app.queue.clone(),
            QueueName::Receipts,
            4,
            stopped.clone(),
            move |message| {
                let app = receipts_app.clone();
                async move { crate::jobs::handle_receipt_job(&app, message).await }
            },
        )),
        // Several campaigns run side by side, so a single message never waits behind a
        // long broadcast.
        tokio::spawn(run_consumer(
            app.queue.clone(),
            QueueName::Campaigns,
            4,
            stopped,
            move |message| {
                let app = campaigns_app.clone();
                async move { crate::jobs::handle_campaign_job(&app, message).await }
            },
        )),
    ]
}
