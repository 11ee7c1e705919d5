//! Checks a patient's PDS fields beyond name, gender, birth and address (see
//! [`crate::scenario::file::demographics`] for the format) and resolves them into
//! [`Demographics`]; each problem at its `FILE:LINE:COLUMN`.

use serde_saphyr::Spanned;

use super::{Report, record_details};
use crate::scenario::demographics::*;
use crate::scenario::file::{
    CommunicationEntry, ContactPreferencesEntry, PatientEntry, TelecomEntry,
};

mod related;
use related::related_person;

/// Checks the fields and resolves them; problems go to `report`. `deceased` says whether the
/// patient has a date of death (a death notification needs one).
pub(super) fn check(e: &PatientEntry, deceased: bool, report: &mut Report<'_>) -> Demographics {
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
