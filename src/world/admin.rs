//! The worlds admin API (docs/worlds.md): `POST /_admin/worlds` makes one, `GET` lists them,
//! `POST /_admin/worlds/{id}/reset` puts one back to its scenario, `DELETE /_admin/worlds/{id}`
//! removes it. Making and listing need the sandbox's admin key when it has one; a world's own
//! calls need that world's key (or the sandbox's).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use super::{Live, Source, WorldError, Worlds};
use crate::fhir::bundle::json_response;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{Body, boxed, closing, read_body_within};

const PATH: &str = "/_admin/worlds";

/// True for the paths this API answers.
pub(crate) fn owns(path: &str) -> bool {
    path == PATH || path.strip_prefix(PATH).is_some_and(|r| r.starts_with('/'))
}

/// The world a `/_admin/worlds/{id}...` call is about.
pub(crate) fn world_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(PATH)?.strip_prefix('/')?;
    let id = rest.split('/').next().unwrap_or_default();
    (!id.is_empty()).then_some(id)
}

/// What `POST /_admin/worlds` accepts.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    #[serde(default)]
    scenario: Option<String>,
    #[serde(default)]
    yaml: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

fn refusal(error: FhirError) -> Response<Body> {
    boxed(error.to_response(OutcomeStyle::GpConnect))
}

fn no_content() -> Response<Body> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    boxed(resp)
}

/// The answer for a world id nobody made (or that was deleted or evicted).
pub(crate) fn no_such_world(id: &str) -> Response<Body> {
    refusal(FhirError::new(
        SpineCode::NoRecordFound,
        format!(
            "no world '{id}' on this sandbox: it was never made, was deleted, or was removed after being idle (GET {PATH} lists them)"
        ),
    ))
}

/// A redirect to `to` (a world's page wants its trailing slash).
pub(crate) fn redirect(to: &str) -> Response<Body> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    boxed(resp)
}

/// The worlds API. The sandbox's admin guard has let the request through already, except for
/// a world's own calls (`/_admin/worlds/{id}/...`), which are checked here against its key.
pub(crate) async fn handle(worlds: &Worlds, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix(PATH).unwrap_or_default();
    match (req.method().clone(), rest) {
        (Method::GET, "" | "/") => {
            let list: Vec<serde_json::Value> = worlds
                .list()
                .iter()
                .map(|l| view(worlds, l, true))
                .collect();
            boxed(json_response(
                StatusCode::OK,
                &json!({ "worlds": list, "max_worlds": worlds.config().max_worlds }),
            ))
        }
        (Method::POST, "" | "/") => create(worlds, req).await,
        (method, rest) => {
            let rest = rest.trim_start_matches('/');
            let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(live) = worlds.peek(id) else {
                return no_such_world(id);
            };
            match (method, action) {
                (Method::GET, "") => boxed(json_response(StatusCode::OK, &view(worlds, &live, true))),
                (Method::POST, "reset") => match crate::admin::reset(&live.shared).await {
                    Ok(()) => no_content(),
                    Err(e) => refusal(e),
                },
                (Method::DELETE, "") => {
                    worlds.remove(id);
                    no_content()
                }
                (method, _) => refusal(
                    FhirError::new(
                        SpineCode::BadRequest,
                        format!(
                            "{method} {path} is not a worlds call: GET or DELETE {PATH}/ID, POST {PATH}/ID/reset"
                        ),
                    )
                    .with_status(StatusCode::METHOD_NOT_ALLOWED),
                ),
            }
        }
    }
}

async fn create(worlds: &Worlds, req: Request<Incoming>) -> Response<Body> {
    let config = worlds.config();
    let timeout = std::time::Duration::from_secs(config.body_read_timeout_secs.max(1));
    // JSON escaping can double a scenario's size.
    let limit = config.world_max_scenario_bytes.saturating_mul(2) + 4096;
    let req = match read_body_within(req, limit, timeout).await {
        Ok(r) => r,
        Err(e) => return closing(refusal(e.to_fhir())),
    };
    let ask: CreateRequest = if req.body().iter().all(u8::is_ascii_whitespace) {
        CreateRequest {
            scenario: None,
            yaml: None,
            id: None,
        }
    } else {
        match serde_json::from_slice(req.body()) {
            Ok(a) => a,
            Err(e) => {
                return refusal(FhirError::bad_request(format!(
                    "world request body: {e} (expected {{\"scenario\": \"default\"}} or {{\"yaml\": \"<scenario file>\"}}, and optionally \"id\")"
                )));
            }
        }
    };
    let source = match (ask.scenario, ask.yaml) {
        (Some(_), Some(_)) => {
            return refusal(FhirError::bad_request(
                "give either \"scenario\" (a name) or \"yaml\" (a scenario file), not both",
            ));
        }
        (_, Some(yaml)) => Source::Uploaded(yaml.into_bytes()),
        (name, None) => Source::Named(name.unwrap_or_else(|| "default".to_owned())),
    };
    match worlds.create(ask.id, source).await {
        Ok(live) => boxed(json_response(
            StatusCode::CREATED,
            &view(worlds, &live, true),
        )),
        Err(WorldError::Scenario(problems)) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let mut error = FhirError::bad_request(format!(
                "the scenario has {} problem(s): {}",
                lines.len(),
                lines.join("; ")
            ));
            error.status = StatusCode::UNPROCESSABLE_ENTITY;
            let mut resp = json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({
                    "error": error.diagnostics,
                    "problems": problems.iter().map(|p| json!({
                        "file": p.file, "line": p.line, "column": p.column, "message": p.message,
                    })).collect::<Vec<_>>(),
                }),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            boxed(resp)
        }
        Err(e @ WorldError::Exists(_)) => {
            refusal(FhirError::bad_request(e.to_string()).with_status(StatusCode::CONFLICT))
        }
        Err(e @ WorldError::Full(_)) => refusal(
            FhirError::new(SpineCode::BadRequest, e.to_string())
                .with_status(StatusCode::TOO_MANY_REQUESTS),
        ),
        Err(e @ WorldError::TooLarge(_)) => refusal(
            FhirError::new(SpineCode::RequestTooLarge, e.to_string())
                .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        Err(e @ WorldError::UnknownScenario(_)) => refusal(
            FhirError::new(SpineCode::NoRecordFound, e.to_string())
                .with_status(StatusCode::NOT_FOUND),
        ),
        Err(e @ WorldError::BadId(_)) => refusal(FhirError::bad_request(e.to_string())),
        Err(e @ WorldError::Certificates(_)) => refusal(FhirError::internal(e.to_string())),
    }
}

/// The SSP address consumers are given: the public host on SSP's port.
fn ssp_base(worlds: &Worlds) -> String {
    let template = worlds.default_world();
    if let Some(url) = &template.config.ssp_public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = template
        .public_url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("https://{host}:{}", template.ssp_addr.port())
}

/// A world as the API shows it: its base URLs, and its key when asked.
fn view(worlds: &Worlds, live: &Live, with_key: bool) -> serde_json::Value {
    let base = &live.shared.public_url;
    let idle_ms = worlds
        .now_ms()
        .saturating_sub(live.last_used_ms.load(std::sync::atomic::Ordering::Relaxed));
    let mut out = json!({
        "id": live.id,
        "scenario": live.scenario,
        "created": crate::journal::rfc3339(live.created),
        "idle_secs": idle_ms / 1000,
        "urls": {
            "base": base,
            "pds": format!("{base}{}", crate::pds::BASE_PATH),
            "sds": format!("{base}{}", crate::sds::BASE_PATH),
            "ssp": format!("{}{}", ssp_base(worlds), live.shared.base_path),
            "providers": base,
            "page": format!("{base}/"),
            "admin": format!("{base}/_admin"),
        },
    });
    if with_key {
        out["key"] = json!(live.key);
        out["urls"]["page_with_key"] = json!(format!("{base}/?key={}", live.key));
    }
    out
}
