//! `runn-clockify`: the operators' command line, on the same code as the functions.
//!
//! The store and queue come from `TABLE_NAME`, `KMS_KEY_ID` and `QUEUE_URL` (or flags);
//! `AWS_ENDPOINT_URL` points everything at a local emulator.

mod display;
mod progress;
mod setup;

use clap::{Parser, Subcommand};
use shared::account::{Account, AccountId, Trigger};
use shared::hosts::HostPolicy;
use shared::jobs::{self, JobOutcome, WorkerConfig};
use shared::queue::{ImportJob, MemoryQueue, Parts, SqsQueue};
use shared::store::{DynamoStore, KmsSealer, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Parser)]
#[command(
    name = "runn-clockify",
    version,
    about = "Import Clockify clients, projects and people into Runn"
)]
struct Cli {
    /// The DynamoDB table of accounts, runs and mappings.
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    /// The KMS key that seals the accounts' credentials.
    #[arg(long, env = "KMS_KEY_ID", global = true)]
    kms_key: Option<String>,
    /// The SQS queue of import jobs (for `schedule` and `work`).
    #[arg(long, env = "QUEUE_URL", global = true)]
    queue: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register or update integration accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run an account's import now, in this process, showing each record it creates.
    Sync {
        account: String,
        /// Import only these parts (within the account's switches).
        #[arg(long, value_delimiter = ',', value_enum)]
        only: Vec<Part>,
    },
    /// The account's settings and its latest runs: what was created, skipped and why.
    Status {
        account: String,
        /// How many runs to show.
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// What the account's Runn holds now: clients with their projects, and people.
    Show { account: String },
    /// Queue one import per enabled account, as the daily schedule does.
    Schedule,
    /// Run the queued import jobs, as the worker function does, until the queue is empty.
    Work,
    /// Free an account whose lease is held by a run known to be dead (a killed `sync`).
    Unlock { account: String },
    /// Create the table, key and queues on a local emulator (AWS_ENDPOINT_URL), reusing
    /// any that exist; prints the environment that points the other commands at them.
    Setup {
        #[arg(long, default_value = "runn-clockify")]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create or replace an account from a JSON file (see README: "Accounts").
    Put { file: PathBuf },
    /// Every account, enabled or not, with the outcome of its last run.
    List,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Clients,
    Projects,
    People,
}

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> ExitCode {
    progress::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!(error = ?e, "the command failed");
            eprintln!("{}", explain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error as one line with its causes, and a hint where there is one. The debug form
/// (the SDK's whole error) goes to the log at debug level only (`RUST_LOG=debug`).
fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = format!("error: {e}");
    let mut src = e.source();
    while let Some(cause) = src {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        src = cause.source();
    }
    let lower = line.to_lowercase();
    let hint = if lower.contains("dispatch failure")
        || lower.contains("connection refused")
        || lower.contains("could not be reached")
    {
        Some(if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            "hint: is the emulator at AWS_ENDPOINT_URL running?"
        } else {
            "hint: is AWS_ENDPOINT_URL set (for a local emulator), or are AWS credentials and a region configured?"
        })
    } else if lower.contains("non-existent table")
        || lower.contains("resourcenotfound")
        || lower.contains("requested resource not found")
    {
        Some("hint: does the table exist? (TABLE_NAME; `runn-clockify setup` creates one on an emulator)")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{line}\n{h}"),
        None => line,
    }
}

fn need(value: &Option<String>, what: &str) -> Fallible<String> {
    value
        .clone()
        .ok_or_else(|| format!("{what} is not set (flag or environment)").into())
}

async fn store(cli: &Cli, aws: &aws_config::SdkConfig) -> Fallible<DynamoStore> {
    let sealer = KmsSealer::new(
        aws_sdk_kms::Client::new(aws),
        need(&cli.kms_key, "--kms-key / KMS_KEY_ID")?,
    );
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        need(&cli.table, "--table / TABLE_NAME")?,
        Arc::new(sealer),
    ))
}

fn account_id(s: &str) -> Fallible<AccountId> {
    Ok(AccountId::parse(s)?)
}

async fn run(cli: Cli) -> Fallible<ExitCode> {
    let aws = shared::aws::config().await;
    match &cli.command {
        Command::Setup { prefix } => {
            setup::run(&aws, prefix).await?;
        }
        Command::Account(AccountCommand::Put { file }) => {
            let raw = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let account: Account = serde_json::from_slice(&raw)
                .map_err(|e| format!("{} is not a valid account: {e}", file.display()))?;
            account
                .validate(HostPolicy::from_env())
                .map_err(|e| format!("{} is not a valid account: {e}", file.display()))?;
            store(&cli, &aws).await?.put_account(&account).await?;
            println!(
                "Account {} saved ({}; credentials sealed).",
                account.settings.id, account.settings.runn_account
            );
        }
        Command::Account(AccountCommand::List) => {
            let store = store(&cli, &aws).await?;
            let all = store.all_settings().await?;
            if all.is_empty() {
                println!("No accounts.");
            }
            for settings in all {
                let last = store.runs(&settings.id, 1).await?;
                println!("{}", display::account_line(&settings, last.first()));
            }
        }
        Command::Status { account, runs } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            let Some(settings) = store.settings(&id).await? else {
                return Err(format!("no account {id}").into());
            };
            let runs = store.runs(&id, *runs).await?;
            print!("{}", display::status(&settings, &runs));
        }
        Command::Show { account } => {
            let id = account_id(account)?;
            let Some(account) = store(&cli, &aws).await?.account(&id).await? else {
                return Err(format!("no account {id}").into());
            };
            let (_, runn) = jobs::clients(&account, &WorkerConfig::default(), None)?;
            print!("{}", display::runn_contents(&account, &runn).await?);
        }
        Command::Sync { account, only } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            return sync(&store, id, only).await;
        }
        Command::Unlock { account } => {
            let id = account_id(account)?;
            match store(&cli, &aws).await?.release_lease(&id, "").await? {
                Some(holder) => println!(
                    "Released the lease of {id}, held by run {}.",
                    holder
                        .rsplit_once(':')
                        .map_or(holder.as_str(), |(run, _)| run)
                ),
                None => println!("No run holds {id}."),
            }
        }
        Command::Schedule => {
            let store = store(&cli, &aws).await?;
            let queue = SqsQueue::new(
                aws_sdk_sqs::Client::new(&aws),
                need(&cli.queue, "--queue / QUEUE_URL")?,
            );
            let run_id = jobs::new_run_id();
            let n = jobs::fan_out(&store, &queue, &run_id).await?;
            println!("Queued the import of {n} account(s) (run {run_id}).");
        }
        Command::Work => {
            let store = store(&cli, &aws).await?;
            let url = need(&cli.queue, "--queue / QUEUE_URL")?;
            return work(&store, aws_sdk_sqs::Client::new(&aws), url).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Longest a command-line run goes before handing over to its own continuation (so a
/// crashed run's lease never blocks the account for long).
const SYNC_SLICE: Duration = Duration::from_secs(30 * 60);

async fn sync(store: &DynamoStore, id: AccountId, only: &[Part]) -> Fallible<ExitCode> {
    let only = (!only.is_empty()).then(|| Parts {
        clients_and_projects: only.contains(&Part::Clients) || only.contains(&Part::Projects),
        people: only.contains(&Part::People),
    });
    let mut job = ImportJob {
        account: id.clone(),
        run_id: jobs::new_run_id(),
        trigger: Trigger::CommandLine,
        only,
    };
    eprintln!(
        "Importing {id} from Clockify into Runn (run {})...",
        job.run_id
    );
    // Continuations stay in this process.
    let queue = MemoryQueue::default();
    let worker = WorkerConfig::default();
    loop {
        let deadline = Instant::now() + SYNC_SLICE;
        let run = jobs::run_job(store, &queue, &job, deadline, &worker);
        let outcome = tokio::select! {
            outcome = run => outcome?,
            _ = tokio::signal::ctrl_c() => {
                // The run is dropped mid-flight; what it wrote is in Runn, and the next
                // run reads it back. Free the account so that run can start at once.
                store.release_lease(&id, &format!("{}:", job.run_id)).await?;
                eprintln!("Interrupted. The lease of {id} is released; the next run carries on where this one stopped.");
                return Ok(ExitCode::from(130));
            }
        };
        match outcome {
            JobOutcome::Done { finished: true } => break,
            JobOutcome::Done { finished: false } => {
                job.trigger = Trigger::Continuation;
                eprintln!("  ...continuing");
            }
            JobOutcome::Deferred(why) => {
                eprintln!("The import did not run: {why}.");
                eprintln!("If that run is dead (a killed command), `runn-clockify unlock {id}` frees the account.");
                return Ok(ExitCode::FAILURE);
            }
            JobOutcome::Dropped(why) | JobOutcome::Retry(why) => {
                eprintln!("The import did not run to the end: {why}");
                print_status(store, &id).await?;
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    print_status(store, &id).await?;
    Ok(ExitCode::SUCCESS)
}

async fn print_status(store: &DynamoStore, id: &AccountId) -> Fallible<()> {
    let runs = store.runs(id, 1).await?;
    if let Some(settings) = store.settings(id).await? {
        print!("{}", display::status(&settings, &runs));
    }
    Ok(())
}

/// Runs queued jobs as Lambda's SQS event source runs the worker, until the queue is
/// empty or a job is left to retry (it comes back after its visibility timeout).
async fn work(store: &DynamoStore, sqs: aws_sdk_sqs::Client, url: String) -> Fallible<ExitCode> {
    let queue = SqsQueue::new(sqs, url);
    let mut total = jobs::Round::default();
    loop {
        let until = Instant::now() + shared::queue::WORKER_TIMEOUT;
        let round = jobs::work_once(
            store,
            &queue,
            &WorkerConfig::default(),
            until,
            Duration::from_secs(1),
        )
        .await
        .map_err(|e| format!("working the queue: {e}"))?;
        total.received += round.received;
        total.retried += round.retried;
        if round.received == 0 || round.retried > 0 {
            break;
        }
    }
    println!(
        "Ran {} import job(s); {} left on the queue to retry.",
        total.received, total.retried
    );
    Ok(if total.retried == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
