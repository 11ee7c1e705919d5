//! What a listener bounds for each client: connections served at once, bytes of request bodies
//! being received, and how long an answer may sit unread (docs/security.md).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Response;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Body, closing, full};
use crate::fhir::FhirError;

/// Seconds a client is told to wait (`Retry-After`) when a bound is reached.
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

/// Bytes of each request body that are not drawn from the budget: a PDS PATCH, a migrate's
/// Parameters or a token request is served even while big bodies fill it.
pub(super) const SMALL_BODY: usize = 64 * 1024;

/// Bytes of request bodies being received on one listener, against `max_body_bytes_in_flight`.
/// Every request carries it (an extension) so each body read draws on it.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    used: std::sync::atomic::AtomicUsize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Bytes all bodies together may draw.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes drawn now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// What one body read has drawn from the budget, given back when the read ends.
pub(super) struct Drawn {
    pub(super) budget: Option<(Arc<BodyBudget>, Arc<AtomicBool>)>,
    pub(super) bytes: usize,
}

impl Drawn {
    /// False (and the request marked busy) when the budget has no room for `n` more bytes.
    pub(super) fn take(&mut self, n: usize) -> bool {
        let Some((budget, busy)) = &self.budget else {
            return true;
        };
        if budget.take(n) {
            self.bytes += n;
            true
        } else {
            busy.store(true, Ordering::Relaxed);
            false
        }
    }
}

impl Drop for Drawn {
    fn drop(&mut self) {
        if let Some((budget, _)) = &self.budget {
            budget.give_back(self.bytes);
        }
    }
}

/// The budget and the connection's "answered busy" flag, as a request extension.
#[derive(Clone)]
pub(super) struct InFlight {
    pub(super) budget: Arc<BodyBudget>,
    pub(super) busy: Arc<AtomicBool>,
}

/// Timeouts and bounds applied to every connection of a listener.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    /// Connections served at once (`max_connections`); the next ones get 503 and are closed.
    pub max_connections: usize,
    /// Request bodies being received (`max_body_bytes_in_flight`).
    pub body_budget: Arc<BodyBudget>,
    /// How long a connection may leave an answer unwritten because its client reads nothing
    /// (`write_stall_timeout_secs`) before it is closed.
    pub write_stall_timeout: Duration,
    /// The dialect of the 503 a connection over the limit gets.
    pub busy_style: crate::fhir::OutcomeStyle,
}

impl ConnectionLimits {
    /// The listener bounds the configuration asks for.
    pub fn from_config(
        config: &crate::config::Config,
        busy_style: crate::fhir::OutcomeStyle,
    ) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            max_connections: config.max_connections,
            body_budget: BodyBudget::new(config.max_body_bytes_in_flight),
            write_stall_timeout: Duration::from_secs(config.write_stall_timeout_secs.max(1)),
            busy_style,
        }
    }
}

/// Connections over `max_connections` that are still answered (503); past these, a new
/// connection is closed at once.
pub(super) const BUSY_CONNECTIONS: usize = 64;

/// The answer to every request of a connection over `max_connections`.
pub(super) fn busy_response(style: crate::fhir::OutcomeStyle, max: usize) -> Response<Body> {
    let error = FhirError {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        issue_type: "transient",
        code: "SERVICE_UNAVAILABLE".into(),
        display: "Service unavailable".into(),
        diagnostics: format!(
            "the sandbox is serving {max} connections already (max_connections); try again after the Retry-After seconds"
        ),
        severity: "error",
    };
    let mut resp = closing(error.to_response(style).map(full));
    resp.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(RETRY_AFTER_SECS),
    );
    resp
}

/// A connection's stream that gives up writing when its client has read nothing for `limit`:
/// a client that stops reading would otherwise hold the answer (and everything queued behind
/// it, such as a journal stream) for as long as it keeps the connection open.
pub(super) struct StallGuard<S> {
    inner: S,
    limit: Duration,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    pub(super) fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// What to answer for a write that made no progress: still waiting, or the end.
    fn waited<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        polled: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::task::Poll;
        match polled {
            Poll::Pending => {
                let limit = self.limit;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the client read nothing for {} s (write_stall_timeout_secs)",
                            limit.as_secs()
                        ),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.waited(cx, polled)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.waited(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.waited(cx, polled)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_shutdown(cx);
        self.waited(cx, polled)
    }
}
