//! A Runn API simulator: the endpoints the integration uses at the spec's exact paths
//! (trailing slashes included), bearer-token auth, the required `accept-version` header,
//! cursor paging with each endpoint's `limit` bounds, bulk limits, request bodies checked
//! against the official JSON schemas, the per-token rate limit with its headers, and faults.
//! Every timestamp it writes comes from a settable clock ([`SimClock`], `PUT /__sim/clock`),
//! and every list takes `modifiedAfter`, filtering on `updatedAt`.

use crate::common::{self, header, json_response, set_header, Control};
use crate::schema::schemas;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

pub const ACCEPT_VERSION: &str = "1.0.0";

/// All records, kept as the JSON the API returns.
#[derive(Clone, Debug, Default)]
pub struct RunnData {
    pub tokens: Vec<String>,
    next_id: i64,
    pub clients: BTreeMap<i64, Value>,
    pub projects: BTreeMap<i64, Value>,
    pub project_tags: BTreeMap<i64, Value>,
    pub people: BTreeMap<i64, Value>,
    pub contracts: BTreeMap<i64, Value>,
    pub roles: BTreeMap<i64, Value>,
    pub actuals: BTreeMap<i64, Value>,
    pub assignments: BTreeMap<i64, Value>,
    /// Actuals by their upsert key (date, person, project, role, workstream), so upserts
    /// stay quick with a hundred thousand of them; rebuilt when out of step.
    actual_ids: HashMap<(String, i64, i64, i64, Option<i64>), i64>,
    /// Projects whose timesheets are locked: actuals for them are refused with 400.
    pub locked_projects: std::collections::BTreeSet<i64>,
    /// Where every `createdAt`/`updatedAt` and every "today" comes from.
    pub clock: SimClock,
}

impl RunnData {
    pub fn new(tokens: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            tokens: tokens.into_iter().map(Into::into).collect(),
            next_id: 1,
            ..Default::default()
        }
    }
    fn id(&mut self) -> i64 {
        self.next_id = self.next_id.max(1);
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// The simulator's clock: real time plus an offset (in milliseconds) a test controls, so
/// a "next day" can come without waiting for it. Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct SimClock {
    offset_ms: Arc<AtomicI64>,
}

impl SimClock {
    /// Offsets are kept within about a thousand years either way, so `now` always exists.
    const MAX_OFFSET_MS: i64 = 1000 * 366 * 24 * 3_600_000;

    /// The simulator's now: real time plus the offset.
    pub fn now(&self) -> DateTime<Utc> {
        let real = Utc::now();
        real.checked_add_signed(chrono::Duration::milliseconds(self.offset_ms()))
            .unwrap_or(real)
    }
    /// The simulator's date in UTC.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.advance_ms(by);
    }
    /// Moves the clock by `ms` milliseconds (negative: back).
    pub fn advance_ms(&self, ms: i64) {
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| {
                Some(Self::clamp(o.saturating_add(ms)))
            });
    }
    /// Sets the offset from real time, in milliseconds.
    pub fn set_offset_ms(&self, ms: i64) {
        self.offset_ms.store(Self::clamp(ms), Ordering::SeqCst);
    }
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
    /// `now` as the API writes timestamps (`2025-05-01T08:00:00.000Z`).
    fn stamp(&self) -> String {
        self.now().to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    fn clamp(ms: i64) -> i64 {
        ms.clamp(-Self::MAX_OFFSET_MS, Self::MAX_OFFSET_MS)
    }
    /// What `GET`/`PUT /__sim/clock` answer.
    fn state(&self) -> Value {
        json!({"now": self.stamp(), "offset_ms": self.offset_ms()})
    }
}

/// The body of `PUT /__sim/clock`: set the offset, then advance by `advance_ms` (either or
/// both; milliseconds, negative allowed).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    #[serde(default)]
    offset_ms: Option<i64>,
    #[serde(default)]
    advance_ms: Option<i64>,
}

/// `GET /__sim/clock` (the simulator's now and offset) and `PUT /__sim/clock` (change it),
/// for a simulator run as a binary.
pub fn clock_routes(data: Arc<Mutex<RunnData>>) -> Router {
    async fn show(State(d): State<Arc<Mutex<RunnData>>>) -> Response {
        let clock = d.lock().unwrap().clock.clone();
        json_response(200, &clock.state())
    }
    async fn change(State(d): State<Arc<Mutex<RunnData>>>, body: Bytes) -> Response {
        let change: ClockChange = match serde_json::from_slice(&body) {
            Ok(c) => c,
            Err(e) => return err(400, format!("clock change: {e}")),
        };
        if change.offset_ms.is_none() && change.advance_ms.is_none() {
            return err(400, "clock change: give offset_ms or advance_ms");
        }
        let clock = d.lock().unwrap().clock.clone();
        if let Some(o) = change.offset_ms {
            clock.set_offset_ms(o);
        }
        if let Some(a) = change.advance_ms {
            clock.advance_ms(a);
        }
        json_response(200, &clock.state())
    }
    Router::new()
        .route("/__sim/clock", get(show).put(change))
        .with_state(data)
}

#[derive(Clone)]
struct AppState {
    data: Arc<Mutex<RunnData>>,
    ctl: Arc<Control>,
    validate_responses: bool,
}

pub fn error_body(status: u16) -> Value {
    let (error, message) = match status {
        400 => ("Bad Request", "Bad Request"),
        401 => ("Unauthorized", "Unauthorized"),
        404 => ("Not Found", "Not Found"),
        409 => ("Conflict", "Conflict"),
        422 => ("Unprocessable Entity", "Unprocessable Entity"),
        429 => ("Too Many Requests", "Rate limit exceeded"),
        502 => ("Bad Gateway", "Bad Gateway"),
        503 => ("Service Unavailable", "Service Unavailable"),
        504 => ("Gateway Timeout", "Gateway Timeout"),
        _ => ("Internal Server Error", "Internal Server Error"),
    };
    json!({ "error": error, "message": message, "statusCode": status })
}

fn err(status: u16, message: impl Into<String>) -> Response {
    let mut body = error_body(status);
    body["message"] = Value::String(message.into());
    json_response(status, &body)
}

type Res = Result<Response, Response>;

pub struct RunnSim {
    pub data: Arc<Mutex<RunnData>>,
    pub ctl: Arc<Control>,
    /// Check every answer against the spec's schema (a 500 if the simulator drifts).
    pub validate_responses: bool,
}

impl RunnSim {
    pub fn new(data: RunnData) -> Self {
        let ctl = Control::new(11, error_body);
        ctl.set_retry_after(true);
        Self {
            data: Arc::new(Mutex::new(data)),
            ctl,
            validate_responses: true,
        }
    }

    /// Runn's documented rate: 120 requests a minute per token.
    pub fn with_default_rate_limit(self) -> Self {
        self.ctl.set_rate_limit(Some(common::ServerRateLimit {
            requests: 120,
            per: std::time::Duration::from_secs(60),
        }));
        self
    }

    pub fn router(&self) -> Router {
        let st = AppState {
            data: self.data.clone(),
            ctl: self.ctl.clone(),
            validate_responses: self.validate_responses,
        };
        Router::new()
            .route(
                "/me/",
                get(|State(s): State<AppState>| async move {
                    reply(
                        &s,
                        200,
                        "inline:GET /me/ 200",
                        json!({"name": "Simulated Admin"}),
                    )
                }),
            )
            .route("/clients/", get(list_clients).post(create_client))
            .route("/clients/bulk/", post(create_clients_bulk))
            .route("/clients/{clientId}", get(get_client).patch(patch_client))
            .route("/projects/", get(list_projects).post(create_project))
            .route(
                "/projects/{projectId}",
                get(get_project).patch(patch_project),
            )
            .route(
                "/projects/{projectId}/",
                axum::routing::delete(delete_project),
            )
            .route(
                "/project-tags/",
                get(list_project_tags).post(create_project_tag),
            )
            .route(
                "/project-tags/{projectTagId}/project/{projectId}",
                post(add_tag_to_project),
            )
            .route("/people/", get(list_people).post(create_person))
            .route("/people/contracts/current", get(list_current_contracts))
            .route(
                "/people/{personId}",
                get(get_person).patch(patch_person).delete(delete_person),
            )
            .route(
                "/people/{personId}/contracts/current",
                get(get_current_contract),
            )
            .route("/roles/", get(list_roles).post(create_role))
            .route("/actuals/", get(list_actuals).post(create_actual))
            .route("/actuals/bulk/", post(create_actuals_bulk))
            .route("/actuals/{actualId}/", axum::routing::delete(delete_actual))
            .route(
                "/assignments/",
                get(list_assignments).post(create_assignment),
            )
            .route(
                "/assignments/{assignmentId}/",
                axum::routing::delete(delete_assignment),
            )
            .route("/contracts/", get(list_contracts))
            .route(
                "/contracts/{contractId}",
                axum::routing::patch(patch_contract),
            )
            .layer(middleware::from_fn_with_state(
                st.clone(),
                auth_version_rate,
            ))
            .with_state(st)
            .layer(middleware::from_fn_with_state(
                self.ctl.clone(),
                common::observe,
            ))
            .merge(common::admin_routes(self.ctl.clone()))
            .merge(clock_routes(self.data.clone()))
    }

    /// The simulator's clock (shared: changing the returned one changes the simulator's).
    pub fn clock(&self) -> SimClock {
        self.data.lock().unwrap().clock.clone()
    }
    /// The simulator's now: what the next `createdAt`/`updatedAt` it writes will be near.
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock().now()
    }
    /// Moves the simulator's clock forward (e.g. 24 hours for a next-day run).
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.clock().advance(by);
    }
    /// Sets the simulator's clock to real time plus `ms` milliseconds.
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.clock().set_offset_ms(ms);
    }
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock().offset_ms()
    }

    /// Gives a person `role` (created if need be) on every contract, as a Runn user does
    /// when fixing the "Unknown" roles; returns the role's id.
    pub fn give_role(&self, person: i64, role: &str) -> i64 {
        let mut d = self.data.lock().unwrap();
        let existing = d
            .roles
            .values()
            .find(|r| r["name"] == role)
            .and_then(|r| r["id"].as_i64());
        let role_id = existing.unwrap_or_else(|| {
            let id = d.id();
            let now = d.clock.stamp();
            d.roles.insert(
                id,
                json!({"id": id, "name": role, "isArchived": false,
                "defaultHourCost": 0, "standardRate": 0, "references": [], "personIds": [],
                "createdAt": now, "updatedAt": now}),
            );
            id
        });
        let now = d.clock.stamp();
        for c in d.contracts.values_mut() {
            if c["personId"].as_i64() == Some(person) {
                c["roleId"] = json!(role_id);
                c["updatedAt"] = json!(now);
            }
        }
        role_id
    }

    /// Plans a person on a project (as `POST /assignments/` would); returns its id.
    pub fn add_assignment(
        &self,
        person: i64,
        project: i64,
        role: i64,
        start: NaiveDate,
        end: NaiveDate,
        minutes_per_day: i64,
    ) -> i64 {
        let mut d = self.data.lock().unwrap();
        let id = d.id();
        let now = d.clock.stamp();
        d.assignments.insert(
            id,
            json!({"id": id, "personId": person, "startDate": start.to_string(),
            "endDate": end.to_string(), "projectId": project, "minutesPerDay": minutes_per_day,
            "roleId": role, "isActive": true, "note": null, "isBillable": true, "phaseId": null,
            "isNonWorkingDay": false, "isTemplate": false, "isPlaceholder": false,
            "workstreamId": null, "createdAt": now, "updatedAt": now}),
        );
        id
    }

    /// The Runn id of the record carrying a Clockify id.
    pub fn id_of(&self, kind: Kind, clockify_id: &str) -> Option<i64> {
        let mut d = self.data.lock().unwrap();
        kind.table(&mut d)
            .values()
            .find(|v| {
                v["references"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r["externalId"] == clockify_id))
            })
            .and_then(|v| v["id"].as_i64())
    }

    /// Minutes (billable, non-billable) Runn holds for a person, project and day, over
    /// every role.
    pub fn minutes(&self, person: i64, project: i64, date: NaiveDate) -> (i64, i64) {
        let d = self.data.lock().unwrap();
        d.actuals
            .values()
            .filter(|a| {
                a["personId"].as_i64() == Some(person)
                    && a["projectId"].as_i64() == Some(project)
                    && a["date"] == date.to_string()
            })
            .fold((0, 0), |(b, nb), a| {
                (
                    b + a["billableMinutes"].as_f64().unwrap_or(0.0) as i64,
                    nb + a["nonbillableMinutes"].as_f64().unwrap_or(0.0) as i64,
                )
            })
    }

    /// Changes an assignment's role, as a person does in Runn's planner (the API has no
    /// PATCH for assignments).
    pub fn set_assignment_role(&self, assignment: i64, role: i64) {
        let mut d = self.data.lock().unwrap();
        let now = d.clock.stamp();
        if let Some(a) = d.assignments.get_mut(&assignment) {
            a["roleId"] = json!(role);
            a["updatedAt"] = json!(now);
        }
    }

    pub async fn spawn(&self) -> std::io::Result<common::Running> {
        common::serve(self.router(), 0).await
    }

    /// Seeds a record directly (as if a Runn user had made it), returning its id.
    pub fn seed(&self, kind: Kind, record: Value) -> i64 {
        let mut d = self.data.lock().unwrap();
        let id = d.id();
        let mut r = record;
        r["id"] = json!(id);
        let now = d.clock.stamp();
        r.as_object_mut()
            .unwrap()
            .entry("createdAt")
            .or_insert(json!(now));
        r.as_object_mut()
            .unwrap()
            .entry("updatedAt")
            .or_insert(json!(now));
        kind.table(&mut d).insert(id, r);
        id
    }
}

/// The record kinds, for seeding and inspection.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Client,
    Project,
    ProjectTag,
    Person,
    Contract,
    Role,
    Actual,
    Assignment,
}

impl Kind {
    pub fn table(self, d: &mut RunnData) -> &mut BTreeMap<i64, Value> {
        match self {
            Kind::Client => &mut d.clients,
            Kind::Project => &mut d.projects,
            Kind::ProjectTag => &mut d.project_tags,
            Kind::Person => &mut d.people,
            Kind::Contract => &mut d.contracts,
            Kind::Role => &mut d.roles,
            Kind::Actual => &mut d.actuals,
            Kind::Assignment => &mut d.assignments,
        }
    }
}

async fn auth_version_rate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let token = header(req.headers(), "authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    if !s.data.lock().unwrap().tokens.iter().any(|t| t == &token) {
        return json_response(401, &error_body(401));
    }
    match header(req.headers(), "accept-version") {
        None => return err(400, "headers must have required property 'accept-version'"),
        Some(v) if v != ACCEPT_VERSION => {
            return err(
                400,
                "headers/accept-version must be equal to one of the allowed values",
            )
        }
        Some(_) => {}
    }
    let (mut resp, info) = match s.ctl.take_token(&token) {
        Ok(info) => (next.run(req).await, info),
        Err(info) => {
            let mut r = err(
                429,
                format!("Rate limit exceeded, retry in {} seconds", info.reset_secs),
            );
            if s.ctl.announces_retry_after() {
                set_header(&mut r, "retry-after", info.reset_secs);
            }
            (r, info)
        }
    };
    if info.limit != u32::MAX {
        set_header(&mut resp, "x-ratelimit-limit", info.limit);
        set_header(&mut resp, "x-ratelimit-remaining", info.remaining);
        set_header(&mut resp, "x-ratelimit-reset", info.reset_secs);
    }
    resp
}

/// Answers, checking the body against its schema first when so configured.
fn reply(s: &AppState, status: u16, schema: &str, body: Value) -> Response {
    if s.validate_responses && schemas().has(schema) {
        if let Err(e) = schemas().check(schema, &body, "response") {
            tracing::error!(schema, error = %e, "simulator answer breaks the spec");
            return err(
                500,
                format!("simulator answer breaks the spec ({schema}): {e}"),
            );
        }
    }
    json_response(status, &body)
}

/// Parses a JSON body and checks it against the spec's schema.
fn body_of(bytes: &Bytes, schema: &str, required: bool) -> Result<Value, Response> {
    if bytes.is_empty() {
        if required {
            return Err(err(400, "body must be object"));
        }
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| err(400, format!("Body is not valid JSON: {e}")))?;
    schemas()
        .check(schema, &v, "body")
        .map_err(|m| err(400, m))?;
    Ok(v)
}

/// A list request's query: checked like the spec's parameters, then paged by cursor.
struct ListQuery {
    q: HashMap<String, String>,
    limit: usize,
    desc: bool,
    after: Option<i64>,
    /// `modifiedAfter`: only records whose `updatedAt` is strictly later.
    modified_after: Option<DateTime<Utc>>,
}

/// A `modifiedAfter` value: `YYYY-MM-DD` (that day's 00:00:00Z) or a date-time
/// (`YYYY-MM-DDTHH:MM:SSZ`; fractional seconds and offsets as RFC 3339 allows).
fn parse_modified_after(v: &str) -> Option<DateTime<Utc>> {
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() == 10 {
        if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
            return None;
        }
        return NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN).and_utc());
    }
    if b.len() < 20 || !(b[10] == b'T' || b[10] == b't') {
        return None;
    }
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// When a record was last modified, from its `updatedAt`.
fn updated_at(v: &Value) -> Option<DateTime<Utc>> {
    v["updatedAt"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn list_query(
    q: HashMap<String, String>,
    default_limit: usize,
    max_limit: usize,
) -> Result<ListQuery, Response> {
    let limit = match q.get("limit") {
        None => default_limit,
        Some(l) => {
            let n: i64 = l
                .parse()
                .map_err(|_| err(400, "querystring/limit must be integer"))?;
            if n < 1 {
                return Err(err(400, "querystring/limit must be >= 1"));
            }
            if n > max_limit as i64 {
                return Err(err(
                    400,
                    format!("querystring/limit must be <= {max_limit}"),
                ));
            }
            n as usize
        }
    };
    if let Some(s) = q.get("sortBy") {
        if !["id", "createdAt", "updatedAt"].contains(&s.as_str()) {
            return Err(err(
                400,
                "querystring/sortBy must be equal to one of the allowed values",
            ));
        }
    }
    let desc = match q.get("order").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(err(
                400,
                "querystring/order must be equal to one of the allowed values",
            ))
        }
    };
    let after = match q.get("cursor") {
        None => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| err(400, "Invalid cursor"))?),
    };
    for name in ["includeArchived", "includePlaceholders"] {
        if let Some(v) = q.get(name) {
            if v != "true" && v != "false" {
                return Err(err(400, format!("querystring/{name} must be boolean")));
            }
        }
    }
    for name in ["minDate", "maxDate", "startDate", "endDate"] {
        if let Some(v) = q.get(name) {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                err(
                    400,
                    format!("querystring/{name} must match format \"date\""),
                )
            })?;
        }
    }
    for name in ["personId", "projectId", "roleId", "workstreamId"] {
        if let Some(v) = q.get(name) {
            v.parse::<i64>()
                .map_err(|_| err(400, format!("querystring/{name} must be integer")))?;
        }
    }
    let modified_after = match q.get("modifiedAfter") {
        None => None,
        Some(v) => Some(parse_modified_after(v).ok_or_else(|| {
            err(
                400,
                "querystring/modifiedAfter must match format \"date\" or \"date-time\" \
                 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
            )
        })?),
    };
    Ok(ListQuery {
        q,
        limit,
        desc,
        after,
        modified_after,
    })
}

impl ListQuery {
    fn get(&self, k: &str) -> Option<&str> {
        self.q.get(k).map(String::as_str)
    }
    fn flag(&self, k: &str, default: bool) -> bool {
        self.get(k).map(|v| v == "true").unwrap_or(default)
    }
    fn int(&self, k: &str) -> Option<i64> {
        self.get(k).and_then(|v| v.parse().ok())
    }
    fn date(&self, k: &str) -> Option<NaiveDate> {
        self.get(k)
            .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
    }

    /// One page of `items` (already filtered), ordered by id.
    fn page(&self, s: &AppState, schema: &str, items: Vec<Value>) -> Response {
        self.page_of(s, schema, items.iter())
    }

    /// A page of `items` modified after `modifiedAfter` (when given), cloning only the
    /// page (lists of 100,000 actuals stay quick).
    fn page_of<'a>(
        &self,
        s: &AppState,
        schema: &str,
        items: impl Iterator<Item = &'a Value>,
    ) -> Response {
        let mut items: Vec<&Value> = items
            .filter(|v| {
                let id = v["id"].as_i64().unwrap_or(0);
                self.after
                    .is_none_or(|a| if self.desc { id < a } else { id > a })
            })
            .filter(|v| {
                self.modified_after
                    .is_none_or(|m| updated_at(v).is_some_and(|u| u > m))
            })
            .collect();
        items.sort_by_key(|v| v["id"].as_i64().unwrap_or(0));
        if self.desc {
            items.reverse();
        }
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let items: Vec<Value> = items.into_iter().cloned().collect();
        let next = if more {
            items
                .last()
                .map(|v| json!(encode_cursor(v["id"].as_i64().unwrap_or(0))))
        } else {
            None
        };
        reply(
            s,
            200,
            schema,
            json!({ "values": items, "nextCursor": next.unwrap_or(Value::Null) }),
        )
    }
}

fn encode_cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(c: &str) -> Option<i64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("id:")?
        .parse()
        .ok()
}

fn contains_ci(hay: &Value, needle: Option<&str>) -> bool {
    needle.is_none_or(|n| {
        hay.as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains(&n.to_lowercase())
    })
}

fn has_external_id(v: &Value, external: Option<&str>) -> bool {
    external.is_none_or(|x| {
        v["references"]
            .as_array()
            .is_some_and(|refs| refs.iter().any(|r| r["externalId"] == x))
    })
}

fn path_id(raw: &str, name: &str) -> Result<i64, Response> {
    raw.parse()
        .map_err(|_| err(400, format!("params/{name} must be integer")))
}

/// Writes `patch` over `target`, stamping `updatedAt` with `now`.
fn merge(target: &mut Value, patch: &Value, now: &str) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
    target["updatedAt"] = json!(now);
}

// ---- clients -------------------------------------------------------------------------

fn new_client(d: &mut RunnData, input: &Value) -> Value {
    let id = d.id();
    let now = d.clock.stamp();
    let c = json!({"id": id, "name": input["name"], "website": input.get("website").cloned().unwrap_or(Value::Null),
                   "isArchived": false, "references": input.get("references").cloned().unwrap_or(json!([])),
                   "createdAt": now, "updatedAt": now});
    d.clients.insert(id, c.clone());
    c
}

async fn list_clients(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Res {
    let lq = list_query(q, 50, 200)?;
    let items = s
        .data
        .lock()
        .unwrap()
        .clients
        .values()
        .filter(|c| contains_ci(&c["name"], lq.get("name")))
        .cloned()
        .collect();
    Ok(lq.page(&s, "inline:GET /clients/ 200", items))
}

async fn create_client(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "ClientInput", false)?;
    if input.get("name").is_none() {
        return Err(err(400, "body must have required property 'name'"));
    }
    let c = new_client(&mut s.data.lock().unwrap(), &input);
    Ok(reply(&s, 201, "Client", c))
}

async fn create_clients_bulk(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /clients/bulk/ requestBody", true)?;
    let mut d = s.data.lock().unwrap();
    let created: Vec<Value> = input["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| new_client(&mut d, c))
        .collect();
    drop(d);
    Ok(reply(
        &s,
        200,
        "inline:POST /clients/bulk/ 200",
        Value::Array(created),
    ))
}

async fn get_client(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "clientId")?;
    let c = s
        .data
        .lock()
        .unwrap()
        .clients
        .get(&id)
        .cloned()
        .ok_or_else(|| err(404, "Client not found"))?;
    Ok(reply(&s, 200, "Client", c))
}

async fn patch_client(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Res {
    let id = path_id(&id, "clientId")?;
    let patch = body_of(&body, "inline:PATCH /clients/{clientId} requestBody", false)?;
    let mut d = s.data.lock().unwrap();
    let now = d.clock.stamp();
    let c = d
        .clients
        .get_mut(&id)
        .ok_or_else(|| err(404, "Client not found"))?;
    merge(c, &patch, &now);
    let c = c.clone();
    drop(d);
    Ok(reply(&s, 200, "Client", c))
}

// ---- projects ------------------------------------------------------------------------

fn project_view(d: &RunnData, p: &Value) -> Value {
    let id = p["id"].as_i64().unwrap_or(0);
    let mut v = p.clone();
    let tags: Vec<Value> = d
        .project_tags
        .values()
        .filter(|t| {
            t["projectIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|x| x.as_i64() == Some(id)))
        })
        .map(|t| json!({"id": t["id"], "name": t["name"]}))
        .collect();
    v["tags"] = Value::Array(tags);
    v
}

async fn list_projects(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Res {
    let lq = list_query(q, 50, 200)?;
    let include_archived = lq.flag("includeArchived", true);
    let d = s.data.lock().unwrap();
    let items = d
        .projects
        .values()
        .filter(|p| include_archived || p["isArchived"] == false)
        .filter(|p| {
            has_external_id(p, lq.get("externalId")) && contains_ci(&p["name"], lq.get("name"))
        })
        .map(|p| project_view(&d, p))
        .collect();
    drop(d);
    Ok(lq.page(&s, "inline:GET /projects/ 200", items))
}

async fn create_project(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /projects/ requestBody", false)?;
    if input.get("fromTemplate").is_some() {
        return Err(err(400, "Creating from a template is not simulated"));
    }
    if input.get("name").is_none() || input.get("clientId").is_none() {
        return Err(err(
            400,
            "body must have required property 'name' and 'clientId'",
        ));
    }
    let mut d = s.data.lock().unwrap();
    let client_id = input["clientId"].as_f64().unwrap_or(-1.0) as i64;
    if !d.clients.contains_key(&client_id) {
        return Err(err(
            400,
            format!("Client with id {client_id} does not exist"),
        ));
    }
    let id = d.id();
    let now = d.clock.stamp();
    let p = json!({"id": id, "name": input["name"], "isTemplate": input.get("isTemplate").cloned().unwrap_or(json!(false)),
        "isArchived": false, "isConfirmed": input.get("isConfirmed").cloned().unwrap_or(json!(true)),
        "pricingModel": input.get("pricingModel").cloned().unwrap_or(json!("tm")),
        "rateType": input.get("rateType").cloned().unwrap_or(json!("hours")),
        "teamId": input.get("teamId").cloned().unwrap_or(Value::Null),
        "budget": input.get("budget").cloned().unwrap_or(Value::Null),
        "expensesBudget": input.get("expensesBudget").cloned().unwrap_or(Value::Null),
        "references": input.get("references").cloned().unwrap_or(json!([])),
        "clientId": client_id, "rateCardId": input.get("rateCardId").cloned().unwrap_or(json!(1)),
        "customFields": {"select": [], "text": [], "checkbox": [], "date": []},
        "managerIds": input.get("managerIds").cloned().unwrap_or(json!([])), "tags": [],
        "createdAt": now, "updatedAt": now});
    d.projects.insert(id, p.clone());
    drop(d);
    Ok(reply(&s, 201, "Project", p))
}

async fn get_project(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "projectId")?;
    let d = s.data.lock().unwrap();
    let p = d
        .projects
        .get(&id)
        .map(|p| project_view(&d, p))
        .ok_or_else(|| err(404, "Project not found"))?;
    drop(d);
    Ok(reply(&s, 200, "Project", p))
}

async fn patch_project(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Res {
    let id = path_id(&id, "projectId")?;
    let mut patch = body_of(
        &body,
        "inline:PATCH /projects/{projectId} requestBody",
        false,
    )?;
    let mut d = s.data.lock().unwrap();
    let now = d.clock.stamp();
    if !d.projects.contains_key(&id) {
        return Err(err(404, "Project not found"));
    }
    // Tags are stored on the tag (`projectIds`); a PATCH with `tags` replaces the set.
    if let Some(tags) = patch.as_object_mut().and_then(|m| m.remove("tags")) {
        let wanted: Vec<i64> = tags
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["id"].as_i64())
            .collect();
        for (tid, tag) in d.project_tags.iter_mut() {
            let ids = tag["projectIds"].as_array_mut().unwrap();
            ids.retain(|x| x.as_i64() != Some(id));
            if wanted.contains(tid) {
                ids.push(json!(id));
            }
        }
    }
    let p = d.projects.get_mut(&id).unwrap();
    merge(p, &patch, &now);
    let p = project_view(&d, &d.projects[&id].clone());
    drop(d);
    Ok(reply(&s, 200, "Project", p))
}

async fn delete_project(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "projectId")?;
    let mut d = s.data.lock().unwrap();
    if !d.projects.contains_key(&id) {
        return Err(err(404, "Project not found"));
    }
    let used = d
        .actuals
        .values()
        .chain(d.assignments.values())
        .any(|a| a["projectId"].as_i64() == Some(id));
    if used {
        return Err(err(
            409,
            "You cannot delete a project that has any actuals or assignments",
        ));
    }
    d.projects.remove(&id);
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

// ---- project tags ----------------------------------------------------------------------

async fn list_project_tags(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let lq = list_query(q, 50, 200)?;
    let include_archived = lq.flag("includeArchived", false);
    let items = s
        .data
        .lock()
        .unwrap()
        .project_tags
        .values()
        .filter(|t| include_archived || t["archived"] == false)
        .cloned()
        .collect();
    Ok(lq.page(&s, "inline:GET /project-tags/ 200", items))
}

async fn create_project_tag(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /project-tags/ requestBody", true)?;
    let mut d = s.data.lock().unwrap();
    let id = d.id();
    let now = d.clock.stamp();
    let t = json!({"id": id, "name": input["name"], "projectIds": [], "archived": false, "createdAt": now, "updatedAt": now});
    d.project_tags.insert(id, t.clone());
    drop(d);
    Ok(reply(&s, 201, "ProjectTag", t))
}

async fn add_tag_to_project(
    State(s): State<AppState>,
    Path((tag, project)): Path<(String, String)>,
) -> Res {
    let tag = path_id(&tag, "projectTagId")?;
    let project = path_id(&project, "projectId")?;
    let mut d = s.data.lock().unwrap();
    let now = d.clock.stamp();
    if !d.projects.contains_key(&project) {
        return Err(err(404, "Project not found"));
    }
    let t = d
        .project_tags
        .get_mut(&tag)
        .ok_or_else(|| err(404, "Project tag not found"))?;
    let ids = t["projectIds"].as_array_mut().unwrap();
    if !ids.iter().any(|x| x.as_i64() == Some(project)) {
        ids.push(json!(project));
    }
    t["updatedAt"] = json!(now);
    let t = t.clone();
    // The project carries its tags too (api-facts: "a project's tags come back on it").
    if let Some(p) = d.projects.get_mut(&project) {
        let tags = p["tags"].as_array_mut().unwrap();
        if !tags.iter().any(|x| x["id"].as_i64() == Some(tag)) {
            tags.push(json!({"id": tag, "name": t["name"]}));
        }
    }
    drop(d);
    Ok(reply(&s, 201, "ProjectTag", t))
}

// ---- people, contracts, roles ----------------------------------------------------------

const COLLECTION_PERSON_FIELDS: [&str; 12] = [
    "id",
    "firstName",
    "lastName",
    "email",
    "isArchived",
    "teamId",
    "references",
    "tags",
    "holidaysGroupId",
    "managers",
    "createdAt",
    "updatedAt",
];

fn collection_person(p: &Value) -> Value {
    let m: Map<String, Value> = COLLECTION_PERSON_FIELDS
        .iter()
        .map(|k| (k.to_string(), p.get(*k).cloned().unwrap_or(Value::Null)))
        .collect();
    Value::Object(m)
}

async fn list_people(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Res {
    let lq = list_query(q, 50, 200)?;
    let items = s
        .data
        .lock()
        .unwrap()
        .people
        .values()
        .filter(|p| has_external_id(p, lq.get("externalId")))
        .filter(|p| contains_ci(&p["email"], lq.get("email")))
        .filter(|p| {
            contains_ci(&p["firstName"], lq.get("firstName"))
                && contains_ci(&p["lastName"], lq.get("lastName"))
        })
        .map(collection_person)
        .collect();
    Ok(lq.page(&s, "inline:GET /people/ 200", items))
}

fn new_contract(d: &mut RunnData, person: i64, role: i64, start: &Value, input: &Value) -> Value {
    let id = d.id();
    let now = d.clock.stamp();
    let mpd = input.get("minutesPerDay").cloned().unwrap_or(json!(480));
    let c = json!({"id": id, "costPerHour": input.get("costPerHour").cloned().unwrap_or(Value::Null),
        "employmentType": input.get("employmentType").cloned().unwrap_or(json!("employee")),
        "minutesPerDay": mpd,
        "rosteredDays": input.get("rosteredDays").cloned().unwrap_or(json!({"monday": mpd, "tuesday": mpd, "wednesday": mpd, "thursday": mpd, "friday": mpd})),
        "startDate": start, "endDate": input.get("endDate").cloned().unwrap_or(Value::Null),
        "roleId": role, "personId": person, "jobTitle": input.get("jobTitle").cloned().unwrap_or(Value::Null),
        "createdAt": now, "updatedAt": now});
    d.contracts.insert(id, c.clone());
    c
}

async fn create_person(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /people/ requestBody", true)?;
    let mut d = s.data.lock().unwrap();
    let role = input["roleId"].as_i64().unwrap_or(-1);
    if !d.roles.contains_key(&role) {
        return Err(err(400, format!("Role with id {role} does not exist")));
    }
    let id = d.id();
    let now = d.clock.stamp();
    let p = json!({"id": id, "firstName": input["firstName"], "lastName": input["lastName"],
        "email": input.get("email").cloned().unwrap_or(Value::Null), "isArchived": false,
        "references": input.get("references").cloned().unwrap_or(json!([])), "notes": [],
        "teamId": Value::Null, "tags": [], "skills": [],
        "holidaysGroupId": input.get("holidaysGroupId").cloned().unwrap_or(Value::Null),
        "customFields": {"select": [], "text": [], "checkbox": [], "date": []}, "managers": [],
        "createdAt": now, "updatedAt": now});
    d.people.insert(id, p.clone());
    let start = input
        .get("startDate")
        .cloned()
        .unwrap_or_else(|| json!(d.clock.today().to_string()));
    new_contract(&mut d, id, role, &start, &input);
    if let Some(r) = d.roles.get_mut(&role) {
        r["personIds"].as_array_mut().unwrap().push(json!(id));
    }
    drop(d);
    Ok(reply(&s, 201, "Person", p))
}

async fn get_person(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "personId")?;
    let p = s
        .data
        .lock()
        .unwrap()
        .people
        .get(&id)
        .cloned()
        .ok_or_else(|| err(404, "Person not found"))?;
    Ok(reply(&s, 200, "Person", p))
}

async fn patch_person(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Res {
    let id = path_id(&id, "personId")?;
    let patch = body_of(&body, "inline:PATCH /people/{personId} requestBody", false)?;
    if patch.get("tags").is_some() {
        return Err(err(400, "Setting tags is not simulated"));
    }
    let mut d = s.data.lock().unwrap();
    let now = d.clock.stamp();
    let p = d
        .people
        .get_mut(&id)
        .ok_or_else(|| err(404, "Person not found"))?;
    merge(p, &patch, &now);
    let p = p.clone();
    drop(d);
    Ok(reply(&s, 200, "Person", p))
}

async fn delete_person(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let id = path_id(&id, "personId")?;
    let force = match q.get("force").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(err(400, "querystring/force must be boolean")),
    };
    let mut d = s.data.lock().unwrap();
    if !d.people.contains_key(&id) {
        return Err(err(404, "Person not found"));
    }
    let used = d
        .actuals
        .values()
        .chain(d.assignments.values())
        .any(|a| a["personId"].as_i64() == Some(id));
    if used && !force {
        return Err(err(
            400,
            "Person has assignments or actuals; use force to delete",
        ));
    }
    d.people.remove(&id);
    d.contracts
        .retain(|_, c| c["personId"].as_i64() != Some(id));
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// The contract in force today (else the latest to start).
fn current_contract(d: &RunnData, person: i64) -> Option<Value> {
    let today = d.clock.today().to_string();
    let mut mine: Vec<&Value> = d
        .contracts
        .values()
        .filter(|c| c["personId"].as_i64() == Some(person))
        .collect();
    mine.sort_by(|a, b| a["startDate"].as_str().cmp(&b["startDate"].as_str()));
    mine.iter()
        .rev()
        .find(|c| c["startDate"].as_str().unwrap_or("") <= today.as_str())
        .or(mine.last())
        .map(|c| (*c).clone())
}

async fn list_current_contracts(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let lq = list_query(q, 100, 500)?;
    let d = s.data.lock().unwrap();
    let items = d
        .people
        .keys()
        .filter_map(|p| current_contract(&d, *p))
        .collect();
    drop(d);
    Ok(lq.page(&s, "inline:GET /people/contracts/current 200", items))
}

async fn get_current_contract(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "personId")?;
    let c = current_contract(&s.data.lock().unwrap(), id)
        .ok_or_else(|| err(404, "Contract not found"))?;
    Ok(reply(&s, 200, "Contract", c))
}

async fn list_roles(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Res {
    let lq = list_query(q, 50, 200)?;
    let items = s
        .data
        .lock()
        .unwrap()
        .roles
        .values()
        .filter(|r| contains_ci(&r["name"], lq.get("name")))
        .cloned()
        .collect();
    Ok(lq.page(&s, "inline:GET /roles/ 200", items))
}

async fn create_role(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /roles/ requestBody", true)?;
    let mut d = s.data.lock().unwrap();
    let id = d.id();
    let now = d.clock.stamp();
    let r = json!({"id": id, "name": input["name"], "isArchived": false,
        "defaultHourCost": input.get("defaultHourCost").cloned().unwrap_or(json!(0)),
        "standardRate": input.get("standardRate").cloned().unwrap_or(json!(0)),
        "references": input.get("references").cloned().unwrap_or(json!([])), "personIds": [],
        "createdAt": now, "updatedAt": now});
    d.roles.insert(id, r.clone());
    drop(d);
    Ok(reply(&s, 201, "Role", r))
}

// ---- actuals and assignments -----------------------------------------------------------

/// The upsert key of an actual: (date, person, project, role, workstream).
fn actual_key(a: &Value) -> (String, i64, i64, i64, Option<i64>) {
    let int = |k: &str| a[k].as_f64().map(|f| f as i64);
    (
        a["date"].as_str().unwrap_or("").to_owned(),
        int("personId").unwrap_or(-1),
        int("projectId").unwrap_or(-1),
        int("roleId").unwrap_or(-1),
        int("workstreamId"),
    )
}

/// Upserts one actual: the minutes replace the day's total for the same key.
fn upsert_actual(d: &mut RunnData, input: &Value) -> Result<Value, Response> {
    check_actual_refs(d, input)?;
    Ok(write_actual(d, input))
}

/// An actual's person, project and role must exist.
fn check_actual_refs(d: &RunnData, input: &Value) -> Result<(), Response> {
    for (k, table) in [
        ("personId", &d.people),
        ("projectId", &d.projects),
        ("roleId", &d.roles),
    ] {
        let id = input[k].as_f64().unwrap_or(-1.0) as i64;
        match table.get(&id) {
            None => return Err(err(400, format!("{k} {id} does not exist"))),
            Some(_) if k == "projectId" && d.locked_projects.contains(&id) => {
                return Err(err(400, format!("project {id} has its timesheets locked")))
            }
            // Runn keeps no new time on archived people or projects.
            Some(v) if v["isArchived"] == true && k != "roleId" => {
                return Err(err(400, format!("{k} {id} is archived")))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn write_actual(d: &mut RunnData, input: &Value) -> Value {
    let int = |k: &str| input[k].as_f64().map(|f| f as i64);
    let now = d.clock.stamp();
    let key = actual_key(input);
    if d.actual_ids.len() != d.actuals.len() {
        d.actual_ids = d
            .actuals
            .iter()
            .map(|(id, a)| (actual_key(a), *id))
            .collect();
    }
    let existing = d
        .actual_ids
        .get(&key)
        .copied()
        .filter(|id| d.actuals.contains_key(id));
    let id = match existing {
        Some(id) => id,
        None => d.id(),
    };
    let created = existing
        .and_then(|id| d.actuals[&id]["createdAt"].as_str().map(str::to_owned))
        .unwrap_or_else(|| now.clone());
    let a = json!({"id": id, "date": input["date"],
        "billableMinutes": input.get("billableMinutes").cloned().unwrap_or(json!(0)),
        "nonbillableMinutes": input.get("nonbillableMinutes").cloned().unwrap_or(json!(0)),
        "billableNote": input.get("billableNote").cloned().unwrap_or(Value::Null),
        "nonbillableNote": input.get("nonbillableNote").cloned().unwrap_or(Value::Null),
        "phaseId": input.get("phaseId").cloned().unwrap_or(Value::Null),
        "personId": int("personId"), "projectId": int("projectId"), "roleId": int("roleId"),
        "workstreamId": input.get("workstreamId").cloned().unwrap_or(Value::Null),
        "createdAt": created, "updatedAt": now});
    d.actuals.insert(id, a.clone());
    d.actual_ids.insert(key, id);
    a
}

async fn list_actuals(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Res {
    let lq = list_query(q, 100, 500)?;
    let (min, max) = (lq.date("minDate"), lq.date("maxDate"));
    let d = s.data.lock().unwrap();
    let items = d.actuals.values().filter(|a| {
        let date = a["date"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        min.is_none_or(|m| date.is_some_and(|d| d >= m))
            && max.is_none_or(|m| date.is_some_and(|d| d <= m))
            && ["personId", "projectId", "roleId", "workstreamId"]
                .iter()
                .all(|k| lq.int(k).is_none_or(|v| a[*k].as_i64() == Some(v)))
    });
    Ok(lq.page_of(&s, "inline:GET /actuals/ 200", items))
}

async fn create_actual(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "ActualInput", true)?;
    let a = upsert_actual(&mut s.data.lock().unwrap(), &input)?;
    Ok(reply(&s, 201, "Actual", a))
}

async fn create_actuals_bulk(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /actuals/bulk/ requestBody", true)?;
    let mut d = s.data.lock().unwrap();
    // All or nothing: check every item before writing any.
    let items = input["actuals"].as_array().unwrap();
    for a in items {
        check_actual_refs(&d, a)?;
    }
    let out: Vec<Value> = items.iter().map(|a| write_actual(&mut d, a)).collect();
    drop(d);
    Ok(reply(
        &s,
        200,
        "inline:POST /actuals/bulk/ 200",
        Value::Array(out),
    ))
}

async fn delete_actual(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "actualId")?;
    s.data.lock().unwrap().actuals.remove(&id).ok_or_else(|| {
        err(
            404,
            "The actual record with the specified ID was not found.",
        )
    })?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

async fn list_assignments(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let lq = list_query(q, 100, 500)?;
    let (from, to) = (lq.date("startDate"), lq.date("endDate"));
    let day = |v: &Value| {
        v.as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let items = s
        .data
        .lock()
        .unwrap()
        .assignments
        .values()
        .filter(|a| {
            // Overlap with [startDate, endDate].
            let (st, en) = (day(&a["startDate"]), day(&a["endDate"]));
            from.is_none_or(|f| en.is_some_and(|e| e >= f))
                && to.is_none_or(|t| st.is_some_and(|s| s <= t))
        })
        .filter(|a| {
            ["personId", "projectId", "roleId"]
                .iter()
                .all(|k| lq.int(k).is_none_or(|v| a[*k].as_i64() == Some(v)))
        })
        .cloned()
        .collect();
    Ok(lq.page(&s, "inline:GET /assignments/ 200", items))
}

async fn delete_assignment(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    let id = path_id(&id, "assignmentId")?;
    let gone = s
        .data
        .lock()
        .unwrap()
        .assignments
        .remove(&id)
        .ok_or_else(|| err(404, "Assignment not found"))?;
    Ok(reply(&s, 200, "Assignment", gone))
}

/// `PATCH /contracts/{contractId}`: a person's role changed on their contract.
async fn patch_contract(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Res {
    let id = path_id(&id, "contractId")?;
    let patch = body_of(
        &body,
        "inline:PATCH /contracts/{contractId} requestBody",
        false,
    )?;
    let mut d = s.data.lock().unwrap();
    let now = d.clock.stamp();
    if let Some(role) = patch.get("roleId").and_then(Value::as_f64) {
        if !d.roles.contains_key(&(role as i64)) {
            return Err(err(400, format!("roleId {role} does not exist")));
        }
    }
    let c = d
        .contracts
        .get_mut(&id)
        .ok_or_else(|| err(404, "Contract not found"))?;
    merge(c, &patch, &now);
    if let Some(role) = patch.get("roleId").and_then(Value::as_f64) {
        c["roleId"] = json!(role as i64);
    }
    let c = c.clone();
    drop(d);
    Ok(reply(&s, 200, "Contract", c))
}

/// `GET /contracts/`: every contract of every person (Style B `sortBy`, default applied).
async fn list_contracts(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let lq = list_query(q, 50, 200)?;
    let items = s.data.lock().unwrap().contracts.values().cloned().collect();
    Ok(lq.page(&s, "inline:GET /contracts/ 200", items))
}

async fn create_assignment(State(s): State<AppState>, body: Bytes) -> Res {
    let input = body_of(&body, "inline:POST /assignments/ requestBody", true)?;
    let mut d = s.data.lock().unwrap();
    let int = |k: &str| input[k].as_f64().map(|f| f as i64);
    let id = d.id();
    let now = d.clock.stamp();
    let a = json!({"id": id, "personId": int("personId"), "startDate": input["startDate"], "endDate": input["endDate"],
        "projectId": int("projectId"), "minutesPerDay": input["minutesPerDay"].as_f64().unwrap_or(0.0) as i64,
        "roleId": int("roleId"), "isActive": true, "note": input.get("note").cloned().unwrap_or(Value::Null),
        "isBillable": input.get("isBillable").cloned().unwrap_or(json!(true)),
        "phaseId": input.get("phaseId").cloned().unwrap_or(Value::Null),
        "isNonWorkingDay": input.get("isNonWorkingDay").cloned().unwrap_or(json!(false)),
        "isTemplate": false, "isPlaceholder": false,
        "workstreamId": input.get("workstreamId").cloned().unwrap_or(Value::Null),
        "createdAt": now, "updatedAt": now});
    d.assignments.insert(id, a.clone());
    drop(d);
    Ok(reply(&s, 201, "inline:POST /assignments/ 201", json!([a])))
}
