//! A ~150 KB response three ways, side by side in one run, over keep-alive connections:
//!
//! 1. **ssp**: consumer → SSP (TLS, client certificate, every check, journal) → provider (HTTP);
//! 2. **direct**: consumer → the same provider over plain HTTP;
//! 3. **bare-tls**: consumer → a hyper + rustls server with SSP's TLS configuration returning the
//!    same bytes (what TLS alone costs, without the proxy hop).
//!
//! The provider is an in-process hyper server answering every request with the same body, so
//! the figures measure SSP, not the provider's record assembly.
//!
//! `cargo bench --bench ssp_forward` (release profile). Tuning: `BENCH_SECS` (default 5) per
//! case, `BENCH_CONCURRENCY` (default 4) connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use spine_sandbox::config::Config;
use spine_sandbox::identifiers::{Asid, OdsCode, PartyKey, interactions};
use spine_sandbox::pki::Layout;
use spine_sandbox::scenario::{Practice, World};
use spine_sandbox::{Clock, Sandbox, tls};

const BODY_BYTES: usize = 150 * 1024;
const CONSUMER_ASID: &str = "200000000359";
const PROVIDER_ASID: &str = "918999198738";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn practice(ods: &str, asid: &str, provider: bool) -> Practice {
    let ods = OdsCode::parse(ods).unwrap();
    let asid = Asid::parse(asid).unwrap();
    Practice {
        party_key: PartyKey::derived(&ods, &asid),
        ods,
        name: "Bench Practice".into(),
        asid,
        provider,
        interactions: interactions::DEFAULT_ALLOWED
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        address: None,
        telecom: None,
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
        tls::ssp_server_config(&layout.ca_cert(), &layout.ssp_cert(), &layout.ssp_key()).unwrap();
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

type BenchClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

fn client(layout: &Layout) -> BenchClient {
    let config = tls::client_config(
        &layout.ca_cert(),
        &layout.client_cert(CONSUMER_ASID),
        &layout.client_key(CONSUMER_ASID),
    )
    .unwrap();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(connector)
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

async fn one(client: &BenchClient, url: &str, headers: &HeaderMap) -> u64 {
    let mut req = Request::get(url).body(Empty::new()).unwrap();
    *req.headers_mut() = headers.clone();
    if req.headers().contains_key("ssp-traceid") {
        req.headers_mut().insert(
            "ssp-traceid",
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap(),
        );
    }
    let resp = client.request(req).await.unwrap();
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.into_body().collect().await.unwrap().to_bytes().len() as u64
}

async fn measure(
    client: &BenchClient,
    url: &str,
    headers: &HeaderMap,
    concurrency: u64,
    duration: Duration,
) -> Figures {
    // Warm up: open the connections and the pools behind them.
    let warm_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm_until {
        let _ = one(client, url, headers).await;
    }
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let headers = headers.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0;
            while Instant::now() < until {
                let t = Instant::now();
                bytes += one(&client, &url, &headers).await;
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

async fn run() {
    let seconds = env_number("BENCH_SECS", 5);
    let concurrency = env_number("BENCH_CONCURRENCY", 4);
    let body = record_body();
    let provider = start_provider(body.clone()).await;

    let certs = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let world = World {
        name: None,
        description: None,
        start_day: chrono::Utc::now().date_naive(),
        practices: vec![
            practice("B82617", PROVIDER_ASID, true),
            practice("GPCA0001", CONSUMER_ASID, false),
        ],
        practitioners: Vec::new(),
        patients: Vec::new(),
    };
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs.clone(),
        public_url: Some(format!("http://{provider}")),
        ..Config::default()
    };
    let sandbox = Sandbox::start(config, world, Clock::system())
        .await
        .unwrap();
    let layout = Layout::new(&certs);
    let bare = start_bare_tls(body, &layout).await;
    let client = client(&layout);

    let mut ssp_headers = HeaderMap::new();
    for (name, value) in [
        ("ssp-traceid", "00000000-0000-4000-8000-000000000000"),
        ("ssp-from", CONSUMER_ASID),
        ("ssp-to", PROVIDER_ASID),
        ("ssp-interactionid", interactions::STRUCTURED_METADATA),
    ] {
        ssp_headers.insert(name, HeaderValue::from_static(value));
    }
    let provider_url =
        format!("http://{provider}/B82617/STU3/1/gpconnect/structured/fhir/metadata");
    let cases = [
        (
            "ssp",
            format!("https://{}/{provider_url}", sandbox.ssp_addr),
            ssp_headers.clone(),
        ),
        ("direct", provider_url.clone(), ssp_headers.clone()),
        (
            "bare-tls",
            format!("https://{bare}/metadata"),
            HeaderMap::new(),
        ),
    ];

    println!(
        "ssp_forward: {} KiB response, {concurrency} keep-alive connections, {seconds} s per case, {} cores",
        BODY_BYTES / 1024,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<10} {:>10} {:>10} {:>9} {:>9}",
        "case", "req/s", "MiB/s", "p50 ms", "p99 ms"
    );
    let mut rates = Vec::new();
    for (name, url, headers) in &cases {
        let f = measure(
            &client,
            url,
            headers,
            concurrency,
            Duration::from_secs(seconds),
        )
        .await;
        println!(
            "{name:<10} {:>10.0} {:>10.1} {:>9.2} {:>9.2}",
            f.per_second(),
            f.mib_per_second(),
            f.percentile(0.5),
            f.percentile(0.99)
        );
        rates.push(f.per_second());
    }
    println!(
        "ssp / bare-tls = {:.0}%   ssp / direct = {:.0}%",
        100.0 * rates[0] / rates[2],
        100.0 * rates[0] / rates[1]
    );
    // Dropping the sandbox aborts its listeners; the process ends here anyway.
    drop(sandbox);
}
