//! Applies the actuals rules: gathers what Clockify and Runn hold for a range of days,
//! plans ([`crate::sync::actuals`]), and writes — the ledger first (so nothing written can
//! be missing from it), then Runn, 100 day totals a call. A bulk call Runn refuses with
//! 400 is split until the refused totals are isolated; the rest are written. Long ranges
//! go in chunks, each saved as done, so a stopped back-fill resumes where it stopped.

use crate::account::{AccountId, AccountSettings};
use crate::clockify::{ClockifyClient, DateRange};
use crate::error::ApiError;
use crate::ids::{ClockifyProjectId, ClockifyUserId, RunnPersonId, RunnProjectId, RunnRoleId};
use crate::runn::{ActualInput, DatedFilter, PeopleFilter, ProjectFilter, RunnClient, MAX_BULK};
use crate::store::Store;
use crate::sync::actuals::LINE_CHARS;
use crate::sync::actuals::{
    add_entry, is_sync_off, plan_actuals, plan_autofill, unlinked_line, ActualsPlan, AutofillSide,
    DayTotals, DayWrite, Ledger, LedgerGroup, PersonInRunn, ProjectInRunn, RunnSide, Source,
    TimeSkip, TimeSkipGroup, Unlinked,
};
use crate::sync::import::{all, clockify_ref, UNKNOWN_ROLE};
use crate::sync::plan::{why_person_not_in_runn, why_project_not_in_runn};
use crate::sync::report::{clip, Capped};
use crate::sync::{Budget, Halt, RunLimits};
use chrono::{Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Days synced per chunk: with a day's margin each side the Clockify read is 31 days, the
/// most one detailed report takes on every plan.
pub const CHUNK_DAYS: i64 = 29;

/// The target of the progress events of day totals written.
pub const ACTUALS_PROGRESS: &str = "runn_clockify::actuals";

/// What an actuals sync or autofill did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualsReport {
    /// The days done by this run.
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    /// Day totals written with time.
    pub written: usize,
    /// Ledger totals set back to 0 (their time was deleted, moved or re-roled).
    pub zeroed: usize,
    /// Zero-hour totals written by the autofill.
    pub autofilled: usize,
    /// Day totals Runn already held as wanted.
    pub unchanged: usize,
    pub skipped: Vec<TimeSkipGroup>,
    /// Day totals Runn refused, with its message.
    pub refused: Capped<String>,
    /// Days with assignments of several roles, and the role chosen.
    pub notes: Capped<String>,
    /// Linked people whose time was skipped for the "Unknown" role, with the minutes.
    pub unknown_role: Capped<String>,
    pub finished: bool,
    /// Requests that wrote.
    pub writes: usize,
    /// Back-fill chunks saved as done (progress even when they held no time).
    #[serde(default)]
    pub backfilled_chunks: usize,
    /// Time whose person or project is not in Runn, until its lines are written.
    #[serde(skip)]
    unlinked: BTreeMap<Unlinked, (usize, u64)>,
    /// Where a stopped run resumes.
    pub resume_from: Option<NaiveDate>,
}

impl ActualsReport {
    fn absorb(&mut self, plan: &ActualsPlan, unknown: &mut BTreeMap<String, u64>) {
        self.unchanged += plan.unchanged;
        for g in &plan.skipped {
            match self.skipped.iter_mut().find(|x| x.reason == g.reason) {
                Some(mine) => {
                    mine.minutes += g.minutes;
                    mine.days.merge(&g.days);
                }
                None => self.skipped.push(g.clone()),
            }
        }
        self.notes.merge(&plan.notes);
        for (k, (days, m)) in &plan.unlinked {
            let mine = self.unlinked.entry(k.clone()).or_default();
            mine.0 += days;
            mine.1 = mine.1.saturating_add(*m);
        }
        for (who, m) in &plan.unknown_role {
            *unknown.entry(who.clone()).or_default() += m;
        }
    }
}

/// Who is who in Runn, and each Clockify user's zone: read once a run.
pub struct Index {
    pub people: HashMap<ClockifyUserId, PersonInRunn>,
    pub projects: HashMap<ClockifyProjectId, ProjectInRunn>,
    pub archived_people: BTreeSet<RunnPersonId>,
    /// Every project the autofill may fill: confirmed, not archived, not `sync_off`.
    pub fillable_projects: BTreeSet<RunnProjectId>,
    pub contracts: Vec<crate::runn::Contract>,
    pub unknown_role: Option<RunnRoleId>,
    pub zones: HashMap<ClockifyUserId, Tz>,
    /// Clockify's users, as read for their zones (to say why one is not in Runn).
    clockify_users: HashMap<ClockifyUserId, crate::clockify::User>,
    person_names: HashMap<RunnPersonId, String>,
    project_names: HashMap<RunnProjectId, String>,
}

impl Index {
    fn describe(&self, w: &DayWrite) -> String {
        format!(
            "{} · {} · {}",
            self.person_names
                .get(&w.key.person)
                .cloned()
                .unwrap_or_else(|| format!("person {}", w.key.person)),
            self.project_names
                .get(&w.key.project)
                .cloned()
                .unwrap_or_else(|| format!("project {}", w.key.project)),
            w.key.date
        )
    }
}

/// Everything a sync of one account needs to reach.
pub struct Ctx<'a> {
    pub account: &'a AccountId,
    pub settings: &'a AccountSettings,
    pub clockify: &'a ClockifyClient,
    pub runn: &'a RunnClient,
    pub store: &'a dyn Store,
}

/// Reads who is who. `with_zones` reads Clockify's users too (the autofill needs none).
pub async fn load_index(ctx: &Ctx<'_>, with_zones: bool) -> Result<Index, ApiError> {
    let mut index = Index {
        people: HashMap::new(),
        projects: HashMap::new(),
        archived_people: BTreeSet::new(),
        fillable_projects: BTreeSet::new(),
        contracts: all(ctx.runn.contracts()).await?,
        unknown_role: find_role(ctx.runn, UNKNOWN_ROLE).await?,
        zones: HashMap::new(),
        clockify_users: HashMap::new(),
        person_names: HashMap::new(),
        project_names: HashMap::new(),
    };
    for p in all(ctx.runn.people(&PeopleFilter::default())).await? {
        let name = format!("{} {}", p.first_name, p.last_name);
        if p.is_archived {
            index.archived_people.insert(p.id);
        }
        index.person_names.insert(p.id, name.clone());
        if let Some(x) = clockify_ref(&p.references) {
            index.people.insert(
                x.into(),
                PersonInRunn {
                    id: p.id,
                    name,
                    archived: p.is_archived,
                },
            );
        }
    }
    let filter = ProjectFilter {
        include_archived: true,
        ..Default::default()
    };
    for p in all(ctx.runn.projects(&filter)).await? {
        let sync_off = p.tags.iter().any(|t| is_sync_off(&t.name));
        if p.is_confirmed && !p.is_archived && !sync_off {
            index.fillable_projects.insert(p.id);
        }
        index.project_names.insert(p.id, p.name.clone());
        if let Some(x) = clockify_ref(&p.references) {
            index.projects.insert(
                x.into(),
                ProjectInRunn {
                    id: p.id,
                    name: p.name,
                    archived: p.is_archived,
                    confirmed: p.is_confirmed,
                    sync_off,
                },
            );
        }
    }
    if with_zones {
        for u in all(ctx.clockify.users(&ctx.settings.clockify_workspace)).await? {
            if let Some(tz) = u.time_zone() {
                index.zones.insert(u.id.clone(), tz);
            }
            index.clockify_users.insert(u.id.clone(), u);
        }
    }
    Ok(index)
}

/// The role named exactly `name` (the filter matches substrings).
pub(crate) async fn find_role(
    runn: &RunnClient,
    name: &str,
) -> Result<Option<RunnRoleId>, ApiError> {
    Ok(all(runn.roles(Some(name)))
        .await?
        .into_iter()
        .find(|r| !r.is_archived && r.name.as_deref() == Some(name))
        .map(|r| r.id))
}

/// Linked people, not archived in Runn, whose current role is still "Unknown": actuals
/// cannot be turned on while there are any.
pub async fn people_on_unknown_role(runn: &RunnClient) -> Result<Vec<String>, ApiError> {
    let Some(unknown) = find_role(runn, UNKNOWN_ROLE).await? else {
        return Ok(vec![]);
    };
    let contracts = all(runn.current_contracts()).await?;
    let linked = all(runn.people(&PeopleFilter::default()))
        .await?
        .into_iter()
        .filter(|p| !p.is_archived && clockify_ref(&p.references).is_some())
        .map(|p| (p.id, format!("{} {}", p.first_name, p.last_name)))
        .collect();
    Ok(crate::sync::import::names_on_role(
        &linked, &contracts, unknown,
    ))
}

/// Today in the account's zone.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The days a daily run syncs: the back-fill (from `actuals_since` up to the window, when
/// it is not done) and the window (the last `window_days` days).
pub fn daily_ranges(
    settings: &AccountSettings,
    backfilled_through: Option<NaiveDate>,
    today: NaiveDate,
) -> (Option<(NaiveDate, NaiveDate)>, (NaiveDate, NaiveDate)) {
    let back = u64::from(settings.window_days.max(1)) - 1;
    let window_first = today
        .checked_sub_days(chrono::Days::new(back))
        .unwrap_or(NaiveDate::MIN);
    let backfill = settings.actuals_since.and_then(|since| {
        let from = backfilled_through
            .and_then(|d| d.succ_opt())
            .map_or(since, |d| d.max(since));
        let to = window_first.pred_opt()?;
        (from <= to).then_some((from, to))
    });
    let first = settings
        .actuals_since
        .map_or(window_first, |s| s.max(window_first));
    (backfill, (first.min(today), today))
}

/// The daily actuals sync: the back-fill first, chunk by chunk (each saved as done), then
/// the window.
pub async fn sync_daily(
    ctx: &Ctx<'_>,
    limits: RunLimits<'_>,
) -> Result<ActualsReport, crate::sync::SyncError> {
    let mut run = Run::new(limits);
    let result = async {
        let index = load_index(ctx, true).await?;
        let done = ctx.store.backfilled_through(ctx.account).await?;
        let (backfill, window) = daily_ranges(ctx.settings, done, today(ctx.settings.time_zone));
        if let Some((from, to)) = backfill {
            run.days(ctx, &index, from, to, true).await?;
        }
        let result = run.days(ctx, &index, window.0, window.1, false).await;
        explain_unlinked(ctx, &index, &mut run.report).await;
        result
    }
    .await;
    run.finish(result)
}

/// A one-off re-sync of `[from, to]`, beyond the window.
pub async fn sync_range(
    ctx: &Ctx<'_>,
    from: NaiveDate,
    to: NaiveDate,
    limits: RunLimits<'_>,
) -> Result<ActualsReport, crate::sync::SyncError> {
    let mut run = Run::new(limits);
    let result = async {
        let index = load_index(ctx, true).await?;
        let result = run.days(ctx, &index, from, to, false).await;
        explain_unlinked(ctx, &index, &mut run.report).await;
        result
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
    let ws = &ctx.settings.clockify_workspace;
    let projects = if report
        .unlinked
        .keys()
        .any(|k| k.reason == TimeSkip::ProjectNotLinked)
    {
        let read = async {
            Ok::<_, ApiError>((
                all(ctx.clockify.projects(ws)).await?,
                all(ctx.clockify.clients(ws)).await?,
            ))
        };
        match read.await {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::warn!(error = %e, "could not read Clockify's projects to say why time was skipped");
                None
            }
        }
    } else {
        None
    };
    let switches = ctx.settings.switches;
    let user_name = |id: &ClockifyUserId| {
        index
            .clockify_users
            .get(id)
            .and_then(|u| u.name.as_deref())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("Clockify user {id}"), str::to_owned)
    };
    let project_name = |id: &ClockifyProjectId| {
        let linked = index.projects.get(id).map(|p| p.name.clone());
        let clockify = projects
            .as_ref()
            .and_then(|(ps, _)| ps.iter().find(|p| &p.id == id))
            .map(|p| p.name.trim().to_owned());
        linked
            .or(clockify)
            .unwrap_or_else(|| format!("Clockify project {id}"))
    };
    for (k, (days, minutes)) in std::mem::take(&mut report.unlinked) {
        let why = match k.reason {
            TimeSkip::PersonNotLinked => {
                why_person_not_in_runn(index.clockify_users.get(&k.user), ws, switches)
            }
            _ => match &projects {
                Some((ps, clients)) => why_project_not_in_runn(
                    ps.iter().find(|p| p.id == k.project),
                    clients,
                    switches,
                ),
                None => "not in Runn",
            },
        };
        let line = unlinked_line(
            &user_name(&k.user),
            &project_name(&k.project),
            why,
            days,
            minutes,
        );
        if let Some(g) = report.skipped.iter_mut().find(|g| g.reason == k.reason) {
            g.days.push(line);
        }
    }
}

/// The zero-hour autofill of the week starting `monday`.
pub async fn autofill(
    ctx: &Ctx<'_>,
    monday: NaiveDate,
    limits: RunLimits<'_>,
) -> Result<ActualsReport, crate::sync::SyncError> {
    let mut run = Run::new(limits);
    run.report.resume_from = Some(monday);
    let result = async {
        let index = load_index(ctx, false).await?;
        let sunday = monday
            .checked_add_days(chrono::Days::new(6))
            .unwrap_or(NaiveDate::MAX);
        let week = dated(monday, sunday);
        let assignments = all(ctx.runn.assignments(&week)).await?;
        let actuals = all(ctx.runn.actuals(&week)).await?;
        let mut ledger = ctx.store.ledger(ctx.account, monday, sunday).await?;
        let plan = plan_autofill(
            monday,
            &AutofillSide {
                archived_people: &index.archived_people,
                fillable_projects: &index.fillable_projects,
                assignments: &assignments,
                contracts: &index.contracts,
                actuals: &actuals,
            },
            today(ctx.settings.time_zone),
        );
        run.apply(ctx, &index, plan, &mut ledger).await?;
        run.report.first = Some(monday);
        run.report.last = Some(sunday);
        Ok(())
    }
    .await;
    run.finish(result)
}

/// Clockify's time of `[first, last]` summed per user, project and day. The report takes
/// one zone for the whole request: ask in UTC for the days widened by one each side, then
/// give each entry to its user's own day.
async fn day_totals(
    ctx: &Ctx<'_>,
    index: &Index,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<DayTotals, ApiError> {
    let fetch = DateRange::new(
        first.pred_opt().unwrap_or(first),
        last.succ_opt().unwrap_or(last),
        Tz::UTC,
    )
    .map_err(|e| ApiError::Invalid {
        service: crate::error::Service::Clockify,
        reason: e.to_string(),
    })?;
    let mut totals = DayTotals::new();
    let mut pages = ctx
        .clockify
        .time_entries(&ctx.settings.clockify_workspace, fetch);
    while let Some(page) = pages.next().await {
        for e in page? {
            let tz = index
                .zones
                .get(&e.user_id)
                .copied()
                .unwrap_or(ctx.settings.time_zone);
            add_entry(&mut totals, &e, tz, (first, last));
        }
    }
    Ok(totals)
}

fn dated(first: NaiveDate, last: NaiveDate) -> DatedFilter {
    DatedFilter {
        min_date: Some(first),
        max_date: Some(last),
        ..Default::default()
    }
}

/// One run's progress through its days and writes.
struct Run<'a> {
    budget: Budget<'a>,
    report: ActualsReport,
    unknown: BTreeMap<String, u64>,
}

impl<'a> Run<'a> {
    fn new(limits: RunLimits<'a>) -> Self {
        Self {
            budget: Budget::new(limits),
            report: ActualsReport::default(),
            unknown: BTreeMap::new(),
        }
    }

    fn finish(mut self, result: Result<(), Halt>) -> Result<ActualsReport, crate::sync::SyncError> {
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
                Ok(self.report)
            }
            Err(Halt::Limit) => {
                tracing::info!(writes = self.budget.writes, resume_from = ?self.report.resume_from,
                    "actuals stopped at the run's limit; to be continued");
                self.report.finished = false;
                Ok(self.report)
            }
            Err(Halt::Api(e)) => Err(e.into()),
            Err(Halt::Store(e)) => Err(e.into()),
            Err(Halt::Stopped(why)) => Err(crate::sync::SyncError::Stopped(why)),
        }
    }

    /// Syncs `[from, to]` in chunks; a back-fill saves each chunk as done.
    async fn days(
        &mut self,
        ctx: &Ctx<'_>,
        index: &Index,
        from: NaiveDate,
        to: NaiveDate,
        backfill: bool,
    ) -> Result<(), Halt> {
        let mut first = from;
        while first <= to {
            self.report.resume_from = Some(first);
            if !self.budget.time_left() {
                return Err(Halt::Limit);
            }
            let last = first
                .checked_add_signed(Duration::days(CHUNK_DAYS - 1))
                .map_or(to, |l| l.min(to));
            self.chunk(ctx, index, first, last).await?;
            if backfill {
                self.budget.check().await?;
                ctx.store.set_backfilled_through(ctx.account, last).await?;
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
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<(), Halt> {
        let account_tz = ctx.settings.time_zone;
        let totals = day_totals(ctx, index, first, last).await?;
        let range = dated(first, last);
        let assignments = all(ctx.runn.assignments(&range)).await?;
        let actuals = all(ctx.runn.actuals(&range)).await?;
        let mut ledger = ctx.store.ledger(ctx.account, first, last).await?;
        let plan = plan_actuals(
            &totals,
            (first, last),
            &RunnSide {
                people: &index.people,
                projects: &index.projects,
                assignments: &assignments,
                contracts: &index.contracts,
                unknown_role: index.unknown_role,
                actuals: &actuals,
                ledger: &ledger,
            },
            today(account_tz),
        );
        drop(totals);
        self.report.absorb(&plan, &mut self.unknown);
        tracing::info!(%first, %last, writes = plan.writes.len(), unchanged = plan.unchanged, "actuals planned");
        self.apply(ctx, index, plan, &mut ledger).await
    }

    /// Records ledger-only entries, then writes in calls of 100, each after its ledger.
    async fn apply(
        &mut self,
        ctx: &Ctx<'_>,
        index: &Index,
        plan: ActualsPlan,
        ledger: &mut Ledger,
    ) -> Result<(), Halt> {
        let mut dirty = BTreeSet::new();
        for (k, w) in &plan.record_only {
            ledger.insert(*k, *w);
            dirty.insert(LedgerGroup::of(k));
        }
        if !dirty.is_empty() {
            self.budget.check().await?;
            ctx.store.save_ledger(ctx.account, ledger, &dirty).await?;
        }
        let total = plan.writes.len();
        let mut done = 0;
        for chunk in plan.writes.chunks(MAX_BULK) {
            // Before the ledger: a run stopped here writes nothing more anywhere.
            self.budget.check().await?;
            let mut dirty = BTreeSet::new();
            for w in chunk {
                ledger.insert(w.key, w.written());
                dirty.insert(LedgerGroup::of(&w.key));
            }
            ctx.store.save_ledger(ctx.account, ledger, &dirty).await?;
            self.upsert(ctx.runn, index, chunk).await?;
            done += chunk.len();
            tracing::info!(target: ACTUALS_PROGRESS, done, total, "day totals written");
        }
        Ok(())
    }

    /// One bulk upsert; a 400 splits it until the refused totals are isolated. Upserts
    /// are idempotent, so an unclear answer is simply sent again (by the request path).
    async fn upsert(
        &mut self,
        runn: &RunnClient,
        index: &Index,
        writes: &[DayWrite],
    ) -> Result<(), Halt> {
        let mut stack: Vec<&[DayWrite]> = vec![writes];
        while let Some(part) = stack.pop() {
            self.budget.take().await?;
            let inputs: Vec<ActualInput> = part
                .iter()
                .map(|w| ActualInput {
                    date: w.key.date,
                    billable_minutes: w.billable,
                    nonbillable_minutes: w.nonbillable,
                    person_id: w.key.person,
                    project_id: w.key.project,
                    role_id: w.key.role,
                    billable_note: None,
                    nonbillable_note: None,
                    workstream_id: None,
                })
                .collect();
            match runn.upsert_actuals_bulk(&inputs).await {
                Ok(_) => {
                    for w in part {
                        match (w.source, w.is_zero()) {
                            (Source::Autofill, _) => self.report.autofilled += 1,
                            (Source::Sync, true) => self.report.zeroed += 1,
                            (Source::Sync, false) => self.report.written += 1,
                        }
                    }
                }
                Err(ApiError::Rejected {
                    status: 400,
                    message,
                    ..
                }) => {
                    if let [one] = part {
                        tracing::warn!(what = %index.describe(one), %message, "Runn refused a day total");
                        self.report.refused.push(clip(
                            &format!("{}: {message}", index.describe(one)),
                            2 * LINE_CHARS,
                        ));
                    } else {
                        let (a, b) = part.split_at(part.len() / 2);
                        stack.push(b);
                        stack.push(a);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Hours per person and project over a range, as Clockify and Runn each hold them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoursRow {
    pub person: String,
    pub project: String,
    /// Clockify's minutes, rounded once a day as the sync rounds them.
    pub clockify: u64,
    /// Runn's actuals, every role together.
    pub runn: u64,
}

/// Clockify's time beside Runn's actuals, per linked person and project, for `[from, to]`
/// (what an operator checks after a sync: the two columns should match).
pub async fn hours(
    ctx: &Ctx<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<HoursRow>, ApiError> {
    let index = load_index(ctx, true).await?;
    let totals = day_totals(ctx, &index, from, to).await?;
    let mut rows: BTreeMap<(RunnPersonId, RunnProjectId), (u64, u64)> = BTreeMap::new();
    for ((user, project, _), secs) in &totals {
        let (Some(person), Some(project)) = (
            index.people.get(user),
            project.as_ref().and_then(|p| index.projects.get(p)),
        ) else {
            continue;
        };
        let m = u64::from(crate::sync::actuals::minutes(secs.billable))
            + u64::from(crate::sync::actuals::minutes(secs.nonbillable));
        rows.entry((person.id, project.id)).or_default().0 += m;
    }
    let linked_people: BTreeSet<RunnPersonId> = index.people.values().map(|p| p.id).collect();
    let linked_projects: BTreeSet<RunnProjectId> = index.projects.values().map(|p| p.id).collect();
    for a in all(ctx.runn.actuals(&dated(from, to))).await? {
        if linked_people.contains(&a.person_id) && linked_projects.contains(&a.project_id) {
            let m = a.billable_minutes.max(0.0) + a.nonbillable_minutes.max(0.0);
            rows.entry((a.person_id, a.project_id)).or_default().1 += m.round() as u64;
        }
    }
    let mut out: Vec<HoursRow> = rows
        .into_iter()
        .map(|((person, project), (clockify, runn))| HoursRow {
            person: index
                .person_names
                .get(&person)
                .cloned()
                .unwrap_or_else(|| format!("person {person}")),
            project: index
                .project_names
                .get(&project)
                .cloned()
                .unwrap_or_else(|| format!("project {project}")),
            clockify,
            runn,
        })
        .collect();
    out.sort_by(|a, b| (&a.person, &a.project).cmp(&(&b.person, &b.project)));
    Ok(out)
}
