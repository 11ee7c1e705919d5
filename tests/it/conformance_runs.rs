//! The conformance report for consumer teams: one run graded on its own, one patient, a
//! consumer's history cleared, the moveable clock, the certificates offered for download, and
//! every statement of the report true (nothing that never ran shown as passed).

use serde_json::{Value, json};
use spine_sandbox::run_journey;

use crate::support::TestSandbox;

const NEW: &str = "A20047";
const HAPPY: &str = "9434761018";
const OTHER: &str = "9434761077";

async fn report(sandbox: &TestSandbox, query: &str) -> Value {
    let resp = sandbox.get(&format!("/_admin/conformance{query}")).await;
    assert_eq!(resp.status(), 200, "{query}");
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

fn check<'a>(journey: &'a Value, id: &str) -> &'a Value {
    journey["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {journey:#}"))
}

async fn last_sequence(sandbox: &TestSandbox) -> u64 {
    sandbox
        .journal()
        .await
        .last()
        .and_then(|e| e["sequence"].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_fixed_rerun_is_graded_on_its_own_and_last_gives_only_it() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut broken = sandbox.journey_options(HAPPY, NEW);
    broken.skip_registration_change = true;
    run_journey(&broken, |_| {}).await;
    let failed = report(&sandbox, "?ods=A20047").await;
    assert_eq!(failed["consumers"][0]["verdict"], "fail", "{failed:#}");

    run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    let both = report(&sandbox, "?ods=A20047").await;
    let runs = journeys(&both);
    assert_eq!(runs.len(), 2, "the rerun is a journey of its own: {both:#}");
    assert_eq!(runs[0]["verdict"], "fail");
    assert_eq!(runs[1]["verdict"], "pass", "{:#}", runs[1]);

    let last = report(&sandbox, "?ods=A20047&last=true").await;
    assert_eq!(journeys(&last).len(), 1);
    assert_eq!(last["consumers"][0]["verdict"], "pass", "{last:#}");
}

#[tokio::test]
async fn since_a_sequence_grades_only_what_came_after_it() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut broken = sandbox.journey_options(HAPPY, NEW);
    broken.skip_registration_change = true;
    run_journey(&broken, |_| {}).await;
    let mark = last_sequence(&sandbox).await;
    run_journey(&sandbox.journey_options(OTHER, NEW), |_| {}).await;
    let since = report(&sandbox, &format!("?ods=A20047&since={mark}")).await;
    let runs = journeys(&since);
    assert_eq!(runs.len(), 1, "{since:#}");
    assert_eq!(runs[0]["patient"], OTHER);
    assert_eq!(runs[0]["verdict"], "pass", "{since:#}");
    assert!(runs[0]["first_sequence"].as_u64().unwrap() > mark);

    let time = sandbox.journal().await[mark as usize]["time"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_time = report(
        &sandbox,
        &format!("?ods=A20047&since={}", time.replace('+', "%2B")),
    )
    .await;
    assert_eq!(journeys(&by_time).len(), 1, "{by_time:#}");

    let bad = sandbox.get("/_admin/conformance?since=yesterday").await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body.to_string().contains("since must be"), "{body}");
}

#[tokio::test]
async fn one_patient_and_a_cleared_history() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut broken = sandbox.journey_options(HAPPY, NEW);
    broken.skip_registration_change = true;
    run_journey(&broken, |_| {}).await;
    run_journey(&sandbox.journey_options(OTHER, NEW), |_| {}).await;

    let one = report(&sandbox, &format!("?ods=A20047&patient={OTHER}")).await;
    assert_eq!(journeys(&one).len(), 1);
    assert_eq!(one["consumers"][0]["verdict"], "pass", "{one:#}");

    let resp = sandbox
        .http
        .delete(sandbox.url("/_admin/consumers/A20047/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cleared = report(&sandbox, "?ods=A20047").await;
    assert!(journeys(&cleared).is_empty(), "{cleared:#}");
    // The journal itself is untouched.
    assert!(!sandbox.journal().await.is_empty());

    run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    let fresh = report(&sandbox, "?ods=A20047").await;
    assert_eq!(journeys(&fresh).len(), 1, "{fresh:#}");
    assert_eq!(fresh["consumers"][0]["verdict"], "pass", "{fresh:#}");
}

#[tokio::test]
async fn checks_that_never_ran_are_not_reached_not_passed() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    let r = report(&sandbox, "?ods=A20047").await;
    let j = journeys(&r)[0];
    assert_eq!(j["verdict"], "pass", "{j:#}");
    assert_eq!(check(j, "pds.retry-after-409")["status"], "not_reached");
    assert_eq!(check(j, "refusals.retries")["status"], "not_reached");
    assert_eq!(check(j, "jwt.fresh-per-retry")["status"], "not_reached");
}

#[tokio::test]
async fn a_consumer_that_asks_its_own_practice_is_told_so() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut own = sandbox.journey_options(HAPPY, NEW);
    own.from = Some(NEW.to_owned());
    run_journey(&own, |_| {}).await;
    let r = report(&sandbox, "?ods=A20047").await;
    let j = journeys(&r)[0];
    let c = check(j, "migrate.from-previous-practice");
    assert_eq!(c["status"], "fail", "{j:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("your own practice"),
        "{c:#}"
    );
    let text = sandbox
        .get("/_admin/conformance?ods=A20047&format=text")
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("from A20047 (your own practice)"), "{text}");
    // The Device lookup it made is acknowledged, not denied.
    let device = check(j, "sds.device-asid");
    assert!(
        !device["detail"]
            .as_str()
            .unwrap()
            .contains("which no Device lookup returned"),
        "{device:#}"
    );
}

#[tokio::test]
async fn a_restricted_patient_journey_says_where_the_practice_is_unknown() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut sensitive = sandbox.journey_options("9434761050", NEW);
    sensitive.sensitive = true;
    run_journey(&sensitive, |_| {}).await;
    let text = sandbox
        .get("/_admin/conformance?ods=A20047&format=text")
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains("from ?"), "{text}");
}

#[tokio::test]
async fn the_clock_moves_on_and_back() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let moved: Value = sandbox
        .http
        .post(sandbox.url("/_admin/clock"))
        .json(&json!({ "advance": "25h" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["offset_seconds"], 25 * 3600, "{moved}");
    let bad = sandbox
        .http
        .post(sandbox.url("/_admin/clock"))
        .json(&json!({ "advance": "25 hours" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body.to_string().contains("advance:"), "{body}");
    assert_eq!(sandbox.reset().await, 204);
    let back: Value = sandbox.get("/_admin/clock").await.json().await.unwrap();
    assert_eq!(back["offset_seconds"], 0);
}

#[tokio::test]
async fn the_running_sandboxs_certificates_can_be_downloaded() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let ca = sandbox
        .get("/_admin/certificates/ca.pem")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        ca,
        std::fs::read_to_string(sandbox.certs_dir.join("ca.pem")).unwrap()
    );
    let asid = "200000001012";
    for (path, file) in [
        (format!("clients/{asid}.pem"), format!("clients/{asid}.pem")),
        (
            format!("clients/{asid}-key.pem"),
            format!("clients/{asid}-key.pem"),
        ),
    ] {
        let got = sandbox
            .get(&format!("/_admin/certificates/{path}"))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(
            got,
            std::fs::read_to_string(sandbox.certs_dir.join(file)).unwrap()
        );
    }
    let unknown = sandbox
        .get("/_admin/certificates/clients/..%2Fca-key.pem")
        .await;
    assert_eq!(unknown.status(), 404);
    let unknown = sandbox.get("/_admin/certificates/ca-key.pem").await;
    assert_eq!(unknown.status(), 404);
}

const NEW_ASID: &str = "200000001012";
const OLD: &str = "B82617";
const OLD_ASID: &str = "918999198738";

/// The sandbox's time now (it may have been moved).
async fn sandbox_now(sandbox: &TestSandbox) -> chrono::DateTime<chrono::Utc> {
    let clock: Value = sandbox.get("/_admin/clock").await.json().await.unwrap();
    chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

async fn advance(sandbox: &TestSandbox, by: &str) {
    let resp = sandbox
        .http
        .post(sandbox.url("/_admin/clock"))
        .json(&json!({ "advance": by }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

fn token(requesting_asid: &str, now: chrono::DateTime<chrono::Utc>, audience: &str) -> String {
    spine_sandbox::MigrateTokenRequest {
        requesting_ods: NEW.into(),
        requesting_name: "New practice".into(),
        requesting_asid: requesting_asid.into(),
        audience: audience.into(),
        practitioner: None,
        sensitive: false,
        now,
    }
    .mint()
}

/// A migrate of `patient` from the old practice through SSP, as the new practice.
async fn migrate(sandbox: &TestSandbox, patient: &str, jwt: &str) -> u16 {
    let root = sandbox.endpoint(OLD, "structured");
    sandbox
        .ssp_client(NEW_ASID)
        .post(sandbox.ssp_url(&format!("{root}/Patient/$gpc.migratestructuredrecord")))
        .headers(crate::support::tls_clients::ssp_headers(
            NEW_ASID,
            OLD_ASID,
            spine_sandbox::interactions::MIGRATE_STRUCTURED,
        ))
        .header("Authorization", format!("Bearer {jwt}"))
        .header("Content-Type", "application/fhir+json;charset=utf-8")
        .body(spine_sandbox::migrate_parameters(patient, false).to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_migrate_a_day_after_the_trace_fails_trace_freshness_and_a_new_trace_mends_it() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    advance(&sandbox, "25h").await;
    let now = sandbox_now(&sandbox).await;
    let status = migrate(
        &sandbox,
        HAPPY,
        &token(NEW_ASID, now, &sandbox.endpoint(OLD, "structured")),
    )
    .await;
    assert_eq!(status, 200, "the provider itself does not judge the trace");
    let r = report(&sandbox, "?ods=A20047").await;
    let j = journeys(&r)[0];
    let fresh = check(j, "pds.trace-fresh");
    assert_eq!(fresh["status"], "fail", "{fresh:#}");
    assert!(
        fresh["detail"]
            .as_str()
            .unwrap()
            .contains("25 h 0 min after the trace"),
        "{fresh:#}"
    );
    assert!(
        fresh["url"]
            .as_str()
            .unwrap()
            .contains("gpc-consumer-support")
    );

    // Traced again: a new run, and its trace is fresh.
    let mut again = sandbox.journey_options(HAPPY, NEW);
    again.from = Some(OLD.into());
    again.skip_registration_change = true;
    run_journey(&again, |_| {}).await;
    let r = report(&sandbox, "?ods=A20047&last=true").await;
    let j = journeys(&r)[0];
    assert_eq!(check(j, "pds.trace-fresh")["status"], "pass", "{j:#}");
}

#[tokio::test]
async fn a_jwt_resent_on_a_retry_fails_fresh_per_retry() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let deceased = "9434761034";
    let jwt = token(
        NEW_ASID,
        sandbox_now(&sandbox).await,
        &sandbox.endpoint(OLD, "structured"),
    );
    assert_eq!(migrate(&sandbox, deceased, &jwt).await, 404);
    // The retry a couple of seconds later, with the same token.
    advance(&sandbox, "2s").await;
    assert_eq!(migrate(&sandbox, deceased, &jwt).await, 404);
    let r = report(&sandbox, "?ods=A20047").await;
    let j = journeys(&r)[0];
    let c = check(j, "jwt.fresh-per-retry");
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("resends the JWT of"),
        "{c:#}"
    );
    assert_eq!(c["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_jwt_naming_another_systems_asid_fails_requesting_identity() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    let jwt = token(
        "999999999999",
        sandbox_now(&sandbox).await,
        &sandbox.endpoint(OLD, "structured"),
    );
    assert_eq!(migrate(&sandbox, HAPPY, &jwt).await, 200);
    let r = report(&sandbox, "?ods=A20047").await;
    let c = check(journeys(&r)[0], "jwt.requesting-identity");
    assert_eq!(c["status"], "fail", "{c:#}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("names ASID 999999999999") && detail.contains(NEW_ASID),
        "{c:#}"
    );
}

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
async fn a_pipeline_gates_on_its_own_run_and_gets_an_evidence_pack() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let mut broken = sandbox.journey_options(HAPPY, NEW);
    broken.skip_registration_change = true;
    run_journey(&broken, |_| {}).await;
    let base = |extra: &[&str]| {
        let mut a: Vec<String> = ["--as", NEW, "--sandbox", &sandbox.base]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    // The pipeline notes where the journal is, then runs the consumer.
    let mark = last_sequence(&sandbox).await.to_string();
    let (code, _, err) = cli(base(&["--since", &mark])).await;
    assert_eq!(code, 1, "no run yet since the mark: {err}");
    assert!(err.contains(&format!("since {mark}")), "{err}");
    run_journey(&sandbox.journey_options(OTHER, NEW), |_| {}).await;

    let dir = crate::support::temp_dir("evidence");
    let pack = dir.join("pack");
    let (code, out, err) = cli(base(&[
        "--since",
        &mark,
        "--json",
        "--evidence",
        &pack.display().to_string(),
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(journeys(&json).len(), 1);
    assert!(err.contains("evidence:"), "{err}");
    // The whole journal still fails (the earlier run), so without --since: 2.
    let (code, _, _) = cli(base(&[])).await;
    assert_eq!(code, 2);

    let index = std::fs::read_to_string(pack.join("index.md")).unwrap();
    assert!(index.contains("GPC-MIG-TST-GEN-06"), "{index}");
    assert!(index.contains("GPC-CORE01-01"));
    let folder = pack.join(format!("01-{NEW}-{OTHER}"));
    let record = std::fs::read_to_string(folder.join("record.html")).unwrap();
    assert!(record.contains("<h2>Patient (1)</h2>"), "{record}");
    let hops: Vec<String> = std::fs::read_dir(folder.join("hops"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for service in [
        "pds-GET",
        "pds-PATCH",
        "sds-GET",
        "ssp-POST",
        "provider-POST",
    ] {
        assert!(
            hops.iter().any(|h| h.contains(service)),
            "{service} in {hops:?}"
        );
    }
    let migrate = hops.iter().find(|h| h.contains("ssp-POST")).unwrap();
    let text = std::fs::read_to_string(folder.join("hops").join(migrate)).unwrap();
    assert!(text.contains("=== JWT (decoded)"), "{text}");
    assert!(
        text.contains("\"reason_for_request\": \"migration\""),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(folder.join("report.txt"))
            .unwrap()
            .contains("[PASS]")
    );
    // Never over an existing pack.
    let (code, _, err) = cli(base(&["--evidence", &pack.display().to_string()])).await;
    assert_eq!(code, 1);
    assert!(err.contains("already holds an evidence pack"), "{err}");
}

#[tokio::test]
async fn docs_conformance_lists_every_check_the_report_makes() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    run_journey(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    let r = report(&sandbox, "?ods=A20047").await;
    let page = std::fs::read_to_string(crate::support::repo_path("docs/conformance.md")).unwrap();
    for c in journeys(&r)[0]["checks"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        assert!(
            page.contains(&format!("| `{id}` |")),
            "{id} is not in docs/conformance.md"
        );
        let url = c["url"].as_str().unwrap();
        assert!(
            page.contains(url),
            "{id}'s source {url} is not in docs/conformance.md"
        );
    }
}
