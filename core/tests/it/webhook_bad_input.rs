//! Whatever reaches the webhook (mutated updates, wrong types, huge strings, NUL, deep
//! nesting, unknown kinds, non-JSON), the answer is never a 5xx and the bot keeps
//! answering `/start` correctly: Telegram redelivers a failed update again and again.

use std::sync::atomic::{AtomicI64, Ordering};

use promo_testkit::app::TEST_WEBHOOK_SECRET;
use promo_testkit::telegram::Updates;
use promo_testkit::{spawn_app, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

/// The user who checks after each case that the bot still works; generated updates use
/// ids below this range.
const PROBE_USER: i64 = 990_000_000;

fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[\\x00-\\x1f a-z/<>&;\"'\\\\]{0,24}",
        Just("\0".to_owned()),
        Just("/start\0".to_owned()),
        Just("<b>Bob</b>".to_owned()),
        Just("t=20240917T1801&s=1.00&fn=7281440500751551&i=1&fp=1&n=1\0".to_owned()),
        (1usize..40_000).prop_map(|n| "я".repeat(n)),
        (1u32..20_000).prop_map(|n| (0..n)
            .map(
                |i| char::from_u32(0x4E00 + (i.wrapping_mul(2_654_435_761) % 20_000))
                    .unwrap_or('x')
            )
            .collect()),
        (1usize..10_000).prop_map(|n| "\0a".repeat(n)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A realistic update of each kind the bot handles, and some it does not.
fn template(kind: u8, user: i64) -> Value {
    match kind % 9 {
        0 => Updates::text(user, "/start"),
        1 => Updates::text(user, "Ирина"),
        2 => Updates::contact(user, "+79031234567", Some(user)),
        3 => Updates::photo(user, "AgACAgIAAx0", 1280, 960, 150_000),
        4 => Updates::document(user, "BQACAgIAAx0", "image/png", 300_000),
        5 => Updates::callback(user, "faq:how", 5),
        6 => Updates::my_chat_member(user, "member", "kicked"),
        7 => {
            let mut update = Updates::text(user, "edited");
            if let Some(message) = update.as_object_mut().and_then(|u| u.remove("message")) {
                update["edited_message"] = message;
            }
            update
        }
        _ => Updates::text(user, "🧾 Загрузить чек"),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value at the n-th path (of all paths in the update) with another.
    Replace(usize, Value),
    /// Remove the key at the n-th path.
    Remove(usize),
    /// Put a NUL into the n-th string.
    Nul(usize),
    /// Set a field people type (a name, a username, a text) to a nasty string.
    Field(u8, String),
}

/// Fields whose content comes from people: where an edge case hurts most.
const TYPED_FIELDS: &[&[&str]] = &[
    &["message", "from", "username"],
    &["message", "from", "first_name"],
    &["message", "from", "last_name"],
    &["message", "from", "language_code"],
    &["message", "chat", "username"],
    &["message", "text"],
    &["message", "caption"],
    &["message", "contact", "phone_number"],
    &["message", "contact", "first_name"],
    &["callback_query", "data"],
    &["callback_query", "from", "username"],
    &["my_chat_member", "from", "first_name"],
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => (any::<usize>(), json_value()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Nul),
        3 => (any::<u8>(), nasty_string()).prop_map(|(n, text)| Mutation::Field(n, text)),
    ]
}

/// What is posted: a mutated template, any JSON at all, deep nesting or raw bytes.
#[derive(Debug, Clone)]
enum Body {
    Mutated {
        kind: u8,
        user: i64,
        mutations: Vec<Mutation>,
    },
    AnyJson(Value),
    Deep(usize),
    Bytes(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        6 => (any::<u8>(), 1i64..PROBE_USER, prop::collection::vec(mutation(), 0..4))
            .prop_map(|(kind, user, mutations)| Body::Mutated { kind, user, mutations }),
        1 => json_value().prop_map(Body::AnyJson),
        1 => (1usize..3000).prop_map(Body::Deep),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
    ]
}

/// Every path to a value of `value`, parents before children.
fn paths(value: &Value) -> Vec<Vec<String>> {
    fn walk(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        let children: Vec<(String, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        };
        for (key, child) in children {
            prefix.push(key);
            out.push(prefix.clone());
            walk(child, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn parent_mut<'a>(root: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut node = root;
    for key in path {
        node = match node {
            Value::Object(map) => map.get_mut(key)?,
            Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn apply(update: &mut Value, mutation: &Mutation) {
    if let Mutation::Field(n, text) = mutation {
        let path = TYPED_FIELDS[usize::from(*n) % TYPED_FIELDS.len()];
        if let Some((last, parent)) = path.split_last() {
            let parent: Vec<String> = parent.iter().map(|k| (*k).to_owned()).collect();
            if let Some(Value::Object(map)) = parent_mut(update, &parent) {
                map.insert((*last).to_owned(), Value::String(text.clone()));
            }
        }
        return;
    }
    let all = paths(update);
    if all.is_empty() {
        return;
    }
    match mutation {
        Mutation::Replace(n, replacement) => {
            if let Some(target) = parent_mut(update, &all[n % all.len()]) {
                *target = replacement.clone();
            }
        }
        Mutation::Remove(n) => {
            let path = &all[n % all.len()];
            let (last, parent) = path
                .split_last()
                .map_or((None, &[][..]), |(l, p)| (Some(l), p));
            if let (Some(last), Some(Value::Object(map))) = (last, parent_mut(update, parent)) {
                map.remove(last);
            }
        }
        Mutation::Field(..) => {}
        Mutation::Nul(n) => {
            let strings: Vec<&Vec<String>> = all
                .iter()
                .filter(|p| {
                    let mut copy = update.clone();
                    matches!(parent_mut(&mut copy, p), Some(Value::String(_)))
                })
                .collect();
            if strings.is_empty() {
                return;
            }
            let path = strings[n % strings.len()].clone();
            if let Some(Value::String(text)) = parent_mut(update, &path) {
                let at = text.char_indices().map(|(i, _)| i).nth(n % 3).unwrap_or(0);
                text.insert(at, '\0');
            }
        }
    }
}

fn bytes_of(body: &Body) -> Vec<u8> {
    match body {
        Body::Mutated {
            kind,
            user,
            mutations,
        } => {
            let mut update = template(*kind, *user);
            for mutation in mutations {
                apply(&mut update, mutation);
            }
            update.to_string().into_bytes()
        }
        Body::AnyJson(value) => value.to_string().into_bytes(),
        Body::Deep(depth) => {
            let nested = format!("{}1{}", "[".repeat(*depth), "]".repeat(*depth));
            format!(r#"{{"update_id": 7, "message": {{"text": {nested}}}}}"#).into_bytes()
        }
        Body::Bytes(bytes) => bytes.clone(),
    }
}

async fn post_raw(app: &TestApp, http: &reqwest::Client, body: Vec<u8>) -> u16 {
    match http
        .post(app.url(promo_core::bot::webhook::WEBHOOK_PATH))
        .header("X-Telegram-Bot-Api-Secret-Token", TEST_WEBHOOK_SECRET)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(error) => panic!("the webhook did not answer: {error}"),
    }
}

/// `/start` from a fresh probe user is answered with the welcome in the response body.
async fn start_is_answered(app: &TestApp, probe: i64) -> Result<(), String> {
    let answer = app
        .post_update(&Updates::text(probe, "/start"))
        .await
        .map_err(|e| e.to_string())?;
    let text = answer.body["text"].as_str().unwrap_or_default();
    if answer.status == 200 && text.contains("Добро пожаловать") {
        Ok(())
    } else {
        Err(format!(
            "/start answered {}: {}",
            answer.status, answer.body
        ))
    }
}

#[test]
fn no_update_whatever_its_shape_gets_a_5xx_and_start_keeps_working() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime.block_on(spawn_app()).expect("app");
    let http = reqwest::Client::new();
    let probes = AtomicI64::new(PROBE_USER);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });

    let result = runner.run(&body(), |body| {
        runtime.block_on(async {
            let status = post_raw(&app, &http, bytes_of(&body)).await;
            prop_assert!(status < 500, "status {status}");
            let probe = probes.fetch_add(1, Ordering::Relaxed);
            start_is_answered(&app, probe)
                .await
                .map_err(TestCaseError::fail)?;
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn nul_characters_in_names_texts_and_usernames_are_stored_without_them() {
    let app = spawn_app().await.expect("app");
    let mut update = Updates::text(4242, "/start");
    update["message"]["from"]["first_name"] = json!("Ив\u{0}ан");
    update["message"]["from"]["last_name"] = json!("\u{0}");
    update["message"]["from"]["username"] = json!("iv\u{0}an");
    let answer = app.post_update(&update).await.expect("post");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let username: Option<String> = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT username FROM users WHERE bot_id = $1 AND telegram_id = 4242",
            &[&app.app.bot_id],
        )
        .await
        .expect("user")
        .get(0);
    assert_eq!(username.as_deref(), Some("ivan"));

    let name = Updates::text(4242, "Ири\u{0}на");
    let answer = app.post_update(&name).await.expect("post");
    assert_eq!(answer.status, 200, "{}", answer.body);

    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT first_name, last_name, full_name FROM users
             WHERE bot_id = $1 AND telegram_id = 4242",
            &[&app.app.bot_id],
        )
        .await
        .expect("user");
    assert_eq!(row.get::<_, String>(0), "Иван");
    assert!(row
        .get::<_, Option<String>>(1)
        .is_none_or(|name| name.is_empty()));
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("Ирина"));
}

#[tokio::test]
async fn a_huge_username_does_not_break_the_update() {
    let app = spawn_app().await.expect("app");
    let mut update = Updates::text(4343, "/start");
    // Incompressible, so Postgres cannot squeeze it into an index entry.
    let username: String = (0..20_000u32)
        .map(|i| char::from_u32(0x4E00 + (i.wrapping_mul(2_654_435_761) % 20_000)).unwrap_or('x'))
        .collect();
    update["message"]["from"]["username"] = json!(username);
    let answer = app.post_update(&update).await.expect("post");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Добро пожаловать"));
}
