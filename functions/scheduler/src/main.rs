//! Started by the daily EventBridge rule: queues one import job per enabled account.
//! Started hourly with `{"sweep": "cleanup"}`: deletes the Clockify keys kept for a
//! webhook clean-up that did not run within its hour.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_lambda_logging();
    let cfg = shared::aws::config().await;
    let store = Arc::new(shared::aws::store_without_secrets(&cfg)?);
    let queue = Arc::new(shared::aws::queue_from_env(&cfg)?);
    run(service_fn(
        move |event: LambdaEvent<handler::ScheduledEvent>| {
            let (store, queue) = (store.clone(), queue.clone());
            async move { handler::handle(store.as_ref(), queue.as_ref(), event).await }
        },
    ))
    .await
}
