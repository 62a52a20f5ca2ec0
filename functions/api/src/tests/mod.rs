//! The api through its router, over memory and the simulators: every answer checked
//! against `infra/api.yaml`.

use crate::app::{router, without_stage, Api, MAX_BODY};
use crate::reply::Reply;
use lambda_http::tower::ServiceExt;
use lambda_http::Body;
use serde_json::{json, Value};
use shared::account::{AccountId, Switches, Trigger};
use shared::hosts::HostPolicy;
use shared::queue::{Job, Queue, Work};
use shared::queue::{MemoryQueue, QueueError};
use shared::signing_key::FixedKey;
use shared::signing_key::SigningKey;
use shared::store::roles::*;
use shared::store::MemoryStore;
use shared::SecretString;
use sims::clockify::ClockifySim;
use sims::common::Running;
use sims::contract::contract;
use sims::demo;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::{quick_worker, RUNN_TOKEN};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const SECRET: &str = "whsec_unit_7c1e";

/// The api over memory, with both simulators running.
struct Harness {
    api: Api,
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    /// The webhook queue (registrations, clean-ups, debounced changes).
    hook_queue: Arc<MemoryQueue>,
    runn: RunnSim,
    clockify: ClockifySim,
    c: Running,
    r: Running,
}

async fn harness() -> Harness {
    let clockify = ClockifySim::new(demo::data());
    let c = clockify.spawn().await.unwrap();
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let r = runn.spawn().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let queue = Arc::new(MemoryQueue::default());
    let hook_queue = Arc::new(MemoryQueue::default());
    let api = Api {
        store: store.clone(),
        queue: Arc::new(shared::queue::Routed {
            jobs: queue.clone(),
            hooks: Some(hook_queue.clone()),
        }),
        key: Arc::new(FixedKey(SecretString::from(SECRET))),
        hosts: HostPolicy::LOCAL,
        resolver: Arc::new(shared::hosts::SystemResolver),
        check_time: Duration::from_secs(10),
    };
    Harness {
        api,
        store,
        queue,
        hook_queue,
        runn,
        clockify,
        c,
        r,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A signed call, its answer checked against `infra/api.yaml`.
async fn call(api: &Api, method: &str, path: &str, body: &str) -> Reply {
    let header = shared::signature::sign(
        &SecretString::from(SECRET),
        shared::signature::fresh_time(),
        method,
        path,
        body.as_bytes(),
    );
    raw(api, method, path, Some(&header), body.as_bytes()).await
}

async fn raw(api: &Api, method: &str, path: &str, sig: Option<&str>, body: &[u8]) -> Reply {
    let route = path.split('?').next().unwrap();
    let reply = respond(api, method, path, sig, body).await;
    contract()
        .check_response(method, route, reply.status, &reply.body)
        .unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
    reply
}

/// One request through the router, as API Gateway would hand it over: its answer.
async fn respond(api: &Api, method: &str, path: &str, sig: Option<&str>, body: &[u8]) -> Reply {
    let signature = sig.map(|s| (shared::signature::HEADER, s));
    respond_with(api, method, path, signature.as_slice(), body).await
}

/// One request with these headers through the router: its answer.
async fn respond_with(
    api: &Api,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut request = axum::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(axum::body::Body::from(body.to_vec())).unwrap();
    let response = router(Arc::new(api.clone()))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {path} → {status}: not JSON ({e}): {bytes:?}"));
    Reply { status, body }
}

impl Harness {
    fn integration(&self, key: Option<&str>, token: Option<&str>) -> Value {
        let mut body = json!({
            "runn_account": "Northwind Agency",
            "runn_host": {"kind": "custom", "url": self.r.url()},
            "clockify_host": {"kind": "server", "url": self.c.url()},
            "clockify_workspace": demo::WORKSPACE_ID,
            "switches": {"clients_and_projects": true, "people": true, "actuals": false},
            "time_zone": "Europe/London"
        });
        if let Some(k) = key {
            body["clockify_api_key"] = json!(k);
        }
        if let Some(t) = token {
            body["runn_token"] = json!(t);
        }
        body
    }

    /// The admin's form with one field (dotted path) set to `value`.
    fn admin_form_with(&self, field: &str, value: Value) -> Value {
        let mut body = self.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
        let mut at = &mut body;
        for key in field.split('.') {
            at = &mut at[key];
        }
        *at = value;
        body
    }

    async fn save(&self, id: &str, body: &Value) -> Reply {
        let path = format!("/accounts/{id}/integration");
        contract().check_request("PUT", &path, body).unwrap();
        call(&self.api, "PUT", &path, &body.to_string()).await
    }

    /// Save & Run of account acme with the admin's key and the token: accepted.
    async fn connect(&self) -> Reply {
        let reply = self
            .save(
                "acme",
                &self.integration(Some(demo::API_KEY), Some(RUNN_TOKEN)),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply
    }

    async fn press(&self, id: &str, kinds: &[&str]) -> Reply {
        let body = json!({ "kinds": kinds }).to_string();
        call(&self.api, "POST", &format!("/accounts/{id}/imports"), &body).await
    }

    async fn status(&self, id: &str) -> Reply {
        call(&self.api, "GET", &format!("/accounts/{id}/status"), "").await
    }

    fn jobs(&self) -> Vec<Job> {
        self.queue.sent.lock().unwrap().clone()
    }

    /// Runs the queued jobs as the worker does.
    async fn work(&self) {
        let jobs: Vec<Job> = self.queue.sent.lock().unwrap().drain(..).collect();
        for job in jobs {
            let deadline = Instant::now() + Duration::from_secs(60);
            shared::jobs::run_job(
                self.store.as_ref(),
                self.queue.as_ref(),
                &job,
                deadline,
                &quick_worker(),
            )
            .await
            .unwrap();
        }
    }
}

fn error_of(reply: &Reply) -> (&str, Option<&str>, &str) {
    let e = &reply.body["error"];
    (
        e["code"].as_str().unwrap(),
        e["field"].as_str(),
        e["message"].as_str().unwrap(),
    )
}

fn acme() -> AccountId {
    AccountId::parse("acme").unwrap()
}

#[tokio::test]
async fn save_and_run_checks_saves_and_queues_a_first_import() {
    let h = harness().await;
    let reply = h.connect().await;
    assert_eq!(reply.body["queued"], true);
    assert_eq!(reply.body["warnings"], json!([]));
    let run_id = reply.body["run_id"].as_str().unwrap().to_owned();
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].run_id, run_id);
    assert_eq!(jobs[0].trigger, Trigger::Manual);
    assert_eq!(
        jobs[0].work,
        Work::Import {
            only: None,
            resume: None
        }
    );
    let account = h.store.account(&acme()).await.unwrap().unwrap();
    assert!(
        account.settings.enabled && account.settings.autofill,
        "autofill on by default"
    );
    use shared::ExposeSecret;
    assert_eq!(account.clockify_api_key.expose_secret(), demo::API_KEY);

    // The status while it is queued, then what the run did.
    let st = h.status("acme").await;
    assert_eq!(st.status, 200);
    assert_eq!(st.body["pending_run"], run_id.as_str());
    assert_eq!(st.body["credentials_stored"], true);
    let text = st.body.to_string();
    assert!(
        !text.contains(RUNN_TOKEN) && !text.contains(demo::API_KEY),
        "{text}"
    );
    let run_path = format!("/accounts/acme/runs/{run_id}");
    let run = call(&h.api, "GET", &run_path, "").await;
    assert_eq!(
        (run.status, &run.body["pending"], &run.body["record"]),
        (200, &json!(true), &Value::Null)
    );
    h.work().await;
    let run = call(&h.api, "GET", &run_path, "").await;
    assert_eq!(run.body["pending"], false);
    assert_eq!(run.body["record"]["outcome"]["result"], "succeeded");
    assert!(
        run.body["record"]["report"]["created"]["people"]
            .as_u64()
            .unwrap()
            > 0
    );
    let st = h.status("acme").await;
    assert_eq!(st.body["pending_run"], Value::Null);
    // Imported people arrive on "Unknown": the status names them.
    let unknown = st.body["people_on_unknown_role_count"].as_u64().unwrap();
    assert!(unknown > 0);
    assert_eq!(
        st.body["people_on_unknown_role"].as_array().unwrap().len() as u64,
        unknown
    );
    assert_eq!(
        call(&h.api, "GET", "/accounts/acme/runs/no-such-run", "")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_non_admin_key_is_saved_with_a_warning() {
    let h = harness().await;
    let reply = h
        .save(
            "acme",
            &h.integration(Some(demo::MEMBER_API_KEY), Some(RUNN_TOKEN)),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let warning = reply.body["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("not an admin or owner") && warning.contains("own time"),
        "{warning}"
    );
    assert!(h.store.settings(&acme()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_bad_credential_or_setting_is_refused_by_field_and_nothing_is_saved() {
    let h = harness().await;
    let wrong_workspace =
        h.admin_form_with("clockify_workspace", json!("65b1c0ffee0000000000ffff"));
    let bad_workspace = h.admin_form_with("clockify_workspace", json!("../admin"));
    let bad_window = h.admin_form_with("window_days", json!(0));
    let mut plain_http = h.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
    plain_http["runn_host"] = json!({"kind": "custom", "url": "https://me:pw@runn.example.com"});
    let metadata = h.admin_form_with("clockify_reports_url", json!("ftp://reports.example.com/"));
    let cases = [
        (
            h.integration(Some("wrong-key"), Some(RUNN_TOKEN)),
            "clockify_api_key",
            "the Clockify API key was rejected by Clockify",
        ),
        (
            h.integration(Some(demo::API_KEY), Some("LIVE_wrong")),
            "runn_token",
            "the Runn API token was rejected by Runn",
        ),
        (
            wrong_workspace,
            "clockify_workspace",
            "not one the API key's user belongs to",
        ),
        (
            bad_workspace,
            "clockify_workspace",
            "is not a Clockify workspace id",
        ),
        (bad_window, "window_days", "must be 1 to 366 days"),
        (plain_http, "runn_host", "the Runn URL"),
        (metadata, "clockify_reports_url", "the reports URL"),
        (
            h.integration(None, Some(RUNN_TOKEN)),
            "clockify_api_key",
            "none is stored for this account",
        ),
        (
            h.integration(Some("has space"), Some(RUNN_TOKEN)),
            "clockify_api_key",
            "printable characters",
        ),
    ];
    for (body, field, words) in cases {
        let path = "/accounts/acme/integration";
        let reply = call(&h.api, "PUT", path, &body.to_string()).await;
        assert_eq!(reply.status, 422, "{field}: {}", reply.body);
        let (code, f, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code, f),
            (422, "refused", Some(field)),
            "{message}"
        );
        assert!(message.contains(words), "{message}");
        assert!(
            !message.contains("401") && !message.contains(RUNN_TOKEN),
            "{message}"
        );
    }
    assert!(
        h.store.settings(&acme()).await.unwrap().is_none(),
        "nothing saved"
    );
    assert!(h.jobs().is_empty(), "nothing queued");
}

#[tokio::test]
async fn stored_credentials_may_be_left_out_and_a_disabled_account_is_re_enabled() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    h.store
        .disable(&acme(), "credentials rejected: Runn said 401", None)
        .await
        .unwrap();
    let st = h.status("acme").await;
    assert_eq!(st.body["enabled"], false);
    assert!(st.body["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("credentials rejected"));
    let mut body = h.integration(None, None);
    body["autofill"] = json!(false);
    body["window_days"] = json!(30);
    let reply = h.save("acme", &body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let a = h.store.account(&acme()).await.unwrap().unwrap();
    assert!(a.settings.enabled && a.settings.disabled_reason.is_none());
    assert_eq!((a.settings.autofill, a.settings.window_days), (false, 30));
    use shared::ExposeSecret;
    assert_eq!(
        a.runn_token.expose_secret(),
        RUNN_TOKEN,
        "the stored token is kept"
    );
    // Left out again, autofill and the window stay as they were.
    h.work().await;
    h.save("acme", &h.integration(None, None)).await;
    let a = h.store.settings(&acme()).await.unwrap().unwrap();
    assert_eq!((a.autofill, a.window_days), (false, 30));
}

#[tokio::test]
async fn actuals_are_not_switched_on_while_linked_people_are_on_unknown() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let mut on = h.integration(None, Some(RUNN_TOKEN));
    on["switches"]["actuals"] = json!(true);
    let reply = h.save("acme", &on).await;
    let (_, field, message) = error_of(&reply);
    assert_eq!(
        (reply.status, field),
        (422, Some("switches.actuals")),
        "{message}"
    );
    assert!(message.contains("\"Unknown\" role"), "{message}");
    // Without the token the roles cannot be checked.
    let mut no_token = h.integration(None, None);
    no_token["switches"]["actuals"] = json!(true);
    let reply = h.save("acme", &no_token).await;
    assert_eq!(error_of(&reply).1, Some("runn_token"));
    assert!(
        !h.store
            .settings(&acme())
            .await
            .unwrap()
            .unwrap()
            .switches
            .actuals
    );
    // Roles given in Runn: now it is switched on.
    let people: Vec<i64> = h.runn.data.lock().unwrap().people.keys().copied().collect();
    for p in people {
        h.runn.give_role(p, "Designer");
    }
    let reply = h.save("acme", &on).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert!(
        h.store
            .settings(&acme())
            .await
            .unwrap()
            .unwrap()
            .switches
            .actuals
    );
}

#[tokio::test]
async fn an_import_button_queues_one_job_and_a_second_press_gets_its_run() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let first = h.press("acme", &["projects"]).await;
    assert_eq!((first.status, &first.body["queued"]), (202, &json!(true)));
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 1);
    let only = Switches {
        clients_and_projects: true,
        people: false,
        actuals: false,
    };
    assert_eq!(
        jobs[0].work,
        Work::Import {
            only: Some(only),
            resume: None
        }
    );
    let second = h.press("acme", &["people", "clients"]).await;
    assert_eq!(second.status, 202);
    assert_eq!(second.body["queued"], false);
    assert_eq!(second.body["run_id"], first.body["run_id"]);
    assert_eq!(h.jobs().len(), 1, "nothing more queued");
    // The job ends: the button queues again.
    h.work().await;
    let third = h.press("acme", &["people"]).await;
    assert_eq!(third.body["queued"], true);
    assert_ne!(third.body["run_id"], first.body["run_id"]);
}

#[tokio::test]
async fn a_press_while_the_daily_import_is_queued_or_running_gets_its_run() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let daily = "daily-2026-11-29T0200Z";
    shared::jobs::fan_out(h.store.as_ref(), h.queue.as_ref(), daily)
        .await
        .unwrap();
    let press = h.press("acme", &["people"]).await;
    assert_eq!((press.status, &press.body["queued"]), (202, &json!(false)));
    assert_eq!(press.body["run_id"], daily);
    assert_eq!(h.jobs().len(), 1, "only the daily job");
    h.work().await;
    let press = h.press("acme", &["people"]).await;
    assert_eq!(press.body["queued"], true, "the daily job has ended");
}

#[tokio::test]
async fn import_requests_are_refused_with_a_clear_message() {
    let h = harness().await;
    assert_eq!(error_of(&h.press("acme", &["people"]).await).0, "not_found");
    h.connect().await;
    h.work().await;
    let path = "/accounts/acme/imports";
    for (body, words) in [
        (r#"{"kinds": ["invoices"]}"#, "unknown variant `invoices`"),
        (r#"{"kinds": []}"#, "at least one kind"),
        (
            r#"{"kinds": ["people"], "force": true}"#,
            "unknown field `force`",
        ),
        (r#"{"kinds": "people"}"#, "invalid type"),
        (r#"[["people"]]"#, "a JSON object"),
        ("{not json", "key must be a string"),
        ("", "EOF"),
    ] {
        let reply = call(&h.api, "POST", path, body).await;
        let (code, _, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code),
            (400, "bad_request"),
            "{body}: {message}"
        );
        assert!(message.contains(words), "{body}: {message}");
    }
    let reply = h.press("acme", &["actuals"]).await;
    let (_, field, message) = error_of(&reply);
    assert_eq!((reply.status, field), (422, Some("kinds")));
    assert!(message.contains("actuals is switched off"), "{message}");
    assert!(h.jobs().is_empty());
}

#[tokio::test]
async fn turning_off_deletes_the_secrets_and_turning_on_again_duplicates_nothing() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let people = h.runn.data.lock().unwrap().people.len();
    h.press("acme", &["people"]).await;
    let off = call(&h.api, "DELETE", "/accounts/acme/integration", "").await;
    assert_eq!(off.status, 200, "{}", off.body);
    let stored = h.store.state(&acme()).await.unwrap().unwrap().credentials;
    assert!(
        !stored.runn_token && !stored.clockify_api_key,
        "secrets deleted"
    );
    let st = h.status("acme").await;
    assert_eq!(
        (
            &st.body["enabled"],
            &st.body["credentials_stored"],
            &st.body["pending_run"]
        ),
        (&json!(false), &json!(false), &Value::Null)
    );
    assert_eq!(st.body["disabled_reason"], "turned off in Runn");
    // The job queued before is dropped; the buttons say why.
    h.work().await;
    let press = h.press("acme", &["people"]).await;
    assert_eq!((press.status, error_of(&press).0), (409, "disabled"));
    // Left-out credentials are gone: they must be given again.
    assert_eq!(
        error_of(&h.save("acme", &h.integration(None, None)).await).1,
        Some("runn_token")
    );
    let on = h.connect().await;
    assert_eq!(on.status, 202);
    h.work().await;
    assert!(people > 0);
    assert_eq!(
        h.runn.data.lock().unwrap().people.len(),
        people,
        "no duplicates"
    );
    let again = call(&h.api, "DELETE", "/accounts/nobody/integration", "").await;
    assert_eq!(again.status, 404);
    let with_body = call(&h.api, "DELETE", "/accounts/acme/integration", "{}").await;
    assert_eq!(with_body.status, 400);
}

#[tokio::test]
async fn unsigned_forged_stale_and_cross_account_requests_are_refused() {
    let h = harness().await;
    h.connect().await;
    let path = "/accounts/acme/status";
    let secret = SecretString::from(SECRET);
    let sign = |t: i64, method: &str, p: &str, body: &str| {
        shared::signature::sign(&secret, t, method, p, body.as_bytes())
    };
    let forged = shared::signature::sign(&SecretString::from("guess"), now(), "GET", path, b"");
    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (None, path, "missing"),
        (Some("v1=abc".into()), path, "not `t="),
        (Some("t=now,v1=zz".into()), path, "not `t="),
        (Some(forged), path, "does not match"),
        (
            Some(sign(now() - 400, "GET", path, "")),
            path,
            "more than 300 s",
        ),
        (
            Some(sign(now() + 400, "GET", path, "")),
            path,
            "more than 300 s",
        ),
        // Signed for acme, sent for another account.
        (
            Some(sign(now(), "GET", path, "")),
            "/accounts/globex/status",
            "does not match",
        ),
        // Signed for a GET, sent as a DELETE.
        (
            Some(sign(now(), "GET", "/accounts/acme/integration", "")),
            "/accounts/acme/integration",
            "does not match",
        ),
    ];
    for (header, p, words) in cases {
        let method = if p.ends_with("integration") {
            "DELETE"
        } else {
            "GET"
        };
        let reply = raw(&h.api, method, p, header.as_deref(), b"").await;
        let (code, _, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code),
            (401, "unauthorized"),
            "{p}: {message}"
        );
        assert!(message.contains(words), "{message}");
    }
    // A body changed after signing.
    let body = r#"{"kinds":["people"]}"#;
    let header = sign(now(), "POST", "/accounts/acme/imports", body);
    let tampered = raw(
        &h.api,
        "POST",
        "/accounts/acme/imports",
        Some(&header),
        br#"{"kinds":["actuals"]}"#,
    )
    .await;
    assert_eq!(tampered.status, 401);
    // Still there, and signed correctly a minute ago: accepted.
    let fresh = raw(
        &h.api,
        "GET",
        path,
        Some(&sign(now() - 60, "GET", path, "")),
        b"",
    )
    .await;
    assert_eq!(fresh.status, 200);
    assert_eq!(h.jobs().len(), 1, "only Save & Run's job");
}

#[tokio::test]
async fn big_bodies_unknown_paths_methods_and_ids_are_refused() {
    let h = harness().await;
    let big = format!(r#"{{"kinds":["people"],"pad":"{}"}}"#, "x".repeat(MAX_BODY));
    let reply = call(&h.api, "POST", "/accounts/acme/imports", &big).await;
    assert_eq!(reply.status, 400);
    assert!(
        error_of(&reply).2.contains("at most 65536"),
        "{}",
        reply.body
    );
    let unknown_field = h.admin_form_with(
        "clockify_host",
        json!({"kind": "global", "url": "https://x.example"}),
    );
    let reply = call(
        &h.api,
        "PUT",
        "/accounts/acme/integration",
        &unknown_field.to_string(),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    for (method, path, status) in [
        ("GET", "/accounts/acme", 404),
        ("GET", "/admin", 404),
        ("POST", "/accounts/acme/status", 405),
        ("GET", "/accounts/acme/imports", 405),
        ("GET", "/accounts/acme/integration", 405),
        ("GET", "/accounts/a%23b/status", 400),
        ("GET", "/accounts/acme/runs/..%2f..", 400),
    ] {
        let reply = call(&h.api, method, path, "").await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    }
}

/// API Gateway's event as lambda_http reads it, through the router, and the answer as
/// lambda_http turns it into Lambda's (as `lambda_http::run` does both).
async fn through_lambda_http(api: &Api, event: Value) -> (u16, String, Value) {
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let resp = router(Arc::new(api.clone())).oneshot(req).await.unwrap();
    let resp = lambda_http::IntoResponse::into_response(resp).await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("not a text body: {other:?}"),
    };
    (status, retry, body)
}

#[tokio::test]
async fn handle_reads_the_callers_path_with_or_without_a_named_stage() {
    let h = harness().await;
    h.connect().await;
    let path = "/accounts/acme/status";
    let sig = shared::signature::sign(&SecretString::from(SECRET), now(), "GET", path, b"");
    let event = sims::backend::apigw_event("GET", path, "", Some(&sig));
    let (status, _, body) = through_lambda_http(&h.api, event.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "acme");
    // A named stage: API Gateway puts it in rawPath; the caller signed the path without it.
    let mut staged = event;
    staged["rawPath"] = json!("/prod/accounts/acme/status");
    staged["requestContext"]["stage"] = json!("prod");
    staged["requestContext"]["http"]["path"] = json!("/prod/accounts/acme/status");
    let (status, _, body) = through_lambda_http(&h.api, staged).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(without_stage("/prod", Some("prod")), "/prod");
    assert_eq!(
        without_stage("/production/x", Some("prod")),
        "/production/x"
    );
    assert_eq!(without_stage("/prod/x", Some("$default")), "/prod/x");
}

#[tokio::test]
async fn a_service_that_does_not_answer_saves_nothing_and_answers_503() {
    let h = harness().await;
    h.clockify.ctl.set_faults(sims::common::Faults {
        error_rate: 1.0,
        ..Default::default()
    });
    let body = h.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
    let reply = call(
        &h.api,
        "PUT",
        "/accounts/acme/integration",
        &body.to_string(),
    )
    .await;
    let (code, _, message) = error_of(&reply);
    assert_eq!((reply.status, code), (503, "unavailable"), "{message}");
    assert!(
        message.contains("Clockify could not be reached"),
        "{message}"
    );
    assert!(h.store.settings(&acme()).await.unwrap().is_none());
    assert!(h.jobs().is_empty());
}

#[tokio::test]
async fn save_and_run_bodies_with_bad_json_or_unknown_fields_are_refused() {
    let h = harness().await;
    let extra = h.admin_form_with("id", json!("globex"));
    let bad_zone = h.admin_form_with("time_zone", json!("Mars/Olympus"));
    let extra_switch = h.admin_form_with("switches.invoices", json!(true));
    for (body, words) in [
        (extra.to_string(), "unknown field `id`"),
        (bad_zone.to_string(), "Mars/Olympus"),
        (extra_switch.to_string(), "unknown field `invoices`"),
        ("{\"runn_account\": ".to_owned(), "EOF"),
        ("[]".to_owned(), "a JSON object"),
    ] {
        let reply = call(&h.api, "PUT", "/accounts/acme/integration", &body).await;
        let (code, _, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code),
            (400, "bad_request"),
            "{body}: {message}"
        );
        assert!(message.contains(words), "{body}: {message}");
    }
    assert!(h.store.settings(&acme()).await.unwrap().is_none());
    for path in ["/accounts/nobody/status", "/accounts/nobody/runs/r-1"] {
        assert_eq!(call(&h.api, "GET", path, "").await.status, 404, "{path}");
    }
}

struct DownQueue;

#[async_trait::async_trait]
impl Queue for DownQueue {
    async fn send(&self, _: &[Job]) -> Result<(), QueueError> {
        Err(QueueError("SQS is down".into()))
    }
    async fn send_later(&self, _: &Job, _: Duration) -> Result<(), QueueError> {
        Err(QueueError("SQS is down".into()))
    }
}

/// A key read before a rotation: the cached secret is the old one.
struct Rotated;

#[async_trait::async_trait]
impl SigningKey for Rotated {
    async fn secret(&self) -> Result<SecretString, String> {
        Ok(SecretString::from("whsec_before_rotation"))
    }
    async fn refreshed(&self) -> Option<SecretString> {
        Some(SecretString::from(SECRET))
    }
}

#[tokio::test]
async fn a_request_signed_with_a_just_rotated_secret_is_accepted_after_one_fresh_read() {
    let mut h = harness().await;
    h.connect().await;
    h.api.key = Arc::new(Rotated);
    let reply = call(&h.api, "GET", "/accounts/acme/status", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let forged = shared::signature::sign(
        &SecretString::from("guess"),
        now(),
        "GET",
        "/accounts/acme/status",
        b"",
    );
    let reply = raw(&h.api, "GET", "/accounts/acme/status", Some(&forged), b"").await;
    assert_eq!(reply.status, 401);
}

struct NoKey;

#[async_trait::async_trait]
impl SigningKey for NoKey {
    async fn secret(&self) -> Result<SecretString, String> {
        Err("Secrets Manager is down".into())
    }
}

#[tokio::test]
async fn a_queue_or_secret_that_is_down_answers_503_and_leaves_no_stuck_button() {
    let mut h = harness().await;
    h.connect().await;
    h.work().await;
    h.api.queue = Arc::new(DownQueue);
    let reply = h.press("acme", &["people"]).await;
    assert_eq!((reply.status, error_of(&reply).0), (503, "unavailable"));
    assert_eq!(
        h.store.pending(&acme()).await.unwrap(),
        None,
        "the mark is cleared"
    );
    h.api.key = Arc::new(NoKey);
    let reply = call(&h.api, "GET", "/accounts/acme/status", "").await;
    assert_eq!(reply.status, 503);
    // Through lambda_http: a Retry-After header with the 503.
    let event = sims::backend::apigw_event("GET", "/accounts/acme/status", "", None);
    let (status, retry, _) = through_lambda_http(&h.api, event).await;
    assert_eq!((status, retry.as_str()), (503, "30"));
}

/// The second hardening round's rules, through the router.
mod hardening;
/// The existing customers' routes: suggestions, links, removals.
mod links;
/// Queueing under the account's mark, when it changes meanwhile.
mod pending;
/// The people filter: its rules on Save & Run, and an import it leaves people out of.
mod people_filter;
/// The dry runs: `POST /accounts/{accountId}/previews`.
mod previews;
/// The paths routed and the order of the refusals.
mod routing;
/// Clockify's deliveries: `POST /webhooks/clockify/{accountId}`.
mod webhooks;
