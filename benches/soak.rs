//! Soak: migrates the default scenario's largest record (9434761077, about 1.2 MB as a Bundle)
//! over loopback HTTP, again and again, and prints the process's resident memory over time,
//! then after `POST /_admin/reset`. The journal keeps cut copies of bodies within
//! `journal_max_bytes`, so RSS should level off once the journal is full instead of growing
//! with every migrate. The baseline is RSS just after start, before any migrate.
//!
//! Run: `cargo bench --bench soak` (release). `SOAK_SECS` (default 120) is the soak's length,
//! `SOAK_CLIENTS` (default 4) the number of clients migrating at once. Linux only (reads
//! `/proc/self/status`). Under `cargo test --all-targets` (no `--bench` argument) it soaks for
//! two seconds as a smoke test. Asserts nothing about memory or time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use spine_sandbox::config::Config;
use spine_sandbox::fhir::gpconnect::migrate_parameters;
use spine_sandbox::identifiers::{OdsCode, interactions};
use spine_sandbox::jwt::MigrateTokenRequest;
use spine_sandbox::{Clock, Sandbox, scenario};

const NHS: &str = "9434761077";

/// Resident memory of this process in MiB (`VmRSS`), 0 where `/proc` is missing.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    let secs = if benching {
        env_number("SOAK_SECS", 120)
    } else {
        2
    };
    rt.block_on(run(
        Duration::from_secs(secs),
        env_number("SOAK_CLIENTS", 4),
    ));
}

async fn run(soak: Duration, clients: u64) {
    let start_day = Utc::now().date_naive();
    let scenario_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.yaml");
    let mut world = scenario::load_paths(&[scenario_path], start_day).unwrap();
    // Registered with the assurance suite's practice, so its migrate request is allowed.
    world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == NHS)
        .unwrap()
        .registered_with = OdsCode::parse("GPCA0001").unwrap();
    let certs = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs,
        ..Config::default()
    };
    let journal_limit = config.journal_max_bytes;
    let running = Sandbox::start(config, world, Clock::system())
        .await
        .unwrap();
    let base = format!("http://{}", running.http_addr);

    let token = MigrateTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: None,
        sensitive: false,
        now: Utc::now(),
    }
    .mint();
    let body = Bytes::from(serde_json::to_vec(&migrate_parameters(NHS, false)).unwrap());
    let url = format!(
        "{base}/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let baseline = rss_mib();
    println!(
        "soak: migrating {NHS} for {} s with {clients} clients; journal_max_bytes {} MiB",
        soak.as_secs(),
        journal_limit / (1024 * 1024)
    );
    println!(
        "{:>6}  {:>9}  {:>9}  {:>13}",
        "t (s)", "migrates", "RSS MiB", "journal MiB"
    );
    println!(
        "{:>6}  {:>9}  {baseline:>9.1}  {:>13}",
        0, 0, "- (baseline)"
    );

    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + soak;
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (client, url, token, body) = (client.clone(), url.clone(), token.clone(), body.clone());
        let (done, bytes) = (done.clone(), bytes.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let resp = client
                    .post(&url)
                    .header("Ssp-TraceID", uuid::Uuid::new_v4().to_string())
                    .header("Ssp-From", "200000000359")
                    .header("Ssp-To", "918999198738")
                    .header("Ssp-InteractionID", interactions::MIGRATE_STRUCTURED)
                    .header("Accept", "application/fhir+json")
                    .header("Content-Type", "application/fhir+json")
                    .header("Authorization", format!("Bearer {token}"))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let got = resp.bytes().await.unwrap();
                bytes.fetch_add(got.len() as u64, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let every = if soak >= Duration::from_secs(30) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    let started = Instant::now();
    let mut peak = baseline;
    while Instant::now() < deadline {
        tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await;
        let rss = rss_mib();
        peak = peak.max(rss);
        let stats = running.shared.journal.stats();
        println!(
            "{:>6.0}  {:>9}  {rss:>9.1}  {:>13.1}",
            started.elapsed().as_secs_f64(),
            done.load(Ordering::Relaxed),
            stats.bytes as f64 / (1024.0 * 1024.0)
        );
    }
    for w in workers {
        w.await.unwrap();
    }
    let migrates = done.load(Ordering::Relaxed);
    let moved = bytes.load(Ordering::Relaxed);
    println!(
        "migrates: {migrates} ({:.1} per second, {:.0} MB of Bundles, {:.2} MB each)",
        migrates as f64 / started.elapsed().as_secs_f64(),
        moved as f64 / 1e6,
        moved as f64 / 1e6 / migrates.max(1) as f64
    );
    let before_reset = rss_mib();
    let reset = client
        .post(format!("{base}/_admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_reset = rss_mib();
    println!(
        "RSS MiB: baseline {baseline:.1}, peak {peak:.1}, before reset {before_reset:.1}, \
         2 s after reset {after_reset:.1}; journal after reset {} bytes",
        running.shared.journal.stats().bytes
    );
    running.shutdown().await;
}
