use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use shared::jobs::{fan_out, new_run_id};
use shared::queue::Queue;
use shared::store::Store;

pub type ScheduledEvent = EventBridgeEvent<Value>;

/// Queues the day's imports; the EventBridge event id becomes the run id, so a retried
/// invocation of the same event is recognisable in every account's status.
pub async fn handle(
    store: &dyn Store,
    queue: &dyn Queue,
    event: LambdaEvent<ScheduledEvent>,
) -> Result<Value, Error> {
    let run_id = event
        .payload
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(new_run_id);
    let span = tracing::info_span!("scheduler", run_id = %run_id);
    let _enter = span.enter();
    let queued = fan_out(store, queue, &run_id).await?;
    Ok(json!({ "run_id": run_id, "queued": queued }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use secrecy::SecretString;
    use shared::account::{Account, AccountId, AccountSettings, AccountSwitches};
    use shared::clockify::ClockifyHost;
    use shared::ids::WorkspaceId;
    use shared::queue::MemoryQueue;
    use shared::runn::RunnHost;
    use shared::store::MemoryStore;

    fn account(i: usize, enabled: bool) -> Account {
        Account {
            settings: AccountSettings {
                id: AccountId::parse(&format!("a{i:04}")).unwrap(),
                runn_account: "x".into(),
                runn_host: RunnHost::Eu,
                clockify_host: ClockifyHost::Global,
                clockify_reports_url: None,
                clockify_workspace: WorkspaceId::new("ws"),
                switches: AccountSwitches {
                    clients_and_projects: true,
                    people: true,
                    actuals: false,
                },
                autofill: true,
                time_zone: chrono_tz::UTC,
                enabled,
            },
            runn_token: SecretString::from("t"),
            clockify_api_key: SecretString::from("k"),
        }
    }

    #[tokio::test]
    async fn queues_every_enabled_account_once_under_the_events_id() {
        let store = MemoryStore::default();
        for i in 0..250 {
            store.put_account(&account(i, i % 5 != 0)).await.unwrap();
        }
        let queue = MemoryQueue::default();
        let mut event: ScheduledEvent = serde_json::from_value(json!({
            "version": "0", "id": "evt-123", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T02:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": {}
        }))
        .unwrap();
        event.id = Some("evt-123".into());
        let out = handle(&store, &queue, LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        assert_eq!(out["queued"], 200);
        let sent = queue.sent.lock().unwrap();
        let ids: std::collections::HashSet<_> = sent.iter().map(|j| j.account.clone()).collect();
        assert_eq!((sent.len(), ids.len()), (200, 200));
        assert!(sent.iter().all(|j| j.run_id == "evt-123"));
    }
}
