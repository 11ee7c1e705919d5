//! Medications: code, start and end, type, repeats and why one was stopped.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Medication, MedicationType, Record};

impl RecordChecker<'_> {
    pub(super) fn medications(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, m) in r.medications.iter().flatten().enumerate() {
            let e = &m.value;
            let item = ItemFields {
                at: m.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Medication, &item);
            let code = self.code_of(Area::Medication, &item, e.code.as_ref());
            let start = self.date_of(Area::Medication, &item, e.start.as_ref(), "start");
            let end = self.c.optional_date(self.file, e.end.as_ref());
            let kind = self.required_of(Area::Medication, &item, e.kind.as_ref(), "type");
            let kind = kind.and_then(|k| {
                self.choice(
                    Some(k),
                    "medication type",
                    &[
                        ("acute", MedicationType::Acute),
                        ("repeat", MedicationType::Repeat),
                        ("repeat-dispensing", MedicationType::RepeatDispensing),
                    ],
                    MedicationType::Acute,
                )
            });
            if let (Some(s), Some(e_), Some(ed)) = (start, end, m.value.end.as_ref())
                && e_ < s
            {
                self.fail_at(ed, format!("medication end {e_} is before its start {s}"));
            }
            if let (Some(allowed), Some(MedicationType::Acute)) = (&e.repeats_allowed, kind) {
                self.fail_at(
                    allowed,
                    "repeats_allowed is only for repeat and repeat-dispensing medications"
                        .to_owned(),
                );
            }
            let stopped = match &e.stopped {
                Some(reason) if e.end.is_none() => {
                    self.fail_at(
                        reason,
                        format!(
                            "{} is stopped but has no end (the day it was stopped)",
                            Self::label(Area::Medication, &item)
                        ),
                    );
                    None
                }
                Some(reason) => self.text(reason, "stopped reason"),
                None => None,
            };
            if let (Some(code), Some(start), Some(kind)) = (code, start, kind) {
                let (drug_code, supply_days) =
                    crate::scenario::validate::supplier::medication(e, &mut |at, m| {
                        self.fail(at, m)
                    });
                record.medications.push(Medication {
                    drug_code,
                    supply_days,
                    meta,
                    code,
                    start,
                    end,
                    kind,
                    dosage: e.dosage.clone(),
                    quantity: e.quantity.clone(),
                    repeats_allowed: e.repeats_allowed.as_ref().map(|r| r.value),
                    stopped,
                    note: e.note.clone(),
                });
            }
        }
    }
}
