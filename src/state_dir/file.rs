//! Reading and writing one state file: written whole to a temporary file beside it, flushed to
//! disk, then renamed over the old one, so a crash mid-write leaves the previous state, never
//! half a file. Readable by its owner only (it holds tokens and possibly the admin key).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{FORMAT, Snapshot, VERSION};

/// Why a state file cannot be used: the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("state file {}: {problem}", path.display())]
pub struct StateError {
    pub path: PathBuf,
    pub problem: String,
}

impl StateError {
    pub fn new(path: &Path, problem: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}

/// The snapshot in `path`; `None` when there is no file yet (a first start).
pub(crate) fn read(path: &Path) -> Result<Option<Snapshot>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::new(path, format!("cannot be read: {e}"))),
    };
    parse(&bytes)
        .map(Some)
        .map_err(|p| StateError::new(path, p))
}

/// A snapshot from a file's bytes, or what is wrong with them.
pub(crate) fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "is not valid JSON (line {}, column {}: {e}); it may have been cut short or edited",
            e.line(),
            e.column()
        )
    })?;
    let format = value.get("format").and_then(serde_json::Value::as_str);
    if format != Some(FORMAT) {
        return Err(format!(
            "is not a spine-sandbox state file (it has no \"format\": \"{FORMAT}\"); point \
             --state-dir at a folder of its own"
        ));
    }
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v <= u64::from(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "was written by a newer sandbox (state format {v}; this one reads up to \
                 {VERSION}): run that version, or move the file away to start afresh"
            ));
        }
        None => return Err("has no whole-number \"version\"".into()),
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        format!("{at}: {}", e.into_inner())
    })
}

/// Writes `snapshot` to `path` atomically (temporary file, flush, rename), creating the folder.
pub(crate) fn write(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".into());
    let temp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&temp)?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut out, snapshot)?;
        out.flush()?;
        out.get_ref().sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename itself is made durable by syncing the folder (where the OS allows it).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_json_names_line_and_column() {
        let err = parse(b"{\n  \"format\": \"spine-sandbox-state\",\n  oops").unwrap_err();
        assert!(err.contains("is not valid JSON (line 3"), "{err}");
    }

    #[test]
    fn foreign_file_is_named_as_such() {
        let err = parse(br#"{"name": "something else"}"#).unwrap_err();
        assert!(err.contains("is not a spine-sandbox state file"), "{err}");
        let err = parse(br#"[1, 2]"#).unwrap_err();
        assert!(err.contains("is not a spine-sandbox state file"), "{err}");
    }

    #[test]
    fn newer_format_is_refused() {
        let err = parse(br#"{"format": "spine-sandbox-state", "version": 99}"#).unwrap_err();
        assert!(err.contains("newer sandbox (state format 99"), "{err}");
    }

    #[test]
    fn a_wrong_field_is_named_by_its_path() {
        let text = r#"{"format": "spine-sandbox-state", "version": 1,
            "saved_at": "2026-01-01T00:00:00Z", "pds": {"records": [{"nhs_number": "9000000009",
            "version": "two", "patient": {}}]}}"#;
        let err = parse(text.as_bytes()).unwrap_err();
        assert!(
            err.starts_with("pds.records[0].version: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_a_first_start() {
        let path = std::env::temp_dir().join(format!("no-such-state-{}.json", std::process::id()));
        assert!(read(&path).unwrap().is_none());
    }
}
