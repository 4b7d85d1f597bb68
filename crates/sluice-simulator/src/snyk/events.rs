//! Deterministic Snyk audit logs: every field is a pure function of `(seed, index)`.
//!
//! The shape follows the reference's `AuditLogSearch` items: `created` (RFC 3339, written here
//! with milliseconds), `event` (a documented event type), `org_id` (Organization events),
//! `group_id`, `project_id` (Project events) and `content` (free-form details). Items have no
//! id, so Sluice keys them on their content: every item here names something unique to its
//! index (an invite, a target, a setting change number), so no two are equal.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Level, GROUP_ID, ORG_ID};
use crate::rng::{domain, hash3, unique_uuid, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// Organization events of the reference's list, with whether they concern a Project.
const ORG_EVENTS: &[(&str, bool)] = &[
    ("org.user.invite", false),
    ("org.user.add", false),
    ("org.user.role.edit", false),
    ("org.user.remove", false),
    ("org.project.add", true),
    ("org.project.delete", true),
    ("org.project.ignore.create", true),
    ("org.project.settings.edit", true),
    ("org.integration.edit", false),
    ("org.policy.edit", false),
    ("org.service_account.create", false),
    ("org.edit", false),
];

/// Group events of the reference's list.
const GROUP_EVENTS: &[&str] = &[
    "group.user.add",
    "group.user.role.edit",
    "group.org.add",
    "group.policy.edit",
    "group.service_account.create",
    "group.sso.edit",
    "group.settings.edit",
];

const USERS: &[&str] = &[
    "ada@example.com",
    "grace@example.com",
    "alan@example.com",
    "radia@example.com",
];

/// Item `index` on `timeline`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let created = chrono::DateTime::from_timestamp_millis(timeline.published_ms(index))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    // Unique to the item, so Sluice's content ids are unique too.
    let object = unique_uuid(seed, index).to_string();
    let user = *rng.pick(USERS);
    let user_id = unique_uuid(seed ^ 0x5e7, rng.below(64)).to_string();
    match Level::of(index) {
        Level::Org => {
            let (event, project) = *rng.pick(ORG_EVENTS);
            let mut item = json!({
                "created": created,
                "event": event,
                "group_id": GROUP_ID,
                "org_id": ORG_ID,
                "content": {
                    "performedBy": user,
                    "userPublicId": user_id,
                    "target": object,
                },
            });
            if project {
                item["project_id"] = json!(object);
            }
            item
        }
        Level::Group => json!({
            "created": created,
            "event": rng.pick(GROUP_EVENTS),
            "group_id": GROUP_ID,
            "content": {
                "performedBy": user,
                "userPublicId": user_id,
                "target": object,
            },
        }),
    }
}

/// Item `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id Sluice gives item `index`: its content id (the items have none), the first 16
/// bytes of the SHA-256 of its compact JSON with sorted keys, in hex.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let digest = Sha256::digest(event(config, index).to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
