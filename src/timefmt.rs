//! Reading and writing points in time in the formats APIs use. Output is always RFC 3339 UTC
//! with milliseconds.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::config::TimeFormat;

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
        (TimeFormat::EpochSeconds, v) => number(v).and_then(|n| from_epoch(n, 1e9)),
        (TimeFormat::EpochMillis, v) => number(v).and_then(|n| from_epoch(n, 1e6)),
        _ => None,
    }
}

/// Writes a window bound in `format`.
pub fn format_param(time: DateTime<Utc>, format: &TimeFormat) -> String {
    match format {
        TimeFormat::Rfc3339 => rfc3339_millis(time),
        TimeFormat::EpochSeconds => time.timestamp().to_string(),
        TimeFormat::EpochMillis => time.timestamp_millis().to_string(),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
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
    fn garbage_is_none_not_a_panic() {
        assert!(parse_value(&json!("yesterday"), &TimeFormat::Rfc3339).is_none());
        assert!(parse_value(&json!(1e300), &TimeFormat::EpochSeconds).is_none());
        assert!(parse_value(&json!(null), &TimeFormat::EpochMillis).is_none());
    }
}
