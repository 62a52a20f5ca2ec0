//! A run of an account's job, as its status shows it: what started it, how it ended,
//! and what it did.

use crate::error::FailureClass;
use crate::model::links::{LinkReport, RemovalReport};
use crate::model::plan::PlanSummary;
use crate::model::report::{ActualsReport, ImportReport};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The daily schedule.
    Schedule,
    /// An import button in Runn ("Save & Run", "Import from Clockify").
    Manual,
    /// A run continuing one that stopped at its deadline.
    Continuation,
    /// An operator's command line.
    CommandLine,
    /// Clockify's webhooks: a delivery, or the registration that follows saving.
    Webhook,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    Succeeded,
    /// Stopped at its deadline; a continuation was queued.
    Continued,
    Failed {
        class: FailureClass,
        message: String,
    },
}

/// The longest failure message a run record keeps: a server's error text (Clockify Server
/// and custom Runn hosts are the tenant's own) never grows a record without bound.
pub const FAILURE_CHARS: usize = 600;

impl Outcome {
    /// A failure, its message cut to [`FAILURE_CHARS`].
    pub fn failed(class: FailureClass, message: &str) -> Self {
        Outcome::Failed {
            class,
            message: crate::model::report::clip(message, FAILURE_CHARS),
        }
    }
}

/// What kind of run: a sync (the import and the actuals, a button's, a re-sync), the
/// weekly autofill, or a preview (a dry run, which writes nothing and is never the
/// status's latest import).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    #[default]
    Sync,
    Autofill,
    Preview,
    /// The link suggestions (reads only).
    Suggest,
    /// A reviewed list of links applied.
    Link,
    /// What the integration imported, removed (or, dry, listed).
    Removal,
}

/// One run of an account's job, as its status shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// Records from before kinds were kept are syncs (or autofills, named by their report).
    #[serde(default)]
    pub kind: RunKind,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// What the import of clients, projects and people did.
    pub report: Option<ImportReport>,
    /// What the actuals sync or the autofill did.
    #[serde(default)]
    pub actuals: Option<ActualsReport>,
    /// A preview's plan: what the run would do (bounded as reports are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanSummary>,
    /// A suggestions or links run's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinkReport>,
    /// A removal's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<RemovalReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_message_is_kept_short() {
        let Outcome::Failed { message, .. } =
            Outcome::failed(FailureClass::Permanent, &"x".repeat(500_000))
        else {
            unreachable!()
        };
        assert_eq!(message.chars().count(), FAILURE_CHARS + 1);
    }
}
