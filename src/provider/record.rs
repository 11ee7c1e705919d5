//! The migrate response Bundle (`shared/spec/migrate.md` section 5): the administrative
//! resources (5.1), every clinical area of the full record (5.2), primary, secondary and
//! consultation-structure Lists (5.3), and the withholding of confidential items with the
//! confidential-items warning on every List that lost one, or NOPAT labels when they are
//! included (5.4). DocumentReferences point at the documents service's Binary (5.5).
//!
//! Resource ids are UUIDs derived from the patient and the scenario item id, so the same world
//! always gives the same Bundle apart from `Bundle.id` (the request's `Ssp-TraceID`).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::fhir::bundle;
use crate::fhir::gpconnect::{
    self as gpc, code_systems, extensions, lists, profiles, secondary_list_title,
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

/// The `$gpc.migratestructuredrecord` response Bundle.
pub fn bundle(req: &BundleRequest<'_>) -> Value {
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

/// The absolute documents service root of a practice (contract section 2).
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

    /// The words of the secondary List codes (migrate.md section 5.3).
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

/// A List being filled: its entries, contained resources, and whether it lost an item.
#[derive(Default)]
struct ListBuilder {
    entries: Vec<Value>,
    contained: Vec<Value>,
    seen: HashSet<String>,
    withheld: bool,
}

impl ListBuilder {
    fn add(&mut self, reference: String) {
        if self.seen.insert(reference.clone()) {
            self.entries
                .push(json!({ "item": { "reference": reference } }));
        }
    }

    /// Adds a resource contained in the List itself (ended allergies, migrate.md section 5.2).
    fn add_contained(&mut self, mut resource: Value) {
        let id = resource["id"].as_str().unwrap_or_default().to_owned();
        let reference = format!("#{id}");
        if self.seen.insert(reference.clone()) {
            // A contained resource carries no meta.versionId/lastUpdated of its own.
            if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
                meta.remove("versionId");
            }
            self.contained.push(resource);
            self.entries
                .push(json!({ "item": { "reference": reference } }));
        }
    }
}

struct Builder<'a> {
    req: &'a BundleRequest<'a>,
    nhs: &'a str,
    start_day: NaiveDate,
    patient_ref: String,
    org_ref: String,
    usual_gp: Option<&'a Practitioner>,
    identifier_system: String,
    index: HashMap<&'a str, Item<'a>>,
    /// Practitioners referenced so far, in order of first use.
    practitioners: Vec<&'a Practitioner>,
    practitioner_seen: HashSet<&'a str>,
    /// Clinical resources and primary/structure Lists, in output order.
    out: Vec<Value>,
    secondary: BTreeMap<String, ListBuilder>,
}

fn date(d: NaiveDate) -> String {
    d.to_string()
}

fn instant(d: NaiveDate) -> String {
    format!("{d}T00:00:00+00:00")
}

fn snomed(code: &Code) -> Value {
    json!({
        "coding": [{ "system": systems::SNOMED, "code": code.snomed, "display": code.display }],
        "text": code.display,
    })
}

fn snomed_pair(code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": systems::SNOMED, "code": code, "display": display }] })
}

fn reference(r: &str) -> Value {
    json!({ "reference": r })
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
fn quantity(s: &str) -> Option<Value> {
    let mut words = s.split_whitespace();
    let value: f64 = words.next()?.parse().ok()?;
    let unit = words.collect::<Vec<_>>().join(" ");
    let mut q = json!({ "value": value });
    if !unit.is_empty() {
        q["unit"] = json!(unit);
    }
    Some(q)
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

impl<'a> Builder<'a> {
    fn new(req: &'a BundleRequest<'a>) -> Self {
        let patient = req.patient;
        let nhs = patient.nhs_number.as_str();
        let rec = &patient.record;
        let mut index = HashMap::with_capacity(rec.item_count());
        let items = rec
            .problems
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
            .chain(rec.documents.iter().map(Item::Document));
        for item in items {
            index.entry(item.meta().id.as_str()).or_insert(item);
        }
        let usual_gp = patient
            .usual_gp
            .as_deref()
            .and_then(|id| req.world.practitioner(id));
        let mut b = Self {
            req,
            nhs,
            start_day: req.world.start_day,
            patient_ref: format!("Patient/{}", stable_id(&["Patient", nhs])),
            org_ref: format!(
                "Organization/{}",
                stable_id(&["Organization", req.practice.ods.as_str()])
            ),
            usual_gp,
            identifier_system: format!(
                "https://spine-sandbox.invalid/{}/Id/record-item",
                req.practice.ods.as_str()
            ),
            index,
            practitioners: Vec::new(),
            practitioner_seen: HashSet::new(),
            out: Vec::with_capacity(rec.item_count() * 3 + 16),
            secondary: BTreeMap::new(),
        };
        if let Some(gp) = usual_gp {
            b.use_practitioner(gp);
        }
        b
    }

    fn withheld(&self, meta: &ItemMeta) -> bool {
        meta.confidential && !self.req.include_sensitive
    }

    fn id(&self, space: &str, item: &str) -> String {
        stable_id(&[space, self.nhs, item])
    }

    fn link(&self, item: &Item<'_>) -> String {
        let kind = item.kind();
        format!(
            "{}/{}",
            kind.link_type(),
            self.id(kind.id_space(), &item.meta().id)
        )
    }

    fn identifier(&self, item: &str, suffix: &str) -> Value {
        json!([{
            "system": self.identifier_system,
            "value": format!("{}/{item}{suffix}", self.nhs),
        }])
    }

    /// `meta` of a clinical resource: its profile, and NOPAT when a confidential item is
    /// included (migrate.md section 5.4).
    fn meta(&self, profile: &str, item: &ItemMeta) -> Value {
        if item.confidential {
            json!({
                "profile": [profile],
                "security": [{
                    "system": code_systems::ACT_CODE,
                    "code": gpc::NOPAT.0,
                    "display": gpc::NOPAT.1,
                }],
            })
        } else {
            json!({ "profile": [profile] })
        }
    }

    fn use_practitioner(&mut self, p: &'a Practitioner) -> String {
        if self.practitioner_seen.insert(p.id.as_str()) {
            self.practitioners.push(p);
        }
        format!("Practitioner/{}", stable_id(&["Practitioner", &p.id]))
    }

    fn recorder(&self) -> Option<String> {
        self.usual_gp
            .map(|p| format!("Practitioner/{}", stable_id(&["Practitioner", &p.id])))
    }

    fn secondary_list(&mut self, code: String) -> &mut ListBuilder {
        self.secondary.entry(code).or_default()
    }

    /// Files a link from a problem or consultation into `list` (or marks the List as having
    /// lost an item) and returns the reference when the item is included and referenceable.
    fn file_link(&mut self, item: &Item<'a>, list: Option<String>) -> Option<String> {
        if self.withheld(item.meta()) {
            if let Some(code) = list {
                self.secondary_list(code).withheld = true;
            }
            return None;
        }
        if let Item::Allergy(a) = item
            && a.status == AllergyStatus::Resolved
        {
            // Ended allergies live contained in Lists, so a List holding one holds a copy.
            let resource = self.allergy(a);
            if let Some(code) = list {
                self.secondary_list(code).add_contained(resource);
            }
            return None;
        }
        let r = self.link(item);
        if let Some(code) = list {
            self.secondary_list(code).add(r.clone());
        }
        Some(r)
    }

    /// A List: primary (`id` None, SNOMED code), secondary, or consultation structure (with id).
    fn list(&self, title: &str, code: Value, l: ListBuilder, id: Option<String>) -> Value {
        let mut list = json!({
            "resourceType": "List",
            "meta": { "profile": [profiles::LIST] },
            "status": "current",
            "mode": "snapshot",
            "title": title,
            "code": code,
            "subject": reference(&self.patient_ref),
        });
        let mut ext = Vec::new();
        if let Some(id) = id {
            list["id"] = json!(id);
        } else {
            ext.push(json!({
                "url": extensions::CLINICAL_SETTING,
                "valueCodeableConcept": snomed_pair(gpc::GENERAL_PRACTICE_SERVICE.0, gpc::GENERAL_PRACTICE_SERVICE.1),
            }));
        }
        let mut notes = Vec::new();
        if l.withheld {
            ext.push(json!({ "url": extensions::LIST_WARNING_CODE, "valueCode": gpc::CONFIDENTIAL_ITEMS }));
            notes.push(json!({ "text": gpc::CONFIDENTIAL_ITEMS_NOTE }));
        }
        if !ext.is_empty() {
            list["extension"] = Value::Array(ext);
        }
        if l.entries.is_empty() {
            list["emptyReason"] = json!({
                "coding": [{
                    "system": code_systems::LIST_EMPTY_REASON,
                    "code": gpc::NO_CONTENT_RECORDED.0,
                    "display": gpc::NO_CONTENT_RECORDED.1,
                }],
            });
            notes.push(json!({ "text": gpc::INFORMATION_NOT_AVAILABLE }));
        } else {
            list["entry"] = Value::Array(l.entries);
        }
        if !l.contained.is_empty() {
            list["contained"] = Value::Array(l.contained);
        }
        if !notes.is_empty() {
            list["note"] = Value::Array(notes);
        }
        list
    }

    fn primary_list(&mut self, (code, title): (&str, &str), l: ListBuilder) {
        let display = if code == lists::UNCATEGORISED.0 {
            lists::UNCATEGORISED_DISPLAY
        } else {
            title
        };
        let list = self.list(title, snomed_pair(code, display), l, None);
        self.out.push(list);
    }

    // ---- Problems ----

    fn problems(&mut self) {
        let mut primary = ListBuilder::default();
        let rec = &self.req.patient.record;
        for p in &rec.problems {
            if self.withheld(&p.meta) {
                primary.withheld = true;
                continue;
            }
            let id = self.id("Condition", &p.meta.id);
            let significance = match p.significance {
                Significance::Major => "major",
                Significance::Minor => "minor",
            };
            let mut ext = vec![json!({
                "url": extensions::PROBLEM_SIGNIFICANCE, "valueCode": significance })];
            for related in &p.related {
                let Some(item) = self.index.get(related.as_str()).copied() else {
                    continue;
                };
                let list = item.kind().problem_list_code();
                if let Some(r) = self.file_link(&item, list) {
                    ext.push(json!({
                        "url": extensions::RELATED_CLINICAL_CONTENT,
                        "valueReference": { "reference": r },
                    }));
                }
            }
            let mut c = json!({
                "resourceType": "Condition",
                "id": id,
                "meta": self.meta(profiles::PROBLEM_HEADER, &p.meta),
                "extension": ext,
                "identifier": self.identifier(&p.meta.id, ""),
                "clinicalStatus": match p.status {
                    ProblemStatus::Active => "active",
                    ProblemStatus::Inactive => "inactive",
                },
                "category": [{ "coding": [{
                    "system": code_systems::CONDITION_CATEGORY,
                    "code": "problem-list-item",
                    "display": "Problem List Item",
                }] }],
                "code": snomed(&p.code),
                "subject": reference(&self.patient_ref),
            });
            if let Some(onset) = p.onset {
                c["onsetDateTime"] = json!(date(onset));
                c["assertedDate"] = json!(date(onset));
            }
            if p.status == ProblemStatus::Inactive
                && let Some(end) = p.end
            {
                c["abatementDateTime"] = json!(date(end));
            }
            if let Some(r) = self.recorder() {
                c["asserter"] = reference(&r);
            }
            if let Some(note) = &p.note {
                c["note"] = json!([{ "text": note }]);
            }
            primary.add(format!("Condition/{id}"));
            self.out.push(c);
        }
        self.primary_list(lists::PROBLEMS, primary);
    }

    // ---- Allergies ----

    fn allergy(&self, a: &Allergy) -> Value {
        let resolved = a.status == AllergyStatus::Resolved;
        let mut r = json!({
            "resourceType": "AllergyIntolerance",
            "id": self.id("AllergyIntolerance", &a.meta.id),
            "meta": self.meta(profiles::ALLERGY_INTOLERANCE, &a.meta),
            "identifier": self.identifier(&a.meta.id, ""),
            "clinicalStatus": if resolved { "resolved" } else { "active" },
            "verificationStatus": "unconfirmed",
            "category": [allergy_category(&a.code)],
            "code": snomed(&a.code),
            "patient": reference(&self.patient_ref),
        });
        if resolved {
            // GP Connect sends ended allergies as transfer-degraded, keeping the original term.
            r["code"] = json!({
                "coding": [{
                    "system": systems::SNOMED,
                    "code": "196461000000101",
                    "display": "Transfer-degraded drug allergy",
                }],
                "text": format!("Resolved '{}' original code {}.", a.code.display, a.code.snomed),
            });
        }
        if let Some(d) = a.asserted {
            r["assertedDate"] = json!(date(d));
            r["onsetDateTime"] = json!(date(d));
        }
        if let Some(rec) = self.recorder() {
            r["recorder"] = reference(&rec);
        }
        if let Some(reaction) = &a.reaction {
            r["reaction"] = json!([{ "manifestation": [{ "text": reaction }] }]);
        }
        if let Some(note) = &a.note {
            r["note"] = json!([{ "text": note }]);
        }
        if resolved {
            let mut end = Vec::new();
            if let Some(d) = a.end {
                end.push(json!({ "url": "endDate", "valueDateTime": date(d) }));
            }
            end.push(json!({ "url": "reasonEnded", "valueString": "No reason recorded" }));
            r["extension"] =
                json!([{ "url": extensions::ALLERGY_INTOLERANCE_END, "extension": end }]);
        }
        r
    }

    fn allergies(&mut self) {
        let mut active = ListBuilder::default();
        let mut ended = ListBuilder::default();
        for a in &self.req.patient.record.allergies {
            let resolved = a.status == AllergyStatus::Resolved;
            let list = if resolved { &mut ended } else { &mut active };
            if self.withheld(&a.meta) {
                list.withheld = true;
                continue;
            }
            let r = self.allergy(a);
            if resolved {
                list.add_contained(r);
            } else {
                list.add(format!(
                    "AllergyIntolerance/{}",
                    r["id"].as_str().unwrap_or_default()
                ));
                self.out.push(r);
            }
        }
        self.primary_list(lists::ALLERGIES, active);
        self.primary_list(lists::ENDED_ALLERGIES, ended);
    }

    // ---- Medications ----

    fn medications(&mut self) {
        let mut primary = ListBuilder::default();
        for m in &self.req.patient.record.medications {
            if self.withheld(&m.meta) {
                primary.withheld = true;
                continue;
            }
            let medication_id = self.id("Medication", &m.meta.id);
            let plan_id = self.id("MedicationRequest-plan", &m.meta.id);
            let issue_id = self.id("MedicationRequest-issue", &m.meta.id);
            let statement_id = self.id("MedicationStatement", &m.meta.id);
            let ended = m.end.is_some_and(|e| e < self.start_day);
            let (type_code, type_display) = match m.kind {
                MedicationType::Acute => ("acute", "Acute"),
                MedicationType::Repeat => ("repeat", "Repeat"),
                MedicationType::RepeatDispensing => ("repeat-dispensing", "Repeat dispensing"),
            };
            let mut period = json!({ "start": date(m.start) });
            if let Some(end) = m.end {
                period["end"] = json!(date(end));
            }
            let medication_ref = format!("Medication/{medication_id}");
            let plan_ref = format!("MedicationRequest/{plan_id}");

            self.out.push(json!({
                "resourceType": "Medication",
                "id": medication_id,
                "meta": self.meta(profiles::MEDICATION, &m.meta),
                "code": snomed(&m.code),
            }));

            let mut plan = json!({
                "resourceType": "MedicationRequest",
                "id": plan_id,
                "meta": self.meta(profiles::MEDICATION_REQUEST, &m.meta),
                "extension": [{
                    "url": extensions::PRESCRIPTION_TYPE,
                    "valueCodeableConcept": { "coding": [{
                        "system": code_systems::PRESCRIPTION_TYPE,
                        "code": type_code,
                        "display": type_display,
                    }] },
                }],
                "identifier": self.identifier(&m.meta.id, "/plan"),
                "groupIdentifier": { "system": self.identifier_system, "value": format!("{}/{}/plan", self.nhs, m.meta.id) },
                "status": if ended { "completed" } else { "active" },
                "intent": "plan",
                "medicationReference": reference(&medication_ref),
                "subject": reference(&self.patient_ref),
                "authoredOn": date(m.start),
                "dispenseRequest": { "validityPeriod": period.clone() },
            });
            let mut issue = json!({
                "resourceType": "MedicationRequest",
                "id": issue_id,
                "meta": self.meta(profiles::MEDICATION_REQUEST, &m.meta),
                "extension": plan["extension"].clone(),
                "identifier": self.identifier(&m.meta.id, "/issue-1"),
                "groupIdentifier": plan["groupIdentifier"].clone(),
                "basedOn": [reference(&plan_ref)],
                "status": "completed",
                "intent": "order",
                "medicationReference": reference(&medication_ref),
                "subject": reference(&self.patient_ref),
                "authoredOn": date(m.start),
                "dispenseRequest": { "validityPeriod": { "start": date(m.start) } },
            });
            if let Some(r) = self.recorder() {
                plan["recorder"] = reference(&r);
                issue["recorder"] = reference(&r);
            }
            if let Some(d) = &m.dosage {
                plan["dosageInstruction"] = json!([{ "text": d }]);
                issue["dosageInstruction"] = json!([{ "text": d }]);
            }
            if let Some(q) = m.quantity.as_deref().and_then(quantity) {
                plan["dispenseRequest"]["quantity"] = q.clone();
                issue["dispenseRequest"]["quantity"] = q;
            }
            if let Some(note) = &m.note {
                plan["note"] = json!([{ "text": note }]);
            }

            let mut statement = json!({
                "resourceType": "MedicationStatement",
                "id": statement_id,
                "meta": self.meta(profiles::MEDICATION_STATEMENT, &m.meta),
                "extension": [{
                    "url": extensions::PRESCRIBING_AGENCY,
                    "valueCodeableConcept": { "coding": [{
                        "system": code_systems::PRESCRIBING_AGENCY,
                        "code": "prescribed-at-gp-practice",
                        "display": "Prescribed at GP practice",
                    }] },
                }],
                "identifier": self.identifier(&m.meta.id, ""),
                "basedOn": [reference(&plan_ref)],
                "status": if ended { "completed" } else { "active" },
                "medicationReference": reference(&medication_ref),
                "effectivePeriod": period,
                "dateAsserted": date(m.start),
                "subject": reference(&self.patient_ref),
                "taken": "unk",
            });
            if let Some(d) = &m.dosage {
                statement["dosage"] = json!([{ "text": d }]);
            }
            if let Some(note) = &m.note {
                statement["note"] = json!([{ "text": note }]);
            }
            primary.add(format!("MedicationStatement/{statement_id}"));
            self.out.push(plan);
            self.out.push(issue);
            self.out.push(statement);
        }
        self.primary_list(lists::MEDICATIONS, primary);
    }

    // ---- Immunisations ----

    fn immunisations(&mut self) {
        let mut primary = ListBuilder::default();
        for i in &self.req.patient.record.immunisations {
            if self.withheld(&i.meta) {
                primary.withheld = true;
                continue;
            }
            let id = self.id("Immunization", &i.meta.id);
            let mut r = json!({
                "resourceType": "Immunization",
                "id": id,
                "meta": self.meta(profiles::IMMUNIZATION, &i.meta),
                "extension": [{ "url": extensions::VACCINATION_PROCEDURE, "valueCodeableConcept": snomed(&i.code) }],
                "identifier": self.identifier(&i.meta.id, ""),
                "status": "completed",
                "notGiven": false,
                "vaccineCode": snomed(&i.code),
                "patient": reference(&self.patient_ref),
                "date": date(i.date),
                "primarySource": true,
            });
            if let Some(note) = &i.note {
                r["note"] = json!([{ "text": note }]);
            }
            primary.add(format!("Immunization/{id}"));
            self.out.push(r);
        }
        self.primary_list(lists::IMMUNISATIONS, primary);
    }

    // ---- Uncategorised data ----

    fn uncategorised(&mut self) {
        let mut primary = ListBuilder::default();
        for o in &self.req.patient.record.observations {
            if self.withheld(&o.meta) {
                primary.withheld = true;
                continue;
            }
            let id = self.id("Observation", &o.meta.id);
            let mut r = json!({
                "resourceType": "Observation",
                "id": id,
                "meta": self.meta(profiles::OBSERVATION, &o.meta),
                "identifier": self.identifier(&o.meta.id, ""),
                "status": "final",
                "code": snomed(&o.code),
                "subject": reference(&self.patient_ref),
                "effectiveDateTime": date(o.date),
                "issued": instant(o.date),
            });
            if let Some(v) = o.value {
                let mut q = json!({ "value": v });
                if let Some(unit) = &o.unit {
                    q["unit"] = json!(unit);
                }
                r["valueQuantity"] = q;
            }
            if let Some(p) = self.recorder() {
                r["performer"] = json!([reference(&p)]);
            }
            if let Some(note) = &o.note {
                r["comment"] = json!(note);
            }
            primary.add(format!("Observation/{id}"));
            self.out.push(r);
        }
        self.primary_list(lists::UNCATEGORISED, primary);
    }

    // ---- Investigations ----

    fn investigations(&mut self) {
        let mut primary = ListBuilder::default();
        for inv in &self.req.patient.record.investigations {
            if self.withheld(&inv.meta) {
                primary.withheld = true;
                continue;
            }
            let item = &inv.meta.id;
            let report_id = self.id("DiagnosticReport", item);
            let request_id = self.id("ProcedureRequest-investigation", item);
            let specimen_id = self.id("Specimen", item);
            let specimen_ref = format!("Specimen/{specimen_id}");
            self.out.push(json!({
                "resourceType": "ProcedureRequest",
                "id": request_id,
                "meta": self.meta(profiles::PROCEDURE_REQUEST, &inv.meta),
                "identifier": self.identifier(item, "/request"),
                "status": "completed",
                "intent": "order",
                "code": snomed(&inv.code),
                "subject": reference(&self.patient_ref),
                "authoredOn": date(inv.date),
                "requester": { "agent": reference(&self.org_ref) },
            }));
            let mut specimen = json!({
                "resourceType": "Specimen",
                "id": specimen_id,
                "meta": self.meta(profiles::SPECIMEN, &inv.meta),
                "identifier": self.identifier(item, "/specimen"),
                "subject": reference(&self.patient_ref),
                "receivedTime": date(inv.date),
                "collection": { "collectedDateTime": date(inv.date) },
            });
            if let Some(s) = &inv.specimen {
                specimen["type"] = json!({ "text": s });
            }
            self.out.push(specimen);
            let mut results = Vec::with_capacity(inv.results.len());
            for (n, res) in inv.results.iter().enumerate() {
                let n = (n + 1).to_string();
                let id = stable_id(&["Observation-result", self.nhs, item, &n]);
                let mut o = json!({
                    "resourceType": "Observation",
                    "id": id,
                    "meta": self.meta(profiles::OBSERVATION, &inv.meta),
                    "identifier": self.identifier(item, &format!("/result-{n}")),
                    "status": "final",
                    "category": [{ "coding": [{
                        "system": code_systems::OBSERVATION_CATEGORY,
                        "code": "laboratory",
                        "display": "Laboratory",
                    }] }],
                    "code": snomed(&res.code),
                    "subject": reference(&self.patient_ref),
                    "effectiveDateTime": date(inv.date),
                    "issued": instant(inv.date),
                    "specimen": reference(&specimen_ref),
                });
                if let Some(v) = res.value {
                    let mut q = json!({ "value": v });
                    if let Some(unit) = &res.unit {
                        q["unit"] = json!(unit);
                    }
                    o["valueQuantity"] = q;
                }
                if let Some(range) = &res.range {
                    o["referenceRange"] = json!([{ "text": range }]);
                }
                results.push(format!("Observation/{id}"));
                self.out.push(o);
            }
            let mut report = json!({
                "resourceType": "DiagnosticReport",
                "id": report_id,
                "meta": self.meta(profiles::DIAGNOSTIC_REPORT, &inv.meta),
                "identifier": self.identifier(item, ""),
                "basedOn": [reference(&format!("ProcedureRequest/{request_id}"))],
                "status": "final",
                "code": snomed(&inv.code),
                "subject": reference(&self.patient_ref),
                "effectiveDateTime": date(inv.date),
                "issued": instant(inv.date),
                "performer": [{ "actor": reference(&self.org_ref) }],
                "specimen": [reference(&specimen_ref)],
            });
            if !results.is_empty() {
                let group_id = self.id("Observation-test-group", item);
                self.out.push(json!({
                    "resourceType": "Observation",
                    "id": group_id,
                    "meta": self.meta(profiles::OBSERVATION, &inv.meta),
                    "identifier": self.identifier(item, "/test-group"),
                    "status": "final",
                    "category": [{ "coding": [{
                        "system": code_systems::OBSERVATION_CATEGORY,
                        "code": "laboratory",
                        "display": "Laboratory",
                    }] }],
                    "code": snomed(&inv.code),
                    "subject": reference(&self.patient_ref),
                    "effectiveDateTime": date(inv.date),
                    "issued": instant(inv.date),
                    "specimen": reference(&specimen_ref),
                    "related": results.iter().map(|r| json!({
                        "type": "has-member", "target": reference(r) })).collect::<Vec<_>>(),
                }));
                report["result"] = json!([reference(&format!("Observation/{group_id}"))]);
            }
            if let Some(note) = &inv.note {
                report["conclusion"] = json!(note);
            }
            primary.add(format!("DiagnosticReport/{report_id}"));
            self.out.push(report);
        }
        self.primary_list(lists::INVESTIGATIONS, primary);
    }

    // ---- Consultations ----

    fn consultations(&mut self) {
        let mut primary = ListBuilder::default();
        for c in &self.req.patient.record.consultations {
            if self.withheld(&c.meta) {
                primary.withheld = true;
                continue;
            }
            let item = &c.meta.id;
            let encounter_id = self.id("Encounter", item);
            let encounter_ref = format!("Encounter/{encounter_id}");
            let mut encounter = json!({
                "resourceType": "Encounter",
                "id": encounter_id,
                "meta": self.meta(profiles::ENCOUNTER, &c.meta),
                "identifier": self.identifier(item, ""),
                "status": "finished",
                "type": [{ "text": c.kind }],
                "subject": reference(&self.patient_ref),
                "period": { "start": date(c.date), "end": date(c.date) },
                "serviceProvider": reference(&self.org_ref),
            });
            if let Some(p) = c
                .practitioner
                .as_deref()
                .and_then(|id| self.req.world.practitioner(id))
            {
                let r = self.use_practitioner(p);
                encounter["participant"] = json!([{
                    "type": [{ "coding": [{
                        "system": code_systems::PARTICIPATION_TYPE,
                        "code": "PPRF",
                        "display": "primary performer",
                    }] }],
                    "individual": reference(&r),
                }]);
            }

            // Headings in first-use order, each with its items.
            let mut headings: Vec<(&'static str, ListBuilder)> = Vec::new();
            let mut problem_refs = Vec::new();
            let mut topic_title: Option<&str> = None;
            for entry in &c.entries {
                let Some(target) = self.index.get(entry.as_str()).copied() else {
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
                if self.withheld(target.meta()) {
                    if let Some(code) = list {
                        self.secondary_list(code).withheld = true;
                    }
                    continue;
                }
                if let Item::Allergy(a) = target
                    && a.status == AllergyStatus::Resolved
                {
                    let resource = self.allergy(a);
                    headings[pos].1.add_contained(resource.clone());
                    if let Some(code) = list {
                        self.secondary_list(code).add_contained(resource);
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
            if let Some(note) = &c.note {
                let id = self.id("Observation-narrative", item);
                let mut o = json!({
                    "resourceType": "Observation",
                    "id": id,
                    "meta": self.meta(profiles::OBSERVATION, &c.meta),
                    "identifier": self.identifier(item, "/note"),
                    "status": "final",
                    "code": snomed_pair("37331000000100", "Comment note"),
                    "subject": reference(&self.patient_ref),
                    "context": reference(&encounter_ref),
                    "effectiveDateTime": date(c.date),
                    "issued": instant(c.date),
                    "comment": note,
                });
                if let Some(p) = encounter["participant"][0]["individual"]
                    .as_object()
                    .cloned()
                {
                    o["performer"] = json!([p]);
                }
                let mut l = ListBuilder::default();
                l.add(format!("Observation/{id}"));
                headings.push(("Comment", l));
                self.out.push(o);
            }

            let mut topic = ListBuilder::default();
            for (n, (heading, l)) in headings.into_iter().enumerate() {
                if l.entries.is_empty() && !l.withheld {
                    continue;
                }
                let id = stable_id(&["List-heading", self.nhs, item, &n.to_string()]);
                let mut list = self.list(
                    heading,
                    snomed_pair(lists::HEADING.0, lists::HEADING.1),
                    ListBuilder {
                        withheld: false,
                        ..l
                    },
                    Some(id.clone()),
                );
                list["encounter"] = reference(&encounter_ref);
                list["date"] = json!(date(c.date));
                self.out.push(list);
                topic.add(format!("List/{id}"));
            }
            let mut consultation = ListBuilder::default();
            if !topic.entries.is_empty() {
                let id = self.id("List-topic", item);
                let mut list = self.list(
                    topic_title.unwrap_or(&c.kind),
                    snomed_pair(lists::TOPIC.0, lists::TOPIC.1),
                    topic,
                    Some(id.clone()),
                );
                if !problem_refs.is_empty() {
                    list["extension"] = Value::Array(
                        problem_refs
                            .iter()
                            .map(|r| {
                                json!({
                                    "url": extensions::RELATED_PROBLEM_HEADER,
                                    "extension": [
                                        { "url": "type", "valueCode": "grouped-by" },
                                        { "url": "target", "valueReference": reference(r) },
                                    ],
                                })
                            })
                            .collect(),
                    );
                }
                list["encounter"] = reference(&encounter_ref);
                list["date"] = json!(date(c.date));
                self.out.push(list);
                consultation.add(format!("List/{id}"));
            }
            let mut list = self.list(
                &c.kind,
                snomed_pair(lists::CONSULTATION.0, lists::CONSULTATION.1),
                consultation,
                Some(self.id("List-consultation", item)),
            );
            list["encounter"] = reference(&encounter_ref);
            list["date"] = json!(date(c.date));
            self.out.push(list);
            self.out.push(encounter);
            primary.add(encounter_ref);
        }
        self.primary_list(lists::CONSULTATIONS, primary);
    }

    // ---- Referrals ----

    fn referrals(&mut self) {
        let mut primary = ListBuilder::default();
        for r in &self.req.patient.record.referrals {
            if self.withheld(&r.meta) {
                primary.withheld = true;
                continue;
            }
            let id = self.id("ReferralRequest", &r.meta.id);
            let requester = self.recorder().unwrap_or_else(|| self.org_ref.clone());
            let mut res = json!({
                "resourceType": "ReferralRequest",
                "id": id,
                "meta": self.meta(profiles::REFERRAL_REQUEST, &r.meta),
                "identifier": self.identifier(&r.meta.id, ""),
                "status": "active",
                "intent": "order",
                "subject": reference(&self.patient_ref),
                "authoredOn": date(r.date),
                "requester": { "agent": reference(&requester), "onBehalfOf": reference(&self.org_ref) },
                "recipient": [{ "display": r.to }],
                "description": format!("Referral to {}", r.to),
            });
            if self.usual_gp.is_none()
                && let Some(obj) = res["requester"].as_object_mut()
            {
                obj.remove("onBehalfOf");
            }
            if let Some(reason) = &r.reason {
                res["reasonCode"] = json!([{ "text": reason }]);
            }
            let priority = r.priority.as_deref().map(str::to_ascii_lowercase);
            match priority.as_deref() {
                Some(p @ ("routine" | "urgent" | "asap" | "stat")) => res["priority"] = json!(p),
                Some(other) => res["note"] = json!([{ "text": format!("Priority: {other}") }]),
                None => {}
            }
            primary.add(format!("ReferralRequest/{id}"));
            self.out.push(res);
        }
        self.primary_list(lists::REFERRALS, primary);
    }

    // ---- Diary entries ----

    fn diary(&mut self) {
        let mut primary = ListBuilder::default();
        for d in &self.req.patient.record.diary {
            if self.withheld(&d.meta) {
                primary.withheld = true;
                continue;
            }
            let id = self.id("ProcedureRequest-diary", &d.meta.id);
            let mut r = json!({
                "resourceType": "ProcedureRequest",
                "id": id,
                "meta": self.meta(profiles::PROCEDURE_REQUEST, &d.meta),
                "identifier": self.identifier(&d.meta.id, ""),
                "status": "active",
                "intent": "plan",
                "code": { "text": d.text },
                "subject": reference(&self.patient_ref),
                "occurrenceDateTime": date(d.date),
            });
            if let Some(rec) = self.recorder() {
                r["requester"] = json!({ "agent": reference(&rec) });
            }
            primary.add(format!("ProcedureRequest/{id}"));
            self.out.push(r);
        }
        self.primary_list(lists::DIARY, primary);
    }

    // ---- Documents (no primary List, migrate.md section 5.3) ----

    fn documents(&mut self) {
        for d in &self.req.patient.record.documents {
            if self.withheld(&d.meta) {
                continue;
            }
            let url = format!(
                "{}/Binary/{}",
                self.req.documents_base,
                binary_id(self.req.patient, d)
            );
            let mut meta = self.meta(profiles::DOCUMENT_REFERENCE, &d.meta);
            meta["versionId"] = json!("1");
            self.out.push(json!({
                "resourceType": "DocumentReference",
                "id": self.id("DocumentReference", &d.meta.id),
                "meta": meta,
                "identifier": self.identifier(&d.meta.id, ""),
                "status": "current",
                "type": snomed(&d.kind),
                "subject": reference(&self.patient_ref),
                "created": date(d.date),
                "indexed": instant(d.date),
                "author": [reference(&self.org_ref)],
                "custodian": reference(&self.org_ref),
                "description": d.title,
                "content": [{ "attachment": {
                    "contentType": d.content_type,
                    "url": url,
                    "size": d.content.len(),
                } }],
            }));
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
        let p = self.req.patient;
        let mut general_practitioner = Vec::new();
        if let Some(r) = self.recorder() {
            general_practitioner.push(reference(&r));
        }
        general_practitioner.push(reference(&self.org_ref));
        let mut r = json!({
            "resourceType": "Patient",
            "id": stable_id(&["Patient", self.nhs]),
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
                "value": self.nhs,
            }],
            "name": [human_name(&p.name)],
            "gender": p.gender.as_str(),
            "birthDate": date(p.birth_date),
            "generalPractitioner": general_practitioner,
            "managingOrganization": reference(&self.org_ref),
        });
        if let Some(a) = &p.address {
            r["address"] = json!([address(a, "home")]);
        }
        r
    }

    fn finish(mut self) -> Value {
        for (code, l) in std::mem::take(&mut self.secondary) {
            if l.entries.is_empty() && !l.withheld {
                continue;
            }
            let title = secondary_list_title(&code);
            let coding = json!({ "coding": [{
                "system": code_systems::SECONDARY_LIST_VALUES,
                "code": code,
                "display": title,
            }] });
            let list = self.list(&title, coding, l, None);
            self.out.push(list);
        }

        let mut resources = Vec::with_capacity(self.out.len() + 4 + self.practitioners.len() * 2);
        resources.push(self.patient());
        resources.push(self.organization(self.req.practice));
        let mut orgs_seen: HashSet<&str> = HashSet::new();
        orgs_seen.insert(self.req.practice.ods.as_str());
        for p in &self.practitioners {
            if orgs_seen.insert(p.practice.as_str())
                && let Some(practice) = self.req.world.practice(p.practice.as_str())
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
            let org = if self.req.world.practice(p.practice.as_str()).is_some() {
                format!(
                    "Organization/{}",
                    stable_id(&["Organization", p.practice.as_str()])
                )
            } else {
                self.org_ref.clone()
            };
            resources.push(json!({
                "resourceType": "PractitionerRole",
                "id": stable_id(&["PractitionerRole", &p.id]),
                "meta": { "versionId": "1", "profile": [profiles::PRACTITIONER_ROLE] },
                "practitioner": reference(&format!("Practitioner/{practitioner_id}")),
                "organization": reference(&org),
                "code": [{ "coding": [{
                    "system": code_systems::SDS_JOB_ROLE_NAME,
                    "code": "R0260",
                    "display": "General Medical Practitioner",
                }] }],
            }));
        }
        resources.append(&mut self.out);
        bundle::collection(self.req.trace_id, profiles::BUNDLE, resources)
    }
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
    fn ids_are_stable_and_distinct() {
        assert_eq!(stable_id(&["a", "b"]), stable_id(&["a", "b"]));
        assert_ne!(stable_id(&["a", "b"]), stable_id(&["ab"]));
        assert_ne!(stable_id(&["a", "b"]), stable_id(&["b", "a"]));
        let id = stable_id(&["Patient", PATIENT2]);
        assert!(uuid::Uuid::try_parse(&id).is_ok());
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
        let text = b.to_string();
        assert!(!text.contains("Citalopram"), "m5 is withheld");
        assert!(!text.contains("Anxiety disorder"), "o7 is withheld");
        assert!(!text.contains("NOPAT"));
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
