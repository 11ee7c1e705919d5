//! Reproducible randomness for the generator and the NHS numbers of its patients.

use crate::nhs_number;

/// splitmix64: tiny, fast, and good enough to pick names and codes reproducibly.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `percent` in 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Callers pass non-empty constant tables.
        &items[self.below(items.len() as u64) as usize % items.len().max(1)]
    }
}

/// The `index`-th valid NHS number of the generated range (test numbers starting 96, so they
/// stay clear of the shipped scenarios' 969093... and 943476... patients).
pub(crate) fn nhs_number(index: u64) -> String {
    // Two stems per patient: when the first has no check digit (remainder 10), the second,
    // whose weighted sum differs by 2 (or by a carry), has one.
    let first = 961_000_000 + index * 2;
    for stem in [first, first + 1] {
        let digits: Vec<u32> = stem
            .to_string()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        if let Some(check) = nhs_number::check_digit(&digits) {
            return format!("{stem}{check}");
        }
    }
    // Unreachable for the stems above; a distinct valid test number all the same.
    format!("{first}0")
}
