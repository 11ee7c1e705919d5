//! Scenarios: the YAML world the sandbox is seeded from (`shared/design/contract.md` section 5).
//!
//! [`file`] is the format as written (serde types with source positions); [`load`] reads and merges
//! files and [`validate`] checks them, producing a [`World`]: the resolved, cross-checked model every
//! emulated service reads. Relative dates are resolved against the start day by [`dates`].

pub mod dates;
pub mod file;
pub mod load;
pub mod supplier;
pub mod validate;

use chrono::NaiveDate;

pub use load::{ScenarioError, load_paths};

use crate::identifiers::{Asid, OdsCode, PartyKey};
use crate::nhs_number::NhsNumber;

/// Everything the scenario files describe, merged and resolved.
#[derive(Debug, Clone)]
pub struct World {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The day relative dates were resolved against (the day the sandbox started).
    pub start_day: NaiveDate,
    pub practices: Vec<Practice>,
    pub practitioners: Vec<Practitioner>,
    pub patients: Vec<Patient>,
}

impl World {
    pub fn practice(&self, ods: &str) -> Option<&Practice> {
        self.practices.iter().find(|p| p.ods.as_str() == ods)
    }
    pub fn practice_by_asid(&self, asid: &str) -> Option<&Practice> {
        self.practices.iter().find(|p| p.asid.as_str() == asid)
    }
    pub fn practitioner(&self, id: &str) -> Option<&Practitioner> {
        self.practitioners.iter().find(|p| p.id == id)
    }
    pub fn patient(&self, nhs_number: &str) -> Option<&Patient> {
        self.patients
            .iter()
            .find(|p| p.nhs_number.as_str() == nhs_number)
    }
}

#[derive(Debug, Clone)]
pub struct Practice {
    pub ods: OdsCode,
    pub name: String,
    pub asid: Asid,
    pub party_key: PartyKey,
    /// Serves GP Connect provider endpoints and is listed in SDS.
    pub provider: bool,
    /// Interaction ids this practice's ASID may send through SSP.
    pub interactions: Vec<String>,
    pub address: Option<Address>,
    pub telecom: Option<String>,
    /// Whose GP system's habits the migrate Bundle follows.
    pub supplier: Supplier,
    /// Branch surgeries besides the main site.
    pub branches: Vec<Branch>,
}

/// The GP system a practice runs, as far as the migrate Bundle's shape goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Supplier {
    Emis,
    Tpp,
    #[default]
    Generic,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub id: String,
    pub name: String,
    pub address: Option<Address>,
}

/// A patient's registration at the practice holding the record.
#[derive(Debug, Clone)]
pub struct Registration {
    /// CareConnect-RegistrationType-1 code and display.
    pub kind: (&'static str, &'static str),
    pub date: Option<NaiveDate>,
    /// A branch id of the practice holding the record; None: the main site.
    pub branch: Option<String>,
}

impl Default for Registration {
    /// A regular registration with no known start, at the main site.
    fn default() -> Self {
        Self {
            kind: ("R", "Regular"),
            date: None,
            branch: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Practitioner {
    pub id: String,
    pub name: HumanName,
    pub practice: OdsCode,
    pub gender: Option<Gender>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanName {
    pub prefix: Option<String>,
    pub given: Vec<String>,
    pub family: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
    Other,
    Unknown,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
            Gender::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub lines: Vec<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub postcode: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Patient {
    pub nhs_number: NhsNumber,
    pub name: HumanName,
    pub gender: Gender,
    pub birth_date: NaiveDate,
    pub address: Option<Address>,
    /// The registered practice PDS holds at start (PATCHes change PDS's copy, not this).
    pub registered_with: OdsCode,
    /// The practice whose provider holds the clinical record.
    pub record_at: OdsCode,
    pub usual_gp: Option<String>,
    pub sensitive: bool,
    pub nhs_number_verified: bool,
    pub deceased: Option<NaiveDate>,
    pub dissent: bool,
    pub record: Record,
    pub registration: Registration,
}

/// A SNOMED CT concept as written in the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Code {
    pub snomed: String,
    pub display: String,
    /// Read v2 or CTV3 code, sent as a translation.
    pub read_code: Option<String>,
    /// SNOMED CT description id of the term picked.
    pub description_id: Option<String>,
}

/// Fields every clinical item has. `id` is the scenario's, or generated as `<area>-<n>` (1-based).
#[derive(Debug, Clone)]
pub struct ItemMeta {
    pub id: String,
    pub confidential: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Record {
    pub problems: Vec<Problem>,
    pub allergies: Vec<Allergy>,
    pub medications: Vec<Medication>,
    pub immunisations: Vec<Immunisation>,
    pub observations: Vec<Observation>,
    pub investigations: Vec<Investigation>,
    pub consultations: Vec<Consultation>,
    pub referrals: Vec<Referral>,
    pub diary: Vec<DiaryEntry>,
    pub documents: Vec<Document>,
}

impl Record {
    /// Number of clinical items of every area (investigation results not counted separately).
    pub fn item_count(&self) -> usize {
        self.problems.len()
            + self.allergies.len()
            + self.medications.len()
            + self.immunisations.len()
            + self.observations.len()
            + self.investigations.len()
            + self.consultations.len()
            + self.referrals.len()
            + self.diary.len()
            + self.documents.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Significance {
    Major,
    Minor,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub meta: ItemMeta,
    pub code: Code,
    pub onset: Option<NaiveDate>,
    /// Inactive problems may say when they ended.
    pub end: Option<NaiveDate>,
    pub status: ProblemStatus,
    pub significance: Significance,
    /// Ids of other items of this patient linked to the problem.
    pub related: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllergyStatus {
    Active,
    Resolved,
}

#[derive(Debug, Clone)]
pub struct Allergy {
    pub meta: ItemMeta,
    pub code: Code,
    pub asserted: Option<NaiveDate>,
    /// When the reaction first happened.
    pub onset: Option<NaiveDate>,
    pub status: AllergyStatus,
    /// When a resolved allergy ended.
    pub end: Option<NaiveDate>,
    pub reaction: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MedicationType {
    Acute,
    Repeat,
    RepeatDispensing,
}

#[derive(Debug, Clone)]
pub struct Medication {
    pub meta: ItemMeta,
    pub code: Code,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub kind: MedicationType,
    pub dosage: Option<String>,
    /// As written, e.g. `28 tablet`.
    pub quantity: Option<String>,
    /// Issues a repeat or repeat-dispensing authorisation allows, when limited.
    pub repeats_allowed: Option<u32>,
    /// Why the medication was stopped on its `end` day (always with `end`).
    pub stopped: Option<String>,
    pub note: Option<String>,
    /// The supplier's own drug code.
    pub drug_code: Option<String>,
    /// Days one issue lasts.
    pub supply_days: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Immunisation {
    pub meta: ItemMeta,
    pub code: Code,
    pub date: NaiveDate,
    pub note: Option<String>,
    pub batch: Option<String>,
    pub manufacturer: Option<String>,
    pub site: Option<Code>,
    pub expiry: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub meta: ItemMeta,
    pub code: Code,
    pub date: NaiveDate,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Investigation {
    pub meta: ItemMeta,
    pub code: Code,
    pub date: NaiveDate,
    pub specimen: Option<String>,
    pub results: Vec<InvestigationResult>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InvestigationResult {
    pub code: Code,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub range: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Consultation {
    pub meta: ItemMeta,
    pub date: NaiveDate,
    /// Free text, e.g. `Surgery consultation`.
    pub kind: String,
    pub practitioner: Option<String>,
    /// Ids of items recorded in this consultation.
    pub entries: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Referral {
    pub meta: ItemMeta,
    pub date: NaiveDate,
    pub to: String,
    pub reason: Option<String>,
    pub priority: Option<String>,
    /// The referral's main code.
    pub code: Option<Code>,
}

#[derive(Debug, Clone)]
pub struct DiaryEntry {
    pub meta: ItemMeta,
    /// When the planned action is due.
    pub date: NaiveDate,
    pub text: String,
    pub code: Option<Code>,
    /// When the entry was made, if the scenario says.
    pub entered: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub meta: ItemMeta,
    pub title: String,
    pub kind: Code,
    pub date: NaiveDate,
    pub content_type: String,
    /// The document's bytes: the scenario's `text:` or the file it names, read at load.
    pub content: bytes::Bytes,
}
