//! The panel API's OpenAPI document and docs page, through HTTP: the document is
//! OpenAPI 3 JSON; every documented operation is one the router answers, and every route
//! the panel's routers declare is documented; every operation has a summary, a success
//! and an `ApiError` answer; what the API really answers fits the documented schemas;
//! `/api/docs` is a self-contained page naming every path and schema. Both are public.

use std::collections::BTreeSet;

use promo_testkit::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{api, operator, Operator};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let response = reqwest::get(app.url("/api/openapi.json"))
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200, "public, no session needed");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.expect("the document is JSON")
}

/// Every (METHOD, path) the document describes.
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    found
}

/// A concrete path for a template: ids that exist nowhere, a real text key.
fn concrete(path: &str) -> String {
    path.replace("{id}", "987654321")
        .replace("{winner_id}", "987654321")
        .replace("{key}", "welcome")
        .replace("{lang}", "ru")
}

#[tokio::test]
async fn the_document_is_openapi_3_json_that_needs_no_session() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(document["info"]["title"].is_string());
    assert!(
        operations(&document).len() >= 30,
        "{}",
        operations(&document).len()
    );
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "__Host-promo_session");
    assert_eq!(schemes["csrf"]["in"], "header");
}

#[tokio::test]
async fn every_documented_operation_is_answered_by_the_router_and_guarded_as_documented() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let client = reqwest::Client::new();
    for (method, path, operation) in operations(&document) {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let response = client
            .request(method.clone(), app.url(&concrete(&path)))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        // 405 is a path served for another method; the server's fallback 404 points at
        // its index page; neither is the route described.
        assert_ne!(status, 405, "{method} {path} is not served for this method");
        assert!(
            !(status == 404 && body["message"].as_str().unwrap_or("").contains("GET /")),
            "{method} {path} is not served: {body}"
        );
        let public = operation["security"] == serde_json::json!([{}]);
        if public {
            // Sign-in without a body: refused as input, never a 5xx.
            assert!((400..500).contains(&status), "{method} {path}: {status}");
        } else {
            assert_eq!(status, 401, "{method} {path} without a session: {body}");
            assert_eq!(body["error"], "unauthorized", "{method} {path}");
        }
    }
}

/// `(METHOD, path)` of every `.route(...)` in the `routes()` of each panel module, read
/// from the source: axum cannot list a router's routes, and this way a route added
/// without its `#[utoipa::path]` fails here, not in a reader's hands.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/panel");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("src/panel") {
        let path = entry.expect("entry").path();
        // openapi.rs serves the document itself, which does not describe itself.
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("openapi.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("source");
        let Some(start) = source.find("fn routes()") else {
            continue;
        };
        let body = &source[start..];
        let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
        for call in body.split(".route(").skip(1) {
            let route = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|rest| rest.split_once('"'))
                .map(|(route, _)| route.to_owned())
                .unwrap_or_else(|| panic!("a route in {} is not a literal", path.display()));
            for method in METHODS {
                // `get(list)`, `.post(create)`, `post(|api, ..| ...)`: a method router
                // is the word right before a parenthesis, after a space, `(` or `.`.
                let needle = format!("{method}(");
                let mut rest = call;
                while let Some(at) = rest.find(&needle) {
                    let before = rest[..at].chars().last();
                    if matches!(before, Some(' ' | '\n' | '(' | '.')) {
                        routes.insert((method.to_uppercase(), route.clone()));
                        break;
                    }
                    rest = &rest[at + needle.len()..];
                }
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_the_panel_declares_is_documented_and_nothing_else() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let declared = declared_routes();
    assert!(declared.len() >= 30, "{declared:?}");
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&declared).collect();
    assert!(
        unserved.is_empty(),
        "documented but not declared: {unserved:?}"
    );
}

#[tokio::test]
async fn every_operation_has_a_summary_a_success_and_an_api_error_answer() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let error = &document["components"]["schemas"]["ApiError"];
    assert_eq!(error["required"], serde_json::json!(["error", "message"]));
    assert!(error["properties"]["field"].is_object());
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let at = format!("{method} {path}");
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(summary.len() > 10, "{at} has no summary");
        assert!(operation["tags"][0].is_string(), "{at} has no tag");
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(ids.insert(id.to_owned()), "{at}: operationId {id} twice");
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            ["200", "201", "202", "204"]
                .iter()
                .any(|s| responses.contains_key(*s)),
            "{at} has no success answer"
        );
        let api_errors: Vec<&String> = responses
            .iter()
            .filter(|(status, response)| {
                status.starts_with('4')
                    && response["content"]["application/json"]["schema"]["$ref"]
                        == "#/components/schemas/ApiError"
            })
            .map(|(status, _)| status)
            .collect();
        assert!(!api_errors.is_empty(), "{at} has no 4xx ApiError answer");
        if path.contains('{') {
            let names: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                assert!(names.contains(&name), "{at} does not describe {{{name}}}");
            }
        }
        if operation["requestBody"].is_object() {
            assert!(
                responses.contains_key("422"),
                "{at}: a body's 422 is missing"
            );
        }
    }
}

/// Whether `value` fits `schema` (the subset utoipa writes: `$ref`, `type` (one or a
/// list, for nullable), `properties` with `required`, `items`, `oneOf`); the path of the
/// first misfit otherwise.
fn fits(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return fits(
            document,
            &document["components"]["schemas"][name],
            value,
            at,
        );
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        return if choices.iter().any(|c| fits(document, c, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: {value} fits none of {schema}"))
        };
    }
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        // `{}`: any JSON (a `serde_json::Value` field).
        _ => return Ok(()),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits_kind = kinds.contains(&kind) || (kind == "integer" && kinds.contains(&"number"));
    if !fits_kind {
        return Err(format!("{at}: {kind} where the schema says {kinds:?}"));
    }
    if let Value::Object(fields) = value {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                return Err(format!("{at}: the required field {name} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in fields {
            let property = properties
                .and_then(|p| p.get(name))
                .ok_or_else(|| format!("{at}: the field {name} is not documented"))?;
            fits(document, property, field, &format!("{at}.{name}"))?;
        }
    }
    if let Value::Array(items) = value {
        for (i, item) in items.iter().enumerate() {
            fits(document, &schema["items"], item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

async fn answer_fits(
    app: &TestApp,
    document: &Value,
    who: &Operator,
    path: &str,
    template: &str,
    status: u16,
) {
    let (got, body) = api(app, who, Method::GET, path, None).await;
    assert_eq!(got, status, "GET {path}: {body}");
    let schema = &document["paths"][template]["get"]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "GET {template} documents no {status} body"
    );
    if let Err(misfit) = fits(document, schema, &body, path) {
        panic!("GET {path} answers what its schema does not say: {misfit}");
    }
}

#[tokio::test]
async fn what_the_api_answers_fits_the_documented_schemas() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let owner = operator(&app, "olga", "owner").await;
    for path in [
        "/api/auth/session",
        "/api/admins",
        "/api/audit",
        "/api/dashboard",
        "/api/users",
        "/api/receipts",
        "/api/receipts/sellers",
        "/api/campaigns",
        "/api/failed-work",
        "/api/texts",
    ] {
        answer_fits(&app, &document, &owner, path, path, 200).await;
    }
    // The errors are the documented ApiError too.
    answer_fits(
        &app,
        &document,
        &owner,
        "/api/users/987654321",
        "/api/users/{id}",
        404,
    )
    .await;
    answer_fits(
        &app,
        &document,
        &owner,
        "/api/users?limit=0",
        "/api/users",
        400,
    )
    .await;
    // The document's own check is not vacuous: a wrong shape is caught.
    let audit_schema = &document["paths"]["/api/audit"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    let wrong = serde_json::json!({"entries": [{"id": "one"}], "next_before_id": null});
    assert!(fits(&document, audit_schema, &wrong, "audit").is_err());
}

#[tokio::test]
async fn the_docs_page_is_self_contained_html_naming_every_path_and_schema() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let response = reqwest::get(app.url("/api/docs")).await.expect("request");
    assert_eq!(response.status().as_u16(), 200, "public, no session needed");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert!(header("content-security-policy").contains("default-src 'none'"));
    let page = response.text().await.expect("page");
    assert!(page.starts_with("<!doctype html>"));
    assert!(!page.contains("<script"), "no script");
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "nothing from elsewhere"
    );
    for (method, path, operation) in operations(&document) {
        assert!(
            page.contains(&format!("<code class=\"path\">{path}</code>")),
            "{path}"
        );
        assert!(
            page.contains(&format!(
                "<span class=\"method {}\">{method}</span> <code class=\"path\">{path}</code>",
                method.to_lowercase()
            )),
            "{method} {path}"
        );
        let summary = operation["summary"].as_str().unwrap_or_default();
        // Summaries are escaped on the page; compare a stretch without special characters.
        let plain: String = summary
            .chars()
            .take_while(|c| !"&<>\"'`".contains(*c))
            .collect();
        assert!(page.contains(&plain), "{method} {path}: {plain}");
    }
    for name in document["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
    {
        assert!(
            page.contains(&format!("id=\"schema-{name}\"")),
            "schema {name}"
        );
    }
}

/// The least body that `schema` accepts: every required field, each of its type.
fn least_body(document: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return least_body(document, &document["components"]["schemas"][name]);
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.as_str(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ => "null",
    };
    match kind {
        "string" => Value::from("x"),
        "integer" | "number" => Value::from(1),
        "boolean" => Value::from(false),
        "array" => Value::Array(Vec::new()),
        "object" => {
            let mut fields = serde_json::Map::new();
            for name in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                fields.insert(
                    name.to_owned(),
                    least_body(document, &schema["properties"][name]),
                );
            }
            Value::Object(fields)
        }
        _ => Value::Null,
    }
}

#[tokio::test]
async fn a_viewer_is_refused_exactly_the_operations_documented_for_a_higher_role() {
    let app = spawn_app().await.expect("app");
    let document = document(&app).await;
    let viewer = operator(&app, "vera", "viewer").await;
    let mut refused = 0;
    for (method, path, operation) in operations(&document) {
        let role = operation["x-role"].as_str().unwrap_or_default();
        // Sign-in needs none; signing out or changing the password would end this
        // viewer's session, and "any" role is never refused anyway.
        if operation["security"] == serde_json::json!([{}]) || role == "any" {
            continue;
        }
        assert!(
            ["viewer", "manager", "owner"].contains(&role),
            "{method} {path}: x-role {role:?}"
        );
        let body = operation["requestBody"]["content"]["application/json"]["schema"]
            .as_object()
            .map(|schema| least_body(&document, &Value::Object(schema.clone())));
        let (status, answer) = api(
            &app,
            &viewer,
            Method::from_bytes(method.as_bytes()).expect("method"),
            &concrete(&path),
            body,
        )
        .await;
        if role == "viewer" {
            assert_ne!(
                status, 403,
                "{method} {path} is documented for a viewer: {answer}"
            );
            assert!(status < 500, "{method} {path}: {status} {answer}");
        } else {
            refused += 1;
            assert_eq!(status, 403, "{method} {path} needs {role}: {answer}");
            assert_eq!(answer["error"], "forbidden", "{method} {path}: {answer}");
            let documented = operation["responses"]["403"]["description"]
                .as_str()
                .unwrap_or_default();
            assert!(documented.contains("only"), "{method} {path}: {documented}");
        }
    }
    assert!(refused >= 15, "{refused}");
}
