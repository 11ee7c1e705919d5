//! Large worlds: start time, memory and reset of 10,000 and 100,000 generated patients.
//!
//! `cargo bench --bench world_scale` generates each world with `spine-sandbox generate`'s
//! generator (patients in JSON, its default; the first size also in YAML) into a temporary folder and, in a fresh child process per size (so the RSS of one
//! does not include the other), measures:
//!
//! - load: parse and validate the folder, then start the sandbox (PDS records built);
//! - the RSS after start (`VmRSS` of `/proc/self/status`);
//! - `POST /_admin/reset` end to end, while another task polls `/healthz` back to back and
//!   keeps the slowest answer it saw during the reset (reset must not stall other requests);
//! - a PDS read and a migrate of one patient after the reset, to show the world still serves.
//!
//! The shipped default scenario (11 patients) runs first as the baseline of the same run.
//! `WORLD_SCALE_SIZES` (comma-separated, default `10000,100000`) changes the sizes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use spine_sandbox::Config;
use spine_sandbox::{Clock, Sandbox};
use spine_sandbox::{WorldFormat, generate_world, load_paths, write_world};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--world") {
        let path = PathBuf::from(&args[i + 1]);
        let label = args[i + 2].clone();
        measure(&path, &label);
        return;
    }
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` a small world is a smoke run.
    let default_sizes = if args.iter().any(|a| a == "--bench") {
        "10000,100000"
    } else {
        "200"
    };
    let sizes: Vec<usize> = std::env::var("WORLD_SCALE_SIZES")
        .unwrap_or_else(|_| default_sizes.to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10} {:>16}",
        "world", "patients", "load s", "RSS MB", "reset s", "worst healthz ms"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    child(&root.join("scenarios/default.yaml"), "default (baseline)");
    for (k, n) in sizes.into_iter().enumerate() {
        // Each size as `generate` writes it (patients in JSON); the first also in YAML, which
        // the YAML parser reads several times slower.
        let formats: &[bool] = if k == 0 { &[true, false] } else { &[true] };
        for &json in formats {
            let format = if json { "json" } else { "yaml" };
            let dir = std::env::temp_dir()
                .join(format!("world-scale-{n}-{format}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let started = Instant::now();
            let files = generate_world(n, 1)
                .files(if json {
                    WorldFormat::Json
                } else {
                    WorldFormat::Yaml
                })
                .unwrap();
            write_world(&dir, &files).unwrap();
            eprintln!(
                "generated {n} patients ({format}) in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            child(&dir, &format!("generated {n} {format}"));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Runs this binary again on one world, so each measurement starts from a fresh process.
fn child(path: &Path, label: &str) {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--world")
        .arg(path)
        .arg(label)
        .status()
        .unwrap();
    assert!(status.success(), "{label}: the measuring process failed");
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn measure(path: &Path, label: &str) {
    // reqwest is built without a crypto provider; the crate uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let certs = std::env::temp_dir().join(format!("world-scale-certs-{}", std::process::id()));
        let config = Config {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            ssp_addr: "127.0.0.1:0".parse().unwrap(),
            certs_dir: certs.clone(),
            ..Config::default()
        };
        let started = Instant::now();
        let world = load_paths(&[path.to_path_buf()], chrono::Local::now().date_naive())
            .unwrap_or_else(|e| panic!("{label}: {}", e[0]));
        let patients = world.patients.len();
        let some_patient = world
            .patients
            .iter()
            .find(|p| !p.sensitive && p.deceased.is_none() && !p.dissent && p.nhs_number_verified)
            .map(|p| p.nhs_number.as_str().to_owned())
            .unwrap();
        let sandbox = Sandbox::start(config, world, Clock::system())
            .await
            .unwrap();
        let load = started.elapsed();
        let rss = rss_mb();

        let base = format!("http://{}", sandbox.http_addr);
        let client = reqwest::Client::new();
        // Warm the connection pool so the first poll does not count a connect.
        client.get(format!("{base}/healthz")).send().await.unwrap();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let poller = {
            let client = client.clone();
            let url = format!("{base}/healthz");
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut polls = 0u32;
                while !*stop_rx.borrow() {
                    let t = Instant::now();
                    let resp = client.get(&url).send().await.unwrap();
                    assert!(resp.status().is_success());
                    worst = worst.max(t.elapsed());
                    polls += 1;
                }
                (worst, polls)
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        let resp = client
            .post(format!("{base}/_admin/reset"))
            .send()
            .await
            .unwrap();
        let reset = t.elapsed();
        assert_eq!(resp.status().as_u16(), 204, "{label}: reset failed");
        stop_tx.send(true).unwrap();
        let (worst, polls) = poller.await.unwrap();

        let read = client
            .get(format!(
                "{base}/personal-demographics/FHIR/R4/Patient/{some_patient}"
            ))
            .header("X-Request-ID", "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f")
            .send()
            .await
            .unwrap();
        assert_eq!(read.status().as_u16(), 200, "{label}: PDS read after reset");

        println!(
            "{:<22} {:>10} {:>10.2} {:>10.0} {:>10.2} {:>16.1}",
            label,
            patients,
            load.as_secs_f64(),
            rss,
            reset.as_secs_f64(),
            worst.as_secs_f64() * 1000.0
        );
        eprintln!("  ({polls} /healthz polls during the reset)");
        sandbox.shutdown().await;
        let _ = std::fs::remove_dir_all(&certs);
    });
}
