//! What the functions do, independent of Lambda: the scheduler's fan-out and the worker's
//! run of one import job (lease, import, status, continuation).

use crate::account::{Account, Outcome, RunRecord, Trigger};
use crate::clockify::{ClockifyClient, ClockifyConfig};
use crate::error::{ApiError, FailureClass};
use crate::queue::{ImportJob, Queue, QueueError};
use crate::runn::{RunnClient, RunnConfig};
use crate::store::{Store, StoreError};
use crate::sync::{run_import, ImportReport, RunLimits, Switches};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// Page size of the scheduler's walk through the enabled accounts (keys only: a page of
/// 1,000 stays far below DynamoDB's 1 MB per query).
pub const SCHEDULER_PAGE: u32 = 1000;

/// Sends one job per enabled account; returns how many.
pub async fn fan_out(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
) -> Result<usize, JobError> {
    let mut start = None;
    let mut sent = 0;
    loop {
        let page = store.enabled_accounts(start, SCHEDULER_PAGE).await?;
        let jobs: Vec<ImportJob> = page
            .accounts
            .into_iter()
            .map(|account| ImportJob {
                account,
                run_id: run_id.to_owned(),
                trigger: Trigger::Schedule,
                only: None,
            })
            .collect();
        queue.send(&jobs).await?;
        sent += jobs.len();
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    tracing::info!(run_id, accounts = sent, "daily imports queued");
    Ok(sent)
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl JobError {
    pub fn class(&self) -> FailureClass {
        match self {
            JobError::Store(e) => e.class(),
            JobError::Queue(e) => e.class(),
            JobError::Api(e) => e.class(),
        }
    }
}

/// What became of a job: the worker acknowledges `Done` and `Dropped`, and hands `Retry`
/// back to the queue (which dead-letters it after its set number of receives).
#[derive(Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished, or stopped at its deadline with its continuation queued.
    Done { finished: bool },
    /// Nothing to retry: unknown or disabled account, or credentials rejected.
    Dropped(String),
    /// Try again later: another run holds the account, or a transient failure.
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
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            safety_margin: Duration::from_secs(60),
            tune_clockify: None,
            tune_runn: None,
            max_writes: None,
        }
    }
}

/// The two API clients for an account, with the worker's tuning.
pub fn clients(
    account: &Account,
    cfg: &WorkerConfig,
) -> Result<(ClockifyClient, RunnClient), ApiError> {
    let s = &account.settings;
    let mut c = ClockifyConfig::new(s.clockify_host.clone(), account.clockify_api_key.clone());
    c.reports_base = s.clockify_reports_url.clone();
    if let Some(tune) = cfg.tune_clockify {
        tune(&mut c);
    }
    let mut r = RunnConfig::new(s.runn_host.clone(), account.runn_token.clone());
    if let Some(tune) = cfg.tune_runn {
        tune(&mut r);
    }
    Ok((ClockifyClient::new(c)?, RunnClient::new(r)?))
}

/// Runs one job until done or until `deadline` (less the safety margin).
pub async fn run_job(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &ImportJob,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    let id = &job.account;
    let Some(account) = store.account(id).await? else {
        return Ok(JobOutcome::Dropped(format!("no account {id}")));
    };
    if !account.settings.enabled {
        return Ok(JobOutcome::Dropped(format!("account {id} is disabled")));
    }
    let holder = format!("{}:{}", job.run_id, uuid::Uuid::new_v4());
    let ttl = deadline.saturating_duration_since(Instant::now()) + cfg.safety_margin;
    if !store.try_lease(id, &holder, ttl).await? {
        return Ok(JobOutcome::Retry(format!(
            "another run of {id} is in progress"
        )));
    }
    let started_at = chrono::Utc::now();
    // Keep the margin, but never more than a quarter of the time there is: a function
    // with a short timeout still gets most of it.
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stop_at = deadline - cfg.safety_margin.min(remaining / 4);
    let result = import_with(&account, job, stop_at, cfg).await;
    let record = |outcome, report| RunRecord {
        run_id: job.run_id.clone(),
        trigger: job.trigger,
        started_at,
        finished_at: chrono::Utc::now(),
        outcome,
        report,
    };
    let outcome = match result {
        // Stopped before a single write: continuing would loop without progress.
        Ok(report) if !report.finished && report.writes == 0 => {
            let message = "the run ended before it could write anything (is the function's time limit too short?)".to_owned();
            store
                .record_run(
                    id,
                    &record(
                        Outcome::Failed {
                            class: FailureClass::Transient,
                            message: message.clone(),
                        },
                        Some(report),
                    ),
                )
                .await?;
            JobOutcome::Retry(message)
        }
        Ok(report) => {
            store.put_mappings(id, &report.mappings).await?;
            let finished = report.finished;
            if !finished {
                let next = ImportJob {
                    trigger: Trigger::Continuation,
                    ..job.clone()
                };
                queue.send(&[next]).await?;
            }
            let o = if finished {
                Outcome::Succeeded
            } else {
                Outcome::Continued
            };
            store.record_run(id, &record(o, Some(report))).await?;
            JobOutcome::Done { finished }
        }
        Err(e) => {
            let class = e.class();
            store
                .record_run(
                    id,
                    &record(
                        Outcome::Failed {
                            class,
                            message: e.to_string(),
                        },
                        None,
                    ),
                )
                .await?;
            match class {
                FailureClass::CredentialsRejected => {
                    // No retry storm: stop until someone enters working credentials.
                    store.disable(id).await?;
                    tracing::warn!(account = %id, error = %e, "credentials rejected; account disabled");
                    JobOutcome::Dropped(e.to_string())
                }
                FailureClass::Permanent => JobOutcome::Dropped(e.to_string()),
                FailureClass::Transient => JobOutcome::Retry(e.to_string()),
            }
        }
    };
    store.release_lease(id, &holder).await?;
    Ok(outcome)
}

async fn import_with(
    account: &Account,
    job: &ImportJob,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<ImportReport, ApiError> {
    let (clockify, runn) = clients(account, cfg)?;
    let switches = account.settings.switches.import();
    let switches = match job.only {
        None => switches,
        Some(only) => Switches {
            clients_and_projects: switches.clients_and_projects && only.clients_and_projects,
            people: switches.people && only.people,
        },
    };
    let limits = RunLimits {
        deadline: Some(deadline),
        max_writes: cfg.max_writes,
    };
    run_import(
        &account.settings.clockify_workspace,
        &clockify,
        &runn,
        switches,
        limits,
    )
    .await
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
        let job: ImportJob = match body.as_deref().map(serde_json::from_str) {
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
            Ok(JobOutcome::Dropped(why)) => tracing::warn!(%why, "job dropped, not retried"),
            Ok(JobOutcome::Retry(why)) => {
                tracing::warn!(%why, "job to be retried");
                retry.push(id);
            }
            Err(e) => {
                tracing::error!(error = %e, "job failed");
                retry.push(id);
            }
        }
    }
    retry
}

/// A fresh run id.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
