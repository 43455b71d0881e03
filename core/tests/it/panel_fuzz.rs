//! Every operation of the panel's API, taken from its own OpenAPI document (so a new
//! route is fuzzed the day it is documented), fed random path segments, query strings
//! and JSON bodies by a signed-in owner, with and without the CSRF token: no request a
//! caller can make is answered with a 5xx.

use std::time::Duration;

use promo_testkit::spawn_app;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::COOKIE;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, operator, registered_shopper};

/// Keys the handlers read, so random objects reach the validation behind the parser.
const KEYS: &[&str] = &[
    "text",
    "kind",
    "reason",
    "amount",
    "audience",
    "segment",
    "user_ids",
    "language",
    "name",
    "login",
    "password",
    "role",
    "disabled",
    "scheduled_for",
    "tz",
    "photo",
    "button",
    "url",
    "parse_mode",
    "paid_broadcast",
    "value",
    "time_zone",
    "start_date",
    "end_date",
    "target_keywords",
    "receipt_limit_per_day",
    "required_channel",
    "fraud_burst_uploads",
    "new_password",
    "current_password",
    "callback_data",
    "contact",
    "phone",
    "message_id",
    "title",
    "prizes",
    "quantity",
    "value_rub",
    "window_from",
    "window_to",
    "reserves_per_prize",
    "win_message",
];

/// Operations that end the fuzzing session itself; the auth tests cover them.
const SKIPPED: &[(&str, &str)] = &[("POST", "/api/auth/logout"), ("POST", "/api/auth/password")];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::from),
        Just(Value::from("\u{0}")),
        Just(Value::from("я".repeat(3_000))),
        Just(Value::from("2030-01-01T12:00")),
        Just(Value::from("<b>unclosed")),
        Just(Value::from("{name} {unknown}")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..6).prop_map(|n| n.to_string()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("welcome".to_owned()),
        Just("ru".to_owned()),
        Just("name".to_owned()),
        Just("%00".to_owned()),
        Just("%F0%9F%98%80".to_owned()),
        Just("..".to_owned()),
        "[a-z0-9_%\\-.]{0,16}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    let pair = (
        prop::sample::select(
            &[
                "status",
                "q",
                "limit",
                "before_id",
                "days",
                "tz",
                "from",
                "to",
                "user_id",
                "seller_inn",
                "has_promo",
                "action",
                "admin",
                "target",
                "after",
                "lang",
            ][..],
        ),
        prop_oneof![
            "[a-zA-Z0-9_%\\-:./]{0,20}",
            Just("-5".to_owned()),
            Just("99999999999999999999".to_owned()),
            Just("%00".to_owned()),
            Just("2026-13-45".to_owned()),
        ],
    );
    prop::collection::vec(pair, 0..4).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn body() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        json_value().prop_map(|v| Some(v.to_string())),
        json_value().prop_map(|v| Some(v.to_string())),
        "\\PC{0,60}".prop_map(Some),
        Just(Some("[1,2,3]".to_owned())),
        Just(Some("{\"a\":".to_owned())),
    ]
}

/// Multi-threaded: the server keeps serving while a case blocks this thread on a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_to_any_documented_operation_gets_a_5xx() {
    let app = spawn_app().await.expect("app");
    let owner = operator(&app, "boss", "owner").await;
    // Rows for small random ids to find: shoppers, a campaign, a receipt held for review.
    let shopper = registered_shopper(&app, 8801, "Анна", Some("anna"), "+79990001111").await;
    registered_shopper(&app, 8802, "Борис", None, "+79990002222").await;
    let (status, _) = api(
        &app,
        &owner,
        Method::POST,
        "/api/campaigns",
        Some(json!({"kind": "single_message", "text": "Привет", "audience": {"user_ids": [shopper]}})),
    )
    .await;
    assert_eq!(status, 201);
    let client = app.db().await.expect("db");
    client
        .execute(
            "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                 fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status)
             VALUES ($1, $2, '9999078900001234', 1, 1, 1, '2026-11-30 18:01:00', 50000, 'qr', 3, 'pending')",
            &[&app.app.bot_id, &shopper],
        )
        .await
        .expect("receipt");

    let document: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            let upper = method.to_uppercase();
            if item.get(method).is_some() && !SKIPPED.contains(&(upper.as_str(), path.as_str())) {
                operations.push((upper, path.clone()));
            }
        }
    }
    assert!(operations.len() > 30, "{} operations", operations.len());

    let runtime = tokio::runtime::Handle::current();
    let url = app.url("");
    let case = (
        prop::sample::select(operations),
        prop::collection::vec(segment(), 3),
        query(),
        body(),
        prop::bool::weighted(0.85),
    );
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &case,
        |((method, template), segments, query, body, csrf)| {
            let mut path = template.clone();
            for segment in &segments {
                if let (Some(open), Some(close)) = (path.find('{'), path.find('}')) {
                    path.replace_range(open..=close, segment);
                }
            }
            if !query.is_empty() {
                path = format!("{path}?{query}");
            }
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let status = tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    let mut request = reqwest::Client::new()
                        .request(method.clone(), format!("{url}{path}"))
                        .timeout(Duration::from_secs(20))
                        .header(COOKIE, &owner.cookie);
                    if csrf {
                        request = request.header("X-CSRF-Token", &owner.csrf);
                    }
                    if let Some(body) = body.clone() {
                        request = request
                            .header("content-type", "application/json")
                            .body(body);
                    }
                    request.send().await.map(|r| r.status().as_u16())
                })
            });
            let status =
                status.map_err(|e| TestCaseError::fail(format!("{method} {path}: {e}")))?;
            prop_assert!(status < 500, "{method} {path} {body:?} → {status}");
            Ok(())
        },
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The session survived everything, so the cases above ran signed in.
    let (status, _) = api(&app, &owner, Method::GET, "/api/auth/session", None).await;
    assert_eq!(status, 200);
}
