//! The HTTP API Runn's backend calls: "Save & Run" on its Integrations page, the "Import
//! from Clockify" buttons, the status, and turning the integration off. The contract is
//! `infra/api.yaml`; every answer here is checked against it by the tests.
//!
//! Every request is signed (`shared::signature`); the signature binds the method, the
//! path (so the account) and the body, so no request for one account can read or change
//! another. Nothing here can open a stored secret: credentials are sealed with KMS
//! `Encrypt` only, and checked before they are saved with the values the caller sent.

use crate::merge::{merge_settings, IntegrationRequest, Merged};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::account::{AccountId, Switches, Trigger};
use shared::checks::{check_clockify, check_hosts, check_runn, unknown_role_gate, CheckError};
use shared::clockify::{ClockifyClient, ClockifyConfig};
use shared::hosts::{HostPolicy, Resolver};
use shared::queue::{Job, Queue, Work, PENDING_TTL};
use shared::runn::{RunnClient, RunnConfig};
use shared::signing_key::SigningKey;
use shared::status::{AccountStatus, RunStatus, STATUS_RUNS};
use shared::store::{roles::*, AccountState, Pending, StoreError, Write};
use shared::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The time all of Save & Run's checks get (they run side by side); API Gateway allows
/// 30 s for the whole request.
pub const CHECK_TIME: Duration = Duration::from_secs(10);

/// What the handler needs, built once per process.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub key: Arc<dyn SigningKey>,
    pub hosts: HostPolicy,
    /// Looks up the hosts a request names (the system's resolver; a table in tests).
    pub resolver: Arc<dyn Resolver>,
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
        Self::error(
            404,
            "not_found",
            format!("there is no integration for account {id}"),
        )
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
    let stage = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let mut path = without_stage(req.raw_http_path(), stage.as_deref());
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

/// A named stage's prefix taken off the path (HTTP APIs put it in `rawPath`); the
/// `$default` stage has none.
fn without_stage(path: &str, stage: Option<&str>) -> String {
    if let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") {
        if let Some(rest) = path.strip_prefix(&format!("/{stage}")) {
            if rest.starts_with('/') {
                return rest.to_owned();
            }
        }
    }
    path.to_owned()
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
        AccountId::parse(s)
            .map_err(|e| Reply::field(400, "bad_request", "accountId", e.to_string()))
    };
    match parts.as_slice() {
        ["accounts", id, "integration"] => Ok(Route::Integration(account(id)?)),
        ["accounts", id, "imports"] => Ok(Route::Imports(account(id)?)),
        ["accounts", id, "status"] => Ok(Route::Status(account(id)?)),
        ["accounts", id, "runs", run] => {
            // Scheduled runs of before were named `daily-2026-11-28T02:00Z`: a `:` (sent
            // as it is or as %3A) is taken too, so every id the status ever gave reads back.
            let run = run.replace("%3A", ":").replace("%3a", ":");
            let ok = !run.is_empty()
                && run.len() <= 64
                && run
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':');
            if !ok {
                return Err(Reply::field(
                    400,
                    "bad_request",
                    "runId",
                    "a run id is 1 to 64 letters, digits, '-' or ':'",
                ));
            }
            Ok(Route::Run(account(id)?, run))
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
    let verify = |secret: &SecretString| {
        shared::signature::verify(secret, signature, method, path_and_query, body, now)
    };
    let mut verified = verify(&secret);
    if verified.as_ref().err() == Some(&shared::signature::SignatureError::Mismatch) {
        // Perhaps signed with a secret rotated since it was read.
        if let Some(fresh) = api.key.refreshed().await {
            verified = verify(&fresh);
        }
    }
    let verified = match verified {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(reason = %e, %method, %path, "signature refused");
            return Reply::error(
                401,
                "unauthorized",
                format!("the request is not signed: {e}"),
            );
        }
    };
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
    let account = match &route {
        Route::Integration(id) | Route::Imports(id) | Route::Status(id) | Route::Run(id, _) => {
            id.clone()
        }
    };
    // A signed change is accepted once: a replay within the signature's window changes
    // nothing (Runn's backend signs every retry afresh).
    if method != "GET" {
        match api
            .store
            .use_signature(&account, &verified.key(), verified.usable_until())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(%account, %method, %path, "a signed request was replayed");
                return Reply::error(
                    409,
                    "replayed",
                    "this signed request was already received; sign each request (and each retry) afresh",
                );
            }
            Err(e) => return store_failed(e),
        }
    }
    // Every line of this request carries its account (and a queued job's run id).
    let span = tracing::info_span!("request", account = %account);
    let reply = async {
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
    };
    tracing::Instrument::instrument(reply, span).await
}

/// A JSON body into `T`, refusing bad JSON and unknown fields with what serde says (it
/// names the field, never a value of a credential: those are strings, and a string is
/// never quoted back).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    // Serde would also take a struct as an array of its fields in order: the contract
    // says an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(Reply::bad_request("the body must be a JSON object"));
    }
    let mut json = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        // Where the fault is in a field (a bad zone, a wrong type), it is named.
        if field.is_empty() || field == "." {
            Reply::bad_request(format!("the body is not what this request takes: {inner}"))
        } else {
            Reply::field(400, "bad_request", &field, format!("{field}: {inner}"))
        }
    })
}

fn no_body(body: &[u8]) -> Result<(), Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(())
    } else {
        Err(Reply::bad_request("this request takes no body"))
    }
}

fn refused(e: CheckError) -> Reply {
    match e {
        CheckError::Refused { field, message } => Reply::field(
            422,
            "refused",
            field,
            format!("{message}; nothing was saved"),
        ),
        CheckError::Unavailable { message } => Reply::unavailable(message),
    }
}

async fn save_and_run(api: &Api, id: &AccountId, body: &[u8]) -> Reply {
    let req: IntegrationRequest = match parse(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let stored = match api.store.state(id).await {
        Ok(s) => s,
        Err(e) => return store_failed(e),
    };
    let merged = match merge_settings(id, &req, stored.as_ref(), api.hosts, today_in(&req)) {
        Ok(m) => m,
        Err(e) => return refused_setting(e),
    };
    let warning = match run_checks(api, &req, &merged).await {
        Ok(w) => w,
        Err(e) => return refused(e),
    };
    let changed = match save(api, id, &req, merged, stored).await {
        Ok(changed) => changed,
        Err(reply) => return reply,
    };
    tracing::info!(account = %id, "integration saved");
    let (run_id, fresh) = match queue_job(api, id, Work::Import { only: None }, changed).await {
        Ok(q) => q,
        Err(reply) => return reply,
    };
    let warnings: Vec<String> = warning.into_iter().collect();
    Reply::ok(
        202,
        json!({"account": id, "run_id": run_id, "queued": fresh, "warnings": warnings}),
    )
}

/// Every check Save & Run makes before it saves, side by side within the check time:
/// every host resolved, the Clockify key and the Runn token given (each only against
/// what it is given with), and the "Unknown" role gate. The Clockify check's warning
/// (a key that is not an admin's), if any.
async fn run_checks(
    api: &Api,
    req: &IntegrationRequest,
    merged: &Merged,
) -> Result<Option<String>, CheckError> {
    let settings = &merged.settings;
    let deadline = Instant::now() + api.check_time;
    check_hosts(settings, api.hosts, api.resolver.as_ref(), deadline).await?;
    let clockify_check = async {
        let Some(key) = &req.clockify_api_key else {
            return Ok(None);
        };
        let mut cfg = ClockifyConfig::new(settings.clockify_host.clone(), key.clone());
        cfg.reports_base = settings.clockify_reports_url.clone();
        cfg.hosts = api.hosts;
        quick(
            &mut cfg.retry,
            &mut cfg.timeout,
            &mut cfg.deadline,
            deadline,
        );
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
        quick(
            &mut cfg.retry,
            &mut cfg.timeout,
            &mut cfg.deadline,
            deadline,
        );
        let client = RunnClient::new(cfg).map_err(|e| CheckError::Refused {
            field: "runn_host",
            message: e.to_string(),
        })?;
        check_runn(&client).await?;
        if merged.gate {
            unknown_role_gate(&client).await?;
        }
        Ok(())
    };
    let (clockify, runn) = tokio::join!(clockify_check, runn_check);
    let warning = clockify?;
    runn?;
    Ok(warning)
}

/// Saves what was merged, conditional on the item being as it was read. Another writer
/// in between (a worker disabling the account, a second Save & Run): re-read, and the
/// rules decided again on what is there now; nothing is ever overwritten unseen.
/// Whether the save changed anything (see [`Merged::changed`]).
async fn save(
    api: &Api,
    id: &AccountId,
    req: &IntegrationRequest,
    mut merged: Merged,
    mut stored: Option<AccountState>,
) -> Result<bool, Reply> {
    let checked_gate = merged.gate;
    for _ in 0..SAVE_ATTEMPTS {
        let expected = stored.as_ref().map_or(0, |s| s.version);
        let written = api
            .store
            .save_integration(
                &merged.settings,
                req.runn_token.as_ref(),
                req.clockify_api_key.as_ref(),
                expected,
            )
            .await
            .map_err(store_failed)?;
        match written {
            Write::Applied => return Ok(merged.changed),
            // A left-out credential went away meanwhile (the integration was turned off).
            Write::Missing => return Err(Reply::field(
                422,
                "refused",
                "runn_token",
                "the stored credentials are gone (the integration was turned off); give both again",
            )),
            Write::Conflict => {}
        }
        stored = api.store.state(id).await.map_err(store_failed)?;
        merged = merge_settings(id, req, stored.as_ref(), api.hosts, today_in(req))
            .map_err(refused_setting)?;
        if merged.gate && !checked_gate {
            // What is stored now needs a check this request did not make.
            return Err(Reply::unavailable(
                "the integration changed while it was being saved; nothing was saved, try again",
            ));
        }
    }
    Err(Reply::unavailable(
        "the integration kept changing while it was being saved; nothing was saved, try again",
    ))
}

/// Times Save & Run re-reads and decides again when another writer got there first.
const SAVE_ATTEMPTS: usize = 3;

fn refused_setting(e: shared::account::SettingsError) -> Reply {
    Reply::field(422, "refused", e.field, e.reason)
}

/// Today in the zone the request names (the bound of `actuals_since`).
fn today_in(req: &IntegrationRequest) -> chrono::NaiveDate {
    shared::sync::today(req.time_zone)
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
/// it was queued now. With `follow_up` (the settings just changed), a job queued or
/// running is followed by one with the new settings, which takes over the account's mark.
async fn queue_job(
    api: &Api,
    id: &AccountId,
    work: Work,
    follow_up: bool,
) -> Result<(String, bool), Reply> {
    let run_id = shared::jobs::new_run_id();
    match api.store.mark_pending(id, &run_id, PENDING_TTL).await {
        Ok(Pending::Marked) => {}
        Ok(Pending::Already(job)) if follow_up => {
            match api
                .store
                .replace_pending(id, &job.run_id, &run_id, PENDING_TTL)
                .await
            {
                Ok(true) => {
                    tracing::info!(account = %id, after = %job.run_id, "settings changed while a job was queued or running; a follow-up is queued");
                    return send_job(api, id, work, run_id, Some(&job.run_id)).await;
                }
                // The job ended meanwhile: queue as usual.
                Ok(false) => return Box::pin(queue_job(api, id, work, false)).await,
                Err(e) => return Err(store_failed(e)),
            }
        }
        Ok(Pending::Already(job)) => return Ok((job.run_id, false)),
        Err(e) => return Err(store_failed(e)),
    }
    send_job(api, id, work, run_id, None).await
}

/// Sends the marked job. If the queue refuses it, the mark goes back to where it was
/// (cleared, or the job it followed), so no button stays stuck on a job never sent.
async fn send_job(
    api: &Api,
    id: &AccountId,
    work: Work,
    run_id: String,
    followed: Option<&str>,
) -> Result<(String, bool), Reply> {
    let job = Job {
        account: id.clone(),
        run_id: run_id.clone(),
        trigger: Trigger::Manual,
        work,
    };
    if let Err(e) = api.queue.send(&[job]).await {
        tracing::error!(account = %id, error = %e, "could not queue the job");
        let undone = match followed {
            Some(before) => api
                .store
                .replace_pending(id, &run_id, before, PENDING_TTL)
                .await
                .map(|_| ()),
            None => api.store.clear_pending(id, &run_id).await,
        };
        if let Err(e) = undone {
            tracing::warn!(account = %id, error = %e, "could not undo the pending mark; it expires on its own");
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
        return Reply::field(
            400,
            "bad_request",
            "kinds",
            "name at least one kind to import",
        );
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
        let why = settings
            .disabled_reason
            .as_deref()
            .unwrap_or("it is disabled");
        return Reply::error(
            409,
            "disabled",
            format!("the integration is off ({why}); Save & Run it again first"),
        );
    }
    let off: Vec<&str> = [
        (
            only.clients_and_projects,
            settings.switches.clients_and_projects,
            "clients and projects",
        ),
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
    match queue_job(api, id, Work::Import { only: Some(only) }, false).await {
        Ok((run_id, queued)) => Reply::ok(
            202,
            json!({"account": id, "run_id": run_id, "queued": queued}),
        ),
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
    if let Ok(Some(job)) = api.store.pending(id).await {
        if let Err(e) = api.store.clear_pending(id, &job.run_id).await {
            tracing::warn!(account = %id, error = %e, "could not clear the pending mark; it expires on its own");
        }
    }
    tracing::info!(account = %id, "integration turned off; credentials deleted");
    Reply::ok(
        200,
        json!({"account": id, "enabled": false, "credentials_stored": false}),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::queue::{MemoryQueue, QueueError};
    use shared::signing_key::FixedKey;
    use shared::store::MemoryStore;
    use sims::clockify::ClockifySim;
    use sims::common::Running;
    use sims::contract::contract;
    use sims::demo;
    use sims::runn::{RunnData, RunnSim};
    use sims::testkit::{quick_worker, RUNN_TOKEN};

    const SECRET: &str = "whsec_unit_7c1e";

    /// The api over memory, with both simulators running.
    struct Harness {
        api: Api,
        store: Arc<MemoryStore>,
        queue: Arc<MemoryQueue>,
        runn: RunnSim,
        clockify: ClockifySim,
        c: Running,
        r: Running,
    }

    async fn harness() -> Harness {
        let clockify = ClockifySim::new(demo::data());
        let c = clockify.spawn().await.unwrap();
        let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
        let r = runn.spawn().await.unwrap();
        let store = Arc::new(MemoryStore::default());
        let queue = Arc::new(MemoryQueue::default());
        let api = Api {
            store: store.clone(),
            queue: queue.clone(),
            key: Arc::new(FixedKey(SecretString::from(SECRET))),
            hosts: HostPolicy::LOCAL,
            resolver: Arc::new(shared::hosts::SystemResolver),
            check_time: Duration::from_secs(10),
        };
        Harness {
            api,
            store,
            queue,
            runn,
            clockify,
            c,
            r,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// A signed call, its answer checked against `infra/api.yaml`.
    async fn call(api: &Api, method: &str, path: &str, body: &str) -> Reply {
        let header = shared::signature::sign(
            &SecretString::from(SECRET),
            shared::signature::fresh_time(),
            method,
            path,
            body.as_bytes(),
        );
        raw(api, method, path, Some(&header), body.as_bytes()).await
    }

    async fn raw(api: &Api, method: &str, path: &str, sig: Option<&str>, body: &[u8]) -> Reply {
        let route = path.split('?').next().unwrap();
        let reply = respond(api, method, route, path, sig, body, now()).await;
        contract()
            .check_response(method, route, reply.status, &reply.body)
            .unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
        reply
    }

    impl Harness {
        fn integration(&self, key: Option<&str>, token: Option<&str>) -> Value {
            let mut body = json!({
                "runn_account": "Northwind Agency",
                "runn_host": {"kind": "custom", "url": self.r.url()},
                "clockify_host": {"kind": "server", "url": self.c.url()},
                "clockify_workspace": demo::WORKSPACE_ID,
                "switches": {"clients_and_projects": true, "people": true, "actuals": false},
                "time_zone": "Europe/London"
            });
            if let Some(k) = key {
                body["clockify_api_key"] = json!(k);
            }
            if let Some(t) = token {
                body["runn_token"] = json!(t);
            }
            body
        }

        /// The admin's form with one field (dotted path) set to `value`.
        fn admin_form_with(&self, field: &str, value: Value) -> Value {
            let mut body = self.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
            let mut at = &mut body;
            for key in field.split('.') {
                at = &mut at[key];
            }
            *at = value;
            body
        }

        async fn save(&self, id: &str, body: &Value) -> Reply {
            let path = format!("/accounts/{id}/integration");
            contract().check_request("PUT", &path, body).unwrap();
            call(&self.api, "PUT", &path, &body.to_string()).await
        }

        /// Save & Run of account acme with the admin's key and the token: accepted.
        async fn connect(&self) -> Reply {
            let reply = self
                .save(
                    "acme",
                    &self.integration(Some(demo::API_KEY), Some(RUNN_TOKEN)),
                )
                .await;
            assert_eq!(reply.status, 202, "{}", reply.body);
            reply
        }

        async fn press(&self, id: &str, kinds: &[&str]) -> Reply {
            let body = json!({ "kinds": kinds }).to_string();
            call(&self.api, "POST", &format!("/accounts/{id}/imports"), &body).await
        }

        async fn status(&self, id: &str) -> Reply {
            call(&self.api, "GET", &format!("/accounts/{id}/status"), "").await
        }

        fn jobs(&self) -> Vec<Job> {
            self.queue.sent.lock().unwrap().clone()
        }

        /// Runs the queued jobs as the worker does.
        async fn work(&self) {
            let jobs: Vec<Job> = self.queue.sent.lock().unwrap().drain(..).collect();
            for job in jobs {
                let deadline = Instant::now() + Duration::from_secs(60);
                shared::jobs::run_job(
                    self.store.as_ref(),
                    self.queue.as_ref(),
                    &job,
                    deadline,
                    &quick_worker(),
                )
                .await
                .unwrap();
            }
        }
    }

    fn error_of(reply: &Reply) -> (&str, Option<&str>, &str) {
        let e = &reply.body["error"];
        (
            e["code"].as_str().unwrap(),
            e["field"].as_str(),
            e["message"].as_str().unwrap(),
        )
    }

    fn acme() -> AccountId {
        AccountId::parse("acme").unwrap()
    }

    #[tokio::test]
    async fn save_and_run_checks_saves_and_queues_a_first_import() {
        let h = harness().await;
        let reply = h.connect().await;
        assert_eq!(reply.body["queued"], true);
        assert_eq!(reply.body["warnings"], json!([]));
        let run_id = reply.body["run_id"].as_str().unwrap().to_owned();
        let jobs = h.jobs();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].run_id, run_id);
        assert_eq!(jobs[0].trigger, Trigger::Manual);
        assert_eq!(jobs[0].work, Work::Import { only: None });
        let account = h.store.account(&acme()).await.unwrap().unwrap();
        assert!(
            account.settings.enabled && account.settings.autofill,
            "autofill on by default"
        );
        use shared::ExposeSecret;
        assert_eq!(account.clockify_api_key.expose_secret(), demo::API_KEY);

        // The status while it is queued, then what the run did.
        let st = h.status("acme").await;
        assert_eq!(st.status, 200);
        assert_eq!(st.body["pending_run"], run_id.as_str());
        assert_eq!(st.body["credentials_stored"], true);
        let text = st.body.to_string();
        assert!(
            !text.contains(RUNN_TOKEN) && !text.contains(demo::API_KEY),
            "{text}"
        );
        let run_path = format!("/accounts/acme/runs/{run_id}");
        let run = call(&h.api, "GET", &run_path, "").await;
        assert_eq!(
            (run.status, &run.body["pending"], &run.body["record"]),
            (200, &json!(true), &Value::Null)
        );
        h.work().await;
        let run = call(&h.api, "GET", &run_path, "").await;
        assert_eq!(run.body["pending"], false);
        assert_eq!(run.body["record"]["outcome"]["result"], "succeeded");
        assert!(
            run.body["record"]["report"]["created"]["people"]
                .as_u64()
                .unwrap()
                > 0
        );
        let st = h.status("acme").await;
        assert_eq!(st.body["pending_run"], Value::Null);
        // Imported people arrive on "Unknown": the status names them.
        let unknown = st.body["people_on_unknown_role_count"].as_u64().unwrap();
        assert!(unknown > 0);
        assert_eq!(
            st.body["people_on_unknown_role"].as_array().unwrap().len() as u64,
            unknown
        );
        assert_eq!(
            call(&h.api, "GET", "/accounts/acme/runs/no-such-run", "")
                .await
                .status,
            404
        );
    }

    #[tokio::test]
    async fn a_non_admin_key_is_saved_with_a_warning() {
        let h = harness().await;
        let reply = h
            .save(
                "acme",
                &h.integration(Some(demo::MEMBER_API_KEY), Some(RUNN_TOKEN)),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        let warning = reply.body["warnings"][0].as_str().unwrap();
        assert!(
            warning.contains("not an admin or owner") && warning.contains("own time"),
            "{warning}"
        );
        assert!(h.store.settings(&acme()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_bad_credential_or_setting_is_refused_by_field_and_nothing_is_saved() {
        let h = harness().await;
        let wrong_workspace =
            h.admin_form_with("clockify_workspace", json!("65b1c0ffee0000000000ffff"));
        let bad_workspace = h.admin_form_with("clockify_workspace", json!("../admin"));
        let bad_window = h.admin_form_with("window_days", json!(0));
        let mut plain_http = h.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
        plain_http["runn_host"] =
            json!({"kind": "custom", "url": "https://me:pw@runn.example.com"});
        let metadata =
            h.admin_form_with("clockify_reports_url", json!("ftp://reports.example.com/"));
        let cases = [
            (
                h.integration(Some("wrong-key"), Some(RUNN_TOKEN)),
                "clockify_api_key",
                "the Clockify API key was rejected by Clockify",
            ),
            (
                h.integration(Some(demo::API_KEY), Some("LIVE_wrong")),
                "runn_token",
                "the Runn API token was rejected by Runn",
            ),
            (
                wrong_workspace,
                "clockify_workspace",
                "not one the API key's user belongs to",
            ),
            (
                bad_workspace,
                "clockify_workspace",
                "is not a Clockify workspace id",
            ),
            (bad_window, "window_days", "must be 1 to 366 days"),
            (plain_http, "runn_host", "the Runn URL"),
            (metadata, "clockify_reports_url", "the reports URL"),
            (
                h.integration(None, Some(RUNN_TOKEN)),
                "clockify_api_key",
                "none is stored for this account",
            ),
            (
                h.integration(Some("has space"), Some(RUNN_TOKEN)),
                "clockify_api_key",
                "printable characters",
            ),
        ];
        for (body, field, words) in cases {
            let path = "/accounts/acme/integration";
            let reply = call(&h.api, "PUT", path, &body.to_string()).await;
            assert_eq!(reply.status, 422, "{field}: {}", reply.body);
            let (code, f, message) = error_of(&reply);
            assert_eq!(
                (reply.status, code, f),
                (422, "refused", Some(field)),
                "{message}"
            );
            assert!(message.contains(words), "{message}");
            assert!(
                !message.contains("401") && !message.contains(RUNN_TOKEN),
                "{message}"
            );
        }
        assert!(
            h.store.settings(&acme()).await.unwrap().is_none(),
            "nothing saved"
        );
        assert!(h.jobs().is_empty(), "nothing queued");
    }

    #[tokio::test]
    async fn stored_credentials_may_be_left_out_and_a_disabled_account_is_re_enabled() {
        let h = harness().await;
        h.connect().await;
        h.work().await;
        h.store
            .disable(&acme(), "credentials rejected: Runn said 401", None)
            .await
            .unwrap();
        let st = h.status("acme").await;
        assert_eq!(st.body["enabled"], false);
        assert!(st.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("credentials rejected"));
        let mut body = h.integration(None, None);
        body["autofill"] = json!(false);
        body["window_days"] = json!(30);
        let reply = h.save("acme", &body).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        let a = h.store.account(&acme()).await.unwrap().unwrap();
        assert!(a.settings.enabled && a.settings.disabled_reason.is_none());
        assert_eq!((a.settings.autofill, a.settings.window_days), (false, 30));
        use shared::ExposeSecret;
        assert_eq!(
            a.runn_token.expose_secret(),
            RUNN_TOKEN,
            "the stored token is kept"
        );
        // Left out again, autofill and the window stay as they were.
        h.work().await;
        h.save("acme", &h.integration(None, None)).await;
        let a = h.store.settings(&acme()).await.unwrap().unwrap();
        assert_eq!((a.autofill, a.window_days), (false, 30));
    }

    #[tokio::test]
    async fn actuals_are_not_switched_on_while_linked_people_are_on_unknown() {
        let h = harness().await;
        h.connect().await;
        h.work().await;
        let mut on = h.integration(None, Some(RUNN_TOKEN));
        on["switches"]["actuals"] = json!(true);
        let reply = h.save("acme", &on).await;
        let (_, field, message) = error_of(&reply);
        assert_eq!(
            (reply.status, field),
            (422, Some("switches.actuals")),
            "{message}"
        );
        assert!(message.contains("\"Unknown\" role"), "{message}");
        // Without the token the roles cannot be checked.
        let mut no_token = h.integration(None, None);
        no_token["switches"]["actuals"] = json!(true);
        let reply = h.save("acme", &no_token).await;
        assert_eq!(error_of(&reply).1, Some("runn_token"));
        assert!(
            !h.store
                .settings(&acme())
                .await
                .unwrap()
                .unwrap()
                .switches
                .actuals
        );
        // Roles given in Runn: now it is switched on.
        let people: Vec<i64> = h.runn.data.lock().unwrap().people.keys().copied().collect();
        for p in people {
            h.runn.give_role(p, "Designer");
        }
        let reply = h.save("acme", &on).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        assert!(
            h.store
                .settings(&acme())
                .await
                .unwrap()
                .unwrap()
                .switches
                .actuals
        );
    }

    #[tokio::test]
    async fn an_import_button_queues_one_job_and_a_second_press_gets_its_run() {
        let h = harness().await;
        h.connect().await;
        h.work().await;
        let first = h.press("acme", &["projects"]).await;
        assert_eq!((first.status, &first.body["queued"]), (202, &json!(true)));
        let jobs = h.jobs();
        assert_eq!(jobs.len(), 1);
        let only = Switches {
            clients_and_projects: true,
            people: false,
            actuals: false,
        };
        assert_eq!(jobs[0].work, Work::Import { only: Some(only) });
        let second = h.press("acme", &["people", "clients"]).await;
        assert_eq!(second.status, 202);
        assert_eq!(second.body["queued"], false);
        assert_eq!(second.body["run_id"], first.body["run_id"]);
        assert_eq!(h.jobs().len(), 1, "nothing more queued");
        // The job ends: the button queues again.
        h.work().await;
        let third = h.press("acme", &["people"]).await;
        assert_eq!(third.body["queued"], true);
        assert_ne!(third.body["run_id"], first.body["run_id"]);
    }

    #[tokio::test]
    async fn a_press_while_the_daily_import_is_queued_or_running_gets_its_run() {
        let h = harness().await;
        h.connect().await;
        h.work().await;
        let daily = "daily-2026-11-29T0200Z";
        shared::jobs::fan_out(h.store.as_ref(), h.queue.as_ref(), daily)
            .await
            .unwrap();
        let press = h.press("acme", &["people"]).await;
        assert_eq!((press.status, &press.body["queued"]), (202, &json!(false)));
        assert_eq!(press.body["run_id"], daily);
        assert_eq!(h.jobs().len(), 1, "only the daily job");
        h.work().await;
        let press = h.press("acme", &["people"]).await;
        assert_eq!(press.body["queued"], true, "the daily job has ended");
    }

    #[tokio::test]
    async fn import_requests_are_refused_with_a_clear_message() {
        let h = harness().await;
        assert_eq!(error_of(&h.press("acme", &["people"]).await).0, "not_found");
        h.connect().await;
        h.work().await;
        let path = "/accounts/acme/imports";
        for (body, words) in [
            (r#"{"kinds": ["invoices"]}"#, "unknown variant `invoices`"),
            (r#"{"kinds": []}"#, "at least one kind"),
            (
                r#"{"kinds": ["people"], "force": true}"#,
                "unknown field `force`",
            ),
            (r#"{"kinds": "people"}"#, "invalid type"),
            (r#"[["people"]]"#, "a JSON object"),
            ("{not json", "key must be a string"),
            ("", "EOF"),
        ] {
            let reply = call(&h.api, "POST", path, body).await;
            let (code, _, message) = error_of(&reply);
            assert_eq!(
                (reply.status, code),
                (400, "bad_request"),
                "{body}: {message}"
            );
            assert!(message.contains(words), "{body}: {message}");
        }
        let reply = h.press("acme", &["actuals"]).await;
        let (_, field, message) = error_of(&reply);
        assert_eq!((reply.status, field), (422, Some("kinds")));
        assert!(message.contains("actuals is switched off"), "{message}");
        assert!(h.jobs().is_empty());
    }

    #[tokio::test]
    async fn turning_off_deletes_the_secrets_and_turning_on_again_duplicates_nothing() {
        let h = harness().await;
        h.connect().await;
        h.work().await;
        let people = h.runn.data.lock().unwrap().people.len();
        h.press("acme", &["people"]).await;
        let off = call(&h.api, "DELETE", "/accounts/acme/integration", "").await;
        assert_eq!(off.status, 200, "{}", off.body);
        let stored = h.store.state(&acme()).await.unwrap().unwrap().credentials;
        assert!(
            !stored.runn_token && !stored.clockify_api_key,
            "secrets deleted"
        );
        let st = h.status("acme").await;
        assert_eq!(
            (
                &st.body["enabled"],
                &st.body["credentials_stored"],
                &st.body["pending_run"]
            ),
            (&json!(false), &json!(false), &Value::Null)
        );
        assert_eq!(st.body["disabled_reason"], "turned off in Runn");
        // The job queued before is dropped; the buttons say why.
        h.work().await;
        let press = h.press("acme", &["people"]).await;
        assert_eq!((press.status, error_of(&press).0), (409, "disabled"));
        // Left-out credentials are gone: they must be given again.
        assert_eq!(
            error_of(&h.save("acme", &h.integration(None, None)).await).1,
            Some("runn_token")
        );
        let on = h.connect().await;
        assert_eq!(on.status, 202);
        h.work().await;
        assert!(people > 0);
        assert_eq!(
            h.runn.data.lock().unwrap().people.len(),
            people,
            "no duplicates"
        );
        let again = call(&h.api, "DELETE", "/accounts/nobody/integration", "").await;
        assert_eq!(again.status, 404);
        let with_body = call(&h.api, "DELETE", "/accounts/acme/integration", "{}").await;
        assert_eq!(with_body.status, 400);
    }

    #[tokio::test]
    async fn unsigned_forged_stale_and_cross_account_requests_are_refused() {
        let h = harness().await;
        h.connect().await;
        let path = "/accounts/acme/status";
        let secret = SecretString::from(SECRET);
        let sign = |t: i64, method: &str, p: &str, body: &str| {
            shared::signature::sign(&secret, t, method, p, body.as_bytes())
        };
        let forged = shared::signature::sign(&SecretString::from("guess"), now(), "GET", path, b"");
        let cases: Vec<(Option<String>, &str, &str)> = vec![
            (None, path, "missing"),
            (Some("v1=abc".into()), path, "not `t="),
            (Some("t=now,v1=zz".into()), path, "not `t="),
            (Some(forged), path, "does not match"),
            (
                Some(sign(now() - 400, "GET", path, "")),
                path,
                "more than 300 s",
            ),
            (
                Some(sign(now() + 400, "GET", path, "")),
                path,
                "more than 300 s",
            ),
            // Signed for acme, sent for another account.
            (
                Some(sign(now(), "GET", path, "")),
                "/accounts/globex/status",
                "does not match",
            ),
            // Signed for a GET, sent as a DELETE.
            (
                Some(sign(now(), "GET", "/accounts/acme/integration", "")),
                "/accounts/acme/integration",
                "does not match",
            ),
        ];
        for (header, p, words) in cases {
            let method = if p.ends_with("integration") {
                "DELETE"
            } else {
                "GET"
            };
            let reply = raw(&h.api, method, p, header.as_deref(), b"").await;
            let (code, _, message) = error_of(&reply);
            assert_eq!(
                (reply.status, code),
                (401, "unauthorized"),
                "{p}: {message}"
            );
            assert!(message.contains(words), "{message}");
        }
        // A body changed after signing.
        let body = r#"{"kinds":["people"]}"#;
        let header = sign(now(), "POST", "/accounts/acme/imports", body);
        let tampered = raw(
            &h.api,
            "POST",
            "/accounts/acme/imports",
            Some(&header),
            br#"{"kinds":["actuals"]}"#,
        )
        .await;
        assert_eq!(tampered.status, 401);
        // Still there, and signed correctly a minute ago: accepted.
        let fresh = raw(
            &h.api,
            "GET",
            path,
            Some(&sign(now() - 60, "GET", path, "")),
            b"",
        )
        .await;
        assert_eq!(fresh.status, 200);
        assert_eq!(h.jobs().len(), 1, "only Save & Run's job");
    }

    #[tokio::test]
    async fn big_bodies_unknown_paths_methods_and_ids_are_refused() {
        let h = harness().await;
        let big = format!(r#"{{"kinds":["people"],"pad":"{}"}}"#, "x".repeat(MAX_BODY));
        let reply = call(&h.api, "POST", "/accounts/acme/imports", &big).await;
        assert_eq!(reply.status, 400);
        assert!(
            error_of(&reply).2.contains("at most 65536"),
            "{}",
            reply.body
        );
        let unknown_field = h.admin_form_with(
            "clockify_host",
            json!({"kind": "global", "url": "https://x.example"}),
        );
        let reply = call(
            &h.api,
            "PUT",
            "/accounts/acme/integration",
            &unknown_field.to_string(),
        )
        .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        for (method, path, status) in [
            ("GET", "/accounts/acme", 404),
            ("GET", "/admin", 404),
            ("POST", "/accounts/acme/status", 405),
            ("GET", "/accounts/acme/imports", 405),
            ("GET", "/accounts/acme/integration", 405),
            ("GET", "/accounts/a%23b/status", 400),
            ("GET", "/accounts/acme/runs/..%2f..", 400),
        ] {
            let reply = call(&h.api, method, path, "").await;
            assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        }
    }

    /// API Gateway's event as lambda_http reads it, through `handle`.
    async fn through_lambda_http(api: &Api, event: Value) -> (u16, String, Value) {
        let req = lambda_http::request::from_str(&event.to_string()).unwrap();
        let resp = handle(api, req).await.unwrap();
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("not a text body: {other:?}"),
        };
        (status, retry, body)
    }

    #[tokio::test]
    async fn handle_reads_the_callers_path_with_or_without_a_named_stage() {
        let h = harness().await;
        h.connect().await;
        let path = "/accounts/acme/status";
        let sig = shared::signature::sign(&SecretString::from(SECRET), now(), "GET", path, b"");
        let event = sims::backend::apigw_event("GET", path, "", Some(&sig));
        let (status, _, body) = through_lambda_http(&h.api, event.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], "acme");
        // A named stage: API Gateway puts it in rawPath; the caller signed the path without it.
        let mut staged = event;
        staged["rawPath"] = json!("/prod/accounts/acme/status");
        staged["requestContext"]["stage"] = json!("prod");
        staged["requestContext"]["http"]["path"] = json!("/prod/accounts/acme/status");
        let (status, _, body) = through_lambda_http(&h.api, staged).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(without_stage("/prod", Some("prod")), "/prod");
        assert_eq!(
            without_stage("/production/x", Some("prod")),
            "/production/x"
        );
        assert_eq!(without_stage("/prod/x", Some("$default")), "/prod/x");
    }

    #[tokio::test]
    async fn a_service_that_does_not_answer_saves_nothing_and_answers_503() {
        let h = harness().await;
        h.clockify.ctl.set_faults(sims::common::Faults {
            error_rate: 1.0,
            ..Default::default()
        });
        let body = h.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
        let reply = call(
            &h.api,
            "PUT",
            "/accounts/acme/integration",
            &body.to_string(),
        )
        .await;
        let (code, _, message) = error_of(&reply);
        assert_eq!((reply.status, code), (503, "unavailable"), "{message}");
        assert!(
            message.contains("Clockify could not be reached"),
            "{message}"
        );
        assert!(h.store.settings(&acme()).await.unwrap().is_none());
        assert!(h.jobs().is_empty());
    }

    #[tokio::test]
    async fn save_and_run_bodies_with_bad_json_or_unknown_fields_are_refused() {
        let h = harness().await;
        let extra = h.admin_form_with("id", json!("globex"));
        let bad_zone = h.admin_form_with("time_zone", json!("Mars/Olympus"));
        let extra_switch = h.admin_form_with("switches.invoices", json!(true));
        for (body, words) in [
            (extra.to_string(), "unknown field `id`"),
            (bad_zone.to_string(), "Mars/Olympus"),
            (extra_switch.to_string(), "unknown field `invoices`"),
            ("{\"runn_account\": ".to_owned(), "EOF"),
            ("[]".to_owned(), "a JSON object"),
        ] {
            let reply = call(&h.api, "PUT", "/accounts/acme/integration", &body).await;
            let (code, _, message) = error_of(&reply);
            assert_eq!(
                (reply.status, code),
                (400, "bad_request"),
                "{body}: {message}"
            );
            assert!(message.contains(words), "{body}: {message}");
        }
        assert!(h.store.settings(&acme()).await.unwrap().is_none());
        for path in ["/accounts/nobody/status", "/accounts/nobody/runs/r-1"] {
            assert_eq!(call(&h.api, "GET", path, "").await.status, 404, "{path}");
        }
    }

    struct DownQueue;

    #[async_trait::async_trait]
    impl Queue for DownQueue {
        async fn send(&self, _: &[Job]) -> Result<(), QueueError> {
            Err(QueueError("SQS is down".into()))
        }
        async fn send_later(&self, _: &Job, _: Duration) -> Result<(), QueueError> {
            Err(QueueError("SQS is down".into()))
        }
    }

    /// A key read before a rotation: the cached secret is the old one.
    struct Rotated;

    #[async_trait::async_trait]
    impl SigningKey for Rotated {
        async fn secret(&self) -> Result<SecretString, String> {
            Ok(SecretString::from("whsec_before_rotation"))
        }
        async fn refreshed(&self) -> Option<SecretString> {
            Some(SecretString::from(SECRET))
        }
    }

    #[tokio::test]
    async fn a_request_signed_with_a_just_rotated_secret_is_accepted_after_one_fresh_read() {
        let mut h = harness().await;
        h.connect().await;
        h.api.key = Arc::new(Rotated);
        let reply = call(&h.api, "GET", "/accounts/acme/status", "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let forged = shared::signature::sign(
            &SecretString::from("guess"),
            now(),
            "GET",
            "/accounts/acme/status",
            b"",
        );
        let reply = raw(&h.api, "GET", "/accounts/acme/status", Some(&forged), b"").await;
        assert_eq!(reply.status, 401);
    }

    struct NoKey;

    #[async_trait::async_trait]
    impl SigningKey for NoKey {
        async fn secret(&self) -> Result<SecretString, String> {
            Err("Secrets Manager is down".into())
        }
    }

    #[tokio::test]
    async fn a_queue_or_secret_that_is_down_answers_503_and_leaves_no_stuck_button() {
        let mut h = harness().await;
        h.connect().await;
        h.work().await;
        h.api.queue = Arc::new(DownQueue);
        let reply = h.press("acme", &["people"]).await;
        assert_eq!((reply.status, error_of(&reply).0), (503, "unavailable"));
        assert_eq!(
            h.store.pending(&acme()).await.unwrap(),
            None,
            "the mark is cleared"
        );
        h.api.key = Arc::new(NoKey);
        let reply = call(&h.api, "GET", "/accounts/acme/status", "").await;
        assert_eq!(reply.status, 503);
        // Through lambda_http: a Retry-After header with the 503.
        let event = sims::backend::apigw_event("GET", "/accounts/acme/status", "", None);
        let (status, retry, _) = through_lambda_http(&h.api, event).await;
        assert_eq!((status, retry.as_str()), (503, "30"));
    }

    /// The second hardening round's rules, through the handler.
    mod hardening;
}
