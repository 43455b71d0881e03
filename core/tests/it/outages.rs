//! The bot through store outages, on private Postgres and Redis servers that are killed
//! and started again (the shared servers are never touched): with Redis down every
//! dialogue step still answers fast, uploads are refused with a clear message and record
//! nothing, `/health` says degraded; with Postgres down the webhook answers 5xx quickly
//! and a redelivered update is processed once when Postgres is back.
//!
//! The target is 200 ms per step; the assertions allow 500 ms for a loaded CI machine,
//! and the measured figures are printed (`-- --nocapture`) for BENCHMARKS.md.

use std::time::{Duration, Instant};

use promo_core::bot::states::Flow;
use promo_core::queue::QueueName;
use promo_testkit::servers::{PostgresServer, RedisServer};
use promo_testkit::telegram::Updates;
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::Value;

use crate::helpers::ADMIN;

/// A dialogue step must answer within this while a store is down (target 200 ms).
const STEP_BOUND: Duration = Duration::from_millis(500);
/// A webhook call that never answers fails the test instead of hanging it.
const HANG: Duration = Duration::from_secs(10);
/// How long Redis stays down, as in the fault-injection run of the issue.
const REDIS_OUTAGE: Duration = Duration::from_secs(10);

const UNAVAILABLE: &str = "⚠️ Сейчас не получается принять чек, попробуйте через пару минут.";
const CHECKING: &str =
    "⏳ Чек получен и отправлен на проверку. Результат придёт сюда через несколько минут.";

/// Delivers an update like Telegram (the webhook reply is executed against the fake)
/// and returns how long the webhook took and the texts the fake received for the chat.
async fn timed(app: &TestApp, user: i64, update: &Value) -> (Duration, Vec<String>) {
    let before = app.telegram.sent_messages().len();
    let started = Instant::now();
    let answer = tokio::time::timeout(HANG, app.send_update(update))
        .await
        .expect("the webhook answers instead of hanging")
        .expect("update delivered");
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "webhook answered {answer:?}");
    let texts = app.telegram.sent_messages()[before..]
        .iter()
        .filter(|m| m.chat_id == user)
        .map(|m| m.text.clone())
        .collect();
    (took, texts)
}

/// Every step's time, for the figures printed at the end.
#[derive(Default)]
struct Steps(Vec<(String, Duration)>);

impl Steps {
    async fn say(&mut self, app: &TestApp, user: i64, label: &str, update: &Value) -> String {
        let (took, texts) = timed(app, user, update).await;
        assert_eq!(texts.len(), 1, "one reply to {label}: {texts:?}");
        assert!(
            took < STEP_BOUND,
            "{label} took {took:?} (bound {STEP_BOUND:?})"
        );
        self.0.push((label.to_owned(), took));
        texts[0].clone()
    }

    fn report(&self, what: &str) {
        let mut times: Vec<Duration> = self.0.iter().map(|(_, t)| *t).collect();
        times.sort();
        let p50 = times.get(times.len() / 2).copied().unwrap_or_default();
        let max = times.last().copied().unwrap_or_default();
        println!("{what}: {} steps, p50 {p50:?}, max {max:?}", times.len());
        for (label, took) in &self.0 {
            println!("  {label}: {took:?}");
        }
    }
}

async fn submissions(app: &TestApp) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM receipt_submissions WHERE bot_id = $1",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0)
}

async fn health(app: &TestApp) -> (u16, Value) {
    let response = tokio::time::timeout(HANG, reqwest::get(app.url("/health")))
        .await
        .expect("/health answers")
        .expect("/health");
    let status = response.status().as_u16();
    (status, response.json().await.expect("health JSON"))
}

#[tokio::test]
async fn while_redis_is_down_every_dialogue_step_answers_fast_and_uploads_are_refused_until_it_is_back(
) {
    let mut redis = RedisServer::start().await.expect("redis");
    let app = spawn_app_with(TestConfig::default().with("REDIS_URL", &redis.url()))
        .await
        .expect("app");
    let shopper = 7001;
    // One shopper registered before the outage, to show the menu of a known user too.
    let mut steps = Steps::default();
    steps
        .say(&app, 7000, "warm-up /start", &Updates::text(7000, "/start"))
        .await;
    steps.0.clear();

    redis.kill().await.expect("kill redis");
    let down_at = Instant::now();

    let welcome = steps
        .say(&app, shopper, "/start", &Updates::text(shopper, "/start"))
        .await;
    assert!(welcome.starts_with("👋 Добро пожаловать"), "{welcome}");
    let ask_phone = steps
        .say(
            &app,
            shopper,
            "name",
            &Updates::text(shopper, "Иван Петров"),
        )
        .await;
    assert!(
        ask_phone.contains("Приятно познакомиться, Иван Петров"),
        "{ask_phone}"
    );
    let registered = steps
        .say(
            &app,
            shopper,
            "phone",
            &Updates::contact(shopper, "+79991234567", Some(shopper)),
        )
        .await;
    assert!(registered.contains("Регистрация завершена"), "{registered}");
    let profile = steps
        .say(
            &app,
            shopper,
            "profile",
            &Updates::text(shopper, "👤 Мой профиль"),
        )
        .await;
    assert!(profile.contains("Иван Петров"), "{profile}");
    let faq = steps
        .say(&app, shopper, "FAQ", &Updates::text(shopper, "ℹ️ FAQ"))
        .await;
    assert!(!faq.is_empty());

    // Upload limits live in Redis: without them nothing is accepted, and the shopper is
    // told so plainly instead of getting an error or silence.
    let button = steps
        .say(
            &app,
            shopper,
            "upload button",
            &Updates::text(shopper, "🧾 Загрузить чек"),
        )
        .await;
    assert_eq!(button, UNAVAILABLE);
    let photo = steps
        .say(
            &app,
            shopper,
            "photo",
            &Updates::photo(shopper, "AgACoutage", 800, 600, 1000),
        )
        .await;
    assert_eq!(photo, UNAVAILABLE);
    assert_eq!(
        submissions(&app).await,
        0,
        "a refused upload stores nothing"
    );
    let jobs = app
        .app
        .queue
        .receive(QueueName::Receipts, 10, Duration::from_millis(10))
        .await
        .expect("receive");
    assert!(jobs.is_empty(), "and queues nothing: {jobs:?}");

    let started = Instant::now();
    let (status, report) = health(&app).await;
    let health_took = started.elapsed();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["database"], "ok");
    assert!(
        report["redis"]
            .as_str()
            .is_some_and(|r| r.starts_with("error: ")),
        "{report}"
    );
    assert!(health_took < STEP_BOUND, "/health took {health_took:?}");

    // The shopper keeps using the menu for the rest of the outage.
    let mut n = 0;
    while down_at.elapsed() < REDIS_OUTAGE {
        n += 1;
        let label = format!("menu #{n}");
        let update = if n % 2 == 0 {
            Updates::text(shopper, "👤 Мой профиль")
        } else {
            Updates::text(shopper, "/start")
        };
        steps.say(&app, shopper, &label, &update).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    steps.report("Redis down");

    redis.start_again().await.expect("redis back");
    let back_at = Instant::now();
    let mut attempt = 0;
    let accepted_after = loop {
        attempt += 1;
        let update = Updates::photo(shopper, &format!("AgACback{attempt}"), 800, 600, 1000);
        let (took, texts) = timed(&app, shopper, &update).await;
        assert!(took < STEP_BOUND, "upload attempt took {took:?}");
        assert_eq!(texts.len(), 1, "{texts:?}");
        if texts[0] == CHECKING {
            break back_at.elapsed();
        }
        assert_eq!(texts[0], UNAVAILABLE);
        assert!(
            back_at.elapsed() < Duration::from_secs(5),
            "uploads still refused {:?} after Redis came back",
            back_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("uploads accepted again {accepted_after:?} after Redis was back ({attempt} attempts)");
    assert!(
        accepted_after < Duration::from_secs(2),
        "accepted only {accepted_after:?} after Redis was back"
    );
    assert_eq!(
        submissions(&app).await,
        1,
        "only the accepted upload is stored"
    );
    let (status, report) = health(&app).await;
    assert_eq!(
        (status, report["status"].as_str()),
        (200, Some("ok")),
        "{report}"
    );
}

#[tokio::test]
async fn a_redis_that_accepts_connections_but_never_answers_delays_no_step_beyond_the_bound() {
    // A black hole: connections are accepted and held, nothing is ever answered, as
    // when the Redis node hangs or a network path drops packets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("address").port();
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = spawn_app_with(
        TestConfig::default().with("REDIS_URL", &format!("redis://127.0.0.1:{port}")),
    )
    .await
    .expect("the stack starts without an answering Redis");
    let shopper = 7101;
    let mut steps = Steps::default();
    steps
        .say(&app, shopper, "/start", &Updates::text(shopper, "/start"))
        .await;
    steps
        .say(
            &app,
            shopper,
            "name",
            &Updates::text(shopper, "Иван Петров"),
        )
        .await;
    let registered = steps
        .say(
            &app,
            shopper,
            "phone",
            &Updates::contact(shopper, "+79991234567", Some(shopper)),
        )
        .await;
    assert!(registered.contains("Регистрация завершена"), "{registered}");
    for round in 1..=3 {
        let button = steps
            .say(
                &app,
                shopper,
                &format!("upload button #{round}"),
                &Updates::text(shopper, "🧾 Загрузить чек"),
            )
            .await;
        assert_eq!(button, UNAVAILABLE);
        let photo = steps
            .say(
                &app,
                shopper,
                &format!("photo #{round}"),
                &Updates::photo(shopper, &format!("AgAChole{round}"), 800, 600, 1000),
            )
            .await;
        assert_eq!(photo, UNAVAILABLE);
        // Let the breaker's period pass, so the next round probes the hanging Redis.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(submissions(&app).await, 0);
    let (status, report) = health(&app).await;
    assert_eq!(
        (status, report["status"].as_str()),
        (200, Some("degraded")),
        "{report}"
    );
    steps.report("Redis hanging");
    hole.abort();
}

#[tokio::test]
async fn a_redis_that_stops_answering_costs_one_step_the_time_limit_and_then_fails_fast() {
    let mut redis = RedisServer::start().await.expect("redis");
    let app = spawn_app_with(TestConfig::default().with("REDIS_URL", &redis.url()))
        .await
        .expect("app");
    let shopper = 7151;
    let mut steps = Steps::default();
    for (label, update) in [
        ("/start", Updates::text(shopper, "/start")),
        ("name", Updates::text(shopper, "Иван Петров")),
        (
            "phone",
            Updates::contact(shopper, "+79991234567", Some(shopper)),
        ),
    ] {
        steps.say(&app, shopper, label, &update).await;
    }
    steps.0.clear();

    redis.pause().await.expect("pause redis");
    // The first command waits for the time limit and opens the breaker; the next ones
    // fail at once.
    for round in 1..=3 {
        let button = steps
            .say(
                &app,
                shopper,
                &format!("upload button #{round}"),
                &Updates::text(shopper, "🧾 Загрузить чек"),
            )
            .await;
        assert_eq!(button, UNAVAILABLE);
        steps
            .say(
                &app,
                shopper,
                &format!("profile #{round}"),
                &Updates::text(shopper, "👤 Мой профиль"),
            )
            .await;
    }
    let (first, rest) = (steps.0[0].1, steps.0[2].1);
    assert!(
        first >= promo_core::store::WEBHOOK_COMMAND_TIMEOUT,
        "the first upload waited for the time limit: {first:?}"
    );
    println!("Redis paused: first upload button {first:?}, the next {rest:?}");
    let started = Instant::now();
    let (status, report) = health(&app).await;
    assert_eq!(
        (status, report["status"].as_str()),
        (200, Some("degraded")),
        "{report}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/health took {:?}",
        started.elapsed()
    );
    steps.report("Redis paused");

    redis.resume().await.expect("resume redis");
    let back_at = Instant::now();
    loop {
        let (_, texts) = timed(&app, shopper, &Updates::text(shopper, "🧾 Загрузить чек")).await;
        if texts
            .first()
            .is_some_and(|t| t.starts_with("📸 Сфотографируйте QR-код"))
        {
            break;
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(2),
            "uploads still refused {:?} after Redis answered again: {texts:?}",
            back_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "Redis resumed: the upload button works again after {:?}",
        back_at.elapsed()
    );
}

#[tokio::test]
async fn an_admin_flow_keeps_its_state_in_postgres_and_creates_its_broadcast_while_redis_is_down() {
    let mut redis = RedisServer::start().await.expect("redis");
    let app = spawn_app_with(
        TestConfig::default()
            .with("REDIS_URL", &redis.url())
            .with("ADMIN_IDS", &ADMIN.to_string()),
    )
    .await
    .expect("app");
    redis.kill().await.expect("kill redis");

    let mut steps = Steps::default();
    let ask = steps
        .say(
            &app,
            ADMIN,
            "broadcast button",
            &Updates::text(ADMIN, "📢 Рассылка"),
        )
        .await;
    assert!(ask.starts_with("📢 Отправьте текст рассылки"), "{ask}");
    let state: Option<Value> = app
        .app
        .bot
        .states()
        .load(Flow::Admin, ADMIN)
        .await
        .expect("state");
    assert_eq!(state, Some(serde_json::json!({"state": "broadcast_text"})));

    let text = "Новая неделя — новые призы!";
    let (took, texts) = timed(&app, ADMIN, &Updates::text(ADMIN, text)).await;
    assert!(took < STEP_BOUND, "preview took {took:?}");
    steps.0.push(("broadcast text → preview".to_owned(), took));
    assert_eq!(texts.last().map(String::as_str), Some(text), "{texts:?}");
    let preview = app
        .telegram
        .sent_messages()
        .into_iter()
        .rev()
        .find(|m| m.chat_id == ADMIN && m.text == text)
        .expect("the preview");

    let started = Instant::now();
    let answer = tokio::time::timeout(
        HANG,
        app.send_update(&Updates::callback(ADMIN, "adm:bc:now", preview.message_id)),
    )
    .await
    .expect("no hang")
    .expect("tap delivered");
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(took < STEP_BOUND, "send-now took {took:?}");
    steps.0.push(("send-now tap".to_owned(), took));
    let campaigns: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM campaigns WHERE bot_id = $1 AND kind = 'broadcast'",
            &[&app.app.bot_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(campaigns, 1, "the broadcast was created once");
    let state: Option<Value> = app
        .app
        .bot
        .states()
        .load(Flow::Admin, ADMIN)
        .await
        .expect("state");
    assert_eq!(state, None, "the flow is over");
    steps.report("admin flow with Redis down");
}

#[tokio::test]
async fn while_postgres_is_down_the_webhook_answers_5xx_quickly_and_after_the_restart_a_redelivered_update_is_processed_once(
) {
    let mut postgres = PostgresServer::start().await.expect("postgres");
    let database_url = postgres.migrated_database().await.expect("database");
    let app = spawn_app_with(TestConfig::default().with("DATABASE_URL", &database_url))
        .await
        .expect("app");
    let shopper = 7201;
    let (_, texts) = timed(&app, shopper, &Updates::text(shopper, "/start")).await;
    assert_eq!(texts.len(), 1);

    postgres.kill().await.expect("kill postgres");
    // The same update as Telegram redelivers it after each 5xx.
    let update = Updates::text(shopper, "Иван Петров");
    let mut failures = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let answer = tokio::time::timeout(HANG, app.post_update(&update))
            .await
            .expect("the webhook answers instead of hanging")
            .expect("posted");
        let took = started.elapsed();
        assert!(
            (500..600).contains(&answer.status),
            "Postgres down must be a 5xx, got {answer:?}"
        );
        assert!(
            took < Duration::from_millis(1500),
            "a 5xx must come quickly, took {took:?}"
        );
        failures.push(took);
    }
    let (status, report) = health(&app).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["status"], "down");
    println!("Postgres down: 5xx after {failures:?}");

    postgres.start_again().await.expect("postgres back");
    let back_at = Instant::now();
    let before = app.telegram.sent_messages().len();
    let answered_after = loop {
        let answer = tokio::time::timeout(HANG, app.send_update(&update))
            .await
            .expect("no hang")
            .expect("posted");
        if answer.status == 200 {
            break back_at.elapsed();
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(5),
            "still {} {:?} after Postgres was back",
            answer.status,
            back_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("Postgres back: the redelivered update answered after {answered_after:?}");
    // Telegram may redeliver once more (its retry was already in flight): dropped.
    let again = app.post_update(&update).await.expect("posted");
    assert_eq!(again.status, 200);
    let replies: Vec<String> = app.telegram.sent_messages()[before..]
        .iter()
        .filter(|m| m.chat_id == shopper)
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(replies.len(), 1, "processed exactly once: {replies:?}");
    assert!(
        replies[0].contains("Приятно познакомиться, Иван Петров"),
        "{replies:?}"
    );
    let (status, report) = health(&app).await;
    assert_eq!(
        (status, report["status"].as_str()),
        (200, Some("ok")),
        "{report}"
    );
}

#[tokio::test]
async fn an_update_cut_off_by_a_postgres_crash_after_its_claim_is_processed_when_telegram_redelivers_it(
) {
    let mut postgres = PostgresServer::start().await.expect("postgres");
    let database_url = postgres.migrated_database().await.expect("database");
    let app = spawn_app_with(TestConfig::default().with("DATABASE_URL", &database_url))
        .await
        .expect("app");
    let shopper = 7301;
    timed(&app, shopper, &Updates::text(shopper, "/start")).await;
    // Holds the name step inside Postgres, after the update's claim has committed, long
    // enough to crash the server right there.
    app.db()
        .await
        .expect("db")
        .batch_execute(
            "CREATE FUNCTION hold_the_name() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$;
             CREATE TRIGGER hold_the_name BEFORE UPDATE OF full_name ON users
                 FOR EACH ROW EXECUTE FUNCTION hold_the_name();",
        )
        .await
        .expect("trigger");

    let update = Updates::text(shopper, "Иван Петров");
    let update_id = update["update_id"].as_i64().expect("update id");
    let first = {
        let (url, body) = (
            app.url(promo_core::bot::webhook::WEBHOOK_PATH),
            update.clone(),
        );
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header(
                    "X-Telegram-Bot-Api-Secret-Token",
                    promo_testkit::app::TEST_WEBHOOK_SECRET,
                )
                .json(&body)
                .send()
                .await
                .map(|response| response.status().as_u16())
        })
    };
    let started = Instant::now();
    loop {
        let claimed = app
            .db()
            .await
            .expect("db")
            .query_opt(
                "SELECT 1 FROM processed_updates WHERE update_id = $1",
                &[&update_id],
            )
            .await
            .expect("claim")
            .is_some();
        if claimed {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    postgres.kill().await.expect("kill postgres");
    let status = tokio::time::timeout(HANG, first)
        .await
        .expect("no hang")
        .expect("task")
        .expect("answer");
    assert!(
        (500..600).contains(&status),
        "the cut-off attempt is a 5xx: {status}"
    );

    postgres.start_again().await.expect("postgres back");
    tokio_postgres_exec(&database_url, "DROP TRIGGER hold_the_name ON users").await;
    let back_at = Instant::now();
    let before = app.telegram.sent_messages().len();
    loop {
        let answer = app.send_update(&update).await.expect("posted");
        if answer.status == 200 {
            break;
        }
        assert!(back_at.elapsed() < Duration::from_secs(5), "{answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Telegram may redeliver once more (its retry was already in flight): dropped.
    let again = app.post_update(&update).await.expect("posted");
    assert_eq!(again.status, 200);
    let replies: Vec<String> = app.telegram.sent_messages()[before..]
        .iter()
        .filter(|m| m.chat_id == shopper)
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(replies.len(), 1, "processed exactly once: {replies:?}");
    assert!(
        replies[0].contains("Приятно познакомиться, Иван Петров"),
        "{replies:?}"
    );
}

/// Runs one statement on its own connection (the app's pool is what is under test).
async fn tokio_postgres_exec(database_url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
}
