//! Deterministic SentinelOne activities: every field is a pure function of `(seed, index)`.
//!
//! The shape follows a real answer of `GET /web/api/v2.1/activities` (as quoted by
//! docs.logrhythm.com's SentinelOne beat page and Elastic's sample activity): `id` (digits),
//! `activityUuid`, `activityType`, `createdAt` / `updatedAt` (microseconds), `accountId`,
//! `accountName`, `siteId`, `siteName`, `groupId`, `groupName`, `agentId`,
//! `agentUpdatedVersion`, `threatId`, `userId`, `hash`, `osFamily`, `comments`,
//! `description`, `primaryDescription`, `secondaryDescription` and `data` (type-specific).
//! The activity type codes are illustrative (the real catalogue is `GET
//! /web/api/v2.1/activities/types` of each console); 27 (a user logged in) is the one seen in
//! integrations' samples.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The account every activity belongs to.
const ACCOUNT: (&str, &str) = ("1202974619335305646", "Acme Corp");
/// Sites of the account.
const SITES: &[(&str, &str)] = &[
    ("1202974619461134754", "Headquarters"),
    ("1202974619553409443", "Branch offices"),
];

/// Console users: id, name, role, e-mail.
const USERS: &[(&str, &str, &str, &str)] = &[
    (
        "1393811128742211305",
        "Alice Admin",
        "Admin",
        "alice@acme.example",
    ),
    (
        "1393811128901594858",
        "Bob Analyst",
        "SOC",
        "bob@acme.example",
    ),
    (
        "1393811129035812587",
        "Carol Viewer",
        "Viewer",
        "carol@acme.example",
    ),
];

/// Endpoints with agents: agent id, computer name, OS family.
const AGENTS: &[(&str, &str, &str)] = &[
    ("1438102747351339265", "LAPTOP-7F3K2", "windows"),
    ("1438102747502334210", "mbp-design-04", "macos"),
    ("1438102747670106371", "web-prod-02", "linux"),
];

/// What happened: the activity type, its kind and weight.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    LoggedIn,
    LoggedOut,
    UserCreated,
    UserDeleted,
    PolicyChanged,
    AgentDisconnected,
    ThreatMitigated,
}

const KINDS: &[(u32, Kind, u32)] = &[
    (27, Kind::LoggedIn, 30),
    (33, Kind::LoggedOut, 15),
    (23, Kind::UserCreated, 8),
    (25, Kind::UserDeleted, 4),
    (5100, Kind::PolicyChanged, 15),
    (62, Kind::AgentDisconnected, 13),
    (2004, Kind::ThreatMitigated, 15),
];

const THREATS: &[(&str, &str)] = &[
    ("invoice_2026.exe", "Malware"),
    ("setup-helper.dll", "Trojan"),
    ("update.ps1", "Ransomware"),
];

/// A time of the timeline as SentinelOne writes it: microseconds, `Z`.
fn format_micros(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Activity `index` on `timeline`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let ms = timeline.published_ms(index);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (code, kind, _) = *rng.pick_weighted(KINDS, |k| k.2);
    let (user_id, user_name, role, email) = *rng.pick(USERS);
    let (site_id, site_name) = *rng.pick(SITES);
    let (agent_id, computer, os) = *rng.pick(AGENTS);
    let (file, classification) = *rng.pick(THREATS);
    let ip = format!("203.0.113.{}", rng.below(254) + 1);
    let other = *rng.pick(USERS);
    let threat_id = (1_500_000_000_000_000_000u64 + rng.below(1 << 50)).to_string();
    let sha1 = rng.string(HEX, 40);
    let (primary, data) = match kind {
        Kind::LoggedIn => (
            format!(
                "The management user {user_name} logged in to the management console with IP Address {ip}."
            ),
            json!({ "username": user_name, "ipAddress": ip, "role": role, "source": "mgmt" }),
        ),
        Kind::LoggedOut => (
            format!("The management user {user_name} logged out of the management console."),
            json!({ "username": user_name, "ipAddress": ip, "role": role }),
        ),
        Kind::UserCreated => (
            format!("The management user {user_name} created user {}.", other.1),
            json!({ "username": user_name, "ipAddress": ip, "byUser": user_name,
                    "targetUserId": other.0, "targetUserName": other.1,
                    "targetUserEmail": other.3, "role": other.2 }),
        ),
        Kind::UserDeleted => (
            format!("The management user {user_name} deleted user {}.", other.1),
            json!({ "username": user_name, "ipAddress": ip, "byUser": user_name,
                    "targetUserId": other.0, "targetUserName": other.1,
                    "targetUserEmail": other.3 }),
        ),
        Kind::PolicyChanged => (
            format!("The management user {user_name} modified the policy of site {site_name}."),
            json!({ "username": user_name, "ipAddress": ip, "scopeLevel": "Site",
                    "scopeName": site_name, "siteName": site_name }),
        ),
        Kind::AgentDisconnected => (
            format!("The management user {user_name} disconnected {computer} from the network."),
            json!({ "username": user_name, "computerName": computer, "siteName": site_name }),
        ),
        Kind::ThreatMitigated => (
            format!("The agent {computer} successfully quarantined the threat: {file}."),
            json!({ "computerName": computer, "threatClassification": classification,
                    "fileDisplayName": file, "confidenceLevel": "malicious",
                    "siteName": site_name }),
        ),
    };
    let by_agent = matches!(kind, Kind::AgentDisconnected | Kind::ThreatMitigated);
    let threat = kind == Kind::ThreatMitigated;
    let mut data = data;
    data["accountName"] = json!(ACCOUNT.1);
    data["fullScopeDetails"] = json!(format!("Site {site_name} of Account {}", ACCOUNT.1));
    let uuid = unique_uuid(seed, index);
    json!({
        "accountId": ACCOUNT.0,
        "accountName": ACCOUNT.1,
        "activityType": code,
        "activityUuid": uuid.to_string(),
        "agentId": if by_agent { Value::from(agent_id) } else { Value::Null },
        "agentUpdatedVersion": null,
        "comments": null,
        "createdAt": format_micros(ms),
        "data": data,
        "description": null,
        "groupId": null,
        "groupName": null,
        "hash": if threat { Value::from(sha1) } else { Value::Null },
        "id": id_of(seed, index),
        "osFamily": if by_agent { Value::from(os) } else { Value::Null },
        "primaryDescription": primary,
        "secondaryDescription": if by_agent { Value::from(computer) } else { Value::from(email) },
        "siteId": site_id,
        "siteName": site_name,
        "threatId": if threat { Value::from(threat_id) } else { Value::Null },
        "updatedAt": format_micros(ms),
        "userId": if threat { Value::Null } else { Value::from(user_id) },
    })
}

/// The `id` of activity `index`: nineteen digits, unique for every index (the low 60 bits of
/// its UUID are a permutation of the index).
fn id_of(seed: u64, index: u64) -> String {
    let low = unique_uuid(seed, index).as_u64_pair().1 & ((1 << 60) - 1);
    (1_000_000_000_000_000_000 + low).to_string()
}

/// Activity `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `id` of activity `index`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    id_of(config.seed, index)
}
