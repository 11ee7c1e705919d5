//! spine-sandbox: a local, faithful stand-in for the NHS Spine services a GP system needs to move
//! a patient's record with GP Connect's `$gpc.migratestructuredrecord`.
//!
//! # Layout
//!
//! - `config`: the `serve` options, layered flag > `SANDBOX_*` env > TOML file > default.
//! - `scenario`: the YAML world (practices, practitioners, patients and their records).
//! - `sandbox`: binds every listener and wires the services; the only place that knows ports.
//! - `http`: the shared HTTP plumbing (body type, limits, accept loop with graceful drain).
//! - `cors`: cross-origin answers for browser apps on the plain-HTTP services.
//! - `pds`, `sds`, `ssp`, `provider`: one module per emulated Spine service.
//! - `pki`, `tls`: the development PKI (CA, SSP and client certificates) and the rustls
//!   configurations built on it with one explicit crypto provider (ring).
//! - `journey`: the built-in consumer (the new practice), used by the CLI and the web page.
//! - `conformance`: grades each consumer's migration journeys from the journal.
//! - `admin`: health, reset, the journal API and the web page.
//! - `fhir`: OperationOutcome errors and Bundle builders shared by every service.
//! - `journal`: the bounded, ordered log of every exchange.
//! - `jwt`: the unsigned GP Connect audit token.
//! - `nhs_number`, `identifiers`: parse-don't-validate domain identifiers.
//! - `clock`: injected time.
//! - `fuzzing` (hidden): the byte-level entry points of the fuzz targets and their corpus test.
//! - `platform`: the API platform's OAuth and rate limits, and faults injected on demand.
//! - `state_dir`: a world's mutable state kept on disk (`--state-dir`) and read back at start.
//! - `world`: many isolated worlds in one sandbox, each under `/worlds/{id}`.

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

mod admin;
mod cli;
mod clock;
mod config;
mod conformance;
mod cors;
mod fhir;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod identifiers;
mod journal;
mod journey;
mod jwt;
mod nhs_number;
mod pds;
mod pki;
mod platform;
mod provider;
mod provider_check;
mod sandbox;
mod scenario;
mod sds;
mod ssp;
mod state_dir;
mod tls;
mod world;

// The public surface: what the binary, the integration tests and the benchmarks use.
pub use cli::{Cli, EXIT_USAGE, run};
pub use clock::Clock;
pub use config::Config;
pub use fhir::gpconnect::{migrate_parameters, profiles};
pub use fhir::{FhirError, OutcomeStyle, systems};
pub use http::{
    Body as ResponseBody, ConnectionLimits, PlainAcceptor, boxed as boxed_response,
    serve as serve_connections,
};
pub use identifiers::{Asid, OdsCode, PartyKey, interactions};
pub use journey::{
    Area, JourneyAuth, JourneyOptions, JourneyOutcome, JourneyReport, Operation, run as run_journey,
};
pub use jwt::{
    DirectCareTokenRequest, MigrateTokenRequest, PractitionerClaim, bearer_token,
    decode as decode_token, encode_unsigned,
};
pub use nhs_number::NhsNumber;
pub use pki::der::{OID_COMMON_NAME, OID_SERIAL_NUMBER, parse_certificate};
pub use pki::provider::ensure_providers;
pub use pki::{
    Authority, CA_CERT, CA_KEY, ClientSystem, Issued, Layout, SSP_CERT, Validity,
    ensure as ensure_pki, read_certificate, ssp_hosts, system_fqdn,
};
pub use platform::{Application, form_encode};
pub use provider::handle as handle_provider_request;
pub use provider::record::{
    BundleRequest, binary_id, bundle as record_bundle, bundle_bytes as record_bundle_bytes,
    documents_base,
};
pub use provider_check::profiles::problems as profile_problems;
pub use provider_check::report::{Report as ProviderCheckReport, Status as CheckStatus};
pub use provider_check::{Options as ProviderCheckOptions, run as run_provider_check};
pub use sandbox::{RunningSandbox, Sandbox};
pub use scenario::ExternalProvider;
pub use scenario::generate::{
    Format as WorldFormat, generate as generate_world, write as write_world,
};
pub use scenario::load::load_str;
pub use scenario::{
    Address, Allergy, AllergyStatus, Code, Consultation, DiaryEntry, Document, Gender, HumanName,
    Immunisation, Investigation, InvestigationResult, ItemMeta, Medication, MedicationType,
    Observation, Patient, Practice, Practitioner, Problem, ProblemStatus, Record, Referral,
    Significance, World, load_paths,
};
pub use tls::{
    anonymous_client_config, client_config, client_config_from_pem, load_certs, load_key,
    provider as crypto_provider, ssp_server_config,
};
pub use world::Source;
