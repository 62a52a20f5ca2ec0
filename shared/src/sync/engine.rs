//! The sync engine: for one scope, gather (reads only) → rules (pure) → a plan (a plain
//! value) → apply (the only writer). A dry run stops at the plan: it sends no write to
//! Runn and writes no ledger, back-fill or sync state.

use super::gather::{self, Index};
use super::rules::actuals::{believed_totals, current_totals, plan_actuals, RunnSide};
use super::rules::autofill::{plan_autofill, AutofillSide};
use super::rules::import::{plan_import, why_person_not_in_runn, why_project_not_in_runn};
use super::rules::links::suggest_links;
use super::rules::people_filter::{take_left_out, Included};
use super::rules::reads::{daily_ranges, window_meaning, window_read, ActualsRead};
use super::{apply, people, today, Budget, Ctx, Halt, Origins, RunLimits, SyncError, CHUNK_DAYS};
use crate::clockify::ClockifyClient;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::model::ledger::Ledger;
use crate::model::plan::{ActualsPlan, ImportPlan};
use crate::model::report::{
    clip, summarize_skips, unlinked_line, ActualsReport, ImportReport, TimeSkip, LINE_CHARS,
};
use crate::model::scope::{Days, Scope};
use crate::runn::RunnClient;
use chrono::{Duration, NaiveDate, Utc};

/// Whether a run writes, and whether it keeps the whole plan it made (a dry run does, to
/// show it; a test of a real run does, to hold it to its dry run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub write: bool,
    pub keep_plan: bool,
}

impl Mode {
    pub const APPLY: Mode = Mode {
        write: true,
        keep_plan: false,
    };
    pub const DRY_RUN: Mode = Mode {
        write: false,
        keep_plan: true,
    };
    pub const APPLY_KEEPING_PLAN: Mode = Mode {
        write: true,
        keep_plan: true,
    };
}

/// The import of a scope's clients, projects and people: its report, and its plan.
pub async fn import(
    ws: &WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    origins: Origins<'_>,
    scope: &Scope,
    limits: RunLimits<'_>,
    mode: Mode,
) -> Result<(ImportReport, ImportPlan), SyncError> {
    let kinds = scope.kinds;
    let mut report = ImportReport {
        people_read: kinds.people,
        ..ImportReport::default()
    };
    let mut budget = Budget::new(limits);
    let mut inputs = gather::import_inputs(ws, clockify, runn, kinds, scope).await?;
    // Every import holds back what looks like a record already in Runn until a person
    // has applied or rejected the link.
    let decisions = origins.store.decisions(origins.account).await?;
    let suggestions = suggest_links(ws, &inputs.clockify, &inputs.records, &rejected(&decisions));
    inputs.linked.held = suggestions.iter().map(|s| s.key()).collect();
    report.held = suggestions.len();
    let mut plan = plan_import(ws, kinds, &inputs.clockify, &inputs.linked);
    plan.skipped.append(&mut inputs.left_out);
    inputs.clockify = Default::default();
    tracing::info!(
        clients = plan.clients.len(),
        projects = plan.projects.len(),
        people = plan.people.len(),
        skipped = plan.skipped.len(),
        dry_run = !mode.write,
        "import planned"
    );
    report.skipped = summarize_skips(&plan.skipped);
    if !mode.write {
        report.finished = true;
        return Ok((report, plan));
    }
    let result = apply::import(runn, origins, &plan, &mut inputs, &mut budget, &mut report).await;
    report.writes = budget.writes;
    match result {
        Ok(()) => report.finished = true,
        Err(Halt::Limit) => {
            tracing::info!(
                writes = budget.writes,
                "stopping at the run's limit; to be continued"
            );
        }
        Err(halt) => return Err(halt.into_error()),
    }
    Ok((report, plan))
}

/// The Clockify records whose suggestions a person rejected.
pub(crate) fn rejected(
    decisions: &[crate::model::links::LinkDecision],
) -> std::collections::HashSet<(crate::model::links::LinkKind, String)> {
    decisions
        .iter()
        .filter(|d| d.decision == crate::model::links::Decision::Rejected)
        .map(|d| (d.kind, d.clockify_id.clone()))
        .collect()
}

/// One actuals run's progress through its days: its budget, report and (kept) plan.
struct Run<'a> {
    budget: Budget<'a>,
    mode: Mode,
    report: ActualsReport,
    unknown: std::collections::BTreeMap<String, u64>,
    plan: ActualsPlan,
    /// A dry run's writes per person and project (by name).
    would: std::collections::BTreeMap<(String, String), Would>,
    /// The people filter, made ready: who is left out of the run.
    included: Option<Included>,
}

/// What a dry run would write for one person and project.
#[derive(Default)]
struct Would {
    writes: usize,
    minutes: u64,
    zeroes: usize,
    autofills: usize,
}

impl<'a> Run<'a> {
    fn new(limits: RunLimits<'a>, mode: Mode) -> Self {
        Self {
            budget: Budget::new(limits),
            mode,
            report: ActualsReport::default(),
            unknown: Default::default(),
            plan: ActualsPlan::default(),
            would: Default::default(),
            included: None,
        }
    }

    /// Takes a chunk's plan into the report (and the kept plan), and applies it.
    async fn carry_out(
        &mut self,
        ctx: &Ctx<'_>,
        index: &Index,
        plan: ActualsPlan,
        ledger: &mut Ledger,
    ) -> Result<(), Halt> {
        self.report.absorb(&plan, &mut self.unknown);
        if self.mode.write {
            apply::actuals(
                ctx,
                index,
                &plan,
                ledger,
                &mut self.budget,
                &mut self.report,
            )
            .await?;
        } else {
            self.tally(index, &plan);
        }
        if self.mode.keep_plan {
            self.plan.merge(plan);
        }
        Ok(())
    }

    /// Counts what a dry run would write, per person and project.
    fn tally(&mut self, index: &Index, plan: &ActualsPlan) {
        for w in &plan.writes {
            let key = (
                index.person_name(w.key.person),
                index.project_name(w.key.project),
            );
            let would = self.would.entry(key).or_default();
            match (w.source, w.is_zero()) {
                (crate::model::ledger::Source::Autofill, _) => {
                    would.autofills += 1;
                    self.report.would_autofill += 1;
                }
                (_, true) => {
                    would.zeroes += 1;
                    self.report.would_zero += 1;
                }
                (_, false) => {
                    would.writes += 1;
                    would.minutes += u64::from(w.billable) + u64::from(w.nonbillable);
                    self.report.would_write += 1;
                }
            }
        }
    }

    fn finish(
        mut self,
        result: Result<(), Halt>,
    ) -> Result<(ActualsReport, ActualsPlan), SyncError> {
        for ((who, project), w) in std::mem::take(&mut self.would) {
            let mut parts = vec![];
            if w.writes > 0 {
                parts.push(format!("{} day totals, {} min", w.writes, w.minutes));
            }
            if w.zeroes > 0 {
                parts.push(format!("{} set back to 0", w.zeroes));
            }
            if w.autofills > 0 {
                parts.push(format!("{} filled with 0", w.autofills));
            }
            let line = format!("{who} · {project}: {}", parts.join("; "));
            self.report.would.push(clip(&line, LINE_CHARS));
        }
        for (who, m) in &self.unknown {
            self.report
                .unknown_role
                .push(clip(&format!("{who} ({m} min)"), LINE_CHARS));
        }
        self.report.writes = self.budget.writes;
        match result {
            Ok(()) => {
                self.report.finished = true;
                self.report.resume_from = None;
            }
            Err(Halt::Limit) => {
                tracing::info!(writes = self.budget.writes, resume_from = ?self.report.resume_from,
                    "actuals stopped at the run's limit; to be continued");
                self.report.finished = false;
            }
            Err(halt) => return Err(halt.into_error()),
        }
        Ok((self.report, self.plan))
    }

    /// Syncs `[from, to]` in chunks of [`CHUNK_DAYS`]; a back-fill saves each as done.
    async fn days(
        &mut self,
        ctx: &Ctx<'_>,
        index: &Index,
        (from, to): (NaiveDate, NaiveDate),
        read: ActualsRead,
        backfill: bool,
        scope: &Scope,
    ) -> Result<(), Halt> {
        let mut first = from;
        while first <= to {
            self.report.resume_from = Some(first);
            if !self.budget.time_left() {
                return Err(Halt::Limit);
            }
            // Read whole, Runn's actuals come a chunk at a time (memory stays flat); read by
            // their changes, there are few, and the range is one chunk (one read of each).
            let last = match read {
                ActualsRead::Full => first
                    .checked_add_signed(Duration::days(CHUNK_DAYS - 1))
                    .map_or(to, |l| l.min(to)),
                ActualsRead::ModifiedSince(_) => to,
            };
            self.chunk(ctx, index, (first, last), read, scope).await?;
            if backfill && self.mode.write {
                apply::backfilled(ctx, &self.budget, last).await?;
                // Progress, though nothing may have been written: a continuation resumes
                // after it (a run of empty months is never retried as one that did nothing).
                self.report.backfilled_chunks += 1;
            }
            self.report.first = Some(self.report.first.map_or(first, |f| f.min(first)));
            self.report.last = Some(last);
            match last.succ_opt() {
                Some(next) => first = next,
                None => break,
            }
        }
        Ok(())
    }

    async fn chunk(
        &mut self,
        ctx: &Ctx<'_>,
        index: &Index,
        days: (NaiveDate, NaiveDate),
        read: ActualsRead,
        scope: &Scope,
    ) -> Result<(), Halt> {
        let mut totals = gather::day_totals(ctx, index, days, scope).await?;
        let left_out = self.included.as_ref().and_then(|included| {
            take_left_out(
                &mut totals,
                |u| people::covers(index, included, u),
                |u, p, date| left_out_line(index, u, p, date),
            )
        });
        let only_people =
            people::planned_people(index, index.people_of(scope), self.included.as_ref());
        let runn = gather::runn_days_of(ctx.runn, days, read, only_people.as_ref()).await?;
        let mut ledger = ctx.store.ledger(ctx.account, days.0, days.1).await?;
        let current = match read {
            ActualsRead::Full => current_totals(&runn.actuals),
            ActualsRead::ModifiedSince(_) => believed_totals(&ledger, days, &runn.actuals),
        };
        let side = RunnSide {
            people: &index.people,
            projects: &index.projects,
            assignments: &runn.assignments,
            contracts: &index.contracts,
            unknown_role: index.unknown_role,
            current: &current,
            ledger: &ledger,
            only_people: only_people.as_ref(),
        };
        let mut plan = plan_actuals(&totals, days, &side, today(ctx.settings.time_zone));
        plan.skipped.extend(left_out);
        drop(totals);
        tracing::info!(first = %days.0, last = %days.1, writes = plan.writes.len(), unchanged = plan.unchanged,
            full_read = read == ActualsRead::Full, "actuals planned");
        self.carry_out(ctx, index, plan, &mut ledger).await
    }
}

/// The actuals of a scope's days: the daily job's (the back-fill first, chunk by chunk,
/// then the window, read whole or only for its changes), or a range's.
pub async fn actuals(
    ctx: &Ctx<'_>,
    scope: &Scope,
    limits: RunLimits<'_>,
    mode: Mode,
) -> Result<(ActualsReport, ActualsPlan), SyncError> {
    let mut run = Run::new(limits, mode);
    let result = async {
        let index = gather::index(ctx, true).await?;
        let ws = &ctx.settings.clockify_workspace;
        run.included = people::included(ctx.clockify, ws, scope.people_filter.as_ref()).await?;
        let result = match scope.days {
            Days::Daily => daily(ctx, &index, &mut run, scope).await,
            Days::Range { from, to } => {
                run.days(ctx, &index, (from, to), ActualsRead::Full, false, scope)
                    .await
            }
            Days::Window => {
                // Read as the daily run would read it now: once a daily run has completed,
                // Runn's side is the ledger and what changed since (a few requests, however
                // large the account), the sync state left as it is.
                let today = today(ctx.settings.time_zone);
                let (_, window) = daily_ranges(ctx.settings, None, today);
                let state = ctx.store.sync_state(ctx.account).await?;
                let read = window_read(&state, ctx.settings, today);
                run.days(ctx, &index, window, read, false, scope).await
            }
        };
        explain_unlinked(ctx, &index, &mut run.report).await;
        result
    }
    .await;
    run.finish(result)
}

/// The daily job's days. The window's read is whole or only its changes since the last
/// complete run (the sync state says which); once the run completes, the state says so.
async fn daily(ctx: &Ctx<'_>, index: &Index, run: &mut Run<'_>, scope: &Scope) -> Result<(), Halt> {
    let read_began = Utc::now();
    let mut state = ctx.store.sync_state(ctx.account).await?;
    let today = today(ctx.settings.time_zone);
    let (backfill, window) = daily_ranges(ctx.settings, state.backfilled_through, today);
    // A scope of some users is no complete run of the window: it reads it whole and leaves
    // the state as it was.
    let whole_scope = scope.users.is_none();
    let read = if whole_scope {
        window_read(&state, ctx.settings, today)
    } else {
        ActualsRead::Full
    };
    if run.mode.write && whole_scope && state.changes_since.is_some() {
        // Writing now: until the run completes, the next reads the window whole.
        state.changes_since = None;
        apply::sync_state(ctx, &state).await?;
    }
    if let Some(range) = backfill {
        run.days(ctx, index, range, ActualsRead::Full, true, scope)
            .await?;
    }
    // A continuation picks the window up where the run it continues stopped: a slow Runn
    // never makes each slice re-read what the last one finished.
    let window = match scope.resume {
        Some(day) if day > window.0 && day <= window.1 => (day, window.1),
        _ => window,
    };
    run.days(ctx, index, window, read, false, scope).await?;
    if run.mode.write && whole_scope {
        // The changes still to read next time: those after this run's last write (Runn's
        // time of it); with no write, those since this run began to read, less a margin
        // for the two clocks.
        state.changes_since = Some(run.report.last_write_at.map_or(
            read_began - super::rules::reads::CLOCK_MARGIN,
            super::rules::reads::after_writes,
        ));
        state.window = Some(window_meaning(ctx.settings));
        if read == ActualsRead::Full {
            state.last_full_read = Some(today);
        }
        apply::sync_state(ctx, &state).await?;
    }
    run.report.full_read = Some(read == ActualsRead::Full);
    Ok(())
}

/// The zero-hour autofill of the week starting `monday`.
pub async fn autofill(
    ctx: &Ctx<'_>,
    monday: NaiveDate,
    limits: RunLimits<'_>,
    mode: Mode,
) -> Result<(ActualsReport, ActualsPlan), SyncError> {
    let mut run = Run::new(limits, mode);
    run.report.resume_from = Some(monday);
    let result = async {
        let ws = &ctx.settings.clockify_workspace;
        let filter = ctx.settings.people_filter.as_ref();
        let included = people::included(ctx.clockify, ws, filter).await?;
        // Clockify's users only for the filter: their e-mail addresses.
        let index = gather::index(ctx, included.is_some()).await?;
        let mut left_alone = index.archived_people.clone();
        if let Some(included) = &included {
            left_alone.extend(people::runn_people_left_out(&index, included));
        }
        let sunday = monday
            .checked_add_days(chrono::Days::new(6))
            .unwrap_or(NaiveDate::MAX);
        let week = gather::runn_days(ctx.runn, (monday, sunday), ActualsRead::Full).await?;
        let mut ledger = ctx.store.ledger(ctx.account, monday, sunday).await?;
        let side = AutofillSide {
            left_alone: &left_alone,
            fillable_projects: &index.fillable_projects,
            assignments: &week.assignments,
            contracts: &index.contracts,
            actuals: &week.actuals,
        };
        let plan = plan_autofill(monday, &side, today(ctx.settings.time_zone));
        run.carry_out(ctx, &index, plan, &mut ledger).await?;
        run.report.first = Some(monday);
        run.report.last = Some(sunday);
        Ok(())
    }
    .await;
    run.finish(result)
}

/// Writes the lines of the time skipped because its person or project is not in Runn:
/// per person and project, why (by the import's rules), with days and minutes. Reads
/// Clockify's projects and clients only when there is such time; if they cannot be read,
/// the lines name the Clockify ids instead (the run is not failed for it).
async fn explain_unlinked(ctx: &Ctx<'_>, index: &Index, report: &mut ActualsReport) {
    if report.unlinked.is_empty() {
        return;
    }
    let needs_projects = report
        .unlinked
        .keys()
        .any(|k| k.reason == TimeSkip::ProjectNotLinked);
    let projects = if needs_projects {
        match gather::clockify_projects(ctx).await {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::warn!(error = %e, "could not read Clockify's projects to say why time was skipped");
                None
            }
        }
    } else {
        None
    };
    let ws = &ctx.settings.clockify_workspace;
    let switches = ctx.settings.switches;
    for (k, (days, minutes)) in std::mem::take(&mut report.unlinked) {
        let why = match k.reason {
            TimeSkip::PersonNotLinked => {
                why_person_not_in_runn(index.clockify_users.get(&k.user), ws, switches)
            }
            _ => match &projects {
                Some((ps, clients)) => {
                    let p = ps.iter().find(|p| p.id == k.project);
                    why_project_not_in_runn(p, clients, switches)
                }
                None => "not in Runn",
            },
        };
        let who = clockify_user_name(index, &k.user);
        let project = project_name(
            index,
            projects.as_ref().map(|(ps, _)| ps.as_slice()),
            &k.project,
        );
        let line = unlinked_line(&who, &project, why, days, minutes);
        if let Some(g) = report.skipped.iter_mut().find(|g| g.reason == k.reason) {
            g.days.push(line);
        }
    }
}

/// "person · project · date" of a day total the people filter left out: the person as
/// Runn names them when linked, else as Clockify does.
fn left_out_line(
    index: &Index,
    user: &crate::ids::ClockifyUserId,
    project: Option<&crate::ids::ClockifyProjectId>,
    date: NaiveDate,
) -> String {
    let who = index
        .people
        .get(user)
        .map_or_else(|| clockify_user_name(index, user), |p| p.name.clone());
    let project = project.map_or_else(|| "no project".to_owned(), |p| project_name(index, None, p));
    format!("{who} · {project} · {date}")
}

fn clockify_user_name(index: &Index, id: &crate::ids::ClockifyUserId) -> String {
    index
        .clockify_users
        .get(id)
        .and_then(|u| u.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("Clockify user {id}"), str::to_owned)
}

fn project_name(
    index: &Index,
    clockify: Option<&[crate::clockify::Project]>,
    id: &crate::ids::ClockifyProjectId,
) -> String {
    let linked = index.projects.get(id).map(|p| p.name.clone());
    let named = clockify
        .and_then(|ps| ps.iter().find(|p| &p.id == id))
        .map(|p| p.name.trim().to_owned());
    linked
        .or(named)
        .unwrap_or_else(|| format!("Clockify project {id}"))
}

impl Halt {
    /// The error a halt other than a limit ends the run with.
    pub(crate) fn into_error(self) -> SyncError {
        match self {
            Halt::Api(e) => SyncError::Api(e),
            Halt::Store(e) => SyncError::Store(e),
            Halt::Stopped(why) => SyncError::Stopped(why),
            Halt::Limit => SyncError::Api(ApiError::OutOfTime {
                service: crate::error::Service::Runn,
                request: "the run".into(),
                reason: "its limit".into(),
            }),
        }
    }
}
