//! `$gpc.migratestructuredrecord` against the default scenario, direct to the provider: one test
//! per row of the error table (`docs/migrate.md`), the header and routing rules,
//! and the Bundle rules of the README ("The GP Connect provider in detail").

use serde_json::json;

use crate::support::*;

const DEFAULT: &str = "scenarios/default.yaml";

async fn sandbox() -> TestSandbox {
    TestSandbox::start(DEFAULT).await
}

// ---- Error table, `docs/migrate.md` (one test per row) ----

#[tokio::test]
async fn row_01_parameters_that_do_not_conform_are_invalid_resource() {
    let s = sandbox().await;
    let call = ProviderCall::migrate(PATIENT2, false).parameters(json!({
        "resourceType": "Parameters", "parameter": { "name": "patientNHSNumber" } }));
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 422, "INVALID_RESOURCE");
    assert!(diagnostics(&body).contains("Parameters.parameter"));
}

#[tokio::test]
async fn row_02_a_body_that_is_not_parameters_is_invalid_resource() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .raw_body(b"<Parameters/>")
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_RESOURCE");
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .parameters(json!({ "resourceType": "Patient" }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_RESOURCE");
    assert!(diagnostics(&body).contains("Patient"));
}

#[tokio::test]
async fn row_03_no_recognised_parameters_is_invalid_parameter() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .parameters(json!({ "resourceType": "Parameters", "parameter": [] }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_PARAMETER");
    assert!(diagnostics(&body).contains("patientNHSNumber"));
}

#[tokio::test]
async fn row_04_missing_nhs_number_is_invalid_parameter() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .parameters(json!({ "resourceType": "Parameters", "parameter": [
            { "name": "includeFullRecord", "part": [
                { "name": "includeSensitiveInformation", "valueBoolean": false } ] } ] }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_PARAMETER");
    assert!(diagnostics(&body).contains("patientNHSNumber is missing"));
}

#[tokio::test]
async fn row_05_an_invalid_nhs_number_is_400_invalid_nhs_number() {
    let s = sandbox().await;
    for bad in ["9000000000", "969093728", "96909372AB"] {
        let (status, body) = ProviderCall::migrate(bad, false).send(&s).await;
        assert_outcome(status, &body, 400, "INVALID_NHS_NUMBER");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["display"],
            "Invalid NHS number"
        );
        assert!(diagnostics(&body).contains(bad));
    }
}

#[tokio::test]
async fn row_06_a_part_without_value_is_invalid_parameter() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .parameters(json!({ "resourceType": "Parameters", "parameter": [
            { "name": "patientNHSNumber",
              "valueIdentifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": PATIENT2 } },
            { "name": "includeFullRecord", "part": [ { "name": "includeSensitiveInformation" } ] } ] }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_PARAMETER");
    assert!(diagnostics(&body).contains("includeFullRecord.includeSensitiveInformation"));
}

#[tokio::test]
async fn row_07_an_unrecognised_parameter_is_invalid_parameter() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .extra_parameter(json!({ "name": "includeAllergies", "part": [
            { "name": "includeResolvedAllergies", "valueBoolean": true } ] }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_PARAMETER");
    assert!(diagnostics(&body).contains("includeAllergies"));
}

#[tokio::test]
async fn row_08_conf_n_with_sensitive_information_is_conflicting_values() {
    let s = sandbox().await;
    for scope in ["patient/*.read conf/N", "patient/*.read"] {
        let (status, body) = ProviderCall::migrate(PATIENT2, true)
            .claim("requested_scope", json!(scope))
            .send(&s)
            .await;
        assert_outcome(status, &body, 400, "CONFLICTING_VALUES");
        assert!(diagnostics(&body).contains("includeSensitiveInformation"));
    }
}

#[tokio::test]
async fn row_09_conf_r_without_sensitive_information_is_400() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .claim("requested_scope", json!("patient/*.read conf/R"))
        .send(&s)
        .await;
    assert_outcome(status, &body, 400, "CONFLICTING_VALUES");
    assert!(diagnostics(&body).contains("conf/R"));
}

#[tokio::test]
async fn row_10_an_unknown_patient_is_patient_not_found() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(NOT_IN_SYSTEM, false).send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Patient not found"
    );
}

/// A request from the practice PDS holds for the patient (B82617 patients of the default world).
fn from_b82617(nhs: &str) -> ProviderCall {
    from_b82617_sensitive(nhs, false)
}

fn from_b82617_sensitive(nhs: &str, sensitive: bool) -> ProviderCall {
    ProviderCall::migrate(nhs, sensitive).claim(
        "requesting_organization",
        json!({ "resourceType": "Organization", "name": "Old Street Surgery",
                "identifier": [{ "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "B82617" }] }),
    )
}

#[tokio::test]
async fn row_11_an_unverified_nhs_number_is_patient_not_found() {
    let s = sandbox().await;
    let (status, body) = from_b82617("9434761042").send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
    assert!(diagnostics(&body).contains("verification status"));
}

#[tokio::test]
async fn row_12_a_sensitive_patient_is_patient_not_found() {
    let s = sandbox().await;
    let (status, body) = from_b82617("9434761026").send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
    assert!(diagnostics(&body).contains("sensitive"));
}

#[tokio::test]
async fn row_13_a_deceased_patient_is_patient_not_found() {
    let s = sandbox().await;
    let (status, body) = from_b82617("9434761034").send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
    assert!(diagnostics(&body).contains("deceased"));
}

#[tokio::test]
async fn row_14_dissent_is_no_patient_consent() {
    let s = sandbox().await;
    let (status, body) = from_b82617("9434761050").send(&s).await;
    assert_outcome(status, &body, 403, "NO_PATIENT_CONSENT");
}

#[tokio::test]
async fn row_15_requesting_ods_not_registered_on_pds_is_no_relationship() {
    let s = sandbox().await;
    // 9434761018 is registered at B82617 on PDS; the suite's GPCA0001 asks.
    let (status, body) = ProviderCall::migrate("9434761018", false).send(&s).await;
    assert_outcome(status, &body, 403, "NO_RELATIONSHIP");
    let d = diagnostics(&body);
    assert!(d.contains("GPCA0001") && d.contains("B82617"), "{d}");
}

#[tokio::test]
async fn row_16_reason_for_request_missing_or_not_migration_is_bad_request() {
    let s = sandbox().await;
    for call in [
        ProviderCall::migrate(PATIENT2, false).without_claim("reason_for_request"),
        ProviderCall::migrate(PATIENT2, false).claim("reason_for_request", json!("badReason")),
        ProviderCall::migrate(PATIENT2, false).claim("reason_for_request", json!("directcare")),
    ] {
        let (status, body) = call.send(&s).await;
        assert_outcome(status, &body, 400, "BAD_REQUEST");
        assert!(diagnostics(&body).contains("reason_for_request"));
    }
}

#[tokio::test]
async fn row_17_requested_scope_missing_is_bad_request() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .without_claim("requested_scope")
        .send(&s)
        .await;
    assert_outcome(status, &body, 400, "BAD_REQUEST");
    assert!(diagnostics(&body).contains("requested_scope"));
}

#[tokio::test]
async fn row_18_other_jwt_header_and_verb_problems() {
    let s = sandbox().await;
    let cases = [
        (
            ProviderCall::migrate(PATIENT2, false).without_header("Ssp-TraceID"),
            400,
            "BAD_REQUEST",
            "Ssp-TraceID",
        ),
        (
            ProviderCall::migrate(PATIENT2, false).without_header("Authorization"),
            400,
            "BAD_REQUEST",
            "Authorization",
        ),
        (
            ProviderCall::migrate(PATIENT2, false).header(
                "Ssp-InteractionID",
                "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1",
            ),
            400,
            "BAD_REQUEST",
            "Ssp-InteractionID",
        ),
        (
            ProviderCall::migrate(PATIENT2, false).without_claim("iss"),
            400,
            "BAD_REQUEST",
            "iss",
        ),
        (
            ProviderCall::migrate(PATIENT2, false).without_claim("aud"),
            400,
            "BAD_REQUEST",
            "aud",
        ),
        (
            ProviderCall::migrate(PATIENT2, false)
                .claim("requesting_device", json!({"resourceType": "Patient"})),
            422,
            "INVALID_RESOURCE",
            "requesting_device",
        ),
        (
            ProviderCall::migrate(PATIENT2, false).header("Content-Type", "application/fhir+xml"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type",
        ),
    ];
    for (call, status_expected, code, needle) in cases {
        let (status, body) = call.send(&s).await;
        assert_outcome(status, &body, status_expected, code);
        assert!(diagnostics(&body).contains(needle), "{needle}: {body}");
    }
    // Wrong verb.
    let mut call = ProviderCall::migrate(PATIENT2, false);
    call.method = reqwest::Method::GET;
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 400, "BAD_REQUEST");
    assert!(diagnostics(&body).contains("POST"));
}

#[test]
fn row_19_unexpected_failures_are_500_internal_server_error() {
    // The dispatcher turns a handler panic into this response (sandbox.rs); the provider never
    // panics on purpose, so the mapping itself is what can be checked.
    let resp = spine_sandbox::FhirError::internal("boom")
        .to_response(spine_sandbox::OutcomeStyle::GpConnect);
    assert_eq!(resp.status(), 500);
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_outcome(500, &body, 500, "INTERNAL_SERVER_ERROR");
}

// ---- Routing ----

#[tokio::test]
async fn an_unknown_practice_is_organisation_not_found() {
    let s = sandbox().await;
    let mut call = ProviderCall::migrate(PATIENT2, false);
    call.ods = "Z99999".into();
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 404, "ORGANISATION_NOT_FOUND");
    assert!(diagnostics(&body).contains("Z99999"));
}

#[tokio::test]
async fn a_practice_without_gp_connect_is_organisation_not_found() {
    let s = sandbox().await;
    let mut call = ProviderCall::migrate(PATIENT2, false);
    call.ods = "C81616".into();
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 404, "ORGANISATION_NOT_FOUND");
    assert!(diagnostics(&body).contains("provider: false"));
}

#[tokio::test]
async fn unknown_operations_are_not_implemented() {
    let s = sandbox().await;
    let mut call = ProviderCall::migrate(PATIENT2, false);
    call.path = "structured/fhir/Patient/1".into();
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 501, "NOT_IMPLEMENTED");
    assert!(diagnostics(&body).contains("$gpc.migratestructuredrecord"));
    call.path = "nonsense/fhir".into();
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 404, "NO_RECORD_FOUND");
}

#[tokio::test]
async fn a_record_held_elsewhere_is_patient_not_found() {
    let s = sandbox().await;
    let mut call = ProviderCall::migrate(PATIENT2, false).header("Ssp-To", "200000001012");
    call.ods = "A20047".into();
    let (status, body) = call.send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
    assert!(diagnostics(&body).contains("held at B82617"));
}

#[tokio::test]
async fn ssp_to_must_name_the_provider() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .header("Ssp-To", "200000001012")
        .send(&s)
        .await;
    assert_outcome(status, &body, 400, "BAD_REQUEST");
    assert!(diagnostics(&body).contains("918999198738"));
}

// ---- Metadata ----

#[tokio::test]
async fn the_structured_capability_statement_lists_migrate() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::metadata("structured").send(&s).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["resourceType"], "CapabilityStatement");
    let ops: Vec<&str> = body["rest"][0]["operation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(ops.contains(&"gpc.migratestructuredrecord"));
    assert!(ops.contains(&"gpc.getstructuredrecord"));
    let profiles = body["profile"].to_string();
    for p in [
        "CareConnect-GPC-Patient-1/_history/1.8",
        "CareConnect-GPC-List-1/_history/1.7",
        "GPConnect-StructuredRecord-Bundle-1/_history/1.3",
        "CareConnect-HealthcareService-1/_history/1.0",
    ] {
        assert!(profiles.contains(p), "{p}");
    }
    let (status, body) = ProviderCall::metadata("structured")
        .claim("requested_scope", json!("badScope"))
        .send(&s)
        .await;
    assert_outcome(status, &body, 400, "BAD_REQUEST");
    let (status, _) = ProviderCall::metadata("documents").send(&s).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn wrong_verbs_on_metadata_answer_with_an_operation_outcome() {
    let s = sandbox().await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let mut call = ProviderCall::metadata("structured");
        call.method = method;
        let (status, body) = call.send(&s).await;
        assert_outcome(status, &body, 400, "BAD_REQUEST");
    }
}

// ---- Bundle rules ----

#[tokio::test]
async fn bundle_id_is_the_trace_id_and_the_rest_is_deterministic() {
    let s = sandbox().await;
    let a = ProviderCall::migrate(PATIENT2, false);
    let b = ProviderCall::migrate(PATIENT2, false);
    let (sa, mut ba) = a.send(&s).await;
    let (sb, mut bb) = b.send(&s).await;
    assert_eq!((sa, sb), (200, 200));
    assert_eq!(ba["id"], a.trace_id());
    assert_eq!(bb["id"], b.trace_id());
    ba["id"] = json!("x");
    bb["id"] = json!("x");
    assert_eq!(ba, bb);
}

#[tokio::test]
async fn an_empty_record_migrates_with_every_list_empty() {
    let s = sandbox().await;
    let (status, body) = from_b82617("9434761069").send(&s).await;
    assert_eq!(status, 200, "{body:#}");
    let lists = of_type(&body, "List");
    assert_eq!(lists.len(), 10);
    for l in lists {
        assert_eq!(l["emptyReason"]["coding"][0]["code"], "no-content-recorded");
        assert!(l["note"].to_string().contains("Information not available"));
    }
}

#[tokio::test]
async fn the_journey_patient_migrates_to_the_practice_pds_names() {
    let s = sandbox().await;
    // 9434761018 is registered at B82617: B82617 itself has a relationship (the suite's claim
    // shape with another ODS code), and its confidential problem is withheld.
    let (status, body) = from_b82617("9434761018").send(&s).await;
    assert_eq!(status, 200, "{body:#}");
    let problems = lists_titled(&body, "Problems");
    assert_eq!(
        problems[0]["extension"]
            .to_string()
            .matches("confidential-items")
            .count(),
        1
    );
    assert!(!body.to_string().contains("Anxiety disorder"));
}

#[tokio::test]
async fn patient_general_practitioner_is_the_usual_gp_or_else_the_practice() {
    let s = sandbox().await;
    for (nhs, want) in [
        ("9434761018", "Practitioner"),
        ("9434761069", "Organization"),
    ] {
        let (status, body) = from_b82617(nhs).send(&s).await;
        assert_eq!(status, 200, "{body:#}");
        let patient = of_type(&body, "Patient")[0];
        // CareConnect-GPC-Patient-1: generalPractitioner 0..1.
        let gp = patient["generalPractitioner"].as_array().unwrap();
        assert_eq!(gp.len(), 1, "{nhs}: {gp:?}");
        let gp = gp[0]["reference"].as_str().unwrap();
        assert!(gp.starts_with(&format!("{want}/")), "{nhs}: {gp}");
        let org = patient["managingOrganization"]["reference"]
            .as_str()
            .unwrap();
        for reference in [gp, org] {
            let (kind, id) = reference.split_once('/').unwrap();
            assert!(
                of_type(&body, kind).iter().any(|r| r["id"] == id),
                "{nhs}: {reference} is not in the Bundle"
            );
        }
    }
}

#[tokio::test]
async fn a_list_emptied_by_withholding_has_one_note_the_warning_and_the_empty_reason() {
    let mut world = spine_sandbox::load_paths(&[repo_path(DEFAULT)], start_day()).unwrap();
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == "9434761018")
        .unwrap();
    for m in &mut patient.record.medications {
        m.meta.confidential = true;
    }
    let s = TestSandbox::start_world(world).await;

    let (status, body) = from_b82617("9434761018").send(&s).await;
    assert_eq!(status, 200, "{body:#}");
    let meds = lists_titled(&body, "Medications and medical devices")[0];
    assert!(meds.get("entry").is_none(), "{meds:#}");
    assert_eq!(
        meds["emptyReason"]["coding"][0]["code"],
        "no-content-recorded"
    );
    assert_eq!(
        meds["note"],
        json!([{ "text": "Items excluded due to confidentiality and/or patient preferences." }])
    );
    assert!(meds["extension"].to_string().contains("confidential-items"));

    // With sensitive information the same List holds both medications and no warning.
    let (status, body) = from_b82617_sensitive("9434761018", true).send(&s).await;
    assert_eq!(status, 200, "{body:#}");
    let meds = lists_titled(&body, "Medications and medical devices")[0];
    assert_eq!(meds["entry"].as_array().unwrap().len(), 2);
    assert!(meds.get("note").is_none(), "{meds:#}");
}

// ---- PDS decides the relationship at request time; SSP changes nothing ----

#[tokio::test]
async fn a_pds_registration_change_gives_the_new_practice_a_relationship_at_once() {
    let s = sandbox().await;
    let nhs = "9434761018";
    let as_new_practice = || {
        let mut call = ProviderCall::migrate(nhs, false).claim(
            "requesting_organization",
            json!({ "resourceType": "Organization", "name": "New Road Medical Practice",
                    "identifier": [{ "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A20047" }] }),
        );
        call.headers.retain(|(k, _)| k != "Ssp-From");
        call.header("Ssp-From", "200000001012")
    };
    let (status, body) = as_new_practice().send(&s).await;
    assert_outcome(status, &body, 403, "NO_RELATIONSHIP");

    // The new practice changes the registration on PDS (`docs/pds.md`: JSON Patch with If-Match).
    let pds = s.url(&format!("/personal-demographics/FHIR/R4/Patient/{nhs}"));
    let request_id = "7b0c0a53-4a8c-4d51-8f5e-0d1e2f3a4b5c";
    let read = s
        .http
        .get(&pds)
        .header("X-Request-ID", request_id)
        .send()
        .await
        .unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let patient: serde_json::Value = read.json().await.unwrap();
    let id = patient["generalPractitioner"][0]["id"].as_str().unwrap();
    let patched = s
        .http
        .patch(&pds)
        .header("X-Request-ID", request_id)
        .header("Content-Type", "application/json-patch+json")
        .header("If-Match", etag)
        .body(
            json!({ "patches": [
                { "op": "replace", "path": "/generalPractitioner/0", "value": {
                    "id": id, "type": "Organization",
                    "identifier": { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A20047" } } }
            ] })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());

    let (status, body) = as_new_practice().send(&s).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(of_type(&body, "Patient").len(), 1);
    // And the old practice itself no longer has one.
    let (status, body) = from_b82617(nhs).send(&s).await;
    assert_outcome(status, &body, 403, "NO_RELATIONSHIP");
}

#[tokio::test]
async fn through_ssp_migrate_answers_exactly_as_directly() {
    let s = sandbox().await;
    let client = s.ssp_client(SUITE_ASID);
    let calls = [
        ProviderCall::migrate(PATIENT2, false),
        ProviderCall::migrate(PATIENT2, true),
        ProviderCall::migrate(PATIENT18, false),
        ProviderCall::migrate(PATIENT2, false)
            .extra_parameter(json!({ "name": "includeImmunisations" })),
        ProviderCall::migrate(PATIENT2, true)
            .claim("requested_scope", json!("patient/*.read conf/N")),
        ProviderCall::migrate(PATIENT2, false).without_claim("reason_for_request"),
    ];
    for call in calls {
        let target = format!(
            "{}/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
            s.running.shared.public_url
        );
        let direct = call.send_to(&s, &target).await;
        let via_ssp = call.send_with(&client, &s.ssp_url(&target)).await;
        assert_eq!(direct, via_ssp);
    }
    // And a document through SSP, at the URL the Bundle gives.
    let (_, bundle) = ProviderCall::migrate(PATIENT2, false).send(&s).await;
    let url = of_type(&bundle, "DocumentReference")[0]["content"][0]["attachment"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = ProviderCall::document(OLD_PRACTICE, url.rsplit('/').next().unwrap());
    let (status, binary) = doc.send_with(&client, &s.ssp_url(&url)).await;
    assert_eq!(status, 200, "{binary:#}");
    assert_eq!(binary["resourceType"], "Binary");
}
