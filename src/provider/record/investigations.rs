//! Investigations: the GP Connect pathology model (request, specimen, report, test group,
//! results and filing comment).

use super::*;
use crate::fhir::gpconnect::{code_systems, lists, profiles};
use crate::fhir::stu3::{
    self as fhir, CodeableConcept, Coding, Date, DiagnosticReport, Instant, ObservationRelated,
    Performer, Quantity, ReferenceRange, Requester, Resource, SimpleQuantity, Specimen,
    SpecimenCollection, reference,
};

pub(super) const LABORATORY: Coding<'static> = Coding {
    system: code_systems::OBSERVATION_CATEGORY,
    code: "laboratory",
    display: "Laboratory",
};

pub(super) fn laboratory() -> Option<[CodeableConcept<'static>; 1]> {
    Some([CodeableConcept {
        coding: Some([LABORATORY]),
        text: None,
        detail: None,
    }])
}

/// The bounds of a numeric reference range as results print it: `115-165`, `3.5 - 5.3`, `<5`,
/// `>60` (either bound may be missing). None when the range is not numeric.
pub(super) fn numeric_range(text: &str) -> Option<(Option<f64>, Option<f64>)> {
    let t = text.trim();
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    if let Some(high) = t.strip_prefix("<=").or_else(|| t.strip_prefix('<')) {
        return Some((None, Some(number(high)?)));
    }
    if let Some(low) = t.strip_prefix(">=").or_else(|| t.strip_prefix('>')) {
        return Some((Some(number(low)?), None));
    }
    let (low, high) = t.split_once('-')?;
    let (low, high) = (number(low)?, number(high)?);
    (low <= high).then_some((Some(low), Some(high)))
}

/// A reference range as values (`low`/`high` with the result's unit, which the GP2GP adaptor
/// maps to a structured range), or as text when it is not numeric.
pub(super) fn reference_range<'r>(
    text: &'r str,
    bounds: Option<(Option<f64>, Option<f64>)>,
    unit: Option<&'r str>,
) -> ReferenceRange<'r> {
    let quantity = |value: f64| SimpleQuantity {
        value,
        unit,
        system: unit.map(|_| code_systems::UCUM),
        code: unit,
    };
    match bounds {
        Some((low, high)) => ReferenceRange {
            low: low.map(quantity),
            high: high.map(quantity),
            text: None,
        },
        None => ReferenceRange {
            low: None,
            high: None,
            text: Some(text),
        },
    }
}

/// `H` or `L` when a value falls outside its range (HL7 v2 table 0078).
pub(super) fn interpretation(
    value: f64,
    (low, high): (Option<f64>, Option<f64>),
) -> Option<CodeableConcept<'static>> {
    let (code, display) = if low.is_some_and(|l| value < l) {
        ("L", "Low")
    } else if high.is_some_and(|h| value > h) {
        ("H", "High")
    } else {
        return None;
    };
    Some(CodeableConcept::coded(
        code_systems::OBSERVATION_INTERPRETATION,
        code,
        display,
    ))
}

/// DiagnosticReport.code (DiagnosticReport.md).
pub(super) const DIAGNOSTIC_STUDIES_REPORT: (&str, &str) =
    ("721981007", "Diagnostic studies report");

impl<'a> Builder<'a> {
    // ---- Investigations ----

    pub(super) fn investigations(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        for inv in &req.patient.record.investigations {
            if !self.cx.sel.includes(&inv.meta.id) {
                continue;
            }
            if self.cx.withheld(&inv.meta) {
                primary.withheld = true;
                continue;
            }
            let item = &inv.meta.id;
            let recorded = self.recorded_in(item);
            let cx = &self.cx;
            let context = recorded.as_ref().map(|r| reference(&r.encounter));
            let report_id = cx.id("DiagnosticReport", item);
            let report_ref = format!("DiagnosticReport/{report_id}");
            let request_id = cx.id("ProcedureRequest-investigation", item);
            let specimen_id = cx.id("Specimen", item);
            let specimen_ref = format!("Specimen/{specimen_id}");
            let request_ref = format!("ProcedureRequest/{request_id}");
            let request = fhir::ProcedureRequest {
                id: request_id,
                meta: cx.meta(profiles::PROCEDURE_REQUEST, &inv.meta),
                identifier: cx.identifier(item, "/request"),
                // ProcedureRequest.md: a set value of `active`; authoredOn, context and
                // occurrence are not in use.
                status: "active",
                intent: "order",
                code: cx.coded(&inv.code),
                subject: cx.patient(),
                context: None,
                occurrence_date_time: None,
                authored_on: None,
                requester: Some(Requester {
                    agent: cx.organization(),
                    on_behalf_of: None,
                }),
                note: None,
            };
            write_entry(&mut self.out, &Resource::ProcedureRequest(request));
            // The quirk: no Specimen at all, as some providers send results.
            let with_specimen = !cx.req.patient.record.quirks.no_specimens;
            let specimen_of = || with_specimen.then(|| reference(&specimen_ref));
            let specimen = Specimen {
                id: specimen_id,
                meta: cx.meta(profiles::SPECIMEN, &inv.meta),
                identifier: cx.identifier(item, "/specimen"),
                type_: inv.specimen.as_deref().map(CodeableConcept::text),
                subject: cx.patient(),
                received_time: Instant(inv.date),
                collection: SpecimenCollection {
                    collected_date_time: Date(inv.date),
                },
            };
            if with_specimen {
                write_entry(&mut self.out, &Resource::Specimen(specimen));
            }
            let group_ref = (!inv.results.is_empty())
                .then(|| format!("Observation/{}", cx.id("Observation-test-group", item)));
            let mut results = Vec::with_capacity(inv.results.len());
            for (n, res) in inv.results.iter().enumerate() {
                let n = (n + 1).to_string();
                let id = stable_id(&["Observation-result", cx.nhs, item, &n]);
                let range = res.range.as_deref().and_then(numeric_range);
                results.push(format!("Observation/{id}"));
                let result = fhir::Observation {
                    id,
                    meta: cx.meta(profiles::OBSERVATION, &inv.meta),
                    identifier: cx.identifier(item, &format!("/result-{n}")),
                    status: "final",
                    category: laboratory(),
                    code: cx.coded(&res.code),
                    subject: cx.patient(),
                    context: None,
                    effective_date_time: Date(inv.date),
                    issued: Instant(inv.date),
                    performer: None,
                    value_quantity: res.value.map(|value| Quantity {
                        value,
                        unit: res.unit.as_deref(),
                    }),
                    interpretation: range.and_then(|r| interpretation(res.value?, r)),
                    comment: None,
                    specimen: specimen_of(),
                    reference_range: res
                        .range
                        .as_deref()
                        .map(|text| [reference_range(text, range, res.unit.as_deref())]),
                    // observation_testResult.md: the group header, as `derived-from`.
                    related: group_ref
                        .iter()
                        .map(|g| ObservationRelated {
                            type_: "derived-from",
                            target: reference(g),
                        })
                        .collect(),
                    component: Vec::new(),
                };
                write_entry(&mut self.out, &Resource::Observation(result));
            }
            if let Some(group_ref) = &group_ref {
                let group = fhir::Observation {
                    id: group_ref["Observation/".len()..].to_owned(),
                    meta: cx.meta(profiles::OBSERVATION, &inv.meta),
                    identifier: cx.identifier(item, "/test-group"),
                    status: "final",
                    // observation_testGroup.md: category is not in use.
                    category: None,
                    code: cx.coded(&inv.code),
                    subject: cx.patient(),
                    context: None,
                    effective_date_time: Date(inv.date),
                    issued: Instant(inv.date),
                    performer: None,
                    value_quantity: None,
                    interpretation: None,
                    comment: None,
                    specimen: specimen_of(),
                    reference_range: None,
                    related: results
                        .iter()
                        .map(|r| ObservationRelated {
                            type_: "has-member",
                            target: reference(r),
                        })
                        .collect(),
                    component: Vec::new(),
                };
                write_entry(&mut self.out, &Resource::Observation(group));
            }
            // Filing comments (observation_filingComments.md): when and by whom the report was
            // filed, with the practice's comment. The performer is mandatory: the consultation's
            // practitioner, else the usual GP, else the practice.
            let filing_id = cx.id("Observation-filing", item);
            let filing_ref = format!("Observation/{filing_id}");
            let filer = recorded
                .as_ref()
                .and_then(|r| r.practitioner.as_deref())
                .or(cx.recorder_ref.as_deref())
                .unwrap_or(&cx.org_ref);
            let filing = fhir::Observation {
                id: filing_id,
                meta: cx.meta(profiles::OBSERVATION, &inv.meta),
                identifier: cx.identifier(item, "/filing"),
                status: "unknown",
                category: None,
                code: snomed_pair(COMMENT_NOTE.0, COMMENT_NOTE.1),
                subject: cx.patient(),
                context,
                effective_date_time: Date(inv.date),
                issued: Instant(inv.date),
                performer: Some([reference(filer)]),
                value_quantity: None,
                interpretation: None,
                comment: inv.note.as_deref(),
                specimen: None,
                reference_range: None,
                related: Vec::new(),
                component: Vec::new(),
            };
            write_entry(&mut self.out, &Resource::Observation(filing));
            let mut result = Vec::with_capacity(2);
            if let Some(g) = &group_ref {
                result.push(reference(g));
            }
            result.push(reference(&filing_ref));
            let report = DiagnosticReport {
                id: report_id,
                meta: cx.meta(profiles::DIAGNOSTIC_REPORT, &inv.meta),
                identifier: cx.identifier(item, ""),
                based_on: [reference(&request_ref)],
                status: "final",
                category: CodeableConcept::coded(
                    code_systems::DIAGNOSTIC_SERVICE_SECTION,
                    "LAB",
                    "Laboratory",
                ),
                // DiagnosticReport.md: the test's own code is on the group and results.
                code: snomed_pair(DIAGNOSTIC_STUDIES_REPORT.0, DIAGNOSTIC_STUDIES_REPORT.1),
                subject: cx.patient(),
                context,
                issued: Instant(inv.date),
                performer: [Performer {
                    actor: cx.organization(),
                }],
                specimen: specimen_of().map(|r| [r]),
                result,
                // The scenario's note is the practice's comment, so it is on the filing comment:
                // conclusion is the performing organisation's.
                conclusion: None,
            };
            write_entry(&mut self.out, &Resource::DiagnosticReport(report));
            if self.cx.sel.in_primary(&inv.meta.id) {
                primary.add(report_ref);
            }
        }
        if self.cx.sel.lists(Area::Investigations) {
            self.primary_list(lists::INVESTIGATIONS, primary);
        }
    }
}
