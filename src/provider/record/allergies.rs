//! Allergies: active ones as Bundle entries, ended ones contained in the Lists holding them.

use super::*;
use crate::fhir::gpconnect::{self as gpc, extensions, lists, profiles};
use crate::fhir::stu3::{
    AllergyIntolerance, CodeableConcept, Date, Extension, Raw, Reaction, Resource, raw, texts,
};
use std::borrow::Cow;

use crate::scenario::{Allergy, AllergyStatus, Code, Supplier};

/// The allergy category GP Connect requires (`medication` or `environment`): the scenario has no
/// field for it, so drug allergies are recognised by their wording.
pub(super) fn allergy_category(code: &Code) -> &'static str {
    pub(super) const DRUG_WORDS: [&str; 10] = [
        "drug",
        "medic",
        "penicillin",
        "amoxicillin",
        "aspirin",
        "ibuprofen",
        "codeine",
        "sulfonamide",
        "trimethoprim",
        "morphine",
    ];
    let display = code.display.to_ascii_lowercase();
    if DRUG_WORDS.iter().any(|w| display.contains(w)) {
        "medication"
    } else {
        "environment"
    }
}

impl<'a> Context<'a> {
    /// An allergy. Ended ones keep their own code: degrading is for consumers, never providers
    /// (GP Connect allergies guidance); `clinicalStatus` and the Ended allergies List say it ended.
    pub(super) fn allergy<'s>(
        &'s self,
        a: &'s Allergy,
        rec: Option<&'s RecordedIn>,
    ) -> AllergyIntolerance<'s> {
        let resolved = a.status == AllergyStatus::Resolved;
        // Asserted, else recorded: the consultation's day, else the record's start day.
        let asserted = a.asserted.or(rec.map(|r| r.date)).unwrap_or(self.start_day);
        let mut extension = Vec::new();
        if let Some(r) = rec {
            extension.push(Extension::reference(
                extensions::ASSOCIATED_ENCOUNTER,
                &r.encounter,
            ));
        }
        if resolved {
            // The scenario has no end reason, so the text GP Connect requires for none; and
            // an end date is mandatory, so without one the allergy ended when it was asserted.
            extension.push(Extension::nested(
                extensions::ALLERGY_INTOLERANCE_END,
                vec![
                    Extension::date_time("endDate", a.end.unwrap_or(asserted)),
                    Extension::string("reasonEnded", gpc::NO_INFORMATION_AVAILABLE),
                ],
            ));
        }
        AllergyIntolerance {
            id: self.id("AllergyIntolerance", &a.meta.id),
            meta: self.meta(profiles::ALLERGY_INTOLERANCE, &a.meta),
            extension,
            identifier: self.identifier(&a.meta.id, ""),
            clinical_status: if resolved { "resolved" } else { "active" },
            verification_status: "unconfirmed",
            category: [allergy_category(&a.code)],
            code: self.coded(&a.code),
            patient: self.patient(),
            // The scenario's onset, else the day it was asserted (as GP systems default it).
            onset_date_time: Some(Date(a.onset.unwrap_or(asserted))),
            asserted_date: Date(asserted),
            recorder: self.recorder_or(rec),
            note: match (self.supplier, a.reaction.as_deref()) {
                // EMIS Web sends the reaction as part of the allergy's note, never as `reaction`.
                (Supplier::Emis, Some(r)) => texts(Some(match a.note.as_deref() {
                    Some(n) => Cow::Owned(format!("{n} Reaction: {r}")),
                    None => Cow::Owned(format!("Reaction: {r}")),
                })),
                _ => texts(a.note.as_deref().map(Cow::Borrowed)),
            },
            reaction: a
                .reaction
                .as_deref()
                .filter(|_| self.supplier != Supplier::Emis)
                .map(|r| {
                    [Reaction {
                        // The reaction as recorded: free text, not a NullFlavor code.
                        manifestation: [CodeableConcept::text(r)],
                        description: Some(r),
                    }]
                }),
        }
    }

    /// An ended allergy, serialised for the Lists that contain it, with its id.
    pub(super) fn ended_allergy(&self, a: &Allergy) -> Option<(String, Raw)> {
        let rec = self.recorded_in(&a.meta.id);
        let mut r = self.allergy(a, rec.as_ref());
        // Contained ended allergies carry the coding only.
        r.code.text = None;
        let id = r.id.clone();
        Some((id, raw(&Resource::AllergyIntolerance(r))?))
    }
}

impl<'a> Builder<'a> {
    // ---- Allergies ----

    pub(super) fn allergies(&mut self) {
        let mut active = ListBuilder::default();
        let mut ended = ListBuilder::default();
        for a in &self.cx.req.patient.record.allergies {
            if !self.cx.sel.includes(&a.meta.id) {
                continue;
            }
            let resolved = a.status == AllergyStatus::Resolved;
            let list = if resolved { &mut ended } else { &mut active };
            if self.cx.withheld(&a.meta) {
                list.withheld = true;
                continue;
            }
            // Also puts the consultation's practitioner in the Bundle for ended allergies, which
            // Lists serialise through `Context::ended_allergy`.
            let recorded = self.recorded_in(&a.meta.id);
            if resolved {
                if let Some((id, resource)) = self.cx.ended_allergy(a) {
                    list.add_contained(&id, resource);
                }
            } else {
                let r = self.cx.allergy(a, recorded.as_ref());
                if self.cx.sel.in_primary(&a.meta.id) {
                    list.add(format!("AllergyIntolerance/{}", r.id));
                }
                write_entry(&mut self.out, &Resource::AllergyIntolerance(r));
            }
        }
        if self.cx.sel.lists(Area::Allergies) {
            self.primary_list(lists::ALLERGIES, active);
        }
        if self.cx.sel.lists(Area::EndedAllergies) {
            self.primary_list(lists::ENDED_ALLERGIES, ended);
        }
    }
}
