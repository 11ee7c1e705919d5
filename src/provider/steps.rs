//! The steps both structured operations climb (`$gpc.migratestructuredrecord`,
//! `$gpc.getstructuredrecord`): the headers with the operation's interaction id, the
//! `Parameters` body, the NHS number, the patient's state, consent and (migrate only) the
//! relationship PDS holds. Each step is one function returning the refusal; the operations put
//! them in their order and add their own parameter rules.

use bytes::Bytes;
use http::Request;
use serde_json::{Map, Value};

use super::headers::{self, SspHeaders};
use crate::fhir::{FhirError, systems};
use crate::identifiers::interactions;
use crate::jwt::Claims;
use crate::nhs_number::NhsNumber;
use crate::pds::PdsStore;
use crate::scenario::{Patient, Practice, World};

/// What the shared steps need to know of the operation they serve, for its checks and words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    /// `$gpc.migratestructuredrecord`.
    pub name: &'static str,
    /// Its `Ssp-InteractionID`.
    pub interaction: &'static str,
    /// What an empty body should have held.
    pub parameters_hint: &'static str,
    /// The operation in a sentence ("migrate").
    pub short: &'static str,
}

pub(crate) const MIGRATE: Operation = Operation {
    name: "$gpc.migratestructuredrecord",
    interaction: interactions::MIGRATE_STRUCTURED,
    parameters_hint: "patientNHSNumber and includeFullRecord",
    short: "migrate",
};

pub(crate) const GET_STRUCTURED: Operation = Operation {
    name: "$gpc.getstructuredrecord",
    interaction: interactions::GET_STRUCTURED,
    parameters_hint: "patientNHSNumber and at least one clinical area (includeAllergies, includeMedication, ...)",
    short: "getstructuredrecord",
};

/// Headers: `Ssp-*`, the operation's interaction id, `Ssp-To`, `Accept`, `Content-Type`.
pub(crate) fn check_headers(
    op: &Operation,
    practice: &Practice,
    req: &Request<Bytes>,
) -> Result<SspHeaders, FhirError> {
    let ssp = headers::check_ssp_headers(req.headers())?;
    headers::check_interaction(&ssp, req.method(), req.uri().path(), op.interaction)?;
    headers::check_addressee(&ssp, practice)?;
    headers::check_accept(req)?;
    headers::check_content_type(req.headers())?;
    Ok(ssp)
}

/// The elements an STU3 `Parameters` resource may have.
const PARAMETERS_ELEMENTS: [&str; 6] = [
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "parameter",
];

/// The body parses as a `Parameters` resource (`docs/migrate.md` rows 1 and 2).
pub(crate) fn parse_parameters_resource(
    op: &Operation,
    body: &[u8],
) -> Result<Map<String, Value>, FhirError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FhirError::invalid_resource(format!(
            "the request body is empty: send a FHIR Parameters resource with {}",
            op.parameters_hint
        )));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        FhirError::invalid_resource(format!("the request body is not a JSON FHIR resource: {e}"))
    })?;
    let Value::Object(resource) = value else {
        return Err(FhirError::invalid_resource(
            "the request body must be a JSON object (a FHIR Parameters resource)",
        ));
    };
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => {}
        Some(other) => {
            return Err(FhirError::invalid_resource(format!(
                "the request body is a {other}; {} takes a Parameters resource",
                op.name
            )));
        }
        None => {
            return Err(FhirError::invalid_resource(
                "the request body has no resourceType; it must be a Parameters resource",
            ));
        }
    }
    if let Some(key) = resource
        .keys()
        .find(|k| !PARAMETERS_ELEMENTS.contains(&k.as_str()))
    {
        return Err(FhirError::invalid_resource(format!(
            "Parameters: '{key}' is not an element of a Parameters resource"
        )));
    }
    match resource.get("parameter") {
        None | Some(Value::Array(_)) => {}
        Some(_) => {
            return Err(FhirError::invalid_resource(
                "Parameters.parameter must be an array",
            ));
        }
    }
    for (i, p) in resource
        .get("parameter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_parameter_shape(p, &format!("Parameters.parameter[{i}]"))?;
    }
    Ok(resource)
}

/// A `parameter` (or `part`) is an object with a `name` and only the elements STU3 allows.
fn check_parameter_shape(p: &Value, at: &str) -> Result<(), FhirError> {
    let Value::Object(obj) = p else {
        return Err(FhirError::invalid_resource(format!(
            "{at} must be an object"
        )));
    };
    if !obj.get("name").is_some_and(Value::is_string) {
        return Err(FhirError::invalid_resource(format!("{at} has no name")));
    }
    for key in obj.keys() {
        let allowed = matches!(
            key.as_str(),
            "name" | "id" | "extension" | "modifierExtension" | "resource" | "part"
        ) || key.starts_with("value");
        if !allowed {
            return Err(FhirError::invalid_resource(format!(
                "{at}: '{key}' is not an element of a Parameters parameter"
            )));
        }
    }
    if let Some(parts) = obj.get("part") {
        let Some(parts) = parts.as_array() else {
            return Err(FhirError::invalid_resource(format!(
                "{at}.part must be an array"
            )));
        };
        for (i, part) in parts.iter().enumerate() {
            check_parameter_shape(part, &format!("{at}.part[{i}]"))?;
        }
    }
    Ok(())
}

pub(crate) fn value_keys(obj: &Map<String, Value>) -> Vec<&str> {
    obj.keys()
        .filter(|k| k.starts_with("value"))
        .map(String::as_str)
        .collect()
}

/// `patientNHSNumber`: its identifier's system and value, not yet judged.
pub(crate) fn read_nhs_parameter(
    obj: &Map<String, Value>,
) -> Result<(Option<String>, String), FhirError> {
    if obj.contains_key("part") {
        return Err(FhirError::invalid_parameter(
            "patientNHSNumber takes a valueIdentifier, not parts",
        ));
    }
    let Some(identifier) = obj.get("valueIdentifier") else {
        return Err(match value_keys(obj).first() {
            Some(other) => FhirError::invalid_parameter(format!(
                "patientNHSNumber must be a valueIdentifier, not {other}"
            )),
            None => FhirError::invalid_parameter("patientNHSNumber has no value"),
        });
    };
    let value = identifier
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            FhirError::invalid_parameter("patientNHSNumber.valueIdentifier has no value")
        })?;
    let system = identifier
        .get("system")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((system, value.to_owned()))
}

/// The identifier system and the NHS number itself (`docs/migrate.md` row 5).
pub(crate) fn check_nhs_number(system: Option<&str>, value: &str) -> Result<NhsNumber, FhirError> {
    match system {
        Some(systems::NHS_NUMBER) => {}
        Some(other) => {
            return Err(FhirError::invalid_identifier_system(format!(
                "patientNHSNumber.valueIdentifier.system is '{other}'; it must be '{}'",
                systems::NHS_NUMBER
            )));
        }
        None => {
            return Err(FhirError::invalid_identifier_system(format!(
                "patientNHSNumber.valueIdentifier has no system; it must be '{}'",
                systems::NHS_NUMBER
            )));
        }
    }
    NhsNumber::parse(value)
        .map_err(|e| FhirError::invalid_nhs_number(format!("patientNHSNumber: {e}")))
}

/// The patient this provider holds a record for, and may share (`docs/migrate.md`
/// rows 10 to 13; README.md, "The GP Connect provider in detail").
pub(crate) fn find_patient<'w>(
    op: &Operation,
    world: &'w World,
    practice: &Practice,
    nhs: &NhsNumber,
) -> Result<&'w Patient, FhirError> {
    let Some(patient) = world.patient(nhs.as_str()) else {
        return Err(FhirError::patient_not_found(format!(
            "patientNHSNumber {nhs}: no such patient in the scenario"
        )));
    };
    if patient.record_at != practice.ods {
        return Err(FhirError::patient_not_found(format!(
            "patientNHSNumber {nhs}: {} ({}) does not hold this patient's record; it is held at {}",
            practice.ods, practice.name, patient.record_at
        )));
    }
    if let Some(died) = patient.deceased {
        return Err(FhirError::patient_not_found(format!(
            "patientNHSNumber {nhs}: the patient is deceased ({died}); {} does not return deceased patients",
            op.short
        )));
    }
    if !patient.nhs_number_verified {
        return Err(FhirError::patient_not_found(format!(
            "patientNHSNumber {nhs}: the NHS number is not at verification status 01 'Number present and verified' at this practice"
        )));
    }
    if patient.sensitive {
        return Err(FhirError::patient_not_found(format!(
            "patientNHSNumber {nhs}: the patient is sensitive (restricted) on PDS"
        )));
    }
    Ok(patient)
}

/// The patient has not dissented from sharing (`docs/migrate.md` row 14).
pub(crate) fn check_consent(patient: &Patient) -> Result<(), FhirError> {
    if patient.dissent {
        return Err(FhirError::no_patient_consent(format!(
            "patientNHSNumber {}: the patient has dissented from sharing their record",
            patient.nhs_number
        )));
    }
    Ok(())
}

/// The requesting practice is the one PDS has the patient registered at now
/// (`docs/migrate.md`; README.md, "The GP Connect provider in detail").
pub(crate) fn check_relationship(
    pds: &PdsStore,
    patient: &Patient,
    claims: &Claims,
) -> Result<(), FhirError> {
    let nhs = patient.nhs_number.as_str();
    match pds.registered_practice(nhs) {
        Some(ods) if ods == claims.requesting_ods => Ok(()),
        Some(ods) => Err(FhirError::no_relationship(format!(
            "JWT requesting_organization is {}, but PDS has patient {nhs} registered at {ods}: the new practice must change the registration on PDS (PATCH generalPractitioner) before migrating",
            claims.requesting_ods
        ))),
        None => Err(FhirError::no_relationship(format!(
            "PDS holds no registered practice for patient {nhs}, so {} cannot be its registered practice",
            claims.requesting_ods
        ))),
    }
}
