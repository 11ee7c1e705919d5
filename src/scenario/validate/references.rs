//! References between entries: practices and practitioners named by ODS code or id, and items of
//! one patient naming each other in `related` and `entries`.

use serde_saphyr::{Location, Spanned};

use super::record::{Area, RecordChecker};
use super::{Checker, place};

impl Checker {
    pub(super) fn ods_reference(
        &mut self,
        file: usize,
        value: &Spanned<String>,
        field: &str,
    ) -> bool {
        if self.practices.contains_key(&value.value) {
            return true;
        }
        if self.references_complete {
            self.report_at(
                file,
                value,
                format!(
                    "{field} names {}, but no practice has this ODS code",
                    value.value
                ),
            );
        }
        false
    }

    pub(super) fn practitioner_reference(
        &mut self,
        file: usize,
        value: &Spanned<String>,
        field: &str,
    ) {
        if !self.practitioners.contains_key(&value.value) && self.references_complete {
            self.report_at(
                file,
                value,
                format!(
                    "{field} names {}, but no practitioner has this id",
                    value.value
                ),
            );
        }
    }
}

impl RecordChecker<'_> {
    pub(super) fn register_id(
        &mut self,
        area: Area,
        n: usize,
        at: Location,
        id: Option<&Spanned<String>>,
    ) {
        let (value, here) = match id {
            Some(id) => {
                if self.c.resource_id(self.file, id, "item id").is_none() {
                    self.failed = true;
                }
                (id.value.clone(), place(self.file, id.referenced))
            }
            None => (Self::generated_id(area, n), place(self.file, at)),
        };
        match self.ids.get(&value) {
            Some((first, _)) => {
                let message = format!(
                    "duplicate item id {value} in patient {} (first defined at {})",
                    self.patient,
                    self.c.show(*first)
                );
                self.failed = true;
                self.c.report(here, message);
            }
            None => {
                self.ids.insert(value, (here, area));
            }
        }
    }

    /// Ids listed in `related` or `entries`, each of which must be another item of this patient.
    pub(super) fn references(
        &mut self,
        own_id: &str,
        list: Option<&[Spanned<String>]>,
        field: &str,
        is_consultation: bool,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        for r in list.unwrap_or_default() {
            match self.ids.get(&r.value).map(|(_, area)| *area) {
                None => self.fail_at(
                    r,
                    format!(
                        "{field} lists {}, but patient {} has no item with this id",
                        r.value, self.patient
                    ),
                ),
                Some(_) if r.value == own_id => {
                    self.fail_at(r, format!("item {own_id} lists itself in {field}"));
                }
                Some(Area::Consultation) if is_consultation => self.fail_at(
                    r,
                    format!(
                        "consultation entries cannot include another consultation ({})",
                        r.value
                    ),
                ),
                Some(_) => {
                    if !ids.contains(&r.value) {
                        ids.push(r.value.clone());
                    }
                }
            }
        }
        ids
    }
}
