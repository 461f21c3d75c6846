//! The queue port: at-least-once delivery with visibility timeouts and dead letters, as SQS has.

use std::time::Duration;

use async_trait::async_trait;

/// SQS's limit on one message.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// SQS's limit on one receive; larger sends are split by the adapters.
pub const MAX_BATCH: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub body: String,
    /// Invisible for this long after the send (at most 15 minutes).
    pub delay: Duration,
}

impl OutMessage {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
    pub fn delayed(mut self, by: Duration) -> Self {
        self.delay = by;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    /// Proves this receive; needed to delete the message or extend its timeout.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// How a queue is provisioned: the embedded store creates it; in AWS the template does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    /// After this many receives without a delete, the next receive moves the message to the DLQ.
    pub max_receives: u32,
    pub dead_letter: Option<String>,
}

impl QueueSpec {
    pub fn with_dlq(name: &str, max_receives: u32) -> (QueueSpec, QueueSpec) {
        let dlq = format!("{name}-dlq");
        (
            QueueSpec {
                name: name.to_owned(),
                max_receives,
                dead_letter: Some(dlq.clone()),
            },
            QueueSpec {
                name: dlq,
                max_receives: 0,
                dead_letter: None,
            },
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("message body is {0} bytes; the limit is {MAX_BODY_BYTES}")]
    TooLarge(usize),
    #[error("invalid request: {0}")]
    Validation(String),
    #[error("the queue does not exist: {0}")]
    NoSuchQueue(String),
    #[error("the queue is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// `embedded` or `sqs`.
    fn kind(&self) -> &'static str;
    fn name(&self) -> &str;
    /// Sends every message (split into batches of ten); returns their ids in order.
    async fn send_batch(&self, messages: Vec<OutMessage>) -> Result<Vec<String>, QueueError>;
    /// Receives up to `max` (1–10) messages, hiding them for `visibility`; waits up to `wait` for one.
    async fn receive(&self, max: u32, visibility: Duration, wait: Duration) -> Result<Vec<Received>, QueueError>;
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
    async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError>;
    /// Visible plus in-flight messages (approximate on SQS).
    async fn depth(&self) -> Result<u64, QueueError>;

    async fn send(&self, message: OutMessage) -> Result<String, QueueError> {
        let mut ids = self.send_batch(vec![message]).await?;
        ids.pop()
            .ok_or_else(|| QueueError::Unavailable("no id returned".into()))
    }
}

pub(crate) fn check_batch(messages: &[OutMessage], max_receive_batch: u32) -> Result<(), QueueError> {
    for m in messages {
        if m.body.len() > MAX_BODY_BYTES {
            return Err(QueueError::TooLarge(m.body.len()));
        }
        if m.delay > Duration::from_secs(900) {
            return Err(QueueError::Validation("delay is at most 15 minutes".into()));
        }
    }
    if max_receive_batch == 0 || max_receive_batch as usize > MAX_BATCH {
        return Err(QueueError::Validation(format!(
            "receive takes 1 to {MAX_BATCH} messages"
        )));
    }
    Ok(())
}
