//! The hop from SSP to the provider (`docs/ssp.md`): a pooled hyper client (http or https
//! with the sandbox CA and SSP's own certificate); the request body, read whole by SSP, is sent
//! on, and the response streams back unchanged.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::http::{Body, BoxError};

/// Why a request did not reach the provider.
#[derive(Debug)]
pub enum ForwardError {
    /// No response headers within the forward timeout.
    Timeout(Duration),
    /// Could not connect, or the provider's answer was not HTTP.
    Unreachable(String),
}

/// A pooled client to the providers.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpsConnector<HttpConnector>, Body>,
    timeout: Duration,
}

impl Forwarder {
    /// `tls` is used for https targets only (plain http targets are the sandbox's own).
    pub fn new(tls: rustls::ClientConfig, timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Self { client, timeout }
    }

    /// Sends `req` to `target` with its method, headers and body unchanged, except the proxy
    /// prefix (gone from the URL), hop-by-hop headers (RFC 9110 section 7.6.1) and `Host`
    /// (the target's). Returns the provider's response with its body still streaming.
    pub async fn forward(
        &self,
        req: Request<Body>,
        target: Uri,
    ) -> Result<Response<Body>, ForwardError> {
        let (mut parts, body) = req.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        parts.uri = target;
        parts.version = Version::HTTP_11;
        let outbound = Request::from_parts(parts, body);
        let response = match tokio::time::timeout(self.timeout, self.client.request(outbound)).await
        {
            Err(_) => return Err(ForwardError::Timeout(self.timeout)),
            Ok(Err(e)) => return Err(ForwardError::Unreachable(error_chain(&e))),
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            body.map_err(|e| -> BoxError { Box::new(e) }).boxed(),
        ))
    }
}

/// Headers meaningful for one connection only, which a proxy must not pass on.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    // The body is re-framed on the next hop; its length, when known, stays in Content-Length.
    headers.remove(header::TRANSFER_ENCODING);
}

/// `client error (Connect): tcp connect error: Connection refused (os error 111)`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-private".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("ssp-traceid", "t".parse().unwrap());
        h.insert("authorization", "Bearer x".parse().unwrap());
        remove_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, vec!["ssp-traceid", "authorization"]);
    }
}
