//! `POST [structured]/Patient/$gpc.getstructuredrecord` (`docs/getstructuredrecord.md`): the
//! direct-care read of part of a patient's structured record, from the same world as migrate.
//!
//! Its steps, in order: the `Ssp-*` headers with the getstructuredrecord interaction id, the JWT
//! for direct care (`reason_for_request` `directcare`, `patient/*.read`, a requesting
//! practitioner), the `Parameters` body, the parameters ([`params`]), the NHS number, the
//! patient's state and dissent. No PDS relationship is needed: direct care is for any
//! organisation treating the patient. Then the Bundle of what the query selects ([`filter`]),
//! sensitive items always withheld, with one warning OperationOutcome when parameters were not
//! recognised.

pub mod filter;
pub mod params;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::Provider;
use super::record::{self, BundleRequest, Selection};
use super::{headers, steps};
use crate::fhir::{FHIR_JSON, FhirError};
use crate::jwt::Rules;
use crate::scenario::Practice;

/// The operation: its steps, then the Bundle.
pub fn handle(
    provider: &Provider,
    practice: &Practice,
    req: &Request<Bytes>,
) -> Result<Response<crate::http::Pieces>, FhirError> {
    let op = &steps::GET_STRUCTURED;
    let ssp = steps::check_headers(op, practice, req)?;
    headers::authorise(req.headers(), provider.clock.now(), &Rules::GET_STRUCTURED)?;
    let resource = steps::parse_parameters_resource(op, req.body())?;
    let today = provider.clock.now().date_naive();
    let query = params::read(&resource, today)?;
    let nhs = steps::check_nhs_number(query.nhs_system.as_deref(), &query.nhs_value)?;
    let patient = steps::find_patient(op, &provider.world, practice, &nhs)?;
    steps::check_consent(patient)?;

    let selection = Selection::partial(filter::select(&query, &patient.record));
    let documents_base = record::documents_base(&provider.public_url, practice.ods.as_str());
    let mut bytes = record::bundle_bytes_selected(
        &BundleRequest {
            world: &provider.world,
            practice,
            patient,
            include_sensitive: false,
            trace_id: &ssp.trace_id,
            documents_base: &documents_base,
        },
        &selection,
    );
    if !query.unrecognised.is_empty() {
        add_entry(&mut bytes, &unrecognised_outcome(&query.unrecognised));
    }
    let mut resp = Response::new(crate::http::Pieces::from(Bytes::from(bytes)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Appends one entry to a serialised Bundle (which ends `]}`).
fn add_entry(bundle: &mut Vec<u8>, resource: &Value) {
    if bundle.ends_with(b"]}") {
        bundle.truncate(bundle.len() - 2);
        bundle.extend_from_slice(br#",{"resource":"#);
        let _ = serde_json::to_writer(&mut *bundle, resource);
        bundle.extend_from_slice(b"}]}");
    }
}

/// The single OperationOutcome of a successful answer that ignored parameters it does not
/// know: one `not-supported` warning each, at the least granular level.
pub fn unrecognised_outcome(names: &[String]) -> Value {
    let issue: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "severity": "warning",
                "code": "not-supported",
                "details": {
                    "coding": [{
                        "system": "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1",
                        "code": "NOT_IMPLEMENTED",
                        "display": "Not implemented",
                    }],
                    "text": format!("{name} is an unrecognised parameter"),
                },
                "diagnostics": name,
            })
        })
        .collect();
    json!({
        "resourceType": "OperationOutcome",
        "id": record::stable_id(&["OperationOutcome", &names.join(",")]),
        "meta": { "profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"] },
        "issue": issue,
    })
}

#[cfg(test)]
mod tests;
