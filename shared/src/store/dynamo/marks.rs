//! Short-lived marks of an account: the job queued or running (`PENDING`), and the request
//! signatures already used (`SIGNATURE#<t>#<v1>`). Each is a conditional write with an
//! expiry; DynamoDB's TTL only cleans up (the expiry is checked on every read).

use super::{
    applied, condition_failed, now_epoch, pk, s, text, unavailable, DynamoStore, TTL_ATTRIBUTE,
};
use crate::account::AccountId;
use crate::store::{Pending, PendingJob, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::time::Duration;

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn job_of(item: &HashMap<String, AttributeValue>) -> Option<PendingJob> {
    let expires = item
        .get("expires")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0);
    if expires < now_epoch() {
        return None;
    }
    Some(PendingJob {
        run_id: text(item, "run_id").ok()?.to_owned(),
        received: item
            .get("received")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
    })
}

impl DynamoStore {
    pub(super) async fn mark(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError> {
        // A mark that ends between the refused put and its read: put once more.
        match self.try_mark(id, run_id, ttl).await? {
            Some(p) => Ok(p),
            None => self
                .try_mark(id, run_id, ttl)
                .await?
                .ok_or_else(|| StoreError::Unavailable {
                    operation: format!("mark a job of account {id}"),
                    reason: "the mark kept changing".into(),
                }),
        }
    }

    /// `None` when the mark was another job's but is gone when read.
    async fn try_mark(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Option<Pending>, StoreError> {
        let now = now_epoch();
        let until = now + ttl.as_secs() as i64;
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(id))
            .item("sk", s("PENDING"))
            .item("run_id", s(run_id))
            .item("received", AttributeValue::Bool(false))
            .item("expires", n(until))
            .item(TTL_ATTRIBUTE, n(until))
            .condition_expression("attribute_not_exists(pk) OR expires < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Pending::Marked)),
            Err(e) if condition_failed(&e) => {
                let item = self.item(id, "PENDING", "the pending job").await?;
                Ok(item.as_ref().and_then(job_of).map(Pending::Already))
            }
            Err(e) => Err(unavailable(format!("mark a job of account {id}"))(e)),
        }
    }

    /// Sets the mark's run, expiry and `received`, if it is still `of`'s.
    pub(super) async fn move_mark(
        &self,
        id: &AccountId,
        of: &str,
        to: &str,
        received: bool,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let until = now_epoch() + ttl.as_secs() as i64;
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("PENDING"))
            .update_expression("SET run_id = :to, received = :got, expires = :u, expires_at = :u")
            .condition_expression("run_id = :of")
            .expression_attribute_values(":of", s(of))
            .expression_attribute_values(":to", s(to))
            .expression_attribute_values(":got", AttributeValue::Bool(received))
            .expression_attribute_values(":u", n(until))
            .send()
            .await;
        applied(result, format!("move the pending mark of account {id}"))
    }

    pub(super) async fn pending_job(
        &self,
        id: &AccountId,
    ) -> Result<Option<PendingJob>, StoreError> {
        Ok(self
            .item(id, "PENDING", "the pending job")
            .await?
            .as_ref()
            .and_then(job_of))
    }

    pub(super) async fn clear_mark(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError> {
        let result = self
            .db
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("PENDING"))
            .condition_expression("run_id = :r")
            .expression_attribute_values(":r", s(run_id))
            .send()
            .await;
        applied(result, format!("clear the pending job of account {id}")).map(|_| ())
    }

    pub(super) async fn record_signature(
        &self,
        id: &AccountId,
        signature: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(id))
            .item("sk", s(format!("SIGNATURE#{signature}")))
            .item(TTL_ATTRIBUTE, n(until))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now_epoch()))
            .send()
            .await;
        applied(
            result,
            format!("record a request signature of account {id}"),
        )
    }
}
