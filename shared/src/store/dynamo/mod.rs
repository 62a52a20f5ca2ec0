//! The DynamoDB store: one table, keyed `pk` = `ACCOUNT#<id>` and `sk` by item kind.
//!
//! | item | sk | attributes |
//! |---|---|---|
//! | settings and sealed secrets | `ACCOUNT` | `settings` (JSON), `runn_token`, `clockify_api_key` (KMS ciphertext, each sealed with what it was checked for), `runn_token_seal`, `clockify_api_key_seal` (how: absent = 1, the account alone), `item_version`, `credentials_version`, `gsi1pk` = `ENABLED` while enabled, `gsi1sk` = id |
//! | lease | `LEASE` | `holder`, `expires` (epoch seconds) |
//! | a run | `RUN#<started, RFC 3339>#<run id>` | `run` (JSON, bounded), `expires_at` (TTL, 90 days) |
//! | the ledger of one person's month | `LEDGER#<YYYY-MM>#<Runn person id>` | `days` (JSON rows) |
//! | where the actuals sync stands | `ACTUALS` | `backfilled_through` (date), `last_full_read` (date), `window_meaning`, `changes_since` (RFC 3339) |
//! | a run's latest record, by run id | `RUNID#<run id>` | `latest` (its `RUN#` key), `expires_at` |
//! | a job queued or running | `PENDING` | `run_id`, `received`, `expires` (and `expires_at`, its TTL) |
//! | a request signature already used | `SIGNATURE#<t>#<v1>` | `expires_at` (TTL) |
//! | the webhooks registered | `HOOKS` | `value` (JSON: ids, events, SHA-256 digests of their tokens) |
//! | changes marked by deliveries | `CHANGES` | `people`, `entities` (string sets), `first_at`, `queued_at` (epoch ms) |
//! | the latest webhook run's result | `CHANGESIN` | `value` (JSON) |
//! | the webhook runs' hourly budget | `HOOKBUDGET` | `hour` (epoch hours), `used` (Clockify requests) |
//! | a turned-off integration's key for its clean-up | `CLEANUP` | `key` (sealed as it was), `seal`, `settings`, `due`, `expires_at` |
//!
//! Access patterns: get an account (GetItem); page through enabled accounts (Query on the
//! sparse index `gsi1`); take a lease (conditional PutItem); latest runs (Query on the
//! account's `RUN#` range, newest first).

mod account;
mod hooks;
mod marks;
mod origins;

use super::{
    run_json, sdk_reason, AccountPage, AccountState, AccountStore, HookStore, LeaseAttempt,
    LeaseHolder, LeaseStore, LedgerStore, Listing, MarkStore, OpenedAccount, Pending, PendingJob,
    RunStore, Sealer, StoreError, Write, RUN_RETENTION,
};
use crate::account::{Account, AccountId, AccountSettings, Credential, RunRecord};
use crate::ids::{RunnPersonId, RunnProjectId, RunnRoleId};
use crate::model::ledger::{
    first_of_month, DayKey, Ledger, LedgerGroup, Source, SyncState, Written,
};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::{Datelike, NaiveDate};
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) const ENABLED_INDEX: &str = "gsi1";

/// Times a read-modify-write of the account item re-reads and re-decides after another
/// writer got there first, before it gives up (as a transient failure).
const CONFLICT_ATTEMPTS: usize = 5;

fn kept_changing(id: &AccountId) -> StoreError {
    StoreError::Unavailable {
        operation: format!("update account {id}"),
        reason: "the account kept changing while it was being updated".into(),
    }
}

/// An item's key, as a log line names an unreadable record.
pub(super) fn key_of(item: &HashMap<String, AttributeValue>) -> String {
    let part = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .map_or("?", |v| v.as_str())
    };
    crate::model::report::clip(&format!("{} / {}", part("pk"), part("sk")), 200)
}

pub struct DynamoStore {
    db: Client,
    table: String,
    sealer: Arc<dyn Sealer>,
}

/// The attribute DynamoDB's TTL reads (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Whether a conditional write was refused because its condition did not hold (the
/// lease is held, the mark is set, the item is not ours): an answer, not a failure.
fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// The answer to a conditional write: `true` when it was applied, `false` when its
/// condition did not hold; any other failure as [`unavailable`] classes it.
fn applied<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    operation: impl Into<String>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(unavailable(operation)(e)),
    }
}

/// Classes a DynamoDB failure: the service refusing the request itself (validation, an
/// item too large) is permanent; anything else (throttling, the network) may pass.
fn unavailable<E, R>(operation: impl Into<String>) -> impl FnOnce(SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let operation = operation.into();
    move |e| {
        let refused = e
            .as_service_error()
            .and_then(|s| s.code())
            .is_some_and(|c| c == "ValidationException" || c == "ResourceNotFoundException");
        if refused {
            let reason = e
                .as_service_error()
                .and_then(|s| s.message())
                .unwrap_or("refused")
                .to_owned();
            return StoreError::Refused { operation, reason };
        }
        tracing::debug!(error = ?e, %operation, "DynamoDB request failed");
        StoreError::Unavailable {
            reason: sdk_reason(&e),
            operation,
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn pk(id: &AccountId) -> AttributeValue {
    s(format!("ACCOUNT#{id}"))
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("missing {name}")))
}

fn bytes<'a>(
    item: &'a HashMap<String, AttributeValue>,
    name: &str,
) -> Result<&'a [u8], StoreError> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref())
        .ok_or_else(|| StoreError::Corrupt(format!("missing {name}")))
}

fn json<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

impl DynamoStore {
    pub fn new(db: Client, table: impl Into<String>, sealer: Arc<dyn Sealer>) -> Self {
        Self {
            db,
            table: table.into(),
            sealer,
        }
    }

    /// One item of an account, read consistently; `what` names it in errors.
    async fn item(
        &self,
        id: &AccountId,
        sk: &str,
        what: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable(format!("read {what} of account {id}")))?;
        Ok(out.item)
    }
}

#[async_trait::async_trait]
impl AccountStore for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.write_account(account, None).await.map(|_| ())
    }

    async fn replace_account(&self, account: &Account, expected: u64) -> Result<Write, StoreError> {
        self.write_account(account, Some(expected)).await
    }

    async fn state(&self, id: &AccountId) -> Result<Option<AccountState>, StoreError> {
        self.read_state(id).await
    }

    async fn open_account(&self, id: &AccountId) -> Result<Option<OpenedAccount>, StoreError> {
        self.open(id).await
    }

    async fn enabled_accounts(
        &self,
        start: Option<String>,
        limit: u32,
    ) -> Result<AccountPage, StoreError> {
        let mut q = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(ENABLED_INDEX)
            .key_condition_expression("gsi1pk = :e")
            .expression_attribute_values(":e", s("ENABLED"))
            .limit(limit as i32);
        if let Some(after) = start {
            q = q
                .exclusive_start_key("gsi1pk", s("ENABLED"))
                .exclusive_start_key("gsi1sk", s(after.clone()))
                .exclusive_start_key("pk", s(format!("ACCOUNT#{after}")))
                .exclusive_start_key("sk", s("ACCOUNT"));
        }
        let out = q
            .send()
            .await
            .map_err(unavailable("list enabled accounts"))?;
        let mut page = AccountPage::default();
        for item in out.items() {
            match text(item, "gsi1sk").map(AccountId::parse) {
                Ok(Ok(id)) => page.accounts.push(id),
                // One damaged record never stops the others: left out, and named.
                _ => page.unreadable.push(key_of(item)),
            }
        }
        page.next = out
            .last_evaluated_key()
            .and_then(|k| k.get("gsi1sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok(page)
    }

    async fn all_settings(&self) -> Result<Listing, StoreError> {
        let mut found = Listing::default();
        let mut start = None;
        loop {
            let out = self
                .db
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :a")
                .expression_attribute_values(":a", s("ACCOUNT"))
                .projection_expression("pk, sk, settings")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("list accounts"))?;
            for item in out.items() {
                match text(item, "settings").and_then(|t| json::<AccountSettings>(t, "settings")) {
                    Ok(settings) => found.settings.push(settings),
                    Err(e) => {
                        tracing::warn!(key = %key_of(item), error = %e, "an account record could not be read; left out");
                        found.unreadable.push(key_of(item));
                    }
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        found.settings.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    async fn disable(
        &self,
        id: &AccountId,
        reason: &str,
        credentials_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(state) = self.read_state(id).await? else {
                return Ok(false);
            };
            // Already off (turned off, or disabled by another run): its reason stands. New
            // credentials since the job read them: they may work, so nothing to disable.
            if !state.settings.enabled
                || credentials_version.is_some_and(|v| v != state.credentials_version)
            {
                return Ok(false);
            }
            let mut settings = state.settings;
            settings.disable(reason);
            match self
                .write_settings(&settings, state.version, credentials_version)
                .await?
            {
                Write::Applied => return Ok(true),
                Write::Missing => return Ok(false),
                Write::Conflict => continue,
            }
        }
        Err(kept_changing(id))
    }

    async fn save_integration(
        &self,
        settings: &AccountSettings,
        runn_token: Option<&SecretString>,
        clockify_api_key: Option<&SecretString>,
        expected: u64,
    ) -> Result<Write, StoreError> {
        self.save(
            settings,
            [
                (Credential::RunnToken, runn_token),
                (Credential::ClockifyApiKey, clockify_api_key),
            ],
            expected,
        )
        .await
    }

    async fn turn_off(&self, id: &AccountId, reason: &str) -> Result<bool, StoreError> {
        // Webhooks to delete: the Clockify key is kept apart for the clean-up job, at
        // most an hour.
        let keep_key = self.hooks(id).await?.is_some_and(|h| !h.hooks.is_empty());
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(item) = self.account_item(id).await? else {
                return Ok(false);
            };
            let state = account::state_of(&item)?;
            let mut settings = state.settings;
            settings.disable(reason);
            if keep_key {
                self.keep_cleanup_key(&item, &settings).await?;
            }
            match self.delete_credentials(&settings, state.version).await? {
                Write::Applied => return Ok(true),
                Write::Missing => return Ok(false),
                Write::Conflict => continue,
            }
        }
        Err(kept_changing(id))
    }

    async fn update_settings(
        &self,
        settings: &AccountSettings,
        expected: u64,
    ) -> Result<Write, StoreError> {
        self.write_settings(settings, expected, None).await
    }
}

#[async_trait::async_trait]
impl LeaseStore for DynamoStore {
    async fn try_lease(
        &self,
        id: &AccountId,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt, StoreError> {
        let now = now_epoch();
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(id))
            .item("sk", s("LEASE"))
            .item("holder", s(holder))
            .item(
                "expires",
                AttributeValue::N((now + ttl.as_secs() as i64).to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires < :now OR holder = :me")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(LeaseAttempt::Taken),
            Err(e) if condition_failed(&e) => {
                let item = self
                    .item(id, "LEASE", "the lease")
                    .await?
                    .unwrap_or_default();
                let until = item
                    .get("expires")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok())
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .unwrap_or_else(chrono::Utc::now);
                Ok(LeaseAttempt::Held(LeaseHolder {
                    holder: text(&item, "holder").unwrap_or("unknown").to_owned(),
                    until,
                }))
            }
            Err(e) => Err(unavailable(format!("take the lease of account {id}"))(e)),
        }
    }

    async fn release_lease(
        &self,
        id: &AccountId,
        holder: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut delete = self
            .db
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("LEASE"))
            .return_values(ReturnValue::AllOld);
        if !holder.is_empty() {
            delete = delete
                .condition_expression("begins_with(holder, :me)")
                .expression_attribute_values(":me", s(holder));
        }
        match delete.send().await {
            Ok(out) => Ok(out
                .attributes()
                .and_then(|a| a.get("holder"))
                .and_then(|v| v.as_s().ok())
                .cloned()),
            // Someone else holds it now (ours ran out), or nobody: nothing of ours to free.
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(unavailable(format!("release the lease of account {id}"))(e)),
        }
    }
}

#[async_trait::async_trait]
impl LedgerStore for DynamoStore {
    async fn ledger(
        &self,
        id: &AccountId,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Ledger, StoreError> {
        let from = format!("LEDGER#{}#", first_of_month(first).format("%Y-%m"));
        let to = format!("LEDGER#{}#~", first_of_month(last).format("%Y-%m"));
        let mut ledger = Ledger::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :a AND :b")
                .expression_attribute_values(":pk", pk(id))
                .expression_attribute_values(":a", s(from.clone()))
                .expression_attribute_values(":b", s(to.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable(format!("read the ledger of account {id}")))?;
            for item in page.items() {
                let group = parse_group(text(item, "sk")?)?;
                let rows: Vec<LedgerRow> = json(text(item, "days")?, "ledger")?;
                for r in rows {
                    let (key, written) = r.open(group)?;
                    ledger.insert(key, written);
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(ledger);
            }
        }
    }

    async fn save_ledger(
        &self,
        id: &AccountId,
        ledger: &Ledger,
        groups: &BTreeSet<LedgerGroup>,
    ) -> Result<(), StoreError> {
        for group in groups {
            let rows: Vec<LedgerRow> = ledger
                .range(
                    DayKey {
                        person: group.person,
                        project: RunnProjectId(i64::MIN),
                        role: RunnRoleId(i64::MIN),
                        date: NaiveDate::MIN,
                    }..,
                )
                .take_while(|(k, _)| k.person == group.person)
                .filter(|(k, _)| LedgerGroup::of(k) == *group)
                .map(|(k, w)| LedgerRow::seal(k, w))
                .collect();
            let days =
                serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if days.len() > super::MAX_ITEM_BYTES - 4096 {
                return Err(StoreError::Refused {
                    operation: format!("save the ledger of account {id}"),
                    reason: format!(
                        "person {} has {} day totals in {}, over one item",
                        group.person,
                        rows.len(),
                        group.month.format("%Y-%m")
                    ),
                });
            }
            self.db
                .put_item()
                .table_name(&self.table)
                .item("pk", pk(id))
                .item(
                    "sk",
                    s(format!(
                        "LEDGER#{}#{}",
                        group.month.format("%Y-%m"),
                        group.person
                    )),
                )
                .item("days", s(days))
                .send()
                .await
                .map_err(unavailable(format!("save the ledger of account {id}")))?;
        }
        Ok(())
    }

    async fn backfilled_through(&self, id: &AccountId) -> Result<Option<NaiveDate>, StoreError> {
        match self.item(id, "ACTUALS", "the back-fill").await? {
            None => Ok(None),
            Some(item) => text(&item, "backfilled_through")?
                .parse()
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("backfilled_through: {e}"))),
        }
    }

    async fn set_backfilled_through(
        &self,
        id: &AccountId,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        // An update of that one attribute: the sync state beside it stays as it is.
        self.db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("ACTUALS"))
            .update_expression("SET backfilled_through = :d")
            .expression_attribute_values(":d", s(day.to_string()))
            .send()
            .await
            .map_err(unavailable(format!("save the back-fill of account {id}")))?;
        Ok(())
    }

    async fn sync_state(&self, id: &AccountId) -> Result<SyncState, StoreError> {
        let Some(item) = self.item(id, "ACTUALS", "the sync state").await? else {
            return Ok(SyncState::default());
        };
        let opt = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let parse = |name: &str| -> Result<Option<NaiveDate>, StoreError> {
            opt(name)
                .map(|t| t.parse())
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
        };
        Ok(SyncState {
            backfilled_through: parse("backfilled_through")?,
            last_full_read: parse("last_full_read")?,
            window: opt("window_meaning"),
            changes_since: opt("changes_since")
                .map(|t| chrono::DateTime::parse_from_rfc3339(&t).map(|t| t.to_utc()))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("changes_since: {e}")))?,
        })
    }

    async fn set_sync_state(&self, id: &AccountId, state: &SyncState) -> Result<(), StoreError> {
        let mut set = vec![];
        let mut remove = vec![];
        let mut values = HashMap::new();
        for (name, value) in [
            (
                "last_full_read",
                state.last_full_read.map(|d| d.to_string()),
            ),
            ("window_meaning", state.window.clone()),
            (
                "changes_since",
                state
                    .changes_since
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ),
        ] {
            match value {
                Some(v) => {
                    set.push(format!("{name} = :{name}"));
                    values.insert(format!(":{name}"), s(v));
                }
                None => remove.push(name),
            }
        }
        let mut expr = String::new();
        if !set.is_empty() {
            expr.push_str(&format!("SET {} ", set.join(", ")));
        }
        if !remove.is_empty() {
            expr.push_str(&format!("REMOVE {}", remove.join(", ")));
        }
        self.db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("ACTUALS"))
            .update_expression(expr.trim())
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await
            .map_err(unavailable(format!("save the sync state of account {id}")))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl RunStore for DynamoStore {
    async fn record_run(&self, id: &AccountId, run: &RunRecord) -> Result<(), StoreError> {
        let sk = format!(
            "RUN#{}#{}",
            run.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            run.run_id
        );
        let json = run_json(id, run)?;
        let expires = run.finished_at.timestamp() + RUN_RETENTION.as_secs() as i64;
        let put = |sk: String, attribute: &str, value: String| {
            aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .item("pk", pk(id))
                .item("sk", s(sk))
                .item(attribute, s(value))
                .item(TTL_ATTRIBUTE, AttributeValue::N(expires.to_string()))
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        // The record and its pointer (a run read by its id) land together or not at all.
        self.db
            .transact_write_items()
            .transact_items(put(sk.clone(), "run", json)?)
            .transact_items(put(format!("RUNID#{}", run.run_id), "latest", sk)?)
            .send()
            .await
            .map_err(unavailable(format!(
                "record run {} of account {id}",
                run.run_id
            )))?;
        Ok(())
    }

    async fn run(&self, id: &AccountId, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let what = format!("run {run_id}");
        let Some(pointer) = self.item(id, &format!("RUNID#{run_id}"), &what).await? else {
            return Ok(None);
        };
        match self.item(id, text(&pointer, "latest")?, &what).await? {
            None => Ok(None),
            Some(item) => Ok(Some(json(text(&item, "run")?, "run")?)),
        }
    }

    async fn runs(&self, id: &AccountId, n: u32) -> Result<Vec<RunRecord>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :run)")
            .expression_attribute_values(":pk", pk(id))
            .expression_attribute_values(":run", s("RUN#"))
            .scan_index_forward(false)
            .limit(n.max(1) as i32)
            .send()
            .await
            .map_err(unavailable("list runs"))?;
        // A damaged record is left out of the list (and logged), never a reason the
        // status cannot be read.
        Ok(out
            .items()
            .iter()
            .filter_map(|item| match text(item, "run").and_then(|t| json(t, "run")) {
                Ok(run) => Some(run),
                Err(e) => {
                    tracing::warn!(account = %id, key = %key_of(item), error = %e, "a run record could not be read; left out");
                    None
                }
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl MarkStore for DynamoStore {
    async fn mark_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError> {
        self.mark(id, run_id, ttl).await
    }

    async fn refresh_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.move_mark(id, run_id, run_id, true, ttl).await
    }

    async fn replace_pending(
        &self,
        id: &AccountId,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.move_mark(id, from, to, false, ttl).await
    }

    async fn pending(&self, id: &AccountId) -> Result<Option<PendingJob>, StoreError> {
        self.pending_job(id).await
    }

    async fn clear_pending(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError> {
        self.clear_mark(id, run_id).await
    }

    async fn use_signature(
        &self,
        id: &AccountId,
        signature: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.record_signature(id, signature, until).await
    }
}

/// One ledger total as stored: `[day of month, project, role, billable, non-billable,
/// "s" (sync) or "a" (autofill)]`, about 30 bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct LedgerRow(u32, i64, i64, u32, u32, char);

impl LedgerRow {
    fn seal(k: &DayKey, w: &Written) -> Self {
        let source = match w.source {
            Source::Sync => 's',
            Source::Autofill => 'a',
            Source::Adopted => 'd',
        };
        LedgerRow(
            k.date.day(),
            k.project.0,
            k.role.0,
            w.billable,
            w.nonbillable,
            source,
        )
    }
    fn open(self, group: LedgerGroup) -> Result<(DayKey, Written), StoreError> {
        let date = group
            .month
            .with_day(self.0)
            .ok_or_else(|| StoreError::Corrupt(format!("ledger day {}", self.0)))?;
        let source = match self.5 {
            'a' => Source::Autofill,
            'd' => Source::Adopted,
            _ => Source::Sync,
        };
        Ok((
            DayKey {
                person: group.person,
                project: RunnProjectId(self.1),
                role: RunnRoleId(self.2),
                date,
            },
            Written {
                billable: self.3,
                nonbillable: self.4,
                source,
            },
        ))
    }
}

/// `LEDGER#<YYYY-MM>#<person>` → the group.
fn parse_group(sk: &str) -> Result<LedgerGroup, StoreError> {
    let bad = || StoreError::Corrupt(format!("ledger key {sk}"));
    let mut parts = sk.split('#').skip(1);
    let month = parts
        .next()
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .ok_or_else(bad)?;
    let person = parts
        .next()
        .and_then(|p| p.parse().ok())
        .map(RunnPersonId)
        .ok_or_else(bad)?;
    Ok(LedgerGroup { month, person })
}

/// Creates the table (for tests, the demo and the command line; production's comes from
/// the SAM template with the same keys).
pub async fn create_table(db: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("valid")
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .expect("valid")
    };
    db.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("gsi1pk"))
        .attribute_definitions(attr("gsi1sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ENABLED_INDEX)
                .key_schema(key("gsi1pk", KeyType::Hash))
                .key_schema(key("gsi1sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .expect("valid"),
        )
        .send()
        .await
        .map_err(unavailable("create table"))?;
    db.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("valid"),
        )
        .send()
        .await
        .map_err(unavailable("turn on the table's TTL"))?;
    Ok(())
}
