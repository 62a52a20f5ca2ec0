//! The import job queue: SQS in production and tests, memory for unit tests.

use crate::account::{AccountId, Trigger};
use crate::error::FailureClass;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// One account's import, as an SQS message body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub account: AccountId,
    pub run_id: String,
    pub trigger: Trigger,
    /// Restricts the run to some parts (a button on one Runn page); `None` = the switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Parts>,
}

/// Parts of an import a manual run can be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parts {
    pub clients_and_projects: bool,
    pub people: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the queue refused or could not be reached: {0}")]
pub struct QueueError(pub String);

impl QueueError {
    pub fn class(&self) -> FailureClass {
        FailureClass::Transient
    }
}

pub const MAX_BATCH: usize = 10;

#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    /// Sends jobs, at most ten per call, retrying entries the queue hands back.
    async fn send(&self, jobs: &[ImportJob]) -> Result<(), QueueError>;
}

#[derive(Clone, Debug)]
pub struct SqsQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            sqs,
            url: url.into(),
        }
    }
}

#[async_trait::async_trait]
impl Queue for SqsQueue {
    async fn send(&self, jobs: &[ImportJob]) -> Result<(), QueueError> {
        for batch in jobs.chunks(MAX_BATCH) {
            let mut pending: Vec<(String, String)> = batch
                .iter()
                .enumerate()
                .map(|(i, j)| serde_json::to_string(j).map(|body| (format!("m{i}"), body)))
                .collect::<Result<_, _>>()
                .map_err(|e| QueueError(e.to_string()))?;
            for attempt in 0..6u32 {
                let entries = pending
                    .iter()
                    .map(|(id, body)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(body)
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| QueueError(e.to_string()))?;
                let out = self
                    .sqs
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| {
                        QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                    })?;
                let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    pending.clear();
                    break;
                }
                tracing::warn!(
                    failed = failed.len(),
                    attempt,
                    "SQS refused some entries; sending them again"
                );
                pending.retain(|(id, _)| failed.contains(&id.as_str()));
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            if !pending.is_empty() {
                return Err(QueueError(format!(
                    "{} messages were refused on every attempt",
                    pending.len()
                )));
            }
        }
        Ok(())
    }
}

/// Collects jobs in memory.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: Mutex<Vec<ImportJob>>,
}

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, jobs: &[ImportJob]) -> Result<(), QueueError> {
        self.sent.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
}
