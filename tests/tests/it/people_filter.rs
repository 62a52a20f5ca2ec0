//! The people filter through the worker's daily job, against DynamoDB (moto) and both
//! simulators over HTTP: a generated account of two user groups, one included and one
//! e-mail address left out. Those outside are not created and their time is reported,
//! with its minutes, and not written; a person already imported who falls outside later
//! keeps what Runn and the ledger hold, while another person's change is synced.

use chrono::{Duration, Utc};
use shared::account::{AccountSettings, PeopleFilter, Trigger};
use shared::ids::RunnPersonId;
use shared::jobs::{run_job, JobOutcome};
use shared::model::ledger::Ledger;
use shared::model::plan::SkipReason;
use shared::model::report::TimeSkip;
use shared::queue::{Job, MemoryQueue, Work};
use shared::store::roles::*;
use shared::sync::{ActualsReport, ImportReport, RecordKind};
use sims::clockify::{ClockifyData, ClockifySim, SimTimeEntry, WorkspaceData};
use sims::demo;
use sims::generate::{workspace, GenSpec};
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::collections::BTreeMap;

struct Bed {
    aws: TestAws,
    clockify: ClockifySim,
    runn: RunnSim,
    _servers: (sims::common::Running, sims::common::Running),
    settings: AccountSettings,
    queue: MemoryQueue,
    runs: std::sync::atomic::AtomicUsize,
}

/// Six users in two groups (users 0, 2 and 4 in "Group 0"), two weeks of time ending a
/// week ago (inside the daily window), and an account including "Group 0" less user 2.
async fn bed() -> (Bed, WorkspaceData) {
    let today = Utc::now().date_naive();
    let spec = GenSpec {
        users: 6,
        groups: 2,
        clients: 2,
        projects: 4,
        entries: 240,
        first_day: today - Duration::days(21),
        days: 14,
        ..GenSpec::default()
    };
    let ws = workspace(&spec);
    let clockify = ClockifySim::new(ClockifyData {
        api_keys: vec![demo::API_KEY.into()],
        member_keys: vec![],
        workspaces: vec![ws.clone()],
    });
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let mut account = demo_account("filtered", &c, &r, RUNN_TOKEN);
    account.settings.clockify_workspace = shared::ids::WorkspaceId::new(&spec.workspace_id);
    account.settings.people_filter = Some(PeopleFilter {
        include_groups: vec![ws.user_groups[0].id.as_str().into()],
        exclude_emails: vec![" USER2@example.com".into()],
    });
    let aws = TestAws::new().await;
    aws.store.put_account(&account).await.unwrap();
    let bed = Bed {
        aws,
        clockify,
        runn,
        _servers: (c, r),
        settings: account.settings,
        queue: MemoryQueue::default(),
        runs: Default::default(),
    };
    (bed, ws)
}

impl Bed {
    /// The daily job, done in one run: its import and actuals reports.
    async fn daily(&self) -> (ImportReport, Option<ActualsReport>) {
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let job = Job {
            account: self.settings.id.clone(),
            run_id: format!("r{n}"),
            trigger: Trigger::Manual,
            work: Work::Import {
                only: None,
                resume: None,
            },
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
        assert_eq!(outcome, JobOutcome::Done { finished: true });
        let run = self.aws.store.runs(&self.settings.id, 1).await.unwrap()[0].clone();
        (run.report.expect("an import report"), run.actuals)
    }

    async fn save(&self, settings: &AccountSettings) {
        update_settings(&self.aws.store, settings).await;
    }

    fn person(&self, clockify: &str) -> Option<i64> {
        self.runn.id_of(Kind::Person, clockify)
    }

    /// Runn's minutes (billable and not together) per person.
    fn runn_minutes(&self) -> BTreeMap<i64, i64> {
        let mut out = BTreeMap::new();
        for a in self.runn.data.lock().unwrap().actuals.values() {
            let m =
                a["billableMinutes"].as_f64().unwrap() + a["nonbillableMinutes"].as_f64().unwrap();
            *out.entry(a["personId"].as_i64().unwrap()).or_default() += m as i64;
        }
        out
    }

    /// The ledger rows of one person over the generated weeks.
    async fn ledger_of(&self, person: i64) -> Ledger {
        let today = Utc::now().date_naive();
        let (from, to) = (today - Duration::days(30), today);
        let ledger = self
            .aws
            .store
            .ledger(&self.settings.id, from, to)
            .await
            .unwrap();
        ledger
            .into_iter()
            .filter(|(k, _)| k.person == RunnPersonId(person))
            .collect()
    }

    fn remove_entry(&self, entry: &SimTimeEntry) {
        let mut data = self.clockify.data.write().unwrap();
        data.workspaces[0].time_entries.retain(|e| e.id != entry.id);
    }
}

fn entry_minutes(e: &SimTimeEntry) -> u64 {
    (e.end.unwrap() - e.start).num_minutes() as u64
}

/// The minutes of `users`' time (every entry is a whole number of quarter hours, and all
/// of them fall inside the window).
fn minutes_of(ws: &WorkspaceData, users: &[usize]) -> u64 {
    let ids: Vec<&str> = users.iter().map(|i| ws.users[*i].id.as_str()).collect();
    ws.time_entries
        .iter()
        .filter(|e| ids.contains(&e.user_id.as_str()))
        .map(entry_minutes)
        .sum()
}

fn left_out_minutes(r: &ActualsReport) -> u64 {
    r.skipped
        .iter()
        .find(|g| g.reason == TimeSkip::LeftOutByFilter)
        .map_or(0, |g| g.minutes)
}

/// The first entry of user `i` on a project (whose time is synced).
fn an_entry_of(ws: &WorkspaceData, i: usize) -> SimTimeEntry {
    ws.time_entries
        .iter()
        .find(|e| e.user_id == ws.users[i].id && e.project_id.is_some())
        .cloned()
        .expect("the user has time on a project")
}

#[tokio::test]
async fn people_outside_the_filter_are_not_imported_and_keep_what_runn_holds() {
    let (bed, ws) = bed().await;
    // The import: users 0 and 4 are in; 1, 3 and 5 are in no included group and user 2's
    // address is left out (matched whatever its case and spaces).
    let (import, _) = bed.daily().await;
    let ids = |is: &[usize]| {
        is.iter()
            .map(|i| ws.users[*i].id.clone())
            .collect::<Vec<_>>()
    };
    for user in ids(&[0, 4]) {
        assert!(bed.person(&user).is_some(), "{user} is imported");
    }
    for user in ids(&[1, 2, 3, 5]) {
        assert!(bed.person(&user).is_none(), "{user} is left out");
    }
    assert_eq!(
        import.skipped(RecordKind::Person, SkipReason::LeftOutByFilter),
        4
    );
    assert_eq!(import.created.people, 2);

    // Roles given, actuals on: only the two people's time is written; the others' is
    // reported with its minutes.
    for user in ids(&[0, 4]) {
        bed.runn.give_role(bed.person(&user).unwrap(), "Consultant");
    }
    let mut settings = bed.settings.clone();
    settings.switches.actuals = true;
    bed.save(&settings).await;
    let (_, actuals) = bed.daily().await;
    let actuals = actuals.expect("the actuals ran");
    assert!(actuals.written > 0, "{actuals:?}");
    assert_eq!(left_out_minutes(&actuals), minutes_of(&ws, &[1, 2, 3, 5]));
    let held = bed.runn_minutes();
    let in_runn: Vec<i64> = held.keys().copied().collect();
    let (p0, p4) = (
        bed.person(&ids(&[0])[0]).unwrap(),
        bed.person(&ids(&[4])[0]).unwrap(),
    );
    let mut both = vec![p0, p4];
    both.sort();
    assert_eq!(in_runn, both, "only the people in have actuals");

    // User 4 falls outside (their address left out too). Then one entry of each is
    // deleted in Clockify: user 0's change is synced; user 4's totals stay as they were,
    // in Runn and in the ledger (neither set back to 0 nor updated).
    let ledger_4 = bed.ledger_of(p4).await;
    assert!(!ledger_4.is_empty());
    let filter = settings.people_filter.as_mut().unwrap();
    filter.exclude_emails.push("user4@example.com".into());
    bed.save(&settings).await;
    let (gone_0, gone_4) = (an_entry_of(&ws, 0), an_entry_of(&ws, 4));
    bed.remove_entry(&gone_0);
    bed.remove_entry(&gone_4);
    let (import, actuals) = bed.daily().await;
    let actuals = actuals.expect("the actuals ran");
    let after = bed.runn_minutes();
    assert_eq!(after[&p4], held[&p4], "user 4 keeps what Runn held");
    assert_eq!(after[&p0], held[&p0] - entry_minutes(&gone_0) as i64);
    assert_eq!(
        bed.ledger_of(p4).await,
        ledger_4,
        "user 4's ledger untouched"
    );
    // User 4's remaining time is reported as left out now, with its minutes.
    assert_eq!(
        left_out_minutes(&actuals),
        minutes_of(&ws, &[1, 2, 3, 4, 5]) - entry_minutes(&gone_4)
    );
    assert_eq!(
        import.skipped(RecordKind::Person, SkipReason::LeftOutByFilter),
        5
    );
}
