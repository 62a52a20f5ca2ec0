//! Gather: the reads a run makes, and nothing else. What Clockify holds, what Runn holds
//! (its references are the record of what was imported), and the look-ups the apply layer
//! makes after a write whose answer was lost.

use super::{all, clockify_ref, Ctx, UNKNOWN_ROLE};
use crate::clockify::{ClockifyClient, DateRange, User};
use crate::error::{ApiError, Service};
use crate::ids::{
    ClockifyClientId, ClockifyProjectId, ClockifyUserId, RunnClientId, RunnPersonId, RunnProjectId,
    RunnRoleId, WorkspaceId,
};
use crate::model::account::Switches;
use crate::model::plan::{DayWrite, Skip};
use crate::model::report::person_name;
use crate::model::scope::Scope;
use crate::runn::{
    Actual, Assignment, Contract, DatedFilter, PeopleFilter, ProjectFilter, RunnClient,
};
use crate::sync::rules::actuals::{add_entry, is_sync_off, DayTotals, PersonInRunn, ProjectInRunn};
use crate::sync::rules::import::{names_on_role, ClockifyState, LinkedInRunn};
use crate::sync::rules::links::{RunnRecord, RunnRecords};
use crate::sync::rules::reads::ActualsRead;
use chrono::NaiveDate;
use chrono_tz::Tz;
use futures::StreamExt;
use std::collections::{BTreeSet, HashMap};

/// What the import's rules need, and what its apply needs to resolve a project's client.
#[derive(Default)]
pub struct ImportInputs {
    pub clockify: ClockifyState,
    pub linked: LinkedInRunn,
    /// Clockify id → Runn client id, for every client Runn carries a Clockify id on.
    pub runn_clients: HashMap<ClockifyClientId, RunnClientId>,
    /// Linked people in Runn (not archived) and their names: who is on "Unknown" after the
    /// import is named from these and the current contracts alone.
    pub linked_names: HashMap<RunnPersonId, String>,
    /// Runn's records of the kinds read, linked or not (what the linking rules match).
    pub records: RunnRecords,
    /// Clockify's users the people filter leaves out (not in `clockify.users`): the
    /// import's skips for them.
    pub left_out: Vec<Skip>,
}

/// Reads what the import of `kinds` needs, from both sides: Runn's records whole, since
/// the ones carrying no Clockify id may be what a Clockify record is suggested to link to.
pub async fn import_inputs(
    ws: &WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    kinds: Switches,
    scope: &Scope,
) -> Result<ImportInputs, ApiError> {
    let mut inputs = ImportInputs::default();
    if kinds.clients_and_projects {
        for c in all(runn.clients(None)).await? {
            if let Some(x) = clockify_ref(&c.references) {
                inputs.runn_clients.insert(x.into(), c.id);
            }
            inputs.records.clients.push(client_record(c));
        }
        inputs.linked.clients = inputs.runn_clients.keys().cloned().collect();
        let filter = ProjectFilter {
            include_archived: true,
            ..Default::default()
        };
        for p in all(runn.projects(&filter)).await? {
            if let Some(x) = clockify_ref(&p.references) {
                inputs.linked.projects.insert(x.into());
            }
            inputs.records.projects.push(project_record(p));
        }
        inputs.clockify.clients = all(clockify.clients(ws)).await?;
        inputs.clockify.projects = all(clockify.projects(ws)).await?;
    }
    if kinds.people {
        for p in all(runn.people(&PeopleFilter::default())).await? {
            if let Some(x) = clockify_ref(&p.references) {
                inputs.linked.people.insert(x.into());
                if !p.is_archived {
                    let name = person_name(&p.first_name, &p.last_name);
                    inputs.linked_names.insert(p.id, name);
                }
            }
            inputs.records.people.push(person_record(p));
        }
        inputs.clockify.users = all(clockify.users(ws))
            .await?
            .into_iter()
            .filter(|u| scope.covers_user(&u.id))
            .collect();
        let filter = scope.people_filter.as_ref();
        if let Some(included) = super::people::included(clockify, ws, filter).await? {
            inputs.left_out = super::people::leave_out(&mut inputs.clockify.users, &included);
        }
    }
    Ok(inputs)
}

fn client_record(c: crate::runn::Client) -> RunnRecord {
    RunnRecord {
        clockify: clockify_ref(&c.references).map(str::to_owned),
        id: c.id.0,
        name: c.name,
        email: None,
        client: None,
        archived: c.is_archived,
    }
}

fn project_record(p: crate::runn::Project) -> RunnRecord {
    RunnRecord {
        clockify: clockify_ref(&p.references).map(str::to_owned),
        id: p.id.0,
        name: p.name,
        email: None,
        client: Some(p.client_id.0),
        archived: p.is_archived,
    }
}

fn person_record(p: crate::runn::CollectionPerson) -> RunnRecord {
    RunnRecord {
        clockify: clockify_ref(&p.references).map(str::to_owned),
        id: p.id.0,
        name: person_name(&p.first_name, &p.last_name),
        email: p.email,
        client: None,
        archived: p.is_archived,
    }
}

/// Every Runn client, project and person, archived ones included.
pub async fn runn_records(runn: &RunnClient) -> Result<RunnRecords, ApiError> {
    let filter = ProjectFilter {
        include_archived: true,
        ..Default::default()
    };
    Ok(RunnRecords {
        clients: all(runn.clients(None))
            .await?
            .into_iter()
            .map(client_record)
            .collect(),
        projects: all(runn.projects(&filter))
            .await?
            .into_iter()
            .map(project_record)
            .collect(),
        people: all(runn.people(&PeopleFilter::default()))
            .await?
            .into_iter()
            .map(person_record)
            .collect(),
    })
}

/// Clockify id → Runn client id, for every client Runn carries a Clockify id on.
pub async fn linked_clients(
    runn: &RunnClient,
) -> Result<HashMap<ClockifyClientId, RunnClientId>, ApiError> {
    Ok(all(runn.clients(None))
        .await?
        .into_iter()
        .filter_map(|c| clockify_ref(&c.references).map(|x| (x.into(), c.id)))
        .collect())
}

// Runn's filters are loose (`externalId` ignores the reference name; `name` matches
// substrings): what they return is matched exactly on the Clockify reference.

pub async fn find_client(
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

pub async fn find_project(
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

pub async fn find_person(
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

/// The role named exactly `name` (the filter matches substrings).
pub async fn find_role(runn: &RunnClient, name: &str) -> Result<Option<RunnRoleId>, ApiError> {
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
    let linked = all(runn.people(&PeopleFilter::default()))
        .await?
        .into_iter()
        .filter(|p| !p.is_archived && clockify_ref(&p.references).is_some())
        .map(|p| (p.id, person_name(&p.first_name, &p.last_name)))
        .collect();
    unknown_after_import(runn, &linked, unknown).await
}

/// Who of `linked` is on the role `unknown` now (the current contracts).
pub async fn unknown_after_import(
    runn: &RunnClient,
    linked: &HashMap<RunnPersonId, String>,
    unknown: RunnRoleId,
) -> Result<Vec<String>, ApiError> {
    let contracts = all(runn.current_contracts()).await?;
    Ok(names_on_role(linked, &contracts, unknown))
}

/// Who is who in Runn, and each Clockify user's zone: read once a run.
pub struct Index {
    pub people: HashMap<ClockifyUserId, PersonInRunn>,
    pub projects: HashMap<ClockifyProjectId, ProjectInRunn>,
    pub archived_people: BTreeSet<RunnPersonId>,
    /// Every project the autofill may fill: confirmed, not archived, not `sync_off`.
    pub fillable_projects: BTreeSet<RunnProjectId>,
    pub contracts: Vec<Contract>,
    pub unknown_role: Option<RunnRoleId>,
    pub zones: HashMap<ClockifyUserId, Tz>,
    /// Clockify's users, as read for their zones (to say why one is not in Runn).
    pub clockify_users: HashMap<ClockifyUserId, User>,
    pub person_names: HashMap<RunnPersonId, String>,
    pub project_names: HashMap<RunnProjectId, String>,
}

impl Index {
    /// "person · project · date" of a day total, by name.
    pub fn describe(&self, w: &DayWrite) -> String {
        format!(
            "{} · {} · {}",
            self.person_name(w.key.person),
            self.project_name(w.key.project),
            w.key.date
        )
    }
    pub fn person_name(&self, id: RunnPersonId) -> String {
        self.person_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("person {id}"))
    }
    pub fn project_name(&self, id: RunnProjectId) -> String {
        self.project_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("project {id}"))
    }
    /// The Runn people a scope of Clockify users covers (`None`: everyone).
    pub fn people_of(&self, scope: &Scope) -> Option<BTreeSet<RunnPersonId>> {
        scope.users.as_ref().map(|users| {
            users
                .iter()
                .filter_map(|u| self.people.get(u).map(|p| p.id))
                .collect()
        })
    }
}

/// Reads who is who. `with_zones` reads Clockify's users too (the autofill needs none).
pub async fn index(ctx: &Ctx<'_>, with_zones: bool) -> Result<Index, ApiError> {
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
        let name = person_name(&p.first_name, &p.last_name);
        if p.is_archived {
            index.archived_people.insert(p.id);
        }
        index.person_names.insert(p.id, name.clone());
        if let Some(x) = clockify_ref(&p.references) {
            let person = PersonInRunn {
                id: p.id,
                name,
                archived: p.is_archived,
            };
            index.people.insert(x.into(), person);
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
            let project = ProjectInRunn {
                id: p.id,
                name: p.name,
                archived: p.is_archived,
                confirmed: p.is_confirmed,
                sync_off,
            };
            index.projects.insert(x.into(), project);
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

/// Clockify's time of `[first, last]` summed per user, project and day. The report takes
/// one zone for the whole request: ask in UTC for the days widened by one each side, then
/// give each entry to its user's own day. Only the scope's users count.
pub async fn day_totals(
    ctx: &Ctx<'_>,
    index: &Index,
    (first, last): (NaiveDate, NaiveDate),
    scope: &Scope,
) -> Result<DayTotals, ApiError> {
    let fetch = DateRange::new(
        first.pred_opt().unwrap_or(first),
        last.succ_opt().unwrap_or(last),
        Tz::UTC,
    )
    .map_err(|e| ApiError::Invalid {
        service: Service::Clockify,
        reason: e.to_string(),
    })?;
    let mut totals = DayTotals::new();
    let mut pages = ctx.clockify.time_entries_of(
        &ctx.settings.clockify_workspace,
        fetch,
        scope.users.as_ref(),
    );
    while let Some(page) = pages.next().await {
        for e in page? {
            if !scope.covers_user(&e.user_id) {
                continue;
            }
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

pub fn dated(first: NaiveDate, last: NaiveDate) -> DatedFilter {
    DatedFilter {
        min_date: Some(first),
        max_date: Some(last),
        ..Default::default()
    }
}

/// What Runn holds for a range of days: the assignments, and the actuals — all of them,
/// or (`ActualsRead::ModifiedSince`) only those modified since a time.
pub struct RunnDays {
    pub assignments: Vec<Assignment>,
    pub actuals: Vec<Actual>,
}

/// At most this many people are read one by one (`personId`); more, and the days are
/// read for everyone.
pub const PER_PERSON_READS: usize = 5;

/// What Runn holds for a range of days, for a few people only (a webhook run's): each
/// one's assignments and actuals (`personId`), or everyone's when there are more.
pub async fn runn_days_of(
    runn: &RunnClient,
    days: (NaiveDate, NaiveDate),
    read: ActualsRead,
    people: Option<&BTreeSet<RunnPersonId>>,
) -> Result<RunnDays, ApiError> {
    let Some(people) = people.filter(|p| p.len() <= PER_PERSON_READS) else {
        return runn_days(runn, days, read).await;
    };
    let mut out = RunnDays {
        assignments: vec![],
        actuals: vec![],
    };
    for person in people {
        let mut filter = dated(days.0, days.1);
        filter.person_id = Some(*person);
        out.assignments
            .extend(all(runn.assignments(&filter)).await?);
        if let ActualsRead::ModifiedSince(t) = read {
            filter.modified_after = Some(t);
        }
        out.actuals.extend(all(runn.actuals(&filter)).await?);
    }
    Ok(out)
}

pub async fn runn_days(
    runn: &RunnClient,
    (first, last): (NaiveDate, NaiveDate),
    read: ActualsRead,
) -> Result<RunnDays, ApiError> {
    let range = dated(first, last);
    let assignments = all(runn.assignments(&range)).await?;
    let mut actuals_filter = range;
    if let ActualsRead::ModifiedSince(t) = read {
        actuals_filter.modified_after = Some(t);
    }
    let actuals = all(runn.actuals(&actuals_filter)).await?;
    Ok(RunnDays {
        assignments,
        actuals,
    })
}

/// Clockify's projects and clients, to say why time on one of them is not in Runn.
pub async fn clockify_projects(
    ctx: &Ctx<'_>,
) -> Result<(Vec<crate::clockify::Project>, Vec<crate::clockify::Client>), ApiError> {
    let ws = &ctx.settings.clockify_workspace;
    Ok((
        all(ctx.clockify.projects(ws)).await?,
        all(ctx.clockify.clients(ws)).await?,
    ))
}
