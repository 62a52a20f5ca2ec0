//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line per run on
//! standard output, which CloudWatch Logs turns into metrics of the namespace
//! [`NAMESPACE`], dimension `Function`. The template's dashboard and alarms read them.

use crate::http::RequestCounts;
use crate::model::report::ActualsReport;
use crate::sync::{ImportReport, RecordKind};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::Duration;

pub const NAMESPACE: &str = "RunnClockify";

/// Every metric a run reports, with its unit (the dashboard shows each).
pub const RUN_METRICS: &[(&str, &str)] = &[
    ("AccountsRun", "Count"),
    ("RunsFailed", "Count"),
    ("RunDuration", "Milliseconds"),
    ("ClientsCreated", "Count"),
    ("ProjectsCreated", "Count"),
    ("PeopleCreated", "Count"),
    ("ClientsSkipped", "Count"),
    ("ProjectsSkipped", "Count"),
    ("PeopleSkipped", "Count"),
    ("ActualsWritten", "Count"),
    ("ActualsZeroed", "Count"),
    ("ActualsAutofilled", "Count"),
    ("ClockifyRequests", "Count"),
    ("Clockify429s", "Count"),
    ("ClockifyRetries", "Count"),
    ("RunnRequests", "Count"),
    ("Runn429s", "Count"),
    ("RunnRetries", "Count"),
];

/// What one run of one account did, as numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunMetrics {
    pub failed: bool,
    pub duration: Duration,
    pub import: Option<ImportReport>,
    pub actuals: Option<ActualsReport>,
    pub clockify: RequestCounts,
    pub runn: RequestCounts,
}

impl RunMetrics {
    fn values(&self) -> Vec<(&'static str, f64)> {
        let skipped = |kind| {
            self.import.as_ref().map_or(0, |r| {
                r.skipped
                    .iter()
                    .filter(|g| g.kind == kind)
                    .map(|g| g.records.count)
                    .sum::<usize>()
            }) as f64
        };
        let created = self.import.as_ref().map(|r| r.created).unwrap_or_default();
        let a = self.actuals.as_ref();
        vec![
            ("AccountsRun", 1.0),
            ("RunsFailed", if self.failed { 1.0 } else { 0.0 }),
            ("RunDuration", self.duration.as_millis() as f64),
            ("ClientsCreated", created.clients as f64),
            ("ProjectsCreated", created.projects as f64),
            ("PeopleCreated", created.people as f64),
            ("ClientsSkipped", skipped(RecordKind::Client)),
            ("ProjectsSkipped", skipped(RecordKind::Project)),
            ("PeopleSkipped", skipped(RecordKind::Person)),
            ("ActualsWritten", a.map_or(0, |a| a.written) as f64),
            ("ActualsZeroed", a.map_or(0, |a| a.zeroed) as f64),
            ("ActualsAutofilled", a.map_or(0, |a| a.autofilled) as f64),
            ("ClockifyRequests", self.clockify.requests as f64),
            ("Clockify429s", self.clockify.rate_limited as f64),
            ("ClockifyRetries", self.clockify.retries as f64),
            ("RunnRequests", self.runn.requests as f64),
            ("Runn429s", self.runn.rate_limited as f64),
            ("RunnRetries", self.runn.retries as f64),
        ]
    }

    /// The EMF document, for `function` (the dimension), at `timestamp_ms`.
    pub fn emf(&self, function: &str, timestamp_ms: i64) -> Value {
        document(function, timestamp_ms, RUN_METRICS, self.values())
    }
}

/// Every metric a schedule's fan-out reports.
pub const FAN_OUT_METRICS: &[(&str, &str)] = &[
    ("AccountsQueued", "Count"),
    // Account records the fan-out could not read and left out (the others still ran).
    ("RecordsUnreadable", "Count"),
];

/// What one fan-out of a schedule did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FanOutMetrics {
    pub queued: usize,
    pub unreadable: usize,
}

impl FanOutMetrics {
    pub fn emf(&self, function: &str, timestamp_ms: i64) -> Value {
        document(
            function,
            timestamp_ms,
            FAN_OUT_METRICS,
            vec![
                ("AccountsQueued", self.queued as f64),
                ("RecordsUnreadable", self.unreadable as f64),
            ],
        )
    }
}

fn document(
    function: &str,
    timestamp_ms: i64,
    declared: &[(&str, &str)],
    values: Vec<(&'static str, f64)>,
) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": declared.iter()
                    .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>()
            }]
        }),
    );
    doc.insert("Function".into(), json!(function));
    for (name, value) in values {
        doc.insert(name.into(), json!(value));
    }
    Value::Object(doc)
}

/// Now, as EMF timestamps are given (epoch milliseconds).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Writes an EMF document as one line on standard output, where Lambda's log capture
/// hands it to CloudWatch.
pub fn emit(doc: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{doc}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_every_metric_it_carries() {
        let m = RunMetrics {
            failed: true,
            duration: Duration::from_millis(1500),
            clockify: RequestCounts {
                requests: 12,
                rate_limited: 2,
                retries: 1,
            },
            ..Default::default()
        };
        let doc = m.emf("worker", 1_795_000_000_000);
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Function"]]));
        assert_eq!(doc["Function"], "worker");
        for d in declared["Metrics"].as_array().unwrap() {
            let name = d["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(doc["RunsFailed"], 1.0);
        assert_eq!(doc["RunDuration"], 1500.0);
        assert_eq!(doc["Clockify429s"], 2.0);
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_000_000_000i64);
    }
}
