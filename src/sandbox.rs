//! Binds every listener and wires the services together; the only file that knows about ports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::fhir::OutcomeStyle;
use crate::http::{ConnectionLimits, PlainAcceptor, serve};
use crate::scenario::World;

mod front;
use crate::{admin, pki, ssp, state_dir, tls};
pub(crate) use front::Front;

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

pub(crate) use crate::world::state::{Place, Shared};

/// A started sandbox: its real addresses and the means to stop it.
pub struct RunningSandbox {
    pub http_addr: SocketAddr,
    pub ssp_addr: SocketAddr,
    /// The default world (today's URLs).
    pub shared: Shared,
    /// Every other world (`/worlds/{id}`).
    pub worlds: crate::world::Worlds,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Writes the worlds' state to `--state-dir` after each change and at shutdown.
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
        let ssp_hosts = pki::ssp_hosts(
            Some(&public_url),
            &config
                .ssp_public_url
                .as_deref()
                .and_then(|u| u.parse::<http::Uri>().ok())
                .and_then(|u| u.host().map(str::to_owned))
                .into_iter()
                .collect::<Vec<_>>(),
        );
        ensure_pki(&config.certs_dir, &world, ssp_hosts).await?;
        let world = Arc::new(world);
        let (shutdown, rx) = watch::channel(false);
        let shared = Shared::assemble(
            Arc::new(config),
            world,
            Place {
                clock,
                public_url,
                base_path: String::new(),
                http_addr,
                ssp_addr,
                stopping: rx.clone(),
            },
        );
        let worlds = crate::world::Worlds::new(shared.clone());
        let state = saved.start(&shared, &worlds).await?;
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
        )?
        .with_worlds(Arc::new(worlds.clone()));
        let mut tasks = JoinSet::new();

        if let Some(idle) = worlds.idle_timeout() {
            tasks.spawn(crate::world::evict_idle(worlds.clone(), idle, rx.clone()));
        }
        let ssp_changes = changes.clone();
        let app = Arc::new(Front {
            default: shared.clone(),
            worlds: worlds.clone(),
        });
        tasks.spawn(serve(
            http_listener,
            PlainAcceptor,
            move |req, (), _remote| {
                // Only with a state dir: the request path pays nothing otherwise (not even a
                // clone of the shared handle, whose count every core would write).
                let seen = changes.is_on().then(|| {
                    (
                        changes.clone(),
                        req.method().clone(),
                        req.uri().path().to_owned(),
                    )
                });
                // The door borrows the front, and clones it only for work it must box.
                let answer = match crate::cors::origin(&req) {
                    None => futures_util::future::Either::Left(front::door(&app, req)),
                    Some(origin) => {
                        let app = app.clone();
                        futures_util::future::Either::Right(Box::pin(crate::cors::cross_origin(
                            req,
                            origin,
                            move |req| front::door(&app, req),
                        )))
                    }
                };
                // Without a state dir the answer is the front door's own future, not wrapped.
                match seen {
                    None => futures_util::future::Either::Left(answer),
                    Some((changes, method, path)) => {
                        futures_util::future::Either::Right(Box::pin(async move {
                            let resp = answer.await;
                            changes.touch_request(&method, &path);
                            resp
                        }))
                    }
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
                let changes = ssp_changes.clone();
                // Boxed: the proxy's state machine is large, and hyper moves what it is given.
                Box::pin(async move {
                    let resp = ssp.handle(req, peer, remote).await;
                    changes.touch();
                    resp
                })
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
            worlds,
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
    hosts: Vec<String>,
) -> Result<(), StartError> {
    let dir = dir.to_owned();
    let systems = pki::client_systems(world);
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
