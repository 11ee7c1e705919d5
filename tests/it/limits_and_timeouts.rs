//! What a demanding client meets: a journal that stays bounded and in arrival order, bodies and
//! silent connections cut off in time, percent-encoded operation names, and certificate
//! refusals in words.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use spine_sandbox::Clock;
use spine_sandbox::OdsCode;
use spine_sandbox::client_config;
use spine_sandbox::interactions::MIGRATE_STRUCTURED;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::tls_clients::ssp_headers;
use crate::support::worlds::{self, CONSUMER_ASID, PROVIDER_ASID, PROVIDER_ODS};
use crate::support::*;

const DEFAULT: &str = "scenarios/default.yaml";
/// The default scenario's largest record (about 1.2 MB as a Bundle).
const LARGE: &str = "9434761077";

/// The default scenario with the large record's patient registered with the assurance suite's
/// practice, so the suite's migrate request is allowed.
async fn default_with_large_record_movable(
    adjust: impl FnOnce(&mut spine_sandbox::Config),
) -> TestSandbox {
    let mut world = spine_sandbox::load_paths(&[repo_path(DEFAULT)], start_day()).unwrap();
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == LARGE)
        .unwrap();
    patient.registered_with = OdsCode::parse(SUITE_ODS).unwrap();
    TestSandbox::start_world_with(world, Clock::system(), adjust).await
}

fn migrate_url(s: &TestSandbox, operation: &str) -> String {
    format!(
        "{}/B82617/STU3/1/gpconnect/structured/fhir/Patient/{operation}",
        s.running.shared.public_url
    )
}

async fn journal_bytes(s: &TestSandbox) -> (usize, Vec<Value>) {
    let resp = s.get("/_admin/journal").await;
    let bytes = resp.headers()["x-journal-bytes"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let entries: Value = resp.json().await.unwrap();
    (bytes, entries.as_array().cloned().unwrap())
}

// ---- The journal: bounded in bytes, emptied by reset, ordered by arrival ----

#[tokio::test]
async fn the_journal_keeps_cut_copies_within_its_byte_bound_and_reset_empties_it() {
    let limit = 128 * 1024;
    let s = default_with_large_record_movable(|c| c.journal_max_bytes = limit).await;
    let call = ProviderCall::migrate(LARGE, false);
    for _ in 0..12 {
        let (status, body) = call.send(&s).await;
        assert_eq!(status, 200, "{body:#}");
    }
    let (bytes, entries) = journal_bytes(&s).await;
    assert!(bytes > 0 && bytes <= limit, "X-Journal-Bytes {bytes}");
    // Twelve 1.2 MB answers, but only what fits the bound is kept: each cut at 16 KiB.
    assert!(entries.len() < 12, "{} entries", entries.len());
    let shown = entries.last().unwrap()["response_body"].as_str().unwrap();
    assert!(shown.len() < 20 * 1024, "{} bytes shown", shown.len());
    assert!(
        shown.contains("bytes in all, cut at"),
        "{}",
        &shown[shown.len() - 80..]
    );

    assert_eq!(s.reset().await, 204);
    let (bytes, entries) = journal_bytes(&s).await;
    assert_eq!((bytes, entries.len()), (0, 0));
}

#[tokio::test]
async fn through_ssp_the_ssp_entry_comes_before_the_provider_entry_it_caused() {
    let s = TestSandbox::start(DEFAULT).await;
    // Follow the live stream from the start, as the web page does.
    let mut stream = s
        .http
        .get(s.url("/_admin/journal?stream=true"))
        .send()
        .await
        .unwrap();
    let client = s.ssp_client(SUITE_ASID);
    let call = ProviderCall::migrate(PATIENT2, false);
    let target = migrate_url(&s, "$gpc.migratestructuredrecord");
    let (status, body) = call.send_with(&client, &s.ssp_url(&target)).await;
    assert_eq!(status, 200, "{body:#}");

    let entries = s.journal().await;
    let services: Vec<&str> = entries
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, vec!["ssp", "provider"], "{entries:#?}");
    assert!(entries[0]["sequence"].as_u64() < entries[1]["sequence"].as_u64());
    assert_eq!(entries[0]["trace_id"], entries[1]["trace_id"]);

    // The stream sends each as it completes, with its sequence number to order by.
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let complete = |text: &str| {
        text.rsplit_once("\n\n")
            .map_or(String::new(), |(done, _)| done.to_owned())
    };
    while complete(&text).matches("event: entry").count() < 2 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    let streamed: Vec<Value> = complete(&text)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let seq_of = |service: &str| {
        streamed
            .iter()
            .find(|e| e["service"] == service)
            .map(|e| e["sequence"].as_u64().unwrap())
            .unwrap_or_else(|| panic!("no {service} event in {text}"))
    };
    assert!(seq_of("ssp") < seq_of("provider"), "{text}");
}

// ---- A request body sent too slowly gets 408 in the service's own dialect ----

/// Sends `head` then the body one byte every 100 ms, and returns what the server answered
/// (the status line onwards) once it closes the connection or 10 s have passed.
async fn send_slowly<S>(stream: S, head: String) -> (String, Duration)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let started = Instant::now();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let trickle = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for _ in 0..200 {
            writer.write_all(b"{").await?;
            writer.flush().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer)).await;
    trickle.abort();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

fn outcome_of(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("no JSON body in {answer}"))
}

fn slow_head(method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/fhir+json\r\n\
         content-length: 100000\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn a_slow_body_to_a_provider_or_pds_is_answered_408_in_their_dialects() {
    let s = TestSandbox::start_with(DEFAULT, Clock::system(), |c| {
        c.body_read_timeout_secs = 1;
    })
    .await;
    let provider = "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord";
    let tcp = TcpStream::connect(s.running.http_addr).await.unwrap();
    let (answer, took) = send_slowly(tcp, slow_head("POST", provider, "")).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let outcome = outcome_of(&answer);
    assert_eq!(
        outcome["meta"]["profile"][0],
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"
    );
    let d = diagnostics(&outcome);
    assert!(d.contains("body_read_timeout_secs"), "{d}");
    assert!(d.contains("of the 100000 announced"), "{d}");

    let pds = "/personal-demographics/FHIR/R4/Patient/9690937286";
    let tcp = TcpStream::connect(s.running.http_addr).await.unwrap();
    let (answer, _) = send_slowly(
        tcp,
        slow_head(
            "PATCH",
            pds,
            "x-request-id: 7b0c0a53-4a8c-4d51-8f5e-0d1e2f3a4b5c\r\n",
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let outcome = outcome_of(&answer);
    let system = outcome["issue"][0]["details"]["coding"][0]["system"]
        .as_str()
        .unwrap();
    assert!(system.contains("/R4/"), "PDS answers in R4: {outcome:#}");
}

/// A TLS connection to SSP holding the consumer's certificate, over HTTP/1.1.
async fn ssp_tls(s: &TestSandbox) -> tokio_rustls::client::TlsStream<TcpStream> {
    let l = s.layout();
    let config = client_config(
        &l.ca_cert(),
        &l.client_cert(CONSUMER_ASID),
        &l.client_key(CONSUMER_ASID),
    )
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(s.running.ssp_addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn a_slow_body_to_ssp_is_answered_408_by_ssp() {
    let s = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), |c| {
        c.body_read_timeout_secs = 1;
    })
    .await;
    let target = format!(
        "{}/Patient/$gpc.migratestructuredrecord",
        s.endpoint(PROVIDER_ODS, "structured")
    );
    let headers: String = ssp_headers(CONSUMER_ASID, PROVIDER_ASID, MIGRATE_STRUCTURED)
        .iter()
        .map(|(k, v)| format!("{k}: {}\r\n", v.to_str().unwrap()))
        .collect();
    let stream = ssp_tls(&s).await;
    let (answer, took) =
        send_slowly(stream, slow_head("POST", &format!("/{target}"), &headers)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let outcome = outcome_of(&answer);
    let coding = &outcome["issue"][0]["details"]["coding"][0];
    assert_eq!(coding["code"], "408");
    assert_eq!(coding["display"], "REQUEST_TIMEOUT");
    assert!(diagnostics(&outcome).contains("body_read_timeout_secs"));
}

// ---- A connection that says nothing is closed ----

/// Whether the server closes `stream` within `within` without the client sending anything.
async fn closed_by_server<S: AsyncRead + Unpin>(mut stream: S, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn silent_connections_are_closed_on_both_listeners() {
    let s = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), |c| {
        c.header_read_timeout_secs = 1;
    })
    .await;
    let within = Duration::from_secs(4);
    let plain = TcpStream::connect(s.running.http_addr).await.unwrap();
    assert!(closed_by_server(plain, within).await, "plain HTTP listener");
    let ssp = TcpStream::connect(s.running.ssp_addr).await.unwrap();
    assert!(
        closed_by_server(ssp, within).await,
        "SSP before the handshake"
    );
    let after_handshake = ssp_tls(&s).await;
    assert!(
        closed_by_server(after_handshake, within).await,
        "SSP after the handshake"
    );
    // The sandbox still serves.
    assert_eq!(s.get("/healthz").await.status(), 200);
}

/// Reads one HTTP/1.1 answer with a `Content-Length` body off `stream`; its status.
async fn read_answer(stream: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer was in");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return head[9..12].parse().unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_kept_alive_connection_whose_next_head_trickles_in_is_closed_on_time() {
    let s = TestSandbox::start_world_with(worlds::practices_only(), Clock::system(), |c| {
        c.header_read_timeout_secs = 1;
    })
    .await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n",
        s.running.http_addr
    );
    let mut stream = TcpStream::connect(s.running.http_addr).await.unwrap();
    // Several requests, each well inside the timeout, on one connection: all answered, for
    // longer in all than the timeout (the limit is per head, not per connection).
    for _ in 0..4 {
        stream.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(read_answer(&mut stream).await, 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Then a head that trickles in, a byte every 200 ms: closed about a second after the
    // connection began waiting for it, not after the whole head has crawled in.
    let started = Instant::now();
    let mut closed = false;
    for byte in request.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(read) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
        {
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "answered a head that was never finished"
            );
            closed = true;
            break;
        }
    }
    assert!(closed, "the trickling head was let through");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "closed after {took:?}, with a 1 s header timeout"
    );

    // A kept-alive connection left idle after an answer is closed once the timeout has passed.
    let mut idle = TcpStream::connect(s.running.http_addr).await.unwrap();
    idle.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut idle).await, 200);
    assert!(
        closed_by_server(idle, Duration::from_secs(4)).await,
        "an idle kept-alive connection stays open past the header timeout"
    );
}

// ---- `%24` is `$` ----

#[tokio::test]
async fn a_percent_encoded_operation_name_migrates_directly_and_through_ssp() {
    let s = TestSandbox::start(DEFAULT).await;
    let encoded = migrate_url(&s, "%24gpc.migratestructuredrecord");
    let plain = migrate_url(&s, "$gpc.migratestructuredrecord");
    let call = ProviderCall::migrate(PATIENT2, false);
    let expected = call.send_to(&s, &plain).await;
    assert_eq!(expected.0, 200, "{:#}", expected.1);
    let direct = call.send_to(&s, &encoded).await;
    assert_eq!(direct, expected);
    let via_ssp = call
        .send_with(&s.ssp_client(SUITE_ASID), &s.ssp_url(&encoded))
        .await;
    assert_eq!(via_ssp, expected);
}
