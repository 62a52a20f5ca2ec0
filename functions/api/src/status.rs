//! `GET /accounts/{accountId}/status` and `GET /accounts/{accountId}/runs/{runId}`: the
//! account's settings (never its secrets) and latest runs, and what one run did.

use crate::app::Api;
use crate::path::{Account, RunId};
use crate::reply::Reply;
use axum::extract::State;
use serde_json::Value;
use shared::status::{AccountStatus, RunStatus, STATUS_RUNS};
use std::sync::Arc;

pub async fn status(State(api): State<Arc<Api>>, Account(id): Account) -> Reply {
    match AccountStatus::read(api.store.as_ref(), &id, STATUS_RUNS).await {
        Ok(Some(s)) => Reply::ok(200, serde_json::to_value(s).unwrap_or(Value::Null)),
        Ok(None) => Reply::no_account(&id),
        Err(e) => Reply::store_failed(e),
    }
}

/// A run's record, and whether its job is still queued or running; a preview's shows
/// its plan.
pub async fn run(State(api): State<Arc<Api>>, RunId(run): RunId, Account(id): Account) -> Reply {
    match RunStatus::read(api.store.as_ref(), &id, &run).await {
        Ok(Some(s)) => Reply::ok(200, serde_json::to_value(s).unwrap_or(Value::Null)),
        Ok(None) => Reply::error(404, "not_found", format!("account {id} has no run {run}")),
        Err(e) => Reply::store_failed(e),
    }
}
