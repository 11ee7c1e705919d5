//! What a consumer team meets first: the start-up banner on stderr, and certificates that
//! cannot trap (a copy of the running sandbox's, or a loud note that a new CA is new).

use std::io::{BufRead, BufReader};
use std::process::Command;

use crate::binary::{BIN, command, parse_listening, start, terminate};
use crate::support::{TestSandbox, temp_dir};

#[test]
fn serve_names_the_page_the_certificates_and_every_practices_asid_on_stderr() {
    let certs = temp_dir("banner-certs");
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
    let stderr = child.stderr.take().unwrap();
    let mut banner = String::new();
    for l in BufReader::new(stderr).lines().take(200) {
        let l = l.unwrap();
        banner.push_str(&l);
        banner.push('\n');
        if l.contains("grade a consumer") {
            break;
        }
    }
    terminate(&mut child);
    assert!(
        banner.contains(&format!("web page      {http}/")),
        "{banner}"
    );
    assert!(banner.contains(&format!("SSP           {ssp}")), "{banner}");
    let dir = std::fs::canonicalize(&certs).unwrap();
    assert!(
        banner.contains(&format!("certificates  {}", dir.display())),
        "{banner}"
    );
    assert!(banner.contains("B82617    918999198738"), "{banner}");
    assert!(banner.contains("A20047    200000001012"), "{banner}");
    assert!(
        banner.contains(&format!(
            "spine-sandbox conformance --as <ODS> --sandbox {http}"
        )),
        "{banner}"
    );
}

fn certs_command(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("certs")
        .args(args)
        .env("SANDBOX_LOG", "warn")
        .current_dir(crate::support::repo_path(""))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn certs_from_a_running_sandbox_are_the_ones_its_ssp_trusts() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let out = temp_dir("certs-copy");
    let args = [
        "--out".to_owned(),
        out.display().to_string(),
        "--from-sandbox".to_owned(),
        sandbox.base.clone(),
    ];
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        certs_command(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert!(ok, "{stdout}{stderr}");
    for file in [
        "ca.pem",
        "clients/200000001012.pem",
        "clients/200000001012-key.pem",
    ] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(sandbox.certs_dir.join(file)).unwrap(),
            "{file}"
        );
    }
    assert!(
        !out.join("ca-key.pem").exists(),
        "the CA's key stays with the sandbox"
    );
    // The copy works against SSP.
    let copied = crate::support::tls_clients::reqwest_with(
        spine_sandbox::client_config(
            &out.join("ca.pem"),
            &out.join("clients/200000001012.pem"),
            &out.join("clients/200000001012-key.pem"),
        )
        .unwrap(),
    );
    let resp = sandbox.ssp_metadata(&copied).await;
    assert_ne!(resp.status().as_u16(), 495);
}

#[test]
fn a_fresh_pki_says_loudly_that_its_ca_is_new() {
    let out = temp_dir("certs-fresh");
    let (ok, stdout, stderr) = certs_command(&["--out", out.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stderr.contains("is a NEW certificate authority"),
        "{stderr}"
    );
    assert!(stderr.contains("--from-sandbox"), "{stderr}");
    // Run again: nothing new, nothing to warn about.
    let (ok, _, stderr) = certs_command(&["--out", out.to_str().unwrap()]);
    assert!(ok);
    assert!(!stderr.contains("NEW certificate authority"), "{stderr}");
}

#[tokio::test]
async fn the_commands_carry_the_admin_key_when_the_sandbox_asks_for_one() {
    let key = "consumer-team-admin-key-1";
    let sandbox = TestSandbox::start_with(
        "scenarios/default.yaml",
        spine_sandbox::Clock::system(),
        |c| c.admin_key = Some(key.to_owned()),
    )
    .await;
    spine_sandbox::run_journey(&sandbox.journey_options("9434761018", "A20047"), |_| {}).await;
    let base = sandbox.base.clone();
    let out = temp_dir("certs-keyed");
    let run = move |args: Vec<String>| {
        let out = Command::new(BIN)
            .args(&args)
            .env("SANDBOX_LOG", "warn")
            .env_remove("SANDBOX_ADMIN_KEY")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let conformance = |extra: &[&str]| {
        let mut a: Vec<String> = ["conformance", "--as", "A20047", "--sandbox", &base]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let without = conformance(&[]);
    let with = conformance(&["--admin-key", key]);
    let certs = vec![
        "certs".to_owned(),
        "--out".to_owned(),
        out.display().to_string(),
        "--from-sandbox".to_owned(),
        base.clone(),
        "--admin-key".to_owned(),
        key.to_owned(),
    ];
    let (refused, ok, copied) =
        tokio::task::spawn_blocking(move || (run(without), run(with), run(certs)))
            .await
            .unwrap();
    assert_eq!(refused.0, 1, "{}", refused.1);
    assert!(refused.1.contains("--admin-key"), "{}", refused.1);
    assert_eq!(ok.0, 0, "{}", ok.1);
    assert_eq!(copied.0, 0, "{}", copied.1);
    assert!(out.join("ca.pem").exists());
}
