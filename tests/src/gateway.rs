//! API Gateway's HTTP API (payload format 2.0, the `$default` route and stage) in front of
//! a function under the runtime API emulator: any HTTP request becomes the v2 event, the
//! function is invoked over the emulator's Invoke API, and its answer becomes the HTTP
//! answer. Clockify's webhooks, the demo and the benchmarks reach the real `api` binary
//! through it. [`v2_event`] is the one builder of the event (the backend's too).

use crate::common::Running;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body API Gateway takes (HTTP APIs: 10 MiB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// How long API Gateway waits for the function (HTTP APIs: 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The API's domain when a request names none.
pub const DOMAIN: &str = "abc123.execute-api.us-east-1.amazonaws.com";

/// A request as API Gateway received it: headers in the order sent (names any case,
/// repeated ones repeated), the path and query as sent (still percent-encoded).
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Without the `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

impl HttpRequest {
    /// A request without headers or body, from `203.0.113.9` (a documentation address).
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            source_ip: "203.0.113.9".to_owned(),
            ..Self::default()
        }
    }

    /// The first value of a header, by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The API Gateway v2 event for a request: headers lower-cased and repeated ones joined
/// with commas, `Cookie` moved to `cookies`, the query also decoded into
/// `queryStringParameters`, a body that is not UTF-8 sent in base64.
pub fn v2_event(req: &HttpRequest) -> Value {
    let now = chrono::Utc::now();
    let (headers, cookies) = event_headers(&req.headers);
    let domain = req.header("host").unwrap_or(DOMAIN);
    let prefix = domain.split('.').next().unwrap_or(domain);
    let user_agent = req.header("user-agent").unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": domain,
            "domainPrefix": prefix,
            "http": {
                "method": req.method, "path": req.path, "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip, "userAgent": user_agent
            },
            "requestId": format!("{:032x}", rand::random::<u128>()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis()
        },
        "isBase64Encoded": false
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !req.query.is_empty() {
        event["queryStringParameters"] = query_parameters(&req.query);
    }
    if !req.body.is_empty() {
        event["body"] = match std::str::from_utf8(&req.body) {
            Ok(text) => json!(text),
            Err(_) => {
                event["isBase64Encoded"] = json!(true);
                json!(base64::engine::general_purpose::STANDARD.encode(&req.body))
            }
        };
    }
    event
}

/// The headers object (lower-cased, repeats comma-joined) and the cookies, one per pair.
fn event_headers(sent: &[(String, String)]) -> (Map<String, Value>, Vec<String>) {
    let (mut headers, mut cookies) = (Map::new(), Vec::new());
    for (name, value) in sent {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            let pairs = value.split(';').map(str::trim).filter(|c| !c.is_empty());
            cookies.extend(pairs.map(str::to_owned));
            continue;
        }
        match headers.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => {
                headers.insert(name, json!(value));
            }
        }
    }
    (headers, cookies)
}

fn query_parameters(query: &str) -> Value {
    let mut params: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match params.get_mut(k.as_ref()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&v);
            }
            _ => {
                params.insert(k.into_owned(), json!(v));
            }
        }
    }
    Value::Object(params)
}

/// Why a function's answer made no HTTP answer (API Gateway answers 502).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// The HTTP answer API Gateway makes of a function's answer: a proxy response
/// (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`),
/// or, for any other JSON, that JSON with 200.
pub fn http_answer(answer: &Value) -> Result<Response, Unreadable> {
    let Some(status) = answer.get("statusCode") else {
        let body = Body::from(answer.to_string());
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| Unreadable(format!("statusCode {status} is no HTTP status")))?;
    let mut response = Response::new(answer_body(answer)?);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer_headers(answer)? {
        // The length is the body's as sent here, not the function's claim.
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            headers.append(name, value);
        }
    }
    Ok(response)
}

fn answer_body(answer: &Value) -> Result<Body, Unreadable> {
    let text = match &answer["body"] {
        Value::Null => return Ok(Body::empty()),
        Value::String(s) => s,
        other => return Err(Unreadable(format!("body {other} is not a string"))),
    };
    if answer["isBase64Encoded"] == json!(true) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| Unreadable(format!("the body is not base64: {e}")))?;
        return Ok(Body::from(bytes));
    }
    Ok(Body::from(text.clone()))
}

/// `headers`, then `multiValueHeaders`, then each of `cookies` as a `set-cookie`.
fn answer_headers(answer: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, Unreadable> {
    let mut out = Vec::new();
    let mut add = |name: &str, value: &Value| -> Result<(), Unreadable> {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => return Err(Unreadable(format!("header {name}: {value} is no value"))),
        };
        let bad = |e: &dyn std::fmt::Display| Unreadable(format!("header {name}: {e}"));
        let n = HeaderName::try_from(name).map_err(|e| bad(&e))?;
        out.push((n, HeaderValue::try_from(value).map_err(|e| bad(&e))?));
        Ok(())
    };
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        add(name, value)?;
    }
    for (name, values) in answer["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for value in values.as_array().into_iter().flatten() {
            add(name, value)?;
        }
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        add("set-cookie", cookie)?;
    }
    Ok(out)
}

/// API Gateway's own answers, as it words them.
fn gateway_answer(status: StatusCode, message: &str) -> Response {
    let body = json!({ "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The stand-in: where it invokes the function, and API Gateway's limits.
#[derive(Clone, Debug)]
pub struct Gateway {
    pub invoke_url: String,
    pub max_body: usize,
    pub timeout: Duration,
    http: reqwest::Client,
}

impl Gateway {
    /// With API Gateway's limits ([`MAX_BODY`], [`TIMEOUT`]).
    pub fn new(invoke_url: impl Into<String>) -> Self {
        Self {
            invoke_url: invoke_url.into(),
            max_body: MAX_BODY,
            timeout: TIMEOUT,
            http: reqwest::Client::new(),
        }
    }

    /// Serves on 127.0.0.1:`port` (0 for any free port) until the answer is dropped.
    pub async fn serve(self, port: u16) -> std::io::Result<Running> {
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::new(self));
        crate::common::serve_with_peers(app, port).await
    }

    /// The function's answer to an event: a JSON answer of a successful invocation; a
    /// function error (the emulator answers 500, Lambda `X-Amz-Function-Error`) is none.
    pub async fn invoke(&self, event: &Value) -> Result<Value, Unreadable> {
        let unreadable = |e: reqwest::Error| Unreadable(format!("the invocation failed: {e}"));
        let response = self
            .http
            .post(&self.invoke_url)
            .json(event)
            .send()
            .await
            .map_err(unreadable)?;
        let status = response.status();
        if !status.is_success() || response.headers().contains_key("x-amz-function-error") {
            let text = response.text().await.unwrap_or_default();
            return Err(Unreadable(format!(
                "the function failed ({status}): {text}"
            )));
        }
        response.json().await.map_err(unreadable)
    }
}

/// Serves API Gateway's stand-in for the function at `invoke_url` on 127.0.0.1:`port`.
pub async fn serve_gateway(invoke_url: String, port: u16) -> std::io::Result<Running> {
    Gateway::new(invoke_url).serve(port).await
}

async fn handle(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > gw.max_body as u64) {
        return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    // Past the limit (or a body cut off): refused, as API Gateway refuses it.
    let Ok(body) = axum::body::to_bytes(body, gw.max_body).await else {
        return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
    let source_ip = peer.map_or("127.0.0.1".to_owned(), |p| p.0.ip().to_string());
    let event = v2_event(&received(&parts, body.to_vec(), source_ip));
    let request_id = event["requestContext"]["requestId"].clone();
    let mut response = match tokio::time::timeout(gw.timeout, gw.invoke(&event)).await {
        Err(_) => gateway_answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        Ok(answer) => answer.and_then(|a| http_answer(&a)).unwrap_or_else(|e| {
            tracing::warn!(reason = %e.0, "the function's answer made no HTTP answer");
            gateway_answer(StatusCode::BAD_GATEWAY, "Internal Server Error")
        }),
    };
    if let Some(id) = request_id
        .as_str()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        response.headers_mut().insert("apigw-requestid", id);
    }
    response
}

/// The request as the event carries it, with the `X-Forwarded-*` headers API Gateway adds.
fn received(parts: &axum::http::request::Parts, body: Vec<u8>, source_ip: String) -> HttpRequest {
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(n, _)| !n.as_str().starts_with("x-forwarded-"))
        .map(|(n, v)| (n.as_str().to_owned(), text(v)))
        .collect();
    let forwarded_for = match parts.headers.get("x-forwarded-for") {
        Some(v) => format!("{}, {source_ip}", text(v)),
        None => source_ip.clone(),
    };
    headers.push(("x-forwarded-for".to_owned(), forwarded_for));
    headers.push(("x-forwarded-proto".to_owned(), "http".to_owned()));
    HttpRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body,
        source_ip,
    }
}
