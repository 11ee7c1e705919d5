//! Medications: Medication, plan and order MedicationRequests and the MedicationStatement.

use super::*;
use crate::fhir::gpconnect::{self as gpc, code_systems, extensions, lists, profiles};
use crate::fhir::stu3::{
    self as fhir, CodeableConcept, Date, DispenseRequest, Extension, MedicationRequest,
    MedicationStatement, Period, Quantity, Requester, Resource, Text, reference, texts,
};
use crate::fhir::stu3::{Coding, CodingDetail};
use crate::fhir::stu3::{Duration, IdentifierValue};
use crate::fhir::systems;
use crate::scenario::MedicationType;
use crate::scenario::Supplier;

/// `28 tablet` -> value 28, unit `tablet`.
pub(super) fn quantity(s: &str) -> Option<(f64, String)> {
    let mut words = s.split_whitespace();
    let value: f64 = words.next()?.parse().ok()?;
    Some((value, words.collect::<Vec<_>>().join(" ")))
}

impl<'a> Builder<'a> {
    // ---- Medications ----

    /// Each medication is a Medication, a plan MedicationRequest, one order (its issue on the
    /// start day) and a MedicationStatement.
    pub(super) fn medications(&mut self) {
        let mut primary = ListBuilder::default();
        for m in &self.cx.req.patient.record.medications {
            if !self.cx.sel.includes(&m.meta.id) {
                continue;
            }
            if self.cx.withheld(&m.meta) {
                primary.withheld = true;
                continue;
            }
            let recorded = self.recorded_in(&m.meta.id);
            let cx = &self.cx;
            let item = &m.meta.id;
            let medication_id = cx.id("Medication", item);
            let plan_id = cx.id("MedicationRequest-plan", item);
            let issue_id = cx.id("MedicationRequest-issue", item);
            let statement_id = cx.id("MedicationStatement", item);
            let medication_ref = format!("Medication/{medication_id}");
            let plan_ref = format!("MedicationRequest/{plan_id}");
            let statement_ref = format!("MedicationStatement/{statement_id}");
            let ended = m.end.is_some_and(|e| e < cx.start_day);
            let status = match (&m.stopped, ended) {
                (Some(_), _) => "stopped",
                (None, true) => "completed",
                (None, false) => "active",
            };
            let (type_code, type_display) = match m.kind {
                MedicationType::Acute => ("acute", "Acute"),
                MedicationType::Repeat => ("repeat", "Repeat"),
                MedicationType::RepeatDispensing => ("repeat-dispensing", "Repeat dispensing"),
            };
            // GP systems default an issue to 28 days' supply.
            let supply_days = m.supply_days.unwrap_or(28);
            let prescription_type = || {
                Extension::concept(
                    extensions::PRESCRIPTION_TYPE,
                    CodeableConcept::coded(
                        code_systems::PRESCRIPTION_TYPE,
                        type_code,
                        type_display,
                    ),
                )
            };
            let quantity = m.quantity.as_deref().and_then(quantity);
            let quantity = || {
                quantity.as_ref().map(|(value, unit)| Quantity {
                    value: *value,
                    unit: (!unit.is_empty()).then_some(unit.as_str()),
                })
            };
            let period = || Period {
                start: Date(m.start),
                end: m.end.map(Date),
            };
            let dosage = || {
                [Text {
                    text: m
                        .dosage
                        .as_deref()
                        .unwrap_or(gpc::NO_INFORMATION_AVAILABLE)
                        .into(),
                }]
            };
            let note = || texts(m.note.as_deref().map(|n| format!("Prescriber Notes: {n}")));
            let context = || recorded.as_ref().map(|r| reference(&r.encounter));
            // The quirk: neither who recorded nor who prescribed.
            let named = !cx.req.patient.record.quirks.no_prescriber;
            let recorder = || cx.recorder_or(recorded.as_ref()).filter(|_| named);
            // The prescriber: the consultation's practitioner, else the usual GP. Real exports
            // name one on nearly three requests in four, apart from the recorder.
            let prescriber = recorded
                .as_ref()
                .and_then(|r| r.practitioner.as_deref())
                .or(cx.recorder_ref.as_deref())
                .filter(|_| named);
            let requester = || {
                prescriber.map(|p| Requester {
                    agent: reference(p),
                    on_behalf_of: None,
                })
            };

            let medication = fhir::Medication {
                id: medication_id,
                meta: cx.meta(profiles::MEDICATION, &m.meta),
                // No text: it would only repeat the dm+d term (medication guidance).
                // EMIS-style practices send their own drug code first, as the code picked.
                code: CodeableConcept {
                    detail: Some(CodingDetail {
                        translation: m
                            .drug_code
                            .as_deref()
                            .filter(|_| cx.supplier == Supplier::Emis)
                            .map(|d| Coding {
                                system: code_systems::EMIS_DRUG_CODES,
                                code: d,
                                display: &m.code.display,
                            }),
                        translation_first: cx.supplier == Supplier::Emis,
                        description_id: m.code.description_id.as_deref(),
                        description_display: None,
                    }),
                    ..CodeableConcept::coded(systems::SNOMED, &m.code.snomed, &m.code.display)
                },
            };
            write_entry(&mut self.out, &Resource::Medication(medication));

            let mut plan_extension = Vec::with_capacity(3);
            plan_extension.push(prescription_type());
            if m.kind != MedicationType::Acute {
                let mut repeat = Vec::with_capacity(3);
                if let Some(allowed) = m.repeats_allowed {
                    repeat.push(Extension::unsigned_int(
                        "numberOfRepeatPrescriptionsAllowed",
                        allowed,
                    ));
                }
                // The one order below.
                repeat.push(Extension::unsigned_int(
                    "numberOfRepeatPrescriptionsIssued",
                    1,
                ));
                if let Some(end) = m.end {
                    repeat.push(Extension::date_time("authorisationExpiryDate", end));
                }
                plan_extension.push(Extension::nested(
                    extensions::MEDICATION_REPEAT_INFORMATION,
                    repeat,
                ));
            }
            if let (Some(reason), Some(end)) = (m.stopped.as_deref(), m.end) {
                plan_extension.push(Extension::nested(
                    extensions::MEDICATION_STATUS_REASON,
                    vec![
                        Extension::concept("statusReason", CodeableConcept::text(reason)),
                        Extension::date_time("statusChangeDate", end),
                    ],
                ));
            }
            let plan = MedicationRequest {
                id: plan_id,
                meta: cx.meta(profiles::MEDICATION_REQUEST, &m.meta),
                extension: plan_extension,
                identifier: cx.identifier(item, "/plan"),
                group_identifier: None,
                based_on: None,
                status,
                intent: "plan",
                medication_reference: reference(&medication_ref),
                subject: cx.patient(),
                context: context(),
                authored_on: Date(m.start),
                requester: requester(),
                recorder: recorder(),
                note: note(),
                dosage_instruction: dosage(),
                // The authorisation's validity has a start only, as real exports send it.
                dispense_request: DispenseRequest {
                    validity_period: Period {
                        start: Date(m.start),
                        end: None,
                    },
                    expected_supply_duration: Some(Duration::days(supply_days)),
                    quantity: quantity(),
                },
            };
            write_entry(&mut self.out, &Resource::MedicationRequest(plan));
            // An order stays `completed` when its plan is stopped. Its validity lasts exactly
            // the supply it gives, as in real exports (a translator derives the supply's length
            // from the period).
            let issue_end = m.start + chrono::Days::new(u64::from(supply_days));
            let issue = MedicationRequest {
                id: issue_id,
                meta: cx.meta(profiles::MEDICATION_REQUEST, &m.meta),
                extension: vec![prescription_type()],
                identifier: cx.identifier(item, "/issue-1"),
                // The prescription the issue was part of.
                group_identifier: Some(IdentifierValue {
                    value: format!("{}-issue-1", cx.id("Prescription", item)),
                }),
                based_on: Some([reference(&plan_ref)]),
                status: "completed",
                intent: "order",
                medication_reference: reference(&medication_ref),
                subject: cx.patient(),
                context: context(),
                authored_on: Date(m.start),
                requester: requester(),
                recorder: recorder(),
                note: None,
                dosage_instruction: dosage(),
                dispense_request: DispenseRequest {
                    expected_supply_duration: Some(Duration::days(supply_days)),
                    validity_period: Period {
                        start: Date(m.start),
                        end: Some(Date(issue_end)),
                    },
                    quantity: quantity(),
                },
            };
            if self.cx.sel.prescription_issues() {
                write_entry(&mut self.out, &Resource::MedicationRequest(issue));
            }
            let mut statement_extension = Vec::with_capacity(2);
            statement_extension.push(Extension::concept(
                extensions::PRESCRIBING_AGENCY,
                CodeableConcept::coded(
                    code_systems::PRESCRIBING_AGENCY,
                    "prescribed-at-gp-practice",
                    "Prescribed at GP practice",
                ),
            ));
            // Repeat dispensing has no issue information in the GP system.
            if m.kind != MedicationType::RepeatDispensing {
                statement_extension.push(Extension::date_time(
                    extensions::MEDICATION_STATEMENT_LAST_ISSUE_DATE,
                    m.start,
                ));
            }
            let statement = MedicationStatement {
                id: statement_id,
                meta: cx.meta(profiles::MEDICATION_STATEMENT, &m.meta),
                extension: statement_extension,
                identifier: cx.identifier(item, ""),
                based_on: [reference(&plan_ref)],
                context: context(),
                status,
                medication_reference: reference(&medication_ref),
                effective_period: period(),
                date_asserted: Date(m.start),
                subject: cx.patient(),
                taken: "unk",
                note: note(),
                dosage: dosage(),
            };
            write_entry(&mut self.out, &Resource::MedicationStatement(statement));
            if self.cx.sel.in_primary(&m.meta.id) {
                primary.add(statement_ref);
            }
        }
        if self.cx.sel.lists(Area::Medication) {
            self.primary_list(lists::MEDICATIONS, primary);
        }
    }
}
