//! What both simulators share: fault injection, a server-side rate limit, and a record of
//! every request (counts per endpoint for tests and benchmarks).

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "status")]
pub enum Fault {
    /// Answer with this status (a 5xx, or 429) and the service's error body.
    Status(u16),
    /// Send the headers, then drop the connection mid-body.
    Drop,
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
    /// Carry out the request, then drop the connection before the answer arrives: the
    /// write happened, but the client cannot know.
    LoseAnswer,
    /// Carry out the request, then answer 500 (a server failing after it committed).
    ErrorAfterWrite,
    /// Answer with this status and the service's own error body, its `message` some
    /// 500 KB long (ending in [`HUGE_MESSAGE_END`]): a server that sends anything.
    Huge(u16),
}

/// How the `message` of a [`Fault::Huge`] answer ends, so a test can tell whether any of
/// its tail got through.
pub const HUGE_MESSAGE_END: &str = "END-OF-THE-HUGE-MESSAGE";

/// Faults to inject: a queue taken first, then random shares.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Taken one per request, in order, before anything random.
    #[serde(default)]
    pub next: VecDeque<Fault>,
    /// Taken by the next request whose endpoint starts with the prefix (e.g. `POST `).
    #[serde(default)]
    pub next_matching: Vec<(String, Fault)>,
    /// Share of requests answered 503.
    #[serde(default)]
    pub error_rate: f64,
    /// Share of requests whose connection is dropped.
    #[serde(default)]
    pub drop_rate: f64,
    /// Share of requests answered with a malformed body.
    #[serde(default)]
    pub malformed_rate: f64,
    /// Added to every answer.
    #[serde(default, with = "shared::http::duration_ms")]
    pub latency: Duration,
    /// Every n-th write (`POST`) is carried out and its answer then lost (0: never).
    #[serde(default)]
    pub lose_every_nth_write: u32,
    /// Share of writes carried out and then answered 500, as a server that fails after
    /// committing does.
    #[serde(default)]
    pub error_after_write_rate: f64,
    /// Share of requests answered 429.
    #[serde(default)]
    pub throttle_rate: f64,
    /// The `retry-after` header sent with injected 429s, verbatim (odd values included).
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Once this many writes (`POST`) have been served, every request is answered 429.
    #[serde(default)]
    pub throttle_after_writes: Option<u64>,
}

/// A server-side token bucket per credential: `requests` per `per`, with a full bucket of
/// `requests` at the start (how both services describe their limits).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct ServerRateLimit {
    pub requests: u32,
    #[serde(with = "shared::http::duration_ms")]
    pub per: Duration,
}

/// A request as the simulator saw it.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: Instant,
    /// `METHOD /route/template`, e.g. `GET /projects/`.
    pub endpoint: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

/// Shared control block of one running simulator.
pub struct Control {
    faults: Mutex<Faults>,
    rng: Mutex<StdRng>,
    rate_limit: Mutex<Option<ServerRateLimit>>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    log: Mutex<Vec<Record>>,
    counts: Mutex<BTreeMap<String, u64>>,
    writes: std::sync::atomic::AtomicU64,
    error_body: fn(u16) -> serde_json::Value,
    retry_after: std::sync::atomic::AtomicBool,
}

impl Control {
    pub fn new(seed: u64, error_body: fn(u16) -> serde_json::Value) -> Arc<Self> {
        Arc::new(Self {
            faults: Mutex::new(Faults::default()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            rate_limit: Mutex::new(None),
            buckets: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            counts: Mutex::new(BTreeMap::new()),
            writes: std::sync::atomic::AtomicU64::new(0),
            error_body,
            retry_after: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether 429 answers carry `Retry-After`.
    pub fn set_retry_after(&self, on: bool) {
        self.retry_after
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn announces_retry_after(&self) -> bool {
        self.retry_after.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }
    pub fn faults(&self) -> Faults {
        self.faults.lock().unwrap().clone()
    }
    /// Queues faults for the next requests (any endpoint).
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.lock().unwrap().next.extend(faults);
    }
    /// Queues a fault for the next request whose endpoint starts with `prefix`.
    pub fn fail_next_matching(&self, prefix: &str, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .next_matching
            .push((prefix.to_owned(), fault));
    }
    pub fn set_rate_limit(&self, limit: Option<ServerRateLimit>) {
        *self.rate_limit.lock().unwrap() = limit;
        self.buckets.lock().unwrap().clear();
    }
    pub fn rate_limit(&self) -> Option<ServerRateLimit> {
        *self.rate_limit.lock().unwrap()
    }

    /// Requests per endpoint (`METHOD /route/template`), every answer counted.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap().clone()
    }
    pub fn count(&self, endpoint: &str) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }
    pub fn total(&self) -> u64 {
        self.counts.lock().unwrap().values().sum()
    }
    pub fn log(&self) -> Vec<Record> {
        self.log.lock().unwrap().clone()
    }
    pub fn reset_stats(&self) {
        self.log.lock().unwrap().clear();
        self.counts.lock().unwrap().clear();
    }

    fn next_fault(&self, endpoint: &str) -> Option<Fault> {
        let mut f = self.faults.lock().unwrap();
        if let Some(i) = f
            .next_matching
            .iter()
            .position(|(p, _)| endpoint.starts_with(p.as_str()))
        {
            return Some(f.next_matching.remove(i).1);
        }
        if let Some(x) = f.next.pop_front() {
            return Some(x);
        }
        if let Some(n) = f.throttle_after_writes {
            if self.writes.load(std::sync::atomic::Ordering::Relaxed) >= n {
                return Some(Fault::Status(429));
            }
        }
        if endpoint.starts_with("POST ") {
            let n = self
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if f.lose_every_nth_write > 0 && n % u64::from(f.lose_every_nth_write) == 0 {
                return Some(Fault::LoseAnswer);
            }
            if f.error_after_write_rate > 0.0
                && self.rng.lock().unwrap().gen::<f64>() < f.error_after_write_rate
            {
                return Some(Fault::ErrorAfterWrite);
            }
        }
        if f.throttle_rate > 0.0 && self.rng.lock().unwrap().gen::<f64>() < f.throttle_rate {
            return Some(Fault::Status(429));
        }
        if f.error_rate == 0.0 && f.drop_rate == 0.0 && f.malformed_rate == 0.0 {
            return None;
        }
        let roll: f64 = self.rng.lock().unwrap().gen();
        if roll < f.error_rate {
            Some(Fault::Status(503))
        } else if roll < f.error_rate + f.drop_rate {
            Some(Fault::Drop)
        } else if roll < f.error_rate + f.drop_rate + f.malformed_rate {
            Some(Fault::Malformed)
        } else {
            None
        }
    }

    /// Takes a token for `who`; on refusal, the seconds until one is free.
    pub fn take_token(&self, who: &str) -> Result<RateInfo, RateInfo> {
        let Some(limit) = self.rate_limit() else {
            return Ok(RateInfo::unlimited());
        };
        let rate = f64::from(limit.requests) / limit.per.as_secs_f64();
        let cap = f64::from(limit.requests);
        let mut buckets = self.buckets.lock().unwrap();
        let now = Instant::now();
        let (tokens, at) = buckets.entry(who.to_owned()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        let reset = ((cap - *tokens) / rate).ceil().max(0.0) as u64;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(RateInfo {
                limit: limit.requests,
                remaining: tokens.floor() as u32,
                reset_secs: reset,
            })
        } else {
            let wait = ((1.0 - *tokens) / rate).ceil().max(1.0) as u64;
            Err(RateInfo {
                limit: limit.requests,
                remaining: 0,
                reset_secs: wait,
            })
        }
    }

    pub fn error_response(&self, status: u16) -> Response {
        json_response(status, &(self.error_body)(status))
    }
}

/// What a rate-limit check tells the client.
#[derive(Clone, Copy, Debug)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

impl RateInfo {
    fn unlimited() -> Self {
        Self {
            limit: u32::MAX,
            remaining: u32::MAX,
            reset_secs: 0,
        }
    }
}

pub fn json_response(status: u16, body: &serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Outermost layer: latency, injected faults, and the request record.
pub async fn observe(State(ctl): State<Arc<Control>>, req: Request, next: Next) -> Response {
    let endpoint = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "unmatched".into())
    );
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let latency = ctl.faults.lock().unwrap().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let resp = match ctl.next_fault(&endpoint) {
        Some(Fault::Status(429)) => {
            let mut resp = ctl.error_response(429);
            if let Some(v) = ctl.faults.lock().unwrap().retry_after.clone() {
                set_header(&mut resp, "retry-after", v);
            }
            resp
        }
        Some(Fault::Status(s)) => ctl.error_response(s),
        Some(Fault::Huge(s)) => {
            let mut body = (ctl.error_body)(s);
            body["message"] =
                serde_json::Value::String(format!("{}{HUGE_MESSAGE_END}", "x".repeat(500_000)));
            json_response(s, &body)
        }
        Some(Fault::Malformed) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"values\": [{\"id\": 1,",
        )
            .into_response(),
        Some(Fault::Drop) => broken_answer(),
        Some(Fault::LoseAnswer) => {
            let _ = next.run(req).await;
            broken_answer()
        }
        Some(Fault::ErrorAfterWrite) => {
            let _ = next.run(req).await;
            ctl.error_response(500)
        }
        None => next.run(req).await,
    };
    let status = resp.status().as_u16();
    ctl.log.lock().unwrap().push(Record {
        at: Instant::now(),
        endpoint: endpoint.clone(),
        path,
        query,
        status,
    });
    *ctl.counts.lock().unwrap().entry(endpoint).or_default() += 1;
    resp
}

/// Headers of a 200, then a connection that breaks mid-body.
fn broken_answer() -> Response {
    let broken = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("simulated dropped connection"))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(broken))
        .expect("valid response")
}

/// Reads a header as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn set_header(resp: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut().insert(name, v);
    }
}

/// A simulator serving on a local port until dropped.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr)).expect("valid")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `app` on 127.0.0.1:`port` (0 for a random one) in the background.
pub async fn serve(app: axum::Router, port: u16) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        shutdown: Some(tx),
    })
}

/// As [`serve`], with each request's peer in its extensions (`ConnectInfo<SocketAddr>`):
/// for a front that reports the caller's address, as API Gateway does.
pub async fn serve_with_peers(app: axum::Router, port: u16) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        shutdown: Some(tx),
    })
}

/// Admin routes for a simulator run as a binary: `GET /__sim/stats`, `PUT /__sim/faults`,
/// `PUT /__sim/rate-limit`.
pub fn admin_routes(ctl: Arc<Control>) -> axum::Router {
    use axum::routing::{get, put};
    use axum::Json;
    axum::Router::new()
        .route(
            "/__sim/stats",
            get(|State(c): State<Arc<Control>>| async move {
                let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
                for r in c.log() {
                    *statuses.entry(r.status).or_default() += 1;
                }
                Json(serde_json::json!({ "total": c.total(), "counts": c.counts(), "statuses": statuses }))
            })
            .delete(|State(c): State<Arc<Control>>| async move {
                c.reset_stats();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__sim/faults",
            put(
                |State(c): State<Arc<Control>>, Json(f): Json<Faults>| async move {
                    c.set_faults(f);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/__sim/rate-limit",
            put(
                |State(c): State<Arc<Control>>, Json(l): Json<Option<ServerRateLimit>>| async move {
                    c.set_rate_limit(l);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(ctl)
}
