//! Near-real-time sync: this integration's webhooks registered on the Clockify simulator
//! (idempotent, within the plan's limit, never a foreign one), repaired by the daily
//! run, removed on turning off; and a change in Clockify carried into Runn by the real
//! binaries (Clockify's delivery → the gateway stand-in → the api binary → the webhook
//! queue → the poller → the worker binary), with no daily run.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use shared::account::{AccountId, Trigger};
use shared::jobs::{run_job, JobOutcome, WorkerConfig};
use shared::model::webhooks::token_digest;
use shared::queue::{HookWork, Job, MemoryQueue};
use shared::store::roles::*;
use shared::sync::rules::webhooks::{CORE_EVENTS, EXTRA_EVENTS};
use sims::clockify::{ClockifySim, Delivery, Plan, SimTimeEntry};
use sims::common::Running;
use sims::contract::contract;
use sims::demo;
use sims::live::Live;
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::time::Duration as StdDuration;

const PUBLIC: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com";
const ANA: &str = "u0000000000000000000u001";
const P1: &str = "p0000000000000000000p001";

struct Bed {
    aws: TestAws,
    clockify: ClockifySim,
    _c: Running,
    runn: RunnSim,
    _r: Running,
    id: AccountId,
}

async fn bed(plan: Plan) -> Bed {
    let aws = TestAws::new().await;
    let mut data = demo::data();
    data.workspaces[0].plan = plan;
    let clockify = ClockifySim::new(data);
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let account = demo_account("acme", &c, &r, RUNN_TOKEN);
    aws.store.put_account(&account).await.unwrap();
    Bed {
        aws,
        clockify,
        _c: c,
        runn,
        _r: r,
        id: account.settings.id,
    }
}

fn worker(public: &str) -> WorkerConfig {
    WorkerConfig {
        public_api_url: Some(public.to_owned()),
        ..quick_worker()
    }
}

impl Bed {
    async fn run(&self, job: Job, cfg: &WorkerConfig) -> JobOutcome {
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(120);
        run_job(
            &self.aws.store,
            &MemoryQueue::default(),
            &job,
            deadline,
            cfg,
        )
        .await
        .unwrap()
    }
    async fn register(&self) -> JobOutcome {
        let job = Job::hooks(self.id.clone(), HookWork::Register);
        self.run(job, &worker(PUBLIC)).await
    }
    /// The workspace's webhooks as (event, url) of ours and the ids of all.
    fn hooks(&self) -> Vec<sims::clockify::SimWebhook> {
        self.clockify.webhooks(demo::WORKSPACE_ID)
    }
    fn ours(&self) -> Vec<sims::clockify::SimWebhook> {
        let url = format!("{PUBLIC}/webhooks/clockify/acme");
        self.hooks().into_iter().filter(|h| h.url == url).collect()
    }
    fn posts(&self) -> u64 {
        self.clockify
            .ctl
            .count("POST /api/v1/workspaces/{workspaceId}/webhooks")
    }
}

fn events(hooks: &[sims::clockify::SimWebhook]) -> Vec<String> {
    let mut e: Vec<String> = hooks.iter().map(|h| h.webhook_event.clone()).collect();
    e.sort();
    e
}

fn all_events() -> Vec<String> {
    let mut e: Vec<String> = CORE_EVENTS
        .iter()
        .chain(&EXTRA_EVENTS)
        .map(|s| s.to_string())
        .collect();
    e.sort();
    e
}

#[tokio::test]
async fn registration_is_idempotent_repaired_by_the_daily_run_and_removed_on_turning_off() {
    let b = bed(Plan::Pro).await;
    let foreign = b
        .clockify
        .seed_webhook(
            demo::WORKSPACE_ID,
            "https://zapier.example/hook",
            "NEW_TIME_ENTRY",
        )
        .unwrap();
    assert_eq!(b.register().await, JobOutcome::Done { finished: true });
    let first = b.ours();
    assert_eq!(events(&first), all_events());
    // Only digests are kept, one per webhook, each its token's.
    let reg = b.aws.store.hooks(&b.id).await.unwrap().unwrap();
    assert_eq!(reg.hooks.len(), 9);
    for h in &first {
        let kept = reg.hooks.iter().find(|r| r.id == h.id).unwrap();
        assert_eq!(kept.token_digest, token_digest(&h.auth_token));
    }
    assert!(reg.left_to_daily.is_empty());

    // Twice: the same webhooks, nothing created.
    let posts = b.posts();
    assert_eq!(b.register().await, JobOutcome::Done { finished: true });
    let mut ids: Vec<String> = b.ours().iter().map(|h| h.id.clone()).collect();
    let mut before: Vec<String> = first.iter().map(|h| h.id.clone()).collect();
    ids.sort();
    before.sort();
    assert_eq!(ids, before);
    assert_eq!(b.posts(), posts);

    // Clockify stops delivering one; another is deleted by hand: the daily run repairs.
    assert!(b
        .clockify
        .disable_delivery(demo::WORKSPACE_ID, &first[0].id));
    b.clockify.data.write().unwrap().workspaces[0]
        .webhooks
        .retain(|h| h.id != first[1].id);
    let daily = Job::import(b.id.clone(), "daily-2026-12-01T0200Z", Trigger::Schedule);
    assert_eq!(
        b.run(daily, &worker(PUBLIC)).await,
        JobOutcome::Done { finished: true }
    );
    let repaired = b.ours();
    assert_eq!(events(&repaired), all_events());
    assert!(repaired
        .iter()
        .all(|h| h.delivery_enabled && h.id != first[0].id));
    let reg = b.aws.store.hooks(&b.id).await.unwrap().unwrap();
    assert_eq!(reg.hooks.len(), 9);

    // Turned off: the clean-up deletes ours with the key kept for it, then the key.
    assert!(b
        .aws
        .store
        .turn_off(&b.id, "turned off in Runn")
        .await
        .unwrap());
    assert!(b.aws.store.cleanup_key(&b.id).await.unwrap().is_some());
    let cleanup = Job::hooks(b.id.clone(), HookWork::Cleanup);
    assert_eq!(
        b.run(cleanup, &worker(PUBLIC)).await,
        JobOutcome::Done { finished: true }
    );
    assert!(b.ours().is_empty());
    let left: Vec<String> = b.hooks().iter().map(|h| h.id.clone()).collect();
    assert_eq!(
        left,
        std::slice::from_ref(&foreign.id),
        "the foreign webhook is untouched"
    );
    assert!(b.aws.store.cleanup_key(&b.id).await.unwrap().is_none());
    let status = shared::status::AccountStatus::read(&b.aws.store, &b.id, 3)
        .await
        .unwrap()
        .unwrap();
    assert!(status.webhooks.events.is_empty());
    assert!(status
        .webhooks
        .cleanup
        .unwrap()
        .contains("9 webhooks deleted"));
    assert!(!status.credentials_stored);
}

#[tokio::test]
async fn on_the_free_plan_what_fits_is_registered_in_order_and_the_rest_left_to_the_daily_run() {
    let b = bed(Plan::Free).await;
    // The customer's own webhook counts against the 3.
    let foreign = b
        .clockify
        .seed_webhook(demo::WORKSPACE_ID, "https://mine.example/h", "NEW_PROJECT")
        .unwrap();
    assert_eq!(b.register().await, JobOutcome::Done { finished: true });
    assert_eq!(events(&b.ours()), ["NEW_TIME_ENTRY", "TIMER_STOPPED"]);
    assert_eq!(b.hooks().len(), 3);
    assert!(b
        .hooks()
        .iter()
        .any(|h| h.id == foreign.id && h.url == foreign.url));
    let status = shared::status::AccountStatus::read(&b.aws.store, &b.id, 3)
        .await
        .unwrap()
        .unwrap();
    let left = &status.webhooks.left_to_daily;
    assert_eq!(left.len(), 7);
    assert_eq!(left[0], "TIME_ENTRY_UPDATED");
    assert!(status
        .notices
        .iter()
        .any(|n| n.contains("TIME_ENTRY_DELETED") && n.contains("daily run")));
    // Again: nothing created, nothing deleted.
    let posts = b.posts();
    assert_eq!(b.register().await, JobOutcome::Done { finished: true });
    assert_eq!(b.posts(), posts);
    assert_eq!(b.hooks().len(), 3);
}

#[tokio::test]
async fn a_clean_up_key_past_its_hour_is_deleted_unused_and_the_status_says_the_webhooks_were_left()
{
    let b = bed(Plan::Pro).await;
    assert_eq!(b.register().await, JobOutcome::Done { finished: true });
    assert!(b
        .aws
        .store
        .turn_off(&b.id, "turned off in Runn")
        .await
        .unwrap());
    // The sweep finds it by the sparse index, and leaves a key within its hour alone.
    let store = &b.aws.store;
    assert_eq!(
        store.cleanup_accounts().await.unwrap(),
        std::slice::from_ref(&b.id)
    );
    let swept = shared::jobs::hooks::sweep_cleanup_keys(store)
        .await
        .unwrap();
    assert_eq!(swept, 0);
    let soon = Utc::now() + Duration::minutes(30);
    assert!(!b.aws.store.expire_cleanup_key(&b.id, soon).await.unwrap());
    let later = Utc::now() + Duration::minutes(61);
    assert!(b.aws.store.expire_cleanup_key(&b.id, later).await.unwrap());
    assert!(b.aws.store.cleanup_key(&b.id).await.unwrap().is_none());
    assert!(store.cleanup_accounts().await.unwrap().is_empty());
    // The clean-up job, late, finds no key: the webhooks stay (and get 401).
    let cleanup = Job::hooks(b.id.clone(), HookWork::Cleanup);
    assert!(matches!(
        b.run(cleanup, &worker(PUBLIC)).await,
        JobOutcome::Dropped(_)
    ));
    assert_eq!(b.ours().len(), 9);
}

/// Waits (a minute and a half at most) for `done`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) -> StdDuration {
    let start = std::time::Instant::now();
    while start.elapsed() < StdDuration::from_secs(90) {
        if done() {
            return start.elapsed();
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    panic!("{what} did not happen within 90 s");
}

async fn post(
    gw: &Running,
    account: &str,
    token: Option<&str>,
    event: &str,
    body: &str,
) -> (u16, Value) {
    let path = format!("/webhooks/clockify/{account}");
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}{}",
            gw.url().as_str().trim_end_matches('/'),
            path
        ))
        .header("content-type", "application/json")
        .header("clockify-webhook-event-type", event)
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.header("Clockify-Signature", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    contract()
        .check_response("POST", &path, status, &body)
        .unwrap_or_else(|e| panic!("{e}\n{body}"));
    (status, body)
}

#[tokio::test]
async fn a_change_in_clockify_reaches_runn_through_the_real_binaries_without_a_daily_run() {
    let b = bed(Plan::Pro).await;
    // Imported, everyone given a role, actuals on (as Save & Run leaves an account).
    let import = Job::import(b.id.clone(), "first", Trigger::Manual);
    assert_eq!(
        b.run(import, &quick_worker()).await,
        JobOutcome::Done { finished: true }
    );
    let people: Vec<i64> = b.runn.data.lock().unwrap().people.keys().copied().collect();
    for p in people {
        b.runn.give_role(p, "Consultant");
    }
    let mut settings = b.aws.store.settings(&b.id).await.unwrap().unwrap();
    settings.switches.actuals = true;
    update_settings(&b.aws.store, &settings).await;
    // A daily run has synced the window: webhook runs read Runn by its changes since.
    let daily = Job::import(b.id.clone(), "daily-2026-12-01T0200Z", Trigger::Schedule);
    assert_eq!(
        b.run(daily, &quick_worker()).await,
        JobOutcome::Done { finished: true }
    );
    let state = b.aws.store.sync_state(&b.id).await.unwrap();
    assert!(state.changes_since.is_some(), "{state:?}");
    let l = Live::start(&b.aws).await.expect("start the binaries");
    b.clockify.set_delivery(Delivery {
        duplicate: 0.5,
        ..Delivery::default()
    });

    // Registered by the worker (as after Save & Run), at the gateway's URL.
    let register = serde_json::to_string(&Job::hooks(b.id.clone(), HookWork::Register)).unwrap();
    b.aws
        .sqs
        .send_message()
        .queue_url(&l.hooks_queue)
        .message_body(register)
        .send()
        .await
        .unwrap();
    let store = &b.aws.store;
    for _ in 0..300 {
        if store
            .hooks(&b.id)
            .await
            .unwrap()
            .is_some_and(|h| h.hooks.len() == 9)
        {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    assert_eq!(store.hooks(&b.id).await.unwrap().unwrap().hooks.len(), 9);

    // Two hours logged today on P1: in Runn without a daily run.
    let today = Utc::now().date_naive();
    let start = today.and_hms_opt(8, 0, 0).unwrap().and_utc();
    let entry = SimTimeEntry {
        id: "e-live-1".into(),
        user_id: ANA.into(),
        project_id: Some(P1.into()),
        billable: true,
        description: "webhook".into(),
        start,
        end: Some(start + Duration::hours(2)),
    };
    let before = minutes(&b, today);
    assert!(b.clockify.add_entry(demo::WORKSPACE_ID, entry));
    let took = eventually("the new entry in Runn", || {
        minutes(&b, today) == before + 120
    })
    .await;
    assert!(took < StdDuration::from_secs(60), "{took:?}");
    // Moved to yesterday, then deleted: the totals follow.
    let yesterday = today.pred_opt().unwrap();
    let y_before = minutes(&b, yesterday);
    assert!(b.clockify.edit_entry(demo::WORKSPACE_ID, "e-live-1", |e| {
        e.start -= Duration::days(1);
        e.end = e.end.map(|t| t - Duration::days(1));
    }));
    eventually("the move in Runn", || {
        minutes(&b, today) == before && minutes(&b, yesterday) == y_before + 120
    })
    .await;
    assert!(b.clockify.delete_entry(demo::WORKSPACE_ID, "e-live-1"));
    eventually("the deletion in Runn", || {
        minutes(&b, yesterday) == y_before
    })
    .await;
    let status = shared::status::AccountStatus::read(store, &b.id, 5)
        .await
        .unwrap()
        .unwrap();
    assert!(status.webhooks.last_change_at.is_some());
    assert!(
        status.pending_run.is_none(),
        "webhook runs never hold the buttons' mark"
    );
    assert!(status.runs.iter().all(|r| r.trigger != Trigger::Webhook));

    refusals_through_the_real_binary(&b, &l).await;
    let stats = l.poller.stop().await;
    assert_eq!(stats.invoke_errors, 0, "{stats:?}");
    let log = l.worker.log_text();
    for h in b.hooks() {
        assert!(
            !log.contains(&h.auth_token),
            "a webhook token in the worker's log"
        );
    }
    assert!(!log.contains(RUNN_TOKEN) && !log.contains(demo::API_KEY));
}

/// Ana's minutes on P1 (billable and not) on a day in Runn.
fn minutes(b: &Bed, day: chrono::NaiveDate) -> i64 {
    let person = b.runn.id_of(Kind::Person, ANA).unwrap();
    let project = b.runn.id_of(Kind::Project, P1).unwrap();
    let (billable, other) = b.runn.minutes(person, project, day);
    billable + other
}

/// The route's refusals, over HTTP through the gateway to the real api binary, each held
/// to `infra/api.yaml`.
async fn refusals_through_the_real_binary(b: &Bed, l: &Live) {
    let token = b
        .hooks()
        .into_iter()
        .find(|h| h.webhook_event == "NEW_TIME_ENTRY")
        .unwrap()
        .auth_token;
    let body = json!({"id": "x", "userId": ANA, "workspaceId": demo::WORKSPACE_ID,
        "timeInterval": {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T09:00:00Z"}})
    .to_string();
    let gw = &l.gateway;
    let (s_none, none) = post(gw, "acme", None, "NEW_TIME_ENTRY", &body).await;
    let (s_wrong, wrong) = post(gw, "acme", Some("forged"), "NEW_TIME_ENTRY", &body).await;
    // Another account, on with webhooks of its own: its token is not acme's, nor
    // acme's token its.
    let mut globex = offline_account("globex");
    globex.settings.enabled = true;
    b.aws.store.put_account(&globex).await.unwrap();
    let theirs = shared::model::webhooks::HookRegistration {
        hooks: vec![shared::model::webhooks::RegisteredHook {
            id: "g1".into(),
            event: "NEW_TIME_ENTRY".into(),
            token_digest: token_digest("globex-token"),
        }],
        ..Default::default()
    };
    b.aws
        .store
        .save_hooks(&globex.settings.id, &theirs)
        .await
        .unwrap();
    let (s_other, other) = post(gw, "acme", Some("globex-token"), "NEW_TIME_ENTRY", &body).await;
    let (s_cross, cross) = post(gw, "globex", Some(&token), "NEW_TIME_ENTRY", &body).await;
    let (s_nobody, nobody) = post(gw, "nobody", Some(&token), "NEW_TIME_ENTRY", &body).await;
    assert_eq!([s_none, s_wrong, s_other, s_cross, s_nobody], [401; 5]);
    for refusal in [&wrong, &other, &cross, &nobody] {
        assert_eq!(refusal, &none);
    }
    let (s, _) = post(gw, "acme", Some(&token), "EXPENSE_CREATED", &body).await;
    assert_eq!(s, 400);
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    let (s, _) = post(gw, "acme", Some(&token), "NEW_TIME_ENTRY", &huge).await;
    assert_eq!(s, 400);
    let (s, ok) = post(gw, "acme", Some(&token), "NEW_TIME_ENTRY", &body).await;
    assert_eq!((s, &ok["accepted"]), (200, &json!(true)));
}

#[tokio::test]
async fn the_changes_item_names_at_most_a_thousand_people_then_everyone_is_recomputed() {
    use shared::model::webhooks::{Changes, MAX_MARKED_PEOPLE};
    let b = bed(Plan::Pro).await;
    let people = |from: usize, n: usize| Changes {
        people: (from..from + n)
            .map(|i| shared::ids::ClockifyUserId::new(format!("u{i:023}")))
            .collect(),
        first_at: Some(Utc::now()),
        ..Default::default()
    };
    let store = &b.aws.store;
    store
        .add_changes(&b.id, &people(0, MAX_MARKED_PEOPLE - 1))
        .await
        .unwrap();
    store.add_changes(&b.id, &people(5000, 1)).await.unwrap();
    let full = store.take_changes(&b.id).await.unwrap();
    assert_eq!(
        (full.people.len(), full.everyone),
        (MAX_MARKED_PEOPLE, false)
    );
    store
        .add_changes(&b.id, &people(0, MAX_MARKED_PEOPLE))
        .await
        .unwrap();
    store.add_changes(&b.id, &people(9000, 1)).await.unwrap();
    let past = store.take_changes(&b.id).await.unwrap();
    assert!(past.everyone && past.people.is_empty(), "{past:?}");
    assert!(past.first_at.is_some());
    assert!(store.take_changes(&b.id).await.unwrap().is_empty());
}
