//! The consumer's HTTP client: one pooled hyper client that speaks plain HTTP to PDS/SDS and
//! mutual TLS (the practice's client certificate) to SSP.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long the consumer waits for any one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A response as the journey needs it, with how long it took.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub duration_ms: f64,
}

impl Answer {
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Clone)]
pub(crate) struct ConsumerClient {
    plain: Client<HttpConnector, Full<Bytes>>,
    /// Present once the practice's client certificate is loaded: SSP needs it.
    tls: Option<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
}

impl ConsumerClient {
    /// Plain HTTP only (PDS and SDS), before the client certificate is known.
    pub(crate) fn plain() -> Self {
        Self {
            plain: Client::builder(TokioExecutor::new()).build_http(),
            tls: None,
        }
    }

    /// Plain HTTP, and HTTPS presenting the practice's client certificate.
    pub(crate) fn with_tls(tls: rustls::ClientConfig) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            plain: Client::builder(TokioExecutor::new()).build_http(),
            tls: Some(Client::builder(TokioExecutor::new()).build(connector)),
        }
    }

    /// Sends one request; the error is a sentence naming the URL and what went wrong.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<Answer, String> {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let req = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("cannot build a request for {url}: {e}"))?;
        let started = Instant::now();
        let work = async {
            let pending = match (&self.tls, url.starts_with("https://")) {
                (Some(tls), true) => tls.request(req),
                (None, true) => {
                    return Err(format!(
                        "cannot call {url}: no client certificate is loaded for TLS"
                    ));
                }
                (_, false) => self.plain.request(req),
            };
            let resp = pending
                .await
                .map_err(|e| format!("cannot reach {url}: {}", error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("the answer from {url} broke off: {e}"))?
                .to_bytes();
            Ok::<_, String>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| {
                format!(
                    "{url} did not answer within {} s",
                    REQUEST_TIMEOUT.as_secs()
                )
            })??;
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

/// An error and its causes on one line (TLS refusals hide the useful part in the source chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
