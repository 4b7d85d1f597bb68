//! The `created:` qualifier of GitHub's audit-log search phrase, as a millisecond range.
//!
//! GitHub's search syntax: `created:D` (that date or instant), `created:>D`, `>=D`, `<D`,
//! `<=D`, and inclusive ranges `created:A..B` with `*` for an open end. `D` is a date
//! (`YYYY-MM-DD`) or an instant (`YYYY-MM-DDTHH:MM:SS` with `Z` or an offset `±HH:MM`; UTC
//! without one). A value covers its own precision: a date is its whole day, an instant its
//! whole second.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// The events a phrase asks for: times in `[from_ms, to_ms)`, open where `None`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Range {
    pub(super) from_ms: Option<i64>,
    pub(super) to_ms: Option<i64>,
}

impl Range {
    fn narrow(&mut self, other: Range) {
        self.from_ms = self.from_ms.max(other.from_ms);
        self.to_ms = match (self.to_ms, other.to_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Parses a whole phrase; only `created:` qualifiers are understood.
pub(super) fn parse(phrase: &str) -> Result<Range, String> {
    let mut range = Range::default();
    for term in phrase.split_whitespace() {
        let Some(value) = term.strip_prefix("created:") else {
            return Err(format!(
                "the simulator understands only the created: qualifier, not {term:?}"
            ));
        };
        range.narrow(created(value)?);
    }
    Ok(range)
}

fn created(value: &str) -> Result<Range, String> {
    if let Some((a, b)) = value.split_once("..") {
        let from_ms = match a {
            "*" => None,
            a => Some(span(a)?.0),
        };
        let to_ms = match b {
            "*" => None,
            b => Some(span(b)?.1),
        };
        return Ok(Range { from_ms, to_ms });
    }
    let (op, rest) = [">=", "<=", ">", "<"]
        .iter()
        .find_map(|op| value.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("", value));
    let (start, end) = span(rest)?;
    Ok(match op {
        ">=" => Range {
            from_ms: Some(start),
            to_ms: None,
        },
        ">" => Range {
            from_ms: Some(end),
            to_ms: None,
        },
        "<=" => Range {
            from_ms: None,
            to_ms: Some(end),
        },
        "<" => Range {
            from_ms: None,
            to_ms: Some(start),
        },
        _ => Range {
            from_ms: Some(start),
            to_ms: Some(end),
        },
    })
}

/// The milliseconds `[start, end)` a date or instant covers.
fn span(text: &str) -> Result<(i64, i64), String> {
    let invalid = || {
        format!("created: wants YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS with Z or ±HH:MM, got {text:?}")
    };
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = date.and_time(chrono::NaiveTime::MIN).and_utc();
        return Ok((
            start.timestamp_millis(),
            (start + TimeDelta::days(1)).timestamp_millis(),
        ));
    }
    let instant = if let Some(naive) = text.strip_suffix('Z') {
        NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    } else {
        DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%:z")
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| {
                NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                    .ok()
                    .map(|t| t.and_utc())
            })
    };
    let start = instant.ok_or_else(invalid)?;
    Ok((
        start.timestamp_millis(),
        (start + TimeDelta::seconds(1)).timestamp_millis(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_range_covers_both_ends_at_their_precision() {
        let range = parse("created:2026-01-01T10:00:00+00:00..2026-01-01T11:00:00Z").unwrap();
        assert_eq!(range.from_ms, Some(ms("2026-01-01T10:00:00Z")));
        assert_eq!(range.to_ms, Some(ms("2026-01-01T11:00:01Z")));
        let days = parse("created:2026-01-01..2026-01-02").unwrap();
        assert_eq!(days.to_ms, Some(ms("2026-01-03T00:00:00Z")));
        let open = parse("created:2026-01-01T10:00:00+02:00..*").unwrap();
        assert_eq!(open.from_ms, Some(ms("2026-01-01T08:00:00Z")));
        assert_eq!(open.to_ms, None);
    }

    #[test]
    fn comparisons_and_several_qualifiers_narrow_the_range() {
        let range = parse("created:>=2026-01-01 created:<2026-01-05T00:00:00Z").unwrap();
        assert_eq!(range.from_ms, Some(ms("2026-01-01T00:00:00Z")));
        assert_eq!(range.to_ms, Some(ms("2026-01-05T00:00:00Z")));
        let after = parse("created:>2026-01-01").unwrap();
        assert_eq!(after.from_ms, Some(ms("2026-01-02T00:00:00Z")));
        let through = parse("created:<=2026-01-01T00:00:00Z").unwrap();
        assert_eq!(through.to_ms, Some(ms("2026-01-01T00:00:01Z")));
    }

    #[test]
    fn other_qualifiers_and_bad_times_are_refused() {
        assert!(parse("action:repo.create").is_err());
        assert!(parse("created:yesterday").is_err());
        // A `+` the client forgot to encode arrives as a space.
        assert!(parse("created:2026-01-01T10:00:00 00:00..*").is_err());
        assert_eq!(parse("").unwrap(), Range::default());
    }
}
