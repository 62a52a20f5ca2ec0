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
    /// Near-real-time sync: the webhooks registered, the events left to the daily run,
    /// and the last change brought in.
    #[serde(default)]
    pub webhooks: WebhookStatus,
    pub runs: Vec<RunRecord>,
}

/// What the status says of the webhooks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    /// The events this integration's webhooks deliver.
    pub events: Vec<String>,
    /// Events the plan left no room for: their changes come with the daily run.
    pub left_to_daily: Vec<String>,
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the latest registration did not finish.
    pub error: Option<String>,
    /// After turning off: whether the webhooks were deleted, or left.
    pub cleanup: Option<String>,
    /// The latest change a webhook brought in, and how long it took from its arrival.
    pub last_change_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_change_delay_secs: Option<i64>,
    /// Set while changes wait for the next hour's budget (or the daily run).
    pub waiting: Option<String>,
    /// The latest webhook run's failure.
    pub failed: Option<String>,
}

impl WebhookStatus {
    async fn read(store: &dyn Store, id: &AccountId) -> Result<Self, StoreError> {
        let reg = store.hooks(id).await?.unwrap_or_default();
        let b = store.brought_in(id).await?;
        Ok(Self {
            events: reg.hooks.iter().map(|h| h.event.clone()).collect(),
            left_to_daily: reg.left_to_daily,
            checked_at: reg.checked_at,
            error: reg.error,
            cleanup: reg.cleanup,
            last_change_at: b.at,
            last_change_delay_secs: b.delay_secs,
            waiting: b.waiting,
            failed: b.failed,
        })
    }

    /// The notices it gives.
    fn notices(&self) -> Vec<String> {
        let mut out = vec![];
        if !self.left_to_daily.is_empty() {
            out.push(format!(
                "Clockify's plan leaves no room for webhooks of {}: those changes come with the daily run",
                self.left_to_daily.join(", ")
            ));
        }
        out.extend(self.waiting.clone());
        out.extend(self.cleanup.clone());
        out
    }
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
        let webhooks = WebhookStatus::read(store, id).await?;
        let mut notices = notices;
        notices.extend(webhooks.notices());
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
            webhooks,
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
