//! Deterministic HCP Terraform audit trail events: every field is a pure function of
//! `(seed, index)` and the event's time.
//!
//! Events follow the reference's response schema: `id` (UUID), `version`, `type`
//! (`Resource`), `timestamp` (UTC with milliseconds), `auth` {`accessor_id`, `description`,
//! `type`, `impersonator_id`, `organization_id`}, `request` {`id`} and `resource` {`id`,
//! `type`, `action`, `meta`}.

use serde_json::{json, Value};

use super::ORGANIZATION_ID;
use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

/// (resource type, its id prefix, action, weight).
const CHANGES: &[(&str, &str, &str, u32)] = &[
    ("run", "run-", "create", 25),
    ("run", "run-", "apply", 15),
    ("workspace", "ws-", "update", 12),
    ("workspace", "ws-", "create", 4),
    ("workspace", "ws-", "destroy", 2),
    ("var", "var-", "update", 10),
    ("var", "var-", "create", 6),
    ("authentication_token", "at-", "create", 6),
    ("authentication_token", "at-", "destroy", 3),
    ("team", "team-", "update", 4),
    ("organization_membership", "ou-", "create", 3),
    ("policy_set", "polset-", "update", 3),
];

/// (username, user id) of the organization's people.
const PEOPLE: &[(&str, &str)] = &[
    ("ada", "user-AdaL0velace1234"),
    ("grace", "user-GraceH0pper123"),
    ("alan", "user-AlanTur1ng1234"),
];

/// The audit event at `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (kind, prefix, action, _) = *rng.pick_weighted(CHANGES, |c| c.3);
    let (name, user) = *rng.pick(PEOPLE);
    // Runs started by VCS webhooks are the system's; a few actions are support staff's.
    let (auth_type, accessor, description, impersonator) = match rng.below(20) {
        0..=2 if kind == "run" => ("System", "system".to_string(), "system", Value::Null),
        3 => (
            "Impersonated",
            user.to_string(),
            name,
            json!("user-SupportStaff0001"),
        ),
        _ => ("Client", user.to_string(), name, Value::Null),
    };
    json!({
        "id": unique_uuid(seed, index).to_string(),
        "version": "0",
        "type": "Resource",
        "timestamp": format_millis(timeline.published_ms(index)),
        "auth": {
            "accessor_id": accessor,
            "description": description,
            "type": auth_type,
            "impersonator_id": impersonator,
            "organization_id": ORGANIZATION_ID,
        },
        "request": {
            "id": uuid::Uuid::from_u64_pair(
                hash3(seed, domain::SESSION, index),
                hash3(seed, domain::OBJECT, index),
            )
            .to_string(),
        },
        "resource": {
            "id": format!("{prefix}{}", rng.string(ALNUM, 16)),
            "type": kind,
            "action": action,
            "meta": Value::Null,
        },
    })
}

/// Event `index` exactly as served.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `id` of event `index`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    unique_uuid(config.seed, index).to_string()
}
