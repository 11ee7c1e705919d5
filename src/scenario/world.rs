//! The world: everything the scenario files describe, checked, merged and resolved into the
//! immutable types the emulated services read. Built by [`super::validate`] from the format of
//! [`super::file`]; nothing here knows about YAML, positions or problems.

pub(crate) mod demographics;
pub(crate) mod external;
pub(crate) mod pds_settings;
pub(crate) mod record_details;

pub use external::ExternalProvider;

use std::collections::HashMap;

use chrono::NaiveDate;

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
    /// Lookup tables over the lists above, built on first lookup (`WorldIndex::default()` when
    /// writing a world by hand).
    pub index: WorldIndex,
    /// Authentication, applications and fault rules (`auth:`, `applications:`, `faults:`).
    pub platform: crate::platform::PlatformScenario,
    /// PDS as a whole (`pds:`): the NHS numbers patient creation allocates.
    pub pds: pds_settings::PdsSettings,
}

impl World {
    /// A world with nothing in it, for filling in code (`World { practices, ..World::empty(day) }`).
    pub fn empty(start_day: NaiveDate) -> Self {
        Self {
            name: None,
            description: None,
            start_day,
            practices: Vec::new(),
            practitioners: Vec::new(),
            patients: Vec::new(),
            index: WorldIndex::default(),
            platform: Default::default(),
            pds: Default::default(),
        }
    }

    pub fn practice(&self, ods: &str) -> Option<&Practice> {
        let ix = self.index();
        checked(&self.practices, ix.practices.get(ods), ix.lens[0], |p| {
            p.ods.as_str() == ods
        })
    }
    pub fn practice_by_asid(&self, asid: &str) -> Option<&Practice> {
        let ix = self.index();
        checked(&self.practices, ix.asids.get(asid), ix.lens[0], |p| {
            p.asid.as_str() == asid
        })
    }
    pub fn practitioner(&self, id: &str) -> Option<&Practitioner> {
        let ix = self.index();
        checked(
            &self.practitioners,
            ix.practitioners.get(id),
            ix.lens[1],
            |p| p.id == id,
        )
    }
    pub fn patient(&self, nhs_number: &str) -> Option<&Patient> {
        let ix = self.index();
        checked(
            &self.patients,
            ix.patients.get(nhs_number),
            ix.lens[2],
            |p| p.nhs_number.as_str() == nhs_number,
        )
    }

    fn index(&self) -> &Indexes {
        self.index.0.get_or_init(|| Indexes::build(self))
    }
}

/// Positions of every practice (by ODS code and by ASID), practitioner and patient, so a lookup
/// is a hash probe rather than a scan: start and reset of a large world would otherwise be
/// quadratic. Built once, on first lookup; a clone carries the built tables with it.
#[derive(Debug, Clone, Default)]
pub struct WorldIndex(std::sync::OnceLock<Indexes>);

#[derive(Debug, Clone, Default)]
struct Indexes {
    practices: HashMap<String, usize>,
    asids: HashMap<String, usize>,
    practitioners: HashMap<String, usize>,
    patients: HashMap<String, usize>,
    /// How many practices, practitioners and patients there were when this was built.
    lens: [usize; 3],
}

impl Indexes {
    fn build(world: &World) -> Self {
        // The first of duplicates wins, as the linear scans this replaces did.
        fn table<T>(items: &[T], key: impl Fn(&T) -> &str) -> HashMap<String, usize> {
            let mut map = HashMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                map.entry(key(item).to_owned()).or_insert(i);
            }
            map
        }
        Self {
            practices: table(&world.practices, |p| p.ods.as_str()),
            asids: table(&world.practices, |p| p.asid.as_str()),
            practitioners: table(&world.practitioners, |p| p.id.as_str()),
            patients: table(&world.patients, |p| p.nhs_number.as_str()),
            lens: [
                world.practices.len(),
                world.practitioners.len(),
                world.patients.len(),
            ],
        }
    }
}

/// The item the index points at, if it still is the one wanted. A world whose list grew or
/// shrank after the index was built (hand-made test worlds may do that) falls back to a scan.
fn checked<'a, T>(
    items: &'a [T],
    at: Option<&usize>,
    indexed_len: usize,
    is: impl Fn(&T) -> bool,
) -> Option<&'a T> {
    match at.and_then(|i| items.get(*i)) {
        Some(item) if is(item) => Some(item),
        None if items.len() == indexed_len => None,
        _ => items.iter().find(|item| is(item)),
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
    /// A provider outside the sandbox serves this practice: SDS advertises its URLs.
    pub external: Option<ExternalProvider>,
    /// Access Record Structured is switched on in the practice's system (a retrieve is
    /// otherwise refused with 403 `ACCESS DENIED`).
    pub structured_enabled: bool,
    /// Clinical areas switched off for retrieves.
    pub disabled_areas: Vec<ClinicalArea>,
}

/// A clinical area of Access Record Structured, as a scenario names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClinicalArea {
    Allergies,
    Medication,
    Consultations,
    Problems,
    Immunisations,
    Uncategorised,
    Investigations,
    Referrals,
    Diary,
    Documents,
}

impl ClinicalArea {
    pub const ALL: [ClinicalArea; 10] = [
        ClinicalArea::Allergies,
        ClinicalArea::Medication,
        ClinicalArea::Consultations,
        ClinicalArea::Problems,
        ClinicalArea::Immunisations,
        ClinicalArea::Uncategorised,
        ClinicalArea::Investigations,
        ClinicalArea::Referrals,
        ClinicalArea::Diary,
        ClinicalArea::Documents,
    ];

    /// The scenario's word for the area.
    pub fn name(self) -> &'static str {
        match self {
            ClinicalArea::Allergies => "allergies",
            ClinicalArea::Medication => "medication",
            ClinicalArea::Consultations => "consultations",
            ClinicalArea::Problems => "problems",
            ClinicalArea::Immunisations => "immunisations",
            ClinicalArea::Uncategorised => "uncategorised",
            ClinicalArea::Investigations => "investigations",
            ClinicalArea::Referrals => "referrals",
            ClinicalArea::Diary => "diary",
            ClinicalArea::Documents => "documents",
        }
    }

    /// The area named `word`, or a message listing the names.
    pub fn parse(word: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == word)
            .ok_or_else(|| {
                format!(
                    "unknown clinical area '{word}'; one of {}",
                    Self::ALL.map(ClinicalArea::name).join(", ")
                )
            })
    }
}

impl Practice {
    /// A practice as a scenario entry with only `ods`, `asid` and `name` gives it: a provider
    /// with the derived party key, allowed every default interaction, of the generic supplier,
    /// without branches, address or telephone. Change the rest with struct update syntax.
    pub fn new(ods: OdsCode, asid: Asid, name: impl Into<String>) -> Self {
        Self {
            party_key: PartyKey::derived(&ods, &asid),
            ods,
            name: name.into(),
            asid,
            provider: true,
            interactions: crate::identifiers::interactions::DEFAULT_ALLOWED
                .map(str::to_owned)
                .to_vec(),
            address: None,
            telecom: None,
            supplier: Supplier::default(),
            branches: Vec::new(),
            external: None,
            structured_enabled: true,
            disabled_areas: Vec::new(),
        }
    }
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
    /// What else PDS holds: contact details, extensions, related people, starting version.
    pub demographics: demographics::Demographics,
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
    /// Gaps real providers' Bundles have, which this record's Bundle reproduces.
    pub quirks: Quirks,
    /// The patient registered on this day and the previous practice's record is still in
    /// transit: every List carries the `data-in-transit` warning.
    pub in_transit_since: Option<NaiveDate>,
    /// Areas with data awaiting filing: their Lists carry the `data-awaiting-filing` warning.
    pub awaiting_filing: Vec<ClinicalArea>,
}

/// What a record's provider leaves out, as some real providers do (`docs/suppliers.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Conditions without `asserter`.
    pub no_asserter: bool,
    /// MedicationRequests without `recorder` or `requester`.
    pub no_prescriber: bool,
    /// Encounters without their recorder (`REC`) participant.
    pub no_encounter_recorder: bool,
    /// Consultations whose topic holds the items directly, with no heading (category) Lists.
    pub flat_consultations: bool,
    /// Test results without Specimen resources or references.
    pub no_specimens: bool,
    /// DocumentReferences that are placeholders: a titled attachment with no url.
    pub placeholder_documents: bool,
}

impl Quirks {
    /// Both sets of gaps: a practice's quirks apply to every record it holds, beside the
    /// record's own.
    pub fn with(self, other: Self) -> Self {
        Self {
            no_asserter: self.no_asserter || other.no_asserter,
            no_prescriber: self.no_prescriber || other.no_prescriber,
            no_encounter_recorder: self.no_encounter_recorder || other.no_encounter_recorder,
            flat_consultations: self.flat_consultations || other.flat_consultations,
            no_specimens: self.no_specimens || other.no_specimens,
            placeholder_documents: self.placeholder_documents || other.placeholder_documents,
        }
    }
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
    /// The document's bytes: the scenario's `text:` or the file it names, read at load. With
    /// `generated_size`, the pattern its content repeats.
    pub content: bytes::Bytes,
    /// A generated document's size (`size:`): `content` repeated to this many bytes.
    pub generated_size: Option<usize>,
}

impl Document {
    /// The document's size in bytes.
    pub fn size(&self) -> usize {
        self.generated_size.unwrap_or(self.content.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;

    fn world() -> World {
        let text = "practices:\n  - { ods: B82617, name: A, asid: \"918999198738\" }\n  - { ods: A20047, name: B, asid: \"200000001012\" }\npractitioners:\n  - { id: G1, name: { family: Carter }, practice: B82617 }\npatients:\n  - { nhs_number: \"9434761018\", name: { family: Sharma }, gender: female, birth_date: 1990-05-14, registered_with: B82617 }\n";
        super::super::load::load_str(
            "t.yaml",
            text,
            NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn lookups_find_every_kind_and_miss_cleanly() {
        let w = world();
        assert_eq!(w.practice("A20047").unwrap().name, "B");
        assert_eq!(w.practice_by_asid("918999198738").unwrap().name, "A");
        assert_eq!(w.practitioner("G1").unwrap().name.family, "Carter");
        assert_eq!(w.patient("9434761018").unwrap().name.family, "Sharma");
        assert!(w.patient("9434761026").is_none());
        assert!(w.practice("Z99999").is_none());
        assert!(w.practice_by_asid("000000000000").is_none());
        assert!(w.practitioner("G2").is_none());
    }

    #[test]
    fn a_list_changed_after_the_first_lookup_is_still_searched_right() {
        let mut w = world();
        assert!(w.patient("9434761018").is_some());
        let mut other = w.patients[0].clone();
        other.nhs_number = crate::nhs_number::NhsNumber::parse("9434761026").unwrap();
        w.patients.insert(0, other);
        assert_eq!(
            w.patient("9434761018").unwrap().nhs_number.as_str(),
            "9434761018"
        );
        assert_eq!(
            w.patient("9434761026").unwrap().nhs_number.as_str(),
            "9434761026"
        );
        w.practices.swap(0, 1);
        assert_eq!(w.practice("B82617").unwrap().name, "A");
    }
}
