//! The journal: every exchange PDS, SDS, SSP and the providers see, oldest first
//! (`shared/design/contract.md` section 2, `GET /_admin/journal`).
//!
//! Bounded (the oldest entries fall off), ordered (sequence numbers are handed out under the same
//! lock that appends) and shared by every service. Followers subscribe to a broadcast channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

/// Bodies kept per entry are cut at this many bytes, so a 5,000-item record does not eat memory.
pub const BODY_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Entry {
    pub sequence: u64,
    /// RFC 3339 time the request arrived.
    pub time: String,
    /// `pds`, `sds`, `ssp`, `provider`.
    pub service: &'static str,
    pub method: String,
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
    /// The fault injected into this exchange (`POST /_admin/faults`, scenario `faults:`), so
    /// nobody mistakes a rehearsed outage for a bug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A body as kept in an entry: at most [`BODY_LIMIT`] bytes of it, turned into text only when
/// the journal is read (recording stays cheap on the request path).
#[derive(Debug, Clone, Default)]
pub struct BodyText {
    kept: Bytes,
    total: usize,
}

impl BodyText {
    /// The text shown: the body, or its first [`BODY_LIMIT`] bytes cut at a character boundary
    /// with a note saying so.
    pub fn text(&self) -> String {
        let text = match std::str::from_utf8(&self.kept) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(e) if self.total > self.kept.len() && e.error_len().is_none() => {
                // The cut fell inside a character: drop its first bytes.
                String::from_utf8_lossy(&self.kept[..e.valid_up_to()])
            }
            Err(_) => String::from_utf8_lossy(&self.kept),
        };
        if self.total <= self.kept.len() {
            return text.into_owned();
        }
        format!(
            "{text}… [{} bytes in all, cut at {}]",
            self.total,
            text.len()
        )
    }
}

impl Serialize for BodyText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// Keeps the first [`BODY_LIMIT`] bytes of a body (a reference, not a copy).
pub fn bounded_bytes(bytes: &Bytes) -> Option<BodyText> {
    (!bytes.is_empty()).then(|| BodyText {
        kept: bytes.slice(..bytes.len().min(BODY_LIMIT)),
        total: bytes.len(),
    })
}

/// [`bounded_bytes`] for a borrowed body (copies at most [`BODY_LIMIT`] bytes).
pub fn bounded_body(bytes: &[u8]) -> Option<BodyText> {
    (!bytes.is_empty()).then(|| BodyText {
        kept: Bytes::copy_from_slice(&bytes[..bytes.len().min(BODY_LIMIT)]),
        total: bytes.len(),
    })
}

/// Headers as received (cheap to clone: values share the connection's buffers), shown as
/// `[name, value]` pairs.
#[derive(Debug, Clone, Default)]
pub struct Headers(http::HeaderMap);

impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            seq.serialize_element(&(name.as_str(), String::from_utf8_lossy(value.as_bytes())))?;
        }
        seq.end()
    }
}

pub fn header_pairs(headers: &http::HeaderMap) -> Headers {
    Headers(headers.clone())
}

impl From<http::HeaderMap> for Headers {
    fn from(headers: http::HeaderMap) -> Self {
        Self(headers)
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

/// The request's `Authorization` header, kept so its JWT can be shown decoded.
pub fn decoded_jwt(headers: &http::HeaderMap) -> Jwt {
    Jwt(headers.get(http::header::AUTHORIZATION).cloned())
}

struct Inner {
    entries: VecDeque<Arc<Entry>>,
    next_sequence: u64,
}

#[derive(Clone)]
pub struct Journal {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    live: broadcast::Sender<Arc<Entry>>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        let (live, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: VecDeque::new(),
                next_sequence: 1,
            })),
            capacity: capacity.max(1),
            live,
        }
    }

    /// Appends an entry, giving it the next sequence number; returns that number.
    pub fn record(&self, mut entry: Entry) -> u64 {
        let Ok(mut inner) = self.inner.lock() else {
            return 0;
        };
        entry.sequence = inner.next_sequence;
        inner.next_sequence += 1;
        let entry = Arc::new(entry);
        if inner.entries.len() == self.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry.clone());
        let seq = entry.sequence;
        // Sent under the lock so followers see entries in sequence order.
        let _ = self.live.send(entry);
        seq
    }

    /// Entries with a sequence number greater than `since` (all when 0), oldest first.
    pub fn since(&self, since: u64) -> Vec<Arc<Entry>> {
        match self.inner.lock() {
            Ok(inner) => inner
                .entries
                .iter()
                .filter(|e| e.sequence > since)
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Forgets every entry; sequence numbers keep rising so followers never see one reused.
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.entries.clear();
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Entry>> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_ordered() {
        let j = Journal::new(3);
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
        j.clear();
        assert!(j.since(0).is_empty());
        assert_eq!(j.record(Entry::default()), 6);
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
}
