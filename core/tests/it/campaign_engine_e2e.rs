//! The campaign engine end to end, as `promo serve` runs it: a campaign row inserted in
//! Postgres goes through the listen-bridge, the campaigns queue (moto SQS or in-process),
//! the consumer and the runner to the fake Bot API; plus the operator controls
//! (cancel, pause, resume) of `promo_core::campaigns::control`; and a broadcast whose
//! worker process is killed mid-send, again and again.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use promo_core::app::App;
use promo_core::campaigns::control::{self, ControlError};
use promo_core::config::Settings;
use promo_core::queue::SqsQueue;
use promo_testkit::telegram::Call;
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::{counters, sqs_endpoint};

const BROADCAST_TEXT: &str = "Розыгрыш iPhone уже завтра!";
const PERSONAL_TEXT: &str = "Ваш чек принят вручную";
/// Telegram ids of the test users start here.
const FIRST_CHAT: i64 = 5_000_001;

/// `config` pointed at fresh moto queues of its own, so tests run in parallel against one
/// moto server.
async fn on_sqs(config: TestConfig) -> TestConfig {
    let endpoint = sqs_endpoint();
    let prefix = format!("e2e-{}-", uuid::Uuid::new_v4().simple());
    let (receipts, campaigns) = SqsQueue::create_queues_for_local(&endpoint, &prefix)
        .await
        .unwrap_or_else(|e| panic!("moto must run at {endpoint} (PROMO_TEST_SQS_ENDPOINT): {e}"));
    config
        .with("RECEIPTS_QUEUE_URL", &receipts)
        .with("CAMPAIGNS_QUEUE_URL", &campaigns)
        .with("SQS_ENDPOINT_URL", &endpoint)
}

/// The local stack with its workers (bridge + consumers) on its own moto queues.
async fn sqs_app(config: TestConfig) -> TestApp {
    spawn_app_with(on_sqs(config).await.with_workers())
        .await
        .expect("test app on SQS")
}

async fn in_process_app(config: TestConfig) -> TestApp {
    spawn_app_with(config.with_workers())
        .await
        .expect("test app")
}

/// Inserts `count` users from telegram id `first`; returns `(users.id, telegram id)`.
async fn add_users(
    app: &TestApp,
    first: i64,
    count: i64,
    status: &str,
    reachable: bool,
) -> Vec<(i64, i64)> {
    let client = app.db().await.expect("client");
    client
        .query(
            "INSERT INTO users (bot_id, telegram_id, status, reachable, registered_at)
             SELECT $1, g, $2, $3, now() FROM generate_series($4::bigint, $5::bigint) g
             ORDER BY g RETURNING id, telegram_id",
            &[
                &app.app.bot_id,
                &status,
                &reachable,
                &first,
                &(first + count - 1),
            ],
        )
        .await
        .expect("users")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// What the admin API will do: one INSERT of a due (or future) campaign.
async fn insert_campaign(
    app: &TestApp,
    kind: &str,
    text: &str,
    audience: Value,
    in_ms: Option<i64>,
) -> i64 {
    let client = app.db().await.expect("client");
    client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience, scheduled_for)
             VALUES ($1, $2, 'scheduled', $3, $4,
                     now() + make_interval(secs => $5::float8 / 1000))
             RETURNING id",
            &[
                &app.app.bot_id,
                &kind,
                &json!({ "text": text }),
                &audience,
                &in_ms.map(|ms| ms as f64),
            ],
        )
        .await
        .expect("campaign")
        .get(0)
}

async fn status(app: &TestApp, campaign_id: i64) -> String {
    let client = app.db().await.expect("client");
    client
        .query_one(
            "SELECT status FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await
        .expect("campaign row")
        .get(0)
}

async fn wait_for_status(app: &TestApp, campaign_id: i64, wanted: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let current = status(app, campaign_id).await;
        if current == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "campaign {campaign_id} is still {current} after {timeout:?}, expected {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Deliveries of the campaign still claimed by a runner.
async fn in_flight(app: &TestApp, campaign_id: i64) -> i64 {
    let client = app.db().await.expect("client");
    client
        .query_one(
            "SELECT count(*) FROM campaign_deliveries WHERE campaign_id = $1 AND status = 'sending'",
            &[&campaign_id],
        )
        .await
        .expect("deliveries")
        .get(0)
}

fn chat_of(call: &Call) -> Option<i64> {
    call.params.get("chat_id").and_then(Value::as_i64)
}

fn text_of(call: &Call) -> Option<&str> {
    call.params.get("text").and_then(Value::as_str)
}

/// Successful `sendMessage` calls with `text`, counted per chat.
fn sends_per_chat(app: &TestApp, text: &str) -> HashMap<i64, usize> {
    let mut per_chat = HashMap::new();
    for call in app.telegram.calls_to("sendMessage") {
        if call.status == 200 && text_of(&call) == Some(text) {
            if let Some(chat) = chat_of(&call) {
                *per_chat.entry(chat).or_insert(0) += 1;
            }
        }
    }
    per_chat
}

/// Asserts that exactly `expected` chats got `text`, each once.
fn assert_each_once(app: &TestApp, text: &str, expected: &[(i64, i64)]) {
    let per_chat = sends_per_chat(app, text);
    let doubled: Vec<_> = per_chat.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "chats that got {text:?} twice: {doubled:?}"
    );
    let got: HashSet<i64> = per_chat.keys().copied().collect();
    let wanted: HashSet<i64> = expected.iter().map(|(_, chat)| *chat).collect();
    assert_eq!(got, wanted, "recipients of {text:?}");
}

/// Registered reachable users (the audience) plus users a broadcast must skip.
async fn audience_with_outsiders(app: &TestApp, count: i64) -> Vec<(i64, i64)> {
    let audience = add_users(app, FIRST_CHAT, count, "registered", true).await;
    add_users(app, FIRST_CHAT + 1_000, 3, "registered", false).await;
    add_users(app, FIRST_CHAT + 2_000, 2, "new", true).await;
    audience
}

async fn broadcast_reaches_everyone_once(app: &TestApp) {
    let audience = audience_with_outsiders(app, 40).await;
    let campaign_id = insert_campaign(
        app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        None,
    )
    .await;
    wait_for_status(app, campaign_id, "completed", Duration::from_secs(10)).await;
    // A late duplicate (a redelivered job, a second runner) would land within moments.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_each_once(app, BROADCAST_TEXT, &audience);
    assert_eq!(
        counters(app, campaign_id).await,
        ("completed".into(), 40, 40, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_broadcast_row_reaches_every_registered_reachable_user_exactly_once_through_the_bridge_and_sqs(
) {
    let app = sqs_app(TestConfig::default().with("BROADCAST_RATE", "30")).await;
    broadcast_reaches_everyone_once(&app).await;
}

#[tokio::test]
async fn a_broadcast_row_reaches_every_registered_reachable_user_exactly_once_through_the_in_process_queue(
) {
    let app = in_process_app(TestConfig::default().with("BROADCAST_RATE", "30")).await;
    broadcast_reaches_everyone_once(&app).await;
}

#[tokio::test]
async fn a_scheduled_campaign_starts_on_time_and_not_before() {
    let app = sqs_app(TestConfig::default()).await;
    let audience = add_users(&app, FIRST_CHAT, 3, "registered", true).await;
    let inserted = Instant::now();
    let campaign_id = insert_campaign(
        &app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        Some(1_500),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(status(&app, campaign_id).await, "scheduled");
    assert!(app.telegram.calls_to("sendMessage").is_empty());
    let calls = app
        .telegram
        .wait_for_calls("sendMessage", 1, Duration::from_secs(5))
        .await
        .expect("the campaign started");
    let started = calls[0].at.duration_since(inserted);
    // The insert itself takes a moment, so the due time is a little after `inserted`.
    assert!(
        started >= Duration::from_millis(1_500) && started < Duration::from_millis(1_900),
        "first message {started:?} after the insert, due after 1.5 s"
    );
    wait_for_status(&app, campaign_id, "completed", Duration::from_secs(5)).await;
    assert_each_once(&app, BROADCAST_TEXT, &audience);
}

#[tokio::test]
async fn a_paused_broadcast_stops_within_a_second_and_resumes_where_it_stopped_without_duplicates()
{
    let app = sqs_app(TestConfig::default().with("BROADCAST_RATE", "30")).await;
    let audience = add_users(&app, FIRST_CHAT, 60, "registered", true).await;
    let campaign_id = insert_campaign(
        &app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        None,
    )
    .await;
    app.telegram
        .wait_for_calls("sendMessage", 10, Duration::from_secs(5))
        .await
        .expect("the broadcast started");

    let paused = control::pause(&app.app.campaigns, campaign_id)
        .await
        .expect("pause a running campaign");
    assert_eq!((paused.from.as_str(), paused.to), ("running", "paused"));
    let paused_at = Instant::now();
    // The runner hands its claimed rows back once it sees the pause.
    while in_flight(&app, campaign_id).await > 0 {
        assert!(
            paused_at.elapsed() < Duration::from_secs(1),
            "still sending"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent_when_paused = app.telegram.calls_to("sendMessage").len();
    let last = app
        .telegram
        .calls_to("sendMessage")
        .last()
        .map(|call| call.at)
        .expect("some sends");
    assert!(
        last.duration_since(paused_at) < Duration::from_secs(1),
        "sent {:?} after the pause",
        last.duration_since(paused_at)
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        app.telegram.calls_to("sendMessage").len(),
        sent_when_paused,
        "a paused campaign sent more"
    );
    assert!(
        sent_when_paused < audience.len(),
        "the pause came too late to test"
    );
    assert_eq!(status(&app, campaign_id).await, "paused");

    // Pausing twice or resuming a campaign that is not stopped changes nothing.
    assert!(matches!(
        control::pause(&app.app.campaigns, campaign_id).await,
        Err(ControlError::InvalidTransition { .. })
    ));
    let resumed = control::resume(&app.app.campaigns, campaign_id)
        .await
        .expect("resume a paused campaign");
    assert_eq!((resumed.from.as_str(), resumed.to), ("paused", "scheduled"));
    wait_for_status(&app, campaign_id, "completed", Duration::from_secs(8)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_each_once(&app, BROADCAST_TEXT, &audience);
    assert_eq!(
        counters(&app, campaign_id).await,
        ("completed".into(), 60, 60, 0, 0, 0)
    );
    let err = control::resume(&app.app.campaigns, campaign_id)
        .await
        .expect_err("a completed campaign cannot be resumed");
    assert!(
        err.to_string().contains("it is completed"),
        "unclear error: {err}"
    );
    assert_eq!(status(&app, campaign_id).await, "completed");
}

#[tokio::test]
async fn a_cancelled_broadcast_stops_within_a_second_and_can_be_resumed_to_completion() {
    let app = in_process_app(TestConfig::default().with("BROADCAST_RATE", "30")).await;
    let audience = add_users(&app, FIRST_CHAT, 45, "registered", true).await;
    let campaign_id = insert_campaign(
        &app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        None,
    )
    .await;
    app.telegram
        .wait_for_calls("sendMessage", 5, Duration::from_secs(5))
        .await
        .expect("the broadcast started");
    let cancelled = control::cancel(&app.app.campaigns, campaign_id)
        .await
        .expect("cancel a running campaign");
    assert_eq!(cancelled.to, "cancelled");
    let cancelled_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let sent = app.telegram.calls_to("sendMessage");
    let last = sent.last().map(|call| call.at).expect("some sends");
    assert!(
        last.saturating_duration_since(cancelled_at) < Duration::from_secs(1),
        "sent {:?} after the cancel",
        last.duration_since(cancelled_at)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.telegram.calls_to("sendMessage").len(), sent.len());
    assert!(
        sent.len() < audience.len(),
        "the cancel came too late to test"
    );
    assert!(matches!(
        control::cancel(&app.app.campaigns, campaign_id).await,
        Err(ControlError::InvalidTransition { .. })
    ));

    control::resume(&app.app.campaigns, campaign_id)
        .await
        .expect("resume a cancelled campaign");
    wait_for_status(&app, campaign_id, "completed", Duration::from_secs(8)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_each_once(&app, BROADCAST_TEXT, &audience);
}

#[tokio::test]
async fn a_scheduled_campaign_paused_before_its_time_does_not_start_and_keeps_its_time_when_resumed(
) {
    let app = in_process_app(TestConfig::default()).await;
    let audience = add_users(&app, FIRST_CHAT, 2, "registered", true).await;
    let campaign_id = insert_campaign(
        &app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        Some(800),
    )
    .await;
    control::pause(&app.app.campaigns, campaign_id)
        .await
        .expect("pause a scheduled campaign");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert!(app.telegram.calls_to("sendMessage").is_empty());
    assert_eq!(status(&app, campaign_id).await, "paused");
    control::resume(&app.app.campaigns, campaign_id)
        .await
        .expect("resume");
    wait_for_status(&app, campaign_id, "completed", Duration::from_secs(5)).await;
    assert_each_once(&app, BROADCAST_TEXT, &audience);
}

#[tokio::test]
async fn controls_refuse_invalid_transitions_and_unknown_campaigns_and_change_nothing() {
    let app = spawn_app_with(TestConfig::default()).await.expect("app");
    let client = app.db().await.expect("client");
    let mut ids = HashMap::new();
    for state in ["draft", "completed", "failed", "paused", "cancelled"] {
        let id: i64 = client
            .query_one(
                "INSERT INTO campaigns (bot_id, kind, status, content, audience)
                 VALUES ($1, 'broadcast', $2, '{\"text\": \"x\"}', '{\"all\": true}')
                 RETURNING id",
                &[&app.app.bot_id, &state],
            )
            .await
            .expect("campaign")
            .get(0);
        ids.insert(state, id);
    }
    let refused = [
        ("draft", "pause"),
        ("draft", "cancel"),
        ("draft", "resume"),
        ("completed", "pause"),
        ("completed", "cancel"),
        ("completed", "resume"),
        ("failed", "cancel"),
        ("failed", "resume"),
        ("paused", "pause"),
        ("cancelled", "cancel"),
        ("cancelled", "pause"),
    ];
    for (state, action) in refused {
        let id = ids[state];
        let result = match action {
            "pause" => control::pause(&app.app.campaigns, id).await,
            "cancel" => control::cancel(&app.app.campaigns, id).await,
            _ => control::resume(&app.app.campaigns, id).await,
        };
        match result {
            Err(ControlError::InvalidTransition { status, .. }) => assert_eq!(status, state),
            other => panic!("{action} of a {state} campaign: {other:?}"),
        }
        assert_eq!(self::status(&app, id).await, state, "{action} changed it");
    }
    let err = control::pause(&app.app.campaigns, 987_654_321)
        .await
        .expect_err("no such campaign");
    assert!(matches!(err, ControlError::NotFound(987_654_321)));
    assert_eq!(err.to_string(), "campaign 987654321 does not exist");
    // Another bot's campaign is invisible to this bot's controls.
    let other_bot: i64 = client
        .query_one(
            "INSERT INTO bots (slug, title) VALUES ('other-bot', 'Other') RETURNING id",
            &[],
        )
        .await
        .expect("bot")
        .get(0);
    let foreign: i64 = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'broadcast', 'paused')
             RETURNING id",
            &[&other_bot],
        )
        .await
        .expect("campaign")
        .get(0);
    assert!(matches!(
        control::resume(&app.app.campaigns, foreign).await,
        Err(ControlError::NotFound(_))
    ));
    // A cancelled campaign stays resumable; a paused one can be given up for good.
    control::cancel(&app.app.campaigns, ids["paused"])
        .await
        .expect("cancel a paused campaign");
    assert_eq!(status(&app, ids["paused"]).await, "cancelled");
}

#[tokio::test]
async fn a_single_message_is_not_delayed_behind_a_running_broadcast() {
    let app = sqs_app(TestConfig::default().with("BROADCAST_RATE", "30")).await;
    let audience = add_users(&app, FIRST_CHAT, 150, "registered", true).await;
    let broadcast_id = insert_campaign(
        &app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        None,
    )
    .await;
    app.telegram
        .wait_for_calls("sendMessage", 10, Duration::from_secs(5))
        .await
        .expect("the broadcast is running");
    // The last user in the broadcast's order: their broadcast copy is seconds away, so
    // the per-chat interval does not hold the single message back either.
    let (user_id, chat) = audience[audience.len() - 1];
    let inserted = Instant::now();
    let single_id = insert_campaign(
        &app,
        "single_message",
        PERSONAL_TEXT,
        json!({ "user_ids": [user_id] }),
        None,
    )
    .await;
    let arrived = loop {
        let found = app
            .telegram
            .calls_to("sendMessage")
            .into_iter()
            .find(|call| text_of(call) == Some(PERSONAL_TEXT));
        if let Some(call) = found {
            break call;
        }
        assert!(
            inserted.elapsed() < Duration::from_secs(3),
            "the single message did not arrive within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let latency = arrived.at.duration_since(inserted);
    assert!(
        latency < Duration::from_millis(500),
        "the single message took {latency:?}"
    );
    assert_eq!(chat_of(&arrived), Some(chat));
    assert_eq!(status(&app, broadcast_id).await, "running");
    wait_for_status(&app, single_id, "completed", Duration::from_secs(2)).await;
    // Stopping the broadcast here keeps the test short; its delivery is tested above.
    control::cancel(&app.app.campaigns, broadcast_id)
        .await
        .expect("cancel");
}

/// The workers of `promo serve` (bridge + consumers, hence the runner) as a process of
/// their own: a separate runtime with its own connections (an `App` built from the same
/// settings), so [`WorkerProcess::kill`] ends every task they run at once (slices, sends
/// on the wire, result writes) the way a crash or a Lambda timeout does, while the test's
/// stack (database, Redis, fake Bot API, SQS queues) lives on. Aborting the consumer
/// tasks would not do: the handlers run in tasks of their own and would keep going.
struct WorkerProcess {
    runtime: Option<tokio::runtime::Runtime>,
    /// Held so the workers keep running; a dropped sender reads as a clean shutdown.
    _stop: tokio::sync::watch::Sender<bool>,
}

impl WorkerProcess {
    async fn start(settings: &Settings) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("worker runtime");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let settings = settings.clone();
        runtime
            .spawn(async move {
                let app = App::build(settings).await?;
                promo_core::server::spawn_workers(&app, stopped);
                anyhow::Ok(())
            })
            .await
            .expect("worker start panicked")
            .expect("worker app");
        WorkerProcess {
            runtime: Some(runtime),
            _stop: stop,
        }
    }

    /// Kills the process: its tasks are dropped wherever they are, nothing is cleaned up.
    fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Dropping a runtime inside the test's runtime would panic; this does not block.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broadcast_whose_runner_is_killed_three_times_loses_nobody_and_doubles_only_what_was_in_flight(
) {
    const RECIPIENTS: i64 = 120;
    const KILLS: usize = 3;
    // No workers in the test's stack: the killable process below runs them.
    let app = spawn_app_with(
        on_sqs(TestConfig::default().with("BROADCAST_RATE", "30"))
            .await
            .with("SQS_ENDPOINT_URL", &sqs_endpoint()),
    )
    .await
    .expect("test app on SQS");
    let settings: Settings = (*app.app.settings).clone();
    let audience = audience_with_outsiders(&app, RECIPIENTS).await;
    // A Bot API round trip keeps sends on the wire at every moment, so kills land mid-send.
    app.telegram.set_latency(Duration::from_millis(40));
    let mut process = WorkerProcess::start(&settings).await;
    let campaign_id = insert_campaign(
        &app,
        "broadcast",
        BROADCAST_TEXT,
        json!({ "all": true }),
        None,
    )
    .await;

    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut in_flight_at_kills = 0;
    for kill in 1..=KILLS {
        // Kill the (re)started runner at a random point once it is sending again.
        let sent = app.telegram.calls_to("sendMessage").len();
        app.telegram
            .wait_for_calls("sendMessage", sent + 1, Duration::from_secs(5))
            .await
            .expect("the runner is sending");
        let after = Duration::from_millis(rng.gen_range(50..600));
        tokio::time::sleep(after).await;
        process.kill();
        // Let the dying runtime drop its tasks; statements already sent finish at the server.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let held = in_flight(&app, campaign_id).await;
        in_flight_at_kills += held;
        let (status, total, sent, ..) = counters(&app, campaign_id).await;
        println!(
            "kill {kill} after {after:?}: {held} deliveries in flight, {sent} of {total} sent"
        );
        assert_eq!(
            status, "running",
            "kill {kill} came after the broadcast ended"
        );

        // Nothing is brought forward: the dead runner's lease lapses within seconds, the
        // restarted process's bridge re-enqueues the campaign and its runner recovers the
        // dead one's rows from its attempt record. (Under SQS the killed process's open
        // long poll may still swallow that message at moto; the campaign's pickup lease
        // then lapses and the bridge enqueues it again.)
        let sent_before = app.telegram.calls_to("sendMessage").len();
        process = WorkerProcess::start(&settings).await;
        let restarted = Instant::now();
        app.telegram
            .wait_for_calls("sendMessage", sent_before + 1, Duration::from_secs(20))
            .await
            .expect("the campaign resumes after the restart");
        println!(
            "kill {kill}: sending again {:?} after the restart",
            restarted.elapsed()
        );
    }
    wait_for_status(&app, campaign_id, "completed", Duration::from_secs(30)).await;
    // A late duplicate (a second runner, a redelivered job) would land within moments.
    tokio::time::sleep(Duration::from_millis(300)).await;
    process.kill();

    let per_chat = sends_per_chat(&app, BROADCAST_TEXT);
    let rows = delivery_statuses(&app, campaign_id).await;
    // Only the audience was sent to. A second copy goes only to a chat whose message was
    // in flight at a kill (its last byte had left, its `written` record had not reached
    // Redis): the bound, "at most the messages in flight at each kill".
    let audience_chats: HashSet<i64> = audience.iter().map(|(_, chat)| *chat).collect();
    assert!(per_chat.keys().all(|chat| audience_chats.contains(chat)));
    let duplicates: usize = per_chat.values().map(|n| n.saturating_sub(1)).sum();
    assert!(
        duplicates as i64 <= in_flight_at_kills,
        "{duplicates} duplicate copies, but only {in_flight_at_kills} were in flight at the kills"
    );
    let mut unknown = 0;
    for chat in &audience_chats {
        let received = per_chat.get(chat).copied().unwrap_or(0);
        match rows.get(chat).map(String::as_str) {
            Some("sent") => assert!(received >= 1, "chat {chat} is marked sent but got nothing"),
            // In flight at a kill: it may or may not have arrived, and is not resent.
            Some("unknown") => unknown += 1,
            other => panic!("chat {chat} ended {other:?}, received {received}"),
        }
    }
    println!(
        "{KILLS} kills: {in_flight_at_kills} deliveries in flight at the kills, {unknown} unknown, {} never received",
        audience_chats.len() - per_chat.len()
    );
    // Nobody is lost unaccounted: whoever got nothing is an `unknown` delivery, and those
    // are only rows the killed runners held.
    assert!(
        unknown <= in_flight_at_kills,
        "{unknown} unknown, but only {in_flight_at_kills} were in flight at the kills"
    );
    let (status, total, sent, failed, blocked, unknown_counter) = counters(&app, campaign_id).await;
    assert_eq!(
        (status.as_str(), total, failed, blocked),
        ("completed", RECIPIENTS as i32, 0, 0)
    );
    assert_eq!(i64::from(unknown_counter), unknown);
    assert_eq!(sent + unknown_counter, RECIPIENTS as i32);
}

/// Delivery status per chat id.
async fn delivery_statuses(app: &TestApp, campaign_id: i64) -> HashMap<i64, String> {
    let client = app.db().await.expect("client");
    client
        .query(
            "SELECT chat_id, status FROM campaign_deliveries WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .expect("deliveries")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}
