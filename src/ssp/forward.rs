//! The hop from SSP to the provider (`docs/ssp.md`): a pooled hyper client (http or https
//! with the sandbox CA and SSP's own certificate); the request body, read whole by SSP, is sent
//! on, and the response streams back unchanged.
//!
//! A target that a TCP connection would find at the sandbox's own plain-HTTP listener (its port,
//! on a loopback or the bound address) is dialled in memory ([`LocalDialer`]): the same HTTP/1.1
//! exchange with the same listener, without two trips through the kernel's TCP stack. Each
//! direction of such a connection holds at most `LOCAL_BUFFER` bytes (`crate::http`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName};
use http::uri::Scheme;
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::DuplexStream;
use tokio::net::TcpStream;

use crate::http::{Body, BoxError, LocalDialer};

/// Why a request did not reach the provider.
#[derive(Debug)]
pub(crate) enum ForwardError {
    /// No response headers within the forward timeout.
    Timeout(Duration),
    /// Could not connect, or the provider's answer was not HTTP.
    Unreachable(String),
}

/// Idle connections kept open to each provider address.
const IDLE_PER_PROVIDER: usize = 32;

/// A pooled client to the providers.
#[derive(Clone)]
pub(crate) struct Forwarder {
    client: Client<HopConnector, Body>,
    timeout: Duration,
}

impl Forwarder {
    /// `tls` is used for https targets only (plain http targets are the sandbox's own).
    /// `local` reaches the sandbox's own listener in memory.
    pub(crate) fn new(tls: rustls::ClientConfig, timeout: Duration, local: LocalDialer) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let net = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // An idle connection keeps its buffers (up to LOCAL_BUFFER in memory, hyper's read
        // buffer either way), so after a burst only a few stay open for reuse.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(IDLE_PER_PROVIDER)
            .build(HopConnector { net, local });
        Self { client, timeout }
    }

    /// Sends `req` to `target` with its method, headers and body unchanged, except the proxy
    /// prefix (gone from the URL), hop-by-hop headers (RFC 9110 section 7.6.1) and `Host`
    /// (the target's). Returns the provider's response with its body still streaming.
    pub(crate) async fn forward(
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
            crate::http::Body::stream(body.map_err(|e| -> BoxError { Box::new(e) })),
        ))
    }
}

/// Connects to a target over the network, or in memory when it is the sandbox's own listener.
#[derive(Clone)]
struct HopConnector {
    net: HttpsConnector<HttpConnector>,
    local: LocalDialer,
}

type Connecting = Pin<Box<dyn Future<Output = Result<HopStream, BoxError>> + Send>>;

impl tower_service::Service<Uri> for HopConnector {
    type Response = HopStream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.net.poll_ready(cx)
    }

    fn call(&mut self, target: Uri) -> Connecting {
        if reaches(self.local.addr(), &target) {
            let local = self.local.clone();
            Box::pin(async move { Ok(HopStream::Local(TokioIo::new(local.dial().await?))) })
        } else {
            let connecting = self.net.call(target);
            Box::pin(async move { Ok(HopStream::Net(Box::new(connecting.await?))) })
        }
    }
}

/// Whether a TCP connection to `target` would reach the listener bound at `bound`: plain
/// http, the same port, and the bound address itself or a loopback name for it.
fn reaches(bound: std::net::SocketAddr, target: &Uri) -> bool {
    if target.scheme() != Some(&Scheme::HTTP) || target.port_u16().unwrap_or(80) != bound.port() {
        return false;
    }
    let Some(host) = target.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = bound.ip();
    if host.eq_ignore_ascii_case("localhost") {
        return ip.is_loopback() || ip.is_unspecified();
    }
    match host.parse::<IpAddr>() {
        Ok(target) => {
            target == ip
                || (ip.is_unspecified() && target.is_loopback() && target.is_ipv4() == ip.is_ipv4())
        }
        Err(_) => false,
    }
}

/// A connection to a provider: TCP (maybe TLS), or in memory to the sandbox's own listener.
enum HopStream {
    /// Boxed: a TLS connection's state is large, and the enum is moved around.
    Net(Box<MaybeHttpsStream<TokioIo<TcpStream>>>),
    Local(TokioIo<DuplexStream>),
}

impl Connection for HopStream {
    fn connected(&self) -> Connected {
        match self {
            HopStream::Net(s) => s.connected(),
            HopStream::Local(_) => Connected::new(),
        }
    }
}

impl hyper::rt::Read for HopStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            HopStream::Net(s) => Pin::new(&mut **s).poll_read(cx, buf),
            HopStream::Local(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for HopStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            HopStream::Net(s) => Pin::new(&mut **s).poll_write(cx, buf),
            HopStream::Local(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            HopStream::Net(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
            HopStream::Local(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            HopStream::Net(s) => s.is_write_vectored(),
            HopStream::Local(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            HopStream::Net(s) => Pin::new(&mut **s).poll_flush(cx),
            HopStream::Local(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            HopStream::Net(s) => Pin::new(&mut **s).poll_shutdown(cx),
            HopStream::Local(s) => Pin::new(s).poll_shutdown(cx),
        }
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
    fn only_a_target_tcp_would_find_at_the_listener_is_dialled_in_memory() {
        let at = |bound: &str, target: &str| {
            reaches(bound.parse().unwrap(), &target.parse::<Uri>().unwrap())
        };
        let path = "/B82617/STU3/1/gpconnect/structured/fhir/metadata";
        assert!(at(
            "127.0.0.1:8080",
            &format!("http://localhost:8080{path}")
        ));
        assert!(at(
            "127.0.0.1:8080",
            &format!("http://LOCALHOST:8080{path}")
        ));
        assert!(at(
            "127.0.0.1:8080",
            &format!("http://127.0.0.1:8080{path}")
        ));
        assert!(at("0.0.0.0:8080", &format!("http://127.0.0.1:8080{path}")));
        assert!(at("0.0.0.0:8080", &format!("http://localhost:8080{path}")));
        assert!(at("[::1]:8080", &format!("http://[::1]:8080{path}")));
        assert!(at("[::]:8080", &format!("http://[::1]:8080{path}")));
        assert!(at("10.1.2.3:80", &format!("http://10.1.2.3{path}")));
        // Another port, https, or a host TCP might find elsewhere: over the network.
        assert!(!at(
            "127.0.0.1:8080",
            &format!("http://localhost:8081{path}")
        ));
        assert!(!at(
            "127.0.0.1:8080",
            &format!("https://localhost:8080{path}")
        ));
        assert!(!at(
            "127.0.0.1:8080",
            &format!("http://127.0.0.2:8080{path}")
        ));
        assert!(!at(
            "10.1.2.3:8080",
            &format!("http://localhost:8080{path}")
        ));
        assert!(!at("0.0.0.0:8080", &format!("http://sandbox:8080{path}")));
        assert!(!at("0.0.0.0:8080", &format!("http://[::1]:8080{path}")));
    }

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
