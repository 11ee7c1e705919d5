//! Writes the worlds' state after each change: changes are gathered for [`WRITE_INTERVAL`],
//! then every world that changed is captured and written on a blocking thread, so a burst of
//! requests costs one write per world touched, at most one round of writes runs at a time, and
//! the request path pays one notification. A world changed when a request other than
//! `GET`/`HEAD` was addressed to it (the admin API's changes) or its journal moved on (every
//! PDS, SDS, SSP, provider and token exchange is journalled). When the sandbox stops,
//! [`Writer::finish`] writes every world once more after the last request, and drops the files
//! of worlds deleted or evicted since.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{SavedWorld, capture, default_world_file, file, worlds_dir};
use crate::world::Worlds;
use crate::world::state::Shared;

/// Changes are gathered this long before the state is written.
pub(crate) const WRITE_INTERVAL: Duration = Duration::from_millis(500);

/// Cheap to clone: says the state changed.
#[derive(Clone, Default)]
pub(crate) struct Changes(Option<Arc<Pending>>);

#[derive(Default)]
struct Pending {
    notify: Notify,
    /// Worlds a changing request was addressed to ("" for the default world).
    worlds: Mutex<HashSet<String>>,
}

impl Changes {
    /// Nothing is written (no state dir).
    pub(crate) fn none() -> Self {
        Self(None)
    }

    /// Whether a state dir is being written.
    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Something may have changed (the writer looks at every world's journal).
    pub(crate) fn touch(&self) {
        if let Some(p) = &self.0 {
            p.notify.notify_one();
        }
    }

    /// A request on the plain-HTTP listener was answered: any but a read of the admin API or
    /// the page may have changed its world.
    pub(crate) fn touch_request(&self, method: &Method, path: &str) {
        let Some(p) = &self.0 else {
            return;
        };
        let (world, rest) = crate::http::world_prefix(path).unwrap_or(("", path));
        if matches!(*method, Method::GET | Method::HEAD) {
            let page_or_admin = rest.is_empty()
                || rest == "/"
                || rest == "/healthz"
                || rest == "/favicon.ico"
                || rest.starts_with("/_admin");
            if page_or_admin {
                return;
            }
        } else if let Ok(mut set) = p.worlds.lock() {
            set.insert(world.to_owned());
        }
        p.notify.notify_one();
    }
}

/// The running writer of a sandbox's state dir.
pub(crate) struct Writer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    pub changes: Changes,
}

struct Target {
    default: Shared,
    worlds: Worlds,
    dir: PathBuf,
    admin_key: Option<String>,
}

impl Writer {
    /// Starts writing the default world's and every other world's state under `dir`.
    pub(crate) fn start(
        default: Shared,
        worlds: Worlds,
        dir: PathBuf,
        admin_key: Option<String>,
    ) -> Self {
        let pending = Arc::new(Pending::default());
        let (stop, stopped) = watch::channel(false);
        let changes = Changes(Some(pending.clone()));
        let target = Arc::new(Target {
            default,
            worlds,
            dir,
            admin_key,
        });
        let task = tokio::spawn(run(target, pending, stopped));
        Self {
            stop,
            task,
            changes,
        }
    }

    /// Writes the state a last time and returns when it is on disk.
    pub(crate) async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(target: Arc<Target>, pending: Arc<Pending>, mut stopped: watch::Receiver<bool>) {
    // Journal watermarks as last written, by world ("" the default).
    let mut written: HashMap<String, u64> = HashMap::new();
    loop {
        tokio::select! {
            _ = pending.notify.notified() => {}
            _ = stopped.changed() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(WRITE_INTERVAL) => {}
            _ = stopped.changed() => break,
        }
        let touched = pending
            .worlds
            .lock()
            .map(|mut set| std::mem::take(&mut *set))
            .unwrap_or_default();
        written = round(&target, touched, written, false).await;
    }
    round(&target, HashSet::new(), written, true).await;
}

/// One round of writes on a blocking thread: the worlds touched or whose journal moved on
/// (every world when `all`), then the files of worlds gone. Returns the watermarks written.
async fn round(
    target: &Arc<Target>,
    touched: HashSet<String>,
    written: HashMap<String, u64>,
    all: bool,
) -> HashMap<String, u64> {
    let target = target.clone();
    let keep = written.clone();
    tokio::task::spawn_blocking(move || write_changed(&target, &touched, written, all))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "Writing the state dir stopped.");
            keep
        })
}

fn write_changed(
    target: &Target,
    touched: &HashSet<String>,
    mut written: HashMap<String, u64>,
    all: bool,
) -> HashMap<String, u64> {
    let mut due: Vec<(String, Shared, Option<SavedWorld>)> =
        vec![(String::new(), target.default.clone(), None)];
    for live in target.worlds.list() {
        let saved = SavedWorld::of(&live);
        due.push((live.id.clone(), live.shared.clone(), Some(saved)));
    }
    let live_ids: HashSet<String> = due.iter().map(|(id, _, _)| id.clone()).collect();
    for (id, shared, world) in due {
        let watermark = shared.journal.watermark();
        let changed = all || touched.contains(&id) || written.get(&id) != Some(&watermark);
        if !changed {
            continue;
        }
        let path = if id.is_empty() {
            default_world_file(&target.dir)
        } else {
            worlds_dir(&target.dir).join(format!("{id}.json"))
        };
        let key = if id.is_empty() {
            target.admin_key.clone()
        } else {
            None
        };
        let snapshot = capture(&shared, key, world);
        match file::write(&path, &snapshot) {
            Ok(()) => {
                written.insert(id, watermark);
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "Cannot write the state file; the next change tries again.");
            }
        }
    }
    written.retain(|id, _| live_ids.contains(id));
    remove_gone(&worlds_dir(&target.dir), &live_ids);
    written
}

/// Removes the files of worlds no longer held (deleted, evicted).
fn remove_gone(folder: &Path, live: &HashSet<String>) {
    let Ok(listing) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in listing.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !live.contains(&id)
            && let Err(e) = std::fs::remove_file(&path)
        {
            tracing::warn!(path = %path.display(), error = %e, "Cannot remove a deleted world's state file.");
        }
    }
}
