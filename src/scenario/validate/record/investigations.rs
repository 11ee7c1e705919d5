//! Investigations: code, date and each result's code and value.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Investigation, InvestigationResult, Record};

impl RecordChecker<'_> {
    pub(super) fn investigations(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, inv) in r.investigations.iter().flatten().enumerate() {
            let e = &inv.value;
            let item = ItemFields {
                at: inv.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Investigation, &item);
            let code = self.code_of(Area::Investigation, &item, e.code.as_ref());
            let date = self.date_of(Area::Investigation, &item, e.date.as_ref(), "date");
            let mut results = Vec::new();
            let mut results_ok = true;
            for res in e.results.iter().flatten() {
                let code = match &res.value.code {
                    Some(c) => self.code(c),
                    None => {
                        self.fail(
                            res.referenced,
                            format!("a result of investigation {} has no code", meta.id),
                        );
                        None
                    }
                };
                let value = self.number(res.value.value.as_ref());
                match (code, value) {
                    (Some(code), Some(value)) => results.push(InvestigationResult {
                        code,
                        value,
                        unit: res.value.unit.clone(),
                        range: res.value.range.clone(),
                    }),
                    _ => results_ok = false,
                }
            }
            if let (Some(code), Some(date), true) = (code, date, results_ok) {
                record.investigations.push(Investigation {
                    meta,
                    code,
                    date,
                    specimen: e.specimen.clone(),
                    results,
                    note: e.note.clone(),
                });
            }
        }
    }
}
