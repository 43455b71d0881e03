//! The `promo` binary as an operator uses it: migrate, create-admin, set-webhook, and
//! start-up errors that name the variable at fault.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use promo_testkit::db::create_database;
use promo_testkit::telegram::FakeTelegram;

fn promo(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promo"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("WEBHOOK_SECRET", "cli-test-secret")
        .env("ADMIN_SECRET_KEY", "cli-test-admin-secret-key-0123456789")
        .env(
            "PHONE_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        )
        .env(
            "PRIZE_DATA_KEY",
            base64::engine::general_purpose::STANDARD.encode([19u8; 32]),
        )
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("promo starts");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("promo finishes")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn migrate_applies_the_schema_once_then_reports_up_to_date() {
    let url = create_database().await.expect("database");
    let first = promo(&["migrate"], &[("DATABASE_URL", &url)], "");
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied 0001_create_product_schema"));
    let second = promo(&["migrate"], &[("DATABASE_URL", &url)], "");
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
}

#[tokio::test]
async fn an_invalid_setting_stops_start_up_with_a_message_naming_it() {
    let output = promo(&["migrate"], &[("ADMIN_SECRET_KEY", "short")], "");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("ADMIN_SECRET_KEY"),
        "{}",
        stderr(&output)
    );

    let output = promo(&["migrate"], &[("PHONE_ENCRYPTION_KEY", "")], "");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("PHONE_ENCRYPTION_KEY"));
}

#[tokio::test]
async fn create_admin_stores_an_argon2_hash_and_refuses_short_passwords() {
    let url = create_database().await.expect("database");
    assert!(promo(&["migrate"], &[("DATABASE_URL", &url)], "")
        .status
        .success());

    let weak = promo(
        &["create-admin", "--login", "ops"],
        &[("DATABASE_URL", &url)],
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("at least 12"), "{}", stderr(&weak));

    let ok = promo(
        &[
            "create-admin",
            "--login",
            "ops",
            "--role",
            "viewer",
            "--telegram-id",
            "555",
        ],
        &[("DATABASE_URL", &url)],
        "a much longer password\n",
    );
    assert!(ok.status.success(), "{}", stderr(&ok));

    let pool = promo_core::db::connect(&url, 1).expect("pool");
    let row = pool
        .get()
        .await
        .expect("client")
        .query_one(
            "SELECT password_hash, role, telegram_id FROM admin_users WHERE login = 'ops'",
            &[],
        )
        .await
        .expect("row");
    let hash: String = row.get(0);
    assert!(promo_core::admin::verify_password(
        "a much longer password",
        &hash
    ));
    assert_eq!(row.get::<_, String>(1), "viewer");
    assert_eq!(row.get::<_, Option<i64>>(2), Some(555));
}

// Multi-threaded: the fake Bot API must keep serving while this thread waits for `promo`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_webhook_registers_the_url_with_the_secret_token() {
    let url = create_database().await.expect("database");
    let telegram = FakeTelegram::start().await.expect("fake telegram");
    let api = telegram.base_url();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("BOT_TOKEN", "123456:cli-token"),
        ("TELEGRAM_API_URL", api.as_str()),
        ("WEBHOOK_BASE_URL", "https://promo.example.org/"),
    ];

    let unmigrated = promo(&["set-webhook"], &env, "");
    assert!(!unmigrated.status.success());
    assert!(
        stderr(&unmigrated).contains("promo migrate"),
        "{}",
        stderr(&unmigrated)
    );
    assert!(telegram.webhook().is_none());

    assert!(promo(&["migrate"], &[("DATABASE_URL", &url)], "")
        .status
        .success());
    let output = promo(&["set-webhook"], &env, "");
    assert!(output.status.success(), "{}", stderr(&output));
    let hook = telegram.webhook().expect("webhook set");
    assert_eq!(hook.url, "https://promo.example.org/telegram/webhook");
    assert_eq!(hook.secret_token.as_deref(), Some("cli-test-secret"));
    assert_eq!(
        hook.allowed_updates,
        Some(vec![
            "message".to_owned(),
            "callback_query".to_owned(),
            "my_chat_member".to_owned()
        ])
    );
}

#[tokio::test]
async fn a_busy_port_stops_serve_with_a_message_naming_the_address_and_bind_addr() {
    let url = create_database().await.expect("database");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let address = holder.local_addr().expect("address").to_string();
    let output = promo(
        &["serve"],
        &[
            ("DATABASE_URL", &url),
            ("BIND_ADDR", &address),
            ("RUST_LOG", "info"),
        ],
        "",
    );
    assert!(!output.status.success());
    let errors = stderr(&output);
    assert!(errors.contains(&address), "{errors}");
    assert!(errors.contains("BIND_ADDR"), "{errors}");
    drop(holder);
}

#[tokio::test]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let url = create_database().await.expect("database");
    // A held port: serve logs its start-up (migrations), then fails to bind, and exits.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let address = holder.local_addr().expect("address").to_string();
    let output = promo(
        &["serve"],
        &[
            ("DATABASE_URL", &url),
            ("BIND_ADDR", &address),
            ("RUST_LOG", "info"),
        ],
        "",
    );
    drop(holder);
    let errors = stderr(&output);
    assert!(
        errors.contains("INFO"),
        "start-up logs go to stderr: {errors}"
    );
    assert!(!errors.contains("\x1b["), "colour codes in {errors:?}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("\x1b["),
        "colour codes on stdout"
    );
}

#[tokio::test]
async fn verify_draw_confirms_a_recorded_draw_and_exits_1_naming_what_was_changed() {
    use promo_core::campaigns::draw::{commitment, draw, Snapshot, ALGORITHM};
    let url = create_database().await.expect("database");
    assert!(promo(&["migrate"], &[("DATABASE_URL", &url)], "")
        .status
        .success());
    let pool = promo_core::db::connect(&url, 1).expect("pool");
    let bot = promo_core::db::ensure_bot(&pool, "main", "Промо")
        .await
        .expect("bot");
    let client = pool.get().await.expect("client");
    let mut snapshot = Snapshot::new();
    let mut entries = Vec::new();
    for n in 1..=20i64 {
        let user: i64 = client
            .query_one(
                "INSERT INTO users (bot_id, telegram_id, first_name) VALUES ($1, $2, 'Аня') RETURNING id",
                &[&bot, &(9_000 + n)],
            )
            .await
            .expect("user")
            .get(0);
        snapshot.push(user, n % 4 + 1).expect("entry");
        entries.push(serde_json::json!({"user_id": user, "tickets": n % 4 + 1}));
    }
    let seed = [7u8; 32];
    let winners = draw(&snapshot, &seed, 3);
    let campaign: i64 = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status) VALUES ($1, 'raffle', 'completed') RETURNING id",
            &[&bot],
        )
        .await
        .expect("campaign")
        .get(0);
    let draw_id: i64 = client
        .query_one(
            "INSERT INTO raffle_draws (bot_id, campaign_id, prize, winner_count, seed,
                 ticket_snapshot, algorithm, snapshot_hash, seed_commitment, participants, tickets)
             VALUES ($1, $2, 'Приз', 3, $3, $4, $5, $6, $7, 20, $8) RETURNING id",
            &[
                &bot,
                &campaign,
                &seed.as_slice(),
                &serde_json::Value::from(entries),
                &ALGORITHM,
                &snapshot.hash(),
                &commitment(&seed),
                &(snapshot.tickets() as i64),
            ],
        )
        .await
        .expect("draw")
        .get(0);
    for (position, (user, tickets)) in winners.iter().enumerate() {
        client
            .execute(
                "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &draw_id,
                    &bot,
                    user,
                    &(position as i32 + 1),
                    &(*tickets as i32),
                ],
            )
            .await
            .expect("winner");
    }
    let id = draw_id.to_string();
    let ok = promo(&["verify-draw", &id], &[("DATABASE_URL", &url)], "");
    let out = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(ok.status.success(), "{out}{}", stderr(&ok));
    assert!(
        out.contains("verified: the draw is what its seed and snapshot give"),
        "{out}"
    );
    assert!(out.contains(&commitment(&seed)), "{out}");

    client
        .execute(
            "UPDATE raffle_winners SET position = position + 10 WHERE draw_id = $1 AND position = 1",
            &[&draw_id],
        )
        .await
        .expect("reorder");
    let changed = promo(&["verify-draw", &id], &[("DATABASE_URL", &url)], "");
    let out = String::from_utf8_lossy(&changed.stdout).into_owned();
    assert_eq!(changed.status.code(), Some(1), "{out}");
    assert!(out.contains("MISMATCH: the recorded winners"), "{out}");

    let missing = promo(&["verify-draw", "987654"], &[("DATABASE_URL", &url)], "");
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no draw 987654"),
        "{}",
        stderr(&missing)
    );
}
