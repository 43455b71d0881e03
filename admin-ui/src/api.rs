//! The one door to the admin API: every request goes through here, so each carries the
//! session cookie (same origin), the CSRF header on state-changing methods, and comes
//! back as a typed value or a [`Failure`] built from the API's error body.

use std::cell::RefCell;
use std::fmt;

use promo_api_types::panel::SessionInfo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

use crate::state::state;

thread_local! {
    static CSRF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Remembers the session's CSRF token and the session itself.
pub fn adopt_session(session: Option<SessionInfo>) {
    CSRF.with(|csrf| {
        *csrf.borrow_mut() = session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default()
    });
    leptos::prelude::Set::set(&state().session, Some(session));
}

/// Why a request did not give what was asked: the API's own answer (`status` > 0) or a
/// network failure (`status` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    /// The API's stable code (`bad_request`, `locked`, `forbidden`, ...), or `network`.
    pub code: String,
    pub message: String,
    /// The request field at fault, when the API named one.
    pub field: Option<String>,
}

impl Failure {
    fn network(what: JsValue) -> Self {
        let message = what
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| "the server could not be reached".to_owned());
        Failure {
            status: 0,
            code: "network".to_owned(),
            message,
            field: None,
        }
    }

    fn unreadable(status: u16) -> Self {
        Failure {
            status,
            code: "unreadable".to_owned(),
            message: format!("the server answered {status} with something unexpected"),
            field: None,
        }
    }

    /// A failure found before sending (a form check), shown like the API's own.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Failure {
            status: 400,
            code: "bad_request".to_owned(),
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    pub fn is_field(&self, field: &str) -> bool {
        self.field.as_deref() == Some(field)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Answer<T> = Result<T, Failure>;

fn changes_state(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD")
}

/// One request; `body` is sent as it is with `content_type`.
pub async fn raw(
    method: &str,
    path: &str,
    body: Option<JsValue>,
    content_type: Option<&str>,
) -> Answer<Response> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(body) = &body {
        init.set_body(body);
    }
    let request = Request::new_with_str_and_init(path, &init).map_err(Failure::network)?;
    let headers = request.headers();
    let _ = headers.set("Accept", "application/json");
    if let Some(content_type) = content_type {
        let _ = headers.set("Content-Type", content_type);
    }
    if changes_state(method) {
        let token = CSRF.with(|csrf| csrf.borrow().clone());
        let _ = headers.set("X-CSRF-Token", &token);
    }
    let window = web_sys::window().ok_or_else(|| Failure::network(JsValue::NULL))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(Failure::network)?
        .unchecked_into();
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let text = text_of(&response).await.unwrap_or_default();
    let failure = match serde_json::from_str::<promo_api_types::ApiError>(&text) {
        Ok(error) => Failure {
            status,
            code: error.error,
            message: error.message,
            field: error.field,
        },
        Err(_) => Failure::unreadable(status),
    };
    // A session that ended (expired, signed out elsewhere) sends the operator to the
    // login page; the sign-in call itself reports its own 401.
    if status == 401 && path != "/api/auth/login" && path != "/api/auth/session" {
        adopt_session(None);
    }
    Err(failure)
}

async fn text_of(response: &Response) -> Answer<String> {
    let promise = response.text().map_err(Failure::network)?;
    let text = JsFuture::from(promise).await.map_err(Failure::network)?;
    Ok(text.as_string().unwrap_or_default())
}

async fn decode<T: DeserializeOwned>(response: Response) -> Answer<T> {
    let status = response.status();
    let text = text_of(&response).await?;
    let text = if text.trim().is_empty() {
        "null"
    } else {
        &text
    };
    serde_json::from_str(text).map_err(|_| Failure::unreadable(status))
}

async fn json_request<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Answer<T> {
    let body = match body {
        Some(body) => Some(JsValue::from_str(
            &serde_json::to_string(body).map_err(|e| Failure::invalid("body", e.to_string()))?,
        )),
        None => None,
    };
    let content_type = body.as_ref().map(|_| "application/json");
    decode(raw(method, path, body, content_type).await?).await
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Answer<T> {
    json_request::<(), T>("GET", path, None).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Answer<T> {
    json_request("POST", path, Some(body)).await
}

/// A POST without a body (approve, retry, cancel, ...).
pub async fn post_empty<T: DeserializeOwned>(path: &str) -> Answer<T> {
    json_request::<(), T>("POST", path, None).await
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Answer<T> {
    json_request("PATCH", path, Some(body)).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Answer<T> {
    json_request("PUT", path, Some(body)).await
}

pub async fn delete<T: DeserializeOwned>(path: &str) -> Answer<T> {
    json_request::<(), T>("DELETE", path, None).await
}

/// Sends a file the operator picked as the request body, typed by the browser.
pub async fn upload_file<T: DeserializeOwned>(path: &str, file: &web_sys::File) -> Answer<T> {
    let kind = file.type_();
    let content_type = if kind.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        kind
    };
    decode(raw("POST", path, Some(file.clone().into()), Some(&content_type)).await?).await
}

/// `?a=1&b=x` from pairs, skipping empty values and escaping the rest.
pub fn query(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", String::from(js_sys::encode_uri_component(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
