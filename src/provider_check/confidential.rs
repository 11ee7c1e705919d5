//! Confidentiality of a migrated record, judged from the two Bundles the check asks for: the one
//! without sensitive information must hold no item labelled NOPAT, must leave out every item the
//! one with sensitive information labels NOPAT, and every primary or secondary List that lost
//! such an item must say so (the confidential-items warning and its note, once each). Source: the migrate
//! specification's `includeSensitiveInformation`, and the provider assurance suite's
//! "Patient2 Excluding Sensitive Data" assertions on the warning and note.

use std::collections::HashSet;

use serde_json::Value;

use super::profiles::{list_code, warnings};
use crate::fhir::gpconnect as gpc;

/// Does `resource` carry the NOPAT security label?
pub(crate) fn nopat(resource: &Value) -> bool {
    resource["meta"]["security"]
        .as_array()
        .is_some_and(|labels| labels.iter().any(|l| l["code"] == gpc::NOPAT.0))
}

fn resources(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|e| &e["resource"])
}

fn key(r: &Value) -> Option<String> {
    Some(format!(
        "{}/{}",
        r["resourceType"].as_str()?,
        r["id"].as_str()?
    ))
}

/// What is wrong with the markings of a List: a confidential-items warning needs exactly one
/// note, the GP Connect sentence, and one warning of that code.
fn marking_problems(list: &Value, problems: &mut Vec<String>) {
    let count = warnings(list)
        .iter()
        .filter(|w| **w == gpc::CONFIDENTIAL_ITEMS)
        .count();
    if count == 0 {
        return;
    }
    let title = list["title"].as_str().unwrap_or("(untitled)");
    let notes: Vec<&str> = list["note"]
        .as_array()
        .map(|n| n.iter().filter_map(|n| n["text"].as_str()).collect())
        .unwrap_or_default();
    if count > 1 {
        problems.push(format!(
            "List '{title}' carries the confidential-items warning {count} times, not once"
        ));
    }
    if notes
        .iter()
        .filter(|n| **n == gpc::CONFIDENTIAL_ITEMS_NOTE)
        .count()
        != 1
    {
        problems.push(format!(
            "List '{title}' carries the confidential-items warning but not the note '{}' once",
            gpc::CONFIDENTIAL_ITEMS_NOTE
        ));
    }
}

/// Problems of `without` (asked with `includeSensitiveInformation` false) given `with` (asked
/// with true), which may be absent when that request failed.
pub(crate) fn problems(without: &Value, with: Option<&Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for r in resources(without).filter(|r| nopat(r)) {
        problems.push(format!(
            "{} is labelled NOPAT (confidential) though sensitive information was not asked for",
            key(r).unwrap_or_else(|| r["resourceType"].to_string())
        ));
    }
    for list in resources(without).filter(|r| r["resourceType"] == "List") {
        marking_problems(list, &mut problems);
    }
    let Some(with) = with else {
        return problems;
    };
    let present: HashSet<String> = resources(without).filter_map(key).collect();
    let confidential: HashSet<String> = resources(with)
        .filter(|r| nopat(r))
        .filter_map(key)
        .collect();
    let mut included: Vec<&String> = confidential.intersection(&present).collect();
    included.sort();
    for k in included {
        problems.push(format!(
            "{k}, labelled NOPAT when sensitive information was asked for, is in the record without it"
        ));
    }
    // Every primary or secondary List (those without an id; consultation structure Lists are
    // not asked to warn) of `with` that holds a withheld item must warn in `without`.
    let summary = |r: &&Value| r["resourceType"] == "List" && r.get("id").is_none();
    let lists_without: Vec<&Value> = resources(without).filter(summary).collect();
    for list in resources(with).filter(summary) {
        let lost = list["entry"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| e["item"]["reference"].as_str())
            .any(|r| confidential.contains(r) && !present.contains(r));
        if !lost {
            continue;
        }
        let same = |l: &&&Value| list_code(l) == list_code(list) && l["title"] == list["title"];
        let title = list["title"].as_str().unwrap_or("(untitled)");
        match lists_without.iter().find(same) {
            None => problems.push(format!(
                "List '{title}' lost a withheld item and is missing from the record without sensitive information"
            )),
            Some(l) if !warnings(l).contains(&gpc::CONFIDENTIAL_ITEMS) => problems.push(format!(
                "List '{title}' lost a withheld item but carries no confidential-items warning"
            )),
            Some(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOPAT: &str = "NOPAT";

    fn meds(entries: &[&str], warned: bool) -> Value {
        let mut l = json!({"resourceType": "List", "title": "Medications and medical devices",
            "code": {"coding": [{"code": "933361000000108"}]},
            "entry": entries.iter().map(|e| json!({"item": {"reference": e}})).collect::<Vec<_>>()});
        if warned {
            l["extension"] = json!([{"url": crate::fhir::gpconnect::extensions::LIST_WARNING_CODE,
                "valueCode": "confidential-items"}]);
            l["note"] = json!([{"text": gpc::CONFIDENTIAL_ITEMS_NOTE}]);
        }
        l
    }

    fn statement(id: &str, confidential: bool) -> Value {
        let mut s = json!({"resourceType": "MedicationStatement", "id": id});
        if confidential {
            s["meta"] = json!({"security": [{"code": NOPAT}]});
        }
        s
    }

    fn bundle(resources: Vec<Value>) -> Value {
        json!({"resourceType": "Bundle",
            "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_withheld_item_with_its_list_warned_passes() {
        let with = bundle(vec![
            statement("a", false),
            statement("b", true),
            meds(&["MedicationStatement/a", "MedicationStatement/b"], false),
        ]);
        let without = bundle(vec![
            statement("a", false),
            meds(&["MedicationStatement/a"], true),
        ]);
        assert_eq!(problems(&without, Some(&with)), Vec::<String>::new());
    }

    #[test]
    fn a_record_that_ignores_the_parameter_or_forgets_the_warning_is_named() {
        let with = bundle(vec![
            statement("b", true),
            meds(&["MedicationStatement/b"], false),
        ]);
        // The same record whatever was asked.
        let found = problems(&with, Some(&with));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("MedicationStatement/b is labelled NOPAT"));
        assert!(found[1].contains("is in the record without it"));
        // Withheld, but the List does not say so; or says so without the note.
        let silent = bundle(vec![meds(&[], false)]);
        assert_eq!(
            problems(&silent, Some(&with)),
            vec![
                "List 'Medications and medical devices' lost a withheld item but carries no confidential-items warning"
            ]
        );
        let mut no_note = meds(&[], true);
        no_note["note"] = json!([]);
        let found = problems(&bundle(vec![no_note]), None);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("but not the note"));
    }
}
