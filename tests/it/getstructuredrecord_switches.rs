//! What the world can hold beyond the record itself, and how `$gpc.getstructuredrecord` answers
//! it: a record still in transit from the previous practice (`data-in-transit` on every List),
//! data awaiting filing (`data-awaiting-filing` on its area's Lists), Access Record Structured
//! switched off at the practice (403 `ACCESS DENIED`) and clinical areas switched off (a warning
//! per area, none of its items sent).

use serde_json::{Value, json};
use spine_sandbox::{World, load_paths, load_str};

use crate::getstructuredrecord::{area, assert_whole, resolved_allergies, retrieve};
use crate::support::*;

const HAPPY: &str = "9434761018";
const WARNING_URL: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1";
const IN_TRANSIT_NOTE: &str = "Patient record transfer from previous GP practice not yet complete; information recorded before 05-Mar-2024 may be missing.";
const AWAITING_NOTE: &str = "Patient data may be incomplete as there is data supplied by a third party awaiting review before becoming available.";

/// The default world with `edits` made to its YAML (each an exact, unique text).
fn world_with(name: &str, edits: &[(&str, &str)]) -> World {
    let mut text = std::fs::read_to_string(repo_path("scenarios/default.yaml")).unwrap();
    for (old, new) in edits {
        assert_eq!(text.matches(old).count(), 1, "{old}");
        text = text.replacen(old, new, 1);
    }
    let dir = temp_dir(name);
    std::fs::write(dir.join("default.yaml"), text).unwrap();
    std::fs::create_dir_all(dir.join("documents")).unwrap();
    for entry in std::fs::read_dir(repo_path("scenarios/documents")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("documents").join(path.file_name().unwrap())).unwrap();
    }
    load_paths(&[dir.join("default.yaml")], start_day()).unwrap()
}

/// The start of Miss Priya Sharma's (9434761018) record.
const HAPPY_RECORD: &str = "      problems:\n        - { id: p1, code: { snomed: \"195967001\"";

/// Her record with `field` added before its problems.
fn happy_record_with(field: &str) -> String {
    format!("      {field}\n{HAPPY_RECORD}")
}

fn warnings(list: &Value) -> Vec<&str> {
    list["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == WARNING_URL)
        .filter_map(|e| e["valueCode"].as_str())
        .collect()
}

fn note(list: &Value) -> &str {
    list["note"][0]["text"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_record_in_transit_warns_on_every_primary_and_secondary_list() {
    let world = world_with(
        "in-transit",
        &[(
            HAPPY_RECORD,
            happy_record_with("in_transit_since: 2024-03-05").as_str(),
        )],
    );
    let s = TestSandbox::start_world(world).await;
    let call = retrieve(
        HAPPY,
        vec![
            resolved_allergies(true),
            area("includeProblems", json!([])),
            area("includeConsultations", json!([])),
            area("includeInvestigations", json!([])),
        ],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    assert_whole(&bundle, call.trace_id());
    let lists = of_type(&bundle, "List");
    let (structure, warned): (Vec<&Value>, Vec<&Value>) = lists
        .into_iter()
        .partition(|l| l.get("encounter").is_some());
    assert!(
        warned.len() >= 5,
        "primary and secondary Lists: {}",
        warned.len()
    );
    for l in &warned {
        assert!(
            warnings(l).contains(&"data-in-transit"),
            "{}: {:?}",
            l["title"],
            l["extension"]
        );
        assert!(
            note(l).contains(IN_TRANSIT_NOTE),
            "{}: {}",
            l["title"],
            note(l)
        );
        assert_eq!(l["note"].as_array().unwrap().len(), 1, "List.note is 0..1");
    }
    assert!(!structure.is_empty());
    for l in &structure {
        assert!(
            warnings(l).is_empty(),
            "consultation structure Lists carry no warning"
        );
    }
    // An empty List says why it is empty and that the record is in transit.
    let investigations = lists_titled(&bundle, "Investigations and results")[0];
    assert_eq!(
        investigations["emptyReason"]["coding"][0]["code"],
        "no-content-recorded"
    );
    assert_eq!(note(investigations), IN_TRANSIT_NOTE);
    // The Problems List lost the confidential problem too: both warnings, both texts, one note.
    let problems = lists_titled(&bundle, "Problems")[0];
    assert_eq!(
        warnings(problems),
        ["confidential-items", "data-in-transit"]
    );
    assert_eq!(
        note(problems),
        format!(
            "Items excluded due to confidentiality and/or patient preferences. {IN_TRANSIT_NOTE}"
        )
    );
}

#[tokio::test]
async fn data_awaiting_filing_warns_on_its_areas_lists_only() {
    let world = world_with(
        "awaiting-filing",
        &[(
            HAPPY_RECORD,
            happy_record_with("awaiting_filing: [investigations, allergies]").as_str(),
        )],
    );
    let s = TestSandbox::start_world(world).await;
    let call = retrieve(
        HAPPY,
        vec![
            resolved_allergies(true),
            area("includeInvestigations", json!([])),
            area("includeMedication", json!([])),
        ],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    for title in [
        "Allergies and adverse reactions",
        "Ended allergies",
        "Investigations and results",
    ] {
        let l = lists_titled(&bundle, title)[0];
        assert_eq!(warnings(l), ["data-awaiting-filing"], "{title}");
        assert_eq!(note(l), AWAITING_NOTE, "{title}");
    }
    let meds = lists_titled(&bundle, "Medications and medical devices")[0];
    assert!(warnings(meds).is_empty(), "{meds:#}");
}

#[tokio::test]
async fn access_record_structured_switched_off_is_access_denied() {
    let world = world_with(
        "not-enabled",
        &[(
            "  - ods: B82617\n",
            "  - ods: B82617\n    structured_enabled: false\n",
        )],
    );
    let s = TestSandbox::start_world(world).await;
    let (status, outcome) = retrieve(HAPPY, vec![resolved_allergies(false)])
        .send(&s)
        .await;
    assert_eq!(status, 403, "{outcome:#}");
    assert_eq!(spine_code(&outcome), "ACCESS DENIED");
    assert!(diagnostics(&outcome).contains("B82617"), "{outcome:#}");
    // Before the body is read: even a request with no parameters gets the same answer.
    let (status, _) = retrieve(HAPPY, vec![]).send(&s).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn switched_off_areas_are_warned_about_and_never_sent() {
    let world = world_with(
        "disabled-areas",
        &[(
            "  - ods: B82617\n",
            "  - ods: B82617\n    disabled_areas: [medication, diary]\n",
        )],
    );
    let s = TestSandbox::start_world(world).await;
    let call = retrieve(
        HAPPY,
        vec![
            resolved_allergies(false),
            area("includeMedication", json!([])),
            area("includeProblems", json!([])),
            area("includeMadeUp", json!([])),
        ],
    );
    let (status, bundle) = call.send(&s).await;
    assert_eq!(status, 200, "{bundle:#}");
    assert_whole(&bundle, call.trace_id());
    for kind in [
        "MedicationStatement",
        "MedicationRequest",
        "Medication",
        "ProcedureRequest",
    ] {
        assert!(of_type(&bundle, kind).is_empty(), "{kind} sent");
    }
    assert!(lists_titled(&bundle, "Medications and medical devices").is_empty());
    assert_eq!(lists_titled(&bundle, "Problems").len(), 1);
    let outcomes = of_type(&bundle, "OperationOutcome");
    assert_eq!(outcomes.len(), 1, "one OperationOutcome for every warning");
    let issues: Vec<(&str, &str)> = outcomes[0]["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["severity"], "warning");
            assert_eq!(i["code"], "not-supported");
            assert_eq!(i["details"]["coding"][0]["code"], "NOT_IMPLEMENTED");
            (
                i["details"]["text"].as_str().unwrap(),
                i["diagnostics"].as_str().unwrap(),
            )
        })
        .collect();
    // Asthma links the inhalers and the asthma review in the diary: both areas are named,
    // the one asked for and the one only linked.
    assert_eq!(
        issues,
        [
            (
                "includeMadeUp is an unrecognised parameter",
                "includeMadeUp"
            ),
            ("includeMedication has been disabled", "includeMedication"),
            (
                "includeDiaryEntries has been disabled",
                "includeDiaryEntries"
            ),
        ]
    );
}

#[test]
fn the_scenario_names_each_switch_and_refuses_a_wrong_one() {
    let text = r#"
practices:
  - { ods: B82617, name: Old Street Surgery, asid: "918999198738", disabled_areas: [allergies, referals, allergies] }
patients:
  - nhs_number: "9690937286"
    name: { given: [Margaret], family: Whitfield }
    gender: female
    birth_date: 1958-07-23
    registered_with: B82617
    record: { in_transit_since: 2024-13-01, awaiting_filing: [documents] }
"#;
    let errors: Vec<String> = load_str("t.yaml", text, start_day())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let all = errors.join("\n");
    assert!(all.contains("t.yaml:3:"), "{all}");
    for says in [
        "unknown clinical area 'referals'",
        "clinical area 'allergies' is named twice",
        "documents have no List to warn on",
        "2024-13-01",
    ] {
        assert!(all.contains(says), "{says} missing from:\n{all}");
    }
}
