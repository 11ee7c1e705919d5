//! Immunisations: code and date.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Immunisation, Record};

impl RecordChecker<'_> {
    pub(super) fn immunisations(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, i) in r.immunisations.iter().flatten().enumerate() {
            let e = &i.value;
            let item = ItemFields {
                at: i.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Immunisation, &item);
            let code = self.code_of(Area::Immunisation, &item, e.code.as_ref());
            let date = self.date_of(Area::Immunisation, &item, e.date.as_ref(), "date");
            if let (Some(code), Some(date)) = (code, date) {
                let start_day = self.c.start_day;
                let v = crate::scenario::validate::supplier::immunisation(
                    e,
                    start_day,
                    &mut |at, m| self.fail(at, m),
                );
                record.immunisations.push(Immunisation {
                    batch: v.batch,
                    manufacturer: v.manufacturer,
                    site: v.site,
                    expiry: v.expiry,
                    meta,
                    code,
                    date,
                    note: e.note.clone(),
                });
            }
        }
    }
}
