use super::{
    run_json, AccountPage, AccountState, AccountStore, CleanupKey, HookStore, LeaseAttempt,
    LeaseHolder, LeaseStore, LedgerStore, Listing, MarkStore, OpenedAccount, Pending, PendingJob,
    RunStore, SealContext, StoreError, StoredCredentials, Write, SUGGESTION_PAGE,
};
use crate::account::{Account, AccountId, AccountSettings, Credential, RunRecord};
use crate::model::ledger::{first_of_month, Ledger, LedgerGroup, SyncState};
use crate::model::links::{CreatedRecord, LinkDecision, LinkKind, Suggestion};
use crate::model::webhooks::{Changes, ChangesBroughtIn, HookRegistration};
use chrono::{DateTime, NaiveDate, Utc};
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Created = BTreeMap<(LinkKind, i64), CreatedRecord>;
type Decisions = BTreeMap<(LinkKind, String), LinkDecision>;

/// An in-memory [`Store`] for unit tests of the domain. Credentials keep what they were
/// sealed for, and do not open once it changed, as KMS does with its encryption context.
#[derive(Default)]
pub struct MemoryStore {
    accounts: Mutex<BTreeMap<AccountId, Stored>>,
    leases: Mutex<HashMap<AccountId, (String, Instant)>>,
    runs: Mutex<HashMap<AccountId, Vec<RunRecord>>>,
    ledgers: Mutex<HashMap<AccountId, Ledger>>,
    backfill: Mutex<HashMap<AccountId, NaiveDate>>,
    sync: Mutex<HashMap<AccountId, SyncState>>,
    pending: Mutex<HashMap<AccountId, (PendingJob, Instant)>>,
    signatures: Mutex<HashMap<(AccountId, String), i64>>,
    created: Mutex<HashMap<AccountId, Created>>,
    decisions: Mutex<HashMap<AccountId, Decisions>>,
    suggestions: Mutex<HashMap<(AccountId, String), Vec<Suggestion>>>,
    hooks: Mutex<HashMap<AccountId, Hooks>>,
    /// Refuse to save run records, as an unreachable store would (for tests).
    pub fail_record_run: std::sync::atomic::AtomicBool,
}

/// A credential as stored: the secret and what it was sealed for.
#[derive(Clone)]
struct Sealed {
    context: SealContext,
    bound: String,
    secret: SecretString,
}

/// An account as stored: its credentials may have been deleted (integration turned off).
#[derive(Clone)]
struct Stored {
    settings: AccountSettings,
    runn_token: Option<Sealed>,
    clockify_api_key: Option<Sealed>,
    version: u64,
    credentials_version: u64,
}

impl Stored {
    fn slot(&mut self, c: Credential) -> &mut Option<Sealed> {
        match c {
            Credential::RunnToken => &mut self.runn_token,
            Credential::ClockifyApiKey => &mut self.clockify_api_key,
        }
    }
    fn state(&self) -> AccountState {
        AccountState {
            settings: self.settings.clone(),
            credentials: StoredCredentials {
                runn_token: self.runn_token.is_some(),
                clockify_api_key: self.clockify_api_key.is_some(),
            },
            version: self.version,
            credentials_version: self.credentials_version,
            sealed_for: [
                (Credential::RunnToken, &self.runn_token),
                (Credential::ClockifyApiKey, &self.clockify_api_key),
            ]
            .into_iter()
            .filter_map(|(c, sealed)| Some((c.field().to_owned(), sealed.as_ref()?.bound.clone())))
            .collect(),
        }
    }
}

fn seal(c: Credential, settings: &AccountSettings, secret: &SecretString) -> Sealed {
    Sealed {
        context: SealContext::bound(c, settings),
        bound: c.binding_text(settings),
        secret: secret.clone(),
    }
}

impl MemoryStore {
    fn write(&self, account: &Account, expected: Option<u64>) -> Write {
        let mut accounts = self.accounts.lock().unwrap();
        let old = accounts.get(&account.settings.id);
        let (version, cv) = old.map_or((0, 0), |o| (o.version, o.credentials_version));
        if expected.is_some_and(|e| e != version) {
            return Write::Conflict;
        }
        let s = &account.settings;
        accounts.insert(
            s.id.clone(),
            Stored {
                settings: s.clone(),
                runn_token: Some(seal(Credential::RunnToken, s, &account.runn_token)),
                clockify_api_key: Some(seal(
                    Credential::ClockifyApiKey,
                    s,
                    &account.clockify_api_key,
                )),
                version: version + 1,
                credentials_version: cv + 1,
            },
        );
        Write::Applied
    }
}

#[async_trait::async_trait]
impl AccountStore for MemoryStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.write(account, None);
        Ok(())
    }

    async fn replace_account(&self, account: &Account, expected: u64) -> Result<Write, StoreError> {
        Ok(self.write(account, Some(expected)))
    }

    async fn save_integration(
        &self,
        settings: &AccountSettings,
        runn_token: Option<&SecretString>,
        clockify_api_key: Option<&SecretString>,
        expected: u64,
    ) -> Result<Write, StoreError> {
        let mut accounts = self.accounts.lock().unwrap();
        let mut next = match accounts.get(&settings.id) {
            Some(old) if old.version != expected => return Ok(Write::Conflict),
            Some(old) => old.clone(),
            None if expected != 0 => return Ok(Write::Conflict),
            None => Stored {
                settings: settings.clone(),
                runn_token: None,
                clockify_api_key: None,
                version: 0,
                credentials_version: 0,
            },
        };
        let mut replaced = false;
        for (c, given) in [
            (Credential::RunnToken, runn_token),
            (Credential::ClockifyApiKey, clockify_api_key),
        ] {
            match given {
                Some(secret) => {
                    *next.slot(c) = Some(seal(c, settings, secret));
                    replaced = true;
                }
                None if next.slot(c).is_none() => return Ok(Write::Missing),
                None => {}
            }
        }
        next.settings = settings.clone();
        next.version += 1;
        if replaced {
            next.credentials_version += 1;
        }
        accounts.insert(settings.id.clone(), next);
        Ok(Write::Applied)
    }

    async fn state(&self, id: &AccountId) -> Result<Option<AccountState>, StoreError> {
        Ok(self.accounts.lock().unwrap().get(id).map(Stored::state))
    }

    async fn turn_off(&self, id: &AccountId, reason: &str) -> Result<bool, StoreError> {
        Ok(match self.accounts.lock().unwrap().get_mut(id) {
            Some(a) => {
                a.settings.disable(reason);
                let mut hooks = self.hooks.lock().unwrap();
                let entry = hooks.entry(id.clone()).or_default();
                if entry
                    .registration
                    .as_ref()
                    .is_some_and(|r| !r.hooks.is_empty())
                {
                    entry.cleanup = a.clockify_api_key.as_ref().map(|k| CleanupKey {
                        key: k.secret.clone(),
                        due: chrono::Utc::now() + super::CLEANUP_WINDOW,
                        clockify_host: a.settings.clockify_host.clone(),
                        workspace: a.settings.clockify_workspace.clone(),
                    });
                }
                a.runn_token = None;
                a.clockify_api_key = None;
                a.version += 1;
                a.credentials_version += 1;
                true
            }
            None => false,
        })
    }

    async fn open_account(&self, id: &AccountId) -> Result<Option<OpenedAccount>, StoreError> {
        let Some(mut a) = self.accounts.lock().unwrap().get(id).cloned() else {
            return Ok(None);
        };
        let mut open = |c: Credential| match a.slot(c).clone() {
            Some(sealed) if sealed.context == SealContext::bound(c, &a.settings) => {
                Ok(sealed.secret)
            }
            Some(_) => Err(StoreError::Rebound(c)),
            None => Err(StoreError::Corrupt(format!(
                "account {id} has no stored credentials"
            ))),
        };
        let runn_token = open(Credential::RunnToken)?;
        let clockify_api_key = open(Credential::ClockifyApiKey)?;
        Ok(Some(OpenedAccount {
            account: Account {
                settings: a.settings,
                runn_token,
                clockify_api_key,
            },
            version: a.version,
            credentials_version: a.credentials_version,
        }))
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
            unreadable: vec![],
        })
    }

    async fn all_settings(&self) -> Result<Listing, StoreError> {
        let mut found: Vec<AccountSettings> = self
            .accounts
            .lock()
            .unwrap()
            .values()
            .map(|a| a.settings.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Listing {
            settings: found,
            unreadable: vec![],
        })
    }

    async fn disable(
        &self,
        id: &AccountId,
        reason: &str,
        credentials_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut accounts = self.accounts.lock().unwrap();
        let Some(a) = accounts.get_mut(id) else {
            return Ok(false);
        };
        if !a.settings.enabled || credentials_version.is_some_and(|v| v != a.credentials_version) {
            return Ok(false);
        }
        a.settings.disable(reason);
        a.version += 1;
        Ok(true)
    }

    async fn update_settings(
        &self,
        settings: &AccountSettings,
        expected: u64,
    ) -> Result<Write, StoreError> {
        match self.accounts.lock().unwrap().get_mut(&settings.id) {
            Some(a) if a.version != expected => Ok(Write::Conflict),
            Some(a) => {
                a.settings = settings.clone();
                a.version += 1;
                Ok(Write::Applied)
            }
            None => Ok(Write::Missing),
        }
    }
}

#[async_trait::async_trait]
impl LeaseStore for MemoryStore {
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
}

#[async_trait::async_trait]
impl LedgerStore for MemoryStore {
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

    async fn sync_state(&self, id: &AccountId) -> Result<SyncState, StoreError> {
        let mut state = self
            .sync
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default();
        state.backfilled_through = self.backfill.lock().unwrap().get(id).copied();
        Ok(state)
    }

    async fn set_sync_state(&self, id: &AccountId, state: &SyncState) -> Result<(), StoreError> {
        self.sync.lock().unwrap().insert(id.clone(), state.clone());
        Ok(())
    }
}

#[async_trait::async_trait]
impl RunStore for MemoryStore {
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

#[async_trait::async_trait]
impl MarkStore for MemoryStore {
    async fn mark_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError> {
        let mut pending = self.pending.lock().unwrap();
        let now = Instant::now();
        match pending.get(id) {
            Some((job, until)) if *until > now => Ok(Pending::Already(job.clone())),
            _ => {
                let job = PendingJob {
                    run_id: run_id.to_owned(),
                    received: false,
                };
                pending.insert(id.clone(), (job, now + ttl));
                Ok(Pending::Marked)
            }
        }
    }

    async fn refresh_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut pending = self.pending.lock().unwrap();
        match pending.get_mut(id) {
            Some((job, until)) if job.run_id == run_id => {
                job.received = true;
                *until = Instant::now() + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn replace_pending(
        &self,
        id: &AccountId,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut pending = self.pending.lock().unwrap();
        match pending.get_mut(id) {
            Some((job, until)) if job.run_id == from => {
                *job = PendingJob {
                    run_id: to.to_owned(),
                    received: false,
                };
                *until = Instant::now() + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn pending(&self, id: &AccountId) -> Result<Option<PendingJob>, StoreError> {
        let pending = self.pending.lock().unwrap();
        Ok(pending
            .get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(job, _)| job.clone()))
    }

    async fn clear_pending(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError> {
        let mut pending = self.pending.lock().unwrap();
        if pending.get(id).is_some_and(|(job, _)| job.run_id == run_id) {
            pending.remove(id);
        }
        Ok(())
    }

    async fn use_signature(
        &self,
        id: &AccountId,
        signature: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let now = chrono::Utc::now().timestamp();
        let mut used = self.signatures.lock().unwrap();
        used.retain(|_, u| *u >= now);
        Ok(used
            .insert((id.clone(), signature.to_owned()), until)
            .is_none())
    }
}

#[async_trait::async_trait]
impl super::OriginStore for MemoryStore {
    async fn record_created(
        &self,
        id: &AccountId,
        created: &[CreatedRecord],
    ) -> Result<(), StoreError> {
        let mut all = self.created.lock().unwrap();
        let mine = all.entry(id.clone()).or_default();
        for c in created {
            mine.insert((c.kind, c.runn_id), c.clone());
        }
        Ok(())
    }

    async fn created(&self, id: &AccountId) -> Result<Vec<CreatedRecord>, StoreError> {
        let all = self.created.lock().unwrap();
        Ok(all
            .get(id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn record_decisions(
        &self,
        id: &AccountId,
        decisions: &[LinkDecision],
    ) -> Result<(), StoreError> {
        let mut all = self.decisions.lock().unwrap();
        let mine = all.entry(id.clone()).or_default();
        for d in decisions {
            mine.insert((d.kind, d.clockify_id.clone()), d.clone());
        }
        Ok(())
    }

    async fn decisions(&self, id: &AccountId) -> Result<Vec<LinkDecision>, StoreError> {
        let all = self.decisions.lock().unwrap();
        Ok(all
            .get(id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn save_suggestions(
        &self,
        id: &AccountId,
        run_id: &str,
        suggestions: &[Suggestion],
    ) -> Result<(), StoreError> {
        self.suggestions
            .lock()
            .unwrap()
            .insert((id.clone(), run_id.to_owned()), suggestions.to_vec());
        Ok(())
    }

    async fn suggestions(
        &self,
        id: &AccountId,
        run_id: &str,
        page: u32,
    ) -> Result<Option<(Vec<Suggestion>, bool)>, StoreError> {
        let all = self.suggestions.lock().unwrap();
        let Some(list) = all.get(&(id.clone(), run_id.to_owned())) else {
            return Ok(None);
        };
        let from = page as usize * SUGGESTION_PAGE;
        if from > 0 && from >= list.len() {
            return Ok(None);
        }
        let to = (from + SUGGESTION_PAGE).min(list.len());
        Ok(Some((list[from..to].to_vec(), to < list.len())))
    }
}

/// An account's near-real-time items.
#[derive(Default)]
struct Hooks {
    registration: Option<HookRegistration>,
    changes: Changes,
    queued_at: Option<DateTime<Utc>>,
    brought_in: ChangesBroughtIn,
    budget: (i64, u64),
    cleanup: Option<CleanupKey>,
}

#[async_trait::async_trait]
impl HookStore for MemoryStore {
    async fn hooks(&self, id: &AccountId) -> Result<Option<HookRegistration>, StoreError> {
        Ok(self.with_hooks(id, |h| h.registration.clone()))
    }
    async fn save_hooks(&self, id: &AccountId, hooks: &HookRegistration) -> Result<(), StoreError> {
        self.with_hooks(id, |h| h.registration = Some(hooks.clone()));
        Ok(())
    }
    async fn add_changes(&self, id: &AccountId, changes: &Changes) -> Result<(), StoreError> {
        self.with_hooks(id, |h| {
            h.changes.everyone |= changes.everyone;
            if h.changes.people.len() >= crate::model::webhooks::MAX_MARKED_PEOPLE {
                h.changes.everyone = true;
                h.changes.people.clear();
            } else {
                h.changes.people.extend(changes.people.iter().cloned());
            }
            h.changes.entities.extend(changes.entities.iter().copied());
            let at = changes.first_at.unwrap_or_else(Utc::now);
            h.changes.first_at = Some(h.changes.first_at.map_or(at, |f| f.min(at)));
        });
        Ok(())
    }
    async fn claim_changes_job(
        &self,
        id: &AccountId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.with_hooks(id, |h| {
            let free = h.queued_at.is_none_or(|q| q < stale_before);
            if free {
                h.queued_at = Some(now);
            }
            free
        }))
    }
    async fn release_changes_job(
        &self,
        id: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with_hooks(id, |h| {
            if h.queued_at == Some(at) {
                h.queued_at = None;
            }
        });
        Ok(())
    }
    async fn take_changes(&self, id: &AccountId) -> Result<Changes, StoreError> {
        Ok(self.with_hooks(id, |h| {
            h.queued_at = None;
            std::mem::take(&mut h.changes)
        }))
    }
    async fn brought_in(&self, id: &AccountId) -> Result<ChangesBroughtIn, StoreError> {
        Ok(self.with_hooks(id, |h| h.brought_in.clone()))
    }
    async fn save_brought_in(
        &self,
        id: &AccountId,
        brought_in: &ChangesBroughtIn,
    ) -> Result<(), StoreError> {
        self.with_hooks(id, |h| h.brought_in = brought_in.clone());
        Ok(())
    }
    async fn hook_budget_used(&self, id: &AccountId, hour: i64) -> Result<u64, StoreError> {
        Ok(self.with_hooks(id, |h| if h.budget.0 == hour { h.budget.1 } else { 0 }))
    }
    async fn spend_hook_budget(&self, id: &AccountId, hour: i64, n: u64) -> Result<(), StoreError> {
        self.with_hooks(id, |h| {
            if h.budget.0 == hour {
                h.budget.1 += n;
            } else if h.budget.0 < hour {
                h.budget = (hour, n);
            }
        });
        Ok(())
    }
    async fn cleanup_key(&self, id: &AccountId) -> Result<Option<CleanupKey>, StoreError> {
        Ok(self.with_hooks(id, |h| {
            h.cleanup.as_ref().map(|c| CleanupKey {
                key: c.key.clone(),
                due: c.due,
                clockify_host: c.clockify_host.clone(),
                workspace: c.workspace.clone(),
            })
        }))
    }
    async fn delete_cleanup_key(&self, id: &AccountId) -> Result<(), StoreError> {
        self.with_hooks(id, |h| h.cleanup = None);
        Ok(())
    }
    async fn cleanup_accounts(&self) -> Result<Vec<AccountId>, StoreError> {
        let hooks = self.hooks.lock().unwrap();
        Ok(hooks
            .iter()
            .filter(|(_, h)| h.cleanup.is_some())
            .map(|(id, _)| id.clone())
            .collect())
    }
    async fn expire_cleanup_key(
        &self,
        id: &AccountId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.with_hooks(id, |h| {
            let due = h.cleanup.as_ref().is_some_and(|c| c.due < now);
            if due {
                h.cleanup = None;
            }
            due
        }))
    }
}

impl MemoryStore {
    fn with_hooks<T>(&self, id: &AccountId, f: impl FnOnce(&mut Hooks) -> T) -> T {
        f(self.hooks.lock().unwrap().entry(id.clone()).or_default())
    }
}
