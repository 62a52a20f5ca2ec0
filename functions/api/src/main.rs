//! Behind API Gateway (HTTP API): the endpoints Runn's backend calls — "Save & Run", the
//! import buttons, the status, turning the integration off. See `infra/api.yaml`.

mod handler;
mod merge;

use lambda_http::{run, service_fn, Error, Request};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_lambda_logging();
    // Clients are built here, once; nothing is read over the network until a request
    // needs it (the signing secret on the first one).
    let cfg = shared::aws::config().await;
    let api = Arc::new(handler::Api {
        store: Arc::new(shared::aws::store_from_env(&cfg).await?),
        queue: Arc::new(shared::aws::queue_from_env(&cfg)?),
        key: Arc::new(shared::signing_key::SecretsManagerKey::new(
            aws_sdk_secretsmanager::Client::new(&cfg),
            shared::aws::env("SIGNING_SECRET_ARN")?,
        )),
        hosts: shared::hosts::HostPolicy::from_env(),
        resolver: Arc::new(shared::hosts::SystemResolver),
        check_time: handler::CHECK_TIME,
    });
    run(service_fn(move |req: Request| {
        let api = api.clone();
        async move { handler::handle(&api, req).await }
    }))
    .await
}
