//! Tests of the real `spine-sandbox` binary: the listening line, flags and environment, exit codes,
//! and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{repo_path, temp_dir};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_spine-sandbox");

pub(crate) fn command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(repo_path(""))
        .env_remove("SANDBOX_SCENARIO")
        .env_remove("SANDBOX_HTTP_ADDR")
        .env_remove("SANDBOX_SSP_ADDR")
        .env_remove("SANDBOX_PUBLIC_URL")
        .env_remove("SANDBOX_CERTS_DIR")
        .env_remove("SANDBOX_CONFIG")
        .env("SANDBOX_LOG", "warn");
    cmd
}

/// Starts `serve` and returns the child with the first stdout line it printed.
pub(crate) fn start(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (child, line.trim_end().to_owned())
}

pub(crate) fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the sandbox did not stop within 10 s of SIGTERM");
}

pub(crate) fn parse_listening(line: &str) -> (String, String) {
    let rest = line
        .strip_prefix("listening http=")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    let (http, ssp) = rest.split_once(" ssp=").unwrap();
    (http.to_owned(), ssp.to_owned())
}

#[test]
fn serve_prints_the_listening_line_with_real_ports_and_stops_on_sigterm() {
    let certs = temp_dir("bin-certs");
    let (mut child, line) = start(command().args([
        "serve",
        "--http-addr",
        "127.0.0.1:0",
        "--ssp-addr",
        "127.0.0.1:0",
        "--certs-dir",
        certs.to_str().unwrap(),
    ]));
    let (http, ssp) = parse_listening(&line);
    assert!(http.starts_with("http://127.0.0.1:"), "{line}");
    assert!(ssp.starts_with("https://127.0.0.1:"), "{line}");
    assert!(!http.ends_with(":0") && !ssp.ends_with(":0"), "{line}");
    let health = Command::new(BIN)
        .args(["healthcheck", "--url", &format!("{http}/healthz")])
        .status()
        .unwrap();
    assert!(health.success());
    let status = terminate(&mut child);
    assert_eq!(status.code(), Some(0));
    let after = Command::new(BIN)
        .args(["healthcheck", "--url", &format!("{http}/healthz")])
        .status()
        .unwrap();
    assert_eq!(after.code(), Some(1));
}

#[test]
fn flags_beat_environment() {
    let certs = temp_dir("bin-certs");
    let (mut child, line) = start(
        command()
            .env("SANDBOX_HTTP_ADDR", "127.0.0.2:1")
            .env("SANDBOX_SSP_ADDR", "127.0.0.1:0")
            .env("SANDBOX_CERTS_DIR", certs.to_str().unwrap())
            .args(["--http-addr", "127.0.0.1:0"]),
    );
    let (http, ssp) = parse_listening(&line);
    assert!(http.starts_with("http://127.0.0.1:"), "{line}");
    assert!(ssp.starts_with("https://127.0.0.1:"), "{line}");
    assert_eq!(terminate(&mut child).code(), Some(0));
}

#[test]
fn environment_beats_config_file() {
    let dir = temp_dir("bin-config");
    let file = dir.join("sandbox.toml");
    std::fs::write(
        &file,
        format!(
            "http_addr = \"127.0.0.1:0\"\nssp_addr = \"127.0.0.2:1\"\ncerts_dir = \"{}\"\n",
            dir.join("certs").display()
        ),
    )
    .unwrap();
    let (mut child, line) = start(
        command()
            .env("SANDBOX_SSP_ADDR", "127.0.0.1:0")
            .args(["--config", file.to_str().unwrap()]),
    );
    let (_, ssp) = parse_listening(&line);
    assert!(ssp.starts_with("https://127.0.0.1:"), "{line}");
    assert!(dir.join("certs").join("ca.pem").exists());
    assert_eq!(terminate(&mut child).code(), Some(0));
}

#[test]
fn bad_flag_exits_64() {
    let out = command()
        .args(["serve", "--http-addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--http-addr"));
}

#[test]
fn bad_environment_value_exits_64_naming_it() {
    let out = command()
        .env("SANDBOX_SSP_ADDR", "nowhere")
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ssp_addr"), "{stderr}");
}

#[test]
fn broken_scenario_exits_64_with_file_line_column() {
    let dir = temp_dir("bin-bad-scenario");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "practices:\n  - ods: B82617\n    name: Old Street Surgery\n    asid: \"12345\"\n",
    )
    .unwrap();
    for args in [
        vec!["check", file.to_str().unwrap()],
        vec![
            "serve",
            "--scenario",
            file.to_str().unwrap(),
            "--http-addr",
            "127.0.0.1:0",
            "--ssp-addr",
            "127.0.0.1:0",
        ],
    ] {
        let out = command().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = format!("{}:4:11:", file.display());
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
        assert!(stderr.contains("12345"), "{stderr}");
    }
}

#[test]
fn check_accepts_every_shipped_scenario() {
    for entry in std::fs::read_dir(repo_path("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = command().arg("check").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
