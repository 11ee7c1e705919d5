//! Checking parsed scenario files and resolving them into one [`World`]
//! (README.md, "Scenarios").
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

mod codes;
mod dates;
mod demographics;
mod external;
#[cfg(test)]
mod forward_tests;
mod patients;
mod pds_settings;
mod platform;
mod practices;
mod record;
mod record_details;
mod references;
pub(crate) mod supplier;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use chrono::NaiveDate;
use serde_saphyr::{Location, Spanned};

use super::World;
use super::error::ScenarioError;
use super::file::{PatientEntry, ScenarioFile};

/// Receives each problem with where it was written.
pub(crate) type Report<'a> = dyn FnMut(serde_saphyr::Location, String) + 'a;

/// A parsed file, with what is needed to report problems in it and to find its documents.
pub(crate) struct Source {
    /// As given to the loader; used in every message.
    pub name: String,
    /// Where documents' `file:` paths are read from.
    pub documents: Documents,
    pub file: ScenarioFile,
}

/// Where a scenario's documents' `file:` paths are read from.
#[derive(Clone)]
pub(crate) enum Documents {
    /// The folder of the scenario file.
    Folder(PathBuf),
    /// Files built into the binary, by the path the scenario names (the built-in default).
    Embedded(&'static [(&'static str, &'static [u8])]),
}

impl Documents {
    /// Where a key or certificate file the scenario names is read from: beside the scenario
    /// file. A scenario built in, or uploaded to make a world, reads no file of the sandbox's
    /// machine: whoever may make a world must not be able to read the host's files through it.
    pub(crate) fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        match self {
            Documents::Folder(dir) => Ok(dir.join(path)),
            Documents::Embedded(_) => Err(format!(
                "names the file '{path}', but a scenario uploaded to make a world (or built into the sandbox) cannot read files of the sandbox's machine; start the sandbox with --scenario on a file that names it instead"
            )),
        }
    }
}

/// Document files larger than this are refused (the GP Connect migrate limit is 100 MB).
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 100 * 1024 * 1024;

/// What one pass of checking gives: the world (complete only when `problems` is empty), every
/// problem, and the files (by index) whose positions the problems point at, in where they are or
/// in their message ("first defined at FILE:LINE:COLUMN").
pub(crate) struct Checked {
    pub world: World,
    pub problems: Vec<ScenarioError>,
    pub cited: BTreeSet<usize>,
}

/// Checks files in order, as they arrive, and builds the merged world: the one way every
/// scenario is checked, one file or a folder of 100,000 patients. `None` stands for a file that
/// could not be read at all (the loader reports why); `references_complete` is false when some
/// path could not be read before the files began. Then a reference to an unknown practice or
/// practitioner may be to what could not be read, and is not reported.
///
/// Per file: its `name`/`description`, practices, practitioners, then patients, each patient
/// dropped from the file once built, so a large world never holds every parsed file at once.
/// References may point forwards, to a later file, so none is judged before the last file:
/// - a practitioner's `practice`, a patient's `usual_gp` and a consultation's `practitioner`
///   need only the key to exist: an unknown one is noted and settled after the last file, the
///   entry built meanwhile with the value written;
/// - a patient whose `registered_with` or `record_at` names a practice not yet seen waits, as
///   written, until the last file, because its record is checked against what that practice is
///   (provider, supplier, quirks, branches); waiting patients are then checked and put back at
///   their places, so the world's patients are in file order.
///
/// The settings sections (`auth:`, `applications:`, `faults:`, `pds:`) are checked last, across
/// every file.
pub(crate) fn build_world(
    names: Vec<String>,
    start_day: NaiveDate,
    references_complete: bool,
    sources: &mut dyn Iterator<Item = Option<Source>>,
) -> Checked {
    let mut checker = Checker::new(names, start_day, references_complete);
    let mut world = World::empty(start_day);
    let mut kept = Vec::new();
    for (f, source) in sources.enumerate() {
        let Some(mut source) = source else {
            checker.references_complete = false;
            continue;
        };
        name_world(&mut world, &source);
        checker.practices_of(f, &source, &mut world);
        checker.practitioners_of(f, &source, &mut world);
        // Taken out of the file, so they are dropped once built.
        let patients = source.file.patients.take().unwrap_or_default();
        checker.patients_of(f, &source.documents, patients, &mut world);
        kept.push(source);
    }
    checker.all_seen = true;
    checker.settle(&mut world);
    checker.problems.extend(settings(&mut world, &kept));
    Checked {
        world,
        problems: checker.problems,
        cited: checker.cited.into_inner(),
    }
}

/// The world's `name` and `description`: the first that any file gives.
fn name_world(world: &mut World, source: &Source) {
    world.name = world.name.take().or_else(|| source.file.name.clone());
    world.description = world
        .description
        .take()
        .or_else(|| source.file.description.clone());
}

/// The sections that hold for the whole world (`auth:`, `applications:`, `faults:`, `pds:`),
/// built from every file; their problems.
fn settings(world: &mut World, sources: &[Source]) -> Vec<ScenarioError> {
    let (platform, mut problems) = platform::build(sources);
    world.platform = platform;
    let (pds, more) = pds_settings::build(sources);
    world.pds = pds;
    problems.extend(more);
    problems
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
    /// The flavour its Bundles take (`read_code`s of its records are checked against it).
    supplier: crate::scenario::Supplier,
    /// Gaps its provider leaves in every record it holds (`quirks:` of the practice).
    quirks: crate::scenario::Quirks,
}

struct Checker {
    names: Vec<String>,
    start_day: NaiveDate,
    references_complete: bool,
    /// Every file has been seen: a reference unknown now is unknown.
    all_seen: bool,
    problems: Vec<ScenarioError>,
    /// The files whose positions a problem's message names (see [`Checked::cited`]).
    cited: RefCell<BTreeSet<usize>>,
    /// References to practices and practitioners not known when met, settled after the last file.
    pending: Vec<references::Pending>,
    /// Patients naming a practice not known when met, checked after the last file.
    waiting: Vec<references::Waiting>,
    /// Every ODS code written, valid or not, so one bad practice does not also make every
    /// reference to it an error.
    practices: HashMap<String, PracticeInfo>,
    /// The branch ids of each practice, for patients' `registration.branch`.
    branches: HashMap<String, Vec<String>>,
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
    fn new(names: Vec<String>, start_day: NaiveDate, references_complete: bool) -> Self {
        Self {
            names,
            start_day,
            references_complete,
            all_seen: false,
            problems: Vec::new(),
            cited: RefCell::new(BTreeSet::new()),
            pending: Vec::new(),
            waiting: Vec::new(),
            practices: HashMap::new(),
            branches: HashMap::new(),
            asids: HashMap::new(),
            party_keys: HashMap::new(),
            practitioners: HashMap::new(),
            nhs_numbers: HashMap::new(),
        }
    }

    fn report(&mut self, at: Place, message: impl Into<String>) {
        self.cited.borrow_mut().insert(at.file);
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
        self.cited.borrow_mut().insert(at.file);
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

    /// Step one of a file: its practices, checked and added to the world.
    fn practices_of(&mut self, f: usize, source: &Source, world: &mut World) {
        for entry in source.file.practices.iter().flatten() {
            world
                .practices
                .extend(self.practice(f, &source.documents, entry));
        }
    }

    /// Step two: its practitioners, every id registered (for duplicates) before any is built.
    fn practitioners_of(&mut self, f: usize, source: &Source, world: &mut World) {
        for entry in source.file.practitioners.iter().flatten() {
            self.register_practitioner(f, entry);
        }
        for entry in source.file.practitioners.iter().flatten() {
            world.practitioners.extend(self.practitioner(f, entry));
        }
    }

    /// Step three: its patients, each built now, or set to wait for a practice it names that no
    /// file has defined yet.
    fn patients_of(
        &mut self,
        f: usize,
        documents: &Documents,
        patients: Vec<Spanned<PatientEntry>>,
        world: &mut World,
    ) {
        for entry in patients {
            self.register_patient(f, &entry);
            if self.holder_known(&entry.value) {
                world.patients.extend(self.patient(f, documents, &entry));
            } else {
                self.waiting.push(references::Waiting {
                    file: f,
                    at: world.patients.len(),
                    documents: documents.clone(),
                    entry,
                });
            }
        }
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
}
