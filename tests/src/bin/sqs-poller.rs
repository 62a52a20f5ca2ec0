//! Lambda's SQS event source mapping for a function under `cargo lambda watch`, for the
//! demo: long-polls each `--queue` and hands the batches to the function at `--invoke`,
//! deleting what it took. SQS is wherever the AWS environment says (AWS_ENDPOINT_URL:
//! moto). Prints one line once polling, and its counts when interrupted.
//!
//!     sqs-poller --queue "$QUEUE_URL" --queue "$WEBHOOK_QUEUE_URL" \
//!         --invoke http://127.0.0.1:9001/2015-03-31/functions/_/invocations

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// A queue to poll (repeat for more).
    #[arg(long = "queue", required = true)]
    queues: Vec<String>,
    /// The runtime emulator's invocation URL of the function.
    #[arg(long)]
    invoke: String,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let cfg = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let n = args.queues.len();
    let poller = sims::poller::Poller::spawn(sqs, args.queues, args.invoke.clone());
    println!("sqs-poller polling {n} queue(s) for {}", args.invoke);
    interrupted().await;
    let s = poller.stop().await;
    println!(
        "sqs-poller stopped: {} invocations, {} messages, {} deleted, {} failed, {} invoke errors, {} SQS errors",
        s.invocations, s.messages, s.deleted, s.failures, s.invoke_errors, s.sqs_errors
    );
}

/// Ctrl-C, or SIGTERM (how the demo stops what it started): either ends polling.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
