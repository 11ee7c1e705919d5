//! `GET [structured]/metadata` and `GET [documents]/metadata`: the providers'
//! CapabilityStatements. The structured one lists `gpc.getstructuredrecord` and
//! `gpc.migratestructuredrecord` and the profile versions the provider suite expects
//! (`docs/migrate.md`).

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::Provider;
use super::headers;
use crate::fhir::gpconnect::{GET_OPERATION_DEFINITION, MIGRATE_OPERATION_DEFINITION, profiles};
use crate::fhir::{FHIR_JSON, FhirError};
use crate::identifiers::interactions;
use crate::jwt::Rules;
use crate::scenario::Practice;

/// Which capability's statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capability {
    Structured,
    Documents,
}

pub(crate) fn handle(
    provider: &Provider,
    practice: &Practice,
    req: &Request<Bytes>,
    capability: Capability,
) -> Result<Response<Bytes>, FhirError> {
    let interaction = match capability {
        Capability::Structured => interactions::STRUCTURED_METADATA,
        Capability::Documents => interactions::DOCUMENTS_METADATA,
    };
    let ssp = headers::check_ssp_headers(req.headers())?;
    headers::check_interaction(&ssp, req.method(), req.uri().path(), interaction)?;
    headers::check_addressee(&ssp, practice)?;
    headers::check_accept(req)?;
    headers::authorise(req.headers(), provider.clock.now(), &Rules::METADATA)?;
    let body = match capability {
        Capability::Structured => structured(provider, practice),
        Capability::Documents => documents(provider, practice),
    };
    let mut bytes = Vec::with_capacity(4096);
    super::record::write_resource(&mut bytes, &body);
    let mut resp = Response::new(Bytes::from(bytes));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn base(provider: &Provider, practice: &Practice, name: &str, description: &str) -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "version": "1.6.0",
        "name": name,
        "status": "active",
        "date": provider.world.start_day.to_string(),
        "publisher": format!("spine-sandbox for {} {}", practice.ods, practice.name),
        "description": description,
        // As the GP Connect examples: a statement of capability (cpb-15: software, no
        // implementation); "instance" would need an implementation element (cpb-14).
        "kind": "capability",
        "software": { "name": "spine-sandbox", "version": env!("CARGO_PKG_VERSION") },
        "fhirVersion": "3.0.1",
        "acceptUnknown": "both",
        "format": [FHIR_JSON.split(';').next().unwrap_or("application/fhir+json")],
    })
}

fn structured(provider: &Provider, practice: &Practice) -> Value {
    let versioned = [
        (profiles::PATIENT, "1.8"),
        (profiles::ORGANIZATION, "1.4"),
        (profiles::PRACTITIONER, "1.2"),
        (profiles::PRACTITIONER_ROLE, "1.2"),
        (profiles::ALLERGY_INTOLERANCE, "1.7"),
        (profiles::MEDICATION, "1.2"),
        (profiles::MEDICATION_STATEMENT, "1.7"),
        (profiles::MEDICATION_REQUEST, "1.6"),
        (profiles::LIST, "1.7"),
        (profiles::BUNDLE, "1.3"),
        (profiles::OPERATION_OUTCOME, "1.2"),
        (profiles::IMMUNIZATION, "1.5"),
        (profiles::PROBLEM_HEADER, "1.7"),
        (profiles::ENCOUNTER, "1.5"),
        (profiles::OBSERVATION, "1.6"),
        (profiles::DIAGNOSTIC_REPORT, "1.3"),
        (profiles::SPECIMEN, "1.3"),
        (profiles::PROCEDURE_REQUEST, "1.3"),
        (profiles::REFERRAL_REQUEST, "1.2"),
        (profiles::DOCUMENT_REFERENCE, "1.3"),
        (profiles::HEALTHCARE_SERVICE, "1.0"),
    ];
    let mut cs = base(
        provider,
        practice,
        "GP Connect Access Record Structured",
        "Access Record Structured provider emulated by spine-sandbox: migrate structured record.",
    );
    cs["profile"] = versioned
        .iter()
        .map(|(url, v)| json!({ "reference": format!("{url}/_history/{v}") }))
        .collect();
    cs["rest"] = json!([{
        "mode": "server",
        "security": { "cors": true },
        "operation": [
            { "name": "gpc.getstructuredrecord", "definition": { "reference": GET_OPERATION_DEFINITION } },
            { "name": "gpc.migratestructuredrecord", "definition": { "reference": MIGRATE_OPERATION_DEFINITION } },
        ],
    }]);
    cs
}

fn documents(provider: &Provider, practice: &Practice) -> Value {
    let mut cs = base(
        provider,
        practice,
        "GP Connect Access Document",
        "Access Document provider emulated by spine-sandbox: migrate a document (Binary read).",
    );
    cs["profile"] = json!([
        { "reference": format!("{}/_history/1.3", profiles::DOCUMENT_REFERENCE) },
        { "reference": format!("{}/_history/1.2", profiles::OPERATION_OUTCOME) },
    ]);
    cs["rest"] = json!([{
        "mode": "server",
        "security": { "cors": true },
        "resource": [{ "type": "Binary", "interaction": [{ "code": "read" }] }],
    }]);
    cs
}
