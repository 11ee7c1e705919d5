//! Checks the record details of a patient (periods, suffix, temporary address, birth place,
//! history, EHIC card; see [`crate::scenario::file::record_details`] for the format) and resolves
//! them into [`RecordDetails`]; each problem at its `FILE:LINE:COLUMN`.

use chrono::NaiveDate;
use serde_saphyr::Spanned;

use super::Report;
use crate::scenario::Address;
use crate::scenario::demographics::Telecom;
use crate::scenario::file::*;
use crate::scenario::record_details::*;

/// Checks the fields and resolves them; problems go to `report`.
pub(super) fn check(
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

pub(super) fn address_keys(
    k: &Spanned<AddressKeysEntry>,
    report: &mut Report<'_>,
) -> Option<AddressKeys> {
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
pub(super) fn period(p: &Spanned<PeriodEntry>, report: &mut Report<'_>) -> Option<Period> {
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
