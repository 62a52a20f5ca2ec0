//! Creates what the SAM template creates in AWS — the table, the key, the job queue and
//! the webhook queue with their dead-letter queues, the API's signing secret — on a local
//! emulator, for the demo and for trying things out. Run again, it reports what exists and
//! reuses it.

use aws_sdk_sqs::types::QueueAttributeName;
use shared::queue::{MAX_RECEIVES, VISIBILITY_TIMEOUT, WORKER_TIMEOUT};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// A service error as one line: its code and message (the SDK's Debug dump goes to the
/// log at debug level).
fn brief<E, R>(what: &str, e: aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    tracing::debug!(error = ?e, "{what} failed");
    match e.as_service_error() {
        Some(s) => format!(
            "{what}: {} ({})",
            s.message().unwrap_or("refused"),
            s.code().unwrap_or("error")
        ),
        None => format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)),
    }
}

pub async fn run(aws: &aws_config::SdkConfig, prefix: &str) -> Fallible<()> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err(
            "setup only creates resources on a local emulator (set AWS_ENDPOINT_URL); \
                    in AWS they come from infra/template.yaml"
                .into(),
        );
    }
    let table = table(aws, &format!("{prefix}-accounts")).await?;
    let key_id = key(aws, prefix).await?;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let url = with_dead_letters(&sqs, &format!("{prefix}-jobs"), VISIBILITY_TIMEOUT).await?;
    // The webhook jobs' queue (registrations, clean-ups, the debounced changes): as the
    // template's HookQueue, its visibility timeout is the worker's timeout.
    let hooks = with_dead_letters(&sqs, &format!("{prefix}-hooks"), WORKER_TIMEOUT).await?;
    let secret = signing_secret(aws, &format!("{prefix}-signing")).await?;
    println!("export TABLE_NAME={table}");
    println!("export KMS_KEY_ID={key_id}");
    println!("export QUEUE_URL={url}");
    println!("export HOOK_QUEUE_URL={hooks}");
    println!("export SIGNING_SECRET_ARN={secret}");
    Ok(())
}

/// The secret Runn's backend signs API requests with: 48 random letters and digits, as the
/// template's `GenerateSecretString` makes it.
async fn signing_secret(aws: &aws_config::SdkConfig, name: &str) -> Fallible<String> {
    use rand::distributions::{Alphanumeric, DistString};
    let sm = aws_sdk_secretsmanager::Client::new(aws);
    match sm.describe_secret().secret_id(name).send().await {
        Ok(found) => {
            eprintln!("Signing secret {name} exists; reused.");
            return Ok(found.arn().unwrap_or(name).to_owned());
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => {
            return Err(format!(
                "reading the signing secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
            .into())
        }
    }
    let value = Alphanumeric.sample_string(&mut rand::thread_rng(), 48);
    let created = sm
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| {
            format!(
                "creating the signing secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    eprintln!("Signing secret {name} created.");
    Ok(created.arn().unwrap_or(name).to_owned())
}

async fn table(aws: &aws_config::SdkConfig, table: &str) -> Fallible<String> {
    let db = aws_sdk_dynamodb::Client::new(aws);
    match db.describe_table().table_name(table).send().await {
        Ok(_) => eprintln!("Table {table} exists; reused."),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            shared::store::create_table(&db, table).await?;
            eprintln!("Table {table} created.");
        }
        Err(e) => return Err(brief("reading the table", e).into()),
    }
    Ok(table.to_owned())
}

/// The key, found by its alias so a second setup reuses it.
async fn key(aws: &aws_config::SdkConfig, prefix: &str) -> Fallible<String> {
    let kms = aws_sdk_kms::Client::new(aws);
    let alias = format!("alias/{prefix}-credentials");
    match kms.describe_key().key_id(&alias).send().await {
        Ok(found) => {
            let id = found
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .ok_or("the emulator returned no key id")?;
            eprintln!("Key {alias} exists; reused.");
            return Ok(id);
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) => {}
        Err(e) => return Err(brief("reading the key", e).into()),
    }
    let key = kms
        .create_key()
        .description(format!("{prefix}: seals integration credentials"))
        .send()
        .await
        .map_err(|e| brief("creating the key", e))?;
    let id = key
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or("the emulator returned no key id")?;
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&id)
        .send()
        .await
        .map_err(|e| brief("naming the key", e))?;
    eprintln!("Key {alias} created.");
    Ok(id)
}

/// A queue by name: reused with its attributes brought in line, or created.
async fn queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Fallible<String> {
    match sqs.get_queue_url().queue_name(name).send().await {
        Ok(found) => {
            let url = found.queue_url().ok_or("no queue url")?.to_owned();
            let mut set = sqs.set_queue_attributes().queue_url(&url);
            for (k, v) in attributes {
                set = set.attributes(k.clone(), v);
            }
            set.send()
                .await
                .map_err(|e| brief("updating the queue", e))?;
            eprintln!("Queue {name} exists; reused.");
            Ok(url)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            let mut create = sqs.create_queue().queue_name(name);
            for (k, v) in attributes {
                create = create.attributes(k.clone(), v);
            }
            let out = create
                .send()
                .await
                .map_err(|e| brief("creating the queue", e))?;
            eprintln!("Queue {name} created.");
            Ok(out.queue_url().ok_or("no queue url")?.to_owned())
        }
        Err(e) => Err(brief("reading the queue", e).into()),
    }
}

/// The queue `name` and its dead-letter queue `{name}-dlq` (kept 14 days), which takes a
/// message after `MAX_RECEIVES` receives.
async fn with_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility: std::time::Duration,
) -> Fallible<String> {
    let dlq_url = queue(
        sqs,
        &format!("{name}-dlq"),
        &[(QueueAttributeName::MessageRetentionPeriod, "1209600".into())],
    )
    .await?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| brief("reading the dead-letter queue", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no dead-letter queue arn")?;
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES});
    queue(
        sqs,
        name,
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                visibility.as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await
}
