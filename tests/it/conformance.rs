//! The conformance report: the built-in journey gets a clean report on every path of the
//! default scenario; deliberately wrong consumers each fail exactly the check they break.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use spine_sandbox::interactions;
use spine_sandbox::migrate_parameters as parameters;
use spine_sandbox::systems;
use spine_sandbox::{DirectCareTokenRequest, MigrateTokenRequest, PractitionerClaim};
use spine_sandbox::{JourneyOptions, run_journey};

use crate::support::TestSandbox;

const NEW: &str = "A20047";
const OLD: &str = "B82617";
const HAPPY: &str = "9434761018";
const DECEASED: &str = "9434761034";
const PDS: &str = "/personal-demographics/FHIR/R4/Patient";
const FHIR_JSON: &str = "application/fhir+json;charset=utf-8";

fn options(sandbox: &TestSandbox, patient: &str) -> JourneyOptions {
    sandbox.journey_options(patient, NEW)
}

async fn report(sandbox: &TestSandbox, query: &str) -> Value {
    let resp = sandbox.get(&format!("/_admin/conformance{query}")).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn journeys(report: &Value) -> Vec<&Value> {
    report["consumers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["journeys"].as_array().into_iter().flatten())
        .collect()
}

fn failed(journey: &Value) -> BTreeSet<String> {
    journey["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn check<'a>(journey: &'a Value, id: &str) -> &'a Value {
    journey["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn built_in_journey_is_clean_on_every_path_of_the_default_scenario() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut runs = 0;
    for patient in [
        HAPPY,
        "9434761034",
        "9434761042",
        "9434761050",
        "9434761069",
        "9434761077",
        "9434761085",
        "9434761093",
        "9690937286",
        "9690938681",
    ] {
        let mut run = options(&sandbox, patient);
        if patient == "9434761093" {
            // PDS names the new practice already: the consumer knows the old one itself.
            run.from = Some(OLD.into());
        }
        run_journey(&run, |_| {}).await;
        runs += 1;
    }
    let mut restricted = options(&sandbox, "9434761026");
    restricted.from = Some(OLD.into());
    run_journey(&restricted, |_| {}).await;
    // The happy patient again, asking for sensitive information this time.
    // PDS names the new practice by now: the record is still at the old one.
    let mut sensitive = options(&sandbox, HAPPY);
    sensitive.sensitive = true;
    sensitive.from = Some(OLD.into());
    run_journey(&sensitive, |_| {}).await;
    runs += 2;

    let r = report(&sandbox, &format!("?ods={NEW}")).await;
    let all = journeys(&r);
    assert_eq!(all.len(), runs, "{r:#}");
    for j in &all {
        assert!(failed(j).is_empty(), "{}: {:#}", j["patient"], j);
        assert_ne!(j["verdict"], "fail");
    }
    let consumer = &r["consumers"][0];
    assert_eq!(consumer["ods"], NEW);
    assert_eq!(consumer["asids"].as_array().unwrap().len(), 1);

    // The happy path reached every check but those about retries (nothing was refused) and
    // those about a direct-care retrieve (none was sent), and proves each with journal entries.
    let happy = all.iter().find(|j| j["patient"] == HAPPY).unwrap();
    let retries = [
        "pds.retry-after-409",
        "refusals.retries",
        "jwt.fresh-per-retry",
        "retrieve.traced-first",
        "retrieve.endpoint",
        "retrieve.parameters",
    ];
    for c in happy["checks"].as_array().unwrap() {
        let expected = if retries.contains(&c["id"].as_str().unwrap()) {
            "not_reached"
        } else {
            "pass"
        };
        assert_eq!(c["status"], expected, "{c:#}");
        assert!(c["url"].as_str().unwrap().starts_with("https://"));
    }
    assert!(
        !check(happy, "documents.all-fetched")["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(happy["documents"].as_u64().unwrap() >= 1);
    let record = happy["record_sequence"].as_u64().unwrap();

    // The delivered Bundle is kept whole for the record view.
    let listed: Value = sandbox.get("/_admin/records").await.json().await.unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["sequence"] == record)
    );
    let bundle: Value = sandbox
        .get(&format!("/_admin/records/{record}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let missing = sandbox.get("/_admin/records/999999").await;
    assert_eq!(missing.status(), 404);

    // Each document the record listed opens as a file; nothing else does.
    let url = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "DocumentReference")
        .unwrap()["resource"]["content"][0]["attachment"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = url.rsplit('/').next().unwrap();
    let doc = sandbox
        .get(&format!("/_admin/records/{record}/documents/{id}"))
        .await;
    assert_eq!(doc.status(), 200);
    assert!(!doc.bytes().await.unwrap().is_empty());
    let other = sandbox
        .get(&format!("/_admin/records/{record}/documents/not-listed"))
        .await;
    assert_eq!(other.status(), 404);

    // Filtering by the certificate's ASID finds the same consumer; another finds none.
    let asid = consumer["asids"][0].as_str().unwrap();
    let by_asid = report(&sandbox, &format!("?asid={asid}")).await;
    assert_eq!(journeys(&by_asid).len(), runs);
    let none = report(&sandbox, "?asid=999999999999").await;
    assert!(none["consumers"].as_array().unwrap().is_empty());
    let bad = sandbox.get("/_admin/conformance?colour=red").await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn skipping_the_registration_change_fails_the_ordering_check() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut o = options(&sandbox, HAPPY);
    o.skip_registration_change = true;
    run_journey(&o, |_| {}).await;
    let r = report(&sandbox, "").await;
    let j = journeys(&r)[0];
    assert_eq!(failed(j), set(&["migrate.after-registration"]), "{j:#}");
}

/// A consumer written in the test, with one deliberate fault at a time.
#[derive(Default, Clone, Copy)]
struct Faults {
    skip_trace: bool,
    reuse_version_after_409: bool,
    hard_code_provider: bool,
    conf_n_with_sensitive: bool,
    skip_a_document: bool,
    retry_in_a_loop: bool,
}

struct Double<'a> {
    sandbox: &'a TestSandbox,
    faults: Faults,
    patient: &'a str,
    ssp: reqwest::Client,
    own_asid: String,
}

fn practitioner() -> PractitionerClaim {
    PractitionerClaim {
        id: "u1".into(),
        sds_user_id: "UNK".into(),
        sds_role_profile_id: "UNK".into(),
        family: "Double".into(),
        given: vec!["Test".into()],
        prefix: None,
    }
}

impl<'a> Double<'a> {
    fn new(sandbox: &'a TestSandbox, patient: &'a str, faults: Faults) -> Self {
        let own_asid = sandbox
            .running
            .shared
            .world
            .practice(NEW)
            .unwrap()
            .asid
            .as_str()
            .to_owned();
        Self {
            ssp: sandbox.ssp_client(&own_asid),
            sandbox,
            faults,
            patient,
            own_asid,
        }
    }

    async fn pds(
        &self,
        method: reqwest::Method,
        ods: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .sandbox
            .http
            .request(method, self.sandbox.url(&format!("{PDS}/{}", self.patient)))
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .header("nhsd-end-user-organisation-ods", ods);
        if let Some(e) = etag {
            req = req.header("if-match", e);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json-patch+json")
                .body(b.to_string());
        }
        req.send().await.unwrap()
    }

    async fn read(&self, ods: &str) -> (String, Value) {
        let resp = self.pds(reqwest::Method::GET, ods, None, None).await;
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        (etag, resp.json().await.unwrap())
    }

    fn patch_to(patient: &Value, ods: &str) -> Value {
        let id = patient["generalPractitioner"][0]["id"].as_str().unwrap();
        json!({ "patches": [
            { "op": "test", "path": "/generalPractitioner/0/id", "value": id },
            { "op": "replace", "path": "/generalPractitioner/0", "value": {
                "id": id, "type": "Organization",
                "identifier": { "system": systems::ODS_ORGANIZATION_CODE, "value": ods,
                                "period": { "start": "2025-06-01" } } } }
        ]})
    }

    async fn sds(&self, resource: &str, org: &str, interaction: &str) -> Value {
        self.sandbox
            .get(&format!(
                "/spine-directory/FHIR/R4/{resource}?organization={}%7C{org}&identifier={}%7C{interaction}",
                systems::ODS_ORGANIZATION_CODE,
                systems::SERVICE_INTERACTION_ID
            ))
            .await
            .json()
            .await
            .unwrap()
    }

    async fn endpoint(&self, interaction: &str) -> (String, String) {
        let e = self.sds("Endpoint", OLD, interaction).await;
        let d = self.sds("Device", OLD, interaction).await;
        let asid = d["entry"][0]["resource"]["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["system"] == systems::SPINE_ASID)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned();
        (
            e["entry"][0]["resource"]["address"]
                .as_str()
                .unwrap()
                .to_owned(),
            asid,
        )
    }

    fn ssp_request(
        &self,
        method: reqwest::Method,
        url: &str,
        to: &str,
        interaction: &str,
        token: String,
    ) -> reqwest::RequestBuilder {
        self.ssp
            .request(method, format!("{}/{url}", self.sandbox.ssp_base))
            .header("Ssp-TraceID", uuid::Uuid::new_v4().to_string())
            .header("Ssp-From", &self.own_asid)
            .header("Ssp-To", to)
            .header("Ssp-InteractionID", interaction)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", FHIR_JSON)
    }

    async fn migrate(
        &self,
        address: &str,
        to: &str,
        sensitive: bool,
        conf_r: bool,
    ) -> (u16, Value) {
        let token = MigrateTokenRequest {
            requesting_ods: NEW.into(),
            requesting_name: "New practice".into(),
            requesting_asid: self.own_asid.clone(),
            audience: address.into(),
            practitioner: Some(practitioner()),
            sensitive: conf_r,
            now: chrono::Utc::now(),
        }
        .mint();
        let resp = self
            .ssp_request(
                reqwest::Method::POST,
                &format!("{address}/Patient/$gpc.migratestructuredrecord"),
                to,
                interactions::MIGRATE_STRUCTURED,
                token,
            )
            .header("Content-Type", FHIR_JSON)
            .body(parameters(self.patient, sensitive).to_string())
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or_default(),
        )
    }

    async fn play(&self) {
        // Registration change.
        if self.faults.skip_trace {
            // The version and list item id come from somewhere else (another system's read).
            let (etag, patient) = self.read("Y99999").await;
            let r = self
                .pds(
                    reqwest::Method::PATCH,
                    NEW,
                    Some(&etag),
                    Some(Self::patch_to(&patient, NEW)),
                )
                .await;
            assert_eq!(r.status(), 200);
        } else {
            let (etag, patient) = self.read(NEW).await;
            let mut etag = etag;
            if self.faults.reuse_version_after_409 {
                // Someone else changes the patient meanwhile.
                let (other, p) = self.read("Y99999").await;
                let r = self
                    .pds(
                        reqwest::Method::PATCH,
                        "Y99999",
                        Some(&other),
                        Some(Self::patch_to(&p, OLD)),
                    )
                    .await;
                assert_eq!(r.status(), 200);
                for _ in 0..2 {
                    let r = self
                        .pds(
                            reqwest::Method::PATCH,
                            NEW,
                            Some(&etag),
                            Some(Self::patch_to(&patient, NEW)),
                        )
                        .await;
                    assert_eq!(r.status(), 409);
                }
                etag = self.read(NEW).await.0;
            }
            let r = self
                .pds(
                    reqwest::Method::PATCH,
                    NEW,
                    Some(&etag),
                    Some(Self::patch_to(&patient, NEW)),
                )
                .await;
            assert_eq!(r.status(), 200, "{:?}", r.text().await);
        }
        // Where the record is.
        let (address, to) = if self.faults.hard_code_provider {
            let shared = &self.sandbox.running.shared;
            (
                format!(
                    "{}/{OLD}/STU3/1/gpconnect/structured/fhir",
                    shared.public_url
                ),
                shared.world.practice(OLD).unwrap().asid.as_str().to_owned(),
            )
        } else {
            self.endpoint(interactions::MIGRATE_STRUCTURED).await
        };
        let sensitive = self.faults.conf_n_with_sensitive;
        let (status, bundle) = self.migrate(&address, &to, sensitive, false).await;
        if self.faults.conf_n_with_sensitive {
            assert_eq!(status, 400);
            return;
        }
        if self.faults.retry_in_a_loop {
            assert_eq!(status, 404);
            for _ in 0..6 {
                self.migrate(&address, &to, false, false).await;
            }
            return;
        }
        assert_eq!(status, 200, "{bundle}");
        let urls: Vec<String> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["resource"]["resourceType"] == "DocumentReference")
            .map(|e| {
                e["resource"]["content"][0]["attachment"]["url"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(!urls.is_empty(), "the happy patient has documents");
        let (docs_address, docs_to) = self.endpoint(interactions::MIGRATE_DOCUMENT).await;
        let skip = usize::from(self.faults.skip_a_document);
        for url in urls.iter().skip(skip) {
            let token = DirectCareTokenRequest {
                requesting_ods: NEW.into(),
                requesting_name: "New practice".into(),
                requesting_asid: self.own_asid.clone(),
                audience: docs_address.clone(),
                practitioner: practitioner(),
                requested_scope: "patient/*.read conf/N".into(),
                now: chrono::Utc::now(),
            }
            .mint();
            let r = self
                .ssp_request(
                    reqwest::Method::GET,
                    url,
                    &docs_to,
                    interactions::MIGRATE_DOCUMENT,
                    token,
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
}

async fn double_fails(patient: &str, faults: Faults, expected: &[&str]) -> Value {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    Double::new(&sandbox, patient, faults).play().await;
    let r = report(&sandbox, &format!("?ods={NEW}")).await;
    let all = journeys(&r);
    assert_eq!(all.len(), 1, "{r:#}");
    assert_eq!(failed(all[0]), set(expected), "{:#}", all[0]);
    all[0].clone()
}

#[tokio::test]
async fn a_correct_double_passes() {
    let j = double_fails(HAPPY, Faults::default(), &[]).await;
    assert_eq!(j["verdict"], "pass");
}

#[tokio::test]
async fn skipping_the_trace_fails_the_trace_check() {
    let j = double_fails(
        HAPPY,
        Faults {
            skip_trace: true,
            ..Faults::default()
        },
        &["pds.trace-before-change", "pds.if-match-version-read"],
    )
    .await;
    let c = check(&j, "pds.trace-before-change");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no successful PDS read"),
        "{c}"
    );
    assert!(!c["entries"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn reusing_the_version_after_a_409_fails_the_retry_check() {
    let j = double_fails(
        HAPPY,
        Faults {
            reuse_version_after_409: true,
            ..Faults::default()
        },
        &["pds.retry-after-409"],
    )
    .await;
    let c = check(&j, "pds.retry-after-409");
    assert!(
        c["detail"].as_str().unwrap().contains("reusing If-Match"),
        "{c}"
    );
}

#[tokio::test]
async fn hard_coding_the_provider_fails_the_sds_checks() {
    double_fails(
        HAPPY,
        Faults {
            hard_code_provider: true,
            ..Faults::default()
        },
        &[
            "sds.endpoint-migrate",
            "sds.device-asid",
            "ssp.target-from-sds",
        ],
    )
    .await;
}

#[tokio::test]
async fn conf_n_with_sensitive_requested_fails_the_scope_check() {
    double_fails(
        HAPPY,
        Faults {
            conf_n_with_sensitive: true,
            ..Faults::default()
        },
        &["jwt.scope-sensitivity"],
    )
    .await;
}

#[tokio::test]
async fn skipping_a_document_fails_the_documents_check() {
    let j = double_fails(
        HAPPY,
        Faults {
            skip_a_document: true,
            ..Faults::default()
        },
        &["documents.all-fetched"],
    )
    .await;
    assert!(
        check(&j, "documents.all-fetched")["detail"]
            .as_str()
            .unwrap()
            .contains("not fetched")
    );
}

#[tokio::test]
async fn retrying_in_a_loop_fails_the_retries_check() {
    let j = double_fails(
        DECEASED,
        Faults {
            retry_in_a_loop: true,
            ..Faults::default()
        },
        &["refusals.retries"],
    )
    .await;
    assert_eq!(
        check(&j, "refusals.retries")["entries"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}

#[tokio::test]
async fn an_evicted_start_is_reported_not_guessed() {
    let sandbox = TestSandbox::start_with(
        "scenarios/default.yaml",
        spine_sandbox::Clock::system(),
        |c| c.journal_capacity = 6,
    )
    .await;
    run_journey(&options(&sandbox, HAPPY), |_| {}).await;
    let r = report(&sandbox, "").await;
    assert!(r["journal"]["evicted_through"].as_u64().unwrap() > 0);
    let all = journeys(&r);
    assert!(all.iter().any(|j| j["start_evicted"] == true), "{r:#}");
    for j in all {
        if j["start_evicted"] == true {
            let trace = check(j, "pds.trace-before-change");
            assert_eq!(trace["status"], "warning", "{trace:#}");
            assert!(
                trace["detail"]
                    .as_str()
                    .unwrap()
                    .contains("start of this journey")
            );
        }
        assert!(
            failed(j)
                .iter()
                .all(|id| !id.starts_with("sds.") && id != "pds.trace-before-change"),
            "{j:#}"
        );
    }
}

/// Runs the real binary's `conformance` command (blocking, so off the test's runtime).
async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_spine-sandbox"))
            .arg("conformance")
            .args(&args)
            .env("SANDBOX_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn cli_exit_codes_and_junit_gate_a_pipeline() {
    let dir = crate::support::temp_dir("conformance-cli");
    let junit = dir.join("report.xml");
    let args = |sandbox: &str| {
        vec![
            "--as".to_owned(),
            NEW.to_owned(),
            "--sandbox".to_owned(),
            sandbox.to_owned(),
            "--junit".to_owned(),
            junit.display().to_string(),
        ]
    };

    // Nothing listening: could not run.
    let (code, _, err) = cli(args("http://127.0.0.1:1")).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach"), "{err}");

    // A sandbox, but no journey by this consumer yet: could not run either.
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (code, _, err) = cli(args(&sandbox.base)).await;
    assert_eq!(code, 1);
    assert!(err.contains("no migration journey by A20047"), "{err}");

    // A clean journey: 0, and a JUnit file without failures.
    run_journey(&options(&sandbox, HAPPY), |_| {}).await;
    let (code, out, err) = cli(args(&sandbox.base)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Consumer A20047"), "{out}");
    assert!(
        out.contains("[PASS] Traced the patient on PDS before changing anything"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<testsuites name=\"spine-sandbox conformance\" tests=\"27\" failures=\"0\""),
        "{xml}"
    );

    // A journey that migrates without changing the registration: 2, and the failure named.
    let mut wrong = options(&sandbox, "9434761069");
    wrong.skip_registration_change = true;
    run_journey(&wrong, |_| {}).await;
    let (code, out, _) = cli(args(&sandbox.base)).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("[FAIL] Migrated only once PDS named the new practice"),
        "{out}"
    );
    assert!(
        out.contains("see:  https://developer.nhs.uk/apis/gpconnect/"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
    assert!(xml.contains("type=\"migrate.after-registration\""), "{xml}");
}
