//! Where accounts, their run history and leases live: DynamoDB in production and tests
//! ([`DynamoStore`]), memory for unit tests of the domain ([`MemoryStore`]). Secrets are
//! sealed with KMS before they are stored, bound to the account and to what each was checked for.
//!
//! No table of Clockify → Runn ids is kept: Runn's references (the Clockify id on each
//! record) are the record of truth, read afresh by every run, so a hand-made link counts
//! and nothing can drift out of step. What is kept beside them says where a link came
//! from ([`OriginStore`]): the records the integration created (what a removal may
//! archive), and the suggestions applied or rejected through `link`.

mod dynamo;
mod memory;
mod seal;

pub use dynamo::{create_table, DynamoStore};
pub use memory::MemoryStore;
pub use seal::{KmsSealer, NoSecrets, Opened, SealContext, Sealer, SEAL_VERSION};

/// The store's roles, to bring their methods into scope at once (`use
/// shared::store::roles::*`) where a caller holds a whole store.
pub mod roles {
    pub use super::{
        AccountStore, HookStore, LeaseStore, LedgerStore, MarkStore, OriginStore, RunStore, Store,
    };
}

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

use crate::account::{Account, AccountId, AccountSettings, Credential, RunRecord};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// An AWS SDK failure in one line: the service's code and message, or what the request
/// met on the way (the innermost cause), never the SDK's whole debug dump.
pub(crate) fn sdk_reason<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_owned(),
                (None, Some(m)) => m.to_owned(),
                (None, None) => "the service refused the request".to_owned(),
            }
        }
        other => {
            let mut innermost = None;
            let mut src = std::error::Error::source(other);
            while let Some(cause) = src {
                innermost = Some(cause.to_string());
                src = cause.source();
            }
            match innermost {
                Some(cause) => format!("{other}: {cause}"),
                None => other.to_string(),
            }
        }
    };
    crate::model::report::clip(&text.replace('\n', " "), 300)
}
use crate::error::FailureClass;
use crate::model::ledger::{Ledger, LedgerGroup, SyncState};
use crate::model::links::{CreatedRecord, LinkDecision, Suggestion};
use crate::model::webhooks::{Changes, ChangesBroughtIn, HookRegistration};
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
    /// A sealed credential does not open with what it is bound to now: its host (or
    /// workspace) changed since it was checked and sealed.
    #[error("the {} was saved for another host; enter it again in Save & Run", .0.what())]
    Rebound(Credential),
}

impl StoreError {
    pub fn class(&self) -> FailureClass {
        match self {
            StoreError::Unavailable { .. } | StoreError::Seal(_) => FailureClass::Transient,
            StoreError::Corrupt(_) | StoreError::Refused { .. } => FailureClass::Permanent,
            StoreError::Rebound(_) => FailureClass::CredentialsRejected,
        }
    }
}

pub use crate::model::account::{AccountState, StoredCredentials};

/// An account with its secrets opened, and the versions they were read at.
#[derive(Clone, Debug)]
pub struct OpenedAccount {
    pub account: Account,
    pub version: u64,
    pub credentials_version: u64,
}

/// What a conditional write of the account item got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Applied,
    /// The item changed since it was read (its version moved): re-read and re-decide.
    Conflict,
    /// No such account, or a credential left out that is not stored.
    Missing,
}

/// A page of enabled accounts.
#[derive(Clone, Debug, Default)]
pub struct AccountPage {
    pub accounts: Vec<AccountId>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
    /// Keys of records that could not be read: left out, never a reason to stop.
    pub unreadable: Vec<String>,
}

/// Every account's settings, and the keys of records that could not be read.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub settings: Vec<AccountSettings>,
    pub unreadable: Vec<String>,
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
        run_of_holder(&self.holder)
    }
}

/// The run of a lease holder (`<run id>:<attempt>`; a run id may itself hold `:`).
pub fn run_of_holder(holder: &str) -> &str {
    holder.rsplit_once(':').map_or(holder, |(run, _)| run)
}

/// The job an account's "queued or running" mark is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingJob {
    pub run_id: String,
    /// A worker has received it (it is running, or was and will come back).
    pub received: bool,
}

/// What marking a job as pending got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Marked,
    /// A job is already queued or running.
    Already(PendingJob),
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

/// Accounts: settings, sealed credentials and versions (the `ACCOUNT` item).
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates or replaces an account whatever it holds now, sealing its secrets (setup
    /// and tests; an operator's `account put` uses [`Store::replace_account`]).
    async fn put_account(&self, account: &Account) -> Result<(), StoreError>;

    /// Creates or replaces an account if its item is still at `expected` (0: absent).
    async fn replace_account(&self, account: &Account, expected: u64) -> Result<Write, StoreError>;

    /// An account's settings, without opening its secrets.
    async fn settings(&self, id: &AccountId) -> Result<Option<AccountSettings>, StoreError> {
        Ok(self.state(id).await?.map(|s| s.settings))
    }

    /// An account's item without opening its secrets: settings, stored credentials and
    /// versions.
    async fn state(&self, id: &AccountId) -> Result<Option<AccountState>, StoreError>;

    /// An account with its secrets opened (each with what it was sealed for: a credential
    /// whose host changed since does not open). Secrets sealed the old way (the account
    /// alone) are sealed anew the first time they are opened.
    async fn open_account(&self, id: &AccountId) -> Result<Option<OpenedAccount>, StoreError>;

    /// An account with its secrets opened.
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.open_account(id).await?.map(|o| o.account))
    }

    /// Enabled accounts, a page at a time.
    async fn enabled_accounts(
        &self,
        start: Option<String>,
        limit: u32,
    ) -> Result<AccountPage, StoreError>;

    /// Every account's settings, enabled or not, by id (for operators: a full scan); a
    /// record that cannot be read is named in `unreadable`, never a reason to stop.
    async fn all_settings(&self) -> Result<Listing, StoreError>;

    /// Marks an account disabled, saying why and keeping everything else. With
    /// `credentials_version`, only while the stored credentials are still the ones of that
    /// version (a job that met a rejected credential never disables an account whose
    /// credentials were replaced meanwhile). `true` when it disabled the account now.
    async fn disable(
        &self,
        id: &AccountId,
        reason: &str,
        credentials_version: Option<u64>,
    ) -> Result<bool, StoreError>;

    /// Saves settings with whichever credentials are given (sealed with what they were
    /// checked for); a credential left out keeps the stored one. Applied only while the
    /// item is at `expected` (0: absent); `Missing`, and nothing saved, when a left-out
    /// credential is not stored. Sealing only: whoever saves needs no right to open one.
    async fn save_integration(
        &self,
        settings: &AccountSettings,
        runn_token: Option<&SecretString>,
        clockify_api_key: Option<&SecretString>,
        expected: u64,
    ) -> Result<Write, StoreError>;

    /// Turns the integration off: disabled, saying why, and its credentials deleted.
    /// `false` when there is no such account.
    async fn turn_off(&self, id: &AccountId, reason: &str) -> Result<bool, StoreError>;

    /// Replaces an account's settings, leaving its sealed secrets as they are, if the item
    /// is still at `expected`. Settings that would bind a stored credential to another
    /// host are the caller's to refuse ([`crate::account::Credential::rebinding`]).
    async fn update_settings(
        &self,
        settings: &AccountSettings,
        expected: u64,
    ) -> Result<Write, StoreError>;
}

/// The lease that lets one run at a time write for an account.
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync {
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
}

/// The ledger of day totals written, and where the actuals sync stands.
#[async_trait::async_trait]
pub trait LedgerStore: Send + Sync {
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

    /// Where the account's actuals sync stands (the back-fill, the last full read).
    async fn sync_state(&self, id: &AccountId) -> Result<SyncState, StoreError>;

    /// Saves where the sync stands, leaving the back-fill's progress as it is.
    async fn set_sync_state(&self, id: &AccountId, state: &SyncState) -> Result<(), StoreError>;
}

/// Run records, newest first, and one by its id.
#[async_trait::async_trait]
pub trait RunStore: Send + Sync {
    async fn record_run(&self, id: &AccountId, run: &RunRecord) -> Result<(), StoreError>;

    /// The latest record of one run, by its id.
    async fn run(&self, id: &AccountId, run_id: &str) -> Result<Option<RunRecord>, StoreError>;

    /// The latest `n` runs, newest first.
    async fn runs(&self, id: &AccountId, n: u32) -> Result<Vec<RunRecord>, StoreError>;
}

/// Short-lived marks: the job queued or running, and signatures already used.
#[async_trait::async_trait]
pub trait MarkStore: Send + Sync {
    /// Marks a job for the account as queued or running, unless one already is (then
    /// says which run). The mark expires on its own after `ttl`, so a job that dies or is
    /// dead-lettered never leaves the account's import button stuck.
    async fn mark_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError>;

    /// A worker received the job of `run_id`: its mark (if it is still this run's) lasts
    /// `ttl` from now and says the job was received. `false` when the mark is not its own.
    async fn refresh_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Hands the mark from the job of `from` to a follow-up job of `to` (queued because
    /// the settings changed while `from` ran), if it is still `from`'s.
    async fn replace_pending(
        &self,
        id: &AccountId,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// The job queued or running, if any (an expired mark counts as none).
    async fn pending(&self, id: &AccountId) -> Result<Option<PendingJob>, StoreError>;

    /// Clears the mark when the job ends (only if it is still this run's).
    async fn clear_pending(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError>;

    /// Records a request signature as used, until `until` (epoch seconds); `false` when
    /// it was used already (a replay).
    async fn use_signature(
        &self,
        id: &AccountId,
        signature: &str,
        until: i64,
    ) -> Result<bool, StoreError>;
}

/// Suggestions a run made, a page at a time.
pub const SUGGESTION_PAGE: usize = 100;

/// Where links came from: the records the integration created, the decisions on
/// suggestions, and the pages of a suggestions run.
#[async_trait::async_trait]
pub trait OriginStore: Send + Sync {
    /// Records records the integration created (one small item each).
    async fn record_created(
        &self,
        id: &AccountId,
        created: &[CreatedRecord],
    ) -> Result<(), StoreError>;

    /// Every record the integration created for the account.
    async fn created(&self, id: &AccountId) -> Result<Vec<CreatedRecord>, StoreError>;

    /// Records decisions on suggestions (a later one of a record replaces the earlier).
    async fn record_decisions(
        &self,
        id: &AccountId,
        decisions: &[LinkDecision],
    ) -> Result<(), StoreError>;

    /// Every decision kept for the account.
    async fn decisions(&self, id: &AccountId) -> Result<Vec<LinkDecision>, StoreError>;

    /// Keeps all of a run's suggestions, in pages of [`SUGGESTION_PAGE`] (they expire
    /// with the run's record).
    async fn save_suggestions(
        &self,
        id: &AccountId,
        run_id: &str,
        suggestions: &[Suggestion],
    ) -> Result<(), StoreError>;

    /// Page `page` (from 0) of a run's suggestions, and whether another follows; `None`
    /// when the run kept no such page.
    async fn suggestions(
        &self,
        id: &AccountId,
        run_id: &str,
        page: u32,
    ) -> Result<Option<(Vec<Suggestion>, bool)>, StoreError>;
}

/// Near-real-time sync: the webhooks registered (token digests only), the changes
/// deliveries marked, the claim of the one debounced job, what the latest webhook run
/// brought in, the hourly budget, and the Clockify key kept for a clean-up.
#[async_trait::async_trait]
pub trait HookStore: Send + Sync {
    /// The account's webhooks as last registered.
    async fn hooks(&self, id: &AccountId) -> Result<Option<HookRegistration>, StoreError>;
    async fn save_hooks(&self, id: &AccountId, hooks: &HookRegistration) -> Result<(), StoreError>;

    /// Adds changed people and kinds of record (a set each: a duplicate adds nothing);
    /// the earliest arrival is kept.
    async fn add_changes(&self, id: &AccountId, changes: &Changes) -> Result<(), StoreError>;
    /// Claims the queuing of the debounced job: `true` (and `queued_at` = `now`) when no
    /// claim is set or the one set is older than `stale_before`.
    async fn claim_changes_job(
        &self,
        id: &AccountId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives a claim back (its job could not be sent), if it is still the one of `at`.
    async fn release_changes_job(
        &self,
        id: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Takes the changes and the claim, in one update that returns what it removed.
    async fn take_changes(&self, id: &AccountId) -> Result<Changes, StoreError>;

    async fn brought_in(&self, id: &AccountId) -> Result<ChangesBroughtIn, StoreError>;
    async fn save_brought_in(
        &self,
        id: &AccountId,
        brought_in: &ChangesBroughtIn,
    ) -> Result<(), StoreError>;

    /// Clockify requests webhook runs spent in the hour `hour` (epoch hours).
    async fn hook_budget_used(&self, id: &AccountId, hour: i64) -> Result<u64, StoreError>;
    /// Adds `n` to the hour's spending (a new hour starts from 0).
    async fn spend_hook_budget(&self, id: &AccountId, hour: i64, n: u64) -> Result<(), StoreError>;

    /// The Clockify key a turned-off integration kept for its clean-up job, opened, with
    /// what it was checked for and the time after which it must no longer be used;
    /// `None` when none is kept.
    async fn cleanup_key(&self, id: &AccountId) -> Result<Option<CleanupKey>, StoreError>;
    async fn delete_cleanup_key(&self, id: &AccountId) -> Result<(), StoreError>;
    /// The accounts that keep a Clockify key for a clean-up (a sparse index: the sweep
    /// reads only these).
    async fn cleanup_accounts(&self) -> Result<Vec<AccountId>, StoreError>;
    /// Deletes the kept key if its hour is over (`true` when it did): the hourly sweep,
    /// for a clean-up job that never ran.
    async fn expire_cleanup_key(
        &self,
        id: &AccountId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// A turned-off integration's Clockify key, kept for the clean-up of its webhooks: it
/// goes only to the host and workspace it was checked and sealed for.
pub struct CleanupKey {
    pub key: SecretString,
    pub due: DateTime<Utc>,
    pub clockify_host: crate::clockify::ClockifyHost,
    pub workspace: crate::ids::WorkspaceId,
}

/// How long a turned-off integration's Clockify key is kept for the clean-up of its
/// webhooks, at most.
pub const CLEANUP_WINDOW: Duration = Duration::from_secs(3600);

/// Every role at once: what the worker (which runs whole jobs) and the api hold. Every
/// other function takes the narrowest role it needs.
pub trait Store:
    AccountStore + LeaseStore + LedgerStore + RunStore + MarkStore + OriginStore + HookStore
{
}

impl<T> Store for T where
    T: AccountStore
        + LeaseStore
        + LedgerStore
        + RunStore
        + MarkStore
        + OriginStore
        + HookStore
        + ?Sized
{
}
