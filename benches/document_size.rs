//! A document as large as real ones, through SSP: GP Connect 1.6.2 sets no size limit for
//! migrated documents and says they may approach 250 MB. Patient 9690937286's first document is
//! made a generated 250 MB document (scenario `size: 250MB`); the assurance consumer fetches it
//! through SSP (mutual TLS) and reads the Binary frame by frame, dropping each. Prints the RSS
//! before (idle, after a warm-up fetch) and its peak during the transfer, sampled every 100 ms;
//! the goal is a peak under 100 MiB above idle.
//!
//! `cargo bench --bench document_size`; `BENCH_DOCUMENT_MB` (default 250). Without `--bench` (as
//! under `cargo test --all-targets`) it moves 8 MB as a smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod wire;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use spine_sandbox::Config;
use spine_sandbox::Layout;
use spine_sandbox::binary_id;
use spine_sandbox::interactions;
use spine_sandbox::load_paths;
use spine_sandbox::{Clock, Sandbox};
use spine_sandbox::{MigrateTokenRequest, PractitionerClaim};

use wire::{BenchClient, RssSampler};

const PATIENT: &str = "9690937286";
const PROVIDER_ODS: &str = "B82617";
const PROVIDER_ASID: &str = "918999198738";
const CONSUMER_ODS: &str = "GPCA0001";
const CONSUMER_ASID: &str = "200000000359";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    runtime.block_on(run(benching));
}

fn request(url: &str) -> Request<Full<Bytes>> {
    let jwt = MigrateTokenRequest {
        requesting_ods: CONSUMER_ODS.into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: CONSUMER_ASID.into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: Some(PractitionerClaim::assurance_suite()),
        sensitive: true,
        now: chrono::Utc::now(),
    }
    .mint();
    let mut req = Request::get(url)
        .header("ssp-traceid", uuid::Uuid::new_v4().hyphenated().to_string())
        .header("ssp-from", CONSUMER_ASID)
        .header("ssp-to", PROVIDER_ASID)
        .header("ssp-interactionid", interactions::MIGRATE_DOCUMENT)
        .header("accept", "application/fhir+json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap(),
    );
    req
}

/// Fetches `url`, reading and dropping each frame: the status and the bytes received.
async fn fetch(client: &BenchClient, url: &str) -> (u16, u64) {
    let resp = client.request(request(url)).await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            received += data.len() as u64;
        }
    }
    (status, received)
}

async fn run(benching: bool) {
    let megabytes = if benching {
        wire::env_number("BENCH_DOCUMENT_MB", 250).max(1)
    } else {
        8
    };
    let size = usize::try_from(megabytes).unwrap() * 1024 * 1024;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let layout = Layout::new(&certs);
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.yaml");
    let mut world = load_paths(
        std::slice::from_ref(&scenario),
        chrono::Utc::now().date_naive(),
    )
    .unwrap();
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == PATIENT)
        .unwrap();
    let big = patient.record.documents[0].meta.id.clone();
    patient.record.documents[0].generated_size = Some(size);
    let patient = world.patient(PATIENT).unwrap().clone();
    let id_of = |n: usize| binary_id(&patient, &patient.record.documents[n]);
    let (big_id, small_id) = (id_of(0), id_of(1));
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs.clone(),
        ..Config::default()
    };
    let sandbox = Sandbox::start(config, world, Clock::system())
        .await
        .unwrap();
    let client = wire::client(&layout, CONSUMER_ASID);
    let url = |id: &str| {
        format!(
            "https://{}/{}/{PROVIDER_ODS}/STU3/1/gpconnect/documents/fhir/Binary/{id}",
            sandbox.ssp_addr, sandbox.shared.public_url
        )
    };
    // Warm up: connections, TLS sessions, the journal.
    for _ in 0..3 {
        let (status, _) = fetch(&client, &url(&small_id)).await;
        assert_eq!(status, 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = wire::rss_mib().unwrap_or(f64::NAN);
    let rss = RssSampler::start();
    let started = Instant::now();
    let (status, received) = fetch(&client, &url(&big_id)).await;
    let elapsed = started.elapsed();
    let after = wire::rss_mib().unwrap_or(f64::NAN);
    let (_, peak, samples) = rss.take();
    let peak = peak.max(after);
    assert_eq!(status, 200, "document {big}");
    // base64 of `size` bytes and the Binary around it.
    assert!(received as usize >= size.div_ceil(3) * 4);
    println!(
        "document_size: {megabytes} MiB document ({received} bytes of Binary) through SSP in {:.2} s ({:.0} MiB/s)",
        elapsed.as_secs_f64(),
        received as f64 / 1_048_576.0 / elapsed.as_secs_f64()
    );
    println!(
        "document_size: RSS idle {idle:.1} MiB, peak during the transfer {peak:.1} MiB ({samples} samples), growth {:.1} MiB (goal: under 100 MiB) {}",
        peak - idle,
        if peak - idle < 100.0 {
            "met"
        } else {
            "NOT MET"
        }
    );
}
