//! Scenarios: the YAML world the sandbox is seeded from (README.md, "Scenarios").
//!
//! Three layers, with one direction of travel (each imports only the layers below it):
//!
//! 1. [`file`] (and `file/`): the format as written, serde types only, with source positions
//!    (`file::external`, `file::platform`, `file::pds_settings`, ...);
//! 2. checking: [`load`] reads and parses files and hands them, in order, to
//!    [`validate::build_world`], the one pass that checks them (with [`shape`] for unknown fields
//!    and wrong types), every problem at `FILE:LINE:COLUMN`, and resolves them; the checks of
//!    single fields live beside it (`validate::supplier` for the GP system's codes and details,
//!    `validate::external` for external provider URLs);
//! 3. [`world`] (and `world/`): the resolved, immutable [`World`] every emulated service reads
//!    (re-exported here, so `scenario::Patient` is `scenario::world::Patient`; likewise
//!    `scenario::ExternalProvider`), with `world::pds_settings` for `pds:`.
//!
//! Beside the layers: relative dates are resolved against the start day by [`dates`];
//! [`generate`] writes large worlds; [`builtin`] is the shipped default scenario; `parallel`
//! runs work on every core.

pub(crate) mod builtin;
pub(crate) mod dates;
mod error;
pub(crate) mod file;
pub(crate) mod generate;
pub(crate) mod load;
mod parallel;
mod shape;
pub(crate) mod validate;
pub(crate) mod world;

pub(crate) use load::ScenarioError;
pub use load::load_paths;
pub use world::*;
