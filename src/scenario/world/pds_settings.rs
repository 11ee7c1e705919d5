//! Scenario settings of PDS as a whole (`pds:` at the top of a scenario file): the range new
//! NHS numbers are allocated from when a consumer creates a patient (`POST /Patient`).
//!
//! ```yaml
//! pds:
//!   nhs_number_allocation: { first: "5182663366", last: "5182663999" }
//! ```
//!
//! Numbers are taken in order from `first`, skipping those that fail the Modulus 11 check and
//! those PDS already holds; a reset gives back every number allocated since.

/// Without a declared range: the 999 range NHS England keeps for test data.
pub(crate) const DEFAULT_ALLOCATION: (u64, u64) = (9_990_000_000, 9_999_999_999);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdsSettings {
    /// First and last NHS number (as numbers) that patient creation may allocate.
    pub nhs_number_allocation: (u64, u64),
}

impl Default for PdsSettings {
    fn default() -> Self {
        Self {
            nhs_number_allocation: DEFAULT_ALLOCATION,
        }
    }
}
