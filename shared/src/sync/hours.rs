//! Clockify's hours beside Runn's actuals, per person and project: what an operator
//! checks after a sync (the two columns should match). Reads only.

use super::gather;
use super::rules::actuals::minutes;
use super::{all, people, Ctx};
use crate::error::ApiError;
use crate::ids::{RunnPersonId, RunnProjectId};
use crate::model::account::AccountSettings;
use crate::model::scope::Scope;
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// The days `hours` shows by default: the window, from `actuals_since` when that is later
/// (the days the sync keeps in Runn).
pub fn default_range(settings: &AccountSettings, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    super::rules::reads::daily_ranges(settings, None, today).1
}

/// Hours per person and project over a range, as Clockify and Runn each hold them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoursRow {
    pub person: String,
    pub project: String,
    /// Clockify's minutes, rounded once a day as the sync rounds them.
    pub clockify: u64,
    /// Runn's actuals, every role together.
    pub runn: u64,
}

/// Clockify's time beside Runn's actuals, per linked person and project, for `[from, to]`
/// (what an operator checks after a sync: the two columns should match).
pub async fn hours(
    ctx: &Ctx<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<HoursRow>, ApiError> {
    let index = gather::index(ctx, true).await?;
    let totals = gather::day_totals(ctx, &index, (from, to), &Scope::range(from, to)).await?;
    // People outside the filter are not synced: they are not compared either.
    let filter = ctx.settings.people_filter.as_ref();
    let ws = &ctx.settings.clockify_workspace;
    let left_out = match people::included(ctx.clockify, ws, filter).await? {
        Some(included) => people::runn_people_left_out(&index, &included),
        None => BTreeSet::new(),
    };
    let mut rows: BTreeMap<(RunnPersonId, RunnProjectId), (u64, u64)> = BTreeMap::new();
    for ((user, project, _), secs) in &totals {
        let (Some(person), Some(project)) = (
            index.people.get(user),
            project.as_ref().and_then(|p| index.projects.get(p)),
        ) else {
            continue;
        };
        if left_out.contains(&person.id) {
            continue;
        }
        let m = u64::from(minutes(secs.billable)) + u64::from(minutes(secs.nonbillable));
        rows.entry((person.id, project.id)).or_default().0 += m;
    }
    let linked_people: BTreeSet<RunnPersonId> = index
        .people
        .values()
        .map(|p| p.id)
        .filter(|id| !left_out.contains(id))
        .collect();
    let linked_projects: BTreeSet<RunnProjectId> = index.projects.values().map(|p| p.id).collect();
    for a in all(ctx.runn.actuals(&gather::dated(from, to))).await? {
        if linked_people.contains(&a.person_id) && linked_projects.contains(&a.project_id) {
            let m = a.billable_minutes.max(0.0) + a.nonbillable_minutes.max(0.0);
            rows.entry((a.person_id, a.project_id)).or_default().1 += m.round() as u64;
        }
    }
    let mut out: Vec<HoursRow> = rows
        .into_iter()
        .map(|((person, project), (clockify, runn))| HoursRow {
            person: index.person_name(person),
            project: index.project_name(project),
            clockify,
            runn,
        })
        .collect();
    out.sort_by(|a, b| (&a.person, &a.project).cmp(&(&b.person, &b.project)));
    Ok(out)
}
