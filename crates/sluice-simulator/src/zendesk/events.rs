//! Deterministic Zendesk audit log records: every field is a pure function of `(seed, index)`.
//!
//! The shape is the reference's audit log object: `id` (an integer, unique: a base plus the
//! index), `action` (`create`, `destroy`, `exported`, `login`, `update`) and `action_label`,
//! `actor_id` and `actor_name`, `change_description`, `created_at` (ISO 8601, whole seconds,
//! `Z`), `ip_address`, `source_id`, `source_label`, `source_type` and `url`.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The first record's id.
pub const FIRST_ID: u64 = 21_000_000_000;

/// Actors: id and name (the system actor, `-1` "Zendesk", included).
const ACTORS: &[(i64, &str)] = &[
    (1_234_501, "Ada Lovelace"),
    (1_234_502, "Grace Hopper"),
    (1_234_503, "Alan Turing"),
    (-1, "Zendesk"),
];

/// Source type, action, and a description template (`{n}` is unique to the record).
const CHANGES: &[(&str, &str, &str)] = &[
    (
        "user",
        "login",
        "Successful sign-in using Zendesk password from agent@acme.example",
    ),
    (
        "user",
        "update",
        "Role changed from End User to Agent (user {n})",
    ),
    ("user", "create", "Created user{n}@acme.example"),
    (
        "account_setting",
        "update",
        "Agent ticket deletion: turned off (change {n})",
    ),
    ("rule", "update", "Trigger {n}: conditions changed"),
    ("rule", "destroy", "Automation {n} deleted"),
    ("api_token", "create", "API token {n} created"),
    ("user", "exported", "Users export {n}"),
];

fn label(action: &str) -> &'static str {
    match action {
        "create" => "Created",
        "destroy" => "Deleted",
        "exported" => "Exported",
        "login" => "Signed in",
        _ => "Updated",
    }
}

/// The record of timeline index `index`, for the account at `base`
/// (`https://<subdomain>.zendesk.com`).
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64, base: &str) -> Value {
    let seconds = timeline.published_ms(index).div_euclid(1000);
    let created_at = chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (actor_id, actor_name) = *rng.pick(ACTORS);
    let (source_type, action, description) = *rng.pick(CHANGES);
    let n = 100_000 + index;
    let id = FIRST_ID + index;
    json!({
        "id": id,
        "url": format!("{base}/api/v2/audit_logs/{id}.json"),
        "action": action,
        "action_label": label(action),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "change_description": description.replace("{n}", &n.to_string()),
        "created_at": created_at,
        "ip_address": format!("198.51.100.{}", rng.below(254) + 1),
        "source_id": 360_000_000 + rng.below(1_000_000),
        "source_label": format!("{source_type} {n}"),
        "source_type": source_type,
    })
}

/// Record `index` as a JSON value (see [`crate::event`]), for an account at
/// `https://acme.zendesk.com`.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(
        config.seed,
        &crate::timeline_of(config),
        index,
        "https://acme.zendesk.com",
    )
}

/// The id of record `index`, as Sluice stores it.
pub(crate) fn event_id(_config: &SimulatorConfig, index: u64) -> String {
    (FIRST_ID + index).to_string()
}
