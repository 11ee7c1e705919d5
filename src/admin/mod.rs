//! The admin API (`/healthz`, `/_admin/reset`, `/_admin/journal`) and the web page at `/`
//! (README.md, "URLs"): `page.html` with its style sheet and scripts (`page.css`, `page.js`, and
//! `record.js`, the record view, and `assurance.js`, the provider check) served under
//! `/_admin/assets/`.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use crate::fhir::bundle::json_response;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{Body, boxed, closing, full, query_pairs, read_body_within};
use crate::world::state::Shared;

mod consumers;
pub(crate) mod guard;
mod heavy;
mod stream;

pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    if let Some(refused) = guard::check(shared, &req) {
        return refused;
    }
    let path = req.uri().path().to_owned();
    if consumers::owns(&path) {
        return consumers::handle(shared, req).await;
    }
    match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/favicon.ico") => {
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            boxed(resp)
        }
        (&Method::GET | &Method::HEAD, "/healthz") => boxed(json_response(
            StatusCode::OK,
            &json!({ "status": "ok", "scenario": shared.world.name }),
        )),
        (&Method::POST, "/_admin/reset") => match reset(shared).await {
            Ok(()) => {
                let mut resp = Response::new(Bytes::new());
                *resp.status_mut() = StatusCode::NO_CONTENT;
                boxed(resp)
            }
            Err(e) => boxed(e.to_response(OutcomeStyle::GpConnect)),
        },
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
                Ok(query) => journal(shared, query.since).await,
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
        (&Method::GET, "/") => page(&shared.base_path),
        (&Method::GET, "/_admin/assets/page.css") => asset(include_str!("page.css"), "text/css"),
        (&Method::GET, "/_admin/assets/page.js") => {
            asset(include_str!("page.js"), "text/javascript")
        }
        (&Method::GET, "/_admin/assets/record.js") => {
            asset(include_str!("record.js"), "text/javascript")
        }
        (&Method::GET, "/_admin/assets/assurance.js") => {
            asset(include_str!("assurance.js"), "text/javascript")
        }
        (&Method::POST, "/_admin/journey") => run_journey(shared, req).await,
        (&Method::POST, "/_admin/provider-check") => {
            boxed(crate::provider_check::admin::handle(shared, req.uri().query()).await)
        }
        (&Method::GET, "/_admin/scenario") => {
            boxed(json_response(StatusCode::OK, &scenario_summary(shared)))
        }
        (&Method::GET, "/_admin/records") => boxed(json_response(
            StatusCode::OK,
            &json!(shared.deliveries.list()),
        )),
        (&Method::GET, p) if p.starts_with("/_admin/records/") => {
            record(shared, &p["/_admin/records/".len()..])
        }
        (&Method::POST, p) if p.starts_with("/_admin/pds/patients/") => {
            match crate::pds::admin::reset_route(
                &shared.pds,
                &shared.world,
                &p["/_admin/pds/patients/".len()..],
            ) {
                Some(resp) => boxed(resp),
                None => boxed(
                    FhirError::new(
                        SpineCode::NoRecordFound,
                        format!("no admin endpoint at {path}"),
                    )
                    .to_response(OutcomeStyle::GpConnect),
                ),
            }
        }
        (
            _,
            "/healthz" | "/_admin/reset" | "/_admin/journal" | "/_admin/scenario"
            | "/_admin/journey" | "/_admin/records" | "/_admin/faults" | "/",
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

/// Puts a world back to its scenario: records, tokens, faults, journal, delivered records.
pub(crate) async fn reset(shared: &Shared) -> Result<(), FhirError> {
    // Rebuilding every PDS record of a large world takes a while: it runs on a blocking
    // thread, record by record, so other requests are served meanwhile.
    let (pds, world) = (shared.pds.clone(), shared.world.clone());
    if let Err(e) = tokio::task::spawn_blocking(move || pds.reset(&world)).await {
        tracing::error!(error = %e, "Reset stopped before it finished.");
        return Err(FhirError::new(
            SpineCode::InternalServerError,
            format!("reset stopped before it finished: {e}; try it again"),
        ));
    }
    shared.migrate_cache.reset();
    shared.platform.reset();
    shared.journal.clear();
    shared.deliveries.clear();
    consumers::reset(shared);
    tracing::info!("State reset to the loaded scenario.");
    Ok(())
}

/// `GET /_admin/records/{sequence}/documents/{binary id}`: a document the delivered record
/// listed, as a file the browser can open (the consumer fetched it as a Binary through SSP).
fn record_document(shared: &Shared, sequence: &str, binary_id: &str) -> Response<Body> {
    let not_found = |why: String| {
        boxed(FhirError::new(SpineCode::NoRecordFound, why).to_response(OutcomeStyle::GpConnect))
    };
    let Some(delivery) = sequence
        .parse::<u64>()
        .ok()
        .and_then(|s| shared.deliveries.get(s))
    else {
        return not_found(format!(
            "no delivered record with journal sequence '{sequence}'"
        ));
    };
    let suffix = format!("/Binary/{binary_id}");
    if !delivery.document_urls.iter().any(|u| u.ends_with(&suffix)) {
        return not_found(format!(
            "the record delivered at #{sequence} lists no document {binary_id}"
        ));
    }
    let found = shared.world.patient(&delivery.patient).and_then(|p| {
        p.record
            .documents
            .iter()
            .find(|d| crate::provider::record::binary_id(p, d) == binary_id)
    });
    let Some(document) = found else {
        return not_found(format!("document {binary_id} is not in the scenario"));
    };
    let mut resp =
        Response::new(crate::provider::documents::document_content(document).into_body());
    if let Ok(v) = HeaderValue::from_str(&document.content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// `GET /_admin/records/{sequence}`: a delivered migrate Bundle, whole, as the consumer got it.
fn record(shared: &Shared, sequence: &str) -> Response<Body> {
    if let Some((sequence, rest)) = sequence.split_once('/') {
        return match rest.split_once('/') {
            Some(("documents", id)) if !id.is_empty() && !id.contains('/') => {
                record_document(shared, sequence, id)
            }
            _ => boxed(
                FhirError::new(
                    SpineCode::NoRecordFound,
                    format!("no admin endpoint at /_admin/records/{sequence}/{rest}"),
                )
                .to_response(OutcomeStyle::GpConnect),
            ),
        };
    }
    let found = sequence
        .parse::<u64>()
        .ok()
        .and_then(|s| shared.deliveries.get(s));
    match found {
        Some(d) => {
            let mut resp = Response::new(full(d.bundle.joined()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::fhir::FHIR_JSON),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        None => boxed(
            FhirError::new(
                SpineCode::NoRecordFound,
                format!(
                    "no delivered record with journal sequence '{sequence}': the sandbox keeps the last {} (GET /_admin/records lists them)",
                    crate::conformance::deliveries::MAX_BUNDLES
                ),
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

async fn journal(shared: &Shared, since: u64) -> Response<Body> {
    let entries = shared.journal.since(since);
    let stats = shared.journal.stats();
    let body = if entries.len() < 64 {
        serde_json::to_vec(&entries).unwrap_or_default()
    } else {
        match heavy::run("journal", move || {
            serde_json::to_vec(&entries).unwrap_or_default()
        })
        .await
        {
            Ok(body) => body,
            Err(e) => return heavy::refusal(&e),
        }
    };
    let mut resp = Response::new(full(body));
    // What the whole journal holds now (not only the entries after `since`).
    resp.headers_mut()
        .insert("x-journal-entries", HeaderValue::from(stats.entries));
    resp.headers_mut()
        .insert("x-journal-bytes", HeaderValue::from(stats.bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
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
    #[serde(default)]
    operation: crate::journey::Operation,
    #[serde(default)]
    retrieve: crate::journey::RetrieveQuery,
}

/// Runs the consumer journey against this very sandbox, over the network like the CLI does,
/// so the journal (and the page's diagram) shows every hop.
/// `POST /_admin/faults`: one rule, or a list of rules set together (all or none).
async fn add_faults(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let fail = |e: FhirError| boxed(e.to_response(OutcomeStyle::GpConnect));
    let timeout = std::time::Duration::from_secs(shared.config.body_read_timeout_secs.max(1));
    let req = match read_body_within(req, 64 * 1024, timeout).await {
        Ok(r) => r,
        Err(e) => return closing(fail(e.to_fhir())),
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
    let body_timeout = std::time::Duration::from_secs(shared.config.body_read_timeout_secs.max(1));
    let req = match read_body_within(req, 64 * 1024, body_timeout).await {
        Ok(r) => r,
        Err(e) => return closing(fail(e.to_fhir())),
    };
    let ask: JourneyRequest = match serde_json::from_slice(req.body()) {
        Ok(a) => a,
        Err(e) => {
            return fail(FhirError::bad_request(format!(
                "journey request body: {e} (expected {{\"patient\", \"as\", \"skip_registration_change\", \"sensitive\", \"from\", \"operation\", \"retrieve\"}})"
            )));
        }
    };
    let options = crate::journey::JourneyOptions {
        patient: ask.patient,
        as_ods: ask.as_ods,
        skip_registration_change: ask.skip_registration_change,
        sensitive: ask.sensitive,
        from: ask.from,
        sandbox_url: format!("http://{}{}", loopback(shared.http_addr), shared.base_path),
        ssp_url: format!("https://{}", loopback(shared.ssp_addr)),
        certs_dir: shared.config.certs_dir.clone(),
        auth: None,
        operation: ask.operation,
        retrieve: ask.retrieve,
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
                    "party_key": p.party_key, "provider": p.provider,
                    "interactions": p.interactions,
                    "external_provider": p.external.as_ref().map(|e| &e.structured) })
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
                // Where the scenario registers the patient: what a reset restores.
                "scenario_registered_with": p.registered_with,
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

/// The page's style sheet and scripts, served beside it so that the page needs no inline code.
fn asset(text: &'static str, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(text));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The page; under a world's prefix its own links carry the prefix.
fn page(base_path: &str) -> Response<Body> {
    let html = include_str!("page.html");
    let html = if base_path.is_empty() {
        Bytes::from_static(html.as_bytes())
    } else {
        Bytes::from(html.replace("\"/_admin/", &format!("\"{base_path}/_admin/")))
    };
    let mut resp = Response::new(full(html));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
