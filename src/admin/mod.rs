//! The admin API (`/healthz`, `/_admin/reset`, `/_admin/journal`) and the web page at `/`
//! (`shared/design/contract.md` section 2).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use crate::fhir::bundle::json_response;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{Body, boxed, full, read_body};
use crate::sandbox::Shared;

mod stream;

pub async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/healthz") => boxed(json_response(
            StatusCode::OK,
            &json!({ "status": "ok", "scenario": shared.world.name }),
        )),
        (&Method::POST, "/_admin/reset") => {
            shared.pds.reset(&shared.world);
            shared.platform.reset();
            shared.journal.clear();
            tracing::info!("State reset to the loaded scenario.");
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            boxed(resp)
        }
        (&Method::GET, "/_admin/journal") => {
            let wants_stream = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/event-stream"));
            let last_event = req
                .headers()
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            match journal_query(req.uri().query()) {
                Err(e) => boxed(e.to_response(OutcomeStyle::GpConnect)),
                Ok(query) if wants_stream || query.stream => {
                    stream::journal_stream(shared, last_event.unwrap_or(query.since))
                }
                Ok(query) => journal(shared, query.since),
            }
        }
        (&Method::GET, "/_admin/faults") => boxed(json_response(
            StatusCode::OK,
            &json!({ "rules": shared.platform.faults.list() }),
        )),
        (&Method::POST, "/_admin/faults") => add_faults(shared, req).await,
        (&Method::DELETE, "/_admin/faults") => {
            shared.platform.faults.clear();
            tracing::info!("Every fault rule removed.");
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            boxed(resp)
        }
        (&Method::DELETE, p) if p.starts_with("/_admin/faults/") => {
            let id = &p["/_admin/faults/".len()..];
            match id.parse::<u64>() {
                Ok(n) if shared.platform.faults.remove(n) => {
                    let mut resp = Response::new(Bytes::new());
                    *resp.status_mut() = StatusCode::NO_CONTENT;
                    boxed(resp)
                }
                _ => boxed(
                    FhirError::new(
                        SpineCode::NoRecordFound,
                        format!("no fault rule with id '{id}' (GET /_admin/faults lists them)"),
                    )
                    .to_response(OutcomeStyle::GpConnect),
                ),
            }
        }
        (&Method::GET, "/") => page(),
        (&Method::POST, "/_admin/journey") => run_journey(shared, req).await,
        (&Method::GET, "/_admin/scenario") => {
            boxed(json_response(StatusCode::OK, &scenario_summary(shared)))
        }
        (
            _,
            "/healthz" | "/_admin/reset" | "/_admin/journal" | "/_admin/scenario"
            | "/_admin/journey" | "/_admin/faults" | "/",
        ) => boxed(
            FhirError::new(
                SpineCode::BadRequest,
                format!("{} is not allowed on {path}", req.method()),
            )
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
            .to_response(OutcomeStyle::GpConnect),
        ),
        _ => boxed(
            FhirError::new(
                SpineCode::NoRecordFound,
                format!("no admin endpoint at {path}"),
            )
            .to_response(OutcomeStyle::GpConnect),
        ),
    }
}

/// What `GET /_admin/journal` was asked for.
struct JournalQuery {
    since: u64,
    stream: bool,
}

fn journal_query(query: Option<&str>) -> Result<JournalQuery, FhirError> {
    let mut q = JournalQuery {
        since: 0,
        stream: false,
    };
    for (key, value) in query_pairs(query) {
        match key.as_str() {
            "since" => {
                q.since = value.parse::<u64>().map_err(|_| {
                    FhirError::bad_request(format!(
                        "since must be a sequence number (a non-negative integer), not '{value}'"
                    ))
                })?;
            }
            "stream" => q.stream = matches!(value.as_str(), "" | "true" | "1"),
            other => {
                return Err(FhirError::bad_request(format!(
                    "unknown journal parameter '{other}' (known: since, stream)"
                )));
            }
        }
    }
    Ok(q)
}

fn journal(shared: &Shared, since: u64) -> Response<Body> {
    let entries = shared.journal.since(since);
    let body = serde_json::to_vec(&entries).unwrap_or_default();
    let mut resp = Response::new(full(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `key=value` pairs of a query string, percent-decoded.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (as a space), leaving malformed escapes as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the page's buttons ask for: the journey options a trainer can choose.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JourneyRequest {
    patient: String,
    #[serde(rename = "as")]
    as_ods: String,
    #[serde(default)]
    skip_registration_change: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    from: Option<String>,
}

/// Runs the consumer journey against this very sandbox, over the network like the CLI does,
/// so the journal (and the page's diagram) shows every hop.
/// `POST /_admin/faults`: one rule, or a list of rules set together (all or none).
async fn add_faults(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let fail = |e: FhirError| boxed(e.to_response(OutcomeStyle::GpConnect));
    let req = match read_body(req, 64 * 1024).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let value: serde_json::Value = match serde_json::from_slice(req.body()) {
        Ok(v) => v,
        Err(e) => {
            return fail(FhirError::bad_request(format!(
                "fault rule body is not JSON: {e} (expected e.g. {{\"service\": \"pds\", \"latency_ms\": 3000}})"
            )));
        }
    };
    let items = match value {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    let mut specs = Vec::with_capacity(items.len());
    for (n, item) in items.into_iter().enumerate() {
        match crate::platform::FaultSpec::from_json(item) {
            Ok(spec) => specs.push(spec),
            Err(e) => {
                return fail(FhirError::bad_request(format!("fault rule {}: {e}", n + 1)));
            }
        }
    }
    let added: Vec<serde_json::Value> = specs
        .into_iter()
        .map(|spec| {
            let rule = shared.platform.faults.add(spec);
            tracing::info!(id = rule.id, "Fault rule set.");
            rule.view()
        })
        .collect();
    boxed(json_response(
        StatusCode::CREATED,
        &json!({ "rules": added }),
    ))
}

async fn run_journey(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let fail = |e: FhirError| boxed(e.to_response(OutcomeStyle::GpConnect));
    let req = match read_body(req, 64 * 1024).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let ask: JourneyRequest = match serde_json::from_slice(req.body()) {
        Ok(a) => a,
        Err(e) => {
            return fail(FhirError::bad_request(format!(
                "journey request body: {e} (expected {{\"patient\", \"as\", \"skip_registration_change\", \"sensitive\", \"from\"}})"
            )));
        }
    };
    let options = crate::journey::JourneyOptions {
        patient: ask.patient,
        as_ods: ask.as_ods,
        skip_registration_change: ask.skip_registration_change,
        sensitive: ask.sensitive,
        from: ask.from,
        sandbox_url: format!("http://{}", loopback(shared.http_addr)),
        ssp_url: format!("https://{}", loopback(shared.ssp_addr)),
        certs_dir: shared.config.certs_dir.clone(),
        auth: None,
    };
    let report = crate::journey::run(&options, |_| {}).await;
    boxed(json_response(StatusCode::OK, &json!(report)))
}

/// The address to reach a listener from this machine (an unspecified bind means loopback).
fn loopback(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        let ip: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        std::net::SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

/// The loaded world as the web page shows it; registrations as PDS holds them now.
fn scenario_summary(shared: &Shared) -> serde_json::Value {
    let world = &shared.world;
    let practices: Vec<_> = world
        .practices
        .iter()
        .map(|p| {
            json!({ "ods": p.ods, "name": p.name, "asid": p.asid,
                    "party_key": p.party_key, "provider": p.provider })
        })
        .collect();
    let patients: Vec<_> = world
        .patients
        .iter()
        .map(|p| {
            let name = format!(
                "{} {} {}",
                p.name.prefix.as_deref().unwrap_or(""),
                p.name.given.join(" "),
                p.name.family
            );
            json!({
                "nhs_number": p.nhs_number.as_str(),
                "name": name.trim(),
                "registered_with": shared.pds.registered_practice(p.nhs_number.as_str()),
                "record_at": p.record_at,
                "sensitive": p.sensitive,
                "deceased": p.deceased.is_some(),
                "dissent": p.dissent,
                "nhs_number_verified": p.nhs_number_verified,
                "items": p.record.item_count(),
                "documents": p.record.documents.len(),
                "confidential_items": confidential_count(&p.record),
            })
        })
        .collect();
    json!({
        "name": world.name,
        "description": world.description,
        "practices": practices,
        "patients": patients,
    })
}

fn confidential_count(r: &crate::scenario::Record) -> usize {
    r.problems.iter().filter(|i| i.meta.confidential).count()
        + r.allergies.iter().filter(|i| i.meta.confidential).count()
        + r.medications.iter().filter(|i| i.meta.confidential).count()
        + r.immunisations
            .iter()
            .filter(|i| i.meta.confidential)
            .count()
        + r.observations
            .iter()
            .filter(|i| i.meta.confidential)
            .count()
        + r.investigations
            .iter()
            .filter(|i| i.meta.confidential)
            .count()
        + r.consultations
            .iter()
            .filter(|i| i.meta.confidential)
            .count()
        + r.referrals.iter().filter(|i| i.meta.confidential).count()
        + r.diary.iter().filter(|i| i.meta.confidential).count()
        + r.documents.iter().filter(|i| i.meta.confidential).count()
}

fn page() -> Response<Body> {
    let mut resp = Response::new(full(include_str!("page.html")));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode() {
        assert_eq!(
            query_pairs(Some(
                "organization=https%3A%2F%2Ffhir.nhs.uk%7CB82617&x=a+b&y"
            )),
            vec![
                (
                    "organization".to_owned(),
                    "https://fhir.nhs.uk|B82617".to_owned()
                ),
                ("x".to_owned(), "a b".to_owned()),
                ("y".to_owned(), String::new()),
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
