use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use shared::jobs::{work, Message, WorkerConfig};
use shared::queue::Queue;
use shared::store::roles::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Lambda's deadline is Unix epoch milliseconds (always above 10^12 today); local
/// runtime emulators (cargo lambda) send the time limit itself instead. Either way, how
/// long the invocation has left.
fn time_left(deadline_ms: u64, now_ms: u64) -> Duration {
    const EPOCH_2001_MS: u64 = 1_000_000_000_000;
    if deadline_ms < EPOCH_2001_MS {
        Duration::from_millis(deadline_ms)
    } else {
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    }
}

/// The invocation's deadline as an `Instant`.
fn deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + time_left(deadline_ms, now_ms)
}

/// A message Lambda should hand back to the queue.
fn retry(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

/// Runs each message's job in turn; messages to retry come back as batch item failures.
pub async fn handle(
    store: &dyn Store,
    queue: &dyn Queue,
    cfg: &WorkerConfig,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let until = deadline(event.context.deadline);
    let messages = event.payload.records.into_iter().map(|r| Message {
        id: r.message_id.unwrap_or_default(),
        body: r.body,
    });
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = work(store, queue, cfg, until, messages)
        .await
        .into_iter()
        .map(retry)
        .collect();
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_read_as_epoch_milliseconds_or_an_emulators_time_limit() {
        let now = 1_795_845_227_369;
        assert_eq!(time_left(now + 900_000, now), Duration::from_secs(900));
        assert_eq!(time_left(now - 5, now), Duration::ZERO);
        assert_eq!(time_left(600_000, now), Duration::from_secs(600));
    }
    use aws_lambda_events::event::sqs::SqsMessage;
    use lambda_runtime::Context;
    use shared::queue::MemoryQueue;
    use shared::store::MemoryStore;
    use sims::common::Faults;
    use sims::testkit::{demo_account, job, quick_worker};
    use sims::{
        clockify::ClockifySim,
        demo,
        runn::{RunnData, RunnSim},
        testkit,
    };

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m
    }

    fn body(account: &str) -> String {
        serde_json::to_string(&job(account, "run-1")).unwrap()
    }

    #[tokio::test]
    async fn one_bad_message_or_account_never_fails_the_others() {
        let clockify = ClockifySim::new(demo::data());
        let c = clockify.spawn().await.unwrap();
        let healthy = RunnSim::new(RunnData::new([testkit::RUNN_TOKEN]));
        let h = healthy.spawn().await.unwrap();
        let down = RunnSim::new(RunnData::new([testkit::RUNN_TOKEN]));
        down.ctl.set_faults(Faults {
            error_rate: 1.0,
            ..Default::default()
        });
        let d = down.spawn().await.unwrap();

        let store = MemoryStore::default();
        for (id, runn, token) in [
            ("good", &h, testkit::RUNN_TOKEN),
            ("down", &d, testkit::RUNN_TOKEN),
            ("revoked", &h, "LIVE_revoked"),
        ] {
            store
                .put_account(&demo_account(id, &c, runn, token))
                .await
                .unwrap();
        }
        let cfg = quick_worker();
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m-good", &body("good")),
            message("m-garbage", "{not a job"),
            message("m-down", &body("down")),
            message("m-revoked", &body("revoked")),
            message("m-unknown", &body("nobody")),
        ];
        let mut ctx = Context::default();
        ctx.deadline = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 600_000) as u64;
        let queue = MemoryQueue::default();
        let out = handle(&store, &queue, &cfg, LambdaEvent::new(event, ctx))
            .await
            .unwrap();
        let failed: Vec<&str> = out
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        // Retried: the unreadable message (to reach the dead-letter queue) and the outage.
        // Not retried: the imported account, the revoked one (disabled), the unknown one.
        assert_eq!(failed, ["m-garbage", "m-down"]);
        assert_eq!(healthy.data.lock().unwrap().people.len(), 5);
        assert!(
            !store
                .settings(&shared::account::AccountId::parse("revoked").unwrap())
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
    }
}
