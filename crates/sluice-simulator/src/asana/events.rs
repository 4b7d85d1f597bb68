//! Deterministic Asana audit log events: every field is a pure function of `(seed, index)`.
//!
//! The shape is the reference's AuditLogEvent: `gid` (a string of digits, unique: a base plus
//! the index), `created_at` (ISO 8601, milliseconds, `Z`), `event_type` and `event_category`
//! (a sample of the supported events), `actor` (`actor_type`, `gid`, `name`, `email`),
//! `resource` (`resource_type`, `resource_subtype`, `gid`, `name`, `email`), `details`
//! (`old_value` and `new_value` on changes) and `context` (`context_type`,
//! `api_authentication_method`, `client_ip_address`, `user_agent`).

use serde_json::{json, Value};

use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

/// The first event's gid.
pub const FIRST_GID: u64 = 1_208_000_000_000_000;

/// Actors: type, gid, name, email (Asana's own processes included).
const ACTORS: &[(&str, &str, &str, &str)] = &[
    (
        "user",
        "1199906290951001",
        "Ada Lovelace",
        "ada@acme.example",
    ),
    (
        "user",
        "1199906290951002",
        "Grace Hopper",
        "grace@acme.example",
    ),
    (
        "user",
        "1199906290951003",
        "Alan Turing",
        "alan@acme.example",
    ),
    ("asana", "", "Asana", ""),
];

/// Event type, category, resource type and subtype.
const KINDS: &[(&str, &str, &str, &str)] = &[
    ("user_login_succeeded", "logins", "user", "default"),
    ("user_login_failed", "logins", "user", "default"),
    ("user_logged_out", "logins", "user", "default"),
    (
        "user_deprovisioned",
        "user_access_control",
        "user",
        "default",
    ),
    ("user_invited", "user_access_control", "user", "default"),
    ("user_role_changed", "roles", "user", "default"),
    ("task_deleted", "deletion", "task", "default_task"),
    ("project_deleted", "deletion", "project", "default"),
    (
        "team_privacy_settings_changed",
        "access_control",
        "team",
        "default",
    ),
    (
        "workspace_export_started",
        "exports",
        "workspace",
        "default",
    ),
    ("app_installed", "apps", "app", "default"),
];

/// Contexts: type and how the request was authenticated.
const CONTEXTS: &[(&str, &str)] = &[
    ("web", "cookie"),
    ("desktop", "cookie"),
    ("mobile", "oauth"),
    ("api", "personal_access_token"),
    ("api", "service_account"),
];

/// The event of timeline index `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let created_at = format_millis(timeline.published_ms(index));
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (actor_type, actor_gid, actor_name, actor_email) = *rng.pick(ACTORS);
    let (event_type, category, resource_type, subtype) = *rng.pick(KINDS);
    let (context_type, method) = *rng.pick(CONTEXTS);
    let n = 100_000 + index;
    let actor = if actor_type == "user" {
        json!({ "actor_type": "user", "gid": actor_gid, "name": actor_name, "email": actor_email })
    } else {
        json!({ "actor_type": actor_type })
    };
    let resource_gid = (1_200_000_000_000_000 + rng.below(1_000_000_000)).to_string();
    let resource = if resource_type == "user" {
        json!({
            "resource_type": "user", "resource_subtype": subtype, "gid": resource_gid,
            "name": format!("User {n}"), "email": format!("user{n}@acme.example"),
        })
    } else {
        json!({
            "resource_type": resource_type, "resource_subtype": subtype, "gid": resource_gid,
            "name": format!("{resource_type} {n}"),
        })
    };
    let details = match event_type {
        "user_role_changed" => json!({ "old_value": "member", "new_value": "admin" }),
        "team_privacy_settings_changed" => {
            json!({ "old_value": "public_to_domain", "new_value": "secret" })
        }
        "user_login_failed" => json!({ "method": ["password"] }),
        _ => json!({}),
    };
    let context = json!({
        "context_type": context_type,
        "api_authentication_method": method,
        "client_ip_address": format!("198.51.100.{}", rng.below(254) + 1),
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
    });
    json!({
        "gid": (FIRST_GID + index).to_string(),
        "created_at": created_at,
        "event_type": event_type,
        "event_category": category,
        "actor": actor,
        "resource": resource,
        "details": details,
        "context": context,
    })
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The gid of event `index`, as Sluice stores it.
pub(crate) fn event_id(_config: &SimulatorConfig, index: u64) -> String {
    (FIRST_GID + index).to_string()
}
