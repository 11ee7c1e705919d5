//! What the wire benchmarks share: a closed-loop load generator over keep-alive connections, a
//! bare hyper server (plain or rustls with SSP's own TLS configuration) answering captured bytes,
//! and the process and machine figures printed beside the results (RSS, load average).

#![allow(dead_code)]

pub(crate) mod keep_alive;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use spine_sandbox::Layout;
use spine_sandbox::{client_config, ssp_server_config};

pub(crate) type BenchClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A pooled HTTP/1 client for http and https URLs, presenting `asid`'s certificate.
pub(crate) fn client(layout: &Layout, asid: &str) -> BenchClient {
    let config = client_config(
        &layout.ca_cert(),
        &layout.client_cert(asid),
        &layout.client_key(asid),
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

/// The `n`th request of a load (numbered across connections), and the client to send it with.
pub(crate) type MakeRequest = Arc<dyn Fn(u64) -> (BenchClient, Request<Full<Bytes>>) + Send + Sync>;

/// PDS reads of `url` as a consumer sends them, each with a new `X-Request-ID`.
pub(crate) fn pds_reads(url: String, client: BenchClient) -> MakeRequest {
    Arc::new(move |_| {
        let req = Request::get(&url)
            .header(
                "x-request-id",
                uuid::Uuid::new_v4().hyphenated().to_string(),
            )
            .body(Full::new(Bytes::new()))
            .unwrap();
        (client.clone(), req)
    })
}

/// One round's figures.
pub(crate) struct Figures {
    pub requests: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Sorted.
    pub latencies: Vec<Duration>,
}

impl Figures {
    pub(crate) fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

/// One request; the body is read to its end and counted, frame by frame, as a load generator
/// such as wrk does (only its start is kept, for the message when the answer is not a success).
async fn one(make: &MakeRequest, n: u64) -> u64 {
    let (client, req) = make(n);
    let uri = req.uri().clone();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let mut body = resp.into_body();
    let mut head = Vec::new();
    let mut length = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            if !status.is_success() && head.len() < 2000 {
                head.extend_from_slice(&data[..data.len().min(2000 - head.len())]);
            }
            length += data.len() as u64;
        }
    }
    assert!(
        status.is_success(),
        "{uri}: {status} {}",
        String::from_utf8_lossy(&head)
    );
    length
}

/// Closed loop: `connections` tasks, each sending its next request when the last is answered,
/// for `duration` after a short warm-up that opens the connections.
pub(crate) async fn measure(make: &MakeRequest, connections: u64, duration: Duration) -> Figures {
    let run = |until: Instant, record: bool| {
        (0..connections)
            .map(|task| {
                let make = make.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut bytes = 0;
                    let mut n = task;
                    while Instant::now() < until {
                        let t = Instant::now();
                        bytes += one(&make, n).await;
                        if record {
                            latencies.push(t.elapsed());
                        }
                        n += connections;
                    }
                    (latencies, bytes)
                })
            })
            .collect::<Vec<_>>()
    };
    for task in run(Instant::now() + Duration::from_millis(300), false) {
        task.await.unwrap();
    }
    let started = Instant::now();
    let tasks = run(started + duration, true);
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

/// A whole answer, captured to be replayed.
pub(crate) async fn capture(resp: Response<Incoming>) -> Response<Bytes> {
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// The bare server's answers: by request path, else `default`.
#[derive(Clone)]
pub(crate) struct Answers {
    pub by_path: Arc<HashMap<String, Response<Bytes>>>,
    pub default: Response<Bytes>,
}

impl Answers {
    pub(crate) fn one(resp: Response<Bytes>) -> Self {
        Self {
            by_path: Arc::new(HashMap::new()),
            default: resp,
        }
    }

    fn answer(&self, path: &str) -> Response<Full<Bytes>> {
        let t = self.by_path.get(path).unwrap_or(&self.default);
        let mut resp = Response::new(Full::new(t.body().clone()));
        *resp.status_mut() = t.status();
        *resp.headers_mut() = t.headers().clone();
        resp
    }
}

/// A bare hyper HTTP/1 server answering with `answers`; over TLS with SSP's own server
/// configuration when `layout` is given.
pub(crate) async fn start_bare(answers: Answers, layout: Option<&Layout>) -> SocketAddr {
    let acceptor = layout.map(|l| {
        let (config, _) = ssp_server_config(&l.ca_cert(), &l.ssp_cert(), &l.ssp_key()).unwrap();
        tokio_rustls::TlsAcceptor::from(config)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let answers = answers.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let resp = answers.answer(req.uri().path());
                    async move { Ok::<_, Infallible>(resp) }
                });
                match acceptor {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    None => {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    }
                }
            });
        }
    });
    addr
}

/// Resident set size of this process in MiB (Linux).
pub(crate) fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `/proc/loadavg`'s first three figures.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".to_owned())
}

/// RSS sampled every 100 ms on its own thread while the benchmark runs.
pub(crate) struct RssSampler {
    samples: Arc<Mutex<Vec<f64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl RssSampler {
    pub(crate) fn start() -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(r) = rss_mib() {
                    s.lock().unwrap().push(r);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Self { samples, stop }
    }

    /// Minimum and maximum since the last call, and the number of samples.
    pub(crate) fn take(&self) -> (f64, f64, usize) {
        let mut s = self.samples.lock().unwrap();
        let min = s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.iter().copied().fold(0.0, f64::max);
        let n = s.len();
        s.clear();
        (min, max, n)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(crate) fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
