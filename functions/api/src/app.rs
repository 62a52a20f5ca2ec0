//! The router: every route and the rule that authenticates it, and what every request
//! goes through first (the caller's path without API Gateway's stage, the body's size)
//! and last (its log line, `Retry-After` on a 503).

use crate::reply::Reply;
use crate::{auth, imports, integration, links, previews, status, webhook};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put, MethodRouter};
use axum::Router;
use lambda_http::RequestExt;
use shared::hosts::{HostPolicy, Resolver};
use shared::queue::Queue;
use shared::signing_key::SigningKey;
use shared::store::roles::Store;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The time all of Save & Run's checks get (they run side by side); API Gateway allows
/// 30 s for the whole request.
pub const CHECK_TIME: Duration = Duration::from_secs(10);

/// What the routes need, built once per process.
#[derive(Clone)]
pub struct Api {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub key: Arc<dyn SigningKey>,
    pub hosts: HostPolicy,
    /// Looks up the hosts a request names (the system's resolver; a table in tests).
    pub resolver: Arc<dyn Resolver>,
    pub check_time: Duration,
}

/// The API. Each route says how it is authenticated: Runn's signature for all of today's
/// (a layer on the routes, so a route with a rule of its own, as a Clockify webhook's
/// token, goes beside them). A path no route has is answered under Runn's rule too: an
/// unsigned request learns nothing of which paths exist (401 before 404).
pub fn router(api: Arc<Api>) -> Router {
    let runn_signature = from_fn_with_state(api.clone(), auth::runn_signature);
    let integration = put(integration::save_and_run).delete(integration::turn_off);
    let routes = Router::new()
        .route(
            "/accounts/{accountId}/integration",
            resource(integration, &["PUT", "DELETE"]),
        )
        .route(
            "/accounts/{accountId}/imports",
            resource(post(imports::import), &["POST"]),
        )
        .route(
            "/accounts/{accountId}/previews",
            resource(post(previews::preview), &["POST"]),
        )
        .route(
            "/accounts/{accountId}/status",
            resource(get(status::status), &["GET"]),
        )
        .route(
            "/accounts/{accountId}/runs/{runId}",
            resource(get(status::run), &["GET"]),
        )
        .route(
            "/accounts/{accountId}/link-suggestions",
            resource(post(links::suggest), &["POST"]),
        )
        .route(
            "/accounts/{accountId}/runs/{runId}/suggestions",
            resource(get(links::suggestions), &["GET"]),
        )
        .route(
            "/accounts/{accountId}/links",
            resource(post(links::links), &["POST"]),
        )
        .route(
            "/accounts/{accountId}/removals",
            resource(post(links::removals), &["POST"]),
        )
        .route_layer(runn_signature.clone())
        .merge(clockify_webhooks(api.clone()))
        .fallback_service(any(not_found).layer(runn_signature).with_state(api.clone()))
        .with_state(api);
    // The routes are matched on the caller's path, so the stage comes off before they
    // are: around the router, not inside it.
    Router::new().fallback_service(routes).layer(from_fn(front))
}

/// Clockify's deliveries, under their own rule (the webhook's token), beside Runn's.
fn clockify_webhooks(api: Arc<Api>) -> Router<Arc<Api>> {
    let token = from_fn_with_state(api, webhook::clockify_token);
    Router::new()
        .route(
            "/webhooks/clockify/{accountId}",
            resource(post(webhook::deliver), &["POST"]),
        )
        .route_layer(token)
}

/// A resource's methods; any other (HEAD too: a GET is not one) answers 405 naming them.
fn resource(
    methods: MethodRouter<Arc<Api>>,
    allowed: &'static [&'static str],
) -> MethodRouter<Arc<Api>> {
    let refuse = move |method: Method| async move {
        let reply = Reply::error(
            405,
            "method_not_allowed",
            format!("{method} is not allowed here; use {}", allowed.join(" or ")),
        );
        ([(header::ALLOW, allowed.join(", "))], reply)
    };
    methods.head(refuse).fallback(refuse)
}

async fn not_found(request: Request) -> Reply {
    let path = match request.extensions().get::<Caller>() {
        Some(caller) => caller.path.clone(),
        None => request.uri().path().to_owned(),
    };
    Reply::error(404, "not_found", format!("no such resource: {path}"))
}

/// The path the caller sent, without API Gateway's stage, and its query: what the
/// signature covers (the request's URI is rewritten to it for routing).
#[derive(Clone, Debug)]
pub struct Caller {
    pub path: String,
    pub path_and_query: String,
}

impl Caller {
    pub fn of(parts: &axum::http::request::Parts) -> Self {
        let stage = match parts.extensions.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
            _ => None,
        };
        let mut path = without_stage(parts.extensions.raw_http_path(), stage.as_deref());
        if path.is_empty() {
            path = parts.uri.path().to_owned();
        }
        let path_and_query = match parts.uri.query() {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.clone(),
        };
        Self {
            path,
            path_and_query,
        }
    }

    /// The path routed: a trailing `/` names the same resource.
    pub fn routed(&self) -> &str {
        match self.path.trim_end_matches('/') {
            "" => "/",
            p => p,
        }
    }

    /// The URI the routes match on. A path that is no URI (bytes API Gateway passed as
    /// they were sent) is matched with those bytes escaped; its ids are still read, and
    /// refused, as they were sent.
    fn uri(&self) -> Uri {
        let routed = self.routed();
        routed.parse().unwrap_or_else(|_| {
            let escaped: String = routed
                .bytes()
                .map(|b| match b {
                    b'!'..=b'~' if !b"\"<>\\^`{|}#?".contains(&b) => char::from(b).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            escaped.parse().unwrap_or(Uri::from_static("/"))
        })
    }
}

/// A named stage's prefix taken off the path (HTTP APIs put it in `rawPath`); the
/// `$default` stage has none.
pub fn without_stage(path: &str, stage: Option<&str>) -> String {
    if let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") {
        if let Some(rest) = path.strip_prefix(&format!("/{stage}")) {
            if rest.starts_with('/') {
                return rest.to_owned();
            }
        }
    }
    path.to_owned()
}

/// Before the routes: the caller's path, and the body's size (refused before a signature
/// is hashed over it). After: the answer's log line, in the request's span (which the
/// route's authentication gives its account), and `Retry-After` on a 503.
async fn front(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::of(&parts);
    let method = parts.method.clone();
    let span = tracing::info_span!("request", account = tracing::field::Empty);
    let mut response = async {
        let body = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) if b.len() > MAX_BODY => {
                let message = format!(
                    "the body is {} bytes; at most {MAX_BODY} are accepted",
                    b.len()
                );
                return Reply::bad_request(message).into_response();
            }
            Ok(b) => b,
            Err(e) => {
                return Reply::bad_request(format!("the body could not be read: {e}"))
                    .into_response()
            }
        };
        parts.uri = caller.uri();
        parts.extensions.insert(caller.clone());
        let response = next.run(Request::from_parts(parts, Body::from(body))).await;
        let (path, status) = (&caller.path, response.status().as_u16());
        tracing::info!(%method, %path, status, "answered");
        response
    }
    .instrument(span)
    .await;
    if response.status().as_u16() == 503 {
        let thirty = HeaderValue::from_static("30");
        response.headers_mut().insert(header::RETRY_AFTER, thirty);
    }
    response
}
