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
