//! Benchmark: the first actuals sync of 500 people over 60 days (100,000 Clockify time
//! entries: a back-fill of 15 days and the 45-day window), then the next day's run with
//! nothing changed (Runn's clock advanced 24 hours, so what the first run wrote is not
//! "modified" the next day: it reads only the changes), then the weekly full read. Clockify allows 50 requests a second; Runn 120 a minute, enforced by
//! the simulator with time scaled 60x (a Runn minute lasts a second) and the client's
//! limiter scaled alike. Runs are cut into slices (45 s; see SLICE), as the worker cuts
//! them, each resuming where the last stopped.
//!
//! Reports Clockify and Runn requests against the least the APIs allow, wall time against
//! the bound the rate limits set, the peak heap, and the writes of the second run (goal:
//! none).
//!
//! Run: `make bench` (or `cargo bench -p sims --bench actuals_sync`).

use chrono::{Duration as Days, Utc};
use futures::TryStreamExt;
use shared::account::{Account, AccountId};
use shared::clockify::{ClockifyClient, ClockifyConfig, ClockifyHost};
use shared::http::RateLimit;
use shared::ids::WorkspaceId;
use shared::runn::{NewRole, RunnClient, RunnConfig, RunnHost, MAX_BULK, MAX_LIMIT};
use shared::store::{roles::*, MemoryStore};
use shared::sync::{ActualsReport, Ctx};
use shared::sync::{RunLimits, Switches};
use shared::SecretString;
use sims::bench::{mib, peak_since, start_measuring, PeakAlloc, SimProcess};
use sims::generate::{workspace, GenSpec};
use sims::testkit::run_import;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: PeakAlloc = PeakAlloc;

const PEOPLE: usize = 500;
const DAYS: u32 = 60;
const ENTRIES: usize = 100_000;
const SCALE: u32 = 60;
const RUNN_PER_MINUTE: u32 = 120;
const CLOCKIFY_PER_SECOND: u32 = 50;
const KEY: &str = "bench-clockify-key";
const TOKEN: &str = "TEST_bench-runn-token";
/// A slice of a run, as the worker cuts them: a Lambda run (15 minutes) less its margin
/// would be 14 s scaled, but reading 100,000 entries costs the simulators' CPU more than
/// that on two cores (their answers, not the rate limits, bound the reads), so a slice
/// here is 45 s.
const SLICE: Duration = Duration::from_secs(45);

struct Run {
    slices: usize,
    report: ActualsReport,
    runn_requests: u64,
    runn_429s: u64,
    clockify_requests: u64,
    wall: Duration,
    peak_bytes: usize,
}

fn runn_client(runn: &SimProcess) -> RunnClient {
    let mut rc = RunnConfig::new(
        RunnHost::Custom {
            url: runn.url.clone(),
        },
        SecretString::from(TOKEN),
    );
    rc.rate_limit = RateLimit::new(RUNN_PER_MINUTE, Duration::from_secs(60) / SCALE);
    RunnClient::new(rc).unwrap()
}

fn clockify_client(clockify: &SimProcess) -> ClockifyClient {
    ClockifyClient::new(ClockifyConfig::new(
        ClockifyHost::Server {
            url: clockify.url.clone(),
        },
        SecretString::from(KEY),
    ))
    .unwrap()
}

/// The import of clients, projects and people, then everyone given a real role (as a
/// Runn user would before turning actuals on). Not measured.
async fn prepare(c: &ClockifyClient, r: &RunnClient, runn: &SimProcess, ws: &WorkspaceId) {
    loop {
        let limits = RunLimits {
            deadline: Some(tokio::time::Instant::now() + SLICE),
            max_writes: None,
            ..Default::default()
        };
        let report = run_import(ws, c, r, Switches::ALL, limits)
            .await
            .expect("import");
        if report.finished {
            break;
        }
    }
    let role = r
        .create_role(&NewRole {
            name: "Consultant".into(),
            references: vec![],
        })
        .await
        .unwrap();
    let contracts: Vec<_> = r.contracts().try_concat().await.unwrap();
    let http = reqwest::Client::new();
    for contract in contracts {
        loop {
            let status = http
                .patch(format!("{}contracts/{}", runn.url, contract.id))
                .bearer_auth(TOKEN)
                .header("accept-version", "1.0.0")
                .json(&serde_json::json!({"roleId": role.id}))
                .send()
                .await
                .unwrap()
                .status();
            if status.as_u16() != 429 {
                assert!(status.is_success(), "{status}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn sync(
    store: &MemoryStore,
    account: &Account,
    clockify: &SimProcess,
    runn: &SimProcess,
) -> Run {
    let (c, r) = (clockify_client(clockify), runn_client(runn));
    clockify.take_stats().await;
    runn.take_stats().await;
    let ctx = Ctx {
        account: &account.settings.id,
        settings: &account.settings,
        clockify: &c,
        runn: &r,
        store,
    };
    let baseline = start_measuring();
    let start = Instant::now();
    let mut slices = 0;
    let mut total = ActualsReport::default();
    // As the worker's continuations do: each slice resumes the window where the last
    // stopped.
    let mut resume = None;
    loop {
        slices += 1;
        let limits = RunLimits {
            deadline: Some(tokio::time::Instant::now() + SLICE),
            max_writes: None,
            ..Default::default()
        };
        let scope = shared::model::scope::Scope {
            resume,
            ..shared::model::scope::Scope::daily(Switches::ALL)
        };
        let (report, _) =
            shared::sync::engine::actuals(&ctx, &scope, limits, shared::sync::Mode::APPLY)
                .await
                .expect("sync");
        total.written += report.written;
        total.zeroed += report.zeroed;
        total.writes += report.writes;
        total.unchanged = report.unchanged;
        total.refused.merge(&report.refused);
        if report.finished {
            total.skipped = report.skipped;
            total.full_read = report.full_read;
            break;
        }
        resume = report.resume_from;
        eprintln!(
            "  slice {slices}: {} writes, stopped at {:?}, {:.1} s in",
            report.writes,
            report.resume_from,
            start.elapsed().as_secs_f64(),
        );
        assert!(slices < 50, "no progress");
    }
    let wall = start.elapsed();
    let peak_bytes = peak_since(baseline);
    let runn_stats = runn.take_stats().await;
    let clockify_stats = clockify.take_stats().await;
    Run {
        slices,
        report: total,
        runn_requests: runn_stats["total"].as_u64().unwrap(),
        runn_429s: runn_stats["statuses"]["429"].as_u64().unwrap_or(0),
        clockify_requests: clockify_stats["total"].as_u64().unwrap(),
        wall,
        peak_bytes,
    }
}

fn pages(n: usize, limit: usize) -> u64 {
    n.div_ceil(limit).max(1) as u64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // RUST_LOG=info shows the engine's lines (none by default).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let today = Utc::now().date_naive();
    let first_day = today - Days::days(i64::from(DAYS));
    let spec = GenSpec {
        users: PEOPLE,
        clients: 15,
        projects: 150,
        entries: ENTRIES,
        first_day,
        days: DAYS,
        running: 0,
        ..GenSpec::default()
    };
    let data = workspace(&spec);
    let clockify = SimProcess::start(
        env!("CARGO_BIN_EXE_clockify-sim"),
        &[
            "--generate",
            &serde_json::to_string(&spec).unwrap(),
            "--api-key",
            KEY,
            "--rate-per-second",
            &CLOCKIFY_PER_SECOND.to_string(),
        ],
    );
    let runn = SimProcess::start(
        env!("CARGO_BIN_EXE_runn-sim"),
        &[
            "--token",
            TOKEN,
            "--rate-per-minute",
            &RUNN_PER_MINUTE.to_string(),
            "--time-scale",
            &SCALE.to_string(),
        ],
    );
    let ws = WorkspaceId::new(spec.workspace_id.clone());
    prepare(&clockify_client(&clockify), &runn_client(&runn), &runn, &ws).await;

    let mut account = sims::testkit::offline_account("bench");
    account.settings.clockify_workspace = ws.clone();
    account.settings.time_zone = chrono_tz::UTC;
    account.settings.switches.actuals = true;
    account.settings.actuals_since = Some(first_day);
    account.settings.runn_host = RunnHost::Custom {
        url: runn.url.clone(),
    };
    account.settings.clockify_host = ClockifyHost::Server {
        url: clockify.url.clone(),
    };
    let store = MemoryStore::default();
    store.put_account(&account).await.unwrap();
    let _ = AccountId::parse("bench");

    let first = sync(&store, &account, &clockify, &runn).await;
    runn.advance_clock(std::time::Duration::from_secs(24 * 3600))
        .await;
    let again = sync(&store, &account, &clockify, &runn).await;
    // The weekly full read: as if the last one were eight days ago.
    let id = &account.settings.id;
    let mut state = store.sync_state(id).await.unwrap();
    assert!(state.changes_since.is_some(), "the runs completed");
    state.last_full_read = Some(today - Days::days(8));
    store.set_sync_state(id, &state).await.unwrap();
    let weekly = sync(&store, &account, &clockify, &runn).await;
    assert_eq!(
        again.report.full_read,
        Some(false),
        "the next day reads the changes"
    );
    assert_eq!(weekly.report.full_read, Some(true));
    assert!(
        first.report.refused.is_empty(),
        "{:?}",
        first.report.refused
    );
    for run in [&again, &weekly] {
        assert_eq!(
            (run.report.written, run.report.zeroed, run.report.writes),
            (0, 0, 0),
            "nothing changed, nothing written"
        );
    }

    // The least the APIs allow. Clockify: the users once, and the detailed report at
    // 1,000 a page over the days (widened by one each side) in the fewest 31-day windows.
    let finished: Vec<_> = data
        .time_entries
        .iter()
        .filter(|e| e.end.is_some())
        .collect();
    let report_pages = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let mut n_pages = 1; // the users
        let mut w = from - Days::days(1);
        while w <= to + Days::days(1) {
            let end = w + Days::days(30);
            let n = finished
                .iter()
                .filter(|e| {
                    let d = e.start.date_naive();
                    d >= w && d <= end
                })
                .count();
            n_pages += pages(n, 1000);
            w = end + Days::days(1);
        }
        n_pages
    };
    // The next day re-reads only the window (the back-fill is done).
    let window_first = today - Days::days(i64::from(account.settings.window_days) - 1);
    let min_clockify = report_pages(first_day, today);
    let min_clockify_again = report_pages(window_first, today);
    let in_window: usize = runn_client(&runn)
        .actuals(&shared::runn::DatedFilter {
            min_date: Some(window_first),
            max_date: Some(today),
            ..Default::default()
        })
        .try_concat()
        .await
        .unwrap()
        .len();
    // Runn: people, projects, contracts (200 a page) and the role once; the range's
    // assignments and actuals (500 a page); the day totals in calls of 100.
    let totals = first.report.written;
    let reads = pages(PEOPLE, MAX_LIMIT as usize) * 2 + pages(150, MAX_LIMIT as usize) + 1;
    let min_first = reads + 1 + 1 + totals.div_ceil(MAX_BULK) as u64;
    // The next day: the same reads, the assignments, and one page of modified actuals.
    let min_again = reads + 1 + 1;
    let min_weekly = reads + 1 + pages(in_window, 500);
    let runn_limit = RateLimit::new(RUNN_PER_MINUTE, Duration::from_secs(60) / SCALE);
    let clockify_limit = RateLimit::per_second(CLOCKIFY_PER_SECOND);

    println!(
        "Actuals sync: {PEOPLE} people, {DAYS} days, {} finished entries; {} day totals; Runn {RUNN_PER_MINUTE}/min (time x{SCALE}), Clockify {CLOCKIFY_PER_SECOND}/s; slices of 45 s",
        finished.len(),
        totals
    );
    println!(
        "{:<10} {:>6} {:>13} {:>13} {:>6} {:>9} {:>9} {:>6} {:>9} {:>9}",
        "run",
        "slices",
        "Clockify req",
        "Runn req",
        "429s",
        "wall",
        "bound",
        "ratio",
        "writes",
        "peak heap"
    );
    for (name, run, min_runn, min_clockify) in [
        ("first", &first, min_first, min_clockify),
        ("next day", &again, min_again, min_clockify_again),
        ("weekly", &weekly, min_weekly, min_clockify_again),
    ] {
        let bound = runn_limit
            .min_duration_for(run.runn_requests)
            .max(clockify_limit.min_duration_for(run.clockify_requests));
        println!(
            "{:<10} {:>6} {:>6}/{:<6} {:>6}/{:<6} {:>6} {:>8.1}s {:>8.1}s {:>6.2} {:>9} {:>6.1} MiB",
            name,
            run.slices,
            run.clockify_requests,
            min_clockify,
            run.runn_requests,
            min_runn,
            run.runn_429s,
            run.wall.as_secs_f64(),
            bound.as_secs_f64(),
            // A bound under a second (the requests fit the limits' bursts) says nothing.
            run.wall.as_secs_f64() / bound.as_secs_f64().max(1.0),
            run.report.writes,
            mib(run.peak_bytes),
        );
    }
    println!(
        "(requests shown as made/least possible; the bound is the longer of what the two rate limits allow for the requests made)"
    );
}
