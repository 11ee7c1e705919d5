//! External providers (`docs/provider-assurance.md`): a practice names a GP Connect provider
//! outside the sandbox; SDS advertises its URLs and SSP forwards to it over TLS with SSP's own
//! client certificate, trusting the sandbox CA or the CA file the scenario names.

use std::path::PathBuf;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use spine_sandbox::Clock;
use spine_sandbox::ExternalProvider;
use spine_sandbox::ssp_server_config;
use spine_sandbox::{
    CheckStatus as Status, ProviderCheckOptions, ProviderCheckReport, profile_problems,
    run_provider_check,
};
use spine_sandbox::{Layout, Validity, ensure_pki, ensure_providers, ssp_hosts};
use spine_sandbox::{interactions::MIGRATE_DOCUMENT, interactions::MIGRATE_STRUCTURED};

use crate::support::echo::{EchoProvider, Reply};
use crate::support::tls_clients::{other_ca, ssp_headers};
use crate::support::worlds::{self, CONSUMER_ASID, PROVIDER_ASID, PROVIDER_ODS};
use crate::support::{TestSandbox, shared_certs_dir, temp_dir};

const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const INTERACTION_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhsServiceInteractionId";

/// The shared certificates folder, with its CA, SSP certificate and a provider certificate for
/// 127.0.0.1 (what `spine-sandbox certs --provider-host 127.0.0.1` writes).
fn certs_with_provider_host() -> Layout {
    let dir = shared_certs_dir();
    let systems = vec![crate::support::tls_clients::system(
        worlds::CONSUMER_ODS,
        CONSUMER_ASID,
    )];
    ensure_pki(&dir, &systems, &ssp_hosts(None, &[])).unwrap();
    ensure_providers(&dir, &["127.0.0.1".to_owned()]).unwrap();
    Layout::new(&dir)
}

/// A stand-in https provider with this certificate, asking for a client certificate.
async fn tls_provider(cert_pem: &str, key_pem: &str, layout: &Layout) -> EchoProvider {
    let dir = temp_dir("provider-cert");
    let (cert, key) = (dir.join("p.pem"), dir.join("p-key.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let (server, _) = ssp_server_config(&layout.ca_cert(), &cert, &key).unwrap();
    EchoProvider::start_tls(Reply::default(), server).await
}

fn structured_base(echo: &EchoProvider) -> String {
    format!(
        "{}/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir",
        echo.base
    )
}

/// The SSP test world with the provider practice served by `external`.
async fn sandbox_with(external: ExternalProvider) -> TestSandbox {
    let mut world = worlds::practices_only();
    for p in &mut world.practices {
        if p.ods.as_str() == PROVIDER_ODS {
            p.external = Some(external.clone());
        }
    }
    TestSandbox::start_world_with(world, Clock::system(), |_| {}).await
}

async fn migrate_through_ssp(sandbox: &TestSandbox, base: &str) -> (u16, Value) {
    let mut headers = ssp_headers(CONSUMER_ASID, PROVIDER_ASID, MIGRATE_STRUCTURED);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer e30.e30."));
    let target = format!("{base}/Patient/$gpc.migratestructuredrecord");
    let resp = sandbox
        .ssp_client(CONSUMER_ASID)
        .post(sandbox.ssp_url(&target))
        .headers(headers)
        .body("{\"resourceType\":\"Parameters\"}")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn sds_endpoints(sandbox: &TestSandbox, interaction: &str) -> Vec<String> {
    let body: Value = sandbox
        .get(&format!(
            "/spine-directory/FHIR/R4/Endpoint?organization={ODS_SYSTEM}|{PROVIDER_ODS}&identifier={INTERACTION_SYSTEM}|{interaction}"
        ))
        .await
        .json()
        .await
        .unwrap();
    body["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["resource"]["address"].as_str().map(str::to_owned))
        .collect()
}

fn ssp_entries(journal: &[Value]) -> Vec<&Value> {
    journal.iter().filter(|e| e["service"] == "ssp").collect()
}

#[tokio::test]
async fn an_external_provider_is_advertised_by_sds_and_reached_over_tls_with_the_ssp_certificate() {
    let layout = certs_with_provider_host();
    let echo = tls_provider(
        &std::fs::read_to_string(layout.provider_cert("127.0.0.1")).unwrap(),
        &std::fs::read_to_string(layout.provider_key("127.0.0.1")).unwrap(),
        &layout,
    )
    .await;
    let base = structured_base(&echo);
    let sandbox = sandbox_with(ExternalProvider {
        structured: base.clone(),
        documents: None,
        ca: None,
    })
    .await;

    assert_eq!(
        sds_endpoints(&sandbox, MIGRATE_STRUCTURED).await,
        vec![base.clone()]
    );
    // No documents URL named: not registered for migrate a document.
    assert!(sds_endpoints(&sandbox, MIGRATE_DOCUMENT).await.is_empty());

    let (status, body) = migrate_through_ssp(&sandbox, &base).await;
    assert_eq!(status, 200, "{body}");
    let got = echo.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].path_and_query,
        format!(
            "/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord"
        )
    );
    let subject = got[0].client_subject.clone().unwrap_or_default();
    assert!(subject.contains("CN=ssp.sandbox.spine.local"), "{subject}");
    let journal = sandbox.journal().await;
    let hop = ssp_entries(&journal);
    assert!(
        hop.iter()
            .any(|e| e["status"] == 200
                && e["target"].as_str().is_some_and(|t| t.starts_with(&base))),
        "{journal:?}"
    );

    // The built-in provider no longer answers for the practice.
    let resp = sandbox
        .get(&format!(
            "/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir/metadata"
        ))
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_provider_certificate_from_another_ca_is_trusted_only_when_the_scenario_names_that_ca() {
    let layout = certs_with_provider_host();
    let issued = other_ca()
        .issue_provider("127.0.0.1", Validity::days_from_today(30))
        .unwrap();
    let echo = tls_provider(&issued.cert_pem, &issued.key_pem, &layout).await;
    let base = structured_base(&echo);

    let untrusted = sandbox_with(ExternalProvider {
        structured: base.clone(),
        documents: None,
        ca: None,
    })
    .await;
    let (status, body) = migrate_through_ssp(&untrusted, &base).await;
    assert_eq!(status, 502, "{body}");
    let token = body["issue"][0]["details"]["coding"][0]["display"]
        .as_str()
        .unwrap_or_default();
    assert!(
        token.starts_with("ERROR_COMMUNICATING_TO_ENDPOINT_URL_"),
        "{body}"
    );
    assert!(echo.received().is_empty());

    let ca_file: PathBuf = temp_dir("provider-ca").join("provider-ca.pem");
    std::fs::write(&ca_file, other_ca().cert_pem()).unwrap();
    let trusted = sandbox_with(ExternalProvider {
        structured: base.clone(),
        documents: None,
        ca: Some(ca_file),
    })
    .await;
    let (status, body) = migrate_through_ssp(&trusted, &base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echo.received().len(), 1);
}

#[tokio::test]
async fn faults_apply_to_an_external_provider_as_to_a_built_in_one() {
    let layout = certs_with_provider_host();
    let echo = tls_provider(
        &std::fs::read_to_string(layout.provider_cert("127.0.0.1")).unwrap(),
        &std::fs::read_to_string(layout.provider_key("127.0.0.1")).unwrap(),
        &layout,
    )
    .await;
    let base = structured_base(&echo);
    let sandbox = sandbox_with(ExternalProvider {
        structured: base.clone(),
        documents: None,
        ca: None,
    })
    .await;
    let (status, _) = sandbox
        .set_fault(serde_json::json!({"service": "ssp", "status": 503}))
        .await;
    assert!(status < 300, "fault not set: {status}");
    let (status, _) = migrate_through_ssp(&sandbox, &base).await;
    assert_eq!(status, 503);
    assert!(echo.received().is_empty());
}

#[test]
fn a_scenario_names_an_external_provider_with_https_urls_and_a_ca_file_beside_it() {
    let dir = temp_dir("external-scenario");
    std::fs::write(dir.join("their-ca.pem"), other_ca().cert_pem()).unwrap();
    let good = "practices:\n  - ods: B82617\n    name: Under Test\n    asid: '918999198738'\n    external_provider:\n      structured: https://gp.example:9443/B82617/STU3/1/gpconnect/structured/fhir\n      documents: https://gp.example:9443/B82617/STU3/1/gpconnect/documents/fhir\n      ca: their-ca.pem\n";
    std::fs::write(dir.join("good.yaml"), good).unwrap();
    let world =
        spine_sandbox::load_paths(&[dir.join("good.yaml")], crate::support::start_day()).unwrap();
    let external = world.practices[0].external.clone().unwrap();
    assert_eq!(
        external.documents.as_deref(),
        Some("https://gp.example:9443/B82617/STU3/1/gpconnect/documents/fhir")
    );
    assert_eq!(external.ca, Some(dir.join("their-ca.pem")));

    let bad = "practices:\n  - ods: B82617\n    name: Under Test\n    asid: '918999198738'\n    external_provider:\n      structured: http://gp.example/fhir\n      ca: missing.pem\n";
    std::fs::write(dir.join("bad.yaml"), bad).unwrap();
    let errors = spine_sandbox::load_paths(&[dir.join("bad.yaml")], crate::support::start_day())
        .unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(
        text[0].contains(":6:") && text[0].contains("https://"),
        "{text:?}"
    );
    assert!(
        text[1].contains(":7:") && text[1].contains("missing.pem"),
        "{text:?}"
    );
}

// ---- the provider check ----

fn check_options(sandbox: &TestSandbox, practice: &str) -> ProviderCheckOptions {
    ProviderCheckOptions {
        practice: practice.to_owned(),
        sandbox_url: sandbox.base.clone(),
        ssp_url: sandbox.ssp_base.clone(),
        certs_dir: sandbox.certs_dir.clone(),
        as_ods: None,
        admin_key: None,
    }
}

fn statuses(report: &ProviderCheckReport) -> Vec<(&'static str, Status)> {
    report.checks.iter().map(|c| (c.id, c.status)).collect()
}

#[tokio::test]
async fn the_built_in_provider_passes_every_provider_check_with_journal_hops() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let report = run_provider_check(&check_options(&sandbox, "B82617"))
        .await
        .unwrap();
    let text = report.text();
    assert_eq!(
        statuses(&report),
        vec![
            ("structured-metadata", Status::Pass),
            ("no-relationship", Status::Pass),
            ("record-without-sensitive", Status::Pass),
            ("record-with-sensitive", Status::Pass),
            ("extra-parameter", Status::Pass),
            ("jwt-missing-reason", Status::Pass),
            ("migrate-documents", Status::Pass),
            ("relationship-follows-pds", Status::Pass),
            ("deceased-patient", Status::Pass),
            ("sensitive-patient", Status::Pass),
            ("provider-read-pds", Status::NotReached),
        ],
        "{text}"
    );
    assert_eq!(report.exit_code(), 0);
    // Each check names the SSP hop and the provider's answer behind it.
    for check in report.checks.iter().filter(|c| c.status == Status::Pass) {
        assert!(
            check.hops.iter().any(|h| h.starts_with("ssp ")),
            "{}: {:?}",
            check.id,
            check.hops
        );
    }
    let junit = report.junit();
    assert!(
        junit.contains("tests=\"11\" failures=\"0\" skipped=\"1\""),
        "{junit}"
    );
    // The patients' registrations are back as the scenario has them.
    let scenario: Value = sandbox.get("/_admin/scenario").await.json().await.unwrap();
    for p in scenario["patients"].as_array().unwrap() {
        assert_eq!(p["registered_with"], p["scenario_registered_with"], "{p}");
    }
}

#[tokio::test]
async fn a_stand_in_provider_that_always_answers_200_fails_every_check_but_the_records() {
    // An https stand-in that answers every request with the same Bundle, one of whose
    // references dangles: it never reads PDS, ignores the deceased and sensitive flags, the
    // parameters and the JWT, and its Bundle is not sound.
    let layout = certs_with_provider_host();
    let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[
        {"resource":{"resourceType":"Patient","id":"1"}},
        {"resource":{"resourceType":"List","id":"l","subject":{"reference":"Patient/1"},
          "entry":[{"item":{"reference":"Condition/gone"}}]}}]}"#;
    let dir = temp_dir("always-200");
    let (cert, key) = (dir.join("p.pem"), dir.join("p-key.pem"));
    std::fs::copy(layout.provider_cert("127.0.0.1"), &cert).unwrap();
    std::fs::copy(layout.provider_key("127.0.0.1"), &key).unwrap();
    let (server, _) = ssp_server_config(&layout.ca_cert(), &cert, &key).unwrap();
    let echo = EchoProvider::start_tls(
        Reply {
            body: bytes::Bytes::from_static(bundle.as_bytes()),
            ..Reply::default()
        },
        server,
    )
    .await;
    let mut world = spine_sandbox::load_paths(
        &[crate::support::repo_path("scenarios/default.yaml")],
        crate::support::start_day(),
    )
    .unwrap();
    for p in &mut world.practices {
        if p.ods.as_str() == "B82617" {
            p.external = Some(ExternalProvider {
                structured: format!("{}/B82617/STU3/1/gpconnect/structured/fhir", echo.base),
                documents: None,
                ca: None,
            });
        }
    }
    let sandbox = TestSandbox::start_world(world).await;
    let report = run_provider_check(&check_options(&sandbox, "B82617"))
        .await
        .unwrap();
    let text = report.text();
    assert_eq!(
        statuses(&report),
        vec![
            ("structured-metadata", Status::Fail),
            ("no-relationship", Status::Fail),
            ("record-without-sensitive", Status::Fail),
            ("record-with-sensitive", Status::Fail),
            ("extra-parameter", Status::Fail),
            ("jwt-missing-reason", Status::Fail),
            ("migrate-documents", Status::NotReached),
            ("relationship-follows-pds", Status::Fail),
            ("deceased-patient", Status::Fail),
            ("sensitive-patient", Status::Fail),
            ("provider-read-pds", Status::Fail),
        ],
        "{text}"
    );
    assert!(text.contains("List/l refers to Condition/gone"), "{text}");
    assert_eq!(report.exit_code(), 2);
}

/// Alters a request on its way to the provider behind a [`TlsFront`].
type RequestHook = fn(&mut http::HeaderMap, &mut bytes::Bytes);
/// Alters an answer (of the request with this path) on its way back.
type ResponseHook = fn(&str, &mut bytes::Bytes);

/// A TLS front for another sandbox's plain-HTTP listener: what a provider supplier's system
/// looks like to SSP (https, the certificate `certs --provider-host` wrote, SSP's client
/// certificate asked for). Requests and answers pass through unchanged, or altered by hooks
/// (the wrong stand-in providers).
struct TlsFront {
    base: String,
    target: std::sync::Arc<std::sync::OnceLock<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsFront {
    async fn start(layout: &Layout) -> Self {
        Self::start_altering(layout, None, None).await
    }

    async fn start_altering(
        layout: &Layout,
        on_request: Option<RequestHook>,
        on_response: Option<ResponseHook>,
    ) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let (server, _) = ssp_server_config(
            &layout.ca_cert(),
            &layout.provider_cert("127.0.0.1"),
            &layout.provider_key("127.0.0.1"),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let target: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
        let to = target.clone();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, http, to) = (acceptor.clone(), http.clone(), to.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let (http, to) = (http.clone(), to.clone());
                            async move {
                                use http_body_util::BodyExt;
                                let (parts, body) = req.into_parts();
                                let mut body = body
                                    .collect()
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                let path = parts.uri.path().to_owned();
                                let mut headers = parts.headers.clone();
                                headers.remove(http::header::HOST);
                                headers.remove(http::header::CONTENT_LENGTH);
                                if let Some(hook) = on_request {
                                    hook(&mut headers, &mut body);
                                }
                                let url = format!(
                                    "{}{}",
                                    to.get().cloned().unwrap_or_default(),
                                    parts.uri.path_and_query().map_or("/", |p| p.as_str())
                                );
                                let resp = http
                                    .request(parts.method, url)
                                    .headers(headers)
                                    .body(body)
                                    .send()
                                    .await
                                    .unwrap();
                                let mut out = http::Response::builder().status(resp.status());
                                for (k, v) in resp.headers() {
                                    if k != http::header::TRANSFER_ENCODING
                                        && k != http::header::CONNECTION
                                        && k != http::header::CONTENT_LENGTH
                                    {
                                        out = out.header(k, v);
                                    }
                                }
                                let mut bytes = resp.bytes().await.unwrap();
                                if let Some(hook) = on_response {
                                    hook(&path, &mut bytes);
                                }
                                Ok::<_, std::convert::Infallible>(
                                    out.body(http_body_util::Full::new(bytes)).unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { base, target, task }
    }
}

#[tokio::test]
async fn the_sandbox_s_own_provider_run_behind_another_as_an_external_one_passes_every_check() {
    let layout = certs_with_provider_host();
    let front_door = TlsFront::start(&layout).await;
    let mut world = spine_sandbox::load_paths(
        &[crate::support::repo_path("scenarios/default.yaml")],
        crate::support::start_day(),
    )
    .unwrap();
    for p in &mut world.practices {
        if p.ods.as_str() == "B82617" {
            p.external = Some(ExternalProvider {
                structured: format!(
                    "{}/B82617/STU3/1/gpconnect/structured/fhir",
                    front_door.base
                ),
                documents: Some(format!(
                    "{}/B82617/STU3/1/gpconnect/documents/fhir",
                    front_door.base
                )),
                ca: None,
            });
        }
    }
    let sandbox = TestSandbox::start_world(world).await;
    // The provider under test: another sandbox, reading the registration from the first one's
    // PDS and advertising its documents at the TLS front.
    let pds = format!("{}/personal-demographics/FHIR/R4", sandbox.base);
    let public = front_door.base.clone();
    let provider = TestSandbox::start_with("scenarios/default.yaml", Clock::system(), move |c| {
        c.provider_pds_url = Some(pds);
        c.public_url = Some(public);
    })
    .await;
    front_door.target.set(provider.base.clone()).unwrap();

    let report = run_provider_check(&check_options(&sandbox, "B82617"))
        .await
        .unwrap();
    let text = report.text();
    assert!(
        report.checks.iter().all(|c| c.status == Status::Pass),
        "{text}"
    );
    assert_eq!(report.checks.len(), 11, "{text}");
    let junit_file = temp_dir("junit").join("provider-check.xml");
    std::fs::write(&junit_file, report.junit()).unwrap();
    assert!(
        std::fs::read_to_string(&junit_file)
            .unwrap()
            .contains("tests=\"11\" failures=\"0\" skipped=\"0\"")
    );

    // The external provider's Bundles, fetched through SSP as the assurance consumer GPCA0001
    // (patient2's practice on PDS), against the STU3 structure definitions.
    let structured = format!(
        "{}/B82617/STU3/1/gpconnect/structured/fhir",
        front_door.base
    );
    let dir = temp_dir("external-stu3");
    let mut files = Vec::new();
    for sensitive in [false, true] {
        let bundle = migrate_as_assurance_consumer(&sandbox, &structured, sensitive).await;
        assert_eq!(
            profile_problems(&bundle, "9690937286"),
            Vec::<String>::new()
        );
        let file = dir.join(format!("external-{sensitive}.json"));
        std::fs::write(&file, bundle.to_string()).unwrap();
        files.push(file);
    }
    validate_stu3(&files);
}

/// Migrates patient2 from `structured` through the sandbox's SSP, asking as GPCA0001.
async fn migrate_as_assurance_consumer(
    sandbox: &TestSandbox,
    structured: &str,
    sensitive: bool,
) -> Value {
    let token = spine_sandbox::MigrateTokenRequest {
        requesting_ods: "GPCA0001".into(),
        requesting_name: "GP Connect Assurance".into(),
        requesting_asid: "200000000359".into(),
        audience: structured.to_owned(),
        practitioner: Some(spine_sandbox::PractitionerClaim::assurance_suite()),
        sensitive,
        now: chrono::Utc::now(),
    }
    .mint();
    let mut headers = ssp_headers("200000000359", "918999198738", MIGRATE_STRUCTURED);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let target = format!("{structured}/Patient/$gpc.migratestructuredrecord");
    let body = spine_sandbox::migrate_parameters("9690937286", sensitive);
    let resp = sandbox
        .ssp_client("200000000359")
        .post(sandbox.ssp_url(&target))
        .headers(headers)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `tests/fhir/validate_stu3.py` on `files`, when `SANDBOX_FHIR_VALIDATOR` names a Python with
/// `fhir.resources` (as `scripts/test` sets it).
fn validate_stu3(files: &[PathBuf]) {
    let Ok(python) = std::env::var("SANDBOX_FHIR_VALIDATOR") else {
        println!(
            "STU3 validation skipped: set SANDBOX_FHIR_VALIDATOR to a python with fhir.resources"
        );
        return;
    };
    let out = std::process::Command::new(&python)
        .arg(crate::support::repo_path("tests/fhir/validate_stu3.py"))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "STU3 validation failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_admin_api_runs_the_provider_check_against_the_sandbox_itself() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let report: Value = sandbox
        .http
        .post(sandbox.url("/_admin/provider-check?practice=B82617"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 11, "{report}");
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == "pass" || c["id"] == "provider-read-pds"),
        "{report}"
    );
    let resp = sandbox
        .http
        .post(sandbox.url("/_admin/provider-check"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

// ---- deliberately wrong stand-in providers ----
//
// Each is the sandbox's own provider, run as a second sandbox behind a TLS front (as in the test
// above, where it passes every check), with one behaviour made wrong. Each must fail exactly the
// checks that behaviour breaks and pass the rest.

/// What a stand-in gets wrong.
#[derive(Default, Clone, Copy)]
struct Flaw {
    /// Its relationship check uses its own copy of the registrations (the scenario's, where the
    /// assurance consumer GPCA0001 is patient2's practice): it never reads PDS.
    never_reads_pds: bool,
    /// Its records do not know of any death, and it does not look at PDS's.
    knows_no_deaths: bool,
    on_request: Option<RequestHook>,
    on_response: Option<ResponseHook>,
}

/// The provider check of B82617 played against a stand-in with `flaw`, asking as `as_ods`.
async fn check_stand_in(flaw: Flaw, as_ods: &str) -> ProviderCheckReport {
    let layout = certs_with_provider_host();
    let front_door = TlsFront::start_altering(&layout, flaw.on_request, flaw.on_response).await;
    let load = || {
        spine_sandbox::load_paths(
            &[crate::support::repo_path("scenarios/default.yaml")],
            crate::support::start_day(),
        )
        .unwrap()
    };
    let mut world = load();
    for p in &mut world.practices {
        if p.ods.as_str() == "B82617" {
            p.external = Some(ExternalProvider {
                structured: format!(
                    "{}/B82617/STU3/1/gpconnect/structured/fhir",
                    front_door.base
                ),
                documents: Some(format!(
                    "{}/B82617/STU3/1/gpconnect/documents/fhir",
                    front_door.base
                )),
                ca: None,
            });
        }
    }
    let sandbox = TestSandbox::start_world(world).await;
    let mut own = load();
    if flaw.knows_no_deaths {
        for p in &mut own.patients {
            p.deceased = None;
        }
    }
    let pds = format!("{}/personal-demographics/FHIR/R4", sandbox.base);
    let public = front_door.base.clone();
    let provider = TestSandbox::start_world_with(own, Clock::system(), move |c| {
        if !flaw.never_reads_pds {
            c.provider_pds_url = Some(pds);
        }
        c.public_url = Some(public);
    })
    .await;
    front_door.target.set(provider.base.clone()).unwrap();
    let mut options = check_options(&sandbox, "B82617");
    options.as_ods = Some(as_ods.to_owned());
    run_provider_check(&options).await.unwrap()
}

/// The checks that fail; every other one must pass.
fn assert_fails_exactly(report: &ProviderCheckReport, failing: &[&str]) {
    let text = report.text();
    let expected: Vec<(&str, Status)> = [
        "structured-metadata",
        "no-relationship",
        "record-without-sensitive",
        "record-with-sensitive",
        "extra-parameter",
        "jwt-missing-reason",
        "migrate-documents",
        "relationship-follows-pds",
        "deceased-patient",
        "sensitive-patient",
        "provider-read-pds",
    ]
    .into_iter()
    .map(|id| {
        let status = if failing.contains(&id) {
            Status::Fail
        } else {
            Status::Pass
        };
        (id, status)
    })
    .collect();
    assert_eq!(statuses(report), expected, "{text}");
    assert_eq!(report.exit_code(), 2);
}

#[tokio::test]
async fn a_stand_in_that_never_reads_pds_fails_the_relationship_checks_and_the_pds_read() {
    // Its own registrations name GPCA0001 for patient2, so the check asks as GPCA0001: the
    // record is released while PDS names another practice, and no PDS read is seen.
    let report = check_stand_in(
        Flaw {
            never_reads_pds: true,
            ..Flaw::default()
        },
        "GPCA0001",
    )
    .await;
    assert_fails_exactly(
        &report,
        &[
            "no-relationship",
            "relationship-follows-pds",
            "provider-read-pds",
        ],
    );
    let read = report.checks.iter().find(|c| c.id == "provider-read-pds");
    assert!(
        read.is_some_and(|c| c.detail.contains("no PDS read")),
        "{}",
        report.text()
    );
}

/// Asks for sensitive information whatever the consumer asked: `includeSensitiveInformation`
/// true, and the JWT's scope to match (the provider's own sensitivity check would refuse
/// otherwise).
fn always_sensitive(headers: &mut http::HeaderMap, body: &mut bytes::Bytes) {
    let Ok(mut params) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let mut changed = false;
    // (`get_mut`, not indexing: indexing a missing element would add it as null.)
    let parameters = params.get_mut("parameter").and_then(Value::as_array_mut);
    for p in parameters.into_iter().flatten() {
        let parts = p.get_mut("part").and_then(Value::as_array_mut);
        for part in parts.into_iter().flatten() {
            if part["name"] == "includeSensitiveInformation" {
                part["valueBoolean"] = Value::Bool(true);
                changed = true;
            }
        }
    }
    if !changed {
        return;
    }
    *body = bytes::Bytes::from(params.to_string());
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(spine_sandbox::bearer_token)
        .and_then(|t| spine_sandbox::decode_token(t).ok());
    if let Some(mut token) = token {
        token.claims["requested_scope"] = Value::from("patient/*.read conf/R");
        let value = format!("Bearer {}", spine_sandbox::encode_unsigned(&token.claims));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
    }
}

#[tokio::test]
async fn a_stand_in_that_ignores_include_sensitive_information_fails_the_record_without_it() {
    let report = check_stand_in(
        Flaw {
            on_request: Some(always_sensitive),
            ..Flaw::default()
        },
        "A20047",
    )
    .await;
    assert_fails_exactly(&report, &["record-without-sensitive"]);
    let text = report.text();
    assert!(
        text.contains(
            "is labelled NOPAT (confidential) though sensitive information was not asked for"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_stand_in_that_answers_200_for_a_deceased_patient_fails_the_deceased_check() {
    let report = check_stand_in(
        Flaw {
            knows_no_deaths: true,
            ..Flaw::default()
        },
        "A20047",
    )
    .await;
    assert_fails_exactly(&report, &["deceased-patient"]);
    assert!(
        report
            .text()
            .contains("expected 404 PATIENT_NOT_FOUND, got 200 Bundle"),
        "{}",
        report.text()
    );
}

/// Leaves the first Medication out of every migrate Bundle: the MedicationStatements and
/// MedicationRequests that name it dangle.
fn drop_first_medication(path: &str, body: &mut bytes::Bytes) {
    if !path.ends_with("$gpc.migratestructuredrecord") {
        return;
    }
    let Ok(mut bundle) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if let Some(entries) = bundle["entry"].as_array_mut()
        && let Some(i) = entries
            .iter()
            .position(|e| e["resource"]["resourceType"] == "Medication")
    {
        entries.remove(i);
    }
    *body = bytes::Bytes::from(bundle.to_string());
}

#[tokio::test]
async fn a_stand_in_whose_bundle_has_a_dangling_reference_fails_both_record_checks() {
    let report = check_stand_in(
        Flaw {
            on_response: Some(drop_first_medication),
            ..Flaw::default()
        },
        "A20047",
    )
    .await;
    assert_fails_exactly(
        &report,
        &["record-without-sensitive", "record-with-sensitive"],
    );
    let text = report.text();
    assert!(
        text.contains("refers to Medication/") && text.contains("which is not in the Bundle"),
        "{text}"
    );
}

#[tokio::test]
async fn the_provider_check_runs_inside_a_trainee_world_on_that_world_s_own_services() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let world: Value = sandbox
        .http
        .post(sandbox.url("/_admin/worlds"))
        .json(&serde_json::json!({ "scenario": "default" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = world["urls"]["base"].as_str().unwrap();
    let key = world["key"].as_str().unwrap();
    let report: Value = sandbox
        .http
        .post(format!("{base}/_admin/provider-check?practice=B82617"))
        .header("x-sandbox-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 11, "{report}");
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == "pass" || c["id"] == "provider-read-pds"),
        "{report}"
    );
    // Its hops are the world's: SSP's hop of each check is in the world's journal, none in
    // the default world's.
    assert!(
        checks
            .iter()
            .filter(|c| c["status"] == "pass")
            .all(|c| c["hops"][0].as_str().is_some_and(|h| h.starts_with("ssp "))),
        "{report}"
    );
    assert!(sandbox.journal().await.is_empty());
}
