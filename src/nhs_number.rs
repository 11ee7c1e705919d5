//! NHS numbers: ten digits with a Modulus 11 check digit (`docs/errors.md`).

use std::fmt;

/// A parsed NHS number; holding one proves the format and the check digit are right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber(String);

/// Why a string is not an NHS number, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("NHS number '{0}' must be exactly 10 digits")]
    Format(String),
    #[error("NHS number '{0}' fails the Modulus 11 check digit")]
    CheckDigit(String),
}

impl NhsNumber {
    pub fn parse(s: &str) -> Result<Self, NhsNumberError> {
        let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        if s.len() != 10 || digits.len() != 10 {
            return Err(NhsNumberError::Format(s.to_owned()));
        }
        match check_digit(&digits[..9]) {
            Some(c) if c == digits[9] => Ok(Self(s.to_owned())),
            _ => Err(NhsNumberError::CheckDigit(s.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check digit for the first nine digits, or `None` when no valid one exists (remainder 1).
pub(crate) fn check_digit(first_nine: &[u32]) -> Option<u32> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_specification_examples() {
        for n in [
            "9690937286",
            "9999999999",
            "9000000009",
            "9000000025",
            "9000000033",
            "9690938681",
            "9476718943",
        ] {
            assert!(NhsNumber::parse(n).is_ok(), "{n} should be valid");
        }
    }

    #[test]
    fn rejects_bad_check_digit_and_format() {
        assert_eq!(
            NhsNumber::parse("9000000000"),
            Err(NhsNumberError::CheckDigit("9000000000".into()))
        );
        for bad in [
            "",
            "969093728",
            "96909372861",
            "969 093 72",
            "96909372a6",
            "９690937286",
        ] {
            assert!(
                matches!(NhsNumber::parse(bad), Err(NhsNumberError::Format(_))),
                "{bad}"
            );
        }
    }

    fn valid_number() -> impl Strategy<Value = String> {
        proptest::collection::vec(0u32..10, 9).prop_filter_map("no check digit", |d| {
            check_digit(&d).map(|c| d.iter().chain([c].iter()).map(|x| x.to_string()).collect())
        })
    }

    proptest! {
        #[test]
        fn generated_numbers_parse(n in valid_number()) {
            prop_assert!(NhsNumber::parse(&n).is_ok());
        }

        #[test]
        fn any_single_digit_change_fails(n in valid_number(), pos in 0usize..10, delta in 1u32..10) {
            let mut d: Vec<u32> = n.chars().filter_map(|c| c.to_digit(10)).collect();
            d[pos] = (d[pos] + delta) % 10;
            let changed: String = d.iter().map(|x| x.to_string()).collect();
            prop_assert!(NhsNumber::parse(&changed).is_err());
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = NhsNumber::parse(&s);
        }
    }
}
