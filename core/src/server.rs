//! HTTP composition: every HTTP function's router on one axum app. Lambda binaries hand
//! their part to `lambda_http::run`; `promo serve` and tests serve the whole thing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, Method};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};
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

/// One route listed on the route listing (`/routes`).
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

/// Where the route listing is; also at `/` while no panel is built.
pub const ROUTES_PATH: &str = "/routes";

/// The built panel of `PANEL_DIR`, when that folder holds one (an `index.html`).
pub fn panel_bundle(settings: &crate::config::Settings) -> Option<PathBuf> {
    settings
        .panel_dir
        .as_ref()
        .filter(|dir| dir.join("index.html").is_file())
        .cloned()
}

/// Everything the local binary serves on one port: the panel at `/` when it is built,
/// the route listing at `/routes`.
pub fn local_router(app: App) -> Router {
    local_router_with(app, Vec::new())
}

/// [`local_router`] for a caller that merges more routes in (the sandbox): `extra` puts
/// them on the route listing too, so it lists exactly what this process serves.
pub fn local_router_with(app: App, extra: Vec<IndexEntry>) -> Router {
    let panel = panel_bundle(&app.settings);
    if panel.is_none() {
        if let Some(dir) = &app.settings.panel_dir {
            tracing::warn!(
                dir = %dir.display(),
                "PANEL_DIR has no index.html; build the panel with infra/scripts/build-ui.sh"
            );
        }
    }
    let mut entries = Vec::new();
    if panel.is_some() {
        entries.push(IndexEntry::new("GET", "/", "the operators' panel"));
    }
    entries.extend([
        IndexEntry::new("GET", ROUTES_PATH, "this list of routes"),
        IndexEntry::new("GET", "/health", "whether Postgres and Redis answer (JSON)"),
        IndexEntry::new(
            "POST",
            crate::bot::webhook::WEBHOOK_PATH,
            "Telegram's updates (needs the X-Telegram-Bot-Api-Secret-Token header)",
        ),
    ]);
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
    let page = index_page(&entries, panel.is_none());
    let router = webhook_router(app.clone());
    #[cfg(feature = "panel-users")]
    let router = router
        .merge(crate::panel::router(app.admin_api()))
        .nest("/api", crate::health::router(app.health()));
    let listing = page.clone();
    let router = router.route(ROUTES_PATH, get(move || async move { Html(listing) }));
    let router = match panel {
        Some(dir) => with_panel(router, &dir),
        None => router
            .route("/", get(move || async move { Html(page) }))
            .fallback(not_found),
    };
    router.layer(TraceLayer::new_for_http())
}

/// `router` with the panel of `dir` behind it: a GET of a path no route serves gets the
/// file of that name under `dir`, or else `index.html`, so that the panel's own routes
/// (`/users/5`) load on a reload too. Paths of the server's own areas keep their JSON
/// 404, so a mistyped API path never answers with a page. `ServeDir` refuses `..` and
/// any path that leaves `dir`, before and after percent-decoding.
fn with_panel(router: Router, dir: &Path) -> Router {
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(dir.join("index.html")));
    router.fallback(move |request: Request| {
        let mut files = files.clone();
        async move {
            let method = request.method();
            if !(method == Method::GET || method == Method::HEAD)
                || !is_panel_path(request.uri().path())
            {
                return not_found().await;
            }
            let mut response = match files.try_call(request).await {
                Ok(response) => response.map(Body::new),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the panel bundle");
                    return crate::api_error::ApiError::unavailable(
                        "the panel bundle cannot be read",
                    )
                    .into_response();
                }
            };
            // A rebuilt bundle keeps its file names: the browser must ask every time
            // (a 304 when unchanged, since ServeDir answers If-Modified-Since).
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
    })
}

/// Whether a path no route serves is the panel's (a file of the bundle or a route of
/// the app) rather than the server's own area.
fn is_panel_path(path: &str) -> bool {
    let own = |area: &str| {
        path.strip_prefix(area)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    !(own("/api") || own("/telegram") || own("/health") || path.starts_with("/sandbox"))
}

async fn not_found() -> Response {
    crate::api_error::ApiError::not_found("not found: GET /routes lists what this server serves")
        .into_response()
}

fn index_page(entries: &[IndexEntry], panel_missing: bool) -> String {
    let panel = if panel_missing {
        "<p>The operators' panel is not built: run <code>infra/scripts/build-ui.sh</code> and \
         start again with <code>PANEL_DIR=admin-ui/dist</code> (<code>infra/scripts/run.sh</code> \
         does both).</p>\n"
    } else {
        ""
    };
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
         <h1>promo is running</h1>\n{panel}<p>This process serves:</p>\n<table>\n{rows}</table>\n\
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
    use axum::http::header::CONTENT_TYPE;
    use axum::http::StatusCode;

    #[test]
    fn the_index_links_the_pages_and_names_every_route() {
        let page = index_page(
            &[
                IndexEntry::new("GET", "/health", "health"),
                IndexEntry::new("POST", "/telegram/webhook", "updates"),
                IndexEntry::new("GET", "/sandbox", "chat <with> the bot"),
            ],
            false,
        );
        assert!(page.contains(r#"<a href="/health">/health</a>"#), "{page}");
        assert!(
            page.contains(r#"<a href="/sandbox">/sandbox</a>"#),
            "{page}"
        );
        assert!(page.contains("<td>/telegram/webhook</td>"), "{page}");
        assert!(page.contains("chat &lt;with&gt; the bot"), "{page}");
    }

    #[test]
    fn without_a_panel_the_listing_says_how_to_build_it() {
        let entries = [IndexEntry::new("GET", "/health", "health")];
        assert!(index_page(&entries, true).contains("infra/scripts/build-ui.sh"));
        assert!(!index_page(&entries, false).contains("build-ui.sh"));
    }

    /// A bundle in a folder of its own, beside a file that must never be served.
    fn bundle() -> PathBuf {
        let root = std::env::temp_dir().join(format!("promo-panel-{}", uuid::Uuid::new_v4()));
        let dist = root.join("dist");
        std::fs::create_dir_all(dist.join("pkg")).expect("dist");
        std::fs::write(root.join("secret.txt"), "SECRET-OUTSIDE").expect("secret");
        std::fs::write(dist.join("index.html"), "<!doctype html><p>PANEL-INDEX").expect("index");
        std::fs::write(dist.join("style.css"), "body{}").expect("css");
        std::fs::write(dist.join("pkg/app.js"), "export default 1;").expect("js");
        std::fs::write(dist.join("pkg/app_bg.wasm"), b"\0asm\x01\0\0\0").expect("wasm");
        dist
    }

    async fn fetch(
        router: &Router,
        method: Method,
        uri: &str,
    ) -> (StatusCode, String, String, String) {
        use tower::ServiceExt;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let Ok(response) = router.clone().oneshot(request).await;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, cache) = (header(CONTENT_TYPE), header(CACHE_CONTROL));
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            content_type,
            cache,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    fn panel_router(dist: &Path) -> Router {
        let api = Router::new().route("/api/known", get(|| async { "known" }));
        with_panel(api, dist)
    }

    #[tokio::test]
    async fn the_panel_is_served_with_its_content_types_and_no_cache() {
        let dist = bundle();
        let router = panel_router(&dist);
        for (uri, expected_type, body) in [
            ("/", "text/html", "PANEL-INDEX"),
            ("/index.html", "text/html", "PANEL-INDEX"),
            ("/style.css", "text/css", "body{}"),
            ("/pkg/app.js", "javascript", "export default"),
            ("/pkg/app_bg.wasm", "application/wasm", "asm"),
        ] {
            let (status, content_type, cache, text) = fetch(&router, Method::GET, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert!(
                content_type.contains(expected_type),
                "{uri}: {content_type}"
            );
            assert_eq!(cache, "no-cache", "{uri}");
            assert!(text.contains(body), "{uri}: {text}");
        }
        let (status, _, _, text) = fetch(&router, Method::HEAD, "/pkg/app_bg.wasm").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.is_empty(), "{text}");
        let _ = std::fs::remove_dir_all(dist.parent().expect("root"));
    }

    #[tokio::test]
    async fn the_panels_own_routes_reload_as_its_index_and_the_servers_areas_keep_their_404() {
        let dist = bundle();
        let router = panel_router(&dist);
        for uri in [
            "/users/5",
            "/raffles/3/winners",
            "/login?next=%2Fusers",
            "/pkg/missing.js",
        ] {
            let (status, content_type, _, text) = fetch(&router, Method::GET, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert!(content_type.contains("text/html"), "{uri}: {content_type}");
            assert!(text.contains("PANEL-INDEX"), "{uri}: {text}");
        }
        let (status, _, _, text) = fetch(&router, Method::GET, "/api/known").await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "known"));
        for (method, uri) in [
            (Method::GET, "/api"),
            (Method::GET, "/api/nope"),
            (Method::GET, "/telegram/other"),
            (Method::GET, "/health/deep"),
            (Method::GET, "/sandbox/nope"),
            (Method::GET, "/sandboxes"),
            (Method::POST, "/users/5"),
            (Method::DELETE, "/"),
        ] {
            let (status, content_type, _, text) = fetch(&router, method.clone(), uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert!(content_type.contains("application/json"), "{method} {uri}");
            assert!(text.contains("/routes"), "{method} {uri}: {text}");
        }
        // Only whole path segments are the server's: the panel may have an /apis page.
        let (_, _, _, text) = fetch(&router, Method::GET, "/apis").await;
        assert!(text.contains("PANEL-INDEX"), "{text}");
        let _ = std::fs::remove_dir_all(dist.parent().expect("root"));
    }

    #[tokio::test]
    async fn no_path_reaches_a_file_outside_the_panels_folder() {
        let dist = bundle();
        let router = panel_router(&dist);
        let outside = dist.parent().expect("root").join("secret.txt");
        let absolute = outside.display().to_string();
        let encoded_absolute = absolute.replace('/', "%2F");
        for uri in [
            "/../secret.txt".to_owned(),
            "/pkg/../../secret.txt".to_owned(),
            "/%2e%2e/secret.txt".to_owned(),
            "/%2E%2E%2Fsecret.txt".to_owned(),
            "/pkg/..%2f..%2fsecret.txt".to_owned(),
            "/..%5csecret.txt".to_owned(),
            "/pkg/%2e%2e%5c%2e%2e%5csecret.txt".to_owned(),
            "/.%2e/secret.txt".to_owned(),
            format!("/{encoded_absolute}"),
            format!("/{absolute}"),
            "//etc/passwd".to_owned(),
            "/%2Fetc%2Fpasswd".to_owned(),
            "/..%00/secret.txt".to_owned(),
        ] {
            let (status, _, _, text) = fetch(&router, Method::GET, &uri).await;
            assert!(
                !text.contains("SECRET-OUTSIDE"),
                "{uri} served the outside file"
            );
            assert!(!text.contains("root:"), "{uri} served /etc/passwd");
            assert!(
                status == StatusCode::OK && text.contains("PANEL-INDEX")
                    || status.is_client_error(),
                "{uri}: {status} {text}"
            );
        }
        let _ = std::fs::remove_dir_all(dist.parent().expect("root"));
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
