//! Uncategorised data: Observations, blood pressure readings taken together as one.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;

use super::*;
use crate::fhir::gpconnect::{lists, profiles};
use crate::fhir::stu3::{
    self as fhir, Date, Instant, ObservationComponent, Quantity, Resource, reference,
};
use crate::scenario::{Consultation, Observation};

/// The GP Connect triple of a blood pressure recorded without a panel code
/// (uncategorisedData_guidance.md).
pub(super) const BLOOD_PRESSURE: (&str, &str) =
    ("163020007", "On examination - blood pressure reading");
pub(super) const SYSTOLIC: &str = "72313002";
pub(super) const DIASTOLIC: &str = "1091811000000102";

/// Systolic and diastolic readings taken together: same day, same consultation (or neither in
/// one), both with a value and equally confidential. GP Connect sends such a pair as one
/// Observation with two components (uncategorisedData_guidance.md). Returns diastolic id ->
/// systolic id; each reading pairs at most once, in record order.
pub(super) fn blood_pressure_readings<'r>(
    observations: &'r [Observation],
    consultation_of: &HashMap<&'r str, &'r Consultation>,
) -> HashMap<&'r str, &'r str> {
    pub(super) type Key<'k> = (NaiveDate, Option<&'k str>, bool);
    let key = |o: &'r Observation| -> Key<'r> {
        let c = consultation_of
            .get(o.meta.id.as_str())
            .map(|c| c.meta.id.as_str());
        (o.date, c, o.meta.confidential)
    };
    let mut diastolic: HashMap<Key<'r>, Vec<&'r str>> = HashMap::new();
    for o in observations.iter().rev() {
        if o.code.snomed == DIASTOLIC && o.value.is_some() {
            diastolic.entry(key(o)).or_default().push(&o.meta.id);
        }
    }
    let mut pairs = HashMap::new();
    for o in observations {
        if o.code.snomed == SYSTOLIC
            && o.value.is_some()
            && let Some(d) = diastolic.get_mut(&key(o)).and_then(Vec::pop)
        {
            pairs.insert(d, o.meta.id.as_str());
        }
    }
    pairs
}

impl<'a> Builder<'a> {
    // ---- Uncategorised data ----

    pub(super) fn uncategorised(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        let observations = &req.patient.record.observations;
        // Systolic id -> the diastolic reading recorded with it.
        let mut diastolic_of: HashMap<&str, &Observation> = HashMap::new();
        for o in observations {
            if let Some(systolic) = self.cx.diastolic_in.get(o.meta.id.as_str()) {
                diastolic_of.insert(systolic, o);
            }
        }
        for o in observations {
            if !self.cx.sel.includes(&o.meta.id) {
                continue;
            }
            if self.cx.withheld(&o.meta) {
                primary.withheld = true;
                continue;
            }
            if self.cx.diastolic_in.contains_key(o.meta.id.as_str()) {
                // Carried as a component of the systolic reading's resource.
                continue;
            }
            let recorded = self.recorded_in(&o.meta.id);
            let cx = &self.cx;
            let id = cx.id("Observation", &o.meta.id);
            let entry_ref = format!("Observation/{id}");
            let diastolic = diastolic_of.get(o.meta.id.as_str()).copied();
            let comment = match (diastolic, o.note.as_deref()) {
                (Some(d), Some(n)) => d
                    .note
                    .as_deref()
                    .map_or(Cow::Borrowed(n), |dn| Cow::Owned(format!("{n} {dn}"))),
                (Some(d), None) => d.note.as_deref().map_or(Cow::Borrowed(""), Cow::Borrowed),
                (None, n) => Cow::Borrowed(n.unwrap_or("")),
            };
            let component_of = |r: &'a Observation| ObservationComponent {
                code: self.cx.coded(&r.code),
                value_quantity: r.value.map(|value| Quantity {
                    value,
                    unit: r.unit.as_deref(),
                }),
            };
            let (code, value_quantity, component) = match diastolic {
                // One reading: the GP Connect blood pressure triple, its values as components.
                Some(d) => (
                    snomed_pair(BLOOD_PRESSURE.0, BLOOD_PRESSURE.1),
                    None,
                    vec![component_of(o), component_of(d)],
                ),
                None => (
                    cx.coded(&o.code),
                    o.value.map(|value| Quantity {
                        value,
                        unit: o.unit.as_deref(),
                    }),
                    Vec::new(),
                ),
            };
            let observation = fhir::Observation {
                id,
                meta: cx.meta(profiles::OBSERVATION, &o.meta),
                identifier: cx.identifier(&o.meta.id, ""),
                status: "final",
                category: None,
                code,
                subject: cx.patient(),
                context: recorded.as_ref().map(|r| reference(&r.encounter)),
                effective_date_time: Date(o.date),
                issued: Instant(o.date),
                performer: recorded
                    .as_ref()
                    .and_then(|r| r.practitioner.as_deref())
                    .or(cx.recorder_ref.as_deref())
                    .map(|r| [reference(r)]),
                value_quantity,
                interpretation: None,
                comment: (!comment.is_empty()).then_some(&*comment),
                specimen: None,
                reference_range: None,
                related: Vec::new(),
                component,
            };
            write_entry(&mut self.out, &Resource::Observation(observation));
            if self.cx.sel.in_primary(&o.meta.id) {
                primary.add(entry_ref);
            }
        }
        if self.cx.sel.lists(Area::Uncategorised) {
            self.primary_list(lists::UNCATEGORISED, primary);
        }
    }
}
