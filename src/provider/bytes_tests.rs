//! Migrate's answers pinned byte for byte across a refactoring: `MIGRATE_DUMP=<dir> cargo test
//! --lib dump_migrate_bundles -- --ignored` writes every shipped scenario's migrate Bundle (every
//! patient of every provider practice, with and without sensitive information) to `<dir>`; run
//! it before and after a change and compare the two directories with `cmp`/`diff -r`. It is
//! ignored by default because the Bundles change whenever the record builders are meant to.

use std::path::PathBuf;

use super::record::{self, BundleRequest};
use super::test_world;

#[test]
#[ignore = "a tool: writes files to $MIGRATE_DUMP"]
fn dump_migrate_bundles() {
    let Ok(dir) = std::env::var("MIGRATE_DUMP") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut written = 0;
    for file in files {
        let world = crate::scenario::load_paths(
            std::slice::from_ref(&file),
            test_world::now().date_naive(),
        )
        .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        for patient in &world.patients {
            let Some(practice) = world.practice(patient.record_at.as_str()) else {
                continue;
            };
            let base = record::documents_base("http://sandbox.test", practice.ods.as_str());
            for sensitive in [false, true] {
                let bytes = record::bundle_bytes(&BundleRequest {
                    world: &world,
                    practice,
                    patient,
                    include_sensitive: sensitive,
                    trace_id: test_world::TRACE_ID,
                    documents_base: &base,
                });
                let name = format!("{stem}-{}-{sensitive}.json", patient.nhs_number.as_str());
                std::fs::write(dir.join(name), bytes).unwrap();
                written += 1;
            }
        }
    }
    assert!(written > 0, "no Bundle written");
    eprintln!("{written} Bundles written to {}", dir.display());
}
