//! Migrate a document: `GET [documents]/Binary/{id}` (`docs/documents.md`). The id is the
//! one the migrate Bundle put in `DocumentReference.content[0].attachment.url`
//! ([`super::record::binary_id`]). No size limit; the content is base64 in a FHIR `Binary`.
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
use super::record::binary_id;
use crate::fhir::{FHIR_JSON, FhirError};
use crate::identifiers::interactions;
use crate::jwt::{Claims, Confidentiality, Rules};
use crate::pds::PdsStore;
use crate::scenario::{Document, Patient, Practice, World};

pub fn handle(
    provider: &Provider,
    practice: &Practice,
    req: &Request<Bytes>,
    id: &str,
) -> Result<Response<Bytes>, FhirError> {
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
    let (patient, document) = find_document(&provider.world, practice, id)?;
    check_confidentiality(document, &claims)?;
    check_relationship(&provider.pds, patient, &claims)?;
    Ok(binary_response(id, document))
}

/// The document a Binary id names, among the records this practice holds.
pub fn find_document<'w>(
    world: &'w World,
    practice: &Practice,
    id: &str,
) -> Result<(&'w Patient, &'w Document), FhirError> {
    world
        .patients
        .iter()
        .filter(|p| p.record_at == practice.ods)
        .flat_map(|p| p.record.documents.iter().map(move |d| (p, d)))
        .find(|(p, d)| binary_id(p, d) == id)
        .ok_or_else(|| {
            FhirError::no_record_found(format!(
                "Binary/{id}: {} ({}) holds no document with this id; use the url of a DocumentReference from this practice's migrate Bundle",
                practice.ods, practice.name
            ))
        })
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
}
