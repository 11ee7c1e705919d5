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
use super::steps;
use crate::fhir::{FHIR_JSON, FhirError};
use crate::jwt::{Claims, Confidentiality, Rules};
use crate::scenario::{Patient, Practice};

/// What a request that climbed every rung asks for.
pub(crate) struct Approved<'w> {
    pub ssp: SspHeaders,
    pub claims: Claims,
    pub patient: &'w Patient,
    pub include_sensitive: bool,
}

/// The operation: the ladder, then the Bundle.
pub(crate) fn handle(
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
        areas: None,
    }
}

/// Every check, in order; the first failure is the answer.
pub(crate) fn ladder<'w>(
    provider: &'w Provider,
    practice: &Practice,
    req: &Request<Bytes>,
) -> Result<Approved<'w>, FhirError> {
    let ssp = steps::check_headers(&steps::MIGRATE, practice, req)?;
    let claims = headers::authorise(req.headers(), provider.clock.now(), &Rules::MIGRATE)?;
    let resource = parse_parameters_resource(req.body())?;
    let params = read_parameters(&resource)?;
    let nhs_number = steps::check_nhs_number(params.nhs_system.as_deref(), &params.nhs_value)?;
    check_sensitivity(&claims, params.include_sensitive)?;
    let patient = steps::find_patient(&steps::MIGRATE, &provider.world, practice, &nhs_number)?;
    steps::check_consent(patient)?;
    match req
        .extensions()
        .get::<super::remote_pds::RemoteRegistration>()
    {
        Some(remote) if remote.nhs_number == patient.nhs_number.as_str() => {
            check_remote_relationship(remote, &claims)?;
        }
        _ => steps::check_relationship(&provider.pds, patient, &claims)?,
    }
    Ok(Approved {
        ssp,
        claims,
        patient,
        include_sensitive: params.include_sensitive,
    })
}

/// The parameters as read, before the NHS number is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawParameters {
    pub nhs_system: Option<String>,
    pub nhs_value: String,
    pub include_sensitive: bool,
}

/// Rung 4: the parameters (`docs/migrate.md` rows 3, 4, 6, 7). Every diagnostic names the
/// parameter.
pub(crate) fn read_parameters(resource: &Map<String, Value>) -> Result<RawParameters, FhirError> {
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
                nhs = Some(steps::read_nhs_parameter(obj)?);
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

fn read_full_record(obj: &Map<String, Value>) -> Result<bool, FhirError> {
    if let Some(key) = steps::value_keys(obj).first() {
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
                return Err(match steps::value_keys(&part_obj).first() {
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

/// Rung 3: the body parses as a `Parameters` resource (`docs/migrate.md` rows 1 and 2).
pub(crate) fn parse_parameters_resource(body: &[u8]) -> Result<Map<String, Value>, FhirError> {
    steps::parse_parameters_resource(&steps::MIGRATE, body)
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
