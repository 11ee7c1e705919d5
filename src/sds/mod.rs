//! Spine Directory Service FHIR API, R4 (`docs/sds.md`): `GET /Endpoint` (MHS
//! records: where a practice serves an interaction) and `GET /Device` (AS records: a practice's
//! ASID), answered from the [`SdsDirectory`] built from the scenario.
//!
//! Checks come in the order the real service applies them: the API platform's `apikey` (when
//! `sds_api_key` is configured), the path (404) and verb (405), then the SDS adaptor's own:
//! `X-Correlation-Id`, query parameters, `Accept`. Errors are the adaptor's OperationOutcomes
//! (`OperationOutcome.id` = the correlation id); every response carries `X-Correlation-Id`.
//!
//! Not modelled: system suppliers. `manufacturing-organization` is checked for form but does not
//! filter, and Devices carry no `Extension-SDS-ManufacturingOrganisation`.

pub(crate) mod directory;
pub(crate) mod query;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

pub(crate) use directory::SdsDirectory;
use directory::{SdsDevice, SdsEndpoint};
use query::{Query, Resource};

use crate::fhir::{FhirError, OutcomeStyle, SpineCode, systems};
use crate::http::{percent_decode, query_pairs};
use std::sync::Arc;

use crate::platform::Platform;

pub(crate) const BASE_PATH: &str = "/spine-directory/FHIR/R4";

/// What SDS can touch: its directory, the `apikey` it wants, the platform's registered
/// applications and the URL it advertises.
#[derive(Clone)]
pub struct Sds {
    pub directory: SdsDirectory,
    pub api_key: Option<String>,
    pub platform: Arc<Platform>,
    pub public_url: String,
}

/// Header names SDS reads and writes.
pub(crate) mod headers {
    pub(crate) const API_KEY: &str = "apikey";
    pub(crate) const X_CORRELATION_ID: http::HeaderName =
        http::HeaderName::from_static("x-correlation-id");
}

const FHIR_JSON: &str = "application/fhir+json";
const JSON: &str = "application/json";

pub(crate) fn handle(sds: &Sds, req: Request<Bytes>) -> Response<Bytes> {
    if let Err(refused) = check_api_key(sds, req.headers()) {
        // The API platform answers before the request reaches SDS: its R4 dialect, no id.
        return refused.to_response(OutcomeStyle::Pds);
    }
    let correlation = correlation_id(req.headers());
    let answer = route(sds, &req, &correlation);
    let (mut resp, id) = match answer {
        Ok(resp) => (resp, correlation.unwrap_or_else(|_| new_id())),
        Err(e) => {
            // Like the adaptor, an error never fails twice: a bad correlation id is replaced.
            let id = correlation.unwrap_or_else(|_| new_id());
            (error_response(&e, &id), id)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(headers::X_CORRELATION_ID, value);
    }
    resp
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// `apikey` as the API platform checks it, when the sandbox is configured to require one.
/// With `auth: required`, a registered application's API key is accepted too.
fn check_api_key(sds: &Sds, headers: &HeaderMap) -> Result<(), FhirError> {
    let auth = sds.platform.auth_required;
    let expected = sds.api_key.as_deref();
    if expected.is_none() && !auth {
        return Ok(());
    }
    let known = |given: &[u8]| {
        expected.is_some_and(|e| e.as_bytes() == given)
            || (auth && std::str::from_utf8(given).is_ok_and(|k| sds.platform.oauth.is_api_key(k)))
    };
    let (fault, diagnostics) = match headers.get(headers::API_KEY) {
        None => (
            "Failed to resolve API Key variable request.header.apikey",
            "the 'apikey' header is missing; this sandbox is configured (sds_api_key or auth: required) to require it",
        ),
        Some(given) if known(given.as_bytes()) => return Ok(()),
        Some(_) => (
            "Invalid ApiKey",
            "the 'apikey' header holds neither the key this sandbox is configured with (sds_api_key) nor a scenario application's API key",
        ),
    };
    let mut refused = FhirError::new(SpineCode::ApiAccessDenied, diagnostics);
    fault.clone_into(&mut refused.display);
    Err(refused)
}

/// The request's `X-Correlation-Id`, a fresh one when absent, or the 400 for a malformed one.
fn correlation_id(headers: &HeaderMap) -> Result<String, FhirError> {
    match headers.get(headers::X_CORRELATION_ID) {
        None => Ok(new_id()),
        Some(v) => {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            if v.is_empty() {
                Ok(new_id())
            } else if crate::identifiers::is_uuid(&v) {
                Ok(v)
            } else {
                Err(query::bad_request(format!(
                    "Invalid X-Correlation-ID header '{v}'. Should be an UUIDv4 matching regex '^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}$'"
                )))
            }
        }
    }
}

/// The adaptor's OperationOutcome, whose `id` is the correlation id.
fn error_response(e: &FhirError, correlation_id: &str) -> Response<Bytes> {
    let mut resp = e.to_response(OutcomeStyle::Sds);
    if let Ok(mut outcome) = serde_json::from_slice::<Value>(resp.body()) {
        outcome["id"] = json!(correlation_id);
        if let Ok(body) = serde_json::to_vec(&outcome) {
            *resp.body_mut() = Bytes::from(body);
        }
    }
    if e.status == StatusCode::METHOD_NOT_ALLOWED {
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
    }
    resp
}

fn route(
    sds: &Sds,
    req: &Request<Bytes>,
    correlation: &Result<String, FhirError>,
) -> Result<Response<Bytes>, FhirError> {
    let path = req.uri().path();
    let resource = match path.strip_prefix(BASE_PATH) {
        Some("/Endpoint") => Resource::Endpoint,
        Some("/Device") => Resource::Device,
        _ => {
            return Err(FhirError::new(
                SpineCode::NoRecordFound,
                format!(
                    "HTTP endpoint not found: {path} (SDS serves {BASE_PATH}/Endpoint and {BASE_PATH}/Device)"
                ),
            ));
        }
    };
    if req.method() != Method::GET {
        return Err(FhirError {
            issue_type: "not-supported",
            ..FhirError::new(
                SpineCode::NotImplemented,
                format!(
                    "HTTP operation not supported: {} (SDS allows GET only)",
                    req.method()
                ),
            )
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
        });
    }
    if let Err(e) = correlation {
        return Err(e.clone());
    }
    let pairs = query_pairs(req.uri().query());
    let query = query::parse(resource, &pairs)?;
    let content_type = accepted_type(req.headers())?;
    let self_url = match req.uri().query() {
        Some(q) => format!("{}{path}?{}", sds.public_url, percent_decode(q)),
        None => format!("{}{path}", sds.public_url),
    };
    let entry_base = format!("{}{path}", sds.public_url);
    let resources = match resource {
        Resource::Endpoint => find_endpoints(&sds.directory, &query),
        Resource::Device => find_devices(&sds.directory, &query),
    };
    let bundle = searchset(&self_url, &entry_base, resources);
    let mut resp = Response::new(Bytes::from(serde_json::to_vec(&bundle).unwrap_or_default()));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `Accept`: FHIR JSON (the default, also for `*/*`) or plain JSON; anything else is a 406.
fn accepted_type(headers: &HeaderMap) -> Result<&'static str, FhirError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(FHIR_JSON);
    };
    let accept = String::from_utf8_lossy(accept.as_bytes()).to_ascii_lowercase();
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or_default().trim())
        .collect();
    if types.iter().any(|t| *t == "*/*" || *t == FHIR_JSON) {
        Ok(FHIR_JSON)
    } else if types.contains(&JSON) {
        Ok(JSON)
    } else {
        Err(FhirError {
            issue_type: "not-supported",
            ..FhirError::new(
                SpineCode::MissingOrInvalidHeader,
                format!(
                    "Invalid Accept header in request ('{accept}'), only: {JSON} or {FHIR_JSON} are allowed"
                ),
            )
            .with_status(StatusCode::NOT_ACCEPTABLE)
        })
    }
}

fn find_endpoints(sds: &SdsDirectory, q: &Query) -> Vec<Value> {
    sds.find_endpoints(
        q.ods.as_deref(),
        q.interaction.as_deref(),
        q.party_key.as_deref(),
    )
    .into_iter()
    .map(endpoint_resource)
    .collect()
}

fn find_devices(sds: &SdsDirectory, q: &Query) -> Vec<Value> {
    let (Some(ods), Some(interaction)) = (q.ods.as_deref(), q.interaction.as_deref()) else {
        return Vec::new();
    };
    sds.find_devices(ods, interaction, q.party_key.as_deref())
        .into_iter()
        .map(device_resource)
        .collect()
}

fn interaction_extension(interaction: &str) -> Value {
    json!({
        "url": systems::SDS_INTERACTION_EXTENSION,
        "valueReference": { "identifier": {
            "system": systems::SERVICE_INTERACTION_ID, "value": interaction } },
    })
}

/// An MHS record as the SDS adaptor maps it. `id` is random per response, as SDS's is.
fn endpoint_resource(e: &SdsEndpoint) -> Value {
    let mut identifier = Vec::new();
    if let Some(fqdn) = e.fqdn() {
        identifier.push(json!({ "system": systems::MHS_FQDN, "value": fqdn }));
    }
    identifier.push(json!({ "system": systems::MHS_PARTY_KEY, "value": e.party_key }));
    identifier.push(json!({ "system": systems::MHS_ID, "value": e.mhs_id() }));
    json!({
        "resourceType": "Endpoint",
        "id": new_id(),
        "status": "active",
        "connectionType": {
            "system": systems::ENDPOINT_CONNECTION_TYPE,
            "code": "hl7-fhir-msg",
            "display": "HL7 FHIR Messaging",
        },
        "payloadType": [{ "coding": [{
            "system": systems::ENDPOINT_PAYLOAD_TYPE, "code": "any", "display": "Any" }] }],
        "address": e.address,
        "managingOrganization": { "identifier": {
            "system": systems::ODS_ORGANIZATION_CODE, "value": e.ods } },
        "identifier": identifier,
        "extension": [interaction_extension(&e.interaction)],
    })
}

/// An AS record as the SDS adaptor maps it: ASID and party key, one extension per interaction,
/// the organisation as `owner`.
fn device_resource(d: &SdsDevice) -> Value {
    json!({
        "resourceType": "Device",
        "id": new_id(),
        "identifier": [
            { "system": systems::SPINE_ASID, "value": d.asid },
            { "system": systems::MHS_PARTY_KEY, "value": d.party_key },
        ],
        "extension": d.interactions().map(interaction_extension).collect::<Vec<_>>(),
        "owner": { "identifier": { "system": systems::ODS_ORGANIZATION_CODE, "value": d.ods } },
    })
}

/// The adaptor's searchset: random `id`, `total`, a `self` link with the request URL unescaped,
/// entries `{fullUrl, resource, search: {mode: match}}` (an empty `entry` list when none).
fn searchset(self_url: &str, entry_base: &str, resources: Vec<Value>) -> Value {
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|resource| {
            let id = resource["id"].as_str().unwrap_or_default();
            json!({
                "fullUrl": format!("{entry_base}/{id}"),
                "resource": resource,
                "search": { "mode": "match" },
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "id": new_id(),
        "type": "searchset",
        "total": entry.len(),
        "link": [{ "relation": "self", "url": self_url }],
        "entry": entry,
    })
}
