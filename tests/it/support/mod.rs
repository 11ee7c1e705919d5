//! The test harness: a real sandbox started in-process on port 0, and clients that talk to it
//! the way a consumer would.

#![allow(dead_code)]

pub(crate) mod echo;
pub(crate) mod tls_clients;
pub(crate) mod worlds;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use spine_sandbox::Config;
use spine_sandbox::{Clock, RunningSandbox, Sandbox, World, load_paths};

/// The day every test resolves relative scenario dates against.
pub(crate) fn start_day() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A fresh, empty folder under the target directory for this test's certificates and files.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running sandbox and what a test needs to talk to it.
pub(crate) struct TestSandbox {
    pub running: RunningSandbox,
    pub base: String,
    pub ssp_base: String,
    pub certs_dir: PathBuf,
    pub http: reqwest::Client,
}

/// One certificate folder per test process: generating keys is the slow part.
pub(crate) fn shared_certs_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| temp_dir("certs")).clone()
}

impl TestSandbox {
    /// The new practice's journey for `patient`, played as `as_ods` against this sandbox, with
    /// no authentication and the registration changed first.
    pub(crate) fn journey_options(
        &self,
        patient: &str,
        as_ods: &str,
    ) -> spine_sandbox::JourneyOptions {
        spine_sandbox::JourneyOptions {
            patient: patient.to_owned(),
            as_ods: as_ods.to_owned(),
            skip_registration_change: false,
            sensitive: false,
            from: None,
            sandbox_url: self.base.clone(),
            ssp_url: self.ssp_base.clone(),
            certs_dir: self.certs_dir.clone(),
            auth: None,
            operation: Default::default(),
            retrieve: Default::default(),
        }
    }

    /// Starts the sandbox on `scenario` (a path relative to the repository, e.g.
    /// `scenarios/default.yaml` or `tests/fixtures/scenarios/x.yaml`).
    pub(crate) async fn start(scenario_path: &str) -> Self {
        Self::start_with(scenario_path, Clock::system(), |_| {}).await
    }

    pub(crate) async fn start_with(
        scenario_path: &str,
        clock: Clock,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let world = load_paths(&[repo_path(scenario_path)], start_day()).unwrap_or_else(|errors| {
            panic!(
                "scenario {scenario_path} does not load:\n{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        Self::start_world_with(world, clock, |config| {
            config.scenario = vec![repo_path(scenario_path)];
            adjust(config);
        })
        .await
    }

    /// Starts the sandbox on a world built in the test (no scenario file needed).
    pub(crate) async fn start_world(world: World) -> Self {
        Self::start_world_with(world, Clock::system(), |_| {}).await
    }

    pub(crate) async fn start_world_with(
        world: World,
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

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub(crate) async fn journal(&self) -> Vec<Value> {
        let v: Value = self.get("/_admin/journal").await.json().await.unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    /// `POST /_admin/faults` with `rule`: the status and the answer.
    pub(crate) async fn set_fault(&self, rule: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url("/_admin/faults"))
            .json(&rule)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn reset(&self) -> reqwest::StatusCode {
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
pub(crate) fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The first issue's Spine code of an OperationOutcome body.
pub(crate) fn spine_code(outcome: &Value) -> &str {
    outcome["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("")
}

pub(crate) fn diagnostics(outcome: &Value) -> &str {
    outcome["issue"][0]["diagnostics"].as_str().unwrap_or("")
}

// ---- GP Connect provider calls (migrate structured record, migrate a document, metadata) ----

pub(crate) use provider_calls::*;

mod provider_calls {
    use serde_json::{Value, json};
    use spine_sandbox::interactions;
    use spine_sandbox::migrate_parameters as parameters;
    use spine_sandbox::{
        DirectCareTokenRequest, MigrateTokenRequest, PractitionerClaim, encode_unsigned,
    };

    use super::TestSandbox;

    pub(crate) const PATIENT2: &str = "9690937286";
    pub(crate) const PATIENT18: &str = "9690938681";
    pub(crate) const NOT_IN_SYSTEM: &str = "9999999999";
    pub(crate) const OLD_PRACTICE: &str = "B82617";
    pub(crate) const OLD_PRACTICE_ASID: &str = "918999198738";
    pub(crate) const SUITE_ODS: &str = "GPCA0001";
    pub(crate) const SUITE_ASID: &str = "200000000359";
    pub(crate) const MIGRATE_PATH: &str = "Patient/$gpc.migratestructuredrecord";

    /// The assurance suite's practitioner claim (`docs/migrate.md`).
    pub(crate) fn suite_practitioner() -> PractitionerClaim {
        PractitionerClaim::assurance_suite()
    }

    /// A GP Connect request to a provider, as the assurance suite sends it; every part can be
    /// changed before it is sent.
    #[derive(Clone)]
    pub(crate) struct ProviderCall {
        pub method: reqwest::Method,
        pub ods: String,
        /// After `/{ODS}/STU3/1/gpconnect/`, e.g. `structured/fhir/metadata`.
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub claims: Value,
        /// The Authorization header value when set (overrides `claims`).
        pub authorization: Option<String>,
        pub body: Option<Vec<u8>>,
    }

    fn ssp_headers(interaction: &str) -> Vec<(String, String)> {
        vec![
            ("Ssp-TraceID".into(), uuid::Uuid::new_v4().to_string()),
            ("Ssp-From".into(), SUITE_ASID.into()),
            ("Ssp-To".into(), OLD_PRACTICE_ASID.into()),
            ("Ssp-InteractionID".into(), interaction.into()),
            ("Accept".into(), "application/fhir+json".into()),
        ]
    }

    impl ProviderCall {
        /// Migrate structured record as the suite's "WithSensitive"/"WithoutSensitive" steps.
        pub(crate) fn migrate(nhs: &str, sensitive: bool) -> Self {
            let mut headers = ssp_headers(interactions::MIGRATE_STRUCTURED);
            headers.push(("Content-Type".into(), "application/fhir+json".into()));
            let claims = MigrateTokenRequest {
                requesting_ods: SUITE_ODS.into(),
                requesting_name: "GP Connect Assurance".into(),
                requesting_asid: SUITE_ASID.into(),
                audience: "https://authorize.fhir.nhs.net/token/".into(),
                practitioner: Some(suite_practitioner()),
                sensitive,
                now: chrono::Utc::now(),
            }
            .claims();
            Self {
                method: reqwest::Method::POST,
                ods: OLD_PRACTICE.into(),
                path: format!("structured/fhir/{MIGRATE_PATH}"),
                headers,
                claims,
                authorization: None,
                body: Some(serde_json::to_vec(&parameters(nhs, sensitive)).unwrap()),
            }
        }

        /// Migrate a document at an absolute Binary URL, with the suite's `directcare` token.
        pub(crate) fn document(ods: &str, binary_id: &str) -> Self {
            Self {
                method: reqwest::Method::GET,
                ods: ods.into(),
                path: format!("documents/fhir/Binary/{binary_id}"),
                headers: ssp_headers(interactions::MIGRATE_DOCUMENT),
                claims: direct_care_claims("patient/*.read"),
                authorization: None,
                body: None,
            }
        }

        /// `GET metadata` of the structured or documents capability.
        pub(crate) fn metadata(capability: &str) -> Self {
            let interaction = if capability == "documents" {
                interactions::DOCUMENTS_METADATA
            } else {
                interactions::STRUCTURED_METADATA
            };
            Self {
                method: reqwest::Method::GET,
                ods: OLD_PRACTICE.into(),
                path: format!("{capability}/fhir/metadata"),
                headers: ssp_headers(interaction),
                claims: direct_care_claims("organization/*.read"),
                authorization: None,
                body: None,
            }
        }

        pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
            self = self.without_header(name);
            self.headers.push((name.into(), value.into()));
            self
        }

        pub(crate) fn without_header(mut self, name: &str) -> Self {
            self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            if name.eq_ignore_ascii_case("authorization") {
                self.authorization = Some(String::new());
            }
            self
        }

        pub(crate) fn claim(mut self, name: &str, value: Value) -> Self {
            self.claims[name] = value;
            self
        }

        pub(crate) fn without_claim(mut self, name: &str) -> Self {
            self.claims.as_object_mut().unwrap().remove(name);
            self
        }

        /// Replaces the Parameters body.
        pub(crate) fn parameters(mut self, body: Value) -> Self {
            self.body = Some(serde_json::to_vec(&body).unwrap());
            self
        }

        pub(crate) fn raw_body(mut self, body: &[u8]) -> Self {
            self.body = Some(body.to_vec());
            self
        }

        /// Adds a parameter to the Parameters body.
        pub(crate) fn extra_parameter(self, parameter: Value) -> Self {
            let mut body: Value = serde_json::from_slice(self.body.as_deref().unwrap()).unwrap();
            body["parameter"].as_array_mut().unwrap().push(parameter);
            self.parameters(body)
        }

        pub(crate) fn trace_id(&self) -> &str {
            self.headers
                .iter()
                .find(|(k, _)| k == "Ssp-TraceID")
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        }

        pub(crate) fn url(&self, sandbox: &TestSandbox) -> String {
            sandbox.url(&format!("/{}/STU3/1/gpconnect/{}", self.ods, self.path))
        }

        /// Sends to `url` (the provider directly by default).
        pub(crate) async fn send_to(&self, sandbox: &TestSandbox, url: &str) -> (u16, Value) {
            self.send_with(&sandbox.http, url).await
        }

        /// Sends with `client` (e.g. an SSP client holding a consumer certificate) to `url`.
        pub(crate) async fn send_with(&self, client: &reqwest::Client, url: &str) -> (u16, Value) {
            let mut req = client.request(self.method.clone(), url);
            for (k, v) in &self.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let auth = match &self.authorization {
                Some(a) if a.is_empty() => None,
                Some(a) => Some(a.clone()),
                None => Some(format!("Bearer {}", encode_unsigned(&self.claims))),
            };
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            if let Some(body) = &self.body {
                req = req.body(body.clone());
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            let body = serde_json::from_slice(&bytes).unwrap_or_else(
                |_| json!({ "unparsed": String::from_utf8_lossy(&bytes).into_owned() }),
            );
            (status, body)
        }

        pub(crate) async fn send(&self, sandbox: &TestSandbox) -> (u16, Value) {
            self.send_to(sandbox, &self.url(sandbox)).await
        }
    }

    pub(crate) fn direct_care_claims(scope: &str) -> Value {
        DirectCareTokenRequest {
            requesting_ods: SUITE_ODS.into(),
            requesting_name: "GP Connect Assurance".into(),
            requesting_asid: SUITE_ASID.into(),
            audience: "https://authorize.fhir.nhs.net/token/".into(),
            practitioner: suite_practitioner(),
            requested_scope: scope.into(),
            now: chrono::Utc::now(),
        }
        .claims()
    }

    /// The resources of a Bundle.
    pub(crate) fn resources(bundle: &Value) -> Vec<&Value> {
        bundle["entry"]
            .as_array()
            .map(|a| a.iter().map(|e| &e["resource"]).collect())
            .unwrap_or_default()
    }

    pub(crate) fn of_type<'b>(bundle: &'b Value, resource_type: &str) -> Vec<&'b Value> {
        resources(bundle)
            .into_iter()
            .filter(|r| r["resourceType"] == resource_type)
            .collect()
    }

    pub(crate) fn lists_titled<'b>(bundle: &'b Value, title: &str) -> Vec<&'b Value> {
        of_type(bundle, "List")
            .into_iter()
            .filter(|r| r["title"] == title)
            .collect()
    }

    /// The suite's `TestOperationOutcomeResource` (`docs/migrate.md`) plus our own
    /// rules: STU3 GP Connect profile and CodeSystem, the expected status and code, a diagnostic.
    pub(crate) fn assert_outcome(status: u16, body: &Value, expected_status: u16, code: &str) {
        assert_eq!(status, expected_status, "{body:#}");
        assert_eq!(body["resourceType"], "OperationOutcome", "{body:#}");
        assert_eq!(
            body["meta"]["profile"][0],
            "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"
        );
        let issues = body["issue"].as_array().unwrap();
        assert!(!issues.is_empty());
        for issue in issues {
            assert_eq!(issue["severity"], "error");
            assert!(issue["code"].is_string());
            let codings = issue["details"]["coding"].as_array().unwrap();
            assert_eq!(codings.len(), 1);
            assert_eq!(
                codings[0]["system"],
                "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1"
            );
            assert!(codings[0]["display"].is_string());
            assert!(!issue["diagnostics"].as_str().unwrap_or("").is_empty());
        }
        assert_eq!(issues[0]["details"]["coding"][0]["code"], code, "{body:#}");
    }
}
