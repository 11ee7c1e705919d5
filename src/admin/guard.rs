//! Who may use the admin API and the web page (docs/security.md).
//!
//! The admin API changes and reveals everything (reset, faults, every JWT and record in the
//! journal), so unlike the service APIs it answers only:
//! - requests addressed to an expected host: a loopback name (`localhost`, `127.0.0.1`, `[::1]`),
//!   the host of `public_url`, or the address `http_addr` is bound to. A page on another name
//!   that rebinds its DNS to 127.0.0.1 sends its own name as `Host`, and is refused;
//! - same-origin browsers: a request whose `Origin` is not this very host, or that the browser
//!   marks as cross-site (`Sec-Fetch-Site`), is refused, writes and reads alike (only a plain
//!   navigation, a link followed, is let through). No CORS header is ever sent for it;
//! - with an admin key (`admin_key`, generated at start when `http_addr` is not a loopback
//!   address): the key in an `X-Sandbox-Key` header or in the cookie that `/?key=KEY` sets.
//!
//! `/healthz` and `/favicon.ico` need no key (the container health check calls the first).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

use crate::config::Config;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{Body, boxed, full, query_pairs};
use crate::world::state::Shared;

/// The header an admin call carries its key in.
pub(crate) const KEY_HEADER: &str = "x-sandbox-key";
/// The cookie `/?key=KEY` sets, so the page's own calls carry the key.
pub(crate) const KEY_COOKIE: &str = "sandbox_key";

/// True for the paths the admin API and the page answer, in any world.
pub(crate) fn is_admin_path(path: &str) -> bool {
    let path = match crate::http::world_prefix(path) {
        Some((_, "")) => "/",
        Some((_, rest)) => rest,
        None => path,
    };
    path == "/" || path == "/healthz" || path == "/favicon.ico" || path.starts_with("/_admin")
}

/// Makes sure a sandbox reachable from the network has an admin key: one is generated when
/// `http_addr` is not a loopback address and none is configured. Logs what to do with it.
pub(crate) fn settle_key(config: &mut Config, public_url: &str) {
    if config.admin_key.is_none() && !config.http_addr.ip().is_loopback() {
        let key = uuid::Uuid::new_v4().simple().to_string();
        tracing::warn!(
            "The admin API listens on {}, beyond this machine: it asks for the admin key {key}. \
             Open {public_url}/?key={key} in a browser, or send it as the X-Sandbox-Key header; \
             set admin_key (SANDBOX_ADMIN_KEY) to choose one.",
            config.http_addr
        );
        config.admin_key = Some(key);
    } else if config.admin_key.is_some() {
        tracing::info!(
            "The admin API asks for the configured admin key (X-Sandbox-Key, or open {public_url}/?key=KEY)."
        );
    }
}

/// `None` lets the request through; otherwise the answer: a refusal, or the redirect that
/// stores the key.
pub(crate) fn check<B>(shared: &Shared, req: &Request<B>) -> Option<Response<Body>> {
    verdict(shared, req).err()
}

#[allow(clippy::result_large_err)] // `?`-style early answers; boxed away by `check`
fn verdict<B>(shared: &Shared, req: &Request<B>) -> Result<(), Response<Body>> {
    let headers = req.headers();
    let path = req.uri().path();
    let host = request_host(req);
    let Some(host) = host.filter(|h| expected_host(shared, host_name(h))) else {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "the admin API answers only at {}, not at Host '{}': set public_url \
                 (SANDBOX_PUBLIC_URL) to the address you reach the sandbox at",
                expected_hosts(shared).join(", "),
                request_host(req).unwrap_or_default()
            ),
        ));
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(&host));
        if !same {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "the admin API answers only its own page, not a page from Origin '{}'",
                    String::from_utf8_lossy(origin.as_bytes())
                ),
            ));
        }
    }
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    let navigation = matches!(*req.method(), Method::GET | Method::HEAD)
        && headers
            .get("sec-fetch-mode")
            .is_some_and(|m| m.as_bytes() == b"navigate");
    if !matches!(site, "same-origin" | "none") && !navigation {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "the admin API answers only its own page; the browser marked this request {site}"
            ),
        ));
    }
    let Some(key) = shared.config.admin_key.as_deref() else {
        return Ok(());
    };
    if path == "/healthz" || path == "/favicon.ico" {
        return Ok(());
    }
    if path == "/"
        && let Some((_, given)) = query_pairs(req.uri().query())
            .into_iter()
            .find(|(k, _)| k == "key")
    {
        return Err(if same_secret(&given, key) {
            store_key(key, &shared.base_path)
        } else {
            refuse(
                StatusCode::UNAUTHORIZED,
                "that is not this sandbox's admin key (it is logged at start, or set by admin_key)"
                    .into(),
            )
        });
    }
    if given_key(headers).is_some_and(|given| same_secret(given, key)) {
        return Ok(());
    }
    let why = match given_key(headers) {
        Some(_) => "the admin key given is not this sandbox's",
        None => "this sandbox is reachable from the network, so the admin API asks for its key",
    };
    Err(refuse(
        StatusCode::UNAUTHORIZED,
        format!(
            "{why}: send it as the X-Sandbox-Key header, or open /?key=KEY in the browser \
             (the key is logged at start, or set by admin_key / SANDBOX_ADMIN_KEY)"
        ),
    ))
}

/// `Host` (HTTP/1.1) or the URI's authority (HTTP/2), as sent.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
}

/// The name part of `host[:port]` (`[::1]:8080` gives `::1`), lower-cased.
fn host_name(host: &str) -> String {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn expected_host(shared: &Shared, name: String) -> bool {
    if name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    {
        return true;
    }
    public_host(shared).is_some_and(|p| p == name)
        || (!shared.http_addr.ip().is_unspecified()
            && shared
                .http_addr
                .ip()
                .to_string()
                .eq_ignore_ascii_case(&name))
}

fn public_host(shared: &Shared) -> Option<String> {
    shared
        .public_url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(host_name))
}

fn expected_hosts(shared: &Shared) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .map(str::to_owned)
        .to_vec();
    if let Some(p) = public_host(shared).filter(|p| !hosts.contains(p)) {
        hosts.push(p);
    }
    if !shared.http_addr.ip().is_unspecified() && !shared.http_addr.ip().is_loopback() {
        hosts.push(shared.http_addr.ip().to_string());
    }
    hosts
}

/// The key in the header, else in the cookie.
fn given_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(KEY_HEADER) {
        return v.to_str().ok().map(str::trim);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == KEY_COOKIE)
        .map(|(_, value)| value)
}

/// Compares without stopping at the first difference, so timing tells nothing about the key.
fn same_secret(given: &str, key: &str) -> bool {
    let (a, b) = (given.as_bytes(), key.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, kb) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ kb);
    }
    diff == 0
}

/// `/?key=KEY` with the right key: the cookie, and the page without the key in its address.
/// Stores the key in a cookie for the world's paths (`base_path`, empty for the default world)
/// and sends the browser to its page.
fn store_key(key: &str, base_path: &str) -> Response<Body> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(page) = HeaderValue::from_str(&format!("{base_path}/")) {
        resp.headers_mut().insert(header::LOCATION, page);
    }
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{KEY_COOKIE}={key}; Path={base_path}/; HttpOnly; SameSite=Lax"
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    boxed(resp)
}

fn refuse(status: StatusCode, diagnostics: String) -> Response<Body> {
    let mut resp = FhirError::new(SpineCode::AccessDenied, diagnostics)
        .with_status(status)
        .to_response(OutcomeStyle::GpConnect)
        .map(full);
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("X-Sandbox-Key"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("Sandbox.Example.test."), "sandbox.example.test");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcdef0123456789", "abcdef0123456789"));
        assert!(!same_secret("abcdef012345678", "abcdef0123456789"));
        assert!(!same_secret("abcdef01234567890", "abcdef0123456789"));
        assert!(!same_secret("", "abcdef0123456789"));
    }

    #[test]
    fn the_cookie_carries_the_key() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; sandbox_key=k1; c=d"),
        );
        assert_eq!(given_key(&h), Some("k1"));
        h.insert(KEY_HEADER, HeaderValue::from_static(" k2 "));
        assert_eq!(given_key(&h), Some("k2"));
    }
}
