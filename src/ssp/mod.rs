//! Spine Secure Proxy (`docs/ssp.md`): `https://<ssp>/<absolute provider URL>`, TLS 1.2
//! and 1.3 with client certificates, checks in SSP's order, then a real HTTP hop to the provider
//! SDS names: the request body is read whole first (as nginx does), the response streams back
//! unchanged.
//!
//! # Phases
//!
//! 1. **Connection** ([`SspAcceptor`]): TLS handshake; the client certificate, if any, is judged
//!    once per connection ([`crate::tls::identify_client`]). Plain HTTP on the SSP port is
//!    answered with 497 and closed.
//! 2. **Checks** ([`checks`]), first failure wins:
//!    1. no client certificate: 496 `SSL_CERTIFICATE_REQUIRED`; one `ca.pem` did not issue,
//!       expired, or not for client auth: 495 `SSL_CERTIFICATE_ERROR`, saying which;
//!    2. certificate issued for another ASID than `Ssp-From`: 403
//!       `ASID_CHECK_FAILED_MESSAGESENDER_<from>`, naming both ASIDs;
//!    3. `Ssp-TraceID` (a UUID), `Ssp-From`, `Ssp-To` (12-digit ASIDs), `Ssp-InteractionID`
//!       (`urn:nhs:names:services:...`) missing, repeated or malformed: 400
//!       `MISSING_OR_INVALID_HEADER_<HEADER>`;
//!    4. sender unknown to SDS or not allowed the interaction: 403
//!       `ASID_CHECK_FAILED_MESSAGESENDER_<from>`;
//!    5. receiver not registered for the interaction: 403
//!       `PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_<to>`;
//!    6. target URL not starting, verbatim, with the receiver's SDS endpoint for the
//!       interaction: 400 `ENDPOINT_<sds>_CPAID_<party key>_VARIES_FROM_TARGETURL_<target>`;
//!       nothing is forwarded to a URL SDS does not hold;
//!    7. path not the interaction's: 400 `MISSING_OR_INVALID_HEADER_SSP-INTERACTIONID`; right
//!       path, wrong method: 405 `405: Method Not Allowed`;
//!    8. a POST or PUT without a FHIR `Content-Type`: 415 `Unsupported_Media_Type`.
//! 3. **Body**: read whole, at most `max_body_bytes` (413 `REQUEST_ENTITY_TOO_LARGE`), within
//!    `body_read_timeout_secs` of the headers (408 `REQUEST_TIMEOUT`, and the connection closes).
//! 4. **Forward** ([`forward`]): the pooled client sends the request to the target (over TCP,
//!    or through memory when TCP would land on the sandbox's own plain-HTTP listener); 502
//!    `ERROR_COMMUNICATING_TO_ENDPOINT_URL_<target>` when the provider cannot be reached, 504
//!    `TIMEOUT_COMMUNICATING_TO_ENDPOINT_URL_<target>` after `forward_timeout_secs`.
//! 5. **Journal**: every exchange, refused or forwarded, with trace id, ASIDs, interaction,
//!    target, status and the refusal.
//!
//! # Choices where the spec is silent or UNCONFIRMED
//!
//! - **Bad certificates get an HTTP answer, not a refused handshake.** SSP finishes the
//!   handshake and answers 495/496 with an OperationOutcome saying what is wrong (expired on
//!   which day, not from the sandbox CA, no certificate). Spine may close the connection
//!   instead; a readable answer is more useful in a sandbox. The handshake still proves the
//!   client holds the certificate's key.
//! - **Diagnostics.** `display` is exactly Spine's token pattern (`docs/ssp.md`);
//!   `diagnostics` starts with the same token and adds `: ` and a sentence saying what the
//!   sandbox saw and what to do. Code matching Spine's tokens on `display`, or on the start of
//!   `diagnostics`, behaves as with Spine.
//! - **Missing `Ssp-*` headers** (UNCONFIRMED in `docs/ssp.md`): 400 with the CodeSystem's
//!   `MISSING_OR_INVALID_HEADER` followed by `_` and the header name in upper case.
//! - **Interaction/path mismatch** is reported by SSP (the provider would also refuse it).
//! - **CPA id**: the sandbox has none, so the token carries the receiver's party key.
//! - **No FOT (sender-to-receiver) rule** and no `X-Forwarded-For`: the scenario format has no
//!   allow-list, and the header names SSP adds are UNCONFIRMED. Hop-by-hop headers are dropped
//!   and `Host` becomes the target's, as any HTTP proxy must; everything else passes unchanged.

pub mod checks;
pub mod external;
pub mod forward;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use rustls::pki_types::UnixTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::clock::Clock;
use crate::config::Config;
use crate::fhir::outcome::Refusal;
use crate::fhir::{FhirError, OutcomeStyle};
use crate::http::{Acceptor, Body, BodyError, boxed, closing, full, read_body_within};
use crate::journal::{self, Entry, Journal};
use crate::pki::Layout;
use crate::sds::SdsDirectory;
use crate::tls::{self, ClientIdentity, DeferredClientVerifier, TlsError};

use self::forward::{ForwardError, Forwarder};

/// The `Ssp-*` header names (case-insensitive on the wire).
pub mod headers {
    pub const TRACE_ID: &str = "Ssp-TraceID";
    pub const FROM: &str = "Ssp-From";
    pub const TO: &str = "Ssp-To";
    pub const INTERACTION_ID: &str = "Ssp-InteractionID";
}

/// The journal's name for this service.
const SERVICE: &str = "ssp";

/// Turns accepted TCP connections into TLS streams and says who the client is.
#[derive(Clone)]
pub struct SspAcceptor {
    tls: TlsAcceptor,
    verifier: Arc<DeferredClientVerifier>,
    /// How long a client may take to complete the handshake.
    handshake_timeout: Duration,
    /// For the 497 answer to plain HTTP, which never reaches [`SspService`].
    journal: Journal,
    clock: Clock,
}

impl SspAcceptor {
    /// Loads `ca.pem`, `ssp.pem` and `ssp-key.pem` from the certificates folder.
    pub fn new(config: &Config, journal: Journal, clock: Clock) -> Result<Self, TlsError> {
        let layout = Layout::new(&config.certs_dir);
        let (tls_config, verifier) =
            tls::ssp_server_config(&layout.ca_cert(), &layout.ssp_cert(), &layout.ssp_key())?;
        Ok(Self {
            tls: TlsAcceptor::from(tls_config),
            verifier,
            handshake_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            journal,
            clock,
        })
    }

    /// Plain HTTP on the TLS port: answer 497 as nginx (which fronts Spine) does, and close.
    async fn refuse_plain_http(&self, mut tcp: TcpStream) {
        let started = Instant::now();
        let time = self.clock.now();
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        let read_head = async {
            while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
        };
        let _ = tokio::time::timeout(self.handshake_timeout, read_head).await;
        let request_line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut words = request_line.split(' ');
        // As sent (an extension method when it is none of the usual ones); unreadable: UNKNOWN.
        let method = http::Method::from_bytes(words.next().unwrap_or_default().as_bytes())
            .unwrap_or_else(|_| http::Method::from_bytes(b"UNKNOWN").unwrap_or_default());
        let path = words.next().unwrap_or_default().to_owned();
        let error = checks::refuse(
            StatusCode::from_u16(497).unwrap_or(StatusCode::BAD_REQUEST),
            "security",
            "HTTP_REQUEST_SENT_TO_HTTPS_PORT",
            "this is SSP's TLS port: use https:// with a client certificate",
        );
        let resp = error.to_response(OutcomeStyle::Ssp);
        let body = resp.body().clone();
        let raw = format!(
            "HTTP/1.1 497 HTTP Request Sent to HTTPS Port\r\ncontent-type: {}\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            crate::fhir::FHIR_JSON,
            body.len()
        );
        let _ = tcp.write_all(raw.as_bytes()).await;
        let _ = tcp.write_all(&body).await;
        let _ = tcp.shutdown().await;
        self.journal.record(Entry {
            time,
            service: SERVICE,
            method,
            path,
            status: 497,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            refusal: Some(format!("497: {}", error.diagnostics)),
            response_body: journal::bounded_bytes(&body),
            ..Default::default()
        });
    }
}

impl Acceptor for SspAcceptor {
    type Stream = TlsStream<TcpStream>;
    type Peer = Arc<ClientIdentity>;

    async fn accept(&self, tcp: TcpStream) -> std::io::Result<(Self::Stream, Self::Peer)> {
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(self.handshake_timeout, tcp.peek(&mut first))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no handshake"))??;
        // Every TLS connection starts with a handshake record (content type 22).
        if peeked == 1 && first[0] != 0x16 {
            if first[0].is_ascii_uppercase() {
                self.refuse_plain_http(tcp).await;
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not TLS on the SSP port",
            ));
        }
        let stream = tokio::time::timeout(self.handshake_timeout, self.tls.accept(tcp))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        let identity = tls::identify_client(
            &self.verifier,
            stream.get_ref().1.peer_certificates(),
            UnixTime::now(),
        );
        Ok((stream, Arc::new(identity)))
    }
}

/// SSP's request handling: checks, forwarding, journal.
#[derive(Clone)]
pub struct SspService {
    sds: SdsDirectory,
    journal: Journal,
    clock: Clock,
    forwarder: Forwarder,
    max_body_bytes: usize,
    body_timeout: Duration,
    platform: Arc<crate::platform::Platform>,
}

/// What the checks established about a request SSP will forward.
struct Approved {
    target: Uri,
}

/// The raw `Ssp-*` values, kept for the journal whether or not they are valid.
struct Seen {
    trace_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    interaction: Option<String>,
}

impl Seen {
    fn of(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        };
        Self {
            trace_id: get(headers::TRACE_ID),
            from: get(headers::FROM),
            to: get(headers::TO),
            interaction: get(headers::INTERACTION_ID),
        }
    }
}

impl SspService {
    /// Builds the forwarding client: trusts `ca.pem` (and the CA files external providers name),
    /// presents `ssp.pem` to https providers.
    /// SSP reads SDS (to authorise and route) and nothing else of the other services.
    pub fn new(
        config: &Config,
        sds: SdsDirectory,
        journal: Journal,
        clock: Clock,
        platform: Arc<crate::platform::Platform>,
        local: crate::http::LocalDialer,
        provider_cas: &[std::path::PathBuf],
    ) -> Result<Self, TlsError> {
        let layout = Layout::new(&config.certs_dir);
        let tls = external::forward_config(
            &layout.ca_cert(),
            &layout.ssp_cert(),
            &layout.ssp_key(),
            provider_cas,
        )?;
        Ok(Self {
            sds,
            journal,
            clock,
            platform,
            forwarder: Forwarder::new(
                tls,
                Duration::from_secs(config.forward_timeout_secs.max(1)),
                local,
            ),
            max_body_bytes: config.max_body_bytes,
            body_timeout: Duration::from_secs(config.body_read_timeout_secs.max(1)),
        })
    }

    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: Arc<ClientIdentity>,
        remote: SocketAddr,
    ) -> Response<Body> {
        let ticket = self.journal.begin();
        let started = Instant::now();
        let time = self.clock.now();
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let target = path.strip_prefix('/').unwrap_or(&path).to_owned();
        let seen = Seen::of(req.headers());
        let request_headers = journal::header_pairs(req.headers());
        let jwt = journal::jwt_of(&request_headers);

        let injected = self
            .platform
            .faults
            .pick(&crate::platform::faults::RequestFacts {
                service: crate::platform::faults::Service::Ssp,
                method: &method,
                path: req.uri().path(),
                headers: req.headers(),
                body: &[],
            });
        if let Some(fault) = &injected {
            if let Some(delay) = fault.latency {
                tokio::time::sleep(delay).await;
            }
            if fault.drop || fault.status.is_some() {
                return self.injected(
                    fault,
                    time,
                    started,
                    &method,
                    path,
                    &target,
                    seen,
                    request_headers,
                    jwt,
                );
            }
        }
        let checked = self.check(&peer, &method, req.headers(), &target);
        let mut request_body = None;
        let refusal = match checked {
            Err(error) => Err(error),
            // The body is read whole before the hop, as nginx does, so a client that sends it
            // too slowly gets SSP's 408 instead of holding a connection to the provider.
            Ok(approved) => {
                match read_body_within(req, self.max_body_bytes, self.body_timeout).await {
                    Err(e) => Err(body_refusal(&e)),
                    Ok(req) => {
                        request_body = journal::bounded_bytes(req.body());
                        self.forwarder
                            .forward(req.map(full), approved.target)
                            .await
                            .map_err(|e| forward_refusal(&e, &target))
                    }
                }
            }
        };
        // A refusal's body is small and kept for the journal; a forwarded one streams through.
        let (resp, refusal, response_body) = match refusal {
            Ok(resp) => (resp, None, None),
            Err(error) => {
                let mut resp = error.to_response(OutcomeStyle::Ssp);
                if error.status == StatusCode::REQUEST_TIMEOUT {
                    resp = closing(resp);
                }
                let body = journal::bounded_bytes(resp.body());
                (boxed(resp), Some(error), body)
            }
        };
        let status = resp.status().as_u16();
        match &refusal {
            Some(error) => tracing::info!(
                service = SERVICE,
                %remote,
                %method,
                %target,
                trace_id = seen.trace_id.as_deref().unwrap_or("-"),
                status,
                refusal = %error.display,
                "SSP refused a request."
            ),
            None => tracing::debug!(
                service = SERVICE,
                %remote,
                %method,
                %target,
                trace_id = seen.trace_id.as_deref().unwrap_or("-"),
                status,
                "SSP forwarded a request."
            ),
        }
        self.journal.complete(
            ticket,
            Entry {
                time,
                service: SERVICE,
                method: method.clone(),
                path,
                status,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                trace_id: seen.trace_id,
                from_asid: seen.from,
                to_asid: seen.to,
                interaction: seen.interaction,
                refusal: refusal.as_ref().map(|e| {
                    Refusal {
                        code: e.code.clone(),
                        diagnostics: e.diagnostics.clone(),
                    }
                    .summary()
                }),
                target: (!target.is_empty()).then_some(target),
                request_headers,
                request_body,
                jwt,
                response_headers: journal::header_pairs(resp.headers()),
                response_body,
                client_asid: match peer.as_ref() {
                    ClientIdentity::Verified {
                        asid: Some(asid), ..
                    } => Some(asid.as_str().to_owned()),
                    _ => None,
                },
                fault: injected.map(|f| f.note),
                ..Default::default()
            },
        );
        resp
    }

    /// An injected status or dropped connection, answered before SSP's checks (Spine is down
    /// or throttling whoever asks), and journalled with the fault.
    #[allow(clippy::too_many_arguments)]
    fn injected(
        &self,
        fault: &crate::platform::faults::Injection,
        time: chrono::DateTime<chrono::Utc>,
        started: Instant,
        method: &Method,
        path: String,
        target: &str,
        seen: Seen,
        request_headers: journal::Headers,
        jwt: journal::Jwt,
    ) -> Response<Body> {
        let resp = match fault.status {
            Some(status) if !fault.drop => crate::platform::faults::status_response(
                crate::platform::faults::Service::Ssp,
                status,
                fault.retry_after,
                target,
            ),
            _ => {
                let mut resp = Response::new(bytes::Bytes::new());
                resp.extensions_mut()
                    .insert(crate::platform::faults::DropConnection);
                resp
            }
        };
        let status = if fault.drop {
            444
        } else {
            resp.status().as_u16()
        };
        self.journal.record(Entry {
            time,
            service: SERVICE,
            method: method.clone(),
            path,
            status,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            trace_id: seen.trace_id,
            from_asid: seen.from,
            to_asid: seen.to,
            interaction: seen.interaction,
            refusal: resp.extensions().get::<Refusal>().map(Refusal::summary),
            target: (!target.is_empty()).then(|| target.to_owned()),
            request_headers,
            jwt,
            response_headers: journal::header_pairs(resp.headers()),
            response_body: journal::bounded_bytes(resp.body()),
            fault: Some(fault.note.clone()),
            ..Default::default()
        });
        boxed(resp)
    }

    /// SSP's checks, in order (module doc).
    fn check(
        &self,
        identity: &ClientIdentity,
        method: &Method,
        headers: &HeaderMap,
        target: &str,
    ) -> Result<Approved, FhirError> {
        let client = checks::client_certificate(identity)?;
        checks::certificate_matches_sender(&client, headers)?;
        checks::trace_id(headers)?;
        let from = checks::asid_header(headers, headers::FROM)?;
        let to = checks::asid_header(headers, headers::TO)?;
        let interaction = checks::interaction_id(headers)?;
        checks::sender_may_send(&self.sds, &from, &interaction)?;
        let endpoint = checks::receiver_registered(&self.sds, &to, &interaction)?;
        let rest = checks::target_is_endpoint(target, endpoint)?;
        checks::interaction_matches(&interaction, method, &rest)?;
        checks::media_type(method, headers)?;
        let target: Uri = target.parse().map_err(|e| {
            checks::refuse(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!(
                    "ENDPOINT_{}_CPAID_{}_VARIES_FROM_TARGETURL_{target}",
                    endpoint.address, endpoint.party_key
                ),
                format!("the target is not a valid URL: {e}"),
            )
        })?;
        Ok(Approved { target })
    }
}

fn body_refusal(error: &BodyError) -> FhirError {
    match error {
        BodyError::TooLarge { .. } => checks::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            "REQUEST_ENTITY_TOO_LARGE",
            error.sentence(),
        ),
        BodyError::TimedOut { .. } => checks::refuse(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "REQUEST_TIMEOUT",
            error.sentence(),
        ),
        BodyError::Broken(_) => checks::refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            "BAD_REQUEST",
            error.sentence(),
        ),
        BodyError::Busy { .. } => checks::refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            "SERVICE_UNAVAILABLE",
            error.sentence(),
        ),
    }
}

fn forward_refusal(error: &ForwardError, target: &str) -> FhirError {
    match error {
        ForwardError::Unreachable(cause) => checks::refuse(
            StatusCode::BAD_GATEWAY,
            "transient",
            format!("ERROR_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
            format!("the provider could not be reached: {cause}"),
        ),
        ForwardError::Timeout(after) => checks::refuse(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("TIMEOUT_COMMUNICATING_TO_ENDPOINT_URL_{target}"),
            format!(
                "the provider sent no response within {} s (forward_timeout_secs)",
                after.as_secs()
            ),
        ),
    }
}
