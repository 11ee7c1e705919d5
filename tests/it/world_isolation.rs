//! Worlds (docs/worlds.md): each world made with `POST /_admin/worlds` is reached under
//! `/worlds/{id}`, keeps its own PDS records, journal, faults, delivered records and
//! conformance, answers its admin calls only with its key, and goes back to its scenario on
//! reset. The default world is untouched by all of it.

use serde_json::{Value, json};
use spine_sandbox::{JourneyOutcome, run_journey};

use crate::support::TestSandbox;

const NEW: &str = "A20047";
const HAPPY: &str = "9434761018";
const PDS: &str = "/personal-demographics/FHIR/R4/Patient";
const REQUEST_ID: &str = "60e1b9d2-5a4f-4c1e-9f3b-0c9a7d2e8b11";

async fn pds_read(sandbox: &TestSandbox, url: String) -> reqwest::Response {
    sandbox
        .http
        .get(url)
        .header("X-Request-ID", REQUEST_ID)
        .send()
        .await
        .unwrap()
}

async fn create(sandbox: &TestSandbox, body: Value) -> (u16, Value) {
    let resp = sandbox
        .http
        .post(sandbox.url("/_admin/worlds"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn world_get(sandbox: &TestSandbox, world: &Value, path: &str) -> reqwest::Response {
    sandbox
        .http
        .get(format!("{}{path}", world["urls"]["base"].as_str().unwrap()))
        .header("x-sandbox-key", world["key"].as_str().unwrap())
        .send()
        .await
        .unwrap()
}

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

fn registered_with(scenario: &Value, nhs: &str) -> Value {
    scenario["patients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["nhs_number"] == nhs)
        .unwrap()["registered_with"]
        .clone()
}

#[tokio::test]
async fn a_journey_in_a_world_stays_in_that_world_and_reset_puts_it_back() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (status, world) = create(&sandbox, json!({ "scenario": "default" })).await;
    assert_eq!(status, 201, "{world}");
    let id = world["id"].as_str().unwrap().to_owned();
    assert!(
        world["urls"]["pds"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/worlds/{id}/personal-demographics/FHIR/R4"))
    );
    let (_, other) = create(&sandbox, json!({})).await;
    let before = json_of(sandbox.get("/_admin/scenario").await).await;

    // The consumer configures the world's base URLs once; SDS hands out providers in it and
    // SSP forwards within it.
    let mut options = sandbox.journey_options(HAPPY, NEW);
    options.sandbox_url = world["urls"]["base"].as_str().unwrap().to_owned();
    let report = run_journey(&options, |_| {}).await;
    assert!(
        matches!(report.outcome, JourneyOutcome::Received),
        "{report:?}"
    );

    // PDS: the registration changed in the world only.
    let inside = json_of(world_get(&sandbox, &world, "/_admin/scenario").await).await;
    assert_eq!(registered_with(&inside, HAPPY), NEW);
    let after = json_of(sandbox.get("/_admin/scenario").await).await;
    assert_eq!(
        registered_with(&after, HAPPY),
        registered_with(&before, HAPPY)
    );
    let elsewhere = json_of(world_get(&sandbox, &other, "/_admin/scenario").await).await;
    assert_eq!(
        registered_with(&elsewhere, HAPPY),
        registered_with(&before, HAPPY)
    );

    // Journal: the world's holds the SSP and provider hops; the default one and the other
    // world's hold nothing.
    let journal = json_of(world_get(&sandbox, &world, "/_admin/journal").await).await;
    let services: Vec<&str> = journal
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert!(
        services.contains(&"ssp") && services.contains(&"provider") && services.contains(&"pds"),
        "{services:?}"
    );
    assert!(sandbox.journal().await.is_empty());
    let other_journal = json_of(world_get(&sandbox, &other, "/_admin/journal").await).await;
    assert_eq!(other_journal, json!([]));

    // Delivered records and conformance.
    let records = json_of(world_get(&sandbox, &world, "/_admin/records").await).await;
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");
    let default_records = json_of(sandbox.get("/_admin/records").await).await;
    assert_eq!(default_records, json!([]));
    let report = json_of(world_get(&sandbox, &world, "/_admin/conformance").await).await;
    assert!(
        !report["consumers"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let default_report = json_of(sandbox.get("/_admin/conformance").await).await;
    assert!(
        default_report["consumers"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{default_report}"
    );

    // Reset: the world's records and journal go back to the scenario.
    let resp = sandbox
        .http
        .post(sandbox.url(&format!("/_admin/worlds/{id}/reset")))
        .header("x-sandbox-key", world["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let inside = json_of(world_get(&sandbox, &world, "/_admin/scenario").await).await;
    assert_eq!(
        registered_with(&inside, HAPPY),
        registered_with(&before, HAPPY)
    );
    let journal = json_of(world_get(&sandbox, &world, "/_admin/journal").await).await;
    assert_eq!(journal, json!([]));
}

#[tokio::test]
async fn a_fault_set_in_a_world_is_not_felt_elsewhere() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (_, world) = create(&sandbox, json!({ "scenario": "default" })).await;
    let base = world["urls"]["base"].as_str().unwrap();
    let resp = sandbox
        .http
        .post(format!("{base}/_admin/faults"))
        .header("x-sandbox-key", world["key"].as_str().unwrap())
        .json(&json!({ "service": "pds", "status": 503 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let inside = pds_read(&sandbox, format!("{base}{PDS}/{HAPPY}")).await;
    assert_eq!(inside.status(), 503);
    let outside = pds_read(&sandbox, sandbox.url(&format!("{PDS}/{HAPPY}"))).await;
    assert_eq!(outside.status(), 200);
    let body: Value = outside.json().await.unwrap();
    assert_eq!(body["id"], HAPPY);
}

#[tokio::test]
async fn a_worlds_admin_calls_need_its_own_key() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (_, a) = create(&sandbox, json!({})).await;
    let (_, b) = create(&sandbox, json!({})).await;
    let journal = format!("{}/_admin/journal", a["urls"]["base"].as_str().unwrap());
    let none = sandbox.http.get(&journal).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = sandbox
        .http
        .get(&journal)
        .header("x-sandbox-key", b["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = world_get(&sandbox, &a, "/_admin/journal").await;
    assert_eq!(right.status(), 200);
    // A page elsewhere may not read a world's admin API, key or not: no CORS answer for it.
    let foreign = sandbox
        .http
        .get(&journal)
        .header("x-sandbox-key", a["key"].as_str().unwrap())
        .header("origin", "http://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let id = a["id"].as_str().unwrap();
    let reset = sandbox
        .http
        .post(sandbox.url(&format!("/_admin/worlds/{id}/reset")))
        .header("x-sandbox-key", b["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 401);
    // The service APIs need no key, as in the default world.
    let pds = pds_read(
        &sandbox,
        format!("{}{PDS}/{HAPPY}", a["urls"]["base"].as_str().unwrap()),
    )
    .await;
    assert_eq!(pds.status(), 200);
}

#[tokio::test]
async fn worlds_are_listed_deleted_and_bounded() {
    let sandbox = TestSandbox::start_with(
        "scenarios/default.yaml",
        spine_sandbox::Clock::system(),
        |config| {
            config.max_worlds = 2;
            config.shard = Some("east".into());
        },
    )
    .await;
    let (_, a) = create(&sandbox, json!({})).await;
    let id = a["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("east-"), "{id}");
    let (status, _) = create(&sandbox, json!({ "id": "trainee-2" })).await;
    assert_eq!(status, 201);
    let (status, full) = create(&sandbox, json!({})).await;
    assert_eq!(status, 429, "{full}");
    let (status, _) = create(&sandbox, json!({ "id": "Not_Valid" })).await;
    assert!(status == 400 || status == 429);
    let list = json_of(sandbox.get("/_admin/worlds").await).await;
    let ids: Vec<&str> = list["worlds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&id.as_str()) && ids.contains(&"trainee-2"));
    let deleted = sandbox
        .http
        .delete(sandbox.url(&format!("/_admin/worlds/{id}")))
        .header("x-sandbox-key", a["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = sandbox.get(&format!("/worlds/{id}{PDS}/{HAPPY}")).await;
    assert_eq!(gone.status(), 404);
    let (status, _) = create(&sandbox, json!({ "scenario": "no-such-scenario" })).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_uploaded_scenario_is_checked_first() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (status, body) = create(
        &sandbox,
        json!({ "yaml": "name: broken\npractices:\n  - ods: B82617\n    nonsense: 1\n" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let problem = &body["problems"][0];
    assert_eq!(problem["file"], "uploaded.yaml");
    assert!(problem["line"].as_u64().unwrap() >= 1, "{body}");
    assert!(problem["column"].as_u64().is_some(), "{body}");
    let good =
        std::fs::read_to_string(crate::support::repo_path("scenarios/default.yaml")).unwrap();
    let (status, world) = create(&sandbox, json!({ "yaml": good })).await;
    assert_eq!(status, 201, "{world}");
    assert_eq!(world["scenario"], "uploaded");
}

#[tokio::test]
async fn an_uploaded_scenario_cannot_read_the_sandboxs_files() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let good =
        std::fs::read_to_string(crate::support::repo_path("scenarios/default.yaml")).unwrap();
    // A key file and an external provider's CA on the sandbox's machine: neither is read.
    let yaml = format!(
        "{good}\napplications:\n  - name: Prober\n    api_key: probe\n    jwks: /etc/hostname\n"
    );
    let (status, body) = create(&sandbox, json!({ "yaml": yaml })).await;
    assert_eq!(status, 422, "{body}");
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{body}");
    let message = problems[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("jwks: names the file '/etc/hostname'")
            && message.contains("cannot read files of the sandbox's machine"),
        "{message}"
    );
    assert_eq!(problems[0]["file"], "uploaded.yaml");
}

#[tokio::test]
async fn idle_worlds_are_removed() {
    let sandbox = TestSandbox::start_with(
        "scenarios/default.yaml",
        spine_sandbox::Clock::system(),
        |config| config.world_idle_timeout_secs = 1,
    )
    .await;
    let (_, world) = create(&sandbox, json!({})).await;
    let id = world["id"].as_str().unwrap().to_owned();
    assert_eq!(world_get(&sandbox, &world, "/healthz").await.status(), 200);
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if !sandbox.running.worlds.ids().contains(&id) {
            gone = true;
            break;
        }
    }
    assert!(gone, "world {id} was not removed after being idle");
    assert_eq!(
        sandbox.get(&format!("/worlds/{id}/healthz")).await.status(),
        404
    );
}

#[tokio::test]
async fn ssp_takes_the_world_as_its_own_prefix_too() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (_, world) = create(&sandbox, json!({})).await;
    let mut options = sandbox.journey_options(HAPPY, NEW);
    options.sandbox_url = world["urls"]["base"].as_str().unwrap().to_owned();
    // https://<ssp>/worlds/{id}/<target>: what a consumer of an external provider sends.
    let ssp = world["urls"]["ssp"].as_str().unwrap();
    let port = sandbox.running.ssp_addr.port();
    assert!(
        ssp.ends_with(&format!(":{port}/worlds/{}", world["id"].as_str().unwrap())),
        "{ssp}"
    );
    options.ssp_url = format!(
        "{}{}",
        sandbox.ssp_base,
        &ssp[ssp.find("/worlds/").unwrap()..]
    );
    let report = run_journey(&options, |_| {}).await;
    assert!(
        matches!(report.outcome, JourneyOutcome::Received),
        "{report:?}"
    );
    let journal = json_of(world_get(&sandbox, &world, "/_admin/journal").await).await;
    assert!(
        journal
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["service"] == "ssp" && e["status"] == 200),
        "{journal}"
    );
    assert!(sandbox.journal().await.is_empty());
    // A world SSP does not know is refused, not forwarded.
    let report = {
        let mut options = options.clone();
        options.ssp_url = format!("{}/worlds/no-such-world", sandbox.ssp_base);
        run_journey(&options, |_| {}).await
    };
    assert!(
        !matches!(report.outcome, JourneyOutcome::Received),
        "{report:?}"
    );
}

/// A token from `{base}/oauth2/token` for the platform scenario's application.
async fn token_at(sandbox: &TestSandbox, base: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let header = json!({ "alg": "RS512", "typ": "JWT", "kid": "test-1" });
    let claims = json!({
        "iss": "new-practice-key",
        "sub": "new-practice-key",
        "aud": format!("{base}/oauth2/token"),
        "jti": uuid::Uuid::new_v4().to_string(),
        "exp": chrono::Utc::now().timestamp() + 240,
    });
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let pem = std::fs::read(crate::support::repo_path("tests/fixtures/oauth/test-1.pem")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::RS512)
            .unwrap();
    let form = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={message}.{signature}",
        spine_sandbox::form_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let resp = sandbox
        .http
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_is_good_only_in_the_world_that_issued_it() {
    let sandbox = TestSandbox::start("tests/fixtures/scenarios/platform.yaml").await;
    let (status, world) = create(&sandbox, json!({ "scenario": "default" })).await;
    assert_eq!(status, 201, "{world}");
    let base = world["urls"]["base"].as_str().unwrap().to_owned();
    let read = |url: String, token: String| {
        let http = sandbox.http.clone();
        async move {
            http.get(url)
                .header("X-Request-ID", REQUEST_ID)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let patient = "/personal-demographics/FHIR/R4/Patient/9690937286";
    let outside = token_at(&sandbox, &sandbox.base).await;
    let inside = token_at(&sandbox, &base).await;
    assert_eq!(read(sandbox.url(patient), outside.clone()).await, 200);
    assert_eq!(read(format!("{base}{patient}"), inside.clone()).await, 200);
    assert_eq!(read(format!("{base}{patient}"), outside).await, 401);
    assert_eq!(read(sandbox.url(patient), inside).await, 401);
}
