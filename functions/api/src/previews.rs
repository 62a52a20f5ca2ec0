//! `POST /accounts/{accountId}/previews`: a dry run queued. It plans what a run of the
//! kinds named (and, with `from` and `to`, of those days' actuals) would do and writes
//! nothing; `GET /accounts/{accountId}/runs/{runId}` then shows its plan. It never takes
//! or clears the account's "queued or running" mark: the import buttons are not held up.

use crate::app::Api;
use crate::kinds::{check_account, switches, Kind};
use crate::path::Account;
use crate::reply::{parse, Reply};
use axum::body::Bytes;
use axum::extract::State;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use shared::account::Trigger;
use shared::queue::{Job, Work};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    kinds: Vec<Kind>,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
}

pub async fn preview(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    let req: PreviewRequest = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let only = match switches(&req.kinds, "preview") {
        Ok(only) => only,
        Err(reply) => return reply,
    };
    let range = match range(req.from, req.to) {
        Ok(range) => range,
        Err(reply) => return reply,
    };
    if let Err(reply) = check_account(&api, &id, only).await {
        return reply;
    }
    let run_id = shared::jobs::new_run_id();
    let job = Job {
        account: id.clone(),
        run_id: run_id.clone(),
        trigger: Trigger::Manual,
        work: Work::Preview {
            only: Some(only),
            range,
        },
    };
    if let Err(e) = api.queue.send(&[job]).await {
        tracing::error!(error = %e, "could not queue the preview");
        return Reply::unavailable("the preview could not be queued; try again shortly");
    }
    tracing::info!(run_id = %run_id, "preview queued");
    Reply::ok(
        202,
        json!({"account": id, "run_id": run_id, "queued": true}),
    )
}

/// The days: both ends or neither (the account's window), the first not after the last.
fn range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Option<(NaiveDate, NaiveDate)>, Reply> {
    let refuse = |field: &str, message: &str| Reply::field(400, "bad_request", field, message);
    match (from, to) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(refuse("to", "to: give both from and to, or neither")),
        (None, Some(_)) => Err(refuse("from", "from: give both from and to, or neither")),
        (Some(from), Some(to)) if from > to => {
            Err(refuse("from", &format!("from: {from} is after to ({to})")))
        }
        (Some(from), Some(to)) => Ok(Some((from, to))),
    }
}
