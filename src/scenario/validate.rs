//! Checking parsed scenario files and resolving them into one [`World`]
//! (`shared/design/contract.md` section 5).
//!
//! Everything is checked in one pass over all files and every problem is collected, each at the
//! position of the offending value (or of the entry lacking a required field):
//!
//! - formats: NHS number (Modulus 11), ODS code, ASID, party key, SDS user and item ids, SNOMED CT
//!   concept ids (Verhoeff check digit and partition), enums, dates, finite numbers;
//! - required fields;
//! - duplicates across all files (ODS code, ASID, party key, practitioner id, NHS number) and item
//!   ids within a patient, naming where the first was defined;
//! - cross references: `registered_with`, `record_at` (which must be a provider when it differs from
//!   `registered_with`), practitioner `practice`, `usual_gp`, consultation `practitioner`, problem
//!   `related` and consultation `entries`; documents' `file`s must be readable; `interactions` must
//!   be known GP Connect interaction ids.
//!
//! # Defaults and generated ids
//!
//! `provider: true`, `nhs_number_verified: true`, `sensitive`, `dissent` and `confidential` false,
//! `record_at` = `registered_with`, `party_key` = [`PartyKey::derived`], `interactions` =
//! [`interactions::DEFAULT_ALLOWED`], problem `status: active` and `significance: minor`, allergy
//! `status: active`, document `content_type` `text/plain` for `text:` or guessed from a `file:`'s
//! extension.
//!
//! An item without an `id` gets `<area>-<n>`: `area` is one of `problem`, `allergy`, `medication`,
//! `immunisation`, `observation`, `investigation`, `consultation`, `referral`, `diary`, `document`,
//! and `n` is the item's 1-based position in that area's list of the patient, counting items with
//! and without ids alike (the third medication is `medication-3` unless it names itself). Ids are
//! unique per patient across all areas, so a written id equal to a generated one is a duplicate.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_saphyr::{Location, Spanned};

use super::dates;
use super::file::{
    AddressEntry, CodeEntry, NameEntry, PatientEntry, PracticeEntry, PractitionerEntry,
    RecordEntry, ScenarioFile,
};
use super::load::ScenarioError;
use super::{
    Address, Allergy, AllergyStatus, Code, Consultation, DiaryEntry, Document, Gender, HumanName,
    Immunisation, Investigation, InvestigationResult, ItemMeta, Medication, MedicationType,
    Observation, Patient, Practice, Practitioner, Problem, ProblemStatus, Record, Referral,
    Significance, World,
};
use crate::identifiers::{Asid, OdsCode, PartyKey, interactions};
use crate::nhs_number::NhsNumber;

/// A parsed file, with what is needed to report problems in it and to find its documents.
pub(crate) struct Source {
    /// As given to the loader; used in every message.
    pub name: String,
    /// Folder that documents' `file:` paths are relative to.
    pub dir: PathBuf,
    pub file: ScenarioFile,
}

/// Document files larger than this are refused (the GP Connect migrate limit is 100 MB).
pub const MAX_DOCUMENT_BYTES: u64 = 100 * 1024 * 1024;

/// Checks every source and builds the merged world. The world is complete only when the returned
/// problems are empty. `references_complete` is false when some file could not be parsed: then a
/// reference to an unknown practice or practitioner may be to that file, and is not reported.
pub(crate) fn build_world(
    sources: &[Source],
    start_day: NaiveDate,
    references_complete: bool,
) -> (World, Vec<ScenarioError>) {
    let mut checker = Checker {
        names: sources.iter().map(|s| s.name.clone()).collect(),
        start_day,
        references_complete,
        problems: Vec::new(),
        practices: HashMap::new(),
        asids: HashMap::new(),
        party_keys: HashMap::new(),
        practitioners: HashMap::new(),
        nhs_numbers: HashMap::new(),
    };
    let mut world = World {
        name: sources.iter().find_map(|s| s.file.name.clone()),
        description: sources.iter().find_map(|s| s.file.description.clone()),
        start_day,
        practices: Vec::new(),
        practitioners: Vec::new(),
        patients: Vec::new(),
    };

    // Practices and practitioners first, across every file, so references can point forwards and
    // into other files.
    for (f, source) in sources.iter().enumerate() {
        for entry in source.file.practices.iter().flatten() {
            if let Some(p) = checker.practice(f, entry) {
                world.practices.push(p);
            }
        }
    }
    for (f, source) in sources.iter().enumerate() {
        for entry in source.file.practitioners.iter().flatten() {
            checker.register_practitioner(f, entry);
        }
    }
    for (f, source) in sources.iter().enumerate() {
        for entry in source.file.practitioners.iter().flatten() {
            if let Some(p) = checker.practitioner(f, entry) {
                world.practitioners.push(p);
            }
        }
    }
    for (f, source) in sources.iter().enumerate() {
        for entry in source.file.patients.iter().flatten() {
            if let Some(p) = checker.patient(f, &source.dir, entry) {
                world.patients.push(p);
            }
        }
    }
    (world, checker.problems)
}

/// Where something was written: file index, line, column.
#[derive(Debug, Clone, Copy)]
struct Place {
    file: usize,
    line: u64,
    column: u64,
}

#[derive(Debug, Clone, Copy)]
struct PracticeInfo {
    place: Place,
    provider: bool,
}

struct Checker {
    names: Vec<String>,
    start_day: NaiveDate,
    references_complete: bool,
    problems: Vec<ScenarioError>,
    /// Every ODS code written, valid or not, so one bad practice does not also make every
    /// reference to it an error.
    practices: HashMap<String, PracticeInfo>,
    asids: HashMap<String, Place>,
    party_keys: HashMap<String, Place>,
    practitioners: HashMap<String, Place>,
    nhs_numbers: HashMap<String, Place>,
}

fn place(file: usize, location: Location) -> Place {
    // Locations are 1-based; 0 means unknown, shown as the file's start.
    Place {
        file,
        line: location.line().max(1),
        column: location.column().max(1),
    }
}

impl Checker {
    fn report(&mut self, at: Place, message: impl Into<String>) {
        self.problems.push(ScenarioError {
            file: self.names.get(at.file).cloned().unwrap_or_default(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    fn report_at<T>(&mut self, file: usize, value: &Spanned<T>, message: impl Into<String>) {
        self.report(place(file, value.referenced), message);
    }

    fn show(&self, at: Place) -> String {
        let name = self.names.get(at.file).map_or("?", String::as_str);
        format!("{name}:{}:{}", at.line, at.column)
    }

    /// Records `key` in `table`, or reports it as a duplicate of the first one.
    fn unique(
        &mut self,
        table: fn(&mut Self) -> &mut HashMap<String, Place>,
        what: &str,
        file: usize,
        key: &Spanned<String>,
    ) {
        let here = place(file, key.referenced);
        match table(self).get(&key.value).copied() {
            Some(first) => {
                let message = format!(
                    "duplicate {what} {} (first defined at {})",
                    key.value,
                    self.show(first)
                );
                self.report(here, message);
            }
            None => {
                table(self).insert(key.value.clone(), here);
            }
        }
    }

    /// A required field: its value, or a report at the entry that lacks it.
    fn required<'a, T>(
        &mut self,
        file: usize,
        entry: Location,
        field: Option<&'a Spanned<T>>,
        what: impl FnOnce() -> String,
    ) -> Option<&'a Spanned<T>> {
        if field.is_none() {
            self.report(place(file, entry), what());
        }
        field
    }

    fn non_empty(&mut self, file: usize, value: &Spanned<String>, what: &str) -> Option<String> {
        let trimmed = value.value.trim();
        if trimmed.is_empty() {
            self.report_at(file, value, format!("{what} is empty"));
            None
        } else {
            Some(trimmed.to_owned())
        }
    }

    fn date(&mut self, file: usize, value: &Spanned<String>) -> Option<NaiveDate> {
        match dates::resolve(&value.value, self.start_day) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report_at(file, value, e.to_string());
                None
            }
        }
    }

    fn optional_date(&mut self, file: usize, value: Option<&Spanned<String>>) -> Option<NaiveDate> {
        value.and_then(|v| self.date(file, v))
    }

    fn ods_reference(&mut self, file: usize, value: &Spanned<String>, field: &str) -> bool {
        if self.practices.contains_key(&value.value) {
            return true;
        }
        if self.references_complete {
            self.report_at(
                file,
                value,
                format!(
                    "{field} names {}, but no practice has this ODS code",
                    value.value
                ),
            );
        }
        false
    }

    fn practitioner_reference(&mut self, file: usize, value: &Spanned<String>, field: &str) {
        if !self.practitioners.contains_key(&value.value) && self.references_complete {
            self.report_at(
                file,
                value,
                format!(
                    "{field} names {}, but no practitioner has this id",
                    value.value
                ),
            );
        }
    }

    // ----- practices -----

    fn practice(&mut self, f: usize, entry: &Spanned<PracticeEntry>) -> Option<Practice> {
        let at = entry.referenced;
        let e = &entry.value;
        let label = e.ods.as_ref().map_or_else(
            || "practice".to_owned(),
            |o| format!("practice {}", o.value),
        );
        let provider = e.provider.unwrap_or(true);

        let ods = self.required(f, at, e.ods.as_ref(), || "practice has no ods".to_owned());
        let mut duplicate_ods = false;
        let ods = ods.and_then(|o| {
            match self.practices.get(&o.value).copied() {
                Some(first) => {
                    duplicate_ods = true;
                    let message = format!(
                        "duplicate ODS code {} (first defined at {})",
                        o.value,
                        self.show(first.place)
                    );
                    self.report_at(f, o, message);
                }
                None => {
                    self.practices.insert(
                        o.value.clone(),
                        PracticeInfo {
                            place: place(f, o.referenced),
                            provider,
                        },
                    );
                }
            }
            OdsCode::parse(&o.value)
                .map_err(|m| self.report_at(f, o, m))
                .ok()
        });

        let name = self
            .required(f, at, e.name.as_ref(), || format!("{label} has no name"))
            .and_then(|n| self.non_empty(f, n, "practice name"));

        let asid = self
            .required(f, at, e.asid.as_ref(), || format!("{label} has no asid"))
            .and_then(|a| {
                self.unique(|c| &mut c.asids, "ASID", f, a);
                Asid::parse(&a.value)
                    .map_err(|m| self.report_at(f, a, m))
                    .ok()
            });

        let party_key = match &e.party_key {
            Some(k) => {
                self.unique(|c| &mut c.party_keys, "party key", f, k);
                match PartyKey::parse(&k.value) {
                    Ok(key) => {
                        if let Some(o) = &e.ods
                            && !k.value.starts_with(&format!("{}-", o.value))
                        {
                            self.report_at(
                                f,
                                k,
                                format!(
                                    "party key {} does not start with the practice's ODS code {}",
                                    k.value, o.value
                                ),
                            );
                        }
                        Some(key)
                    }
                    Err(m) => {
                        self.report_at(f, k, m);
                        None
                    }
                }
            }
            // A derived key repeats only with its ODS code, already reported as a duplicate.
            None => match (&ods, &asid) {
                (Some(o), Some(a)) if !duplicate_ods => {
                    let derived = PartyKey::derived(o, a);
                    let key = Spanned::new(derived.as_str().to_owned(), at, at);
                    self.unique(|c| &mut c.party_keys, "party key", f, &key);
                    Some(derived)
                }
                (Some(o), Some(a)) => Some(PartyKey::derived(o, a)),
                _ => None,
            },
        };

        let interactions = match &e.interactions {
            None => interactions::DEFAULT_ALLOWED
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            Some(list) => {
                let mut ids: Vec<String> = Vec::new();
                for id in list {
                    if !interactions::DEFAULT_ALLOWED.contains(&id.value.as_str()) {
                        self.report_at(
                            f,
                            id,
                            format!(
                                "unknown interaction id '{}'; known GP Connect interactions: {}",
                                id.value,
                                interactions::DEFAULT_ALLOWED.join(", ")
                            ),
                        );
                    } else if !ids.contains(&id.value) {
                        ids.push(id.value.clone());
                    }
                }
                ids
            }
        };

        let (supplier, branches) =
            super::supplier::practice(e, &mut |at, m| self.report(place(f, at), m));
        Some(Practice {
            supplier,
            branches,
            ods: ods?,
            name: name?,
            asid: asid?,
            party_key: party_key?,
            provider,
            interactions,
            address: e.address.as_ref().map(address),
            telecom: e.telecom.clone(),
        })
    }

    // ----- practitioners -----

    fn register_practitioner(&mut self, f: usize, entry: &Spanned<PractitionerEntry>) {
        if let Some(id) = &entry.value.id {
            self.unique(|c| &mut c.practitioners, "practitioner id", f, id);
        }
    }

    fn practitioner(
        &mut self,
        f: usize,
        entry: &Spanned<PractitionerEntry>,
    ) -> Option<Practitioner> {
        let at = entry.referenced;
        let e = &entry.value;
        let label = e.id.as_ref().map_or_else(
            || "practitioner".to_owned(),
            |i| format!("practitioner {}", i.value),
        );
        let id = self
            .required(f, at, e.id.as_ref(), || "practitioner has no id".to_owned())
            .and_then(|i| self.resource_id(f, i, "practitioner id"));
        let name = self
            .required(f, at, e.name.as_ref(), || format!("{label} has no name"))
            .and_then(|n| self.name(f, n));
        let practice = self
            .required(f, at, e.practice.as_ref(), || {
                format!("{label} has no practice")
            })
            .and_then(|p| {
                self.ods_reference(f, p, "practice")
                    .then(|| OdsCode::parse(&p.value).ok())
                    .flatten()
            });
        let gender = match &e.gender {
            Some(g) => Some(self.gender(f, g)?),
            None => None,
        };
        Some(Practitioner {
            id: id?,
            name: name?,
            practice: practice?,
            gender,
        })
    }

    /// Ids that become FHIR resource ids must follow FHIR's `id` rule.
    fn resource_id(&mut self, f: usize, id: &Spanned<String>, what: &str) -> Option<String> {
        let ok = (1..=64).contains(&id.value.len())
            && id
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if ok {
            Some(id.value.clone())
        } else {
            self.report_at(
                f,
                id,
                format!(
                    "{what} '{}' must be 1 to 64 letters, digits, '-' or '.' (it becomes a FHIR id)",
                    id.value
                ),
            );
            None
        }
    }

    fn name(&mut self, f: usize, name: &Spanned<NameEntry>) -> Option<HumanName> {
        let n = &name.value;
        let family = self
            .required(f, name.referenced, n.family.as_ref(), || {
                "name has no family".to_owned()
            })
            .and_then(|fam| self.non_empty(f, fam, "family name"))?;
        Some(HumanName {
            prefix: n.prefix.clone(),
            given: n.given.clone().unwrap_or_default(),
            family,
        })
    }

    fn gender(&mut self, f: usize, g: &Spanned<String>) -> Option<Gender> {
        let parsed = match g.value.as_str() {
            "male" => Some(Gender::Male),
            "female" => Some(Gender::Female),
            "other" => Some(Gender::Other),
            "unknown" => Some(Gender::Unknown),
            _ => None,
        };
        if parsed.is_none() {
            self.report_at(
                f,
                g,
                format!(
                    "gender '{}' must be one of male, female, other, unknown",
                    g.value
                ),
            );
        }
        parsed
    }

    // ----- patients -----

    fn patient(&mut self, f: usize, dir: &Path, entry: &Spanned<PatientEntry>) -> Option<Patient> {
        let at = entry.referenced;
        let e = &entry.value;
        let label = e
            .nhs_number
            .as_ref()
            .map_or_else(|| "patient".to_owned(), |n| format!("patient {}", n.value));

        let nhs_number = self
            .required(f, at, e.nhs_number.as_ref(), || {
                "patient has no nhs_number".to_owned()
            })
            .and_then(|n| {
                self.unique(|c| &mut c.nhs_numbers, "NHS number", f, n);
                NhsNumber::parse(&n.value)
                    .map_err(|err| self.report_at(f, n, err.to_string()))
                    .ok()
            });
        let name = self
            .required(f, at, e.name.as_ref(), || format!("{label} has no name"))
            .and_then(|n| self.name(f, n));
        let gender = self
            .required(f, at, e.gender.as_ref(), || {
                format!("{label} has no gender")
            })
            .and_then(|g| self.gender(f, g));
        let birth_date = self
            .required(f, at, e.birth_date.as_ref(), || {
                format!("{label} has no birth_date")
            })
            .and_then(|d| {
                let date = self.date(f, d)?;
                if date > self.start_day {
                    self.report_at(f, d, format!("birth date {date} is after the start day"));
                }
                Some(date)
            });

        let registered = self.required(f, at, e.registered_with.as_ref(), || {
            format!("{label} has no registered_with")
        });
        let registered_with = registered.and_then(|r| {
            self.ods_reference(f, r, "registered_with")
                .then(|| OdsCode::parse(&r.value).ok())
                .flatten()
        });
        let record_at = match &e.record_at {
            Some(r) => {
                let known = self.ods_reference(f, r, "record_at");
                let same_as_registered = registered.is_some_and(|g| g.value == r.value);
                if known
                    && !same_as_registered
                    && let Some(info) = self.practices.get(&r.value).copied()
                    && !info.provider
                {
                    let message = format!(
                        "record_at {} is not a GP Connect provider (provider: false at {})",
                        r.value,
                        self.show(info.place)
                    );
                    self.report_at(f, r, message);
                }
                known.then(|| OdsCode::parse(&r.value).ok()).flatten()
            }
            // Defaults to the registered practice; a patient of a practice without GP Connect keeps
            // the record there (the path where no provider can be found).
            None => registered_with.clone(),
        };

        if let Some(gp) = &e.usual_gp {
            self.practitioner_reference(f, gp, "usual_gp");
        }
        let deceased = self.optional_date(f, e.deceased.as_ref());
        if let (Some(death), Some(birth), Some(d)) = (deceased, birth_date, &e.deceased) {
            if death < birth {
                self.report_at(
                    f,
                    d,
                    format!("date of death {death} is before the birth date {birth}"),
                );
            } else if death > self.start_day {
                self.report_at(
                    f,
                    d,
                    format!("date of death {death} is after the start day"),
                );
            }
        }

        let who = e
            .nhs_number
            .as_ref()
            .map_or_else(String::new, |n| n.value.clone());
        let empty = RecordEntry::default();
        let record =
            RecordChecker::new(self, f, dir, who).record(e.record.as_ref().unwrap_or(&empty));

        let registration =
            super::supplier::registration(e.registration.as_ref(), self.start_day, &mut |at, m| {
                self.report(place(f, at), m)
            });
        Some(Patient {
            registration,
            nhs_number: nhs_number?,
            name: name?,
            gender: gender?,
            birth_date: birth_date?,
            address: e.address.as_ref().map(address),
            registered_with: registered_with?,
            record_at: record_at?,
            usual_gp: e.usual_gp.as_ref().map(|g| g.value.clone()),
            sensitive: e.sensitive.unwrap_or(false),
            nhs_number_verified: e.nhs_number_verified.unwrap_or(true),
            deceased,
            dissent: e.dissent.unwrap_or(false),
            record: record?,
        })
    }
}

fn address(a: &AddressEntry) -> Address {
    Address {
        lines: a.lines.clone().unwrap_or_default(),
        city: a.city.clone(),
        district: a.district.clone(),
        postcode: a.postcode.clone(),
    }
}

// ----- clinical records -----

/// The clinical areas, in the order items are numbered and their ids generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Problem,
    Allergy,
    Medication,
    Immunisation,
    Observation,
    Investigation,
    Consultation,
    Referral,
    Diary,
    Document,
}

impl Area {
    /// The prefix of generated ids and the word used in messages.
    fn name(self) -> &'static str {
        match self {
            Area::Problem => "problem",
            Area::Allergy => "allergy",
            Area::Medication => "medication",
            Area::Immunisation => "immunisation",
            Area::Observation => "observation",
            Area::Investigation => "investigation",
            Area::Consultation => "consultation",
            Area::Referral => "referral",
            Area::Diary => "diary",
            Area::Document => "document",
        }
    }
}

/// Checks one patient's record: ids, required fields, codes, dates and the references between items.
struct RecordChecker<'c> {
    c: &'c mut Checker,
    file: usize,
    dir: &'c Path,
    /// The patient's NHS number as written, for messages.
    patient: String,
    ids: HashMap<String, (Place, Area)>,
    /// Set when any item of the record was refused: the record is then not built.
    failed: bool,
}

/// The common part of every item, as written.
struct ItemFields<'a> {
    at: Location,
    n: usize,
    id: Option<&'a Spanned<String>>,
    confidential: Option<bool>,
}

impl<'c> RecordChecker<'c> {
    fn new(c: &'c mut Checker, file: usize, dir: &'c Path, patient: String) -> Self {
        Self {
            c,
            file,
            dir,
            patient,
            ids: HashMap::new(),
            failed: false,
        }
    }

    fn record(mut self, r: &RecordEntry) -> Option<Record> {
        // Ids of every area first, so `related` and `entries` may point at any item.
        let areas: [(Area, Vec<ItemHead<'_>>); 10] = [
            (Area::Problem, heads(&r.problems, |e| e.id.as_ref())),
            (Area::Allergy, heads(&r.allergies, |e| e.id.as_ref())),
            (Area::Medication, heads(&r.medications, |e| e.id.as_ref())),
            (
                Area::Immunisation,
                heads(&r.immunisations, |e| e.id.as_ref()),
            ),
            (Area::Observation, heads(&r.observations, |e| e.id.as_ref())),
            (
                Area::Investigation,
                heads(&r.investigations, |e| e.id.as_ref()),
            ),
            (
                Area::Consultation,
                heads(&r.consultations, |e| e.id.as_ref()),
            ),
            (Area::Referral, heads(&r.referrals, |e| e.id.as_ref())),
            (Area::Diary, heads(&r.diary, |e| e.id.as_ref())),
            (Area::Document, heads(&r.documents, |e| e.id.as_ref())),
        ];
        for (area, items) in &areas {
            for (n, (at, id)) in items.iter().enumerate() {
                self.register_id(*area, n, *at, *id);
            }
        }

        let mut record = Record::default();
        for (n, p) in r.problems.iter().flatten().enumerate() {
            let e = &p.value;
            let item = ItemFields {
                at: p.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Problem, &item);
            let code = self.code_of(Area::Problem, &item, e.code.as_ref());
            let onset = self.c.optional_date(self.file, e.onset.as_ref());
            let end = self.c.optional_date(self.file, e.end.as_ref());
            let status = self.choice(
                e.status.as_ref(),
                "problem status",
                &[
                    ("active", ProblemStatus::Active),
                    ("inactive", ProblemStatus::Inactive),
                ],
                ProblemStatus::Active,
            );
            let significance = self.choice(
                e.significance.as_ref(),
                "problem significance",
                &[
                    ("major", Significance::Major),
                    ("minor", Significance::Minor),
                ],
                Significance::Minor,
            );
            let related = self.references(&meta.id, e.related.as_deref(), "related", false);
            if let (Some(code), Some(status), Some(significance)) = (code, status, significance) {
                record.problems.push(Problem {
                    meta,
                    code,
                    onset,
                    end,
                    status,
                    significance,
                    related,
                    note: e.note.clone(),
                });
            }
        }
        for (n, a) in r.allergies.iter().flatten().enumerate() {
            let e = &a.value;
            let item = ItemFields {
                at: a.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Allergy, &item);
            let code = self.code_of(Area::Allergy, &item, e.code.as_ref());
            let asserted = self.c.optional_date(self.file, e.asserted.as_ref());
            let end = self.c.optional_date(self.file, e.end.as_ref());
            let status = self.choice(
                e.status.as_ref(),
                "allergy status",
                &[
                    ("active", AllergyStatus::Active),
                    ("resolved", AllergyStatus::Resolved),
                ],
                AllergyStatus::Active,
            );
            if let (Some(code), Some(status)) = (code, status) {
                let start_day = self.c.start_day;
                let onset = super::supplier::onset(e.onset.as_ref(), start_day, &mut |at, m| {
                    self.fail(at, m)
                });
                record.allergies.push(Allergy {
                    onset,
                    meta,
                    code,
                    asserted,
                    status,
                    end,
                    reaction: e.reaction.clone(),
                    note: e.note.clone(),
                });
            }
        }
        for (n, m) in r.medications.iter().flatten().enumerate() {
            let e = &m.value;
            let item = ItemFields {
                at: m.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Medication, &item);
            let code = self.code_of(Area::Medication, &item, e.code.as_ref());
            let start = self.date_of(Area::Medication, &item, e.start.as_ref(), "start");
            let end = self.c.optional_date(self.file, e.end.as_ref());
            let kind = self.required_of(Area::Medication, &item, e.kind.as_ref(), "type");
            let kind = kind.and_then(|k| {
                self.choice(
                    Some(k),
                    "medication type",
                    &[
                        ("acute", MedicationType::Acute),
                        ("repeat", MedicationType::Repeat),
                        ("repeat-dispensing", MedicationType::RepeatDispensing),
                    ],
                    MedicationType::Acute,
                )
            });
            if let (Some(s), Some(e_), Some(ed)) = (start, end, m.value.end.as_ref())
                && e_ < s
            {
                self.fail_at(ed, format!("medication end {e_} is before its start {s}"));
            }
            if let (Some(allowed), Some(MedicationType::Acute)) = (&e.repeats_allowed, kind) {
                self.fail_at(
                    allowed,
                    "repeats_allowed is only for repeat and repeat-dispensing medications"
                        .to_owned(),
                );
            }
            let stopped = match &e.stopped {
                Some(reason) if e.end.is_none() => {
                    self.fail_at(
                        reason,
                        format!(
                            "{} is stopped but has no end (the day it was stopped)",
                            Self::label(Area::Medication, &item)
                        ),
                    );
                    None
                }
                Some(reason) => self.text(reason, "stopped reason"),
                None => None,
            };
            if let (Some(code), Some(start), Some(kind)) = (code, start, kind) {
                let (drug_code, supply_days) =
                    super::supplier::medication(e, &mut |at, m| self.fail(at, m));
                record.medications.push(Medication {
                    drug_code,
                    supply_days,
                    meta,
                    code,
                    start,
                    end,
                    kind,
                    dosage: e.dosage.clone(),
                    quantity: e.quantity.clone(),
                    repeats_allowed: e.repeats_allowed.as_ref().map(|r| r.value),
                    stopped,
                    note: e.note.clone(),
                });
            }
        }
        for (n, i) in r.immunisations.iter().flatten().enumerate() {
            let e = &i.value;
            let item = ItemFields {
                at: i.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Immunisation, &item);
            let code = self.code_of(Area::Immunisation, &item, e.code.as_ref());
            let date = self.date_of(Area::Immunisation, &item, e.date.as_ref(), "date");
            if let (Some(code), Some(date)) = (code, date) {
                let start_day = self.c.start_day;
                let v = super::supplier::immunisation(e, start_day, &mut |at, m| self.fail(at, m));
                record.immunisations.push(Immunisation {
                    meta,
                    code,
                    date,
                    note: e.note.clone(),
                    batch: v.batch,
                    manufacturer: v.manufacturer,
                    site: v.site,
                    expiry: v.expiry,
                });
            }
        }
        for (n, o) in r.observations.iter().flatten().enumerate() {
            let e = &o.value;
            let item = ItemFields {
                at: o.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Observation, &item);
            let code = self.code_of(Area::Observation, &item, e.code.as_ref());
            let date = self.date_of(Area::Observation, &item, e.date.as_ref(), "date");
            let value = self.number(e.value.as_ref());
            if let (Some(code), Some(date), Some(value)) = (code, date, value) {
                record.observations.push(Observation {
                    meta,
                    code,
                    date,
                    value,
                    unit: e.unit.clone(),
                    note: e.note.clone(),
                });
            }
        }
        for (n, inv) in r.investigations.iter().flatten().enumerate() {
            let e = &inv.value;
            let item = ItemFields {
                at: inv.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Investigation, &item);
            let code = self.code_of(Area::Investigation, &item, e.code.as_ref());
            let date = self.date_of(Area::Investigation, &item, e.date.as_ref(), "date");
            let mut results = Vec::new();
            let mut results_ok = true;
            for res in e.results.iter().flatten() {
                let code = match &res.value.code {
                    Some(c) => self.code(c),
                    None => {
                        self.fail(
                            res.referenced,
                            format!("a result of investigation {} has no code", meta.id),
                        );
                        None
                    }
                };
                let value = self.number(res.value.value.as_ref());
                match (code, value) {
                    (Some(code), Some(value)) => results.push(InvestigationResult {
                        code,
                        value,
                        unit: res.value.unit.clone(),
                        range: res.value.range.clone(),
                    }),
                    _ => results_ok = false,
                }
            }
            if let (Some(code), Some(date), true) = (code, date, results_ok) {
                record.investigations.push(Investigation {
                    meta,
                    code,
                    date,
                    specimen: e.specimen.clone(),
                    results,
                    note: e.note.clone(),
                });
            }
        }
        for (n, con) in r.consultations.iter().flatten().enumerate() {
            let e = &con.value;
            let item = ItemFields {
                at: con.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Consultation, &item);
            let date = self.date_of(Area::Consultation, &item, e.date.as_ref(), "date");
            let kind = self
                .required_of(Area::Consultation, &item, e.kind.as_ref(), "type")
                .and_then(|k| self.text(k, "consultation type"));
            if let Some(p) = &e.practitioner {
                self.c.practitioner_reference(self.file, p, "practitioner");
            }
            let entries = self.references(&meta.id, e.entries.as_deref(), "entries", true);
            if let (Some(date), Some(kind)) = (date, kind) {
                record.consultations.push(Consultation {
                    meta,
                    date,
                    kind,
                    practitioner: e.practitioner.as_ref().map(|p| p.value.clone()),
                    entries,
                    note: e.note.clone(),
                });
            }
        }
        for (n, re) in r.referrals.iter().flatten().enumerate() {
            let e = &re.value;
            let item = ItemFields {
                at: re.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Referral, &item);
            let date = self.date_of(Area::Referral, &item, e.date.as_ref(), "date");
            let to = self
                .required_of(Area::Referral, &item, e.to.as_ref(), "to")
                .and_then(|t| self.text(t, "referral to"));
            let priority = match &e.priority {
                Some(p) => self
                    .choice(
                        Some(p),
                        "referral priority",
                        &[
                            ("routine", "routine"),
                            ("urgent", "urgent"),
                            ("asap", "asap"),
                            ("stat", "stat"),
                        ],
                        "routine",
                    )
                    .map(|p| Some(p.to_owned())),
                None => Some(None),
            };
            let code = self.optional_code(e.code.as_ref());
            if let (Some(date), Some(to), Some(priority), Some(code)) = (date, to, priority, code) {
                record.referrals.push(Referral {
                    meta,
                    date,
                    to,
                    reason: e.reason.clone(),
                    priority,
                    code,
                });
            }
        }
        for (n, d) in r.diary.iter().flatten().enumerate() {
            let e = &d.value;
            let item = ItemFields {
                at: d.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Diary, &item);
            let date = self.date_of(Area::Diary, &item, e.date.as_ref(), "date");
            let text = self
                .required_of(Area::Diary, &item, e.text.as_ref(), "text")
                .and_then(|t| self.text(t, "diary text"));
            let code = self.optional_code(e.code.as_ref());
            let entered = match &e.entered {
                Some(d) => self.c.date(self.file, d).map(Some),
                None => Some(None),
            };
            if entered.is_none() {
                self.failed = true;
            }
            if let (Some(date), Some(text), Some(code), Some(entered)) = (date, text, code, entered)
            {
                record.diary.push(DiaryEntry {
                    meta,
                    date,
                    text,
                    code,
                    entered,
                });
            }
        }
        for (n, doc) in r.documents.iter().flatten().enumerate() {
            let e = &doc.value;
            let item = ItemFields {
                at: doc.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Document, &item);
            let title = self
                .required_of(Area::Document, &item, e.title.as_ref(), "title")
                .and_then(|t| self.text(t, "document title"));
            let kind = self.required_of(Area::Document, &item, e.kind.as_ref(), "type");
            let kind = kind.and_then(|k| self.code(k));
            let date = self.date_of(Area::Document, &item, e.date.as_ref(), "date");
            let (content, guessed) = match (&e.text, &e.file) {
                (Some(t), None) => (
                    Some(bytes::Bytes::from(t.value.clone().into_bytes())),
                    Some("text/plain"),
                ),
                (None, Some(path)) => (self.document_file(path), content_type_for(&path.value)),
                (Some(_), Some(path)) => {
                    self.fail_at(
                        path,
                        format!(
                            "document {} has both text and file; give exactly one",
                            meta.id
                        ),
                    );
                    (None, None)
                }
                (None, None) => {
                    self.fail(
                        doc.referenced,
                        format!(
                            "document {} has neither text nor file; give exactly one",
                            meta.id
                        ),
                    );
                    (None, None)
                }
            };
            let content_type = match &e.content_type {
                Some(ct) => self.content_type(ct),
                None => {
                    if guessed.is_none()
                        && e.text.is_none()
                        && let Some(path) = &e.file
                    {
                        self.fail_at(
                            path,
                            format!(
                                "cannot tell the content type of '{}' from its extension; add content_type",
                                path.value
                            ),
                        );
                    }
                    guessed.map(str::to_owned)
                }
            };
            if let (Some(title), Some(kind), Some(date), Some(content), Some(content_type)) =
                (title, kind, date, content, content_type)
            {
                record.documents.push(Document {
                    meta,
                    title,
                    kind,
                    date,
                    content_type,
                    content,
                });
            }
        }
        (!self.failed).then_some(record)
    }

    fn fail(&mut self, at: Location, message: String) {
        self.failed = true;
        self.c.report(place(self.file, at), message);
    }

    fn fail_at<T>(&mut self, value: &Spanned<T>, message: String) {
        self.fail(value.referenced, message);
    }

    fn generated_id(area: Area, n: usize) -> String {
        format!("{}-{}", area.name(), n + 1)
    }

    fn register_id(&mut self, area: Area, n: usize, at: Location, id: Option<&Spanned<String>>) {
        let (value, here) = match id {
            Some(id) => {
                if self.c.resource_id(self.file, id, "item id").is_none() {
                    self.failed = true;
                }
                (id.value.clone(), place(self.file, id.referenced))
            }
            None => (Self::generated_id(area, n), place(self.file, at)),
        };
        match self.ids.get(&value) {
            Some((first, _)) => {
                let message = format!(
                    "duplicate item id {value} in patient {} (first defined at {})",
                    self.patient,
                    self.c.show(*first)
                );
                self.failed = true;
                self.c.report(here, message);
            }
            None => {
                self.ids.insert(value, (here, area));
            }
        }
    }

    fn meta(&self, area: Area, item: &ItemFields<'_>) -> ItemMeta {
        ItemMeta {
            id: item
                .id
                .map_or_else(|| Self::generated_id(area, item.n), |i| i.value.clone()),
            confidential: item.confidential.unwrap_or(false),
        }
    }

    fn label(area: Area, item: &ItemFields<'_>) -> String {
        let id = item
            .id
            .map_or_else(|| Self::generated_id(area, item.n), |i| i.value.clone());
        format!("{} {id}", area.name())
    }

    fn required_of<'a, T>(
        &mut self,
        area: Area,
        item: &ItemFields<'_>,
        field: Option<&'a Spanned<T>>,
        name: &str,
    ) -> Option<&'a Spanned<T>> {
        if field.is_none() {
            let message = format!("{} has no {name}", Self::label(area, item));
            self.fail(item.at, message);
        }
        field
    }

    fn code_of(
        &mut self,
        area: Area,
        item: &ItemFields<'_>,
        code: Option<&Spanned<CodeEntry>>,
    ) -> Option<Code> {
        self.required_of(area, item, code, "code")
            .and_then(|c| self.code(c))
    }

    fn date_of(
        &mut self,
        area: Area,
        item: &ItemFields<'_>,
        date: Option<&Spanned<String>>,
        name: &str,
    ) -> Option<NaiveDate> {
        let date = self.required_of(area, item, date, name)?;
        let resolved = self.c.date(self.file, date);
        if resolved.is_none() {
            self.failed = true;
        }
        resolved
    }

    fn text(&mut self, value: &Spanned<String>, what: &str) -> Option<String> {
        let text = self.c.non_empty(self.file, value, what);
        if text.is_none() {
            self.failed = true;
        }
        text
    }

    /// A finite number, if one was written (`Some(None)` when absent; `None` when refused).
    fn number(&mut self, value: Option<&Spanned<f64>>) -> Option<Option<f64>> {
        match value {
            Some(v) if !v.value.is_finite() => {
                self.fail_at(v, format!("value {} is not a finite number", v.value));
                None
            }
            Some(v) => Some(Some(v.value)),
            None => Some(None),
        }
    }

    fn choice<T: Copy>(
        &mut self,
        value: Option<&Spanned<String>>,
        what: &str,
        options: &[(&str, T)],
        default: T,
    ) -> Option<T> {
        let Some(value) = value else {
            return Some(default);
        };
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == value.value) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        self.fail_at(
            value,
            format!(
                "{what} '{}' must be one of {}",
                value.value,
                names.join(", ")
            ),
        );
        None
    }

    fn code(&mut self, code: &Spanned<CodeEntry>) -> Option<Code> {
        let c = &code.value;
        let snomed = match &c.snomed {
            Some(s) => match snomed_concept_problem(&s.value) {
                None => Some(s.value.clone()),
                Some(problem) => {
                    self.fail_at(s, format!("SNOMED CT code '{}' {problem}", s.value));
                    None
                }
            },
            None => {
                self.fail_at(code, "code has no snomed".to_owned());
                None
            }
        };
        let display = match &c.display {
            Some(d) => self.text(d, "code display"),
            None => {
                self.fail_at(code, "code has no display".to_owned());
                None
            }
        };
        let (read_code, description_id) =
            super::supplier::code_detail(c, &mut |at, m| self.fail(at, m));
        Some(Code {
            snomed: snomed?,
            display: display?,
            read_code,
            description_id,
        })
    }

    /// An optional code: `Some(None)` when absent, `None` when written but refused.
    fn optional_code(&mut self, code: Option<&Spanned<CodeEntry>>) -> Option<Option<Code>> {
        match code {
            Some(c) => self.code(c).map(Some),
            None => Some(None),
        }
    }

    /// Ids listed in `related` or `entries`, each of which must be another item of this patient.
    fn references(
        &mut self,
        own_id: &str,
        list: Option<&[Spanned<String>]>,
        field: &str,
        is_consultation: bool,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        for r in list.unwrap_or_default() {
            match self.ids.get(&r.value).map(|(_, area)| *area) {
                None => self.fail_at(
                    r,
                    format!(
                        "{field} lists {}, but patient {} has no item with this id",
                        r.value, self.patient
                    ),
                ),
                Some(_) if r.value == own_id => {
                    self.fail_at(r, format!("item {own_id} lists itself in {field}"));
                }
                Some(Area::Consultation) if is_consultation => self.fail_at(
                    r,
                    format!(
                        "consultation entries cannot include another consultation ({})",
                        r.value
                    ),
                ),
                Some(_) => {
                    if !ids.contains(&r.value) {
                        ids.push(r.value.clone());
                    }
                }
            }
        }
        ids
    }

    fn content_type(&mut self, ct: &Spanned<String>) -> Option<String> {
        let v = ct.value.trim();
        let ok = v.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !v.chars().any(|c| c.is_whitespace() && c != ' ')
        });
        if ok {
            Some(v.to_owned())
        } else {
            self.fail_at(
                ct,
                format!(
                    "content_type '{}' is not a media type such as text/plain or application/pdf",
                    ct.value
                ),
            );
            None
        }
    }

    fn document_file(&mut self, path: &Spanned<String>) -> Option<bytes::Bytes> {
        let full = self.dir.join(&path.value);
        // Only regular files: reading a FIFO or a device such as /dev/stdin would block the load.
        if std::fs::metadata(&full).is_ok_and(|m| !m.is_file()) {
            self.fail_at(
                path,
                format!(
                    "document file '{}' ({}) is not a regular file",
                    path.value,
                    full.display()
                ),
            );
            return None;
        }
        let read = std::fs::File::open(&full).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(MAX_DOCUMENT_BYTES + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        });
        match read {
            Ok(bytes) if bytes.len() as u64 > MAX_DOCUMENT_BYTES => {
                self.fail_at(
                    path,
                    format!(
                        "document file '{}' is larger than {} MiB",
                        path.value,
                        MAX_DOCUMENT_BYTES / 1024 / 1024
                    ),
                );
                None
            }
            Ok(bytes) => Some(bytes::Bytes::from(bytes)),
            Err(e) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_owned(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                    _ => e.to_string(),
                };
                self.fail_at(
                    path,
                    format!(
                        "cannot read document file '{}' (looked for {}): {reason}",
                        path.value,
                        full.display()
                    ),
                );
                None
            }
        }
    }
}

/// Where an item starts, and its `id` when written.
type ItemHead<'a> = (Location, Option<&'a Spanned<String>>);

/// The head of every item of one area.
fn heads<'a, T>(
    list: &'a Option<Vec<Spanned<T>>>,
    id: impl Fn(&'a T) -> Option<&'a Spanned<String>>,
) -> Vec<ItemHead<'a>> {
    list.iter()
        .flatten()
        .map(|item| (item.referenced, id(&item.value)))
        .collect()
}

/// The media type a document file's extension implies, when it is one we know.
fn content_type_for(path: &str) -> Option<&'static str> {
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)?;
    Some(match extension.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "xml" => "text/xml",
        "rtf" => "text/rtf",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        _ => return None,
    })
}

/// Why `id` is not a SNOMED CT concept id, or `None` when it is one: 6 to 18 digits without a
/// leading zero, partition `00` (core) or `10` (extension) before the last digit, and a valid
/// Verhoeff check digit. This catches most typos in hand-written codes.
fn snomed_concept_problem(id: &str) -> Option<&'static str> {
    if !(6..=18).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Some("must be 6 to 18 digits");
    }
    if id.starts_with('0') {
        return Some("must not start with 0");
    }
    let partition = &id[id.len() - 3..id.len() - 1];
    if partition != "00" && partition != "10" {
        return Some(
            "is not a concept id (its partition, the 2 digits before the last, is not 00 or 10)",
        );
    }
    if !verhoeff_valid(id) {
        return Some("fails the Verhoeff check digit");
    }
    None
}

fn verhoeff_valid(digits: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut check = 0usize;
    for (i, b) in digits.bytes().rev().enumerate() {
        let digit = usize::from(b.wrapping_sub(b'0') % 10);
        check = usize::from(D[check][usize::from(P[i % 8][digit])]);
    }
    check == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;
    use crate::scenario::load::{load_paths, load_str};

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Two practices (the second without GP Connect) and a practitioner: lines 1 to 12.
    const PRACTICES: &str = "\
practices:
  - ods: B82617
    name: Old Street Surgery
    asid: \"918999198738\"
  - ods: A20047
    name: New Road Practice
    asid: \"200000000123\"
    provider: false
practitioners:
  - id: G8133438
    name: { prefix: Dr, given: [Jane], family: Carter }
    practice: B82617
";

    /// A minimal valid patient: lines 14 to 18 after `with_patients`.
    const PATIENT: &str = concat!(
        "  - nhs_number: \"9690937286\"\n",
        "    name: { given: [Ada], family: Lovelace }\n",
        "    gender: female\n",
        "    birth_date: 1985-03-12\n",
        "    registered_with: B82617\n",
    );

    fn with_patients(patients: &str) -> String {
        format!("{PRACTICES}patients:\n{patients}")
    }

    /// [`PATIENT`] with `record:` holding `areas` (indented by 6).
    fn with_record(areas: &str) -> String {
        with_patients(&format!("{PATIENT}    record:\n{areas}"))
    }

    fn load(text: &str) -> World {
        match load_str("t.yaml", text, start()) {
            Ok(world) => world,
            Err(errors) => panic!("unexpected errors: {errors:#?}"),
        }
    }

    /// Every error as `LINE:COLUMN: message` (the file is always `t.yaml`).
    fn errors(text: &str) -> Vec<String> {
        match load_str("t.yaml", text, start()) {
            Ok(_) => panic!("expected errors in:\n{text}"),
            Err(errors) => errors
                .iter()
                .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
                .collect(),
        }
    }

    fn one_error(text: &str) -> String {
        let errs = errors(text);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        errs.into_iter().next().unwrap()
    }

    // ----- defaults -----

    #[test]
    fn defaults_fill_what_is_not_written() {
        let world = load(&with_patients(PATIENT));
        let practice = world.practice("B82617").unwrap();
        assert!(practice.provider);
        assert_eq!(practice.party_key.as_str(), "B82617-198738");
        assert_eq!(practice.interactions, interactions::DEFAULT_ALLOWED);
        assert!(!world.practice("A20047").unwrap().provider);
        let patient = world.patient("9690937286").unwrap();
        assert_eq!(patient.record_at.as_str(), "B82617");
        assert!(patient.nhs_number_verified);
        assert!(!patient.sensitive && !patient.dissent);
        assert_eq!(patient.deceased, None);
        assert_eq!(patient.usual_gp, None);
        assert_eq!(patient.record.item_count(), 0);
        assert_eq!(patient.birth_date, day(1985, 3, 12));
        assert_eq!(world.start_day, start());
    }

    #[test]
    fn items_get_generated_ids_and_default_statuses() {
        let world = load(&with_record(
            "      problems:
        - { code: { snomed: \"38341003\", display: Hypertension } }
        - { id: p2, code: { snomed: \"195967001\", display: Asthma }, related: [medication-2, problem-1] }
      allergies:
        - { code: { snomed: \"294505008\", display: Allergy to amoxicillin } }
      medications:
        - { id: m1, code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: repeat }
        - { code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -2y, end: -1y, type: acute, confidential: true }
      documents:
        - { title: Letter, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, text: Dear colleague }
",
        ));
        let record = &world.patient("9690937286").unwrap().record;
        assert_eq!(record.problems[0].meta.id, "problem-1");
        assert_eq!(record.problems[0].status, ProblemStatus::Active);
        assert_eq!(record.problems[0].significance, Significance::Minor);
        assert_eq!(record.problems[1].meta.id, "p2");
        assert_eq!(record.problems[1].related, ["medication-2", "problem-1"]);
        assert_eq!(record.allergies[0].meta.id, "allergy-1");
        assert_eq!(record.allergies[0].status, AllergyStatus::Active);
        assert_eq!(record.medications[0].meta.id, "m1");
        assert!(!record.medications[0].meta.confidential);
        assert_eq!(record.medications[1].meta.id, "medication-2");
        assert!(record.medications[1].meta.confidential);
        assert_eq!(record.medications[1].kind, MedicationType::Acute);
        assert_eq!(record.medications[1].end, Some(day(2025, 1, 15)));
        assert_eq!(record.documents[0].meta.id, "document-1");
        assert_eq!(record.documents[0].content_type, "text/plain");
        assert_eq!(&record.documents[0].content[..], b"Dear colleague");
    }

    #[test]
    fn written_values_override_defaults() {
        let text = format!(
            "practices:
  - ods: B82617
    name: Old Street Surgery
    asid: \"918999198738\"
  - ods: GPCA0001
    name: GP Connect Assurance
    asid: \"200000000359\"
    party_key: GPCA0001-123456
    interactions: [\"{}\"]
practitioners:
  - id: G8133438
    name: {{ family: Carter }}
    practice: B82617
    gender: female
patients:
  - nhs_number: \"9690937286\"
    name: {{ family: Lovelace }}
    gender: female
    birth_date: -40y
    registered_with: GPCA0001
    record_at: B82617
    usual_gp: G8133438
    sensitive: true
    nhs_number_verified: false
    dissent: true
    deceased: -2m
    record:
      problems:
        - {{ code: {{ snomed: \"38341003\", display: Hypertension }}, status: inactive, significance: major, end: -1y }}
      allergies:
        - {{ code: {{ snomed: \"294505008\", display: Allergy to amoxicillin }}, status: resolved }}
",
            interactions::MIGRATE_STRUCTURED
        );
        let world = load(&text);
        let gpca = world.practice("GPCA0001").unwrap();
        assert_eq!(gpca.party_key.as_str(), "GPCA0001-123456");
        assert_eq!(gpca.interactions, [interactions::MIGRATE_STRUCTURED]);
        assert_eq!(
            world.practitioner("G8133438").unwrap().gender,
            Some(Gender::Female)
        );
        let p = world.patient("9690937286").unwrap();
        assert_eq!(p.registered_with.as_str(), "GPCA0001");
        assert_eq!(p.record_at.as_str(), "B82617");
        assert_eq!(p.usual_gp.as_deref(), Some("G8133438"));
        assert!(p.sensitive && p.dissent && !p.nhs_number_verified);
        assert_eq!(p.deceased, Some(day(2025, 11, 15)));
        assert_eq!(p.birth_date, day(1986, 1, 15));
        assert_eq!(p.record.problems[0].status, ProblemStatus::Inactive);
        assert_eq!(p.record.problems[0].significance, Significance::Major);
        assert_eq!(p.record.problems[0].end, Some(day(2025, 1, 15)));
        assert_eq!(p.record.allergies[0].status, AllergyStatus::Resolved);
    }

    // ----- merging -----

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scenario-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_merge_and_may_refer_to_each_other() {
        let dir = temp_dir("merge");
        std::fs::write(
            dir.join("b-patients.yaml"),
            format!("name: Patients\npatients:\n{PATIENT}"),
        )
        .unwrap();
        std::fs::write(
            dir.join("a-practices.yml"),
            format!("name: Practices\n{PRACTICES}"),
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "not a scenario").unwrap();
        let world = load_paths(std::slice::from_ref(&dir), start()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(world.name.as_deref(), Some("Practices"));
        assert_eq!(world.practices.len(), 2);
        assert_eq!(world.patients.len(), 1);
    }

    #[test]
    fn duplicates_across_files_name_both_places() {
        let dir = temp_dir("dup");
        let a = dir.join("a.yaml");
        let b = dir.join("b.yaml");
        std::fs::write(&a, format!("{PRACTICES}patients:\n{PATIENT}")).unwrap();
        std::fs::write(&b, format!("{PRACTICES}patients:\n{PATIENT}")).unwrap();
        let errs = load_paths(&[a.clone(), b.clone()], start()).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (a.display().to_string(), b.display().to_string());
        let messages: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                format!("{b}:2:10: duplicate ODS code B82617 (first defined at {a}:2:10)"),
                format!("{b}:4:11: duplicate ASID 918999198738 (first defined at {a}:4:11)"),
                format!("{b}:5:10: duplicate ODS code A20047 (first defined at {a}:5:10)"),
                format!("{b}:7:11: duplicate ASID 200000000123 (first defined at {a}:7:11)"),
                format!("{b}:10:9: duplicate practitioner id G8133438 (first defined at {a}:10:9)"),
                format!("{b}:14:17: duplicate NHS number 9690937286 (first defined at {a}:14:17)"),
            ]
        );
    }

    #[test]
    fn the_same_file_given_twice_is_read_once() {
        let dir = temp_dir("twice");
        let a = dir.join("a.yaml");
        std::fs::write(&a, format!("{PRACTICES}patients:\n{PATIENT}")).unwrap();
        let world = load_paths(&[a.clone(), dir.clone()], start());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(world.unwrap().patients.len(), 1);
    }

    #[test]
    fn a_broken_file_does_not_make_references_to_it_errors() {
        let dir = temp_dir("broken");
        let a = dir.join("a.yaml");
        let b = dir.join("b.yaml");
        std::fs::write(&a, "practices:\n  - ods: B82617\n    bogus: 1\n").unwrap();
        std::fs::write(
            &b,
            format!("patients:\n{}", PATIENT.replace("1985-03-12", "-3x")),
        )
        .unwrap();
        let errs = load_paths(&[a.clone(), b.clone()], start()).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let messages: Vec<String> = errs
            .iter()
            .map(|e| format!("{}:{}", e.line, e.message))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].starts_with("3:unknown field `bogus`"));
        assert!(messages[1].starts_with("5:invalid date '-3x'"));
    }

    // ----- identifiers and formats -----

    #[test]
    fn nhs_numbers_must_pass_modulus_11() {
        let text = with_patients(&PATIENT.replace("9690937286", "9690937287"));
        assert_eq!(
            one_error(&text),
            "14:17: NHS number '9690937287' fails the Modulus 11 check digit"
        );
        let text = with_patients(&PATIENT.replace("9690937286", "969093728"));
        assert_eq!(
            one_error(&text),
            "14:17: NHS number '969093728' must be exactly 10 digits"
        );
    }

    #[test]
    fn practice_identifiers_are_checked() {
        let text = "practices:
  - ods: b82617
    name: Old Street Surgery
    asid: \"91899919873\"
    party_key: B82617806568
  - ods: C81001
    name: Other
    asid: \"918999198739\"
    party_key: B82617-806568
    interactions: [urn:nhs:names:services:gpconnect:fhir:operation:gpc.getcarerecord]
";
        assert_eq!(
            errors(text),
            [
                "2:10: ODS code 'b82617' must be 3 to 10 upper-case letters or digits",
                "4:11: ASID '91899919873' must be exactly 12 digits",
                "5:16: party key 'B82617806568' must be the ODS code, a hyphen and digits (e.g. B82617-806568)",
                "9:16: party key B82617-806568 does not start with the practice's ODS code C81001",
                &format!(
                    "10:20: unknown interaction id 'urn:nhs:names:services:gpconnect:fhir:operation:gpc.getcarerecord'; \
                     known GP Connect interactions: {}",
                    interactions::DEFAULT_ALLOWED.join(", ")
                ),
            ]
        );
    }

    #[test]
    fn written_and_derived_party_keys_must_not_collide() {
        let text = "practices:
  - ods: B82617
    name: One
    asid: \"918999198738\"
  - ods: C81001
    name: Two
    asid: \"918999198739\"
    party_key: B82617-198738
";
        let errs = errors(text);
        assert!(
            errs.iter().any(|e| e.starts_with(
                "8:16: duplicate party key B82617-198738 (first defined at t.yaml:2:5)"
            )),
            "{errs:#?}"
        );
    }

    #[test]
    fn genders_enums_and_ids_are_checked() {
        let text = with_record(
            "      problems:
        - { id: \"p 1\", code: { snomed: \"38341003\", display: Hypertension }, status: resolved, significance: high }
      allergies:
        - { code: { snomed: \"294505008\", display: Allergy to amoxicillin }, status: inactive }
      medications:
        - { code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: regular }
      referrals:
        - { date: -1m, to: Cardiology, priority: soon }
",
        )
        .replace("gender: female", "gender: F");
        assert_eq!(
            errors(&text),
            [
                "16:13: gender 'F' must be one of male, female, other, unknown",
                "21:17: item id 'p 1' must be 1 to 64 letters, digits, '-' or '.' (it becomes a FHIR id)",
                "21:85: problem status 'resolved' must be one of active, inactive",
                "21:109: problem significance 'high' must be one of major, minor",
                "23:85: allergy status 'inactive' must be one of active, resolved",
                "25:95: medication type 'regular' must be one of acute, repeat, repeat-dispensing",
                "27:50: referral priority 'soon' must be one of routine, urgent, asap, stat",
            ]
        );
    }

    #[test]
    fn snomed_codes_must_be_concept_ids() {
        let text = with_record(
            "      observations:
        - { code: { snomed: \"27113002\", display: Body weight }, date: -1m }
        - { code: { snomed: \"2711300\", display: Body weight }, date: -1m }
        - { code: { snomed: \"27113011\", display: Body weight }, date: -1m }
        - { code: { snomed: \"0271130\", display: Body weight }, date: -1m }
        - { code: { snomed: \"weight\", display: Body weight }, date: -1m }
",
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 5, "{errs:#?}");
        assert!(errs[0].ends_with("SNOMED CT code '27113002' fails the Verhoeff check digit"));
        assert!(errs[1].contains("'2711300' is not a concept id"));
        assert!(errs[2].contains("'27113011' is not a concept id"));
        assert!(errs[3].ends_with("'0271130' must not start with 0"));
        assert!(errs[4].ends_with("'weight' must be 6 to 18 digits"));
    }

    #[test]
    fn well_known_snomed_codes_pass_the_check() {
        for code in [
            "38341003",
            "294505008",
            "319283006",
            "195967001",
            "138875005",
            "1037311000000106",
            "27113001",
            "26604007",
            "1022431000000105",
            "823691000000103",
            "886921000000105",
            "933361000000108",
            "717711000000103",
        ] {
            assert_eq!(snomed_concept_problem(code), None, "{code}");
        }
    }

    #[test]
    fn dates_and_numbers_are_checked() {
        let text = with_record(
            "      observations:
        - { code: { snomed: \"27113001\", display: Body weight }, date: last week }
        - { code: { snomed: \"27113001\", display: Body weight }, date: -1m, value: .nan }
",
        )
        .replace("1985-03-12", "1985-02-30");
        assert_eq!(
            errors(&text),
            [
                "17:17: invalid date '1985-02-30': no such day in the calendar; use YYYY-MM-DD or an \
                 offset from the start day such as -3y, -6m, -3w, -10d, +14d or -1y2m",
                "21:71: invalid date 'last week': not a date; use YYYY-MM-DD or an offset from the \
                 start day such as -3y, -6m, -3w, -10d, +14d or -1y2m",
                "22:83: value NaN is not a finite number",
            ]
        );
    }

    #[test]
    fn birth_and_death_dates_must_make_sense() {
        let text = with_patients(&format!(
            "{}    deceased: 1980-01-01\n{}",
            PATIENT,
            PATIENT
                .replace("9690937286", "9690938681")
                .replace("1985-03-12", "+1d")
        ));
        assert_eq!(
            errors(&text),
            [
                "19:15: date of death 1980-01-01 is before the birth date 1985-03-12",
                "23:17: birth date 2026-01-16 is after the start day",
            ]
        );
    }

    // ----- required fields -----

    #[test]
    fn missing_required_fields_are_all_reported_at_their_entry() {
        let text = "practices:
  - ods: B82617
practitioners:
  - name: { given: [Jane] }
patients:
  - nhs_number: \"9690937286\"
    record:
      medications:
        - { code: { snomed: \"319283006\" } }
      documents:
        - { id: d1 }
";
        assert_eq!(
            errors(text),
            [
                "2:5: practice B82617 has no name",
                "2:5: practice B82617 has no asid",
                "4:5: practitioner has no id",
                "4:5: practitioner has no practice",
                "4:11: name has no family",
                "6:5: patient 9690937286 has no name",
                "6:5: patient 9690937286 has no gender",
                "6:5: patient 9690937286 has no birth_date",
                "6:5: patient 9690937286 has no registered_with",
                "9:11: medication medication-1 has no start",
                "9:11: medication medication-1 has no type",
                "9:19: code has no display",
                "11:11: document d1 has no title",
                "11:11: document d1 has no type",
                "11:11: document d1 has no date",
                "11:11: document d1 has neither text nor file; give exactly one",
            ]
        );
    }

    // ----- cross references -----

    #[test]
    fn practices_and_practitioners_must_exist() {
        let text = format!(
            "{PRACTICES}  - id: G1\n    name: {{ family: Smith }}\n    practice: Y11111\npatients:\n{}    record_at: Z99999\n    usual_gp: G0000001\n    record:\n      consultations:\n        - {{ date: -1m, type: Surgery consultation, practitioner: G0000002 }}\n",
            PATIENT.replace("registered_with: B82617", "registered_with: X12345"),
        );
        assert_eq!(
            errors(&text),
            [
                "15:15: practice names Y11111, but no practice has this ODS code",
                "21:22: registered_with names X12345, but no practice has this ODS code",
                "22:16: record_at names Z99999, but no practice has this ODS code",
                "23:15: usual_gp names G0000001, but no practitioner has this id",
                "26:66: practitioner names G0000002, but no practitioner has this id",
            ]
        );
    }

    #[test]
    fn record_at_must_be_a_provider_unless_it_is_the_registered_practice() {
        let text = with_patients(&format!("{PATIENT}    record_at: A20047\n"));
        assert_eq!(
            one_error(&text),
            "19:16: record_at A20047 is not a GP Connect provider (provider: false at t.yaml:5:10)"
        );
        // A patient of the practice without GP Connect: the record stays there.
        let text =
            with_patients(&PATIENT.replace("registered_with: B82617", "registered_with: A20047"));
        let world = load(&text);
        assert_eq!(world.patients[0].record_at.as_str(), "A20047");
    }

    #[test]
    fn related_and_entries_must_name_items_of_the_same_patient() {
        let text = with_patients(&format!(
            "{PATIENT}    record:
      problems:
        - {{ id: p1, code: {{ snomed: \"38341003\", display: Hypertension }}, related: [m9, p1, c1] }}
      consultations:
        - {{ id: c1, date: -1m, type: Surgery consultation, entries: [p1, c2, nope] }}
        - {{ id: c2, date: -2m, type: Surgery consultation }}
{}    record:
      medications:
        - {{ id: m9, code: {{ snomed: \"319283006\", display: Amlodipine 5mg tablets }}, start: -1y, type: repeat }}
",
            PATIENT.replace("9690937286", "9690938681")
        ));
        assert_eq!(
            errors(&text),
            [
                "21:84: related lists m9, but patient 9690937286 has no item with this id",
                "21:88: item p1 lists itself in related",
                "23:74: consultation entries cannot include another consultation (c2)",
                "23:78: entries lists nope, but patient 9690937286 has no item with this id",
            ]
        );
    }

    #[test]
    fn item_ids_are_unique_within_a_patient_including_generated_ones() {
        let text = with_record(
            "      problems:
        - { id: x1, code: { snomed: \"38341003\", display: Hypertension } }
      medications:
        - { id: x1, code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: repeat }
        - { id: medication-1, code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: repeat }
        - { code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: repeat }
",
        );
        // The same ids in another patient are fine.
        let other = PATIENT.replace("9690937286", "9690938681");
        let text = format!("{text}{other}");
        assert_eq!(
            errors(&text),
            ["23:17: duplicate item id x1 in patient 9690937286 (first defined at t.yaml:21:17)",]
        );
        let text = with_record(
            "      medications:
        - { code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: repeat }
        - { id: medication-1, code: { snomed: \"319283006\", display: Amlodipine 5mg tablets }, start: -1y, type: repeat }
",
        );
        assert_eq!(
            one_error(&text),
            "22:17: duplicate item id medication-1 in patient 9690937286 (first defined at t.yaml:21:11)"
        );
    }

    // ----- documents -----

    #[test]
    fn document_files_are_read_relative_to_the_scenario() {
        let dir = temp_dir("docs");
        std::fs::create_dir_all(dir.join("documents")).unwrap();
        std::fs::write(dir.join("documents/letter.pdf"), b"%PDF-1.4 pretend").unwrap();
        let scenario = dir.join("s.yaml");
        std::fs::write(
            &scenario,
            with_record(
                "      documents:
        - { title: Letter, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, file: documents/letter.pdf }
        - { title: Scan, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, file: documents/missing.txt }
        - { title: Both, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, file: documents/letter.pdf, text: hi }
        - { title: Odd, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, file: documents/letter.pdf, content_type: pdf }
",
            ),
        )
        .unwrap();
        let errs = load_paths(std::slice::from_ref(&scenario), start()).unwrap_err();
        let messages: Vec<String> = errs
            .iter()
            .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
            .collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(
            messages[0].starts_with("22:106: cannot read document file 'documents/missing.txt' ("),
            "{messages:#?}"
        );
        assert_eq!(
            messages[1],
            "23:106: document document-3 has both text and file; give exactly one"
        );
        assert!(
            messages[2].starts_with("24:141: content_type 'pdf' is not a media type"),
            "{messages:#?}"
        );

        std::fs::write(
            &scenario,
            with_record(
                "      documents:
        - { title: Letter, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, file: documents/letter.pdf, confidential: true }
",
            ),
        )
        .unwrap();
        let world = load_paths(std::slice::from_ref(&scenario), start());

        std::fs::write(
            &scenario,
            with_record(
                "      documents:
        - { title: Device, type: { snomed: \"823691000000103\", display: Clinical letter }, date: -4m, file: /dev/zero }
",
            ),
        )
        .unwrap();
        let errs = load_paths(&[scenario], start()).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            errs[0].message.ends_with("is not a regular file"),
            "{errs:?}"
        );
        let doc = &world.unwrap().patients[0].record.documents[0];
        assert_eq!(doc.content_type, "application/pdf");
        assert_eq!(&doc.content[..], b"%PDF-1.4 pretend");
        assert!(doc.meta.confidential);
    }

    #[test]
    fn referral_and_diary_codes_and_entered_dates_are_read() {
        let world = load(&with_record(
            "      referrals:
        - { id: r1, date: -1m, to: Eye clinic, code: { snomed: \"314529007\", display: Coded } }
        - { id: r2, date: -1m, to: Eye clinic }
      diary:
        - { id: dy1, date: +2m, text: Review, code: { snomed: \"314529007\", display: Medication review due }, entered: -1w }
        - { id: dy2, date: +2m, text: Review }
",
        ));
        let r = &world.patients[0].record;
        assert_eq!(r.referrals[0].code.as_ref().unwrap().snomed, "314529007");
        assert!(r.referrals[1].code.is_none());
        assert_eq!(
            r.diary[0].code.as_ref().unwrap().display,
            "Medication review due"
        );
        assert_eq!(r.diary[0].entered, Some(day(2026, 1, 8)));
        assert_eq!((r.diary[1].code.as_ref(), r.diary[1].entered), (None, None));
    }

    // ----- robustness -----

    /// A YAML double-quoted scalar holding exactly `s`.
    fn quoted(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// A well-formed file with every checked field set from `v` (9 YAML scalars).
    fn all_fields(v: &[String]) -> String {
        format!(
                "practices:
  - {{ ods: {0}, name: {1}, asid: {2}, party_key: {3} }}
patients:
  - nhs_number: {4}
    name: {{ family: {1} }}
    gender: {5}
    birth_date: {6}
    registered_with: {0}
    record_at: {7}
    deceased: {6}
    record:
      problems: [{{ id: {8}, code: {{ snomed: {2}, display: {1} }}, onset: {6}, status: {5}, related: [{8}, {7}] }}]
      consultations: [{{ id: {7}, date: {6}, type: {1}, practitioner: {8}, entries: [{8}] }}]
      documents: [{{ id: {3}, title: {1}, type: {{ snomed: {4}, display: {1} }}, date: {6}, text: {5} }}]
",
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
            )
    }

    #[test]
    fn the_robustness_template_is_well_formed() {
        let v: Vec<String> = [
            "B82617",
            "Name",
            "918999198738",
            "B82617-198738",
            "9690937286",
            "female",
            "-40y",
            "B82617",
            "p1",
        ]
        .iter()
        .map(|s| quoted(s))
        .collect();
        let text = all_fields(&v)
            .replace("practitioner: \"p1\", ", "")
            .replace("status: \"female\", ", "")
            .replace("related: [\"p1\", \"B82617\"]", "related: []")
            .replace("deceased: \"-40y\"", "deceased: \"-1y\"")
            .replace("entries: [\"p1\"]", "entries: [p1]")
            .replace("snomed: \"918999198738\"", "snomed: \"59621000\"")
            .replace("snomed: \"9690937286\"", "snomed: \"823691000000103\"")
            .replace(
                "consultations: [{ id: \"B82617\"",
                "consultations: [{ id: c1",
            );
        let world = load(&text);
        assert_eq!(world.patients[0].record.item_count(), 3);
    }

    proptest::proptest! {
        /// Whatever values a well-formed file holds, every check runs and none panics.
        #[test]
        fn arbitrary_values_never_panic(values in proptest::collection::vec("\\PC{0,16}|[0-9]{6,18}|[+-][0-9]{1,4}[ymwd]", 9)) {
            let v: Vec<String> = values.iter().map(|s| quoted(s)).collect();
            let text = all_fields(&v);
            if let Ok(world) = load_str("t.yaml", &text, start()) {
                proptest::prop_assert_eq!(world.patients.len(), 1);
            }
        }
    }

    #[test]
    fn quoted_values_round_trip() {
        let world = load(&with_patients(&PATIENT.replace(
            "family: Lovelace",
            &format!("family: {}", quoted("O'Brien \"Jr\" \\ \u{7}")),
        )));
        assert_eq!(world.patients[0].name.family, "O'Brien \"Jr\" \\ \u{7}");
    }

    // ----- ordering -----

    #[test]
    fn errors_are_sorted_by_file_then_position() {
        let dir = temp_dir("sorted");
        let a = dir.join("a.yaml");
        let b = dir.join("b.yaml");
        std::fs::write(&b, "practices:\n  - ods: x\n    name: n\n    asid: \"1\"\n").unwrap();
        std::fs::write(&a, "patients:\n  - nhs_number: \"1\"\n").unwrap();
        let errs = load_paths(&[b.clone(), a.clone()], start()).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let order: Vec<(String, u64)> = errs.iter().map(|e| (e.file.clone(), e.line)).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(
            order.first().map(|o| o.0.clone()),
            Some(a.display().to_string())
        );
    }
}
