//! The conformance report for consumer teams: one run graded on its own, one patient, a
//! consumer's history cleared, the moveable clock, the certificates offered for download, and
//! every statement of the report true (nothing that never ran shown as passed).

use serde_json::{Value, json};
use spine_sandbox::journey;

use crate::support::TestSandbox;

const NEW: &str = "A20047";
const HAPPY: &str = "9434761018";
const OTHER: &str = "9434761042";

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
    journey::run(&broken, |_| {}).await;
    let failed = report(&sandbox, "?ods=A20047").await;
    assert_eq!(failed["consumers"][0]["verdict"], "fail", "{failed:#}");

    journey::run(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
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
    journey::run(&broken, |_| {}).await;
    let mark = last_sequence(&sandbox).await;
    journey::run(&sandbox.journey_options(OTHER, NEW), |_| {}).await;
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
    journey::run(&broken, |_| {}).await;
    journey::run(&sandbox.journey_options(OTHER, NEW), |_| {}).await;

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

    journey::run(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
    let fresh = report(&sandbox, "?ods=A20047").await;
    assert_eq!(journeys(&fresh).len(), 1, "{fresh:#}");
    assert_eq!(fresh["consumers"][0]["verdict"], "pass", "{fresh:#}");
}

#[tokio::test]
async fn checks_that_never_ran_are_not_reached_not_passed() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    journey::run(&sandbox.journey_options(HAPPY, NEW), |_| {}).await;
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
    journey::run(&own, |_| {}).await;
    let r = report(&sandbox, "?ods=A20047").await;
    let j = journeys(&r)[0];
    let c = check(j, "migrate.from-previous-practice");
    assert_eq!(c["status"], "fail", "{j:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("your own practice"),
        "{c:#}"
    );
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
    journey::run(&sensitive, |_| {}).await;
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
