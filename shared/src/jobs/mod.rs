//! What the functions do, independent of Lambda: the schedules' fan-out
//! ([`fan_out`]), the worker's run of one job ([`run_job`]: lease, the work, its record,
//! the continuation), and the worker's loop over a batch of messages ([`work`]).

mod fan_out;
pub mod hooks;
mod run;

pub use fan_out::{fan_out, fan_out_autofill, SCHEDULER_PAGE};
pub use run::run_job;

use crate::account::Account;
use crate::clockify::{ClockifyClient, ClockifyConfig};
use crate::error::{ApiError, FailureClass};
use crate::queue::{Job, Queue, QueueError, SqsQueue};
use crate::runn::{RunnClient, RunnConfig};
use crate::store::{Store, StoreError};
use crate::sync::SyncError;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The integration was turned off while the job ran: it wrote nothing more.
    #[error("stopped before writing more: {0}")]
    Stopped(String),
}

impl From<SyncError> for JobError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Api(e) => JobError::Api(e),
            SyncError::Store(e) => JobError::Store(e),
            SyncError::Stopped(why) => JobError::Stopped(why),
        }
    }
}

impl JobError {
    pub fn class(&self) -> FailureClass {
        match self {
            JobError::Store(e) => e.class(),
            JobError::Queue(e) => e.class(),
            JobError::Api(e) => e.class(),
            JobError::Stopped(_) => FailureClass::Permanent,
        }
    }
}

/// What became of a job: the worker acknowledges `Done`, `Deferred` and `Dropped`, and
/// hands `Retry` back to the queue (which dead-letters it after its set number of
/// receives).
#[derive(Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished, or stopped at its deadline with its continuation queued.
    Done { finished: bool },
    /// Another run holds the account: the job was sent again with a delay.
    Deferred(String),
    /// Nothing to retry: unknown or disabled account, credentials rejected, a permanent
    /// failure, or a scheduled run that already succeeded.
    Dropped(String),
    /// Try again later: a transient failure.
    Retry(String),
}

/// How the worker runs jobs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Time kept free before the function's deadline: enough for the last write, the
    /// status and the continuation message.
    pub safety_margin: Duration,
    /// Overrides for tests and the demo (rate limits, retry timing); `None` = defaults.
    pub tune_clockify: Option<fn(&mut ClockifyConfig)>,
    pub tune_runn: Option<fn(&mut RunnConfig)>,
    /// Writes per run before it hands over to a continuation (`None`: only the deadline).
    pub max_writes: Option<usize>,
    /// Emits each run's metrics as an EMF line on standard output (the Lambda function
    /// does; the command line and the tests do not).
    pub emit_metrics: bool,
    /// The HTTP API's public URL, where Clockify delivers webhooks; `None`: webhooks off.
    pub public_api_url: Option<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            safety_margin: Duration::from_secs(60),
            tune_clockify: None,
            tune_runn: None,
            max_writes: None,
            emit_metrics: false,
            public_api_url: None,
        }
    }
}

/// The two API clients for an account, with the worker's tuning; every request, read and
/// wait of theirs ends by `deadline`.
pub fn clients(
    account: &Account,
    cfg: &WorkerConfig,
    deadline: Option<Instant>,
) -> Result<(ClockifyClient, RunnClient), ApiError> {
    let s = &account.settings;
    let mut c = ClockifyConfig::new(s.clockify_host.clone(), account.clockify_api_key.clone());
    c.reports_base = s.clockify_reports_url.clone();
    c.deadline = deadline;
    if let Some(tune) = cfg.tune_clockify {
        tune(&mut c);
    }
    let mut r = RunnConfig::new(s.runn_host.clone(), account.runn_token.clone());
    r.deadline = deadline;
    if let Some(tune) = cfg.tune_runn {
        tune(&mut r);
    }
    Ok((ClockifyClient::new(c)?, RunnClient::new(r)?))
}

/// The lease holder of one attempt at a run: `<run id>:<attempt>`, so a whole run's
/// lease can be released by its run id (`<run id>:`); [`crate::store::run_of_holder`]
/// reads the run back.
pub fn lease_holder(run_id: &str) -> String {
    format!("{run_id}:{}", uuid::Uuid::new_v4().simple())
}

/// A queued message as the worker sees it.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub body: Option<String>,
}

/// Runs each message's job in turn until `until`; returns the ids of the messages to hand
/// back to the queue (which dead-letters them after its set number of receives).
pub async fn work(
    store: &dyn Store,
    queue: &dyn Queue,
    cfg: &WorkerConfig,
    until: Instant,
    messages: impl IntoIterator<Item = Message>,
) -> Vec<String> {
    let mut retry = vec![];
    for Message { id, body } in messages {
        let job: Job = match body.as_deref().map(serde_json::from_str) {
            Some(Ok(job)) => job,
            other => {
                // Unreadable: let it go round to the dead-letter queue for a person to see.
                tracing::error!(message_id = id, error = ?other.map(|r| r.err()), "message is not an import job");
                retry.push(id);
                continue;
            }
        };
        let span = tracing::info_span!("job", account = %job.account, run_id = %job.run_id, trigger = ?job.trigger);
        let outcome = run_job(store, queue, &job, until, cfg)
            .instrument(span.clone())
            .await;
        let _enter = span.enter();
        match outcome {
            Ok(JobOutcome::Done { finished }) => tracing::info!(finished, "import run done"),
            Ok(JobOutcome::Deferred(why)) => tracing::info!(%why, "job deferred"),
            Ok(JobOutcome::Dropped(why)) => tracing::warn!(%why, "job dropped, not retried"),
            Ok(JobOutcome::Retry(why)) => {
                tracing::warn!(%why, "job to be retried");
                retry.push(id);
            }
            // A permanent failure (a damaged record, a refused write) would fail the same
            // way on every receive: recorded where it could be, and dropped.
            Err(e) if e.class() == FailureClass::Permanent => {
                tracing::error!(error = %e, "job failed; not retried");
            }
            Err(e) => {
                tracing::error!(error = %e, "job failed");
                retry.push(id);
            }
        }
    }
    retry
}

/// What one receive–work–delete round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub received: usize,
    /// Left on the queue to come back after its visibility timeout.
    pub retried: usize,
}

/// One round of what Lambda's SQS event source does for the worker, for the command
/// line and the tests: receive up to ten jobs, run them, delete the ones dealt with and
/// leave the rest to come back (and, after the queue's receives, go to its dead-letter
/// queue).
pub async fn work_once(
    store: &dyn Store,
    queue: &SqsQueue,
    cfg: &WorkerConfig,
    until: Instant,
    wait: Duration,
) -> Result<Round, QueueError> {
    let messages = queue.receive(wait).await?;
    let retry = work(
        store,
        queue,
        cfg,
        until,
        messages.iter().map(|m| Message {
            id: m.id.clone(),
            body: m.body.clone(),
        }),
    )
    .await;
    let mut round = Round {
        received: messages.len(),
        retried: 0,
    };
    for m in &messages {
        if retry.contains(&m.id) {
            round.retried += 1;
        } else if let Some(receipt) = &m.receipt {
            queue.delete(receipt).await?;
        }
    }
    Ok(round)
}

/// The run id of a scheduled invocation, taken from the time it was scheduled for, so a
/// retried attempt of the same schedule is the same run (and an account it already ran
/// for is not run twice). Reads the `time` of an EventBridge envelope — a classic rule's,
/// or EventBridge Scheduler's, whose `detail` is the string `"{}"` — or the
/// `scheduled_time` of a Scheduler `Input` (the template sets it to
/// `<aws.scheduler.scheduled-time>`). Without either, the current minute.
pub fn scheduled_run_id(prefix: &str, payload: &serde_json::Value) -> String {
    let scheduled = ["time", "scheduled_time"]
        .iter()
        .filter_map(|k| payload.get(k).and_then(|v| v.as_str()))
        .find_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let at = scheduled.unwrap_or_else(|| {
        tracing::warn!("the scheduled event carries no time; using the current minute");
        chrono::Utc::now()
    });
    // No `:`, so the id goes into a URL path as it is (`daily-2026-11-28T0200Z`).
    format!("{prefix}-{}", at.format("%Y-%m-%dT%H%MZ"))
}

/// A fresh run id.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
