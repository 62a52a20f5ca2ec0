//! Timesheets become actuals and stay right as Clockify changes, and the weekly autofill:
//! the worker's jobs against DynamoDB (moto) and both simulators over HTTP.

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use shared::account::{AccountId, Trigger};
use shared::jobs::{run_job, JobOutcome, WorkerConfig};
use shared::model::report::TimeSkip;
use shared::queue::{Job, MemoryQueue, SqsQueue, Work};
use shared::store::roles::*;
use shared::sync::ActualsReport;
use sims::clockify::{ClockifySim, SimTimeEntry};
use sims::common::Running;
use sims::demo;
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::time::Duration as StdDuration;

const ANA: &str = "u0000000000000000000u001";
const MEI: &str = "u0000000000000000000u003";
const P1: &str = "p0000000000000000000p001";
const P2: &str = "p0000000000000000000p002";

struct Bed {
    aws: TestAws,
    clockify: ClockifySim,
    c: Running,
    runn: RunnSim,
    _r: Running,
    id: AccountId,
    queue: MemoryQueue,
    n: std::sync::atomic::AtomicUsize,
}

/// The demo company imported, everyone given the role "Consultant", actuals on.
async fn bed() -> Bed {
    let aws = TestAws::new().await;
    let clockify = ClockifySim::new(demo::data());
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let account = demo_account("acme", &c, &r, RUNN_TOKEN);
    aws.store.put_account(&account).await.unwrap();
    let bed = Bed {
        aws,
        clockify,
        c,
        runn,
        _r: r,
        id: account.settings.id.clone(),
        queue: MemoryQueue::default(),
        n: Default::default(),
    };
    assert_eq!(
        bed.run(Work::Import {
            only: None,
            resume: None
        })
        .await,
        done()
    );
    let people: Vec<i64> = bed
        .runn
        .data
        .lock()
        .unwrap()
        .people
        .keys()
        .copied()
        .collect();
    for p in people {
        bed.runn.give_role(p, "Consultant");
    }
    let mut settings = account.settings;
    settings.switches.actuals = true;
    update_settings(&bed.aws.store, &settings).await;
    bed
}

fn done() -> JobOutcome {
    JobOutcome::Done { finished: true }
}

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
}

/// The most recent weekday before today that is `back` weekdays back.
fn weekday_back(back: usize) -> NaiveDate {
    let mut d = today();
    let mut n = 0;
    loop {
        d -= Duration::days(1);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            n += 1;
            if n == back {
                return d;
            }
        }
    }
}

impl Bed {
    async fn run_with(&self, work: Work, cfg: &WorkerConfig) -> JobOutcome {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let job = Job {
            account: self.id.clone(),
            run_id: format!("r{n}"),
            trigger: Trigger::Manual,
            work,
        };
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(600);
        run_job(&self.aws.store, &self.queue, &job, deadline, cfg)
            .await
            .unwrap()
    }
    async fn run(&self, work: Work) -> JobOutcome {
        self.run_with(work, &quick_worker()).await
    }
    async fn daily(&self) -> ActualsReport {
        assert_eq!(
            self.run(Work::Import {
                only: None,
                resume: None
            })
            .await,
            done()
        );
        self.last_actuals().await
    }
    async fn last_actuals(&self) -> ActualsReport {
        let runs = self.aws.store.runs(&self.id, 1).await.unwrap();
        runs[0].actuals.clone().expect("an actuals report")
    }
    fn person(&self, clockify: &str) -> i64 {
        self.runn.id_of(Kind::Person, clockify).unwrap()
    }
    fn project(&self, clockify: &str) -> i64 {
        self.runn.id_of(Kind::Project, clockify).unwrap()
    }
    fn minutes(&self, user: &str, project: &str, day: NaiveDate) -> (i64, i64) {
        self.runn
            .minutes(self.person(user), self.project(project), day)
    }
    /// The entries of a user on a day (local to the entry's start in UTC, good enough
    /// for the European users the tests pick).
    fn entries(&self, user: &str, day: NaiveDate) -> Vec<SimTimeEntry> {
        self.clockify.data.read().unwrap().workspaces[0]
            .time_entries
            .iter()
            .filter(|e| e.user_id == user && e.start.date_naive() == day)
            .cloned()
            .collect()
    }
    async fn clockify_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) {
        let url = format!(
            "{}api/v1/workspaces/{}{path}",
            self.c.url(),
            demo::WORKSPACE_ID
        );
        let mut req = reqwest::Client::new()
            .request(method, url)
            .header("X-Api-Key", demo::API_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let status = req.send().await.unwrap().status();
        assert!(status.is_success(), "{path}: {status}");
    }
}

#[tokio::test]
async fn timesheets_become_actuals_on_each_persons_local_day_rounded_once_a_day() {
    let bed = bed().await;
    let first = bed.daily().await;
    assert!(first.finished && first.written > 0, "{first:?}");
    // Mei, in Shanghai: 3 h 7 min 31 s billable in the morning (187.5 min, rounded half up
    // once for the day: 188) and 45 min non-billable from 23:30 her time, which is 15:30
    // UTC the same day — her day.
    let day = weekday_back(2);
    let project = demo::workspace().projects[(2 + (today() - day).num_days() as usize) % 4]
        .id
        .clone();
    assert_eq!(bed.minutes(MEI, &project, day), (188, 45));
    // Internal training has no client, so it is not in Runn: skipped with its minutes, a
    // line per person and project that says why, by its name.
    let training = first
        .skipped
        .iter()
        .find(|g| g.reason == TimeSkip::ProjectNotLinked)
        .expect("training skipped");
    assert_eq!(training.minutes, 90 * training.day_totals as u64);
    assert!(training.days.count < training.day_totals, "{training:?}");
    for line in &training.days.named {
        assert!(
            line.contains("Internal: Training - has no client in Clockify: ")
                && line.ends_with(" min")
                && !line.contains("p0000"),
            "{line}"
        );
    }
    // A day later with no change in Clockify: nothing written.
    let again = bed.daily().await;
    assert_eq!(
        (again.written, again.zeroed, again.writes),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.unchanged, first.written);
}

#[tokio::test]
async fn a_deleted_entry_goes_to_zero_and_a_moved_entry_follows_its_project() {
    let bed = bed().await;
    bed.daily().await;
    let (d1, d2) = (weekday_back(3), weekday_back(4));
    let gone = bed.entries(ANA, d1)[0].clone();
    let gone_project = gone.project_id.clone().unwrap();
    assert!(bed.minutes(ANA, &gone_project, d1).0 > 0);
    bed.clockify_call(
        reqwest::Method::DELETE,
        &format!("/time-entries/{}", gone.id),
        None,
    )
    .await;
    let moved = bed.entries(ANA, d2)[0].clone();
    let from = moved.project_id.clone().unwrap();
    let to = if from == P1 { P2 } else { P1 };
    let before = bed.minutes(ANA, &from, d2);
    bed.clockify_call(
        reqwest::Method::PUT,
        &format!("/time-entries/{}", moved.id),
        Some(serde_json::json!({"start": moved.start, "end": moved.end, "projectId": to, "billable": true})),
    )
    .await;
    let r = bed.daily().await;
    assert_eq!(r.zeroed, 2, "{r:?}");
    assert_eq!(bed.minutes(ANA, &gone_project, d1), (0, 0));
    assert_eq!(bed.minutes(ANA, &from, d2), (0, 0));
    assert_eq!(bed.minutes(ANA, to, d2), before);
}

#[tokio::test]
async fn a_role_change_moves_the_time_and_two_assignments_pick_the_larger() {
    let bed = bed().await;
    let day = weekday_back(2);
    let entry = bed.entries(ANA, day)[0].clone();
    let project = entry.project_id.clone().unwrap();
    let (person, proj) = (bed.person(ANA), bed.project(&project));
    let dev = bed.runn.give_role(bed.person(MEI), "Developer");
    let lead = bed.runn.give_role(bed.person(MEI), "Lead");
    bed.runn.give_role(bed.person(MEI), "Consultant");
    let a = bed.runn.add_assignment(person, proj, dev, day, day, 240);
    bed.daily().await;
    let on = |role: i64| {
        bed.runn
            .data
            .lock()
            .unwrap()
            .actuals
            .values()
            .filter(|x| {
                x["personId"] == person
                    && x["projectId"] == proj
                    && x["roleId"] == role
                    && x["date"] == day.to_string()
            })
            .map(|x| x["billableMinutes"].as_f64().unwrap() as i64)
            .sum::<i64>()
    };
    assert_eq!(on(dev), 188);
    // Someone changes the assignment's role afterwards: the time moves, never twice.
    bed.runn.set_assignment_role(a, lead);
    let r = bed.daily().await;
    assert_eq!((on(lead), on(dev)), (188, 0), "{r:?}");
    // A second assignment that day with another role and more minutes a day wins.
    bed.runn.add_assignment(person, proj, dev, day, day, 300);
    let r = bed.daily().await;
    assert_eq!((on(dev), on(lead)), (188, 0));
    assert_eq!(r.notes.count, 1, "{r:?}");
}

#[tokio::test]
async fn a_hand_entered_actual_is_left_alone() {
    let bed = bed().await;
    // A Saturday: no Clockify time, no ledger entry.
    let mut saturday = today() - Duration::days(1);
    while saturday.weekday() != Weekday::Sat {
        saturday -= Duration::days(1);
    }
    let role = bed.runn.give_role(bed.person(ANA), "Consultant");
    let rc = runn_client(&bed._r);
    rc.upsert_actuals_bulk(&[shared::runn::ActualInput {
        date: saturday,
        billable_minutes: 77,
        nonbillable_minutes: 0,
        person_id: shared::ids::RunnPersonId(bed.person(ANA)),
        project_id: shared::ids::RunnProjectId(bed.project(P1)),
        role_id: shared::ids::RunnRoleId(role),
        billable_note: None,
        nonbillable_note: None,
        workstream_id: None,
    }])
    .await
    .unwrap();
    bed.daily().await;
    bed.daily().await;
    assert_eq!(bed.minutes(ANA, P1, saturday), (77, 0));
}

#[tokio::test]
async fn a_person_back_on_unknown_has_their_time_skipped_and_named() {
    let bed = bed().await;
    bed.runn.give_role(bed.person(MEI), "Unknown");
    let r = bed.daily().await;
    let unknown = r
        .skipped
        .iter()
        .find(|g| g.reason == TimeSkip::UnknownRole)
        .expect("skipped for Unknown");
    assert!(unknown.minutes > 0);
    assert_eq!(r.unknown_role.count, 1);
    assert!(
        r.unknown_role.named[0].starts_with("Mei"),
        "{:?}",
        r.unknown_role
    );
}

#[tokio::test]
async fn a_backfill_stops_at_its_limit_and_resumes_where_it_stopped() {
    let bed = bed().await;
    // Time three months back, before the window.
    let old = today() - Duration::days(90);
    {
        let mut d = bed.clockify.data.write().unwrap();
        let ws = &mut d.workspaces[0];
        for k in 0..40 {
            let start = (old + Duration::days(k))
                .and_hms_opt(10, 0, 0)
                .unwrap()
                .and_utc();
            ws.time_entries.push(SimTimeEntry {
                id: format!("old{k:021}"),
                user_id: ANA.into(),
                project_id: Some(P1.into()),
                billable: true,
                description: String::new(),
                start,
                end: Some(start + Duration::minutes(60)),
            });
        }
    }
    let mut s = bed.aws.store.settings(&bed.id).await.unwrap().unwrap();
    s.actuals_since = Some(old);
    update_settings(&bed.aws.store, &s).await;
    // A run may write once: it stops inside the back-fill, its first chunk saved as done,
    // and its continuation resumes from the next.
    let cfg = WorkerConfig {
        max_writes: Some(1),
        ..quick_worker()
    };
    let out = bed
        .run_with(
            Work::Import {
                only: None,
                resume: None,
            },
            &cfg,
        )
        .await;
    assert_eq!(out, JobOutcome::Done { finished: false });
    let chunk = shared::sync::CHUNK_DAYS;
    assert_eq!(
        bed.aws.store.backfilled_through(&bed.id).await.unwrap(),
        Some(old + Duration::days(chunk - 1))
    );
    let continuation = bed.queue.sent.lock().unwrap().pop().expect("continued");
    assert_eq!(continuation.trigger, Trigger::Continuation);
    let mut runs = 1;
    loop {
        runs += 1;
        let out = bed
            .run_with(
                Work::Import {
                    only: None,
                    resume: None,
                },
                &cfg,
            )
            .await;
        if out == done() {
            break;
        }
        assert_eq!(out, JobOutcome::Done { finished: false });
        assert!(runs < 20, "never finished");
    }
    assert_eq!(
        runs, 3,
        "one write each: two back-fill chunks, then the window"
    );
    let through = bed.aws.store.backfilled_through(&bed.id).await.unwrap();
    assert_eq!(through, Some(today() - Duration::days(45)));
    for k in 0..40 {
        assert_eq!(
            bed.minutes(ANA, P1, old + Duration::days(k)),
            (60, 0),
            "day {k}"
        );
    }
    let again = bed.daily().await;
    assert_eq!(again.writes, 0, "the back-fill is not done twice");
}

#[tokio::test]
async fn a_run_that_only_back_filled_empty_months_is_continued_not_retried() {
    let bed = bed().await;
    // Back-fill from four months back: no time there (the demo holds two weeks).
    let mut s = bed.aws.store.settings(&bed.id).await.unwrap().unwrap();
    s.actuals_since = Some(today() - Duration::days(120));
    update_settings(&bed.aws.store, &s).await;
    // No write allowed: the back-fill's empty chunks are saved as done, then the window's
    // first write stops the run. It made progress, so it is continued (not retried as
    // "ran out before it could write anything", which would redo it forever).
    let cfg = WorkerConfig {
        max_writes: Some(0),
        ..quick_worker()
    };
    let out = bed
        .run_with(
            Work::Import {
                only: None,
                resume: None,
            },
            &cfg,
        )
        .await;
    assert_eq!(out, JobOutcome::Done { finished: false });
    let run = &bed.aws.store.runs(&bed.id, 1).await.unwrap()[0];
    let actuals = run.actuals.as_ref().unwrap();
    assert_eq!(
        (actuals.writes, actuals.backfilled_chunks),
        (0, 3),
        "{actuals:?}"
    );
    assert_eq!(run.outcome, shared::account::Outcome::Continued);
    assert_eq!(
        bed.aws.store.backfilled_through(&bed.id).await.unwrap(),
        Some(today() - Duration::days(45))
    );
    let continuation = bed.queue.sent.lock().unwrap().pop().expect("continued");
    assert_eq!(continuation.trigger, Trigger::Continuation);
    // Continued with writes allowed, it finishes the window.
    assert_eq!(
        bed.run(Work::Import {
            only: None,
            resume: None
        })
        .await,
        done()
    );
}

#[tokio::test]
async fn a_project_tagged_sync_off_is_skipped_and_keeps_what_it_had() {
    let bed = bed().await;
    bed.daily().await;
    let day = weekday_back(2);
    let project = bed.entries(ANA, day)[0].project_id.clone().unwrap();
    let had = bed.minutes(ANA, &project, day);
    let rc = runn_client(&bed._r);
    let tag = rc.create_project_tag(" SYNC_OFF ").await.unwrap();
    rc.add_tag_to_project(tag.id, shared::ids::RunnProjectId(bed.project(&project)))
        .await
        .unwrap();
    // Time deleted after the tag: the project is out of the sync, so nothing changes.
    let gone = bed.entries(ANA, day)[0].clone();
    bed.clockify_call(
        reqwest::Method::DELETE,
        &format!("/time-entries/{}", gone.id),
        None,
    )
    .await;
    let r = bed.daily().await;
    assert!(
        r.skipped.iter().any(|g| g.reason == TimeSkip::SyncOff),
        "{r:?}"
    );
    assert_eq!(bed.minutes(ANA, &project, day), had);
}

#[tokio::test]
async fn totals_runn_refuses_are_reported_and_the_rest_are_written() {
    let bed = bed().await;
    let locked = bed.project(P1);
    bed.runn.data.lock().unwrap().locked_projects.insert(locked);
    let r = bed.daily().await;
    assert!(r.refused.count > 0, "{r:?}");
    assert!(r.refused.named[0].contains("locked"), "{:?}", r.refused);
    assert!(r.written > 0);
    let d = bed.runn.data.lock().unwrap();
    assert!(d.actuals.values().all(|a| a["projectId"] != locked));
    assert!(d.actuals.len() >= r.written);
}

#[tokio::test]
async fn autofill_writes_zeros_once_and_real_hours_replace_them() {
    let bed = bed().await;
    let monday = shared::sync::rules::autofill::last_complete_week(today());
    // Ana is planned on project 4 all last week, where she logged no time.
    let p4 = "p0000000000000000000p004";
    let (ana, proj) = (bed.person(ANA), bed.project(p4));
    let role = bed.runn.give_role(ana, "Consultant");
    bed.runn
        .add_assignment(ana, proj, role, monday, monday + Duration::days(6), 240);
    {
        // Remove her p4 time last week so every weekday is empty there.
        let mut d = bed.clockify.data.write().unwrap();
        d.workspaces[0].time_entries.retain(|e| {
            !(e.user_id == ANA
                && e.project_id.as_deref() == Some(p4)
                && e.start.date_naive() >= monday
                && e.start.date_naive() <= monday + Duration::days(6))
        });
    }
    bed.daily().await;
    assert_eq!(bed.run(Work::Autofill { week: None }).await, done());
    let r = bed.last_actuals().await;
    assert_eq!(r.autofilled, 5, "Monday to Friday: {r:?}");
    for k in 0..5 {
        assert_eq!(bed.minutes(ANA, p4, monday + Duration::days(k)), (0, 0));
    }
    assert_eq!(bed.run(Work::Autofill { week: None }).await, done());
    assert_eq!(
        bed.last_actuals().await.autofilled,
        0,
        "nothing the second time"
    );
    // Real hours arrive for Wednesday: they replace the autofilled 0.
    let wednesday = monday + Duration::days(2);
    let start = wednesday.and_hms_opt(10, 0, 0).unwrap().and_utc();
    bed.clockify.data.write().unwrap().workspaces[0]
        .time_entries
        .push(SimTimeEntry {
            id: "late000000000000000000001".into(),
            user_id: ANA.into(),
            project_id: Some(p4.into()),
            billable: true,
            description: String::new(),
            start,
            end: Some(start + Duration::minutes(150)),
        });
    bed.daily().await;
    assert_eq!(bed.minutes(ANA, p4, wednesday), (150, 0));
}

#[tokio::test]
async fn a_message_of_the_import_only_days_still_runs() {
    let bed = bed().await;
    let url = bed.aws.queue().await;
    let old = r#"{"account":"acme","run_id":"old-shape","trigger":"schedule"}"#;
    bed.aws
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body(old)
        .send()
        .await
        .unwrap();
    let q = SqsQueue::new(bed.aws.sqs.clone(), url);
    let round = shared::jobs::work_once(
        &bed.aws.store,
        &q,
        &quick_worker(),
        tokio::time::Instant::now() + StdDuration::from_secs(600),
        StdDuration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!((round.received, round.retried), (1, 0));
    let run = &bed.aws.store.runs(&bed.id, 1).await.unwrap()[0];
    assert_eq!(run.run_id, "old-shape");
    assert!(run.report.is_some() && run.actuals.is_some());
}
