//! What an account's status says, read from the store alone (no secret opened, no call
//! to Clockify or Runn): shared by the HTTP API and the command line.

use crate::account::{AccountId, AccountSettings, RunRecord};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// How many runs a status shows.
pub const STATUS_RUNS: u32 = 5;

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
    pub runs: Vec<RunRecord>,
}

impl AccountStatus {
    pub async fn read(
        store: &dyn Store,
        id: &AccountId,
        runs: u32,
    ) -> Result<Option<AccountStatus>, StoreError> {
        let Some((settings, stored)) = store.credentials(id).await? else {
            return Ok(None);
        };
        let runs = store.runs(id, runs).await?;
        let pending_run = store.pending(id).await?;
        let latest = runs.iter().find_map(|r| r.report.as_ref());
        Ok(Some(AccountStatus {
            settings,
            credentials_stored: stored.runn_token && stored.clockify_api_key,
            pending_run,
            people_on_unknown_role: latest
                .map(|r| r.unknown_role_people.named.clone())
                .unwrap_or_default(),
            people_on_unknown_role_count: latest.map_or(0, |r| r.people_on_unknown_role),
            runs,
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
        let pending = store.pending(id).await?.is_some_and(|r| r == run_id);
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
