//! A Clockify API simulator: the endpoints the integration uses, at the spec's paths under
//! a self-hosted style root (`/api/v1/...` and `/report/v1/...`), with its paging
//! (`page`/`page-size`, `Last-Page`), size limits, API-key auth, rate limit and faults.

mod delivery;
mod entries;
mod webhooks;

pub use delivery::{
    Delivery, DeliveryRecord, DEFAULT_DELIVERY_SEED, DELIVERY_TIMEOUT, MAX_CONSECUTIVE_FAILURES,
    MAX_DELIVERY_RECORDS,
};
pub use entries::{
    entry_dto, NEW_TIMER_STARTED, NEW_TIME_ENTRY, TIMER_STOPPED, TIME_ENTRY_DELETED,
    TIME_ENTRY_UPDATED,
};
pub use webhooks::{
    webhook_limit, SimWebhook, WebhookType, FREE_PLAN_WEBHOOKS, PAID_PLAN_WEBHOOKS,
    TRIGGER_SOURCE_TYPES, WEBHOOK_EVENTS,
};

use crate::common::{self, header, json_response, set_header, Control};
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub const MAX_PAGE_SIZE: usize = 5000;
pub const MAX_REPORT_PAGE_SIZE: usize = 1000;
pub const FREE_PLAN_REPORT_DAYS: i64 = 31;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockifyData {
    /// Keys that authenticate as a workspace admin (they see every workspace and all time).
    pub api_keys: Vec<String>,
    /// Keys of regular members: they authenticate and see every workspace, but are admin
    /// or owner of none (Clockify shows such a key only its user's own time).
    #[serde(default)]
    pub member_keys: Vec<String>,
    pub workspaces: Vec<WorkspaceData>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceData {
    pub id: String,
    pub name: String,
    /// `FREE` caps report ranges at 31 days.
    #[serde(default)]
    pub plan: Plan,
    /// Self-hosted servers without the reports module answer 404 on the report.
    #[serde(default = "yes")]
    pub reports_available: bool,
    #[serde(default)]
    pub clients: Vec<SimClient>,
    #[serde(default)]
    pub projects: Vec<SimProject>,
    #[serde(default)]
    pub users: Vec<SimUser>,
    #[serde(default)]
    pub time_entries: Vec<SimTimeEntry>,
    /// User groups, each with its members' ids (`GET .../user-groups`).
    #[serde(default)]
    pub user_groups: Vec<SimUserGroup>,
    /// The workspace's webhooks, the customer's own included (the plan's limit counts all).
    #[serde(default)]
    pub webhooks: Vec<SimWebhook>,
}

fn yes() -> bool {
    true
}

impl Default for WorkspaceData {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            plan: Plan::default(),
            reports_available: true,
            clients: vec![],
            projects: vec![],
            users: vec![],
            time_entries: vec![],
            user_groups: vec![],
            webhooks: vec![],
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Plan {
    Free,
    #[default]
    Pro,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimClient {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimProject {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub billable: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimUser {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Workspace membership: ACTIVE, INACTIVE, PENDING or DECLINED.
    #[serde(default = "active")]
    pub membership_status: String,
    pub time_zone: String,
}

fn active() -> String {
    "ACTIVE".into()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimUserGroup {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub user_ids: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimTimeEntry {
    pub id: String,
    pub user_id: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub billable: bool,
    #[serde(default)]
    pub description: String,
    pub start: DateTime<Utc>,
    /// `None` for a running timer.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

type Res = Result<Response, Response>;

#[derive(Clone)]
struct AppState {
    data: Arc<RwLock<ClockifyData>>,
    ctl: Arc<Control>,
    hooks: Arc<delivery::Deliverer>,
}

/// Clockify's error body shape: `{message, code}`.
pub fn error_body(status: u16) -> Value {
    let message = match status {
        401 => "Full authentication is required to access this resource",
        403 => "Forbidden",
        404 => "Not found",
        429 => "Too many requests",
        s if s >= 500 => "Internal server error",
        _ => "Bad request",
    };
    json!({ "message": message, "code": status })
}

fn bad_request(message: impl Into<String>) -> Response {
    json_response(400, &json!({ "message": message.into(), "code": 501 }))
}

fn not_found(what: &str) -> Response {
    json_response(
        404,
        &json!({ "message": format!("{what} not found"), "code": 404 }),
    )
}

/// The simulator: build it with data, then [`ClockifySim::spawn`] it.
pub struct ClockifySim {
    pub data: Arc<RwLock<ClockifyData>>,
    pub ctl: Arc<Control>,
    hooks: Arc<delivery::Deliverer>,
}

impl ClockifySim {
    pub fn new(data: ClockifyData) -> Self {
        Self {
            data: Arc::new(RwLock::new(data)),
            ctl: Control::new(7, error_body),
            hooks: delivery::Deliverer::new(),
        }
    }

    pub fn router(&self) -> Router {
        let state = AppState {
            data: self.data.clone(),
            ctl: self.ctl.clone(),
            hooks: self.hooks.clone(),
        };
        let api = Router::new()
            .route("/api/v1/workspaces", get(list_workspaces))
            .route(
                "/api/v1/workspaces/{workspaceId}/clients",
                get(list_clients),
            )
            .route(
                "/api/v1/workspaces/{workspaceId}/projects",
                get(list_projects),
            )
            .route("/api/v1/workspaces/{workspaceId}/users", get(list_users))
            .route(
                "/api/v1/workspaces/{workspaceId}/user-groups",
                get(list_user_groups),
            )
            .route("/api/v1/user", get(current_user))
            .route(
                "/api/v1/workspaces/{workspaceId}/time-entries",
                post(entries::create_time_entry),
            )
            .route(
                "/api/v1/workspaces/{workspaceId}/webhooks",
                get(webhooks::list_webhooks).post(webhooks::create_webhook),
            )
            .route(
                "/api/v1/workspaces/{workspaceId}/webhooks/{webhookId}",
                get(webhooks::get_webhook)
                    .put(webhooks::update_webhook)
                    .delete(webhooks::delete_webhook),
            )
            .route(
                "/api/v1/workspaces/{workspaceId}/webhooks/{webhookId}/token",
                axum::routing::patch(webhooks::new_webhook_token),
            )
            .route(
                "/api/v1/workspaces/{workspaceId}/user/{userId}/time-entries",
                get(user_time_entries).post(entries::create_time_entry_for),
            )
            .route(
                "/api/v1/workspaces/{workspaceId}/time-entries/{id}",
                axum::routing::put(entries::update_time_entry).delete(entries::delete_time_entry),
            )
            .route(
                "/report/v1/workspaces/{workspaceId}/reports/detailed",
                post(detailed_report),
            )
            .layer(middleware::from_fn_with_state(state.clone(), auth_and_rate))
            .with_state(state);
        api.layer(middleware::from_fn_with_state(
            self.ctl.clone(),
            common::observe,
        ))
        .merge(common::admin_routes(self.ctl.clone()))
        .merge(delivery::delivery_routes(self.hooks.clone()))
    }

    pub async fn spawn(&self) -> std::io::Result<common::Running> {
        common::serve(self.router(), 0).await
    }
}

async fn auth_and_rate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let key = header(req.headers(), "x-api-key").unwrap_or("").to_owned();
    let known = {
        let data = s.data.read().unwrap();
        data.api_keys
            .iter()
            .chain(&data.member_keys)
            .any(|k| k == &key)
    };
    if !known {
        return json_response(401, &error_body(401));
    }
    match s.ctl.take_token(&key) {
        Ok(_) => next.run(req).await,
        Err(info) => {
            let mut resp = json_response(429, &error_body(429));
            // Clockify documents no Retry-After; the simulator sends one only when told to,
            // so the client's own backoff is what the default exercises.
            if s.ctl.announces_retry_after() {
                set_header(&mut resp, "retry-after", info.reset_secs);
            }
            resp
        }
    }
}

/// `page` (from 1) and `page-size` (1..=5000, default 50), validated as Clockify does.
fn paging(q: &HashMap<String, String>, max: usize) -> Result<(usize, usize), Response> {
    let page = match q.get("page") {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| bad_request("page: must be greater than or equal to 1"))?,
    };
    let size = match q.get("page-size") {
        None => 50,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=max).contains(p))
            .ok_or_else(|| bad_request(format!("page-size: must be between 1 and {max}")))?,
    };
    Ok((page, size))
}

/// Slices one page and sets `Last-Page`.
fn page_of(items: Vec<Value>, page: usize, size: usize) -> Response {
    let total = items.len();
    let start = (page - 1).saturating_mul(size).min(total);
    let end = (start + size).min(total);
    let body = Value::Array(items[start..end].to_vec());
    let mut resp = json_response(200, &body);
    set_header(&mut resp, "last-page", end >= total);
    resp
}

fn with_ws<T>(s: &AppState, ws: &str, f: impl FnOnce(&WorkspaceData) -> T) -> Result<T, Response> {
    let data = s.data.read().unwrap();
    data.workspaces
        .iter()
        .find(|w| w.id == ws)
        .map(f)
        .ok_or_else(|| not_found("Workspace"))
}

/// Clockify's list filters take `true`/`false`; anything else is a 400.
fn opt_bool(q: &HashMap<String, String>, name: &str) -> Result<Option<bool>, Response> {
    match q.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(bad_request(format!("{name}: must be true or false"))),
    }
}

/// `GET /v1/workspaces`, with the `roles` filter (one of the spec's enum): an admin key
/// has `WORKSPACE_ADMIN` everywhere and owns nothing (owners are not counted as admins in
/// this filter); a member key has no role.
async fn list_workspaces(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let data = s.data.read().unwrap();
    let key = header(&headers, "x-api-key").unwrap_or("");
    let admin = data.api_keys.iter().any(|k| k == key);
    let visible = match q.get("roles").map(String::as_str) {
        None => true,
        Some("WORKSPACE_ADMIN") => admin,
        Some("OWNER" | "TEAM_MANAGER" | "PROJECT_MANAGER") => false,
        Some(other) => {
            return json_response(
                400,
                &json!({"message": format!("Invalid value for roles: {other}"), "code": 400}),
            )
        }
    };
    let body: Vec<Value> = data
        .workspaces
        .iter()
        .filter(|_| visible)
        .map(|w| {
            json!({
                "id": w.id, "name": w.name, "imageUrl": "", "memberships": [],
                "featureSubscriptionType": if w.plan == Plan::Free { "FREE" } else { "PRO_YEAR" },
                "workspaceSettings": { "timeRoundingInReports": false }
            })
        })
        .collect();
    json_response(200, &Value::Array(body))
}

/// Where `key` stands among the simulator's keys (admins first): its user's number.
fn key_index(data: &ClockifyData, key: &str) -> usize {
    data.api_keys
        .iter()
        .chain(&data.member_keys)
        .position(|k| k == key)
        .unwrap_or(0)
}

/// The id of the key's own user, as `GET /v1/user` answers it.
fn key_user_id(data: &ClockifyData, key: &str) -> String {
    format!("{:024x}", 0xa000 + key_index(data, key))
}

/// `GET /v1/user` (`UserDtoV1`): the key's own user, named after the key's kind.
async fn current_user(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let data = s.data.read().unwrap();
    let key = header(&headers, "x-api-key").unwrap_or("");
    let admin = data.api_keys.iter().any(|k| k == key);
    let n = key_index(&data, key);
    let (name, email) = if admin {
        (
            "Workspace Admin".to_owned(),
            format!("admin{n}@example.com"),
        )
    } else {
        (
            "Regular Member".to_owned(),
            format!("member{n}@example.com"),
        )
    };
    json_response(
        200,
        &json!({
            "id": key_user_id(&data, key), "name": name, "email": email,
            "activeWorkspace": data.workspaces.first().map(|w| w.id.clone()).unwrap_or_default(),
            "defaultWorkspace": data.workspaces.first().map(|w| w.id.clone()).unwrap_or_default(),
            "memberships": [], "profilePicture": "", "status": "ACTIVE",
            "settings": {"timeZone": "UTC"}
        }),
    )
}

async fn list_clients(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let (page, size) = paging(&q, MAX_PAGE_SIZE)?;
    let archived = opt_bool(&q, "archived")?;
    let name = q.get("name").map(|n| n.to_lowercase());
    let items = with_ws(&s, &ws, |w| {
        w.clients
            .iter()
            .filter(|c| archived.is_none_or(|a| a == c.archived))
            .filter(|c| {
                name.as_ref()
                    .is_none_or(|n| c.name.to_lowercase().contains(n))
            })
            .map(|c| {
                json!({"id": c.id, "name": c.name, "workspaceId": w.id, "archived": c.archived,
                       "address": "", "note": "", "email": null, "ccEmails": [],
                       "currencyId": "64a687e29ae1f428e7ebe999", "currencyCode": "USD"})
            })
            .collect::<Vec<_>>()
    })?;
    Ok(page_of(items, page, size))
}

async fn list_projects(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let (page, size) = paging(&q, MAX_PAGE_SIZE)?;
    // "If omitted, you'll get both archived and non-archived projects."
    let archived = opt_bool(&q, "archived")?;
    opt_bool(&q, "hydrated")?;
    let items = with_ws(&s, &ws, |w| {
        let client_name = |id: &Option<String>| {
            id.as_ref()
                .and_then(|id| w.clients.iter().find(|c| &c.id == id))
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        w.projects
            .iter()
            .filter(|p| archived.is_none_or(|a| a == p.archived))
            .map(|p| {
                json!({"id": p.id, "name": p.name, "workspaceId": w.id,
                       "clientId": p.client_id.clone().unwrap_or_default(), "clientName": client_name(&p.client_id),
                       "archived": p.archived, "billable": p.billable, "public": true, "template": false,
                       "color": "#03A9F4", "note": "", "duration": "PT0S", "memberships": [],
                       "hourlyRate": {"amount": 0, "currency": "USD"}, "costRate": null,
                       "estimate": {"estimate": "PT0S", "type": "AUTO"}, "budgetEstimate": null, "timeEstimate": null})
            })
            .collect::<Vec<_>>()
    })?;
    Ok(page_of(items, page, size))
}

async fn list_users(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let (page, size) = paging(&q, MAX_PAGE_SIZE)?;
    let status = q.get("status").cloned();
    if let Some(st) = &status {
        if !["PENDING", "ACTIVE", "DECLINED", "INACTIVE", "ALL"].contains(&st.as_str()) {
            return Err(bad_request("status: invalid value"));
        }
    }
    let memberships = q
        .get("memberships")
        .cloned()
        .unwrap_or_else(|| "NONE".into());
    if !["ALL", "NONE", "WORKSPACE", "PROJECT", "USERGROUP"].contains(&memberships.as_str()) {
        return Err(bad_request("memberships: invalid value"));
    }
    let with_ws_memberships = memberships == "WORKSPACE" || memberships == "ALL";
    let items = with_ws(&s, &ws, |w| {
        w.users
            .iter()
            .filter(|u| status.as_deref().is_none_or(|st| st == "ALL" || st == u.membership_status))
            .map(|u| {
                let ms = if with_ws_memberships {
                    json!([{"userId": u.id, "targetId": w.id, "membershipType": "WORKSPACE",
                            "membershipStatus": u.membership_status, "hourlyRate": null, "costRate": null}])
                } else {
                    json!([])
                };
                json!({"id": u.id, "name": u.name, "email": u.email, "status": "ACTIVE",
                       "activeWorkspace": w.id, "defaultWorkspace": w.id, "profilePicture": "",
                       "memberships": ms, "customFields": [],
                       "settings": {"timeZone": u.time_zone, "dateFormat": "MM/DD/YYYY", "timeFormat": "HOUR24",
                                    "weekStart": "MONDAY"}})
            })
            .collect::<Vec<_>>()
    })?;
    Ok(page_of(items, page, size))
}

/// `GET /v1/workspaces/{workspaceId}/user-groups`: `UserGroupDtoV1`s, paged as every
/// list, with the `name` (substring, any case) filter and the spec's sorting. The
/// simulator's groups belong to no project, so a `project-id` filter matches none; they
/// have no team managers either.
async fn list_user_groups(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let (page, size) = paging(&q, MAX_PAGE_SIZE)?;
    opt_bool(&q, "includeTeamManagers")?;
    let column = match q.get("sort-column").map(String::as_str) {
        None => None,
        Some(c @ ("ID" | "NAME")) => Some(c.to_owned()),
        Some(_) => return Err(bad_request("sort-column: invalid value")),
    };
    let descending = match q.get("sort-order").map(String::as_str) {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(_) => return Err(bad_request("sort-order: invalid value")),
    };
    let name = q.get("name").map(|n| n.to_lowercase());
    let in_no_project = q.get("project-id").is_some_and(|p| !p.is_empty());
    let items = with_ws(&s, &ws, |w| {
        let mut groups: Vec<&SimUserGroup> = w
            .user_groups
            .iter()
            .filter(|_| !in_no_project)
            .filter(|g| {
                name.as_ref()
                    .is_none_or(|n| g.name.to_lowercase().contains(n))
            })
            .collect();
        match column.as_deref() {
            Some("ID") => groups.sort_by(|a, b| a.id.cmp(&b.id)),
            Some(_) => groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id))),
            None => {}
        }
        if descending {
            groups.reverse();
        }
        groups
            .into_iter()
            .map(|g| {
                json!({"id": g.id, "name": g.name, "userIds": g.user_ids, "workspaceId": w.id,
                       "teamManagers": []})
            })
            .collect::<Vec<_>>()
    })?;
    Ok(page_of(items, page, size))
}

fn parse_utc_param(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, Response> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%SZ")
            .map(|n| Some(n.and_utc()))
            .map_err(|_| bad_request(format!("{name}: expected yyyy-MM-ddThh:mm:ssZ"))),
    }
}

fn iso_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out += &format!("{h}H");
    }
    if m > 0 {
        out += &format!("{m}M");
    }
    if s > 0 || (h == 0 && m == 0) {
        out += &format!("{s}S");
    }
    out
}

async fn user_time_entries(
    State(s): State<AppState>,
    Path((ws, user)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let (page, size) = paging(&q, MAX_PAGE_SIZE)?;
    let start = parse_utc_param(&q, "start")?;
    let end = parse_utc_param(&q, "end")?;
    let in_progress = opt_bool(&q, "in-progress")?;
    let items = with_ws(&s, &ws, |w| {
        if !w.users.iter().any(|u| u.id == user) {
            return Err(not_found("User"));
        }
        let mut entries: Vec<&SimTimeEntry> = w
            .time_entries
            .iter()
            .filter(|e| e.user_id == user)
            .filter(|e| start.is_none_or(|s| e.start >= s) && end.is_none_or(|x| e.start <= x))
            .filter(|e| in_progress.is_none_or(|running| running == e.end.is_none()))
            .collect();
        // Newest first, as Clockify lists them.
        entries.sort_by(|a, b| b.start.cmp(&a.start).then(b.id.cmp(&a.id)));
        // `TimeEntryWithRatesDtoV1`: the entry and its (unset) rates.
        Ok(entries
            .into_iter()
            .map(|e| {
                let mut v = entry_dto(e, &w.id);
                v["hourlyRate"] = Value::Null;
                v["costRate"] = Value::Null;
                v
            })
            .collect::<Vec<_>>())
    })??;
    Ok(page_of(items, page, size))
}

/// `DetailedReportFilterV1`, the parts the simulator reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportFilter {
    date_range_start: Option<String>,
    date_range_end: Option<String>,
    time_zone: Option<String>,
    export_type: Option<String>,
    detailed_filter: Option<DetailedFilter>,
    users: Option<ContainsFilter<UserStatus>>,
    projects: Option<ContainsFilter<ProjectStatus>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailedFilter {
    page: Option<i64>,
    page_size: Option<i64>,
    sort_column: Option<String>,
    options: Option<DetailedOptions>,
}

#[derive(Deserialize)]
struct DetailedOptions {
    totals: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ContainsType {
    Contains,
    DoesNotContain,
    ContainsOnly,
}

/// `ContainsUsersFilterV1.status`: the users' workspace membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum UserStatus {
    All,
    ActiveWithPending,
    Active,
    Pending,
    Inactive,
}

/// `ContainsArchivedFilterV1.status`: the projects' archived state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ProjectStatus {
    Active,
    Archived,
    All,
}

/// `ContainsUsersFilterV1` / `ContainsArchivedFilterV1`: no ids is no restriction by id;
/// an entry has one user and one project, so `CONTAINS_ONLY` is `CONTAINS` here.
#[derive(Deserialize)]
struct ContainsFilter<S> {
    ids: Option<Vec<String>>,
    contains: Option<ContainsType>,
    status: Option<S>,
}

impl<S: Copy> ContainsFilter<S> {
    fn check(&self, name: &str) -> Result<(), Response> {
        let ids = self.ids.as_deref().unwrap_or_default();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        if distinct.len() != ids.len() {
            return Err(bad_request(format!("{name}.ids: must be unique")));
        }
        Ok(())
    }

    /// Whether an entry of `id` passes; `status_ok` tells whether its user or project has
    /// the status asked for (an unknown one, or none, passes only `ALL`).
    fn admits(&self, id: Option<&str>, status_ok: impl FnOnce(S) -> bool) -> bool {
        let ids = self.ids.as_deref().unwrap_or_default();
        let listed = id.is_some_and(|i| ids.iter().any(|x| x == i));
        let by_id = ids.is_empty()
            || match self.contains.unwrap_or(ContainsType::Contains) {
                ContainsType::Contains | ContainsType::ContainsOnly => listed,
                ContainsType::DoesNotContain => !listed,
            };
        by_id && self.status.is_none_or(status_ok)
    }
}

fn user_has(status: UserStatus, user: Option<&SimUser>) -> bool {
    let m = user.map(|u| u.membership_status.as_str());
    match status {
        UserStatus::All => true,
        UserStatus::ActiveWithPending => matches!(m, Some("ACTIVE" | "PENDING")),
        UserStatus::Active => m == Some("ACTIVE"),
        UserStatus::Pending => m == Some("PENDING"),
        UserStatus::Inactive => m == Some("INACTIVE"),
    }
}

fn project_has(status: ProjectStatus, project: Option<&SimProject>) -> bool {
    match status {
        ProjectStatus::All => true,
        ProjectStatus::Active => project.is_some_and(|p| !p.archived),
        ProjectStatus::Archived => project.is_some_and(|p| p.archived),
    }
}

fn parse_report_time(v: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A report request once it has passed the checks.
struct ReportQuery {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    page: usize,
    size: usize,
    sort: String,
    with_totals: bool,
    users: Option<ContainsFilter<UserStatus>>,
    projects: Option<ContainsFilter<ProjectStatus>>,
}

const SORT_COLUMNS: [&str; 8] = [
    "ID",
    "DESCRIPTION",
    "USER",
    "DURATION",
    "DATE",
    "ZONED_DATE",
    "NATURAL",
    "USER_DATE",
];

/// Reads and checks a report body as Clockify does (the free plan's range limit too).
fn report_query(body: &[u8], plan: Plan) -> Result<ReportQuery, Response> {
    let Json(f): Json<ReportFilter> = Json::from_bytes(body)
        .map_err(|e| bad_request(format!("Malformed request body: {}", e.body_text())))?;
    let required = |v: &Option<String>, name: &str| {
        v.clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad_request(format!("{name}: must not be empty")))
    };
    let start_s = required(&f.date_range_start, "dateRangeStart")?;
    let end_s = required(&f.date_range_end, "dateRangeEnd")?;
    let detailed = f
        .detailed_filter
        .ok_or_else(|| bad_request("detailedFilter: must not be null"))?;
    let tz: Tz = match &f.time_zone {
        None => chrono_tz::UTC,
        Some(z) => z
            .parse()
            .map_err(|_| bad_request(format!("timeZone: unknown time zone {z}")))?,
    };
    if let Some(t) = &f.export_type {
        if !["JSON", "JSON_V1", "PDF", "CSV", "XLSX", "ZIP"].contains(&t.as_str()) {
            return Err(bad_request("exportType: invalid value"));
        }
    }
    let start = parse_report_time(&start_s, tz)
        .ok_or_else(|| bad_request("dateRangeStart: invalid date"))?;
    let end =
        parse_report_time(&end_s, tz).ok_or_else(|| bad_request("dateRangeEnd: invalid date"))?;
    if end < start {
        return Err(bad_request(
            "dateRangeEnd: must not be before dateRangeStart",
        ));
    }
    if plan == Plan::Free && (end - start).num_days() >= FREE_PLAN_REPORT_DAYS {
        return Err(bad_request("Detailed report data on FREE subscription plan is limited to a maximum interval length of one month (31 days)."));
    }
    let (page, size, sort) = report_paging(&detailed)?;
    if let Some(u) = &f.users {
        u.check("users")?;
    }
    if let Some(p) = &f.projects {
        p.check("projects")?;
    }
    Ok(ReportQuery {
        start,
        end,
        tz,
        page,
        size,
        sort,
        with_totals: detailed.options.and_then(|o| o.totals).as_deref() != Some("EXCLUDE"),
        users: f.users,
        projects: f.projects,
    })
}

/// `detailedFilter`'s page (from 1), page size (1..=1000) and sort column.
fn report_paging(d: &DetailedFilter) -> Result<(usize, usize, String), Response> {
    let page = d.page.unwrap_or(1);
    let size = d.page_size.unwrap_or(50);
    if page < 1 {
        return Err(bad_request(
            "detailedFilter.page: must be greater than or equal to 1",
        ));
    }
    if size < 1 || size > MAX_REPORT_PAGE_SIZE as i64 {
        return Err(bad_request(format!(
            "detailedFilter.pageSize: must be between 1 and {MAX_REPORT_PAGE_SIZE}"
        )));
    }
    let sort = d.sort_column.clone().unwrap_or_else(|| "DATE".into());
    if !SORT_COLUMNS.contains(&sort.as_str()) {
        return Err(bad_request("detailedFilter.sortColumn: invalid value"));
    }
    Ok((page as usize, size as usize, sort))
}

async fn detailed_report(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    body: axum::body::Bytes,
) -> Res {
    let (available, plan) = with_ws(&s, &ws, |w| (w.reports_available, w.plan))?;
    if !available {
        return Err(not_found("Report"));
    }
    let q = report_query(&body, plan)?;
    let body = with_ws(&s, &ws, |w| report_body(w, &q))?;
    Ok(json_response(200, &body))
}

/// `TimeEntryDetailedReportDto`: one page of the matching finished entries, and totals.
fn report_body(w: &WorkspaceData, q: &ReportQuery) -> Value {
    let users: HashMap<&str, &SimUser> = w.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let projects: HashMap<&str, &SimProject> =
        w.projects.iter().map(|p| (p.id.as_str(), p)).collect();
    let clients: HashMap<&str, &SimClient> = w.clients.iter().map(|c| (c.id.as_str(), c)).collect();
    let project_of = |e: &SimTimeEntry| e.project_id.as_deref().and_then(|p| projects.get(p));
    // The report leaves out running timers.
    let mut matching: Vec<(&SimTimeEntry, DateTime<Utc>)> = w
        .time_entries
        .iter()
        .filter_map(|e| e.end.map(|end| (e, end)))
        .filter(|(e, _)| e.start >= q.start && e.start <= q.end)
        .filter(|(e, _)| {
            q.users.as_ref().is_none_or(|f| {
                let user = users.get(e.user_id.as_str()).copied();
                f.admits(Some(&e.user_id), |st| user_has(st, user))
            })
        })
        .filter(|(e, _)| {
            q.projects.as_ref().is_none_or(|f| {
                let project = project_of(e).copied();
                f.admits(e.project_id.as_deref(), |st| project_has(st, project))
            })
        })
        .collect();
    match q.sort.as_str() {
        "ID" => matching.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        _ => matching.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(a.0.id.cmp(&b.0.id))),
    }
    let total_secs: i64 = matching
        .iter()
        .map(|(e, end)| (*end - e.start).num_seconds())
        .sum();
    let count = matching.len();
    let from = (q.page - 1).saturating_mul(q.size).min(count);
    let to = from.saturating_add(q.size).min(count);
    let entries: Vec<Value> = matching[from..to]
        .iter()
        .map(|(e, end)| {
            let end = *end;
            let user = users.get(e.user_id.as_str());
            let project = project_of(e);
            let client = project.and_then(|p| p.client_id.as_deref()).and_then(|c| clients.get(c));
            let zoned = |t: DateTime<Utc>| t.with_timezone(&q.tz).to_rfc3339();
            json!({"_id": e.id, "description": e.description, "userId": e.user_id,
                   "userName": user.map(|u| u.name.clone()), "userEmail": user.map(|u| u.email.clone()),
                   "projectId": e.project_id, "projectName": project.map(|p| p.name.clone()),
                   "projectColor": "#03A9F4", "clientId": project.and_then(|p| p.client_id.clone()),
                   "clientName": client.map(|c| c.name.clone()), "taskId": null, "taskName": null,
                   "billable": e.billable, "locked": false, "approvalRequestId": null, "tags": [],
                   "amount": 0, "rate": 0, "type": "REGULAR",
                   "timeInterval": {"start": zoned(e.start), "end": zoned(end),
                                    "duration": (end - e.start).num_seconds()}})
        })
        .collect();
    let totals = if q.with_totals {
        json!([{ "_id": "", "totalTime": total_secs, "entriesCount": count }])
    } else {
        json!([])
    };
    json!({ "timeentries": entries, "totals": totals })
}
