//! The ids in a request's path, as extractors: `{accountId}` and `{runId}`, read from the
//! path as the caller sent it (never percent-decoded, so `a%23b` is refused as it is
//! written) and refused naming the parameter.

use crate::app::Caller;
use crate::reply::Reply;
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use shared::account::AccountId;

/// The account a route's path names.
pub struct Account(pub AccountId);

/// A run's id from the path. Scheduled runs of before were named
/// `daily-2026-11-28T02:00Z`: a `:` (sent as it is or as %3A) is taken too, so every id
/// the status ever gave reads back.
pub struct RunId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Account {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Reply> {
        let raw = param(parts, "accountId").unwrap_or_default();
        AccountId::parse(&raw)
            .map(Account)
            .map_err(|e| Reply::field(400, "bad_request", "accountId", e.to_string()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RunId {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Reply> {
        let run = param(parts, "runId")
            .unwrap_or_default()
            .replace("%3A", ":")
            .replace("%3a", ":");
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
        Ok(RunId(run))
    }
}

/// Whether the route matched has the parameter `name`.
pub fn has_param(parts: &Parts, name: &str) -> bool {
    let want = format!("{{{name}}}");
    parts
        .extensions
        .get::<MatchedPath>()
        .is_some_and(|m| m.as_str().split('/').any(|s| s == want))
}

/// The segment of the caller's path where the matched route has `{name}`.
pub(crate) fn param(parts: &Parts, name: &str) -> Option<String> {
    let matched = parts.extensions.get::<MatchedPath>()?.as_str();
    let path = match parts.extensions.get::<Caller>() {
        Some(caller) => caller.routed(),
        None => parts.uri.path(),
    };
    let want = format!("{{{name}}}");
    matched
        .split('/')
        .zip(path.split('/'))
        .find(|(m, _)| *m == want)
        .map(|(_, segment)| segment.to_owned())
}
