//! Fixtures the rules' unit tests share: a small world of one person, two projects and
//! their contracts, assignments, actuals and ledger.

use crate::clockify::TimeEntry;
use crate::ids::{ClockifyProjectId, ClockifyUserId, RunnPersonId, RunnProjectId, RunnRoleId};
use crate::model::ledger::{DayKey, Ledger};
use crate::model::plan::ActualsPlan;
use crate::runn::{Actual, Assignment, Contract};
use crate::sync::rules::actuals::{
    add_entry, current_totals, plan_actuals, DayTotals, PersonInRunn, ProjectInRunn, RunnSide,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

pub const ALICE: RunnPersonId = RunnPersonId(1);
pub const WEB: RunnProjectId = RunnProjectId(10);
pub const APP: RunnProjectId = RunnProjectId(11);
pub const DEV: RunnRoleId = RunnRoleId(100);
pub const LEAD: RunnRoleId = RunnRoleId(101);
pub const UNKNOWN: RunnRoleId = RunnRoleId(99);

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
pub fn entry(id: &str, project: Option<&str>, start: &str, secs: i64, billable: bool) -> TimeEntry {
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
pub fn contract(
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
pub fn assignment(
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
pub fn actual(key: DayKey, b: f64, nb: f64) -> Actual {
    serde_json::from_value(serde_json::json!({
        "id": 5, "date": key.date, "billableMinutes": b, "nonbillableMinutes": nb,
        "billableNote": null, "nonbillableNote": null, "phaseId": null,
        "personId": key.person.0, "projectId": key.project.0, "roleId": key.role.0, "workstreamId": null,
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
    }))
    .unwrap()
}
pub fn key(project: RunnProjectId, role: RunnRoleId, date: &str) -> DayKey {
    DayKey {
        person: ALICE,
        project,
        role,
        date: day(date),
    }
}

pub struct World {
    pub people: HashMap<ClockifyUserId, PersonInRunn>,
    pub projects: HashMap<ClockifyProjectId, ProjectInRunn>,
    pub assignments: Vec<Assignment>,
    pub contracts: Vec<Contract>,
    pub actuals: Vec<Actual>,
    pub ledger: Ledger,
}

impl World {
    pub fn new() -> Self {
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
    pub fn plan(&self, entries: &[TimeEntry], tz: Tz) -> ActualsPlan {
        let days = (day("2026-11-01"), day("2026-11-30"));
        let mut totals = DayTotals::new();
        for e in entries {
            add_entry(&mut totals, e, tz, days);
        }
        let current = current_totals(&self.actuals);
        let side = RunnSide {
            people: &self.people,
            projects: &self.projects,
            assignments: &self.assignments,
            contracts: &self.contracts,
            unknown_role: Some(UNKNOWN),
            current: &current,
            ledger: &self.ledger,
            only_people: None,
        };
        plan_actuals(&totals, days, &side, day("2026-11-28"))
    }
    /// Applies a plan as Runn and the ledger would end up.
    pub fn apply(&mut self, plan: &ActualsPlan) {
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

pub fn writes(plan: &ActualsPlan) -> Vec<(DayKey, u32, u32)> {
    plan.writes
        .iter()
        .map(|w| (w.key, w.billable, w.nonbillable))
        .collect()
}
