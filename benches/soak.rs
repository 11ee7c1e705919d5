//! Soak: migrates the default scenario's largest record (9434761077, about 1.2 MB as a Bundle)
//! over loopback HTTP, again and again, and prints the process's resident memory over time,
//! then after `POST /_admin/reset`. The journal keeps cut copies of bodies within
//! `journal_max_bytes`, so RSS should level off once the journal is full instead of growing
//! with every migrate. The baseline is RSS just after start, before any migrate.
//!
//! Alongside the migrates it mixes the abuse a careless or hostile client can do
//! (docs/security.md), each in a loop: 200 journal-stream followers that never read (reopened
//! every 20 s), 400 connections that announce a 1 MiB body, send 64 KiB and stall (reopened as
//! soon as they are answered), a flood of `GET /oauth2/authorize` minting authorization codes,
//! and 100 clients asking for conformance reports, while `/healthz` is timed every 20 ms. Each
//! line shows what was done so far, RSS, the journal's size and the health check's p50/p99 over
//! the interval. Then 100 report clients run alone for 15 s with `/healthz` timed.
//!
//! Run: `cargo bench --bench soak` (release). `SOAK_SECS` (default 120) is the soak's length,
//! `SOAK_CLIENTS` (default 4) the number of clients migrating at once, `SOAK_ABUSE=0` leaves the
//! abuse out. Linux only (reads `/proc/self/status`). Under `cargo test --all-targets` (no
//! `--bench` argument) it soaks for two seconds with a tenth of the abuse as a smoke test.
//! Asserts nothing about memory or time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use spine_sandbox::Config;
use spine_sandbox::MigrateTokenRequest;
use spine_sandbox::migrate_parameters;
use spine_sandbox::{Clock, Sandbox, load_paths};
use spine_sandbox::{OdsCode, interactions};

const NHS: &str = "9434761077";

/// Resident memory of this process in MiB (`VmRSS`), 0 where `/proc` is missing.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    let secs = if benching {
        env_number("SOAK_SECS", 120)
    } else {
        2
    };
    let abuse = match env_number("SOAK_ABUSE", 1) {
        0 => 0,
        _ if benching => 10,
        _ => 1,
    };
    rt.block_on(run(
        Duration::from_secs(secs),
        env_number("SOAK_CLIENTS", 4),
        abuse,
    ));
}

/// What the abuse loops have done so far.
#[derive(Default)]
struct Abuse {
    followers: AtomicU64,
    stalled_bodies: AtomicU64,
    busy_503: AtomicU64,
    authorizes: AtomicU64,
    reports: AtomicU64,
    health_ms: std::sync::Mutex<Vec<f64>>,
}

/// `scale` tenths of the full mix: 20 followers, 40 stalled bodies, 10 report clients each.
async fn abuse(
    base: String,
    addr: std::net::SocketAddr,
    scale: u64,
    stop: Arc<AtomicBool>,
    done: Arc<Abuse>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tasks = Vec::new();
    // Journal-stream followers that never read, reopened every 20 s.
    for _ in 0..20 * scale {
        let (stop, done) = (stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.set_recv_buffer_size(4096).unwrap();
                let Ok(mut s) = socket.connect(addr).await else {
                    continue;
                };
                let ask =
                    format!("GET /_admin/journal?stream=true HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                if s.write_all(ask.as_bytes()).await.is_ok() {
                    done.followers.fetch_add(1, Ordering::Relaxed);
                }
                for _ in 0..200 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    // Bodies announced at 1 MiB, 64 KiB sent, then nothing: reopened once answered.
    for _ in 0..40 * scale {
        let (stop, done) = (stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let head = format!(
                "PATCH /personal-demographics/FHIR/R4/Patient/9434761018 HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"
            );
            let part = vec![b' '; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                if s.write_all(head.as_bytes()).await.is_err() || s.write_all(&part).await.is_err() {
                    continue;
                }
                done.stalled_bodies.fetch_add(1, Ordering::Relaxed);
                let mut answer = [0u8; 12];
                let read = tokio::select! {
                    r = s.read_exact(&mut answer) => r.is_ok(),
                    () = async { while !stop.load(Ordering::Relaxed) { tokio::time::sleep(Duration::from_millis(100)).await } } => false,
                };
                if read && &answer[9..12] == b"503" {
                    done.busy_503.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Authorization codes, minted as fast as one client can.
    {
        let (stop, done, http, base) = (stop.clone(), done.clone(), http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let url = format!("{base}/oauth2/authorize?response_type=code&client_id=soak-app&redirect_uri=http%3A%2F%2Flocalhost%2Fcallback&state=s");
            while !stop.load(Ordering::Relaxed) {
                if let Ok(resp) = http.get(&url).send().await {
                    assert_eq!(resp.status(), 302);
                    done.authorizes.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Conformance reports, 10 clients per tenth.
    for _ in 0..10 * scale {
        let (stop, done, http, base) = (stop.clone(), done.clone(), http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match http.get(format!("{base}/_admin/conformance")).send().await {
                    Ok(resp) if resp.status() == 200 => {
                        let _ = resp.bytes().await;
                        done.reports.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }));
    }
    // The health check, timed.
    {
        let (stop, done, http) = (stop.clone(), done.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                if let Ok(resp) = http.get(format!("{base}/healthz")).send().await {
                    assert_eq!(resp.status(), 200);
                    let ms = asked.elapsed().as_secs_f64() * 1000.0;
                    done.health_ms.lock().unwrap().push(ms);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// p50 and p99 of the health checks since the last call, in ms.
fn health_percentiles(done: &Abuse) -> (f64, f64, usize) {
    let mut ms = std::mem::take(&mut *done.health_ms.lock().unwrap());
    if ms.is_empty() {
        return (0.0, 0.0, 0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), ms.len())
}

/// `/healthz` timed every 20 ms for `phase` while `clients` clients ask for conformance reports
/// of the full journal and nothing else runs.
async fn reports_only(base: &str, clients: usize, phase: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let reports = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (stop, reports, http) = (stop.clone(), reports.clone(), http.clone());
        let url = format!("{base}/_admin/conformance");
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(resp) = http.get(&url).send().await
                    && resp.status() == 200
                {
                    let _ = resp.bytes().await;
                    reports.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut ms = Vec::new();
    let until = Instant::now() + phase;
    while Instant::now() < until {
        let asked = Instant::now();
        let resp = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        ms.push(asked.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{clients} report clients alone for {} s: {} reports; /healthz p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} checks)",
        phase.as_secs(),
        reports.load(Ordering::Relaxed),
        at(0.5),
        at(0.99),
        at(1.0),
        ms.len()
    );
}

async fn run(soak: Duration, clients: u64, abuse_scale: u64) {
    let start_day = Utc::now().date_naive();
    let scenario_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.yaml");
    let mut world = load_paths(&[scenario_path], start_day).unwrap();
    // Registered with the assurance suite's practice, so its migrate request is allowed.
    world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == NHS)
        .unwrap()
        .registered_with = OdsCode::parse("GPCA0001").unwrap();
    // An application for the authorize flood.
    world
        .platform
        .applications
        .push(spine_sandbox::Application {
            name: "Soak".into(),
            api_key: "soak-app".into(),
            secret: None,
            keys: Vec::new(),
            rate_limit: None,
            redirect_uri: None,
        });
    let certs = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: certs,
        ..Config::default()
    };
    let journal_limit = config.journal_max_bytes;
    let running = Sandbox::start(config, world, Clock::system())
        .await
        .unwrap();
    let base = format!("http://{}", running.http_addr);

    let token = MigrateTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: "https://authorize.fhir.nhs.net/token/".into(),
        practitioner: None,
        sensitive: false,
        now: Utc::now(),
    }
    .mint();
    let body = Bytes::from(serde_json::to_vec(&migrate_parameters(NHS, false)).unwrap());
    let url = format!(
        "{base}/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let baseline = rss_mib();
    println!(
        "soak: migrating {NHS} for {} s with {clients} clients; journal_max_bytes {} MiB",
        soak.as_secs(),
        journal_limit / (1024 * 1024)
    );
    let stop = Arc::new(AtomicBool::new(false));
    let abused = Arc::new(Abuse::default());
    let abuse_task = (abuse_scale > 0).then(|| {
        println!(
            "abuse: {} silent journal followers, {} stalled 1 MiB bodies, {} report clients, an authorize flood",
            20 * abuse_scale,
            40 * abuse_scale,
            10 * abuse_scale
        );
        tokio::spawn(abuse(
            base.clone(),
            running.http_addr,
            abuse_scale,
            stop.clone(),
            abused.clone(),
        ))
    });
    println!(
        "{:>6}  {:>9}  {:>9}  {:>13}  {:>9}  {:>9}  {:>9}  {:>9}  {:>8}  {:>16}",
        "t (s)",
        "migrates",
        "RSS MiB",
        "journal MiB",
        "followers",
        "bodies",
        "503s",
        "authorize",
        "reports",
        "healthz p50/p99"
    );
    println!(
        "{:>6}  {:>9}  {baseline:>9.1}  {:>13}",
        0, 0, "- (baseline)"
    );

    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + soak;
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (client, url, token, body) = (client.clone(), url.clone(), token.clone(), body.clone());
        let (done, bytes) = (done.clone(), bytes.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let resp = client
                    .post(&url)
                    .header("Ssp-TraceID", uuid::Uuid::new_v4().to_string())
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
                let got = resp.bytes().await.unwrap();
                bytes.fetch_add(got.len() as u64, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let every = if soak >= Duration::from_secs(30) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    let started = Instant::now();
    let mut peak = baseline;
    while Instant::now() < deadline {
        tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await;
        let rss = rss_mib();
        peak = peak.max(rss);
        let stats = running.shared.journal.stats();
        let (p50, p99, _) = health_percentiles(&abused);
        println!(
            "{:>6.0}  {:>9}  {rss:>9.1}  {:>13.1}  {:>9}  {:>9}  {:>9}  {:>9}  {:>8}  {:>7.1}/{:>5.1} ms",
            started.elapsed().as_secs_f64(),
            done.load(Ordering::Relaxed),
            stats.bytes as f64 / (1024.0 * 1024.0),
            abused.followers.load(Ordering::Relaxed),
            abused.stalled_bodies.load(Ordering::Relaxed),
            abused.busy_503.load(Ordering::Relaxed),
            abused.authorizes.load(Ordering::Relaxed),
            abused.reports.load(Ordering::Relaxed),
            p50,
            p99,
        );
    }
    for w in workers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(task) = abuse_task {
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        println!(
            "abuse: {} codes held (oauth_max_codes {})",
            running.shared.platform.oauth.held().0,
            running.shared.config.oauth_max_codes,
        );
    }
    let migrates = done.load(Ordering::Relaxed);
    let moved = bytes.load(Ordering::Relaxed);
    println!(
        "migrates: {migrates} ({:.1} per second, {:.0} MB of Bundles, {:.2} MB each)",
        migrates as f64 / started.elapsed().as_secs_f64(),
        moved as f64 / 1e6,
        moved as f64 / 1e6 / migrates.max(1) as f64
    );
    if abuse_scale > 0 {
        let phase = if soak >= Duration::from_secs(30) {
            15
        } else {
            2
        };
        reports_only(&base, 10 * abuse_scale as usize, Duration::from_secs(phase)).await;
    }
    let before_reset = rss_mib();
    let reset = client
        .post(format!("{base}/_admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_reset = rss_mib();
    println!(
        "RSS MiB: baseline {baseline:.1}, peak {peak:.1}, before reset {before_reset:.1}, \
         2 s after reset {after_reset:.1}; journal after reset {} bytes",
        running.shared.journal.stats().bytes
    );
    running.shutdown().await;
}
