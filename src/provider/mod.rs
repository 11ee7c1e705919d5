//! GP Connect providers, FHIR STU3: one per practice with `provider: true`, at
//! `/{ODS}/STU3/1/gpconnect/{structured,documents}/fhir/...` (`shared/design/contract.md`
//! section 2), reached directly or through SSP with the same checks either way.
//!
//! - [`migrate`]: `$gpc.migratestructuredrecord` and its validation ladder (`migrate.md`).
//! - [`record`]: the Bundle, with confidential items withheld or labelled.
//! - [`documents`]: migrate a document, `Binary/{id}` (`documents.md`).
//! - [`capability`]: the `metadata` CapabilityStatements.
//! - [`headers`]: the `Ssp-*`, media-type and JWT checks every interaction starts with.

pub mod capability;
pub mod documents;
pub mod headers;
pub mod migrate;
pub mod record;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};

use crate::fhir::{FhirError, OutcomeStyle};
use crate::sandbox::Shared;
use crate::scenario::Practice;

/// `/{ODS}/STU3/1/gpconnect/...`
pub fn is_provider_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let _ods = segments.next();
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some("STU3"), Some("1"), Some("gpconnect"))
    )
}

pub async fn handle(shared: &Shared, req: Request<Bytes>) -> Response<Bytes> {
    match route(shared, &req) {
        Ok(resp) => resp,
        Err((e, allow)) => {
            let mut resp = e.to_response(OutcomeStyle::GpConnect);
            if let Some(allow) = allow {
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            resp
        }
    }
}

type Refused = (FhirError, Option<&'static str>);

fn refuse(e: FhirError) -> Refused {
    (e, None)
}

/// A method this path does not serve: 400 `BAD_REQUEST` (errors.md: "wrong verb"), with `Allow`.
fn wrong_method(method: &Method, path: &str, allow: &'static str) -> Refused {
    (
        FhirError::bad_request(format!(
            "{method} is not supported on {path}; use {allow}"
        )),
        Some(allow),
    )
}

/// The practice an ODS code in the path names, if it serves GP Connect.
fn provider_practice<'w>(shared: &'w Shared, ods: &str) -> Result<&'w Practice, FhirError> {
    let Some(practice) = shared.world.practice(ods) else {
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
    Ok(practice)
}

fn route(shared: &Shared, req: &Request<Bytes>) -> Result<Response<Bytes>, Refused> {
    let path = req.uri().path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (ods, rest) = match segments.as_slice() {
        [ods, "STU3", "1", "gpconnect", rest @ ..] => (*ods, rest),
        _ => {
            return Err(refuse(FhirError::no_record_found(format!(
                "{path} is not a GP Connect provider path (/{{ODS}}/STU3/1/gpconnect/...)"
            ))));
        }
    };
    let practice = provider_practice(shared, ods).map_err(refuse)?;
    let method = req.method();
    let get = method == Method::GET;
    match rest {
        ["structured", "fhir", "metadata"] => {
            if !get {
                return Err(wrong_method(method, path, "GET"));
            }
            capability::handle(shared, practice, req, capability::Capability::Structured)
                .map_err(refuse)
        }
        ["structured", "fhir", "Patient", "$gpc.migratestructuredrecord"] => {
            if method != Method::POST {
                return Err(wrong_method(method, path, "POST"));
            }
            migrate::handle(shared, practice, req).map_err(refuse)
        }
        ["structured", "fhir", "Patient", "$gpc.getstructuredrecord"] => {
            Err(refuse(FhirError::not_implemented(
                "$gpc.getstructuredrecord is not emulated: the sandbox provides $gpc.migratestructuredrecord",
            )))
        }
        ["documents", "fhir", "metadata"] => {
            if !get {
                return Err(wrong_method(method, path, "GET"));
            }
            capability::handle(shared, practice, req, capability::Capability::Documents)
                .map_err(refuse)
        }
        ["documents", "fhir", "Binary", id] if !id.is_empty() => {
            if !get {
                return Err(wrong_method(method, path, "GET"));
            }
            documents::handle(shared, practice, req, id).map_err(refuse)
        }
        ["structured", "fhir", ..] => Err(refuse(FhirError::not_implemented(format!(
            "{method} {path} is not implemented: the structured provider of {ods} serves GET metadata and POST Patient/$gpc.migratestructuredrecord"
        )))),
        ["documents", "fhir", ..] => Err(refuse(FhirError::not_implemented(format!(
            "{method} {path} is not implemented: the documents provider of {ods} serves GET metadata and GET Binary/{{id}}"
        )))),
        ["fhir", ..] | [] | [""] => Err(refuse(FhirError::not_implemented(format!(
            "{path}: GP Connect Foundations and Appointments are not emulated; the providers serve /{ods}/STU3/1/gpconnect/structured/fhir and /{ods}/STU3/1/gpconnect/documents/fhir"
        )))),
        _ => Err(refuse(FhirError::no_record_found(format!(
            "{path}: no such GP Connect service; the providers serve /{ods}/STU3/1/gpconnect/structured/fhir and /{ods}/STU3/1/gpconnect/documents/fhir"
        )))),
    }
}

#[cfg(test)]
pub(crate) mod test_world;
