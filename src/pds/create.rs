//! `POST /Patient` (`docs/pds.md`, "Create a patient"): a new record with a newly allocated NHS
//! number, for a patient a search could not find. PDS first looks for the patient itself: one
//! record with the same demographics answers 200 `SINGLE_MATCH` naming its NHS number, several
//! 200 `MULTIPLE_MATCHES`, and nothing is created. Otherwise the record is created at version 1
//! with the next free number of the scenario's allocation range (`pds: nhs_number_allocation`).

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Map, Value, json};

use super::search::normalise_postcode;
use super::{BASE_PATH, Pds, check_headers, patch, patient};
use crate::fhir::{FhirError, OutcomeStyle, SpineCode, systems};

/// The extension that says who registers the patient; required, not kept on the record.
pub(crate) const REGISTERING_AUTHORITY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-RegisteringAuthority";

/// What a create request may hold (PDS's `PatientCreateRequest`: no other properties).
const ALLOWED: [&str; 7] = [
    "resourceType",
    "name",
    "gender",
    "birthDate",
    "address",
    "telecom",
    "extension",
];

/// Extensions a new record keeps; PDS accepts the others listed in its schema but does not
/// store them.
const KEPT_EXTENSIONS: [&str; 2] = [
    super::extensions::COMMUNICATION,
    super::extensions::CONTACT_PREFERENCE,
];

fn missing(field: &str) -> FhirError {
    FhirError::new(
        SpineCode::MissingValue,
        format!("Missing value - '{field}'"),
    )
}

fn invalid(value: &Value, field: &str) -> FhirError {
    let shown = value
        .as_str()
        .map_or_else(|| value.to_string().replace('"', "'"), str::to_owned);
    FhirError::new(
        SpineCode::InvalidValue,
        format!("Invalid value - '{shown}' in field '{field}'"),
    )
}

/// Checks a create request in the order PDS reports problems: missing elements, their shapes,
/// unknown properties, the registering authority, then the rules a change to a record must
/// keep. Returns the body as the record's starting content (without identity or meta).
pub(crate) fn check_request(body: &[u8], today: chrono::NaiveDate) -> Result<Value, FhirError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        FhirError::new(
            SpineCode::InvalidValue,
            format!("Invalid value - the body is not JSON ({e})"),
        )
    })?;
    let Some(fields) = body.as_object() else {
        return Err(FhirError::new(
            SpineCode::InvalidValue,
            "Invalid value - the body must be a Patient (a JSON object)",
        ));
    };
    for element in ["name", "address", "gender", "birthDate"] {
        if fields.get(element).is_none_or(Value::is_null) {
            return Err(missing(element));
        }
    }
    let address = &body["address"][0];
    if address.is_array() {
        return Err(invalid(address, "address/0"));
    }
    if !address.is_object() {
        return Err(invalid(&body["address"], "address"));
    }
    if address.get("period").is_none() {
        return Err(missing("address/0/period"));
    }
    let names = body["name"].as_array().filter(|n| n.len() == 1);
    let Some(name) = names.and_then(|n| n.first()) else {
        return Err(invalid(&body["name"], "name"));
    };
    match name.get("given") {
        Some(Value::Array(given)) if given.iter().all(|g| g.as_str().is_some_and(name_text_ok)) => {
        }
        Some(Value::Array(given)) => {
            let bad = given
                .iter()
                .find(|g| !g.as_str().is_some_and(name_text_ok))
                .unwrap_or(&Value::Null);
            return Err(invalid(bad, "name/0/given"));
        }
        Some(other) => return Err(invalid(other, "name/0/given")),
        None => {}
    }
    match name.get("family") {
        Some(Value::String(f)) if name_text_ok(f) => {}
        Some(other) => return Err(invalid(other, "name/0/family")),
        None => return Err(missing("name/0/family")),
    }
    match body["gender"].as_str() {
        Some("male" | "female" | "unknown") => {}
        _ => return Err(invalid(&body["gender"], "gender")),
    }
    let born = body["birthDate"]
        .as_str()
        .filter(|d| d.len() == 10)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    if born.is_none_or(|b| b > today) {
        return Err(invalid(&body["birthDate"], "birthDate"));
    }
    if let Some(extra) = fields.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(FhirError::new(
            SpineCode::AdditionalProperties,
            format!(
                "Additional properties are not allowed ('{extra}' was unexpected); a create request holds {}",
                ALLOWED.join(", ")
            ),
        ));
    }
    if let Some(kind) = body.get("resourceType")
        && kind != "Patient"
    {
        return Err(invalid(kind, "resourceType"));
    }
    let extensions = body["extension"].as_array();
    let registered = extensions
        .into_iter()
        .flatten()
        .any(|e| e["url"] == REGISTERING_AUTHORITY);
    if !registered {
        return Err(FhirError::new(
            SpineCode::MissingValue,
            format!(
                "Missing value - 'extension' (a create needs the {REGISTERING_AUTHORITY} extension)"
            ),
        ));
    }

    let mut record = Map::new();
    let mut name = name.clone();
    if name.get("use").is_none() {
        name["use"] = json!("usual");
    }
    if name["use"] != "usual" {
        return Err(invalid(&name["use"], "name/0/use"));
    }
    record.insert("name".into(), json!([name]));
    record.insert("gender".into(), body["gender"].clone());
    record.insert("birthDate".into(), body["birthDate"].clone());
    let addresses: Vec<Value> = body["address"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let mut a = a.clone();
            // PDS drops blank address lines.
            if let Some(lines) = a.get_mut("line").and_then(Value::as_array_mut) {
                lines.retain(|l| l.as_str().is_none_or(|l| !l.trim().is_empty()));
            }
            a
        })
        .collect();
    record.insert("address".into(), Value::Array(addresses));
    if let Some(telecom) = body.get("telecom") {
        record.insert("telecom".into(), telecom.clone());
    }
    let kept: Vec<Value> = extensions
        .into_iter()
        .flatten()
        .filter(|e| KEPT_EXTENSIONS.iter().any(|k| e["url"] == *k))
        .cloned()
        .collect();
    if !kept.is_empty() {
        record.insert("extension".into(), Value::Array(kept));
    }
    let mut record = Value::Object(record);
    patch::assign_new_ids(&mut record);
    Ok(record)
}

/// PDS refuses names with characters outside its set (e.g. a backtick).
fn name_text_ok(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars().count() <= 35
        && s.chars().all(|c| c.is_alphabetic() || " -'.,".contains(c))
}

/// The NHS numbers of held records with these demographics: the same birth date, gender and
/// family name, the same first given name (when both have one) and a home address with the
/// same postcode.
fn matches(pds: &Pds, wanted: &Value) -> Vec<String> {
    let lower = |v: &Value| v.as_str().map(|s| s.trim().to_lowercase());
    let family = lower(&wanted["name"][0]["family"]);
    let given = lower(&wanted["name"][0]["given"][0]);
    let postcodes: Vec<String> = wanted["address"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["postalCode"].as_str().map(normalise_postcode))
        .collect();
    let mut found = pds.store.scan(|p, _| {
        let same = p["birthDate"] == wanted["birthDate"]
            && p["gender"] == wanted["gender"]
            && p["name"].as_array().into_iter().flatten().any(|n| {
                lower(&n["family"]) == family
                    && (given.is_none()
                        || n["given"][0].is_null()
                        || lower(&n["given"][0]) == given)
            })
            && p["address"].as_array().into_iter().flatten().any(|a| {
                a["postalCode"]
                    .as_str()
                    .is_some_and(|pc| postcodes.contains(&normalise_postcode(pc)))
            });
        same.then(|| p["id"].as_str().unwrap_or_default().to_owned())
    });
    found.sort();
    found
}

/// A 200 OperationOutcome: PDS found the patient instead of creating one.
fn found(code: &str, display: &str, diagnostics: String) -> Response<Bytes> {
    let mut outcome =
        FhirError::new(SpineCode::InvalidValue, diagnostics).with_status(StatusCode::OK);
    outcome.code = code.to_owned();
    outcome.display = display.to_owned();
    outcome.to_response(OutcomeStyle::Pds)
}

/// `POST /Patient`: headers, the body's checks, the match, then the allocation.
pub(crate) fn create_patient(
    pds: &Pds,
    req: &Request<Bytes>,
) -> Result<Response<Bytes>, FhirError> {
    check_headers(req.headers())?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(
        media_type.to_ascii_lowercase().as_str(),
        "application/json" | "application/fhir+json"
    ) {
        return Err(FhirError::new(
            SpineCode::UnsupportedService,
            format!(
                "Invalid request with error - Content-Type '{content_type}' is not supported; send the Patient as 'application/json'"
            ),
        ));
    }
    let today = pds.clock.now().date_naive();
    let mut record = check_request(req.body(), today)?;
    let rules = patch::UpdateRules {
        world: &pds.world,
        today,
    };
    patch::check_business_rules(&json!({}), &mut record, &rules)?;
    match matches(pds, &record).as_slice() {
        [] => {}
        [one] => {
            return Ok(found(
                "SINGLE_MATCH",
                "Single match found",
                format!(
                    "Unable to create new patient. NHS number {one} found for supplied demographic data."
                ),
            ));
        }
        _ => {
            return Ok(found(
                "MULTIPLE_MATCHES",
                "Multiple matches found",
                "Unable to create new patient. Multiple matches found for supplied demographic data."
                    .into(),
            ));
        }
    }
    let created = pds
        .store
        .create(pds.world.pds.nhs_number_allocation, |nhs| {
            new_record(nhs, record)
        })
        .ok_or_else(|| {
            let (first, last) = pds.world.pds.nhs_number_allocation;
            let mut e = FhirError::new(
                SpineCode::InvalidValue,
                format!(
                    "no NHS number left to allocate: every valid number from {first:010} to {last:010} is held (widen the scenario's pds: nhs_number_allocation, or reset)"
                ),
            )
            .with_status(StatusCode::SERVICE_UNAVAILABLE);
            e.code = "SERVICE_UNAVAILABLE".into();
            e.display = "Service unavailable".into();
            e.issue_type = "transient";
            e
        })?;
    let (nhs, created) = created;
    tracing::info!(nhs = %nhs, "PDS patient created.");
    let location = format!("{}{BASE_PATH}/Patient/{nhs}", pds.public_url);
    let mut resp = super::patient_response(created);
    *resp.status_mut() = StatusCode::CREATED;
    if let Ok(location) = HeaderValue::from_str(&location) {
        resp.headers_mut()
            .insert(header::CONTENT_LOCATION, location);
    }
    Ok(resp)
}

/// The whole record for a created patient: identity, meta at version 1, then the request's
/// content.
fn new_record(nhs: &str, content: Value) -> Value {
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
                    "code": "01",
                    "display": "Number present and verified",
                }] },
            }],
        }],
        "meta": {
            "versionId": "1",
            "security": [{
                "system": systems::V3_CONFIDENTIALITY,
                "code": "U",
                "display": "unrestricted",
            }],
        },
    });
    if let (Some(fields), Value::Object(content)) = (patient.as_object_mut(), content) {
        fields.extend(content);
    }
    debug_assert!(!patient::is_restricted(&patient));
    patient
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    fn request() -> Value {
        json!({
            "name": [{ "use": "usual", "given": ["Jane"], "family": "Edwards", "period": { "start": "1986-07-01" } }],
            "address": [{ "line": ["1 Trevelyan Square", "", "Leeds"], "postalCode": "LS1 6AE", "use": "home",
                          "period": { "start": "2020-01-01" } }],
            "gender": "female",
            "birthDate": "1982-07-10",
            "extension": [{ "url": REGISTERING_AUTHORITY, "extension": [] }],
        })
    }

    fn refusal(body: Value) -> String {
        check_request(body.to_string().as_bytes(), today())
            .unwrap_err()
            .diagnostics
    }

    #[test]
    fn requests_are_checked_in_pds_order() {
        assert_eq!(refusal(json!({ "bananas": 1 })), "Missing value - 'name'");
        assert_eq!(
            refusal(json!({ "name": [{ "family": "Smith" }] })),
            "Missing value - 'address'"
        );
        let mut body = request();
        body["address"][0].as_object_mut().unwrap().remove("period");
        assert_eq!(refusal(body), "Missing value - 'address/0/period'");
        let mut body = request();
        body["gender"] = json!("other");
        assert_eq!(refusal(body), "Invalid value - 'other' in field 'gender'");
        let mut body = request();
        body["birthDate"] = json!("not-a-date");
        assert_eq!(
            refusal(body),
            "Invalid value - 'not-a-date' in field 'birthDate'"
        );
        let mut body = request();
        body["name"][0]["given"] = json!(["O`Brien"]);
        assert_eq!(
            refusal(body),
            "Invalid value - 'O`Brien' in field 'name/0/given'"
        );
        let mut body = request();
        body["pets"] = json!(["cat"]);
        assert!(refusal(body).contains("'pets'"));
        let mut body = request();
        body.as_object_mut().unwrap().remove("extension");
        assert!(refusal(body).starts_with("Missing value - 'extension'"));
    }

    #[test]
    fn blank_lines_go_and_ids_are_given() {
        let record = check_request(request().to_string().as_bytes(), today()).unwrap();
        assert_eq!(
            record["address"][0]["line"],
            json!(["1 Trevelyan Square", "Leeds"])
        );
        assert_eq!(record["name"][0]["id"].as_str().map(str::len), Some(8));
        assert!(
            record.get("extension").is_none(),
            "registering authority not kept"
        );
    }
}
