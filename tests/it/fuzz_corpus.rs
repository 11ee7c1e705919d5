//! Replays every file of `fuzz/corpus/<target>/` through the fuzz targets' entry points, so the
//! inputs the fuzzers found interesting (and any that once crashed) are checked on stable Rust.

use spine_sandbox::fuzzing::TARGETS;

use crate::support::repo_path;

#[test]
fn every_corpus_file_runs_without_a_panic() {
    for (target, run) in TARGETS {
        let dir = repo_path(&format!("fuzz/corpus/{target}"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} panicked", file.display());
        }
    }
}
