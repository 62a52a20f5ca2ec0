//! The real function binaries, run under `cargo lambda watch --only-lambda-apis` (the
//! Lambda runtime API emulator), invoked over HTTP with the events AWS sends, against
//! moto and the simulators. Needs `CARGO_LAMBDA` (the Makefile installs cargo-lambda into
//! .venv and sets it) and the function binaries built alongside the tests (`cargo test
//! --workspace` builds them).

use serde_json::{json, Value};
use shared::store::Store;
use sims::clockify::ClockifySim;
use sims::demo;
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A process killed when the test ends, whatever its outcome.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A function binary running against its own runtime API emulator; `invoke` sends an
/// event the way AWS does and returns the function's answer.
struct Function {
    port: u16,
    _emulator: Proc,
    _function: Proc,
    log: PathBuf,
}

impl Function {
    fn start(name: &str, env: &[(&str, String)]) -> Self {
        let cargo_lambda = std::env::var("CARGO_LAMBDA")
            .expect("CARGO_LAMBDA names the cargo-lambda binary (make test sets it)");
        let port = free_port();
        let emulator = Proc(
            Command::new(cargo_lambda)
                .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
                .args(["-P", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start cargo lambda watch"),
        );
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::env::temp_dir().join(unique(&format!("{name}-log")));
        let function = Proc(
            Command::new(workspace_bin(name))
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{port}/.rt"),
                )
                .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("RUST_LOG", "info")
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the function"),
        );
        Self {
            port,
            _emulator: emulator,
            _function: function,
            log,
        }
    }

    async fn invoke(&self, event: Value) -> Value {
        reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/2015-03-31/functions/_/invocations",
                self.port
            ))
            .json(&event)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("invoke")
            .json()
            .await
            .expect("a JSON answer")
    }

    fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
            .collect()
    }
}

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
    let scheduler = Function::start("scheduler", &env);
    for attempt in ["attempt-1", "attempt-2"] {
        let answer = scheduler.invoke(scheduler_payload(attempt)).await;
        assert_eq!(
            answer,
            json!({"run_id": "daily-2026-11-28T02:00Z", "queued": 1})
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
    let worker = Function::start("worker", &env);
    let unknown =
        json!({"account": "gone", "run_id": "daily-2026-11-28T02:00Z", "trigger": "schedule"});
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
    assert_eq!(runs[0].run_id, "daily-2026-11-28T02:00Z");

    // JSON log lines, each job's carrying its account and run id, no secret anywhere.
    let lines = worker.log_lines();
    let done = lines
        .iter()
        .find(|l| l["fields"]["message"] == "import run done")
        .expect("a line for the finished run");
    assert_eq!(done["span"]["account"], "northwind");
    assert_eq!(done["span"]["run_id"], "daily-2026-11-28T02:00Z");
    let all = std::fs::read_to_string(&worker.log).unwrap()
        + &std::fs::read_to_string(&scheduler.log).unwrap();
    assert!(!all.contains(RUNN_TOKEN) && !all.contains(demo::API_KEY));
}
