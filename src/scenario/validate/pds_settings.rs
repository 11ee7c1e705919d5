//! Checks `pds:` (one file at most may declare it) and resolves the allocation range.

use serde_saphyr::Spanned;

use super::Source;
use crate::nhs_number::NhsNumber;
use crate::scenario::error::ScenarioError;
use crate::scenario::world::pds_settings::PdsSettings;

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
