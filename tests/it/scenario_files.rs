//! The shipped scenarios always load, and every broken fixture produces exactly the errors a user
//! must see (README.md, "Commands and options"; README.md, "Scenarios").
//!
//! Each `tests/fixtures/scenarios/invalid/NAME.yaml` (or folder `NAME/`, loaded as a whole) is paired
//! with `NAME.expected`: the full error output, one `FILE:LINE:COLUMN: message` per line. Run with
//! `BLESS=1` to rewrite the `.expected` files from the current output after a deliberate change, then
//! review the diff.

// Test helpers fail loudly by design; the lints are for the service's code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use spine_sandbox::{AllergyStatus, MedicationType, ProblemStatus, World, load_paths};

const SHIPPED: &str = "scenarios";
const INVALID: &str = "tests/fixtures/scenarios/invalid";

/// A fixed start day, so relative dates and the expected outputs never change.
fn start_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).expect("valid date")
}

fn load(paths: &[&str]) -> World {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    match load_paths(&paths, start_day()) {
        Ok(world) => world,
        Err(errors) => {
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{paths:?} should load, got:\n{}", shown.join("\n"))
        }
    }
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("folder exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scenario_loads_cleanly() {
    let files = yaml_files(SHIPPED);
    assert!(files.len() >= 2, "expected default.yaml and training.yaml");
    for file in files {
        let world = load(&[file.to_str().expect("utf-8 path")]);
        assert!(
            !world.practices.is_empty() && !world.patients.is_empty(),
            "{file:?}"
        );
    }
}

#[test]
fn the_shipped_scenarios_folder_loads_as_one_world() {
    let world = load(&[SHIPPED]);
    let single: usize = yaml_files(SHIPPED)
        .iter()
        .map(|f| load(&[f.to_str().expect("utf-8 path")]).patients.len())
        .sum();
    assert_eq!(world.patients.len(), single);
}

#[test]
fn the_default_world_has_the_assurance_setup() {
    let world = load(&["scenarios/default.yaml"]);
    let provider = world.practice("B82617").expect("old practice");
    assert_eq!(provider.asid.as_str(), "918999198738");
    assert!(provider.provider);
    let consumer = world.practice("GPCA0001").expect("assurance consumer");
    assert_eq!(consumer.asid.as_str(), "200000000359");
    assert!(world.practice("A20047").expect("new practice").provider);
    assert!(
        world
            .practices
            .iter()
            .any(|p| !p.provider && p.ods.as_str() != "GPCA0001")
    );
    assert!(
        world.patient("9999999999").is_none(),
        "the not-in-system patient must stay absent"
    );

    let deceased = world.patient("9690938681").expect("patient18");
    assert!(deceased.deceased.is_some());
    assert_eq!(deceased.registered_with.as_str(), "GPCA0001");
    assert_eq!(deceased.record_at.as_str(), "B82617");

    for (nhs, check) in [
        ("9434761026", "sensitive"),
        ("9434761042", "unverified"),
        ("9434761050", "dissent"),
        ("9434761069", "empty"),
    ] {
        let p = world.patient(nhs).expect(nhs);
        let ok = match check {
            "sensitive" => p.sensitive,
            "unverified" => !p.nhs_number_verified,
            "dissent" => p.dissent,
            _ => p.record.item_count() == 0,
        };
        assert!(ok, "{nhs} should be {check}");
    }
    let large = world.patient("9434761077").expect("large record");
    assert!(
        large.record.item_count() >= 300,
        "{}",
        large.record.item_count()
    );
}

#[test]
fn assurance_patient2_has_data_in_every_area() {
    let world = load(&["scenarios/default.yaml"]);
    let p = world.patient("9690937286").expect("patient2");
    assert_eq!(p.registered_with.as_str(), "GPCA0001");
    assert_eq!(p.record_at.as_str(), "B82617");
    let r = &p.record;
    for (area, count) in [
        ("problems", r.problems.len()),
        ("allergies", r.allergies.len()),
        ("medications", r.medications.len()),
        ("immunisations", r.immunisations.len()),
        ("observations", r.observations.len()),
        ("investigations", r.investigations.len()),
        ("consultations", r.consultations.len()),
        ("referrals", r.referrals.len()),
        ("diary", r.diary.len()),
        ("documents", r.documents.len()),
    ] {
        assert!(count > 0, "patient2 has no {area}");
    }
    let statuses: BTreeSet<_> = r
        .problems
        .iter()
        .map(|x| format!("{:?}", x.status))
        .collect();
    assert_eq!(statuses.len(), 2, "active and inactive problems");
    assert!(
        r.problems
            .iter()
            .any(|x| x.status == ProblemStatus::Inactive)
    );
    let significances: BTreeSet<_> = r
        .problems
        .iter()
        .map(|x| format!("{:?}", x.significance))
        .collect();
    assert_eq!(significances.len(), 2, "major and minor problems");
    assert!(
        r.allergies
            .iter()
            .any(|a| a.status == AllergyStatus::Active)
    );
    assert!(
        r.allergies
            .iter()
            .any(|a| a.status == AllergyStatus::Resolved)
    );
    assert!(
        r.medications
            .iter()
            .any(|m| m.kind == MedicationType::Acute)
    );
    assert!(
        r.medications
            .iter()
            .any(|m| m.kind == MedicationType::Repeat)
    );
    assert!(r.observations.iter().any(|o| o.meta.confidential));
    assert!(r.investigations.iter().any(|i| i.results.len() > 1));
    assert!(r.consultations.iter().any(|c| !c.entries.is_empty()));
    assert!(
        r.diary.iter().any(|d| d.date > world.start_day),
        "a future diary entry"
    );

    // A confidential medication linked to a problem, and a problem linked to another problem.
    let confidential: Vec<&str> = r
        .medications
        .iter()
        .filter(|m| m.meta.confidential)
        .map(|m| m.meta.id.as_str())
        .collect();
    assert!(!confidential.is_empty());
    assert!(r.problems.iter().any(|x| {
        x.related
            .iter()
            .any(|id| confidential.contains(&id.as_str()))
    }));
    let problem_ids: Vec<&str> = r.problems.iter().map(|x| x.meta.id.as_str()).collect();
    assert!(r.problems.iter().any(|x| {
        x.related
            .iter()
            .any(|id| problem_ids.contains(&id.as_str()))
    }));

    // The suite migrates the first document: it must not be confidential. One comes from a file.
    assert!(r.documents.len() >= 2);
    assert!(!r.documents[0].meta.confidential);
    assert!(r.documents.iter().all(|d| !d.content.is_empty()));
}

/// Each invalid fixture: a `.yaml` file or a folder, with the `.expected` output beside it.
fn invalid_fixtures() -> Vec<(PathBuf, PathBuf)> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(INVALID).expect("fixtures folder") {
        let path = entry.expect("readable entry").path();
        let is_case = path.is_dir() || path.extension().is_some_and(|e| e == "yaml");
        if is_case {
            let expected = path.with_extension("expected");
            cases.push((path, expected));
        }
    }
    cases.sort();
    cases
}

fn rendered_errors(path: &Path) -> String {
    let path = path.to_str().expect("utf-8 path").replace('\\', "/");
    match load_paths(&[PathBuf::from(&path)], start_day()) {
        Ok(_) => format!("{path} unexpectedly loaded without errors\n"),
        Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect(),
    }
}

#[test]
fn invalid_fixtures_report_exactly_the_expected_errors() {
    let bless = std::env::var_os("BLESS").is_some();
    let cases = invalid_fixtures();
    assert!(cases.len() >= 11, "only {} invalid fixtures", cases.len());
    let mut failures = Vec::new();
    for (case, expected_path) in cases {
        let actual = rendered_errors(&case);
        if bless {
            std::fs::write(&expected_path, &actual).expect("write .expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| format!("<missing {}>", expected_path.display()));
        if actual != expected {
            failures.push(format!(
                "== {}\n-- expected\n{expected}-- actual\n{actual}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_expected_file_has_its_fixture() {
    for entry in std::fs::read_dir(INVALID).expect("fixtures folder") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "expected") {
            let yaml = path.with_extension("yaml");
            let dir = path.with_extension("");
            assert!(
                yaml.is_file() || dir.is_dir(),
                "{} has no fixture",
                path.display()
            );
        }
    }
}

#[test]
fn small_fixture_scenarios_load() {
    for file in yaml_files("tests/fixtures/scenarios") {
        load(&[file.to_str().expect("utf-8 path")]);
    }
}

#[test]
fn the_readme_example_scenario_loads() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```yaml\nname:")
        .expect("a yaml example in the README")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let world = spine_sandbox::load_str(
        "README.md",
        &readme[start..end],
        chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
    )
    .unwrap_or_else(|errors| panic!("{errors:?}"));
    assert_eq!(world.patients.len(), 1);
}

/// Real exports carry batch, manufacturer, site and expiry on over 90% of immunisations; the
/// shipped scenarios do too, the default journey's own patient included.
#[test]
fn shipped_immunisations_carry_the_vaccine_details_as_real_exports_do() {
    for file in ["scenarios/default.yaml", "scenarios/training.yaml"] {
        let world = load(&[file]);
        let all: Vec<_> = world
            .patients
            .iter()
            .flat_map(|p| p.record.immunisations.iter())
            .collect();
        let detailed = all
            .iter()
            .filter(|i| {
                i.batch.is_some()
                    && i.manufacturer.is_some()
                    && i.site.is_some()
                    && i.expiry.is_some_and(|e| e > i.date)
            })
            .count();
        assert!(
            detailed * 100 >= all.len() * 90,
            "{file}: {detailed} of {}",
            all.len()
        );
    }
    let world = load(&["scenarios/default.yaml"]);
    let journey_patient = world
        .patients
        .iter()
        .find(|p| p.nhs_number.as_str() == "9434761018")
        .unwrap();
    assert!(
        journey_patient
            .record
            .immunisations
            .iter()
            .all(|i| i.batch.is_some() && i.manufacturer.is_some()),
        "the default journey's patient"
    );
}
