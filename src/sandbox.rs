//! Binds every listener and wires the services together; the only file that knows about ports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::fhir::outcome::Refusal;
use crate::fhir::{FhirError, OutcomeStyle, SpineCode};
use crate::http::{
    Body, ConnectionLimits, Pieces, PlainAcceptor, closing, read_body_within, serve,
};
use crate::journal::{self, Entry, Journal};
use crate::platform::faults::{self, DropConnection, Injection, RequestFacts};
use crate::scenario::World;
use crate::{admin, conformance, pds, pki, platform, provider, sds, ssp, state_dir, tls};

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("certificates: {0}")]
    Pki(#[from] pki::PkiError),
    #[error("SSP TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    State(#[from] state_dir::StateError),
}

/// The handles each emulated service gets: its signature says what it can touch.
#[derive(Clone)]
pub struct Services {
    pub pds: pds::Pds,
    pub sds: sds::Sds,
    /// Reads PDS (the registration behind NO_RELATIONSHIP), never writes it.
    pub provider: provider::Provider,
}

/// What the sandbox holds: the admin API and the front door see all of it; each service gets
/// only its [`Services`] handle.
#[derive(Clone)]
pub struct Shared {
    pub services: Services,
    pub world: Arc<World>,
    pub journal: Journal,
    pub pds: pds::PdsStore,
    pub sds: sds::SdsDirectory,
    /// Serialised migrate Bundles (`migrate_cache_max_bytes`).
    pub migrate_cache: provider::cache::MigrateCache,
    pub clock: Clock,
    pub config: Arc<Config>,
    /// OAuth, rate limits and injected faults (the API platform's and Spine's behaviour).
    pub platform: Arc<platform::Platform>,
    /// Base URL advertised to consumers (SDS addresses, Binary URLs), no trailing slash.
    pub public_url: String,
    /// Where the listeners are bound (the web page's journeys call the sandbox over the network).
    pub http_addr: SocketAddr,
    pub ssp_addr: SocketAddr,
    /// Turns true when the sandbox is shutting down, so long-lived streams can end.
    pub stopping: watch::Receiver<bool>,
    /// The last migrate Bundles delivered, whole, for the record view.
    pub deliveries: conformance::Deliveries,
    /// Consumers whose history was cleared: the report ignores their entries up to a mark.
    pub consumer_marks: conformance::Marks,
}

/// A started sandbox: its real addresses and the means to stop it.
pub struct RunningSandbox {
    pub http_addr: SocketAddr,
    pub ssp_addr: SocketAddr,
    pub shared: Shared,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Writes the world's state to `--state-dir` after each change and at shutdown.
    state: Option<state_dir::writer::Writer>,
}

pub struct Sandbox;

impl Sandbox {
    /// Binds the plain-HTTP and SSP listeners, makes sure the PKI exists, and starts serving.
    pub async fn start(
        mut config: Config,
        world: World,
        clock: Clock,
    ) -> Result<RunningSandbox, StartError> {
        let http_listener = bind(config.http_addr).await?;
        let ssp_listener = bind(config.ssp_addr).await?;
        let http_addr = local_addr(&http_listener, config.http_addr)?;
        let ssp_addr = local_addr(&ssp_listener, config.ssp_addr)?;
        let public_url = config.public_url_for(http_addr.port());
        let saved = state_dir::read_for_start(&mut config)?;
        admin::guard::settle_key(&mut config, &public_url);
        ensure_pki(&config.certs_dir, &world, &public_url).await?;
        let platform = Arc::new(platform::Platform::new(
            &world.platform,
            config.auth == crate::config::AuthMode::Required,
            platform::oauth::Bounds {
                max_codes: config.oauth_max_codes,
                max_tokens: config.oauth_max_tokens,
                default_redirect: format!("{public_url}/callback"),
            },
        ));
        let world = Arc::new(world);
        let (shutdown, rx) = watch::channel(false);
        let pds_store = pds::PdsStore::new(&world);
        let sds_directory = sds::SdsDirectory::new(&world, &public_url);
        let migrate_cache = provider::cache::MigrateCache::new(config.migrate_cache_max_bytes);
        let services = Services {
            pds: pds::Pds {
                store: pds_store.clone(),
                world: world.clone(),
                clock: clock.clone(),
                platform: platform.clone(),
                public_url: public_url.clone(),
            },
            sds: sds::Sds {
                directory: sds_directory.clone(),
                api_key: config.sds_api_key.clone(),
                platform: platform.clone(),
                public_url: public_url.clone(),
            },
            provider: provider::Provider {
                world: world.clone(),
                pds: pds_store.clone(),
                clock: clock.clone(),
                public_url: public_url.clone(),
                migrate_cache: migrate_cache.clone(),
                remote_pds: config.provider_pds_url.clone(),
            },
        };
        let shared = Shared {
            services,
            stopping: rx.clone(),
            http_addr,
            ssp_addr,
            pds: pds_store,
            sds: sds_directory,
            journal: Journal::new(config.journal_capacity, config.journal_max_bytes),
            migrate_cache,
            platform,
            world,
            clock,
            public_url,
            config: Arc::new(config),
            deliveries: conformance::Deliveries::default(),
            consumer_marks: conformance::Marks::default(),
        };
        let state = saved.start(&shared)?;
        let changes = state
            .as_ref()
            .map_or_else(state_dir::writer::Changes::none, |w| w.changes.clone());
        let limits = ConnectionLimits::from_config(&shared.config, OutcomeStyle::GpConnect);
        let ssp_limits = ConnectionLimits::from_config(&shared.config, OutcomeStyle::Ssp);
        let drain = Duration::from_secs(10);
        let ssp_acceptor =
            ssp::SspAcceptor::new(&shared.config, shared.journal.clone(), shared.clock.clone())?;
        let (dialer, local_accepts) = crate::http::LocalDialer::channel(http_addr);
        let ssp_service = ssp::SspService::new(
            &shared.config,
            shared.sds.clone(),
            shared.journal.clone(),
            shared.clock.clone(),
            shared.platform.clone(),
            dialer,
            &ssp::external::provider_cas(&shared.world),
        )?;
        let mut tasks = JoinSet::new();

        let app = Arc::new(shared.clone());
        tasks.spawn(serve(
            http_listener,
            PlainAcceptor,
            move |req, (), _remote| {
                let app = app.clone();
                let changes = changes.clone();
                async move {
                    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
                    let resp = crate::cors::around(req, |req| dispatch(&app, req)).await;
                    if writes {
                        changes.touch();
                    }
                    resp
                }
            },
            limits,
            rx.clone(),
            drain,
            Some((local_accepts, ())),
        ));
        tasks.spawn(serve(
            ssp_listener,
            ssp_acceptor,
            move |req, peer, remote| {
                let ssp = ssp_service.clone();
                async move { ssp.handle(req, peer, remote).await }
            },
            ssp_limits,
            rx,
            drain,
            None,
        ));
        tracing::info!(%http_addr, %ssp_addr, public_url = %shared.public_url, "Sandbox is listening.");
        Ok(RunningSandbox {
            http_addr,
            ssp_addr,
            shared,
            shutdown,
            tasks,
            state,
        })
    }
}

impl RunningSandbox {
    /// The line `serve` prints on stdout once every listener is bound (README.md, "Commands and options").
    pub fn listening_line(&self) -> String {
        format!(
            "listening http=http://{} ssp=https://{}",
            self.http_addr, self.ssp_addr
        )
    }

    /// Stops accepting, lets open requests finish, and returns when every listener has stopped.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Some(state) = self.state.take() {
            state.finish().await;
        }
    }
}

/// Creates whatever is missing of the certificates folder (CA, SSP certificate for the public
/// host, one client certificate per ASID), off the async threads. Reports on stderr only.
async fn ensure_pki(
    dir: &std::path::Path,
    world: &World,
    public_url: &str,
) -> Result<(), StartError> {
    let dir = dir.to_owned();
    let systems = pki::client_systems(world);
    let hosts = pki::ssp_hosts(Some(public_url), &[]);
    let work_dir = dir.clone();
    let report = tokio::task::spawn_blocking(move || pki::ensure(&work_dir, &systems, &hosts))
        .await
        .map_err(|e| pki::PkiError::Invalid {
            path: dir.clone(),
            message: format!("certificate generation stopped: {e}"),
        })?
        .map_err(ownership_hint)?;
    for path in &report.created {
        tracing::info!(path = %path.display(), "Created a certificate file.");
    }
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// A certificates folder the sandbox may not write to: who owns it, who the sandbox runs as,
/// and what to change (the usual case: `./certs` made by root, a container running as 1000).
fn ownership_hint(error: pki::PkiError) -> pki::PkiError {
    let (pki::PkiError::CreateDir { path, source }
    | pki::PkiError::Write { path, source }
    | pki::PkiError::Lock { path, source }) = &error
    else {
        return error;
    };
    if source.kind() != std::io::ErrorKind::PermissionDenied {
        return error;
    }
    let folder = path
        .ancestors()
        .find(|p| p.is_dir())
        .unwrap_or(path)
        .to_owned();
    #[cfg(unix)]
    let owner = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(&folder).map(|m| (m.uid(), m.gid())).ok()
    };
    #[cfg(not(unix))]
    let owner: Option<(u32, u32)> = None;
    let me = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_else(|| "another user".into());
    let message = match owner {
        Some((uid, gid)) => format!(
            "cannot write there ({source}): {} belongs to uid {uid} and the sandbox runs as uid {me}. Make it writable              for uid {me} (e.g. `sudo chown -R {me} certs`), or run the sandbox as its owner:              with Docker, put SANDBOX_UID={uid} and SANDBOX_GID={gid} in .env beside              docker-compose.yml (scripts/docker-up does this for you)",
            folder.display()
        ),
        None => format!(
            "cannot write there ({source}): the sandbox (uid {me}) may not write in {}; make it writable or choose              another certs_dir (SANDBOX_CERTS_DIR)",
            folder.display()
        ),
    };
    pki::PkiError::Invalid {
        path: path.clone(),
        message,
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

/// Which emulated service a path belongs to on the plain-HTTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Admin,
    Pds,
    Sds,
    Provider,
    OAuth,
    Unknown,
}

fn route(path: &str) -> Route {
    // A browser asks for /favicon.ico with the page: the page's, not a provider hop to journal.
    if admin::guard::is_admin_path(path) {
        Route::Admin
    } else if path.starts_with(pds::BASE_PATH) {
        Route::Pds
    } else if path.starts_with(sds::BASE_PATH) {
        Route::Sds
    } else if provider::is_provider_path(path) {
        Route::Provider
    } else if platform::is_oauth_path(path) {
        Route::OAuth
    } else {
        Route::Unknown
    }
}

/// The plain-HTTP listener's front door: routes, limits, times and journals every exchange.
async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let route = route(req.uri().path());
    if route == Route::Admin {
        return admin::handle(shared, req).await;
    }
    let (service, style) = match route {
        Route::Pds => ("pds", OutcomeStyle::Pds),
        Route::Sds => ("sds", OutcomeStyle::Sds),
        Route::OAuth => ("oauth", OutcomeStyle::Pds),
        _ => ("provider", OutcomeStyle::GpConnect),
    };
    let ticket = shared.journal.begin();
    let started = Instant::now();
    let time = shared.clock.now();
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let request_headers = journal::header_pairs(req.headers());
    let timeout = Duration::from_secs(shared.config.request_timeout_secs.max(1));
    let body_timeout = Duration::from_secs(shared.config.body_read_timeout_secs.max(1));

    let mut injected: Option<Injection> = None;
    let read = read_body_within(req, shared.config.max_body_bytes, body_timeout);
    let (request_body, mut resp) = match read.await {
        Err(e) => (
            Bytes::new(),
            closing(e.to_fhir().to_response(style)).map(Pieces::from),
        ),
        Ok(req) => {
            let body = req.body().clone();
            let fault_service = match route {
                Route::Pds => Some(faults::Service::Pds),
                Route::Sds => Some(faults::Service::Sds),
                Route::Provider => Some(faults::Service::Provider),
                _ => None,
            };
            injected = fault_service.and_then(|service| {
                shared.platform.faults.pick(&RequestFacts {
                    service,
                    method: &method,
                    path: req.uri().path(),
                    headers: req.headers(),
                    body: &body,
                })
            });
            let fault = injected.clone();
            let work = async {
                if let Some(fault) = &fault {
                    if let Some(delay) = fault.latency {
                        tokio::time::sleep(delay).await;
                    }
                    if fault.drop {
                        let mut resp = Response::new(Pieces::default());
                        resp.extensions_mut().insert(DropConnection);
                        return resp;
                    }
                    if let (Some(status), Some(service)) = (fault.status, fault_service) {
                        return faults::status_response(service, status, fault.retry_after, &path)
                            .map(Pieces::from);
                    }
                }
                match route {
                    Route::Pds => pds::handle(&shared.services.pds, req)
                        .await
                        .map(Pieces::from),
                    Route::Sds => sds::handle(&shared.services.sds, req)
                        .await
                        .map(Pieces::from),
                    Route::Provider => provider::handle(&shared.services.provider, req).await,
                    Route::OAuth => platform::handle_oauth(shared, &req).map(Pieces::from),
                    _ => unknown_path(&method, &path)
                        .to_response(style)
                        .map(Pieces::from),
                }
            };
            let guarded = std::panic::AssertUnwindSafe(work).catch_unwind();
            let resp = match tokio::time::timeout(timeout, guarded).await {
                Ok(Ok(resp)) => resp,
                Ok(Err(_panic)) => {
                    tracing::error!(%path, "A handler panicked; this is a bug.");
                    FhirError::internal(format!(
                        "the sandbox failed while handling {method} {path}; please report it"
                    ))
                    .to_response(style)
                    .map(Pieces::from)
                }
                Err(_) => FhirError::new(
                    SpineCode::RequestTimeout,
                    format!(
                        "the request was not answered within {} s",
                        timeout.as_secs()
                    ),
                )
                .with_status(StatusCode::GATEWAY_TIMEOUT)
                .to_response(style)
                .map(Pieces::from),
            };
            (body, resp)
        }
    };

    let header = |name: &str| request_headers.get(name).map(str::to_owned);
    let delivered = resp.extensions_mut().remove::<conformance::Delivered>();
    let dropped = resp.extensions().get::<DropConnection>().is_some();
    let sequence = shared.journal.complete(
        ticket,
        Entry {
            time,
            service,
            method: method.clone(),
            path: path.clone(),
            // nginx's 444, "connection closed without response", for a dropped connection.
            status: if dropped { 444 } else { resp.status().as_u16() },
            fault: injected.map(|f| f.note),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            trace_id: header("ssp-traceid"),
            from_asid: header("ssp-from"),
            to_asid: header("ssp-to"),
            interaction: header("ssp-interactionid"),
            refusal: resp.extensions().get::<Refusal>().map(Refusal::summary),
            jwt: journal::jwt_of(&request_headers),
            request_headers,
            request_body: journal::bounded_bytes(&request_body),
            response_headers: journal::header_pairs(resp.headers()),
            response_body: journal::bounded_pieces(resp.body()),
            documents: delivered.as_ref().map(|d| d.documents.clone()),
            ..Default::default()
        },
    );
    if let Some(d) = delivered {
        shared
            .deliveries
            .keep(sequence, journal::rfc3339(time), d, resp.body().clone());
    }
    resp.map(Pieces::into_body)
}

fn unknown_path(method: &Method, path: &str) -> FhirError {
    FhirError::new(
        SpineCode::NoRecordFound,
        format!("no service at {method} {path}"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_certificates_folder_the_sandbox_may_not_write_says_what_to_change() {
        let dir = std::env::temp_dir();
        let error = ownership_hint(pki::PkiError::CreateDir {
            path: dir.join("no-such-certs").join("clients"),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        let text = error.to_string();
        assert!(text.contains("belongs to uid"), "{text}");
        assert!(text.contains("SANDBOX_UID="), "{text}");
        assert!(text.contains(&dir.display().to_string()), "{text}");
        // Other failures are left as they were.
        let other = ownership_hint(pki::PkiError::CreateDir {
            path: dir.clone(),
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        });
        assert!(other.to_string().starts_with("cannot create folder"));
    }
}
