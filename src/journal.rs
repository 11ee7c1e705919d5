//! The journal: every exchange PDS, SDS, SSP and the providers see, oldest first
//! (README.md, "URLs", `GET /_admin/journal`).
//!
//! Ordered by arrival: a request takes its sequence number when it arrives ([`Journal::begin`])
//! and its entry is filed under that number when it completes ([`Journal::complete`]), so the
//! SSP hop always comes before the provider hop it caused, although it finishes after it.
//! Bounded twice: by entry count and by the bytes the entries hold (oldest evicted first). An
//! entry holds copies of at most [`BODY_LIMIT`] bytes of each body and of the headers, never a
//! view into a response or connection buffer, so the bound is the memory actually kept.
//! Followers subscribe to a broadcast channel that carries entries as they complete.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

mod exchange;
pub(crate) use exchange::{DROPPED, Exchange, Outcome};

/// Bodies kept per entry are cut at this many bytes, so a 5,000-item record does not eat memory.
pub(crate) const BODY_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Entry {
    pub sequence: u64,
    /// When the request arrived; shown in RFC 3339 with milliseconds (formatted when the
    /// journal is read, not on the request path).
    #[serde(serialize_with = "rfc3339_millis")]
    pub time: chrono::DateTime<chrono::Utc>,
    /// `pds`, `sds`, `ssp`, `provider`.
    pub service: &'static str,
    #[serde(serialize_with = "method_text")]
    pub method: http::Method,
    pub path: String,
    pub status: u16,
    pub duration_ms: f64,
    pub trace_id: Option<String>,
    pub from_asid: Option<String>,
    pub to_asid: Option<String>,
    pub interaction: Option<String>,
    /// Why the request was refused (`CODE: diagnostics`), when it was.
    pub refusal: Option<String>,
    /// Extra facts a service wants shown (e.g. SSP's target URL, the provider's ODS code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub request_headers: Headers,
    pub request_body: Option<BodyText>,
    /// The decoded GP Connect JWT, when the request carried one that could be decoded.
    #[serde(skip_serializing_if = "Jwt::is_absent")]
    pub jwt: Jwt,
    pub response_headers: Headers,
    pub response_body: Option<BodyText>,
    /// SSP: the ASID of the client certificate the connection presented (which system sent it,
    /// whatever `Ssp-From` claims).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_asid: Option<String>,
    /// Provider, a delivered migrate: the Binary URLs of every DocumentReference in the Bundle
    /// (the body above is cut, so the conformance report could not otherwise see them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Arc<[String]>>,
    /// The fault injected into this exchange (`POST /_admin/faults`, scenario `faults:`), so
    /// nobody mistakes a rehearsed outage for a bug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// How the journal shows a time: RFC 3339, UTC, milliseconds.
pub(crate) fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn method_text<S: serde::Serializer>(method: &http::Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(method.as_str())
}

fn rfc3339_millis<S: serde::Serializer>(
    time: &chrono::DateTime<chrono::Utc>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*time))
}

/// A body as kept in an entry: at most [`BODY_LIMIT`] bytes of it, turned into text only when
/// the journal is read (recording stays cheap on the request path).
#[derive(Debug, Clone, Default)]
pub struct BodyText {
    kept: crate::http::Pieces,
    total: usize,
}

impl BodyText {
    /// The text shown: the body, or its first [`BODY_LIMIT`] bytes cut at a character boundary
    /// with a note saying so.
    pub fn text(&self) -> String {
        let kept = self.kept.joined();
        let text = match std::str::from_utf8(&kept) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(e) if self.total > kept.len() && e.error_len().is_none() => {
                // The cut fell inside a character: drop its first bytes.
                String::from_utf8_lossy(&kept[..e.valid_up_to()])
            }
            Err(_) => String::from_utf8_lossy(&kept),
        };
        if self.total <= kept.len() {
            return text.into_owned();
        }
        format!(
            "{text}… [{} bytes in all, cut at {}]",
            self.total,
            text.len()
        )
    }
}

impl BodyText {
    /// The bytes kept (at most [`BODY_LIMIT`]) and the body's whole length, for the state dir.
    pub fn parts(&self) -> (Bytes, usize) {
        (self.kept.joined(), self.total)
    }

    /// A body as [`BodyText::parts`] gave it, read back from the state dir (cut again to
    /// [`BODY_LIMIT`], whatever the file says).
    pub fn from_parts(kept: Bytes, total: usize) -> Self {
        let kept = kept.slice(..kept.len().min(BODY_LIMIT));
        Self {
            total: total.max(kept.len()),
            kept: crate::http::Pieces::from(kept),
        }
    }
}

impl Serialize for BodyText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// Keeps a copy of the first [`BODY_LIMIT`] bytes of a body: a slice would keep the whole
/// body alive for as long as the entry lives.
pub(crate) fn bounded_bytes(bytes: &Bytes) -> Option<BodyText> {
    bounded_body(bytes)
}

/// [`bounded_bytes`] for a body in pieces: only the first [`BODY_LIMIT`] bytes are copied, or,
/// for an answer kept by the migrate cache (whose head is in small buffers of its own), viewed.
pub(crate) fn bounded_pieces(pieces: &crate::http::Pieces) -> Option<BodyText> {
    use crate::http::Pieces;
    let total = pieces.len();
    (total > 0).then(|| BodyText {
        kept: match pieces {
            Pieces::Kept(_) => Pieces::Kept(pieces.head(BODY_LIMIT)),
            // A body no longer than what is kept is shared, not copied: it holds nothing else
            // alive (PDS answers are its cached record's bytes).
            Pieces::One(one) if one.len() <= BODY_LIMIT => Pieces::One(one.clone()),
            _ => Pieces::One(Bytes::from(pieces.prefix(BODY_LIMIT))),
        },
        total,
    })
}

/// [`bounded_bytes`] for a borrowed body.
pub(crate) fn bounded_body(bytes: &[u8]) -> Option<BodyText> {
    (!bytes.is_empty()).then(|| BodyText {
        kept: crate::http::Pieces::One(Bytes::copy_from_slice(
            &bytes[..bytes.len().min(BODY_LIMIT)],
        )),
        total: bytes.len(),
    })
}

/// Headers as received, shown as `[name, value]` pairs. Copied in: as parsed, values are views
/// into the connection's read buffer, which they would keep alive. One exchange's headers are
/// kept in one buffer, names and values back to back followed by where each ends, so keeping
/// them costs one allocation however many headers there are (and evicting them one free).
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// Each header's name then its value, back to back; then, for each header, where its name
    /// ends and where its value ends (two little-endian `u32`s).
    buffer: Bytes,
    /// How many headers there are.
    count: u32,
}

/// Bytes of one header's place in [`Headers`]' table.
const HEADER_ENDS: usize = 8;

/// The `Ssp-*` headers of a request, as its journal entry shows them.
#[derive(Debug, Default)]
pub(crate) struct SspHeaders {
    pub trace_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub interaction: Option<String>,
}

impl Headers {
    /// A copy of `headers`, in their order, repeated names included.
    pub fn copy_of(headers: &http::HeaderMap) -> Self {
        Self::kept(|| {
            headers
                .iter()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
        })
    }

    /// Headers from (name, value) pairs (gone through twice: to measure, then to copy), in one
    /// buffer.
    fn kept<'a, I>(pairs: impl Fn() -> I) -> Self
    where
        I: Iterator<Item = (&'a [u8], &'a [u8])>,
    {
        let (text, count) = pairs().fold((0, 0), |(text, count), (name, value)| {
            (text + name.len() + value.len(), count + 1)
        });
        let mut buffer = vec![0u8; text + count * HEADER_ENDS];
        let (mut at, mut table) = (0, text);
        for (name, value) in pairs() {
            let mut put = |bytes: &[u8]| {
                if let Some(place) = buffer.get_mut(at..at + bytes.len()) {
                    place.copy_from_slice(bytes);
                }
                at += bytes.len();
                u32::try_from(at).unwrap_or(u32::MAX)
            };
            let name_end = put(name);
            let value_end = put(value);
            for end in [name_end, value_end] {
                if let Some(place) = buffer.get_mut(table..table + 4) {
                    place.copy_from_slice(&end.to_le_bytes());
                }
                table += 4;
            }
        }
        Self {
            buffer: Bytes::from(buffer),
            count: u32::try_from(count).unwrap_or(u32::MAX),
        }
    }

    /// Where each header's name and value end, read from the table after the text.
    fn ends(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let table = self
            .buffer
            .len()
            .saturating_sub(self.count as usize * HEADER_ENDS);
        self.buffer
            .get(table..)
            .unwrap_or_default()
            .chunks_exact(HEADER_ENDS)
            .map(|place| {
                let word = |at: usize| {
                    place
                        .get(at..at + 4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map_or(0, u32::from_le_bytes) as usize
                };
                (word(0), word(4))
            })
    }

    /// Each header as (name, value, where the value lies in the buffer). Names are compared
    /// as bytes (they are ASCII tokens), so looking one up checks no text.
    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], std::ops::Range<usize>)> {
        let mut start = 0usize;
        self.ends().map(move |(name_end, value_end)| {
            let name = self.buffer.get(start..name_end).unwrap_or_default();
            let value = self.buffer.get(name_end..value_end).unwrap_or_default();
            start = value_end;
            (name, value, name_end..value_end)
        })
    }

    fn bytes(&self) -> usize {
        self.buffer.len()
    }

    /// The first value of a header (any case), as text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|(_, v, _)| std::str::from_utf8(v).ok())
    }

    /// Every value of a header (a repeated header is a mistake worth seeing).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.iter()
            .filter(|(n, _, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v, _)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The first value of each `Ssp-*` header an entry shows, trimmed, and the request's JWT,
    /// found in one pass.
    pub(crate) fn shown(&self) -> (SspHeaders, Jwt) {
        let mut found = SspHeaders::default();
        let mut authorization = None;
        for (name, value, range) in self.iter() {
            if authorization.is_none() && name == http::header::AUTHORIZATION.as_str().as_bytes() {
                authorization = Some(range);
                continue;
            }
            let Some(rest) = name
                .get(..4)
                .filter(|p| p.eq_ignore_ascii_case(b"ssp-"))
                .and(name.get(4..))
            else {
                continue;
            };
            let slot = if rest.eq_ignore_ascii_case(b"traceid") {
                &mut found.trace_id
            } else if rest.eq_ignore_ascii_case(b"from") {
                &mut found.from
            } else if rest.eq_ignore_ascii_case(b"to") {
                &mut found.to
            } else if rest.eq_ignore_ascii_case(b"interactionid") {
                &mut found.interaction
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(String::from_utf8_lossy(value).trim().to_owned());
            }
        }
        let jwt = authorization
            .and_then(|range| http::HeaderValue::from_maybe_shared(self.buffer.slice(range)).ok());
        (found, Jwt(jwt))
    }

    /// The first value of a header (any case) as text, without collecting the others.
    pub(crate) fn first(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v, _)| String::from_utf8_lossy(v))
    }
}

impl Headers {
    /// Each header as (name, value) text, in order, for the state dir.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(name, value, _)| {
                (
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                )
            })
            .collect()
    }

    /// Headers as [`Headers::pairs`] gave them, read back from the state dir.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self::kept(|| {
            pairs
                .iter()
                .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
        })
    }
}

impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.count as usize))?;
        for (name, value, _) in self.iter() {
            seq.serialize_element(&(
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(value),
            ))?;
        }
        seq.end()
    }
}

pub(crate) fn header_pairs(headers: &http::HeaderMap) -> Headers {
    Headers::copy_of(headers)
}

impl From<http::HeaderMap> for Headers {
    fn from(headers: http::HeaderMap) -> Self {
        Self::copy_of(&headers)
    }
}

/// The request's bearer JWT, decoded for display when the journal is read.
#[derive(Debug, Clone, Default)]
pub struct Jwt(Option<http::HeaderValue>);

impl Jwt {
    pub fn is_absent(&self) -> bool {
        self.decoded().is_none()
    }

    fn decoded(&self) -> Option<serde_json::Value> {
        let token = crate::jwt::bearer_token(self.0.as_ref()?.to_str().ok()?)?;
        let decoded = crate::jwt::decode(token).ok()?;
        Some(serde_json::json!({ "header": decoded.header, "claims": decoded.claims }))
    }
}

impl Serialize for Jwt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.decoded().serialize(s)
    }
}

/// The request's `Authorization` header, kept so its JWT can be shown decoded (a view into
/// the journal's copy of the request headers, so no further copy).
pub(crate) fn jwt_of(headers: &Headers) -> Jwt {
    headers.shown().1
}

impl Entry {
    /// Roughly what the entry holds in memory, for the journal's byte bound.
    pub fn bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let body = |b: &Option<BodyText>| b.as_ref().map_or(0, |b| b.kept.len());
        std::mem::size_of::<Self>()
            + self.path.len()
            + text(&self.trace_id)
            + text(&self.from_asid)
            + text(&self.to_asid)
            + text(&self.interaction)
            + text(&self.refusal)
            + text(&self.target)
            + self.request_headers.bytes()
            + self.response_headers.bytes()
            + self.jwt.0.as_ref().map_or(0, http::HeaderValue::len)
            + body(&self.request_body)
            + body(&self.response_body)
    }
}

/// A request's place in the journal, taken when it arrives. Dropped without being completed
/// (the client went away mid-request), it leaves a gap and stops holding back the watermark.
pub struct Ticket {
    sequence: u64,
    /// Cleared when the ticket is completed, so its drop has nothing left to do.
    inner: Option<Arc<Mutex<Inner>>>,
}

impl Ticket {
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && let Ok(mut inner) = inner.lock()
        {
            inner.settle(self.sequence);
        }
    }
}

struct Inner {
    /// Sorted by sequence number, each with its [`Entry::bytes`] (counted once).
    entries: VecDeque<(usize, Arc<Entry>)>,
    next_sequence: u64,
    /// Tickets taken but not yet completed, in rising order (tickets are taken in order, so a
    /// push at the back keeps it sorted; its buffer is reused, unlike a set's nodes).
    pending: VecDeque<u64>,
    /// What `entries` hold, as [`Entry::bytes`] counts it.
    bytes: usize,
    /// The highest sequence number dropped to keep the journal bounded (0: none yet).
    evicted_through: u64,
}

impl Inner {
    /// A ticket is done with (completed or abandoned).
    fn settle(&mut self, sequence: u64) {
        if let Ok(at) = self.pending.binary_search(&sequence) {
            self.pending.remove(at);
        }
    }
}

/// What the journal holds now (the `X-Journal-*` headers of `GET /_admin/journal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: usize,
    pub bytes: usize,
}

#[derive(Clone)]
pub struct Journal {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    max_bytes: usize,
    live: broadcast::Sender<Completed>,
}

/// An entry as followers get it, when it completes.
#[derive(Debug, Clone)]
pub struct Completed {
    pub entry: Arc<Entry>,
    /// The watermark just after this entry completed: every request up to it had completed and
    /// been sent to followers no later than this entry.
    pub watermark: u64,
}

impl Journal {
    /// A journal keeping at most `capacity` entries and `max_bytes` bytes of them.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        let (live, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: VecDeque::new(),
                next_sequence: 1,
                pending: VecDeque::new(),
                bytes: 0,
                evicted_through: 0,
            })),
            capacity: capacity.max(1),
            max_bytes,
            live,
        }
    }

    /// Takes the next sequence number for a request that has just arrived.
    pub fn begin(&self) -> Ticket {
        let sequence = match self.inner.lock() {
            Ok(mut inner) => {
                let sequence = inner.next_sequence;
                inner.next_sequence += 1;
                inner.pending.push_back(sequence);
                sequence
            }
            Err(_) => 0,
        };
        Ticket {
            sequence,
            inner: Some(self.inner.clone()),
        }
    }

    /// Files a completed exchange under its ticket's number, in arrival order, and drops the
    /// oldest entries while either bound is exceeded. Returns the sequence number.
    pub fn complete(&self, mut ticket: Ticket, mut entry: Entry) -> u64 {
        let sequence = ticket.sequence;
        entry.sequence = sequence;
        let size = entry.bytes();
        let entry = Arc::new(entry);
        let Ok(mut inner) = self.inner.lock() else {
            return 0;
        };
        inner.settle(sequence);
        ticket.inner = None;
        // Exchanges finish nearly in arrival order: look for the place from the back.
        let at = inner
            .entries
            .iter()
            .rposition(|(_, e)| e.sequence < sequence)
            .map_or(0, |i| i + 1);
        inner.entries.insert(at, (size, entry.clone()));
        inner.bytes += size;
        // Evicted entries are freed after the lock is let go: other requests need not wait
        // while their headers and bodies are given back.
        // One at a time in the steady state, so the first is kept without a vector's allocation.
        let (mut evicted, mut more) = (None, Vec::new());
        while inner.entries.len() > self.capacity
            || (inner.bytes > self.max_bytes && inner.entries.len() > 1)
        {
            match inner.entries.pop_front() {
                Some((old_size, old)) => {
                    inner.bytes = inner.bytes.saturating_sub(old_size);
                    inner.evicted_through = inner.evicted_through.max(old.sequence);
                    match evicted {
                        None => evicted = Some(old),
                        Some(_) => more.push(old),
                    }
                }
                None => break,
            }
        }
        // Sent under the lock so followers see entries in completion order, none twice.
        let watermark = watermark(&inner);
        let _ = self.live.send(Completed { entry, watermark });
        drop(inner);
        drop((evicted, more));
        sequence
    }

    /// Files an exchange that arrived just now (for answers given without a handler).
    pub fn record(&self, entry: Entry) -> u64 {
        self.complete(self.begin(), entry)
    }

    /// Entries with a sequence number greater than `since` (all when 0), oldest first.
    pub fn since(&self, since: u64) -> Vec<Arc<Entry>> {
        self.snapshot(since).0
    }

    /// [`Journal::since`] plus the watermark: the highest sequence number below which every
    /// request has completed (or been abandoned), so nothing at or under it can still appear.
    pub fn snapshot(&self, since: u64) -> (Vec<Arc<Entry>>, u64) {
        match self.inner.lock() {
            Ok(inner) => {
                let entries = inner
                    .entries
                    .iter()
                    .filter(|(_, e)| e.sequence > since)
                    .map(|(_, e)| e.clone())
                    .collect();
                (entries, watermark(&inner))
            }
            Err(_) => (Vec::new(), 0),
        }
    }

    /// The highest sequence number the bound has dropped (0 when none has been): a report
    /// built from [`Self::since`] must not guess what happened before it.
    pub fn evicted_through(&self) -> u64 {
        self.inner.lock().map(|i| i.evicted_through).unwrap_or(0)
    }

    /// The current watermark (see [`Journal::snapshot`]).
    pub fn watermark(&self) -> u64 {
        self.inner.lock().map_or(0, |inner| watermark(&inner))
    }

    pub fn stats(&self) -> Stats {
        match self.inner.lock() {
            Ok(inner) => Stats {
                entries: inner.entries.len(),
                bytes: inner.bytes,
            },
            Err(_) => Stats {
                entries: 0,
                bytes: 0,
            },
        }
    }

    /// Forgets every entry and gives their memory back (the deque's allocation included);
    /// sequence numbers keep rising so followers never see one reused.
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.entries = VecDeque::new();
            inner.bytes = 0;
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Completed> {
        self.live.subscribe()
    }

    /// Puts back entries read from the state dir (oldest first) in place of what it holds, and
    /// moves the sequence numbers on past them and past `next_sequence`, so numbers given out
    /// before the restart are never reused.
    pub fn restore(&self, entries: Vec<Entry>, next_sequence: u64, evicted_through: u64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let mut kept: VecDeque<(usize, Arc<Entry>)> = entries
            .into_iter()
            .map(|e| (e.bytes(), Arc::new(e)))
            .collect();
        kept.make_contiguous().sort_by_key(|(_, e)| e.sequence);
        let last = kept.back().map_or(0, |(_, e)| e.sequence);
        let mut bytes: usize = kept.iter().map(|(size, _)| size).sum();
        let mut evicted = evicted_through;
        while kept.len() > self.capacity || (bytes > self.max_bytes && kept.len() > 1) {
            if let Some((size, old)) = kept.pop_front() {
                bytes = bytes.saturating_sub(size);
                evicted = evicted.max(old.sequence);
            }
        }
        inner.entries = kept;
        inner.bytes = bytes;
        inner.evicted_through = inner.evicted_through.max(evicted);
        inner.next_sequence = inner
            .next_sequence
            .max(next_sequence)
            .max(last.saturating_add(1));
    }
}

fn watermark(inner: &Inner) -> u64 {
    match inner.pending.front() {
        Some(first) => first - 1,
        None => inner.next_sequence - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_ordered() {
        let j = Journal::new(3, usize::MAX);
        for i in 0..5 {
            j.record(Entry {
                path: format!("/{i}"),
                ..Default::default()
            });
        }
        let all = j.since(0);
        assert_eq!(all.len(), 3);
        assert_eq!(
            all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(j.since(4).len(), 1);
        assert_eq!(j.evicted_through(), 2);
        j.clear();
        assert!(j.since(0).is_empty());
        assert_eq!(j.stats().bytes, 0);
        assert_eq!(j.record(Entry::default()), 6);
    }

    #[test]
    fn entries_are_ordered_by_arrival_and_the_watermark_waits_for_the_oldest() {
        let j = Journal::new(10, usize::MAX);
        let first = j.begin();
        let second = j.begin();
        let abandoned = j.begin();
        assert_eq!(j.watermark(), 0);
        j.complete(second, Entry::default());
        assert_eq!(j.watermark(), 0, "the first request is still open");
        j.complete(first, Entry::default());
        assert_eq!(j.watermark(), 2);
        drop(abandoned);
        assert_eq!(j.watermark(), 3);
        let seqs: Vec<u64> = j.since(0).iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, vec![1, 2]);
    }

    #[test]
    fn the_byte_bound_evicts_the_oldest() {
        let big = vec![b'x'; 100_000];
        let one = Entry {
            response_body: bounded_body(&big),
            ..Default::default()
        }
        .bytes();
        let j = Journal::new(1000, one * 3);
        for _ in 0..10 {
            j.record(Entry {
                response_body: bounded_body(&big),
                ..Default::default()
            });
        }
        let stats = j.stats();
        assert_eq!(stats.entries, 3);
        assert!(stats.bytes <= one * 3, "{stats:?}");
        assert_eq!(j.since(0)[0].sequence, 8);
    }

    #[test]
    fn bodies_are_cut_at_a_char_boundary() {
        let long = "é".repeat(BODY_LIMIT);
        let cut = bounded_body(long.as_bytes()).unwrap_or_default().text();
        assert!(cut.contains("bytes in all"), "{cut}");
        assert!(cut.starts_with("éé"));
        assert!(bounded_body(b"").is_none());
        let short = bounded_bytes(&Bytes::from_static(b"{\"a\":1}")).unwrap_or_default();
        assert_eq!(short.text(), "{\"a\":1}");
    }

    #[test]
    fn copied_headers_keep_order_repeats_and_any_case_lookup() {
        let mut h = http::HeaderMap::new();
        h.append("x-request-id", http::HeaderValue::from_static("abc"));
        h.append("ssp-from", http::HeaderValue::from_static("200000000359"));
        h.append("ssp-from", http::HeaderValue::from_static("918999198993"));
        h.append(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer x.y.z"),
        );
        h.append("x-empty", http::HeaderValue::from_static(""));
        let copy = Headers::copy_of(&h);
        assert_eq!(copy.get("X-Request-ID"), Some("abc"));
        assert_eq!(copy.get("x-empty"), Some(""));
        assert_eq!(copy.get("missing"), None);
        assert_eq!(copy.all("Ssp-From"), ["200000000359", "918999198993"]);
        let shown = serde_json::to_value(&copy).unwrap_or_default();
        assert_eq!(shown[1], serde_json::json!(["ssp-from", "200000000359"]));
        assert_eq!(shown[2], serde_json::json!(["ssp-from", "918999198993"]));
        assert_eq!(
            shown[3],
            serde_json::json!(["authorization", "Bearer x.y.z"])
        );
        let (ssp, jwt) = copy.shown();
        assert_eq!(
            jwt.0.as_ref().map(http::HeaderValue::as_bytes),
            Some(&b"Bearer x.y.z"[..])
        );
        assert_eq!(
            ssp.from.as_deref(),
            Some("200000000359"),
            "the first of a repeat"
        );
        assert_eq!((ssp.to, ssp.trace_id, ssp.interaction), (None, None, None));
        assert_eq!(Headers::copy_of(&http::HeaderMap::new()).all("a").len(), 0);
        // Read back from the state dir's pairs, the same.
        let back = Headers::from_pairs(&copy.pairs());
        assert_eq!(serde_json::to_value(&back).unwrap_or_default(), shown);
        assert_eq!(back.bytes(), copy.bytes());
    }
}
