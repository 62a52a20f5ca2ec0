//! The HTTP API Runn's backend calls: "Save & Run" on its Integrations page, the "Import
//! from Clockify" buttons, the status, and turning the integration off. The contract is
//! `infra/api.yaml`; every answer here is checked against it by the tests.
//!
//! Every request is signed (`shared::signature`); the signature binds the method, the
//! path (so the account) and the body, so no request for one account can read or change
//! another. Nothing here can open a stored secret: credentials are sealed with KMS
//! `Encrypt` only, and checked before they are saved with the values the caller sent.

use crate::secret::SigningKey;
use chrono::NaiveDate;
use chrono_tz::Tz;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::account::{
    validate_credential, AccountId, AccountSettings, Switches, Trigger, DEFAULT_WINDOW_DAYS,
};
use shared::checks::{check_clockify, check_runn, unknown_role_gate, CheckError};
use shared::clockify::{ClockifyClient, ClockifyConfig, ClockifyHost};
use shared::hosts::HostPolicy;
use shared::ids::WorkspaceId;
use shared::queue::{Job, Queue, Work};
use shared::runn::{RunnClient, RunnConfig, RunnHost};
use shared::status::{AccountStatus, RunStatus, STATUS_RUNS};
use shared::store::{Pending, Store, StoreError};
use shared::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// How long the "queued or running" mark lasts if its job never clears it (dead-lettered,
/// lost): the import button is never stuck for longer.
pub const PENDING_TTL: Duration = Duration::from_secs(3600);
/// The time all of Save & Run's checks get (they run side by side); API Gateway allows
/// 30 s for the whole request.
pub const CHECK_TIME: Duration = Duration::from_secs(10);

/// What the handler needs, built once per process.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub key: Arc<dyn SigningKey>,
    pub hosts: HostPolicy,
    pub check_time: Duration,
}

/// An answer: its status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    fn ok(status: u16, body: Value) -> Self {
        Self { status, body }
    }
    fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": {"code": code, "message": message.into()}}),
        }
    }
    fn field(status: u16, code: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": {"code": code, "field": field, "message": message.into()}}),
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::error(400, "bad_request", message)
    }
    fn unavailable(message: impl Into<String>) -> Self {
        Self::error(503, "unavailable", message)
    }
    fn no_account(id: &AccountId) -> Self {
        Self::error(404, "not_found", format!("there is no integration for account {id}"))
    }
}

fn store_failed(e: StoreError) -> Reply {
    tracing::error!(error = %e, "store request failed");
    Reply::unavailable("the integration's records could not be reached; try again shortly")
}

/// The Lambda entry: API Gateway's request in, a JSON answer out. Nothing is refused by
/// panicking: every path ends in an answer.
pub async fn handle(api: &Api, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    use lambda_http::RequestExt;
    let method = req.method().as_str().to_owned();
    // The path the caller sent, without API Gateway's stage, and its query.
    let mut path = req.raw_http_path().to_owned();
    if path.is_empty() {
        path = req.uri().path().to_owned();
    }
    let path_and_query = match req.uri().query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.clone(),
    };
    let signature = req
        .headers()
        .get(shared::signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = chrono::Utc::now().timestamp();
    let reply = respond(
        api,
        &method,
        &path,
        &path_and_query,
        signature.as_deref(),
        req.body().as_ref(),
        now,
    )
    .await;
    let mut response = Response::builder()
        .status(reply.status)
        .header("content-type", "application/json");
    if reply.status == 503 {
        response = response.header("retry-after", "30");
    }
    Ok(response.body(Body::Text(reply.body.to_string()))?)
}

/// The route of a request, from its path.
enum Route {
    Integration(AccountId),
    Imports(AccountId),
    Status(AccountId),
    Run(AccountId, String),
}

fn route(path: &str) -> Result<Route, Reply> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let not_found = || Reply::error(404, "not_found", format!("no such resource: {path}"));
    let account = |s: &str| {
        AccountId::parse(s).map_err(|e| Reply::field(400, "bad_request", "accountId", e.to_string()))
    };
    match parts.as_slice() {
        ["accounts", id, "integration"] => Ok(Route::Integration(account(id)?)),
        ["accounts", id, "imports"] => Ok(Route::Imports(account(id)?)),
        ["accounts", id, "status"] => Ok(Route::Status(account(id)?)),
        ["accounts", id, "runs", run] => {
            let ok = !run.is_empty()
                && run.len() <= 64
                && run.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(Reply::field(
                    400,
                    "bad_request",
                    "runId",
                    "a run id is 1 to 64 letters, digits or '-'",
                ));
            }
            Ok(Route::Run(account(id)?, (*run).to_owned()))
        }
        _ => Err(not_found()),
    }
}

/// Answers one request. `path` is the caller's path (routing), `path_and_query` what the
/// signature covers.
pub async fn respond(
    api: &Api,
    method: &str,
    path: &str,
    path_and_query: &str,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Reply {
    // Before the signature: no hashing of a body that is refused anyway.
    if body.len() > MAX_BODY {
        return Reply::bad_request(format!(
            "the body is {} bytes; at most {MAX_BODY} are accepted",
            body.len()
        ));
    }
    let secret = match api.key.secret().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no signing secret");
            return Reply::unavailable("requests cannot be checked right now; try again shortly");
        }
    };
    if let Err(e) =
        shared::signature::verify(&secret, signature, method, path_and_query, body, now)
    {
        tracing::warn!(reason = %e, %method, %path, "signature refused");
        return Reply::error(401, "unauthorized", format!("the request is not signed: {e}"));
    }
    let route = match route(path) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let wrong_method = |allowed: &str| {
        Reply::error(
            405,
            "method_not_allowed",
            format!("{method} is not allowed here; use {allowed}"),
        )
    };
    let reply = match (route, method) {
        (Route::Integration(id), "PUT") => save_and_run(api, &id, body).await,
        (Route::Integration(id), "DELETE") => turn_off(api, &id, body).await,
        (Route::Integration(_), _) => wrong_method("PUT or DELETE"),
        (Route::Imports(id), "POST") => import(api, &id, body).await,
        (Route::Imports(_), _) => wrong_method("POST"),
        (Route::Status(id), "GET") => status(api, &id).await,
        (Route::Status(_), _) => wrong_method("GET"),
        (Route::Run(id, run), "GET") => run_status(api, &id, &run).await,
        (Route::Run(..), _) => wrong_method("GET"),
    };
    tracing::info!(%method, %path, status = reply.status, "answered");
    reply
}

/// A JSON body into `T`, refusing bad JSON and unknown fields with what serde says (it
/// names the field, never a value of a credential: those are strings, and a string is
/// never quoted back).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body)
        .map_err(|e| Reply::bad_request(format!("the body is not what this request takes: {e}")))
}

fn no_body(body: &[u8]) -> Result<(), Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(())
    } else {
        Err(Reply::bad_request("this request takes no body"))
    }
}

/// The body of "Save & Run".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntegrationRequest {
    runn_account: String,
    runn_host: RunnHost,
    clockify_host: ClockifyHost,
    #[serde(default)]
    clockify_reports_url: Option<Url>,
    clockify_workspace: WorkspaceId,
    switches: Switches,
    #[serde(default)]
    actuals_since: Option<NaiveDate>,
    #[serde(default)]
    window_days: Option<u32>,
    /// Absent: kept as it is, and on for a new integration.
    #[serde(default)]
    autofill: Option<bool>,
    time_zone: Tz,
    /// Absent: the stored one is kept (Runn's form shows it masked).
    #[serde(default)]
    runn_token: Option<SecretString>,
    #[serde(default)]
    clockify_api_key: Option<SecretString>,
}

fn refused(e: CheckError) -> Reply {
    match e {
        CheckError::Refused { field, message } => {
            Reply::field(422, "refused", field, format!("{message}; nothing was saved"))
        }
        CheckError::Unavailable { message } => Reply::unavailable(message),
    }
}

async fn save_and_run(api: &Api, id: &AccountId, body: &[u8]) -> Reply {
    let req: IntegrationRequest = match parse(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let existing = match api.store.credentials(id).await {
        Ok(e) => e,
        Err(e) => return store_failed(e),
    };
    let old = existing.as_ref().map(|(s, _)| s);
    let stored = existing.as_ref().map(|(_, c)| *c).unwrap_or_default();
    let settings = AccountSettings {
        id: id.clone(),
        runn_account: req.runn_account,
        runn_host: req.runn_host,
        clockify_host: req.clockify_host,
        clockify_reports_url: req.clockify_reports_url,
        clockify_workspace: req.clockify_workspace,
        switches: req.switches,
        actuals_since: req.actuals_since,
        window_days: req
            .window_days
            .or(old.map(|s| s.window_days))
            .unwrap_or(DEFAULT_WINDOW_DAYS),
        autofill: req.autofill.or(old.map(|s| s.autofill)).unwrap_or(true),
        time_zone: req.time_zone,
        // Saving working credentials re-enables an account disabled for rejected ones.
        enabled: true,
        disabled_reason: None,
    };
    if let Err(e) = settings.validate(api.hosts) {
        return Reply::field(422, "refused", e.field, format!("{}; nothing was saved", e.reason));
    }
    for (field, given, is_stored, what) in [
        ("runn_token", &req.runn_token, stored.runn_token, "Runn API token"),
        (
            "clockify_api_key",
            &req.clockify_api_key,
            stored.clockify_api_key,
            "Clockify API key",
        ),
    ] {
        match given {
            Some(secret) => {
                if let Err(e) = validate_credential(field, secret) {
                    return Reply::field(422, "refused", field, format!("the {what} {}", e.reason));
                }
            }
            None if !is_stored => {
                return Reply::field(
                    422,
                    "refused",
                    field,
                    format!("the {what} is needed: none is stored for this account"),
                )
            }
            None => {}
        }
    }
    // Actuals being switched on: no linked person may still be on "Unknown".
    let was_on = old.is_some_and(|s| s.enabled && s.switches.actuals);
    let gate = settings.switches.actuals && !was_on;
    if gate && req.runn_token.is_none() {
        return Reply::field(
            422,
            "refused",
            "runn_token",
            "give the Runn API token to switch actuals on: it checks that no linked person is still on the \"Unknown\" role; nothing was saved",
        );
    }
    let deadline = Instant::now() + api.check_time;
    let clockify_check = async {
        let Some(key) = &req.clockify_api_key else {
            return Ok(None);
        };
        let mut cfg = ClockifyConfig::new(settings.clockify_host.clone(), key.clone());
        cfg.reports_base = settings.clockify_reports_url.clone();
        cfg.hosts = api.hosts;
        quick(&mut cfg.retry, &mut cfg.timeout, &mut cfg.deadline, deadline);
        let client = ClockifyClient::new(cfg).map_err(|e| CheckError::Refused {
            field: "clockify_host",
            message: e.to_string(),
        })?;
        check_clockify(&client, &settings.clockify_workspace).await
    };
    let runn_check = async {
        let Some(token) = &req.runn_token else {
            return Ok(());
        };
        let mut cfg = RunnConfig::new(settings.runn_host.clone(), token.clone());
        cfg.hosts = api.hosts;
        quick(&mut cfg.retry, &mut cfg.timeout, &mut cfg.deadline, deadline);
        let client = RunnClient::new(cfg).map_err(|e| CheckError::Refused {
            field: "runn_host",
            message: e.to_string(),
        })?;
        check_runn(&client).await?;
        if gate {
            unknown_role_gate(&client).await?;
        }
        Ok(())
    };
    let (clockify, runn) = tokio::join!(clockify_check, runn_check);
    let warning = match clockify {
        Ok(w) => w,
        Err(e) => return refused(e),
    };
    if let Err(e) = runn {
        return refused(e);
    }
    match api
        .store
        .save_integration(&settings, req.runn_token.as_ref(), req.clockify_api_key.as_ref())
        .await
    {
        Ok(true) => {}
        // A left-out credential went away meanwhile (the integration was turned off).
        Ok(false) => {
            return Reply::field(
                422,
                "refused",
                "runn_token",
                "the stored credentials are gone (the integration was turned off); give both again",
            )
        }
        Err(e) => return store_failed(e),
    }
    tracing::info!(account = %id, "integration saved");
    let queued = queue_job(api, id, Work::Import { only: None }).await;
    let (run_id, fresh) = match queued {
        Ok(q) => q,
        Err(reply) => return reply,
    };
    let warnings: Vec<String> = warning.into_iter().collect();
    Reply::ok(
        202,
        json!({"account": id, "run_id": run_id, "queued": fresh, "warnings": warnings}),
    )
}

/// Short timeouts and one retry for a check: it answers a person waiting at a form.
fn quick(
    retry: &mut shared::http::RetryPolicy,
    timeout: &mut Duration,
    deadline: &mut Option<Instant>,
    until: Instant,
) {
    retry.max_attempts = retry.max_attempts.min(2);
    retry.max_rate_limited = retry.max_rate_limited.min(1);
    retry.max_server_wait = retry.max_server_wait.min(Duration::from_secs(3));
    *timeout = (*timeout).min(Duration::from_secs(5));
    *deadline = Some(until);
}

/// Queues a job for the account unless one is queued or running: its run id, and whether
/// it was queued now.
async fn queue_job(api: &Api, id: &AccountId, work: Work) -> Result<(String, bool), Reply> {
    let run_id = shared::jobs::new_run_id();
    match api.store.mark_pending(id, &run_id, PENDING_TTL).await {
        Ok(Pending::Marked) => {}
        Ok(Pending::Already(run)) => return Ok((run, false)),
        Err(e) => return Err(store_failed(e)),
    }
    let job = Job {
        account: id.clone(),
        run_id: run_id.clone(),
        trigger: Trigger::Manual,
        work,
    };
    if let Err(e) = api.queue.send(&[job]).await {
        tracing::error!(account = %id, error = %e, "could not queue the job");
        // Nothing is queued: the button must not stay stuck on it.
        if let Err(e) = api.store.clear_pending(id, &run_id).await {
            tracing::warn!(account = %id, error = %e, "could not clear the pending mark; it expires on its own");
        }
        return Err(Reply::unavailable(
            "the import could not be queued; try again shortly",
        ));
    }
    tracing::info!(account = %id, run_id = %run_id, "job queued");
    Ok((run_id, true))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    kinds: Vec<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Clients,
    Projects,
    People,
    Actuals,
}

async fn import(api: &Api, id: &AccountId, body: &[u8]) -> Reply {
    let req: ImportRequest = match parse(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if req.kinds.is_empty() {
        return Reply::field(400, "bad_request", "kinds", "name at least one kind to import");
    }
    let has = |k: Kind| req.kinds.contains(&k);
    // Clients and projects go together, as their switch does.
    let only = Switches {
        clients_and_projects: has(Kind::Clients) || has(Kind::Projects),
        people: has(Kind::People),
        actuals: has(Kind::Actuals),
    };
    let settings = match api.store.settings(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::no_account(id),
        Err(e) => return store_failed(e),
    };
    if !settings.enabled {
        let why = settings.disabled_reason.as_deref().unwrap_or("it is disabled");
        return Reply::error(
            409,
            "disabled",
            format!("the integration is off ({why}); Save & Run it again first"),
        );
    }
    let off: Vec<&str> = [
        (only.clients_and_projects, settings.switches.clients_and_projects, "clients and projects"),
        (only.people, settings.switches.people, "people"),
        (only.actuals, settings.switches.actuals, "actuals"),
    ]
    .into_iter()
    .filter(|(asked, on, _)| *asked && !on)
    .map(|(_, _, name)| name)
    .collect();
    if !off.is_empty() {
        return Reply::field(
            422,
            "refused",
            "kinds",
            format!(
                "the import of {} is switched off in the integration's settings; nothing was queued",
                off.join(" and ")
            ),
        );
    }
    match queue_job(api, id, Work::Import { only: Some(only) }).await {
        Ok((run_id, queued)) => {
            Reply::ok(202, json!({"account": id, "run_id": run_id, "queued": queued}))
        }
        Err(reply) => reply,
    }
}

async fn turn_off(api: &Api, id: &AccountId, body: &[u8]) -> Reply {
    if let Err(reply) = no_body(body) {
        return reply;
    }
    match api.store.turn_off(id, "turned off in Runn").await {
        Ok(true) => {}
        Ok(false) => return Reply::no_account(id),
        Err(e) => return store_failed(e),
    }
    // A job still queued is dropped by the worker (the account is disabled); the button
    // is free at once.
    if let Ok(Some(run)) = api.store.pending(id).await {
        if let Err(e) = api.store.clear_pending(id, &run).await {
            tracing::warn!(account = %id, error = %e, "could not clear the pending mark; it expires on its own");
        }
    }
    tracing::info!(account = %id, "integration turned off; credentials deleted");
    Reply::ok(200, json!({"account": id, "enabled": false, "credentials_stored": false}))
}

async fn status(api: &Api, id: &AccountId) -> Reply {
    match AccountStatus::read(api.store.as_ref(), id, STATUS_RUNS).await {
        Ok(Some(s)) => Reply::ok(200, serde_json::to_value(s).unwrap_or(Value::Null)),
        Ok(None) => Reply::no_account(id),
        Err(e) => store_failed(e),
    }
}

async fn run_status(api: &Api, id: &AccountId, run: &str) -> Reply {
    match RunStatus::read(api.store.as_ref(), id, run).await {
        Ok(Some(s)) => Reply::ok(200, serde_json::to_value(s).unwrap_or(Value::Null)),
        Ok(None) => Reply::error(404, "not_found", format!("account {id} has no run {run}")),
        Err(e) => store_failed(e),
    }
}
