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

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use spine_sandbox::Config;
use spine_sandbox::{Clock, Sandbox, load_paths};
use tokio::net::TcpListener;

mod wire;
use wire::keep_alive::{CONNECTIONS, Rounds, capture, load, start_replay};

const PATH: &str = "/personal-demographics/FHIR/R4/Patient/9690937286";

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

    let template = capture(sandbox_addr, PATH).await;
    assert_eq!(
        template.status(),
        StatusCode::OK,
        "the sandbox must answer 200"
    );
    let bare_addr = start_replay(template.clone()).await;
    assert_eq!(
        capture(bare_addr, PATH).await.body().len(),
        template.body().len()
    );
    let plumbing_addr = start_plumbing(template.clone()).await;

    println!(
        "PDS read: GET {PATH} ({} bytes), {CONNECTIONS} keep-alive connections, {requests} requests per round, {rounds} rounds, {} cores",
        template.body().len(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    // warm both up (connections, allocator, caches)
    load(bare_addr, PATH, requests / 10).await;
    load(plumbing_addr, PATH, requests / 10).await;
    load(sandbox_addr, PATH, requests / 10).await;
    let (mut bare, mut plumbing, mut sandboxed) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        bare.push(load(bare_addr, PATH, requests).await);
        plumbing.push(load(plumbing_addr, PATH, requests).await);
        sandboxed.push(load(sandbox_addr, PATH, requests).await);
        println!(
            "round {round:>2}: bare hyper {}   plumbing only {}   sandbox {}",
            bare[round - 1].show(),
            plumbing[round - 1].show(),
            sandboxed[round - 1].show()
        );
    }
    let (bare, plumbing, sandboxed) = (
        Rounds::of(&bare),
        Rounds::of(&plumbing),
        Rounds::of(&sandboxed),
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
