//! The simulator's webhook endpoints, to the spec's `getWebhooks`, `createWebhook`,
//! `getWebhook`, `updateWebhook`, `deleteWebhook` and `generateNewToken`: webhooks belong
//! to a workspace, only admin keys manage them, and a create past the plan's limit is
//! refused.

use super::{
    bad_request, error_body, key_user_id, not_found, AppState, ClockifyData, ClockifySim, Plan,
    Res, WorkspaceData,
};
use crate::common::{header, json_response};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Clockify's help page: a free workspace has 3 webhooks, a paid one 100.
pub const FREE_PLAN_WEBHOOKS: usize = 3;
pub const PAID_PLAN_WEBHOOKS: usize = 100;

/// `WebhookEventType`, as the spec lists it.
#[rustfmt::skip]
pub const WEBHOOK_EVENTS: [&str; 51] = [
    "NEW_PROJECT", "NEW_TASK", "NEW_CLIENT", "NEW_TIMER_STARTED", "TIMER_STOPPED",
    "TIME_ENTRY_UPDATED", "TIME_ENTRY_DELETED", "TIME_ENTRY_SPLIT", "NEW_TIME_ENTRY",
    "TIME_ENTRY_RESTORED", "NEW_TAG", "USER_DELETED_FROM_WORKSPACE", "USER_JOINED_WORKSPACE",
    "USER_DEACTIVATED_ON_WORKSPACE", "USER_ACTIVATED_ON_WORKSPACE", "USER_EMAIL_CHANGED",
    "USER_UPDATED", "NEW_INVOICE", "INVOICE_UPDATED", "NEW_APPROVAL_REQUEST",
    "APPROVAL_REQUEST_STATUS_UPDATED", "TIME_OFF_REQUESTED", "TIME_OFF_REQUEST_UPDATED",
    "TIME_OFF_REQUEST_APPROVED", "TIME_OFF_REQUEST_REJECTED", "TIME_OFF_REQUEST_STARTED",
    "TIME_OFF_REQUEST_WITHDRAWN", "BALANCE_UPDATED", "TAG_UPDATED", "TAG_DELETED",
    "TASK_UPDATED", "CLIENT_UPDATED", "TASK_DELETED", "CLIENT_DELETED", "EXPENSE_RESTORED",
    "ASSIGNMENT_CREATED", "ASSIGNMENT_DELETED", "ASSIGNMENT_PUBLISHED", "ASSIGNMENT_UPDATED",
    "EXPENSE_CREATED", "EXPENSE_DELETED", "EXPENSE_UPDATED", "PROJECT_UPDATED",
    "PROJECT_DELETED", "USER_GROUP_CREATED", "USER_GROUP_UPDATED", "USER_GROUP_DELETED",
    "USERS_INVITED_TO_WORKSPACE", "LIMITED_USERS_ADDED_TO_WORKSPACE", "COST_RATE_UPDATED",
    "BILLABLE_RATE_UPDATED",
];

/// `WebhookEventTriggerSourceType`, as the spec lists it.
pub const TRIGGER_SOURCE_TYPES: [&str; 7] = [
    "PROJECT_ID",
    "USER_ID",
    "TAG_ID",
    "TASK_ID",
    "WORKSPACE_ID",
    "ASSIGNMENT_ID",
    "EXPENSE_ID",
];

/// Who made a webhook: the `type` filter of `getWebhooks`. The API makes only
/// `USER_CREATED` ones; the others exist so a test can seed them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookType {
    #[default]
    UserCreated,
    System,
    Addon,
}

/// A webhook as the simulator keeps it: `WebhookDtoV1`'s fields (the workspace is the one
/// that holds it) and its type.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimWebhook {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    pub webhook_event: String,
    pub trigger_source_type: String,
    #[serde(default)]
    pub trigger_source: Vec<String>,
    pub auth_token: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default = "super::yes")]
    pub enabled: bool,
    #[serde(default = "super::yes")]
    pub delivery_enabled: bool,
    #[serde(default = "super::yes")]
    pub plan_enabled: bool,
    #[serde(default)]
    pub webhook_type: WebhookType,
}

impl SimWebhook {
    /// `WebhookDtoV1`. `name` is left out when there is none: the spec types it a string,
    /// never null.
    pub fn dto(&self, ws: &str) -> Value {
        let mut v = json!({
            "id": self.id, "url": self.url, "webhookEvent": self.webhook_event,
            "triggerSourceType": self.trigger_source_type, "triggerSource": self.trigger_source,
            "authToken": self.auth_token, "userId": self.user_id, "workspaceId": ws,
            "enabled": self.enabled, "deliveryEnabled": self.delivery_enabled,
            "planEnabled": self.plan_enabled,
        });
        if let Some(n) = &self.name {
            v["name"] = json!(n);
        }
        v
    }
}

/// How many webhooks a workspace on `plan` may have.
pub fn webhook_limit(plan: Plan) -> usize {
    match plan {
        Plan::Free => FREE_PLAN_WEBHOOKS,
        Plan::Pro => PAID_PLAN_WEBHOOKS,
    }
}

pub(super) fn new_id() -> String {
    format!(
        "{:024x}",
        rand::thread_rng().gen::<u128>() & ((1u128 << 96) - 1)
    )
}

/// A fresh token, shaped like the JWT Clockify issues (the integration treats it as
/// opaque); random, so no two webhooks and no two rotations share one.
fn new_token() -> String {
    let mut rng = rand::thread_rng();
    let part = |rng: &mut rand::rngs::ThreadRng, n: usize| -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..n)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    };
    let body = part(&mut rng, 96);
    let sig = part(&mut rng, 43);
    format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{body}.{sig}")
}

/// Webhook settings are for workspace owners and admins: a member key is refused with
/// 403 and Clockify's error body.
fn require_admin(data: &ClockifyData, headers: &HeaderMap) -> Result<(), Response> {
    let key = header(headers, "x-api-key").unwrap_or("");
    if data.api_keys.iter().any(|k| k == key) {
        Ok(())
    } else {
        Err(json_response(403, &error_body(403)))
    }
}

/// Runs `f` on the workspace `ws` under the write lock, once the key is known to be an
/// admin's; `f` gets the key's user id too.
fn admin_ws<T>(
    s: &AppState,
    headers: &HeaderMap,
    ws: &str,
    f: impl FnOnce(&mut WorkspaceData, String) -> Result<T, Response>,
) -> Result<T, Response> {
    let mut data = s.data.write().unwrap();
    require_admin(&data, headers)?;
    let user = key_user_id(&data, header(headers, "x-api-key").unwrap_or(""));
    let w = data
        .workspaces
        .iter_mut()
        .find(|w| w.id == ws)
        .ok_or_else(|| not_found("Workspace"))?;
    f(w, user)
}

/// `CreateWebhookRequestV1` (and `UpdateWebhookRequestV1`, which has the same fields) once
/// it has passed the spec's constraints.
struct WebhookRequest {
    name: Option<String>,
    url: String,
    event: String,
    source_type: String,
    sources: Vec<String>,
}

/// A string field: absent or null is `None`, anything but a string a 400.
fn text(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, Response> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(format!("{field}: must be a string"))),
    }
}

fn required(obj: &Map<String, Value>, field: &str) -> Result<String, Response> {
    text(obj, field)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request(format!("{field}: must not be blank")))
}

fn one_of(value: String, field: &str, allowed: &[&str]) -> Result<String, Response> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(bad_request(format!("{field}: invalid value {value:?}")))
    }
}

/// Clockify delivers over HTTP(S) only, so any other target is refused.
fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Reads a create or update body, field by field as the spec constrains it: `url`,
/// `webhookEvent`, `triggerSourceType` and `triggerSource` required, `name` 2 to 30
/// characters. A `WORKSPACE_ID` trigger must name the workspace itself.
fn webhook_request(body: &[u8], ws: &str) -> Result<WebhookRequest, Response> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("Malformed request body: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad_request("Malformed request body: expected an object"))?;
    let name = text(obj, "name")?;
    if name
        .as_ref()
        .is_some_and(|n| !(2..=30).contains(&n.chars().count()))
    {
        return Err(bad_request("name: size must be between 2 and 30"));
    }
    let url = required(obj, "url")?;
    if !is_http_url(&url) {
        return Err(bad_request("url: must be a valid http or https URL"));
    }
    let event = one_of(
        required(obj, "webhookEvent")?,
        "webhookEvent",
        &WEBHOOK_EVENTS,
    )?;
    let source_type = one_of(
        required(obj, "triggerSourceType")?,
        "triggerSourceType",
        &TRIGGER_SOURCE_TYPES,
    )?;
    let sources = match obj.get("triggerSource") {
        None | Some(Value::Null) => return Err(bad_request("triggerSource: must not be null")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad_request("triggerSource: must be a list of ids"))?,
        Some(_) => return Err(bad_request("triggerSource: must be a list of ids")),
    };
    if sources.is_empty() {
        return Err(bad_request("triggerSource: must not be empty"));
    }
    if source_type == "WORKSPACE_ID" && sources.iter().any(|s| s != ws) {
        return Err(bad_request(
            "triggerSource: a WORKSPACE_ID trigger names this workspace",
        ));
    }
    Ok(WebhookRequest {
        name,
        url,
        event,
        source_type,
        sources,
    })
}

/// `GET /v1/workspaces/{workspaceId}/webhooks` (`WebhooksDtoV1`), with the optional `type`
/// filter. `workspaceWebhookCount` counts every webhook of the workspace, whatever the
/// filter: it is the number the plan's limit is held against.
pub(super) async fn list_webhooks(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Res {
    let kind = match q.get("type").map(String::as_str) {
        None => None,
        Some("USER_CREATED") => Some(WebhookType::UserCreated),
        Some("SYSTEM") => Some(WebhookType::System),
        Some("ADDON") => Some(WebhookType::Addon),
        Some(other) => return Err(bad_request(format!("type: invalid value {other:?}"))),
    };
    let body = admin_ws(&s, &headers, &ws, |w, _| {
        let webhooks: Vec<Value> = w
            .webhooks
            .iter()
            .filter(|h| kind.is_none_or(|k| k == h.webhook_type))
            .map(|h| h.dto(&ws))
            .collect();
        Ok(json!({"webhooks": webhooks, "workspaceWebhookCount": w.webhooks.len()}))
    })?;
    Ok(json_response(200, &body))
}

/// `POST /v1/workspaces/{workspaceId}/webhooks`: 201 with the new webhook, its token
/// fresh; a 400 once the workspace holds as many as its plan allows.
pub(super) async fn create_webhook(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Res {
    let hook = admin_ws(&s, &headers, &ws, |w, user| {
        let req = webhook_request(&body, &ws)?;
        let limit = webhook_limit(w.plan);
        if w.webhooks.len() >= limit {
            return Err(bad_request(format!(
                "Webhook limit reached: this workspace's plan allows {limit} webhooks"
            )));
        }
        let hook = SimWebhook {
            id: new_id(),
            name: req.name,
            url: req.url,
            webhook_event: req.event,
            trigger_source_type: req.source_type,
            trigger_source: req.sources,
            auth_token: new_token(),
            user_id: user,
            enabled: true,
            delivery_enabled: true,
            plan_enabled: true,
            webhook_type: WebhookType::UserCreated,
        };
        w.webhooks.push(hook.clone());
        Ok(hook)
    })?;
    Ok(json_response(201, &hook.dto(&ws)))
}

fn webhook_mut<'a>(w: &'a mut WorkspaceData, id: &str) -> Result<&'a mut SimWebhook, Response> {
    w.webhooks
        .iter_mut()
        .find(|h| h.id == id)
        .ok_or_else(|| not_found("Webhook"))
}

/// `GET /v1/workspaces/{workspaceId}/webhooks/{webhookId}`.
pub(super) async fn get_webhook(
    State(s): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Res {
    let body = admin_ws(&s, &headers, &ws, |w, _| Ok(webhook_mut(w, &id)?.dto(&ws)))?;
    Ok(json_response(200, &body))
}

/// `PUT /v1/workspaces/{workspaceId}/webhooks/{webhookId}`: the request's fields replace
/// the webhook's; its id, token and flags stay.
pub(super) async fn update_webhook(
    State(s): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Res {
    let out = admin_ws(&s, &headers, &ws, |w, _| {
        let req = webhook_request(&body, &ws)?;
        let h = webhook_mut(w, &id)?;
        h.name = req.name;
        h.url = req.url;
        h.webhook_event = req.event;
        h.trigger_source_type = req.source_type;
        h.trigger_source = req.sources;
        Ok(h.dto(&ws))
    })?;
    Ok(json_response(200, &out))
}

/// `DELETE /v1/workspaces/{workspaceId}/webhooks/{webhookId}`: the spec's 200, no body; a
/// webhook that is not there is a 404.
pub(super) async fn delete_webhook(
    State(s): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Res {
    admin_ws(&s, &headers, &ws, |w, _| {
        let before = w.webhooks.len();
        w.webhooks.retain(|h| h.id != id);
        if w.webhooks.len() == before {
            return Err(not_found("Webhook"));
        }
        Ok(())
    })?;
    Ok(axum::response::IntoResponse::into_response(
        axum::http::StatusCode::OK,
    ))
}

/// `PATCH /v1/workspaces/{workspaceId}/webhooks/{webhookId}/token`: a new token, the old
/// one no longer the webhook's.
pub(super) async fn new_webhook_token(
    State(s): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Res {
    let out = admin_ws(&s, &headers, &ws, |w, _| {
        let h = webhook_mut(w, &id)?;
        h.auth_token = new_token();
        Ok(h.dto(&ws))
    })?;
    Ok(json_response(200, &out))
}

/// Test controls: states a test needs that the API cannot make.
impl ClockifySim {
    /// Adds a webhook to `ws` that is not the integration's (the customer's own, made in
    /// Clockify's UI), past the plan's limit if need be, as a downgrade leaves them. `None`
    /// when there is no such workspace.
    pub fn seed_webhook(&self, ws: &str, url: &str, event: &str) -> Option<SimWebhook> {
        let mut data = self.data.write().unwrap();
        let w = data.workspaces.iter_mut().find(|w| w.id == ws)?;
        let hook = SimWebhook {
            id: new_id(),
            name: Some("Customer hook".into()),
            url: url.into(),
            webhook_event: event.into(),
            trigger_source_type: "WORKSPACE_ID".into(),
            trigger_source: vec![ws.into()],
            auth_token: new_token(),
            user_id: format!("{:024x}", 0xc000),
            enabled: true,
            delivery_enabled: true,
            plan_enabled: true,
            webhook_type: WebhookType::UserCreated,
        };
        w.webhooks.push(hook.clone());
        Some(hook)
    }

    /// Marks a webhook `deliveryEnabled: false`, as Clockify does after too many failed
    /// deliveries. Whether there was such a webhook.
    pub fn disable_delivery(&self, ws: &str, id: &str) -> bool {
        let mut data = self.data.write().unwrap();
        data.workspaces
            .iter_mut()
            .filter(|w| w.id == ws)
            .flat_map(|w| w.webhooks.iter_mut())
            .find(|h| h.id == id)
            .map(|h| h.delivery_enabled = false)
            .is_some()
    }

    /// The webhooks `ws` holds now.
    pub fn webhooks(&self, ws: &str) -> Vec<SimWebhook> {
        let data = self.data.read().unwrap();
        data.workspaces
            .iter()
            .find(|w| w.id == ws)
            .map(|w| w.webhooks.clone())
            .unwrap_or_default()
    }
}
