//! Safe to leave running: the admin API answers only its own page and expected hosts (and asks
//! for a key when reachable from the network), and what a client can make the sandbox hold is
//! bounded (connections, bodies in flight, journal-stream followers, OAuth codes). Figures of
//! memory over time are in `benches/soak.rs`; these tests assert what a client sees.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestSandbox, http_client, repo_path, start_day};
use spine_sandbox::Clock;

const DEFAULT: &str = "scenarios/default.yaml";
const PLATFORM: &str = "tests/fixtures/scenarios/platform.yaml";
const EVIL: &str = "http://evil.example";

/// A connection that reads little at a time (a small receive buffer), like a stalled client.
async fn stalled_connection(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the end of the response head; the head as text.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads whatever comes until the connection ends (or 30 s pass).
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut all)).await;
    all
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn fault_rules(sandbox: &TestSandbox) -> Vec<Value> {
    let v: Value = sandbox.get("/_admin/faults").await.json().await.unwrap();
    v["rules"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_cross_origin_write_is_refused_and_changes_nothing() {
    let sandbox = TestSandbox::start(DEFAULT).await;
    let http = http_client();
    // What a page on another origin can send without a preflight: a text/plain POST.
    let rule = r#"{"service": "pds", "status": 503, "label": "from a web page"}"#;
    let resp = http
        .post(sandbox.url("/_admin/faults"))
        .header("origin", EVIL)
        .header("content-type", "text/plain")
        .body(rule)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("not a page from Origin 'http://evil.example'"),
        "{body}"
    );
    assert!(fault_rules(&sandbox).await.is_empty());

    // Reset and a journey run are refused too; the journal keeps what it had.
    sandbox
        .get("/personal-demographics/FHIR/R4/Patient/9434761018")
        .await;
    for path in ["/_admin/reset", "/_admin/journey"] {
        let resp = http
            .post(sandbox.url(path))
            .header("origin", "null")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
    assert_eq!(sandbox.journal().await.len(), 1);

    // The page itself (same origin) still writes.
    let own = format!("http://{}", sandbox.running.http_addr);
    let resp = http
        .post(sandbox.url("/_admin/faults"))
        .header("origin", own)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .body(rule)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(fault_rules(&sandbox).await.len(), 1);
}

#[tokio::test]
async fn the_journal_is_not_readable_cross_origin_while_pds_keeps_its_cors() {
    let sandbox = TestSandbox::start(DEFAULT).await;
    let http = http_client();
    for (method, path) in [
        (reqwest::Method::GET, "/_admin/journal"),
        (reqwest::Method::GET, "/_admin/journal?stream=true"),
        (reqwest::Method::OPTIONS, "/_admin/faults"),
    ] {
        let resp = http
            .request(method.clone(), sandbox.url(path))
            .header("origin", EVIL)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{method} {path}"
        );
    }
    // A cross-site request without Origin (an <img> or <script> tag) is refused by its
    // Sec-Fetch-Site; following a link to the page is not.
    let resp = http
        .get(sandbox.url("/_admin/journal"))
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "no-cors")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .get(sandbox.url("/"))
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // PDS answers browser apps as the platform does.
    let resp = http
        .request(
            reqwest::Method::OPTIONS,
            sandbox.url("/personal-demographics/FHIR/R4/Patient/9434761018"),
        )
        .header("origin", EVIL)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], EVIL);
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let sandbox = TestSandbox::start(DEFAULT).await;
    let http = http_client();
    let port = sandbox.running.http_addr.port();
    // A page whose name was rebound to 127.0.0.1 sends its own name as Host.
    for path in ["/", "/_admin/journal", "/_admin/scenario"] {
        let resp = http
            .get(sandbox.url(path))
            .header("host", format!("rebound.example:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("not at Host 'rebound.example:"), "{text}");
        assert!(text.contains("public_url"), "{text}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let resp = http
            .get(sandbox.url("/_admin/scenario"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{host}");
    }
    // The services answer any host, as before.
    let resp = http
        .get(sandbox.url("/personal-demographics/FHIR/R4/Patient/9434761018"))
        .header("host", "rebound.example")
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_sandbox_bound_beyond_loopback_asks_for_its_admin_key() {
    let sandbox = TestSandbox::start_with(DEFAULT, Clock::system(), |c| {
        c.http_addr = "0.0.0.0:0".parse().unwrap();
    })
    .await;
    let key = sandbox.running.shared.config.admin_key.clone().unwrap();
    let base = format!("http://127.0.0.1:{}", sandbox.running.http_addr.port());
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, key: Option<&str>| {
        let mut request = no_redirects.get(format!("{base}{path}"));
        if let Some(key) = key {
            request = request.header("x-sandbox-key", key);
        }
        request.send()
    };
    for path in ["/", "/_admin/journal", "/_admin/faults"] {
        let resp = get(path, None).await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("X-Sandbox-Key"), "{text}");
        assert_eq!(get(path, Some("not-the-key")).await.unwrap().status(), 401);
        assert_eq!(get(path, Some(&key)).await.unwrap().status(), 200);
    }
    let resp = no_redirects
        .post(format!("{base}/_admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The container health check needs no key.
    assert_eq!(get("/healthz", None).await.unwrap().status(), 200);
    // The service APIs need none either.
    let resp = no_redirects
        .get(format!(
            "{base}/personal-demographics/FHIR/R4/Patient/9434761018"
        ))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The browser: /?key=KEY stores it in a cookie and drops it from the address.
    let resp = get(&format!("/?key={key}"), None).await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let resp = no_redirects
        .get(format!("{base}/_admin/scenario"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        get("/?key=wrong-key-wrong-key", None)
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_configured_admin_key_is_asked_for_on_loopback_too() {
    let key = "a-key-chosen-by-the-team";
    let sandbox = TestSandbox::start_with(DEFAULT, Clock::system(), |c| {
        c.admin_key = Some(key.into());
    })
    .await;
    assert_eq!(sandbox.get("/_admin/journal").await.status(), 401);
    let resp = http_client()
        .post(sandbox.url("/_admin/reset"))
        .header("x-sandbox-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn journal_stream_followers_that_stop_reading_are_cut_off() {
    let sandbox = TestSandbox::start(DEFAULT).await;
    let addr = sandbox.running.http_addr;
    let mut followers = Vec::new();
    for _ in 0..50 {
        let mut s = stalled_connection(addr).await;
        s.write_all(
            format!(
                "GET /_admin/journal?stream=true HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        followers.push(s);
    }
    // Enough journal entries (each keeps 16 KiB of its request body) to overflow every
    // follower's socket buffers and its queue.
    let http = http_client();
    let junk = "x".repeat(20_000);
    let mut calls = Vec::new();
    for _ in 0..400 {
        calls.push(
            http.post(sandbox.url("/personal-demographics/FHIR/R4/Patient"))
                .header("content-type", "application/json")
                .body(junk.clone())
                .send(),
        );
    }
    for call in futures_util::future::join_all(calls).await {
        assert!(call.unwrap().status().is_client_error());
    }
    // Each follower, read at last, was told it was cut off and its stream ended.
    for mut follower in followers.drain(..10) {
        let all = String::from_utf8_lossy(&read_to_end_of_stream(&mut follower).await).into_owned();
        assert!(
            all.starts_with("HTTP/1.1 200"),
            "{}",
            &all[..100.min(all.len())]
        );
        assert!(
            all.contains("event: cut"),
            "no cut event in {} bytes",
            all.len()
        );
        assert!(all.contains(r#""reconnect":true"#));
        let entries = all.matches("event: entry").count();
        assert!(
            entries < 400,
            "{entries} entries were kept for a follower that read nothing"
        );
    }
    // A follower reading along gets everything, in order.
    let resp = http
        .get(sandbox.url("/_admin/journal?stream=true&since=390"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Reads an SSE response until its last chunk (`0\r\n\r\n`) or the connection ends.
async fn read_to_end_of_stream(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !all.ends_with(b"\r\n0\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => all.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    all
}

#[tokio::test]
async fn a_client_that_reads_nothing_is_disconnected_after_the_write_stall_timeout() {
    let sandbox = TestSandbox::start_with(DEFAULT, Clock::system(), |c| {
        c.write_stall_timeout_secs = 1;
    })
    .await;
    // A journal of some megabytes (each entry keeps 16 KiB of its request body).
    let http = http_client();
    let junk = "x".repeat(20_000);
    let calls: Vec<_> = (0..400)
        .map(|_| {
            http.post(sandbox.url("/personal-demographics/FHIR/R4/Patient"))
                .body(junk.clone())
                .send()
        })
        .collect();
    futures_util::future::join_all(calls).await;
    let addr = sandbox.running.http_addr;
    let mut client = stalled_connection(addr).await;
    client
        .write_all(format!("GET /_admin/journal HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Once the answer has begun, nothing read for well past the timeout: the sandbox has
    // closed the connection.
    let head = read_head(&mut client).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let body = String::from_utf8_lossy(&read_to_end(&mut client).await).into_owned();
    let length: usize = header(&head, "content-length").unwrap().parse().unwrap();
    assert!(length > 4_000_000, "{length}");
    assert!(
        body.len() < length,
        "the whole answer ({length} bytes) came: the connection was not closed"
    );
}

#[tokio::test]
async fn bodies_past_the_in_flight_budget_get_503_with_retry_after() {
    let sandbox = TestSandbox::start_with(DEFAULT, Clock::system(), |c| {
        c.max_body_bytes_in_flight = 4 * 1024 * 1024;
        c.body_read_timeout_secs = 60;
    })
    .await;
    let addr = sandbox.running.http_addr;
    // 400 clients announce 1 MiB bodies, send a part and stall.
    let mut stalled = Vec::new();
    for _ in 0..400 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!(
                "PATCH /personal-demographics/FHIR/R4/Patient/9434761018 HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        s.write_all(&vec![b' '; 64 * 1024]).await.unwrap();
        stalled.push(s);
    }
    // Four fit in the budget (each draws 1 MiB less the first 64 KiB) and wait for the rest of
    // their bodies; every other one is answered at once.
    let answers = futures_util::future::join_all(stalled.iter_mut().map(|s| async move {
        match tokio::time::timeout(Duration::from_secs(10), read_head(s)).await {
            Ok(head) if !head.is_empty() => {
                let rest = read_to_end(s).await;
                Some(format!("{head}{}", String::from_utf8_lossy(&rest)))
            }
            _ => None,
        }
    }))
    .await;
    let busy: Vec<&String> = answers.iter().flatten().collect();
    assert_eq!(busy.len(), 396);
    for answer in &busy {
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert_eq!(header(answer, "retry-after"), Some("1"), "{answer}");
        assert_eq!(header(answer, "connection"), Some("close"), "{answer}");
    }
    // The refusal names the setting, in PDS's dialect.
    assert!(busy[0].contains("max_body_bytes_in_flight"), "{}", busy[0]);
    assert!(busy[0].contains("SERVICE_UNAVAILABLE"), "{}", busy[0]);
    // Everyone else is still served, small bodies included.
    assert_eq!(sandbox.get("/healthz").await.status(), 200);
    let (status, _) = sandbox
        .set_fault(json!({ "service": "pds", "latency_ms": 10 }))
        .await;
    assert_eq!(status, 201);
    drop(stalled);
}

#[tokio::test]
async fn connections_past_the_limit_get_503_with_retry_after() {
    let sandbox = TestSandbox::start_with(DEFAULT, Clock::system(), |c| {
        c.max_connections = 20;
    })
    .await;
    let addr = sandbox.running.http_addr;
    // 20 keep-alive connections, each answered once so it is surely being served.
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let head = read_head(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(s);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    extra
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&read_to_end(&mut extra).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(header(&answer, "retry-after"), Some("1"), "{answer}");
    assert!(answer.contains("max_connections"), "{answer}");
    // One closes: a new one is served again.
    drop(held.pop());
    let mut served = false;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        if read_head(&mut s).await.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
}

#[tokio::test]
async fn authorization_codes_are_bounded_and_the_oldest_go_first() {
    let sandbox = TestSandbox::start_with(PLATFORM, Clock::system(), |c| {
        c.oauth_max_codes = 100;
    })
    .await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = || async {
        let resp = no_redirects
            .get(sandbox.url(
                "/oauth2/authorize?response_type=code&client_id=new-practice-key&redirect_uri=http%3A%2F%2Flocalhost%2Fcallback&state=s",
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let exchange = |code: String| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost/callback"),
            ("client_id", "new-practice-key"),
            ("client_secret", "s3cret"),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", spine_sandbox::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let request = no_redirects
            .post(sandbox.url("/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        async move { request.send().await.unwrap() }
    };
    let first = authorize().await;
    for _ in 0..1_000 {
        authorize().await;
    }
    let last = authorize().await;
    assert_eq!(sandbox.running.shared.platform.oauth.held().0, 100);
    let resp = exchange(first).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(exchange(last).await.status(), 200);
}

#[tokio::test]
async fn authorize_redirects_only_to_the_registered_redirect_uri() {
    let sandbox = TestSandbox::start(PLATFORM).await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let port = sandbox.running.http_addr.port();
    let authorize = |redirect: String| {
        let request = no_redirects.get(sandbox.url(&format!(
            "/oauth2/authorize?response_type=code&client_id=new-practice-key&redirect_uri={}&state=s",
            spine_sandbox::form_encode(&redirect)
        )));
        async move { request.send().await.unwrap() }
    };
    for elsewhere in [
        "https://evil.example/callback".to_owned(),
        format!("http://localhost:{port}/elsewhere"),
        "http://localhost.evil.example/callback".to_owned(),
    ] {
        let resp = authorize(elsewhere.clone()).await;
        assert_eq!(resp.status(), 400, "{elsewhere}");
        assert!(resp.headers().get("location").is_none(), "{elsewhere}");
        let body: Value = resp.json().await.unwrap();
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with("redirect_uri is invalid: ")
                && description.contains("registered for this application"),
            "{description}"
        );
    }
    // The default registration: the sandbox's own /callback, on any loopback name and port.
    for home in [
        format!("http://localhost:{port}/callback"),
        format!("http://127.0.0.1:{port}/callback"),
        "http://localhost/callback".to_owned(),
    ] {
        let resp = authorize(home.clone()).await;
        assert_eq!(resp.status(), 302, "{home}");
        assert!(
            resp.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with(&format!("{home}?code=")),
            "{home}"
        );
    }
}

#[tokio::test]
async fn a_registered_redirect_uri_is_the_only_one_accepted() {
    let dir = crate::support::temp_dir("safety-redirect");
    let scenario = std::fs::read_to_string(repo_path(PLATFORM))
        .unwrap()
        .replace(
            "../oauth/",
            &format!("{}/", repo_path("tests/fixtures/oauth").display()),
        )
        .replace(
            "    secret: s3cret\n",
            "    secret: s3cret\n    redirect_uri: https://gp.example.test/signed-in\n",
        );
    let path = dir.join("platform.yaml");
    std::fs::write(&path, scenario).unwrap();
    let world = spine_sandbox::load_paths(&[path], start_day()).unwrap();
    let sandbox = TestSandbox::start_world(world).await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = |redirect: &str| {
        no_redirects
            .get(sandbox.url(&format!(
                "/oauth2/authorize?response_type=code&client_id=new-practice-key&redirect_uri={}&state=s",
                spine_sandbox::form_encode(redirect)
            )))
            .send()
    };
    let resp = authorize("https://gp.example.test/signed-in")
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let resp = authorize("http://localhost/callback").await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn health_checks_are_answered_while_a_hundred_reports_run() {
    let sandbox = TestSandbox::start(DEFAULT).await;
    // Some journeys to grade.
    let http = http_client();
    for _ in 0..2 {
        let resp = http
            .post(sandbox.url("/_admin/journey"))
            .json(&json!({ "patient": "9434761018", "as": "A20047" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let mut reports = Vec::new();
    for _ in 0..100 {
        reports.push(http.get(sandbox.url("/_admin/conformance")).send());
    }
    let health = async {
        let mut ok = 0;
        for _ in 0..20 {
            if sandbox.get("/healthz").await.status() == 200 {
                ok += 1;
            }
        }
        ok
    };
    let (answers, ok) = tokio::join!(futures_util::future::join_all(reports), health);
    assert_eq!(ok, 20);
    for resp in answers {
        let resp = resp.unwrap();
        // Graded, or asked to come back: never an error or a hang.
        match resp.status().as_u16() {
            200 => {}
            503 => assert_eq!(resp.headers()["retry-after"], "1"),
            other => panic!("conformance answered {other}"),
        }
    }
}

/// Stopping the sandbox lets the request it is answering finish, and does not wait for a
/// kept-alive connection that is idle.
#[tokio::test]
async fn stopping_answers_the_request_in_flight_and_does_not_wait_for_idle_connections() {
    let sandbox = TestSandbox::start(DEFAULT).await;
    let url = sandbox.url("/personal-demographics/FHIR/R4/Patient/9434761018");
    let read = |client: reqwest::Client, url: String| async move {
        client
            .get(url)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    // Left open in the client's pool after its answer.
    let idle = http_client();
    assert_eq!(read(idle.clone(), url.clone()).await.ok(), Some(200));
    let (status, body) = sandbox
        .set_fault(json!({ "service": "pds", "latency_ms": 800, "count": 1 }))
        .await;
    assert_eq!(status, 201, "{body}");
    let slow = tokio::spawn(read(http_client(), url));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(5), sandbox.running.shutdown())
        .await
        .expect("the sandbox stopped with an idle connection open");
    let took = started.elapsed();
    let answered = slow.await.expect("the read's task ends");
    assert_eq!(answered.ok(), Some(200), "the read in flight was answered");
    assert!(
        took >= Duration::from_millis(300),
        "stopping waited for the read in flight ({took:?})"
    );
    drop(idle);
}
