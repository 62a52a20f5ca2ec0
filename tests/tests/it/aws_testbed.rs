//! The local AWS test bed: DynamoDB and SQS answer over their real protocols (moto in
//! server mode, reached through AWS_ENDPOINT_URL, as `make test` sets up). Each test
//! makes its own uniquely named table or queue, so none depends on another's leftovers.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use sims::testkit::{local_aws, unique};

#[tokio::test]
async fn dynamodb_conditional_writes_work_against_the_emulator() {
    let db = aws_sdk_dynamodb::Client::new(&local_aws().await);
    let table = unique("testbed");
    db.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let put = || {
        db.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("lease#acct-1".into()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
    };
    put().await.unwrap();
    let second = put().await;
    assert!(
        second.is_err(),
        "the condition holds: a second holder is refused"
    );
    let got = db
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("lease#acct-1".into()))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_some());
    db.delete_table().table_name(&table).send().await.unwrap();
}

#[tokio::test]
async fn sqs_batches_of_ten_round_trip_through_the_emulator() {
    let sqs = aws_sdk_sqs::Client::new(&local_aws().await);
    let queue = sqs
        .create_queue()
        .queue_name(unique("testbed"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let entries: Vec<_> = (0..10)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(format!("{{\"n\":{i}}}"))
                .build()
                .unwrap()
        })
        .collect();
    let sent = sqs
        .send_message_batch()
        .queue_url(&queue)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.successful().len(), 10);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            seen.insert(m.body().unwrap().to_owned());
            sqs.delete_message()
                .queue_url(&queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if seen.len() == 10 {
            break;
        }
    }
    assert_eq!(seen.len(), 10);
    sqs.delete_queue().queue_url(&queue).send().await.unwrap();
}
