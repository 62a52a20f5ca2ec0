//! Webhook delivery: every time-entry change is POSTed to the workspace's matching
//! webhooks from a spawned task, after a configurable delay, with seeded loss and
//! duplication, and logged for the benchmarks. Clockify documents no retries, ordering or
//! timeouts, so none of these are promised: a failed attempt is not retried, and tasks
//! race, so events may arrive out of order.

use super::{ClockifyData, SimTimeEntry, SimWebhook};
use crate::common::json_response;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The log keeps this many records, the oldest dropped first.
pub const MAX_DELIVERY_RECORDS: usize = 100_000;
/// Each POST gives up after this long.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// After this many failed attempts in a row a webhook gets `deliveryEnabled: false`.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 10;
/// The seed of the delivery dice until [`super::ClockifySim::seed_delivery`] sets another.
pub const DEFAULT_DELIVERY_SEED: u64 = 16;
/// Delays and jitters are capped so no arithmetic on them can overflow.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// How webhooks are delivered. The default: at once, nothing lost, nothing doubled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Waited before the first attempt.
    #[serde(rename = "delay_ms", default, with = "shared::http::duration_ms")]
    pub delay: Duration,
    /// Up to this much more, drawn uniformly per delivery.
    #[serde(rename = "jitter_ms", default, with = "shared::http::duration_ms")]
    pub jitter: Duration,
    /// Probability an attempt is dropped entirely (never sent).
    #[serde(default)]
    pub loss: f64,
    /// Probability a delivery is sent twice.
    #[serde(default)]
    pub duplicate: f64,
}

impl Delivery {
    /// Probabilities into 0..=1 (NaN as 0) and waits under a day.
    fn clamped(self) -> Self {
        let p = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        Self {
            delay: self.delay.min(MAX_WAIT),
            jitter: self.jitter.min(MAX_WAIT),
            loss: p(self.loss),
            duplicate: p(self.duplicate),
        }
    }
}

/// One delivery attempt, as the benchmark reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// When the POST went out; `None` when the attempt was lost.
    pub sent_at: Option<DateTime<Utc>>,
    pub webhook_id: String,
    pub event: String,
    pub entry_id: String,
    pub user_id: String,
    /// The receiver's status; `None` when lost or when the connection failed or timed out.
    pub status: Option<u16>,
    /// The second send of a duplicated delivery.
    pub duplicate: bool,
}

/// A change to announce: the event and the entry's JSON as the API returns it.
pub(super) struct Notice {
    pub at: DateTime<Utc>,
    pub event: &'static str,
    pub entry_id: String,
    pub user_id: String,
    pub body: Value,
}

/// Where one notice goes, copied from the webhook when the change happened.
pub(super) struct Target {
    ws: String,
    webhook_id: String,
    url: String,
    token: String,
}

impl Target {
    pub(super) fn of(ws: &str, h: &SimWebhook) -> Self {
        Self {
            ws: ws.to_owned(),
            webhook_id: h.id.clone(),
            url: h.url.clone(),
            token: h.auth_token.clone(),
        }
    }
}

/// Whether `h` is to hear of `event` on entry `e`: its event, all three flags on, and its
/// trigger (a `WORKSPACE_ID` one covers the workspace it belongs to; the simulator keeps
/// no tags or tasks, so those triggers never fire).
pub(super) fn wants(h: &SimWebhook, event: &str, e: &SimTimeEntry) -> bool {
    let triggered = match h.trigger_source_type.as_str() {
        "WORKSPACE_ID" => true,
        "PROJECT_ID" => e
            .project_id
            .as_ref()
            .is_some_and(|p| h.trigger_source.contains(p)),
        "USER_ID" => h.trigger_source.contains(&e.user_id),
        _ => false,
    };
    h.webhook_event == event && h.enabled && h.delivery_enabled && h.plan_enabled && triggered
}

/// What the dice decided for one notice to one webhook, drawn when the change happens so
/// a seed gives the same outcome whatever the tasks' timing.
struct Plan {
    wait: Duration,
    /// Per attempt (one, or two when duplicated): whether it is lost.
    lost: Vec<bool>,
}

/// The delivery machinery of one simulator.
pub(super) struct Deliverer {
    config: Mutex<Delivery>,
    rng: Mutex<StdRng>,
    log: Mutex<VecDeque<DeliveryRecord>>,
    failures: Mutex<HashMap<String, u32>>,
    pending: AtomicUsize,
    client: reqwest::Client,
}

impl Deliverer {
    pub(super) fn new() -> Arc<Self> {
        // Direct, never through a proxy from the environment: receivers are local.
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Self {
            config: Mutex::new(Delivery::default()),
            rng: Mutex::new(StdRng::seed_from_u64(DEFAULT_DELIVERY_SEED)),
            log: Mutex::new(VecDeque::new()),
            failures: Mutex::new(HashMap::new()),
            pending: AtomicUsize::new(0),
            client,
        })
    }

    pub(super) fn set(&self, d: Delivery) {
        *self.config.lock().unwrap() = d.clamped();
    }
    pub(super) fn config(&self) -> Delivery {
        *self.config.lock().unwrap()
    }
    pub(super) fn seed(&self, seed: u64) {
        *self.rng.lock().unwrap() = StdRng::seed_from_u64(seed);
    }
    pub(super) fn records(&self) -> Vec<DeliveryRecord> {
        self.log.lock().unwrap().iter().cloned().collect()
    }
    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    fn plan(&self, cfg: &Delivery) -> Plan {
        // Always four draws, so the sequence does not depend on the configuration.
        let (j, dup, l1, l2): (f64, f64, f64, f64) = {
            let mut rng = self.rng.lock().unwrap();
            (rng.gen(), rng.gen(), rng.gen(), rng.gen())
        };
        let attempts = if dup < cfg.duplicate { 2 } else { 1 };
        Plan {
            wait: cfg.delay + cfg.jitter.mul_f64(j),
            lost: [l1 < cfg.loss, l2 < cfg.loss][..attempts].to_vec(),
        }
    }

    fn record(&self, r: DeliveryRecord) {
        let mut log = self.log.lock().unwrap();
        if log.len() >= MAX_DELIVERY_RECORDS {
            log.pop_front();
        }
        log.push_back(r);
    }

    /// Sends `notice` to each target from its own task; never waits for any of them.
    pub(super) fn deliver(
        self: &Arc<Self>,
        data: &Arc<RwLock<ClockifyData>>,
        notice: Notice,
        targets: Vec<Target>,
    ) {
        if targets.is_empty() {
            return;
        }
        let cfg = self.config();
        let notice = Arc::new(notice);
        for t in targets {
            let plan = self.plan(&cfg);
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    self.pending.fetch_add(1, Ordering::SeqCst);
                    rt.spawn(run(self.clone(), data.clone(), notice.clone(), t, plan));
                }
                // No runtime to send from (a control called outside one): nothing is sent.
                Err(_) => {
                    for (i, _) in plan.lost.iter().enumerate() {
                        self.record(record_of(&notice, &t, None, None, i > 0));
                    }
                }
            }
        }
    }

    /// One POST as Clockify makes it: the token verbatim, the event named in a header.
    async fn post(&self, t: &Target, n: &Notice) -> Option<u16> {
        let resp = self
            .client
            .post(&t.url)
            .header("Clockify-Signature", &t.token)
            .header("clockify-webhook-event-type", n.event)
            .header("Content-Type", "application/json")
            .body(n.body.to_string())
            .send()
            .await
            .ok()?;
        let status = resp.status().as_u16();
        // Read the answer out, so the connection can be reused.
        let _ = resp.bytes().await;
        Some(status)
    }

    /// Counts a failure in a row (or clears the count); the tenth disables delivery.
    fn count(&self, data: &RwLock<ClockifyData>, t: &Target, status: Option<u16>) {
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let disable = {
            let mut f = self.failures.lock().unwrap();
            let n = f.entry(t.webhook_id.clone()).or_default();
            *n = if ok { 0 } else { *n + 1 };
            let hit = *n >= MAX_CONSECUTIVE_FAILURES;
            if hit {
                *n = 0;
            }
            hit
        };
        if disable {
            let mut d = data.write().unwrap();
            let hook = d
                .workspaces
                .iter_mut()
                .filter(|w| w.id == t.ws)
                .flat_map(|w| w.webhooks.iter_mut())
                .find(|h| h.id == t.webhook_id);
            if let Some(h) = hook {
                h.delivery_enabled = false;
            }
        }
    }
}

fn record_of(
    n: &Notice,
    t: &Target,
    sent_at: Option<DateTime<Utc>>,
    status: Option<u16>,
    duplicate: bool,
) -> DeliveryRecord {
    DeliveryRecord {
        at: n.at,
        sent_at,
        webhook_id: t.webhook_id.clone(),
        event: n.event.to_owned(),
        entry_id: n.entry_id.clone(),
        user_id: n.user_id.clone(),
        status,
        duplicate,
    }
}

/// The task of one notice to one webhook: wait, then each attempt in turn.
async fn run(
    me: Arc<Deliverer>,
    data: Arc<RwLock<ClockifyData>>,
    notice: Arc<Notice>,
    t: Target,
    plan: Plan,
) {
    tokio::time::sleep(plan.wait).await;
    for (i, lost) in plan.lost.iter().enumerate() {
        let rec = if *lost {
            record_of(&notice, &t, None, None, i > 0)
        } else {
            let sent_at = Utc::now();
            let status = me.post(&t, &notice).await;
            me.count(&data, &t, status);
            record_of(&notice, &t, Some(sent_at), status, i > 0)
        };
        me.record(rec);
    }
    me.pending.fetch_sub(1, Ordering::SeqCst);
}

/// The body of `PUT /__sim/delivery`: a [`Delivery`] (what is left out is its default),
/// and optionally a new seed for the dice.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryChange {
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    jitter_ms: u64,
    #[serde(default)]
    loss: f64,
    #[serde(default)]
    duplicate: f64,
    #[serde(default)]
    seed: Option<u64>,
}

fn admin_error(message: String) -> Response {
    json_response(400, &json!({ "message": message, "code": 400 }))
}

/// `GET`/`PUT /__sim/delivery` (the configuration; `POST` works as `PUT`) and
/// `GET /__sim/deliveries` (the log and how many deliveries are still under way), for a
/// simulator run as a binary.
pub(super) fn delivery_routes(hooks: Arc<Deliverer>) -> Router {
    async fn show(State(h): State<Arc<Deliverer>>) -> Response {
        json_response(200, &json!(h.config()))
    }
    async fn change(State(h): State<Arc<Deliverer>>, body: Bytes) -> Response {
        let c: DeliveryChange = match serde_json::from_slice(&body) {
            Ok(c) => c,
            Err(e) => return admin_error(format!("delivery: {e}")),
        };
        if !(0.0..=1.0).contains(&c.loss) || !(0.0..=1.0).contains(&c.duplicate) {
            return admin_error("delivery: loss and duplicate are between 0 and 1".into());
        }
        let day = MAX_WAIT.as_millis() as u64;
        if c.delay_ms > day || c.jitter_ms > day {
            return admin_error("delivery: delay_ms and jitter_ms are at most a day".into());
        }
        let d = Delivery {
            delay: Duration::from_millis(c.delay_ms),
            jitter: Duration::from_millis(c.jitter_ms),
            loss: c.loss,
            duplicate: c.duplicate,
        };
        h.set(d);
        if let Some(seed) = c.seed {
            h.seed(seed);
        }
        json_response(200, &json!(h.config()))
    }
    async fn log(State(h): State<Arc<Deliverer>>) -> Response {
        json_response(
            200,
            &json!({"pending": h.pending(), "deliveries": h.records()}),
        )
    }
    Router::new()
        .route("/__sim/delivery", get(show).put(change).post(change))
        .route("/__sim/deliveries", get(log))
        .with_state(hooks)
}

/// Delivery controls, for tests and benchmarks holding the simulator in-process.
impl super::ClockifySim {
    /// How webhooks are delivered from now on (probabilities are held to 0..=1, waits
    /// to a day).
    pub fn set_delivery(&self, d: Delivery) {
        self.hooks.set(d);
    }
    /// The delivery configuration in force.
    pub fn delivery(&self) -> Delivery {
        self.hooks.config()
    }
    /// Restarts the delivery dice from `seed`: the same changes then lose and double the
    /// same deliveries.
    pub fn seed_delivery(&self, seed: u64) {
        self.hooks.seed(seed);
    }
    /// Every delivery attempt so far (the latest [`MAX_DELIVERY_RECORDS`]), in the order
    /// they finished.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.hooks.records()
    }
    /// Deliveries still waiting or under way.
    pub fn deliveries_pending(&self) -> usize {
        self.hooks.pending()
    }
}
