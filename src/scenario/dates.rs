//! Scenario dates (README.md, "Scenarios"): ISO `YYYY-MM-DD`, or an offset from the day
//! the sandbox starts so that shipped scenarios never go stale.
//!
//! An offset is a sign written once (`+` or `-`) followed by one or more groups of a number and a
//! unit, with the units in the order `y` (years), `m` (months), `w` (weeks), `d` (days), each at most
//! once: `-3y`, `-6m`, `-3w`, `-10d`, `+14d`, `-1y2m`, `+1y2m3w4d`.
//!
//! Years and months are applied first and clamp to the end of the month (31 March `-1m` is the last
//! day of February), then weeks and days. This is what a clinician means by "a month ago", and it
//! keeps the result the same whatever order the groups are written in.

use chrono::{Datelike, Days, Months, NaiveDate};

/// How a date may be written, quoted in every date error so the user can fix it without a manual.
pub(crate) const ACCEPTED_FORMS: &str =
    "use YYYY-MM-DD or an offset from the start day such as -3y, -6m, -3w, -10d, +14d or -1y2m";

/// Why a scenario date could not be read; displays the value, the reason and the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date '{value}': {reason}; {ACCEPTED_FORMS}")]
pub(crate) struct DateError {
    pub value: String,
    pub reason: String,
}

impl DateError {
    fn new(value: &str, reason: impl Into<String>) -> Self {
        Self {
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Resolves a scenario date against `start_day`.
pub(crate) fn resolve(text: &str, start_day: NaiveDate) -> Result<NaiveDate, DateError> {
    match text.chars().next() {
        Some('+') => relative(text, &text[1..], true, start_day),
        Some('-') => relative(text, &text[1..], false, start_day),
        Some(c) if c.is_ascii_digit() => iso(text),
        Some(_) => Err(DateError::new(text, "not a date")),
        None => Err(DateError::new(text, "empty")),
    }
}

fn iso(text: &str) -> Result<NaiveDate, DateError> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(DateError::new(text, "not in the form YYYY-MM-DD"));
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let year = i32::try_from(number(0..4)).unwrap_or(0);
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
        .ok_or_else(|| DateError::new(text, "no such day in the calendar"))
}

/// The units of an offset, in the only order they may be written.
const UNITS: [char; 4] = ['y', 'm', 'w', 'd'];

fn relative(
    text: &str,
    groups: &str,
    forward: bool,
    start_day: NaiveDate,
) -> Result<NaiveDate, DateError> {
    if groups.is_empty() {
        return Err(DateError::new(text, "nothing after the sign"));
    }
    let mut amounts = [0u32; 4];
    let mut next_unit = 0usize;
    let mut number: Option<u32> = None;
    for c in groups.chars() {
        if let Some(digit) = c.to_digit(10) {
            let grown = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(digit))
                .ok_or_else(|| DateError::new(text, "number too large"))?;
            number = Some(grown);
        } else if let Some(unit) = UNITS.iter().position(|u| *u == c) {
            let Some(amount) = number.take() else {
                return Err(DateError::new(
                    text,
                    format!("unit '{c}' has no number before it"),
                ));
            };
            if unit < next_unit {
                return Err(DateError::new(
                    text,
                    "units must appear at most once each, in the order y, m, w, d",
                ));
            }
            amounts[unit] = amount;
            next_unit = unit + 1;
        } else {
            return Err(DateError::new(
                text,
                format!("'{c}' is not a digit or one of the units y, m, w, d"),
            ));
        }
    }
    if number.is_some() {
        return Err(DateError::new(
            text,
            "the last number has no unit (y, m, w or d)",
        ));
    }
    let [years, months, weeks, days] = amounts;
    let out_of_range = || DateError::new(text, "too far from the start day");
    let months = years
        .checked_mul(12)
        .and_then(|m| m.checked_add(months))
        .ok_or_else(out_of_range)?;
    let days = u64::from(weeks) * 7 + u64::from(days);
    let shifted = if forward {
        start_day
            .checked_add_months(Months::new(months))
            .and_then(|d| d.checked_add_days(Days::new(days)))
    } else {
        start_day
            .checked_sub_months(Months::new(months))
            .and_then(|d| d.checked_sub_days(Days::new(days)))
    };
    // Four-digit years only: anything else cannot be written back as YYYY-MM-DD by the services.
    shifted
        .filter(|d| (0..=9999).contains(&d.year()))
        .ok_or_else(out_of_range)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn start() -> NaiveDate {
        day(2026, 1, 15)
    }

    #[test]
    fn iso_dates_are_read_as_written() {
        assert_eq!(resolve("2024-03-01", start()), Ok(day(2024, 3, 1)));
        assert_eq!(resolve("1985-03-12", start()), Ok(day(1985, 3, 12)));
        assert_eq!(resolve("2024-02-29", start()), Ok(day(2024, 2, 29)));
    }

    #[test]
    fn iso_dates_must_exist_and_have_the_exact_shape() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-3-1",
            "24-03-01",
            "2024/03/01",
            "2024-03-01T10:00",
            "20240301",
            "2024-03-0a",
        ] {
            assert!(resolve(bad, start()).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn single_unit_offsets() {
        assert_eq!(resolve("-3y", start()), Ok(day(2023, 1, 15)));
        assert_eq!(resolve("-6m", start()), Ok(day(2025, 7, 15)));
        assert_eq!(resolve("-3w", start()), Ok(day(2025, 12, 25)));
        assert_eq!(resolve("-10d", start()), Ok(day(2026, 1, 5)));
        assert_eq!(resolve("+14d", start()), Ok(day(2026, 1, 29)));
        assert_eq!(resolve("+2m", start()), Ok(day(2026, 3, 15)));
        assert_eq!(resolve("+0d", start()), Ok(start()));
        assert_eq!(resolve("-0y", start()), Ok(start()));
    }

    #[test]
    fn combined_offsets_apply_months_then_days() {
        assert_eq!(resolve("-1y2m", start()), Ok(day(2024, 11, 15)));
        assert_eq!(resolve("+1y2m3w4d", start()), Ok(day(2027, 4, 9)));
        assert_eq!(resolve("-2w3d", start()), Ok(day(2025, 12, 29)));
        assert_eq!(resolve("-1y10d", start()), Ok(day(2025, 1, 5)));
    }

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(resolve("-1m", day(2025, 3, 31)), Ok(day(2025, 2, 28)));
        assert_eq!(resolve("-1m", day(2024, 3, 31)), Ok(day(2024, 2, 29)));
        assert_eq!(resolve("+1m", day(2026, 1, 31)), Ok(day(2026, 2, 28)));
        assert_eq!(resolve("-1y", day(2024, 2, 29)), Ok(day(2023, 2, 28)));
        assert_eq!(resolve("+1m1d", day(2026, 1, 31)), Ok(day(2026, 3, 1)));
    }

    #[test]
    fn malformed_offsets_are_refused_with_a_reason() {
        let cases = [
            ("-", "nothing after the sign"),
            ("+", "nothing after the sign"),
            ("-3", "the last number has no unit"),
            ("-y", "unit 'y' has no number before it"),
            ("-3x", "'x' is not a digit"),
            ("-2m1y", "in the order y, m, w, d"),
            ("-1y1y", "in the order y, m, w, d"),
            ("-1y-2m", "'-' is not a digit"),
            ("- 3y", "' ' is not a digit"),
            ("-3Y", "'Y' is not a digit"),
            ("-99999999999d", "number too large"),
            ("+9000y", "too far from the start day"),
            ("-4294967295y", "too far from the start day"),
            ("yesterday", "not a date"),
            ("", "empty"),
        ];
        for (text, reason) in cases {
            let err = resolve(text, start()).unwrap_err();
            assert!(
                err.reason.contains(reason),
                "{text}: expected reason containing {reason:?}, got {:?}",
                err.reason
            );
        }
    }

    #[test]
    fn the_error_names_the_value_and_the_accepted_forms() {
        let err = resolve("-3x", start()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid date '-3x': 'x' is not a digit or one of the units y, m, w, d; \
             use YYYY-MM-DD or an offset from the start day such as -3y, -6m, -3w, -10d, +14d or -1y2m"
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,24}") {
            let _ = resolve(&text, start());
        }

        #[test]
        fn never_panics_on_offset_like_text(text in "[+-]?[0-9ymwd]{0,30}") {
            let _ = resolve(&text, start());
        }

        #[test]
        fn iso_round_trips(days in 0i64..3_000_000) {
            let date = day(1000, 1, 1) + chrono::Duration::days(days);
            prop_assume!(date.year() <= 9999);
            let text = date.format("%Y-%m-%d").to_string();
            prop_assert_eq!(resolve(&text, start()), Ok(date));
        }

        #[test]
        fn going_back_and_forth_by_days_returns_to_the_start(d in 0u32..100_000) {
            let back = resolve(&format!("-{d}d"), start()).unwrap();
            prop_assert_eq!(back + chrono::Duration::days(i64::from(d)), start());
        }

        #[test]
        fn past_offsets_are_never_after_the_start(y in 0u32..100, m in 0u32..24, w in 0u32..60, d in 0u32..400) {
            let date = resolve(&format!("-{y}y{m}m{w}w{d}d"), start()).unwrap();
            prop_assert!(date <= start());
        }
    }
}
