//! Writes a checked list of links: each Runn record is read again just before its write
//! and gets the Clockify reference added to the references it has (another
//! integration's is never lost); a record that changed since the check is skipped with
//! why. Then the decisions are kept.

use super::super::{clockify_ref, Budget, Halt, Origins};
use crate::ids::{RunnClientId, RunnPersonId, RunnProjectId};
use crate::model::links::{Decision, LinkDecision, LinkKind, LinkReport};
use crate::runn::{RecordPatch, Reference, RunnClient};
use crate::sync::rules::links::{LinkPlan, LinkWrite};

/// What Runn holds of one record now.
struct Now {
    references: Vec<Reference>,
    archived: bool,
}

async fn read_now(runn: &RunnClient, w: &LinkWrite) -> Result<Option<Now>, Halt> {
    let now = match w.kind {
        LinkKind::Client => runn.client(RunnClientId(w.runn_id)).await?.map(|c| Now {
            references: c.references,
            archived: c.is_archived,
        }),
        LinkKind::Project => runn.project(RunnProjectId(w.runn_id)).await?.map(|p| Now {
            references: p.references,
            archived: p.is_archived,
        }),
        LinkKind::Person => runn.person(RunnPersonId(w.runn_id)).await?.map(|p| Now {
            references: p.references,
            archived: p.is_archived,
        }),
    };
    Ok(now)
}

fn linked(w: &LinkWrite, run_id: &str) -> LinkDecision {
    LinkDecision {
        kind: w.kind,
        clockify_id: w.clockify_id.clone(),
        decision: Decision::Linked { runn_id: w.runn_id },
        run_id: run_id.to_owned(),
    }
}

/// Keeps the decision of links already in place that have none (a run stopped between a
/// write and its decision): a removal must never take them for the integration's.
pub(crate) async fn decide_already(
    origins: Origins<'_>,
    plan: &LinkPlan,
    decisions: &[LinkDecision],
    budget: &Budget<'_>,
) -> Result<(), Halt> {
    let missing: Vec<LinkDecision> = plan
        .already
        .iter()
        .filter(|w| {
            !decisions.iter().any(|d| {
                d.kind == w.kind
                    && d.clockify_id == w.clockify_id
                    && d.decision == (Decision::Linked { runn_id: w.runn_id })
            })
        })
        .map(|w| linked(w, origins.run_id))
        .collect();
    if !missing.is_empty() {
        budget.check().await?;
        origins
            .store
            .record_decisions(origins.account, &missing)
            .await?;
    }
    Ok(())
}

/// Links one record, unless it changed since the plan was made: `Ok(None)` when written,
/// `Ok(Some(why))` when skipped. The decision is kept before the write: a run stopped
/// between the two leaves a decision for a link not made (harmless: nothing is linked by
/// it), never a link whose origin is unknown.
async fn link_one(
    runn: &RunnClient,
    origins: Origins<'_>,
    w: &LinkWrite,
    budget: &mut Budget<'_>,
) -> Result<Option<String>, Halt> {
    let Some(now) = read_now(runn, w).await? else {
        return Ok(Some("the Runn record is not in Runn any more".into()));
    };
    if now.archived {
        return Ok(Some(format!("{} is archived in Runn", w.name)));
    }
    match clockify_ref(&now.references) {
        Some(x) if x == w.clockify_id => {
            let decision = linked(w, origins.run_id);
            origins
                .store
                .record_decisions(origins.account, &[decision])
                .await?;
            return Ok(Some("linked meanwhile".into()));
        }
        Some(x) => return Ok(Some(format!("{} is linked to Clockify id {x}", w.name))),
        None => {}
    }
    let mut references = now.references;
    references.push(Reference::clockify(w.clockify_id.as_str()));
    budget.take().await?;
    let decision = linked(w, origins.run_id);
    origins
        .store
        .record_decisions(origins.account, &[decision])
        .await?;
    let patch = RecordPatch {
        references: Some(references),
        is_archived: None,
    };
    super::patch_record(runn, w.kind, w.runn_id, &patch).await?;
    Ok(None)
}

/// Carries out a checked link plan; each link's decision is kept as soon as it is written.
pub(crate) async fn links(
    runn: &RunnClient,
    origins: Origins<'_>,
    plan: &LinkPlan,
    budget: &mut Budget<'_>,
    report: &mut LinkReport,
) -> Result<(), Halt> {
    for w in &plan.writes {
        let line = format!(
            "{} {} → {} ({})",
            w.kind.label(),
            w.clockify_id,
            w.name,
            w.runn_id
        );
        match link_one(runn, origins, w, budget).await? {
            None => {
                tracing::info!(kind = w.kind.label(), clockify_id = %w.clockify_id, runn_id = w.runn_id, "linked");
                report.linked.push(line);
            }
            Some(why) => report.skipped.push(format!("{line}: {why}")),
        }
    }
    if !plan.reject.is_empty() {
        budget.check().await?;
        let decisions: Vec<LinkDecision> = plan
            .reject
            .iter()
            .map(|r| LinkDecision {
                kind: r.kind,
                clockify_id: r.clockify_id.clone(),
                decision: Decision::Rejected,
                run_id: origins.run_id.to_owned(),
            })
            .collect();
        origins
            .store
            .record_decisions(origins.account, &decisions)
            .await?;
        report.rejected = decisions.len();
    }
    Ok(())
}
