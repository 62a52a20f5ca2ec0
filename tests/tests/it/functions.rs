//! The real function binaries, run under `cargo lambda watch --only-lambda-apis` (the
//! Lambda runtime API emulator), invoked over HTTP with the events AWS sends, against
//! moto and the simulators. Needs `CARGO_LAMBDA` (the Makefile installs cargo-lambda into
//! .venv and sets it) and the function binaries built alongside the tests (`cargo test
//! --workspace` builds them).

use serde_json::{json, Value};
use shared::store::roles::*;
use sims::clockify::ClockifySim;
use sims::demo;
use sims::lambda::{free_port, Function};
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;

fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("rh-{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764300000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
        "awsRegion": "us-east-1"
    })
}

/// What EventBridge Scheduler delivers for a `ScheduleV2` event with no `Input`: an
/// envelope whose `detail` is the string "{}" (as logged by users of other runtimes:
/// aws-lambda-dotnet#1864, powertools-lambda-python#6112, aws-lambda-java-libs#479).
fn scheduler_payload(attempt_id: &str) -> Value {
    json!({
        "version": "0", "id": attempt_id, "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012",
        "time": "2026-11-28T02:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/daily"],
        "detail": "{}"
    })
}

#[tokio::test]
async fn the_real_scheduler_and_worker_binaries_queue_and_import() {
    let aws = TestAws::new().await;
    let queue_url = aws.queue().await;
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let account = demo_account("northwind", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&account).await.unwrap();

    let env = [
        ("TABLE_NAME", aws.table.clone()),
        ("KMS_KEY_ID", aws.key_id.clone()),
        ("QUEUE_URL", queue_url.clone()),
    ];

    // EventBridge Scheduler's own payload, then a retried attempt of the same schedule
    // (a new attempt id): both are the run of the scheduled time.
    let scheduler = Function::start("scheduler", &env).expect("start the function");
    for attempt in ["attempt-1", "attempt-2"] {
        let answer = scheduler.invoke(scheduler_payload(attempt)).await;
        assert_eq!(
            answer,
            json!({"run_id": "daily-2026-11-28T0200Z", "queued": 1, "unreadable": 0})
        );
    }
    let got = aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 2);

    // The worker gets the job, a message that is not a job, and a job for an account
    // that does not exist: it imports, hands back only the unreadable message, and drops
    // the unknown account.
    let worker = Function::start("worker", &env).expect("start the function");
    let unknown =
        json!({"account": "gone", "run_id": "daily-2026-11-28T0200Z", "trigger": "schedule"});
    let answer = worker
        .invoke(json!({"Records": [
            sqs_record("m-job", bodies[0]),
            sqs_record("m-garbage", "{not json"),
            sqs_record("m-gone", &unknown.to_string()),
        ]}))
        .await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-garbage"}]})
    );
    {
        let mut data = runn.data.lock().unwrap();
        assert_eq!(Kind::Client.table(&mut data).len(), 3);
        assert_eq!(Kind::Project.table(&mut data).len(), 4);
        assert_eq!(Kind::Person.table(&mut data).len(), 5);
    }
    // The retried attempt's job is the same run, already done: acknowledged, not run.
    let requests = runn.ctl.total();
    let answer = worker
        .invoke(json!({"Records": [sqs_record("m-again", bodies[1])]}))
        .await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(runn.ctl.total(), requests, "the same run is not run twice");
    let runs = aws.store.runs(&account.settings.id, 5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, "daily-2026-11-28T0200Z");

    // JSON log lines, each job's carrying its account and run id, no secret anywhere.
    let lines = worker.log_lines().unwrap();
    let done = lines
        .iter()
        .find(|l| l["fields"]["message"] == "import run done")
        .expect("a line for the finished run");
    assert_eq!(done["span"]["account"], "northwind");
    assert_eq!(done["span"]["run_id"], "daily-2026-11-28T0200Z");
    let all = worker.log_text() + &scheduler.log_text();
    assert!(!all.contains(RUNN_TOKEN) && !all.contains(demo::API_KEY));
}

/// The jobs waiting in a queue, received (in flight until deleted or timed out).
async fn receive(aws: &TestAws, url: &str) -> Vec<(String, String)> {
    let got = aws
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    got.messages()
        .iter()
        .map(|m| {
            (
                m.message_id().unwrap_or_default().to_owned(),
                m.body().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Checks an answer of the api function against `infra/api.yaml`.
fn checked(method: &str, path: &str, a: sims::backend::Answer) -> sims::backend::Answer {
    sims::contract::contract()
        .check_response(method, path, a.status, &a.body)
        .unwrap_or_else(|e| panic!("{e}\n{}", a.body));
    a
}

#[tokio::test]
async fn runns_buttons_drive_the_real_api_worker_and_autofill_binaries() {
    use sims::backend::{create_secret, Backend};
    let aws = TestAws::new().await;
    let queue_url = aws.queue().await;
    // Save & Run queues the webhooks' registration there (not on the job queue).
    let hook_queue = aws.queue().await;
    let secret_value = "whsec_e2e_9d3f0a";
    let secret_arn = create_secret(&aws.config, &unique("signing"), secret_value).await;
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let env = [
        ("TABLE_NAME", aws.table.clone()),
        ("KMS_KEY_ID", aws.key_id.clone()),
        ("QUEUE_URL", queue_url.clone()),
        ("HOOK_QUEUE_URL", hook_queue.clone()),
        ("SIGNING_SECRET_ARN", secret_arn.clone()),
    ];
    let api = Function::start("api", &env).expect("start the function");
    let worker = Function::start("worker", &env).expect("start the function");
    let backend = Backend::new(api.invoke_url(), shared::SecretString::from(secret_value));
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let backend = &backend;
        async move {
            let a = backend.call(method, &path, body.as_ref()).await;
            checked(method, &path, a)
        }
    };
    let integration = |key: &str| {
        json!({
            "runn_account": "Northwind Agency",
            "runn_host": {"kind": "custom", "url": rr.url()},
            "clockify_host": {"kind": "server", "url": cr.url()},
            "clockify_workspace": demo::WORKSPACE_ID,
            "switches": {"clients_and_projects": true, "people": true, "actuals": false},
            "time_zone": "Europe/London",
            "clockify_api_key": key,
            "runn_token": RUNN_TOKEN
        })
    };
    let save = "/accounts/northwind/integration".to_owned();

    // Save & Run with a bad key: refused by name, nothing saved or queued.
    let bad = call("PUT", save.clone(), Some(integration("not-a-key"))).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["field"], "clockify_api_key");
    assert_eq!(
        bad.body["error"]["message"],
        "the Clockify API key was rejected by Clockify; nothing was saved"
    );
    let id = shared::account::AccountId::parse("northwind").unwrap();
    assert!(aws.store.settings(&id).await.unwrap().is_none());

    // A non-admin's key: saved, with a warning, and a first import queued.
    let member = call("PUT", save.clone(), Some(integration(demo::MEMBER_API_KEY))).await;
    assert_eq!(member.status, 202, "{}", member.body);
    assert!(member.body["warnings"][0]
        .as_str()
        .unwrap()
        .contains("own time"));
    // An admin's key, saved while that import is still queued: the settings changed, so
    // a follow-up run with them is queued, and it holds the account's mark.
    let admin = call("PUT", save.clone(), Some(integration(demo::API_KEY))).await;
    assert_eq!((admin.status, &admin.body["queued"]), (202, &json!(true)));
    assert_ne!(admin.body["run_id"], member.body["run_id"]);
    let first_run = member.body["run_id"].as_str().unwrap().to_owned();
    let follow_up = admin.body["run_id"].as_str().unwrap().to_owned();
    // Saved again with nothing changed (credentials left out, as Runn's form masks them):
    // answered with the job already queued.
    let mut unchanged = integration(demo::API_KEY);
    unchanged
        .as_object_mut()
        .unwrap()
        .remove("clockify_api_key");
    unchanged.as_object_mut().unwrap().remove("runn_token");
    let same = call("PUT", save.clone(), Some(unchanged)).await;
    assert_eq!((same.status, &same.body["queued"]), (202, &json!(false)));
    assert_eq!(same.body["run_id"], follow_up.as_str());

    // The jobs are received (running): a press now gets the follow-up's run, and queues
    // nothing.
    let jobs = receive(&aws, &queue_url).await;
    assert_eq!(jobs.len(), 2);
    let press = || {
        call(
            "POST",
            "/accounts/northwind/imports".to_owned(),
            Some(json!({"kinds": ["people"]})),
        )
    };
    let during = press().await;
    assert_eq!(
        (during.status, &during.body["queued"]),
        (202, &json!(false))
    );
    assert_eq!(during.body["run_id"], follow_up.as_str());
    let answer = worker
        .invoke(json!({"Records": [
            sqs_record(&jobs[0].0, &jobs[0].1),
            sqs_record(&jobs[1].0, &jobs[1].1),
        ]}))
        .await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(runn.data.lock().unwrap().people.len(), 5, "nothing twice");
    let later = call("GET", format!("/accounts/northwind/runs/{follow_up}"), None).await;
    assert_eq!(later.body["pending"], false);
    assert_eq!(later.body["record"]["outcome"]["result"], "succeeded");

    // What the run did, by its id, and the status with the people still on "Unknown".
    let run = call("GET", format!("/accounts/northwind/runs/{first_run}"), None).await;
    assert_eq!(run.status, 200);
    assert_eq!(run.body["pending"], false);
    // The queue gives the two jobs in either order: between them, five people.
    let created = |r: &Value| r["record"]["report"]["created"]["people"].as_u64().unwrap();
    assert_eq!(created(&run.body) + created(&later.body), 5);
    let status = call("GET", "/accounts/northwind/status".to_owned(), None).await;
    assert_eq!(status.body["people_on_unknown_role_count"], 5);
    assert_eq!(
        status.body["people_on_unknown_role"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(status.body["autofill"], true);

    // Two presses of the import button: one job, one run id.
    let one = press().await;
    let two = press().await;
    assert_eq!((one.status, &one.body["queued"]), (202, &json!(true)));
    assert_eq!((two.status, &two.body["queued"]), (202, &json!(false)));
    assert_eq!(one.body["run_id"], two.body["run_id"]);
    let jobs = receive(&aws, &queue_url).await;
    assert_eq!(jobs.len(), 1, "one job for two presses");
    worker
        .invoke(json!({"Records": [sqs_record(&jobs[0].0, &jobs[0].1)]}))
        .await;
    assert_eq!(
        runn.data.lock().unwrap().people.len(),
        5,
        "nothing duplicated"
    );

    // Forged, stale and cross-account signatures.
    let path = "/accounts/northwind/status";
    let now = chrono::Utc::now().timestamp();
    let forged = shared::signature::sign(
        &shared::SecretString::from("guessed"),
        now,
        "GET",
        path,
        b"",
    );
    let stale = shared::signature::sign(&backend.secret, now - 600, "GET", path, b"");
    let other =
        shared::signature::sign(&backend.secret, now, "GET", "/accounts/globex/status", b"");
    for sig in [None, Some(forged), Some(stale), Some(other)] {
        let a = backend.call_raw("GET", path, "", sig.as_deref()).await;
        let a = checked("GET", path, a);
        assert_eq!(a.status, 401, "{}", a.body);
    }

    // The weekly autofill's schedule: one autofill job for the account (autofill is on).
    let autofill = Function::start("autofill", &env).expect("start the function");
    let answer = autofill.invoke(scheduler_payload("weekly-1")).await;
    assert_eq!(answer["queued"], 1, "{answer}");
    let jobs = receive(&aws, &queue_url).await;
    assert_eq!(jobs.len(), 1);
    let job: Value = serde_json::from_str(&jobs[0].1).unwrap();
    assert!(job.to_string().contains("autofill"), "{job}");

    // The api's lines carry the account.
    let answered = api
        .log_lines()
        .unwrap()
        .into_iter()
        .find(|l| l["fields"]["message"] == "answered")
        .expect("a line per answer");
    assert_eq!(answered["span"]["account"], "northwind");

    // The worker's metrics line, and no secret in any log.
    let emf = worker
        .log_lines()
        .unwrap()
        .into_iter()
        .find(|l| l.get("_aws").is_some())
        .expect("an EMF metrics line");
    assert_eq!(emf["PeopleCreated"], 5.0);
    assert_eq!(emf["Function"], "worker");
    assert!(emf["RunnRequests"].as_f64().unwrap() > 0.0);
    let logs = [&api, &worker, &autofill]
        .iter()
        .map(|f| f.log_text())
        .collect::<String>();
    for secret in [
        RUNN_TOKEN,
        demo::API_KEY,
        demo::MEMBER_API_KEY,
        secret_value,
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
}

#[tokio::test]
async fn the_real_api_binary_keeps_credentials_to_their_hosts_reads_back_every_run_and_takes_a_change_once(
) {
    use shared::account::{Outcome, RunRecord, Trigger};
    use sims::backend::{create_secret, Backend};
    let aws = TestAws::new().await;
    let queue_url = aws.queue().await;
    let secret_value = "whsec_e2e_hardening";
    let secret_arn = create_secret(&aws.config, &unique("signing"), secret_value).await;
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let env = [
        ("TABLE_NAME", aws.table.clone()),
        ("KMS_KEY_ID", aws.key_id.clone()),
        ("QUEUE_URL", queue_url.clone()),
        ("SIGNING_SECRET_ARN", secret_arn.clone()),
    ];
    let api = Function::start("api", &env).expect("start the function");
    let backend = Backend::new(api.invoke_url(), shared::SecretString::from(secret_value));
    let form = |with_credentials: bool| {
        let mut b = json!({
            "runn_account": "Northwind Agency",
            "runn_host": {"kind": "custom", "url": rr.url()},
            "clockify_host": {"kind": "server", "url": cr.url()},
            "clockify_workspace": demo::WORKSPACE_ID,
            "switches": {"clients_and_projects": true, "people": true, "actuals": false},
            "time_zone": "Europe/London"
        });
        if with_credentials {
            b["clockify_api_key"] = json!(demo::API_KEY);
            b["runn_token"] = json!(RUNN_TOKEN);
        }
        b
    };
    let save = "/accounts/northwind/integration";
    let saved = checked(
        "PUT",
        save,
        backend.call("PUT", save, Some(&form(true))).await,
    );
    assert_eq!(saved.status, 202, "{}", saved.body);
    let save_run = saved.body["run_id"].as_str().unwrap().to_owned();

    // Item 1: with the credentials left out (as Runn's masked form sends them), another
    // host or workspace is refused, naming the credential; nothing is saved.
    let elsewhere = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let er = elsewhere.spawn().await.unwrap();
    for (field, value, credential) in [
        (
            "runn_host",
            json!({"kind": "custom", "url": er.url()}),
            "runn_token",
        ),
        (
            "clockify_host",
            json!({"kind": "server", "url": er.url()}),
            "clockify_api_key",
        ),
        (
            "clockify_workspace",
            json!("65b1c0ffee0000000000ffff"),
            "clockify_api_key",
        ),
    ] {
        let mut body = form(false);
        body[field] = value;
        let a = checked("PUT", save, backend.call("PUT", save, Some(&body)).await);
        assert_eq!(
            (a.status, &a.body["error"]["field"]),
            (422, &json!(credential)),
            "{}",
            a.body
        );
    }
    let id = shared::account::AccountId::parse("northwind").unwrap();
    let stored = aws.store.settings(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.runn_host,
        shared::runn::RunnHost::Custom { url: rr.url() }
    );
    assert_eq!(elsewhere.ctl.total(), 0, "nothing reached the other host");

    // Item 8: a signed change is accepted once.
    let imports = "/accounts/northwind/imports";
    let body = json!({"kinds": ["people"]}).to_string();
    let sig = shared::signature::sign(
        &backend.secret,
        shared::signature::fresh_time(),
        "POST",
        imports,
        body.as_bytes(),
    );
    let first = checked(
        "POST",
        imports,
        backend.call_raw("POST", imports, &body, Some(&sig)).await,
    );
    assert_eq!(first.status, 202, "{}", first.body);
    let again = checked(
        "POST",
        imports,
        backend.call_raw("POST", imports, &body, Some(&sig)).await,
    );
    assert_eq!(
        (again.status, &again.body["error"]["code"]),
        (409, &json!("replayed"))
    );
    let button_run = first.body["run_id"].as_str().unwrap().to_owned();

    // Item 3: every kind of run id the system makes reads back through the API.
    let scheduled = json!({"time": "2026-11-28T02:00:00Z"});
    let ids = [
        (save_run.clone(), Trigger::Manual),
        (button_run.clone(), Trigger::Manual),
        (
            shared::jobs::scheduled_run_id("daily", &scheduled),
            Trigger::Schedule,
        ),
        (
            shared::jobs::scheduled_run_id("autofill", &scheduled),
            Trigger::Schedule,
        ),
        (save_run.clone(), Trigger::Continuation),
        (shared::jobs::new_run_id(), Trigger::CommandLine),
        // Named before scheduled ids lost their `:`.
        ("daily-2026-11-27T02:00Z".to_owned(), Trigger::Schedule),
    ];
    for (n, (run_id, trigger)) in ids.iter().enumerate() {
        let at = chrono::Utc::now() + chrono::Duration::milliseconds(n as i64);
        let record = RunRecord {
            run_id: run_id.clone(),
            kind: shared::account::RunKind::Sync,
            trigger: *trigger,
            started_at: at,
            finished_at: at,
            outcome: Outcome::Succeeded,
            report: None,
            actuals: None,
            plan: None,
            links: None,
            removal: None,
        };
        aws.store.record_run(&id, &record).await.unwrap();
    }
    for (run_id, trigger) in &ids {
        for sent in [run_id.clone(), run_id.replace(':', "%3A")] {
            let path = format!("/accounts/northwind/runs/{sent}");
            let a = checked("GET", &path, backend.call("GET", &path, None).await);
            assert_eq!(a.status, 200, "{path}: {}", a.body);
            assert_eq!(a.body["record"]["run_id"], run_id.as_str());
            if *trigger == Trigger::Continuation {
                assert_eq!(
                    a.body["record"]["trigger"], "continuation",
                    "the latest record"
                );
            }
        }
        assert!(
            !run_id.contains(':') || run_id.starts_with("daily-2026-11-27"),
            "{run_id}"
        );
    }
}

#[tokio::test]
async fn a_function_that_fails_answers_with_one_readable_line() {
    let aws = TestAws::new().await;
    let queue_url = aws.queue().await;
    // DynamoDB that cannot be reached: the scheduler fails, and says so in one line.
    let closed = free_port().unwrap();
    let scheduler = Function::start(
        "scheduler",
        &[
            ("TABLE_NAME", aws.table.clone()),
            ("QUEUE_URL", queue_url),
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}")),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
        ],
    )
    .expect("start the scheduler");
    let answer = scheduler.invoke(scheduler_payload("attempt-1")).await;
    let message = answer["errorMessage"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(message.contains("could not be reached"), "{message}");
    assert!(!message.contains('\n') && message.len() < 500, "{message}");
    assert!(
        !message.contains("SdkBody") && !message.contains("ServiceError {"),
        "{message}"
    );
}
