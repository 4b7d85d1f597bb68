//! Time arithmetic that stops at the ends of the calendar instead of panicking.
//!
//! chrono's `+` and `-` panic past the years ±262143. Durations come from the config
//! (`lookback = "300000y"` loads) and times from stored checkpoints, so neither may be trusted
//! to stay inside; a window that starts at the calendar's beginning is odd, but it is the
//! user's to see, not a crash.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// `time + duration`, or the calendar's last instant.
pub fn plus(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| time.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `time - duration`, or the calendar's first instant.
pub fn minus(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| time.checked_sub_signed(delta))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_ends_of_the_calendar() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let day = Duration::from_secs(86_400);
        assert_eq!(plus(now, day).timestamp(), 86_400);
        assert_eq!(minus(now, day).timestamp(), -86_400);
        assert_eq!(plus(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(minus(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            plus(DateTime::<Utc>::MAX_UTC, day),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            minus(DateTime::<Utc>::MIN_UTC, day),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
