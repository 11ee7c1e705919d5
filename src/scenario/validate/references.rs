//! References between entries: practices and practitioners named by ODS code or id (perhaps of a
//! later file: such references wait for the last file), and items of one patient naming each
//! other in `related` and `entries`.

use serde_saphyr::{Location, Spanned};

use super::record::{Area, RecordChecker};
use super::{Checker, Documents, Place, place};
use crate::scenario::World;
use crate::scenario::file::PatientEntry;

/// A reference met before what it names was defined: settled after the last file.
pub(super) struct Pending {
    place: Place,
    value: String,
    field: &'static str,
    to: Table,
}

/// What a reference names.
#[derive(Clone, Copy)]
enum Table {
    Practice,
    Practitioner,
}

/// A patient whose `registered_with` or `record_at` names a practice not defined yet, kept as
/// written until the last file.
pub(super) struct Waiting {
    pub file: usize,
    /// How many patients the world held before it: where it goes back.
    pub at: usize,
    pub documents: Documents,
    pub entry: Spanned<PatientEntry>,
}

impl Checker {
    /// Whether `value` names a practice; before the last file, an unknown one is noted and taken
    /// as known until then.
    pub(super) fn ods_reference(
        &mut self,
        file: usize,
        value: &Spanned<String>,
        field: &'static str,
    ) -> bool {
        self.practices.contains_key(&value.value)
            || self.unknown(Table::Practice, file, value, field)
    }

    pub(super) fn practitioner_reference(
        &mut self,
        file: usize,
        value: &Spanned<String>,
        field: &'static str,
    ) {
        if !self.practitioners.contains_key(&value.value) {
            self.unknown(Table::Practitioner, file, value, field);
        }
    }

    /// A reference to no entry seen so far: pending while files remain (true), else reported
    /// (false).
    fn unknown(
        &mut self,
        to: Table,
        file: usize,
        value: &Spanned<String>,
        field: &'static str,
    ) -> bool {
        let pending = Pending {
            place: place(file, value.referenced),
            value: value.value.clone(),
            field,
            to,
        };
        if self.all_seen {
            self.unresolved(pending);
            false
        } else {
            self.pending.push(pending);
            true
        }
    }

    fn unresolved(&mut self, p: Pending) {
        if !self.references_complete {
            return;
        }
        let message = match p.to {
            Table::Practice => format!(
                "{} names {}, but no practice has this ODS code",
                p.field, p.value
            ),
            Table::Practitioner => format!(
                "{} names {}, but no practitioner has this id",
                p.field, p.value
            ),
        };
        self.report(p.place, message);
    }

    /// Whether every practice a patient names has been defined (so its record can be checked
    /// against the one holding it).
    pub(super) fn holder_known(&self, e: &PatientEntry) -> bool {
        [&e.registered_with, &e.record_at]
            .into_iter()
            .flatten()
            .all(|r| self.practices.contains_key(&r.value))
    }

    /// After the last file: the waiting patients checked and put back at their places in one
    /// pass, then the pending references judged.
    pub(super) fn settle(&mut self, world: &mut World) {
        let waiting = std::mem::take(&mut self.waiting);
        if !waiting.is_empty() {
            let built = std::mem::take(&mut world.patients);
            let mut merged = Vec::with_capacity(built.len() + waiting.len());
            let mut waiting = waiting.into_iter().peekable();
            for (i, patient) in built.into_iter().enumerate() {
                while let Some(w) = waiting.next_if(|w| w.at == i) {
                    merged.extend(self.patient(w.file, &w.documents, &w.entry));
                }
                merged.push(patient);
            }
            for w in waiting {
                merged.extend(self.patient(w.file, &w.documents, &w.entry));
            }
            world.patients = merged;
        }
        for p in std::mem::take(&mut self.pending) {
            let known = match p.to {
                Table::Practice => self.practices.contains_key(&p.value),
                Table::Practitioner => self.practitioners.contains_key(&p.value),
            };
            if !known {
                self.unresolved(p);
            }
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
