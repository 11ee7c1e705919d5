//! Injected time, so JWT `iat`/`exp` rules can be tested at a chosen instant, and a sandbox's
//! time can be moved on (`POST /_admin/clock`): a test makes a PDS trace 25 hours old without
//! waiting a day.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

#[derive(Clone)]
pub struct Clock {
    source: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    /// Milliseconds added to the source: moved by the admin API, shared by every copy.
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    fn with_source(source: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>) -> Self {
        Self {
            source,
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn system() -> Self {
        Self::with_source(Arc::new(Utc::now))
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::with_source(Arc::new(move || at))
    }

    /// A clock reading `now` (tests move time on, e.g. past a token's expiry).
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self::with_source(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        // Most clocks are never moved: adding a zero offset would still redo the calendar
        // arithmetic on every request.
        match self.offset_ms.load(Ordering::Relaxed) {
            0 => (self.source)(),
            offset => (self.source)() + Duration::milliseconds(offset),
        }
    }

    /// How far this clock is ahead of (or, negative, behind) its source.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock on by `by` (back when negative); every copy of it moves.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }

    /// Sets the clock to read `at` now (and to run on from there).
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = at - (self.source)();
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
    }

    /// Back to the source's time.
    pub fn restore(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// Reads a duration such as `25h`, `-90m`, `2d`, `30s` or `1d2h` (the admin clock's `advance`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() {
        return Err(format!(
            "'{text}' is not a duration (write e.g. 25h, 90m, 2d, 30s or 1d2h)"
        ));
    }
    let mut total = Duration::zero();
    let mut number = String::new();
    for ch in digits.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| {
            format!("'{text}' is not a duration: a unit needs a number before it (e.g. 25h)")
        })?;
        number.clear();
        let part = match ch {
            'd' => Duration::try_days(n),
            'h' => Duration::try_hours(n),
            'm' => Duration::try_minutes(n),
            's' => Duration::try_seconds(n),
            other => {
                return Err(format!(
                    "'{text}' is not a duration: unknown unit '{other}' (use d, h, m or s)"
                ));
            }
        }
        .ok_or_else(|| format!("'{text}' is too long a duration"))?;
        total = total
            .checked_add(&part)
            .ok_or_else(|| format!("'{text}' is too long a duration"))?;
    }
    if !number.is_empty() {
        return Err(format!(
            "'{text}' is not a duration: '{number}' has no unit (d, h, m or s)"
        ));
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_moves_together() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let clock = Clock::fixed(at);
        let copy = clock.clone();
        clock.advance(Duration::hours(25));
        assert_eq!(copy.now(), at + Duration::hours(25));
        copy.set(at - Duration::days(1));
        assert_eq!(clock.now(), at - Duration::days(1));
        clock.restore();
        assert_eq!(copy.now(), at);
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("25h"), Ok(Duration::hours(25)));
        assert_eq!(
            parse_duration("1d2h"),
            Ok(Duration::days(1) + Duration::hours(2))
        );
        assert_eq!(parse_duration("-90m"), Ok(Duration::minutes(-90)));
        assert!(parse_duration("25").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("5y")
                .unwrap_err()
                .contains("unknown unit 'y'")
        );
        assert!(parse_duration("").is_err());
    }
}
