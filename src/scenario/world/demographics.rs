//! What a PDS record carries beyond name, gender, birth and address, resolved: contact details,
//! object ids, the starting version, PDS's extensions (communication, contact preferences,
//! pharmacies, death notification), emergency contacts, multiple birth, managing organisation
//! and the patient's related people, which PDS turns into FHIR; and PDS's code lists for them.

pub(crate) use super::record_details::Telecom;
use super::record_details::{self, Period, RecordDetails};
use super::{Address, HumanName};

/// The resolved fields. Everything is optional: a patient without them is a minimal PDS record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demographics {
    /// `meta.versionId` at start; 1 when not written.
    pub version: Option<u64>,
    pub name_id: Option<String>,
    pub address_id: Option<String>,
    pub telecom: Vec<Telecom>,
    pub death_notification: Option<DeathNotification>,
    pub communication: Option<Communication>,
    pub contact_preferences: Option<ContactPreferences>,
    /// Nominated pharmacy, preferred dispenser, appliance supplier: in PDS's extension order.
    pub pharmacies: Vec<(PharmacyKind, String)>,
    pub contacts: Vec<Contact>,
    pub multiple_birth: Option<u64>,
    pub managing_organization: Option<String>,
    pub related_people: Vec<RelatedPerson>,
    /// Periods, suffix, temporary address, birth place, history and coverage.
    pub details: RecordDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathNotification {
    /// Code 1: a GP or trust told PDS.
    Informal,
    /// Code 2: registered; PDS then refuses changes to the date.
    Formal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Communication {
    pub language: String,
    pub display: String,
    pub interpreter_required: Option<bool>,
}

/// A code with its display, from one of PDS's fixed lists.
pub(crate) type Coded = (&'static str, &'static str);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPreferences {
    pub method: Option<Coded>,
    pub written_format: Option<Coded>,
    pub times: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PharmacyKind {
    Nominated,
    PreferredDispenser,
    MedicalApplianceSupplier,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: Option<String>,
    pub relationship: Coded,
    pub telecom: Vec<Telecom>,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedPerson {
    pub id: Option<String>,
    /// (system, code, display)
    pub relationship: Vec<(&'static str, &'static str, &'static str)>,
    pub nhs_number: Option<String>,
    pub name: Option<HumanName>,
    pub telecom: Vec<Telecom>,
    pub address: Option<Address>,
    pub contact_rank: Option<u64>,
    pub copy_correspondence: Option<bool>,
    pub active: bool,
    pub contact_preferences: Option<ContactPreferences>,
    pub communication: Option<Communication>,
    pub period: Option<Period>,
    pub name_suffix: Vec<String>,
    pub name_period: Option<Period>,
    pub address_period: Option<Period>,
    pub address_keys: Option<record_details::AddressKeys>,
}

pub(crate) const V3_ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub(crate) const V2_0131: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
pub(crate) const ADDITIONAL_RELATED_PERSON_ROLE: &str =
    "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole";

/// The relationship codes PDS accepts for a related person (its OAS lists them).
pub(crate) const RELATIONSHIPS: [(&str, &str, &str); 29] = [
    (ADDITIONAL_RELATED_PERSON_ROLE, "Agent", "Agent of patient"),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "Guardian",
        "Guardian of patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "Personal",
        "Personal relationship with the patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "PolygamousPartner",
        "Polygamous Partner of patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "Dependant",
        "Dependant of patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "NonDependant",
        "Non Dependant of patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "ProxyContact",
        "Proxy Contact for patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "ProxyCommunication",
        "Proxy Communication for patient",
    ),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "ProxyContactCommunication",
        "Proxy Contact and Communication for patient",
    ),
    (ADDITIONAL_RELATED_PERSON_ROLE, "Carer", "Carer of patient"),
    (
        ADDITIONAL_RELATED_PERSON_ROLE,
        "NotSpecified",
        "Not Specified",
    ),
    (V3_ROLE_CODE, "SPS", "spouse"),
    (V3_ROLE_CODE, "DOMPART", "domestic partner"),
    (V3_ROLE_CODE, "PRN", "parent"),
    (V3_ROLE_CODE, "PRNFOST", "foster parent"),
    (V3_ROLE_CODE, "STPPRN", "step parent"),
    (V3_ROLE_CODE, "CHILD", "child"),
    (V3_ROLE_CODE, "MTH", "mother"),
    (V3_ROLE_CODE, "FTH", "father"),
    (V3_ROLE_CODE, "SIS", "sister"),
    (V3_ROLE_CODE, "BRO", "brother"),
    (V3_ROLE_CODE, "FAMMEMB", "family member"),
    (V3_ROLE_CODE, "ONESELF", "self"),
    (V3_ROLE_CODE, "GRPRN", "grandparent"),
    (V3_ROLE_CODE, "GRNDCHILD", "grandchild"),
    (V3_ROLE_CODE, "SON", "natural son"),
    (V3_ROLE_CODE, "DAU", "natural daughter"),
    (V2_0131, "N", "Next-of-Kin"),
    (V2_0131, "U", "Unknown"),
];

/// PreferredContactMethod codes (PDS OAS `ContactPreference`), by the name a scenario uses.
pub(crate) const CONTACT_METHODS: [(&str, Coded); 8] = [
    ("letter", ("1", "Letter")),
    ("visit", ("2", "Visit")),
    ("telephone", ("3", "Telephone")),
    ("email", ("4", "E-mail")),
    ("minicom", ("5", "Minicom (Textphone)")),
    ("proxy", ("6", "Telephone contact via proxy")),
    ("sign_language", ("7", "Sign language")),
    ("no_telephone", ("8", "No Telephone contact")),
];

/// PreferredWrittenCommunicationFormat codes.
pub(crate) const WRITTEN_FORMATS: [(&str, Coded); 3] = [
    ("large_print", ("11", "Large print")),
    ("braille", ("12", "Braille")),
    ("audio_tape", ("13", "Audio tape")),
];

/// Emergency contact relationship (v2-0131); PDS rejects any other for `contact`.
pub(crate) const EMERGENCY_CONTACT: Coded = ("C", "Emergency Contact");

/// Displays for the commoner UKCore-HumanLanguage codes; others need `display` in the scenario.
pub(crate) const LANGUAGES: [Coded; 24] = [
    ("q1", "Braille"),
    ("q2", "American Sign Language"),
    ("q3", "Australian Sign Language"),
    ("q4", "British Sign Language"),
    ("q5", "Makaton"),
    ("ar", "Arabic"),
    ("bn", "Bengali"),
    ("cy", "Welsh"),
    ("de", "German"),
    ("es", "Spanish; Castilian"),
    ("fr", "French"),
    ("gd", "Gaelic; Scottish Gaelic"),
    ("gu", "Gujarati"),
    ("hi", "Hindi"),
    ("it", "Italian"),
    ("lt", "Lithuanian"),
    ("pa", "Panjabi; Punjabi"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian; Moldavian; Moldovan"),
    ("so", "Somali"),
    ("ta", "Tamil"),
    ("ur", "Urdu"),
    ("zh", "Chinese"),
];

/// Whether `code` is a language PDS accepts: ISO 639-1 (two lower-case letters, `qu` being the
/// only real `q` code) or the UK extensions `q1`..`q5`; never English (PDS refuses `en`).
pub(crate) fn language_accepted(code: &str) -> bool {
    let b = code.as_bytes();
    match b {
        [b'e', b'n'] => false,
        [b'q', b'1'..=b'5'] | [b'q', b'u'] => true,
        [b'q', _] => false,
        [x, y] => x.is_ascii_lowercase() && y.is_ascii_lowercase(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_follow_pds_rules() {
        for ok in ["fr", "q1", "q5", "qu", "pl"] {
            assert!(language_accepted(ok), "{ok}");
        }
        for bad in ["en", "qa", "q9", "FR", "fra", ""] {
            assert!(!language_accepted(bad), "{bad}");
        }
    }
}
