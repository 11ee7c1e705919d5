//! Worlds (docs/worlds.md): many isolated sandboxes in one process. A world is a scenario (its
//! immutable parts shared, behind an `Arc`, by every world made from it) plus its own state:
//! PDS records and versions, journal, faults, OAuth keys and tokens, delivered records and
//! conformance marks. It is reached by the path prefix `/worlds/{id}` before every plain-HTTP
//! path; SDS in a world hands out provider addresses carrying the prefix, so SSP finds the world
//! from the target URL. The default world is the sandbox as it always was, at its usual URLs.

pub(crate) mod admin;
pub(crate) mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use self::state::{Place, Shared};
use crate::config::Config;
use crate::http::is_world_id;
use crate::scenario::{ScenarioError, World};

/// Every world but the default one, by id.
#[derive(Clone)]
pub struct Worlds {
    inner: Arc<Inner>,
}

type LiveWorlds = HashMap<String, Arc<Live>, foldhash::fast::RandomState>;

struct Inner {
    /// The default world: what new worlds take their settings, clock and addresses from.
    template: Shared,
    /// Hashed with foldhash (seeded per process), not SipHash: every request in a world looks
    /// it up.
    live: RwLock<LiveWorlds>,
    /// Scenarios loaded by name, shared by every world made from them.
    scenarios: Mutex<HashMap<String, Arc<World>>>,
    epoch: Instant,
}

/// One world.
pub struct Live {
    pub id: String,
    /// What it was made from: `default`, a shipped scenario's name, or `uploaded`.
    pub scenario: String,
    /// What it was made from, whole (an uploaded file's text included), so that it can be made
    /// again ([`Worlds::load`]).
    pub source: Source,
    /// Its state and services; `shared.base_path` is `/worlds/{id}`.
    pub shared: Shared,
    key: String,
    created: chrono::DateTime<chrono::Utc>,
    /// Milliseconds after [`Inner::epoch`] of its last request.
    last_used_ms: AtomicU64,
}

impl Live {
    /// The key its admin calls need (`X-Sandbox-Key`).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Where a new world's scenario comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `default` (the scenario the default world serves), `training`, or a shipped file's name.
    Named(String),
    /// A scenario file's text, checked before use.
    Uploaded(Vec<u8>),
}

/// Why a world could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("'{0}' is not a world id: use 1 to 40 of a-z, 0-9 and '-'")]
    BadId(String),
    #[error("a world with id '{0}' exists already")]
    Exists(String),
    #[error(
        "this sandbox holds {0} worlds already (max_worlds): delete one (DELETE /_admin/worlds/ID) or raise max_worlds"
    )]
    Full(usize),
    #[error(
        "no shipped scenario '{0}': use \"default\", \"training\", the name of a file in scenarios/, or upload one as \"yaml\""
    )]
    UnknownScenario(String),
    #[error("the scenario is too large for a world: {0}")]
    TooLarge(String),
    #[error("the scenario has {} problem(s)", .0.len())]
    Scenario(Vec<ScenarioError>),
    #[error("client certificates for the scenario's practices could not be made: {0}")]
    Certificates(String),
}

/// The uploaded file's name in the problems reported.
pub(crate) const UPLOAD_NAME: &str = "uploaded.yaml";

impl Worlds {
    /// No worlds yet; new ones are made like `template`, the default world.
    pub fn new(template: Shared) -> Self {
        Self {
            inner: Arc::new(Inner {
                template,
                live: RwLock::new(HashMap::default()),
                scenarios: Mutex::new(HashMap::new()),
                epoch: Instant::now(),
            }),
        }
    }

    /// The default world.
    pub fn default_world(&self) -> &Shared {
        &self.inner.template
    }

    fn config(&self) -> &Config {
        &self.inner.template.config
    }

    /// How long a world may go unused before it is removed (`world_idle_timeout_secs`).
    pub fn idle_timeout(&self) -> Option<Duration> {
        let secs = self.config().world_idle_timeout_secs;
        (secs > 0).then(|| Duration::from_secs(secs))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, LiveWorlds> {
        self.inner.live.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, LiveWorlds> {
        self.inner.live.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A world by id, marked as used now.
    pub fn get(&self, id: &str) -> Option<Arc<Live>> {
        let live = self.read().get(id).cloned()?;
        // Written at most once a second: a busy world's requests on every core would otherwise
        // all write the same cache line.
        let now = self.now_ms();
        if now.saturating_sub(live.last_used_ms.load(Ordering::Relaxed)) >= 1000 {
            live.last_used_ms.store(now, Ordering::Relaxed);
        }
        Some(live)
    }

    /// A world by id, leaving its idle time alone.
    pub fn peek(&self, id: &str) -> Option<Arc<Live>> {
        self.read().get(id).cloned()
    }

    /// Every world, oldest first.
    pub fn list(&self) -> Vec<Arc<Live>> {
        let mut all: Vec<Arc<Live>> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        all
    }

    /// Their ids, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.list().iter().map(|l| l.id.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh id: `{shard}-{random}` when the sandbox is a shard (`shard`), else `{random}`.
    pub fn new_id(&self) -> String {
        let random = uuid::Uuid::new_v4().simple().to_string();
        match &self.config().shard {
            Some(shard) => format!("{shard}-{}", &random[..12]),
            None => random[..12].to_owned(),
        }
    }

    /// Makes a world from `source` (loading and checking it off the async threads), under
    /// `id` or a fresh one.
    pub async fn create(
        &self,
        id: Option<String>,
        source: Source,
    ) -> Result<Arc<Live>, WorldError> {
        let id = id.unwrap_or_else(|| self.new_id());
        self.room_for(&id)?;
        let world = self.load(&source).await?;
        self.create_from(&id, source, world, None)
    }

    /// The scenario `source` names, loaded and checked (a named one once, then shared).
    pub async fn load(&self, source: &Source) -> Result<Arc<World>, WorldError> {
        match source {
            Source::Named(name) => self.named(name).await,
            Source::Uploaded(bytes) => self.uploaded(bytes.clone()).await,
        }
    }

    /// Makes a world with `id` from `source`, loaded as `world` ([`Worlds::load`]), with `key`
    /// or a fresh admin key: what a sandbox restoring its worlds calls.
    pub fn create_from(
        &self,
        id: &str,
        source: Source,
        world: Arc<World>,
        key: Option<String>,
    ) -> Result<Arc<Live>, WorldError> {
        self.room_for(id)?;
        let template = &self.inner.template;
        let key = key.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let config = Config {
            admin_key: Some(key.clone()),
            ..(*template.config).clone()
        };
        let base_path = format!("/worlds/{id}");
        let shared = Shared::assemble(
            Arc::new(config),
            world,
            Place {
                clock: template.clock.clone(),
                public_url: format!("{}{base_path}", template.public_url),
                base_path,
                http_addr: template.http_addr,
                ssp_addr: template.ssp_addr,
                stopping: template.stopping.clone(),
            },
        );
        let scenario = match &source {
            Source::Named(name) => name.clone(),
            Source::Uploaded(_) => "uploaded".to_owned(),
        };
        let live = Arc::new(Live {
            id: id.to_owned(),
            scenario: scenario.clone(),
            source,
            shared,
            key,
            created: template.clock.now(),
            last_used_ms: AtomicU64::new(self.now_ms()),
        });
        let mut all = self.write();
        if all.contains_key(id) {
            return Err(WorldError::Exists(id.to_owned()));
        }
        if all.len() >= self.config().max_worlds {
            return Err(WorldError::Full(all.len()));
        }
        all.insert(id.to_owned(), live.clone());
        drop(all);
        tracing::info!(world = id, %scenario, "World created.");
        Ok(live)
    }

    fn room_for(&self, id: &str) -> Result<(), WorldError> {
        if !is_world_id(id) {
            return Err(WorldError::BadId(id.to_owned()));
        }
        let all = self.read();
        if all.contains_key(id) {
            return Err(WorldError::Exists(id.to_owned()));
        }
        if all.len() >= self.config().max_worlds {
            return Err(WorldError::Full(all.len()));
        }
        Ok(())
    }

    /// Removes a world; false when there is none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.write().remove(id).is_some();
        if removed {
            tracing::info!(world = id, "World deleted.");
        }
        removed
    }

    /// Removes the worlds unused for `idle` or longer; returns their ids.
    pub fn evict(&self, idle: Duration) -> Vec<String> {
        let now = self.now_ms();
        let limit = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let mut all = self.write();
        let gone: Vec<String> = all
            .values()
            .filter(|l| now.saturating_sub(l.last_used_ms.load(Ordering::Relaxed)) >= limit)
            .map(|l| l.id.clone())
            .collect();
        for id in &gone {
            all.remove(id);
        }
        gone
    }

    /// A named scenario, loaded once and shared.
    async fn named(&self, name: &str) -> Result<Arc<World>, WorldError> {
        if name == "default" {
            return Ok(self.inner.template.world.clone());
        }
        let stem = name.strip_suffix(".yaml").unwrap_or(name);
        let safe = !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !safe {
            return Err(WorldError::UnknownScenario(name.to_owned()));
        }
        if let Some(world) = self.cached(stem) {
            return Ok(world);
        }
        let folder = std::path::Path::new(crate::scenario::builtin::DEFAULT_PATH)
            .parent()
            .unwrap_or(std::path::Path::new("scenarios"));
        let path = folder.join(format!("{stem}.yaml"));
        if !path.is_file() {
            return Err(WorldError::UnknownScenario(name.to_owned()));
        }
        let limits = crate::scenario::load::ParseLimits::of(self.config());
        let today = self.inner.template.clock.now().date_naive();
        let loaded = tokio::task::spawn_blocking(move || {
            crate::scenario::load::load_paths_with(&[path], today, limits)
        })
        .await
        .map_err(|e| WorldError::TooLarge(format!("loading stopped: {e}")))?
        .map_err(WorldError::Scenario)?;
        let world = Arc::new(loaded);
        self.check_size(&world)?;
        let mut cache = self
            .inner
            .scenarios
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(cache.entry(stem.to_owned()).or_insert(world).clone())
    }

    fn cached(&self, stem: &str) -> Option<Arc<World>> {
        self.inner
            .scenarios
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(stem)
            .cloned()
    }

    /// An uploaded scenario, checked as `check` does. Its documents' `file:` paths name the
    /// built-in scenario's document files, never this machine's files.
    async fn uploaded(&self, bytes: Vec<u8>) -> Result<Arc<World>, WorldError> {
        let max = self.config().world_max_scenario_bytes;
        if bytes.len() > max {
            return Err(WorldError::TooLarge(format!(
                "{} bytes, above world_max_scenario_bytes ({max})",
                bytes.len()
            )));
        }
        let today = self.inner.template.clock.now().date_naive();
        let loaded = tokio::task::spawn_blocking(move || {
            crate::scenario::load::load_embedded(
                UPLOAD_NAME,
                &bytes,
                crate::scenario::builtin::DEFAULT_DOCUMENTS,
                today,
            )
        })
        .await
        .map_err(|e| WorldError::TooLarge(format!("checking stopped: {e}")))?
        .map_err(WorldError::Scenario)?;
        let world = Arc::new(loaded);
        self.check_size(&world)?;
        // Its practices' client certificates, from the sandbox's CA (those already there kept).
        let template = &self.inner.template;
        let dir = template.config.certs_dir.clone();
        let systems = crate::pki::client_systems(&world);
        let hosts = crate::pki::ssp_hosts(Some(&template.public_url), &[]);
        tokio::task::spawn_blocking(move || crate::pki::ensure(&dir, &systems, &hosts))
            .await
            .map_err(|e| WorldError::Certificates(e.to_string()))?
            .map_err(|e| WorldError::Certificates(e.to_string()))?;
        Ok(world)
    }

    fn check_size(&self, world: &World) -> Result<(), WorldError> {
        let max = self.config().world_max_patients;
        if world.patients.len() > max {
            return Err(WorldError::TooLarge(format!(
                "{} patients, above world_max_patients ({max})",
                world.patients.len()
            )));
        }
        Ok(())
    }
}

impl crate::ssp::WorldLookup for Worlds {
    fn lookup(&self, id: &str) -> Option<crate::ssp::SspWorld> {
        self.get(id).map(|live| crate::ssp::SspWorld {
            sds: live.shared.sds.clone(),
            journal: live.shared.journal.clone(),
            platform: live.shared.platform.clone(),
        })
    }
}

/// Removes idle worlds every so often until the sandbox stops.
pub(crate) async fn evict_idle(
    worlds: Worlds,
    idle: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let every = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopping.changed() => return,
        }
        for id in worlds.evict(idle) {
            tracing::info!(world = %id, idle_secs = idle.as_secs(), "Removed an idle world.");
        }
    }
}
