//! The live journal: Server-Sent Events, one `entry` event per exchange, so a page can follow
//! the journey as it happens. The backlog after `since` is sent first (in arrival order), then
//! entries as they complete, which is nearly but not exactly arrival order: a follower orders
//! them by `sequence`. Each event's `id` is a watermark below which the follower has been sent
//! everything, so a reconnect (`Last-Event-ID`) misses nothing; it may repeat an entry, which
//! the follower recognises by its `sequence`.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::broadcast::error::RecvError;

use crate::http::{Body, BoxError};
use crate::journal::Entry;
use crate::sandbox::Shared;

fn event(entry: &Entry, id: u64) -> Bytes {
    let data = serde_json::to_string(entry).unwrap_or_default();
    Bytes::from(format!("id: {id}\nevent: entry\ndata: {data}\n\n"))
}

pub fn journal_stream(shared: &Shared, since: u64) -> Response<Body> {
    // Subscribe before reading the backlog so nothing falls between the two.
    let mut live = shared.journal.subscribe();
    let mut stopping = shared.stopping.clone();
    let (backlog, watermark) = shared.journal.snapshot(since);
    // Entries completing between `subscribe` and `snapshot` come both ways: send them once.
    let mut sent: HashSet<u64> = backlog.iter().map(|e| e.sequence).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        // Tell the browser how long to wait before reconnecting.
        if tx
            .send(Bytes::from_static(b"retry: 1000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        for entry in &backlog {
            let id = watermark.min(entry.sequence).max(since);
            if tx.send(event(entry, id)).await.is_err() {
                return;
            }
        }
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
                    Bytes::from(format!("event: lagged\ndata: {missed}\n\n"))
                }
                Ok(Err(RecvError::Closed)) => return,
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream_from(rx).map(|b| Ok::<_, BoxError>(Frame::data(b)));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Bytes> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
