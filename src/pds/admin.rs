//! Resetting one PDS patient to its scenario state, so a test suite written for a stateless
//! sandbox (each test expecting the record as published) can run in order against this one:
//!
//! - `POST /_admin/pds/patients/{nhsNumber}/reset` (admin API): 204; 404 for a number PDS
//!   neither holds nor started with.
//! - `X-Sandbox-Reset: patient` on a PDS request: the patient the request names (the path's
//!   NHS number, or the Coverage's subscriber) is reset before the request is handled.
//!
//! A patient created since start (`POST /Patient`) is removed by its reset.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::Value;

use super::BASE_PATH;
use super::store::{PatientReset, PdsStore};
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::query_pairs;
use crate::scenario::World;

/// The request header that resets the patient a request names.
pub(crate) const RESET_HEADER: http::HeaderName = http::HeaderName::from_static("x-sandbox-reset");

/// `POST /_admin/pds/patients/{nhsNumber}/reset`, given the path after `/_admin/pds/patients/`;
/// `None` when the path is not this route.
pub(crate) fn reset_route(store: &PdsStore, world: &World, rest: &str) -> Option<Response<Bytes>> {
    let nhs = rest.strip_suffix("/reset")?;
    let resp = match store.reset_patient(world, nhs) {
        Some(done) => {
            tracing::info!(nhs, ?done, "PDS patient reset to the scenario.");
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
        None => FhirError::new(
            SpineCode::NoRecordFound,
            format!("PDS holds no patient {nhs} and the scenario has none"),
        )
        .to_response(OutcomeStyle::GpConnect),
    };
    Some(resp)
}

/// Applies `X-Sandbox-Reset: patient` if the request carries it (`value`, the header's first
/// value); any other value is refused.
pub(crate) fn reset_from_header(
    store: &PdsStore,
    world: &World,
    req: &Request<Bytes>,
    value: Option<&http::HeaderValue>,
) -> Result<Option<PatientReset>, FhirError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if !value.as_bytes().eq_ignore_ascii_case(b"patient") {
        return Err(FhirError::new(
            SpineCode::InvalidValue,
            format!(
                "Invalid value - '{}' in header 'X-Sandbox-Reset' (the only value is 'patient')",
                String::from_utf8_lossy(value.as_bytes())
            ),
        ));
    }
    Ok(named_patient(req).and_then(|nhs| store.reset_patient(world, &nhs)))
}

/// The NHS number a PDS request is about, if it names one.
fn named_patient(req: &Request<Bytes>) -> Option<String> {
    let path = req.uri().path();
    let rest = path.strip_prefix(BASE_PATH).unwrap_or(path);
    let mut segments = rest.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some("Patient"), Some(nhs)) if !nhs.is_empty() => Some(nhs.to_owned()),
        (Some("Coverage"), None) if req.method() == http::Method::POST => {
            let body: Value = serde_json::from_slice(req.body()).ok()?;
            body.pointer("/subscriber/identifier/value")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        (Some("Coverage"), None) => query_pairs(req.uri().query())
            .into_iter()
            .find(|(k, _)| k == "subscriber:identifier")
            .map(|(_, v)| v),
        _ => None,
    }
}
