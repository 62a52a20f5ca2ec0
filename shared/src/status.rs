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
        let latest = runs.iter().find_map(|r| r.report.as_ref());
        Ok(Some(AccountStatus {
            settings,
            credentials_stored: stored.runn_token && stored.clockify_api_key,
            people_on_unknown_role: latest
                .map(|r| r.unknown_role_people.named.clone())
                .unwrap_or_default(),
            people_on_unknown_role_count: latest.map_or(0, |r| r.people_on_unknown_role),
            runs,
        }))
    }
}
