//! HTTP composition: every HTTP function's router on one axum app. Lambda binaries hand
//! their part to `lambda_http::run`; `promo serve` and tests serve the whole thing.

use std::net::SocketAddr;

use anyhow::Context;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

#[cfg(feature = "panel-users")]
use crate::app::AdminApi;
use crate::app::App;
use crate::bot::Bot;
use crate::health::Health;

/// Routes of the `telegram-webhook` function.
pub fn webhook_routes(bot: Bot, health: Health) -> Router {
    crate::bot::webhook::router(bot).merge(crate::health::router(health))
}

/// [`webhook_routes`] of the whole [`App`] (`promo serve`, tests).
pub fn webhook_router(app: App) -> Router {
    let health = app.health();
    webhook_routes(app.bot, health)
}

/// Routes of the `admin-api` function: the panel's JSON API under `/api`, and health
/// checks at `/health` and `/api/health` (the path the panel's origin forwards).
#[cfg(feature = "panel-users")]
pub fn admin_router(api: AdminApi) -> Router {
    let health = api.health();
    crate::panel::router(api)
        .merge(crate::health::router(health.clone()))
        .nest("/api", crate::health::router(health))
}

/// One route listed on the index page at `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub method: &'static str,
    pub path: String,
    pub what: String,
}

impl IndexEntry {
    pub fn new(method: &'static str, path: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            what: what.into(),
        }
    }
}

/// Everything the local binary serves on one port, with `/` listing it.
pub fn local_router(app: App) -> Router {
    local_router_with(app, Vec::new())
}

/// [`local_router`] for a caller that merges more routes in (the sandbox): `extra` puts
/// them on the index page too, so `/` lists exactly what this process serves.
pub fn local_router_with(app: App, extra: Vec<IndexEntry>) -> Router {
    let mut entries = vec![
        IndexEntry::new("GET", "/health", "whether Postgres and Redis answer (JSON)"),
        IndexEntry::new(
            "POST",
            crate::bot::webhook::WEBHOOK_PATH,
            "Telegram's updates (needs the X-Telegram-Bot-Api-Secret-Token header)",
        ),
    ];
    #[cfg(feature = "panel-users")]
    entries.extend([
        IndexEntry::new(
            "POST",
            "/api/auth/login",
            "panel sign-in (JSON: login, password)",
        ),
        IndexEntry::new(
            "GET",
            "/api/auth/session",
            "who is signed in, the CSRF token",
        ),
        IndexEntry::new("GET", "/api/admins", "panel users (owner)"),
        IndexEntry::new("GET", "/api/audit", "the audit log (owner, manager)"),
        IndexEntry::new(
            "GET",
            crate::panel::openapi::PAGE_PATH,
            "every panel route described (OpenAPI at /api/openapi.json)",
        ),
    ]);
    entries.extend(extra);
    let page = index_page(&entries);
    let router = webhook_router(app.clone());
    #[cfg(feature = "panel-users")]
    let router = router
        .merge(crate::panel::router(app.admin_api()))
        .nest("/api", crate::health::router(app.health()));
    router
        .route("/", get(move || async move { Html(page) }))
        .fallback(not_found)
        .layer(TraceLayer::new_for_http())
}

async fn not_found() -> Response {
    crate::api_error::ApiError::not_found("not found: GET / lists what this server serves")
        .into_response()
}

fn index_page(entries: &[IndexEntry]) -> String {
    let rows: String = entries
        .iter()
        .map(|entry| {
            let path = escape_html(&entry.path);
            // Only pages a browser can open become links; POST routes are for programs.
            let shown = if entry.method == "GET" {
                format!("<a href=\"{path}\">{path}</a>")
            } else {
                path
            };
            format!(
                "<tr><td>{}</td><td>{shown}</td><td>{}</td></tr>\n",
                entry.method,
                escape_html(&entry.what)
            )
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>promo</title><style>body{{font-family:system-ui,sans-serif;margin:2em;}}\
         td{{padding:4px 12px 4px 0;vertical-align:top}}</style></head><body>\n\
         <h1>promo is running</h1>\n<p>This process serves:</p>\n<table>\n{rows}</table>\n\
         </body></html>\n"
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bound HTTP server; binding first lets callers learn the port (tests bind port 0).
pub struct HttpServer {
    listener: TcpListener,
    router: Router,
}

impl HttpServer {
    /// Binds `addr`; a failure names the address and the variable that sets it, since a
    /// port another program holds is the usual reason.
    pub async fn bind(addr: SocketAddr, router: Router) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (BIND_ADDR): choose a free address with BIND_ADDR, e.g. BIND_ADDR=127.0.0.1:8081")
        })?;
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // The peer address feeds the panel's per-address sign-in limit.
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        Ok(())
    }
}

/// What Lambda's SQS event sources and the bridge VM do in AWS, done in this process: the
/// bridge and one consumer per queue, running the very handlers the Lambdas run, fed by
/// the configured queues (in-process or SQS). They stop when `stopped` turns true.
#[cfg(feature = "qr-decode")]
pub fn spawn_workers(
    app: &App,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    use crate::queue::{run_consumer, QueueName};
    let bridge = app.bridge();
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
                async move { crate::worker::handle_receipt_job(&app, message).await }
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
                async move { crate::worker::handle_campaign_job(&app, message).await }
            },
        )),
    ]
}

/// What an HTTP function serves when it could not start (a missing or invalid setting, an
/// unreachable or unmigrated database): every request gets a 503 naming the problem.
/// Under `cargo lambda watch` the caller sees it at once instead of a request that hangs
/// while the error sits in watch's log; in AWS, API Gateway shows it to whoever tests
/// the endpoint. The problem is logged once here; it never contains a secret's value
/// (settings errors name the variable, connection errors the host).
pub fn startup_failure_router(function: &'static str, problem: &anyhow::Error) -> Router {
    let message = format!("{problem:#}");
    tracing::error!(function, error = %message, "start-up failed; answering every request with 503");
    let error =
        crate::api_error::ApiError::unavailable(format!("{function} could not start: {message}"));
    Router::new().fallback(move || {
        let error = error.clone();
        async move { error.into_response() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn the_index_links_the_pages_and_names_every_route() {
        let page = index_page(&[
            IndexEntry::new("GET", "/health", "health"),
            IndexEntry::new("POST", "/telegram/webhook", "updates"),
            IndexEntry::new("GET", "/sandbox", "chat <with> the bot"),
        ]);
        assert!(page.contains(r#"<a href="/health">/health</a>"#), "{page}");
        assert!(
            page.contains(r#"<a href="/sandbox">/sandbox</a>"#),
            "{page}"
        );
        assert!(page.contains("<td>/telegram/webhook</td>"), "{page}");
        assert!(page.contains("chat &lt;with&gt; the bot"), "{page}");
    }

    #[tokio::test]
    async fn a_function_that_could_not_start_answers_every_request_with_the_problem() {
        use tower::ServiceExt;
        let problem = anyhow::anyhow!("WEBHOOK_SECRET: is required");
        let router = startup_failure_router("telegram-webhook", &problem);
        let request = axum::http::Request::post("/telegram/webhook")
            .body(axum::body::Body::from("{}"))
            .expect("request");
        let Ok(response) = router.oneshot(request).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(body["error"], "unavailable");
        assert_eq!(
            body["message"],
            "telegram-webhook could not start: WEBHOOK_SECRET: is required"
        );
    }
}
