//! PDS read throughput over keep-alive, beside a bare hyper server returning the same bytes.
//!
//! `cargo bench --bench pds_read` starts the real sandbox in-process (port 0) on the shipped
//! scenario, captures its answer to `GET /Patient/9690937286`, starts a bare hyper HTTP/1 server
//! that returns exactly that status, those headers and that body, and drives both with the same
//! in-process load: `CONNECTIONS` keep-alive connections each sending requests one after another,
//! a fixed number per round. A third server, the sandbox's own HTTP plumbing (`http::serve`)
//! replaying the same bytes without dispatch, PDS or journal, shows where the difference goes.
//! Rounds interleave the three servers; the best and median round of each are reported, with the
//! sandbox's share of the bare figure, and the median process CPU time per request (client and
//! server together, from `/proc/self/stat`), which other work on a shared machine disturbs far
//! less than throughput.
//!
//! `PDS_BENCH_REQUESTS` (per round, default 20000) and `PDS_BENCH_ROUNDS` (default 9) change the
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
use spine_sandbox::Config;
use spine_sandbox::{Clock, Sandbox, load_paths};
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
    let requests = setting("PDS_BENCH_REQUESTS", 20_000);
    let rounds = setting("PDS_BENCH_ROUNDS", 9).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let world = load_paths(
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
    let plumbing_addr = start_plumbing(template.clone()).await;

    println!(
        "PDS read: GET {PATH} ({} bytes), {CONNECTIONS} keep-alive connections, {requests} requests per round, {rounds} rounds, {} cores",
        template.body().len(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    // warm both up (connections, allocator, caches)
    load(bare_addr, requests / 10).await;
    load(plumbing_addr, requests / 10).await;
    load(sandbox_addr, requests / 10).await;
    let (mut bare, mut plumbing, mut sandboxed) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        bare.push(load(bare_addr, requests).await);
        plumbing.push(load(plumbing_addr, requests).await);
        sandboxed.push(load(sandbox_addr, requests).await);
        let show = |r: &Round| {
            format!(
                "{:>8.0} req/s {:>6} µs CPU",
                r.per_second,
                r.cpu_micros
                    .map_or_else(|| "?".to_owned(), |c| format!("{c:.1}"))
            )
        };
        println!(
            "round {round:>2}: bare hyper {}   plumbing only {}   sandbox {}",
            show(&bare[round - 1]),
            show(&plumbing[round - 1]),
            show(&sandboxed[round - 1])
        );
    }
    let (bare, plumbing, sandboxed) = (
        Figures::of(&bare),
        Figures::of(&plumbing),
        Figures::of(&sandboxed),
    );
    println!(
        "best:     bare hyper {:>8.0} req/s   plumbing only {:>8.0} req/s   sandbox {:>8.0} req/s",
        bare.best, plumbing.best, sandboxed.best
    );
    println!(
        "median:   bare hyper {:>8.0} req/s   plumbing only {:>8.0} req/s   sandbox {:>8.0} req/s",
        bare.median, plumbing.median, sandboxed.median
    );
    println!(
        "ratio:    sandbox / bare hyper = {:.1}% (best)  {:.1}% (median);  plumbing only / bare = {:.1}% (best)",
        100.0 * sandboxed.best / bare.best,
        100.0 * sandboxed.median / bare.median,
        100.0 * plumbing.best / bare.best,
    );
    if let (Some(b), Some(p), Some(s)) =
        (bare.cpu_micros, plumbing.cpu_micros, sandboxed.cpu_micros)
    {
        println!(
            "CPU per request (median, client + server): bare hyper {b:.1} µs   plumbing only {p:.1} µs   sandbox {s:.1} µs   -> sandbox does {:.1}% of bare's work rate",
            100.0 * b / s
        );
    }
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(certs);
}

/// Best and median of a series of rounds. The best round is the least disturbed by whatever else
/// the machine runs; the median shows how far disturbance moved the figures.
struct Figures {
    best: f64,
    median: f64,
    /// Median CPU time per request, when the platform reports process CPU time.
    cpu_micros: Option<f64>,
}

impl Figures {
    fn of(rounds: &[Round]) -> Self {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let rates: Vec<f64> = rounds.iter().map(|r| r.per_second).collect();
        let cpu: Option<Vec<f64>> = rounds.iter().map(|r| r.cpu_micros).collect();
        Self {
            best: rates.iter().copied().fold(0.0, f64::max),
            median: median(rates).unwrap_or(0.0),
            cpu_micros: cpu.and_then(median),
        }
    }
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

/// The sandbox's own HTTP plumbing (`spine_sandbox::serve_connections`: auto HTTP/1+2 builder, header
/// read timeout, graceful drain) answering with `template` without dispatch, PDS or journal:
/// separates what the plumbing costs from what the service costs.
async fn start_plumbing(template: Response<Bytes>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_keep, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = _keep;
        spine_sandbox::serve_connections(
            listener,
            spine_sandbox::PlainAcceptor,
            move |_req, (), _remote| {
                let template = template.clone();
                async move { spine_sandbox::boxed_response(template) }
            },
            spine_sandbox::ConnectionLimits::from_config(
                &spine_sandbox::Config::default(),
                spine_sandbox::OutcomeStyle::GpConnect,
            ),
            shutdown,
            Duration::from_secs(1),
            None,
        )
        .await;
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

/// Process CPU time (user + system, all threads) in seconds, from `/proc/self/stat` (Linux; 10 ms
/// ticks). `None` elsewhere.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// One round's figures: throughput, and CPU per request (client and server together), which a
/// busy machine disturbs much less than throughput.
#[derive(Clone, Copy)]
struct Round {
    per_second: f64,
    cpu_micros: Option<f64>,
}

/// `total` requests over `CONNECTIONS` keep-alive connections.
async fn load(addr: SocketAddr, total: usize) -> Round {
    let per_connection = total.div_ceil(CONNECTIONS);
    let cpu_before = process_cpu_seconds();
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
    let done = (per_connection * CONNECTIONS) as f64;
    let cpu_micros = cpu_before
        .zip(process_cpu_seconds())
        .map(|(before, after)| (after - before) * 1e6 / done);
    Round {
        per_second: done / elapsed.as_secs_f64(),
        cpu_micros,
    }
}
