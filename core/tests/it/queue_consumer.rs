//! The local consumer loop: acks, redelivery, concurrency and shutdown.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use promo_core::queue::{
    consume_once, run_consumer, InMemoryQueue, InMemoryQueueConfig, JobError, JobMessage, JobQueue,
    QueueName, SqsQueue,
};
use tokio::sync::watch;

/// Polls `condition` until it holds; a test-side wait, the code under test never polls.
async fn eventually(what: &str, timeout: Duration, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn short_visibility_queue() -> Arc<InMemoryQueue> {
    Arc::new(InMemoryQueue::with_config(InMemoryQueueConfig {
        visibility_timeout: Duration::from_millis(200),
        ..InMemoryQueueConfig::default()
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_loop_acks_successes_and_redelivers_failures() {
    let queue = short_visibility_queue();
    for body in ["ok-1", "fail-first", "ok-2", "ok-3"] {
        queue
            .send(QueueName::Receipts, format!(r#""{body}""#), Duration::ZERO)
            .await
            .expect("send");
    }
    let seen = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let (stop, shutdown) = watch::channel(false);
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        QueueName::Receipts,
        4,
        shutdown,
        {
            let seen = seen.clone();
            move |message: JobMessage| {
                let seen = seen.clone();
                async move {
                    let body: String = message.parse_json()?;
                    seen.lock()
                        .expect("lock")
                        .push((body.clone(), message.receive_count));
                    if body == "fail-first" && message.receive_count == 1 {
                        return Err(anyhow::anyhow!("transient failure").into());
                    }
                    Ok::<(), JobError>(())
                }
            }
        },
    ));

    eventually("all messages acked", Duration::from_secs(5), || {
        queue.pending_count(QueueName::Receipts) == 0
    })
    .await;
    stop.send(true).expect("consumer is listening");
    tokio::time::timeout(Duration::from_secs(2), consumer)
        .await
        .expect("consumer stops on shutdown")
        .expect("consumer task");

    let mut seen = seen.lock().expect("lock").clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("fail-first".to_owned(), 1),
            ("fail-first".to_owned(), 2),
            ("ok-1".to_owned(), 1),
            ("ok-2".to_owned(), 1),
            ("ok-3".to_owned(), 1),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_loop_runs_at_most_its_concurrency_of_handlers_at_once() {
    let queue = Arc::new(InMemoryQueue::new());
    for n in 0..9 {
        queue
            .send(QueueName::Campaigns, n.to_string(), Duration::ZERO)
            .await
            .expect("send");
    }
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (stop, shutdown) = watch::channel(false);
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        QueueName::Campaigns,
        3,
        shutdown,
        {
            let (running, peak) = (running.clone(), peak.clone());
            move |_message: JobMessage| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok::<(), JobError>(())
                }
            }
        },
    ));
    eventually("all messages acked", Duration::from_secs(5), || {
        queue.pending_count(QueueName::Campaigns) == 0
    })
    .await;
    stop.send(true).expect("consumer is listening");
    consumer.await.expect("consumer task");
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_loop_finishes_running_handlers_before_it_returns_on_shutdown() {
    let queue = Arc::new(InMemoryQueue::new());
    queue
        .send(QueueName::Campaigns, "{}".to_owned(), Duration::ZERO)
        .await
        .expect("send");
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (stop, shutdown) = watch::channel(false);
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        QueueName::Campaigns,
        2,
        shutdown,
        {
            let (started, finished) = (started.clone(), finished.clone());
            move |_message: JobMessage| {
                let (started, finished) = (started.clone(), finished.clone());
                async move {
                    started.store(true, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    finished.store(true, Ordering::SeqCst);
                    Ok::<(), JobError>(())
                }
            }
        },
    ));
    eventually("the handler started", Duration::from_secs(2), || {
        started.load(Ordering::SeqCst)
    })
    .await;
    stop.send(true).expect("consumer is listening");
    consumer.await.expect("consumer task");
    assert!(
        finished.load(Ordering::SeqCst),
        "returned before its handler finished"
    );
    assert_eq!(
        queue.pending_count(QueueName::Campaigns),
        0,
        "finished job was not acked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_loop_stops_when_the_shutdown_sender_is_dropped() {
    let queue: Arc<dyn JobQueue> = Arc::new(InMemoryQueue::new());
    let (stop, shutdown) = watch::channel(false);
    let consumer = tokio::spawn(run_consumer(
        queue,
        QueueName::Receipts,
        1,
        shutdown,
        |_m: JobMessage| async { Ok::<(), JobError>(()) },
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stop);
    tokio::time::timeout(Duration::from_secs(1), consumer)
        .await
        .expect("consumer stops")
        .expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_loop_starts_a_job_within_milliseconds_of_its_send() {
    let queue = Arc::new(InMemoryQueue::new());
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let (stop, shutdown) = watch::channel(false);
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        QueueName::Campaigns,
        4,
        shutdown,
        move |_m: JobMessage| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(Instant::now());
                Ok::<(), JobError>(())
            }
        },
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut latencies = Vec::new();
    for n in 0..200 {
        let sent_at = Instant::now();
        queue
            .send(QueueName::Campaigns, n.to_string(), Duration::ZERO)
            .await
            .expect("send");
        let started_at = started_rx.recv().await.expect("handler started");
        latencies.push(started_at.duration_since(sent_at));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.send(true).expect("consumer is listening");
    consumer.await.expect("consumer task");
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "in-memory send -> handler start over 200 jobs: median {median:?}, p99 {p99:?}, max {:?}",
        latencies[latencies.len() - 1]
    );
    assert!(p99 < Duration::from_millis(50), "p99 {p99:?}");
}

#[tokio::test]
async fn consume_once_drains_a_queue_deterministically() {
    let queue = InMemoryQueue::new();
    for n in 0..3 {
        queue
            .send(QueueName::Receipts, n.to_string(), Duration::ZERO)
            .await
            .expect("send");
    }
    let handled = AtomicUsize::new(0);
    let handler = |_m: JobMessage| {
        handled.fetch_add(1, Ordering::SeqCst);
        async { Ok::<(), JobError>(()) }
    };
    let mut rounds = Vec::new();
    loop {
        let count = consume_once(&queue, QueueName::Receipts, 2, Duration::ZERO, &handler)
            .await
            .expect("consume");
        rounds.push(count);
        if count == 0 {
            break;
        }
    }
    assert_eq!(rounds, [2, 1, 0]);
    assert_eq!(handled.load(Ordering::SeqCst), 3);
    assert_eq!(queue.pending_count(QueueName::Receipts), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_loop_over_sqs_acks_what_it_processed() {
    let endpoint = std::env::var("PROMO_TEST_SQS_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9324".to_owned());
    let prefix = format!("test-{}-", uuid::Uuid::new_v4().simple());
    let (receipts_queue_url, campaigns_queue_url) =
        SqsQueue::create_queues_for_local(&endpoint, &prefix)
            .await
            .unwrap_or_else(|e| {
                panic!("moto must run at {endpoint} (PROMO_TEST_SQS_ENDPOINT): {e}")
            });
    let queue = Arc::new(
        SqsQueue::connect(
            receipts_queue_url,
            campaigns_queue_url,
            Some(&endpoint),
            "eu-central-1",
        )
        .await,
    );
    for n in 0..3 {
        queue
            .send(QueueName::Campaigns, n.to_string(), Duration::ZERO)
            .await
            .expect("send");
    }
    let handled = Arc::new(AtomicUsize::new(0));
    let (stop, shutdown) = watch::channel(false);
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        QueueName::Campaigns,
        2,
        shutdown,
        {
            let handled = handled.clone();
            move |_m: JobMessage| {
                let handled = handled.clone();
                async move {
                    handled.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), JobError>(())
                }
            }
        },
    ));
    eventually("three jobs handled", Duration::from_secs(10), || {
        handled.load(Ordering::SeqCst) == 3
    })
    .await;
    // The handler returns before the ack, so give the acks a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attributes = queue
            .client()
            .get_queue_attributes()
            .queue_url(queue.queue_url(QueueName::Campaigns))
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let count = |name| {
            attributes
                .get(&name)
                .and_then(|v: &String| v.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        };
        use aws_sdk_sqs::types::QueueAttributeName as A;
        if count(A::ApproximateNumberOfMessages) == 0
            && count(A::ApproximateNumberOfMessagesNotVisible) == 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "messages left on the queue: {attributes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).expect("consumer is listening");
    tokio::time::timeout(Duration::from_secs(2), consumer)
        .await
        .expect("consumer stops while long-polling")
        .expect("consumer task");
    assert_eq!(handled.load(Ordering::SeqCst), 3);
}
