//! Diary entries: planned actions as ProcedureRequests.

use super::*;
use crate::fhir::gpconnect::{lists, profiles};
use crate::fhir::stu3::{self as fhir, CodeableConcept, Date, Requester, Resource, reference};

impl<'a> Builder<'a> {
    // ---- Diary entries ----

    pub(super) fn diary(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        for d in &req.patient.record.diary {
            if !self.cx.sel.includes(&d.meta.id) {
                continue;
            }
            if self.cx.withheld(&d.meta) {
                primary.withheld = true;
                continue;
            }
            let recorded = self.recorded_in(&d.meta.id);
            let cx = &self.cx;
            let id = cx.id("ProcedureRequest-diary", &d.meta.id);
            let reference_ = format!("ProcedureRequest/{id}");
            // diaryentry.md: authoredOn (mandatory) is when the entry was made.
            let authored_on = d
                .entered
                .or_else(|| cx.consultation_of.get(d.meta.id.as_str()).map(|c| c.date))
                .unwrap_or(cx.start_day);
            // requester.agent: who entered it; the practice when no practitioner is known.
            let agent = recorded
                .as_ref()
                .and_then(|r| r.practitioner.as_deref())
                .or(cx.recorder_ref.as_deref())
                .unwrap_or(&cx.org_ref);
            let code = match &d.code {
                Some(code) if d.text != code.display => cx.coded(code).with_text(&*d.text),
                Some(code) => cx.coded(code),
                None => CodeableConcept::text(&*d.text),
            };
            let request = fhir::ProcedureRequest {
                id,
                meta: cx.meta(profiles::PROCEDURE_REQUEST, &d.meta),
                identifier: cx.identifier(&d.meta.id, ""),
                status: "active",
                intent: "plan",
                code,
                subject: cx.patient(),
                context: recorded.as_ref().map(|r| reference(&r.encounter)),
                occurrence_date_time: Some(Date(d.date)),
                authored_on: Some(Date(authored_on)),
                requester: Some(Requester {
                    agent: reference(agent),
                    on_behalf_of: None,
                }),
                // GP systems carry the free text of the entry as a note too.
                note: crate::fhir::stu3::texts(Some(&*d.text)),
            };
            write_entry(&mut self.out, &Resource::ProcedureRequest(request));
            if self.cx.sel.in_primary(&d.meta.id) {
                primary.add(reference_);
            }
        }
        if self.cx.sel.lists(Area::Diary) {
            self.primary_list(lists::DIARY, primary);
        }
    }
}
