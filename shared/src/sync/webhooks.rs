//! This integration's webhooks on the customer's Clockify workspace: registered (or
//! repaired) from what the workspace lists now, and removed on turning off. Only a
//! digest of each token is kept. A webhook that is not ours is never touched.

use super::rules::webhooks::{plan_hooks, workspace_limit, Hook, HookPlan};
use crate::clockify::{ClockifyClient, NewWebhook, Webhook, WebhookEvent};
use crate::error::ApiError;
use crate::ids::{WebhookId, WorkspaceId};
use crate::model::account::AccountId;
use crate::model::webhooks::{token_digest, HookRegistration, RegisteredHook};
use crate::store::{HookStore, StoreError};
use secrecy::ExposeSecret;
use std::collections::BTreeSet;

/// The path of an account's webhook route on the HTTP API.
pub fn hook_path(account: &AccountId) -> String {
    format!("/webhooks/clockify/{account}")
}

/// The URL Clockify delivers an account's events to: the API's public URL and the route.
pub fn hook_url(public_api_url: &str, account: &AccountId) -> String {
    format!(
        "{}{}",
        public_api_url.trim().trim_end_matches('/'),
        hook_path(account)
    )
}

/// Why a registration or removal failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HookError {
    pub fn class(&self) -> crate::error::FailureClass {
        match self {
            HookError::Api(e) => e.class(),
            HookError::Store(e) => e.class(),
        }
    }
}

fn as_hook(w: &Webhook) -> Hook {
    Hook {
        id: w.id.to_string(),
        url: w.url.clone(),
        event: w.webhook_event.to_string(),
        delivering: w.enabled && w.delivery_enabled && w.plan_enabled,
    }
}

/// Registers this integration's webhooks on the workspace, or repairs them: those
/// missing are created, those whose URL changed or whose delivery Clockify stopped are
/// re-created, in the plan's limit; the result (digests only) is saved and returned.
/// Twice in a row, the second keeps everything and creates nothing.
pub async fn register(
    clockify: &ClockifyClient,
    store: &dyn HookStore,
    account: &AccountId,
    ws: &WorkspaceId,
    url: &str,
) -> Result<HookRegistration, HookError> {
    let before = store.hooks(account).await?.unwrap_or_default();
    let registered_before: BTreeSet<String> = before.hooks.iter().map(|h| h.id.clone()).collect();
    let free = clockify
        .workspaces()
        .await?
        .iter()
        .find(|w| &w.id == ws)
        .is_none_or(|w| w.free_plan());
    let listed = clockify.webhooks(ws).await?;
    let hooks: Vec<Hook> = listed.iter().map(as_hook).collect();
    let plan = plan_hooks(&hooks, url, &registered_before, workspace_limit(free));
    let mut reg = HookRegistration {
        url: url.to_owned(),
        left_to_daily: plan.left_to_daily.clone(),
        foreign: foreign_count(&hooks, &plan),
        free_plan: free,
        checked_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    for id in &plan.delete {
        clockify
            .delete_webhook(ws, &WebhookId::new(id.as_str()))
            .await?;
    }
    for w in listed
        .iter()
        .filter(|w| plan.keep.contains(&w.id.to_string()))
    {
        reg.hooks.push(registered(w));
    }
    let result = create_all(clockify, ws, url, &plan, &mut reg).await;
    if let Err(e) = &result {
        reg.error = Some(crate::model::report::clip(&e.to_string(), 300));
    }
    // Saved whatever happened: the API must know every token that may be delivered.
    store.save_hooks(account, &reg).await?;
    result.map(|()| reg).map_err(HookError::from)
}

fn registered(w: &Webhook) -> RegisteredHook {
    RegisteredHook {
        id: w.id.to_string(),
        event: w.webhook_event.to_string(),
        token_digest: token_digest(w.auth_token.expose_secret()),
    }
}

/// Webhooks on the workspace that are not ours (the plan keeps or deletes only ours).
fn foreign_count(hooks: &[Hook], plan: &HookPlan) -> usize {
    hooks
        .iter()
        .filter(|h| !plan.keep.contains(&h.id) && !plan.delete.contains(&h.id))
        .count()
}

/// Creates the plan's webhooks in order. One Clockify refuses (the plan's limit reached
/// after all) leaves it and the rest to the daily run. After an unclear failure the
/// webhooks are listed again: one that was created after all is taken, never made twice.
async fn create_all(
    clockify: &ClockifyClient,
    ws: &WorkspaceId,
    url: &str,
    plan: &HookPlan,
    reg: &mut HookRegistration,
) -> Result<(), ApiError> {
    for (i, event) in plan.create.iter().enumerate() {
        let new = NewWebhook::for_workspace(ws, url, WebhookEvent::from_wire(event));
        match clockify.create_webhook(ws, &new).await {
            Ok(w) => reg.hooks.push(registered(&w)),
            Err(ApiError::Rejected { status, .. }) if status != 404 => {
                tracing::warn!(
                    status,
                    event,
                    "Clockify refused a webhook; the rest are left to the daily run"
                );
                reg.left_to_daily.extend(plan.create[i..].iter().cloned());
                return Ok(());
            }
            Err(e @ ApiError::Transient { .. }) => {
                let found = clockify
                    .webhooks(ws)
                    .await?
                    .into_iter()
                    .find(|w| w.url == url && w.webhook_event.as_str() == event.as_str());
                match found {
                    Some(w) => reg.hooks.push(registered(&w)),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes this integration's webhooks (by the URL, or an id registered before) with
/// `clockify`; returns how many it deleted, and saves the registration as empty.
pub async fn remove(
    clockify: &ClockifyClient,
    store: &dyn HookStore,
    account: &AccountId,
    ws: &WorkspaceId,
    url: &str,
) -> Result<usize, HookError> {
    let before = store.hooks(account).await?.unwrap_or_default();
    let ids: BTreeSet<String> = before.hooks.iter().map(|h| h.id.clone()).collect();
    let listed = clockify.webhooks(ws).await?;
    let hooks: Vec<Hook> = listed.iter().map(as_hook).collect();
    // Planned with no room: every one of ours is to delete, no other is touched.
    let plan = plan_hooks(&hooks, url, &ids, 0);
    let mut deleted = 0;
    for id in &plan.delete {
        if clockify
            .delete_webhook(ws, &WebhookId::new(id.as_str()))
            .await?
        {
            deleted += 1;
        }
    }
    let reg = HookRegistration {
        url: url.to_owned(),
        foreign: hooks.len() - plan.delete.len(),
        checked_at: Some(chrono::Utc::now()),
        cleanup: Some(format!("{deleted} webhooks deleted from the workspace")),
        ..Default::default()
    };
    store.save_hooks(account, &reg).await?;
    Ok(deleted)
}
