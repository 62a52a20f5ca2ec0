//! A preview queues a dry run of its own (never the account's mark), refuses what an
//! import refuses, and its run shows the plan without a write to Runn.

use super::*;

impl Harness {
    async fn preview(&self, id: &str, body: Value) -> Reply {
        let path = format!("/accounts/{id}/previews");
        call(&self.api, "POST", &path, &body.to_string()).await
    }

    /// Takes the queued job of `run_id` off the queue and runs it, as the worker does.
    async fn work_on(&self, run_id: &str) {
        let job = {
            let mut sent = self.queue.sent.lock().unwrap();
            let at = sent.iter().position(|j| j.run_id == run_id).unwrap();
            sent.remove(at)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let cfg = quick_worker();
        let (store, queue) = (self.store.as_ref(), self.queue.as_ref());
        shared::jobs::run_job(store, queue, &job, deadline, &cfg)
            .await
            .unwrap();
    }
}

/// Runn's simulator saw no request but reads.
fn runn_only_read(h: &Harness) {
    let counts = h.runn.ctl.counts();
    let writes: Vec<_> = counts
        .iter()
        .filter(|(endpoint, n)| {
            let method = endpoint.split(' ').next().unwrap();
            ["POST", "PATCH", "PUT", "DELETE"].contains(&method) && **n > 0
        })
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn a_preview_before_the_first_import_plans_it_and_writes_nothing() {
    let h = harness().await;
    let import = h.connect().await.body["run_id"].clone();
    let body = json!({"kinds": ["people", "clients"]});
    contract()
        .check_request("POST", "/accounts/acme/previews", &body)
        .unwrap();
    let reply = h.preview("acme", body).await;
    assert_eq!((reply.status, &reply.body["queued"]), (202, &json!(true)));
    assert_eq!(reply.body["account"], "acme");
    let run_id = reply.body["run_id"].as_str().unwrap().to_owned();
    assert_ne!(json!(run_id), import);
    let jobs = h.jobs();
    let job = jobs.iter().find(|j| j.run_id == run_id).unwrap();
    let only = Switches {
        clients_and_projects: true,
        people: true,
        actuals: false,
    };
    assert_eq!(
        (&job.work, job.trigger),
        (
            &Work::Preview {
                only: Some(only),
                range: None
            },
            Trigger::Manual
        )
    );
    // The import's mark is as it was: the preview neither took nor cleared it.
    let marked = |h: &Harness| {
        let store = h.store.clone();
        async move { store.pending(&acme()).await.unwrap().map(|p| p.run_id) }
    };
    assert_eq!(marked(&h).await, import.as_str().map(str::to_owned));
    h.work_on(&run_id).await;
    assert_eq!(marked(&h).await, import.as_str().map(str::to_owned));

    let run = call(&h.api, "GET", &format!("/accounts/acme/runs/{run_id}"), "").await;
    assert_eq!((run.status, &run.body["pending"]), (200, &json!(false)));
    let record = &run.body["record"];
    assert_eq!(record["kind"], "preview", "{record}");
    assert_eq!(record["plan"]["create"]["people"], 5, "{record}");
    assert_eq!(record["outcome"]["result"], "succeeded", "{record}");
    runn_only_read(&h);
    assert!(
        h.runn.data.lock().unwrap().people.is_empty(),
        "nothing created"
    );
}

#[tokio::test]
async fn a_preview_without_a_job_pending_leaves_no_mark() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    assert_eq!(h.store.pending(&acme()).await.unwrap(), None);
    let body = json!({"kinds": ["people"], "from": "2026-01-05", "to": "2026-01-05"});
    let path = "/accounts/acme/previews";
    contract().check_request("POST", path, &body).unwrap();
    let half = json!({"kinds": ["people"], "from": "2026-01-05"});
    assert!(contract().check_request("POST", path, &half).is_err());
    let reply = h.preview("acme", body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let job = h.jobs().pop().unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    assert!(
        matches!(job.work, Work::Preview { range: Some((from, to)), .. } if from == day && to == day),
        "{:?}",
        job.work
    );
    assert_eq!(h.store.pending(&acme()).await.unwrap(), None);
    // A press is not held up by it: it queues its own job at once.
    let press = h.press("acme", &["people"]).await;
    assert_eq!(press.body["queued"], true);
    h.work().await;
    assert_eq!(h.store.pending(&acme()).await.unwrap(), None);
    let run = format!("/accounts/acme/runs/{}", job.run_id);
    let record = &call(&h.api, "GET", &run, "").await.body["record"];
    assert_eq!(record["kind"], "preview", "{record}");
}

#[tokio::test]
async fn preview_requests_are_refused_as_imports_are() {
    let h = harness().await;
    let unknown = h.preview("acme", json!({"kinds": ["people"]})).await;
    assert_eq!((unknown.status, error_of(&unknown).0), (404, "not_found"));
    h.connect().await;
    h.work().await;
    for (body, field, words) in [
        (
            json!({"kinds": ["people"], "from": "2026-01-05"}),
            Some("to"),
            "both from and to",
        ),
        (
            json!({"kinds": ["people"], "to": "2026-01-05"}),
            Some("from"),
            "both from and to",
        ),
        (
            json!({"kinds": ["people"], "from": "2026-01-06", "to": "2026-01-05"}),
            Some("from"),
            "is after to",
        ),
        (
            json!({"kinds": ["people"], "from": "2026-02-30", "to": "2026-03-01"}),
            Some("from"),
            "from: ",
        ),
        (
            json!({"kinds": ["invoices"]}),
            Some("kinds[0]"),
            "unknown variant `invoices`",
        ),
        (json!({"kinds": []}), Some("kinds"), "at least one kind"),
        (
            json!({"kinds": ["people"], "apply": true}),
            Some("apply"),
            "unknown field `apply`",
        ),
    ] {
        let reply = h.preview("acme", body.clone()).await;
        let (code, f, message) = error_of(&reply);
        assert_eq!(
            (reply.status, code, f),
            (400, "bad_request", field),
            "{body}: {message}"
        );
        assert!(message.contains(words), "{body}: {message}");
    }
    let reply = h.preview("acme", json!({"kinds": ["actuals"]})).await;
    let (_, field, message) = error_of(&reply);
    assert_eq!((reply.status, field), (422, Some("kinds")));
    assert!(message.contains("actuals is switched off"), "{message}");
    let wrong = call(&h.api, "GET", "/accounts/acme/previews", "").await;
    assert_eq!(wrong.status, 405);
    assert!(h.jobs().is_empty(), "nothing queued");
    h.store
        .disable(&acme(), "turned off in Runn", None)
        .await
        .unwrap();
    let off = h.preview("acme", json!({"kinds": ["people"]})).await;
    assert_eq!((off.status, error_of(&off).0), (409, "disabled"));
    assert!(h.jobs().is_empty(), "nothing queued");
}

#[tokio::test]
async fn a_preview_the_queue_refuses_answers_503_and_marks_nothing() {
    let mut h = harness().await;
    h.connect().await;
    h.work().await;
    h.api.queue = Arc::new(DownQueue);
    let reply = h.preview("acme", json!({"kinds": ["people"]})).await;
    assert_eq!((reply.status, error_of(&reply).0), (503, "unavailable"));
    assert_eq!(h.store.pending(&acme()).await.unwrap(), None);
}
