//! Existing Runn customers: `POST /accounts/{accountId}/link-suggestions` (a suggestions
//! run queued), `GET /accounts/{accountId}/runs/{runId}/suggestions?cursor=` (all of a
//! run's suggestions, a page at a time), `POST /accounts/{accountId}/links` (a reviewed
//! list applied) and `POST /accounts/{accountId}/removals` (what the integration
//! imported removed, or a dry run of it). Each queues a job and answers 202 with its run;
//! none takes the import buttons' "queued or running" mark.

use crate::app::{Api, Caller};
use crate::kinds::{switches, Kind};
use crate::path::{Account, RunId};
use crate::reply::{parse, Reply};
use axum::body::Bytes;
use axum::extract::State;
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use shared::account::{AccountId, Switches, Trigger};
use shared::model::links::{LinkRequest, RemovalRequest};
use shared::queue::{Job, Work};
use std::collections::HashMap;
use std::sync::Arc;

/// The account exists and is on, with its credentials stored.
async fn check_on(api: &Api, id: &AccountId) -> Result<(), Reply> {
    let state = match api.store.state(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Reply::no_account(id)),
        Err(e) => return Err(Reply::store_failed(e)),
    };
    let stored = state.credentials.runn_token && state.credentials.clockify_api_key;
    if !state.settings.enabled || !stored {
        let why = state
            .settings
            .disabled_reason
            .as_deref()
            .unwrap_or("it is disabled");
        return Err(Reply::error(
            409,
            "disabled",
            format!("the integration is off ({why}); Save & Run it again first"),
        ));
    }
    Ok(())
}

async fn queue(api: &Api, id: &AccountId, work: Work, what: &str) -> Reply {
    let run_id = shared::jobs::new_run_id();
    let job = Job {
        account: id.clone(),
        run_id: run_id.clone(),
        trigger: Trigger::Manual,
        work,
    };
    if let Err(e) = api.queue.send(&[job]).await {
        tracing::error!(error = %e, "could not queue the {what}");
        return Reply::unavailable(format!("the {what} could not be queued; try again shortly"));
    }
    tracing::info!(run_id = %run_id, "{what} queued");
    Reply::ok(
        202,
        json!({"account": id, "run_id": run_id, "queued": true}),
    )
}

/// A body that may be absent or `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

pub async fn suggest(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    if !body.iter().all(u8::is_ascii_whitespace) {
        if let Err(reply) = parse::<Empty>(&body) {
            return reply;
        }
    }
    if let Err(reply) = check_on(&api, &id).await {
        return reply;
    }
    queue(&api, &id, Work::Suggest, "link suggestions").await
}

/// A page of a suggestions run's suggestions; `next_cursor` is `null` on the last.
pub async fn suggestions(
    State(api): State<Arc<Api>>,
    RunId(run): RunId,
    Account(id): Account,
    Extension(caller): Extension<Caller>,
) -> Reply {
    // The routes match the path alone: the query is the caller's, as it was signed.
    let query: HashMap<String, String> = caller
        .path_and_query
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    if let Some(other) = query.keys().find(|k| k.as_str() != "cursor") {
        return Reply::field(
            400,
            "bad_request",
            other,
            format!("{other}: not a parameter of this request"),
        );
    }
    let page = match query.get("cursor").map(|c| c.parse::<u32>()) {
        None => 0,
        Some(Ok(p)) if p < 100_000 => p,
        Some(_) => {
            return Reply::field(
                400,
                "bad_request",
                "cursor",
                "cursor: not a cursor this API gave",
            )
        }
    };
    match api.store.suggestions(&id, &run, page).await {
        Ok(Some((suggestions, more))) => Reply::ok(
            200,
            json!({
                "run_id": run,
                "suggestions": suggestions,
                "next_cursor": more.then(|| (page + 1).to_string()),
            }),
        ),
        Ok(None) => Reply::error(
            404,
            "not_found",
            format!(
                "account {id} has no suggestions of run {run} (not run yet, or no suggestions run)"
            ),
        ),
        Err(e) => Reply::store_failed(e),
    }
}

pub async fn links(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    let request: LinkRequest = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if let Err((field, why)) = request.check() {
        return Reply::field(400, "bad_request", field, why);
    }
    if request.links.is_empty() && request.rejected.is_empty() {
        return Reply::field(
            400,
            "bad_request",
            "links",
            "name at least one link or rejection",
        );
    }
    if let Err(reply) = check_on(&api, &id).await {
        return reply;
    }
    let work = Work::Link {
        request,
        dry_run: false,
    };
    queue(&api, &id, work, "links").await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RemovalBody {
    dry_run: bool,
    #[serde(default)]
    kinds: Option<Vec<Kind>>,
    #[serde(default)]
    include_planned: bool,
    #[serde(default)]
    include_unrecorded: bool,
}

pub async fn removals(State(api): State<Arc<Api>>, Account(id): Account, body: Bytes) -> Reply {
    let req: RemovalBody = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let kinds = match &req.kinds {
        None => Switches::ALL,
        Some(kinds) => match switches(kinds, "remove") {
            Ok(k) => k,
            Err(reply) => return reply,
        },
    };
    if let Err(reply) = check_on(&api, &id).await {
        return reply;
    }
    let request = RemovalRequest {
        kinds,
        include_planned: req.include_planned,
        include_unrecorded: req.include_unrecorded,
        dry_run: req.dry_run,
    };
    queue(&api, &id, Work::Remove(request), "removal").await
}
