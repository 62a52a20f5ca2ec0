//! Building the AWS-backed store and queue from the environment, once per process.

use crate::queue::SqsQueue;
use crate::store::{DynamoStore, KmsSealer};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingEnv(pub &'static str);

pub fn env(name: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(MissingEnv(name))
}

/// `TABLE_NAME` and `KMS_KEY_ID` name the table and the key; the endpoint, region and
/// credentials come from the usual AWS settings (`AWS_ENDPOINT_URL` for an emulator).
pub async fn store_from_env(cfg: &aws_config::SdkConfig) -> Result<DynamoStore, MissingEnv> {
    let sealer = KmsSealer::new(aws_sdk_kms::Client::new(cfg), env("KMS_KEY_ID")?);
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(cfg),
        env("TABLE_NAME")?,
        Arc::new(sealer),
    ))
}

/// The store for a function that never seals nor opens a secret (the scheduler and the
/// autofill fan-out): `TABLE_NAME` only, and no KMS rights needed.
pub fn store_without_secrets(cfg: &aws_config::SdkConfig) -> Result<DynamoStore, MissingEnv> {
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(cfg),
        env("TABLE_NAME")?,
        Arc::new(crate::store::NoSecrets),
    ))
}

/// `QUEUE_URL` names the import job queue.
pub fn queue_from_env(cfg: &aws_config::SdkConfig) -> Result<SqsQueue, MissingEnv> {
    Ok(SqsQueue::new(
        aws_sdk_sqs::Client::new(cfg),
        env("QUEUE_URL")?,
    ))
}

/// The job queue (`QUEUE_URL`) and, when `HOOK_QUEUE_URL` is set, the webhook queue.
pub fn queues_from_env(cfg: &aws_config::SdkConfig) -> Result<crate::queue::Routed, MissingEnv> {
    let jobs = std::sync::Arc::new(queue_from_env(cfg)?);
    let hooks = std::env::var("HOOK_QUEUE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|url| {
            std::sync::Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(cfg), url))
                as std::sync::Arc<dyn crate::queue::Queue>
        });
    Ok(crate::queue::Routed { jobs, hooks })
}

pub async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
