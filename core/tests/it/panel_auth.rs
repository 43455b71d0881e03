//! The panel's sign-in, sessions, CSRF, lockout, roles and admin management, through
//! HTTP against the local server (real Postgres and Redis).

use std::time::Duration;

use promo_testkit::{spawn_app, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

const OWNER_PASSWORD: &str = "owner password 1234";

/// One browser: its session cookie and CSRF token, kept by hand because reqwest's
/// cookie store would not send a `Secure` cookie over plain http.
#[derive(Default, Clone)]
struct Browser {
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Answer {
    status: u16,
    body: Value,
    set_cookie: Option<String>,
}

async fn request(
    app: &TestApp,
    browser: &mut Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
    with_csrf: bool,
) -> Answer {
    let mut request = reqwest::Client::new().request(method, app.url(path));
    if let Some(cookie) = &browser.cookie {
        request = request.header(COOKIE, format!("__Host-promo_session={cookie}"));
    }
    if with_csrf {
        if let Some(csrf) = &browser.csrf {
            request = request.header("X-CSRF-Token", csrf);
        }
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if let Some(header) = &set_cookie {
        let value = header
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        browser.cookie = (!value.is_empty()).then_some(value);
    }
    if let Some(csrf) = body.get("csrf_token").and_then(Value::as_str) {
        browser.csrf = Some(csrf.to_owned());
    }
    Answer {
        status,
        body,
        set_cookie,
    }
}

async fn sign_in(app: &TestApp, login: &str, password: &str) -> (Browser, Answer) {
    let mut browser = Browser::default();
    let answer = request(
        app,
        &mut browser,
        Method::POST,
        "/api/auth/login",
        Some(json!({"login": login, "password": password})),
        false,
    )
    .await;
    (browser, answer)
}

async fn user(app: &TestApp, login: &str, password: &str, role: &str) {
    promo_core::admin::create_admin_user(
        &app.app.pool,
        app.app.bot_id,
        login,
        password,
        role,
        None,
        false,
    )
    .await
    .expect("panel user");
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(sql, &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn signing_in_sets_a_host_only_secure_http_only_strict_cookie_and_answers_who_and_the_csrf_token(
) {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (mut browser, answer) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.set_cookie.expect("a session cookie");
    assert!(cookie.starts_with("__Host-promo_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert_eq!(answer.body["admin"]["login"], "boss");
    assert_eq!(answer.body["admin"]["role"], "owner");
    assert!(answer.body["csrf_token"]
        .as_str()
        .is_some_and(|t| t.len() >= 40));

    // Only the token's hash is stored.
    let token = browser.cookie.clone().expect("token");
    let stored = count(
        &app,
        &format!(
            "SELECT count(*) FROM admin_sessions
             WHERE token_hash = sha256('{token}'::bytea) AND revoked_at IS NULL"
        ),
    )
    .await;
    assert_eq!(stored, 1);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM admin_sessions WHERE token_hash::text LIKE '%{token}%'")
        )
        .await,
        0
    );

    let me = request(
        &app,
        &mut browser,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["admin"]["login"], "boss");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'admin.login' AND actor = 'panel:boss'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_answer_and_open_no_session() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (_, wrong_password) = sign_in(&app, "boss", "not the password at all").await;
    let (_, unknown_login) = sign_in(&app, "nobody", OWNER_PASSWORD).await;
    for answer in [&wrong_password, &unknown_login] {
        assert_eq!(answer.status, 401);
        assert_eq!(answer.body["error"], "invalid_credentials");
        assert_eq!(answer.body["message"], "wrong login or password");
        assert!(answer.set_cookie.is_none());
    }
    assert_eq!(count(&app, "SELECT count(*) FROM admin_sessions").await, 0);
}

#[tokio::test]
async fn five_failures_lock_a_login_even_for_the_right_password_and_unknown_logins_alike() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    for login in ["boss", "ghost"] {
        for attempt in 0..5 {
            let (_, answer) = sign_in(&app, login, &format!("wrong password {attempt}")).await;
            assert_eq!(answer.status, 401, "{login} attempt {attempt}");
        }
        let (_, locked) = sign_in(&app, login, OWNER_PASSWORD).await;
        assert_eq!(locked.status, 429, "{login}: {}", locked.body);
        assert_eq!(locked.body["error"], "locked");
        assert!(locked.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("15 min"));
    }
    // The lock ends 15 minutes after the last failure.
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE admin_login_failures SET failed_at = failed_at - interval '16 minutes'",
            &[],
        )
        .await
        .expect("age the failures");
    let (_, answer) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn twenty_failures_from_one_address_lock_that_address_for_every_login() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    for attempt in 0..20 {
        let (_, answer) = sign_in(&app, &format!("guess{attempt}"), "some password here").await;
        assert_eq!(answer.status, 401);
    }
    let (_, locked) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
}

#[tokio::test]
async fn a_state_changing_request_needs_the_sessions_csrf_token() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (mut browser, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let without = request(
        &app,
        &mut browser,
        Method::POST,
        "/api/auth/logout",
        None,
        false,
    )
    .await;
    assert_eq!(without.status, 403);
    assert_eq!(without.body["error"], "csrf");
    let mut forged = browser.clone();
    forged.csrf = Some("A".repeat(43));
    let wrong = request(
        &app,
        &mut forged,
        Method::POST,
        "/api/auth/logout",
        None,
        true,
    )
    .await;
    assert_eq!(wrong.status, 403);
    // Another session's token does not fit this one either.
    let (other, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let mut mixed = browser.clone();
    mixed.csrf = other.csrf.clone();
    let mixed_answer = request(
        &app,
        &mut mixed,
        Method::POST,
        "/api/auth/logout",
        None,
        true,
    )
    .await;
    assert_eq!(mixed_answer.status, 403);

    let still = request(
        &app,
        &mut browser,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(still.status, 200, "refused requests changed nothing");
    let kept_cookie = browser.cookie.clone();
    let out = request(
        &app,
        &mut browser,
        Method::POST,
        "/api/auth/logout",
        None,
        true,
    )
    .await;
    assert_eq!(out.status, 204);
    assert!(out
        .set_cookie
        .as_deref()
        .unwrap_or("")
        .contains("Max-Age=0"));
    browser.cookie = kept_cookie;
    let after = request(
        &app,
        &mut browser,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(after.status, 401, "a revoked session is over");
}

#[tokio::test]
async fn a_session_ends_after_its_idle_timeout_and_after_its_absolute_lifetime() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (mut idle, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let (mut old, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let (mut fresh, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let client = app.db().await.expect("db");
    let age = |token: &str, sql: &str| format!("{sql} WHERE token_hash = sha256('{token}'::bytea)");
    client
        .execute(
            &age(
                idle.cookie.as_deref().unwrap_or(""),
                "UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes'",
            ),
            &[],
        )
        .await
        .expect("idle");
    client
        .execute(
            &age(
                old.cookie.as_deref().unwrap_or(""),
                "UPDATE admin_sessions SET created_at = now() - interval '12 hours 1 minute'",
            ),
            &[],
        )
        .await
        .expect("old");
    for (name, browser, expected) in [
        ("idle", &mut idle, 401),
        ("old", &mut old, 401),
        ("fresh", &mut fresh, 200),
    ] {
        let answer = request(&app, browser, Method::GET, "/api/auth/session", None, false).await;
        assert_eq!(answer.status, expected, "{name}");
    }
}

#[tokio::test]
async fn changing_the_password_ends_every_session_and_continues_in_a_new_one() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (mut elsewhere, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let (mut here, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let wrong = request(
        &app,
        &mut here,
        Method::POST,
        "/api/auth/password",
        Some(json!({"current_password": "not it at all", "new_password": "a brand new password"})),
        true,
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["field"], "current_password");
    let weak = request(
        &app,
        &mut here,
        Method::POST,
        "/api/auth/password",
        Some(json!({"current_password": OWNER_PASSWORD, "new_password": "short"})),
        true,
    )
    .await;
    assert_eq!(weak.status, 400);
    assert_eq!(weak.body["field"], "new_password");

    let changed = request(
        &app,
        &mut here,
        Method::POST,
        "/api/auth/password",
        Some(json!({"current_password": OWNER_PASSWORD, "new_password": "a brand new password"})),
        true,
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let me = request(
        &app,
        &mut here,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(me.status, 200, "the new session works");
    let gone = request(
        &app,
        &mut elsewhere,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(gone.status, 401, "the other session was revoked");
    assert_eq!(sign_in(&app, "boss", OWNER_PASSWORD).await.1.status, 401);
    assert_eq!(
        sign_in(&app, "boss", "a brand new password").await.1.status,
        200
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'admin_user.password_change'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn only_an_owner_manages_panel_users_and_every_change_is_audited() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    user(&app, "mona", "manager password 1", "manager").await;
    user(&app, "vic", "viewer password 12", "viewer").await;
    let (mut manager, _) = sign_in(&app, "mona", "manager password 1").await;
    let (mut viewer, _) = sign_in(&app, "vic", "viewer password 12").await;
    let (mut owner, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;

    let refused = request(&app, &mut manager, Method::GET, "/api/admins", None, false).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"], "forbidden");
    let audit_for_viewer = request(&app, &mut viewer, Method::GET, "/api/audit", None, false).await;
    assert_eq!(audit_for_viewer.status, 403);
    let audit_for_manager =
        request(&app, &mut manager, Method::GET, "/api/audit", None, false).await;
    assert_eq!(audit_for_manager.status, 200);

    let bad_role = request(
        &app,
        &mut owner,
        Method::POST,
        "/api/admins",
        Some(json!({"login": "newbie", "password": "newbie password 1", "role": "admin"})),
        true,
    )
    .await;
    assert_eq!(
        (bad_role.status, bad_role.body["field"].clone()),
        (400, json!("role"))
    );
    let created = request(
        &app,
        &mut owner,
        Method::POST,
        "/api/admins",
        Some(json!({"login": "newbie", "password": "newbie password 1", "role": "viewer", "telegram_id": 777})),
        true,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_i64().expect("id");
    let taken = request(
        &app,
        &mut owner,
        Method::POST,
        "/api/admins",
        Some(json!({"login": "newbie", "password": "newbie password 1", "role": "viewer"})),
        true,
    )
    .await;
    assert_eq!(taken.status, 409);

    let (mut newbie, signed_in) = sign_in(&app, "newbie", "newbie password 1").await;
    assert_eq!(signed_in.status, 200);
    let promoted = request(
        &app,
        &mut owner,
        Method::PATCH,
        &format!("/api/admins/{id}"),
        Some(json!({"role": "manager", "telegram_id": null})),
        true,
    )
    .await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.body["role"], "manager");
    assert_eq!(promoted.body["telegram_id"], Value::Null);
    let ended = request(
        &app,
        &mut newbie,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(ended.status, 401, "a role change ends the user's sessions");

    let reset = request(
        &app,
        &mut owner,
        Method::POST,
        &format!("/api/admins/{id}/password"),
        Some(json!({"new_password": "reset by the owner"})),
        true,
    )
    .await;
    assert_eq!(reset.status, 204);
    assert_eq!(
        sign_in(&app, "newbie", "reset by the owner").await.1.status,
        200
    );

    let audit = request(
        &app,
        &mut owner,
        Method::GET,
        "/api/audit?limit=10",
        None,
        false,
    )
    .await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["action"].as_str()).collect())
        .unwrap_or_default();
    for action in [
        "admin_user.create",
        "admin_user.update",
        "admin_user.password_reset",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let update = audit.body["entries"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["action"] == "admin_user.update"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(update["actor"], "panel:boss");
    assert_eq!(update["details"]["before"]["role"], "viewer");
    assert_eq!(update["details"]["after"]["role"], "manager");
}

#[tokio::test]
async fn the_only_enabled_owner_can_be_neither_demoted_nor_disabled() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (mut owner, answer) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let id = answer.body["admin"]["id"].as_i64().expect("id");
    for change in [json!({"role": "manager"}), json!({"disabled": true})] {
        let refused = request(
            &app,
            &mut owner,
            Method::PATCH,
            &format!("/api/admins/{id}"),
            Some(change.clone()),
            true,
        )
        .await;
        assert_eq!(refused.status, 409, "{change}: {}", refused.body);
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM admin_users WHERE role = 'owner' AND disabled_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'admin_user.update'"
        )
        .await,
        0,
        "a refused change leaves no audit row"
    );
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_and_cannot_sign_in() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    user(&app, "mona", "manager password 1", "manager").await;
    let (mut owner, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let (mut manager, answer) = sign_in(&app, "mona", "manager password 1").await;
    let id = answer.body["admin"]["id"].as_i64().expect("id");
    let disabled = request(
        &app,
        &mut owner,
        Method::PATCH,
        &format!("/api/admins/{id}"),
        Some(json!({"disabled": true})),
        true,
    )
    .await;
    assert_eq!(disabled.status, 200);
    assert_eq!(disabled.body["disabled"], true);
    let ended = request(
        &app,
        &mut manager,
        Method::GET,
        "/api/auth/session",
        None,
        false,
    )
    .await;
    assert_eq!(ended.status, 401);
    assert_eq!(
        sign_in(&app, "mona", "manager password 1").await.1.status,
        401
    );
}

// Multi-threaded: the server keeps serving while a case blocks this thread on a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_a_caller_can_make_to_the_panel_api_gets_a_5xx() {
    let app = spawn_app().await.expect("app");
    user(&app, "boss", OWNER_PASSWORD, "owner").await;
    let (browser, _) = sign_in(&app, "boss", OWNER_PASSWORD).await;
    let runtime = tokio::runtime::Handle::current();
    let paths = prop_oneof![
        Just("/api/auth/login".to_owned()),
        Just("/api/auth/logout".to_owned()),
        Just("/api/auth/session".to_owned()),
        Just("/api/auth/password".to_owned()),
        Just("/api/admins".to_owned()),
        "[a-z0-9%\\-]{0,12}".prop_map(|id| format!("/api/admins/{id}")),
        "[a-z0-9%\\-]{0,12}".prop_map(|id| format!("/api/admins/{id}/password")),
        "[a-z_=&%0-9\\-:]{0,40}".prop_map(|q| format!("/api/audit?{q}")),
    ];
    let bodies = prop_oneof![
        Just(None),
        "\\PC{0,60}".prop_map(Some),
        Just(Some(
            "{\"login\":\"boss\",\"password\":\"\\u0000\"}".to_owned()
        )),
        Just(Some(format!(
            "{{\"login\":\"{}\",\"password\":\"x\"}}",
            "я".repeat(5_000)
        ))),
        Just(Some("{\"role\":\"owner\",\"disabled\":\"yes\"}".to_owned())),
        Just(Some("{\"new_password\":123}".to_owned())),
        Just(Some("[1,2,3]".to_owned())),
    ];
    let methods = prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PATCH),
        Just(Method::DELETE)
    ];
    let mut runner = TestRunner::new(Config {
        cases: 150,
        failure_persistence: None,
        ..Config::default()
    });
    let url = app.url("");
    let result = runner.run(
        &(paths, bodies, methods, any::<bool>(), any::<bool>()),
        |(path, body, method, signed_in, csrf)| {
            let status = tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    let mut request = reqwest::Client::new()
                        .request(method.clone(), format!("{url}{path}"))
                        .timeout(Duration::from_secs(10));
                    if signed_in {
                        if let Some(cookie) = &browser.cookie {
                            request =
                                request.header(COOKIE, format!("__Host-promo_session={cookie}"));
                        }
                    }
                    if csrf {
                        if let Some(token) = &browser.csrf {
                            request = request.header("X-CSRF-Token", token);
                        }
                    }
                    if let Some(body) = body.clone() {
                        request = request
                            .header("content-type", "application/json")
                            .body(body);
                    }
                    request.send().await.map(|r| r.status().as_u16())
                })
            });
            let status = status.map_err(|e| TestCaseError::fail(format!("request failed: {e}")))?;
            prop_assert!(status < 500, "{method} {path} {body:?} → {status}");
            Ok(())
        },
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The owner is still the owner, enabled, with the same password (the cases' failed
    // sign-ins may have locked the login: that is the lockout working, not a change).
    app.db()
        .await
        .expect("db")
        .execute("DELETE FROM admin_login_failures", &[])
        .await
        .expect("forget failures");
    assert_eq!(sign_in(&app, "boss", OWNER_PASSWORD).await.1.status, 200);
}
