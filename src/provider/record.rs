//! The migrate response Bundle (`docs/migrate.md`): the administrative
//! resources (5.1), every clinical area of the full record (5.2), primary, secondary and
//! consultation-structure Lists (5.3), and the withholding of confidential items with the
//! confidential-items warning on every List that lost one, or NOPAT labels when they are
//! included (5.4). DocumentReferences point at the documents service's Binary (5.5).
//!
//! Resource ids are UUIDs derived from the patient and the scenario item id, so the same world
//! always gives the same Bundle apart from `Bundle.id` (the request's `Ssp-TraceID`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::fhir::gpconnect::{
    self as gpc, code_systems, extensions, lists, profiles, secondary_list_title,
};
use crate::fhir::stu3::{
    self as fhir, AllergyIntolerance, Attachment, CodeableConcept, Coding, Condition, Date,
    DiagnosticReport, DispenseRequest, DocumentContent, DocumentReference, Encounter, Extension,
    Identifier, Immunization, ImmunizationPractitioner, Instant, List, ListEntry,
    MedicationRequest, MedicationStatement, Meta, ObservationComponent, ObservationRelated,
    Participant, Performer, Period, Quantity, Raw, Reaction, Reference, ReferralRequest, Requester,
    Resource, Specimen, SpecimenCollection, Text, raw, reference, texts,
};
use crate::fhir::systems;
use crate::scenario::{
    Allergy, AllergyStatus, Code, Consultation, DiaryEntry, Document, HumanName, Immunisation,
    Investigation, ItemMeta, Medication, MedicationType, Observation, Patient, Practice,
    Practitioner, Problem, ProblemStatus, Referral, Significance, World,
};

/// What the Bundle is built from.
pub struct BundleRequest<'a> {
    pub world: &'a World,
    /// The practice answering: it holds the record.
    pub practice: &'a Practice,
    pub patient: &'a Patient,
    /// `includeSensitiveInformation`: confidential items are included (with NOPAT) or withheld.
    pub include_sensitive: bool,
    /// `Bundle.id`.
    pub trace_id: &'a str,
    /// Absolute documents service root of this practice, e.g.
    /// `http://localhost:8080/B82617/STU3/1/gpconnect/documents/fhir`.
    pub documents_base: &'a str,
}

/// The `$gpc.migratestructuredrecord` response Bundle as a JSON tree (tests, tools).
pub fn bundle(req: &BundleRequest<'_>) -> Value {
    serde_json::from_slice(&bundle_bytes(req)).unwrap_or(Value::Null)
}

/// The response Bundle, serialised. Each resource is written out as soon as it is built and its
/// small JSON tree dropped, so a large record never becomes one large tree: building and freeing
/// a tree of a few million nodes costs several times its serialisation.
pub fn bundle_bytes(req: &BundleRequest<'_>) -> Vec<u8> {
    let mut b = Builder::new(req);
    b.problems();
    b.allergies();
    b.medications();
    b.immunisations();
    b.uncategorised();
    b.investigations();
    b.consultations();
    b.referrals();
    b.diary();
    b.documents();
    b.finish()
}

/// A deterministic UUID-shaped id (RFC 9562 version 8) from its parts: two FNV-1a streams with
/// different primes, each finished with a splitmix64 round.
pub fn stable_id(parts: &[&str]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in parts {
        for &byte in part.as_bytes().iter().chain(std::iter::once(&0xffu8)) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15 | 1);
        }
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mix(a).to_be_bytes());
    bytes[8..].copy_from_slice(&mix(b ^ a.rotate_left(17)).to_be_bytes());
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Binary id of a document: what `Binary/{id}` on the documents service answers to.
pub fn binary_id(patient: &Patient, document: &Document) -> String {
    stable_id(&["Binary", patient.nhs_number.as_str(), &document.meta.id])
}

/// The absolute documents service root of a practice (README.md, "URLs").
pub fn documents_base(public_url: &str, ods: &str) -> String {
    format!("{public_url}/{ods}/STU3/1/gpconnect/documents/fhir")
}

/// What kind of clinical item an id names, and so which resource and Lists represent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
    fn link_type(self) -> &'static str {
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
    fn id_space(self) -> &'static str {
        match self {
            Kind::Diary => "ProcedureRequest-diary",
            Kind::Medication => "MedicationRequest-plan",
            other => other.link_type(),
        }
    }

    /// The words of the secondary List codes (`docs/migrate.md`).
    fn slug(self) -> &'static str {
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
    fn problem_list_code(self) -> Option<String> {
        match self {
            Kind::Problem => None,
            k => Some(format!("problems-{}-related-to-problems", k.slug())),
        }
    }

    /// `consultations-<area>-contained-in-consultations` (referrals: `...-in-consultations`).
    fn consultation_list_code(self) -> Option<String> {
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
    fn heading(self) -> &'static str {
        match self {
            Kind::Problem => "Problem",
            Kind::Allergy | Kind::EndedAllergy => "Allergy",
            Kind::Medication => "Medication",
            Kind::Immunisation => "Immunisation",
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
enum Item<'a> {
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
    fn all(rec: &'a crate::scenario::Record) -> impl Iterator<Item = Item<'a>> {
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

    fn meta(&self) -> &'a ItemMeta {
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

    fn kind(&self) -> Kind {
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

/// A List being filled: its entry references, contained resources, and whether it lost an item.
#[derive(Default)]
struct ListBuilder {
    entries: Vec<String>,
    contained: Vec<Raw>,
    seen: HashSet<String>,
    withheld: bool,
}

impl ListBuilder {
    fn add(&mut self, reference: String) {
        if self.seen.insert(reference.clone()) {
            self.entries.push(reference);
        }
    }

    /// Adds a resource contained in the List itself (ended allergies, `docs/migrate.md`).
    fn add_contained(&mut self, id: &str, resource: Raw) {
        let reference = format!("#{id}");
        if self.seen.insert(reference.clone()) {
            self.contained.push(resource);
            self.entries.push(reference);
        }
    }
}

/// What every resource of the Bundle refers to. It is kept apart from the output so that a
/// resource can borrow from it while it is written.
struct Context<'a> {
    req: &'a BundleRequest<'a>,
    nhs: &'a str,
    start_day: NaiveDate,
    patient_ref: String,
    org_ref: String,
    /// The usual GP, who records the items (`recorder`, `asserter`, `performer`).
    recorder_ref: Option<String>,
    identifier_system: String,
    index: HashMap<&'a str, Item<'a>>,
    /// The consultation each item was recorded in (its `entries`; the first one wins).
    consultation_of: HashMap<&'a str, &'a Consultation>,
    /// Blood pressure recorded as one reading: the diastolic observation's id -> the systolic
    /// one's, whose resource carries both (see [`blood_pressure_readings`]).
    diastolic_in: HashMap<&'a str, &'a str>,
}

/// Where an item was recorded: the consultation's Encounter and the practitioner who held it.
struct RecordedIn {
    /// `Encounter/{id}`, for `context` / `encounter` elements.
    encounter: String,
    /// `Practitioner/{id}` of the consultation's practitioner, now in the Bundle.
    practitioner: Option<String>,
    /// The consultation's date.
    date: NaiveDate,
}

struct Builder<'a> {
    cx: Context<'a>,
    /// Practitioners referenced so far, in order of first use.
    practitioners: Vec<&'a Practitioner>,
    practitioner_seen: HashSet<&'a str>,
    /// Clinical resources and primary/structure Lists, serialised as Bundle entries, in order.
    out: Vec<u8>,
    secondary: BTreeMap<String, ListBuilder>,
}

fn snomed(code: &Code) -> CodeableConcept<'_> {
    CodeableConcept::coded(systems::SNOMED, &code.snomed, &code.display).with_text(&*code.display)
}

fn snomed_pair<'c>(code: &'c str, display: &'c str) -> CodeableConcept<'c> {
    CodeableConcept::coded(systems::SNOMED, code, display)
}

fn human_name(n: &HumanName) -> Value {
    let mut name = json!({ "use": "official", "family": n.family });
    if !n.given.is_empty() {
        name["given"] = json!(n.given);
    }
    if let Some(prefix) = &n.prefix {
        name["prefix"] = json!([prefix]);
    }
    let mut text = String::new();
    for part in n.prefix.iter().chain(n.given.iter()) {
        text.push_str(part);
        text.push(' ');
    }
    text.push_str(&n.family);
    name["text"] = json!(text);
    name
}

/// `28 tablet` -> value 28, unit `tablet`.
fn quantity(s: &str) -> Option<(f64, String)> {
    let mut words = s.split_whitespace();
    let value: f64 = words.next()?.parse().ok()?;
    Some((value, words.collect::<Vec<_>>().join(" ")))
}

/// The allergy category GP Connect requires (`medication` or `environment`): the scenario has no
/// field for it, so drug allergies are recognised by their wording.
fn allergy_category(code: &Code) -> &'static str {
    const DRUG_WORDS: [&str; 10] = [
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

const LABORATORY: Coding<'static> = Coding {
    system: code_systems::OBSERVATION_CATEGORY,
    code: "laboratory",
    display: "Laboratory",
};

fn laboratory() -> Option<[CodeableConcept<'static>; 1]> {
    Some([CodeableConcept {
        coding: Some([LABORATORY]),
        text: None,
    }])
}

/// A consultation, topic or heading List: its consultation, date and order
/// (list_consutation.md, list_topic.md, list_category.md).
fn structure<'l>(mut list: List<'l>, encounter: &'l str, date: NaiveDate) -> List<'l> {
    list.encounter = Some(reference(encounter));
    list.date = Some(Date(date));
    list.ordered_by = Some(CodeableConcept::coded(
        code_systems::LIST_ORDER,
        "system",
        "Sorted by System",
    ));
    list
}

/// `Comment note`: consultation narrative and filing comments.
const COMMENT_NOTE: (&str, &str) = ("37331000000100", "Comment note");
/// DiagnosticReport.code (DiagnosticReport.md).
const DIAGNOSTIC_STUDIES_REPORT: (&str, &str) = ("721981007", "Diagnostic studies report");
/// The GP Connect triple of a blood pressure recorded without a panel code
/// (uncategorisedData_guidance.md).
const BLOOD_PRESSURE: (&str, &str) = ("163020007", "On examination - blood pressure reading");
const SYSTOLIC: &str = "72313002";
const DIASTOLIC: &str = "1091811000000102";

/// Systolic and diastolic readings taken together: same day, same consultation (or neither in
/// one), both with a value and equally confidential. GP Connect sends such a pair as one
/// Observation with two components (uncategorisedData_guidance.md). Returns diastolic id ->
/// systolic id; each reading pairs at most once, in record order.
fn blood_pressure_readings<'r>(
    observations: &'r [Observation],
    consultation_of: &HashMap<&'r str, &'r Consultation>,
) -> HashMap<&'r str, &'r str> {
    type Key<'k> = (NaiveDate, Option<&'k str>, bool);
    let key = |o: &'r Observation| -> Key<'r> {
        let c = consultation_of
            .get(o.meta.id.as_str())
            .map(|c| c.meta.id.as_str());
        (o.date, c, o.meta.confidential)
    };
    let mut diastolic: HashMap<Key<'r>, Vec<&'r str>> = HashMap::new();
    for o in observations.iter().rev() {
        if o.code.snomed == DIASTOLIC && o.value.is_some() {
            diastolic.entry(key(o)).or_default().push(&o.meta.id);
        }
    }
    let mut pairs = HashMap::new();
    for o in observations {
        if o.code.snomed == SYSTOLIC
            && o.value.is_some()
            && let Some(d) = diastolic.get_mut(&key(o)).and_then(Vec::pop)
        {
            pairs.insert(d, o.meta.id.as_str());
        }
    }
    pairs
}

impl<'a> Context<'a> {
    fn withheld(&self, meta: &ItemMeta) -> bool {
        meta.confidential && !self.req.include_sensitive
    }

    fn id(&self, space: &str, item: &str) -> String {
        stable_id(&[space, self.nhs, item])
    }

    fn link(&self, item: &Item<'_>) -> String {
        let kind = item.kind();
        let mut id = item.meta().id.as_str();
        if kind == Kind::Uncategorised
            && let Some(systolic) = self.diastolic_in.get(id)
        {
            id = systolic;
        }
        format!("{}/{}", kind.link_type(), self.id(kind.id_space(), id))
    }

    fn identifier(&self, item: &str, suffix: &str) -> [Identifier<'_>; 1] {
        [Identifier {
            system: &self.identifier_system,
            value: format!("{}/{item}{suffix}", self.nhs),
        }]
    }

    fn patient(&self) -> Reference<'_> {
        reference(&self.patient_ref)
    }

    fn organization(&self) -> Reference<'_> {
        reference(&self.org_ref)
    }

    fn recorder(&self) -> Option<Reference<'_>> {
        self.recorder_ref.as_deref().map(reference)
    }

    /// `meta` of a clinical resource: its profile, and NOPAT when a confidential item is
    /// included (`docs/migrate.md`).
    fn meta(&self, profile: &'static str, item: &ItemMeta) -> Meta<'static> {
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
    fn recorded_in(&self, item: &str) -> Option<RecordedIn> {
        let c = *self.consultation_of.get(item)?;
        if self.withheld(&c.meta) {
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
    fn recorder_or<'s>(&'s self, rec: Option<&'s RecordedIn>) -> Option<Reference<'s>> {
        self.recorder()
            .or_else(|| rec.and_then(|r| r.practitioner.as_deref()).map(reference))
    }

    /// An allergy. Ended ones keep their own code: degrading is for consumers, never providers
    /// (GP Connect allergies guidance); `clinicalStatus` and the Ended allergies List say it ended.
    fn allergy<'s>(
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
            code: snomed(&a.code),
            patient: self.patient(),
            // The scenario records no onset, and none is made up.
            onset_date_time: None,
            asserted_date: Date(asserted),
            recorder: self.recorder_or(rec),
            note: texts(a.note.as_deref()),
            reaction: a.reaction.as_deref().map(|r| {
                [Reaction {
                    manifestation: [CodeableConcept::coded(
                        code_systems::NULL_FLAVOR,
                        "UNC",
                        "Unable to Classify",
                    )],
                    description: Some(r),
                }]
            }),
        }
    }

    /// An ended allergy, serialised for the Lists that contain it, with its id.
    fn ended_allergy(&self, a: &Allergy) -> Option<(String, Raw)> {
        let rec = self.recorded_in(&a.meta.id);
        let r = self.allergy(a, rec.as_ref());
        let id = r.id.clone();
        Some((id, raw(&Resource::AllergyIntolerance(r))?))
    }

    /// A List: primary (`id` None, SNOMED code), secondary, or consultation structure (with id).
    fn list<'s>(
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
            title,
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
    fn new(req: &'a BundleRequest<'a>) -> Self {
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
                nhs,
                start_day: req.world.start_day,
                patient_ref: format!("Patient/{}", stable_id(&["Patient", nhs])),
                org_ref: format!(
                    "Organization/{}",
                    stable_id(&["Organization", req.practice.ods.as_str()])
                ),
                recorder_ref: usual_gp
                    .map(|p| format!("Practitioner/{}", stable_id(&["Practitioner", &p.id]))),
                identifier_system: format!(
                    "https://spine-sandbox.invalid/{}/Id/record-item",
                    req.practice.ods.as_str()
                ),
                index,
                consultation_of,
                diastolic_in,
            },
            practitioners: Vec::new(),
            practitioner_seen: HashSet::new(),
            // About 900 bytes a Bundle entry, two to three entries an item.
            out: Vec::with_capacity(rec.item_count() * 2560 + 16 * 1024),
            secondary: BTreeMap::new(),
        };
        if let Some(gp) = usual_gp {
            b.use_practitioner(gp);
        }
        b
    }

    fn use_practitioner(&mut self, p: &'a Practitioner) -> String {
        if self.practitioner_seen.insert(p.id.as_str()) {
            self.practitioners.push(p);
        }
        format!("Practitioner/{}", stable_id(&["Practitioner", &p.id]))
    }

    /// The consultation `item` was recorded in, when that consultation is in the Bundle (a
    /// withheld consultation is not referenced). Its practitioner is added to the Bundle.
    fn recorded_in(&mut self, item: &str) -> Option<RecordedIn> {
        let c = *self.cx.consultation_of.get(item)?;
        if self.cx.withheld(&c.meta) {
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

    fn secondary_list(&mut self, code: String) -> &mut ListBuilder {
        self.secondary.entry(code).or_default()
    }

    /// Files a link from a problem or consultation into `list` (or marks the List as having
    /// lost an item) and returns the reference when the item is included and referenceable.
    fn file_link(&mut self, item: &Item<'a>, list: Option<String>) -> Option<String> {
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

    fn primary_list(&mut self, (code, title): (&str, &str), l: ListBuilder) {
        let display = if code == lists::UNCATEGORISED.0 {
            lists::UNCATEGORISED_DISPLAY
        } else {
            title
        };
        let list = self.cx.list(title, snomed_pair(code, display), &l, None);
        write_entry(&mut self.out, &Resource::List(list));
    }

    // ---- Problems ----

    fn problems(&mut self) {
        let mut primary = ListBuilder::default();
        let rec = &self.cx.req.patient.record;
        for p in &rec.problems {
            if self.cx.withheld(&p.meta) {
                primary.withheld = true;
                continue;
            }
            // Links to other problems are relatedProblemHeader, all others relatedClinicalContent.
            let mut related_problems = Vec::new();
            let mut related = Vec::new();
            for r in &p.related {
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
                code: snomed(&p.code),
                subject: cx.patient(),
                context: recorded.as_ref().map(|r| fhir::reference(&r.encounter)),
                onset_date_time: p.onset.map(Date),
                abatement_date_time: p
                    .end
                    .filter(|_| p.status == ProblemStatus::Inactive)
                    .map(Date),
                asserted_date: Date(asserted),
                asserter: cx.recorder_or(recorded.as_ref()),
                note: texts(p.note.as_deref()),
            };
            write_entry(&mut self.out, &Resource::Condition(condition));
            primary.add(reference);
        }
        self.primary_list(lists::PROBLEMS, primary);
    }

    // ---- Allergies ----

    fn allergies(&mut self) {
        let mut active = ListBuilder::default();
        let mut ended = ListBuilder::default();
        for a in &self.cx.req.patient.record.allergies {
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
                list.add(format!("AllergyIntolerance/{}", r.id));
                write_entry(&mut self.out, &Resource::AllergyIntolerance(r));
            }
        }
        self.primary_list(lists::ALLERGIES, active);
        self.primary_list(lists::ENDED_ALLERGIES, ended);
    }

    // ---- Medications ----

    /// Each medication is a Medication, a plan MedicationRequest, one order (its issue on the
    /// start day) and a MedicationStatement.
    fn medications(&mut self) {
        let mut primary = ListBuilder::default();
        for m in &self.cx.req.patient.record.medications {
            if self.cx.withheld(&m.meta) {
                primary.withheld = true;
                continue;
            }
            let recorded = self.recorded_in(&m.meta.id);
            let cx = &self.cx;
            let item = &m.meta.id;
            let medication_id = cx.id("Medication", item);
            let plan_id = cx.id("MedicationRequest-plan", item);
            let issue_id = cx.id("MedicationRequest-issue", item);
            let statement_id = cx.id("MedicationStatement", item);
            let medication_ref = format!("Medication/{medication_id}");
            let plan_ref = format!("MedicationRequest/{plan_id}");
            let statement_ref = format!("MedicationStatement/{statement_id}");
            let ended = m.end.is_some_and(|e| e < cx.start_day);
            let status = match (&m.stopped, ended) {
                (Some(_), _) => "stopped",
                (None, true) => "completed",
                (None, false) => "active",
            };
            let (type_code, type_display) = match m.kind {
                MedicationType::Acute => ("acute", "Acute"),
                MedicationType::Repeat => ("repeat", "Repeat"),
                MedicationType::RepeatDispensing => ("repeat-dispensing", "Repeat dispensing"),
            };
            let prescription_type = || {
                Extension::concept(
                    extensions::PRESCRIPTION_TYPE,
                    CodeableConcept::coded(
                        code_systems::PRESCRIPTION_TYPE,
                        type_code,
                        type_display,
                    ),
                )
            };
            let quantity = m.quantity.as_deref().and_then(quantity);
            let quantity = || {
                quantity.as_ref().map(|(value, unit)| Quantity {
                    value: *value,
                    unit: (!unit.is_empty()).then_some(unit.as_str()),
                })
            };
            let period = || Period {
                start: Date(m.start),
                end: m.end.map(Date),
            };
            let dosage = || {
                [Text {
                    text: m
                        .dosage
                        .as_deref()
                        .unwrap_or(gpc::NO_INFORMATION_AVAILABLE)
                        .into(),
                }]
            };
            let note = || texts(m.note.as_deref().map(|n| format!("Prescriber Notes: {n}")));
            let context = || recorded.as_ref().map(|r| reference(&r.encounter));
            let recorder = || cx.recorder_or(recorded.as_ref());
            // The consultation's practitioner authorised and issued it.
            let requester = || {
                recorded
                    .as_ref()
                    .and_then(|r| r.practitioner.as_deref())
                    .map(|p| Requester {
                        agent: reference(p),
                        on_behalf_of: None,
                    })
            };

            let medication = fhir::Medication {
                id: medication_id,
                meta: cx.meta(profiles::MEDICATION, &m.meta),
                // No text: it would only repeat the dm+d term (medication guidance).
                code: CodeableConcept::coded(systems::SNOMED, &m.code.snomed, &m.code.display),
            };
            write_entry(&mut self.out, &Resource::Medication(medication));

            let mut plan_extension = Vec::with_capacity(3);
            plan_extension.push(prescription_type());
            if m.kind != MedicationType::Acute {
                let mut repeat = Vec::with_capacity(3);
                if let Some(allowed) = m.repeats_allowed {
                    repeat.push(Extension::unsigned_int(
                        "numberOfRepeatPrescriptionsAllowed",
                        allowed,
                    ));
                }
                // The one order below.
                repeat.push(Extension::unsigned_int(
                    "numberOfRepeatPrescriptionsIssued",
                    1,
                ));
                if let Some(end) = m.end {
                    repeat.push(Extension::date_time("authorisationExpiryDate", end));
                }
                plan_extension.push(Extension::nested(
                    extensions::MEDICATION_REPEAT_INFORMATION,
                    repeat,
                ));
            }
            if let (Some(reason), Some(end)) = (m.stopped.as_deref(), m.end) {
                plan_extension.push(Extension::nested(
                    extensions::MEDICATION_STATUS_REASON,
                    vec![
                        Extension::concept("statusReason", CodeableConcept::text(reason)),
                        Extension::date_time("statusChangeDate", end),
                    ],
                ));
            }
            let plan = MedicationRequest {
                id: plan_id,
                meta: cx.meta(profiles::MEDICATION_REQUEST, &m.meta),
                extension: plan_extension,
                identifier: cx.identifier(item, "/plan"),
                based_on: None,
                status,
                intent: "plan",
                medication_reference: reference(&medication_ref),
                subject: cx.patient(),
                context: context(),
                authored_on: Date(m.start),
                requester: requester(),
                recorder: recorder(),
                note: note(),
                dosage_instruction: dosage(),
                dispense_request: DispenseRequest {
                    validity_period: period(),
                    quantity: quantity(),
                },
            };
            write_entry(&mut self.out, &Resource::MedicationRequest(plan));
            // An order stays `completed` when its plan is stopped. Its validity ends when an
            // acute plan does, else (no duration known) on the issue day, the spec's fallback.
            let issue_end = match m.kind {
                MedicationType::Acute => m.end.unwrap_or(m.start),
                _ => m.start,
            };
            let issue = MedicationRequest {
                id: issue_id,
                meta: cx.meta(profiles::MEDICATION_REQUEST, &m.meta),
                extension: vec![prescription_type()],
                identifier: cx.identifier(item, "/issue-1"),
                based_on: Some([reference(&plan_ref)]),
                status: "completed",
                intent: "order",
                medication_reference: reference(&medication_ref),
                subject: cx.patient(),
                context: context(),
                authored_on: Date(m.start),
                requester: requester(),
                recorder: recorder(),
                note: None,
                dosage_instruction: dosage(),
                dispense_request: DispenseRequest {
                    validity_period: Period {
                        start: Date(m.start),
                        end: Some(Date(issue_end)),
                    },
                    quantity: quantity(),
                },
            };
            write_entry(&mut self.out, &Resource::MedicationRequest(issue));
            let mut statement_extension = Vec::with_capacity(2);
            statement_extension.push(Extension::concept(
                extensions::PRESCRIBING_AGENCY,
                CodeableConcept::coded(
                    code_systems::PRESCRIBING_AGENCY,
                    "prescribed-at-gp-practice",
                    "Prescribed at GP practice",
                ),
            ));
            // Repeat dispensing has no issue information in the GP system.
            if m.kind != MedicationType::RepeatDispensing {
                statement_extension.push(Extension::date_time(
                    extensions::MEDICATION_STATEMENT_LAST_ISSUE_DATE,
                    m.start,
                ));
            }
            let statement = MedicationStatement {
                id: statement_id,
                meta: cx.meta(profiles::MEDICATION_STATEMENT, &m.meta),
                extension: statement_extension,
                identifier: cx.identifier(item, ""),
                based_on: [reference(&plan_ref)],
                context: context(),
                status,
                medication_reference: reference(&medication_ref),
                effective_period: period(),
                date_asserted: Date(m.start),
                subject: cx.patient(),
                taken: "unk",
                note: note(),
                dosage: dosage(),
            };
            write_entry(&mut self.out, &Resource::MedicationStatement(statement));
            primary.add(statement_ref);
        }
        self.primary_list(lists::MEDICATIONS, primary);
    }

    // ---- Immunisations ----

    fn immunisations(&mut self) {
        let mut primary = ListBuilder::default();
        for i in &self.cx.req.patient.record.immunisations {
            if self.cx.withheld(&i.meta) {
                primary.withheld = true;
                continue;
            }
            let recorded = self.recorded_in(&i.meta.id);
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
                    Extension::concept(extensions::VACCINATION_PROCEDURE, snomed(&i.code)),
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
                practitioner: recorder.map(|r| {
                    [ImmunizationPractitioner {
                        actor: fhir::reference(r),
                    }]
                }),
                note: texts(i.note.as_deref()),
            };
            write_entry(&mut self.out, &Resource::Immunization(immunization));
            primary.add(reference);
        }
        self.primary_list(lists::IMMUNISATIONS, primary);
    }

    // ---- Uncategorised data ----

    fn uncategorised(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        let observations = &req.patient.record.observations;
        // Systolic id -> the diastolic reading recorded with it.
        let mut diastolic_of: HashMap<&str, &Observation> = HashMap::new();
        for o in observations {
            if let Some(systolic) = self.cx.diastolic_in.get(o.meta.id.as_str()) {
                diastolic_of.insert(systolic, o);
            }
        }
        for o in observations {
            if self.cx.withheld(&o.meta) {
                primary.withheld = true;
                continue;
            }
            if self.cx.diastolic_in.contains_key(o.meta.id.as_str()) {
                // Carried as a component of the systolic reading's resource.
                continue;
            }
            let recorded = self.recorded_in(&o.meta.id);
            let cx = &self.cx;
            let id = cx.id("Observation", &o.meta.id);
            let entry_ref = format!("Observation/{id}");
            let diastolic = diastolic_of.get(o.meta.id.as_str()).copied();
            let comment = match (diastolic, o.note.as_deref()) {
                (Some(d), Some(n)) => d
                    .note
                    .as_deref()
                    .map_or(Cow::Borrowed(n), |dn| Cow::Owned(format!("{n} {dn}"))),
                (Some(d), None) => d.note.as_deref().map_or(Cow::Borrowed(""), Cow::Borrowed),
                (None, n) => Cow::Borrowed(n.unwrap_or("")),
            };
            let component_of = |r: &'a Observation| ObservationComponent {
                code: snomed(&r.code),
                value_quantity: r.value.map(|value| Quantity {
                    value,
                    unit: r.unit.as_deref(),
                }),
            };
            let (code, value_quantity, component) = match diastolic {
                // One reading: the GP Connect blood pressure triple, its values as components.
                Some(d) => (
                    snomed_pair(BLOOD_PRESSURE.0, BLOOD_PRESSURE.1),
                    None,
                    vec![component_of(o), component_of(d)],
                ),
                None => (
                    snomed(&o.code),
                    o.value.map(|value| Quantity {
                        value,
                        unit: o.unit.as_deref(),
                    }),
                    Vec::new(),
                ),
            };
            let observation = fhir::Observation {
                id,
                meta: cx.meta(profiles::OBSERVATION, &o.meta),
                identifier: cx.identifier(&o.meta.id, ""),
                status: "final",
                category: None,
                code,
                subject: cx.patient(),
                context: recorded.as_ref().map(|r| reference(&r.encounter)),
                effective_date_time: Date(o.date),
                issued: Instant(o.date),
                performer: recorded
                    .as_ref()
                    .and_then(|r| r.practitioner.as_deref())
                    .or(cx.recorder_ref.as_deref())
                    .map(|r| [reference(r)]),
                value_quantity,
                comment: (!comment.is_empty()).then_some(&*comment),
                specimen: None,
                reference_range: None,
                related: Vec::new(),
                component,
            };
            write_entry(&mut self.out, &Resource::Observation(observation));
            primary.add(entry_ref);
        }
        self.primary_list(lists::UNCATEGORISED, primary);
    }

    // ---- Investigations ----

    fn investigations(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        for inv in &req.patient.record.investigations {
            if self.cx.withheld(&inv.meta) {
                primary.withheld = true;
                continue;
            }
            let item = &inv.meta.id;
            let recorded = self.recorded_in(item);
            let cx = &self.cx;
            let context = recorded.as_ref().map(|r| reference(&r.encounter));
            let report_id = cx.id("DiagnosticReport", item);
            let report_ref = format!("DiagnosticReport/{report_id}");
            let request_id = cx.id("ProcedureRequest-investigation", item);
            let specimen_id = cx.id("Specimen", item);
            let specimen_ref = format!("Specimen/{specimen_id}");
            let request_ref = format!("ProcedureRequest/{request_id}");
            let request = fhir::ProcedureRequest {
                id: request_id,
                meta: cx.meta(profiles::PROCEDURE_REQUEST, &inv.meta),
                identifier: cx.identifier(item, "/request"),
                // ProcedureRequest.md: a set value of `active`; authoredOn, context and
                // occurrence are not in use.
                status: "active",
                intent: "order",
                code: snomed(&inv.code),
                subject: cx.patient(),
                context: None,
                occurrence_date_time: None,
                authored_on: None,
                requester: Some(Requester {
                    agent: cx.organization(),
                    on_behalf_of: None,
                }),
            };
            write_entry(&mut self.out, &Resource::ProcedureRequest(request));
            let specimen = Specimen {
                id: specimen_id,
                meta: cx.meta(profiles::SPECIMEN, &inv.meta),
                identifier: cx.identifier(item, "/specimen"),
                type_: inv.specimen.as_deref().map(CodeableConcept::text),
                subject: cx.patient(),
                received_time: Instant(inv.date),
                collection: SpecimenCollection {
                    collected_date_time: Date(inv.date),
                },
            };
            write_entry(&mut self.out, &Resource::Specimen(specimen));
            let group_ref = (!inv.results.is_empty())
                .then(|| format!("Observation/{}", cx.id("Observation-test-group", item)));
            let mut results = Vec::with_capacity(inv.results.len());
            for (n, res) in inv.results.iter().enumerate() {
                let n = (n + 1).to_string();
                let id = stable_id(&["Observation-result", cx.nhs, item, &n]);
                results.push(format!("Observation/{id}"));
                let result = fhir::Observation {
                    id,
                    meta: cx.meta(profiles::OBSERVATION, &inv.meta),
                    identifier: cx.identifier(item, &format!("/result-{n}")),
                    status: "final",
                    category: laboratory(),
                    code: snomed(&res.code),
                    subject: cx.patient(),
                    context: None,
                    effective_date_time: Date(inv.date),
                    issued: Instant(inv.date),
                    performer: None,
                    value_quantity: res.value.map(|value| Quantity {
                        value,
                        unit: res.unit.as_deref(),
                    }),
                    comment: None,
                    specimen: Some(reference(&specimen_ref)),
                    reference_range: texts(res.range.as_deref()),
                    // observation_testResult.md: the group header, as `derived-from`.
                    related: group_ref
                        .iter()
                        .map(|g| ObservationRelated {
                            type_: "derived-from",
                            target: reference(g),
                        })
                        .collect(),
                    component: Vec::new(),
                };
                write_entry(&mut self.out, &Resource::Observation(result));
            }
            if let Some(group_ref) = &group_ref {
                let group = fhir::Observation {
                    id: group_ref["Observation/".len()..].to_owned(),
                    meta: cx.meta(profiles::OBSERVATION, &inv.meta),
                    identifier: cx.identifier(item, "/test-group"),
                    status: "final",
                    // observation_testGroup.md: category is not in use.
                    category: None,
                    code: snomed(&inv.code),
                    subject: cx.patient(),
                    context: None,
                    effective_date_time: Date(inv.date),
                    issued: Instant(inv.date),
                    performer: None,
                    value_quantity: None,
                    comment: None,
                    specimen: Some(reference(&specimen_ref)),
                    reference_range: None,
                    related: results
                        .iter()
                        .map(|r| ObservationRelated {
                            type_: "has-member",
                            target: reference(r),
                        })
                        .collect(),
                    component: Vec::new(),
                };
                write_entry(&mut self.out, &Resource::Observation(group));
            }
            // Filing comments (observation_filingComments.md): when and by whom the report was
            // filed, with the practice's comment. The performer is mandatory: the consultation's
            // practitioner, else the usual GP, else the practice.
            let filing_id = cx.id("Observation-filing", item);
            let filing_ref = format!("Observation/{filing_id}");
            let filer = recorded
                .as_ref()
                .and_then(|r| r.practitioner.as_deref())
                .or(cx.recorder_ref.as_deref())
                .unwrap_or(&cx.org_ref);
            let filing = fhir::Observation {
                id: filing_id,
                meta: cx.meta(profiles::OBSERVATION, &inv.meta),
                identifier: cx.identifier(item, "/filing"),
                status: "unknown",
                category: None,
                code: snomed_pair(COMMENT_NOTE.0, COMMENT_NOTE.1),
                subject: cx.patient(),
                context,
                effective_date_time: Date(inv.date),
                issued: Instant(inv.date),
                performer: Some([reference(filer)]),
                value_quantity: None,
                comment: inv.note.as_deref(),
                specimen: None,
                reference_range: None,
                related: Vec::new(),
                component: Vec::new(),
            };
            write_entry(&mut self.out, &Resource::Observation(filing));
            let mut result = Vec::with_capacity(2);
            if let Some(g) = &group_ref {
                result.push(reference(g));
            }
            result.push(reference(&filing_ref));
            let report = DiagnosticReport {
                id: report_id,
                meta: cx.meta(profiles::DIAGNOSTIC_REPORT, &inv.meta),
                identifier: cx.identifier(item, ""),
                based_on: [reference(&request_ref)],
                status: "final",
                category: CodeableConcept::coded(
                    code_systems::DIAGNOSTIC_SERVICE_SECTION,
                    "LAB",
                    "Laboratory",
                ),
                // DiagnosticReport.md: the test's own code is on the group and results.
                code: snomed_pair(DIAGNOSTIC_STUDIES_REPORT.0, DIAGNOSTIC_STUDIES_REPORT.1),
                subject: cx.patient(),
                context,
                issued: Instant(inv.date),
                performer: [Performer {
                    actor: cx.organization(),
                }],
                specimen: [reference(&specimen_ref)],
                result,
                // The scenario's note is the practice's comment, so it is on the filing comment:
                // conclusion is the performing organisation's.
                conclusion: None,
            };
            write_entry(&mut self.out, &Resource::DiagnosticReport(report));
            primary.add(report_ref);
        }
        self.primary_list(lists::INVESTIGATIONS, primary);
    }

    // ---- Consultations ----

    fn consultations(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        let rec = &req.patient.record;
        // Problems that name a consultation in `related`: its topic links to them too.
        let mut problems_naming: HashMap<&str, Vec<String>> = HashMap::new();
        for p in &rec.problems {
            if self.cx.withheld(&p.meta) {
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
            for entry in &c.entries {
                let Some(target) = self.cx.index.get(entry.as_str()).copied() else {
                    continue;
                };
                let kind = target.kind();
                if kind == Kind::Consultation {
                    continue;
                }
                let list = kind.consultation_list_code();
                let heading = kind.heading();
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
            if let Some(note) = &c.note {
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

            let mut participant = Vec::with_capacity(2);
            if let Some(r) = recorder_ref {
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
                period: Period {
                    start: Date(c.date),
                    end: Some(Date(c.date)),
                },
                service_provider: cx.organization(),
            };
            write_entry(&mut self.out, &Resource::Encounter(encounter));
            primary.add(encounter_ref);
        }
        self.primary_list(lists::CONSULTATIONS, primary);
    }

    // ---- Referrals ----

    fn referrals(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        for r in &req.patient.record.referrals {
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
                    on_behalf_of: Some(cx.organization()),
                },
                None => Requester {
                    agent: cx.organization(),
                    on_behalf_of: None,
                },
            };
            let reason_code = match (&r.code, r.reason.as_deref()) {
                (Some(code), Some(reason)) => Some(
                    CodeableConcept::coded(systems::SNOMED, &code.snomed, &code.display)
                        .with_text(reason),
                ),
                (Some(code), None) => Some(snomed(code)),
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
            primary.add(reference_);
        }
        self.primary_list(lists::REFERRALS, primary);
    }

    // ---- Diary entries ----

    fn diary(&mut self) {
        let mut primary = ListBuilder::default();
        let req = self.cx.req;
        for d in &req.patient.record.diary {
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
                Some(code) => CodeableConcept::coded(systems::SNOMED, &code.snomed, &code.display)
                    .with_text(&*d.text),
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
            };
            write_entry(&mut self.out, &Resource::ProcedureRequest(request));
            primary.add(reference_);
        }
        self.primary_list(lists::DIARY, primary);
    }

    // ---- Documents (no primary List, `docs/migrate.md`) ----

    fn documents(&mut self) {
        let cx = &self.cx;
        for d in &cx.req.patient.record.documents {
            if cx.withheld(&d.meta) {
                continue;
            }
            let url = format!(
                "{}/Binary/{}",
                cx.req.documents_base,
                binary_id(cx.req.patient, d)
            );
            let document = DocumentReference {
                id: cx.id("DocumentReference", &d.meta.id),
                meta: Meta {
                    version_id: Some("1"),
                    ..cx.meta(profiles::DOCUMENT_REFERENCE, &d.meta)
                },
                identifier: cx.identifier(&d.meta.id, ""),
                status: "current",
                type_: snomed(&d.kind),
                subject: cx.patient(),
                created: Date(d.date),
                indexed: Instant(d.date),
                author: [cx.organization()],
                custodian: cx.organization(),
                description: &d.title,
                content: [DocumentContent {
                    attachment: Attachment {
                        content_type: &d.content_type,
                        url,
                        size: d.content.len(),
                    },
                }],
            };
            write_entry(&mut self.out, &Resource::DocumentReference(document));
        }
    }

    // ---- Administrative resources and the Bundle ----

    fn organization(&self, p: &Practice) -> Value {
        let mut o = json!({
            "resourceType": "Organization",
            "id": stable_id(&["Organization", p.ods.as_str()]),
            "meta": { "versionId": "1", "profile": [profiles::ORGANIZATION] },
            "identifier": [{ "system": systems::ODS_ORGANIZATION_CODE, "value": p.ods.as_str() }],
            "name": p.name,
        });
        if let Some(t) = &p.telecom {
            o["telecom"] = json!([{ "system": "phone", "value": t, "use": "work" }]);
        }
        if let Some(a) = &p.address {
            o["address"] = json!([address(a, "work")]);
        }
        o
    }

    fn patient(&self) -> Value {
        let cx = &self.cx;
        let p = cx.req.patient;
        // CareConnect-GPC-Patient-1 allows one generalPractitioner: the usual GP when there is
        // one (as real providers send), else the practice. The practice is always the
        // managingOrganization, and the usual GP's PractitionerRole ties the two together.
        let general_practitioner = [json!({
            "reference": cx.recorder_ref.as_deref().unwrap_or(&cx.org_ref)
        })];
        let mut r = json!({
            "resourceType": "Patient",
            "id": stable_id(&["Patient", cx.nhs]),
            "meta": { "versionId": "1", "profile": [profiles::PATIENT] },
            "identifier": [{
                "extension": [{
                    "url": extensions::NHS_NUMBER_VERIFICATION_STATUS,
                    "valueCodeableConcept": { "coding": [{
                        "system": code_systems::NHS_NUMBER_VERIFICATION_STATUS,
                        "code": "01",
                        "display": "Number present and verified",
                    }] },
                }],
                "system": systems::NHS_NUMBER,
                "value": cx.nhs,
            }],
            "name": [human_name(&p.name)],
            "gender": p.gender.as_str(),
            "birthDate": p.birth_date.to_string(),
            "generalPractitioner": general_practitioner,
            "managingOrganization": { "reference": cx.org_ref },
        });
        if let Some(a) = &p.address {
            r["address"] = json!([address(a, "home")]);
        }
        r
    }

    fn finish(mut self) -> Vec<u8> {
        for (code, l) in std::mem::take(&mut self.secondary) {
            if l.entries.is_empty() && !l.withheld {
                continue;
            }
            let title = secondary_list_title(&code);
            let coding = CodeableConcept::coded(code_systems::SECONDARY_LIST_VALUES, &code, &title);
            let list = self.cx.list(&title, coding, &l, None);
            write_entry(&mut self.out, &Resource::List(list));
        }

        let req = self.cx.req;
        let mut resources = Vec::with_capacity(4 + self.practitioners.len() * 2);
        resources.push(self.patient());
        resources.push(self.organization(req.practice));
        let mut orgs_seen: HashSet<&str> = HashSet::new();
        orgs_seen.insert(req.practice.ods.as_str());
        for p in &self.practitioners {
            if orgs_seen.insert(p.practice.as_str())
                && let Some(practice) = req.world.practice(p.practice.as_str())
            {
                resources.push(self.organization(practice));
            }
        }
        for p in &self.practitioners {
            let practitioner_id = stable_id(&["Practitioner", &p.id]);
            let mut practitioner = json!({
                "resourceType": "Practitioner",
                "id": practitioner_id,
                "meta": { "versionId": "1", "profile": [profiles::PRACTITIONER] },
                "identifier": [{ "system": systems::SDS_USER_ID, "value": p.id }],
                "name": [human_name(&p.name)],
            });
            if let Some(g) = p.gender {
                practitioner["gender"] = json!(g.as_str());
            }
            resources.push(practitioner);
            let org = if req.world.practice(p.practice.as_str()).is_some() {
                format!(
                    "Organization/{}",
                    stable_id(&["Organization", p.practice.as_str()])
                )
            } else {
                self.cx.org_ref.clone()
            };
            resources.push(json!({
                "resourceType": "PractitionerRole",
                "id": stable_id(&["PractitionerRole", &p.id]),
                "meta": { "versionId": "1", "profile": [profiles::PRACTITIONER_ROLE] },
                "practitioner": { "reference": format!("Practitioner/{practitioner_id}") },
                "organization": { "reference": org },
                "code": [{ "coding": [{
                    "system": code_systems::SDS_JOB_ROLE_NAME,
                    "code": "R0260",
                    "display": "General Medical Practitioner",
                }] }],
            }));
        }
        // The administrative resources come first; the clinical entries follow as written.
        let mut bytes = Vec::with_capacity(self.out.len() + 32 * 1024);
        bytes.extend_from_slice(br#"{"resourceType":"Bundle","id":"#);
        let _ = serde_json::to_writer(&mut bytes, req.trace_id);
        bytes.extend_from_slice(br#","meta":{"profile":["#);
        let _ = serde_json::to_writer(&mut bytes, profiles::BUNDLE);
        bytes.extend_from_slice(br#"]},"type":"collection","entry":["#);
        for (n, r) in resources.iter().enumerate() {
            if n > 0 {
                bytes.push(b',');
            }
            bytes.extend_from_slice(br#"{"resource":"#);
            write_resource(&mut bytes, r);
            bytes.push(b'}');
        }
        if !self.out.is_empty() {
            bytes.push(b',');
            bytes.extend_from_slice(&self.out);
        }
        bytes.extend_from_slice(b"]}");
        bytes
    }
}

/// Appends `{"resource":...}` to a comma-separated run of Bundle entries. Writing to a Vec
/// cannot fail, and neither can serialising these types.
fn write_entry(out: &mut Vec<u8>, resource: &Resource<'_>) {
    if out.is_empty() {
        out.extend_from_slice(br#"{"resource":"#);
    } else {
        out.extend_from_slice(br#",{"resource":"#);
    }
    let _ = serde_json::to_writer(&mut *out, resource);
    out.push(b'}');
}

/// Writes a JSON-tree resource with `resourceType` as its first member, as FHIR JSON is
/// conventionally written (the tree's maps are key-ordered). Writing to a Vec cannot fail.
pub(crate) fn write_resource(out: &mut Vec<u8>, resource: &Value) {
    let Some(Value::String(resource_type)) = resource.get("resourceType") else {
        let _ = serde_json::to_writer(&mut *out, resource);
        return;
    };
    out.extend_from_slice(br#"{"resourceType":"#);
    let _ = serde_json::to_writer(&mut *out, resource_type);
    if let Value::Object(map) = resource {
        for (k, v) in map {
            if k == "resourceType" {
                continue;
            }
            out.push(b',');
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, v);
        }
    }
    out.push(b'}');
}

fn address(a: &crate::scenario::Address, use_: &str) -> Value {
    let mut v = json!({ "use": use_, "type": "physical", "line": a.lines });
    if let Some(c) = &a.city {
        v["city"] = json!(c);
    }
    if let Some(d) = &a.district {
        v["district"] = json!(d);
    }
    if let Some(p) = &a.postcode {
        v["postalCode"] = json!(p);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_world::{PATIENT2, TRACE_ID, default_world};

    fn bundle_for(world: &World, nhs: &str, include_sensitive: bool) -> Value {
        let patient = world.patient(nhs).unwrap();
        let practice = world.practice(patient.record_at.as_str()).unwrap();
        bundle(&BundleRequest {
            world,
            practice,
            patient,
            include_sensitive,
            trace_id: TRACE_ID,
            documents_base: "http://sandbox.test/B82617/STU3/1/gpconnect/documents/fhir",
        })
    }

    fn resources(b: &Value) -> Vec<&Value> {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .collect()
    }

    /// Every `reference` anywhere in `v`.
    fn references<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    if k == "reference"
                        && let Some(s) = x.as_str()
                    {
                        out.push(s);
                    } else {
                        references(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| references(x, out)),
            _ => {}
        }
    }

    fn list<'b>(b: &'b Value, title: &str) -> Vec<&'b Value> {
        resources(b)
            .into_iter()
            .filter(|r| r["resourceType"] == "List" && r["title"] == title)
            .collect()
    }

    #[test]
    fn resource_type_comes_first_in_every_resource() {
        let world = default_world();
        let patient = world.patient(PATIENT2).unwrap();
        let bytes = bundle_bytes(&BundleRequest {
            world: &world,
            practice: world.practice("B82617").unwrap(),
            patient,
            include_sensitive: true,
            trace_id: TRACE_ID,
            documents_base: "http://sandbox.test/B82617/STU3/1/gpconnect/documents/fhir",
        });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(&format!(r#"{{"resourceType":"Bundle","id":"{TRACE_ID}","#)));
        let entries = text.matches(r#"{"resource":"#).count();
        assert_eq!(
            entries,
            text.matches(r#"{"resource":{"resourceType":"#).count()
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["entry"].as_array().unwrap().len(), entries);
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(stable_id(&["a", "b"]), stable_id(&["a", "b"]));
        assert_ne!(stable_id(&["a", "b"]), stable_id(&["ab"]));
        assert_ne!(stable_id(&["a", "b"]), stable_id(&["b", "a"]));
        let id = stable_id(&["Patient", PATIENT2]);
        assert!(uuid::Uuid::try_parse(&id).is_ok());
    }

    /// The resource of `resource_type` whose identifier is `{nhs}/{suffix}` (e.g. `m3/plan`).
    fn item<'b>(b: &'b Value, resource_type: &str, suffix: &str) -> &'b Value {
        let mut found = resources(b).into_iter().chain(
            resources(b)
                .into_iter()
                .flat_map(|r| r["contained"].as_array().into_iter().flatten()),
        );
        found
            .find(|r| {
                r["resourceType"] == resource_type
                    && r["identifier"][0]["value"]
                        .as_str()
                        .is_some_and(|v| v.ends_with(&format!("/{suffix}")))
            })
            .unwrap_or_else(|| panic!("no {resource_type} {suffix}"))
    }

    fn extension<'v>(r: &'v Value, url: &str) -> Option<&'v Value> {
        r["extension"].as_array()?.iter().find(|e| e["url"] == url)
    }

    /// `{url: value}` of a complex extension's parts.
    fn parts(e: &Value) -> BTreeMap<String, Value> {
        e["extension"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let (k, v) = p
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| k.starts_with("value"))
                    .unwrap();
                (format!("{}:{k}", p["url"].as_str().unwrap()), v.clone())
            })
            .collect()
    }

    fn key_of(r: &Value) -> String {
        format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        )
    }

    fn encounter_of(consultation: &str) -> String {
        format!(
            "Encounter/{}",
            stable_id(&["Encounter", PATIENT2, consultation])
        )
    }

    fn practitioner_ref(id: &str) -> String {
        format!("Practitioner/{}", stable_id(&["Practitioner", id]))
    }

    #[test]
    fn repeat_plans_carry_repeat_information_and_acutes_and_orders_do_not() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, true);
        let m1 = item(&b, "MedicationRequest", "m1/plan");
        let repeat = extension(m1, extensions::MEDICATION_REPEAT_INFORMATION).unwrap();
        assert_eq!(
            parts(repeat),
            BTreeMap::from([
                (
                    "numberOfRepeatPrescriptionsAllowed:valueUnsignedInt".to_owned(),
                    json!(12)
                ),
                (
                    "numberOfRepeatPrescriptionsIssued:valueUnsignedInt".to_owned(),
                    json!(1)
                ),
            ])
        );
        let m4 = item(&b, "MedicationRequest", "m4/plan");
        assert!(extension(m4, extensions::MEDICATION_REPEAT_INFORMATION).is_some());
        let m6 = item(&b, "MedicationRequest", "m6/plan");
        assert!(extension(m6, extensions::MEDICATION_REPEAT_INFORMATION).is_none());
        // The acute order is valid until the plan ends; a repeat's order on its issue day.
        let m6_order = item(&b, "MedicationRequest", "m6/issue-1");
        assert_eq!(
            m6_order["dispenseRequest"]["validityPeriod"]["end"],
            m6["dispenseRequest"]["validityPeriod"]["end"]
        );
        let m1_order = item(&b, "MedicationRequest", "m1/issue-1");
        let validity = &m1_order["dispenseRequest"]["validityPeriod"];
        assert_eq!(validity["end"], validity["start"]);
        for r in resources(&b)
            .into_iter()
            .filter(|r| r["resourceType"] == "MedicationRequest")
        {
            assert!(r.get("groupIdentifier").is_none());
            assert!(r["dosageInstruction"][0]["text"].is_string());
            if r["intent"] == "order" {
                assert_eq!(r["extension"].as_array().unwrap().len(), 1, "{r}");
                assert_eq!(r["status"], "completed");
                assert!(r["dispenseRequest"]["validityPeriod"]["end"].is_string());
            }
        }
        // Recorded in c1 by Dr Carter: context and requester on plan, order and statement.
        let c1 = encounter_of("c1");
        for r in [m1, m1_order, item(&b, "MedicationStatement", "m1")] {
            assert_eq!(r["context"]["reference"], c1.as_str(), "{r}");
        }
        assert_eq!(
            m1["requester"]["agent"]["reference"],
            practitioner_ref("G8133438").as_str()
        );
        assert!(
            item(&b, "MedicationRequest", "m2/plan")
                .get("context")
                .is_none()
        );
        // dm+d term only, no repeated text.
        let medication = resources(&b)
            .into_iter()
            .find(|r| {
                r["resourceType"] == "Medication"
                    && m1["medicationReference"]["reference"] == key_of(r).as_str()
            })
            .unwrap();
        assert_eq!(medication["code"]["coding"][0]["code"], "319283006");
        assert!(medication["code"].get("text").is_none());
    }

    #[test]
    fn a_stopped_medication_has_a_status_reason_on_its_plan() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        let end = world.patient(PATIENT2).unwrap().record.medications[2]
            .end
            .unwrap()
            .to_string();
        let plan = item(&b, "MedicationRequest", "m3/plan");
        assert_eq!(plan["status"], "stopped");
        let reason = extension(plan, extensions::MEDICATION_STATUS_REASON).unwrap();
        assert_eq!(
            parts(reason),
            BTreeMap::from([
                (
                    "statusReason:valueCodeableConcept".to_owned(),
                    json!({ "text": "Muscle aches; changed to atorvastatin" })
                ),
                ("statusChangeDate:valueDateTime".to_owned(), json!(end)),
            ])
        );
        let repeat = extension(plan, extensions::MEDICATION_REPEAT_INFORMATION).unwrap();
        assert_eq!(
            parts(repeat)["authorisationExpiryDate:valueDateTime"],
            json!(end)
        );
        assert_eq!(
            plan["note"][0]["text"],
            "Prescriber Notes: Stopped because of muscle aches; changed to atorvastatin."
        );
        let statement = item(&b, "MedicationStatement", "m3");
        assert_eq!(statement["status"], "stopped");
        assert!(
            statement["note"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Prescriber Notes: ")
        );
        assert_eq!(
            item(&b, "MedicationRequest", "m3/issue-1")["status"],
            "completed"
        );
        // Only the stopped plan has a reason; a plan that ran its course is `completed`.
        let m6 = item(&b, "MedicationRequest", "m6/plan");
        assert_eq!(m6["status"], "completed");
        assert!(extension(m6, extensions::MEDICATION_STATUS_REASON).is_none());
        // The last issue date, except for repeat dispensing.
        let m1 = item(&b, "MedicationStatement", "m1");
        assert_eq!(
            extension(m1, extensions::MEDICATION_STATEMENT_LAST_ISSUE_DATE).unwrap()["valueDateTime"],
            m1["effectivePeriod"]["start"]
        );
        let m4 = item(&b, "MedicationStatement", "m4");
        assert!(extension(m4, extensions::MEDICATION_STATEMENT_LAST_ISSUE_DATE).is_none());
    }

    #[test]
    fn immunizations_have_a_recorded_date_an_unknown_product_and_a_practitioner() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        let i4 = item(&b, "Immunization", "i4");
        assert_eq!(
            extension(i4, extensions::DATE_RECORDED).unwrap()["valueDateTime"],
            i4["date"]
        );
        assert_eq!(
            i4["vaccineCode"],
            json!({ "coding": [{ "system": "http://hl7.org/fhir/v3/NullFlavor", "code": "UNK", "display": "Unknown" }] })
        );
        assert_eq!(
            extension(i4, extensions::VACCINATION_PROCEDURE).unwrap()["valueCodeableConcept"]["coding"]
                [0]["code"],
            "12866006"
        );
        // Not recorded in a consultation: the usual GP, and no encounter.
        assert_eq!(
            i4["practitioner"][0]["actor"]["reference"],
            practitioner_ref("G8133438").as_str()
        );
        assert!(i4.get("encounter").is_none());
    }

    #[test]
    fn ended_allergies_keep_their_code_and_reactions_are_unclassified_text() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        let a2 = item(&b, "AllergyIntolerance", "a2");
        assert_eq!(a2["clinicalStatus"], "resolved");
        assert_eq!(a2["code"]["coding"][0]["code"], "418689008");
        assert_eq!(
            a2["code"]["coding"][0]["display"],
            "Allergy to grass pollen"
        );
        let end = extension(a2, extensions::ALLERGY_INTOLERANCE_END).unwrap();
        let end = parts(end);
        assert_eq!(
            end["reasonEnded:valueString"],
            json!("No information available")
        );
        assert!(end.contains_key("endDate:valueDateTime"));
        let a1 = item(&b, "AllergyIntolerance", "a1");
        assert!(a1.get("onsetDateTime").is_none());
        assert!(a1["assertedDate"].is_string());
        assert_eq!(
            a1["reaction"],
            json!([{
                "manifestation": [{ "coding": [{ "system": "http://hl7.org/fhir/v3/NullFlavor", "code": "UNC", "display": "Unable to Classify" }] }],
                "description": "Urticaria",
            }])
        );
    }

    #[test]
    fn problems_link_problems_as_related_problem_headers() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        let p4 = item(&b, "Condition", "p4");
        let headers: Vec<_> = p4["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == extensions::RELATED_PROBLEM_HEADER)
            .map(parts)
            .collect();
        let target = |p: &str| {
            json!(format!(
                "Condition/{}",
                stable_id(&["Condition", PATIENT2, p])
            ))
        };
        assert_eq!(
            headers,
            [
                BTreeMap::from([
                    ("type:valueCode".to_owned(), json!("sibling")),
                    (
                        "target:valueReference".to_owned(),
                        json!({ "reference": target("p1") })
                    ),
                ]),
                BTreeMap::from([
                    ("type:valueCode".to_owned(), json!("sibling")),
                    (
                        "target:valueReference".to_owned(),
                        json!({ "reference": target("p2") })
                    ),
                ]),
            ]
        );
        for e in p4["extension"].as_array().unwrap() {
            if e["url"] == extensions::RELATED_CLINICAL_CONTENT {
                assert!(!e.to_string().contains("Condition/"), "{e}");
            }
        }
        assert_eq!(
            p4["category"][0]["coding"][0]["system"],
            "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-ConditionCategory-1"
        );
        // p6 was recorded in the home visit c4.
        let p6 = item(&b, "Condition", "p6");
        assert_eq!(p6["context"]["reference"], encounter_of("c4").as_str());
        assert!(p4.get("context").is_none());
    }

    #[test]
    fn mandatory_elements_have_fallbacks_when_the_scenario_lacks_them() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let world = crate::scenario::load::load_str(
            "t.yaml",
            r#"
practices:
  - { ods: B82617, name: Old Street Surgery, asid: "918999198738" }
practitioners:
  - { id: G8521704, name: { family: Patel }, practice: B82617 }
patients:
  - nhs_number: "9690937286"
    name: { family: Whitfield }
    gender: female
    birth_date: 1958-07-23
    registered_with: B82617
    record:
      problems:
        - { id: p1, code: { snomed: "38341003", display: Hypertension } }
      allergies:
        - { id: a1, code: { snomed: "418689008", display: Allergy to grass pollen }, status: resolved }
        - { id: a2, code: { snomed: "91936005", display: Allergy to penicillin } }
      medications:
        - { id: m1, code: { snomed: "322236009", display: Paracetamol 500mg tablets }, start: -1m, type: acute }
      immunisations:
        - { id: i1, code: { snomed: "12866006", display: Pneumococcal vaccination }, date: -1y }
      consultations:
        - { id: c1, date: -2m, type: Surgery consultation, practitioner: G8521704, entries: [p1, a1, i1] }
"#,
            start,
        )
        .unwrap();
        let b = bundle_for(&world, PATIENT2, false);
        let patel = practitioner_ref("G8521704");
        let c1 = encounter_of("c1");
        // No usual GP: the consultation's practitioner records, and its day is the asserted one.
        let p1 = item(&b, "Condition", "p1");
        assert_eq!(p1["asserter"]["reference"], patel.as_str());
        assert_eq!(p1["assertedDate"], "2025-11-15");
        assert_eq!(p1["context"]["reference"], c1.as_str());
        let a1 = item(&b, "AllergyIntolerance", "a1");
        assert_eq!(a1["recorder"]["reference"], patel.as_str());
        assert_eq!(a1["assertedDate"], "2025-11-15");
        let a1_end = parts(extension(a1, extensions::ALLERGY_INTOLERANCE_END).unwrap());
        assert_eq!(a1_end["endDate:valueDateTime"], json!("2025-11-15"));
        assert_eq!(
            extension(a1, extensions::ASSOCIATED_ENCOUNTER).unwrap()["valueReference"]["reference"],
            c1.as_str()
        );
        let i1 = item(&b, "Immunization", "i1");
        assert_eq!(i1["practitioner"][0]["actor"]["reference"], patel.as_str());
        assert_eq!(i1["encounter"]["reference"], c1.as_str());
        // Neither a usual GP nor a consultation: no recorder (GP Connect offers no placeholder),
        // the start day as the asserted date.
        let a2 = item(&b, "AllergyIntolerance", "a2");
        assert!(a2.get("recorder").is_none());
        assert_eq!(a2["assertedDate"], "2026-01-15");
        for (t, s) in [
            ("MedicationRequest", "m1/plan"),
            ("MedicationRequest", "m1/issue-1"),
        ] {
            assert_eq!(
                item(&b, t, s)["dosageInstruction"][0]["text"],
                "No information available"
            );
        }
        assert_eq!(
            item(&b, "MedicationStatement", "m1")["dosage"][0]["text"],
            "No information available"
        );
    }

    #[test]
    fn no_duplicates_and_every_reference_resolves() {
        let world = default_world();
        for p in &world.patients {
            let Some(practice) = world.practice(p.record_at.as_str()) else {
                continue;
            };
            if !practice.provider {
                continue;
            }
            for sensitive in [false, true] {
                let b = bundle_for(&world, p.nhs_number.as_str(), sensitive);
                let mut keys = HashSet::new();
                for r in resources(&b) {
                    if let Some(id) = r["id"].as_str() {
                        let key = format!("{}/{id}", r["resourceType"].as_str().unwrap());
                        assert!(keys.insert(key.clone()), "duplicate {key}");
                    }
                }
                for r in resources(&b) {
                    let contained: HashSet<String> = r["contained"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| format!("#{}", c["id"].as_str().unwrap()))
                        .collect();
                    let mut refs = Vec::new();
                    references(r, &mut refs);
                    for reference in refs {
                        assert!(
                            keys.contains(reference) || contained.contains(reference),
                            "{} {reference} does not resolve in {}",
                            r["resourceType"],
                            p.nhs_number
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn withheld_items_mark_every_list_that_lost_one() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        for title in [
            "Medications and medical devices",
            "Uncategorised data",
            "Problems - medications related to problems",
        ] {
            let l = list(&b, title);
            assert_eq!(l.len(), 1, "{title}");
            let warnings: Vec<_> = l[0]["extension"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["url"] == extensions::LIST_WARNING_CODE)
                .collect();
            assert_eq!(warnings.len(), 1, "{title}");
            assert_eq!(warnings[0]["valueCode"], "confidential-items");
            let notes: Vec<_> = l[0]["note"].as_array().unwrap().iter().collect();
            assert_eq!(notes.len(), 1, "{title}");
            assert_eq!(notes[0]["text"], gpc::CONFIDENTIAL_ITEMS_NOTE);
        }
        // Nothing of a withheld item is anywhere in the Bundle, in any letter case: not its
        // term, nor its notes, nor the drug's name in a consultation's narrative (m5).
        let text = b.to_string().to_lowercase();
        let record = &world.patient(PATIENT2).unwrap().record;
        let (withheld, shown): (Vec<_>, Vec<_>) = items(record)
            .into_iter()
            .partition(|i| i.meta().confidential);
        assert!(withheld.len() >= 3, "m5, o7 and d3 are confidential");
        let shown: HashSet<String> = shown.iter().flat_map(item_texts).collect();
        for item in &withheld {
            for t in item_texts(item) {
                if !shown.contains(&t) {
                    assert!(!text.contains(&t), "{} leaks {t:?}", item.meta().id);
                }
            }
        }
        assert!(!text.contains("citalopram"), "m5 is withheld");
        assert!(!text.contains("anxiety disorder"), "o7 is withheld");
        assert!(!text.contains("nopat"));
    }

    fn items(r: &crate::scenario::Record) -> Vec<Item<'_>> {
        Item::all(r).collect()
    }

    /// The words that identify an item: its terms and free texts, lower-cased. The first word
    /// of a drug's name is what a narrative would name.
    fn item_texts(item: &Item<'_>) -> Vec<String> {
        let mut t: Vec<&str> = Vec::new();
        // A coded item's term and its free-text note.
        fn coded<'t>(t: &mut Vec<&'t str>, display: &'t str, note: Option<&'t str>) {
            t.push(display);
            t.extend(note);
        }
        match item {
            Item::Problem(x) => coded(&mut t, &x.code.display, x.note.as_deref()),
            Item::Allergy(x) => {
                coded(&mut t, &x.code.display, x.note.as_deref());
                t.extend(x.reaction.as_deref());
            }
            Item::Medication(x) => {
                coded(&mut t, &x.code.display, x.note.as_deref());
                t.extend(x.code.display.split_whitespace().next());
            }
            Item::Immunisation(x) => coded(&mut t, &x.code.display, x.note.as_deref()),
            Item::Observation(x) => coded(&mut t, &x.code.display, x.note.as_deref()),
            Item::Investigation(x) => {
                coded(&mut t, &x.code.display, x.note.as_deref());
                t.extend(x.results.iter().map(|r| &*r.code.display));
            }
            Item::Consultation(x) => t.extend(x.note.as_deref()),
            Item::Referral(x) => {
                t.push(&x.to);
                t.extend(x.reason.as_deref());
            }
            Item::Diary(x) => t.push(&x.text),
            Item::Document(x) => t.push(&x.title),
        }
        t.into_iter().map(str::to_lowercase).collect()
    }

    fn of_type<'b>(b: &'b Value, t: &str) -> Vec<&'b Value> {
        resources(b)
            .into_iter()
            .filter(|r| r["resourceType"] == t)
            .collect()
    }

    fn with_identifier<'b>(b: &'b Value, value: &str) -> &'b Value {
        let found: Vec<_> = resources(b)
            .into_iter()
            .filter(|r| r["identifier"][0]["value"] == value)
            .collect();
        assert_eq!(found.len(), 1, "{value}");
        found[0]
    }

    fn key(r: &Value) -> String {
        format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        )
    }

    #[test]
    fn consultations_have_a_recorder_and_ordered_structure_lists() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, true);
        for e in of_type(&b, "Encounter") {
            let p = e["participant"].as_array().unwrap();
            let rec = &p[0]["type"][0]["coding"][0];
            assert_eq!(
                rec["system"],
                "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-ParticipantType-1"
            );
            assert_eq!(
                (&rec["code"], &rec["display"]),
                (&json!("REC"), &json!("recorder"))
            );
            assert_eq!(p[1]["type"][0]["coding"][0]["code"], "PPRF");
            assert!(p[0]["individual"]["reference"].is_string());
        }
        let ordered = json!({"coding": [{"system": "http://hl7.org/fhir/list-order",
            "code": "system", "display": "Sorted by System"}]});
        let mut structure = 0;
        for l in of_type(&b, "List") {
            if l.get("id").is_some() {
                structure += 1;
                assert_eq!(l["orderedBy"], ordered, "{}", l["title"]);
            } else {
                assert!(l.get("orderedBy").is_none(), "{}", l["title"]);
            }
        }
        assert!(structure >= 15);
        // c1 holds no problem, but p1 names it: its topic links to p1, by target alone.
        let c1 = key(with_identifier(&b, "9690937286/c1"));
        let p1 = key(with_identifier(&b, "9690937286/p1"));
        let topic: Vec<_> = of_type(&b, "List")
            .into_iter()
            .filter(|l| {
                l["encounter"]["reference"] == c1.as_str()
                    && l["code"]["coding"][0]["code"] == lists::TOPIC.0
            })
            .collect();
        assert_eq!(
            topic[0]["extension"],
            json!([{"url": extensions::RELATED_PROBLEM_HEADER,
                    "extension": [{"url": "target", "valueReference": {"reference": p1}}]}])
        );
    }

    #[test]
    fn a_consultation_without_practitioner_is_recorded_by_the_usual_gp() {
        let mut world = default_world();
        let patient = world
            .patients
            .iter_mut()
            .find(|p| p.nhs_number.as_str() == PATIENT2)
            .unwrap();
        patient.record.consultations[0].practitioner = None;
        let b = bundle_for(&world, PATIENT2, false);
        let e = with_identifier(&b, "9690937286/c1");
        let p = e["participant"].as_array().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["type"][0]["coding"][0]["code"], "REC");
        let gp = stable_id(&["Practitioner", "G8133438"]);
        assert_eq!(
            p[0]["individual"]["reference"],
            format!("Practitioner/{gp}")
        );
    }

    #[test]
    fn investigations_follow_the_gp_connect_pathology_model() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        let reports = of_type(&b, "DiagnosticReport");
        assert_eq!(reports.len(), 4);
        for r in &reports {
            assert!(r.get("effectiveDateTime").is_none() && r.get("conclusion").is_none());
            assert_eq!(
                r["code"],
                json!({"coding": [{"system": "http://snomed.info/sct", "code": "721981007",
                                   "display": "Diagnostic studies report"}]})
            );
            assert_eq!(r["category"]["coding"][0]["code"], "LAB");
            assert_eq!(
                r["category"]["coding"][0]["system"],
                "http://hl7.org/fhir/v2/0074"
            );
            let results: Vec<&str> = r["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["reference"].as_str().unwrap())
                .collect();
            assert_eq!(results.len(), 2);
            let filing: Vec<_> = of_type(&b, "Observation")
                .into_iter()
                .filter(|o| results.contains(&key(o).as_str()) && o["status"] == "unknown")
                .collect();
            assert_eq!(filing.len(), 1);
            assert_eq!(filing[0]["code"]["coding"][0]["code"], "37331000000100");
            assert!(filing[0]["performer"][0]["reference"].is_string());
            assert!(filing[0].get("category").is_none());
        }
        // inv2 (in c2, by G3104567) has the practice's comment on its filing comment.
        let inv2 = with_identifier(&b, "9690937286/inv2");
        let c2 = key(with_identifier(&b, "9690937286/c2"));
        assert_eq!(inv2["context"]["reference"], c2.as_str());
        let filing = with_identifier(&b, "9690937286/inv2/filing");
        assert_eq!(
            filing["comment"],
            "Renal function stable compared with last year."
        );
        let naylor = format!("Practitioner/{}", stable_id(&["Practitioner", "G3104567"]));
        assert_eq!(filing["performer"][0]["reference"], naylor.as_str());
        // The group has no category; each result derives from its group.
        let group = with_identifier(&b, "9690937286/inv1/test-group");
        assert!(group.get("category").is_none());
        let result = with_identifier(&b, "9690937286/inv1/result-1");
        assert_eq!(
            result["related"],
            json!([{"type": "derived-from", "target": {"reference": key(group)}}])
        );
        let request = with_identifier(&b, "9690937286/inv1/request");
        assert_eq!(request["status"], "active");
        assert!(request.get("authoredOn").is_none());
        let specimen = with_identifier(&b, "9690937286/inv1/specimen");
        assert!(
            specimen["receivedTime"]
                .as_str()
                .unwrap()
                .ends_with("T00:00:00+00:00")
        );
    }

    #[test]
    fn referrals_and_diary_entries_carry_what_gp_connect_requires() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        for r in of_type(&b, "ReferralRequest") {
            assert_eq!(r["status"], "unknown");
            assert!(r.get("recipient").is_none());
            assert!(
                r["note"][0]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("Recipient: ")
            );
        }
        // r2 was made in c5 by G8521704.
        let r2 = with_identifier(&b, "9690937286/r2");
        let patel = format!("Practitioner/{}", stable_id(&["Practitioner", "G8521704"]));
        assert_eq!(r2["requester"]["agent"]["reference"], patel.as_str());
        let c5 = key(with_identifier(&b, "9690937286/c5"));
        assert_eq!(r2["context"]["reference"], c5.as_str());
        assert_eq!(
            r2["note"],
            json!([{"text": "Recipient: Trauma and orthopaedics"}])
        );
        // Diary: authoredOn always; dy2 is coded and says when it was entered.
        let start = world.start_day;
        let dy1 = with_identifier(&b, "9690937286/dy1");
        assert_eq!(dy1["authoredOn"], start.to_string());
        assert!(dy1["requester"]["agent"]["reference"].is_string());
        let dy2 = with_identifier(&b, "9690937286/dy2");
        assert_eq!(dy2["code"]["coding"][0]["code"], "314529007");
        assert_eq!(dy2["code"]["text"], "Medication review");
        assert!(dy2["authoredOn"].as_str().unwrap() < start.to_string().as_str());
    }

    #[test]
    fn blood_pressure_taken_together_is_one_observation() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, false);
        let bp = with_identifier(&b, "9690937286/o1");
        assert_eq!(bp["code"]["coding"][0]["code"], "163020007");
        assert!(bp.get("valueQuantity").is_none());
        let components = bp["component"].as_array().unwrap();
        assert_eq!(components.len(), 2);
        assert_eq!(components[0]["code"]["coding"][0]["code"], "72313002");
        assert_eq!(components[0]["valueQuantity"]["value"], 138.0);
        assert_eq!(
            components[1]["code"]["coding"][0]["code"],
            "1091811000000102"
        );
        assert_eq!(components[1]["valueQuantity"]["value"], 84.0);
        assert!(!b.to_string().contains("9690937286/o2"));
        let bp_ref = key(bp);
        let mut holders = 0;
        for r in resources(&b) {
            let mut refs = Vec::new();
            references(r, &mut refs);
            let n = refs.iter().filter(|x| **x == bp_ref).count();
            assert!(n <= 1, "{r}");
            holders += n;
        }
        // Uncategorised data, the Examination heading, the consultation's secondary List, the
        // problems' secondary List and problem p1.
        assert_eq!(holders, 5);

        // Readings of different days, or of different consultations, stay apart.
        let mut world = default_world();
        let patient = world
            .patients
            .iter_mut()
            .find(|p| p.nhs_number.as_str() == PATIENT2)
            .unwrap();
        patient.record.consultations[0]
            .entries
            .retain(|e| e != "o2");
        let b = bundle_for(&world, PATIENT2, false);
        assert!(
            with_identifier(&b, "9690937286/o1")
                .get("component")
                .is_none()
        );
        assert_eq!(
            with_identifier(&b, "9690937286/o2")["valueQuantity"]["value"],
            84.0
        );
    }

    #[test]
    fn included_confidential_items_carry_nopat_and_no_warning() {
        let world = default_world();
        let b = bundle_for(&world, PATIENT2, true);
        assert!(!b.to_string().contains(gpc::CONFIDENTIAL_ITEMS_NOTE));
        let citalopram: Vec<_> = resources(&b)
            .into_iter()
            .filter(|r| r.to_string().contains("Citalopram"))
            .collect();
        assert!(!citalopram.is_empty());
        for r in citalopram.iter().filter(|r| r["resourceType"] != "List") {
            assert_eq!(r["meta"]["security"][0]["code"], "NOPAT", "{r}");
        }
    }

    #[test]
    fn the_bundle_is_deterministic_apart_from_its_id() {
        let world = default_world();
        let a = bundle_for(&world, PATIENT2, false);
        let b = bundle_for(&world, PATIENT2, false);
        assert_eq!(a, b);
        assert_eq!(a["id"], TRACE_ID);
        assert_eq!(a["type"], "collection");
    }

    #[test]
    fn empty_records_have_every_primary_list_empty() {
        let world = default_world();
        let b = bundle_for(&world, "9434761069", false);
        let lists: Vec<_> = resources(&b)
            .into_iter()
            .filter(|r| r["resourceType"] == "List")
            .collect();
        assert_eq!(lists.len(), 10);
        for l in lists {
            assert_eq!(l["emptyReason"]["coding"][0]["code"], "no-content-recorded");
            assert_eq!(l["note"][0]["text"], gpc::INFORMATION_NOT_AVAILABLE);
            assert!(l.get("entry").is_none() && l.get("id").is_none());
        }
    }
}
