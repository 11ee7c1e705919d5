//! Observations: code, date and a finite value.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Observation, Record};

impl RecordChecker<'_> {
    pub(super) fn observations(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, o) in r.observations.iter().flatten().enumerate() {
            let e = &o.value;
            let item = ItemFields {
                at: o.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Observation, &item);
            let code = self.code_of(Area::Observation, &item, e.code.as_ref());
            let date = self.date_of(Area::Observation, &item, e.date.as_ref(), "date");
            let value = self.number(e.value.as_ref());
            if let (Some(code), Some(date), Some(value)) = (code, date, value) {
                record.observations.push(Observation {
                    meta,
                    code,
                    date,
                    value,
                    unit: e.unit.clone(),
                    note: e.note.clone(),
                });
            }
        }
    }
}
