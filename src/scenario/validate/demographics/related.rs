//! A scenario patient's related people (`related_people:`), checked and resolved.

use serde_saphyr::Spanned;

use super::{Report, communication, contact_preferences, object_id, telecoms};
use crate::nhs_number::NhsNumber;
use crate::scenario::demographics::{RELATIONSHIPS, RelatedPerson};
use crate::scenario::file::{AddressEntry, PeriodEntry, RelatedPersonEntry};
use crate::scenario::{Address, HumanName};

pub(super) fn related_person(
    r: &Spanned<RelatedPersonEntry>,
    report: &mut Report<'_>,
) -> Option<RelatedPerson> {
    let e = &r.value;
    let mut ok = true;
    let mut relationship = Vec::new();
    match e.relationship.as_deref() {
        None | Some([]) => {
            report(
                r.referenced,
                "related person has no relationship (e.g. [Guardian], [MTH], [N])".into(),
            );
            ok = false;
        }
        Some(codes) => {
            for code in codes {
                match RELATIONSHIPS.iter().find(|(_, c, _)| *c == code.value) {
                    Some(found) => relationship.push(*found),
                    None => {
                        report(
                            code.referenced,
                            format!(
                                "relationship '{}' is not one PDS accepts (e.g. Guardian, Carer, Agent, MTH, FTH, SPS, N)",
                                code.value
                            ),
                        );
                        ok = false;
                    }
                }
            }
        }
    }
    let id = match &e.id {
        Some(i) => Some(object_id(i, report)?),
        None => None,
    };
    let nhs_number = match &e.nhs_number {
        Some(n) => match NhsNumber::parse(&n.value) {
            Ok(n) => Some(n.as_str().to_owned()),
            Err(err) => {
                report(n.referenced, err.to_string());
                ok = false;
                None
            }
        },
        None => None,
    };
    let name = match &e.name {
        Some(n) => match &n.value.family {
            Some(f) if !f.value.trim().is_empty() => Some(HumanName {
                prefix: n.value.prefix.clone(),
                given: n.value.given.clone().unwrap_or_default(),
                family: f.value.trim().to_owned(),
            }),
            _ => {
                report(n.referenced, "related person's name has no family".into());
                ok = false;
                None
            }
        },
        None => None,
    };
    if e.nhs_number.is_none() && (e.name.is_none() || e.address.is_none()) {
        report(
            r.referenced,
            "related person needs the nhs_number of their own PDS record, or else a name and an address (PDS rule)".into(),
        );
        ok = false;
    }
    let rank = match &e.contact_rank {
        Some(rank) if rank.value == 0 => {
            report(rank.referenced, "contact_rank must be 1 or more".into());
            ok = false;
            None
        }
        Some(rank) => Some(rank.value),
        None => None,
    };
    let telecom = telecoms(e.telecom.as_deref(), report);
    let contact_preferences = match &e.contact_preferences {
        Some(c) => Some(contact_preferences(c, report)?),
        None => None,
    };
    let communication = match &e.communication {
        Some(c) => Some(communication(c, report)?),
        None => None,
    };
    let period = |p: &Option<Spanned<PeriodEntry>>, report: &mut Report<'_>| {
        p.as_ref()
            .and_then(|p| super::record_details::period(p, report))
    };
    let relationship_period = period(&e.period, report);
    let name_period = period(&e.name_period, report);
    let address_period = period(&e.address_period, report);
    let address_keys = e
        .address_keys
        .as_ref()
        .and_then(|k| super::record_details::address_keys(k, report));
    ok.then(|| RelatedPerson {
        period: relationship_period,
        name_suffix: e
            .name
            .as_ref()
            .and_then(|n| n.value.suffix.clone())
            .unwrap_or_default(),
        name_period,
        address_period,
        address_keys,
        id,
        relationship,
        nhs_number,
        name,
        telecom,
        address: e.address.as_ref().map(address),
        contact_rank: rank,
        copy_correspondence: e.copy_correspondence,
        active: e.active.unwrap_or(true),
        contact_preferences,
        communication,
    })
}

fn address(a: &AddressEntry) -> Address {
    Address {
        lines: a.lines.clone().unwrap_or_default(),
        city: a.city.clone(),
        district: a.district.clone(),
        postcode: a.postcode.clone(),
    }
}
