//! The worker's run of one job: under the account's lease, the work its kind names, its
//! record, and the continuation when it stopped at its deadline. The lease is released
//! on every path out, and a continuation is queued only once it is.

use super::{clients, lease_holder, JobError, JobOutcome, WorkerConfig};
use crate::account::{AccountId, Credential, Outcome, RunKind, RunRecord, Switches, Trigger};
use crate::error::FailureClass;
use crate::http::RequestCounts;
use crate::model::links::{LinkReport, RemovalReport};
use crate::model::plan::PlanSummary;
use crate::model::scope::{Days, Scope};
use crate::queue::{Job, Queue, Work, LEASE_RETRY_DELAY, PENDING_TTL};
use crate::store::{LeaseAttempt, OpenedAccount, Store, StoreError};
use crate::sync::engine::{self, Mode};
use crate::sync::rules::autofill::last_complete_week;
use crate::sync::{link, remove};
use crate::sync::{today, ActualsReport, Ctx, ImportReport, Origins, RunLimits, StopSignal};
use tokio::time::Instant;

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

/// Runs one job until done or until `deadline` (less the safety margin).
pub async fn run_job(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    if let Work::Hooks(work) = job.work {
        return super::hooks::run_hook_job(store, queue, job, work, deadline, cfg).await;
    }
    let id = &job.account;
    // Settings first: a turned-off account has no credentials left to open.
    let state = match store.state(id).await {
        Err(e) if e.class() == FailureClass::Permanent => return unreadable(store, job, e).await,
        Err(e) => return Err(e.into()),
        Ok(None) => return Ok(JobOutcome::Dropped(format!("no account {id}"))),
        Ok(Some(s)) if !s.settings.enabled => {
            // Its button must not stay stuck on a job that will never run.
            store.clear_pending(id, &job.run_id).await?;
            return Ok(JobOutcome::Dropped(format!("account {id} is disabled")));
        }
        Ok(Some(s)) => s,
    };
    let preview = matches!(job.work, Work::Preview { .. } | Work::Suggest);
    // Received: the account's mark (if it is this run's) lasts as long as the job may
    // still come back from the queue. A preview never holds the mark.
    if !preview {
        if let Err(e) = store.refresh_pending(id, &job.run_id, PENDING_TTL).await {
            tracing::warn!(account = %id, error = %e, "could not refresh the pending mark");
        }
    }
    let opened = match store.open_account(id).await {
        Ok(Some(o)) => o,
        Ok(None) => return Ok(JobOutcome::Dropped(format!("no account {id}"))),
        Err(StoreError::Rebound(c)) => {
            return rebound(store, job, c, state.credentials_version).await
        }
        Err(e) if e.class() == FailureClass::Permanent => return unreadable(store, job, e).await,
        Err(e) => return Err(e.into()),
    };
    if already_succeeded(store, job).await? {
        return Ok(JobOutcome::Dropped(format!(
            "run {} of account {id} already succeeded",
            job.run_id
        )));
    }
    if preview {
        // It only reads: no lease, no mark, and no continuation.
        let (outcome, _) = leased(store, &opened, job, deadline, cfg).await;
        return outcome;
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
    let (outcome, continuation) = leased(store, &opened, job, deadline, cfg).await;
    let time_left = deadline
        .checked_sub(cfg.safety_margin)
        .is_some_and(|d| Instant::now() < d);
    if outcome.is_ok() && time_left {
        // Changes delivered while this run held the account come in before it lets go.
        super::hooks::drain(store, queue, &opened, deadline, cfg).await;
    }
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

/// A credential that no longer opens (its host changed without it being entered again):
/// nothing is sent anywhere; the run says why, and the account waits for Save & Run.
async fn rebound(
    store: &dyn Store,
    job: &Job,
    credential: Credential,
    credentials_version: u64,
) -> Result<JobOutcome, JobError> {
    let id = &job.account;
    let message = StoreError::Rebound(credential).to_string();
    tracing::warn!(account = %id, %message, "a credential does not open; account disabled");
    let run = failed_before_start(job, FailureClass::CredentialsRejected, &message);
    store.record_run(id, &run).await?;
    store
        .disable(id, &message, Some(credentials_version))
        .await?;
    store.clear_pending(id, &job.run_id).await?;
    Ok(JobOutcome::Dropped(message))
}

/// The record of a job that failed before its run began.
fn failed_before_start(job: &Job, class: FailureClass, message: &str) -> RunRecord {
    let now = chrono::Utc::now();
    RunRecord {
        run_id: job.run_id.clone(),
        kind: kind_of(job),
        trigger: job.trigger,
        started_at: now,
        finished_at: now,
        outcome: Outcome::failed(class, message),
        report: None,
        actuals: None,
        plan: None,
        links: None,
        removal: None,
    }
}

/// An account record that cannot be read (damaged): the run says so in its record, the
/// account's mark is cleared, and the job is dropped (it would fail the same way again).
async fn unreadable(store: &dyn Store, job: &Job, e: StoreError) -> Result<JobOutcome, JobError> {
    let id = &job.account;
    let message = format!("the account's record could not be read: {e}");
    tracing::error!(account = %id, %message, "job dropped");
    let run = failed_before_start(job, FailureClass::Permanent, &message);
    if let Err(e) = store.record_run(id, &run).await {
        tracing::warn!(account = %id, error = %e, "could not record the failed run");
    }
    if let Err(e) = store.clear_pending(id, &job.run_id).await {
        tracing::warn!(account = %id, error = %e, "could not clear the pending mark; it expires on its own");
    }
    Ok(JobOutcome::Dropped(message))
}

/// Stops a run before its next write once its integration is turned off (or its
/// credentials are gone).
struct StillOn<'a> {
    store: &'a dyn Store,
    id: &'a AccountId,
}

#[async_trait::async_trait]
impl StopSignal for StillOn<'_> {
    async fn why_stop(&self) -> Result<Option<String>, StoreError> {
        Ok(match self.store.state(self.id).await? {
            None => Some("the account was removed".into()),
            Some(s)
                if s.settings.enabled
                    && s.credentials.runn_token
                    && s.credentials.clockify_api_key =>
            {
                None
            }
            Some(s) => Some(
                s.settings
                    .disabled_reason
                    .unwrap_or_else(|| "the integration was turned off".into()),
            ),
        })
    }
}

/// The part of a job that runs under the lease: the work, its record, and the
/// continuation to queue once the lease is released (even if the record failed to save:
/// the continuation is the run's one chain, and the original is acknowledged).
async fn leased(
    store: &dyn Store,
    opened: &OpenedAccount,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> (Result<JobOutcome, JobError>, Option<Job>) {
    let id = &opened.account.settings.id;
    let started_at = chrono::Utc::now();
    // Keep the margin, but never more than a quarter of the time there is: a function
    // with a short timeout still gets most of it.
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stop_at = deadline - cfg.safety_margin.min(remaining / 4);
    let still_on = StillOn { store, id };
    let limits = RunLimits {
        deadline: Some(stop_at),
        max_writes: cfg.max_writes,
        stop: Some(&still_on),
    };
    let mut counts = Default::default();
    let result = run_work(store, opened, job, limits, cfg, &mut counts).await;
    let record = |outcome, reports: Reports| RunRecord {
        run_id: job.run_id.clone(),
        kind: kind_of(job),
        trigger: job.trigger,
        started_at,
        finished_at: chrono::Utc::now(),
        outcome,
        report: reports.import,
        actuals: reports.actuals,
        plan: reports.plan,
        links: reports.links,
        removal: reports.removal,
    };
    let (run, outcome, continuation) = match result {
        Ok(Ran::Nothing(why)) => return (Ok(JobOutcome::Dropped(why)), None),
        Ok(Ran::Did(reports)) => decide(job, *reports, record),
        Err(e) => {
            let outcome = failed(store, opened, &e).await;
            let outcome = match outcome {
                Ok(o) => o,
                Err(d) => return (Err(d), None),
            };
            let run = record(
                Outcome::failed(e.class(), &e.to_string()),
                Reports::default(),
            );
            (run, outcome, None)
        }
    };
    if cfg.emit_metrics {
        emit_metrics(&run, counts);
    }
    match store.record_run(id, &run).await {
        Ok(()) => (Ok(outcome), continuation),
        Err(e) if continuation.is_some() => {
            tracing::error!(account = %id, error = %e, "the run's record could not be saved; its continuation goes on");
            (Ok(outcome), continuation)
        }
        Err(e) => (Err(e.into()), None),
    }
}

/// What a run that ended without an error comes to: succeeded, continued, or (stopped
/// before it made any progress) retried rather than continued, so it cannot loop.
fn decide(
    job: &Job,
    reports: Reports,
    record: impl Fn(Outcome, Reports) -> RunRecord,
) -> (RunRecord, JobOutcome, Option<Job>) {
    let finished = reports.finished();
    if !finished && matches!(job.work, Work::Preview { .. } | Work::Suggest) {
        // A preview is not continued: it says it ran out of time, and is not retried.
        let message = "the preview's time ran out before it had planned everything";
        let failed = Outcome::failed(FailureClass::Permanent, message);
        return (
            record(failed, reports),
            JobOutcome::Dropped(message.into()),
            None,
        );
    }
    if !finished && reports.progress() == 0 {
        let message = "the run's time ran out before it could write anything; retried later";
        let failed = Outcome::failed(FailureClass::Transient, message);
        return (
            record(failed, reports),
            JobOutcome::Retry(message.into()),
            None,
        );
    }
    if finished {
        return (
            record(Outcome::Succeeded, reports),
            JobOutcome::Done { finished },
            None,
        );
    }
    let mut next = Job {
        trigger: Trigger::Continuation,
        ..job.clone()
    };
    // A re-sync of a range goes on from the first day it did not finish; an import from
    // the first day of the window it did not finish (the back-fill keeps its own mark).
    let resume_from = reports.actuals.as_ref().and_then(|a| a.resume_from);
    match (&job.work, resume_from) {
        (Work::Actuals { to, .. }, Some(from)) => next.work = Work::Actuals { from, to: *to },
        (Work::Import { only, .. }, Some(day)) => {
            next.work = Work::Import {
                only: *only,
                resume: Some(day),
            }
        }
        // A links or removal run plans again: what it did is no longer in its plan.
        _ => {}
    }
    (
        record(Outcome::Continued, reports),
        JobOutcome::Done { finished },
        Some(next),
    )
}

/// What a failed run does to its job (and, for a rejected credential, to its account).
async fn failed(
    store: &dyn Store,
    opened: &OpenedAccount,
    e: &JobError,
) -> Result<JobOutcome, JobError> {
    let id = &opened.account.settings.id;
    Ok(match e.class() {
        FailureClass::CredentialsRejected => {
            // No retry storm: stop until someone enters working credentials — unless
            // they already did while this run was going (the follow-up run tries them).
            let reason = format!("credentials rejected: {e}");
            let disabled = store
                .disable(id, &reason, Some(opened.credentials_version))
                .await?;
            tracing::warn!(account = %id, error = %e, disabled, "credentials rejected");
            JobOutcome::Dropped(e.to_string())
        }
        FailureClass::Permanent => JobOutcome::Dropped(e.to_string()),
        FailureClass::Transient => JobOutcome::Retry(e.to_string()),
    })
}

fn emit_metrics(run: &RunRecord, [clockify, runn]: [RequestCounts; 2]) {
    let metrics = crate::metrics::RunMetrics {
        failed: matches!(run.outcome, Outcome::Failed { .. }),
        duration: (run.finished_at - run.started_at)
            .to_std()
            .unwrap_or_default(),
        import: run.report.clone(),
        actuals: run.actuals.clone(),
        clockify,
        runn,
    };
    crate::metrics::emit(&metrics.emf("worker", run.finished_at.timestamp_millis()));
}

/// The kind of run a job makes.
fn kind_of(job: &Job) -> RunKind {
    match job.work {
        Work::Autofill { .. } => RunKind::Autofill,
        Work::Preview { .. } => RunKind::Preview,
        Work::Import { .. } | Work::Actuals { .. } => RunKind::Sync,
        Work::Suggest => RunKind::Suggest,
        Work::Link { .. } => RunKind::Link,
        Work::Remove(_) => RunKind::Removal,
        // Webhook jobs keep no run record (their result is the status's "brought in").
        Work::Hooks(_) => RunKind::Sync,
    }
}

/// What a run did: the import's report and the actuals' (or autofill's); a preview's plan.
#[derive(Default)]
struct Reports {
    import: Option<ImportReport>,
    actuals: Option<ActualsReport>,
    plan: Option<PlanSummary>,
    /// The import's plan, kept for a preview's summary.
    plan_import: Option<crate::model::plan::ImportPlan>,
    links: Option<LinkReport>,
    removal: Option<RemovalReport>,
}

impl Reports {
    fn finished(&self) -> bool {
        let plan = self.plan.as_ref();
        self.import.as_ref().is_none_or(|r| r.finished)
            && self.actuals.as_ref().is_none_or(|r| r.finished)
            && plan
                .and_then(|p| p.actuals.as_ref())
                .is_none_or(|r| r.finished)
            && self.links.as_ref().is_none_or(|r| r.finished)
            && self.removal.as_ref().is_none_or(|r| r.finished)
    }
    /// Writes, and back-fill chunks saved as done: what a continuation starts after.
    fn progress(&self) -> usize {
        self.import.as_ref().map_or(0, |r| r.writes)
            + self
                .actuals
                .as_ref()
                .map_or(0, |r| r.writes + r.backfilled_chunks)
            + self.links.as_ref().map_or(0, |r| r.writes)
            + self.removal.as_ref().map_or(0, |r| r.writes)
    }
    fn writes(&self) -> usize {
        self.import.as_ref().map_or(0, |r| r.writes) + self.actuals.as_ref().map_or(0, |r| r.writes)
    }
}

/// What a job's work came to.
enum Ran {
    Did(Box<Reports>),
    /// Nothing to do (a switch is off), and why.
    Nothing(String),
}

async fn run_work(
    store: &dyn Store,
    opened: &OpenedAccount,
    job: &Job,
    limits: RunLimits<'_>,
    cfg: &WorkerConfig,
    counts: &mut [RequestCounts; 2],
) -> Result<Ran, JobError> {
    let account = &opened.account;
    let (clockify, runn) = clients(account, cfg, limits.deadline)?;
    let settings = &account.settings;
    let ctx = Ctx {
        account: &settings.id,
        settings,
        clockify: &clockify,
        runn: &runn,
        store,
    };
    let result = dispatch(&ctx, job, limits).await;
    if job.trigger == Trigger::Schedule && matches!(job.work, Work::Import { .. }) {
        // The daily run checks and repairs the webhooks.
        super::hooks::repair(&ctx, cfg).await;
    }
    *counts = [clockify.request_counts(), runn.request_counts()];
    result
}

/// The scope a job covers, within the account's switches; `None` when they leave it
/// nothing to do (and why).
fn scope_of(job: &Job, switches: Switches) -> Result<Scope, String> {
    let kinds = |only: Option<Switches>| switches.and(only.unwrap_or(Switches::ALL));
    let scope = match &job.work {
        Work::Import { only, resume } => Scope {
            resume: *resume,
            ..Scope::daily(kinds(*only))
        },
        Work::Actuals { from, to } => Scope::range(*from, *to),
        Work::Preview { only, range } => {
            let mut scope = Scope::daily(kinds(*only));
            if let Some((from, to)) = *range {
                scope.days = Days::Range { from, to };
            }
            scope
        }
        Work::Autofill { .. }
        | Work::Suggest
        | Work::Link { .. }
        | Work::Remove(_)
        | Work::Hooks(_) => return Ok(Scope::daily(Switches::ALL)),
    };
    if !scope.kinds.imports_entities() && !scope.kinds.actuals {
        return Err("nothing to do: the switches for it are off".into());
    }
    Ok(scope)
}

/// The work a job's kind names, within the account's switches: one scope on the engine
/// (a preview's as a dry run), or the autofill.
async fn dispatch(ctx: &Ctx<'_>, job: &Job, limits: RunLimits<'_>) -> Result<Ran, JobError> {
    let settings = ctx.settings;
    let id = &settings.id;
    if let Some(ran) = dispatch_links(ctx, job, limits).await? {
        return Ok(ran);
    }
    if let Work::Autofill { week } = job.work {
        if !settings.autofill {
            return Ok(Ran::Nothing(format!("autofill is off for {id}")));
        }
        let monday = week.unwrap_or_else(|| last_complete_week(today(settings.time_zone)));
        let (report, _) = engine::autofill(ctx, monday, limits, Mode::APPLY).await?;
        return Ok(Ran::Did(Box::new(Reports {
            actuals: Some(report),
            ..Default::default()
        })));
    }
    let scope = match scope_of(job, settings.switches) {
        Ok(scope) => scope.filtered(settings.people_filter.as_ref()),
        Err(why) => return Ok(Ran::Nothing(format!("{why} ({id})"))),
    };
    let preview = matches!(job.work, Work::Preview { .. });
    let mode = if preview { Mode::DRY_RUN } else { Mode::APPLY };
    let reports = sync(ctx, &job.run_id, &scope, limits, mode).await?;
    if !preview {
        return Ok(Ran::Did(Box::new(reports)));
    }
    Ok(Ran::Did(Box::new(Reports {
        plan: Some(PlanSummary::new(
            reports.plan_import.as_ref(),
            reports.actuals,
        )),
        ..Default::default()
    })))
}

/// One scope through the engine: the entity import, then (once it is done) the actuals,
/// under one lease, so they never race.
async fn sync(
    ctx: &Ctx<'_>,
    run_id: &str,
    scope: &Scope,
    limits: RunLimits<'_>,
    mode: Mode,
) -> Result<Reports, JobError> {
    let settings = ctx.settings;
    let mut reports = Reports::default();
    if scope.kinds.imports_entities() {
        let ws = &settings.clockify_workspace;
        let origins = Origins {
            store: ctx.store,
            account: ctx.account,
            run_id,
        };
        let (report, plan) =
            engine::import(ws, ctx.clockify, ctx.runn, origins, scope, limits, mode).await?;
        let done = report.finished;
        reports.import = Some(report);
        reports.plan_import = Some(plan);
        if !done {
            return Ok(reports);
        }
    }
    if scope.kinds.actuals {
        let left = RunLimits {
            max_writes: limits
                .max_writes
                .map(|m| m.saturating_sub(reports.writes())),
            ..limits
        };
        let (report, _) = engine::actuals(ctx, scope, left, mode).await?;
        reports.actuals = Some(report);
    }
    Ok(reports)
}

/// The links and removal jobs: `None` for every other kind.
async fn dispatch_links(
    ctx: &Ctx<'_>,
    job: &Job,
    limits: RunLimits<'_>,
) -> Result<Option<Ran>, JobError> {
    let origins = Origins {
        store: ctx.store,
        account: ctx.account,
        run_id: &job.run_id,
    };
    let reports = match &job.work {
        Work::Suggest => {
            let suggestions = link::suggestions(ctx).await?;
            ctx.store
                .save_suggestions(ctx.account, &job.run_id, &suggestions)
                .await?;
            Reports {
                links: Some(link::suggestions_report(&suggestions)),
                ..Default::default()
            }
        }
        Work::Link { request, dry_run } => {
            let mode = if *dry_run { Mode::DRY_RUN } else { Mode::APPLY };
            let report = link::link(ctx, &job.run_id, request, limits, mode).await?;
            Reports {
                links: Some(report),
                ..Default::default()
            }
        }
        Work::Remove(request) => {
            let mode = if request.dry_run {
                Mode::DRY_RUN
            } else {
                Mode::APPLY
            };
            // Off before the first write: a daily run between two slices of a long
            // removal must not write again what it removed.
            let switched_off = if request.dry_run {
                vec![]
            } else {
                switch_off(ctx, request.kinds).await?
            };
            let mut report = remove::remove(ctx, origins, request, limits, mode).await?;
            report.switched_off = switched_off;
            Reports {
                removal: Some(report),
                ..Default::default()
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Ran::Did(Box::new(reports))))
}

/// Switches off the kinds a removal removes, so no daily run brings them back (Save &
/// Run switches them on again); returns those it switched off. A conditional write, re-decided on conflict.
async fn switch_off(ctx: &Ctx<'_>, removed: Switches) -> Result<Vec<String>, JobError> {
    for _ in 0..5 {
        let Some(state) = ctx.store.state(ctx.account).await? else {
            return Ok(vec![]);
        };
        let mut settings = state.settings;
        let before = settings.switches;
        settings.switches = Switches {
            clients_and_projects: before.clients_and_projects && !removed.clients_and_projects,
            people: before.people && !removed.people,
            actuals: before.actuals && !removed.actuals,
        };
        let off: Vec<String> = [
            (
                before.clients_and_projects != settings.switches.clients_and_projects,
                "clients and projects",
            ),
            (before.people != settings.switches.people, "people"),
            (before.actuals != settings.switches.actuals, "actuals"),
        ]
        .into_iter()
        .filter(|(changed, _)| *changed)
        .map(|(_, name)| name.to_owned())
        .collect();
        if off.is_empty() {
            return Ok(off);
        }
        match ctx.store.update_settings(&settings, state.version).await? {
            crate::store::Write::Applied => return Ok(off),
            crate::store::Write::Missing => return Ok(vec![]),
            crate::store::Write::Conflict => continue,
        }
    }
    Err(StoreError::Unavailable {
        operation: format!("switch off what was removed for account {}", ctx.account),
        reason: "the account kept changing".into(),
    }
    .into())
}
