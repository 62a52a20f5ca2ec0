//! The harness's AWS stand-ins: API Gateway's HTTP API in front of the real `api` binary
//! (plain HTTP in, the v2 event to the function, its answer back), and the SQS event
//! source mapping feeding the real `worker` binary from moto's queues. Needs what
//! functions.rs needs (`CARGO_LAMBDA`, moto, the binaries built).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};
use shared::store::roles::*;
use sims::backend::{create_secret, Backend};
use sims::clockify::ClockifySim;
use sims::demo;
use sims::gateway::{serve_gateway, Gateway};
use sims::lambda::Function;
use sims::poller::Poller;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A function that records the events it is sent and answers by the event's path.
async fn fake_function(events: Arc<Mutex<Vec<Value>>>) -> sims::common::Running {
    let invoke = |State(events): State<Arc<Mutex<Vec<Value>>>>, body: String| async move {
        let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        events.lock().unwrap().push(event.clone());
        let answer = match event["rawPath"].as_str().unwrap_or_default() {
            "/echo" => json!({
                "statusCode": 201,
                "headers": {"content-type": "application/octet-stream", "x-one": 1},
                "multiValueHeaders": {"x-many": ["a", "b"]},
                "cookies": ["a=1; Path=/", "b=2"],
                "body": "/wA=",
                "isBase64Encoded": true
            }),
            "/plain" => json!({"hello": "world"}),
            "/bad-status" => json!({"statusCode": 1000}),
            "/error" => {
                let e = json!({"errorType": "Boom", "errorMessage": "boom"});
                return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
            }
            "/garbage" => return (StatusCode::OK, "not json".to_owned()),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                json!({"statusCode": 200})
            }
            _ => json!({"statusCode": 204}),
        };
        (StatusCode::OK, answer.to_string())
    };
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/_/invocations",
            axum::routing::post(invoke),
        )
        .with_state(events);
    sims::common::serve(app, 0).await.unwrap()
}

#[tokio::test]
async fn the_gateway_stand_in_makes_the_v2_event_and_the_http_answer_as_api_gateway_does() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let function = fake_function(events.clone()).await;
    let invoke_url = format!("{}2015-03-31/functions/_/invocations", function.url());
    let gateway = serve_gateway(invoke_url.clone(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}echo?a=1&a=2&b=x%20y", gateway.url()))
        .header("X-Multi", "one")
        .header("x-multi", "two")
        .header("Cookie", "c1=v1; c2=v2")
        .body(vec![0xff, 0xfe])
        .send()
        .await
        .unwrap();

    // The event: lower-cased, comma-joined headers, the cookies apart, the query raw
    // and decoded, a body that is not UTF-8 in base64.
    let event = events.lock().unwrap()[0].clone();
    assert_eq!(
        (&event["version"], &event["routeKey"]),
        (&json!("2.0"), &json!("$default"))
    );
    assert_eq!(
        (&event["rawPath"], &event["rawQueryString"]),
        (&json!("/echo"), &json!("a=1&a=2&b=x%20y"))
    );
    assert_eq!(
        event["queryStringParameters"],
        json!({"a": "1,2", "b": "x y"})
    );
    assert_eq!(event["headers"]["x-multi"], "one,two");
    assert!(event["headers"].get("cookie").is_none(), "{event}");
    assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
    assert_eq!(
        (&event["body"], &event["isBase64Encoded"]),
        (&json!("//4="), &json!(true))
    );
    let ctx = &event["requestContext"];
    assert_eq!(ctx["http"]["method"], "POST");
    assert_eq!(ctx["http"]["path"], "/echo");
    assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(ctx["stage"], "$default");
    assert!(ctx["timeEpoch"].as_i64().unwrap() > 0);

    // The answer: status, headers, multi-value headers, cookies and the decoded body.
    assert_eq!(answer.status(), 201);
    let h = answer.headers();
    assert_eq!(h["x-one"], "1");
    assert_eq!(h.get_all("x-many").iter().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(
        h.get_all("set-cookie").iter().collect::<Vec<_>>(),
        ["a=1; Path=/", "b=2"]
    );
    assert_eq!(h["apigw-requestid"], ctx["requestId"].as_str().unwrap());
    assert_eq!(answer.bytes().await.unwrap().as_ref(), [0xff, 0x00]);

    // A text body stays text; an answer with no statusCode is JSON with 200.
    let plain = http
        .put(format!("{}plain", gateway.url()))
        .body("héllo")
        .send()
        .await
        .unwrap();
    let event = events.lock().unwrap()[1].clone();
    assert_eq!(
        (&event["body"], &event["isBase64Encoded"]),
        (&json!("héllo"), &json!(false))
    );
    assert_eq!(event["requestContext"]["http"]["method"], "PUT");
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.json::<Value>().await.unwrap(),
        json!({"hello": "world"})
    );

    // API Gateway's own answers: an error or unreadable answer, a body over 10 MiB
    // (refused before the function is invoked), and a function too slow.
    for path in ["error", "garbage", "bad-status"] {
        let a = http
            .get(format!("{}{path}", gateway.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), 502, "{path}");
        assert_eq!(
            a.json::<Value>().await.unwrap(),
            json!({"message": "Internal Server Error"})
        );
    }
    let invoked = events.lock().unwrap().len();
    let big = http
        .post(format!("{}echo", gateway.url()))
        .body(vec![b'x'; sims::gateway::MAX_BODY + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(events.lock().unwrap().len(), invoked, "not invoked");
    let mut impatient = Gateway::new(invoke_url);
    impatient.timeout = Duration::from_secs(1);
    let impatient = impatient.serve(0).await.unwrap();
    let slow = http
        .get(format!("{}slow", impatient.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 503);
    assert_eq!(
        slow.json::<Value>().await.unwrap(),
        json!({"message": "Service Unavailable"})
    );
}

/// A plain HTTP answer: status, headers, JSON body.
struct Plain {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(
    http: &reqwest::Client,
    base: &url::Url,
    method: &str,
    path: &str,
    body: &str,
    sig: Option<&str>,
) -> Plain {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http
        .request(
            method,
            format!("{}{}", base.as_str().trim_end_matches('/'), path),
        )
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(sig) = sig {
        request = request.header(shared::signature::HEADER, sig);
    }
    let answer = request.send().await.unwrap();
    let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
    let body = answer.json().await.unwrap_or(Value::Null);
    Plain {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn the_real_api_binary_answers_plain_http_behind_the_gateway_stand_in_as_it_answers_events() {
    let aws = TestAws::new().await;
    let queue_url = aws.queue().await;
    let secret_value = "whsec_gateway_5e1f";
    let secret_arn = create_secret(&aws.config, &unique("signing"), secret_value).await;
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let env = [
        ("TABLE_NAME", aws.table.clone()),
        ("KMS_KEY_ID", aws.key_id.clone()),
        ("QUEUE_URL", queue_url.clone()),
        ("SIGNING_SECRET_ARN", secret_arn),
    ];
    let api = Function::start("api", &env).expect("start the api function");
    let gateway = serve_gateway(api.invoke_url(), 0).await.unwrap();
    let base = gateway.url();
    let backend = Backend::new(api.invoke_url(), shared::SecretString::from(secret_value));
    let http = reqwest::Client::new();
    let sign = |method: &str, path: &str, body: &str| {
        let t = shared::signature::fresh_time();
        shared::signature::sign(&backend.secret, t, method, path, body.as_bytes())
    };

    // Unsigned: the same 401 over HTTP as for the event sent directly.
    let status = "/accounts/northwind/status";
    let direct = backend.call_raw("GET", status, "", None).await;
    let plain = send(&http, &base, "GET", status, "", None).await;
    assert_eq!((plain.status, &plain.body), (401, &direct.body));
    assert_eq!(direct.status, 401);
    assert!(plain.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    // Signed Save & Run over HTTP: accepted and queued, as the direct event is.
    let form = json!({
        "runn_account": "Northwind Agency",
        "runn_host": {"kind": "custom", "url": rr.url()},
        "clockify_host": {"kind": "server", "url": cr.url()},
        "clockify_workspace": demo::WORKSPACE_ID,
        "switches": {"clients_and_projects": true, "people": true, "actuals": false},
        "time_zone": "Europe/London",
        "clockify_api_key": demo::API_KEY,
        "runn_token": RUNN_TOKEN
    })
    .to_string();
    let save = "/accounts/northwind/integration";
    let saved = send(
        &http,
        &base,
        "PUT",
        save,
        &form,
        Some(&sign("PUT", save, &form)),
    )
    .await;
    assert_eq!(saved.status, 202, "{}", saved.body);
    assert_eq!(saved.body["queued"], true);

    // A signed status read, with a query (signed with it): the body the event gets.
    let with_query = format!("{status}?runs=1");
    let plain = send(
        &http,
        &base,
        "GET",
        &with_query,
        "",
        Some(&sign("GET", &with_query, "")),
    )
    .await;
    let direct = backend.call("GET", status, None).await;
    assert_eq!((plain.status, direct.status), (200, 200), "{}", plain.body);
    assert_eq!(plain.body, direct.body);
    assert_eq!(
        plain.body["pending_run"], saved.body["run_id"],
        "{}",
        plain.body
    );

    // A path no route has: 401 unsigned, 404 signed; a method the route lacks: 405 and
    // its Allow header.
    let nowhere = "/accounts/northwind/nowhere";
    assert_eq!(
        send(&http, &base, "GET", nowhere, "", None).await.status,
        401
    );
    let missing = send(
        &http,
        &base,
        "GET",
        nowhere,
        "",
        Some(&sign("GET", nowhere, "")),
    )
    .await;
    assert_eq!(
        (missing.status, &missing.body["error"]["code"]),
        (404, &json!("not_found"))
    );
    let wrong = send(
        &http,
        &base,
        "DELETE",
        status,
        "",
        Some(&sign("DELETE", status, "")),
    )
    .await;
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    assert_eq!(wrong.headers["allow"], "GET");

    // Over API Gateway's 10 MiB: refused before the function sees it.
    let answered = |f: &Function| {
        let lines = f.log_lines().unwrap();
        lines
            .iter()
            .filter(|l| l["fields"]["message"] == "answered")
            .count()
    };
    let before = answered(&api);
    let huge = "x".repeat(sims::gateway::MAX_BODY + 1);
    let big = send(
        &http,
        &base,
        "POST",
        "/accounts/northwind/imports",
        &huge,
        None,
    )
    .await;
    assert_eq!(big.status, 413);
    assert_eq!(answered(&api), before);
}

/// Waits for the poller's stats to satisfy `done` (a minute at most).
async fn until(poller: &Poller, done: impl Fn(&sims::poller::PollStats) -> bool) {
    for _ in 0..600 {
        if done(&poller.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the poller did not get there: {:?}", poller.stats());
}

/// What a queue holds, visible or in flight.
async fn held(aws: &TestAws, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().cloned().unwrap_or_default();
    let n = |k: A| {
        attrs
            .get(&k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible)
}

#[tokio::test]
async fn the_poller_hands_queued_jobs_to_the_real_worker_binary_and_deletes_what_it_took() {
    let aws = TestAws::new().await;
    let (jobs, hooks) = (aws.queue().await, aws.queue().await);
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let account = demo_account("northwind", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&account).await.unwrap();
    let env = [
        ("TABLE_NAME", aws.table.clone()),
        ("KMS_KEY_ID", aws.key_id.clone()),
        ("QUEUE_URL", jobs.clone()),
    ];
    let worker = Function::start("worker", &env).expect("start the worker");

    // An import job on the job queue, and a message that is no job on the other.
    let job = serde_json::to_string(&job("northwind", "daily-2026-11-28T0200Z")).unwrap();
    for (url, body) in [(&jobs, job.as_str()), (&hooks, "{not json")] {
        aws.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let poller = Poller::spawn(
        aws.sqs.clone(),
        vec![jobs.clone(), hooks.clone()],
        worker.invoke_url(),
    );
    until(&poller, |s| s.deleted >= 1 && s.failures >= 1).await;
    let stats = poller.stop().await;
    assert_eq!((stats.invocations, stats.messages), (2, 2), "{stats:?}");
    assert_eq!((stats.deleted, stats.failures), (1, 1), "{stats:?}");
    assert_eq!((stats.invoke_errors, stats.sqs_errors), (0, 0), "{stats:?}");

    // The job ran and is gone; the unreadable message waits out its visibility timeout.
    assert_eq!(runn.data.lock().unwrap().people.len(), 5);
    let runs = aws.store.runs(&account.settings.id, 5).await.unwrap();
    assert_eq!(runs[0].run_id, "daily-2026-11-28T0200Z");
    assert_eq!(held(&aws, &jobs).await, 0);
    assert_eq!(held(&aws, &hooks).await, 1);
    let text = worker.log_text();
    assert!(!text.contains(RUNN_TOKEN) && !text.contains(demo::API_KEY));
}

/// A worker that records the batches it gets: it fails the message `fail-me`, names a
/// message of no batch for `stray`, and fails as a whole for `crash`.
async fn fake_worker(events: Arc<Mutex<Vec<Value>>>) -> sims::common::Running {
    let invoke = |State(events): State<Arc<Mutex<Vec<Value>>>>, body: String| async move {
        let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        events.lock().unwrap().push(event.clone());
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let with = |b: &str| records.iter().find(|r| r["body"] == b).cloned();
        if with("crash").is_some() {
            let e = json!({"errorType": "Crash", "errorMessage": "crashed"});
            return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
        let failed: Vec<Value> = match (with("fail-me"), with("stray")) {
            (Some(r), _) => vec![json!({"itemIdentifier": r["messageId"]})],
            (None, Some(_)) => vec![json!({"itemIdentifier": "not-of-this-batch"})],
            _ => vec![],
        };
        (
            StatusCode::OK,
            json!({"batchItemFailures": failed}).to_string(),
        )
    };
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/_/invocations",
            axum::routing::post(invoke),
        )
        .with_state(events);
    sims::common::serve(app, 0).await.unwrap()
}

#[tokio::test]
async fn the_poller_sends_the_sqs_event_and_keeps_what_the_function_did_not_take() {
    use aws_sdk_sqs::types::MessageAttributeValue;
    let aws = TestAws::new().await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let function = fake_worker(events.clone()).await;
    let invoke_url = format!("{}2015-03-31/functions/_/invocations", function.url());
    // One queue per case, so each batch is one case.
    let (mut queues, mut md5) = (Vec::new(), std::collections::HashMap::new());
    for bodies in [&["ok", "fail-me"][..], &["stray", "ok"], &["crash"]] {
        let url = aws.queue().await;
        for body in bodies {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value("clockify")
                .build()
                .unwrap();
            let sent = aws
                .sqs
                .send_message()
                .queue_url(&url)
                .message_body(*body)
                .message_attributes("source", attribute)
                .send()
                .await
                .unwrap();
            md5.insert(
                *body,
                sent.md5_of_message_body().unwrap_or_default().to_owned(),
            );
        }
        queues.push(url);
    }
    let poller = Poller::spawn(aws.sqs.clone(), queues.clone(), invoke_url);
    until(&poller, |s| s.messages >= 5).await;
    let stats = poller.stop().await;
    assert_eq!(
        (stats.messages, stats.deleted, stats.failures),
        (5, 1, 4),
        "{stats:?}"
    );
    assert_eq!(
        stats.invoke_errors, 2,
        "the stray id and the crash fail their batches"
    );
    assert_eq!(held(&aws, &queues[0]).await, 1, "fail-me is kept");
    assert_eq!(
        held(&aws, &queues[1]).await,
        2,
        "a stray id keeps the whole batch"
    );
    assert_eq!(held(&aws, &queues[2]).await, 1, "a crash keeps the batch");

    // The records, as the event source mapping writes them.
    let events = events.lock().unwrap().clone();
    let record = events
        .iter()
        .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
        .find(|r| r["body"] == "crash")
        .expect("the crash's record");
    let name = queues[2].rsplit('/').next().unwrap();
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["awsRegion"], "us-east-1");
    assert!(record["eventSourceARN"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{name}")));
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
    assert!(
        record["attributes"]["SentTimestamp"].as_str().is_some(),
        "{record}"
    );
    assert_eq!(record["md5OfBody"], md5["crash"]);
    assert!(!record["receiptHandle"].as_str().unwrap().is_empty());
    assert_eq!(
        record["messageAttributes"]["source"],
        json!({"stringValue": "clockify", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
    );
}
