//! Migrate a document: `GET [documents]/Binary/{id}` (`docs/documents.md`). The id is the
//! one the migrate Bundle put in `DocumentReference.content[0].attachment.url`
//! ([`super::record::binary_id`]). No size limit; the content is base64 in a FHIR `Binary`. A
//! generated document (scenario `size:`) is encoded piece by piece as it is sent, so a 250 MB
//! document costs no more memory than a small one.
//!
//! Ladder: headers (interaction `...:documents:fhir:rest:migrate:binary-1`) -> JWT (`directcare`
//! as the suite sends it, or `migration`; `patient/*.read`) -> the document (404
//! `NO_RECORD_FOUND`) -> a confidential document needs `conf/R` (403 `NOT_AUTHORISED`) -> the
//! requesting ODS is the patient's registered practice on PDS (403 `NOT_AUTHORISED`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};

use super::Provider;
use super::headers;
use crate::fhir::{FHIR_JSON, FhirError};
use crate::http::{Pieces, Source};
use crate::identifiers::interactions;
use crate::jwt::{Claims, Confidentiality, Rules};
use crate::pds::PdsStore;
use crate::scenario::{Document, Patient, Practice};

pub(crate) fn handle(
    provider: &Provider,
    practice: &Practice,
    req: &Request<Bytes>,
    id: &str,
) -> Result<Response<Pieces>, FhirError> {
    let ssp = headers::check_ssp_headers(req.headers())?;
    headers::check_interaction(
        &ssp,
        req.method(),
        req.uri().path(),
        interactions::MIGRATE_DOCUMENT,
    )?;
    headers::check_addressee(&ssp, practice)?;
    headers::check_accept(req)?;
    let claims = headers::authorise(
        req.headers(),
        provider.clock.now(),
        &Rules::MIGRATE_DOCUMENT,
    )?;
    let (patient, document) = super::record::find_document(&provider.world, practice, id)?;
    check_confidentiality(document, &claims)?;
    match req
        .extensions()
        .get::<super::remote_pds::RemoteRegistration>()
    {
        Some(remote) if remote.nhs_number == patient.nhs_number.as_str() => {
            let registered = remote.registered.clone().ok().flatten();
            if registered.as_deref() != Some(claims.requesting_ods.as_str()) {
                return Err(FhirError::not_authorised(format!(
                    "JWT requesting_organization is {}, but PDS ({}) has the document's patient {} registered at {}",
                    claims.requesting_ods,
                    remote.url,
                    remote.nhs_number,
                    registered
                        .as_deref()
                        .unwrap_or("no practice (or could not be read)")
                )));
            }
        }
        _ => check_relationship(&provider.pds, patient, &claims)?,
    }
    if document.generated_size.is_some() {
        return Ok(binary_response_made(id, document));
    }
    Ok(binary_response(id, document).map(Pieces::from))
}

fn check_confidentiality(document: &Document, claims: &Claims) -> Result<(), FhirError> {
    if document.meta.confidential && claims.scope.confidentiality != Confidentiality::Restricted {
        return Err(FhirError::not_authorised(format!(
            "document '{}' is confidential: JWT requested_scope must include conf/R to retrieve it",
            document.title
        )));
    }
    Ok(())
}

fn check_relationship(pds: &PdsStore, patient: &Patient, claims: &Claims) -> Result<(), FhirError> {
    let nhs = patient.nhs_number.as_str();
    match pds.registered_practice(nhs) {
        Some(ods) if ods == claims.requesting_ods => Ok(()),
        registered => Err(FhirError::not_authorised(format!(
            "JWT requesting_organization is {}, but PDS has the document's patient {nhs} registered at {}",
            claims.requesting_ods,
            registered.as_deref().unwrap_or("no practice")
        ))),
    }
}

/// The `Binary`, written directly so a large document is encoded once, without an
/// intermediate JSON tree.
fn binary_response(id: &str, document: &Document) -> Response<Bytes> {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let encoded_len = document.content.len().div_ceil(3) * 4;
    let mut body = Vec::with_capacity(encoded_len + 160 + id.len());
    body.extend_from_slice(br#"{"resourceType":"Binary","id":"#);
    body.extend_from_slice(quoted(id).as_bytes());
    body.extend_from_slice(br#","meta":{"versionId":"1"},"contentType":"#);
    body.extend_from_slice(quoted(&document.content_type).as_bytes());
    body.extend_from_slice(br#","content":""#);
    let start = body.len();
    body.resize(start + encoded_len, 0);
    let written = STANDARD
        .encode_slice(&document.content, &mut body[start..])
        .unwrap_or(0);
    body.truncate(start + written);
    body.extend_from_slice(br#""}"#);
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The `Binary` around a generated document, made as it is sent.
fn binary_response_made(id: &str, document: &Document) -> Response<Pieces> {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let mut head = Vec::with_capacity(160 + id.len());
    head.extend_from_slice(br#"{"resourceType":"Binary","id":"#);
    head.extend_from_slice(quoted(id).as_bytes());
    head.extend_from_slice(br#","meta":{"versionId":"1"},"contentType":"#);
    head.extend_from_slice(quoted(&document.content_type).as_bytes());
    head.extend_from_slice(br#","content":""#);
    let body = GeneratedBinary {
        head: Bytes::from(head),
        pattern: document.content.clone(),
        raw_len: document.size(),
        tail: Bytes::from_static(br#""}"#),
    };
    let mut resp = Response::new(Pieces::Made(std::sync::Arc::new(body)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A `Binary` whose content is `pattern` repeated to `raw_len` bytes, base64-encoded a piece at a
/// time: `head`, the base64 text, `tail`.
#[derive(Debug)]
struct GeneratedBinary {
    head: Bytes,
    pattern: Bytes,
    raw_len: usize,
    tail: Bytes,
}

/// A document's own bytes, as the web page opens it: the scenario's content, or for a generated
/// document its pattern repeated to the declared size, made as it is sent.
pub(crate) fn document_content(document: &Document) -> Pieces {
    if document.generated_size.is_none() || document.content.is_empty() {
        return Pieces::from(document.content.clone());
    }
    Pieces::Made(std::sync::Arc::new(RepeatedContent {
        pattern: document.content.clone(),
        len: document.size(),
    }))
}

/// `pattern` repeated to `len` bytes.
#[derive(Debug)]
struct RepeatedContent {
    pattern: Bytes,
    len: usize,
}

impl Source for RepeatedContent {
    fn len(&self) -> usize {
        self.len
    }

    fn chunk(&self, offset: usize, max: usize) -> Bytes {
        if offset >= self.len || self.pattern.is_empty() {
            return Bytes::new();
        }
        let want = max.max(1).min(self.len - offset);
        let mut out = Vec::with_capacity(want);
        let mut at = offset % self.pattern.len();
        while out.len() < want {
            let take = (self.pattern.len() - at).min(want - out.len());
            out.extend_from_slice(&self.pattern[at..at + take]);
            at = 0;
        }
        Bytes::from(out)
    }
}

impl GeneratedBinary {
    fn encoded_len(&self) -> usize {
        self.raw_len.div_ceil(3) * 4
    }
}

impl Source for GeneratedBinary {
    fn len(&self) -> usize {
        self.head.len() + self.encoded_len() + self.tail.len()
    }

    fn chunk(&self, offset: usize, max: usize) -> Bytes {
        let max = max.max(1);
        if offset < self.head.len() {
            return self.head.slice(offset..self.head.len().min(offset + max));
        }
        let pos = offset - self.head.len();
        let encoded = self.encoded_len();
        if pos >= encoded {
            let at = pos - encoded;
            return if at < self.tail.len() {
                self.tail.slice(at..self.tail.len().min(at + max))
            } else {
                Bytes::new()
            };
        }
        if self.pattern.is_empty() {
            return Bytes::new();
        }
        // Whole base64 groups (4 characters for 3 bytes) from the one holding `pos`.
        let (group, skip) = (pos / 4, pos % 4);
        let groups = ((skip + max) / 4).max(1).min(encoded / 4 - group);
        let raw_start = group * 3;
        let raw_end = self.raw_len.min((group + groups) * 3);
        let mut raw = Vec::with_capacity(raw_end - raw_start);
        let mut at = raw_start % self.pattern.len();
        while raw.len() < raw_end - raw_start {
            let take = (self.pattern.len() - at).min(raw_end - raw_start - raw.len());
            raw.extend_from_slice(&self.pattern[at..at + take]);
            at = 0;
        }
        let text = STANDARD.encode(&raw);
        Bytes::from(text.into_bytes()).slice(skip..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Code, ItemMeta};

    #[test]
    fn binary_is_valid_json_with_base64_content() {
        let doc = Document {
            meta: ItemMeta {
                id: "d1".into(),
                confidential: false,
            },
            title: "Letter \"quoted\"".into(),
            kind: Code {
                read_code: None,
                description_id: None,
                snomed: "823691000000103".into(),
                display: "Clinical letter".into(),
            },
            date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            content_type: "text/plain".into(),
            content: Bytes::from_static(b"Hello from the old practice"),
            generated_size: None,
        };
        let resp = binary_response("abc", &doc);
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["resourceType"], "Binary");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["contentType"], "text/plain");
        assert_eq!(
            STANDARD.decode(v["content"].as_str().unwrap()).unwrap(),
            b"Hello from the old practice"
        );
        assert!(v.get("securityContext").is_none());
        for n in 0..5 {
            let mut d = doc.clone();
            d.content = Bytes::from(vec![7u8; n]);
            let v: serde_json::Value =
                serde_json::from_slice(binary_response("x", &d).body()).unwrap();
            assert_eq!(
                STANDARD
                    .decode(v["content"].as_str().unwrap())
                    .unwrap()
                    .len(),
                n
            );
        }
    }

    #[test]
    fn a_generated_document_is_made_piece_by_piece_exactly_as_a_whole_one() {
        for size in [1usize, 2, 3, 4, 5, 26, 27, 28, 1000, 70_001, 200_000] {
            let doc = Document {
                meta: ItemMeta {
                    id: "d1".into(),
                    confidential: false,
                },
                title: "Big".into(),
                kind: Code {
                    read_code: None,
                    description_id: None,
                    snomed: "823691000000103".into(),
                    display: "Clinical letter".into(),
                },
                date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
                content_type: "application/pdf".into(),
                content: Bytes::from_static(b"0123456789abcdefghijklmnopq"),
                generated_size: Some(size),
            };
            let made = binary_response_made("abc", &doc).into_body();
            // Read in odd-sized steps, as frames and the journal's head would.
            let Pieces::Made(source) = &made else {
                panic!("not made")
            };
            let mut whole = Vec::new();
            while whole.len() < source.len() {
                let piece = source.chunk(whole.len(), 1 + whole.len() % 7919);
                assert!(!piece.is_empty());
                whole.extend_from_slice(&piece);
            }
            assert_eq!(whole.len(), made.len());
            assert_eq!(made.prefix(40), &whole[..40.min(whole.len())]);
            let v: serde_json::Value = serde_json::from_slice(&whole).unwrap();
            let content = STANDARD.decode(v["content"].as_str().unwrap()).unwrap();
            let expected: Vec<u8> = doc.content.iter().copied().cycle().take(size).collect();
            assert_eq!(content, expected, "size {size}");
            assert_eq!(v["contentType"], "application/pdf");

            // The page opens the document itself: the pattern repeated to its size.
            let Pieces::Made(raw) = document_content(&doc) else {
                panic!("not made")
            };
            let mut opened = Vec::new();
            while opened.len() < raw.len() {
                let piece = raw.chunk(opened.len(), 1 + opened.len() % 4099);
                assert!(!piece.is_empty());
                opened.extend_from_slice(&piece);
            }
            assert!(raw.chunk(opened.len(), 10).is_empty());
            assert_eq!(opened, expected, "opened, size {size}");
        }
    }
}
