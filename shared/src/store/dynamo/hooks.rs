//! Near-real-time sync's items: the webhooks registered (`HOOKS`: JSON, token digests
//! only), the changes deliveries marked (`CHANGES`: string sets `people` and `entities`,
//! `first_at` and the debounced job's claim `queued_at`, epoch milliseconds), what the
//! latest webhook run brought in (`CHANGESIN`: JSON), the hour's budget (`HOOKBUDGET`:
//! `hour`, `used`) and the Clockify key a turned-off integration keeps for its clean-up
//! (`CLEANUP`: the sealed key as it was, the settings it was sealed with, `due`).

use super::{applied, bytes, json, pk, s, text, unavailable, DynamoStore, TTL_ATTRIBUTE};
use crate::account::{AccountId, AccountSettings, Credential};
use crate::ids::ClockifyUserId;
use crate::model::webhooks::{
    Changes, ChangesBroughtIn, EntityKind, HookRegistration, MAX_MARKED_PEOPLE,
};
use crate::store::{CleanupKey, HookStore, Opened, SealContext, StoreError, CLEANUP_WINDOW};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn num(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn set_of(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default()
}

fn millis(t: DateTime<Utc>) -> AttributeValue {
    n(t.timestamp_millis())
}

impl DynamoStore {
    async fn put_json<T: serde::Serialize>(
        &self,
        id: &AccountId,
        sk: &str,
        value: &T,
        what: &str,
    ) -> Result<(), StoreError> {
        let raw = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(id))
            .item("sk", s(sk))
            .item("value", s(raw))
            .send()
            .await
            .map_err(unavailable(format!("save {what} of account {id}")))?;
        Ok(())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        id: &AccountId,
        sk: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.item(id, sk, what).await? {
            None => Ok(None),
            Some(item) => json(text(&item, "value")?, what).map(Some),
        }
    }

    async fn delete_item(&self, id: &AccountId, sk: &str, what: &str) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(unavailable(format!("delete {what} of account {id}")))?;
        Ok(())
    }

    /// Adds the changes' people and kinds (sets: a duplicate adds nothing), the earliest
    /// arrival kept; `false`, and nothing added, when the item already names the most
    /// people it keeps.
    async fn add_marks(&self, id: &AccountId, changes: &Changes) -> Result<bool, StoreError> {
        let mut parts = vec![];
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CHANGES"));
        if !changes.people.is_empty() {
            parts.push("people :p");
            let people = changes.people.iter().map(|u| u.to_string()).collect();
            update = update.expression_attribute_values(":p", AttributeValue::Ss(people));
        }
        if !changes.entities.is_empty() {
            parts.push("entities :e");
            let kinds = changes.entities.iter().map(|k| k.as_str().into()).collect();
            update = update.expression_attribute_values(":e", AttributeValue::Ss(kinds));
        }
        let at = changes.first_at.unwrap_or_else(Utc::now);
        let expression = if parts.is_empty() {
            "SET first_at = if_not_exists(first_at, :t)".to_owned()
        } else {
            format!(
                "ADD {} SET first_at = if_not_exists(first_at, :t)",
                parts.join(", ")
            )
        };
        if !changes.people.is_empty() {
            update = update
                .condition_expression("attribute_not_exists(people) OR size(people) < :max")
                .expression_attribute_values(":max", n(MAX_MARKED_PEOPLE as i64));
        }
        let result = update
            .update_expression(expression)
            .expression_attribute_values(":t", millis(at))
            .send()
            .await;
        applied(result, format!("mark the changes of account {id}"))
    }

    /// Keeps the account's sealed Clockify key apart, as it is, for the clean-up job
    /// of its webhooks (called by the turn-off before it deletes the credentials).
    pub(super) async fn keep_cleanup_key(
        &self,
        account: &Item,
        settings: &AccountSettings,
    ) -> Result<(), StoreError> {
        let id = &settings.id;
        let c = Credential::ClockifyApiKey;
        let Some(sealed) = account.get(c.field()).cloned() else {
            return Ok(());
        };
        let due = Utc::now() + CLEANUP_WINDOW;
        let mut put = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(id))
            .item("sk", s("CLEANUP"))
            .item("key", sealed)
            .item("settings", super::account::settings_json(settings)?)
            .item("due", n(due.timestamp()))
            // In the sparse index, so the hourly sweep finds these alone.
            .item("gsi1pk", s("CLEANUP"))
            .item("gsi1sk", s(id.as_str()))
            // DynamoDB's TTL only tidies up: `due` is checked on every read.
            .item(TTL_ATTRIBUTE, n(due.timestamp()));
        if let Some(v) = account.get(&format!("{}_seal", c.field())) {
            put = put.item("seal", v.clone());
        }
        put.send().await.map_err(unavailable(format!(
            "keep the clean-up key of account {id}"
        )))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl HookStore for DynamoStore {
    async fn hooks(&self, id: &AccountId) -> Result<Option<HookRegistration>, StoreError> {
        self.get_json(id, "HOOKS", "the webhooks").await
    }

    async fn save_hooks(&self, id: &AccountId, hooks: &HookRegistration) -> Result<(), StoreError> {
        self.put_json(id, "HOOKS", hooks, "the webhooks").await
    }

    async fn add_changes(&self, id: &AccountId, changes: &Changes) -> Result<(), StoreError> {
        if changes.everyone || !self.add_marks(id, changes).await? {
            // Past the most people it names: everyone's time is recomputed instead.
            let mut rest = changes.clone();
            rest.people.clear();
            self.add_marks(id, &rest).await?;
            self.db
                .update_item()
                .table_name(&self.table)
                .key("pk", pk(id))
                .key("sk", s("CHANGES"))
                .update_expression("SET everyone = :t REMOVE people")
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .send()
                .await
                .map_err(unavailable(format!("mark the changes of account {id}")))?;
        }
        Ok(())
    }

    async fn claim_changes_job(
        &self,
        id: &AccountId,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CHANGES"))
            .update_expression("SET queued_at = :now")
            .condition_expression("attribute_not_exists(queued_at) OR queued_at < :stale")
            .expression_attribute_values(":now", millis(now))
            .expression_attribute_values(":stale", millis(stale_before))
            .send()
            .await;
        applied(result, format!("claim the changes job of account {id}"))
    }

    async fn release_changes_job(
        &self,
        id: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CHANGES"))
            .update_expression("REMOVE queued_at")
            .condition_expression("queued_at = :at")
            .expression_attribute_values(":at", millis(at))
            .send()
            .await;
        applied(result, format!("release the changes job of account {id}")).map(|_| ())
    }

    async fn take_changes(&self, id: &AccountId) -> Result<Changes, StoreError> {
        let out = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CHANGES"))
            .update_expression("REMOVE people, entities, everyone, first_at, queued_at")
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable(format!("take the changes of account {id}")))?;
        let Some(old) = out.attributes else {
            return Ok(Changes::default());
        };
        Ok(Changes {
            people: set_of(&old, "people")
                .into_iter()
                .map(ClockifyUserId::new)
                .collect(),
            entities: set_of(&old, "entities")
                .iter()
                .filter_map(|k| EntityKind::parse(k))
                .collect(),
            everyone: old
                .get("everyone")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            first_at: num(&old, "first_at").and_then(DateTime::from_timestamp_millis),
        })
    }

    async fn brought_in(&self, id: &AccountId) -> Result<ChangesBroughtIn, StoreError> {
        Ok(self
            .get_json(id, "CHANGESIN", "the changes brought in")
            .await?
            .unwrap_or_default())
    }

    async fn save_brought_in(
        &self,
        id: &AccountId,
        brought_in: &ChangesBroughtIn,
    ) -> Result<(), StoreError> {
        self.put_json(id, "CHANGESIN", brought_in, "the changes brought in")
            .await
    }

    async fn hook_budget_used(&self, id: &AccountId, hour: i64) -> Result<u64, StoreError> {
        let item = self.item(id, "HOOKBUDGET", "the webhook budget").await?;
        Ok(match item {
            Some(i) if num(&i, "hour") == Some(hour) => num(&i, "used").unwrap_or(0) as u64,
            _ => 0,
        })
    }

    async fn spend_hook_budget(
        &self,
        id: &AccountId,
        hour: i64,
        spent: u64,
    ) -> Result<(), StoreError> {
        let what = format!("spend the webhook budget of account {id}");
        // The hour's counter, or (a new hour) a fresh one: two conditional updates, so
        // two runs at the turn of the hour never lose each other's spending.
        let steps = [
            ("ADD #u :n", "#h = :h"),
            (
                "SET #h = :h, #u = :n",
                "attribute_not_exists(#h) OR #h < :h",
            ),
        ];
        for _ in 0..3 {
            for (update, condition) in steps {
                let result = self
                    .db
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", pk(id))
                    .key("sk", s("HOOKBUDGET"))
                    .update_expression(update)
                    .condition_expression(condition)
                    .expression_attribute_names("#h", "hour")
                    .expression_attribute_names("#u", "used")
                    .expression_attribute_values(":h", n(hour))
                    .expression_attribute_values(":n", n(spent as i64))
                    .send()
                    .await;
                if applied(result, what.clone())? {
                    return Ok(());
                }
            }
        }
        Err(StoreError::Unavailable {
            operation: what,
            reason: "the budget kept changing".into(),
        })
    }

    async fn cleanup_key(&self, id: &AccountId) -> Result<Option<CleanupKey>, StoreError> {
        let Some(item) = self.item(id, "CLEANUP", "the clean-up key").await? else {
            return Ok(None);
        };
        let due = num(&item, "due")
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or_default();
        let settings: AccountSettings = json(text(&item, "settings")?, "settings")?;
        let version = match num(&item, "seal").unwrap_or(0) {
            0 => 1,
            v => v as u64,
        };
        let context = SealContext::for_version(version, Credential::ClockifyApiKey, &settings);
        match self.sealer.open(&context, bytes(&item, "key")?).await? {
            Opened::Secret(key) => Ok(Some(CleanupKey {
                key,
                due,
                clockify_host: settings.clockify_host,
                workspace: settings.clockify_workspace,
            })),
            Opened::WrongContext => Err(StoreError::Rebound(Credential::ClockifyApiKey)),
        }
    }

    async fn delete_cleanup_key(&self, id: &AccountId) -> Result<(), StoreError> {
        self.delete_item(id, "CLEANUP", "the clean-up key").await
    }

    async fn cleanup_accounts(&self) -> Result<Vec<AccountId>, StoreError> {
        let mut ids = vec![];
        let mut start = None;
        // Bounded like every paged read: 1,000 pages of keys.
        for _ in 0..1000 {
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .index_name(super::ENABLED_INDEX)
                .key_condition_expression("gsi1pk = :c")
                .expression_attribute_values(":c", s("CLEANUP"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("list the clean-up keys"))?;
            for item in out.items() {
                match text(item, "gsi1sk").map(AccountId::parse) {
                    Ok(Ok(id)) => ids.push(id),
                    _ => {
                        tracing::warn!(key = %super::key_of(item), "a clean-up item that names no account; left out")
                    }
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(ids)
    }

    async fn expire_cleanup_key(
        &self,
        id: &AccountId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .db
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CLEANUP"))
            .condition_expression("due < :now")
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        applied(result, format!("expire the clean-up key of account {id}"))
    }
}
