//! The existing customers' routes: a suggestions run queued and paged through, a reviewed
//! link applied, a removal's dry run, and their refusals, each answer held to the
//! contract.

use super::*;
use sims::runn::Kind;

impl Harness {
    async fn post(&self, path: &str, body: &str) -> Reply {
        call(&self.api, "POST", path, body).await
    }

    async fn get(&self, path: &str) -> Reply {
        call(&self.api, "GET", path, "").await
    }
}

/// A client typed into Runn before the integration, as Clockify's "Acme Corporation".
fn seed_acme(h: &Harness) -> i64 {
    h.runn.seed(
        Kind::Client,
        json!({"name": "ACME  corporation", "website": null, "isArchived": false, "references": []}),
    )
}

#[tokio::test]
async fn suggestions_are_queued_paged_and_a_reviewed_link_is_applied() {
    let h = harness().await;
    let acme_in_runn = seed_acme(&h);
    h.connect().await;
    h.work().await;
    let status = h.status("acme").await;
    let notices = status.body["notices"].as_array().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n.as_str().unwrap().contains("review the links")),
        "{notices:?}"
    );

    contract()
        .check_request("POST", "/accounts/acme/link-suggestions", &json!({}))
        .unwrap();
    let queued = h.post("/accounts/acme/link-suggestions", "{}").await;
    assert_eq!((queued.status, &queued.body["queued"]), (202, &json!(true)));
    let run_id = queued.body["run_id"].as_str().unwrap().to_owned();
    let page = format!("/accounts/acme/runs/{run_id}/suggestions");
    assert_eq!(h.get(&page).await.status, 404, "not run yet");
    h.work().await;
    let run = h.get(&format!("/accounts/acme/runs/{run_id}")).await;
    let record = &run.body["record"];
    assert_eq!(record["kind"], "suggest", "{record}");
    assert_eq!(record["links"]["counts"]["sure"], 1, "{record}");

    let first = h.get(&page).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let suggestion = &first.body["suggestions"][0];
    assert_eq!(
        (&suggestion["runn_id"], &suggestion["confidence"]),
        (&json!(acme_in_runn), &json!("sure"))
    );
    assert_eq!(first.body["next_cursor"], Value::Null);
    let bad = h.get(&format!("{page}?cursor=abc")).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(error_of(&bad).1, Some("cursor"));
    assert_eq!(h.get(&format!("{page}?cursor=7")).await.status, 404);
    assert_eq!(h.get(&format!("{page}?limit=7")).await.status, 400);

    let body = json!({"links": [{"kind": "client", "clockify_id": suggestion["clockify_id"],
        "runn_id": acme_in_runn}]});
    contract()
        .check_request("POST", "/accounts/acme/links", &body)
        .unwrap();
    let applied = h.post("/accounts/acme/links", &body.to_string()).await;
    assert_eq!(applied.status, 202, "{}", applied.body);
    h.work().await;
    let run = h
        .get(&format!(
            "/accounts/acme/runs/{}",
            applied.body["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        run.body["record"]["links"]["linked"]["count"], 1,
        "{}",
        run.body
    );
    let refs = h.runn.data.lock().unwrap().clients[&acme_in_runn]["references"].clone();
    assert_eq!(refs[0]["externalId"], suggestion["clockify_id"], "{refs}");
}

#[tokio::test]
async fn a_links_list_no_person_reviewed_is_refused() {
    let h = harness().await;
    h.connect().await;
    for body in [
        json!({}),
        json!({"links": [{"kind": "role", "clockify_id": "a1", "runn_id": 1}]}),
        json!({"links": [{"kind": "client", "clockify_id": "a/b", "runn_id": 1}]}),
        json!({"links": [{"kind": "client", "clockify_id": "a1", "runn_id": 0}]}),
        json!({"links": [], "extra": 1}),
    ] {
        let reply = h.post("/accounts/acme/links", &body.to_string()).await;
        assert_eq!(reply.status, 400, "{body} → {}", reply.body);
    }
    assert!(h
        .jobs()
        .iter()
        .all(|j| !matches!(j.work, Work::Link { .. })));
}

#[tokio::test]
async fn a_removal_names_its_dry_run_and_needs_the_integration_on() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    let missing = h.post("/accounts/acme/removals", "{}").await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    let body = json!({"dryRun": true, "kinds": ["clients", "people"]});
    contract()
        .check_request("POST", "/accounts/acme/removals", &body)
        .unwrap();
    let dry = h.post("/accounts/acme/removals", &body.to_string()).await;
    assert_eq!(dry.status, 202, "{}", dry.body);
    h.work().await;
    let run = h
        .get(&format!(
            "/accounts/acme/runs/{}",
            dry.body["run_id"].as_str().unwrap()
        ))
        .await;
    let removal = &run.body["record"]["removal"];
    assert_eq!(removal["dry_run"], true, "{}", run.body);
    assert_eq!(
        removal["archived"],
        json!({"clients": 3, "projects": 4, "people": 5}),
        "{removal}"
    );
    assert!(h
        .runn
        .data
        .lock()
        .unwrap()
        .people
        .values()
        .all(|p| p["isArchived"] == false));

    let off = call(&h.api, "DELETE", "/accounts/acme/integration", "").await;
    assert_eq!(off.status, 200);
    let refused = h
        .post(
            "/accounts/acme/removals",
            &json!({"dryRun": false}).to_string(),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(error_of(&refused).2.contains("Save & Run it again first"));
}
