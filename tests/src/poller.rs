//! What Lambda's SQS event source mapping does for the worker, on this machine: long-polls
//! queues (moto), hands each batch to the function as the SQS event, and deletes every
//! message the answer does not name in `batchItemFailures` (`ReportBatchItemFailures`);
//! those, and a whole batch whose invocation failed, come back after their visibility
//! timeout. One task per queue, until stopped.

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName,
};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The most messages in one batch (SQS's limit for a receive).
pub const BATCH: i32 = 10;
/// The long poll's wait: short, so a stop is noticed within it.
pub const WAIT_SECONDS: i32 = 1;
/// How long an invocation may take (Lambda's limit).
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(900);

/// What the poller did so far, over all its queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Batches handed to the function.
    pub invocations: u64,
    /// Messages in those batches.
    pub messages: u64,
    /// Messages deleted: the function took them.
    pub deleted: u64,
    /// Messages left to come back: named in `batchItemFailures`, or of a failed batch.
    pub failures: u64,
    /// Invocations that failed as a whole (a function error, an unreadable answer).
    pub invoke_errors: u64,
    /// Receives and deletes SQS refused.
    pub sqs_errors: u64,
}

#[derive(Default)]
struct Counters([AtomicU64; 6]);

impl Counters {
    fn add(&self, which: usize, n: u64) {
        self.0[which].fetch_add(n, Ordering::Relaxed);
    }
    fn get(&self, which: usize) -> u64 {
        self.0[which].load(Ordering::Relaxed)
    }
}

const INVOCATIONS: usize = 0;
const MESSAGES: usize = 1;
const DELETED: usize = 2;
const FAILURES: usize = 3;
const INVOKE_ERRORS: usize = 4;
const SQS_ERRORS: usize = 5;

/// The event source mapping of one function, polling until [`Poller::stop`] (or drop).
pub struct Poller {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    counters: Arc<Counters>,
}

/// One queue's poll loop and what it needs.
struct Source {
    sqs: aws_sdk_sqs::Client,
    http: reqwest::Client,
    queue_url: String,
    arn: String,
    region: String,
    invoke_url: String,
    counters: Arc<Counters>,
}

impl Poller {
    /// Polls each of `queue_urls` for the function at `invoke_url` (the emulator's
    /// Invoke API), in tasks of the current runtime.
    pub fn spawn(sqs: aws_sdk_sqs::Client, queue_urls: Vec<String>, invoke_url: String) -> Self {
        let (stop, watching) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let region = sqs
            .config()
            .region()
            .map_or("us-east-1".to_owned(), |r| r.to_string());
        let tasks = queue_urls
            .into_iter()
            .map(|queue_url| {
                let source = Source {
                    sqs: sqs.clone(),
                    http: reqwest::Client::new(),
                    arn: queue_arn(&queue_url, &region),
                    queue_url,
                    region: region.clone(),
                    invoke_url: invoke_url.clone(),
                    counters: counters.clone(),
                };
                tokio::spawn(source.run(watching.clone()))
            })
            .collect();
        Self {
            stop,
            tasks,
            counters,
        }
    }

    pub fn stats(&self) -> PollStats {
        let c = &self.counters;
        PollStats {
            invocations: c.get(INVOCATIONS),
            messages: c.get(MESSAGES),
            deleted: c.get(DELETED),
            failures: c.get(FAILURES),
            invoke_errors: c.get(INVOKE_ERRORS),
            sqs_errors: c.get(SQS_ERRORS),
        }
    }

    /// Stops polling (a batch being invoked is abandoned: its messages come back, as a
    /// function cut off does) and waits for the tasks; the final stats.
    pub async fn stop(mut self) -> PollStats {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            // A task that panicked has stopped too: nothing more to wait for.
            let _ = task.await;
        }
        self.stats()
    }
}

impl Source {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow_and_update() {
            let received = tokio::select! {
                r = self.receive() => r,
                _ = stop.changed() => break,
            };
            let messages = match received {
                Ok(m) => m,
                Err(e) => {
                    self.counters.add(SQS_ERRORS, 1);
                    tracing::warn!(queue = %self.queue_url, error = %e, "receive failed");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                        _ = stop.changed() => break,
                    }
                }
            };
            if messages.is_empty() {
                continue;
            }
            tokio::select! {
                _ = self.hand_over(&messages) => {}
                _ = stop.changed() => break,
            }
        }
    }

    async fn receive(&self) -> Result<Vec<Message>, aws_sdk_sqs::Error> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH)
            .wait_time_seconds(WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?;
        Ok(out.messages.unwrap_or_default())
    }

    /// One invocation with the batch, then the deletes of what it took.
    async fn hand_over(&self, messages: &[Message]) {
        let event = json!({
            "Records": messages
                .iter()
                .map(|m| sqs_record(m, &self.arn, &self.region))
                .collect::<Vec<_>>()
        });
        self.counters.add(INVOCATIONS, 1);
        self.counters.add(MESSAGES, messages.len() as u64);
        let answer = self.invoke(&event).await;
        let failed = answer.as_ref().ok().and_then(|a| failed_items(a, messages));
        let Some(failed) = failed else {
            if let Err(e) = &answer {
                tracing::warn!(queue = %self.queue_url, error = %e, "the invocation failed");
            }
            self.counters.add(INVOKE_ERRORS, 1);
            self.counters.add(FAILURES, messages.len() as u64);
            return;
        };
        self.counters.add(FAILURES, failed.len() as u64);
        let taken: Vec<&Message> = messages
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .collect();
        self.delete(&taken).await;
    }

    async fn invoke(&self, event: &Value) -> Result<Value, String> {
        let response = self
            .http
            .post(&self.invoke_url)
            .json(event)
            .timeout(INVOKE_TIMEOUT)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() || response.headers().contains_key("x-amz-function-error") {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("the function failed ({status}): {text}"));
        }
        response.json().await.map_err(|e| e.to_string())
    }

    async fn delete(&self, taken: &[&Message]) {
        if taken.is_empty() {
            return;
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = taken
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        let sent = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match sent {
            Ok(out) => {
                self.counters.add(DELETED, out.successful().len() as u64);
                self.counters.add(SQS_ERRORS, out.failed().len() as u64);
            }
            Err(e) => {
                self.counters.add(SQS_ERRORS, 1);
                tracing::warn!(queue = %self.queue_url, error = %e, "delete failed");
            }
        }
    }
}

/// The ids the answer reports failed; `None` when the answer fails the whole batch, as
/// the event source mapping reads it (an identifier that is missing, empty or not of the
/// batch). An answer without `batchItemFailures` took every message.
pub fn failed_items(answer: &Value, messages: &[Message]) -> Option<Vec<String>> {
    let Some(items) = answer.get("batchItemFailures").filter(|v| !v.is_null()) else {
        return Some(Vec::new());
    };
    items
        .as_array()?
        .iter()
        .map(|item| {
            let id = item["itemIdentifier"]
                .as_str()
                .filter(|id| !id.is_empty())?;
            messages
                .iter()
                .any(|m| m.message_id() == Some(id))
                .then(|| id.to_owned())
        })
        .collect()
}

/// A queue's ARN from its URL (`…/<account>/<name>`), as SQS names it.
pub fn queue_arn(queue_url: &str, region: &str) -> String {
    let mut parts = queue_url.trim_end_matches('/').rsplit('/');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or("123456789012");
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// A received message as the event source mapping puts it in the event's `Records`.
pub fn sqs_record(m: &Message, arn: &str, region: &str) -> Value {
    let attributes: Map<String, Value> = m
        .attributes()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
        .collect();
    let message_attributes: Map<String, Value> = m
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), message_attribute(v)))
        .collect();
    json!({
        "messageId": m.message_id().unwrap_or_default(),
        "receiptHandle": m.receipt_handle().unwrap_or_default(),
        "body": m.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": m.md5_of_body().unwrap_or_default(),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region
    })
}

fn message_attribute(v: &MessageAttributeValue) -> Value {
    let b64 = |b: &aws_sdk_sqs::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    let mut out = json!({
        "stringListValues": v.string_list_values(),
        "binaryListValues": v.binary_list_values().iter().map(b64).collect::<Vec<_>>(),
        "dataType": v.data_type()
    });
    if let Some(s) = v.string_value() {
        out["stringValue"] = json!(s);
    }
    if let Some(b) = v.binary_value() {
        out["binaryValue"] = json!(b64(b));
    }
    out
}
