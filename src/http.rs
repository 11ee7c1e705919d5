//! Shared HTTP plumbing: the response body type, bounded body reading, and the accept loop with
//! graceful drain (hyper-util `GracefulShutdown`), used by the plain listener and by SSP.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fhir::{FhirError, SpineCode};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body the sandbox sends: buffered JSON, or a stream (SSP, the live journal).
pub type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

/// A buffered response turned into the streaming body type.
pub fn boxed(resp: Response<Bytes>) -> Response<Body> {
    resp.map(full)
}

/// Reads a whole request body, refusing more than `limit` bytes with 413 and an
/// OperationOutcome that says what the limit is.
pub async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Request<Bytes>, FhirError> {
    let (parts, body) = req.into_parts();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, collected.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(FhirError::new(
            SpineCode::RequestTooLarge,
            format!("request body is larger than the {limit}-byte limit"),
        )),
        Err(e) => Err(FhirError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// Timeouts applied to every connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
}

/// Something that turns an accepted TCP stream into the stream hyper serves (identity for plain
/// HTTP, a TLS handshake for SSP), together with what it learned (e.g. the client certificate).
pub trait Acceptor: Clone + Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    type Peer: Clone + Send + Sync + 'static;
    fn accept(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> impl Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> + Send;
}

/// Plain HTTP: nothing to learn about the peer but its address.
#[derive(Clone)]
pub struct PlainAcceptor;

impl Acceptor for PlainAcceptor {
    type Stream = tokio::net::TcpStream;
    type Peer = ();
    async fn accept(&self, tcp: tokio::net::TcpStream) -> std::io::Result<(Self::Stream, ())> {
        Ok((tcp, ()))
    }
}

/// The error that makes hyper close a connection without answering (an injected fault).
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// Serves connections from `listener` until `shutdown` turns true, then stops accepting and
/// waits up to `drain` for open requests to finish.
pub async fn serve<A, H, F>(
    listener: TcpListener,
    acceptor: A,
    handler: H,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) where
    A: Acceptor,
    H: Fn(Request<Incoming>, A::Peer, std::net::SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (tcp, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "Accepting a connection failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let (stream, peer) = match acceptor.accept(tcp).await {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, %remote, "Connection set-up failed.");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                let peer = peer.clone();
                async move {
                    let resp = handler(req, peer, remote).await;
                    // An injected "dropped connection": hyper closes the connection unanswered.
                    if resp
                        .extensions()
                        .get::<crate::platform::faults::DropConnection>()
                        .is_some()
                    {
                        return Err(DroppedByFault);
                    }
                    Ok(resp)
                }
            });
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %e, %remote, "Connection ended with an error.");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(drain) => {
            tracing::warn!("Open connections did not drain in time; closing them.");
        }
    }
}

/// A plain-HTTP GET returning only the status (the container health check).
pub async fn get_status(url: &str) -> Result<u16, BoxError> {
    let uri: http::Uri = url.parse()?;
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let resp = client.get(uri).await?;
    Ok(resp.status().as_u16())
}
