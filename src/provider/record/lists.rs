//! Lists (`docs/migrate.md`): primary Lists, secondary Lists and the consultation
//! structure Lists, with the empty-reason and the warnings (confidential items, data in
//! transit, data awaiting filing).

use std::collections::HashSet;

use chrono::NaiveDate;

use super::*;
use crate::fhir::gpconnect::{
    self as gpc, code_systems, extensions, lists, profiles, secondary_list_title,
};
use crate::fhir::stu3::{
    CodeableConcept, Date, Extension, List, ListEntry, Meta, Raw, Resource, Text, reference,
};

/// A List being filled: its entry references, contained resources, and whether it lost an item.
#[derive(Default)]
pub(super) struct ListBuilder {
    pub(super) entries: Vec<String>,
    pub(super) contained: Vec<Raw>,
    pub(super) seen: HashSet<String>,
    pub(super) withheld: bool,
    /// The area's data awaits filing (a primary List only).
    pub(super) awaiting_filing: bool,
}

impl ListBuilder {
    pub(super) fn add(&mut self, reference: String) {
        if self.seen.insert(reference.clone()) {
            self.entries.push(reference);
        }
    }

    /// Adds a resource contained in the List itself (ended allergies, `docs/migrate.md`).
    pub(super) fn add_contained(&mut self, id: &str, resource: Raw) {
        let reference = format!("#{id}");
        if self.seen.insert(reference.clone()) {
            self.contained.push(resource);
            self.entries.push(reference);
        }
    }
}

/// A consultation, topic or heading List: its consultation, date and order
/// (list_consutation.md, list_topic.md, list_category.md).
pub(super) fn structure<'l>(mut list: List<'l>, encounter: &'l str, date: NaiveDate) -> List<'l> {
    list.encounter = Some(reference(encounter));
    list.date = Some(Date(date));
    list.ordered_by = Some(CodeableConcept::coded(
        code_systems::LIST_ORDER,
        "system",
        "Sorted by System",
    ));
    list
}

/// A primary or secondary List: dated with the extract (the world's day, so the same world
/// always gives the same Bundle) and sorted by event date, as every real export sends them.
pub(super) fn extract(mut list: List<'_>, day: NaiveDate) -> List<'_> {
    list.date = Some(Date(day));
    list.ordered_by = Some(CodeableConcept::coded(
        code_systems::LIST_ORDER,
        "event-date",
        "Sorted by Event Date",
    ));
    list
}

impl<'a> Context<'a> {
    /// A List: primary (`id` None, SNOMED code), secondary, or consultation structure (with id).
    pub(super) fn list<'s>(
        &'s self,
        title: &'s str,
        code: CodeableConcept<'s>,
        l: &'s ListBuilder,
        id: Option<String>,
    ) -> List<'s> {
        let mut extension = Vec::new();
        if id.is_none() {
            extension.push(Extension::concept(
                extensions::CLINICAL_SETTING,
                snomed_pair(
                    gpc::GENERAL_PRACTICE_SERVICE.0,
                    gpc::GENERAL_PRACTICE_SERVICE.1,
                ),
            ));
        }
        // List.note is 0..1: a List with warnings carries their texts in one note (the
        // warning explains an emptiness); an empty List otherwise says "Information not
        // available". Consultation structure Lists carry no warning.
        let mut note = Vec::with_capacity(1);
        let mut texts: Vec<std::borrow::Cow<'_, str>> = Vec::new();
        if l.withheld {
            extension.push(Extension::code(
                extensions::LIST_WARNING_CODE,
                gpc::CONFIDENTIAL_ITEMS,
            ));
            texts.push(gpc::CONFIDENTIAL_ITEMS_NOTE.into());
        }
        if let (None, Some(day)) = (&id, self.req.patient.record.in_transit_since) {
            extension.push(Extension::code(
                extensions::LIST_WARNING_CODE,
                gpc::DATA_IN_TRANSIT,
            ));
            let (before, after) = gpc::DATA_IN_TRANSIT_NOTE;
            texts.push(format!("{before}{}{after}", day.format("%d-%b-%Y")).into());
        }
        if l.awaiting_filing {
            extension.push(Extension::code(
                extensions::LIST_WARNING_CODE,
                gpc::DATA_AWAITING_FILING,
            ));
            texts.push(gpc::DATA_AWAITING_FILING_NOTE.into());
        }
        if texts.len() == 1 {
            note.extend(texts.pop().map(|text| Text { text }));
        } else if !texts.is_empty() {
            note.push(Text {
                text: texts.join(" ").into(),
            });
        }
        let empty_reason = l.entries.is_empty().then(|| {
            if note.is_empty() {
                note.push(Text {
                    text: gpc::INFORMATION_NOT_AVAILABLE.into(),
                });
            }
            CodeableConcept::coded(
                code_systems::LIST_EMPTY_REASON,
                gpc::NO_CONTENT_RECORDED.0,
                gpc::NO_CONTENT_RECORDED.1,
            )
        });
        List {
            id,
            meta: Meta {
                version_id: None,
                profile: [profiles::LIST],
                security: None,
            },
            contained: &l.contained,
            extension,
            status: "current",
            mode: "snapshot",
            title: Some(title),
            code,
            subject: self.patient(),
            encounter: None,
            date: None,
            ordered_by: None,
            note,
            entry: l
                .entries
                .iter()
                .map(|r| ListEntry { item: reference(r) })
                .collect(),
            empty_reason,
        }
    }
}

impl<'a> Builder<'a> {
    pub(super) fn primary_list(&mut self, (code, title): (&str, &str), mut l: ListBuilder) {
        l.awaiting_filing =
            area_of(code).is_some_and(|a| self.cx.req.patient.record.awaiting_filing.contains(&a));
        let display = if code == lists::UNCATEGORISED.0 {
            lists::UNCATEGORISED_DISPLAY
        } else {
            title
        };
        let list = self.cx.list(title, snomed_pair(code, display), &l, None);
        write_entry(
            &mut self.out,
            &Resource::List(extract(list, self.cx.start_day)),
        );
    }

    /// The secondary Lists that received an item or lost one to withholding, in code order.
    pub(super) fn secondary_lists(&mut self) {
        for (code, l) in std::mem::take(&mut self.secondary) {
            if l.entries.is_empty() && !l.withheld {
                continue;
            }
            let title = secondary_list_title(&code);
            let coding = CodeableConcept::coded(code_systems::SECONDARY_LIST_VALUES, &code, &title);
            let list = self.cx.list(&title, coding, &l, None);
            write_entry(
                &mut self.out,
                &Resource::List(extract(list, self.cx.start_day)),
            );
        }
    }
}

/// The clinical area whose primary List has this code.
fn area_of(code: &str) -> Option<crate::scenario::ClinicalArea> {
    use crate::scenario::ClinicalArea as A;
    [
        (lists::ALLERGIES.0, A::Allergies),
        (lists::ENDED_ALLERGIES.0, A::Allergies),
        (lists::MEDICATIONS.0, A::Medication),
        (lists::CONSULTATIONS.0, A::Consultations),
        (lists::PROBLEMS.0, A::Problems),
        (lists::IMMUNISATIONS.0, A::Immunisations),
        (lists::UNCATEGORISED.0, A::Uncategorised),
        (lists::INVESTIGATIONS.0, A::Investigations),
        (lists::REFERRALS.0, A::Referrals),
        (lists::DIARY.0, A::Diary),
    ]
    .into_iter()
    .find(|(c, _)| *c == code)
    .map(|(_, a)| a)
}
