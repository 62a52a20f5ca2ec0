//! The import of clients, projects and people, end to end over HTTP against both
//! simulators: every rule of the integration, crash safety and continuation.

use serde_json::{json, Value};
use shared::clockify::{ClockifyClient, ClockifyConfig, ClockifyHost};
use shared::ids::WorkspaceId;
use shared::runn::RunnClient;
use shared::sync::{ImportReport, RecordKind, RunLimits, SkipReason, Switches};
use shared::FailureClass;
use sims::clockify::ClockifySim;
use sims::common::{Fault, Running};
use sims::demo;
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::collections::HashMap;

const ALL: Switches = Switches::ALL;

struct Bed {
    clockify: ClockifySim,
    runn: RunnSim,
    _c: Running,
    _r: Running,
    cc: ClockifyClient,
    rc: RunnClient,
}

async fn bed() -> Bed {
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let c = clockify.spawn().await.unwrap();
    let r = runn.spawn().await.unwrap();
    let mut cfg: ClockifyConfig = clockify_config(&c, demo::API_KEY);
    cfg.host = ClockifyHost::Server { url: c.url() };
    let cc = ClockifyClient::new(cfg).unwrap();
    let rc = runn_client(&r);
    Bed {
        clockify,
        runn,
        _c: c,
        _r: r,
        cc,
        rc,
    }
}

impl Bed {
    async fn import(&self, limits: RunLimits<'_>) -> Result<ImportReport, shared::sync::SyncError> {
        run_import(
            &WorkspaceId::new(demo::WORKSPACE_ID),
            &self.cc,
            &self.rc,
            ALL,
            limits,
        )
        .await
    }

    /// Clockify id → how many Runn records of `kind` carry it.
    fn refs(&self, kind: Kind) -> HashMap<String, usize> {
        let mut d = self.runn.data.lock().unwrap();
        let mut out = HashMap::new();
        for v in kind.table(&mut d).values() {
            for r in v["references"].as_array().into_iter().flatten() {
                if r["referenceName"] == "Clockify" {
                    *out.entry(r["externalId"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
            }
        }
        out
    }

    fn record(&self, kind: Kind, clockify_id: &str) -> Value {
        let mut d = self.runn.data.lock().unwrap();
        kind.table(&mut d)
            .values()
            .find(|v| {
                v["references"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r["externalId"] == clockify_id))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no Runn record for {clockify_id}"))
    }

    /// Exactly one Runn record per imported Clockify record, and nothing else.
    fn assert_exactly_once(&self) {
        let ones = |kind| {
            let refs = self.refs(kind);
            assert!(
                refs.values().all(|n| *n == 1),
                "{kind:?} duplicated: {refs:?}"
            );
            let mut ids: Vec<String> = refs.into_keys().collect();
            ids.sort();
            ids
        };
        assert_eq!(
            ones(Kind::Client),
            [
                "c0000000000000000000c001",
                "c0000000000000000000c002",
                "c0000000000000000000c003"
            ]
        );
        assert_eq!(
            ones(Kind::Project),
            [
                "p0000000000000000000p001",
                "p0000000000000000000p002",
                "p0000000000000000000p003",
                "p0000000000000000000p004"
            ]
        );
        assert_eq!(ones(Kind::Person).len(), 5);
        let d = self.runn.data.lock().unwrap();
        assert_eq!(
            d.roles.values().filter(|r| r["name"] == "Unknown").count(),
            1,
            "one Unknown role"
        );
    }
}

fn skipped(report: &ImportReport, reason: SkipReason) -> Vec<&str> {
    report
        .skipped
        .iter()
        .filter(|g| g.reason == reason)
        .flat_map(|g| g.records.named.iter().map(|n| n.clockify_id.as_str()))
        .collect()
}

#[tokio::test]
async fn a_first_import_follows_every_rule_and_a_second_changes_nothing() {
    let bed = bed().await;
    let first = bed.import(RunLimits::default()).await.unwrap();
    assert!(first.finished);
    assert_eq!(
        (
            first.created.clients,
            first.created.projects,
            first.created.people
        ),
        (3, 4, 5)
    );
    assert_eq!(
        first.writes, 11,
        "1 bulk client call + 4 projects + the Unknown role + 5 people"
    );
    assert_eq!(
        skipped(&first, SkipReason::Archived),
        ["c0000000000000000000c004", "p0000000000000000000p005"]
    );
    assert_eq!(
        skipped(&first, SkipReason::MissingClient),
        ["p0000000000000000000p006", "p0000000000000000000p007"]
    );
    assert_eq!(
        skipped(&first, SkipReason::ClientNotImported),
        ["p0000000000000000000p008"]
    );
    assert_eq!(
        skipped(&first, SkipReason::NotActiveMember),
        ["u0000000000000000000u006"]
    );
    assert_eq!(first.people_on_unknown_role, 5);
    assert!(first.failed.is_empty());
    bed.assert_exactly_once();

    // Projects hang under the right client; people carry split names, email, Unknown role.
    let acme = bed.record(Kind::Client, "c0000000000000000000c001");
    let app = bed.record(Kind::Project, "p0000000000000000000p002");
    assert_eq!(app["clientId"], acme["id"]);
    assert_eq!(app["name"], "Acme Mobile App");
    let names = |id: &str| {
        let p = bed.record(Kind::Person, id);
        (
            p["firstName"].as_str().unwrap().to_owned(),
            p["lastName"].as_str().unwrap().to_owned(),
            p["email"].clone(),
        )
    };
    assert_eq!(
        names("u0000000000000000000u002"),
        (
            "Émilie".into(),
            "Nguyễn".into(),
            json!("emilie@agency.example")
        )
    );
    assert_eq!(
        names("u0000000000000000000u003"),
        ("Mei".into(), "-".into(), json!("mei@agency.example"))
    );
    assert_eq!(names("u0000000000000000000u004").0, "James");
    assert_eq!(names("u0000000000000000000u004").1, "O'Neil");
    assert_eq!(names("u0000000000000000000u005").1, "van der Berg");

    // Nothing is ever written to Clockify.
    assert!(bed
        .clockify
        .ctl
        .counts()
        .keys()
        .all(|k| k.starts_with("GET ") || k.contains("reports/detailed")));

    let before = bed.runn.ctl.counts();
    let second = bed.import(RunLimits::default()).await.unwrap();
    assert!(second.finished);
    assert_eq!(second.writes, 0);
    assert_eq!(
        (
            second.created.clients,
            second.created.projects,
            second.created.people
        ),
        (0, 0, 0)
    );
    assert_eq!(skipped(&second, SkipReason::AlreadyLinked).len(), 3 + 4 + 5);
    let after = bed.runn.ctl.counts();
    for (endpoint, n) in &after {
        if endpoint.starts_with("POST") {
            assert_eq!(
                before.get(endpoint),
                Some(n),
                "{endpoint} written on the second run"
            );
        }
    }
    bed.assert_exactly_once();
}

#[tokio::test]
async fn runns_references_are_the_truth() {
    let bed = bed().await;
    // A Runn user linked an existing client by hand, and archived a person after import.
    let hand = bed.runn.seed(
        Kind::Client,
        json!({"name": "ACME Corp (entered in Runn)", "website": null, "isArchived": false,
               "references": [{"referenceName": "Clockify", "externalId": "c0000000000000000000c001"}]}),
    );
    bed.import(RunLimits::default()).await.unwrap();
    assert_eq!(
        bed.refs(Kind::Client)["c0000000000000000000c001"],
        1,
        "the hand-linked client is not duplicated"
    );
    assert_eq!(
        bed.record(Kind::Project, "p0000000000000000000p001")["clientId"],
        json!(hand),
        "projects go under it"
    );

    let person = bed.record(Kind::Person, "u0000000000000000000u001")["id"]
        .as_i64()
        .unwrap();
    bed.runn
        .data
        .lock()
        .unwrap()
        .people
        .get_mut(&person)
        .unwrap()["isArchived"] = json!(true);
    // A project deleted in Runn after import is created again.
    let project = bed.record(Kind::Project, "p0000000000000000000p004")["id"]
        .as_i64()
        .unwrap();
    bed.runn.data.lock().unwrap().projects.remove(&project);

    let again = bed.import(RunLimits::default()).await.unwrap();
    assert_eq!(
        (
            again.created.clients,
            again.created.projects,
            again.created.people
        ),
        (0, 1, 0)
    );
    assert_eq!(
        bed.record(Kind::Person, "u0000000000000000000u001")["isArchived"],
        true,
        "stays archived"
    );
    assert_eq!(
        bed.refs(Kind::Person)["u0000000000000000000u001"],
        1,
        "not recreated"
    );
    assert_eq!(bed.refs(Kind::Project)["p0000000000000000000p004"], 1);
}

#[tokio::test]
async fn switches_choose_what_is_imported() {
    let bed = bed().await;
    let only_people = Switches {
        actuals: false,
        clients_and_projects: false,
        people: true,
    };
    let r = run_import(
        &WorkspaceId::new(demo::WORKSPACE_ID),
        &bed.cc,
        &bed.rc,
        only_people,
        RunLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.created.clients, r.created.projects, r.created.people),
        (0, 0, 5)
    );
    assert_eq!(
        bed.clockify
            .ctl
            .count("GET /api/v1/workspaces/{workspaceId}/projects"),
        0
    );
}

#[tokio::test]
async fn stopped_after_any_write_a_rerun_ends_with_exactly_one_record_each() {
    for stop_after in 0..11 {
        let bed = bed().await;
        let partial = bed
            .import(RunLimits {
                max_writes: Some(stop_after),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!partial.finished, "stopped after {stop_after} writes");
        assert_eq!(partial.writes, stop_after);
        let rest = bed.import(RunLimits::default()).await.unwrap();
        assert!(rest.finished);
        assert_eq!(
            partial.writes + rest.writes,
            11,
            "no write repeated (stop after {stop_after})"
        );
        bed.assert_exactly_once();
    }
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_looked_up_and_the_run_goes_on() {
    // Lose the answer of each write in turn: the write lands, the run looks the record up
    // (by externalId, or by re-listing clients), finds it, and carries on to the end.
    for nth_write in 0..11 {
        let bed = bed().await;
        let posts = |bed: &Bed| {
            bed.runn
                .ctl
                .counts()
                .iter()
                .filter(|(k, _)| k.starts_with("POST"))
                .map(|(_, n)| *n)
                .sum::<u64>()
        };
        // The first `nth_write` writes go through; the answer to the next one is lost.
        let stopped = bed
            .import(RunLimits {
                max_writes: Some(nth_write),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!stopped.finished);
        assert_eq!(posts(&bed), nth_write as u64);
        lose_next_post(&bed.runn);
        let run = bed.import(RunLimits::default()).await.unwrap();
        assert!(run.finished, "one run finishes despite the lost answer");
        // One record looked up (three for the bulk call of clients, by one re-list).
        let expected = if nth_write == 0 { 3 } else { 1 };
        assert_eq!(run.lookups.count, expected, "after write {nth_write}");
        assert!(
            run.lookups.named.iter().all(|l| l.found),
            "the write had landed"
        );
        assert_eq!(
            posts(&bed),
            11,
            "no write sent twice (lost write {nth_write})"
        );
        bed.assert_exactly_once();
    }
}

#[tokio::test]
async fn a_write_that_failed_before_landing_is_looked_up_then_sent_once_more() {
    let bed = bed().await;
    // A project create answered 503 without being stored: the look-up finds nothing, and
    // the project is created once more.
    bed.runn
        .ctl
        .fail_next_matching("POST /projects/", Fault::Status(503));
    let run = bed.import(RunLimits::default()).await.unwrap();
    assert!(run.finished);
    assert_eq!(run.lookups.count, 1);
    assert!(!run.lookups.named[0].found);
    assert_eq!(run.lookups.named[0].kind, RecordKind::Project);
    bed.assert_exactly_once();
}

#[tokio::test]
async fn under_5xx_and_lost_answers_one_run_imports_everything_exactly_once() {
    use sims::generate::{workspace, GenSpec};
    let spec = GenSpec {
        users: 60,
        clients: 30,
        projects: 150,
        entries: 0,
        ..GenSpec::default()
    };
    let clockify = ClockifySim::new(sims::clockify::ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![workspace(&spec)],
    });
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let mut cfg = clockify_config(&c, CLOCKIFY_KEY);
    cfg.host = ClockifyHost::Server { url: c.url() };
    let cc = ClockifyClient::new(cfg).unwrap();
    let rc = runn_client(&r);
    // 10 % of requests fail with 503 before doing anything, 5 % of writes are stored and
    // then answered 500, and every 4th write is stored and its answer lost.
    runn.ctl.set_faults(sims::common::Faults {
        error_rate: 0.10,
        error_after_write_rate: 0.05,
        lose_every_nth_write: 4,
        ..Default::default()
    });
    let ws = WorkspaceId::new(spec.workspace_id.clone());
    let report = run_import(&ws, &cc, &rc, ALL, RunLimits::default())
        .await
        .expect("one run finishes");
    assert!(report.finished);
    runn.ctl.set_faults(Default::default());
    let (clients, projects, people) = (spec.clients, spec.projects, spec.users);
    assert_eq!(
        (
            report.created.clients,
            report.created.projects,
            report.created.people
        ),
        (clients, projects, people)
    );
    let count = |kind: Kind| {
        let mut d = runn.data.lock().unwrap();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for v in kind.table(&mut d).values() {
            for rf in v["references"].as_array().into_iter().flatten() {
                *seen
                    .entry(rf["externalId"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        assert!(seen.values().all(|n| *n == 1), "{kind:?} duplicated");
        seen.len()
    };
    assert_eq!(
        (
            count(Kind::Client),
            count(Kind::Project),
            count(Kind::Person)
        ),
        (clients, projects, people),
        "nothing lost, nothing twice"
    );
    assert!(report.lookups.count >= (clients / 100 + projects + people) / 4);
    println!(
        "fault run: 1 run, {} writes, {} look-ups ({} found the write had landed)",
        report.writes,
        report.lookups.count,
        report.lookups.named.iter().filter(|l| l.found).count()
    );
    // A second run finds everything linked and writes nothing.
    let again = run_import(&ws, &cc, &rc, ALL, RunLimits::default())
        .await
        .unwrap();
    assert_eq!((again.writes, again.lookups.count), (0, 0));
}

#[tokio::test]
async fn a_link_typed_by_hand_counts_whatever_the_case_of_its_name() {
    let bed = bed().await;
    // A customer created the project, a client and a person in Runn and typed the
    // Clockify ids into their references with their own spelling of the name.
    let p001 = "p0000000000000000000p001";
    let c001 = "c0000000000000000000c001";
    let people = bed.cc.users(&WorkspaceId::new(demo::WORKSPACE_ID));
    let (users, _) = collect_pages(people).await.unwrap();
    let u = users[0].id.to_string();
    let hand_ref = |name: &str, id: &str| shared::runn::Reference {
        reference_name: name.into(),
        external_id: id.into(),
    };
    let client = bed
        .rc
        .create_client(&shared::runn::NewClient {
            name: "Hand client".into(),
            website: None,
            references: vec![hand_ref(" CLOCKIFY ", c001)],
        })
        .await
        .unwrap();
    bed.rc
        .create_project(&shared::runn::NewProject {
            name: "Hand project".into(),
            client_id: client.id,
            is_confirmed: None,
            pricing_model: None,
            references: vec![hand_ref("clockify", p001)],
        })
        .await
        .unwrap();
    let role = bed
        .rc
        .create_role(&shared::runn::NewRole {
            name: "Designer".into(),
            references: vec![],
        })
        .await
        .unwrap();
    bed.rc
        .create_person(&shared::runn::NewPerson {
            first_name: "Hand".into(),
            last_name: "Made".into(),
            role_id: role.id,
            email: None,
            references: vec![hand_ref("Clockify ", &u)],
            start_date: None,
        })
        .await
        .unwrap();
    let r = bed.import(RunLimits::default()).await.unwrap();
    assert_eq!(
        (r.created.clients, r.created.projects, r.created.people),
        (2, 3, 4),
        "the hand-linked client, project and person are not created again"
    );
    assert_eq!(r.skipped(RecordKind::Client, SkipReason::AlreadyLinked), 1);
    assert_eq!(r.skipped(RecordKind::Project, SkipReason::AlreadyLinked), 1);
    assert_eq!(r.skipped(RecordKind::Person, SkipReason::AlreadyLinked), 1);
    let again = bed.import(RunLimits::default()).await.unwrap();
    assert_eq!(again.writes, 0);
    // What the project writes itself is spelled "Clockify".
    let created = bed.record(Kind::Project, "p0000000000000000000p002");
    assert_eq!(created["references"][0]["referenceName"], "Clockify");
}

/// Arms the simulator to carry out the next POST and lose its answer.
fn lose_next_post(runn: &RunnSim) {
    runn.ctl.fail_next_matching("POST ", Fault::LoseAnswer);
}

#[tokio::test]
async fn a_long_import_continues_where_it_stopped() {
    let bed = bed().await;
    let mut runs = 0;
    let mut total = (0, 0, 0);
    loop {
        runs += 1;
        let r = bed
            .import(RunLimits {
                max_writes: Some(3),
                ..Default::default()
            })
            .await
            .unwrap();
        total = (
            total.0 + r.created.clients,
            total.1 + r.created.projects,
            total.2 + r.created.people,
        );
        assert!(r.writes <= 3);
        if r.finished {
            break;
        }
        assert!(runs < 10, "no progress");
    }
    assert_eq!(runs, 4, "11 writes, 3 per run");
    assert_eq!(total, (3, 4, 5));
    bed.assert_exactly_once();
}

#[tokio::test]
async fn a_deadline_already_passed_stops_before_any_write() {
    let bed = bed().await;
    let r = bed
        .import(RunLimits {
            deadline: Some(tokio::time::Instant::now()),
            max_writes: None,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!r.finished);
    assert_eq!(r.writes, 0);
}

#[tokio::test]
async fn rejected_credentials_end_the_run_as_such() {
    let bed = bed().await;
    let bad = RunnClient::new(runn_config(&bed._r, "LIVE_revoked")).unwrap();
    let err = run_import(
        &WorkspaceId::new(demo::WORKSPACE_ID),
        &bed.cc,
        &bad,
        ALL,
        RunLimits::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), FailureClass::CredentialsRejected);
    let bad_c = ClockifyClient::new(clockify_config(&bed._c, "wrong")).unwrap();
    let err = run_import(
        &WorkspaceId::new(demo::WORKSPACE_ID),
        &bad_c,
        &bed.rc,
        ALL,
        RunLimits::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), FailureClass::CredentialsRejected);
    assert_eq!(bed.runn.data.lock().unwrap().clients.len(), 0);
}

#[tokio::test]
async fn a_record_runn_refuses_is_reported_and_the_rest_goes_on() {
    let bed = bed().await;
    // Clockify lets a client name be blank; Runn's minLength refuses it.
    bed.clockify.data.write().unwrap().workspaces[0].clients[1].name = "   ".into();
    let r = bed.import(RunLimits::default()).await.unwrap();
    assert!(r.finished);
    assert_eq!(r.created.clients, 2);
    let failed: Vec<(RecordKind, &str)> = r
        .failed
        .named
        .iter()
        .map(|f| (f.kind, f.record.clockify_id.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            (RecordKind::Client, "c0000000000000000000c002"),
            (RecordKind::Project, "p0000000000000000000p003")
        ]
    );
    assert!(
        r.failed.named[0].reason.contains("name"),
        "{}",
        r.failed.named[0].reason
    );
}
