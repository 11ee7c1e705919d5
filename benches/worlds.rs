//! Worlds at scale (docs/worlds.md): makes `WORLDS_BENCH_WORLDS` worlds (default 1,000) of the
//! default scenario in one sandbox, plays the built-in journey in each (through SDS, SSP and the
//! provider, as a consumer would), and prints the process's resident memory, the time to make a
//! world (p50, p99), and PDS read throughput in a world beside a bare hyper server answering the
//! same bytes, two ways:
//! - over 8 keep-alive connections of a bare client (as `benches/pds_read.rs` does for the default
//!   world), in interleaved rounds with the same read in the default world: best and median
//!   throughput, the median of each round's ratio to the bare read just before it, and the
//!   median process CPU time per request, which other work on a shared machine disturbs far
//!   less than throughput;
//! - in many short loads (`WORLDS_BENCH_TURNS` rounds of `WORLDS_BENCH_TURN_REQUESTS` requests
//!   each) of the bare server, the world and the default world taken in turn, on connections
//!   kept open throughout: the median and quartiles of each round's ratio, which a machine whose
//!   speed drifts over seconds disturbs least;
//! - over 32 connections of a pooled client with a new `X-Request-ID` each, as `migrate_wire`'s
//!   "PDS read" case measures the default world (`WORLDS_BENCH_SECS` per measurement): the ratio
//!   of each round, and their median.
//!
//! `cargo bench --bench worlds`. Without `--bench` (as under `cargo test --all-targets`) it makes
//! 20 worlds and a short load, to show it still runs; the figures then mean nothing. Asserts
//! nothing about time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use http::StatusCode;
use spine_sandbox::Config;
use spine_sandbox::Layout;
use spine_sandbox::Source;
use spine_sandbox::{Clock, Sandbox, load_paths};
use spine_sandbox::{JourneyOptions, JourneyOutcome, run_journey};

mod wire;
use wire::keep_alive::{
    CONNECTIONS, Connections, Rounds, capture, interleaved, load, paired_ratio, start_replay,
};

const PATIENT: &str = "9690937286";
const CONSUMER_ASID: &str = "200000000359";
const POOLED_CONNECTIONS: u64 = 32;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

async fn run() {
    let benching = std::env::args().any(|a| a == "--bench");
    let count = setting("WORLDS_BENCH_WORLDS", if benching { 1000 } else { 20 });
    let requests = setting("WORLDS_BENCH_REQUESTS", if benching { 20_000 } else { 400 });
    let rounds = setting("WORLDS_BENCH_ROUNDS", if benching { 5 } else { 1 }).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let world = load_paths(
        &[root.join("scenarios/default.yaml")],
        chrono::Local::now().date_naive(),
    )
    .unwrap_or_else(|e| panic!("scenario: {e:?}"));
    let certs = std::env::temp_dir().join(format!("worlds-bench-certs-{}", std::process::id()));
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs.clone(),
        max_worlds: count.max(1),
        ..Config::default()
    };
    let sandbox = Sandbox::start(config, world, Clock::system())
        .await
        .unwrap();
    let rss_start = wire::rss_mib();

    let mut made = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let live = sandbox
            .worlds
            .create(None, Source::Named("default".into()))
            .await
            .unwrap();
        made.push(started.elapsed());
        ids.push(live.id.clone());
    }
    made.sort();
    let rss_made = wire::rss_mib();

    // One journey per world, eight at a time.
    let journeys_started = Instant::now();
    let mut received = 0usize;
    for chunk in ids.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for id in chunk {
            let options = JourneyOptions {
                patient: "9434761018".into(),
                as_ods: "A20047".into(),
                skip_registration_change: false,
                sensitive: false,
                from: None,
                sandbox_url: format!("http://{}/worlds/{id}", sandbox.http_addr),
                ssp_url: format!("https://{}", sandbox.ssp_addr),
                certs_dir: certs.clone(),
                auth: None,
                operation: Default::default(),
                retrieve: Default::default(),
            };
            tasks.spawn(async move { run_journey(&options, |_| {}).await });
        }
        while let Some(report) = tasks.join_next().await {
            let report = report.unwrap();
            match report.outcome {
                JourneyOutcome::Received => received += 1,
                other => panic!("a journey in a world did not receive the record: {other:?}"),
            }
        }
    }
    let journeys_took = journeys_started.elapsed();
    let rss_played = wire::rss_mib();

    // PDS read in the first world, beside a bare server replaying its answer and the same read
    // in the default world (no prefix), which shows what choosing a world costs.
    let default_path = format!("/personal-demographics/FHIR/R4/Patient/{PATIENT}");
    let path = match ids.first() {
        Some(id) => format!("/worlds/{id}{default_path}"),
        None => default_path.clone(),
    };
    let template = capture(sandbox.http_addr, &path).await;
    assert_eq!(
        template.status(),
        StatusCode::OK,
        "the world must answer 200"
    );
    let bare_addr = start_replay(template.clone()).await;
    load(bare_addr, &path, requests / 10).await;
    load(sandbox.http_addr, &path, requests / 10).await;
    load(sandbox.http_addr, &default_path, requests / 10).await;
    let (mut bare, mut world, mut default) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        bare.push(load(bare_addr, &path, requests).await);
        world.push(load(sandbox.http_addr, &path, requests).await);
        default.push(load(sandbox.http_addr, &default_path, requests).await);
        println!(
            "PDS read round {round:>2}: bare hyper {}   in a world {}   default world {}",
            bare[round - 1].show(),
            world[round - 1].show(),
            default[round - 1].show()
        );
    }
    let (paired_world, paired_default) =
        (paired_ratio(&world, &bare), paired_ratio(&default, &bare));

    // The same three, in many short loads taken in turn (see `interleaved`).
    let turns = setting("WORLDS_BENCH_TURNS", if benching { 40 } else { 2 }).max(1);
    let per_turn = setting(
        "WORLDS_BENCH_TURN_REQUESTS",
        if benching { 4000 } else { 80 },
    );
    let mut servers = [
        Connections::open(bare_addr, &path).await,
        Connections::open(sandbox.http_addr, &path).await,
        Connections::open(sandbox.http_addr, &default_path).await,
    ];
    let in_turn = interleaved(&mut servers, turns, per_turn).await;
    let (bare, world, default) = (Rounds::of(&bare), Rounds::of(&world), Rounds::of(&default));

    // The same read measured as `migrate_wire`'s "PDS read" case measures the default world
    // (32 connections of a pooled client, a new X-Request-ID each), in the world.
    let secs =
        Duration::from_secs(setting("WORLDS_BENCH_SECS", if benching { 2 } else { 1 }) as u64);
    let client = wire::client(&Layout::new(&certs), CONSUMER_ASID);
    let pooled_bare = wire::start_bare(wire::Answers::one(template.clone()), None).await;
    let reads = |addr: std::net::SocketAddr| -> wire::MakeRequest {
        wire::pds_reads(format!("http://{addr}{path}"), client.clone())
    };
    let mut pooled = Vec::new();
    for round in 1..=rounds {
        let b = wire::measure(&reads(pooled_bare), POOLED_CONNECTIONS, secs).await;
        let w = wire::measure(&reads(sandbox.http_addr), POOLED_CONNECTIONS, secs).await;
        let ratio = w.per_second() / b.per_second().max(1.0);
        println!(
            "PDS read round {round:>2}, {POOLED_CONNECTIONS} pooled connections: bare hyper {:.0} req/s, in a world {:.0} req/s: ratio {ratio:.2}",
            b.per_second(),
            w.per_second()
        );
        pooled.push(ratio);
    }
    pooled.sort_by(f64::total_cmp);
    let mib = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |m| format!("{m:.0} MiB"));
    println!(
        "worlds: {count} of the default scenario, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "making a world: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&made, 0.5).as_secs_f64() * 1000.0,
        percentile(&made, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "journeys: {received} of {count} received the record, in {:.1} s",
        journeys_took.as_secs_f64()
    );
    println!(
        "resident memory: {} at start, {} with the worlds made, {} after a journey in each",
        mib(rss_start),
        mib(rss_made),
        mib(rss_played)
    );
    println!(
        "PDS read {path}, {CONNECTIONS} keep-alive connections: bare hyper {:.0} req/s, sandbox (worlds on) {:.0} req/s (best of {rounds}): ratio {:.2}; medians {:.0} and {:.0}: ratio {:.2}",
        bare.best,
        world.best,
        world.best / bare.best.max(1.0),
        bare.median,
        world.median,
        world.median / bare.median.max(1.0),
    );
    println!(
        "PDS read {default_path} in the default world (worlds on): {:.0} req/s best, {:.0} median: ratios {:.2} and {:.2}",
        default.best,
        default.median,
        default.best / bare.best.max(1.0),
        default.median / bare.median.max(1.0),
    );
    println!(
        "PDS read, each round's ratio to the bare read just before it (median of {rounds}): in a world {paired_world:.2}, default world {paired_default:.2}"
    );
    for (name, (median, low, high), overall) in [
        ("in a world", in_turn.ratios[0], in_turn.overall[0]),
        ("default world", in_turn.ratios[1], in_turn.overall[1]),
    ] {
        println!(
            "PDS read, {} rounds of short loads taken in turn with bare hyper ({per_turn} requests each, {CONNECTIONS} kept-alive connections): {name} ratio median {median:.2} (quartiles {low:.2} to {high:.2}), {overall:.2} over all rounds",
            in_turn.rounds
        );
    }
    if let (Some(b), Some(w), Some(d)) = (bare.cpu_micros, world.cpu_micros, default.cpu_micros) {
        println!(
            "PDS read CPU per request (median, client + server): bare hyper {b:.1} µs, in a world {w:.1} µs, default world {d:.1} µs: work rate ratios {:.2} and {:.2}",
            b / w,
            b / d
        );
    }
    println!(
        "PDS read in a world, {POOLED_CONNECTIONS} pooled connections (as migrate_wire measures the default world): ratio to bare hyper median {:.2}, best {:.2}, worst {:.2} of {rounds} rounds",
        pooled.get(pooled.len() / 2).copied().unwrap_or_default(),
        pooled.last().copied().unwrap_or_default(),
        pooled.first().copied().unwrap_or_default(),
    );
    println!("load average: {}", wire::load_average());
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(certs);
}
