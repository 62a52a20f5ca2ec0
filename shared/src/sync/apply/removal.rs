//! Carries out a removal: the actuals first (each deleted in Runn, then forgotten by the
//! ledger, a hundred at a time), then the records archived (projects, people, clients).
//! Runn before the ledger: a run stopped between the two leaves a ledger row whose total
//! Runn no longer holds, which the next removal forgets; the other order could leave an
//! actual the ledger no longer knows, never to be removed.

use super::super::{Budget, Ctx, Halt};
use crate::error::FailureClass;
use crate::model::ledger::{DayKey, Ledger, LedgerGroup};
use crate::model::links::{LinkKind, RemovalReport};
use crate::model::report::{clip, LINE_CHARS};
use crate::runn::{self, RecordPatch};
use crate::sync::rules::removal::{RemovalPlan, ToArchive};
use std::collections::BTreeSet;

async fn forget(
    ctx: &Ctx<'_>,
    ledger: &mut Ledger,
    keys: impl IntoIterator<Item = DayKey>,
) -> Result<(), Halt> {
    let mut dirty = BTreeSet::new();
    for k in keys {
        ledger.remove(&k);
        dirty.insert(LedgerGroup::of(&k));
    }
    if !dirty.is_empty() {
        ctx.store.save_ledger(ctx.account, ledger, &dirty).await?;
    }
    Ok(())
}

async fn delete_actuals(
    ctx: &Ctx<'_>,
    plan: &RemovalPlan,
    ledger: &mut Ledger,
    budget: &mut Budget<'_>,
    report: &mut RemovalReport,
) -> Result<(), Halt> {
    forget(ctx, ledger, plan.forget.iter().copied()).await?;
    for chunk in plan.delete.chunks(runn::MAX_BULK) {
        let mut gone = vec![];
        let mut result = Ok(());
        for (id, key) in chunk {
            if let Err(halt) = budget.take().await {
                result = Err(halt);
                break;
            }
            match ctx.runn.delete_actual(*id).await {
                // Gone already (a lost answer's earlier attempt, or a person): forgotten too.
                Ok(_) => {
                    report.actuals_deleted += 1;
                    gone.push(*key);
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        // What Runn no longer holds is forgotten whatever stopped the rest.
        forget(ctx, ledger, gone).await?;
        result?;
    }
    Ok(())
}

async fn archive_one(ctx: &Ctx<'_>, a: &ToArchive) -> Result<(), Halt> {
    let patch = RecordPatch {
        references: None,
        is_archived: Some(true),
    };
    super::patch_record(ctx.runn, a.kind, a.runn_id, &patch).await
}

/// Carries out a removal plan.
pub(crate) async fn removal(
    ctx: &Ctx<'_>,
    plan: &RemovalPlan,
    ledger: &mut Ledger,
    budget: &mut Budget<'_>,
    report: &mut RemovalReport,
) -> Result<(), Halt> {
    delete_actuals(ctx, plan, ledger, budget, report).await?;
    for a in &plan.archive {
        budget.take().await?;
        match archive_one(ctx, a).await {
            Ok(()) => {}
            // One record Runn refuses (gone since the plan) is reported; the rest go on.
            Err(Halt::Api(e)) if e.class() == FailureClass::Permanent => {
                let line = format!("{} {}: {e}", a.kind.label(), a.name);
                report.failed.push(clip(&line, 2 * LINE_CHARS));
                continue;
            }
            Err(halt) => return Err(halt),
        }
        tracing::info!(kind = a.kind.label(), runn_id = a.runn_id, "archived");
        match a.kind {
            LinkKind::Client => report.archived.clients += 1,
            LinkKind::Project => report.archived.projects += 1,
            LinkKind::Person => report.archived.people += 1,
        }
        report
            .archived_records
            .push(clip(&format!("{} {}", a.kind.label(), a.name), LINE_CHARS));
    }
    Ok(())
}
