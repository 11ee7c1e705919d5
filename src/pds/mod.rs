//! Personal Demographics Service, FHIR R4 (`docs/pds.md`): read (section 2), search
//! (section 3) and PATCH (section 4) of `Patient`, with PDS's headers, error codes and check
//! order (the official sandbox mock's, `docs/pds.md`).
//!
//! Routes, under [`BASE_PATH`]:
//!
//! | method | path | handler |
//! | --- | --- | --- |
//! | `GET` | `/Patient/{nhsNumber}` | [`read_patient`] |
//! | `PATCH` | `/Patient/{nhsNumber}` | [`update_patient`] |
//! | `GET` | `/Patient?...` | [`search_patients`] |
//! | `GET` | `/Patient/{nhsNumber}/RelatedPerson[/{id}]` | [`related_people`] |
//! | `POST` | `/Patient` | [`create::create_patient`] |
//! | `GET` | `/Coverage?subscriber:identifier={nhsNumber}` | [`coverage::search`] |
//! | `POST` | `/Coverage` | [`coverage::post`] |
//!
//! Every response, errors included, echoes `X-Request-ID` and `X-Correlation-ID`. A request
//! with `X-Sandbox-Reset: patient` first resets the patient it names ([`admin`]).

pub(crate) mod admin;
pub(crate) mod coverage;
pub(crate) mod create;
pub(crate) mod extensions;
pub(crate) mod history;
pub(crate) mod patch;
pub(crate) mod patient;
pub(crate) mod search;
pub(crate) mod store;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

pub(crate) use store::PdsStore;

use crate::fhir::bundle::json_response;
use crate::fhir::{FHIR_JSON, FhirError, OutcomeStyle, SpineCode};
use crate::http::{percent_decode, query_pairs};
use crate::identifiers::is_uuid;
use crate::nhs_number::NhsNumber;
use std::sync::Arc;

use crate::clock::Clock;
use crate::platform::Platform;
use crate::scenario::World;

pub(crate) const BASE_PATH: &str = "/personal-demographics/FHIR/R4";

/// What PDS can touch: its records, the world they were seeded from, the clock, the platform's
/// checks in front of it and the URL it advertises. Nothing of SDS, SSP or the providers.
#[derive(Clone)]
pub struct Pds {
    pub store: PdsStore,
    pub world: Arc<World>,
    pub clock: Clock,
    pub platform: Arc<Platform>,
    pub public_url: String,
}

/// Request and response header names PDS uses.
/// Names made once, not parsed again on every request.
pub(crate) mod headers {
    use http::HeaderName;
    pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    pub(crate) const X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
    pub(crate) const IF_MATCH: HeaderName = HeaderName::from_static("if-match");
}

pub(crate) fn handle(pds: &Pds, req: Request<Bytes>) -> Response<Bytes> {
    // With `auth: required` the platform's proxy checks the token before PDS sees anything.
    let tracking = Tracking::of(req.headers());
    let checked = pds
        .platform
        .check_pds(&pds.clock, req.method(), req.headers())
        .and_then(|()| admin::reset_from_header(&pds.store, &pds.world, &req, tracking.reset))
        .and_then(|_| route(pds, &req));
    let mut resp = checked.unwrap_or_else(|e| e.to_response(OutcomeStyle::Pds));
    tracking.echo(resp.headers_mut());
    resp
}

/// The request headers every PDS answer looks at, found in one pass over them: looking each
/// up by name would hash the name each time.
#[derive(Default)]
struct Tracking<'a> {
    request_id: Option<&'a HeaderValue>,
    correlation_id: Option<&'a HeaderValue>,
    reset: Option<&'a HeaderValue>,
}

impl<'a> Tracking<'a> {
    /// The first value of each.
    fn of(request: &'a HeaderMap) -> Self {
        let mut found = Self::default();
        for (name, value) in request {
            let slot = if name == headers::X_REQUEST_ID {
                &mut found.request_id
            } else if name == headers::X_CORRELATION_ID {
                &mut found.correlation_id
            } else if name == admin::RESET_HEADER {
                &mut found.reset
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
    }

    /// PDS echoes both tracking headers on every response, errors included.
    fn echo(&self, response: &mut HeaderMap) {
        for (name, value) in [
            (headers::X_REQUEST_ID, self.request_id),
            (headers::X_CORRELATION_ID, self.correlation_id),
        ] {
            if let Some(value) = value {
                response.insert(name, value.clone());
            }
        }
    }
}

fn route(pds: &Pds, req: &Request<Bytes>) -> Result<Response<Bytes>, FhirError> {
    let path = req.uri().path();
    let rest = path.strip_prefix(BASE_PATH).unwrap_or(path);
    let mut segments = rest.trim_start_matches('/').split('/');
    let resource = segments.next().unwrap_or_default();
    let id = segments.next();
    let extra = segments.next();
    if resource == "Patient"
        && let (Some(id), Some("RelatedPerson")) = (id, extra)
    {
        let person = segments.next().filter(|p| !p.is_empty());
        return match (req.method() == Method::GET, segments.next()) {
            (true, None) => related_people(pds, req, id, person),
            (false, None) => method_not_allowed(
                req.method(),
                "/Patient/{nhsNumber}/RelatedPerson",
                "GET",
                "related people are read-only here",
            ),
            _ => Err(FhirError::new(
                SpineCode::ResourceNotFound,
                format!("no PDS resource at {rest}"),
            )),
        };
    }
    match (resource, id, extra) {
        ("Patient", None, _) => match *req.method() {
            Method::GET => search_patients(pds, req),
            Method::POST => create::create_patient(pds, req),
            _ => method_not_allowed(
                req.method(),
                "/Patient",
                "GET, POST",
                "search with GET, create a patient with POST",
            ),
        },
        ("Coverage", None, _) => match *req.method() {
            Method::GET => coverage::search(pds, req),
            Method::POST => coverage::post(pds, req),
            _ => method_not_allowed(
                req.method(),
                "/Coverage",
                "GET, POST",
                "read a patient's EHIC with GET ?subscriber:identifier=, replace it with POST",
            ),
        },
        ("Patient", Some(""), None) => Err(FhirError::new(
            SpineCode::UnsupportedService,
            "Invalid request with error - the NHS number is missing from the path (/Patient/{nhsNumber})",
        )),
        ("Patient", Some(id), None) => {
            let nhs = if id.contains('%') {
                std::borrow::Cow::Owned(percent_decode(id))
            } else {
                std::borrow::Cow::Borrowed(id)
            };
            match *req.method() {
                Method::GET => read_patient(pds, req, &nhs),
                Method::PATCH => update_patient(pds, req, &nhs),
                _ => method_not_allowed(
                    req.method(),
                    "/Patient/{nhsNumber}",
                    "GET, PATCH",
                    "read it with GET, update it with PATCH",
                ),
            }
        }
        _ => Err(FhirError::new(
            SpineCode::ResourceNotFound,
            format!(
                "no PDS resource at {rest}; this sandbox serves /Patient/{{nhsNumber}} (GET, PATCH), /Patient/{{nhsNumber}}/RelatedPerson (GET), /Patient (search with GET, create with POST) and /Coverage (GET, POST)"
            ),
        )),
    }
}

/// 405 with `Allow`, as an HTTP server should say it.
fn method_not_allowed(
    method: &Method,
    path: &str,
    allow: &'static str,
    hint: &str,
) -> Result<Response<Bytes>, FhirError> {
    let mut resp = FhirError::new(
        SpineCode::UnsupportedService,
        format!("Invalid request with error - {method} is not supported on {path} ({hint})"),
    )
    .with_status(StatusCode::METHOD_NOT_ALLOWED)
    .to_response(OutcomeStyle::Pds);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    Ok(resp)
}

/// The checks every PDS request's headers pass, in the mock's order: `X-Request-ID`, then
/// `Authorization`. One pass finds both.
fn check_headers(request: &HeaderMap) -> Result<(), FhirError> {
    let (mut request_id, mut authorization) = (None, None);
    for (name, value) in request {
        if name == header::AUTHORIZATION {
            authorization.get_or_insert(value);
        } else if name == headers::X_REQUEST_ID {
            request_id.get_or_insert(value);
        }
    }
    check_request_id(request_id)?;
    check_authorization(authorization)
}

/// `X-Request-ID`: mandatory, a UUID (`docs/pds.md`).
fn check_request_id(value: Option<&HeaderValue>) -> Result<(), FhirError> {
    let value = value
        .map(|v| match std::str::from_utf8(v.as_bytes()) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(v.as_bytes()),
        })
        .filter(|v| !v.is_empty());
    match value {
        None => Err(FhirError::new(
            SpineCode::MissingValue,
            "Invalid request with error - X-Request-ID header must be supplied to access this resource",
        )),
        Some(v) if !is_uuid(&v) => Err(FhirError::new(
            SpineCode::InvalidValue,
            format!(
                "Invalid value - '{v}' in header 'X-Request-ID' (it must be a UUID, e.g. 0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f)"
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// No `Authorization` is fine (as on the PDS sandbox); one that is not `Bearer <token>` is not.
fn check_authorization(value: Option<&HeaderValue>) -> Result<(), FhirError> {
    let Some(value) = value else {
        return Ok(());
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    match value.split_once(' ') {
        Some(("Bearer", token)) if !token.trim().is_empty() && !token.contains(' ') => Ok(()),
        _ => Err(FhirError::new(
            SpineCode::ApiAccessDenied,
            "Missing access token (the Authorization header must be 'Bearer <token>')",
        )),
    }
}

fn parse_nhs_number(nhs: &str) -> Result<NhsNumber, FhirError> {
    NhsNumber::parse(nhs).map_err(|e| {
        FhirError::new(
            SpineCode::InvalidResourceId,
            format!("Invalid resource id - {e}"),
        )
    })
}

/// The 200 for a read or an update: the patient, with its version as a weak `ETag`.
fn patient_response(read: store::PatientRead) -> Response<Bytes> {
    let mut resp = Response::new(read.body);
    // Room for these three and the two tracking headers echoed later, made once.
    *resp.headers_mut() = HeaderMap::with_capacity(5);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::ETAG, read.etag);
    resp
}

/// `GET /Patient/{nhsNumber}`, checks in the mock's order: headers, NHS number, patient.
pub(crate) fn read_patient(
    pds: &Pds,
    req: &Request<Bytes>,
    nhs: &str,
) -> Result<Response<Bytes>, FhirError> {
    check_headers(req.headers())?;
    // PDS holds only valid NHS numbers, so a hit needs no further check.
    if let Some(read) = pds.store.read(nhs) {
        return Ok(patient_response(read));
    }
    let nhs = parse_nhs_number(nhs)?;
    Err(store::not_found(nhs.as_str()))
}

/// `If-Match: W/"<versionId>"`; returns the version digits.
fn if_match(headers: &HeaderMap) -> Result<String, FhirError> {
    let value = headers
        .get(headers::IF_MATCH)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            FhirError::new(
                SpineCode::UpdatePreconditionFailed,
                "Invalid request with error - If-Match header must be supplied to update this resource",
            )
        })?;
    let digits = value
        .strip_prefix("W/\"")
        .and_then(|v| v.strip_suffix('"'))
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
    digits.map(str::to_owned).ok_or_else(|| {
        FhirError::new(
            SpineCode::UpdatePreconditionFailed,
            format!(
                "Invalid request with error - If-Match header '{value}' must be the ETag of the patient as read, W/\"<versionId>\" (e.g. W/\"1\")"
            ),
        )
    })
}

/// `PATCH /Patient/{nhsNumber}`, checks in the official mock's order: NHS number, `If-Match`
/// present, JSON `Content-Type`, `X-Request-ID`, authorisation, patient exists, `patches`
/// present, then (atomically, in the store) version, operations, rules and the apply.
pub(crate) fn update_patient(
    pds: &Pds,
    req: &Request<Bytes>,
    nhs: &str,
) -> Result<Response<Bytes>, FhirError> {
    let nhs = parse_nhs_number(nhs)?;
    let version = if_match(req.headers())?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    // The specification: anything but `application/json-patch+json` is 400 (the official mock
    // lets any JSON type through; docs/pds.md). Parameters such as `; charset=utf-8` are fine.
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json-patch+json") {
        return Err(FhirError::new(
            SpineCode::UnsupportedService,
            format!(
                "Invalid request with error - Content-Type '{content_type}' is not supported; send 'application/json-patch+json'"
            ),
        ));
    }
    check_headers(req.headers())?;
    if !pds.store.contains(nhs.as_str()) {
        return Err(store::not_found(nhs.as_str()));
    }
    let patches = patch::read_patches(req.body())?;
    let ops = patch::parse_ops(&patches);
    let rules = patch::UpdateRules {
        world: &pds.world,
        today: pds.clock.now().date_naive(),
    };
    let updated = pds.store.update(nhs.as_str(), &version, ops, &rules)?;
    tracing::info!(nhs = %nhs, version = updated.version, "PDS record updated.");
    Ok(patient_response(updated))
}

/// `GET /Patient/{nhsNumber}/RelatedPerson`: a searchset of the patient's related people (none:
/// `total` 0 and no `entry`), or with an object id the one RelatedPerson.
pub(crate) fn related_people(
    pds: &Pds,
    req: &Request<Bytes>,
    nhs: &str,
    person: Option<&str>,
) -> Result<Response<Bytes>, FhirError> {
    check_headers(req.headers())?;
    let nhs = parse_nhs_number(nhs)?;
    let patient = pds
        .world
        .patient(nhs.as_str())
        .filter(|_| pds.store.contains(nhs.as_str()))
        .ok_or_else(|| store::not_found(nhs.as_str()))?;
    let people = patient::related_people(patient);
    let base = format!(
        "{}{BASE_PATH}/Patient/{}/RelatedPerson",
        pds.public_url,
        nhs.as_str()
    );
    if let Some(id) = person {
        let found = people.into_iter().find(|p| p["id"] == id).ok_or_else(|| {
            FhirError::new(
                SpineCode::ResourceNotFound,
                format!(
                    "Patient {} has no related person with object id '{id}'",
                    nhs.as_str()
                ),
            )
        })?;
        return Ok(json_response(StatusCode::OK, &found));
    }
    let mut bundle = serde_json::json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": pds.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "total": people.len(),
    });
    if !people.is_empty() {
        bundle["entry"] = people
            .into_iter()
            .map(|p| {
                let id = p["id"].as_str().unwrap_or_default().to_owned();
                serde_json::json!({ "fullUrl": format!("{base}/{id}"), "resource": p })
            })
            .collect();
    }
    Ok(json_response(StatusCode::OK, &bundle))
}

/// `GET /Patient?...`: headers first, then the query (mock order), then the match.
pub(crate) fn search_patients(
    pds: &Pds,
    req: &Request<Bytes>,
) -> Result<Response<Bytes>, FhirError> {
    check_headers(req.headers())?;
    let search = search::parse(&query_pairs(req.uri().query()))?;
    let mut matches = pds.store.scan(|p, history| {
        search.score(p, history).map(|score| search::Match {
            patient: p.clone(),
            score,
        })
    });
    if matches.len() > search.max_results {
        return Ok(FhirError::new(
            SpineCode::TooManyMatches,
            format!(
                "more than {} patients match; add criteria to narrow the search (or raise _max-results, at most {})",
                search.max_results,
                search::MAX_RESULTS
            ),
        )
        .with_severity("information")
        .to_response(OutcomeStyle::Pds));
    }
    matches.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.patient["id"].as_str().cmp(&b.patient["id"].as_str()))
    });
    let base = format!("{}{BASE_PATH}/Patient", pds.public_url);
    let bundle = search::bundle(&base, matches, pds.clock.now());
    Ok(json_response(StatusCode::OK, &bundle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_must_be_a_weak_etag() {
        let mut h = HeaderMap::new();
        assert_eq!(if_match(&h).unwrap_err().code, "PRECONDITION_FAILED");
        h.insert("if-match", HeaderValue::from_static("W/\"3\""));
        assert_eq!(if_match(&h).unwrap(), "3");
        for bad in ["3", "\"3\"", "W/\"\"", "W/\"x\"", "W/3"] {
            h.insert("if-match", HeaderValue::from_static(bad));
            let e = if_match(&h).unwrap_err();
            assert_eq!(e.status, StatusCode::PRECONDITION_FAILED, "{bad}");
            assert!(e.diagnostics.contains("If-Match"), "{bad}");
        }
    }

    #[test]
    fn authorization_is_optional_but_must_be_bearer() {
        let mut h = HeaderMap::new();
        let auth = |h: &HeaderMap| check_authorization(h.get(header::AUTHORIZATION));
        assert!(auth(&h).is_ok());
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc1"),
        );
        assert!(auth(&h).is_ok());
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(auth(&h).unwrap_err().status, StatusCode::UNAUTHORIZED);
    }
}
