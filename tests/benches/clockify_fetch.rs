//! Benchmark: fetching a month of time entries for a generated workspace of 200 users and
//! 50,000 entries, through the detailed report and through the per-user endpoint.
//! Reports request counts against the least each way allows, wall time against the bound
//! the 50 requests/s limit sets, and the fetch's peak heap (the simulator runs in its own
//! process, so only the client's memory is counted).
//!
//! Run: `make bench` (or `cargo bench -p sims --bench clockify_fetch`).

use futures::TryStreamExt;
use shared::clockify::{
    ClockifyClient, ClockifyConfig, ClockifyHost, DateRange, EntrySource, MAX_PAGE_SIZE,
    MAX_REPORT_PAGE_SIZE,
};
use shared::http::{RateLimit, RetryPolicy};
use shared::ids::WorkspaceId;
use shared::SecretString;
use sims::bench::{mib, peak_since, start_measuring, PeakAlloc, SimProcess};
use sims::generate::GenSpec;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: PeakAlloc = PeakAlloc;

const USERS: usize = 200;
const ENTRIES: usize = 50_000;
const KEY: &str = "bench-clockify-key";
const RATE: u32 = 50;

struct Outcome {
    entries: usize,
    minutes: i64,
    requests: u64,
    wall: Duration,
    peak_bytes: usize,
}

async fn fetch(
    sim: &SimProcess,
    source: EntrySource,
    range: DateRange,
    ws: &WorkspaceId,
) -> Outcome {
    let mut cfg = ClockifyConfig::new(
        ClockifyHost::Server {
            url: sim.url.clone(),
        },
        SecretString::from(KEY),
    );
    cfg.entry_source = source;
    cfg.rate_limit = RateLimit::per_second(RATE);
    cfg.retry = RetryPolicy::default();
    let client = ClockifyClient::new(cfg).unwrap();
    sim.take_stats().await;

    let baseline = start_measuring();
    let start = Instant::now();
    let (mut entries, mut minutes) = (0usize, 0i64);
    let mut pages = client.time_entries(ws, range);
    while let Some(page) = pages.try_next().await.unwrap() {
        entries += page.len();
        minutes += page.iter().map(|e| e.duration().num_minutes()).sum::<i64>();
    }
    drop(pages);
    let wall = start.elapsed();
    let peak_bytes = peak_since(baseline);

    let stats = sim.take_stats().await;
    let requests = stats["total"].as_u64().unwrap();
    Outcome {
        entries,
        minutes,
        requests,
        wall,
        peak_bytes,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let spec = GenSpec {
        users: USERS,
        entries: ENTRIES,
        clients: 40,
        projects: 300,
        projects_without_client: 20,
        days: 29,
        ..GenSpec::default()
    };
    let sim = SimProcess::start(
        env!("CARGO_BIN_EXE_clockify-sim"),
        &[
            "--generate",
            &serde_json::to_string(&spec).unwrap(),
            "--api-key",
            KEY,
            "--rate-per-second",
            &RATE.to_string(),
        ],
    );

    let ws = WorkspaceId::new(spec.workspace_id.clone());
    // Entries start at local office hours in zones from UTC-4 to UTC+12, so in UTC the
    // month reaches back one day: read 30 UTC days (one report window).
    let range = DateRange::new(
        spec.first_day - chrono::Duration::days(1),
        spec.first_day + chrono::Duration::days(spec.days as i64 - 1),
        chrono_tz::UTC,
    )
    .unwrap();
    let report = fetch(&sim, EntrySource::Report, range, &ws).await;
    let per_user = fetch(&sim, EntrySource::PerUser, range, &ws).await;
    drop(sim);

    assert_eq!(report.entries, ENTRIES, "the report read every entry");
    assert_eq!(per_user.entries, ENTRIES, "per-user reads read every entry");
    assert_eq!(report.minutes, per_user.minutes, "both ways agree");

    let min_report = ENTRIES.div_ceil(MAX_REPORT_PAGE_SIZE as usize) as u64;
    let per_user_pages: u64 = (ENTRIES / USERS).div_ceil(MAX_PAGE_SIZE as usize) as u64;
    let min_per_user =
        USERS.div_ceil(MAX_PAGE_SIZE as usize) as u64 + USERS as u64 * per_user_pages;
    let limit = RateLimit::per_second(RATE);
    let all_entries_bytes = ENTRIES * std::mem::size_of::<shared::clockify::TimeEntry>();

    println!("Clockify fetch: {USERS} users, {ENTRIES} time entries over {} days, limit {RATE} requests/s", spec.days);
    println!(
        "{:<12} {:>9} {:>9} {:>7} {:>10} {:>10} {:>8} {:>11}",
        "source", "requests", "minimum", "ratio", "wall", "rate bound", "ratio", "peak heap"
    );
    for (name, o, min) in [
        ("report", &report, min_report),
        ("per-user", &per_user, min_per_user),
    ] {
        let bound = limit.min_duration_for(o.requests);
        println!(
            "{:<12} {:>9} {:>9} {:>7.2} {:>9.2}s {:>9.2}s {:>8} {:>8.2} MiB",
            name,
            o.requests,
            min,
            o.requests as f64 / min as f64,
            o.wall.as_secs_f64(),
            bound.as_secs_f64(),
            if bound.is_zero() {
                "n/a".to_string()
            } else {
                format!("{:.2}", o.wall.as_secs_f64() / bound.as_secs_f64())
            },
            mib(o.peak_bytes),
        );
    }
    println!(
        "report vs per-user: {:.1}x fewer requests; peak heap of the report fetch {:.2} MiB, where holding all {ENTRIES} entries would take at least {:.2} MiB",
        per_user.requests as f64 / report.requests as f64,
        mib(report.peak_bytes),
        mib(all_entries_bytes),
    );
}
