//! Admin routes for consumer teams: the conformance report (one run, one patient), clearing one
//! consumer's history, the sandbox's clock, and the certificates a consumer needs.
//!
//! - `GET /_admin/conformance[?ods=][&asid=][&patient=][&since=SEQ|TIME][&last=true][&format=]`
//! - `DELETE /_admin/consumers/{ODS}/history`: the report forgets that consumer's journeys so far
//! - `GET /_admin/clock`, `POST /_admin/clock` (`{"advance": "25h"}` or `{"now": RFC 3339}`),
//!   `DELETE /_admin/clock` (back to real time)
//! - `GET /_admin/certificates/ca.pem`, `.../clients/{ASID}.pem`, `.../clients/{ASID}-key.pem`

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use crate::fhir::bundle::json_response;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{Body, boxed, closing, full, query_pairs, read_body_within};
use crate::world::state::Shared;

/// Whether `path` is one of this module's routes.
pub(super) fn owns(path: &str) -> bool {
    path == "/_admin/conformance"
        || path == "/_admin/clock"
        || path.starts_with("/_admin/consumers/")
        || path.starts_with("/_admin/certificates/")
}

fn fail(e: FhirError) -> Response<Body> {
    boxed(e.to_response(OutcomeStyle::GpConnect))
}

fn not_allowed(method: &Method, path: &str) -> Response<Body> {
    fail(
        FhirError::new(
            SpineCode::BadRequest,
            format!("{method} is not allowed on {path}"),
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED),
    )
}

pub(super) async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/_admin/conformance") => conformance(shared, req.uri().query()).await,
        (_, "/_admin/conformance") => not_allowed(&method, &path),
        (&Method::GET, "/_admin/clock") => clock_view(shared),
        (&Method::POST, "/_admin/clock") => move_clock(shared, req).await,
        (&Method::DELETE, "/_admin/clock") => {
            shared.clock.restore();
            tracing::info!("Clock back to real time.");
            clock_view(shared)
        }
        (_, "/_admin/clock") => not_allowed(&method, &path),
        (m, p) if p.starts_with("/_admin/consumers/") => {
            let rest = &p["/_admin/consumers/".len()..];
            match rest.split_once('/') {
                Some((ods, "history")) if valid_ods(ods) => {
                    if m == Method::DELETE {
                        clear_history(shared, ods)
                    } else {
                        not_allowed(m, p)
                    }
                }
                _ => fail(FhirError::new(
                    SpineCode::NoRecordFound,
                    format!(
                        "no admin endpoint at {p} (DELETE /_admin/consumers/{{ODS}}/history clears one consumer's history)"
                    ),
                )),
            }
        }
        (&Method::GET, p) => certificate(shared, &p["/_admin/certificates/".len()..]),
        _ => not_allowed(&method, &path),
    }
}

fn valid_ods(ods: &str) -> bool {
    !ods.is_empty() && ods.len() <= 10 && ods.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Reads the report's query: which consumer, run and patient, and how to render it.
pub(super) fn report_query(
    query: Option<&str>,
) -> Result<(crate::conformance::Filter, String), FhirError> {
    let mut filter = crate::conformance::Filter::default();
    let mut format = "json".to_owned();
    for (key, value) in query_pairs(query) {
        match key.as_str() {
            "asid" => filter.asid = Some(value),
            "ods" | "as" => filter.ods = Some(value),
            "patient" => filter.patient = Some(value),
            "last" => {
                filter.last = match value.as_str() {
                    "" | "true" | "1" => true,
                    "false" | "0" => false,
                    other => {
                        return Err(FhirError::bad_request(format!(
                            "last must be true or false, not '{other}'"
                        )));
                    }
                }
            }
            "since" => {
                if let Ok(n) = value.parse::<u64>() {
                    filter.since = Some(n);
                } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&value) {
                    filter.since_time = Some(t.with_timezone(&chrono::Utc));
                } else {
                    return Err(FhirError::bad_request(format!(
                        "since must be a journal sequence number (e.g. 42) or an RFC 3339 time (e.g. 2025-06-01T09:00:00Z), not '{value}'"
                    )));
                }
            }
            "format" if matches!(value.as_str(), "json" | "text" | "junit") => format = value,
            "format" => {
                return Err(FhirError::bad_request(format!(
                    "format must be json, text or junit, not '{value}'"
                )));
            }
            other => {
                return Err(FhirError::bad_request(format!(
                    "unknown conformance parameter '{other}' (known: ods, asid, patient, since, last, format)"
                )));
            }
        }
    }
    Ok((filter, format))
}

/// `GET /_admin/conformance`: consumers' journeys graded from the journal, off the request
/// threads (see `heavy`).
async fn conformance(shared: &Shared, query: Option<&str>) -> Response<Body> {
    let (filter, format) = match report_query(query) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let journal = shared.journal.clone();
    let marks = shared.consumer_marks.all();
    let graded = super::heavy::run("conformance report", move || {
        let report = crate::conformance::report_with(
            &journal.since(0),
            journal.evicted_through(),
            &filter,
            &marks,
        );
        match format.as_str() {
            "text" => (
                crate::conformance::render::text(&report).into_bytes(),
                "text/plain; charset=utf-8",
            ),
            "junit" => (
                crate::conformance::render::junit(&report).into_bytes(),
                "application/xml",
            ),
            _ => (
                serde_json::to_vec(&report).unwrap_or_default(),
                "application/json",
            ),
        }
    });
    let (body, content_type) = match graded.await {
        Ok(done) => done,
        Err(e) => return super::heavy::refusal(&e),
    };
    let mut resp = Response::new(full(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `DELETE /_admin/consumers/{ODS}/history`: the report forgets what this consumer did so far;
/// the journal and every other consumer stay as they are.
fn clear_history(shared: &Shared, ods: &str) -> Response<Body> {
    let through = shared
        .journal
        .watermark()
        .max(shared.journal.since(0).last().map_or(0, |e| e.sequence));
    shared.consumer_marks.clear_through(ods, through);
    tracing::info!(ods, through, "Consumer history cleared for the report.");
    boxed(json_response(
        StatusCode::OK,
        &json!({ "ods": ods.to_ascii_uppercase(), "cleared_through": through }),
    ))
}

fn clock_view(shared: &Shared) -> Response<Body> {
    let offset = shared.clock.offset();
    boxed(json_response(
        StatusCode::OK,
        &json!({
            "now": crate::journal::rfc3339(shared.clock.now()),
            "offset_seconds": offset.num_seconds(),
        }),
    ))
}

/// `POST /_admin/clock`: `{"advance": "25h"}` moves the sandbox's time on (or back, `-2h`);
/// `{"now": "2025-06-01T09:00:00Z"}` sets it. PDS, SSP, the providers' JWT checks and the
/// journal all read this clock.
async fn move_clock(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let timeout = std::time::Duration::from_secs(shared.config.body_read_timeout_secs.max(1));
    let req = match read_body_within(req, 4 * 1024, timeout).await {
        Ok(r) => r,
        Err(e) => return closing(fail(e.to_fhir())),
    };
    let usage = "expected {\"advance\": \"25h\"} or {\"now\": \"2025-06-01T09:00:00Z\"}";
    let value: serde_json::Value = match serde_json::from_slice(req.body()) {
        Ok(v) => v,
        Err(e) => {
            return fail(FhirError::bad_request(format!(
                "clock body is not JSON: {e} ({usage})"
            )));
        }
    };
    let Some(object) = value.as_object() else {
        return fail(FhirError::bad_request(format!(
            "clock body must be a JSON object ({usage})"
        )));
    };
    if let Some(unknown) = object.keys().find(|k| *k != "advance" && *k != "now") {
        return fail(FhirError::bad_request(format!(
            "unknown clock field '{unknown}' ({usage})"
        )));
    }
    match (object.get("advance"), object.get("now")) {
        (Some(a), None) => {
            let Some(text) = a.as_str() else {
                return fail(FhirError::bad_request(format!(
                    "advance must be a string such as \"25h\", not {a}"
                )));
            };
            match crate::clock::parse_duration(text) {
                Ok(by) => {
                    shared.clock.advance(by);
                    tracing::info!(advance = text, "Clock moved.");
                }
                Err(e) => return fail(FhirError::bad_request(format!("advance: {e}"))),
            }
        }
        (None, Some(n)) => {
            let at = n
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            let Some(at) = at else {
                return fail(FhirError::bad_request(format!(
                    "now must be an RFC 3339 time such as \"2025-06-01T09:00:00Z\", not {n}"
                )));
            };
            shared.clock.set(at.with_timezone(&chrono::Utc));
            tracing::info!(now = %at, "Clock set.");
        }
        _ => {
            return fail(FhirError::bad_request(format!(
                "give exactly one of advance and now ({usage})"
            )));
        }
    }
    clock_view(shared)
}

/// `GET /_admin/certificates/...`: the files of the sandbox's own PKI folder, so a consumer can
/// use exactly the CA the running SSP trusts.
fn certificate(shared: &Shared, rest: &str) -> Response<Body> {
    let layout = crate::pki::Layout::new(&shared.config.certs_dir);
    let known = |asid: &str| {
        shared
            .world
            .practices
            .iter()
            .any(|p| p.asid.as_str() == asid)
    };
    let path = match rest {
        "ca.pem" => Some(layout.ca_cert()),
        r => r.strip_prefix("clients/").and_then(|f| {
            if let Some(asid) = f.strip_suffix("-key.pem") {
                known(asid).then(|| layout.client_key(asid))
            } else {
                let asid = f.strip_suffix(".pem")?;
                known(asid).then(|| layout.client_cert(asid))
            }
        }),
    };
    let Some(path) = path else {
        return fail(FhirError::new(
            SpineCode::NoRecordFound,
            format!(
                "no certificate at /_admin/certificates/{rest}: ca.pem, clients/{{ASID}}.pem and clients/{{ASID}}-key.pem are offered, for the ASIDs of the scenario's practices"
            ),
        ));
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let mut resp = Response::new(full(bytes));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pem-file"),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => fail(FhirError::new(
            SpineCode::InternalServerError,
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// What `POST /_admin/reset` undoes here: cleared histories and a moved clock.
pub(super) fn reset(shared: &Shared) {
    shared.consumer_marks.reset();
    shared.clock.restore();
}
