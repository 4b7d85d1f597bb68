//! Deterministic PagerDuty audit records: every field is a pure function of `(seed, index)`.
//!
//! The shape follows the reference's `AuditRecord`: a string `id` (43 base64url characters in
//! PagerDuty's answers), `execution_time` (ISO 8601 with milliseconds), `execution_context`
//! (request id, remote address), `actors` (references), `method` (`browser`, `api_token`,
//! `oauth`, ... with a truncated token), `root_resource` (a reference to the user, team,
//! schedule, escalation policy or service changed), `action` (`create`, `update`, `delete`)
//! and `details` (the resource and the fields changed).

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM, B64URL, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// A kind of resource: the reference type and the fields a change shows.
struct ResourceKind {
    reference: &'static str,
    names: &'static [&'static str],
    fields: &'static [&'static str],
    weight: u32,
}

const RESOURCES: &[ResourceKind] = &[
    ResourceKind {
        reference: "user_reference",
        names: &[
            "Ada Lovelace",
            "Grace Hopper",
            "Alan Turing",
            "Radia Perlman",
        ],
        fields: &["name", "email", "role", "time_zone"],
        weight: 30,
    },
    ResourceKind {
        reference: "team_reference",
        names: &["Platform", "Payments", "Security", "Mobile"],
        fields: &["name", "description"],
        weight: 10,
    },
    ResourceKind {
        reference: "schedule_reference",
        names: &["Primary on-call", "Secondary on-call", "Weekend"],
        fields: &["name", "time_zone", "layers"],
        weight: 20,
    },
    ResourceKind {
        reference: "escalation_policy_reference",
        names: &["Default", "Payments escalation", "Critical path"],
        fields: &["name", "num_loops", "escalation_rules"],
        weight: 15,
    },
    ResourceKind {
        reference: "service_reference",
        names: &["Checkout API", "Login", "Search", "Status page"],
        fields: &[
            "name",
            "description",
            "incident_urgency_rule",
            "alert_creation",
            "auto_resolve_timeout",
        ],
        weight: 25,
    },
];

const ACTIONS: &[(&str, u32)] = &[("update", 60), ("create", 25), ("delete", 15)];
const METHODS: &[(&str, &str, u32)] = &[
    ("browser", "browser session", 50),
    ("api_token", "pre-auth", 30),
    ("oauth", "mobile app", 15),
    ("identity_provider", "SCIM", 5),
];
const ACTOR_NAMES: &[&str] = &["Jane Doe", "Sam Okafor", "Mei Chen", "Luis Ortega"];

#[derive(Serialize)]
struct Record {
    id: String,
    execution_time: String,
    execution_context: Value,
    actors: Value,
    method: Value,
    root_resource: Value,
    action: &'static str,
    details: Value,
}

/// A PagerDuty-style object id: `P` and six upper-case letters or digits.
fn object_id(rng: &mut SplitMix64) -> String {
    format!("P{}", rng.string(ALNUM, 6).to_uppercase())
}

fn build_record(config: &SimulatorConfig, timeline: &Timeline, index: u64) -> Record {
    let seed = config.seed;
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let resource = rng.pick_weighted(RESOURCES, |r| r.weight);
    let action = rng.pick_weighted(ACTIONS, |a| a.1).0;
    let (method_type, method_description, _) = *rng.pick_weighted(METHODS, |m| m.2);
    let resource_name = *rng.pick(resource.names);
    let root = json!({
        "id": object_id(&mut rng),
        "summary": resource_name,
        "type": resource.reference,
    });
    let fields: Vec<Value> = resource
        .fields
        .iter()
        .filter(|_| action != "update" || rng.percent(50))
        .map(|name| match action {
            "create" => json!({ "name": name, "value": format!("{resource_name} {name}") }),
            "delete" => json!({ "name": name, "before_value": format!("{resource_name} {name}") }),
            _ => json!({
                "name": name,
                "before_value": format!("old {name}"),
                "value": format!("new {name}"),
            }),
        })
        .collect();
    let method = match method_type {
        "browser" | "identity_provider" => json!({
            "type": method_type,
            "description": method_description,
        }),
        _ => json!({
            "type": method_type,
            "description": method_description,
            "truncated_token": rng.string(ALNUM, 4),
        }),
    };
    let actor_name = *rng.pick(ACTOR_NAMES);
    let actor = json!({
        "id": object_id(&mut rng),
        "summary": actor_name,
        "type": "user_reference",
    });
    let context = json!({
        "request_id": rng.string(HEX, 32),
        "remote_address": format!("198.51.100.{}", rng.below(254) + 1),
    });
    let time = chrono::DateTime::from_timestamp_millis(timeline.published_ms(index))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    Record {
        id: event_id(config, index),
        execution_time: time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        execution_context: context,
        actors: json!([actor]),
        method,
        root_resource: root.clone(),
        action,
        details: json!({ "resource": root, "fields": fields }),
    }
}

/// Record `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    let timeline = crate::timeline_of(config);
    // Record holds strings and JSON values: it always serializes.
    serde_json::to_value(build_record(config, &timeline, index)).expect("Record always serializes")
}

/// The `id` of record `index`: 32 bytes in unpadded base64url (43 characters), unique
/// because 16 of them are the index's unique UUID.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let mut bytes = [0u8; 32];
    let mut rng = SplitMix64::new(hash3(config.seed, domain::OBJECT, index));
    for chunk in bytes[..16].chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
    }
    bytes[16..].copy_from_slice(unique_uuid(config.seed, index).as_bytes());
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    debug_assert!(id.bytes().all(|b| B64URL.contains(&b)));
    id
}

/// `{"records":[...],"response_metadata":null,"limit":N,"next_cursor":...}` for the records
/// at `indices`, in that order; `next_cursor` is `null` on the last page.
pub(super) fn render_page(
    config: &SimulatorConfig,
    timeline: &Timeline,
    indices: impl Iterator<Item = u64>,
    limit: usize,
    next_cursor: Option<&str>,
) -> Vec<u8> {
    let mut body = b"{\"records\":[".to_vec();
    for (n, index) in indices.enumerate() {
        if n > 0 {
            body.push(b',');
        }
        // Writing into a Vec cannot fail and Record always serializes.
        serde_json::to_writer(&mut body, &build_record(config, timeline, index))
            .expect("Record always serializes into a Vec");
    }
    body.extend_from_slice(b"],\"response_metadata\":null,\"limit\":");
    body.extend_from_slice(limit.to_string().as_bytes());
    body.extend_from_slice(b",\"next_cursor\":");
    // A string or null always serializes.
    serde_json::to_writer(&mut body, &next_cursor).expect("a cursor always serializes");
    body.push(b'}');
    body
}
