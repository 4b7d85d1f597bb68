//! Reading and writing points in time in the formats APIs use. Output is always RFC 3339 UTC
//! with milliseconds.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

pub use super::zoned::{Bound, Layout};

/// A way of writing a point in time, in a record or in a request parameter. Written as a
/// string (`"epoch_millis"`) or, for a custom layout, `{ strftime = "%Y-%m-%d %H:%M:%S" }`,
/// with `time_zone = "America/New_York"` when the API writes local times without an offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// RFC 3339, e.g. `2026-11-23T10:00:00.123Z`.
    #[default]
    Rfc3339,
    /// Seconds since the Unix epoch (integer, float or numeric string).
    EpochSeconds,
    /// Milliseconds since the Unix epoch.
    EpochMillis,
    /// Microseconds since the Unix epoch.
    EpochMicros,
    /// Nanoseconds since the Unix epoch (some vulnerability-management APIs).
    EpochNanos,
    /// A chrono strftime layout; without an offset (`%z`) the time is taken as UTC, or as a
    /// local time of the layout's time zone (see [`super::zoned`] for daylight saving).
    Strftime(Layout),
}

/// The names a format is written as in a config file.
const NAMES: &str = "\"rfc3339\", \"epoch_seconds\", \"epoch_millis\", \"epoch_micros\", \"epoch_nanos\" or { strftime = \"...\", time_zone = \"...\" }";

impl<'de> Deserialize<'de> for TimeFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FormatVisitor)
    }
}

struct FormatVisitor;

impl<'de> Visitor<'de> for FormatVisitor {
    type Value = TimeFormat;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a time format: {NAMES}")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<TimeFormat, E> {
        Ok(match name {
            "rfc3339" => TimeFormat::Rfc3339,
            "epoch_seconds" => TimeFormat::EpochSeconds,
            "epoch_millis" => TimeFormat::EpochMillis,
            "epoch_micros" => TimeFormat::EpochMicros,
            "epoch_nanos" => TimeFormat::EpochNanos,
            other => {
                return Err(E::custom(format!(
                    "unknown time format `{other}`, expected {NAMES}"
                )))
            }
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TimeFormat, A::Error> {
        let (mut pattern, mut zone) = (None::<String>, None::<String>);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "strftime" => pattern = Some(map.next_value()?),
                "time_zone" => zone = Some(map.next_value()?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in a time format, expected `strftime` and optionally `time_zone`"
                    )))
                }
            }
        }
        let pattern = pattern.ok_or_else(|| {
            de::Error::custom(
                "a time format table needs `strftime`, e.g. { strftime = \"%Y-%m-%d %H:%M:%S\" }",
            )
        })?;
        let time_zone = zone
            .map(|name| super::zoned::parse_zone(&name))
            .transpose()
            .map_err(de::Error::custom)?;
        Ok(TimeFormat::Strftime(Layout { pattern, time_zone }))
    }
}

/// `2026-11-23T10:00:00.123Z`: the one way Sluice writes times.
pub fn rfc3339_millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a time from a JSON value written in `format`; `None` when it does not parse.
pub fn parse_value(value: &Value, format: &TimeFormat) -> Option<DateTime<Utc>> {
    match (format, value) {
        (TimeFormat::Rfc3339, Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        (TimeFormat::EpochSeconds, v) => epoch(v, 1_000_000_000),
        (TimeFormat::EpochMillis, v) => epoch(v, 1_000_000),
        (TimeFormat::EpochMicros, v) => epoch(v, 1_000),
        (TimeFormat::EpochNanos, Value::Number(n)) if n.is_i64() => {
            n.as_i64().map(|n| Utc.timestamp_nanos(n))
        }
        (TimeFormat::EpochNanos, Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
            s.trim().parse::<i64>().ok().map(|n| Utc.timestamp_nanos(n))
        }
        (TimeFormat::EpochNanos, v) => number(v).and_then(|n| from_epoch(n, 1.0)),
        (TimeFormat::Strftime(layout), Value::String(s)) => layout.parse(s),
        _ => None,
    }
}

/// Writes a window bound in `format`.
pub fn format_param(time: DateTime<Utc>, format: &TimeFormat) -> String {
    match format {
        TimeFormat::Rfc3339 => rfc3339_millis(time),
        TimeFormat::EpochSeconds => time.timestamp().to_string(),
        TimeFormat::EpochMillis => time.timestamp_millis().to_string(),
        TimeFormat::EpochMicros => time.timestamp_micros().to_string(),
        // Out of i64 nanoseconds only after the year 2262.
        TimeFormat::EpochNanos => time.timestamp_nanos_opt().unwrap_or(i64::MAX).to_string(),
        TimeFormat::Strftime(layout) => layout.format(time),
    }
}

/// Writes a window bound in `format`: as [`format_param`], except that a local time in a
/// repeated hour (daylight saving ending) moves out of it, away from the window, so the API
/// answers everything the window keeps (see [`super::zoned`]).
pub fn format_bound(time: DateTime<Utc>, format: &TimeFormat, bound: Bound) -> String {
    match format {
        TimeFormat::Strftime(layout) => layout.format_bound(time, bound),
        other => format_param(time, other),
    }
}

/// The smallest step `format` can write in a request: a day for a strftime layout that writes
/// no time of day (`%Y-%m-%d`: an API that takes dates), a second for epoch seconds and for
/// layouts without fractions, a millisecond otherwise.
pub fn precision(format: &TimeFormat) -> chrono::Duration {
    match format {
        TimeFormat::EpochSeconds => chrono::Duration::seconds(1),
        TimeFormat::Strftime(layout) if writes_dates_only(layout) => chrono::Duration::days(1),
        TimeFormat::Strftime(layout) if !layout.contains('f') => chrono::Duration::seconds(1),
        _ => chrono::Duration::milliseconds(1),
    }
}

/// Why `format` cannot work, for the checks that only a whole format allows: a time zone on
/// a layout of dates only (windows are cut at UTC midnights, which are no local midnights, so
/// local dates would not tile the windows).
pub fn zone_problem(format: &TimeFormat) -> Option<String> {
    match format {
        TimeFormat::Strftime(layout) if layout.time_zone.is_some() && writes_dates_only(layout) => {
            Some(format!(
                "`{}` writes dates only and cannot take a time_zone",
                layout.pattern
            ))
        }
        _ => None,
    }
}

/// Whether a strftime layout writes no hour, minute or second (nor an epoch count).
fn writes_dates_only(layout: &str) -> bool {
    let mut chars = layout.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // Skip padding and width modifiers (`%-H`, `%_M`, `%3f`) to reach the specifier.
        let spec = chars
            .by_ref()
            .find(|c| !matches!(c, '-' | '_' | '0'..='9' | '.' | ':' | '#'));
        if matches!(
            spec,
            Some('H' | 'k' | 'I' | 'l' | 'M' | 'S' | 'T' | 'R' | 'r' | 'X' | 'c' | 's' | 'f' | '+')
        ) {
            return false;
        }
    }
    true
}

/// `time` cut down to what `format` can write in a request (see [`precision`]); whole days
/// are UTC days.
pub fn truncate(time: DateTime<Utc>, format: &TimeFormat) -> DateTime<Utc> {
    let step = precision(format).num_milliseconds();
    let millis = time.timestamp_millis();
    DateTime::from_timestamp_millis(millis - millis.rem_euclid(step)).unwrap_or(time)
}

/// How a window's end is written when the API includes its end bound (`window.end_inclusive`):
/// the last value before `end` that `format` can write, so that an API taking dates is asked
/// for `to = <the day before>` for a window that ends at midnight.
pub fn inclusive_end(end: DateTime<Utc>, format: &TimeFormat) -> DateTime<Utc> {
    end - precision(format)
}

/// A strftime layout chrono cannot format a time with; it holds the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid strftime layout")]
pub struct LayoutError(pub String);

/// Checks a strftime layout can format a time, so a bad layout fails at load, not mid-run.
pub fn check_strftime(layout: &str) -> Result<(), LayoutError> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(
        out,
        "{}",
        Utc.timestamp_opt(0, 0)
            .single()
            .unwrap_or_default()
            .format(layout)
    )
    .map_err(|_| LayoutError(layout.to_string()))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `value` units since the epoch, where one unit is `nanos_per_unit` nanoseconds. Integers (JSON
/// integers, or strings of digits) convert exactly: through `f64`, today's times in epoch
/// milliseconds lose their last millisecond about a third of the time.
fn epoch(value: &Value, nanos_per_unit: i64) -> Option<DateTime<Utc>> {
    let integer = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match integer {
        Some(n) => {
            let nanos = i128::from(n) * i128::from(nanos_per_unit);
            let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
            // In 0..1e9 by rem_euclid, so it fits.
            let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
            DateTime::from_timestamp(secs, subsec)
        }
        // Fractions (`1700000000.5` seconds) keep the float path.
        None => number(value).and_then(|n| from_epoch(n, nanos_per_unit as f64)),
    }
}

/// `n` units since the epoch, where one unit is `nanos_per_unit` nanoseconds.
fn from_epoch(n: f64, nanos_per_unit: f64) -> Option<DateTime<Utc>> {
    let nanos = n * nanos_per_unit;
    if !nanos.is_finite() || nanos.abs() > i64::MAX as f64 {
        return None;
    }
    Some(Utc.timestamp_nanos(nanos.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_offsets_become_utc_millis() {
        let t = parse_value(&json!("2026-11-23T12:00:00.5+02:00"), &TimeFormat::Rfc3339).unwrap();
        assert_eq!(rfc3339_millis(t), "2026-11-23T10:00:00.500Z");
    }

    #[test]
    fn epoch_formats_accept_numbers_and_strings() {
        let s = parse_value(&json!(1_700_000_000), &TimeFormat::EpochSeconds).unwrap();
        let ms = parse_value(&json!("1700000000000"), &TimeFormat::EpochMillis).unwrap();
        assert_eq!(s, ms);
        assert_eq!(format_param(s, &TimeFormat::EpochMillis), "1700000000000");
    }

    #[test]
    fn micros_nanos_and_strftime_round_trip() {
        let t = parse_value(
            &json!("2026-11-23T10:00:00.123456789Z"),
            &TimeFormat::Rfc3339,
        )
        .unwrap();
        for format in [TimeFormat::EpochMicros, TimeFormat::EpochNanos] {
            let written = format_param(t, &format);
            let back = parse_value(&json!(written.parse::<i64>().unwrap()), &format).unwrap();
            assert_eq!(back.timestamp_micros(), t.timestamp_micros(), "{format:?}");
        }
        let nanos = parse_value(&json!("1763892000123456789"), &TimeFormat::EpochNanos).unwrap();
        assert_eq!(nanos.timestamp_subsec_nanos(), 123_456_789);
        let layout = TimeFormat::Strftime("%Y-%m-%d %H:%M:%S".into());
        assert_eq!(format_param(t, &layout), "2026-11-23 10:00:00");
        let parsed = parse_value(&json!("2026-11-23 10:00:00"), &layout).unwrap();
        assert_eq!(rfc3339_millis(parsed), "2026-11-23T10:00:00.000Z");
        let with_offset = TimeFormat::Strftime("%d/%m/%Y %H:%M %z".into());
        let parsed = parse_value(&json!("23/11/2026 12:00 +0200"), &with_offset).unwrap();
        assert_eq!(rfc3339_millis(parsed), "2026-11-23T10:00:00.000Z");
        assert!(check_strftime("%Y-%Q").is_err());
        assert!(check_strftime("%Y-%m-%d").is_ok());
    }

    #[test]
    fn epoch_integers_convert_exactly() {
        // Through f64 these came out one unit early (…356.999936 ms is cut to …356 ms).
        let ms = parse_value(&json!(1_796_598_240_357_i64), &TimeFormat::EpochMillis).unwrap();
        assert_eq!(ms.timestamp_millis(), 1_796_598_240_357);
        assert_eq!(rfc3339_millis(ms), "2026-12-06T23:04:00.357Z");
        let text = parse_value(&json!("1796598240357"), &TimeFormat::EpochMillis).unwrap();
        assert_eq!(text, ms);
        let us = parse_value(&json!(1_796_598_240_357_123_i64), &TimeFormat::EpochMicros).unwrap();
        assert_eq!(us.timestamp_micros(), 1_796_598_240_357_123);
        let s = parse_value(&json!(-1), &TimeFormat::EpochSeconds).unwrap();
        assert_eq!(s.timestamp(), -1);
        let half = parse_value(&json!(1_700_000_000.5), &TimeFormat::EpochSeconds).unwrap();
        assert_eq!(half.timestamp_millis(), 1_700_000_000_500);
    }

    #[test]
    fn date_layouts_cut_to_whole_days_and_end_the_day_before() {
        let date = TimeFormat::Strftime("%Y-%m-%d".into());
        let t = Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 5).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        assert_eq!(truncate(t, &date), midnight);
        assert_eq!(
            format_param(inclusive_end(midnight, &date), &date),
            "2026-12-06"
        );
        // A layout with a time of day keeps whole seconds.
        let seconds = TimeFormat::Strftime("%Y-%m-%dT%H:%M:%SZ".into());
        assert_eq!(precision(&seconds), chrono::Duration::seconds(1));
        assert_eq!(
            precision(&TimeFormat::Strftime("%d/%m/%Y %-H".into())),
            chrono::Duration::seconds(1)
        );
        assert_eq!(
            precision(&TimeFormat::Rfc3339),
            chrono::Duration::milliseconds(1)
        );
        assert_eq!(
            inclusive_end(midnight, &TimeFormat::EpochSeconds),
            midnight - chrono::Duration::seconds(1)
        );
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert!(parse_value(&json!("yesterday"), &TimeFormat::Rfc3339).is_none());
        assert!(parse_value(&json!(1e300), &TimeFormat::EpochSeconds).is_none());
        assert!(parse_value(&json!(null), &TimeFormat::EpochMillis).is_none());
    }
}
