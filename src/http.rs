//! Shared HTTP plumbing: the response body type, bounded body reading, and the accept loop with
//! graceful drain (`drain`), used by the plain listener and by SSP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::fhir::{FhirError, SpineCode};

mod limits;
pub use limits::ConnectionLimits;
pub(crate) use limits::RETRY_AFTER_SECS;
use limits::{BUSY_CONNECTIONS, Drawn, InFlight, SMALL_BODY, StallGuard, busy_response};
mod body;
pub use body::Body;
mod drain;
mod guard;
mod head_timer;
mod source;
pub(crate) use guard::{DropConnection, Stopped, guarded};
mod world_path;
use source::MADE_FRAME;
pub(crate) use source::Source;
pub(crate) use world_path::{WORLDS_PATH, is_world_id, world_prefix};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Body::buffer(bytes.into())
}

pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// A buffered response turned into the streaming body type.
pub fn boxed(resp: Response<Bytes>) -> Response<Body> {
    resp.map(full)
}

/// A buffered answer held in pieces that are sent one after another and never joined: the
/// migrate cache's Bundle around each request's trace id, answered without copying the Bundle.
#[derive(Debug, Clone)]
pub enum Pieces {
    One(Bytes),
    /// An answer kept by the migrate cache, cut so that each piece's first
    /// [`crate::journal::BODY_LIMIT`] bytes are a small buffer of their own: a view of the
    /// answer's head (what the journal keeps) holds nothing large alive.
    Kept(Vec<Bytes>),
    /// An answer made piece by piece as it is sent (a generated document of any size): never
    /// held whole.
    Made(std::sync::Arc<dyn Source>),
}

impl Default for Pieces {
    fn default() -> Self {
        Self::One(Bytes::new())
    }
}

impl From<Bytes> for Pieces {
    fn from(bytes: Bytes) -> Self {
        Self::One(bytes)
    }
}

impl Pieces {
    fn slices(&self) -> &[Bytes] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Kept(many) => many,
            Self::Made(_) => &[],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Made(source) => source.len(),
            _ => self.slices().iter().map(Bytes::len).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole answer in one buffer (a copy, unless it is in one piece).
    pub fn joined(&self) -> Bytes {
        match self {
            Self::One(one) => one.clone(),
            Self::Kept(many) => Bytes::from(many.concat()),
            Self::Made(_) => Bytes::from(self.prefix(self.len())),
        }
    }

    /// Views of its first `limit` bytes (no copy).
    pub fn head(&self, limit: usize) -> Vec<Bytes> {
        if let Self::Made(_) = self {
            return vec![Bytes::from(self.prefix(limit))];
        }
        let mut out = Vec::new();
        let mut room = limit;
        for piece in self.slices() {
            if room == 0 {
                break;
            }
            let take = piece.len().min(room);
            if take > 0 {
                out.push(piece.slice(..take));
            }
            room -= take;
        }
        out
    }

    /// Its first `limit` bytes, copied.
    pub fn prefix(&self, limit: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len().min(limit));
        if let Self::Made(source) = self {
            while out.len() < limit.min(source.len()) {
                let piece = source.chunk(out.len(), limit - out.len());
                if piece.is_empty() {
                    break;
                }
                out.extend_from_slice(&piece[..piece.len().min(limit - out.len())]);
            }
            return out;
        }
        for piece in self.slices() {
            let room = limit - out.len();
            if room == 0 {
                break;
            }
            out.extend_from_slice(&piece[..piece.len().min(room)]);
        }
        out
    }

    /// The streaming body type: one frame per piece, with the exact length announced (so the
    /// answer has a `Content-Length`, as when it was one buffer).
    pub fn into_body(self) -> Body {
        match self {
            Self::One(one) => full(one),
            Self::Kept(many) => {
                let remaining = many.iter().map(|p| p.len() as u64).sum();
                Body::stream(PiecesBody {
                    pieces: many.into(),
                    remaining,
                })
            }
            Self::Made(source) => Body::stream(MadeBody { source, offset: 0 }),
        }
    }
}

/// A [`Pieces::Made`] answer, one frame at a time.
struct MadeBody {
    source: std::sync::Arc<dyn Source>,
    offset: usize,
}

impl http_body::Body for MadeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.offset >= this.source.len() {
            return std::task::Poll::Ready(None);
        }
        let piece = this.source.chunk(this.offset, MADE_FRAME);
        if piece.is_empty() {
            return std::task::Poll::Ready(Some(Err("a made answer ended early".into())));
        }
        this.offset += piece.len();
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.offset >= self.source.len()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.source.len().saturating_sub(self.offset) as u64)
    }
}

struct PiecesBody {
    pieces: std::collections::VecDeque<Bytes>,
    remaining: u64,
}

impl http_body::Body for PiecesBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let next = this.pieces.pop_front().map(|piece| {
            this.remaining = this.remaining.saturating_sub(piece.len() as u64);
            Ok(http_body::Frame::data(piece))
        });
        std::task::Poll::Ready(next)
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    TooLarge {
        limit: usize,
    },
    /// The whole body did not arrive within the body-read timeout.
    TimedOut {
        after: Duration,
        received: usize,
        expected: Option<u64>,
    },
    Broken(String),
    /// Bodies arriving together already hold `max_body_bytes_in_flight`: try again shortly.
    Busy {
        limit: usize,
    },
}

impl BodyError {
    /// What went wrong, in a sentence naming the setting that applies.
    pub(crate) fn sentence(&self) -> String {
        match self {
            Self::TooLarge { limit } => {
                format!("request body is larger than the {limit}-byte limit (max_body_bytes)")
            }
            Self::TimedOut {
                after,
                received,
                expected,
            } => {
                let of = expected.map(|n| format!(" of the {n} announced in Content-Length"));
                format!(
                    "the request body did not arrive within {} s (body_read_timeout_secs): {received} bytes{} came; send the whole body at once",
                    after.as_secs(),
                    of.unwrap_or_default()
                )
            }
            Self::Broken(cause) => format!("could not read the request body: {cause}"),
            Self::Busy { limit } => format!(
                "the sandbox is receiving {limit} bytes of request bodies already \
                 (max_body_bytes_in_flight); try again after the Retry-After seconds"
            ),
        }
    }

    /// The refusal in the Spine dialects of PDS, SDS and the providers.
    pub(crate) fn to_fhir(&self) -> FhirError {
        match self {
            Self::TooLarge { .. } => FhirError::new(SpineCode::RequestTooLarge, self.sentence()),
            Self::TimedOut { .. } => FhirError::new(SpineCode::RequestTimeout, self.sentence()),
            Self::Broken(_) => FhirError::bad_request(self.sentence()),
            Self::Busy { .. } => FhirError {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
                issue_type: "transient",
                code: "SERVICE_UNAVAILABLE".into(),
                display: "Service unavailable".into(),
                diagnostics: self.sentence(),
                severity: "error",
            },
        }
    }
}

/// Reads a whole request body of at most `limit` bytes, giving up when it has not all arrived
/// `timeout` after the headers (hyper's header timeout does not cover the body).
pub(crate) async fn read_body_within(
    req: Request<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<Request<Bytes>, BodyError> {
    if http_body::Body::is_end_stream(req.body()) {
        // A GET and the like: nothing to wait for.
        return Ok(req.map(|_| Bytes::new()));
    }
    let expected = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (parts, body) = req.into_parts();
    let mut drawn = Drawn {
        budget: parts
            .extensions
            .get::<InFlight>()
            .map(|f| (f.budget.clone(), f.busy.clone())),
        bytes: 0,
    };
    let busy = |drawn: &Drawn| BodyError::Busy {
        limit: drawn.budget.as_ref().map_or(0, |(b, _)| b.limit()),
    };
    // A body announced bigger than what is left is refused before any of it is read. The first
    // SMALL_BODY bytes of each are not counted, so ordinary requests are served even while big
    // bodies fill the budget (max_connections bounds those bytes).
    if let Some(n) = expected.filter(|n| *n <= limit as u64)
        && !drawn.take((n as usize).saturating_sub(SMALL_BODY))
    {
        return Err(busy(&drawn));
    }
    let mut body = Limited::new(body, limit);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut received = 0;
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(BodyError::TimedOut {
                    after: timeout,
                    received,
                    expected,
                });
            }
            Ok(None) => break,
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    received += data.len();
                    // Beyond what Content-Length announced (and was drawn up front).
                    let more = received
                        .saturating_sub(SMALL_BODY)
                        .saturating_sub(drawn.bytes);
                    if more > 0 && !drawn.take(more) {
                        return Err(busy(&drawn));
                    }
                    chunks.push(data);
                }
            }
            Ok(Some(Err(e))) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(BodyError::TooLarge { limit });
            }
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
        }
    }
    let bytes = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    };
    Ok(Request::from_parts(parts, bytes))
}

/// Asks hyper to close the connection after this response (its request body was not read to
/// the end, so the connection cannot carry another request).
pub(crate) fn closing<B>(mut resp: Response<B>) -> Response<B> {
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    resp
}

/// A URL path (or one segment of it) with its `%XX` escapes decoded, as a server must before
/// matching it (RFC 3986 section 2.1: `%24` is `$`). `+` stays `+` (that is a query-string
/// convention). Unchanged when there is nothing to decode or the result would not be UTF-8.
pub(crate) fn percent_decode_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return std::borrow::Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => std::borrow::Cow::Owned(decoded),
        Err(_) => std::borrow::Cow::Borrowed(path),
    }
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

/// Connections made to the plain-HTTP listener from inside this process: SSP's hop to the
/// sandbox's own providers. The listener serves them exactly as it serves TCP ones (same
/// handler, timeouts, injected faults and drain); only the bytes travel through memory instead
/// of the kernel's loopback.
#[derive(Clone)]
pub(crate) struct LocalDialer {
    addr: SocketAddr,
    tx: mpsc::Sender<DuplexStream>,
}

/// The listener's side of [`LocalDialer`].
pub struct LocalAccepts {
    rx: mpsc::Receiver<DuplexStream>,
}

/// Room in each direction of a local connection: a 150 KB record fits in one write.
const LOCAL_BUFFER: usize = 256 * 1024;

impl LocalDialer {
    /// A dialer for the listener bound at `addr`, and what that listener accepts from.
    pub(crate) fn channel(addr: SocketAddr) -> (Self, LocalAccepts) {
        let (tx, rx) = mpsc::channel(64);
        (Self { addr, tx }, LocalAccepts { rx })
    }

    /// The address the listener is bound to (what a TCP connection would have reached).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens a connection; fails once the listener has stopped.
    pub(crate) async fn dial(&self) -> std::io::Result<DuplexStream> {
        let (ours, theirs) = tokio::io::duplex(LOCAL_BUFFER);
        self.tx.send(theirs).await.map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!("the listener at {} has stopped", self.addr),
            )
        })?;
        Ok(ours)
    }
}

/// Serves connections from `listener` (and from `local`, when given, with its peer value)
/// until `shutdown` turns true, then stops accepting and waits up to `drain` for open requests
/// to finish.
pub async fn serve<A, H, F>(
    listener: TcpListener,
    acceptor: A,
    handler: H,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
    local: Option<(LocalAccepts, A::Peer)>,
) where
    A: Acceptor,
    H: Fn(Request<Incoming>, A::Peer, std::net::SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let drain_all = drain::Drain::new();
    // Each connection is given its own header timer (`head_timer`), set where it is served.
    let builder = auto::Builder::new(TokioExecutor::new());
    // A connection from inside the process has no peer address: it gives the listener's own.
    let here = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut local = local.map(|(accepts, peer)| (accepts.rx, peer));
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let busy_connections = Arc::new(tokio::sync::Semaphore::new(BUSY_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some((stream, peer)) = next_local(&mut local) => {
                let deadline = tokio::time::Instant::now() + limits.header_read_timeout;
                tokio::spawn(serve_connection(
                    stream,
                    peer,
                    here,
                    deadline,
                    handler.clone(),
                    Serving {
                        builder: builder.clone(),
                        watcher: drain_all.watcher(),
                        limits: limits.clone(),
                    },
                ));
                continue;
            }
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
        let (permit, busy) = match connections.clone().try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(_) => match busy_connections.clone().try_acquire_owned() {
                Ok(permit) => (permit, true),
                Err(_) => {
                    tracing::debug!(%remote, "Closed a connection at once: too many are open.");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let builder = builder.clone();
        let watcher = drain_all.watcher();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // hyper's header timeout starts at a request's first byte, so a client that
            // connects and says nothing would hold its connection (and a file descriptor) for
            // ever. The first request's headers, TLS handshake included, must be in within
            // the header timeout from accept.
            let deadline = tokio::time::Instant::now() + limits.header_read_timeout;
            let (stream, peer) = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await
            {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, %remote, "Connection set-up failed.");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "Closed a connection that did not finish setting up in time.");
                    return;
                }
            };
            if busy {
                tracing::debug!(%remote, "Answering 503: too many connections are open.");
                let (style, max) = (limits.busy_style, limits.max_connections);
                let busy_handler =
                    move |_req: Request<Incoming>, _peer: A::Peer, _remote: SocketAddr| {
                        std::future::ready(busy_response(style, max))
                    };
                serve_connection(
                    stream,
                    peer,
                    remote,
                    deadline,
                    busy_handler,
                    Serving {
                        builder,
                        watcher,
                        limits,
                    },
                )
                .await;
                return;
            }
            let serving = Serving {
                builder,
                watcher,
                limits,
            };
            serve_connection(stream, peer, remote, deadline, handler, serving).await;
        });
    }
    drop(listener);
    tokio::select! {
        () = drain_all.shutdown() => {}
        _ = tokio::time::sleep(drain) => {
            tracing::warn!("Open connections did not drain in time; closing them.");
        }
    }
}

/// The next connection dialled from inside the process, with the peer value it is served
/// with; never, when the listener takes none.
async fn next_local<P: Clone>(
    local: &mut Option<(mpsc::Receiver<DuplexStream>, P)>,
) -> Option<(DuplexStream, P)> {
    match local {
        Some((rx, peer)) => rx.recv().await.map(|stream| (stream, peer.clone())),
        None => std::future::pending().await,
    }
}

/// How a listener serves each of its connections.
struct Serving {
    builder: auto::Builder<TokioExecutor>,
    watcher: drain::Watcher,
    limits: ConnectionLimits,
}

/// One connection, TCP or local, until it ends, the client stays silent past `deadline`, or
/// the listener drains.
async fn serve_connection<S, P, H, F>(
    stream: S,
    peer: P,
    remote: SocketAddr,
    deadline: tokio::time::Instant,
    handler: H,
    serving: Serving,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    P: Clone + Send + Sync + 'static,
    H: Fn(Request<Incoming>, P, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let Serving {
        mut builder,
        watcher,
        limits,
    } = serving;
    let head = head_timer::HeadDeadline::new();
    builder
        .http1()
        .timer(head_timer::HeadTimer(head.clone()))
        .header_read_timeout(limits.header_read_timeout);
    let asked = Arc::new(AtomicBool::new(false));
    let first_request = asked.clone();
    let in_flight = InFlight {
        budget: limits.body_budget.clone(),
        busy: Arc::new(AtomicBool::new(false)),
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        first_request.store(true, Ordering::Relaxed);
        // Only a request with a body draws on the budget (a GET would pay for the map it goes in).
        if !http_body::Body::is_end_stream(req.body()) {
            req.extensions_mut().insert(in_flight.clone());
        }
        let busy = in_flight.busy.clone();
        // Called here, not inside the future, so the handler is not cloned for every request.
        // Not boxed here: hyper moves this future as it stores it, so a handler whose state
        // machine is large boxes it itself, once, where it knows (the front door does).
        let answer = handler(req, peer.clone(), remote);
        async move {
            let mut resp = answer.await;
            // A body refused because the listener's body budget was full: say when to retry,
            // and close (the body was not read to its end).
            if busy.swap(false, Ordering::Relaxed)
                && resp.status() == http::StatusCode::SERVICE_UNAVAILABLE
            {
                resp.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(RETRY_AFTER_SECS),
                );
                resp = closing(resp);
            }
            // An injected "dropped connection": hyper closes the connection unanswered.
            if resp.extensions().get::<DropConnection>().is_some() {
                return Err(DroppedByFault);
            }
            Ok(resp)
        }
    });
    let stream = StallGuard::new(stream, limits.write_stall_timeout);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let conn = watcher.watch(conn.into_owned(), |conn| conn.graceful_shutdown());
    tokio::pin!(conn);
    let late = head_timer::watch(&head, deadline, &asked, limits.header_read_timeout);
    tokio::select! {
        ended = &mut conn => {
            if let Err(e) = ended {
                tracing::debug!(error = %e, %remote, "Connection ended with an error.");
            }
        }
        () = late => {
            tracing::debug!(%remote, "Closed a connection whose request headers did not arrive in time.");
        }
    }
}

/// A plain-HTTP GET returning only the status (the container health check).
pub(crate) async fn get_status(url: &str) -> Result<u16, BoxError> {
    let uri: http::Uri = url.parse()?;
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let resp = client.get(uri).await?;
    Ok(resp.status().as_u16())
}

/// `key=value` pairs of a query string, percent-decoded.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (as a space), leaving malformed escapes as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(
            percent_decode_path("Patient/%24gpc.migratestructuredrecord"),
            "Patient/$gpc.migratestructuredrecord"
        );
        assert_eq!(percent_decode_path("a%2"), "a%2");
        assert_eq!(percent_decode_path("%zz+%41"), "%zz+A");
        assert_eq!(percent_decode_path("%C3%A9"), "é");
        assert_eq!(percent_decode_path("%FF"), "%FF");
        assert_eq!(percent_decode_path("end%24"), "end$");
    }

    #[test]
    fn query_pairs_decode() {
        assert_eq!(
            query_pairs(Some(
                "organization=https%3A%2F%2Ffhir.nhs.uk%7CB82617&x=a+b&y"
            )),
            vec![
                (
                    "organization".to_owned(),
                    "https://fhir.nhs.uk|B82617".to_owned()
                ),
                ("x".to_owned(), "a b".to_owned()),
                ("y".to_owned(), String::new()),
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
