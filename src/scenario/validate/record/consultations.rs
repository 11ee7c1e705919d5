//! Consultations: date, type, practitioner and the items recorded in them.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Consultation, Record};

impl RecordChecker<'_> {
    pub(super) fn consultations(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, con) in r.consultations.iter().flatten().enumerate() {
            let e = &con.value;
            let item = ItemFields {
                at: con.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Consultation, &item);
            let date = self.date_of(Area::Consultation, &item, e.date.as_ref(), "date");
            let kind = self
                .required_of(Area::Consultation, &item, e.kind.as_ref(), "type")
                .and_then(|k| self.text(k, "consultation type"));
            if let Some(p) = &e.practitioner {
                self.c.practitioner_reference(self.file, p, "practitioner");
            }
            let entries = self.references(&meta.id, e.entries.as_deref(), "entries", true);
            if let (Some(date), Some(kind)) = (date, kind) {
                record.consultations.push(Consultation {
                    meta,
                    date,
                    kind,
                    practitioner: e.practitioner.as_ref().map(|p| p.value.clone()),
                    entries,
                    note: e.note.clone(),
                });
            }
        }
    }
}
