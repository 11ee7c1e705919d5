//! PDS read throughput over keep-alive, beside a bare hyper server returning the same bytes.
//!
//! `cargo bench --bench pds_read` starts the real sandbox in-process (port 0) on the shipped
//! scenario, captures its answer to `GET /Patient/9690937286`, starts a bare hyper HTTP/1 server
//! that returns exactly that status, those headers and that body, and drives both with the same
//! in-process load: `CONNECTIONS` keep-alive connections each sending requests one after another,
//! a fixed number per round. Rounds alternate (bare, sandbox, ...) and the best round of each is
//! reported, with the sandbox's share of the bare figure.
//!
//! `PDS_BENCH_REQUESTS` (per round, default 40000) and `PDS_BENCH_ROUNDS` (default 3) change the
//! load, e.g. for a quick smoke run under `cargo test --benches`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use spine_sandbox::config::Config;
use spine_sandbox::{Clock, Sandbox, scenario};
use tokio::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 8;
const PATH: &str = "/personal-demographics/FHIR/R4/Patient/9690937286";
const REQUEST_ID: &str = "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let requests = setting("PDS_BENCH_REQUESTS", 40_000);
    let rounds = setting("PDS_BENCH_ROUNDS", 3);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let world = scenario::load_paths(
        &[root.join("scenarios/default.yaml")],
        chrono::Local::now().date_naive(),
    )
    .unwrap_or_else(|e| panic!("scenario: {e:?}"));
    let certs = std::env::temp_dir().join(format!("pds-bench-certs-{}", std::process::id()));
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs.clone(),
        ..Config::default()
    };
    let sandbox = Sandbox::start(config, world, Clock::system())
        .await
        .unwrap();
    let sandbox_addr = sandbox.http_addr;

    let template = capture(sandbox_addr).await;
    assert_eq!(
        template.status(),
        StatusCode::OK,
        "the sandbox must answer 200"
    );
    let bare_addr = start_bare(template.clone()).await;
    let (bare_check, _) = one_request(bare_addr).await;
    assert_eq!(bare_check, template.body().len());

    println!(
        "PDS read: GET {PATH} ({} bytes), {CONNECTIONS} keep-alive connections, {requests} requests per round, {rounds} rounds, {} cores",
        template.body().len(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    // warm both up (connections, allocator, caches)
    load(bare_addr, requests / 10).await;
    load(sandbox_addr, requests / 10).await;
    let mut best_bare: f64 = 0.0;
    let mut best_sandbox: f64 = 0.0;
    for round in 1..=rounds {
        let bare = load(bare_addr, requests).await;
        let sandboxed = load(sandbox_addr, requests).await;
        println!("round {round}: bare hyper {bare:>9.0} req/s   sandbox {sandboxed:>9.0} req/s");
        best_bare = best_bare.max(bare);
        best_sandbox = best_sandbox.max(sandboxed);
    }
    println!(
        "best:    bare hyper {best_bare:>9.0} req/s   sandbox {best_sandbox:>9.0} req/s   ratio {:.1}% of bare",
        100.0 * best_sandbox / best_bare
    );
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(certs);
}

fn request() -> Request<Empty<Bytes>> {
    Request::get(PATH)
        .header("host", "localhost")
        .header("x-request-id", REQUEST_ID)
        .body(Empty::new())
        .unwrap()
}

/// The sandbox's whole answer, to replay byte for byte from the bare server.
async fn capture(addr: SocketAddr) -> Response<Bytes> {
    let mut sender = connect(addr).await;
    let resp = sender.send_request(request()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, body)
}

/// A bare hyper HTTP/1 server answering every request with `template`.
async fn start_bare(template: Response<Bytes>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let template = template.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let mut resp = Response::new(Full::new(template.body().clone()));
                    *resp.status_mut() = template.status();
                    *resp.headers_mut() = template.headers().clone();
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn one_request(addr: SocketAddr) -> (usize, StatusCode) {
    let resp = capture(addr).await;
    (resp.body().len(), resp.status())
}

/// `total` requests over `CONNECTIONS` keep-alive connections; returns requests per second.
async fn load(addr: SocketAddr, total: usize) -> f64 {
    let per_connection = total.div_ceil(CONNECTIONS);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        tasks.spawn(async move {
            let mut sender = connect(addr).await;
            for _ in 0..per_connection {
                sender.ready().await.unwrap();
                let resp = sender.send_request(request()).await.unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(!body.is_empty());
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    (per_connection * CONNECTIONS) as f64 / elapsed.as_secs_f64()
}
