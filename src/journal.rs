//! The journal: every exchange PDS, SDS, SSP and the providers see, oldest first
//! (`shared/design/contract.md` section 2, `GET /_admin/journal`).
//!
//! Bounded (the oldest entries fall off), ordered (sequence numbers are handed out under the same
//! lock that appends) and shared by every service. Followers subscribe to a broadcast channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

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
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    /// The decoded GP Connect JWT, when the request carried one that could be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<serde_json::Value>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
}

/// Cuts a body to [`BODY_LIMIT`] bytes at a character boundary, marking the cut.
pub fn bounded_body(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    // `from_utf8` validates a word at a time; the lossy path (byte by byte) only for bad input.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    if text.len() <= BODY_LIMIT {
        return Some(text.into_owned());
    }
    let mut end = BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!(
        "{}… [{} bytes in all, cut at {}]",
        &text[..end],
        bytes.len(),
        end
    ))
}

/// Headers as name/value pairs, with `Authorization` reduced to its scheme (the JWT is decoded
/// separately into [`Entry::jwt`]).
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
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

/// The decoded claims (and header) of the request's bearer JWT, for display.
pub fn decoded_jwt(headers: &http::HeaderMap) -> Option<serde_json::Value> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = crate::jwt::bearer_token(value)?;
    let decoded = crate::jwt::decode(token).ok()?;
    Some(serde_json::json!({ "header": decoded.header, "claims": decoded.claims }))
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
        let cut = bounded_body(long.as_bytes()).unwrap_or_default();
        assert!(cut.contains("bytes in all"));
        assert_eq!(bounded_body(b""), None);
    }
}
