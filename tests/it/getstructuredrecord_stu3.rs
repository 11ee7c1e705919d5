//! Every `$gpc.getstructuredrecord` Bundle of every shipped scenario, for a spread of parameter
//! combinations: whole (references resolve, nothing twice), each resource (contained ones too)
//! claiming its GP Connect / CareConnect profile, and valid FHIR STU3 by
//! `tests/fhir/validate_stu3.py` when `SANDBOX_FHIR_VALIDATOR` names a Python with
//! `fhir.resources` (as the migrate Bundles are in `provider_suite`).

use serde_json::{Value, json};
use spine_sandbox::profiles;

use crate::getstructuredrecord::{area, assert_whole, resolved_allergies, retrieve};
use crate::support::*;

/// The profile each resource type claims in a structured record.
fn profile_of(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "Patient" => profiles::PATIENT,
        "Organization" => profiles::ORGANIZATION,
        "Practitioner" => profiles::PRACTITIONER,
        "PractitionerRole" => profiles::PRACTITIONER_ROLE,
        "Location" => profiles::LOCATION,
        "List" => profiles::LIST,
        "MedicationStatement" => profiles::MEDICATION_STATEMENT,
        "MedicationRequest" => profiles::MEDICATION_REQUEST,
        "Medication" => profiles::MEDICATION,
        "AllergyIntolerance" => profiles::ALLERGY_INTOLERANCE,
        "Encounter" => profiles::ENCOUNTER,
        "Observation" => profiles::OBSERVATION,
        "Condition" => profiles::PROBLEM_HEADER,
        "Immunization" => profiles::IMMUNIZATION,
        "DiagnosticReport" => profiles::DIAGNOSTIC_REPORT,
        "ProcedureRequest" => profiles::PROCEDURE_REQUEST,
        "Specimen" => profiles::SPECIMEN,
        "ReferralRequest" => profiles::REFERRAL_REQUEST,
        "DocumentReference" => profiles::DOCUMENT_REFERENCE,
        "HealthcareService" => profiles::HEALTHCARE_SERVICE,
        "OperationOutcome" => profiles::OPERATION_OUTCOME,
        _ => return None,
    })
}

fn assert_profiles(bundle: &Value, at: &str) {
    assert_eq!(
        bundle["meta"]["profile"],
        json!([profiles::BUNDLE]),
        "{at}: Bundle profile"
    );
    let mut all: Vec<&Value> = resources(bundle);
    let contained: Vec<&Value> = all
        .iter()
        .flat_map(|r| r["contained"].as_array().into_iter().flatten())
        .collect();
    all.extend(contained);
    for r in all {
        let kind = r["resourceType"].as_str().unwrap_or("?");
        let want = profile_of(kind).unwrap_or_else(|| panic!("{at}: unexpected {kind}"));
        assert_eq!(
            r["meta"]["profile"][0], want,
            "{at}: {kind}/{} claims {}",
            r["id"], r["meta"]["profile"]
        );
    }
}

/// A spread of combinations: each area alone with and without its filters, the predefined
/// multi-area searches, and an unrecognised parameter (so an OperationOutcome is validated).
fn combinations() -> Vec<Vec<Value>> {
    let period = |param: &str, part: &str, start: &str, end: &str| {
        area(
            param,
            json!([{"name": part, "valuePeriod": {"start": start, "end": end}}]),
        )
    };
    vec![
        vec![resolved_allergies(false)],
        vec![resolved_allergies(true)],
        vec![json!({"name": "includeMedication"})],
        vec![area(
            "includeMedication",
            json!([{"name": "includePrescriptionIssues", "valueBoolean": false}, {"name": "medicationSearchFromDate", "valueDate": "2020-01-01"}]),
        )],
        vec![json!({"name": "includeConsultations"})],
        vec![area(
            "includeConsultations",
            json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 1}]),
        )],
        vec![period(
            "includeConsultations",
            "consultationSearchPeriod",
            "2015-01-01",
            "2025-12-31",
        )],
        vec![json!({"name": "includeProblems"})],
        vec![area(
            "includeProblems",
            json!([{"name": "filterStatus", "valueCode": "active"}]),
        )],
        vec![area(
            "includeProblems",
            json!([{"name": "filterSignificance", "valueCode": "major"}]),
        )],
        vec![json!({"name": "includeImmunisations"})],
        vec![period(
            "includeUncategorisedData",
            "uncategorisedDataSearchPeriod",
            "2000-01-01",
            "2025-12-31",
        )],
        vec![json!({"name": "includeInvestigations"})],
        vec![period(
            "includeReferrals",
            "referralSearchPeriod",
            "2000-01-01",
            "2025-12-31",
        )],
        vec![json!({"name": "includeDiaryEntries"})],
        vec![
            area(
                "includeConsultations",
                json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 3}]),
            ),
            json!({"name": "includeProblems"}),
            resolved_allergies(true),
            area(
                "includeMedication",
                json!([{"name": "medicationSearchFromDate", "valueDate": "2024-06-01"}]),
            ),
            json!({"name": "includeImmunisations"}),
            json!({"name": "includeUncategorisedData"}),
        ],
        vec![
            json!({"name": "includeReferrals"}),
            json!({"name": "includeMadeUp", "part": [{"name": "x", "valueString": "y"}]}),
        ],
    ]
}

#[tokio::test]
async fn every_retrieve_bundle_of_every_shipped_scenario_is_valid_stu3_with_its_profiles() {
    let mut scenarios: Vec<_> = std::fs::read_dir(repo_path("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    scenarios.sort();
    let dir = temp_dir("stu3-retrieve");
    let mut files = Vec::new();
    let combinations = combinations();
    let mut outcomes = 0;
    for path in scenarios {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let s = TestSandbox::start(&format!("scenarios/{name}.yaml")).await;
        let world = &s.running.shared.world;
        let mut answered = 0;
        for p in &world.patients {
            let Some(practice) = world.practice(p.record_at.as_str()) else {
                continue;
            };
            let nhs = p.nhs_number.as_str();
            for (n, params) in combinations.iter().enumerate() {
                let mut call =
                    retrieve(nhs, params.clone()).header("Ssp-To", practice.asid.as_str());
                call.ods = practice.ods.as_str().to_owned();
                let (status, bundle) = call.send(&s).await;
                if status != 200 {
                    assert_eq!(bundle["resourceType"], "OperationOutcome", "{bundle:#}");
                    continue;
                }
                answered += 1;
                let at = format!("{name} {nhs} combination {n}");
                assert_whole(&bundle, call.trace_id());
                assert_profiles(&bundle, &at);
                outcomes += of_type(&bundle, "OperationOutcome").len();
                let file = dir.join(format!("{name}-{nhs}-{n}.json"));
                std::fs::write(&file, serde_json::to_vec(&bundle).unwrap()).unwrap();
                files.push(file);
            }
        }
        // A world whose practices are not GP Connect providers (pds-sandbox) answers none.
        if world.practices.iter().any(|p| p.provider) {
            assert!(answered > 0, "{name}: no retrieve answered");
        }
    }
    assert!(outcomes > 0, "an OperationOutcome entry was validated too");

    let Ok(python) = std::env::var("SANDBOX_FHIR_VALIDATOR") else {
        println!(
            "STU3 validation skipped: set SANDBOX_FHIR_VALIDATOR to a python with fhir.resources ({} Bundles in {})",
            files.len(),
            dir.display()
        );
        return;
    };
    let out = std::process::Command::new(&python)
        .arg(repo_path("tests/fhir/validate_stu3.py"))
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{} Bundles: {stdout}", files.len());
    assert!(
        out.status.success(),
        "STU3 validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
