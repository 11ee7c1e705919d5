//! A stand-in provider on plain HTTP that records every request it receives exactly as it
//! arrived and answers with a chosen reply, streamed in chunks (no Content-Length).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Over TLS: the subject of the client certificate the caller presented, if any.
    pub client_subject: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Bytes,
    /// Wait this long before answering (for timeouts).
    pub delay: Duration,
}

impl Default for Reply {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            headers: vec![("content-type", "application/fhir+json;charset=utf-8")],
            body: Bytes::from_static(b"{\"resourceType\":\"Bundle\"}"),
            delay: Duration::ZERO,
        }
    }
}

pub(crate) struct EchoProvider {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`: pass as `public_url` so SDS points at this provider.
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoProvider {
    pub(crate) async fn start(reply: Reply) -> Self {
        Self::start_with(reply, None).await
    }

    /// An https provider with `server` as its TLS configuration (`base` is `https://...`).
    pub(crate) async fn start_tls(reply: Reply, server: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(reply, Some(tokio_rustls::TlsAcceptor::from(server))).await
    }

    async fn start_with(reply: Reply, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let https = tls.is_some();
        let log = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                let reply = reply.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let (io, client_subject) = match tls {
                        None => (Io::Plain(tcp), None),
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let subject = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .and_then(|c| spine_sandbox::parse_certificate(c).ok())
                                .map(|i| i.subject_summary());
                            (Io::Tls(Box::new(stream)), subject)
                        }
                    };
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let client_subject = client_subject.clone();
                        let log = log.clone();
                        let reply = reply.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            log.lock().unwrap().push(Received {
                                method: parts.method,
                                path_and_query: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.as_str().to_owned())
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                                client_subject,
                            });
                            tokio::time::sleep(reply.delay).await;
                            let chunks: Vec<Result<Frame<Bytes>, Infallible>> = reply
                                .body
                                .chunks(16 * 1024)
                                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                                .collect();
                            let mut resp =
                                Response::new(StreamBody::new(futures_util::stream::iter(chunks)));
                            *resp.status_mut() = reply.status;
                            for (name, value) in &reply.headers {
                                resp.headers_mut()
                                    .append(*name, http::HeaderValue::from_static(value));
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let _ = match io {
                        Io::Plain(tcp) => {
                            builder.serve_connection(TokioIo::new(tcp), service).await
                        }
                        Io::Tls(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
                    };
                });
            }
        });
        let scheme = if https { "https" } else { "http" };
        Self {
            addr,
            base: format!("{scheme}://{addr}"),
            received,
            task,
        }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

enum Io {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

/// A local address nothing listens on.
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}
