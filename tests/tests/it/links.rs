//! Existing Runn customers, through the worker's jobs against DynamoDB (moto) and both
//! simulators over HTTP: a generated account whose Runn already holds people, clients
//! and projects (other spellings, two of one name, one linked to another Clockify id,
//! another integration's references) is suggested, reviewed, linked and imported with no
//! duplicate; and a removal archives exactly what the integration created and deletes
//! exactly the actuals it wrote that are unchanged, its dry run listing the same.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use shared::account::{AccountSettings, Switches, Trigger};
use shared::jobs::{run_job, JobOutcome};
use shared::model::links::{
    Confidence, Link, LinkKind, LinkRequest, Rejection, RemovalRequest, Suggestion,
};
use shared::model::run::RunRecord;
use shared::queue::{Job, MemoryQueue, Work};
use shared::store::roles::*;
use sims::clockify::{ClockifyData, ClockifySim, WorkspaceData};
use sims::demo;
use sims::existing;
use sims::generate::{workspace, GenSpec};
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::collections::{BTreeMap, BTreeSet};

struct Bed {
    aws: TestAws,
    runn: RunnSim,
    servers: (sims::common::Running, sims::common::Running),
    settings: AccountSettings,
    queue: MemoryQueue,
    runs: std::sync::atomic::AtomicUsize,
}

async fn bed(spec: GenSpec, actuals: bool) -> (Bed, WorkspaceData) {
    let ws = workspace(&spec);
    let clockify = ClockifySim::new(ClockifyData {
        api_keys: vec![demo::API_KEY.into()],
        member_keys: vec![],
        workspaces: vec![ws.clone()],
    });
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let mut account = demo_account("existing", &c, &r, RUNN_TOKEN);
    account.settings.clockify_workspace = shared::ids::WorkspaceId::new(&spec.workspace_id);
    account.settings.switches.actuals = actuals;
    let aws = TestAws::new().await;
    aws.store.put_account(&account).await.unwrap();
    let bed = Bed {
        aws,
        runn,
        servers: (c, r),
        settings: account.settings,
        queue: MemoryQueue::default(),
        runs: Default::default(),
    };
    (bed, ws)
}

/// Requests that change something in Runn, per endpoint.
fn runn_writes(runn: &RunnSim) -> BTreeMap<String, u64> {
    runn.ctl
        .counts()
        .into_iter()
        .filter(|(e, _)| !e.starts_with("GET "))
        .collect()
}

impl Bed {
    async fn run(&self, work: Work) -> RunRecord {
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let job = Job {
            account: self.settings.id.clone(),
            run_id: format!("run-{n}"),
            trigger: Trigger::Manual,
            work,
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
        let outcome = run_job(
            &self.aws.store,
            &self.queue,
            &job,
            deadline,
            &quick_worker(),
        )
        .await
        .unwrap();
        let run = self
            .aws
            .store
            .run(&self.settings.id, &job.run_id)
            .await
            .unwrap()
            .expect("a record");
        assert_eq!(outcome, JobOutcome::Done { finished: true }, "{run:?}");
        run
    }

    async fn import(&self) -> RunRecord {
        self.run(Work::Import {
            only: None,
            resume: None,
        })
        .await
    }

    async fn suggestions(&self, run_id: &str) -> Vec<Suggestion> {
        let mut all = vec![];
        for page in 0.. {
            let Some((mut found, more)) = self
                .aws
                .store
                .suggestions(&self.settings.id, run_id, page)
                .await
                .unwrap()
            else {
                break;
            };
            all.append(&mut found);
            if !more {
                break;
            }
        }
        all
    }

    fn table(&self, kind: Kind) -> BTreeMap<i64, Value> {
        let mut d = self.runn.data.lock().unwrap();
        kind.table(&mut d).clone()
    }

    /// Clockify id → the Runn records carrying it, for one kind.
    fn carriers(&self, kind: Kind) -> BTreeMap<String, Vec<i64>> {
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (id, r) in self.table(kind) {
            for reference in r["references"].as_array().unwrap() {
                if reference["referenceName"] == "Clockify" {
                    let x = reference["externalId"].as_str().unwrap().to_owned();
                    out.entry(x).or_default().push(id);
                }
            }
        }
        out
    }
}

fn link_kind_table(kind: LinkKind) -> Kind {
    match kind {
        LinkKind::Client => Kind::Client,
        LinkKind::Project => Kind::Project,
        LinkKind::Person => Kind::Person,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_customer_is_suggested_reviewed_linked_and_imported_without_a_duplicate() {
    let spec = GenSpec {
        users: 14,
        clients: 6,
        projects: 12,
        entries: 0,
        ..GenSpec::default()
    };
    let (bed, ws) = bed(spec, false).await;
    let seeded = existing::seed(&runn_client(&bed.servers.1), &ws).await;
    assert!(seeded.expected.len() >= 15, "{}", seeded.expected.len());

    // Every import holds back what looks like a record already in Runn.
    let first = bed.import().await;
    let report = first.report.unwrap();
    assert_eq!(report.held, seeded.expected.len(), "{report:?}");
    // Projects whose client is held are held with it (and created once it is linked).
    let held_with_client = report.skipped(
        shared::sync::RecordKind::Project,
        shared::sync::SkipReason::ClientHeld,
    );
    assert!(held_with_client > 0);
    let people = bed.carriers(Kind::Person);
    for (kind, id) in seeded.expected.keys() {
        let carried = bed.carriers(link_kind_table(*kind));
        let old = matches!(
            seeded.expected[&(*kind, id.clone())].0,
            Confidence::Conflict
        );
        assert!(
            old || !carried.contains_key(id),
            "{kind:?} {id} was created"
        );
    }
    assert!(people.len() >= 2, "the people without a match were created");

    // The suggestions: every rule as the generator meant it, nothing else.
    let suggest = bed.run(Work::Suggest).await;
    let found = bed.suggestions(&suggest.run_id).await;
    let got: BTreeMap<(LinkKind, String), (Confidence, Option<i64>)> = found
        .iter()
        .map(|s| (s.key(), (s.confidence, s.runn_id)))
        .collect();
    assert_eq!(got, seeded.expected);
    let counts = suggest.links.unwrap().counts;
    assert_eq!(counts.total(), found.len());
    for s in found
        .iter()
        .filter(|s| s.confidence == Confidence::Ambiguous)
    {
        assert_eq!(s.candidates.len(), 2, "{s:?}");
    }

    // The review: sure and likely kept, one likely project rejected; ambiguous and
    // conflicts left open.
    let rejected = found
        .iter()
        .find(|s| s.kind == LinkKind::Project && s.confidence == Confidence::Likely)
        .expect("a likely project")
        .key();
    let links: Vec<Link> = found
        .iter()
        .filter(|s| matches!(s.confidence, Confidence::Sure | Confidence::Likely))
        .filter(|s| s.key() != rejected)
        .map(|s| Link {
            kind: s.kind,
            clockify_id: s.clockify_id.clone(),
            runn_id: s.runn_id.unwrap(),
        })
        .collect();
    let request = LinkRequest {
        links: links.clone(),
        rejected: vec![Rejection {
            kind: rejected.0,
            clockify_id: rejected.1.clone(),
        }],
    };
    let conflicts_before = bed.table(Kind::Person);
    let applied = bed
        .run(Work::Link {
            request: request.clone(),
            dry_run: false,
        })
        .await
        .links
        .unwrap();
    assert_eq!(applied.linked.count, links.len(), "{applied:?}");
    assert_eq!((applied.rejected, applied.skipped.count), (1, 0));
    // Another integration's references are intact beside the new ones.
    for (kind, id) in &seeded.foreign {
        let record = bed.table(link_kind_table(*kind))[id].clone();
        let names: BTreeSet<&str> = record["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["referenceName"].as_str().unwrap())
            .collect();
        assert_eq!(names, BTreeSet::from(["Clockify", "Harvest"]), "{record}");
    }
    // A conflict's record is never changed.
    for ((kind, _), (confidence, runn_id)) in &seeded.expected {
        if *confidence == Confidence::Conflict && *kind == LinkKind::Person {
            let id = runn_id.unwrap();
            assert_eq!(bed.table(Kind::Person)[&id], conflicts_before[&id]);
        }
    }

    // Applying the same list again writes nothing.
    let before = runn_writes(&bed.runn);
    let again = bed
        .run(Work::Link {
            request,
            dry_run: false,
        })
        .await
        .links
        .unwrap();
    assert_eq!(
        (again.linked.count, again.already, again.rejected),
        (0, links.len(), 0)
    );
    assert_eq!(runn_writes(&bed.runn), before);

    // The next import: the rejected project is created (and those held with their
    // clients), ambiguous and conflicting records stay held, and no Clockify record is in
    // Runn twice.
    let next = bed.import().await.report.unwrap();
    assert_eq!(next.created.projects, 1 + held_with_client, "{next:?}");
    assert!(bed.carriers(Kind::Project).contains_key(&rejected.1));
    assert_eq!((next.created.clients, next.created.people), (0, 0));
    assert_eq!(next.held, counts.ambiguous + counts.conflict);
    for kind in [Kind::Client, Kind::Project, Kind::Person] {
        for (x, ids) in bed.carriers(kind) {
            assert_eq!(ids.len(), 1, "{kind:?} {x} is in Runn {} times", ids.len());
        }
    }
    for l in &links {
        let carried = bed.carriers(link_kind_table(l.kind));
        assert_eq!(carried[&l.clockify_id], vec![l.runn_id]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_archives_exactly_what_was_created_and_deletes_only_unchanged_actuals() {
    let today = Utc::now().date_naive();
    let spec = GenSpec {
        users: 5,
        clients: 2,
        projects: 4,
        entries: 120,
        first_day: today - Duration::days(12),
        days: 10,
        ..GenSpec::default()
    };
    let (bed, ws) = bed(spec, true).await;
    // One person linked by hand before the first import (a Runn user typed the id).
    let hand = &ws.users[0];
    let client = runn_client(&bed.servers.1);
    let new_role = shared::runn::NewRole {
        name: "Lead".into(),
        references: vec![],
    };
    let role = client.create_role(&new_role).await.unwrap().id.0;
    let person = shared::runn::NewPerson {
        first_name: "Hand".into(),
        last_name: "Linked".into(),
        role_id: shared::ids::RunnRoleId(role),
        email: None,
        references: vec![shared::runn::Reference::clockify(hand.id.as_str())],
        start_date: None,
    };
    let hand_linked = client.create_person(&person).await.unwrap().id.0;
    let first = bed.import().await;
    assert!(first.report.unwrap().created.people >= 4);
    // Every new person gets a role, and the actuals run.
    for (id, _) in bed.table(Kind::Person) {
        bed.runn.give_role(id, "Lead");
    }
    let synced = bed.import().await.actuals.unwrap();
    let _ = hand;
    assert!(synced.written > 10, "{synced:?}");
    let created = bed.aws.store.created(&bed.settings.id).await.unwrap();
    assert!(created.iter().all(|c| c.runn_id != hand_linked));

    // In Runn since: one actual changed by hand, one entered by hand, one project planned.
    let actuals = bed.table(Kind::Actual);
    let (&changed, _) = actuals.iter().next().unwrap();
    {
        let mut d = bed.runn.data.lock().unwrap();
        let a = d.actuals.get_mut(&changed).unwrap();
        a["billableMinutes"] = json!(a["billableMinutes"].as_f64().unwrap() + 5.0);
    }
    let any = actuals.values().nth(1).unwrap().clone();
    let mut by_hand = any.clone();
    by_hand["date"] = json!((today - Duration::days(40)).to_string());
    let by_hand = bed.runn.seed(Kind::Actual, by_hand);
    let planned_project = created
        .iter()
        .find(|c| c.kind == LinkKind::Project)
        .unwrap()
        .runn_id;
    let someone = created
        .iter()
        .find(|c| c.kind == LinkKind::Person)
        .unwrap()
        .runn_id;
    bed.runn
        .add_assignment(someone, planned_project, role, today, today, 60);
    let ours = actuals.len() - 1;
    let planned_client = bed.table(Kind::Project)[&planned_project]["clientId"].as_i64();
    let kept: BTreeSet<i64> = [Some(planned_project), Some(someone), planned_client]
        .into_iter()
        .flatten()
        .collect();

    // The dry run lists it all and writes nothing.
    let request = RemovalRequest {
        kinds: Switches::ALL,
        include_planned: false,
        include_unrecorded: false,
        dry_run: true,
    };
    let before = runn_writes(&bed.runn);
    let ledger_before = bed
        .aws
        .store
        .ledger(&bed.settings.id, today - Duration::days(400), today)
        .await
        .unwrap();
    let dry = bed.run(Work::Remove(request)).await.removal.unwrap();
    assert_eq!(runn_writes(&bed.runn), before);
    assert_eq!(dry.actuals_deleted, ours);
    assert_eq!(dry.actuals_changed.count, 1);
    assert_eq!(dry.planned.count, 2, "a project and a person: {dry:?}");
    assert_eq!(dry.kept_clients.count, 1, "{dry:?}");
    assert_eq!(dry.unrecorded.count, 1, "the hand-linked person: {dry:?}");
    let created_projects = created
        .iter()
        .filter(|c| c.kind == LinkKind::Project)
        .count();
    let created_people = created
        .iter()
        .filter(|c| c.kind == LinkKind::Person)
        .count();
    assert_eq!(dry.archived.projects, created_projects - 1);
    assert_eq!(dry.archived.people, created_people - 1);

    // Carried out: the same numbers, and Runn holds what the dry run said.
    let done = bed
        .run(Work::Remove(RemovalRequest {
            dry_run: false,
            ..request
        }))
        .await
        .removal
        .unwrap();
    assert_eq!(
        (done.actuals_deleted, done.archived, done.planned.count),
        (dry.actuals_deleted, dry.archived, dry.planned.count)
    );
    let left = bed.table(Kind::Actual);
    assert_eq!(
        left.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([changed, by_hand])
    );
    let people = bed.table(Kind::Person);
    assert_eq!(people[&hand_linked]["isArchived"], false);
    for c in &created {
        let record = &bed.table(link_kind_table(c.kind))[&c.runn_id];
        assert_eq!(
            record["isArchived"],
            json!(!kept.contains(&c.runn_id)),
            "{c:?}"
        );
    }
    let ledger_after = bed
        .aws
        .store
        .ledger(&bed.settings.id, today - Duration::days(400), today)
        .await
        .unwrap();
    assert_eq!(ledger_after.len(), ledger_before.len() - ours);
    let settings = bed
        .aws
        .store
        .settings(&bed.settings.id)
        .await
        .unwrap()
        .unwrap();
    let none = Switches {
        clients_and_projects: false,
        people: false,
        actuals: false,
    };
    assert_eq!(settings.switches, none);

    // Switched on again, an import re-creates and un-archives nothing.
    let mut on = settings.clone();
    on.switches = Switches::ALL;
    update_settings(&bed.aws.store, &on).await;
    let after = bed.import().await;
    let report = after.report.unwrap();
    assert_eq!(
        (
            report.created.clients,
            report.created.projects,
            report.created.people
        ),
        (0, 0, 0)
    );
    for c in &created {
        let record = &bed.table(link_kind_table(c.kind))[&c.runn_id];
        assert_eq!(
            record["isArchived"],
            json!(!kept.contains(&c.runn_id)),
            "{c:?}"
        );
    }
    let status = shared::status::AccountStatus::read(&bed.aws.store, &bed.settings.id, 5)
        .await
        .unwrap()
        .unwrap();
    assert!(
        status
            .notices
            .iter()
            .any(|n| n.contains("do not create them again")),
        "{:?}",
        status.notices
    );
}
