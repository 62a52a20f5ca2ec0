//! The Clockify key and the Runn token never appear in a log line, an error message or a
//! Debug print, on success, on retries, or on rejection.

use futures::TryStreamExt;
use shared::clockify::{ClockifyClient, DateRange};
use shared::ids::WorkspaceId;
use shared::runn::{NewClient, RunnClient};
use sims::clockify::{ClockifyData, ClockifySim};
use sims::common::Fault;
use sims::generate::{workspace, GenSpec};
use sims::runn::{RunnData, RunnSim};
use sims::testkit::*;

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug_output() {
    let (logs, subscriber) = capture_logs();
    let _guard = tracing::subscriber::set_default(subscriber);

    let spec = GenSpec {
        users: 3,
        entries: 20,
        ..GenSpec::default()
    };
    let clockify = ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![workspace(&spec)],
    });
    let c_run = clockify.spawn().await.unwrap();
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let r_run = runn.spawn().await.unwrap();

    let mut texts = vec![];

    // Success with retries along the way (warn-level retry logs).
    clockify.ctl.fail_next([
        Fault::Status(503),
        Fault::Drop,
        Fault::Malformed,
        Fault::Status(429),
    ]);
    // A create is retried only where it surely was not carried out (429).
    runn.ctl.fail_next([Fault::Status(429), Fault::Status(429)]);
    let cc = clockify_client(&c_run);
    let rc = runn_client(&r_run);
    let ws = WorkspaceId::new(spec.workspace_id.clone());
    let d = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let range = DateRange::new(d("2025-05-01"), d("2025-05-31"), chrono_tz::UTC).unwrap();
    let entries: Vec<_> = cc.time_entries(&ws, range).try_collect().await.unwrap();
    assert!(!entries.is_empty());
    rc.create_clients_bulk(&[NewClient {
        name: "A".into(),
        website: None,
        references: vec![],
    }])
    .await
    .unwrap();

    // Failures: rejected credentials, exhausted retries, a 4xx.
    let bad_c =
        ClockifyClient::new(clockify_config(&c_run, &format!("{CLOCKIFY_KEY}-revoked"))).unwrap();
    texts.push(bad_c.workspaces().await.unwrap_err().to_string());
    let bad_r = RunnClient::new(runn_config(&r_run, &format!("{RUNN_TOKEN}-revoked"))).unwrap();
    let e = bad_r.me().await.unwrap_err();
    texts.push(e.to_string());
    texts.push(format!("{e:?}"));
    clockify.ctl.fail_next([Fault::Status(503); 10]);
    let e = cc.workspaces().await.unwrap_err();
    texts.push(format!("{e} {e:?}"));
    let e = rc
        .create_clients_bulk(&[NewClient {
            name: "".into(),
            website: None,
            references: vec![],
        }])
        .await
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));

    runn.ctl.fail_next([Fault::Status(502)]);
    let e = rc
        .create_clients_bulk(&[NewClient {
            name: "B".into(),
            website: None,
            references: vec![],
        }])
        .await
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));

    // Debug of configurations and clients.
    texts.push(format!("{:?}", clockify_config(&c_run, CLOCKIFY_KEY)));
    texts.push(format!("{:?}", runn_config(&r_run, RUNN_TOKEN)));
    texts.push(format!("{cc:?} {rc:?} {bad_c:?} {bad_r:?}"));

    let log_text = logs.text();
    assert!(
        log_text.contains("retrying"),
        "the retries were logged: {log_text}"
    );
    texts.push(log_text);
    for text in &texts {
        for secret in [CLOCKIFY_KEY, RUNN_TOKEN] {
            assert!(!text.contains(secret), "secret leaked into: {text}");
        }
    }
}

#[tokio::test]
async fn the_signing_secret_is_read_once_cached_and_read_again_after_a_rotation() {
    use shared::signing_key::{SecretsManagerKey, SigningKey};
    use shared::ExposeSecret;
    let aws = TestAws::new().await;
    let name = unique("signing");
    let arn = sims::backend::create_secret(&aws.config, &name, "whsec_one").await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws.config);
    let key = SecretsManagerKey::new(sm.clone(), arn.clone())
        .with_refresh_after(std::time::Duration::ZERO);
    assert_eq!(key.secret().await.unwrap().expose_secret(), "whsec_one");
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string("whsec_two")
        .send()
        .await
        .unwrap();
    assert_eq!(
        key.secret().await.unwrap().expose_secret(),
        "whsec_one",
        "cached"
    );
    let fresh = key.refreshed().await.expect("a newer secret");
    assert_eq!(fresh.expose_secret(), "whsec_two");
    assert!(key.refreshed().await.is_none(), "nothing newer");
    assert_eq!(key.secret().await.unwrap().expose_secret(), "whsec_two");
    // A key that was just read is not read again on demand.
    let slow = SecretsManagerKey::new(sm.clone(), arn);
    slow.secret().await.unwrap();
    assert!(slow.refreshed().await.is_none());
    // A missing secret: a reason, never a value.
    let missing = SecretsManagerKey::new(sm, unique("no-such-secret"));
    let err = missing.secret().await.unwrap_err();
    assert!(err.contains("reading the signing secret failed"), "{err}");
}
