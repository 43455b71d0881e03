//! The telegram-webhook Lambda path: a real API Gateway (HTTP API v2) event, as
//! lambda_http hands it to our router, answered without the Lambda runtime.

use promo_testkit::spawn_app;
use serde_json::Value;
use tower::ServiceExt;

const EVENT: &str = include_str!("../fixtures/apigw_v2_webhook_event.json");

#[tokio::test]
async fn an_api_gateway_event_reaches_the_webhook_router_and_gets_the_reply() {
    let app = spawn_app().await.expect("app");
    let request = lambda_http::request::from_str(EVENT).expect("a valid HTTP API event");
    let response = promo_core::server::webhook_router(app.app.clone())
        .oneshot(request)
        .await
        .expect("router answers");
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let reply: Value = serde_json::from_slice(&body).expect("json reply");
    assert_eq!(reply["method"], "sendMessage");
    assert_eq!(reply["chat_id"], 5005);
}

#[tokio::test]
async fn an_api_gateway_event_with_a_forged_secret_is_refused() {
    let app = spawn_app().await.expect("app");
    let forged = EVENT.replace("\"test-webhook-secret\"", "\"forged\"");
    let request = lambda_http::request::from_str(&forged).expect("a valid HTTP API event");
    let response = promo_core::server::webhook_router(app.app.clone())
        .oneshot(request)
        .await
        .expect("router answers");
    assert_eq!(response.status(), 401);
}
