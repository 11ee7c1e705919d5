//! Writes a world's state after each change: changes are gathered for [`WRITE_INTERVAL`], then
//! the world is captured and written on a blocking thread, so a burst of requests costs one
//! write, at most one write runs at a time, and the request path pays one atomic notification.
//! A change is any journalled exchange (every PDS, SDS, SSP, provider and token request is
//! journalled) or any request that is not a `GET`/`HEAD` ([`Changes::touch`], for the admin
//! API). When the sandbox stops, [`Writer::finish`] writes once more after the last request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use super::{capture, file};
use crate::sandbox::Shared;

/// Changes are gathered this long before the state is written.
pub const WRITE_INTERVAL: Duration = Duration::from_millis(500);

/// Cheap to clone: says the state changed.
#[derive(Clone, Default)]
pub struct Changes(Option<Arc<Notify>>);

impl Changes {
    /// Nothing is written (no state dir).
    pub fn none() -> Self {
        Self(None)
    }

    pub fn touch(&self) {
        if let Some(n) = &self.0 {
            n.notify_one();
        }
    }
}

/// The running writer of one world's file.
pub struct Writer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    pub changes: Changes,
}

impl Writer {
    /// Starts writing `shared`'s state to `path` after each change.
    pub fn start(shared: Shared, path: PathBuf, admin_key: Option<String>) -> Self {
        let notify = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let journal = shared.journal.subscribe();
        let changes = Changes(Some(notify.clone()));
        let task = tokio::spawn(run(shared, path, admin_key, notify, journal, stopped));
        Self {
            stop,
            task,
            changes,
        }
    }

    /// Writes the state a last time and returns when it is on disk.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(
    shared: Shared,
    path: PathBuf,
    admin_key: Option<String>,
    notify: Arc<Notify>,
    mut journal: broadcast::Receiver<crate::journal::Completed>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = notify.notified() => {}
            r = journal.recv() => {
                if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    break;
                }
            }
            _ = stopped.changed() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(WRITE_INTERVAL) => {}
            _ = stopped.changed() => break,
        }
        // What arrived meanwhile is in this write: start listening afresh.
        journal = journal.resubscribe();
        write(&shared, &path, &admin_key).await;
    }
    write(&shared, &path, &admin_key).await;
}

/// Captures and writes the state on a blocking thread; a failure is logged (and the next change
/// tries again), never fatal.
async fn write(shared: &Shared, path: &std::path::Path, admin_key: &Option<String>) {
    let (shared, target, key) = (shared.clone(), path.to_owned(), admin_key.clone());
    let done = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let snapshot = capture(&shared, key);
        file::write(&target, &snapshot).map(|()| started.elapsed())
    })
    .await;
    match done {
        Ok(Ok(took)) => {
            tracing::debug!(path = %path.display(), ms = took.as_millis() as u64, "State written.");
        }
        Ok(Err(e)) => {
            tracing::error!(path = %path.display(), error = %e, "Cannot write the state file; the next change tries again.");
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "Writing the state file stopped.");
        }
    }
}
