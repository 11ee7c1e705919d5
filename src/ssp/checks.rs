//! SSP's checks, one function each, in the order SSP applies them (`docs/ssp.md`).
//! Each returns the SSP-style refusal that says exactly what was wrong (see the parent module
//! for the token and diagnostics conventions).

use http::{HeaderMap, Method, StatusCode, header};

use super::headers;
use super::routes::{self, Route};
use crate::fhir::FhirError;
use crate::http::percent_decode_path;
use crate::identifiers::Asid;
use crate::sds::SdsDirectory;
use crate::sds::directory::SdsEndpoint;
use crate::tls::ClientIdentity;

/// An SSP refusal: `token` is the display (Spine's upper-case pattern); the diagnostics start
/// with the same token and go on to say, in a sentence, what the sandbox saw.
pub(crate) fn refuse(
    status: StatusCode,
    issue_type: &'static str,
    token: impl Into<String>,
    sentence: impl AsRef<str>,
) -> FhirError {
    FhirError::ssp_refusal(status, issue_type, token, sentence)
}

/// HTTP 495, nginx's "SSL Certificate Error", which SSP answers for an invalid certificate.
pub(crate) fn status_495() -> StatusCode {
    StatusCode::from_u16(495).unwrap_or(StatusCode::FORBIDDEN)
}

/// HTTP 496, nginx's "SSL Certificate Required".
pub(crate) fn status_496() -> StatusCode {
    StatusCode::from_u16(496).unwrap_or(StatusCode::FORBIDDEN)
}

/// The verified client certificate's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertifiedClient<'a> {
    pub asid: Option<&'a Asid>,
    pub subject: &'a str,
}

/// Check 1: a client certificate issued by the sandbox CA (`docs/ssp.md`).
pub(crate) fn client_certificate(
    identity: &ClientIdentity,
) -> Result<CertifiedClient<'_>, FhirError> {
    match identity {
        ClientIdentity::Anonymous => Err(refuse(
            status_496(),
            "security",
            "SSL_CERTIFICATE_REQUIRED",
            "the TLS connection carried no client certificate; SSP accepts only clients with a \
             certificate issued by the sandbox CA, e.g. clients/<your ASID>.pem and \
             clients/<your ASID>-key.pem from the certificates folder (a client holding a \
             certificate from another CA may send none, because SSP names its CA when it asks)",
        )),
        ClientIdentity::Rejected { reason, subject } => Err(refuse(
            status_495(),
            "security",
            "SSL_CERTIFICATE_ERROR",
            format!("the client certificate ({subject}) is refused: {reason}"),
        )),
        ClientIdentity::Verified { asid, subject, .. } => Ok(CertifiedClient {
            asid: asid.as_ref(),
            subject,
        }),
    }
}

/// Check 2: the certificate was issued for the ASID in `Ssp-From` (README.md, "Certificates"). Skipped when
/// `Ssp-From` is absent: the header checks report that.
pub(crate) fn certificate_matches_sender(
    client: &CertifiedClient<'_>,
    headers: &HeaderMap,
) -> Result<(), FhirError> {
    let Some(from) = headers
        .get(headers::FROM)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    else {
        return Ok(());
    };
    let token = format!("ASID_CHECK_FAILED_MESSAGESENDER_{from}");
    match client.asid {
        Some(asid) if asid.as_str() == from => Ok(()),
        Some(asid) => Err(refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            token,
            format!(
                "the client certificate was issued for ASID {asid} ({}), but Ssp-From is \
                 '{from}'; send Ssp-From: {asid}, or connect with clients/{from}.pem",
                client.subject
            ),
        )),
        None => Err(refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            token,
            format!(
                "the client certificate ({}) names no ASID in its subject serialNumber, so it \
                 cannot send as ASID '{from}'; connect with clients/{from}.pem",
                client.subject
            ),
        )),
    }
}

fn header_token(name: &str) -> String {
    format!("MISSING_OR_INVALID_HEADER_{}", name.to_ascii_uppercase())
}

/// The single value of a required header, or the refusal naming it.
fn required<'h>(headers: &'h HeaderMap, name: &str, example: &str) -> Result<&'h str, FhirError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "required",
            header_token(name),
            format!(
                "the {name} header is missing; every SSP request carries it, e.g. {name}: {example}"
            ),
        ));
    };
    let count = 1 + values.count();
    if count > 1 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            header_token(name),
            format!("the {name} header was sent {count} times; send it once"),
        ));
    }
    let text = value.to_str().map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            header_token(name),
            format!("the {name} header is not visible ASCII text"),
        )
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "required",
            header_token(name),
            format!("the {name} header is empty, e.g. {name}: {example}"),
        ));
    }
    Ok(text)
}

/// Check 3a: `Ssp-TraceID`: a UUID generated per request.
pub(crate) fn trace_id(headers: &HeaderMap) -> Result<String, FhirError> {
    let example = "6f1c2f9e-3d1a-4b53-9f5e-2b0d6a1e7c11";
    let value = required(headers, headers::TRACE_ID, example)?;
    if uuid::Uuid::try_parse(value).is_err() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "value",
            header_token(headers::TRACE_ID),
            format!(
                "{} '{value}' is not a UUID; generate a new one per request, e.g. {example}",
                headers::TRACE_ID
            ),
        ));
    }
    Ok(value.to_owned())
}

/// Check 3b: `Ssp-From` / `Ssp-To`: 12-digit ASIDs.
pub(crate) fn asid_header(headers: &HeaderMap, name: &str) -> Result<Asid, FhirError> {
    let value = required(headers, name, "918999198738")?;
    Asid::parse(value).map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "value",
            header_token(name),
            format!("{name} '{value}' is not an ASID (12 digits)"),
        )
    })
}

/// Check 3c: `Ssp-InteractionID`: a GP Connect interaction URN.
pub(crate) fn interaction_id(headers: &HeaderMap) -> Result<String, FhirError> {
    let example = crate::identifiers::interactions::MIGRATE_STRUCTURED;
    let value = required(headers, headers::INTERACTION_ID, example)?;
    if !value.starts_with("urn:nhs:names:services:") || value.contains(char::is_whitespace) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "value",
            header_token(headers::INTERACTION_ID),
            format!(
                "{} '{value}' is not an interaction id (urn:nhs:names:services:...), e.g. \
                 {example}",
                headers::INTERACTION_ID
            ),
        ));
    }
    Ok(value.to_owned())
}

/// Check 4: the sender's AS record lists the interaction (`nhsAsSvcIA`; the practice's
/// `interactions` in the scenario).
pub(crate) fn sender_may_send(
    sds: &SdsDirectory,
    from: &Asid,
    interaction: &str,
) -> Result<(), FhirError> {
    let token = format!("ASID_CHECK_FAILED_MESSAGESENDER_{from}");
    let Some(device) = sds.device(from.as_str()) else {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            token,
            format!(
                "no system with ASID {from} is registered in SDS (no practice in the scenario has it)"
            ),
        ));
    };
    if device.sends.iter().any(|i| i == interaction) {
        return Ok(());
    }
    Err(refuse(
        StatusCode::FORBIDDEN,
        "forbidden",
        token,
        format!(
            "ASID {from} ({}) is not authorised to send {interaction}; it may send: {}",
            device.ods,
            list_or_nothing(&device.sends)
        ),
    ))
}

/// Check 5: the receiver is registered to receive the interaction (`nhsMhsSvcIA`): its endpoint.
pub(crate) fn receiver_registered<'s>(
    sds: &'s SdsDirectory,
    to: &Asid,
    interaction: &str,
) -> Result<&'s SdsEndpoint, FhirError> {
    let token = format!("PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_{to}");
    if let Some(endpoint) = sds.endpoint_for_asid(to.as_str(), interaction) {
        return Ok(endpoint);
    }
    let sentence = match sds.device(to.as_str()) {
        None => format!(
            "no system with ASID {to} is registered in SDS (no practice in the scenario has it)"
        ),
        Some(device) if device.receives.is_empty() => format!(
            "ASID {to} ({}) is not a GP Connect provider: it is registered to receive nothing",
            device.ods
        ),
        Some(device) => format!(
            "ASID {to} ({}) is not registered to receive {interaction}; it receives: {}",
            device.ods,
            device.receives.join(", ")
        ),
    };
    Err(refuse(StatusCode::FORBIDDEN, "forbidden", token, sentence))
}

/// Check 6: the target URL starts with the receiver's SDS endpoint for the interaction, verbatim
/// once percent-escapes in its path are decoded (`%24` and `$` are the same URL). Returns what
/// follows the service root, path decoded (`/metadata`, `/Binary/x?y`).
pub(crate) fn target_is_endpoint(
    target: &str,
    endpoint: &SdsEndpoint,
) -> Result<String, FhirError> {
    let decoded = decoded_target(target);
    let address = percent_decode_path(&endpoint.address);
    if let Some(rest) = decoded.strip_prefix(address.as_ref())
        && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    {
        return Ok(rest.to_owned());
    }
    let address = &endpoint.address;
    let lower = target.to_ascii_lowercase();
    let hint = if target.is_empty() {
        format!(
            "the request names no target URL; SSP requests are https://<ssp>/<provider URL>, \
             e.g. https://<ssp>/{address}/metadata"
        )
    } else if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
        "the target URL is percent-encoded; put it in the path verbatim, after the SSP's own \
         address and one slash"
            .to_owned()
    } else if !lower.starts_with("http://") && !lower.starts_with("https://") {
        "the target is not an absolute http(s) URL; SSP requests are \
         https://<ssp>/<provider URL>"
            .to_owned()
    } else if lower.starts_with(&address.to_ascii_lowercase()) {
        "the target differs from the SDS endpoint only in letter case; SSP compares verbatim"
            .to_owned()
    } else {
        format!(
            "SDS holds {address} for ASID {} and {}; the target must start with it, verbatim (no \
             scheme change, no host-to-IP substitution, no added port)",
            endpoint.asid, endpoint.interaction
        )
    };
    Err(refuse(
        StatusCode::BAD_REQUEST,
        "invalid",
        format!(
            "ENDPOINT_{address}_CPAID_{}_VARIES_FROM_TARGETURL_{target}",
            endpoint.party_key
        ),
        hint,
    ))
}

/// An absolute target URL with its path percent-decoded (the query is the provider's to decode).
/// A target that is not `http://` or `https://` as sent (e.g. all escaped) is left as it is.
fn decoded_target(target: &str) -> String {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return target.to_owned();
    }
    match target.split_once('?') {
        Some((path, query)) => format!("{}?{query}", percent_decode_path(path)),
        None => percent_decode_path(target).into_owned(),
    }
}

/// Check 7: the interaction id matches the method and path (`docs/ssp.md` table).
pub(crate) fn interaction_matches(
    interaction: &str,
    method: &Method,
    rest: &str,
) -> Result<(), FhirError> {
    let Some(route) = routes::route_of(interaction) else {
        return Ok(());
    };
    let path = rest
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_start_matches('/');
    if !route.matches_path(path) {
        let fitting: Vec<&'static str> = routes::routes()
            .iter()
            .filter(|r| r.method == method && r.matches_path(path))
            .map(|r: &Route| r.interaction)
            .collect();
        let suggestion = if fitting.is_empty() {
            String::new()
        } else {
            format!("; {method} {path} is {}", fitting.join(" or "))
        };
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            header_token(headers::INTERACTION_ID),
            format!(
                "{} {interaction} is for {}, but the request is {method} <service root>/{path}{suggestion}",
                headers::INTERACTION_ID,
                route.describe()
            ),
        ));
    }
    if route.method != method {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "405: Method Not Allowed",
            format!("{interaction} is {}, not {method}", route.describe()),
        ));
    }
    Ok(())
}

/// Check 8: a request that carries a resource says it is FHIR.
pub(crate) fn media_type(method: &Method, headers: &HeaderMap) -> Result<(), FhirError> {
    if *method != Method::POST && *method != Method::PUT {
        return Ok(());
    }
    let token = "Unsupported_Media_Type";
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            token,
            format!(
                "a {method} must say what it carries; send Content-Type: application/fhir+json"
            ),
        ));
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    const FHIR_TYPES: [&str; 4] = [
        "application/fhir+json",
        "application/fhir+xml",
        "application/json+fhir",
        "application/xml+fhir",
    ];
    if FHIR_TYPES.contains(&essence.as_str()) {
        return Ok(());
    }
    Err(refuse(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not-supported",
        token,
        format!("Content-Type '{text}' is not a FHIR media type; send application/fhir+json"),
    ))
}

fn list_or_nothing(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiers::interactions;

    fn endpoint() -> SdsEndpoint {
        SdsEndpoint {
            ods: "B82617".into(),
            asid: "918999198738".into(),
            party_key: "B82617-806568".into(),
            interaction: interactions::MIGRATE_STRUCTURED.into(),
            address: "http://localhost:8080/B82617/STU3/1/gpconnect/structured/fhir".into(),
        }
    }

    #[test]
    fn target_must_start_with_the_endpoint_at_a_segment_boundary() {
        let e = endpoint();
        let ok = format!("{}/metadata", e.address);
        assert_eq!(target_is_endpoint(&ok, &e).unwrap(), "/metadata");
        let escaped = format!("{}/Patient/%24gpc.migratestructuredrecord?a=%24", e.address);
        assert_eq!(
            target_is_endpoint(&escaped, &e).unwrap(),
            "/Patient/$gpc.migratestructuredrecord?a=%24"
        );
        let err = target_is_endpoint(&format!("{}x/metadata", e.address), &e).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.display
                .starts_with("ENDPOINT_http://localhost:8080/B82617")
        );
        assert!(
            err.display
                .contains("_CPAID_B82617-806568_VARIES_FROM_TARGETURL_http")
        );
        let err = target_is_endpoint("http%3A%2F%2Flocalhost", &e).unwrap_err();
        assert!(err.diagnostics.contains("percent-encoded"));
        let upper = e.address.replace("localhost", "LOCALHOST");
        let err = target_is_endpoint(&upper, &e).unwrap_err();
        assert!(err.diagnostics.contains("letter case"));
    }

    #[test]
    fn interaction_and_method_must_fit_the_path() {
        let migrate = interactions::MIGRATE_STRUCTURED;
        assert!(
            interaction_matches(
                migrate,
                &Method::POST,
                "/Patient/$gpc.migratestructuredrecord"
            )
            .is_ok()
        );
        let err = interaction_matches(migrate, &Method::GET, "/metadata").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.diagnostics.contains(interactions::STRUCTURED_METADATA),
            "{}",
            err.diagnostics
        );
        let err = interaction_matches(
            migrate,
            &Method::GET,
            "/Patient/$gpc.migratestructuredrecord",
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(err.display, "405: Method Not Allowed");
    }

    #[test]
    fn fhir_media_types_are_accepted_with_parameters() {
        let mut h = HeaderMap::new();
        assert!(media_type(&Method::GET, &h).is_ok());
        assert!(media_type(&Method::POST, &h).is_err());
        h.insert(
            header::CONTENT_TYPE,
            "application/fhir+json;charset=utf-8".parse().unwrap(),
        );
        assert!(media_type(&Method::POST, &h).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let err = media_type(&Method::POST, &h).unwrap_err();
        assert_eq!(err.display, "Unsupported_Media_Type");
    }

    #[test]
    fn header_refusals_name_the_header() {
        let mut h = HeaderMap::new();
        let err = trace_id(&h).unwrap_err();
        assert_eq!(err.display, "MISSING_OR_INVALID_HEADER_SSP-TRACEID");
        assert!(err.diagnostics.contains("missing"));
        h.insert("ssp-traceid", "abc".parse().unwrap());
        assert!(
            trace_id(&h)
                .unwrap_err()
                .diagnostics
                .contains("'abc' is not a UUID")
        );
        h.append("ssp-from", "918999198738".parse().unwrap());
        h.append("ssp-from", "918999198738".parse().unwrap());
        assert!(
            asid_header(&h, headers::FROM)
                .unwrap_err()
                .diagnostics
                .contains("sent 2 times")
        );
        h.insert("ssp-interactionid", "migrate".parse().unwrap());
        assert_eq!(
            interaction_id(&h).unwrap_err().display,
            "MISSING_OR_INVALID_HEADER_SSP-INTERACTIONID"
        );
    }
}
