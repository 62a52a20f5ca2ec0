//! The paths routed, and the order things are said in: the body's size, then the
//! signature, then the path's ids, then the method, then a replay.

use super::*;

fn signed(method: &str, path: &str, body: &str) -> String {
    let secret = SecretString::from(SECRET);
    shared::signature::sign(&secret, now(), method, path, body.as_bytes())
}

#[tokio::test]
async fn the_signature_comes_before_the_path_the_ids_before_the_method() {
    let h = harness().await;
    h.connect().await;
    for (method, path) in [
        ("GET", "/admin"),
        ("GET", "/accounts/a%23b/status"),
        ("POST", "/accounts/acme/status"),
        ("GET", "/accounts/acme/previews"),
    ] {
        let reply = raw(&h.api, method, path, None, b"").await;
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
    }
    for (method, path, status, field) in [
        ("GET", "/accounts//status", 400, Some("accountId")),
        ("POST", "/accounts/a%23b/status", 400, Some("accountId")),
        ("GET", "/accounts/a%23b/integration", 400, Some("accountId")),
        ("POST", "/accounts/acme/runs/..%2f..", 400, Some("runId")),
        ("POST", "/accounts/a%23b/runs/..%2f..", 400, Some("runId")),
        ("GET", "/accounts/acme/runs/", 404, None),
        ("GET", "/accounts/acme//status", 404, None),
        ("GET", "/accounts/acme/status/x", 404, None),
        ("DELETE", "/accounts/acme/previews", 405, None),
    ] {
        let reply = call(&h.api, method, path, "").await;
        let (_, f, message) = error_of(&reply);
        assert_eq!(
            (reply.status, f),
            (status, field),
            "{method} {path}: {message}"
        );
    }
    let wrong = call(&h.api, "PATCH", "/accounts/acme/integration", "").await;
    let message = error_of(&wrong).2;
    assert_eq!(message, "PATCH is not allowed here; use PUT or DELETE");
    let unknown = call(&h.api, "GET", "/accounts/acme", "").await;
    assert_eq!(error_of(&unknown).2, "no such resource: /accounts/acme");
}

#[tokio::test]
async fn a_trailing_slash_a_query_and_an_escaped_colon_are_routed_as_before() {
    let h = harness().await;
    h.connect().await;
    let path = "/accounts/acme/status/";
    let reply = respond(&h.api, "GET", path, Some(&signed("GET", path, "")), b"").await;
    assert_eq!((reply.status, &reply.body["id"]), (200, &json!("acme")));
    // The query is signed with the path.
    let path = "/accounts/acme/status?verbose=1";
    let reply = raw(&h.api, "GET", path, Some(&signed("GET", path, "")), b"").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let unsigned_query = signed("GET", "/accounts/acme/status", "");
    let reply = raw(&h.api, "GET", path, Some(&unsigned_query), b"").await;
    assert_eq!(reply.status, 401);
    let reply = call(
        &h.api,
        "GET",
        "/accounts/acme/runs/daily-2026-11-28T02%3A00Z",
        "",
    )
    .await;
    assert_eq!(
        (reply.status, error_of(&reply).2),
        (404, "account acme has no run daily-2026-11-28T02:00Z")
    );
}

#[tokio::test]
async fn a_method_a_resource_has_not_is_refused_after_its_replay_and_head_is_none() {
    let h = harness().await;
    h.connect().await;
    let path = "/accounts/acme/status";
    let header = signed("POST", path, "{}");
    let reply = raw(&h.api, "POST", path, Some(&header), b"{}").await;
    assert_eq!(
        (reply.status, error_of(&reply).0),
        (405, "method_not_allowed")
    );
    // (As before the router: a 409 the contract has no word for on a method not there.)
    let again = respond(&h.api, "POST", path, Some(&header), b"{}").await;
    assert_eq!((again.status, error_of(&again).0), (409, "replayed"));
    let request = axum::http::Request::builder()
        .method("HEAD")
        .uri(path)
        .header(shared::signature::HEADER, signed("HEAD", path, ""))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router(Arc::new(h.api.clone()))
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}
