//! PDS's records (`docs/pds.md`): one R4 Patient per NHS number with its version, its history
//! and its EHIC coverage; changed by PATCH and `POST /Coverage`, added by `POST /Patient`, and
//! restored by `POST /_admin/reset` (all) or `POST /_admin/pds/patients/{nhs}/reset` (one).
//!
//! The version check, the patch and the version bump happen inside one synchronous `get_mut`
//! block, so two PATCHes carrying the same `If-Match` can never both succeed (no lost update), and
//! [`PdsStore::registered_practice`] reads the same record the PATCH changed.

use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use http::HeaderValue;
use serde_json::{Value, json};

use super::history::History;
use super::patch::{self, PatchOp, UpdateRules};
use super::patient;
use crate::fhir::{FhirError, SpineCode};
use crate::nhs_number::NhsNumber;
use crate::scenario::{Patient, World};

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
    /// Names, addresses and telecom replaced or removed (`super::history`).
    history: Arc<History>,
    /// The EHIC `Coverage` PDS holds, if any; its version is the patient's.
    coverage: Option<Arc<Value>>,
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
            history: no_history(),
            coverage: None,
        }
    }

    /// A scenario patient at its starting version, with its written history and coverage.
    fn from_scenario(p: &Patient) -> Self {
        let mut record = Self::new(
            patient::from_scenario(p),
            p.demographics.version.unwrap_or(1),
        );
        let history = patient::history_from_scenario(p);
        if !history.is_empty() {
            record.history = Arc::new(history);
        }
        record.coverage = p
            .demographics
            .details
            .coverage
            .as_ref()
            .map(|c| Arc::new(patient::coverage_from_scenario(p.nhs_number.as_str(), c)));
        record
    }

    /// The same record at the next version: `patient` (whose `meta.versionId` is set here).
    fn next(&self, mut patient: Value) -> Self {
        let version = self.version + 1;
        patient["meta"]["versionId"] = json!(version.to_string());
        let mut next = Self::new(patient, version);
        next.history = self.history.clone();
        next.coverage = self.coverage.clone();
        next
    }

    pub fn history(&self) -> &History {
        &self.history
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

    /// The EHIC coverage PDS holds for the patient, if any.
    pub fn coverage(&self) -> Option<&Value> {
        self.coverage.as_deref()
    }

    /// A record read back from the state dir (`meta.versionId` set to `version`).
    pub fn restored(
        mut patient: Value,
        version: u64,
        history: History,
        coverage: Option<Value>,
    ) -> Self {
        if patient.is_object() {
            patient["meta"]["versionId"] = json!(version.to_string());
        }
        let mut record = Self::new(patient, version);
        if !history.is_empty() {
            record.history = Arc::new(history);
        }
        record.coverage = coverage.map(Arc::new);
        record
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
    /// Hashed with foldhash, not SipHash: every read looks a record up, and SipHash was a
    /// tenth of what PDS itself did for one (keys are NHS numbers; the seed is per process).
    records: Arc<DashMap<String, PdsRecord, foldhash::fast::RandomState>>,
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
                PdsRecord::from_scenario(p),
            );
        }
        self.records.retain(|nhs, _| world.patient(nhs).is_some());
    }

    /// What differs from the scenario, for the state dir: every record changed or created since
    /// the scenario was loaded (its version is not the scenario's), and the scenario's numbers
    /// PDS no longer holds. A world nobody changed costs one pass and no copies.
    pub fn changes(&self, world: &World) -> (Vec<(String, PdsRecord)>, Vec<String>) {
        let changed = self
            .records
            .iter()
            .filter(|r| {
                world
                    .patient(r.key())
                    .is_none_or(|p| p.demographics.version.unwrap_or(1) != r.version)
            })
            .map(|r| (r.key().clone(), r.value().clone()))
            .collect();
        let removed = world
            .patients
            .iter()
            .map(|p| p.nhs_number.as_str())
            .filter(|nhs| !self.records.contains_key(*nhs))
            .map(str::to_owned)
            .collect();
        (changed, removed)
    }

    /// Puts a record read back from the state dir in place.
    pub fn put(&self, nhs_number: &str, record: PdsRecord) {
        self.records.insert(nhs_number.to_owned(), record);
    }

    /// Drops a record (the state dir says it was gone before the restart).
    pub fn forget(&self, nhs_number: &str) {
        self.records.remove(nhs_number);
    }

    /// Restores one patient to what the scenario says; a patient created since start (not in the
    /// scenario) is removed. `None` when PDS neither holds nor started with this number.
    pub fn reset_patient(&self, world: &World, nhs_number: &str) -> Option<PatientReset> {
        if let Some(p) = world.patient(nhs_number) {
            self.records
                .insert(nhs_number.to_owned(), PdsRecord::from_scenario(p));
            return Some(PatientReset::Restored);
        }
        self.records
            .remove(nhs_number)
            .map(|_| PatientReset::Removed)
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

    /// Runs `pick` over every full record (with its history) and collects what it returns, for
    /// search. Each shard is read-locked only while it is scanned; `pick` must not touch the
    /// store.
    pub fn scan<T>(&self, mut pick: impl FnMut(&Value, &History) -> Option<T>) -> Vec<T> {
        self.records
            .iter()
            .filter_map(|r| pick(&r.patient, &r.history))
            .collect()
    }

    /// The patient's EHIC coverage (if any) and the patient's version; `None` for an unknown
    /// patient.
    pub fn coverage(&self, nhs_number: &str) -> Option<(Option<Arc<Value>>, u64)> {
        self.records
            .get(nhs_number)
            .map(|r| (r.coverage.clone(), r.version))
    }

    /// Replaces the patient's coverage if `if_match` is the current version, bumping it (a
    /// patient holds one EHIC record at a time). Checked and applied under the record's lock.
    pub fn set_coverage(
        &self,
        nhs_number: &str,
        if_match: &str,
        coverage: Value,
    ) -> Result<(Arc<Value>, u64), FhirError> {
        let Some(mut record) = self.records.get_mut(nhs_number) else {
            return Err(not_found(nhs_number));
        };
        check_version(&record, nhs_number, if_match)?;
        if patient::is_restricted(&record.patient) {
            return Err(restricted(nhs_number));
        }
        let mut next = record.next(record.patient.clone());
        let coverage = Arc::new(coverage);
        next.coverage = Some(coverage.clone());
        *record = next;
        Ok((coverage, record.version))
    }

    /// Adds a new patient under the first NHS number of `range` that is valid and not held,
    /// built by `build` for that number, at version 1. `None` when the range is used up.
    pub fn create(
        &self,
        range: (u64, u64),
        build: impl FnOnce(&str) -> Value,
    ) -> Option<(String, PatientRead)> {
        let (first, last) = range;
        let free = (first..=last)
            .map(|n| format!("{n:010}"))
            .filter(|n| NhsNumber::parse(n).is_ok())
            .find(|n| !self.records.contains_key(n))?;
        // Another creation may take the same number between the look and the insert: the entry
        // decides, and the loser looks again from there.
        match self.records.entry(free.clone()) {
            dashmap::Entry::Vacant(slot) => {
                let record = slot.insert(PdsRecord::new(build(&free), 1));
                Some((free, record.read()))
            }
            dashmap::Entry::Occupied(_) => {
                let next = free.parse::<u64>().ok()?.checked_add(1)?;
                self.create((next, last), build)
            }
        }
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
        check_version(&record, nhs_number, if_match)?;
        let ops = ops?;
        if patient::is_restricted(&record.patient) {
            return Err(restricted(nhs_number));
        }
        let updated = patch::apply(&record.patient, &ops, rules)?;
        let today = rules.today.format("%Y-%m-%d").to_string();
        let history = record
            .history
            .after_change(&record.patient, &updated, &today);
        let mut next = record.next(updated);
        if history != *record.history {
            next.history = Arc::new(history);
        }
        *record = next;
        Ok(record.read())
    }
}

/// The history of every record without one: shared, so a large world allocates none.
fn no_history() -> Arc<History> {
    static EMPTY: std::sync::OnceLock<Arc<History>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Arc::default).clone()
}

/// What a one-patient reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientReset {
    /// Back to the scenario's record.
    Restored,
    /// Created since start, so no longer held.
    Removed,
}

fn check_version(record: &PdsRecord, nhs_number: &str, if_match: &str) -> Result<(), FhirError> {
    if if_match == record.version.to_string() {
        return Ok(());
    }
    Err(FhirError::new(
        SpineCode::ResourceVersionMismatch,
        format!(
            "Invalid update with error - If-Match W/\"{if_match}\" does not match the current version W/\"{}\" of patient {nhs_number}; read the patient again and use its ETag",
            record.version
        ),
    ))
}

fn restricted(nhs_number: &str) -> FhirError {
    FhirError::new(
        SpineCode::ForbiddenUpdate,
        format!(
            "Forbidden update with error - patient {nhs_number} is restricted (sensitive); this sandbox refuses every update to a restricted record"
        ),
    )
    .with_severity("information")
}

/// PDS's 404 for an NHS number it does not hold (the official stub says `information`).
pub(crate) fn not_found(nhs_number: &str) -> FhirError {
    FhirError::new(
        SpineCode::ResourceNotFound,
        format!("Patient {nhs_number} is not held on PDS"),
    )
    .with_severity("information")
}
