//! A migrate Bundle against FHIR STU3 and the GP Connect profiles, checked in Rust: the
//! elements STU3 makes mandatory for each resource type the Bundle carries, ids of the STU3
//! `id` pattern, each resource declaring its GP Connect profile, the Lists shaped as the
//! CareConnect-GPC-List-1 profile asks, and a primary List for every clinical area, whose
//! absence would tell the receiving practice "nothing recorded" where the provider sent nothing.
//!
//! Sources: <https://hl7.org/fhir/STU3/resourcelist.html> (cardinalities),
//! <https://developer.nhs.uk/apis/gpconnect-1-6-0/accessrecord_structured_development_list.html>
//! (Lists) and the migrate specification's response (one List per clinical area).

use serde_json::Value;

use crate::fhir::gpconnect::{self as gpc, code_systems, extensions, lists, profiles as p};
use crate::fhir::systems;

/// For each resource type a migrate Bundle carries: its GP Connect profile and the elements
/// STU3 requires of it (`medication[x]` as its reference form, the one GP Connect uses).
const TYPES: [(&str, &str, &[&str]); 20] = [
    ("Patient", p::PATIENT, &["identifier"]),
    ("Organization", p::ORGANIZATION, &[]),
    ("Practitioner", p::PRACTITIONER, &[]),
    ("PractitionerRole", p::PRACTITIONER_ROLE, &[]),
    ("Location", p::LOCATION, &[]),
    ("List", p::LIST, &["status", "mode"]),
    (
        "MedicationStatement",
        p::MEDICATION_STATEMENT,
        &["status", "medicationReference", "subject", "taken"],
    ),
    (
        "MedicationRequest",
        p::MEDICATION_REQUEST,
        &["status", "intent", "medicationReference", "subject"],
    ),
    ("Medication", p::MEDICATION, &[]),
    (
        "AllergyIntolerance",
        p::ALLERGY_INTOLERANCE,
        &["verificationStatus", "patient"],
    ),
    ("Encounter", p::ENCOUNTER, &["status"]),
    ("Observation", p::OBSERVATION, &["status", "code"]),
    ("Condition", p::PROBLEM_HEADER, &["subject"]),
    (
        "Immunization",
        p::IMMUNIZATION,
        &[
            "status",
            "notGiven",
            "vaccineCode",
            "patient",
            "primarySource",
        ],
    ),
    (
        "DiagnosticReport",
        p::DIAGNOSTIC_REPORT,
        &["status", "code"],
    ),
    (
        "ProcedureRequest",
        p::PROCEDURE_REQUEST,
        &["status", "intent", "code", "subject"],
    ),
    ("Specimen", p::SPECIMEN, &["subject"]),
    (
        "ReferralRequest",
        p::REFERRAL_REQUEST,
        &["status", "intent", "subject"],
    ),
    (
        "DocumentReference",
        p::DOCUMENT_REFERENCE,
        &["status", "type", "indexed", "content"],
    ),
    ("HealthcareService", p::HEALTHCARE_SERVICE, &[]),
];

/// The List warning codes GP Connect defines (`GPConnect-ListWarningCode-1`).
const WARNINGS: [&str; 4] = [
    gpc::CONFIDENTIAL_ITEMS,
    "data-in-transit",
    "data-awaiting-filing",
    "data-in-transit-and-awaiting-filing",
];

/// Every way `bundle` (a migrate answer for `nhs`) falls short of STU3 and the profiles.
pub fn problems(bundle: &Value, nhs: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let entries = bundle["entry"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if !declares(bundle, p::BUNDLE) {
        problems.push(format!(
            "the Bundle's meta.profile does not name {}",
            p::BUNDLE
        ));
    }
    for (i, entry) in entries.iter().enumerate() {
        resource(&entry["resource"], i, &mut problems);
    }
    let patients: Vec<&Value> = of_type(entries, "Patient").collect();
    if !patients.iter().any(|p| has_nhs_number(p, nhs)) {
        problems.push(format!(
            "no Patient carries the NHS number {nhs} (identifier system {})",
            systems::NHS_NUMBER
        ));
    }
    let lists: Vec<&Value> = of_type(entries, "List").collect();
    for (code, title) in lists::PRIMARY {
        let found = lists.iter().filter(|l| list_code(l) == Some(code)).count();
        match found {
            1 => {}
            0 => problems.push(format!(
                "no '{title}' List (SNOMED {code}): every clinical area has its List, empty or not"
            )),
            n => problems.push(format!(
                "{n} '{title}' Lists (SNOMED {code}): one per clinical area"
            )),
        }
    }
    for list in lists {
        list_shape(list, &mut problems);
    }
    problems
}

fn of_type<'a>(entries: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    entries
        .iter()
        .map(|e| &e["resource"])
        .filter(move |r| r["resourceType"] == kind)
}

fn declares(resource: &Value, profile: &str) -> bool {
    resource["meta"]["profile"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p == profile))
}

fn has_nhs_number(patient: &Value, nhs: &str) -> bool {
    patient["identifier"].as_array().is_some_and(|ids| {
        ids.iter()
            .any(|i| i["system"] == systems::NHS_NUMBER && i["value"] == nhs)
    })
}

/// The SNOMED code (or secondary List code) of a List.
pub(crate) fn list_code(list: &Value) -> Option<&str> {
    list["code"]["coding"]
        .as_array()?
        .iter()
        .find_map(|c| c["code"].as_str())
}

/// The label used in messages: `Type/id`, or `Type at entry N` when there is no id.
fn label(r: &Value, i: usize) -> String {
    let kind = r["resourceType"].as_str().unwrap_or("?");
    match r["id"].as_str() {
        Some(id) => format!("{kind}/{id}"),
        None => match r["title"].as_str() {
            Some(title) => format!("{kind} '{title}'"),
            None => format!("{kind} at entry {i}"),
        },
    }
}

fn resource(r: &Value, i: usize, problems: &mut Vec<String>) {
    let Some(kind) = r["resourceType"].as_str() else {
        problems.push(format!("entry {i} has no resource with a resourceType"));
        return;
    };
    let name = label(r, i);
    if let Some(id) = r.get("id")
        && !id.as_str().is_some_and(valid_id)
    {
        problems.push(format!(
            "{name}: id {id} does not match the STU3 id pattern [A-Za-z0-9-.]{{1,64}}"
        ));
    }
    let Some((_, profile, required)) = TYPES.iter().find(|(t, _, _)| *t == kind) else {
        problems.push(format!(
            "{name}: a {kind} is not a resource a GP Connect structured record carries"
        ));
        return;
    };
    if !declares(r, profile) {
        problems.push(format!("{name}: meta.profile does not name {profile}"));
    }
    for element in *required {
        if absent(&r[*element]) {
            problems.push(format!(
                "{name}: {element} is missing (STU3 requires it of a {kind})"
            ));
        }
    }
}

fn absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The STU3 `id` type: 1 to 64 of `A-Z a-z 0-9 - .`.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// CareConnect-GPC-List-1: a code, the subject, `current` and `snapshot` (what a migrate
/// extract sends) and known warning codes; a primary or secondary List also a title, and when
/// empty, why.
fn list_shape(list: &Value, problems: &mut Vec<String>) {
    let title = list["title"].as_str().unwrap_or_default();
    // Consultation structure Lists (they carry an id) may be untitled (a topic without one).
    let summary = list.get("id").is_none();
    let name = match (title.is_empty(), list["id"].as_str()) {
        (false, _) => format!("List '{title}'"),
        (true, Some(id)) => format!("List/{id}"),
        (true, None) => "a List".to_owned(),
    };
    if summary && title.is_empty() {
        problems.push(format!("{name} has no title"));
    }
    if list_code(list).is_none() {
        problems.push(format!("{name} has no code"));
    }
    if list["subject"]["reference"].as_str().is_none() {
        problems.push(format!("{name} has no subject reference"));
    }
    if list["status"] != "current" || list["mode"] != "snapshot" {
        problems.push(format!(
            "{name}: status {} and mode {}, not current and snapshot",
            list["status"], list["mode"]
        ));
    }
    for code in warnings(list) {
        if !WARNINGS.contains(&code) {
            problems.push(format!(
                "{name}: warning code '{code}' is not a GP Connect one"
            ));
        }
    }
    let empty = list["entry"].as_array().is_none_or(Vec::is_empty);
    if summary && empty && list["emptyReason"]["coding"][0]["code"] != gpc::NO_CONTENT_RECORDED.0 {
        problems.push(format!(
            "{name} is empty without emptyReason {} ({})",
            gpc::NO_CONTENT_RECORDED.0,
            code_systems::LIST_EMPTY_REASON
        ));
    }
}

/// The warning codes of a List (`Extension-CareConnect-GPC-ListWarningCode-1`).
pub(crate) fn warnings(list: &Value) -> Vec<&str> {
    list["extension"]
        .as_array()
        .map(|ext| {
            ext.iter()
                .filter(|e| e["url"] == extensions::LIST_WARNING_CODE)
                .filter_map(|e| e["valueCode"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(code: &str, title: &str) -> Value {
        json!({"resourceType": "List", "meta": {"profile": [p::LIST]}, "status": "current",
            "mode": "snapshot", "title": title, "code": {"coding": [{"code": code}]},
            "subject": {"reference": "Patient/1"},
            "emptyReason": {"coding": [{"code": "no-content-recorded"}]}})
    }

    fn bundle(mut resources: Vec<Value>) -> Value {
        resources.insert(
            0,
            json!({"resourceType": "Patient", "id": "1", "meta": {"profile": [p::PATIENT]},
                "identifier": [{"system": systems::NHS_NUMBER, "value": "9690937286"}]}),
        );
        json!({"resourceType": "Bundle", "meta": {"profile": [p::BUNDLE]}, "type": "collection",
            "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
    }

    fn all_areas() -> Vec<Value> {
        lists::PRIMARY.iter().map(|(c, t)| list(c, t)).collect()
    }

    #[test]
    fn a_bundle_with_every_area_s_list_and_its_profiles_passes() {
        assert_eq!(
            problems(&bundle(all_areas()), "9690937286"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_missing_area_a_missing_element_and_a_bad_id_are_named() {
        let mut resources: Vec<Value> = all_areas().into_iter().skip(1).collect();
        resources.push(json!({"resourceType": "Condition", "id": "bad_id",
            "meta": {"profile": [p::PROBLEM_HEADER]}}));
        resources.push(json!({"resourceType": "Observation", "id": "o",
            "status": "final", "code": {}}));
        let found = problems(&bundle(resources), "9690937286");
        assert_eq!(
            found,
            vec![
                "Condition/bad_id: id \"bad_id\" does not match the STU3 id pattern [A-Za-z0-9-.]{1,64}",
                "Condition/bad_id: subject is missing (STU3 requires it of a Condition)",
                &format!(
                    "Observation/o: meta.profile does not name {}",
                    p::OBSERVATION
                ),
                "no 'Allergies and adverse reactions' List (SNOMED 886921000000105): every clinical area has its List, empty or not",
            ]
        );
        assert!(problems(&bundle(all_areas()), "9434761018")[0].contains("no Patient carries"));
    }

    #[test]
    fn a_list_empty_without_reason_or_with_an_unknown_warning_is_named() {
        let mut resources = all_areas();
        resources[0]["emptyReason"] = Value::Null;
        resources[1]["extension"] = json!([{"url": extensions::LIST_WARNING_CODE,
            "valueCode": "secret"}]);
        let found = problems(&bundle(resources), "9690937286");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("'Allergies and adverse reactions' is empty without emptyReason")
        );
        assert!(found[1].contains("warning code 'secret'"));
    }
}
