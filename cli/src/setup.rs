//! Creates what the SAM template creates in AWS — the table, the key, the job queue and
//! its dead-letter queue — on a local emulator, for the demo and for trying things out.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;

/// Receives before a job goes to the dead-letter queue (as in infra/template.yaml).
const MAX_RECEIVES: u32 = 5;

pub async fn run(
    aws: &aws_config::SdkConfig,
    prefix: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err(
            "setup only creates resources on a local emulator (set AWS_ENDPOINT_URL); \
                    in AWS they come from infra/template.yaml"
                .into(),
        );
    }
    let table = format!("{prefix}-accounts");
    let db = aws_sdk_dynamodb::Client::new(aws);
    shared::store::create_table(&db, &table).await?;

    let kms = aws_sdk_kms::Client::new(aws);
    let key = kms
        .create_key()
        .description(format!("{prefix}: seals integration credentials"))
        .send()
        .await
        .map_err(|e| format!("creating the key: {}", DisplayErrorContext(e)))?;
    let key_id = key
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or("the emulator returned no key id")?;

    let sqs = aws_sdk_sqs::Client::new(aws);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{prefix}-jobs-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| format!("creating the dead-letter queue: {}", DisplayErrorContext(e)))?;
    let dlq_url = dlq.queue_url().ok_or("no dead-letter queue url")?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("reading the dead-letter queue: {}", DisplayErrorContext(e)))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no dead-letter queue arn")?;
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES});
    let jobs = sqs
        .create_queue()
        .queue_name(format!("{prefix}-jobs"))
        // A worker run lasts at most 15 minutes; a job is not handed out twice meanwhile.
        .attributes(QueueAttributeName::VisibilityTimeout, "960")
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| format!("creating the job queue: {}", DisplayErrorContext(e)))?;
    let url = jobs.queue_url().ok_or("no job queue url")?;
    println!("export TABLE_NAME={table}");
    println!("export KMS_KEY_ID={key_id}");
    println!("export QUEUE_URL={url}");
    Ok(())
}
