//! GP Connect providers, FHIR STU3: one per practice with `provider: true`, at
//! `/{ODS}/STU3/1/gpconnect/{structured,documents}/fhir/...` (README.md, "URLs"
//!), reached directly or through SSP with the same checks either way.
//!
//! - [`migrate`]: `$gpc.migratestructuredrecord` and its validation ladder (`docs/migrate.md`).
//! - [`retrieve`]: `$gpc.getstructuredrecord`, part of the record by clinical area and filter
//!   (`docs/getstructuredrecord.md`).
//! - [`record`]: the Bundle, with confidential items withheld or labelled.
//! - [`documents`]: migrate a document, `Binary/{id}` (`docs/documents.md`).
//! - [`capability`]: the `metadata` CapabilityStatements.
//! - [`steps`]: the steps both structured operations share (body, NHS number, patient, consent).
//! - [`headers`]: the `Ssp-*`, media-type and JWT checks every interaction starts with.
//! - [`cache`]: migrate Bundles serialised once, answered with each request's trace id.

pub(crate) mod cache;
pub(crate) mod capability;
pub(crate) mod documents;
pub(crate) mod headers;
pub(crate) mod migrate;
pub(crate) mod record;
pub(crate) mod remote_pds;
pub(crate) mod retrieve;
pub(crate) mod steps;

use bytes::Bytes;

use crate::http::Pieces;
use http::{HeaderValue, Method, Request, Response, header};

use crate::fhir::{FhirError, OutcomeStyle};
use crate::http::percent_decode_path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::pds::PdsStore;
use crate::scenario::Practice;
use crate::scenario::World;

/// What the providers can touch: the world (their read-only records), PDS's records (read, for
/// the registration behind NO_RELATIONSHIP), the clock, the URL they advertise and the cache of
/// their serialised Bundles.
#[derive(Clone)]
pub struct Provider {
    pub world: Arc<World>,
    pub pds: PdsStore,
    pub clock: Clock,
    pub public_url: String,
    pub migrate_cache: cache::MigrateCache,
    /// `provider_pds_url`: read registrations from this PDS over HTTP (`remote_pds`).
    pub remote_pds: Option<String>,
}

/// `/{ODS}/STU3/1/gpconnect/...`
pub(crate) fn is_provider_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let _ods = segments.next();
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some("STU3"), Some("1"), Some("gpconnect"))
    )
}

/// Answers a provider request. The body comes in pieces: a cached migrate Bundle is answered
/// around the request's trace id without being copied.
pub async fn handle(provider: &Provider, mut req: Request<Bytes>) -> Response<Pieces> {
    if let Some(pds) = &provider.remote_pds {
        remote_pds::attach(provider, pds, &mut req).await;
    }
    route(provider, &req)
}

fn answer<B: Into<Pieces>>(result: Result<Response<B>, FhirError>) -> Response<Pieces> {
    match result {
        Ok(resp) => resp.map(Into::into),
        Err(e) => refuse(e),
    }
}

fn refuse(e: FhirError) -> Response<Pieces> {
    e.to_response(OutcomeStyle::GpConnect).map(Pieces::from)
}

/// A method this path does not serve: 400 `BAD_REQUEST` (`docs/errors.md`: "wrong verb"), with `Allow`.
fn wrong_method(method: &Method, path: &str, allow: &'static str) -> Response<Pieces> {
    let mut resp = refuse(FhirError::bad_request(format!(
        "{method} is not supported on {path}; use {allow}"
    )));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// The practice an ODS code in the path names, if it serves GP Connect.
fn provider_practice<'w>(provider: &'w Provider, ods: &str) -> Result<&'w Practice, FhirError> {
    let Some(practice) = provider.world.practice(ods) else {
        return Err(FhirError::organisation_not_found(format!(
            "no practice with ODS code '{ods}' in the scenario, so no GP Connect provider at /{ods}/STU3/1/gpconnect; find the practice's endpoint in SDS"
        )));
    };
    if !practice.provider {
        return Err(FhirError::organisation_not_found(format!(
            "practice {ods} ({}) is not a GP Connect provider in this scenario (provider: false)",
            practice.name
        )));
    }
    if let Some(external) = &practice.external {
        return Err(FhirError::organisation_not_found(format!(
            "practice {ods} ({}) is served by an external provider at {}: SDS advertises that URL, not this one",
            practice.name, external.structured
        )));
    }
    Ok(practice)
}

fn route(provider: &Provider, req: &Request<Bytes>) -> Response<Pieces> {
    let path = req.uri().path();
    // Decoded segment by segment, so `%24gpc...` is `$gpc...` and an escaped `/` stays inside
    // its segment.
    let decoded: Vec<std::borrow::Cow<'_, str>> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode_path)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(AsRef::as_ref).collect();
    let (ods, rest) = match segments.as_slice() {
        [ods, "STU3", "1", "gpconnect", rest @ ..] => (*ods, rest),
        _ => {
            return refuse(FhirError::no_record_found(format!(
                "{path} is not a GP Connect provider path (/{{ODS}}/STU3/1/gpconnect/...)"
            )));
        }
    };
    let practice = match provider_practice(provider, ods) {
        Ok(p) => p,
        Err(e) => return refuse(e),
    };
    let method = req.method();
    let get = method == Method::GET;
    match rest {
        ["structured", "fhir", "metadata"] => {
            if !get {
                return wrong_method(method, path, "GET");
            }
            answer(capability::handle(
                provider,
                practice,
                req,
                capability::Capability::Structured,
            ))
        }
        [
            "structured",
            "fhir",
            "Patient",
            "$gpc.migratestructuredrecord",
        ] => {
            if method != Method::POST {
                return wrong_method(method, path, "POST");
            }
            answer(migrate::handle(provider, practice, req))
        }
        ["structured", "fhir", "Patient", "$gpc.getstructuredrecord"] => {
            if method != Method::POST {
                return wrong_method(method, path, "POST");
            }
            answer(retrieve::handle(provider, practice, req))
        }
        ["documents", "fhir", "metadata"] => {
            if !get {
                return wrong_method(method, path, "GET");
            }
            answer(capability::handle(
                provider,
                practice,
                req,
                capability::Capability::Documents,
            ))
        }
        ["documents", "fhir", "Binary", id] if !id.is_empty() => {
            if !get {
                return wrong_method(method, path, "GET");
            }
            answer(documents::handle(provider, practice, req, id))
        }
        ["structured", "fhir", ..] => refuse(FhirError::not_implemented(format!(
            "{method} {path} is not implemented: the structured provider of {ods} serves GET metadata, POST Patient/$gpc.migratestructuredrecord and POST Patient/$gpc.getstructuredrecord"
        ))),
        ["documents", "fhir", ..] => refuse(FhirError::not_implemented(format!(
            "{method} {path} is not implemented: the documents provider of {ods} serves GET metadata and GET Binary/{{id}}"
        ))),
        ["fhir", ..] | [] | [""] => refuse(FhirError::not_implemented(format!(
            "{path}: GP Connect Foundations and Appointments are not emulated; the providers serve /{ods}/STU3/1/gpconnect/structured/fhir and /{ods}/STU3/1/gpconnect/documents/fhir"
        ))),
        _ => refuse(FhirError::no_record_found(format!(
            "{path}: no such GP Connect service; the providers serve /{ods}/STU3/1/gpconnect/structured/fhir and /{ods}/STU3/1/gpconnect/documents/fhir"
        ))),
    }
}

#[cfg(test)]
mod bytes_tests;
#[cfg(test)]
pub(crate) mod test_world;
