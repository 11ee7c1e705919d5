//! Tests of the scenario checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use super::codes::snomed_concept_problem;
use super::*;
use crate::identifiers::interactions;
use crate::scenario::load::{load_paths, load_str};
use crate::scenario::{AllergyStatus, Gender, MedicationType, ProblemStatus, Significance};

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
    std::fs::write(&a, "practices:\n  - ods: B82617\n    name: [\n").unwrap();
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
    assert!(messages[0].starts_with("3:"), "{messages:#?}");
    assert!(messages[1].starts_with("5:invalid date '-3x'"));
}

#[test]
fn a_file_with_unknown_fields_is_still_checked_and_referred_to() {
    let dir = temp_dir("unknown-fields");
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    std::fs::write(&a, "practices:\n  - ods: B82617\n    bogus: 1\n").unwrap();
    let patient = PATIENT
        .replace("1985-03-12", "-3x")
        .replace("registered_with: B82617", "registered_with: B82618");
    std::fs::write(&b, format!("patients:\n{patient}")).unwrap();
    let errs = load_paths(&[a.clone(), b.clone()], start()).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    let messages: Vec<String> = errs
        .iter()
        .map(|e| format!("{}:{}", e.line, e.message))
        .collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(messages[0].starts_with("2:practice B82617 has no name"));
    assert!(messages[1].starts_with("2:practice B82617 has no asid"));
    assert!(messages[2].starts_with("3:unknown field `bogus`"));
    assert!(messages[3].starts_with("5:invalid date '-3x'"));
    assert!(messages[4].starts_with("6:registered_with names B82618, but no practice"));
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
        errs.iter().any(|e| e
            .starts_with("8:16: duplicate party key B82617-198738 (first defined at t.yaml:2:5)")),
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

#[test]
fn a_registration_branch_must_be_a_branch_of_the_practice_holding_the_record() {
    let text = with_patients(&format!(
        "{PATIENT}    registration: {{ type: regular, branch: pannal }}\n"
    ));
    assert_eq!(
        errors(&text),
        [
            "19:44: registration branch 'pannal' is not a branch of B82617, which holds the record (B82617 has no branches); leave it out for the main site"
        ]
    );
    let with_branch = text.replace(
        "    asid: \"918999198738\"\n",
        "    asid: \"918999198738\"\n    branches: [{ id: harrogate, name: Harrogate branch }]\n",
    );
    assert_eq!(
        errors(&with_branch),
        [
            "20:44: registration branch 'pannal' is not a branch of B82617, which holds the record (its branches are harrogate); leave it out for the main site"
        ]
    );
    let right = with_branch.replace("branch: pannal", "branch: harrogate");
    assert_eq!(
        load(&right).patients[0].registration.branch.as_deref(),
        Some("harrogate")
    );
}

#[test]
fn a_practice_quirk_applies_to_every_record_it_holds() {
    let text = with_patients(PATIENT).replace(
        "    asid: \"918999198738\"\n",
        "    asid: \"918999198738\"\n    quirks: [no-asserter, no-specimens]\n",
    );
    let world = load(&text);
    let quirks = world.patients[0].record.quirks;
    assert!(quirks.no_asserter && quirks.no_specimens, "{quirks:?}");
    assert!(!quirks.flat_consultations);
    let wrong = text.replace("no-specimens]", "no-specimen]");
    let found = errors(&wrong);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with("unknown quirk 'no-specimen'; expected one of no-asserter, no-prescriber, no-encounter-recorder, flat-consultations, no-specimens, placeholder-documents"),
        "{found:?}"
    );
}
