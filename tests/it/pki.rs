//! The certificates folder as `serve` leaves it (README.md, "Certificates"): made when missing, never
//! overwritten, extended for a new ASID, safe when sandboxes start in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use spine_sandbox::Config;
use spine_sandbox::{
    CA_CERT, CA_KEY, OID_COMMON_NAME, OID_SERIAL_NUMBER, SSP_CERT, read_certificate, system_fqdn,
};
use spine_sandbox::{Clock, Sandbox};

use crate::support::tls_clients::{files_of, ssp_headers};
use crate::support::worlds::{self, CONSUMER_ASID, PROVIDER_ASID, PROVIDER_ODS};
use crate::support::{TestSandbox, temp_dir};

fn contents(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    files
        .iter()
        .map(|f| (f.clone(), std::fs::read(f).unwrap()))
        .collect()
}

async fn start_in(dir: &Path, world: spine_sandbox::World) -> TestSandbox {
    let dir = dir.to_owned();
    TestSandbox::start_world_with(world, Clock::system(), move |c| c.certs_dir = dir).await
}

fn all_asids() -> Vec<String> {
    worlds::practices_only()
        .practices
        .iter()
        .map(|p| p.asid.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn starting_on_an_empty_folder_creates_the_contract_layout() {
    let dir = temp_dir("pki-layout");
    let sandbox = start_in(&dir, worlds::practices_only()).await;
    let asids = all_asids();
    let asid_refs: Vec<&str> = asids.iter().map(String::as_str).collect();
    for file in files_of(&dir, &asid_refs) {
        assert!(file.is_file(), "{} is missing", file.display());
    }
    for practice in &worlds::practices_only().practices {
        let info = read_certificate(&sandbox.layout().client_cert(practice.asid.as_str())).unwrap();
        let fqdn = system_fqdn(practice.ods.as_str(), practice.asid.as_str());
        assert_eq!(
            info.subject_attribute(OID_SERIAL_NUMBER),
            Some(practice.asid.as_str())
        );
        assert_eq!(info.subject_attribute(OID_COMMON_NAME), Some(fqdn.as_str()));
        assert_eq!(info.dns_names, vec![fqdn]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sandbox.layout().ca_key())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "private keys are readable by the owner only"
        );
    }
}

#[tokio::test]
async fn restarting_keeps_every_file_and_a_new_asid_gets_only_its_own() {
    let dir = temp_dir("pki-restart");
    let mut small = worlds::practices_only();
    small.practices.truncate(2);
    let first = start_in(&dir, small).await;
    let kept_asids = [PROVIDER_ASID, worlds::BOTH_ASID];
    let before = contents(&files_of(&dir, &kept_asids));
    first.running.shutdown().await;

    let second = start_in(&dir, worlds::practices_only()).await;
    assert_eq!(contents(&files_of(&dir, &kept_asids)), before);
    assert!(second.layout().client_cert(CONSUMER_ASID).is_file());
    // The new certificate comes from the same CA: SSP accepts it.
    let resp = second
        .ssp_client(CONSUMER_ASID)
        .get(second.ssp_url(&format!(
            "{}/metadata",
            second.endpoint(PROVIDER_ODS, "structured")
        )))
        .headers(ssp_headers(
            CONSUMER_ASID,
            PROVIDER_ASID,
            spine_sandbox::interactions::STRUCTURED_METADATA,
        ))
        .send()
        .await
        .unwrap();
    assert!(
        ![495, 496, 403].contains(&resp.status().as_u16()),
        "{}",
        resp.status()
    );
}

#[tokio::test]
async fn a_missing_ca_key_stops_the_start_when_a_certificate_must_be_issued() {
    let dir = temp_dir("pki-nokey");
    let mut small = worlds::practices_only();
    small.practices.truncate(1);
    start_in(&dir, small).await.running.shutdown().await;
    std::fs::remove_file(dir.join(CA_KEY)).unwrap();

    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: dir.clone(),
        ..Config::default()
    };
    let err = Sandbox::start(config, worlds::practices_only(), Clock::system())
        .await
        .err()
        .expect("the start must fail")
        .to_string();
    assert!(err.contains("ca-key.pem is missing"), "{err}");
    assert!(
        err.contains(&format!("clients/{CONSUMER_ASID}.pem")),
        "{err}"
    );
    assert!(!dir.join(format!("clients/{CONSUMER_ASID}.pem")).exists());
}

#[tokio::test]
async fn sandboxes_starting_together_on_one_folder_share_one_ca() {
    let dir = temp_dir("pki-parallel");
    let (a, b, c, d) = tokio::join!(
        start_in(&dir, worlds::practices_only()),
        start_in(&dir, worlds::practices_only()),
        start_in(&dir, worlds::practices_only()),
        start_in(&dir, worlds::practices_only()),
    );
    let asids = all_asids();
    for sandbox in [&a, &b, &c, &d] {
        for asid in &asids {
            // Every client certificate verifies against the one ca.pem every sandbox loaded.
            let resp = sandbox
                .ssp_client(asid)
                .get(sandbox.ssp_url("nowhere"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                400,
                "a missing Ssp-TraceID, not a certificate problem"
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("clients")).unwrap())
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn the_public_url_host_is_in_the_ssp_certificate() {
    let dir = temp_dir("pki-public");
    let sandbox = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), {
        let dir = dir.clone();
        move |c| {
            c.certs_dir = dir;
            c.public_url = Some("http://sandbox.example.test:8080".into());
        }
    })
    .await;
    let info = read_certificate(&sandbox.layout().ssp_cert()).unwrap();
    assert!(
        info.dns_names.iter().any(|n| n == "sandbox.example.test"),
        "{:?}",
        info.dns_names
    );
}

#[test]
fn client_config_names_the_file_it_cannot_read() {
    let err = spine_sandbox::client_config(
        Path::new("/nowhere/ca.pem"),
        Path::new("/nowhere/clients/1.pem"),
        Path::new("/nowhere/clients/1-key.pem"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nowhere/ca.pem"), "{err}");
}

fn certs_command(out: &Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spine-sandbox"))
        .current_dir(crate::support::repo_path(""))
        .arg("certs")
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("SANDBOX_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn the_certs_command_writes_the_layout_for_the_default_scenario_and_keeps_it_on_a_rerun() {
    let dir = temp_dir("pki-command");
    let first = certs_command(&dir, &["--host", "sandbox.example.test"]);
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("created"), "{stdout}");
    // GPCA0001 and B82617 are in the shipped default scenario.
    let files = files_of(&dir, &[CONSUMER_ASID, PROVIDER_ASID]);
    let before = contents(&files);
    let info = read_certificate(&dir.join(SSP_CERT)).unwrap();
    assert!(info.dns_names.iter().any(|n| n == "sandbox.example.test"));

    let again = certs_command(&dir, &[]);
    assert!(again.status.success(), "{again:?}");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(!stdout.contains("created"), "{stdout}");
    assert!(stdout.contains("Existing files were kept"), "{stdout}");
    assert_eq!(contents(&files), before);
}

#[test]
fn the_certs_command_refuses_a_bad_host_with_exit_64() {
    let dir = temp_dir("pki-badhost");
    let out = certs_command(&dir, &["--host", "not a host"]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'not a host'"), "{stderr}");
    assert!(!dir.join(CA_CERT).exists());
}
