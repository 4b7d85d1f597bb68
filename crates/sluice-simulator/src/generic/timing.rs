//! When each event of the generic profile happened, how its time is written, and when it
//! becomes visible to clients.
//!
//! Times are handled as `i128` nanoseconds since the Unix epoch, so every supported format
//! (seconds through nanoseconds) compares exactly and no arithmetic can overflow.
//!
//! * The millisecond of event `i` comes from the shared [`Timeline`] (groups of events
//!   share a millisecond, often across page boundaries).
//! * The *served* time is that millisecond at the precision of the profile's time format:
//!   floored to whole seconds for `EpochSeconds`; for `EpochMicros` and `EpochNanos` a
//!   sub-millisecond amount is taken off that depends only on the millisecond, so events
//!   that share a millisecond still share their exact time, the order by index stays the
//!   order by time, and no event is later than the anchor.
//! * `visible_at = served time + delay`, where the delay is zero except for a
//!   deterministic `late.fraction` of the events, whose delay is uniform in
//!   `(0, late.max_delay]`.

use chrono::{DateTime, SecondsFormat, Utc};

use super::SimTimeFormat;
use crate::rng::{domain, hash3};
use crate::timeline::Timeline;

const NANOS_PER_MILLI: i128 = 1_000_000;
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The generic profile's view of the timeline.
#[derive(Clone, Debug)]
pub(crate) struct GenericTimeline {
    timeline: Timeline,
    seed: u64,
    format: SimTimeFormat,
}

impl GenericTimeline {
    /// `timeline` carries the late events (see [`Timeline::with_late`]).
    pub(crate) fn new(timeline: Timeline, seed: u64, format: SimTimeFormat) -> Self {
        Self {
            timeline,
            seed,
            format,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.timeline.len()
    }

    /// Served time of event `index` in nanoseconds (non-decreasing in `index`).
    pub(crate) fn time_ns(&self, index: u64) -> i128 {
        let ms = self.timeline.published_ms(index);
        let base = i128::from(ms) * NANOS_PER_MILLI;
        match self.format {
            SimTimeFormat::Rfc3339 | SimTimeFormat::EpochMillis => base,
            SimTimeFormat::EpochSeconds => base.div_euclid(NANOS_PER_SEC) * NANOS_PER_SEC,
            SimTimeFormat::EpochMicros => base - i128::from(self.sub_milli_ns(ms) / 1000 * 1000),
            SimTimeFormat::EpochNanos => base - i128::from(self.sub_milli_ns(ms)),
        }
    }

    /// A sub-millisecond offset that depends only on the millisecond.
    fn sub_milli_ns(&self, ms: i64) -> u64 {
        hash3(self.seed, domain::SUB_MILLI, ms as u64) % 1_000_000
    }

    /// Whether any event can be late at all.
    pub(crate) fn has_late_events(&self) -> bool {
        self.timeline.lateness().any()
    }

    /// How long after its time event `index` becomes visible, in nanoseconds.
    pub(crate) fn delay_ns(&self, index: u64) -> u64 {
        self.timeline.lateness().delay_ns(index)
    }

    pub(crate) fn visible_at_ns(&self, index: u64) -> i128 {
        self.time_ns(index) + i128::from(self.delay_ns(index))
    }

    pub(crate) fn is_visible(&self, index: u64, now_ns: i128) -> bool {
        self.visible_at_ns(index) <= now_ns
    }

    /// The smallest index whose served time is `>= t_ns` (`len()` if none).
    pub(crate) fn first_at_or_after(&self, t_ns: i128) -> u64 {
        let (mut lo, mut hi) = (0u64, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time_ns(mid) < t_ns {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Event `index`'s time as the API writes it.
    pub(crate) fn time_value(&self, index: u64) -> TimeValue {
        let ns = self.time_ns(index);
        match self.format {
            SimTimeFormat::Rfc3339 => {
                TimeValue::Text(to_datetime(ns).to_rfc3339_opts(SecondsFormat::Millis, true))
            }
            SimTimeFormat::EpochSeconds => TimeValue::Int(saturate(ns / NANOS_PER_SEC)),
            SimTimeFormat::EpochMillis => TimeValue::Int(saturate(ns / NANOS_PER_MILLI)),
            SimTimeFormat::EpochMicros => TimeValue::Int(saturate(ns / 1000)),
            SimTimeFormat::EpochNanos => TimeValue::Int(saturate(ns)),
        }
    }
}

/// A time in an event: an RFC 3339 string or an epoch integer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum TimeValue {
    Text(String),
    Int(i64),
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Nanoseconds since the epoch as a `DateTime`, clamped to chrono's range.
pub(crate) fn to_datetime(ns: i128) -> DateTime<Utc> {
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let nanos = ns.rem_euclid(NANOS_PER_SEC) as u32;
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, nanos))
        .unwrap_or(if ns < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// `t` in nanoseconds since the epoch.
pub(crate) fn to_nanos(t: &DateTime<Utc>) -> i128 {
    i128::from(t.timestamp()) * NANOS_PER_SEC + i128::from(t.timestamp_subsec_nanos())
}

/// Parses a request's `start`/`end` written as text in `format`.
pub(crate) fn parse_time_text(format: SimTimeFormat, raw: &str) -> Option<i128> {
    let raw = raw.trim();
    match format {
        SimTimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| to_nanos(&t.with_timezone(&Utc))),
        _ => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: i64 = raw.parse().ok()?;
            Some(epoch_to_nanos(format, n))
        }
    }
}

/// Parses `start`/`end` from a JSON body: a string for RFC 3339, an integer (or a string
/// holding one) for the epoch formats.
pub(crate) fn parse_time_json(format: SimTimeFormat, value: &serde_json::Value) -> Option<i128> {
    match (format, value) {
        (_, serde_json::Value::String(s)) => parse_time_text(format, s),
        (SimTimeFormat::Rfc3339, _) => None,
        (_, serde_json::Value::Number(n)) => n.as_i64().map(|n| epoch_to_nanos(format, n)),
        _ => None,
    }
}

fn epoch_to_nanos(format: SimTimeFormat, n: i64) -> i128 {
    let n = i128::from(n);
    match format {
        SimTimeFormat::EpochSeconds => n * NANOS_PER_SEC,
        SimTimeFormat::EpochMillis | SimTimeFormat::Rfc3339 => n * NANOS_PER_MILLI,
        SimTimeFormat::EpochMicros => n * 1000,
        SimTimeFormat::EpochNanos => n,
    }
}

/// What a request must look like in `format`, for error messages.
pub(crate) fn format_hint(format: SimTimeFormat) -> &'static str {
    match format {
        SimTimeFormat::Rfc3339 => "an RFC 3339 timestamp such as 2026-01-01T00:00:00.000Z",
        SimTimeFormat::EpochSeconds => "an integer number of seconds since the Unix epoch",
        SimTimeFormat::EpochMillis => "an integer number of milliseconds since the Unix epoch",
        SimTimeFormat::EpochMicros => "an integer number of microseconds since the Unix epoch",
        SimTimeFormat::EpochNanos => "an integer number of nanoseconds since the Unix epoch",
    }
}
