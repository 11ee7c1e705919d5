//! The plain-HTTP listener's front door: every request passes here once; its world is chosen
//! (`/worlds/{id}` before any path, else the default world), then it is routed to its service,
//! limited, timed, guarded and journalled ([`crate::journal::Exchange`]) in that world.

use std::future::{Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::fhir::outcome::Refusal;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{Body, DropConnection, Pieces, Stopped, closing, guarded, read_body_within};
use crate::journal::{self, DROPPED, Exchange, Outcome};
use crate::platform::faults::{self, RequestFacts};
use crate::{admin, conformance, pds, platform, provider, sds};

use crate::world::state::Shared;

/// What the front door chooses among: the default world and every other.
pub(crate) struct Front {
    pub default: Shared,
    pub worlds: crate::world::Worlds,
}

/// The front door's answer: made at once (no such world, a redirect, a refused admin call), or
/// the work of serving the request, boxed.
///
/// Not an `async fn`: hyper moves this future several times as it stores it, each move a copy,
/// so it is kept the size of a response. The work behind it, as large as its largest branch,
/// is put in its box once.
pub(super) type Answer =
    Either<Ready<Response<Body>>, Pin<Box<dyn Future<Output = Response<Body>> + Send>>>;

fn now(resp: Response<Body>) -> Answer {
    Either::Left(std::future::ready(resp))
}

fn later(work: impl Future<Output = Response<Body>> + Send + 'static) -> Answer {
    Either::Right(Box::pin(work))
}

/// Chooses the request's world, then serves it there.
pub(super) fn door(front: &Arc<Front>, mut req: Request<Incoming>) -> Answer {
    let path = req.uri().path();
    if let Some((id, rest)) = crate::http::world_prefix(path) {
        let Some(live) = front.worlds.get(id) else {
            return now(crate::world::admin::no_such_world(id));
        };
        if rest.is_empty() {
            // The page's own links are relative to `/worlds/{id}/`.
            return now(crate::world::admin::redirect(&format!(
                "{}/",
                live.shared.base_path
            )));
        }
        // The path and query after the prefix: a slice of what was sent, not a copy.
        let skip = crate::http::WORLDS_PATH.len() + id.len();
        let within = req
            .uri()
            .path_and_query()
            .and_then(|pq| pq.as_str().get(skip..))
            .unwrap_or(rest);
        match within.parse::<http::Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return now(crate::world::admin::no_such_world(id)),
        }
        return match serve_now(&live.shared, req) {
            Served::Now(resp) => now(resp),
            Served::Not(req) => later(async move { dispatch(&live.shared, req).await }),
        };
    }
    if crate::world::admin::owns(path) {
        // A world's own calls take its key, or the sandbox's when it has one; making and
        // listing worlds, the sandbox's.
        let world = crate::world::admin::world_of(path).and_then(|id| front.worlds.peek(id));
        let refused = match &world {
            Some(live) => admin::guard::check(&live.shared, &req).filter(|_| {
                front.default.config.admin_key.is_none()
                    || admin::guard::check(&front.default, &req).is_some()
            }),
            None => admin::guard::check(&front.default, &req),
        };
        if let Some(refused) = refused {
            return now(refused);
        }
        let front = front.clone();
        return later(async move { crate::world::admin::handle(&front.worlds, req).await });
    }
    match serve_now(&front.default, req) {
        Served::Now(resp) => now(resp),
        Served::Not(req) => {
            let front = front.clone();
            later(async move { dispatch(&front.default, req).await })
        }
    }
}

/// Which emulated service a path belongs to on the plain-HTTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Admin,
    Pds,
    Sds,
    Provider,
    OAuth,
    Unknown,
}

fn route(path: &str) -> Route {
    // A browser asks for /favicon.ico with the page: the page's, not a provider hop to journal.
    if admin::guard::is_admin_path(path) {
        Route::Admin
    } else if path.starts_with(pds::BASE_PATH) {
        Route::Pds
    } else if path.starts_with(sds::BASE_PATH) {
        Route::Sds
    } else if provider::is_provider_path(path) {
        Route::Provider
    } else if platform::is_oauth_path(path) {
        Route::OAuth
    } else {
        Route::Unknown
    }
}

/// Which service a routed request is journalled under, how its refusals are worded, and which
/// service's injected faults apply to it.
fn service_of(route: Route) -> (&'static str, OutcomeStyle, Option<faults::Service>) {
    match route {
        Route::Pds => ("pds", OutcomeStyle::Pds, Some(faults::Service::Pds)),
        Route::Sds => ("sds", OutcomeStyle::Sds, Some(faults::Service::Sds)),
        Route::OAuth => ("oauth", OutcomeStyle::Pds, None),
        Route::Provider => (
            "provider",
            OutcomeStyle::GpConnect,
            Some(faults::Service::Provider),
        ),
        _ => ("provider", OutcomeStyle::GpConnect, None),
    }
}

/// Serves, there and then, a request with nothing to wait for: no body to read, no fault set,
/// and a service that answers at once (PDS, SDS, OAuth, or no service at all). Anything else
/// is handed back for [`dispatch`].
///
/// A PDS read is such a request. Served here it needs no future of its own: nothing to box,
/// move or poll, and no handle on its world to clone for one.
pub(super) fn serve_now(shared: &Shared, req: Request<Incoming>) -> Served {
    let route = route(req.uri().path());
    if matches!(route, Route::Admin | Route::Provider)
        || !http_body::Body::is_end_stream(req.body())
        || shared.platform.faults.any()
    {
        return Served::Not(req);
    }
    let (service, style, _) = service_of(route);
    let exchange = Exchange::of(&shared.journal, shared.clock.now(), service, &req);
    let req = req.map(|_| Bytes::new());
    let (method, path) = (exchange.method(), exchange.path());
    let answered = guarded_at_once(route, shared, req, method, path, style);
    let resp = stopped_or(answered, method, path, style);
    Served::Now(file(shared, exchange, None, &Bytes::new(), resp))
}

/// What [`serve_now`] did: served the request, or handed it back untouched.
pub(super) enum Served {
    Now(Response<Body>),
    Not(Request<Incoming>),
}

/// Routes, limits, times, guards and journals one exchange.
pub(super) async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let route = route(req.uri().path());
    if route == Route::Admin {
        return Box::pin(admin::handle(shared, req)).await;
    }
    let (service, style, fault_service) = service_of(route);
    let exchange = Exchange::of(&shared.journal, shared.clock.now(), service, &req);
    let timeout = Duration::from_secs(shared.config.request_timeout_secs.max(1));
    let body_timeout = Duration::from_secs(shared.config.body_read_timeout_secs.max(1));

    let mut injected = None;
    // A request without a body (a read) is not put through the reader's future at all.
    let read = if http_body::Body::is_end_stream(req.body()) {
        Ok(req.map(|_| Bytes::new()))
    } else {
        read_body_within(req, shared.config.max_body_bytes, body_timeout).await
    };
    let (request_body, resp) = match read {
        Err(e) => (
            Bytes::new(),
            closing(e.to_fhir().to_response(style)).map(Pieces::from),
        ),
        Ok(req) => {
            let body = req.body().clone();
            injected = fault_service.and_then(|service| {
                shared.platform.faults.pick(&RequestFacts {
                    service,
                    method: req.method(),
                    path: req.uri().path(),
                    headers: req.headers(),
                    body: &body,
                })
            });
            let (method, path) = (exchange.method(), exchange.path());
            let fault = injected.as_ref().zip(fault_service);
            let stopped = if fault.is_none() && route != Route::Provider {
                guarded_at_once(route, shared, req, method, path, style)
            } else {
                let work = async {
                    if let Some((fault, service)) = fault
                        && let Some(resp) = Box::pin(fault.apply(service, path)).await
                    {
                        return resp.map(Pieces::from);
                    }
                    if route == Route::Provider {
                        Box::pin(provider::handle(&shared.services.provider, req)).await
                    } else {
                        at_once(route, shared, req, method, path, style)
                    }
                };
                guarded(work, Some(timeout)).await
            };
            (body, stopped_or(stopped, method, path, style))
        }
    };
    file(
        shared,
        exchange,
        injected.map(|f| f.note),
        &request_body,
        resp,
    )
}

/// The handler's answer, or the service's own words for why there is none.
fn stopped_or(
    stopped: Result<Response<Pieces>, Stopped>,
    method: &Method,
    path: &str,
    style: OutcomeStyle,
) -> Response<Pieces> {
    match stopped {
        Ok(resp) => resp,
        Err(Stopped::Panicked) => {
            tracing::error!(%path, "A handler panicked; this is a bug.");
            FhirError::internal(format!(
                "the sandbox failed while handling {method} {path}; please report it"
            ))
            .to_response(style)
            .map(Pieces::from)
        }
        Err(Stopped::TimedOut(after)) => FhirError::new(
            SpineCode::RequestTimeout,
            format!("the request was not answered within {} s", after.as_secs()),
        )
        .with_status(StatusCode::GATEWAY_TIMEOUT)
        .to_response(style)
        .map(Pieces::from),
    }
}

/// Journals the exchange (keeping a delivered record for conformance) and returns the answer
/// as it is sent.
fn file(
    shared: &Shared,
    exchange: Exchange,
    fault: Option<String>,
    request_body: &Bytes,
    mut resp: Response<Pieces>,
) -> Response<Body> {
    let delivered = resp.extensions_mut().remove::<conformance::Delivered>();
    let dropped = resp.extensions().get::<DropConnection>().is_some();
    let time = exchange.time();
    let sequence = exchange.finish(
        &shared.journal,
        Outcome {
            status: if dropped {
                DROPPED
            } else {
                resp.status().as_u16()
            },
            fault,
            refusal: resp.extensions().get::<Refusal>().map(Refusal::summary),
            request_body: journal::bounded_bytes(request_body),
            response_headers: journal::header_pairs(resp.headers()),
            response_body: journal::bounded_pieces(resp.body()),
            documents: delivered.as_ref().map(|d| d.documents.clone()),
            ..Default::default()
        },
    );
    if let Some(d) = delivered {
        shared
            .deliveries
            .keep(sequence, journal::rfc3339(time), d, resp.body().clone());
    }
    resp.map(Pieces::into_body)
}

/// [`at_once`] under a panic guard. Answered on this thread, so there is nothing to time out
/// (a timer could not stop it anyway), only a panic to catch.
fn guarded_at_once(
    route: Route,
    shared: &Shared,
    req: Request<Bytes>,
    method: &Method,
    path: &str,
    style: OutcomeStyle,
) -> Result<Response<Pieces>, Stopped> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        at_once(route, shared, req, method, path, style)
    }))
    .map_err(|_| Stopped::Panicked)
}

/// The answer of a service that answers without waiting on anything: PDS, SDS, the OAuth
/// token endpoint, and the refusal of a path no service serves. (The provider waits on
/// things, and is answered in [`dispatch`]'s guarded future, never here.)
fn at_once(
    route: Route,
    shared: &Shared,
    req: Request<Bytes>,
    method: &Method,
    path: &str,
    style: OutcomeStyle,
) -> Response<Pieces> {
    match route {
        Route::Pds => pds::handle(&shared.services.pds, req).map(Pieces::from),
        Route::Sds => sds::handle(&shared.services.sds, req).map(Pieces::from),
        Route::OAuth => platform::handle_oauth(
            &shared.platform,
            shared.clock.now(),
            &shared.public_url,
            &req,
        )
        .map(Pieces::from),
        _ => unknown_path(method, path)
            .to_response(style)
            .map(Pieces::from),
    }
}

fn unknown_path(method: &Method, path: &str) -> FhirError {
    FhirError::new(
        SpineCode::NoRecordFound,
        format!("no service at {method} {path}"),
    )
}
