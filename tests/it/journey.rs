//! The built-in consumer against a real sandbox: the happy path, NO_RELATIONSHIP, the sensitive
//! patient, and failures; plus the web page's journey endpoint and the live journal.

use serde_json::{Value, json};
use spine_sandbox::{JourneyOptions, JourneyOutcome, run_journey};

use crate::support::TestSandbox;

const HAPPY: &str = "9434761018";
const SENSITIVE: &str = "9434761026";
const NO_GP_CONNECT: &str = "9434761085";

fn options(sandbox: &TestSandbox, patient: &str) -> JourneyOptions {
    sandbox.journey_options(patient, "A20047")
}

#[tokio::test]
async fn happy_path_changes_the_registration_and_receives_record_and_documents() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut seen = Vec::new();
    let report = run_journey(&options(&sandbox, HAPPY), |s| seen.push(s.step.clone())).await;
    assert_eq!(report.outcome, JourneyOutcome::Received, "{report:#?}");
    assert_eq!(report.outcome.exit_code(), 0);
    assert_eq!(
        seen.len(),
        report.steps.len(),
        "every step was reported as it ended"
    );
    let names: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    for expected in [
        "PDS trace",
        "PDS registration change",
        "SDS structured endpoint",
        "SDS structured device",
        "Migrate structured record",
        "Migrate document",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let record = report.record.expect("a record summary");
    assert!(record.clinical_areas.get("Problems").copied().unwrap_or(0) >= 1);
    assert_eq!(
        record.lists_with_withheld_items,
        vec!["Problems".to_owned()]
    );
    assert!(record.documents_fetched >= 1);
    assert_eq!(record.documents_fetched, record.documents_referenced);
    assert!(record.document_bytes > 0);

    // PDS now names the new practice, and the hops are in the journal with one trace id.
    let patient: Value = sandbox
        .http
        .get(sandbox.url(&format!("/personal-demographics/FHIR/R4/Patient/{HAPPY}")))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        patient["generalPractitioner"][0]["identifier"]["value"],
        "A20047"
    );
    let migrate = report
        .steps
        .iter()
        .find(|s| s.step == "Migrate structured record")
        .unwrap();
    let trace = migrate.trace_id.clone().unwrap();
    let journal = sandbox.journal().await;
    let services: Vec<&str> = journal
        .iter()
        .filter(|e| e["trace_id"] == trace.as_str())
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        vec!["ssp", "provider"],
        "in arrival order: the SSP hop before the provider hop it caused"
    );
}

#[tokio::test]
async fn skipping_the_registration_change_is_refused_with_no_relationship() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut opts = options(&sandbox, HAPPY);
    opts.skip_registration_change = true;
    let report = run_journey(&opts, |_| {}).await;
    match &report.outcome {
        JourneyOutcome::Refused { spine_code, reason } => {
            assert_eq!(spine_code, "NO_RELATIONSHIP");
            assert!(
                reason.contains("A20047") && reason.contains("B82617"),
                "{reason}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(report.outcome.exit_code(), 2);
    let last = report.steps.last().unwrap();
    assert_eq!(last.step, "Migrate structured record");
    assert_eq!(last.status, Some(403));
    assert!(
        last.outcome.starts_with("403 NO_RELATIONSHIP: "),
        "{}",
        last.outcome
    );
}

#[tokio::test]
async fn sensitive_information_is_withheld_unless_asked_for() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut opts = options(&sandbox, HAPPY);
    opts.sensitive = true;
    let report = run_journey(&opts, |_| {}).await;
    assert_eq!(report.outcome, JourneyOutcome::Received, "{report:#?}");
    assert!(report.record.unwrap().lists_with_withheld_items.is_empty());
}

#[tokio::test]
async fn a_restricted_patient_cannot_be_moved() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    // PDS hides a restricted patient's practice: without --from the journey cannot go on.
    let report = run_journey(&options(&sandbox, SENSITIVE), |_| {}).await;
    match &report.outcome {
        JourneyOutcome::Failed { reason } => assert!(reason.contains("--from"), "{reason}"),
        other => panic!("expected a failure naming --from, got {other:?}"),
    }
    // Naming the practice: PDS refuses the update of a restricted record.
    let mut opts = options(&sandbox, SENSITIVE);
    opts.from = Some("B82617".into());
    let report = run_journey(&opts, |_| {}).await;
    assert!(
        matches!(&report.outcome, JourneyOutcome::Refused { spine_code, .. } if spine_code == "FORBIDDEN_UPDATE"),
        "{:?}",
        report.outcome
    );
    // Straight to migrate: the provider does not disclose a sensitive patient.
    opts.skip_registration_change = true;
    let report = run_journey(&opts, |_| {}).await;
    assert!(
        matches!(&report.outcome, JourneyOutcome::Refused { spine_code, .. } if spine_code == "PATIENT_NOT_FOUND"),
        "{:?}",
        report.outcome
    );
    // The skipped change says what PDS showed: no practice, not "the old practice".
    let skipped = report
        .steps
        .iter()
        .find(|s| s.step == "PDS registration change")
        .unwrap();
    assert!(
        skipped.outcome.contains("PDS names no practice"),
        "{}",
        skipped.outcome
    );
}

#[tokio::test]
async fn a_practice_without_gp_connect_has_no_endpoint() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let report = run_journey(&options(&sandbox, NO_GP_CONNECT), |_| {}).await;
    match &report.outcome {
        JourneyOutcome::Refused { spine_code, reason } => {
            assert_eq!(spine_code, "NO_RECORD_FOUND");
            assert!(reason.contains("C81616"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_ssp_is_a_failure_not_a_refusal() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut opts = options(&sandbox, HAPPY);
    opts.ssp_url = "https://127.0.0.1:9".into();
    let report = run_journey(&opts, |_| {}).await;
    match &report.outcome {
        JourneyOutcome::Failed { reason } => assert!(reason.contains("127.0.0.1:9"), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(report.outcome.exit_code(), 1);
}

#[tokio::test]
async fn the_page_runs_the_same_journey_through_the_admin_api() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let post = |body: Value| {
        sandbox
            .http
            .post(sandbox.url("/_admin/journey"))
            .json(&body)
            .send()
    };
    let refused: Value =
        post(json!({ "patient": HAPPY, "as": "A20047", "skip_registration_change": true }))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(refused["result"], "refused");
    assert_eq!(refused["spine_code"], "NO_RELATIONSHIP");
    let received: Value = post(json!({ "patient": HAPPY, "as": "A20047" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(received["result"], "received", "{received:#}");
    assert!(received["record"]["documents_fetched"].as_u64().unwrap() >= 1);
    let bad = post(json!({ "patient": HAPPY, "ass": "A20047" }))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let outcome: Value = bad.json().await.unwrap();
    assert!(crate::support::diagnostics(&outcome).contains("ass"));
}

#[tokio::test]
async fn the_journal_streams_entries_as_server_sent_events() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let _ = sandbox.get("/spine-directory/FHIR/R4/Device").await;
    let mut stream = sandbox
        .http
        .get(sandbox.url("/_admin/journal"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    let read = async {
        // The backlog entry, then a live one.
        let _ = sandbox
            .get("/personal-demographics/FHIR/R4/Patient/9000000000")
            .await;
        while let Some(chunk) = stream.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.matches("event: entry").count() >= 2 {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("two entries within 10 s");
    assert!(text.contains("id: 1\n"), "{text}");
    assert!(text.contains("\"service\":\"sds\""), "{text}");
    assert!(text.contains("\"service\":\"pds\""), "{text}");
}

#[tokio::test]
async fn the_page_is_served_with_its_style_sheet_and_scripts() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let page = sandbox.http.get(sandbox.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for (asset, kind) in [
        ("/_admin/assets/page.css", "text/css"),
        ("/_admin/assets/page.js", "text/javascript"),
        ("/_admin/assets/record.js", "text/javascript"),
    ] {
        assert!(html.contains(asset), "the page links {asset}");
        let resp = sandbox.http.get(sandbox.url(asset)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert_eq!(resp.headers()["content-type"], kind, "{asset}");
    }
}

#[tokio::test]
async fn the_scenario_summary_keeps_where_the_scenario_registers_a_patient() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let moved: Value = sandbox
        .http
        .post(sandbox.url("/_admin/journey"))
        .json(&json!({ "patient": HAPPY, "as": "A20047" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["result"], "received", "{moved:#}");
    let summary: Value = sandbox
        .http
        .get(sandbox.url("/_admin/scenario"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let patient = summary["patients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["nhs_number"] == HAPPY)
        .unwrap();
    // PDS now names the new practice; a reset would restore the scenario's.
    assert_eq!(patient["registered_with"], "A20047");
    assert_eq!(patient["scenario_registered_with"], "B82617");
}
