//! Deterministic Zoom report records: every field is a pure function of `(seed, index)`.
//!
//! Operation logs hold `time`, `operator` (an admin's email), `category_type`, `action` and
//! `operation_detail`; sign-in / sign-out activities hold `email`, `time`, `type`,
//! `ip_address`, `client_type` and `version`, the fields of the reference and of grove's
//! recorded pages. Neither has an id, so Sluice keys records on their content: every record
//! here names something unique to its index (an object number, or an address and a version),
//! so no two are equal.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Stream;
use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

const ADMINS: &[&str] = &[
    "ada@example.com",
    "grace@example.com",
    "alan@example.com",
    "radia@example.com",
];

const USERS: &[&str] = &[
    "ken@example.com",
    "barbara@example.com",
    "linus@example.com",
    "katherine@example.com",
    "margaret@example.com",
];

/// Category, action and a detail template (`{n}` is a number unique to the record).
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("User", "Add", "Add User user{n}@example.com"),
    ("User", "Update", "Deactivate User user{n}@example.com"),
    ("User", "Delete", "Delete User user{n}@example.com"),
    (
        "User Settings",
        "Update",
        "Update user{n}@example.com settings: Cloud recording On",
    ),
    (
        "Account",
        "Update",
        "Account Settings - In Meeting (Basic) - Chat change #{n}",
    ),
    ("Role", "Update", "Assign role Admin to user{n}@example.com"),
    ("Recording", "Delete", "Delete recording of meeting {n}"),
    ("Billing", "Update", "Update billing contact, change #{n}"),
    ("Zoom Rooms", "Add", "Add room Boardroom-{n}"),
];

const CLIENTS: &[&str] = &["Browser", "Mac", "Windows", "iOS", "Android", "Linux"];

/// The record of event `index` (which report it belongs to is [`Stream::of`]).
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let seconds = timeline.published_ms(index).div_euclid(1000);
    let time = chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    // A number unique to the record, so equal records cannot occur.
    let n = 100_000 + index;
    match Stream::of(index) {
        Stream::OperationLogs => {
            let (category, action, detail) = *rng.pick(OPERATIONS);
            json!({
                "time": time,
                "operator": rng.pick(ADMINS),
                "category_type": category,
                "action": action,
                "operation_detail": detail.replace("{n}", &n.to_string()),
            })
        }
        Stream::Activities => json!({
            "email": rng.pick(USERS),
            "time": time,
            "type": if rng.percent(80) { "Sign in" } else { "Sign out" },
            "ip_address": format!("198.51.{}.{}", (n >> 8) & 0xff, n & 0xff),
            "client_type": rng.pick(CLIENTS),
            "version": format!("6.{}.{}.{}", rng.below(3), rng.below(20), n),
        }),
    }
}

/// Record `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id Sluice gives record `index`: its content id (the records have none), the first 16
/// bytes of the SHA-256 of its compact JSON, in hex.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let digest = Sha256::digest(event(config, index).to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
