use chrono::NaiveDate;
use serde_json::{Value, json};

use super::*;
use crate::identifiers::{Asid, OdsCode};
use crate::nhs_number::NhsNumber;
use crate::pds::patient;
use crate::scenario::{Gender, HumanName, Patient, Practice, Record, World};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn practice(ods: &str, asid: &str) -> Practice {
    Practice {
        interactions: vec![],
        ..Practice::new(
            OdsCode::parse(ods).unwrap(),
            Asid::parse(asid).unwrap(),
            "Practice",
        )
    }
}

fn world() -> World {
    World {
        practices: vec![
            practice("B82617", "918999198738"),
            practice("A20047", "200000000359"),
        ],
        patients: vec![Patient {
            registration: Default::default(),
            nhs_number: NhsNumber::parse("9690937286").unwrap(),
            name: HumanName {
                prefix: Some("Mrs".into()),
                given: vec!["Ada".into()],
                family: "Lovelace".into(),
            },
            gender: Gender::Female,
            birth_date: date("1985-03-12"),
            address: None,
            registered_with: OdsCode::parse("B82617").unwrap(),
            record_at: OdsCode::parse("B82617").unwrap(),
            usual_gp: None,
            sensitive: false,
            nhs_number_verified: true,
            deceased: None,
            dissent: false,
            record: Record::default(),
            demographics: Default::default(),
        }],
        ..World::empty(date("2025-06-01"))
    }
}

fn run(patches: Value) -> Result<Value, FhirError> {
    let w = world();
    let current = patient::from_scenario(&w.patients[0]);
    let patches = read_patches(&serde_json::to_vec(&json!({ "patches": patches })).unwrap())?;
    let ops = parse_ops(&patches)?;
    apply(
        &current,
        &ops,
        &UpdateRules {
            world: &w,
            today: date("2025-06-01"),
        },
    )
}

fn gp_id() -> String {
    patient::stable_object_id("9690937286", "generalPractitioner", 0)
}

fn new_gp(id: Option<&str>, ods: &str) -> Value {
    let mut v = json!({ "type": "Organization",
        "identifier": { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": ods,
                        "period": { "start": "2025-05-01" } } });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

#[test]
fn the_specifications_example_changes_the_practice() {
    let out = run(json!([
        { "op": "test", "path": "/generalPractitioner/0/id", "value": gp_id() },
        { "op": "replace", "path": "/generalPractitioner/0", "value": new_gp(Some(&gp_id()), "A20047") }
    ]))
    .unwrap();
    assert_eq!(patient::registered_practice(&out), Some("A20047"));
    assert_eq!(out["generalPractitioner"][0]["id"], gp_id());
}

#[test]
fn replacing_the_practice_without_its_id_is_refused_with_the_id_named() {
    let e = run(json!([
        { "op": "replace", "path": "/generalPractitioner/0", "value": new_gp(None, "A20047") }
    ]))
    .unwrap_err();
    assert_eq!(e.code, "INVALID_UPDATE");
    assert!(e.diagnostics.contains(&gp_id()), "{e}");
}

#[test]
fn a_wrong_object_id_is_refused_as_pds_words_it() {
    let e = run(json!([
        { "op": "replace", "path": "/generalPractitioner/0", "value": new_gp(Some("456"), "A20047") }
    ]))
    .unwrap_err();
    assert_eq!(
        e.diagnostics,
        "Invalid update with error - no 'generalPractitioner' resources with object id 456"
    );
}

#[test]
fn an_unknown_practice_is_refused_naming_the_code() {
    let e = run(json!([
        { "op": "replace", "path": "/generalPractitioner/0", "value": new_gp(Some(&gp_id()), "Z99999") }
    ]))
    .unwrap_err();
    assert_eq!(e.code, "INVALID_VALUE");
    assert!(e.diagnostics.contains("'Z99999'"), "{e}");
    assert!(
        e.diagnostics
            .contains("generalPractitioner/0/identifier/value")
    );
}

#[test]
fn a_period_end_is_refused() {
    let mut gp = new_gp(Some(&gp_id()), "A20047");
    gp["identifier"]["period"]["end"] = json!("2026-01-01");
    let e = run(json!([{ "op": "replace", "path": "/generalPractitioner/0", "value": gp }]))
        .unwrap_err();
    assert_eq!(e.code, "INVALID_UPDATE");
    assert!(e.diagnostics.contains("period/end"), "{e}");
}

#[test]
fn a_future_start_is_refused_and_a_missing_period_starts_today() {
    let mut gp = new_gp(Some(&gp_id()), "A20047");
    gp["identifier"]["period"]["start"] = json!("2030-01-01");
    let e = run(json!([{ "op": "replace", "path": "/generalPractitioner/0", "value": gp }]))
        .unwrap_err();
    assert!(e.diagnostics.contains("future"), "{e}");

    let mut gp = new_gp(Some(&gp_id()), "A20047");
    gp["identifier"].as_object_mut().unwrap().remove("period");
    let out =
        run(json!([{ "op": "replace", "path": "/generalPractitioner/0", "value": gp }])).unwrap();
    assert_eq!(
        out["generalPractitioner"][0]["identifier"]["period"]["start"],
        "2025-06-01"
    );
}

#[test]
fn removing_the_practice_is_forbidden_but_remove_then_add_changes_it() {
    let e = run(json!([
        { "op": "test", "path": "/generalPractitioner/0/id", "value": gp_id() },
        { "op": "remove", "path": "/generalPractitioner/0" }
    ]))
    .unwrap_err();
    assert_eq!(e.code, "FORBIDDEN_UPDATE");
    assert_eq!(e.status, http::StatusCode::FORBIDDEN);

    let out = run(json!([
        { "op": "test", "path": "/generalPractitioner/0/id", "value": gp_id() },
        { "op": "remove", "path": "/generalPractitioner/0" },
        { "op": "add", "path": "/generalPractitioner/-", "value": new_gp(None, "A20047") }
    ]))
    .unwrap();
    assert_eq!(patient::registered_practice(&out), Some("A20047"));
    assert_eq!(
        out["generalPractitioner"][0]["id"].as_str().map(str::len),
        Some(8)
    );
}

#[test]
fn a_remove_needs_a_test_immediately_before_it() {
    let e = run(json!([{ "op": "remove", "path": "/generalPractitioner/0" }])).unwrap_err();
    assert_eq!(e.code, "INVALID_UPDATE");
    assert!(
        e.diagnostics.contains("immediately preceded by a 'test'"),
        "{e}"
    );
}

#[test]
fn adding_a_second_practice_is_refused() {
    let e = run(
        json!([{ "op": "add", "path": "/generalPractitioner/-", "value": new_gp(None, "A20047") }]),
    )
    .unwrap_err();
    assert!(
        e.diagnostics.contains("only a single general practice"),
        "{e}"
    );
    let e = run(
        json!([{ "op": "add", "path": "/generalPractitioner/0", "value": new_gp(None, "A20047") }]),
    )
    .unwrap_err();
    assert!(e.diagnostics.contains("'/generalPractitioner/-'"), "{e}");
}

#[test]
fn a_failed_test_names_path_and_values() {
    let e = run(json!([
        { "op": "test", "path": "/generalPractitioner/0/identifier/value", "value": "A20047" },
    ]))
    .unwrap_err();
    assert_eq!(e.code, "INVALID_UPDATE");
    assert!(
        e.diagnostics
            .contains("test failed at '/generalPractitioner/0/identifier/value'"),
        "{e}"
    );
    assert!(e.diagnostics.contains("\"B82617\""), "{e}");
}

#[test]
fn sub_field_changes_need_the_object_id_first() {
    let e = run(json!([
        { "op": "replace", "path": "/generalPractitioner/0/identifier/value", "value": "A20047" }
    ]))
    .unwrap_err();
    assert!(e.diagnostics.contains("needs the object id"), "{e}");
    let out = run(json!([
        { "op": "test", "path": "/generalPractitioner/0/id", "value": gp_id() },
        { "op": "replace", "path": "/generalPractitioner/0/identifier/value", "value": "A20047" }
    ]))
    .unwrap();
    assert_eq!(patient::registered_practice(&out), Some("A20047"));
}

#[test]
fn op_names_and_fields_are_named_by_index() {
    let e = run(json!([{ "op": "move", "path": "/gender", "from": "/x" }])).unwrap_err();
    assert_eq!(e.diagnostics, "Invalid value - 'move' in field '0/op'");
    let e = run(json!([
        { "op": "replace", "path": "/gender", "value": "male" },
        { "op": "copy", "path": "/gender" }
    ]))
    .unwrap_err();
    assert_eq!(e.diagnostics, "Invalid value - 'copy' in field '1/op'");
    let e = run(json!([{ "op": "replace", "path": "/gender" }])).unwrap_err();
    assert_eq!(e.diagnostics, "Missing value - '0/value'");
    let e = run(json!([{ "op": "replace", "value": "male" }])).unwrap_err();
    assert_eq!(e.diagnostics, "Missing value - '0/path'");
    let e = run(json!([{ "op": "replace", "path": "gender", "value": "male" }])).unwrap_err();
    assert_eq!(e.diagnostics, "Invalid value - 'gender' in field '0/path'");
}

#[test]
fn no_patches_is_pds_s_invalid_update() {
    for body in [
        json!({}),
        json!({ "patches": [] }),
        json!([{ "op": "test" }]),
    ] {
        let e = read_patches(&serde_json::to_vec(&body).unwrap()).unwrap_err();
        assert_eq!(e.code, "INVALID_UPDATE");
        assert!(
            e.diagnostics
                .starts_with("Invalid update with error - No patches found"),
            "{e}"
        );
    }
    let e = read_patches(b"{not json").unwrap_err();
    assert!(e.diagnostics.contains("not JSON"), "{e}");
}

#[test]
fn identity_paths_are_forbidden_and_unknown_ones_invalid() {
    let e = run(json!([{ "op": "replace", "path": "/id", "value": "9000000009" }])).unwrap_err();
    assert_eq!(e.code, "FORBIDDEN_UPDATE");
    let e = run(json!([{ "op": "replace", "path": "/identifier/0/value", "value": "9000000009" }]))
        .unwrap_err();
    assert_eq!(e.code, "FORBIDDEN_UPDATE");
    let e = run(json!([{ "op": "add", "path": "/favouriteColour", "value": "blue" }])).unwrap_err();
    assert_eq!(e.code, "INVALID_UPDATE");
    assert!(e.diagnostics.contains("'/favouriteColour'"), "{e}");
}

#[test]
fn gender_and_birth_date_rules() {
    assert_eq!(
        run(json!([{ "op": "replace", "path": "/gender", "value": "male" }])).unwrap()["gender"],
        "male"
    );
    let e = run(json!([{ "op": "remove", "path": "/gender" }])).unwrap_err();
    assert!(e.diagnostics.contains("gender cannot be removed"));
    let e = run(json!([{ "op": "replace", "path": "/gender", "value": "other" }])).unwrap_err();
    assert!(e.diagnostics.contains("'other'"));
    let e = run(json!([{ "op": "replace", "path": "/gender", "value": "f" }])).unwrap_err();
    assert_eq!(e.diagnostics, "Invalid value - 'f' in field 'gender'");
    let e =
        run(json!([{ "op": "replace", "path": "/birthDate", "value": "2099-01-01" }])).unwrap_err();
    assert!(e.diagnostics.contains("future"));
    let e =
        run(json!([{ "op": "replace", "path": "/birthDate", "value": "12/03/1985" }])).unwrap_err();
    assert_eq!(
        e.diagnostics,
        "Invalid value - '12/03/1985' in field 'birthDate'"
    );
}

#[test]
fn a_failing_op_leaves_nothing_applied() {
    let w = world();
    let current = patient::from_scenario(&w.patients[0]);
    let before = current.clone();
    let ops = parse_ops(&[
        json!({ "op": "replace", "path": "/gender", "value": "male" }),
        json!({ "op": "replace", "path": "/nope", "value": 1 }),
    ])
    .unwrap();
    let rules = UpdateRules {
        world: &w,
        today: date("2025-06-01"),
    };
    assert!(apply(&current, &ops, &rules).is_err());
    assert_eq!(current, before);
}

#[test]
fn telecom_can_be_started_and_names_keep_one_usual() {
    let out = run(json!([
        { "op": "add", "path": "/telecom/-", "value": { "system": "phone", "value": "01632960587", "use": "home" } }
    ]))
    .unwrap();
    assert_eq!(out["telecom"][0]["value"], "01632960587");
    assert!(out["telecom"][0]["id"].is_string());
    let e = run(json!([
        { "op": "add", "path": "/name/-", "value": { "use": "usual", "family": "Byron" } }
    ]))
    .unwrap_err();
    assert_eq!(e.code, "FORBIDDEN_UPDATE");
    assert_eq!(
        e.diagnostics,
        "Forbidden update with error - multiple usual names cannot be added"
    );
}
