//! The format of more of what a PDS record can hold, written on a scenario patient: periods, a
//! name suffix, a temporary address, place of birth, history and the EHIC card (serde types only;
//! [`crate::scenario::validate`] checks them and [`crate::scenario::world::record_details`] holds
//! what they resolve to):
//!
//! ```yaml
//! name: { prefix: Mrs, given: [Jane], family: Smith, suffix: [MBE] }
//! name_period: { start: 2024-01-01, end: 2025-12-31 }
//! address_period: { start: 2024-01-01 }
//! temporary_address:
//!   { id: T456, text: Student Accommodation, lines: [1 Trevelyan Square], postcode: LS1 6AE,
//!     period: { start: 2024-01-01, end: 2025-12-31 } }
//! birth_place: { city: Manchester, district: Greater Manchester, country: GBR }
//! historic_names: [{ given: [Jane], family: Jones, period: { start: 2000-01-01, end: 2010-05-01 } }]
//! historic_addresses: [{ lines: [2 Old Road, Leeds], postcode: LS2 7AA }]
//! historic_telecom: [{ system: email, value: old@example.com }]
//! coverage:
//!   { card_number: "29401395498043123948", country: FRA, institution: 92847ADGJL,
//!     personal_id: 178705ABC, expires: 2030-12-31 }
//! address_keys: { paf: "12345678", uprn: "123456789012" }   # also `keys:` on temporary_address
//! registered_with_id: 254406A3      # the registered practice's object id (default: generated)
//! registered_with_period: { start: 2024-01-01 }
//! managing_organization_period: { start: 2024-01-01 }
//! removal_from_registration: { code: SCT, start: 2020-01-01, end: 2021-12-31 }

use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeriodEntry {
    pub start: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemporaryAddressEntry {
    pub id: Option<Spanned<String>>,
    /// What kind of temporary address, e.g. `Student Accommodation`.
    pub text: Option<String>,
    pub lines: Option<Vec<String>>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub postcode: Option<String>,
    pub period: Option<Spanned<PeriodEntry>>,
    pub keys: Option<Spanned<AddressKeysEntry>>,
}

/// The address's keys in the Postcode Address File and the national gazetteer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressKeysEntry {
    pub paf: Option<Spanned<String>>,
    pub uprn: Option<Spanned<String>>,
}

/// Why the patient left the practice's list (PDS's removal reason exit code) and when.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemovalEntry {
    pub code: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BirthPlaceEntry {
    pub city: Option<String>,
    pub district: Option<String>,
    /// ISO 3166 alpha-3, e.g. `GBR`.
    pub country: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoricNameEntry {
    pub prefix: Option<String>,
    pub given: Option<Vec<String>>,
    pub family: Option<Spanned<String>>,
    pub suffix: Option<Vec<String>>,
    pub period: Option<Spanned<PeriodEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoricAddressEntry {
    pub lines: Option<Vec<String>>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub postcode: Option<String>,
    pub period: Option<Spanned<PeriodEntry>>,
}

/// An EHIC card, as PDS's `Coverage` holds it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CoverageEntry {
    /// The card's identification number (`identifier[0].value`), at most 25 characters.
    pub card_number: Option<Spanned<String>>,
    /// The issuing country, ISO 3166 alpha-3 (`identifier[0].assigner`).
    pub country: Option<Spanned<String>>,
    /// The institution id (`payor[0].identifier.value`), at most 30 characters.
    pub institution: Option<Spanned<String>>,
    /// The holder's personal id (`beneficiary.identifier.value`), at most 25 characters.
    pub personal_id: Option<Spanned<String>>,
    /// The expiry date (`period.end`).
    pub expires: Option<Spanned<String>>,
}
