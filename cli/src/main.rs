//! `runn-clockify`: the operators' command line, on the same code as the functions.
//!
//! The store and queue come from `TABLE_NAME`, `KMS_KEY_ID` and `QUEUE_URL` (or flags);
//! `AWS_ENDPOINT_URL` points everything at a local emulator.

mod display;
mod hooks;
mod links;
mod progress;
mod setup;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use shared::account::Switches;
use shared::account::{
    check_people_filter_change, check_rebinding_state, people_filter_changes, switches_actuals_on,
    Account, AccountId, AccountSettings, Kind, PeopleFilter, Trigger,
};
use shared::hosts::HostPolicy;
use shared::jobs::{self, JobOutcome, WorkerConfig};
use shared::queue::{Job, MemoryQueue, SqsQueue, Work};
use shared::store::{roles::*, DynamoStore, KmsSealer, Write};
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
    /// The DynamoDB table of accounts, their runs, leases, marks and actuals ledger.
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    /// The KMS key that seals the accounts' credentials.
    #[arg(long, env = "KMS_KEY_ID", global = true)]
    kms_key: Option<String>,
    /// The SQS queue of import jobs (for `schedule` and `work`).
    #[arg(long, env = "QUEUE_URL", global = true)]
    queue: Option<String>,
    /// The SQS queue of webhook jobs (for `work`: worked after the job queue).
    #[arg(long, env = "HOOK_QUEUE_URL", global = true)]
    hook_queue: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register or update integration accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run what the daily job runs, now, in this process: the import, then the actuals
    /// sync when actuals are on (the back-fill first, if it is not done). With --from and
    /// --to, a one-off re-sync of the actuals of a past range instead.
    Sync {
        account: String,
        /// Import only these parts (within the account's switches).
        #[arg(long, value_delimiter = ',', value_enum, conflicts_with = "from")]
        only: Vec<Part>,
        /// First day of a one-off actuals re-sync (YYYY-MM-DD).
        #[arg(long, requires = "to")]
        from: Option<NaiveDate>,
        /// Last day of a one-off actuals re-sync (YYYY-MM-DD).
        #[arg(long, requires = "from")]
        to: Option<NaiveDate>,
        /// Show what the run would do, and write nothing: no write to Runn, no ledger, no
        /// lease held. Recorded as a preview run.
        #[arg(long)]
        dry_run: bool,
    },
    /// Clockify's hours beside Runn's actuals, per person and project (default: the
    /// account's window), to check a sync.
    Hours {
        account: String,
        #[arg(long, requires = "to")]
        from: Option<NaiveDate>,
        #[arg(long, requires = "from")]
        to: Option<NaiveDate>,
    },
    /// Write the zero-hour actuals of a week (the weekly autofill), now.
    Autofill {
        account: String,
        /// The ISO week, e.g. 2026-W47; default: the last complete week.
        #[arg(long, value_parser = parse_week)]
        week: Option<NaiveDate>,
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
    /// For an existing Runn customer: the Clockify records that look like ones already
    /// in Runn, as a table (and, with --out, a file to review: delete a line to reject
    /// it); with --apply, a reviewed file's links written and its deleted lines recorded
    /// as rejected.
    Link {
        account: String,
        /// Write the suggestions to this file for review.
        #[arg(long, conflicts_with = "apply")]
        out: Option<PathBuf>,
        /// Apply a reviewed file.
        #[arg(long)]
        apply: Option<PathBuf>,
        /// With --apply: show what applying would do, and write nothing.
        #[arg(long, requires = "apply")]
        dry_run: bool,
    },
    /// Remove what the integration imported: delete the actuals it wrote (where Runn
    /// still holds what it wrote), archive the projects, people and clients it created.
    /// A dry run unless --apply.
    Remove {
        account: String,
        /// Remove only these parts (default: all).
        #[arg(long, value_delimiter = ',', value_enum)]
        kinds: Vec<Part>,
        /// Carry the removal out (without it: a dry run, nothing written).
        #[arg(long)]
        apply: bool,
        /// Archive records given assignments in Runn since the import too.
        #[arg(long)]
        include_planned: bool,
        /// Archive records of unknown origin (imported before the record of creates) too.
        #[arg(long)]
        include_unrecorded: bool,
    },
    /// This integration's Clockify webhooks for an account: list them (the default),
    /// register (or repair) them, or remove them.
    Webhooks {
        account: String,
        #[arg(long, conflicts_with_all = ["remove", "list"])]
        register: bool,
        #[arg(long, conflicts_with = "list")]
        remove: bool,
        #[arg(long)]
        list: bool,
        /// The HTTP API's public URL (where Clockify delivers).
        #[arg(long, env = "PUBLIC_API_URL")]
        url: Option<String>,
    },
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
    /// Change an account's switches and actuals settings (credentials stay as they are).
    Set {
        account: String,
        #[arg(long, value_enum)]
        actuals: Option<OnOff>,
        #[arg(long, value_enum)]
        autofill: Option<OnOff>,
        /// The first day whose timesheets become actuals (the back-fill start).
        #[arg(long)]
        since: Option<NaiveDate>,
        /// Days each daily run re-reads (1 to 366).
        #[arg(long)]
        window: Option<u32>,
    },
    /// Every account, enabled or not, with the outcome of its last run.
    List,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// `2026-W47` → the Monday of that ISO week.
fn parse_week(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(&format!("{}-1", s.trim()), "%G-W%V-%u")
        .map_err(|_| format!("{s:?} is not an ISO week like 2026-W47"))
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Clients,
    Projects,
    People,
    Actuals,
}

impl Part {
    /// The switches some parts name (one rule with the API's import buttons).
    fn switches(parts: &[Part]) -> Switches {
        let kinds: Vec<Kind> = parts
            .iter()
            .map(|p| match p {
                Part::Clients => Kind::Clients,
                Part::Projects => Kind::Projects,
                Part::People => Kind::People,
                Part::Actuals => Kind::Actuals,
            })
            .collect();
        Switches::of_kinds(&kinds)
    }
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
        .ok_or_else(|| {
            format!("{what} is not set (flag or environment); `runn-clockify setup` prints them for a local emulator").into()
        })
}

async fn store(cli: &Cli, aws: &aws_config::SdkConfig) -> Fallible<DynamoStore> {
    let sealer = KmsSealer::new(
        aws_sdk_kms::Client::new(aws),
        need(&cli.kms_key, "KMS_KEY_ID (or --kms-key)")?,
    );
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        need(&cli.table, "TABLE_NAME (or --table)")?,
        Arc::new(sealer),
    ))
}

/// An account file, a refusal naming the field at fault (`time_zone: failed to parse
/// timezone`).
fn parse_account(raw: &[u8]) -> Result<Account, String> {
    fn named<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, String> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let field = e.path().to_string();
            if field.is_empty() || field == "." {
                e.into_inner().to_string()
            } else {
                format!("{field}: {}", e.into_inner())
            }
        })
    }
    let value: serde_json::Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    // The settings first, on their own: inside the account (flattened) serde loses the
    // path of a field at fault.
    named::<shared::account::AccountSettings>(&value)?;
    named(&value)
}

fn account_id(s: &str) -> Fallible<AccountId> {
    Ok(AccountId::parse(s)?)
}

async fn run(cli: Cli) -> Fallible<ExitCode> {
    // Settings first: a missing one is one clear line, before any AWS client is built.
    if !matches!(cli.command, Command::Setup { .. }) {
        need(&cli.kms_key, "KMS_KEY_ID (or --kms-key)")?;
        need(&cli.table, "TABLE_NAME (or --table)")?;
    }
    if matches!(cli.command, Command::Schedule | Command::Work) {
        need(&cli.queue, "QUEUE_URL (or --queue)")?;
    }
    let aws = shared::aws::config().await;
    match &cli.command {
        Command::Setup { prefix } => {
            setup::run(&aws, prefix).await?;
        }
        Command::Account(AccountCommand::Put { file }) => {
            let raw = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let mut account: Account = parse_account(&raw)
                .map_err(|e| format!("{} is not a valid account: {e}", file.display()))?;
            // Stored as Save & Run stores it: normalised, and none when it leaves everyone in.
            account.settings.people_filter = account
                .settings
                .people_filter
                .as_ref()
                .map(PeopleFilter::normalized)
                .filter(|f| !f.is_empty());
            account
                .validate(HostPolicy::from_env())
                .map_err(|e| format!("{} is not a valid account: {e}", file.display()))?;
            put_account(&store(&cli, &aws).await?, &account).await?;
            println!(
                "Account {} saved ({}; credentials sealed).",
                account.settings.id, account.settings.runn_account
            );
        }
        Command::Account(AccountCommand::Set {
            account,
            actuals,
            autofill,
            since,
            window,
        }) => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            let change = |settings: &mut AccountSettings| {
                if let Some(a) = actuals {
                    settings.switches.actuals = *a == OnOff::On;
                }
                if let Some(a) = autofill {
                    settings.autofill = *a == OnOff::On;
                }
                if since.is_some() {
                    settings.actuals_since = *since;
                }
                if let Some(w) = window {
                    settings.window_days = *w;
                }
            };
            let settings = set_account(&store, &id, change).await?;
            println!("Account {id} updated.");
            print!("{}", display::status(&settings, &[]));
        }
        Command::Account(AccountCommand::List) => {
            let store = store(&cli, &aws).await?;
            let all = store.all_settings().await?;
            if all.settings.is_empty() && all.unreadable.is_empty() {
                println!("No accounts.");
            }
            for settings in all.settings {
                let last = store.runs(&settings.id, 1).await?;
                println!("{}", display::account_line(&settings, last.first()));
            }
            for key in &all.unreadable {
                println!("(a record that could not be read: {key})");
            }
        }
        Command::Status { account, runs } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            let Some(status) = shared::status::AccountStatus::read(&store, &id, *runs).await?
            else {
                return Err(format!("no account {id}").into());
            };
            print!("{}", display::account_status(&status));
        }
        Command::Show { account } => {
            let id = account_id(account)?;
            let Some(account) = store(&cli, &aws).await?.account(&id).await? else {
                return Err(format!("no account {id}").into());
            };
            let (_, runn) = jobs::clients(&account, &WorkerConfig::default(), None)?;
            print!("{}", display::runn_contents(&account, &runn).await?);
        }
        Command::Sync {
            account,
            only,
            from,
            to,
            dry_run,
        } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            let only = (!only.is_empty()).then(|| Part::switches(only));
            let range = match (from, to) {
                (Some(from), Some(to)) if from > to => {
                    return Err(format!("--from {from} is after --to {to}").into())
                }
                (Some(from), Some(to)) => Some((*from, *to)),
                _ => None,
            };
            let work = match (range, *dry_run) {
                (range, true) => Work::Preview { only, range },
                (Some((from, to)), false) => Work::Actuals { from, to },
                (None, false) => Work::Import { only, resume: None },
            };
            return sync(&store, id, work).await;
        }
        Command::Hours { account, from, to } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            let Some(account) = store.account(&id).await? else {
                return Err(format!("no account {id}").into());
            };
            let s = &account.settings;
            let today = shared::sync::today(s.time_zone);
            // Default: the days the sync keeps in Runn (the window, from `actuals_since`).
            let (from, to) = match (from, to) {
                (Some(f), Some(t)) => (*f, *t),
                _ => shared::sync::hours::default_range(s, today),
            };
            let (clockify, runn) = jobs::clients(&account, &WorkerConfig::default(), None)?;
            let ctx = shared::sync::Ctx {
                account: &id,
                settings: s,
                clockify: &clockify,
                runn: &runn,
                store: &store,
            };
            let rows = shared::sync::hours::hours(&ctx, from, to).await?;
            print!("{}", display::hours(from, to, &rows));
            if rows.iter().any(|r| r.clockify != r.runn) {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Link {
            account,
            out,
            apply,
            dry_run,
        } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            return match apply {
                Some(file) => link_apply(&store, id, file, *dry_run).await,
                None => link_suggest(&store, id, out.as_deref()).await,
            };
        }
        Command::Remove {
            account,
            kinds,
            apply,
            include_planned,
            include_unrecorded,
        } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            removal_allowed(&store, &id).await?;
            let request = shared::model::links::RemovalRequest {
                kinds: if kinds.is_empty() {
                    Switches::ALL
                } else {
                    Part::switches(kinds)
                },
                include_planned: *include_planned,
                include_unrecorded: *include_unrecorded,
                dry_run: !apply,
            };
            return sync(&store, id, Work::Remove(request)).await;
        }
        Command::Autofill { account, week } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            return sync(&store, id, Work::Autofill { week: *week }).await;
        }
        Command::Unlock { account } => {
            let id = account_id(account)?;
            match store(&cli, &aws).await?.release_lease(&id, "").await? {
                Some(holder) => println!(
                    "Released the lease of {id}, held by run {}.",
                    shared::store::run_of_holder(&holder)
                ),
                None => println!("No run holds {id}."),
            }
        }
        Command::Schedule => {
            let store = store(&cli, &aws).await?;
            let queue = SqsQueue::new(
                aws_sdk_sqs::Client::new(&aws),
                need(&cli.queue, "QUEUE_URL (or --queue)")?,
            );
            let run_id = jobs::new_run_id();
            let done = jobs::fan_out(&store, &queue, &run_id).await?;
            println!(
                "Queued the import of {} account(s) (run {run_id}).",
                done.queued
            );
            if done.unreadable > 0 {
                println!(
                    "Left out {} account record(s) that could not be read (see the log).",
                    done.unreadable
                );
            }
        }
        Command::Webhooks {
            account,
            register,
            remove,
            list: _,
            url,
        } => {
            let id = account_id(account)?;
            let store = store(&cli, &aws).await?;
            let action = match (register, remove) {
                (true, _) => hooks::Action::Register,
                (_, true) => hooks::Action::Remove,
                _ => hooks::Action::List,
            };
            return hooks::webhooks(&store, id, action, url.as_deref()).await;
        }
        Command::Work => {
            let store = store(&cli, &aws).await?;
            let url = need(&cli.queue, "QUEUE_URL (or --queue)")?;
            let sqs = aws_sdk_sqs::Client::new(&aws);
            let jobs = work(&store, sqs.clone(), url, "import").await?;
            let hooks = match cli.hook_queue.clone().filter(|u| !u.is_empty()) {
                Some(hooks) => work(&store, sqs, hooks, "webhook").await?,
                None => ExitCode::SUCCESS,
            };
            // A job left to retry on either queue is a failure.
            return Ok(if jobs == ExitCode::SUCCESS {
                hooks
            } else {
                jobs
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Longest a command-line run goes before handing over to its own continuation (so a
/// crashed run's lease never blocks the account for long).
const SYNC_SLICE: Duration = Duration::from_secs(30 * 60);

/// Times a read-modify-write of an account re-reads and decides again when another
/// writer (a worker, Runn's Save & Run) got there first.
const WRITE_ATTEMPTS: usize = 3;

/// `account put`: creates or replaces the account, conditional on what was read (the
/// "Unknown" gate is decided on it), the rules decided again if it changed meanwhile.
async fn put_account(store: &DynamoStore, account: &Account) -> Fallible<()> {
    let id = &account.settings.id;
    for _ in 0..WRITE_ATTEMPTS {
        let old = store.state(id).await?;
        if switches_actuals_on(old.as_ref().map(|s| &s.settings), &account.settings) {
            unknown_gate(account).await?;
        }
        if people_filter_changes(old.as_ref().map(|s| &s.settings), &account.settings) {
            people_filter_gate(account).await?;
        }
        let version = old.as_ref().map_or(0, |s| s.version);
        match store.replace_account(account, version).await? {
            Write::Applied => return Ok(()),
            Write::Conflict | Write::Missing => continue,
        }
    }
    Err(format!("account {id} kept changing while it was being saved; nothing was saved").into())
}

/// `account set`: changes the settings `change` names, conditional on what was read; a
/// change that would send a stored credential elsewhere is refused (it cannot happen
/// with the flags `set` has, but the rule is the same wherever settings enter).
async fn set_account(
    store: &DynamoStore,
    id: &AccountId,
    change: impl Fn(&mut AccountSettings),
) -> Fallible<AccountSettings> {
    for _ in 0..WRITE_ATTEMPTS {
        let Some(current) = store.state(id).await? else {
            return Err(format!("no account {id}").into());
        };
        let mut settings = current.settings.clone();
        change(&mut settings);
        settings
            .validate(HostPolicy::from_env())
            .map_err(|e| format!("not changed: {e}"))?;
        check_rebinding_state(&current, &settings, |_| false)
            .map_err(|e| format!("not changed: {e}"))?;
        check_people_filter_change(Some(&current.settings), &settings, false)
            .map_err(|e| format!("not changed: {e}"))?;
        if switches_actuals_on(Some(&current.settings), &settings) {
            let Some(opened) = store.open_account(id).await? else {
                return Err(format!("no account {id}").into());
            };
            unknown_gate(&opened.account).await?;
        }
        match store.update_settings(&settings, current.version).await? {
            Write::Applied => return Ok(settings),
            Write::Missing => return Err(format!("no account {id}").into()),
            Write::Conflict => continue,
        }
    }
    Err(format!("account {id} kept changing while it was being updated; not changed").into())
}

/// Refuses a changed people filter that names a group the workspace does not have,
/// asking Clockify with the file's key (as Save & Run does with the request's).
async fn people_filter_gate(account: &Account) -> Fallible<()> {
    let Some(filter) = &account.settings.people_filter else {
        return Ok(());
    };
    let (clockify, _) = jobs::clients(account, &WorkerConfig::default(), None)?;
    let ws = &account.settings.clockify_workspace;
    shared::checks::check_people_filter(&clockify, ws, filter)
        .await
        .map_err(|e| format!("{e}; nothing was saved.").into())
}

/// Refuses to turn actuals on while linked people are still on "Unknown".
async fn unknown_gate(account: &Account) -> Fallible<()> {
    let (_, runn) = jobs::clients(account, &WorkerConfig::default(), None)?;
    let names = shared::sync::gather::people_on_unknown_role(&runn).await?;
    match shared::checks::unknown_role_refusal(&names) {
        Some(message) => Err(format!("{message}; nothing was changed.").into()),
        None => Ok(()),
    }
}

/// A removal needs the stored Runn token: refused on an integration turned off.
async fn removal_allowed(store: &DynamoStore, id: &AccountId) -> Fallible<()> {
    let Some(state) = store.state(id).await? else {
        return Err(format!("no account {id}").into());
    };
    let stored = state.credentials.runn_token && state.credentials.clockify_api_key;
    if !state.settings.enabled || !stored {
        return Err(format!(
            "the integration of {id} is off, and a removal needs its Runn token: Save & Run it again first"
        )
        .into());
    }
    Ok(())
}

/// `link`: the suggestions run, its table, and (with `out`) the file to review.
async fn link_suggest(
    store: &DynamoStore,
    id: AccountId,
    out: Option<&std::path::Path>,
) -> Fallible<ExitCode> {
    let run_id = jobs::new_run_id();
    let code = sync_job(store, job(&id, &run_id, Work::Suggest)).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let mut all = vec![];
    for page in 0.. {
        let Some((mut found, more)) = store.suggestions(&id, &run_id, page).await? else {
            break;
        };
        all.append(&mut found);
        if !more {
            break;
        }
    }
    print!("\n{}", links::table(&all));
    if let Some(path) = out {
        std::fs::write(path, links::file(id.as_str(), &run_id, &all))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "\nWrote {} suggestion(s) to {}: delete a line to reject it, keep one candidate on a line that lists several, then `runn-clockify link {id} --apply {}`.",
            all.len(),
            path.display(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `link --apply`: a reviewed file's links and rejections.
async fn link_apply(
    store: &DynamoStore,
    id: AccountId,
    path: &std::path::Path,
    dry_run: bool,
) -> Fallible<ExitCode> {
    let raw = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reviewed =
        links::read(&raw).map_err(|e| format!("{} cannot be applied: {e}", path.display()))?;
    if reviewed.account != id.as_str() {
        return Err(format!(
            "{} holds the suggestions of account {}, not {id}",
            path.display(),
            reviewed.account
        )
        .into());
    }
    for line in &reviewed.open {
        eprintln!("Left open: {line}");
    }
    // A job takes at most a thousand of each: a longer file goes in turns.
    let max = shared::model::links::MAX_LINKS;
    let (mut links, mut rejected) = (reviewed.request.links, reviewed.request.rejected);
    loop {
        let request = shared::model::links::LinkRequest {
            links: links.drain(..links.len().min(max)).collect(),
            rejected: rejected.drain(..rejected.len().min(max)).collect(),
        };
        request
            .check()
            .map_err(|(_, why)| format!("{} cannot be applied: {why}", path.display()))?;
        let code = sync(store, id.clone(), Work::Link { request, dry_run }).await?;
        if code != ExitCode::SUCCESS || (links.is_empty() && rejected.is_empty()) {
            return Ok(code);
        }
    }
}

fn job(id: &AccountId, run_id: &str, work: Work) -> Job {
    Job {
        account: id.clone(),
        run_id: run_id.to_owned(),
        trigger: Trigger::CommandLine,
        work,
    }
}

async fn sync(store: &DynamoStore, id: AccountId, work: Work) -> Fallible<ExitCode> {
    sync_job(store, job(&id, &jobs::new_run_id(), work)).await
}

/// Runs a job here, its continuations too, and prints the account's status after.
async fn sync_job(store: &DynamoStore, mut job: Job) -> Fallible<ExitCode> {
    let id = job.account.clone();
    let what = match &job.work {
        Work::Import { .. } => "Importing".to_owned(),
        Work::Actuals { from, to } => format!("Re-syncing the actuals of {from} to {to} for"),
        Work::Autofill { week } => match *week {
            Some(w) => format!("Autofilling the week of {w} for"),
            None => "Autofilling the last complete week for".to_owned(),
        },
        Work::Preview { .. } => "A dry run (nothing is written) of the import of".to_owned(),
        Work::Suggest => "Looking for records already in Runn for".to_owned(),
        Work::Link { dry_run: true, .. } => {
            "A dry run (nothing is written) of the links of".to_owned()
        }
        Work::Link { .. } => "Linking records already in Runn for".to_owned(),
        Work::Remove(r) if r.dry_run => {
            "A dry run (nothing is written) of the removal of what was imported for".to_owned()
        }
        Work::Remove(_) => "Removing what was imported for".to_owned(),
        Work::Hooks(w) => format!("Webhook job ({w:?}) for"),
    };
    eprintln!(
        "{what} {id} from Clockify into Runn (run {})...",
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
                // The run queued its own continuation: carry on with it here.
                if let Some(next) = queue.sent.lock().expect("queue").pop() {
                    job = next;
                }
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
async fn work(
    store: &DynamoStore,
    sqs: aws_sdk_sqs::Client,
    url: String,
    what: &str,
) -> Fallible<ExitCode> {
    let queue = SqsQueue::new(sqs, url);
    let mut total = jobs::Round::default();
    let worker = WorkerConfig {
        public_api_url: std::env::var("PUBLIC_API_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        ..WorkerConfig::default()
    };
    loop {
        let until = Instant::now() + shared::queue::WORKER_TIMEOUT;
        let round = jobs::work_once(store, &queue, &worker, until, Duration::from_secs(1))
            .await
            .map_err(|e| format!("working the queue: {e}"))?;
        total.received += round.received;
        total.retried += round.retried;
        if round.received == 0 || round.retried > 0 {
            break;
        }
    }
    println!(
        "Ran {} {what} job(s); {} left on the queue to retry.",
        total.received, total.retried
    );
    Ok(if total.retried == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
