//! The Runn client against the Runn simulator over HTTP.

use chrono::NaiveDate;
use futures::TryStreamExt;
use serde_json::json;
use shared::ids::RunnRoleId;
use shared::runn::*;
use shared::{ApiError, FailureClass};
use sims::common::{Fault, ServerRateLimit};
use sims::runn::{RunnData, RunnSim};
use sims::testkit::*;
use std::collections::HashSet;
use std::time::Duration;

fn sim() -> RunnSim {
    RunnSim::new(RunnData::new([RUNN_TOKEN]))
}

fn small_pages(running: &sims::common::Running) -> RunnClient {
    let mut cfg = runn_config(running, RUNN_TOKEN);
    cfg.limit = 3;
    cfg.limit_large = 4;
    RunnClient::new(cfg).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Fills Runn through the client itself: 7 clients, 7 projects, 2 tags, 7 people, roles,
/// actuals and assignments.
async fn populate(c: &RunnClient) -> (Vec<Project>, Vec<Person>, Role) {
    let new_clients: Vec<NewClient> = (0..7)
        .map(|i| NewClient {
            name: format!("Client {i}"),
            website: None,
            references: vec![Reference::clockify(format!("c{i}"))],
        })
        .collect();
    let clients = c.create_clients_bulk(&new_clients).await.unwrap();
    assert_eq!(clients.len(), 7);
    let role = c
        .create_role(&NewRole {
            name: "Unknown".into(),
            references: vec![],
        })
        .await
        .unwrap();
    for i in 0..4 {
        c.create_role(&NewRole {
            name: format!("Role {i}"),
            references: vec![],
        })
        .await
        .unwrap();
    }
    let mut projects = vec![];
    let mut people = vec![];
    for i in 0..7 {
        projects.push(
            c.create_project(&NewProject {
                name: format!("Project {i}"),
                client_id: clients[i % clients.len()].id,
                is_confirmed: None,
                pricing_model: None,
                references: vec![Reference::clockify(format!("p{i}"))],
            })
            .await
            .unwrap(),
        );
        people.push(
            c.create_person(&NewPerson {
                first_name: format!("First{i}"),
                last_name: "Last".into(),
                role_id: role.id,
                email: Some(format!("p{i}@example.com")),
                references: vec![Reference::clockify(format!("u{i}"))],
                start_date: None,
            })
            .await
            .unwrap(),
        );
    }
    for name in ["sync_off", "billable"] {
        let tag = c.create_project_tag(name).await.unwrap();
        c.add_tag_to_project(tag.id, projects[0].id).await.unwrap();
    }
    let actuals: Vec<ActualInput> = (0..9)
        .map(|i| ActualInput {
            date: day("2025-05-01") + chrono::Duration::days(i),
            billable_minutes: 60,
            nonbillable_minutes: 0,
            person_id: people[0].id,
            project_id: projects[0].id,
            role_id: role.id,
            billable_note: None,
            nonbillable_note: None,
            workstream_id: None,
        })
        .collect();
    assert_eq!(c.upsert_actuals_bulk(&actuals).await.unwrap().len(), 9);
    (projects, people, role)
}

#[tokio::test]
async fn every_list_pages_through_more_than_one_page() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = small_pages(&running);
    let (projects, people, _) = populate(&c).await;
    for i in 0..5 {
        sim.seed(
            sims::runn::Kind::Assignment,
            json!({"personId": people[i].id.0, "projectId": projects[i].id.0, "roleId": 1, "startDate": "2025-05-01",
                   "endDate": "2025-05-09", "minutesPerDay": 240, "isActive": true, "note": null, "isBillable": true,
                   "phaseId": null, "isNonWorkingDay": false, "isTemplate": false, "isPlaceholder": false, "workstreamId": null}),
        );
    }

    let (clients, pages) = collect_pages(c.clients(None)).await.unwrap();
    assert_eq!((clients.len(), pages), (7, 3));
    let (projects_listed, pages) = collect_pages(c.projects(&ProjectFilter {
        include_archived: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!((projects_listed.len(), pages), (7, 3));
    let tagged = projects_listed
        .iter()
        .find(|p| p.id == projects[0].id)
        .unwrap();
    assert_eq!(tagged.tags.len(), 2);
    let (people_listed, pages) = collect_pages(c.people(&PeopleFilter::default()))
        .await
        .unwrap();
    assert_eq!((people_listed.len(), pages), (7, 3));
    let (roles, pages) = collect_pages(c.roles(None)).await.unwrap();
    assert_eq!((roles.len(), pages), (5, 2));
    let (contracts, pages) = collect_pages(c.current_contracts()).await.unwrap();
    assert_eq!((contracts.len(), pages), (7, 2));
    let (actuals, pages) = collect_pages(c.actuals(&DatedFilter::default()))
        .await
        .unwrap();
    assert_eq!((actuals.len(), pages), (9, 3));
    let (assignments, pages) = collect_pages(c.assignments(&DatedFilter::default()))
        .await
        .unwrap();
    assert_eq!((assignments.len(), pages), (5, 2));

    // Tags need more than one page too.
    for i in 0..3 {
        c.create_project_tag(&format!("tag{i}")).await.unwrap();
    }
    let (tags, pages) = collect_pages(c.project_tags(false)).await.unwrap();
    assert_eq!((tags.len(), pages), (5, 2));

    // No duplicates across pages.
    let ids: HashSet<_> = people_listed.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 7);
}

#[tokio::test]
async fn default_limits_are_the_largest_each_endpoint_takes() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    collect_pages(c.clients(None)).await.unwrap();
    collect_pages(c.actuals(&DatedFilter::default()))
        .await
        .unwrap();
    collect_pages(c.current_contracts()).await.unwrap();
    let log = sim.ctl.log();
    let query = |ep: &str| log.iter().find(|r| r.endpoint == ep).unwrap().query.clone();
    assert!(query("GET /clients/").contains("limit=200"));
    assert!(query("GET /clients/").contains("sortBy=id"));
    assert!(query("GET /actuals/").contains("limit=500"));
    assert!(query("GET /people/contracts/current").contains("limit=500"));
}

#[tokio::test]
async fn filters_find_records_by_external_id_and_date() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    let (_, _, role) = populate(&c).await;
    let (found, _) = collect_pages(c.people(&PeopleFilter {
        external_id: Some("u3".into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].first_name, "First3");
    let (found, _) = collect_pages(c.projects(&ProjectFilter {
        external_id: Some("p5".into()),
        include_archived: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(found[0].name, "Project 5");
    let (week, _) = collect_pages(c.actuals(&DatedFilter {
        min_date: Some(day("2025-05-03")),
        max_date: Some(day("2025-05-05")),
        role_id: Some(role.id),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(week.len(), 3);
}

#[tokio::test]
async fn actuals_upsert_replaces_the_days_minutes() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    let (projects, people, role) = populate(&c).await;
    let one = |minutes| ActualInput {
        date: day("2025-05-01"),
        billable_minutes: minutes,
        nonbillable_minutes: 15,
        person_id: people[0].id,
        project_id: projects[0].id,
        role_id: role.id,
        billable_note: None,
        nonbillable_note: None,
        workstream_id: None,
    };
    let first = c.upsert_actuals_bulk(&[one(120)]).await.unwrap();
    let second = c.upsert_actuals_bulk(&[one(30)]).await.unwrap();
    assert_eq!(first[0].id, second[0].id);
    assert_eq!(second[0].billable_minutes, 30.0);
    let (all_actuals, _) = collect_pages(c.actuals(&DatedFilter {
        min_date: Some(day("2025-05-01")),
        max_date: Some(day("2025-05-01")),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(all_actuals.len(), 1);
}

/// A populated Runn whose limit then drops to `per_second` requests a second.
async fn populated_then_rate_limited(
    retry_after: bool,
    per_second: u32,
) -> (RunnSim, sims::common::Running, RunnClient) {
    let sim = sim();
    sim.ctl.set_retry_after(retry_after);
    let running = sim.spawn().await.unwrap();
    let c = small_pages(&running);
    populate(&c).await;
    sim.ctl.reset_stats();
    sim.ctl.set_rate_limit(Some(ServerRateLimit {
        requests: per_second,
        per: Duration::from_secs(1),
    }));
    (sim, running, c)
}

#[tokio::test]
async fn a_429_storm_is_survived_with_nothing_lost_and_retry_after_obeyed() {
    let (sim, _running, c) = populated_then_rate_limited(true, 3).await;
    let (people, _) = collect_pages(c.people(&PeopleFilter::default()))
        .await
        .unwrap();
    let (clients, _) = collect_pages(c.clients(None)).await.unwrap();
    assert_eq!((people.len(), clients.len()), (7, 7), "nothing lost");
    assert_waited_after_429s(&sim.ctl.log(), Duration::from_millis(950));
}

#[tokio::test]
async fn x_ratelimit_reset_is_obeyed_when_retry_after_is_absent() {
    let (sim, _running, c) = populated_then_rate_limited(false, 2).await;
    let (clients, _) = collect_pages(c.clients(None)).await.unwrap();
    assert_eq!(clients.len(), 7);
    assert_waited_after_429s(&sim.ctl.log(), Duration::from_millis(450));
}

#[tokio::test]
async fn upserts_survive_a_5xx_burst_and_creates_stop_without_duplicates() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    let (projects, people, role) = populate(&c).await;
    let actual = ActualInput {
        date: day("2025-06-02"),
        billable_minutes: 90,
        nonbillable_minutes: 0,
        person_id: people[1].id,
        project_id: projects[1].id,
        role_id: role.id,
        billable_note: None,
        nonbillable_note: None,
        workstream_id: None,
    };
    let before = sim.data.lock().unwrap().actuals.len();
    // An upsert is safe to repeat: retried through the burst, written once.
    sim.ctl.fail_next([
        Fault::Status(503),
        Fault::Status(502),
        Fault::Drop,
        Fault::LoseAnswer,
        Fault::Status(500),
    ]);
    let written = c
        .upsert_actuals_bulk(std::slice::from_ref(&actual))
        .await
        .unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(sim.data.lock().unwrap().actuals.len(), before + 1);

    // A create is not: a 5xx ends it as transient, and nothing was created twice.
    sim.ctl.fail_next([Fault::Status(503)]);
    let new = NewClient {
        name: "Acme".into(),
        website: None,
        references: vec![Reference::clockify("c-new")],
    };
    let err = c
        .create_clients_bulk(std::slice::from_ref(&new))
        .await
        .unwrap_err();
    assert_eq!(err.class(), FailureClass::Transient);
    let clients = sim.data.lock().unwrap().clients.len();
    assert_eq!(clients, 7, "the failed create wrote nothing");
    // ... and a 429 before it, which surely was not carried out, is retried.
    sim.ctl.fail_next([Fault::Status(429)]);
    assert_eq!(c.create_clients_bulk(&[new]).await.unwrap().len(), 1);
    assert_eq!(sim.data.lock().unwrap().clients.len(), 8);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_sent_again() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    sim.ctl.fail_next([Fault::LoseAnswer]);
    let err = c
        .create_clients_bulk(&[NewClient {
            name: "Acme".into(),
            website: None,
            references: vec![Reference::clockify("c1")],
        }])
        .await
        .unwrap_err();
    assert_eq!(err.class(), FailureClass::Transient);
    assert!(err.is_unclear(), "{err:?}");
    assert!(err.to_string().contains("may have taken effect"), "{err}");
    assert_eq!(sim.ctl.count("POST /clients/bulk/"), 1, "not retried");
    assert_eq!(
        sim.data.lock().unwrap().clients.len(),
        1,
        "the write happened once"
    );

    // Reads and upserts, which are safe to repeat, are retried through the same fault.
    sim.ctl.fail_next([Fault::LoseAnswer]);
    let (clients, _) = collect_pages(c.clients(None)).await.unwrap();
    assert_eq!(clients.len(), 1);
}

#[tokio::test]
async fn a_rejected_token_is_reported_as_such_without_retries() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = RunnClient::new(runn_config(&running, "LIVE_revoked")).unwrap();
    let err = c.clients(None).try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(err.class(), FailureClass::CredentialsRejected);
    assert_eq!(sim.ctl.total(), 1);
}

#[tokio::test]
async fn runn_error_bodies_are_carried_into_the_error() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    let err = c
        .create_person(&NewPerson {
            first_name: "".into(),
            last_name: "X".into(),
            role_id: RunnRoleId(1),
            email: None,
            references: vec![],
            start_date: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), FailureClass::Permanent);
    match err {
        ApiError::Rejected {
            status: 400,
            runn: Some(body),
            request,
            ..
        } => {
            assert_eq!(body.error, "Bad Request");
            assert_eq!(body.status_code, 400);
            assert!(body.message.contains("firstName"), "{}", body.message);
            assert_eq!(request, "POST /people/");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(sim.ctl.total(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn bulk_calls_outside_1_to_100_are_refused_before_sending() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let c = runn_client(&running);
    let many: Vec<NewClient> = (0..101)
        .map(|i| NewClient {
            name: format!("c{i}"),
            website: None,
            references: vec![],
        })
        .collect();
    assert!(matches!(
        c.create_clients_bulk(&many).await,
        Err(ApiError::Invalid { .. })
    ));
    assert!(matches!(
        c.create_clients_bulk(&[]).await,
        Err(ApiError::Invalid { .. })
    ));
    assert!(matches!(
        c.upsert_actuals_bulk(&[]).await,
        Err(ApiError::Invalid { .. })
    ));
    assert_eq!(
        c.create_clients_bulk(&many[..100]).await.unwrap().len(),
        100
    );
    assert_eq!(sim.ctl.total(), 1);
}

#[tokio::test]
async fn no_retry_after_value_however_odd_crashes_the_client() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let mut cfg = runn_config(&running, RUNN_TOKEN);
    cfg.retry.max_rate_limited = 3;
    cfg.retry.max_server_wait = Duration::from_secs(300);
    let c = RunnClient::new(cfg).unwrap();
    // A server asking for 1e30 s used to panic converting it to a Duration (exit 101).
    for value in ["1e30", "inf", "-inf", "1e309", "NaN", "-7", "soon"] {
        sim.ctl.set_faults(sims::common::Faults {
            throttle_rate: 1.0,
            retry_after: Some(value.into()),
            ..Default::default()
        });
        let err = c.me().await.expect_err(value);
        assert_eq!(err.class(), FailureClass::Transient, "{value}: {err}");
    }
}

#[tokio::test]
async fn a_wait_that_would_pass_the_runs_deadline_ends_the_request_at_once() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    let mut cfg = runn_config(&running, RUNN_TOKEN);
    cfg.retry.max_server_wait = Duration::from_secs(300);
    cfg.deadline = Some(tokio::time::Instant::now() + Duration::from_secs(60));
    let c = RunnClient::new(cfg).unwrap();
    sim.ctl.set_faults(sims::common::Faults {
        throttle_rate: 1.0,
        retry_after: Some("120".into()),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let err = c.me().await.unwrap_err();
    assert!(err.is_out_of_time(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(sim.ctl.total(), 1, "one request, no wait");
}

#[tokio::test]
async fn a_key_is_never_sent_to_a_name_that_resolves_to_a_local_address() {
    let sim = sim();
    let running = sim.spawn().await.unwrap();
    // `localhost` passes the static check (it is a name) but resolves to 127.0.0.1: the
    // resolver refuses it at connect time, before anything is sent.
    let mut cfg = RunnConfig::new(
        RunnHost::Custom {
            url: format!("https://localhost:{}", running.addr.port())
                .parse()
                .unwrap(),
        },
        shared::SecretString::from(RUNN_TOKEN.to_owned()),
    );
    cfg.hosts = shared::hosts::HostPolicy::STRICT;
    cfg.retry = quick_retry();
    let c = RunnClient::new(cfg).unwrap();
    let err = c.me().await.unwrap_err();
    assert_eq!(err.class(), FailureClass::Permanent, "{err:?}");
    assert!(err.to_string().contains("resolves to 127.0.0.1"), "{err}");
    assert_eq!(sim.ctl.total(), 0, "nothing reached the server");

    // Plain http and address literals are refused before a client exists.
    for url in [
        "http://api.runn.example",
        "https://127.0.0.1:9001",
        "https://[::1]",
    ] {
        let mut cfg = RunnConfig::new(
            RunnHost::Custom {
                url: url.parse().unwrap(),
            },
            shared::SecretString::from(RUNN_TOKEN.to_owned()),
        );
        cfg.hosts = shared::hosts::HostPolicy::STRICT;
        assert!(RunnClient::new(cfg).is_err(), "{url}");
    }
}
