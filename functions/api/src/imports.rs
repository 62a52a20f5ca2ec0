//! `POST /accounts/{accountId}/imports`: an "Import from Clockify" button.

use crate::app::Api;
use crate::kinds::{check_account, switches, Kind};
use crate::path::Account;
use crate::pending::queue_job;
use crate::reply::{parse, Reply};
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use shared::queue::Work;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    kinds: Vec<Kind>,
}

/// Queues one job for the kinds named, unless one is queued or running (then answers
/// with its run).
pub async fn import(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    let req: ImportRequest = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let only = match switches(&req.kinds, "import") {
        Ok(only) => only,
        Err(reply) => return reply,
    };
    if let Err(reply) = check_account(&api, &id, only).await {
        return reply;
    }
    let work = Work::Import {
        only: Some(only),
        resume: None,
    };
    match queue_job(api.store.as_ref(), api.queue.as_ref(), &id, work, false).await {
        Ok((run_id, queued)) => Reply::ok(
            202,
            json!({"account": id, "run_id": run_id, "queued": queued}),
        ),
        Err(reply) => reply,
    }
}
