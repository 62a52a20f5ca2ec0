//! Where links came from: one item per record the integration created
//! (`CREATED#<kind>#<runn id>`), one per decision on a suggestion
//! (`LINK#<kind>#<clockify id>`), and a suggestions run's pages
//! (`SUGGEST#<run id>#<page>`, expiring with the run's record).

use super::{json, now_epoch, pk, s, text, unavailable, DynamoStore, TTL_ATTRIBUTE};
use crate::account::AccountId;
use crate::model::links::{CreatedRecord, LinkDecision, Suggestion};
use crate::store::{OriginStore, StoreError, RUN_RETENTION, SUGGESTION_PAGE};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// DynamoDB's most items in one batch write.
const BATCH: usize = 25;

impl DynamoStore {
    /// Puts items 25 a call, sending again what DynamoDB hands back unprocessed.
    async fn put_all(
        &self,
        id: &AccountId,
        items: Vec<Item>,
        what: &str,
    ) -> Result<(), StoreError> {
        for chunk in items.chunks(BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0.. {
                let out = self
                    .db
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable(format!("save {what} of account {id}")))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt >= 5 {
                    return Err(StoreError::Unavailable {
                        operation: format!("save {what} of account {id}"),
                        reason: "DynamoDB kept items unprocessed".into(),
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
        }
        Ok(())
    }

    /// Every item of the account whose sort key starts with `prefix`.
    async fn items_under(
        &self,
        id: &AccountId,
        prefix: &str,
        what: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = vec![];
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", pk(id))
                .expression_attribute_values(":p", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable(format!("read {what} of account {id}")))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn json_item(
        id: &AccountId,
        sk: String,
        value: &impl serde::Serialize,
    ) -> Result<Item, StoreError> {
        let raw = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(HashMap::from([
            ("pk".to_owned(), pk(id)),
            ("sk".to_owned(), s(sk)),
            ("data".to_owned(), s(raw)),
        ]))
    }
}

#[async_trait::async_trait]
impl OriginStore for DynamoStore {
    async fn record_created(
        &self,
        id: &AccountId,
        created: &[CreatedRecord],
    ) -> Result<(), StoreError> {
        let items = created
            .iter()
            .map(|c| Self::json_item(id, format!("CREATED#{}#{}", c.kind.label(), c.runn_id), c))
            .collect::<Result<Vec<_>, _>>()?;
        self.put_all(id, items, "the record of creates").await
    }

    async fn created(&self, id: &AccountId) -> Result<Vec<CreatedRecord>, StoreError> {
        self.items_under(id, "CREATED#", "the record of creates")
            .await?
            .iter()
            .map(|i| json(text(i, "data")?, "a record of a create"))
            .collect()
    }

    async fn record_decisions(
        &self,
        id: &AccountId,
        decisions: &[LinkDecision],
    ) -> Result<(), StoreError> {
        let items = decisions
            .iter()
            .map(|d| Self::json_item(id, format!("LINK#{}#{}", d.kind.label(), d.clockify_id), d))
            .collect::<Result<Vec<_>, _>>()?;
        self.put_all(id, items, "the link decisions").await
    }

    async fn decisions(&self, id: &AccountId) -> Result<Vec<LinkDecision>, StoreError> {
        self.items_under(id, "LINK#", "the link decisions")
            .await?
            .iter()
            .map(|i| json(text(i, "data")?, "a link decision"))
            .collect()
    }

    async fn save_suggestions(
        &self,
        id: &AccountId,
        run_id: &str,
        suggestions: &[Suggestion],
    ) -> Result<(), StoreError> {
        let expires = now_epoch() + RUN_RETENTION.as_secs() as i64;
        let pages: Vec<&[Suggestion]> = if suggestions.is_empty() {
            vec![&[]]
        } else {
            suggestions.chunks(SUGGESTION_PAGE).collect()
        };
        let last = pages.len() - 1;
        let items = pages
            .iter()
            .enumerate()
            .map(|(n, page)| {
                let mut item = Self::json_item(id, format!("SUGGEST#{run_id}#{n:06}"), page)?;
                item.insert("more".into(), AttributeValue::Bool(n < last));
                item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(expires.to_string()));
                Ok(item)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.put_all(id, items, "the suggestions").await
    }

    async fn suggestions(
        &self,
        id: &AccountId,
        run_id: &str,
        page: u32,
    ) -> Result<Option<(Vec<Suggestion>, bool)>, StoreError> {
        let sk = format!("SUGGEST#{run_id}#{page:06}");
        let Some(item) = self.item(id, &sk, "the suggestions").await? else {
            return Ok(None);
        };
        let more = item
            .get("more")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false);
        Ok(Some((json(text(&item, "data")?, "the suggestions")?, more)))
    }
}
