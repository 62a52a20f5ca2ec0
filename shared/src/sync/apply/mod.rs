//! Apply: the only module that writes, to Runn or to the ledger. A plan is carried out
//! in order — clients (100 a bulk call), projects, people, then day totals (the ledger
//! before Runn, 100 a call) — each write counted against the run's limits, so a long run
//! stops cleanly and its continuation resumes. A create whose answer was lost is looked
//! up, never blindly resent; a bulk call Runn refuses with 400 is split until the refused
//! items are isolated.

pub(crate) mod links;
pub(crate) mod removal;

use super::gather::{self, ImportInputs, Index};
use super::{Budget, Ctx, Halt, Origins, ACTUALS_PROGRESS, PROGRESS, UNKNOWN_ROLE};
use crate::error::{ApiError, FailureClass};
use crate::ids::{ClockifyClientId, RunnClientId, RunnRoleId};
use crate::model::ledger::{Ledger, LedgerGroup, Source, SyncState};
use crate::model::links::{CreatedRecord, LinkKind};
use crate::model::plan::{ActualsPlan, ClientToCreate, DayWrite, ImportPlan, RecordKind};
use crate::model::report::{clip, ActualsReport, Failure, ImportReport, Lookup, Named, LINE_CHARS};
use crate::runn::{
    self, ActualInput, NewClient, NewPerson, NewProject, NewRole, Reference, RunnClient,
};
use chrono::NaiveDate;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;

/// Sets some fields of a client, project or person (its references, its archived flag)
/// with one `PATCH`: the links and the removal write through it.
pub(crate) async fn patch_record(
    runn: &RunnClient,
    kind: LinkKind,
    id: i64,
    patch: &runn::RecordPatch,
) -> Result<(), Halt> {
    use crate::ids::{RunnPersonId, RunnProjectId};
    match kind {
        LinkKind::Client => drop(runn.update_client(RunnClientId(id), patch).await?),
        LinkKind::Project => drop(runn.update_project(RunnProjectId(id), patch).await?),
        LinkKind::Person => drop(runn.update_person(RunnPersonId(id), patch).await?),
    }
    Ok(())
}

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

/// Carries out an import plan: clients, projects, then people (on "Unknown"); then names
/// who of the linked people is still on "Unknown".
pub(crate) async fn import(
    runn: &RunnClient,
    origins: Origins<'_>,
    plan: &ImportPlan,
    inputs: &mut ImportInputs,
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
) -> Result<(), Halt> {
    let mut progress = Progress {
        done: 0,
        total: plan.clients.len() + plan.projects.len() + plan.people.len(),
    };
    for chunk in plan.clients.chunks(runn::MAX_BULK) {
        let clients = &mut inputs.runn_clients;
        let mut created = vec![];
        let result = create_clients(
            runn,
            chunk,
            budget,
            report,
            clients,
            &mut created,
            &mut progress,
        )
        .await;
        // What Runn confirmed is recorded whatever stopped the rest.
        let records: Vec<CreatedRecord> = created
            .iter()
            .map(|(c, id)| origins.created(LinkKind::Client, id.0, c.clockify_id.as_str(), &c.name))
            .collect();
        origins.record(&records).await?;
        result?;
    }
    projects(
        runn,
        origins,
        plan,
        &inputs.runn_clients,
        budget,
        report,
        &mut progress,
    )
    .await?;
    if report.people_read {
        people(runn, origins, plan, inputs, budget, report, &mut progress).await?;
    }
    Ok(())
}

async fn projects(
    runn: &RunnClient,
    origins: Origins<'_>,
    plan: &ImportPlan,
    runn_clients: &HashMap<ClockifyClientId, RunnClientId>,
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
    progress: &mut Progress,
) -> Result<(), Halt> {
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
            || gather::find_project(runn, x),
        )
        .await;
        match created {
            Ok(id) => {
                origins
                    .record(&[origins.created(LinkKind::Project, id.0, x, &p.name)])
                    .await?;
                report.created.projects += 1;
                progress.created(RecordKind::Project, &p.name);
            }
            Err(halt) => refused(report, RecordKind::Project, &record, halt)?,
        }
    }
    Ok(())
}

/// The "Unknown" role, created once if Runn has none.
async fn unknown_role(
    runn: &RunnClient,
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
) -> Result<RunnRoleId, Halt> {
    if let Some(r) = gather::find_role(runn, UNKNOWN_ROLE).await? {
        return Ok(r);
    }
    let record = Named::new("", UNKNOWN_ROLE);
    let new_role = NewRole {
        name: UNKNOWN_ROLE.into(),
        references: vec![],
    };
    create_once(
        budget,
        report,
        RecordKind::Role,
        &record,
        || async { runn.create_role(&new_role).await.map(|r| r.id) },
        || gather::find_role(runn, UNKNOWN_ROLE),
    )
    .await
}

async fn people(
    runn: &RunnClient,
    origins: Origins<'_>,
    plan: &ImportPlan,
    inputs: &mut ImportInputs,
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
    progress: &mut Progress,
) -> Result<(), Halt> {
    let mut unknown: Option<RunnRoleId> = gather::find_role(runn, UNKNOWN_ROLE).await?;
    for person in &plan.people {
        let role = match unknown {
            Some(r) => r,
            None => *unknown.insert(unknown_role(runn, budget, report).await?),
        };
        let name = crate::model::report::person_name(&person.first_name, &person.last_name);
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
            || gather::find_person(runn, x),
        )
        .await;
        match created {
            Ok(id) => {
                origins
                    .record(&[origins.created(LinkKind::Person, id.0, x, &name)])
                    .await?;
                report.created.people += 1;
                progress.created(RecordKind::Person, &name);
                inputs.linked_names.insert(id, name);
            }
            Err(halt) => refused(report, RecordKind::Person, &record, halt)?,
        }
    }
    if let Some(role) = unknown {
        for name in gather::unknown_after_import(runn, &inputs.linked_names, role).await? {
            report.unknown_role_people.push(clip(&name, 120));
        }
        report.people_on_unknown_role = report.unknown_role_people.count;
    }
    Ok(())
}

/// One bulk call of up to 100 clients. A lost answer re-lists the clients once and sends
/// only the ones not there; a refused batch (one bad record refuses it all) is created
/// one at a time to find the bad one.
async fn create_clients<'a>(
    runn: &RunnClient,
    chunk: &'a [ClientToCreate],
    budget: &mut Budget<'_>,
    report: &mut ImportReport,
    runn_clients: &mut HashMap<ClockifyClientId, RunnClientId>,
    created: &mut Vec<(&'a ClientToCreate, RunnClientId)>,
    progress: &mut Progress,
) -> Result<(), Halt> {
    let input = |c: &ClientToCreate| NewClient {
        name: c.name.clone(),
        website: None,
        references: vec![Reference::clockify(c.clockify_id.as_str())],
    };
    let mut pending: Vec<&ClientToCreate> = chunk.iter().collect();
    let mut attempt = 1;
    let mut done = |c: &'a ClientToCreate, id: RunnClientId, report: &mut ImportReport| {
        runn_clients.insert(c.clockify_id.clone(), id);
        report.created.clients += 1;
        progress.created(RecordKind::Client, &c.name);
        created.push((c, id));
    };
    while !pending.is_empty() {
        budget.take().await?;
        let inputs: Vec<NewClient> = pending.iter().map(|c| input(c)).collect();
        match runn.create_clients_bulk(&inputs).await {
            Ok(created) => {
                let ids: HashMap<ClockifyClientId, RunnClientId> = created
                    .iter()
                    .filter_map(|c| super::clockify_ref(&c.references).map(|x| (x.into(), c.id)))
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
                let now = gather::linked_clients(runn).await?;
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
                        || gather::find_client(runn, &c.name, x),
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

/// Carries out an actuals plan: ledger-only rows first, then the writes in calls of 100,
/// each after its ledger rows are saved (so nothing written can be missing from it).
pub(crate) async fn actuals(
    ctx: &Ctx<'_>,
    index: &Index,
    plan: &ActualsPlan,
    ledger: &mut Ledger,
    budget: &mut Budget<'_>,
    report: &mut ActualsReport,
) -> Result<(), Halt> {
    let mut dirty = BTreeSet::new();
    for (k, w) in &plan.record_only {
        ledger.insert(*k, *w);
        dirty.insert(LedgerGroup::of(k));
    }
    if !dirty.is_empty() {
        budget.check().await?;
        ctx.store.save_ledger(ctx.account, ledger, &dirty).await?;
    }
    let total = plan.writes.len();
    let mut done = 0;
    for chunk in plan.writes.chunks(runn::MAX_BULK) {
        // Before the ledger: a run stopped here writes nothing more anywhere.
        budget.check().await?;
        let mut dirty = BTreeSet::new();
        for w in chunk {
            ledger.insert(w.key, w.written());
            dirty.insert(LedgerGroup::of(&w.key));
        }
        ctx.store.save_ledger(ctx.account, ledger, &dirty).await?;
        upsert(ctx.runn, index, chunk, budget, report).await?;
        done += chunk.len();
        tracing::info!(target: ACTUALS_PROGRESS, done, total, "day totals written");
    }
    Ok(())
}

/// One bulk upsert; a 400 splits it until the refused totals are isolated. Upserts are
/// idempotent, so an unclear answer is simply sent again (by the request path).
async fn upsert(
    runn: &RunnClient,
    index: &Index,
    writes: &[DayWrite],
    budget: &mut Budget<'_>,
    report: &mut ActualsReport,
) -> Result<(), Halt> {
    let mut stack: Vec<&[DayWrite]> = vec![writes];
    while let Some(part) = stack.pop() {
        budget.take().await?;
        let inputs: Vec<ActualInput> = part.iter().map(input).collect();
        match runn.upsert_actuals_bulk(&inputs).await {
            Ok(written) => {
                // Runn's own time of the run's last write: the next run reads the changes
                // after it (in Runn's clock, so no skew between the two).
                let last = written.iter().map(|a| a.updated_at).max();
                report.last_write_at = report.last_write_at.max(last);
                for w in part {
                    match (w.source, w.is_zero()) {
                        (Source::Autofill, _) => report.autofilled += 1,
                        (Source::Sync | Source::Adopted, true) => report.zeroed += 1,
                        (Source::Sync | Source::Adopted, false) => report.written += 1,
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
                    report.refused.push(clip(
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

fn input(w: &DayWrite) -> ActualInput {
    ActualInput {
        date: w.key.date,
        billable_minutes: w.billable,
        nonbillable_minutes: w.nonbillable,
        person_id: w.key.person,
        project_id: w.key.project,
        role_id: w.key.role,
        billable_note: None,
        nonbillable_note: None,
        workstream_id: None,
    }
}

/// Saves a back-fill chunk as done.
pub(crate) async fn backfilled(
    ctx: &Ctx<'_>,
    budget: &Budget<'_>,
    through: NaiveDate,
) -> Result<(), Halt> {
    budget.check().await?;
    ctx.store
        .set_backfilled_through(ctx.account, through)
        .await?;
    Ok(())
}

/// Saves where the sync stands between runs (what the next may skip reading).
pub(crate) async fn sync_state(ctx: &Ctx<'_>, state: &SyncState) -> Result<(), Halt> {
    ctx.store.set_sync_state(ctx.account, state).await?;
    Ok(())
}
