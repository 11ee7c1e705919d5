//! What a PDS record carries beyond name, gender, birth and address: contact details, object
//! ids, the starting version, PDS's extensions (communication, contact preferences, pharmacies,
//! death notification), emergency contacts, multiple birth, managing organisation and the
//! patient's related people. Written on a scenario patient, checked here (each problem at its
//! `FILE:LINE:COLUMN`) and resolved into [`Demographics`], which PDS turns into FHIR. The serde
//! types of the nested entries are here; the fields themselves sit on the patient entry.
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
//! ```

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::file::{AddressEntry, NameEntry, PatientEntry};
use super::record_details::{self, Period, PeriodEntry, RecordDetails};
use super::{Address, HumanName};

mod related;
use related::related_person;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelecomEntry {
    pub system: Option<Spanned<String>>,
    pub value: Option<Spanned<String>>,
    #[serde(rename = "use")]
    pub use_: Option<Spanned<String>>,
    pub id: Option<Spanned<String>>,
    pub period: Option<Spanned<PeriodEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunicationEntry {
    pub language: Option<Spanned<String>>,
    /// Needed only for a language this sandbox has no display for.
    pub display: Option<String>,
    pub interpreter_required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPreferencesEntry {
    pub method: Option<Spanned<String>>,
    pub written_format: Option<Spanned<String>>,
    pub times: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactEntry {
    pub id: Option<Spanned<String>>,
    /// A v2-0131 code; PDS holds only emergency contacts (`C`).
    pub relationship: Option<Spanned<String>>,
    pub telecom: Option<Vec<Spanned<TelecomEntry>>>,
    pub period: Option<Spanned<PeriodEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelatedPersonEntry {
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
    pub address_keys: Option<Spanned<record_details::AddressKeysEntry>>,
}

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telecom {
    pub id: Option<String>,
    /// `phone`, `email`, `fax` or `textphone` (FHIR `other` with PDS's other-contact-system
    /// extension).
    pub system: String,
    pub value: String,
    /// `home`, `work`, `temp` or `mobile`.
    pub use_: Option<String>,
    pub period: Option<Period>,
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
pub type Coded = (&'static str, &'static str);

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

pub const V3_ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub const V2_0131: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
pub const ADDITIONAL_RELATED_PERSON_ROLE: &str =
    "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole";

/// The relationship codes PDS accepts for a related person (its OAS lists them).
pub const RELATIONSHIPS: [(&str, &str, &str); 29] = [
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
pub const CONTACT_METHODS: [(&str, Coded); 8] = [
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
pub const WRITTEN_FORMATS: [(&str, Coded); 3] = [
    ("large_print", ("11", "Large print")),
    ("braille", ("12", "Braille")),
    ("audio_tape", ("13", "Audio tape")),
];

/// Emergency contact relationship (v2-0131); PDS rejects any other for `contact`.
pub const EMERGENCY_CONTACT: Coded = ("C", "Emergency Contact");

/// Displays for the commoner UKCore-HumanLanguage codes; others need `display` in the scenario.
pub const LANGUAGES: [Coded; 24] = [
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
pub fn language_accepted(code: &str) -> bool {
    let b = code.as_bytes();
    match b {
        [b'e', b'n'] => false,
        [b'q', b'1'..=b'5'] | [b'q', b'u'] => true,
        [b'q', _] => false,
        [x, y] => x.is_ascii_lowercase() && y.is_ascii_lowercase(),
        _ => false,
    }
}

/// Receives each problem with where it was written.
pub type Report<'a> = dyn FnMut(Location, String) + 'a;

/// Checks the fields and resolves them; problems go to `report`. `deceased` says whether the
/// patient has a date of death (a death notification needs one).
pub fn check(e: &PatientEntry, deceased: bool, report: &mut Report<'_>) -> Demographics {
    let mut d = Demographics::default();
    if let Some(v) = &e.version {
        if v.value == 0 {
            report(v.referenced, "version must be 1 or more".into());
        } else {
            d.version = Some(v.value);
        }
    }
    d.name_id = e.name_id.as_ref().and_then(|i| object_id(i, report));
    d.address_id = e.address_id.as_ref().and_then(|i| object_id(i, report));
    d.telecom = telecoms(e.telecom.as_deref(), report);
    let mut ids: Vec<&Spanned<String>> = Vec::new();
    ids.extend(e.name_id.iter());
    ids.extend(e.address_id.iter());
    ids.extend(
        e.telecom
            .iter()
            .flatten()
            .filter_map(|t| t.value.id.as_ref()),
    );
    for c in e.contact.iter().flatten() {
        ids.extend(c.value.id.iter());
        ids.extend(
            c.value
                .telecom
                .iter()
                .flatten()
                .filter_map(|t| t.value.id.as_ref()),
        );
    }
    unique_ids(&ids, "object id", report);

    if let Some(n) = &e.death_notification {
        d.death_notification = match n.value.as_str() {
            "formal" => Some(DeathNotification::Formal),
            "informal" => Some(DeathNotification::Informal),
            other => {
                report(
                    n.referenced,
                    format!("death_notification '{other}' must be formal or informal"),
                );
                None
            }
        };
        if !deceased {
            report(
                n.referenced,
                "death_notification needs a date of death (deceased)".into(),
            );
        }
    }
    d.communication = e
        .communication
        .as_ref()
        .and_then(|c| communication(c, report));
    d.contact_preferences = e
        .contact_preferences
        .as_ref()
        .and_then(|c| contact_preferences(c, report));
    for (kind, value) in [
        (PharmacyKind::Nominated, &e.nominated_pharmacy),
        (PharmacyKind::PreferredDispenser, &e.preferred_dispenser),
        (
            PharmacyKind::MedicalApplianceSupplier,
            &e.medical_appliance_supplier,
        ),
    ] {
        if let Some(v) = value {
            if ods_shaped(&v.value) {
                d.pharmacies.push((kind, v.value.clone()));
            } else {
                report(
                    v.referenced,
                    format!(
                        "pharmacy ODS code '{}' must be 3 to 10 letters or digits",
                        v.value
                    ),
                );
            }
        }
    }
    for c in e.contact.iter().flatten() {
        let relationship = match &c.value.relationship {
            None => Some(EMERGENCY_CONTACT),
            Some(r) if r.value == EMERGENCY_CONTACT.0 => Some(EMERGENCY_CONTACT),
            Some(r) => {
                report(
                    r.referenced,
                    format!(
                        "contact relationship '{}' is not accepted: PDS holds only emergency contacts (C)",
                        r.value
                    ),
                );
                None
            }
        };
        let telecom = telecoms(c.value.telecom.as_deref(), report);
        if telecom.is_empty() {
            report(
                c.referenced,
                "contact has no telecom (an emergency contact needs a way to reach them)".into(),
            );
        }
        let period = c
            .value
            .period
            .as_ref()
            .and_then(|p| record_details::period(p, report));
        if let Some(relationship) = relationship {
            d.contacts.push(Contact {
                id: c.value.id.as_ref().map(|i| i.value.clone()),
                relationship,
                telecom,
                period,
            });
        }
    }
    if let Some(m) = &e.multiple_birth {
        if (1..=9).contains(&m.value) {
            d.multiple_birth = Some(m.value);
        } else {
            report(
                m.referenced,
                format!(
                    "multiple_birth {} must be 1 to 9 (the order of birth)",
                    m.value
                ),
            );
        }
    }
    if let Some(o) = &e.managing_organization {
        if ods_shaped(&o.value) {
            d.managing_organization = Some(o.value.clone());
        } else {
            report(
                o.referenced,
                format!(
                    "managing_organization '{}' must be an ODS code of 3 to 10 letters or digits",
                    o.value
                ),
            );
        }
    }
    let related_ids: Vec<&Spanned<String>> = e
        .related_people
        .iter()
        .flatten()
        .filter_map(|r| r.value.id.as_ref())
        .collect();
    unique_ids(&related_ids, "related person id", report);
    for r in e.related_people.iter().flatten() {
        if let Some(person) = related_person(r, report) {
            d.related_people.push(person);
        }
    }
    d.details = record_details::check(e, &mut telecom, report);
    d
}

fn unique_ids(ids: &[&Spanned<String>], what: &str, report: &mut Report<'_>) {
    for (i, id) in ids.iter().enumerate() {
        if let Some(first) = ids[..i].iter().find(|f| f.value == id.value) {
            report(
                id.referenced,
                format!(
                    "duplicate {what} '{}' in this patient (first at line {}, column {})",
                    id.value,
                    first.referenced.line(),
                    first.referenced.column()
                ),
            );
        }
    }
}

/// PDS object ids are short opaque strings (`254406A3`, `123`, `C123`).
fn object_id(id: &Spanned<String>, report: &mut Report<'_>) -> Option<String> {
    let ok = (1..=64).contains(&id.value.len())
        && id
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Some(id.value.clone())
    } else {
        report(
            id.referenced,
            format!(
                "object id '{}' must be 1 to 64 letters, digits or '-'",
                id.value
            ),
        );
        None
    }
}

fn ods_shaped(s: &str) -> bool {
    (3..=10).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn telecoms(list: Option<&[Spanned<TelecomEntry>]>, report: &mut Report<'_>) -> Vec<Telecom> {
    list.into_iter()
        .flatten()
        .filter_map(|t| telecom(t, report))
        .collect()
}

fn telecom(t: &Spanned<TelecomEntry>, report: &mut Report<'_>) -> Option<Telecom> {
    let e = &t.value;
    let Some(system) = &e.system else {
        report(
            t.referenced,
            "telecom has no system (phone, email or fax)".into(),
        );
        return None;
    };
    let Some(value) = &e.value else {
        report(t.referenced, "telecom has no value".into());
        return None;
    };
    let mut ok = true;
    match system.value.as_str() {
        "phone" | "fax" | "textphone" => {
            let digits = value.value.chars().filter(char::is_ascii_digit).count();
            let shaped = value
                .value
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '+');
            if !shaped || !(6..=15).contains(&digits) {
                report(
                    value.referenced,
                    format!(
                        "{} number '{}' must be 6 to 15 digits (spaces and a leading + allowed)",
                        system.value, value.value
                    ),
                );
                ok = false;
            }
        }
        "email" => {
            let shaped = value
                .value
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
            if !shaped || value.value.contains(' ') {
                report(
                    value.referenced,
                    format!("email address '{}' is not an email address", value.value),
                );
                ok = false;
            }
        }
        other => {
            report(
                system.referenced,
                format!("telecom system '{other}' must be phone, email, fax or textphone"),
            );
            ok = false;
        }
    }
    if let Some(u) = &e.use_ {
        let allowed = match system.value.as_str() {
            "phone" => ["home", "work", "temp", "mobile"].contains(&u.value.as_str()),
            _ => ["home", "work", "temp"].contains(&u.value.as_str()),
        };
        if !allowed {
            report(
                u.referenced,
                format!(
                    "telecom use '{}' must be home, work or temp{}",
                    u.value,
                    if system.value == "phone" {
                        ", or mobile"
                    } else {
                        " (mobile is for phone numbers)"
                    }
                ),
            );
            ok = false;
        }
    }
    let id = match &e.id {
        Some(i) => Some(object_id(i, report)?),
        None => None,
    };
    let period = match &e.period {
        Some(p) => Some(record_details::period(p, report)?),
        None => None,
    };
    ok.then(|| Telecom {
        id,
        system: system.value.clone(),
        value: value.value.clone(),
        use_: e.use_.as_ref().map(|u| u.value.clone()),
        period,
    })
}

fn communication(
    c: &Spanned<CommunicationEntry>,
    report: &mut Report<'_>,
) -> Option<Communication> {
    let Some(language) = &c.value.language else {
        report(c.referenced, "communication has no language".into());
        return None;
    };
    let code = language.value.as_str();
    if !language_accepted(code) {
        let why = if code == "en" {
            "PDS does not hold English as a preferred language".to_owned()
        } else {
            "it must be an ISO 639-1 code (two lower-case letters) or q1 to q5".to_owned()
        };
        report(
            language.referenced,
            format!("language '{code}' is not accepted: {why}"),
        );
        return None;
    }
    let display = match (&c.value.display, LANGUAGES.iter().find(|(k, _)| *k == code)) {
        (Some(d), _) => d.clone(),
        (None, Some((_, d))) => (*d).to_owned(),
        (None, None) => {
            report(
                language.referenced,
                format!("language '{code}' needs a display (this sandbox does not know its name)"),
            );
            return None;
        }
    };
    Some(Communication {
        language: code.to_owned(),
        display,
        interpreter_required: c.value.interpreter_required,
    })
}

fn lookup(
    value: &Spanned<String>,
    table: &[(&str, Coded)],
    what: &str,
    report: &mut Report<'_>,
) -> Option<Coded> {
    let found = table
        .iter()
        .find(|(k, _)| *k == value.value)
        .map(|(_, c)| *c);
    if found.is_none() {
        let names: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
        report(
            value.referenced,
            format!(
                "{what} '{}' must be one of {}",
                value.value,
                names.join(", ")
            ),
        );
    }
    found
}

fn contact_preferences(
    c: &Spanned<ContactPreferencesEntry>,
    report: &mut Report<'_>,
) -> Option<ContactPreferences> {
    let e = &c.value;
    let method = e
        .method
        .as_ref()
        .map(|m| lookup(m, &CONTACT_METHODS, "contact method", report));
    let written_format = e
        .written_format
        .as_ref()
        .map(|w| lookup(w, &WRITTEN_FORMATS, "written format", report));
    if let Some(t) = &e.times {
        if t.value.chars().count() > 40 {
            report(
                t.referenced,
                "contact times are free text of at most 40 characters".into(),
            );
            return None;
        }
        if e.method.is_none() {
            report(
                t.referenced,
                "contact times need a contact method (PDS rule)".into(),
            );
            return None;
        }
    }
    if e.method.is_none() && e.written_format.is_none() {
        report(
            c.referenced,
            "contact_preferences needs a method or a written_format".into(),
        );
        return None;
    }
    Some(ContactPreferences {
        method: method.map(|m| m.ok_or(())).transpose().ok()?,
        written_format: written_format.map(|w| w.ok_or(())).transpose().ok()?,
        times: e.times.as_ref().map(|t| t.value.clone()),
    })
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
