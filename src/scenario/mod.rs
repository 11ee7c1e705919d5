//! Scenarios: the YAML world the sandbox is seeded from (README.md, "Scenarios").
//!
//! Three layers, with one direction of travel:
//!
//! 1. [`file`] (and `file/`): the format as written, serde types only, with source positions;
//! 2. [`load`] reads and parses files, [`validate`] (and [`shape`]) check them, every problem at
//!    `FILE:LINE:COLUMN`, and resolve them;
//! 3. [`world`] (and `world/`): the resolved, immutable [`World`] every emulated service reads
//!    (re-exported here, so `scenario::Patient` is `scenario::world::Patient`).
//!
//! Relative dates are resolved against the start day by [`dates`].

pub(crate) mod builtin;
pub(crate) mod dates;
mod error;
pub(crate) mod external;
pub(crate) mod file;
pub(crate) mod generate;
pub(crate) mod load;
mod parallel;
pub(crate) mod pds_settings;
mod shape;
pub(crate) mod supplier;
pub(crate) mod validate;
pub(crate) mod world;

pub(crate) use load::ScenarioError;
pub use load::load_paths;
pub use world::*;
