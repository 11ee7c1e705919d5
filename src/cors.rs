//! Cross-origin access for browser apps, on every plain-HTTP service (PDS, SDS, providers,
//! admin), answered the way the NHS API platform's proxies do: a preflight (`OPTIONS` with
//! `Origin` and `Access-Control-Request-Method`) gets 200 with the allowed methods and headers
//! and is not passed on; any other request with `Origin` gets that origin echoed in
//! `Access-Control-Allow-Origin`, and only `X-Correlation-ID` and `X-Request-ID` exposed (the
//! platform does not expose `ETag`: a browser reads the version from `meta.versionId`).
//!
//! The admin API and the web page get none of this: they answer only their own page
//! ([`crate::admin::guard`]), so a foreign origin is never echoed for them.

use std::future::Future;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::http::{Body, empty};

/// What the platform allows in a cross-origin request.
pub(crate) const ALLOW_HEADERS: &str = "origin, x-requested-with, accept, content-type, if-match, nhsd-session-urid, authorization, x-correlation-id, x-request-id, nhsd-end-user-organisation-ods";
pub(crate) const ALLOW_METHODS: &str = "GET, PUT, POST, PATCH, DELETE";
pub(crate) const EXPOSE_HEADERS: &str = "x-correlation-id, x-request-id";
/// Six weeks, as the platform says.
pub(crate) const MAX_AGE: &str = "3628800";

/// The `Origin` of a request CORS applies to: a browser app's call to a service. `None` for
/// every other request (no `Origin`, or the admin API's and the page's own), which is then
/// served as it is, with nothing wrapped around it.
pub(crate) fn origin(req: &Request<Incoming>) -> Option<HeaderValue> {
    // `Origin` first: only a browser app sends it, so the admin check is rarely needed.
    req.headers()
        .get(header::ORIGIN)
        .filter(|_| !crate::admin::guard::is_admin_path(req.uri().path()))
        .cloned()
}

/// Runs `next` unless `req` is a preflight, and adds the CORS headers to what comes back, for
/// a request with `origin` (see [`origin`]).
pub(crate) async fn cross_origin<F, Fut>(
    req: Request<Incoming>,
    origin: HeaderValue,
    next: F,
) -> Response<Body>
where
    F: FnOnce(Request<Incoming>) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        resp
    } else {
        next(req).await
    };
    allow(origin, resp.headers_mut());
    resp
}

fn allow(origin: HeaderValue, h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
}
