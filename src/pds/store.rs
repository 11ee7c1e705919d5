//! PDS's records (`docs/pds.md`): one R4 Patient per NHS number with its version, changed
//! only by PATCH and restored by `POST /_admin/reset`.
//!
//! The version check, the patch and the version bump happen inside one synchronous `get_mut`
//! block, so two PATCHes carrying the same `If-Match` can never both succeed (no lost update), and
//! [`PdsStore::registered_practice`] reads the same record the PATCH changed.

use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use http::HeaderValue;
use serde_json::{Value, json};

use super::patch::{self, PatchOp, UpdateRules};
use super::patient;
use crate::fhir::{FhirError, SpineCode};
use crate::scenario::World;

/// One patient as PDS holds it.
#[derive(Debug, Clone)]
pub struct PdsRecord {
    /// The whole R4 Patient, unredacted; `meta.versionId` always equals `version`.
    patient: Value,
    version: u64,
    /// The `GET /Patient/{nhs}` body for this version. Rendered at its first read and kept until
    /// the record changes, so a read is a map lookup and two reference-count increments, and a
    /// large world does not hold a rendered body for every patient nobody reads.
    read_body: std::sync::OnceLock<Bytes>,
    etag: HeaderValue,
}

impl PdsRecord {
    fn new(patient: Value, version: u64) -> Self {
        let etag = HeaderValue::from_str(&format!("W/\"{version}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""));
        Self {
            patient,
            version,
            read_body: std::sync::OnceLock::new(),
            etag,
        }
    }

    fn read(&self) -> PatientRead {
        PatientRead {
            version: self.version,
            body: self
                .read_body
                .get_or_init(|| render(&patient::read_view(&self.patient)))
                .clone(),
            etag: self.etag.clone(),
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The full record (not redacted).
    pub fn patient(&self) -> &Value {
        &self.patient
    }
}

fn render(view: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(view).unwrap_or_default())
}

/// A patient as a read or an update returns it: the body, the version and its `ETag`
/// (`W/"<version>"`).
#[derive(Debug, Clone)]
pub struct PatientRead {
    pub version: u64,
    pub body: Bytes,
    pub etag: HeaderValue,
}

/// Shared, concurrent PDS state; cheap to clone.
#[derive(Clone, Default)]
pub struct PdsStore {
    records: Arc<DashMap<String, PdsRecord>>,
}

impl PdsStore {
    pub fn new(world: &World) -> Self {
        let store = Self::default();
        store.reset(world);
        store
    }

    /// Restores every record (content, starting version, registration) to what the scenario says.
    /// Records are overwritten in place rather than cleared first, so a read racing a reset
    /// never sees a patient missing.
    pub fn reset(&self, world: &World) {
        for p in &world.patients {
            self.records.insert(
                p.nhs_number.as_str().to_owned(),
                PdsRecord::new(
                    patient::from_scenario(p),
                    p.demographics.version.unwrap_or(1),
                ),
            );
        }
        self.records.retain(|nhs, _| world.patient(nhs).is_some());
    }

    /// The registered practice PDS holds for this patient at this moment, restricted or not
    /// (a `GET` hides it for restricted patients; see [`PdsStore::is_restricted`]).
    pub fn registered_practice(&self, nhs_number: &str) -> Option<String> {
        self.records
            .get(nhs_number)
            .and_then(|r| patient::registered_practice(&r.patient).map(str::to_owned))
    }

    /// Whether PDS holds the patient as restricted (`meta.security` `R`); `None` when unknown.
    pub fn is_restricted(&self, nhs_number: &str) -> Option<bool> {
        self.records
            .get(nhs_number)
            .map(|r| patient::is_restricted(&r.patient))
    }

    pub fn contains(&self, nhs_number: &str) -> bool {
        self.records.contains_key(nhs_number)
    }

    /// The current version (the number in the `ETag`).
    pub fn version(&self, nhs_number: &str) -> Option<u64> {
        self.records.get(nhs_number).map(|r| r.version)
    }

    /// What `GET /Patient/{nhs}` returns.
    pub fn read(&self, nhs_number: &str) -> Option<PatientRead> {
        self.records.get(nhs_number).map(|r| r.read())
    }

    /// The full, unredacted record (a copy).
    pub fn patient(&self, nhs_number: &str) -> Option<Value> {
        self.records.get(nhs_number).map(|r| r.patient.clone())
    }

    /// Runs `pick` over every full record and collects what it returns, for search. Each shard
    /// is read-locked only while it is scanned; `pick` must not touch the store.
    pub fn scan<T>(&self, mut pick: impl FnMut(&Value) -> Option<T>) -> Vec<T> {
        self.records
            .iter()
            .filter_map(|r| pick(&r.patient))
            .collect()
    }

    /// Applies a PATCH if `if_match` is the current version, atomically: check, apply and bump
    /// happen under the record's write lock, and nothing is kept unless every operation and
    /// rule passes. Errors come in the official mock's order: unknown patient (404), stale
    /// version (409), malformed operation (`ops`' own error), restricted patient (403), then
    /// the operations and rules themselves.
    pub fn update(
        &self,
        nhs_number: &str,
        if_match: &str,
        ops: Result<Vec<PatchOp>, FhirError>,
        rules: &UpdateRules,
    ) -> Result<PatientRead, FhirError> {
        let Some(mut record) = self.records.get_mut(nhs_number) else {
            return Err(not_found(nhs_number));
        };
        if if_match != record.version.to_string() {
            return Err(FhirError::new(
                SpineCode::ResourceVersionMismatch,
                format!(
                    "Invalid update with error - If-Match W/\"{if_match}\" does not match the current version W/\"{}\" of patient {nhs_number}; read the patient again and use its ETag",
                    record.version
                ),
            ));
        }
        let ops = ops?;
        if patient::is_restricted(&record.patient) {
            return Err(FhirError::new(
                SpineCode::ForbiddenUpdate,
                format!(
                    "Forbidden update with error - patient {nhs_number} is restricted (sensitive); this sandbox refuses every update to a restricted record"
                ),
            )
            .with_severity("information"));
        }
        let mut updated = patch::apply(&record.patient, &ops, rules)?;
        let version = record.version + 1;
        updated["meta"]["versionId"] = json!(version.to_string());
        *record = PdsRecord::new(updated, version);
        Ok(record.read())
    }
}

/// PDS's 404 for an NHS number it does not hold (the official stub says `information`).
pub fn not_found(nhs_number: &str) -> FhirError {
    FhirError::new(
        SpineCode::ResourceNotFound,
        format!("Patient {nhs_number} is not held on PDS"),
    )
    .with_severity("information")
}
