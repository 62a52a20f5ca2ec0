//! The terminal display: each record an import creates as a numbered line, warnings and
//! errors as they come; everything else stays quiet unless `RUST_LOG` asks for it.

use shared::sync::PROGRESS;
use std::fmt::Write as _;
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

struct ProgressLines;

impl<S: Subscriber> Layer<S> for ProgressLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != PROGRESS {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let width = f.total.to_string().len();
        let mut line = String::new();
        let _ = write!(
            line,
            "  [{:>width$}/{}] created {:<8} {}",
            f.done, f.total, f.kind, f.name
        );
        eprintln!("{line}");
    }
}

/// Progress lines on standard error, and other events at `RUST_LOG` (default: warnings).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let progress_filter =
        tracing_subscriber::filter::Targets::new().with_target(PROGRESS, Level::INFO);
    let _ = tracing_subscriber::registry()
        .with(ProgressLines.with_filter(progress_filter))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(filter),
        )
        .try_init();
}
