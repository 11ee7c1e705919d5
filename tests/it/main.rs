//! One integration-test binary: every test starts the real sandbox and talks HTTP/TLS to it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod admin;
mod binary;
mod certificates;
mod conformance;
mod conformance_runs;
mod consumer_setup;
mod documents;
mod fuzz_corpus;
mod generated;
mod getstructuredrecord;
mod getstructuredrecord_stu3;
mod getstructuredrecord_switches;
mod journey;
mod journey_retrieve;
mod limits_and_timeouts;
mod migrate;
mod migrate_cache;
mod outside_the_repository;
mod pds;
mod pds_create_coverage;
mod pds_history_reset;
mod pds_records;
mod pki;
mod platform;
mod provider_assurance;
mod provider_suite;
mod requests_doc;
mod safety;
mod scenario_files;
mod sds;
mod shards;
mod ssp;
mod state_dir;
mod world_isolation;
