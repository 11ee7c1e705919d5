//! The format of a PDS record's fields beyond name, gender, birth and address, as written on a
//! scenario patient (serde types only; [`crate::scenario::validate`] checks them and
//! [`crate::scenario::world::demographics`] holds what they resolve to):
//!
//! ```yaml
//! version: 2                       # meta.versionId at start (default 1)
//! name_id: "123"                   # object ids PDS would have assigned (default: generated)
//! address_id: "456"
//! telecom:
//!   - { system: phone, value: "01632960587", use: home, id: "789" }
//!   - { system: phone, value: "07700900123", use: mobile }
//!   - { system: email, value: jane.smith@example.com }
//! death_notification: formal       # or informal; needs `deceased`
//! communication: { language: fr, interpreter_required: true }
//! contact_preferences: { method: letter, written_format: braille, times: Not after 7pm }
//! nominated_pharmacy: FA123
//! contact: [{ id: C123, relationship: C, telecom: [{ system: phone, value: "01632960587" }] }]
//! multiple_birth: 1
//! managing_organization: Y12345
//! related_people:
//!   - { id: 507B7621, relationship: [Guardian], name: { given: [Jane], family: Smith },
//!       contact_rank: 1, copy_correspondence: true }

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::record_details::{AddressKeysEntry, PeriodEntry};
use super::{AddressEntry, NameEntry};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelecomEntry {
    pub system: Option<Spanned<String>>,
    pub value: Option<Spanned<String>>,
    #[serde(rename = "use")]
    pub use_: Option<Spanned<String>>,
    pub id: Option<Spanned<String>>,
    pub period: Option<Spanned<PeriodEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommunicationEntry {
    pub language: Option<Spanned<String>>,
    /// Needed only for a language this sandbox has no display for.
    pub display: Option<String>,
    pub interpreter_required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactPreferencesEntry {
    pub method: Option<Spanned<String>>,
    pub written_format: Option<Spanned<String>>,
    pub times: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactEntry {
    pub id: Option<Spanned<String>>,
    /// A v2-0131 code; PDS holds only emergency contacts (`C`).
    pub relationship: Option<Spanned<String>>,
    pub telecom: Option<Vec<Spanned<TelecomEntry>>>,
    pub period: Option<Spanned<PeriodEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelatedPersonEntry {
    pub id: Option<Spanned<String>>,
    pub relationship: Option<Vec<Spanned<String>>>,
    /// The related person's own NHS number, when PDS holds them (a "referenced" related person);
    /// without it `name` and `address` are required.
    pub nhs_number: Option<Spanned<String>>,
    pub name: Option<Spanned<NameEntry>>,
    pub telecom: Option<Vec<Spanned<TelecomEntry>>>,
    pub address: Option<AddressEntry>,
    /// 1 is contacted first.
    pub contact_rank: Option<Spanned<u64>>,
    /// Whether correspondence for the patient is copied to them.
    pub copy_correspondence: Option<bool>,
    /// Default `true`; `false` for a relationship no longer in force.
    pub active: Option<bool>,
    pub contact_preferences: Option<Spanned<ContactPreferencesEntry>>,
    pub communication: Option<Spanned<CommunicationEntry>>,
    /// When the relationship holds.
    pub period: Option<Spanned<PeriodEntry>>,
    pub name_period: Option<Spanned<PeriodEntry>>,
    pub address_period: Option<Spanned<PeriodEntry>>,
    pub address_keys: Option<Spanned<AddressKeysEntry>>,
}
