//! Every parameter rule: defaults, each refusal with its Spine code and the parameter named in
//! its diagnostics, the not-permitted combinations and their predefined exceptions, and the
//! unrecognised parameters collected for the warning.

use serde_json::{Value, json};

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn nhs() -> Value {
    json!({"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9690937286"}})
}

fn with(params: Vec<Value>) -> Result<Query, FhirError> {
    let mut all = vec![nhs()];
    all.extend(params);
    let body = json!({"resourceType": "Parameters", "parameter": all});
    read(body.as_object().unwrap(), today())
}

fn area(name: &str, parts: Value) -> Value {
    json!({"name": name, "part": parts})
}

fn refused(params: Vec<Value>, code: &str, named: &str) {
    let e = with(params.clone()).expect_err(&format!("{params:?} accepted"));
    assert_eq!(e.code, code, "{e}");
    assert!(e.diagnostics.contains(named), "{named} not in: {e}");
}

#[test]
fn defaults_of_each_area() {
    let q = with(vec![
        area(
            "includeAllergies",
            json!([{"name": "includeResolvedAllergies", "valueBoolean": false}]),
        ),
        json!({"name": "includeMedication"}),
        json!({"name": "includeImmunisations"}),
        json!({"name": "includeDiaryEntries"}),
        json!({"name": "includeInvestigations"}),
    ])
    .unwrap();
    assert_eq!(q.allergies, Some(false));
    assert_eq!(
        q.medication,
        Some(Medication {
            issues: true,
            from: None
        })
    );
    assert_eq!(
        q.immunisations,
        Some(Immunisations {
            not_given: false,
            status: true
        })
    );
    assert_eq!(q.diary, Some(None));
    assert_eq!(q.investigations, Some(Period::default()));
    assert!(q.unrecognised.is_empty());
}

#[test]
fn nhs_number_and_an_area_are_required() {
    let body = json!({"resourceType": "Parameters", "parameter": [{"name": "includeMedication"}]});
    let e = read(body.as_object().unwrap(), today()).unwrap_err();
    assert_eq!(e.code, "INVALID_PARAMETER");
    assert!(e.diagnostics.contains("patientNHSNumber"));
    refused(vec![], "INVALID_PARAMETER", "No clinical area");
    refused(vec![nhs()], "INVALID_RESOURCE", "patientNHSNumber");
}

#[test]
fn include_resolved_allergies_is_mandatory() {
    refused(
        vec![json!({"name": "includeAllergies"})],
        "INVALID_PARAMETER",
        "includeAllergies.includeResolvedAllergies",
    );
    refused(
        vec![area(
            "includeAllergies",
            json!([{"name": "madeUp", "valueBoolean": true}]),
        )],
        "INVALID_PARAMETER",
        "includeResolvedAllergies",
    );
}

#[test]
fn parts_without_value_or_of_the_wrong_type() {
    refused(
        vec![area(
            "includeAllergies",
            json!([{"name": "includeResolvedAllergies"}]),
        )],
        "INVALID_PARAMETER",
        "includeAllergies.includeResolvedAllergies has no value",
    );
    refused(
        vec![area(
            "includeAllergies",
            json!([{"name": "includeResolvedAllergies", "valueString": "true"}]),
        )],
        "INVALID_PARAMETER",
        "must be a valueBoolean, not valueString",
    );
    refused(
        vec![area(
            "includeMedication",
            json!([{"name": "includePrescriptionIssues", "valueBoolean": null}]),
        )],
        "INVALID_PARAMETER",
        "includeMedication.includePrescriptionIssues",
    );
    refused(
        vec![json!({"name": "includeMedication", "valueBoolean": true})],
        "INVALID_PARAMETER",
        "includeMedication takes parts only",
    );
}

#[test]
fn a_part_twice_is_invalid_resource() {
    refused(
        vec![area(
            "includeMedication",
            json!([{"name": "includePrescriptionIssues", "valueBoolean": true}, {"name": "includePrescriptionIssues", "valueBoolean": false}]),
        )],
        "INVALID_RESOURCE",
        "includeMedication.includePrescriptionIssues",
    );
    refused(
        vec![
            json!({"name": "includeMedication"}),
            json!({"name": "includeMedication"}),
        ],
        "INVALID_RESOURCE",
        "includeMedication",
    );
}

#[test]
fn dates_must_be_whole_and_not_future() {
    for bad in [
        "2014",
        "2014-02",
        "X2014",
        "null",
        "StartDate",
        "",
        "2014-02-01T10:00:00Z",
        "2014-02-30",
    ] {
        refused(
            vec![area(
                "includeMedication",
                json!([{"name": "medicationSearchFromDate", "valueDate": bad}]),
            )],
            "INVALID_PARAMETER",
            "includeMedication.medicationSearchFromDate",
        );
    }
    refused(
        vec![area(
            "includeMedication",
            json!([{"name": "medicationSearchFromDate", "valueDate": "2025-06-02"}]),
        )],
        "INVALID_PARAMETER",
        "after today",
    );
    let q = with(vec![area(
        "includeMedication",
        json!([{"name": "medicationSearchFromDate", "valueDate": "2025-06-01"}]),
    )])
    .unwrap();
    assert_eq!(q.medication.unwrap().from, Some(today()));
}

#[test]
fn periods_of_each_area() {
    for (param, part) in [
        ("includeConsultations", "consultationSearchPeriod"),
        ("includeUncategorisedData", "uncategorisedDataSearchPeriod"),
        ("includeInvestigations", "investigationSearchPeriod"),
        ("includeReferrals", "referralSearchPeriod"),
    ] {
        let named = format!("{param}.{part}");
        let p = |v: Value| vec![area(param, json!([{"name": part, "valuePeriod": v}]))];
        refused(
            p(json!({"start": "2025-06-02"})),
            "INVALID_PARAMETER",
            &format!("{named}.start"),
        );
        refused(
            p(json!({"end": "2025-06-02"})),
            "INVALID_PARAMETER",
            &format!("{named}.end"),
        );
        refused(
            p(json!({"start": "2025-02-01", "end": "2025-01-01"})),
            "INVALID_PARAMETER",
            &named,
        );
        refused(
            p(json!({"start": "2014"})),
            "INVALID_PARAMETER",
            &format!("{named}.start"),
        );
        refused(
            p(json!({"start": ""})),
            "INVALID_PARAMETER",
            &format!("{named}.start"),
        );
        refused(p(json!({})), "INVALID_PARAMETER", &named);
        refused(
            vec![area(param, json!([{"name": part}]))],
            "INVALID_PARAMETER",
            &named,
        );
        // Today, at both ends, is allowed.
        assert!(
            with(p(json!({"start": "2025-06-01", "end": "2025-06-01"}))).is_ok(),
            "{named}"
        );
        assert!(with(p(json!({"start": "2025-01-01"}))).is_ok());
        assert!(with(p(json!({"end": "2025-01-01"}))).is_ok());
    }
}

#[test]
fn consultations_period_or_most_recent_not_both() {
    refused(
        vec![area(
            "includeConsultations",
            json!([{"name": "consultationSearchPeriod", "valuePeriod": {"start": "2025-01-01"}}, {"name": "includeNumberOfMostRecent", "valuePositiveInt": 3}]),
        )],
        "INVALID_RESOURCE",
        "consultationSearchPeriod and includeNumberOfMostRecent",
    );
    for bad in [json!(0), json!(-1), json!("3"), json!(1.5)] {
        refused(
            vec![area(
                "includeConsultations",
                json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": bad}]),
            )],
            "INVALID_PARAMETER",
            "includeConsultations.includeNumberOfMostRecent",
        );
    }
    let q = with(vec![area(
        "includeConsultations",
        json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 1}]),
    )])
    .unwrap();
    assert_eq!(q.consultations, Some(Consultations::MostRecent(1)));
}

#[test]
fn problem_filters_and_repeated_pairs() {
    for bad in ["resolved", "recurrence", "remission", "null", "off", ""] {
        refused(
            vec![area(
                "includeProblems",
                json!([{"name": "filterStatus", "valueCode": bad}]),
            )],
            "INVALID_PARAMETER",
            "includeProblems.filterStatus",
        );
    }
    for bad in ["HIGH", "null", "off", "low"] {
        refused(
            vec![area(
                "includeProblems",
                json!([{"name": "filterSignificance", "valueCode": bad}]),
            )],
            "INVALID_PARAMETER",
            "includeProblems.filterSignificance",
        );
    }
    let q = with(vec![
        area("includeProblems", json!([{"name": "filterStatus", "valueCode": "active"}, {"name": "filterSignificance", "valueCode": "major"}])),
        area("includeProblems", json!([{"name": "filterStatus", "valueCode": "inactive"}, {"name": "filterSignificance", "valueCode": "minor"}])),
    ])
    .unwrap();
    assert_eq!(q.problems.len(), 2);
    assert_eq!(q.problems[1].significance, Some(Significance::Minor));
}

#[test]
fn diary_date_today_or_later() {
    refused(
        vec![area(
            "includeDiaryEntries",
            json!([{"name": "diaryEntriesSearchDate", "valueDate": "2025-05-31"}]),
        )],
        "INVALID_PARAMETER",
        "includeDiaryEntries.diaryEntriesSearchDate",
    );
    for ok in ["2025-06-01", "2035-06-01"] {
        let q = with(vec![area(
            "includeDiaryEntries",
            json!([{"name": "diaryEntriesSearchDate", "valueDate": ok}]),
        )])
        .unwrap();
        assert!(q.diary.unwrap().is_some());
    }
}

fn restricted_parts() -> Vec<(&'static str, Value)> {
    vec![
        (
            "includeMedication",
            json!({"name": "medicationSearchFromDate", "valueDate": "2025-01-01"}),
        ),
        (
            "includeUncategorisedData",
            json!({"name": "uncategorisedDataSearchPeriod", "valuePeriod": {"start": "2025-01-01"}}),
        ),
        (
            "includeReferrals",
            json!({"name": "referralSearchPeriod", "valuePeriod": {"start": "2025-01-01"}}),
        ),
        (
            "includeDiaryEntries",
            json!({"name": "diaryEntriesSearchDate", "valueDate": "2025-07-01"}),
        ),
        (
            "includeImmunisations",
            json!({"name": "includeNotGiven", "valueBoolean": true}),
        ),
        (
            "includeImmunisations",
            json!({"name": "includeStatus", "valueBoolean": false}),
        ),
    ]
}

#[test]
fn not_permitted_with_consultations_or_problems() {
    for with_area in ["includeConsultations", "includeProblems"] {
        for (param, part) in restricted_parts() {
            let named = format!("{param}.{}", part["name"].as_str().unwrap());
            refused(
                vec![json!({"name": with_area}), area(param, json!([part]))],
                "INVALID_PARAMETER",
                &named,
            );
        }
    }
    // The problems filters: not with consultations, but with problems of course.
    refused(
        vec![
            json!({"name": "includeConsultations"}),
            area(
                "includeProblems",
                json!([{"name": "filterStatus", "valueCode": "active"}]),
            ),
        ],
        "INVALID_PARAMETER",
        "includeProblems.filterStatus",
    );
    assert!(
        with(vec![area(
            "includeProblems",
            json!([{"name": "filterStatus", "valueCode": "active"}])
        )])
        .is_ok()
    );
    // Never restricted.
    assert!(with(vec![
        json!({"name": "includeConsultations"}),
        area("includeInvestigations", json!([{"name": "investigationSearchPeriod", "valuePeriod": {"start": "2025-01-01"}}])),
        area("includeAllergies", json!([{"name": "includeResolvedAllergies", "valueBoolean": true}])),
    ])
    .is_ok());
}

fn predefined(extra: Vec<Value>) -> Vec<Value> {
    let mut v = vec![
        area(
            "includeConsultations",
            json!([{"name": "includeNumberOfMostRecent", "valuePositiveInt": 3}]),
        ),
        json!({"name": "includeProblems"}),
        area(
            "includeAllergies",
            json!([{"name": "includeResolvedAllergies", "valueBoolean": true}]),
        ),
        area(
            "includeMedication",
            json!([{"name": "medicationSearchFromDate", "valueDate": "2024-06-01"}]),
        ),
    ];
    v.extend(extra);
    v
}

#[test]
fn the_predefined_multi_area_searches_are_allowed() {
    assert!(with(predefined(vec![])).is_ok());
    assert!(
        with(predefined(vec![
            json!({"name": "includeImmunisations"}),
            json!({"name": "includeUncategorisedData"})
        ]))
        .is_ok()
    );
    // Half of the second shape, or anything more, is not one of them.
    refused(
        predefined(vec![json!({"name": "includeImmunisations"})]),
        "INVALID_PARAMETER",
        "includeMedication.medicationSearchFromDate",
    );
    refused(
        predefined(vec![json!({"name": "includeReferrals"})]),
        "INVALID_PARAMETER",
        "includeMedication.medicationSearchFromDate",
    );
}

#[test]
fn unrecognised_parameters_and_parts_are_collected_not_refused() {
    let q = with(vec![
        area("includeAllergies", json!([{"name": "includeResolvedAllergies", "valueBoolean": true}, {"name": "includePrescriptionIssues", "valueBoolean": true}])),
        area("madeUp", json!([{"name": "a"}, {"name": "b"}])),
        json!({"name": "consultationSearchPeriod", "valuePeriod": {"start": "2025-01-01"}}),
        area("includeMedication", json!([{"name": "filterPrescriptionType", "valueCode": "acute"}])),
    ])
    .unwrap();
    assert_eq!(
        q.unrecognised,
        [
            "includeAllergies.includePrescriptionIssues",
            "madeUp",
            "consultationSearchPeriod",
            "includeMedication.filterPrescriptionType"
        ]
    );
}
