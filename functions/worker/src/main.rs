//! Started by SQS: runs the import of each message's account, reporting the messages to
//! retry (`ReportBatchItemFailures`) so one bad account never fails the others.

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
    let queue = Arc::new(shared::aws::queue_from_env(&cfg)?);
    let worker = Arc::new(WorkerConfig {
        emit_metrics: true,
        ..WorkerConfig::default()
    });
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (store, queue, worker) = (store.clone(), queue.clone(), worker.clone());
        async move { handler::handle(store.as_ref(), queue.as_ref(), &worker, event).await }
    }))
    .await
}
