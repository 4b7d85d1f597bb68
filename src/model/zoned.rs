//! strftime layouts, optionally in a named time zone, and how local times are read and written
//! across daylight-saving changes.
//!
//! Some APIs write times as local wall-clock text without an offset (LastPass: "US/Eastern").
//! A wall clock that changes with daylight saving does not name every instant once:
//!
//! * **the repeated hour** (autumn, "fall back"): labels from 01:00 to 01:59:59 in New York
//!   name two instants each, one in daylight time and one an hour later in standard time;
//! * **the skipped hour** (spring): labels from 02:00 to 02:59:59 name no instant at all.
//!
//! Sluice's rules, so that a window never loses an event of the repeated hour:
//!
//! * **Reading** a local time: one instant when the label names one; the *earlier* of the two
//!   in the repeated hour; in the skipped hour, the label read with the offset in force
//!   before the change (02:30 on the spring day is 07:30 UTC, i.e. 03:30 daylight time), as
//!   most libraries and PHP do.
//! * **Writing** a window's start whose label falls in the repeated hour: the label one hour
//!   (the size of the change) before its earlier instant, which lies before the repeated hour;
//!   a window's **end** there: the label one hour after its later instant, which lies after it.
//!   Whatever instant the API takes a repeated label for, the range it answers then holds
//!   every event whose time, read by the rule above, lies in the window. The extra events it
//!   answers are outside the window and left for the windows that cover them.
//!
//! Why this is enough: an event is delivered by the window holding the time it is *read*
//! as. That time is its label's earlier instant, at most one hour before its true instant, so
//! the window's request must reach one hour further where the window touches the repeated
//! hour, which the widened bounds do; elsewhere labels and instants agree.

use std::fmt;
use std::ops::Deref;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A strftime layout and, when the API writes local times, the time zone they are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The chrono strftime layout, e.g. `%Y-%m-%d %H:%M:%S`.
    pub pattern: String,
    /// The IANA time zone of times written without an offset (`America/New_York`); `None`
    /// means UTC.
    pub time_zone: Option<Tz>,
}

impl Layout {
    /// A layout in UTC.
    pub fn utc(pattern: impl Into<String>) -> Self {
        Layout {
            pattern: pattern.into(),
            time_zone: None,
        }
    }

    /// A layout whose times without an offset are local times of `zone`.
    pub fn in_zone(pattern: impl Into<String>, zone: Tz) -> Self {
        Layout {
            pattern: pattern.into(),
            time_zone: Some(zone),
        }
    }

    /// Reads `text`: an offset in it (`%z`) is honoured; else the time is local to the zone
    /// (the rules at the top of this module), or UTC without one.
    pub fn parse(&self, text: &str) -> Option<DateTime<Utc>> {
        if let Ok(time) = DateTime::parse_from_str(text, &self.pattern) {
            return Some(time.with_timezone(&Utc));
        }
        let naive = NaiveDateTime::parse_from_str(text, &self.pattern).ok()?;
        match self.time_zone {
            None => Some(naive.and_utc()),
            Some(zone) => local_to_utc(naive, zone),
        }
    }

    /// Writes `time` in the layout, in the zone's local time (UTC without one).
    pub fn format(&self, time: DateTime<Utc>) -> String {
        match self.time_zone {
            None => time.format(&self.pattern).to_string(),
            Some(zone) => match in_zone(time, zone) {
                Some(local) => local.format(&self.pattern).to_string(),
                // Within a day of chrono's limits no local label exists; UTC's does.
                None => time.format(&self.pattern).to_string(),
            },
        }
    }

    /// Writes a window bound: as [`Layout::format`], except that a bound whose local label is
    /// ambiguous (the repeated hour) is moved out of the repeated hour, away from the window
    /// (see the module's rules), so the API's answer covers the window whichever instant it
    /// takes the label for.
    pub fn format_bound(&self, time: DateTime<Utc>, bound: Bound) -> String {
        let Some(zone) = self.time_zone else {
            return self.format(time);
        };
        let Some(local) = in_zone(time, zone) else {
            return self.format(time);
        };
        let label = local.naive_local();
        let moved = match zone.from_local_datetime(&label) {
            LocalResult::Ambiguous(one, other) => {
                let (one, other) = (one.with_timezone(&Utc), other.with_timezone(&Utc));
                let (earlier, later) = (one.min(other), one.max(other));
                let shift = later - earlier;
                // Repeated hours lie in ordinary years, far from chrono's limits.
                match bound {
                    Bound::Start => earlier.checked_sub_signed(shift).unwrap_or(earlier),
                    Bound::End => later.checked_add_signed(shift).unwrap_or(later),
                }
            }
            _ => time,
        };
        self.format(moved)
    }
}

/// `time` in `zone`, unless it lies within a day of what chrono can represent, where its local
/// wall-clock time would not exist (chrono panics writing it). Hostile event times reach there.
fn in_zone(time: DateTime<Utc>, zone: Tz) -> Option<DateTime<Tz>> {
    let day = chrono::TimeDelta::days(1);
    let naive = time.naive_utc();
    naive.checked_sub_signed(day)?;
    naive.checked_add_signed(day)?;
    Some(time.with_timezone(&zone))
}

/// Which end of a window a time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The window's first instant (inclusive).
    Start,
    /// The window's end (exclusive, or the last instant when the API includes its end).
    End,
}

/// The instant a local wall-clock time of `zone` names, by the module's rules: the earlier
/// one in a repeated hour, the offset before the change in a skipped one. `None` only at the
/// edges of what chrono can represent.
pub fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(time) => Some(time.with_timezone(&Utc)),
        LocalResult::Ambiguous(one, other) => {
            Some(one.with_timezone(&Utc).min(other.with_timezone(&Utc)))
        }
        LocalResult::None => {
            // A label in a skipped hour: read it with the offset in force a day earlier
            // (zones do not change twice in a day), which moves it forward by the gap.
            let before = naive.checked_sub_signed(chrono::TimeDelta::days(1))?;
            let offset = zone.offset_from_utc_datetime(&before);
            let fixed = chrono::Offset::fix(&offset);
            let shift = chrono::TimeDelta::seconds(i64::from(fixed.local_minus_utc()));
            Some(naive.checked_sub_signed(shift)?.and_utc())
        }
    }
}

/// A name that is not an IANA time zone; it holds the name, and says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IANA time zone name (hint: write it like \"America/New_York\", \"Europe/Berlin\" or \"UTC\"; \"US/Eastern\" is an alias of \"America/New_York\")")]
pub struct ZoneError(pub String);

/// Parses an IANA time zone name, saying what to write when it is not one.
pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    name.parse::<Tz>().map_err(|_| ZoneError(name.to_string()))
}

impl Deref for Layout {
    type Target = str;

    fn deref(&self) -> &str {
        &self.pattern
    }
}

impl From<&str> for Layout {
    fn from(pattern: &str) -> Self {
        Layout::utc(pattern)
    }
}

impl From<String> for Layout {
    fn from(pattern: String) -> Self {
        Layout::utc(pattern)
    }
}

/// The layout as written, and its zone when it has one: `%Y-%m-%d %H:%M:%S` in
/// `America/New_York`.
impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.time_zone {
            None => f.write_str(&self.pattern),
            Some(zone) => write!(f, "{}` in `{}", self.pattern, zone.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn eastern() -> Layout {
        Layout::in_zone("%Y-%m-%d %H:%M:%S", New_York)
    }

    #[test]
    fn times_at_chronos_limits_are_written_without_a_panic() {
        // An event can claim any time; one at the edge of the calendar has no New York label.
        for time in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            assert_eq!(
                eastern().format(time),
                time.format("%Y-%m-%d %H:%M:%S").to_string()
            );
            for bound in [Bound::Start, Bound::End] {
                assert!(!eastern().format_bound(time, bound).is_empty());
            }
        }
    }

    #[test]
    fn local_times_follow_daylight_saving() {
        let layout = eastern();
        // Winter: UTC-5; summer: UTC-4.
        assert_eq!(
            layout.parse("2026-01-15 09:00:00"),
            Some(utc("2026-01-15T14:00:00Z"))
        );
        assert_eq!(
            layout.parse("2026-07-15 09:00:00"),
            Some(utc("2026-07-15T13:00:00Z"))
        );
        assert_eq!(
            layout.format(utc("2026-07-15T13:00:00Z")),
            "2026-07-15 09:00:00"
        );
        assert_eq!(
            layout.format(utc("2026-01-15T14:00:00Z")),
            "2026-01-15 09:00:00"
        );
        // An offset in the text wins over the zone.
        let with_offset = Layout::in_zone("%Y-%m-%d %H:%M:%S %z", New_York);
        assert_eq!(
            with_offset.parse("2026-07-15 09:00:00 +0000"),
            Some(utc("2026-07-15T09:00:00Z"))
        );
    }

    /// 2026-11-01: New York falls back from 02:00 EDT to 01:00 EST; 01:00–01:59:59 twice.
    #[test]
    fn the_repeated_hour_reads_as_its_earlier_instant() {
        let layout = eastern();
        assert_eq!(
            layout.parse("2026-11-01 01:30:00"),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        // Both instants write the same label.
        assert_eq!(
            layout.format(utc("2026-11-01T05:30:00Z")),
            "2026-11-01 01:30:00"
        );
        assert_eq!(
            layout.format(utc("2026-11-01T06:30:00Z")),
            "2026-11-01 01:30:00"
        );
    }

    /// 2026-03-08: New York springs forward from 02:00 EST to 03:00 EDT.
    #[test]
    fn the_skipped_hour_reads_with_the_offset_before_the_change() {
        let layout = eastern();
        assert_eq!(
            layout.parse("2026-03-08 02:30:00"),
            Some(utc("2026-03-08T07:30:00Z"))
        );
        assert_eq!(
            layout.parse("2026-03-08 01:59:59"),
            Some(utc("2026-03-08T06:59:59Z"))
        );
        assert_eq!(
            layout.parse("2026-03-08 03:00:00"),
            Some(utc("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn bounds_in_the_repeated_hour_move_out_of_it_away_from_the_window() {
        let layout = eastern();
        for instant in ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"] {
            assert_eq!(
                layout.format_bound(utc(instant), Bound::Start),
                "2026-11-01 00:30:00",
                "{instant}"
            );
            assert_eq!(
                layout.format_bound(utc(instant), Bound::End),
                "2026-11-01 02:30:00",
                "{instant}"
            );
        }
        // Outside the repeated hour a bound is its plain label.
        for (instant, label) in [
            ("2026-11-01T04:59:59Z", "2026-11-01 00:59:59"),
            ("2026-11-01T07:00:00Z", "2026-11-01 02:00:00"),
            ("2026-03-08T07:00:00Z", "2026-03-08 03:00:00"),
        ] {
            for bound in [Bound::Start, Bound::End] {
                assert_eq!(layout.format_bound(utc(instant), bound), label);
            }
        }
        // Without a zone nothing moves.
        let plain = Layout::utc("%H:%M");
        assert_eq!(
            plain.format_bound(utc("2026-11-01T05:30:00Z"), Bound::Start),
            "05:30"
        );
    }

    /// Every instant of the night of the change, read back from its label, lies in a window
    /// whose request (with moved bounds) covers the instant itself: nothing of the repeated
    /// hour is lost whichever instant the API takes a label for.
    #[test]
    fn every_window_over_the_change_asks_for_all_it_keeps() {
        let layout = eastern();
        let night = Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 0).unwrap();
        let step = chrono::TimeDelta::minutes(10);
        // Windows of 20 minutes tiling 03:00Z–09:00Z.
        let windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = (0..18)
            .map(|i| (night + step * (2 * i), night + step * (2 * i + 2)))
            .collect();
        // The instants an API could take a label for.
        let readings = |label: &str| -> Vec<DateTime<Utc>> {
            let naive = NaiveDateTime::parse_from_str(label, "%Y-%m-%d %H:%M:%S").unwrap();
            match New_York.from_local_datetime(&naive) {
                LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
                LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
                LocalResult::None => vec![],
            }
        };
        for minute in 0..360 {
            let event = night + chrono::TimeDelta::minutes(minute);
            let read = layout.parse(&layout.format(event)).unwrap();
            let (start, end) = windows
                .iter()
                .copied()
                .find(|(s, e)| *s <= read && read < *e)
                .unwrap();
            for from in readings(&layout.format_bound(start, Bound::Start)) {
                for to in readings(&layout.format_bound(end, Bound::End)) {
                    assert!(
                        from <= event && event < to,
                        "{event} read as {read}: window {start}..{end} asks {from}..{to}"
                    );
                }
            }
        }
    }

    #[test]
    fn zone_names_are_checked() {
        assert_eq!(parse_zone("US/Eastern").unwrap().name(), "US/Eastern");
        let err = parse_zone("America/NewYork").unwrap_err().to_string();
        assert!(
            err.contains("America/NewYork") && err.contains("IANA"),
            "{err}"
        );
    }
}
