//! Started by the weekly schedule (Monday 12:00 UTC, when Sunday is over everywhere):
//! queues one zero-hour autofill job per account with autofill on; the worker runs them.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_lambda_logging();
    let cfg = shared::aws::config().await;
    let store = Arc::new(shared::aws::store_without_secrets(&cfg)?);
    let queue = Arc::new(shared::aws::queue_from_env(&cfg)?);
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (store, queue) = (store.clone(), queue.clone());
        async move { handler::handle(store.as_ref(), queue.as_ref(), event).await }
    }))
    .await
}
