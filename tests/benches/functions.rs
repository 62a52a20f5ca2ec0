//! Benchmark: each function binary as Lambda starts it, under a Lambda runtime API
//! emulator (the protocol `cargo lambda watch` speaks; this one also notes when each
//! request comes), against moto and the simulators:
//!
//! - init time: from the process's start to its first request for an event (goal: under
//!   25 ms), and how many connections it opened to AWS before that (goal: none: clients
//!   are built at init, nothing is read until an event needs it);
//! - peak memory (the process's VmHWM) after one invocation with a real event: the
//!   Scheduler's payload (scheduler, autofill), an SQS batch with an import job (worker),
//!   a signed API Gateway v2 request for the status (api);
//! - each binary's size.
//!
//! The binaries are the host's release build (`make bench` builds them; there is no arm64
//! standard library here to build the Lambda package against). Run under moto:
//! `make bench`, or `tests/with-moto.sh .venv/bin/moto_server cargo bench -p sims --bench functions`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use shared::store::roles::*;
use sims::clockify::ClockifySim;
use sims::demo;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::{demo_account, unique, TestAws, RUNN_TOKEN};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const STARTS: usize = 15;
const GOAL_INIT: Duration = Duration::from_millis(25);

/// The runtime API, as Lambda serves it to a function.
#[derive(Default)]
struct Runtime {
    first_next: Mutex<Option<Instant>>,
    event: Mutex<Option<Value>>,
    event_ready: Notify,
    answer: Mutex<Option<(bool, Value)>>,
    answered: Notify,
}

async fn next(State(rt): State<Arc<Runtime>>) -> impl IntoResponse {
    rt.first_next
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let event = loop {
        let notified = rt.event_ready.notified();
        if let Some(e) = rt.event.lock().unwrap().take() {
            break e;
        }
        notified.await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 300_000;
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        "bench-request-1".parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:bench"
            .parse()
            .unwrap(),
    );
    headers.insert("lambda-runtime-trace-id", "Root=1-bench".parse().unwrap());
    (headers, event.to_string())
}

async fn respond(
    State(rt): State<Arc<Runtime>>,
    Path(_id): Path<String>,
    body: String,
) -> impl IntoResponse {
    *rt.answer.lock().unwrap() = Some((
        true,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ));
    rt.answered.notify_waiters();
    (axum::http::StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}

async fn error(State(rt): State<Arc<Runtime>>, body: String) -> impl IntoResponse {
    *rt.answer.lock().unwrap() = Some((
        false,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ));
    rt.answered.notify_waiters();
    (axum::http::StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}

async fn serve_runtime() -> (Arc<Runtime>, u16) {
    let rt = Arc::new(Runtime::default());
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(|s, _p: Path<String>, b| error(s, b)),
        )
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (rt, port)
}

/// A TCP proxy in front of moto that counts connections and when they were opened.
async fn counting_proxy(target: String) -> (Arc<Mutex<Vec<Instant>>>, u16) {
    let opened = Arc::new(Mutex::new(vec![]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = opened.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            log.lock().unwrap().push(Instant::now());
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    (opened, port)
}

fn bin_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release")
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Start {
    init: Duration,
    connections_at_init: usize,
    answer: Option<(bool, Value)>,
    peak_kib: u64,
}

/// Starts the binary, waits for its first request for an event, hands it `event` (if
/// any), waits for the answer, and notes its peak memory.
async fn start(bin: &PathBuf, env: &[(&str, String)], moto: &str, event: Option<Value>) -> Start {
    let (rt, port) = serve_runtime().await;
    let (opened, proxy) = counting_proxy(moto.to_owned()).await;
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{proxy}"))
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the function");
    let started = loop {
        if let Some(t) = *rt.first_next.lock().unwrap() {
            break t;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            panic!("{} never asked for an event", bin.display());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let init = started - t0;
    let connections_at_init = opened
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t < started)
        .count();
    let mut answer = None;
    if let Some(e) = event {
        let answered = rt.answered.notified();
        *rt.event.lock().unwrap() = Some(e);
        rt.event_ready.notify_waiters();
        let _ = tokio::time::timeout(Duration::from_secs(60), answered).await;
        answer = rt.answer.lock().unwrap().take();
    }
    let peak_kib = vm_hwm_kib(child.id()).unwrap_or(0);
    child.kill().ok();
    child.wait().ok();
    Start {
        init,
        connections_at_init,
        answer,
        peak_kib,
    }
}

fn scheduler_payload() -> Value {
    json!({
        "version": "0", "id": "bench-attempt", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012",
        "time": "2026-11-30T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/bench"],
        "detail": "{}"
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("run under moto: tests/with-moto.sh .venv/bin/moto_server cargo bench ...");
    let moto = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let dir = bin_dir();
    let aws = TestAws::new().await;
    let queue = aws.queue().await;
    let secret = "whsec_bench_1a2b";
    let secret_arn = sims::backend::create_secret(&aws.config, &unique("signing"), secret).await;
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let account = demo_account("bench", &c, &r, RUNN_TOKEN);
    aws.store.put_account(&account).await.unwrap();
    let env = vec![
        ("TABLE_NAME", aws.table.clone()),
        ("KMS_KEY_ID", aws.key_id.clone()),
        ("QUEUE_URL", queue.clone()),
        ("SIGNING_SECRET_ARN", secret_arn),
        ("ALLOW_LOCAL_HOSTS", "1".into()),
    ];
    let job = serde_json::to_string(&sims::testkit::job("bench", "bench-run-1")).unwrap();
    let sqs = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "rh-1", "body": job,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
        "awsRegion": "us-east-1"
    }]});
    let path = "/accounts/bench/status";
    let sig = shared::signature::sign(
        &shared::SecretString::from(secret),
        chrono::Utc::now().timestamp(),
        "GET",
        path,
        b"",
    );
    let api_event = sims::backend::apigw_event("GET", path, "", Some(&sig));
    let functions: [(&str, Value); 4] = [
        ("scheduler", scheduler_payload()),
        ("autofill", scheduler_payload()),
        ("worker", sqs),
        ("api", api_event),
    ];
    println!("Functions (host release build, {}), {STARTS} cold starts each under a runtime API emulator:\n", dir.display());
    println!(
        "  {:<10} {:>12} {:>12} {:>14} {:>16} {:>12}  answer",
        "function", "init p50", "init p90", "AWS at init", "peak memory", "binary"
    );
    let mut all_within = true;
    for (name, event) in functions {
        let bin = dir.join(name);
        let size = std::fs::metadata(&bin)
            .unwrap_or_else(|_| panic!("{} is missing: make bench builds it", bin.display()))
            .len();
        let mut inits = vec![];
        let mut connections = 0;
        for _ in 0..STARTS {
            let s = start(&bin, &env, &moto, None).await;
            inits.push(s.init);
            connections = connections.max(s.connections_at_init);
        }
        inits.sort();
        let invoked = start(&bin, &env, &moto, Some(event)).await;
        let answer = match &invoked.answer {
            Some((true, v)) => {
                let text = v.to_string();
                let code = v
                    .get("statusCode")
                    .map(|s| format!("HTTP {s}, "))
                    .unwrap_or_default();
                format!("ok: {code}{}", &text[..text.len().min(60)])
            }
            Some((false, v)) => format!("ERROR {v}"),
            None => "no answer".into(),
        };
        let p50 = percentile(&inits, 0.5);
        all_within &= p50 < GOAL_INIT && connections == 0;
        println!(
            "  {:<10} {:>9.1} ms {:>9.1} ms {:>14} {:>12.1} MiB {:>8.1} MiB  {answer}",
            name,
            p50.as_secs_f64() * 1000.0,
            percentile(&inits, 0.9).as_secs_f64() * 1000.0,
            connections,
            invoked.peak_kib as f64 / 1024.0,
            size as f64 / (1024.0 * 1024.0),
        );
    }
    println!(
        "\n  Goal: init under {} ms with no AWS connection before the first event: {}",
        GOAL_INIT.as_millis(),
        if all_within { "met" } else { "NOT met" }
    );
}
