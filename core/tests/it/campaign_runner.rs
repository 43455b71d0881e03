//! The campaign runner against real Postgres and Redis and the fake Bot API: exactly one
//! message per eligible recipient, crash recovery, 403/400/429 handling, the global rate,
//! slice deadlines with continuations, and cancel.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use promo_core::campaigns::runner::{run_campaign, SliceOutcome};
use promo_core::jobs::CampaignJob;
use promo_core::queue::{JobMessage, QueueName};
use promo_testkit::telegram::{Call, Failure};
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};

use crate::helpers::counters;

const TEXT: &str = "Розыгрыш iPhone уже завтра!";

/// Tests that measure time at the fake Bot API take turns: a dozen runtimes sending at
/// once on a small machine delay the fake's timestamps by more than the limiter's jitter
/// margin, which measures the machine, not the limiter.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn app_with_rate(rate: u32) -> TestApp {
    spawn_app_with(TestConfig::default().with("BROADCAST_RATE", &rate.to_string()))
        .await
        .expect("test app")
}

/// Inserts `count` users; returns `(users.id, telegram id)` pairs.
async fn add_users(
    app: &TestApp,
    first_telegram_id: i64,
    count: i64,
    status: &str,
    reachable: bool,
) -> Vec<(i64, i64)> {
    let client = app.app.pool.get().await.expect("client");
    let rows = client
        .query(
            "INSERT INTO users (bot_id, telegram_id, status, reachable, registered_at)
             SELECT $1, g, $2, $3, now() FROM generate_series($4::bigint, $5::bigint) g
             RETURNING id, telegram_id",
            &[
                &app.app.bot_id,
                &status,
                &reachable,
                &first_telegram_id,
                &(first_telegram_id + count - 1),
            ],
        )
        .await
        .expect("users");
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

async fn create_campaign(app: &TestApp, kind: &str, content: Value, audience: Value) -> i64 {
    let client = app.app.pool.get().await.expect("client");
    client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience)
             VALUES ($1, $2, 'scheduled', $3, $4) RETURNING id",
            &[&app.app.bot_id, &kind, &content, &audience],
        )
        .await
        .expect("campaign")
        .get(0)
}

async fn broadcast(app: &TestApp) -> i64 {
    create_campaign(
        app,
        "broadcast",
        json!({ "text": TEXT }),
        json!({ "all": true }),
    )
    .await
}

/// Runs slices until the campaign completes or stops; panics after ten slices.
async fn run_to_end(app: &TestApp, campaign_id: i64) -> SliceOutcome {
    for _ in 0..10 {
        let deadline = Instant::now() + Duration::from_secs(20);
        let outcome = run_campaign(&app.app.campaigns, campaign_id, deadline)
            .await
            .expect("slice");
        match outcome {
            SliceOutcome::Continue { after } => tokio::time::sleep(after).await,
            done => return done,
        }
    }
    panic!("campaign {campaign_id} did not finish in ten slices");
}

async fn exec(app: &TestApp, sql: &str, campaign_id: i64) -> u64 {
    let client = app.app.pool.get().await.expect("client");
    client.execute(sql, &[&campaign_id]).await.expect(sql)
}

/// Delivery status per chat id.
async fn deliveries(
    app: &TestApp,
    campaign_id: i64,
) -> HashMap<i64, (String, Option<String>, i32)> {
    let client = app.app.pool.get().await.expect("client");
    client
        .query(
            "SELECT chat_id, status, error, attempts FROM campaign_deliveries WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .expect("deliveries")
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3))))
        .collect()
}

/// How many successful `sendMessage` calls each chat received.
fn messages_per_chat(app: &TestApp) -> HashMap<i64, usize> {
    let mut per_chat = HashMap::new();
    for message in app.telegram.sent_messages() {
        *per_chat.entry(message.chat_id).or_insert(0) += 1;
    }
    per_chat
}

fn exactly_once(app: &TestApp, chats: impl IntoIterator<Item = i64>) {
    let expected: HashMap<i64, usize> = chats.into_iter().map(|chat| (chat, 1)).collect();
    assert_eq!(
        messages_per_chat(app),
        expected,
        "one message per recipient, nobody else"
    );
}

/// The shortest time spanned by `limit + 1` consecutive calls: more than a second means
/// no 1-second window holds more than `limit`.
fn tightest_span(calls: &[Call], limit: usize) -> Duration {
    calls
        .windows(limit + 1)
        .map(|run| run[limit].at.duration_since(run[0].at))
        .min()
        .unwrap_or(Duration::MAX)
}

/// The largest number of calls inside any half-open 1-second window.
fn busiest_second(calls: &[Call]) -> usize {
    let times: Vec<Instant> = calls.iter().map(|call| call.at).collect();
    times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|at| **at >= *start && at.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_eligible_recipient_gets_exactly_one_message() {
    let app = app_with_rate(30).await;
    let eligible = add_users(&app, 1_000, 20, "registered", true).await;
    add_users(&app, 2_000, 3, "registered", false).await;
    add_users(&app, 3_000, 3, "registering", true).await;
    add_users(&app, 4_000, 2, "banned", true).await;
    let content = json!({
        "text": "<b>Финал</b> акции", "parse_mode": "HTML",
        "button": {"text": "Правила", "url": "https://example.com/rules"}
    });
    let campaign_id = create_campaign(&app, "broadcast", content, json!({"all": true})).await;

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    exactly_once(&app, eligible.iter().map(|(_, chat)| *chat));
    let first = &app.telegram.sent_messages()[0];
    assert_eq!(first.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(
        first
            .reply_markup
            .as_ref()
            .and_then(|m| m.pointer("/inline_keyboard/0/0/url")),
        Some(&json!("https://example.com/rules"))
    );
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 20, 20, 0, 0, 0)
    );
    // A redelivered job finds nothing to do and sends nothing.
    let again = run_campaign(
        &app.app.campaigns,
        campaign_id,
        Instant::now() + Duration::from_secs(5),
    )
    .await
    .expect("rerun");
    assert_eq!(
        again,
        SliceOutcome::Idle {
            status: Some("completed".into())
        }
    );
    assert_eq!(app.telegram.sent_messages().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_message_reaches_only_the_listed_users_with_the_paid_flag() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 5, "registered", true).await;
    let visitor = add_users(&app, 9_000, 1, "registering", true).await;
    let targets = vec![users[1].0, visitor[0].0];
    let client = app.app.pool.get().await.expect("client");
    let campaign_id: i64 = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience, paid_broadcast)
             VALUES ($1, 'single_message', 'scheduled', $2, $3, TRUE) RETURNING id",
            &[
                &app.app.bot_id,
                &json!({"text": "Ответ поддержки"}),
                &json!({ "user_ids": targets }),
            ],
        )
        .await
        .expect("campaign")
        .get(0);

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    exactly_once(&app, [users[1].1, visitor[0].1]);
    let calls = app.telegram.calls_to("sendMessage");
    assert!(calls
        .iter()
        .all(|call| call.params["allow_paid_broadcast"] == json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_leaves_in_flight_rows_unknown_and_duplicates_nobody() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 10, "registered", true).await;
    let campaign_id = broadcast(&app).await;
    // A slice with no time left only materialises the recipients.
    let first = run_campaign(&app.app.campaigns, campaign_id, Instant::now())
        .await
        .expect("empty slice");
    assert_eq!(
        first,
        SliceOutcome::Continue {
            after: Duration::ZERO
        }
    );
    assert!(app.telegram.sent_messages().is_empty());
    // The crashed runner had sent two messages and had three in flight.
    let client = app.app.pool.get().await.expect("client");
    let chats: Vec<i64> = users.iter().map(|(_, chat)| *chat).collect();
    client
        .execute(
            "UPDATE campaign_deliveries SET status = 'sent', sent_at = now()
             WHERE campaign_id = $1 AND chat_id = ANY($2)",
            &[&campaign_id, &chats[..2].to_vec()],
        )
        .await
        .expect("sent rows");
    client
        .execute(
            "UPDATE campaign_deliveries SET status = 'sending', claimed_at = now() - interval '2 minutes'
             WHERE campaign_id = $1 AND chat_id = ANY($2)",
            &[&campaign_id, &chats[2..5].to_vec()],
        )
        .await
        .expect("in-flight rows");

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    exactly_once(&app, chats[5..].iter().copied());
    let rows = deliveries(&app, campaign_id).await;
    for chat in &chats[2..5] {
        assert_eq!(
            rows[chat].0, "unknown",
            "in flight at the crash: never resent"
        );
    }
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 10, 7, 0, 0, 3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_crash_the_dead_runners_record_settles_answered_rows_as_sent_written_ones_unknown_and_resends_the_rest(
) {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 6, "registered", true).await;
    let campaign_id = broadcast(&app).await;
    run_campaign(&app.app.campaigns, campaign_id, Instant::now())
        .await
        .expect("materialising slice");
    let chats: Vec<i64> = users.iter().map(|(_, chat)| *chat).collect();
    // A runner that died (no lease row) held four rows.
    let dead_runner = uuid::Uuid::new_v4();
    let client = app.app.pool.get().await.expect("client");
    let held: Vec<i64> = client
        .query(
            "UPDATE campaign_deliveries SET status = 'sending', claimed_at = now(), runner_id = $3
             WHERE campaign_id = $1 AND chat_id = ANY($2) RETURNING id",
            &[&campaign_id, &chats[..4].to_vec(), &dead_runner],
        )
        .await
        .expect("held rows")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut held = held;
    held.sort();
    // Its record: the first was answered by Telegram before the results were written,
    // the second had its last byte written, the third passed the gate but died before
    // the last byte went out, the fourth never got that far.
    let mut conn = app.app.redis.connection();
    let key = app
        .app
        .redis
        .key(&promo_core::campaigns::runner::attempt_record(
            campaign_id,
            dead_runner,
        ));
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("_")
        .arg("open")
        .arg(held[0])
        .arg("sent:77")
        .arg(held[1])
        .arg("written")
        .arg(held[2])
        .arg("launching")
        .query_async(&mut conn)
        .await
        .expect("attempt record");

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    let rows = deliveries(&app, campaign_id).await;
    assert_eq!(rows[&chats[0]].0, "sent", "delivered before the crash");
    assert_eq!(rows[&chats[1]].0, "unknown", "may have been delivered");
    assert_eq!(rows[&chats[2]].0, "sent", "never fully left, so sent again");
    assert_eq!(rows[&chats[3]].0, "sent", "never left, so sent again");
    assert!(
        !messages_per_chat(&app).contains_key(&chats[1]),
        "a written request is never sent again"
    );
    exactly_once(&app, chats[2..].iter().copied());
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 6, 5, 0, 0, 1)
    );
    let message_id: Option<i64> = client
        .query_one(
            "SELECT telegram_message_id FROM campaign_deliveries WHERE id = $1",
            &[&held[0]],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(message_id, Some(77));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_of_a_runner_whose_lease_holds_are_left_alone_and_taken_over_once_it_lapses() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 4, "registered", true).await;
    let chats: Vec<i64> = users.iter().map(|(_, chat)| *chat).collect();
    let campaign_id = broadcast(&app).await;
    run_campaign(&app.app.campaigns, campaign_id, Instant::now())
        .await
        .expect("materialising slice");
    let other = uuid::Uuid::new_v4();
    let client = app.app.pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO campaign_runners (runner_id, campaign_id, bot_id, lease_until)
             VALUES ($1, $2, $3, now() + interval '1 minute')",
            &[&other, &campaign_id, &app.app.bot_id],
        )
        .await
        .expect("live runner");
    client
        .execute(
            "UPDATE campaign_deliveries SET status = 'sending', claimed_at = now(), runner_id = $3
             WHERE campaign_id = $1 AND chat_id = $2",
            &[&campaign_id, &chats[0], &other],
        )
        .await
        .expect("its row");
    // It opened its attempt record and has launched nothing yet.
    let mut conn = app.app.redis.connection();
    let key = app
        .app
        .redis
        .key(&promo_core::campaigns::runner::attempt_record(
            campaign_id,
            other,
        ));
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("_")
        .arg("open")
        .query_async(&mut conn)
        .await
        .expect("attempt record");

    let outcome = run_campaign(
        &app.app.campaigns,
        campaign_id,
        Instant::now() + Duration::from_secs(20),
    )
    .await
    .expect("slice");
    assert!(
        matches!(outcome, SliceOutcome::Continue { .. }),
        "{outcome:?}"
    );
    assert_eq!(deliveries(&app, campaign_id).await[&chats[0]].0, "sending");
    assert!(!messages_per_chat(&app).contains_key(&chats[0]));

    // Its lease lapses: the row had no launch recorded, so it is sent.
    client
        .execute(
            "UPDATE campaign_runners SET lease_until = now() - interval '1 second'
             WHERE runner_id = $1",
            &[&other],
        )
        .await
        .expect("lapsed");
    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);
    exactly_once(&app, chats.iter().copied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_killed_three_times_loses_nobody_and_sends_again_only_what_never_fully_left() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 45, "registered", true).await;
    app.telegram.set_latency(Duration::from_millis(30));
    let campaign_id = broadcast(&app).await;
    for kill_after in [250, 420, 330] {
        let slice = run_campaign(
            &app.app.campaigns,
            campaign_id,
            Instant::now() + Duration::from_secs(20),
        );
        let killed = tokio::time::timeout(Duration::from_millis(kill_after), slice).await;
        assert!(
            killed.is_err(),
            "the slice should still be running when killed"
        );
        // Let work the dead runner left behind settle, then let its lease lapse (as it
        // would within seconds) so its rows are taken over.
        tokio::time::sleep(Duration::from_millis(100)).await;
        exec(
            &app,
            "UPDATE campaign_runners SET lease_until = now() - interval '1 second'
             WHERE campaign_id = $1",
            campaign_id,
        )
        .await;
    }

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    let per_chat = messages_per_chat(&app);
    let rows = deliveries(&app, campaign_id).await;
    let (mut unknown, mut unknown_unreceived) = (0, 0);
    for (_, chat) in &users {
        let received = per_chat.get(chat).copied().unwrap_or(0);
        // Lost would be a row that says sent, or is sent again, and still nothing came.
        // Only a row whose last byte was handed over when the runner died is not sent
        // again (`unknown`, "possibly delivered", shown to operators as such): hyper may
        // not have flushed that byte before the kill, which a loaded machine makes likelier.
        match rows[chat].0.as_str() {
            "sent" => assert!(received >= 1, "chat {chat} is sent but got nothing"),
            "unknown" => {
                unknown += 1;
                unknown_unreceived += usize::from(received == 0);
            }
            other => panic!("chat {chat} ended {other}"),
        }
    }
    // A second copy only for a send whose last byte left in the instant before its
    // "written" record did: a handful per kill at most.
    let duplicates: usize = per_chat.values().map(|n| n.saturating_sub(1)).sum();
    println!(
        "3 kills: {unknown} of 45 deliveries unknown ({unknown_unreceived} of them not received), {duplicates} duplicates"
    );
    assert!(duplicates <= 3 * 3, "{duplicates} copies beyond the first");
    assert!(unknown <= 3 * 6, "{unknown} unknown");
    let (status, total, sent, _, _, unknown_counter) = counters(&app, campaign_id).await;
    assert_eq!(
        (status.as_str(), total, sent + unknown_counter),
        ("completed", 45, 45)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_403_marks_the_user_blocked_and_unreachable_and_a_missing_chat_fails() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 6, "registered", true).await;
    let (blocked_user, blocked_chat) = users[1];
    let (missing_user, missing_chat) = users[4];
    app.telegram.block_chat(blocked_chat);
    app.telegram.chat_not_found(missing_chat);
    let campaign_id = broadcast(&app).await;

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    let rows = deliveries(&app, campaign_id).await;
    assert_eq!(rows[&blocked_chat].0, "blocked");
    assert_eq!(rows[&missing_chat].0, "failed");
    assert!(rows[&missing_chat]
        .1
        .as_deref()
        .unwrap_or("")
        .contains("chat not found"));
    let client = app.app.pool.get().await.expect("client");
    for user in [blocked_user, missing_user] {
        let row = client
            .query_one(
                "SELECT reachable, unreachable_at IS NOT NULL FROM users WHERE id = $1",
                &[&user],
            )
            .await
            .expect("user");
        assert_eq!(
            (row.get::<_, bool>(0), row.get::<_, bool>(1)),
            (false, true)
        );
    }
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 6, 4, 1, 1, 0)
    );
    // The blocked user is skipped by the next broadcast.
    let next = broadcast(&app).await;
    assert_eq!(run_to_end(&app, next).await, SliceOutcome::Completed);
    assert_eq!(counters(&app, next).await.1, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_retry_after_pauses_every_send_and_the_message_is_retried() {
    let _turn = TIMING.lock().await;
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 8, "registered", true).await;
    app.telegram.fail_next(
        "sendMessage",
        1,
        Failure::TooManyRequests { retry_after: 1 },
    );
    let campaign_id = broadcast(&app).await;

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    let calls = app.telegram.calls_to("sendMessage");
    let refused = calls
        .iter()
        .find(|call| call.status == 429)
        .expect("the 429");
    // Sends already on the wire when the 429 was answered may still arrive; nothing else
    // may until retry_after has passed.
    let grace = Duration::from_millis(100);
    let during_pause: Vec<Duration> = calls
        .iter()
        .filter(|call| call.at > refused.at)
        .map(|call| call.at.duration_since(refused.at))
        .filter(|since| *since > grace && *since < Duration::from_secs(1))
        .collect();
    assert!(
        during_pause.is_empty(),
        "sends during the pause at {during_pause:?}"
    );
    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
    let refused_chat = refused.params["chat_id"].as_i64().expect("chat id");
    let rows = deliveries(&app, campaign_id).await;
    assert_eq!(rows[&refused_chat].0, "sent");
    assert_eq!(rows[&refused_chat].2, 1, "a 429 is not an attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_global_rate_is_not_exceeded_in_any_second_even_with_api_latency() {
    let _turn = TIMING.lock().await;
    let app = app_with_rate(20).await;
    let users = add_users(&app, 1_000, 60, "registered", true).await;
    // Sent one at a time, 150 ms of latency would cap the rate below 7/s.
    app.telegram.set_latency(Duration::from_millis(150));
    let campaign_id = broadcast(&app).await;

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
    let calls = app.telegram.calls_to("sendMessage");
    let busiest = busiest_second(&calls);
    let span = calls[calls.len() - 1].at.duration_since(calls[0].at);
    let achieved = (calls.len() - 1) as f64 / span.as_secs_f64();
    let tightest = tightest_span(&calls, 20);
    println!(
        "60 sends at 20/s with 150 ms latency: busiest second {busiest}, achieved {achieved:.2}/s, \
         21 sends span at least {tightest:?}"
    );
    assert!(busiest <= 20, "{busiest} sends in one second");
    assert!(
        // The ±2 % accuracy is measured by the campaign bench on a quiet machine; this
        // bound only proves the sends overlap (one at a time would stay under 7/s), with
        // room for a loaded CI machine (18.8/s was seen there).
        (12.0..=20.0).contains(&achieved),
        "achieved {achieved:.2}/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_share_one_rate() {
    let _turn = TIMING.lock().await;
    let app = app_with_rate(20).await;
    add_users(&app, 1_000, 20, "registered", true).await;
    let first = broadcast(&app).await;
    let second = broadcast(&app).await;

    let (a, b) = tokio::join!(run_to_end(&app, first), run_to_end(&app, second));
    assert_eq!((a, b), (SliceOutcome::Completed, SliceOutcome::Completed));

    let calls = app.telegram.calls_to("sendMessage");
    assert_eq!(calls.len(), 40);
    assert!(
        busiest_second(&calls) <= 20,
        "{} in one second",
        busiest_second(&calls)
    );
    // Each chat got its two messages at least a second apart.
    let mut by_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
    for call in &calls {
        let chat = call.params["chat_id"].as_i64().expect("chat id");
        by_chat.entry(chat).or_default().push(call.at);
    }
    for (chat, times) in by_chat {
        assert_eq!(times.len(), 2, "chat {chat}");
        let gap = times[1].duration_since(times[0]);
        assert!(
            gap >= Duration::from_millis(990),
            "chat {chat}: {gap:?} apart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_campaign_complete_it_within_moments_of_the_last_send() {
    let app = app_with_rate(20).await;
    let users = add_users(&app, 1_000, 40, "registered", true).await;
    // Latency keeps sends in flight at every moment, so whichever runner runs dry first
    // finds the other's deliveries still `sending`.
    app.telegram.set_latency(Duration::from_millis(60));
    let campaign_id = broadcast(&app).await;

    let (a, b) = tokio::join!(run_to_end(&app, campaign_id), run_to_end(&app, campaign_id));
    let done = Instant::now();

    let finished = [a, b];
    assert!(
        finished.contains(&SliceOutcome::Completed),
        "one runner completes it: {finished:?}"
    );
    for outcome in &finished {
        assert!(
            matches!(outcome, SliceOutcome::Completed)
                || *outcome
                    == SliceOutcome::Idle {
                        status: Some("completed".into())
                    },
            "{outcome:?}"
        );
    }
    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
    let last_send = app
        .telegram
        .calls_to("sendMessage")
        .last()
        .map(|call| call.at)
        .expect("sends");
    // Before the fix a runner that saw the other's sends in flight came back only a
    // minute later; `run_to_end` sleeps through that delay, so it shows here.
    let lag = done.duration_since(last_send);
    assert!(
        lag < Duration::from_secs(3),
        "both runners were done {lag:?} after the last send"
    );
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 40, 40, 0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_completes_soon_when_the_runner_that_sent_last_dies_before_completing_it() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 10, "registered", true).await;
    let chats: Vec<i64> = users.iter().map(|(_, chat)| *chat).collect();
    let campaign_id = broadcast(&app).await;
    run_campaign(&app.app.campaigns, campaign_id, Instant::now())
        .await
        .expect("materialising slice");
    // Runner B holds three deliveries, freshly claimed, with its sends in flight.
    let others = chats[7..].to_vec();
    let client = app.app.pool.get().await.expect("client");
    client
        .execute(
            "UPDATE campaign_deliveries SET status = 'sending', claimed_at = now()
             WHERE campaign_id = $1 AND chat_id = ANY($2)",
            &[&campaign_id, &others],
        )
        .await
        .expect("B's rows");

    // Runner A sends the rest, waits a little for B's sends, then asks to look again
    // soon; B's rows are left alone, as they may be on their way (crash safety: only
    // rows in flight for STALE_SENDING_AFTER are ever taken over).
    let started = Instant::now();
    let outcome = run_campaign(
        &app.app.campaigns,
        campaign_id,
        Instant::now() + Duration::from_secs(20),
    )
    .await
    .expect("A's slice");
    let took = started.elapsed();
    match outcome {
        SliceOutcome::Continue { after } => assert!(
            after >= Duration::from_secs(1) && after < Duration::from_secs(5),
            "re-check after {after:?}"
        ),
        other => panic!("B's sends are still in flight, yet {other:?}"),
    }
    assert!(took < Duration::from_secs(4), "A's slice took {took:?}");
    let rows = deliveries(&app, campaign_id).await;
    for chat in &others {
        assert_eq!(
            rows[chat].0, "sending",
            "B's delivery to {chat} was taken over"
        );
    }
    assert_eq!(counters(&app, campaign_id).await.0, "running");

    // A's continuation is waiting for B when B writes its results and dies before its
    // own completion check: A must notice within moments, not a minute later.
    let a = {
        let app = app.app.clone();
        tokio::spawn(async move {
            run_campaign(
                &app.campaigns,
                campaign_id,
                Instant::now() + Duration::from_secs(20),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .execute(
            "UPDATE campaign_deliveries SET status = 'sent', sent_at = now()
             WHERE campaign_id = $1 AND chat_id = ANY($2)",
            &[&campaign_id, &others],
        )
        .await
        .expect("B's results");
    let settled = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(5), a)
        .await
        .expect("A's continuation returns within seconds")
        .expect("no panic")
        .expect("A's continuation");
    assert_eq!(outcome, SliceOutcome::Completed);
    let lag = settled.elapsed();
    assert!(
        lag < Duration::from_millis(1_500),
        "completed {lag:?} after B's last result"
    );
    exactly_once(&app, chats[..7].iter().copied());
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 10, 10, 0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slice_stops_at_its_deadline_and_the_continuation_completes_the_campaign() {
    let _turn = TIMING.lock().await;
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 30, "registered", true).await;
    let campaign_id = broadcast(&app).await;

    let started = Instant::now();
    let deadline = started + Duration::from_millis(400);
    let outcome = run_campaign(&app.app.campaigns, campaign_id, deadline)
        .await
        .expect("slice");
    let returned = Instant::now();

    assert_eq!(
        outcome,
        SliceOutcome::Continue {
            after: Duration::ZERO
        }
    );
    assert!(
        returned <= deadline + Duration::from_millis(50),
        "late by {:?}",
        returned - deadline
    );
    let sent_in_slice = app.telegram.sent_messages().len();
    assert!(
        (3..30).contains(&sent_in_slice),
        "{sent_in_slice} sent in the first slice"
    );
    let rows = deliveries(&app, campaign_id).await;
    let by_status = rows
        .values()
        .fold(HashMap::new(), |mut acc, (status, _, _)| {
            *acc.entry(status.clone()).or_insert(0) += 1;
            acc
        });
    assert_eq!(
        by_status.get("sending"),
        None,
        "claimed rows are handed back"
    );
    assert_eq!(by_status.get("sent"), Some(&sent_in_slice));

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);
    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_job_handler_enqueues_a_continuation_when_time_runs_out() {
    let app = app_with_rate(30).await;
    add_users(&app, 1_000, 30, "registered", true).await;
    let campaign_id = broadcast(&app).await;
    let body = serde_json::to_string(&CampaignJob::Run { campaign_id }).expect("json");
    let message = JobMessage {
        message_id: "m1".into(),
        body,
        receive_count: 1,
    };

    promo_core::campaigns::runner::handle_run_job(
        &app.app.campaigns,
        message,
        Instant::now() + Duration::from_millis(300),
    )
    .await
    .expect("job");

    let queued = app
        .app
        .queue
        .receive(QueueName::Campaigns, 10, Duration::from_millis(100))
        .await
        .expect("receive");
    assert_eq!(queued.len(), 1);
    let job: CampaignJob = serde_json::from_str(&queued[0].body).expect("job body");
    assert_eq!(job, CampaignJob::Run { campaign_id });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_running_campaign_within_a_second_and_resume_finishes_it() {
    let _turn = TIMING.lock().await;
    let app = app_with_rate(20).await;
    let users = add_users(&app, 1_000, 60, "registered", true).await;
    let campaign_id = broadcast(&app).await;
    let runner_app = app.app.clone();
    let runner = tokio::spawn(async move {
        run_campaign(
            &runner_app.campaigns,
            campaign_id,
            Instant::now() + Duration::from_secs(20),
        )
        .await
    });
    app.telegram
        .wait_for_calls("sendMessage", 5, Duration::from_secs(5))
        .await
        .expect("campaign started");

    exec(
        &app,
        "UPDATE campaigns SET status = 'cancelled' WHERE id = $1",
        campaign_id,
    )
    .await;
    let cancelled_at = Instant::now();
    let outcome = runner.await.expect("join").expect("slice");

    assert_eq!(
        outcome,
        SliceOutcome::Idle {
            status: Some("cancelled".into())
        }
    );
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(1),
        "stopped after {:?}",
        cancelled_at.elapsed()
    );
    let calls = app.telegram.calls_to("sendMessage");
    assert!(calls
        .iter()
        .all(|call| call.at < cancelled_at + Duration::from_secs(1)));
    let sent_before = app.telegram.sent_messages().len();
    assert!(sent_before < 60);
    let rows = deliveries(&app, campaign_id).await;
    assert!(rows
        .values()
        .all(|(status, _, _)| status == "sent" || status == "pending"));

    // Resuming sends the rest, once each.
    exec(
        &app,
        "UPDATE campaigns SET status = 'scheduled' WHERE id = $1",
        campaign_id,
    )
    .await;
    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);
    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
    let chats: HashSet<i64> = app
        .telegram
        .sent_messages()
        .iter()
        .map(|m| m.chat_id)
        .collect();
    assert_eq!(chats.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_photo_is_uploaded_once_and_its_file_id_reused_for_everyone_else() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 6, "registered", true).await;
    let url = "https://example.com/prize.jpg";
    let content = json!({ "text": "Главный приз", "photo": url });
    let campaign_id = create_campaign(&app, "broadcast", content, json!({ "all": true })).await;

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    let calls = app.telegram.calls_to("sendPhoto");
    assert_eq!(calls.len(), 6);
    assert!(calls.iter().all(|call| call.status == 200));
    assert_eq!(calls[0].params["photo"], json!(url));
    let file_id = calls[0]
        .result()
        .and_then(|message| message["photo"].as_array()?.last()?.get("file_id").cloned())
        .expect("file id of the upload");
    assert!(calls[1..]
        .iter()
        .all(|call| call.params["photo"] == file_id));
    assert!(calls
        .iter()
        .all(|call| call.params["caption"] == json!("Главный приз")));
    let chats: HashSet<i64> = calls
        .iter()
        .filter_map(|c| c.params["chat_id"].as_i64())
        .collect();
    assert_eq!(
        chats,
        users.iter().map(|(_, chat)| *chat).collect::<HashSet<_>>()
    );
    let client = app.app.pool.get().await.expect("client");
    let stored: Value = client
        .query_one(
            "SELECT content->'photo_file_id' FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await
        .expect("content")
        .get(0);
    assert_eq!(stored, file_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_message_is_not_held_up_by_a_running_broadcast() {
    let _turn = TIMING.lock().await;
    let app = app_with_rate(20).await;
    add_users(&app, 1_000, 60, "registered", true).await;
    // Not registered: the broadcast skips this user, the operator's message does not.
    let (visitor, visitor_chat) = add_users(&app, 9_000, 1, "registering", true).await[0];
    let broadcast_id = broadcast(&app).await;
    let runner_app = app.app.clone();
    let running = tokio::spawn(async move {
        run_campaign(
            &runner_app.campaigns,
            broadcast_id,
            Instant::now() + Duration::from_secs(20),
        )
        .await
    });
    app.telegram
        .wait_for_calls("sendMessage", 10, Duration::from_secs(5))
        .await
        .expect("broadcast under way");

    let single = create_campaign(
        &app,
        "single_message",
        json!({"text": "Ваш чек принят вручную"}),
        json!({ "user_ids": [visitor] }),
    )
    .await;
    let asked = Instant::now();
    assert_eq!(run_to_end(&app, single).await, SliceOutcome::Completed);
    let delivered = app
        .telegram
        .calls_to("sendMessage")
        .iter()
        .find(|call| call.params["chat_id"].as_i64() == Some(visitor_chat))
        .map(|call| call.at.duration_since(asked))
        .expect("the single message was sent");
    println!("single message behind a 20/s broadcast: sent after {delivered:?}");
    assert!(
        delivered < Duration::from_millis(500),
        "waited {delivered:?}"
    );

    exec(
        &app,
        "UPDATE campaigns SET status = 'cancelled' WHERE id = $1",
        broadcast_id,
    )
    .await;
    let stopped = running.await.expect("join").expect("broadcast slice");
    assert_eq!(
        stopped,
        SliceOutcome::Idle {
            status: Some("cancelled".into())
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_are_retried_with_backoff_and_counted_as_attempts() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 3, "registered", true).await;
    app.telegram
        .fail_next("sendMessage", 2, Failure::ServerError);
    let campaign_id = broadcast(&app).await;

    assert_eq!(run_to_end(&app, campaign_id).await, SliceOutcome::Completed);

    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
    let rows = deliveries(&app, campaign_id).await;
    let attempts: i32 = rows.values().map(|(_, _, attempts)| attempts).sum();
    assert_eq!(attempts, 5, "three sends plus two refused ones");
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 3, 3, 0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_limiter_spaces_sends_keeps_chats_apart_and_never_shortens_a_pause() {
    use promo_core::campaigns::rate::{Permit, RateLimiter, WaitReason};
    let app = app_with_rate(30).await;
    let limiter = RateLimiter::new(&app.app.redis, 10);
    assert!(limiter.interval() >= Duration::from_millis(100));

    assert_eq!(
        limiter.try_acquire(1).await.expect("redis"),
        Permit::Granted
    );
    match limiter.try_acquire(2).await.expect("redis") {
        Permit::Wait {
            wait,
            reason: WaitReason::Rate,
        } => {
            assert!(wait > Duration::from_millis(80) && wait <= Duration::from_millis(101))
        }
        other => panic!("expected a rate wait, got {other:?}"),
    }
    tokio::time::sleep(limiter.interval()).await;
    match limiter.try_acquire(1).await.expect("redis") {
        Permit::Wait {
            reason: WaitReason::ChatBusy,
            wait,
        } => {
            assert!(wait <= Duration::from_secs(1))
        }
        other => panic!("expected the chat to be busy, got {other:?}"),
    }

    let pause = limiter
        .pause_for(Duration::from_secs(5))
        .await
        .expect("pause");
    assert!(pause > Duration::from_millis(4_900));
    let kept = limiter
        .pause_for(Duration::from_secs(1))
        .await
        .expect("shorter pause");
    assert!(
        kept > Duration::from_millis(4_800),
        "a shorter retry_after cut the pause to {kept:?}"
    );
    match limiter.try_acquire(3).await.expect("redis") {
        Permit::Wait {
            reason: WaitReason::Paused,
            ..
        } => {}
        other => panic!("expected the pause, got {other:?}"),
    }
    assert!(limiter.paused_for().await.expect("pttl").is_some());

    // After a 429 the pause ends but sends stay a quarter slower for a while.
    let after_429 = RateLimiter::new(&app.app.redis, 10);
    let mut conn = app.app.redis.connection();
    let _: () = redis::cmd("DEL")
        .arg(app.app.redis.key("rate:pause"))
        .arg(app.app.redis.key("rate:slowdown"))
        .query_async(&mut conn)
        .await
        .expect("reset");
    after_429
        .pause_for(Duration::from_millis(1))
        .await
        .expect("short pause");
    tokio::time::sleep(Duration::from_millis(5)).await;
    tokio::time::sleep(limiter.interval()).await;
    assert_eq!(
        after_429.try_acquire(10).await.expect("redis"),
        Permit::Granted
    );
    match after_429.try_acquire(11).await.expect("redis") {
        Permit::Wait {
            wait,
            reason: WaitReason::Rate,
        } => {
            assert!(
                wait > Duration::from_millis(110),
                "slowed interval, waited {wait:?}"
            )
        }
        other => panic!("expected a rate wait, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_campaign_completes_through_a_chain_of_short_slices() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 30, "registered", true).await;
    let campaign_id = broadcast(&app).await;
    let body = serde_json::to_string(&CampaignJob::Run { campaign_id }).expect("json");
    app.app
        .queue
        .send(QueueName::Campaigns, body, Duration::ZERO)
        .await
        .expect("enqueue");
    let handler = |message: JobMessage| {
        let app = app.app.clone();
        async move {
            let deadline = Instant::now() + Duration::from_millis(300);
            promo_core::campaigns::runner::handle_run_job(&app.campaigns, message, deadline).await
        }
    };

    let mut slices = 0;
    while counters(&app, campaign_id).await.0 != "completed" {
        assert!(slices < 20, "not completed after {slices} slices");
        slices += promo_core::queue::consume_once(
            app.app.queue.as_ref(),
            QueueName::Campaigns,
            1,
            Duration::from_secs(1),
            &handler,
        )
        .await
        .expect("consume");
    }

    assert!(slices >= 3, "{slices} slices");
    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
    let left = app
        .app
        .queue
        .receive(QueueName::Campaigns, 10, Duration::from_millis(50))
        .await
        .expect("receive");
    assert!(left.is_empty(), "no continuation after completion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn during_a_long_pause_no_row_is_left_claimed() {
    let app = app_with_rate(30).await;
    let users = add_users(&app, 1_000, 10, "registered", true).await;
    app.telegram.fail_next(
        "sendMessage",
        1,
        Failure::TooManyRequests { retry_after: 2 },
    );
    let campaign_id = broadcast(&app).await;
    let runner_app = app.app.clone();
    let running = tokio::spawn(async move {
        run_campaign(
            &runner_app.campaigns,
            campaign_id,
            Instant::now() + Duration::from_secs(20),
        )
        .await
    });
    app.telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(5))
        .await
        .expect("the refused send");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = app.app.pool.get().await.expect("client");
    let claimed: i64 = client
        .query_one(
            "SELECT count(*) FROM campaign_deliveries WHERE campaign_id = $1 AND status = 'sending'",
            &[&campaign_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(claimed, 0, "rows held in `sending` through the pause");

    let outcome = running.await.expect("join").expect("slice");
    assert_eq!(outcome, SliceOutcome::Completed);
    exactly_once(&app, users.iter().map(|(_, chat)| *chat));
}
