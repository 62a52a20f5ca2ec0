//! Timesheets to actuals, as plain data. Clockify's time entries are summed per person,
//! project and local day; each day gets its role; the wanted totals are compared with
//! what Runn holds and with the ledger of what this project wrote, and the plan says what
//! to write, what to set back to 0 and what to skip (with the minutes each skip drops).
//! The weekly zero-hour autofill is planned here too. Nothing here touches a network.

use crate::clockify::TimeEntry;
use crate::ids::{ClockifyProjectId, ClockifyUserId, RunnPersonId, RunnProjectId, RunnRoleId};
use crate::runn::{Actual, Assignment, Contract};
use crate::sync::report::{clip, Capped};

/// A line of a report (a skipped day, a note) is cut to this many characters, so a run
/// record stays small whatever the names in it.
pub const LINE_CHARS: usize = 240;
use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One day total in Runn: Runn's upsert key (we send no workstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DayKey {
    pub person: RunnPersonId,
    pub project: RunnProjectId,
    pub role: RunnRoleId,
    pub date: NaiveDate,
}

/// Who wrote a day total: the timesheet sync, or the weekly autofill's 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Sync,
    Autofill,
}

/// A day total this project wrote (or is about to write: the ledger is written ahead of
/// Runn, so nothing it wrote can be missing from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub billable: u32,
    pub nonbillable: u32,
    pub source: Source,
}

/// Every day total this project wrote, for one account.
pub type Ledger = BTreeMap<DayKey, Written>;

/// How the ledger is stored: one item per person and month, so items stay small whatever
/// the account's size (a month of one person is at most a few thousand totals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerGroup {
    /// The first day of the month.
    pub month: NaiveDate,
    pub person: RunnPersonId,
}

impl LedgerGroup {
    pub fn of(key: &DayKey) -> Self {
        Self {
            month: first_of_month(key.date),
            person: key.person,
        }
    }
}

pub fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// Seconds of time on one day, billable and not, summed before any rounding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seconds {
    pub billable: i64,
    pub nonbillable: i64,
}

/// Clockify time summed per user, project (none: an entry without one) and local day.
pub type DayTotals = BTreeMap<(ClockifyUserId, Option<ClockifyProjectId>, NaiveDate), Seconds>;

/// Adds one entry to the totals: it counts whole on the day it started in its user's
/// zone (an entry starting 23:30 in Auckland is that Auckland day's). Entries outside
/// `days` (the fetch is widened by a day each side) are left out.
pub fn add_entry(totals: &mut DayTotals, entry: &TimeEntry, tz: Tz, days: (NaiveDate, NaiveDate)) {
    let date = entry.local_date(tz);
    if date < days.0 || date > days.1 {
        return;
    }
    let secs = entry.duration().num_seconds().max(0);
    let sum = totals
        .entry((entry.user_id.clone(), entry.project_id.clone(), date))
        .or_default();
    if entry.billable {
        sum.billable = sum.billable.saturating_add(secs);
    } else {
        sum.nonbillable = sum.nonbillable.saturating_add(secs);
    }
}

/// Whole minutes, rounded half up, from a day's seconds.
pub fn minutes(secs: i64) -> u32 {
    u32::try_from((secs.max(0) + 30) / 60).unwrap_or(u32::MAX)
}

/// A linked Runn person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonInRunn {
    pub id: RunnPersonId,
    pub name: String,
    pub archived: bool,
}

/// A linked Runn project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectInRunn {
    pub id: RunnProjectId,
    pub name: String,
    pub archived: bool,
    pub confirmed: bool,
    /// Tagged `sync_off` (compared case-insensitively, trimmed).
    pub sync_off: bool,
}

/// Whether a tag name opts a project out.
pub fn is_sync_off(tag: &str) -> bool {
    tag.trim().eq_ignore_ascii_case("sync_off")
}

/// Why Clockify time did not become an actual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSkip {
    NoProject,
    PersonNotLinked,
    ProjectNotLinked,
    PersonArchived,
    ProjectArchived,
    SyncOff,
    /// The day's role would be "Unknown": give the person a role in Runn.
    UnknownRole,
    /// No assignment and no contract gives the day a role.
    NoRole,
}

impl TimeSkip {
    pub fn explain(self) -> &'static str {
        match self {
            TimeSkip::NoProject => "time without a project",
            TimeSkip::PersonNotLinked => "person not in Runn",
            TimeSkip::ProjectNotLinked => "project not in Runn",
            TimeSkip::PersonArchived => "person archived in Runn",
            TimeSkip::ProjectArchived => "project archived in Runn",
            TimeSkip::SyncOff => "project tagged sync_off",
            TimeSkip::UnknownRole => "role is \"Unknown\" that day",
            TimeSkip::NoRole => "no role that day",
        }
    }
}

/// The time skipped for one reason: how many day totals, how many minutes, and the first
/// few by name: a line per day ("person · project · date"), or, for time whose person or
/// project is not in Runn, a line per person and project saying why, with its days and
/// minutes ("Ana García · Internal: Holidays & Leave - has no client in Clockify: 3 days,
/// 480 min").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSkipGroup {
    pub reason: TimeSkip,
    pub minutes: u64,
    /// Day totals (a person's time on a project on a day) skipped.
    #[serde(default)]
    pub day_totals: usize,
    #[serde(flatten)]
    pub days: Capped<String>,
}

fn skip_group(groups: &mut Vec<TimeSkipGroup>, reason: TimeSkip) -> &mut TimeSkipGroup {
    let i = match groups.iter().position(|g| g.reason == reason) {
        Some(i) => i,
        None => {
            groups.push(TimeSkipGroup {
                reason,
                minutes: 0,
                day_totals: 0,
                days: Capped::default(),
            });
            groups.len() - 1
        }
    };
    &mut groups[i]
}

/// The skips of a run, by reason: a day total's minutes, and its line.
pub fn add_skip(groups: &mut Vec<TimeSkipGroup>, reason: TimeSkip, minutes: u64, what: String) {
    let g = skip_group(groups, reason);
    g.minutes = g.minutes.saturating_add(minutes);
    g.day_totals += 1;
    g.days.push(clip(&what, LINE_CHARS));
}

/// A day total whose person or project is not in Runn: its minutes, and its days kept
/// per person and project (`unlinked`) for a line that says why, once the run knows.
fn add_unlinked(
    plan: &mut ActualsPlan,
    reason: TimeSkip,
    user: &ClockifyUserId,
    project: &ClockifyProjectId,
    minutes: u64,
) {
    let g = skip_group(&mut plan.skipped, reason);
    g.minutes = g.minutes.saturating_add(minutes);
    g.day_totals += 1;
    let key = Unlinked {
        reason,
        user: user.clone(),
        project: project.clone(),
    };
    let (days, m) = plan.unlinked.entry(key).or_default();
    *days += 1;
    *m = m.saturating_add(minutes);
}

/// Time of a person or project not in Runn, by person and project.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unlinked {
    pub reason: TimeSkip,
    pub user: ClockifyUserId,
    pub project: ClockifyProjectId,
}

/// The line of an [`Unlinked`] group: who, which project and why it is not in Runn, with
/// its days and minutes.
pub fn unlinked_line(who: &str, project: &str, why: &str, days: usize, minutes: u64) -> String {
    let days = if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    };
    clip(
        &format!("{who} · {project} - {why}: {days}, {minutes} min"),
        LINE_CHARS,
    )
}

/// One upsert of a day total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayWrite {
    pub key: DayKey,
    pub billable: u32,
    pub nonbillable: u32,
    pub source: Source,
}

impl DayWrite {
    pub fn written(&self) -> Written {
        Written {
            billable: self.billable,
            nonbillable: self.nonbillable,
            source: self.source,
        }
    }
    pub fn is_zero(&self) -> bool {
        self.billable == 0 && self.nonbillable == 0
    }
}

/// What an actuals sync (or an autofill) will do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActualsPlan {
    /// Totals to write: new or changed ones, and ledger totals set back to 0.
    pub writes: Vec<DayWrite>,
    /// Ledger entries to record without a write (Runn already holds the total).
    pub record_only: Vec<(DayKey, Written)>,
    /// Day totals Runn already holds as wanted.
    pub unchanged: usize,
    pub skipped: Vec<TimeSkipGroup>,
    /// Days with several assignments of different roles, and the role chosen.
    pub notes: Capped<String>,
    /// Linked people whose time was skipped for the "Unknown" role, with the minutes.
    pub unknown_role: BTreeMap<String, u64>,
    /// Time whose person or project is not in Runn, per person and project: days and
    /// minutes (its lines are written once the run knows why each is not in Runn).
    pub unlinked: BTreeMap<Unlinked, (usize, u64)>,
}

/// What Runn and the ledger hold, and who is who, for planning a range of days.
pub struct RunnSide<'a> {
    pub people: &'a HashMap<ClockifyUserId, PersonInRunn>,
    pub projects: &'a HashMap<ClockifyProjectId, ProjectInRunn>,
    pub assignments: &'a [Assignment],
    /// Every contract of every person (the role of a day with no assignment).
    pub contracts: &'a [Contract],
    pub unknown_role: Option<RunnRoleId>,
    /// Runn's actuals of the days planned.
    pub actuals: &'a [Actual],
    pub ledger: &'a Ledger,
}

/// The contract that gives a day its role: the one in force that day (the latest to
/// start, ties by id), else the person's current one (in force today, else the latest).
/// The actuals and the autofill both ask this one function.
pub fn contract_in_force<'c>(
    contracts: &[&'c Contract],
    date: NaiveDate,
    today: NaiveDate,
) -> Option<&'c Contract> {
    let in_force = |d: NaiveDate| {
        contracts
            .iter()
            .copied()
            .filter(|c| c.start_date <= d && c.end_date.is_none_or(|e| d <= e))
            .max_by_key(|c| (c.start_date, c.id))
    };
    in_force(date).or_else(|| in_force(today)).or_else(|| {
        contracts
            .iter()
            .copied()
            .max_by_key(|c| (c.start_date, c.id))
    })
}

/// The role of a day with no assignment: that of [`contract_in_force`].
pub fn contract_role(
    contracts: &[&Contract],
    date: NaiveDate,
    today: NaiveDate,
) -> Option<RunnRoleId> {
    contract_in_force(contracts, date, today).map(|c| c.role_id)
}

/// The role of the assignments covering a day: one role, or the one with the most
/// minutes a day (ties: the lowest role id), with a note saying so.
fn assignment_role(covering: &[&Assignment]) -> Option<(RunnRoleId, bool)> {
    let mut per_role: BTreeMap<RunnRoleId, i64> = BTreeMap::new();
    for a in covering {
        *per_role.entry(a.role_id).or_default() += a.minutes_per_day;
    }
    let several = per_role.len() > 1;
    per_role
        .into_iter()
        .max_by(|(ra, ma), (rb, mb)| ma.cmp(mb).then(rb.cmp(ra)))
        .map(|(role, _)| (role, several))
}

fn by_person<T>(
    items: &[T],
    person: impl Fn(&T) -> RunnPersonId,
) -> HashMap<RunnPersonId, Vec<&T>> {
    let mut out: HashMap<RunnPersonId, Vec<&T>> = HashMap::new();
    for i in items {
        out.entry(person(i)).or_default().push(i);
    }
    out
}

/// Runn's current totals of the days, without workstream (ours never carry one).
fn current_totals(actuals: &[Actual]) -> HashMap<DayKey, (u32, u32)> {
    actuals
        .iter()
        .filter(|a| a.workstream_id.is_none())
        .map(|a| {
            let key = DayKey {
                person: a.person_id,
                project: a.project_id,
                role: a.role_id,
                date: a.date,
            };
            let m = |x: f64| {
                if x.is_finite() && x > 0.0 {
                    x.round() as u32
                } else {
                    0
                }
            };
            (key, (m(a.billable_minutes), m(a.nonbillable_minutes)))
        })
        .collect()
}

/// Plans the actuals of `days` (inclusive) from Clockify's day totals.
pub fn plan_actuals(
    totals: &DayTotals,
    days: (NaiveDate, NaiveDate),
    runn: &RunnSide<'_>,
    today: NaiveDate,
) -> ActualsPlan {
    let mut plan = ActualsPlan::default();
    let assignments = by_person(runn.assignments, |a| a.person_id);
    let contracts = by_person(runn.contracts, |c| c.person_id);
    let no_contracts = vec![];
    let mut wanted: BTreeMap<DayKey, (u32, u32)> = BTreeMap::new();
    // Days with Clockify time that was skipped: their totals in Runn are left alone.
    let mut kept: BTreeSet<(RunnPersonId, RunnProjectId, NaiveDate)> = BTreeSet::new();

    for ((user, project, date), secs) in totals {
        let (b, nb) = (minutes(secs.billable), minutes(secs.nonbillable));
        let all = u64::from(b) + u64::from(nb);
        let person = runn.people.get(user);
        let proj = project.as_ref().and_then(|p| runn.projects.get(p));
        let who = person.map_or_else(|| format!("Clockify user {user}"), |p| p.name.clone());
        let what = |proj_name: &str| format!("{who} · {proj_name} · {date}");
        let (person, proj) = match (project, person, proj) {
            (None, _, _) => {
                add_skip(
                    &mut plan.skipped,
                    TimeSkip::NoProject,
                    all,
                    what("no project"),
                );
                continue;
            }
            (Some(p), None, _) => {
                add_unlinked(&mut plan, TimeSkip::PersonNotLinked, user, p, all);
                continue;
            }
            (Some(p), Some(_), None) => {
                add_unlinked(&mut plan, TimeSkip::ProjectNotLinked, user, p, all);
                continue;
            }
            (Some(_), Some(person), Some(proj)) => (person, proj),
        };
        let reason = if person.archived {
            Some(TimeSkip::PersonArchived)
        } else if proj.archived {
            Some(TimeSkip::ProjectArchived)
        } else if proj.sync_off {
            Some(TimeSkip::SyncOff)
        } else {
            None
        };
        if let Some(r) = reason {
            add_skip(&mut plan.skipped, r, all, what(&proj.name));
            continue;
        }
        let covering: Vec<&Assignment> = assignments
            .get(&person.id)
            .into_iter()
            .flatten()
            .filter(|a| {
                a.project_id == proj.id
                    && !a.is_template
                    && !a.is_placeholder
                    && a.start_date <= *date
                    && *date <= a.end_date
            })
            .copied()
            .collect();
        let role = match assignment_role(&covering) {
            Some((role, several)) => {
                if several {
                    plan.notes.push(clip(
                        &format!(
                            "{} · {} · {date}: several assignments; role {role} (most minutes a day)",
                            person.name, proj.name
                        ),
                        LINE_CHARS,
                    ));
                }
                Some(role)
            }
            None => contract_role(
                contracts.get(&person.id).unwrap_or(&no_contracts),
                *date,
                today,
            ),
        };
        let Some(role) = role else {
            add_skip(&mut plan.skipped, TimeSkip::NoRole, all, what(&proj.name));
            kept.insert((person.id, proj.id, *date));
            continue;
        };
        if Some(role) == runn.unknown_role {
            add_skip(
                &mut plan.skipped,
                TimeSkip::UnknownRole,
                all,
                what(&proj.name),
            );
            let m = plan.unknown_role.entry(person.name.clone()).or_default();
            *m = m.saturating_add(all);
            kept.insert((person.id, proj.id, *date));
            continue;
        }
        let key = DayKey {
            person: person.id,
            project: proj.id,
            role,
            date: *date,
        };
        let w = wanted.entry(key).or_default();
        // A server's odd entry (years long) saturates; it cannot overflow.
        w.0 = w.0.saturating_add(b);
        w.1 = w.1.saturating_add(nb);
    }

    let current = current_totals(runn.actuals);
    for (key, (b, nb)) in &wanted {
        let write = DayWrite {
            key: *key,
            billable: *b,
            nonbillable: *nb,
            source: Source::Sync,
        };
        if current.get(key) == Some(&(*b, *nb)) {
            plan.unchanged += 1;
            if runn.ledger.get(key) != Some(&write.written()) {
                plan.record_only.push((*key, write.written()));
            }
        } else {
            plan.writes.push(write);
        }
    }

    // Totals this project wrote whose time has gone (deleted, moved to another project,
    // or now counted under another role) are set back to 0. Only ledger totals: a total
    // entered by hand is never touched. Time skipped for a reason keeps what it had.
    let active_people: BTreeSet<RunnPersonId> = runn
        .people
        .values()
        .filter(|p| !p.archived)
        .map(|p| p.id)
        .collect();
    let active_projects: BTreeSet<RunnProjectId> = runn
        .projects
        .values()
        .filter(|p| !p.archived && !p.sync_off)
        .map(|p| p.id)
        .collect();
    for (key, was) in runn.ledger {
        if key.date < days.0 || key.date > days.1 || wanted.contains_key(key) {
            continue;
        }
        if was.source != Source::Sync || (was.billable == 0 && was.nonbillable == 0) {
            continue;
        }
        if !active_people.contains(&key.person)
            || !active_projects.contains(&key.project)
            || kept.contains(&(key.person, key.project, key.date))
        {
            continue;
        }
        let zero = DayWrite {
            key: *key,
            billable: 0,
            nonbillable: 0,
            source: Source::Sync,
        };
        match current.get(key) {
            // Already 0 in Runn, or gone (deleted by hand): nothing to write.
            None | Some((0, 0)) => plan.record_only.push((*key, zero.written())),
            Some(_) => plan.writes.push(zero),
        }
    }
    plan
}

/// The Monday of the last complete Monday–Sunday week before `today`.
pub fn last_complete_week(today: NaiveDate) -> NaiveDate {
    let back = u64::from(today.weekday().num_days_from_monday()) + 7;
    today
        .checked_sub_days(chrono::Days::new(back))
        .unwrap_or(NaiveDate::MIN)
}

/// Minutes rostered on `date`'s weekday by a contract (none at weekends).
fn rostered(contract: &Contract, date: NaiveDate) -> f64 {
    let r = &contract.rostered_days;
    match date.weekday() {
        Weekday::Mon => r.monday,
        Weekday::Tue => r.tuesday,
        Weekday::Wed => r.wednesday,
        Weekday::Thu => r.thursday,
        Weekday::Fri => r.friday,
        Weekday::Sat | Weekday::Sun => 0.0,
    }
}

/// What the weekly autofill needs of Runn: everyone, not only linked records.
pub struct AutofillSide<'a> {
    pub archived_people: &'a BTreeSet<RunnPersonId>,
    /// Projects that are confirmed, not archived and not `sync_off`.
    pub fillable_projects: &'a BTreeSet<RunnProjectId>,
    pub assignments: &'a [Assignment],
    pub contracts: &'a [Contract],
    pub actuals: &'a [Actual],
}

/// The zero-hour actuals of the week starting `monday`: for each person, project and day
/// covered by a real assignment (not a non-working day, template or placeholder) on a day
/// the person's contract rosters, on a confirmed, active, synced project, where Runn holds
/// no actual for that person, project, role and day. It never changes an actual.
pub fn plan_autofill(monday: NaiveDate, runn: &AutofillSide<'_>, today: NaiveDate) -> ActualsPlan {
    let mut plan = ActualsPlan::default();
    let held: BTreeSet<DayKey> = runn
        .actuals
        .iter()
        .map(|a| DayKey {
            person: a.person_id,
            project: a.project_id,
            role: a.role_id,
            date: a.date,
        })
        .collect();
    let contracts = by_person(runn.contracts, |c| c.person_id);
    let mut planned: BTreeSet<DayKey> = BTreeSet::new();
    for a in runn.assignments {
        if a.is_non_working_day
            || a.is_template
            || a.is_placeholder
            || runn.archived_people.contains(&a.person_id)
            || !runn.fillable_projects.contains(&a.project_id)
        {
            continue;
        }
        for date in monday.iter_days().take(7) {
            if date < a.start_date || date > a.end_date {
                continue;
            }
            let mine = contracts
                .get(&a.person_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let in_force = contract_in_force(mine, date, today);
            if !in_force.is_some_and(|c| rostered(c, date) > 0.0) {
                continue;
            }
            let key = DayKey {
                person: a.person_id,
                project: a.project_id,
                role: a.role_id,
                date,
            };
            if held.contains(&key) || !planned.insert(key) {
                continue;
            }
            plan.writes.push(DayWrite {
                key,
                billable: 0,
                nonbillable: 0,
                source: Source::Autofill,
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runn::RosteredDays;
    use chrono::{DateTime, TimeZone, Utc};

    const ALICE: RunnPersonId = RunnPersonId(1);
    const WEB: RunnProjectId = RunnProjectId(10);
    const APP: RunnProjectId = RunnProjectId(11);
    const DEV: RunnRoleId = RunnRoleId(100);
    const LEAD: RunnRoleId = RunnRoleId(101);
    const UNKNOWN: RunnRoleId = RunnRoleId(99);

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn entry(id: &str, project: Option<&str>, start: &str, secs: i64, billable: bool) -> TimeEntry {
        let start = at(start);
        TimeEntry {
            id: id.into(),
            user_id: "u1".into(),
            project_id: project.map(Into::into),
            billable,
            description: String::new(),
            start,
            end: start + chrono::Duration::seconds(secs),
        }
    }
    fn contract(
        person: RunnPersonId,
        role: RunnRoleId,
        start: &str,
        end: Option<&str>,
    ) -> Contract {
        serde_json::from_value(serde_json::json!({
            "id": role.0 * 1000 + person.0, "costPerHour": null, "employmentType": "employee",
            "minutesPerDay": 480, "rosteredDays": {"monday": 480, "tuesday": 480, "wednesday": 480, "thursday": 480, "friday": 0},
            "startDate": start, "endDate": end, "roleId": role.0, "personId": person.0, "jobTitle": null,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }
    fn assignment(
        id: i64,
        project: RunnProjectId,
        role: RunnRoleId,
        start: &str,
        end: &str,
        mpd: i64,
    ) -> Assignment {
        serde_json::from_value(serde_json::json!({
            "id": id, "personId": ALICE.0, "startDate": start, "endDate": end, "projectId": project.0,
            "minutesPerDay": mpd, "roleId": role.0, "isActive": true, "note": null, "isBillable": true,
            "phaseId": null, "isNonWorkingDay": false, "isTemplate": false, "isPlaceholder": false,
            "workstreamId": null, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }
    fn actual(key: DayKey, b: f64, nb: f64) -> Actual {
        serde_json::from_value(serde_json::json!({
            "id": 5, "date": key.date, "billableMinutes": b, "nonbillableMinutes": nb,
            "billableNote": null, "nonbillableNote": null, "phaseId": null,
            "personId": key.person.0, "projectId": key.project.0, "roleId": key.role.0, "workstreamId": null,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }
    fn key(project: RunnProjectId, role: RunnRoleId, date: &str) -> DayKey {
        DayKey {
            person: ALICE,
            project,
            role,
            date: day(date),
        }
    }

    struct World {
        people: HashMap<ClockifyUserId, PersonInRunn>,
        projects: HashMap<ClockifyProjectId, ProjectInRunn>,
        assignments: Vec<Assignment>,
        contracts: Vec<Contract>,
        actuals: Vec<Actual>,
        ledger: Ledger,
    }

    impl World {
        fn new() -> Self {
            let project = |id, name: &str| ProjectInRunn {
                id,
                name: name.into(),
                archived: false,
                confirmed: true,
                sync_off: false,
            };
            Self {
                people: [(
                    "u1".into(),
                    PersonInRunn {
                        id: ALICE,
                        name: "Alice".into(),
                        archived: false,
                    },
                )]
                .into(),
                projects: [
                    ("web".into(), project(WEB, "Web")),
                    ("app".into(), project(APP, "App")),
                ]
                .into(),
                assignments: vec![],
                contracts: vec![contract(ALICE, DEV, "2020-01-01", None)],
                actuals: vec![],
                ledger: Ledger::new(),
            }
        }
        fn plan(&self, entries: &[TimeEntry], tz: Tz) -> ActualsPlan {
            let days = (day("2026-11-01"), day("2026-11-30"));
            let mut totals = DayTotals::new();
            for e in entries {
                add_entry(&mut totals, e, tz, days);
            }
            let side = RunnSide {
                people: &self.people,
                projects: &self.projects,
                assignments: &self.assignments,
                contracts: &self.contracts,
                unknown_role: Some(UNKNOWN),
                actuals: &self.actuals,
                ledger: &self.ledger,
            };
            plan_actuals(&totals, days, &side, day("2026-11-28"))
        }
        /// Applies a plan as Runn and the ledger would end up.
        fn apply(&mut self, plan: &ActualsPlan) {
            for w in &plan.writes {
                self.actuals.retain(|a| {
                    !(a.person_id == w.key.person
                        && a.project_id == w.key.project
                        && a.role_id == w.key.role
                        && a.date == w.key.date)
                });
                self.actuals
                    .push(actual(w.key, w.billable.into(), w.nonbillable.into()));
                self.ledger.insert(w.key, w.written());
            }
            for (k, w) in &plan.record_only {
                self.ledger.insert(*k, *w);
            }
        }
    }

    fn writes(plan: &ActualsPlan) -> Vec<(DayKey, u32, u32)> {
        plan.writes
            .iter()
            .map(|w| (w.key, w.billable, w.nonbillable))
            .collect()
    }

    #[test]
    fn an_entry_counts_on_its_users_local_day_and_minutes_round_once_per_day() {
        let w = World::new();
        // 23:30 in Auckland on 10 Nov is 10:30 UTC on 10 Nov; 00:30 on 11 Nov Auckland
        // is 11:30 UTC on 10 Nov: two Auckland days.
        let auckland = chrono_tz::Pacific::Auckland;
        let e1 = entry("e1", Some("web"), "2026-11-10T10:30:00Z", 89, true);
        let e2 = entry("e2", Some("web"), "2026-11-10T11:30:00Z", 60, true);
        let plan = w.plan(&[e1.clone(), e2], auckland);
        assert_eq!(
            writes(&plan),
            [
                (key(WEB, DEV, "2026-11-10"), 1, 0),
                (key(WEB, DEV, "2026-11-11"), 1, 0)
            ]
        );
        // Three 29.5-minute-ish pieces on one day: 89 s + 89 s + 89 s = 267 s = 4.45 min
        // rounds to 4 once, not 1 + 1 + 1 per entry; 90 s rounds half up to 2.
        let e = |id, s| entry(id, Some("web"), "2026-11-12T09:00:00Z", s, false);
        let plan = w.plan(&[e("a", 89), e("b", 89), e("c", 89)], chrono_tz::UTC);
        assert_eq!(writes(&plan), [(key(WEB, DEV, "2026-11-12"), 0, 4)]);
        let plan = w.plan(&[e("a", 90)], chrono_tz::UTC);
        assert_eq!(writes(&plan), [(key(WEB, DEV, "2026-11-12"), 0, 2)]);
        assert_eq!(
            Tz::UTC
                .from_utc_datetime(&e1.start.naive_utc())
                .date_naive(),
            day("2026-11-10")
        );
    }

    #[test]
    fn an_unchanged_day_writes_nothing_and_a_deleted_or_moved_entry_follows() {
        let mut w = World::new();
        let e = entry("e1", Some("web"), "2026-11-10T09:00:00Z", 3600, true);
        let first = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        w.apply(&first);
        let again = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        assert!(again.writes.is_empty() && again.unchanged == 1);
        // Moved to another project: the new project gets the hour, the old one 0.
        let moved = entry("e1", Some("app"), "2026-11-10T09:00:00Z", 3600, true);
        let plan = w.plan(std::slice::from_ref(&moved), chrono_tz::UTC);
        assert_eq!(
            writes(&plan),
            [
                (key(APP, DEV, "2026-11-10"), 60, 0),
                (key(WEB, DEV, "2026-11-10"), 0, 0)
            ]
        );
        w.apply(&plan);
        // Deleted: 0 where nothing remains.
        let plan = w.plan(&[], chrono_tz::UTC);
        assert_eq!(writes(&plan), [(key(APP, DEV, "2026-11-10"), 0, 0)]);
        w.apply(&plan);
        assert!(w.plan(&[], chrono_tz::UTC).writes.is_empty());
    }

    #[test]
    fn a_hand_entered_actual_is_never_touched() {
        let mut w = World::new();
        w.actuals
            .push(actual(key(WEB, DEV, "2026-11-10"), 120.0, 0.0));
        let plan = w.plan(&[], chrono_tz::UTC);
        assert!(plan.writes.is_empty() && plan.record_only.is_empty());
    }

    #[test]
    fn a_role_change_moves_the_total_and_two_assignments_pick_the_bigger() {
        let mut w = World::new();
        w.assignments
            .push(assignment(1, WEB, DEV, "2026-11-01", "2026-11-30", 240));
        let e = entry("e1", Some("web"), "2026-11-10T09:00:00Z", 3600, true);
        let plan = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        w.apply(&plan);
        // Someone changes the assignment's role afterwards: the hour moves, never twice.
        w.assignments[0].role_id = LEAD;
        let plan = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        assert_eq!(
            writes(&plan),
            [
                (key(WEB, LEAD, "2026-11-10"), 60, 0),
                (key(WEB, DEV, "2026-11-10"), 0, 0)
            ]
        );
        w.apply(&plan);
        // Two assignments, two roles: the most minutes a day wins, and the status says so.
        w.assignments
            .push(assignment(2, WEB, DEV, "2026-11-10", "2026-11-10", 300));
        let plan = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        assert_eq!(
            writes(&plan),
            [
                (key(WEB, DEV, "2026-11-10"), 60, 0),
                (key(WEB, LEAD, "2026-11-10"), 0, 0)
            ]
        );
        assert_eq!(plan.notes.count, 1);
        // A tie goes to the lowest role id (DEV, already there: nothing to write).
        w.apply(&plan);
        w.assignments[1].minutes_per_day = 240;
        let plan = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        assert!(DEV < LEAD && plan.writes.is_empty() && plan.unchanged == 1);
    }

    #[test]
    fn without_an_assignment_the_contract_of_the_day_gives_the_role() {
        let mut w = World::new();
        w.contracts = vec![
            contract(ALICE, DEV, "2020-01-01", Some("2026-11-14")),
            contract(ALICE, LEAD, "2026-11-15", None),
        ];
        let plan = w.plan(
            &[
                entry("a", Some("web"), "2026-11-10T09:00:00Z", 600, true),
                entry("b", Some("web"), "2026-11-20T09:00:00Z", 600, true),
            ],
            chrono_tz::UTC,
        );
        assert_eq!(
            writes(&plan),
            [
                (key(WEB, DEV, "2026-11-10"), 10, 0),
                (key(WEB, LEAD, "2026-11-20"), 10, 0)
            ]
        );
    }

    #[test]
    fn skipped_time_is_counted_with_its_minutes_and_keeps_what_runn_had() {
        let mut w = World::new();
        let e = entry("e1", Some("web"), "2026-11-10T09:00:00Z", 3600, true);
        let first = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        w.apply(&first);
        w.projects
            .get_mut(&ClockifyProjectId::from("web"))
            .unwrap()
            .sync_off = true;
        let more = entry("e2", Some("web"), "2026-11-10T11:00:00Z", 1800, true);
        let plan = w.plan(
            &[
                e,
                more,
                entry("e3", None, "2026-11-10T09:00:00Z", 600, false),
            ],
            chrono_tz::UTC,
        );
        assert!(
            plan.writes.is_empty(),
            "totals written before sync_off stay"
        );
        let by: HashMap<TimeSkip, u64> =
            plan.skipped.iter().map(|g| (g.reason, g.minutes)).collect();
        assert_eq!(by[&TimeSkip::SyncOff], 90);
        assert_eq!(by[&TimeSkip::NoProject], 10);
        // Unknown role: skipped, listed with the minutes.
        let mut w = World::new();
        w.contracts = vec![contract(ALICE, UNKNOWN, "2020-01-01", None)];
        let plan = w.plan(
            &[entry("x", Some("app"), "2026-11-10T09:00:00Z", 1200, true)],
            chrono_tz::UTC,
        );
        assert!(plan.writes.is_empty());
        assert_eq!(plan.unknown_role.get("Alice"), Some(&20));
        // Not linked, archived.
        let mut w = World::new();
        w.people
            .get_mut(&ClockifyUserId::from("u1"))
            .unwrap()
            .archived = true;
        let plan = w.plan(
            &[
                entry("x", Some("app"), "2026-11-10T09:00:00Z", 60, true),
                entry("y", Some("nope"), "2026-11-10T09:00:00Z", 60, true),
            ],
            chrono_tz::UTC,
        );
        let reasons: Vec<TimeSkip> = plan.skipped.iter().map(|g| g.reason).collect();
        assert_eq!(
            reasons,
            [TimeSkip::PersonArchived, TimeSkip::ProjectNotLinked]
        );
    }

    #[test]
    fn an_entry_years_long_saturates_instead_of_overflowing() {
        let w = World::new();
        let huge = |id| {
            entry(
                id,
                Some("web"),
                "2026-11-10T09:00:00Z",
                250_000_000_000,
                true,
            )
        };
        let plan = w.plan(
            &[huge("a"), huge("b"), huge("c"), huge("d"), huge("e")],
            chrono_tz::UTC,
        );
        assert_eq!(plan.writes[0].billable, u32::MAX);
    }

    #[test]
    fn skipped_days_keep_counts_and_minutes_but_name_few_and_short() {
        let mut groups = vec![];
        for i in 0..5000 {
            add_skip(
                &mut groups,
                TimeSkip::NoProject,
                2,
                format!("{i} {}", "x".repeat(1000)),
            );
        }
        assert_eq!((groups[0].days.count, groups[0].minutes), (5000, 10_000));
        assert_eq!(groups[0].days.named.len(), crate::sync::report::NAMED_CAP);
        assert!(groups[0]
            .days
            .named
            .iter()
            .all(|n| n.chars().count() <= LINE_CHARS + 1));
    }

    #[test]
    fn autofill_fills_rostered_assigned_days_once_and_real_hours_replace_its_zeros() {
        let mut w = World::new();
        w.assignments
            .push(assignment(1, WEB, DEV, "2026-11-01", "2026-11-30", 240));
        let mut odd = assignment(2, APP, DEV, "2026-11-16", "2026-11-16", 0);
        odd.is_non_working_day = true;
        w.assignments.push(odd);
        w.actuals
            .push(actual(key(WEB, DEV, "2026-11-17"), 30.0, 0.0));
        let archived = BTreeSet::new();
        let fillable: BTreeSet<RunnProjectId> = [WEB, APP].into();
        let monday = last_complete_week(day("2026-11-28"));
        assert_eq!(monday, day("2026-11-16"));
        let fill = |w: &World| {
            plan_autofill(
                monday,
                &AutofillSide {
                    archived_people: &archived,
                    fillable_projects: &fillable,
                    assignments: &w.assignments,
                    contracts: &w.contracts,
                    actuals: &w.actuals,
                },
                day("2026-11-28"),
            )
        };
        let plan = fill(&w);
        // Mon, Wed, Thu: Tuesday has an actual, Friday is not rostered, the weekend never.
        let dates: Vec<NaiveDate> = plan.writes.iter().map(|x| x.key.date).collect();
        assert_eq!(
            dates,
            [day("2026-11-16"), day("2026-11-18"), day("2026-11-19")]
        );
        assert!(plan
            .writes
            .iter()
            .all(|x| x.is_zero() && x.source == Source::Autofill));
        w.apply(&plan);
        assert!(
            fill(&w).writes.is_empty(),
            "run twice, nothing the second time"
        );
        // Real hours arrive for the Monday: they replace the autofilled 0.
        let plan = w.plan(
            &[entry("e", Some("web"), "2026-11-16T09:00:00Z", 7200, true)],
            chrono_tz::UTC,
        );
        assert_eq!(writes(&plan), [(key(WEB, DEV, "2026-11-16"), 120, 0)]);
        w.apply(&plan);
        // The other autofilled zeros stay as they are.
        assert!(w
            .plan(
                &[entry("e", Some("web"), "2026-11-16T09:00:00Z", 7200, true)],
                chrono_tz::UTC
            )
            .writes
            .is_empty());
        let _ = RosteredDays {
            monday: 0.0,
            tuesday: 0.0,
            wednesday: 0.0,
            thursday: 0.0,
            friday: 0.0,
        };
    }
}
