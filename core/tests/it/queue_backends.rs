//! The in-memory queue and SQS (the moto server) keep the same delivery contract.

use std::time::{Duration, Instant};

use promo_core::queue::{
    InMemoryQueue, InMemoryQueueConfig, JobQueue, QueueError, QueueName, SqsQueue,
};

use crate::helpers::sqs_endpoint;

const NO_WAIT: Duration = Duration::ZERO;

/// Fresh queues per test, so tests run in parallel against one moto server.
async fn sqs_queue() -> SqsQueue {
    let endpoint = sqs_endpoint();
    let prefix = format!("test-{}-", uuid::Uuid::new_v4().simple());
    let (receipts_queue_url, campaigns_queue_url) =
        SqsQueue::create_queues_for_local(&endpoint, &prefix)
            .await
            .unwrap_or_else(|e| {
                panic!("moto must run at {endpoint} (PROMO_TEST_SQS_ENDPOINT): {e}")
            });
    SqsQueue::connect(
        receipts_queue_url,
        campaigns_queue_url,
        Some(&endpoint),
        "eu-central-1",
    )
    .await
}

/// Messages still on an SQS queue, visible or in flight.
async fn sqs_messages_left(queue: &SqsQueue, name: QueueName) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let output = queue
        .client()
        .get_queue_attributes()
        .queue_url(queue.queue_url(name))
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("queue attributes");
    let attributes = output.attributes.unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
        A::ApproximateNumberOfMessagesDelayed,
    ]
    .iter()
    .map(|a| {
        attributes
            .get(a)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

/// Send, receive once, ack: the shared part of the round trip on either backend.
async fn round_trip(queue: &dyn JobQueue) {
    let body = r#"{"chat_id":42,"file_id":"AgAC-round-trip"}"#.to_owned();
    queue
        .send(QueueName::Receipts, body.clone(), Duration::ZERO)
        .await
        .expect("send");

    let received = queue
        .receive(QueueName::Receipts, 10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.body, body);
    assert_eq!(message.receive_count, 1);
    assert!(!message.message_id.is_empty());

    let other = queue
        .receive(QueueName::Campaigns, 10, NO_WAIT)
        .await
        .expect("receive campaigns");
    assert!(
        other.is_empty(),
        "a message sent to receipts showed up on campaigns"
    );

    queue
        .ack(QueueName::Receipts, &message.receipt_handle)
        .await
        .expect("ack");
    // Acking twice is harmless, as on SQS.
    queue
        .ack(QueueName::Receipts, &message.receipt_handle)
        .await
        .expect("second ack");
}

/// A delayed message stays hidden until its delay passed, then arrives.
async fn delayed_message(queue: &dyn JobQueue, delay: Duration) {
    let sent_at = Instant::now();
    queue
        .send(
            QueueName::Campaigns,
            r#"{"campaign_id":7}"#.to_owned(),
            delay,
        )
        .await
        .expect("send");
    let early = queue
        .receive(QueueName::Campaigns, 10, NO_WAIT)
        .await
        .expect("early receive");
    assert!(early.is_empty(), "delayed message was visible at once");

    let received = queue
        .receive(QueueName::Campaigns, 10, delay + Duration::from_secs(3))
        .await
        .expect("receive");
    let arrived_after = sent_at.elapsed();
    assert_eq!(received.len(), 1, "delayed message never arrived");
    assert!(
        arrived_after >= delay,
        "delayed message arrived after {arrived_after:?}, before its delay of {delay:?}"
    );
}

#[tokio::test]
async fn in_memory_round_trip_delivers_the_body_once_and_ack_removes_it() {
    let queue = InMemoryQueue::new();
    round_trip(&queue).await;
    assert_eq!(queue.pending_count(QueueName::Receipts), 0);
}

#[tokio::test]
async fn sqs_round_trip_delivers_the_body_once_and_ack_removes_it() {
    let queue = sqs_queue().await;
    round_trip(&queue).await;
    assert_eq!(sqs_messages_left(&queue, QueueName::Receipts).await, 0);
}

#[tokio::test]
async fn in_memory_delayed_message_is_invisible_before_its_delay_and_visible_after() {
    delayed_message(&InMemoryQueue::new(), Duration::from_millis(300)).await;
}

#[tokio::test]
async fn sqs_delayed_message_is_invisible_before_its_delay_and_visible_after() {
    delayed_message(&sqs_queue().await, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn delays_longer_than_fifteen_minutes_are_rejected_by_both_backends() {
    let too_long = Duration::from_secs(901);
    let in_memory = InMemoryQueue::new();
    let sqs = sqs_queue().await;
    for queue in [&in_memory as &dyn JobQueue, &sqs] {
        let result = queue
            .send(QueueName::Receipts, "{}".to_owned(), too_long)
            .await;
        assert!(matches!(result, Err(QueueError::DelayTooLong(d)) if d == too_long));
    }
    assert_eq!(in_memory.pending_count(QueueName::Receipts), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_receive_wakes_as_soon_as_a_message_arrives() {
    let queue = std::sync::Arc::new(InMemoryQueue::new());
    let mut latencies = Vec::new();
    for round in 0..200 {
        let receiver = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let received = queue
                    .receive(QueueName::Campaigns, 1, Duration::from_secs(20))
                    .await;
                (Instant::now(), received)
            })
        };
        // The first round gives the receiver ample time to be parked in its long poll.
        let settle = if round == 0 { 100 } else { 2 };
        tokio::time::sleep(Duration::from_millis(settle)).await;
        let sent_at = Instant::now();
        queue
            .send(
                QueueName::Campaigns,
                format!(r#"{{"round":{round}}}"#),
                Duration::ZERO,
            )
            .await
            .expect("send");
        let (received_at, received) = receiver.await.expect("receiver task");
        let received = received.expect("receive");
        assert_eq!(received.len(), 1);
        queue
            .ack(QueueName::Campaigns, &received[0].receipt_handle)
            .await
            .expect("ack");
        latencies.push(received_at.duration_since(sent_at));
    }
    let first = latencies[0];
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("in-memory send -> receive over 200 rounds: first {first:?}, median {median:?}, p99 {p99:?}, max {:?}", latencies[latencies.len() - 1]);
    assert!(first < Duration::from_millis(50), "woke after {first:?}");
    assert!(p99 < Duration::from_millis(50), "p99 {p99:?}");
}

#[tokio::test]
async fn sqs_send_to_receive_latency_is_low_with_long_polling() {
    let queue = std::sync::Arc::new(sqs_queue().await);
    let mut latencies = Vec::new();
    for round in 0..50 {
        let receiver = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let received = queue
                    .receive(QueueName::Receipts, 1, Duration::from_secs(5))
                    .await;
                (Instant::now(), received)
            })
        };
        // Lets the long poll reach moto before the send.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent_at = Instant::now();
        queue
            .send(
                QueueName::Receipts,
                format!(r#"{{"round":{round}}}"#),
                Duration::ZERO,
            )
            .await
            .expect("send");
        let (received_at, received) = receiver.await.expect("receiver task");
        let received = received.expect("receive");
        assert_eq!(received.len(), 1);
        queue
            .ack(QueueName::Receipts, &received[0].receipt_handle)
            .await
            .expect("ack");
        latencies.push(received_at.duration_since(sent_at));
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "moto send -> receive over 50 rounds: median {median:?}, p99 {p99:?}, max {:?}",
        latencies[latencies.len() - 1]
    );
    assert!(median < Duration::from_millis(500), "median {median:?}");
}

#[tokio::test]
async fn unacked_in_memory_message_reappears_after_the_visibility_timeout_with_receive_count_2() {
    let visibility = Duration::from_millis(200);
    let queue = InMemoryQueue::with_config(InMemoryQueueConfig {
        visibility_timeout: visibility,
        ..InMemoryQueueConfig::default()
    });
    queue
        .send(QueueName::Receipts, r#"{"n":1}"#.to_owned(), Duration::ZERO)
        .await
        .expect("send");
    let first = queue
        .receive(QueueName::Receipts, 1, NO_WAIT)
        .await
        .expect("first receive")
        .pop()
        .expect("a message");
    let received_at = Instant::now();
    assert_eq!(first.receive_count, 1);

    let hidden = queue
        .receive(QueueName::Receipts, 1, NO_WAIT)
        .await
        .expect("receive while in flight");
    assert!(
        hidden.is_empty(),
        "an in-flight message was delivered twice"
    );

    // The waiting receive is woken by the visibility deadline itself (no send happens),
    // long before its 2 s wait would end.
    let again = queue
        .receive(QueueName::Receipts, 1, Duration::from_secs(2))
        .await
        .expect("second receive")
        .pop()
        .expect("the message again");
    assert!(received_at.elapsed() >= visibility);
    assert!(received_at.elapsed() < Duration::from_secs(1));
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.receive_count, 2);
    assert_ne!(again.receipt_handle, first.receipt_handle);

    // The first delivery's handle is stale now: acking it deletes nothing.
    queue
        .ack(QueueName::Receipts, &first.receipt_handle)
        .await
        .expect("stale ack");
    assert_eq!(queue.pending_count(QueueName::Receipts), 1);
    queue
        .ack(QueueName::Receipts, &again.receipt_handle)
        .await
        .expect("ack");
    assert_eq!(queue.pending_count(QueueName::Receipts), 0);
}

#[tokio::test]
async fn unacked_sqs_message_comes_back_with_receive_count_2() {
    let queue = sqs_queue().await;
    queue
        .send(QueueName::Receipts, r#"{"n":1}"#.to_owned(), Duration::ZERO)
        .await
        .expect("send");
    let first = queue
        .receive(QueueName::Receipts, 1, Duration::from_secs(2))
        .await
        .expect("first receive")
        .pop()
        .expect("a message");
    assert_eq!(first.receive_count, 1);
    // Ends the 360 s visibility timeout now instead of waiting for it.
    queue
        .client()
        .change_message_visibility()
        .queue_url(queue.queue_url(QueueName::Receipts))
        .receipt_handle(&first.receipt_handle)
        .visibility_timeout(0)
        .send()
        .await
        .expect("change visibility");
    let again = queue
        .receive(QueueName::Receipts, 1, Duration::from_secs(2))
        .await
        .expect("second receive")
        .pop()
        .expect("the message again");
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.receive_count, 2);
}

#[tokio::test]
async fn in_memory_message_is_dead_lettered_after_max_receive_count_deliveries() {
    let queue = InMemoryQueue::with_config(InMemoryQueueConfig {
        visibility_timeout: Duration::ZERO,
        max_receive_count: Some(2),
    });
    queue
        .send(
            QueueName::Receipts,
            r#"{"poison":true}"#.to_owned(),
            Duration::ZERO,
        )
        .await
        .expect("send");
    for expected_count in 1..=2 {
        let message = queue
            .receive(QueueName::Receipts, 10, NO_WAIT)
            .await
            .expect("receive");
        assert_eq!(
            message.len(),
            1,
            "a zero visibility timeout yields one copy per receive"
        );
        assert_eq!(message[0].receive_count, expected_count);
    }
    let third = queue
        .receive(QueueName::Receipts, 10, NO_WAIT)
        .await
        .expect("receive");
    assert!(third.is_empty());
    assert_eq!(queue.pending_count(QueueName::Receipts), 0);
    let dead = queue.dead_letters(QueueName::Receipts);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, r#"{"poison":true}"#);
}

#[tokio::test]
async fn in_memory_ack_with_a_forged_receipt_handle_is_rejected() {
    let queue = InMemoryQueue::new();
    let result = queue.ack(QueueName::Receipts, "not-a-handle").await;
    assert!(matches!(result, Err(QueueError::InvalidReceiptHandle(_))));
}

#[tokio::test]
async fn in_memory_receive_returns_empty_after_its_wait_when_nothing_arrives() {
    let queue = InMemoryQueue::new();
    let started = Instant::now();
    let received = queue
        .receive(QueueName::Receipts, 10, Duration::from_millis(150))
        .await
        .expect("receive");
    assert!(received.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(started.elapsed() < Duration::from_secs(1));
}
