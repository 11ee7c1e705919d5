//! The last migrate and retrieve Bundles the providers delivered, kept whole so the web page can show the
//! record a consumer received. Bounded by count and by bytes; the oldest go first. Bodies are
//! kept as answered, in shared pieces, so keeping one costs no copy.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Attached by the provider to a migrate it answered 200: what the journal entry and the
/// record view need without parsing the Bundle again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub patient: String,
    /// ODS code of the requesting (new) practice, from the JWT.
    pub requesting_ods: String,
    /// The practice the record came from.
    pub provider_ods: String,
    pub sensitive: bool,
    /// `DocumentReference.content[0].attachment.url` of every document in the Bundle (shared
    /// with the journal entry and the kept delivery).
    pub documents: Arc<[String]>,
    /// A retrieve's top-level parameters (`includeAllergies`, ...); `None` for a migrate.
    pub areas: Option<Vec<String>>,
}

/// One kept Bundle, as listed by `GET /_admin/records`.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The journal entry of the provider's answer.
    pub sequence: u64,
    pub time: String,
    pub patient: String,
    pub requesting_ods: String,
    pub provider_ods: String,
    pub sensitive: bool,
    pub documents: usize,
    pub bytes: usize,
    /// A retrieve's top-level parameters: the areas asked for (absent for a migrate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub areas: Option<Vec<String>>,
    /// As answered, in pieces (joined only when the record view asks for it).
    #[serde(skip)]
    pub bundle: crate::http::Pieces,
    /// The Binary URLs the Bundle listed: only these may be opened from the record view.
    #[serde(skip)]
    pub document_urls: Arc<[String]>,
}

/// At most this many Bundles are kept...
pub(crate) const MAX_BUNDLES: usize = 16;
/// ...and at most this many bytes of them (the newest is always kept).
pub(crate) const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone, Default)]
pub struct Deliveries {
    kept: Arc<Mutex<VecDeque<Delivery>>>,
}

impl Deliveries {
    pub fn keep(
        &self,
        sequence: u64,
        time: String,
        delivered: Delivered,
        bundle: impl Into<crate::http::Pieces>,
    ) {
        let bundle = bundle.into();
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        kept.push_back(Delivery {
            sequence,
            time,
            documents: delivered.documents.len(),
            patient: delivered.patient,
            requesting_ods: delivered.requesting_ods,
            provider_ods: delivered.provider_ods,
            sensitive: delivered.sensitive,
            areas: delivered.areas,
            bytes: bundle.len(),
            bundle,
            document_urls: delivered.documents,
        });
        let mut total: usize = kept.iter().map(|d| d.bytes).sum();
        while kept.len() > 1 && (kept.len() > MAX_BUNDLES || total > MAX_BYTES) {
            if let Some(old) = kept.pop_front() {
                total -= old.bytes;
            }
        }
    }

    /// Newest first.
    pub fn list(&self) -> Vec<Delivery> {
        self.kept
            .lock()
            .map(|k| k.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    pub fn get(&self, sequence: u64) -> Option<Delivery> {
        self.kept
            .lock()
            .ok()?
            .iter()
            .find(|d| d.sequence == sequence)
            .cloned()
    }

    pub fn clear(&self) {
        if let Ok(mut k) = self.kept.lock() {
            k.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn delivered(patient: &str) -> Delivered {
        Delivered {
            patient: patient.into(),
            requesting_ods: "A1".into(),
            provider_ods: "B1".into(),
            sensitive: false,
            documents: Arc::from(vec!["u".to_owned()]),
            areas: None,
        }
    }

    #[test]
    fn bounded_by_count_newest_first() {
        let d = Deliveries::default();
        for i in 0..(MAX_BUNDLES as u64 + 3) {
            d.keep(i, String::new(), delivered("p"), Bytes::from_static(b"{}"));
        }
        let list = d.list();
        assert_eq!(list.len(), MAX_BUNDLES);
        assert_eq!(list[0].sequence, MAX_BUNDLES as u64 + 2);
        assert!(d.get(0).is_none());
        assert_eq!(d.get(5).map(|x| x.documents), Some(1));
        d.clear();
        assert!(d.list().is_empty());
    }

    #[test]
    fn bounded_by_bytes_but_keeps_the_newest() {
        let d = Deliveries::default();
        let big = Bytes::from(vec![b' '; MAX_BYTES / 2 + 1]);
        d.keep(1, String::new(), delivered("p"), big.clone());
        d.keep(2, String::new(), delivered("p"), big.clone());
        assert_eq!(d.list().len(), 1);
        d.keep(
            3,
            String::new(),
            delivered("p"),
            Bytes::from(vec![b' '; MAX_BYTES + 1]),
        );
        assert_eq!(d.list()[0].sequence, 3);
    }
}
