//! Started by SQS (the job queue and the webhook queue): runs each message's job,
//! reporting the messages to retry (`ReportBatchItemFailures`) so one bad account never
//! fails the others. `PUBLIC_API_URL` is where Clockify delivers webhooks.

mod handler;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::jobs::WorkerConfig;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_lambda_logging();
    let cfg = shared::aws::config().await;
    let store = Arc::new(shared::aws::store_from_env(&cfg).await?);
    // Webhook jobs go to their own queue (HOOK_QUEUE_URL); the rest to QUEUE_URL.
    let queue = Arc::new(shared::aws::queues_from_env(&cfg)?);
    let worker = Arc::new(WorkerConfig {
        emit_metrics: true,
        public_api_url: std::env::var("PUBLIC_API_URL")
            .ok()
            .filter(|u| !u.trim().is_empty()),
        ..WorkerConfig::default()
    });
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (store, queue, worker) = (store.clone(), queue.clone(), worker.clone());
        async move { handler::handle(store.as_ref(), queue.as_ref(), &worker, event).await }
    }))
    .await
}
