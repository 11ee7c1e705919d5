//! What a migrate Bundle must be, whoever built it: a `collection` of resources each present
//! once, every reference resolving inside the Bundle, and the clinical areas as Lists.

use std::collections::HashSet;

use serde_json::Value;

/// Every problem found in `bundle`, as sentences; empty when it is sound.
pub(crate) fn problems(bundle: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if bundle["resourceType"] != "Bundle" {
        return vec![format!(
            "the answer is a {}, not a Bundle",
            bundle["resourceType"].as_str().unwrap_or("non-FHIR body")
        )];
    }
    if bundle["type"] != "collection" {
        problems.push(format!("Bundle.type is {}, not collection", bundle["type"]));
    }
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    let mut ids = HashSet::new();
    for entry in &entries {
        let r = &entry["resource"];
        // A resource without an id (a List, in some suppliers' Bundles) cannot be referred to.
        let Some(id) = r["id"].as_str() else {
            continue;
        };
        let key = format!("{}/{id}", r["resourceType"].as_str().unwrap_or("?"));
        if !ids.insert(key.clone()) {
            problems.push(format!("{key} appears more than once"));
        }
    }
    if !entries
        .iter()
        .any(|e| e["resource"]["resourceType"] == "List")
    {
        problems.push("no List: each clinical area is a List".into());
    }
    if !entries
        .iter()
        .any(|e| e["resource"]["resourceType"] == "Patient")
    {
        problems.push("no Patient".into());
    }
    let mut dangling = Vec::new();
    for entry in &entries {
        let from = format!(
            "{}/{}",
            entry["resource"]["resourceType"].as_str().unwrap_or("?"),
            entry["resource"]["id"].as_str().unwrap_or("?")
        );
        references(&entry["resource"], &mut |reference| {
            // Relative references only: `Type/id` must be an entry; absolute and contained
            // (`#id`) ones are not the Bundle's to resolve.
            if reference.starts_with('#') || reference.contains("://") {
                return;
            }
            if !ids.contains(reference) {
                dangling.push(format!(
                    "{from} refers to {reference}, which is not in the Bundle"
                ));
            }
        });
    }
    dangling.sort();
    dangling.dedup();
    problems.extend(dangling);
    problems
}

/// Calls `found` with every `reference` string in `value`.
fn references(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("reference", Value::String(s)) => found(s),
                    _ => references(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// The attachment URL of every DocumentReference in `bundle`, and whether it is labelled
/// NOPAT (confidential).
pub(crate) fn documents(bundle: &Value) -> Vec<(String, bool)> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| &e["resource"])
                .filter(|r| r["resourceType"] == "DocumentReference")
                .filter_map(|r| {
                    let url = r["content"][0]["attachment"]["url"].as_str()?;
                    Some((url.to_owned(), super::confidential::nopat(r)))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundle(extra: Value) -> Value {
        json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "1"}},
            {"resource": {"resourceType": "List", "id": "l", "subject": {"reference": "Patient/1"}}},
            {"resource": extra},
        ]})
    }

    #[test]
    fn a_sound_bundle_has_no_problems() {
        let b = bundle(json!({"resourceType": "Condition", "id": "c",
            "subject": {"reference": "Patient/1"}, "x": {"reference": "#contained"}}));
        assert_eq!(problems(&b), Vec::<String>::new());
    }

    #[test]
    fn dangling_references_and_duplicates_are_named() {
        let b = bundle(json!({"resourceType": "Condition", "id": "c",
            "evidence": [{"detail": [{"reference": "Observation/missing"}]}]}));
        assert_eq!(
            problems(&b),
            vec!["Condition/c refers to Observation/missing, which is not in the Bundle"]
        );
        let b = bundle(json!({"resourceType": "Patient", "id": "1"}));
        assert_eq!(problems(&b), vec!["Patient/1 appears more than once"]);
        assert_eq!(
            problems(&json!({"resourceType": "OperationOutcome"})),
            vec!["the answer is a OperationOutcome, not a Bundle"]
        );
    }
}
