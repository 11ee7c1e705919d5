//! The default scenario built into the binary, so that the sandbox runs from any folder: its YAML
//! and the document files it names, resolved from this embedded copy instead of the disk.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::World;
use super::error::ScenarioError;
use super::load::load_embedded;

/// Where the default scenario lives in a checkout, relative to the folder the sandbox runs in.
pub(crate) const DEFAULT_PATH: &str = "scenarios/default.yaml";

/// The name the built-in scenario has in messages.
pub(crate) const BUILT_IN_NAME: &str = "<built-in>/default.yaml";

/// The default scenario's YAML, as shipped.
pub(crate) const DEFAULT_YAML: &str = include_str!("../../scenarios/default.yaml");

/// The default scenario's documents: the `file:` path it names, and the bytes.
pub(crate) const DEFAULT_DOCUMENTS: &[(&str, &[u8])] = &[
    (
        "documents/discharge-summary.txt",
        include_bytes!("../../scenarios/documents/discharge-summary.txt"),
    ),
    (
        "documents/respiratory-clinic-letter.txt",
        include_bytes!("../../scenarios/documents/respiratory-clinic-letter.txt"),
    ),
];

/// The built-in default world.
pub(crate) fn default_world(start_day: NaiveDate) -> Result<World, Vec<ScenarioError>> {
    load_embedded(
        BUILT_IN_NAME,
        DEFAULT_YAML.as_bytes(),
        DEFAULT_DOCUMENTS,
        start_day,
    )
}

/// Whether `paths` is the default scenario and no such file is in the current folder: then the
/// built-in copy stands in for it.
pub(crate) fn use_built_in(paths: &[PathBuf]) -> bool {
    let default_only = paths.is_empty() || paths == [PathBuf::from(DEFAULT_PATH)];
    default_only && !Path::new(DEFAULT_PATH).exists()
}

/// Writes `default.yaml` and its `documents/` into `dir` (created if missing), refusing to
/// overwrite anything already there. Returns the files written.
pub(crate) fn write_default(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = vec![(dir.join("default.yaml"), DEFAULT_YAML.as_bytes())];
    for (name, bytes) in DEFAULT_DOCUMENTS {
        files.push((dir.join(name), *bytes));
    }
    if let Some((existing, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists; nothing written", existing.display()),
        ));
    }
    for (path, bytes) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
    }

    #[test]
    fn the_built_in_world_equals_the_shipped_files() {
        let built_in = default_world(start()).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let on_disk = super::super::load_paths(&[path], start()).unwrap();
        assert_eq!(format!("{built_in:?}"), format!("{on_disk:?}"));
        assert!(
            built_in
                .patients
                .iter()
                .any(|p| !p.record.documents.is_empty())
        );
    }

    #[test]
    fn every_shipped_document_is_embedded() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/documents");
        let mut shipped: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| format!("documents/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        shipped.sort();
        let embedded: Vec<&str> = DEFAULT_DOCUMENTS.iter().map(|(n, _)| *n).collect();
        assert_eq!(shipped, embedded);
    }
}
