//! Runn's backend, for the demo: sends one signed request to the api function running
//! under `cargo lambda watch`, as an API Gateway (HTTP API) event, and prints the answer.
//! The signing secret is read from Secrets Manager (moto), as the real backend holds it.
//!
//!     runn-backend --invoke http://127.0.0.1:9000/2015-03-31/functions/_/invocations \
//!         --secret-arn arn:... PUT /accounts/northwind/integration @body.json

use clap::Parser;
use serde_json::Value;

#[derive(Parser)]
struct Args {
    /// The runtime emulator's invocation URL of the api function.
    #[arg(long)]
    invoke: String,
    /// The signing secret's ARN.
    #[arg(long, env = "SIGNING_SECRET_ARN")]
    secret_arn: String,
    /// Print only these top-level fields of the answer (comma-separated).
    #[arg(long)]
    fields: Option<String>,
    method: String,
    path: String,
    /// The JSON body, or `@file` to read it from a file.
    body: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cfg = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secret = sims::backend::read_secret(&cfg, &args.secret_arn).await;
    let backend = sims::backend::Backend::new(args.invoke, secret);
    let body: Option<Value> = match args.body.as_deref() {
        None => None,
        Some(b) => {
            let text = match b.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)?,
                None => b.to_owned(),
            };
            Some(serde_json::from_str(&text)?)
        }
    };
    // A signed change is accepted once, and signatures are by the second: this process
    // signs one request, so it waits for a second of its own (the one before it may have
    // signed the same request a moment ago, as a second press of a button does).
    let ms = chrono::Utc::now().timestamp_subsec_millis();
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(
        1000 - ms.min(999),
    )))
    .await;
    let answer = backend.call(&args.method, &args.path, body.as_ref()).await;
    let shown = match &args.fields {
        Some(fields) => {
            let mut picked = serde_json::Map::new();
            for f in fields.split(',') {
                picked.insert(f.to_owned(), answer.body[f].clone());
            }
            Value::Object(picked)
        }
        None => answer.body,
    };
    println!("  HTTP {}", answer.status);
    for line in serde_json::to_string_pretty(&shown)?.lines() {
        println!("  {line}");
    }
    Ok(())
}
