//! Where accounts, their run history and leases live: DynamoDB in production and tests
//! ([`DynamoStore`]), memory for unit tests of the domain ([`MemoryStore`]). Secrets are
//! sealed (KMS, the account id as encryption context) before they are stored.
//!
//! No table of Clockify → Runn ids is kept: Runn's references (the Clockify id on each
//! record) are the record of truth, read afresh by every run, so a hand-made link counts
//! and nothing can drift out of step.

mod dynamo;
mod memory;
mod seal;

pub use dynamo::{create_table, DynamoStore};
pub use memory::MemoryStore;
pub use seal::{KmsSealer, NoSecrets, Sealer};

/// The JSON of a run record, refused when it would not fit in one item.
pub(crate) fn run_json(id: &AccountId, run: &RunRecord) -> Result<String, StoreError> {
    let json = serde_json::to_string(run).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // Room for the keys and attributes beside the JSON.
    if json.len() > MAX_ITEM_BYTES - 4096 {
        return Err(StoreError::Refused {
            operation: format!("record run {} of account {id}", run.run_id),
            reason: format!("the record is {} bytes, over the item limit", json.len()),
        });
    }
    Ok(json)
}

use crate::account::{Account, AccountId, AccountSettings, RunRecord};
use crate::error::FailureClass;
use crate::sync::actuals::{Ledger, LedgerGroup};
use chrono::{DateTime, NaiveDate, Utc};
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long run records are kept (DynamoDB's TTL removes them after).
pub const RUN_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);
/// DynamoDB's largest item.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store could not be reached ({operation}): {reason}")]
    Unavailable { operation: String, reason: String },
    /// The store refused the request itself (DynamoDB's validation errors, an item over
    /// its size limit): trying again cannot help.
    #[error("the store refused to {operation}: {reason}")]
    Refused { operation: String, reason: String },
    #[error("sealing or opening a secret failed: {0}")]
    Seal(String),
    #[error("a stored record is damaged ({0})")]
    Corrupt(String),
}

impl StoreError {
    pub fn class(&self) -> FailureClass {
        match self {
            StoreError::Unavailable { .. } | StoreError::Seal(_) => FailureClass::Transient,
            StoreError::Corrupt(_) | StoreError::Refused { .. } => FailureClass::Permanent,
        }
    }
}

/// Which credentials an account has stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StoredCredentials {
    pub runn_token: bool,
    pub clockify_api_key: bool,
}

/// A page of enabled accounts.
#[derive(Clone, Debug, Default)]
pub struct AccountPage {
    pub accounts: Vec<AccountId>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

/// Who holds an account's lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// `<run id>:<attempt>`.
    pub holder: String,
    pub until: DateTime<Utc>,
}

impl LeaseHolder {
    /// The run holding the lease.
    pub fn run_id(&self) -> &str {
        self.holder
            .rsplit_once(':')
            .map_or(self.holder.as_str(), |(run, _)| run)
    }
}

/// What marking a job as pending got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Marked,
    /// A job of this run is already queued or running.
    Already(String),
}

/// What asking for a lease got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseAttempt {
    Taken,
    Held(LeaseHolder),
}

impl LeaseAttempt {
    pub fn is_taken(&self) -> bool {
        matches!(self, LeaseAttempt::Taken)
    }
}

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Creates or replaces an account, sealing its secrets.
    async fn put_account(&self, account: &Account) -> Result<(), StoreError>;
    /// An account's settings, without opening its secrets.
    async fn settings(&self, id: &AccountId) -> Result<Option<AccountSettings>, StoreError>;
    /// An account with its secrets opened.
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError>;
    /// Enabled accounts, a page at a time.
    async fn enabled_accounts(
        &self,
        start: Option<String>,
        limit: u32,
    ) -> Result<AccountPage, StoreError>;
    /// Every account's settings, enabled or not, by id (for operators: a full scan).
    async fn all_settings(&self) -> Result<Vec<AccountSettings>, StoreError>;
    /// Marks an account disabled (its credentials were rejected), saying why and keeping
    /// everything else.
    async fn disable(&self, id: &AccountId, reason: &str) -> Result<(), StoreError>;
    /// Saves settings with whichever credentials are given (sealed); a credential left out
    /// keeps the stored one. `false`, and nothing saved, when a left-out credential is not
    /// stored. Sealing only: whoever saves needs no right to open a secret.
    async fn save_integration(
        &self,
        settings: &AccountSettings,
        runn_token: Option<&SecretString>,
        clockify_api_key: Option<&SecretString>,
    ) -> Result<bool, StoreError>;
    /// An account's settings and which credentials it has stored, without opening them.
    async fn credentials(
        &self,
        id: &AccountId,
    ) -> Result<Option<(AccountSettings, StoredCredentials)>, StoreError>;
    /// Turns the integration off: disabled, saying why, and its credentials deleted.
    /// `false` when there is no such account.
    async fn turn_off(&self, id: &AccountId, reason: &str) -> Result<bool, StoreError>;

    /// Takes the account's lease for `ttl` unless another holder has an unexpired one.
    async fn try_lease(
        &self,
        id: &AccountId,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt, StoreError>;
    /// Gives the lease back if its holder starts with `holder` (a whole holder; a run id
    /// and `:` for any attempt of that run; empty for whoever holds it). Returns the
    /// holder released, if any.
    async fn release_lease(
        &self,
        id: &AccountId,
        holder: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Replaces an account's settings, leaving its sealed secrets as they are; `false`
    /// when there is no such account.
    async fn update_settings(&self, settings: &AccountSettings) -> Result<bool, StoreError>;

    /// The ledger entries of every month that touches `[first, last]`.
    async fn ledger(
        &self,
        id: &AccountId,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Ledger, StoreError>;
    /// Writes the named groups (a person's month each) whole, from `ledger`, which must
    /// hold those months whole (as [`Store::ledger`] returns them).
    async fn save_ledger(
        &self,
        id: &AccountId,
        ledger: &Ledger,
        groups: &BTreeSet<LedgerGroup>,
    ) -> Result<(), StoreError>;
    /// The last day the actuals back-fill has done, if any.
    async fn backfilled_through(&self, id: &AccountId) -> Result<Option<NaiveDate>, StoreError>;
    async fn set_backfilled_through(
        &self,
        id: &AccountId,
        day: NaiveDate,
    ) -> Result<(), StoreError>;

    async fn record_run(&self, id: &AccountId, run: &RunRecord) -> Result<(), StoreError>;
    /// The latest record of one run, by its id.
    async fn run(&self, id: &AccountId, run_id: &str) -> Result<Option<RunRecord>, StoreError>;

    /// Marks a job for the account as queued or running, unless one already is (then
    /// says which run). The mark expires on its own after `ttl`, so a job that dies or is
    /// dead-lettered never leaves the account's import button stuck.
    async fn mark_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError>;
    /// The run of the job queued or running, if any (an expired mark counts as none).
    async fn pending(&self, id: &AccountId) -> Result<Option<String>, StoreError>;
    /// Clears the mark when the job ends (only if it is still this run's).
    async fn clear_pending(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError>;
    /// The latest `n` runs, newest first.
    async fn runs(&self, id: &AccountId, n: u32) -> Result<Vec<RunRecord>, StoreError>;
}
