//! Health, reset and the journal, through the plain-HTTP listener.

use crate::support::TestSandbox;

#[tokio::test]
async fn healthz_answers_200_once_listening() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let resp = sandbox.get("/healthz").await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn reset_answers_204_and_empties_the_journal() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let _ = sandbox
        .get("/personal-demographics/FHIR/R4/Patient/9690937286")
        .await;
    assert!(!sandbox.journal().await.is_empty());
    assert_eq!(sandbox.reset().await, 204);
    assert!(sandbox.journal().await.is_empty());
}

#[tokio::test]
async fn journal_rejects_a_bad_since_naming_it() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let resp = sandbox.get("/_admin/journal?since=abc").await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(crate::support::diagnostics(&body).contains("since"));
}

#[tokio::test]
async fn unknown_path_is_a_404_operation_outcome() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let resp = sandbox.get("/nowhere").await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn oversized_body_is_413_with_an_operation_outcome() {
    let sandbox = TestSandbox::start_with(
        "scenarios/default.yaml",
        spine_sandbox::Clock::system(),
        |c| c.max_body_bytes = 1000,
    )
    .await;
    let resp =
        sandbox
            .http
            .post(sandbox.url(
                "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
            ))
            .body(vec![b'x'; 5000])
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert!(crate::support::diagnostics(&body).contains("1000-byte"));
}

#[tokio::test]
async fn the_browsers_favicon_request_is_not_journalled_as_a_provider_hop() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let resp = sandbox.get("/favicon.ico").await;
    assert_eq!(resp.status(), 204);
    assert!(sandbox.journal().await.is_empty());
}
