//! Removing what the integration imported, on the engine: gather (Runn only: the stored
//! Runn token is all a removal needs), the pure rules, apply; a dry run stops at the plan
//! and lists the same.

use super::engine::Mode;
use super::rules::removal::{plan_removal, RemovalInputs, RemovalPlan, ToArchive};
use super::{all, apply, gather, Budget, Ctx, Halt, Origins, RunLimits, SyncError};
use crate::model::account::EARLIEST_ACTUALS_SINCE;
use crate::model::ledger::{DayKey, Ledger};
use crate::model::links::{Decision, LinkKind, RemovalReport, RemovalRequest};
use crate::model::report::{clip, Capped, LINE_CHARS};
use crate::runn::DatedFilter;
use std::collections::HashSet;

/// Everything a removal reads, and its plan.
async fn plan(
    ctx: &Ctx<'_>,
    origins: Origins<'_>,
    request: &RemovalRequest,
) -> Result<(RemovalPlan, Ledger), SyncError> {
    let created = origins.store.created(origins.account).await?;
    let linked: HashSet<(LinkKind, i64)> = origins
        .store
        .decisions(origins.account)
        .await?
        .into_iter()
        .filter_map(|d| match d.decision {
            Decision::Linked { runn_id } => Some((d.kind, runn_id)),
            Decision::Rejected => None,
        })
        .collect();
    let runn = gather::runn_records(ctx.runn).await?;
    let assignments = all(ctx.runn.assignments(&DatedFilter::default())).await?;
    let planned_people = assignments.iter().map(|a| a.person_id).collect();
    let planned_projects = assignments.iter().map(|a| a.project_id).collect();
    let last = super::today(ctx.settings.time_zone)
        .checked_add_days(chrono::Days::new(400))
        .unwrap_or(chrono::NaiveDate::MAX);
    let ledger = if request.kinds.actuals {
        ctx.store
            .ledger(ctx.account, EARLIEST_ACTUALS_SINCE, last)
            .await?
    } else {
        Ledger::new()
    };
    let actuals = match (
        ledger.keys().map(|k| k.date).min(),
        ledger.keys().map(|k| k.date).max(),
    ) {
        (Some(first), Some(last)) => all(ctx.runn.actuals(&gather::dated(first, last))).await?,
        _ => vec![],
    };
    let inputs = RemovalInputs {
        created: &created,
        linked: &linked,
        runn: &runn,
        planned_people: &planned_people,
        planned_projects: &planned_projects,
        ledger: &ledger,
        actuals: &actuals,
    };
    Ok((plan_removal(&inputs, request), ledger))
}

fn lines(items: &[ToArchive]) -> Capped<String> {
    let mut c = Capped::default();
    for a in items {
        c.push(clip(&format!("{} {}", a.kind.label(), a.name), LINE_CHARS));
    }
    c
}

/// The report of a plan: what is left and why; a dry run's counts of what it would do.
fn report_of(plan: &RemovalPlan, ledger: &Ledger, dry_run: bool) -> RemovalReport {
    let mut report = RemovalReport {
        dry_run,
        planned: lines(&plan.planned),
        unrecorded: lines(&plan.unrecorded),
        kept_clients: lines(&plan.kept_clients),
        ..Default::default()
    };
    for key in &plan.changed {
        report.actuals_changed.push(describe(key, ledger));
    }
    for key in &plan.adopted {
        let line = format!(
            "person {} · project {} · {}: held in Runn before the integration wrote it",
            key.person, key.project, key.date
        );
        report.actuals_changed.push(line);
    }
    if dry_run {
        report.actuals_deleted = plan.delete.len();
        for a in &plan.archive {
            match a.kind {
                LinkKind::Client => report.archived.clients += 1,
                LinkKind::Project => report.archived.projects += 1,
                LinkKind::Person => report.archived.people += 1,
            }
        }
        report.archived_records = lines(&plan.archive);
    }
    report
}

fn describe(key: &DayKey, ledger: &Ledger) -> String {
    let written = ledger
        .get(key)
        .map_or(0, |w| u64::from(w.billable) + u64::from(w.nonbillable));
    format!(
        "person {} · project {} · {}: changed in Runn since {} min were written",
        key.person, key.project, key.date, written
    )
}

/// Removes what the integration imported (or, dry, lists it).
pub async fn remove(
    ctx: &Ctx<'_>,
    origins: Origins<'_>,
    request: &RemovalRequest,
    limits: RunLimits<'_>,
    mode: Mode,
) -> Result<RemovalReport, SyncError> {
    let (plan, mut ledger) = plan(ctx, origins, request).await?;
    let mut report = report_of(&plan, &ledger, !mode.write);
    tracing::info!(
        delete = plan.delete.len(),
        archive = plan.archive.len(),
        changed = plan.changed.len(),
        planned = plan.planned.len(),
        unrecorded = plan.unrecorded.len(),
        dry_run = !mode.write,
        "removal planned"
    );
    if !mode.write {
        report.finished = true;
        return Ok(report);
    }
    let mut budget = Budget::new(limits);
    let result = apply::removal::removal(ctx, &plan, &mut ledger, &mut budget, &mut report).await;
    report.writes = budget.writes;
    match result {
        Ok(()) => report.finished = true,
        // A continuation plans again: what is done is gone from its plan.
        Err(Halt::Limit) => report.finished = false,
        Err(halt) => return Err(halt.into_error()),
    }
    Ok(report)
}
