//! Runs the Clockify simulator as a process (for the demo and the benchmarks).

use clap::Parser;
use sims::clockify::{ClockifyData, ClockifySim, Delivery};
use sims::common::{serve, ServerRateLimit};
use sims::generate::{workspace, GenSpec};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "A Clockify API simulator serving /api/v1/... and /report/v1/...")]
struct Args {
    /// Port on 127.0.0.1 (0 picks one; the chosen address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve the demo company (Northwind Agency) with its API key.
    #[arg(long, conflicts_with_all = ["data", "generate"])]
    demo: bool,
    /// Seed data (JSON: apiKeys, workspaces).
    #[arg(long, conflicts_with = "generate")]
    data: Option<PathBuf>,
    /// Generate a workspace from a spec (JSON with kebab-case GenSpec fields).
    #[arg(long)]
    generate: Option<String>,
    /// API key accepted with generated data.
    #[arg(long, default_value = "sim-clockify-key")]
    api_key: String,
    /// Requests per second per key before 429 (0: no limit).
    #[arg(long, default_value_t = 50)]
    rate_per_second: u32,
    /// Webhook delivery (JSON: delay_ms, jitter_ms, loss, duplicate); also settable later
    /// over `PUT /__sim/delivery`.
    #[arg(long)]
    delivery: Option<String>,
    /// Seed of the delivery's loss, duplication and jitter dice.
    #[arg(long)]
    delivery_seed: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let data = match (&args.data, &args.generate) {
        _ if args.demo => sims::demo::data(),
        (Some(path), _) => serde_json::from_slice::<ClockifyData>(&std::fs::read(path)?)?,
        (None, spec) => {
            let spec: GenSpec = match spec {
                Some(s) => serde_json::from_str(s)?,
                None => GenSpec::default(),
            };
            ClockifyData {
                api_keys: vec![args.api_key.clone()],
                member_keys: vec![],
                workspaces: vec![workspace(&spec)],
            }
        }
    };
    let sim = ClockifySim::new(data);
    if args.rate_per_second > 0 {
        sim.ctl.set_rate_limit(Some(ServerRateLimit {
            requests: args.rate_per_second,
            per: Duration::from_secs(1),
        }));
    }
    if let Some(d) = &args.delivery {
        sim.set_delivery(serde_json::from_str::<Delivery>(d)?);
    }
    if let Some(seed) = args.delivery_seed {
        sim.seed_delivery(seed);
    }
    let running = serve(sim.router(), args.port).await?;
    println!("clockify-sim listening on {}", running.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
