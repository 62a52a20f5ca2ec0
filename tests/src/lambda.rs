//! A function binary of this workspace run the way Lambda runs it, on this machine: under
//! `cargo lambda watch --only-lambda-apis` (the runtime API emulator), invoked over the
//! emulator's Invoke API. The tests, the demo's stand-ins and the benchmarks share it.

use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A process killed when dropped, whatever the outcome of what started it.
pub struct Proc(Child);

impl Proc {
    pub fn new(child: Child) -> Self {
        Self(child)
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A port of 127.0.0.1 free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The emulator's Invoke API for the function it serves (it serves one, named `_`).
pub fn invoke_url_of(port: u16) -> String {
    format!("http://127.0.0.1:{port}/2015-03-31/functions/_/invocations")
}

/// A function binary running against its own runtime API emulator; both are killed when
/// it is dropped. Its stdout (the JSON log lines) goes to a file, read by `log_lines`.
pub struct Function {
    port: u16,
    log: PathBuf,
    // Dropped in this order: the function before the emulator it polls.
    _function: Proc,
    _emulator: Proc,
}

impl Function {
    /// Starts the emulator, waits for it to listen, then starts the binary `name` (found
    /// by [`crate::testkit::find_workspace_bin`]) with `env` on top of the Lambda runtime's.
    pub fn start(name: &str, env: &[(&str, String)]) -> std::io::Result<Self> {
        let binary = crate::testkit::find_workspace_bin(name)?;
        let port = free_port()?;
        let emulator = Proc(emulator_command(port)?.spawn()?);
        wait_listening(port)?;
        let log = std::env::temp_dir().join(crate::testkit::unique(&format!("{name}-log")));
        let function = Proc(
            Command::new(binary)
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{port}/.rt"),
                )
                .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("RUST_LOG", "info")
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(std::fs::File::create(&log)?)
                .stderr(Stdio::inherit())
                .spawn()?,
        );
        Ok(Self {
            port,
            log,
            _function: function,
            _emulator: emulator,
        })
    }

    /// Where the emulator takes invocations of this function.
    pub fn invoke_url(&self) -> String {
        invoke_url_of(self.port)
    }

    /// Sends an event the way AWS does; the function's answer, or its error as Lambda
    /// reports one (`errorType`, `errorMessage`), also when the invocation itself failed.
    pub async fn invoke(&self, event: Value) -> Value {
        let sent = reqwest::Client::new()
            .post(self.invoke_url())
            .json(&event)
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        let read = match sent {
            Ok(response) => response.json::<Value>().await,
            Err(e) => Err(e),
        };
        read.unwrap_or_else(|e| {
            json!({"errorType": "Invoke.Failed", "errorMessage": format!("the invocation failed: {e}")})
        })
    }

    /// The file the function's stdout goes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the function wrote to stdout so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The function's log lines, each a JSON object; the first line that is not JSON is
    /// the error.
    pub fn log_lines(&self) -> Result<Vec<Value>, String> {
        self.log_text()
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|_| format!("not a JSON line: {l}")))
            .collect()
    }
}

/// `cargo lambda watch` from this crate's directory: it reads the workspace's metadata
/// even when it only emulates the runtime API.
fn emulator_command(port: u16) -> std::io::Result<Command> {
    let cargo_lambda = std::env::var("CARGO_LAMBDA").map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "CARGO_LAMBDA names the cargo-lambda binary (make test sets it)",
        )
    })?;
    let mut cmd = Command::new(cargo_lambda);
    cmd.args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
        .args(["-P", &port.to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(cmd)
}

fn wait_listening(port: u16) -> std::io::Result<()> {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the runtime API emulator did not listen on port {port} within 10 s"),
    ))
}
