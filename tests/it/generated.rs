//! A generated world (`spine-sandbox generate`) end to end: written by the binary, passed by
//! `check`, served, one patient moved by the built-in journey, and reset.

use std::process::Command;

use serde_json::Value;
use spine_sandbox::load_paths;
use spine_sandbox::{JourneyOutcome, run_journey};

use crate::support::{TestSandbox, start_day, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_spine-sandbox");

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_generated_world_passes_check_serves_and_migrates() {
    let dir = temp_dir("generated").join("world");
    let out = dir.to_str().unwrap();
    let (ok, stdout, stderr) = run(&[
        "generate",
        "--patients",
        "200",
        "--seed",
        "42",
        "--out",
        out,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("wrote 200 patients"), "{stdout}");
    // Patients in JSON by default (JSON is YAML too), practices in YAML.
    assert!(dir.join("patients-001.json").is_file());
    assert!(dir.join("00-practices.yaml").is_file());
    let (ok, stdout, stderr) = run(&["check", out]);
    assert!(ok, "check refused the generated world:\n{stderr}");
    assert!(stdout.contains("200 patients"), "{stdout}");

    // Generating into the same folder again is refused: the folder would hold two worlds.
    let (ok, _, stderr) = run(&["generate", "--patients", "5", "--out", out]);
    assert!(!ok);
    assert!(stderr.contains("already holds"), "{stderr}");

    let world = load_paths(std::slice::from_ref(&dir), start_day()).unwrap();
    let provider = |ods: &str| world.practice(ods).is_some_and(|p| p.provider);
    let patient = world
        .patients
        .iter()
        .find(|p| {
            p.registered_with == p.record_at
                && provider(p.record_at.as_str())
                && !p.sensitive
                && !p.dissent
                && p.deceased.is_none()
                && p.nhs_number_verified
                && !p.record.problems.is_empty()
        })
        .unwrap()
        .clone();
    let new_practice = world
        .practices
        .iter()
        .find(|p| p.provider && p.ods != patient.record_at)
        .unwrap()
        .ods
        .clone();
    let sandbox = TestSandbox::start_world(world).await;

    // PDS serves every generated patient.
    let nhs = patient.nhs_number.as_str();
    let read = |nhs: String| {
        let sandbox = &sandbox;
        async move {
            sandbox
                .http
                .get(sandbox.url(&format!("/personal-demographics/FHIR/R4/Patient/{nhs}")))
                .header("x-request-id", uuid::Uuid::new_v4().to_string())
                .send()
                .await
                .unwrap()
        }
    };
    let pds: Value = read(nhs.to_owned()).await.json().await.unwrap();
    assert_eq!(
        pds["generalPractitioner"][0]["identifier"]["value"],
        patient.record_at.as_str()
    );

    let report = run_journey(&sandbox.journey_options(nhs, new_practice.as_str()), |_| {}).await;
    assert_eq!(report.outcome, JourneyOutcome::Received, "{report:#?}");
    let record = report.record.unwrap();
    assert!(record.clinical_areas.get("Problems").copied().unwrap_or(0) >= 1);

    // The registration change is undone by a reset.
    let pds: Value = read(nhs.to_owned()).await.json().await.unwrap();
    assert_eq!(
        pds["generalPractitioner"][0]["identifier"]["value"],
        new_practice.as_str()
    );
    assert_eq!(sandbox.reset().await.as_u16(), 204);
    let pds: Value = read(nhs.to_owned()).await.json().await.unwrap();
    assert_eq!(
        pds["generalPractitioner"][0]["identifier"]["value"],
        patient.record_at.as_str()
    );
    assert_eq!(pds["meta"]["versionId"], "1");
}

#[test]
fn an_oversized_file_names_the_setting_and_what_to_do() {
    let dir = temp_dir("generated-budget");
    let out = dir.join("world");
    let (ok, _, stderr) = run(&[
        "generate",
        "--patients",
        "30",
        "--format",
        "yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let file = out.join("patients-001.yaml");
    let output = Command::new(BIN)
        .args(["check", file.to_str().unwrap()])
        .env("SANDBOX_SCENARIO_MAX_YAML_NODES", "500")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("more than 500 YAML nodes")
            && stderr.contains("scenario_max_yaml_nodes")
            && stderr.contains("split its patients over several files"),
        "{stderr}"
    );
}
