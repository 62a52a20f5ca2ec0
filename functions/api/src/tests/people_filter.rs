//! Save & Run's rules for the people filter: a change needs the Clockify key, a group the
//! workspace does not have is refused naming the field, and nothing is saved either way;
//! a saved filter shows in the status and leaves people out of the import.

use super::*;
use sims::clockify::SimUserGroup;

const DESIGN: &str = "a0000000000000000000g001";

impl Harness {
    /// A "Design" group holding Ana and Émilie, in the simulated workspace.
    fn add_design_group(&self) {
        let mut data = self.clockify.data.write().unwrap();
        data.workspaces[0].user_groups.push(SimUserGroup {
            id: DESIGN.into(),
            name: "Design".into(),
            user_ids: vec![
                "u0000000000000000000u001".into(),
                "u0000000000000000000u002".into(),
            ],
        });
    }

    async fn stored_filter(&self) -> Option<shared::account::PeopleFilter> {
        let settings = self.store.settings(&acme()).await.unwrap().unwrap();
        settings.people_filter
    }
}

#[tokio::test]
async fn a_filter_change_without_the_key_or_with_a_missing_group_saves_nothing() {
    let h = harness().await;
    h.connect().await;
    h.work().await;
    h.add_design_group();
    let filter = json!({"include_groups": [DESIGN], "exclude_emails": []});
    // Without the key: refused naming the key.
    let mut no_key = h.integration(None, None);
    no_key["people_filter"] = filter.clone();
    let reply = h.save("acme", &no_key).await;
    let (code, field, message) = error_of(&reply);
    assert_eq!(
        (reply.status, code, field),
        (422, "refused", Some("clockify_api_key"))
    );
    assert!(
        message.contains("people filter") && message.contains("nothing was saved"),
        "{message}"
    );
    // With the key, a group the workspace does not have: refused naming the filter.
    let mut missing = h.integration(Some(demo::API_KEY), None);
    missing["people_filter"] = json!({"include_groups": [DESIGN, "ffffffffffffffffffff0000"]});
    let reply = h.save("acme", &missing).await;
    let (_, field, message) = error_of(&reply);
    assert_eq!(
        (reply.status, field),
        (422, Some("people_filter")),
        "{message}"
    );
    assert!(
        message.contains("ffffffffffffffffffff0000") && !message.contains(DESIGN),
        "{message}"
    );
    // Out of bounds: refused naming it before Clockify is asked.
    let mut too_many = h.integration(Some(demo::API_KEY), None);
    let groups: Vec<String> = (0..101).map(|i| format!("g{i}")).collect();
    too_many["people_filter"] = json!({ "include_groups": groups });
    let reply = call(
        &h.api,
        "PUT",
        "/accounts/acme/integration",
        &too_many.to_string(),
    )
    .await;
    assert_eq!(
        (reply.status, error_of(&reply).1),
        (422, Some("people_filter"))
    );
    assert_eq!(h.stored_filter().await, None, "nothing saved");
    assert!(h.jobs().is_empty(), "nothing queued");
}

#[tokio::test]
async fn a_saved_filter_shows_in_the_status_and_leaves_people_out_of_the_import() {
    let h = harness().await;
    h.add_design_group();
    let mut body = h.integration(Some(demo::API_KEY), Some(RUNN_TOKEN));
    body["people_filter"] =
        json!({"include_groups": [DESIGN], "exclude_emails": [" Emilie@Agency.Example "]});
    let reply = h.save("acme", &body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let groups = h
        .clockify
        .ctl
        .count("GET /api/v1/workspaces/{workspaceId}/user-groups");
    assert_eq!(groups, 1, "the groups were checked with the key");
    let st = h.status("acme").await;
    assert_eq!(
        st.body["people_filter"],
        json!({"include_groups": [DESIGN], "exclude_emails": ["emilie@agency.example"]})
    );
    h.work().await;
    // Only Ana is in: the four other active people are left out, named in the status.
    let people: Vec<String> = {
        let data = h.runn.data.lock().unwrap();
        data.people
            .values()
            .map(|p| p["firstName"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(people, ["Ana"]);
    let st = h.status("acme").await;
    let skipped = st.body["runs"][0]["report"]["skipped"].as_array().unwrap();
    let left_out = skipped
        .iter()
        .find(|g| g["reason"] == "left_out_by_filter")
        .expect("a group of people left out");
    assert_eq!(left_out["count"], 5, "{left_out}");
    // Saved again without the key and the filter left out: kept, no key needed.
    let reply = h.save("acme", &h.integration(None, None)).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert!(h.stored_filter().await.is_some());
}
