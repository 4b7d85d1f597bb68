//! Deterministic LastPass report events: every field a pure function of `(seed, index)` and
//! the event's time.
//!
//! Fields as the reference's sample shows them: `Time` (US/Eastern wall-clock time, whole
//! seconds), `Username`, `IP_Address`, `Action` and `Data`, with actions from LastPass's list
//! of user activity event types and admin events.

use chrono::NaiveDateTime;
use chrono_tz::America::New_York;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::LAYOUT;
use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// (action, weight, what `Data` holds): LastPass's event types.
const ACTIONS: &[(&str, u32, &str)] = &[
    ("Log in", 25, ""),
    ("Failed Login Attempt", 10, ""),
    ("Open Secure Note", 8, "Secure Note"),
    ("Site Added", 6, "site"),
    ("Edit Site", 6, "site"),
    ("Deleted Sites", 2, "site"),
    ("Add to Shared Folder", 4, "folder"),
    ("Move to Shared Folder", 3, "folder"),
    ("Created Shared Folder", 2, "folder"),
    ("Master Password Changed", 2, ""),
    ("Multifactor Enabled", 2, ""),
    ("Disabled Multifactor Authentication", 1, ""),
    ("Data Export", 1, ""),
    ("Employee Account Created", 2, "user"),
    ("Employee Account Deleted", 1, "user"),
    ("Make Admin", 1, "user"),
    ("Require Password Change", 1, "user"),
];

const USERS: &[&str] = &[
    "j.user@example.com",
    "ada.admin@example.com",
    "grace@example.com",
    "alan@example.com",
];

const SITES: &[&str] = &[
    "salesforce.com",
    "github.com",
    "aws.amazon.com",
    "example.org",
];

/// The wall-clock time in New York of event `index`, in whole seconds: what `Time` shows
/// and what `from` and `to` are compared with.
pub(crate) fn local_time(timeline: &Timeline, index: u64) -> NaiveDateTime {
    let time = true_time(timeline, index);
    if near_limits(time) {
        return time.naive_utc();
    }
    time.with_timezone(&New_York).naive_local()
}

/// Event `index`'s instant, in whole seconds.
fn true_time(timeline: &Timeline, index: u64) -> chrono::DateTime<chrono::Utc> {
    let seconds = timeline.published_ms(index).div_euclid(1000);
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// Within a day of chrono's limits a New York label does not exist (chrono panics writing
/// it). Only the fuzzers draw such timelines; there labels are UTC's and times true.
fn near_limits(time: chrono::DateTime<chrono::Utc>) -> bool {
    let day = chrono::TimeDelta::days(1);
    let utc = time.naive_utc();
    utc.checked_sub_signed(day).is_none() || utc.checked_add_signed(day).is_none()
}

/// The instant event `index`'s `Time` names, read as a client reads it: the earlier of the
/// two in the repeated hour of November (its true time is an hour later for half of them).
pub(crate) fn shown_time(timeline: &Timeline, index: u64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    if near_limits(true_time(timeline, index)) {
        return true_time(timeline, index);
    }
    let label = local_time(timeline, index);
    match New_York.from_local_datetime(&label) {
        chrono::LocalResult::Single(t) => t.with_timezone(&chrono::Utc),
        chrono::LocalResult::Ambiguous(a, b) => a
            .with_timezone(&chrono::Utc)
            .min(b.with_timezone(&chrono::Utc)),
        // A wall-clock time written from an instant always exists.
        chrono::LocalResult::None => {
            chrono::DateTime::from_timestamp(timeline.published_ms(index).div_euclid(1000), 0)
                .unwrap_or_default()
        }
    }
}

/// The event at `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (action, _, kind) = *rng.pick_weighted(ACTIONS, |a| a.1);
    let user = *rng.pick(USERS);
    let data = match kind {
        "site" => (*rng.pick(SITES)).to_string(),
        "folder" => format!("Shared-Team {}", 1 + rng.below(20)),
        "user" => format!("new.hire{}@example.com", 1 + rng.below(500)),
        other => other.to_string(),
    };
    // Unique per event (24 bits of the index), so no two events are identical.
    let ip = format!(
        "10.{}.{}.{}",
        (index >> 16) & 0xff,
        (index >> 8) & 0xff,
        index & 0xff
    );
    json!({
        "Time": local_time(timeline, index).format(LAYOUT).to_string(),
        "Username": user,
        "IP_Address": ip,
        "Action": action,
        "Data": data,
    })
}

/// Event `index` exactly as served.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id a client gives event `index`: its content id (events have none), the first 16
/// bytes of the SHA-256 of its compact JSON with sorted keys, in hex.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let digest = Sha256::digest(event(config, index).to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
