//! The weekly zero-hour autofill, as a rule: 0 for each day someone was planned on a
//! project, rostered, and logged nothing. Pure.

use crate::ids::{RunnPersonId, RunnProjectId};
use crate::model::ledger::{DayKey, Source};
use crate::model::plan::{ActualsPlan, DayWrite};
use crate::runn::{Actual, Assignment, Contract};
use crate::sync::rules::actuals::{by_person, contract_in_force};
use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::BTreeSet;

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
    /// People it never fills for: archived in Runn, or outside the people filter.
    pub left_alone: &'a BTreeSet<RunnPersonId>,
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
            || runn.left_alone.contains(&a.person_id)
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
    use crate::sync::rules::testing::*;

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
                    left_alone: &archived,
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
        // Left alone (archived, or outside the people filter): nothing for them.
        let everyone: BTreeSet<_> = w.assignments.iter().map(|a| a.person_id).collect();
        let alone = plan_autofill(
            monday,
            &AutofillSide {
                left_alone: &everyone,
                fillable_projects: &fillable,
                assignments: &w.assignments,
                contracts: &w.contracts,
                actuals: &[],
            },
            day("2026-11-28"),
        );
        assert!(alone.writes.is_empty());
        let _ = RosteredDays {
            monday: 0.0,
            tuesday: 0.0,
            wednesday: 0.0,
            thursday: 0.0,
            friday: 0.0,
        };
    }
}
