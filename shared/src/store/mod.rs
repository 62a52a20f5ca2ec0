//! Where accounts, their run history, leases and the Clockify → Runn id mappings live:
//! DynamoDB in production and tests ([`DynamoStore`]), memory for unit tests of the domain
//! ([`MemoryStore`]). Secrets are sealed (KMS, the account id as encryption context)
//! before they are stored.

mod dynamo;
mod memory;
mod seal;

pub use dynamo::{create_table, DynamoStore};
pub use memory::MemoryStore;
pub use seal::{KmsSealer, Sealer};

use crate::account::{Account, AccountId, AccountSettings, RunRecord};
use crate::error::FailureClass;
pub use crate::sync::Mapping;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store could not be reached or refused ({operation}): {reason}")]
    Unavailable {
        operation: &'static str,
        reason: String,
    },
    #[error("sealing or opening a secret failed: {0}")]
    Seal(String),
    #[error("a stored record is damaged ({0})")]
    Corrupt(String),
}

impl StoreError {
    pub fn class(&self) -> FailureClass {
        match self {
            StoreError::Unavailable { .. } | StoreError::Seal(_) => FailureClass::Transient,
            StoreError::Corrupt(_) => FailureClass::Permanent,
        }
    }
}

/// A page of enabled accounts.
#[derive(Clone, Debug, Default)]
pub struct AccountPage {
    pub accounts: Vec<AccountId>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
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
    /// Marks an account disabled (its credentials were rejected), keeping everything else.
    async fn disable(&self, id: &AccountId) -> Result<(), StoreError>;

    /// Takes the account's lease for `ttl` unless another holder has an unexpired one.
    async fn try_lease(
        &self,
        id: &AccountId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Gives the lease back (only if `holder` still has it).
    async fn release_lease(&self, id: &AccountId, holder: &str) -> Result<(), StoreError>;

    async fn record_run(&self, id: &AccountId, run: &RunRecord) -> Result<(), StoreError>;
    /// The latest `n` runs, newest first.
    async fn runs(&self, id: &AccountId, n: u32) -> Result<Vec<RunRecord>, StoreError>;

    async fn put_mappings(&self, id: &AccountId, mappings: &[Mapping]) -> Result<(), StoreError>;
    async fn mappings(&self, id: &AccountId) -> Result<Vec<Mapping>, StoreError>;
}
