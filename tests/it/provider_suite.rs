//! The NHS provider assurance suite's migrate scenarios (`docs/migrate.md`, "The assurance
//! suite": all 17 active ones) ported against the default scenario, with the suite's Bundle
//! assertions; and the FHIR STU3 structure check of every resource the default scenario produces
//! (`tests/fhir/validate_stu3.py`, run when `SANDBOX_FHIR_VALIDATOR` names a Python with
//! `fhir.resources`).

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::*;

const DEFAULT: &str = "scenarios/default.yaml";
const LIST_PROFILE: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-List-1";
const WARNING_EXT: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1";
const CLINICAL_SETTING_EXT: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ClinicalSetting-1";
const RELATED_CONTENT_EXT: &str = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-RelatedClinicalContent-1";
const REPEAT_INFORMATION_EXT: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-MedicationRepeatInformation-1";
const CONFIDENTIAL_NOTE: &str = "Items excluded due to confidentiality and/or patient preferences.";

fn key(r: &Value) -> String {
    format!(
        "{}/{}",
        r["resourceType"].as_str().unwrap_or(""),
        r["id"].as_str().unwrap_or("")
    )
}

fn keys(bundle: &Value) -> HashSet<String> {
    resources(bundle).into_iter().map(key).collect()
}

/// `BaseListParametersAreValid` (`docs/migrate.md`).
fn assert_base_list(l: &Value) {
    let title = l["title"].as_str().unwrap_or("");
    assert!(
        l.get("id").is_none(),
        "{title}: primary/secondary List has an id"
    );
    assert_eq!(l["meta"]["profile"], json!([LIST_PROFILE]), "{title}");
    assert!(l["meta"].get("versionId").is_none() && l["meta"].get("lastUpdated").is_none());
    assert!(l.get("source").is_none());
    assert_eq!(l["status"], "current", "{title}");
    assert_eq!(l["mode"], "snapshot", "{title}");
    assert!(!title.is_empty());
    assert!(l["code"]["coding"][0]["code"].is_string(), "{title}");
    assert!(l["subject"]["reference"].is_string(), "{title}");
    let ext = l["extension"].as_array().cloned().unwrap_or_default();
    assert!(
        ext.iter()
            .filter(|e| e["url"] == CLINICAL_SETTING_EXT)
            .count()
            <= 1
    );
    let warnings: Vec<_> = ext.iter().filter(|e| e["url"] == WARNING_EXT).collect();
    assert!(warnings.len() <= 4);
    for w in warnings {
        assert!(
            [
                "confidential-items",
                "data-in-transit",
                "data-awaiting-filing"
            ]
            .contains(&w["valueCode"].as_str().unwrap_or("")),
            "{title}"
        );
    }
    if l.get("entry").is_none() {
        assert_eq!(l["emptyReason"]["coding"][0]["code"], "no-content-recorded");
        assert_eq!(
            l["emptyReason"]["coding"][0]["display"],
            "No Content Recorded"
        );
        assert!(
            l["note"].to_string().contains("Information not available"),
            "{title}"
        );
    }
}

fn entry_refs(l: &Value) -> Vec<&str> {
    l["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["item"]["reference"].as_str())
        .collect()
}

fn related_content(condition: &Value) -> Vec<&str> {
    condition["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == RELATED_CONTENT_EXT)
        .filter_map(|e| e["valueReference"]["reference"].as_str())
        .collect()
}

fn problems_link_to(bundle: &Value, resource_type: &str) -> bool {
    let k = keys(bundle);
    of_type(bundle, "Condition").iter().any(|c| {
        related_content(c)
            .iter()
            .any(|r| r.starts_with(&format!("{resource_type}/")) && k.contains(*r))
    })
}

/// The checks every successful scenario makes (section 3, "Bundle-level").
fn assert_bundle_basics(status: u16, bundle: &Value, trace_id: &str) {
    assert_eq!(status, 200, "{bundle:#}");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    assert_eq!(bundle["id"], trace_id);
    assert_eq!(
        bundle["meta"]["profile"],
        json!(["https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1"])
    );
    let mut seen = HashSet::new();
    for r in resources(bundle) {
        if r.get("id").is_some() {
            assert!(seen.insert(key(r)), "duplicate {}", key(r));
        }
        assert_ne!(r["resourceType"], "OperationOutcome");
    }
    for e in bundle["entry"].as_array().unwrap() {
        assert!(e.get("fullUrl").is_none());
    }
    let patients = of_type(bundle, "Patient");
    assert_eq!(patients.len(), 1);
    for p in &patients {
        assert_eq!(
            p["meta"]["profile"],
            json!(["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"])
        );
        assert!(p["meta"]["versionId"].is_string());
        let verification = &p["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0];
        assert_eq!(verification["code"], "01");
        assert_eq!(verification["display"], "Number present and verified");
    }
    for t in ["Patient", "Practitioner", "Organization"] {
        for r in of_type(bundle, t) {
            assert!(!r["id"].as_str().unwrap_or("").is_empty(), "{t} without id");
        }
    }
}

/// Scenario 1's full-record checks (section 3).
fn assert_full_record(bundle: &Value) {
    let k = keys(bundle);
    // Medications.
    let meds = lists_titled(bundle, "Medications and medical devices");
    assert_eq!(meds.len(), 1);
    assert_base_list(meds[0]);
    assert_eq!(meds[0]["code"]["coding"][0]["code"], "933361000000108");
    for r in entry_refs(meds[0]) {
        assert!(
            r.starts_with("MedicationStatement/") && k.contains(r),
            "{r}"
        );
    }
    let requests = of_type(bundle, "MedicationRequest");
    for plan in requests.iter().filter(|r| r["intent"] == "plan") {
        let plan_ref = key(plan);
        let orders = requests
            .iter()
            .filter(|o| o["intent"] == "order" && o["basedOn"][0]["reference"] == plan_ref.as_str())
            .count();
        let acute = plan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "acute";
        if acute {
            assert_eq!(orders, 1, "one order per acute prescription");
        }
        // StructuredMedicationSteps: repeat and repeat-dispensing plans have repeatInformation
        // with both Issued and Allowed; acutes have neither.
        let repeat: Vec<&str> = plan["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["url"] == REPEAT_INFORMATION_EXT)
            .flat_map(|e| e["extension"].as_array().into_iter().flatten())
            .filter_map(|e| e["url"].as_str())
            .collect();
        if acute {
            assert!(repeat.is_empty(), "{plan}");
        } else {
            assert!(
                repeat.contains(&"numberOfRepeatPrescriptionsIssued"),
                "{plan}"
            );
            assert!(
                repeat.contains(&"numberOfRepeatPrescriptionsAllowed"),
                "{plan}"
            );
        }
    }
    for order in requests.iter().filter(|r| r["intent"] == "order") {
        assert!(
            !order.to_string().contains(REPEAT_INFORMATION_EXT),
            "{order}"
        );
    }
    for r in &requests {
        let m = r["medicationReference"]["reference"].as_str().unwrap();
        assert!(m.starts_with("Medication/") && k.contains(m));
    }
    assert!(of_type(bundle, "MedicationStatement").iter().all(|s| {
        k.contains(s["basedOn"][0]["reference"].as_str().unwrap())
            && k.contains(s["medicationReference"]["reference"].as_str().unwrap())
    }));
    assert!(problems_link_to(bundle, "MedicationRequest"));

    // Allergies.
    let active = lists_titled(bundle, "Allergies and adverse reactions");
    let ended = lists_titled(bundle, "Ended allergies");
    assert_eq!((active.len(), ended.len()), (1, 1));
    assert_base_list(active[0]);
    assert_base_list(ended[0]);
    let active_allergies = of_type(bundle, "AllergyIntolerance");
    assert_eq!(active_allergies.len(), entry_refs(active[0]).len());
    assert!(active[0].get("emptyReason").is_none());
    assert!(
        !active[0]["note"]
            .to_string()
            .to_lowercase()
            .contains("no known allergies")
    );
    for c in ended[0]["contained"].as_array().unwrap() {
        assert_eq!(c["resourceType"], "AllergyIntolerance");
        assert_eq!(c["clinicalStatus"], "resolved");
    }
    // A Problem links to an active AllergyIntolerance (the suite's check), and the ended
    // allergy linked to a problem is the secondary list with a contained copy.
    assert!(problems_link_to(bundle, "AllergyIntolerance"));
    let ended_related = lists_titled(
        bundle,
        "Problems - allergies that have been ended related to problems",
    );
    assert_eq!(ended_related.len(), 1);

    // Problems.
    let problems = lists_titled(bundle, "Problems");
    assert_eq!(problems.len(), 1);
    assert_base_list(problems[0]);
    for c in of_type(bundle, "Condition") {
        assert_eq!(
            c["meta"]["profile"][0],
            "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-ProblemHeader-Condition-1"
        );
        for not_in_use in [
            "verificationStatus",
            "severity",
            "bodySite",
            "stage",
            "evidence",
        ] {
            assert!(c.get(not_in_use).is_none(), "{not_in_use}");
        }
    }

    // Consultations.
    let consultations = lists_titled(bundle, "List of consultations");
    assert_eq!(consultations.len(), 1);
    assert_base_list(consultations[0]);
    for r in entry_refs(consultations[0]) {
        assert!(r.starts_with("Encounter/") && k.contains(r));
    }
    let structure = |code: &str| -> Vec<&Value> {
        of_type(bundle, "List")
            .into_iter()
            .filter(|l| l["code"]["coding"][0]["code"] == code)
            .collect()
    };
    let (consultation, topics, headings) = (
        structure("325851000000107"),
        structure("25851000000105"),
        structure("24781000000107"),
    );
    assert!(!consultation.is_empty() && !topics.is_empty() && !headings.is_empty());
    for l in consultation.iter().chain(&topics).chain(&headings) {
        assert!(l["id"].is_string());
        assert!(l.get("identifier").is_none());
        assert!(!l["extension"].to_string().contains(WARNING_EXT));
        assert!(k.contains(l["encounter"]["reference"].as_str().unwrap()));
        // list_consutation.md: orderedBy is mandatory, fixed `system`.
        assert_eq!(l["orderedBy"]["coding"][0]["code"], "system");
        assert_eq!(
            l["orderedBy"]["coding"][0]["system"],
            "http://hl7.org/fhir/list-order"
        );
    }
    // encounter.md: the recorder (REC) is mandatory.
    for e in of_type(bundle, "Encounter") {
        let participants = e["participant"].as_array().unwrap();
        assert!(participants.iter().any(|p| {
            p["type"][0]["coding"][0]["code"] == "REC"
                && k.contains(p["individual"]["reference"].as_str().unwrap())
        }));
    }
    assert!(
        topics
            .iter()
            .any(|t| t["extension"].to_string().contains("Condition/"))
    );
    let heading_refs: Vec<&str> = headings.iter().flat_map(|h| entry_refs(h)).collect();
    assert!(heading_refs.iter().any(|r| r.starts_with("Observation/")));
    assert!(
        heading_refs
            .iter()
            .any(|r| r.starts_with("MedicationRequest/"))
    );
    for title in [
        "Consultations - medications contained in consultations",
        "Consultations - uncategorised data contained in consultations",
    ] {
        let l = lists_titled(bundle, title);
        assert_eq!(l.len(), 1, "{title}");
        assert_base_list(l[0]);
        assert_eq!(
            l[0]["code"]["coding"][0]["system"],
            "https://fhir.hl7.org.uk/STU3/CodeSystem/GPConnect-SecondaryListValues-1"
        );
    }

    // Immunisations.
    let imms = lists_titled(bundle, "Immunisations");
    assert_eq!(imms.len(), 1);
    assert_base_list(imms[0]);
    assert!(problems_link_to(bundle, "Immunization"));
    // StructuredImmunizationsSteps: the mandatory recordedDate.
    for i in of_type(bundle, "Immunization") {
        assert!(
            i["extension"].as_array().unwrap().iter().any(|e| e["url"]
                == "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-DateRecorded-1"
                && e["valueDateTime"].is_string()),
            "{i}"
        );
    }

    // Investigations.
    let inv = lists_titled(bundle, "Investigations and results");
    assert_eq!(inv.len(), 1);
    assert_base_list(inv[0]);
    for r in of_type(bundle, "DiagnosticReport") {
        assert!(k.contains(r["basedOn"][0]["reference"].as_str().unwrap()));
        assert!(k.contains(r["specimen"][0]["reference"].as_str().unwrap()));
        assert!(k.contains(r["result"][0]["reference"].as_str().unwrap()));
        // DiagnosticReport.md: no effective; the fixed code; a filing comment among the results.
        assert!(r.get("effectiveDateTime").is_none() && r.get("effectivePeriod").is_none());
        assert_eq!(r["code"]["coding"][0]["code"], "721981007");
        let filed = r["result"].as_array().unwrap().iter().any(|x| {
            of_type(bundle, "Observation").iter().any(|o| {
                key(o) == x["reference"].as_str().unwrap_or("")
                    && o["code"]["coding"][0]["code"] == "37331000000100"
            })
        });
        assert!(filed, "{r}");
    }
    for r in of_type(bundle, "ReferralRequest") {
        assert_eq!(r["status"], "unknown");
    }
    for d in of_type(bundle, "ProcedureRequest")
        .into_iter()
        .filter(|d| d["intent"] == "plan")
    {
        assert!(d["authoredOn"].is_string() && d["requester"]["agent"]["reference"].is_string());
    }
    assert!(!of_type(bundle, "Specimen").is_empty());
    assert!(problems_link_to(bundle, "DiagnosticReport"));

    // Every other primary list is valid too.
    for title in [
        "Uncategorised data",
        "Outbound referral",
        "Patient recall administration",
    ] {
        let l = lists_titled(bundle, title);
        assert_eq!(l.len(), 1, "{title}");
        assert_base_list(l[0]);
    }
}

/// Scenario 1's confidentiality check (`StructuredCommonSteps.cs`).
fn assert_confidential_lists(bundle: &Value) {
    for title in [
        "Medications and medical devices",
        "Uncategorised data",
        "Problems - medications related to problems",
    ] {
        let l = lists_titled(bundle, title);
        assert_eq!(l.len(), 1, "{title}");
        let warnings: Vec<_> = l[0]["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == WARNING_EXT && e["valueCode"] == "confidential-items")
            .collect();
        assert_eq!(warnings.len(), 1, "{title}");
        let notes: Vec<_> = l[0]["note"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["text"] == CONFIDENTIAL_NOTE)
            .collect();
        assert_eq!(notes.len(), 1, "{title}");
    }
}

/// Scenarios 16 and 17's DocumentReference checks (`StructuredDocumentsSteps.cs`).
fn assert_documents(bundle: &Value) {
    let docs = of_type(bundle, "DocumentReference");
    assert!(!docs.is_empty());
    let patient_id = of_type(bundle, "Patient")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for d in docs {
        assert!(d["id"].is_string());
        assert_eq!(
            d["meta"]["profile"],
            json!([
                "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-DocumentReference-1"
            ])
        );
        assert!(d["meta"]["versionId"].is_string());
        assert!(
            d["identifier"][0]["system"].is_string() && d["identifier"][0]["value"].is_string()
        );
        assert_eq!(d["status"], "current");
        assert!(
            d["type"]["coding"][0]["system"] == "http://snomed.info/sct"
                || d["type"]["text"].is_string()
        );
        assert_eq!(d["subject"]["reference"], format!("Patient/{patient_id}"));
        assert!(d["indexed"].is_string());
        for c in d["content"].as_array().unwrap() {
            assert!(c["attachment"]["size"].is_u64());
            assert!(c["attachment"]["contentType"].is_string());
            assert!(c["attachment"].get("data").is_none());
            assert!(c["attachment"]["url"].as_str().unwrap().starts_with("http"));
        }
        for absent in [
            "docStatus",
            "class",
            "authenticator",
            "relatesTo",
            "securityLabel",
        ] {
            assert!(d.get(absent).is_none(), "{absent}");
        }
    }
}

/// Fetches the first DocumentReference's Binary as the suite does (its url verbatim).
async fn migrate_first_document(s: &TestSandbox, bundle: &Value) {
    let first = of_type(bundle, "DocumentReference")[0];
    let url = first["content"][0]["attachment"]["url"].as_str().unwrap();
    let id = url.rsplit('/').next().unwrap();
    let call = ProviderCall::document(OLD_PRACTICE, id);
    let (status, binary) = call.send_to(s, url).await;
    assert_eq!(status, 200, "{binary:#}");
    assert_eq!(binary["resourceType"], "Binary");
    assert!(!binary["contentType"].as_str().unwrap().is_empty());
    assert!(binary["content"].is_string());
    assert!(binary.get("securityContext").is_none());
}

async fn sandbox() -> TestSandbox {
    TestSandbox::start(DEFAULT).await
}

#[tokio::test]
async fn s01_patient2_excluding_sensitive_data_expect_success() {
    let s = sandbox().await;
    let call = ProviderCall::migrate(PATIENT2, false);
    let (status, bundle) = call.send(&s).await;
    assert_bundle_basics(status, &bundle, call.trace_id());
    assert_full_record(&bundle);
    assert_confidential_lists(&bundle);
}

#[tokio::test]
async fn s02_deceased_patient_excluding_sensitive_expect_patient_not_found() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT18, false).send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
}

#[tokio::test]
async fn s03_deceased_patient_including_sensitive_expect_patient_not_found() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT18, true).send(&s).await;
    assert_outcome(status, &body, 404, "PATIENT_NOT_FOUND");
}

#[tokio::test]
async fn s04_excluding_sensitive_with_extra_param_expect_invalid_parameter() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, false)
        .extra_parameter(json!({ "name": "includeImmunisations" }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_PARAMETER");
}

#[tokio::test]
async fn s05_including_sensitive_with_extra_param_expect_invalid_parameter() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, true)
        .extra_parameter(json!({ "name": "includeMedication", "part": [
            { "name": "includePrescriptionIssues", "valueBoolean": false } ] }))
        .send(&s)
        .await;
    assert_outcome(status, &body, 422, "INVALID_PARAMETER");
}

async fn expect_400(call: ProviderCall) {
    let s = sandbox().await;
    let (status, body) = call.send(&s).await;
    assert_eq!(status, 400, "{body:#}");
    let code = body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_outcome(status, &body, 400, &code);
}

#[tokio::test]
async fn s06_including_sensitive_reason_not_set_expect_400() {
    expect_400(ProviderCall::migrate(PATIENT2, true).without_claim("reason_for_request")).await;
}

#[tokio::test]
async fn s07_excluding_sensitive_reason_not_set_expect_400() {
    expect_400(ProviderCall::migrate(PATIENT2, false).without_claim("reason_for_request")).await;
}

#[tokio::test]
async fn s08_including_sensitive_reason_not_migrate_expect_400() {
    expect_400(
        ProviderCall::migrate(PATIENT2, true).claim("reason_for_request", json!("badReason")),
    )
    .await;
}

#[tokio::test]
async fn s09_excluding_sensitive_reason_not_migrate_expect_400() {
    expect_400(
        ProviderCall::migrate(PATIENT2, false).claim("reason_for_request", json!("badReason")),
    )
    .await;
}

#[tokio::test]
async fn s10_including_sensitive_scope_incorrect_expect_conflicting_values() {
    let s = sandbox().await;
    let (status, body) = ProviderCall::migrate(PATIENT2, true)
        .claim("requested_scope", json!("patient/*.read conf/N"))
        .send(&s)
        .await;
    assert_outcome(status, &body, 400, "CONFLICTING_VALUES");
}

#[tokio::test]
async fn s11_excluding_sensitive_scope_incorrect_expect_400() {
    expect_400(
        ProviderCall::migrate(PATIENT2, false)
            .claim("requested_scope", json!("patient/*.read conf/R")),
    )
    .await;
}

#[tokio::test]
async fn s12_excluding_sensitive_scope_not_sent_expect_400() {
    expect_400(ProviderCall::migrate(PATIENT2, false).without_claim("requested_scope")).await;
}

#[tokio::test]
async fn s13_including_sensitive_scope_not_sent_expect_400() {
    expect_400(ProviderCall::migrate(PATIENT2, true).without_claim("requested_scope")).await;
}

#[tokio::test]
async fn s14_including_sensitive_requesting_practitioner_not_sent_expect_success() {
    let s = sandbox().await;
    let call = ProviderCall::migrate(PATIENT2, true).without_claim("requesting_practitioner");
    let (status, bundle) = call.send(&s).await;
    assert_bundle_basics(status, &bundle, call.trace_id());
}

#[tokio::test]
async fn s15_excluding_sensitive_requesting_practitioner_not_sent_expect_success() {
    let s = sandbox().await;
    let call = ProviderCall::migrate(PATIENT2, false).without_claim("requesting_practitioner");
    let (status, bundle) = call.send(&s).await;
    assert_bundle_basics(status, &bundle, call.trace_id());
}

#[tokio::test]
async fn s16_migrate_patient2_with_sensitive_then_first_document() {
    let s = sandbox().await;
    let call = ProviderCall::migrate(PATIENT2, true);
    let (status, bundle) = call.send(&s).await;
    assert_bundle_basics(status, &bundle, call.trace_id());
    assert_full_record(&bundle);
    assert_documents(&bundle);
    migrate_first_document(&s, &bundle).await;
}

#[tokio::test]
async fn s17_migrate_patient2_without_sensitive_then_first_document() {
    let s = sandbox().await;
    let call = ProviderCall::migrate(PATIENT2, false);
    let (status, bundle) = call.send(&s).await;
    assert_bundle_basics(status, &bundle, call.trace_id());
    assert_documents(&bundle);
    migrate_first_document(&s, &bundle).await;
}

// ---- FHIR STU3 structure of everything the default scenario produces ----

/// Migrates every patient of every shipped scenario whose provider answers 200 (asking as the
/// practice PDS holds, with and without sensitive information), fetches every document, and
/// writes each resource to a file; then validates them with `tests/fhir/validate_stu3.py` when
/// `SANDBOX_FHIR_VALIDATOR` names a Python interpreter that has `fhir.resources` installed.
#[tokio::test]
async fn every_resource_of_every_shipped_scenario_is_valid_stu3() {
    let mut scenarios: Vec<_> = std::fs::read_dir(repo_path("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    scenarios.sort();
    for path in scenarios {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let relative = format!("scenarios/{name}");
        let minimum = if name == "default.yaml" { 6 } else { 0 };
        every_resource_is_valid_stu3(&relative, minimum).await;
    }
}

async fn every_resource_is_valid_stu3(scenario: &str, minimum: usize) {
    let s = TestSandbox::start(scenario).await;
    let dir = temp_dir(&format!("stu3-{}", scenario.replace(['/', '.'], "-")));
    let mut files = Vec::new();
    let mut write = |name: String, v: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
        files.push(path);
    };
    let world = &s.running.shared.world;
    let mut migrated = 0;
    for p in &world.patients {
        let nhs = p.nhs_number.as_str();
        let Some(practice) = world.practice(p.record_at.as_str()) else {
            continue;
        };
        for sensitive in [false, true] {
            let mut call = ProviderCall::migrate(nhs, sensitive)
                .header("Ssp-To", practice.asid.as_str())
                .claim(
                    "requesting_organization",
                    json!({ "resourceType": "Organization", "name": "Registered practice",
                            "identifier": [{ "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                             "value": p.registered_with.as_str() }] }),
                );
            call.ods = practice.ods.as_str().to_owned();
            let (status, bundle) = call.send(&s).await;
            if status != 200 {
                write(format!("outcome-{nhs}-{sensitive}.json"), &bundle);
                continue;
            }
            migrated += 1;
            for d in of_type(&bundle, "DocumentReference") {
                let url = d["content"][0]["attachment"]["url"].as_str().unwrap();
                let id = url.rsplit('/').next().unwrap();
                let mut doc = ProviderCall::document(practice.ods.as_str(), id)
                    .header("Ssp-To", practice.asid.as_str())
                    .claim("requested_scope", json!("patient/*.read conf/R"))
                    .claim(
                        "requesting_organization",
                        call.claims["requesting_organization"].clone(),
                    );
                doc.ods = practice.ods.as_str().to_owned();
                let (status, binary) = doc.send_to(&s, url).await;
                assert_eq!(status, 200, "{binary}");
                write(format!("binary-{id}.json"), &binary);
            }
            write(format!("bundle-{nhs}-{sensitive}.json"), &bundle);
        }
    }
    assert!(
        migrated >= minimum,
        "{scenario}: only {migrated} migrations succeeded"
    );
    // The CapabilityStatements are the same for every world: checked once, with the default.
    for capability in ["structured", "documents"]
        .into_iter()
        .filter(|_| minimum > 0)
    {
        let (status, cs) = ProviderCall::metadata(capability).send(&s).await;
        assert_eq!(status, 200);
        write(format!("capability-{capability}.json"), &cs);
    }

    let Ok(python) = std::env::var("SANDBOX_FHIR_VALIDATOR") else {
        println!(
            "STU3 validation skipped: set SANDBOX_FHIR_VALIDATOR to a python with fhir.resources ({} files in {})",
            files.len(),
            dir.display()
        );
        return;
    };
    let script = repo_path("tests/fhir/validate_stu3.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "STU3 validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
