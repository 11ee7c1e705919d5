//! Lists (`docs/migrate.md`): primary Lists, secondary Lists and the consultation
//! structure Lists, with the empty-reason and confidential-items warnings.

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
        // List.note is 0..1: a List emptied only by withholding carries the confidential-items
        // text alone (the warning explains the emptiness); an empty List otherwise says
        // "Information not available".
        let mut note = Vec::with_capacity(1);
        if l.withheld {
            extension.push(Extension::code(
                extensions::LIST_WARNING_CODE,
                gpc::CONFIDENTIAL_ITEMS,
            ));
            note.push(Text {
                text: gpc::CONFIDENTIAL_ITEMS_NOTE.into(),
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
    pub(super) fn primary_list(&mut self, (code, title): (&str, &str), l: ListBuilder) {
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
