//! The R4 Patient as PDS holds and returns it (`docs/pds.md`): built once
//! from the scenario, then changed only by PATCH. Reads and searches see redacted views of it.

use serde_json::{Map, Value, json};

use crate::fhir::systems;
use crate::scenario::{Address, Patient};

/// A stable object id (8 upper-case hex digits, the shape PDS uses, e.g. `254406A3`) for the
/// `n`th object of `element` in a scenario patient, so ids survive `POST /_admin/reset`.
pub fn stable_object_id(nhs_number: &str, element: &str, n: usize) -> String {
    // FNV-1a: deterministic across runs and platforms, unlike std's RandomState.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in nhs_number
        .bytes()
        .chain(element.bytes())
        .chain(n.to_le_bytes())
    {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08X}")
}

/// An id for an object a PATCH adds: PDS assigns these itself.
pub fn new_object_id() -> String {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    id.chars().take(8).collect()
}

/// The registered practice as PDS writes it: identifier only, no `reference` (`docs/pds.md`).
pub fn general_practitioner(id: &str, ods: &str, start: Option<&str>) -> Value {
    let mut identifier = json!({ "system": systems::ODS_ORGANIZATION_CODE, "value": ods });
    if let Some(start) = start {
        identifier["period"] = json!({ "start": start });
    }
    json!({ "id": id, "type": "Organization", "identifier": identifier })
}

/// The full record for a scenario patient at version 1. Nothing is redacted here: the store
/// keeps everything PDS holds and [`read_view`] / [`search_view`] decide what callers see.
pub fn from_scenario(p: &Patient) -> Value {
    let nhs = p.nhs_number.as_str();
    let (verification_code, verification_display) = if p.nhs_number_verified {
        ("01", "Number present and verified")
    } else {
        ("02", "Number present but not traced")
    };
    let (security_code, security_display) = if p.sensitive {
        ("R", "restricted")
    } else {
        ("U", "unrestricted")
    };
    let mut name = Map::new();
    name.insert("id".into(), json!(stable_object_id(nhs, "name", 0)));
    name.insert("use".into(), json!("usual"));
    if let Some(prefix) = &p.name.prefix {
        name.insert("prefix".into(), json!([prefix]));
    }
    name.insert("given".into(), json!(p.name.given));
    name.insert("family".into(), json!(p.name.family));

    let mut patient = json!({
        "resourceType": "Patient",
        "id": nhs,
        "identifier": [{
            "system": systems::NHS_NUMBER,
            "value": nhs,
            "extension": [{
                "url": systems::NHS_NUMBER_VERIFICATION_STATUS,
                "valueCodeableConcept": { "coding": [{
                    "system": systems::NHS_NUMBER_VERIFICATION_STATUS_CODES,
                    "version": "1.0.0",
                    "code": verification_code,
                    "display": verification_display,
                }] },
            }],
        }],
        "meta": {
            "versionId": "1",
            "security": [{
                "system": systems::V3_CONFIDENTIALITY,
                "code": security_code,
                "display": security_display,
            }],
        },
        "name": [Value::Object(name)],
        "gender": p.gender.as_str(),
        "birthDate": p.birth_date.format("%Y-%m-%d").to_string(),
    });
    if let Some(died) = p.deceased {
        patient["deceasedDateTime"] = json!(format!("{}T00:00:00+00:00", died.format("%Y-%m-%d")));
        // A scenario death is a registered one: formal notification (code 2), which is what
        // makes PDS refuse to change the date afterwards.
        patient["extension"] = json!([{
            "url": systems::DEATH_NOTIFICATION_STATUS,
            "extension": [
                { "url": "deathNotificationStatus", "valueCodeableConcept": { "coding": [{
                    "system": systems::DEATH_NOTIFICATION_STATUS_CODES,
                    "version": "1.0.0",
                    "code": "2",
                    "display": "Formal - death notice received from Registrar of Deaths",
                }] } },
                { "url": "systemEffectiveDate",
                  "valueDateTime": format!("{}T00:00:00+00:00", died.format("%Y-%m-%d")) },
            ],
        }]);
    }
    if let Some(address) = &p.address {
        patient["address"] = json!([home_address(&stable_object_id(nhs, "address", 0), address)]);
    }
    patient["generalPractitioner"] = json!([general_practitioner(
        &stable_object_id(nhs, "generalPractitioner", 0),
        p.registered_with.as_str(),
        None,
    )]);
    patient
}

/// PDS keeps five unstructured lines (premises, street, locality, post town, county) and the
/// postcode; the scenario's city and district become lines 4 and 5.
fn home_address(id: &str, a: &Address) -> Value {
    let mut lines: Vec<&str> = a.lines.iter().map(String::as_str).collect();
    lines.extend(a.city.as_deref());
    lines.extend(a.district.as_deref());
    let mut address = json!({ "id": id, "use": "home", "line": lines });
    if let Some(postcode) = &a.postcode {
        address["postalCode"] = json!(postcode);
    }
    address
}

/// Whether the record carries the restricted (`R`) confidentiality label.
pub fn is_restricted(patient: &Value) -> bool {
    patient["meta"]["security"]
        .as_array()
        .is_some_and(|labels| labels.iter().any(|l| l["code"] == "R" || l["code"] == "V"))
}

/// The ODS code of `generalPractitioner[0]`, the one registered practice PDS holds.
pub fn registered_practice(patient: &Value) -> Option<&str> {
    patient["generalPractitioner"][0]["identifier"]["value"].as_str()
}

/// What `GET /Patient/{nhs}` returns: the whole record, except that a restricted patient's
/// location (address, telecom, registered practice) is removed (`docs/pds.md`).
pub fn read_view(patient: &Value) -> Value {
    let mut view = patient.clone();
    if is_restricted(patient)
        && let Some(fields) = view.as_object_mut()
    {
        for hidden in ["address", "telecom", "generalPractitioner"] {
            fields.remove(hidden);
        }
    }
    view
}

/// What a search returns for a match: the reduced Patient (usual, nickname and temporary names;
/// home address; contact details; registered GP; death details; the restricted flag), with a
/// restricted patient's location and contacts removed (`docs/pds.md`).
pub fn search_view(patient: &Value) -> Value {
    let mut view = patient.clone();
    let restricted = is_restricted(patient);
    if let Some(fields) = view.as_object_mut() {
        keep_items(fields, "name", |n| {
            matches!(n["use"].as_str(), Some("usual" | "nickname" | "temp"))
        });
        keep_items(fields, "address", |a| a["use"] == "home");
        keep_items(fields, "extension", |e| {
            e["url"] == systems::DEATH_NOTIFICATION_STATUS
        });
        if restricted {
            for hidden in ["address", "telecom", "contact", "generalPractitioner"] {
                fields.remove(hidden);
            }
        }
    }
    view
}

/// Keeps the items of list `element` that pass `keep`, dropping the element when none do.
fn keep_items(fields: &mut Map<String, Value>, element: &str, keep: impl Fn(&Value) -> bool) {
    let Some(Value::Array(items)) = fields.get_mut(element) else {
        return;
    };
    items.retain(|item| keep(item));
    if items.is_empty() {
        fields.remove(element);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_stable_and_pds_shaped() {
        let a = stable_object_id("9690937286", "name", 0);
        assert_eq!(a, stable_object_id("9690937286", "name", 0));
        assert_ne!(a, stable_object_id("9690937286", "address", 0));
        assert_eq!(a.len(), 8);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert_eq!(new_object_id().len(), 8);
    }

    #[test]
    fn restricted_read_view_hides_location() {
        let patient = json!({
            "meta": { "security": [{ "code": "R" }] },
            "address": [{}], "telecom": [{}], "generalPractitioner": [{}], "gender": "female"
        });
        let view = read_view(&patient);
        assert!(view.get("address").is_none());
        assert!(view.get("telecom").is_none());
        assert!(view.get("generalPractitioner").is_none());
        assert_eq!(view["gender"], "female");
    }

    #[test]
    fn search_view_keeps_only_searchable_names_and_home_address() {
        let patient = json!({
            "meta": { "security": [{ "code": "U" }] },
            "name": [{ "use": "usual" }, { "use": "old" }],
            "address": [{ "use": "home" }, { "use": "temp" }],
            "extension": [{ "url": "x" }],
        });
        let view = search_view(&patient);
        assert_eq!(view["name"].as_array().map(Vec::len), Some(1));
        assert_eq!(view["address"].as_array().map(Vec::len), Some(1));
        assert!(view.get("extension").is_none());
    }
}
