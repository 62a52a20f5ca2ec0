//! The account item under the second hardening round, against DynamoDB and KMS (moto):
//! credentials sealed with what they were checked for (and the items sealed the old way
//! opening and sealed anew), every read-modify-write conditional on the item's version,
//! the "queued or running" mark refreshed at each receive, and records the fan-outs and
//! listings cannot read left out and counted.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use secrecy::ExposeSecret;
use shared::account::{Credential, Outcome};
use shared::jobs::{fan_out, fan_out_autofill, run_job, JobOutcome};
use shared::queue::{MemoryQueue, PENDING_TTL};
use shared::store::{roles::*, Opened, SealContext, Sealer, Write};
use shared::FailureClass;
use sims::clockify::ClockifySim;
use sims::common::Running;
use sims::demo;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::*;
use std::collections::HashMap;
use std::time::Duration;

async fn sims() -> (ClockifySim, Running, RunnSim, Running) {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    (c, cr, r, rr)
}

fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(600)
}

async fn raw_item(aws: &TestAws, pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    aws.db
        .get_item()
        .table_name(&aws.table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the item")
}

#[tokio::test]
async fn a_credential_whose_host_changed_without_it_does_not_open_and_nothing_is_sent() {
    let aws = TestAws::new().await;
    let (_c, cr, runn, rr) = sims().await;
    // A server of someone else's choosing, which the stored token must never reach.
    let evil = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let er = evil.spawn().await.unwrap();
    let a = demo_account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    // The settings moved to another host behind the rules' back (straight to the store):
    // the sealed token is bound to the host it was checked for, and does not open.
    let mut moved = a.settings.clone();
    moved.runn_host = shared::runn::RunnHost::Custom { url: er.url() };
    update_settings(&aws.store, &moved).await;
    let q = MemoryQueue::default();
    let out = run_job(&aws.store, &q, &job("acme", "r1"), far(), &quick_worker())
        .await
        .unwrap();
    let JobOutcome::Dropped(why) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        why,
        "the Runn API token was saved for another host; enter it again in Save & Run"
    );
    assert_eq!(evil.ctl.total(), 0, "nothing was sent to the new host");
    assert_eq!(runn.ctl.total(), 0, "nor anywhere else");
    let s = aws.store.settings(&a.settings.id).await.unwrap().unwrap();
    assert!(!s.enabled);
    assert_eq!(s.disabled_reason.as_deref(), Some(why.as_str()));
    let run = &aws.store.runs(&a.settings.id, 1).await.unwrap()[0];
    assert!(
        matches!(&run.outcome, Outcome::Failed { class: FailureClass::CredentialsRejected, message } if *message == why),
        "{:?}",
        run.outcome
    );

    // The key is bound to its workspace as well as its host.
    let b = demo_account("globex", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&b).await.unwrap();
    let mut other_ws = b.settings.clone();
    other_ws.clockify_workspace = shared::ids::WorkspaceId::new("65b1c0ffee0000000000ffff");
    update_settings(&aws.store, &other_ws).await;
    let out = run_job(&aws.store, &q, &job("globex", "r2"), far(), &quick_worker())
        .await
        .unwrap();
    assert_eq!(
        out,
        JobOutcome::Dropped(
            "the Clockify API key was saved for another host; enter it again in Save & Run".into()
        )
    );
}

/// Writes an account as the store did before credentials were bound to their hosts:
/// each sealed with the account alone, no seal version, no item version.
async fn put_version_one(aws: &TestAws, a: &shared::account::Account) {
    let id = &a.settings.id;
    let legacy = SealContext::legacy(id);
    let runn = aws.sealer.seal(&legacy, &a.runn_token).await.unwrap();
    let key = aws.sealer.seal(&legacy, &a.clockify_api_key).await.unwrap();
    aws.db
        .put_item()
        .table_name(&aws.table)
        .item("pk", AttributeValue::S(format!("ACCOUNT#{id}")))
        .item("sk", AttributeValue::S("ACCOUNT".into()))
        .item(
            "settings",
            AttributeValue::S(serde_json::to_string(&a.settings).unwrap()),
        )
        .item("runn_token", AttributeValue::B(Blob::new(runn)))
        .item("clockify_api_key", AttributeValue::B(Blob::new(key)))
        .item("gsi1pk", AttributeValue::S("ENABLED".into()))
        .item("gsi1sk", AttributeValue::S(id.to_string()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn version_one_credentials_open_and_are_sealed_anew_with_their_hosts() {
    let aws = TestAws::new().await;
    let (_c, cr, runn, rr) = sims().await;
    let a = demo_account("acme", &cr, &rr, RUNN_TOKEN);
    put_version_one(&aws, &a).await;
    let before = raw_item(&aws, "ACCOUNT#acme", "ACCOUNT").await;
    assert!(!before.contains_key("runn_token_seal"));

    // The first open: the old context opens them; they are sealed anew at once.
    let opened = aws
        .store
        .open_account(&a.settings.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.account.runn_token.expose_secret(), RUNN_TOKEN);
    assert_eq!(
        opened.account.clockify_api_key.expose_secret(),
        demo::API_KEY
    );
    let after = raw_item(&aws, "ACCOUNT#acme", "ACCOUNT").await;
    for c in Credential::ALL {
        let seal = format!("{}_seal", c.field());
        assert_eq!(after[&seal].as_n().unwrap(), "2", "{seal}");
        let sealed = after[c.field()].as_b().unwrap().as_ref();
        assert_ne!(sealed, before[c.field()].as_b().unwrap().as_ref());
        // Bound now: the account alone no longer opens it; its hosts do.
        let legacy = SealContext::legacy(&a.settings.id);
        assert!(matches!(
            aws.sealer.open(&legacy, sealed).await.unwrap(),
            Opened::WrongContext
        ));
        let bound = SealContext::bound(c, &a.settings);
        assert!(matches!(
            aws.sealer.open(&bound, sealed).await.unwrap(),
            Opened::Secret(_)
        ));
    }
    // Sealing anew changes nothing a person set: the item's version did not move.
    let state = aws.store.state(&a.settings.id).await.unwrap().unwrap();
    assert_eq!((state.version, state.credentials_version), (0, 0));
    // And the worker runs the account as before.
    let out = run_job(
        &aws.store,
        &MemoryQueue::default(),
        &job("acme", "r1"),
        far(),
        &quick_worker(),
    )
    .await
    .unwrap();
    assert_eq!(out, JobOutcome::Done { finished: true });
    assert!(runn.ctl.total() > 0);
}

#[tokio::test]
async fn every_read_modify_write_of_the_account_is_conditional_on_its_version() {
    let aws = TestAws::new().await;
    let (_c, cr, _r, rr) = sims().await;
    let a = demo_account("acme", &cr, &rr, RUNN_TOKEN);
    let id = &a.settings.id;
    let s = &aws.store;
    assert_eq!(s.replace_account(&a, 0).await.unwrap(), Write::Applied);
    assert_eq!(
        s.replace_account(&a, 0).await.unwrap(),
        Write::Conflict,
        "stale"
    );
    let v1 = s.state(id).await.unwrap().unwrap();
    assert_eq!((v1.version, v1.credentials_version), (1, 1));

    // Two writers read version 1; the second is refused and must re-read.
    let mut first = v1.settings.clone();
    first.window_days = 30;
    let mut second = v1.settings.clone();
    second.autofill = false;
    assert_eq!(s.update_settings(&first, 1).await.unwrap(), Write::Applied);
    assert_eq!(
        s.update_settings(&second, 1).await.unwrap(),
        Write::Conflict
    );
    let now = s.state(id).await.unwrap().unwrap();
    assert_eq!(
        (now.version, now.settings.window_days, now.settings.autofill),
        (2, 30, true)
    );
    assert_eq!(
        s.save_integration(&second, None, None, 1).await.unwrap(),
        Write::Conflict
    );

    // A worker that met a rejected token read credentials version 1. Meanwhile Save & Run
    // stored a new token: the disable does not apply, and the new token stays in use.
    let fresh = shared::SecretString::from("LIVE_fresh_token".to_owned());
    assert_eq!(
        s.save_integration(&now.settings, Some(&fresh), None, now.version)
            .await
            .unwrap(),
        Write::Applied
    );
    assert!(!s
        .disable(id, "credentials rejected: Runn said 401", Some(1))
        .await
        .unwrap());
    let after = s.state(id).await.unwrap().unwrap();
    assert!(after.settings.enabled);
    assert_eq!(after.credentials_version, 2);
    let opened = s.account(id).await.unwrap().unwrap();
    assert_eq!(opened.runn_token.expose_secret(), "LIVE_fresh_token");
    assert_eq!(
        opened.settings.window_days, 30,
        "the settings were not reverted"
    );
    // With the credentials it read, a disable applies (once).
    assert!(s
        .disable(id, "credentials rejected", Some(2))
        .await
        .unwrap());
    assert!(!s.disable(id, "again", Some(2)).await.unwrap());
    assert_eq!(
        s.settings(id)
            .await
            .unwrap()
            .unwrap()
            .disabled_reason
            .as_deref(),
        Some("credentials rejected")
    );

    // Turned off: the credentials go; a save that leaves them out finds them missing.
    assert!(s.turn_off(id, "turned off in Runn").await.unwrap());
    let off = s.state(id).await.unwrap().unwrap();
    assert!(!off.credentials.runn_token && !off.credentials.clockify_api_key);
    assert_eq!(
        s.save_integration(&off.settings, None, None, off.version)
            .await
            .unwrap(),
        Write::Missing
    );
}

#[tokio::test]
async fn the_mark_of_a_job_is_refreshed_when_a_worker_receives_it() {
    let aws = TestAws::new().await;
    let (_c, cr, _r, rr) = sims().await;
    let a = demo_account("acme", &cr, &rr, RUNN_TOKEN);
    aws.store.put_account(&a).await.unwrap();
    let id = &a.settings.id;
    aws.store
        .mark_pending(id, "press-1", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(!aws.store.pending(id).await.unwrap().unwrap().received);
    // Another run holds the account: the job is deferred, but it was received.
    aws.store
        .try_lease(id, "other:1", Duration::from_secs(600))
        .await
        .unwrap();
    let press = shared::queue::Job {
        trigger: shared::account::Trigger::Manual,
        ..job("acme", "press-1")
    };
    let out = run_job(
        &aws.store,
        &MemoryQueue::default(),
        &press,
        far(),
        &quick_worker(),
    )
    .await
    .unwrap();
    assert!(matches!(out, JobOutcome::Deferred(_)), "{out:?}");
    let mark = aws.store.pending(id).await.unwrap().unwrap();
    assert_eq!((mark.run_id.as_str(), mark.received), ("press-1", true));
    // It lasts the visibility timeout and a quarter of an hour from the receive, so a
    // job retried after the visibility timeout still holds it.
    let item = raw_item(&aws, "ACCOUNT#acme", "PENDING").await;
    let expires: i64 = item["expires"].as_n().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now().timestamp();
    assert!(
        left > PENDING_TTL.as_secs() as i64 - 30 && PENDING_TTL > shared::queue::VISIBILITY_TIMEOUT,
        "{left} s left"
    );
    // Another run's job never takes over a mark that is not its own.
    let other = job("acme", "daily-x");
    run_job(
        &aws.store,
        &MemoryQueue::default(),
        &other,
        far(),
        &quick_worker(),
    )
    .await
    .unwrap();
    assert_eq!(
        aws.store.pending(id).await.unwrap().unwrap().run_id,
        "press-1"
    );
}

/// An account record as a bug or a hand edit could leave it: the index names an id that
/// is no account id, or the settings are not JSON.
async fn put_damaged(aws: &TestAws, key_id: &str, settings: &str) {
    aws.db
        .put_item()
        .table_name(&aws.table)
        .item("pk", AttributeValue::S(format!("ACCOUNT#{key_id}")))
        .item("sk", AttributeValue::S("ACCOUNT".into()))
        .item("settings", AttributeValue::S(settings.into()))
        .item("gsi1pk", AttributeValue::S("ENABLED".into()))
        .item("gsi1sk", AttributeValue::S(key_id.into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_record_that_cannot_be_read_is_left_out_and_counted_and_the_others_go_on() {
    let aws = TestAws::new().await;
    for i in 0..3 {
        aws.store
            .put_account(&offline_account(&format!("good{i}")))
            .await
            .unwrap();
    }
    put_damaged(&aws, "acme corp", "{}").await;
    put_damaged(&aws, "a#b", "{}").await;
    put_damaged(&aws, "broken", "{not json").await;
    let q = MemoryQueue::default();
    let daily = fan_out(&aws.store, &q, "daily-1").await.unwrap();
    // "broken" has a good id: its daily job is queued (the worker says what is wrong
    // with it); the two ids that are no account ids are left out.
    assert_eq!((daily.queued, daily.unreadable), (4, 2));
    let q = MemoryQueue::default();
    let weekly = fan_out_autofill(&aws.store, &q, "autofill-1")
        .await
        .unwrap();
    assert_eq!((weekly.queued, weekly.unreadable), (3, 3));
    let sent: Vec<String> = q
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|j| j.account.to_string())
        .collect();
    assert_eq!(sent, ["good0", "good1", "good2"]);
    let list = aws.store.all_settings().await.unwrap();
    assert_eq!(list.settings.len(), 3);
    assert_eq!(list.unreadable.len(), 3, "{:?}", list.unreadable);
    assert!(list
        .unreadable
        .iter()
        .any(|k| k.contains("ACCOUNT#acme corp")));
    // The worker cannot read "broken" either: recorded nowhere, but dropped (a damaged
    // record fails the same way on every receive), never retried into the dead letters.
    let body = serde_json::to_string(&job("broken", "daily-1")).unwrap();
    let retry = shared::jobs::work(
        &aws.store,
        &MemoryQueue::default(),
        &quick_worker(),
        far(),
        [shared::jobs::Message {
            id: "m1".into(),
            body: Some(body),
        }],
    )
    .await;
    assert!(retry.is_empty(), "{retry:?}");
    let broken = shared::account::AccountId::parse("broken").unwrap();
    let runs = aws.store.runs(&broken, 1).await.unwrap();
    assert!(
        matches!(&runs[0].outcome, Outcome::Failed { class: FailureClass::Permanent, message } if message.contains("could not be read")),
        "{runs:?}"
    );
    // A damaged run record is left out of the status's list; the status still reads.
    let good = shared::account::AccountId::parse("good0").unwrap();
    aws.db
        .put_item()
        .table_name(&aws.table)
        .item("pk", AttributeValue::S("ACCOUNT#good0".into()))
        .item(
            "sk",
            AttributeValue::S("RUN#2026-11-30T02:00:00.000Z#x".into()),
        )
        .item("run", AttributeValue::S("{damaged".into()))
        .send()
        .await
        .unwrap();
    let status = shared::status::AccountStatus::read(&aws.store, &good, 5)
        .await
        .unwrap()
        .unwrap();
    assert!(status.runs.is_empty());
    // The metrics line says so.
    let emf = weekly.emf("autofill", 0);
    assert_eq!(
        (
            emf["AccountsQueued"].as_f64(),
            emf["RecordsUnreadable"].as_f64()
        ),
        (Some(3.0), Some(3.0))
    );
}
