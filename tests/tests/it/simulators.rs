//! The simulators refuse what the real services refuse, with the spec's status and body.
//! Raw HTTP here, so no client logic hides a simulator gap.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sims::clockify::{
    ClockifyData, ClockifySim, Delivery, Plan, PAID_PLAN_WEBHOOKS, TRIGGER_SOURCE_TYPES,
    WEBHOOK_EVENTS,
};
use sims::generate::{workspace, GenSpec};
use sims::runn::{RunnData, RunnSim};
use sims::schema::schemas;
use sims::testkit::{CLOCKIFY_KEY, RUNN_TOKEN};

async fn runn() -> (RunnSim, sims::common::Running) {
    let sim = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let running = sim.spawn().await.unwrap();
    (sim, running)
}

/// A well-formed authenticated POST to the Runn simulator.
async fn runn_post(r: &sims::common::Running, path: &str, body: Value) -> (StatusCode, Value) {
    call(
        Method::POST,
        format!("{}{path}", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        Some(body),
    )
    .await
}

async fn call(
    method: Method,
    url: String,
    token: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(v) = version {
        req = req.header("accept-version", v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Asserts a Runn error answer: the status, the spec's error component, and a message.
fn assert_runn_error(got: &(StatusCode, Value), status: u16, component: &str, message_has: &str) {
    assert_eq!(got.0.as_u16(), status, "{:?}", got.1);
    schemas()
        .check(component, &got.1, "")
        .unwrap_or_else(|e| panic!("{component}: {e} in {}", got.1));
    let message = got.1["message"].as_str().unwrap();
    assert!(
        message.contains(message_has),
        "{message:?} lacks {message_has:?}"
    );
}

#[tokio::test]
async fn runn_rejects_missing_and_wrong_tokens_with_401() {
    let (_sim, r) = runn().await;
    let url = format!("{}clients/", r.url());
    for token in [None, Some("LIVE_wrong")] {
        let got = call(Method::GET, url.clone(), token, Some("1.0.0"), None).await;
        assert_runn_error(&got, 401, "Unauthorized", "Unauthorized");
        assert_eq!(
            got.1,
            json!({"error": "Unauthorized", "message": "Unauthorized", "statusCode": 401})
        );
    }
}

#[tokio::test]
async fn runn_requires_accept_version_1_0_0() {
    let (_sim, r) = runn().await;
    let url = format!("{}clients/", r.url());
    let got = call(Method::GET, url.clone(), Some(RUNN_TOKEN), None, None).await;
    assert_runn_error(&got, 400, "BadRequest", "accept-version");
    let got = call(
        Method::GET,
        url.clone(),
        Some(RUNN_TOKEN),
        Some("2.0.0"),
        None,
    )
    .await;
    assert_runn_error(&got, 400, "BadRequest", "accept-version");
    let ok = call(Method::GET, url, Some(RUNN_TOKEN), Some("1.0.0"), None).await;
    assert_eq!(ok.0, StatusCode::OK);
    schemas()
        .check("inline:GET /clients/ 200", &ok.1, "")
        .unwrap();
}

#[tokio::test]
async fn runn_rejects_limits_outside_each_endpoints_bounds() {
    let (_sim, r) = runn().await;
    let get = |path: &str| {
        call(
            Method::GET,
            format!("{}{path}", r.url()),
            Some(RUNN_TOKEN),
            Some("1.0.0"),
            None,
        )
    };
    assert_runn_error(
        &get("clients/?limit=201").await,
        400,
        "BadRequest",
        "limit must be <= 200",
    );
    assert_runn_error(
        &get("people/?limit=0").await,
        400,
        "BadRequest",
        "limit must be >= 1",
    );
    assert_runn_error(
        &get("actuals/?limit=501").await,
        400,
        "BadRequest",
        "limit must be <= 500",
    );
    assert_eq!(get("actuals/?limit=500").await.0, StatusCode::OK);
    assert_eq!(get("projects/?limit=200").await.0, StatusCode::OK);
    assert_runn_error(
        &get("projects/?sortBy=name").await,
        400,
        "BadRequest",
        "sortBy",
    );
    assert_runn_error(
        &get("actuals/?minDate=May").await,
        400,
        "BadRequest",
        "minDate",
    );
}

#[tokio::test]
async fn runn_rejects_bulk_calls_outside_1_to_100_items() {
    let (sim, r) = runn().await;
    let many: Vec<Value> = (0..101).map(|i| json!({"name": format!("c{i}")})).collect();
    assert_runn_error(
        &runn_post(&r, "clients/bulk/", json!({ "clients": many })).await,
        400,
        "BadRequest",
        "body/clients",
    );
    assert_runn_error(
        &runn_post(&r, "clients/bulk/", json!({ "clients": [] })).await,
        400,
        "BadRequest",
        "body/clients",
    );
    let actuals: Vec<Value> = (0..101)
        .map(|_| json!({"date": "2025-05-01", "billableMinutes": 1, "nonbillableMinutes": 0, "personId": 1, "projectId": 1, "roleId": 1}))
        .collect();
    assert_runn_error(
        &runn_post(&r, "actuals/bulk/", json!({ "actuals": actuals })).await,
        400,
        "BadRequest",
        "body/actuals",
    );
    assert!(
        sim.data.lock().unwrap().clients.is_empty(),
        "nothing written"
    );
}

#[tokio::test]
async fn runn_rejects_bodies_that_break_the_schema() {
    let (sim, r) = runn().await;
    // required
    assert_runn_error(
        &runn_post(&r, "people/", json!({"firstName": "Ana", "lastName": "B"})).await,
        400,
        "BadRequest",
        "roleId",
    );
    assert_runn_error(
        &runn_post(&r, "projects/", json!({"name": "P"})).await,
        400,
        "BadRequest",
        "anyOf",
    );
    // minLength
    assert_runn_error(
        &runn_post(&r, "clients/", json!({"name": ""})).await,
        400,
        "BadRequest",
        "body/name",
    );
    assert_runn_error(
        &runn_post(
            &r,
            "people/",
            json!({"firstName": "Ana", "lastName": "", "roleId": 1}),
        )
        .await,
        400,
        "BadRequest",
        "body/lastName",
    );
    assert_runn_error(
        &runn_post(
            &r,
            "clients/",
            json!({"name": "A", "references": [{"referenceName": "Clockify", "externalId": ""}]}),
        )
        .await,
        400,
        "BadRequest",
        "externalId",
    );
    // minimum
    assert_runn_error(
        &runn_post(&r, "actuals/", json!({"date": "2025-05-01", "billableMinutes": -5, "nonbillableMinutes": 0, "personId": 1, "projectId": 1, "roleId": 1})).await,
        400,
        "BadRequest",
        "body/billableMinutes",
    );
    assert_runn_error(
        &runn_post(&r, "roles/", json!({"name": "Dev", "standardRate": -1})).await,
        400,
        "BadRequest",
        "body/standardRate",
    );
    // enum
    assert_runn_error(
        &runn_post(
            &r,
            "people/",
            json!({"firstName": "A", "lastName": "B", "roleId": 1, "employmentType": "intern"}),
        )
        .await,
        400,
        "BadRequest",
        "body/employmentType",
    );
    // format
    assert_runn_error(
        &runn_post(&r, "actuals/", json!({"date": "01/05/2025", "billableMinutes": 5, "nonbillableMinutes": 0, "personId": 1, "projectId": 1, "roleId": 1})).await,
        400,
        "BadRequest",
        "body/date",
    );
    // not JSON at all
    let resp = Client::new()
        .post(format!("{}clients/", r.url()))
        .bearer_auth(RUNN_TOKEN)
        .header("accept-version", "1.0.0")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let d = sim.data.lock().unwrap();
    assert!(
        d.clients.is_empty() && d.people.is_empty() && d.actuals.is_empty() && d.roles.is_empty()
    );
}

#[tokio::test]
async fn runn_answers_missing_records_with_404_and_used_projects_with_409() {
    let (sim, r) = runn().await;
    let got = call(
        Method::GET,
        format!("{}projects/999", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        None,
    )
    .await;
    assert_runn_error(&got, 404, "NotFound", "not found");
    let client = sim.seed(
        sims::runn::Kind::Client,
        json!({"name": "C", "website": null, "isArchived": false, "references": []}),
    );
    let (status, project) = call(
        Method::POST,
        format!("{}projects/", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        Some(json!({"name": "P", "clientId": client})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let role = sim.seed(sims::runn::Kind::Role, json!({"name": "R", "isArchived": false, "defaultHourCost": 0, "standardRate": 0, "references": [], "personIds": []}));
    let (status, person) = call(
        Method::POST,
        format!("{}people/", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        Some(json!({"firstName": "A", "lastName": "B", "roleId": role})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        Method::POST,
        format!("{}actuals/", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        Some(json!({"date": "2025-05-01", "billableMinutes": 5, "nonbillableMinutes": 0, "personId": person["id"], "projectId": project["id"], "roleId": role})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let got = call(
        Method::DELETE,
        format!("{}projects/{}/", r.url(), project["id"]),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        None,
    )
    .await;
    assert_runn_error(&got, 409, "Conflict", "actuals");
}

#[tokio::test]
async fn runn_rate_limit_answers_429_with_the_headers_clients_read() {
    let sim = RunnSim::new(RunnData::new([RUNN_TOKEN])).with_default_rate_limit();
    let r = sim.spawn().await.unwrap();
    let client = Client::new();
    let mut last = None;
    for _ in 0..121 {
        last = Some(
            client
                .get(format!("{}me/", r.url()))
                .bearer_auth(RUNN_TOKEN)
                .header("accept-version", "1.0.0")
                .send()
                .await
                .unwrap(),
        );
    }
    let resp = last.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    for h in [
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
    assert_eq!(resp.headers()["x-ratelimit-limit"], "120");
    assert_eq!(
        sim.ctl.log().iter().filter(|r| r.status == 429).count(),
        1,
        "exactly the 121st"
    );
}

async fn clockify() -> (ClockifySim, sims::common::Running) {
    let spec = GenSpec::default();
    let sim = ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![workspace(&spec)],
    });
    let running = sim.spawn().await.unwrap();
    (sim, running)
}

async fn clockify_get(
    url: String,
    key: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = Client::new().get(url);
    if let Some(k) = key {
        req = req.header("X-Api-Key", k);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn clockify_rejects_missing_and_wrong_keys_with_401() {
    let (_sim, r) = clockify().await;
    for key in [None, Some("nope")] {
        let (status, body, _) = clockify_get(format!("{}api/v1/workspaces", r.url()), key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], 401);
        assert!(body["message"].as_str().unwrap().contains("authentication"));
    }
}

#[tokio::test]
async fn clockify_pages_default_to_50_and_refuse_over_5000() {
    let (_sim, r) = clockify().await;
    let ws = GenSpec::default().workspace_id;
    let base = format!("{}api/v1/workspaces/{ws}", r.url());
    let (status, body, _) = clockify_get(
        format!("{base}/projects?page-size=5001"),
        Some(CLOCKIFY_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("page-size"));
    let (status, _, _) = clockify_get(format!("{base}/users?page=0"), Some(CLOCKIFY_KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body, headers) = clockify_get(
        format!("{base}/projects?page-size=4&page=1"),
        Some(CLOCKIFY_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 4);
    assert_eq!(headers["last-page"], "false");
    let (_, body, headers) = clockify_get(
        format!("{base}/projects?page-size=4&page=3"),
        Some(CLOCKIFY_KEY),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(headers["last-page"], "true");
}

#[tokio::test]
async fn clockify_report_refuses_pages_over_1000_and_missing_ranges() {
    let (_sim, r) = clockify().await;
    let ws = GenSpec::default().workspace_id;
    let url = format!("{}report/v1/workspaces/{ws}/reports/detailed", r.url());
    let post = |body: Value| {
        Client::new()
            .post(url.clone())
            .header("X-Api-Key", CLOCKIFY_KEY)
            .json(&body)
            .send()
    };
    let ok = json!({"dateRangeStart": "2025-05-01T00:00:00.000", "dateRangeEnd": "2025-05-31T23:59:59.999",
                    "timeZone": "Europe/Berlin", "detailedFilter": {"page": 1, "pageSize": 1000}});
    assert_eq!(post(ok.clone()).await.unwrap().status(), StatusCode::OK);
    let mut big = ok.clone();
    big["detailedFilter"]["pageSize"] = json!(1001);
    assert_eq!(post(big).await.unwrap().status(), StatusCode::BAD_REQUEST);
    let mut no_start = ok.clone();
    no_start.as_object_mut().unwrap().remove("dateRangeStart");
    assert_eq!(
        post(no_start).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let mut bad_zone = ok.clone();
    bad_zone["timeZone"] = json!("Mars/Olympus");
    assert_eq!(
        post(bad_zone).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let body: Value = post(ok).await.unwrap().json().await.unwrap();
    assert!(body["timeentries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["_id"].is_string() && e["timeInterval"]["duration"].is_i64()));
}

/// `UserGroupDtoV1` as Clockify's spec has it, held strictly: every field the simulator
/// sends and nothing else (`UserRedactedDtoV1` is `{id, name}`).
fn user_group_schema() -> jsonschema::Validator {
    let schema = json!({
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["id", "name", "teamManagers", "userIds", "workspaceId"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "teamManagers": {"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}},
                "userIds": {"type": "array", "items": {"type": "string"}},
                "workspaceId": {"type": "string"}
            }
        }
    });
    jsonschema::validator_for(&schema).unwrap()
}

#[tokio::test]
async fn clockify_user_groups_page_filter_and_sort_to_the_spec() {
    let spec = GenSpec {
        groups: 60,
        ..GenSpec::default()
    };
    let sim = ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![workspace(&spec)],
    });
    let r = sim.spawn().await.unwrap();
    let base = format!(
        "{}api/v1/workspaces/{}/user-groups",
        r.url(),
        spec.workspace_id
    );
    let get = |q: &str| clockify_get(format!("{base}{q}"), Some(CLOCKIFY_KEY));
    // Defaults: page 1 of 50, `Last-Page` as every list sends it.
    let (status, body, headers) = get("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 50);
    assert_eq!(headers["last-page"], "false");
    let errors: Vec<String> = user_group_schema()
        .iter_errors(&body)
        .map(|e| format!("{} {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(body[0]["workspaceId"], spec.workspace_id.as_str());
    assert_eq!(body[0]["teamManagers"], json!([]));
    let (_, body, headers) = get("?page=2").await;
    assert_eq!(body.as_array().unwrap().len(), 10);
    assert_eq!(headers["last-page"], "true");
    // Members, as seeded: user i is in group i % 60.
    let users = workspace(&spec).users;
    let (_, body, _) = get("?name=group%203&sort-column=NAME").await;
    let named: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    // A substring, any case, of the name: "Group 3" and "Group 30" to "Group 39".
    assert_eq!(named.len(), 11, "{named:?}");
    assert!(named.iter().all(|n| n.starts_with("Group 3")), "{named:?}");
    assert_eq!(named[0], "Group 3");
    assert_eq!(body[0]["userIds"], json!([users[3].id]));
    let (_, body, _) = get("?sort-column=NAME&sort-order=DESCENDING&page-size=2").await;
    assert_eq!(body[0]["name"], "Group 9");
    assert_eq!(body[1]["name"], "Group 8");
    // What other lists refuse, refused the same way.
    for bad in [
        "?page-size=5001",
        "?page-size=0",
        "?page=0",
        "?sort-column=SIZE",
        "?sort-order=UP",
    ] {
        let (status, body, _) = get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], 501, "{bad}: {body}");
        assert!(body["message"].is_string());
    }
    let (status, _, _) = clockify_get(base.clone(), Some("nope")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = format!(
        "{}api/v1/workspaces/ffffffffffffffffffffffff/user-groups",
        r.url()
    );
    let (status, _, _) = clockify_get(other, Some(CLOCKIFY_KEY)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---- Runn's clock and `modifiedAfter` ---------------------------------------------------

/// An authenticated GET to the Runn simulator, as the client sends it.
async fn runn_get(r: &sims::common::Running, path_and_query: &str) -> (StatusCode, Value) {
    call(
        Method::GET,
        format!("{}{path_and_query}", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        None,
    )
    .await
}

/// Puts the simulator's clock at `at` (real time plus whatever offset that takes).
fn set_clock(sim: &RunnSim, at: &str) {
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
    let offset = at.signed_duration_since(chrono::Utc::now());
    sim.set_clock_offset_ms(offset.num_milliseconds());
}

/// A person, a project and a role to put actuals on.
fn actual_refs(sim: &RunnSim) -> (i64, i64, i64) {
    use sims::runn::Kind;
    let client = sim.seed(
        Kind::Client,
        json!({"name": "C", "website": null, "isArchived": false, "references": []}),
    );
    let project = sim.seed(Kind::Project, json!({"name": "P", "clientId": client, "isArchived": false, "isTemplate": false,
        "isConfirmed": true, "pricingModel": "tm", "rateType": "hours", "teamId": null, "budget": null,
        "expensesBudget": null, "references": [], "rateCardId": 1, "managerIds": [], "tags": [],
        "customFields": {"select": [], "text": [], "checkbox": [], "date": []}}));
    let role = sim.seed(Kind::Role, json!({"name": "R", "isArchived": false, "defaultHourCost": 0, "standardRate": 0, "references": [], "personIds": []}));
    let person = sim.seed(Kind::Person, json!({"firstName": "A", "lastName": "B", "email": null, "isArchived": false,
        "references": [], "notes": [], "teamId": null, "tags": [], "skills": [], "holidaysGroupId": null,
        "customFields": {"select": [], "text": [], "checkbox": [], "date": []}, "managers": []}));
    (person, project, role)
}

fn actual_input(
    (person, project, role): (i64, i64, i64),
    date: &str,
    minutes: u32,
) -> shared::runn::ActualInput {
    shared::runn::ActualInput {
        date: date.parse().unwrap(),
        billable_minutes: minutes,
        nonbillable_minutes: 0,
        person_id: shared::ids::RunnPersonId(person),
        project_id: shared::ids::RunnProjectId(project),
        role_id: shared::ids::RunnRoleId(role),
        billable_note: None,
        nonbillable_note: None,
        workstream_id: None,
    }
}

/// The ids and `date`s of a list answer, in order.
fn ids_and_dates(body: &Value) -> Vec<(i64, String)> {
    body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                a["date"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn runn_actuals_modified_after_returns_only_what_the_next_day_wrote() {
    let (sim, r) = runn().await;
    let refs = actual_refs(&sim);
    let runn = sims::testkit::runn_client(&r);
    set_clock(&sim, "2025-05-05T12:00:00Z");

    // Day one: three actuals.
    let first = runn
        .upsert_actuals_bulk(&[
            actual_input(refs, "2025-05-01", 60),
            actual_input(refs, "2025-05-02", 120),
            actual_input(refs, "2025-05-03", 180),
        ])
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    for a in &first {
        let created = a.created_at.to_rfc3339();
        assert!(created.starts_with("2025-05-05T12:00:"), "{created}");
        assert_eq!(a.created_at, a.updated_at);
    }

    // Day two: one changed, one new, one deleted.
    sim.advance_clock(std::time::Duration::from_secs(24 * 3600));
    assert!(sim
        .clock_now()
        .to_rfc3339()
        .starts_with("2025-05-06T12:00:"));
    let second = runn
        .upsert_actuals_bulk(&[
            actual_input(refs, "2025-05-02", 90),
            actual_input(refs, "2025-05-04", 30),
        ])
        .await
        .unwrap();
    let (changed, new) = (&second[0], &second[1]);
    assert_eq!(changed.id, first[1].id, "an upsert keeps the record");
    assert_eq!(changed.created_at, first[1].created_at, "and its createdAt");
    assert!(changed
        .updated_at
        .to_rfc3339()
        .starts_with("2025-05-06T12:00:"));
    let gone = first[2].id.0;
    let (status, _) = call(
        Method::DELETE,
        format!("{}actuals/{gone}/", r.url()),
        Some(RUNN_TOKEN),
        Some("1.0.0"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let expected = vec![
        (changed.id.0, "2025-05-02".to_owned()),
        (new.id.0, "2025-05-04".to_owned()),
    ];
    // Both formats, a fractional one, and an offset that is not Z.
    for since in [
        "2025-05-06",
        "2025-05-06T00:00:00Z",
        "2025-05-05T18:30:00.250Z",
        "2025-05-06T02:00:00%2B02:00",
    ] {
        let got = runn_get(&r, &format!("actuals/?modifiedAfter={since}")).await;
        assert_eq!(got.0, StatusCode::OK, "{since}: {}", got.1);
        schemas()
            .check("inline:GET /actuals/ 200", &got.1, "")
            .unwrap();
        assert_eq!(ids_and_dates(&got.1), expected, "{since}");
        assert_eq!(got.1["nextCursor"], Value::Null);
    }
    // Strictly after: the day before takes in day one too (but never the deleted one).
    let got = runn_get(&r, "actuals/?modifiedAfter=2025-05-05").await;
    assert_eq!(
        ids_and_dates(&got.1),
        vec![
            (first[0].id.0, "2025-05-01".to_owned()),
            (changed.id.0, "2025-05-02".to_owned()),
            (new.id.0, "2025-05-04".to_owned()),
        ]
    );
    // After the last write: nothing.
    let got = runn_get(&r, "actuals/?modifiedAfter=2025-05-07").await;
    assert_eq!(ids_and_dates(&got.1), vec![]);

    // Combined with the other filters, and paged one at a time.
    let (person, project, _) = refs;
    let got = runn_get(
        &r,
        &format!("actuals/?modifiedAfter=2025-05-06&minDate=2025-05-03&personId={person}&projectId={project}"),
    )
    .await;
    assert_eq!(ids_and_dates(&got.1), expected[1..].to_vec());
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let got = runn_get(&r, &format!("actuals/?modifiedAfter=2025-05-06&limit=1{q}")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let page = ids_and_dates(&got.1);
        assert_eq!(page.len(), 1, "{}", got.1);
        seen.extend(page);
        match got.1["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn runn_rejects_a_malformed_modified_after_with_400() {
    let (_sim, r) = runn().await;
    for bad in [
        "May",
        "2025-13-01",
        "2025-5-6",
        "2025-05-06T12:00:00",
        "2025-05-06T25:00:00Z",
        "06/05/2025",
        "",
    ] {
        for endpoint in ["actuals/", "assignments/"] {
            let got = runn_get(&r, &format!("{endpoint}?modifiedAfter={bad}")).await;
            assert_runn_error(&got, 400, "BadRequest", "querystring/modifiedAfter");
        }
    }
}

#[tokio::test]
async fn runn_assignments_take_modified_after_too() {
    let (sim, r) = runn().await;
    let (person, project, role) = actual_refs(&sim);
    set_clock(&sim, "2025-05-05T12:00:00Z");
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let old = sim.add_assignment(
        person,
        project,
        role,
        day("2025-05-01"),
        day("2025-05-09"),
        240,
    );
    let changed = sim.add_assignment(
        person,
        project,
        role,
        day("2025-05-12"),
        day("2025-05-16"),
        240,
    );
    sim.advance_clock(std::time::Duration::from_secs(24 * 3600));
    sim.set_assignment_role(changed, role);
    let new = sim.add_assignment(
        person,
        project,
        role,
        day("2025-05-19"),
        day("2025-05-23"),
        480,
    );
    let ids = |body: &Value| -> Vec<i64> {
        body["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect()
    };
    let got = runn_get(&r, "assignments/?modifiedAfter=2025-05-06").await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(ids(&got.1), vec![changed, new]);
    let got = runn_get(&r, "assignments/").await;
    assert_eq!(ids(&got.1), vec![old, changed, new]);
}

#[tokio::test]
async fn runn_clock_is_set_over_http_and_dates_what_the_simulator_writes() {
    let (sim, r) = runn().await;
    let url = format!("{}__sim/clock", r.url());
    let http = Client::new();
    let got: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["offset_ms"], 0);

    let resp = http
        .put(&url)
        .json(&json!({"advance_ms": 86_400_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.clock_offset_ms(), 86_400_000);
    let resp = http
        .put(&url)
        .json(&json!({"advance_ms": 1000}))
        .send()
        .await
        .unwrap();
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["offset_ms"], 86_401_000);
    let now = chrono::DateTime::parse_from_rfc3339(got["now"].as_str().unwrap()).unwrap();
    let expected = chrono::Utc::now() + chrono::Duration::milliseconds(86_401_000);
    assert!(
        (expected - now.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 60,
        "{got}"
    );
    for bad in [
        json!({}),
        json!({"advanceMs": 5}),
        json!({"advance_ms": "a day"}),
    ] {
        let resp = http.put(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        sim.clock_offset_ms(),
        86_401_000,
        "a refused change changes nothing"
    );
    let resp = http
        .put(&url)
        .json(&json!({"offset_ms": -3_600_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.clock_offset_ms(), -3_600_000);

    // What the simulator writes is dated by its clock, "today" included.
    set_clock(&sim, "2031-02-03T04:05:06Z");
    let role = sim.seed(sims::runn::Kind::Role, json!({"name": "R", "isArchived": false, "defaultHourCost": 0, "standardRate": 0, "references": [], "personIds": []}));
    let (status, person) = runn_post(
        &r,
        "people/",
        json!({"firstName": "A", "lastName": "B", "roleId": role}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{person}");
    assert!(person["createdAt"]
        .as_str()
        .unwrap()
        .starts_with("2031-02-03T04:05:"));
    let (status, contract) =
        runn_get(&r, &format!("people/{}/contracts/current", person["id"])).await;
    assert_eq!(status, StatusCode::OK, "{contract}");
    assert_eq!(contract["startDate"], "2031-02-03");
}

// ---- Clockify webhooks ------------------------------------------------------------------

const MEMBER_KEY: &str = "ck_member_1a2b3c4d5e6f";

/// A simulator with one generated workspace on `plan`, an admin key and a member key.
async fn clockify_on(plan: Plan) -> (ClockifySim, sims::common::Running, String) {
    let spec = GenSpec::default();
    let mut ws = workspace(&spec);
    ws.plan = plan;
    let sim = ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![MEMBER_KEY.into()],
        workspaces: vec![ws],
    });
    let running = sim.spawn().await.unwrap();
    (sim, running, spec.workspace_id)
}

async fn clockify_call(
    method: Method,
    url: String,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Client::new().request(method, url).header("X-Api-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A valid `CreateWebhookRequestV1` for `event` on the workspace `ws`.
fn hook_body(ws: &str, event: &str) -> Value {
    json!({"url": format!("https://hooks.example/clockify/{event}"), "webhookEvent": event,
           "triggerSourceType": "WORKSPACE_ID", "triggerSource": [ws]})
}

/// `WebhookDtoV1` as the spec has it, held strictly: every field the simulator sends and
/// nothing else (`name` may be left out; the spec types it a string, never null).
fn webhook_schema() -> jsonschema::Validator {
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "url", "webhookEvent", "authToken", "enabled", "deliveryEnabled",
                     "planEnabled", "userId", "workspaceId", "triggerSource", "triggerSourceType"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"},
            "webhookEvent": {"enum": &WEBHOOK_EVENTS[..]}, "authToken": {"type": "string", "minLength": 20},
            "enabled": {"type": "boolean"}, "deliveryEnabled": {"type": "boolean"},
            "planEnabled": {"type": "boolean"}, "userId": {"type": "string"},
            "workspaceId": {"type": "string"},
            "triggerSource": {"type": "array", "items": {"type": "string"}},
            "triggerSourceType": {"enum": &TRIGGER_SOURCE_TYPES[..]}
        }
    });
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_webhook_dto(v: &Value) {
    let errors: Vec<String> = webhook_schema()
        .iter_errors(v)
        .map(|e| format!("{} {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?} in {v}");
}

/// An admin's call.
async fn as_admin(method: Method, url: &str, body: Option<Value>) -> (StatusCode, Value) {
    clockify_call(method, url.to_owned(), CLOCKIFY_KEY, body).await
}

/// An admin's create of a valid webhook for `event`.
async fn create_hook(base: &str, ws: &str, event: &str) -> (StatusCode, Value) {
    as_admin(Method::POST, base, Some(hook_body(ws, event))).await
}

#[tokio::test]
async fn clockify_webhooks_are_created_up_to_the_free_plans_limit_then_refused() {
    let (_sim, r, ws) = clockify_on(Plan::Free).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    let (_, me) = as_admin(Method::GET, &format!("{}api/v1/user", r.url()), None).await;
    let mut made = vec![];
    for event in ["NEW_TIME_ENTRY", "TIMER_STOPPED", "TIME_ENTRY_UPDATED"] {
        let mut body = hook_body(&ws, event);
        if made.is_empty() {
            body["name"] = json!("Runn sync");
        }
        let (status, hook) = as_admin(Method::POST, &base, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        assert_webhook_dto(&hook);
        let url = format!("https://hooks.example/clockify/{event}");
        assert_eq!(
            (&hook["webhookEvent"], &hook["url"]),
            (&json!(event), &json!(url))
        );
        assert_eq!(hook["workspaceId"], ws.as_str());
        assert_eq!(hook["triggerSource"], json!([ws]));
        assert_eq!(hook["userId"], me["id"]);
        for flag in ["enabled", "deliveryEnabled", "planEnabled"] {
            assert_eq!(hook[flag], true, "{flag}");
        }
        made.push(hook);
    }
    assert_eq!(made[0]["name"], "Runn sync");
    assert!(made[1].get("name").is_none(), "no name given, none sent");
    let distinct = |field: &str| {
        let all: std::collections::HashSet<&str> =
            made.iter().map(|h| h[field].as_str().unwrap()).collect();
        all.len()
    };
    assert_eq!((distinct("id"), distinct("authToken")), (3, 3));

    // The fourth is past the free plan's 3: Clockify's 400 body, nothing stored.
    let (status, body) = create_hook(&base, &ws, "NEW_PROJECT").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 501);
    assert!(
        body["message"].as_str().unwrap().contains("limit"),
        "{body}"
    );

    let (status, list) = as_admin(Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["workspaceWebhookCount"], 3);
    let listed = list["webhooks"].as_array().unwrap();
    listed.iter().for_each(assert_webhook_dto);
    assert_eq!(
        listed, &made,
        "the list answers what the creates did, tokens included"
    );
}

#[tokio::test]
async fn clockify_webhook_deletes_answer_200_then_404_and_free_a_place() {
    let (sim, r, ws) = clockify_on(Plan::Free).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    for event in ["NEW_TIME_ENTRY", "TIMER_STOPPED", "TIME_ENTRY_UPDATED"] {
        assert_eq!(create_hook(&base, &ws, event).await.0, StatusCode::CREATED);
    }
    let id = sim.webhooks(&ws)[1].id.clone();
    let one = format!("{base}/{id}");
    let (status, got) = as_admin(Method::GET, &one, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_webhook_dto(&got);
    assert_eq!(got["id"], id.as_str());
    let resp = Client::new()
        .delete(&one)
        .header("X-Api-Key", CLOCKIFY_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the spec's 200");
    assert!(resp.bytes().await.unwrap().is_empty(), "and no body");
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = as_admin(method.clone(), &one, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(body["code"], 404);
    }
    let (_, list) = as_admin(Method::GET, &base, None).await;
    assert_eq!(list["workspaceWebhookCount"], 2);
    assert!(list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["id"] != id.as_str()));
    let (status, _) = create_hook(&base, &ws, "NEW_PROJECT").await;
    assert_eq!(status, StatusCode::CREATED, "there is room again");
}

#[tokio::test]
async fn clockify_paid_plans_take_100_webhooks_per_workspace() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    for i in 0..PAID_PLAN_WEBHOOKS {
        let (status, b) = create_hook(&base, &ws, WEBHOOK_EVENTS[i % WEBHOOK_EVENTS.len()]).await;
        assert_eq!(status, StatusCode::CREATED, "webhook {i}: {b}");
    }
    let (status, _) = create_hook(&base, &ws, "NEW_PROJECT").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the 101st");
    assert_eq!(sim.webhooks(&ws).len(), 100);
}

/// A valid create body with `field` removed (`None`) or set.
fn hook_with(ws: &str, field: &str, value: Option<Value>) -> Value {
    let mut b = hook_body(ws, "NEW_TIME_ENTRY");
    match value {
        Some(v) => b[field] = v,
        None => {
            b.as_object_mut().unwrap().remove(field);
        }
    }
    b
}

#[tokio::test]
async fn clockify_refuses_webhook_bodies_that_break_the_spec() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    let w = ws.as_str();
    let bad = [
        ("no url", hook_with(w, "url", None)),
        ("empty url", hook_with(w, "url", Some(json!("")))),
        (
            "not a URL",
            hook_with(w, "url", Some(json!("hooks.example/x"))),
        ),
        (
            "ftp",
            hook_with(w, "url", Some(json!("ftp://hooks.example/x"))),
        ),
        ("url a number", hook_with(w, "url", Some(json!(7)))),
        ("no event", hook_with(w, "webhookEvent", None)),
        (
            "unknown event",
            hook_with(w, "webhookEvent", Some(json!("TIME_ENTRY_EXPLODED"))),
        ),
        (
            "lower-case event",
            hook_with(w, "webhookEvent", Some(json!("new_time_entry"))),
        ),
        ("no source type", hook_with(w, "triggerSourceType", None)),
        (
            "unknown source type",
            hook_with(w, "triggerSourceType", Some(json!("PLANET_ID"))),
        ),
        ("no source", hook_with(w, "triggerSource", None)),
        (
            "source not a list",
            hook_with(w, "triggerSource", Some(json!(ws))),
        ),
        (
            "empty source",
            hook_with(w, "triggerSource", Some(json!([]))),
        ),
        (
            "another workspace",
            hook_with(w, "triggerSource", Some(json!(["f".repeat(24)]))),
        ),
        ("name of 1", hook_with(w, "name", Some(json!("R")))),
        (
            "name of 31",
            hook_with(w, "name", Some(json!("x".repeat(31)))),
        ),
        ("name a number", hook_with(w, "name", Some(json!(12)))),
        ("not an object", json!(["url"])),
    ];
    for (what, body) in bad {
        let (status, answer) = as_admin(Method::POST, &base, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert_eq!(answer["code"], 501, "{what}: {answer}");
        assert!(answer["message"].is_string(), "{what}");
    }
    let resp = Client::new()
        .post(&base)
        .header("X-Api-Key", CLOCKIFY_KEY)
        .header("content-type", "application/json")
        .body("{\"url\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "malformed JSON");
    assert!(sim.webhooks(&ws).is_empty(), "nothing refused was stored");
}

#[tokio::test]
async fn clockify_webhook_names_take_2_to_30_characters_and_updates_keep_the_token() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    // The bounds themselves are fine, counted in characters, not bytes.
    for name in ["Rn".to_owned(), "é".repeat(30)] {
        let body = hook_with(&ws, "name", Some(json!(name)));
        let (status, hook) = as_admin(Method::POST, &base, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {hook}");
        assert_eq!(hook["name"], name.as_str());
    }
    // An update is held to the same rules and keeps the id and the token.
    let hook = sim.webhooks(&ws)[0].clone();
    let one = format!("{base}/{}", hook.id);
    let refused = hook_with(&ws, "url", Some(json!("nope")));
    assert_eq!(
        as_admin(Method::PUT, &one, Some(refused)).await.0,
        StatusCode::BAD_REQUEST
    );
    let moved = hook_with(&ws, "url", Some(json!("https://hooks.example/moved")));
    let (status, updated) = as_admin(Method::PUT, &one, Some(moved)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_webhook_dto(&updated);
    assert_eq!(updated["url"], "https://hooks.example/moved");
    assert_eq!(updated["id"], hook.id.as_str());
    assert_eq!(updated["authToken"], hook.auth_token.as_str());
    let missing = format!("{base}/{}", "f".repeat(24));
    let (status, _) = as_admin(Method::PUT, &missing, Some(hook_body(&ws, "NEW_PROJECT"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn clockify_webhook_tokens_rotate_and_only_admins_manage_webhooks() {
    let (sim, r, ws) = clockify_on(Plan::Free).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    let (_, hook) = create_hook(&base, &ws, "NEW_TIME_ENTRY").await;
    let (id, old) = (
        hook["id"].as_str().unwrap(),
        hook["authToken"].as_str().unwrap(),
    );

    // A new token, the old one gone: the answer, a get and the list all have the new one.
    let token_url = format!("{base}/{id}/token");
    let (status, rotated) = as_admin(Method::PATCH, &token_url, None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_webhook_dto(&rotated);
    let new = rotated["authToken"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(rotated["id"], id);
    let (_, got) = as_admin(Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(got["authToken"], new);
    assert_eq!(sim.webhooks(&ws)[0].auth_token, new);
    let missing = format!("{base}/{}/token", "f".repeat(24));
    assert_eq!(
        as_admin(Method::PATCH, &missing, None).await.0,
        StatusCode::NOT_FOUND
    );

    // A member's key is refused every webhook endpoint, with Clockify's body.
    let one = format!("{base}/{id}");
    let calls = [
        (Method::GET, &base, None),
        (Method::POST, &base, Some(hook_body(&ws, "NEW_PROJECT"))),
        (Method::GET, &one, None),
        (Method::PUT, &one, Some(hook_body(&ws, "NEW_PROJECT"))),
        (Method::DELETE, &one, None),
        (Method::PATCH, &token_url, None),
    ];
    for (method, url, body) in calls {
        let (status, answer) = clockify_call(method.clone(), url.clone(), MEMBER_KEY, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {answer}");
        assert_eq!(answer["code"], 403);
        assert!(answer["message"].is_string());
    }
    assert_eq!(
        sim.webhooks(&ws)[0].auth_token,
        new,
        "the member changed nothing"
    );
    let (status, _) = clockify_call(Method::GET, base.clone(), "nope", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = format!("{}api/v1/workspaces/{}/webhooks", r.url(), "f".repeat(24));
    assert_eq!(
        as_admin(Method::GET, &other, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn clockify_webhooks_list_by_type_and_test_controls_seed_and_disable() {
    let (sim, r, ws) = clockify_on(Plan::Free).await;
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    let foreign = sim
        .seed_webhook(&ws, "https://customer.example/hook", "NEW_CLIENT")
        .unwrap();
    assert!(sim
        .seed_webhook(&"f".repeat(24), "https://x.example", "NEW_CLIENT")
        .is_none());
    let (_, ours) = create_hook(&base, &ws, "NEW_TIME_ENTRY").await;
    assert!(sim.disable_delivery(&ws, ours["id"].as_str().unwrap()));
    assert!(!sim.disable_delivery(&ws, &"f".repeat(24)));

    let (_, list) = as_admin(Method::GET, &base, None).await;
    let listed = list["webhooks"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    listed.iter().for_each(assert_webhook_dto);
    let seeded = listed
        .iter()
        .find(|h| h["id"] == foreign.id.as_str())
        .unwrap();
    assert_eq!(seeded["url"], "https://customer.example/hook");
    assert_eq!(seeded["authToken"], foreign.auth_token.as_str());
    let mine = listed.iter().find(|h| h["id"] == ours["id"]).unwrap();
    assert_eq!(
        (&mine["deliveryEnabled"], &mine["enabled"]),
        (&json!(false), &json!(true))
    );

    // The `type` filter narrows the list; the count is the workspace's all the same.
    let (_, by_type) = as_admin(Method::GET, &format!("{base}?type=USER_CREATED"), None).await;
    assert_eq!(by_type["webhooks"].as_array().unwrap().len(), 2);
    let (_, system) = as_admin(Method::GET, &format!("{base}?type=SYSTEM"), None).await;
    assert_eq!(system["webhooks"], json!([]));
    assert_eq!(system["workspaceWebhookCount"], 2);
    let (status, body) = as_admin(Method::GET, &format!("{base}?type=MINE"), None).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(501))
    );

    // The customer's webhook counts against the free plan's 3.
    assert_eq!(
        create_hook(&base, &ws, "TIMER_STOPPED").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        create_hook(&base, &ws, "NEW_PROJECT").await.0,
        StatusCode::BAD_REQUEST
    );
}

// ---- Clockify time-entry changes and webhook delivery -----------------------------------

/// A request a webhook receiver got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: reqwest::header::HeaderMap,
    body: Value,
    at: std::time::Instant,
}

/// A receiver on 127.0.0.1 that records every POST and answers with `status`.
struct Receiver {
    got: std::sync::Arc<std::sync::Mutex<Vec<Got>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    running: sims::common::Running,
}

impl Receiver {
    async fn start() -> Self {
        use axum::extract::State;
        type Shared = (
            std::sync::Arc<std::sync::Mutex<Vec<Got>>>,
            std::sync::Arc<std::sync::atomic::AtomicU16>,
        );
        async fn take(
            State((got, status)): State<Shared>,
            uri: axum::http::Uri,
            headers: axum::http::HeaderMap,
            body: axum::body::Bytes,
        ) -> axum::http::StatusCode {
            got.lock().unwrap().push(Got {
                path: uri.path().to_owned(),
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                at: std::time::Instant::now(),
            });
            let s = status.load(std::sync::atomic::Ordering::SeqCst);
            axum::http::StatusCode::from_u16(s).unwrap()
        }
        let shared: Shared = Default::default();
        shared.1.store(200, std::sync::atomic::Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/webhooks/clockify/{account}", axum::routing::post(take))
            .with_state(shared.clone());
        let running = sims::common::serve(app, 0).await.unwrap();
        Self {
            got: shared.0,
            status: shared.1,
            running,
        }
    }
    fn url(&self, account: &str) -> String {
        format!("{}webhooks/clockify/{account}", self.running.url())
    }
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
    fn at(&self, account: &str) -> Vec<Got> {
        let path = format!("/webhooks/clockify/{account}");
        self.got().into_iter().filter(|g| g.path == path).collect()
    }
}

/// Waits until no delivery is under way (they are all in the log and at the receiver).
async fn settled(sim: &ClockifySim) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while sim.deliveries_pending() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// An admin's webhook for `event` delivering to the receiver's `account` path.
async fn hook_to(r: &sims::common::Running, ws: &str, event: &str, url: String) -> Value {
    let base = format!("{}api/v1/workspaces/{ws}/webhooks", r.url());
    let mut body = hook_body(ws, event);
    body["url"] = json!(url);
    let (status, hook) = as_admin(Method::POST, &base, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    hook
}

/// `TimeEntryDtoImplV1` as the spec has it, held strictly: every field the simulator sends
/// and nothing else; what it does not keep is `null` (as Clockify sends an unset field).
fn entry_schema() -> jsonschema::Validator {
    let id_or_null = json!({"type": ["string", "null"]});
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "description", "userId", "workspaceId", "projectId", "taskId", "tagIds",
                     "billable", "type", "isLocked", "kioskId", "customFieldValues", "timeInterval"],
        "properties": {
            "id": {"type": "string"}, "description": {"type": "string"},
            "userId": {"type": "string"}, "workspaceId": {"type": "string"},
            "projectId": id_or_null, "taskId": id_or_null, "kioskId": id_or_null,
            "tagIds": {"type": "array", "items": {"type": "string"}},
            "billable": {"type": "boolean"}, "isLocked": {"type": "boolean"},
            "type": {"enum": ["REGULAR", "BREAK", "HOLIDAY", "TIME_OFF"]},
            "customFieldValues": {"type": "array"},
            "timeInterval": {
                "type": "object", "additionalProperties": false, "required": ["start", "end", "duration"],
                "properties": {
                    "start": {"type": "string", "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"},
                    "end": {"type": ["string", "null"], "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"},
                    "duration": {"type": ["string", "null"], "pattern": "^PT(\\d+H)?(\\d+M)?(\\d+S)?$"}
                }
            }
        }
    });
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_entry_dto(v: &Value) {
    let errors: Vec<String> = entry_schema()
        .iter_errors(v)
        .map(|e| format!("{} {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?} in {v}");
}

fn user_entries_url(r: &sims::common::Running, ws: &str, user: &str) -> String {
    format!("{}api/v1/workspaces/{ws}/user/{user}/time-entries", r.url())
}

fn entry_url(r: &sims::common::Running, ws: &str, id: &str) -> String {
    format!("{}api/v1/workspaces/{ws}/time-entries/{id}", r.url())
}

#[tokio::test]
async fn clockify_entry_created_over_http_reaches_its_webhook_with_token_and_event() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let rx = Receiver::start().await;
    let hook = hook_to(&r, &ws, "NEW_TIME_ENTRY", rx.url("acct-new")).await;
    hook_to(&r, &ws, "TIMER_STOPPED", rx.url("acct-stopped")).await;
    let (user, project) = {
        let data = sim.data.read().unwrap();
        let w = &data.workspaces[0];
        (w.users[3].id.clone(), w.projects[2].id.clone())
    };
    let body = json!({"start": "2025-05-20T08:00:00Z", "end": "2025-05-20T09:30:00Z",
                      "projectId": project, "billable": true, "description": "Design review"});
    let (status, made) =
        as_admin(Method::POST, &user_entries_url(&r, &ws, &user), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_entry_dto(&made);
    assert_eq!(
        (&made["userId"], &made["workspaceId"], &made["projectId"]),
        (&json!(user), &json!(ws), &json!(project))
    );
    assert_eq!(made["timeInterval"]["duration"], "PT1H30M");
    assert_eq!(made["timeInterval"]["end"], "2025-05-20T09:30:00Z");

    settled(&sim).await;
    let got = rx.at("acct-new");
    assert_eq!(got.len(), 1, "{got:?}");
    let h = &got[0].headers;
    assert_eq!(h["clockify-signature"], hook["authToken"].as_str().unwrap());
    assert_eq!(h["clockify-webhook-event-type"], "NEW_TIME_ENTRY");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        got[0].body, made,
        "the body is the entry as the API answers it"
    );
    assert!(
        rx.at("acct-stopped").is_empty(),
        "another event's webhook hears nothing"
    );

    let log = sim.deliveries();
    assert_eq!(log.len(), 1);
    let d = &log[0];
    assert_eq!(d.webhook_id, hook["id"].as_str().unwrap());
    assert_eq!(
        (d.event.as_str(), d.status, d.duplicate),
        ("NEW_TIME_ENTRY", Some(200), false)
    );
    assert_eq!(
        (d.entry_id.as_str(), d.user_id.as_str()),
        (made["id"].as_str().unwrap(), user.as_str())
    );
    assert!(d.sent_at.is_some_and(|s| s >= d.at));
    // The entry is there to read, with the per-user list's rates.
    let (_, listed) = as_admin(
        Method::GET,
        &format!("{}?page-size=500", user_entries_url(&r, &ws, &user)),
        None,
    )
    .await;
    let read = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == made["id"])
        .unwrap()
        .clone();
    assert_eq!(
        (&read["hourlyRate"], &read["costRate"]),
        (&Value::Null, &Value::Null)
    );
}

#[tokio::test]
async fn clockify_timer_start_stop_edit_and_delete_each_send_their_event() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let rx = Receiver::start().await;
    for event in [
        "NEW_TIMER_STARTED",
        "NEW_TIME_ENTRY",
        "TIMER_STOPPED",
        "TIME_ENTRY_UPDATED",
        "TIME_ENTRY_DELETED",
    ] {
        hook_to(&r, &ws, event, rx.url(event)).await;
    }
    let (_, me) = as_admin(Method::GET, &format!("{}api/v1/user", r.url()), None).await;
    let create = format!("{}api/v1/workspaces/{ws}/time-entries", r.url());
    let (status, timer) = as_admin(
        Method::POST,
        &create,
        Some(json!({"start": "2025-05-21T07:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{timer}");
    assert_entry_dto(&timer);
    assert_eq!(timer["userId"], me["id"], "the key's own user");
    assert_eq!(
        (
            &timer["timeInterval"]["end"],
            &timer["timeInterval"]["duration"]
        ),
        (&Value::Null, &Value::Null)
    );
    let id = timer["id"].as_str().unwrap().to_owned();

    let at = entry_url(&r, &ws, &id);
    let put = |body: Value| as_admin(Method::PUT, &at, Some(body));
    let (status, stopped) =
        put(json!({"start": "2025-05-21T07:00:00Z", "end": "2025-05-21T07:45:00Z"})).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_entry_dto(&stopped);
    assert_eq!(stopped["timeInterval"]["duration"], "PT45M");
    let (_, edited) = put(json!({"start": "2025-05-21T07:00:00Z", "end": "2025-05-21T08:00:00Z", "description": "Standup"})).await;
    assert_eq!(edited["description"], "Standup");
    let (status, _) = as_admin(Method::DELETE, &entry_url(&r, &ws, &id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = as_admin(Method::DELETE, &entry_url(&r, &ws, &id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    settled(&sim).await;
    let one = |event: &str| {
        let got = rx.at(event);
        assert_eq!(got.len(), 1, "{event}: {got:?}");
        assert_eq!(got[0].headers["clockify-webhook-event-type"], event);
        got[0].body.clone()
    };
    assert_eq!(one("NEW_TIMER_STARTED"), timer);
    assert!(
        rx.at("NEW_TIME_ENTRY").is_empty(),
        "a started timer is no new entry"
    );
    assert_eq!(one("TIMER_STOPPED"), stopped);
    assert_eq!(one("TIME_ENTRY_UPDATED"), edited);
    assert_eq!(
        one("TIME_ENTRY_DELETED"),
        edited,
        "the deleted entry, as it was"
    );
}

#[tokio::test]
async fn clockify_refuses_entry_bodies_that_break_the_spec_and_delivers_nothing() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let rx = Receiver::start().await;
    hook_to(&r, &ws, "NEW_TIME_ENTRY", rx.url("a")).await;
    let (user, before) = {
        let data = sim.data.read().unwrap();
        (
            data.workspaces[0].users[0].id.clone(),
            data.workspaces[0].time_entries.len(),
        )
    };
    let url = user_entries_url(&r, &ws, &user);
    let ok = json!({"start": "2025-05-20T08:00:00Z", "end": "2025-05-20T09:00:00Z"});
    let with = |field: &str, v: Value| {
        let mut b = ok.clone();
        b[field] = v;
        b
    };
    let cases = [
        (json!({"end": "2025-05-20T09:00:00Z"}), 400),
        (with("start", json!("yesterday")), 400),
        (with("end", json!("2025-05-20T07:00:00Z")), 400),
        (with("projectId", json!("f".repeat(24))), 404),
        (with("billable", json!("yes")), 400),
        (with("description", json!("x".repeat(3001))), 400),
        (with("tagIds", json!(["a1"])), 404),
        (with("taskId", json!("t1")), 404),
        (with("type", json!("BREAK")), 400),
        (with("type", json!("NAP")), 400),
        (with("customFields", json!(vec![json!({}); 51])), 400),
        (json!([1, 2]), 400),
    ];
    for (body, want) in cases {
        let (status, answer) = as_admin(Method::POST, &url, Some(body.clone())).await;
        assert_eq!(status.as_u16(), want, "{body} -> {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    let raw = Client::new()
        .post(&url)
        .header("X-Api-Key", CLOCKIFY_KEY)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    // Someone else's time is an admin's to add; a user not in the workspace is not found.
    let (status, _) = clockify_call(Method::POST, url.clone(), MEMBER_KEY, Some(ok.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = as_admin(
        Method::POST,
        &user_entries_url(&r, &ws, &"e".repeat(24)),
        Some(ok.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = as_admin(
        Method::POST,
        &user_entries_url(&r, &"e".repeat(24), &user),
        Some(ok.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A member adds its own time.
    let (_, me) = clockify_call(
        Method::GET,
        format!("{}api/v1/user", r.url()),
        MEMBER_KEY,
        None,
    )
    .await;
    let mine = user_entries_url(&r, &ws, me["id"].as_str().unwrap());
    assert_eq!(
        clockify_call(Method::POST, mine, MEMBER_KEY, Some(ok))
            .await
            .0,
        StatusCode::CREATED
    );

    settled(&sim).await;
    assert_eq!(
        sim.data.read().unwrap().workspaces[0].time_entries.len(),
        before + 1
    );
    assert_eq!(rx.got().len(), 1, "only the one made was announced");
}

#[tokio::test]
async fn clockify_test_controls_change_entries_and_deliver_like_the_api() {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let rx = Receiver::start().await;
    for event in [
        "NEW_TIMER_STARTED",
        "TIMER_STOPPED",
        "TIME_ENTRY_UPDATED",
        "TIME_ENTRY_DELETED",
    ] {
        hook_to(&r, &ws, event, rx.url(event)).await;
    }
    let off = hook_to(&r, &ws, "TIME_ENTRY_UPDATED", rx.url("off")).await;
    assert!(sim.disable_delivery(&ws, off["id"].as_str().unwrap()));
    let user = sim.data.read().unwrap().workspaces[0].users[1].id.clone();
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let entry = sims::clockify::SimTimeEntry {
        id: "c0ffee000000000000000001".into(),
        user_id: user.clone(),
        project_id: None,
        billable: false,
        description: "Timer".into(),
        start,
        end: None,
    };
    assert!(sim.add_entry(&ws, entry.clone()));
    assert!(!sim.add_entry(&ws, entry.clone()), "the id is taken");
    assert!(!sim.add_entry(&"e".repeat(24), entry.clone()));
    assert!(sim.edit_entry(&ws, &entry.id, |e| e.end =
        Some(start + chrono::Duration::minutes(50))));
    assert!(sim.edit_entry(&ws, &entry.id, |e| e.description = "Renamed".into()));
    assert!(!sim.edit_entry(&ws, "nope", |e| e.billable = true));
    assert!(sim.delete_entry(&ws, &entry.id));
    assert!(!sim.delete_entry(&ws, &entry.id));

    settled(&sim).await;
    for event in [
        "NEW_TIMER_STARTED",
        "TIMER_STOPPED",
        "TIME_ENTRY_UPDATED",
        "TIME_ENTRY_DELETED",
    ] {
        let got = rx.at(event);
        assert_eq!(got.len(), 1, "{event}");
        assert_eq!(got[0].body["id"], entry.id.as_str());
        assert_eq!(got[0].body["userId"], user.as_str());
        assert_entry_dto(&got[0].body);
    }
    assert_eq!(
        rx.at("TIME_ENTRY_DELETED")[0].body["description"],
        "Renamed"
    );
    assert!(
        rx.at("off").is_empty(),
        "deliveryEnabled false: nothing sent"
    );
}

/// A simulator with a NEW_TIME_ENTRY webhook to a receiver, and a control that adds
/// finished entries `n..n+count`.
async fn delivering() -> (ClockifySim, sims::common::Running, String, Receiver, Value) {
    let (sim, r, ws) = clockify_on(Plan::Pro).await;
    let rx = Receiver::start().await;
    let hook = hook_to(&r, &ws, "NEW_TIME_ENTRY", rx.url("a")).await;
    (sim, r, ws, rx, hook)
}

fn add_finished(sim: &ClockifySim, ws: &str, n: usize) {
    let user = sim.data.read().unwrap().workspaces[0].users[0].id.clone();
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let entry = sims::clockify::SimTimeEntry {
        id: format!("{n:024x}"),
        user_id: user,
        project_id: None,
        billable: false,
        description: format!("Entry {n}"),
        start,
        end: Some(start + chrono::Duration::minutes(30)),
    };
    assert!(sim.add_entry(ws, entry));
}

#[tokio::test]
async fn clockify_lost_deliveries_are_logged_unsent_and_duplicates_arrive_twice() {
    let (sim, _r, ws, rx, _) = delivering().await;
    sim.set_delivery(Delivery {
        loss: 1.0,
        ..Delivery::default()
    });
    add_finished(&sim, &ws, 1);
    settled(&sim).await;
    assert!(rx.got().is_empty());
    let log = sim.deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].status, log[0].sent_at, log[0].duplicate),
        (None, None, false)
    );

    sim.set_delivery(Delivery {
        duplicate: 1.0,
        ..Delivery::default()
    });
    add_finished(&sim, &ws, 2);
    settled(&sim).await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    let log = sim.deliveries();
    let twice: Vec<_> = log
        .iter()
        .filter(|d| d.entry_id == format!("{:024x}", 2))
        .collect();
    assert_eq!(twice.len(), 2);
    assert_eq!(twice.iter().filter(|d| d.duplicate).count(), 1);
    assert!(twice.iter().all(|d| d.status == Some(200)));
}

#[tokio::test]
async fn clockify_delivery_waits_its_delay_and_never_holds_up_the_answer() {
    let (sim, r, ws, rx, _) = delivering().await;
    let delay = std::time::Duration::from_millis(400);
    sim.set_delivery(Delivery {
        delay,
        ..Delivery::default()
    });
    let user = sim.data.read().unwrap().workspaces[0].users[0].id.clone();
    let before = std::time::Instant::now();
    let (status, _) = as_admin(
        Method::POST,
        &user_entries_url(&r, &ws, &user),
        Some(json!({"start": "2025-05-20T08:00:00Z", "end": "2025-05-20T09:00:00Z"})),
    )
    .await;
    let answered = before.elapsed();
    assert_eq!(status, StatusCode::CREATED);
    assert!(answered < delay, "answered after {answered:?}");
    assert_eq!(sim.deliveries_pending(), 1);
    settled(&sim).await;
    let got = rx.got();
    assert_eq!(got.len(), 1);
    let waited = got[0].at - before;
    assert!(
        waited >= delay && waited < delay * 5,
        "delivered after {waited:?}"
    );
    let d = &sim.deliveries()[0];
    assert!(d.sent_at.unwrap() - d.at >= chrono::Duration::milliseconds(400));
}

#[tokio::test]
async fn clockify_delivery_dice_repeat_with_the_seed() {
    let outcome = |seed: u64| async move {
        let (sim, _r, ws, _rx, _) = delivering().await;
        sim.seed_delivery(seed);
        sim.set_delivery(Delivery {
            loss: 0.4,
            duplicate: 0.4,
            ..Delivery::default()
        });
        for n in 0..40 {
            add_finished(&sim, &ws, n);
        }
        settled(&sim).await;
        let mut seen: Vec<(String, bool, bool)> = sim
            .deliveries()
            .into_iter()
            .map(|d| (d.entry_id, d.duplicate, d.status.is_some()))
            .collect();
        seen.sort();
        seen
    };
    let a = outcome(5).await;
    assert_eq!(a, outcome(5).await);
    assert_ne!(a, outcome(6).await);
    assert!(
        a.iter().any(|x| !x.2) && a.iter().any(|x| x.2),
        "some lost, some sent"
    );
    assert!(a.iter().any(|x| x.1), "some doubled");
}

#[tokio::test]
async fn clockify_ten_failed_deliveries_in_a_row_disable_the_webhook() {
    let (sim, _r, ws, rx, hook) = delivering().await;
    rx.status.store(500, std::sync::atomic::Ordering::SeqCst);
    for n in 0..10 {
        add_finished(&sim, &ws, n);
        settled(&sim).await;
    }
    let id = hook["id"].as_str().unwrap();
    let now = sim.webhooks(&ws).into_iter().find(|h| h.id == id).unwrap();
    assert!(!now.delivery_enabled);
    assert!(sim.deliveries().iter().all(|d| d.status == Some(500)));
    add_finished(&sim, &ws, 10);
    settled(&sim).await;
    assert_eq!(rx.got().len(), 10, "none after it was disabled");
    assert_eq!(sim.deliveries().len(), 10);
}

#[tokio::test]
async fn clockify_delivery_is_set_over_the_admin_route() {
    let (sim, r, ws, rx, _) = delivering().await;
    let url = format!("{}__sim/delivery", r.url());
    let put = |body: Value| Client::new().put(&url).json(&body).send();
    let resp = put(json!({"delay_ms": 20, "jitter_ms": 5, "loss": 1.0, "seed": 3}))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let want = Delivery {
        delay: std::time::Duration::from_millis(20),
        jitter: std::time::Duration::from_millis(5),
        loss: 1.0,
        duplicate: 0.0,
    };
    assert_eq!(sim.delivery(), want);
    let shown: Value = Client::new()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!({"delay_ms": 20, "jitter_ms": 5, "loss": 1.0, "duplicate": 0.0})
    );
    for bad in [
        json!({"loss": 1.5}),
        json!({"duplicate": -0.1}),
        json!({"lag": 3}),
        json!({"delay_ms": "soon"}),
    ] {
        assert_eq!(
            put(bad.clone()).await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(sim.delivery(), want, "a refused change changes nothing");
    add_finished(&sim, &ws, 1);
    settled(&sim).await;
    assert!(rx.got().is_empty());
    let log: Value = Client::new()
        .get(format!("{}__sim/deliveries", r.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["pending"], 0);
    assert_eq!(log["deliveries"][0]["event"], "NEW_TIME_ENTRY");
    assert_eq!(log["deliveries"][0]["status"], Value::Null);
}

#[tokio::test]
async fn clockify_report_filters_by_users_and_projects() {
    let spec = GenSpec {
        inactive_users: 2,
        ..GenSpec::default()
    };
    let sim = ClockifySim::new(ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![workspace(&spec)],
    });
    let r = sim.spawn().await.unwrap();
    let w = sim.data.read().unwrap().workspaces[0].clone();
    let url = format!("{}report/v1/workspaces/{}/reports/detailed", r.url(), w.id);
    let report = |extra: Value| {
        let mut body = json!({"dateRangeStart": "2025-04-01T00:00:00Z", "dateRangeEnd": "2025-06-30T00:00:00Z",
                              "detailedFilter": {"page": 1, "pageSize": 1000}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        as_admin(Method::POST, &url, Some(body))
    };
    let users_of = |v: &Value| -> std::collections::BTreeSet<String> {
        v["timeentries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["userId"].as_str().unwrap().to_owned())
            .collect()
    };
    let count = |v: &Value| v["timeentries"].as_array().unwrap().len();
    let (_, all) = report(json!({})).await;
    let (u0, u1) = (w.users[0].id.clone(), w.users[1].id.clone());
    let (status, only) =
        report(json!({"users": {"ids": [u0, u1], "contains": "CONTAINS", "status": "ALL"}})).await;
    assert_eq!(status, StatusCode::OK, "{only}");
    assert_eq!(users_of(&only), [u0.clone(), u1.clone()].into());
    let (_, same) = report(json!({"users": {"ids": [u0, u1], "contains": "CONTAINS_ONLY"}})).await;
    assert_eq!(same, only);
    let (_, rest) =
        report(json!({"users": {"ids": [u0, u1], "contains": "DOES_NOT_CONTAIN"}})).await;
    assert!(!users_of(&rest).contains(&u0) && !users_of(&rest).contains(&u1));
    assert_eq!(count(&rest) + count(&only), count(&all));
    assert_eq!(rest["totals"][0]["entriesCount"], count(&rest));
    let (_, inactive) =
        report(json!({"users": {"ids": [], "contains": "CONTAINS", "status": "INACTIVE"}})).await;
    let gone: std::collections::BTreeSet<String> =
        w.users[8..].iter().map(|u| u.id.clone()).collect();
    assert_eq!(users_of(&inactive), gone);
    let p = w.projects[0].id.clone();
    let (_, on_p) = report(json!({"projects": {"ids": [p], "contains": "CONTAINS"}})).await;
    assert!(
        count(&on_p) > 0
            && on_p["timeentries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["projectId"] == p.as_str())
    );
    let (_, off_p) =
        report(json!({"projects": {"ids": [p], "contains": "DOES_NOT_CONTAIN"}})).await;
    assert_eq!(count(&on_p) + count(&off_p), count(&all));
    for bad in [
        json!({"users": {"ids": [u0], "contains": "MAYBE"}}),
        json!({"users": {"ids": [u0, u0], "contains": "CONTAINS"}}),
        json!({"users": {"ids": "everyone"}}),
        json!({"users": {"ids": [u0], "status": "RETIRED"}}),
        json!({"projects": {"ids": [p], "status": "ACTIVE_WITH_PENDING"}}),
    ] {
        let (status, body) = report(bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
