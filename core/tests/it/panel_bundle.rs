//! The built panel served by the local stack (`PANEL_DIR`): at `/` when built, the route
//! listing at `/routes` (and at `/` with a line on how to build the panel when not).

use std::io::{Read, Write};
use std::path::PathBuf;

use promo_testkit::{spawn_app, spawn_app_with, TestConfig};

/// A bundle folder beside a file that must never be served.
fn bundle() -> PathBuf {
    let root = std::env::temp_dir().join(format!("promo-bundle-{}", uuid::Uuid::new_v4()));
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("pkg")).expect("dist");
    std::fs::write(root.join("secret.txt"), "SECRET-OUTSIDE").expect("secret");
    std::fs::write(dist.join("index.html"), "<!doctype html><p>PANEL-INDEX").expect("index");
    std::fs::write(dist.join("pkg/promo_admin_ui_bg.wasm"), b"\0asm\x01\0\0\0").expect("wasm");
    dist
}

/// A request as bytes on the wire, so that no client tidies the path first.
fn raw_get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[tokio::test]
async fn without_a_built_panel_the_root_lists_the_routes_and_says_how_to_build_it() {
    let app = spawn_app().await.expect("app");
    for path in ["/", "/routes"] {
        let response = reqwest::get(app.url(path)).await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let page = response.text().await.expect("page");
        assert!(page.contains("This process serves"), "{path}: {page}");
        assert!(page.contains("/api/auth/login"), "{path}: {page}");
    }
    let page = reqwest::get(app.url("/"))
        .await
        .expect("get")
        .text()
        .await
        .expect("page");
    assert!(page.contains("infra/scripts/build-ui.sh"), "{page}");
    let response = reqwest::get(app.url("/users/5")).await.expect("get");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_built_panel_is_served_at_the_root_and_reloads_on_its_own_routes() {
    let dist = bundle();
    let app = spawn_app_with(TestConfig::default().with("PANEL_DIR", &dist.display().to_string()))
        .await
        .expect("app");
    for path in ["/", "/users/5", "/raffles/2/winners?tab=reserves"] {
        let response = reqwest::get(app.url(path)).await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            response.text().await.expect("body").contains("PANEL-INDEX"),
            "{path}"
        );
    }
    let wasm = reqwest::get(app.url("/pkg/promo_admin_ui_bg.wasm"))
        .await
        .expect("get");
    assert_eq!(wasm.headers()["content-type"], "application/wasm");

    let routes = reqwest::get(app.url("/routes"))
        .await
        .expect("get")
        .text()
        .await
        .expect("page");
    assert!(routes.contains("the operators' panel"), "{routes}");
    assert!(!routes.contains("build-ui.sh"), "{routes}");

    // The API's unknown paths stay JSON 404s; its known ones still answer.
    let response = reqwest::get(app.url("/api/no-such-thing"))
        .await
        .expect("get");
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "not_found", "{body}");
    let health = reqwest::get(app.url("/health")).await.expect("get");
    assert_eq!(health.status(), 200);

    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/pkg/..%2f..%2fsecret.txt",
    ] {
        // Off the runtime's thread: the server answering it runs on that thread.
        let address = app.address;
        let answer = tokio::task::spawn_blocking(move || raw_get(address, path))
            .await
            .expect("raw GET");
        assert!(!answer.contains("SECRET-OUTSIDE"), "{path}: {answer}");
    }
    let _ = std::fs::remove_dir_all(dist.parent().expect("root"));
}
