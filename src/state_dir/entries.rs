//! Journal entries as the state dir keeps them: every field as text, bodies as the bytes the
//! journal kept (text when they are UTF-8, base64 otherwise) with their whole length.

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::journal::{self, BodyText, Entry, Headers};

/// The services the journal names (an entry's `service`).
const SERVICES: [&str; 5] = ["pds", "sds", "ssp", "provider", "oauth"];

/// A body: `text` when it is UTF-8, else `base64`; `total` is its whole length when the journal
/// kept only its head.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    pub total: usize,
}

impl SavedBody {
    pub(crate) fn of(kept: &[u8], total: usize) -> Self {
        match std::str::from_utf8(kept) {
            Ok(text) => Self {
                text: Some(text.to_owned()),
                base64: None,
                total,
            },
            Err(_) => Self {
                text: None,
                base64: Some(base64::engine::general_purpose::STANDARD.encode(kept)),
                total,
            },
        }
    }

    /// The bytes; base64 that does not decode gives none (reported by [`SavedEntry::to_entry`]).
    pub(crate) fn bytes(&self) -> Bytes {
        self.try_bytes().unwrap_or_default()
    }

    fn try_bytes(&self) -> Result<Bytes, String> {
        match (&self.text, &self.base64) {
            (Some(text), None) => Ok(Bytes::from(text.clone().into_bytes())),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(Bytes::from)
                .map_err(|e| format!("base64 does not decode: {e}")),
            (None, None) => Ok(Bytes::new()),
            (Some(_), Some(_)) => Err("has both text and base64; keep one".into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedEntry {
    pub sequence: u64,
    pub time: chrono::DateTime<chrono::Utc>,
    pub service: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_asid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_asid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default)]
    pub request_headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<SavedBody>,
    #[serde(default)]
    pub response_headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<SavedBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_asid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

fn saved_body(body: &Option<BodyText>) -> Option<SavedBody> {
    body.as_ref().map(|b| {
        let (kept, total) = b.parts();
        SavedBody::of(&kept, total)
    })
}

fn body_text(body: &Option<SavedBody>, which: &str) -> Result<Option<BodyText>, String> {
    body.as_ref()
        .map(|b| {
            b.try_bytes()
                .map(|bytes| BodyText::from_parts(bytes, b.total))
                .map_err(|e| format!("{which}: {e}"))
        })
        .transpose()
}

impl SavedEntry {
    pub(crate) fn of(e: &Entry) -> Self {
        Self {
            sequence: e.sequence,
            time: e.time,
            service: e.service.to_owned(),
            method: e.method.as_str().to_owned(),
            path: e.path.clone(),
            status: e.status,
            duration_ms: e.duration_ms,
            trace_id: e.trace_id.clone(),
            from_asid: e.from_asid.clone(),
            to_asid: e.to_asid.clone(),
            interaction: e.interaction.clone(),
            refusal: e.refusal.clone(),
            target: e.target.clone(),
            request_headers: e.request_headers.pairs(),
            request_body: saved_body(&e.request_body),
            response_headers: e.response_headers.pairs(),
            response_body: saved_body(&e.response_body),
            client_asid: e.client_asid.clone(),
            documents: e.documents.as_ref().map(|d| d.to_vec()),
            fault: e.fault.clone(),
        }
    }

    /// The journal entry, or what is wrong with this one.
    pub(crate) fn to_entry(&self) -> Result<Entry, String> {
        let service = SERVICES
            .iter()
            .copied()
            .find(|s| *s == self.service)
            .ok_or_else(|| {
                format!(
                    "service '{}' is not one of {}",
                    self.service,
                    SERVICES.join(", ")
                )
            })?;
        let method = http::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("method '{}' is not an HTTP method", self.method))?;
        let request_headers = Headers::from_pairs(&self.request_headers);
        Ok(Entry {
            sequence: self.sequence,
            time: self.time,
            service,
            method,
            path: self.path.clone(),
            status: self.status,
            duration_ms: self.duration_ms,
            trace_id: self.trace_id.clone(),
            from_asid: self.from_asid.clone(),
            to_asid: self.to_asid.clone(),
            interaction: self.interaction.clone(),
            refusal: self.refusal.clone(),
            target: self.target.clone(),
            jwt: journal::jwt_of(&request_headers),
            request_headers,
            request_body: body_text(&self.request_body, "request_body")?,
            response_headers: Headers::from_pairs(&self.response_headers),
            response_body: body_text(&self.response_body, "response_body")?,
            client_asid: self.client_asid.clone(),
            documents: self.documents.clone().map(Into::into),
            fault: self.fault.clone(),
        })
    }
}
