//! One patient's record: item ids, the fields every item shares, and one file per clinical area.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::{Checker, Documents, Place, place};
use crate::scenario::file::{CodeEntry, RecordEntry};
use crate::scenario::{Code, ItemMeta, Record};

mod allergies;
mod consultations;
mod diary;
mod documents;
mod immunisations;
mod investigations;
mod medications;
mod observations;
mod problems;
mod referrals;

/// The clinical areas, in the order items are numbered and their ids generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Area {
    Problem,
    Allergy,
    Medication,
    Immunisation,
    Observation,
    Investigation,
    Consultation,
    Referral,
    Diary,
    Document,
}

impl Area {
    /// The prefix of generated ids and the word used in messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Area::Problem => "problem",
            Area::Allergy => "allergy",
            Area::Medication => "medication",
            Area::Immunisation => "immunisation",
            Area::Observation => "observation",
            Area::Investigation => "investigation",
            Area::Consultation => "consultation",
            Area::Referral => "referral",
            Area::Diary => "diary",
            Area::Document => "document",
        }
    }
}

/// Checks one patient's record: ids, required fields, codes, dates and the references between items.
pub(super) struct RecordChecker<'c> {
    pub(super) c: &'c mut Checker,
    pub(super) file: usize,
    pub(super) dir: &'c Documents,
    /// The patient's NHS number as written, for messages.
    pub(super) patient: String,
    pub(super) ids: HashMap<String, (Place, Area)>,
    /// Set when any item of the record was refused: the record is then not built.
    pub(super) failed: bool,
    /// The flavour of the practice holding the record, when known: `read_code`s must fit it.
    pub(super) supplier: Option<crate::scenario::Supplier>,
}

/// The common part of every item, as written.
pub(super) struct ItemFields<'a> {
    pub(super) at: Location,
    pub(super) n: usize,
    pub(super) id: Option<&'a Spanned<String>>,
    pub(super) confidential: Option<bool>,
}

impl<'c> RecordChecker<'c> {
    pub(super) fn new(
        c: &'c mut Checker,
        file: usize,
        dir: &'c Documents,
        patient: String,
    ) -> Self {
        Self {
            c,
            file,
            dir,
            patient,
            ids: HashMap::new(),
            failed: false,
            supplier: None,
        }
    }

    pub(super) fn record(mut self, r: &RecordEntry) -> Option<Record> {
        // Ids of every area first, so `related` and `entries` may point at any item.
        let areas: [(Area, Vec<ItemHead<'_>>); 10] = [
            (Area::Problem, heads(&r.problems, |e| e.id.as_ref())),
            (Area::Allergy, heads(&r.allergies, |e| e.id.as_ref())),
            (Area::Medication, heads(&r.medications, |e| e.id.as_ref())),
            (
                Area::Immunisation,
                heads(&r.immunisations, |e| e.id.as_ref()),
            ),
            (Area::Observation, heads(&r.observations, |e| e.id.as_ref())),
            (
                Area::Investigation,
                heads(&r.investigations, |e| e.id.as_ref()),
            ),
            (
                Area::Consultation,
                heads(&r.consultations, |e| e.id.as_ref()),
            ),
            (Area::Referral, heads(&r.referrals, |e| e.id.as_ref())),
            (Area::Diary, heads(&r.diary, |e| e.id.as_ref())),
            (Area::Document, heads(&r.documents, |e| e.id.as_ref())),
        ];
        for (area, items) in &areas {
            for (n, (at, id)) in items.iter().enumerate() {
                self.register_id(*area, n, *at, *id);
            }
        }

        let mut record = Record::default();
        self.problems(r, &mut record);
        self.allergies(r, &mut record);
        self.medications(r, &mut record);
        self.immunisations(r, &mut record);
        self.observations(r, &mut record);
        self.investigations(r, &mut record);
        self.consultations(r, &mut record);
        self.referrals(r, &mut record);
        self.diary(r, &mut record);
        self.documents(r, &mut record);
        for q in r.quirks.iter().flatten() {
            match crate::scenario::validate::supplier::quirk(&q.value, &mut record.quirks) {
                Ok(()) => {}
                Err(m) => self.fail_at(q, m),
            }
        }
        record.in_transit_since = self.c.optional_date(self.file, r.in_transit_since.as_ref());
        record.awaiting_filing = self.c.areas(self.file, r.awaiting_filing.as_deref(), false);
        (!self.failed).then_some(record)
    }

    pub(super) fn fail(&mut self, at: Location, message: String) {
        self.failed = true;
        self.c.report(place(self.file, at), message);
    }

    pub(super) fn fail_at<T>(&mut self, value: &Spanned<T>, message: String) {
        self.fail(value.referenced, message);
    }

    pub(super) fn generated_id(area: Area, n: usize) -> String {
        format!("{}-{}", area.name(), n + 1)
    }

    pub(super) fn meta(&self, area: Area, item: &ItemFields<'_>) -> ItemMeta {
        ItemMeta {
            id: item
                .id
                .map_or_else(|| Self::generated_id(area, item.n), |i| i.value.clone()),
            confidential: item.confidential.unwrap_or(false),
        }
    }

    pub(super) fn label(area: Area, item: &ItemFields<'_>) -> String {
        let id = item
            .id
            .map_or_else(|| Self::generated_id(area, item.n), |i| i.value.clone());
        format!("{} {id}", area.name())
    }

    pub(super) fn required_of<'a, T>(
        &mut self,
        area: Area,
        item: &ItemFields<'_>,
        field: Option<&'a Spanned<T>>,
        name: &str,
    ) -> Option<&'a Spanned<T>> {
        if field.is_none() {
            let message = format!("{} has no {name}", Self::label(area, item));
            self.fail(item.at, message);
        }
        field
    }

    pub(super) fn code_of(
        &mut self,
        area: Area,
        item: &ItemFields<'_>,
        code: Option<&Spanned<CodeEntry>>,
    ) -> Option<Code> {
        self.required_of(area, item, code, "code")
            .and_then(|c| self.code(c))
    }

    pub(super) fn text(&mut self, value: &Spanned<String>, what: &str) -> Option<String> {
        let text = self.c.non_empty(self.file, value, what);
        if text.is_none() {
            self.failed = true;
        }
        text
    }

    /// A finite number, if one was written (`Some(None)` when absent; `None` when refused).
    pub(super) fn number(&mut self, value: Option<&Spanned<f64>>) -> Option<Option<f64>> {
        match value {
            Some(v) if !v.value.is_finite() => {
                self.fail_at(v, format!("value {} is not a finite number", v.value));
                None
            }
            Some(v) => Some(Some(v.value)),
            None => Some(None),
        }
    }
}

/// Where an item starts, and its `id` when written.
type ItemHead<'a> = (Location, Option<&'a Spanned<String>>);

/// The head of every item of one area.
fn heads<'a, T>(
    list: &'a Option<Vec<Spanned<T>>>,
    id: impl Fn(&'a T) -> Option<&'a Spanned<String>>,
) -> Vec<ItemHead<'a>> {
    list.iter()
        .flatten()
        .map(|item| (item.referenced, id(&item.value)))
        .collect()
}
