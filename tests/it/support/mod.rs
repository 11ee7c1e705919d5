//! The test harness: a real sandbox started in-process on port 0, and clients that talk to it
//! the way a consumer would.

#![allow(dead_code)]

pub mod echo;
pub mod tls_clients;
pub mod worlds;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use spine_sandbox::config::Config;
use spine_sandbox::{Clock, RunningSandbox, Sandbox, scenario};

/// The day every test resolves relative scenario dates against.
pub fn start_day() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A fresh, empty folder under the target directory for this test's certificates and files.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running sandbox and what a test needs to talk to it.
pub struct TestSandbox {
    pub running: RunningSandbox,
    pub base: String,
    pub ssp_base: String,
    pub certs_dir: PathBuf,
    pub http: reqwest::Client,
}

/// One certificate folder per test process: generating keys is the slow part.
pub fn shared_certs_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| temp_dir("certs")).clone()
}

impl TestSandbox {
    /// Starts the sandbox on `scenario` (a path relative to the repository, e.g.
    /// `scenarios/default.yaml` or `tests/fixtures/scenarios/x.yaml`).
    pub async fn start(scenario_path: &str) -> Self {
        Self::start_with(scenario_path, Clock::system(), |_| {}).await
    }

    pub async fn start_with(
        scenario_path: &str,
        clock: Clock,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let world = scenario::load_paths(&[repo_path(scenario_path)], start_day()).unwrap_or_else(
            |errors| {
                panic!(
                    "scenario {scenario_path} does not load:\n{}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        );
        Self::start_world_with(world, clock, |config| {
            config.scenario = vec![repo_path(scenario_path)];
            adjust(config);
        })
        .await
    }

    /// Starts the sandbox on a world built in the test (no scenario file needed).
    pub async fn start_world(world: scenario::World) -> Self {
        Self::start_world_with(world, Clock::system(), |_| {}).await
    }

    pub async fn start_world_with(
        world: scenario::World,
        clock: Clock,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            ssp_addr: "127.0.0.1:0".parse().unwrap(),
            certs_dir: shared_certs_dir(),
            ..Config::default()
        };
        adjust(&mut config);
        let certs_dir = config.certs_dir.clone();
        let running = Sandbox::start(config, world, clock).await.unwrap();
        let base = format!("http://{}", running.http_addr);
        let ssp_base = format!("https://{}", running.ssp_addr);
        let http = http_client();
        Self {
            running,
            base,
            ssp_base,
            certs_dir,
            http,
        }
    }

    /// Starts the sandbox on a world built in the test, without a scenario file.
    pub async fn start_world(world: scenario::World) -> Self {
        Self::start_world_with(world, |_| {}).await
    }

    pub async fn start_world_with(
        world: scenario::World,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            scenario: Vec::new(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            ssp_addr: "127.0.0.1:0".parse().unwrap(),
            certs_dir: shared_certs_dir(),
            ..Config::default()
        };
        adjust(&mut config);
        let certs_dir = config.certs_dir.clone();
        let running = Sandbox::start(config, world, Clock::system())
            .await
            .unwrap();
        let base = format!("http://{}", running.http_addr);
        let ssp_base = format!("https://{}", running.ssp_addr);
        let http = http_client();
        Self {
            running,
            base,
            ssp_base,
            certs_dir,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn journal(&self) -> Vec<Value> {
        let v: Value = self.get("/_admin/journal").await.json().await.unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn reset(&self) -> reqwest::StatusCode {
        self.http
            .post(self.url("/_admin/reset"))
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// A reqwest client for plain HTTP. reqwest is built without a default crypto provider (the
/// crate uses ring only), so the test process installs ring as the default once.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The first issue's Spine code of an OperationOutcome body.
pub fn spine_code(outcome: &Value) -> &str {
    outcome["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("")
}

pub fn diagnostics(outcome: &Value) -> &str {
    outcome["issue"][0]["diagnostics"].as_str().unwrap_or("")
}
