//! What a run will do, as plain values the rules produce and the apply layer carries out
//! (or a dry run shows): the records to create, by their Clockify ids (they have no Runn
//! id yet), the day totals to write or set back to 0, the ledger rows to record, and the
//! skips with their reasons.

use crate::ids::{ClockifyClientId, ClockifyProjectId, ClockifyUserId};
use crate::model::ledger::{DayKey, Source, Written};
use crate::model::report::{
    summarize_skips, ActualsReport, Capped, Counts, Named, SkipGroup, TimeSkip, TimeSkipGroup,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Client,
    Project,
    Person,
    /// The "Unknown" role new people are put on.
    Role,
}

impl RecordKind {
    pub fn label(self) -> &'static str {
        match self {
            RecordKind::Client => "client",
            RecordKind::Project => "project",
            RecordKind::Person => "person",
            RecordKind::Role => "role",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Runn already has a record with this Clockify id.
    AlreadyLinked,
    /// Archived in Clockify.
    Archived,
    /// A project without a client in Clockify (Runn needs one).
    MissingClient,
    /// The project's client is archived or otherwise not in Runn.
    ClientNotImported,
    /// Not an active member of the workspace.
    NotActiveMember,
    /// Looks like a record already in Runn: held until the link is applied or rejected.
    LinkSuggested,
    /// Its client looks like one already in Runn: held with it.
    ClientHeld,
    /// Outside the account's people filter.
    LeftOutByFilter,
}

impl SkipReason {
    /// Why, in a Runn customer's words.
    pub fn explain(self) -> &'static str {
        match self {
            SkipReason::AlreadyLinked => "already in Runn",
            SkipReason::Archived => "archived in Clockify",
            SkipReason::MissingClient => "has no client in Clockify",
            SkipReason::ClientNotImported => "its client is not imported",
            SkipReason::NotActiveMember => "not an active member of the workspace",
            SkipReason::LinkSuggested => "looks like a record already in Runn: review the links",
            SkipReason::ClientHeld => "its client looks like one already in Runn: review the links",
            SkipReason::LeftOutByFilter => "left out by the people filter",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub kind: RecordKind,
    pub clockify_id: String,
    pub name: String,
    pub reason: SkipReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientToCreate {
    pub clockify_id: ClockifyClientId,
    pub name: String,
}

/// A project to create; its Runn client is resolved when the plan is applied, since the
/// client may be created by the same run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectToCreate {
    pub clockify_id: ClockifyProjectId,
    pub clockify_client_id: ClockifyClientId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonToCreate {
    pub clockify_id: ClockifyUserId,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
}

/// What one import run will do, in order: clients, then projects, then people.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlan {
    pub clients: Vec<ClientToCreate>,
    pub projects: Vec<ProjectToCreate>,
    pub people: Vec<PersonToCreate>,
    pub skipped: Vec<Skip>,
}

impl ImportPlan {
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.projects.is_empty() && self.people.is_empty()
    }
}

/// Time of a person or project not in Runn, by person and project.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unlinked {
    pub reason: TimeSkip,
    pub user: ClockifyUserId,
    pub project: ClockifyProjectId,
}

/// One upsert of a day total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(with = "entries")]
    pub unlinked: BTreeMap<Unlinked, (usize, u64)>,
}

/// A map whose keys are not strings, as JSON takes it: a list of `[key, value]`.
mod entries {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

impl ActualsPlan {
    /// Adds a later chunk's plan to this one.
    pub fn merge(&mut self, other: ActualsPlan) {
        self.writes.extend(other.writes);
        self.record_only.extend(other.record_only);
        self.unchanged += other.unchanged;
        for g in other.skipped {
            match self.skipped.iter_mut().find(|x| x.reason == g.reason) {
                Some(mine) => {
                    mine.minutes = mine.minutes.saturating_add(g.minutes);
                    mine.day_totals += g.day_totals;
                    mine.days.merge(&g.days);
                }
                None => self.skipped.push(g),
            }
        }
        self.notes.merge(&other.notes);
        for (who, m) in other.unknown_role {
            let mine = self.unknown_role.entry(who).or_default();
            *mine = mine.saturating_add(m);
        }
        for (k, (days, m)) in other.unlinked {
            let mine = self.unlinked.entry(k).or_default();
            mine.0 += days;
            mine.1 = mine.1.saturating_add(m);
        }
    }
}

/// A run's plan: the import's and the actuals' (or the autofill's), each when the run
/// covers it. What a dry run shows is the value the real run carries out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub import: Option<ImportPlan>,
    pub actuals: Option<ActualsPlan>,
}

/// A record a plan creates, as a run record names it (it has no Runn id yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub kind: RecordKind,
    pub clockify_id: String,
    pub name: String,
}

/// A plan as a run record keeps it: counts, and the first records and lines of each list
/// (bounded as every report is).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Records to create, by kind.
    pub create: Counts,
    /// The first of them, by Clockify id and name.
    pub creates: Capped<Planned>,
    /// What the import would skip, and why.
    pub skipped: Vec<SkipGroup>,
    /// What the actuals sync or the autofill would do: day totals to write, set back to 0
    /// or fill with 0, per person and project with minutes; time skipped and why.
    pub actuals: Option<ActualsReport>,
}

impl PlanSummary {
    /// The summary of an import plan (and an actuals dry run's report).
    pub fn new(import: Option<&ImportPlan>, actuals: Option<ActualsReport>) -> Self {
        let mut summary = PlanSummary {
            actuals,
            ..Default::default()
        };
        if let Some(plan) = import {
            summary.create = Counts {
                clients: plan.clients.len(),
                projects: plan.projects.len(),
                people: plan.people.len(),
            };
            let creates = plan
                .clients
                .iter()
                .map(|c| (RecordKind::Client, c.clockify_id.as_str(), c.name.clone()))
                .chain(
                    plan.projects
                        .iter()
                        .map(|p| (RecordKind::Project, p.clockify_id.as_str(), p.name.clone())),
                )
                .chain(plan.people.iter().map(|p| {
                    let name = crate::model::report::person_name(&p.first_name, &p.last_name);
                    (RecordKind::Person, p.clockify_id.as_str(), name)
                }));
            for (kind, id, name) in creates {
                let named = Named::new(id, &name);
                summary.creates.push(Planned {
                    kind,
                    clockify_id: named.clockify_id,
                    name: named.name,
                });
            }
            summary.skipped = summarize_skips(&plan.skipped);
        }
        summary
    }
}
