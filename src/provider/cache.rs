//! The migrate Bundle, serialised once and answered many times.
//!
//! A migrate Bundle depends on the world (fixed while the sandbox runs), the practice, the
//! patient, `includeSensitiveInformation`, the patient's PDS record and the request's trace id,
//! which is `Bundle.id`. Consumer load tests and training rooms ask for the same few records
//! again and again, so the bytes are kept per (practice, patient, sensitivity), stamped with the
//! patient's PDS version and the reset epoch, and a request gets the kept bytes with its own
//! trace id written in.
//!
//! The Bundle is built with a placeholder where the trace id goes and cut into pieces at every
//! occurrence; an answer is the pieces joined by the JSON-escaped trace id. Every fill builds the
//! Bundle a second time with a placeholder of another length and checks that joining the pieces
//! gives exactly those bytes, so a Bundle that used the trace id in any other way (a hash, a
//! length) or was not a pure function of its inputs is never cached: the cache then steps aside
//! and every request builds its own Bundle.
//!
//! The budget is in bytes (`migrate_cache_max_bytes`; 0 turns the cache off), the least
//! recently used Bundles leave first, and a Bundle larger than the whole budget is never kept.
//! A PDS update changes the patient's version and a reset the epoch, so the stale bytes are
//! never answered; they are replaced at the next request.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::http::Pieces;
use crate::journal::BODY_LIMIT;

#[cfg(test)]
/// 256 MiB: the shipped scenarios' Bundles, both sensitivity choices, take a few MB.
pub(crate) const DEFAULT_MAX_BYTES: u64 = crate::config::DEFAULT_MIGRATE_CACHE_MAX_BYTES;

/// What each kept Bundle costs beyond its bytes (key, slot, order entry, piece handles).
const ENTRY_OVERHEAD: usize = 256;

/// Which Bundle: the same key always means the same Bundle, given the same [`Stamp`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// ODS code of the practice answering.
    pub practice: String,
    pub nhs_number: String,
    pub include_sensitive: bool,
}

/// What a Bundle also depends on that changes while the sandbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    pds_version: Option<u64>,
    epoch: u64,
}

/// A serialised Bundle cut where the trace id goes: `pieces.len() - 1` places. Each piece is
/// its first [`BODY_LIMIT`] bytes in a buffer of their own, then (if longer) a view of the rest,
/// so the journal can keep an answer's head without a copy and without keeping the Bundle.
#[derive(Debug)]
struct Template {
    pieces: Vec<Vec<Bytes>>,
    /// The bytes the template holds: the copies of the pieces' heads, and the Bundle if it is
    /// longer than them.
    held: usize,
}

impl Template {
    fn split(bytes: Vec<u8>, placeholder: &str) -> Self {
        let len = bytes.len();
        let whole = Bytes::from(bytes);
        let needle = placeholder.as_bytes();
        let mut pieces = Vec::with_capacity(2);
        let mut start = 0;
        let mut at = 0;
        while let Some(found) = find(&whole[at..], needle) {
            let hit = at + found;
            pieces.push(whole.slice(start..hit));
            start = hit + needle.len();
            at = start;
        }
        pieces.push(whole.slice(start..));
        let pieces: Vec<Vec<Bytes>> = pieces
            .into_iter()
            .map(|piece| {
                let cut = piece.len().min(BODY_LIMIT);
                let head = Bytes::copy_from_slice(&piece[..cut]);
                if cut == piece.len() {
                    vec![head]
                } else {
                    vec![head, piece.slice(cut..)]
                }
            })
            .collect();
        let heads: usize = pieces.iter().map(|p| p[0].len()).sum();
        // The serialised Bundle stays alive only through the views of the pieces' rests.
        let rests = pieces.iter().any(|p| p.len() > 1);
        Self {
            held: heads + if rests { len } else { 0 },
            pieces,
        }
    }

    /// The Bundle with `trace_id` in every place, as the kept pieces with the escaped id
    /// between them: no copy of the Bundle.
    fn render(&self, trace_id: &str) -> Pieces {
        let escaped = (self.pieces.len() > 1).then(|| Bytes::from(json_string_content(trace_id)));
        let mut out = Vec::with_capacity(self.pieces.len() * 3);
        for (n, parts) in self.pieces.iter().enumerate() {
            if n > 0
                && let Some(escaped) = &escaped
            {
                out.push(escaped.clone());
            }
            out.extend(parts.iter().cloned());
        }
        Pieces::Kept(out)
    }

    fn cost(&self, key: &Key) -> usize {
        self.held + key.practice.len() + key.nhs_number.len() + ENTRY_OVERHEAD
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// What serde_json writes between the quotes for `s`.
fn json_string_content(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .map(str::to_owned)
        .unwrap_or_default()
}

struct Slot {
    stamp: Stamp,
    template: Arc<Template>,
    tick: u64,
    cost: usize,
}

#[derive(Default)]
struct State {
    slots: HashMap<Key, Slot>,
    /// Last use → key, oldest first.
    order: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
}

impl State {
    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.slots.remove(key) {
            self.order.remove(&old.tick);
            self.bytes -= old.cost;
        }
    }
}

/// Figures for tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
}

struct Inner {
    max_bytes: usize,
    epoch: AtomicU64,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Set when a Bundle failed the fill check: from then on every request builds its own.
    stepped_aside: AtomicBool,
    placeholders: [String; 2],
}

/// Shared by every request of one sandbox; cheap to clone.
#[derive(Clone)]
pub struct MigrateCache {
    inner: Arc<Inner>,
}

impl MigrateCache {
    /// A cache holding at most `max_bytes` of Bundles; 0 keeps none.
    pub fn new(max_bytes: u64) -> Self {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        Self {
            inner: Arc::new(Inner {
                max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
                epoch: AtomicU64::new(0),
                state: Mutex::new(State::default()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                stepped_aside: AtomicBool::new(false),
                // Different lengths, so a Bundle that depends on the id's length fails the check.
                placeholders: [
                    format!("spine-sandbox-bundle-id-{nonce}"),
                    format!("other-bundle-id-{nonce}-for-the-check"),
                ],
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The world's state was reset: nothing kept so far may be answered again.
    pub fn reset(&self) {
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state();
        state.slots.clear();
        state.order.clear();
        state.bytes = 0;
    }

    pub fn stats(&self) -> Stats {
        let state = self.state();
        Stats {
            entries: state.slots.len(),
            bytes: state.bytes,
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
        }
    }

    /// The Bundle for `key` with `trace_id` as its id. `pds_version` reads the patient's
    /// current PDS version; `build` serialises the Bundle with the id it is given.
    pub fn bundle(
        &self,
        key: Key,
        pds_version: impl Fn() -> Option<u64>,
        trace_id: &str,
        build: impl Fn(&str) -> Vec<u8>,
    ) -> Pieces {
        if self.inner.max_bytes == 0 || self.inner.stepped_aside.load(Ordering::Relaxed) {
            return Pieces::One(Bytes::from(build(trace_id)));
        }
        let stamp = Stamp {
            epoch: self.inner.epoch.load(Ordering::SeqCst),
            pds_version: pds_version(),
        };
        if let Some(template) = self.lookup(&key, stamp) {
            self.inner.hits.fetch_add(1, Ordering::Relaxed);
            return template.render(trace_id);
        }
        self.inner.misses.fetch_add(1, Ordering::Relaxed);
        let [first, second] = &self.inner.placeholders;
        let template = Template::split(build(first), first);
        if template.render(second).joined() != build(second) {
            if !self.inner.stepped_aside.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    practice = %key.practice,
                    nhs_number = %key.nhs_number,
                    "The migrate Bundle is not the same bytes apart from its id; Bundles will be built for every request."
                );
            }
            return Pieces::One(Bytes::from(build(trace_id)));
        }
        let answer = template.render(trace_id);
        // Kept only if nothing it depends on changed while it was built.
        let now = Stamp {
            epoch: self.inner.epoch.load(Ordering::SeqCst),
            pds_version: pds_version(),
        };
        if now == stamp {
            self.insert(key, stamp, template);
        }
        answer
    }

    fn lookup(&self, key: &Key, stamp: Stamp) -> Option<Arc<Template>> {
        let mut state = self.state();
        state.tick += 1;
        let tick = state.tick;
        let slot = state.slots.get_mut(key)?;
        if slot.stamp != stamp {
            return None;
        }
        let old = std::mem::replace(&mut slot.tick, tick);
        let template = slot.template.clone();
        state.order.remove(&old);
        state.order.insert(tick, key.clone());
        Some(template)
    }

    fn insert(&self, key: Key, stamp: Stamp, template: Template) {
        let cost = template.cost(&key);
        if cost > self.inner.max_bytes {
            return;
        }
        let mut state = self.state();
        // A reset between the check above and this lock must not let old bytes in.
        if self.inner.epoch.load(Ordering::SeqCst) != stamp.epoch {
            return;
        }
        state.remove(&key);
        while state.bytes + cost > self.inner.max_bytes {
            let Some((_, oldest)) = state.order.pop_first() else {
                break;
            };
            state.remove(&oldest);
        }
        state.tick += 1;
        let tick = state.tick;
        state.order.insert(tick, key.clone());
        state.bytes += cost;
        state.slots.insert(
            key,
            Slot {
                stamp,
                template: Arc::new(template),
                tick,
                cost,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn key(nhs: &str) -> Key {
        Key {
            practice: "B82617".into(),
            nhs_number: nhs.into(),
            include_sensitive: false,
        }
    }

    fn bundle_of(size: usize) -> impl Fn(&str) -> Vec<u8> {
        move |id: &str| {
            let mut out = format!("{{\"id\":\"{id}\",\"x\":\"").into_bytes();
            out.resize(out.len() + size, b'a');
            out.extend_from_slice(b"\"}");
            out
        }
    }

    #[test]
    fn an_answer_is_the_built_bundle_with_the_trace_id_written_in() {
        let cache = MigrateCache::new(1 << 20);
        let build = |id: &str| format!("{{\"id\":\"{id}\",\"note\":\"{id}\"}}").into_bytes();
        for trace in ["a", "5b1a6fbc-5f44-4d68-a9e2-1d1a2b0f8f5e", "q\"uo\\te"] {
            let got = cache.bundle(key("1"), || Some(1), trace, build).joined();
            let escaped = json_string_content(trace);
            assert_eq!(got, build(&escaped), "{trace}");
        }
        assert_eq!(cache.stats().misses, 1);
        assert_eq!(cache.stats().hits, 2);
    }

    #[test]
    fn the_head_of_an_answer_is_in_small_buffers_of_its_own() {
        let cache = MigrateCache::new(1 << 22);
        let filler = "x".repeat(3 * BODY_LIMIT);
        let build = |id: &str| {
            format!("{{\"id\":\"{id}\",\"a\":\"{filler}\",\"b\":\"{id}\",\"c\":\"{filler}\"}}")
                .into_bytes()
        };
        let trace = "5b1a6fbc-5f44-4d68-a9e2-1d1a2b0f8f5e";
        let _ = cache.bundle(key("1"), || Some(1), trace, build);
        let answer = cache.bundle(key("1"), || Some(1), trace, build);
        assert_eq!(answer.joined(), build(trace));
        assert!(matches!(answer, Pieces::Kept(_)));
        let stamp = Stamp {
            epoch: cache.inner.epoch.load(Ordering::SeqCst),
            pds_version: Some(1),
        };
        let template = cache.lookup(&key("1"), stamp).unwrap();
        let heads: Vec<&Bytes> = template.pieces.iter().map(|p| &p[0]).collect();
        assert!(heads.iter().all(|h| h.len() <= BODY_LIMIT));
        let within = |part: &Bytes| {
            let at = part.as_ptr() as usize;
            heads.iter().any(|h| {
                let start = h.as_ptr() as usize;
                at >= start && at + part.len() <= start + h.len()
            })
        };
        let head = answer.head(BODY_LIMIT);
        assert_eq!(head.iter().map(Bytes::len).sum::<usize>(), BODY_LIMIT);
        for part in &head {
            assert!(
                within(part) || part == trace.as_bytes(),
                "{} bytes",
                part.len()
            );
        }
    }

    #[test]
    fn a_bundle_that_uses_the_id_otherwise_is_not_cached() {
        let cache = MigrateCache::new(1 << 20);
        let build = |id: &str| format!("{{\"id\":\"{id}\",\"n\":{}}}", id.len()).into_bytes();
        for trace in ["ab", "abcdef"] {
            assert_eq!(
                cache.bundle(key("1"), || Some(1), trace, build).joined(),
                build(trace)
            );
        }
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn a_new_pds_version_or_a_reset_builds_again() {
        let cache = MigrateCache::new(1 << 20);
        let builds = AtomicUsize::new(0);
        let version = AtomicU64::new(1);
        let build = |id: &str| {
            builds.fetch_add(1, Ordering::SeqCst);
            format!(
                "{{\"id\":\"{id}\",\"v\":{}}}",
                version.load(Ordering::SeqCst)
            )
            .into_bytes()
        };
        let get = || {
            cache
                .bundle(
                    key("1"),
                    || Some(version.load(Ordering::SeqCst)),
                    "t",
                    build,
                )
                .joined()
        };
        assert_eq!(get(), Bytes::from_static(b"{\"id\":\"t\",\"v\":1}"));
        let after_fill = builds.load(Ordering::SeqCst);
        assert_eq!(get(), Bytes::from_static(b"{\"id\":\"t\",\"v\":1}"));
        assert_eq!(
            builds.load(Ordering::SeqCst),
            after_fill,
            "a hit builds nothing"
        );
        version.store(2, Ordering::SeqCst);
        assert_eq!(get(), Bytes::from_static(b"{\"id\":\"t\",\"v\":2}"));
        assert_eq!(cache.stats().entries, 1, "the old version was replaced");
        let before_reset = builds.load(Ordering::SeqCst);
        cache.reset();
        assert_eq!(cache.stats().entries, 0);
        get();
        assert!(builds.load(Ordering::SeqCst) > before_reset);
    }

    #[test]
    fn the_budget_in_bytes_evicts_the_least_recently_used() {
        let size = 1000;
        let one = size + 20 + 6 + 1 + ENTRY_OVERHEAD;
        let cache = MigrateCache::new((3 * one) as u64);
        let get = |nhs: &str| cache.bundle(key(nhs), || Some(1), "t", bundle_of(size));
        get("1");
        get("2");
        get("3");
        assert_eq!(cache.stats().entries, 3);
        assert!(cache.stats().bytes <= 3 * one);
        get("1"); // now "2" is the least recently used
        get("4");
        let misses = cache.stats().misses;
        get("1");
        get("3");
        get("4");
        assert_eq!(cache.stats().misses, misses, "1, 3 and 4 are kept");
        get("2");
        assert_eq!(cache.stats().misses, misses + 1, "2 was evicted");
        assert!(cache.stats().bytes <= 3 * one);
    }

    #[test]
    fn zero_bytes_or_a_bundle_larger_than_the_budget_keeps_nothing() {
        let off = MigrateCache::new(0);
        off.bundle(key("1"), || Some(1), "t", bundle_of(10));
        assert_eq!(off.stats().entries, 0);
        let small = MigrateCache::new(100);
        let got = small
            .bundle(key("1"), || Some(1), "t", bundle_of(1000))
            .joined();
        assert_eq!(got, Bytes::from(bundle_of(1000)("t")));
        assert_eq!(small.stats().entries, 0);
    }

    #[test]
    fn find_locates_every_placeholder() {
        let t = Template::split(b"ab-XX-cd-XX".to_vec(), "XX");
        assert_eq!(t.pieces.len(), 3);
        assert_eq!(t.render("id").joined(), Bytes::from_static(b"ab-id-cd-id"));
        assert_eq!(t.render("id").prefix(4), b"ab-i");
        assert_eq!(find(b"aaab", b"ab"), Some(2));
        assert_eq!(find(b"a", b"ab"), None);
    }
}
