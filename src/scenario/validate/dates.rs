//! Dates: absolute or relative to the scenario's start day, and each item's required date.

use chrono::NaiveDate;
use serde_saphyr::Spanned;

use super::Checker;
use super::record::{Area, ItemFields, RecordChecker};
use crate::scenario::dates;

impl Checker {
    pub(super) fn date(&mut self, file: usize, value: &Spanned<String>) -> Option<NaiveDate> {
        match dates::resolve(&value.value, self.start_day) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report_at(file, value, e.to_string());
                None
            }
        }
    }

    pub(super) fn optional_date(
        &mut self,
        file: usize,
        value: Option<&Spanned<String>>,
    ) -> Option<NaiveDate> {
        value.and_then(|v| self.date(file, v))
    }
}

impl RecordChecker<'_> {
    pub(super) fn date_of(
        &mut self,
        area: Area,
        item: &ItemFields<'_>,
        date: Option<&Spanned<String>>,
        name: &str,
    ) -> Option<NaiveDate> {
        let date = self.required_of(area, item, date, name)?;
        let resolved = self.c.date(self.file, date);
        if resolved.is_none() {
            self.failed = true;
        }
        resolved
    }
}
