//! `$gpc.getstructuredrecord` against the shipped worlds, as a consumer sends it: the Bundle per
//! clinical area (Lists asked for and no others, filters, linked problems, issues on or off), the
//! warning OperationOutcome, each refusal with its Spine code, the same answers through SSP and
//! directly, and every Bundle of every shipped scenario whole (each reference resolves, no
//! resource twice) for a spread of parameter combinations.

use std::collections::HashSet;

use serde_json::{Value, json};
use spine_sandbox::interactions;

use crate::support::*;

const DEFAULT: &str = "scenarios/default.yaml";
const PATH: &str = "structured/fhir/Patient/$gpc.getstructuredrecord";

fn nhs_parameter(nhs: &str) -> Value {
    json!({"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}})
}

/// A retrieve as the suite sends it: direct care, `patient/*.read`, the retrieve interaction id.
pub(crate) fn retrieve(nhs: &str, params: Vec<Value>) -> ProviderCall {
    let mut all = vec![nhs_parameter(nhs)];
    all.extend(params);
    let mut call = ProviderCall::migrate(nhs, false)
        .header("Ssp-InteractionID", interactions::GET_STRUCTURED)
        .parameters(json!({"resourceType": "Parameters", "parameter": all}));
    call.path = PATH.into();
    call.claims = direct_care_claims("patient/*.read");
    call
}

pub(crate) fn area(name: &str, parts: Value) -> Value {
    json!({"name": name, "part": parts})
}

pub(crate) fn resolved_allergies(b: bool) -> Value {
    area(
        "includeAllergies",
        json!([{"name": "includeResolvedAllergies", "valueBoolean": b}]),
    )
}

fn list_titles(bundle: &Value) -> Vec<String> {
    of_type(bundle, "List")
        .iter()
        .filter(|l| l.get("encounter").is_none())
        .map(|l| l["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every reference resolves in the Bundle (or to a contained resource), no resource twice, the
/// Bundle is a collection whose id is the trace id.
pub(crate) fn assert_whole(bundle: &Value, trace_id: &str) {
    assert_eq!(bundle["resourceType"], "Bundle", "{bundle:#}");
    assert_eq!(bundle["type"], "collection");
    assert_eq!(bundle["id"], trace_id);
    let mut present = HashSet::new();
    for r in resources(bundle) {
        // Primary and secondary Lists carry no id, as in migrate.
        let Some(id) = r["id"].as_str() else {
            assert_eq!(r["resourceType"], "List", "{r:#}");
            continue;
        };
        let key = format!("{}/{id}", r["resourceType"].as_str().unwrap());
        assert!(present.insert(key.clone()), "{key} twice");
    }
    fn walk(v: &Value, contained: &HashSet<String>, present: &HashSet<String>, at: &str) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("reference") {
                    let ok = if let Some(id) = r.strip_prefix('#') {
                        contained.contains(id)
                    } else {
                        present.contains(r)
                    };
                    assert!(ok, "{at}: reference {r} does not resolve");
                }
                for x in m.values() {
                    walk(x, contained, present, at);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, contained, present, at)),
            _ => {}
        }
    }
    for r in resources(bundle) {
        let contained: HashSet<String> = r["contained"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect();
        let at = format!("{}/{}", r["resourceType"], r["id"]);
        walk(r, &contained, &present, &at);
    }
}

#[tokio::test]
async fn allergies_alone_answer_the_allergy_lists_only() {
    let s = TestSandbox::start(DEFAULT).await;
    let call = retrieve(PATIENT2, vec![resolved_allergies(false)]);
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    assert_whole(&bundle, call.trace_id());
    // Pneumonia (p6) names the penicillin allergy: it comes as a linked problem, on the one
    // List whose entries are every Condition of the Bundle.
    assert_eq!(
        list_titles(&bundle),
        [
            "Allergies and adverse reactions",
            "Problems - linked problems not relating to the primary query"
        ]
    );
    let linked = &lists_titled(
        &bundle,
        "Problems - linked problems not relating to the primary query",
    )[0];
    assert_eq!(
        linked["entry"].as_array().unwrap().len(),
        of_type(&bundle, "Condition").len()
    );
    assert!(of_type(&bundle, "OperationOutcome").is_empty());
    assert!(of_type(&bundle, "MedicationRequest").is_empty());
    let allergies = of_type(&bundle, "AllergyIntolerance");
    assert!(!allergies.is_empty());
    assert!(allergies.iter().all(|a| a["clinicalStatus"] == "active"));

    let call = retrieve(PATIENT2, vec![resolved_allergies(true)]);
    let (_, bundle) = call.send(&s).await;
    assert_whole(&bundle, call.trace_id());
    let ended = lists_titled(&bundle, "Ended allergies");
    assert_eq!(ended.len(), 1);
    assert!(!ended[0]["contained"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn medication_issues_are_sent_unless_asked_not_to() {
    let s = TestSandbox::start(DEFAULT).await;
    let orders = |b: &Value| {
        of_type(b, "MedicationRequest")
            .iter()
            .filter(|r| r["intent"] == "order")
            .count()
    };
    let (_, with) = retrieve(PATIENT2, vec![json!({"name": "includeMedication"})])
        .send(&s)
        .await;
    assert!(orders(&with) > 0);
    // The problems the medications are linked to come on the linked-problems List.
    assert_eq!(
        list_titles(&with),
        [
            "Medications and medical devices",
            "Problems - linked problems not relating to the primary query"
        ]
    );
    let call = retrieve(
        PATIENT2,
        vec![area(
            "includeMedication",
            json!([{"name": "includePrescriptionIssues", "valueBoolean": false}]),
        )],
    );
    let (_, without) = call.send(&s).await;
    assert_whole(&without, call.trace_id());
    assert_eq!(orders(&without), 0);
    assert_eq!(
        of_type(&with, "MedicationStatement").len(),
        of_type(&without, "MedicationStatement").len()
    );
}

#[tokio::test]
async fn problems_by_status_keep_non_matching_related_problems_on_their_own_list() {
    let s = TestSandbox::start(DEFAULT).await;
    let call = retrieve(
        PATIENT2,
        vec![area(
            "includeProblems",
            json!([{"name": "filterStatus", "valueCode": "active"}]),
        )],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    assert_whole(&bundle, call.trace_id());
    let problems = &lists_titled(&bundle, "Problems")[0];
    let conditions = of_type(&bundle, "Condition");
    let primary: Vec<&str> = problems["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["item"]["reference"].as_str().unwrap())
        .collect();
    for c in &conditions {
        let r = format!("Condition/{}", c["id"].as_str().unwrap());
        if primary.contains(&r.as_str()) {
            assert_eq!(c["clinicalStatus"], "active");
        }
    }
    // Inactive problems linked from active ones are on the linked-problems List alone.
    let linked = lists_titled(
        &bundle,
        "Problems - linked problems not relating to the primary query",
    );
    let linked_count = linked
        .first()
        .map_or(0, |l| l["entry"].as_array().unwrap().len());
    assert_eq!(primary.len() + linked_count, conditions.len());
    // No consultation structure without includeConsultations.
    assert!(lists_titled(&bundle, "List of consultations").is_empty());
    assert!(
        of_type(&bundle, "List")
            .iter()
            .all(|l| l.get("encounter").is_none())
    );
}

#[tokio::test]
async fn consultations_most_recent_answers_that_many_with_their_structure() {
    let s = TestSandbox::start(DEFAULT).await;
    let call = retrieve(
        PATIENT2,
        vec![area(
            "includeConsultations",
            json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 1}]),
        )],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    assert_whole(&bundle, call.trace_id());
    let list = &lists_titled(&bundle, "List of consultations")[0];
    assert_eq!(list["entry"].as_array().unwrap().len(), 1);
    assert_eq!(of_type(&bundle, "Encounter").len(), 1);
}

#[tokio::test]
async fn an_area_with_nothing_selected_has_an_empty_list_with_its_reason() {
    let s = TestSandbox::start(DEFAULT).await;
    let call = retrieve(
        PATIENT2,
        vec![area(
            "includeReferrals",
            json!([{"name": "referralSearchPeriod", "valuePeriod": {"start": "1900-01-01", "end": "1900-01-02"}}]),
        )],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    let list = &lists_titled(&bundle, "Outbound referral")[0];
    assert!(list.get("entry").is_none() || list["entry"].as_array().unwrap().is_empty());
    assert_eq!(
        list["emptyReason"]["coding"][0]["code"],
        "no-content-recorded"
    );
    assert!(
        list["note"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Information not available")
    );
    assert!(of_type(&bundle, "ReferralRequest").is_empty());
}

#[tokio::test]
async fn unrecognised_parameters_are_one_warning_outcome_in_a_successful_bundle() {
    let s = TestSandbox::start(DEFAULT).await;
    let call = retrieve(
        PATIENT2,
        vec![
            area(
                "includeAllergies",
                json!([{"name": "includeResolvedAllergies", "valueBoolean": false}, {"name": "includePrescriptionIssues", "valueBoolean": true}]),
            ),
            area(
                "madeUp",
                json!([{"name": "a", "valueBoolean": true}, {"name": "b", "valueBoolean": true}]),
            ),
            json!({"name": "consultationSearchPeriod", "valuePeriod": {"start": "2020-01-01"}}),
        ],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    let outcomes = of_type(&bundle, "OperationOutcome");
    assert_eq!(outcomes.len(), 1);
    let issues = outcomes[0]["issue"].as_array().unwrap();
    let names: Vec<&str> = issues
        .iter()
        .map(|i| i["diagnostics"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "includeAllergies.includePrescriptionIssues",
            "madeUp",
            "consultationSearchPeriod"
        ]
    );
    for i in issues {
        assert_eq!(i["severity"], "warning");
        assert_eq!(i["code"], "not-supported");
        assert_eq!(i["details"]["coding"][0]["code"], "NOT_IMPLEMENTED");
        assert!(
            i["details"]["text"]
                .as_str()
                .unwrap()
                .ends_with("is an unrecognised parameter")
        );
    }
}

#[tokio::test]
async fn refusals_with_their_spine_codes() {
    let s = TestSandbox::start(DEFAULT).await;
    let meds = || vec![json!({"name": "includeMedication"})];
    let cases: Vec<(ProviderCall, u16, &str, &str)> = vec![
        (
            retrieve(PATIENT2, vec![json!({"name": "includeAllergies"})]),
            422,
            "INVALID_PARAMETER",
            "includeResolvedAllergies",
        ),
        (
            retrieve(PATIENT2, vec![]),
            422,
            "INVALID_PARAMETER",
            "clinical area",
        ),
        (
            retrieve(
                PATIENT2,
                vec![area(
                    "includeMedication",
                    json!([{"name": "medicationSearchFromDate", "valueDate": "2014"}]),
                )],
            ),
            422,
            "INVALID_PARAMETER",
            "includeMedication.medicationSearchFromDate",
        ),
        (
            retrieve(
                PATIENT2,
                vec![area(
                    "includeMedication",
                    json!([{"name": "medicationSearchFromDate", "valueDate": "2999-01-01"}]),
                )],
            ),
            422,
            "INVALID_PARAMETER",
            "after today",
        ),
        (
            retrieve(
                PATIENT2,
                vec![area(
                    "includeDiaryEntries",
                    json!([{"name": "diaryEntriesSearchDate", "valueDate": "2000-01-01"}]),
                )],
            ),
            422,
            "INVALID_PARAMETER",
            "includeDiaryEntries.diaryEntriesSearchDate",
        ),
        (
            retrieve(
                PATIENT2,
                vec![
                    json!({"name": "includeConsultations"}),
                    area(
                        "includeReferrals",
                        json!([{"name": "referralSearchPeriod", "valuePeriod": {"start": "2020-01-01"}}]),
                    ),
                ],
            ),
            422,
            "INVALID_PARAMETER",
            "includeReferrals.referralSearchPeriod",
        ),
        (
            retrieve(
                PATIENT2,
                vec![area(
                    "includeConsultations",
                    json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 1}, {"name": "consultationSearchPeriod", "valuePeriod": {"start": "2020-01-01"}}]),
                )],
            ),
            422,
            "INVALID_RESOURCE",
            "includeNumberOfMostRecent",
        ),
        (
            retrieve("1234567891", meds()),
            400,
            "INVALID_NHS_NUMBER",
            "patientNHSNumber",
        ),
        (
            retrieve(NOT_IN_SYSTEM, meds()),
            404,
            "PATIENT_NOT_FOUND",
            "no such patient",
        ),
        (
            retrieve(PATIENT18, meds()),
            404,
            "PATIENT_NOT_FOUND",
            "deceased",
        ),
        (
            retrieve("9434761026", meds()),
            404,
            "PATIENT_NOT_FOUND",
            "sensitive",
        ),
        (
            retrieve("9434761042", meds()),
            404,
            "PATIENT_NOT_FOUND",
            "verification status",
        ),
        (
            retrieve("9434761050", meds()),
            403,
            "NO_PATIENT_CONSENT",
            "dissented",
        ),
        (
            retrieve(PATIENT2, meds()).claim("reason_for_request", json!("migration")),
            400,
            "BAD_REQUEST",
            "reason_for_request",
        ),
        (
            retrieve(PATIENT2, meds()).without_claim("requesting_practitioner"),
            400,
            "BAD_REQUEST",
            "requesting_practitioner",
        ),
        (
            retrieve(PATIENT2, meds())
                .header("Ssp-InteractionID", interactions::MIGRATE_STRUCTURED),
            400,
            "BAD_REQUEST",
            "Ssp-InteractionID",
        ),
    ];
    for (call, status, code, named) in cases {
        let (got, body) = call.send(&s).await;
        assert_outcome(got, &body, status, code);
        assert!(diagnostics(&body).contains(named), "{named}: {body:#}");
    }
    let mut bad_system = retrieve(PATIENT2, meds());
    bad_system = bad_system.parameters(json!({"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber", "valueIdentifier": {"system": "Invalid-System", "value": PATIENT2}},
        {"name": "includeMedication"}]}));
    let (got, body) = bad_system.send(&s).await;
    assert_outcome(got, &body, 400, "INVALID_IDENTIFIER_SYSTEM");
}

#[tokio::test]
async fn through_ssp_the_answers_are_the_same_as_directly() {
    let s = TestSandbox::start(DEFAULT).await;
    let client = s.ssp_client(SUITE_ASID);
    let target = format!(
        "{}/B82617/STU3/1/gpconnect/{PATH}",
        s.running.shared.public_url
    );
    let calls = [
        retrieve(
            PATIENT2,
            vec![
                resolved_allergies(true),
                json!({"name": "includeMedication"}),
            ],
        ),
        retrieve(
            PATIENT2,
            vec![
                json!({"name": "includeProblems"}),
                json!({"name": "madeUp"}),
            ],
        ),
        retrieve(PATIENT2, vec![json!({"name": "includeAllergies"})]),
        retrieve(PATIENT18, vec![json!({"name": "includeMedication"})]),
    ];
    for call in calls {
        let direct = call.send_to(&s, &target).await;
        let via_ssp = call.send_with(&client, &s.ssp_url(&target)).await;
        assert_eq!(direct, via_ssp);
    }
}

/// A spread of parameter combinations over every patient of every shipped scenario.
#[tokio::test]
async fn every_bundle_of_every_shipped_scenario_is_whole() {
    let combinations: Vec<Vec<Value>> = vec![
        vec![resolved_allergies(true)],
        vec![area(
            "includeMedication",
            json!([{"name": "includePrescriptionIssues", "valueBoolean": false}, {"name": "medicationSearchFromDate", "valueDate": "2024-01-01"}]),
        )],
        vec![json!({"name": "includeConsultations"})],
        vec![area(
            "includeConsultations",
            json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 2}]),
        )],
        vec![area(
            "includeProblems",
            json!([{"name": "filterStatus", "valueCode": "inactive"}]),
        )],
        vec![
            json!({"name": "includeProblems"}),
            json!({"name": "includeImmunisations"}),
        ],
        vec![
            json!({"name": "includeUncategorisedData"}),
            json!({"name": "includeInvestigations"}),
            json!({"name": "includeReferrals"}),
            json!({"name": "includeDiaryEntries"}),
        ],
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
    ];
    for scenario in ["default.yaml", "training.yaml", "pds-sandbox.yaml"] {
        let s = TestSandbox::start(&format!("scenarios/{scenario}")).await;
        let world = &s.running.shared.world;
        let mut answered = 0;
        for p in &world.patients {
            let Some(practice) = world.practice(p.record_at.as_str()) else {
                continue;
            };
            for params in &combinations {
                let mut call = retrieve(p.nhs_number.as_str(), params.clone())
                    .header("Ssp-To", practice.asid.as_str());
                call.ods = practice.ods.as_str().to_owned();
                let (status, bundle) = call.send(&s).await;
                if status != 200 {
                    assert_eq!(bundle["resourceType"], "OperationOutcome", "{bundle:#}");
                    continue;
                }
                answered += 1;
                assert_whole(&bundle, call.trace_id());
                // Every non-structure List is a requested primary List or a secondary one.
                assert!(of_type(&bundle, "OperationOutcome").is_empty());
            }
        }
        if scenario == "default.yaml" {
            assert!(
                answered >= 6 * combinations.len(),
                "only {answered} answered"
            );
        }
    }
}
