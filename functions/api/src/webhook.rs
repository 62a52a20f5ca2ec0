//! `POST /webhooks/clockify/{accountId}`: Clockify's deliveries. Authenticated by their
//! own rule, not Runn's signature: the SHA-256 of `Clockify-Signature` (the webhook's
//! token, verbatim) compared in constant time with the digests kept for the account's
//! webhooks (no KMS right needed). An unknown or turned-off account, a malformed id, a
//! missing or a wrong token all get the same 401. An accepted time-entry event marks its
//! user's time as changed and queues at most one debounced job; an event ignored (a
//! running timer, another workspace's entry) is answered 200 and does nothing.

use crate::app::Api;
use crate::reply::Reply;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use shared::account::AccountId;
use shared::ids::ClockifyUserId;
use shared::model::webhooks::{
    plausible_user_id, token_matches, Changes, EventKind, HookRegistration,
};
use std::sync::Arc;

/// The header carrying the webhook's token.
pub const TOKEN_HEADER: &str = "clockify-signature";
/// The header naming the event.
pub const EVENT_HEADER: &str = "clockify-webhook-event-type";

/// The one refusal of every delivery not proven to be ours.
fn unauthorized() -> Reply {
    Reply::error(
        401,
        "unauthorized",
        "the webhook's token is missing or not one of this account's",
    )
}

/// The account and the registration a delivery was authenticated for.
#[derive(Clone)]
pub struct Delivery {
    pub account: AccountId,
    pub hooks: HookRegistration,
    pub workspace: String,
}

/// The route's authentication, as a layer: the account id, its being on, and the
/// token's digest among its webhooks'. Every failure looks the same from outside.
pub async fn clockify_token(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let raw = crate::path::param(&parts, "accountId");
    let Some(account) = raw.and_then(|r| AccountId::parse(&r).ok()) else {
        return unauthorized().into_response();
    };
    let token = parts
        .headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let (hooks, state) =
        match tokio::try_join!(api.store.hooks(&account), api.store.state(&account)) {
            Ok(found) => found,
            Err(e) => return Reply::store_failed(e).into_response(),
        };
    let (Some(token), Some(hooks), Some(state)) = (token, hooks, state) else {
        return unauthorized().into_response();
    };
    // Compared whether or not the account is on, so an off account takes as long.
    let known = token_matches(&token, hooks.hooks.iter().map(|h| &h.token_digest));
    if !known || !state.settings.enabled {
        return unauthorized().into_response();
    }
    tracing::Span::current().record("account", tracing::field::display(&account));
    let workspace = state.settings.clockify_workspace.to_string();
    parts.extensions.insert(Delivery {
        account,
        hooks,
        workspace,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// The parts of a time entry a delivery carries that are read (the entry as the API
/// returns it; other fields are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryEvent {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    time_interval: Option<Interval>,
}

#[derive(Deserialize)]
struct Interval {
    #[serde(default)]
    end: Option<String>,
}

fn ignored(why: &str) -> Reply {
    Reply::ok(200, json!({"accepted": false, "ignored": why}))
}

/// A delivery, authenticated: marks what it changed and queues the debounced job.
pub async fn deliver(
    State(api): State<Arc<Api>>,
    axum::Extension(d): axum::Extension<Delivery>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let event = headers
        .get(EVENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_owned();
    let Some(kind) = EventKind::of(&event).filter(|_| d.hooks.events().contains(event.as_str()))
    else {
        return Reply::field(
            400,
            "bad_request",
            EVENT_HEADER,
            format!("`{event}` is not an event this integration registered"),
        );
    };
    let mut changes = Changes {
        first_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    match kind {
        EventKind::Entity(k) => {
            changes.entities.insert(k);
        }
        EventKind::TimeEntry => match entry_user(&d, &body) {
            Ok(user) => {
                changes.people.insert(user);
            }
            Err(reply) => return reply,
        },
    }
    let queued = shared::jobs::hooks::mark_and_queue(
        api.store.as_ref(),
        api.queue.as_ref(),
        &d.account,
        &changes,
    )
    .await;
    match queued {
        Ok(queued) => Reply::ok(200, json!({"accepted": true, "queued": queued})),
        Err(e) => {
            tracing::error!(error = %e, "a delivery could not be marked or queued");
            Reply::unavailable("the change could not be recorded; deliver it again")
        }
    }
}

/// The user whose time a time-entry event changed; an event to ignore (a running
/// timer, another workspace's entry) answers 200, a body that is no entry 400.
fn entry_user(d: &Delivery, body: &[u8]) -> Result<ClockifyUserId, Reply> {
    let entry: EntryEvent = serde_json::from_slice(body)
        .map_err(|e| Reply::bad_request(format!("the body is not a time entry: {e}")))?;
    if entry
        .workspace_id
        .as_deref()
        .is_some_and(|w| w != d.workspace)
    {
        return Err(ignored("the entry is another workspace's"));
    }
    // A running timer has no time in any total yet (deleted, it had none).
    if entry.time_interval.as_ref().is_none_or(|t| t.end.is_none()) {
        return Err(ignored("a running timer: its time counts once it stops"));
    }
    let refused = |why: &str| Reply::field(400, "bad_request", "userId", why);
    match entry.user_id.as_deref().map(str::trim) {
        Some(u) if plausible_user_id(u) => Ok(ClockifyUserId::new(u)),
        Some(u) if !u.is_empty() => Err(refused("the entry's user is no Clockify id")),
        _ => Err(refused("the entry names no user")),
    }
}
