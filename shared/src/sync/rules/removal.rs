//! The removal's rules, pure: of what the integration wrote and created, what may be
//! deleted (the actuals Runn still holds as the ledger says) and archived (the records
//! the record of creates lists, not planned on since), and what is left and why.

use crate::ids::{RunnActualId, RunnPersonId, RunnProjectId};
use crate::model::ledger::{DayKey, Ledger, Source};
use crate::model::links::{CreatedRecord, LinkKind, RemovalRequest};
use crate::runn::Actual;
use crate::sync::rules::links::{RunnRecord, RunnRecords};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a removal reads.
pub struct RemovalInputs<'a> {
    pub created: &'a [CreatedRecord],
    /// Records linked through `link` (never the integration's to archive).
    pub linked: &'a HashSet<(LinkKind, i64)>,
    pub runn: &'a RunnRecords,
    /// People and projects with assignments in Runn.
    pub planned_people: &'a HashSet<RunnPersonId>,
    pub planned_projects: &'a HashSet<RunnProjectId>,
    pub ledger: &'a Ledger,
    /// Runn's actuals of the ledger's days.
    pub actuals: &'a [Actual],
}

/// A record to archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToArchive {
    pub kind: LinkKind,
    pub runn_id: i64,
    pub name: String,
}

/// What a removal will do, and what it leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemovalPlan {
    /// Actuals to delete, with their ledger keys.
    pub delete: Vec<(RunnActualId, DayKey)>,
    /// Ledger rows whose total Runn no longer holds (deleted by hand): forgotten.
    pub forget: Vec<DayKey>,
    /// Actuals changed in Runn since the integration wrote them: left.
    pub changed: Vec<DayKey>,
    /// Totals Runn held before the integration wrote any (the ledger adopted them): left.
    pub adopted: Vec<DayKey>,
    /// Projects first, then people, then clients.
    pub archive: Vec<ToArchive>,
    pub planned: Vec<ToArchive>,
    pub unrecorded: Vec<ToArchive>,
    pub kept_clients: Vec<ToArchive>,
}

/// Minutes as the ledger keeps them.
fn minutes(m: f64) -> Option<u32> {
    (m.is_finite() && m >= 0.0 && m.fract() == 0.0 && m <= f64::from(u32::MAX)).then_some(m as u32)
}

fn actuals_plan(inputs: &RemovalInputs<'_>, plan: &mut RemovalPlan) {
    // A workstream's actual is entered by hand (the sync writes none): never matched. Two
    // on one key are both left.
    let mut seen: HashMap<DayKey, usize> = HashMap::new();
    let live = inputs.actuals.iter().filter(|a| a.workstream_id.is_none());
    for a in live.clone() {
        *seen
            .entry(DayKey {
                person: a.person_id,
                project: a.project_id,
                role: a.role_id,
                date: a.date,
            })
            .or_default() += 1;
    }
    let held: HashMap<DayKey, &Actual> = live
        .map(|a| {
            let key = DayKey {
                person: a.person_id,
                project: a.project_id,
                role: a.role_id,
                date: a.date,
            };
            (key, a)
        })
        .collect();
    for (key, written) in inputs.ledger {
        if written.source == Source::Adopted {
            // Runn held it before the integration wrote anything: not the integration's.
            plan.adopted.push(*key);
            continue;
        }
        if seen.get(key).copied().unwrap_or(0) > 1 {
            plan.changed.push(*key);
            continue;
        }
        match held.get(key) {
            None => plan.forget.push(*key),
            Some(a)
                if minutes(a.billable_minutes) == Some(written.billable)
                    && minutes(a.nonbillable_minutes) == Some(written.nonbillable) =>
            {
                plan.delete.push((a.id, *key));
            }
            Some(_) => plan.changed.push(*key),
        }
    }
}

fn is_planned(inputs: &RemovalInputs<'_>, kind: LinkKind, id: i64) -> bool {
    match kind {
        LinkKind::Person => inputs.planned_people.contains(&RunnPersonId(id)),
        LinkKind::Project => inputs.planned_projects.contains(&RunnProjectId(id)),
        LinkKind::Client => false,
    }
}

/// The records of `kind` the removal may archive, and the ones it leaves.
fn records_plan(
    inputs: &RemovalInputs<'_>,
    request: &RemovalRequest,
    kind: LinkKind,
    plan: &mut RemovalPlan,
) {
    let created: HashMap<i64, &CreatedRecord> = inputs
        .created
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| (c.runn_id, c))
        .collect();
    let live = inputs.runn.of(kind).iter().filter(|r| !r.archived);
    for r in live {
        let Some(x) = r.clockify.as_deref() else {
            continue;
        };
        let ours = created.get(&r.id).is_some_and(|c| c.clockify_id == x);
        let item = ToArchive {
            kind,
            runn_id: r.id,
            name: r.name.clone(),
        };
        if !ours {
            if inputs.linked.contains(&(kind, r.id)) {
                continue;
            }
            plan.unrecorded.push(item.clone());
            if !request.include_unrecorded {
                continue;
            }
        }
        if is_planned(inputs, kind, r.id) && !request.include_planned {
            plan.planned.push(item);
        } else {
            plan.archive.push(item);
        }
    }
}

/// Clients are archived only once none of their live projects stays.
fn keep_clients_with_projects(runn: &RunnRecords, plan: &mut RemovalPlan) {
    let archived_projects: HashSet<i64> = plan
        .archive
        .iter()
        .filter(|a| a.kind == LinkKind::Project)
        .map(|a| a.runn_id)
        .collect();
    let staying: HashSet<i64> = runn
        .projects
        .iter()
        .filter(|p: &&RunnRecord| !p.archived && !archived_projects.contains(&p.id))
        .filter_map(|p| p.client)
        .collect();
    let (kept, archive): (Vec<ToArchive>, Vec<ToArchive>) = plan
        .archive
        .drain(..)
        .partition(|a| a.kind == LinkKind::Client && staying.contains(&a.runn_id));
    plan.archive = archive;
    plan.kept_clients = kept;
}

/// Plans a removal. Pure.
pub fn plan_removal(inputs: &RemovalInputs<'_>, request: &RemovalRequest) -> RemovalPlan {
    let mut plan = RemovalPlan::default();
    if request.kinds.actuals {
        actuals_plan(inputs, &mut plan);
    }
    let mut kinds = vec![];
    if request.kinds.clients_and_projects {
        kinds.push(LinkKind::Project);
    }
    if request.kinds.people {
        kinds.push(LinkKind::Person);
    }
    if request.kinds.clients_and_projects {
        kinds.push(LinkKind::Client);
    }
    for kind in kinds {
        records_plan(inputs, request, kind, &mut plan);
    }
    keep_clients_with_projects(inputs.runn, &mut plan);
    plan
}

/// Archived counts by kind, for the report.
pub fn count_by_kind(items: &[ToArchive]) -> BTreeMap<LinkKind, usize> {
    let mut counts = BTreeMap::new();
    for a in items {
        *counts.entry(a.kind).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RunnRoleId;
    use crate::model::account::Switches;
    use crate::model::ledger::Written;
    use chrono::{NaiveDate, Utc};

    fn rec(id: i64, name: &str, clockify: Option<&str>, client: Option<i64>) -> RunnRecord {
        RunnRecord {
            id,
            name: name.into(),
            email: None,
            client,
            clockify: clockify.map(Into::into),
            archived: false,
        }
    }
    fn created(kind: LinkKind, id: i64, x: &str) -> CreatedRecord {
        CreatedRecord {
            kind,
            runn_id: id,
            clockify_id: x.into(),
            name: x.into(),
            run_id: "r1".into(),
        }
    }
    fn key(day: u32) -> DayKey {
        DayKey {
            person: RunnPersonId(1),
            project: RunnProjectId(10),
            role: RunnRoleId(5),
            date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
        }
    }
    fn actual(id: i64, day: u32, billable: f64) -> Actual {
        let k = key(day);
        Actual {
            id: RunnActualId(id),
            date: k.date,
            billable_minutes: billable,
            nonbillable_minutes: 0.0,
            billable_note: None,
            nonbillable_note: None,
            phase_id: None,
            person_id: k.person,
            project_id: k.project,
            role_id: k.role,
            workstream_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }
    const ALL: RemovalRequest = RemovalRequest {
        kinds: Switches::ALL,
        include_planned: false,
        include_unrecorded: false,
        dry_run: false,
    };

    #[test]
    fn only_actuals_runn_still_holds_as_the_integration_wrote_them_are_deleted() {
        let w = |b| Written {
            billable: b,
            nonbillable: 0,
            source: Source::Sync,
        };
        let adopted = Written {
            source: Source::Adopted,
            ..w(90)
        };
        let ledger = Ledger::from([
            (key(2), w(60)),
            (key(3), w(30)),
            (key(4), w(0)),
            (key(5), adopted),
            (key(6), w(15)),
        ]);
        let mut workstream = actual(103, 6, 15.0);
        workstream.workstream_id = Some(crate::ids::RunnWorkstreamId(7));
        let actuals = [
            actual(100, 2, 60.0),
            actual(101, 3, 45.0),
            actual(102, 5, 90.0),
            workstream,
        ];
        let runn = RunnRecords::default();
        let empty = HashSet::new();
        let inputs = RemovalInputs {
            created: &[],
            linked: &HashSet::new(),
            runn: &runn,
            planned_people: &empty,
            planned_projects: &HashSet::new(),
            ledger: &ledger,
            actuals: &actuals,
        };
        let plan = plan_removal(&inputs, &ALL);
        assert_eq!(plan.delete, vec![(RunnActualId(100), key(2))]);
        assert_eq!(plan.changed, vec![key(3)]);
        // The workstream's actual is a person's: the ledger's row for that day is gone.
        assert_eq!(plan.forget, vec![key(4), key(6)]);
        assert_eq!(plan.adopted, vec![key(5)]);
    }

    #[test]
    fn only_created_records_are_archived_planned_and_unrecorded_ones_are_left() {
        let runn = RunnRecords {
            clients: vec![
                rec(1, "Acme", Some("c1"), None),
                rec(2, "Hand", Some("c2"), None),
            ],
            projects: vec![
                rec(10, "Web", Some("p1"), Some(1)),
                rec(11, "Planned", Some("p2"), Some(1)),
                rec(12, "Typed in Runn", None, Some(2)),
            ],
            people: vec![
                rec(20, "Ana", Some("u1"), None),
                rec(21, "Linked", Some("u2"), None),
            ],
        };
        let created = vec![
            created(LinkKind::Client, 1, "c1"),
            created(LinkKind::Project, 10, "p1"),
            created(LinkKind::Project, 11, "p2"),
            created(LinkKind::Person, 20, "u1"),
        ];
        let linked = HashSet::from([(LinkKind::Person, 21)]);
        let planned_projects = HashSet::from([RunnProjectId(11)]);
        let inputs = RemovalInputs {
            created: &created,
            linked: &linked,
            runn: &runn,
            planned_people: &HashSet::new(),
            planned_projects: &planned_projects,
            ledger: &Ledger::new(),
            actuals: &[],
        };
        let plan = plan_removal(&inputs, &ALL);
        let ids = |v: &[ToArchive]| v.iter().map(|a| a.runn_id).collect::<Vec<_>>();
        // Acme keeps its planned project, so it stays too.
        assert_eq!(ids(&plan.archive), vec![10, 20]);
        assert_eq!(ids(&plan.planned), vec![11]);
        assert_eq!(ids(&plan.unrecorded), vec![2]);
        assert_eq!(ids(&plan.kept_clients), vec![1]);
        let everything = RemovalRequest {
            include_planned: true,
            include_unrecorded: true,
            ..ALL
        };
        let plan = plan_removal(&inputs, &everything);
        let mut all = ids(&plan.archive);
        all.sort();
        assert_eq!(all, vec![1, 10, 11, 20]);
        // Hand's client keeps the project typed in Runn.
        assert_eq!(ids(&plan.kept_clients), vec![2]);
    }
}
