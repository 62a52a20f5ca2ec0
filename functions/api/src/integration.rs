//! `PUT /accounts/{accountId}/integration` ("Save & Run": settings, switches and
//! credentials checked, saved, then an import queued) and `DELETE` (turning the
//! integration off). Nothing here can open a stored secret: credentials are sealed with
//! KMS `Encrypt` only, and checked before they are saved with the values the caller sent.

use crate::app::Api;
use crate::merge::{merge_settings, IntegrationRequest, Merged};
use crate::path::Account;
use crate::pending::queue_job;
use crate::reply::{no_body, parse, Reply};
use axum::body::Bytes;
use axum::extract::State;
use serde_json::json;
use shared::account::AccountId;
use shared::checks::{
    check_clockify, check_hosts, check_people_filter, check_runn, unknown_role_gate, CheckError,
};
use shared::clockify::{ClockifyClient, ClockifyConfig};
use shared::queue::{HookWork, Job, Work};
use shared::runn::{RunnClient, RunnConfig};
use shared::store::{AccountState, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Times Save & Run re-reads and decides again when another writer got there first.
const SAVE_ATTEMPTS: usize = 3;

pub async fn save_and_run(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    let req: IntegrationRequest = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let stored = match api.store.state(&id).await {
        Ok(s) => s,
        Err(e) => return Reply::store_failed(e),
    };
    let merged = match merge_settings(&id, &req, stored.as_ref(), api.hosts, today_in(&req)) {
        Ok(m) => m,
        Err(e) => return refused_setting(e),
    };
    let warning = match run_checks(&api, &req, &merged).await {
        Ok(w) => w,
        Err(e) => return refused(e),
    };
    let changed = match save(&api, &id, &req, merged, stored).await {
        Ok(changed) => changed,
        Err(reply) => return reply,
    };
    tracing::info!(account = %id, "integration saved");
    let work = Work::Import {
        only: None,
        resume: None,
    };
    let queued = queue_job(api.store.as_ref(), api.queue.as_ref(), &id, work, changed).await;
    let (run_id, fresh) = match queued {
        Ok(q) => q,
        Err(reply) => return reply,
    };
    // Saved or enabled: the webhooks are registered (or repaired) by a worker job, which
    // alone can open the Clockify key; the daily run repairs them if this one is lost.
    let register = Job::hooks(id.clone(), HookWork::Register);
    if let Err(e) = api.queue.send(&[register]).await {
        tracing::warn!(account = %id, error = %e, "the webhooks' registration could not be queued; the daily run registers them");
    }
    let warnings: Vec<String> = warning.into_iter().collect();
    Reply::ok(
        202,
        json!({"account": id, "run_id": run_id, "queued": fresh, "warnings": warnings}),
    )
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

/// Every check Save & Run makes before it saves, side by side within the check time:
/// every host resolved, the Clockify key and the Runn token given (each only against
/// what it is given with; the key also reads the people filter's groups, when it names
/// any), and the "Unknown" role gate. The Clockify check's warning
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
        let warning = check_clockify(&client, &settings.clockify_workspace).await?;
        if let Some(filter) = &settings.people_filter {
            check_people_filter(&client, &settings.clockify_workspace, filter).await?;
        }
        Ok(warning)
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
            .map_err(Reply::store_failed)?;
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
        stored = api.store.state(id).await.map_err(Reply::store_failed)?;
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

/// Turns the integration off: the credentials deleted, a job still queued dropped by the
/// worker (the account is disabled), and the buttons free at once.
pub async fn turn_off(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    if let Err(reply) = no_body(&body) {
        return reply;
    }
    match api.store.turn_off(&id, "turned off in Runn").await {
        Ok(true) => {}
        Ok(false) => return Reply::no_account(&id),
        Err(e) => return Reply::store_failed(e),
    }
    if let Ok(Some(job)) = api.store.pending(&id).await {
        if let Err(e) = api.store.clear_pending(&id, &job.run_id).await {
            tracing::warn!(account = %id, error = %e, "could not clear the pending mark; it expires on its own");
        }
    }
    let webhooks = clean_up_webhooks(&api, &id).await;
    tracing::info!(account = %id, webhooks, "integration turned off; credentials deleted");
    Reply::ok(
        200,
        json!({"account": id, "enabled": false, "credentials_stored": false, "webhooks": webhooks}),
    )
}

/// Queues the clean-up of the account's webhooks (with the Clockify key kept apart for
/// it, at most an hour); what the answer says of them.
async fn clean_up_webhooks(api: &Api, id: &AccountId) -> &'static str {
    match api.store.hooks(id).await {
        Ok(Some(h)) if !h.hooks.is_empty() => {}
        Ok(_) => return "none",
        Err(e) => {
            tracing::warn!(account = %id, error = %e, "could not read the webhooks");
            return "unknown";
        }
    }
    let cleanup = Job::hooks(id.clone(), HookWork::Cleanup);
    match api.queue.send(&[cleanup]).await {
        Ok(()) => "removing",
        Err(e) => {
            // The key kept apart is deleted unused within the hour.
            tracing::warn!(account = %id, error = %e, "the webhooks' clean-up could not be queued");
            "left"
        }
    }
}
