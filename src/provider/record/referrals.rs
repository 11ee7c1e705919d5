//! Outbound referrals.

use super::*;
use crate::fhir::gpconnect::{lists, profiles};
use crate::fhir::stu3::{
    CodeableConcept, Date, ReferralRequest, Requester, Resource, Text, reference,
};

impl<'a> Builder<'a> {
    // ---- Referrals ----

    pub(super) fn referrals(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        for r in &req.patient.record.referrals {
            if !self.cx.sel.includes(&r.meta.id) {
                continue;
            }
            if self.cx.withheld(&r.meta) {
                primary.withheld = true;
                continue;
            }
            let recorded = self.recorded_in(&r.meta.id);
            let cx = &self.cx;
            let id = cx.id("ReferralRequest", &r.meta.id);
            let reference_ = format!("ReferralRequest/{id}");
            let lowered = r.priority.as_deref().map(str::to_ascii_lowercase);
            let (priority, priority_note) = match lowered.as_deref() {
                Some(p @ ("routine" | "urgent" | "asap" | "stat")) => (Some(p), None),
                Some(other) => (None, Some(other)),
                None => (None, None),
            };
            // referralrequest.md: a recipient that is not a referenced resource goes to `note`
            // as a key-value pair, as does a priority outside the e-Referral Service's.
            let note = match priority_note {
                Some(p) => format!("Priority: {p}\nRecipient: {}", r.to),
                None => format!("Recipient: {}", r.to),
            };
            // referralrequest_guidance.md: the practitioner who recorded the referral; the
            // usual GP when it was not recorded in a consultation; else the practice.
            let agent = recorded
                .as_ref()
                .and_then(|rc| rc.practitioner.as_deref())
                .or(cx.recorder_ref.as_deref());
            let requester = match agent {
                Some(p) => Requester {
                    agent: reference(p),
                    on_behalf_of: None,
                },
                None => Requester {
                    agent: cx.organization(),
                    on_behalf_of: None,
                },
            };
            let reason_code = match (&r.code, r.reason.as_deref()) {
                // The reason's own words, when they say more than the code's term.
                (Some(code), Some(reason)) if reason != code.display => {
                    Some(cx.coded(code).with_text(reason))
                }
                (Some(code), Some(_)) => Some(cx.coded(code)),
                (Some(code), None) => Some(cx.coded(code)),
                (None, Some(reason)) => Some(CodeableConcept::text(reason)),
                (None, None) => None,
            };
            let referral = ReferralRequest {
                id,
                meta: cx.meta(profiles::REFERRAL_REQUEST, &r.meta),
                identifier: cx.identifier(&r.meta.id, ""),
                // referralrequest_guidance.md: the status of every referral is `unknown`.
                status: "unknown",
                intent: "order",
                priority,
                subject: cx.patient(),
                context: recorded.as_ref().map(|rc| reference(&rc.encounter)),
                authored_on: Date(r.date),
                requester,
                reason_code: reason_code.map(|c| [c]),
                description: format!("Referral to {}", r.to),
                note: [Text { text: note.into() }],
            };
            write_entry(&mut self.out, &Resource::ReferralRequest(referral));
            if self.cx.sel.in_primary(&r.meta.id) {
                primary.add(reference_);
            }
        }
        if self.cx.sel.lists(Area::Referrals) {
            self.primary_list(lists::REFERRALS, primary);
        }
    }
}
