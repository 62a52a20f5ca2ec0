//! The terminal display: long work (records created, day totals written) as a progress
//! bar on a terminal and as numbered lines elsewhere; warnings and errors as they come;
//! everything else stays quiet unless `RUST_LOG` asks for it.

use indicatif::{ProgressBar, ProgressStyle};
use shared::sync::ACTUALS_PROGRESS;
use shared::sync::PROGRESS;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Default)]
struct Fields {
    done: u64,
    total: u64,
    kind: String,
    name: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "done" => self.done = value,
            "total" => self.total = value,
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "kind" => self.kind = value.to_owned(),
            "name" => self.name = value.to_owned(),
            _ => {}
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// Shows progress: a bar with counts, rate and time left on a terminal; plain lines
/// otherwise (CI, logs).
struct ProgressLines {
    bar: Option<Mutex<Option<(String, ProgressBar)>>>,
}

impl ProgressLines {
    fn new() -> Self {
        Self {
            bar: std::io::stderr().is_terminal().then(|| Mutex::new(None)),
        }
    }
}

impl<S: Subscriber> Layer<S> for ProgressLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let target = event.metadata().target();
        if target != PROGRESS && target != ACTUALS_PROGRESS {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let what = if target == PROGRESS {
            "records created"
        } else {
            "day totals written"
        };
        match &self.bar {
            Some(slot) => {
                let mut slot = slot.lock().expect("progress bar");
                let fresh =
                    !matches!(&*slot, Some((w, b)) if w == what && b.length() == Some(f.total));
                if fresh {
                    if let Some((_, old)) = slot.take() {
                        old.finish();
                    }
                    let bar = ProgressBar::new(f.total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "  {bar:30} {pos}/{len} {msg} · {per_sec} · {eta} left",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_message(what);
                    *slot = Some((what.to_owned(), bar));
                }
                if let Some((_, bar)) = &*slot {
                    bar.set_position(f.done);
                    if f.done >= f.total {
                        bar.finish();
                    }
                }
            }
            None => {
                let width = f.total.to_string().len();
                let mut line = String::new();
                if target == PROGRESS {
                    let _ = write!(
                        line,
                        "  [{:>width$}/{}] created {:<8} {}",
                        f.done, f.total, f.kind, f.name
                    );
                } else {
                    let _ = write!(line, "  [{:>width$}/{}] {what}", f.done, f.total);
                }
                eprintln!("{line}");
            }
        }
    }
}

/// Progress lines on standard error, and other events at `RUST_LOG` (default: warnings).
pub fn init() {
    // The AWS SDK's provider chain warns of each source it tries (the instance metadata
    // service first): a newcomer's first command would open on a screen of those.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,aws_config=error,aws_smithy_runtime=error".into());
    let progress_filter = tracing_subscriber::filter::Targets::new()
        .with_target(PROGRESS, Level::INFO)
        .with_target(ACTUALS_PROGRESS, Level::INFO);
    let _ = tracing_subscriber::registry()
        .with(ProgressLines::new().with_filter(progress_filter))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(filter),
        )
        .try_init();
}
