//! Runn's signature, as a layer on the routes it guards: `Runn-Signature` over
//! `t.METHOD.path-with-query.body` (the path as the caller sent it, without the stage),
//! checked before anything else is said about the request, and a signed change accepted
//! once. See `shared::signature` and `infra/api.yaml`.

use crate::app::{Api, Caller};
use crate::path::{has_param, Account, RunId};
use crate::reply::Reply;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::account::AccountId;
use shared::signature::{SignatureError, Verified};
use shared::SecretString;
use std::sync::Arc;

/// The signature checked, then the path's ids (a bad one answers 400 whatever method was
/// asked: the method is looked at after), whose account goes on the request's span; then
/// a signed change is taken as used (before its method is: a replay of a refused method
/// answers 409 too).
pub async fn runn_signature(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    // The body was read whole, and its size checked, before the routes.
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return Reply::bad_request("the body could not be read").into_response();
    };
    let caller = match parts.extensions.get::<Caller>() {
        Some(c) => c.clone(),
        None => Caller::of(&parts),
    };
    let header = parts
        .headers
        .get(shared::signature::HEADER)
        .and_then(|v| v.to_str().ok());
    let method = parts.method.as_str();
    let now = chrono::Utc::now().timestamp();
    let signed = &caller.path_and_query;
    let verified = match verify(&api, header, method, signed, &body, now).await {
        Ok(v) => v,
        Err(reply) => return reply.into_response(),
    };
    if has_param(&parts, "runId") {
        if let Err(reply) = RunId::from_request_parts(&mut parts, &api).await {
            return reply.into_response();
        }
    }
    if has_param(&parts, "accountId") {
        let account = match Account::from_request_parts(&mut parts, &api).await {
            Ok(Account(id)) => id,
            Err(reply) => return reply.into_response(),
        };
        tracing::Span::current().record("account", tracing::field::display(&account));
        if parts.method != Method::GET {
            if let Err(reply) = accepted_once(&api, &account, &verified, &caller).await {
                return reply.into_response();
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// A signed change is accepted once: a replay within the signature's window changes
/// nothing (Runn's backend signs every retry afresh). A GET may be repeated.
async fn accepted_once(
    api: &Api,
    account: &AccountId,
    verified: &Verified,
    caller: &Caller,
) -> Result<(), Reply> {
    let until = verified.usable_until();
    match api
        .store
        .use_signature(account, &verified.key(), until)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => {
            let path = &caller.path;
            tracing::warn!(%account, %path, "a signed request was replayed");
            Err(Reply::error(
                409,
                "replayed",
                "this signed request was already received; sign each request (and each retry) afresh",
            ))
        }
        Err(e) => Err(Reply::store_failed(e)),
    }
}

/// The signature against the secret, and (if it does not match) against the secret read
/// afresh: perhaps it was rotated since it was read.
async fn verify(
    api: &Api,
    header: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<Verified, Reply> {
    let secret = match api.key.secret().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no signing secret");
            return Err(Reply::unavailable(
                "requests cannot be checked right now; try again shortly",
            ));
        }
    };
    let verify = |secret: &SecretString| {
        shared::signature::verify(secret, header, method, path_and_query, body, now)
    };
    let mut verified = verify(&secret);
    if verified.as_ref().err() == Some(&SignatureError::Mismatch) {
        if let Some(fresh) = api.key.refreshed().await {
            verified = verify(&fresh);
        }
    }
    verified.map_err(|e| {
        let path = path_and_query;
        tracing::warn!(reason = %e, %method, %path, "signature refused");
        Reply::error(
            401,
            "unauthorized",
            format!("the request is not signed: {e}"),
        )
    })
}
