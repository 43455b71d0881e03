//! `promo lambda-demo` and the SQS event fixtures: the events it writes make the Lambda
//! handlers do real work (a receipt verified, a broadcast sent) against its fakes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine;
use promo_core::app::{connect_campaign_runner, connect_receipt_verifier};
use promo_core::config::{CampaignRunnerSettings, ReceiptVerifierSettings};
use promo_core::jobs::{CampaignJob, ReceiptJob};
use promo_testkit::db::create_database;

struct Demo {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    fn printed(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .map(|lines| lines.iter().any(|line| line.contains(needle)))
            .unwrap_or(false)
    }

    fn wait_for(&self, needle: &str) {
        let started = Instant::now();
        while !self.printed(needle) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "`{needle}` never printed: {:?}",
                self.lines.lock().map(|l| l.clone()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn start_demo(database_url: &str, out: &std::path::Path) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promo"))
        .args(["lambda-demo", "--out"])
        .arg(out)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("DATABASE_URL", database_url)
        .env("BOT_SLUG", format!("lambda{}", std::process::id()))
        .env("WEBHOOK_SECRET", "lambda-demo-secret")
        .env(
            "ADMIN_SECRET_KEY",
            "lambda-demo-admin-secret-key-0123456789",
        )
        .env(
            "PHONE_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode([5u8; 32]),
        )
        .env(
            "PRIZE_DATA_KEY",
            base64::engine::general_purpose::STANDARD.encode([15u8; 32]),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("promo lambda-demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(mut lines) = sink.lock() {
                lines.push(line);
            }
        }
    });
    let demo = Demo { child, lines };
    demo.wait_for("Press Ctrl+C");
    demo
}

/// Reads the env file as cargo lambda would: `NAME='value'` lines, comments skipped.
fn read_env_file(path: &std::path::Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .expect("env file")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
        .collect()
}

fn read_event(path: &std::path::Path) -> SqsEvent {
    serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("an SQS event")
}

#[test]
fn the_repository_fixtures_carry_a_verify_job_and_a_campaign_run() {
    let receipt: SqsEvent = serde_json::from_str(include_str!(
        "../../../../core/tests/fixtures/sqs_receipt_verify_event.json"
    ))
    .expect("SQS event");
    let body = receipt.records[0].body.as_deref().unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<ReceiptJob>(body).expect("a receipt job"),
        ReceiptJob::Verify { submission_id: 1 }
    );
    let campaign: SqsEvent = serde_json::from_str(include_str!(
        "../../../../core/tests/fixtures/sqs_campaign_run_event.json"
    ))
    .expect("SQS event");
    let body = campaign.records[0].body.as_deref().unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<CampaignJob>(body).expect("a campaign job"),
        CampaignJob::Run { campaign_id: 1 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_events_verify_a_receipt_and_send_a_broadcast_through_the_lambda_handlers() {
    let database_url = create_database().await.expect("database");
    let out = std::env::temp_dir().join(format!("promo-lambda-demo-{}", uuid_like()));
    let demo = start_demo(&database_url, &out);

    // What `cargo lambda watch --env-file` hands each function, loaded and connected
    // the way each function starts (a function refuses to start without its variables).
    let env = read_env_file(&out.join("env"));
    assert!(env.contains_key("TELEGRAM_API_URL"), "{env:?}");
    let verifier = ReceiptVerifierSettings::from_lookup(|name| env.get(name).cloned())
        .expect("the receipt-verifier's settings");
    let receipts = connect_receipt_verifier(verifier)
        .await
        .expect("the receipt-verifier starts");
    let runner = CampaignRunnerSettings::from_lookup(|name| env.get(name).cloned())
        .expect("the campaign-runner's settings");
    let campaigns = connect_campaign_runner(runner)
        .await
        .expect("the campaign-runner starts");

    let verified = promo_core::queue::handle_sqs_batch(
        read_event(&out.join("receipt-verify.json")),
        |message| promo_core::worker::handle_verify_job(&receipts, message),
    )
    .await;
    assert!(verified.batch_item_failures.is_empty());
    let client = receipts.pool.get().await.expect("client");
    let status: String = client
        .query_one("SELECT status FROM receipt_submissions", &[])
        .await
        .expect("the demo upload")
        .get(0);
    assert_eq!(status, "accepted");
    demo.wait_for("telegram → 777001: ✅");

    // A slice materialises the recipients and sends; a second one only if time ran out.
    for _ in 0..3 {
        let ran = promo_core::queue::handle_sqs_batch(
            read_event(&out.join("campaign-run.json")),
            |message| {
                let deadline = Instant::now() + Duration::from_secs(20);
                promo_core::campaigns::runner::handle_run_job(&campaigns, message, deadline)
            },
        )
        .await;
        assert!(ran.batch_item_failures.is_empty());
        let row = client
            .query_one("SELECT status, sent FROM campaigns", &[])
            .await
            .expect("the demo broadcast");
        if row.get::<_, String>(0) == "completed" {
            assert_eq!(row.get::<_, i32>(1), 1);
            break;
        }
    }
    demo.wait_for("telegram → 777001: 📣");
    let _ = std::fs::remove_dir_all(&out);
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}-{nanos}", std::process::id())
}
