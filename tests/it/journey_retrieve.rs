//! The built-in consumer playing a direct-care retrieve (`journey --operation retrieve`): trace,
//! SDS for the retrieve interaction, `$gpc.getstructuredrecord` through SSP with the chosen areas
//! and filters; the provider's warnings and refusals as the consumer sees them; the same through
//! the page's journey endpoint and the real binary.

use serde_json::{Value, json};
use spine_sandbox::interactions;
use spine_sandbox::{Area, JourneyOptions, JourneyOutcome, Operation, run_journey};

use crate::support::TestSandbox;

const HAPPY: &str = "9434761018";
const NO_GP_CONNECT: &str = "9434761085";

fn retrieve(
    sandbox: &TestSandbox,
    patient: &str,
    include: &[Area],
    parts: &[&str],
) -> JourneyOptions {
    let mut o = sandbox.journey_options(patient, "A20047");
    o.operation = Operation::Retrieve;
    o.retrieve.include = include.to_vec();
    o.retrieve.parts = parts.iter().map(|s| (*s).to_owned()).collect();
    o
}

#[tokio::test]
async fn a_retrieve_reads_the_chosen_areas_and_leaves_the_registration() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let opts = retrieve(
        &sandbox,
        HAPPY,
        &[Area::Allergies, Area::Medication],
        &["includeMedication.includePrescriptionIssues=false"],
    );
    let report = run_journey(&opts, |_| {}).await;
    assert_eq!(report.outcome, JourneyOutcome::Received, "{report:#?}");
    let names: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "SDS own device",
            "Client certificate",
            "PDS trace",
            "SDS structured endpoint",
            "SDS structured device",
            "Retrieve structured record",
        ]
    );
    let record = report.record.clone().expect("a record summary");
    assert_eq!(
        record.areas_requested,
        vec!["includeAllergies", "includeMedication"]
    );
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    let areas: Vec<&str> = record.clinical_areas.keys().map(String::as_str).collect();
    assert_eq!(
        areas,
        vec![
            "Allergies and adverse reactions",
            "Medications and medical devices"
        ],
        "a primary List for each area asked for, and no other"
    );
    assert_eq!(record.documents_fetched, 0);
    let text = report.summary_text();
    assert!(
        text.contains("Areas asked for: includeAllergies, includeMedication"),
        "{text}"
    );

    // Direct care does not move the patient: PDS still names the old practice.
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
        "B82617"
    );
    // Both hops carry the retrieve interaction, and the page keeps the record with its areas.
    let step = report.steps.last().unwrap();
    let trace = step.trace_id.clone().unwrap();
    let journal = sandbox.journal().await;
    let hops: Vec<(&str, &str)> = journal
        .iter()
        .filter(|e| e["trace_id"] == trace.as_str())
        .map(|e| {
            (
                e["service"].as_str().unwrap(),
                e["interaction"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        hops,
        vec![
            ("ssp", interactions::GET_STRUCTURED),
            ("provider", interactions::GET_STRUCTURED)
        ]
    );
    let kept: Value = sandbox.get("/_admin/records").await.json().await.unwrap();
    assert_eq!(
        kept[0]["areas"],
        json!(["includeAllergies", "includeMedication"])
    );
    assert_eq!(kept[0]["patient"], HAPPY);
}

#[tokio::test]
async fn unknown_parts_come_back_as_provider_warnings() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let opts = retrieve(
        &sandbox,
        HAPPY,
        &[],
        &[
            "includeProblems.filterStatus=active",
            "includeProblems.madeUp=yes",
        ],
    );
    let report = run_journey(&opts, |_| {}).await;
    assert_eq!(report.outcome, JourneyOutcome::Received, "{report:#?}");
    let record = report.record.unwrap();
    assert_eq!(record.areas_requested, vec!["includeProblems"]);
    assert_eq!(
        record.warnings,
        vec!["includeProblems.madeUp is an unrecognised parameter"]
    );
    assert!(
        report
            .steps
            .last()
            .unwrap()
            .outcome
            .contains("1 provider warning"),
        "{:?}",
        report.steps.last()
    );
}

#[tokio::test]
async fn the_providers_refusal_ends_the_journey_with_its_code() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let opts = retrieve(
        &sandbox,
        HAPPY,
        &[Area::Consultations],
        &["includeProblems.filterStatus=active"],
    );
    let report = run_journey(&opts, |_| {}).await;
    match &report.outcome {
        JourneyOutcome::Refused { spine_code, reason } => {
            assert_eq!(spine_code, "INVALID_PARAMETER");
            assert!(reason.contains("includeProblems.filterStatus"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(report.outcome.exit_code(), 2);
    let last = report.steps.last().unwrap();
    assert_eq!(last.step, "Retrieve structured record");
    assert_eq!(last.status, Some(422));

    // A practice without GP Connect has no retrieve endpoint in SDS.
    let report = run_journey(
        &retrieve(&sandbox, NO_GP_CONNECT, &[Area::Allergies], &[]),
        |_| {},
    )
    .await;
    assert!(
        matches!(&report.outcome, JourneyOutcome::Refused { spine_code, reason } if spine_code == "NO_RECORD_FOUND" && reason.contains("getstructuredrecord")),
        "{:?}",
        report.outcome
    );
}

#[tokio::test]
async fn a_malformed_choice_fails_before_anything_is_sent() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    for (opts, says) in [
        (retrieve(&sandbox, HAPPY, &[], &[]), "--include"),
        (
            retrieve(&sandbox, HAPPY, &[], &["includeProblems.filterStatus"]),
            "has no value",
        ),
        (
            {
                let mut o = retrieve(&sandbox, HAPPY, &[Area::Allergies], &[]);
                o.sensitive = true;
                o
            },
            "migrate only",
        ),
    ] {
        let report = run_journey(&opts, |_| {}).await;
        match &report.outcome {
            JourneyOutcome::Failed { reason } => assert!(reason.contains(says), "{reason}"),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(report.steps.is_empty(), "{:?}", report.steps);
        assert_eq!(report.outcome.exit_code(), 1);
    }
}

#[tokio::test]
async fn the_page_asks_for_a_retrieve_through_the_admin_api() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let report: Value = sandbox
        .http
        .post(sandbox.url("/_admin/journey"))
        .json(&json!({
            "patient": HAPPY, "as": "A20047", "operation": "retrieve",
            "retrieve": { "include": ["problems", "immunisations"], "parts": [] },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["result"], "received", "{report:#}");
    assert_eq!(
        report["record"]["areas_requested"],
        json!(["includeProblems", "includeImmunisations"])
    );
    assert!(
        report["record"]["clinical_areas"]["Problems"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_plays_a_retrieve_and_prints_what_was_asked() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let args: Vec<String> = [
        "journey",
        "--patient",
        HAPPY,
        "--as",
        "A20047",
        "--sandbox",
        &sandbox.base,
        "--ssp",
        &sandbox.ssp_base,
        "--operation",
        "retrieve",
        "--include",
        "allergies,referrals",
        "--filter",
        "includeReferrals.referralSearchPeriod=2000-01-01..",
        "--filter",
        "includeAllergies.includeResolvedAllergies=true",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let certs = sandbox.certs_dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::binary::command()
            .args(&args)
            .arg("--certs-dir")
            .arg(&certs)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Retrieve structured record"), "{stdout}");
    assert!(
        stdout.contains("Areas asked for: includeAllergies, includeReferrals"),
        "{stdout}"
    );
    assert!(stdout.contains("Ended allergies"), "{stdout}");
    assert!(!stdout.contains("PDS registration change"), "{stdout}");
}

/// The consumer's graded journeys, oldest first.
async fn graded(sandbox: &TestSandbox) -> Vec<Value> {
    let r: Value = sandbox
        .get("/_admin/conformance?ods=A20047")
        .await
        .json()
        .await
        .unwrap();
    r["consumers"][0]["journeys"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn status<'a>(journey: &'a Value, id: &str) -> &'a str {
    journey["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"] == id)
        .and_then(|c| c["status"].as_str())
        .unwrap_or("absent")
}

#[tokio::test]
async fn retrieve_journeys_are_graded_with_the_checks_that_apply() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    // A clean read, one with a part the provider does not know, one it refuses.
    for parts in [
        &["includeAllergies.includeResolvedAllergies=true"][..],
        &["includeProblems.madeUp=yes"][..],
        &[
            "includeConsultations.includeNumberOfMostRecent=2",
            "includeProblems.filterStatus=active",
        ][..],
    ] {
        run_journey(&retrieve(&sandbox, HAPPY, &[], parts), |_| {}).await;
    }
    let journeys = graded(&sandbox).await;
    assert_eq!(
        journeys.len(),
        3,
        "each trace after a retrieve starts a journey"
    );
    let clean = &journeys[0];
    for id in [
        "retrieve.traced-first",
        "retrieve.endpoint",
        "retrieve.parameters",
        "sds.device-asid",
        "ssp.via-proxy",
        "ssp.headers",
        "ssp.fresh-trace-id",
        "ssp.target-from-sds",
        "jwt.claims",
        "jwt.requesting-identity",
    ] {
        assert_eq!(status(clean, id), "pass", "{id}: {clean:#}");
    }
    for id in [
        "migrate.parameters",
        "migrate.after-registration",
        "sds.endpoint-migrate",
        "documents.all-fetched",
        "jwt.reason-migration",
    ] {
        assert_eq!(status(clean, id), "not_reached", "{id}");
    }
    assert_eq!(clean["verdict"], "pass", "{clean:#}");
    assert!(
        clean["record_sequence"].as_u64().is_some(),
        "the part read is kept"
    );

    assert_eq!(status(&journeys[1], "retrieve.parameters"), "warning");
    assert_eq!(journeys[1]["verdict"], "warning");
    assert_eq!(status(&journeys[2], "retrieve.parameters"), "fail");
    assert_eq!(journeys[2]["verdict"], "fail");
}
