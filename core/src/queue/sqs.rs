//! Amazon SQS backend of the job queue (also used against the moto server locally).

use std::time::Duration;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;

use super::{
    JobQueue, QueueError, QueueName, ReceivedMessage, MAX_DELAY, MAX_RECEIVE_BATCH,
    MAX_RECEIVE_WAIT,
};

/// Region used with a custom endpoint when `AWS_REGION` is unset.
const LOCAL_DEFAULT_REGION: &str = "eu-central-1";

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Builds an SQS client. With an endpoint (moto): dummy static credentials and `region`, so
/// nothing reaches AWS or the instance metadata service. Without one: the default AWS
/// credential and region chain (the function's role in Lambda), and `region` is ignored.
/// Build it once per process and share it.
pub async fn sqs_client(endpoint_url: Option<&str>, region: &str) -> Client {
    let config = match endpoint_url {
        Some(endpoint) => {
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.to_owned()))
                .endpoint_url(endpoint)
                .credentials_provider(Credentials::new("test", "test", None, None, "promo-local"))
                .load()
                .await
        }
        None => aws_config::load_defaults(BehaviorVersion::latest()).await,
    };
    Client::new(&config)
}

/// The queues on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    receipts_url: String,
    campaigns_url: String,
}

impl SqsQueue {
    /// Connects to the queues at these URLs; `endpoint_url` and `region` as in [`sqs_client`].
    /// The configuration (`config::QueueSettings`) reads them from the environment.
    pub async fn connect(
        receipts_url: String,
        campaigns_url: String,
        endpoint_url: Option<&str>,
        region: &str,
    ) -> Self {
        Self::from_client(
            sqs_client(endpoint_url, region).await,
            receipts_url,
            campaigns_url,
        )
    }

    pub fn from_client(client: Client, receipts_url: String, campaigns_url: String) -> Self {
        Self {
            client,
            receipts_url,
            campaigns_url,
        }
    }

    /// The underlying client, for what the port does not cover (queue attributes in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self, queue: QueueName) -> &str {
        match queue {
            QueueName::Receipts => &self.receipts_url,
            QueueName::Campaigns => &self.campaigns_url,
        }
    }

    /// Creates `{prefix}receipts` and `{prefix}campaigns`, each with a `-dlq` dead-letter
    /// queue, at a local endpoint (moto), with the visibility timeouts and redrive policy of
    /// the SAM template. Returns `(receipts_url, campaigns_url)`. Creating existing queues
    /// with the same attributes succeeds, so this is safe to call on every start.
    pub async fn create_queues_for_local(
        endpoint: &str,
        prefix: &str,
    ) -> Result<(String, String), QueueError> {
        let region = non_empty_env("AWS_REGION").unwrap_or_else(|| LOCAL_DEFAULT_REGION.to_owned());
        let client = sqs_client(Some(endpoint), &region).await;
        // Keep in step with sam-template.yaml: the visibility timeouts outlast the
        // functions' timeouts (60 s and 900 s).
        let receipts = create_queue_with_dlq(
            &client,
            &format!("{prefix}receipts"),
            Duration::from_secs(360),
        )
        .await?;
        let campaigns = create_queue_with_dlq(
            &client,
            &format!("{prefix}campaigns"),
            Duration::from_secs(960),
        )
        .await?;
        Ok((receipts, campaigns))
    }
}

/// Same `maxReceiveCount` as the SAM template and [`super::InMemoryQueueConfig`].
const MAX_RECEIVE_COUNT: u32 = 5;

async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    visibility_timeout: Duration,
) -> Result<String, QueueError> {
    let dlq_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| sqs_error("CreateQueue", e))?
        .queue_url
        .ok_or_else(|| missing("CreateQueue", "QueueUrl"))?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error("GetQueueAttributes", e))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| missing("GetQueueAttributes", "QueueArn"))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    });
    client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.as_secs().to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| sqs_error("CreateQueue", e))?
        .queue_url
        .ok_or_else(|| missing("CreateQueue", "QueueUrl"))
}

fn sqs_error<E>(operation: &'static str, error: E) -> QueueError
where
    E: std::error::Error + 'static,
{
    QueueError::Sqs {
        operation,
        detail: DisplayErrorContext(&error).to_string(),
    }
}

fn missing(operation: &'static str, field: &str) -> QueueError {
    QueueError::Sqs {
        operation,
        detail: format!("response has no {field}"),
    }
}

/// Whole seconds, rounded up: a sub-second delay still delays, and a sub-second wait still
/// long-polls (a zero wait is a short poll, which may miss messages).
fn ceil_secs(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[async_trait::async_trait]
impl JobQueue for SqsQueue {
    async fn send(
        &self,
        queue: QueueName,
        body: String,
        delay: Duration,
    ) -> Result<(), QueueError> {
        if delay > MAX_DELAY {
            return Err(QueueError::DelayTooLong(delay));
        }
        let output = self
            .client
            .send_message()
            .queue_url(self.queue_url(queue))
            .message_body(body)
            .delay_seconds(ceil_secs(delay))
            .send()
            .await
            .map_err(|e| sqs_error("SendMessage", e))?;
        tracing::debug!(%queue, message_id = output.message_id().unwrap_or_default(), ?delay, "message sent");
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max = max.clamp(1, MAX_RECEIVE_BATCH);
        let output = self
            .client
            .receive_message()
            .queue_url(self.queue_url(queue))
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .wait_time_seconds(ceil_secs(wait.min(MAX_RECEIVE_WAIT)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", e))?;
        let received = output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| {
                let receive_count = message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                match (message.message_id, message.receipt_handle) {
                    (Some(message_id), Some(receipt_handle)) => Some(ReceivedMessage {
                        message_id,
                        receipt_handle,
                        body: message.body.unwrap_or_default(),
                        receive_count,
                    }),
                    // Cannot be acked; SQS redelivers it and finally dead-letters it.
                    _ => {
                        tracing::warn!(%queue, "SQS returned a message without id or receipt handle, skipped");
                        None
                    }
                }
            })
            .collect();
        Ok(received)
    }

    async fn ack(&self, queue: QueueName, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(self.queue_url(queue))
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_receipt_handle_is_invalid() => {
                    QueueError::InvalidReceiptHandle(receipt_handle.to_owned())
                }
                _ => sqs_error("DeleteMessage", e),
            })?;
        Ok(())
    }
}
