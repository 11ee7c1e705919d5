//! What the consumer asks for: migrate the whole record, or retrieve part of it for direct care
//! (`$gpc.getstructuredrecord`, `docs/getstructuredrecord.md`) with chosen clinical areas and
//! filters. Turns the choice into the `Parameters` body the provider reads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::fhir::systems;

/// The GP Connect operation the journey plays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// The new practice moves the patient and migrates the whole record (GP2GP).
    #[default]
    Migrate,
    /// Direct care: read chosen clinical areas; the registration is left as it is.
    Retrieve,
}

/// A clinical area of `$gpc.getstructuredrecord`, by its short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Allergies,
    Medication,
    Consultations,
    Problems,
    Immunisations,
    Uncategorised,
    Investigations,
    Referrals,
    Diary,
}

impl Area {
    pub const ALL: [Area; 9] = [
        Area::Allergies,
        Area::Medication,
        Area::Consultations,
        Area::Problems,
        Area::Immunisations,
        Area::Uncategorised,
        Area::Investigations,
        Area::Referrals,
        Area::Diary,
    ];

    /// The top-level parameter that asks for the area.
    pub fn parameter(self) -> &'static str {
        match self {
            Area::Allergies => "includeAllergies",
            Area::Medication => "includeMedication",
            Area::Consultations => "includeConsultations",
            Area::Problems => "includeProblems",
            Area::Immunisations => "includeImmunisations",
            Area::Uncategorised => "includeUncategorisedData",
            Area::Investigations => "includeInvestigations",
            Area::Referrals => "includeReferrals",
            Area::Diary => "includeDiaryEntries",
        }
    }
}

/// The areas and filters of a retrieve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrieveQuery {
    /// Areas asked for without a filter (a part names its area too).
    #[serde(default)]
    pub include: Vec<Area>,
    /// Filters as `parameter.part=value`, e.g. `includeConsultations.includeNumberOfMostRecent=3`
    /// or `includeReferrals.referralSearchPeriod=2020-01-01..2020-12-31` (either end may be
    /// left out). The value's FHIR type follows from the part; a part the journey does not
    /// know is sent as a `valueString`, so the provider's warning for it can be seen.
    #[serde(default)]
    pub parts: Vec<String>,
}

/// How each known part's value is sent.
enum Kind {
    Boolean,
    Date,
    Period,
    PositiveInt,
    Code,
}

fn kind_of(part: &str) -> Option<Kind> {
    Some(match part {
        "includeResolvedAllergies"
        | "includePrescriptionIssues"
        | "includeNotGiven"
        | "includeStatus" => Kind::Boolean,
        "medicationSearchFromDate" | "diaryEntriesSearchDate" => Kind::Date,
        "consultationSearchPeriod"
        | "uncategorisedDataSearchPeriod"
        | "investigationSearchPeriod"
        | "referralSearchPeriod" => Kind::Period,
        "includeNumberOfMostRecent" => Kind::PositiveInt,
        "filterStatus" | "filterSignificance" => Kind::Code,
        _ => return None,
    })
}

/// One part parameter as sent, or a sentence saying what is wrong with the choice.
fn part_json(spec: &str) -> Result<(String, Value), String> {
    let Some((path, raw)) = spec.split_once('=') else {
        return Err(format!(
            "filter '{spec}' has no value: write parameter.part=value, e.g. includeConsultations.includeNumberOfMostRecent=3"
        ));
    };
    let Some((parameter, part)) = path.split_once('.') else {
        return Err(format!(
            "filter '{spec}' names no part: write parameter.part=value, e.g. includeProblems.filterStatus=active"
        ));
    };
    if parameter.is_empty() || part.is_empty() {
        return Err(format!(
            "filter '{spec}': parameter and part must both be named"
        ));
    }
    let mut p = Map::new();
    p.insert("name".into(), json!(part));
    match kind_of(part) {
        Some(Kind::Boolean) => {
            let b = match raw {
                "true" => true,
                "false" => false,
                _ => return Err(format!("filter '{spec}': {part} is true or false")),
            };
            p.insert("valueBoolean".into(), json!(b));
        }
        Some(Kind::Date) => {
            p.insert("valueDate".into(), json!(raw));
        }
        Some(Kind::Period) => {
            let Some((start, end)) = raw.split_once("..") else {
                return Err(format!(
                    "filter '{spec}': a period is START..END (either may be left out, e.g. 2020-01-01..)"
                ));
            };
            let mut period = Map::new();
            if !start.is_empty() {
                period.insert("start".into(), json!(start));
            }
            if !end.is_empty() {
                period.insert("end".into(), json!(end));
            }
            p.insert("valuePeriod".into(), Value::Object(period));
        }
        Some(Kind::PositiveInt) => {
            let n: i64 = raw
                .parse()
                .map_err(|_| format!("filter '{spec}': {part} is a whole number"))?;
            p.insert("valuePositiveInt".into(), json!(n));
        }
        Some(Kind::Code) => {
            p.insert("valueCode".into(), json!(raw));
        }
        None => {
            p.insert("valueString".into(), json!(raw));
        }
    }
    Ok((parameter.to_owned(), Value::Object(p)))
}

impl RetrieveQuery {
    /// The top-level parameters asked for, in the order they are sent.
    pub fn parameter_names(&self) -> Result<Vec<String>, String> {
        Ok(self.grouped()?.into_iter().map(|(n, _)| n).collect())
    }

    /// Each parameter with its parts: areas first as chosen, then those only a filter names.
    fn grouped(&self) -> Result<Vec<(String, Vec<Value>)>, String> {
        let mut out: Vec<(String, Vec<Value>)> = Vec::new();
        for area in &self.include {
            if !out.iter().any(|(n, _)| n == area.parameter()) {
                out.push((area.parameter().to_owned(), Vec::new()));
            }
        }
        for spec in &self.parts {
            let (parameter, part) = part_json(spec)?;
            match out.iter_mut().find(|(n, _)| *n == parameter) {
                Some((_, parts)) => parts.push(part),
                None => out.push((parameter, vec![part])),
            }
        }
        if out.is_empty() {
            return Err(
                "a retrieve asks for at least one clinical area: choose some with --include \
                 (allergies, medication, consultations, problems, immunisations, uncategorised, \
                 investigations, referrals, diary) or name a filter with --filter"
                    .into(),
            );
        }
        // includeResolvedAllergies is mandatory: false (current allergies only) unless chosen.
        for (name, parts) in &mut out {
            if name == "includeAllergies"
                && !parts
                    .iter()
                    .any(|p| p["name"] == "includeResolvedAllergies")
            {
                parts.insert(
                    0,
                    json!({"name": "includeResolvedAllergies", "valueBoolean": false}),
                );
            }
        }
        Ok(out)
    }

    /// The `Parameters` body for the patient.
    pub fn parameters(&self, nhs: &str) -> Result<Value, String> {
        let mut parameter = vec![json!({
            "name": "patientNHSNumber",
            "valueIdentifier": { "system": systems::NHS_NUMBER, "value": nhs },
        })];
        for (name, parts) in self.grouped()? {
            parameter.push(if parts.is_empty() {
                json!({ "name": name })
            } else {
                json!({ "name": name, "part": parts })
            });
        }
        Ok(json!({ "resourceType": "Parameters", "parameter": parameter }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn query(include: &[Area], parts: &[&str]) -> RetrieveQuery {
        RetrieveQuery {
            include: include.to_vec(),
            parts: parts.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn areas_and_typed_parts_become_parameters() {
        let q = query(
            &[Area::Allergies, Area::Problems],
            &[
                "includeProblems.filterStatus=active",
                "includeConsultations.consultationSearchPeriod=2020-01-01..",
                "includeConsultations.includeNumberOfMostRecent=3",
                "includeMedication.includePrescriptionIssues=false",
                "includeDiaryEntries.diaryEntriesSearchDate=2030-01-01",
            ],
        );
        let body = q.parameters("9434761018").unwrap();
        let p = body["parameter"].as_array().unwrap();
        assert_eq!(p[0]["name"], "patientNHSNumber");
        assert_eq!(p[0]["valueIdentifier"]["value"], "9434761018");
        assert_eq!(
            p[1],
            json!({"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": false}]})
        );
        assert_eq!(
            p[2],
            json!({"name": "includeProblems", "part": [{"name": "filterStatus", "valueCode": "active"}]})
        );
        assert_eq!(
            p[3],
            json!({"name": "includeConsultations", "part": [
                {"name": "consultationSearchPeriod", "valuePeriod": {"start": "2020-01-01"}},
                {"name": "includeNumberOfMostRecent", "valuePositiveInt": 3},
            ]})
        );
        assert_eq!(p[4]["part"][0]["valueBoolean"], false);
        assert_eq!(p[5]["part"][0]["valueDate"], "2030-01-01");
        assert_eq!(
            q.parameter_names().unwrap(),
            vec![
                "includeAllergies",
                "includeProblems",
                "includeConsultations",
                "includeMedication",
                "includeDiaryEntries"
            ]
        );
    }

    #[test]
    fn chosen_resolved_allergies_is_kept_and_an_area_alone_has_no_parts() {
        let q = query(
            &[Area::Allergies, Area::Immunisations],
            &["includeAllergies.includeResolvedAllergies=true"],
        );
        let body = q.parameters("9434761018").unwrap();
        assert_eq!(
            body["parameter"][1]["part"],
            json!([{"name": "includeResolvedAllergies", "valueBoolean": true}])
        );
        assert_eq!(
            body["parameter"][2],
            json!({"name": "includeImmunisations"})
        );
    }

    #[test]
    fn unknown_parts_go_as_strings_for_the_provider_to_warn_about() {
        let q = query(&[], &["includeProblems.madeUp=x", "includeNothing.part=y"]);
        let body = q.parameters("9434761018").unwrap();
        assert_eq!(
            body["parameter"][1],
            json!({"name": "includeProblems", "part": [{"name": "madeUp", "valueString": "x"}]})
        );
        assert_eq!(body["parameter"][2]["name"], "includeNothing");
    }

    #[test]
    fn malformed_choices_are_named() {
        for (spec, says) in [
            ("includeProblems.filterStatus", "has no value"),
            ("includeProblems=active", "names no part"),
            (".filterStatus=active", "must both be named"),
            (
                "includeMedication.includePrescriptionIssues=yes",
                "true or false",
            ),
            (
                "includeReferrals.referralSearchPeriod=2020-01-01",
                "START..END",
            ),
            (
                "includeConsultations.includeNumberOfMostRecent=three",
                "whole number",
            ),
        ] {
            let err = query(&[], &[spec]).parameters("9434761018").unwrap_err();
            assert!(err.contains(spec) && err.contains(says), "{spec}: {err}");
        }
        let err = query(&[], &[]).parameters("9434761018").unwrap_err();
        assert!(err.contains("--include"), "{err}");
    }
}
