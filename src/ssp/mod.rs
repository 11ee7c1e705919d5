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

pub(crate) mod checks;
pub(crate) mod external;
pub(crate) mod forward;
pub(crate) mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
use crate::http::{
    Acceptor, Body, BodyError, DropConnection, boxed, closing, full, guarded, read_body_within,
};
use crate::journal::{self, DROPPED, Exchange, Journal, Outcome};
use crate::pki::Layout;
use crate::sds::SdsDirectory;
use crate::tls::{self, ClientIdentity, DeferredClientVerifier, TlsError};

use self::forward::{ForwardError, Forwarder};

/// The `Ssp-*` header names (case-insensitive on the wire).
pub(crate) mod headers {
    pub(crate) const TRACE_ID: &str = "Ssp-TraceID";
    pub(crate) const FROM: &str = "Ssp-From";
    pub(crate) const TO: &str = "Ssp-To";
    pub(crate) const INTERACTION_ID: &str = "Ssp-InteractionID";
}

/// The journal's name for this service.
const SERVICE: &str = "ssp";

/// Turns accepted TCP connections into TLS streams and says who the client is.
#[derive(Clone)]
pub(crate) struct SspAcceptor {
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
    pub(crate) fn new(config: &Config, journal: Journal, clock: Clock) -> Result<Self, TlsError> {
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
        let exchange = Exchange::begin(
            &self.journal,
            time,
            SERVICE,
            method,
            path,
            &HeaderMap::new(),
        );
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
        exchange.finish(
            &self.journal,
            Outcome {
                status: 497,
                refusal: Some(format!("497: {}", error.diagnostics)),
                response_body: journal::bounded_bytes(&body),
                ..Default::default()
            },
        );
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

/// What SSP needs of a world: the directory it authorises and routes by, the journal it files
/// exchanges in, and the platform whose faults apply.
#[derive(Clone)]
pub(crate) struct SspWorld {
    pub sds: SdsDirectory,
    pub journal: Journal,
    pub platform: Arc<crate::platform::Platform>,
}

/// Finds a world by id (docs/worlds.md).
pub(crate) trait WorldLookup: Send + Sync + 'static {
    fn lookup(&self, id: &str) -> Option<SspWorld>;
}

/// SSP's request handling: checks, forwarding, journal.
#[derive(Clone)]
pub(crate) struct SspService {
    sds: SdsDirectory,
    journal: Journal,
    clock: Clock,
    worlds: Option<Arc<dyn WorldLookup>>,
    forwarder: Forwarder,
    max_body_bytes: usize,
    body_timeout: Duration,
    platform: Arc<crate::platform::Platform>,
}

/// What the checks established about a request SSP will forward.
struct Approved {
    target: Uri,
}

impl SspService {
    /// Builds the forwarding client: trusts `ca.pem` (and the CA files external providers name),
    /// presents `ssp.pem` to https providers.
    /// SSP reads SDS (to authorise and route) and nothing else of the other services.
    pub(crate) fn new(
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
            worlds: None,
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

    /// Serves the worlds `lookup` finds besides the default one: a request is in world `id`
    /// when it is sent to `https://ssp/worlds/{id}/<target URL>`, or when its target URL's path
    /// starts with `/worlds/{id}/` (the provider addresses SDS hands out in that world).
    pub(crate) fn with_worlds(mut self, lookup: Arc<dyn WorldLookup>) -> Self {
        self.worlds = Some(lookup);
        self
    }

    fn default_world(&self) -> SspWorld {
        SspWorld {
            sds: self.sds.clone(),
            journal: self.journal.clone(),
            platform: self.platform.clone(),
        }
    }

    /// The request's world and the path within it (the explicit prefix taken off); `Err` for
    /// an explicit prefix naming no world.
    fn world_of(&self, path: &str) -> Result<(SspWorld, String), String> {
        let default = || self.default_world();
        let Some(worlds) = &self.worlds else {
            return Ok((default(), path.to_owned()));
        };
        if let Some((id, rest)) = crate::http::world_prefix(path) {
            return match worlds.lookup(id) {
                Some(world) => Ok((world, rest.to_owned())),
                None => Err(id.to_owned()),
            };
        }
        // The target's own path: after `/scheme://authority`.
        let in_target = path
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
            .and_then(crate::http::world_prefix)
            .and_then(|(id, _)| worlds.lookup(id));
        Ok((in_target.unwrap_or_else(default), path.to_owned()))
    }

    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        peer: Arc<ClientIdentity>,
        remote: SocketAddr,
    ) -> Response<Body> {
        let raw = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let (world, path, unknown) = match self.world_of(&raw) {
            Ok((world, path)) => (world, path, None),
            Err(id) => (self.default_world(), raw.clone(), Some(id)),
        };
        let exchange = Exchange::begin(
            &world.journal,
            self.clock.now(),
            SERVICE,
            req.method().clone(),
            path,
            req.headers(),
        );
        let path = exchange.path();
        let target = path.strip_prefix('/').unwrap_or(path).to_owned();
        let method = exchange.method().clone();

        let injected = world
            .platform
            .faults
            .pick(&crate::platform::faults::RequestFacts {
                service: crate::platform::faults::Service::Ssp,
                method: &method,
                path: req.uri().path(),
                headers: req.headers(),
                body: &[],
            });
        // An injected status or dropped connection is answered before SSP's checks (Spine is
        // down or throttling whoever asks).
        let faulted = match &injected {
            Some(fault) => {
                fault
                    .apply(crate::platform::faults::Service::Ssp, &target)
                    .await
            }
            None => None,
        };
        let faulted = faulted.or_else(|| {
            unknown.map(|id| {
                let error = checks::refuse(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "WORLD_NOT_FOUND",
                    format!("no world '{id}' on this sandbox (GET /_admin/worlds lists them)"),
                );
                error.to_response(OutcomeStyle::Ssp)
            })
        });
        let mut request_body = None;
        let (resp, refusal, response_body) = match faulted {
            Some(resp) => {
                let body = journal::bounded_bytes(resp.body());
                let refusal = resp.extensions().get::<Refusal>().map(Refusal::summary);
                (boxed(resp), refusal, body)
            }
            None => {
                let work = async {
                    let approved =
                        self.check(&world.sds, &peer, &method, req.headers(), &target)?;
                    // The body is read whole before the hop, as nginx does, so a client that
                    // sends it too slowly gets SSP's 408 instead of holding a connection to
                    // the provider.
                    let req = read_body_within(req, self.max_body_bytes, self.body_timeout)
                        .await
                        .map_err(|e| body_refusal(&e))?;
                    request_body = journal::bounded_bytes(req.body());
                    self.forwarder
                        .forward(req.map(full), approved.target)
                        .await
                        .map_err(|e| forward_refusal(&e, &target))
                };
                let answered = match guarded(work, None).await {
                    Ok(answered) => answered,
                    Err(_) => {
                        tracing::error!(%target, "SSP panicked; this is a bug.");
                        Err(checks::refuse(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "exception",
                            "INTERNAL_SERVER_ERROR",
                            format!(
                                "the sandbox failed while handling {method} {target}; please report it"
                            ),
                        ))
                    }
                };
                // A refusal's body is small and kept for the journal; a forwarded one streams
                // through.
                match answered {
                    Ok(resp) => (resp, None, None),
                    Err(error) => {
                        let mut resp = error.to_response(OutcomeStyle::Ssp);
                        if error.status == StatusCode::REQUEST_TIMEOUT {
                            resp = closing(resp);
                        }
                        let body = journal::bounded_bytes(resp.body());
                        let refusal = Refusal {
                            code: error.code.clone(),
                            diagnostics: error.diagnostics.clone(),
                        }
                        .summary();
                        tracing::info!(
                            service = SERVICE,
                            %remote,
                            %method,
                            %target,
                            trace_id = exchange.header(headers::TRACE_ID).as_deref().unwrap_or("-"),
                            status = resp.status().as_u16(),
                            refusal = %error.display,
                            "SSP refused a request."
                        );
                        (boxed(resp), Some(refusal), body)
                    }
                }
            }
        };
        let dropped = resp.extensions().get::<DropConnection>().is_some();
        let status = resp.status().as_u16();
        if refusal.is_none() && injected.is_none() {
            tracing::debug!(
                service = SERVICE,
                %remote,
                %method,
                %target,
                trace_id = exchange.header(headers::TRACE_ID).as_deref().unwrap_or("-"),
                status,
                "SSP forwarded a request."
            );
        }
        exchange.finish(
            &world.journal,
            Outcome {
                status: if dropped { DROPPED } else { status },
                refusal,
                target: (!target.is_empty()).then_some(target),
                request_body,
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

    /// SSP's checks, in order (module doc).
    fn check(
        &self,
        sds: &SdsDirectory,
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
        checks::sender_may_send(sds, &from, &interaction)?;
        let endpoint = checks::receiver_registered(sds, &to, &interaction)?;
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
