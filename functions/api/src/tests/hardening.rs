//! Save & Run never lets a stored credential follow an unchecked host, every host named is
//! resolved, a change saved while a job runs gets a follow-up, a signed change is accepted
//! once, the people on "Unknown" outlive a clients-only press, and a setting refused by
//! its type is named.

use super::*;
use shared::hosts::Resolver;
use std::net::IpAddr;

/// Names and the addresses they resolve to (there is no DNS here).
struct Table(Vec<(&'static str, &'static str)>);

#[async_trait::async_trait]
impl Resolver for Table {
    async fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        let found: Vec<IpAddr> = self
            .0
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, ip)| ip.parse().unwrap())
            .collect();
        if found.is_empty() {
            return Err(std::io::Error::other("no such name"));
        }
        Ok(found)
    }
}

#[tokio::test]
async fn a_left_out_credential_never_follows_a_changed_host() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let before = h.store.settings(&acme()).await.unwrap().unwrap();
    let elsewhere = "http://127.0.0.1:9";
    for (field, value, credential) in [
        (
            "runn_host",
            json!({"kind": "custom", "url": elsewhere}),
            "runn_token",
        ),
        (
            "clockify_host",
            json!({"kind": "server", "url": elsewhere}),
            "clockify_api_key",
        ),
        (
            "clockify_reports_url",
            json!(format!("{elsewhere}/report")),
            "clockify_api_key",
        ),
        (
            "clockify_workspace",
            json!("65b1c0ffee0000000000ffff"),
            "clockify_api_key",
        ),
    ] {
        // As Runn's masked form sends it: both credentials left out.
        let mut body = h.integration(None, None);
        body[field] = value;
        let reply = h.save("acme", &body).await;
        let (code, f, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code, f),
            (422, "refused", Some(credential)),
            "{field}: {message}"
        );
        assert!(
            message.contains("needed again") && message.contains("nothing was saved"),
            "{message}"
        );
    }
    assert_eq!(
        h.store.settings(&acme()).await.unwrap().unwrap(),
        before,
        "nothing saved"
    );
    assert!(h.jobs().is_empty(), "nothing queued");
    // The same hosts spelled another way (case, a trailing slash) are no change.
    let mut same = h.integration(None, None);
    let spelled =
        h.r.url()
            .as_str()
            .trim_end_matches('/')
            .replace("http", "HTTP");
    same["runn_host"]["url"] = json!(spelled);
    let reply = h.save("acme", &same).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[tokio::test]
async fn every_host_is_resolved_and_one_that_points_inside_is_refused_by_field() {
    let mut h = harness().await;
    h.api.hosts = HostPolicy::STRICT;
    h.api.resolver = Arc::new(Table(vec![
        ("runn.acme.example", "93.184.216.34"),
        ("time.acme.example", "93.184.216.35"),
        ("inside.acme.example", "10.0.0.7"),
        ("metadata.acme.example", "169.254.169.254"),
    ]));
    let form = |runn: &str, clockify: &str, reports: Option<&str>| {
        let mut b = h.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
        b["runn_host"] = json!({"kind": "custom", "url": runn});
        b["clockify_host"] = json!({"kind": "server", "url": clockify});
        if let Some(r) = reports {
            b["clockify_reports_url"] = json!(r);
        }
        b
    };
    for (body, field, address) in [
        (
            form(
                "https://inside.acme.example",
                "https://time.acme.example",
                None,
            ),
            "runn_host",
            "10.0.0.7",
        ),
        (
            form(
                "https://runn.acme.example",
                "https://metadata.acme.example",
                None,
            ),
            "clockify_host",
            "169.254.169.254",
        ),
        (
            form(
                "https://runn.acme.example",
                "https://time.acme.example",
                Some("https://inside.acme.example/report"),
            ),
            "clockify_reports_url",
            "10.0.0.7",
        ),
        (
            form(
                "https://nowhere.acme.example",
                "https://time.acme.example",
                None,
            ),
            "runn_host",
            "could not be found",
        ),
    ] {
        let reply = h.save("acme", &body).await;
        let (code, f, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code, f),
            (422, "refused", Some(field)),
            "{message}"
        );
        assert!(message.contains(address), "{message}");
    }
    assert!(
        h.store.settings(&acme()).await.unwrap().is_none(),
        "nothing saved"
    );

    // Stored settings whose host now resolves inside: refused though no credential is
    // in the request (nothing about it changed but its address).
    let mut stored = sims::testkit::offline_account("acme");
    stored.settings.runn_host = shared::runn::RunnHost::Custom {
        url: "https://inside.acme.example".parse().unwrap(),
    };
    h.store.put_account(&stored).await.unwrap();
    let mut again = h.integration(None, None);
    again["runn_host"] = json!({"kind": "custom", "url": "https://inside.acme.example"});
    again["clockify_host"] = json!({"kind": "global"});
    again["runn_account"] = json!("acme");
    let reply = h.save("acme", &again).await;
    assert_eq!(error_of(&reply).1, Some("runn_host"), "{}", reply.body);
    assert!(h.jobs().is_empty());
}

#[tokio::test]
async fn a_change_saved_while_a_job_is_queued_or_running_gets_a_follow_up() {
    let h = harness().await;
    let first = h.connect().await.body["run_id"].clone();
    // Nothing changed (credentials left out): the job already queued answers.
    let same = h.save("acme", &h.integration(None, None)).await;
    assert_eq!(
        (&same.body["queued"], &same.body["run_id"]),
        (&json!(false), &first)
    );
    // A setting changed: a follow-up run with it is queued, and holds the mark.
    let mut changed = h.integration(None, None);
    changed["window_days"] = json!(30);
    let reply = h.save("acme", &changed).await;
    assert_eq!(reply.body["queued"], true, "{}", reply.body);
    let follow_up = reply.body["run_id"].clone();
    assert_ne!(follow_up, first);
    assert_eq!(h.jobs().len(), 2);
    assert_eq!(h.status("acme").await.body["pending_run"], follow_up);
    let press = h.press("acme", &["people"]).await;
    assert_eq!(
        (&press.body["queued"], &press.body["run_id"]),
        (&json!(false), &follow_up)
    );
    // Both run; the mark ends with the follow-up, and the buttons queue again.
    h.work().await;
    assert_eq!(h.status("acme").await.body["pending_run"], Value::Null);
    let run = call(
        &h.api,
        "GET",
        &format!("/accounts/acme/runs/{}", follow_up.as_str().unwrap()),
        "",
    )
    .await;
    assert_eq!(run.body["record"]["outcome"]["result"], "succeeded");
    assert_eq!(h.press("acme", &["people"]).await.body["queued"], true);
}

#[tokio::test]
async fn a_signed_change_is_accepted_once_and_a_replay_changes_nothing() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let replay = |method: &'static str, path: &'static str, body: String| {
        let header = shared::signature::sign(
            &SecretString::from(SECRET),
            shared::signature::fresh_time(),
            method,
            path,
            body.as_bytes(),
        );
        let api = &h.api;
        async move {
            let first = raw(api, method, path, Some(&header), body.as_bytes()).await;
            let again = raw(api, method, path, Some(&header), body.as_bytes()).await;
            (first, again)
        }
    };
    let (first, again) = replay(
        "POST",
        "/accounts/acme/imports",
        json!({"kinds": ["people"]}).to_string(),
    )
    .await;
    assert_eq!(first.status, 202);
    assert_eq!((again.status, error_of(&again).0), (409, "replayed"));
    assert_eq!(h.jobs().len(), 1, "one job");
    h.work().await;
    // A Save & Run replayed after a later one does not put the older settings back.
    let mut thirty = h.integration(None, None);
    thirty["window_days"] = json!(30);
    let thirty = thirty.to_string();
    let header = shared::signature::sign(
        &SecretString::from(SECRET),
        shared::signature::fresh_time(),
        "PUT",
        "/accounts/acme/integration",
        thirty.as_bytes(),
    );
    let path = "/accounts/acme/integration";
    assert_eq!(
        raw(&h.api, "PUT", path, Some(&header), thirty.as_bytes())
            .await
            .status,
        202
    );
    let mut forty = h.integration(None, None);
    forty["window_days"] = json!(40);
    assert_eq!(h.save("acme", &forty).await.status, 202);
    let replayed = raw(&h.api, "PUT", path, Some(&header), thirty.as_bytes()).await;
    assert_eq!(replayed.status, 409);
    assert_eq!(
        h.store
            .settings(&acme())
            .await
            .unwrap()
            .unwrap()
            .window_days,
        40
    );
    // Turning off, replayed: 409, nothing more happens.
    let (off, again) = replay("DELETE", "/accounts/acme/integration", String::new()).await;
    assert_eq!((off.status, again.status), (200, 409));
    // A GET may be repeated.
    let header = shared::signature::sign(
        &SecretString::from(SECRET),
        shared::signature::fresh_time(),
        "GET",
        "/accounts/acme/status",
        b"",
    );
    for _ in 0..2 {
        let st = raw(&h.api, "GET", "/accounts/acme/status", Some(&header), b"").await;
        assert_eq!(st.status, 200);
    }
}

#[tokio::test]
async fn the_people_on_unknown_stay_named_after_a_clients_only_press() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    assert_eq!(
        h.status("acme").await.body["people_on_unknown_role_count"],
        5
    );
    assert_eq!(h.press("acme", &["clients"]).await.status, 202);
    h.work().await;
    let st = h.status("acme").await;
    assert_eq!(st.body["runs"][0]["report"]["people_read"], false);
    assert_eq!(st.body["people_on_unknown_role_count"], 5);
    assert_eq!(
        st.body["people_on_unknown_role"].as_array().unwrap().len(),
        5
    );
}

#[tokio::test]
async fn a_setting_refused_by_its_type_is_named() {
    let h = harness().await;
    for (field, value) in [
        ("time_zone", json!("Mars/Olympus")),
        ("window_days", json!("thirty")),
        ("switches.actuals", json!("yes")),
        ("actuals_since", json!("2026-02-30")),
    ] {
        let body = h.admin_form_with(field, value);
        let reply = call(
            &h.api,
            "PUT",
            "/accounts/acme/integration",
            &body.to_string(),
        )
        .await;
        let (code, f, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code, f),
            (400, "bad_request", Some(field)),
            "{message}"
        );
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
}
