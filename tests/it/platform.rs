//! The API platform in front of PDS (OAuth token endpoint, tokens, rate limit, the SDS `apikey`
//! switch) and faults on demand, as a consumer meets them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use spine_sandbox::Clock;

use crate::support::{TestSandbox, diagnostics, repo_path, spine_code};

const SCENARIO: &str = "tests/fixtures/scenarios/platform.yaml";
const APP_KEY: &str = "new-practice-key";
const PATIENT: &str = "9690937286";
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A sandbox on the platform scenario whose clock a test can move on.
async fn start() -> (TestSandbox, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(0));
    let seen = offset.clone();
    let clock = Clock::from_fn(move || {
        chrono::Utc::now() + chrono::Duration::seconds(seen.load(Ordering::SeqCst))
    });
    (
        TestSandbox::start_with(SCENARIO, clock, |_| {}).await,
        offset,
    )
}

fn private_key(name: &str) -> EncodingKey {
    let pem = std::fs::read(repo_path(&format!("tests/fixtures/oauth/{name}"))).unwrap();
    EncodingKey::from_rsa_pem(&pem).unwrap()
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A client assertion with exactly the header and claims given, signed RS512 with `key`.
fn assertion(header: &Value, claims: &Value, key: &str) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &private_key(key), Algorithm::RS512)
            .unwrap();
    format!("{message}.{signature}")
}

fn good_header() -> Value {
    json!({ "alg": "RS512", "typ": "JWT", "kid": "test-1" })
}

fn good_claims(sandbox: &TestSandbox, api_key: &str) -> Value {
    json!({
        "iss": api_key,
        "sub": api_key,
        "aud": format!("{}/oauth2/token", sandbox.base),
        "jti": uuid::Uuid::new_v4().to_string(),
        "exp": chrono::Utc::now().timestamp() + 240,
    })
}

async fn post_token(sandbox: &TestSandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = sandbox
        .http
        .post(sandbox.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(form))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn encode_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{k}={}", spine_sandbox::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn token_for(sandbox: &TestSandbox, client_assertion: &str) -> (u16, Value) {
    post_token(
        sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", client_assertion),
        ],
    )
    .await
}

async fn app_token(sandbox: &TestSandbox, api_key: &str) -> String {
    let jwt = assertion(&good_header(), &good_claims(sandbox, api_key), "test-1.pem");
    let (status, body) = token_for(sandbox, &jwt).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn read_patient(sandbox: &TestSandbox, token: Option<&str>) -> (u16, Value) {
    let mut req = sandbox
        .http
        .get(sandbox.url(&format!("/personal-demographics/FHIR/R4/Patient/{PATIENT}")))
        .header("x-request-id", uuid::Uuid::new_v4().to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn display(outcome: &Value) -> &str {
    outcome["issue"][0]["details"]["coding"][0]["display"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_signed_client_assertion_gets_a_token_as_the_platform_answers() {
    let (sandbox, _) = start().await;
    let jwt = assertion(
        &good_header(),
        &good_claims(&sandbox, APP_KEY),
        "test-1.pem",
    );
    let (status, body) = token_for(&sandbox, &jwt).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "599");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["issued_at"].as_str().unwrap().parse::<i64>().is_ok());
    assert!(!body["access_token"].as_str().unwrap().is_empty());
    // The same key registered as a PEM for another application works too.
    app_token(&sandbox, "busy-app-key").await;
}

/// Form fields sent, then the status, `error` and `error_description` expected.
type FormCase = (
    Vec<(&'static str, &'static str)>,
    u16,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn every_token_error_is_the_platforms() {
    let (sandbox, _) = start().await;
    let claims = good_claims(&sandbox, APP_KEY);
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(Value, Value, &str, u16, &str, &str)> = vec![
        (
            json!({"alg": "RS512", "typ": "JWT"}),
            claims.clone(),
            "test-1.pem",
            400,
            "invalid_request",
            "Missing 'kid' header in client_assertion JWT",
        ),
        (
            json!({"alg": "RS512", "typ": "JWT", "kid": "nope"}),
            claims.clone(),
            "test-1.pem",
            401,
            "invalid_request",
            "Invalid 'kid' header in client_assertion JWT - no matching public key",
        ),
        (
            json!({"alg": "RS512", "typ": "JOSE", "kid": "test-1"}),
            claims.clone(),
            "test-1.pem",
            400,
            "invalid_request",
            "Invalid 'typ' header in client_assertion JWT - must be 'JWT'",
        ),
        (
            json!({"alg": "RS256", "typ": "JWT", "kid": "test-1"}),
            claims.clone(),
            "test-1.pem",
            400,
            "invalid_request",
            "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'",
        ),
        (
            json!({"typ": "JWT", "kid": "test-1"}),
            claims.clone(),
            "test-1.pem",
            400,
            "invalid_request",
            "Missing 'alg' header in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"iss": "unknown", "sub": "unknown"})),
            "test-1.pem",
            401,
            "invalid_request",
            "Invalid 'iss'/'sub' claims in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"sub": "other"})),
            "test-1.pem",
            400,
            "invalid_request",
            "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"iss": null})),
            "test-1.pem",
            400,
            "invalid_request",
            "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"jti": null})),
            "test-1.pem",
            400,
            "invalid_request",
            "Missing 'jti' claim in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"jti": 1234567890})),
            "test-1.pem",
            400,
            "invalid_request",
            "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID",
        ),
        (
            good_header(),
            with(json!({"aud": "https://api.service.nhs.uk/oauth2/token"})),
            "test-1.pem",
            401,
            "invalid_request",
            "Missing or invalid 'aud' claim in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"aud": null})),
            "test-1.pem",
            401,
            "invalid_request",
            "Missing or invalid 'aud' claim in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"exp": null})),
            "test-1.pem",
            400,
            "invalid_request",
            "Missing 'exp' claim in client_assertion JWT",
        ),
        (
            good_header(),
            with(json!({"exp": (now + 200).to_string()})),
            "test-1.pem",
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - must be an integer",
        ),
        (
            good_header(),
            with(json!({"exp": now - 20})),
            "test-1.pem",
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
        ),
        (
            good_header(),
            with(json!({"exp": now + 360})),
            "test-1.pem",
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
        ),
        (
            good_header(),
            claims.clone(),
            "other.pem",
            401,
            "public_key error",
            "JWT signature verification failed",
        ),
        (
            good_header(),
            with(json!({"iss": "keyless-key", "sub": "keyless-key"})),
            "test-1.pem",
            403,
            "public_key error",
            "You need to register a public key to use this authentication method - please contact support to configure",
        ),
    ];
    for (header, claims, key, status, error, description) in cases {
        let mut claims = claims;
        claims["jti"] = claims.get("jti").cloned().map_or(Value::Null, |j| {
            if j.is_string() {
                json!(uuid::Uuid::new_v4().to_string())
            } else {
                j
            }
        });
        if claims["jti"].is_null() {
            claims.as_object_mut().unwrap().remove("jti");
        }
        let jwt = assertion(&header, &claims, key);
        let (got, body) = token_for(&sandbox, &jwt).await;
        assert_eq!(got, status, "{description}: {body}");
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_description"], description);
        assert!(body["message_id"].is_string());
    }

    let form_cases: Vec<FormCase> = vec![
        (
            vec![
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", "x.y.z"),
            ],
            400,
            "invalid_request",
            "grant_type is missing",
        ),
        (
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
            "grant_type is invalid",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_assertion", "x.y.z"),
            ],
            400,
            "invalid_request",
            "Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ],
            400,
            "invalid_request",
            "Missing client_assertion",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", "invalid"),
            ],
            400,
            "invalid_request",
            "Malformed JWT in client_assertion",
        ),
    ];
    for (form, status, error, description) in form_cases {
        let (got, body) = post_token(&sandbox, &form).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{body}"
        );
        assert_eq!(body["error_description"], description);
    }
}

#[tokio::test]
async fn a_reused_jti_is_refused() {
    let (sandbox, _) = start().await;
    let jwt = assertion(
        &good_header(),
        &good_claims(&sandbox, APP_KEY),
        "test-1.pem",
    );
    assert_eq!(token_for(&sandbox, &jwt).await.0, 200);
    let (status, body) = token_for(&sandbox, &jwt).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"],
        "Non-unique 'jti' claim in client_assertion JWT"
    );
}

#[tokio::test]
async fn pds_wants_a_live_token_when_authentication_is_required() {
    let (sandbox, clock) = start().await;
    let (status, body) = read_patient(&sandbox, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
    assert_eq!(display(&body), "Invalid access token");

    let (status, body) = read_patient(&sandbox, Some("made-up")).await;
    assert_eq!((status, spine_code(&body)), (401, "ACCESS_DENIED"));

    let token = app_token(&sandbox, APP_KEY).await;
    let (status, body) = read_patient(&sandbox, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], PATIENT);

    clock.store(600, Ordering::SeqCst);
    let (status, body) = read_patient(&sandbox, Some(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(display(&body), "Access Token expired");
    assert!(diagnostics(&body).contains("599"));

    // A reset forgets every token.
    clock.store(0, Ordering::SeqCst);
    let token = app_token(&sandbox, APP_KEY).await;
    sandbox.reset().await;
    assert_eq!(read_patient(&sandbox, Some(&token)).await.0, 401);
}

#[tokio::test]
async fn an_update_needs_a_healthcare_worker_token() {
    let (sandbox, _) = start().await;
    let patch = |token: String| {
        sandbox
            .http
            .patch(sandbox.url(&format!("/personal-demographics/FHIR/R4/Patient/{PATIENT}")))
            .bearer_auth(token)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .header("content-type", "application/json-patch+json")
            .header("if-match", "W/\"1\"")
            .body(r#"{"patches":[]}"#)
            .send()
    };
    let app = app_token(&sandbox, APP_KEY).await;
    let resp = patch(app).await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(spine_code(&body), "INVALID_METHOD");
    assert_eq!(
        display(&body),
        "Cannot update resource with Application-Restricted access token"
    );

    // The simulated login: authorize redirects at once with a code for the role asked for.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .get(sandbox.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={APP_KEY}&redirect_uri=http%3A%2F%2Flocalhost%2Fcallback&state=abc&role=555254242106"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://localhost/callback?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=abc"), "{location}");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let wrong_secret = post_token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/callback"),
            ("client_id", APP_KEY),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(wrong_secret.0, 401, "{}", wrong_secret.1);

    let (status, body) = post_token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/callback"),
            ("client_id", APP_KEY),
            ("client_secret", "s3cret"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "599");
    assert!(body["refresh_token"].is_string());
    let user = body["access_token"].as_str().unwrap().to_owned();
    // Past the platform: PDS itself now judges the (empty) update.
    let resp = patch(user).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(spine_code(&body), "INVALID_UPDATE", "{body}");

    // A code is good once.
    let again = post_token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/callback"),
            ("client_id", APP_KEY),
            ("client_secret", "s3cret"),
        ],
    )
    .await;
    assert_eq!(again.1["error"], "invalid_grant");
}

#[tokio::test]
async fn an_application_over_its_rate_gets_the_platforms_429() {
    // A stopped clock: every request falls in the same second.
    let clock = Clock::fixed(chrono::Utc::now());
    let sandbox = TestSandbox::start_with(SCENARIO, clock, |_| {}).await;
    let jwt = assertion(
        &good_header(),
        &good_claims(&sandbox, "busy-app-key"),
        "test-1.pem",
    );
    let (_, body) = token_for(&sandbox, &jwt).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(read_patient(&sandbox, Some(&token)).await.0, 200);
    assert_eq!(read_patient(&sandbox, Some(&token)).await.0, 200);
    let (status, body) = read_patient(&sandbox, Some(&token)).await;
    assert_eq!(status, 429);
    assert_eq!(spine_code(&body), "TOO_MANY_REQUESTS");
    assert!(diagnostics(&body).contains("Your application, Busy App, has created a spike"));
}

#[tokio::test]
async fn sds_apikey_follows_the_authentication_switch() {
    let (sandbox, _) = start().await;
    let path = "/spine-directory/FHIR/R4/Device?organization=https://fhir.nhs.uk/Id/ods-organization-code|B82617&identifier=https://fhir.nhs.uk/Id/nhsServiceInteractionId|urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1";
    let resp = sandbox.get(path).await;
    assert_eq!(resp.status(), 401);
    let resp = sandbox
        .http
        .get(sandbox.url(path))
        .header("apikey", APP_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn authentication_stays_off_by_default() {
    let sandbox = TestSandbox::start("tests/fixtures/scenarios/minimal.yaml").await;
    assert_eq!(read_patient(&sandbox, None).await.0, 200);
}

// ---- faults ----

async fn open_sandbox() -> TestSandbox {
    TestSandbox::start("tests/fixtures/scenarios/minimal.yaml").await
}

#[tokio::test]
async fn latency_slows_the_answer_and_is_journalled() {
    let sandbox = open_sandbox().await;
    let (status, body) = sandbox
        .set_fault(json!({"service": "pds", "latency_ms": 300, "label": "PDS is slow"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    assert_eq!(read_patient(&sandbox, None).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let journal = sandbox.journal().await;
    let entry = journal
        .iter()
        .rev()
        .find(|e| e["service"] == "pds")
        .unwrap();
    assert!(
        entry["fault"].as_str().unwrap().contains("PDS is slow"),
        "{entry}"
    );
    assert!(entry["fault"].as_str().unwrap().contains("latency 300 ms"));
}

#[tokio::test]
async fn statuses_carry_the_real_services_bodies() {
    let sandbox = open_sandbox().await;
    sandbox
        .set_fault(json!({"service": "pds", "status": 503, "count": 1}))
        .await;
    let (status, body) = read_patient(&sandbox, None).await;
    assert_eq!((status, spine_code(&body)), (503, "SERVICE_UNAVAILABLE"));
    assert!(diagnostics(&body).contains("Retry-After"));

    sandbox
        .set_fault(json!({"service": "pds", "status": 429, "retry_after": 7, "count": 1}))
        .await;
    let resp = sandbox
        .http
        .get(sandbox.url(&format!("/personal-demographics/FHIR/R4/Patient/{PATIENT}")))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(spine_code(&body), "TOO_MANY_REQUESTS");

    sandbox
        .set_fault(json!({"service": "sds", "status": 504, "count": 1}))
        .await;
    let resp = sandbox.get("/spine-directory/FHIR/R4/Device").await;
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(spine_code(&body), "INTERNAL_SERVER_ERROR");
    assert_eq!(diagnostics(&body), "LDAP request timed out");

    sandbox
        .set_fault(json!({"service": "provider", "status": 500, "count": 1}))
        .await;
    let resp = sandbox.get("/B82617/STU3/1/gpconnect/fhir/metadata").await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(spine_code(&body), "INTERNAL_SERVER_ERROR");
}

#[tokio::test]
async fn ssp_can_be_down_or_failing_to_reach_the_provider() {
    let sandbox = open_sandbox().await;
    sandbox
        .set_fault(json!({"service": "ssp", "status": 502, "count": 1}))
        .await;
    let client = sandbox.ssp_client("200000000359");
    let target = "https://localhost/B82617/STU3/1/gpconnect/fhir/metadata";
    let resp = client.get(sandbox.ssp_url(target)).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        display(&body),
        format!("ERROR_COMMUNICATING_TO_ENDPOINT_URL_{target}")
    );
    sandbox
        .set_fault(json!({"service": "ssp", "status": 503, "retry_after": 30, "count": 1}))
        .await;
    let resp = client.get(sandbox.ssp_url(target)).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "30");
    let journal = sandbox.journal().await;
    let marked = journal
        .iter()
        .filter(|e| e["service"] == "ssp" && e["fault"].is_string())
        .count();
    assert_eq!(marked, 2);
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer() {
    let sandbox = open_sandbox().await;
    sandbox
        .set_fault(json!({"service": "pds", "drop": true, "count": 1}))
        .await;
    let attempt = sandbox
        .http
        .get(sandbox.url(&format!("/personal-demographics/FHIR/R4/Patient/{PATIENT}")))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await;
    assert!(attempt.is_err(), "{attempt:?}");
    let journal = sandbox.journal().await;
    let entry = journal
        .iter()
        .rev()
        .find(|e| e["service"] == "pds")
        .unwrap();
    assert_eq!(entry["status"], 444);
    assert!(
        entry["fault"]
            .as_str()
            .unwrap()
            .contains("connection dropped")
    );
    // Only the first: the next request is answered.
    assert_eq!(read_patient(&sandbox, None).await.0, 200);
}

#[tokio::test]
async fn fail_the_first_n_then_answer_normally() {
    let sandbox = open_sandbox().await;
    sandbox.set_fault(json!({"service": "pds", "method": "GET", "patient": PATIENT, "status": 503, "count": 2}),
    )
    .await;
    let statuses = [
        read_patient(&sandbox, None).await.0,
        read_patient(&sandbox, None).await.0,
        read_patient(&sandbox, None).await.0,
    ];
    assert_eq!(statuses, [503, 503, 200]);
    let rules: Value = sandbox.get("/_admin/faults").await.json().await.unwrap();
    assert_eq!(rules["rules"][0]["applied"], 2);
    assert_eq!(rules["rules"][0]["active"], false);
}

#[tokio::test]
async fn rules_match_only_what_they_name() {
    let sandbox = open_sandbox().await;
    sandbox.set_fault(json!({"service": "pds", "path": "/personal-demographics/FHIR/R4/Patient/9000000009", "status": 500}),
    )
    .await;
    sandbox
        .set_fault(json!({"service": "pds", "method": "PATCH", "status": 500}))
        .await;
    assert_eq!(read_patient(&sandbox, None).await.0, 200);
}

#[tokio::test]
async fn the_admin_api_validates_lists_removes_and_resets_rules() {
    let sandbox = TestSandbox::start(SCENARIO).await;
    let (status, body) = sandbox
        .set_fault(json!({"service": "pds", "status": 418}))
        .await;
    assert_eq!(status, 400);
    assert!(
        diagnostics(&body).contains("status: pds does not inject 418; it can inject 429, 500, 503"),
        "{body}"
    );
    let (status, body) = sandbox
        .set_fault(json!([{"service": "pds", "drop": true}, {"service": "sds"}]))
        .await;
    assert_eq!(status, 400);
    assert!(
        diagnostics(&body).starts_with("fault rule 2: a rule must inject"),
        "{body}"
    );
    let (status, body) = sandbox.set_fault(json!({"servce": "pds"})).await;
    assert_eq!(status, 400);
    assert!(
        diagnostics(&body).contains("unknown field `servce`"),
        "{body}"
    );
    // A value of the wrong type or an unknown service names its field.
    for (rule, named) in [
        (
            json!({"service": "pds", "status": "abc"}),
            "fault rule 1: status: invalid type: string \"abc\", expected a whole number from 0 to 65535",
        ),
        (
            json!({"service": "mainframe", "status": 503}),
            "fault rule 1: service: unknown variant `mainframe`",
        ),
    ] {
        let (status, body) = sandbox.set_fault(rule).await;
        assert_eq!(status, 400);
        assert!(diagnostics(&body).starts_with(named), "{body}");
    }

    // The scenario's rule is there from the start.
    let rules: Value = sandbox.get("/_admin/faults").await.json().await.unwrap();
    assert_eq!(rules["rules"].as_array().unwrap().len(), 1);
    assert_eq!(rules["rules"][0]["origin"], "scenario");

    let (_, added) = sandbox
        .set_fault(json!({"service": "ssp", "status": 503}))
        .await;
    let id = added["rules"][0]["id"].as_u64().unwrap();
    let rules: Value = sandbox.get("/_admin/faults").await.json().await.unwrap();
    assert_eq!(rules["rules"].as_array().unwrap().len(), 2);

    let resp = sandbox
        .http
        .delete(sandbox.url(&format!("/_admin/faults/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = sandbox
        .http
        .delete(sandbox.url("/_admin/faults/999"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    sandbox
        .set_fault(json!({"service": "ssp", "status": 503}))
        .await;
    let resp = sandbox
        .http
        .delete(sandbox.url("/_admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let rules: Value = sandbox.get("/_admin/faults").await.json().await.unwrap();
    assert!(rules["rules"].as_array().unwrap().is_empty());

    // Reset: the scenario's rule comes back, runtime ones are gone.
    sandbox
        .set_fault(json!({"service": "ssp", "status": 503}))
        .await;
    sandbox.reset().await;
    let rules: Value = sandbox.get("/_admin/faults").await.json().await.unwrap();
    let rules = rules["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["origin"], "scenario");
}

#[tokio::test]
async fn scenario_platform_sections_are_checked_at_their_position() {
    let dir = crate::support::temp_dir("platform-scenario");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "auth: sometimes\napplications:\n  - name: X\n    api_key: k\n    public_key: missing.pem\n    kid: a\nfaults:\n  - { service: pds, status: 502 }\n",
    )
    .unwrap();
    let errors = spine_sandbox::load_paths(&[path], chrono::Utc::now().date_naive()).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|e| e.contains(":1:7: auth: 'sometimes'")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains(":5:17: public_key: cannot read")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains(":8:5: fault rule: status: pds does not inject 502")),
        "{text:?}"
    );
}

#[tokio::test]
async fn the_journey_authenticates_when_given_a_key() {
    let world = spine_sandbox::load_paths(
        &[
            repo_path("scenarios/default.yaml"),
            repo_path("tests/fixtures/scenarios/platform-overlay.yaml"),
        ],
        crate::support::start_day(),
    )
    .unwrap();
    let sandbox = TestSandbox::start_world(world).await;
    let mut options = sandbox.journey_options("9434761018", "A20047");
    // Without a key the trace is refused by the platform.
    let report = spine_sandbox::run_journey(&options, |_| {}).await;
    assert!(
        !matches!(report.outcome, spine_sandbox::JourneyOutcome::Received),
        "{:?}",
        report.outcome
    );
    options.auth = Some(spine_sandbox::JourneyAuth {
        client_key: repo_path("tests/fixtures/oauth/test-1.pem"),
        kid: "test-1".into(),
        api_key: APP_KEY.into(),
        client_secret: None,
    });
    let report = journey_received(&options).await;
    assert_eq!(report.steps[0].step, "Platform token (signed JWT)");
}

/// An application registered with a client secret runs the journey when given `--client-secret`,
/// and is stopped at the login without it.
#[tokio::test]
async fn the_journey_presents_a_registered_client_secret() {
    let dir = crate::support::temp_dir("journey-secret");
    let overlay = dir.join("secret.yaml");
    std::fs::write(
        &overlay,
        format!(
            "auth: required\napplications:\n  - name: New Practice GP System\n    api_key: {APP_KEY}\n    public_key: {}\n    kid: test-1\n    secret: s3cret\n",
            repo_path("tests/fixtures/oauth/test-1.pub.pem").display()
        ),
    )
    .unwrap();
    let world = spine_sandbox::load_paths(
        &[repo_path("scenarios/default.yaml"), overlay],
        crate::support::start_day(),
    )
    .unwrap();
    let sandbox = TestSandbox::start_world(world).await;
    let mut options = sandbox.journey_options("9434761018", "A20047");
    let auth = spine_sandbox::JourneyAuth {
        client_key: repo_path("tests/fixtures/oauth/test-1.pem"),
        kid: "test-1".into(),
        api_key: APP_KEY.into(),
        client_secret: None,
    };
    options.auth = Some(auth.clone());
    let refused = spine_sandbox::run_journey(&options, |_| {}).await;
    let login = refused
        .steps
        .iter()
        .find(|s| s.step == "Platform login (healthcare worker)")
        .expect("the login step is reported");
    assert!(
        serde_json::to_string(login)
            .unwrap()
            .contains("client_secret is missing"),
        "{login:?}"
    );
    options.auth = Some(spine_sandbox::JourneyAuth {
        client_secret: Some("s3cret".into()),
        ..auth
    });
    journey_received(&options).await;
}

/// `spine-sandbox keys` makes a key pair a consumer can register and sign with straight away.
#[tokio::test]
async fn a_key_pair_made_by_the_keys_command_signs_a_journey() {
    let dir = crate::support::temp_dir("keys-command");
    let keys = dir.join("keys");
    let out = std::process::Command::new(crate::binary::BIN)
        .args([
            "keys",
            "--kid",
            "made-1",
            "--bits",
            "2048",
            "--api-key",
            "made-key",
        ])
        .arg("--out")
        .arg(&keys)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("api_key: made-key"), "{stdout}");
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(keys.join("made-1.jwks.json")).unwrap()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "made-1");
    assert_eq!(jwks["keys"][0]["alg"], "RS512");
    assert_eq!(jwks["keys"][0]["kty"], "RSA");

    // Run again: nothing is overwritten, and the refusal names the file.
    let again = std::process::Command::new(crate::binary::BIN)
        .args(["keys", "--kid", "made-1", "--bits", "2048"])
        .arg("--out")
        .arg(&keys)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("made-1.key.pem already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let overlay = dir.join("made.yaml");
    std::fs::write(
        &overlay,
        "auth: required\napplications:\n  - name: Made by the keys command\n    api_key: made-key\n    jwks: keys/made-1.jwks.json\n",
    )
    .unwrap();
    let world = spine_sandbox::load_paths(
        &[repo_path("scenarios/default.yaml"), overlay],
        crate::support::start_day(),
    )
    .unwrap();
    let sandbox = TestSandbox::start_world(world).await;
    let mut options = sandbox.journey_options("9434761018", "A20047");
    options.auth = Some(spine_sandbox::JourneyAuth {
        client_key: keys.join("made-1.key.pem"),
        kid: "made-1".into(),
        api_key: "made-key".into(),
        client_secret: None,
    });
    journey_received(&options).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Plays the journey and asserts the record arrived; the report, for further checks.
async fn journey_received(options: &spine_sandbox::JourneyOptions) -> spine_sandbox::JourneyReport {
    let report = spine_sandbox::run_journey(options, |_| {}).await;
    assert!(
        matches!(report.outcome, spine_sandbox::JourneyOutcome::Received),
        "{:?}",
        report.steps
    );
    report
}

/// The simulated login and the code exchange refuse with the identity service's statuses, error
/// codes and texts, in its order: a bad client or redirect URI in JSON, a bad `response_type`
/// or a missing `state` back at the redirect URI.
#[tokio::test]
async fn the_simulated_login_refuses_as_the_identity_service_does() {
    let (sandbox, _) = start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = |query: String| {
        let request = no_redirects.get(sandbox.url(&format!("/oauth2/authorize?{query}")));
        async move { request.send().await.unwrap() }
    };
    let callback = "redirect_uri=http%3A%2F%2Flocalhost%2Fcallback";
    for (query, status, description) in [
        (
            format!("response_type=code&{callback}&state=s"),
            401,
            "client_id is missing",
        ),
        (
            format!("response_type=code&client_id=nobody&{callback}&state=s"),
            401,
            "client_id is invalid",
        ),
        (
            format!("response_type=code&client_id={APP_KEY}&state=s"),
            400,
            "redirect_uri is missing",
        ),
        (
            format!("response_type=code&client_id={APP_KEY}&redirect_uri=%2Finvalid&state=s"),
            400,
            "redirect_uri is invalid",
        ),
    ] {
        let resp = authorize(query.clone()).await;
        assert_eq!(resp.status(), status, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{query}");
        assert_eq!(body["error_description"], description, "{query}");
        assert!(body["message_id"].is_string(), "{body}");
    }
    for (query, expected) in [
        (
            format!("client_id={APP_KEY}&{callback}&state=s"),
            "error=invalid_request&error_description=response_type%20is%20missing&state=s",
        ),
        (
            format!("response_type=token&client_id={APP_KEY}&{callback}&state=s"),
            "error=unsupported_response_type&error_description=response_type%20is%20invalid&state=s",
        ),
        (
            format!("response_type=code&client_id={APP_KEY}&{callback}"),
            "error=invalid_request&error_description=state%20is%20missing",
        ),
    ] {
        let resp = authorize(query.clone()).await;
        assert_eq!(resp.status(), 302, "{query}");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            location,
            format!("http://localhost/callback?{expected}"),
            "{query}"
        );
    }

    for (form, status, error, description) in [
        (
            vec![("grant_type", "authorization_code"), ("code", "c")],
            401,
            "invalid_request",
            "client_id is missing",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", APP_KEY),
                ("code", "c"),
                ("redirect_uri", "http://localhost/callback"),
            ],
            401,
            "invalid_request",
            "client_secret is missing",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", APP_KEY),
                ("client_secret", "s3cret"),
                ("redirect_uri", "http://localhost/callback"),
            ],
            400,
            "invalid_request",
            "authorization_code is missing",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", APP_KEY),
                ("client_secret", "s3cret"),
                ("code", "not-a-code"),
                ("redirect_uri", "http://localhost/callback"),
            ],
            400,
            "invalid_grant",
            "authorization_code is invalid",
        ),
    ] {
        let (got, body) = post_token(&sandbox, &form).await;
        assert_eq!(got, status, "{form:?} {body}");
        assert_eq!(body["error"], error, "{form:?}");
        assert_eq!(body["error_description"], description, "{form:?}");
    }
}
