//! Deterministic Kandji audit events: every field is a pure function of `(seed, index)`.
//!
//! The shape follows the reference's example answer: `id`, `action`, `occurred_at` (RFC 3339
//! with microseconds), `actor_id`, `actor_type`, `target_id`, `target_type`,
//! `target_component`, `new_state`, `metadata`. The example shows blueprints, library items
//! and API tokens; the devices, secrets and users here follow the kinds of events the
//! reference lists, their exact names assumed. Ids are written like the reference's ULIDs
//! (26 Crockford base-32 digits) but hold the index rather than the time, so they are unique
//! and do not depend on times.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// What changed: target type, component, action.
const CHANGES: &[(&str, &str, &str)] = &[
    ("blueprint", "", "create"),
    ("blueprint", "library_items", "update"),
    ("blueprint", "parameters", "update"),
    ("blueprint", "", "delete"),
    ("library_item", "", "create"),
    ("library_item", "", "update"),
    ("library_item", "", "delete"),
    ("api_token", "", "create"),
    ("api_token", "", "update"),
    ("api_token", "", "delete"),
    ("device", "", "create"),
    ("device", "blueprint", "update"),
    ("device", "", "delete"),
    ("device", "filevault_recovery_key", "read"),
    ("device", "recovery_lock_password", "read"),
    ("user", "", "create"),
    ("user", "", "update"),
    ("user", "", "delete"),
    ("directory_user", "", "delete"),
];

const NAMES: &[&str] = &[
    "Engineering",
    "Sales laptops",
    "Kiosks",
    "Design",
    "Finance",
];
const APPS: &[&str] = &[
    "GitHub",
    "Apple Configurator",
    "Okta Verify",
    "Zoom",
    "Slack",
];
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The `id` of event `index`: 26 Crockford base-32 digits of 128 bits, unique per index.
fn id(seed: u64, index: u64) -> String {
    let salt = hash3(seed, domain::UUID, index);
    let mut value = (u128::from(salt) << 64) | u128::from(index);
    let mut digits = [b'0'; 26];
    for digit in digits.iter_mut().rev() {
        *digit = CROCKFORD[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// The state after the change, as the target type writes it.
fn new_state(target: &str, component: &str, rng: &mut SplitMix64, index: u64) -> Value {
    match (target, component) {
        ("blueprint", "library_items") => {
            let app = *rng.pick(APPS);
            json!({
                "library_items_added": [{ "id": unique_uuid(index, 1).to_string(), "name": app }],
                "library_items_removed": [],
                "library_items_scoped": [{ "id": unique_uuid(index, 1).to_string(), "name": app }],
                "name": rng.pick(NAMES),
            })
        }
        ("blueprint", "parameters") => json!({ "parameters": [], "name": rng.pick(NAMES) }),
        ("blueprint", _) => json!({ "description": "", "type": "map", "name": rng.pick(NAMES) }),
        ("library_item", _) => json!({
            "active": rng.percent(80),
            "label": null,
            "type": rng.pick(&["vpp-app", "custom-script", "profile"]),
            "name": rng.pick(APPS),
        }),
        ("api_token", _) => json!({
            "description": null,
            "permissions": [{ "path": "/api/v1/audit/events", "http_method": "GET" }],
            "label": format!("token {}", rng.below(50)),
        }),
        ("device", _) => json!({
            "serial_number": format!("C02{:08X}", rng.below(1 << 32)),
            "name": format!("{}'s MacBook Pro", rng.pick(&["Ariel", "Grace", "Alan"])),
            "platform": "Mac",
        }),
        ("user", _) => json!({
            "email": format!("admin{}@example.com", rng.below(40)),
            "role": rng.pick(&["admin", "standard", "auditor"]),
        }),
        _ => json!({ "email": format!("person{}@example.com", rng.below(500)) }),
    }
}

/// Event `index` on `timeline`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let occurred = chrono::DateTime::from_timestamp_millis(timeline.published_ms(index))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (target, component, action) = *rng.pick(CHANGES);
    // Admins act through the web app; one change in ten comes through an API token.
    let (actor_type, actor) = if rng.percent(10) {
        ("api_token", unique_uuid(seed ^ 0xa91, rng.below(4)))
    } else {
        ("user", unique_uuid(seed ^ 0xad, rng.below(3)))
    };
    let metadata = if action == "create" {
        json!({ "source_id": null, "source": null })
    } else {
        json!({})
    };
    json!({
        "id": id(seed, index),
        "action": action,
        "occurred_at": occurred,
        "actor_id": actor.to_string(),
        "actor_type": actor_type,
        "target_id": unique_uuid(seed, index).to_string(),
        "target_type": target,
        "target_component": component,
        "new_state": new_state(target, component, &mut rng, index),
        "metadata": metadata,
    })
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id of event `index`: its `id`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    id(config.seed, index)
}
