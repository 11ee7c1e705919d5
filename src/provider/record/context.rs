//! What every clinical area builds on: the kinds of item, the Context resources borrow from,
//! the Builder that writes Bundle entries, and how an item is found, identified and linked.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::*;
use crate::fhir::gpconnect::{self as gpc, code_systems};
use crate::fhir::stu3::CodingDetail;
use crate::fhir::stu3::{
    CodeableConcept, Coding, Identifier, Meta, Reference, Resource, reference,
};
use crate::fhir::systems;
use crate::scenario::Supplier;
use crate::scenario::{
    Allergy, AllergyStatus, Code, Consultation, DiaryEntry, Document, Immunisation, Investigation,
    ItemMeta, Medication, Observation, Practitioner, Problem, Referral,
};

/// What kind of clinical item an id names, and so which resource and Lists represent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Problem,
    Allergy,
    EndedAllergy,
    Medication,
    Immunisation,
    Uncategorised,
    Investigation,
    Consultation,
    Referral,
    Diary,
    Document,
}

impl Kind {
    /// The resource other resources and Lists link to for an item of this kind.
    pub(super) fn link_type(self) -> &'static str {
        match self {
            Kind::Problem => "Condition",
            Kind::Allergy | Kind::EndedAllergy => "AllergyIntolerance",
            Kind::Medication => "MedicationRequest",
            Kind::Immunisation => "Immunization",
            Kind::Uncategorised => "Observation",
            Kind::Investigation => "DiagnosticReport",
            Kind::Consultation => "Encounter",
            Kind::Referral => "ReferralRequest",
            Kind::Diary => "ProcedureRequest",
            Kind::Document => "DocumentReference",
        }
    }

    /// The id "namespace" of the link resource (the diary and investigations both make
    /// ProcedureRequests, so the namespace is not always the resource type).
    pub(super) fn id_space(self) -> &'static str {
        match self {
            Kind::Diary => "ProcedureRequest-diary",
            Kind::Medication => "MedicationRequest-plan",
            other => other.link_type(),
        }
    }

    /// The words of the secondary List codes (`docs/migrate.md`).
    pub(super) fn slug(self) -> &'static str {
        match self {
            Kind::Problem => "problems",
            Kind::Allergy => "allergies",
            Kind::EndedAllergy => "allergies-that-have-been-ended",
            Kind::Medication => "medications",
            Kind::Immunisation => "immunisations",
            Kind::Uncategorised => "uncategorised-data",
            Kind::Investigation => "investigations",
            Kind::Consultation => "consultations",
            Kind::Referral => "outbound-referrals",
            Kind::Diary => "diary-entries",
            Kind::Document => "documents",
        }
    }

    /// `problems-<area>-related-to-problems`; problems linked to problems are all in the primary
    /// query of a full record, so they need no secondary List.
    pub(super) fn problem_list_code(self) -> Option<String> {
        match self {
            Kind::Problem => None,
            k => Some(format!("problems-{}-related-to-problems", k.slug())),
        }
    }

    /// `consultations-<area>-contained-in-consultations` (referrals: `...-in-consultations`).
    pub(super) fn consultation_list_code(self) -> Option<String> {
        match self {
            Kind::Consultation => None,
            Kind::Referral => Some("consultations-outbound-referrals-in-consultations".to_owned()),
            k => Some(format!(
                "consultations-{}-contained-in-consultations",
                k.slug()
            )),
        }
    }

    /// The consultation heading an item of this kind is filed under (singular, as GP systems
    /// name them, so no heading shares a title with a primary List).
    pub(super) fn heading(self) -> &'static str {
        match self {
            Kind::Problem => "Problem",
            Kind::Allergy | Kind::EndedAllergy => "Allergy",
            Kind::Medication => "Medication",
            // No real export has an "Immunisation" heading; EMIS files them under "Additional".
            Kind::Immunisation => "Additional",
            Kind::Uncategorised => "Examination",
            Kind::Investigation => "Investigation",
            Kind::Consultation => "Consultation",
            Kind::Referral => "Referral",
            Kind::Diary => "Follow up",
            Kind::Document => "Document",
        }
    }
}

/// A clinical item found by its scenario id.
#[derive(Clone, Copy)]
pub(super) enum Item<'a> {
    Problem(&'a Problem),
    Allergy(&'a Allergy),
    Medication(&'a Medication),
    Immunisation(&'a Immunisation),
    Observation(&'a Observation),
    Investigation(&'a Investigation),
    Consultation(&'a Consultation),
    Referral(&'a Referral),
    Diary(&'a DiaryEntry),
    Document(&'a Document),
}

impl<'a> Item<'a> {
    /// Every item of a record, area by area.
    pub(super) fn all(rec: &'a crate::scenario::Record) -> impl Iterator<Item = Item<'a>> {
        rec.problems
            .iter()
            .map(Item::Problem)
            .chain(rec.allergies.iter().map(Item::Allergy))
            .chain(rec.medications.iter().map(Item::Medication))
            .chain(rec.immunisations.iter().map(Item::Immunisation))
            .chain(rec.observations.iter().map(Item::Observation))
            .chain(rec.investigations.iter().map(Item::Investigation))
            .chain(rec.consultations.iter().map(Item::Consultation))
            .chain(rec.referrals.iter().map(Item::Referral))
            .chain(rec.diary.iter().map(Item::Diary))
            .chain(rec.documents.iter().map(Item::Document))
    }

    pub(super) fn meta(&self) -> &'a ItemMeta {
        match self {
            Item::Problem(x) => &x.meta,
            Item::Allergy(x) => &x.meta,
            Item::Medication(x) => &x.meta,
            Item::Immunisation(x) => &x.meta,
            Item::Observation(x) => &x.meta,
            Item::Investigation(x) => &x.meta,
            Item::Consultation(x) => &x.meta,
            Item::Referral(x) => &x.meta,
            Item::Diary(x) => &x.meta,
            Item::Document(x) => &x.meta,
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            Item::Problem(_) => Kind::Problem,
            Item::Allergy(a) if a.status == AllergyStatus::Resolved => Kind::EndedAllergy,
            Item::Allergy(_) => Kind::Allergy,
            Item::Medication(_) => Kind::Medication,
            Item::Immunisation(_) => Kind::Immunisation,
            Item::Observation(_) => Kind::Uncategorised,
            Item::Investigation(_) => Kind::Investigation,
            Item::Consultation(_) => Kind::Consultation,
            Item::Referral(_) => Kind::Referral,
            Item::Diary(_) => Kind::Diary,
            Item::Document(_) => Kind::Document,
        }
    }
}

/// What every resource of the Bundle refers to. It is kept apart from the output so that a
/// resource can borrow from it while it is written.
pub(super) struct Context<'a> {
    pub(super) req: &'a BundleRequest<'a>,
    /// Which items and Lists the Bundle carries.
    pub(super) sel: &'a Selection,
    pub(super) nhs: &'a str,
    pub(super) start_day: NaiveDate,
    pub(super) patient_ref: String,
    pub(super) org_ref: String,
    /// The usual GP, who records the items (`recorder`, `asserter`, `performer`).
    pub(super) recorder_ref: Option<String>,
    pub(super) identifier_system: String,
    pub(super) supplier: Supplier,
    /// `Location/{id}` of the practice's main site.
    pub(super) main_location_ref: String,
    pub(super) index: HashMap<&'a str, Item<'a>>,
    /// The consultation each item was recorded in (its `entries`; the first one wins).
    pub(super) consultation_of: HashMap<&'a str, &'a Consultation>,
    /// Blood pressure recorded as one reading: the diastolic observation's id -> the systolic
    /// one's, whose resource carries both (see [`blood_pressure_readings`]).
    pub(super) diastolic_in: HashMap<&'a str, &'a str>,
}

/// Where an item was recorded: the consultation's Encounter and the practitioner who held it.
pub(super) struct RecordedIn {
    /// `Encounter/{id}`, for `context` / `encounter` elements.
    pub(super) encounter: String,
    /// `Practitioner/{id}` of the consultation's practitioner, now in the Bundle.
    pub(super) practitioner: Option<String>,
    /// The consultation's date.
    pub(super) date: NaiveDate,
}

pub(super) struct Builder<'a> {
    pub(super) cx: Context<'a>,
    /// Practitioners referenced so far, in order of first use.
    pub(super) practitioners: Vec<&'a Practitioner>,
    pub(super) practitioner_seen: HashSet<&'a str>,
    /// Vaccine manufacturers named so far: each is an Organization of the Bundle.
    pub(super) manufacturers: BTreeMap<&'a str, String>,
    /// Clinical resources and primary/structure Lists, serialised as Bundle entries, in order.
    pub(super) out: Vec<u8>,
    pub(super) secondary: BTreeMap<String, ListBuilder>,
}

/// The system of a practice system's own clinical codes: SystmOne (TPP) records in CTV3; EMIS
/// Web and the generic flavour in Read v2.
fn local_code_system(supplier: Supplier) -> &'static str {
    match supplier {
        Supplier::Tpp => code_systems::CTV3,
        Supplier::Emis | Supplier::Generic => code_systems::READ_V2,
    }
}

/// A SNOMED CT coding alone. No `code.text`: real exports send it on about one coded item in ten,
/// for free text the clinician added, which the scenario does not model.
pub(super) fn snomed(code: &Code) -> CodeableConcept<'_> {
    CodeableConcept::coded(systems::SNOMED, &code.snomed, &code.display)
}

pub(super) fn snomed_pair<'c>(code: &'c str, display: &'c str) -> CodeableConcept<'c> {
    CodeableConcept::coded(systems::SNOMED, code, display)
}

/// `Comment note`: consultation narrative and filing comments.
pub(super) const COMMENT_NOTE: (&str, &str) = ("37331000000100", "Comment note");

impl<'a> Context<'a> {
    /// A coded item as the practice's GP system sends it: SNOMED CT with the picked term's
    /// description id and `userSelected`, and the system's own code as a translation (EMIS
    /// puts its Read v2 coding first and marks that one picked).
    pub(super) fn coded<'s>(&'s self, code: &'s Code) -> CodeableConcept<'s> {
        let mut c = snomed(code);
        c.detail = Some(self.detail(code));
        c
    }

    /// The description id and local-code translation of a concept: the scenario's, else the
    /// terminology table's (`terminology.csv`). A translation carries its own term (the Read
    /// term, "O/E - weight" beside "Body weight"); a scenario code the table does not know is
    /// sent with the SNOMED CT display.
    pub(super) fn detail<'s>(&self, code: &'s Code) -> CodingDetail<'s> {
        let system = local_code_system(self.supplier);
        let term = terminology::lookup(&code.snomed);
        let local = term.and_then(|t| match self.supplier {
            Supplier::Tpp => t.ctv3,
            Supplier::Emis | Supplier::Generic => t.read_v2,
        });
        let translation = match code.read_code.as_deref() {
            Some(r) => Some(Coding {
                system,
                code: r,
                display: local
                    .filter(|(c, _)| *c == r)
                    .map_or(code.display.as_str(), |(_, t)| t),
            }),
            None => local.map(|(c, t)| Coding {
                system,
                code: c,
                display: t,
            }),
        };
        let (description_id, description_display) = match code.description_id.as_deref() {
            Some(id) => (
                Some(id),
                term.filter(|t| t.description_id == Some(id))
                    .and_then(|t| t.description_term),
            ),
            None => (
                term.and_then(|t| t.description_id),
                term.and_then(|t| t.description_term),
            ),
        };
        CodingDetail {
            translation,
            translation_first: self.supplier == Supplier::Emis,
            description_id,
            description_display,
        }
    }

    pub(super) fn withheld(&self, meta: &ItemMeta) -> bool {
        meta.confidential && !self.req.include_sensitive
    }

    /// Not in this Bundle: withheld, or outside the selection.
    pub(super) fn absent(&self, meta: &ItemMeta) -> bool {
        self.withheld(meta) || !self.sel.includes(&meta.id)
    }

    pub(super) fn id(&self, space: &str, item: &str) -> String {
        stable_id(&[space, self.nhs, item])
    }

    pub(super) fn link(&self, item: &Item<'_>) -> String {
        let kind = item.kind();
        let mut id = item.meta().id.as_str();
        if kind == Kind::Uncategorised
            && let Some(systolic) = self.diastolic_in.get(id)
        {
            id = systolic;
        }
        format!("{}/{}", kind.link_type(), self.id(kind.id_space(), id))
    }

    pub(super) fn identifier(&self, item: &str, suffix: &str) -> [Identifier<'_>; 1] {
        [Identifier {
            system: &self.identifier_system,
            value: format!("{}/{item}{suffix}", self.nhs),
        }]
    }

    pub(super) fn patient(&self) -> Reference<'_> {
        reference(&self.patient_ref)
    }

    pub(super) fn organization(&self) -> Reference<'_> {
        reference(&self.org_ref)
    }

    pub(super) fn recorder(&self) -> Option<Reference<'_>> {
        self.recorder_ref.as_deref().map(reference)
    }

    /// `meta` of a clinical resource: its profile, and NOPAT when a confidential item is
    /// included (`docs/migrate.md`).
    pub(super) fn meta(&self, profile: &'static str, item: &ItemMeta) -> Meta<'static> {
        Meta {
            version_id: None,
            profile: [profile],
            security: item.confidential.then_some([Coding {
                system: code_systems::ACT_CODE,
                code: gpc::NOPAT.0,
                display: gpc::NOPAT.1,
            }]),
        }
    }

    /// As [`Builder::recorded_in`], without adding the practitioner to the Bundle: for ended
    /// allergies, serialised where a List needs them. [`Builder::allergies`] calls
    /// `Builder::recorded_in` for every allergy in the Bundle, so the practitioner is there.
    pub(super) fn recorded_in(&self, item: &str) -> Option<RecordedIn> {
        let c = *self.consultation_of.get(item)?;
        if self.absent(&c.meta) {
            return None;
        }
        let practitioner = c
            .practitioner
            .as_deref()
            .and_then(|id| self.req.world.practitioner(id))
            .map(|p| format!("Practitioner/{}", stable_id(&["Practitioner", &p.id])));
        Some(RecordedIn {
            encounter: format!("Encounter/{}", self.id("Encounter", &c.meta.id)),
            practitioner,
            date: c.date,
        })
    }

    /// Who recorded an item: the usual GP, else the practitioner of the consultation it was
    /// recorded in. None only when there is neither (GP Connect offers no placeholder).
    pub(super) fn recorder_or<'s>(&'s self, rec: Option<&'s RecordedIn>) -> Option<Reference<'s>> {
        self.recorder()
            .or_else(|| rec.and_then(|r| r.practitioner.as_deref()).map(reference))
    }
}

impl<'a> Builder<'a> {
    pub(super) fn new(req: &'a BundleRequest<'a>, sel: &'a Selection) -> Self {
        let patient = req.patient;
        let nhs = patient.nhs_number.as_str();
        let rec = &patient.record;
        let mut index = HashMap::with_capacity(rec.item_count());
        for item in Item::all(rec) {
            index.entry(item.meta().id.as_str()).or_insert(item);
        }
        let mut consultation_of = HashMap::new();
        for c in &rec.consultations {
            for entry in &c.entries {
                consultation_of.entry(entry.as_str()).or_insert(c);
            }
        }
        let diastolic_in = blood_pressure_readings(&rec.observations, &consultation_of);
        let usual_gp = patient
            .usual_gp
            .as_deref()
            .and_then(|id| req.world.practitioner(id));
        let mut b = Self {
            cx: Context {
                req,
                sel,
                nhs,
                start_day: req.world.start_day,
                patient_ref: format!("Patient/{}", stable_id(&["Patient", nhs])),
                org_ref: format!(
                    "Organization/{}",
                    stable_id(&["Organization", req.practice.ods.as_str()])
                ),
                recorder_ref: usual_gp
                    .map(|p| format!("Practitioner/{}", stable_id(&["Practitioner", &p.id]))),
                // EMIS Web's identifier system is the practice's: `https://EMISWeb/{ODS}`.
                identifier_system: match req.practice.supplier {
                    Supplier::Emis => format!("https://EMISWeb/{}", req.practice.ods.as_str()),
                    _ => format!(
                        "https://spine-sandbox.invalid/{}/Id/record-item",
                        req.practice.ods.as_str()
                    ),
                },
                supplier: req.practice.supplier,
                main_location_ref: format!(
                    "Location/{}",
                    location_id(req.practice.ods.as_str(), None)
                ),
                index,
                consultation_of,
                diastolic_in,
            },
            practitioners: Vec::new(),
            practitioner_seen: HashSet::new(),
            manufacturers: BTreeMap::new(),
            // About 900 bytes a Bundle entry, two to three entries an item.
            out: Vec::with_capacity(rec.item_count() * 2560 + 16 * 1024),
            secondary: BTreeMap::new(),
        };
        if let Some(gp) = usual_gp {
            b.use_practitioner(gp);
        }
        b
    }

    pub(super) fn use_practitioner(&mut self, p: &'a Practitioner) -> String {
        if self.practitioner_seen.insert(p.id.as_str()) {
            self.practitioners.push(p);
        }
        format!("Practitioner/{}", stable_id(&["Practitioner", &p.id]))
    }

    /// The consultation `item` was recorded in, when that consultation is in the Bundle (a
    /// withheld consultation is not referenced). Its practitioner is added to the Bundle.
    pub(super) fn recorded_in(&mut self, item: &str) -> Option<RecordedIn> {
        let c = *self.cx.consultation_of.get(item)?;
        if self.cx.absent(&c.meta) {
            return None;
        }
        let practitioner = c
            .practitioner
            .as_deref()
            .and_then(|id| self.cx.req.world.practitioner(id))
            .map(|p| self.use_practitioner(p));
        Some(RecordedIn {
            encounter: format!("Encounter/{}", self.cx.id("Encounter", &c.meta.id)),
            practitioner,
            date: c.date,
        })
    }

    pub(super) fn secondary_list(&mut self, code: String) -> &mut ListBuilder {
        self.secondary.entry(code).or_default()
    }

    /// Files a link from a problem or consultation into `list` (or marks the List as having
    /// lost an item) and returns the reference when the item is included and referenceable.
    pub(super) fn file_link(&mut self, item: &Item<'a>, list: Option<String>) -> Option<String> {
        if !self.cx.sel.includes(&item.meta().id) {
            return None;
        }
        if self.cx.withheld(item.meta()) {
            if let Some(code) = list {
                self.secondary_list(code).withheld = true;
            }
            return None;
        }
        if let Item::Allergy(a) = item
            && a.status == AllergyStatus::Resolved
        {
            // Ended allergies live contained in Lists, so a List holding one holds a copy.
            if let Some(code) = list
                && let Some((id, resource)) = self.cx.ended_allergy(a)
            {
                self.secondary_list(code).add_contained(&id, resource);
            }
            return None;
        }
        let r = self.cx.link(item);
        if let Some(code) = list {
            self.secondary_list(code).add(r.clone());
        }
        Some(r)
    }
}

/// Appends `{"resource":...}` to a comma-separated run of Bundle entries. Writing to a Vec
/// cannot fail, and neither can serialising these types.
pub(super) fn write_entry(out: &mut Vec<u8>, resource: &Resource<'_>) {
    if out.is_empty() {
        out.extend_from_slice(br#"{"resource":"#);
    } else {
        out.extend_from_slice(br#",{"resource":"#);
    }
    let _ = serde_json::to_writer(&mut *out, resource);
    out.push(b'}');
}

/// The id of a practice's main site (`branch` None) or of one of its branch surgeries.
pub(super) fn location_id(ods: &str, branch: Option<&str>) -> String {
    stable_id(&["Location", ods, branch.unwrap_or("")])
}
