//! A ~150 KB response three ways, side by side in one run, over keep-alive connections:
//!
//! 1. **ssp**: consumer → SSP (TLS, client certificate, every check, journal) → provider (HTTP);
//! 2. **direct**: consumer → the same provider over plain HTTP;
//! 3. **bare-tls**: consumer → a hyper + rustls server with SSP's TLS configuration returning the
//!    same bytes (what TLS alone costs, without the proxy hop or the provider's work).
//!
//! Two providers, one after the other:
//!
//! - **migrate**: the sandbox's own GP Connect provider answering `$gpc.migratestructuredrecord`
//!   for patient 9690937286 of `scenarios/default.yaml` with sensitive information (~130 KB);
//! - **stand-in**: an in-process hyper server answering every request with the same 150 KiB, so
//!   the figures show SSP's own cost without the provider's record assembly.
//!
//! `cargo bench --bench ssp_forward` (release profile). Tuning: `BENCH_ROUNDS` (default 3)
//! interleaved rounds of `BENCH_SECS` (default 3) per case, `BENCH_CONCURRENCY` (default 4)
//! connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "wire/mod.rs"]
mod wire;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use spine_sandbox::Config;
use spine_sandbox::Layout;
use spine_sandbox::{Asid, OdsCode, interactions};
use spine_sandbox::{Clock, Sandbox, ssp_server_config};
use spine_sandbox::{MigrateTokenRequest, PractitionerClaim};
use spine_sandbox::{Practice, World, load_paths};

const BODY_BYTES: usize = 150 * 1024;
const CONSUMER_ODS: &str = "GPCA0001";
const CONSUMER_ASID: &str = "200000000359";
const PROVIDER_ODS: &str = "B82617";
const PROVIDER_ASID: &str = "918999198738";
/// Registered at GPCA0001 on PDS, record held by B82617 (`scenarios/default.yaml`).
const PATIENT: &str = "9690937286";

fn practice(ods: &str, asid: &str, provider: bool) -> Practice {
    Practice {
        provider,
        ..Practice::new(
            OdsCode::parse(ods).unwrap(),
            Asid::parse(asid).unwrap(),
            "Bench Practice",
        )
    }
}

/// A JSON-looking body of exactly `BODY_BYTES`.
fn record_body() -> Bytes {
    let mut body = String::from("{\"resourceType\":\"Bundle\",\"entry\":[");
    let mut i = 0;
    while body.len() < BODY_BYTES - 200 {
        body.push_str(&format!(
            "{{\"resource\":{{\"resourceType\":\"Observation\",\"id\":\"obs-{i}\",\"valueQuantity\":{{\"value\":{i},\"unit\":\"kg\"}}}}}},"
        ));
        i += 1;
    }
    body.push_str("{}]}");
    while body.len() < BODY_BYTES {
        body.push(' ');
    }
    Bytes::from(body)
}

async fn answer(body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json;charset=utf-8"),
    );
    Ok(resp)
}

/// The stand-in provider: plain HTTP, the same body for every request.
async fn start_provider(body: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |_req: Request<Incoming>| answer(body.clone()));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

/// hyper + rustls with SSP's own server configuration, the same body, nothing else.
async fn start_bare_tls(body: Bytes, layout: &Layout) -> SocketAddr {
    let (config, _) =
        ssp_server_config(&layout.ca_cert(), &layout.ssp_cert(), &layout.ssp_key()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |_req: Request<Incoming>| answer(body.clone()));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

use wire::BenchClient;

/// One kind of request, sent again and again.
#[derive(Clone)]
struct Case {
    name: &'static str,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
}

struct Figures {
    requests: u64,
    bytes: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / (1024.0 * 1024.0)
    }
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

async fn one(client: &BenchClient, case: &Case) -> u64 {
    let mut req = Request::builder()
        .method(case.method.clone())
        .uri(&case.url)
        .body(Full::new(case.body.clone()))
        .unwrap();
    *req.headers_mut() = case.headers.clone();
    if req.headers().contains_key("ssp-traceid") {
        req.headers_mut().insert(
            "ssp-traceid",
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap(),
        );
    }
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        status.is_success(),
        "{} {}: {status} {}",
        case.name,
        case.url,
        String::from_utf8_lossy(&body)
    );
    body.len() as u64
}

async fn measure(
    client: &BenchClient,
    case: &Case,
    concurrency: u64,
    duration: Duration,
) -> Figures {
    // Warm up: open the connections and the pools behind them.
    let warm_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm_until {
        let _ = one(client, case).await;
    }
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let case = case.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0;
            while Instant::now() < until {
                let t = Instant::now();
                bytes += one(&client, &case).await;
                latencies.push(t.elapsed());
            }
            (latencies, bytes)
        }));
    }
    let mut figures = Figures {
        requests: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, bytes) = task.await.unwrap();
        figures.requests += latencies.len() as u64;
        figures.bytes += bytes;
        figures.latencies.extend(latencies);
    }
    figures.elapsed = started.elapsed();
    figures.latencies.sort();
    figures
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn ssp_headers(interaction: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("ssp-traceid", "00000000-0000-4000-8000-000000000000"),
        ("ssp-from", CONSUMER_ASID),
        ("ssp-to", PROVIDER_ASID),
        ("ssp-interactionid", interaction),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
}

fn config(certs: &Path, public_url: Option<String>) -> Config {
    Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs.to_owned(),
        public_url,
        ..Config::default()
    }
}

/// Runs the three cases in interleaved rounds (so a burst of load elsewhere on the machine hits
/// every case alike), prints each case's median round and its best, and returns SSP's median
/// rate over bare TLS's.
async fn compare(title: &str, client: &BenchClient, cases: &[Case; 3], settings: &Settings) -> f64 {
    println!("\n{title}");
    let mut rounds: Vec<Vec<Figures>> = cases.iter().map(|_| Vec::new()).collect();
    for _ in 0..settings.rounds {
        for (case, figures) in cases.iter().zip(rounds.iter_mut()) {
            figures.push(measure(client, case, settings.concurrency, settings.duration).await);
        }
    }
    println!(
        "  {:<10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "case", "req/s", "best", "MiB/s", "p50 ms", "p99 ms"
    );
    let mut medians = Vec::new();
    for (case, figures) in cases.iter().zip(rounds.iter_mut()) {
        figures.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
        let median = &figures[figures.len() / 2];
        let best = &figures[figures.len() - 1];
        println!(
            "  {:<10} {:>10.0} {:>10.0} {:>10.1} {:>9.2} {:>9.2}",
            case.name,
            median.per_second(),
            best.per_second(),
            median.mib_per_second(),
            median.percentile(0.5),
            median.percentile(0.99)
        );
        medians.push(median.per_second());
    }
    let ratio = medians[0] / medians[2];
    println!(
        "  ssp / bare-tls = {:.0}%   ssp / direct = {:.0}%  (medians)",
        100.0 * ratio,
        100.0 * medians[0] / medians[1]
    );
    ratio
}

struct Settings {
    rounds: u64,
    concurrency: u64,
    duration: Duration,
}

async fn run() {
    let seconds = wire::env_number("BENCH_SECS", 3);
    let concurrency = wire::env_number("BENCH_CONCURRENCY", 4);
    let settings = Settings {
        rounds: wire::env_number("BENCH_ROUNDS", 3).max(1),
        concurrency,
        duration: Duration::from_secs(seconds),
    };
    let certs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let layout = Layout::new(&certs);
    println!(
        "ssp_forward: {concurrency} keep-alive connections, {} rounds of {seconds} s per case, {} cores",
        settings.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // The sandbox's own provider, migrate structured record.
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.yaml");
    let world = load_paths(&[scenario], chrono::Utc::now().date_naive()).unwrap();
    let sandbox = Sandbox::start(config(&certs, None), world, Clock::system())
        .await
        .unwrap();
    let client = wire::client(&layout, CONSUMER_ASID);
    let provider_url = format!(
        "{}/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
        sandbox.shared.public_url
    );
    let token = MigrateTokenRequest {
        requesting_ods: CONSUMER_ODS.into(),
        requesting_name: "Bench Practice".into(),
        requesting_asid: CONSUMER_ASID.into(),
        audience: format!(
            "{}/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir",
            sandbox.shared.public_url
        ),
        practitioner: Some(PractitionerClaim {
            id: "1".into(),
            sds_user_id: "G8133438".into(),
            sds_role_profile_id: "112233445566".into(),
            family: "Bench".into(),
            given: vec!["Ben".into()],
            prefix: None,
        }),
        sensitive: true,
        now: chrono::Utc::now(),
    }
    .mint();
    let mut headers = ssp_headers(interactions::MIGRATE_STRUCTURED);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let body =
        Bytes::from(serde_json::to_vec(&spine_sandbox::migrate_parameters(PATIENT, true)).unwrap());
    let direct = Case {
        name: "direct",
        method: Method::POST,
        url: provider_url.clone(),
        headers: headers.clone(),
        body: body.clone(),
    };
    let record = {
        let mut req = Request::post(&direct.url)
            .body(Full::new(body.clone()))
            .unwrap();
        *req.headers_mut() = headers.clone();
        let resp = client.request(req).await.unwrap();
        assert!(
            resp.status().is_success(),
            "migrate answered {}",
            resp.status()
        );
        resp.into_body().collect().await.unwrap().to_bytes()
    };
    let bare = start_bare_tls(record.clone(), &layout).await;
    let migrate_cases = [
        Case {
            name: "ssp",
            url: format!("https://{}/{provider_url}", sandbox.ssp_addr),
            ..direct.clone()
        },
        direct,
        Case {
            name: "bare-tls",
            method: Method::GET,
            url: format!("https://{bare}/record"),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        },
    ];
    let migrate_ratio = compare(
        &format!(
            "migrate: sandbox provider, patient {PATIENT} with sensitive information, {} KiB",
            record.len() / 1024
        ),
        &client,
        &migrate_cases,
        &settings,
    )
    .await;
    drop(sandbox);

    // A stand-in provider returning 150 KiB without work.
    let stand_in_body = record_body();
    let provider = start_provider(stand_in_body.clone()).await;
    let world = World {
        practices: vec![
            practice(PROVIDER_ODS, PROVIDER_ASID, true),
            practice(CONSUMER_ODS, CONSUMER_ASID, false),
        ],
        ..World::empty(chrono::Utc::now().date_naive())
    };
    let sandbox = Sandbox::start(
        config(&certs, Some(format!("http://{provider}"))),
        world,
        Clock::system(),
    )
    .await
    .unwrap();
    let bare = start_bare_tls(stand_in_body, &layout).await;
    let provider_url =
        format!("http://{provider}/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir/metadata");
    let direct = Case {
        name: "direct",
        method: Method::GET,
        url: provider_url.clone(),
        headers: ssp_headers(interactions::STRUCTURED_METADATA),
        body: Bytes::new(),
    };
    let stand_in_cases = [
        Case {
            name: "ssp",
            url: format!("https://{}/{provider_url}", sandbox.ssp_addr),
            ..direct.clone()
        },
        direct,
        Case {
            name: "bare-tls",
            method: Method::GET,
            url: format!("https://{bare}/metadata"),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        },
    ];
    let stand_in_ratio = compare(
        &format!("stand-in provider: {} KiB, no work", BODY_BYTES / 1024),
        &client,
        &stand_in_cases,
        &settings,
    )
    .await;
    println!(
        "\nSSP as a share of bare TLS: migrate {:.0}%, stand-in {:.0}% (goal: at least 50%)",
        100.0 * migrate_ratio,
        100.0 * stand_in_ratio
    );
    drop(sandbox);
}
