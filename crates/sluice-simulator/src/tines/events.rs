//! Deterministic Tines audit logs: every field is a pure function of `(seed, index)` and the
//! log's time.
//!
//! Logs follow the reference's field description: `created_at` and `updated_at` (ISO 8601,
//! whole seconds), `operation_name`, `id` (integer), `inputs`, `outputs`, `request_ip`,
//! `request_user_agent`, `tenant_id`, `user_email`, `user_id`, `user_name`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::TENANT_ID;
use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The first log's `id`.
const FIRST_ID: u64 = 1_480_000;

/// (operation name, weight): operations the reference lists.
const OPERATIONS: &[(&str, u32)] = &[
    ("Login", 20),
    ("ActionRun", 15),
    ("StoryItemsMovement", 10),
    ("ActionInputUpdate", 10),
    ("CredentialSave", 8),
    ("CredentialDestruction", 3),
    ("AuthenticationTokenCreation", 4),
    ("AuthenticationTokenDeletion", 2),
    ("FolderCreation", 4),
    ("ActionLogsClearance", 3),
    ("StoryItemsCreation", 10),
];

/// (email, name, user id) of the tenant's people.
const PEOPLE: &[(&str, &str, u64)] = &[
    ("ada@example.org", "Ada Lovelace", 7_642),
    ("grace@example.org", "Grace Hopper", 7_643),
    ("alan@example.org", "Alan Turing", 7_644),
];

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "python-requests/2.31.0",
];

/// The whole second a log's time falls in, as Tines writes `created_at`.
pub(crate) fn served_ms(timeline: &Timeline, index: u64) -> i64 {
    timeline.published_ms(index).div_euclid(1000) * 1000
}

fn seconds(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The audit log at `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (operation, _) = *rng.pick_weighted(OPERATIONS, |o| o.1);
    let (email, name, user_id) = *rng.pick(PEOPLE);
    let item = 3_000 + rng.below(500);
    let inputs = match operation {
        "Login" => Value::Null,
        "CredentialSave" => json!({ "inputs": {
            "name": format!("credential {item}"),
            "mode": "TEXT",
            "value": "REDACTED",
            "readAccess": "TEAM",
            "teamId": 12_723,
        } }),
        "AuthenticationTokenCreation" => json!({ "inputs": {
            "name": format!("key {item}"),
            "isServiceToken": rng.percent(50),
        } }),
        _ => json!({ "storyId": item, "inputs": { "actionIds": [item * 10, item * 10 + 1] } }),
    };
    let time = seconds(served_ms(timeline, index));
    json!({
        "created_at": time,
        "operation_name": operation,
        "id": FIRST_ID + index,
        "inputs": inputs,
        "outputs": Value::Null,
        "request_ip": format!("198.51.100.{}", 1 + rng.below(254)),
        "request_user_agent": *rng.pick(AGENTS),
        "tenant_id": TENANT_ID,
        "updated_at": time,
        "user_email": email,
        "user_id": user_id,
        "user_name": name,
    })
}

/// Log `index` exactly as served.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `id` of log `index`, as text.
pub(crate) fn event_id(_config: &SimulatorConfig, index: u64) -> String {
    (FIRST_ID + index).to_string()
}
