//! Runs the Runn simulator as a process (for the demo and the benchmarks).
//!
//! Besides Runn's API it serves the admin routes `GET`/`DELETE /__sim/stats`,
//! `PUT /__sim/faults`, `PUT /__sim/rate-limit`, and `GET`/`PUT /__sim/clock`: the
//! simulator's clock, which dates every `createdAt`/`updatedAt` it writes (and so what
//! `modifiedAfter` returns). `PUT /__sim/clock` takes `{"advance_ms": N}` to move it on
//! (86400000 for a next-day run) and/or `{"offset_ms": N}` to set it to real time plus N;
//! both answer `{"now": "...", "offset_ms": N}`.

use clap::Parser;
use sims::common::{serve, ServerRateLimit};
use sims::runn::{RunnData, RunnSim};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "A Runn API simulator")]
struct Args {
    /// Port on 127.0.0.1 (0 picks one; the chosen address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Bearer tokens accepted.
    #[arg(long = "token", default_value = "TEST_sim-runn-token")]
    tokens: Vec<String>,
    /// Requests per minute per token before 429 (0: no limit).
    #[arg(long, default_value_t = 120)]
    rate_per_minute: u32,
    /// Divide every window by this factor (60 turns a minute into a second).
    #[arg(long, default_value_t = 1)]
    time_scale: u32,
    /// Start the simulator's clock this many milliseconds off real time (negative: behind).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset_ms: i64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let sim = RunnSim::new(RunnData::new(args.tokens.clone()));
    sim.set_clock_offset_ms(args.clock_offset_ms);
    if args.rate_per_minute > 0 {
        let per = Duration::from_secs(60) / args.time_scale.max(1);
        sim.ctl.set_rate_limit(Some(ServerRateLimit {
            requests: args.rate_per_minute,
            per,
        }));
    }
    let running = serve(sim.router(), args.port).await?;
    println!("runn-sim listening on {}", running.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
