//! Behind API Gateway (HTTP API): the endpoints Runn's backend calls — "Save & Run", the
//! import buttons, the previews, the status, turning the integration off, and, for an
//! existing Runn customer, the link suggestions, the links and the removals. The contract is
//! `infra/api.yaml`; every answer is checked against it by the tests. Every request is
//! signed (`shared::signature`); the signature binds the method, the path (so the
//! account) and the body, so no request for one account can read or change another.

mod app;
mod auth;
mod imports;
mod integration;
mod kinds;
mod links;
mod merge;
mod path;
mod pending;
mod previews;
mod reply;
mod status;
mod webhook;

#[cfg(test)]
mod tests;

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init_lambda_logging();
    // Clients are built here, once; nothing is read over the network until a request
    // needs it (the signing secret on the first one).
    let cfg = shared::aws::config().await;
    let api = Arc::new(app::Api {
        store: Arc::new(shared::aws::store_from_env(&cfg).await?),
        // Webhook jobs go to their own queue (HOOK_QUEUE_URL); the rest to QUEUE_URL.
        queue: Arc::new(shared::aws::queues_from_env(&cfg)?),
        key: Arc::new(shared::signing_key::SecretsManagerKey::new(
            aws_sdk_secretsmanager::Client::new(&cfg),
            shared::aws::env("SIGNING_SECRET_ARN")?,
        )),
        hosts: shared::hosts::HostPolicy::from_env(),
        resolver: Arc::new(shared::hosts::SystemResolver),
        check_time: app::CHECK_TIME,
    });
    lambda_http::run(app::router(api)).await
}
