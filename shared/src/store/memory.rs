use super::{
    run_json, AccountPage, LeaseAttempt, LeaseHolder, Pending, Store, StoreError, StoredCredentials,
};
use crate::account::{Account, AccountId, AccountSettings, RunRecord};
use crate::sync::actuals::{first_of_month, Ledger, LedgerGroup};
use chrono::NaiveDate;
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An in-memory [`Store`] for unit tests of the domain.
#[derive(Default)]
pub struct MemoryStore {
    accounts: Mutex<BTreeMap<AccountId, Stored>>,
    leases: Mutex<HashMap<AccountId, (String, Instant)>>,
    runs: Mutex<HashMap<AccountId, Vec<RunRecord>>>,
    ledgers: Mutex<HashMap<AccountId, Ledger>>,
    backfill: Mutex<HashMap<AccountId, NaiveDate>>,
    pending: Mutex<HashMap<AccountId, (String, Instant)>>,
    /// Refuse to save run records, as an unreachable store would (for tests).
    pub fail_record_run: std::sync::atomic::AtomicBool,
}

/// An account as stored: its credentials may have been deleted (integration turned off).
#[derive(Clone)]
struct Stored {
    settings: AccountSettings,
    runn_token: Option<SecretString>,
    clockify_api_key: Option<SecretString>,
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.accounts.lock().unwrap().insert(
            account.settings.id.clone(),
            Stored {
                settings: account.settings.clone(),
                runn_token: Some(account.runn_token.clone()),
                clockify_api_key: Some(account.clockify_api_key.clone()),
            },
        );
        Ok(())
    }
    async fn save_integration(
        &self,
        settings: &AccountSettings,
        runn_token: Option<&SecretString>,
        clockify_api_key: Option<&SecretString>,
    ) -> Result<bool, StoreError> {
        let mut accounts = self.accounts.lock().unwrap();
        let old = accounts.get(&settings.id);
        let runn_token = runn_token
            .cloned()
            .or_else(|| old.and_then(|a| a.runn_token.clone()));
        let clockify_api_key = clockify_api_key
            .cloned()
            .or_else(|| old.and_then(|a| a.clockify_api_key.clone()));
        if runn_token.is_none() || clockify_api_key.is_none() {
            return Ok(false);
        }
        accounts.insert(
            settings.id.clone(),
            Stored {
                settings: settings.clone(),
                runn_token,
                clockify_api_key,
            },
        );
        Ok(true)
    }
    async fn credentials(
        &self,
        id: &AccountId,
    ) -> Result<Option<(AccountSettings, StoredCredentials)>, StoreError> {
        Ok(self.accounts.lock().unwrap().get(id).map(|a| {
            (
                a.settings.clone(),
                StoredCredentials {
                    runn_token: a.runn_token.is_some(),
                    clockify_api_key: a.clockify_api_key.is_some(),
                },
            )
        }))
    }
    async fn turn_off(&self, id: &AccountId, reason: &str) -> Result<bool, StoreError> {
        Ok(match self.accounts.lock().unwrap().get_mut(id) {
            Some(a) => {
                a.settings.disable(reason);
                a.runn_token = None;
                a.clockify_api_key = None;
                true
            }
            None => false,
        })
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
        let Some(a) = self.accounts.lock().unwrap().get(id).cloned() else {
            return Ok(None);
        };
        match (a.runn_token, a.clockify_api_key) {
            (Some(runn_token), Some(clockify_api_key)) => Ok(Some(Account {
                settings: a.settings,
                runn_token,
                clockify_api_key,
            })),
            _ => Err(StoreError::Corrupt(format!(
                "account {id} has no stored credentials"
            ))),
        }
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
    async fn disable(&self, id: &AccountId, reason: &str) -> Result<(), StoreError> {
        if let Some(a) = self.accounts.lock().unwrap().get_mut(id) {
            a.settings.disable(reason);
        }
        Ok(())
    }
    async fn try_lease(
        &self,
        id: &AccountId,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt, StoreError> {
        let mut leases = self.leases.lock().unwrap();
        let now = Instant::now();
        match leases.get(id) {
            Some((h, until)) if h != holder && *until > now => {
                let left = chrono::Duration::from_std(*until - now).unwrap_or_default();
                Ok(LeaseAttempt::Held(LeaseHolder {
                    holder: h.clone(),
                    until: chrono::Utc::now() + left,
                }))
            }
            _ => {
                leases.insert(id.clone(), (holder.to_owned(), now + ttl));
                Ok(LeaseAttempt::Taken)
            }
        }
    }
    async fn release_lease(
        &self,
        id: &AccountId,
        holder: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut leases = self.leases.lock().unwrap();
        if leases.get(id).is_some_and(|(h, _)| h.starts_with(holder)) {
            return Ok(leases.remove(id).map(|(h, _)| h));
        }
        Ok(None)
    }
    async fn update_settings(&self, settings: &AccountSettings) -> Result<bool, StoreError> {
        match self.accounts.lock().unwrap().get_mut(&settings.id) {
            Some(a) => {
                a.settings = settings.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn ledger(
        &self,
        id: &AccountId,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Ledger, StoreError> {
        let (from, to) = (first_of_month(first), first_of_month(last));
        Ok(self
            .ledgers
            .lock()
            .unwrap()
            .get(id)
            .map(|l| {
                l.iter()
                    .filter(|(k, _)| (from..=to).contains(&first_of_month(k.date)))
                    .map(|(k, v)| (*k, *v))
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn save_ledger(
        &self,
        id: &AccountId,
        ledger: &Ledger,
        groups: &BTreeSet<LedgerGroup>,
    ) -> Result<(), StoreError> {
        let mut all = self.ledgers.lock().unwrap();
        let mine = all.entry(id.clone()).or_default();
        mine.retain(|k, _| !groups.contains(&LedgerGroup::of(k)));
        for (k, v) in ledger {
            if groups.contains(&LedgerGroup::of(k)) {
                mine.insert(*k, *v);
            }
        }
        Ok(())
    }
    async fn backfilled_through(&self, id: &AccountId) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.backfill.lock().unwrap().get(id).copied())
    }
    async fn set_backfilled_through(
        &self,
        id: &AccountId,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        self.backfill.lock().unwrap().insert(id.clone(), day);
        Ok(())
    }
    async fn record_run(&self, id: &AccountId, run: &RunRecord) -> Result<(), StoreError> {
        if self
            .fail_record_run
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(StoreError::Unavailable {
                operation: format!("record run {} of account {id}", run.run_id),
                reason: "the store is unreachable (injected)".into(),
            });
        }
        // The same size rule as DynamoDB's.
        run_json(id, run)?;
        self.runs
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .push(run.clone());
        Ok(())
    }
    async fn run(&self, id: &AccountId, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.runs.lock().unwrap().get(id).and_then(|runs| {
            runs.iter()
                .filter(|r| r.run_id == run_id)
                .max_by_key(|r| r.started_at)
                .cloned()
        }))
    }
    async fn mark_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError> {
        let mut pending = self.pending.lock().unwrap();
        let now = Instant::now();
        match pending.get(id) {
            Some((run, until)) if *until > now => Ok(Pending::Already(run.clone())),
            _ => {
                pending.insert(id.clone(), (run_id.to_owned(), now + ttl));
                Ok(Pending::Marked)
            }
        }
    }
    async fn pending(&self, id: &AccountId) -> Result<Option<String>, StoreError> {
        let pending = self.pending.lock().unwrap();
        Ok(pending
            .get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(run, _)| run.clone()))
    }
    async fn clear_pending(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError> {
        let mut pending = self.pending.lock().unwrap();
        if pending.get(id).is_some_and(|(run, _)| run == run_id) {
            pending.remove(id);
        }
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
}
