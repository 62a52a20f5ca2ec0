use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use shared::jobs::{fan_out, scheduled_run_id};
use shared::queue::Queue;
use shared::store::roles::*;

/// Whatever the schedule delivers: a classic EventBridge rule's event, EventBridge
/// Scheduler's envelope (`source` `aws.scheduler`, `detail` the *string* `"{}"`), or a
/// Scheduler `Input` alone. Taken as JSON, so no shape of `detail` can fail the run.
pub type ScheduledEvent = Value;

/// Queues the day's imports under a run id taken from the scheduled time, so a retried
/// attempt of the same schedule is the same run in every account's status.
pub async fn handle(
    store: &dyn Store,
    queue: &dyn Queue,
    event: LambdaEvent<ScheduledEvent>,
) -> Result<Value, Error> {
    if event.payload.get("sweep").is_some() {
        // The hourly schedule: clean-up keys past their hour.
        let expired = shared::jobs::hooks::sweep_cleanup_keys(store).await?;
        return Ok(json!({ "swept": expired }));
    }
    let run_id = scheduled_run_id("daily", &event.payload);
    let span = tracing::info_span!("scheduler", run_id = %run_id);
    let _enter = span.enter();
    let done = fan_out(store, queue, &run_id).await?;
    shared::metrics::emit(&done.emf("scheduler", shared::metrics::now_ms()));
    Ok(json!({ "run_id": run_id, "queued": done.queued, "unreadable": done.unreadable }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use shared::queue::MemoryQueue;
    use shared::store::MemoryStore;
    use sims::testkit::offline_account;

    /// What EventBridge Scheduler sends with no `Input` (a `ScheduleV2` event in SAM):
    /// `detail` is a string.
    fn scheduler_envelope(time: &str, attempt_id: &str) -> Value {
        json!({
            "version": "0", "id": attempt_id, "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "123456789012", "time": time,
            "region": "eu-west-1",
            "resources": ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/daily"],
            "detail": "{}"
        })
    }

    async fn run(store: &MemoryStore, payload: Value) -> (Value, MemoryQueue) {
        let queue = MemoryQueue::default();
        let out = handle(store, &queue, LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap();
        (out, queue)
    }

    #[tokio::test]
    async fn queues_every_enabled_account_once_under_the_scheduled_time() {
        let store = MemoryStore::default();
        for i in 0..250 {
            let mut a = offline_account(&format!("a{i:04}"));
            a.settings.enabled = i % 5 != 0;
            store.put_account(&a).await.unwrap();
        }
        let (out, queue) = run(
            &store,
            scheduler_envelope("2026-11-28T02:00:00Z", "attempt-1"),
        )
        .await;
        assert_eq!(out["queued"], 200);
        let sent = queue.sent.lock().unwrap();
        let ids: std::collections::HashSet<_> = sent.iter().map(|j| j.account.clone()).collect();
        assert_eq!((sent.len(), ids.len()), (200, 200));
        assert!(sent.iter().all(|j| j.run_id == "daily-2026-11-28T0200Z"));
    }

    #[tokio::test]
    async fn every_shape_the_schedule_can_deliver_is_taken_and_a_retry_is_the_same_run() {
        let store = MemoryStore::default();
        store.put_account(&offline_account("acme")).await.unwrap();
        let shapes = [
            // EventBridge Scheduler, two attempts of one schedule (ids differ per attempt).
            scheduler_envelope("2026-11-28T02:00:00Z", "a1"),
            scheduler_envelope("2026-11-28T02:00:00Z", "a2"),
            // A classic EventBridge rule: `detail` is an object.
            json!({"version": "0", "id": "evt-1", "detail-type": "Scheduled Event",
                   "source": "aws.events", "account": "123456789012",
                   "time": "2026-11-28T02:00:00Z", "region": "eu-west-1",
                   "resources": [], "detail": {}}),
            // Scheduler with `Input` set: the input alone, as the template sets it.
            json!({"scheduled_time": "2026-11-28T02:00:00Z"}),
        ];
        for payload in shapes {
            let (out, _) = run(&store, payload.clone()).await;
            assert_eq!(out["run_id"], "daily-2026-11-28T0200Z", "{payload}");
            assert_eq!(out["queued"], 1);
        }
        // Nothing to read a time from: still queued, under the current minute.
        for payload in [json!({}), json!(null), json!("{}"), json!({"time": 5})] {
            let (out, _) = run(&store, payload).await;
            assert!(out["run_id"].as_str().unwrap().starts_with("daily-"));
            assert_eq!(out["queued"], 1);
        }
    }
}
