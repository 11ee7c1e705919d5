//! Allergies: code, when asserted and ended, status and reaction.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Allergy, AllergyStatus, Record};

impl RecordChecker<'_> {
    pub(super) fn allergies(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, a) in r.allergies.iter().flatten().enumerate() {
            let e = &a.value;
            let item = ItemFields {
                at: a.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Allergy, &item);
            let code = self.code_of(Area::Allergy, &item, e.code.as_ref());
            let asserted = self.c.optional_date(self.file, e.asserted.as_ref());
            let end = self.c.optional_date(self.file, e.end.as_ref());
            let status = self.choice(
                e.status.as_ref(),
                "allergy status",
                &[
                    ("active", AllergyStatus::Active),
                    ("resolved", AllergyStatus::Resolved),
                ],
                AllergyStatus::Active,
            );
            if let (Some(code), Some(status)) = (code, status) {
                let start_day = self.c.start_day;
                let onset = crate::scenario::validate::supplier::onset(
                    e.onset.as_ref(),
                    start_day,
                    &mut |at, m| self.fail(at, m),
                );
                record.allergies.push(Allergy {
                    onset,
                    meta,
                    code,
                    asserted,
                    status,
                    end,
                    reaction: e.reaction.clone(),
                    note: e.note.clone(),
                });
            }
        }
    }
}
