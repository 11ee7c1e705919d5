//! A patient's European Health Insurance Card (EHIC) as PDS's `Coverage` (`docs/pds.md`,
//! "Coverage"): `GET /Coverage?subscriber:identifier={nhsNumber}` answers a searchset of zero or
//! one Coverage; `POST /Coverage` replaces the card PDS holds (one at a time), guarded by the
//! patient's version in `If-Match` like a PATCH, and bumps that version.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{BASE_PATH, Pds, check_headers, if_match, parse_nhs_number};
use crate::fhir::bundle::json_response;
use crate::fhir::{FhirError, SpineCode};
use crate::http::query_pairs;
use crate::scenario::record_details::{self, Coverage};

const SUBSCRIBER: &str = "subscriber:identifier";
const FORMAT: &str = "Invalid search data provided - 'Coverage search request must follow the format /Coverage?subscriber:identifier=NHS_NUMBER'";

fn search_bundle(pds: &Pds, nhs: &str, coverage: Option<&Value>, version: u64) -> Value {
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": pds.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "total": usize::from(coverage.is_some()),
        "meta": { "versionId": version.to_string() },
    });
    if let Some(coverage) = coverage {
        bundle["entry"] = json!([{
            "fullUrl": format!("{}{BASE_PATH}/Coverage?{SUBSCRIBER}={nhs}", pds.public_url),
            "resource": coverage,
        }]);
    }
    bundle
}

fn with_etag(mut resp: Response<Bytes>, version: u64) -> Response<Bytes> {
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

/// `GET /Coverage?subscriber:identifier={nhsNumber}`: headers, the query's shape, the NHS
/// number, the patient, then the searchset.
pub(crate) fn search(pds: &Pds, req: &Request<Bytes>) -> Result<Response<Bytes>, FhirError> {
    check_headers(req.headers())?;
    let pairs = query_pairs(req.uri().query());
    let nhs = match pairs.as_slice() {
        [(name, value)] if name == SUBSCRIBER => value.clone(),
        _ => return Err(FhirError::new(SpineCode::InvalidSearchData, FORMAT)),
    };
    let nhs = parse_nhs_number(&nhs)?;
    let (coverage, version) = pds
        .store
        .coverage(nhs.as_str())
        .ok_or_else(|| super::store::not_found(nhs.as_str()))?;
    let bundle = search_bundle(pds, nhs.as_str(), coverage.as_deref(), version);
    Ok(with_etag(json_response(StatusCode::OK, &bundle), version))
}

fn missing(field: &str) -> FhirError {
    FhirError::new(
        SpineCode::MissingValue,
        format!("Missing value - '{field}'"),
    )
}

fn invalid(value: &Value, field: &str) -> FhirError {
    let shown = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    FhirError::new(
        SpineCode::InvalidValue,
        format!("Invalid value - '{shown}' in field '{field}'"),
    )
}

/// A non-empty string at `pointer`, or the MISSING_VALUE naming `field`.
fn required<'v>(body: &'v Value, pointer: &str, field: &str) -> Result<&'v Value, FhirError> {
    match body.pointer(pointer) {
        Some(v) if v.as_str().is_some_and(|s| !s.trim().is_empty()) => Ok(v),
        Some(v) if !v.is_null() && !v.is_string() => Err(invalid(v, field)),
        _ => Err(missing(field)),
    }
}

/// Checks a posted Coverage as PDS does (missing values first, then invalid ones) and returns
/// the Coverage to hold and its subscriber's NHS number.
pub(crate) fn read_posted(body: &[u8]) -> Result<(Value, String), FhirError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        FhirError::new(
            SpineCode::InvalidUpdate,
            format!("Invalid update with error - the body is not JSON: {e}"),
        )
    })?;
    if !body.is_object() {
        return Err(FhirError::new(
            SpineCode::InvalidUpdate,
            "Invalid update with error - the body must be a Coverage resource (a JSON object)",
        ));
    }
    if let Some(kind) = body.get("resourceType")
        && kind != "Coverage"
    {
        return Err(invalid(kind, "resourceType"));
    }
    let card = required(&body, "/identifier/0/value", "identifier/0/value")?;
    let status = required(&body, "/status", "status")?;
    let subscriber = required(
        &body,
        "/subscriber/identifier/value",
        "subscriber/identifier/value",
    )?;
    let personal_id = required(
        &body,
        "/beneficiary/identifier/value",
        "beneficiary/identifier/value",
    )?;
    if body.get("period").is_none_or(Value::is_null) {
        return Err(missing("period"));
    }
    let expires = required(&body, "/period/end", "period/end")?;
    let institution = required(
        &body,
        "/payor/0/identifier/value",
        "payor/0/identifier/value",
    )?;
    let country = required(
        &body,
        "/identifier/0/assigner/identifier/value",
        "identifier/0/assigner/identifier/value",
    )?;
    let text = |v: &Value| v.as_str().unwrap_or_default().trim().to_owned();
    let is_date = |v: &Value| {
        chrono::NaiveDate::parse_from_str(v.as_str().unwrap_or_default(), "%Y-%m-%d").is_ok()
    };
    if !is_date(expires) {
        return Err(invalid(expires, "period/end"));
    }
    for (value, field, max) in [
        (card, "identifier/0/value", 25),
        (personal_id, "beneficiary/identifier/value", 25),
        (institution, "payor/0/identifier/value", 30),
    ] {
        if !record_details::ehic_value_ok(&text(value), max) {
            return Err(invalid(value, field));
        }
    }
    let country_code = text(country);
    if country_code.len() != 3 || !country_code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid(country, "identifier/0/assigner/identifier/value"));
    }
    if status != "active" {
        return Err(invalid(status, "status"));
    }
    if body["payor"].as_array().is_some_and(|p| p.len() > 1) {
        return Err(FhirError::new(
            SpineCode::InvalidValue,
            "Invalid value - a Coverage holds one payor (the EHIC institution) in field 'payor'",
        ));
    }
    let nhs = text(subscriber);
    let coverage = super::patient::coverage_from_scenario(
        &nhs,
        &Coverage {
            card_number: text(card),
            country: country_code,
            institution: text(institution),
            personal_id: text(personal_id),
            expires: text(expires),
        },
    );
    Ok((coverage, nhs))
}

/// `POST /Coverage`: `If-Match` present, a `Content-Type`, `X-Request-ID`, authorisation, the
/// body, the subscriber, then (atomically, in the store) the version and the replacement.
pub(crate) fn post(pds: &Pds, req: &Request<Bytes>) -> Result<Response<Bytes>, FhirError> {
    let version = if_match(req.headers())?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(
        media_type.to_ascii_lowercase().as_str(),
        "application/json" | "application/fhir+json" | "application/json-patch+json"
    ) {
        return Err(FhirError::new(
            SpineCode::UnsupportedService,
            format!(
                "Invalid request with error - Content-Type '{content_type}' is not supported; send the Coverage as 'application/json'"
            ),
        ));
    }
    check_headers(req.headers())?;
    let (coverage, nhs) = read_posted(req.body())?;
    let nhs = parse_nhs_number(&nhs)?;
    let (held, version) = pds.store.set_coverage(nhs.as_str(), &version, coverage)?;
    tracing::info!(nhs = %nhs, version, "PDS coverage replaced.");
    let bundle = search_bundle(pds, nhs.as_str(), Some(&held), version);
    Ok(with_etag(
        json_response(StatusCode::CREATED, &bundle),
        version,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::systems;
    use crate::pds::patient::ISO_3166;

    fn posted() -> Value {
        json!({
            "resourceType": "Coverage", "status": "active",
            "identifier": [{ "value": "291234567890121234",
                "assigner": { "identifier": { "system": ISO_3166, "value": "FRA" } } }],
            "beneficiary": { "identifier": { "value": "9876543218" } },
            "period": { "end": "2030-08-20" },
            "payor": [{ "identifier": { "value": "DE98735" } }],
            "subscriber": { "identifier": { "system": systems::NHS_NUMBER, "value": "9000000009" } },
        })
    }

    fn refusal(body: Value) -> String {
        read_posted(body.to_string().as_bytes())
            .unwrap_err()
            .diagnostics
    }

    #[test]
    fn a_posted_card_is_checked_field_by_field() {
        let (held, nhs) = read_posted(posted().to_string().as_bytes()).unwrap();
        assert_eq!(nhs, "9000000009");
        assert_eq!(held["identifier"][0]["value"], "291234567890121234");
        let mut body = posted();
        body["identifier"][0]
            .as_object_mut()
            .unwrap()
            .remove("value");
        assert_eq!(refusal(body), "Missing value - 'identifier/0/value'");
        let mut body = posted();
        body["status"] = json!("Expired");
        assert_eq!(refusal(body), "Invalid value - 'Expired' in field 'status'");
        let mut body = posted();
        body["period"]["end"] = json!("not-a-date");
        assert_eq!(
            refusal(body),
            "Invalid value - 'not-a-date' in field 'period/end'"
        );
        let mut body = posted();
        body["payor"][0]["identifier"]["value"] = json!("x".repeat(31));
        assert!(refusal(body).contains("payor/0/identifier/value"));
    }
}
