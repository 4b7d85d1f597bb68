//! The simulator's fault modes and timeline: settings it accepts never make it panic, and its
//! faults look as documented.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::json_value;
use crate::simulator::faults::{truncate_body, FaultInjector, FaultKind};
use crate::simulator::{
    event, event_id, event_time, first_index_at_or_after, visible_at, Faults, GenericProfile,
    LateEvents, SimTimeFormat, SimulatorConfig, Vendor,
};

/// Fault settings and a page body to cut.
#[derive(Debug)]
pub struct FaultsInput {
    /// The settings, validated or not.
    pub faults: Faults,
    /// Records of a page that a truncation fault may cut.
    pub records: Vec<Value>,
}

impl<'a> Arbitrary<'a> for FaultsInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Rates are mostly in [0, 1] (what validation accepts), sometimes anything at all.
        let rate = |u: &mut Unstructured<'a>| -> arbitrary::Result<f64> {
            if u.ratio(7, 8)? {
                Ok(f64::from(u.int_in_range(0..=1000u16)?) / 1000.0)
            } else {
                f64::arbitrary(u)
            }
        };
        Ok(FaultsInput {
            faults: Faults {
                rate_429: rate(u)?,
                rate_5xx: rate(u)?,
                rate_truncate: rate(u)?,
                rate_slow: rate(u)?,
                slow: Duration::from_millis(u64::arbitrary(u)?),
                seed: Some(u64::arbitrary(u)?),
            },
            records: (0..u.int_in_range(0..=3)?)
                .map(|_| json_value(u))
                .collect::<arbitrary::Result<_>>()?,
        })
    }
}

/// Validated fault settings draw decisions that honour them (a rate of 0 never fires, of 1
/// always does, only the three documented 5xx statuses, delays of exactly `slow`), and a
/// truncated page is a strict prefix of the body that no JSON reader accepts.
pub fn check_faults(input: &FaultsInput) {
    let faults = &input.faults;
    let body = serde_json::to_vec(&input.records).expect("JSON values serialize");
    for fraction in [0.0, 0.5, 0.999, 1.0, f64::NAN] {
        let cut = truncate_body(body.clone(), fraction);
        assert!(cut.len() < body.len() && !cut.is_empty() && body.starts_with(&cut));
        assert!(
            serde_json::from_slice::<Value>(&cut).is_err(),
            "a cut body still parses: {}",
            String::from_utf8_lossy(&cut)
        );
    }
    if faults.validate().is_err() {
        return;
    }
    let injector = FaultInjector::new(faults.clone());
    for _ in 0..32 {
        let plan = injector.decide();
        assert!(plan.extra_delay.is_zero() || plan.extra_delay == faults.slow);
        if faults.rate_slow == 0.0 {
            assert!(plan.extra_delay.is_zero());
        }
        match plan.kind {
            FaultKind::None => {
                assert!(faults.rate_429 + faults.rate_5xx + faults.rate_truncate < 1.0)
            }
            FaultKind::RateLimit => assert!(faults.rate_429 > 0.0),
            FaultKind::ServerError(status) => {
                assert!(faults.rate_5xx > 0.0 && [500, 502, 503].contains(&status))
            }
            FaultKind::Truncate { fraction } => {
                assert!(faults.rate_truncate > 0.0 && (0.0..1.0).contains(&fraction))
            }
        }
        if faults.rate_429 >= 1.0 {
            assert_eq!(plan.kind, FaultKind::RateLimit);
        }
    }
}

/// What determines when the simulator's events happen.
#[derive(Debug)]
pub struct TimelineInput {
    /// The settings; not every one is meaningful for the timeline.
    pub config: SimulatorConfig,
    /// Event indices to look at (taken modulo the event count).
    pub indices: Vec<u64>,
}

impl<'a> Arbitrary<'a> for TimelineInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let vendor = *u.choose(Vendor::ALL)?;
        let anchor_ms = u.int_in_range(
            DateTime::<Utc>::MIN_UTC.timestamp_millis()
                ..=DateTime::<Utc>::MAX_UTC.timestamp_millis(),
        )?;
        let profile = GenericProfile {
            time_format: *u.choose(SimTimeFormat::ALL)?,
            ..GenericProfile::default()
        };
        let late = LateEvents {
            fraction: f64::from(u.int_in_range(0..=100u8)?) / 100.0,
            max_delay: Duration::from_millis(u.int_in_range(1..=u64::MAX)?),
        };
        let mut config = SimulatorConfig::generic(u64::arbitrary(u)?, profile);
        config.late = late;
        config.vendor = vendor;
        config.seed = u64::arbitrary(u)?;
        config.anchor = DateTime::from_timestamp_millis(anchor_ms).unwrap_or_default();
        config.span = Duration::from_millis(u64::arbitrary(u)?);
        Ok(TimelineInput {
            config,
            indices: Vec::arbitrary(u)?,
        })
    }
}

/// Event times never decrease with the index and stay within `[anchor - span, anchor]`
/// (clamped to the calendar); the first index at or after an event's time is at most its
/// index; events become visible no earlier than they happen; every event renders.
pub fn check_timeline(input: &TimelineInput) {
    let config = &input.config;
    if config.validate().is_err() || config.events == 0 {
        return;
    }
    for &raw in input.indices.iter().take(16) {
        let index = raw % config.events;
        let time = event_time(config, index);
        assert!(
            time <= config.anchor,
            "event {index} at {time} is after the anchor"
        );
        // Times never decrease within one log. Duo deals its events across three logs and
        // its administrator log writes whole seconds, so there the next event of the same
        // log is three indices on.
        let step = if config.vendor == Vendor::Duo { 3 } else { 1 };
        // LastPass writes New York wall-clock times: an event of the hour repeated in November
        // reads an hour early, so there times may step back.
        if index + step < config.events && config.vendor != Vendor::Lastpass {
            let next = event_time(config, index + step);
            assert!(time <= next, "event {index} at {time}, the next at {next}");
        }
        // Times before the calendar's start are clamped to it, so they no longer order.
        if time > DateTime::<Utc>::MIN_UTC {
            let first = first_index_at_or_after(config, time);
            assert!(
                first <= index,
                "first at or after {time} is {first}, past {index}"
            );
        }
        assert!(visible_at(config, index) >= time);
        // A Salesforce event log row's id is its file's id and its row number there, which
        // costs a scan of every event that can share its file: with the unbounded counts and
        // spans drawn here, billions. Its ids are checked against the file-by-file listing in
        // the profile's own tests instead.
        if config.vendor != Vendor::SalesforceEventLog {
            assert!(!event_id(config, index).is_empty());
        }
        let _ = serde_json::to_vec(&event(config, index)).expect("events serialize");
    }
}
