//! The Lambda SQS batch adapter, driven by a real SQS event fixture.

use std::sync::Mutex;

use aws_lambda_events::event::sqs::SqsEvent;
use promo_core::queue::{handle_sqs_batch, JobError, JobMessage};

const FIXTURE: &str = include_str!("../fixtures/sqs_event.json");
const EXPECTED_PANIC: &str = "handler bug (expected by this test)";

/// Keeps the deliberate handler panic from printing a backtrace into the test output;
/// every other panic still reaches the default hook.
fn silence_the_expected_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&EXPECTED_PANIC) {
                default_hook(info);
            }
        }));
    });
}

#[derive(serde::Deserialize)]
struct TestJob {
    outcome: String,
}

/// Succeeds, fails or panics as the body's `outcome` says; a body that is not JSON is
/// discarded by `parse_json`.
async fn scripted_handler(message: JobMessage) -> Result<(), JobError> {
    let job: TestJob = message.parse_json()?;
    match job.outcome.as_str() {
        "ok" => Ok(()),
        "retry" => Err(anyhow::anyhow!("the tax service does not know the receipt yet").into()),
        "panic" => std::panic::panic_any(EXPECTED_PANIC),
        other => Err(JobError::Discard(anyhow::anyhow!(
            "unknown outcome {other}"
        ))),
    }
}

fn fixture_event() -> SqsEvent {
    serde_json::from_str(FIXTURE).expect("fixture is a valid SQS event")
}

#[tokio::test]
async fn batch_adapter_reports_exactly_the_failed_message_ids_and_succeeds_the_rest() {
    silence_the_expected_panic();
    let seen = Mutex::new(Vec::new());
    let response = handle_sqs_batch(fixture_event(), |message: JobMessage| {
        seen.lock()
            .expect("lock")
            .push((message.message_id.clone(), message.receive_count));
        scripted_handler(message)
    })
    .await;

    // The "retry" record and the panicking one; the malformed body is discarded (deleted),
    // the others succeeded.
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "7c9d3f20-1b2e-4a6f-8e5d-0f4a9b8c7d02",
            "d1f6c2a9-7e3b-4c8d-a5f1-2b9e4d7c6a04"
        ]
    );

    // Every record was handled once, with its receive count from the event attributes.
    let mut seen = seen.into_inner().expect("lock");
    seen.sort();
    assert_eq!(seen.len(), 5);
    assert!(seen.contains(&("f3a7e5b1-9c4d-4f2e-b6a8-4c3d2e1f9b05".to_owned(), 3)));
    assert!(seen.contains(&("2e1b7a55-8f41-4c1e-9a0f-6d6c2b1f3a01".to_owned(), 1)));

    // The wire shape Lambda expects back.
    let json = serde_json::to_value(&response).expect("serialise");
    assert_eq!(
        json,
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "7c9d3f20-1b2e-4a6f-8e5d-0f4a9b8c7d02"},
            {"itemIdentifier": "d1f6c2a9-7e3b-4c8d-a5f1-2b9e4d7c6a04"}
        ]})
    );
}

#[tokio::test]
async fn batch_adapter_reports_no_failures_when_every_message_succeeds() {
    let response = handle_sqs_batch(fixture_event(), |_message: JobMessage| async { Ok(()) }).await;
    assert_eq!(
        serde_json::to_value(&response).expect("serialise"),
        serde_json::json!({"batchItemFailures": []})
    );
}

#[tokio::test]
async fn batch_adapter_hands_the_handler_the_body_exactly_as_sent() {
    let bodies = Mutex::new(Vec::new());
    handle_sqs_batch(fixture_event(), |message: JobMessage| {
        bodies.lock().expect("lock").push(message.body);
        async { Ok(()) }
    })
    .await;
    let bodies = bodies.into_inner().expect("lock");
    assert!(bodies.contains(&"this is not json".to_owned()));
    assert!(bodies.contains(&r#"{"job":"queue-test","seq":1,"outcome":"ok"}"#.to_owned()));
}

#[tokio::test]
async fn batch_adapter_runs_the_messages_of_a_batch_concurrently() {
    let started = std::time::Instant::now();
    handle_sqs_batch(fixture_event(), |_message: JobMessage| async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        Ok(())
    })
    .await;
    // Five records of 200 ms each: one after another would take a second.
    assert!(started.elapsed() < std::time::Duration::from_millis(900));
}

#[test]
fn a_body_that_does_not_parse_is_discarded_without_quoting_its_values() {
    let message = JobMessage {
        message_id: "m-1".to_owned(),
        body: r#"{"outcome": "+79991234567"}"#.to_owned(),
        receive_count: 1,
    };
    let error = match message.parse_json::<std::collections::HashMap<String, u64>>() {
        Err(JobError::Discard(error)) => format!("{error:#}"),
        other => panic!("expected a discard, got {other:?}"),
    };
    assert!(
        !error.contains("79991234567"),
        "error quotes the body: {error}"
    );
}
