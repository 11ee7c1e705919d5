//! docs/requests.md cannot rot: every `sh` block runs, in order, as one shell session, and every
//! `python` block as one script, against a sandbox. Each is a consumer written from that page
//! alone, and each must migrate its patient on its first run with a clean conformance report.

use std::process::Command;

use serde_json::Value;

use crate::support::{TestSandbox, repo_path, temp_dir};

/// The fenced blocks of `lang` in the page, in order, joined.
fn blocks(page: &str, lang: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in page.lines() {
        if inside {
            if line.trim_start() == "```" {
                inside = false;
                out.push('\n');
            } else {
                out.push_str(line);
                out.push('\n');
            }
        } else if line.trim() == format!("```{lang}") {
            inside = true;
        }
    }
    assert!(!inside, "an unclosed ```{lang} block");
    out
}

async fn run(
    sandbox: &TestSandbox,
    program: &str,
    args: &[&str],
    script: String,
    patient: &str,
) -> (bool, String) {
    let dir = temp_dir("requests-doc");
    let mut command = Command::new(program);
    command
        .args(args)
        .arg(&script)
        .current_dir(&dir)
        .env("SANDBOX", &sandbox.base)
        .env("SSP", &sandbox.ssp_base)
        .env("CERTS", &sandbox.certs_dir)
        .env("NHS", patient);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn journey_of<'a>(report: &'a Value, patient: &str) -> &'a Value {
    report["consumers"][0]["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["patient"] == patient)
        .unwrap_or_else(|| panic!("no journey for {patient}: {report:#}"))
}

#[tokio::test]
async fn every_example_in_the_requests_page_migrates_on_its_first_run() {
    let page = std::fs::read_to_string(repo_path("docs/requests.md")).unwrap();
    let shell = blocks(&page, "sh");
    let python = blocks(&page, "python");
    assert!(shell.contains("curl") && shell.contains("gpc.migratestructuredrecord"));
    assert!(python.contains("urllib.request"));

    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let by_curl = "9434761018";
    let by_python = "9434761077";
    let (ok, out) = run(
        &sandbox,
        "bash",
        &["-euo", "pipefail", "-c"],
        shell,
        by_curl,
    )
    .await;
    assert!(ok, "the sh examples failed:\n{out}");
    assert!(out.contains("migrate 200"), "{out}");
    let (ok, out) = run(&sandbox, "python3", &["-c"], python, by_python).await;
    assert!(ok, "the python examples failed:\n{out}");
    assert!(out.contains(&format!("record of {by_python}")), "{out}");

    let report: Value = sandbox
        .get("/_admin/conformance?ods=A20047")
        .await
        .json()
        .await
        .unwrap();
    for patient in [by_curl, by_python] {
        let j = journey_of(&report, patient);
        assert_eq!(j["verdict"], "pass", "{j:#}");
        assert!(j["record_sequence"].is_u64(), "{j:#}");
        assert!(j["documents"].as_u64().unwrap() >= 1, "{j:#}");
        let fetched = j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "documents.all-fetched")
            .unwrap();
        assert_eq!(fetched["status"], "pass", "{fetched:#}");
    }
}
