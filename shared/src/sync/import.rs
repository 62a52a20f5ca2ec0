//! Applies an import plan to Runn: reads the truth from both sides, plans, then writes
//! clients (in bulk), projects and people, in that order. Runn's references are the only
//! record of what was imported, so any run — after a crash, a lost answer or a stop at the
//! deadline — re-reads them and carries on without repeating a write.

use crate::clockify::ClockifyClient;
use crate::error::{ApiError, FailureClass};
use crate::ids::{ClockifyClientId, RunnClientId, RunnRoleId, WorkspaceId};
use crate::runn::{
    self, NewClient, NewPerson, NewProject, NewRole, PeopleFilter, ProjectFilter, Reference,
    RunnClient,
};
use crate::sync::plan::{plan_import, ClockifyState, LinkedInRunn, RecordKind, Skip, Switches};
use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use tokio::time::Instant;

/// The role new people get until someone in Runn gives them a real one.
pub const UNKNOWN_ROLE: &str = "Unknown";

/// Limits on one run; a run that reaches one stops cleanly and reports `finished: false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunLimits {
    /// Stop before starting a write after this instant (a Lambda's deadline, less a margin).
    pub deadline: Option<Instant>,
    /// Stop after this many writes.
    pub max_writes: Option<usize>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub clients: usize,
    pub projects: usize,
    pub people: usize,
}

/// A record Runn refused (a permanent error); the rest of the import went on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: RecordKind,
    pub clockify_id: String,
    pub name: String,
    pub reason: String,
}

/// A Clockify record and the Runn record that carries its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub kind: RecordKind,
    pub clockify_id: String,
    pub runn_id: i64,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub created: Counts,
    pub skipped: Vec<Skip>,
    pub failed: Vec<Failure>,
    /// Imported people whose current role is still "Unknown".
    pub people_on_unknown_role: usize,
    /// False when the run stopped at a limit and must be continued.
    pub finished: bool,
    pub writes: usize,
    /// Every Clockify → Runn id pair known at the end of the run (kept apart from the
    /// status, which stays small).
    #[serde(skip)]
    pub mappings: Vec<Mapping>,
}

async fn all<T, S>(pages: S) -> Result<Vec<T>, ApiError>
where
    S: Stream<Item = Result<Vec<T>, ApiError>>,
{
    let pages: Vec<Vec<T>> = pages.try_collect().await?;
    Ok(pages.into_iter().flatten().collect())
}

fn clockify_ref(refs: &[Reference]) -> Option<&str> {
    refs.iter()
        .find(|r| r.reference_name == Reference::CLOCKIFY)
        .map(|r| r.external_id.as_str())
}

/// The target of the events that report each record created (the command line shows
/// them as a progress display).
pub const PROGRESS: &str = "runn_clockify::progress";

/// Counts records created against the plan, for the progress display.
struct Progress {
    done: usize,
    total: usize,
}

impl Progress {
    fn created(&mut self, kind: RecordKind, name: &str) {
        self.done += 1;
        tracing::info!(target: PROGRESS, done = self.done, total = self.total, kind = kind.label(), name, "created");
    }
}

/// Counts writes against the run's limits.
struct Budget {
    limits: RunLimits,
    writes: usize,
}

impl Budget {
    fn allows(&self, n: usize) -> bool {
        let time_ok = self.limits.deadline.is_none_or(|d| Instant::now() < d);
        let count_ok = self.limits.max_writes.is_none_or(|m| self.writes + n <= m);
        time_ok && count_ok
    }
}

/// Runs one import of `ws` into Runn. Transient and credential failures end the run with
/// `Err` (the caller retries or reports); a record Runn refuses is reported in `failed`.
pub async fn run_import(
    ws: &WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    switches: Switches,
    limits: RunLimits,
) -> Result<ImportReport, ApiError> {
    // What Runn already carries, by Clockify id.
    let mut runn_clients: HashMap<ClockifyClientId, RunnClientId> = HashMap::new();
    let mut linked = LinkedInRunn::default();
    let mut mappings: Vec<Mapping> = vec![];
    if switches.clients_and_projects {
        for c in all(runn.clients(None)).await? {
            if let Some(x) = clockify_ref(&c.references) {
                runn_clients.insert(x.into(), c.id);
                linked.clients.insert(x.into());
                mappings.push(Mapping {
                    kind: RecordKind::Client,
                    clockify_id: x.to_owned(),
                    runn_id: c.id.0,
                });
            }
        }
        let filter = ProjectFilter {
            include_archived: true,
            ..Default::default()
        };
        for p in all(runn.projects(&filter)).await? {
            if let Some(x) = clockify_ref(&p.references) {
                linked.projects.insert(x.into());
                mappings.push(Mapping {
                    kind: RecordKind::Project,
                    clockify_id: x.to_owned(),
                    runn_id: p.id.0,
                });
            }
        }
    }
    if switches.people {
        for p in all(runn.people(&PeopleFilter::default())).await? {
            if let Some(x) = clockify_ref(&p.references) {
                linked.people.insert(x.into());
                mappings.push(Mapping {
                    kind: RecordKind::Person,
                    clockify_id: x.to_owned(),
                    runn_id: p.id.0,
                });
            }
        }
    }

    let mut state = ClockifyState::default();
    if switches.clients_and_projects {
        state.clients = all(clockify.clients(ws)).await?;
        state.projects = all(clockify.projects(ws)).await?;
    }
    if switches.people {
        state.users = all(clockify.users(ws)).await?;
    }
    let plan = plan_import(ws, switches, &state, &linked);
    tracing::info!(
        clients = plan.clients.len(),
        projects = plan.projects.len(),
        people = plan.people.len(),
        skipped = plan.skipped.len(),
        "import planned"
    );

    let mut report = ImportReport {
        skipped: plan.skipped,
        ..Default::default()
    };
    let mut budget = Budget { limits, writes: 0 };
    let mut progress = Progress {
        done: 0,
        total: plan.clients.len() + plan.projects.len() + plan.people.len(),
    };
    let stop = |report: &mut ImportReport, budget: &Budget| {
        report.writes = budget.writes;
        report.finished = false;
        tracing::info!(
            writes = budget.writes,
            "stopping at the run's limit; to be continued"
        );
    };

    for chunk in plan.clients.chunks(runn::MAX_BULK) {
        if !budget.allows(1) {
            stop(&mut report, &budget);
            return Ok(report);
        }
        let inputs: Vec<NewClient> = chunk
            .iter()
            .map(|c| NewClient {
                name: c.name.clone(),
                website: None,
                references: vec![Reference::clockify(c.clockify_id.as_str())],
            })
            .collect();
        budget.writes += 1;
        match runn.create_clients_bulk(&inputs).await {
            Ok(created) => {
                for c in created {
                    if let Some(x) = clockify_ref(&c.references) {
                        runn_clients.insert(x.into(), c.id);
                        report.mappings.push(Mapping {
                            kind: RecordKind::Client,
                            clockify_id: x.to_owned(),
                            runn_id: c.id.0,
                        });
                    }
                }
                report.created.clients += chunk.len();
                for c in chunk {
                    progress.created(RecordKind::Client, &c.name);
                }
            }
            // One bad record refuses the whole batch: find it by creating one at a time.
            Err(e) if e.class() == FailureClass::Permanent => {
                for (plan_item, input) in chunk.iter().zip(&inputs) {
                    if !budget.allows(1) {
                        stop(&mut report, &budget);
                        return Ok(report);
                    }
                    budget.writes += 1;
                    match runn.create_client(input).await {
                        Ok(c) => {
                            runn_clients.insert(plan_item.clockify_id.clone(), c.id);
                            report.mappings.push(Mapping {
                                kind: RecordKind::Client,
                                clockify_id: plan_item.clockify_id.to_string(),
                                runn_id: c.id.0,
                            });
                            report.created.clients += 1;
                            progress.created(RecordKind::Client, &plan_item.name);
                        }
                        Err(e) => record_failure(
                            &mut report,
                            RecordKind::Client,
                            plan_item.clockify_id.as_str(),
                            &plan_item.name,
                            e,
                        )?,
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }

    for p in &plan.projects {
        let Some(client_id) = runn_clients.get(&p.clockify_client_id).copied() else {
            // Its client failed to import this run.
            report.failed.push(Failure {
                kind: RecordKind::Project,
                clockify_id: p.clockify_id.to_string(),
                name: p.name.clone(),
                reason: "its client could not be imported".into(),
            });
            continue;
        };
        if !budget.allows(1) {
            stop(&mut report, &budget);
            return Ok(report);
        }
        budget.writes += 1;
        let input = NewProject {
            name: p.name.clone(),
            client_id,
            is_confirmed: None,
            pricing_model: None,
            references: vec![Reference::clockify(p.clockify_id.as_str())],
        };
        match runn.create_project(&input).await {
            Ok(created) => {
                report.mappings.push(Mapping {
                    kind: RecordKind::Project,
                    clockify_id: p.clockify_id.to_string(),
                    runn_id: created.id.0,
                });
                report.created.projects += 1;
                progress.created(RecordKind::Project, &p.name);
            }
            Err(e) => record_failure(
                &mut report,
                RecordKind::Project,
                p.clockify_id.as_str(),
                &p.name,
                e,
            )?,
        }
    }

    if switches.people {
        let mut unknown: Option<RunnRoleId> = find_unknown_role(runn).await?;
        for person in &plan.people {
            let role = match unknown {
                Some(r) => r,
                None => {
                    if !budget.allows(1) {
                        stop(&mut report, &budget);
                        return Ok(report);
                    }
                    budget.writes += 1;
                    let r = runn
                        .create_role(&NewRole {
                            name: UNKNOWN_ROLE.into(),
                            references: vec![],
                        })
                        .await?
                        .id;
                    unknown = Some(r);
                    r
                }
            };
            if !budget.allows(1) {
                stop(&mut report, &budget);
                return Ok(report);
            }
            budget.writes += 1;
            let input = NewPerson {
                first_name: person.first_name.clone(),
                last_name: person.last_name.clone(),
                role_id: role,
                email: person.email.clone(),
                references: vec![Reference::clockify(person.clockify_id.as_str())],
                start_date: None,
            };
            let name = format!("{} {}", person.first_name, person.last_name);
            match runn.create_person(&input).await {
                Ok(created) => {
                    report.mappings.push(Mapping {
                        kind: RecordKind::Person,
                        clockify_id: person.clockify_id.to_string(),
                        runn_id: created.id.0,
                    });
                    report.created.people += 1;
                    progress.created(RecordKind::Person, &name);
                }
                Err(e) => record_failure(
                    &mut report,
                    RecordKind::Person,
                    person.clockify_id.as_str(),
                    &name,
                    e,
                )?,
            }
        }
        if let Some(role) = unknown {
            report.people_on_unknown_role = people_on_role(runn, role).await?;
        }
    }

    report.writes = budget.writes;
    report.finished = true;
    Ok(report)
}

/// Keeps a refused record in the report; anything else ends the run.
fn record_failure(
    report: &mut ImportReport,
    kind: RecordKind,
    id: &str,
    name: &str,
    e: ApiError,
) -> Result<(), ApiError> {
    if e.class() != FailureClass::Permanent {
        return Err(e);
    }
    tracing::warn!(?kind, clockify_id = id, error = %e, "Runn refused a record");
    report.failed.push(Failure {
        kind,
        clockify_id: id.to_owned(),
        name: name.to_owned(),
        reason: e.to_string(),
    });
    Ok(())
}

/// The role named exactly "Unknown" (the name filter matches substrings).
async fn find_unknown_role(runn: &RunnClient) -> Result<Option<RunnRoleId>, ApiError> {
    let roles = all(runn.roles(Some(UNKNOWN_ROLE))).await?;
    Ok(roles
        .into_iter()
        .find(|r| !r.is_archived && r.name.as_deref() == Some(UNKNOWN_ROLE))
        .map(|r| r.id))
}

/// How many people's current contract is on `role`.
async fn people_on_role(runn: &RunnClient, role: RunnRoleId) -> Result<usize, ApiError> {
    let contracts = all(runn.current_contracts()).await?;
    let people: HashSet<_> = contracts
        .into_iter()
        .filter(|c| c.role_id == role)
        .map(|c| c.person_id)
        .collect();
    Ok(people.len())
}
