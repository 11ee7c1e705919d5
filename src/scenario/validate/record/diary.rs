//! Diary entries: date, text, code and when entered.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{DiaryEntry, Record};

impl RecordChecker<'_> {
    pub(super) fn diary(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, d) in r.diary.iter().flatten().enumerate() {
            let e = &d.value;
            let item = ItemFields {
                at: d.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Diary, &item);
            let date = self.date_of(Area::Diary, &item, e.date.as_ref(), "date");
            let text = self
                .required_of(Area::Diary, &item, e.text.as_ref(), "text")
                .and_then(|t| self.text(t, "diary text"));
            let code = self.optional_code(e.code.as_ref());
            let entered = match &e.entered {
                Some(d) => self.c.date(self.file, d).map(Some),
                None => Some(None),
            };
            if entered.is_none() {
                self.failed = true;
            }
            if let (Some(date), Some(text), Some(code), Some(entered)) = (date, text, code, entered)
            {
                record.diary.push(DiaryEntry {
                    meta,
                    date,
                    text,
                    code,
                    entered,
                });
            }
        }
    }
}
