//! `--state-dir`: what a team changed comes back after the sandbox stops and starts again on the
//! same folder; a state file that cannot be used stops the start with its path and the problem.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use spine_sandbox::Config;
use spine_sandbox::{Clock, JourneyOutcome, Sandbox, load_paths, run_journey};

use crate::binary::{command, parse_listening, start, terminate};
use crate::support::{TestSandbox, repo_path, shared_certs_dir, start_day, temp_dir};

const PDS: &str = "/personal-demographics/FHIR/R4";
const ADA: &str = "9690937286";
const HAPPY: &str = "9434761018";
const NEW: &str = "A20047";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

async fn start_on(dir: &Path) -> TestSandbox {
    let dir = dir.to_owned();
    TestSandbox::start_with("scenarios/default.yaml", Clock::system(), move |c| {
        c.state_dir = Some(dir);
    })
    .await
}

async fn read_patient(sandbox: &TestSandbox, nhs: &str) -> (u16, String, Value) {
    read_patient_at(sandbox, &sandbox.base, nhs).await
}

async fn read_patient_at(sandbox: &TestSandbox, base: &str, nhs: &str) -> (u16, String, Value) {
    let resp = sandbox
        .http
        .get(format!("{base}{PDS}/Patient/{nhs}"))
        .header("X-Request-ID", uuid())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, etag, resp.json().await.unwrap())
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn registered_at(patient: &Value) -> &str {
    patient["generalPractitioner"][0]["identifier"]["value"]
        .as_str()
        .unwrap_or_default()
}

async fn move_registration(sandbox: &TestSandbox, nhs: &str, if_match: &str, ods: &str) -> u16 {
    move_registration_at(sandbox, &sandbox.base, nhs, if_match, ods).await
}

async fn move_registration_at(
    sandbox: &TestSandbox,
    base: &str,
    nhs: &str,
    if_match: &str,
    ods: &str,
) -> u16 {
    let (_, _, current) = read_patient_at(sandbox, base, nhs).await;
    let id = current["generalPractitioner"][0]["id"].as_str().unwrap();
    let body = json!({ "patches": [
        { "op": "replace", "path": "/generalPractitioner/0", "value": {
            "id": id, "type": "Organization",
            "identifier": { "system": ODS_SYSTEM, "value": ods } } }
    ] });
    sandbox
        .http
        .patch(format!("{base}{PDS}/Patient/{nhs}"))
        .header("X-Request-ID", uuid())
        .header("If-Match", if_match)
        .header("Content-Type", "application/json-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn admin_json(sandbox: &TestSandbox, path: &str) -> Value {
    sandbox.get(path).await.json().await.unwrap()
}

#[tokio::test]
async fn a_patch_faults_journal_clock_and_delivered_records_survive_a_restart() {
    let dir = temp_dir("state-restart");
    let sandbox = start_on(&dir).await;
    assert_eq!(
        move_registration(&sandbox, ADA, "W/\"1\"", "B82617").await,
        200
    );
    let (status, rule) = sandbox
        .set_fault(json!({ "service": "pds", "path": "/never/*", "status": 503, "count": 3, "label": "kept" }))
        .await;
    assert_eq!(status, 201, "{rule}");
    let report = run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    assert!(
        matches!(report.outcome, JourneyOutcome::Received),
        "{report:?}"
    );
    let moved = sandbox
        .http
        .post(sandbox.url("/_admin/clock"))
        .json(&json!({ "advance": "25h" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let journal_before = sandbox.journal().await;
    let records_before = admin_json(&sandbox, "/_admin/records").await;
    assert!(!records_before.as_array().unwrap().is_empty());
    sandbox.running.shutdown().await;
    assert!(dir.join("world.json").is_file());

    let again = start_on(&dir).await;
    let (status, etag, patient) = read_patient(&again, ADA).await;
    assert_eq!(status, 200);
    assert_eq!(etag, "W/\"2\"");
    assert_eq!(patient["meta"]["versionId"], "2");
    assert_eq!(registered_at(&patient), "B82617");
    // The version carried over: the old ETag is stale, the new one current.
    assert_eq!(
        move_registration(&again, ADA, "W/\"1\"", "A20047").await,
        409
    );
    assert_eq!(
        move_registration(&again, ADA, "W/\"2\"", "A20047").await,
        200
    );

    let faults = admin_json(&again, "/_admin/faults").await;
    let kept: Vec<&Value> = faults["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["label"] == "kept")
        .collect();
    assert_eq!(kept.len(), 1, "{faults:#}");
    assert_eq!(kept[0]["count"], 3);

    let clock = admin_json(&again, "/_admin/clock").await;
    let offset = clock["offset_seconds"].as_i64().unwrap();
    assert!((25 * 3600 - 5..=25 * 3600).contains(&offset), "{clock}");

    let journal_after = again.journal().await;
    let last_before = journal_before.last().unwrap()["sequence"].as_u64().unwrap();
    for (before, after) in journal_before.iter().zip(&journal_after) {
        assert_eq!(before, after);
    }
    let newer: Vec<&Value> = journal_after[journal_before.len()..].iter().collect();
    assert!(!newer.is_empty());
    assert!(
        newer
            .iter()
            .all(|e| e["sequence"].as_u64().unwrap() > last_before)
    );
    assert!(
        journal_after
            .iter()
            .any(|e| e["method"] == "PATCH" && e["path"].as_str().unwrap().contains(ADA))
    );

    assert_eq!(admin_json(&again, "/_admin/records").await, records_before);
    let graded = admin_json(
        &again,
        &format!("/_admin/conformance?ods={NEW}&patient={HAPPY}"),
    )
    .await;
    assert_eq!(graded["consumers"][0]["verdict"], "pass", "{graded:#}");
    again.running.shutdown().await;
}

#[tokio::test]
async fn a_reset_is_kept_too() {
    let dir = temp_dir("state-reset");
    let sandbox = start_on(&dir).await;
    assert_eq!(
        move_registration(&sandbox, ADA, "W/\"1\"", "B82617").await,
        200
    );
    assert_eq!(sandbox.reset().await, 204);
    sandbox.running.shutdown().await;
    let again = start_on(&dir).await;
    let (_, etag, patient) = read_patient(&again, ADA).await;
    assert_eq!(etag, "W/\"1\"");
    assert_ne!(registered_at(&patient), "B82617");
    assert!(again.journal().await.len() <= 1);
    again.running.shutdown().await;
}

#[tokio::test]
async fn a_worlds_state_and_key_come_back_and_a_deleted_world_is_forgotten() {
    let dir = temp_dir("state-worlds");
    let sandbox = start_on(&dir).await;
    let create = |body: Value| {
        let request = sandbox.http.post(sandbox.url("/_admin/worlds")).json(&body);
        async move {
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), 201);
            resp.json::<Value>().await.unwrap()
        }
    };
    let world = create(json!({ "scenario": "default" })).await;
    let gone = create(json!({ "scenario": "default" })).await;
    let yaml = std::fs::read_to_string(repo_path("scenarios/training.yaml")).unwrap();
    let uploaded = create(json!({ "yaml": yaml })).await;
    let uploaded_id = uploaded["id"].as_str().unwrap();
    let (id, key) = (
        world["id"].as_str().unwrap(),
        world["key"].as_str().unwrap(),
    );
    let base = world["urls"]["base"].as_str().unwrap().to_owned();
    assert_eq!(
        move_registration_at(&sandbox, &base, ADA, "W/\"1\"", "B82617").await,
        200
    );
    let fault = sandbox
        .http
        .post(format!("{base}/_admin/faults"))
        .header("x-sandbox-key", key)
        .json(&json!({ "service": "pds", "path": "/never/*", "status": 503, "label": "in the world" }))
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), 201);
    let deleted = sandbox
        .http
        .delete(sandbox.url(&format!("/_admin/worlds/{}", gone["id"].as_str().unwrap())))
        .header("x-sandbox-key", gone["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    sandbox.running.shutdown().await;
    let files: Vec<String> = std::fs::read_dir(dir.join("worlds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut expected = vec![format!("{id}.json"), format!("{uploaded_id}.json")];
    expected.sort();
    let mut files = files;
    files.sort();
    assert_eq!(files, expected);

    let again = start_on(&dir).await;
    let base = format!("{}/worlds/{id}", again.base);
    let (status, etag, patient) = read_patient_at(&again, &base, ADA).await;
    assert_eq!(status, 200);
    assert_eq!(etag, "W/\"2\"");
    assert_eq!(registered_at(&patient), "B82617");
    let (_, etag, _) = read_patient(&again, ADA).await;
    assert_eq!(etag, "W/\"1\"", "the default world was not changed");
    let faults: Value = again
        .http
        .get(format!("{base}/_admin/faults"))
        .header("x-sandbox-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(faults.to_string().contains("in the world"), "{faults}");
    let listed = admin_json(&again, "/_admin/worlds").await.to_string();
    assert!(listed.contains(id), "{listed}");
    assert!(!listed.contains(gone["id"].as_str().unwrap()), "{listed}");
    assert!(listed.contains(uploaded_id), "{listed}");
    let health = again.get(&format!("/worlds/{uploaded_id}/healthz")).await;
    assert_eq!(health.status(), 200, "the uploaded world is made again");
    again.running.shutdown().await;
}

async fn start_error(dir: &Path) -> String {
    let world = load_paths(&[repo_path("scenarios/default.yaml")], start_day()).unwrap();
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ssp_addr: "127.0.0.1:0".parse().unwrap(),
        certs_dir: shared_certs_dir(),
        scenario: vec![repo_path("scenarios/default.yaml")],
        state_dir: Some(dir.to_owned()),
        ..Config::default()
    };
    match Sandbox::start(config, world, Clock::system()).await {
        Ok(_) => panic!("started on a state file that cannot be used"),
        Err(e) => e.to_string(),
    }
}

fn state_file(name: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let file = dir.join("world.json");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

#[tokio::test]
async fn a_corrupt_or_foreign_state_file_is_reported_with_its_path() {
    let (dir, file) = state_file("state-cut", "{\"format\": \"spine-sandbox-state\", \"vers");
    let err = start_error(&dir).await;
    assert!(
        err.starts_with(&format!("state file {}: ", file.display())),
        "{err}"
    );
    assert!(err.contains("is not valid JSON (line 1"), "{err}");

    let (dir, _) = state_file("state-foreign", r#"{"users": []}"#);
    let err = start_error(&dir).await;
    assert!(err.contains("is not a spine-sandbox state file"), "{err}");

    let (dir, _) = state_file(
        "state-other-scenario",
        r#"{"format": "spine-sandbox-state", "version": 1, "saved_at": "2026-01-01T00:00:00Z",
            "scenario": "someone else's"}"#,
    );
    let err = start_error(&dir).await;
    assert!(
        err.contains("written for scenario 'someone else's'"),
        "{err}"
    );

    let (dir, _) = state_file(
        "state-bad-entry",
        r#"{"format": "spine-sandbox-state", "version": 1, "saved_at": "2026-01-01T00:00:00Z",
            "scenario": "Default sandbox world", "journal": {"next_sequence": 2, "entries": [{"sequence": 1,
            "time": "2026-01-01T00:00:00Z", "service": "fax", "method": "GET", "path": "/",
            "status": 200, "duration_ms": 1.0}]}}"#,
    );
    let err = start_error(&dir).await;
    assert!(err.contains("journal.entries[0]: service 'fax'"), "{err}");
}

#[test]
fn sigterm_writes_the_state_and_the_next_start_reads_it() {
    let certs = temp_dir("state-bin-certs");
    let state = temp_dir("state-bin");
    let serve = || {
        let mut cmd = command();
        cmd.args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--ssp-addr",
            "127.0.0.1:0",
        ])
        .args(["--certs-dir", certs.to_str().unwrap()])
        .args(["--state-dir", state.to_str().unwrap()]);
        cmd
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut child, line) = start(&mut serve());
    let (http, _) = parse_listening(&line);
    let client = crate::support::http_client();
    let url = format!("{http}{PDS}/Patient/{ADA}");
    runtime.block_on(async {
        let current: Value = client
            .get(&url)
            .header("X-Request-ID", uuid())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = current["generalPractitioner"][0]["id"].as_str().unwrap();
        let body = json!({ "patches": [{ "op": "replace", "path": "/generalPractitioner/0",
            "value": { "id": id, "type": "Organization",
                "identifier": { "system": ODS_SYSTEM, "value": "B82617" } } }] });
        let resp = client
            .patch(&url)
            .header("X-Request-ID", uuid())
            .header("If-Match", "W/\"1\"")
            .header("Content-Type", "application/json-patch+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    });
    assert_eq!(terminate(&mut child).code(), Some(0));

    let (mut child, line) = start(&mut serve());
    let (http, _) = parse_listening(&line);
    let url = format!("{http}{PDS}/Patient/{ADA}");
    runtime.block_on(async {
        let resp = client
            .get(&url)
            .header("X-Request-ID", uuid())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["etag"], "W/\"2\"");
        let patient: Value = resp.json().await.unwrap();
        assert_eq!(registered_at(&patient), "B82617");
    });
    assert_eq!(terminate(&mut child).code(), Some(0));
}
