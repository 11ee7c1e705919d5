//! Consultations: Encounters and their consultation, topic and heading Lists.

use std::collections::HashMap;

use super::*;
use crate::fhir::gpconnect::{code_systems, extensions, lists, profiles};
use crate::fhir::stu3::EncounterLocation;
use crate::fhir::stu3::{
    self as fhir, CodeableConcept, Date, Encounter, Extension, Instant, Participant, Period,
    Resource, reference,
};
use crate::scenario::AllergyStatus;

impl<'a> Builder<'a> {
    // ---- Consultations ----

    pub(super) fn consultations(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        let rec = &req.patient.record;
        // Problems that name a consultation in `related`: its topic links to them too.
        let mut problems_naming: HashMap<&str, Vec<String>> = HashMap::new();
        for p in &rec.problems {
            if self.cx.absent(&p.meta) {
                continue;
            }
            for r in &p.related {
                if let Some(Item::Consultation(c)) = self.cx.index.get(r.as_str()) {
                    problems_naming
                        .entry(c.meta.id.as_str())
                        .or_default()
                        .push(self.cx.link(&Item::Problem(p)));
                }
            }
        }
        for c in &rec.consultations {
            if !self.cx.sel.includes(&c.meta.id) {
                continue;
            }
            if self.cx.withheld(&c.meta) {
                primary.withheld = true;
                continue;
            }
            let item = &c.meta.id;
            let participant_ref = c
                .practitioner
                .as_deref()
                .and_then(|id| self.cx.req.world.practitioner(id))
                .map(|p| self.use_practitioner(p));

            // Headings in first-use order, each with its items.
            let mut headings: Vec<(&'static str, ListBuilder)> = Vec::new();
            let mut problem_refs = Vec::new();
            let mut topic_title: Option<&str> = None;
            // A consultation in the Bundle only because a problem names it is an Encounter
            // alone: no structure Lists, no contents of its own.
            let structured = self.cx.sel.in_primary(item);
            for entry in c.entries.iter().filter(|_| structured) {
                let Some(target) = self.cx.index.get(entry.as_str()).copied() else {
                    continue;
                };
                let kind = target.kind();
                if kind == Kind::Consultation || !self.cx.sel.includes(&target.meta().id) {
                    continue;
                }
                let list = kind.consultation_list_code();
                let heading = match target {
                    // What the patient says (smoking status and the like, recorded without a
                    // value) is History; measurements are Examination, as in real exports.
                    Item::Observation(o) if o.value.is_none() => "History",
                    _ => kind.heading(),
                };
                let pos = match headings.iter().position(|(h, _)| *h == heading) {
                    Some(p) => p,
                    None => {
                        headings.push((heading, ListBuilder::default()));
                        headings.len() - 1
                    }
                };
                if self.cx.withheld(target.meta()) {
                    if let Some(code) = list {
                        self.secondary_list(code).withheld = true;
                    }
                    continue;
                }
                if let Item::Allergy(a) = target
                    && a.status == AllergyStatus::Resolved
                {
                    if let Some((id, resource)) = self.cx.ended_allergy(a) {
                        headings[pos].1.add_contained(&id, resource.clone());
                        if let Some(code) = list {
                            self.secondary_list(code).add_contained(&id, resource);
                        }
                    }
                    continue;
                }
                if let Some(r) = self.file_link(&target, list) {
                    if let Item::Problem(p) = target {
                        topic_title.get_or_insert(p.code.display.as_str());
                        problem_refs.push(r.clone());
                    }
                    headings[pos].1.add(r);
                }
            }
            for r in problems_naming.remove(item.as_str()).into_iter().flatten() {
                if !problem_refs.contains(&r) {
                    problem_refs.push(r);
                }
            }

            let cx = &self.cx;
            // encounter.md: the recorder (REC) is mandatory; without a practitioner named for the
            // consultation, the usual GP (who records the patient's items) stands in.
            let recorder_ref = participant_ref.as_deref().or(cx.recorder_ref.as_deref());
            let encounter_id = cx.id("Encounter", item);
            let encounter_ref = format!("Encounter/{encounter_id}");
            if let Some(note) = c.note.as_ref().filter(|_| structured) {
                let id = cx.id("Observation-narrative", item);
                let mut l = ListBuilder::default();
                l.add(format!("Observation/{id}"));
                headings.push(("Comment", l));
                let narrative = fhir::Observation {
                    id,
                    meta: cx.meta(profiles::OBSERVATION, &c.meta),
                    identifier: cx.identifier(item, "/note"),
                    status: "final",
                    category: None,
                    code: snomed_pair(COMMENT_NOTE.0, COMMENT_NOTE.1),
                    subject: cx.patient(),
                    context: Some(reference(&encounter_ref)),
                    effective_date_time: Date(c.date),
                    issued: Instant(c.date),
                    performer: recorder_ref.map(|r| [reference(r)]),
                    value_quantity: None,
                    interpretation: None,
                    comment: Some(note),
                    specimen: None,
                    reference_range: None,
                    related: Vec::new(),
                    component: Vec::new(),
                };
                write_entry(&mut self.out, &Resource::Observation(narrative));
            }

            let mut topic = ListBuilder::default();
            for (n, (heading, l)) in headings.into_iter().enumerate() {
                if l.entries.is_empty() && !l.withheld {
                    continue;
                }
                if rec.quirks.flat_consultations {
                    // The quirk: a "flat" consultation, its topic holding the items directly.
                    for r in l.entries {
                        topic.add(r);
                    }
                    for raw in l.contained {
                        topic.contained.push(raw);
                    }
                    continue;
                }
                let id = stable_id(&["List-heading", cx.nhs, item, &n.to_string()]);
                topic.add(format!("List/{id}"));
                let l = ListBuilder {
                    withheld: false,
                    ..l
                };
                let list = cx.list(
                    heading,
                    snomed_pair(lists::HEADING.0, lists::HEADING.1),
                    &l,
                    Some(id),
                );
                write_entry(
                    &mut self.out,
                    &Resource::List(structure(list, &encounter_ref, c.date)),
                );
            }
            let mut consultation = ListBuilder::default();
            if !topic.entries.is_empty() {
                let id = cx.id("List-topic", item);
                consultation.add(format!("List/{id}"));
                let mut list = cx.list(
                    topic_title.unwrap_or(&c.kind),
                    snomed_pair(lists::TOPIC.0, lists::TOPIC.1),
                    &topic,
                    Some(id),
                );
                // Real topics carry the problem's name, or no title at all.
                list.title = topic_title;
                // The problem the topic is about: `target` only, as no relationship `type` of
                // CareConnect-ConditionRelationship-1 fits a topic.
                list.extension = problem_refs
                    .iter()
                    .map(|r| {
                        Extension::nested(
                            extensions::RELATED_PROBLEM_HEADER,
                            vec![Extension::reference("target", r)],
                        )
                    })
                    .collect();
                write_entry(
                    &mut self.out,
                    &Resource::List(structure(list, &encounter_ref, c.date)),
                );
            }
            if structured {
                let list = cx.list(
                    &c.kind,
                    snomed_pair(lists::CONSULTATION.0, lists::CONSULTATION.1),
                    &consultation,
                    Some(cx.id("List-consultation", item)),
                );
                write_entry(
                    &mut self.out,
                    &Resource::List(structure(list, &encounter_ref, c.date)),
                );
            }

            let mut participant = Vec::with_capacity(2);
            if let Some(r) = recorder_ref.filter(|_| !rec.quirks.no_encounter_recorder) {
                participant.push(Participant {
                    type_: [CodeableConcept::coded(
                        code_systems::GPC_PARTICIPANT_TYPE,
                        "REC",
                        "recorder",
                    )],
                    individual: reference(r),
                });
            }
            if let Some(r) = participant_ref.as_deref() {
                participant.push(Participant {
                    type_: [CodeableConcept::coded(
                        code_systems::PARTICIPATION_TYPE,
                        "PPRF",
                        "primary performer",
                    )],
                    individual: reference(r),
                });
            }
            let encounter = Encounter {
                id: encounter_id,
                meta: cx.meta(profiles::ENCOUNTER, &c.meta),
                identifier: cx.identifier(item, ""),
                status: "finished",
                type_: [CodeableConcept::text(&*c.kind)],
                subject: cx.patient(),
                participant,
                // Start only: real exports (98%) do not say when a consultation ended.
                period: Period {
                    start: Date(c.date),
                    end: None,
                },
                location: Some([EncounterLocation {
                    location: reference(&cx.main_location_ref),
                }]),
                service_provider: cx.organization(),
            };
            write_entry(&mut self.out, &Resource::Encounter(encounter));
            if self.cx.sel.in_primary(&c.meta.id) {
                primary.add(encounter_ref);
            }
        }
        if self.cx.sel.lists(Area::Consultations) {
            self.primary_list(lists::CONSULTATIONS, primary);
        }
    }
}
