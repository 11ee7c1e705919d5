//! Tests of references to entries of later files, which wait for the last file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::scenario::load::load_paths;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("forward-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `FILE:LINE:COLUMN` of the first `needle` in `text`, written to `file`.
fn at(file: &Path, text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {text}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    format!("{}:{line}:{column}", file.display())
}

/// Loads the files of a folder written from `files` (name, text); the folder is removed.
fn load(
    name: &str,
    files: &[(&str, &str)],
) -> (PathBuf, Result<crate::scenario::World, Vec<String>>) {
    let dir = temp_dir(name);
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let loaded = load_paths(std::slice::from_ref(&dir), start())
        .map_err(|errs| errs.iter().map(ToString::to_string).collect());
    let _ = std::fs::remove_dir_all(&dir);
    (dir, loaded)
}

/// File 1: a practice, a patient of file 2's practice (a TPP-style one with one branch), and a
/// patient of its own practice.
const FIRST: &str = "\
practices:
  - ods: A20047
    name: New Road Practice
    asid: \"200000000123\"
patients:
  - nhs_number: \"9690937286\"
    name: { given: [Ada], family: Lovelace }
    gender: female
    birth_date: 1985-03-12
    registered_with: B82617
    registration: { type: regular, branch: pannal }
    record:
      problems:
        - { code: { snomed: \"38341003\", display: Hypertension, read_code: G20..00 } }
  - nhs_number: \"9434765919\"
    name: { given: [Ann], family: Lee }
    gender: female
    birth_date: 1980-01-01
    registered_with: A20047
";

const SECOND: &str = "\
practices:
  - ods: B82617
    name: Old Street Surgery
    asid: \"918999198738\"
    supplier: tpp
    branches: [{ id: harrogate, name: Harrogate branch }]
patients:
  - nhs_number: \"9000000009\"
    name: { given: [Bo], family: Kerr }
    gender: male
    birth_date: 1970-06-01
    registered_with: A20047
";

#[test]
fn a_patient_of_a_later_files_practice_is_checked_against_that_practice() {
    let (dir, loaded) = load("holder", &[("a.yaml", FIRST), ("b.yaml", SECOND)]);
    let errs = loaded.unwrap_err();
    let a = dir.join("a.yaml");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(
        errs[0],
        format!(
            "{}: registration branch 'pannal' is not a branch of B82617, which holds the record \
             (its branches are harrogate); leave it out for the main site",
            at(&a, FIRST, "pannal")
        )
    );
    assert!(
        errs[1].starts_with(&format!(
            "{}: read_code 'G20..00' is a Read v2 code, but this record is held at a TPP-style practice",
            at(&a, FIRST, "G20..00")
        )),
        "{errs:#?}"
    );
}

#[test]
fn a_waiting_patient_takes_its_place_in_file_order() {
    let first = FIRST
        .replace("branch: pannal", "branch: harrogate")
        .replace("read_code: G20..00", "read_code: XE0Ub");
    let (_, loaded) = load("order", &[("a.yaml", &first), ("b.yaml", SECOND)]);
    let world = loaded.unwrap_or_else(|e| panic!("{e:#?}"));
    let order: Vec<&str> = world
        .patients
        .iter()
        .map(|p| p.nhs_number.as_str())
        .collect();
    assert_eq!(order, ["9690937286", "9434765919", "9000000009"]);
    let ada = &world.patients[0];
    assert_eq!(ada.registration.branch.as_deref(), Some("harrogate"));
    assert_eq!(
        ada.record.problems[0].code.read_code.as_deref(),
        Some("XE0Ub")
    );
}

#[test]
fn a_problem_in_a_json_file_is_shown_at_its_line_and_column() {
    let json = "{\n  \"patients\": [\n    {\"nhs_number\": \"9690937286\", \"name\": {\"family\": \"Lovelace\"},\n     \"gender\": \"female\", \"birth_date\": \"1985-03-12\",\n     \"registered_with\": \"B82617\", \"usual_gp\": \"G0000009\"}\n  ]\n}\n";
    let yaml = "\
practices:
  - ods: B82617
    name: Old Street Surgery
    asid: \"918999198738\"
patients:
  - nhs_number: \"9690937286\"
    name: { family: Lee }
    gender: female
    birth_date: 1980-01-01
    registered_with: B82617
";
    let (dir, loaded) = load("json", &[("a.json", json), ("b.yaml", yaml)]);
    let (a, b) = (dir.join("a.json"), dir.join("b.yaml"));
    assert_eq!(
        loaded.unwrap_err(),
        [
            format!(
                "{}: usual_gp names G0000009, but no practitioner has this id",
                at(&a, json, "\"G0000009\"")
            ),
            format!(
                "{}: duplicate NHS number 9690937286 (first defined at {})",
                at(&b, yaml, "\"9690937286\""),
                at(&a, json, "\"9690937286\"")
            ),
        ]
    );
    // A JSON file with no problem of its own, whose place another file's problem names.
    let json = json.replace(", \"usual_gp\": \"G0000009\"", "");
    let (dir, loaded) = load("json-cited", &[("a.json", &json), ("b.yaml", yaml)]);
    let (a, b) = (dir.join("a.json"), dir.join("b.yaml"));
    assert_eq!(
        loaded.unwrap_err(),
        [format!(
            "{}: duplicate NHS number 9690937286 (first defined at {})",
            at(&b, yaml, "\"9690937286\""),
            at(&a, &json, "\"9690937286\"")
        )]
    );
}

/// File 1 refers to a practice and practitioner that file 2 defines.
const REFERRING: &str = "\
practitioners:
  - id: G0000001
    name: { family: Smith }
    practice: B82617
patients:
  - nhs_number: \"9690937286\"
    name: { given: [Ada], family: Lovelace }
    gender: female
    birth_date: 1985-03-12
    registered_with: B82617
    usual_gp: G0000002
    record:
      consultations:
        - { date: -1m, type: Surgery consultation, practitioner: G0000002 }
";

const DEFINING: &str = "\
practices:
  - ods: B82617
    name: Old Street Surgery
    asid: \"918999198738\"
practitioners:
  - id: G0000002
    name: { family: Jones }
    practice: B82617
";

#[test]
fn practitioners_and_practices_of_later_files_may_be_named() {
    let (_, loaded) = load("later", &[("a.yaml", REFERRING), ("b.yaml", DEFINING)]);
    let world = loaded.unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(world.practitioners.len(), 2);
    assert_eq!(world.practitioners[0].practice.as_str(), "B82617");
    assert_eq!(world.patients[0].usual_gp.as_deref(), Some("G0000002"));
}

#[test]
fn a_name_no_file_defines_is_reported_once_at_its_place() {
    let referring = REFERRING
        .replace("practice: B82617", "practice: Y11111")
        .replace("usual_gp: G0000002", "usual_gp: G0000003")
        .replace("practitioner: G0000002", "practitioner: G0000004");
    let (dir, loaded) = load("unknown", &[("a.yaml", &referring), ("b.yaml", DEFINING)]);
    let a = dir.join("a.yaml");
    assert_eq!(
        loaded.unwrap_err(),
        [
            format!(
                "{}: practice names Y11111, but no practice has this ODS code",
                at(&a, &referring, "Y11111")
            ),
            format!(
                "{}: usual_gp names G0000003, but no practitioner has this id",
                at(&a, &referring, "G0000003")
            ),
            format!(
                "{}: practitioner names G0000004, but no practitioner has this id",
                at(&a, &referring, "G0000004")
            ),
        ]
    );
}
