//! API Gateway's HTTP API in front of a function under `cargo lambda watch`, for the demo:
//! plain HTTP requests on 127.0.0.1 become v2 events for the function at `--invoke`.
//! Prints one line with its address once it listens; serves until interrupted.
//!
//!     apigw-standin --port 8080 --invoke http://127.0.0.1:9000/2015-03-31/functions/_/invocations

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The port of 127.0.0.1 to listen on (0: any free one, printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The runtime emulator's invocation URL of the function.
    #[arg(long)]
    invoke: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let running = sims::gateway::serve_gateway(args.invoke.clone(), args.port).await?;
    println!(
        "apigw-standin listening on {} (invoking {})",
        running.url(),
        args.invoke
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
