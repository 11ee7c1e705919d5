//! The scenario YAML exactly as written (README.md, "Scenarios"), before any checking.
//!
//! Every struct denies unknown fields, so a misspelt key is an error at its line and column rather
//! than silently ignored. Values that need a semantic check (identifiers, dates, enums, cross
//! references) are kept as [`Spanned`] strings so that [`super::validate`] can report *every* such
//! problem at its position, instead of serde stopping at the first. For the same reason the fields
//! a scenario must give are `Option`s here and the required-field check happens in `validate`,
//! pointing at the entry that lacks them; whole entries are `Spanned` to have that position.
//!
//! Optional fields beyond the README's example, all mapped onto [`super::World`]: practice
//! `address` and `telecom`; practitioner `gender`; address `district`; problem, allergy and
//! medication `end` and `note`; medication `repeats_allowed` and `stopped`; immunisation,
//! observation and investigation `note`; investigation `specimen` and result `range`; referral
//! `priority` and `code`; diary `code` and `entered`; document `file` (a path relative to the
//! scenario file) as the alternative to `text`.

use serde::Deserialize;
use serde_saphyr::Spanned;

mod demographics;
pub(crate) mod external;
pub(crate) mod pds_settings;
pub(crate) mod platform;
mod record_details;

pub(crate) use demographics::{
    CommunicationEntry, ContactEntry, ContactPreferencesEntry, RelatedPersonEntry, TelecomEntry,
};
pub(crate) use record_details::{
    AddressKeysEntry, BirthPlaceEntry, CoverageEntry, HistoricAddressEntry, HistoricNameEntry,
    PeriodEntry, RemovalEntry, TemporaryAddressEntry,
};

/// One scenario file. Every section is optional; files given together are merged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub practices: Option<Vec<Spanned<PracticeEntry>>>,
    pub practitioners: Option<Vec<Spanned<PractitionerEntry>>>,
    pub patients: Option<Vec<Spanned<PatientEntry>>>,
    /// `required` or `off`: the API platform's authentication (see [`super::platform`]).
    pub auth: Option<Spanned<String>>,
    /// Consumer applications registered with the platform.
    pub applications: Option<Vec<Spanned<platform::ApplicationEntry>>>,
    /// Fault rules in force from the start.
    pub faults: Option<Vec<Spanned<crate::platform::FaultSpec>>>,
    /// PDS settings (the world's `PdsSettings`).
    pub pds: Option<pds_settings::PdsEntry>,
}

/// A GP practice: a GP Connect provider (`provider: true`, the default), a consumer, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PracticeEntry {
    /// Required, unique across all files.
    pub ods: Option<Spanned<String>>,
    /// Required.
    pub name: Option<Spanned<String>>,
    /// Required, unique, 12 digits (quote it, or YAML may read a leading zero as octal elsewhere).
    pub asid: Option<Spanned<String>>,
    /// Derived from the ODS code and the ASID when absent.
    pub party_key: Option<Spanned<String>>,
    /// Default `true`.
    pub provider: Option<bool>,
    /// Interaction ids this ASID may send through SSP; default: every GP Connect migrate one.
    pub interactions: Option<Vec<Spanned<String>>>,
    pub address: Option<AddressEntry>,
    pub telecom: Option<String>,
    /// Whose GP system's habits the migrate Bundle follows: `emis`, `tpp` or `generic` (default).
    pub supplier: Option<Spanned<String>>,
    /// Branch surgeries besides the main site (the practice's own name and address).
    pub branches: Option<Vec<Spanned<BranchEntry>>>,
    /// A GP Connect provider outside the sandbox serves this practice (the world's `ExternalProvider`).
    pub external_provider: Option<Spanned<external::ExternalProviderEntry>>,
    /// Gaps this practice's provider leaves in every record it sends, as a record's `quirks:`.
    pub quirks: Option<Vec<Spanned<String>>>,
    /// Default `true`; `false`: Access Record Structured is switched off in the practice's
    /// system, and `$gpc.getstructuredrecord` is refused with 403 `ACCESS DENIED`.
    pub structured_enabled: Option<bool>,
    /// Clinical areas switched off for `$gpc.getstructuredrecord` (`allergies`, `medication`,
    /// `consultations`, `problems`, `immunisations`, `uncategorised`, `investigations`,
    /// `referrals`, `diary`, `documents`); migrate ignores it.
    pub disabled_areas: Option<Vec<Spanned<String>>>,
}

/// A branch surgery of a practice: a `Location` in the migrate Bundle.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchEntry {
    /// Required, unique within the practice; patients name it as their `registration.branch`.
    pub id: Option<Spanned<String>>,
    /// Required.
    pub name: Option<Spanned<String>>,
    pub address: Option<AddressEntry>,
}

/// How a patient is registered at the practice holding the record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationEntry {
    /// `regular` (default), `temporary`, `emergency` or `immediately-necessary`.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// The day the registration started.
    pub date: Option<Spanned<String>>,
    /// The id of the branch surgery the patient prefers; default the main site.
    pub branch: Option<Spanned<String>>,
}

/// A postal address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressEntry {
    pub lines: Option<Vec<String>>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub postcode: Option<String>,
}

/// A person's name: `{ prefix: Dr, given: [Jane], family: Carter }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameEntry {
    pub prefix: Option<String>,
    pub given: Option<Vec<String>>,
    pub family: Option<Spanned<String>>,
    /// Postnominals such as `MBE`; PDS only.
    pub suffix: Option<Vec<String>>,
}

/// A practitioner, identified by an SDS user id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PractitionerEntry {
    /// Required, unique across all files.
    pub id: Option<Spanned<String>>,
    /// Required.
    pub name: Option<Spanned<NameEntry>>,
    /// Required: the ODS code of a practice.
    pub practice: Option<Spanned<String>>,
    pub gender: Option<Spanned<String>>,
}

/// A patient: demographics for PDS and the clinical record a provider holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatientEntry {
    /// Required, unique, valid Modulus 11.
    pub nhs_number: Option<Spanned<String>>,
    /// Required.
    pub name: Option<Spanned<NameEntry>>,
    /// Required: `male`, `female`, `other` or `unknown`.
    pub gender: Option<Spanned<String>>,
    /// Required.
    pub birth_date: Option<Spanned<String>>,
    pub address: Option<AddressEntry>,
    /// Required: ODS code of the practice PDS holds as the patient's GP.
    pub registered_with: Option<Spanned<String>>,
    /// ODS code of the provider holding the record; default `registered_with`.
    pub record_at: Option<Spanned<String>>,
    /// A practitioner id.
    pub usual_gp: Option<Spanned<String>>,
    /// Default `false`.
    pub sensitive: Option<bool>,
    /// Default `true`.
    pub nhs_number_verified: Option<bool>,
    /// Date of death.
    pub deceased: Option<Spanned<String>>,
    /// Default `false`.
    pub dissent: Option<bool>,
    /// Absent or empty: the patient has no clinical record entries.
    pub record: Option<RecordEntry>,
    // PDS record details, checked by `super::demographics`.
    pub version: Option<Spanned<u64>>,
    pub name_id: Option<Spanned<String>>,
    pub address_id: Option<Spanned<String>>,
    pub telecom: Option<Vec<Spanned<TelecomEntry>>>,
    pub death_notification: Option<Spanned<String>>,
    pub communication: Option<Spanned<CommunicationEntry>>,
    pub contact_preferences: Option<Spanned<ContactPreferencesEntry>>,
    pub nominated_pharmacy: Option<Spanned<String>>,
    pub preferred_dispenser: Option<Spanned<String>>,
    pub medical_appliance_supplier: Option<Spanned<String>>,
    pub contact: Option<Vec<Spanned<ContactEntry>>>,
    pub multiple_birth: Option<Spanned<u64>>,
    pub managing_organization: Option<Spanned<String>>,
    pub related_people: Option<Vec<Spanned<RelatedPersonEntry>>>,
    // More PDS record details, checked by `super::record_details`.
    pub name_period: Option<Spanned<PeriodEntry>>,
    pub address_period: Option<Spanned<PeriodEntry>>,
    pub temporary_address: Option<Spanned<TemporaryAddressEntry>>,
    pub birth_place: Option<BirthPlaceEntry>,
    pub historic_names: Option<Vec<Spanned<HistoricNameEntry>>>,
    pub historic_addresses: Option<Vec<Spanned<HistoricAddressEntry>>>,
    pub historic_telecom: Option<Vec<Spanned<TelecomEntry>>>,
    pub coverage: Option<Spanned<CoverageEntry>>,
    pub address_keys: Option<Spanned<AddressKeysEntry>>,
    pub registered_with_id: Option<Spanned<String>>,
    pub registered_with_period: Option<Spanned<PeriodEntry>>,
    pub managing_organization_period: Option<Spanned<PeriodEntry>>,
    pub removal_from_registration: Option<Spanned<RemovalEntry>>,
    /// At the practice holding the record: type, start day and preferred branch.
    pub registration: Option<Spanned<RegistrationEntry>>,
}

/// The clinical record, one optional list per GP Connect clinical area.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordEntry {
    pub problems: Option<Vec<Spanned<ProblemEntry>>>,
    pub allergies: Option<Vec<Spanned<AllergyEntry>>>,
    pub medications: Option<Vec<Spanned<MedicationEntry>>>,
    pub immunisations: Option<Vec<Spanned<ImmunisationEntry>>>,
    pub observations: Option<Vec<Spanned<ObservationEntry>>>,
    pub investigations: Option<Vec<Spanned<InvestigationEntry>>>,
    pub consultations: Option<Vec<Spanned<ConsultationEntry>>>,
    pub referrals: Option<Vec<Spanned<ReferralEntry>>>,
    pub diary: Option<Vec<Spanned<DiaryItemEntry>>>,
    pub documents: Option<Vec<Spanned<DocumentEntry>>>,
    /// What real providers send and consumers must survive (`docs/suppliers.md`, "Provider
    /// quirks"): `no-asserter`, `no-prescriber`, `no-encounter-recorder`, `flat-consultations`,
    /// `no-specimens`, `placeholder-documents`.
    pub quirks: Option<Vec<Spanned<String>>>,
    /// The day the patient registered here while the previous practice's record has not
    /// arrived yet: every List carries the `data-in-transit` warning naming that day.
    pub in_transit_since: Option<Spanned<String>>,
    /// Clinical areas (as in a practice's `disabled_areas`, but not `documents`) with data
    /// received and not yet filed: their Lists carry the `data-awaiting-filing` warning.
    pub awaiting_filing: Option<Vec<Spanned<String>>>,
}

/// A SNOMED CT concept: `{ snomed: "38341003", display: Hypertension }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeEntry {
    pub snomed: Option<Spanned<String>>,
    pub display: Option<Spanned<String>>,
    /// The practice system's own code for the concept: Read v2 (`14LP.00`) at EMIS-style and
    /// generic practices, CTV3 (`XE0Uc`) at TPP-style ones. Sent as a translation coding.
    pub read_code: Option<Spanned<String>>,
    /// The SNOMED CT description id of the term the clinician picked (`Extension-coding-sctdescid`).
    pub description_id: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProblemEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub code: Option<Spanned<CodeEntry>>,
    pub onset: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
    /// `active` (default) or `inactive`.
    pub status: Option<Spanned<String>>,
    /// `major` or `minor` (default).
    pub significance: Option<Spanned<String>>,
    /// Ids of other items of the same patient.
    pub related: Option<Vec<Spanned<String>>>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllergyEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub code: Option<Spanned<CodeEntry>>,
    pub asserted: Option<Spanned<String>>,
    /// When the reaction first happened; default the asserted day.
    pub onset: Option<Spanned<String>>,
    /// `active` (default) or `resolved`.
    pub status: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
    pub reaction: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MedicationEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub code: Option<Spanned<CodeEntry>>,
    /// Required.
    pub start: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
    /// Required: `acute`, `repeat` or `repeat-dispensing`.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub dosage: Option<String>,
    pub quantity: Option<String>,
    /// Repeat and repeat-dispensing only: the number of issues the authorisation allows (GP
    /// Connect `numberOfRepeatPrescriptionsAllowed`); absent when not limited.
    pub repeats_allowed: Option<Spanned<u32>>,
    /// The medication was stopped (not simply run its course), for this reason; needs `end`,
    /// the day it was stopped.
    pub stopped: Option<Spanned<String>>,
    pub note: Option<String>,
    /// The supplier's own drug code (EMIS-style practices send it beside the dm+d code).
    pub drug_code: Option<Spanned<String>>,
    /// Days one issue lasts (`expectedSupplyDuration`); default 28.
    pub supply_days: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImmunisationEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub code: Option<Spanned<CodeEntry>>,
    pub date: Option<Spanned<String>>,
    pub note: Option<String>,
    /// Batch (lot) number of the vaccine.
    pub batch: Option<Spanned<String>>,
    /// The vaccine's manufacturer, by name.
    pub manufacturer: Option<Spanned<String>>,
    /// Where on the body it was given, a SNOMED CT body site.
    pub site: Option<Spanned<CodeEntry>>,
    /// The vaccine's expiry day.
    pub expiry: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObservationEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub code: Option<Spanned<CodeEntry>>,
    pub date: Option<Spanned<String>>,
    pub value: Option<Spanned<f64>>,
    pub unit: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvestigationEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub code: Option<Spanned<CodeEntry>>,
    pub date: Option<Spanned<String>>,
    pub specimen: Option<String>,
    pub results: Option<Vec<Spanned<ResultEntry>>>,
    pub note: Option<String>,
}

/// One test result of an investigation (not an item: no `id`, no `confidential`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultEntry {
    pub code: Option<Spanned<CodeEntry>>,
    pub value: Option<Spanned<f64>>,
    pub unit: Option<String>,
    /// Reference range as written, e.g. `115-165`.
    pub range: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsultationEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub date: Option<Spanned<String>>,
    /// Required, free text such as `Surgery consultation`.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// A practitioner id.
    pub practitioner: Option<Spanned<String>>,
    /// Ids of the items recorded in this consultation.
    pub entries: Option<Vec<Spanned<String>>>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferralEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub date: Option<Spanned<String>>,
    /// Required: the service referred to.
    pub to: Option<Spanned<String>>,
    pub reason: Option<String>,
    /// `routine`, `urgent`, `asap` or `stat` (FHIR ReferralRequest priority).
    pub priority: Option<Spanned<String>>,
    /// The referral's main SNOMED CT code, sent as the coding of `reasonCode`; `reason`, if
    /// given, stays its text.
    pub code: Option<Spanned<CodeEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiaryItemEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    /// Required: when the planned action is due.
    pub date: Option<Spanned<String>>,
    /// Required: the planned action as written.
    pub text: Option<Spanned<String>>,
    /// The planned action as a SNOMED CT concept, e.g.
    /// `{ snomed: "314529007", display: Medication review due }`; `text` stays its text.
    pub code: Option<Spanned<CodeEntry>>,
    /// When the entry was made (a date, relative dates allowed). Default: the date of the
    /// consultation it is recorded in, else the day the sandbox started.
    pub entered: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DocumentEntry {
    pub id: Option<Spanned<String>>,
    pub confidential: Option<bool>,
    pub title: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub kind: Option<Spanned<CodeEntry>>,
    pub date: Option<Spanned<String>>,
    /// Default `text/plain` for `text:`, guessed from the extension for `file:`.
    pub content_type: Option<Spanned<String>>,
    /// The document's content inline; exactly one of `text` and `file`.
    pub text: Option<Spanned<String>>,
    /// A file holding the content, relative to the scenario file's folder.
    pub file: Option<Spanned<String>>,
    /// A generated document of this size (`250MB`, `40KB`, `1GB` or a number of bytes): its
    /// `text` (or file) repeated, else a filler text; made while it is sent, never held.
    pub size: Option<Spanned<String>>,
}
