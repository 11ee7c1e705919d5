//! spine-sandbox: a local, faithful stand-in for the NHS Spine services a GP system needs to move
//! a patient's record with GP Connect's `$gpc.migratestructuredrecord`.
//!
//! # Layout
//!
//! - [`config`]: the `serve` options, layered flag > `SANDBOX_*` env > TOML file > default.
//! - [`scenario`]: the YAML world (practices, practitioners, patients and their records).
//! - [`sandbox`]: binds every listener and wires the services; the only place that knows ports.
//! - [`http`]: the shared HTTP plumbing (body type, limits, accept loop with graceful drain).
//! - [`cors`]: cross-origin answers for browser apps on the plain-HTTP services.
//! - [`pds`], [`sds`], [`ssp`], [`provider`]: one module per emulated Spine service.
//! - [`pki`], [`tls`]: the development PKI (CA, SSP and client certificates) and the rustls
//!   configurations built on it with one explicit crypto provider (ring).
//! - [`journey`]: the built-in consumer (the new practice), used by the CLI and the web page.
//! - [`conformance`]: grades each consumer's migration journeys from the journal.
//! - [`admin`]: health, reset, the journal API and the web page.
//! - [`fhir`]: OperationOutcome errors and Bundle builders shared by every service.
//! - [`journal`]: the bounded, ordered log of every exchange.
//! - [`jwt`]: the unsigned GP Connect audit token.
//! - [`nhs_number`], [`identifiers`]: parse-don't-validate domain identifiers.
//! - [`clock`]: injected time.
//! - `fuzzing` (hidden): the byte-level entry points of the fuzz targets and their corpus test.
//! - [`platform`]: the API platform's OAuth and rate limits, and faults injected on demand.
//! - [`state_dir`]: a world's mutable state kept on disk (`--state-dir`) and read back at start.
//! - [`world`]: many isolated worlds in one sandbox, each under `/worlds/{id}`.

// Standard output belongs to the command line (`--json` answers are piped into other tools):
// the library reports through `tracing` or its return values, never by printing.
#![deny(clippy::print_stdout)]

/// mimalloc, not the system allocator, for every binary built on this crate (the sandbox, its
/// tests and benchmarks alike). A world is millions of small allocations made and freed at
/// start and reset, and a migrate answer many more per request: measured on a 10,000-patient
/// world, start-up took 1.5-2.2 s and 379 MB with glibc's allocator, 0.5 s and 235 MB with
/// mimalloc; 100,000 patients 20 s and 2.25 GB, against 7.6 s and 1.8 GB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conformance;
pub mod cors;
pub mod fhir;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod identifiers;
pub mod journal;
pub mod journey;
pub mod jwt;
pub mod nhs_number;
pub mod pds;
pub mod pki;
pub mod platform;
pub mod provider;
pub mod provider_check;
pub mod sandbox;
pub mod scenario;
pub mod sds;
pub mod ssp;
pub mod state_dir;
pub mod tls;
pub mod world;

pub use clock::Clock;
pub use config::Config;
pub use sandbox::{RunningSandbox, Sandbox};
