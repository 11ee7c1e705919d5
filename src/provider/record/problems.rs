//! Problems: Conditions with their significance and links to related items.

use super::*;
use crate::fhir::gpconnect::{code_systems, extensions, lists, profiles};
use crate::fhir::stu3::{
    self as fhir, CodeableConcept, Condition, Date, Extension, Resource, texts,
};
use crate::scenario::{ProblemStatus, Significance, Supplier};

impl<'a> Builder<'a> {
    // ---- Problems ----

    pub(super) fn problems(&mut self) {
        let mut primary = ListBuilder::default();
        let rec = &self.cx.req.patient.record;
        for p in &rec.problems {
            if !self.cx.sel.includes(&p.meta.id) {
                continue;
            }
            if self.cx.withheld(&p.meta) {
                primary.withheld = true;
                continue;
            }
            // Links to other problems are relatedProblemHeader, all others relatedClinicalContent.
            let mut related_problems = Vec::new();
            let mut related = Vec::new();
            // A problem outside the query, there because a selected item links to it, comes
            // without its own links.
            let own_links = self.cx.sel.in_primary(&p.meta.id);
            for r in p.related.iter().filter(|_| own_links) {
                let Some(item) = self.cx.index.get(r.as_str()).copied() else {
                    continue;
                };
                let kind = item.kind();
                // Blood pressure readings taken together link to one resource, once.
                if let Some(r) = self.file_link(&item, kind.problem_list_code())
                    && !related.contains(&r)
                    && !related_problems.contains(&r)
                {
                    if kind == Kind::Problem {
                        related_problems.push(r);
                    } else {
                        related.push(r);
                    }
                }
            }
            let recorded = self.recorded_in(&p.meta.id);
            let cx = &self.cx;
            let id = cx.id("Condition", &p.meta.id);
            let reference = format!("Condition/{id}");
            let mut extension = Vec::with_capacity(1 + related.len() + related_problems.len());
            extension.push(Extension::code(
                extensions::PROBLEM_SIGNIFICANCE,
                match p.significance {
                    Significance::Major => "major",
                    Significance::Minor => "minor",
                },
            ));
            // The scenario's `related` does not say how two problems relate, so every such
            // link is a `sibling` (GP Connect offers parent, child and sibling).
            // The problem is about the first observation linked to it (EMIS's ActualProblem).
            // EMIS Web sends the HL7 UK URL, the only one NHS England's GP2GP adaptor reads;
            // the other flavours the GP Connect assets' URL.
            if let Some(r) = related.iter().find(|r| r.starts_with("Observation/")) {
                let url = match cx.supplier {
                    Supplier::Emis => extensions::ACTUAL_PROBLEM_HL7,
                    Supplier::Tpp | Supplier::Generic => extensions::ACTUAL_PROBLEM,
                };
                extension.push(Extension::reference(url, r));
            }
            extension.extend(related_problems.iter().map(|r| {
                Extension::nested(
                    extensions::RELATED_PROBLEM_HEADER,
                    vec![
                        Extension::code("type", "sibling"),
                        Extension::reference("target", r),
                    ],
                )
            }));
            extension.extend(
                related
                    .iter()
                    .map(|r| Extension::reference(extensions::RELATED_CLINICAL_CONTENT, r)),
            );
            // Recorded on the onset day, else the consultation's, else the record's start day.
            let asserted = p
                .onset
                .or(recorded.as_ref().map(|r| r.date))
                .unwrap_or(cx.start_day);
            let condition = Condition {
                id,
                meta: cx.meta(profiles::PROBLEM_HEADER, &p.meta),
                extension,
                identifier: cx.identifier(&p.meta.id, ""),
                clinical_status: match p.status {
                    ProblemStatus::Active => "active",
                    ProblemStatus::Inactive => "inactive",
                },
                category: [CodeableConcept::coded(
                    code_systems::CARE_CONNECT_CONDITION_CATEGORY,
                    "problem-list-item",
                    "Problem List Item",
                )],
                code: cx.coded(&p.code),
                subject: cx.patient(),
                context: recorded.as_ref().map(|r| fhir::reference(&r.encounter)),
                onset_date_time: p.onset.map(Date),
                abatement_date_time: p
                    .end
                    .filter(|_| p.status == ProblemStatus::Inactive)
                    .map(Date),
                asserted_date: Date(asserted),
                asserter: cx
                    .recorder_or(recorded.as_ref())
                    .filter(|_| !rec.quirks.no_asserter),
                note: texts(p.note.as_deref()),
            };
            write_entry(&mut self.out, &Resource::Condition(condition));
            if self.cx.sel.in_primary(&p.meta.id) {
                primary.add(reference);
            } else {
                self.secondary_list(lists::LINKED_PROBLEMS.to_owned())
                    .add(reference);
            }
        }
        if self.cx.sel.lists(Area::Problems) {
            self.primary_list(lists::PROBLEMS, primary);
        }
    }
}
