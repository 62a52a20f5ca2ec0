//! The real function binaries, run under `cargo lambda watch --only-lambda-apis` (the
//! Lambda runtime API emulator), invoked over HTTP with the events AWS sends, against
//! moto and the simulators. Needs `CARGO_LAMBDA` (the Makefile installs cargo-lambda into
//! .venv and sets it) and the function binaries built alongside the tests (`cargo test
//! --workspace` builds them).

use serde_json::{json, Value};
use shared::account::{Account, AccountId, AccountSettings, AccountSwitches};
use shared::clockify::ClockifyHost;
use shared::ids::WorkspaceId;
use shared::runn::RunnHost;
use shared::store::{create_table, DynamoStore, KmsSealer, Store};
use shared::SecretString;
use sims::clockify::ClockifySim;
use sims::demo;
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
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

/// Where `cargo test` put the workspace's binaries (this test runs from `<dir>/deps`).
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the functions first (cargo build -p {name})",
        path.display()
    );
    path
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
            Command::new(bin(name))
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

#[tokio::test]
async fn the_real_scheduler_and_worker_binaries_queue_and_import() {
    let cfg = local_aws().await;
    let db = aws_sdk_dynamodb::Client::new(&cfg);
    let kms = aws_sdk_kms::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let table = unique("fn-accounts");
    create_table(&db, &table).await.unwrap();
    let key_id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("fn-jobs"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let store = DynamoStore::new(
        db,
        table.clone(),
        Arc::new(KmsSealer::new(kms, key_id.clone())),
    );

    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let account = Account {
        settings: AccountSettings {
            id: AccountId::parse("northwind").unwrap(),
            runn_account: "Northwind Agency".into(),
            runn_host: RunnHost::Custom { url: rr.url() },
            clockify_host: ClockifyHost::Server { url: cr.url() },
            clockify_reports_url: None,
            clockify_workspace: WorkspaceId::new(demo::WORKSPACE_ID),
            switches: AccountSwitches {
                clients_and_projects: true,
                people: true,
                actuals: false,
            },
            autofill: true,
            time_zone: chrono_tz::Europe::London,
            enabled: true,
        },
        runn_token: SecretString::from(RUNN_TOKEN),
        clockify_api_key: SecretString::from(demo::API_KEY),
    };
    store.put_account(&account).await.unwrap();

    let env = [
        ("TABLE_NAME", table),
        ("KMS_KEY_ID", key_id),
        ("QUEUE_URL", queue_url.clone()),
    ];

    // The daily rule's event: the scheduler queues one job, with the event id as run id.
    let scheduler = Function::start("scheduler", &env);
    let answer = scheduler
        .invoke(json!({
            "version": "0", "id": "evt-2026-11-28", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-28T02:00:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/daily"],
            "detail": {}
        }))
        .await;
    assert_eq!(answer, json!({"run_id": "evt-2026-11-28", "queued": 1}));
    let got = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 1);

    // The worker gets that job, a message that is not a job, and a job for an account
    // that does not exist: it imports, hands back only the unreadable message, and drops
    // the unknown account.
    let worker = Function::start("worker", &env);
    let unknown = json!({"account": "gone", "run_id": "evt-2026-11-28", "trigger": "schedule"});
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
    let runs = store.runs(&account.settings.id, 5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, "evt-2026-11-28");

    // JSON log lines, each job's carrying its account and run id, no secret anywhere.
    let lines = worker.log_lines();
    let done = lines
        .iter()
        .find(|l| l["fields"]["message"] == "import run done")
        .expect("a line for the finished run");
    assert_eq!(done["span"]["account"], "northwind");
    assert_eq!(done["span"]["run_id"], "evt-2026-11-28");
    let all = std::fs::read_to_string(&worker.log).unwrap()
        + &std::fs::read_to_string(&scheduler.log).unwrap();
    assert!(!all.contains(RUNN_TOKEN) && !all.contains(demo::API_KEY));
}
