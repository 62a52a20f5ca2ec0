//! What the functions do, independent of Lambda: the schedules' fan-out and the worker's
//! run of one job (lease, import and actuals or autofill, status, continuation).

use crate::account::Switches;
use crate::account::{Account, AccountId, Outcome, RunRecord, Trigger};
use crate::clockify::{ClockifyClient, ClockifyConfig};
use crate::error::{ApiError, FailureClass};
use crate::http::RequestCounts;
use crate::queue::{Job, Queue, QueueError, SqsQueue, Work, LEASE_RETRY_DELAY};
use crate::runn::{RunnClient, RunnConfig};
use crate::store::{LeaseAttempt, Pending, Store, StoreError};
use crate::sync::actuals::last_complete_week;
use crate::sync::timesheets::{self, ActualsReport, Ctx};
use crate::sync::{run_import, ImportReport, RunLimits, SyncError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// Page size of the scheduler's walk through the enabled accounts (keys only: a page of
/// 1,000 stays far below DynamoDB's 1 MB per query).
pub const SCHEDULER_PAGE: u32 = 1000;

/// Sends one daily job (the import, then the actuals) per enabled account; returns how
/// many.
pub async fn fan_out(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
) -> Result<usize, JobError> {
    let sent = fan_out_work(store, queue, run_id, Work::Import { only: None }).await?;
    tracing::info!(run_id, accounts = sent, "daily imports queued");
    Ok(sent)
}

/// Sends one autofill job per enabled account with autofill on; returns how many.
pub async fn fan_out_autofill(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
) -> Result<usize, JobError> {
    let sent = fan_out_work(store, queue, run_id, Work::Autofill { week: None }).await?;
    tracing::info!(run_id, accounts = sent, "weekly autofills queued");
    Ok(sent)
}

async fn fan_out_work(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
    work: Work,
) -> Result<usize, JobError> {
    let mut start = None;
    let mut sent = 0;
    loop {
        let page = store.enabled_accounts(start, SCHEDULER_PAGE).await?;
        let mut jobs = Vec::with_capacity(page.accounts.len());
        for account in page.accounts {
            if matches!(work, Work::Autofill { .. })
                && !store.settings(&account).await?.is_some_and(|s| s.autofill)
            {
                continue;
            }
            jobs.push(Job {
                account,
                run_id: run_id.to_owned(),
                trigger: Trigger::Schedule,
                work,
            });
        }
        // The daily import is the account's job until it ends: a press of an import
        // button meanwhile answers with its run (a button's own job keeps its mark).
        let marked = if matches!(work, Work::Import { .. }) {
            mark_pending_all(store, &jobs).await?
        } else {
            vec![]
        };
        if let Err(e) = queue.send(&jobs).await {
            for account in &marked {
                if let Err(c) = store.clear_pending(account, run_id).await {
                    tracing::warn!(%account, error = %c, "could not clear the pending mark; it expires on its own");
                }
            }
            return Err(e.into());
        }
        sent += jobs.len();
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    Ok(sent)
}

/// Marks each job's account as having a job queued (ten at a time); returns the accounts
/// marked now.
async fn mark_pending_all(store: &dyn Store, jobs: &[Job]) -> Result<Vec<AccountId>, StoreError> {
    use futures::StreamExt;
    let results: Vec<Result<Option<AccountId>, StoreError>> = futures::stream::iter(jobs)
        .map(|job| async move {
            let mark = store
                .mark_pending(&job.account, &job.run_id, crate::queue::PENDING_TTL)
                .await?;
            Ok((mark == Pending::Marked).then(|| job.account.clone()))
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let mut marked = vec![];
    for r in results {
        if let Some(account) = r? {
            marked.push(account);
        }
    }
    Ok(marked)
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

impl From<SyncError> for JobError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Api(e) => JobError::Api(e),
            SyncError::Store(e) => JobError::Store(e),
        }
    }
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
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            safety_margin: Duration::from_secs(60),
            tune_clockify: None,
            tune_runn: None,
            max_writes: None,
            emit_metrics: false,
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
/// lease can be released by its run id (`<run id>:`).
pub fn lease_holder(run_id: &str) -> String {
    format!("{run_id}:{}", uuid::Uuid::new_v4().simple())
}

/// Whether a scheduled run already succeeded for this account: a retried schedule (same
/// scheduled time, so the same run id) does not run it twice.
async fn already_succeeded(store: &dyn Store, job: &Job) -> Result<bool, StoreError> {
    if job.trigger != Trigger::Schedule {
        return Ok(false);
    }
    Ok(store
        .runs(&job.account, 10)
        .await?
        .iter()
        .any(|r| r.run_id == job.run_id && r.outcome == Outcome::Succeeded))
}

/// Runs one job until done or until `deadline` (less the safety margin). The lease is
/// released on every path out, errors included, and a continuation is queued only after
/// it is released, so a run's own continuation never meets its lease.
pub async fn run_job(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    let id = &job.account;
    // Settings first: a turned-off account has no credentials left to open.
    match store.settings(id).await? {
        None => return Ok(JobOutcome::Dropped(format!("no account {id}"))),
        Some(s) if !s.enabled => {
            // Its button must not stay stuck on a job that will never run.
            store.clear_pending(id, &job.run_id).await?;
            return Ok(JobOutcome::Dropped(format!("account {id} is disabled")));
        }
        Some(_) => {}
    }
    let Some(account) = store.account(id).await? else {
        return Ok(JobOutcome::Dropped(format!("no account {id}")));
    };
    if already_succeeded(store, job).await? {
        return Ok(JobOutcome::Dropped(format!(
            "run {} of account {id} already succeeded",
            job.run_id
        )));
    }
    let holder = lease_holder(&job.run_id);
    let ttl = deadline.saturating_duration_since(Instant::now()) + cfg.safety_margin;
    if let LeaseAttempt::Held(h) = store.try_lease(id, &holder, ttl).await? {
        // Sent again shortly rather than handed back to wait out the visibility timeout
        // (and spend a receive): a button pressed during the daily run runs minutes later.
        queue.send_later(job, LEASE_RETRY_DELAY).await?;
        return Ok(JobOutcome::Deferred(format!(
            "another run ({}) holds account {id} until {}; trying again in {} s",
            h.run_id(),
            h.until.format("%Y-%m-%d %H:%M:%S UTC"),
            LEASE_RETRY_DELAY.as_secs()
        )));
    }
    let (outcome, continuation) = leased(store, &account, job, deadline, cfg).await;
    if let Err(e) = store.release_lease(id, &holder).await {
        // It runs out on its own at the deadline plus the margin.
        tracing::warn!(account = %id, error = %e, "could not release the lease");
    }
    if let Some(next) = continuation {
        queue.send(&[next]).await?;
    }
    // The job has ended: the account's import button may queue another.
    if matches!(
        outcome,
        Ok(JobOutcome::Done { finished: true }) | Ok(JobOutcome::Dropped(_))
    ) {
        if let Err(e) = store.clear_pending(id, &job.run_id).await {
            tracing::warn!(account = %id, error = %e, "could not clear the pending mark; it expires on its own");
        }
    }
    outcome
}

/// The part of a job that runs under the lease: the import, its status, and the
/// continuation to queue once the lease is released (even if the status failed to save).
async fn leased(
    store: &dyn Store,
    account: &Account,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> (Result<JobOutcome, JobError>, Option<Job>) {
    let id = &account.settings.id;
    let started_at = chrono::Utc::now();
    // Keep the margin, but never more than a quarter of the time there is: a function
    // with a short timeout still gets most of it.
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stop_at = deadline - cfg.safety_margin.min(remaining / 4);
    let mut counts = Default::default();
    let result = run_work(store, account, job, stop_at, cfg, &mut counts).await;
    let [clockify_counts, runn_counts] = counts;
    let record = |outcome, reports: Reports| RunRecord {
        run_id: job.run_id.clone(),
        trigger: job.trigger,
        started_at,
        finished_at: chrono::Utc::now(),
        outcome,
        report: reports.import,
        actuals: reports.actuals,
    };
    let mut continuation = None;
    let (run, outcome) = match result {
        Ok(Err(why)) => return (Ok(JobOutcome::Dropped(why)), None),
        // Stopped before a single write: continuing would loop without progress.
        Ok(Ok(reports)) if !reports.finished() && reports.writes() == 0 => {
            let message =
                "the run's time ran out before it could write anything; retried later".to_owned();
            let failed = Outcome::Failed {
                class: FailureClass::Transient,
                message: message.clone(),
            };
            (record(failed, reports), JobOutcome::Retry(message))
        }
        Ok(Ok(reports)) => {
            let finished = reports.finished();
            let o = if finished {
                Outcome::Succeeded
            } else {
                let mut next = Job {
                    trigger: Trigger::Continuation,
                    ..job.clone()
                };
                // A re-sync of a range goes on from the first day it did not finish.
                if let (Work::Actuals { to, .. }, Some(from)) = (
                    job.work,
                    reports.actuals.as_ref().and_then(|a| a.resume_from),
                ) {
                    next.work = Work::Actuals { from, to };
                }
                continuation = Some(next);
                Outcome::Continued
            };
            (record(o, reports), JobOutcome::Done { finished })
        }
        Err(e) => {
            let class = e.class();
            let failed = Outcome::Failed {
                class,
                message: e.to_string(),
            };
            let outcome = match class {
                FailureClass::CredentialsRejected => {
                    // No retry storm: stop until someone enters working credentials.
                    let reason = format!("credentials rejected: {e}");
                    if let Err(d) = store.disable(id, &reason).await {
                        return (Err(d.into()), None);
                    }
                    tracing::warn!(account = %id, error = %e, "credentials rejected; account disabled");
                    JobOutcome::Dropped(e.to_string())
                }
                FailureClass::Permanent => JobOutcome::Dropped(e.to_string()),
                FailureClass::Transient => JobOutcome::Retry(e.to_string()),
            };
            (record(failed, Reports::default()), outcome)
        }
    };
    if cfg.emit_metrics {
        let metrics = crate::metrics::RunMetrics {
            failed: matches!(run.outcome, Outcome::Failed { .. }),
            duration: (run.finished_at - run.started_at)
                .to_std()
                .unwrap_or_default(),
            import: run.report.clone(),
            actuals: run.actuals.clone(),
            clockify: clockify_counts,
            runn: runn_counts,
        };
        crate::metrics::emit(&metrics.emf("worker", run.finished_at.timestamp_millis()));
    }
    match store.record_run(id, &run).await {
        Ok(()) => (Ok(outcome), continuation),
        Err(e) => (Err(e.into()), continuation),
    }
}

/// What a run did: the import's report and the actuals' (or autofill's).
#[derive(Default)]
struct Reports {
    import: Option<ImportReport>,
    actuals: Option<ActualsReport>,
}

impl Reports {
    fn finished(&self) -> bool {
        self.import.as_ref().is_none_or(|r| r.finished)
            && self.actuals.as_ref().is_none_or(|r| r.finished)
    }
    fn writes(&self) -> usize {
        self.import.as_ref().map_or(0, |r| r.writes) + self.actuals.as_ref().map_or(0, |r| r.writes)
    }
}

/// Runs the job's work; `Ok(Err(why))` when there is nothing to do (a switch is off).
async fn run_work(
    store: &dyn Store,
    account: &Account,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
    counts: &mut [RequestCounts; 2],
) -> Result<Result<Reports, String>, JobError> {
    let (clockify, runn) = clients(account, cfg, Some(deadline))?;
    let result = run_work_with(store, account, job, deadline, cfg, &clockify, &runn).await;
    *counts = [clockify.request_counts(), runn.request_counts()];
    result
}

async fn run_work_with(
    store: &dyn Store,
    account: &Account,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
    clockify: &ClockifyClient,
    runn: &RunnClient,
) -> Result<Result<Reports, String>, JobError> {
    let settings = &account.settings;
    let limits = RunLimits {
        deadline: Some(deadline),
        max_writes: cfg.max_writes,
    };
    let ctx = Ctx {
        account: &settings.id,
        settings,
        clockify,
        runn,
        store,
    };
    let mut reports = Reports::default();
    match job.work {
        Work::Import { only } => {
            let switches = settings.switches.and(only.unwrap_or(Switches::ALL));
            if !switches.imports_entities() && !switches.actuals {
                return Ok(Err(format!(
                    "nothing to do: the switches of {} are off",
                    settings.id
                )));
            }
            if switches.imports_entities() {
                let report = run_import(
                    &settings.clockify_workspace,
                    clockify,
                    runn,
                    switches,
                    limits,
                )
                .await?;
                let done = report.finished;
                reports.import = Some(report);
                if !done {
                    return Ok(Ok(reports));
                }
            }
            // The import and the actuals in one job under one lease: they never race.
            if switches.actuals {
                let left = RunLimits {
                    max_writes: cfg.max_writes.map(|m| m.saturating_sub(reports.writes())),
                    ..limits
                };
                reports.actuals = Some(timesheets::sync_daily(&ctx, left).await?);
            }
        }
        Work::Actuals { from, to } => {
            if !settings.switches.actuals {
                return Ok(Err(format!("actuals are off for {}", settings.id)));
            }
            reports.actuals = Some(timesheets::sync_range(&ctx, from, to, limits).await?);
        }
        Work::Autofill { week } => {
            if !settings.autofill {
                return Ok(Err(format!("autofill is off for {}", settings.id)));
            }
            let monday =
                week.unwrap_or_else(|| last_complete_week(timesheets::today(settings.time_zone)));
            reports.actuals = Some(timesheets::autofill(&ctx, monday, limits).await?);
        }
    }
    Ok(Ok(reports))
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
    format!("{prefix}-{}", at.format("%Y-%m-%dT%H:%MZ"))
}

/// A fresh run id.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
