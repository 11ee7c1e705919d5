//! Checks of the scenario fields that make a migrate Bundle look like a real supplier's: the
//! practice's GP system and branch surgeries, a patient's registration, and the codes and
//! details GP systems record beside the SNOMED CT concept. Each check returns the resolved value
//! or the message the checker reports at the field.

use chrono::NaiveDate;
use serde_saphyr::{Location, Spanned};

use crate::scenario::file::{
    AddressEntry, CodeEntry, ImmunisationEntry, MedicationEntry, PracticeEntry, RegistrationEntry,
};
use crate::scenario::{Address, Branch, Code, Registration, Supplier, dates};

/// Where a problem is reported: the field's position and the message.
pub(crate) type Report<'r> = &'r mut dyn FnMut(Location, String);

fn checked<T, U>(
    v: &Spanned<T>,
    check: impl FnOnce(&T) -> Result<U, String>,
    report: Report<'_>,
) -> Option<U> {
    match check(&v.value) {
        Ok(u) => Some(u),
        Err(m) => {
            report(v.referenced, m);
            None
        }
    }
}

fn date(
    v: Option<&Spanned<String>>,
    start_day: NaiveDate,
    report: Report<'_>,
) -> Option<NaiveDate> {
    v.and_then(|v| {
        checked(
            v,
            |t| dates::resolve(t, start_day).map_err(|e| e.to_string()),
            report,
        )
    })
}

fn text(v: Option<&Spanned<String>>, what: &str, report: Report<'_>) -> Option<String> {
    v.and_then(|v| {
        checked(
            v,
            |t| match t.trim() {
                "" => Err(format!("{what} is empty")),
                t => Ok(t.to_owned()),
            },
            report,
        )
    })
}

/// An address as written, as the world holds it.
pub(super) fn address(a: &AddressEntry) -> Address {
    Address {
        lines: a.lines.clone().unwrap_or_default(),
        city: a.city.clone(),
        district: a.district.clone(),
        postcode: a.postcode.clone(),
    }
}

/// A practice's `supplier` (default generic) and `branches` (ids unique and not `main`).
pub(crate) fn practice(e: &PracticeEntry, report: Report<'_>) -> (Supplier, Vec<Branch>) {
    let supplier_ = e
        .supplier
        .as_ref()
        .and_then(|s| checked(s, |s| supplier(s), report))
        .unwrap_or_default();
    let mut branches: Vec<Branch> = Vec::new();
    for b in e.branches.iter().flatten() {
        let Some(id) = b.value.id.as_ref() else {
            report(b.referenced, "branch has no id".to_owned());
            continue;
        };
        let Some(name) = b.value.name.as_ref() else {
            report(b.referenced, format!("branch '{}' has no name", id.value));
            continue;
        };
        if branches.iter().any(|x| x.id == id.value) {
            report(
                id.referenced,
                format!("branch id '{}' is used twice in this practice", id.value),
            );
            continue;
        }
        if let Some(name) = text(Some(name), "branch name", report) {
            branches.push(Branch {
                id: id.value.clone(),
                name,
                address: b.value.address.as_ref().map(address),
            });
        }
    }
    (supplier_, branches)
}

/// A patient's `registration`: type (default regular), start day and preferred branch.
pub(crate) fn registration(
    e: Option<&Spanned<RegistrationEntry>>,
    start_day: NaiveDate,
    report: Report<'_>,
) -> Registration {
    let Some(e) = e else {
        return Registration::default();
    };
    let r = &e.value;
    Registration {
        kind: r
            .kind
            .as_ref()
            .and_then(|k| checked(k, |k| registration_type(k), report))
            .unwrap_or(("R", "Regular")),
        date: date(r.date.as_ref(), start_day, report),
        branch: text(r.branch.as_ref(), "registration branch", report),
    }
}

/// A code's `read_code` and `description_id`.
pub(crate) fn code_detail(c: &CodeEntry, report: Report<'_>) -> (Option<String>, Option<String>) {
    let read = c
        .read_code
        .as_ref()
        .and_then(|r| checked(r, |r| read_code(r).map(|()| r.clone()), report));
    let description = c
        .description_id
        .as_ref()
        .and_then(|d| checked(d, |d| description_id(d).map(|()| d.clone()), report));
    (read, description)
}

/// A medication's `drug_code` and `supply_days`.
pub(crate) fn medication(e: &MedicationEntry, report: Report<'_>) -> (Option<String>, Option<u32>) {
    let drug = text(e.drug_code.as_ref(), "drug_code", report);
    let days = e
        .supply_days
        .as_ref()
        .and_then(|d| checked(d, |d| supply_days(*d), report));
    (drug, days)
}

/// What an immunisation's record says about the vaccine given.
pub(crate) struct VaccineDetail {
    pub batch: Option<String>,
    pub manufacturer: Option<String>,
    pub site: Option<Code>,
    pub expiry: Option<NaiveDate>,
}

/// An immunisation's `batch`, `manufacturer`, `site` (a SNOMED CT body site) and `expiry`.
pub(crate) fn immunisation(
    e: &ImmunisationEntry,
    start_day: NaiveDate,
    report: Report<'_>,
) -> VaccineDetail {
    let site = e.site.as_ref().and_then(|s| {
        let c = &s.value;
        let (Some(snomed), Some(display)) = (c.snomed.as_ref(), c.display.as_ref()) else {
            report(
                s.referenced,
                "immunisation site needs snomed and display".to_owned(),
            );
            return None;
        };
        let ok = (6..=18).contains(&snomed.value.len())
            && snomed.value.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            report(
                snomed.referenced,
                format!(
                    "immunisation site '{}' is not a SNOMED CT concept id (6 to 18 digits)",
                    snomed.value
                ),
            );
            return None;
        }
        let (read_code, description_id) = code_detail(c, report);
        Some(Code {
            snomed: snomed.value.clone(),
            display: text(Some(display), "immunisation site display", report)?,
            read_code,
            description_id,
        })
    });
    VaccineDetail {
        batch: text(e.batch.as_ref(), "batch", report),
        manufacturer: text(e.manufacturer.as_ref(), "manufacturer", report),
        site,
        expiry: date(e.expiry.as_ref(), start_day, report),
    }
}

/// An allergy's `onset`.
pub(crate) fn onset(
    v: Option<&Spanned<String>>,
    start_day: NaiveDate,
    report: Report<'_>,
) -> Option<NaiveDate> {
    date(v, start_day, report)
}

/// The quirk names of a record's `quirks:`.
pub(crate) const QUIRKS: [&str; 6] = [
    "no-asserter",
    "no-prescriber",
    "no-encounter-recorder",
    "flat-consultations",
    "no-specimens",
    "placeholder-documents",
];

/// Sets one quirk of a record's `quirks:`.
pub(crate) fn quirk(value: &str, q: &mut crate::scenario::Quirks) -> Result<(), String> {
    let flag = match value {
        "no-asserter" => &mut q.no_asserter,
        "no-prescriber" => &mut q.no_prescriber,
        "no-encounter-recorder" => &mut q.no_encounter_recorder,
        "flat-consultations" => &mut q.flat_consultations,
        "no-specimens" => &mut q.no_specimens,
        "placeholder-documents" => &mut q.placeholder_documents,
        other => {
            return Err(format!(
                "unknown quirk '{other}'; expected one of {}",
                QUIRKS.join(", ")
            ));
        }
    };
    *flag = true;
    Ok(())
}

/// What a generated document (`size:` without `text`) repeats.
pub(crate) const FILLER: &[u8] = b"Generated document content for testing large transfers. ";

/// The largest generated document: GP Connect 1.6.2 sets no limit for migrated documents and says
/// they may approach 250 MB; 1 GiB leaves room beyond that.
pub(crate) const MAX_GENERATED_DOCUMENT: usize = 1 << 30;

/// A document's `size:`: bytes, or a number with `KB`, `MB` or `GB` (powers of 1024).
pub(crate) fn document_size(value: &str) -> Result<usize, String> {
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let scale: usize = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => 0,
    };
    let size = number
        .parse::<usize>()
        .ok()
        .filter(|_| scale > 0)
        .and_then(|n| n.checked_mul(scale));
    match size {
        Some(n) if (1..=MAX_GENERATED_DOCUMENT).contains(&n) => Ok(n),
        Some(_) => Err(format!(
            "document size '{value}' must be between 1 byte and 1GB"
        )),
        None => Err(format!(
            "document size '{value}' is not a size such as 250MB, 40KB or 1048576"
        )),
    }
}

/// `supplier:` of a practice.
pub(crate) fn supplier(value: &str) -> Result<Supplier, String> {
    match value {
        "emis" => Ok(Supplier::Emis),
        "tpp" => Ok(Supplier::Tpp),
        "generic" => Ok(Supplier::Generic),
        other => Err(format!(
            "unknown supplier '{other}'; expected emis, tpp or generic"
        )),
    }
}

/// CareConnect-RegistrationType-1 code and display of a `registration.type`.
pub(crate) fn registration_type(value: &str) -> Result<(&'static str, &'static str), String> {
    match value {
        "regular" => Ok(("R", "Regular")),
        "temporary" => Ok(("T", "Temporary")),
        "emergency" => Ok(("E", "Emergency")),
        "immediately-necessary" => Ok(("IN", "Immediately Necessary")),
        other => Err(format!(
            "unknown registration type '{other}'; expected regular, temporary, emergency or immediately-necessary"
        )),
    }
}

/// A Read v2 code (`14LP.00`, five characters and an optional two-digit term code) or a CTV3
/// code (`XE0Uc`, five characters): letters, digits and dots.
pub(crate) fn read_code(value: &str) -> Result<(), String> {
    let (concept, term) = value.split_at(value.len().min(5));
    let concept_ok = concept.len() == 5
        && concept
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.');
    let term_ok = term.is_empty() || (term.len() == 2 && term.chars().all(|c| c.is_ascii_digit()));
    if concept_ok && term_ok {
        Ok(())
    } else {
        Err(format!(
            "read_code '{value}' is neither a Read v2 code (5 characters and an optional 2-digit term code, e.g. 14LP.00) nor a CTV3 code (5 characters, e.g. XE0Uc)"
        ))
    }
}

/// A `read_code` checked against the code system of the practice's flavour: Read v2 at EMIS-style
/// and generic practices (five characters and the two-digit term code, `22A..00`, as EMIS Web
/// sends it), CTV3 at TPP-style ones (five characters, `XE0Ub`: SystmOne records in CTV3).
pub(crate) fn read_code_for(value: &str, supplier: Supplier) -> Result<(), String> {
    read_code(value)?;
    match (supplier, value.len()) {
        (Supplier::Tpp, 5) | (Supplier::Emis | Supplier::Generic, 7) => Ok(()),
        (Supplier::Tpp, _) => Err(format!(
            "read_code '{value}' is a Read v2 code, but this record is held at a TPP-style practice, whose system records in CTV3 (5 characters, e.g. XE0Ub)"
        )),
        (_, _) => Err(format!(
            "read_code '{value}' is not a Read v2 code with its term code (7 characters, e.g. 22A..00), which is what this practice's system records; a 5-character code is CTV3, used only at TPP-style practices"
        )),
    }
}

/// A SNOMED CT description id: 6 to 18 digits whose partition (the two digits before the check
/// digit) says "description" (`01` or `11`).
pub(crate) fn description_id(value: &str) -> Result<(), String> {
    let digits = value.len();
    let shape = (6..=18).contains(&digits)
        && value.chars().all(|c| c.is_ascii_digit())
        && !value.starts_with('0');
    let partition = value.get(digits.saturating_sub(3)..digits.saturating_sub(1));
    if shape && matches!(partition, Some("01" | "11")) {
        Ok(())
    } else {
        Err(format!(
            "description_id '{value}' is not a SNOMED CT description id (6-18 digits, partition 01 or 11, e.g. 435198016)"
        ))
    }
}

/// `supply_days` of a medication.
pub(crate) fn supply_days(value: u32) -> Result<u32, String> {
    if (1..=366).contains(&value) {
        Ok(value)
    } else {
        Err(format!("supply_days {value} is not between 1 and 366"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_by_shape() {
        assert!(read_code("14LP.00").is_ok());
        assert!(read_code("XE0Uc").is_ok());
        assert!(read_code("14LP").is_err());
        assert!(read_code("14LP.0x").is_err());
        assert!(description_id("435198016").is_ok());
        assert!(description_id("294881007").is_err(), "a concept id");
        assert!(supplier("EMIS").is_err());
        assert_eq!(registration_type("temporary"), Ok(("T", "Temporary")));
        assert!(supply_days(0).is_err());
        assert!(read_code_for("22A..00", Supplier::Emis).is_ok());
        assert!(read_code_for("22A..00", Supplier::Tpp).is_err());
        assert!(read_code_for("XE0Ub", Supplier::Tpp).is_ok());
        assert!(read_code_for("XE0Ub", Supplier::Generic).is_err());
    }
}
