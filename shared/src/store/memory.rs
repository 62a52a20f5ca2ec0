use super::{AccountPage, Mapping, Store, StoreError};
use crate::account::{Account, AccountId, AccountSettings, RunRecord};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An account's mappings keyed by (kind, Clockify id).
type MappingsByKey = BTreeMap<(String, String), Mapping>;

/// An in-memory [`Store`] for unit tests of the domain.
#[derive(Default)]
pub struct MemoryStore {
    accounts: Mutex<BTreeMap<AccountId, Account>>,
    leases: Mutex<HashMap<AccountId, (String, Instant)>>,
    runs: Mutex<HashMap<AccountId, Vec<RunRecord>>>,
    mappings: Mutex<HashMap<AccountId, MappingsByKey>>,
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.accounts
            .lock()
            .unwrap()
            .insert(account.settings.id.clone(), account.clone());
        Ok(())
    }
    async fn settings(&self, id: &AccountId) -> Result<Option<AccountSettings>, StoreError> {
        Ok(self
            .accounts
            .lock()
            .unwrap()
            .get(id)
            .map(|a| a.settings.clone()))
    }
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.accounts.lock().unwrap().get(id).cloned())
    }
    async fn enabled_accounts(
        &self,
        start: Option<String>,
        limit: u32,
    ) -> Result<AccountPage, StoreError> {
        let accounts = self.accounts.lock().unwrap();
        let mut ids: Vec<AccountId> = accounts
            .values()
            .filter(|a| a.settings.enabled)
            .map(|a| a.settings.id.clone())
            .filter(|id| start.as_deref().is_none_or(|s| id.as_str() > s))
            .take(limit as usize + 1)
            .collect();
        let next = if ids.len() > limit as usize {
            ids.truncate(limit as usize);
            ids.last().map(|id| id.to_string())
        } else {
            None
        };
        Ok(AccountPage {
            accounts: ids,
            next,
        })
    }
    async fn all_settings(&self) -> Result<Vec<AccountSettings>, StoreError> {
        let mut found: Vec<AccountSettings> = self
            .accounts
            .lock()
            .unwrap()
            .values()
            .map(|a| a.settings.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
    async fn disable(&self, id: &AccountId) -> Result<(), StoreError> {
        if let Some(a) = self.accounts.lock().unwrap().get_mut(id) {
            a.settings.enabled = false;
        }
        Ok(())
    }
    async fn try_lease(
        &self,
        id: &AccountId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut leases = self.leases.lock().unwrap();
        let now = Instant::now();
        match leases.get(id) {
            Some((h, until)) if h != holder && *until > now => Ok(false),
            _ => {
                leases.insert(id.clone(), (holder.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }
    async fn release_lease(&self, id: &AccountId, holder: &str) -> Result<(), StoreError> {
        let mut leases = self.leases.lock().unwrap();
        if leases.get(id).is_some_and(|(h, _)| h == holder) {
            leases.remove(id);
        }
        Ok(())
    }
    async fn record_run(&self, id: &AccountId, run: &RunRecord) -> Result<(), StoreError> {
        self.runs
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .push(run.clone());
        Ok(())
    }
    async fn runs(&self, id: &AccountId, n: u32) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs = self
            .runs
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default();
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        runs.truncate(n as usize);
        Ok(runs)
    }
    async fn put_mappings(&self, id: &AccountId, mappings: &[Mapping]) -> Result<(), StoreError> {
        let mut all = self.mappings.lock().unwrap();
        let mine = all.entry(id.clone()).or_default();
        for m in mappings {
            mine.insert((format!("{:?}", m.kind), m.clockify_id.clone()), m.clone());
        }
        Ok(())
    }
    async fn mappings(&self, id: &AccountId) -> Result<Vec<Mapping>, StoreError> {
        Ok(self
            .mappings
            .lock()
            .unwrap()
            .get(id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }
}
