//! Time-entry changes, to the spec's `createTimeEntry`, `createForOthers`,
//! `updateTimeEntry` and `deleteTimeEntry`, and the test controls that make the same
//! changes in-process. Both go through [`change`], which also hands the change to the
//! webhook delivery.

use super::delivery::{self, Deliverer, Notice, Target};
use super::webhooks::new_id;
use super::{
    bad_request, error_body, iso_duration, key_user_id, not_found, AppState, ClockifyData,
    ClockifySim, Res, SimTimeEntry, WorkspaceData,
};
use crate::common::{header, json_response};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::sync::{Arc, RwLock};

pub const NEW_TIME_ENTRY: &str = "NEW_TIME_ENTRY";
pub const NEW_TIMER_STARTED: &str = "NEW_TIMER_STARTED";
pub const TIMER_STOPPED: &str = "TIMER_STOPPED";
pub const TIME_ENTRY_UPDATED: &str = "TIME_ENTRY_UPDATED";
pub const TIME_ENTRY_DELETED: &str = "TIME_ENTRY_DELETED";

/// The spec's time format, `yyyy-MM-ddThh:mm:ssZ`.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `TimeEntryDtoImplV1`: the entry as the API answers it and webhooks carry it. What the
/// simulator does not keep is sent as Clockify sends it when unset (`null`, `[]`); a
/// running timer has neither `end` nor `duration`.
pub fn entry_dto(e: &SimTimeEntry, ws: &str) -> Value {
    json!({"id": e.id, "description": e.description, "userId": e.user_id, "workspaceId": ws,
           "projectId": e.project_id, "taskId": null, "tagIds": [], "billable": e.billable,
           "type": "REGULAR", "isLocked": false, "kioskId": null, "customFieldValues": [],
           "timeInterval": {"start": stamp(e.start), "end": e.end.map(stamp),
                            "duration": e.end.map(|x| iso_duration((x - e.start).num_seconds()))}})
}

/// The event Clockify names an edit by: a running timer given an end is stopped.
fn edit_event(was_running: bool, e: &SimTimeEntry) -> &'static str {
    if was_running && e.end.is_some() {
        TIMER_STOPPED
    } else {
        TIME_ENTRY_UPDATED
    }
}

/// What a change did: its event, and the entry after it (as it was, for a delete).
pub(super) struct Changed {
    event: &'static str,
    entry: SimTimeEntry,
}

/// Makes one change to the workspace `ws` under the write lock, then hands it to the
/// delivery (which never waits for the receivers). Answers the entry's JSON.
pub(super) fn change(
    data: &Arc<RwLock<ClockifyData>>,
    hooks: &Arc<Deliverer>,
    ws: &str,
    f: impl FnOnce(&mut WorkspaceData) -> Result<Changed, Response>,
) -> Result<Value, Response> {
    let at = Utc::now();
    let (c, targets) = {
        let mut d = data.write().unwrap();
        let w = d
            .workspaces
            .iter_mut()
            .find(|w| w.id == ws)
            .ok_or_else(|| not_found("Workspace"))?;
        let c = f(w)?;
        let targets: Vec<Target> = w
            .webhooks
            .iter()
            .filter(|h| delivery::wants(h, c.event, &c.entry))
            .map(|h| Target::of(ws, h))
            .collect();
        (c, targets)
    };
    let body = entry_dto(&c.entry, ws);
    let notice = Notice {
        at,
        event: c.event,
        entry_id: c.entry.id.clone(),
        user_id: c.entry.user_id.clone(),
        body: body.clone(),
    };
    hooks.deliver(data, notice, targets);
    Ok(body)
}

fn add(w: &mut WorkspaceData, e: SimTimeEntry) -> Result<Changed, Response> {
    if w.time_entries.iter().any(|x| x.id == e.id) {
        return Err(bad_request("TimeEntry: id already taken"));
    }
    let event = if e.end.is_some() {
        NEW_TIME_ENTRY
    } else {
        NEW_TIMER_STARTED
    };
    w.time_entries.push(e.clone());
    Ok(Changed { event, entry: e })
}

fn edit(
    w: &mut WorkspaceData,
    id: &str,
    f: impl FnOnce(&mut SimTimeEntry),
) -> Result<Changed, Response> {
    let e = w
        .time_entries
        .iter_mut()
        .find(|e| e.id == id)
        .ok_or_else(|| not_found("TimeEntry"))?;
    let was_running = e.end.is_none();
    f(e);
    Ok(Changed {
        event: edit_event(was_running, e),
        entry: e.clone(),
    })
}

fn remove(w: &mut WorkspaceData, id: &str) -> Result<Changed, Response> {
    let i = w
        .time_entries
        .iter()
        .position(|e| e.id == id)
        .ok_or_else(|| not_found("TimeEntry"))?;
    Ok(Changed {
        event: TIME_ENTRY_DELETED,
        entry: w.time_entries.remove(i),
    })
}

/// `CreateTimeEntryRequest` / `UpdateTimeEntryRequest` once it has passed the spec's
/// constraints: what the simulator keeps of it.
struct EntryRequest {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    project_id: Option<String>,
    billable: Option<bool>,
    description: Option<String>,
}

/// A field: absent or null is `None`.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn text(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, Response> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(format!("{name}: must be a string"))),
    }
}

fn time(obj: &Map<String, Value>, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    text(obj, name)?
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| bad_request(format!("{name}: expected yyyy-MM-ddThh:mm:ssZ")))
        })
        .transpose()
}

/// An array field of at most `max` items (`None` when absent).
fn list<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<&'a Vec<Value>>, Response> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::Array(items)) if items.len() <= max => Ok(Some(items)),
        Some(Value::Array(_)) => Err(bad_request(format!("{name}: at most {max} items"))),
        Some(_) => Err(bad_request(format!("{name}: must be an array"))),
    }
}

/// The fields naming what the simulator does not keep (tasks, tags, break entries, custom
/// fields): accepted when empty, refused when they name something.
fn unkept(obj: &Map<String, Value>) -> Result<(), Response> {
    if text(obj, "taskId")?.is_some_and(|t| !t.is_empty()) {
        return Err(not_found("Task"));
    }
    let tags = list(obj, "tagIds", usize::MAX)?.map_or(&[][..], Vec::as_slice);
    if tags.iter().any(|t| !t.is_string()) {
        return Err(bad_request("tagIds: must be a list of ids"));
    }
    if !tags.is_empty() {
        return Err(not_found("Tag"));
    }
    match text(obj, "type")?.as_deref() {
        None | Some("REGULAR") => {}
        Some("BREAK") => {
            return Err(bad_request(
                "type: the simulator keeps REGULAR entries only",
            ))
        }
        Some(other) => return Err(bad_request(format!("type: invalid value {other:?}"))),
    }
    list(obj, "customFields", 50)?;
    list(obj, "customAttributes", 10)?;
    Ok(())
}

/// Reads a create or update body field by field: `start` required, `end` (absent: a
/// running timer) not before it, `description` at most 3000 characters, `projectId` one
/// of the workspace's projects (empty: none).
fn entry_request(body: &[u8], w: &WorkspaceData) -> Result<EntryRequest, Response> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("Malformed request body: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad_request("Malformed request body: expected an object"))?;
    let start = time(obj, "start")?.ok_or_else(|| bad_request("start: must not be null"))?;
    let end = time(obj, "end")?;
    if end.is_some_and(|e| e < start) {
        return Err(bad_request("end: must not be before start"));
    }
    let description = text(obj, "description")?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 3000)
    {
        return Err(bad_request("description: size must be at most 3000"));
    }
    let billable = match field(obj, "billable") {
        None => None,
        Some(b) => Some(
            b.as_bool()
                .ok_or_else(|| bad_request("billable: must be true or false"))?,
        ),
    };
    let project_id = text(obj, "projectId")?.filter(|p| !p.is_empty());
    if let Some(p) = &project_id {
        if !w.projects.iter().any(|x| &x.id == p) {
            return Err(not_found("Project"));
        }
    }
    unkept(obj)?;
    Ok(EntryRequest {
        start,
        end,
        project_id,
        billable,
        description,
    })
}

/// A create for `user`: 201 with the new entry.
fn create_for(s: &AppState, ws: &str, user: String, body: &[u8]) -> Res {
    let out = change(&s.data, &s.hooks, ws, |w| {
        let r = entry_request(body, w)?;
        let e = SimTimeEntry {
            id: new_id(),
            user_id: user,
            project_id: r.project_id,
            billable: r.billable.unwrap_or(false),
            description: r.description.unwrap_or_default(),
            start: r.start,
            end: r.end,
        };
        add(w, e)
    })?;
    Ok(json_response(201, &out))
}

/// `POST /v1/workspaces/{workspaceId}/time-entries`: an entry of the key's own user (the
/// one `GET /v1/user` answers).
pub(super) async fn create_time_entry(
    State(s): State<AppState>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Res {
    let user = {
        let data = s.data.read().unwrap();
        key_user_id(&data, header(&headers, "x-api-key").unwrap_or(""))
    };
    create_for(&s, &ws, user, &body)
}

/// `POST /v1/workspaces/{workspaceId}/user/{userId}/time-entries` (`createForOthers`): an
/// admin's create for one of the workspace's users; a member may only name itself. The
/// `from-entry` query is not read.
pub(super) async fn create_time_entry_for(
    State(s): State<AppState>,
    Path((ws, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Res {
    {
        let data = s.data.read().unwrap();
        let key = header(&headers, "x-api-key").unwrap_or("");
        let own = key_user_id(&data, key) == user;
        if !own && !data.api_keys.iter().any(|k| k == key) {
            return Err(json_response(403, &error_body(403)));
        }
        let w = data
            .workspaces
            .iter()
            .find(|w| w.id == ws)
            .ok_or_else(|| not_found("Workspace"))?;
        if !own && !w.users.iter().any(|u| u.id == user) {
            return Err(not_found("User"));
        }
    }
    create_for(&s, &ws, user, &body)
}

/// `PUT /v1/workspaces/{workspaceId}/time-entries/{id}`: the body's times and project
/// replace the entry's (no `end`: running again), `billable` and `description` when sent;
/// 200 with the entry.
pub(super) async fn update_time_entry(
    State(s): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Res {
    let out = change(&s.data, &s.hooks, &ws, |w| {
        let r = entry_request(&body, w)?;
        edit(w, &id, |e| {
            e.start = r.start;
            e.end = r.end;
            e.project_id = r.project_id;
            if let Some(b) = r.billable {
                e.billable = b;
            }
            if let Some(d) = r.description {
                e.description = d;
            }
        })
    })?;
    Ok(json_response(200, &out))
}

/// `DELETE /v1/workspaces/{workspaceId}/time-entries/{id}`: 204, no body.
pub(super) async fn delete_time_entry(
    State(s): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
) -> Res {
    change(&s.data, &s.hooks, &ws, |w| remove(w, &id))?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Test controls: the same changes as the API's, webhooks delivered the same way, with
/// none of the API's checks on what the entry holds.
impl ClockifySim {
    /// Adds `entry` to `ws` (a running timer when it has no end). False when there is no
    /// such workspace or the id is taken.
    pub fn add_entry(&self, ws: &str, entry: SimTimeEntry) -> bool {
        change(&self.data, &self.hooks, ws, |w| add(w, entry)).is_ok()
    }

    /// Changes the entry `id` of `ws` with `f`. False when there is no such entry.
    pub fn edit_entry(&self, ws: &str, id: &str, f: impl FnOnce(&mut SimTimeEntry)) -> bool {
        change(&self.data, &self.hooks, ws, |w| edit(w, id, f)).is_ok()
    }

    /// Deletes the entry `id` of `ws`. False when there is no such entry.
    pub fn delete_entry(&self, ws: &str, id: &str) -> bool {
        change(&self.data, &self.hooks, ws, |w| remove(w, id)).is_ok()
    }
}
