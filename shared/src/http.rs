//! The one request path both API clients use: a client-side token bucket, a per-request
//! timeout, and retries with capped exponential backoff and full jitter. A server's
//! `Retry-After` (or Runn's `x-ratelimit-reset`) wins over our own backoff and pauses every
//! caller sharing the bucket, not just the one that was told.

use crate::error::{ApiError, RunnErrorBody, Service};
use crate::hosts::{ForbiddenAddress, GuardedResolver, HostPolicy};
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A request budget: `requests` per `per`, with up to `burst` sent back to back.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests: u32,
    #[serde(with = "duration_ms")]
    pub per: Duration,
    pub burst: u32,
}

impl RateLimit {
    pub fn new(requests: u32, per: Duration) -> Self {
        let requests = requests.max(1);
        Self {
            requests,
            per,
            burst: requests,
        }
    }
    pub fn per_second(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(1))
    }
    pub fn per_minute(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }
    pub fn per_hour(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(3600))
    }
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }
    fn tokens_per_sec(&self) -> f64 {
        f64::from(self.requests) / self.per.as_secs_f64().max(1e-9)
    }
    /// The least time `n` requests can take under this limit, starting with a full bucket.
    pub fn min_duration_for(&self, n: u64) -> Duration {
        let beyond_burst = n.saturating_sub(u64::from(self.burst)) as f64;
        secs(beyond_burst / self.tokens_per_sec())
    }
}

/// A token bucket shared by every request of one client (one API key or token).
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    paused_until: Option<Instant>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let bucket = Bucket {
            tokens: f64::from(limit.burst),
            updated: Instant::now(),
            paused_until: None,
        };
        Self {
            limit,
            state: Mutex::new(bucket),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Waits until a request may be sent, then takes its token.
    pub async fn acquire(&self) {
        // Without a deadline every wait is allowed.
        let _ = self.acquire_by(None).await;
    }

    /// As [`RateLimiter::acquire`], but gives up (`Err` with the wait it would take)
    /// rather than wait past `deadline`.
    pub async fn acquire_by(&self, deadline: Option<Instant>) -> Result<(), Duration> {
        loop {
            let wait = {
                let mut b = self.state.lock().expect("rate limiter poisoned");
                let now = Instant::now();
                match b.paused_until {
                    Some(until) if until > now => until - now,
                    _ => {
                        b.paused_until = None;
                        let elapsed = now.duration_since(b.updated).as_secs_f64();
                        b.tokens = (b.tokens + elapsed * self.limit.tokens_per_sec())
                            .min(f64::from(self.limit.burst));
                        b.updated = now;
                        if b.tokens >= 1.0 {
                            b.tokens -= 1.0;
                            return Ok(());
                        }
                        secs((1.0 - b.tokens) / self.limit.tokens_per_sec())
                    }
                }
            };
            if deadline.is_some_and(|d| Instant::now() + wait > d) {
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The server asked us to wait: hold every caller until then, and start again with an
    /// empty bucket so the first requests after the pause are spread out.
    pub fn pause_for(&self, wait: Duration) {
        let mut b = self.state.lock().expect("rate limiter poisoned");
        let until = later(Instant::now(), wait);
        if b.paused_until.is_none_or(|p| p < until) {
            b.paused_until = Some(until);
        }
        b.tokens = 0.0;
        b.updated = until;
    }
}

/// Seconds as a `Duration`, never panicking: negative or NaN is zero, too large is a year.
fn secs(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(s).unwrap_or(YEAR).min(YEAR)
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// `at + wait`, saturating where an `Instant` cannot go that far.
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait).unwrap_or_else(|| at + YEAR.min(wait))
}

/// How hard to try before giving up on a request.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all for 5xx, timeouts, dropped connections and broken bodies.
    pub max_attempts: u32,
    /// 429 answers tolerated for one request before it is reported as failed.
    pub max_rate_limited: u32,
    #[serde(with = "duration_ms")]
    pub base_delay: Duration,
    #[serde(with = "duration_ms")]
    pub max_delay: Duration,
    /// The longest server-requested wait we accept; longer ones fail the request as transient.
    #[serde(with = "duration_ms")]
    pub max_server_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_rate_limited: 30,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_server_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait in `[0, min(max_delay, base * 2^retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << retry.min(20));
        let cap = exp.min(self.max_delay);
        let millis = cap.as_millis() as u64;
        Duration::from_millis(if millis == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=millis)
        })
    }
}

/// A parsed 2xx answer with the headers that paging needs.
#[derive(Debug)]
pub struct Reply<T> {
    pub body: T,
    pub headers: HeaderMap,
}

/// How one client sends its requests: limits, retries, hosts and the run's deadline.
#[derive(Clone, Copy, Debug)]
pub struct CoreConfig {
    pub timeout: Duration,
    pub limit: RateLimit,
    pub retry: RetryPolicy,
    pub hosts: HostPolicy,
    /// Every send, read and wait ends by then: a wait that would pass it ends the request
    /// with [`ApiError::OutOfTime`] at once.
    pub deadline: Option<Instant>,
}

/// What a client has sent so far (for the run's metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Requests sent, retries and 429s included.
    pub requests: u64,
    /// Answers of HTTP 429.
    pub rate_limited: u64,
    /// Requests sent again after a transient failure.
    pub retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: std::sync::atomic::AtomicU64,
    rate_limited: std::sync::atomic::AtomicU64,
    retries: std::sync::atomic::AtomicU64,
}

fn bump(c: &std::sync::atomic::AtomicU64) {
    c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The shared request executor: one per API client.
#[derive(Debug, Clone)]
pub struct HttpCore {
    counters: Arc<Counters>,
    http: reqwest::Client,
    service: Service,
    limiter: Arc<RateLimiter>,
    retry: RetryPolicy,
    timeout: Duration,
    deadline: Option<Instant>,
}

impl HttpCore {
    pub fn new(service: Service, cfg: CoreConfig) -> Result<Self, ApiError> {
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("runn-clockify/", env!("CARGO_PKG_VERSION")))
            // A redirect could carry the key to a host that was never checked.
            .redirect(reqwest::redirect::Policy::none());
        if !cfg.hosts.allow_local {
            builder = builder.dns_resolver(Arc::new(GuardedResolver)).no_proxy();
        }
        let http = builder.build().map_err(|e| ApiError::Invalid {
            service,
            reason: format!("HTTP client: {e}"),
        })?;
        Ok(Self {
            counters: Arc::default(),
            http,
            service,
            limiter: Arc::new(RateLimiter::new(cfg.limit)),
            retry: cfg.retry,
            timeout: cfg.timeout,
            deadline: cfg.deadline,
        })
    }

    fn out_of_time(&self, label: &str, reason: String) -> ApiError {
        ApiError::OutOfTime {
            service: self.service,
            request: label.to_owned(),
            reason,
        }
    }

    /// Whether waiting `wait` from now would pass the run's deadline.
    fn passes_deadline(&self, wait: Duration) -> bool {
        self.deadline
            .is_some_and(|d| later(Instant::now(), wait) > d)
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// What this client (and its clones) has sent so far.
    pub fn counts(&self) -> RequestCounts {
        use std::sync::atomic::Ordering::Relaxed;
        RequestCounts {
            requests: self.counters.requests.load(Relaxed),
            rate_limited: self.counters.rate_limited.load(Relaxed),
            retries: self.counters.retries.load(Relaxed),
        }
    }

    /// Sends the request `make` builds (again on each attempt) and parses a JSON answer.
    /// For reads and idempotent writes: every transient failure is retried. `label` names
    /// the request in errors and logs: method and path template, never a header or a secret.
    pub async fn send<T: DeserializeOwned>(
        &self,
        label: &str,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply<T>, ApiError> {
        self.send_with(label, make, true).await
    }

    /// As [`HttpCore::send`], for a write that must not happen twice (a create): it is
    /// retried only where it surely did not reach the service (no connection, 429). A
    /// failure after which it may have taken effect (5xx, timeout, lost answer) comes back
    /// as transient at once, so the caller re-reads the truth before trying again.
    pub async fn send_write<T: DeserializeOwned>(
        &self,
        label: &str,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply<T>, ApiError> {
        self.send_with(label, make, false).await
    }

    async fn send_with<T: DeserializeOwned>(
        &self,
        label: &str,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
        idempotent: bool,
    ) -> Result<Reply<T>, ApiError> {
        let service = self.service;
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            if let Err(wait) = self.limiter.acquire_by(self.deadline).await {
                return Err(self.out_of_time(
                    label,
                    format!("the rate limit asks for a {} ms wait", wait.as_millis()),
                ));
            }
            // The request's own timeout never runs past the run's deadline.
            let timeout = match self.deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(self.out_of_time(label, "no time left".into()));
                    }
                    self.timeout.min(left)
                }
                None => self.timeout,
            };
            bump(&self.counters.requests);
            let (reason, maybe_applied) = match make(&self.http).timeout(timeout).send().await {
                Err(e) if refused_host(&e).is_some() => {
                    return Err(ApiError::Invalid {
                        service,
                        reason: format!(
                            "{label}: {}",
                            refused_host(&e).map(|r| r.to_string()).unwrap_or_default()
                        ),
                    })
                }
                Err(e) if e.is_timeout() && self.passes_deadline(Duration::ZERO) => {
                    let reason = describe_transport_error(&e);
                    if !idempotent {
                        return Err(ApiError::Unclear {
                            service,
                            request: label.to_owned(),
                            reason,
                        });
                    }
                    return Err(self.out_of_time(label, reason));
                }
                Err(e) => (describe_transport_error(&e), !e.is_connect()),
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    if status.is_success() {
                        match read_capped(resp, MAX_ANSWER_BYTES).await {
                            Err(e) => (describe_transport_error(&e), true),
                            Ok((_, true)) => {
                                return Err(ApiError::Contract {
                                    service,
                                    request: label.to_owned(),
                                    reason: format!(
                                        "the answer is over {} MiB",
                                        MAX_ANSWER_BYTES >> 20
                                    ),
                                })
                            }
                            Ok((bytes, false)) => {
                                let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
                                match serde_json::from_slice::<T>(text) {
                                    Ok(body) => return Ok(Reply { body, headers }),
                                    // Cut-off or garbled JSON is a transport fault; valid
                                    // JSON of the wrong shape is a contract mismatch.
                                    Err(e) if !is_json(text) => (
                                        clip(&format!("malformed JSON body ({e})"), MESSAGE_CHARS),
                                        true,
                                    ),
                                    Err(e) => {
                                        return Err(ApiError::Contract {
                                            service,
                                            request: label.to_owned(),
                                            reason: clip(&e.to_string(), MESSAGE_CHARS),
                                        })
                                    }
                                }
                            }
                        }
                    } else if status == StatusCode::TOO_MANY_REQUESTS {
                        bump(&self.counters.rate_limited);
                        rate_limited += 1;
                        if rate_limited > self.retry.max_rate_limited {
                            return Err(ApiError::Transient {
                                service,
                                request: label.to_owned(),
                                attempts: failures + rate_limited,
                                reason: "rate limited (HTTP 429) on every attempt".into(),
                            });
                        }
                        let wait = match server_wait(&headers) {
                            Some(w) if w > self.retry.max_server_wait => {
                                return Err(ApiError::Transient {
                                    service,
                                    request: label.to_owned(),
                                    attempts: failures + rate_limited,
                                    reason: format!("rate limited for {}s", w.as_secs()),
                                })
                            }
                            Some(w) => w,
                            None => self.retry.backoff(rate_limited - 1),
                        };
                        if self.passes_deadline(wait) {
                            return Err(self.out_of_time(
                                label,
                                format!("rate limited (HTTP 429) for {} s", wait.as_secs()),
                            ));
                        }
                        tracing::warn!(%service, request = label, wait_ms = wait.as_millis() as u64,
                            "rate limited (429); pausing this client");
                        self.limiter.pause_for(wait);
                        continue;
                    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                        (format!("HTTP {}", status.as_u16()), true)
                    } else if status == StatusCode::UNAUTHORIZED {
                        return Err(ApiError::CredentialsRejected {
                            service,
                            request: label.to_owned(),
                            status: status.as_u16(),
                        });
                    } else {
                        // However large a server's error body, a bounded part of it is read.
                        let (body, _) =
                            read_capped(resp, MAX_ERROR_BYTES).await.unwrap_or_default();
                        if status == StatusCode::FORBIDDEN {
                            return Err(forbidden(service, label, &body));
                        }
                        return Err(rejected(service, label, status, &body));
                    }
                }
            };
            failures += 1;
            if maybe_applied && !idempotent {
                return Err(ApiError::Unclear {
                    service,
                    request: label.to_owned(),
                    reason: format!("{reason}; not resent, as the write may have taken effect"),
                });
            }
            if failures >= self.retry.max_attempts {
                return Err(ApiError::Transient {
                    service,
                    request: label.to_owned(),
                    attempts: failures + rate_limited,
                    reason,
                });
            }
            let wait = self.retry.backoff(failures - 1);
            if self.passes_deadline(wait) {
                return Err(self.out_of_time(label, format!("{reason}, and no time to retry")));
            }
            tracing::warn!(%service, request = label, attempt = failures, %reason,
                wait_ms = wait.as_millis() as u64, "transient failure; retrying");
            tokio::time::sleep(wait).await;
            bump(&self.counters.retries);
        }
    }
}

/// The refused host behind a failed request, if that is why it failed.
fn refused_host(e: &reqwest::Error) -> Option<&ForbiddenAddress> {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(f) = s.downcast_ref::<ForbiddenAddress>() {
            return Some(f);
        }
        src = s.source();
    }
    None
}

/// Whether `bytes` is one complete JSON value (only asked once typed parsing has failed).
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

fn describe_transport_error(e: &reqwest::Error) -> String {
    // The URL carries no secret (keys travel in headers), but leave it out all the same:
    // the label already names the request.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection dropped while reading the answer"
    } else {
        "connection failed"
    };
    let mut detail = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        clip(&format!("{kind} ({detail})"), MESSAGE_CHARS)
    }
}

/// The most of an answer read: a page of the largest lists is a few MiB.
pub const MAX_ANSWER_BYTES: usize = 32 << 20;
/// The most of an error answer read.
const MAX_ERROR_BYTES: usize = 1 << 20;
/// A server's error message (or a parser's complaint about an answer) is cut to this many
/// characters wherever it goes: errors, run records, the API's refusals. Clockify Server
/// and custom Runn hosts are the tenant's own, and may send anything.
pub const MESSAGE_CHARS: usize = 300;

/// Reads at most `cap` bytes of an answer's body; `true` when there was more.
async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The message of an error body: Runn's `{error, message, statusCode}`, Clockify's
/// `{message, code}`, else the text; cut to [`MESSAGE_CHARS`].
fn error_message(body: &[u8]) -> (String, Option<RunnErrorBody>) {
    #[derive(Deserialize)]
    struct AnyMessage {
        message: String,
    }
    let runn = serde_json::from_slice::<RunnErrorBody>(body)
        .ok()
        .map(|r| RunnErrorBody {
            error: clip(&r.error, MESSAGE_CHARS),
            message: clip(&r.message, MESSAGE_CHARS),
            status_code: r.status_code,
        });
    let message = match (&runn, serde_json::from_slice::<AnyMessage>(body)) {
        (Some(r), _) => r.message.clone(),
        (None, Ok(m)) => m.message,
        (None, Err(_)) => String::from_utf8_lossy(body).into_owned(),
    };
    (clip(message.trim(), MESSAGE_CHARS), runn)
}

/// Builds the permanent error for a 4xx, keeping Runn's `{error, message, statusCode}` or
/// Clockify's `{message, code}` when the body has them.
fn rejected(service: Service, label: &str, status: StatusCode, body: &[u8]) -> ApiError {
    let (message, runn) = error_message(body);
    ApiError::Rejected {
        service,
        request: label.to_owned(),
        status: status.as_u16(),
        message,
        runn: if service == Service::Runn { runn } else { None },
    }
}

/// A 403: the credential works, but may not do this one thing. What it may not do is
/// read off the request (`GET /actuals/`: read /actuals/).
fn forbidden(service: Service, label: &str, body: &[u8]) -> ApiError {
    let (message, _) = error_message(body);
    let (method, path) = label.split_once(' ').unwrap_or(("", label));
    let verb = match method {
        "GET" => "read",
        "DELETE" => "delete",
        _ => "write",
    };
    ApiError::Forbidden {
        service,
        request: label.to_owned(),
        permission: format!("{verb} {path}"),
        message,
    }
}

fn clip(s: &str, n: usize) -> String {
    crate::model::report::clip(s, n)
}

/// How long the server asked us to wait: `Retry-After` (seconds or an HTTP date), else
/// Runn's `x-ratelimit-reset` (seconds until the window resets, or an epoch time).
pub fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    // Whatever a server sends — huge, infinite, NaN, negative — becomes a wait between
    // zero and a year (the caller caps it far lower); NaN is ignored.
    if let Some(v) = text("retry-after") {
        if let Ok(n) = v.parse::<f64>() {
            if !n.is_nan() {
                return Some(secs(n));
            }
        }
        if let Ok(when) = chrono::DateTime::parse_from_rfc2822(v) {
            let ms = when
                .timestamp_millis()
                .saturating_sub(chrono::Utc::now().timestamp_millis());
            return Some(secs(ms as f64 / 1000.0));
        }
    }
    if let Some(v) = text("x-ratelimit-reset") {
        if let Ok(n) = v.parse::<f64>() {
            if !n.is_nan() {
                // Values this large are epoch seconds, not a delay.
                let s = if n > 1.0e9 {
                    n - chrono::Utc::now().timestamp() as f64
                } else {
                    n
                };
                return Some(secs(s));
            }
        }
    }
    None
}

/// The most pages any list is read to: past it, the server is taken to be looping.
pub const MAX_PAGES: u32 = 10_000;

/// The error of a paged read that does not end: too many pages, or a cursor seen before.
pub fn endless(service: Service, request: &str, why: &str) -> ApiError {
    ApiError::Contract {
        service,
        request: request.to_owned(),
        reason: format!("the list does not end ({why}); stopped reading"),
    }
}

/// Serde for a `Duration` as whole milliseconds.
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test(start_paused = true)]
    async fn bucket_spreads_requests_at_the_configured_rate() {
        let limiter = RateLimiter::new(RateLimit::per_second(10).with_burst(2));
        let start = Instant::now();
        for _ in 0..12 {
            limiter.acquire().await;
        }
        // 2 from the burst, 10 more at 10/s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(990) && took <= Duration::from_millis(1010),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn free_plan_rate_of_thirty_an_hour_is_honoured() {
        let limit = RateLimit::per_hour(30).with_burst(1);
        let limiter = RateLimiter::new(limit);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed().as_secs(), 240);
        assert_eq!(limit.min_duration_for(3), Duration::from_secs(240));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_caller() {
        let limiter = RateLimiter::new(RateLimit::per_second(1000));
        limiter.pause_for(Duration::from_secs(3));
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        for retry in 0..40 {
            assert!(p.backoff(retry) <= Duration::from_secs(2));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(5)).collect();
        assert!(spread.len() > 10, "no jitter");
    }

    #[test]
    fn no_server_header_however_odd_panics_or_asks_for_more_than_a_year() {
        for v in [
            "1e30",
            "inf",
            "-inf",
            "NaN",
            "-5",
            "1e309",
            "18446744073709551616",
            "0.0000001",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "\u{0}",
            "",
        ] {
            for name in ["retry-after", "x-ratelimit-reset"] {
                let mut h = HeaderMap::new();
                if let Ok(value) = HeaderValue::from_str(v) {
                    h.insert(name, value);
                }
                if let Some(w) = server_wait(&h) {
                    assert!(w <= YEAR, "{name}: {v} gave {w:?}");
                }
            }
        }
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("1e30"));
        assert_eq!(server_wait(&h), Some(YEAR));
        h.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(server_wait(&h), Some(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_refuses_a_wait_past_the_deadline() {
        let limiter = RateLimiter::new(RateLimit::per_minute(1).with_burst(1));
        let deadline = Some(Instant::now() + Duration::from_secs(10));
        assert_eq!(limiter.acquire_by(deadline).await, Ok(()));
        let start = Instant::now();
        assert!(limiter.acquire_by(deadline).await.is_err());
        assert_eq!(start.elapsed(), Duration::ZERO, "it must not wait first");
        limiter.pause_for(Duration::MAX);
    }

    #[test]
    fn server_wait_reads_retry_after_and_ratelimit_reset() {
        let mut h = HeaderMap::new();
        assert_eq!(server_wait(&h), None);
        h.insert("x-ratelimit-reset", HeaderValue::from_static("7"));
        assert_eq!(server_wait(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(server_wait(&h), Some(Duration::from_secs(3)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        let w = server_wait(&h).unwrap();
        assert!(
            w > Duration::from_secs(55) && w <= Duration::from_secs(60),
            "{w:?}"
        );
    }
}
