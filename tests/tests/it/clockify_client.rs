//! The Clockify client against the Clockify simulator over HTTP.

use chrono::NaiveDate;
use futures::TryStreamExt;
use shared::clockify::{
    ClockifyClient, DateRange, EntrySource, NewWebhook, TimeEntry, WebhookEvent,
};
use shared::ids::{WebhookId, WorkspaceId};
use shared::ExposeSecret;
use shared::{ApiError, FailureClass};
use sims::clockify::{ClockifyData, ClockifySim, Plan};
use sims::common::{Fault, ServerRateLimit};
use sims::generate::{workspace, GenSpec};
use sims::testkit::*;
use std::collections::HashSet;
use std::time::Duration;

fn spec() -> GenSpec {
    GenSpec {
        users: 12,
        inactive_users: 2,
        clients: 9,
        archived_clients: 2,
        projects: 14,
        projects_without_client: 3,
        archived_projects: 2,
        entries: 300,
        running: 3,
        ..GenSpec::default()
    }
}

async fn serve(spec: &GenSpec) -> (ClockifySim, sims::common::Running) {
    let sim = sim_with(spec);
    let running = sim.spawn().await.unwrap();
    (sim, running)
}

fn sim_with(spec: &GenSpec) -> ClockifySim {
    ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![workspace(spec)],
    })
}

fn ws(spec: &GenSpec) -> WorkspaceId {
    WorkspaceId::new(spec.workspace_id.clone())
}

fn may_2025(tz: chrono_tz::Tz) -> DateRange {
    let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    DateRange::new(d("2025-04-25"), d("2025-06-05"), tz).unwrap()
}

fn small_pages(sim: &sims::common::Running) -> ClockifyClient {
    let mut cfg = clockify_config(sim, CLOCKIFY_KEY);
    cfg.page_size = 4;
    cfg.report_page_size = 25;
    ClockifyClient::new(cfg).unwrap()
}

#[tokio::test]
async fn every_list_pages_through_more_than_one_page() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    let client = small_pages(&running);
    let ws = ws(&spec);

    let (clients, pages) = collect_pages(client.clients(&ws)).await.unwrap();
    assert_eq!(clients.len(), 9);
    assert_eq!(pages, 3);
    assert_eq!(clients.iter().filter(|c| c.archived).count(), 2);

    let (projects, pages) = collect_pages(client.projects(&ws)).await.unwrap();
    assert_eq!(projects.len(), 14);
    assert_eq!(pages, 4);
    assert_eq!(projects.iter().filter(|p| p.client_id.is_none()).count(), 3);
    assert_eq!(projects.iter().filter(|p| p.archived).count(), 2);

    let (users, pages) = collect_pages(client.users(&ws)).await.unwrap();
    assert_eq!(users.len(), 12);
    assert_eq!(pages, 3);
    let inactive = users
        .iter()
        .filter(|u| u.workspace_status(&ws) == Some(&shared::clockify::MembershipStatus::Inactive))
        .count();
    assert_eq!(inactive, 2);
    assert!(users.iter().all(|u| u.time_zone().is_some()));

    // Report: 297 finished entries at 25 a page, in two windows (31 days + 11 days).
    let range = may_2025(chrono_tz::Europe::Berlin);
    let (report, pages) = collect_pages(client.report_time_entries(&ws, range))
        .await
        .unwrap();
    assert_eq!(report.len(), 297, "running timers are skipped");
    assert!(pages > 2);
    let user = &users[0].id;
    let (mine, pages) = collect_pages(client.user_time_entries(&ws, user, range))
        .await
        .unwrap();
    assert!(
        mine.len() > 4 && pages > 1,
        "{} entries in {pages} pages",
        mine.len()
    );
    assert!(mine.iter().all(|e| &e.user_id == user));

    // Every list request asked for the page size configured, never the default of 50.
    for r in sim.ctl.log() {
        if r.endpoint.starts_with("GET ") && r.endpoint.contains("/workspaces/{workspaceId}/") {
            assert!(
                r.query.contains("page-size=4"),
                "{} ?{}",
                r.endpoint,
                r.query
            );
        }
    }
}

#[tokio::test]
async fn default_page_sizes_are_the_largest_the_api_takes() {
    let spec = GenSpec {
        users: 120,
        entries: 2600,
        projects: 60,
        ..GenSpec::default()
    };
    let (sim, running) = serve(&spec).await;
    let client = clockify_client(&running);
    let ws = ws(&spec);
    let (users, pages) = collect_pages(client.users(&ws)).await.unwrap();
    assert_eq!(
        (users.len(), pages),
        (120, 1),
        "more than the default 50, in one request"
    );
    let range = may_2025(chrono_tz::UTC);
    let (entries, _) = collect_pages(client.time_entries(&ws, range))
        .await
        .unwrap();
    assert_eq!(entries.len(), 2600);
    let report_calls = sim
        .ctl
        .count("POST /report/v1/workspaces/{workspaceId}/reports/detailed");
    // Two windows (31 + 11 days) of 1000-entry pages.
    assert!(report_calls <= 5, "{report_calls} report calls");
    assert!(sim
        .ctl
        .log()
        .iter()
        .any(|r| r.query.contains("page-size=5000")));
}

#[tokio::test]
async fn report_and_per_user_reads_give_the_same_entries() {
    let spec = spec();
    let (_sim, running) = serve(&spec).await;
    let ws = ws(&spec);
    let range = may_2025(chrono_tz::America::New_York);
    let mut cfg = clockify_config(&running, CLOCKIFY_KEY);
    cfg.entry_source = EntrySource::PerUser;
    let per_user = ClockifyClient::new(cfg).unwrap();
    let by_report = clockify_client(&running);
    let sorted = |mut v: Vec<TimeEntry>| {
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    };
    let (a, _) = collect_pages(by_report.time_entries(&ws, range))
        .await
        .unwrap();
    let (b, _) = collect_pages(per_user.time_entries(&ws, range))
        .await
        .unwrap();
    assert_eq!(a.len(), 297);
    assert_eq!(sorted(a), sorted(b));
}

#[tokio::test]
async fn falls_back_to_per_user_reads_where_the_report_is_unavailable() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    sim.data.write().unwrap().workspaces[0].reports_available = false;
    let client = clockify_client(&running);
    let (entries, _) = collect_pages(client.time_entries(&ws(&spec), may_2025(chrono_tz::UTC)))
        .await
        .unwrap();
    assert_eq!(entries.len(), 297);
    assert_eq!(
        sim.ctl
            .count("POST /report/v1/workspaces/{workspaceId}/reports/detailed"),
        1
    );
    assert_eq!(
        sim.ctl
            .count("GET /api/v1/workspaces/{workspaceId}/user/{userId}/time-entries"),
        12
    );
}

#[tokio::test]
async fn free_plan_report_ranges_are_asked_for_in_31_day_windows() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    sim.data.write().unwrap().workspaces[0].plan = Plan::Free;
    let client = clockify_client(&running);
    let (entries, _) = collect_pages(client.time_entries(&ws(&spec), may_2025(chrono_tz::UTC)))
        .await
        .unwrap();
    assert_eq!(entries.len(), 297);
    assert!(sim.ctl.log().iter().all(|r| r.status == 200));
}

#[tokio::test]
async fn a_429_storm_is_survived_with_nothing_lost_and_retry_after_obeyed() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    sim.ctl.set_rate_limit(Some(ServerRateLimit {
        requests: 3,
        per: Duration::from_secs(1),
    }));
    sim.ctl.set_retry_after(true);
    let client = small_pages(&running);
    let (projects, _) = collect_pages(client.projects(&ws(&spec))).await.unwrap();
    let ids: HashSet<_> = projects.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        (projects.len(), ids.len()),
        (14, 14),
        "nothing lost, nothing twice"
    );
    // Retry-After was 1 s: each retry waited for it.
    assert_waited_after_429s(&sim.ctl.log(), Duration::from_millis(950));
}

#[tokio::test]
async fn without_retry_after_the_client_backs_off_on_its_own() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    sim.ctl.fail_next([Fault::Status(429); 5]);
    let client = small_pages(&running);
    let (clients, _) = collect_pages(client.clients(&ws(&spec))).await.unwrap();
    assert_eq!(clients.len(), 9);
    assert_eq!(sim.ctl.log().iter().filter(|r| r.status == 429).count(), 5);
}

#[tokio::test]
async fn a_5xx_burst_dropped_connections_and_broken_bodies_are_survived() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    sim.ctl.fail_next([
        Fault::Status(503),
        Fault::Status(500),
        Fault::Drop,
        Fault::Malformed,
        Fault::Status(502),
    ]);
    let client = small_pages(&running);
    let (users, _) = collect_pages(client.users(&ws(&spec))).await.unwrap();
    assert_eq!(users.len(), 12);
    let ids: HashSet<_> = users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids.len(), 12);
}

#[tokio::test]
async fn an_endless_outage_ends_as_a_transient_error() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    sim.ctl.fail_next([Fault::Status(503); 50]);
    let err = clockify_client(&running).workspaces().await.unwrap_err();
    assert_eq!(err.class(), FailureClass::Transient);
    assert_eq!(
        sim.ctl.count("GET /api/v1/workspaces"),
        6,
        "max_attempts, then stop"
    );
    assert!(err.to_string().contains("GET /v1/workspaces"), "{err}");
}

#[tokio::test]
async fn a_rejected_key_is_reported_as_such_without_retries() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    let client = ClockifyClient::new(clockify_config(&running, "wrong-key")).unwrap();
    let err = client
        .projects(&ws(&spec))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.class(), FailureClass::CredentialsRejected);
    assert!(matches!(
        err,
        ApiError::CredentialsRejected { status: 401, .. }
    ));
    assert_eq!(sim.ctl.total(), 1);
}

#[tokio::test]
async fn other_4xx_are_permanent_and_name_the_request() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    let client = clockify_client(&running);
    let err = client
        .clients(&WorkspaceId::new("no-such-workspace"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.class(), FailureClass::Permanent);
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string()
            .contains("GET /v1/workspaces/{workspaceId}/clients"),
        "{err}"
    );
    assert_eq!(sim.ctl.total(), 1);
}

#[tokio::test]
async fn the_key_s_user_and_the_workspaces_where_it_is_admin() {
    use shared::clockify::WorkspaceRole;
    let spec = spec();
    let sim = ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec!["member-key".into()],
        workspaces: vec![workspace(&spec)],
    });
    let running = sim.spawn().await.unwrap();
    let admin = ClockifyClient::new(clockify_config(&running, CLOCKIFY_KEY)).unwrap();
    let member = ClockifyClient::new(clockify_config(&running, "member-key")).unwrap();
    assert!(!admin.current_user().await.unwrap().id.is_empty());
    assert!(!member.current_user().await.unwrap().name.is_empty());
    let ids = |w: Vec<shared::clockify::Workspace>| w.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(
        ids(admin
            .workspaces_with_role(WorkspaceRole::Admin)
            .await
            .unwrap()),
        [ws(&spec)]
    );
    assert!(admin
        .workspaces_with_role(WorkspaceRole::Owner)
        .await
        .unwrap()
        .is_empty());
    assert!(member
        .workspaces_with_role(WorkspaceRole::Admin)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(ids(member.workspaces().await.unwrap()), [ws(&spec)]);
    let stranger = ClockifyClient::new(clockify_config(&running, "nobody")).unwrap();
    let err = stranger.current_user().await.unwrap_err();
    assert_eq!(err.class(), FailureClass::CredentialsRejected);
}

#[tokio::test]
async fn user_groups_page_like_every_list_carry_their_members_and_survive_a_5xx() {
    let spec = GenSpec {
        groups: 9,
        ..spec()
    };
    let (sim, running) = serve(&spec).await;
    let client = small_pages(&running);
    let ws = ws(&spec);
    // The same retry core as every read: a 503 on the first page is retried.
    sim.ctl.fail_next([Fault::Status(503)]);
    let (groups, pages) = collect_pages(client.user_groups(&ws)).await.unwrap();
    assert_eq!((groups.len(), pages), (9, 3));
    let endpoint = "GET /api/v1/workspaces/{workspaceId}/user-groups";
    assert_eq!(sim.ctl.count(endpoint), 4, "three pages and one retry");
    // Sorted by id, so no group moves between pages; each with its members.
    let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let users = workspace(&spec).users;
    let members: usize = groups.iter().map(|g| g.user_ids.len()).sum();
    assert_eq!(members, users.len(), "every user is in one group");
    let first = groups.iter().find(|g| g.name == "Group 0").unwrap();
    assert_eq!(
        first.user_ids,
        [&users[0].id, &users[9].id].map(|u| shared::ids::ClockifyUserId::new(u.clone()))
    );
    for r in sim.ctl.log().iter().filter(|r| r.endpoint == endpoint) {
        assert!(r.query.contains("page-size=4"), "{}", r.query);
    }
}

// ---- Webhooks ---------------------------------------------------------------------------

const HOOK_URL: &str = "https://api.example/webhooks/clockify/acc-1";

fn free_sim(spec: &GenSpec) -> ClockifySim {
    let sim = sim_with(spec);
    sim.data.write().unwrap().workspaces[0].plan = Plan::Free;
    sim
}

/// A webhook for `event` on `ws`, pointing at our route.
fn ours(ws: &WorkspaceId, event: WebhookEvent) -> NewWebhook {
    NewWebhook::for_workspace(ws, HOOK_URL, event)
}

#[tokio::test]
async fn webhooks_are_created_and_listed_through_the_client() {
    let spec = spec();
    let sim = free_sim(&spec);
    let running = sim.spawn().await.unwrap();
    let client = clockify_client(&running);
    let ws = ws(&spec);
    let customer = "https://customer.example/hook";
    let foreign = sim
        .seed_webhook(ws.as_str(), customer, "EXPENSE_CREATED")
        .unwrap();

    let mut named = ours(&ws, WebhookEvent::NewTimeEntry);
    named.name = Some("Runn".into());
    let first = client.create_webhook(&ws, &named).await.unwrap();
    let second = client
        .create_webhook(&ws, &ours(&ws, WebhookEvent::TimerStopped))
        .await
        .unwrap();
    assert_eq!((first.name.as_deref(), &second.name), (Some("Runn"), &None));
    assert_eq!(first.url, HOOK_URL);
    assert_eq!(first.webhook_event, WebhookEvent::NewTimeEntry);
    assert!(first.enabled && first.delivery_enabled && first.plan_enabled);
    // The token is the one Clockify will send with each delivery.
    let stored = sim.webhooks(ws.as_str());
    assert_eq!(first.auth_token.expose_secret(), stored[1].auth_token);
    let (t1, t2) = (
        first.auth_token.expose_secret(),
        second.auth_token.expose_secret(),
    );
    assert_ne!(t1, t2);

    // The list holds ours and the customer's, the latter's event kept as it came.
    assert!(sim.disable_delivery(ws.as_str(), second.id.as_str()));
    let listed = client.webhooks(&ws).await.unwrap();
    assert_eq!(listed.len(), 3);
    let theirs = listed.iter().find(|h| h.id.as_str() == foreign.id).unwrap();
    let other = WebhookEvent::Other("EXPENSE_CREATED".into());
    assert_eq!(
        (theirs.url.as_str(), &theirs.webhook_event),
        (customer, &other)
    );
    let again = listed.iter().find(|h| h.id == second.id).unwrap();
    assert!(!again.delivery_enabled, "Clockify gave up on it");
    assert_eq!(again.auth_token.expose_secret(), t2);

    // Past the free plan's 3 (the customer's counted): refused, permanently.
    let err = client
        .create_webhook(&ws, &ours(&ws, WebhookEvent::NewProject))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.class(), FailureClass::Permanent);
    assert_eq!(sim.webhooks(ws.as_str()).len(), 3);
}

#[tokio::test]
async fn a_webhook_delete_answers_false_once_it_is_gone() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    let client = clockify_client(&running);
    let ws = ws(&spec);
    let foreign = sim
        .seed_webhook(ws.as_str(), "https://customer.example/hook", "NEW_CLIENT")
        .unwrap();
    let first = client
        .create_webhook(&ws, &ours(&ws, WebhookEvent::NewTimeEntry))
        .await
        .unwrap();
    let second = client
        .create_webhook(&ws, &ours(&ws, WebhookEvent::TimeEntryDeleted))
        .await
        .unwrap();
    assert!(client.delete_webhook(&ws, &first.id).await.unwrap());
    assert!(!client.delete_webhook(&ws, &first.id).await.unwrap());
    let missing = WebhookId::new("ffffffffffffffffffffffff");
    assert!(!client.delete_webhook(&ws, &missing).await.unwrap());
    // Only the one named went; the customer's stays.
    let left: Vec<WebhookId> = client
        .webhooks(&ws)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(left, [WebhookId::new(foreign.id), second.id]);
}

#[tokio::test]
async fn a_webhooks_token_never_shows_in_debug_output() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    let client = clockify_client(&running);
    let ws = ws(&spec);
    let made = client
        .create_webhook(
            &ws,
            &NewWebhook::for_workspace(&ws, HOOK_URL, WebhookEvent::NewClient),
        )
        .await
        .unwrap();
    let listed = client.webhooks(&ws).await.unwrap();
    let token = sim.webhooks(ws.as_str())[0].auth_token.clone();
    assert!(token.len() > 20);
    for shown in [
        format!("{made:?}"),
        format!("{made:#?}"),
        format!("{listed:?}"),
    ] {
        assert!(!shown.contains(&token), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}

#[tokio::test]
async fn a_webhook_create_is_not_resent_after_an_unclear_answer() {
    let spec = spec();
    let (sim, running) = serve(&spec).await;
    let client = clockify_client(&running);
    let ws = ws(&spec);
    let endpoint = "POST /api/v1/workspaces/{workspaceId}/webhooks";
    let new = NewWebhook::for_workspace(&ws, HOOK_URL, WebhookEvent::TimeEntryUpdated);
    // Carried out, its answer lost: the client cannot know, so it does not send it again.
    sim.ctl.fail_next_matching(
        "POST /api/v1/workspaces/{workspaceId}/webhooks",
        Fault::LoseAnswer,
    );
    let err = client.create_webhook(&ws, &new).await.unwrap_err();
    assert!(matches!(err, ApiError::Unclear { .. }), "{err:?}");
    assert_eq!(sim.ctl.count(endpoint), 1);
    assert_eq!(sim.webhooks(ws.as_str()).len(), 1, "it was made once");
    // A 429 surely did nothing: that one is sent again.
    sim.ctl.fail_next_matching("POST ", Fault::Status(429));
    client.create_webhook(&ws, &new).await.unwrap();
    assert_eq!(sim.ctl.count(endpoint), 3);
    assert_eq!(sim.webhooks(ws.as_str()).len(), 2);
    // A delete may be sent again: a 503 before it is retried and it still answers true.
    let id = WebhookId::new(sim.webhooks(ws.as_str())[0].id.clone());
    sim.ctl.fail_next([Fault::Status(503)]);
    assert!(client.delete_webhook(&ws, &id).await.unwrap());
    assert_eq!(sim.webhooks(ws.as_str()).len(), 1);
}

#[tokio::test]
async fn a_members_key_may_not_manage_webhooks() {
    let spec = spec();
    let sim = sim_with(&spec);
    sim.data
        .write()
        .unwrap()
        .member_keys
        .push("member-key-1".into());
    let running = sim.spawn().await.unwrap();
    let client = ClockifyClient::new(clockify_config(&running, "member-key-1")).unwrap();
    let ws = ws(&spec);
    let err = client.webhooks(&ws).await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    let err = client
        .create_webhook(
            &ws,
            &NewWebhook::for_workspace(&ws, HOOK_URL, WebhookEvent::NewTimeEntry),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    assert!(sim.webhooks(ws.as_str()).is_empty());
}
