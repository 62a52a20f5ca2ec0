//! What an account's status says, read from the store alone (no secret opened, no call
//! to Clockify or Runn): shared by the HTTP API and the command line.

use crate::account::{AccountId, AccountSettings, RunRecord};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// How many runs a status shows.
pub const STATUS_RUNS: u32 = 5;
/// How far back the status looks for the latest run that read the people.
const PEOPLE_LOOKBACK: u32 = 25;

/// An account's settings (never its secrets), which credentials are stored, the people
/// still on "Unknown" and its latest runs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountStatus {
    #[serde(flatten)]
    pub settings: AccountSettings,
    pub credentials_stored: bool,
    /// The run of a job queued or running for the account, if any.
    pub pending_run: Option<String>,
    /// Linked people whose role is still "Unknown", as the latest import found them:
    /// their time is not imported until they have a role.
    pub people_on_unknown_role: Vec<String>,
    /// How many there are (the list above names the first few).
    pub people_on_unknown_role_count: usize,
    /// What the account's owner should know, in words: records held for a review of
    /// their links, what a removal left.
    #[serde(default)]
    pub notices: Vec<String>,
    pub runs: Vec<RunRecord>,
}

/// The notices the latest runs give: the records the latest import held back for review,
/// and the latest removal.
fn notices(runs: &[RunRecord]) -> Vec<String> {
    use crate::model::run::RunKind;
    let mut out = vec![];
    let latest_import = runs
        .iter()
        .find(|r| r.kind == RunKind::Sync && r.report.is_some());
    if let Some(held) = latest_import
        .and_then(|r| r.report.as_ref())
        .map(|r| r.held)
        .filter(|n| *n > 0)
    {
        out.push(format!(
            "{held} record{} look{} like {} already in Runn: review the links",
            if held == 1 { "" } else { "s" },
            if held == 1 { "s" } else { "" },
            if held == 1 { "one" } else { "ones" }
        ));
    }
    let removal = runs.iter().find_map(|r| {
        r.removal
            .as_ref()
            .filter(|rm| !rm.dry_run && r.kind == RunKind::Removal)
            .map(|rm| (r, rm))
    });
    if let Some((run, rm)) = removal {
        let archived = rm.archived.clients + rm.archived.projects + rm.archived.people;
        out.push(format!(
            "What the integration imported was removed on {}: {} actuals deleted, {archived} records archived. Archived records keep their Clockify references, so later imports do not create them again{}.",
            run.finished_at.format("%Y-%m-%d"),
            rm.actuals_deleted,
            if rm.switched_off.is_empty() {
                String::new()
            } else {
                format!("; switched off: {}", rm.switched_off.join(", "))
            }
        ));
    }
    out
}

impl AccountStatus {
    pub async fn read(
        store: &dyn Store,
        id: &AccountId,
        runs: u32,
    ) -> Result<Option<AccountStatus>, StoreError> {
        let Some(state) = store.state(id).await? else {
            return Ok(None);
        };
        // Who is on "Unknown" comes from the latest run that read the people, however
        // many clients-only presses came after it.
        let mut recent = store.runs(id, runs.max(PEOPLE_LOOKBACK)).await?;
        let latest = recent
            .iter()
            .find_map(|r| r.report.as_ref().filter(|r| r.people_read))
            .cloned();
        let notices = notices(&recent);
        recent.truncate(runs as usize);
        let pending_run = store.pending(id).await?.map(|p| p.run_id);
        let stored = state.credentials;
        Ok(Some(AccountStatus {
            settings: state.settings,
            credentials_stored: stored.runn_token && stored.clockify_api_key,
            pending_run,
            people_on_unknown_role: latest
                .as_ref()
                .map(|r| r.unknown_role_people.named.clone())
                .unwrap_or_default(),
            people_on_unknown_role_count: latest.map_or(0, |r| r.people_on_unknown_role),
            notices,
            runs: recent,
        }))
    }
}

/// One run, as `GET /accounts/{id}/runs/{runId}` shows it: its latest record (none yet
/// while its job is queued or running for the first time) and whether it is still going.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub run_id: String,
    /// Its job is queued or running (a continuing run has a record and is pending).
    pub pending: bool,
    pub record: Option<RunRecord>,
}

impl RunStatus {
    pub async fn read(
        store: &dyn Store,
        id: &AccountId,
        run_id: &str,
    ) -> Result<Option<RunStatus>, StoreError> {
        let pending = store.pending(id).await?.is_some_and(|p| p.run_id == run_id);
        let record = store.run(id, run_id).await?;
        if record.is_none() && !pending {
            return Ok(None);
        }
        Ok(Some(RunStatus {
            run_id: run_id.to_owned(),
            pending,
            record,
        }))
    }
}
