//! Deterministic Cloudflare audit logs (v2): every field is a pure function of `(seed, index)`.
//!
//! The shape follows the reference's `AuditListResponse`: `id`, `account` (`id`, `name`),
//! `action` (`description`, `result`, `time`, `type`), `actor` (`id`, `context`, `email`,
//! `ip_address`, `token_id`, `token_name`, `type`), `raw` (`cf_ray_id`, `method`,
//! `status_code`, `uri`, `user_agent`), `resource` (`id`, `product`, `request`, `response`,
//! `scope`, `type`) and `zone` (`id`, `name`). `action.time` is written in whole seconds, as
//! in the reference's examples.

use serde_json::{json, Value};

use super::ACCOUNT_ID;
use crate::rng::{domain, hash3, unique_uuid, SplitMix64, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The account's name in every log.
const ACCOUNT_NAME: &str = "Acme Corp";

/// What was changed: product, resource type, the URI's tail after the account or zone, and
/// whether it is a zone's resource.
const RESOURCES: &[(&str, &str, &str, bool)] = &[
    ("dns_records", "dns_record", "dns_records", true),
    ("firewall", "ruleset", "rulesets", true),
    ("members", "member", "members", false),
    ("workers", "script", "workers/scripts", false),
    ("zones", "zone_setting", "settings/ssl", true),
    ("tokens", "account_token", "tokens", false),
    ("access", "access_application", "access/apps", false),
];

/// Action type, HTTP method and a verb for the description.
const ACTIONS: &[(&str, &str, &str, u32)] = &[
    ("update", "PUT", "Update", 50),
    ("create", "POST", "Create", 30),
    ("delete", "DELETE", "Delete", 20),
];

const ACTORS: &[(&str, &str)] = &[
    ("alice@example.com", "user"),
    ("bob@example.com", "user"),
    ("carol@example.com", "user"),
    ("", "account"),
    ("", "system"),
];

const ZONES: &[&str] = &["example.com", "acme.example", "shop.example"];

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    "terraform-provider-cloudflare/5.3.0",
    "curl/8.5.0",
];

/// A 32-hex-digit Cloudflare id drawn from `rng`.
fn hex_id(rng: &mut SplitMix64) -> String {
    rng.string(HEX, 32)
}

/// The `action.time` of log `index`: its timeline time cut to whole seconds.
fn served_seconds(timeline: &Timeline, index: u64) -> i64 {
    timeline.published_ms(index).div_euclid(1000)
}

/// Log `index` on `timeline`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let time = chrono::DateTime::from_timestamp(served_seconds(timeline, index), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (product, resource_type, tail, zoned) = *rng.pick(RESOURCES);
    let (action_type, method, verb, _) = *rng.pick_weighted(ACTIONS, |a| a.3);
    let (email, actor_type) = *rng.pick(ACTORS);
    let zone_id = hex_id(&mut rng);
    let zone_name = *rng.pick(ZONES);
    let resource_id = hex_id(&mut rng);
    let failed = rng.percent(3);
    let uri = if zoned {
        format!("/zones/{zone_id}/{tail}/{resource_id}")
    } else {
        format!("/accounts/{ACCOUNT_ID}/{tail}/{resource_id}")
    };
    let context = match actor_type {
        "user" if rng.percent(60) => "dash",
        "user" | "account" => "api_token",
        _ => "api_key",
    };
    let mut actor = json!({
        "id": if actor_type == "account" { ACCOUNT_ID.to_string() } else { hex_id(&mut rng) },
        "context": context,
        "ip_address": format!("198.51.100.{}", rng.below(254) + 1),
        "type": actor_type,
    });
    if !email.is_empty() {
        actor["email"] = json!(email);
    }
    if context == "api_token" {
        actor["token_id"] = json!(hex_id(&mut rng));
        actor["token_name"] = json!(format!("{product} automation"));
    }
    let scope = if zoned { "zones" } else { "accounts" };
    let mut log = json!({
        "id": event_id_of(seed, index),
        "account": { "id": ACCOUNT_ID, "name": ACCOUNT_NAME },
        "action": {
            "description": format!("{verb} {}", resource_type.replace('_', " ")),
            "result": if failed { "failure" } else { "success" },
            "time": time,
            "type": action_type,
        },
        "actor": actor,
        "raw": {
            "cf_ray_id": rng.string(HEX, 16),
            "method": method,
            "status_code": if failed { 500 } else { 200 },
            "uri": uri,
            "user_agent": rng.pick(AGENTS),
        },
        "resource": {
            "id": resource_id,
            "product": product,
            "request": {},
            "response": {},
            "scope": { "type": scope },
            "type": resource_type,
        },
    });
    if zoned {
        log["zone"] = json!({ "id": zone_id, "name": zone_name });
    }
    log
}

/// Log `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

fn event_id_of(seed: u64, index: u64) -> String {
    unique_uuid(seed, index).to_string()
}

/// The `id` of log `index`: a UUID, unique for every index.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    event_id_of(config.seed, index)
}
