//! The webhook queue's jobs: registering the integration's webhooks, cleaning them up
//! after turning off, and bringing in the changes deliveries marked — the marked
//! people's time over the daily window, and the entity import an entity event asked for.

use super::{clients, lease_holder, JobError, JobOutcome, WorkerConfig};
use crate::account::{AccountId, Switches};
use crate::clockify::{ClockifyClient, ClockifyConfig};
use crate::error::FailureClass;
use crate::model::scope::Scope;
use crate::model::webhooks::{Changes, ChangesBroughtIn, EntityKind};
use crate::queue::{HookWork, Job, Queue};
use crate::store::{LeaseAttempt, OpenedAccount, Store};
use crate::sync::engine::{self, Mode};
use crate::sync::rules::webhooks::{hourly_budget, CHANGES_DELAY, STALE_CLAIM};
use crate::sync::webhooks::{self as hooks, hook_url, HookError};
use crate::sync::{Ctx, Origins, RunLimits};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::Instant;

/// Runs one webhook queue job.
pub async fn run_hook_job(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    work: HookWork,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    match work {
        HookWork::Register => register(store, job, deadline, cfg).await,
        HookWork::Cleanup => cleanup(store, &job.account, deadline, cfg).await,
        HookWork::Changes => changes(store, queue, job, deadline, cfg).await,
    }
}

/// What a registration or clean-up failure does to its job.
fn outcome_of(e: HookError) -> Result<JobOutcome, JobError> {
    match e.class() {
        FailureClass::Transient => Ok(JobOutcome::Retry(e.to_string())),
        _ => Ok(JobOutcome::Dropped(e.to_string())),
    }
}

/// The account, opened, while it is enabled; otherwise why the job is dropped.
async fn enabled(
    store: &dyn Store,
    id: &AccountId,
) -> Result<Result<OpenedAccount, String>, JobError> {
    match store.state(id).await? {
        Some(s) if s.settings.enabled => {}
        _ => return Ok(Err(format!("account {id} is off or gone"))),
    }
    Ok(match store.open_account(id).await {
        Ok(Some(o)) => Ok(o),
        Ok(None) => Err(format!("no account {id}")),
        Err(e) if e.class() == FailureClass::Transient => return Err(e.into()),
        Err(e) => Err(e.to_string()),
    })
}

async fn register(
    store: &dyn Store,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    let Some(public) = cfg.public_api_url.as_deref() else {
        return Ok(JobOutcome::Dropped(
            "no public API URL: webhooks are off".into(),
        ));
    };
    let opened = match enabled(store, &job.account).await? {
        Ok(o) => o,
        Err(why) => return Ok(JobOutcome::Dropped(why)),
    };
    let (clockify, _) = clients(&opened.account, cfg, Some(deadline))?;
    let s = &opened.account.settings;
    let url = hook_url(public, &s.id);
    match hooks::register(&clockify, store, &s.id, &s.clockify_workspace, &url).await {
        Ok(reg) => {
            tracing::info!(hooks = reg.hooks.len(), left_to_daily = ?reg.left_to_daily, "webhooks registered");
            Ok(JobOutcome::Done { finished: true })
        }
        Err(e) => outcome_of(e),
    }
}

/// Checks and repairs the webhooks as part of the daily run; a failure is logged and
/// saved with the registration, and never fails the run.
pub async fn repair(ctx: &Ctx<'_>, cfg: &WorkerConfig) {
    let Some(public) = cfg.public_api_url.as_deref() else {
        return;
    };
    let url = hook_url(public, ctx.account);
    let ws = &ctx.settings.clockify_workspace;
    if let Err(e) = hooks::register(ctx.clockify, ctx.store, ctx.account, ws, &url).await {
        tracing::warn!(error = %e, "the webhooks could not be checked; the next daily run tries again");
    }
}

/// After turning off: deletes our webhooks with the key kept for it, then the key. Past
/// its hour, the key is deleted unused and the webhooks are left (they get 401 until
/// Clockify disables them); the registration says which.
async fn cleanup(
    store: &dyn Store,
    id: &AccountId,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    let reg = store.hooks(id).await?.unwrap_or_default();
    let state = store.state(id).await?;
    let Some(state) = state else {
        store.delete_cleanup_key(id).await?;
        return Ok(JobOutcome::Dropped(format!("no account {id}")));
    };
    if state.settings.enabled {
        // Turned on again meanwhile: its webhooks stay; the key kept apart goes.
        store.delete_cleanup_key(id).await?;
        return Ok(JobOutcome::Dropped(format!(
            "account {id} is on again; webhooks kept"
        )));
    }
    let Some(kept) = store.cleanup_key(id).await? else {
        return Ok(JobOutcome::Dropped(format!("no clean-up key for {id}")));
    };
    if kept.due < Utc::now() {
        store.delete_cleanup_key(id).await?;
        left_behind(store, id, reg.hooks.len()).await?;
        return Ok(JobOutcome::Dropped("the clean-up's hour had passed".into()));
    }
    // To the host and workspace the key was checked for, whatever the settings say now.
    let mut c = ClockifyConfig::new(kept.clockify_host, kept.key);
    c.deadline = Some(deadline);
    if let Some(tune) = cfg.tune_clockify {
        tune(&mut c);
    }
    let clockify = ClockifyClient::new(c)?;
    let url = if reg.url.is_empty() {
        cfg.public_api_url
            .as_deref()
            .map(|p| hook_url(p, id))
            .unwrap_or_default()
    } else {
        reg.url.clone()
    };
    match hooks::remove(&clockify, store, id, &kept.workspace, &url).await {
        Ok(n) => {
            store.delete_cleanup_key(id).await?;
            tracing::info!(
                deleted = n,
                "webhooks deleted; the key kept for it is deleted"
            );
            Ok(JobOutcome::Done { finished: true })
        }
        Err(e) if e.class() == FailureClass::Transient => Ok(JobOutcome::Retry(e.to_string())),
        Err(e) => {
            store.delete_cleanup_key(id).await?;
            left_behind(store, id, reg.hooks.len()).await?;
            Ok(JobOutcome::Dropped(e.to_string()))
        }
    }
}

/// Notes that the key was deleted before the webhooks were.
pub async fn left_behind(
    store: &dyn crate::store::HookStore,
    id: &AccountId,
    hooks: usize,
) -> Result<(), crate::store::StoreError> {
    let mut reg = store.hooks(id).await?.unwrap_or_default();
    reg.cleanup = Some(format!(
        "the credentials were deleted before the webhooks: {hooks} left on the workspace get 401 until Clockify disables them"
    ));
    store.save_hooks(id, &reg).await
}

/// The start of the hour `t` is in, in epoch hours.
fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600)
}

/// Brings in the changes deliveries marked: within the hour's budget, under the
/// account's lease, the marks taken (atomically) before anything is read.
async fn changes(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    let id = &job.account;
    let opened = match enabled(store, id).await? {
        Ok(o) => o,
        Err(why) => return Ok(JobOutcome::Dropped(why)),
    };
    let reg = store.hooks(id).await?.unwrap_or_default();
    let now = Utc::now();
    let used = store.hook_budget_used(id, hour_of(now)).await?;
    if used >= hourly_budget(reg.free_plan) {
        return wait_for_budget(store, queue, job, now).await;
    }
    let holder = lease_holder(&job.run_id);
    let ttl = deadline.saturating_duration_since(Instant::now()) + cfg.safety_margin;
    if let LeaseAttempt::Held(h) = store.try_lease(id, &holder, ttl).await? {
        // Not the 180 s of a button's job: the marks stay, and this job looks again
        // after the debounce delay (the claim refreshed, so no other is queued).
        store.claim_changes_job(id, Utc::now(), Utc::now()).await?;
        queue.send_later(job, CHANGES_DELAY).await?;
        return Ok(JobOutcome::Deferred(format!(
            "{} holds the account",
            h.run_id()
        )));
    }
    let outcome = leased_changes(store, queue, job, &opened, deadline, cfg).await;
    if let Err(e) = store.release_lease(id, &holder).await {
        tracing::warn!(account = %id, error = %e, "could not release the lease");
    }
    outcome
}

/// Before a run under the lease lets it go: the changes marked meanwhile are brought
/// in under the same lease (a webhook job that met the lease also looks again after the
/// debounce delay). Within the hour's budget; a failure is logged, the marks kept.
pub async fn drain(
    store: &dyn Store,
    queue: &dyn Queue,
    opened: &OpenedAccount,
    deadline: Instant,
    cfg: &WorkerConfig,
) {
    let id = &opened.account.settings.id;
    let within_budget = async {
        let reg = store.hooks(id).await?.filter(|r| !r.hooks.is_empty());
        let used = store.hook_budget_used(id, hour_of(Utc::now())).await?;
        Ok::<_, crate::store::StoreError>(reg.is_some_and(|r| used < hourly_budget(r.free_plan)))
    };
    match within_budget.await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for changes marked during the run");
            return;
        }
    }
    let job = Job::hooks(id.clone(), HookWork::Changes);
    match leased_changes(store, queue, &job, opened, deadline, cfg).await {
        Ok(outcome) => tracing::info!(?outcome, "changes marked during the run looked at"),
        Err(e) => tracing::warn!(error = %e, "changes marked during the run were not brought in"),
    }
}

/// Marks over the hour's budget wait: the job looks again at the next hour (SQS delays
/// at most 15 minutes, so it may go round a few times), and the status says so.
async fn wait_for_budget(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<JobOutcome, JobError> {
    let id = &job.account;
    let next_hour = (hour_of(now) + 1) * 3600 - now.timestamp();
    let delay = Duration::from_secs(next_hour.clamp(1, 900) as u64);
    store.claim_changes_job(id, now, now).await?;
    queue.send_later(job, delay).await?;
    let mut brought_in = store.brought_in(id).await?;
    brought_in.waiting = Some(
        "changes wait for the next hour's budget of Clockify requests (or the daily run)".into(),
    );
    store.save_brought_in(id, &brought_in).await?;
    Ok(JobOutcome::Deferred("over the hour's budget".into()))
}

/// Under the lease: takes the marks, brings them in, spends the budget and says what
/// came in. A failure puts the marks back (nothing is lost) and queues a later look.
async fn leased_changes(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    opened: &OpenedAccount,
    deadline: Instant,
    cfg: &WorkerConfig,
) -> Result<JobOutcome, JobError> {
    let id = &opened.account.settings.id;
    let taken = store.take_changes(id).await?;
    if taken.is_empty() {
        return Ok(JobOutcome::Done { finished: true });
    }
    let (clockify, runn) = clients(&opened.account, cfg, Some(deadline))?;
    let ctx = Ctx {
        account: id,
        settings: &opened.account.settings,
        clockify: &clockify,
        runn: &runn,
        store,
    };
    let limits = RunLimits {
        deadline: Some(
            deadline
                - cfg
                    .safety_margin
                    .min(deadline.saturating_duration_since(Instant::now()) / 4),
        ),
        max_writes: cfg.max_writes,
        stop: None,
    };
    let result = bring_in(&ctx, &taken, limits).await;
    let spent = clockify.request_counts().requests;
    let now = Utc::now();
    if let Err(e) = store.spend_hook_budget(id, hour_of(now), spent).await {
        // What was brought in stands; the hour's count is short by this run.
        tracing::warn!(error = %e, spent, "could not count the run against the hour's budget");
    }
    let mut brought_in = store.brought_in(id).await?;
    brought_in.waiting = None;
    match result {
        Ok((writes, true)) => {
            brought_in.at = Some(now);
            brought_in.delay_secs = taken.first_at.map(|f| (now - f).num_seconds());
            brought_in.people = taken.people.len();
            brought_in.writes = writes;
            brought_in.failed = None;
            store.save_brought_in(id, &brought_in).await?;
            tracing::info!(
                people = taken.people.len(),
                writes,
                spent,
                "changes brought in"
            );
            Ok(JobOutcome::Done { finished: true })
        }
        Ok((_, false)) => {
            look_again(store, queue, job, &taken).await?;
            Ok(JobOutcome::Deferred(
                "out of time; the changes are marked again".into(),
            ))
        }
        Err(e) => {
            brought_in.failed = Some(crate::model::report::clip(&e.to_string(), 300));
            store.save_brought_in(id, &brought_in).await?;
            match e.class() {
                FailureClass::Transient => {
                    look_again(store, queue, job, &taken).await?;
                    Ok(JobOutcome::Deferred(format!(
                        "{e}; the changes are marked again"
                    )))
                }
                FailureClass::CredentialsRejected => {
                    let reason = format!("credentials rejected: {e}");
                    store
                        .disable(id, &reason, Some(opened.credentials_version))
                        .await?;
                    Ok(JobOutcome::Dropped(e.to_string()))
                }
                // The daily run brings them in, or fails the same way, for a person to see.
                FailureClass::Permanent => Ok(JobOutcome::Dropped(e.to_string())),
            }
        }
    }
}

/// Marks the changes again and queues one more look after the debounce delay.
async fn look_again(
    store: &dyn Store,
    queue: &dyn Queue,
    job: &Job,
    taken: &Changes,
) -> Result<(), JobError> {
    store.add_changes(&job.account, taken).await?;
    let now = Utc::now();
    if store.claim_changes_job(&job.account, now, now).await? {
        queue.send_later(job, CHANGES_DELAY).await?;
    }
    Ok(())
}

/// The entity import the events asked for, then the marked people's time over the
/// window, within the account's switches and people filter: the writes, and whether
/// it finished.
async fn bring_in(
    ctx: &Ctx<'_>,
    taken: &Changes,
    limits: RunLimits<'_>,
) -> Result<(usize, bool), JobError> {
    let switches = ctx.settings.switches;
    let filter = ctx.settings.people_filter.as_ref();
    let mut writes = 0;
    let kinds = Switches {
        clients_and_projects: switches.clients_and_projects
            && taken.entities.contains(&EntityKind::ClientsAndProjects),
        people: switches.people && taken.entities.contains(&EntityKind::People),
        actuals: false,
    };
    if kinds.imports_entities() {
        let scope = Scope::daily(kinds).filtered(filter);
        let origins = Origins {
            store: ctx.store,
            account: ctx.account,
            run_id: "webhook",
        };
        let ws = &ctx.settings.clockify_workspace;
        let (report, _) = engine::import(
            ws,
            ctx.clockify,
            ctx.runn,
            origins,
            &scope,
            limits,
            Mode::APPLY,
        )
        .await?;
        writes += report.writes;
        if !report.finished {
            return Ok((writes, false));
        }
    }
    if switches.actuals && (taken.everyone || !taken.people.is_empty()) {
        let mut scope = Scope::window_of(taken.people.clone());
        if taken.everyone {
            scope.users = None;
        }
        let scope = scope.filtered(filter);
        let (report, _) = engine::actuals(ctx, &scope, limits, Mode::APPLY).await?;
        writes += report.writes;
        return Ok((writes, report.finished));
    }
    Ok((writes, true))
}

/// What the API does with an accepted delivery's changes: marks them, and queues the
/// one debounced job unless one is queued (a claim younger than [`STALE_CLAIM`]). A
/// failed send gives the claim back, so no mark claims a job that is not queued.
pub async fn mark_and_queue(
    store: &dyn crate::store::HookStore,
    queue: &dyn Queue,
    id: &AccountId,
    changes: &Changes,
) -> Result<bool, JobError> {
    store.add_changes(id, changes).await?;
    let now = Utc::now();
    let stale = now - chrono::Duration::from_std(STALE_CLAIM).unwrap_or_default();
    if !store.claim_changes_job(id, now, stale).await? {
        return Ok(false);
    }
    let job = Job::hooks(id.clone(), HookWork::Changes);
    if let Err(e) = queue.send_later(&job, CHANGES_DELAY).await {
        store.release_changes_job(id, now).await?;
        return Err(e.into());
    }
    Ok(true)
}

/// The brought-in record's line for the status.
pub fn brought_in_line(b: &ChangesBroughtIn) -> Option<String> {
    let at = b.at?;
    Some(format!(
        "last change brought in at {} ({} s after it arrived)",
        at.format("%Y-%m-%d %H:%M:%S UTC"),
        b.delay_secs.unwrap_or(0)
    ))
}

/// The hourly sweep: every turned-off account's Clockify key kept for a clean-up that
/// has not run within its hour is deleted unused, and its status says the webhooks were
/// left. Returns how many keys it deleted.
pub async fn sweep_cleanup_keys(store: &dyn Store) -> Result<usize, JobError> {
    let now = Utc::now();
    let mut expired = 0;
    for id in store.cleanup_accounts().await? {
        if store.expire_cleanup_key(&id, now).await? {
            let left = store.hooks(&id).await?.map_or(0, |h| h.hooks.len());
            left_behind(store, &id, left).await?;
            tracing::warn!(account = %id, left, "the clean-up did not run within its hour: its key is deleted, the webhooks are left");
            expired += 1;
        }
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::model::webhooks::{HookRegistration, RegisteredHook};
    use crate::queue::{MemoryQueue, QueueError, Work};
    use crate::store::roles::*;
    use crate::store::MemoryStore;
    use secrecy::SecretString;

    async fn store_with_account() -> (MemoryStore, AccountId) {
        let settings: crate::account::AccountSettings = serde_json::from_value(serde_json::json!({
            "id": "acme", "runn_account": "Acme", "runn_host": {"kind": "eu"},
            "clockify_host": {"kind": "global"}, "clockify_workspace": "65b1c0ffee0000000000a001",
            "switches": {"clients_and_projects": true, "people": true, "actuals": true},
            "time_zone": "UTC"}))
        .unwrap();
        let id = settings.id.clone();
        let store = MemoryStore::default();
        let account = Account {
            settings,
            runn_token: SecretString::from("LIVE_x"),
            clockify_api_key: SecretString::from("key"),
        };
        store.put_account(&account).await.unwrap();
        let reg = HookRegistration {
            hooks: vec![RegisteredHook {
                id: "w1".into(),
                event: "NEW_TIME_ENTRY".into(),
                token_digest: "00".into(),
            }],
            free_plan: true,
            ..Default::default()
        };
        store.save_hooks(&id, &reg).await.unwrap();
        (store, id)
    }

    fn marked(user: &str) -> Changes {
        Changes {
            people: [crate::ids::ClockifyUserId::new(user)].into(),
            first_at: Some(Utc::now()),
            ..Default::default()
        }
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(600)
    }

    #[tokio::test]
    async fn one_job_is_queued_for_a_burst_and_a_failed_send_leaves_no_claim() {
        let (store, id) = store_with_account().await;
        let queue = MemoryQueue::default();
        assert!(mark_and_queue(&store, &queue, &id, &marked("u1"))
            .await
            .unwrap());
        assert!(!mark_and_queue(&store, &queue, &id, &marked("u2"))
            .await
            .unwrap());
        let delayed = queue.delayed.lock().unwrap().clone();
        assert_eq!(delayed.len(), 1);
        assert_eq!(
            (delayed[0].0.work.clone(), delayed[0].1),
            (Work::Hooks(HookWork::Changes), CHANGES_DELAY)
        );
        let taken = store.take_changes(&id).await.unwrap();
        assert_eq!(taken.people.len(), 2);

        struct Down;
        #[async_trait::async_trait]
        impl Queue for Down {
            async fn send(&self, _: &[Job]) -> Result<(), QueueError> {
                Err(QueueError("down".into()))
            }
            async fn send_later(&self, _: &Job, _: Duration) -> Result<(), QueueError> {
                Err(QueueError("down".into()))
            }
        }
        assert!(mark_and_queue(&store, &Down, &id, &marked("u3"))
            .await
            .is_err());
        // The mark stayed; the claim did not: the next delivery queues the job.
        assert!(mark_and_queue(&store, &queue, &id, &marked("u3"))
            .await
            .unwrap());
        assert_eq!(store.take_changes(&id).await.unwrap().people.len(), 1);
    }

    #[tokio::test]
    async fn over_the_hours_budget_the_marks_wait_and_the_status_says_so() {
        let (store, id) = store_with_account().await;
        let queue = MemoryQueue::default();
        store.add_changes(&id, &marked("u1")).await.unwrap();
        let hour = hour_of(Utc::now());
        store
            .spend_hook_budget(&id, hour, hourly_budget(true))
            .await
            .unwrap();
        let job = Job::hooks(id.clone(), HookWork::Changes);
        let cfg = WorkerConfig::default();
        let out = run_hook_job(&store, &queue, &job, HookWork::Changes, far(), &cfg)
            .await
            .unwrap();
        assert!(matches!(out, JobOutcome::Deferred(_)), "{out:?}");
        let (again, delay) = queue.delayed.lock().unwrap()[0].clone();
        assert_eq!(again.work, job.work);
        assert!(delay <= Duration::from_secs(900) && delay >= Duration::from_secs(1));
        assert!(store.brought_in(&id).await.unwrap().waiting.is_some());
        // Nothing was taken.
        assert_eq!(store.take_changes(&id).await.unwrap().people.len(), 1);
    }

    #[tokio::test]
    async fn a_job_that_meets_the_lease_looks_again_after_the_debounce_delay() {
        let (store, id) = store_with_account().await;
        let queue = MemoryQueue::default();
        store.add_changes(&id, &marked("u1")).await.unwrap();
        store
            .try_lease(&id, "daily-run:1", Duration::from_secs(600))
            .await
            .unwrap();
        let job = Job::hooks(id.clone(), HookWork::Changes);
        let cfg = WorkerConfig::default();
        let out = run_hook_job(&store, &queue, &job, HookWork::Changes, far(), &cfg)
            .await
            .unwrap();
        assert!(matches!(out, JobOutcome::Deferred(_)), "{out:?}");
        assert_eq!(queue.delayed.lock().unwrap()[0].1, CHANGES_DELAY);
        // The claim is fresh: a delivery now queues no second job.
        assert!(!mark_and_queue(&store, &queue, &id, &marked("u2"))
            .await
            .unwrap());
        assert_eq!(store.take_changes(&id).await.unwrap().people.len(), 2);
    }

    #[test]
    fn hours_are_counted_from_the_epoch() {
        let t = chrono::DateTime::from_timestamp(7200 + 59 * 60, 0).unwrap();
        assert_eq!(hour_of(t), 2);
    }
}
