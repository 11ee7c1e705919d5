//! `--state-dir DIR`: what teams change in a world, kept on disk so a restart loses none of it
//! (`docs/scaling.md`, "State dir").
//!
//! A world's mutable state is captured as one [`Snapshot`]: the PDS records changed, created or
//! removed since the scenario was loaded (unchanged ones come back from the scenario), the
//! journal, the fault rules in force with their counts, the token endpoint's tokens, codes and
//! `jti`s, the delivered records, the consumers' cleared-history marks, the clock's offset, and
//! an admin key the sandbox generated. [`writer`] writes it after each change (at most once per
//! [`writer::WRITE_INTERVAL`], off the async threads, write-then-rename) and once more when the
//! sandbox stops; [`file::read`] reads it back at start, and [`apply`] puts it in place. A file
//! that is not JSON, not a state file, from a newer sandbox or for another scenario is reported
//! with its path and what is wrong, and the sandbox does not start on it.

mod entries;
pub(crate) mod file;
pub(crate) mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conformance::Delivered;
use crate::pds::history::History;
use crate::pds::store::PdsRecord;
use crate::platform::faults::SavedRule;
use crate::platform::oauth::SavedOAuth;
use crate::world::state::Shared;

pub(crate) use entries::{SavedBody, SavedEntry};
pub(crate) use file::StateError;

/// What the `format` field of every state file says.
pub(crate) const FORMAT: &str = "spine-sandbox-state";
/// The layout this sandbox writes and reads; a file with a higher number is refused.
pub(crate) const VERSION: u32 = 1;

/// The file the default world's state is kept in.
pub(crate) fn default_world_file(dir: &Path) -> PathBuf {
    dir.join("world.json")
}

/// The folder the other worlds' files are kept in, one `{id}.json` each.
pub(crate) fn worlds_dir(dir: &Path) -> PathBuf {
    dir.join("worlds")
}

/// One world's mutable state, as written to its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Snapshot {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written.
    pub version: u32,
    /// When it was written (for people reading the file).
    pub saved_at: chrono::DateTime<chrono::Utc>,
    /// The scenario's `name:`; the file is refused by a sandbox running another scenario.
    #[serde(default)]
    pub scenario: Option<String>,
    /// A world under `/worlds/{id}`: how to make it again (none for the default world).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<SavedWorld>,
    /// The admin key the sandbox generated (none when it was configured), so it stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<String>,
    /// How far `POST /_admin/clock` had moved the clock, in milliseconds.
    #[serde(default)]
    pub clock_offset_ms: i64,
    #[serde(default)]
    pub pds: SavedPds,
    #[serde(default)]
    pub journal: SavedJournal,
    #[serde(default)]
    pub faults: SavedFaults,
    #[serde(default)]
    pub oauth: SavedOAuth,
    /// Delivered migrate Bundles, oldest first.
    #[serde(default)]
    pub deliveries: Vec<SavedDelivery>,
    /// Consumers whose history was cleared: ODS code -> journal sequence.
    #[serde(default)]
    pub consumer_marks: BTreeMap<String, u64>,
}

/// What makes a world under `/worlds/{id}` again: its id, the scenario it was made from (a
/// shipped one's name, or the uploaded file itself), and its admin key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedWorld {
    pub id: String,
    /// `default`, `training`, a shipped file's name; `uploaded` with `upload`.
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<SavedBody>,
    pub key: String,
}

impl SavedWorld {
    pub(crate) fn of(live: &crate::world::Live) -> Self {
        let (scenario, upload) = match &live.source {
            crate::world::Source::Named(name) => (name.clone(), None),
            crate::world::Source::Uploaded(bytes) => (
                live.scenario.clone(),
                Some(SavedBody::of(bytes, bytes.len())),
            ),
        };
        Self {
            id: live.id.clone(),
            scenario,
            upload,
            key: live.key().to_owned(),
        }
    }

    fn source(&self) -> crate::world::Source {
        match &self.upload {
            Some(upload) => crate::world::Source::Uploaded(upload.bytes().to_vec()),
            None => crate::world::Source::Named(self.scenario.clone()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedPds {
    /// Records changed or created since the scenario was loaded.
    #[serde(default)]
    pub records: Vec<SavedRecord>,
    /// The scenario's NHS numbers PDS no longer held.
    #[serde(default)]
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedRecord {
    pub nhs_number: String,
    pub version: u64,
    /// The whole R4 Patient.
    pub patient: Value,
    #[serde(default, skip_serializing_if = "SavedHistory::is_empty")]
    pub history: SavedHistory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedHistory {
    #[serde(default)]
    pub name: Vec<Value>,
    #[serde(default)]
    pub address: Vec<Value>,
    #[serde(default)]
    pub telecom: Vec<Value>,
}

impl SavedHistory {
    fn is_empty(&self) -> bool {
        self.name.is_empty() && self.address.is_empty() && self.telecom.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedJournal {
    /// The next sequence number to give out (numbers are never reused across a restart).
    pub next_sequence: u64,
    #[serde(default)]
    pub evicted_through: u64,
    #[serde(default)]
    pub entries: Vec<SavedEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedFaults {
    #[serde(default)]
    pub rules: Vec<SavedRule>,
    #[serde(default)]
    pub next_id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedDelivery {
    pub sequence: u64,
    pub time: String,
    pub patient: String,
    pub requesting_ods: String,
    pub provider_ods: String,
    pub sensitive: bool,
    #[serde(default)]
    pub document_urls: Vec<String>,
    /// A retrieve's areas asked for (absent for a migrate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas: Option<Vec<String>>,
    pub bundle: SavedBody,
}

/// Everything in `shared` a team can change, now. Reads each store once; copies only what
/// differs from the scenario, the journal's and deliveries' bounded contents.
pub(crate) fn capture(
    shared: &Shared,
    admin_key: Option<String>,
    world: Option<SavedWorld>,
) -> Snapshot {
    let (changed, removed) = shared.pds.changes(&shared.world);
    let records = changed
        .into_iter()
        .map(|(nhs_number, r)| {
            let h = r.history();
            SavedRecord {
                nhs_number,
                version: r.version(),
                patient: r.patient().clone(),
                history: SavedHistory {
                    name: h.name.clone(),
                    address: h.address.clone(),
                    telecom: h.telecom.clone(),
                },
                coverage: r.coverage().cloned(),
            }
        })
        .collect();
    let (entries, watermark) = shared.journal.snapshot(0);
    let next_sequence = entries
        .last()
        .map_or(0, |e| e.sequence)
        .max(watermark)
        .saturating_add(1);
    let (rules, next_id) = shared.platform.faults.saved();
    let deliveries = shared
        .deliveries
        .list()
        .into_iter()
        .rev()
        .map(|d| SavedDelivery {
            sequence: d.sequence,
            time: d.time,
            patient: d.patient,
            requesting_ods: d.requesting_ods,
            provider_ods: d.provider_ods,
            sensitive: d.sensitive,
            document_urls: d.document_urls.to_vec(),
            areas: d.areas,
            bundle: SavedBody::of(&d.bundle.joined(), d.bytes),
        })
        .collect();
    Snapshot {
        format: FORMAT.to_owned(),
        version: VERSION,
        saved_at: chrono::Utc::now(),
        scenario: shared.world.name.clone(),
        world,
        admin_key,
        clock_offset_ms: shared.clock.offset().num_milliseconds(),
        pds: SavedPds { records, removed },
        journal: SavedJournal {
            next_sequence,
            evicted_through: shared.journal.evicted_through(),
            entries: entries.iter().map(|e| SavedEntry::of(e)).collect(),
        },
        faults: SavedFaults { rules, next_id },
        oauth: shared.platform.oauth.saved(),
        deliveries,
        consumer_marks: shared.consumer_marks.all(),
    }
}

/// Checks a snapshot against the world it is to be applied to; the message says what is wrong.
pub(crate) fn check(snapshot: &Snapshot, shared: &Shared) -> Result<(), String> {
    if snapshot.scenario != shared.world.name {
        let name = |n: &Option<String>| n.as_deref().unwrap_or("(no name)").to_owned();
        return Err(format!(
            "it was written for scenario '{}' but this sandbox runs '{}': start with that \
             scenario, or move the file away to start afresh",
            name(&snapshot.scenario),
            name(&shared.world.name)
        ));
    }
    let entries: Result<Vec<_>, String> = snapshot
        .journal
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.to_entry()
                .map_err(|m| format!("journal.entries[{i}]: {m}"))
        })
        .collect();
    entries.map(|_| ())
}

/// Puts a checked snapshot ([`check`]) in place of the scenario's fresh state.
pub(crate) fn apply(snapshot: Snapshot, shared: &Shared) -> Result<(), String> {
    check(&snapshot, shared)?;
    for r in snapshot.pds.records {
        let history = History {
            name: r.history.name,
            address: r.history.address,
            telecom: r.history.telecom,
        };
        let record = PdsRecord::restored(r.patient, r.version, history, r.coverage);
        shared.pds.put(&r.nhs_number, record);
    }
    for nhs in &snapshot.pds.removed {
        shared.pds.forget(nhs);
    }
    let entries = snapshot
        .journal
        .entries
        .iter()
        .filter_map(|e| e.to_entry().ok())
        .collect();
    shared.journal.restore(
        entries,
        snapshot.journal.next_sequence,
        snapshot.journal.evicted_through,
    );
    shared
        .platform
        .faults
        .restore(snapshot.faults.rules, snapshot.faults.next_id);
    shared
        .platform
        .oauth
        .restore(snapshot.oauth, shared.clock.now());
    shared.deliveries.clear();
    for d in snapshot.deliveries {
        let delivered = Delivered {
            patient: d.patient,
            requesting_ods: d.requesting_ods,
            provider_ods: d.provider_ods,
            sensitive: d.sensitive,
            documents: d.document_urls.into(),
            areas: d.areas,
        };
        shared
            .deliveries
            .keep(d.sequence, d.time, delivered, d.bundle.bytes());
    }
    shared.consumer_marks.reset();
    for (ods, through) in snapshot.consumer_marks {
        shared.consumer_marks.clear_through(&ods, through);
    }
    shared.clock.restore();
    shared
        .clock
        .advance(chrono::Duration::milliseconds(snapshot.clock_offset_ms));
    Ok(())
}

/// What a sandbox read from its state dir at start, before it was wired up.
pub(crate) struct Saved {
    path: Option<PathBuf>,
    snapshot: Option<Snapshot>,
    /// The configuration named no admin key: the one in use (generated, or read back) is kept.
    keep_key: bool,
}

/// Reads the default world's state file, if `config.state_dir` is set, and gives the admin key
/// it kept back to the configuration when none was configured.
pub(crate) fn read_for_start(config: &mut crate::config::Config) -> Result<Saved, StateError> {
    let keep_key = config.admin_key.is_none();
    let Some(dir) = &config.state_dir else {
        return Ok(Saved {
            path: None,
            snapshot: None,
            keep_key,
        });
    };
    let path = default_world_file(dir);
    let snapshot = file::read(&path)?;
    if let Some(key) = snapshot.as_ref().and_then(|s| s.admin_key.as_ref())
        && keep_key
    {
        if key.len() < 16 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StateError::new(
                &path,
                "admin_key must be at least 16 printable characters without spaces",
            ));
        }
        config.admin_key = Some(key.clone());
    }
    Ok(Saved {
        path: Some(path),
        snapshot,
        keep_key,
    })
}

impl Saved {
    /// Puts the state read back in place (the default world's, then every other world's, each
    /// made again from its scenario) and starts writing changes; `None` without a state dir.
    pub(crate) async fn start(
        self,
        shared: &Shared,
        worlds: &crate::world::Worlds,
    ) -> Result<Option<writer::Writer>, StateError> {
        let Some(path) = self.path else {
            return Ok(None);
        };
        if let Some(snapshot) = self.snapshot {
            if snapshot.world.is_some() {
                return Err(StateError::new(
                    &path,
                    "it holds a world under /worlds/, not the default world",
                ));
            }
            let (records, entries) = (snapshot.pds.records.len(), snapshot.journal.entries.len());
            apply(snapshot, shared).map_err(|p| StateError::new(&path, p))?;
            tracing::info!(
                path = %path.display(),
                changed_records = records,
                journal_entries = entries,
                "State read back from the state dir."
            );
        } else {
            tracing::info!(path = %path.display(), "No state file yet: starting from the scenario.");
        }
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let restored = restore_worlds(&worlds_dir(&dir), worlds).await?;
        if restored > 0 {
            tracing::info!(worlds = restored, "Worlds read back from the state dir.");
        }
        let key = if self.keep_key {
            shared.config.admin_key.clone()
        } else {
            None
        };
        let writer = writer::Writer::start(shared.clone(), worlds.clone(), dir, key);
        Ok(Some(writer))
    }
}

/// Makes every world kept in `folder` again and puts its state in place; how many.
async fn restore_worlds(folder: &Path, worlds: &crate::world::Worlds) -> Result<usize, StateError> {
    let listing = match std::fs::read_dir(folder) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StateError::new(folder, format!("cannot be listed: {e}"))),
    };
    let mut files: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut restored = 0;
    for path in files {
        let Some(snapshot) = file::read(&path)? else {
            continue;
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(saved) = snapshot.world.clone() else {
            return Err(StateError::new(
                &path,
                "it has no \"world\" (id, scenario, key): a world's file needs one",
            ));
        };
        if saved.id != stem {
            return Err(StateError::new(
                &path,
                format!(
                    "it holds world '{}', not '{stem}' as its name says",
                    saved.id
                ),
            ));
        }
        let again = |e: crate::world::WorldError| {
            StateError::new(
                &path,
                format!("world '{}' cannot be made again: {e}", saved.id),
            )
        };
        let source = saved.source();
        let world = worlds.load(&source).await.map_err(again)?;
        let live = worlds
            .create_from(&saved.id, source, world, Some(saved.key.clone()))
            .map_err(again)?;
        apply(snapshot, &live.shared).map_err(|p| StateError::new(&path, p))?;
        restored += 1;
    }
    Ok(restored)
}
