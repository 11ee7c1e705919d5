//! What a new user meets in the first hour, through the real binary: the built-in world when
//! started outside the repository, `certs` and `scenario` without any file, and the journey with
//! sensitive information.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::binary::{BIN, command, parse_listening, start, terminate};
use crate::support::repo_path;

/// An empty folder outside the repository (no `scenarios/` beside it).
fn outside_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("spine-sandbox-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    command().current_dir(dir).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the journey against a sandbox started by `serve` in `dir`; returns its exit code and JSON.
fn journey(dir: &Path, serve: &mut Command, args: &[&str]) -> (Option<i32>, Value, String) {
    let (mut child, line) = start(serve);
    let (http, ssp) = parse_listening(&line);
    let certs = dir.join("certs");
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(["journey", "--json", "--sandbox", &http, "--ssp", &ssp])
        .arg("--certs-dir")
        .arg(&certs)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(terminate(&mut child).code(), Some(0));
    let mut log = String::new();
    if let Some(mut err) = child.stderr.take() {
        std::io::Read::read_to_string(&mut err, &mut log).unwrap();
    }
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("journey printed no JSON ({e}): {}", stdout(&out)));
    (out.status.code(), report, log)
}

fn serve_args(cmd: &mut Command, dir: &Path) {
    cmd.current_dir(dir)
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--ssp-addr",
            "127.0.0.1:0",
        ])
        .arg("--certs-dir")
        .arg(dir.join("certs"));
}

#[test]
fn a_sensitive_journey_fetches_every_document_including_the_confidential_letter() {
    let dir = outside_dir("sensitive");
    let mut serve = command();
    serve_args(&mut serve, &dir);
    serve
        .arg("--scenario")
        .arg(repo_path("scenarios/default.yaml"));
    let (code, report, _) = journey(
        &dir,
        &mut serve,
        &[
            "--patient",
            "9690937286",
            "--as",
            "A20047",
            "--from",
            "B82617",
            "--sensitive",
        ],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let record = &report["record"];
    assert_eq!(record["lists_with_withheld_items"], serde_json::json!([]));
    let referenced = record["documents_referenced"].as_u64().unwrap();
    assert!(referenced >= 3, "{record:#}");
    assert_eq!(record["documents_fetched"].as_u64(), Some(referenced));
}

#[test]
fn serve_outside_the_repository_runs_the_built_in_world_and_says_so() {
    let dir = outside_dir("anywhere");
    let mut serve = command();
    serve_args(&mut serve, &dir);
    serve.env("SANDBOX_LOG", "info");
    let (code, report, log) = journey(
        &dir,
        &mut serve,
        &[
            "--patient",
            "9690937286",
            "--as",
            "A20047",
            "--from",
            "B82617",
        ],
    );
    assert_eq!(code, Some(0), "{report:#}\n{log}");
    let built_in: Vec<&str> = log.lines().filter(|l| l.contains("built-in")).collect();
    assert_eq!(built_in.len(), 1, "{log}");
    assert!(built_in[0].contains("scenarios/default.yaml"), "{log}");
    // The documents came from the copy inside the binary.
    let record = &report["record"];
    assert!(
        record["documents_fetched"].as_u64().unwrap() >= 2,
        "{record:#}"
    );
    assert!(record["document_bytes"].as_u64().unwrap() > 0, "{record:#}");
}

#[test]
fn certs_needs_no_scenario_file() {
    let dir = outside_dir("certs");
    let out = run_in(&dir, &["certs", "--out", "pki"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for asid in ["918999198738", "200000001012", "200000000359"] {
        let pem = dir.join("pki/clients").join(format!("{asid}.pem"));
        assert!(pem.exists(), "{} missing: {}", pem.display(), stdout(&out));
    }
    assert!(dir.join("pki/ca.pem").exists());
}

#[test]
fn the_default_scenario_can_be_printed_and_written_out_to_start_from() {
    let dir = outside_dir("scenario");
    let printed = run_in(&dir, &["scenario", "--print-default"]);
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    let shipped = std::fs::read_to_string(repo_path("scenarios/default.yaml")).unwrap();
    assert_eq!(stdout(&printed), shipped);

    let written = run_in(&dir, &["scenario", "--write-default", "mine"]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    assert!(
        stdout(&written).contains("documents"),
        "{}",
        stdout(&written)
    );
    let letter = "documents/discharge-summary.txt";
    assert_eq!(
        std::fs::read(dir.join("mine").join(letter)).unwrap(),
        std::fs::read(repo_path("scenarios").join(letter)).unwrap()
    );
    let check = run_in(&dir, &["check", "mine/default.yaml"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));

    // Nothing is overwritten.
    let again = run_in(&dir, &["scenario", "--write-default", "mine"]);
    assert_eq!(again.status.code(), Some(64));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let neither = run_in(&dir, &["scenario"]);
    assert_eq!(neither.status.code(), Some(64));
}

#[test]
fn printing_the_default_into_a_pipe_closed_early_is_no_failure() {
    let dir = outside_dir("pipe");
    let mut child = Command::new(BIN)
        .args(["scenario", "--print-default"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -1`: read nothing and close the pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
