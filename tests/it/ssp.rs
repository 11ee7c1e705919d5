//! SSP over real TLS: every refusal in `docs/ssp.md` order, and forwarding that leaves requests and
//! responses unchanged.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use spine_sandbox::Clock;
use spine_sandbox::{Validity, read_certificate};
use spine_sandbox::{crypto_provider, load_certs, load_key, ssp_server_config};
use spine_sandbox::{
    interactions::DOCUMENTS_METADATA, interactions::MIGRATE_DOCUMENT,
    interactions::MIGRATE_STRUCTURED, interactions::STRUCTURED_METADATA,
};

use crate::support::TestSandbox;
use crate::support::echo::{EchoProvider, Reply, closed_port};
use crate::support::tls_clients::{reqwest_with, ssp_headers};
use crate::support::worlds::{
    self, BOTH_ASID, BOTH_ODS, CONSUMER_ASID, CONSUMER_ODS, LIMITED_ASID, PROVIDER_ASID,
    PROVIDER_ODS,
};

const FHIR_JSON: &str = "application/fhir+json";
const SSP_SYSTEM: &str = "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0";

async fn start() -> TestSandbox {
    TestSandbox::start_world(worlds::practices_only()).await
}

/// A sandbox whose SDS points every provider at `echo`.
async fn start_in_front_of(echo: &EchoProvider) -> TestSandbox {
    let base = echo.base.clone();
    TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), move |c| {
        c.public_url = Some(base);
    })
    .await
}

fn migrate_target(sandbox: &TestSandbox, ods: &str) -> String {
    format!(
        "{}/Patient/$gpc.migratestructuredrecord",
        sandbox.endpoint(ods, "structured")
    )
}

fn metadata_target(sandbox: &TestSandbox, ods: &str) -> String {
    format!("{}/metadata", sandbox.endpoint(ods, "structured"))
}

/// A migrate request from the consumer to the provider, as a GP system sends it.
fn migrate_headers() -> HeaderMap {
    let mut h = ssp_headers(CONSUMER_ASID, PROVIDER_ASID, MIGRATE_STRUCTURED);
    h.insert(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer e30.e30."));
    h
}

async fn send_migrate(
    sandbox: &TestSandbox,
    client: &reqwest::Client,
    headers: HeaderMap,
) -> (u16, Value) {
    let resp = client
        .post(sandbox.ssp_url(&migrate_target(sandbox, PROVIDER_ODS)))
        .headers(headers)
        .body("{\"resourceType\":\"Parameters\"}")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Asserts SSP's own error dialect: status as code, the token as display, diagnostics that
/// start with the token and say more.
fn assert_ssp_refusal(body: &Value, status: u16, token: &str) -> String {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert!(body.get("meta").is_none(), "SSP outcomes carry no profile");
    let coding = &body["issue"][0]["details"]["coding"][0];
    assert_eq!(coding["system"], SSP_SYSTEM);
    assert_eq!(coding["code"], status.to_string());
    assert_eq!(coding["display"], token, "{body}");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap().to_owned();
    assert!(
        diagnostics.starts_with(&format!("{token}: ")),
        "{diagnostics}"
    );
    diagnostics
}

#[tokio::test]
async fn forwarded_request_reaches_the_provider_unchanged_and_its_answer_comes_back_unchanged() {
    let reply_body: Bytes = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let echo = EchoProvider::start(Reply {
        headers: vec![
            ("content-type", "application/fhir+json;charset=utf-8"),
            ("cache-control", "no-store"),
            ("x-provider-note", "first"),
            ("x-provider-note", "second"),
        ],
        body: reply_body.clone(),
        ..Reply::default()
    })
    .await;
    let sandbox = start_in_front_of(&echo).await;
    let request_body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let mut headers = migrate_headers();
    headers.insert(ACCEPT, HeaderValue::from_static(FHIR_JSON));
    headers.insert("x-consumer-note", HeaderValue::from_static("one"));
    headers.append("x-consumer-note", HeaderValue::from_static("two"));
    let target = format!("{}?_format=json", migrate_target(&sandbox, PROVIDER_ODS));

    let resp = sandbox
        .ssp_client(CONSUMER_ASID)
        .post(sandbox.ssp_url(&target))
        .headers(headers.clone())
        .body(request_body.clone())
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let notes: Vec<&str> = resp
        .headers()
        .get_all("x-provider-note")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(notes, ["first", "second"]);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.bytes().await.unwrap(), reply_body);

    let received = echo.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.path_and_query,
        format!(
            "/{PROVIDER_ODS}/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord?_format=json"
        )
    );
    for name in headers.keys() {
        let sent: Vec<_> = headers.get_all(name).iter().collect();
        let arrived: Vec<_> = got.headers.get_all(name).iter().collect();
        assert_eq!(sent, arrived, "header {name}");
    }
    assert_eq!(got.headers["host"], echo.addr.to_string());
    assert_eq!(got.body, request_body);
}

#[tokio::test]
async fn a_streamed_request_body_is_forwarded_whole() {
    let echo = EchoProvider::start(Reply::default()).await;
    let sandbox = start_in_front_of(&echo).await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..20u8)
        .map(|i| Ok(Bytes::from(vec![i; 10_000])))
        .collect();
    let resp = sandbox
        .ssp_client(CONSUMER_ASID)
        .post(sandbox.ssp_url(&migrate_target(&sandbox, PROVIDER_ODS)))
        .headers(migrate_headers())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = &echo.received()[0];
    assert_eq!(got.body.len(), 200_000);
    assert!(
        got.body
            .chunks(10_000)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| usize::from(*b) == i))
    );
}

#[tokio::test]
async fn through_ssp_the_sandbox_provider_answers_as_it_does_directly() {
    let sandbox = start().await;
    let headers = ssp_headers(CONSUMER_ASID, PROVIDER_ASID, STRUCTURED_METADATA);
    let trace_id = headers["Ssp-TraceID"].to_str().unwrap().to_owned();
    let target = metadata_target(&sandbox, PROVIDER_ODS);

    let via_ssp = sandbox
        .ssp_client(CONSUMER_ASID)
        .get(sandbox.ssp_url(&target))
        .headers(headers.clone())
        .send()
        .await
        .unwrap();
    let direct = sandbox
        .http
        .get(&target)
        .headers(headers)
        .send()
        .await
        .unwrap();

    assert_eq!(via_ssp.status(), direct.status());
    assert_eq!(
        via_ssp.headers().get(CONTENT_TYPE),
        direct.headers().get(CONTENT_TYPE)
    );
    assert_eq!(
        via_ssp.bytes().await.unwrap(),
        direct.bytes().await.unwrap()
    );

    let journal = sandbox.journal().await;
    let with_trace: Vec<&Value> = journal
        .iter()
        .filter(|e| e["trace_id"] == trace_id.as_str())
        .collect();
    let services: Vec<&str> = with_trace
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert!(services.contains(&"ssp"), "{services:?}");
    assert_eq!(
        services.iter().filter(|s| **s == "provider").count(),
        2,
        "one via SSP, one direct: {services:?}"
    );
}

#[tokio::test]
async fn ssp_answers_under_the_name_localhost_and_over_tls_1_2_and_1_3() {
    let echo = EchoProvider::start(Reply::default()).await;
    let sandbox = start_in_front_of(&echo).await;
    let l = sandbox.layout();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_certs(&l.ca_cert()).unwrap() {
            roots.add(cert).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                load_certs(&l.client_cert(CONSUMER_ASID)).unwrap(),
                load_key(&l.client_key(CONSUMER_ASID)).unwrap(),
            )
            .unwrap();
        let url = format!(
            "https://localhost:{}/{}",
            sandbox.running.ssp_addr.port(),
            migrate_target(&sandbox, PROVIDER_ODS)
        );
        let resp = reqwest_with(config)
            .post(url)
            .headers(migrate_headers())
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{version:?}");
    }
    assert_eq!(echo.received().len(), 2);
}

#[tokio::test]
async fn no_client_certificate_is_496() {
    let sandbox = start().await;
    let client = sandbox.ssp_client_without_certificate();
    let (status, body) = send_migrate(&sandbox, &client, migrate_headers()).await;
    assert_eq!(status, 496);
    let d = assert_ssp_refusal(&body, 496, "SSL_CERTIFICATE_REQUIRED");
    assert!(d.contains("no client certificate"), "{d}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_495() {
    let sandbox = start().await;
    let client = sandbox.ssp_client_from_other_ca(CONSUMER_ODS, CONSUMER_ASID);
    let (status, body) = send_migrate(&sandbox, &client, migrate_headers()).await;
    assert_eq!(status, 495);
    let d = assert_ssp_refusal(&body, 495, "SSL_CERTIFICATE_ERROR");
    assert!(d.contains("not issued by the sandbox CA"), "{d}");
    assert!(
        d.contains("CN=gpca0001.200000000359.sandbox.spine.local"),
        "{d}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_495_naming_the_day_it_expired() {
    let sandbox = start().await;
    let client = sandbox.ssp_client_expired(CONSUMER_ODS, CONSUMER_ASID);
    let (status, body) = send_migrate(&sandbox, &client, migrate_headers()).await;
    assert_eq!(status, 495);
    let d = assert_ssp_refusal(&body, 495, "SSL_CERTIFICATE_ERROR");
    let yesterday = Validity::expired().not_after.format("%Y-%m-%d").to_string();
    assert!(d.contains(&format!("expired on {yesterday}")), "{d}");
}

#[tokio::test]
async fn a_certificate_for_another_asid_than_ssp_from_is_403_naming_both() {
    let sandbox = start().await;
    let mut headers = migrate_headers();
    headers.insert("Ssp-From", HeaderValue::from_static(BOTH_ASID));
    let (status, body) = send_migrate(&sandbox, &sandbox.ssp_client(CONSUMER_ASID), headers).await;
    assert_eq!(status, 403);
    let d = assert_ssp_refusal(
        &body,
        403,
        &format!("ASID_CHECK_FAILED_MESSAGESENDER_{BOTH_ASID}"),
    );
    assert!(
        d.contains(&format!("issued for ASID {CONSUMER_ASID}")),
        "{d}"
    );
    assert!(d.contains(&format!("Ssp-From is '{BOTH_ASID}'")), "{d}");
}

#[tokio::test]
async fn each_missing_ssp_header_is_400_naming_it() {
    let sandbox = start().await;
    let client = sandbox.ssp_client(CONSUMER_ASID);
    for header in ["Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID"] {
        let mut headers = migrate_headers();
        headers.remove(header);
        let (status, body) = send_migrate(&sandbox, &client, headers).await;
        assert_eq!(status, 400, "{header}");
        let token = format!("MISSING_OR_INVALID_HEADER_{}", header.to_uppercase());
        let d = assert_ssp_refusal(&body, 400, &token);
        assert!(
            d.contains(&format!("the {header} header is missing")),
            "{d}"
        );
    }
}

#[tokio::test]
async fn malformed_ssp_headers_are_400_quoting_the_value() {
    let sandbox = start().await;
    let client = sandbox.ssp_client(CONSUMER_ASID);
    for (header, value, says) in [
        ("Ssp-TraceID", "trace-1", "'trace-1' is not a UUID"),
        ("Ssp-To", "91899919873", "'91899919873' is not an ASID"),
        (
            "Ssp-InteractionID",
            "migrate",
            "'migrate' is not an interaction id",
        ),
    ] {
        let mut headers = migrate_headers();
        headers.insert(header, HeaderValue::from_static(value));
        let (status, body) = send_migrate(&sandbox, &client, headers).await;
        assert_eq!(status, 400, "{header}");
        let token = format!("MISSING_OR_INVALID_HEADER_{}", header.to_uppercase());
        let d = assert_ssp_refusal(&body, 400, &token);
        assert!(d.contains(says), "{d}");
    }
}

#[tokio::test]
async fn a_sender_not_allowed_the_interaction_is_403_asid_check_failed() {
    let sandbox = start().await;
    let mut headers = migrate_headers();
    headers.insert("Ssp-From", HeaderValue::from_static(LIMITED_ASID));
    let (status, body) = send_migrate(&sandbox, &sandbox.ssp_client(LIMITED_ASID), headers).await;
    assert_eq!(status, 403);
    let d = assert_ssp_refusal(
        &body,
        403,
        &format!("ASID_CHECK_FAILED_MESSAGESENDER_{LIMITED_ASID}"),
    );
    assert!(
        d.contains(&format!("not authorised to send {MIGRATE_STRUCTURED}")),
        "{d}"
    );
    assert!(
        d.contains(&format!("it may send: {STRUCTURED_METADATA}")),
        "{d}"
    );
}

#[tokio::test]
async fn a_sender_unknown_to_sds_is_403_asid_check_failed() {
    let sandbox = start().await;
    let stranger = "999999999999";
    let issued = sandbox.issue_client("ZZZ999", stranger, Validity::days_from_today(2));
    let mut headers = migrate_headers();
    headers.insert("Ssp-From", HeaderValue::from_static(stranger));
    let (status, body) =
        send_migrate(&sandbox, &sandbox.ssp_client_presenting(&issued), headers).await;
    assert_eq!(status, 403);
    let d = assert_ssp_refusal(
        &body,
        403,
        &format!("ASID_CHECK_FAILED_MESSAGESENDER_{stranger}"),
    );
    assert!(d.contains("no system with ASID 999999999999"), "{d}");
}

#[tokio::test]
async fn a_receiver_not_registered_for_the_interaction_is_403_partykey_check_failed() {
    let sandbox = start().await;
    let client = sandbox.ssp_client(CONSUMER_ASID);
    for (to, says) in [
        (CONSUMER_ASID, "not a GP Connect provider"),
        ("111111111111", "no system with ASID 111111111111"),
    ] {
        let mut headers = migrate_headers();
        headers.insert("Ssp-To", HeaderValue::from_str(to).unwrap());
        let (status, body) = send_migrate(&sandbox, &client, headers).await;
        assert_eq!(status, 403);
        let token = format!("PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_{to}");
        let d = assert_ssp_refusal(&body, 403, &token);
        assert!(d.contains(says), "{d}");
    }
}

#[tokio::test]
async fn a_target_that_is_not_the_sds_endpoint_is_400_and_never_forwarded() {
    let echo = EchoProvider::start(Reply::default()).await;
    let sandbox = start_in_front_of(&echo).await;
    let client = sandbox.ssp_client(CONSUMER_ASID);
    let registered = sandbox.endpoint(PROVIDER_ODS, "structured");
    let path = "/Patient/$gpc.migratestructuredrecord";
    for target in [
        // Same provider under another host name than SDS holds.
        format!("{}{path}", registered.replace("127.0.0.1", "localhost")),
        // Another practice's endpoint (Ssp-To is the provider's ASID).
        format!("{}{path}", sandbox.endpoint(BOTH_ODS, "structured")),
        // Somewhere SDS never mentions.
        format!("http://{}/elsewhere{path}", echo.addr),
    ] {
        let resp = client
            .post(sandbox.ssp_url(&target))
            .headers(migrate_headers())
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{target}");
        let body: Value = resp.json().await.unwrap();
        let token = format!(
            "ENDPOINT_{registered}_CPAID_{PROVIDER_ODS}-198738_VARIES_FROM_TARGETURL_{target}"
        );
        assert_ssp_refusal(&body, 400, &token);
    }
    assert!(
        echo.received().is_empty(),
        "SSP forwarded a refused request"
    );
}

#[tokio::test]
async fn an_interaction_that_does_not_match_the_path_is_400_and_the_wrong_method_405() {
    let sandbox = start().await;
    let client = sandbox.ssp_client(CONSUMER_ASID);

    let resp = client
        .get(sandbox.ssp_url(&metadata_target(&sandbox, PROVIDER_ODS)))
        .headers(migrate_headers())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let d = assert_ssp_refusal(
        &resp.json().await.unwrap(),
        400,
        "MISSING_OR_INVALID_HEADER_SSP-INTERACTIONID",
    );
    assert!(
        d.contains("is for POST <service root>/Patient/$gpc.migratestructuredrecord"),
        "{d}"
    );
    assert!(
        d.contains(STRUCTURED_METADATA),
        "suggests the right one: {d}"
    );

    let resp = client
        .get(sandbox.ssp_url(&migrate_target(&sandbox, PROVIDER_ODS)))
        .headers(migrate_headers())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let d = assert_ssp_refusal(&resp.json().await.unwrap(), 405, "405: Method Not Allowed");
    assert!(d.contains("not GET"), "{d}");

    // A document interaction on the documents endpoint with the structured path.
    let mut headers = ssp_headers(CONSUMER_ASID, PROVIDER_ASID, MIGRATE_DOCUMENT);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    let resp = client
        .get(sandbox.ssp_url(&format!(
            "{}/metadata",
            sandbox.endpoint(PROVIDER_ODS, "documents")
        )))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let d = assert_ssp_refusal(
        &resp.json().await.unwrap(),
        400,
        "MISSING_OR_INVALID_HEADER_SSP-INTERACTIONID",
    );
    assert!(d.contains(DOCUMENTS_METADATA), "{d}");
}

#[tokio::test]
async fn a_post_without_a_fhir_media_type_is_415() {
    let sandbox = start().await;
    let mut headers = migrate_headers();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let (status, body) = send_migrate(&sandbox, &sandbox.ssp_client(CONSUMER_ASID), headers).await;
    assert_eq!(status, 415);
    let d = assert_ssp_refusal(&body, 415, "Unsupported_Media_Type");
    assert!(d.contains("'text/plain' is not a FHIR media type"), "{d}");
}

#[tokio::test]
async fn an_unreachable_provider_is_502_naming_the_target() {
    let dead = closed_port().await;
    let sandbox = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), |c| {
        c.public_url = Some(format!("http://{dead}"));
    })
    .await;
    let (status, body) = send_migrate(
        &sandbox,
        &sandbox.ssp_client(CONSUMER_ASID),
        migrate_headers(),
    )
    .await;
    assert_eq!(status, 502);
    let target = migrate_target(&sandbox, PROVIDER_ODS);
    let d = assert_ssp_refusal(
        &body,
        502,
        &format!("ERROR_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
    );
    assert!(d.contains("could not be reached"), "{d}");
}

#[tokio::test]
async fn a_provider_slower_than_the_forward_timeout_is_504() {
    let echo = EchoProvider::start(Reply {
        delay: Duration::from_secs(4),
        ..Reply::default()
    })
    .await;
    let base = echo.base.clone();
    let sandbox = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), |c| {
        c.public_url = Some(base);
        c.forward_timeout_secs = 1;
    })
    .await;
    let (status, body) = send_migrate(
        &sandbox,
        &sandbox.ssp_client(CONSUMER_ASID),
        migrate_headers(),
    )
    .await;
    assert_eq!(status, 504);
    let target = migrate_target(&sandbox, PROVIDER_ODS);
    let d = assert_ssp_refusal(
        &body,
        504,
        &format!("TIMEOUT_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
    );
    assert!(d.contains("within 1 s"), "{d}");
}

async fn send_metadata(sandbox: &TestSandbox, client: &reqwest::Client) -> (u16, Value) {
    let resp = sandbox.ssp_metadata(client).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

// SSP reaches the sandbox's own providers without the kernel's TCP stack; what a provider does
// to the connection must still come back to the consumer as it would over TCP.
#[tokio::test]
async fn a_sandbox_provider_dropping_the_connection_is_502_and_the_next_request_gets_through() {
    let sandbox = start().await;
    let (status, _) = sandbox
        .set_fault(json!({"service": "provider", "drop": true, "count": 1}))
        .await;
    assert_eq!(status, 201);
    let client = sandbox.ssp_client(CONSUMER_ASID);
    let (status, body) = send_metadata(&sandbox, &client).await;
    assert_eq!(status, 502, "{body}");
    let target = metadata_target(&sandbox, PROVIDER_ODS);
    assert_ssp_refusal(
        &body,
        502,
        &format!("ERROR_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
    );
    assert_provider_answers_again(&sandbox, &client).await;
}

/// The next request reaches the provider (its own refusal of the token-less request).
async fn assert_provider_answers_again(sandbox: &TestSandbox, client: &reqwest::Client) {
    let (status, body) = send_metadata(sandbox, client).await;
    assert_eq!(status, 400, "{body}");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    assert!(diagnostics.contains("'Authorization' is missing"), "{body}");
}

#[tokio::test]
async fn a_sandbox_provider_slower_than_the_forward_timeout_is_504() {
    let sandbox = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), |c| {
        c.forward_timeout_secs = 1;
    })
    .await;
    let (status, _) = sandbox
        .set_fault(json!({"service": "provider", "latency_ms": 3000, "count": 1}))
        .await;
    assert_eq!(status, 201);
    let client = sandbox.ssp_client(CONSUMER_ASID);
    let (status, body) = send_metadata(&sandbox, &client).await;
    assert_eq!(status, 504, "{body}");
    let target = metadata_target(&sandbox, PROVIDER_ODS);
    let d = assert_ssp_refusal(
        &body,
        504,
        &format!("TIMEOUT_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
    );
    assert!(d.contains("within 1 s"), "{d}");
    assert_provider_answers_again(&sandbox, &client).await;
}

#[tokio::test]
async fn connections_ssp_keeps_open_to_the_sandbox_providers_do_not_hold_up_shutdown() {
    let sandbox = start().await;
    let client = sandbox.ssp_client(CONSUMER_ASID);
    for _ in 0..3 {
        assert_provider_answers_again(&sandbox, &client).await;
    }
    // The drain waits up to 10 s for busy connections; idle ones close at once.
    tokio::time::timeout(Duration::from_secs(5), sandbox.running.shutdown())
        .await
        .expect("shutdown finished while SSP held idle connections to the providers");
}

#[tokio::test]
async fn every_exchange_refused_or_forwarded_is_journalled() {
    let echo = EchoProvider::start(Reply::default()).await;
    let sandbox = start_in_front_of(&echo).await;
    let client = sandbox.ssp_client(CONSUMER_ASID);
    let accepted = migrate_headers();
    let mut refused = migrate_headers();
    refused.insert("Ssp-To", HeaderValue::from_static(CONSUMER_ASID));
    let (ok, _) = send_migrate(&sandbox, &client, accepted.clone()).await;
    let (no, refusal_body) = send_migrate(&sandbox, &client, refused.clone()).await;
    assert_eq!((ok, no), (200, 403));

    let journal = sandbox.journal().await;
    let ssp: Vec<&Value> = journal.iter().filter(|e| e["service"] == "ssp").collect();
    assert_eq!(ssp.len(), 2, "{journal:?}");
    let target = migrate_target(&sandbox, PROVIDER_ODS);
    for (entry, headers, status) in [(ssp[0], &accepted, 200), (ssp[1], &refused, 403)] {
        assert_eq!(entry["trace_id"], headers["Ssp-TraceID"].to_str().unwrap());
        assert_eq!(entry["from_asid"], CONSUMER_ASID);
        assert_eq!(entry["to_asid"], headers["Ssp-To"].to_str().unwrap());
        assert_eq!(entry["interaction"], MIGRATE_STRUCTURED);
        assert_eq!(entry["target"], target.as_str());
        assert_eq!(entry["method"], "POST");
        assert_eq!(entry["status"], status);
    }
    assert!(ssp[0]["refusal"].is_null());
    let journalled: Value =
        serde_json::from_str(ssp[1]["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(
        journalled, refusal_body,
        "the journal keeps the body that was sent"
    );
    let refusal = ssp[1]["refusal"].as_str().unwrap();
    assert!(
        refusal.starts_with(&format!(
            "403: PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_{CONSUMER_ASID}"
        )),
        "{refusal}"
    );
}

#[tokio::test]
async fn plain_http_on_the_ssp_port_is_497() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sandbox = start().await;
    let mut tcp = tokio::net::TcpStream::connect(sandbox.running.ssp_addr)
        .await
        .unwrap();
    tcp.write_all(b"GET /http://x/metadata HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 497 "), "{answer}");
    assert!(
        answer.contains("HTTP_REQUEST_SENT_TO_HTTPS_PORT"),
        "{answer}"
    );
    let journal = sandbox.journal().await;
    assert!(
        journal.iter().any(|e| e["service"] == "ssp"
            && e["status"] == 497
            && e["path"] == "/http://x/metadata"),
        "{journal:?}"
    );
}

#[tokio::test]
async fn the_ssp_certificate_names_the_loopback_hosts() {
    let sandbox = start().await;
    let info = read_certificate(&sandbox.layout().ssp_cert()).unwrap();
    assert!(info.dns_names.iter().any(|n| n == "localhost"));
    let ips: Vec<String> = info.ip_addresses.iter().map(ToString::to_string).collect();
    assert!(ips.contains(&"127.0.0.1".to_owned()) && ips.contains(&"::1".to_owned()));
}

#[tokio::test]
async fn an_https_provider_is_called_over_tls_with_ssps_own_certificate() {
    // The shared folder's SSP certificate names 127.0.0.1, so the stand-in provider borrows it;
    // it asks for a client certificate and records whose it got.
    let first = start().await;
    let l = first.layout();
    let (server, _) = ssp_server_config(&l.ca_cert(), &l.ssp_cert(), &l.ssp_key()).unwrap();
    let echo = EchoProvider::start_tls(Reply::default(), server).await;
    let sandbox = start_in_front_of(&echo).await;
    assert!(
        sandbox
            .endpoint(PROVIDER_ODS, "structured")
            .starts_with("https://")
    );

    let (status, _) = send_migrate(
        &sandbox,
        &sandbox.ssp_client(CONSUMER_ASID),
        migrate_headers(),
    )
    .await;

    assert_eq!(status, 200);
    let got = echo.received();
    assert_eq!(got.len(), 1);
    let subject = got[0].client_subject.clone().unwrap_or_default();
    assert!(subject.contains("CN=ssp.sandbox.spine.local"), "{subject}");
}
