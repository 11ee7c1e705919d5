//! `pds:` as written (see the world's `pds_settings` for what it means).

use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PdsEntry {
    pub nhs_number_allocation: Option<Spanned<AllocationEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllocationEntry {
    pub first: Option<Spanned<String>>,
    pub last: Option<Spanned<String>>,
}
