//! Migrate of a generated 5,000-item record: latency of the provider's handler (validation
//! ladder, Bundle assembly, serialisation) and of the same call over loopback HTTP, beside the
//! baseline of serialising the same Bundle with plain `serde_json` (the Bundle parsed into a
//! `serde_json::Value`, then `serde_json::to_vec`). The handler writes typed structs
//! (`fhir::stu3`) straight to bytes, so it can beat that baseline.
//!
//! Run: `cargo bench --bench migrate` (release). Prints p50/p99 and bytes/s; asserts nothing
//! about time. Under `cargo test --all-targets` (no `--bench` argument) it makes three runs of
//! each measurement, as a smoke test that the benchmark still works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{Days, NaiveDate, Utc};
use spine_sandbox::Config;
use spine_sandbox::MigrateTokenRequest;
use spine_sandbox::NhsNumber;
use spine_sandbox::{
    Allergy, AllergyStatus, Code, Consultation, DiaryEntry, Document, Gender, HumanName,
    Immunisation, Investigation, InvestigationResult, ItemMeta, Medication, MedicationType,
    Observation, Patient, Practice, Practitioner, Problem, ProblemStatus, Record, Referral,
    Significance, World,
};
use spine_sandbox::{Asid, OdsCode, interactions};
use spine_sandbox::{
    BundleRequest, documents_base, handle_provider_request, record_bundle, record_bundle_bytes,
};
use spine_sandbox::{Clock, Sandbox};

const ITEMS: usize = 5_000;
const NHS: &str = "9690937286";

fn code(n: usize, what: &str) -> Code {
    Code {
        read_code: None,
        description_id: None,
        snomed: format!("{}", 100_000_000 + n),
        display: format!("{what} {n}"),
    }
}

fn meta(area: &str, n: usize) -> ItemMeta {
    ItemMeta {
        id: format!("{area}-{n}"),
        // One item in twenty is confidential, so the withholding path is exercised.
        confidential: n.is_multiple_of(20),
    }
}

/// 5,000 clinical items over every area, with problem links and consultation entries.
fn record(start: NaiveDate) -> Record {
    let day = |n: usize| start - Days::new((n % 3650) as u64);
    let mut r = Record::default();
    let share = |pct: usize| ITEMS * pct / 100;
    r.observations = (1..=share(25))
        .map(|n| Observation {
            meta: meta("observation", n),
            code: code(n, "Observation"),
            date: day(n),
            value: Some(n as f64 / 10.0),
            unit: Some("kg".into()),
            note: None,
        })
        .collect();
    r.medications = (1..=share(15))
        .map(|n| Medication {
            drug_code: None,
            supply_days: None,
            meta: meta("medication", n),
            code: code(n, "Medicine 10mg tablets"),
            start: day(n),
            end: None,
            kind: if n.is_multiple_of(3) {
                MedicationType::Acute
            } else {
                MedicationType::Repeat
            },
            dosage: Some("One tablet daily".into()),
            quantity: Some("28 tablet".into()),
            repeats_allowed: (!n.is_multiple_of(3)).then_some(6),
            stopped: None,
            note: None,
        })
        .collect();
    r.immunisations = (1..=share(10))
        .map(|n| Immunisation {
            batch: None,
            manufacturer: None,
            site: None,
            expiry: None,
            meta: meta("immunisation", n),
            code: code(n, "Vaccination"),
            date: day(n),
            note: None,
        })
        .collect();
    r.investigations = (1..=share(8))
        .map(|n| Investigation {
            meta: meta("investigation", n),
            code: code(n, "Blood test"),
            date: day(n),
            specimen: Some("Blood".into()),
            results: (0..3)
                .map(|k| InvestigationResult {
                    code: code(n * 10 + k, "Result"),
                    value: Some(4.2),
                    unit: Some("mmol/L".into()),
                    range: Some("3.5-5.3".into()),
                })
                .collect(),
            note: None,
        })
        .collect();
    r.allergies = (1..=share(6))
        .map(|n| Allergy {
            onset: None,
            meta: meta("allergy", n),
            code: code(n, "Allergy to substance"),
            asserted: Some(day(n)),
            status: if n.is_multiple_of(4) {
                AllergyStatus::Resolved
            } else {
                AllergyStatus::Active
            },
            end: None,
            reaction: Some("Rash".into()),
            note: None,
        })
        .collect();
    r.referrals = (1..=share(6))
        .map(|n| Referral {
            meta: meta("referral", n),
            date: day(n),
            to: "Cardiology".into(),
            reason: Some("Palpitations".into()),
            priority: Some("routine".into()),
            code: None,
        })
        .collect();
    r.diary = (1..=share(4))
        .map(|n| DiaryEntry {
            meta: meta("diary", n),
            date: start + Days::new(n as u64),
            text: "Review".into(),
            code: None,
            entered: None,
        })
        .collect();
    r.documents = (1..=share(4))
        .map(|n| Document {
            meta: meta("document", n),
            title: format!("Letter {n}"),
            kind: Code {
                read_code: None,
                description_id: None,
                snomed: "823691000000103".into(),
                display: "Clinical letter".into(),
            },
            date: day(n),
            content_type: "text/plain".into(),
            content: Bytes::from(vec![b'x'; 2048]),
            generated_size: None,
        })
        .collect();
    let problems = share(10);
    r.problems = (1..=problems)
        .map(|n| Problem {
            meta: meta("problem", n),
            code: code(n, "Problem"),
            onset: Some(day(n)),
            end: None,
            status: if n.is_multiple_of(2) {
                ProblemStatus::Active
            } else {
                ProblemStatus::Inactive
            },
            significance: if n.is_multiple_of(3) {
                Significance::Major
            } else {
                Significance::Minor
            },
            related: vec![
                format!("medication-{n}"),
                format!("observation-{n}"),
                format!("immunisation-{}", n.min(share(10))),
                format!("investigation-{}", n.min(share(8))),
            ],
            note: None,
        })
        .collect();
    let consultations = ITEMS - r.item_count();
    r.consultations = (1..=consultations)
        .map(|n| Consultation {
            meta: meta("consultation", n),
            date: day(n),
            kind: "Surgery consultation".into(),
            practitioner: Some("G8133438".into()),
            entries: vec![
                format!("observation-{}", n + problems),
                format!("medication-{}", n + problems),
                format!("problem-{}", 1 + n % problems),
            ],
            note: Some("Reviewed.".into()),
        })
        .collect();
    assert_eq!(r.item_count(), ITEMS);
    r
}

pub(crate) fn world(start: NaiveDate) -> World {
    let ods = |s: &str| OdsCode::parse(s).unwrap();
    let practice = |code: &str, asid: &str, provider: bool| Practice {
        provider,
        ..Practice::new(
            ods(code),
            Asid::parse(asid).unwrap(),
            format!("Practice {code}"),
        )
    };
    World {
        name: Some("bench".into()),
        practices: vec![
            practice("B82617", "918999198738", true),
            practice("GPCA0001", "200000000359", false),
        ],
        practitioners: vec![Practitioner {
            id: "G8133438".into(),
            name: HumanName {
                prefix: Some("Dr".into()),
                given: vec!["Jane".into()],
                family: "Carter".into(),
            },
            practice: ods("B82617"),
            gender: Some(Gender::Female),
        }],
        patients: vec![Patient {
            registration: Default::default(),
            nhs_number: NhsNumber::parse(NHS).unwrap(),
            name: HumanName {
                prefix: Some("Mrs".into()),
                given: vec!["Ada".into()],
                family: "Lovelace".into(),
            },
            gender: Gender::Female,
            birth_date: NaiveDate::from_ymd_opt(1960, 1, 1).unwrap(),
            address: None,
            registered_with: ods("GPCA0001"),
            record_at: ods("B82617"),
            usual_gp: Some("G8133438".into()),
            sensitive: false,
            nhs_number_verified: true,
            deceased: None,
            dissent: false,
            record: record(start),
            demographics: Default::default(),
        }],
        ..World::empty(start)
    }
}

struct Figures {
    p50: Duration,
    p99: Duration,
    /// Median on-CPU time of the measuring thread: what the call costs whatever else the
    /// machine is doing (shared CI and developer machines are often busy).
    cpu_p50: Option<Duration>,
}

/// Time this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`, first field, ns).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Times one call: wall clock and on-CPU time.
fn time(f: impl FnOnce()) -> (Duration, Option<Duration>) {
    let cpu = thread_cpu();
    let t = Instant::now();
    f();
    let wall = t.elapsed();
    let cpu = cpu.and_then(|before| Some(thread_cpu()?.saturating_sub(before)));
    (wall, cpu)
}

fn figures(times: Vec<(Duration, Option<Duration>)>) -> Figures {
    let mut wall: Vec<Duration> = times.iter().map(|t| t.0).collect();
    let mut cpu: Vec<Duration> = times.iter().filter_map(|t| t.1).collect();
    wall.sort();
    cpu.sort();
    let n = wall.len();
    Figures {
        p50: wall[n / 2],
        p99: wall[(n * 99 / 100).min(n - 1)],
        cpu_p50: (cpu.len() == n).then(|| cpu[n / 2]),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rate(bytes: usize, d: Duration) -> String {
    format!("{:.0} MB/s", bytes as f64 / d.as_secs_f64() / 1e6)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    rt.block_on(run(if benching { 200 } else { 1 }));
}

async fn run(runs: usize) {
    let now = Utc::now();
    let start = now.date_naive();
    let world = world(start);
    let certs = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs,
        ..Config::default()
    };
    let running = Sandbox::start(config, world, Clock::fixed(now))
        .await
        .unwrap();
    let shared = running.shared.clone();

    let token = MigrateTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: None,
        sensitive: false,
        now,
    }
    .mint();
    let body =
        Bytes::from(serde_json::to_vec(&spine_sandbox::migrate_parameters(NHS, false)).unwrap());
    let path = "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord";
    let trace = "0f2a8d7e-1b3c-4d5e-8f90-a1b2c3d4e5f6";
    let request = || {
        http::Request::post(path)
            .header("Ssp-TraceID", trace)
            .header("Ssp-From", "200000000359")
            .header("Ssp-To", "918999198738")
            .header("Ssp-InteractionID", interactions::MIGRATE_STRUCTURED)
            .header("Accept", "application/fhir+json")
            .header("Content-Type", "application/fhir+json")
            .header("Authorization", format!("Bearer {token}"))
            .body(body.clone())
            .unwrap()
    };

    // The handler, in process.
    let first = handle_provider_request(&shared.services.provider, request()).await;
    assert_eq!(first.status(), 200);
    let size = first.body().len();
    // Baseline: serde_json serialisation of the same Bundle.
    let w = shared.world.clone();
    let patient = w.patient(NHS).unwrap();
    let practice = w.practice("B82617").unwrap();
    let documents_base = documents_base(&shared.public_url, "B82617");
    let bundle_request = BundleRequest {
        world: &w,
        practice,
        patient,
        include_sensitive: false,
        trace_id: trace,
        documents_base: &documents_base,
    };
    let bundle = record_bundle(&bundle_request);
    let entries = bundle["entry"].as_array().unwrap().len();

    // The three in-process measurements take turns in every round, so a busy machine slows
    // them alike and the ratios stay meaningful.
    let (mut handler_times, mut serialise_times, mut build_times) = (vec![], vec![], vec![]);
    for i in 0..runs + runs.min(10) {
        // The handler never yields, so the whole call runs on this thread.
        let req = request();
        let mut resp = None;
        let h = time(|| {
            resp = Some(futures_util::FutureExt::now_or_never(
                handle_provider_request(&shared.services.provider, req),
            ))
        });
        assert_eq!(
            resp.flatten().map(|r| r.status()),
            Some(http::StatusCode::OK)
        );
        let s = time(|| {
            std::hint::black_box(serde_json::to_vec(&bundle).unwrap());
        });
        let b = time(|| {
            std::hint::black_box(record_bundle_bytes(&bundle_request));
        });
        if i >= runs.min(10) {
            handler_times.push(h);
            serialise_times.push(s);
            build_times.push(b);
        }
    }
    let handler = figures(handler_times);
    let serialise = figures(serialise_times);
    let build = figures(build_times);

    // Over loopback HTTP (client parse not included: the body is read as bytes).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{}{path}", running.http_addr);
    let mut http_times = Vec::with_capacity(runs);
    for i in 0..runs + runs.min(10) {
        let t = (Instant::now(), None);
        let resp = client
            .post(&url)
            .header("Ssp-TraceID", trace)
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
        let bytes = resp.bytes().await.unwrap();
        let e = (t.0.elapsed(), t.1);
        assert_eq!(bytes.len(), size);
        if i >= runs.min(10) {
            http_times.push(e);
        }
    }
    let over_http = figures(http_times);

    println!(
        "migrate bench: {ITEMS}-item record, {entries} Bundle entries, {size} bytes, {runs} runs each"
    );
    for (name, f) in [
        ("handler (ladder + build + serialise)", &handler),
        ("  of which Bundle build + serialise", &build),
        ("baseline: serde_json::to_vec(Value)", &serialise),
        ("over loopback HTTP (hyper + reqwest)", &over_http),
    ] {
        let cpu = f
            .cpu_p50
            .map(|c| format!("  on-CPU p50 {:>7.2} ms", ms(c)))
            .unwrap_or_default();
        println!(
            "  {name:<40} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>10}{cpu}",
            ms(f.p50),
            ms(f.p99),
            rate(size, f.p50)
        );
    }
    println!(
        "  handler / baseline at p50: {:.2}x wall, {} on-CPU (goal: p50 < 50 ms and <= 3x)",
        handler.p50.as_secs_f64() / serialise.p50.as_secs_f64(),
        match (handler.cpu_p50, serialise.cpu_p50) {
            (Some(h), Some(b)) => format!("{:.2}x", h.as_secs_f64() / b.as_secs_f64()),
            _ => "n/a".to_owned(),
        }
    );
    running.shutdown().await;
}
