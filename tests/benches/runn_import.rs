//! Benchmark: the first import of an account with 2,000 projects (under 100 clients) and
//! 500 people, then the daily re-run that finds nothing new. Runn allows 120 requests a
//! minute; the simulator enforces it with time scaled 60x (a Runn minute lasts a second),
//! and the client's limiter is scaled alike. The first import needs more than one Lambda
//! run, so it runs in 15-minute slices (scaled), each continuing where the last stopped.
//!
//! Reports Runn requests against the least the rules allow, wall time against the bound
//! the rate limit sets, the slices used, and the import's peak heap.
//!
//! Run: `make bench` (or `cargo bench -p sims --bench runn_import`).

use shared::clockify::{ClockifyClient, ClockifyConfig, ClockifyHost};
use shared::http::RateLimit;
use shared::ids::WorkspaceId;
use shared::runn::{RunnClient, RunnConfig, RunnHost, MAX_BULK, MAX_LIMIT, MAX_LIMIT_LARGE};
use shared::sync::{Counts, RunLimits, Switches};
use shared::SecretString;
use sims::bench::{mib, peak_since, start_measuring, PeakAlloc, SimProcess};
use sims::generate::GenSpec;
use sims::testkit::run_import;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: PeakAlloc = PeakAlloc;

const CLIENTS: usize = 80;
const PROJECTS: usize = 2_000;
const PEOPLE: usize = 500;
const SCALE: u32 = 60;
const RUNN_PER_MINUTE: u32 = 120;
const KEY: &str = "bench-clockify-key";
const TOKEN: &str = "TEST_bench-runn-token";
/// A Lambda run (15 minutes) less the worker's safety margin (1 minute), scaled.
const SLICE: Duration = Duration::from_secs(14 * 60 / SCALE as u64);

struct Run {
    slices: usize,
    created: Counts,
    runn_requests: u64,
    runn_429s: u64,
    clockify_requests: u64,
    wall: Duration,
    peak_bytes: usize,
}

async fn import(clockify: &SimProcess, runn: &SimProcess, ws: &WorkspaceId) -> Run {
    let c = ClockifyClient::new(ClockifyConfig::new(
        ClockifyHost::Server {
            url: clockify.url.clone(),
        },
        SecretString::from(KEY),
    ))
    .unwrap();
    let mut rc = RunnConfig::new(
        RunnHost::Custom {
            url: runn.url.clone(),
        },
        SecretString::from(TOKEN),
    );
    rc.rate_limit = RateLimit::new(RUNN_PER_MINUTE, Duration::from_secs(60) / SCALE);
    let r = RunnClient::new(rc).unwrap();
    clockify.take_stats().await;
    runn.take_stats().await;

    let baseline = start_measuring();
    let start = Instant::now();
    let mut created = Counts::default();
    let mut slices = 0;
    loop {
        slices += 1;
        let limits = RunLimits {
            deadline: Some(tokio::time::Instant::now() + SLICE),
            max_writes: None,
            ..Default::default()
        };
        let all = Switches::ALL;
        let report = run_import(ws, &c, &r, all, limits).await.expect("import");
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        created.clients += report.created.clients;
        created.projects += report.created.projects;
        created.people += report.created.people;
        if report.finished {
            break;
        }
    }
    let wall = start.elapsed();
    let peak_bytes = peak_since(baseline);
    let runn_stats = runn.take_stats().await;
    let clockify_stats = clockify.take_stats().await;
    let runn_429s = runn_stats["statuses"]["429"].as_u64().unwrap_or(0);
    Run {
        slices,
        created,
        runn_requests: runn_stats["total"].as_u64().unwrap(),
        runn_429s,
        clockify_requests: clockify_stats["total"].as_u64().unwrap(),
        wall,
        peak_bytes,
    }
}

fn pages(n: usize, limit: u32) -> u64 {
    // An empty list is still one request.
    n.div_ceil(limit as usize).max(1) as u64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let spec = GenSpec {
        clients: CLIENTS,
        projects: PROJECTS,
        users: PEOPLE,
        entries: 0,
        running: 0,
        ..GenSpec::default()
    };
    let clockify = SimProcess::start(
        env!("CARGO_BIN_EXE_clockify-sim"),
        &[
            "--generate",
            &serde_json::to_string(&spec).unwrap(),
            "--api-key",
            KEY,
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

    let first = import(&clockify, &runn, &ws).await;
    let again = import(&clockify, &runn, &ws).await;

    let c = first.created;
    assert_eq!(
        (c.clients, c.projects, c.people),
        (CLIENTS, PROJECTS, PEOPLE),
        "everything imported once"
    );
    let c2 = again.created;
    assert_eq!(
        (c2.clients, c2.projects, c2.people),
        (0, 0, 0),
        "nothing twice"
    );

    // The least the rules allow. First import: one read each of clients, projects,
    // people, roles (Runn is empty) and current contracts (to count people on Unknown,
    // 500 a page); clients in bulk; each project and person alone; the Unknown role once.
    let min_first = 4
        + pages(PEOPLE, MAX_LIMIT_LARGE)
        + CLIENTS.div_ceil(MAX_BULK) as u64
        + PROJECTS as u64
        + 1
        + PEOPLE as u64;
    // Re-run: read what Runn holds, write nothing.
    let min_again = pages(CLIENTS, MAX_LIMIT)
        + pages(PROJECTS, MAX_LIMIT)
        + pages(PEOPLE, MAX_LIMIT)
        + 1
        + pages(PEOPLE, MAX_LIMIT_LARGE);
    let limit = RateLimit::new(RUNN_PER_MINUTE, Duration::from_secs(60) / SCALE);

    println!(
        "Runn import: {CLIENTS} clients, {PROJECTS} projects, {PEOPLE} people; Runn {RUNN_PER_MINUTE} requests/min, time scaled {SCALE}x; slices of 14 Runn-minutes"
    );
    println!(
        "{:<14} {:>6} {:>9} {:>8} {:>6} {:>6} {:>9} {:>11} {:>6} {:>12} {:>10}",
        "run",
        "slices",
        "requests",
        "minimum",
        "ratio",
        "429s",
        "wall",
        "rate bound",
        "ratio",
        "Runn minutes",
        "peak heap"
    );
    for (name, run, min) in [
        ("first import", &first, min_first),
        ("re-run", &again, min_again),
    ] {
        let bound = limit.min_duration_for(run.runn_requests);
        println!(
            "{:<14} {:>6} {:>9} {:>8} {:>6.3} {:>6} {:>8.2}s {:>10.2}s {:>6} {:>12.1} {:>6.2} MiB",
            name,
            run.slices,
            run.runn_requests,
            min,
            run.runn_requests as f64 / min as f64,
            run.runn_429s,
            run.wall.as_secs_f64(),
            bound.as_secs_f64(),
            if bound.is_zero() {
                "n/a".to_string()
            } else {
                format!("{:.3}", run.wall.as_secs_f64() / bound.as_secs_f64())
            },
            run.wall.as_secs_f64() * f64::from(SCALE) / 60.0,
            mib(run.peak_bytes),
        );
    }
    println!(
        "Clockify requests: first import {}, re-run {} (minimum 3 each: clients, projects, users at 5,000 a page)",
        first.clockify_requests, again.clockify_requests
    );
}
