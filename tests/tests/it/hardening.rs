//! The hardening of issue 13, end to end over HTTP: nothing a server sends grows an error
//! or a run record without bound (item 6), every paged read ends however the server pages
//! (item 7), and only a refusal of the credential itself disables an account (item 9).

use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use shared::account::{Account, Outcome, RunRecord, FAILURE_CHARS};
use shared::checks::{check_clockify, check_runn, CheckError};
use shared::clockify::{Client as ClockifyClientRecord, ClockifyClient};
use shared::http::{RateLimit, MAX_PAGES, MESSAGE_CHARS};
use shared::ids::WorkspaceId;
use shared::jobs::{run_job, work, JobOutcome, Message};
use shared::queue::MemoryQueue;
use shared::runn::{PeopleFilter, RunnClient};
use shared::store::{roles::*, MemoryStore};
use shared::{ApiError, FailureClass, Service};
use sims::clockify::ClockifySim;
use sims::common::{Fault, Running, HUGE_MESSAGE_END};
use sims::demo;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn far_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(600)
}

/// Both simulators, seeded with the demo company.
struct Sims {
    clockify: ClockifySim,
    runn: RunnSim,
    cr: Running,
    rr: Running,
}

async fn sims() -> Sims {
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    Sims {
        clockify,
        runn,
        cr,
        rr,
    }
}

/// The demo account in a fresh memory store.
async fn stored_account(s: &Sims) -> (MemoryStore, Account) {
    let store = MemoryStore::default();
    let a = demo_account("acme", &s.cr, &s.rr, RUNN_TOKEN);
    store.put_account(&a).await.unwrap();
    (store, a)
}

async fn last_run(store: &MemoryStore, a: &Account) -> RunRecord {
    let runs = store.runs(&a.settings.id, 1).await.unwrap();
    runs.into_iter().next().expect("the run was recorded")
}

fn failure(run: &RunRecord) -> (FailureClass, &str) {
    match &run.outcome {
        Outcome::Failed { class, message } => (*class, message.as_str()),
        other => panic!("the run did not fail: {other:?}"),
    }
}

async fn enabled(store: &MemoryStore, a: &Account) -> bool {
    store
        .settings(&a.settings.id)
        .await
        .unwrap()
        .expect("the account exists")
        .enabled
}

// ---------------------------------------------------------------------------------------
// Item 6: nothing from a server grows a record or an answer without bound.
// ---------------------------------------------------------------------------------------

/// A server's error message, cut to `MESSAGE_CHARS` (and the ellipsis).
fn assert_clipped(message: &str) {
    assert!(
        message.chars().count() <= MESSAGE_CHARS + 1,
        "{} chars kept of the server's message",
        message.chars().count()
    );
    assert!(!message.contains(HUGE_MESSAGE_END), "the tail got through");
}

#[tokio::test]
async fn a_500_kb_error_body_leaves_an_error_of_a_few_hundred_characters() {
    let s = sims().await;
    let runn = runn_client(&s.rr);

    s.runn.ctl.fail_next([Fault::Huge(400)]);
    let e = runn.me().await.expect_err("the 400 fails the request");
    let shown = e.to_string();
    assert!(shown.chars().count() < 1000, "{} chars", shown.len());
    assert_eq!(e.class(), FailureClass::Permanent);
    match &e {
        ApiError::Rejected {
            service: Service::Runn,
            request,
            status: 400,
            message,
            ..
        } => {
            assert_eq!(request, "GET /me/");
            assert_clipped(message);
        }
        other => panic!("{other:?}"),
    }

    // A page of a list, refused with a 403 carrying the same body.
    s.runn
        .ctl
        .fail_next_matching("GET /people/", Fault::Huge(403));
    let e = runn
        .people(&PeopleFilter::default())
        .next()
        .await
        .expect("a page or an error")
        .expect_err("the 403 fails the read");
    assert!(e.to_string().chars().count() < 1000, "{e}");
    match &e {
        ApiError::Forbidden { message, .. } => assert_clipped(message),
        other => panic!("{other:?}"),
    }

    // Clockify's `{message, code}` shape, the same way.
    let clockify = ClockifyClient::new(clockify_config(&s.cr, demo::API_KEY)).unwrap();
    s.clockify.ctl.fail_next([Fault::Huge(400)]);
    let e = clockify.workspaces().await.expect_err("the 400 fails it");
    assert!(e.to_string().chars().count() < 1000, "{e}");
    match &e {
        ApiError::Rejected {
            service: Service::Clockify,
            status: 400,
            message,
            ..
        } => assert_clipped(message),
        other => panic!("{other:?}"),
    }
}

/// The run record of a job failed by a huge error body: readable, small, and the job not
/// retried.
fn assert_small_failed_record(run: &RunRecord) {
    let (class, message) = failure(run);
    assert_eq!(class, FailureClass::Permanent);
    assert!(
        message.chars().count() <= FAILURE_CHARS + 1,
        "{} chars",
        message.chars().count()
    );
    assert!(message.contains("GET /people/"), "{message}");
    assert!(!message.contains(HUGE_MESSAGE_END), "the tail got through");
    let stored = serde_json::to_string(run).unwrap();
    assert!(
        stored.len() < 10_000,
        "the record is {} bytes",
        stored.len()
    );
}

#[tokio::test]
async fn a_500_kb_error_body_leaves_a_readable_run_record_and_no_retried_job() {
    let s = sims().await;
    let (store, a) = stored_account(&s).await;
    s.runn
        .ctl
        .fail_next_matching("GET /people/", Fault::Huge(400));
    let job = job(a.settings.id.as_str(), "r1");
    let out = run_job(
        &store,
        &MemoryQueue::default(),
        &job,
        far_deadline(),
        &quick_worker(),
    )
    .await
    .expect("the failure is recorded, not raised");
    let JobOutcome::Dropped(why) = &out else {
        panic!("a permanent failure is dropped, not retried: {out:?}")
    };
    assert!(why.chars().count() < 1000, "{} chars", why.chars().count());
    assert_eq!(s.runn.ctl.count("GET /people/"), 1, "no retry of a 400");
    assert_small_failed_record(&last_run(&store, &a).await);
    assert!(enabled(&store, &a).await, "a 400 disables nothing");
}

#[tokio::test]
async fn the_worker_does_not_hand_a_job_failed_by_a_huge_error_back_to_the_queue() {
    let s = sims().await;
    let (store, a) = stored_account(&s).await;
    s.runn
        .ctl
        .fail_next_matching("GET /people/", Fault::Huge(400));
    let job = job(a.settings.id.as_str(), "r1");
    let messages = [
        Message {
            id: "huge".into(),
            body: Some(serde_json::to_string(&job).unwrap()),
        },
        // The retry list works: an unreadable message goes round to the dead letters.
        Message {
            id: "garbled".into(),
            body: Some("not a job".into()),
        },
    ];
    let retry = work(
        &store,
        &MemoryQueue::default(),
        &quick_worker(),
        far_deadline(),
        messages,
    )
    .await;
    assert_eq!(retry, ["garbled"], "the failed job is not dead-lettered");
    assert_small_failed_record(&last_run(&store, &a).await);
}

// ---------------------------------------------------------------------------------------
// Item 7: paging always ends.
// ---------------------------------------------------------------------------------------

/// Requests a stand-in server has answered.
type Hits = Arc<AtomicU64>;

/// Serves a stand-in for a misbehaving service on a local port.
async fn stand_in(router: Router<Hits>) -> (Running, Hits) {
    let hits = Hits::default();
    let running = sims::common::serve(router.with_state(hits.clone()), 0)
        .await
        .unwrap();
    (running, hits)
}

type Params = Query<HashMap<String, String>>;

/// A paged read that never ended would hang the test: give up well after it should end.
async fn drained<T>(
    pages: futures::stream::BoxStream<'_, Result<Vec<T>, ApiError>>,
) -> Result<(Vec<T>, usize), ApiError> {
    tokio::time::timeout(Duration::from_secs(120), collect_pages(pages))
        .await
        .expect("the paged read never ended")
}

/// A Runn client with no rate limit to speak of: 10,000 pages in seconds.
fn fast_runn(running: &Running) -> RunnClient {
    let mut cfg = runn_config(running, RUNN_TOKEN);
    cfg.rate_limit = RateLimit::per_second(100_000);
    RunnClient::new(cfg).unwrap()
}

/// A Clockify client with pages of two and no rate limit to speak of.
fn fast_clockify(running: &Running) -> ClockifyClient {
    let mut cfg = clockify_config(running, CLOCKIFY_KEY);
    cfg.rate_limit = RateLimit::per_second(100_000);
    cfg.page_size = 2;
    ClockifyClient::new(cfg).unwrap()
}

/// `GET /people/` going round in a circle: A, B, A, B, ...
async fn cycling_people(State(hits): State<Hits>, Query(q): Params) -> Json<Value> {
    hits.fetch_add(1, Ordering::Relaxed);
    let next = match q.get("cursor").map(String::as_str) {
        Some("A") => "B",
        _ => "A",
    };
    Json(json!({ "values": [], "nextCursor": next }))
}

/// `GET /people/` with a cursor never seen before, forever.
async fn endless_people(State(hits): State<Hits>) -> Json<Value> {
    let n = hits.fetch_add(1, Ordering::Relaxed) + 1;
    Json(json!({ "values": [], "nextCursor": format!("c{n}") }))
}

fn assert_does_not_end(e: &ApiError, service: Service, request: &str, why: &str) {
    let shown = e.to_string();
    match e {
        ApiError::Contract {
            service: s,
            request: r,
            reason,
        } => {
            assert_eq!(*s, service);
            assert_eq!(r, request);
            assert!(
                reason.contains("does not end") && reason.contains(why),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        shown.contains(request) && shown.contains("does not end"),
        "{shown}"
    );
    assert_eq!(e.class(), FailureClass::Permanent);
}

#[tokio::test]
async fn a_runn_cursor_that_comes_back_ends_the_read_at_once() {
    let (running, hits) = stand_in(Router::new().route("/people/", get(cycling_people))).await;
    let runn = fast_runn(&running);
    let e = drained(runn.people(&PeopleFilter::default()))
        .await
        .expect_err("a circle of cursors is an error");
    assert_does_not_end(&e, Service::Runn, "GET /people/", "a cursor came back");
    // No cursor, then A, then B: the A that came back ends it.
    assert_eq!(hits.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn a_runn_list_of_ever_new_cursors_stops_at_10000_pages() {
    let (running, hits) = stand_in(Router::new().route("/people/", get(endless_people))).await;
    let runn = fast_runn(&running);
    let started = std::time::Instant::now();
    let e = drained(runn.people(&PeopleFilter::default()))
        .await
        .expect_err("a list that does not end is an error");
    eprintln!("10,000 Runn pages read in {:?}", started.elapsed());
    assert_eq!(hits.load(Ordering::Relaxed), u64::from(MAX_PAGES));
    assert_eq!(MAX_PAGES, 10_000);
    assert_does_not_end(&e, Service::Runn, "GET /people/", "10000");
}

/// Clockify clients `page` of `size` from `from`, with `Last-Page` when given.
fn clockify_clients(page: u32, size: usize, last_page: Option<bool>) -> Response {
    let body: Vec<Value> = (0..size)
        .map(|i| json!({ "id": format!("p{page}c{i}"), "name": format!("Client {page}.{i}"), "archived": false }))
        .collect();
    let mut resp = Json(body).into_response();
    if let Some(last) = last_page {
        let v = if last { "true" } else { "false" };
        resp.headers_mut()
            .insert("last-page", HeaderValue::from_static(v));
    }
    resp
}

fn page_of(q: &HashMap<String, String>) -> u32 {
    q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0)
}

fn size_of(q: &HashMap<String, String>) -> usize {
    q.get("page-size").and_then(|p| p.parse().ok()).unwrap_or(0)
}

const CLIENTS_ROUTE: &str = "/api/v1/workspaces/{workspaceId}/clients";
const CLIENTS_LABEL: &str = "GET /v1/workspaces/{workspaceId}/clients";

fn ws() -> WorkspaceId {
    WorkspaceId::new(demo::WORKSPACE_ID)
}

#[tokio::test]
async fn clockify_full_pages_without_end_stop_at_10000_pages() {
    async fn full_pages(State(hits): State<Hits>, Query(q): Params) -> Response {
        hits.fetch_add(1, Ordering::Relaxed);
        clockify_clients(page_of(&q), size_of(&q), None)
    }
    let (running, hits) = stand_in(Router::new().route(CLIENTS_ROUTE, get(full_pages))).await;
    let clockify = fast_clockify(&running);
    let started = std::time::Instant::now();
    let e = drained(clockify.clients(&ws()))
        .await
        .expect_err("a list that does not end is an error");
    eprintln!("10,000 Clockify pages read in {:?}", started.elapsed());
    assert_eq!(hits.load(Ordering::Relaxed), u64::from(MAX_PAGES));
    assert_does_not_end(&e, Service::Clockify, CLIENTS_LABEL, "10000");
}

#[tokio::test]
async fn clockify_last_page_header_is_trusted_over_the_page_size() {
    // A short page that says it is not the last, then the last.
    async fn short_then_last(State(hits): State<Hits>, Query(q): Params) -> Response {
        hits.fetch_add(1, Ordering::Relaxed);
        let page = page_of(&q);
        clockify_clients(page, 1, Some(page >= 2))
    }
    let (running, hits) = stand_in(Router::new().route(CLIENTS_ROUTE, get(short_then_last))).await;
    let (clients, pages): (Vec<ClockifyClientRecord>, _) =
        drained(fast_clockify(&running).clients(&ws()))
            .await
            .unwrap();
    assert_eq!(pages, 2, "the short first page did not end the list");
    let ids: Vec<&str> = clients.iter().map(|c| c.id.0.as_str()).collect();
    assert_eq!(ids, ["p1c0", "p2c0"]);
    assert_eq!(hits.load(Ordering::Relaxed), 2);

    // A full page that says it is the last ends the list.
    async fn full_and_last(State(hits): State<Hits>, Query(q): Params) -> Response {
        hits.fetch_add(1, Ordering::Relaxed);
        clockify_clients(page_of(&q), size_of(&q), Some(true))
    }
    let (running, hits) = stand_in(Router::new().route(CLIENTS_ROUTE, get(full_and_last))).await;
    let (clients, pages) = drained(fast_clockify(&running).clients(&ws()))
        .await
        .unwrap();
    assert_eq!((clients.len(), pages), (2, 1));
    assert_eq!(hits.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_short_clockify_page_without_the_header_ends_the_list() {
    async fn always_short(State(hits): State<Hits>, Query(q): Params) -> Response {
        hits.fetch_add(1, Ordering::Relaxed);
        clockify_clients(page_of(&q), 1, None)
    }
    let (running, hits) = stand_in(Router::new().route(CLIENTS_ROUTE, get(always_short))).await;
    let (clients, pages) = drained(fast_clockify(&running).clients(&ws()))
        .await
        .unwrap();
    assert_eq!((clients.len(), pages), (1, 1));
    assert_eq!(hits.load(Ordering::Relaxed), 1);
}

// ---------------------------------------------------------------------------------------
// Item 9: which failures disable an account.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_403_on_a_list_fails_the_run_names_the_permission_and_leaves_the_account_on() {
    let s = sims().await;
    let (store, a) = stored_account(&s).await;
    s.runn
        .ctl
        .fail_next_matching("GET /people/", Fault::Status(403));
    let out = run_job(
        &store,
        &MemoryQueue::default(),
        &job(a.settings.id.as_str(), "r1"),
        far_deadline(),
        &quick_worker(),
    )
    .await
    .unwrap();
    assert!(matches!(out, JobOutcome::Dropped(_)), "{out:?}");
    assert_eq!(s.runn.ctl.count("GET /people/"), 1, "no retry of a 403");
    let settings = store.settings(&a.settings.id).await.unwrap().unwrap();
    assert!(settings.enabled, "a missing permission disables nothing");
    assert_eq!(settings.disabled_reason, None);
    let run = last_run(&store, &a).await;
    let (class, message) = failure(&run);
    assert_eq!(class, FailureClass::Permanent);
    assert!(
        message.contains("GET /people/") && message.contains("permission"),
        "{message}"
    );
    assert!(message.contains("read /people/"), "{message}");

    // The same on a Clockify list.
    s.clockify.ctl.fail_next_matching(
        "GET /api/v1/workspaces/{workspaceId}/users",
        Fault::Status(403),
    );
    let out = run_job(
        &store,
        &MemoryQueue::default(),
        &job(a.settings.id.as_str(), "r2"),
        far_deadline(),
        &quick_worker(),
    )
    .await
    .unwrap();
    assert!(matches!(out, JobOutcome::Dropped(_)), "{out:?}");
    assert!(enabled(&store, &a).await);
    let run = last_run(&store, &a).await;
    assert_eq!(run.run_id, "r2");
    let (class, message) = failure(&run);
    assert_eq!(class, FailureClass::Permanent);
    assert!(
        message.contains("GET /v1/workspaces/{workspaceId}/users")
            && message.contains("permission"),
        "{message}"
    );
}

#[tokio::test]
async fn a_401_on_a_list_still_disables_the_account() {
    let s = sims().await;
    let (store, a) = stored_account(&s).await;
    s.runn
        .ctl
        .fail_next_matching("GET /people/", Fault::Status(401));
    let out = run_job(
        &store,
        &MemoryQueue::default(),
        &job(a.settings.id.as_str(), "r1"),
        far_deadline(),
        &quick_worker(),
    )
    .await
    .unwrap();
    assert!(matches!(out, JobOutcome::Dropped(_)), "{out:?}");
    let settings = store.settings(&a.settings.id).await.unwrap().unwrap();
    assert!(!settings.enabled, "a rejected credential disables");
    let reason = settings.disabled_reason.unwrap_or_default();
    assert!(reason.contains("credentials rejected"), "{reason}");
    let run = last_run(&store, &a).await;
    assert_eq!(failure(&run).0, FailureClass::CredentialsRejected);
}

#[tokio::test]
async fn a_403_from_the_identity_endpoints_is_the_credential_refused() {
    let s = sims().await;
    let runn = runn_client(&s.rr);
    s.runn
        .ctl
        .fail_next_matching("GET /me/", Fault::Status(403));
    let e = runn.me().await.unwrap_err();
    assert!(
        matches!(
            &e,
            ApiError::CredentialsRejected { service: Service::Runn, request, status: 403 }
                if request == "GET /me/"
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), FailureClass::CredentialsRejected);

    let clockify = ClockifyClient::new(clockify_config(&s.cr, demo::API_KEY)).unwrap();
    s.clockify
        .ctl
        .fail_next_matching("GET /api/v1/user", Fault::Status(403));
    let e = clockify.current_user().await.unwrap_err();
    assert!(
        matches!(
            &e,
            ApiError::CredentialsRejected { service: Service::Clockify, request, status: 403 }
                if request == "GET /v1/user"
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), FailureClass::CredentialsRejected);

    // Any other endpoint: a permission the key lacks.
    s.clockify
        .ctl
        .fail_next_matching("GET /api/v1/workspaces", Fault::Status(403));
    let e = clockify.workspaces().await.unwrap_err();
    match &e {
        ApiError::Forbidden {
            service: Service::Clockify,
            request,
            permission,
            ..
        } => {
            assert_eq!(request, "GET /v1/workspaces");
            assert_eq!(permission, "read /v1/workspaces");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.class(), FailureClass::Permanent);
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("permission"), "{e}");
}

#[tokio::test]
async fn save_and_run_names_a_missing_permission_not_a_rejected_token() {
    let s = sims().await;
    let runn = runn_client(&s.rr);
    s.runn
        .ctl
        .fail_next_matching("GET /people/", Fault::Status(403));
    match check_runn(&runn).await {
        Err(CheckError::Refused {
            field: "runn_token",
            message,
        }) => {
            assert!(
                message.contains("permission") && message.contains("403"),
                "{message}"
            );
            assert!(message.contains("read /people/"), "{message}");
            assert!(!message.contains("was rejected"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // A 403 from `GET /me/` is the token itself rejected.
    s.runn
        .ctl
        .fail_next_matching("GET /me/", Fault::Status(403));
    match check_runn(&runn).await {
        Err(CheckError::Refused {
            field: "runn_token",
            message,
        }) => assert!(message.contains("was rejected"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(check_runn(&runn).await, Ok(()));

    // Clockify's check the same way: the key's workspaces are a permission, its user is
    // the key.
    let clockify = ClockifyClient::new(clockify_config(&s.cr, demo::API_KEY)).unwrap();
    s.clockify
        .ctl
        .fail_next_matching("GET /api/v1/workspaces", Fault::Status(403));
    match check_clockify(&clockify, &ws()).await {
        Err(CheckError::Refused {
            field: "clockify_api_key",
            message,
        }) => {
            assert!(
                message.contains("permission") && message.contains("403"),
                "{message}"
            );
            assert!(!message.contains("was rejected"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    s.clockify
        .ctl
        .fail_next_matching("GET /api/v1/user", Fault::Status(403));
    match check_clockify(&clockify, &ws()).await {
        Err(CheckError::Refused {
            field: "clockify_api_key",
            message,
        }) => assert!(message.contains("was rejected"), "{message}"),
        other => panic!("{other:?}"),
    }
}
