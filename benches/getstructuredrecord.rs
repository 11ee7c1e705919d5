//! `$gpc.getstructuredrecord` on the generated 5,000-item record of the migrate benchmark: the
//! Bundle of one clinical area (allergies with resolved ones), of every area, and migrate's full
//! record beside them, through the provider's handler in process (parameters, selection, Bundle,
//! serialisation).
//!
//! Run: `cargo bench --bench getstructuredrecord` (release). Prints p50/p99 and sizes; asserts
//! nothing about time. Under `cargo test --all-targets` it makes one run of each, as a smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "migrate.rs"]
mod migrate_bench;

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use spine_sandbox::Config;
use spine_sandbox::handle_provider_request;
use spine_sandbox::interactions;
use spine_sandbox::{Clock, Sandbox};
use spine_sandbox::{DirectCareTokenRequest, MigrateTokenRequest, PractitionerClaim};

const NHS: &str = "9690937286";

fn parameters(areas: Vec<Value>) -> Bytes {
    let mut all = vec![
        json!({"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}}),
    ];
    all.extend(areas);
    Bytes::from(
        serde_json::to_vec(&json!({"resourceType": "Parameters", "parameter": all})).unwrap(),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    rt.block_on(run(if benching { 100 } else { 1 }));
}

async fn run(runs: usize) {
    let now = Utc::now();
    let world = migrate_bench::world(now.date_naive());
    let certs = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs-gsr");
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs,
        // Migrate answers from its cache after the first call; measure building it.
        migrate_cache_max_bytes: 0,
        ..Config::default()
    };
    let running = Sandbox::start(config, world, Clock::fixed(now))
        .await
        .unwrap();
    let services = running.shared.services.provider.clone();
    let direct = DirectCareTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: PractitionerClaim::assurance_suite(),
        requested_scope: "patient/*.read".into(),
        now,
    }
    .mint();
    let migrate = MigrateTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: None,
        sensitive: false,
        now,
    }
    .mint();
    let base = "/B82617/STU3/1/gpconnect/structured/fhir/Patient/";
    let everything = vec![
        json!({"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": true}]}),
        json!({"name": "includeMedication"}),
        json!({"name": "includeConsultations"}),
        json!({"name": "includeProblems"}),
        json!({"name": "includeImmunisations"}),
        json!({"name": "includeUncategorisedData"}),
        json!({"name": "includeInvestigations"}),
        json!({"name": "includeReferrals"}),
        json!({"name": "includeDiaryEntries"}),
    ];
    let cases = [
        (
            "retrieve, allergies only",
            "$gpc.getstructuredrecord",
            interactions::GET_STRUCTURED,
            &direct,
            parameters(vec![everything[0].clone()]),
        ),
        (
            "retrieve, every area",
            "$gpc.getstructuredrecord",
            interactions::GET_STRUCTURED,
            &direct,
            parameters(everything.clone()),
        ),
        (
            "migrate, full record",
            "$gpc.migratestructuredrecord",
            interactions::MIGRATE_STRUCTURED,
            &migrate,
            Bytes::from(
                serde_json::to_vec(&spine_sandbox::migrate_parameters(NHS, false)).unwrap(),
            ),
        ),
    ];
    for (label, op, interaction, token, body) in cases {
        let request = || {
            http::Request::post(format!("{base}{op}"))
                .header("Ssp-TraceID", "0f2a8d7e-1b3c-4d5e-8f90-a1b2c3d4e5f6")
                .header("Ssp-From", "200000000359")
                .header("Ssp-To", "918999198738")
                .header("Ssp-InteractionID", interaction)
                .header("Accept", "application/fhir+json")
                .header("Content-Type", "application/fhir+json")
                .header("Authorization", format!("Bearer {token}"))
                .body(body.clone())
                .unwrap()
        };
        let mut times = Vec::with_capacity(runs);
        let mut size = 0;
        for _ in 0..runs {
            let req = request();
            let t = Instant::now();
            let resp = handle_provider_request(&services, req).await;
            let took = t.elapsed();
            assert_eq!(resp.status(), 200, "{label}");
            size = resp.body().len();
            times.push(took);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{label:28} p50 {:8.2} ms  p99 {:8.2} ms  {size} bytes",
            ms(times[times.len() / 2]),
            ms(times[(times.len() * 99 / 100).min(times.len() - 1)]),
        );
    }
}
