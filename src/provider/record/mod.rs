//! The migrate response Bundle (`docs/migrate.md`): the administrative
//! resources (5.1), every clinical area of the full record (5.2), primary, secondary and
//! consultation-structure Lists (5.3), and the withholding of confidential items with the
//! confidential-items warning on every List that lost one, or NOPAT labels when they are
//! included (5.4). DocumentReferences point at the documents service's Binary (5.5).
//!
//! Resource ids are UUIDs derived from the patient and the scenario item id, so the same world
//! always gives the same Bundle apart from `Bundle.id` (the request's `Ssp-TraceID`).

mod admin;
mod allergies;
mod consultations;
mod context;
mod diary;
mod documents;
#[cfg(test)]
mod fidelity_tests;
mod immunisations;
mod investigations;
mod lists;
mod medications;
mod observations;
mod problems;
mod referrals;
mod selection;
pub(crate) mod terminology;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::scenario::{Document, Patient, Practice, World};

pub(crate) use admin::write_resource;
pub(crate) use selection::{Area, Partial, Selection};

use context::*;
use lists::*;
use observations::*;

/// What the Bundle is built from.
pub struct BundleRequest<'a> {
    pub world: &'a World,
    /// The practice answering: it holds the record.
    pub practice: &'a Practice,
    pub patient: &'a Patient,
    /// `includeSensitiveInformation`: confidential items are included (with NOPAT) or withheld.
    pub include_sensitive: bool,
    /// `Bundle.id`.
    pub trace_id: &'a str,
    /// Absolute documents service root of this practice, e.g.
    /// `http://localhost:8080/B82617/STU3/1/gpconnect/documents/fhir`.
    pub documents_base: &'a str,
}

/// The `$gpc.migratestructuredrecord` response Bundle as a JSON tree (tests, tools).
pub fn bundle(req: &BundleRequest<'_>) -> Value {
    serde_json::from_slice(&bundle_bytes(req)).unwrap_or(Value::Null)
}

/// The response Bundle, serialised. Each resource is written out as soon as it is built and its
/// small JSON tree dropped, so a large record never becomes one large tree: building and freeing
/// a tree of a few million nodes costs several times its serialisation.
pub fn bundle_bytes(req: &BundleRequest<'_>) -> Vec<u8> {
    bundle_bytes_selected(req, &Selection::everything())
}

/// The Bundle of the part of the record `sel` names (`$gpc.getstructuredrecord`); with
/// [`Selection::everything`] the migrate Bundle.
pub(crate) fn bundle_bytes_selected(req: &BundleRequest<'_>, sel: &Selection) -> Vec<u8> {
    let mut b = Builder::new(req, sel);
    b.problems();
    b.allergies();
    b.medications();
    b.immunisations();
    b.uncategorised();
    b.investigations();
    b.consultations();
    b.referrals();
    b.diary();
    b.documents();
    b.finish()
}

/// A deterministic UUID-shaped id (RFC 9562 version 8) from its parts: two FNV-1a streams with
/// different primes, each finished with a splitmix64 round.
pub(crate) fn stable_id(parts: &[&str]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in parts {
        for &byte in part.as_bytes().iter().chain(std::iter::once(&0xffu8)) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15 | 1);
        }
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mix(a).to_be_bytes());
    bytes[8..].copy_from_slice(&mix(b ^ a.rotate_left(17)).to_be_bytes());
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Binary id of a document: what `Binary/{id}` on the documents service answers to.
pub fn binary_id(patient: &Patient, document: &Document) -> String {
    stable_id(&["Binary", patient.nhs_number.as_str(), &document.meta.id])
}

/// The document a Binary id names, among the records this practice holds.
pub(crate) fn find_document<'w>(
    world: &'w World,
    practice: &Practice,
    id: &str,
) -> Result<(&'w Patient, &'w Document), crate::fhir::FhirError> {
    world
        .patients
        .iter()
        .filter(|p| p.record_at == practice.ods)
        .flat_map(|p| p.record.documents.iter().map(move |d| (p, d)))
        .find(|(p, d)| binary_id(p, d) == id)
        .ok_or_else(|| {
            crate::fhir::FhirError::no_record_found(format!(
                "Binary/{id}: {} ({}) holds no document with this id; use the url of a DocumentReference from this practice's migrate Bundle",
                practice.ods, practice.name
            ))
        })
}

/// The absolute documents service root of a practice (contract section 2).
pub fn documents_base(public_url: &str, ods: &str) -> String {
    format!("{public_url}/{ods}/STU3/1/gpconnect/documents/fhir")
}
