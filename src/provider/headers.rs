//! The first rungs every provider interaction climbs: the `Ssp-*` headers a provider must check
//! behind SSP (`docs/ssp.md`), the media types (`docs/errors.md`,
//! 415 row) and the bearer token (`docs/jwt.md`). Each check is one function returning the refusal.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, header};

use crate::fhir::FhirError;
use crate::jwt::{self, Claims, Rules};
use crate::scenario::Practice;

use crate::fhir::gpconnect::headers as names;

/// The `Ssp-*` headers of an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SspHeaders {
    pub trace_id: String,
    pub from: String,
    pub to: String,
    pub interaction: String,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, FhirError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
            .map_err(|_| FhirError::bad_request(format!("header '{name}' is not visible ASCII"))),
    }
}

/// All four `Ssp-*` headers are present and not empty; `Ssp-TraceID` is a UUID.
pub(crate) fn check_ssp_headers(headers: &HeaderMap) -> Result<SspHeaders, FhirError> {
    let mut values = Vec::with_capacity(4);
    for (name, shown, what) in [
        (names::TRACE_ID, "Ssp-TraceID", "a new UUID per request"),
        (names::FROM, "Ssp-From", "the consumer's ASID"),
        (names::TO, "Ssp-To", "the provider's ASID from SDS"),
        (
            names::INTERACTION_ID,
            "Ssp-InteractionID",
            "the interaction id of the operation",
        ),
    ] {
        match header(headers, name)? {
            Some(v) => values.push(v.to_owned()),
            None => {
                return Err(FhirError::bad_request(format!(
                    "header '{shown}' is missing: every GP Connect request carries it ({what})"
                )));
            }
        }
    }
    let [trace_id, from, to, interaction]: [String; 4] = values
        .try_into()
        .map_err(|_| FhirError::internal("Ssp header count"))?;
    if uuid::Uuid::try_parse(&trace_id).is_err() {
        return Err(FhirError::bad_request(format!(
            "header 'Ssp-TraceID' is '{trace_id}'; it must be a UUID (GUID), new for every request"
        )));
    }
    Ok(SspHeaders {
        trace_id,
        from,
        to,
        interaction,
    })
}

/// `Ssp-InteractionID` names the operation requested (`docs/ssp.md`).
pub(crate) fn check_interaction(
    ssp: &SspHeaders,
    method: &Method,
    path: &str,
    expected: &str,
) -> Result<(), FhirError> {
    if ssp.interaction != expected {
        return Err(FhirError::bad_request(format!(
            "header 'Ssp-InteractionID' is '{}', but {method} {path} is the interaction '{expected}'",
            ssp.interaction
        )));
    }
    Ok(())
}

/// `Ssp-To` is this provider's ASID: a provider accepts only requests addressed to it.
pub(crate) fn check_addressee(ssp: &SspHeaders, practice: &Practice) -> Result<(), FhirError> {
    if ssp.to != practice.asid.as_str() {
        return Err(FhirError::bad_request(format!(
            "header 'Ssp-To' is '{}', but this provider ({} {}) has ASID {}: look the ASID up in SDS (/Device)",
            ssp.to, practice.ods, practice.name, practice.asid
        )));
    }
    Ok(())
}

/// Media types the sandbox speaks: FHIR JSON (STU3 and its DSTU2 spelling) and plain JSON.
fn is_json_media_type(media: &str) -> bool {
    let media = media.split(';').next().unwrap_or_default().trim();
    [
        "application/fhir+json",
        "application/json+fhir",
        "application/json",
    ]
    .iter()
    .any(|m| media.eq_ignore_ascii_case(m))
}

/// `Accept` (and a `_format` query parameter) allow a JSON answer; absent means JSON.
pub(crate) fn check_accept(req: &Request<Bytes>) -> Result<(), FhirError> {
    if let Some(accept) = header(req.headers(), header::ACCEPT.as_str())? {
        let ok = accept.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            is_json_media_type(media)
                || media == "*/*"
                || media.eq_ignore_ascii_case("application/*")
        });
        if !ok {
            return Err(FhirError::unsupported_media_type(format!(
                "header 'Accept' is '{accept}'; the sandbox answers only application/fhir+json;charset=utf-8 (XML is not emulated)"
            )));
        }
    }
    if let Some(query) = req.uri().query() {
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name == "_format" {
                let value = value
                    .replace("%2B", "+")
                    .replace("%2b", "+")
                    .replace("%2F", "/");
                if !(value == "json" || is_json_media_type(&value)) {
                    return Err(FhirError::unsupported_media_type(format!(
                        "query parameter '_format' is '{value}'; the sandbox answers only json (application/fhir+json)"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A POSTed body is FHIR JSON in UTF-8.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), FhirError> {
    let Some(content_type) = header(headers, header::CONTENT_TYPE.as_str())? else {
        return Err(FhirError::bad_request(
            "header 'Content-Type' is missing: send application/fhir+json;charset=utf-8",
        ));
    };
    if !is_json_media_type(content_type) {
        return Err(FhirError::unsupported_media_type(format!(
            "header 'Content-Type' is '{content_type}'; the sandbox reads only application/fhir+json;charset=utf-8 (XML is not emulated)"
        )));
    }
    let charset = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"'));
    if let Some(cs) = charset
        && !cs.eq_ignore_ascii_case("utf-8")
    {
        return Err(FhirError::unsupported_media_type(format!(
            "header 'Content-Type' has charset '{cs}'; FHIR JSON is utf-8"
        )));
    }
    Ok(())
}

/// `Authorization: Bearer <JWT>` and the token's claims for this interaction.
pub(crate) fn authorise(
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
    rules: &Rules,
) -> Result<Claims, FhirError> {
    let Some(value) = header(headers, header::AUTHORIZATION.as_str())? else {
        return Err(FhirError::bad_request(
            "header 'Authorization' is missing: send 'Bearer <JWT>' with the GP Connect audit token",
        ));
    };
    let token = jwt::bearer_token(value).ok_or_else(|| {
        FhirError::bad_request(
            "header 'Authorization' must be 'Bearer <JWT>' (the GP Connect audit token)",
        )
    })?;
    jwt::validate(token, now, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)], uri: &str) -> Request<Bytes> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Bytes::new()).unwrap()
    }

    #[test]
    fn accept_rules() {
        for ok in [
            "application/fhir+json",
            "application/fhir+json;charset=utf-8",
            "application/json+fhir",
            "*/*",
            "text/html, application/json;q=0.9",
        ] {
            assert!(check_accept(&req(&[("accept", ok)], "/x")).is_ok(), "{ok}");
        }
        let e = check_accept(&req(&[("accept", "application/fhir+xml")], "/x")).unwrap_err();
        assert_eq!(e.status, 415);
        assert!(e.diagnostics.contains("Accept"));
        assert!(check_accept(&req(&[], "/x?_format=xml")).is_err());
        assert!(check_accept(&req(&[], "/x?_format=json")).is_ok());
        assert!(check_accept(&req(&[], "/x")).is_ok());
    }

    #[test]
    fn content_type_rules() {
        let h = |v: &str| req(&[("content-type", v)], "/").headers().clone();
        assert!(check_content_type(&h("application/fhir+json;charset=utf-8")).is_ok());
        assert!(check_content_type(&h("application/fhir+json")).is_ok());
        assert_eq!(
            check_content_type(&h("application/fhir+xml"))
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(
            check_content_type(&h("application/fhir+json;charset=latin1"))
                .unwrap_err()
                .status,
            415
        );
        let e = check_content_type(&HeaderMap::new()).unwrap_err();
        assert_eq!(e.code, "BAD_REQUEST");
    }

    #[test]
    fn ssp_headers_are_named_when_missing() {
        let full = [
            ("ssp-traceid", "5b1a6fbc-5f44-4d68-a9e2-1d1a2b0f8f5e"),
            ("ssp-from", "200000000359"),
            ("ssp-to", "918999198738"),
            ("ssp-interactionid", "urn:x"),
        ];
        assert!(check_ssp_headers(req(&full, "/").headers()).is_ok());
        for skip in 0..4 {
            let partial: Vec<_> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, h)| *h)
                .collect();
            let e = check_ssp_headers(req(&partial, "/").headers()).unwrap_err();
            assert_eq!(e.code, "BAD_REQUEST");
            assert!(
                e.diagnostics.to_ascii_lowercase().contains(full[skip].0),
                "{e}"
            );
        }
        let mut bad = full;
        bad[0].1 = "not-a-uuid";
        let e = check_ssp_headers(req(&bad, "/").headers()).unwrap_err();
        assert!(e.diagnostics.contains("UUID"));
    }
}
