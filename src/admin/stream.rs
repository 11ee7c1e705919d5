//! The live journal: Server-Sent Events, one `entry` event per exchange, so a page can follow
//! the journey as it happens. The backlog after `since` is sent first, then live entries.

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

fn event(entry: &Entry) -> Bytes {
    let data = serde_json::to_string(entry).unwrap_or_default();
    Bytes::from(format!(
        "id: {}\nevent: entry\ndata: {data}\n\n",
        entry.sequence
    ))
}

pub fn journal_stream(shared: &Shared, since: u64) -> Response<Body> {
    // Subscribe before reading the backlog so nothing falls between the two.
    let mut live = shared.journal.subscribe();
    let mut stopping = shared.stopping.clone();
    let backlog = shared.journal.since(since);
    let mut last = backlog.last().map_or(since, |e| e.sequence);
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
            if tx.send(event(entry)).await.is_err() {
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
                Ok(Ok(entry)) if entry.sequence > last => {
                    last = entry.sequence;
                    event(&entry)
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
