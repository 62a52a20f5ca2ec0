//! Clockify's deliveries through the router: every refusal the same 401 unless the token
//! is one of the account's, the event one it registered, the body an entry; an accepted
//! change marks its user and queues one debounced job on the webhook queue; every answer
//! held to `infra/api.yaml`.

use super::*;
use shared::model::webhooks::{token_digest, HookRegistration, RegisteredHook};
use shared::queue::HookWork;

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.acme-token.sig";
const NEW_ENTRY: &str = "NEW_TIME_ENTRY";

fn registration(events: &[(&str, &str)]) -> HookRegistration {
    HookRegistration {
        url: "https://api.example/webhooks/clockify/acme".into(),
        hooks: events
            .iter()
            .enumerate()
            .map(|(i, (event, token))| RegisteredHook {
                id: format!("w{i}"),
                event: (*event).into(),
                token_digest: token_digest(token),
            })
            .collect(),
        ..Default::default()
    }
}

/// A delivery as Clockify sends it: the token verbatim, the event named in its header.
async fn deliver(api: &Api, account: &str, token: Option<&str>, event: &str, body: &[u8]) -> Reply {
    let path = format!("/webhooks/clockify/{account}");
    let mut headers = vec![
        ("content-type", "application/json"),
        ("clockify-webhook-event-type", event),
    ];
    if let Some(t) = token {
        headers.push(("Clockify-Signature", t));
    }
    let Reply { status, body } = respond_with(api, "POST", &path, &headers, body).await;
    contract()
        .check_response("POST", &path, status, &body)
        .unwrap_or_else(|e| panic!("{e}\n{body}"));
    Reply { status, body }
}

fn entry(user: &str, end: Option<&str>) -> Vec<u8> {
    json!({"id": "e1", "userId": user, "workspaceId": demo::WORKSPACE_ID, "projectId": null,
        "billable": true, "description": "", "tagIds": [],
        "timeInterval": {"start": "2026-12-01T09:00:00Z", "end": end, "duration": "PT1H"}})
    .to_string()
    .into_bytes()
}

impl Harness {
    /// Save & Run, and this integration's webhooks as a registration left them.
    async fn with_hooks(&self) {
        assert_eq!(self.connect().await.status, 202);
        let reg = registration(&[(NEW_ENTRY, TOKEN), ("TIME_ENTRY_UPDATED", "other-token")]);
        self.store.save_hooks(&acme(), &reg).await.unwrap();
    }
    fn delayed_hook_jobs(&self) -> Vec<(Job, Duration)> {
        self.hook_queue.delayed.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn save_and_run_queues_the_registration_on_the_webhook_queue() {
    let h = harness().await;
    assert_eq!(h.connect().await.status, 202);
    let hooks = h.hook_queue.sent.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].work, Work::Hooks(HookWork::Register));
    assert_eq!(hooks[0].account, acme());
    // The job queue has the import alone.
    assert_eq!(h.jobs().len(), 1);
}

#[tokio::test]
async fn every_delivery_not_proven_ours_gets_the_same_401() {
    let h = harness().await;
    h.with_hooks().await;
    // Another account with webhooks of its own.
    let mut other = sims::testkit::offline_account("globex");
    other.settings.enabled = true;
    h.store.put_account(&other).await.unwrap();
    let globex = AccountId::parse("globex").unwrap();
    let theirs = registration(&[(NEW_ENTRY, "globex-token")]);
    h.store.save_hooks(&globex, &theirs).await.unwrap();

    let body = entry("u0000000000000000000u001", Some("2026-12-01T10:00:00Z"));
    let refusals = [
        ("acme", None),
        ("acme", Some("")),
        ("acme", Some("not-the-token")),
        ("acme", Some("globex-token")),
        ("nobody", Some(TOKEN)),
        ("a%23b", Some(TOKEN)),
    ];
    let mut answers = vec![];
    for (account, token) in refusals {
        let reply = deliver(&h.api, account, token, NEW_ENTRY, &body).await;
        assert_eq!(reply.status, 401, "{account} {token:?}: {}", reply.body);
        answers.push(reply.body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert!(h.delayed_hook_jobs().is_empty());
    assert!(h.store.take_changes(&acme()).await.unwrap().is_empty());

    // Turned off: the leftover webhooks' deliveries are refused alike.
    h.store
        .turn_off(&acme(), "turned off in Runn")
        .await
        .unwrap();
    let reply = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, &body).await;
    assert_eq!((reply.status, &reply.body), (401, &answers[0]));
}

#[tokio::test]
async fn a_wrong_event_an_oversized_or_unreadable_body_is_refused() {
    let h = harness().await;
    h.with_hooks().await;
    let body = entry("u0000000000000000000u001", Some("2026-12-01T10:00:00Z"));
    for event in ["EXPENSE_CREATED", "", "TIMER_STOPPED"] {
        // Unknown, missing, or one this account did not register.
        let reply = deliver(&h.api, "acme", Some(TOKEN), event, &body).await;
        assert_eq!(reply.status, 400, "{event}: {}", reply.body);
        assert_eq!(reply.body["error"]["field"], "clockify-webhook-event-type");
    }
    let huge = vec![b' '; MAX_BODY + 1];
    assert_eq!(
        deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, &huge)
            .await
            .status,
        400
    );
    for bad in [
        &b"not json"[..],
        br#"{"userId": 7}"#,
        br#"{"timeInterval": {"end": "x"}}"#,
    ] {
        let reply = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, bad).await;
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(bad));
    }
    assert!(h.delayed_hook_jobs().is_empty());
}

#[tokio::test]
async fn a_running_timer_or_another_workspaces_entry_is_answered_and_ignored() {
    let h = harness().await;
    h.with_hooks().await;
    let running = entry("u0000000000000000000u001", None);
    let reply = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, &running).await;
    assert_eq!(
        (reply.status, &reply.body["accepted"]),
        (200, &json!(false))
    );
    let mut elsewhere: Value =
        serde_json::from_slice(&entry("u1", Some("2026-12-01T10:00:00Z"))).unwrap();
    elsewhere["workspaceId"] = json!("another-workspace");
    let reply = deliver(
        &h.api,
        "acme",
        Some(TOKEN),
        NEW_ENTRY,
        elsewhere.to_string().as_bytes(),
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body["accepted"]),
        (200, &json!(false))
    );
    assert!(h.delayed_hook_jobs().is_empty());
    assert!(h.store.take_changes(&acme()).await.unwrap().is_empty());
}

#[tokio::test]
async fn accepted_changes_mark_their_users_and_queue_one_debounced_job() {
    let h = harness().await;
    h.with_hooks().await;
    let ana = entry("u0000000000000000000u001", Some("2026-12-01T10:00:00Z"));
    let ben = entry("u0000000000000000000u002", Some("2026-12-01T11:00:00Z"));
    let first = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, &ana).await;
    assert_eq!(first.body, json!({"accepted": true, "queued": true}));
    // A duplicate, and another user's change, while the job waits: no second job.
    for body in [&ana, &ben] {
        let reply = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, body).await;
        assert_eq!(reply.body, json!({"accepted": true, "queued": false}));
    }
    let other = deliver(
        &h.api,
        "acme",
        Some("other-token"),
        "TIME_ENTRY_UPDATED",
        &ben,
    )
    .await;
    assert_eq!(other.body["queued"], false);
    let delayed = h.delayed_hook_jobs();
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].0.work, Work::Hooks(HookWork::Changes));
    assert_eq!(delayed[0].1, shared::sync::rules::webhooks::CHANGES_DELAY);
    assert!(h.jobs().iter().all(|j| !matches!(j.work, Work::Hooks(_))));

    // The job takes the marks (and the claim): both users, once each.
    let taken = h.store.take_changes(&acme()).await.unwrap();
    let users: Vec<&str> = taken.people.iter().map(|u| u.as_str()).collect();
    assert_eq!(
        users,
        ["u0000000000000000000u001", "u0000000000000000000u002"]
    );
    assert!(taken.first_at.is_some());
    // A change after that queues the next job.
    let next = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, &ana).await;
    assert_eq!(next.body["queued"], true);
    assert_eq!(h.delayed_hook_jobs().len(), 2);
}

#[tokio::test]
async fn a_job_that_could_not_be_queued_leaves_no_claim_behind() {
    let h = harness().await;
    h.with_hooks().await;
    let down = Api {
        queue: Arc::new(DownQueue),
        ..h.api.clone()
    };
    let ana = entry("u0000000000000000000u001", Some("2026-12-01T10:00:00Z"));
    let reply = deliver(&down, "acme", Some(TOKEN), NEW_ENTRY, &ana).await;
    assert_eq!(reply.status, 503);
    // The mark stays (nothing lost), and the next delivery queues the job.
    let reply = deliver(&h.api, "acme", Some(TOKEN), NEW_ENTRY, &ana).await;
    assert_eq!(reply.body, json!({"accepted": true, "queued": true}));
    assert_eq!(h.delayed_hook_jobs().len(), 1);
}

#[tokio::test]
async fn turning_off_queues_the_clean_up_of_the_webhooks_and_keeps_the_key_for_it() {
    let h = harness().await;
    h.with_hooks().await;
    let off = call(&h.api, "DELETE", "/accounts/acme/integration", "").await;
    assert_eq!(
        (off.status, &off.body["webhooks"]),
        (200, &json!("removing"))
    );
    let hooks = h.hook_queue.sent.lock().unwrap().clone();
    assert_eq!(
        hooks.last().map(|j| &j.work),
        Some(&Work::Hooks(HookWork::Cleanup))
    );
    // The credentials are gone; the Clockify key is kept apart, for an hour at most.
    let state = h.store.state(&acme()).await.unwrap().unwrap();
    assert!(!state.credentials.clockify_api_key && !state.credentials.runn_token);
    let kept = h.store.cleanup_key(&acme()).await.unwrap().unwrap();
    assert!(kept.due <= chrono::Utc::now() + shared::store::CLEANUP_WINDOW);

    // Without webhooks, nothing to clean up.
    let h = harness().await;
    assert_eq!(h.connect().await.status, 202);
    let off = call(&h.api, "DELETE", "/accounts/acme/integration", "").await;
    assert_eq!(off.body["webhooks"], "none");
    assert!(h.store.cleanup_key(&acme()).await.unwrap().is_none());
}
