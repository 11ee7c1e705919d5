//! Identifiers and codes: FHIR ids, SNOMED CT concept ids and the coded fields of records.

use serde_saphyr::Spanned;

use super::Checker;
use super::record::RecordChecker;
use crate::scenario::Code;
use crate::scenario::file::CodeEntry;

impl Checker {
    /// Ids that become FHIR resource ids must follow FHIR's `id` rule.
    pub(super) fn resource_id(
        &mut self,
        f: usize,
        id: &Spanned<String>,
        what: &str,
    ) -> Option<String> {
        let ok = (1..=64).contains(&id.value.len())
            && id
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if ok {
            Some(id.value.clone())
        } else {
            self.report_at(
                f,
                id,
                format!(
                    "{what} '{}' must be 1 to 64 letters, digits, '-' or '.' (it becomes a FHIR id)",
                    id.value
                ),
            );
            None
        }
    }
}

impl RecordChecker<'_> {
    pub(super) fn choice<T: Copy>(
        &mut self,
        value: Option<&Spanned<String>>,
        what: &str,
        options: &[(&str, T)],
        default: T,
    ) -> Option<T> {
        let Some(value) = value else {
            return Some(default);
        };
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == value.value) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        self.fail_at(
            value,
            format!(
                "{what} '{}' must be one of {}",
                value.value,
                names.join(", ")
            ),
        );
        None
    }

    pub(super) fn code(&mut self, code: &Spanned<CodeEntry>) -> Option<Code> {
        let c = &code.value;
        let snomed = match &c.snomed {
            Some(s) => match snomed_concept_problem(&s.value) {
                None => Some(s.value.clone()),
                Some(problem) => {
                    self.fail_at(s, format!("SNOMED CT code '{}' {problem}", s.value));
                    None
                }
            },
            None => {
                self.fail_at(code, "code has no snomed".to_owned());
                None
            }
        };
        let display = match &c.display {
            Some(d) => self.text(d, "code display"),
            None => {
                self.fail_at(code, "code has no display".to_owned());
                None
            }
        };
        let (read_code, description_id) =
            super::supplier::code_detail(c, &mut |at, m| self.fail(at, m));
        if let (Some(r), Some(written), Some(supplier)) = (&read_code, &c.read_code, self.supplier)
            && let Err(m) = super::supplier::read_code_for(r, supplier)
        {
            self.fail_at(written, m);
        }
        Some(Code {
            read_code,
            description_id,
            snomed: snomed?,
            display: display?,
        })
    }

    /// An optional code: `Some(None)` when absent, `None` when written but refused.
    pub(super) fn optional_code(
        &mut self,
        code: Option<&Spanned<CodeEntry>>,
    ) -> Option<Option<Code>> {
        match code {
            Some(c) => self.code(c).map(Some),
            None => Some(None),
        }
    }
}

/// Why `id` is not a SNOMED CT concept id, or `None` when it is one: 6 to 18 digits without a
/// leading zero, partition `00` (core) or `10` (extension) before the last digit, and a valid
/// Verhoeff check digit. This catches most typos in hand-written codes.
pub(super) fn snomed_concept_problem(id: &str) -> Option<&'static str> {
    if !(6..=18).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Some("must be 6 to 18 digits");
    }
    if id.starts_with('0') {
        return Some("must not start with 0");
    }
    let partition = &id[id.len() - 3..id.len() - 1];
    if partition != "00" && partition != "10" {
        return Some(
            "is not a concept id (its partition, the 2 digits before the last, is not 00 or 10)",
        );
    }
    if !verhoeff_valid(id) {
        return Some("fails the Verhoeff check digit");
    }
    None
}

fn verhoeff_valid(digits: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut check = 0usize;
    for (i, b) in digits.bytes().rev().enumerate() {
        let digit = usize::from(b.wrapping_sub(b'0') % 10);
        check = usize::from(D[check][usize::from(P[i % 8][digit])]);
    }
    check == 0
}
