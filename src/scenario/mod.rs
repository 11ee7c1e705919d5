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

pub mod builtin;
pub mod dates;
mod error;
pub mod external;
pub mod file;
pub mod generate;
pub mod load;
mod parallel;
pub mod pds_settings;
mod shape;
pub mod supplier;
pub mod validate;
pub mod world;

pub use load::{ScenarioError, load_paths};
pub use world::*;
