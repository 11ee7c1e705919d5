//! Plain-HTTP GETs over keep-alive connections, as the PDS read benchmarks drive them: the
//! sandbox's answer captured once, a bare hyper HTTP/1 server replaying it byte for byte, and a
//! closed-loop load that reports throughput and process CPU time per request.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Keep-alive connections each load runs, one request after another on each.
pub(crate) const CONNECTIONS: usize = 8;
const REQUEST_ID: &str = "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f";

/// `GET path` as a PDS consumer sends it.
pub(crate) fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .header("x-request-id", REQUEST_ID)
        .body(Empty::new())
        .unwrap()
}

pub(crate) async fn connect(
    addr: SocketAddr,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// One `GET path` on `sender`, checked for a 200 with a body.
async fn read_ok(sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>, path: &str) {
    sender.ready().await.unwrap();
    let resp = sender.send_request(get(path)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(!body.is_empty());
}

/// A server's whole answer to `GET path`, to replay from the bare server.
pub(crate) async fn capture(addr: SocketAddr, path: &str) -> Response<Bytes> {
    let mut sender = connect(addr).await;
    let resp = sender.send_request(get(path)).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, body)
}

/// A bare hyper HTTP/1 server answering every request with `template`.
pub(crate) async fn start_replay(template: Response<Bytes>) -> SocketAddr {
    super::start_bare(super::Answers::one(template), None).await
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
pub(crate) struct Round {
    pub per_second: f64,
    pub cpu_micros: Option<f64>,
}

impl Round {
    /// `12345 req/s  21.0 µs CPU`.
    pub(crate) fn show(&self) -> String {
        format!(
            "{:>8.0} req/s {:>6} µs CPU",
            self.per_second,
            self.cpu_micros
                .map_or_else(|| "?".to_owned(), |c| format!("{c:.1}"))
        )
    }
}

/// `total` GETs of `path` over [`CONNECTIONS`] keep-alive connections, each answer checked for
/// a 200 with a body.
pub(crate) async fn load(addr: SocketAddr, path: &str, total: usize) -> Round {
    let per_connection = total.div_ceil(CONNECTIONS);
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let path = path.to_owned();
        tasks.spawn(async move {
            let mut sender = connect(addr).await;
            for _ in 0..per_connection {
                read_ok(&mut sender, &path).await;
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

/// Best and median of a series of rounds. The best round is the least disturbed by whatever else
/// the machine runs; the median shows how far disturbance moved the figures.
pub(crate) struct Rounds {
    pub best: f64,
    pub median: f64,
    /// Median CPU time per request, when the platform reports process CPU time.
    pub cpu_micros: Option<f64>,
}

/// The median of each round's ratio of `ours` to `bare`, measured back to back: drift in what
/// else the machine runs moves both sides of a pair alike, so this moves less than a ratio of
/// medians.
pub(crate) fn paired_ratio(ours: &[Round], bare: &[Round]) -> f64 {
    let mut ratios: Vec<f64> = ours
        .iter()
        .zip(bare)
        .map(|(o, b)| o.per_second / b.per_second.max(1.0))
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(0.0)
}

impl Rounds {
    pub(crate) fn of(rounds: &[Round]) -> Self {
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

/// Kept-alive connections to one server, reused from one short load to the next.
pub(crate) struct Connections {
    path: String,
    senders: Vec<hyper::client::conn::http1::SendRequest<Empty<Bytes>>>,
}

impl Connections {
    pub(crate) async fn open(addr: SocketAddr, path: &str) -> Self {
        let mut senders = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            senders.push(connect(addr).await);
        }
        Self {
            path: path.to_owned(),
            senders,
        }
    }

    /// `total` GETs spread over the connections; returns the seconds they took.
    async fn run(&mut self, total: usize) -> f64 {
        let per_connection = total.div_ceil(self.senders.len().max(1));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for mut sender in self.senders.drain(..) {
            let path = self.path.clone();
            tasks.spawn(async move {
                for _ in 0..per_connection {
                    read_ok(&mut sender, &path).await;
                }
                sender
            });
        }
        while let Some(done) = tasks.join_next().await {
            self.senders.push(done.unwrap());
        }
        started.elapsed().as_secs_f64().max(1e-6)
    }
}

/// Each server's throughput as a share of the first's, from many short loads taken in turn.
///
/// A shared machine's speed drifts over seconds (the same bare server's CPU per request can
/// move by a third from one second to the next), which swamps a difference of a few per cent
/// between loads taken seconds apart. Here each round takes one short load of every server,
/// in an order reversed every other round, so that whatever drifts moves every side of a round
/// alike; each round gives one ratio per server, and the median over many rounds is what is
/// reported, with its quartiles.
pub(crate) struct Interleaved {
    pub rounds: usize,
    /// Per server after the first: (median, lower quartile, upper quartile) of the rounds'
    /// ratios.
    pub ratios: Vec<(f64, f64, f64)>,
    /// Per server after the first: total time of all its loads over the first's, inverted (a
    /// share of throughput over the whole run, as one long load would give if nothing drifted).
    pub overall: Vec<f64>,
}

pub(crate) async fn interleaved(
    servers: &mut [Connections],
    rounds: usize,
    per_load: usize,
) -> Interleaved {
    let n = servers.len();
    let mut seconds = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..n).collect()
        } else {
            (0..n).rev().collect()
        };
        for i in order {
            let took = servers[i].run(per_load).await;
            seconds[i].push(took);
        }
    }
    let quartiles = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        (at(0.5), at(0.25), at(0.75))
    };
    let first = &seconds[0];
    let ratios = seconds[1..]
        .iter()
        .map(|other| {
            // Same number of requests on both sides: throughput ratio is the inverse time ratio.
            quartiles(first.iter().zip(other).map(|(b, o)| b / o).collect())
        })
        .collect();
    let total = |v: &[f64]| v.iter().sum::<f64>();
    let overall = seconds[1..]
        .iter()
        .map(|other| total(first) / total(other).max(1e-9))
        .collect();
    Interleaved {
        rounds,
        ratios,
        overall,
    }
}
