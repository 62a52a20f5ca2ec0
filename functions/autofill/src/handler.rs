use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use shared::jobs::{fan_out_autofill, scheduled_run_id};
use shared::queue::Queue;
use shared::store::roles::*;

/// Queues the week's autofills under a run id taken from the scheduled time (the payload
/// is whatever the schedule delivers; see the scheduler's handler).
pub async fn handle(
    store: &dyn Store,
    queue: &dyn Queue,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let run_id = scheduled_run_id("autofill", &event.payload);
    let span = tracing::info_span!("autofill", run_id = %run_id);
    let _enter = span.enter();
    let done = fan_out_autofill(store, queue, &run_id).await?;
    shared::metrics::emit(&done.emf("autofill", shared::metrics::now_ms()));
    Ok(json!({ "run_id": run_id, "queued": done.queued, "unreadable": done.unreadable }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use shared::queue::{MemoryQueue, Work};
    use shared::store::MemoryStore;
    use sims::testkit::offline_account;

    #[tokio::test]
    async fn queues_an_autofill_for_each_enabled_account_with_autofill_on() {
        let store = MemoryStore::default();
        for (id, enabled, autofill) in [
            ("on", true, true),
            ("off", true, false),
            ("disabled", false, true),
        ] {
            let mut a = offline_account(id);
            a.settings.enabled = enabled;
            a.settings.autofill = autofill;
            store.put_account(&a).await.unwrap();
        }
        let queue = MemoryQueue::default();
        // EventBridge Scheduler's envelope: `detail` is a string.
        let payload = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "123456789012", "time": "2026-11-23T12:00:00Z",
            "region": "eu-west-1", "resources": [], "detail": "{}"});
        let out = handle(
            &store,
            &queue,
            LambdaEvent::new(payload, Context::default()),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            json!({"run_id": "autofill-2026-11-23T1200Z", "queued": 1, "unreadable": 0})
        );
        let sent = queue.sent.lock().unwrap();
        assert_eq!(sent[0].account.as_str(), "on");
        assert_eq!(sent[0].work, Work::Autofill { week: None });
    }
}
