//! The live journal: Server-Sent Events, one `entry` event per exchange, so a page can follow
//! the journey as it happens. The backlog after `since` is sent first (in arrival order), then
//! entries as they complete, which is nearly but not exactly arrival order: a follower orders
//! them by `sequence`. Each event's `id` is a watermark below which the follower has been sent
//! everything, so a reconnect (`Last-Event-ID`) misses nothing; it may repeat an entry, which
//! the follower recognises by its `sequence`.
//!
//! A follower that stops reading is cut off once [`MAX_QUEUED_BYTES`] wait for it: a `cut`
//! event says why and the stream ends; `EventSource` reconnects by itself with `Last-Event-ID`.
//! A client that reads nothing at all is disconnected by the listener's write-stall timeout.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::StreamBody;
use hyper::body::Frame;
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;

use crate::http::{Body, BoxError};
use crate::journal::Entry;
use crate::world::state::Shared;

fn event(entry: &Entry, id: u64) -> Bytes {
    let data = serde_json::to_string(entry).unwrap_or_default();
    Bytes::from(format!("id: {id}\nevent: entry\ndata: {data}\n\n"))
}

/// Bytes of events one follower may have waiting (not yet taken by its connection). A follower
/// that falls this far behind is cut off: it gets a `cut` event and the stream ends, and its
/// `EventSource` reconnects from the last `id` it read, missing nothing.
pub(super) const MAX_QUEUED_BYTES: usize = 256 * 1024;

/// The `cut` event: why the stream ends, and that reconnecting resumes it.
fn cut(why: &str) -> Bytes {
    let data = serde_json::json!({ "reason": why, "reconnect": true });
    Bytes::from(format!("event: cut\ndata: {data}\n\n"))
}

/// One chunk for the connection and the queue room it holds until the connection takes it.
type Queued = (Bytes, u32);

pub(super) fn journal_stream(shared: &Shared, since: u64) -> Response<Body> {
    // Subscribe before reading the backlog so nothing falls between the two.
    let mut live = shared.journal.subscribe();
    let mut stopping = shared.stopping.clone();
    let (backlog, watermark) = shared.journal.snapshot(since);
    // Entries completing between `subscribe` and `snapshot` come both ways: send them once.
    let mut sent: HashSet<u64> = backlog.iter().map(|e| e.sequence).collect();
    // The queue is bounded in bytes: room is taken before a chunk is queued and given back
    // when the connection takes it.
    let room = Arc::new(Semaphore::new(MAX_QUEUED_BYTES));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Queued>();
    let producer_room = room.clone();
    tokio::spawn(async move {
        let room = producer_room;
        let size = |chunk: &Bytes| u32::try_from(chunk.len().min(MAX_QUEUED_BYTES)).unwrap_or(0);
        // Tell the browser how long to wait before reconnecting.
        if tx
            .send((Bytes::from_static(b"retry: 1000\n\n"), 0))
            .is_err()
        {
            return;
        }
        // The backlog goes at the follower's pace.
        for entry in &backlog {
            let id = watermark.min(entry.sequence).max(since);
            let chunk = event(entry, id);
            let n = size(&chunk);
            let taken = tokio::select! {
                taken = room.acquire_many(n) => taken,
                () = tx.closed() => return,
                _ = stopping.changed() => return,
            };
            match taken {
                Ok(permit) => permit.forget(),
                Err(_) => return,
            }
            if tx.send((chunk, n)).is_err() {
                return;
            }
        }
        drop(backlog);
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(Duration::from_secs(15), live.recv()) => next,
                _ = stopping.changed() => return,
            };
            let chunk = match next {
                // A comment line keeps proxies and the browser from timing the stream out.
                Err(_) => Bytes::from_static(b": keep-alive\n\n"),
                Ok(Ok(done))
                    if done.entry.sequence > since && !sent.remove(&done.entry.sequence) =>
                {
                    event(&done.entry, done.watermark.max(since))
                }
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(missed))) => {
                    let _ = tx.send((cut(&format!("{missed} entries went by faster than this stream was read; reconnect to resume")), 0));
                    return;
                }
                Ok(Err(RecvError::Closed)) => return,
            };
            let n = size(&chunk);
            match room.try_acquire_many(n) {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    // Fallen behind: cut off rather than hold more for it.
                    tracing::debug!("Cut off a journal stream follower that fell behind.");
                    let _ = tx.send((
                        cut(&format!(
                            "this stream was not read: {MAX_QUEUED_BYTES} bytes were waiting; reconnect to resume"
                        )),
                        0,
                    ));
                    return;
                }
            }
            if tx.send((chunk, n)).is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream_from(rx).map(move |(chunk, n)| {
        room.add_permits(n as usize);
        Ok::<_, BoxError>(Frame::data(chunk))
    });
    let mut resp = Response::new(crate::http::Body::stream(StreamBody::new(stream)));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Queued>,
) -> impl futures_util::Stream<Item = Queued> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
