//! More of what a PDS record can hold, written on a scenario patient beside the fields of
//! [`super::demographics`]: periods, a name suffix, a temporary address, place of birth, history
//! (previous names, addresses and contact details, which PDS searches but never shows on a read)
//! and the patient's EHIC card (`Coverage`). Checked here, each problem at its `FILE:LINE:COLUMN`.
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
//! ```

use chrono::NaiveDate;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Address;
use super::demographics::{Report, Telecom, TelecomEntry};
use super::file::{NameEntry, PatientEntry};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodEntry {
    pub start: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporaryAddressEntry {
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
pub struct AddressKeysEntry {
    pub paf: Option<Spanned<String>>,
    pub uprn: Option<Spanned<String>>,
}

/// Why the patient left the practice's list (PDS's removal reason exit code) and when.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovalEntry {
    pub code: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    pub end: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthPlaceEntry {
    pub city: Option<String>,
    pub district: Option<String>,
    /// ISO 3166 alpha-3, e.g. `GBR`.
    pub country: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoricNameEntry {
    pub prefix: Option<String>,
    pub given: Option<Vec<String>>,
    pub family: Option<Spanned<String>>,
    pub suffix: Option<Vec<String>>,
    pub period: Option<Spanned<PeriodEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoricAddressEntry {
    pub lines: Option<Vec<String>>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub postcode: Option<String>,
    pub period: Option<Spanned<PeriodEntry>>,
}

/// An EHIC card, as PDS's `Coverage` holds it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageEntry {
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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryAddress {
    pub id: Option<String>,
    pub text: Option<String>,
    pub address: Address,
    pub period: Option<Period>,
    pub keys: Option<AddressKeys>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressKeys {
    pub paf: Option<String>,
    pub uprn: Option<String>,
}

/// PDS's removal reason exit codes.
pub const REMOVAL_REASONS: [(&str, &str); 6] = [
    ("DEA", "Death"),
    ("EMB", "Embarkation"),
    ("SCT", "Transferred to Scotland"),
    ("NIT", "Transferred to Northern Ireland"),
    ("TRA", "Temporary resident not returned"),
    ("ORR", "Other reason"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// (code, display) from [`REMOVAL_REASONS`].
    pub reason: (&'static str, &'static str),
    pub period: Period,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthPlace {
    pub city: Option<String>,
    pub district: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricName {
    pub prefix: Option<String>,
    pub given: Vec<String>,
    pub family: String,
    pub suffix: Vec<String>,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricAddress {
    pub address: Address,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub card_number: String,
    pub country: String,
    pub institution: String,
    pub personal_id: String,
    pub expires: String,
}

/// The resolved fields; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordDetails {
    pub name_suffix: Vec<String>,
    pub name_period: Option<Period>,
    pub address_period: Option<Period>,
    pub temporary_address: Option<TemporaryAddress>,
    pub birth_place: Option<BirthPlace>,
    pub historic_names: Vec<HistoricName>,
    pub historic_addresses: Vec<HistoricAddress>,
    pub historic_telecom: Vec<Telecom>,
    pub coverage: Option<Coverage>,
    pub address_keys: Option<AddressKeys>,
    pub registered_with_id: Option<String>,
    pub registered_with_period: Option<Period>,
    pub managing_organization_period: Option<Period>,
    pub removal_from_registration: Option<Removal>,
}

/// Checks the fields and resolves them; problems go to `report`.
pub fn check(
    e: &PatientEntry,
    telecom: &mut dyn FnMut(&Spanned<TelecomEntry>, &mut Report<'_>) -> Option<Telecom>,
    report: &mut Report<'_>,
) -> RecordDetails {
    let name: Option<&NameEntry> = e.name.as_ref().map(|n| &n.value);
    RecordDetails {
        name_suffix: name.and_then(|n| n.suffix.clone()).unwrap_or_default(),
        name_period: e.name_period.as_ref().and_then(|p| period(p, report)),
        address_period: e.address_period.as_ref().and_then(|p| period(p, report)),
        temporary_address: e.temporary_address.as_ref().and_then(|t| {
            let a = &t.value;
            if a.lines.as_ref().is_none_or(Vec::is_empty) && a.postcode.is_none() {
                report(
                    t.referenced,
                    "temporary_address needs lines or a postcode".into(),
                );
                return None;
            }
            let bounded = a
                .period
                .as_ref()
                .is_some_and(|p| p.value.start.is_some() && p.value.end.is_some());
            if !bounded {
                report(
                    t.referenced,
                    "temporary_address needs a period with a start and an end (PDS rule)".into(),
                );
                return None;
            }
            Some(TemporaryAddress {
                id: a.id.as_ref().map(|i| i.value.clone()),
                text: a.text.clone(),
                address: Address {
                    lines: a.lines.clone().unwrap_or_default(),
                    city: a.city.clone(),
                    district: a.district.clone(),
                    postcode: a.postcode.clone(),
                },
                period: a.period.as_ref().and_then(|p| period(p, report)),
                keys: a.keys.as_ref().and_then(|k| address_keys(k, report)),
            })
        }),
        birth_place: e.birth_place.as_ref().map(|b| BirthPlace {
            city: b.city.clone(),
            district: b.district.clone(),
            country: b
                .country
                .as_ref()
                .and_then(|c| country(c, "birth_place country", report)),
        }),
        historic_names: e
            .historic_names
            .iter()
            .flatten()
            .filter_map(|n| {
                let Some(family) = &n.value.family else {
                    report(n.referenced, "historic name has no family name".into());
                    return None;
                };
                Some(HistoricName {
                    prefix: n.value.prefix.clone(),
                    given: n.value.given.clone().unwrap_or_default(),
                    family: family.value.clone(),
                    suffix: n.value.suffix.clone().unwrap_or_default(),
                    period: n.value.period.as_ref().and_then(|p| period(p, report)),
                })
            })
            .collect(),
        historic_addresses: e
            .historic_addresses
            .iter()
            .flatten()
            .filter_map(|a| {
                let v = &a.value;
                if v.lines.as_ref().is_none_or(Vec::is_empty) && v.postcode.is_none() {
                    report(
                        a.referenced,
                        "historic address needs lines or a postcode".into(),
                    );
                    return None;
                }
                Some(HistoricAddress {
                    address: Address {
                        lines: v.lines.clone().unwrap_or_default(),
                        city: v.city.clone(),
                        district: v.district.clone(),
                        postcode: v.postcode.clone(),
                    },
                    period: v.period.as_ref().and_then(|p| period(p, report)),
                })
            })
            .collect(),
        historic_telecom: e
            .historic_telecom
            .iter()
            .flatten()
            .filter_map(|t| telecom(t, report))
            .collect(),
        coverage: e.coverage.as_ref().and_then(|c| coverage(c, report)),
        address_keys: e
            .address_keys
            .as_ref()
            .and_then(|k| address_keys(k, report)),
        registered_with_id: e.registered_with_id.as_ref().and_then(|i| {
            let ok = (1..=64).contains(&i.value.len())
                && i.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                report(
                    i.referenced,
                    format!(
                        "registered_with_id '{}' must be 1 to 64 letters, digits or '-'",
                        i.value
                    ),
                );
            }
            ok.then(|| i.value.clone())
        }),
        registered_with_period: e
            .registered_with_period
            .as_ref()
            .and_then(|p| period(p, report)),
        managing_organization_period: e
            .managing_organization_period
            .as_ref()
            .and_then(|p| period(p, report)),
        removal_from_registration: e
            .removal_from_registration
            .as_ref()
            .and_then(|r| removal(r, report)),
    }
}

pub fn address_keys(k: &Spanned<AddressKeysEntry>, report: &mut Report<'_>) -> Option<AddressKeys> {
    let mut ok = true;
    let mut key =
        |v: &Option<Spanned<String>>, what: &str, len: std::ops::RangeInclusive<usize>| {
            let v = v.as_ref()?;
            if !len.contains(&v.value.len()) || !v.value.chars().all(|c| c.is_ascii_digit()) {
                report(
                    v.referenced,
                    format!(
                        "address key {what} '{}' must be {} to {} digits",
                        v.value,
                        len.start(),
                        len.end()
                    ),
                );
                ok = false;
            }
            Some(v.value.clone())
        };
    let keys = AddressKeys {
        paf: key(&k.value.paf, "paf", 1..=8),
        uprn: key(&k.value.uprn, "uprn", 1..=12),
    };
    if keys.paf.is_none() && keys.uprn.is_none() {
        report(k.referenced, "address keys need a paf or a uprn".into());
        ok = false;
    }
    ok.then_some(keys)
}

fn removal(r: &Spanned<RemovalEntry>, report: &mut Report<'_>) -> Option<Removal> {
    let Some(code) = &r.value.code else {
        report(
            r.referenced,
            "removal_from_registration needs a code (DEA, EMB, SCT, NIT, TRA or ORR)".into(),
        );
        return None;
    };
    let Some(reason) = REMOVAL_REASONS.iter().find(|(c, _)| *c == code.value) else {
        report(
            code.referenced,
            format!(
                "removal_from_registration code '{}' must be DEA, EMB, SCT, NIT, TRA or ORR",
                code.value
            ),
        );
        return None;
    };
    let dates = Spanned {
        value: PeriodEntry {
            start: r.value.start.clone(),
            end: r.value.end.clone(),
        },
        referenced: r.referenced,
        defined: r.defined,
    };
    Some(Removal {
        reason: *reason,
        period: period(&dates, report)?,
    })
}

/// `YYYY-MM-DD` dates, the start not after the end.
pub fn period(p: &Spanned<PeriodEntry>, report: &mut Report<'_>) -> Option<Period> {
    let mut ok = true;
    let mut date = |d: &Option<Spanned<String>>, which: &str| -> Option<NaiveDate> {
        let d = d.as_ref()?;
        let parsed = NaiveDate::parse_from_str(&d.value, "%Y-%m-%d").ok();
        if parsed.is_none() {
            report(
                d.referenced,
                format!("period {which} '{}' must be a date, YYYY-MM-DD", d.value),
            );
            ok = false;
        }
        parsed
    };
    let start = date(&p.value.start, "start");
    let end = date(&p.value.end, "end");
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        report(
            p.referenced,
            format!("period starts ({s}) after it ends ({e})"),
        );
        ok = false;
    }
    ok.then(|| Period {
        start: p.value.start.as_ref().map(|s| s.value.clone()),
        end: p.value.end.as_ref().map(|e| e.value.clone()),
    })
}

fn country(c: &Spanned<String>, what: &str, report: &mut Report<'_>) -> Option<String> {
    if c.value.len() == 3 && c.value.chars().all(|ch| ch.is_ascii_uppercase()) {
        Some(c.value.clone())
    } else {
        report(
            c.referenced,
            format!(
                "{what} '{}' must be an ISO 3166 alpha-3 code such as GBR or FRA",
                c.value
            ),
        );
        None
    }
}

/// PDS's rule for EHIC values: letters, digits and `- , / : ' .` and spaces, at most `max` long.
pub fn ehic_value_ok(value: &str, max: usize) -> bool {
    let v = value.trim();
    !v.is_empty()
        && v.chars().count() <= max
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || " -,/:'.".contains(c))
}

fn coverage(c: &Spanned<CoverageEntry>, report: &mut Report<'_>) -> Option<Coverage> {
    let e = &c.value;
    let mut ok = true;
    let mut value = |v: &Option<Spanned<String>>, field: &str, max: usize| -> String {
        match v {
            None => {
                report(c.referenced, format!("coverage has no {field}"));
                ok = false;
                String::new()
            }
            Some(v) if !ehic_value_ok(&v.value, max) => {
                report(
                    v.referenced,
                    format!(
                        "coverage {field} '{}' must be 1 to {max} letters, digits, spaces or - , / : ' .",
                        v.value
                    ),
                );
                ok = false;
                String::new()
            }
            Some(v) => v.value.trim().to_owned(),
        }
    };
    let card_number = value(&e.card_number, "card_number", 25);
    let institution = value(&e.institution, "institution", 30);
    let personal_id = value(&e.personal_id, "personal_id", 25);
    let country = match &e.country {
        None => {
            report(c.referenced, "coverage has no country".into());
            ok = false;
            None
        }
        Some(v) => country(v, "coverage country", report),
    };
    let expires = match &e.expires {
        None => {
            report(c.referenced, "coverage has no expires date".into());
            ok = false;
            None
        }
        Some(d) if NaiveDate::parse_from_str(&d.value, "%Y-%m-%d").is_err() => {
            report(
                d.referenced,
                format!("coverage expires '{}' must be a date, YYYY-MM-DD", d.value),
            );
            ok = false;
            None
        }
        Some(d) => Some(d.value.clone()),
    };
    match (ok, country, expires) {
        (true, Some(country), Some(expires)) => Some(Coverage {
            card_number,
            country,
            institution,
            personal_id,
            expires,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehic_values_follow_pds_rules() {
        assert!(ehic_value_ok("29401395498043123948", 25));
        assert!(ehic_value_ok("DE 98735/1", 30));
        assert!(!ehic_value_ok("", 25));
        assert!(!ehic_value_ok("abc!", 25));
        assert!(!ehic_value_ok(&"9".repeat(26), 25));
    }
}
