//! Immunisations.

use super::*;
use crate::fhir::gpconnect::{code_systems, extensions, lists, profiles};
use crate::fhir::stu3::{
    self as fhir, CodeableConcept, Date, Extension, Immunization, ImmunizationPractitioner,
    Resource, texts,
};

impl<'a> Builder<'a> {
    // ---- Immunisations ----

    pub(super) fn immunisations(&mut self) {
        let mut primary = ListBuilder::default();
        for i in &self.cx.req.patient.record.immunisations {
            if !self.cx.sel.includes(&i.meta.id) {
                continue;
            }
            if self.cx.withheld(&i.meta) {
                primary.withheld = true;
                continue;
            }
            let recorded = self.recorded_in(&i.meta.id);
            let manufacturer = i.manufacturer.as_deref().map(|name| {
                self.manufacturers
                    .entry(name)
                    .or_insert_with(|| {
                        format!("Organization/{}", stable_id(&["Manufacturer", name]))
                    })
                    .clone()
            });
            let cx = &self.cx;
            let id = cx.id("Immunization", &i.meta.id);
            let reference = format!("Immunization/{id}");
            // Who recorded it: the consultation's practitioner, else the usual GP.
            let recorder = recorded
                .as_ref()
                .and_then(|r| r.practitioner.as_deref())
                .or(cx.recorder_ref.as_deref());
            let immunization = Immunization {
                id,
                meta: cx.meta(profiles::IMMUNIZATION, &i.meta),
                // The scenario has no separate recorded date: the immunisation's date.
                extension: vec![
                    Extension::date_time(extensions::DATE_RECORDED, i.date),
                    Extension::concept(extensions::VACCINATION_PROCEDURE, cx.coded(&i.code)),
                ],
                identifier: cx.identifier(&i.meta.id, ""),
                status: "completed",
                not_given: false,
                // The scenario codes the procedure, not the vaccine product.
                vaccine_code: CodeableConcept::coded(code_systems::NULL_FLAVOR, "UNK", "Unknown"),
                patient: cx.patient(),
                encounter: recorded.as_ref().map(|r| fhir::reference(&r.encounter)),
                date: Date(i.date),
                primary_source: true,
                manufacturer: manufacturer.as_deref().map(fhir::reference),
                lot_number: i.batch.as_deref(),
                expiration_date: i.expiry.map(Date),
                site: i.site.as_ref().map(|c| cx.coded(c)),
                practitioner: recorder.map(|r| {
                    [ImmunizationPractitioner {
                        // Administering provider, as GP systems record the vaccinator.
                        role: Some(CodeableConcept::coded(
                            code_systems::PROVIDER_ROLE,
                            "AP",
                            "Administering Provider",
                        )),
                        actor: fhir::reference(r),
                    }]
                }),
                note: texts(i.note.as_deref()),
            };
            write_entry(&mut self.out, &Resource::Immunization(immunization));
            if self.cx.sel.in_primary(&i.meta.id) {
                primary.add(reference);
            }
        }
        if self.cx.sel.lists(Area::Immunisations) {
            self.primary_list(lists::IMMUNISATIONS, primary);
        }
    }
}
