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

pub(crate) mod disabled;
pub(crate) mod filter;
pub(crate) mod params;

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
pub(crate) fn handle(
    provider: &Provider,
    practice: &Practice,
    req: &Request<Bytes>,
) -> Result<Response<crate::http::Pieces>, FhirError> {
    let op = &steps::GET_STRUCTURED;
    let ssp = steps::check_headers(op, practice, req)?;
    let claims = headers::authorise(req.headers(), provider.clock.now(), &Rules::GET_STRUCTURED)?;
    disabled::check_enabled(practice)?;
    let resource = steps::parse_parameters_resource(op, req.body())?;
    let today = provider.clock.now().date_naive();
    let mut query = params::read(&resource, today)?;
    let asked = query.asked();
    let mut switched_off = disabled::withdraw(&mut query, &practice.disabled_areas);
    let nhs = steps::check_nhs_number(query.nhs_system.as_deref(), &query.nhs_value)?;
    let patient = steps::find_patient(op, &provider.world, practice, &nhs)?;
    steps::check_consent(patient)?;

    let mut partial = filter::select(&query, &patient.record);
    for area in disabled::strip(&mut partial, &patient.record, &practice.disabled_areas) {
        let name = disabled::parameter(area);
        if !switched_off.contains(&name) {
            switched_off.push(name);
        }
    }
    let selection = Selection::partial(partial);
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
    let mut issues: Vec<(String, String)> = query
        .unrecognised
        .iter()
        .map(|name| (format!("{name} is an unrecognised parameter"), name.clone()))
        .collect();
    issues.extend(
        switched_off
            .iter()
            .map(|name| (format!("{name} has been disabled"), (*name).to_owned())),
    );
    if !issues.is_empty() {
        add_entry(&mut bytes, &warning_outcome(&issues));
    }
    let delivered = crate::conformance::Delivered {
        patient: patient.nhs_number.as_str().to_owned(),
        requesting_ods: claims.requesting_ods,
        provider_ods: practice.ods.as_str().to_owned(),
        sensitive: false,
        documents: patient
            .record
            .documents
            .iter()
            .filter(|d| !d.meta.confidential && selection.includes(&d.meta.id))
            .map(|d| format!("{documents_base}/Binary/{}", record::binary_id(patient, d)))
            .collect(),
        areas: Some(asked.iter().map(|s| (*s).to_owned()).collect()),
    };
    let mut resp = Response::new(crate::http::Pieces::from(Bytes::from(bytes)));
    resp.extensions_mut().insert(delivered);
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

/// One `not-supported` warning per (text, diagnostics): parameters not recognised, areas
/// switched off.
fn warning_outcome(issues: &[(String, String)]) -> Value {
    let names: Vec<&str> = issues.iter().map(|(_, d)| d.as_str()).collect();
    let issue: Vec<Value> = issues
        .iter()
        .map(|(text, name)| {
            json!({
                "severity": "warning",
                "code": "not-supported",
                "details": {
                    "coding": [{
                        "system": "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1",
                        "code": "NOT_IMPLEMENTED",
                        "display": "Not implemented",
                    }],
                    "text": text,
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
