//! The parameters of `$gpc.getstructuredrecord` (`docs/getstructuredrecord.md`, "Parameters"
//! and "Refusals"): read, typed and judged, in one pass that stops at the first refusal.
//! Unknown parameters and parts are not refused: they are collected for the warning
//! OperationOutcome a successful answer carries.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::fhir::FhirError;
use crate::provider::steps;
use crate::scenario::{ProblemStatus, Significance};

/// A period of whole dates; either end may be left open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Period {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl Period {
    /// Inclusive at both ends.
    pub(crate) fn contains(&self, day: NaiveDate) -> bool {
        self.start.is_none_or(|s| day >= s) && self.end.is_none_or(|e| day <= e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Medication {
    pub issues: bool,
    pub from: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consultations {
    All,
    Period(Period),
    MostRecent(u32),
}

/// One `includeProblems` (GP Connect 1.6.0 lets it repeat, each a status/significance pair).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Problems {
    pub status: Option<ProblemStatus>,
    pub significance: Option<Significance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Immunisations {
    pub not_given: bool,
    pub status: bool,
}

/// A request that passed every parameter rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub nhs_system: Option<String>,
    pub nhs_value: String,
    /// `includeResolvedAllergies`.
    pub allergies: Option<bool>,
    pub medication: Option<Medication>,
    pub consultations: Option<Consultations>,
    /// Empty: problems not asked for.
    pub problems: Vec<Problems>,
    pub immunisations: Option<Immunisations>,
    pub uncategorised: Option<Period>,
    pub investigations: Option<Period>,
    pub referrals: Option<Period>,
    /// `diaryEntriesSearchDate`, when given.
    pub diary: Option<Option<NaiveDate>>,
    /// Parameters and parts not recognised: `includeX` or `includeX.partY`, for the warning.
    pub unrecognised: Vec<String>,
}

impl Query {
    /// The top-level parameters the query asked for, in the specification's order.
    pub(crate) fn asked(&self) -> Vec<&'static str> {
        let asked = [
            self.allergies.is_some(),
            self.medication.is_some(),
            self.consultations.is_some(),
            !self.problems.is_empty(),
            self.immunisations.is_some(),
            self.uncategorised.is_some(),
            self.investigations.is_some(),
            self.referrals.is_some(),
            self.diary.is_some(),
        ];
        AREAS
            .iter()
            .zip(asked)
            .filter(|(_, a)| *a)
            .map(|((name, _), _)| *name)
            .collect()
    }
}

/// The parts each clinical-area parameter takes.
const AREAS: [(&str, &[&str]); 9] = [
    ("includeAllergies", &["includeResolvedAllergies"]),
    (
        "includeMedication",
        &["includePrescriptionIssues", "medicationSearchFromDate"],
    ),
    (
        "includeConsultations",
        &["consultationSearchPeriod", "includeNumberOfMostRecent"],
    ),
    ("includeProblems", &["filterStatus", "filterSignificance"]),
    (
        "includeImmunisations",
        &["includeNotGiven", "includeStatus"],
    ),
    (
        "includeUncategorisedData",
        &["uncategorisedDataSearchPeriod"],
    ),
    ("includeInvestigations", &["investigationSearchPeriod"]),
    ("includeReferrals", &["referralSearchPeriod"]),
    ("includeDiaryEntries", &["diaryEntriesSearchDate"]),
];

/// Parts that may not be sent with `includeConsultations` (and, but for the problems filters,
/// with `includeProblems`).
const RESTRICTED: [&str; 8] = [
    "includeMedication.medicationSearchFromDate",
    "includeUncategorisedData.uncategorisedDataSearchPeriod",
    "includeProblems.filterStatus",
    "includeProblems.filterSignificance",
    "includeReferrals.referralSearchPeriod",
    "includeDiaryEntries.diaryEntriesSearchDate",
    "includeImmunisations.includeNotGiven",
    "includeImmunisations.includeStatus",
];

type Parts<'p> = Vec<(&'p str, &'p Map<String, Value>)>;

/// Reads and judges the parameters against `today` (the provider's date).
pub(crate) fn read(resource: &Map<String, Value>, today: NaiveDate) -> Result<Query, FhirError> {
    let params = resource
        .get("parameter")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let empty = Map::new();
    let mut q = Query::default();
    let mut nhs = None;
    // Every known part sent, as `param.part`, for the combination rules.
    let mut sent: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut areas = 0;
    for p in params {
        let obj = p.as_object().unwrap_or(&empty);
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
        if name == "patientNHSNumber" {
            if nhs.is_some() {
                return Err(FhirError::invalid_resource(
                    "patientNHSNumber is given more than once",
                ));
            }
            nhs = Some(steps::read_nhs_parameter(obj)?);
            continue;
        }
        let Some((_, known)) = AREAS.iter().find(|(n, _)| *n == name) else {
            q.unrecognised.push(name.to_owned());
            continue;
        };
        if seen.contains(&name) && name != "includeProblems" {
            return Err(FhirError::invalid_resource(format!(
                "{name} is given more than once"
            )));
        }
        seen.push(name);
        areas += 1;
        if let Some(key) = steps::value_keys(obj).first() {
            return Err(FhirError::invalid_parameter(format!(
                "{name} takes parts only, not {key}"
            )));
        }
        let mut parts: Parts<'_> = Vec::new();
        for part in obj
            .get("part")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let part = part.as_object().unwrap_or(&empty);
            let part_name = part.get("name").and_then(Value::as_str).unwrap_or_default();
            if !known.contains(&part_name) {
                q.unrecognised.push(format!("{name}.{part_name}"));
                continue;
            }
            if parts.iter().any(|(n, _)| *n == part_name) {
                return Err(FhirError::invalid_resource(format!(
                    "{name}.{part_name} is given more than once"
                )));
            }
            sent.push(format!("{name}.{part_name}"));
            parts.push((part_name, part));
        }
        read_area(&mut q, name, &parts, today)?;
    }
    let Some((system, value)) = nhs else {
        return Err(FhirError::invalid_parameter(
            "patientNHSNumber is missing: send it as a valueIdentifier with system https://fhir.nhs.uk/Id/nhs-number",
        ));
    };
    q.nhs_system = system;
    q.nhs_value = value;
    if areas == 0 {
        return Err(FhirError::invalid_parameter(
            "No clinical area requested: send at least one of includeAllergies, includeMedication, includeConsultations, includeProblems, includeImmunisations, includeUncategorisedData, includeInvestigations, includeReferrals, includeDiaryEntries",
        ));
    }
    check_combinations(&q, &sent)?;
    Ok(q)
}

fn part<'p>(parts: &Parts<'p>, name: &str) -> Option<&'p Map<String, Value>> {
    parts.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// The part's value of type `key` (`valueBoolean`, ...), or the refusal naming it.
fn typed<'p>(p: &'p Map<String, Value>, at: &str, key: &str) -> Result<&'p Value, FhirError> {
    match p.get(key) {
        Some(Value::Null) | None => Err(match steps::value_keys(p).first() {
            Some(other) if *other != key => {
                FhirError::invalid_parameter(format!("{at} must be a {key}, not {other}"))
            }
            _ => FhirError::invalid_parameter(format!("{at} has no value")),
        }),
        Some(v) => Ok(v),
    }
}

fn boolean(p: &Map<String, Value>, at: &str) -> Result<bool, FhirError> {
    match typed(p, at, "valueBoolean")? {
        Value::Bool(b) => Ok(*b),
        other => Err(FhirError::invalid_parameter(format!(
            "{at} valueBoolean must be true or false, not {other}"
        ))),
    }
}

/// A whole date `YYYY-MM-DD`: no partial dates, no times.
pub(crate) fn whole_date(v: &Value, at: &str) -> Result<NaiveDate, FhirError> {
    let s = v.as_str().unwrap_or_default();
    if s.len() == 10
        && let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
    {
        return Ok(d);
    }
    Err(FhirError::invalid_parameter(format!(
        "{at} is {v}; it must be a whole date (YYYY-MM-DD), not a partial date, a date-time or empty"
    )))
}

fn not_future(d: NaiveDate, at: &str, today: NaiveDate) -> Result<NaiveDate, FhirError> {
    if d > today {
        return Err(FhirError::invalid_parameter(format!(
            "{at} is {d}, after today ({today}); it may not be in the future"
        )));
    }
    Ok(d)
}

fn period(p: &Map<String, Value>, at: &str, today: NaiveDate) -> Result<Period, FhirError> {
    let v = typed(p, at, "valuePeriod")?;
    let Some(obj) = v.as_object() else {
        return Err(FhirError::invalid_parameter(format!(
            "{at} valuePeriod must be an object with start and/or end"
        )));
    };
    let mut out = Period::default();
    for (key, slot) in [("start", &mut out.start), ("end", &mut out.end)] {
        if let Some(v) = obj.get(key) {
            let at = format!("{at}.{key}");
            *slot = Some(not_future(whole_date(v, &at)?, &at, today)?);
        }
    }
    if out.start.is_none() && out.end.is_none() {
        return Err(FhirError::invalid_parameter(format!(
            "{at} has neither start nor end"
        )));
    }
    if let (Some(s), Some(e)) = (out.start, out.end)
        && s > e
    {
        return Err(FhirError::invalid_parameter(format!(
            "{at}: start {s} is after end {e}"
        )));
    }
    Ok(out)
}

fn optional_period(
    parts: &Parts<'_>,
    name: &str,
    part_name: &str,
    today: NaiveDate,
) -> Result<Period, FhirError> {
    match part(parts, part_name) {
        Some(p) => period(p, &format!("{name}.{part_name}"), today),
        None => Ok(Period::default()),
    }
}

fn read_area(
    q: &mut Query,
    name: &str,
    parts: &Parts<'_>,
    today: NaiveDate,
) -> Result<(), FhirError> {
    let at = |part: &str| format!("{name}.{part}");
    match name {
        "includeAllergies" => {
            let Some(p) = part(parts, "includeResolvedAllergies") else {
                return Err(FhirError::invalid_parameter(
                    "includeAllergies.includeResolvedAllergies is missing: it is mandatory when includeAllergies is sent",
                ));
            };
            q.allergies = Some(boolean(p, &at("includeResolvedAllergies"))?);
        }
        "includeMedication" => {
            let issues = match part(parts, "includePrescriptionIssues") {
                Some(p) => boolean(p, &at("includePrescriptionIssues"))?,
                None => true,
            };
            let from = match part(parts, "medicationSearchFromDate") {
                Some(p) => {
                    let at = at("medicationSearchFromDate");
                    let d = whole_date(typed(p, &at, "valueDate")?, &at)?;
                    Some(not_future(d, &at, today)?)
                }
                None => None,
            };
            q.medication = Some(Medication { issues, from });
        }
        "includeConsultations" => {
            let period_part = part(parts, "consultationSearchPeriod");
            let recent = part(parts, "includeNumberOfMostRecent");
            q.consultations = Some(match (period_part, recent) {
                (Some(_), Some(_)) => {
                    return Err(FhirError::invalid_resource(
                        "includeConsultations: consultationSearchPeriod and includeNumberOfMostRecent may not be sent together",
                    ));
                }
                (Some(p), None) => {
                    Consultations::Period(period(p, &at("consultationSearchPeriod"), today)?)
                }
                (None, Some(p)) => {
                    let at = at("includeNumberOfMostRecent");
                    match typed(p, &at, "valuePositiveInt")?.as_u64() {
                        Some(n) if n >= 1 => {
                            Consultations::MostRecent(u32::try_from(n).unwrap_or(u32::MAX))
                        }
                        _ => {
                            return Err(FhirError::invalid_parameter(format!(
                                "{at} must be a positive whole number (1 or more)"
                            )));
                        }
                    }
                }
                (None, None) => Consultations::All,
            });
        }
        "includeProblems" => {
            let mut f = Problems::default();
            if let Some(p) = part(parts, "filterStatus") {
                let at = at("filterStatus");
                f.status = Some(match typed(p, &at, "valueCode")?.as_str() {
                    Some("active") => ProblemStatus::Active,
                    Some("inactive") => ProblemStatus::Inactive,
                    _ => {
                        return Err(FhirError::invalid_parameter(format!(
                            "{at} must be 'active' or 'inactive'"
                        )));
                    }
                });
            }
            if let Some(p) = part(parts, "filterSignificance") {
                let at = at("filterSignificance");
                f.significance = Some(match typed(p, &at, "valueCode")?.as_str() {
                    Some("major") => Significance::Major,
                    Some("minor") => Significance::Minor,
                    _ => {
                        return Err(FhirError::invalid_parameter(format!(
                            "{at} must be 'major' or 'minor'"
                        )));
                    }
                });
            }
            q.problems.push(f);
        }
        "includeImmunisations" => {
            let not_given = match part(parts, "includeNotGiven") {
                Some(p) => boolean(p, &at("includeNotGiven"))?,
                None => false,
            };
            let status = match part(parts, "includeStatus") {
                Some(p) => boolean(p, &at("includeStatus"))?,
                None => true,
            };
            q.immunisations = Some(Immunisations { not_given, status });
        }
        "includeUncategorisedData" => {
            q.uncategorised = Some(optional_period(
                parts,
                name,
                "uncategorisedDataSearchPeriod",
                today,
            )?);
        }
        "includeInvestigations" => {
            q.investigations = Some(optional_period(
                parts,
                name,
                "investigationSearchPeriod",
                today,
            )?);
        }
        "includeReferrals" => {
            q.referrals = Some(optional_period(parts, name, "referralSearchPeriod", today)?);
        }
        "includeDiaryEntries" => {
            let date = match part(parts, "diaryEntriesSearchDate") {
                Some(p) => {
                    let at = at("diaryEntriesSearchDate");
                    let d = whole_date(typed(p, &at, "valueDate")?, &at)?;
                    if d < today {
                        return Err(FhirError::invalid_parameter(format!(
                            "{at} is {d}, before today ({today}); it must be today or later"
                        )));
                    }
                    Some(d)
                }
                None => None,
            };
            q.diary = Some(date);
        }
        _ => {}
    }
    Ok(())
}

/// One of the two multi-area searches GP Connect predefines, which may carry
/// `medicationSearchFromDate` beside consultations and problems.
fn predefined_search(q: &Query, sent: &[String]) -> bool {
    let core = matches!(q.consultations, Some(Consultations::MostRecent(_)))
        && q.problems == [Problems::default()]
        && q.allergies == Some(true)
        && q.medication.is_some_and(|m| m.from.is_some())
        && q.uncategorised.is_none_or(|p| p == Period::default())
        && q.investigations.is_none()
        && q.referrals.is_none()
        && q.diary.is_none()
        && q.immunisations
            .is_none_or(|_| !sent.iter().any(|s| s.starts_with("includeImmunisations.")));
    let extras = usize::from(q.immunisations.is_some()) + usize::from(q.uncategorised.is_some());
    core && (extras == 0 || extras == 2)
        && !sent
            .iter()
            .any(|s| s == "includeMedication.includePrescriptionIssues")
}

fn check_combinations(q: &Query, sent: &[String]) -> Result<(), FhirError> {
    let with_consultations = q.consultations.is_some();
    let with_problems = !q.problems.is_empty();
    if !with_consultations && !with_problems {
        return Ok(());
    }
    let predefined = predefined_search(q, sent);
    for part in sent {
        if !RESTRICTED.contains(&part.as_str()) {
            continue;
        }
        if part == "includeMedication.medicationSearchFromDate" && predefined {
            continue;
        }
        let problems_filter = part.starts_with("includeProblems.");
        let with = if with_consultations {
            "includeConsultations"
        } else if !problems_filter {
            "includeProblems"
        } else {
            continue;
        };
        return Err(FhirError::invalid_parameter(format!(
            "{part} may not be sent with {with}; the one exception is the predefined multi-area searches (includeConsultations.includeNumberOfMostRecent, includeProblems without parts, includeAllergies.includeResolvedAllergies true and includeMedication.medicationSearchFromDate, optionally with includeImmunisations and includeUncategorisedData without parts)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
