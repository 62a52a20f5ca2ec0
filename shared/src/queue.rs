//! The import job queue: SQS in production and tests, memory for unit tests.

use crate::account::{AccountId, Switches, Trigger};
use crate::error::FailureClass;
use crate::model::links::{LinkRequest, RemovalRequest};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// One job for one account, as an SQS message body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WireJob", into = "WireJob")]
pub struct Job {
    pub account: AccountId,
    pub run_id: String,
    pub trigger: Trigger,
    pub work: Work,
}

/// What a job does. Every kind that writes runs under the account's one lease, so none
/// races another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// The daily job and the import buttons: the import of clients, projects and people,
    /// then the actuals sync (the back-fill first, while it is not done) — each where the
    /// account's switches and `only` allow.
    Import {
        only: Option<Switches>,
        /// A continuation's first day of the window still to sync (the days before it were
        /// synced by the run it continues).
        resume: Option<NaiveDate>,
    },
    /// A one-off re-sync of the actuals of a past range, beyond the window.
    Actuals { from: NaiveDate, to: NaiveDate },
    /// The zero-hour autofill of the Monday–Sunday week starting `week`; `None`: the last
    /// complete week in the account's time zone when the job runs.
    Autofill { week: Option<NaiveDate> },
    /// A dry run: what an import of `only` (the daily days, or `[from, to]`) would do,
    /// planned and recorded, nothing written.
    Preview {
        only: Option<Switches>,
        range: Option<(NaiveDate, NaiveDate)>,
    },
    /// The link suggestions: every Clockify record that looks like one already in Runn,
    /// kept with the run (it reads only).
    Suggest,
    /// A reviewed list of links and rejections, applied (or, dry, checked).
    Link { request: LinkRequest, dry_run: bool },
    /// Removing what the integration imported (or, dry, listing it).
    Remove(RemovalRequest),
    /// Near-real-time work, on the webhook queue of its own.
    Hooks(HookWork),
}

/// The webhook queue's jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookWork {
    /// Registers (or repairs) the integration's webhooks on the workspace.
    Register,
    /// After turning off: deletes them with the key kept for it, then the key.
    Cleanup,
    /// Brings in the changes deliveries marked (debounced: one job at a time).
    Changes,
}

impl Job {
    /// A webhook queue job for the account.
    pub fn hooks(account: AccountId, work: HookWork) -> Self {
        Self {
            account,
            run_id: format!("hooks-{}", uuid::Uuid::new_v4().simple()),
            trigger: Trigger::Webhook,
            work: Work::Hooks(work),
        }
    }
}

impl Job {
    /// The import (and the actuals after it), as the daily schedule queues it.
    pub fn import(account: AccountId, run_id: impl Into<String>, trigger: Trigger) -> Self {
        Self {
            account,
            run_id: run_id.into(),
            trigger,
            work: Work::Import {
                only: None,
                resume: None,
            },
        }
    }
}

/// The message as JSON. A message without `kind` — every message before actuals — is an
/// import, its `only` switches included.
#[derive(Serialize, Deserialize)]
struct WireJob {
    account: AccountId,
    run_id: String,
    trigger: Trigger,
    #[serde(default)]
    kind: WireKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    only: Option<Switches>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    week: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    links: Option<LinkRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    removal: Option<RemovalRequest>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
}

#[derive(Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireKind {
    #[default]
    Import,
    Actuals,
    Autofill,
    Preview,
    Suggest,
    Link,
    Remove,
    HookRegister,
    HookCleanup,
    Changes,
}

impl TryFrom<WireJob> for Job {
    type Error = String;
    fn try_from(w: WireJob) -> Result<Self, String> {
        let work = match w.kind {
            WireKind::Import => Work::Import {
                only: w.only,
                resume: w.from,
            },
            WireKind::Actuals => match (w.from, w.to) {
                (Some(from), Some(to)) if from <= to => Work::Actuals { from, to },
                _ => return Err("an actuals job needs `from` no later than `to`".into()),
            },
            WireKind::Autofill => Work::Autofill { week: w.week },
            WireKind::Preview => match (w.from, w.to) {
                (None, None) => Work::Preview {
                    only: w.only,
                    range: None,
                },
                (Some(from), Some(to)) if from <= to => Work::Preview {
                    only: w.only,
                    range: Some((from, to)),
                },
                _ => return Err("a preview of a range needs `from` no later than `to`".into()),
            },
            WireKind::Suggest => Work::Suggest,
            WireKind::Link => Work::Link {
                request: w.links.ok_or("a links job needs its `links`")?,
                dry_run: w.dry_run,
            },
            WireKind::Remove => Work::Remove(w.removal.ok_or("a removal job needs its `removal`")?),
            WireKind::HookRegister => Work::Hooks(HookWork::Register),
            WireKind::HookCleanup => Work::Hooks(HookWork::Cleanup),
            WireKind::Changes => Work::Hooks(HookWork::Changes),
        };
        Ok(Job {
            account: w.account,
            run_id: w.run_id,
            trigger: w.trigger,
            work,
        })
    }
}

impl From<Job> for WireJob {
    fn from(j: Job) -> Self {
        let mut w = WireJob {
            account: j.account,
            run_id: j.run_id,
            trigger: j.trigger,
            kind: WireKind::Import,
            only: None,
            from: None,
            to: None,
            week: None,
            links: None,
            removal: None,
            dry_run: false,
        };
        match j.work {
            Work::Import { only, resume } => {
                w.only = only;
                w.from = resume;
            }
            Work::Actuals { from, to } => {
                w.kind = WireKind::Actuals;
                (w.from, w.to) = (Some(from), Some(to));
            }
            Work::Autofill { week } => {
                w.kind = WireKind::Autofill;
                w.week = week;
            }
            Work::Preview { only, range } => {
                w.kind = WireKind::Preview;
                w.only = only;
                if let Some((from, to)) = range {
                    (w.from, w.to) = (Some(from), Some(to));
                }
            }
            Work::Suggest => w.kind = WireKind::Suggest,
            Work::Link { request, dry_run } => {
                w.kind = WireKind::Link;
                w.links = Some(request);
                w.dry_run = dry_run;
            }
            Work::Remove(removal) => {
                w.kind = WireKind::Remove;
                w.removal = Some(removal);
            }
            Work::Hooks(HookWork::Register) => w.kind = WireKind::HookRegister,
            Work::Hooks(HookWork::Cleanup) => w.kind = WireKind::HookCleanup,
            Work::Hooks(HookWork::Changes) => w.kind = WireKind::Changes,
        }
        w
    }
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
/// How long an account's "queued or running" mark lasts if its job never clears it
/// (dead-lettered, lost): the visibility timeout and a quarter of an hour, refreshed at
/// each receive of its job, so a retried job (back after the visibility timeout) still
/// holds it, and the import buttons are never stuck for longer.
pub const PENDING_TTL: Duration = Duration::from_secs(VISIBILITY_TIMEOUT.as_secs() + 15 * 60);
/// How long a job that met another run's lease waits before it is tried again.
pub const LEASE_RETRY_DELAY: Duration = Duration::from_secs(180);

#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    /// Sends jobs, at most ten per call, retrying entries the queue hands back.
    async fn send(&self, jobs: &[Job]) -> Result<(), QueueError>;
    /// Sends one job to be received no sooner than `delay` from now (at most 15 minutes).
    async fn send_later(&self, job: &Job, delay: Duration) -> Result<(), QueueError>;
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
    async fn send(&self, jobs: &[Job]) -> Result<(), QueueError> {
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

    async fn send_later(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
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

/// The job queue and the webhook queue behind one [`Queue`]: webhook jobs go to their
/// own (so the daily fan-out's backlog never delays them), the rest to the job queue.
/// Without a webhook queue, all go to the job queue.
#[derive(Clone)]
pub struct Routed {
    pub jobs: std::sync::Arc<dyn Queue>,
    pub hooks: Option<std::sync::Arc<dyn Queue>>,
}

impl Routed {
    fn of(&self, job: &Job) -> &dyn Queue {
        match (&job.work, &self.hooks) {
            (Work::Hooks(_), Some(hooks)) => hooks.as_ref(),
            _ => self.jobs.as_ref(),
        }
    }
}

#[async_trait::async_trait]
impl Queue for Routed {
    async fn send(&self, jobs: &[Job]) -> Result<(), QueueError> {
        let (hooks, rest): (Vec<Job>, Vec<Job>) = jobs
            .iter()
            .cloned()
            .partition(|j| matches!(j.work, Work::Hooks(_)));
        if !rest.is_empty() {
            self.jobs.send(&rest).await?;
        }
        if let Some(first) = hooks.first() {
            self.of(first).send(&hooks).await?;
        }
        Ok(())
    }
    async fn send_later(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        self.of(job).send_later(job, delay).await
    }
}

/// Collects jobs in memory.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: Mutex<Vec<Job>>,
    /// Jobs sent with a delay, and the delay.
    pub delayed: Mutex<Vec<(Job, Duration)>>,
}

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, jobs: &[Job]) -> Result<(), QueueError> {
        self.sent.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
    async fn send_later(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        self.delayed.lock().unwrap().push((job.clone(), delay));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_the_import_only_days_still_decode_as_imports() {
        let old = r#"{"account":"acme","run_id":"r1","trigger":"continuation"}"#;
        let job: Job = serde_json::from_str(old).unwrap();
        assert_eq!(
            job.work,
            Work::Import {
                only: None,
                resume: None
            }
        );
        assert_eq!(job.trigger, Trigger::Continuation);
        let old = r#"{"account":"acme","run_id":"r1","trigger":"manual","only":{"clients_and_projects":false,"people":true}}"#;
        let job: Job = serde_json::from_str(old).unwrap();
        let only = Switches {
            clients_and_projects: false,
            people: true,
            actuals: false,
        };
        assert_eq!(
            job.work,
            Work::Import {
                only: Some(only),
                resume: None
            }
        );
    }

    #[test]
    fn every_kind_round_trips_and_a_bad_one_is_refused() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        for work in [
            Work::Import {
                only: None,
                resume: None,
            },
            Work::Actuals {
                from: day("2026-01-01"),
                to: day("2026-03-31"),
            },
            Work::Autofill {
                week: Some(day("2026-11-16")),
            },
            Work::Autofill { week: None },
        ] {
            let job = Job {
                account: AccountId::parse("acme").unwrap(),
                run_id: "r".into(),
                trigger: Trigger::Schedule,
                work,
            };
            let text = serde_json::to_string(&job).unwrap();
            assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job, "{text}");
        }
        let bad = r#"{"account":"acme","run_id":"r","trigger":"manual","kind":"actuals","from":"2026-02-01","to":"2026-01-01"}"#;
        assert!(serde_json::from_str::<Job>(bad).is_err());
        let bad =
            r#"{"account":"acme","run_id":"r","trigger":"manual","kind":"delete_everything"}"#;
        assert!(serde_json::from_str::<Job>(bad).is_err());
    }
}
