//! Migrate over the wire, beside a bare hyper (+ rustls) server answering the same bytes, in one
//! run: the goals of "migrate close to what the wire allows".
//!
//! The real sandbox (shipped default scenario, default migrate cache) is driven closed-loop over
//! keep-alive connections, case by case, each case's sandbox and bare measurements taking turns
//! in interleaved rounds, so load elsewhere on the machine hits both alike:
//!
//! | case | path | goal |
//! | --- | --- | --- |
//! | migrate 9690937286 (~136 KB) | consumer → SSP (mutual TLS) → provider, new `Ssp-TraceID` each | ≥ 0.5 of bare TLS |
//! | the same | straight to the provider, plain HTTP | ≥ 0.6 of bare HTTP |
//! | every migratable patient in turn | through SSP | ≥ 0.4 of bare TLS |
//! | migrate 9434761077 (~1.2 MB), 8 connections | through SSP, and straight | p99 < 10 ms |
//! | PDS read (~1 KB) | plain HTTP | ≥ 0.7 of bare HTTP |
//! | SSP forwarding a fixed 150 KiB | SSP → a bare provider | ≥ 0.5 of bare TLS |
//!
//! The bare servers answer each request with the status, headers and body the sandbox gave for
//! it (captured first). RSS is sampled throughout and printed per round; the load average is
//! printed at the start and the end.
//!
//! `cargo bench --bench migrate_wire`. `BENCH_SECS` (default 2) per measurement, `BENCH_ROUNDS`
//! (default 3), `BENCH_CONNECTIONS` (default 32), `BENCH_ONLY` (a part of the case names to keep). Without `--bench` (as under `cargo test
//! --all-targets`) it makes one short round as a smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod wire;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use spine_sandbox::Config;
use spine_sandbox::Layout;
use spine_sandbox::interactions;
use spine_sandbox::{Clock, RunningSandbox, Sandbox};
use spine_sandbox::{MigrateTokenRequest, PractitionerClaim};
use spine_sandbox::{World, load_paths};

use wire::{Answers, BenchClient, Figures, MakeRequest, RssSampler};

const RECORD_136K: &str = "9690937286";
const RECORD_1M: &str = "9434761077";
const CONSUMER_ASID: &str = "200000000359";
const PROVIDER_ODS: &str = "B82617";
const PROVIDER_ASID: &str = "918999198738";
const PDS_PATH: &str = "/personal-demographics/FHIR/R4/Patient/9690937286";
const STAND_IN_BYTES: usize = 150 * 1024;

/// One migrate as the patient's registered practice sends it.
#[derive(Clone)]
struct Item {
    nhs: String,
    sensitive: bool,
    holder_ods: String,
    holder_asid: String,
    as_ods: String,
    as_asid: String,
    body: Bytes,
}

impl Item {
    fn token(&self) -> HeaderValue {
        let jwt = MigrateTokenRequest {
            requesting_ods: self.as_ods.clone(),
            requesting_name: "Bench Practice".into(),
            requesting_asid: self.as_asid.clone(),
            audience: "https://authorize.fhir.nhs.net/token/".into(),
            practitioner: Some(PractitionerClaim::assurance_suite()),
            sensitive: self.sensitive,
            now: chrono::Utc::now(),
        }
        .mint();
        HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap()
    }

    fn path(&self) -> String {
        format!(
            "/{}/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
            self.holder_ods
        )
    }

    /// The request, with a new trace id, to `url`.
    fn request(&self, url: &str, token: &HeaderValue) -> Request<Full<Bytes>> {
        let trace = uuid::Uuid::new_v4().hyphenated().to_string();
        let mut req = Request::post(url)
            .header("ssp-traceid", trace)
            .header("ssp-from", &self.as_asid)
            .header("ssp-to", &self.holder_asid)
            .header("ssp-interactionid", interactions::MIGRATE_STRUCTURED)
            .header("accept", "application/fhir+json")
            .header("content-type", "application/fhir+json")
            .body(Full::new(self.body.clone()))
            .unwrap();
        req.headers_mut().insert("authorization", token.clone());
        req
    }
}

/// Everything a case needs to build its requests.
struct Bench {
    sandbox: RunningSandbox,
    stand_in: RunningSandbox,
    stand_in_provider: String,
    clients: HashMap<String, BenchClient>,
    items: Vec<Item>,
    bare_http: std::net::SocketAddr,
    bare_tls: std::net::SocketAddr,
    stand_in_bare_tls: std::net::SocketAddr,
}

impl Bench {
    fn client(&self, asid: &str) -> BenchClient {
        self.clients[asid].clone()
    }

    fn item(&self, nhs: &str, sensitive: bool) -> Item {
        self.items
            .iter()
            .find(|i| i.nhs == nhs && i.sensitive == sensitive)
            .unwrap_or_else(|| panic!("patient {nhs} is not migratable"))
            .clone()
    }

    fn direct_url(&self, item: &Item) -> String {
        format!("{}{}", self.sandbox.shared.public_url, item.path())
    }

    fn ssp_url(&self, item: &Item) -> String {
        format!(
            "https://{}/{}",
            self.sandbox.ssp_addr,
            self.direct_url(item)
        )
    }
}

enum Goal {
    Ratio(f64),
    P99Ms(f64),
}

/// One line of the table: how to make the sandbox's and the bare server's requests.
struct Case {
    name: String,
    connections: u64,
    goal: Goal,
    sandbox: MakeRequest,
    bare: MakeRequest,
}

/// A migrate of one record, through SSP or straight, beside the bare server.
fn migrate_case(
    b: &Bench,
    name: String,
    item: Item,
    via_ssp: bool,
    connections: u64,
    goal: Goal,
) -> Case {
    let token = item.token();
    let client = b.client(&item.as_asid);
    let url = if via_ssp {
        b.ssp_url(&item)
    } else {
        b.direct_url(&item)
    };
    let bare_url = if via_ssp {
        format!("https://{}/r/{}/{}", b.bare_tls, item.nhs, item.sensitive)
    } else {
        format!("http://{}/r/{}/{}", b.bare_http, item.nhs, item.sensitive)
    };
    let (i1, t1, c1) = (item.clone(), token.clone(), client.clone());
    Case {
        name,
        connections,
        goal,
        sandbox: Arc::new(move |_| (c1.clone(), i1.request(&url, &t1))),
        bare: Arc::new(move |_| (client.clone(), item.request(&bare_url, &token))),
    }
}

fn cases(b: &Bench, connections: u64, big_connections: u64) -> Vec<Case> {
    let mid = b.item(RECORD_136K, true);
    let big = b.item(RECORD_1M, false);
    let mut cases = vec![
        migrate_case(
            b,
            format!("migrate {RECORD_136K} via SSP, mTLS"),
            mid.clone(),
            true,
            connections,
            Goal::Ratio(0.5),
        ),
        migrate_case(
            b,
            format!("migrate {RECORD_136K} direct, HTTP"),
            mid,
            false,
            connections,
            Goal::Ratio(0.6),
        ),
    ];
    // Every migratable patient, both sensitivity choices, in turn.
    let items = Arc::new(b.items.clone());
    let tokens: Arc<Vec<HeaderValue>> = Arc::new(items.iter().map(Item::token).collect());
    let clients: Arc<Vec<BenchClient>> =
        Arc::new(items.iter().map(|i| b.client(&i.as_asid)).collect());
    let urls: Arc<Vec<(String, String)>> = Arc::new(
        items
            .iter()
            .map(|i| {
                (
                    b.ssp_url(i),
                    format!("https://{}/r/{}/{}", b.bare_tls, i.nhs, i.sensitive),
                )
            })
            .collect(),
    );
    let (it, tk, cl, ur) = (items.clone(), tokens.clone(), clients.clone(), urls.clone());
    cases.push(Case {
        name: format!("rotating {} migrates via SSP", items.len()),
        connections,
        goal: Goal::Ratio(0.4),
        sandbox: Arc::new(move |n| {
            let k = n as usize % it.len();
            (cl[k].clone(), it[k].request(&ur[k].0, &tk[k]))
        }),
        bare: Arc::new(move |n| {
            let k = n as usize % items.len();
            (clients[k].clone(), items[k].request(&urls[k].1, &tokens[k]))
        }),
    });
    cases.push(migrate_case(
        b,
        format!("migrate {RECORD_1M} via SSP"),
        big.clone(),
        true,
        big_connections,
        Goal::P99Ms(10.0),
    ));
    cases.push(migrate_case(
        b,
        format!("migrate {RECORD_1M} direct, HTTP"),
        big,
        false,
        big_connections,
        Goal::P99Ms(10.0),
    ));
    // PDS read, plain HTTP.
    cases.push(Case {
        name: "PDS read, HTTP".into(),
        connections,
        goal: Goal::Ratio(0.7),
        sandbox: wire::pds_reads(
            format!("http://{}{PDS_PATH}", b.sandbox.http_addr),
            b.client(CONSUMER_ASID),
        ),
        bare: wire::pds_reads(
            format!("http://{}/pds{PDS_PATH}", b.bare_http),
            b.client(CONSUMER_ASID),
        ),
    });
    // SSP forwarding a fixed answer from a provider that does no work.
    let forward = |url: String, client: BenchClient| -> MakeRequest {
        Arc::new(move |_| {
            let req = Request::get(&url)
                .header("ssp-traceid", uuid::Uuid::new_v4().hyphenated().to_string())
                .header("ssp-from", CONSUMER_ASID)
                .header("ssp-to", PROVIDER_ASID)
                .header("ssp-interactionid", interactions::STRUCTURED_METADATA)
                .header("accept", "application/fhir+json")
                .body(Full::new(Bytes::new()))
                .unwrap();
            (client.clone(), req)
        })
    };
    let target = format!(
        "{}/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir/metadata",
        b.stand_in_provider
    );
    cases.push(Case {
        name: "SSP forwarding 150 KiB".into(),
        connections,
        goal: Goal::Ratio(0.5),
        sandbox: forward(
            format!("https://{}/{target}", b.stand_in.ssp_addr),
            b.client(CONSUMER_ASID),
        ),
        bare: forward(
            format!("https://{}/metadata", b.stand_in_bare_tls),
            b.client(CONSUMER_ASID),
        ),
    });
    // `BENCH_ONLY=direct` keeps the cases whose name contains it (for a profiler).
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        cases.retain(|c| c.name.contains(only.as_str()));
    }
    cases
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    runtime.block_on(run(benching));
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

/// Every patient of the world whose record a provider holds, as their registered practice,
/// both sensitivity choices: the ones the provider answers 200, with that answer.
async fn migratable(
    world: &World,
    sandbox: &RunningSandbox,
    clients: &HashMap<String, BenchClient>,
) -> Vec<(Item, Response<Bytes>)> {
    let mut found = Vec::new();
    for p in &world.patients {
        let (Some(holder), Some(registered)) = (
            world.practice(p.record_at.as_str()),
            world.practice(p.registered_with.as_str()),
        ) else {
            continue;
        };
        if !holder.provider {
            continue;
        }
        for sensitive in [false, true] {
            let nhs = p.nhs_number.as_str();
            let item = Item {
                nhs: nhs.to_owned(),
                sensitive,
                holder_ods: holder.ods.as_str().to_owned(),
                holder_asid: holder.asid.as_str().to_owned(),
                as_ods: registered.ods.as_str().to_owned(),
                as_asid: registered.asid.as_str().to_owned(),
                body: Bytes::from(
                    serde_json::to_vec(&spine_sandbox::migrate_parameters(nhs, sensitive)).unwrap(),
                ),
            };
            let url = format!("{}{}", sandbox.shared.public_url, item.path());
            let resp = clients[&item.as_asid]
                .request(item.request(&url, &item.token()))
                .await
                .unwrap();
            if resp.status() == 200 {
                found.push((item, wire::capture(resp).await));
            }
        }
    }
    found
}

async fn run(benching: bool) {
    let seconds = if benching {
        wire::env_number("BENCH_SECS", 2)
    } else {
        0
    };
    let duration = if benching {
        Duration::from_secs(seconds.max(1))
    } else {
        Duration::from_millis(200)
    };
    let rounds = if benching {
        wire::env_number("BENCH_ROUNDS", 3).max(1)
    } else {
        1
    };
    let connections = if benching {
        wire::env_number("BENCH_CONNECTIONS", 32).max(1)
    } else {
        4
    };
    let big_connections = 8.min(connections);
    let rss = RssSampler::start();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-certs");
    let layout = Layout::new(&certs);
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.yaml");
    let world = || {
        load_paths(
            std::slice::from_ref(&scenario),
            chrono::Utc::now().date_naive(),
        )
        .unwrap()
    };

    let w = world();
    let sandbox = Sandbox::start(config(&certs, None), world(), Clock::system())
        .await
        .unwrap();
    let clients: HashMap<String, BenchClient> = w
        .practices
        .iter()
        .map(|p| {
            (
                p.asid.as_str().to_owned(),
                wire::client(&layout, p.asid.as_str()),
            )
        })
        .collect();
    let found = migratable(&w, &sandbox, &clients).await;
    let mut by_path = HashMap::new();
    for (item, resp) in &found {
        by_path.insert(format!("/r/{}/{}", item.nhs, item.sensitive), resp.clone());
    }
    // The PDS answer, captured.
    let pds_url = format!("http://{}{PDS_PATH}", sandbox.http_addr);
    let pds_answer = {
        let req = Request::get(&pds_url)
            .header(
                "x-request-id",
                uuid::Uuid::new_v4().hyphenated().to_string(),
            )
            .body(Full::new(Bytes::new()))
            .unwrap();
        wire::capture(clients[CONSUMER_ASID].request(req).await.unwrap()).await
    };
    by_path.insert(format!("/pds{PDS_PATH}"), pds_answer.clone());
    let answers = Answers {
        by_path: Arc::new(by_path),
        default: pds_answer,
    };
    let bare_http = wire::start_bare(answers.clone(), None).await;
    let bare_tls = wire::start_bare(answers, Some(&layout)).await;

    // SSP in front of a provider that answers 150 KiB without work: a second sandbox whose
    // SDS points at it.
    let stand_in_body = {
        let mut s = String::from("{\"resourceType\":\"Bundle\",\"entry\":[");
        while s.len() < STAND_IN_BYTES - 100 {
            s.push_str("{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"obs\"}},");
        }
        s.push_str("{}]}");
        s.extend(std::iter::repeat_n(' ', STAND_IN_BYTES - s.len()));
        Bytes::from(s)
    };
    let mut stand_in_answer = Response::new(stand_in_body);
    stand_in_answer.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json;charset=utf-8"),
    );
    let provider = wire::start_bare(Answers::one(stand_in_answer.clone()), None).await;
    let stand_in_provider = format!("http://{provider}");
    let stand_in = Sandbox::start(
        config(&certs, Some(stand_in_provider.clone())),
        world(),
        Clock::system(),
    )
    .await
    .unwrap();
    let stand_in_bare_tls = wire::start_bare(Answers::one(stand_in_answer), Some(&layout)).await;

    let bench = Bench {
        sandbox,
        stand_in,
        stand_in_provider,
        clients,
        items: found.iter().map(|(i, _)| i.clone()).collect(),
        bare_http,
        bare_tls,
        stand_in_bare_tls,
    };
    let sizes: HashMap<(String, bool), usize> = found
        .iter()
        .map(|(i, r)| ((i.nhs.clone(), i.sensitive), r.body().len()))
        .collect();
    println!(
        "migrate_wire: {} cores, {connections} keep-alive connections ({big_connections} for the 1.2 MB record), {rounds} interleaved rounds of {:.1} s per side",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        duration.as_secs_f64()
    );
    println!(
        "  records: {RECORD_136K} with sensitive information {} bytes, {RECORD_1M} {} bytes; {} migratable (patient, sensitivity) pairs, {} bytes in all",
        sizes[&(RECORD_136K.to_owned(), true)],
        sizes[&(RECORD_1M.to_owned(), false)],
        sizes.len(),
        sizes.values().sum::<usize>()
    );
    println!("  load average at start: {}", wire::load_average());
    let (lo, hi, _) = rss.take();
    println!("  RSS after set-up: {lo:.0}..{hi:.0} MiB");

    let names: Vec<String> = cases(&bench, connections, big_connections)
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut results: Vec<(Vec<Figures>, Vec<Figures>)> =
        names.iter().map(|_| (Vec::new(), Vec::new())).collect();
    for round in 1..=rounds {
        // Fresh tokens each round (they live 300 s).
        for (case, result) in cases(&bench, connections, big_connections)
            .into_iter()
            .zip(results.iter_mut())
        {
            result
                .0
                .push(wire::measure(&case.sandbox, case.connections, duration).await);
            result
                .1
                .push(wire::measure(&case.bare, case.connections, duration).await);
        }
        let (lo, hi, n) = rss.take();
        println!(
            "  round {round}: RSS {lo:.0}..{hi:.0} MiB ({n} samples), load average {}",
            wire::load_average()
        );
    }

    println!(
        "\n  {:<36} {:>5} {:>10} {:>7} {:>7} {:>10} {:>7} {:>6}  goal",
        "case", "conns", "sandbox/s", "p50 ms", "p99 ms", "bare/s", "p99 ms", "ratio"
    );
    let goals = cases(&bench, connections, big_connections);
    for ((name, (mut sandbox, mut bare)), case) in names.into_iter().zip(results).zip(goals) {
        sandbox.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
        bare.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
        let s = &sandbox[sandbox.len() / 2];
        let b = &bare[bare.len() / 2];
        let ratio = s.per_second() / b.per_second();
        let goal = match case.goal {
            Goal::Ratio(want) => format!(
                "ratio >= {want}: {}",
                if ratio >= want { "met" } else { "NOT met" }
            ),
            Goal::P99Ms(want) => format!(
                "p99 < {want} ms: {}",
                if s.percentile_ms(0.99) < want {
                    "met"
                } else {
                    "NOT met"
                }
            ),
        };
        println!(
            "  {:<36} {:>5} {:>10.0} {:>7.2} {:>7.2} {:>10.0} {:>7.2} {:>6.2}  {goal}",
            name,
            case.connections,
            s.per_second(),
            s.percentile_ms(0.5),
            s.percentile_ms(0.99),
            b.per_second(),
            b.percentile_ms(0.99),
            ratio
        );
    }
    let stats = bench.sandbox.shared.migrate_cache.stats();
    println!(
        "\n  migrate cache: {} Bundles, {} bytes, {} hits, {} misses",
        stats.entries, stats.bytes, stats.hits, stats.misses
    );
    println!("  load average at the end: {}", wire::load_average());
}
