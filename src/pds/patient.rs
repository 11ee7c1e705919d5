//! The R4 Patient as PDS holds and returns it (`docs/pds.md`): built once
//! from the scenario, then changed only by PATCH. Reads and searches see redacted views of it.

use serde_json::{Map, Value, json};

use super::extensions;
use super::history::History;
use crate::fhir::systems;
use crate::scenario::demographics::{DeathNotification, RelatedPerson, Telecom};
use crate::scenario::record_details::{AddressKeys, Coverage, Period, Removal};
use crate::scenario::{Address, HumanName, Patient};

/// PDS's extension for a contact system FHIR has no code for (a textphone is `system: other`).
pub(crate) const OTHER_CONTACT_SYSTEM: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem";
const OTHER_CONTACT_SYSTEM_CODES: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem";
const ADDRESS_KEY: &str = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey";
const ADDRESS_KEY_TYPES: &str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType";
pub(crate) const REMOVAL_FROM_REGISTRATION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration";
const REMOVAL_REASON_CODES: &str = "https://fhir.nhs.uk/CodeSystem/PDS-RemovalReasonExitCode";
/// FHIR's core extension for place of birth.
pub(crate) const BIRTH_PLACE: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";

/// A stable object id (8 upper-case hex digits, the shape PDS uses, e.g. `254406A3`) for the
/// `n`th object of `element` in a scenario patient, so ids survive `POST /_admin/reset`.
pub(crate) fn stable_object_id(nhs_number: &str, element: &str, n: usize) -> String {
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
pub(crate) fn new_object_id() -> String {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    id.chars().take(8).collect()
}

/// The registered practice as PDS writes it: identifier only, no `reference` (`docs/pds.md`).
pub(crate) fn general_practitioner(id: &str, ods: &str, start: Option<&str>) -> Value {
    let mut identifier = json!({ "system": systems::ODS_ORGANIZATION_CODE, "value": ods });
    if let Some(start) = start {
        identifier["period"] = json!({ "start": start });
    }
    json!({ "id": id, "type": "Organization", "identifier": identifier })
}

/// The full record for a scenario patient at its starting version. Nothing is redacted here:
/// the store keeps everything PDS holds and [`read_view`] / [`search_view`] decide what callers
/// see. Extensions come in the order PDS's own example record has them (pharmacies, death,
/// communication, contact preferences), so a PATCH written against that record finds them at
/// the same indexes.
pub(crate) fn from_scenario(p: &Patient) -> Value {
    let nhs = p.nhs_number.as_str();
    let d = &p.demographics;
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
    let name_id = d
        .name_id
        .clone()
        .unwrap_or_else(|| stable_object_id(nhs, "name", 0));
    let details = &d.details;
    let mut name = human_name(&p.name);
    if let Some(fields) = name.as_object_mut() {
        fields.insert("id".into(), json!(name_id));
        if !details.name_suffix.is_empty() {
            fields.insert("suffix".into(), json!(details.name_suffix));
        }
        if let Some(period) = &details.name_period {
            fields.insert("period".into(), period_json(period));
        }
    }

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
            "versionId": d.version.unwrap_or(1).to_string(),
            "security": [{
                "system": systems::V3_CONFIDENTIALITY,
                "code": security_code,
                "display": security_display,
            }],
        },
        "name": [name],
        "gender": p.gender.as_str(),
        "birthDate": p.birth_date.format("%Y-%m-%d").to_string(),
    });
    if let Some(n) = d.multiple_birth {
        patient["multipleBirthInteger"] = json!(n);
    }
    let mut extension: Vec<Value> = d
        .pharmacies
        .iter()
        .map(|(kind, ods)| extensions::pharmacy(*kind, ods))
        .collect();
    if let Some(died) = p.deceased {
        let when = format!("{}T00:00:00+00:00", died.format("%Y-%m-%d"));
        patient["deceasedDateTime"] = json!(when);
        // Without a written status a scenario death is a registered one: formal (code 2), which
        // is what makes PDS refuse to change the date afterwards.
        let status = d.death_notification.unwrap_or(DeathNotification::Formal);
        extension.push(extensions::death_notification(status, &when));
    }
    extension.extend(d.communication.as_ref().map(extensions::communication));
    extension.extend(
        d.contact_preferences
            .as_ref()
            .map(extensions::contact_preferences),
    );
    if let Some(place) = &details.birth_place {
        let mut address = Map::new();
        for (key, value) in [
            ("city", &place.city),
            ("district", &place.district),
            ("country", &place.country),
        ] {
            if let Some(value) = value {
                address.insert(key.into(), json!(value));
            }
        }
        extension.push(json!({ "url": BIRTH_PLACE, "valueAddress": address }));
    }
    if let Some(removal) = &details.removal_from_registration {
        extension.push(removal_from_registration(removal));
    }
    if !extension.is_empty() {
        patient["extension"] = Value::Array(extension);
    }
    if !d.telecom.is_empty() {
        patient["telecom"] = telecom_list(&d.telecom, |i| stable_object_id(nhs, "telecom", i));
    }
    if !d.contacts.is_empty() {
        patient["contact"] = d
            .contacts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (code, display) = c.relationship;
                let mut contact = json!({
                    "id": c.id.clone().unwrap_or_else(|| stable_object_id(nhs, "contact", i)),
                    "relationship": [{ "coding": [{
                        "system": crate::scenario::demographics::V2_0131,
                        "code": code, "display": display }] }],
                    "telecom": telecom_list(&c.telecom, |_| String::new()),
                });
                if let Some(period) = &c.period {
                    contact["period"] = period_json(period);
                }
                contact
            })
            .collect();
    }
    let mut addresses = Vec::new();
    if let Some(address) = &p.address {
        let id = d
            .address_id
            .clone()
            .unwrap_or_else(|| stable_object_id(nhs, "address", 0));
        let mut home = home_address(Some(&id), address);
        if let Some(period) = &details.address_period {
            home["period"] = period_json(period);
        }
        if let Some(keys) = &details.address_keys {
            home["extension"] = address_keys(keys);
        }
        addresses.push(home);
    }
    if let Some(temp) = &details.temporary_address {
        let id = temp
            .id
            .clone()
            .unwrap_or_else(|| stable_object_id(nhs, "address", 1));
        let mut address = home_address(Some(&id), &temp.address);
        address["use"] = json!("temp");
        if let Some(text) = &temp.text {
            address["text"] = json!(text);
        }
        if let Some(period) = &temp.period {
            address["period"] = period_json(period);
        }
        if let Some(keys) = &temp.keys {
            address["extension"] = address_keys(keys);
        }
        addresses.push(address);
    }
    if !addresses.is_empty() {
        patient["address"] = Value::Array(addresses);
    }
    let gp_id = details
        .registered_with_id
        .clone()
        .unwrap_or_else(|| stable_object_id(nhs, "generalPractitioner", 0));
    let mut gp = general_practitioner(&gp_id, p.registered_with.as_str(), None);
    if let Some(period) = &details.registered_with_period {
        gp["identifier"]["period"] = period_json(period);
    }
    patient["generalPractitioner"] = json!([gp]);
    if let Some(ods) = &d.managing_organization {
        patient["managingOrganization"] = json!({ "type": "Organization", "identifier": {
            "system": systems::ODS_ORGANIZATION_CODE, "value": ods } });
        if let Some(period) = &details.managing_organization_period {
            patient["managingOrganization"]["identifier"]["period"] = period_json(period);
        }
    }
    patient
}

/// UK Core address keys: the Postcode Address File key and the UPRN.
fn address_keys(keys: &AddressKeys) -> Value {
    [("PAF", &keys.paf), ("UPRN", &keys.uprn)]
        .into_iter()
        .filter_map(|(kind, value)| {
            let value = value.as_ref()?;
            Some(json!({ "url": ADDRESS_KEY, "extension": [
                { "url": "type", "valueCoding": { "system": ADDRESS_KEY_TYPES, "code": kind } },
                { "url": "value", "valueString": value },
            ] }))
        })
        .collect()
}

/// PDS's removal-from-registration extension: the exit code and when.
fn removal_from_registration(removal: &Removal) -> Value {
    let (code, display) = removal.reason;
    let at = |d: &Option<String>| d.as_ref().map(|d| format!("{d}T00:00:00+00:00"));
    let mut when = Map::new();
    for (key, value) in [
        ("start", at(&removal.period.start)),
        ("end", at(&removal.period.end)),
    ] {
        if let Some(value) = value {
            when.insert(key.into(), json!(value));
        }
    }
    json!({ "url": REMOVAL_FROM_REGISTRATION, "extension": [
        { "url": "removalFromRegistrationCode", "valueCodeableConcept": { "coding": [{
            "system": REMOVAL_REASON_CODES, "code": code, "display": display }] } },
        { "url": "effectiveTime", "valuePeriod": when },
    ] })
}

/// A FHIR `Period` of what the scenario wrote.
fn period_json(p: &Period) -> Value {
    let mut period = Map::new();
    if let Some(start) = &p.start {
        period.insert("start".into(), json!(start));
    }
    if let Some(end) = &p.end {
        period.insert("end".into(), json!(end));
    }
    Value::Object(period)
}

/// ISO 3166 country codes (the issuing country of a card).
pub(crate) const ISO_3166: &str = "urn:iso:std:iso:3166";

/// The Coverage PDS holds for a scenario patient's card.
pub(crate) fn coverage_from_scenario(nhs_number: &str, c: &Coverage) -> Value {
    json!({
        "resourceType": "Coverage",
        "status": "active",
        "subscriber": { "identifier": { "system": systems::NHS_NUMBER, "value": nhs_number } },
        "beneficiary": { "identifier": { "value": c.personal_id } },
        "identifier": [{
            "value": c.card_number,
            "assigner": { "identifier": { "system": ISO_3166, "value": c.country } },
        }],
        "payor": [{ "identifier": { "value": c.institution } }],
        "period": { "end": c.expires },
    })
}

/// The history PDS starts with for a scenario patient: the names, addresses and contact
/// details written as historic (`super::history`).
pub(crate) fn history_from_scenario(p: &Patient) -> History {
    let details = &p.demographics.details;
    let nhs = p.nhs_number.as_str();
    History {
        name: details
            .historic_names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut name = human_name(&HumanName {
                    prefix: n.prefix.clone(),
                    given: n.given.clone(),
                    family: n.family.clone(),
                });
                name["id"] = json!(stable_object_id(nhs, "historicName", i));
                name["use"] = json!("old");
                if !n.suffix.is_empty() {
                    name["suffix"] = json!(n.suffix);
                }
                if let Some(period) = &n.period {
                    name["period"] = period_json(period);
                }
                name
            })
            .collect(),
        address: details
            .historic_addresses
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let id = stable_object_id(nhs, "historicAddress", i);
                let mut address = home_address(Some(&id), &a.address);
                if let Some(period) = &a.period {
                    address["period"] = period_json(period);
                }
                address
            })
            .collect(),
        telecom: telecom_list(&details.historic_telecom, |i| {
            stable_object_id(nhs, "historicTelecom", i)
        })
        .as_array()
        .cloned()
        .unwrap_or_default(),
    }
}

fn human_name(n: &HumanName) -> Value {
    let mut name = Map::new();
    name.insert("use".into(), json!("usual"));
    if let Some(prefix) = &n.prefix {
        name.insert("prefix".into(), json!([prefix]));
    }
    name.insert("given".into(), json!(n.given));
    name.insert("family".into(), json!(n.family));
    Value::Object(name)
}

/// Telecom items; `id_for(i)` names those without a written id (empty: no id, as in `contact`).
fn telecom_list(list: &[Telecom], id_for: impl Fn(usize) -> String) -> Value {
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let mut item = Map::new();
            let id = t.id.clone().unwrap_or_else(|| id_for(i));
            if !id.is_empty() {
                item.insert("id".into(), json!(id));
            }
            if let Some(period) = &t.period {
                item.insert("period".into(), period_json(period));
            }
            let textphone = t.system == "textphone";
            item.insert(
                "system".into(),
                json!(if textphone {
                    "other"
                } else {
                    t.system.as_str()
                }),
            );
            item.insert("value".into(), json!(t.value));
            if let Some(u) = &t.use_ {
                item.insert("use".into(), json!(u));
            }
            if textphone {
                item.insert(
                    "extension".into(),
                    json!([{ "url": OTHER_CONTACT_SYSTEM, "valueCoding": {
                        "system": OTHER_CONTACT_SYSTEM_CODES,
                        "code": "textphone",
                        "display": "Minicom (Textphone)",
                    } }]),
                );
            }
            Value::Object(item)
        })
        .collect()
}

/// The RelatedPerson resources PDS holds for a scenario patient (`GET /Patient/{nhs}/RelatedPerson`).
pub(crate) fn related_people(p: &Patient) -> Vec<Value> {
    let nhs = p.nhs_number.as_str();
    p.demographics
        .related_people
        .iter()
        .enumerate()
        .map(|(i, r)| related_person(nhs, i, r))
        .collect()
}

fn related_person(nhs: &str, i: usize, r: &RelatedPerson) -> Value {
    // PDS's object ids are per patient; the patient's NHS number keeps generated ones apart.
    let id =
        r.id.clone()
            .unwrap_or_else(|| stable_object_id(nhs, "relatedPerson", i));
    let mut person = json!({
        "id": id,
        "resourceType": "RelatedPerson",
    });
    // `patient` references the related person's own PDS record when there is one (their details
    // are then read from it). Without one the details are held here and `patient` is left out:
    // PDS's schema makes its identifier optional, and an empty object is not valid FHIR.
    if let Some(related) = &r.nhs_number {
        person["patient"] =
            json!({ "identifier": { "system": systems::NHS_NUMBER, "value": related } });
    }
    person["active"] = json!(r.active);
    if let Some(period) = &r.period {
        person["period"] = period_json(period);
    }
    if let Some(name) = &r.name {
        let mut name = human_name(name);
        if let Some(period) = &r.name_period {
            name["period"] = period_json(period);
        }
        if !r.name_suffix.is_empty() {
            name["suffix"] = json!(r.name_suffix);
        }
        person["name"] = json!([name]);
    }
    person["relationship"] = json!([{ "coding": r.relationship.iter().map(|(system, code, display)| {
        json!({ "system": system, "code": code, "display": display })
    }).collect::<Vec<_>>() }]);
    let mut extension = Vec::new();
    if let Some(copy) = r.copy_correspondence {
        extension.push(json!({ "url": extensions::COPY_CORRESPONDENCE, "valueBoolean": copy }));
    }
    if let Some(rank) = r.contact_rank {
        extension.push(json!({ "url": extensions::CONTACT_RANK, "valuePositiveInt": rank }));
    }
    extension.extend(
        r.contact_preferences
            .as_ref()
            .map(extensions::contact_preferences),
    );
    extension.extend(r.communication.as_ref().map(extensions::communication));
    if !extension.is_empty() {
        person["extension"] = Value::Array(extension);
    }
    if !r.telecom.is_empty() {
        person["telecom"] = telecom_list(&r.telecom, |_| String::new());
    }
    if let Some(address) = &r.address {
        let mut address = home_address(None, address);
        if let Some(period) = &r.address_period {
            address["period"] = period_json(period);
        }
        if let Some(keys) = &r.address_keys {
            address["extension"] = address_keys(keys);
        }
        person["address"] = json!([address]);
    }
    person
}

/// PDS keeps five unstructured lines (premises, street, locality, post town, county) and the
/// postcode; the scenario's city and district become lines 4 and 5.
fn home_address(id: Option<&str>, a: &Address) -> Value {
    let mut lines: Vec<&str> = a.lines.iter().map(String::as_str).collect();
    lines.extend(a.city.as_deref());
    lines.extend(a.district.as_deref());
    let mut address = json!({ "use": "home", "line": lines });
    if let Some(id) = id {
        address["id"] = json!(id);
    }
    if let Some(postcode) = &a.postcode {
        address["postalCode"] = json!(postcode);
    }
    address
}

/// Whether the record carries the restricted (`R`) confidentiality label.
pub(crate) fn is_restricted(patient: &Value) -> bool {
    patient["meta"]["security"]
        .as_array()
        .is_some_and(|labels| labels.iter().any(|l| l["code"] == "R" || l["code"] == "V"))
}

/// The ODS code of `generalPractitioner[0]`, the one registered practice PDS holds.
pub(crate) fn registered_practice(patient: &Value) -> Option<&str> {
    patient["generalPractitioner"][0]["identifier"]["value"].as_str()
}

/// What `GET /Patient/{nhs}` returns: the whole record, except that a restricted patient's
/// location (address, telecom, registered practice) is removed (`docs/pds.md`).
pub(crate) fn read_view(patient: &Value) -> Value {
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
pub(crate) fn search_view(patient: &Value) -> Value {
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
        // PDS's search result has no managing organisation (internal use only).
        fields.remove("managingOrganization");
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
