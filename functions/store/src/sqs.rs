//! The SQS backend, through `aws-sdk-sqs`, with a configurable endpoint.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};

use crate::queue::{self, MAX_BATCH, OutMessage, Queue, QueueError, QueueSpec, Received};

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
}

fn map_err<E, R>(e: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let message = e.message().unwrap_or_default().to_owned();
    match e.code() {
        Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist") => QueueError::NoSuchQueue(message),
        Some(c) if c.contains("InvalidParameterValue") || c.contains("InvalidAttributeValue") => {
            QueueError::Validation(message)
        }
        Some(c) => QueueError::Unavailable(format!("{c}: {message}")),
        None => QueueError::Unavailable(format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e))),
    }
}

impl SqsQueue {
    /// A queue that already exists (AWS mode: the template made it).
    pub fn new(client: Client, url: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
            name: name.into(),
        }
    }

    /// Creates the queue, and its dead-letter queue with the redrive policy, when missing.
    pub async fn ensure(client: &Client, spec: &QueueSpec) -> Result<Self, QueueError> {
        let mut attrs = HashMap::new();
        if let Some(dlq) = &spec.dead_letter {
            let dlq_url = client
                .create_queue()
                .queue_name(dlq)
                .send()
                .await
                .map_err(map_err)?
                .queue_url
                .unwrap_or_default();
            let arn = client
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(map_err)?
                .attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                .ok_or_else(|| QueueError::Unavailable("dead-letter queue has no ARN".into()))?;
            let policy = format!(
                r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{}"}}"#,
                spec.max_receives
            );
            attrs.insert(QueueAttributeName::RedrivePolicy, policy);
        }
        let url = client
            .create_queue()
            .queue_name(&spec.name)
            .set_attributes((!attrs.is_empty()).then_some(attrs))
            .send()
            .await
            .map_err(map_err)?
            .queue_url
            .unwrap_or_default();
        Ok(Self::new(client.clone(), url, spec.name.clone()))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    fn kind(&self) -> &'static str {
        "sqs"
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, messages: Vec<OutMessage>) -> Result<Vec<String>, QueueError> {
        queue::check_batch(&messages, 1)?;
        let mut ids = Vec::with_capacity(messages.len());
        for batch in messages.chunks(MAX_BATCH) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&m.body)
                        .delay_seconds(m.delay.as_secs() as i32)
                        .build()
                        .map_err(|e| QueueError::Validation(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(map_err)?;
            if let Some(f) = out.failed.first() {
                return Err(QueueError::Unavailable(format!(
                    "send failed: {} {}",
                    f.code,
                    f.message.clone().unwrap_or_default()
                )));
            }
            let mut ok = out.successful;
            ok.sort_by_key(|s| s.id.parse::<usize>().unwrap_or(usize::MAX));
            ids.extend(ok.into_iter().map(|s| s.message_id));
        }
        Ok(ids)
    }

    async fn receive(&self, max: u32, visibility: Duration, wait: Duration) -> Result<Vec<Received>, QueueError> {
        queue::check_batch(&[], max)?;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max as i32)
            .visibility_timeout(visibility.as_secs() as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| Received {
                receive_count: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                id: m.message_id.unwrap_or_default(),
                receipt: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(visibility.as_secs() as i32)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(map_err)?
            .attributes
            .unwrap_or_default();
        Ok(attrs.values().filter_map(|v| v.parse::<u64>().ok()).sum())
    }
}
