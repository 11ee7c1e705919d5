//! `POST [structured]/Patient/$gpc.migratestructuredrecord` (`docs/migrate.md`): the
//! validation ladder, one function per rung, in the order `docs/migrate.md` recommends:
//!
//! 1. `Ssp-*` headers, `Ssp-InteractionID` matching the operation, `Ssp-To`, `Accept`,
//!    `Content-Type` (400 / 415);
//! 2. the JWT, every claim of `docs/jwt.md` (400 / 422);
//! 3. the body is a `Parameters` resource (422 `INVALID_RESOURCE`);
//! 4. its parameters (422 `INVALID_PARAMETER`), then the NHS number (400 `INVALID_NHS_NUMBER`);
//! 5. `includeSensitiveInformation` against the scope's `conf/N` / `conf/R` (400
//!    `CONFLICTING_VALUES`);
//! 6. the patient: unknown, not held here, deceased, unverified, sensitive (404
//!    `PATIENT_NOT_FOUND`);
//! 7. dissent (403 `NO_PATIENT_CONSENT`);
//! 8. the requesting ODS code against the registered practice PDS holds now (403
//!    `NO_RELATIONSHIP`).
//!
//! Then the Bundle ([`super::record`]), from [`super::cache`] when the same record was asked for
//! before. No enablement or clinical-area switch applies (section 3.4).

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Map, Value};

use super::Provider;
use super::cache;
use super::headers::{self, SspHeaders};
use super::record::{self, BundleRequest};
use crate::fhir::{FHIR_JSON, FhirError, systems};
use crate::identifiers::interactions;
use crate::jwt::{Claims, Confidentiality, Rules};
use crate::nhs_number::NhsNumber;
use crate::pds::PdsStore;
use crate::scenario::{Patient, Practice, World};

/// What a request that climbed every rung asks for.
pub struct Approved<'w> {
    pub ssp: SspHeaders,
    pub claims: Claims,
    pub patient: &'w Patient,
    pub include_sensitive: bool,
}

/// The operation: the ladder, then the Bundle.
pub fn handle(
    provider: &Provider,
    practice: &Practice,
    req: &Request<Bytes>,
) -> Result<Response<crate::http::Pieces>, FhirError> {
    let approved = ladder(provider, practice, req)?;
    let patient = approved.patient;
    let nhs_number = patient.nhs_number.as_str();
    let key = cache::Key {
        practice: practice.ods.as_str().to_owned(),
        nhs_number: nhs_number.to_owned(),
        include_sensitive: approved.include_sensitive,
    };
    let documents_base = record::documents_base(&provider.public_url, practice.ods.as_str());
    let bundle = provider.migrate_cache.bundle(
        key,
        || provider.pds.version(nhs_number),
        &approved.ssp.trace_id,
        |trace_id| {
            record::bundle_bytes(&BundleRequest {
                world: &provider.world,
                practice,
                patient,
                include_sensitive: approved.include_sensitive,
                trace_id,
                documents_base: &documents_base,
            })
        },
    );
    let mut resp = Response::new(bundle);
    resp.extensions_mut()
        .insert(delivered(practice, &approved, &documents_base));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// What the journal and the conformance report need of a delivered record: above all the
/// documents it lists, which a cut body would hide.
fn delivered(
    practice: &Practice,
    approved: &Approved<'_>,
    documents_base: &str,
) -> crate::conformance::Delivered {
    let patient = approved.patient;
    crate::conformance::Delivered {
        patient: patient.nhs_number.as_str().to_owned(),
        requesting_ods: approved.claims.requesting_ods.clone(),
        provider_ods: practice.ods.as_str().to_owned(),
        sensitive: approved.include_sensitive,
        documents: patient
            .record
            .documents
            .iter()
            .filter(|d| approved.include_sensitive || !d.meta.confidential)
            .map(|d| format!("{documents_base}/Binary/{}", record::binary_id(patient, d)))
            .collect(),
    }
}

/// Every check, in order; the first failure is the answer.
pub fn ladder<'w>(
    provider: &'w Provider,
    practice: &Practice,
    req: &Request<Bytes>,
) -> Result<Approved<'w>, FhirError> {
    let ssp = check_headers(practice, req)?;
    let claims = headers::authorise(req.headers(), provider.clock.now(), &Rules::MIGRATE)?;
    let resource = parse_parameters_resource(req.body())?;
    let params = read_parameters(&resource)?;
    let nhs_number = check_nhs_number(&params)?;
    check_sensitivity(&claims, params.include_sensitive)?;
    let patient = find_patient(&provider.world, practice, &nhs_number)?;
    check_consent(patient)?;
    match req
        .extensions()
        .get::<super::remote_pds::RemoteRegistration>()
    {
        Some(remote) if remote.nhs_number == patient.nhs_number.as_str() => {
            check_remote_relationship(remote, &claims)?;
        }
        _ => check_relationship(&provider.pds, patient, &claims)?,
    }
    Ok(Approved {
        ssp,
        claims,
        patient,
        include_sensitive: params.include_sensitive,
    })
}

/// Rung 1: headers.
fn check_headers(practice: &Practice, req: &Request<Bytes>) -> Result<SspHeaders, FhirError> {
    let ssp = headers::check_ssp_headers(req.headers())?;
    headers::check_interaction(
        &ssp,
        req.method(),
        req.uri().path(),
        interactions::MIGRATE_STRUCTURED,
    )?;
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

/// Rung 3: the body parses as a `Parameters` resource (`docs/migrate.md` rows 1 and 2).
pub(crate) fn parse_parameters_resource(body: &[u8]) -> Result<Map<String, Value>, FhirError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FhirError::invalid_resource(
            "the request body is empty: send a FHIR Parameters resource with patientNHSNumber and includeFullRecord",
        ));
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
                "the request body is a {other}; $gpc.migratestructuredrecord takes a Parameters resource"
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

/// The parameters as read, before the NHS number is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawParameters {
    pub nhs_system: Option<String>,
    pub nhs_value: String,
    pub include_sensitive: bool,
}

fn value_keys(obj: &Map<String, Value>) -> Vec<&str> {
    obj.keys()
        .filter(|k| k.starts_with("value"))
        .map(String::as_str)
        .collect()
}

/// Rung 4: the parameters (`docs/migrate.md` rows 3, 4, 6, 7). Every diagnostic names the
/// parameter.
pub fn read_parameters(resource: &Map<String, Value>) -> Result<RawParameters, FhirError> {
    let params = resource
        .get("parameter")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if params.is_empty() {
        return Err(FhirError::invalid_parameter(
            "No recognised parameters: patientNHSNumber and includeFullRecord are required",
        ));
    }
    let mut nhs: Option<(Option<String>, String)> = None;
    let mut sensitive: Option<bool> = None;
    let mut seen_full_record = false;
    let no_elements = Map::new();
    for p in params {
        let obj = p.as_object().unwrap_or(&no_elements);
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
        match name {
            "patientNHSNumber" => {
                if nhs.is_some() {
                    return Err(FhirError::invalid_parameter(
                        "patientNHSNumber is given more than once",
                    ));
                }
                nhs = Some(read_nhs_parameter(obj)?);
            }
            "includeFullRecord" => {
                if seen_full_record {
                    return Err(FhirError::invalid_parameter(
                        "includeFullRecord is given more than once",
                    ));
                }
                seen_full_record = true;
                sensitive = Some(read_full_record(obj)?);
            }
            "includeSensitiveInformation" => {
                return Err(FhirError::invalid_parameter(
                    "includeSensitiveInformation is a part of includeFullRecord, not a parameter of its own",
                ));
            }
            other => {
                return Err(FhirError::invalid_parameter(format!(
                    "Unrecognised parameter: {other}. $gpc.migratestructuredrecord takes only patientNHSNumber and includeFullRecord (part includeSensitiveInformation)"
                )));
            }
        }
    }
    let Some((nhs_system, nhs_value)) = nhs else {
        return Err(FhirError::invalid_parameter(
            "patientNHSNumber is missing: send it as a valueIdentifier with system https://fhir.nhs.uk/Id/nhs-number",
        ));
    };
    let Some(include_sensitive) = sensitive else {
        return Err(FhirError::invalid_parameter(
            "includeFullRecord is missing: it is mandatory for migrate, with part includeSensitiveInformation (valueBoolean)",
        ));
    };
    Ok(RawParameters {
        nhs_system,
        nhs_value,
        include_sensitive,
    })
}

fn read_nhs_parameter(obj: &Map<String, Value>) -> Result<(Option<String>, String), FhirError> {
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

fn read_full_record(obj: &Map<String, Value>) -> Result<bool, FhirError> {
    if let Some(key) = value_keys(obj).first() {
        return Err(FhirError::invalid_parameter(format!(
            "includeFullRecord takes parts only, not {key}"
        )));
    }
    let parts = obj
        .get("part")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut sensitive = None;
    for part in parts {
        let name = part.get("name").and_then(Value::as_str).unwrap_or_default();
        if name != "includeSensitiveInformation" {
            return Err(FhirError::invalid_parameter(format!(
                "Unrecognised part parameter: includeFullRecord.{name} (only includeSensitiveInformation is allowed)"
            )));
        }
        if sensitive.is_some() {
            return Err(FhirError::invalid_parameter(
                "includeFullRecord.includeSensitiveInformation is given more than once",
            ));
        }
        let part_obj = part.as_object().cloned().unwrap_or_default();
        sensitive = Some(match part_obj.get("valueBoolean") {
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(FhirError::invalid_parameter(format!(
                    "includeFullRecord.includeSensitiveInformation valueBoolean must be true or false, not {other}"
                )));
            }
            None => {
                return Err(match value_keys(&part_obj).first() {
                    Some(key) => FhirError::invalid_parameter(format!(
                        "includeFullRecord.includeSensitiveInformation must be a valueBoolean, not {key}"
                    )),
                    None => FhirError::invalid_parameter(
                        "Part parameter includeFullRecord.includeSensitiveInformation has no value",
                    ),
                });
            }
        });
    }
    sensitive.ok_or_else(|| {
        FhirError::invalid_parameter(
            "includeFullRecord.includeSensitiveInformation is missing: send it as a valueBoolean part",
        )
    })
}

/// Rung 4b: the identifier system and the NHS number itself (`docs/migrate.md` row 5).
fn check_nhs_number(params: &RawParameters) -> Result<NhsNumber, FhirError> {
    match params.nhs_system.as_deref() {
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
    NhsNumber::parse(&params.nhs_value)
        .map_err(|e| FhirError::invalid_nhs_number(format!("patientNHSNumber: {e}")))
}

/// Rung 5: `includeSensitiveInformation` agrees with the scope (`docs/migrate.md`).
fn check_sensitivity(claims: &Claims, include_sensitive: bool) -> Result<(), FhirError> {
    let scope = &claims.scope;
    match (include_sensitive, scope.confidentiality) {
        (true, Confidentiality::Normal) => Err(FhirError::conflicting_values(format!(
            "includeSensitiveInformation is true but JWT requested_scope {}: sensitive information needs 'patient/*.read conf/R'",
            if scope.explicit_confidentiality {
                "has conf/N"
            } else {
                "has no conf/ token (read as conf/N)"
            }
        ))),
        (false, Confidentiality::Restricted) => Err(FhirError::conflicting_values(
            "includeSensitiveInformation is false but JWT requested_scope has conf/R: send 'patient/*.read conf/N' to migrate without sensitive information",
        )),
        _ => Ok(()),
    }
}

/// Rung 6: the patient this provider holds a record for, and may share (`docs/migrate.md`
/// rows 10 to 13; README.md, "The GP Connect provider in detail").
fn find_patient<'w>(
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
            "patientNHSNumber {nhs}: the patient is deceased ({died}); migrate does not return deceased patients"
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

/// Rung 7: the patient has not dissented from sharing (`docs/migrate.md` row 14).
fn check_consent(patient: &Patient) -> Result<(), FhirError> {
    if patient.dissent {
        return Err(FhirError::no_patient_consent(format!(
            "patientNHSNumber {}: the patient has dissented from sharing their record",
            patient.nhs_number
        )));
    }
    Ok(())
}

/// Rung 8: the requesting practice is the one PDS has the patient registered at now
/// (`docs/migrate.md`; README.md, "The GP Connect provider in detail").
fn check_relationship(pds: &PdsStore, patient: &Patient, claims: &Claims) -> Result<(), FhirError> {
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

/// Rung 8 against another sandbox's PDS (`super::remote_pds`).
fn check_remote_relationship(
    remote: &super::remote_pds::RemoteRegistration,
    claims: &Claims,
) -> Result<(), FhirError> {
    let nhs = &remote.nhs_number;
    match &remote.registered {
        Ok(Some(ods)) if *ods == claims.requesting_ods => Ok(()),
        Ok(Some(ods)) => Err(FhirError::no_relationship(format!(
            "JWT requesting_organization is {}, but PDS ({}) has patient {nhs} registered at {ods}",
            claims.requesting_ods, remote.url
        ))),
        Ok(None) => Err(FhirError::no_relationship(format!(
            "PDS ({}) holds no registered practice for patient {nhs}",
            remote.url
        ))),
        Err(why) => Err(FhirError::no_relationship(format!(
            "the registration of patient {nhs} could not be read from PDS, so the record is not released: {why}"
        ))),
    }
}

#[cfg(test)]
mod tests;
