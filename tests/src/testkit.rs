//! Helpers the integration tests and benchmarks share: clients pointed at a simulator with
//! quick retries, and a log capture to prove secrets never reach a log line.

use crate::common::{Record, Running};
use futures::stream::{Stream, TryStreamExt};
use shared::clockify::{ClockifyClient, ClockifyConfig, ClockifyHost};
use shared::http::{RateLimit, RetryPolicy};
use shared::runn::{RunnClient, RunnConfig, RunnHost};
use shared::SecretString;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CLOCKIFY_KEY: &str = "ck_live_9f8e7d6c5b4a39281706f5e4";
pub const RUNN_TOKEN: &str = "LIVE_4b1d9c7a2e5f8g3h6i0j";

/// Retries as in production, but with millisecond backoffs so tests stay quick.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        max_rate_limited: 60,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_server_wait: Duration::from_secs(10),
    }
}

pub fn clockify_config(sim: &Running, key: &str) -> ClockifyConfig {
    let mut cfg = ClockifyConfig::new(
        ClockifyHost::Server { url: sim.url() },
        SecretString::from(key.to_owned()),
    );
    cfg.retry = quick_retry();
    cfg.rate_limit = RateLimit::per_second(1000);
    cfg.timeout = Duration::from_secs(5);
    cfg
}

pub fn clockify_client(sim: &Running) -> ClockifyClient {
    ClockifyClient::new(clockify_config(sim, CLOCKIFY_KEY)).expect("valid config")
}

pub fn runn_config(sim: &Running, token: &str) -> RunnConfig {
    let mut cfg = RunnConfig::new(
        RunnHost::Custom { url: sim.url() },
        SecretString::from(token.to_owned()),
    );
    cfg.retry = quick_retry();
    cfg.rate_limit = RateLimit::per_second(1000);
    cfg.timeout = Duration::from_secs(5);
    cfg
}

pub fn runn_client(sim: &Running) -> RunnClient {
    RunnClient::new(runn_config(sim, RUNN_TOKEN)).expect("valid config")
}

/// Everything written through a tracing subscriber, for inspection.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A JSON subscriber at TRACE level (every event of ours and of our dependencies) writing
/// into a capture; install it for one test with `tracing::subscriber::set_default`.
pub fn capture_logs() -> (LogCapture, impl tracing::Subscriber + Send + Sync) {
    let capture = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    (capture, subscriber)
}

/// Drains a stream of pages: every item, and how many pages carried them.
pub async fn collect_pages<T, E>(
    pages: impl Stream<Item = Result<Vec<T>, E>>,
) -> Result<(Vec<T>, usize), E> {
    let pages: Vec<Vec<T>> = pages.try_collect().await?;
    let n = pages.len();
    Ok((pages.into_iter().flatten().collect(), n))
}

/// Asserts the log holds at least one 429, and that after each the next request came no
/// sooner than `at_least` later (the wait the server asked for).
pub fn assert_waited_after_429s(log: &[Record], at_least: Duration) {
    let limited: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 429)
        .map(|(i, _)| i)
        .collect();
    assert!(!limited.is_empty(), "no 429 happened");
    for i in limited {
        let next = log.get(i + 1).expect("a request follows every 429");
        let gap = next.at.duration_since(log[i].at);
        assert!(
            gap >= at_least,
            "retried {gap:?} after a 429, sooner than the {at_least:?} asked for"
        );
    }
}

/// AWS configuration for tests: the local emulator at AWS_ENDPOINT_URL (as `make test`
/// starts it), with dummy credentials.
pub async fn local_aws() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL must point at a local emulator (run through `make test`, which starts moto)");
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "tests only talk to a local emulator, not {endpoint}"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A binary of this workspace, as `cargo build` put it: beside the running test (tests
/// run from `<target>/<profile>/deps`) or binary, else in `$CARGO_TARGET_DIR/debug`; the
/// Makefile builds the binaries before the tests.
pub fn find_workspace_bin(name: &str) -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Some(dir) = exe.parent() {
        if dir.ends_with("deps") {
            dirs.extend(dir.parent().map(ToOwned::to_owned));
        }
        dirs.push(dir.to_owned());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(std::path::PathBuf::from(target).join("debug"));
    }
    let name = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    dirs.iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{name} is not in {}: build it first (cargo build --workspace --bins; make test does)",
                    looked.join(" or ")
                ),
            )
        })
}

/// As [`find_workspace_bin`], for a test: a missing binary fails the test, saying why.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    find_workspace_bin(name).unwrap_or_else(|e| panic!("{e}"))
}

/// An account pointing at no server (the scheduler's tests read only its id).
pub fn offline_account(id: &str) -> shared::account::Account {
    use shared::account::*;
    Account {
        settings: AccountSettings {
            id: AccountId::parse(id).expect("valid account id"),
            runn_account: id.into(),
            runn_host: shared::runn::RunnHost::Eu {},
            clockify_host: ClockifyHost::Global {},
            clockify_reports_url: None,
            clockify_workspace: shared::ids::WorkspaceId::new(crate::demo::WORKSPACE_ID),
            switches: shared::account::Switches {
                clients_and_projects: true,
                people: true,
                actuals: false,
            },
            actuals_since: None,
            window_days: shared::account::DEFAULT_WINDOW_DAYS,
            autofill: true,
            time_zone: chrono_tz::Europe::London,
            enabled: true,
            disabled_reason: None,
            people_filter: None,
        },
        runn_token: SecretString::from(RUNN_TOKEN.to_owned()),
        clockify_api_key: SecretString::from(crate::demo::API_KEY.to_owned()),
    }
}

/// The demo company's account ("Northwind Agency"), pointed at two running simulators,
/// with `token` as its Runn token.
pub fn demo_account(
    id: &str,
    clockify: &Running,
    runn: &Running,
    token: &str,
) -> shared::account::Account {
    let mut a = offline_account(id);
    a.settings.runn_account = "Northwind Agency".into();
    a.settings.runn_host = shared::runn::RunnHost::Custom { url: runn.url() };
    a.settings.clockify_host = ClockifyHost::Server {
        url: clockify.url(),
    };
    a.runn_token = SecretString::from(token.to_owned());
    a
}

/// A job for an account, as the scheduler queues it.
pub fn job(account: &str, run_id: &str) -> shared::queue::Job {
    shared::queue::Job::import(
        shared::account::AccountId::parse(account).expect("valid account id"),
        run_id,
        shared::account::Trigger::Schedule,
    )
}

fn quick_clockify(c: &mut ClockifyConfig) {
    c.retry = quick_retry();
    c.rate_limit = RateLimit::per_second(1000);
}

fn quick_runn(c: &mut RunnConfig) {
    c.retry = quick_retry();
    c.rate_limit = RateLimit::per_second(1000);
}

/// The worker's settings with quick retries and no rate limits of our own, and a
/// one-second margin before the deadline.
pub fn quick_worker() -> shared::jobs::WorkerConfig {
    shared::jobs::WorkerConfig {
        safety_margin: Duration::from_secs(1),
        tune_clockify: Some(quick_clockify),
        tune_runn: Some(quick_runn),
        max_writes: None,
        emit_metrics: false,
        public_api_url: None,
    }
}

/// DynamoDB, KMS and SQS on the local emulator, with a fresh table and key and the
/// store over them.
pub struct TestAws {
    pub config: aws_config::SdkConfig,
    pub db: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub key_id: String,
    pub sealer: std::sync::Arc<shared::store::KmsSealer>,
    pub store: shared::store::DynamoStore,
}

impl TestAws {
    pub async fn new() -> Self {
        let config = local_aws().await;
        let db = aws_sdk_dynamodb::Client::new(&config);
        let kms = aws_sdk_kms::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let table = unique("accounts");
        shared::store::create_table(&db, &table)
            .await
            .expect("create the table");
        let key = kms
            .create_key()
            .description("test")
            .send()
            .await
            .expect("create a key");
        let key_id = key
            .key_metadata()
            .expect("key metadata")
            .key_id()
            .to_owned();
        let sealer = std::sync::Arc::new(shared::store::KmsSealer::new(kms, key_id.clone()));
        let store = shared::store::DynamoStore::new(db.clone(), table.clone(), sealer.clone());
        Self {
            config,
            db,
            sqs,
            table,
            key_id,
            sealer,
            store,
        }
    }

    /// A fresh queue; its URL.
    pub async fn queue(&self) -> String {
        self.queue_with(&[]).await
    }

    /// A fresh queue with these attributes; its URL.
    pub async fn queue_with(
        &self,
        attributes: &[(aws_sdk_sqs::types::QueueAttributeName, String)],
    ) -> String {
        let mut create = self.sqs.create_queue().queue_name(unique("jobs"));
        for (k, v) in attributes {
            create = create.attributes(k.clone(), v);
        }
        create
            .send()
            .await
            .expect("create a queue")
            .queue_url()
            .expect("a queue url")
            .to_owned()
    }

    pub fn sqs_queue(&self, url: &str) -> shared::queue::SqsQueue {
        shared::queue::SqsQueue::new(self.sqs.clone(), url)
    }
}

/// Replaces an account's settings as an operator's `account set` does: conditional on the
/// version just read (there is no other writer in a test).
pub async fn update_settings(
    store: &dyn shared::store::Store,
    settings: &shared::account::AccountSettings,
) {
    let version = store
        .state(&settings.id)
        .await
        .unwrap()
        .expect("the account exists")
        .version;
    assert_eq!(
        store.update_settings(settings, version).await.unwrap(),
        shared::store::Write::Applied
    );
}

/// The entity import of `kinds`, carried out as the worker's daily job runs it.
pub async fn run_import(
    ws: &shared::ids::WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    kinds: shared::account::Switches,
    limits: shared::sync::RunLimits<'_>,
) -> Result<shared::sync::ImportReport, shared::sync::SyncError> {
    // No account of the store's: nothing was rejected, and what it creates is
    // recorded in a store of its own (see [`run_import_for`] to keep it).
    let store = shared::store::MemoryStore::default();
    let account = shared::account::AccountId::parse("import-test").expect("an account id");
    run_import_for(&store, &account, ws, clockify, runn, kinds, limits).await
}

/// The entity import of `kinds` for `account`, reading its link decisions from `store`
/// and recording what it creates there.
pub async fn run_import_for(
    store: &dyn shared::store::OriginStore,
    account: &shared::account::AccountId,
    ws: &shared::ids::WorkspaceId,
    clockify: &ClockifyClient,
    runn: &RunnClient,
    kinds: shared::account::Switches,
    limits: shared::sync::RunLimits<'_>,
) -> Result<shared::sync::ImportReport, shared::sync::SyncError> {
    let scope = shared::model::scope::Scope::daily(kinds);
    let origins = shared::sync::Origins {
        store,
        account,
        run_id: "import-test",
    };
    shared::sync::engine::import(
        ws,
        clockify,
        runn,
        origins,
        &scope,
        limits,
        shared::sync::Mode::APPLY,
    )
    .await
    .map(|(report, _)| report)
}
