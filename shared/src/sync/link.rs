//! Linking on the engine: the suggestions (gather both sides, the pure rules), and a
//! reviewed list (gather, check, apply; a dry run stops at the check).

use super::engine::{rejected, Mode};
use super::gather::{self, ImportInputs};
use super::rules::links::{plan_links, suggest_links};
use super::{apply, Budget, Ctx, Halt, Origins, RunLimits, SyncError};
use crate::clockify::ClockifyClient;
use crate::ids::WorkspaceId;
use crate::model::account::{PeopleFilter, Switches};
use crate::model::links::{LinkKind, LinkReport, LinkRequest, Suggestion, SuggestionCounts};
use crate::model::scope::Scope;
use crate::runn::RunnClient;
use std::collections::HashSet;

/// Both sides, every kind that can be linked; of Clockify's users only those the
/// account's people filter lets in (the others are never imported, so never linked).
async fn both_sides(
    ws: &WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    filter: Option<&PeopleFilter>,
) -> Result<ImportInputs, SyncError> {
    let kinds = Switches {
        clients_and_projects: true,
        people: true,
        actuals: false,
    };
    let scope = Scope::daily(kinds).filtered(filter);
    Ok(gather::import_inputs(ws, clockify, runn, kinds, &scope).await?)
}

/// Every Clockify record that looks like one already in Runn and has no decision yet.
pub async fn suggestions(ctx: &Ctx<'_>) -> Result<Vec<Suggestion>, SyncError> {
    let ws = &ctx.settings.clockify_workspace;
    let filter = ctx.settings.people_filter.as_ref();
    let inputs = both_sides(ws, ctx.clockify, ctx.runn, filter).await?;
    let decisions = ctx.store.decisions(ctx.account).await?;
    Ok(suggest_links(
        ws,
        &inputs.clockify,
        &inputs.records,
        &rejected(&decisions),
    ))
}

/// A suggestions run's report: the counts and the first suggestions (all of them are kept
/// apart, a page at a time).
pub fn suggestions_report(suggestions: &[Suggestion]) -> LinkReport {
    let mut report = LinkReport {
        counts: SuggestionCounts::of(suggestions),
        dry_run: true,
        finished: true,
        ..Default::default()
    };
    for s in suggestions {
        report.suggestions.push(s.clone());
    }
    report
}

/// Applies a reviewed list of links and rejections (or, dry, says what it would do).
pub async fn link(
    ctx: &Ctx<'_>,
    run_id: &str,
    request: &LinkRequest,
    limits: RunLimits<'_>,
    mode: Mode,
) -> Result<LinkReport, SyncError> {
    let ws = &ctx.settings.clockify_workspace;
    let filter = ctx.settings.people_filter.as_ref();
    let inputs = both_sides(ws, ctx.clockify, ctx.runn, filter).await?;
    let origins = Origins {
        store: ctx.store,
        account: ctx.account,
        run_id,
    };
    let in_clockify: HashSet<(LinkKind, String)> = inputs
        .clockify
        .clients
        .iter()
        .map(|c| (LinkKind::Client, c.id.to_string()))
        .chain(
            inputs
                .clockify
                .projects
                .iter()
                .map(|p| (LinkKind::Project, p.id.to_string())),
        )
        .chain(
            inputs
                .clockify
                .users
                .iter()
                .map(|u| (LinkKind::Person, u.id.to_string())),
        )
        .collect();
    let decisions = origins.store.decisions(origins.account).await?;
    let plan = plan_links(request, &inputs.records, &in_clockify, &decisions);
    let mut report = LinkReport {
        already: plan.already.len(),
        dry_run: !mode.write,
        ..Default::default()
    };
    for s in &plan.skipped {
        report.skipped.push(s.clone());
    }
    tracing::info!(
        links = plan.writes.len(),
        already = plan.already.len(),
        skipped = plan.skipped.len(),
        rejected = plan.reject.len(),
        dry_run = !mode.write,
        "links planned"
    );
    if !mode.write {
        for w in &plan.writes {
            report.linked.push(format!(
                "{} {} → {} ({})",
                w.kind.label(),
                w.clockify_id,
                w.name,
                w.runn_id
            ));
        }
        report.rejected = plan.reject.len();
        report.finished = true;
        return Ok(report);
    }
    let mut budget = Budget::new(limits);
    let result = async {
        apply::links::decide_already(origins, &plan, &decisions, &budget).await?;
        apply::links::links(ctx.runn, origins, &plan, &mut budget, &mut report).await
    }
    .await;
    report.writes = budget.writes;
    match result {
        Ok(()) => report.finished = true,
        // Applied again, what is done is "already": a continuation is the same request.
        Err(Halt::Limit) => report.finished = false,
        Err(halt) => return Err(halt.into_error()),
    }
    Ok(report)
}
