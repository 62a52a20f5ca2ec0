//! Applies an import plan to Runn: reads the truth from both sides, plans, then writes
//! clients (in bulk), projects and people, in that order. Runn's references are the only
//! record of what was imported, so any run — after a crash, a lost answer or a stop at the
//! deadline — re-reads them and carries on without repeating a write.

use crate::clockify::ClockifyClient;
use crate::error::{ApiError, FailureClass};
use crate::ids::{
    ClockifyClientId, RunnClientId, RunnPersonId, RunnProjectId, RunnRoleId, WorkspaceId,
};
use crate::runn::{
    self, NewClient, NewPerson, NewProject, NewRole, PeopleFilter, ProjectFilter, Reference,
    RunnClient,
};
use crate::sync::plan::{
    plan_import, ClientToCreate, ClockifyState, LinkedInRunn, RecordKind, Switches,
};
use crate::sync::report::{summarize_skips, Failure, ImportReport, Lookup, Named};
use crate::sync::{Budget, Halt, SyncError};
use futures::{Stream, TryStreamExt};
use std::collections::HashMap;
use std::future::Future;
use tokio::time::Instant;

/// The role new people get until someone in Runn gives them a real one.
pub const UNKNOWN_ROLE: &str = "Unknown";

/// Limits on one run; a run that reaches one stops cleanly and reports `finished: false`.
#[derive(Clone, Copy, Default)]
pub struct RunLimits<'a> {
    /// Stop before starting a write after this instant (a Lambda's deadline, less a margin).
    pub deadline: Option<Instant>,
    /// Stop after this many writes.
    pub max_writes: Option<usize>,
    /// Asked before every write: a run whose integration was turned off meanwhile stops
    /// there, and writes nothing more.
    pub stop: Option<&'a dyn StopSignal>,
}

impl std::fmt::Debug for RunLimits<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLimits")
            .field("deadline", &self.deadline)
            .field("max_writes", &self.max_writes)
            .field("stop", &self.stop.is_some())
            .finish()
    }
}

/// Whether a run must stop before its next write, and why.
#[async_trait::async_trait]
pub trait StopSignal: Send + Sync {
    async fn why_stop(&self) -> Result<Option<String>, crate::store::StoreError>;
}

pub(crate) async fn all<T, S>(pages: S) -> Result<Vec<T>, ApiError>
where
    S: Stream<Item = Result<Vec<T>, ApiError>>,
{
    let pages: Vec<Vec<T>> = pages.try_collect().await?;
    Ok(pages.into_iter().flatten().collect())
}

/// The Clockify id a Runn record carries. The reference name is matched whatever its
/// case and surrounding spaces: customers type it by hand ("clockify", " CLOCKIFY ").
pub fn clockify_ref(refs: &[Reference]) -> Option<&str> {
    refs.iter()
        .find(|r| r.is_clockify())
        .map(|r| r.external_id.trim())
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

/// Attempts at a create whose answers keep being lost before the run gives up (each
/// after a look-up that found nothing).
const CREATE_ATTEMPTS: u32 = 4;

/// Creates one record once. An unclear answer (lost, 5xx, timeout) is never resent
/// blindly: the record is looked up, and created again only if it is surely not there.
async fn create_once<T, C, CF, F, FF>(
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
    kind: RecordKind,
    record: &Named,
    create: C,
    find: F,
) -> Result<T, Halt>
where
    C: Fn() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    F: Fn() -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    let mut attempt = 1;
    loop {
        budget.take().await?;
        let e = match create().await {
            Ok(created) => return Ok(created),
            Err(e) if e.is_unclear() => e,
            Err(e) => return Err(e.into()),
        };
        let found = find().await?;
        tracing::info!(kind = kind.label(), clockify_id = record.clockify_id, found = found.is_some(), error = %e,
            "looked up a write whose answer was lost");
        report.lookups.push(Lookup {
            kind,
            record: record.clone(),
            found: found.is_some(),
        });
        if let Some(x) = found {
            return Ok(x);
        }
        if attempt >= CREATE_ATTEMPTS {
            return Err(Halt::Api(e));
        }
        attempt += 1;
    }
}

/// Runs one import of `ws` into Runn. Transient and credential failures end the run with
/// `Err` (the caller retries or reports); a record Runn refuses is reported in `failed`;
/// a limit of the run (deadline, write budget) ends it with `finished: false`.
pub async fn run_import(
    ws: &WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    switches: Switches,
    limits: RunLimits<'_>,
) -> Result<ImportReport, SyncError> {
    let mut report = ImportReport {
        people_read: switches.people,
        ..ImportReport::default()
    };
    let mut budget = Budget::new(limits);
    let result = import(ws, clockify, runn, switches, &mut budget, &mut report).await;
    report.writes = budget.writes;
    match result {
        Ok(()) => {
            report.finished = true;
            Ok(report)
        }
        Err(Halt::Limit) => {
            tracing::info!(
                writes = budget.writes,
                "stopping at the run's limit; to be continued"
            );
            report.finished = false;
            Ok(report)
        }
        Err(Halt::Api(e)) => Err(e.into()),
        Err(Halt::Store(e)) => Err(e.into()),
        Err(Halt::Stopped(why)) => Err(SyncError::Stopped(why)),
    }
}

/// Keeps a refused record in the report; anything else ends the run.
fn refused(
    report: &mut ImportReport,
    kind: RecordKind,
    record: &Named,
    halt: Halt,
) -> Result<(), Halt> {
    match halt {
        Halt::Api(e) if e.class() == FailureClass::Permanent => {
            tracing::warn!(kind = kind.label(), clockify_id = record.clockify_id, error = %e, "Runn refused a record");
            report.failed.push(Failure::new(
                kind,
                &record.clockify_id,
                &record.name,
                &e.to_string(),
            ));
            Ok(())
        }
        other => Err(other),
    }
}

/// Clockify id → Runn client id, for every client Runn carries a Clockify id on.
async fn linked_clients(
    runn: &RunnClient,
) -> Result<HashMap<ClockifyClientId, RunnClientId>, ApiError> {
    Ok(all(runn.clients(None))
        .await?
        .into_iter()
        .filter_map(|c| clockify_ref(&c.references).map(|x| (x.into(), c.id)))
        .collect())
}

async fn import(
    ws: &WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    switches: Switches,
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
) -> Result<(), Halt> {
    // What Runn already carries, by Clockify id.
    let mut runn_clients: HashMap<ClockifyClientId, RunnClientId> = HashMap::new();
    let mut linked = LinkedInRunn::default();
    if switches.clients_and_projects {
        runn_clients = linked_clients(runn).await?;
        linked.clients = runn_clients.keys().cloned().collect();
        let filter = ProjectFilter {
            include_archived: true,
            ..Default::default()
        };
        for p in all(runn.projects(&filter)).await? {
            if let Some(x) = clockify_ref(&p.references) {
                linked.projects.insert(x.into());
            }
        }
    }
    // Linked people in Runn (not archived) and their names: at the end, who is still on
    // "Unknown" is read from the current contracts alone.
    let mut linked_names: HashMap<RunnPersonId, String> = HashMap::new();
    if switches.people {
        for p in all(runn.people(&PeopleFilter::default())).await? {
            if let Some(x) = clockify_ref(&p.references) {
                linked.people.insert(x.into());
                if !p.is_archived {
                    linked_names.insert(p.id, format!("{} {}", p.first_name, p.last_name));
                }
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
    drop(state);
    tracing::info!(
        clients = plan.clients.len(),
        projects = plan.projects.len(),
        people = plan.people.len(),
        skipped = plan.skipped.len(),
        "import planned"
    );
    report.skipped = summarize_skips(&plan.skipped);
    let mut progress = Progress {
        done: 0,
        total: plan.clients.len() + plan.projects.len() + plan.people.len(),
    };

    for chunk in plan.clients.chunks(runn::MAX_BULK) {
        create_clients(
            runn,
            chunk,
            budget,
            report,
            &mut runn_clients,
            &mut progress,
        )
        .await?;
    }

    for p in &plan.projects {
        let record = Named::new(p.clockify_id.as_str(), &p.name);
        let Some(client_id) = runn_clients.get(&p.clockify_client_id).copied() else {
            // Its client failed to import this run.
            report.failed.push(Failure::new(
                RecordKind::Project,
                p.clockify_id.as_str(),
                &p.name,
                "its client could not be imported",
            ));
            continue;
        };
        let input = NewProject {
            name: p.name.clone(),
            client_id,
            is_confirmed: None,
            pricing_model: None,
            references: vec![Reference::clockify(p.clockify_id.as_str())],
        };
        let x = p.clockify_id.as_str();
        let created = create_once(
            budget,
            report,
            RecordKind::Project,
            &record,
            || async { runn.create_project(&input).await.map(|p| p.id) },
            || find_project(runn, x),
        )
        .await;
        match created {
            Ok(_) => {
                report.created.projects += 1;
                progress.created(RecordKind::Project, &p.name);
            }
            Err(halt) => refused(report, RecordKind::Project, &record, halt)?,
        }
    }

    if switches.people {
        let mut unknown: Option<RunnRoleId> = find_unknown_role(runn).await?;
        for person in &plan.people {
            let role = match unknown {
                Some(r) => r,
                None => {
                    let record = Named::new("", UNKNOWN_ROLE);
                    let new_role = NewRole {
                        name: UNKNOWN_ROLE.into(),
                        references: vec![],
                    };
                    let r = create_once(
                        budget,
                        report,
                        RecordKind::Role,
                        &record,
                        || async { runn.create_role(&new_role).await.map(|r| r.id) },
                        || find_unknown_role(runn),
                    )
                    .await?;
                    unknown = Some(r);
                    r
                }
            };
            let name = format!("{} {}", person.first_name, person.last_name);
            let record = Named::new(person.clockify_id.as_str(), &name);
            let input = NewPerson {
                first_name: person.first_name.clone(),
                last_name: person.last_name.clone(),
                role_id: role,
                email: person.email.clone(),
                references: vec![Reference::clockify(person.clockify_id.as_str())],
                start_date: None,
            };
            let x = person.clockify_id.as_str();
            let created = create_once(
                budget,
                report,
                RecordKind::Person,
                &record,
                || async { runn.create_person(&input).await.map(|p| p.id) },
                || find_person(runn, x),
            )
            .await;
            match created {
                Ok(id) => {
                    report.created.people += 1;
                    progress.created(RecordKind::Person, &name);
                    linked_names.insert(id, name);
                }
                Err(halt) => refused(report, RecordKind::Person, &record, halt)?,
            }
        }
        if let Some(role) = unknown {
            let contracts = all(runn.current_contracts()).await?;
            for name in names_on_role(&linked_names, &contracts, role) {
                report
                    .unknown_role_people
                    .push(crate::sync::report::clip(&name, 120));
            }
            report.people_on_unknown_role = report.unknown_role_people.count;
        }
    }
    Ok(())
}

/// One bulk call of up to 100 clients. A lost answer re-lists the clients once and sends
/// only the ones not there; a refused batch (one bad record refuses it all) is created
/// one at a time to find the bad one.
async fn create_clients(
    runn: &RunnClient,
    chunk: &[ClientToCreate],
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
    runn_clients: &mut HashMap<ClockifyClientId, RunnClientId>,
    progress: &mut Progress,
) -> Result<(), Halt> {
    let input = |c: &ClientToCreate| NewClient {
        name: c.name.clone(),
        website: None,
        references: vec![Reference::clockify(c.clockify_id.as_str())],
    };
    let mut pending: Vec<&ClientToCreate> = chunk.iter().collect();
    let mut attempt = 1;
    let mut done = |c: &ClientToCreate, id: RunnClientId, report: &mut ImportReport| {
        runn_clients.insert(c.clockify_id.clone(), id);
        report.created.clients += 1;
        progress.created(RecordKind::Client, &c.name);
    };
    while !pending.is_empty() {
        budget.take().await?;
        let inputs: Vec<NewClient> = pending.iter().map(|c| input(c)).collect();
        match runn.create_clients_bulk(&inputs).await {
            Ok(created) => {
                let ids: HashMap<ClockifyClientId, RunnClientId> = created
                    .iter()
                    .filter_map(|c| clockify_ref(&c.references).map(|x| (x.into(), c.id)))
                    .collect();
                for c in pending.drain(..) {
                    match ids.get(&c.clockify_id) {
                        Some(id) => done(c, *id, report),
                        None => report.failed.push(Failure::new(
                            RecordKind::Client,
                            c.clockify_id.as_str(),
                            &c.name,
                            "Runn's answer did not include it",
                        )),
                    }
                }
            }
            Err(e) if e.is_unclear() => {
                let now = linked_clients(runn).await?;
                let mut still = vec![];
                for c in pending.drain(..) {
                    let found = now.get(&c.clockify_id).copied();
                    report.lookups.push(Lookup {
                        kind: RecordKind::Client,
                        record: Named::new(c.clockify_id.as_str(), &c.name),
                        found: found.is_some(),
                    });
                    match found {
                        Some(id) => done(c, id, report),
                        None => still.push(c),
                    }
                }
                tracing::info!(not_found = still.len(), error = %e, "looked up a bulk create whose answer was lost");
                pending = still;
                if !pending.is_empty() && attempt >= CREATE_ATTEMPTS {
                    return Err(Halt::Api(e));
                }
                attempt += 1;
            }
            Err(e) if e.class() == FailureClass::Permanent => {
                for c in pending.drain(..) {
                    let record = Named::new(c.clockify_id.as_str(), &c.name);
                    let one = input(c);
                    let x = c.clockify_id.as_str();
                    let created = create_once(
                        budget,
                        report,
                        RecordKind::Client,
                        &record,
                        || async { runn.create_client(&one).await.map(|c| c.id) },
                        || find_client(runn, &c.name, x),
                    )
                    .await;
                    match created {
                        Ok(id) => done(c, id, report),
                        Err(halt) => refused(report, RecordKind::Client, &record, halt)?,
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

// Runn's filters are loose (`externalId` ignores the reference name; `name` matches
// substrings): what they return is matched exactly on the Clockify reference.

async fn find_client(
    runn: &RunnClient,
    name: &str,
    clockify_id: &str,
) -> Result<Option<RunnClientId>, ApiError> {
    Ok(all(runn.clients(Some(name)))
        .await?
        .into_iter()
        .find(|c| clockify_ref(&c.references) == Some(clockify_id))
        .map(|c| c.id))
}

async fn find_project(
    runn: &RunnClient,
    clockify_id: &str,
) -> Result<Option<RunnProjectId>, ApiError> {
    let filter = ProjectFilter {
        external_id: Some(clockify_id.to_owned()),
        include_archived: true,
        ..Default::default()
    };
    Ok(all(runn.projects(&filter))
        .await?
        .into_iter()
        .find(|p| clockify_ref(&p.references) == Some(clockify_id))
        .map(|p| p.id))
}

async fn find_person(
    runn: &RunnClient,
    clockify_id: &str,
) -> Result<Option<RunnPersonId>, ApiError> {
    let filter = PeopleFilter {
        external_id: Some(clockify_id.to_owned()),
        ..Default::default()
    };
    Ok(all(runn.people(&filter))
        .await?
        .into_iter()
        .find(|p| clockify_ref(&p.references) == Some(clockify_id))
        .map(|p| p.id))
}

/// The names of the linked people whose current contract is on `role`, sorted.
pub(crate) fn names_on_role(
    linked: &HashMap<RunnPersonId, String>,
    contracts: &[crate::runn::Contract],
    role: RunnRoleId,
) -> Vec<String> {
    let on_role: std::collections::BTreeSet<RunnPersonId> = contracts
        .iter()
        .filter(|c| c.role_id == role)
        .map(|c| c.person_id)
        .collect();
    let mut names: Vec<String> = on_role
        .iter()
        .filter_map(|id| linked.get(id).cloned())
        .collect();
    names.sort();
    names
}

/// The role named exactly "Unknown" (the name filter matches substrings).
async fn find_unknown_role(runn: &RunnClient) -> Result<Option<RunnRoleId>, ApiError> {
    crate::sync::timesheets::find_role(runn, UNKNOWN_ROLE).await
}
