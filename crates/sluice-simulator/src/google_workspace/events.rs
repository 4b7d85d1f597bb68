//! Deterministic Reports API activities: every field is a pure function of `(seed, index)`
//! and the timeline, and the index decides the application ([`app_of`]).
//!
//! The shape follows the reference's `Activity` resource: `kind`, `id {time,
//! uniqueQualifier, applicationName, customerId}`, `etag`, `actor {callerType, email,
//! profileId}`, `ipAddress` and `events [{type, name, parameters [{name, value |
//! boolValue | intValue | multiValue}]}]`.

use serde_json::{json, Value};

use super::{app_of, APPLICATIONS, CUSTOMER_ID};
use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

const PEOPLE: &[(&str, &str)] = &[
    ("ada@acme.example", "114477001122334455661"),
    ("grace@acme.example", "114477001122334455662"),
    ("alan@acme.example", "114477001122334455663"),
    ("radia@acme.example", "114477001122334455664"),
    ("admin@acme.example", "114477001122334455665"),
];

/// A few `(type, name)` pairs an application reports; applications not listed use a
/// generic pair.
fn event_kinds(app: &str) -> &'static [(&'static str, &'static str)] {
    match app {
        "admin" => &[
            ("USER_SETTINGS", "CHANGE_PASSWORD"),
            ("GROUP_SETTINGS", "ADD_GROUP_MEMBER"),
            ("DELEGATED_ADMIN_SETTINGS", "ASSIGN_ROLE"),
        ],
        "login" => &[
            ("login", "login_success"),
            ("login", "login_failure"),
            ("login", "logout"),
        ],
        "drive" => &[
            ("access", "view"),
            ("access", "edit"),
            ("acl_change", "change_user_access"),
        ],
        "token" => &[("auth", "authorize"), ("auth", "revoke")],
        "saml" => &[("login", "login_success"), ("login", "login_failure")],
        "calendar" => &[
            ("event_change", "create_event"),
            ("event_change", "delete_event"),
        ],
        "groups_enterprise" => &[("moderator_action", "add_member")],
        "user_accounts" => &[
            ("2sv_change", "2sv_enroll"),
            ("password_change", "password_edit"),
        ],
        _ => &[("activity", "activity_event")],
    }
}

/// The `uniqueQualifier` of event `index`: shared by the two events of one application at
/// indices `i` and `i + N` (N applications) whenever their times differ, so it is unique
/// only together with the time, as the reference says; when their times are equal the later
/// one's differs.
fn unique_qualifier(seed: u64, timeline: &Timeline, index: u64) -> String {
    let n = APPLICATIONS.len() as u64;
    let pair = index / (2 * n);
    let base = hash3(seed, domain::SESSION, pair) as i64;
    let later = index % (2 * n) >= n;
    let same_time = later && timeline.published_ms(index) == timeline.published_ms(index - n);
    base.wrapping_add(i64::from(same_time)).to_string()
}

/// The `id` object of event `index`.
fn id(seed: u64, timeline: &Timeline, index: u64) -> Value {
    // Keys in sorted order, so the JSON text is the canonical one with or without serde_json's
    // `preserve_order`.
    json!({
        "applicationName": APPLICATIONS[app_of(index)],
        "customerId": CUSTOMER_ID,
        "time": format_millis(timeline.published_ms(index)),
        "uniqueQualifier": unique_qualifier(seed, timeline, index),
    })
}

/// The activity of event `index`, as served.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let app = APPLICATIONS[app_of(index)];
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (email, profile) = *rng.pick(PEOPLE);
    let (kind, name) = *rng.pick(event_kinds(app));
    let mut parameters = vec![json!({ "name": "actor_email", "value": email })];
    match app {
        "login" | "saml" => {
            parameters.push(json!({ "name": "login_type", "value": "google_password" }));
            parameters.push(json!({ "name": "is_suspicious", "boolValue": rng.percent(3) }));
        }
        "drive" => {
            parameters
                .push(json!({ "name": "doc_id", "value": format!("1{:020x}", rng.next_u64()) }));
            parameters.push(json!({ "name": "visibility", "value": "private" }));
        }
        "token" => {
            parameters.push(json!({ "name": "client_id", "value": format!("{}.apps.googleusercontent.com", rng.below(1_000_000)) }));
            parameters.push(json!({ "name": "scope", "multiValue": ["https://www.googleapis.com/auth/drive.readonly", "openid"] }));
        }
        _ => parameters.push(json!({ "name": "count", "intValue": rng.below(20).to_string() })),
    }
    json!({
        "kind": "admin#reports#activity",
        "id": id(seed, timeline, index),
        "etag": format!("\"{:016x}{:016x}\"", rng.next_u64(), rng.next_u64()),
        "actor": { "callerType": "USER", "email": email, "profileId": profile },
        "ipAddress": format!("203.0.113.{}", rng.below(254) + 1),
        "events": [{ "type": kind, "name": name, "parameters": parameters }],
    })
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id of event `index`: its whole `id` object as compact JSON with sorted keys, which is
/// how a client that keys on the object (the preset's `event_id = { path = "id" }`) names it.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    id(config.seed, &crate::timeline_of(config), index).to_string()
}
