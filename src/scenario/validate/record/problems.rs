//! Problems: code, onset and end, status, significance and the items they relate to.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Problem, ProblemStatus, Record, Significance};

impl RecordChecker<'_> {
    pub(super) fn problems(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, p) in r.problems.iter().flatten().enumerate() {
            let e = &p.value;
            let item = ItemFields {
                at: p.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Problem, &item);
            let code = self.code_of(Area::Problem, &item, e.code.as_ref());
            let onset = self.c.optional_date(self.file, e.onset.as_ref());
            let end = self.c.optional_date(self.file, e.end.as_ref());
            let status = self.choice(
                e.status.as_ref(),
                "problem status",
                &[
                    ("active", ProblemStatus::Active),
                    ("inactive", ProblemStatus::Inactive),
                ],
                ProblemStatus::Active,
            );
            let significance = self.choice(
                e.significance.as_ref(),
                "problem significance",
                &[
                    ("major", Significance::Major),
                    ("minor", Significance::Minor),
                ],
                Significance::Minor,
            );
            let related = self.references(&meta.id, e.related.as_deref(), "related", false);
            if let (Some(code), Some(status), Some(significance)) = (code, status, significance) {
                record.problems.push(Problem {
                    meta,
                    code,
                    onset,
                    end,
                    status,
                    significance,
                    related,
                    note: e.note.clone(),
                });
            }
        }
    }
}
