//! Accounts, the store, the queue and the jobs against DynamoDB, KMS and SQS (moto over
//! their real protocols) and the two simulators over HTTP.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use secrecy::ExposeSecret;
use shared::account::{Account, AccountId, Outcome, RunRecord, Trigger};
use shared::jobs::{fan_out, run_job, JobOutcome, WorkerConfig};
use shared::queue::{Job, MemoryQueue, Queue, SqsQueue};
use shared::runn::RunnHost;
use shared::store::{roles::*, Sealer};
use shared::FailureClass;
use sims::clockify::ClockifySim;
use sims::common::Running;
use sims::demo;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::*;
use std::collections::HashMap;
use std::time::Duration;

/// Records what the real queue accepted.
struct Recording {
    inner: SqsQueue,
    sent: std::sync::Mutex<Vec<Job>>,
}

#[async_trait::async_trait]
impl Queue for Recording {
    async fn send(&self, jobs: &[Job]) -> Result<(), shared::queue::QueueError> {
        self.inner.send(jobs).await?;
        self.sent.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
    async fn send_later(
        &self,
        job: &Job,
        delay: Duration,
    ) -> Result<(), shared::queue::QueueError> {
        self.inner.send_later(job, delay).await
    }
}

type Aws = TestAws;

async fn aws() -> Aws {
    TestAws::new().await
}

async fn queue(aws: &Aws) -> String {
    aws.queue().await
}

fn account(id: &str, clockify: &Running, runn: &Running, token: &str) -> Account {
    demo_account(id, clockify, runn, token)
}

fn worker() -> WorkerConfig {
    quick_worker()
}

fn far_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(600)
}

async fn sims() -> (ClockifySim, Running, RunnSim, Running) {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    (c, cr, r, rr)
}

#[tokio::test]
async fn secrets_are_sealed_with_kms_bound_to_their_account() {
    let aws = aws().await;
    let (_c, cr, _r, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();

    let raw = aws
        .db
        .get_item()
        .table_name(&aws.table)
        .key("pk", AttributeValue::S("ACCOUNT#acme".into()))
        .key("sk", AttributeValue::S("ACCOUNT".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let everything = format!("{raw:?}");
    assert!(
        !everything.contains(RUNN_TOKEN) && !everything.contains(demo::API_KEY),
        "plaintext stored: {everything}"
    );
    let sealed = raw["runn_token"].as_b().unwrap().as_ref().to_vec();
    assert!(!sealed
        .windows(RUNN_TOKEN.len())
        .any(|w| w == RUNN_TOKEN.as_bytes()));

    let back = aws.store.account(&a.settings.id).await.unwrap().unwrap();
    assert_eq!(back.runn_token.expose_secret(), RUNN_TOKEN);
    assert_eq!(back.clockify_api_key.expose_secret(), demo::API_KEY);
    assert_eq!(back.settings, a.settings);

    // Sealed for one account, it does not open for another.
    let other = AccountId::parse("globex").unwrap();
    use shared::store::{Opened, SealContext};
    let own = SealContext::bound(shared::account::Credential::RunnToken, &a.settings);
    assert!(matches!(
        aws.sealer.open(&own, &sealed).await.unwrap(),
        Opened::Secret(_)
    ));
    let mut elsewhere = a.settings.clone();
    elsewhere.id = other;
    let theirs = SealContext::bound(shared::account::Credential::RunnToken, &elsewhere);
    assert!(matches!(
        aws.sealer.open(&theirs, &sealed).await.unwrap(),
        Opened::WrongContext
    ));
    assert!(matches!(
        aws.sealer
            .open(&SealContext::legacy(&a.settings.id), &sealed)
            .await
            .unwrap(),
        Opened::WrongContext
    ));
}

#[tokio::test]
async fn a_lease_keeps_a_second_run_out_until_released_or_expired() {
    let aws = aws().await;
    let id = AccountId::parse("acme").unwrap();
    let s = &aws.store;
    assert!(s
        .try_lease(&id, "daily", Duration::from_secs(300))
        .await
        .unwrap()
        .is_taken());
    assert!(
        !s.try_lease(&id, "manual", Duration::from_secs(300))
            .await
            .unwrap()
            .is_taken(),
        "held"
    );
    assert!(
        s.try_lease(&id, "daily", Duration::from_secs(300))
            .await
            .unwrap()
            .is_taken(),
        "the holder may renew"
    );
    s.release_lease(&id, "manual").await.unwrap();
    assert!(
        !s.try_lease(&id, "manual", Duration::from_secs(300))
            .await
            .unwrap()
            .is_taken(),
        "only the holder releases"
    );
    s.release_lease(&id, "daily").await.unwrap();
    assert!(s
        .try_lease(&id, "manual", Duration::from_secs(0))
        .await
        .unwrap()
        .is_taken());
    // A crashed holder's lease runs out.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        s.try_lease(&id, "daily", Duration::from_secs(300))
            .await
            .unwrap()
            .is_taken(),
        "expired lease taken over"
    );
}

/// Writes `n` enabled accounts directly (the scheduler reads only the index, never the
/// secrets) and returns their ids.
async fn seed_enabled_accounts(aws: &Aws, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("acct-{i:05}")).collect();
    for chunk in ids.chunks(25) {
        let writes: Vec<WriteRequest> = chunk
            .iter()
            .map(|id| {
                let put = PutRequest::builder()
                    .item("pk", AttributeValue::S(format!("ACCOUNT#{id}")))
                    .item("sk", AttributeValue::S("ACCOUNT".into()))
                    .item("gsi1pk", AttributeValue::S("ENABLED".into()))
                    .item("gsi1sk", AttributeValue::S(id.clone()))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let out = aws
            .db
            .batch_write_item()
            .request_items(&aws.table, writes)
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
    ids
}

#[tokio::test]
async fn the_scheduler_queues_each_of_1000_accounts_exactly_once() {
    let aws = aws().await;
    seed_enabled_accounts(&aws, 1_000).await;
    let url = queue(&aws).await;
    let q = Recording {
        inner: SqsQueue::new(aws.sqs.clone(), url.clone()),
        sent: Default::default(),
    };
    let sent = fan_out(&aws.store, &q, "run-1").await.unwrap();
    assert_eq!(sent.queued, 1_000);
    // SQS holds exactly as many messages as accounts, and each account was sent once.
    let attrs = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let in_queue = attrs.attributes().unwrap()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .clone();
    assert_eq!(in_queue, "1000");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for job in q.sent.lock().unwrap().iter() {
        assert_eq!(
            (job.run_id.as_str(), job.trigger),
            ("run-1", Trigger::Schedule)
        );
        *seen.entry(job.account.to_string()).or_default() += 1;
    }
    assert_eq!(seen.len(), 1_000);
    assert!(
        seen.values().all(|n| *n == 1),
        "an account was queued twice"
    );
}

/// Counts what the scheduler hands to the queue, call by call.
#[derive(Default)]
struct Counting {
    calls: std::sync::Mutex<Vec<Vec<Job>>>,
}

#[async_trait::async_trait]
impl Queue for Counting {
    async fn send(&self, jobs: &[Job]) -> Result<(), shared::queue::QueueError> {
        self.calls.lock().unwrap().push(jobs.to_vec());
        Ok(())
    }
    async fn send_later(&self, _: &Job, _: Duration) -> Result<(), shared::queue::QueueError> {
        unreachable!("the scheduler never delays")
    }
}

/// 10,000 accounts through DynamoDB's protocol: ten pages of the index, every account
/// queued once. (The SQS side is the 1,000-account test above: moto's SQS recomputes every
/// queue attribute on each send, so 10,000 messages through it take most of an hour.)
#[tokio::test]
async fn the_scheduler_pages_through_10000_accounts_and_queues_each_once() {
    let aws = aws().await;
    let ids = seed_enabled_accounts(&aws, 10_000).await;
    // A disabled account is left out.
    let (_c, cr, _r, rr) = sims().await;
    let mut off = account("acct-off", &cr, &rr, RUNN_TOKEN);
    off.settings.enabled = false;
    aws.store.put_account(&off).await.unwrap();
    let q = Counting::default();
    let sent = fan_out(&aws.store, &q, "run-10k").await.unwrap();
    assert_eq!(sent.queued, 10_000);
    let calls = q.calls.lock().unwrap();
    assert_eq!(
        calls.len(),
        10,
        "one send per page of {}",
        shared::jobs::SCHEDULER_PAGE
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    for job in calls.iter().flatten() {
        *seen.entry(job.account.to_string()).or_default() += 1;
    }
    assert_eq!(seen.len(), 10_000);
    assert!(
        seen.values().all(|n| *n == 1),
        "an account was queued twice"
    );
    assert!(
        ids.iter().all(|id| seen.contains_key(id)),
        "an account was missed"
    );
}

#[tokio::test]
async fn the_worker_imports_and_records_the_run_and_keeps_no_id_table() {
    let aws = aws().await;
    let (_c, cr, _r, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let q = MemoryQueue::default();
    let job = Job {
        trigger: Trigger::Manual,
        ..job(a.settings.id.as_str(), "r1")
    };

    let out = run_job(&aws.store, &q, &job, far_deadline(), &worker())
        .await
        .unwrap();
    assert_eq!(out, JobOutcome::Done { finished: true });
    let runs = aws.store.runs(&a.settings.id, 5).await.unwrap();
    let RunRecord {
        outcome,
        report,
        trigger,
        ..
    } = &runs[0];
    assert_eq!((outcome, *trigger), (&Outcome::Succeeded, Trigger::Manual));
    let report = report.as_ref().unwrap();
    assert_eq!(
        (
            report.created.clients,
            report.created.projects,
            report.created.people
        ),
        (3, 4, 5)
    );
    assert_eq!(report.people_on_unknown_role, 5);

    // Again: nothing created, newest run first.
    let job2 = Job {
        run_id: "r2".into(),
        trigger: Trigger::Schedule,
        ..job.clone()
    };
    run_job(&aws.store, &q, &job2, far_deadline(), &worker())
        .await
        .unwrap();
    let runs = aws.store.runs(&a.settings.id, 5).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_id, "r2");
    assert_eq!(runs[0].report.as_ref().unwrap().created.people, 0);
    assert!(q.sent.lock().unwrap().is_empty(), "no continuation needed");

    // Runn's references are the record of truth: the table holds the account and its
    // runs, each run set to expire after 90 days, and no table of ids to match on: the
    // record of creates (one item per record created, the second run adding none) only
    // says what a removal may archive.
    let items = aws.db.scan().table_name(&aws.table).send().await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let created = items
        .items()
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("CREATED#"))
        .count();
    assert_eq!(created, 3 + 4 + 5);
    for item in items.items() {
        let sk = item["sk"].as_s().unwrap();
        assert!(
            sk == "ACCOUNT"
                || sk.starts_with("RUN#")
                || sk.starts_with("RUNID#")
                || sk.starts_with("CREATED#"),
            "unexpected item {sk}"
        );
        if sk.starts_with("RUN") {
            let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
            let days = (expires - now) / 86_400;
            assert!((89..=90).contains(&days), "expires in {days} days");
        }
    }
}

#[tokio::test]
async fn a_run_that_cannot_finish_queues_its_continuation_which_resumes() {
    let aws = aws().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let url = queue(&aws).await;
    let q = SqsQueue::new(aws.sqs.clone(), url.clone());
    let cfg = WorkerConfig {
        max_writes: Some(4),
        ..worker()
    };
    let mut job = job(a.settings.id.as_str(), "r1");
    let mut runs = 0;
    loop {
        runs += 1;
        let out = run_job(&aws.store, &q, &job, far_deadline(), &cfg)
            .await
            .unwrap();
        if out == (JobOutcome::Done { finished: true }) {
            break;
        }
        assert_eq!(out, JobOutcome::Done { finished: false });
        let got = aws
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages().len(), 1, "exactly one continuation");
        let m = &got.messages()[0];
        job = serde_json::from_str(m.body().unwrap()).unwrap();
        assert_eq!(
            (job.trigger, job.run_id.as_str()),
            (Trigger::Continuation, "r1")
        );
        aws.sqs
            .delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
        assert!(runs < 10);
    }
    assert_eq!(runs, 3, "11 writes at 4 a run");
    let counts = {
        let d = runn.data.lock().unwrap();
        (d.clients.len(), d.projects.len(), d.people.len())
    };
    assert_eq!(counts, (3, 4, 5));
    let statuses: Vec<_> = aws
        .store
        .runs(&a.settings.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        statuses,
        [Outcome::Succeeded, Outcome::Continued, Outcome::Continued]
    );
}

#[tokio::test]
async fn rejected_credentials_disable_the_account_without_retries() {
    let aws = aws().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = account("acme", &cr, &rr, "LIVE_revoked");
    aws.store.put_account(&a).await.unwrap();
    let q = MemoryQueue::default();
    let job = job(a.settings.id.as_str(), "r1");
    let out = run_job(&aws.store, &q, &job, far_deadline(), &worker())
        .await
        .unwrap();
    assert!(matches!(out, JobOutcome::Dropped(_)), "{out:?}");
    assert_eq!(runn.ctl.total(), 1, "one request, no retry");
    assert!(
        !aws.store
            .settings(&a.settings.id)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    assert!(
        aws.store
            .enabled_accounts(None, 100)
            .await
            .unwrap()
            .accounts
            .is_empty(),
        "the scheduler skips it"
    );
    let run = &aws.store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert!(matches!(
        run.outcome,
        Outcome::Failed {
            class: FailureClass::CredentialsRejected,
            ..
        }
    ));
    // A later message for it is dropped without calling anyone.
    let again = run_job(&aws.store, &q, &job, far_deadline(), &worker())
        .await
        .unwrap();
    assert!(matches!(again, JobOutcome::Dropped(_)));
    assert_eq!(runn.ctl.total(), 1);
}

#[tokio::test]
async fn a_daily_run_and_a_manual_import_never_run_at_once() {
    let aws = aws().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    assert!(aws
        .store
        .try_lease(&a.settings.id, "daily-run:1", Duration::from_secs(300))
        .await
        .unwrap()
        .is_taken());
    let job = Job {
        trigger: Trigger::Manual,
        ..job(a.settings.id.as_str(), "r1")
    };
    // The press is not handed back to wait out the visibility timeout (spending a
    // receive): it is sent again with a delay, and the original acknowledged.
    let q = MemoryQueue::default();
    let out = run_job(&aws.store, &q, &job, far_deadline(), &worker())
        .await
        .unwrap();
    let JobOutcome::Deferred(why) = out else {
        panic!("{out:?}")
    };
    assert!(why.contains("daily-run") && why.contains("until"), "{why}");
    assert_eq!(
        *q.delayed.lock().unwrap(),
        [(job.clone(), shared::queue::LEASE_RETRY_DELAY)]
    );
    assert_eq!(runn.ctl.total(), 0);

    // Through SQS: the worker's round acknowledges it, and the delayed copy is waiting.
    let url = queue(&aws).await;
    let sqs_q = SqsQueue::new(aws.sqs.clone(), url.clone());
    sqs_q.send(std::slice::from_ref(&job)).await.unwrap();
    let round = shared::jobs::work_once(
        &aws.store,
        &sqs_q,
        &worker(),
        far_deadline(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!((round.received, round.retried), (1, 0));
    let delayed = queue_attr(
        &aws,
        &url,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    )
    .await;
    assert_eq!(delayed, "1");
}

#[tokio::test]
async fn a_transient_outage_asks_for_a_retry_and_records_the_failure() {
    let aws = aws().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    runn.ctl.set_faults(sims::common::Faults {
        error_rate: 1.0,
        ..Default::default()
    });
    let job = job(a.settings.id.as_str(), "r1");
    let out = run_job(
        &aws.store,
        &MemoryQueue::default(),
        &job,
        far_deadline(),
        &worker(),
    )
    .await
    .unwrap();
    assert!(matches!(out, JobOutcome::Retry(_)), "{out:?}");
    let run = &aws.store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert!(matches!(
        run.outcome,
        Outcome::Failed {
            class: FailureClass::Transient,
            ..
        }
    ));
    // The lease was given back: the retry can run.
    assert!(aws
        .store
        .try_lease(&a.settings.id, "next", Duration::from_secs(5))
        .await
        .unwrap()
        .is_taken());
}

/// One receive–work–delete round, as the worker's event source does it.
async fn poll_once(aws: &Aws, q: &SqsQueue, cfg: &WorkerConfig) -> usize {
    shared::jobs::work_once(&aws.store, q, cfg, far_deadline(), Duration::ZERO)
        .await
        .unwrap()
        .received
}

async fn queue_attr(aws: &Aws, url: &str, name: aws_sdk_sqs::types::QueueAttributeName) -> String {
    let got = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap();
    got.attributes().unwrap()[&name].clone()
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_in_the_dead_letter_queue_and_others_go_through() {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let aws = aws().await;
    let (_c, cr, _r, rr) = sims().await;
    // "acme" imports; "down" has a Runn host that refuses connections; a third message is
    // not a job at all.
    let good = account("acme", &cr, &rr, RUNN_TOKEN);
    let mut down = account("down", &cr, &rr, RUNN_TOKEN);
    down.settings.runn_host = RunnHost::Custom {
        url: "http://127.0.0.1:9".parse().unwrap(),
    };
    aws.store.put_account(&good).await.unwrap();
    aws.store.put_account(&down).await.unwrap();

    let dlq = queue(&aws).await;
    let dlq_arn = queue_attr(&aws, &dlq, A::QueueArn).await;
    let url = aws
        .sqs
        .create_queue()
        .queue_name(unique("jobs"))
        .attributes(A::VisibilityTimeout, "0")
        .attributes(
            A::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let q = SqsQueue::new(aws.sqs.clone(), url.clone());
    q.send(&[job("acme", "daily"), job("down", "daily")])
        .await
        .unwrap();
    aws.sqs
        .send_message()
        .queue_url(&url)
        .message_body("not a job")
        .send()
        .await
        .unwrap();

    let mut received = 0;
    for _ in 0..10 {
        received += poll_once(&aws, &q, &worker()).await;
    }
    // The good job ran once; each bad message was received 3 times, then dead-lettered.
    assert_eq!(received, 1 + 3 + 3);
    assert_eq!(
        queue_attr(&aws, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
    assert_eq!(
        queue_attr(&aws, &dlq, A::ApproximateNumberOfMessages).await,
        "2"
    );
    let runs = aws.store.runs(&good.settings.id, 5).await.unwrap();
    assert_eq!((runs.len(), &runs[0].outcome), (1, &Outcome::Succeeded));
    let runs = aws.store.runs(&down.settings.id, 5).await.unwrap();
    assert_eq!(runs.len(), 3, "each attempt is in the status");
    assert!(runs.iter().all(|r| matches!(
        r.outcome,
        Outcome::Failed {
            class: FailureClass::Transient,
            ..
        }
    )));
}

#[tokio::test]
async fn a_short_time_limit_still_imports_and_no_time_at_all_never_loops() {
    let aws = aws().await;
    let (_c, cr, _r, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let q = MemoryQueue::default();
    let job = job(a.settings.id.as_str(), "r1");
    // A run with no time left: no write, no continuation, a retry (which the queue
    // dead-letters if it keeps happening), and the reason in the status.
    let cfg = WorkerConfig {
        safety_margin: Duration::from_secs(60),
        ..worker()
    };
    let out = run_job(&aws.store, &q, &job, tokio::time::Instant::now(), &cfg)
        .await
        .unwrap();
    assert!(matches!(out, JobOutcome::Retry(_)), "{out:?}");
    assert!(q.sent.lock().unwrap().is_empty(), "no continuation");
    let run = &aws.store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert!(
        matches!(&run.outcome, Outcome::Failed { class: FailureClass::Transient, message } if message.contains("time ran out")),
        "{:?}",
        run.outcome
    );
    // Ten seconds left and a 60-second margin: the margin shrinks and the import finishes.
    let soon = tokio::time::Instant::now() + Duration::from_secs(10);
    let out = run_job(&aws.store, &q, &job, soon, &cfg).await.unwrap();
    assert_eq!(out, JobOutcome::Done { finished: true });
}

#[tokio::test]
async fn a_run_whose_status_cannot_be_saved_still_releases_its_lease_and_queues_its_continuation() {
    let (_c, cr, _r, rr) = sims().await;
    let store = shared::store::MemoryStore::default();
    store
        .fail_record_run
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    store.put_account(&a).await.unwrap();
    let q = MemoryQueue::default();
    let cfg = WorkerConfig {
        max_writes: Some(4),
        ..worker()
    };
    let job = job(a.settings.id.as_str(), "r1");
    // The record could not be saved, but the continuation is the run's one chain: the
    // original is acknowledged (not retried beside it).
    let out = run_job(&store, &q, &job, far_deadline(), &cfg)
        .await
        .expect("acknowledged: its continuation carries on");
    assert_eq!(out, JobOutcome::Done { finished: false });
    assert!(
        store
            .try_lease(&a.settings.id, "next:1", Duration::from_secs(5))
            .await
            .unwrap()
            .is_taken(),
        "the lease was released"
    );
    let sent = q.sent.lock().unwrap();
    assert_eq!(sent.len(), 1, "the continuation was still queued");
    assert_eq!(sent[0].trigger, Trigger::Continuation);
}

/// Checks, on every send, that the account's lease is free: a run's continuation must
/// never meet its own lease.
struct LeaseMustBeFree {
    store: shared::store::DynamoStore,
    account: AccountId,
    inner: SqsQueue,
}

#[async_trait::async_trait]
impl Queue for LeaseMustBeFree {
    async fn send(&self, jobs: &[Job]) -> Result<(), shared::queue::QueueError> {
        let probe = self
            .store
            .try_lease(&self.account, "probe:1", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            probe.is_taken(),
            "a continuation queued under its run's lease"
        );
        self.store
            .release_lease(&self.account, "probe:1")
            .await
            .unwrap();
        self.inner.send(jobs).await
    }
    async fn send_later(&self, job: &Job, d: Duration) -> Result<(), shared::queue::QueueError> {
        self.inner.send_later(job, d).await
    }
}

#[tokio::test]
async fn a_continuation_is_queued_only_after_the_lease_is_released() {
    let aws = aws().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let url = queue(&aws).await;
    let q = LeaseMustBeFree {
        store: shared::store::DynamoStore::new(
            aws.db.clone(),
            aws.table.clone(),
            aws.sealer.clone(),
        ),
        account: a.settings.id.clone(),
        inner: SqsQueue::new(aws.sqs.clone(), url.clone()),
    };
    let cfg = WorkerConfig {
        max_writes: Some(6),
        ..worker()
    };
    // Each continuation runs as soon as it is received: never deferred by its own lease.
    let mut runs = 0;
    let mut job = job(a.settings.id.as_str(), "r1");
    loop {
        runs += 1;
        let out = run_job(&aws.store, &q, &job, far_deadline(), &cfg)
            .await
            .unwrap();
        if out == (JobOutcome::Done { finished: true }) {
            break;
        }
        assert_eq!(out, JobOutcome::Done { finished: false });
        let next = aws.sqs_queue(&url).receive(Duration::ZERO).await.unwrap();
        assert_eq!(next.len(), 1);
        job = serde_json::from_str(next[0].body.as_deref().unwrap()).unwrap();
        aws.sqs_queue(&url)
            .delete(next[0].receipt.as_deref().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(runs, 2);
    let d = runn.data.lock().unwrap();
    assert_eq!(
        (d.clients.len(), d.projects.len(), d.people.len()),
        (3, 4, 5)
    );
}

fn patient_runn(c: &mut shared::runn::RunnConfig) {
    c.retry = quick_retry();
    c.retry.max_server_wait = Duration::from_secs(300);
    c.rate_limit = shared::http::RateLimit::per_second(1000);
}

#[tokio::test]
async fn a_run_throttled_past_its_deadline_ends_in_time_retried_or_continued() {
    let aws = aws().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let cfg = WorkerConfig {
        tune_runn: Some(patient_runn),
        ..worker()
    };
    let throttled = sims::common::Faults {
        throttle_rate: 1.0,
        retry_after: Some("120".into()),
        ..Default::default()
    };
    // Every request answered 429 "retry after 120 s", with 60 s left: the run ends at
    // once, before writing anything, and is retried (never continued: that could loop).
    runn.ctl.set_faults(throttled.clone());
    let q = MemoryQueue::default();
    let job = job(a.settings.id.as_str(), "r1");
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let out = run_job(&aws.store, &q, &job, deadline, &cfg).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(out, JobOutcome::Retry(_)), "{out:?}");
    assert!(q.sent.lock().unwrap().is_empty());
    let run = &aws.store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert!(
        matches!(&run.outcome, Outcome::Failed { class: FailureClass::Transient, message } if message.contains("time ran out")),
        "{:?}",
        run.outcome
    );

    // The throttling starts after a few writes: the run ends in time and is continued.
    runn.ctl.set_faults(sims::common::Faults {
        throttle_after_writes: Some(3),
        throttle_rate: 0.0,
        ..throttled
    });
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let job = Job {
        run_id: "r2".into(),
        ..job
    };
    let out = run_job(&aws.store, &q, &job, deadline, &cfg).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out, JobOutcome::Done { finished: false });
    assert_eq!(q.sent.lock().unwrap().len(), 1, "continued");
    let run = &aws.store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert_eq!(run.outcome, Outcome::Continued);
}

#[tokio::test]
async fn a_run_record_of_6000_skips_is_stored_and_read_back_with_its_counts() {
    use shared::sync::{summarize_skips, ImportReport, RecordKind, Skip, SkipReason};
    let aws = aws().await;
    let id = AccountId::parse("big").unwrap();
    let reasons = [
        (RecordKind::Client, SkipReason::AlreadyLinked),
        (RecordKind::Client, SkipReason::Archived),
        (RecordKind::Project, SkipReason::AlreadyLinked),
        (RecordKind::Project, SkipReason::Archived),
        (RecordKind::Project, SkipReason::MissingClient),
        (RecordKind::Project, SkipReason::ClientNotImported),
        (RecordKind::Person, SkipReason::AlreadyLinked),
        (RecordKind::Person, SkipReason::NotActiveMember),
    ];
    // Long names, every reason: the largest a report can be.
    let skips: Vec<Skip> = (0..6000)
        .map(|i| {
            let (kind, reason) = reasons[i % reasons.len()];
            Skip {
                kind,
                clockify_id: format!("{i:024x}"),
                name: format!("{i} {}", "Ä".repeat(300)),
                reason,
            }
        })
        .collect();
    let mut report = ImportReport {
        skipped: summarize_skips(&skips),
        finished: true,
        ..Default::default()
    };
    for i in 0..500 {
        report.failed.push(shared::sync::Failure::new(
            RecordKind::Project,
            &format!("{i:024x}"),
            &"N".repeat(300),
            &"Runn said no. ".repeat(100),
        ));
    }
    let run = RunRecord {
        run_id: "r-big".into(),
        kind: shared::account::RunKind::Sync,
        trigger: Trigger::Schedule,
        started_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
        outcome: Outcome::Succeeded,
        report: Some(report.clone()),
        actuals: None,
        plan: None,
        links: None,
        removal: None,
    };
    let bytes = serde_json::to_string(&run).unwrap().len();
    println!("largest run record for 6,000 skips and 500 failures: {bytes} bytes");
    assert!(bytes < 300_000, "{bytes}");
    aws.store.record_run(&id, &run).await.unwrap();
    let back = &aws.store.runs(&id, 1).await.unwrap()[0];
    let rep = back.report.as_ref().unwrap();
    assert_eq!(rep, &report);
    assert_eq!(rep.skipped(RecordKind::Project, SkipReason::Archived), 750);
    assert_eq!(rep.failed.count, 500);
    let total: usize = rep.skipped.iter().map(|g| g.records.count).sum();
    assert_eq!(total, 6000);

    // What the store refuses is permanent and names the account.
    let missing = shared::store::DynamoStore::new(
        aws.db.clone(),
        unique("no-such-table"),
        aws.sealer.clone(),
    );
    let err = missing.record_run(&id, &run).await.unwrap_err();
    assert_eq!(err.class(), FailureClass::Permanent, "{err}");
    assert!(err.to_string().contains("account big"), "{err}");
}

#[test]
fn the_template_and_setup_agree_on_the_queue() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    let visibility = format!(
        "VisibilityTimeout: {}",
        shared::queue::VISIBILITY_TIMEOUT.as_secs()
    );
    assert!(
        template.contains(&visibility),
        "template lacks {visibility}"
    );
    let receives = format!("Default: {}", shared::queue::MAX_RECEIVES);
    assert!(template.contains(&receives));
    let timeout = format!("Timeout: {}", shared::queue::WORKER_TIMEOUT.as_secs());
    assert!(template.contains(&timeout));
    assert!(
        template.contains("AttributeName: expires_at"),
        "the runs' TTL"
    );
}

#[tokio::test]
async fn a_pending_mark_keeps_a_second_press_out_until_the_job_ends_or_it_expires() {
    use shared::store::Pending;
    let aws = aws().await;
    let (_c, cr, _r, rr) = sims().await;
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let id = &a.settings.id;
    let s = &aws.store;
    let mark = |run: &'static str, secs: u64| s.mark_pending(id, run, Duration::from_secs(secs));
    assert_eq!(mark("press-1", 600).await.unwrap(), Pending::Marked);
    assert_eq!(
        mark("press-2", 600).await.unwrap(),
        Pending::Already(shared::store::PendingJob {
            run_id: "press-1".into(),
            received: false
        })
    );
    // The job of the first press runs to its end: the mark is cleared, and the run can
    // be read by its id.
    let job = Job {
        trigger: Trigger::Manual,
        ..job(id.as_str(), "press-1")
    };
    let out = run_job(s, &MemoryQueue::default(), &job, far_deadline(), &worker())
        .await
        .unwrap();
    assert_eq!(out, JobOutcome::Done { finished: true });
    assert_eq!(mark("press-3", 1).await.unwrap(), Pending::Marked);
    let run = s.run(id, "press-1").await.unwrap().expect("read by id");
    assert_eq!(run.outcome, Outcome::Succeeded);
    assert!(s.run(id, "never").await.unwrap().is_none());
    // A mark whose job died expires on its own.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(mark("press-4", 60).await.unwrap(), Pending::Marked);
}

#[tokio::test]
async fn turning_the_integration_off_stops_a_running_job_before_its_next_write() {
    let (_c, cr, runn, rr) = sims().await;
    // Each Runn answer takes a while, so the import is still going when it is turned off.
    runn.ctl.set_faults(sims::common::Faults {
        latency: Duration::from_millis(60),
        ..Default::default()
    });
    let store = std::sync::Arc::new(shared::store::MemoryStore::default());
    let a = account("acme", &cr, &rr, RUNN_TOKEN);
    store.put_account(&a).await.unwrap();
    let writes = |ctl: &sims::common::Control| {
        ctl.counts()
            .iter()
            .filter(|(e, _)| e.starts_with("POST "))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let running = {
        let store = store.clone();
        tokio::spawn(async move {
            run_job(
                store.as_ref(),
                &MemoryQueue::default(),
                &job("acme", "r1"),
                far_deadline(),
                &worker(),
            )
            .await
        })
    };
    let started = tokio::time::Instant::now();
    while writes(&runn.ctl) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the import never wrote"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(store
        .turn_off(&a.settings.id, "turned off in Runn")
        .await
        .unwrap());
    let at_turn_off = writes(&runn.ctl);
    let out = running.await.unwrap().unwrap();
    // At most the write already on its way; nothing started after.
    assert!(
        writes(&runn.ctl) <= at_turn_off + 1,
        "{} > {at_turn_off} + 1",
        writes(&runn.ctl)
    );
    let JobOutcome::Dropped(why) = out else {
        panic!("{out:?}")
    };
    assert!(why.contains("turned off in Runn"), "{why}");
    let run = &store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert!(
        matches!(&run.outcome, Outcome::Failed { class: FailureClass::Permanent, message } if message.contains("stopped")),
        "{:?}",
        run.outcome
    );
}
