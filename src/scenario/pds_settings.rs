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

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::load::ScenarioError;
use super::validate::Source;
use crate::nhs_number::NhsNumber;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdsEntry {
    pub nhs_number_allocation: Option<Spanned<AllocationEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationEntry {
    pub first: Option<Spanned<String>>,
    pub last: Option<Spanned<String>>,
}

/// Without a declared range: the 999 range NHS England keeps for test data.
pub const DEFAULT_ALLOCATION: (u64, u64) = (9_990_000_000, 9_999_999_999);

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

/// The settings of every file (one file at most may declare them), with their problems.
pub(crate) fn build(sources: &[Source]) -> (PdsSettings, Vec<ScenarioError>) {
    let mut out = PdsSettings::default();
    let mut problems = Vec::new();
    let mut declared_in: Option<String> = None;
    for source in sources {
        let Some(range) = source
            .file
            .pds
            .as_ref()
            .and_then(|p| p.nhs_number_allocation.as_ref())
        else {
            continue;
        };
        let mut report = |loc: serde_saphyr::Location, message: String| {
            problems.push(ScenarioError {
                file: source.name.clone(),
                line: loc.line().max(1),
                column: loc.column().max(1),
                message,
            });
        };
        if let Some(first) = &declared_in {
            report(
                range.referenced,
                format!("pds: nhs_number_allocation is already declared in {first}"),
            );
            continue;
        }
        declared_in = Some(source.name.clone());
        let mut bound = |b: &Option<Spanned<String>>, which: &str| -> Option<u64> {
            let Some(b) = b else {
                report(
                    range.referenced,
                    format!("pds: nhs_number_allocation needs '{which}' (a 10-digit NHS number)"),
                );
                return None;
            };
            let digits = b.value.len() == 10 && b.value.chars().all(|c| c.is_ascii_digit());
            match b.value.parse::<u64>() {
                Ok(n) if digits => Some(n),
                _ => {
                    report(
                        b.referenced,
                        format!(
                            "pds: nhs_number_allocation {which} '{}' must be 10 digits (quote it)",
                            b.value
                        ),
                    );
                    None
                }
            }
        };
        let first = bound(&range.value.first, "first");
        let last = bound(&range.value.last, "last");
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let any_valid = (first..=last)
            .take(20)
            .any(|n| NhsNumber::parse(&format!("{n:010}")).is_ok());
        if first > last {
            report(
                range.referenced,
                format!("pds: nhs_number_allocation first {first:010} is after last {last:010}"),
            );
        } else if !any_valid {
            report(
                range.referenced,
                format!(
                    "pds: nhs_number_allocation {first:010}..{last:010} holds no NHS number with a valid check digit"
                ),
            );
        } else {
            out.nhs_number_allocation = (first, last);
        }
    }
    (out, problems)
}
