//! Timesheets to actuals, as rules: Clockify's time entries are summed per person,
//! project and local day; each day gets its role; the wanted totals are compared with
//! what Runn holds and with the ledger of what this project wrote, and the plan says what
//! to write, what to set back to 0 and what to skip (with the minutes each skip drops).
//! Pure: nothing here touches a network, a store or a clock.

use crate::clockify::TimeEntry;
use crate::ids::{ClockifyProjectId, ClockifyUserId, RunnPersonId, RunnProjectId, RunnRoleId};
use crate::model::ledger::{DayKey, Ledger, Source, Written};
use crate::model::plan::{ActualsPlan, DayWrite, Unlinked};
use crate::model::report::{clip, Capped, TimeSkip, TimeSkipGroup, LINE_CHARS};
use crate::runn::{Actual, Assignment, Contract};
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// Runn's totals of some days, per upsert key: billable and non-billable minutes.
pub type Current = HashMap<DayKey, (u32, u32)>;

/// What Runn and the ledger hold, and who is who, for planning a range of days.
pub struct RunnSide<'a> {
    pub people: &'a HashMap<ClockifyUserId, PersonInRunn>,
    pub projects: &'a HashMap<ClockifyProjectId, ProjectInRunn>,
    pub assignments: &'a [Assignment],
    /// Every contract of every person (the role of a day with no assignment).
    pub contracts: &'a [Contract],
    pub unknown_role: Option<RunnRoleId>,
    /// Runn's totals of the days planned ([`current_totals`], or [`believed_totals`]
    /// when only the changes were read).
    pub current: &'a Current,
    pub ledger: &'a Ledger,
    /// Only these people's totals are planned (a scope of some users); `None`: everyone.
    pub only_people: Option<&'a BTreeSet<RunnPersonId>>,
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

pub(crate) fn by_person<T>(
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
/// Runn's totals of the days, as read (without workstream: ours never carry one).
pub fn current_totals(actuals: &[Actual]) -> Current {
    actuals
        .iter()
        .filter(|a| a.workstream_id.is_none())
        .map(|a| (key_of(a), minutes_of(a)))
        .collect()
}

/// Runn's totals of `days` when only the actuals modified since the last complete run
/// were read: what the ledger says this project wrote, with what was modified since over
/// it. (A total deleted by hand shows in no such read: the weekly full read restores it.)
pub fn believed_totals(
    ledger: &Ledger,
    days: (NaiveDate, NaiveDate),
    modified: &[Actual],
) -> Current {
    let mut current: Current = ledger
        .iter()
        .filter(|(k, _)| k.date >= days.0 && k.date <= days.1)
        .map(|(k, w)| (*k, (w.billable, w.nonbillable)))
        .collect();
    current.extend(current_totals(modified));
    current
}

fn key_of(a: &Actual) -> DayKey {
    DayKey {
        person: a.person_id,
        project: a.project_id,
        role: a.role_id,
        date: a.date,
    }
}

fn minutes_of(a: &Actual) -> (u32, u32) {
    let m = |x: f64| {
        if x.is_finite() && x > 0.0 {
            x.round() as u32
        } else {
            0
        }
    };
    (m(a.billable_minutes), m(a.nonbillable_minutes))
}

/// Plans the actuals of `days` (inclusive) from Clockify's day totals: the totals
/// wanted, each compared with what Runn holds, and the ledger totals whose time has gone
/// set back to 0.
pub fn plan_actuals(
    totals: &DayTotals,
    days: (NaiveDate, NaiveDate),
    runn: &RunnSide<'_>,
    today: NaiveDate,
) -> ActualsPlan {
    let mut plan = ActualsPlan::default();
    let (wanted, kept) = wanted_totals(totals, runn, today, &mut plan);
    compare(&wanted, runn, &mut plan);
    zero_gone(&wanted, &kept, days, runn, &mut plan);
    plan
}

/// Days with Clockify time that was skipped: their totals in Runn are left alone.
type Kept = BTreeSet<(RunnPersonId, RunnProjectId, NaiveDate)>;

/// The day total wanted per upsert key, from Clockify's time; what cannot become an actual
/// is skipped with its reason and minutes.
fn wanted_totals(
    totals: &DayTotals,
    runn: &RunnSide<'_>,
    today: NaiveDate,
    plan: &mut ActualsPlan,
) -> (BTreeMap<DayKey, (u32, u32)>, Kept) {
    let assignments = by_person(runn.assignments, |a| a.person_id);
    let contracts = by_person(runn.contracts, |c| c.person_id);
    let mut wanted: BTreeMap<DayKey, (u32, u32)> = BTreeMap::new();
    let mut kept = Kept::new();
    for ((user, project, date), secs) in totals {
        let (b, nb) = (minutes(secs.billable), minutes(secs.nonbillable));
        let all = u64::from(b) + u64::from(nb);
        let Some((person, proj)) = linked(user, project.as_ref(), *date, all, runn, plan) else {
            continue;
        };
        if runn
            .only_people
            .is_some_and(|only| !only.contains(&person.id))
        {
            continue;
        }
        let what = || format!("{} · {} · {date}", person.name, proj.name);
        let mine = assignments
            .get(&person.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let theirs = contracts.get(&person.id).map(Vec::as_slice).unwrap_or(&[]);
        let role = day_role(mine, theirs, person, proj, *date, today, plan);
        let skip = match role {
            None => Some(TimeSkip::NoRole),
            Some(r) if Some(r) == runn.unknown_role => Some(TimeSkip::UnknownRole),
            Some(_) => None,
        };
        if let Some(reason) = skip {
            add_skip(&mut plan.skipped, reason, all, what());
            if reason == TimeSkip::UnknownRole {
                let m = plan.unknown_role.entry(person.name.clone()).or_default();
                *m = m.saturating_add(all);
            }
            kept.insert((person.id, proj.id, *date));
            continue;
        }
        let key = DayKey {
            person: person.id,
            project: proj.id,
            role: role.expect("a role: skipped above otherwise"),
            date: *date,
        };
        let w = wanted.entry(key).or_default();
        // A server's odd entry (years long) saturates; it cannot overflow.
        w.0 = w.0.saturating_add(b);
        w.1 = w.1.saturating_add(nb);
    }
    (wanted, kept)
}

/// The linked, active person and project of a Clockify day total; `None` (and the skip
/// recorded) when time has no project, or its person or project is not in Runn, archived
/// there or tagged `sync_off`.
fn linked<'r>(
    user: &ClockifyUserId,
    project: Option<&ClockifyProjectId>,
    date: NaiveDate,
    all: u64,
    runn: &'r RunnSide<'_>,
    plan: &mut ActualsPlan,
) -> Option<(&'r PersonInRunn, &'r ProjectInRunn)> {
    let person = runn.people.get(user);
    let Some(p) = project else {
        let who = person.map_or_else(|| format!("Clockify user {user}"), |p| p.name.clone());
        add_skip(
            &mut plan.skipped,
            TimeSkip::NoProject,
            all,
            format!("{who} · no project · {date}"),
        );
        return None;
    };
    let Some(person) = person else {
        add_unlinked(plan, TimeSkip::PersonNotLinked, user, p, all);
        return None;
    };
    let Some(proj) = runn.projects.get(p) else {
        add_unlinked(plan, TimeSkip::ProjectNotLinked, user, p, all);
        return None;
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
        let what = format!("{} · {} · {date}", person.name, proj.name);
        add_skip(&mut plan.skipped, r, all, what);
        return None;
    }
    Some((person, proj))
}

/// The role of a person's day on a project: their assignments' (the one with the most
/// minutes a day, noted when there are several), else their contract's.
fn day_role(
    assignments: &[&Assignment],
    contracts: &[&Contract],
    person: &PersonInRunn,
    proj: &ProjectInRunn,
    date: NaiveDate,
    today: NaiveDate,
    plan: &mut ActualsPlan,
) -> Option<RunnRoleId> {
    let covering: Vec<&Assignment> = assignments
        .iter()
        .copied()
        .filter(|a| {
            a.project_id == proj.id
                && !a.is_template
                && !a.is_placeholder
                && a.start_date <= date
                && date <= a.end_date
        })
        .collect();
    match assignment_role(&covering) {
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
        None => contract_role(contracts, date, today),
    }
}

/// Each wanted total against what Runn holds: written when it differs; recorded in the
/// ledger only, when Runn already holds it and the ledger does not say so.
fn compare(wanted: &BTreeMap<DayKey, (u32, u32)>, runn: &RunnSide<'_>, plan: &mut ActualsPlan) {
    for (key, (b, nb)) in wanted {
        let write = DayWrite {
            key: *key,
            billable: *b,
            nonbillable: *nb,
            source: Source::Sync,
        };
        if runn.current.get(key) == Some(&(*b, *nb)) {
            plan.unchanged += 1;
            match runn.ledger.get(key) {
                Some(w) if w.same_totals(&write.written()) && w.source != Source::Autofill => {}
                // Written by this sync before (and its answer lost, or Runn changed back).
                Some(_) => plan.record_only.push((*key, write.written())),
                // Runn held it before the sync wrote anything here: adopted.
                None => plan.record_only.push((
                    *key,
                    Written {
                        source: Source::Adopted,
                        ..write.written()
                    },
                )),
            }
        } else {
            plan.writes.push(write);
        }
    }
}

/// Totals this project wrote whose time has gone (deleted, moved to another project, or
/// now counted under another role) are set back to 0. Only ledger totals: a total entered
/// by hand is never touched. Time skipped for a reason keeps what it had.
fn zero_gone(
    wanted: &BTreeMap<DayKey, (u32, u32)>,
    kept: &Kept,
    days: (NaiveDate, NaiveDate),
    runn: &RunnSide<'_>,
    plan: &mut ActualsPlan,
) {
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
        if was.source == Source::Autofill || (was.billable == 0 && was.nonbillable == 0) {
            continue;
        }
        if runn
            .only_people
            .is_some_and(|only| !only.contains(&key.person))
            || !active_people.contains(&key.person)
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
        match runn.current.get(key) {
            // Already 0 in Runn, or gone (deleted by hand): nothing to write.
            None | Some((0, 0)) => plan.record_only.push((
                *key,
                Written {
                    source: was.source,
                    ..zero.written()
                },
            )),
            Some(_) => plan.writes.push(zero),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::rules::testing::*;
    use chrono::TimeZone;

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
    fn a_total_runn_held_before_the_sync_is_adopted_kept_in_step_and_adopted_once() {
        let mut w = World::new();
        let k = key(WEB, DEV, "2026-11-10");
        w.actuals.push(actual(k, 60.0, 0.0));
        let e = entry("e1", Some("web"), "2026-11-10T09:00:00Z", 3600, true);
        let plan = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        assert!(plan.writes.is_empty());
        assert_eq!(plan.record_only.len(), 1);
        assert_eq!(plan.record_only[0].1.source, Source::Adopted);
        w.apply(&plan);
        // Recorded once: the next run has nothing to record.
        let again = w.plan(std::slice::from_ref(&e), chrono_tz::UTC);
        assert!(again.writes.is_empty() && again.record_only.is_empty());
        // Its time deleted in Clockify: set back to 0 like any total the sync keeps.
        let gone = w.plan(&[], chrono_tz::UTC);
        assert_eq!(writes(&gone), [(k, 0, 0)]);
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
        assert_eq!(groups[0].days.named.len(), crate::model::report::NAMED_CAP);
        assert!(groups[0]
            .days
            .named
            .iter()
            .all(|n| n.chars().count() <= LINE_CHARS + 1));
    }
}
