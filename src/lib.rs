//! spine-sandbox: a local, faithful stand-in for the NHS Spine services a GP system needs to move
//! a patient's record with GP Connect's `$gpc.migratestructuredrecord`.
//!
//! # Layout
//!
//! - [`config`]: the `serve` options, layered flag > `SANDBOX_*` env > TOML file > default.
//! - [`scenario`]: the YAML world (practices, practitioners, patients and their records).
//! - [`sandbox`]: binds every listener and wires the services; the only place that knows ports.
//! - [`http`]: the shared HTTP plumbing (body type, limits, accept loop).
//! - [`fhir`]: OperationOutcome errors and Bundle builders shared by every service.
//! - [`journal`]: the bounded, ordered log of every exchange.
//! - [`nhs_number`], [`identifiers`]: parse-don't-validate domain identifiers.

pub mod config;
pub mod fhir;
pub mod identifiers;
pub mod journal;
pub mod nhs_number;
pub mod scenario;
