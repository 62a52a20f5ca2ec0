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

/// The worker function's timeout (infra/template.yaml, `WorkerFunction.Timeout`).
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(900);
/// The job queue's visibility timeout: six times the worker's, as AWS advises for
/// SQS-triggered functions. The template and `runn-clockify setup` both use this value
/// (a test holds the template to it).
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(6 * 900);
/// Receives of a failing job before it goes to the dead-letter queue (the template's
/// default `MaxReceives`).
pub const MAX_RECEIVES: u32 = 5;
/// How long a job that met another run's lease waits before it is tried again.
pub const LEASE_RETRY_DELAY: Duration = Duration::from_secs(180);

#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    /// Sends jobs, at most ten per call, retrying entries the queue hands back.
    async fn send(&self, jobs: &[ImportJob]) -> Result<(), QueueError>;
    /// Sends one job to be received no sooner than `delay` from now (at most 15 minutes).
    async fn send_later(&self, job: &ImportJob, delay: Duration) -> Result<(), QueueError>;
}

#[derive(Clone, Debug)]
pub struct SqsQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

/// A message received from SQS: its id, body and the handle that deletes it.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub body: Option<String>,
    pub receipt: Option<String>,
}

impl SqsQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            sqs,
            url: url.into(),
        }
    }

    /// Up to ten messages, waiting up to `wait` for the first (long polling).
    pub async fn receive(&self, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(MAX_BATCH as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(got
            .messages()
            .iter()
            .map(|m| Received {
                id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().map(str::to_owned),
                receipt: m.receipt_handle().map(str::to_owned),
            })
            .collect())
    }

    /// Deletes a message that was dealt with.
    pub async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
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

    async fn send_later(&self, job: &ImportJob, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

/// Collects jobs in memory.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: Mutex<Vec<ImportJob>>,
    /// Jobs sent with a delay, and the delay.
    pub delayed: Mutex<Vec<(ImportJob, Duration)>>,
}

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, jobs: &[ImportJob]) -> Result<(), QueueError> {
        self.sent.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
    async fn send_later(&self, job: &ImportJob, delay: Duration) -> Result<(), QueueError> {
        self.delayed.lock().unwrap().push((job.clone(), delay));
        Ok(())
    }
}
